"""Zero-fill incomplete factorisations: IC(0) and ILU(0).

Both keep the sparsity pattern of their input and return new value arrays on
that pattern plus a status: ``-1`` when the factorisation went through, else
the index of the first row whose pivot failed (IC(0): pivot ``<= 0`` or NaN;
ILU(0): pivot ``== 0`` or not finite). The caller turns the status into an
error message; these kernels hold no policy (shifts, retries). Arithmetic is
in float64 and rounded once to the input dtype.

Examples
--------
>>> import numpy as np, scipy.sparse as sp
>>> from itersolve.kernels.factorize import ic0
>>> A = sp.csr_matrix(np.array([[4., 2], [2, 5]]))
>>> L = sp.tril(A, format="csr")
>>> ldata, status = ic0(L.indptr, L.indices, L.data)
>>> ldata, status
(array([2., 1., 2.]), -1)
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["ic0", "ilu0"]


@njit(cache=True)
def ic0(indptr, indices, data):
    """IC(0) of the lower triangle ``tril(A)`` (CSR, sorted, diagonal last in each row).

    Returns ``(ldata, status)`` with ``A ~= L L^T`` and ``L`` on the input
    pattern. Row-oriented (left-looking): for ``j < i`` in the pattern,
    ``L[i,j] = (A[i,j] - sum_{m<j} L[i,m] L[j,m]) / L[j,j]`` over the common
    pattern, then ``L[i,i] = sqrt(A[i,i] - sum_{m<i} L[i,m]^2)``.
    """
    n = indptr.shape[0] - 1
    w = np.zeros(n, np.float64)  # row i of L, scattered
    inrow = np.zeros(n, np.bool_)  # pattern of row i
    out = np.empty(data.shape[0], np.float64)
    for i in range(n):
        start = indptr[i]
        end = indptr[i + 1]
        if end == start or indices[end - 1] != i:
            return out.astype(data.dtype), i  # no diagonal: zero pivot
        for k in range(start, end):
            w[indices[k]] = data[k]
            inrow[indices[k]] = True
        for k in range(start, end - 1):
            j = indices[k]
            s = w[j]
            # row j of L: entries m < j then the diagonal at indptr[j+1]-1
            for q in range(indptr[j], indptr[j + 1] - 1):
                m = indices[q]
                if inrow[m]:
                    s -= out[q] * w[m]
            v = s / out[indptr[j + 1] - 1]
            w[j] = v
            out[k] = v
        s = w[i]
        for k in range(start, end - 1):
            s -= out[k] * out[k]
        for k in range(start, end):
            inrow[indices[k]] = False
        if not s > 0.0:  # also catches NaN
            return out.astype(data.dtype), i
        out[end - 1] = math.sqrt(s)
    return out.astype(data.dtype), -1


@njit(cache=True)
def ilu0(indptr, indices, data, diag_ptr):
    """ILU(0) on ``A``'s pattern (CSR, sorted; ``diag_ptr[i]`` = position of ``A[i,i]``).

    Returns ``(ludata, status)``: strictly-lower entries hold the unit-lower
    ``L`` (diagonal 1 not stored), the rest hold ``U``, so ``A ~= L U``.
    IKJ variant (Saad, Algorithm 10.4).
    """
    n = indptr.shape[0] - 1
    lu = np.empty(data.shape[0], np.float64)
    for k in range(data.shape[0]):
        lu[k] = data[k]
    pos = np.full(n, -1, np.int64)  # column -> position in the current row
    for i in range(n):
        start = indptr[i]
        end = indptr[i + 1]
        for k in range(start, end):
            pos[indices[k]] = k
        for k in range(start, end):
            c = indices[k]
            if c >= i:
                break
            piv = lu[diag_ptr[c]]
            f = lu[k] / piv
            lu[k] = f
            for q in range(diag_ptr[c] + 1, indptr[c + 1]):
                p = pos[indices[q]]
                if p >= 0:
                    lu[p] -= f * lu[q]
        for k in range(start, end):
            pos[indices[k]] = -1
        d = lu[diag_ptr[i]]
        if d == 0.0 or not math.isfinite(d):
            return lu.astype(data.dtype), i
    return lu.astype(data.dtype), -1
