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
    chebyshev_into(u, out)
    return out


@njit(cache=True, inline="always")
def chebyshev_into(u: float, out: np.ndarray) -> None:  # pragma: no cover - compiled
    """Write ``[T_0(u), ..., T_d(u)]`` into ``out`` (length ``d + 1``), allocating nothing.

    The form the per-round kernels use; :func:`chebyshev_features` wraps it.
    """
    out[0] = 1.0
    if out.shape[0] >= 2:
        out[1] = u
    for j in range(2, out.shape[0]):
        out[j] = 2.0 * u * out[j - 1] - out[j - 2]
