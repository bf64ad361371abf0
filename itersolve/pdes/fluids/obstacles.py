"""Solid-obstacle masks for cell-centred grids: boxes, balls and random unions of them.

Every function returns a boolean array of shape ``(nx, ny)`` or
``(nx, ny, nz)`` with ``True`` on *solid* cells. Coordinates are in
unit-cube units: cell ``(i, j[, k])`` of an ``(nx, ny[, nz])`` grid has its
centre at ``((i + 0.5)/nx, (j + 0.5)/ny[, (k + 0.5)/nz])``, so the same
obstacle description gives the same geometry at every resolution. A cell is
solid when its centre lies inside the shape (boundaries included).

Masks combine with NumPy's ``|``, ``&`` and ``~``; the only rule for
:mod:`~itersolve.pdes.fluids.pressure` is that at least one cell stays fluid.
:func:`connected_fluid` fills the fluid pockets that are cut off from the
largest fluid region, and :func:`random_obstacles` applies it, so its fluid
region is always one face-connected piece.

Examples
--------
>>> from itersolve.pdes.fluids.obstacles import ball, box, random_obstacles
>>> solid = box((8, 8), (0.0, 0.0), (0.25, 1.0)) | ball((8, 8), (0.75, 0.5), 0.2)
>>> solid.shape, int(solid.sum())
((8, 8), 28)
>>> mask = random_obstacles((16, 16, 16), count=3, seed=1)
>>> mask.dtype, bool(0 < mask.mean() < 0.5)
(dtype('bool'), True)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

__all__ = ["box", "ball", "random_obstacles", "connected_fluid", "cell_centers"]


def _grid_shape(shape: Sequence[int]) -> tuple[int, ...]:
    try:
        out = tuple(int(s) for s in shape)
    except TypeError:
        raise TypeError(f"shape must be a tuple of 2 or 3 ints, got {shape!r}") from None
    if len(out) not in (2, 3):
        raise ValueError(f"shape must have 2 or 3 entries (a 2-D or 3-D grid), got {out}")
    if any(s < 1 for s in out):
        raise ValueError(f"shape entries must be >= 1, got {out}")
    return out


def _point(value: Sequence[float] | float, ndim: int, name: str) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(ndim, float(arr))
    if arr.shape != (ndim,):
        raise ValueError(f"{name} must have {ndim} coordinates for a {ndim}-D grid, got {arr.tolist()}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {arr.tolist()}")
    return arr


def cell_centers(shape: Sequence[int]) -> list[np.ndarray]:
    """Cell-centre coordinates in unit-cube units, one broadcastable array per axis.

    Examples
    --------
    >>> x, y = cell_centers((2, 4))
    >>> x.ravel().tolist(), y.ravel().tolist()
    ([0.25, 0.75], [0.125, 0.375, 0.625, 0.875])
    """
    shape = _grid_shape(shape)
    return list(np.meshgrid(*[(np.arange(n) + 0.5) / n for n in shape], indexing="ij", sparse=True))


def box(shape: Sequence[int], lo: Sequence[float], hi: Sequence[float]) -> np.ndarray:
    """Solid mask of the axis-aligned box ``lo <= x <= hi`` (unit-cube coordinates).

    Examples
    --------
    >>> box((4, 4), (0.0, 0.5), (0.5, 1.0)).astype(int)
    array([[0, 0, 1, 1],
           [0, 0, 1, 1],
           [0, 0, 0, 0],
           [0, 0, 0, 0]])
    """
    shape = _grid_shape(shape)
    lo_, hi_ = _point(lo, len(shape), "lo"), _point(hi, len(shape), "hi")
    if np.any(hi_ < lo_):
        raise ValueError(f"box corners must satisfy lo <= hi, got lo={lo_.tolist()}, hi={hi_.tolist()}")
    mask = np.ones(shape, dtype=bool)
    for c, a, b in zip(cell_centers(shape), lo_, hi_):
        mask &= (c >= a) & (c <= b)
    return mask


def ball(shape: Sequence[int], center: Sequence[float], radius: float) -> np.ndarray:
    """Solid mask of the disc (2-D) or sphere (3-D) ``|x - center| <= radius``.

    Examples
    --------
    >>> ball((5, 5), (0.5, 0.5), 0.3).astype(int)
    array([[0, 0, 0, 0, 0],
           [0, 1, 1, 1, 0],
           [0, 1, 1, 1, 0],
           [0, 1, 1, 1, 0],
           [0, 0, 0, 0, 0]])
    """
    shape = _grid_shape(shape)
    c = _point(center, len(shape), "center")
    radius = float(radius)
    if not np.isfinite(radius) or radius < 0:
        raise ValueError(f"radius must be a finite number >= 0, got {radius}")
    dist2 = sum((x - ci) ** 2 for x, ci in zip(cell_centers(shape), c))
    return np.broadcast_to(dist2 <= radius**2, shape).copy()


def connected_fluid(solid: np.ndarray) -> np.ndarray:
    """``solid`` with every fluid cell outside the largest face-connected fluid region made solid.

    Pockets of fluid enclosed by obstacles are physically stagnant; filling
    them keeps one fluid region, so a closed box has exactly one null-space
    mode (the constant pressure). A mask with no fluid cell is returned as is.

    Examples
    --------
    >>> solid = box((5, 5), (0.2, 0.0), (0.4, 1.0))  # a wall on row 1 cuts off row 0
    >>> connected_fluid(solid).sum(axis=1).tolist()
    [5, 5, 0, 0, 0]
    """
    solid = np.asarray(solid, dtype=bool)
    labels, count = ndimage.label(~solid)
    if count <= 1:
        return solid.copy()
    sizes = np.bincount(labels.ravel())[1:]
    return labels != 1 + int(np.argmax(sizes))


def random_obstacles(
    shape: Sequence[int],
    *,
    count: int = 4,
    seed: int | None = 0,
    size: tuple[float, float] = (0.06, 0.2),
    max_fill: float = 0.35,
    margin: float = 0.05,
) -> np.ndarray:
    """A random union of ``count`` boxes and balls, with one connected fluid region.

    Each obstacle is a box (half-widths drawn in ``size``) or a ball (radius
    drawn in ``size``), its centre kept ``margin`` away from the domain faces.
    An obstacle that would push the solid fraction above ``max_fill`` is
    skipped (so fewer than ``count`` may be placed, and the domain is never
    filled). Finally fluid pockets cut off from the largest fluid region are
    filled (:func:`connected_fluid`). The same ``seed`` gives the same
    geometry in unit-cube coordinates at every resolution (up to the cells it
    rasterises to).

    Parameters
    ----------
    shape : tuple of 2 or 3 ints
    count : int
        Obstacles to try to place.
    seed : int or None
        Seed of ``numpy.random.default_rng``.
    size : (float, float)
        Range of half-widths and radii, in unit-cube units.
    max_fill : float
        Largest solid fraction, in (0, 1).
    margin : float
        Distance of obstacle centres from the domain faces.

    Returns
    -------
    ndarray of bool, shape ``shape``
        ``True`` on solid cells.

    Examples
    --------
    >>> a = random_obstacles((32, 32), count=5, seed=3)
    >>> b = random_obstacles((64, 64), count=5, seed=3)
    >>> bool(abs(a.mean() - b.mean()) < 0.05)
    True
    """
    shape = _grid_shape(shape)
    if int(count) < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    if not 0.0 < float(max_fill) < 1.0:
        raise ValueError(f"max_fill must lie in (0, 1), got {max_fill}")
    lo_size, hi_size = (float(s) for s in size)
    if not 0.0 < lo_size <= hi_size:
        raise ValueError(f"size must be (lo, hi) with 0 < lo <= hi, got {size}")
    ndim = len(shape)
    rng = np.random.default_rng(seed)
    solid = np.zeros(shape, dtype=bool)
    for _ in range(int(count)):
        center = rng.uniform(margin, 1.0 - margin, ndim)
        if rng.random() < 0.5:
            half = rng.uniform(lo_size, hi_size, ndim)
            piece = box(shape, np.clip(center - half, 0, 1), np.clip(center + half, 0, 1))
        else:
            piece = ball(shape, center, rng.uniform(lo_size, hi_size))
        candidate = connected_fluid(solid | piece)
        if candidate.mean() <= max_fill:
            solid = candidate
    return solid
