"""Discrete operators of 2-D incompressible flow on a MAC (staggered) grid, for NumPy and JAX arrays.

Layout. Every field is an array whose last two axes are ``(H, W)`` (rows are
``y``, columns ``x``; spacing ``h``); leading axes are batch axes. Cell
``(i, j)`` spans ``[j, j+1] x [i, i+1]`` (in units of ``h``) and

- the stream function ``a[i, j]`` lives at its lower-left vertex ``(j, i)``,
- the x-velocity ``u[i, j]`` at its left face ``(j, i + 1/2)``,
- the y-velocity ``v[i, j]`` at its bottom face ``(j + 1/2, i)``,
- the pressure ``p[i, j]`` at its centre ``(j + 1/2, i + 1/2)``.

All fields having the same shape is what lets
:func:`itersolve.pdes.stagger.space_to_depth` split every one of them alike.
Neighbours outside the array are the nearest edge value (edge replication); the
outermost cells are walls, inflow or outflow cells in every problem here, so
the replicated values only ever enter boundary terms.

Each function accepts NumPy or JAX arrays and returns the same kind (the JAX
versions are traced, jitted and differentiated like any ``jax.numpy`` code).

Examples
--------
>>> import numpy as np
>>> from itersolve.pdes.fluids.mac import curl, divergence
>>> a = np.random.default_rng(0).standard_normal((8, 12))
>>> u, v = curl(a)
>>> float(np.abs(divergence(u, v)).max()) < 1e-12
True
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

__all__ = ["shift", "curl", "stream_function", "divergence", "gradient", "laplacian", "advection", "vorticity",
           "namespace"]

Array = Any


def namespace(x: Array) -> ModuleType:
    """``jax.numpy`` for JAX arrays and tracers, ``numpy`` otherwise (JAX is imported only if ``x`` is one).

    Examples
    --------
    >>> namespace(np.zeros(2)).__name__
    'numpy'
    """
    if type(x).__module__.startswith("jax"):
        import jax.numpy as jnp

        return jnp
    return np


def shift(f: Array, di: int, dj: int) -> Array:
    """``g[..., i, j] = f[..., i + di, j + dj]`` with indices clipped to the array (``|di|, |dj| <= 1``).

    Examples
    --------
    >>> shift(np.arange(3.0)[None, :], 0, 1).tolist()
    [[1.0, 2.0, 2.0]]
    """
    if abs(di) > 1 or abs(dj) > 1:
        raise ValueError(f"shift supports offsets -1, 0, 1 only, got ({di}, {dj})")
    xp = namespace(f)
    H, W = f.shape[-2:]
    pad = [(0, 0)] * (f.ndim - 2) + [(1, 1), (1, 1)]
    g = xp.pad(f, pad, mode="edge")
    return g[..., 1 + di:1 + di + H, 1 + dj:1 + dj + W]


def curl(a: Array, h: float = 1.0) -> tuple[Array, Array]:
    """Staggered velocity ``(u, v) = (da/dy, -da/dx)`` of the vertex stream function ``a``.

    The discrete divergence of the result is zero in exact arithmetic, for any ``a``.

    Examples
    --------
    >>> a = np.outer(np.arange(4.0), np.ones(3))  # a = y: uniform flow in +x
    >>> u, v = curl(a)
    >>> u[:3].tolist(), float(abs(v).max())
    ([[1.0, 1.0, 1.0], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0]], 0.0)
    """
    return (shift(a, 1, 0) - a) / h, (a - shift(a, 0, 1)) / h


def stream_function(u: Array, v: Array, h: float = 1.0, rtol: float = 1e-6) -> np.ndarray:
    """The vertex stream function ``a`` with ``curl(a, h) == (u, v)`` and ``a[0, 0] = 0`` (NumPy).

    The inverse of :func:`curl`: ``a`` is integrated along the bottom row
    from ``v`` and up every column from ``u``. A staggered velocity is a curl
    exactly when it is discretely divergence-free in every cell, with
    ``u = 0`` on the top row and ``v = 0`` on the last column (what
    :func:`curl`'s edge replication gives); a projection method's velocity
    is one to its pressure solver's tolerance. This is how a state of
    :class:`~itersolve.pdes.fluids.reference.ProjectionSolver` becomes the
    starting state of a stream-function network.

    Raises
    ------
    ValueError
        If ``u`` and ``v`` differ in shape, or ``curl(a)`` misses ``(u, v)``
        by more than ``rtol`` times their largest magnitude (the field is not
        a discrete curl: it has divergence, or flow through the top row or
        the last column).

    Examples
    --------
    >>> a = np.random.default_rng(0).standard_normal((5, 7))
    >>> b = stream_function(*curl(a, 0.5), 0.5)
    >>> bool(np.allclose(b, a - a[0, 0]))
    True
    >>> stream_function(np.ones((3, 3)), np.zeros((3, 3)))
    Traceback (most recent call last):
    ...
    ValueError: (u, v) is not the curl of a stream function: ...
    """
    u, v = np.asarray(u, dtype=float), np.asarray(v, dtype=float)
    if u.shape != v.shape or u.ndim != 2:
        raise ValueError(f"u and v must be 2-D arrays of one shape, got {u.shape} and {v.shape}")
    a = np.zeros_like(u)
    a[0, 1:] = -h * np.cumsum(v[0, :-1])
    a[1:] = a[0] + h * np.cumsum(u[:-1], axis=0)
    cu, cv = curl(a, h)
    miss = max(float(np.abs(cu - u).max()), float(np.abs(cv - v).max()))
    scale = max(float(np.abs(u).max()), float(np.abs(v).max()), np.finfo(float).tiny)
    if not miss <= rtol * scale:
        raise ValueError(f"(u, v) is not the curl of a stream function: curl(a) misses it by {miss:.3g} "
                         f"(> rtol * max|u, v| = {rtol * scale:.3g}); is it divergence-free?")
    return a


def divergence(u: Array, v: Array, h: float = 1.0) -> Array:
    """Cell-centred divergence ``du/dx + dv/dy`` of a staggered velocity.

    Examples
    --------
    >>> u = np.tile(np.arange(4.0), (3, 1))  # u = x
    >>> divergence(u, np.zeros((3, 4)))[:, :3].tolist()
    [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    """
    return (shift(u, 0, 1) - u + shift(v, 1, 0) - v) / h


def gradient(p: Array, h: float = 1.0) -> tuple[Array, Array]:
    """Pressure gradient ``(dp/dx at u-faces, dp/dy at v-faces)``.

    Examples
    --------
    >>> gx, gy = gradient(np.tile(2.0 * np.arange(4.0), (3, 1)))
    >>> gx[0].tolist(), float(abs(gy).max())
    ([0.0, 2.0, 2.0, 2.0], 0.0)
    """
    return (p - shift(p, 0, -1)) / h, (p - shift(p, -1, 0)) / h


def laplacian(f: Array, h: float = 1.0) -> Array:
    """Five-point Laplacian of a field on any one of the staggered positions.

    Examples
    --------
    >>> y = np.arange(6.0)[:, None] * np.ones((1, 4))
    >>> laplacian(y ** 2)[1:-1].tolist()[0]
    [2.0, 2.0, 2.0, 2.0]
    """
    return (shift(f, 1, 0) + shift(f, -1, 0) + shift(f, 0, 1) + shift(f, 0, -1) - 4.0 * f) / (h * h)


def advection(u: Array, v: Array, h: float = 1.0) -> tuple[Array, Array]:
    """Convective term ``(v . grad) v`` with central differences, at the u- and v-faces.

    ``v`` is averaged from the four nearest v-faces to each u-face and ``u``
    from the four nearest u-faces to each v-face.

    Examples
    --------
    >>> u = np.ones((4, 5)); v = np.zeros((4, 5))
    >>> [float(abs(c).max()) for c in advection(u, v)]
    [0.0, 0.0]
    """
    v_at_u = 0.25 * (v + shift(v, 0, -1) + shift(v, 1, 0) + shift(v, 1, -1))
    u_at_v = 0.25 * (u + shift(u, 0, 1) + shift(u, -1, 0) + shift(u, -1, 1))
    adv_u = (u * (shift(u, 0, 1) - shift(u, 0, -1)) + v_at_u * (shift(u, 1, 0) - shift(u, -1, 0))) / (2.0 * h)
    adv_v = (u_at_v * (shift(v, 0, 1) - shift(v, 0, -1)) + v * (shift(v, 1, 0) - shift(v, -1, 0))) / (2.0 * h)
    return adv_u, adv_v


def vorticity(u: Array, v: Array, h: float = 1.0) -> Array:
    """Vorticity ``dv/dx - du/dy`` at the vertices (where ``a`` lives); for plots and probes.

    Examples
    --------
    >>> u = np.arange(5.0)[:, None] * np.ones((1, 4))  # u = y: shear flow
    >>> float(vorticity(u, np.zeros((5, 4)))[2, 2])
    -1.0
    """
    return ((v - shift(v, 0, -1)) - (u - shift(u, -1, 0))) / h
