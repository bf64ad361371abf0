"""SpMV kernels and SparseOperator against scipy's ``A @ x``."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from itersolve.kernels import SparseOperator, spmv
from itersolve.sparse import as_csr

from ._ref import DTYPES, ITYPES, poisson2d, random_sparse, rtol_for


def _check(y, A, x, dtype):
    ref = A.astype(np.float64) @ x.astype(np.float64)
    scale = max(1.0, float(np.max(np.abs(ref))) if ref.size else 1.0)
    np.testing.assert_allclose(y.astype(np.float64), ref, rtol=0, atol=50 * rtol_for(dtype) * scale)


MATRICES = {
    "random-empty-rows": lambda dt, it: random_sparse(200, 0.05, 1, dt, it, empty_rows=30),
    "single-row": lambda dt, it: as_csr(np.array([[3.0]]), dtype=dt, index_dtype=it),
    "all-zero": lambda dt, it: as_csr(sp.csr_matrix((5, 5)), dtype=dt, index_dtype=it),
    "poisson-threaded": lambda dt, it: poisson2d(130, dt, it),  # nnz > PAR_MIN_NNZ
    "random-threaded": lambda dt, it: random_sparse(30000, 3e-4, 2, dt, it, empty_rows=500),
    "rectangular": lambda dt, it: random_sparse(120, 0.1, 3, dt, it, ncols=80),
    "one-row-1x50": lambda dt, it: random_sparse(1, 0.3, 4, dt, it, ncols=50),
}


@pytest.mark.parametrize("name", sorted(MATRICES))
@pytest.mark.parametrize("itype", ITYPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_csr_kernels(name, dtype, itype):
    A = MATRICES[name](dtype, itype)
    assert A.indices.dtype == itype and A.dtype == np.dtype(dtype)
    m, n = A.shape
    rng = np.random.default_rng(0)
    x = rng.standard_normal(n).astype(dtype)
    y = np.full(m, np.nan, dtype)
    spmv.csr_matvec(A.indptr, A.indices, A.data, x, y)
    _check(y, A, x, dtype)
    if m == n:
        b = rng.standard_normal(m).astype(dtype)
        r = np.empty(m, dtype)
        rr = spmv.csr_residual(A.indptr, A.indices, A.data, x, b, r)
        _check(b - r, A, x, dtype)
        assert rr == pytest.approx(float(r.astype(np.float64) @ r.astype(np.float64)), rel=1e-10)
        xy = spmv.csr_matvec_dot(A.indptr, A.indices, A.data, x, y)
        _check(y, A, x, dtype)
        assert xy == pytest.approx(float(x.astype(np.float64) @ y.astype(np.float64)), rel=1e-10, abs=1e-10)


@pytest.mark.parametrize("name", ["poisson-threaded", "single-row", "all-zero", "banded"])
@pytest.mark.parametrize("itype", ITYPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_dia_kernels_and_operator(name, dtype, itype):
    if name == "banded":
        rng = np.random.default_rng(5)
        n = 300
        offs = [-37, -2, 0, 1, 5, 120]
        A = as_csr(sp.diags([rng.uniform(-1, 1, n - abs(o)) for o in offs], offs), dtype=dtype, index_dtype=itype)
    else:
        A = MATRICES[name](dtype, itype)
    n = A.shape[0]
    op = SparseOperator(A, layout="dia")
    assert op.layout == "dia"
    np.testing.assert_array_equal(op.offsets, np.unique(A.tocoo().col - A.tocoo().row))
    # the DIA storage holds A exactly, and zeros outside the matrix
    R, C, V = [], [], []
    for k, o in enumerate(op.offsets):
        rows = np.arange(max(0, -o), min(n, n - o))
        R.append(rows), C.append(rows + o), V.append(op.ddata[k, rows])
        outside = np.setdiff1d(np.arange(n), rows)
        assert not np.any(op.ddata[k, outside])
    if R:
        B = sp.csr_matrix((np.concatenate(V), (np.concatenate(R), np.concatenate(C))), shape=A.shape)
        assert abs(B - A).max() == 0
    rng = np.random.default_rng(1)
    x = rng.standard_normal(n).astype(dtype)
    b = rng.standard_normal(n).astype(dtype)
    y = np.full(n, np.nan, dtype)
    assert op.matvec(x, y) is y
    _check(y, A, x, dtype)
    rr = op.residual(x, b, y)
    _check(b - y, A, x, dtype)
    assert rr == pytest.approx(float(y.astype(np.float64) @ y.astype(np.float64)), rel=1e-10)
    xy = op.matvec_dot(x, y)
    _check(y, A, x, dtype)
    assert xy == pytest.approx(float(x.astype(np.float64) @ y.astype(np.float64)), rel=1e-10, abs=1e-10)


def test_auto_layout_choice():
    assert SparseOperator(poisson2d(20)).layout == "dia"
    assert SparseOperator(poisson2d(20, "float32")).layout == "dia"
    assert SparseOperator(random_sparse(300, 0.05, 0)).layout == "csr"
    assert SparseOperator(poisson2d(20), layout="csr").layout == "csr"
    with pytest.raises(ValueError, match="layout"):
        SparseOperator(poisson2d(4), layout="ell")
    with pytest.raises(ValueError, match="too many distinct diagonals"):
        SparseOperator(random_sparse(300, 0.05, 0), layout="dia")


@pytest.mark.parametrize("layout", ["csr", "dia"])
def test_operator_attributes_update_and_matmul(layout):
    A = poisson2d(12)
    op = SparseOperator(A, layout=layout)
    assert op.shape == (144, 144) and op.n == 144 and op.nnz == A.nnz and op.dtype == np.float64
    assert op.csr is A
    d = op.diagonal()
    np.testing.assert_array_equal(d, A.diagonal())
    d[:] = 0  # a copy
    assert op.diagonal()[0] == 4.0
    x = np.arange(144.0)
    np.testing.assert_allclose(op @ x, A @ x)
    B = as_csr(A * 3.0)
    op.update(B)
    np.testing.assert_allclose(op.matvec(x), B @ x)
    with pytest.raises(ValueError, match="same shape and sparsity"):
        op.update(poisson2d(5))
    assert "SparseOperator" in repr(op)
    assert op.nbytes > 0


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(1, 40),
    density=st.floats(0.0, 0.5),
    seed=st.integers(0, 2**31 - 1),
    dtype=st.sampled_from(DTYPES),
    itype=st.sampled_from(ITYPES),
    layout=st.sampled_from(["auto", "csr"]),
)
def test_spmv_property_random_matrices(n, density, seed, dtype, itype, layout):
    A = random_sparse(n, density, seed, dtype, itype)
    x = np.random.default_rng(seed).standard_normal(n).astype(dtype)
    op = SparseOperator(A, layout=layout)
    _check(op.matvec(x, np.empty(n, dtype)), A, x, dtype)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(1, 60),
    offsets=st.sets(st.integers(-59, 59), min_size=1, max_size=6),
    seed=st.integers(0, 2**31 - 1),
    dtype=st.sampled_from(DTYPES),
)
def test_dia_property_banded(n, offsets, seed, dtype):
    rng = np.random.default_rng(seed)
    offs = [o for o in offsets if abs(o) < n] or [0]
    A = as_csr(sp.diags([rng.uniform(0.5, 1.5, n - abs(o)) for o in offs], offs, shape=(n, n)), dtype=dtype)
    x = rng.standard_normal(n).astype(dtype)
    op = SparseOperator(A, layout="dia")
    _check(op.matvec(x, np.empty(n, dtype)), A, x, dtype)
