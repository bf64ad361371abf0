"""Sparse matrix-vector kernels in CSR and DIA layouts.

CSR is the exchange format. DIA (diagonal storage) is the fast layout for
stencil and banded matrices: it stores no column indices, so an SpMV moves
about ``8 * ndiag * n`` bytes (float64) instead of ``12 * nnz + 4 * n`` and the
inner loop is a contiguous, vectorised multiply-add.

DIA storage here is *row-aligned* (unlike ``scipy.sparse.dia_matrix``, which
is column-aligned): ``ddata[k, i] = A[i, i + offsets[k]]``; entries that fall
outside the matrix are zero and are never read.

Every matrix kernel runs in parallel over blocks of
:data:`~itersolve.kernels._config.ROW_BLOCK` rows (on the calling thread for
small matrices). DIA products accumulate in the matrix dtype; CSR rows
accumulate in float64 and are rounded once (that loop is bound by its index
gathers, so the wider sum is free). The fused variants that also return a dot
product accumulate it in float64 (see :mod:`.blas`).

Examples
--------
>>> import numpy as np, scipy.sparse as sp
>>> from itersolve.kernels.spmv import csr_matvec, dia_offsets, csr_to_dia, dia_matvec
>>> A = sp.csr_matrix(np.array([[2., -1, 0], [-1, 2, -1], [0, -1, 2]]))
>>> x = np.array([1., 2., 3.]); y = np.empty(3)
>>> csr_matvec(A.indptr, A.indices, A.data, x, y); y
array([0., 0., 4.])
>>> off = dia_offsets(A.indptr, A.indices, 3, 16); off
array([-1,  0,  1])
>>> dd = csr_to_dia(A.indptr, A.indices, A.data, off, 3)
>>> dia_matvec(off, dd, x, y); y
array([0., 0., 4.])
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange, uint64

from ._config import FASTMATH, PAR_MIN_NNZ, ROW_BLOCK

__all__ = [
    "csr_apply",
    "dia_apply",
    "csr_matvec",
    "csr_residual",
    "csr_matvec_dot",
    "dia_offsets",
    "csr_to_dia",
    "dia_matvec",
    "dia_residual",
    "dia_matvec_dot",
]


# --------------------------------------------------------------------- CSR

# Implementation notes. Indices are cast to uint64 where they are used (and
# loops over slices run from 0), so Numba drops its negative-index
# wraparound check; that check alone made these loops 2x slower. The three
# products of each layout share one parallel kernel (``mode``: 0 product,
# 1 residual, 2 product and dot) with thin serial wrappers, because compiling
# a parallel kernel costs ~1.5 s per dtype signature and a cold cache
# should not pay that three times. The wrappers pass ``np.int64(mode)``, not a
# bare constant: a constant would be typed as a literal and trigger a second
# compilation of the parallel kernel.

MODE_MATVEC = 0
MODE_RESIDUAL = 1
MODE_MATVEC_DOT = 2


@njit(cache=True, inline="always")
def _csr_row(indptr, indices, data, x, i):
    # strict (no fast-math) sum: a reassociated row loop gets vectorised into
    # gathers, which is slower for the short rows of PDE matrices
    s = 0.0  # rows accumulate in float64, stored rounded to y.dtype
    for k in range(uint64(indptr[i]), uint64(indptr[i + 1])):
        s += data[k] * x[uint64(indices[k])]
    return s


@njit(cache=True, fastmath=FASTMATH)
def _finish(x, b, y, mode, lo, hi):
    """Second pass over a block of ``y = A x`` (still in L1): residual and/or dot."""
    acc = 0.0
    ys = y[lo:hi]
    if mode == MODE_RESIDUAL:
        bs = b[lo:hi]
        for t in range(hi - lo):
            ys[t] = bs[t] - ys[t]
            ri = np.float64(ys[t])
            acc += ri * ri
    elif mode == MODE_MATVEC_DOT:
        xs = x[lo:hi]
        for t in range(hi - lo):
            acc += np.float64(xs[t]) * np.float64(ys[t])
    return acc


@njit(cache=True)
def _csr_block(indptr, indices, data, x, b, y, mode, lo, hi):
    ys = y[lo:hi]
    for t in range(hi - lo):
        ys[t] = _csr_row(indptr, indices, data, x, lo + t)
    return _finish(x, b, y, mode, lo, hi)


@njit(cache=True, parallel=True)
def csr_apply(indptr, indices, data, x, b, y, mode):
    """The shared CSR kernel: ``y = A x`` (mode 0), ``y = b - A x`` returning
    ``y . y`` (mode 1), ``y = A x`` returning ``x . y`` (mode 2)."""
    n = y.shape[0]
    nb = (n + ROW_BLOCK - 1) // ROW_BLOCK
    part = np.empty(nb, np.float64)
    if data.shape[0] < PAR_MIN_NNZ:
        for blk in range(nb):
            part[blk] = _csr_block(indptr, indices, data, x, b, y, mode, blk * ROW_BLOCK, min(n, (blk + 1) * ROW_BLOCK))
    else:
        for blk in prange(nb):
            part[blk] = _csr_block(indptr, indices, data, x, b, y, mode, blk * ROW_BLOCK, min(n, (blk + 1) * ROW_BLOCK))
    acc = 0.0
    for blk in range(nb):
        acc += part[blk]
    return acc


@njit(cache=True)
def csr_matvec(indptr, indices, data, x, y):
    """``y = A x`` for A in CSR (n rows; ``x`` of length ncols)."""
    csr_apply(indptr, indices, data, x, y, y, np.int64(MODE_MATVEC))


@njit(cache=True)
def csr_residual(indptr, indices, data, x, b, r):
    """``r = b - A x``; returns ``r . r`` accumulated in float64."""
    return csr_apply(indptr, indices, data, x, b, r, np.int64(MODE_RESIDUAL))


@njit(cache=True)
def csr_matvec_dot(indptr, indices, data, x, y):
    """``y = A x``; returns ``x . y`` accumulated in float64 (A square)."""
    return csr_apply(indptr, indices, data, x, y, y, np.int64(MODE_MATVEC_DOT))


# --------------------------------------------------------------------- DIA


@njit(cache=True)
def dia_offsets(indptr, indices, ncols, max_diags):
    """Sorted distinct offsets ``j - i`` of the stored entries (int64).

    Returns an empty array as soon as more than ``max_diags`` distinct
    offsets are found (the matrix is not worth storing by diagonals).
    """
    n = indptr.shape[0] - 1
    seen = np.zeros(n + ncols, np.bool_)
    count = 0
    for i in range(n):
        for k in range(indptr[i], indptr[i + 1]):
            d = indices[k] - i + n
            if not seen[d]:
                seen[d] = True
                count += 1
                if count > max_diags:
                    return np.empty(0, np.int64)
    out = np.empty(count, np.int64)
    c = 0
    for d in range(n + ncols):
        if seen[d]:
            out[c] = d - n
            c += 1
    return out


@njit(cache=True)
def csr_to_dia(indptr, indices, data, offsets, ncols):
    """Row-aligned diagonal storage ``ddata[k, i] = A[i, i + offsets[k]]``."""
    n = indptr.shape[0] - 1
    nd = offsets.shape[0]
    slot = np.full(n + ncols, -1, np.int64)
    for k in range(nd):
        slot[offsets[k] + n] = k
    dd = np.zeros((nd, n), data.dtype)
    for i in range(n):
        for k in range(indptr[i], indptr[i + 1]):
            dd[slot[indices[k] - i + n], i] += data[k]
    return dd


@njit(cache=True)
def _dia_block(offsets, dd, x, b, y, mode, lo, hi):
    ncols = x.shape[0]
    ys = y[lo:hi]
    for t in range(hi - lo):
        ys[t] = 0
    for k in range(offsets.shape[0]):
        off = offsets[k]
        a = max(lo, -off)
        e = min(hi, ncols - off)
        if e > a:
            yv = y[a:e]
            dv = dd[k, a:e]
            xv = x[a + off : e + off]
            for t in range(e - a):
                yv[t] += dv[t] * xv[t]
    return _finish(x, b, y, mode, lo, hi)


@njit(cache=True, parallel=True)
def dia_apply(offsets, ddata, x, b, y, mode):
    """The shared DIA kernel; ``mode`` as in :func:`csr_apply`."""
    n = y.shape[0]
    nb = (n + ROW_BLOCK - 1) // ROW_BLOCK
    part = np.empty(nb, np.float64)
    if n * offsets.shape[0] < PAR_MIN_NNZ:
        for blk in range(nb):
            part[blk] = _dia_block(offsets, ddata, x, b, y, mode, blk * ROW_BLOCK, min(n, (blk + 1) * ROW_BLOCK))
    else:
        for blk in prange(nb):
            part[blk] = _dia_block(offsets, ddata, x, b, y, mode, blk * ROW_BLOCK, min(n, (blk + 1) * ROW_BLOCK))
    acc = 0.0
    for blk in range(nb):
        acc += part[blk]
    return acc


@njit(cache=True)
def dia_matvec(offsets, ddata, x, y):
    """``y = A x`` for A in row-aligned DIA storage."""
    dia_apply(offsets, ddata, x, y, y, np.int64(MODE_MATVEC))


@njit(cache=True)
def dia_residual(offsets, ddata, x, b, r):
    """``r = b - A x``; returns ``r . r`` accumulated in float64."""
    return dia_apply(offsets, ddata, x, b, r, np.int64(MODE_RESIDUAL))


@njit(cache=True)
def dia_matvec_dot(offsets, ddata, x, y):
    """``y = A x``; returns ``x . y`` accumulated in float64 (A square)."""
    return dia_apply(offsets, ddata, x, y, y, np.int64(MODE_MATVEC_DOT))
