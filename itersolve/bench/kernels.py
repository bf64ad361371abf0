"""Kernel benchmark: memory bandwidth, SpMV and SOR sweeps against scipy / pyamg.

Measures, in one run:

(a) the machine's copy bandwidth (NumPy copy of a large array, and a
    two-thread Numba copy), in GB/s counting read + write;
(b) SpMV ``y = A x`` on 2-D Poisson (5-point, ``grid**2`` unknowns, built with
    ``scipy.sparse.kron`` of 1-D Laplacians): :class:`SparseOperator` with the
    automatic layout (DIA here) and with CSR, against scipy's ``A @ x``; GB/s
    counts the bytes each layout must stream (matrix + ``x`` + ``y``);
(c) one forward SOR sweep (``omega = 1.5``) on 2-D Poisson: our sequential
    ``sor_forward`` and the multicolour (red-black, two-thread) ``sor_colored``
    against ``pyamg.relaxation.relaxation.sor``.

Every candidate is warmed up first (Numba compilation excluded), then the
candidates are timed in interleaved rounds (so a burst of load from other
processes hits all of them alike); the table reports the best time and the
median, and ratios are taken on best times.

Run it with ``python -m itersolve.bench.kernels [--full]``.

Examples
--------
>>> from itersolve.bench.kernels import run
>>> res = run(quick=True, spmv_grid=40, sor_grid=30, copy_mb=8, verbose=False)
>>> sorted(res)
['copy', 'machine', 'sor', 'spmv']
>>> res["spmv"]["auto"]["layout"]
'dia'
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any, Callable

import numpy as np
import scipy.sparse as sp

__all__ = ["run", "poisson2d"]


def poisson2d(m: int, dtype: Any = np.float64) -> sp.csr_matrix:
    """2-D Poisson (5-point, Dirichlet) on an ``m x m`` grid as canonical CSR.

    Examples
    --------
    >>> poisson2d(3).toarray()[0]
    array([ 4., -1.,  0., -1.,  0.,  0.,  0.,  0.,  0.])
    """
    from ..sparse import as_csr

    T = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(m, m), format="csr", dtype=np.float64)
    eye = sp.eye(m, format="csr", dtype=np.float64)
    return as_csr(sp.kron(T, eye, format="csr") + sp.kron(eye, T, format="csr"), dtype=dtype)


def _time_interleaved(cands: dict[str, Callable[[], Any]], rounds: int, warmup: int = 2) -> dict[str, dict[str, float]]:
    for f in cands.values():
        for _ in range(warmup):
            f()
    times: dict[str, list[float]] = {k: [] for k in cands}
    for _ in range(rounds):
        for k, f in cands.items():
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
    return {k: {"best_s": float(np.min(v)), "median_s": float(np.median(v)), "repeats": len(v)} for k, v in times.items()}


def _copy_bandwidth(nbytes: int, rounds: int) -> dict[str, float]:
    from ..kernels.blas import copy as nb_copy

    n = max(nbytes // 8, 1)
    a = np.random.default_rng(0).random(n)
    b = np.empty_like(a)
    t = _time_interleaved({"numpy": lambda: np.copyto(b, a), "numba": lambda: nb_copy(a, b)}, rounds)
    moved = 2.0 * a.nbytes
    return {
        "array_MB": a.nbytes / 1e6,
        "numpy_GBps": moved / t["numpy"]["best_s"] / 1e9,
        "numba_2thread_GBps": moved / t["numba"]["best_s"] / 1e9,
        "numpy_median_GBps": moved / t["numpy"]["median_s"] / 1e9,
    }


def _csr_bytes(A: sp.csr_matrix) -> int:
    return int(A.data.nbytes + A.indices.nbytes + A.indptr.nbytes + A.dtype.itemsize * (A.shape[0] + A.shape[1]))


def _spmv(grid: int, rounds: int) -> dict[str, Any]:
    from ..kernels.operator import SparseOperator

    A = poisson2d(grid)
    n = A.shape[0]
    x = np.random.default_rng(1).random(n)
    t0 = time.perf_counter()
    op_auto = SparseOperator(A, layout="auto")
    setup_auto = time.perf_counter() - t0
    op_csr = SparseOperator(A, layout="csr")
    y_auto = np.empty(n)
    y_csr = np.empty(n)
    ref = A @ x
    t = _time_interleaved(
        {
            "scipy": lambda: A @ x,
            "auto": lambda: op_auto.matvec(x, y_auto),
            "csr": lambda: op_csr.matvec(x, y_csr),
        },
        rounds,
    )
    scale = float(np.max(np.abs(ref)))
    out: dict[str, Any] = {"grid": grid, "n": n, "nnz": int(A.nnz), "dtype": "float64"}
    out["scipy"] = {**t["scipy"], "bytes": _csr_bytes(A), "GBps": _csr_bytes(A) / t["scipy"]["best_s"] / 1e9}
    for key, op, y in (("auto", op_auto, y_auto), ("csr", op_csr, y_csr)):
        out[key] = {
            **t[key],
            "layout": op.layout,
            "bytes": op.nbytes,
            "GBps": op.nbytes / t[key]["best_s"] / 1e9,
            "speedup_vs_scipy": t["scipy"]["best_s"] / t[key]["best_s"],
            "max_rel_err": float(np.max(np.abs(y - ref)) / scale),
        }
    out["auto"]["setup_s"] = setup_auto
    out["target_speedup"] = 1.5
    out["target_met"] = bool(out["auto"]["speedup_vs_scipy"] >= 1.5)
    return out


def _sor(grid: int, rounds: int, omega: float = 1.5) -> dict[str, Any]:
    from pyamg.relaxation.relaxation import sor as pyamg_sor

    from ..kernels.coloring import color_partition, greedy_coloring
    from ..kernels.sweeps import sor_colored, sor_forward

    A = poisson2d(grid)
    n = A.shape[0]
    d = np.ascontiguousarray(A.diagonal())
    b = np.random.default_rng(2).random(n)
    x_py = np.zeros(n)
    x_seq = np.zeros(n)
    x_col = np.zeros(n)
    colors = greedy_coloring(A.indptr, A.indices)
    cptr, crows = color_partition(colors)
    ip, ix, dat = A.indptr, A.indices, A.data
    # agreement after one sweep from zero
    pyamg_sor(A, x_py, b, omega)
    sor_forward(ip, ix, dat, d, x_seq, b, omega)
    agree = float(np.max(np.abs(x_py - x_seq)) / max(float(np.max(np.abs(x_py))), 1e-300))
    t = _time_interleaved(
        {
            "pyamg": lambda: pyamg_sor(A, x_py, b, omega),
            "sequential": lambda: sor_forward(ip, ix, dat, d, x_seq, b, omega),
            "multicolor": lambda: sor_colored(ip, ix, dat, d, x_col, b, omega, cptr, crows, False),
        },
        rounds,
    )
    out: dict[str, Any] = {"grid": grid, "n": n, "omega": omega, "colors": int(cptr.shape[0] - 1)}
    out["pyamg"] = dict(t["pyamg"])
    for key in ("sequential", "multicolor"):
        out[key] = {**t[key], "speedup_vs_pyamg": t["pyamg"]["best_s"] / t[key]["best_s"]}
    out["sequential"]["max_rel_diff_vs_pyamg"] = agree
    out["target_speedup"] = 1.0
    out["target_met"] = bool(out["sequential"]["speedup_vs_pyamg"] >= 1.0)
    return out


def _machine() -> dict[str, Any]:
    import numba

    info: dict[str, Any] = {"numba": numba.__version__, "numba_threads": int(numba.get_num_threads())}
    try:
        info["threading_layer"] = numba.threading_layer()
    except ValueError:  # no parallel region has run yet
        info["threading_layer"] = None
    info["cpu_count"] = os.cpu_count()
    return info


def _print_table(res: dict[str, Any]) -> None:
    c, s, w = res["copy"], res["spmv"], res["sor"]
    m = res["machine"]
    print(f"threads: {m['numba_threads']} ({m['threading_layer']}), cpus: {m['cpu_count']}")
    print(
        f"copy bandwidth ({c['array_MB']:.0f} MB): numpy {c['numpy_GBps']:.1f} GB/s, "
        f"numba 2-thread {c['numba_2thread_GBps']:.1f} GB/s"
    )
    print(f"\nSpMV, 2-D Poisson {s['grid']}^2 (n={s['n']}, nnz={s['nnz']}), float64")
    print(f"{'':22s} {'best ms':>9s} {'median ms':>10s} {'GB/s':>7s} {'vs scipy':>9s}")
    for key, label in (("scipy", "scipy A @ x"), ("auto", f"ours auto ({s['auto']['layout']})"), ("csr", "ours csr")):
        r = s[key]
        ratio = f"{r['speedup_vs_scipy']:.2f}x" if "speedup_vs_scipy" in r else ""
        print(f"{label:22s} {1e3 * r['best_s']:9.3f} {1e3 * r['median_s']:10.3f} {r['GBps']:7.1f} {ratio:>9s}")
    print(f"target >= {s['target_speedup']}x scipy: {'met' if s['target_met'] else 'NOT met'}")
    print(f"\nSOR forward sweep, omega={w['omega']}, 2-D Poisson {w['grid']}^2 (n={w['n']})")
    print(f"{'':22s} {'best ms':>9s} {'median ms':>10s} {'vs pyamg':>9s}")
    for key, label in (
        ("pyamg", "pyamg sor"),
        ("sequential", "ours sor_forward"),
        ("multicolor", f"ours {w['colors']}-colour"),
    ):
        r = w[key]
        ratio = f"{r['speedup_vs_pyamg']:.2f}x" if "speedup_vs_pyamg" in r else ""
        print(f"{label:22s} {1e3 * r['best_s']:9.3f} {1e3 * r['median_s']:10.3f} {ratio:>9s}")
    print(f"target sequential >= {w['target_speedup']}x pyamg: {'met' if w['target_met'] else 'NOT met'}")


def run(
    quick: bool = True,
    out_dir: str | None = None,
    *,
    spmv_grid: int = 1000,
    sor_grid: int = 500,
    copy_mb: int | None = None,
    rounds: int | None = None,
    verbose: bool = True,
) -> dict:
    """Run the kernel benchmark; print a table and return the results as a dict.

    Parameters
    ----------
    quick : bool
        Fewer timing rounds (the quick run takes well under a minute).
    out_dir : str, optional
        Accepted for the ``itersolve bench`` interface; nothing is written
        here (the caller writes the returned dict as JSON).
    spmv_grid, sor_grid : int
        Grid sizes of the SpMV (default 1000, n = 1e6) and SOR (default 500)
        problems; tests use tiny ones.
    copy_mb : int, optional
        Size of the array for the copy bandwidth (default 256 MB, 512 MB
        with ``quick=False``).
    rounds : int, optional
        Timing rounds (default 15 quick, 50 full).
    verbose : bool
        Print the table.

    Returns
    -------
    dict
        ``{"machine", "copy", "spmv", "sor"}`` with times in seconds, GB/s and
        speed-up ratios (see the module docstring).
    """
    if rounds is None:
        rounds = 15 if quick else 50
    if copy_mb is None:
        copy_mb = 256 if quick else 512
    t0 = time.perf_counter()
    res: dict[str, Any] = {}
    res["copy"] = _copy_bandwidth(int(copy_mb) * 1_000_000, max(3, rounds // 3))
    res["spmv"] = _spmv(int(spmv_grid), rounds)
    res["sor"] = _sor(int(sor_grid), rounds)
    res["machine"] = _machine()
    res["machine"]["wall_s"] = time.perf_counter() - t0
    if verbose:
        _print_table(res)
    return res


def main(argv: list[str] | None = None) -> None:
    """Command-line entry: ``python -m itersolve.bench.kernels [--full] [--json FILE]``."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--full", action="store_true", help="more timing rounds")
    p.add_argument("--json", default=None, help="write the results to this JSON file")
    args = p.parse_args(argv)
    res = run(quick=not args.full)
    if args.json:
        import json

        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=2)


if __name__ == "__main__":  # pragma: no cover
    main()
