"""Exp3 for losses (Auer et al. 2002; anytime form of Bubeck & Cesa-Bianchi 2012).

Examples
--------
>>> import numpy as np
>>> from itersolve.bandits import Exp3
>>> pol = Exp3(3, seed=0)
>>> for _ in range(300):
...     a = pol.select()
...     pol.update(a, [0.8, 0.2, 0.8][a])
>>> int(np.argmax(pol.probabilities()))
1
"""

from __future__ import annotations

import math

import numpy as np

from .base import Policy, importance_weighted, sample_index

__all__ = ["Exp3"]


class Exp3(Policy):
    """Exponential weights with importance-weighted loss estimates.

    ``p_t ∝ exp(-η_t L̂)``, optionally mixed with the uniform distribution.

    Parameters
    ----------
    n_arms : int
        Number of arms ``K``.
    seed : int or None
        Seed of the policy's random generator.
    gamma : float, optional
        ``None`` (default): the anytime algorithm for losses without forced
        exploration, ``η_t = √(ln K / (t K))`` (Bubeck & Cesa-Bianchi 2012,
        Thm. 3.1, regret ``≤ 2√(T K ln K)``). A number in ``(0, 1]``: the
        classic Exp3 of Auer et al. with mixing ``p = (1-γ) q + γ/K`` and
        ``η = γ/K``.

    Examples
    --------
    >>> Exp3(4, gamma=0.1).probabilities()
    array([0.25, 0.25, 0.25, 0.25])
    """

    name = "exp3"
    _state_keys = ("cum",)

    def __init__(self, n_arms: int, *, seed: int | None = 0, gamma: float | None = None) -> None:
        if gamma is not None:
            gamma = float(gamma)
            if not (0.0 < gamma <= 1.0):
                raise ValueError(f"gamma must lie in (0, 1], got {gamma}")
        self.gamma = gamma
        super().__init__(n_arms, seed=seed)

    def _init_state(self) -> None:
        self._cum = np.zeros(self.n_arms)

    def _eta(self) -> float:
        K = self.n_arms
        if self.gamma is not None:
            return self.gamma / K
        return math.sqrt(math.log(K) / ((self.t + 1) * K)) if K > 1 else 1.0

    def probabilities(self, context: float | None = None) -> np.ndarray:
        """The sampling distribution of the next ``select``."""
        z = -self._eta() * (self._cum - self._cum.min())
        q = np.exp(z)
        q /= q.sum()
        if self.gamma is not None:
            q = (1.0 - self.gamma) * q + self.gamma / self.n_arms
        return q

    def _select(self, context: float | None) -> int:
        return sample_index(self._rng, self.probabilities())

    def _update(self, arm: int, loss: float, context: float | None) -> None:
        self._cum[arm] += importance_weighted(loss, self.probabilities()[arm])
