"""The 2-D heat equation with a time-varying diffusivity, as a sequence of systems.

Setting of the heat-equation experiment of Khodak et al., *Learning to
Relax* (ICLR 2024; authors' code ``utils/Heat2D.m``, ``scripts/h2d.m``).
Each Crank–Nicolson step is one SPD system; its right-hand side depends on
the previous solution, so the sequence can be replayed along the exact
(reference) trajectory, or driven in closed loop by the caller's own
solutions through :meth:`HeatSequence.simulate`.

Examples
--------
>>> from itersolve.pdes import heat_sequence
>>> seq = heat_sequence(nx=25, T=10)
>>> len(seq), seq[3].A.shape, seq[3].grid
(10, (576, 576), (24, 24))
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Literal

import numpy as np
import scipy.sparse as sp

from itersolve.sparse import as_csr, as_vector

from ._spectral import laplacian_eigenvalues, shifted_solve
from .fields import _gaussian_field
from .grids import poisson
from .sequences import _check_T, _diagonal_positions, _LazySequence
from .system import LinearSystem

__all__ = ["HeatSequence", "HeatSimulation", "heat_sequence", "paper_kappa"]

_CHECKPOINT_BYTES = 32 * 2**20  # memory for cached reference states


def paper_kappa(t: float) -> float:
    """The paper's diffusivity ``κ(t) = max(0.1 sin 2πt, -10 sin 2πt)`` (never negative).

    Examples
    --------
    >>> round(paper_kappa(0.25), 6), round(paper_kappa(0.75), 6)
    (0.1, 10.0)
    """
    s = math.sin(2.0 * math.pi * t)
    return max(0.1 * s, -10.0 * s)


def _bump(points: np.ndarray, center: tuple[float, float], radius: float) -> np.ndarray:
    """Smooth bump ``exp(1 - 1 / (1 - |x - c|² / r²))`` inside the disc, 0 outside (``bump.m``)."""
    r2 = ((points - np.asarray(center)) ** 2).sum(axis=1) / radius**2
    out = np.zeros(points.shape[0])
    inside = r2 < 1.0
    out[inside] = np.exp(1.0 - 1.0 / (1.0 - r2[inside]))
    return out


class HeatSequence(_LazySequence):
    """Crank–Nicolson steps of ``u_t = κ(t) Δu``; see :func:`heat_sequence`.

    Step ``k`` (``0 <= k < T``) advances ``u_k`` at ``t_k = k dt`` to
    ``u_{k+1}``. ``seq[k]`` and iteration follow the reference trajectory
    (every step solved exactly); :meth:`system` builds step ``k`` from any
    state; :meth:`simulate` runs the closed loop.

    Attributes
    ----------
    nx, n, dt, grid, dx : as documented in :func:`heat_sequence`
    K : scipy.sparse.csr_matrix
        ``-Δ_h``, the 5-point Dirichlet Laplacian scaled by ``1/dx²`` (float64).
    points : numpy.ndarray
        ``(n, 2)`` coordinates of the unknowns.
    initial_state : numpy.ndarray
        ``u_0`` (float64, read-only).
    contexts : numpy.ndarray
        The diffusivity in the matrix of each step (read-only), i.e. every
        system's ``context``.
    context_range : tuple of float
        ``(contexts.min(), contexts.max())``.

    Examples
    --------
    >>> seq = HeatSequence(nx=10, T=4)
    >>> s = seq.system(0, seq.initial_state)
    >>> s.A.shape, bool(s.context == seq.contexts[0])
    ((81, 81), True)
    """

    def __init__(
        self,
        nx: int = 25,
        T: int = 5000,
        *,
        dt: float | None = None,
        seed: int | None = 0,
        kappa: Callable[[float], float] | None = None,
        initial: Literal["bump", "random"] | np.ndarray = "bump",
        kappa_at: Literal["midpoint", "endpoints"] = "midpoint",
        dtype: np.dtype | type = np.float64,
    ) -> None:
        if isinstance(nx, bool) or not isinstance(nx, (int, np.integer)) or nx < 2:
            raise ValueError(f"nx must be an integer >= 2, got {nx!r}")
        self._T = _check_T(T)
        self.nx = int(nx)
        m = self.nx - 1
        self.grid = (m, m)
        self.n = m * m
        self.dx = 1.0 / self.nx
        self.dt = 1e-3 if dt is None else float(dt)
        if not (math.isfinite(self.dt) and self.dt > 0):
            raise ValueError(f"dt must be finite and positive, got {dt!r}")
        if kappa_at not in ("midpoint", "endpoints"):
            raise ValueError(f"kappa_at must be 'midpoint' or 'endpoints', got {kappa_at!r}")
        self.kappa_at = kappa_at
        self.kappa = paper_kappa if kappa is None else kappa
        self.dtype = np.dtype(dtype)
        self.K = poisson(self.grid, h=self.dx)
        self._diag_pos = _diagonal_positions(self.K)
        self._lam = laplacian_eigenvalues(self.grid, self.dx)
        ii, jj = np.meshgrid(np.arange(1, m + 1) * self.dx, np.arange(1, m + 1) * self.dx, indexing="ij")
        self.points = np.column_stack([ii.ravel(), jj.ravel()])

        steps = np.arange(self._T + 1) * self.dt
        if kappa_at == "midpoint":
            lhs = self._kappas(steps[:-1] + 0.5 * self.dt)
            rhs = lhs
        else:
            at_steps = self._kappas(steps)
            lhs, rhs = at_steps[1:], at_steps[:-1]
        for arr in (lhs, rhs):
            arr.flags.writeable = False
        self._kappa_lhs, self._kappa_rhs = lhs, rhs
        self.contexts = lhs
        self.context_range = (float(lhs.min()), float(lhs.max()))

        if isinstance(initial, str):
            if initial == "bump":
                u0 = _bump(self.points, (0.5, 0.5), 0.25)
            elif initial == "random":
                g = _gaussian_field(self.grid, 1.0, 0.1, np.random.default_rng(seed), "gaussian").ravel()
                u0 = g * np.sin(np.pi * self.points[:, 0]) * np.sin(np.pi * self.points[:, 1])
            else:
                raise ValueError(f"initial must be 'bump', 'random' or an array, got {initial!r}")
        else:
            u0 = as_vector(np.asarray(initial).ravel(), self.n, name="initial", dtype=np.float64)
        u0 = np.ascontiguousarray(u0, dtype=np.float64)
        u0.flags.writeable = False
        self.initial_state = u0
        self._stride = max(16, math.ceil(self._T * self.n * 8 / _CHECKPOINT_BYTES))
        self._checkpoints: dict[int, np.ndarray] = {0: u0}
        self._last: tuple[int, np.ndarray] = (0, u0)

    # -- physics ---------------------------------------------------------
    def _kappas(self, times: np.ndarray) -> np.ndarray:
        vals = np.array([float(self.kappa(float(t))) for t in times])
        bad = ~np.isfinite(vals) | (vals < 0)
        if bad.any():
            t = times[np.argmax(bad)]
            raise ValueError(f"kappa(t) must be finite and >= 0; kappa({t}) = {vals[np.argmax(bad)]}")
        return vals

    def forcing(self, t: float) -> np.ndarray:
        """Source term at time ``t``: ``32 * bump`` of radius 1/8 circling the centre (``h2d.m``).

        Examples
        --------
        >>> seq = HeatSequence(nx=8, T=1)
        >>> f = seq.forcing(0.0)
        >>> f.shape, float(f.max()) <= 32.0
        ((49,), True)
        """
        center = (0.5 + math.cos(16.0 * math.pi * t) / 4.0, 0.5 + math.sin(16.0 * math.pi * t) / 4.0)
        return 32.0 * _bump(self.points, center, 0.125)

    def _rhs(self, k: int, u: np.ndarray) -> np.ndarray:
        dt = self.dt
        if self.kappa_at == "midpoint":
            f = dt * self.forcing((k + 0.5) * dt)
        else:
            f = 0.5 * dt * (self.forcing(k * dt) + self.forcing((k + 1) * dt))
        return u - (0.5 * dt * self._kappa_rhs[k]) * (self.K @ u) + f

    def _exact(self, k: int, b: np.ndarray) -> np.ndarray:
        return shifted_solve(self._lam, b, 1.0, 0.5 * self.dt * self._kappa_lhs[k])

    def _matrix(self, k: int) -> sp.csr_matrix:
        K = self.K
        data = (0.5 * self.dt * self._kappa_lhs[k]) * K.data
        data[self._diag_pos] += 1.0
        return as_csr(sp.csr_matrix((data, K.indices.copy(), K.indptr.copy()), shape=K.shape), dtype=self.dtype)

    def _check_k(self, k: int) -> int:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k < self._T:
            raise IndexError(f"step {k!r} out of range for a sequence of {self._T}")
        return int(k)

    # -- public ----------------------------------------------------------
    def system(self, k: int, u: np.ndarray) -> LinearSystem:
        """The system of step ``k`` taken from the state ``u`` at ``t_k = k dt``.

        ``A = I + (dt/2) κ_A K``, ``b = (I - (dt/2) κ_b K) u + dt f``; with
        ``x0 = u`` (warm start), ``x_true`` the exact solution (sine
        transform), ``context = κ_A``.

        Examples
        --------
        >>> import numpy as np
        >>> seq = HeatSequence(nx=6, T=2)
        >>> s = seq.system(1, np.zeros(25))
        >>> bool(np.allclose(s.A @ s.x_true, s.b))
        True
        """
        k = self._check_k(k)
        u = as_vector(u, self.n, name="u", dtype=np.float64)
        return self._system(k, u)[0]

    def _system(self, k: int, u: np.ndarray) -> tuple[LinearSystem, np.ndarray]:
        b = self._rhs(k, u)
        x = self._exact(k, b)
        s = LinearSystem(
            A=self._matrix(k),
            b=b.astype(self.dtype),
            x_true=x.astype(self.dtype),
            grid=self.grid,
            context=float(self._kappa_lhs[k]),
            name=f"heat[nx={self.nx}, k={k}]",
            x0=u.astype(self.dtype),
        )
        return s, x

    def state(self, k: int) -> np.ndarray:
        """Reference state ``u_k`` (``0 <= k <= T``), every earlier step solved exactly.

        States are cached every few steps (about 32 MiB at most), so random
        access costs a few exact steps; sequential access costs one.

        Examples
        --------
        >>> seq = HeatSequence(nx=6, T=3)
        >>> bool((seq.state(0) == seq.initial_state).all()), seq.state(3).shape
        (True, (25,))
        """
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k <= self._T:
            raise IndexError(f"state {k!r} out of range 0..{self._T}")
        k = int(k)
        k0 = max(j for j in self._checkpoints if j <= k)
        u = self._checkpoints[k0]
        if k0 < self._last[0] <= k:
            k0, u = self._last
        for j in range(k0, k):
            u = self._exact(j, self._rhs(j, u))
            if (j + 1) % self._stride == 0:
                self._checkpoints[j + 1] = u
        self._last = (k, u)
        return u.copy()

    def _get(self, t: int) -> LinearSystem:
        return self._system(t, self.state(t))[0]

    def __iter__(self) -> Iterator[LinearSystem]:
        u = self.initial_state
        for k in range(self._T):
            s, u = self._system(k, u)
            yield s

    def simulate(self) -> HeatSimulation:
        """Start a closed-loop run fed by the caller's solutions; see :class:`HeatSimulation`.

        Examples
        --------
        >>> sim = HeatSequence(nx=6, T=2).simulate()
        >>> for s in sim:
        ...     _ = sim.advance(s.x_true)
        >>> sim.done, sim.k
        (True, 2)
        """
        return HeatSimulation(self)

    def __repr__(self) -> str:
        return (
            f"HeatSequence(nx={self.nx}, T={self._T}, n={self.n}, dt={self.dt}, "
            f"kappa_at={self.kappa_at!r}, dtype={self.dtype})"
        )


class HeatSimulation:
    """A closed-loop heat simulation: each step starts from the caller's last solution.

    Iterating yields the current system; before asking for the next one the
    caller hands back its (approximate) solution with :meth:`advance`, which
    becomes the state the next right-hand side is built from (and its
    ``x0``). Forgetting :meth:`advance` is an error, not a silent exact step.

    Attributes
    ----------
    sequence : HeatSequence
    k : int
        Index of the current step (the number of solutions handed back so far).
    u : numpy.ndarray
        The current state ``u_k`` (float64).

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.sparse.linalg import spsolve
    >>> sim = heat_sequence(nx=8, T=3).simulate()
    >>> for s in sim:
    ...     _ = sim.advance(spsolve(s.A, s.b))
    >>> sim.k, sim.t
    (3, 0.003)
    """

    def __init__(self, sequence: HeatSequence) -> None:
        self.sequence = sequence
        self.k = 0
        self.u = sequence.initial_state.copy()
        self._current: LinearSystem | None = None

    @property
    def done(self) -> bool:
        """Whether every step has been solved."""
        return self.k >= len(self.sequence)

    @property
    def t(self) -> float:
        """Simulation time of the current state, ``k dt``."""
        return self.k * self.sequence.dt

    def system(self) -> LinearSystem:
        """The system of the current step (built once, then cached).

        Examples
        --------
        >>> sim = heat_sequence(nx=6, T=1).simulate()
        >>> sim.system() is sim.system()
        True
        """
        if self.done:
            raise RuntimeError(f"the simulation is over: all {len(self.sequence)} steps were advanced")
        if self._current is None:
            self._current = self.sequence._system(self.k, self.u)[0]
        return self._current

    def advance(self, x: np.ndarray) -> LinearSystem | None:
        """Accept ``x`` as ``u_{k+1}``; return the next system, or ``None`` at the end.

        Examples
        --------
        >>> sim = heat_sequence(nx=6, T=2).simulate()
        >>> nxt = sim.advance(sim.system().x_true)
        >>> sim.k, nxt.name
        (1, 'heat[nx=6, k=1]')
        """
        if self.done:
            raise RuntimeError(f"the simulation is over: all {len(self.sequence)} steps were advanced")
        self.u = as_vector(x, self.sequence.n, name="x", dtype=np.float64)
        self.k += 1
        self._current = None
        return None if self.done else self.system()

    def __iter__(self) -> Iterator[LinearSystem]:
        while not self.done:
            k = self.k
            yield self.system()
            if self.k == k:
                raise RuntimeError(
                    f"step {k} was not advanced: call advance(x) with the computed solution "
                    "before asking for the next system"
                )


def heat_sequence(
    nx: int = 25,
    T: int = 5000,
    *,
    dt: float | None = None,
    seed: int | None = 0,
    kappa: Callable[[float], float] | None = None,
    initial: Literal["bump", "random"] | np.ndarray = "bump",
    kappa_at: Literal["midpoint", "endpoints"] = "midpoint",
    dtype: np.dtype | type = np.float64,
) -> HeatSequence:
    """Crank–Nicolson steps of the 2-D heat equation with time-varying diffusivity.

    ``u_t = κ(t) Δu + f(t, x)`` on the unit square, ``u = 0`` on the
    boundary, ``nx`` intervals per axis (spacing ``dx = 1/nx``) and so
    ``n = (nx-1)²`` unknowns (``nx = 25, 50, 100`` give 576, 2401, 9801).
    With ``K = -Δ_h`` (5-point, ``1/dx²``), step ``k`` solves

    ``(I + dt/2 κ_A K) u_{k+1} = (I - dt/2 κ_b K) u_k + dt f``,

    where, by ``kappa_at``:

    - ``"midpoint"`` (default, as the authors' ``Heat2D.m``):
      ``κ_A = κ_b = κ(t_k + dt/2)``, ``f = f(t_k + dt/2)``;
    - ``"endpoints"`` (trapezoidal rule): ``κ_A = κ(t_{k+1})``,
      ``κ_b = κ(t_k)``, ``f = (f(t_k) + f(t_{k+1}))/2``.

    Defaults follow the paper's ``h2d.m``: ``κ(t) = max(0.1 sin 2πt,
    -10 sin 2πt)`` (:func:`paper_kappa`, between 0 and 10, so every ``A`` is
    SPD), ``dt = 5/5000 = 1e-3``, forcing ``32 bump(x; c(t), 1/8)`` circling
    with ``c(t) = (1/2 + cos(16πt)/4, 1/2 + sin(16πt)/4)``, initial state
    ``bump(x; (1/2, 1/2), 1/4)``, with ``bump(x; c, r) = exp(1 - 1/(1 - |x-c|²/r²))``
    inside the disc. ``dt`` does not depend on ``T``, so a shorter sequence is
    a prefix of a longer one.

    Every system has ``context = κ_A`` (the diffusivity in its matrix),
    ``x0 = u_k`` (warm start), ``x_true`` the exact solution (a sine
    transform, ``O(n log n)``; no factorisation) and ``grid = (nx-1, nx-1)``.
    All matrices share one sparsity pattern (entries that happen to be zero
    are kept).

    Two ways to use it:

    - replay: ``seq[k]``, ``for s in seq`` — the state before each step is
      the exact reference trajectory, so every solver sees the same systems;
    - closed loop: ``sim = seq.simulate()``; ``for s in sim: x = solve(s);
      sim.advance(x)`` — each right-hand side is built from the caller's
      previous solution, as in the paper's simulation loop.
      ``seq.system(k, u)`` builds any step from any state.

    Parameters
    ----------
    nx : int
        Intervals per axis (``>= 2``).
    T : int
        Number of time steps.
    dt : float, optional
        Time step; default ``1e-3``.
    seed : int or None
        Seed of the random initial state (used only with ``initial="random"``).
    kappa : callable, optional
        ``κ(t) >= 0``; default :func:`paper_kappa`.
    initial : {"bump", "random"} or ndarray
        Initial state: the paper's bump, a smooth Gaussian random field
        (variance 1, correlation length 0.1) times ``sin πx sin πy``, or
        ``n`` values.
    kappa_at : {"midpoint", "endpoints"}
        Where κ and ``f`` are evaluated, see above.
    dtype : dtype
        float32 or float64 for ``A``, ``b``, ``x_true``, ``x0`` (the
        reference trajectory is always computed in float64).

    Returns
    -------
    HeatSequence
        A lazy sequence of :class:`LinearSystem`.

    Examples
    --------
    >>> import numpy as np
    >>> seq = heat_sequence(nx=25, T=5000)
    >>> len(seq), seq.n, [round(c, 2) for c in seq.context_range]
    (5000, 576, [0.0, 10.0])
    >>> s = seq[250]
    >>> bool(np.allclose(s.A @ s.x_true, s.b)), round(s.context, 4)
    (True, 0.1)
    """
    return HeatSequence(
        nx, T, dt=dt, seed=seed, kappa=kappa, initial=initial, kappa_at=kappa_at, dtype=dtype
    )
