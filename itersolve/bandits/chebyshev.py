"""Chebyshev features of a scalar on ``[-1, 1]``.

Examples
--------
>>> from itersolve.bandits.chebyshev import chebyshev_features
>>> chebyshev_features(0.5, 3)
array([ 1. ,  0.5, -0.5, -1. ])
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["chebyshev_features", "chebyshev_into"]


@njit(cache=True)
def chebyshev_features(u: float, degree: int) -> np.ndarray:  # pragma: no cover - compiled
    """``[T_0(u), ..., T_degree(u)]`` by the three-term recurrence.

    Compiled, so that the policies' compiled kernels call it too.

    Parameters
    ----------
    u : float
        Point in ``[-1, 1]`` (not checked; outside, the values grow).
    degree : int
        Highest degree, ``>= 0``.

    Returns
    -------
    numpy.ndarray, shape (degree + 1,)
    """
    out = np.empty(degree + 1)
    chebyshev_into(u, out, 0, degree + 1)
    return out


@njit(cache=True, inline="always")
def chebyshev_into(u: float, out: np.ndarray, start: int, count: int) -> None:  # pragma: no cover - compiled
    """Write ``[T_0(u), ..., T_{count-1}(u)]`` into ``out[start : start + count]``, allocating nothing.

    The form the per-round kernels use (into a slot of a larger array, without
    a view); :func:`chebyshev_features` wraps it.
    """
    out[start] = 1.0
    if count >= 2:
        out[start + 1] = u
    for j in range(2, count):
        out[start + j] = 2.0 * u * out[start + j - 1] - out[start + j - 2]
