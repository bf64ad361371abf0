"""The GP model behind GPThompson / ContextualGPThompson."""

from __future__ import annotations

import numpy as np
import pytest
from tests.bandits.bandit_sim import OMEGAS

from itersolve.bandits import ContextualGPThompson, GPThompson
from itersolve.bandits.gp_model import ArmContextGP


def _simulate(gp: ArmContextGP, rng: np.random.Generator, n: int, data: list) -> None:
    for _ in range(n):
        a = int(rng.integers(gp.K))
        u = float(rng.uniform(-1, 1))
        t = np.polynomial.chebyshev.chebvander(u, gp.m - 1)[0]
        y = 0.3 + 0.1 * u * a / gp.K + 0.05 * rng.standard_normal()
        gp.observe(a, t, y)
        data.append((a, t, y))


def _design(gp: ArmContextGP, data: list) -> tuple[np.ndarray, np.ndarray]:
    Phi = np.zeros((len(data), gp.F))
    for r, (a, t, _) in enumerate(data):
        Phi[r, a * gp.m : (a + 1) * gp.m] = t
    return Phi, np.array([d[2] for d in data])


@pytest.mark.parametrize("degree", [0, 2])
def test_rank_one_updates_equal_the_batch_posterior(degree: int) -> None:
    rng = np.random.default_rng(0)
    gp = ArmContextGP(np.linspace(1.0, 1.95, 8), degree=degree)
    data: list = []
    for n in (1, 1, 2, 4, 8):  # refit at 1, 2, 4, 8, 16 observations
        _simulate(gp, rng, n, data)
        gp.refit()
    _simulate(gp, rng, 25, data)  # then 25 rank-one updates
    Phi, y = _design(gp, data)
    L = gp._prior_chol(int(gp.fit[3]), int(gp.fit[4]))
    P0 = L @ L.T
    S = P0 - P0 @ Phi.T @ np.linalg.solve(np.eye(len(y)) + Phi @ P0 @ Phi.T, Phi @ P0)
    np.testing.assert_allclose(gp.cov, S, atol=1e-11)
    np.testing.assert_allclose(gp.mean, S @ Phi.T @ (y - gp.fit[0]), atol=1e-11)


def test_hyperparameters_maximise_the_marginal_likelihood() -> None:
    rng = np.random.default_rng(1)
    gp = ArmContextGP(np.linspace(1.0, 1.95, 8), degree=2)
    data: list = []
    _simulate(gp, rng, 60, data)
    gp.refit()
    Phi, y = _design(gp, data)
    n, yc = len(y), y - y.mean()
    scores = {}
    for i in range(gp.snrs.size):
        for j in range(gp.lengthscales.size):
            L = gp._prior_chol(i, j)
            Kn = np.eye(n) + Phi @ L @ L.T @ Phi.T
            q = yc @ np.linalg.solve(Kn, yc)
            s2 = gp._sigma2(q)
            scores[i, j] = -(gp.nu0 / 2 + 1 + n / 2) * np.log(s2) - 0.5 * np.linalg.slogdet(Kn)[1]
    assert max(scores, key=scores.get) == (int(gp.fit[3]), int(gp.fit[4]))
    assert gp.noise_var == pytest.approx(0.05**2, rel=0.5)


def test_gp_thompson_is_invariant_to_the_loss_scale() -> None:
    """Halving every loss (a doubled cap) changes no choice: the policy is scale-free."""
    rng = np.random.default_rng(2)
    means = 0.3 + 0.4 * (OMEGAS - 1.6) ** 2
    noise = rng.standard_normal(300) * 0.03
    runs = []
    for factor in (1.0, 0.5):
        pol = GPThompson(arms=OMEGAS, seed=3)
        seq = []
        for t in range(300):
            a = pol.select()
            pol.update(a, factor * float(np.clip(means[a] + noise[t], 0, 1)))
            seq.append(a)
        runs.append(seq)
    agree = np.mean(np.array(runs[0]) == np.array(runs[1]))
    assert agree == 1.0


def test_posterior_locates_the_optimum_and_shrinks() -> None:
    rng = np.random.default_rng(4)
    pol = GPThompson(arms=OMEGAS, seed=0)
    means = 0.2 + 0.6 * ((OMEGAS - 1.75) / 0.75) ** 2
    for _ in range(400):
        a = pol.select()
        pol.update(a, float(np.clip(means[a] + 0.05 * rng.standard_normal(), 0, 1)))
    assert abs(OMEGAS[int(np.argmin(pol.posterior_mean()))] - 1.75) <= 0.1
    best = int(np.argmin(pol.posterior_mean()))
    assert pol.posterior_std()[best] < 0.01  # many plays near the optimum
    assert np.sqrt(pol._model.noise_var) == pytest.approx(0.05, rel=0.3)


def test_constant_losses_are_harmless() -> None:
    for pol in (GPThompson(arms=OMEGAS), ContextualGPThompson(arms=OMEGAS, context_range=(0, 1), degree=2)):
        for t in range(70):
            a = pol.select(0.5)
            pol.update(a, 0.25, 0.5)
        assert np.all(np.isfinite(pol.posterior_mean(0.5)))


def test_arm_values_checks() -> None:
    with pytest.raises(ValueError, match="n_arms or arms"):
        GPThompson()
    with pytest.raises(ValueError, match="n_arms=3"):
        GPThompson(3, arms=[1.0, 1.2])
    with pytest.raises(ValueError, match="refit_every"):
        GPThompson(3, refit_every=0)
    with pytest.raises(ValueError, match="snrs"):
        GPThompson(3, snrs=())
    assert GPThompson(arms=[1.5]).select() == 0
