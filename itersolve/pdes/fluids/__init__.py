"""Incompressible flow on a MAC (staggered) grid: pressure-Poisson systems and 2-D Navier–Stokes.

NumPy/SciPy only (the NeuralStagger networks in :mod:`itersolve.pdes.stagger`
bring JAX; the operators here accept JAX arrays as well).

- obstacles (boolean solid-cell masks, unit-cube coordinates): :func:`box`,
  :func:`ball`, :func:`random_obstacles`, :func:`connected_fluid`, :func:`cell_centers`
- pressure Poisson (deep conjugate directions): :func:`pressure_system` →
  :class:`PressureSystem` (matrix, grid ↔ vector mapping, null space),
  right-hand sides :func:`random_rhs`, :func:`divergence_rhs` of :func:`random_velocity`
- Navier–Stokes (NeuralStagger): operators :func:`curl` (and its inverse
  :func:`stream_function`), :func:`divergence`,
  :func:`gradient`, :func:`laplacian`, :func:`advection`, :func:`vorticity`;
  environments :func:`channel`, :func:`cylinder`, :func:`held_out_layout`,
  :func:`random_environment`, :func:`poiseuille`; the physics residual
  :func:`momentum_residual` / :func:`physics_loss`; the numerical reference
  :class:`ProjectionSolver` (projection method, PCG pressure solves)

Examples
--------
>>> from itersolve.pdes.fluids import ball, pressure_system, random_rhs
>>> system = pressure_system(ball((32, 32), (0.5, 0.5), 0.2))
>>> b = random_rhs(system, seed=1)
>>> system.A.shape == (b.size, b.size)
True
"""

from .mac import advection, curl, divergence, gradient, laplacian, stream_function, vorticity
from .navier_stokes import (
    Environment,
    Physics,
    channel,
    cylinder,
    held_out_layout,
    momentum_residual,
    physics_loss,
    poiseuille,
    random_environment,
)
from .obstacles import ball, box, cell_centers, connected_fluid, random_obstacles
from .pressure import PressureSystem, divergence_rhs, face_names, pressure_system, random_rhs, random_velocity
from .reference import ProjectionSolver, pressure_matrix

__all__ = [
    "Environment",
    "Physics",
    "PressureSystem",
    "ProjectionSolver",
    "advection",
    "ball",
    "box",
    "cell_centers",
    "channel",
    "connected_fluid",
    "curl",
    "cylinder",
    "divergence",
    "divergence_rhs",
    "face_names",
    "gradient",
    "held_out_layout",
    "laplacian",
    "momentum_residual",
    "physics_loss",
    "poiseuille",
    "pressure_matrix",
    "pressure_system",
    "random_environment",
    "random_obstacles",
    "random_rhs",
    "random_velocity",
    "stream_function",
    "vorticity",
]
