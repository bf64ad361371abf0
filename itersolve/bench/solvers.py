"""Solver-level performance against the peers, measured in one run.

- Unpreconditioned CG on 2-D Poisson (1000² by default), rtol 1e-8, against
  ``scipy.sparse.linalg.cg``: iteration counts (target within 2 %) and wall
  time (target ≤ 0.5× scipy's).
- AMG-preconditioned CG against pyamg's own ``ml.solve(accel="cg")`` on the
  same hierarchy: wall time of the solve at the same iteration count (target
  ≤ 1.1× pyamg's), and the totals with setup.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import scipy.sparse.linalg as spla

from .. import pdes
from ..kernels.operator import SparseOperator
from ..preconditioners import AMG
from ..solvers.cg import cg
from .report import format_table, write_json

__all__ = ["run"]

RTOL = 1e-8


def _timed(fn, repeat: int):
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def run(quick: bool = True, out_dir: str | None = None, side: int = 1000, amg_side: int | None = None) -> dict:
    """Measure, print a table, return (and write) the figures."""
    repeat = 1 if quick else 3
    A = pdes.poisson((side, side))
    b = np.random.default_rng(1).standard_normal(A.shape[0])
    cg(pdes.poisson((4, 4)), np.ones(16))  # compile outside the timings

    count = [0]

    def scipy_cg():
        count[0] = 0
        return spla.cg(A, b, rtol=RTOL, atol=0.0, maxiter=20 * side * side,
                       callback=lambda _x: count.__setitem__(0, count[0] + 1))

    t_scipy, (x_scipy, info) = _timed(scipy_cg, repeat)
    it_scipy = count[0]
    t_ours, res = _timed(lambda: cg(A, b, rtol=RTOL, maxiter=20 * side * side), repeat)
    op = SparseOperator(A)
    t_ours_op, res_op = _timed(lambda: cg(op, b, rtol=RTOL, maxiter=20 * side * side), repeat)
    rows = [
        {"case": f"cg poisson2d {side}^2", "method": "scipy cg", "iterations": it_scipy, "time": t_scipy,
         "relres": np.linalg.norm(b - A @ x_scipy) / np.linalg.norm(b)},
        {"case": f"cg poisson2d {side}^2", "method": "itersolve cg", "iterations": res.iterations,
         "time": t_ours, "relres": res.residual_norm / np.linalg.norm(b), "ratio": t_ours / t_scipy},
        {"case": f"cg poisson2d {side}^2", "method": "itersolve cg (operator reused)",
         "iterations": res_op.iterations, "time": t_ours_op, "relres": res_op.residual_norm / np.linalg.norm(b),
         "ratio": t_ours_op / t_scipy},
    ]
    cg_figures = {
        "iterations_scipy": it_scipy,
        "iterations_ours": res.iterations,
        "iteration_difference_pct": 100.0 * abs(res.iterations - it_scipy) / max(it_scipy, 1),
        "time_ratio": t_ours / t_scipy,
        "time_ratio_operator_reused": t_ours_op / t_scipy,
        "targets": {"iterations_within_pct": 2.0, "time_ratio_max": 0.5},
    }

    amg_side = amg_side or side
    A2 = A if amg_side == side else pdes.poisson((amg_side, amg_side))
    b2 = b if amg_side == side else np.random.default_rng(1).standard_normal(A2.shape[0])
    t0 = time.perf_counter()
    P = AMG(A2)
    t_setup = time.perf_counter() - t0
    ml = P.ml
    residuals: list[float] = []

    def pyamg_solve():
        residuals.clear()
        return ml.solve(b2, tol=RTOL, accel="cg", maxiter=1000, residuals=residuals)

    t_pyamg, x_pyamg = _timed(pyamg_solve, repeat)
    it_pyamg = len(residuals) - 1
    t_amg, res_amg = _timed(lambda: cg(A2, b2, rtol=RTOL, M=P, maxiter=1000), repeat)
    case = f"amg-pcg poisson2d {amg_side}^2"
    rows += [
        {"case": case, "method": "pyamg ml.solve(accel=cg)", "iterations": it_pyamg, "time": t_pyamg,
         "setup": t_setup, "relres": np.linalg.norm(b2 - A2 @ x_pyamg) / np.linalg.norm(b2)},
        {"case": case, "method": "itersolve cg + AMG", "iterations": res_amg.iterations, "time": t_amg,
         "setup": t_setup, "relres": res_amg.residual_norm / np.linalg.norm(b2), "ratio": t_amg / t_pyamg},
    ]
    amg_figures = {
        "iterations_pyamg": it_pyamg,
        "iterations_ours": res_amg.iterations,
        "solve_time_ratio": t_amg / t_pyamg,
        "setup_time": t_setup,
        "total_time_ratio": (t_setup + t_amg) / (t_setup + t_pyamg),
        "targets": {"solve_time_ratio_max": 1.1},
    }
    print(format_table(rows, [
        ("case", "case", "s"), ("method", "method", "s"), ("iterations", "iters", "d"),
        ("setup", "setup s", ".3f"), ("time", "solve s", ".3f"), ("ratio", "ratio vs peer", ".2f"),
        ("relres", "true rel.res", ".1e"),
    ]))
    payload = {"suite": "solvers", "rtol": RTOL, "cg": cg_figures, "amg_pcg": amg_figures, "rows": rows}
    if out_dir is not None:
        write_json(Path(out_dir) / "solvers.json", payload)
    return payload
