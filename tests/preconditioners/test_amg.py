"""AMG wrapper: one pyamg cycle per apply."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse.linalg import cg

from itersolve.preconditioners import AMG
from tests.kernels._ref import DTYPES, poisson2d


@pytest.mark.parametrize("kind", ["sa", "rs"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_amg_in_cg(kind, dtype):
    A = poisson2d(40, dtype)
    P = AMG(A, kind=kind)
    assert P.symmetric and P.levels > 1 and P.setup_time > 0 and P.operator_complexity >= 1
    assert P.dtype == np.dtype(dtype)
    b = np.ones(A.shape[0], dtype)
    z = P.apply(b)
    assert z.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(P @ b, z)
    its = []
    rtol = 1e-5 if dtype == "float32" else 1e-10
    x, info = cg(A, b, M=P, rtol=rtol, callback=lambda _: its.append(1))
    assert info == 0 and len(its) < 25


def test_amg_cycle_is_symmetric_and_matches_pyamg():
    A = poisson2d(12)
    n = A.shape[0]
    P = AMG(A, max_coarse=10)
    M = np.column_stack([P @ e for e in np.eye(n)])
    np.testing.assert_allclose(M, M.T, atol=1e-10)
    assert np.all(np.linalg.eigvalsh((M + M.T) / 2) > 0)
    r = np.random.default_rng(0).standard_normal(n)
    ref = P.ml.aspreconditioner(cycle="V") @ r
    np.testing.assert_allclose(P @ r, ref, rtol=1e-10, atol=1e-12)


def test_amg_options_and_errors():
    A = poisson2d(10)
    with pytest.raises(ValueError, match="kind"):
        AMG(A, kind="gmg")
    with pytest.raises(ValueError, match="cycle"):
        AMG(A, cycle="X")
    P = AMG(A, presmoother=("jacobi", {"omega": 0.6}), postsmoother=("jacobi", {"omega": 0.6}))
    assert not P.symmetric  # user smoothers: not claimed symmetric unless told
    assert AMG(A, presmoother="jacobi", postsmoother="jacobi", symmetric=True).symmetric
    P = AMG(A, cycle="W", max_coarse=5)
    r = np.ones(A.shape[0])
    assert np.linalg.norm(r - A @ P.apply(r)) < np.linalg.norm(r)
    one = AMG(poisson2d(3), max_coarse=100)  # a single level: coarse solve
    assert one.levels == 1
    np.testing.assert_allclose(poisson2d(3) @ one.apply(np.ones(9)), np.ones(9), atol=1e-10)
