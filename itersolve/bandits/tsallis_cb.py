"""Tsallis-INF-CB: one ½-Tsallis-INF learner per bin of a scalar context.

The contextual baseline of Khodak et al. (ICLR 2024; ``learners/TsallisINFCB.m``
of the official code): the context interval ``[lo, hi]`` is cut into ``bins``
equal cells (a context goes to the cell with the nearest centre, contexts
outside the interval to the end cells) and an independent Tsallis-INF, with
its own round counter and learning rate ``η = η₀/√t_bin``, runs in each.

Examples
--------
>>> from itersolve.bandits import TsallisINFCB
>>> pol = TsallisINFCB(20, bins=5, context_range=(-0.15, 0.45), seed=0)
>>> arm = pol.select(context=0.1)
>>> pol.update(arm, 0.3, context=0.1)
>>> pol.bin_of(0.1), pol.bin_of(10.0)
(2, 4)
"""

from __future__ import annotations

import numbers

import numpy as np

from .base import ContextualPolicy, sample_index
from .tsallis import _check_estimator, tsallis_loss_estimate, tsallis_round_weights

__all__ = ["TsallisINFCB"]


class TsallisINFCB(ContextualPolicy):
    """Context-binned ½-Tsallis-INF.

    Regret against the best *piecewise-constant* policy on the bins; it
    approaches the instance-optimal policy only as the bins shrink, and each
    bin learns from its own data only.

    Parameters
    ----------
    n_arms : int
        Number of arms.
    context_range : (float, float)
        Interval of the context; values outside are clipped.
    bins : int
        Number of context cells (the paper's experiments use 5).
    seed : int or None
        Seed of the random generator (shared by the bins).
    estimator, eta0, adaptive_scale
        As in :class:`~itersolve.bandits.TsallisINF`, for every bin.

    Examples
    --------
    >>> import numpy as np
    >>> pol = TsallisINFCB(2, bins=2, context_range=(0, 1), seed=0)
    >>> rng = np.random.default_rng(1)
    >>> for _ in range(400):
    ...     c = rng.random()
    ...     a = pol.select(c)
    ...     pol.update(a, float(a != (c > 0.5)), c)   # arm 0 good for c < 0.5
    >>> int(pol.probabilities(0.2).argmax()), int(pol.probabilities(0.8).argmax())
    (0, 1)
    """

    name = "tsallis-inf-cb"
    _state_keys = ("cum", "counts", "loss_sum")

    def __init__(
        self,
        n_arms: int,
        *,
        context_range: tuple[float, float],
        bins: int = 5,
        seed: int | None = 0,
        estimator: str = "iw",
        eta0: float | None = None,
        adaptive_scale: bool = True,
    ) -> None:
        if isinstance(bins, bool) or not isinstance(bins, numbers.Integral) or bins < 1:
            raise ValueError(f"bins must be a positive integer, got {bins!r}")
        self.bins = int(bins)
        self.estimator, self.eta0 = _check_estimator(estimator, eta0)
        self.adaptive_scale = bool(adaptive_scale)
        super().__init__(n_arms, context_range=context_range, seed=seed)

    def _init_state(self) -> None:
        self._cum = np.zeros((self.bins, self.n_arms))
        self._counts = np.zeros(self.bins, dtype=np.int64)
        self._loss_sum = np.zeros(self.bins)

    def bin_of(self, context: float) -> int:
        """Index of the cell a context falls in (nearest cell centre)."""
        c = self._check_context(context)
        lo, hi = self.context_range
        return int(min(max(int((c - lo) / (hi - lo) * self.bins), 0), self.bins - 1))

    def _weights(self, b: int) -> tuple[np.ndarray, float]:
        return tsallis_round_weights(
            self._cum[b], int(self._counts[b]), float(self._loss_sum[b]), self.eta0, self.adaptive_scale
        )

    def probabilities(self, context: float | None = None) -> np.ndarray:
        """The sampling distribution of ``select(context)``."""
        return self._weights(self.bin_of(context))[0]

    def _select(self, context: float) -> int:
        return sample_index(self._rng, self._weights(self.bin_of(context))[0])

    def _update(self, arm: int, loss: float, context: float) -> None:
        b = self.bin_of(context)
        w, eta = self._weights(b)
        self._cum[b] += tsallis_loss_estimate(w, arm, loss, eta, self.estimator)
        self._counts[b] += 1
        self._loss_sum[b] += loss
