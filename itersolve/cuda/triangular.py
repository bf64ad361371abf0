"""Level-scheduled sparse triangular solves on the device (IC(0) / ILU(0) apply).

The level schedule is computed once on the host by
:func:`itersolve.kernels.triangular.level_schedule`: the rows of a level
depend only on rows of earlier levels and are solved in parallel. A row reads
the same entries as the CPU kernel (lower: ``j < i`` and the diagonal unless
``unit``; upper: ``j > i`` and the diagonal), with a float64 row sum.

Narrow levels are where level scheduling loses on a GPU: a launch per level
costs more than the level's work. So a run of consecutive levels each at most
:data:`~itersolve.cuda._config.TRI_BLOCK_LEVEL_MAX` rows wide is solved by one
single-block launch (``tri_block_k``) that walks the levels with a
``syncthreads`` between them; each wide level gets its own grid-wide launch
(``tri_level_k``). :func:`plan_segments` makes that split on the host.
"""

from __future__ import annotations

import numpy as np
from numba import cuda

__all__ = ["tri_level_k", "tri_block_k", "plan_segments"]


@cuda.jit(device=True)
def _solve_row(indptr, indices, data, b, x, lower, unit, i):
    s = 0.0
    d = 1.0
    for k in range(indptr[i], indptr[i + 1]):
        j = indices[k]
        if j == i:
            if not unit:
                d = data[k]
        elif (j < i) == lower:
            s += data[k] * x[j]
    x[i] = (b[i] - s) / d


@cuda.jit(cache=True)
def tri_level_k(indptr, indices, data, rows, lo, hi, b, x, lower, unit):
    """Solve the rows ``rows[lo:hi]`` of one level (grid-stride)."""
    for t in range(lo + cuda.grid(1), hi, cuda.gridsize(1)):
        _solve_row(indptr, indices, data, b, x, lower, unit, rows[t])


@cuda.jit(cache=True)
def tri_block_k(indptr, indices, data, level_ptr, rows, lv_lo, lv_hi, b, x, lower, unit):
    """Solve levels ``lv_lo .. lv_hi-1`` in one block, a barrier between levels."""
    for lv in range(lv_lo, lv_hi):
        for t in range(level_ptr[lv] + cuda.threadIdx.x, level_ptr[lv + 1], cuda.blockDim.x):
            _solve_row(indptr, indices, data, b, x, lower, unit, rows[t])
        cuda.syncthreads()


def plan_segments(level_ptr: np.ndarray, block_max: int) -> list[tuple[bool, int, int]]:
    """Split levels into launches: ``(True, lv_lo, lv_hi)`` for a single-block run of narrow
    levels, ``(False, lo, hi)`` for one wide level's row range.

    Examples
    --------
    >>> plan_segments(np.array([0, 1, 3, 103, 104]), block_max=10)
    [(True, 0, 2), (False, 3, 103), (True, 3, 4)]
    """
    widths = np.diff(np.asarray(level_ptr, dtype=np.int64))
    segments: list[tuple[bool, int, int]] = []
    start = None
    for lv, w in enumerate(widths):
        if w <= block_max:
            if start is None:
                start = lv
            continue
        if start is not None:
            segments.append((True, start, lv))
            start = None
        segments.append((False, int(level_ptr[lv]), int(level_ptr[lv + 1])))
    if start is not None:
        segments.append((True, start, len(widths)))
    return segments
