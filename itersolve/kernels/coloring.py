"""Graph colouring of the matrix graph, for multicolour (parallel) sweeps.

The graph is the symmetrised pattern: rows ``i != j`` are neighbours when
``A[i, j]`` or ``A[j, i]`` is stored, so a colouring is valid for a
multicolour sweep of a nonsymmetric matrix too.

Examples
--------
>>> import numpy as np, scipy.sparse as sp
>>> from itersolve.kernels.coloring import greedy_coloring, color_partition
>>> T = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(5, 5), format="csr")
>>> colors = greedy_coloring(T.indptr, T.indices); colors
array([0, 1, 0, 1, 0], dtype=int32)
>>> color_partition(colors)
(array([0, 3, 5]), array([0, 2, 4, 1, 3]))
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["greedy_coloring", "color_partition"]


@njit(cache=True)
def _transpose_pattern(indptr, indices, n):
    tptr = np.zeros(n + 1, np.int64)
    nnz = indptr[n]
    for k in range(nnz):
        tptr[indices[k] + 1] += 1
    for i in range(n):
        tptr[i + 1] += tptr[i]
    fill = tptr[:-1].copy()
    tind = np.empty(nnz, np.int64)
    for i in range(n):
        for k in range(indptr[i], indptr[i + 1]):
            j = indices[k]
            tind[fill[j]] = i
            fill[j] += 1
    return tptr, tind


@njit(cache=True)
def greedy_coloring(indptr, indices):
    """Natural-order greedy colouring; ``colors`` is int32 of length n.

    Row ``i`` gets the smallest colour not used by an already coloured
    neighbour. A 5-point (2-D) or 7-point (3-D) stencil in natural order gets
    the two red-black colours.
    """
    n = indptr.shape[0] - 1
    tptr, tind = _transpose_pattern(indptr, indices, n)
    colors = np.full(n, -1, np.int32)
    # mark[c] == i  <=>  colour c is taken by a neighbour of row i
    mark = np.full(n + 1, -1, np.int64)
    for i in range(n):
        for k in range(indptr[i], indptr[i + 1]):
            c = colors[indices[k]]
            if c >= 0:
                mark[c] = i
        for k in range(tptr[i], tptr[i + 1]):
            c = colors[tind[k]]
            if c >= 0:
                mark[c] = i
        c = 0
        while mark[c] == i:
            c += 1
        colors[i] = c
    return colors


@njit(cache=True)
def color_partition(colors):
    """Rows grouped by colour: ``color_rows[color_ptr[c]:color_ptr[c+1]]`` (ascending).

    Both arrays are int64.
    """
    n = colors.shape[0]
    ncol = 0
    for i in range(n):
        if colors[i] + 1 > ncol:
            ncol = colors[i] + 1
    ptr = np.zeros(ncol + 1, np.int64)
    for i in range(n):
        ptr[colors[i] + 1] += 1
    for c in range(ncol):
        ptr[c + 1] += ptr[c]
    fill = ptr[:-1].copy()
    rows = np.empty(n, np.int64)
    for i in range(n):
        c = colors[i]
        rows[fill[c]] = i
        fill[c] += 1
    return ptr, rows
