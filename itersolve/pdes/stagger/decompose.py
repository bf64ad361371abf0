"""Spatial and temporal decomposition of NeuralStagger (Huang et al., ICML 2023), for NumPy and JAX arrays.

:func:`space_to_depth` splits a fine field of shape ``(..., H, W)`` into the
``s*s`` interleaved coarse fields ``x[..., di::s, dj::s]``, stacked on a new
axis in the order ``k = di * s + dj``; :func:`depth_to_space` puts them back.
:func:`temporal_windows` cuts a trajectory into windows of ``s_T`` steps, the
unit one call of a temporally decomposed model predicts.

Examples
--------
>>> import numpy as np
>>> x = np.arange(16.0).reshape(4, 4)
>>> c = space_to_depth(x, 2)
>>> c.shape, c[1].tolist()
((4, 2, 2), [[1.0, 3.0], [9.0, 11.0]])
>>> bool((depth_to_space(c, 2) == x).all())
True
"""

from __future__ import annotations

from typing import Any

from ..fluids.mac import namespace

__all__ = ["space_to_depth", "depth_to_space", "temporal_windows", "check_factor"]

Array = Any


def check_factor(shape: tuple[int, ...], s: int) -> None:
    """Raise ``ValueError`` unless ``s >= 1`` divides both of the last two sizes of ``shape``.

    Examples
    --------
    >>> check_factor((8, 12), 4)
    >>> check_factor((8, 12), 3)
    Traceback (most recent call last):
    ...
    ValueError: s = 3 must divide the grid (8, 12)
    """
    if not isinstance(s, int) or isinstance(s, bool) or s < 1:
        raise ValueError(f"s must be a positive integer, got {s!r}")
    if len(shape) < 2:
        raise ValueError(f"need at least 2 axes (H, W), got shape {tuple(shape)}")
    H, W = shape[-2:]
    if H % s or W % s:
        raise ValueError(f"s = {s} must divide the grid ({H}, {W})")


def space_to_depth(x: Array, s: int) -> Array:
    """``(..., H, W) -> (..., s*s, H/s, W/s)``: coarse field ``di * s + dj`` is ``x[..., di::s, dj::s]``.

    Examples
    --------
    >>> import numpy as np
    >>> space_to_depth(np.zeros((3, 6, 4)), 2).shape
    (3, 4, 3, 2)
    """
    check_factor(x.shape, s)
    xp = namespace(x)
    *lead, H, W = x.shape
    y = xp.reshape(x, (*lead, H // s, s, W // s, s))
    n = len(lead)
    y = xp.transpose(y, (*range(n), n + 1, n + 3, n, n + 2))
    return xp.reshape(y, (*lead, s * s, H // s, W // s))


def depth_to_space(x: Array, s: int) -> Array:
    """Inverse of :func:`space_to_depth`: ``(..., s*s, h, w) -> (..., h*s, w*s)``.

    Examples
    --------
    >>> import numpy as np
    >>> depth_to_space(np.zeros((4, 3, 2)), 2).shape
    (6, 4)
    """
    if not isinstance(s, int) or isinstance(s, bool) or s < 1:
        raise ValueError(f"s must be a positive integer, got {s!r}")
    if x.ndim < 3 or x.shape[-3] != s * s:
        raise ValueError(f"expected shape (..., {s * s}, h, w) for s = {s}, got {tuple(x.shape)}")
    xp = namespace(x)
    *lead, _, h, w = x.shape
    y = xp.reshape(x, (*lead, s, s, h, w))
    n = len(lead)
    y = xp.transpose(y, (*range(n), n + 2, n, n + 3, n + 1))
    return xp.reshape(y, (*lead, h * s, w * s))


def temporal_windows(trajectory: Array, st: int) -> Array:
    """``(T, ...) -> (T // st, st, ...)``: consecutive windows of ``st`` steps (``st`` must divide ``T``).

    Examples
    --------
    >>> import numpy as np
    >>> temporal_windows(np.arange(6), 2).tolist()
    [[0, 1], [2, 3], [4, 5]]
    """
    if not isinstance(st, int) or isinstance(st, bool) or st < 1:
        raise ValueError(f"st must be a positive integer, got {st!r}")
    T = trajectory.shape[0]
    if T % st:
        raise ValueError(f"st = {st} must divide the number of steps {T}")
    xp = namespace(trajectory)
    return xp.reshape(trajectory, (T // st, st, *trajectory.shape[1:]))
