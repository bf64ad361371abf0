"""Slow, obviously-correct references and random test matrices for the kernel tests."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from itersolve.sparse import as_csr

DTYPES = ["float32", "float64"]
ITYPES = [np.int32, np.int64]


def rtol_for(dtype) -> float:
    return 1e-5 if np.dtype(dtype) == np.float32 else 1e-12


def poisson2d(m: int, dtype="float64", itype=None) -> sp.csr_matrix:
    T = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(m, m), format="csr")
    eye = sp.eye(m, format="csr")
    return as_csr(sp.kron(T, eye) + sp.kron(eye, T), dtype=dtype, index_dtype=itype)


def poisson3d(m: int, dtype="float64", itype=None) -> sp.csr_matrix:
    T = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(m, m), format="csr")
    eye = sp.eye(m, format="csr")
    A = sp.kron(sp.kron(T, eye), eye) + sp.kron(sp.kron(eye, T), eye) + sp.kron(sp.kron(eye, eye), T)
    return as_csr(A, dtype=dtype, index_dtype=itype)


def random_sparse(
    n: int, density: float, seed: int, dtype="float64", itype=None, empty_rows: int = 0, ncols: int | None = None
) -> sp.csr_matrix:
    """Random CSR (values in [-1, 1)), with ``empty_rows`` rows emptied on purpose."""
    rng = np.random.default_rng(seed)
    ncols = n if ncols is None else ncols
    A = sp.random(n, ncols, density=density, random_state=rng, format="csr")
    A.data = rng.uniform(-1, 1, A.nnz)
    A.eliminate_zeros()
    if empty_rows:
        rows = rng.choice(n, size=min(empty_rows, n), replace=False)
        keep = np.ones(n)
        keep[rows] = 0
        A = (sp.diags(keep) @ A).tocsr()
        A.eliminate_zeros()
    return as_csr(A, dtype=dtype, index_dtype=itype, square=False)


def diag_dominant(n: int, density: float, seed: int, dtype="float64", itype=None, symmetric=False) -> sp.csr_matrix:
    """Random, strictly diagonally dominant matrix with a positive diagonal (no explicit zeros)."""
    rng = np.random.default_rng(seed)
    B = sp.random(n, n, density=density, random_state=rng, format="csr")
    B.data = rng.uniform(-1, 1, B.nnz)
    B.setdiag(0)
    B.eliminate_zeros()
    if symmetric:
        B = (B + B.T) * 0.5
    d = np.asarray(abs(B).sum(axis=1)).ravel() + rng.uniform(0.5, 1.5, n)
    A = (B + sp.diags(d)).tocsr()
    A.eliminate_zeros()
    return as_csr(A, dtype=dtype, index_dtype=itype)


def sor_ref(A, x, b, omega, order):
    """Textbook SOR over rows in ``order``: x_i = (1-w) x_i + w (b_i - sum_{j!=i} a_ij x_j) / a_ii."""
    A = sp.csr_matrix(A)
    x = np.array(x, dtype=np.float64)
    for i in order:
        s = 0.0
        aii = 0.0
        for k in range(A.indptr[i], A.indptr[i + 1]):
            j = A.indices[k]
            if j == i:
                aii = float(A.data[k])
            else:
                s += float(A.data[k]) * x[j]
        x[i] = (1 - omega) * x[i] + omega * (float(b[i]) - s) / aii
    return x


def ic0_dense(A) -> np.ndarray:
    """IC(0) by the definition: Cholesky with every entry outside tril(pattern(A)) kept zero."""
    Ad = A.toarray().astype(np.float64)
    pat = A.copy()
    pat.data[:] = 1
    P = np.tril(pat.toarray() != 0)
    n = Ad.shape[0]
    L = np.zeros_like(Ad)
    for i in range(n):
        for j in range(i):
            if P[i, j]:
                L[i, j] = (Ad[i, j] - L[i, :j] @ L[j, :j]) / L[j, j]
        L[i, i] = np.sqrt(Ad[i, i] - L[i, :i] @ L[i, :i])
    return L


def ilu0_dense(A) -> np.ndarray:
    """ILU(0), right-looking (KIJ) with fill outside pattern(A) dropped; returns packed L\\U."""
    LU = A.toarray().astype(np.float64)
    pat = A.copy()
    pat.data[:] = 1
    P = pat.toarray() != 0
    n = LU.shape[0]
    for k in range(n - 1):
        for i in range(k + 1, n):
            if P[i, k]:
                LU[i, k] /= LU[k, k]
                for j in range(k + 1, n):
                    if P[i, j]:
                        LU[i, j] -= LU[i, k] * LU[k, j]
    return LU
