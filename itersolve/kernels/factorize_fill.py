"""Symbolic level-of-fill factorisation: the sparsity pattern of ILU(k) / IC(k).

Level of fill (Saad, *Iterative Methods*, §10.3.3): entries of ``A`` have
level 0; eliminating with pivot ``k`` gives ``(i, j)`` the level
``min(lev(i,j), lev(i,k) + lev(k,j) + 1)``; ILU(k) keeps the entries of level
``<= k``. For a structurally symmetric pattern the result is symmetric and its
lower triangle is the pattern of IC(k); the numerical factorisation on that
pattern is then the zero-fill kernel :func:`itersolve.kernels.factorize.ic0`
run on it (it only ever reads the pattern it is given).

The kernel holds no policy: it returns the pattern and the levels.

Examples
--------
>>> import numpy as np, scipy.sparse as sp
>>> from itersolve.kernels.factorize_fill import iluk_pattern
>>> A = sp.csr_matrix(np.array([[4., 1, 1], [1, 4, 0], [1, 0, 4]]))
>>> indptr, indices, levels = iluk_pattern(A.indptr, A.indices, 1)
>>> indptr, indices, levels          # (1, 2) and (2, 1) are level-1 fill through pivot 0
(array([0, 3, 6, 9]), array([0, 1, 2, 0, 1, 2, 0, 1, 2]), array([0, 0, 0, 0, 0, 1, 0, 1, 0]))
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["iluk_pattern"]


@njit(cache=True)
def _grow(a, size):
    out = np.empty(max(2 * a.shape[0], size), a.dtype)
    out[: a.shape[0]] = a
    return out


@njit(cache=True)
def iluk_pattern(indptr, indices, level):
    """The pattern of ILU(``level``) of a CSR pattern (sorted, every diagonal entry stored).

    Returns ``(indptr, indices, levels)`` (int64, columns sorted in each row)
    of the kept entries, ``levels[q]`` the level of fill of entry ``q`` (0 for
    the entries of ``A``). Row by row (IKJ), the pivots of row ``i`` visited in
    increasing order through a sorted linked list, so fill created by one
    pivot is itself eliminated by the later ones.
    """
    n = indptr.shape[0] - 1
    big = level + 1
    lev = np.full(n, big, np.int64)  # level of (i, j) in the current row; big = absent
    nxt = np.full(n, -1, np.int64)  # sorted linked list of the row's columns
    out_ptr = np.zeros(n + 1, np.int64)
    out_idx = np.empty(indices.shape[0] + n, np.int64)
    out_lev = np.empty(indices.shape[0] + n, np.int64)
    upper = np.empty(n, np.int64)  # position of the first entry right of the diagonal, per row
    for i in range(n):
        head = -1
        tail = -1
        for q in range(indptr[i], indptr[i + 1]):
            j = indices[q]
            lev[j] = 0
            if tail < 0:
                head = j
            else:
                nxt[tail] = j
            tail = j
        k = head
        while k >= 0 and k < i:
            lk = lev[k]
            for q in range(upper[k], out_ptr[k + 1]):
                j = out_idx[q]
                new = lk + out_lev[q] + 1
                if new > level:
                    continue
                if lev[j] == big:  # new fill: insert after k, keeping the list sorted
                    p = k
                    while nxt[p] >= 0 and nxt[p] < j:
                        p = nxt[p]
                    nxt[j] = nxt[p]
                    nxt[p] = j
                    lev[j] = new
                elif new < lev[j]:
                    lev[j] = new
            k = nxt[k]
        pos = out_ptr[i]
        upper[i] = -1
        j = head
        while j >= 0:
            if pos >= out_idx.shape[0]:
                out_idx = _grow(out_idx, pos + 1)
                out_lev = _grow(out_lev, pos + 1)
            out_idx[pos] = j
            out_lev[pos] = lev[j]
            if j > i and upper[i] < 0:
                upper[i] = pos
            lev[j] = big
            step = nxt[j]
            nxt[j] = -1
            j = step
            pos += 1
        if upper[i] < 0:
            upper[i] = pos
        out_ptr[i + 1] = pos
    nnz = out_ptr[n]
    return out_ptr, out_idx[:nnz].copy(), out_lev[:nnz].copy()
