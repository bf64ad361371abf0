"""Dense Cholesky factorisation and triangular solves for matrices of ~100 rows.

LAPACK is the right tool for these sizes on an idle machine, but a
multithreaded BLAS (OpenBLAS by default) splits even a 120 × 120
factorisation over threads, and on a busy two-core machine the threads
wait on one another: a 5 ms refit of the contextual GP took 250 ms. These
column-oriented versions only issue matrix-vector products (which BLAS runs
on one thread at these sizes) and elementwise numpy, so their cost does not
depend on the load. Below ``SMALL`` rows numpy's LAPACK is used directly.

Examples
--------
>>> import numpy as np
>>> from itersolve.bandits.smalllinalg import cholesky, forward_solve
>>> A = np.array([[4.0, 2.0], [2.0, 3.0]])
>>> C = cholesky(A, block=1)
>>> np.allclose(C @ C.T, A), np.allclose(C @ forward_solve(C, [1.0, 2.0], block=1), [1.0, 2.0])
(True, True)
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["cholesky", "forward_solve", "gram"]

#: below this order numpy/LAPACK is called directly
SMALL = 64


def cholesky(A: np.ndarray, *, block: int = SMALL) -> np.ndarray:
    """Lower Cholesky factor of a symmetric positive definite matrix.

    Left-looking column algorithm for ``n > block``; raises
    ``numpy.linalg.LinAlgError`` if ``A`` is not positive definite.
    """
    A = np.asarray(A, dtype=float)
    n = A.shape[0]
    if n <= block:
        return np.linalg.cholesky(A)
    L = np.zeros_like(A)
    for j in range(n):
        col = A[j:, j] - L[j:, :j] @ L[j, :j]
        d = col[0]
        if not d > 0:
            raise np.linalg.LinAlgError("matrix is not positive definite")
        L[j:, j] = col / np.sqrt(d)
    return L


def forward_solve(L: np.ndarray, B: Any, *, block: int = SMALL) -> np.ndarray:
    """Solve ``L X = B`` for lower-triangular ``L`` (``B`` a vector or a matrix)."""
    L = np.asarray(L, dtype=float)
    B = np.asarray(B, dtype=float)
    n = L.shape[0]
    if n <= block:
        return np.linalg.solve(L, B)
    X = np.empty_like(B)
    for i in range(n):
        X[i] = (B[i] - L[i, :i] @ X[:i]) / L[i, i]
    return X


def gram(Z: np.ndarray, *, block: int = SMALL // 2) -> np.ndarray:
    """``Zᵀ Z`` computed in column blocks small enough for single-threaded BLAS."""
    Z = np.asarray(Z, dtype=float)
    n = Z.shape[1]
    if n <= 2 * block:
        return Z.T @ Z
    out = np.empty((n, n))
    for i in range(0, n, block):
        for j in range(i, n, block):
            blk = Z[:, i : i + block].T @ Z[:, j : j + block]
            out[i : i + block, j : j + block] = blk
            out[j : j + block, i : i + block] = blk.T
    return out
