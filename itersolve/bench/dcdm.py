"""The DCDM benchmark (``itersolve bench dcdm``): deep conjugate directions vs CG, IC(0)-PCG and AMG-PCG.

Held-out pressure-Poisson systems only: MAC grids with random obstacles
(:func:`itersolve.pdes.fluids.obstacles.random_obstacles`, 5 obstacles,
open top) and right-hand sides that are divergences of smooth random
velocity fields, both drawn from the benchmark seeds of
:func:`itersolve.solvers.deep_directions.data.seed_for` (disjoint from the
training and validation seeds). Sizes: 2-D 64², 128², 256² and 3-D 32³,
64³, 128³ (quick: 64², 128², 32³). Every method solves every system to
``rtol`` 1e-4 and 1e-6 under the one stopping rule ``‖b − Ax‖ ≤ rtol‖b‖``.

DCDM runs with every previous direction kept (itersolve's default,
"DCDM"), as the hybrid with IC(0) ("DCDM+IC0": each iteration a Galerkin
step over the network's direction and the IC(0)-preconditioned residual,
``dcdm(..., M=IC0(A))``; the factorisation counts in its setup time) and,
in full mode on 64² and 128², also with the paper's two
("DCDM-2", capped at CG's iteration count: slower than CG is a miss either
way). With a multigrid-structured network (``multigrid=1``) the same
architecture untrained also runs ("DCDM-untrained"): its smoothers' learned
parts start at zero, so it is the plain geometric V(1,1)-cycle with damped
Jacobi that training starts from, and the gap between the two rows is what
the learning adds.

Per row: iterations, setup time (IC(0) factorisation, AMG hierarchy; for
DCDM the solver's own setup, the shipped model being loaded once per
dimension and its load time reported apart), network-call time (DCDM),
solve and total time, convergence, the DCDM fallback steps, and the ratios
DCDM/CG and DCDM/IC(0) of iterations. The issue's targets are checked and
printed as met / not met with the figures; the growth of iterations from
the smallest size to each larger one is reported per method.

torch runs with one thread (:data:`TORCH_THREADS`; ``--threads N`` for
more), like the single-threaded classical methods.

Other models than the shipped defaults (:data:`MODELS`) and other sizes are
chosen on the command line::

    itersolve bench dcdm --full --models 2=dcdm2d-64 --sizes 2=64,128,256 --out DIR
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from ..pdes.fluids.obstacles import random_obstacles
from ..pdes.fluids.pressure import pressure_system, random_rhs
from ..preconditioners import AMG, IC0
from ..solvers import cg
from ..solvers.dcdm import dcdm
from .report import format_table, write_json
from .report import progress as progress_bar

__all__ = ["run", "SIZES", "RTOLS", "MODELS", "TORCH_THREADS", "MAXITER"]

#: Grid sides per dimension: (quick, full).
SIZES = {False: {2: (64, 128, 256), 3: (32, 64, 128)}, True: {2: (64, 128), 3: (32,)}}
RTOLS = (1e-4, 1e-6)
#: Shipped models used per dimension: the multigrid-structured networks (``multigrid=1``; 7/8/9 iterations at
#: 64²/128²/256² against 31/57/127 for the U-Net dcdm2d-ml, and 5/6/7 at 32³/64³/128³ against 34/135 at
#: 32³/64³ for dcdm3d-32; rtol 1e-4).
MODELS = {2: "dcdm2d-mg", 3: "dcdm3d-mg"}
TORCH_THREADS = 1
#: The methods, in table order. "DCDM" keeps all directions (itersolve's default); "DCDM-2" is the
#: paper's recurrence (the last two directions): full mode, 2-D sides up to DCDM2_MAX_SIDE only, capped
#: at CG's iteration count (each of its iterations is a network call, and slower than CG is a miss anyway).
#: "DCDM+IC0" is the hybrid ``dcdm(..., M=IC0(A))`` (one network call and one IC(0) solve per iteration).
#: "DCDM-untrained": the model's architecture with its initial weights (multigrid networks only: the
#: geometric V-cycle their training starts from).
METHODS = ("CG", "IC(0)-PCG", "AMG-PCG", "DCDM", "DCDM+IC0", "DCDM-2", "DCDM-untrained")
DCDM2_MAX_SIDE = 128
#: Iteration cap of every method (a miss is reported as not converged).
MAXITER = 3000
#: DCDM's cap: each iteration is a network call, so a stalling solve is cut short sooner.
DCDM_MAXITER = 1000

COLUMNS = [
    ("system", "system", "s"),
    ("rtol", "rtol", ".0e"),
    ("method", "method", "s"),
    ("iterations", "iters", "d"),
    ("setup", "setup s", ".3f"),
    ("network", "net s", ".3f"),
    ("net_ms", "ms/call", ".1f"),
    ("solve", "solve s", ".3f"),
    ("total", "total s", ".3f"),
    ("converged", "conv", "s"),
    ("fallbacks", "fallb", "d"),
    ("vs_cg", "it/CG", ".3f"),
    ("vs_ic0", "it/IC0", ".3f"),
]


def _system(dim: int, side: int, index: int) -> tuple[Any, np.ndarray]:
    from ..solvers.deep_directions.data import seed_for

    seed = seed_for("bench", index)
    system = pressure_system(random_obstacles((side,) * dim, count=5, seed=seed))
    return system, random_rhs(system, seed=seed)


def _classical(name: str, A: Any, b: np.ndarray, rtol: float) -> tuple[Any, float]:
    t0 = time.perf_counter()
    M = {"CG": lambda: None, "IC(0)-PCG": lambda: IC0(A), "AMG-PCG": lambda: AMG(A)}[name]()
    build = time.perf_counter() - t0
    return cg(A, b, rtol=rtol, M=M, maxiter=MAXITER), build


def _row(label: str, rtol: float, method: str, res: Any, extra_setup: float) -> dict[str, Any]:
    details = res.details
    network = details.get("network_time", 0.0)
    calls = details.get("network_calls", 0)
    return {
        "system": label,
        "rtol": rtol,
        "method": method,
        "iterations": int(res.iterations),
        "setup": res.setup_time + extra_setup,
        "network": network if method.startswith("DCDM") else None,
        "net_ms": 1e3 * network / calls if method.startswith("DCDM") and calls else None,
        "solve": res.solve_time,
        "total": res.total_time + extra_setup,
        "converged": "yes" if res.converged else res.reason.name,
        "fallbacks": details.get("fallback_steps") if method.startswith("DCDM") else None,
    }


def run(quick: bool = True, out_dir: str | Path | None = "bench-results", progress: bool = True, *,
        sizes: dict[int, tuple[int, ...]] | None = None, models: dict[int, Any] | None = None,
        systems: int = 1, threads: int | None = None) -> dict:
    """Run the benchmark, print the table and the targets, write ``dcdm.json`` and ``dcdm.png``.

    Parameters
    ----------
    quick : bool
        64², 128² and 32³ (a few minutes) instead of the full sizes.
    out_dir : path or None
        Where the JSON and PNG go (nothing is written when None).
    progress : bool
        tqdm bar over the systems.
    sizes, models, systems
        Grid sides per dimension (only those run; ``--sizes``), models
        (names, paths or networks) replacing :data:`MODELS` per dimension
        (``--models``), and systems per size.
    threads : int, optional
        torch threads for the networks (``--threads``; default
        :data:`TORCH_THREADS`). The classical methods are single-threaded.

    Returns
    -------
    dict
        ``rows`` (one per system, rtol and method), ``summary`` (means per
        size, rtol and method with the ratios), ``growth``, ``targets`` and
        ``histories``.
    """
    import torch

    from ..solvers.deep_directions.io import resolve_model

    threads, previous = threads or TORCH_THREADS, torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        sizes = sizes or SIZES[bool(quick)]
        models = {**MODELS, **(models or {})}
        nets, load_time = {}, {}
        for dim in sizes:
            t0 = time.perf_counter()
            spec = models[dim]
            nets[dim] = resolve_model(spec)[0] if isinstance(spec, (str, Path)) else spec
            load_time[dim] = time.perf_counter() - t0
        untrained = {dim: _untrained_twin(net) for dim, net in nets.items()}
        cases = [(dim, side, i) for dim in sorted(sizes) for side in sizes[dim] for i in range(systems)]
        rows, histories = [], {}
        for dim, side, i in progress_bar(cases, total=len(cases), desc="dcdm", enabled=progress):
            system, b = _system(dim, side, i)
            label = f"{dim}D {side}^{dim}" + (f" #{i}" if systems > 1 else "")
            for rtol in RTOLS:
                for method in ("CG", "IC(0)-PCG", "AMG-PCG"):
                    res, build = _classical(method, system.A, b, rtol)
                    rows.append({**_row(label, rtol, method, res, build), "dim": dim, "side": side})
                    histories[f"{dim}D {side} {rtol:.0e} {method}"] = res.residuals / np.linalg.norm(b)
                cg_iters = next(r["iterations"] for r in reversed(rows) if r["method"] == "CG")
                for method, memory, cap in (("DCDM", None, DCDM_MAXITER), ("DCDM+IC0", None, DCDM_MAXITER),
                                            ("DCDM-2", 2, cg_iters), ("DCDM-untrained", None, DCDM_MAXITER)):
                    if method == "DCDM-2" and (dim != 2 or side > DCDM2_MAX_SIDE or quick):
                        continue
                    net = untrained[dim] if method == "DCDM-untrained" else nets[dim]
                    if net is None:
                        continue
                    t0 = time.perf_counter()
                    M = IC0(system.A) if method == "DCDM+IC0" else None
                    build = time.perf_counter() - t0
                    res = dcdm(system, b, model=net, rtol=rtol, maxiter=cap, memory=memory, M=M)
                    rows.append({**_row(label, rtol, method, res, build), "dim": dim, "side": side,
                                 "fallback_causes": res.details["fallbacks"]})
                    histories[f"{dim}D {side} {rtol:.0e} {method}"] = res.residuals / np.linalg.norm(b)
        summary = _summarise(rows)
        growth = _growth(summary, sizes)
        targets = _targets(summary, growth, sizes)
        print(format_table(summary, COLUMNS))
        print("\niteration growth, smallest -> each larger size:")
        for g in growth:
            print(f"  {g['dim']}D {g['from']}->{g['to']} rtol {g['rtol']:.0e} {g['method']:10s} x{g['factor']:.2f}")
        print("\ntargets:")
        for t in targets:
            print(f"  [{'met' if t['met'] else 'NOT met'}] {t['target']}: {t['measured']}")
        payload = {"suite": "dcdm", "quick": bool(quick), "rtols": list(RTOLS), "sizes": sizes,
                   "models": {d: str(m) if isinstance(m, (str, Path)) else type(m).__name__
                              for d, m in models.items() if d in sizes},
                   "model_load_seconds": load_time, "torch_threads": threads, "rows": rows,
                   "summary": summary, "growth": growth, "targets": targets, "histories": histories}
        if out_dir is not None:
            path = write_json(Path(out_dir) / "dcdm.json", payload)
            png = _plot(summary, histories, sizes, Path(out_dir) / "dcdm.png")
            print(f"\nwrote {path}" + (f" and {png}" if png else ""))
        return payload
    finally:
        torch.set_num_threads(previous)


def _summarise(rows: list[dict]) -> list[dict]:
    """Means over the systems of one size, rtol and method, with the DCDM ratios."""
    keys = sorted({(r["dim"], r["side"], r["rtol"], r["method"]) for r in rows},
                  key=lambda k: (k[0], k[1], -k[2], METHODS.index(k[3])))
    out = []
    for dim, side, rtol, method in keys:
        group = [r for r in rows if (r["dim"], r["side"], r["rtol"], r["method"]) == (dim, side, rtol, method)]
        mean = {k: float(np.mean([r[k] for r in group])) for k in ("iterations", "setup", "solve", "total")}
        row = {"system": f"{dim}D {side}^{dim}", "dim": dim, "side": side, "rtol": rtol, "method": method,
               **mean, "iterations": int(round(mean["iterations"])),
               "converged": "yes" if all(r["converged"] == "yes" for r in group) else "no"}
        if method.startswith("DCDM"):
            row["network"] = float(np.mean([r["network"] for r in group]))
            calls = [r["net_ms"] for r in group if r["net_ms"] is not None]
            row["net_ms"] = float(np.mean(calls)) if calls else None
            row["fallbacks"] = int(sum(r["fallbacks"] for r in group))
        out.append(row)
    for row in out:
        if not row["method"].startswith("DCDM"):
            continue
        for ref, key in (("CG", "vs_cg"), ("IC(0)-PCG", "vs_ic0")):
            base = next(r for r in out if (r["dim"], r["side"], r["rtol"], r["method"]) ==
                        (row["dim"], row["side"], row["rtol"], ref))
            row[key] = row["iterations"] / max(base["iterations"], 1)
    return out


def _lookup(summary: list[dict], dim: int, side: int, rtol: float, method: str) -> dict:
    return next(r for r in summary if (r["dim"], r["side"], r["rtol"], r["method"]) == (dim, side, rtol, method))


def _growth(summary: list[dict], sizes: dict[int, tuple[int, ...]]) -> list[dict]:
    out = []
    for dim, sides in sorted(sizes.items()):
        if len(sides) < 2:
            continue
        lo = min(sides)
        for hi in sorted(sides)[1:]:
            for rtol in RTOLS:
                for method in METHODS:
                    if not any(r["method"] == method and r["dim"] == dim and r["side"] == hi for r in summary):
                        continue
                    a = _lookup(summary, dim, lo, rtol, method)["iterations"]
                    b = _lookup(summary, dim, hi, rtol, method)["iterations"]
                    factor = b / max(a, 1)
                    out.append({"dim": dim, "from": lo, "to": hi, "rtol": rtol, "method": method, "factor": factor,
                                "per_doubling": factor ** (1 / np.log2(hi / lo))})
    return out


def _targets(summary: list[dict], growth: list[dict], sizes: dict[int, tuple[int, ...]]) -> list[dict]:
    """The issue's targets, checked for DCDM and for the hybrid DCDM+IC0 alike."""
    rtol = 1e-4
    out = []
    for name in ("DCDM", "DCDM+IC0"):
        dc = [r for r in summary if r["method"] == name and r["rtol"] == rtol]
        out += [
            {"target": f"{name} iterations <= 1/5 of CG's at every size (rtol 1e-4)",
             "measured": ", ".join(f"{r['system']}: {r['vs_cg']:.2f}" for r in dc),
             "met": all(r["vs_cg"] <= 0.2 and r["converged"] == "yes" for r in dc)},
            {"target": f"{name} iterations below IC(0)-PCG's at every size (rtol 1e-4)",
             "measured": ", ".join(f"{r['system']}: {r['vs_ic0']:.2f}" for r in dc),
             "met": all(r["vs_ic0"] < 1.0 and r["converged"] == "yes" for r in dc)},
        ]
        for g in growth:
            if g["method"] != name or g["rtol"] != rtol:
                continue
            cg_g = next(x for x in growth if (x["dim"], x["to"], x["rtol"], x["method"]) == (g["dim"], g["to"], rtol, "CG"))
            out.append({"target": f"{g['dim']}-D {g['from']}->{g['to']}: {name} iterations grow <= 1.5x "
                                  f"(CG: about 2x per doubling)",
                        "measured": f"{name} x{g['factor']:.2f}, CG x{cg_g['factor']:.2f} "
                                    f"({cg_g['per_doubling']:.2f} per doubling)",
                        "met": g["factor"] <= 1.5})
        if 3 in sizes:
            side = max(sizes[3])
            d = _lookup(summary, 3, side, rtol, name)
            ic = _lookup(summary, 3, side, rtol, "IC(0)-PCG")
            amg = _lookup(summary, 3, side, rtol, "AMG-PCG")
            out.append({"target": f"{name} total time below IC(0)-PCG at the largest 3-D size ({side}^3, rtol 1e-4)",
                        "measured": f"{name} {d['total']:.3f} s (network {d['network']:.3f} s), IC(0)-PCG "
                                    f"{ic['total']:.3f} s, AMG-PCG {amg['total']:.3f} s",
                        "met": d["total"] < ic["total"] and d["converged"] == "yes"})
    return out


def _plot(summary: list[dict], histories: dict, sizes: dict[int, tuple[int, ...]], path: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - matplotlib is a dev dependency
        return None
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for dim, style in ((2, "-"), (3, "--")):
        if dim not in sizes:
            continue
        for method in METHODS:
            pts = [(r["side"], r["iterations"]) for r in summary
                   if r["dim"] == dim and r["method"] == method and r["rtol"] == 1e-4]
            if pts:
                xs, ys = zip(*sorted(pts))
                ax1.plot(xs, ys, style, marker="o", label=f"{method} ({dim}-D)")
    ax1.set_xscale("log", base=2)
    ax1.set_yscale("log")
    ax1.set_xlabel("grid side")
    ax1.set_ylabel("iterations to rtol 1e-4")
    ax1.legend(fontsize=7)
    dim = 2 if 2 in sizes else 3
    side = max(sizes[dim])
    for method in METHODS:
        h = histories.get(f"{dim}D {side} 1e-06 {method}")
        if h is not None:
            ax2.semilogy(h, label=method)
    ax2.axhline(1e-6, color="k", ls=":", lw=0.8)
    ax2.set_xlabel("iteration")
    ax2.set_ylabel("‖r‖ / ‖b‖")
    ax2.set_title(f"{dim}-D {side}^{dim}, rtol 1e-6")
    ax2.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _untrained_twin(net: Any) -> Any:
    """The untrained network of ``net``'s architecture if it is a multigrid one (else None)."""
    if not getattr(net, "multigrid", 0):
        return None
    from ..solvers.deep_directions.model import build_model

    return build_model(dim=net.dim, channels=net.channels, levels=net.levels, coarsest=net.coarsest,
                       multigrid=net.multigrid).eval()
