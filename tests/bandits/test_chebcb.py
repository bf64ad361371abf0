"""ChebCB: features, bounded least squares, inverse-gap weighting, the γ_t schedule."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.polynomial import chebyshev as npcheb
from scipy.optimize import lsq_linear

from itersolve.bandits import ChebCB
from itersolve.bandits.boxqp import box_qp
from itersolve.bandits.chebyshev import chebyshev_features


@pytest.mark.parametrize("u", [-1.0, -0.3, 0.0, 0.77, 1.0])
def test_chebyshev_features_match_numpy(u: float) -> None:
    np.testing.assert_allclose(chebyshev_features(u, 7), npcheb.chebvander(u, 7)[0], atol=1e-14)


@settings(max_examples=80, deadline=None)
@given(
    n=st.integers(1, 7),
    m=st.integers(1, 12),
    seed=st.integers(0, 2**32 - 1),
    scale=st.sampled_from([0.01, 1.0, 10.0]),
)
def test_box_qp_matches_scipy_bvls(n: int, m: int, seed: int, scale: float) -> None:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, n)) * rng.choice([1.0, 10.0], size=n)
    y = rng.standard_normal(m) * 3
    ub = rng.random(n) * scale
    ub[rng.random(n) < 0.15] = 0.0  # some variables pinned at zero
    A = X.T @ X + 1e-6 * np.eye(n)
    b = X.T @ y
    x = box_qp(A, b, -ub, ub)
    assert np.all(np.abs(x) <= ub + 1e-15)
    R = np.linalg.cholesky(A).T
    ref = lsq_linear(R, np.linalg.solve(R.T, b), bounds=(-ub, ub + 1e-300), method="bvls", tol=1e-14).x
    f = lambda z: 0.5 * z @ A @ z - b @ z  # noqa: E731
    assert f(x) <= f(ref) + 1e-9 * (1 + abs(f(ref)))


def test_box_qp_interior_solution_is_the_unconstrained_one() -> None:
    A = np.array([[3.0, 1.0], [1.0, 2.0]])
    b = np.array([1.0, -1.0])
    np.testing.assert_allclose(box_qp(A, b, -np.full(2, 10.0), np.full(2, 10.0)), np.linalg.solve(A, b))


def test_starts_uniform_and_probabilities_are_inverse_gap_weights() -> None:
    pol = ChebCB(8, context_range=(-1.0, 3.0), seed=0)
    np.testing.assert_allclose(pol.probabilities(0.5), np.full(8, 1 / 8))
    rng = np.random.default_rng(0)
    for _ in range(100):
        c = float(rng.uniform(-1, 3))
        a = pol.select(c)
        pol.update(a, float(np.clip(0.3 + 0.05 * (a - 4) ** 2 / 16 + 0.1 * c / 3, 0, 1)), c)
    c = 1.3
    yhat = pol.predictions(c)
    gamma = pol.gamma_t
    assert gamma > 0
    best = int(np.argmin(yhat))
    expect = 1.0 / (8 + gamma * (yhat - yhat[best]))
    expect[best] = 1.0 - (expect.sum() - expect[best])
    p = pol.probabilities(c)
    np.testing.assert_allclose(p, expect, rtol=1e-12)
    assert p.sum() == pytest.approx(1.0) and np.all(p > 0) and p.argmax() == best


def test_fixed_gamma() -> None:
    pol = ChebCB(4, context_range=(0, 1), gamma=0.0, seed=0)
    for t in range(20):
        pol.update(t % 4, 0.1 * (t % 4), 0.5)
    np.testing.assert_allclose(pol.probabilities(0.5), np.full(4, 0.25))
    assert pol.gamma_t == 0.0


def test_matches_a_batch_replay_of_the_reference_algorithm() -> None:
    """Refit every arm on its full history (the MATLAB code's way) and recompute γ_t.

    Both sides solve the same ridge-regularised problem (unique even for an
    arm with fewer plays than features); the code's minimum-norm solution is
    its ``ridge -> 0`` limit.
    """
    K, deg, (lo, hi) = 5, 3, (-0.15, 0.45)
    lam = 1e-6
    pol = ChebCB(K, context_range=(lo, hi), degree=deg, seed=1, ridge=lam)
    rng = np.random.default_rng(2)
    feats: list[list[np.ndarray]] = [[] for _ in range(K)]
    ys: list[list[float]] = [[] for _ in range(K)]
    theta = np.zeros((K, deg + 1))
    R, seen = 0.0, []
    m = deg + 1
    for t in range(1, 121):
        c = float(lo + (hi - lo) * rng.beta(0.5, 1.5))
        a = pol.select(c)
        u = 2 * (c - lo) / (hi - lo) - 1
        phi = npcheb.chebvander(u, deg)[0]
        loss = float(np.clip(0.2 + 0.3 * (a / K - 0.4 - c) ** 2 + 0.02 * rng.standard_normal(), 0, 1))
        R += (theta[a] @ phi - loss) ** 2
        pol.update(a, loss, c)
        feats[a].append(phi)
        ys[a].append(loss)
        seen.append(loss)
        kmax, spread = max(seen), max(seen) - min(seen)
        ub = np.concatenate(([kmax], 2 * spread / np.arange(1, m)))
        resid = 0.0
        for i in range(K):
            if not ys[i]:
                continue
            X, y = np.array(feats[i]), np.array(ys[i])
            Xa = np.vstack([X, math.sqrt(lam) * np.eye(m)])
            ya = np.concatenate([y, np.zeros(m)])
            sol = np.linalg.lstsq(Xa, ya, rcond=None)[0]
            if np.any(np.abs(sol) > ub):  # bounded least squares, like lsqlin
                sol = lsq_linear(Xa, ya, bounds=(-ub, ub + 1e-300), method="bvls", tol=1e-15).x
            theta[i] = sol
            resid += float(np.sum((X @ sol - y) ** 2))
        alpha = (math.pi + 2 / math.pi * math.log(2 * m + 1)) / (2 * (m + 1)) * spread
        gamma = 2 * t * math.sqrt(K * t / (max(R - resid, 0.0) + 2 * alpha**2 * t))
        np.testing.assert_allclose(pol._theta, theta, atol=2e-5)
        assert pol.gamma_t == pytest.approx(gamma, rel=1e-4)


def test_predictions_recover_a_polynomial() -> None:
    pol = ChebCB(2, context_range=(0.0, 2.0), degree=2, seed=0)
    rng = np.random.default_rng(3)
    true = lambda c: 0.5 + 0.1 * (c - 1.0) - 0.05 * (2 * (c - 1) ** 2 - 1)  # noqa: E731
    for _ in range(300):
        c = float(rng.uniform(0, 2))
        pol.update(0, true(c), c)
    for c in (0.1, 1.0, 1.7):
        assert pol.predictions(c)[0] == pytest.approx(true(c), abs=1e-4)
    assert pol.predictions(1.0)[1] == 0.0  # never played


def test_constructor_validation() -> None:
    with pytest.raises(ValueError, match="degree"):
        ChebCB(3, context_range=(0, 1), degree=-1)
    with pytest.raises(ValueError, match="ridge"):
        ChebCB(3, context_range=(0, 1), ridge=0.0)
    with pytest.raises(ValueError, match="gamma"):
        ChebCB(3, context_range=(0, 1), gamma=-1.0)
