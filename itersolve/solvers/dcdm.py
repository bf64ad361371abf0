"""Deep conjugate directions (DCDM, Kaneda et al., ICML 2023), with a safeguard.

Each iteration asks a model ``f`` for ``d = f(r/‖r‖)`` (a CNN trained so that
``d ≈ A⁻¹r`` up to scale), A-orthogonalises ``d`` against previous directions
(the paper: the last two, ``memory=2``; itersolve's default: all of them,
see :func:`dcdm`), steps ``x += α d`` with ``α = dᵀr / dᵀAd`` and updates
``r −= α Ad``. With ``f = A⁻¹`` the first step solves the system; with
``f = I`` the iteration is CG's.

Safeguard: every step also forms the Jacobi-preconditioned residual
``z = D⁻¹r``, A-orthogonalised the same way (one more matrix–vector product,
cheap next to a network call). The network's direction is replaced by ``z``
for that step when it is unusable: NaN/Inf (``"nan"``), zero (``"zero"``),
nearly dependent on the previous two directions after orthogonalisation
(``"dependent"``), ``dᵀAd ≤ 0`` (``"curvature"``), or when its descent is poor
(``"descent"``): the A-norm error decrease of its exact line search,
``(dᵀr)²/dᵀAd``, is below ``descent_tol`` times that of ``z``. A trained
network's directions beat ``z`` by far in most steps; an untrained or
hostile one still gives a solve that converges like Jacobi-preconditioned
conjugate directions (with only two directions kept, a poor network can
otherwise stall the iteration). The result's ``details`` count these steps
(``fallback_steps``, and ``fallbacks`` by cause). When the fallback direction
fails too, the solve stops with the PETSc-style reason
(``DIVERGED_NANORINF``, ``DIVERGED_INDEFINITE_MAT``, ``DIVERGED_BREAKDOWN``).

Hybrid with a classical preconditioner (``M=``, e.g. ``IC0(A)``): every
iteration searches the span of TWO new directions, the network's ``f(r)``
and ``M⁻¹r``, both A-orthogonalised against the kept directions and against
each other; the exact line searches along the pair (in turn, which is the
same as the 2-D Galerkin step that minimises the A-norm error over their
span) make ``x`` and ``r``, and both directions are kept. By default
(``pair="multiplicative"``) ``M`` is applied to the residual left by the
network's step, ``M⁻¹r'``, which took about 10 % fewer iterations than
``M⁻¹r`` of the same residual (``pair="additive"``) at the same cost. The network
captures the smooth, global part of the error that an incomplete
factorisation misses, ``M`` the local part that the network misses. ``M⁻¹r``
is then the safeguard instead of ``D⁻¹r``: a network direction that is
NaN, zero, dependent or of non-positive curvature is dropped for that
step (counted as a fallback) and the step uses ``M⁻¹r`` alone; the
``"descent"`` test is not needed (the pair's step is never worse than
``M⁻¹r``'s). An ``M⁻¹r`` left (almost) dependent on the network's
direction is dropped for that step (``details["pair_dropped"]``).

Stopping follows the house rule ``‖b − Ax‖ ≤ max(rtol‖b‖, atol)``: when the
recursive residual meets it, the true residual is computed; if that misses,
it replaces the recursive one and the directions restart (at most
``MAX_RESIDUAL_REPLACEMENTS`` times, then ``DIVERGED_STAGNATION``).
"""

from __future__ import annotations

import math
import os
import time
from collections import Counter, deque
from typing import Any, Callable

import numpy as np

from .. import sparse
from ._driver import MAX_RESIDUAL_REPLACEMENTS, as_preconditioner, confirm_target, finish, prepare
from .result import Reason, SolveResult

__all__ = ["dcdm", "MAX_RESIDUAL_REPLACEMENTS"]


def _grid_mask(grid: Any, n: int) -> np.ndarray | None:
    if grid is None:
        return None
    fluid = getattr(grid, "fluid", grid)
    fluid = np.asarray(fluid)
    if fluid.dtype != bool:
        raise TypeError(f"grid must be a boolean fluid mask (True = unknown cell) or a PressureSystem, "
                        f"got dtype {fluid.dtype}")
    if fluid.ndim not in (2, 3):
        raise ValueError(f"grid must be a 2-D or 3-D mask, got shape {fluid.shape}")
    if int(fluid.sum()) != n:
        raise ValueError(f"grid mask has {int(fluid.sum())} fluid cells but A has {n} unknowns; "
                         "pass the mask of the cells that carry unknowns (True = fluid)")
    return fluid


def _is_torch_module(model: Any) -> bool:
    torch = __import__("sys").modules.get("torch")
    return torch is not None and isinstance(model, torch.nn.Module)


def _direction_fn(model: Any, fluid: np.ndarray | None, diag: np.ndarray | None = None
                  ) -> tuple[Callable[[np.ndarray], np.ndarray], str]:
    """The model as ``r -> d`` on vectors, and a label for the result (``diag``: A's, for a multigrid network)."""
    if isinstance(model, (str, os.PathLike)) or _is_torch_module(model):
        from .deep_directions import require_torch

        require_torch()
        from .deep_directions.inference import NetworkDirections
        from .deep_directions.io import resolve_model

        label = os.fspath(model) if isinstance(model, (str, os.PathLike)) else type(model).__name__
        net = resolve_model(model)[0] if isinstance(model, (str, os.PathLike)) else model
        if fluid is None:
            raise ValueError("a DCDM network works on the grid: pass grid=<fluid mask> or a PressureSystem as A "
                             "(itersolve.pdes.fluids.pressure.pressure_system)")
        return NetworkDirections(net, fluid, diag), label
    if callable(model):
        return model, getattr(model, "__name__", type(model).__name__)
    raise TypeError(f"model must be a shipped name, a .safetensors path, a DCDMNet or a callable r -> d, "
                    f"got {type(model).__name__}")


class _Directions:
    """The last ``memory`` directions ``p`` (all when None) with ``Ap`` and ``pᵀAp``; A-orthogonalisation."""

    def __init__(self, memory: int | None) -> None:
        self.kept: deque = deque(maxlen=memory)

    def clear(self) -> None:
        self.kept.clear()

    def orthogonalise(self, d: np.ndarray) -> np.ndarray:
        for p, Ap, pAp in self.kept:
            d = d - (np.dot(d, Ap) / pAp) * p
        return d


def dcdm(
    A: Any,
    b: Any,
    x0: Any = None,
    *,
    model: Any,
    grid: Any = None,
    rtol: float = 1e-5,
    atol: float = 0.0,
    maxiter: int | None = None,
    callback: Callable[[np.ndarray], None] | None = None,
    M: Any = None,
    pair: str = "multiplicative",
    memory: int | None = None,
    descent_tol: float = 0.25,
    dependence_tol: float = 1e-6,
) -> SolveResult:
    """Solve ``A x = b`` (symmetric positive (semi-)definite) by deep conjugate directions.

    Parameters
    ----------
    A : sparse matrix, ndarray or PressureSystem
        The matrix. A :class:`~itersolve.pdes.fluids.pressure.PressureSystem`
        brings its own grid mask.
    b : array_like, shape (n,)
        Right-hand side (for a singular A, consistent: in the range of A).
    x0 : array_like, optional
        Initial guess (left untouched); zeros by default.
    model : str, path, DCDMNet or callable
        A shipped model name (``itersolve.pretrained.available(kind="dcdm")``,
        e.g. ``"dcdm2d-64"``), a ``.safetensors`` path, a
        :class:`~itersolve.solvers.deep_directions.DCDMNet` (these three need
        the torch extra and ``grid``), or any callable mapping a residual
        vector to a direction vector (length n).
    grid : ndarray of bool or PressureSystem, optional
        Where the unknowns live: ``True`` on the cells that carry one (C
        order); needed by networks. Taken from ``A`` when it is a PressureSystem.
    rtol, atol : float
        Stop when ‖b − Ax‖₂ ≤ max(rtol·‖b‖₂, atol).
    maxiter : int, optional
        Iteration cap, 10·n by default.
    callback : callable, optional
        Called as ``callback(xk)`` once per iteration.
    M : Preconditioner, sparse matrix, LinearOperator or callable, optional
        A classical preconditioner (``r -> M⁻¹r``, symmetric positive
        definite, e.g. ``IC0(A)``) for the hybrid: each iteration then takes
        a Galerkin step over the network's direction and ``M⁻¹r`` (see the
        module docstring), costing one network call, one application of
        ``M`` and two matrix–vector products, and keeping two directions. On
        held-out obstacle layouts this needs fewer iterations than both the
        network alone and ``M``-preconditioned CG. ``None`` (default): the
        network alone with the Jacobi safeguard.
    pair : {"multiplicative", "additive"}
        With ``M``: the second direction is ``M⁻¹r'`` with ``r'`` the
        residual left by the step along the network's direction
        (``"multiplicative"``, default, like smoothing after a coarse-grid
        correction), or ``M⁻¹r`` of the same residual as the network's
        (``"additive"``). The cost is the same; on the benchmark's held-out
        layouts with IC(0) and the first (pre-fine-tune) ``dcdm2d-64``,
        rtol 1e-4, the multiplicative pair took 26 / 61 iterations at 64² / 128² against the
        additive pair's 29 / 70.
    memory : int or None
        How many previous directions each new one is A-orthogonalised
        against; ``None`` (default): all of them. The paper keeps 2, which
        is enough when ``f`` is very close to ``A⁻¹`` (with ``f = I`` it is
        CG's recurrence); with networks trained on a CPU budget it is not: on
        a held-out 128² obstacle layout the first shipped ``dcdm2d-64`` (before its fine-tune) took 91
        iterations to rtol 1e-4 with all directions, 194 with 64, and did not
        converge within 400 with 2 or 20 (CG needs several hundred). Each kept direction costs two
        vectors of memory and one dot product and update per iteration.
    descent_tol : float
        The network's step must decrease the A-norm error by at least this
        fraction of what the Jacobi direction's step would (see the module docstring).
    dependence_tol : float
        A direction whose norm drops below this fraction in the A-orthogonalisation is dependent.

    Returns
    -------
    SolveResult
        ``details`` holds ``fallback_steps`` (steps that used ``D⁻¹r``, or
        ``M⁻¹r`` alone with ``M``), ``pair_dropped`` (with ``M``: steps whose
        ``M⁻¹r`` was dependent on the network's direction),
        ``fallbacks`` (their causes), ``network_time`` (seconds in the model,
        also counted in ``solve_time``), ``network_calls``, ``model`` and
        ``residual_replacements``. Model loading counts in ``setup_time``.

    Examples
    --------
    >>> import numpy as np
    >>> from itersolve.pdes import poisson
    >>> A = poisson((8, 8)).toarray()
    >>> b = np.ones(64)
    >>> exact = lambda r: np.linalg.solve(A, r)
    >>> res = dcdm(A, b, model=exact, rtol=1e-10)
    >>> res.converged, res.iterations, res.details["fallback_steps"]
    (True, 1, 0)
    >>> dcdm(A, b, model=lambda r: np.full_like(r, np.nan)).details["fallbacks"]
    {'nan': 10}
    >>> from itersolve.preconditioners import IC0
    >>> hybrid = dcdm(A, b, model=lambda r: r, M=IC0(A), rtol=1e-8)
    >>> hybrid.converged, hybrid.iterations <= dcdm(A, b, model=lambda r: r, rtol=1e-8).iterations
    (True, True)
    """
    if hasattr(A, "fluid") and hasattr(A, "A"):
        grid = A if grid is None else grid
        A = A.A
    if memory is not None and (isinstance(memory, bool) or not isinstance(memory, (int, np.integer)) or memory < 1):
        raise ValueError(f"memory must be an integer >= 1 or None (all directions), got {memory!r}")
    problem = prepare(A, b, x0, rtol=rtol, atol=atol, maxiter=maxiter)
    n, dtype = problem.n, problem.dtype
    fluid = _grid_mask(grid, n)
    diag = sparse.diagonal(problem.csr, nonzero=False)
    direction, label = _direction_fn(model, fluid, diag)
    if pair not in ("multiplicative", "additive"):
        raise ValueError(f"pair must be 'multiplicative' or 'additive', got {pair!r}")
    precond = as_preconditioner(M, n, dtype=dtype)
    zbuf = None if precond is None else np.empty(n, dtype=getattr(precond, "dtype", dtype))
    op, bvec, x, target = problem.op, problem.b, problem.x, problem.target
    # a zero diagonal entry is an empty row of a positive semidefinite A (a null-space direction): skip it
    inv_diag = np.divide(1.0, diag, out=np.zeros_like(diag), where=diag != 0).astype(dtype)
    t_loop = time.perf_counter()

    r = np.empty_like(bvec)
    Ad = np.empty_like(bvec)
    Az = np.empty_like(bvec)
    rr = op.residual(x, bvec, r)
    history = [math.sqrt(rr)]
    kept = _Directions(memory)
    causes: Counter = Counter()
    net_time, net_calls, replacements, k, dropped = 0.0, 0, 0, 0, 0
    reason = None
    while reason is None:
        rnorm = math.sqrt(rr)
        if not math.isfinite(rnorm):
            reason = Reason.DIVERGED_NANORINF
            break
        if rnorm <= target:
            rr, reason, replacements = confirm_target(op, x, bvec, r, history, target, replacements)
            if reason is not None:
                break
            kept.clear()
            continue
        if k >= problem.maxiter:
            reason = Reason.DIVERGED_MAXITER
            break
        t0 = time.perf_counter()
        d = np.asarray(direction(r / rnorm)).reshape(-1)
        net_time += time.perf_counter() - t0
        net_calls += 1
        if d.shape != (n,):
            raise ValueError(f"model returned a direction of shape {d.shape}, expected ({n},)")
        d, dAd, cause = _checked(op, kept, d.astype(dtype, copy=False), Ad, dependence_tol)
        if precond is not None:
            if cause is not None or pair == "additive":
                z = np.asarray(precond.apply(r, zbuf)).astype(dtype, copy=True)
            if cause is None:  # the pair: step along d, then along M⁻¹r made A-orthogonal to d and the kept
                _step(x, r, d, Ad, dAd, kept)
                if pair == "multiplicative":  # M acts on the residual the network's step leaves
                    z = np.asarray(precond.apply(r, zbuf)).astype(dtype, copy=True)
                z, zAz, z_status = _second(op, kept, z, Az, dependence_tol)
                if z_status == "dependent":
                    dropped += 1
                elif z_status is not None:
                    reason = z_status
                    break
                else:
                    _step(x, r, z, Az, zAz, kept)
            else:  # the network's direction is unusable: M⁻¹r alone
                causes[cause] += 1
                z, zAz, z_reason = _fallback(op, kept, z, r, Az, dependence_tol)
                if z_reason is not None:
                    reason = z_reason
                    break
                _step(x, r, z, Az, zAz, kept)
        else:
            z, zAz, z_reason = _fallback(op, kept, inv_diag * r, r, Az, dependence_tol)
            if cause is None and z_reason is None and _gain(d, dAd, r) < descent_tol * _gain(z, zAz, r):
                cause = "descent"
            if cause is not None:
                causes[cause] += 1
                if z_reason is not None:
                    reason = z_reason
                    break
                d, dAd, Ad, Az = z, zAz, Az, Ad
            _step(x, r, d, Ad, dAd, kept)
        rr = float(np.dot(r, r))
        k += 1
        history.append(math.sqrt(rr))
        if callback is not None:
            callback(x)
    return finish(problem, x, reason, k, history, t_loop, details={
        "model": label,
        "fallback_steps": int(sum(causes.values())),
        "fallbacks": dict(causes),
        "network_time": net_time,
        "network_calls": net_calls,
        "residual_replacements": replacements,
        **({"pair_dropped": dropped, "preconditioner": type(M).__name__} if precond is not None else {}),
    })


def _step(x: np.ndarray, r: np.ndarray, d: np.ndarray, Ad: np.ndarray, dAd: float, kept: _Directions) -> None:
    """Exact line search along ``d`` (A-orthogonal to the kept directions); keep ``d``."""
    alpha = float(np.dot(d, r)) / dAd
    x += alpha * d
    r -= alpha * Ad
    kept.kept.append((d, Ad.copy(), dAd))


def _second(op: Any, kept: _Directions, z: np.ndarray, Az: np.ndarray, dependence_tol: float
            ) -> tuple[np.ndarray, float, str | Reason | None]:
    """``M⁻¹r`` A-orthogonalised against the kept directions (the network's included).

    ``(z, zᵀAz, None)``, or ``"dependent"`` when (almost) nothing is left
    (the step then uses the network's direction only), or the failure
    reason (NaN, ``zᵀAz ≤ 0``).
    """
    z, zAz, cause = _checked(op, kept, z, Az, dependence_tol)
    if cause is None:
        return z, zAz, None
    if cause in ("zero", "dependent"):
        return z, 0.0, "dependent"
    if cause == "nan" or not math.isfinite(zAz):
        return z, zAz, Reason.DIVERGED_NANORINF
    return z, zAz, Reason.DIVERGED_INDEFINITE_MAT


def _checked(op: Any, kept: _Directions, d: np.ndarray, Ad: np.ndarray, dependence_tol: float
             ) -> tuple[np.ndarray, float, str | None]:
    """A-orthogonalise the network's direction; ``(d, dᵀAd, None)`` or the cause that rejects it."""
    dnorm = float(np.linalg.norm(d))
    if not math.isfinite(dnorm):
        return d, 0.0, "nan"
    if dnorm == 0.0:
        return d, 0.0, "zero"
    d = kept.orthogonalise(d)
    if float(np.linalg.norm(d)) <= dependence_tol * dnorm:
        return d, 0.0, "dependent"
    dAd = op.matvec_dot(d, Ad)
    if not math.isfinite(dAd) or dAd <= 0.0:
        return d, dAd, "curvature"
    return d, dAd, None


def _gain(d: np.ndarray, dAd: float, r: np.ndarray) -> float:
    """Decrease of the squared A-norm error by the exact line search along ``d``: ``(dᵀr)² / dᵀAd``."""
    return float(np.dot(d, r)) ** 2 / dAd


def _fallback(op: Any, kept: _Directions, z: np.ndarray, r: np.ndarray, Ad: np.ndarray,
              dependence_tol: float) -> tuple[np.ndarray, float, Reason | None]:
    """The Jacobi direction ``z = D⁻¹r``, A-orthogonalised unless that leaves (almost) nothing."""
    if not np.all(np.isfinite(z)):
        return z, 0.0, Reason.DIVERGED_NANORINF
    d = kept.orthogonalise(z)
    if float(np.linalg.norm(d)) <= dependence_tol * float(np.linalg.norm(z)):
        d = z
    dAd = op.matvec_dot(d, Ad)
    if not math.isfinite(dAd):
        return d, dAd, Reason.DIVERGED_NANORINF
    if dAd <= 0.0:
        return d, dAd, Reason.DIVERGED_INDEFINITE_MAT
    if float(np.dot(d, r)) == 0.0:
        return d, dAd, Reason.DIVERGED_BREAKDOWN
    return d, dAd, None
