"""Compile the device kernels to PTX for a real GPU (sm_90) on a machine without one.

The simulator runs the kernels' Python, not their CUDA compilation: a kernel
that the simulator accepts may still fail Numba's CUDA type inference or NVVM
(it happened: a shared array declared in a device function used twice). This
script compiles every kernel variant -- float32/float64 values, int32/int64
indices, each scalar rule of the solvers -- with ``numba.cuda.compile_ptx``.
It needs NVVM and NVRTC (``pip install -e '.[cuda-ptx]'``) but no GPU and no
driver: Numba asks the (absent) current device only for its compute
capability, which is stubbed here.

Run: ``python tests/cuda/ptx_check.py [--quick]``; exit status 1 on any failure.
"""

from __future__ import annotations

import importlib
import sys


def _stub_device() -> None:
    import numba.cuda.dispatcher as dispatcher

    class _Device:
        compute_capability = (9, 0)

    dispatcher.get_current_device = lambda: _Device()


def main(quick: bool = False) -> int:
    _stub_device()
    from numba import cuda
    from numba.types import boolean, float32, float64, int32, int64

    from itersolve.cuda import _reduce, blas, spmv, sweeps, triangular
    from itersolve.cuda._reduce import store_rule
    from itersolve.solvers import _state

    cgmod = importlib.import_module("itersolve.solvers.cg")
    rules = [store_rule, _state.record_residual, cgmod._alpha_rule, cgmod._record_plain_rule, cgmod._beta_rule]
    fails = []

    def check(name, kernel, sig):
        try:
            cuda.compile_ptx(kernel.py_func, sig, cc=(9, 0))
        except Exception as exc:  # noqa: BLE001 - report every failure
            fails.append(f"{name} {sig}: {type(exc).__name__}: {str(exc)[:500]}")

    def a(t):
        return t[::1]

    S, P, C = a(float64), a(float64), a(int32)
    combos = [(float32, int32), (float64, int64)] if quick else [(f, i) for f in (float32, float64)
                                                                  for i in (int32, int64)]
    for ft, it in combos:
        for rule in rules if not quick or ft == float64 else [store_rule]:
            check(f"dot[{rule.__name__}]", blas.dot_kernel(rule), (a(ft), a(ft), P, C, S))
            check(f"cg_update[{rule.__name__}]", blas.cg_update_kernel(rule),
                  (a(ft), a(ft), a(ft), a(ft), float64, int64, P, C, S))
            check(f"csr_thread[{rule.__name__}]", spmv.csr_thread_kernel(rule),
                  (a(it), a(it), a(ft), a(ft), a(ft), a(ft), int64, P, C, S))
            check(f"csr_warp[{rule.__name__}]", spmv.csr_warp_kernel(rule),
                  (a(it), a(it), a(ft), a(ft), a(ft), a(ft), int64, int64, P, C, S))
        check("nonfinite", blas.nonfinite_kernel(store_rule), (a(ft), P, C, S))
        check("axpby", blas.axpby_k, (float64, int64, a(ft), float64, int64, a(ft), S))
        check("scale", blas.scale_k, (float64, a(ft), a(ft), S))
        check("diag_scale", blas.diag_scale_k, (a(ft), a(ft), a(ft)))
        check("diag_axpy", blas.diag_axpy_k, (a(ft), a(ft), a(ft), S))
        check("copy", blas.copy_k, (a(ft), a(ft)))
        check("copy-cast-strided", blas.copy_k, (float64[:], a(ft)))
        check("fill", blas.fill_k, (a(ft), float64))
        check("diag", spmv.diag_k, (a(it), a(it), a(ft), a(ft)))
        check("sor_color", sweeps.sor_color_k, (a(it), a(it), a(ft), a(ft), a(ft), a(ft), ft, a(int64), int64, int64, S))
        check("jacobi_sweep", sweeps.jacobi_sweep_k, (a(it), a(it), a(ft), a(ft), a(ft), a(ft), ft, a(ft)))
        check("tri_level", triangular.tri_level_k,
              (a(it), a(it), a(ft), a(int64), int64, int64, a(ft), a(ft), boolean, boolean))
        check("tri_block", triangular.tri_block_k,
              (a(it), a(it), a(ft), a(int64), a(int64), int64, int64, a(ft), a(ft), boolean, boolean))
    check("set_slots", _reduce.set_slots, (S, int64, float64, int64, float64, int64, float64))
    for line in fails:
        print("FAIL", line)
    print(f"ptx check: {len(fails)} failure(s)")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main(quick="--quick" in sys.argv))
