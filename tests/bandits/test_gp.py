"""The GP model behind GPThompson / ContextualGPThompson."""

from __future__ import annotations

import numpy as np
import pytest
from tests.bandits.bandit_sim import OMEGAS

from itersolve.bandits import ContextualGPThompson, GPThompson
from itersolve.bandits import _gpkernels as kern
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


def _batch_posterior(gp: ArmContextGP, data: list) -> tuple[np.ndarray, np.ndarray]:
    """Exact posterior covariance / σ² and mean of the coefficients, by dense linear algebra."""
    Phi, y = _design(gp, data)
    i_snr, i_ls = int(gp.fit[3]), int(gp.fit[4])
    P0 = gp.snrs[i_snr] * np.kron(gp._arm_cov[i_ls], np.diag(gp._d))
    S = P0 - P0 @ Phi.T @ np.linalg.solve(np.eye(len(y)) + Phi @ P0 @ Phi.T, Phi @ P0)
    return S, S @ Phi.T @ (y - gp.fit[0])


@pytest.mark.parametrize("degree", [0, 2])
def test_refit_and_rank_one_updates_equal_the_batch_posterior(degree: int) -> None:
    rng = np.random.default_rng(0)
    gp = ArmContextGP(np.linspace(1.0, 1.95, 8), degree=degree)
    m = gp.m
    data: list = []
    for n in (1, 1, 2, 4, 8, 40):  # refits on the data kernel (n < F), then on the normal equations
        _simulate(gp, rng, n, data)
        gp.refit()
        S, mean = _batch_posterior(gp, data)
        blocks = np.stack([S[a * m : (a + 1) * m, a * m : (a + 1) * m] for a in range(gp.K)])
        np.testing.assert_allclose(gp.cov, blocks, atol=1e-11)
        np.testing.assert_allclose(gp.mean, mean, atol=1e-11)
    # observations of one arm update that arm's marginal exactly (Bayesian regression on its block)
    arm = 3
    C0, mu0 = gp.cov[arm].copy(), gp.mean[arm * m : (arm + 1) * m].copy()
    Phi, ys = [], []
    for _ in range(5):
        t = np.polynomial.chebyshev.chebvander(float(rng.uniform(-1, 1)), m - 1)[0]
        y = 0.3 + 0.05 * rng.standard_normal()
        gp.observe(arm, t, y)
        Phi.append(t)
        ys.append(y - gp.fit[0])
    Phi, ys = np.array(Phi), np.array(ys)
    C = np.linalg.inv(np.linalg.inv(C0) + Phi.T @ Phi)
    np.testing.assert_allclose(gp.cov[arm], C, atol=1e-11)
    np.testing.assert_allclose(gp.mean[arm * m : (arm + 1) * m], C @ (np.linalg.solve(C0, mu0) + Phi.T @ ys), atol=1e-10)


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
    assert np.sqrt(pol.noise_var) == pytest.approx(0.05, rel=0.3)


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


def test_discounted_posterior_equals_the_weighted_batch_posterior() -> None:
    """Each forgetting factor's posterior is Bayesian regression with the observation of s rounds ago weighted by γ^s."""
    rng = np.random.default_rng(5)
    gammas = (1.0, 0.9)
    pol = GPThompson(arms=OMEGAS, seed=0, discounts=gammas)
    arms = rng.integers(0, OMEGAS.size, 40)
    ys = 0.3 + 0.2 * (OMEGAS[arms] - 1.5) ** 2 + 0.02 * rng.standard_normal(40)
    for a, y in zip(arms, ys):
        pol.update(int(a), float(y))
    E = np.eye(OMEGAS.size)[arms]
    for c, g in enumerate(gammas):
        w = g ** np.arange(39, -1, -1.0)
        m0 = w @ ys / w.sum()
        i, j = pol._hyp[c]
        Lam = pol._prec[j] / pol.snrs[i] + E.T @ (w[:, None] * E)
        mean = np.linalg.solve(Lam, E.T @ (w * (ys - m0)))
        mu, sd, s2 = kern.discounted_marginals(
            pol._prec[j], float(pol.snrs[i]), pol._W[c], pol._S[c], pol._stats[c], 1.0, pol._Lc, pol._vec
        )
        np.testing.assert_allclose(mu, m0 + mean, atol=1e-12)
        np.testing.assert_allclose(sd, np.sqrt(s2 * np.diag(np.linalg.inv(Lam))), rtol=1e-6)


def _play_drift(pol: GPThompson, T: int, period: int | None, rng: np.random.Generator) -> float:
    """Total mean loss on a smooth loss curve whose minimum alternates between ω = 1.2 and 1.8 every ``period`` rounds."""
    total = 0.0
    for t in range(T):
        centre = 1.2 if period is None or (t // period) % 2 == 0 else 1.8
        means = 0.2 + 0.5 * (OMEGAS - centre) ** 2
        a = pol.select()
        pol.update(a, float(np.clip(means[a] + 0.02 * rng.standard_normal(), 0, 1)))
        total += means[a]
    return total


def test_discounting_follows_drift_and_keeps_full_memory_when_stationary() -> None:
    for s in (0, 1):
        plain, ours = (GPThompson(arms=OMEGAS, seed=s, discounts=d) for d in ((1.0,), (1.0, 0.99, 0.95)))
        lp, lo = (_play_drift(p, 600, 150, np.random.default_rng(10 + s)) for p in (plain, ours))
        # regret against the moving optimum (mean loss 0.2): the plain GP settles between the two optima
        assert ours.discount < 1 and lo - 0.2 * 600 < 0.6 * (lp - 0.2 * 600)
        pol = GPThompson(arms=OMEGAS, seed=s)
        _play_drift(pol, 400, None, np.random.default_rng(20 + s))
        assert pol.discount == 1.0


def test_discounts_checks() -> None:
    for bad in ((), (1.0, 0.0), (1.5,), (np.nan,)):
        with pytest.raises(ValueError, match="discounts"):
            GPThompson(3, discounts=bad)


def test_contextual_update_taken_in_by_the_next_select_changes_nothing() -> None:
    """The observation an update records joins the model in the next select's compiled call: same choices
    as taking it in at once (posterior_mean flushes it), and updates without a select in between work."""
    rng = np.random.default_rng(6)
    pols = [ContextualGPThompson(arms=OMEGAS, context_range=(0, 1), seed=2) for _ in range(2)]
    arms: list[list[int]] = [[], []]
    for t in range(120):
        c = float(rng.random())
        loss = float(rng.uniform(0.1, 0.3))
        for i, pol in enumerate(pols):
            a = pol.select(c)
            pol.update(a, loss * (1 + OMEGAS[a] - c), c)
            arms[i].append(a)
            if i == 1:
                pol.posterior_mean(c)
                assert pol._model.n == pol.t
    assert arms[0] == arms[1]
    pol = pols[0]
    pol.update(3, 0.2, 0.5)
    pol.update(4, 0.2, 0.5)
    assert pol._model.n == pol.t - 1 and pol.posterior_std(0.5).shape == (OMEGAS.size,) and pol._model.n == pol.t
