"""The GNN-preconditioner benchmark (``itersolve bench gnn``): learned factors vs IC(0), IC(1) and AMG.

Held-out systems only, per family (:mod:`itersolve.preconditioners.gnn.data`):

* ``diffusion2d`` -- ``-∇·(k∇u)`` with ``k = exp(GRF)`` drawn from the test
  seeds of :func:`~itersolve.preconditioners.gnn.data.seed_for` (never used in
  training), at the training sizes and at sizes a model never saw, and at
  variances ``σ²`` it was not trained on;
* ``anisotropic2d`` -- rotated anisotropic diffusion, test seeds;
* ``fem:NAME`` -- each SPD FEM example of pyamg, with 20 random right-hand
  sides (the ``fem`` models train on ``FEM_TRAIN``; ``knot`` and
  ``unit_cube`` they never saw).

Every method solves the same systems with PCG under one stopping rule,
``‖b − Ax‖ ≤ 1e-8 ‖b‖``, ``b ~ N(0, I)``. Classical methods run on every row;
a learned model runs on the rows of the family it was trained on, and the
default model (:data:`~itersolve.preconditioners.gnn.DEFAULT_MODEL`) on every
row, so its transfer to other families is reported too.

Per method and row: iterations, setup time (factorisation, AMG hierarchy, or
graph + GNN inference + factor assembly), solve time and total, apply time
(one ``M⁻¹ r``, best of several, on the row's first system), the mean and
spread over the systems, and ratios to IC(0), IC(1) and AMG (smoothed
aggregation). The issue's targets (for factors at IC(0)'s sparsity, on 2-D
diffusion) are checked on the rows they concern and reported as met or not
met; learned IC(1) corrections are compared with IC(1)-PCG in the table.

torch runs with :data:`TORCH_THREADS` thread(s) for inference: on the shared
2-core machines two torch threads fight the other processes and were 3-5x
slower than one.
"""

from __future__ import annotations

import math
import time
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..preconditioners import AMG, IC0, SSOR, Jacobi
from ..preconditioners.classical import IC1
from ..solvers import cg
from .report import best_time, format_table, progress, write_json

__all__ = ["run", "rows_for", "RTOL", "TORCH_THREADS", "TARGETS", "MAXITER"]

RTOL = 1e-8
TORCH_THREADS = 1
#: Iteration cap (a failing method is counted as such, not waited for).
MAXITER = 10_000

#: The issue's targets: (name, description).
TARGETS = {
    "iters_256_s1.1": "mean iterations <= 0.45x IC(0) on held-out 256^2, sigma^2 = 1.1",
    "iters_untrained_size": "mean iterations <= 0.55x IC(0) at a size the model was not trained on (each such row)",
    "total_below_ic0": "total time (setup incl. inference + solve) below IC(0)-PCG on 256^2, sigma^2 = 1.1",
    "inference_256": "GNN inference for a 256^2 matrix under 0.2 s",
    "apply_vs_ic0": "one apply <= 1.2x the IC(0) apply (same sparsity)",
}

COLUMNS = [
    ("row", "system", "s"),
    ("method", "method", "s"),
    ("iters_mean", "iters", ".1f"),
    ("iters_std", "±", ".1f"),
    ("setup_mean", "setup s", ".4f"),
    ("solve_mean", "solve s", ".4f"),
    ("total_mean", "total s", ".4f"),
    ("apply_ms", "apply ms", ".3f"),
    ("iters_vs_ic0", "it/IC0", ".3f"),
    ("iters_vs_ic1", "it/IC1", ".3f"),
    ("total_vs_ic0", "t/IC0", ".3f"),
    ("total_vs_amg", "t/AMG", ".3f"),
    ("failures", "fail", "d"),
    ("fallbacks", "fb", "d"),
]


def rows_for(full: bool, scale: float = 1.0) -> list[tuple[str, int, float, int]]:
    """``(family, grid, variance, systems)`` rows; ``scale`` shrinks grids and counts (tests use it).

    Examples
    --------
    >>> rows_for(False)[:2]
    [('diffusion2d', 64, 1.1, 20), ('diffusion2d', 128, 1.1, 20)]
    >>> rows_for(False, scale=0.1)[-1]
    ('fem:unit_cube', 0, 0.0, 2)
    """
    from ..preconditioners.gnn.data import FEM_HELD_OUT, FEM_TRAIN

    if full:
        spec = [("diffusion2d", g, v) for g in (64, 128, 256) for v in (0.1, 0.5, 0.7, 1.1)]
        spec += [("anisotropic2d", g, 0.0) for g in (64, 128, 256)]
    else:
        spec = [("diffusion2d", g, v) for g, v in ((64, 1.1), (128, 1.1), (256, 1.1), (128, 0.1), (128, 0.7),
                                                    (64, 0.1), (64, 0.5), (64, 0.7))]
        spec += [("anisotropic2d", g, 0.0) for g in (64, 128)]
    spec += [(f"fem:{name}", 0, 0.0) for name in FEM_TRAIN + FEM_HELD_OUT]
    count = max(2, int(round(20 * scale)))
    return [(f, g and max(8, int(round(g * scale))), v, count) for f, g, v in spec]


def _methods(full: bool, models: list[Any]) -> dict[str, Callable[[Any], Any]]:
    from ..preconditioners.gnn import GNNPreconditioner

    table: dict[str, Callable[[Any], Any]] = {}
    if full:
        table["none"] = lambda A: None
        table["jacobi"] = Jacobi
        table["ssor(1.0)"] = lambda A: SSOR(A, omega=1.0)
    table["ic0"] = IC0
    table["ic1"] = IC1
    table["amg-sa"] = AMG
    for model in models:
        table[_label(model)] = (lambda m: lambda A: GNNPreconditioner(A, model=m))(model)
    return table


def _row_label(family: str, grid: int, variance: float) -> str:
    if family == "diffusion2d":
        return f"{grid}x{grid} s2={variance}"
    return f"aniso {grid}x{grid}" if family == "anisotropic2d" else family


def _runs_on(name: str, family: str, trained: dict[str, dict]) -> bool:
    """Classical methods run everywhere; a model on its own family, the default model everywhere."""
    from ..preconditioners.gnn import DEFAULT_MODEL

    info = trained.get(name)
    return info is None or name == _label(DEFAULT_MODEL) or info["family"] == family.split(":")[0]


def _label(model: Any) -> str:
    return "gnn:" + (Path(model).stem if isinstance(model, (str, Path)) else type(model).__name__)


def _one(make: Callable[[Any], Any], A: Any, b: np.ndarray, history: bool) -> dict[str, Any]:
    from ..preconditioners.gnn import GNNFallbackWarning

    with warnings.catch_warnings():  # fallbacks are counted per row ("fallbacks"), not printed
        warnings.simplefilter("ignore", GNNFallbackWarning)
        t0 = time.perf_counter()
        P = make(A)
        setup = time.perf_counter() - t0
    hist: list[float] = []
    res = cg(A, b, M=P, rtol=RTOL, maxiter=MAXITER,
             callback=(lambda xk: hist.append(float(np.linalg.norm(b - A @ xk)))) if history else None)
    rec = {"iterations": int(res.iterations), "setup": setup, "solve": float(res.solve_time),
           "total": setup + float(res.solve_time), "converged": bool(res.converged)}
    for attr in ("inference_time", "graph_time", "fallback"):
        if hasattr(P, attr):
            rec[attr] = getattr(P, attr)
    if history:
        rec["history"] = [1.0] + [h / float(np.linalg.norm(b)) for h in hist]
    return rec, P


def run(full: bool = False, *, out_dir: str | None = "bench-results", progress_bar: bool = True,
        models: list[Any] | None = None, scale: float = 1.0) -> dict:
    """Run the benchmark, print the table and the targets, write ``gnn.json`` and ``gnn.png``.

    ``models``: shipped names or checkpoint paths (with their JSON); by
    default every shipped GNN preconditioner
    (:func:`itersolve.pretrained.available`). Returns the payload written to
    ``gnn.json``.
    """
    from .. import pretrained

    from ..preconditioners.gnn._torch import require_torch
    from ..preconditioners.gnn.data import make_matrix, seed_for

    torch = require_torch()
    threads = torch.get_num_threads()
    torch.set_num_threads(TORCH_THREADS)
    try:
        if models is None:
            models = pretrained.available(kind="gnn-preconditioner")
        trained = {_label(m): _trained_on(m) for m in models}
        table = _methods(full, models)
        warm = make_matrix("diffusion2d", 8, 0.5, 0)
        for make in table.values():  # compile kernels and load the model outside the timings
            _one(make, warm, np.ones(64), False)
        spec = rows_for(full, scale)
        biggest = max(s[1] for s in spec if s[0] == "diffusion2d")
        jobs = [(f, g, v, i) for f, g, v, count in spec for i in range(count)]
        raw: dict[tuple[str, int, float], dict[str, list]] = {}
        applies: dict[tuple[str, int, float], dict[str, float]] = {}
        curves: dict[str, list[float]] = {}
        for f, g, v, i in progress(jobs, total=len(jobs), desc="bench gnn", enabled=progress_bar):
            A = make_matrix(f, g, v, seed_for("test", i))
            b = np.random.default_rng(seed_for("test", i)).standard_normal(A.shape[0])
            key = (f, g, v)
            for name, make in table.items():
                if not _runs_on(name, f, trained):
                    continue
                want_curve = i == 0 and f == "diffusion2d" and g == biggest and v == 1.1
                rec, P = _one(make, A, b, want_curve)
                if want_curve:
                    curves[name] = rec.pop("history")
                raw.setdefault(key, {}).setdefault(name, []).append(rec)
                if i == 0 and P is not None:
                    r = np.random.default_rng(1).standard_normal(A.shape[0])
                    out = np.empty_like(r)
                    applies.setdefault(key, {})[name] = best_time(lambda: P.apply(r, out), repeat=20, warmup=2)
        rows = _summarise(raw, applies, trained)
    finally:
        torch.set_num_threads(threads)
    targets = _targets(rows, trained)
    print(format_table(rows, COLUMNS))
    print()
    for t in targets:
        print(f"[{'met' if t['met'] else 'NOT met'}] {t['target']}: {t['measured']}")
    payload = {"suite": "gnn", "rtol": RTOL, "maxiter": MAXITER, "full": full, "models": [str(m) for m in models],
               "trained": trained, "torch_threads": TORCH_THREADS, "rows": rows, "targets": targets,
               "raw": {_row_label(*k): m for k, m in raw.items()}, "curves": curves}
    if out_dir is not None:
        path = write_json(Path(out_dir) / "gnn.json", payload)
        png = _plot(rows, curves, Path(out_dir) / "gnn.png")
        print(f"\nwrote {path}" + (f" and {png}" if png else ""))
    return payload


def _trained_on(model: Any) -> dict[str, Any]:
    """Family, grid sides and fill level a checkpoint was trained with (from its JSON config)."""
    from .. import pretrained

    try:
        cfg = pretrained.config(str(model))
    except KeyError:
        import json

        cfg = json.loads(Path(model).with_suffix(".json").read_text())
    t = cfg["training"]
    return {"family": t["family"], "grid": [int(g) for g in np.atleast_1d(t["grid"])],
            "level": int(cfg.get("level", 0))}


def _seen(info: dict | None, family: str, grid: int) -> bool:
    """Whether a model saw this size (diffusion, anisotropic) or this matrix (FEM) in training."""
    from ..preconditioners.gnn.data import FEM_TRAIN

    if info is None:
        return False
    if family.startswith("fem:"):
        return family[4:] in FEM_TRAIN and info["family"] == "fem"
    return grid in info["grid"] and info["family"] == family


def _summarise(raw: dict, applies: dict, trained: dict[str, dict]) -> list[dict]:
    rows = []
    for (f, g, v), methods in raw.items():
        base = {}
        for name, recs in methods.items():
            its = np.array([r["iterations"] for r in recs], float)
            info = trained.get(name)
            row = {"row": _row_label(f, g, v), "family": f, "grid": g, "variance": v, "method": name,
                   "systems": len(recs), "level": None if info is None else info["level"],
                   "trained_size": _seen(info, f, g), "failures": int(sum(not r["converged"] for r in recs)),
                   "iters_mean": its.mean(), "iters_std": its.std(), "iters_min": its.min(), "iters_max": its.max()}
            for k in ("setup", "solve", "total"):
                vals = np.array([r[k] for r in recs], float)
                row[f"{k}_mean"], row[f"{k}_std"] = vals.mean(), vals.std()
            for k in ("inference_time", "graph_time"):
                if k in recs[0]:
                    row[f"{k}_mean"] = float(np.mean([r[k] for r in recs]))
            if "fallback" in recs[0]:
                row["fallbacks"] = int(sum(r["fallback"] for r in recs))
            a = applies.get((f, g, v), {}).get(name)
            row["apply_ms"] = None if a is None else 1e3 * a
            rows.append(row)
            base[name] = row
        for row in rows[-len(methods):]:
            for ref, tag in (("ic0", "ic0"), ("ic1", "ic1"), ("amg-sa", "amg")):
                if ref in base:
                    row[f"iters_vs_{tag}"] = row["iters_mean"] / base[ref]["iters_mean"]
                    row[f"total_vs_{tag}"] = row["total_mean"] / base[ref]["total_mean"]
                    if row["apply_ms"] and base[ref]["apply_ms"]:
                        row[f"apply_vs_{tag}"] = row["apply_ms"] / base[ref]["apply_ms"]
    return rows


def _targets(rows: list[dict], trained: dict[str, dict]) -> list[dict]:
    """The issue's targets, for the learned factors at IC(0)'s sparsity on 2-D diffusion."""
    diff = [r for r in rows if r["family"] == "diffusion2d"]
    gnn = [r for r in diff if r["method"].startswith("gnn:") and r["level"] == 0]
    biggest = max(x["grid"] for x in diff)
    out = []

    def add(key: str, measured: str, met: bool) -> None:
        out.append({"key": key, "target": TARGETS[key], "measured": measured, "met": bool(met)})

    big = [r for r in gnn if r["grid"] == biggest and r["variance"] == 1.1]
    for r in big:
        add("iters_256_s1.1", f"{r['method']} {r['row']}: {r['iters_vs_ic0']:.3f}x IC(0) "
            f"({r['iters_mean']:.1f} vs {r['iters_mean'] / r['iters_vs_ic0']:.1f} iterations, {r['systems']} systems)",
            r["iters_vs_ic0"] <= 0.45)
    for r in gnn:
        if not r["trained_size"]:
            sides = "+".join(f"{t}^2" for t in trained[r["method"]]["grid"])
            add("iters_untrained_size", f"{r['method']} {r['row']} (trained at {sides}): {r['iters_vs_ic0']:.3f}x IC(0)",
                r["iters_vs_ic0"] <= 0.55)
    for r in big:
        add("total_below_ic0", f"{r['method']} {r['row']}: {r['total_vs_ic0']:.3f}x IC(0) total "
            f"({r['total_mean']:.3f} s vs {r['total_mean'] / r['total_vs_ic0']:.3f} s); "
            f"{r['total_vs_amg']:.3f}x AMG-PCG total", r["total_vs_ic0"] < 1.0)
        inf = r.get("inference_time_mean", math.nan)
        gt = r.get("graph_time_mean", math.nan)
        add("inference_256", f"{r['method']} {r['row']}: network {inf:.3f} s + graph {gt:.3f} s = {inf + gt:.3f} s "
            f"(torch threads {TORCH_THREADS})", inf + gt < 0.2)
    for r in gnn:
        if r.get("apply_vs_ic0") is not None and r["grid"] == biggest and r["variance"] == 1.1:
            add("apply_vs_ic0", f"{r['method']} {r['row']}: {r['apply_vs_ic0']:.3f}x ({r['apply_ms']:.3f} ms)", r["apply_vs_ic0"] <= 1.2)
    return out


def _plot(rows: list[dict], curves: dict[str, list[float]], path: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.2))
    labels = list(dict.fromkeys(r["row"] for r in rows))
    methods = list(dict.fromkeys(r["method"] for r in rows))
    width = 0.8 / max(len(methods), 1)
    for j, m in enumerate(methods):
        vals = [next((r["iters_mean"] for r in rows if r["row"] == lab and r["method"] == m), np.nan) for lab in labels]
        errs = [next((r["iters_std"] for r in rows if r["row"] == lab and r["method"] == m), 0.0) for lab in labels]
        ax1.bar(np.arange(len(labels)) + j * width, vals, width, yerr=errs, label=m)
    ax1.set_xticks(np.arange(len(labels)) + 0.4 - width / 2, labels, rotation=20, fontsize=8)
    ax1.set_ylabel("PCG iterations (mean ± std)")
    ax1.set_yscale("log")
    ax1.legend(fontsize=7)
    for m, h in curves.items():
        ax2.semilogy(np.maximum(h, 1e-16), label=m, lw=1)
    ax2.axhline(RTOL, color="k", ls=":", lw=0.8)
    ax2.set_xlabel("iteration")
    ax2.set_ylabel("‖b − Ax‖ / ‖b‖")
    ax2.set_title("one held-out diffusion system, largest grid, σ² = 1.1")
    ax2.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
