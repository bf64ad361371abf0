"""Multicolour relaxation sweeps on the device.

A colour is a set of rows no two of which are coupled, so its rows are
relaxed in parallel (one thread per row) with the same update as the CPU
kernels, ``x[i] += omega (b[i] - sum_j A[i, j] x[j]) / diag[i]`` (float64 row
sums); the colours run one launch after another. The colouring itself is
computed on the host by :func:`itersolve.kernels.coloring.greedy_coloring`
(red-black for 5- and 7-point stencils). Natural-order (sequential) SOR has no
device kernel: its rows depend on each other one by one.

``jacobi_sweep_k`` is the CPU ``jacobi_sweep`` (``x_new = x + omega D^-1 (b - A x)``,
one thread per row). The Jacobi *solver* already has ``r = b - A x`` from its
stopping test, so it applies the update alone with
:func:`~itersolve.cuda.blas.diag_axpy_k`.
"""

from __future__ import annotations

from numba import cuda

__all__ = ["sor_color_k", "jacobi_sweep_k"]


@cuda.jit(cache=True)
def sor_color_k(indptr, indices, data, diag, x, b, omega, rows, lo, hi, S):
    """Relax rows ``rows[lo:hi]`` (one colour) in place on ``x`` (skipped when ``S[0] != 0``)."""
    if S[0] != 0.0:
        return
    for t in range(lo + cuda.grid(1), hi, cuda.gridsize(1)):
        i = rows[t]
        s = 0.0
        for k in range(indptr[i], indptr[i + 1]):
            s += data[k] * x[indices[k]]
        x[i] += (b[i] - s) * (omega / diag[i])


@cuda.jit(cache=True)
def jacobi_sweep_k(indptr, indices, data, diag, x, b, omega, x_new):
    """``x_new = x + omega D^-1 (b - A x)`` (one thread per row, float64 row sums)."""
    n = x_new.shape[0]
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        s = 0.0
        for k in range(indptr[i], indptr[i + 1]):
            s += data[k] * x[indices[k]]
        x_new[i] = x[i] + (b[i] - s) * (omega / diag[i])
