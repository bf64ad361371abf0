"""Stationary iterations: Jacobi, Gauss–Seidel, SOR and SSOR.

One loop serves all four; they differ only in the sweep applied to ``x``.
The true residual is computed after every sweep, so ``residuals`` is the true
history and the iteration count is exact.

On device data the loop runs on the GPU (Jacobi, and SOR / Gauss-Seidel /
SSOR in multicolour order: natural-order SOR is sequential and has no device
kernel); the host reads the loop state every ``check_every`` iterations.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable

import numpy as np

from .. import sparse
from ._driver import Problem, finish, prepare
from ._state import MET_TARGET, REASONS, RUNNING, Monitor, new_state, record_residual
from .result import Reason, SolveResult

__all__ = ["jacobi", "gauss_seidel", "sor", "ssor"]

#: ``sweep(x, r, S)``: one relaxation sweep on ``x`` (``r`` holds ``b - A x``), nothing once ``S`` stopped.
Sweep = Callable[[Any, Any, Any], None]

_ORDERINGS = ("natural", "multicolor")


def _run(problem: Problem, sweep: Sweep, callback: Callable | None, dtol: float, details: dict) -> SolveResult:
    """The shared loop: sweep, true residual and checks (on the backend), callback."""
    B = problem.backend
    op, bvec, x, target = problem.op, problem.b, problem.x, problem.target
    r = B.empty_like(bvec)
    t_loop = time.perf_counter()
    rnorm = math.sqrt(op.residual(x, bvec, r))
    r0 = rnorm
    history = [rnorm]
    reason = None
    k = 0
    if not math.isfinite(rnorm):
        reason = Reason.DIVERGED_NANORINF
    elif rnorm <= target:
        reason = Reason.CONVERGED_RTOL
    else:
        steps = problem.steps(callback)
        S = new_state(B, steps, target=target, dtol=dtol * r0)
        monitor = Monitor(B, S, history)
    while reason is None and k < problem.maxiter:
        for _ in range(min(steps, problem.maxiter - k)):
            sweep(x, r, S)
            B.s_residual(op, x, bvec, r, S, record_residual)
        status, new = monitor.poll()
        k += new
        if callback is not None and new:
            callback(x)
        if status == MET_TARGET:
            reason = Reason.CONVERGED_RTOL
        elif status != RUNNING:
            reason = REASONS[status]
    return finish(problem, x, reason or Reason.DIVERGED_MAXITER, k, history, t_loop, details=details)


def _check_omega(omega: float, upper: float | None) -> float:
    if isinstance(omega, bool) or not isinstance(omega, (int, float, np.floating, np.integer)):
        raise TypeError(f"omega must be a real number, got {type(omega).__name__}")
    omega = float(omega)
    if not (omega > 0.0) or (upper is not None and not omega < upper) or not math.isfinite(omega):
        bound = f"(0, {upper})" if upper is not None else "(0, inf)"
        raise ValueError(f"omega must lie in {bound}, got {omega}")
    return omega


def _sor_sweeper(problem: Problem, omega: float, ordering: str | None, symmetric: bool) -> tuple[Sweep, dict]:
    """Build the SOR (or SSOR) sweep for the chosen row ordering."""
    B = problem.backend
    if ordering is None:
        ordering = "multicolor" if B.on_device else "natural"
    if ordering not in _ORDERINGS:
        raise ValueError(f"ordering must be one of {_ORDERINGS}, got {ordering!r}")
    if ordering == "natural" and B.on_device:
        raise ValueError(
            "ordering='natural' SOR is sequential (each row waits for the one before it) and has no GPU kernel; "
            "on the device use ordering='multicolor' (the default there)"
        )
    A = problem.csr
    op, b = problem.op, problem.b
    diag = B.from_host(sparse.diagonal(A))
    w = A.dtype.type(omega)
    if ordering == "natural":

        def sweep(x: Any, _r: Any, S: Any) -> None:
            B.sor_forward(op, diag, x, b, w, S)
            if symmetric:
                B.sor_backward(op, diag, x, b, w, S)

        return sweep, {"omega": omega, "ordering": ordering}
    colors = B.color_partition(op)

    def colored_sweep(x: Any, _r: Any, S: Any) -> None:
        B.sor_colored(op, diag, x, b, w, colors, False, S)
        if symmetric:
            B.sor_colored(op, diag, x, b, w, colors, True, S)

    return colored_sweep, {"omega": omega, "ordering": ordering, "colors": int(len(colors[0]) - 1)}


def jacobi(
    A: Any,
    b: Any,
    x0: Any = None,
    *,
    rtol: float = 1e-5,
    atol: float = 0.0,
    maxiter: int | None = None,
    omega: float = 1.0,
    callback: Callable[[np.ndarray], None] | None = None,
    dtol: float = 1e5,
    check_every: int | None = None,
) -> SolveResult:
    """Weighted Jacobi iteration ``x ← x + ω D⁻¹(b − Ax)``.

    Parameters
    ----------
    A : sparse matrix, ndarray or DeviceCSR
        Square matrix with a nonzero diagonal.
    b, x0, rtol, atol, maxiter, callback
        As in :func:`itersolve.cg`.
    omega : float
        Damping factor, > 0.
    dtol : float
        Stop with ``DIVERGED_DTOL`` once ‖r‖ exceeds ``dtol`` times its
        initial value.
    check_every : int, optional
        Device solves only: iterations between two reads of the loop state
        (default 1; see :func:`itersolve.cg`). Ignored on the CPU.

    Examples
    --------
    >>> import numpy as np, itersolve
    >>> A = np.array([[4.0, 1.0], [1.0, 3.0]])
    >>> res = itersolve.jacobi(A, [1.0, 2.0], rtol=1e-10)
    >>> res.converged, bool(np.allclose(A @ res.x, [1.0, 2.0]))
    (True, True)
    """
    omega = _check_omega(omega, None)
    problem = prepare(A, b, x0, rtol=rtol, atol=atol, maxiter=maxiter, check_every=check_every)
    B = problem.backend
    scaled_inverse_diagonal = B.from_host((omega / sparse.diagonal(problem.csr)).astype(problem.dtype))
    update = B.empty_like(problem.b)

    def sweep(x: Any, r: Any, S: Any) -> None:
        # r holds b - A x for the current x: the loop computed it last
        B.s_diag_axpy(scaled_inverse_diagonal, r, x, S, update)

    return _run(problem, sweep, callback, dtol, {"omega": omega})


def sor(
    A: Any,
    b: Any,
    x0: Any = None,
    *,
    rtol: float = 1e-5,
    atol: float = 0.0,
    maxiter: int | None = None,
    omega: float = 1.0,
    ordering: str | None = None,
    callback: Callable[[np.ndarray], None] | None = None,
    dtol: float = 1e5,
    check_every: int | None = None,
) -> SolveResult:
    """Successive over-relaxation, one forward sweep per iteration.

    Parameters
    ----------
    A : sparse matrix or ndarray
        Square matrix with a nonzero diagonal (SOR converges for SPD ``A``
        and 0 < ω < 2).
    omega : float
        Relaxation factor in (0, 2).
    ordering : {"natural", "multicolor"}, optional
        Row order of the sweep. ``"multicolor"`` colours the matrix graph
        greedily (red–black for 5- and 7-point stencils) and relaxes each
        colour in parallel; its iteration counts differ from the natural
        order's. Default: ``"natural"`` on the CPU, ``"multicolor"`` on the
        device -- natural-order SOR is sequential and the device refuses it
        (``ValueError``).
    b, x0, rtol, atol, maxiter, callback, dtol, check_every
        As in :func:`jacobi`.

    Examples
    --------
    >>> import itersolve
    >>> from itersolve.pdes import poisson
    >>> A = poisson((16, 16))
    >>> slow = itersolve.sor(A, np.ones(256), omega=1.0, rtol=1e-6)
    >>> fast = itersolve.sor(A, np.ones(256), omega=1.7, rtol=1e-6)
    >>> fast.converged and fast.iterations < slow.iterations / 3
    True
    """
    omega = _check_omega(omega, 2.0)
    problem = prepare(A, b, x0, rtol=rtol, atol=atol, maxiter=maxiter, check_every=check_every)
    sweep, details = _sor_sweeper(problem, omega, ordering, symmetric=False)
    return _run(problem, sweep, callback, dtol, details)


def gauss_seidel(
    A: Any,
    b: Any,
    x0: Any = None,
    *,
    rtol: float = 1e-5,
    atol: float = 0.0,
    maxiter: int | None = None,
    ordering: str | None = None,
    callback: Callable[[np.ndarray], None] | None = None,
    dtol: float = 1e5,
    check_every: int | None = None,
) -> SolveResult:
    """Gauss–Seidel: :func:`sor` with ω = 1.

    Examples
    --------
    >>> import numpy as np, itersolve
    >>> res = itersolve.gauss_seidel(np.array([[2.0, -1.0], [-1.0, 2.0]]), [1.0, 1.0], rtol=1e-12)
    >>> bool(np.allclose(res.x, [1.0, 1.0]))
    True
    """
    return sor(A, b, x0, rtol=rtol, atol=atol, maxiter=maxiter, omega=1.0, ordering=ordering,
               callback=callback, dtol=dtol, check_every=check_every)


def ssor(
    A: Any,
    b: Any,
    x0: Any = None,
    *,
    rtol: float = 1e-5,
    atol: float = 0.0,
    maxiter: int | None = None,
    omega: float = 1.0,
    ordering: str | None = None,
    callback: Callable[[np.ndarray], None] | None = None,
    dtol: float = 1e5,
    check_every: int | None = None,
) -> SolveResult:
    """Symmetric SOR: a forward then a backward sweep per iteration.

    Parameters are those of :func:`sor`.

    Examples
    --------
    >>> import itersolve
    >>> from itersolve.pdes import poisson
    >>> A = poisson((16, 16))
    >>> res = itersolve.ssor(A, np.ones(256), omega=1.5, rtol=1e-6)
    >>> res.converged
    True
    """
    omega = _check_omega(omega, 2.0)
    problem = prepare(A, b, x0, rtol=rtol, atol=atol, maxiter=maxiter, check_every=check_every)
    sweep, details = _sor_sweeper(problem, omega, ordering, symmetric=True)
    return _run(problem, sweep, callback, dtol, details)
