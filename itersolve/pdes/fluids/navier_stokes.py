"""2-D incompressible Navier–Stokes in a channel with obstacles: environments and the physics residual.

An :class:`Environment` is a ``(H, W)`` MAC grid (see :mod:`.mac`) with
no-slip walls on the first and last rows, an inflow column on the left and an
outflow column on the right, both with the same parabolic profile of mean
speed ``speed`` (so the prescribed fluxes balance), and solid obstacles inside.
Its :attr:`~Environment.boundary` stacks, per staggered face, whether the face
is *fluid* (both neighbouring cells fluid: the momentum equation holds there)
or *conditioned* (next to a solid, inflow or outflow cell: the velocity is
prescribed, zero at solids, the profile at inflow/outflow).

The physics residual is that of Wandel, Weinmann & Klein (ICLR 2021): with
``v = curl(a)`` divergence-free by construction and the IMEX average
``vbar = (v_old + v_new) / 2``,

``r = rho ((v_new - v_old) / dt + (vbar . grad) vbar) + grad p_new - mu lap vbar``

on fluid faces, and :func:`physics_loss` adds the boundary mismatch
``v_new - v_target`` on conditioned faces with a higher weight. The numerical
reference (:mod:`.reference`) solves exactly these discrete equations.

Examples
--------
>>> import numpy as np
>>> from itersolve.pdes.fluids.navier_stokes import Physics, channel, poiseuille, momentum_residual
>>> env = channel((12, 16), speed=1.0)
>>> a, p = poiseuille(env, Physics())
>>> ru, rv = momentum_residual(a, a, p, Physics())
>>> fu, fv = env.boundary[0], env.boundary[1]
>>> float(np.abs(ru * fu).max() + np.abs(rv * fv).max()) < 1e-12
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .mac import advection, curl, gradient, laplacian, namespace, shift

__all__ = [
    "Physics",
    "Environment",
    "BOUNDARY_CHANNELS",
    "channel",
    "cylinder",
    "CYLINDER_RADIUS",
    "held_out_layout",
    "random_environment",
    "TRAINING_SPEEDS",
    "profile",
    "poiseuille",
    "momentum_residual",
    "physics_loss",
]

Array = Any

#: The rows of :attr:`Environment.boundary`.
BOUNDARY_CHANNELS = ("fluid_u", "fluid_v", "cond_u", "cond_v", "u_target", "v_target")


@dataclass(frozen=True)
class Physics:
    """Density ``rho``, dynamic viscosity ``mu``, time step ``dt`` and grid spacing ``h``.

    The defaults give a cylinder Reynolds number ``speed * D * rho / mu = 80``
    for a diameter of 8 cells at mean speed 1: vortex shedding.

    Examples
    --------
    >>> Physics().nu
    0.1
    """

    rho: float = 1.0
    mu: float = 0.1
    dt: float = 1.0
    h: float = 1.0

    @property
    def nu(self) -> float:
        """Kinematic viscosity ``mu / rho``."""
        return self.mu / self.rho


def profile(height: int, speed: float) -> np.ndarray:
    """Parabolic inflow profile at the u-faces of each row: zero on the wall rows, mean ``speed`` between.

    Examples
    --------
    >>> profile(6, 1.0).round(3).tolist()
    [0.0, 0.8, 1.2, 1.2, 0.8, 0.0]
    """
    i = np.arange(height, dtype=float)
    shape = i * (height - 1 - i)
    return speed * shape / shape[1:-1].mean()


@dataclass
class Environment:
    """A channel: walls top and bottom, inflow left, outflow right, solid obstacles.

    Build one with :func:`channel`, :func:`cylinder`, :func:`held_out_layout` or
    :func:`random_environment`.

    Attributes
    ----------
    solid : ndarray of bool, shape (H, W)
        Walls and obstacles.
    speed : float
        Mean inflow (and outflow) speed.
    io : ndarray of bool
        Inflow and outflow cells (first and last column, off the walls).
    fluid : ndarray of bool
        Cells where the continuity equation holds.
    boundary : ndarray of float64, shape (6, H, W)
        :data:`BOUNDARY_CHANNELS`: fluid-face masks, conditioned-face masks and
        the prescribed face velocities.
    """

    solid: np.ndarray
    speed: float
    io: np.ndarray = field(init=False)
    fluid: np.ndarray = field(init=False)
    boundary: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        solid = np.asarray(self.solid, dtype=bool)
        if solid.ndim != 2 or min(solid.shape) < 4:
            raise ValueError(f"solid must be a 2-D mask of at least 4x4 cells, got shape {solid.shape}")
        if not np.isfinite(self.speed):
            raise ValueError(f"speed must be finite, got {self.speed}")
        solid = solid.copy()
        solid[0, :] = solid[-1, :] = True
        io = np.zeros_like(solid)
        io[:, 0] = io[:, -1] = True
        solid[:, [0, -1]] = False
        solid[0, :] = solid[-1, :] = True
        io &= ~solid
        self.solid, self.io = solid, io
        self.fluid = ~(solid | io)
        F = self.fluid
        fluid_u = F & shift(F, 0, -1)
        fluid_v = F & shift(F, -1, 0)
        near_solid_u = solid | shift(solid, 0, -1)
        prof = np.broadcast_to(profile(solid.shape[0], float(self.speed))[:, None], solid.shape)
        u_target = np.where(near_solid_u, 0.0, prof) * ~fluid_u
        self.boundary = np.stack([fluid_u, fluid_v, ~fluid_u, ~fluid_v, u_target, np.zeros(solid.shape)]).astype(float)

    @property
    def shape(self) -> tuple[int, int]:
        """``(H, W)``."""
        return self.solid.shape  # type: ignore[return-value]


def _unit_mask(shape: tuple[int, int], make: Callable[[tuple[int, int]], np.ndarray]) -> np.ndarray:
    """Rasterise a mask given in coordinates where the channel length W is 1 (so circles stay circles)."""
    H, W = shape
    return np.asarray(make((W, W))).T[:H]


def channel(shape: tuple[int, int], speed: float = 1.0, solid: np.ndarray | None = None) -> Environment:
    """A channel of ``shape = (H, W)`` cells with mean inflow ``speed`` and optional obstacles ``solid``.

    Examples
    --------
    >>> env = channel((8, 10), 0.5)
    >>> env.shape, int(env.fluid.sum())
    ((8, 10), 48)
    """
    shape = tuple(int(n) for n in shape)
    base = np.zeros(shape, dtype=bool) if solid is None else np.asarray(solid, dtype=bool)
    if base.shape != shape:
        raise ValueError(f"solid has shape {base.shape}, expected {shape}")
    return Environment(base, float(speed))


#: Radius of the default :func:`cylinder`, in units of the channel length ``W`` (a diameter of ``W / 8`` cells).
CYLINDER_RADIUS = 0.0625


def cylinder(shape: tuple[int, int], speed: float = 1.0, center: tuple[float, float] = (0.25, 0.245),
             radius: float = CYLINDER_RADIUS) -> Environment:
    """Flow past a cylinder; ``center`` and ``radius`` in units of the channel length ``W``.

    The default sits slightly below the channel axis of a ``(32, 64)`` grid
    (so the wake sheds vortices without an extra perturbation) with a diameter of 8 cells.

    Examples
    --------
    >>> env = cylinder((32, 64))
    >>> int(env.solid[1:-1].sum())
    50
    """
    from .obstacles import ball

    return channel(shape, speed, _unit_mask(shape, lambda s: ball(s, center, radius)))


def held_out_layout(shape: tuple[int, int], speed: float = 1.0) -> Environment:
    """A fixed layout never drawn in training: a plate across the upper half and a small cylinder below, staggered.

    Examples
    --------
    >>> bool(held_out_layout((32, 64)).solid[1:-1, 1:-1].any())
    True
    """
    from .obstacles import ball, box

    H, W = shape
    ymax = H / W

    def make(s: tuple[int, int]) -> np.ndarray:
        plate = box(s, (0.2, 0.55 * ymax), (0.23, 0.8 * ymax))
        return plate | ball(s, (0.4, 0.3 * ymax), 0.04)

    return channel(shape, speed, _unit_mask(shape, make))


#: Default range of the inflow speeds of :func:`random_environment` (training environments).
TRAINING_SPEEDS = (0.5, 1.5)


def random_environment(shape: tuple[int, int], rng: np.random.Generator,
                       speed_range: tuple[float, float] = TRAINING_SPEEDS) -> Environment:
    """A training environment: a random cylinder, or random boxes and balls, and a random inflow speed.

    Obstacles stay in the first three quarters of the channel, clear of the inflow; the inflow speed is
    uniform in ``speed_range``.

    Raises
    ------
    ValueError
        If ``speed_range`` is not ``(low, high)`` with ``0 < low <= high < inf``.

    Examples
    --------
    >>> env = random_environment((32, 64), np.random.default_rng(0))
    >>> 0.5 <= env.speed <= 1.5
    True
    >>> random_environment((32, 64), np.random.default_rng(0), (1.5, 0.5))
    Traceback (most recent call last):
    ...
    ValueError: speed_range must be (low, high) with 0 < low <= high < inf, got (1.5, 0.5)
    """
    from .obstacles import ball, random_obstacles

    lo, hi = (float(x) for x in speed_range)
    if not (0.0 < lo <= hi < np.inf):
        raise ValueError(f"speed_range must be (low, high) with 0 < low <= high < inf, got {tuple(speed_range)}")
    H, W = shape
    speed = float(rng.uniform(lo, hi))
    if rng.random() < 0.5:
        c = (rng.uniform(0.15, 0.4), rng.uniform(0.3, 0.7) * H / W)
        r = rng.uniform(0.03, 0.08)
        return channel(shape, speed, _unit_mask(shape, lambda s: ball(s, c, r)))
    mask = random_obstacles((W, H), count=int(rng.integers(1, 4)), seed=int(rng.integers(2**31)),
                            size=(0.06, 0.15), max_fill=0.25).T.copy()
    mask[:, : max(2, W // 10)] = False
    mask[:, int(0.75 * W):] = False
    return channel(shape, speed, mask)


def poiseuille(env: Environment, physics: Physics) -> tuple[np.ndarray, np.ndarray]:
    """Exact discrete steady state ``(a, p)`` of an obstacle-free channel: parabolic profile, linear pressure.

    Examples
    --------
    >>> a, p = poiseuille(channel((6, 8), 1.0), Physics())
    >>> a[:, 0].round(3).tolist()
    [0.0, 0.0, 0.8, 2.0, 3.2, 4.0]
    """
    H, W = env.shape
    u = profile(H, env.speed)
    a = np.concatenate([[0.0], np.cumsum(u[:-1])])[:, None] * np.ones((1, W))
    curvature = u[2] - 2 * u[1] + u[0]  # the same at every row for a parabola
    p = physics.mu * curvature / physics.h * np.arange(W)[None, :] * np.ones((H, 1))
    return a * physics.h, p


def momentum_residual(a_old: Array, a_new: Array, p_new: Array, physics: Physics) -> tuple[Array, Array]:
    """The IMEX momentum residual at the u- and v-faces (all faces; mask with the fluid-face masks).

    Examples
    --------
    >>> a = np.zeros((6, 6)); ru, rv = momentum_residual(a, a, a, Physics())
    >>> float(abs(ru).max()), float(abs(rv).max())
    (0.0, 0.0)
    """
    h, rho, mu, dt = physics.h, physics.rho, physics.mu, physics.dt
    u0, v0 = curl(a_old, h)
    u1, v1 = curl(a_new, h)
    ub, vb = 0.5 * (u0 + u1), 0.5 * (v0 + v1)
    au, av = advection(ub, vb, h)
    gx, gy = gradient(p_new, h)
    ru = rho * ((u1 - u0) / dt + au) + gx - mu * laplacian(ub, h)
    rv = rho * ((v1 - v0) / dt + av) + gy - mu * laplacian(vb, h)
    return ru, rv


def physics_loss(a_old: Array, a_new: Array, p_new: Array, boundary: Array, physics: Physics,
                 boundary_weight: float = 20.0) -> Array:
    """Per-sample physics loss: mean squared momentum residual on fluid faces + weighted boundary mismatch.

    ``a_*`` and ``p_new`` have shape ``(..., H, W)``, ``boundary`` ``(..., 6, H, W)``;
    the result has the leading shape ``(...)``.

    Examples
    --------
    >>> env = channel((10, 12), 1.0)
    >>> a, p = poiseuille(env, Physics())
    >>> float(physics_loss(a, a, p, env.boundary, Physics())) < 1e-20
    True
    >>> float(physics_loss(a, 0 * a, p, env.boundary, Physics())) > 0.1
    True
    """
    xp = namespace(a_new)
    ru, rv = momentum_residual(a_old, a_new, p_new, physics)
    u1, v1 = curl(a_new, physics.h)
    fu, fv, cu, cv, ut, vt = (boundary[..., k, :, :] for k in range(6))
    momentum = xp.mean(fu * ru**2 + fv * rv**2, axis=(-2, -1))
    bound = xp.mean(cu * (u1 - ut) ** 2 + cv * (v1 - vt) ** 2, axis=(-2, -1))
    return momentum + boundary_weight * bound
