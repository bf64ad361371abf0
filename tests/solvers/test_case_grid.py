"""A case × solver grid in the spirit of scipy's iterative-solver tests."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import itersolve
from itersolve import Reason, pdes, preconditioners as pc

SOLVERS = {
    "cg": itersolve.cg,
    "pcg-ic0": lambda A, b, x0=None, **kw: itersolve.cg(A, b, x0, M=pc.IC0(A), **kw),
    "pcg-amg": lambda A, b, x0=None, **kw: itersolve.cg(A, b, x0, M=pc.AMG(A), **kw),
    "chebyshev": itersolve.chebyshev,
    "jacobi": itersolve.jacobi,
    "gauss_seidel": itersolve.gauss_seidel,
    "sor": lambda A, b, x0=None, **kw: itersolve.sor(A, b, x0, omega=1.4, **kw),
    "ssor": lambda A, b, x0=None, **kw: itersolve.ssor(A, b, x0, omega=1.4, **kw),
    "solve-cg-ssor": lambda A, b, x0=None, **kw: itersolve.solve(A, b, "cg", "ssor", x0=x0, **kw),
}
NAMES = sorted(SOLVERS)


def small():
    return pdes.poisson((7, 6))


@pytest.mark.parametrize("name", NAMES)
def test_zero_rhs_returns_zero_at_once(name):
    A = small()
    res = SOLVERS[name](A, np.zeros(A.shape[0]))
    assert res.converged and res.iterations == 0
    assert np.all(res.x == 0)


@pytest.mark.parametrize("name", NAMES)
def test_x0_left_untouched_and_used(name):
    A = small()
    rng = np.random.default_rng(0)
    exact = rng.standard_normal(A.shape[0])
    b = A @ exact
    x0 = exact + 1e-3 * rng.standard_normal(A.shape[0])
    keep = x0.copy()
    res = SOLVERS[name](A, b, x0, rtol=1e-6, maxiter=5000)
    np.testing.assert_array_equal(x0, keep)
    assert res.x is not x0 and res.converged
    cold = SOLVERS[name](A, b, rtol=1e-6, maxiter=5000)
    assert res.iterations <= cold.iterations


@pytest.mark.parametrize("name", NAMES)
def test_exact_x0_needs_no_iteration(name):
    A = small()
    exact = np.linspace(1, 2, A.shape[0])
    res = SOLVERS[name](A, A @ exact, exact, rtol=1e-8)
    assert res.converged and res.iterations == 0


@pytest.mark.parametrize("name", NAMES)
def test_maxiter_reached_is_reported(name):
    A = pdes.poisson((20, 20))
    res = SOLVERS[name](A, np.ones(400), rtol=1e-14, maxiter=2)
    assert res.iterations <= 2
    if not res.converged:
        assert res.reason == Reason.DIVERGED_MAXITER and res.info == res.iterations
        assert res.residual_norm > res.target


@pytest.mark.parametrize("name", NAMES)
def test_callback_once_per_iteration(name):
    A = small()
    calls = []
    res = SOLVERS[name](A, np.ones(A.shape[0]), rtol=1e-8, maxiter=3000, callback=lambda x: calls.append(np.copy(x)))
    assert res.converged
    assert len(calls) == res.iterations
    np.testing.assert_array_equal(calls[-1], res.x)


@pytest.mark.parametrize("name", NAMES)
def test_converged_means_true_residual_meets_target(name):
    A = pdes.diffusion(pdes.random_field((8, 8), variance=1.0, length=0.3, seed=2))
    b = np.random.default_rng(1).standard_normal(A.shape[0])
    res = SOLVERS[name](A, b, rtol=1e-7, atol=1e-30, maxiter=20000)
    assert res.converged
    assert np.linalg.norm(b - A @ res.x) <= max(1e-7 * np.linalg.norm(b), 1e-30)
    assert res.residual_norm == pytest.approx(np.linalg.norm(b - A @ res.x), rel=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_atol_alone_stops(name):
    A = small()
    b = np.ones(A.shape[0])
    res = SOLVERS[name](A, b, rtol=0.0, atol=1e-3, maxiter=5000)
    assert res.converged and res.reason == Reason.CONVERGED_ATOL
    assert np.linalg.norm(b - A @ res.x) <= 1e-3


@pytest.mark.parametrize("name", ["cg", "chebyshev", "jacobi", "gauss_seidel", "sor", "ssor"])
@pytest.mark.parametrize(
    "bad, message",
    [
        (lambda A, b: (A, np.append(b, 1.0)), "b has length"),
        (lambda A, b: (A[:, :-1], b), "square"),
        (lambda A, b: (A, np.where(np.arange(b.size) == 0, np.nan, b)), "b contains NaN"),
        (lambda A, b: (sp.csr_matrix(([np.inf], ([0], [0])), shape=A.shape) + A, b), "A contains NaN or Inf"),
        (lambda A, b: (A, b.reshape(2, -1)), "b must be a vector"),
    ],
)
def test_bad_input_raises_clear_error(name, bad, message):
    A, b = bad(small(), np.ones(42))
    with pytest.raises(ValueError, match=message):
        SOLVERS[name](A, b)


@pytest.mark.parametrize("name", ["cg", "gauss_seidel"])
def test_bad_x0_and_tolerances(name):
    A = small()
    with pytest.raises(ValueError, match="x0"):
        SOLVERS[name](A, np.ones(42), np.ones(41))
    with pytest.raises(ValueError, match="rtol"):
        SOLVERS[name](A, np.ones(42), rtol=-1.0)
    with pytest.raises(ValueError, match="maxiter"):
        SOLVERS[name](A, np.ones(42), maxiter=-3)
    with pytest.raises(TypeError, match="complex"):
        SOLVERS[name](A, np.ones(42) * 1j)


@pytest.mark.parametrize("name", NAMES)
def test_non_contiguous_and_integer_inputs(name):
    A = small()
    dense_int = np.rint(A.toarray()).astype(np.int64)
    b_strided = np.ones(84)[::2]
    res = SOLVERS[name](dense_int, b_strided, rtol=1e-8, maxiter=5000)
    assert res.converged and res.x.dtype == np.float64
    np.testing.assert_allclose(A @ res.x, 1.0, atol=1e-6)


def test_fortran_ordered_dense_matrix():
    A = np.asfortranarray(small().toarray())
    res = itersolve.cg(A, np.ones(42), rtol=1e-10)
    assert res.converged
