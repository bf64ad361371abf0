"""½-Tsallis-INF: the Newton weights, the estimators, the learning-rate schedule."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize

from itersolve.bandits import TsallisINF, TsallisINFCB, tsallis_inf_weights
from itersolve.bandits.tsallis import tsallis_loss_estimate


def reference_weights(L: np.ndarray, eta: float) -> np.ndarray:
    """Slow reference: bisection on the normalisation constant x < min L."""
    L = np.asarray(L, dtype=float)
    total = lambda x: sum(4.0 / (eta * (li - x)) ** 2 for li in L)  # noqa: E731
    lo, hi = L.min() - 2.0 * math.sqrt(len(L)) / eta - 1.0, L.min() - 2.0 / eta
    assert total(lo) <= 1.0 <= total(hi)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if total(mid) > 1.0:
            hi = mid
        else:
            lo = mid
    x = 0.5 * (lo + hi)
    return np.array([4.0 / (eta * (li - x)) ** 2 for li in L])


def ftrl_objective_solution(L: np.ndarray, eta: float) -> np.ndarray:
    """Independent check: argmin_w <w, L> - (4/η) Σ √w_i over the simplex."""
    K = len(L)

    def f(v):
        w = np.abs(v)
        return float(w @ L - 4.0 / eta * np.sqrt(w).sum())

    res = minimize(
        f,
        np.full(K, 1.0 / K),
        method="SLSQP",
        bounds=[(1e-12, 1.0)] * K,
        constraints=[{"type": "eq", "fun": lambda v: np.sum(v) - 1.0}],
        options={"ftol": 1e-14, "maxiter": 500},
    )
    return np.abs(res.x)


@pytest.mark.parametrize("eta", [5.0, 1.0, 0.1, 2.0 / math.sqrt(5000)])
def test_weights_match_reference_and_ftrl(eta: float) -> None:
    rng = np.random.default_rng(0)
    L = rng.random(20) * 30
    w = tsallis_inf_weights(L, eta)
    assert w.sum() == pytest.approx(1.0, abs=1e-14)
    np.testing.assert_allclose(w, reference_weights(L, eta), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("eta", [0.3, 2.0])
def test_weights_solve_the_ftrl_problem(eta: float) -> None:
    L = np.random.default_rng(1).random(8) * 5
    np.testing.assert_allclose(tsallis_inf_weights(L, eta), ftrl_objective_solution(L, eta), atol=2e-4)


@settings(max_examples=60, deadline=None)
@given(
    history=st.lists(
        st.tuples(st.integers(0, 7), st.floats(0.0, 1.0, allow_nan=False), st.floats(1e-3, 1.0)),
        min_size=0,
        max_size=60,
    ),
    t=st.integers(1, 10_000),
)
def test_weights_are_a_probability_vector_for_random_histories(history, t) -> None:
    """Cumulative importance-weighted losses of any history give valid weights."""
    L = np.zeros(8)
    for arm, loss, prob in history:
        L[arm] += loss / prob
    eta = 2.0 / math.sqrt(t)
    w = tsallis_inf_weights(L, eta)
    assert np.all(w > 0) and np.all(np.isfinite(w))
    assert w.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(w, reference_weights(L, eta), rtol=1e-8, atol=1e-15)
    # smaller cumulative loss -> no smaller weight; a shift changes nothing
    order = np.argsort(L, kind="stable")
    assert np.all(np.diff(w[order]) <= 1e-15)
    np.testing.assert_allclose(tsallis_inf_weights(L + 123.0, eta), w, rtol=1e-9, atol=1e-15)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=30), st.floats(1e-4, 1e3))
def test_weights_extreme_inputs(L, eta) -> None:
    w = tsallis_inf_weights(np.array(L), eta)
    assert np.all(w >= 0) and w.sum() == pytest.approx(1.0, abs=1e-12)


def test_weights_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="finite"):
        tsallis_inf_weights([0.0, math.nan], 1.0)
    with pytest.raises(ValueError, match="eta"):
        tsallis_inf_weights([0.0, 1.0], 0.0)
    with pytest.raises(ValueError, match="1-D"):
        tsallis_inf_weights([], 1.0)


@pytest.mark.parametrize("estimator", ["iw", "rv"])
def test_estimators_are_unbiased(estimator: str) -> None:
    rng = np.random.default_rng(1)
    w = rng.dirichlet(np.ones(6) * 0.3)
    losses = rng.random(6)
    eta = 0.2
    expected = sum(w[a] * tsallis_loss_estimate(w, a, losses[a], eta, estimator) for a in range(6))
    np.testing.assert_allclose(expected, losses, rtol=1e-12)


@pytest.mark.parametrize("estimator,eta0", [("iw", 2.0), ("rv", 4.0)])
def test_policy_follows_the_textbook_recursion(estimator: str, eta0: float) -> None:
    """adaptive_scale=False is exactly Zimmert & Seldin's algorithm with η_t = η₀/√t."""
    pol = TsallisINF(7, seed=3, estimator=estimator, adaptive_scale=False)
    assert pol.eta0 == eta0
    rng = np.random.default_rng(4)
    L = np.zeros(7)
    for t in range(1, 301):
        eta = eta0 / math.sqrt(t)
        w = tsallis_inf_weights(L, eta)
        np.testing.assert_allclose(pol.probabilities(), w, rtol=1e-12)
        a = pol.select()
        loss = float(rng.random())
        pol.update(a, loss)
        if estimator == "iw":
            L[a] += loss / w[a]
        else:
            B = np.where(w >= eta**2, 0.5, 0.0)
            L += B
            L[a] += (loss - B[a]) / w[a]


def test_adaptive_scale_mirrors_the_official_code() -> None:
    """The MATLAB code divides the estimates by the mean loss so far."""
    pol = TsallisINF(5, seed=0)  # adaptive_scale=True is the default
    rng = np.random.default_rng(5)
    L, seen = np.zeros(5), []
    for t in range(1, 101):
        scale = np.mean(seen) if seen else 1.0
        w = tsallis_inf_weights(L / scale, 2.0 / math.sqrt(t))
        np.testing.assert_allclose(pol.probabilities(), w, rtol=1e-12)
        a = pol.select()
        loss = 0.01 + 0.02 * float(rng.random())
        pol.update(a, loss)
        L[a] += loss / w[a]
        seen.append(loss)


def test_adaptive_scale_is_invariant_to_the_cap() -> None:
    """Halving every loss (a doubled cap) changes no choice (exact in floating point)."""
    rng = np.random.default_rng(6)
    losses = rng.random((400, 10))
    choices = []
    for factor in (1.0, 0.5):
        pol = TsallisINF(10, seed=1)
        seq = []
        for row in losses:
            a = pol.select()
            pol.update(a, factor * row[a])
            seq.append(a)
        choices.append(seq)
    assert choices[0] == choices[1]


def test_tsallis_cb_bins_are_independent() -> None:
    pol = TsallisINFCB(4, bins=4, context_range=(0.0, 1.0), seed=0)
    assert [pol.bin_of(c) for c in (-1.0, 0.0, 0.24, 0.26, 0.5, 0.99, 1.0, 3.0)] == [0, 0, 0, 1, 2, 3, 3, 3]
    p_other = pol.probabilities(0.9)
    for _ in range(50):
        a = pol.select(0.1)
        pol.update(a, [0.9, 0.1, 0.9, 0.9][a], 0.1)
    np.testing.assert_array_equal(pol.probabilities(0.9), p_other)
    assert pol.probabilities(0.1).argmax() == 1
    state = pol.state_dict()
    assert state["counts"].tolist() == [50, 0, 0, 0]


def test_tsallis_cb_bin_matches_a_single_tsallis() -> None:
    """With one bin, Tsallis-INF-CB is Tsallis-INF."""
    cb = TsallisINFCB(6, bins=1, context_range=(0.0, 1.0), seed=9)
    single = TsallisINF(6, seed=9)
    rng = np.random.default_rng(2)
    for _ in range(200):
        c = float(rng.random())
        a, b = cb.select(c), single.select()
        assert a == b
        loss = float(rng.random())
        cb.update(a, loss, c)
        single.update(b, loss)
