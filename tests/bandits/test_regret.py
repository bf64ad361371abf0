"""Learning on synthetic problems with known mean losses (no solver).

Pseudo-regret is measured against the instance-optimal arm of each round;
"uniform" is the expected regret of playing uniformly at random and "best
fixed" the regret of the best single arm in hindsight on the same contexts.
Seeds are fixed, so these are deterministic checks with generous margins.
"""

from __future__ import annotations

import numpy as np
import pytest
from tests.bandits.bandit_sim import build, contextual_means, play, smooth_means

from itersolve.bandits import POLICIES

T = 2000


def _gaps(M: np.ndarray) -> np.ndarray:
    return M - M.min(axis=1, keepdims=True)


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_stationary_smooth_curve_beats_uniform_and_is_sublinear(name: str) -> None:
    """20 arms, smooth unimodal means, N(0, 0.05²) noise; contexts are irrelevant here."""
    regret, arms, M = play(build(name, seed=0), smooth_means, T, seed=10)
    uniform = _gaps(M).mean() * T
    assert regret.sum() < 0.5 * uniform
    first, second = regret[: T // 2].sum(), regret[T // 2 :].sum()
    assert second < 0.75 * first  # the per-round regret keeps falling
    best = int(np.argmin(M[0]))
    # near the optimum (within 2 arms) far more often than uniform play's 25 %
    assert np.mean(np.abs(arms[-500:] - best) <= 2) > 0.4


def test_gp_thompson_beats_tsallis_inf_on_a_smooth_curve() -> None:
    """Sharing information between neighbouring ω pays off (the design claim)."""
    for seed in (0, 1):
        gp, _, _ = play(build("gp-thompson", seed=seed), smooth_means, T, seed=30 + seed)
        ts, _, _ = play(build("tsallis-inf", seed=seed), smooth_means, T, seed=30 + seed)
        assert gp.sum() < 0.25 * ts.sum()


@pytest.mark.parametrize("name,horizon", [("chebcb", T), ("gp-thompson-cb", T), ("tsallis-inf-cb", 2 * T)])
def test_contextual_policies_beat_the_best_fixed_arm(name: str, horizon: int) -> None:
    """The best ω moves from 1.0 to 1.95 with the context; no single arm is good."""
    regret, _, M = play(build(name, seed=0), contextual_means, horizon, seed=20)
    best_fixed = _gaps(M).sum(axis=0).min()
    assert regret.sum() < 0.8 * best_fixed
    assert regret[horizon // 2 :].sum() < regret[: horizon // 2].sum()


def test_non_contextual_policy_cannot_beat_the_best_fixed_arm_there() -> None:
    """Sanity check of the contextual problem: without the context nothing helps."""
    regret, _, M = play(build("tsallis-inf", seed=0), contextual_means, T, seed=20)
    assert regret.sum() > 0.95 * _gaps(M).sum(axis=0).min()


def test_contextual_gp_beats_chebcb() -> None:
    for seed in (0, 1):
        gp, _, _ = play(build("gp-thompson-cb", seed=seed), contextual_means, T, seed=40 + seed)
        cb, _, _ = play(build("chebcb", seed=seed), contextual_means, T, seed=40 + seed)
        assert gp.sum() < 0.7 * cb.sum()
