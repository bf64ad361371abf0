"""GPU benchmark: SpMV bandwidth and CG time per iteration, against CuPy / cuSPARSE.

``itersolve bench cuda`` measures, in one run on the current GPU:

(a) the reference bandwidth: a device-to-device copy (``cudaMemcpy``, bytes
    read + written), printed with the nominal peak of the GPU model
    (:data:`NOMINAL_PEAK_GBS`, matched on the device name);
(b) SpMV ``y = A x`` (float64 values, int32 indices) on 2-D Poisson with
    n = 10^6 and 10^7 and 3-D Poisson with n = 128^3: our
    :class:`~itersolve.cuda.DeviceCSR` with its automatic kernel choice (and the
    other kernel variants, for tuning), in GB/s counting the bytes a CSR
    product must move (values, column indices, row pointers, ``x`` and
    ``y`` once each), as a fraction of the copy bandwidth and of the nominal
    peak, and as a ratio to CuPy's ``A @ x`` (cuSPARSE) on the same arrays;
(c) CG time per iteration (2-D Poisson 10^6 and 10^7, 3-D 128^3, no
    preconditioner, a fixed number of iterations) for ``itersolve.cg`` on the
    device (``check_every`` 1 and 10) against ``cupyx.scipy.sparse.linalg.cg``.

Times come from CUDA events around ten back-to-back calls (SpMV, copy) or the
wall clock around a synchronised solve (CG; CuPy's with its events around one
solve), best of several repeats after a warm-up (compilation excluded).
The targets of issue 5 on an H100 are checked and printed: SpMV at n = 10^7
>= 60 % of peak bandwidth and >= 0.9x cuSPARSE, CG per iteration <= 1.2x
CuPy's. Without CuPy the comparisons are reported as unavailable.

Without a GPU the suite prints ``no CUDA GPU: skipped`` and writes a JSON
file saying so. ``tiny=True`` (``--simulator`` on the command line, which also
switches the Numba CUDA simulator on) runs every step at toy sizes, to check
the suite end to end without a GPU.

Examples
--------
>>> peak_for("NVIDIA H100 80GB HBM3")[1], peak_for("NVIDIA H100 PCIe")[1], peak_for("NVIDIA H200")[1]
(3350.0, 2000.0, 4800.0)
>>> poisson_csr((3, 2)).toarray()[0]
array([ 4., -1., -1.,  0.,  0.,  0.])
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import scipy.sparse as sp

__all__ = ["run", "NOMINAL_PEAK_GBS", "peak_for", "poisson_csr", "enable_simulator"]

#: Nominal peak memory bandwidth (GB/s) by device-name pattern, first match wins.
NOMINAL_PEAK_GBS: list[tuple[tuple[str, ...], str, float]] = [
    (("GH200",), "GH200 (HBM3, 96 GB)", 4000.0),
    (("H200",), "H200 (HBM3e)", 4800.0),
    (("H100", "PCIE"), "H100 PCIe (HBM2e)", 2000.0),
    (("H100", "NVL"), "H100 NVL (HBM3)", 3900.0),
    (("H100",), "H100 SXM (HBM3)", 3350.0),
    (("H800",), "H800 SXM (HBM3)", 3350.0),
    (("B200",), "B200 (HBM3e)", 8000.0),
    (("A100", "80GB", "PCIE"), "A100 80GB PCIe", 1935.0),
    (("A100", "80GB"), "A100 80GB SXM", 2039.0),
    (("A100",), "A100 40GB", 1555.0),
    (("L40S",), "L40S", 864.0),
    (("L4",), "L4", 300.0),
    (("A10",), "A10", 600.0),
    (("V100",), "V100", 900.0),
    (("4090",), "RTX 4090", 1008.0),
]

#: Sizes of the full benchmark: (name, grid shape).
PROBLEMS = [("poisson2d-1e6", (1000, 1000)), ("poisson2d-1e7", (3163, 3163)), ("poisson3d-128^3", (128, 128, 128))]
#: Toy sizes (simulator / tiny mode).
TINY_PROBLEMS = [("poisson2d-tiny", (8, 8)), ("poisson3d-tiny", (4, 4, 4))]
#: CG iterations timed per solve.
CG_ITERS = 200
TINY_CG_ITERS = 4


def peak_for(name: str) -> tuple[str, float | None]:
    """``(model, GB/s)`` from :data:`NOMINAL_PEAK_GBS` for a device name (``(name, None)`` if unknown)."""
    up = name.upper()
    for keys, model, gbs in NOMINAL_PEAK_GBS:
        if all(k in up for k in keys):
            return model, gbs
    return name, None


def poisson_csr(shape: tuple[int, ...], dtype: Any = np.float64) -> sp.csr_matrix:
    """The 5- / 7-point Dirichlet Laplacian on a grid, built directly in canonical CSR (int32 indices).

    Same matrix as :func:`itersolve.pdes.poisson`, but assembled row by row
    with NumPy only, so 10^7 unknowns take seconds.
    """
    shape = tuple(int(s) for s in shape)
    n = int(np.prod(shape))
    strides = [int(np.prod(shape[i + 1:])) for i in range(len(shape))]
    coords = np.indices(shape).reshape(len(shape), -1) if n <= 10**5 else None
    offs = sorted([-s for s in strides] + [0] + strides)
    valid = np.empty((n, len(offs)), dtype=bool)
    rows = np.arange(n, dtype=np.int64)
    for j, off in enumerate(offs):
        if off == 0:
            valid[:, j] = True
            continue
        axis = strides.index(abs(off))
        if coords is not None:
            c = coords[axis]
        else:
            c = (rows // strides[axis]) % shape[axis]
        valid[:, j] = c > 0 if off < 0 else c < shape[axis] - 1
    cols = rows[:, None] + np.asarray(offs, dtype=np.int64)[None, :]
    vals = np.where(np.asarray(offs)[None, :] == 0, 2.0 * len(shape), -1.0)
    vals = np.broadcast_to(vals, valid.shape)
    indptr = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(valid.sum(axis=1), out=indptr[1:])
    indices = cols[valid].astype(np.int32)
    data = vals[valid].astype(dtype)
    A = sp.csr_matrix((data, indices, indptr), shape=(n, n))
    A.indptr, A.indices = indptr, indices
    A.has_sorted_indices = True
    A.has_canonical_format = True
    return A


def enable_simulator() -> bool:
    """Switch the Numba CUDA simulator on for this process (before ``numba.cuda`` is imported).

    Returns whether the simulator is on afterwards.
    """
    if "numba.cuda" not in sys.modules:
        os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
        import numba.core.config

        numba.core.config.reload_config()
    from ..cuda import SIMULATOR

    return SIMULATOR


# ------------------------------------------------------------------ timing


def _event_time(fn: Callable[[], Any], repeat: int, warmup: int = 2, inner: int = 10) -> float:
    """Best time (s) per call of ``fn()``: CUDA events around ``inner`` back-to-back calls (so the
    first launch's host overhead is amortised), best of ``repeat``."""
    from numba import cuda

    from ..cuda import SIMULATOR

    if SIMULATOR:
        warmup, inner = 1, 1
    for _ in range(warmup):
        fn()
    cuda.synchronize()
    best = float("inf")
    for _ in range(repeat):
        start, stop = cuda.event(), cuda.event()
        start.record()
        for _ in range(inner):
            fn()
        stop.record()
        stop.synchronize()
        ms = start.elapsed_time(stop)
        if ms <= 0:  # the simulator has no events: fall back to the wall clock
            t0 = time.perf_counter()
            fn()
            cuda.synchronize()
            ms = inner * 1e3 * (time.perf_counter() - t0)
        best = min(best, ms / 1e3 / inner)
    return best


def _wall_time(fn: Callable[[], Any], repeat: int, warmup: int = 1) -> float:
    from numba import cuda

    for _ in range(warmup):
        fn()
    cuda.synchronize()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return best


def _cupy():
    try:
        import cupy
        import cupyx.scipy.sparse
        import cupyx.scipy.sparse.linalg  # noqa: F401 - the CG reference must be there too

        cupy.cuda.runtime.getDeviceCount()
        return cupy
    except Exception:  # noqa: BLE001 - any failure means "no CuPy here"
        return None


def _cupy_time(cp: Any, fn: Callable[[], Any], repeat: int, warmup: int = 2, inner: int = 10) -> float:
    """As :func:`_event_time`, with CuPy's events."""
    for _ in range(warmup):
        fn()
    cp.cuda.Device().synchronize()
    best = float("inf")
    for _ in range(repeat):
        start, stop = cp.cuda.Event(), cp.cuda.Event()
        start.record()
        for _ in range(inner):
            fn()
        stop.record()
        stop.synchronize()
        best = min(best, cp.cuda.get_elapsed_time(start, stop) / 1e3 / inner)
    return best


# ------------------------------------------------------------------- steps


def _device_info() -> dict:
    from numba import cuda

    from ..cuda import SIMULATOR

    if SIMULATOR:
        return {"name": "Numba CUDA simulator", "simulator": True}
    dev = cuda.get_current_device()
    name = dev.name.decode() if isinstance(dev.name, bytes) else str(dev.name)
    ctx = cuda.current_context()
    free, total = ctx.get_memory_info()
    return {
        "name": name,
        "compute_capability": list(dev.compute_capability),
        "multiprocessors": int(getattr(dev, "MULTIPROCESSOR_COUNT", 0)),
        "memory_gb": total / 1e9,
        "simulator": False,
    }


def _copy_bandwidth(nbytes: int, repeat: int) -> dict:
    from numba import cuda

    from ..cuda._config import THREADS, grid_for
    from ..cuda.blas import copy_k

    n = max(nbytes // 8, 1)
    a = cuda.device_array(n, np.float64)
    b = cuda.device_array(n, np.float64)
    copy_k[grid_for(n), THREADS](cuda.to_device(np.zeros(1)), b[:1])  # compile
    t_memcpy = _event_time(lambda: b.copy_to_device(a), repeat)
    t_kernel = _event_time(lambda: copy_k[grid_for(n), THREADS](a, b), repeat)
    moved = 2.0 * n * 8
    return {"bytes": moved, "memcpy_gbs": moved / t_memcpy / 1e9, "kernel_gbs": moved / t_kernel / 1e9}


def _spmv(name: str, shape: tuple[int, ...], repeat: int, ref_gbs: float, peak_gbs: float | None, cp: Any) -> dict:
    from numba import cuda

    from ..cuda import DeviceCSR

    A = poisson_csr(shape)
    n = A.shape[0]
    x = cuda.to_device(np.random.default_rng(0).standard_normal(n))
    y = cuda.device_array(n)
    auto = DeviceCSR.from_host(A)
    bytes_moved = auto.nbytes
    row = {"problem": name, "n": n, "nnz": int(A.nnz), "bytes": bytes_moved, "kernel": auto.kernel, "lanes": auto.lanes}
    t = _event_time(lambda: auto.matvec(x, y), repeat)
    row["time_s"] = t
    row["gbs"] = bytes_moved / t / 1e9
    row["frac_copy"] = row["gbs"] / ref_gbs if ref_gbs else None
    row["frac_peak"] = row["gbs"] / peak_gbs if peak_gbs else None
    variants = {}
    for kernel, lanes in (("thread", None), ("warp", 2), ("warp", 4), ("warp", 8)):
        v = DeviceCSR(auto.indptr, auto.indices, auto.data, auto.shape, host=A, kernel=kernel, lanes=lanes)
        tv = _event_time(lambda v=v: v.matvec(x, y), repeat)
        variants[f"{kernel}{'' if lanes is None else lanes}"] = bytes_moved / tv / 1e9
    row["variants_gbs"] = variants
    # the result is right
    ref = A @ x.copy_to_host()
    auto.matvec(x, y)
    row["max_rel_error"] = float(np.max(np.abs(y.copy_to_host() - ref)) / max(np.max(np.abs(ref)), 1e-300))
    if cp is not None:
        import cupyx.scipy.sparse as csp

        Ac = csp.csr_matrix((cp.asarray(auto.data), cp.asarray(auto.indices), cp.asarray(auto.indptr)), shape=A.shape)
        xc = cp.asarray(x)
        tc = _cupy_time(cp, lambda: Ac @ xc, repeat)
        row["cusparse_gbs"] = bytes_moved / tc / 1e9
        row["vs_cusparse"] = row["gbs"] / row["cusparse_gbs"]
    return row


def _cg(name: str, shape: tuple[int, ...], iters: int, repeat: int, cp: Any) -> dict:
    from numba import cuda

    from .. import cg
    from ..cuda import DeviceCSR

    A = poisson_csr(shape)
    n = A.shape[0]
    Ad = DeviceCSR.from_host(A)
    b = cuda.to_device(np.random.default_rng(1).standard_normal(n))
    row = {"problem": name, "n": n, "iterations": iters}
    for every in (1, 10):
        def solve(every=every):
            res = cg(Ad, b, rtol=1e-30, atol=0.0, maxiter=iters, check_every=every)
            assert res.iterations == iters or res.converged, res
            return res

        t = _wall_time(solve, repeat)
        row[f"ours_check{every}_s_per_iter"] = t / iters
    if cp is not None:
        import cupyx.scipy.sparse as csp
        from cupyx.scipy.sparse.linalg import cg as cupy_cg

        Ac = csp.csr_matrix((cp.asarray(Ad.data), cp.asarray(Ad.indices), cp.asarray(Ad.indptr)), shape=A.shape)
        bc = cp.asarray(b)

        def cupy_solve():
            try:
                cupy_cg(Ac, bc, rtol=1e-30, atol=0.0, maxiter=iters)
            except TypeError:  # older CuPy: tol instead of rtol
                cupy_cg(Ac, bc, tol=1e-30, atol=0.0, maxiter=iters)

        t = _cupy_time(cp, cupy_solve, repeat, warmup=1, inner=1)
        row["cupy_s_per_iter"] = t / iters
        row["ratio_vs_cupy"] = row["ours_check1_s_per_iter"] / row["cupy_s_per_iter"]
        row["ratio_vs_cupy_check10"] = row["ours_check10_s_per_iter"] / row["cupy_s_per_iter"]
    return row


def _print_table(rows: list[dict], columns: list[tuple[str, str, str]]) -> None:
    from .report import format_table

    print(format_table(rows, columns))


def run(*, quick: bool = True, out_dir: str = "bench-results", tiny: bool = False, verbose: bool = True) -> dict:
    """Run the GPU benchmark; returns the payload written to ``out_dir/cuda.json``.

    ``tiny`` runs every step at toy sizes (what the simulator can do); it is
    implied on the simulator. Without a GPU nothing is measured and the
    payload says ``skipped``.
    """
    from .report import write_json

    out = Path(out_dir) / "cuda.json"
    say = print if verbose else (lambda *a, **k: None)
    try:
        from ..cuda import SIMULATOR, is_available
    except ImportError as exc:
        say(f"no CUDA GPU: skipped (numba-cuda is not installed: {exc})")
        payload = {"suite": "cuda", "skipped": "numba-cuda not installed"}
        write_json(out, payload)
        return payload
    if not is_available():
        say("no CUDA GPU: skipped (numba.cuda found no usable GPU; `itersolve bench cuda --simulator` "
            "runs the suite at toy sizes on the Numba CUDA simulator)")
        payload = {"suite": "cuda", "skipped": "no CUDA GPU"}
        write_json(out, payload)
        return payload
    tiny = tiny or SIMULATOR
    device = _device_info()
    model, peak = peak_for(device["name"])
    device["model"], device["nominal_peak_gbs"] = model, peak
    cp = None if SIMULATOR else _cupy()
    repeat = 2 if tiny else (5 if quick else 20)
    problems = TINY_PROBLEMS if tiny else PROBLEMS
    say(f"== cuda: {device['name']} ({model}; nominal peak "
        f"{'unknown' if peak is None else f'{peak:.0f} GB/s'}){' [tiny sizes]' if tiny else ''}")
    if cp is None:
        say("CuPy is not available: no cuSPARSE / cupyx comparison in this run"
            + (" (simulator)" if SIMULATOR else " (pip install cupy-cuda12x)"))
    t0 = time.perf_counter()
    copy = _copy_bandwidth(4096 if tiny else 2 << 30, repeat)
    say(f"device-to-device copy: {copy['memcpy_gbs']:.0f} GB/s (cudaMemcpy), {copy['kernel_gbs']:.0f} GB/s "
        f"(copy kernel); bytes read + written")
    ref_gbs = copy["memcpy_gbs"]
    spmv = [_spmv(name, shape, repeat, ref_gbs, peak, cp) for name, shape in problems]
    say("\nSpMV y = A x (float64, int32 indices; GB/s of the CSR bytes)")
    _print_table(spmv, [("problem", "problem", "s"), ("n", "n", "d"), ("kernel", "kernel", "s"),
                        ("lanes", "lanes", "d"), ("gbs", "GB/s", ".1f"), ("frac_copy", "of copy", ".2f"),
                        ("frac_peak", "of peak", ".2f"), ("cusparse_gbs", "cuSPARSE GB/s", ".1f"),
                        ("vs_cusparse", "vs cuSPARSE", ".2f"), ("max_rel_error", "rel. error", ".1e")])
    say("kernel variants (GB/s): " + "; ".join(
        f"{r['problem']}: " + ", ".join(f"{k} {v:.0f}" for k, v in r["variants_gbs"].items()) for r in spmv))
    iters = TINY_CG_ITERS if tiny else CG_ITERS
    cgs = [_cg(name, shape, iters, max(1, repeat // 2), cp) for name, shape in problems]
    say(f"\nCG, no preconditioner, {iters} iterations (time per iteration)")
    _print_table(cgs, [("problem", "problem", "s"), ("n", "n", "d"),
                       ("ours_check1_s_per_iter", "ours s/it", ".3e"),
                       ("ours_check10_s_per_iter", "ours (check 10)", ".3e"),
                       ("cupy_s_per_iter", "cupyx cg s/it", ".3e"), ("ratio_vs_cupy", "ratio", ".2f"),
                       ("ratio_vs_cupy_check10", "ratio (check 10)", ".2f")])
    targets = _targets(spmv, cgs, peak, tiny)
    for line in targets["lines"]:
        say(line)
    payload = {"suite": "cuda", "device": device, "tiny": tiny, "copy": copy, "spmv": spmv, "cg": cgs,
               "cupy": None if cp is None else cp.__version__, "targets": targets["checks"],
               "seconds": time.perf_counter() - t0}
    write_json(out, payload)
    say(f"wrote {out}")
    return payload


def _targets(spmv: list[dict], cgs: list[dict], peak: float | None, tiny: bool) -> dict:
    """The issue's targets (meaningful on an H100 at full size)."""
    checks: dict[str, Any] = {}
    lines = ["\ntargets (H100):"]
    big = next((r for r in spmv if r["problem"] == "poisson2d-1e7"), None)
    if tiny or big is None:
        lines.append("  not checked at tiny sizes")
        return {"checks": checks, "lines": lines}
    if peak is not None:
        checks["spmv_1e7_frac_peak>=0.60"] = big["frac_peak"] >= 0.60
        lines.append(f"  SpMV n=1e7 at {big['frac_peak']:.0%} of nominal peak (target >= 60%): "
                     f"{'met' if checks['spmv_1e7_frac_peak>=0.60'] else 'MISSED'}")
    if "vs_cusparse" in big:
        checks["spmv_1e7_vs_cusparse>=0.9"] = big["vs_cusparse"] >= 0.9
        lines.append(f"  SpMV n=1e7 {big['vs_cusparse']:.2f}x cuSPARSE (target >= 0.9x): "
                     f"{'met' if checks['spmv_1e7_vs_cusparse>=0.9'] else 'MISSED'}")
    for row in cgs:
        if "ratio_vs_cupy" in row:
            key = f"cg_{row['problem']}_vs_cupy<=1.2"
            checks[key] = row["ratio_vs_cupy"] <= 1.2
            lines.append(f"  CG {row['problem']}: {row['ratio_vs_cupy']:.2f}x CuPy's time per iteration "
                         f"(check_every=10: {row['ratio_vs_cupy_check10']:.2f}x; target <= 1.2x): "
                         f"{'met' if checks[key] else 'MISSED'}")
    if len(lines) == 1:
        lines.append("  no comparison possible (CuPy missing and GPU model unknown)")
    return {"checks": checks, "lines": lines}


if __name__ == "__main__":  # pragma: no cover
    run(quick="--full" not in sys.argv, tiny="--tiny" in sys.argv)
