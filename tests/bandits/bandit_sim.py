"""Synthetic bandit environments with known mean losses (no solver)."""

from __future__ import annotations

import numpy as np

from itersolve.bandits import make_policy

OMEGAS = np.linspace(1.0, 1.95, 20)
CONTEXT_RANGE = (0.0, 1.0)


def smooth_means(context: float | None = None) -> np.ndarray:
    """Stationary, smooth, unimodal loss curve over the ω grid (best ω = 1.75)."""
    return np.clip(0.2 + 0.6 * ((OMEGAS - 1.75) / 0.75) ** 2, 0.0, 1.0)


def contextual_means(context: float) -> np.ndarray:
    """V-shaped loss (like SOR) whose best ω moves from 1.0 to 1.95 with the context."""
    return 0.15 + 0.6 * np.abs(OMEGAS - (1.0 + 0.95 * context)) / 0.95


def build(name: str, seed: int = 0, **kw):
    """A policy for the 20-arm ω grid, contextual ones on contexts in [0, 1]."""
    return make_policy(name, len(OMEGAS), arms=OMEGAS, context_range=CONTEXT_RANGE, seed=seed, **kw)


def play(policy, means, T: int, *, noise: float = 0.05, seed: int = 0):
    """Run ``T`` rounds; contexts ~ U(0, 1) are always drawn and passed.

    Returns the per-round pseudo-regret against the instance-optimal arm, the
    chosen arms, and the (T, K) matrix of mean losses that were in force.
    """
    rng = np.random.default_rng(seed)
    regret = np.empty(T)
    arms = np.empty(T, dtype=int)
    M = np.empty((T, len(OMEGAS)))
    for t in range(T):
        c = float(rng.random())
        m = means(c)
        a = policy.select(c)
        y = float(np.clip(m[a] + noise * rng.standard_normal(), 0.0, 1.0))
        policy.update(a, y, c)
        regret[t] = m[a] - m.min()
        arms[t] = a
        M[t] = m
    return regret, arms, M


def scripted_losses(T: int, seed: int = 7) -> np.ndarray:
    """A fixed table of losses (T, K) and contexts, independent of the policy."""
    rng = np.random.default_rng(seed)
    return rng.random((T, len(OMEGAS) + 1))


def drive(policy, table: np.ndarray, start: int = 0, stop: int | None = None) -> list[int]:
    """Play rounds ``start..stop`` of a scripted table; returns the choices."""
    out = []
    for row in table[start:stop]:
        c = float(row[-1])
        a = policy.select(c)
        policy.update(a, float(row[a]), c)
        out.append(a)
    return out
