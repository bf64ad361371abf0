"""UCB1 (Auer, Cesa-Bianchi & Fischer 2002) for losses in ``[0, 1]``.

Examples
--------
>>> from itersolve.bandits import UCB1
>>> pol = UCB1(3, seed=0)
>>> for _ in range(300):
...     a = pol.select()
...     pol.update(a, [0.8, 0.2, 0.8][a])
>>> int(pol.counts.argmax())
1
"""

from __future__ import annotations

import math

import numpy as np

from .base import Policy

__all__ = ["UCB1"]


class UCB1(Policy):
    """Optimism under uncertainty for stochastic losses.

    Each arm is played once (in random order), then the arm minimising the
    lower confidence bound ``mean_i - √(2 ln t / n_i)`` is played; ties are
    broken at random.

    Parameters
    ----------
    n_arms : int
        Number of arms.
    seed : int or None
        Seed for the tie-breaking generator.

    Examples
    --------
    >>> pol = UCB1(2)
    >>> a = pol.select()
    >>> pol.update(a, 0.0)
    >>> pol.select() == 1 - a  # the unplayed arm comes next
    True
    """

    name = "ucb1"
    _state_keys = ("counts", "sums")

    def _init_state(self) -> None:
        self._counts = np.zeros(self.n_arms, dtype=np.int64)
        self._sums = np.zeros(self.n_arms)

    @property
    def counts(self) -> np.ndarray:
        """Number of times each arm was updated."""
        return self._counts.copy()

    def index(self) -> np.ndarray:
        """Lower confidence bounds (``-inf`` for unplayed arms)."""
        n = self._counts
        idx = np.full(self.n_arms, -np.inf)
        played = n > 0
        if played.any():
            t = max(int(n.sum()), 1)
            idx[played] = self._sums[played] / n[played] - np.sqrt(2.0 * math.log(t) / n[played])
        return idx

    def _select(self, context: float | None) -> int:
        idx = self.index()
        best = np.flatnonzero(idx == idx.min())
        return int(best[self._rng.integers(len(best))])

    def _update(self, arm: int, loss: float, context: float | None) -> None:
        self._counts[arm] += 1
        self._sums[arm] += loss
