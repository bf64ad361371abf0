"""Jacobi, Gauss–Seidel, SOR, SSOR and Chebyshev against slow references."""

from __future__ import annotations

import numpy as np
import pytest

import itersolve
from itersolve import Reason, pdes
from tests.conftest import tolerance_for


def reference_sor_iterates(A, b, omega, iterations, symmetric=False):
    """Textbook SOR in pure Python on a dense copy: the independent reference."""
    D = A.toarray()
    n = len(b)
    x = np.zeros(n)
    for _ in range(iterations):
        orders = [range(n), range(n - 1, -1, -1)] if symmetric else [range(n)]
        for order in orders:
            for i in order:
                sigma = D[i] @ x - D[i, i] * x[i]
                x[i] = (1 - omega) * x[i] + omega * (b[i] - sigma) / D[i, i]
    return x


@pytest.mark.parametrize("omega", [0.7, 1.0, 1.6])
@pytest.mark.parametrize("symmetric", [False, True])
def test_sor_and_ssor_iterates_match_reference(omega, symmetric):
    A = pdes.diffusion(pdes.random_field((6, 7), variance=1.0, length=0.3, seed=0))
    b = np.random.default_rng(1).standard_normal(A.shape[0])
    solver = itersolve.ssor if symmetric else itersolve.sor
    res = solver(A, b, omega=omega, maxiter=4, rtol=0.0)
    assert res.iterations == 4 and res.reason == Reason.DIVERGED_MAXITER
    np.testing.assert_allclose(res.x, reference_sor_iterates(A, b, omega, 4, symmetric), rtol=1e-12, atol=1e-12)


def test_jacobi_iterates_match_reference():
    A = pdes.poisson((5, 4))
    b = np.arange(20.0)
    D = A.diagonal()
    x = np.zeros(20)
    for _ in range(3):
        x = x + 0.8 * (b - A @ x) / D
    res = itersolve.jacobi(A, b, omega=0.8, maxiter=3, rtol=0.0)
    np.testing.assert_allclose(res.x, x, rtol=1e-13)


STATIONARY = {
    "jacobi": lambda A, b, **kw: itersolve.jacobi(A, b, omega=0.9, **kw),
    "gauss_seidel": itersolve.gauss_seidel,
    "sor": lambda A, b, **kw: itersolve.sor(A, b, omega=1.5, **kw),
    "ssor": lambda A, b, **kw: itersolve.ssor(A, b, omega=1.3, **kw),
    "sor-multicolor": lambda A, b, **kw: itersolve.sor(A, b, omega=1.5, ordering="multicolor", **kw),
    "ssor-multicolor": lambda A, b, **kw: itersolve.ssor(A, b, omega=1.3, ordering="multicolor", **kw),
    "chebyshev": itersolve.chebyshev,
}


@pytest.mark.parametrize("method", sorted(STATIONARY))
def test_stationary_solvers_converge_to_dense_solution(method, dtype):
    A = pdes.poisson((9, 8)).astype(dtype)
    b = np.random.default_rng(3).standard_normal(A.shape[0]).astype(dtype)
    rtol = tolerance_for(dtype)
    res = STATIONARY[method](A, b, rtol=rtol, maxiter=20000)
    assert res.converged, res
    assert res.x.dtype == dtype
    exact = np.linalg.solve(A.toarray().astype(float), b.astype(float))
    assert np.linalg.norm(res.x - exact) <= 100 * rtol * np.linalg.norm(exact)
    # residual history is the true one for stationary methods and decreases overall
    assert res.residuals[-1] < res.residuals[0]
    assert len(res.residuals) == res.iterations + 1


@pytest.mark.parametrize("family", ["poisson3d", "anisotropic", "fem"])
def test_ssor_and_chebyshev_on_other_families(family):
    A = {
        "poisson3d": lambda: pdes.poisson((5, 5, 5)),
        "anisotropic": lambda: pdes.anisotropic((10, 10), epsilon=0.1, theta=0.3),
        "fem": lambda: pdes.fem_example("knot"),
    }[family]()
    b = np.random.default_rng(0).standard_normal(A.shape[0])
    exact = np.linalg.solve(A.toarray(), b)
    for res in (itersolve.ssor(A, b, omega=1.2, rtol=1e-8, maxiter=50000),
                itersolve.chebyshev(A, b, M=itersolve.preconditioners.Jacobi(A), rtol=1e-8, maxiter=50000)):
        assert res.converged, res
        assert np.linalg.norm(res.x - exact) <= 1e-8 * np.linalg.cond(A.toarray()) * np.linalg.norm(exact)


def test_multicolor_sor_uses_two_colours_on_a_5_point_stencil():
    res = itersolve.sor(pdes.poisson((8, 8)), np.ones(64), omega=1.2, ordering="multicolor", rtol=1e-6)
    assert res.details["colors"] == 2 and res.converged


def test_jacobi_diverges_on_non_dominant_matrix():
    A = np.array([[1.0, 3.0], [3.0, 1.0]])
    res = itersolve.jacobi(A, [1.0, 1.0], maxiter=500)
    assert res.reason == Reason.DIVERGED_DTOL and not res.converged and res.info < 0


def test_chebyshev_with_too_small_lmax_diverges_visibly():
    A = pdes.poisson((10, 10))
    res = itersolve.chebyshev(A, np.ones(100), lmin=0.1, lmax=4.0, maxiter=2000)
    assert not res.converged
    assert res.reason in (Reason.DIVERGED_DTOL, Reason.DIVERGED_NANORINF)


@pytest.mark.parametrize("omega", [0.0, 2.0, -1.0, float("nan")])
def test_sor_rejects_omega_outside_range(omega):
    with pytest.raises(ValueError, match="omega"):
        itersolve.sor(pdes.poisson((3, 3)), np.ones(9), omega=omega)


def test_zero_diagonal_rejected():
    with pytest.raises(ValueError, match="zero on its diagonal"):
        itersolve.gauss_seidel(np.array([[0.0, 1.0], [1.0, 2.0]]), [1.0, 1.0])
