"""Relaxation sweeps: Jacobi, SOR forward / backward, multicolour SOR.

All sweeps take the CSR arrays of ``A`` and its diagonal ``diag`` (never
zero; the caller checked) and update ``x`` in place (Jacobi writes
``x_new``). A row update is written in residual form,

    x[i] += omega * (b[i] - sum_j A[i, j] x[j]) / diag[i]

with the sum over the whole row, diagonal included, using the current values
of ``x``. With ``diag[i] = A[i, i]`` this is exactly the textbook SOR update
``x[i] = (1 - omega) x[i] + omega (b[i] - sum_{j != i} A[i, j] x[j]) / A[i, i]``,
but the inner loop has no branch, and ``omega / diag[i]`` is off the critical
path of the sequential recurrence (the division does not wait for the sum).
Row sums accumulate in float64.

Examples
--------
>>> import numpy as np, scipy.sparse as sp
>>> from itersolve.kernels.sweeps import sor_forward
>>> A = sp.csr_matrix(np.array([[4., -1], [-1, 4]]))
>>> x = np.zeros(2); b = np.array([3., 3.])
>>> sor_forward(A.indptr, A.indices, A.data, A.diagonal(), x, b, 1.0); x
array([0.75  , 0.9375])
"""

from __future__ import annotations

from numba import njit, prange, uint64

from ._config import PAR_MIN, PAR_MIN_NNZ, ROW_BLOCK

__all__ = ["jacobi_sweep", "sor_forward", "sor_backward", "sor_colored"]


@njit(cache=True, inline="always")
def _row_update(indptr, indices, data, diag, x, b, omega, i):
    s = 0.0
    for k in range(uint64(indptr[i]), uint64(indptr[i + 1])):
        s += data[k] * x[uint64(indices[k])]
    x[i] += (b[i] - s) * (omega / diag[i])


@njit(cache=True, inline="always")
def _row_update_rev(indptr, indices, data, diag, x, b, omega, i):
    # same update, row read right to left: in a forward sweep the freshest
    # value x[i-1] then enters the sum last but one, which shortens the
    # loop-carried dependency chain from row i-1 to row i
    s = 0.0
    start = indptr[i]
    end = indptr[i + 1]
    for t in range(end - start):
        k = uint64(end - 1 - t)
        s += data[k] * x[uint64(indices[k])]
    x[i] += (b[i] - s) * (omega / diag[i])


@njit(cache=True, inline="always")
def _jacobi_rows(indptr, indices, data, diag, x, b, omega, x_new, lo, hi):
    for i in range(lo, hi):
        s = 0.0
        for k in range(uint64(indptr[i]), uint64(indptr[i + 1])):
            s += data[k] * x[uint64(indices[k])]
        x_new[i] = x[i] + (b[i] - s) * (omega / diag[i])


@njit(cache=True, parallel=True)
def jacobi_sweep(indptr, indices, data, diag, x, b, omega, x_new):
    """``x_new = x + omega D^-1 (b - A x)`` (parallel over row blocks)."""
    n = x.shape[0]
    nb = (n + ROW_BLOCK - 1) // ROW_BLOCK
    if data.shape[0] < PAR_MIN_NNZ:
        _jacobi_rows(indptr, indices, data, diag, x, b, omega, x_new, 0, n)
    else:
        for blk in prange(nb):
            _jacobi_rows(indptr, indices, data, diag, x, b, omega, x_new, blk * ROW_BLOCK, min(n, (blk + 1) * ROW_BLOCK))


@njit(cache=True)
def sor_forward(indptr, indices, data, diag, x, b, omega):
    """One SOR sweep over rows ``0 .. n-1`` (sequential), in place on ``x``."""
    n = x.shape[0]
    for i in range(n):
        _row_update_rev(indptr, indices, data, diag, x, b, omega, i)


@njit(cache=True)
def sor_backward(indptr, indices, data, diag, x, b, omega):
    """One SOR sweep over rows ``n-1 .. 0`` (sequential), in place on ``x``."""
    n = x.shape[0]
    for i in range(n - 1, -1, -1):
        _row_update(indptr, indices, data, diag, x, b, omega, i)


@njit(cache=True, parallel=True)
def sor_colored(indptr, indices, data, diag, x, b, omega, color_ptr, color_rows, reverse):
    """Multicolour SOR sweep, in place on ``x``.

    Colours are visited in order ``0, 1, ...`` (``reverse=True``: last colour
    first); the rows of one colour are updated in parallel. With a valid
    colouring (no two coupled rows share a colour) the result equals a
    sequential sweep over ``color_rows`` in the colour order.
    """
    ncol = color_ptr.shape[0] - 1
    for c in range(ncol):
        cc = ncol - 1 - c if reverse else c
        lo = color_ptr[cc]
        hi = color_ptr[cc + 1]
        m = hi - lo
        if m < PAR_MIN // 8:
            for t in range(lo, hi):
                _row_update(indptr, indices, data, diag, x, b, omega, color_rows[t])
        else:
            nb = (m + ROW_BLOCK - 1) // ROW_BLOCK
            for blk in prange(nb):
                a = lo + blk * ROW_BLOCK
                e = min(hi, a + ROW_BLOCK)
                for t in range(a, e):
                    _row_update(indptr, indices, data, diag, x, b, omega, color_rows[t])
