"""The convergence benchmark: every method on built-in problems, and the peers.

All methods share one stopping rule, ‖b − Ax‖₂ ≤ rtol·‖b‖₂ (atol = 0); the
true relative residual of every returned ``x`` is recomputed here, for the
peers too. Setup (normalisation, preconditioner or AMG hierarchy) and solve
times are reported separately and summed.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import scipy.sparse.linalg as spla

from .. import pdes
from ..solvers.front import solve
from .report import format_table, progress, write_json

__all__ = ["Problem", "problems", "methods", "run", "COLUMNS"]

RTOL = 1e-8

COLUMNS = [
    ("problem", "problem", "s"),
    ("n", "n", "d"),
    ("method", "method", "s"),
    ("iterations", "iters", "d"),
    ("setup", "setup s", ".3f"),
    ("solve", "solve s", ".3f"),
    ("total", "total s", ".3f"),
    ("relres", "true rel.res", ".1e"),
    ("status", "status", "s"),
]


@dataclass
class Problem:
    """A named benchmark system."""

    name: str
    A: Any
    b: np.ndarray


def problems(full: bool = False, scale: float = 1.0) -> list[Problem]:
    """The built-in problems; ``scale`` shrinks grid sides (tests use it)."""

    def side(quick: int, big: int) -> int:
        return max(4, int(round((big if full else quick) * scale)))

    rng = np.random.default_rng(0)
    out = []
    specs: list[tuple[str, Callable[[], Any]]] = [
        ("poisson2d", lambda: pdes.poisson((side(200, 1000),) * 2)),
        ("poisson3d", lambda: pdes.poisson((side(30, 100),) * 3)),
        (
            "diffusion2d-lognormal",
            lambda: pdes.diffusion(pdes.random_field((side(128, 512),) * 2, variance=1.0, length=0.1, seed=0)),
        ),
        ("anisotropic2d", lambda: pdes.anisotropic((side(128, 512),) * 2, epsilon=0.01, theta=math.pi / 6)),
        ("elasticity2d", lambda: pdes.elasticity((side(40, 200),) * 2)),
    ]
    specs += [(f"fem-{name}", lambda name=name: pdes.fem_example(name)) for name in ("airfoil", "bar")]
    for name, build in specs:
        A = build()
        out.append(Problem(name, A, rng.standard_normal(A.shape[0])))
    return out


def _ours(method: str, M: str | None = None, **options: Any) -> Callable:
    def run_one(A: Any, b: np.ndarray, rtol: float, maxiter: int) -> dict:
        res = solve(A, b, method=method, M=M, rtol=rtol, maxiter=maxiter, **options)
        return {
            "x": res.x,
            "iterations": res.iterations,
            "setup": res.setup_time,
            "solve": res.solve_time,
            "status": res.reason.name,
            "history": res.residuals,
        }

    return run_one


def _scipy_cg(A: Any, b: np.ndarray, rtol: float, maxiter: int) -> dict:
    count = [0]

    def tick(_x: np.ndarray) -> None:
        count[0] += 1

    t0 = time.perf_counter()
    x, info = spla.cg(A, b, rtol=rtol, atol=0.0, maxiter=maxiter, callback=tick)
    t1 = time.perf_counter()
    return {"x": x, "iterations": count[0], "setup": 0.0, "solve": t1 - t0,
            "status": "converged" if info == 0 else f"info={info}", "history": None}


def _pyamg_cg(kind: str) -> Callable:
    def run_one(A: Any, b: np.ndarray, rtol: float, maxiter: int) -> dict:
        import pyamg

        t0 = time.perf_counter()
        build = pyamg.smoothed_aggregation_solver if kind == "sa" else pyamg.ruge_stuben_solver
        ml = build(A)
        t1 = time.perf_counter()
        residuals: list[float] = []
        x, info = ml.solve(b, tol=rtol, accel="cg", maxiter=maxiter, residuals=residuals, return_info=True)
        t2 = time.perf_counter()
        return {"x": x, "iterations": len(residuals) - 1, "setup": t1 - t0, "solve": t2 - t1,
                "status": "converged" if info == 0 else f"info={info}", "history": np.asarray(residuals)}

    return run_one


def methods(full: bool = False) -> dict[str, tuple[Callable, int]]:
    """Method name → (runner, iteration cap). Stationary methods get a lower cap."""
    krylov_cap = 20000
    stationary_cap = 5000 if full else 1000
    return {
        "cg": (_ours("cg"), krylov_cap),
        "cg+jacobi": (_ours("cg", "jacobi"), krylov_cap),
        "cg+ssor": (_ours("cg", "ssor"), krylov_cap),
        "cg+ic0": (_ours("cg", "ic0"), krylov_cap),
        "cg+ilu0": (_ours("cg", "ilu0"), krylov_cap),
        "cg+amg-sa": (_ours("cg", "amg"), krylov_cap),
        "cg+amg-rs": (_ours("cg", "amg", M_options={"kind": "rs"}), krylov_cap),
        "chebyshev+jacobi": (_ours("chebyshev", "jacobi"), krylov_cap),
        "jacobi(w=2/3)": (_ours("jacobi", omega=2.0 / 3.0), stationary_cap),
        "gauss_seidel": (_ours("gauss_seidel"), stationary_cap),
        "sor(w=1.9)": (_ours("sor", omega=1.9), stationary_cap),
        "ssor(w=1.5)": (_ours("ssor", omega=1.5), stationary_cap),
        "scipy cg": (_scipy_cg, krylov_cap),
        "pyamg sa+cg": (_pyamg_cg("sa"), krylov_cap),
        "pyamg rs+cg": (_pyamg_cg("rs"), krylov_cap),
    }


def run(
    full: bool = False,
    *,
    matrix: str | None = None,
    out_dir: str | None = "bench-results",
    progress_bar: bool = True,
    scale: float = 1.0,
    only: list[str] | None = None,
) -> dict:
    """Run the benchmark, print the table, write JSON and a convergence plot.

    Returns the payload written to ``convergence.json``.
    """
    if matrix is not None:
        A = pdes.load_matrix_market(matrix)
        probs = [Problem(Path(matrix).stem, A, np.random.default_rng(0).standard_normal(A.shape[0]))]
    else:
        probs = problems(full, scale)
    table = methods(full)
    if only is not None:
        table = {k: v for k, v in table.items() if k in only}
    # compile the Numba kernels once on a tiny system so that no method pays for it
    warm = pdes.poisson((6, 6))
    for runner, _ in table.values():
        runner(warm, np.ones(36), RTOL, 50)
    rows: list[dict] = []
    histories: dict[str, dict[str, list]] = {}
    jobs = [(p, name, fn, cap) for p in probs for name, (fn, cap) in table.items()]
    for prob, name, fn, cap in progress(jobs, total=len(jobs), desc="bench", enabled=progress_bar):
        row = {"problem": prob.name, "n": prob.A.shape[0], "method": name}
        try:
            out = fn(prob.A, prob.b, RTOL, cap)
        except Exception as exc:  # noqa: BLE001 - a failing method is a result, not a crash
            row.update(status=f"error: {type(exc).__name__}: {exc}"[:60])
            rows.append(row)
            continue
        relres = float(np.linalg.norm(prob.b - prob.A @ out["x"]) / np.linalg.norm(prob.b))
        row.update(
            iterations=out["iterations"],
            setup=out["setup"],
            solve=out["solve"],
            total=out["setup"] + out["solve"],
            relres=relres,
            status=out["status"],
            meets_rtol=relres <= RTOL,
        )
        rows.append(row)
        if out["history"] is not None:
            h = np.asarray(out["history"], dtype=float) / np.linalg.norm(prob.b)
            histories.setdefault(prob.name, {})[name] = h.tolist()
    print(format_table(rows, COLUMNS))
    payload = {"suite": "convergence", "rtol": RTOL, "full": full, "rows": rows}
    if out_dir is not None:
        path = write_json(Path(out_dir) / "convergence.json", payload)
        png = _plot(histories, Path(out_dir) / "convergence.png")
        print(f"\nwrote {path}" + (f" and {png}" if png else ""))
    return payload


def _plot(histories: dict[str, dict[str, list]], path: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    names = list(histories)
    if not names:
        return None
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.8 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        for method, h in histories[name].items():
            ax.semilogy(np.maximum(h, 1e-16), label=method, lw=1)
        ax.axhline(RTOL, color="k", ls=":", lw=0.8)
        ax.set_title(name)
        ax.set_xlabel("iteration")
        ax.set_ylabel("‖r‖ / ‖b‖")
        ax.set_xscale("symlog", linthresh=10)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=6, ncol=2)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
