"""Level schedules and triangular solves against scipy.sparse.linalg.spsolve_triangular."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.linalg import spsolve_triangular

from itersolve.kernels import triangular
from itersolve.sparse import as_csr

from ._ref import DTYPES, ITYPES, diag_dominant, rtol_for


def _check_levels(T, ptr, rows, lower):
    n = T.shape[0]
    assert sorted(rows) == list(range(n)) and ptr[0] == 0 and ptr[-1] == n
    level = np.empty(n, int)
    for lv in range(len(ptr) - 1):
        level[rows[ptr[lv] : ptr[lv + 1]]] = lv
    C = T.tocoo()
    dep = C.col < C.row if lower else C.col > C.row
    assert np.all(level[C.col[dep]] < level[C.row[dep]])


@pytest.mark.parametrize("unit", [False, True])
@pytest.mark.parametrize("itype", ITYPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_solves_vs_scipy(dtype, itype, unit):
    A = diag_dominant(90, 0.08, 4, "float64")
    rng = np.random.default_rng(0)
    b = rng.standard_normal(90)
    for lower in (True, False):
        T = sp.tril(A) if lower else sp.triu(A)
        if unit:
            T = T - sp.diags(T.diagonal()) + sp.eye(90)
        T = as_csr(T, dtype=dtype, index_dtype=itype)
        ref = spsolve_triangular(T.astype(np.float64).tocsr(), b, lower=lower, unit_diagonal=unit)
        # the kernel reads only its triangle: pass the full matrix (a packed LU)
        M = as_csr(A - sp.diags(A.diagonal()) + sp.diags(T.diagonal()), dtype=dtype, index_dtype=itype)
        for mat in (T, M):
            ptr, rows = triangular.level_schedule(mat.indptr, mat.indices, lower)
            _check_levels(mat, ptr, rows, lower)
            x = np.full(90, np.nan, dtype)
            solve = triangular.lower_solve if lower else triangular.upper_solve
            solve(mat.indptr, mat.indices, mat.data, ptr, rows, b.astype(dtype), x, unit)
            np.testing.assert_allclose(x, ref, rtol=1000 * rtol_for(dtype), atol=1000 * rtol_for(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_level_parallel_path(dtype):
    # two wide levels: rows of the second half depend only on the first half
    n = 2 * triangular.LEVEL_PAR_MIN
    h = n // 2
    rng = np.random.default_rng(1)
    C = sp.random(h, h, density=4.0 / h, random_state=rng, format="csr")
    L = sp.bmat([[sp.eye(h) * 2, None], [C, sp.eye(h) * 3]], format="csr")
    L = as_csr(L, dtype=dtype)
    ptr, rows = triangular.level_schedule(L.indptr, L.indices, True)
    assert len(ptr) == 3 and n >= triangular.LEVEL_PAR_MIN * 2
    b = rng.standard_normal(n)
    x = np.empty(n, dtype)
    triangular.lower_solve(L.indptr, L.indices, L.data, ptr, rows, b.astype(dtype), x, False)
    ref = spsolve_triangular(L.astype(np.float64), b, lower=True)
    np.testing.assert_allclose(x, ref, rtol=100 * rtol_for(dtype), atol=100 * rtol_for(dtype))
    U = as_csr(L.T, dtype=dtype)
    ptr, rows = triangular.level_schedule(U.indptr, U.indices, False)
    assert len(ptr) == 3
    triangular.upper_solve(U.indptr, U.indices, U.data, ptr, rows, b.astype(dtype), x, False)
    ref = spsolve_triangular(U.astype(np.float64).tocsr(), b, lower=False)
    np.testing.assert_allclose(x, ref, rtol=100 * rtol_for(dtype), atol=100 * rtol_for(dtype))


def test_diagonal_matrix_is_one_level():
    D = sp.csr_matrix(np.diag([1.0, 2.0, 4.0]))
    ptr, rows = triangular.level_schedule(D.indptr, D.indices, True)
    np.testing.assert_array_equal(ptr, [0, 3])
    x = np.empty(3)
    triangular.upper_solve(D.indptr, D.indices, D.data, ptr, rows, np.ones(3), x, False)
    np.testing.assert_allclose(x, [1.0, 0.5, 0.25])
