"""Sparse triangular solves with level scheduling.

A lower solve reads, in row ``i``, only the entries with column ``j < i``
(off-diagonal) and ``j == i`` (the diagonal, unless ``unit_diagonal``);
entries with ``j > i`` are ignored. An upper solve mirrors this. So one CSR
array holding both factors of an ILU (unit-lower ``L`` and ``U`` on ``A``'s
pattern) can be passed to both solves unchanged.

``level_schedule`` groups rows into levels: every row depends only on rows of
earlier levels, so the rows of one level can be solved in parallel. The
solves use the levels only when they are wide enough on average
(:data:`LEVEL_PAR_MIN` rows) to pay for waking the threads at every level;
otherwise they run the plain sequential loop (natural row order), which gives
the same result. On 2 cores the sequential loop is as fast as the
level-parallel one even for very wide levels (see :data:`LEVEL_PAR_MIN`).
Row sums accumulate in float64.

Examples
--------
>>> import numpy as np, scipy.sparse as sp
>>> from itersolve.kernels.triangular import level_schedule, lower_solve
>>> L = sp.csr_matrix(np.array([[2., 0, 0], [1, 1, 0], [0, 1, 4]]))
>>> lp, lr = level_schedule(L.indptr, L.indices, True); lp
array([0, 1, 2, 3])
>>> x = np.empty(3)
>>> lower_solve(L.indptr, L.indices, L.data, lp, lr, np.array([2., 2, 5]), x, False); x
array([1., 1., 1.])
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange, uint64

__all__ = ["level_schedule", "lower_solve", "upper_solve", "tri_solve", "LEVEL_PAR_MIN"]

#: Average rows per level below which the solves run sequentially. Measured on
#: the 2-core machines: even with two levels of 125 000 rows each (a red-black
#: ordered 2-D Poisson IC(0) factor) the level-parallel solve only matched the
#: sequential loop (1.32 vs 1.27 ms), and natural-order PDE factors have
#: hundreds of narrow levels (2.5 ms sequential vs 15 ms level-parallel on
#: 2-D Poisson 500^2). So on such machines the parallel path is for very wide
#: levels only; more cores lower the break-even point.
LEVEL_PAR_MIN = 65536
#: Inside a level-parallel solve, levels narrower than this run on one thread.
_LEVEL_ROWS_PAR = 1024


@njit(cache=True)
def level_schedule(indptr, indices, lower):
    """Levels of the lower (``lower=True``) or upper triangle's dependency graph.

    Returns ``(level_ptr, level_rows)`` (int64): the rows of level ``l`` are
    ``level_rows[level_ptr[l]:level_ptr[l+1]]``, ascending.
    """
    n = indptr.shape[0] - 1
    level = np.zeros(n, np.int64)
    nlev = 0
    if lower:
        for i in range(n):
            lv = 0
            for k in range(indptr[i], indptr[i + 1]):
                j = indices[k]
                if j < i and level[j] + 1 > lv:
                    lv = level[j] + 1
            level[i] = lv
            if lv + 1 > nlev:
                nlev = lv + 1
    else:
        for i in range(n - 1, -1, -1):
            lv = 0
            for k in range(indptr[i], indptr[i + 1]):
                j = indices[k]
                if j > i and level[j] + 1 > lv:
                    lv = level[j] + 1
            level[i] = lv
            if lv + 1 > nlev:
                nlev = lv + 1
    ptr = np.zeros(nlev + 1, np.int64)
    for i in range(n):
        ptr[level[i] + 1] += 1
    for lv in range(nlev):
        ptr[lv + 1] += ptr[lv]
    fill = ptr[:-1].copy()
    rows = np.empty(n, np.int64)
    for i in range(n):
        lv = level[i]
        rows[fill[lv]] = i
        fill[lv] += 1
    return ptr, rows


@njit(cache=True, inline="always")
def _solve_row(indptr, indices, data, b, x, lower, unit_diagonal, i):
    s = 0.0
    d = 1.0
    for k in range(uint64(indptr[i]), uint64(indptr[i + 1])):
        j = indices[k]
        if j == i:
            if not unit_diagonal:
                d = data[k]
        elif (j < i) == lower:
            s += data[k] * x[uint64(j)]
    x[i] = (b[i] - s) / d


@njit(cache=True, parallel=True)
def tri_solve(indptr, indices, data, level_ptr, level_rows, b, x, lower, unit_diagonal):
    """The shared kernel of :func:`lower_solve` (``lower=True``) and :func:`upper_solve`."""
    n = b.shape[0]
    nlev = level_ptr.shape[0] - 1
    if nlev == 0 or n < LEVEL_PAR_MIN * nlev:
        for t in range(n):
            i = t if lower else n - 1 - t
            _solve_row(indptr, indices, data, b, x, lower, unit_diagonal, i)
        return
    for lv in range(nlev):
        lo = level_ptr[lv]
        hi = level_ptr[lv + 1]
        if hi - lo < _LEVEL_ROWS_PAR:
            for t in range(lo, hi):
                _solve_row(indptr, indices, data, b, x, lower, unit_diagonal, level_rows[t])
        else:
            for t in prange(lo, hi):
                _solve_row(indptr, indices, data, b, x, lower, unit_diagonal, level_rows[t])


@njit(cache=True)
def lower_solve(indptr, indices, data, level_ptr, level_rows, b, x, unit_diagonal):
    """Solve ``L x = b`` (``L`` = lower triangle of the CSR matrix)."""
    tri_solve(indptr, indices, data, level_ptr, level_rows, b, x, np.bool_(True), unit_diagonal)


@njit(cache=True)
def upper_solve(indptr, indices, data, level_ptr, level_rows, b, x, unit_diagonal):
    """Solve ``U x = b`` (``U`` = upper triangle of the CSR matrix)."""
    tri_solve(indptr, indices, data, level_ptr, level_rows, b, x, np.bool_(False), unit_diagonal)
