"""CG / PCG against dense references and scipy, across families and dtypes."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

import itersolve
from itersolve import Reason, pdes, preconditioners as pc
from tests.conftest import tolerance_for


def test_cg_matches_dense_solve(spd_system, dtype):
    name, A, b, _ = spd_system
    A = A.astype(dtype)
    b = b.astype(dtype)
    rtol = tolerance_for(dtype)
    res = itersolve.cg(A, b, rtol=rtol, maxiter=20 * A.shape[0])
    assert res.converged, (name, res)
    assert res.x.dtype == dtype
    exact = np.linalg.solve(A.toarray().astype(np.float64), b.astype(np.float64))
    true_res = np.linalg.norm(b.astype(np.float64) - A.astype(np.float64) @ res.x.astype(np.float64))
    # the float32 residual recomputed in float64 may differ from the float32 one by rounding
    slack = 1.0 if dtype == np.float64 else 3.0
    assert true_res <= slack * rtol * np.linalg.norm(b) + 1e-30
    cond = np.linalg.cond(A.toarray().astype(np.float64))
    assert np.linalg.norm(res.x - exact) <= slack * cond * rtol * np.linalg.norm(exact) + 1e-12


def test_cg_iterations_match_scipy():
    A = pdes.poisson((30, 30))
    b = np.random.default_rng(0).standard_normal(A.shape[0])
    count = [0]
    x, info = spla.cg(A, b, rtol=1e-8, atol=0.0, callback=lambda _x: count.__setitem__(0, count[0] + 1))
    res = itersolve.cg(A, b, rtol=1e-8)
    assert info == 0 and res.converged
    assert abs(res.iterations - count[0]) <= max(1, 0.02 * count[0])
    np.testing.assert_allclose(res.x, x, rtol=0, atol=1e-6 * np.abs(x).max())


@pytest.mark.parametrize("make", [pc.Jacobi, pc.IC0, pc.SSOR, pc.AMG, pc.Chebyshev, pc.ILU0])
def test_pcg_converges_faster_with_preconditioner(make, dtype):
    A = pdes.diffusion(pdes.random_field((24, 24), variance=0.5, length=0.2, seed=1)).astype(dtype)
    b = np.random.default_rng(2).standard_normal(A.shape[0]).astype(dtype)
    rtol = tolerance_for(dtype)
    plain = itersolve.cg(A, b, rtol=rtol)
    res = itersolve.cg(A, b, rtol=rtol, M=make(A))
    assert res.converged and res.x.dtype == dtype
    assert res.iterations <= plain.iterations
    assert np.linalg.norm(b - A @ res.x) <= 1.5 * rtol * np.linalg.norm(b)


def test_pcg_with_scipy_operator_as_M_matches_own_preconditioner():
    A = pdes.poisson((15, 15))
    b = np.ones(A.shape[0])
    P = pc.IC0(A)
    as_operator = spla.LinearOperator(A.shape, matvec=P.apply, dtype=A.dtype)
    r1 = itersolve.cg(A, b, rtol=1e-10, M=P)
    r2 = itersolve.cg(A, b, rtol=1e-10, M=as_operator)
    assert r1.iterations == r2.iterations
    np.testing.assert_allclose(r1.x, r2.x, rtol=1e-12)


def test_matrix_free_linear_operator():
    A = pdes.poisson((10, 10))
    op = spla.aslinearoperator(A)
    res = itersolve.cg(op, np.ones(100), rtol=1e-10)
    assert res.converged
    np.testing.assert_allclose(A @ res.x, np.ones(100), atol=1e-8)


def test_indefinite_matrix_reported():
    A = sp.diags([1.0, 2.0, -3.0, 4.0]).tocsr()
    res = itersolve.cg(A, np.ones(4), rtol=1e-10)
    assert not res.converged
    assert res.reason in (Reason.DIVERGED_INDEFINITE_MAT, Reason.DIVERGED_BREAKDOWN)
    assert res.info < 0


def test_indefinite_preconditioner_reported():
    A = pdes.poisson((5, 5))
    M = -sp.eye(25, format="csr")
    res = itersolve.cg(A, np.ones(25), M=M)
    assert res.reason == Reason.DIVERGED_INDEFINITE_PC and not res.converged


def test_singular_preconditioner_reported():
    A = pdes.poisson((5, 5))
    M = sp.csr_matrix((25, 25))
    res = itersolve.cg(A, np.ones(25), M=M)
    assert res.reason == Reason.DIVERGED_BREAKDOWN and not res.converged


def test_nan_from_preconditioner_reported():
    A = pdes.poisson((5, 5))
    res = itersolve.cg(A, np.ones(25), M=lambda r: np.full_like(r, np.nan))
    assert res.reason == Reason.DIVERGED_NANORINF and not res.converged


def test_float32_cannot_reach_1e_12_and_says_so():
    A = pdes.poisson((40, 40)).astype(np.float32)
    b = np.random.default_rng(0).standard_normal(1600).astype(np.float32)
    res = itersolve.cg(A, b, rtol=1e-12, maxiter=5000)
    assert not res.converged
    assert res.reason in (Reason.DIVERGED_STAGNATION, Reason.DIVERGED_MAXITER)
    assert res.residual_norm > res.target


@pytest.mark.parametrize("family", ["poisson2d", "diffusion2d", "anisotropic2d"])
def test_ic0_pcg_iterations_equal_reference_ic0(family):
    """PCG with our IC(0) takes exactly as many iterations as with a slow dense reference IC(0)."""
    from scipy.sparse.linalg import spsolve_triangular

    from tests.kernels._ref import ic0_dense

    A = {
        "poisson2d": lambda: pdes.poisson((20, 20)),
        "diffusion2d": lambda: pdes.diffusion(pdes.random_field((20, 20), variance=1.0, length=0.2, seed=4)),
        "anisotropic2d": lambda: pdes.anisotropic((20, 20), epsilon=0.05, theta=0.4),
    }[family]()
    L = sp.csr_matrix(ic0_dense(A))

    def reference_apply(r):
        y = spsolve_triangular(L, r, lower=True)
        return spsolve_triangular(L.T.tocsr(), y, lower=False)

    b = np.random.default_rng(5).standard_normal(A.shape[0])
    ours = itersolve.cg(A, b, rtol=1e-10, M=pc.IC0(A))
    reference = itersolve.cg(A, b, rtol=1e-10, M=reference_apply)
    assert ours.converged and reference.converged
    assert ours.iterations == reference.iterations
    np.testing.assert_allclose(ours.x, reference.x, rtol=1e-8, atol=1e-10)
