"""IC(0) and ILU(0) kernels against slow dense references written in _ref.py."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from itersolve.kernels.factorize import ic0, ilu0
from itersolve.sparse import as_csr

from ._ref import diag_dominant, ic0_dense, ilu0_dense, poisson2d, rtol_for

COMBOS = [("float64", np.int32), ("float32", np.int64)]


@pytest.mark.parametrize("dtype,itype", COMBOS)
@pytest.mark.parametrize("kind", ["poisson", "random-spd"])
def test_ic0_matches_dense_reference(kind, dtype, itype):
    A = poisson2d(6, dtype, itype) if kind == "poisson" else diag_dominant(50, 0.1, 7, dtype, itype, symmetric=True)
    L0 = as_csr(sp.tril(A), dtype=dtype, index_dtype=itype)
    ldata, status = ic0(L0.indptr, L0.indices, L0.data)
    assert status == -1
    assert ldata.dtype == np.dtype(dtype)
    L = sp.csr_matrix((ldata, L0.indices, L0.indptr), shape=A.shape).toarray()
    ref = ic0_dense(A)
    np.testing.assert_allclose(L, ref, rtol=100 * rtol_for(dtype), atol=100 * rtol_for(dtype))
    # on the pattern, L L^T reproduces A (the IC(0) property)
    LLt = ref @ ref.T
    mask = A.toarray() != 0
    np.testing.assert_allclose(LLt[mask], A.toarray()[mask], rtol=1e-4, atol=1e-4)


def test_ic0_is_exact_cholesky_without_fill():
    A = sp.diags([-1.0, 4.0, -1.0], [-1, 0, 1], shape=(30, 30), format="csr")
    L0 = sp.tril(A, format="csr")
    ldata, status = ic0(L0.indptr, L0.indices, L0.data)
    L = sp.csr_matrix((ldata, L0.indices, L0.indptr), shape=A.shape).toarray()
    np.testing.assert_allclose(L, np.linalg.cholesky(A.toarray()), rtol=1e-13)


def test_ic0_breakdown_status():
    A = sp.csr_matrix(np.array([[1.0, 0, 2.0], [0, 1.0, 0], [2.0, 0, 1.0]]))  # indefinite
    L0 = sp.tril(A, format="csr")
    _, status = ic0(L0.indptr, L0.indices, L0.data)
    assert status == 2
    B = sp.csr_matrix(np.array([[-1.0, 0], [0, 1.0]]))
    L0 = sp.tril(B, format="csr")
    assert ic0(L0.indptr, L0.indices, L0.data)[1] == 0


@pytest.mark.parametrize("dtype,itype", COMBOS)
@pytest.mark.parametrize("kind", ["poisson", "random"])
def test_ilu0_matches_dense_reference(kind, dtype, itype):
    A = poisson2d(6, dtype, itype) if kind == "poisson" else diag_dominant(50, 0.1, 8, dtype, itype)
    diag_ptr = np.array([A.indptr[i] + np.flatnonzero(A.indices[A.indptr[i] : A.indptr[i + 1]] == i)[0] for i in range(A.shape[0])])
    ludata, status = ilu0(A.indptr, A.indices, A.data, diag_ptr)
    assert status == -1
    LU = sp.csr_matrix((ludata, A.indices, A.indptr), shape=A.shape).toarray()
    np.testing.assert_allclose(LU, ilu0_dense(A), rtol=100 * rtol_for(dtype), atol=100 * rtol_for(dtype))


def test_ilu0_zero_pivot_status():
    A = sp.csr_matrix(np.array([[1.0, 1.0, 0], [1.0, 1.0, 1.0], [0, 1.0, 2.0]]))
    diag_ptr = np.array([0, 3, 6])
    _, status = ilu0(A.indptr, A.indices, A.data, diag_ptr)
    assert status == 1
