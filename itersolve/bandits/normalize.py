"""Turning solver costs (iteration counts) into bandit losses in ``[0, 1]``.

The convention of Khodak et al. (ICLR 2024): a solve is stopped at an
iteration cap ``m`` and its cost is normalised by that cap,
``loss = min(cost, m) / m``. Every policy in :mod:`itersolve.bandits` expects
losses on this scale.

Examples
--------
>>> from itersolve.bandits import LossNormalizer
>>> norm = LossNormalizer(cap=500)
>>> norm(125)
0.25
>>> norm(10_000)          # a solve that hit the cap costs 1
1.0
>>> norm.cost(0.25)
125.0
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["LossNormalizer"]


class LossNormalizer:
    """Map a cost in ``[0, inf)`` to ``min(cost, cap) / cap``.

    Parameters
    ----------
    cap : float
        The iteration cap (``maxiter`` of the solves); must be positive.

    Raises
    ------
    ValueError
        If ``cap`` is not a positive finite number; when called, if the cost
        is NaN, infinite or negative.

    Examples
    --------
    >>> LossNormalizer(100)(float("nan"))
    Traceback (most recent call last):
    ...
    ValueError: cost must be finite, got nan
    """

    def __init__(self, cap: float) -> None:
        try:
            c = float(cap)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"cap must be a positive number, got {cap!r}") from exc
        if not (math.isfinite(c) and c > 0):
            raise ValueError(f"cap must be a positive finite number, got {cap!r}")
        self.cap = c

    def __call__(self, cost: Any) -> float:
        """Return the normalised loss of ``cost`` (e.g. an iteration count)."""
        try:
            x = float(cost)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"cost must be a real number, got {cost!r}") from exc
        if not math.isfinite(x):
            raise ValueError(f"cost must be finite, got {x}")
        if x < 0:
            raise ValueError(f"cost must be non-negative, got {x}")
        return min(x, self.cap) / self.cap

    def cost(self, loss: float) -> float:
        """Inverse map on ``[0, 1]``: the cost a loss stands for."""
        return float(loss) * self.cap

    def __repr__(self) -> str:
        return f"LossNormalizer(cap={self.cap:g})"
