"""The numerical reference for NeuralStagger: a projection method on the MAC grid with PCG pressure solves.

:class:`ProjectionSolver` solves the *same* discrete equations as the physics
loss of :mod:`.navier_stokes` (IMEX average of old and new velocity, central
advection, five-point viscosity), so a network's error against it measures
what the network failed to learn, not a mismatch of discretisations. Each
time step ``dt`` is split into ``substeps``; each substep runs ``picard``
fixed-point iterations

1. ``v* = v_old - dt' ((vbar . grad) vbar - nu lap vbar)`` on fluid faces, prescribed values elsewhere,
2. ``-D G p = -(rho / dt') div v*`` on the fluid cells (PCG: :func:`itersolve.cg`),
3. ``v_new = v* - (dt' / rho) G p`` on fluid faces,

with ``vbar = (v_old + v_new) / 2`` from the previous iterate. The pressure
matrix is the graph Laplacian of the fluid cells (faces to conditioned
cells are closed: Neumann), made definite by adding 1 to the diagonal of one
cell per connected fluid region; the prescribed fluxes balance, so that cell's
pressure is zero and the solution is the exact projection. The preconditioner
(AMG or IC(0)) is built once per geometry. After every step the divergence on
fluid cells is ``dt'/rho`` times the PCG residual: mass is conserved to solver
tolerance.

Examples
--------
>>> import numpy as np
>>> from itersolve.pdes.fluids.navier_stokes import Physics, cylinder
>>> from itersolve.pdes.fluids.reference import ProjectionSolver
>>> solver = ProjectionSolver(cylinder((16, 32)), Physics(), rtol=1e-10)
>>> u, v = solver.initial_state()
>>> u, v, p = solver.step(u, v)
>>> bool(solver.max_divergence(u, v) < 1e-8)
True
"""

from __future__ import annotations

import time
from typing import Literal

import numpy as np
import scipy.sparse as sp

from ...preconditioners import AMG, IC0
from ...solvers import cg
from .mac import advection, curl, divergence, gradient, laplacian
from .navier_stokes import Environment, Physics, poiseuille
from .pressure import pressure_system

__all__ = ["ProjectionSolver", "pressure_matrix"]


def pressure_matrix(fluid: np.ndarray) -> sp.csr_matrix:
    """``-D G`` on the fluid cells (row-major order), with 1 added to the diagonal of one cell per fluid region.

    This is the closed-box :func:`~itersolve.pdes.fluids.pressure.pressure_system`
    (Neumann on every wall and obstacle) made definite by pinning the first
    cell of each face-connected fluid region.

    Examples
    --------
    >>> A = pressure_matrix(np.ones((3, 3), bool))
    >>> A.shape, float(A.sum())
    ((9, 9), 1.0)
    """
    system = pressure_system(~np.asarray(fluid, dtype=bool), open_faces=())
    pinned = np.zeros(system.n)
    pinned[np.argmax(system.nullspace != 0, axis=0)] = 1.0  # first cell of each region
    return sp.csr_matrix(system.A + sp.diags(pinned))


class ProjectionSolver:
    """Projection-method reference solver for one :class:`~.navier_stokes.Environment`.

    Parameters
    ----------
    env : Environment
    physics : Physics
    substeps : int
        Substeps per time step ``physics.dt`` (explicit fixed point: needs ``dt' * speed / h`` below about 1).
    picard : int
        Fixed-point iterations per substep.
    rtol : float
        Relative tolerance of each PCG pressure solve.
    preconditioner : {"amg", "ic0"}
        Built once, here.

    Attributes
    ----------
    matrix : scipy.sparse.csr_matrix
        The pressure matrix (:func:`pressure_matrix`).
    setup_time : float
        Seconds to build the matrix and the preconditioner.
    pcg_iterations : list of int
        Iterations of every pressure solve so far.
    last_rhs_norm : float
        ``||b||`` of the last pressure solve (after it, ``||div v|| <= (dt'/rho) rtol ||b||``).
    """

    def __init__(self, env: Environment, physics: Physics, *, substeps: int = 2, picard: int = 3,
                 rtol: float = 1e-8, preconditioner: Literal["amg", "ic0"] = "amg") -> None:
        if substeps < 1 or picard < 1:
            raise ValueError(f"substeps and picard must be >= 1, got {substeps}, {picard}")
        if preconditioner not in ("amg", "ic0"):
            raise ValueError(f"preconditioner must be 'amg' or 'ic0', got {preconditioner!r}")
        t0 = time.perf_counter()
        self.env, self.physics = env, physics
        self.substeps, self.picard, self.rtol = int(substeps), int(picard), float(rtol)
        self.matrix = pressure_matrix(env.fluid)
        self.M = AMG(self.matrix) if preconditioner == "amg" else IC0(self.matrix)
        fu, fv, _, _, ut, vt = env.boundary
        self._fu, self._fv = fu.astype(bool), fv.astype(bool)
        self._ut, self._vt = ut, vt
        self._p = np.zeros(int(env.fluid.sum()))
        self.pcg_iterations: list[int] = []
        self.last_rhs_norm = 0.0
        self.setup_time = time.perf_counter() - t0

    def initial_state(self) -> tuple[np.ndarray, np.ndarray]:
        """The initial condition shared with the networks: ``curl`` of the obstacle-free Poiseuille stream function.

        (It flows through the obstacles; the first step's projection removes that.)
        """
        return curl(poiseuille(self.env, self.physics)[0], self.physics.h)

    def _impose(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.where(self._fu, u, self._ut), np.where(self._fv, v, self._vt)

    def _substep(self, u0: np.ndarray, v0: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        ph = self.physics
        u1, v1 = u0, v0
        p = np.zeros_like(u0)
        for _ in range(self.picard):
            ub, vb = 0.5 * (u0 + u1), 0.5 * (v0 + v1)
            au, av = advection(ub, vb, ph.h)
            us = u0 - dt * (au - ph.nu * laplacian(ub, ph.h))
            vs = v0 - dt * (av - ph.nu * laplacian(vb, ph.h))
            us, vs = self._impose(us, vs)
            b = -(ph.rho / dt) * divergence(us, vs, ph.h)[self.env.fluid] * ph.h**2
            res = cg(self.matrix, b, self._p, rtol=self.rtol, M=self.M, maxiter=10 * b.size)
            if not np.all(np.isfinite(res.x)):
                raise FloatingPointError("pressure solve returned NaN/Inf; reduce dt or increase substeps")
            self.pcg_iterations.append(int(res.iterations))
            self.last_rhs_norm = float(np.linalg.norm(b))
            self._p = res.x
            p = np.zeros_like(u0)
            p[self.env.fluid] = res.x
            gx, gy = gradient(p, ph.h)
            u1, v1 = self._impose(us - dt / ph.rho * gx, vs - dt / ph.rho * gy)
        return u1, v1, p

    def step(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Advance ``(u, v)`` by one time step ``physics.dt``; returns ``(u, v, p)``."""
        dt = self.physics.dt / self.substeps
        p = None
        for _ in range(self.substeps):
            u, v, p = self._substep(u, v, dt)
        return u, v, p

    def rollout(self, steps: int, state: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, np.ndarray]:
        """``steps`` time steps from ``state`` (default: :meth:`initial_state`).

        Returns ``{"u", "v", "p"}`` arrays of shape ``(steps, H, W)`` (the states after each step)
        and ``"seconds"``, the wall time of the loop.
        """
        u, v = self.initial_state() if state is None else state
        out = {k: np.empty((steps, *self.env.shape)) for k in ("u", "v", "p")}
        t0 = time.perf_counter()
        for n in range(steps):
            u, v, p = self.step(u, v)
            out["u"][n], out["v"][n], out["p"][n] = u, v, p
        out["seconds"] = np.array(time.perf_counter() - t0)
        return out

    def max_divergence(self, u: np.ndarray, v: np.ndarray) -> float:
        """Largest ``|div v|`` over the fluid cells."""
        return float(np.abs(divergence(u, v, self.physics.h)[self.env.fluid]).max())
