"""Stationary iterations: Jacobi, Gauss–Seidel, SOR and SSOR.

One loop serves all four; they differ only in the sweep applied to ``x``.
The true residual is computed after every sweep, so ``residuals`` is the true
history and the iteration count is exact.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable

import numpy as np

from .. import sparse
from ..kernels import coloring, sweeps
from ._driver import Problem, finish, prepare
from .result import Reason, SolveResult

__all__ = ["jacobi", "gauss_seidel", "sor", "ssor"]

Sweep = Callable[[np.ndarray, np.ndarray], None]

_ORDERINGS = ("natural", "multicolor")


def _run(problem: Problem, sweep: Sweep, callback: Callable | None, dtol: float, details: dict) -> SolveResult:
    """The shared loop: sweep, callback, true residual, checks."""
    op, bvec, x, target = problem.op, problem.b, problem.x, problem.target
    r = np.empty_like(bvec)
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
    while reason is None and k < problem.maxiter:
        sweep(x, r)
        k += 1
        if callback is not None:
            callback(x)
        rnorm = math.sqrt(op.residual(x, bvec, r))
        history.append(rnorm)
        if not math.isfinite(rnorm):
            reason = Reason.DIVERGED_NANORINF
        elif rnorm <= target:
            reason = Reason.CONVERGED_RTOL
        elif rnorm > dtol * r0:
            reason = Reason.DIVERGED_DTOL
    return finish(problem, x, reason or Reason.DIVERGED_MAXITER, k, history, t_loop, details=details)


def _check_omega(omega: float, upper: float | None) -> float:
    if isinstance(omega, bool) or not isinstance(omega, (int, float, np.floating, np.integer)):
        raise TypeError(f"omega must be a real number, got {type(omega).__name__}")
    omega = float(omega)
    if not (omega > 0.0) or (upper is not None and not omega < upper) or not math.isfinite(omega):
        bound = f"(0, {upper})" if upper is not None else "(0, inf)"
        raise ValueError(f"omega must lie in {bound}, got {omega}")
    return omega


def _sor_sweeper(problem: Problem, omega: float, ordering: str, symmetric: bool) -> tuple[Sweep, dict]:
    """Build the SOR (or SSOR) sweep for the chosen row ordering."""
    if ordering not in _ORDERINGS:
        raise ValueError(f"ordering must be one of {_ORDERINGS}, got {ordering!r}")
    A = problem.csr
    diag = sparse.diagonal(A)
    indptr, indices, data, b = A.indptr, A.indices, A.data, problem.b
    w = A.dtype.type(omega)
    if ordering == "natural":

        def sweep(x: np.ndarray, _r: np.ndarray) -> None:
            sweeps.sor_forward(indptr, indices, data, diag, x, b, w)
            if symmetric:
                sweeps.sor_backward(indptr, indices, data, diag, x, b, w)

        return sweep, {"omega": omega, "ordering": ordering}
    colors = coloring.greedy_coloring(indptr, indices)
    color_ptr, color_rows = coloring.color_partition(colors)

    def colored_sweep(x: np.ndarray, _r: np.ndarray) -> None:
        sweeps.sor_colored(indptr, indices, data, diag, x, b, w, color_ptr, color_rows, False)
        if symmetric:
            sweeps.sor_colored(indptr, indices, data, diag, x, b, w, color_ptr, color_rows, True)

    return colored_sweep, {"omega": omega, "ordering": ordering, "colors": int(color_ptr.shape[0] - 1)}


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
) -> SolveResult:
    """Weighted Jacobi iteration ``x ← x + ω D⁻¹(b − Ax)``.

    Parameters
    ----------
    A : sparse matrix or ndarray
        Square matrix with a nonzero diagonal.
    b, x0, rtol, atol, maxiter, callback
        As in :func:`itersolve.cg`.
    omega : float
        Damping factor, > 0.
    dtol : float
        Stop with ``DIVERGED_DTOL`` once ‖r‖ exceeds ``dtol`` times its
        initial value.

    Examples
    --------
    >>> import numpy as np, itersolve
    >>> A = np.array([[4.0, 1.0], [1.0, 3.0]])
    >>> res = itersolve.jacobi(A, [1.0, 2.0], rtol=1e-10)
    >>> res.converged, bool(np.allclose(A @ res.x, [1.0, 2.0]))
    (True, True)
    """
    omega = _check_omega(omega, None)
    problem = prepare(A, b, x0, rtol=rtol, atol=atol, maxiter=maxiter)
    scaled_inverse_diagonal = (omega / sparse.diagonal(problem.csr)).astype(problem.dtype)
    update = np.empty_like(problem.b)

    def sweep(x: np.ndarray, r: np.ndarray) -> None:
        # r holds b - A x for the current x: the loop computed it last
        np.multiply(scaled_inverse_diagonal, r, out=update)
        x += update

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
    ordering: str = "natural",
    callback: Callable[[np.ndarray], None] | None = None,
    dtol: float = 1e5,
) -> SolveResult:
    """Successive over-relaxation, one forward sweep per iteration.

    Parameters
    ----------
    A : sparse matrix or ndarray
        Square matrix with a nonzero diagonal (SOR converges for SPD ``A``
        and 0 < ω < 2).
    omega : float
        Relaxation factor in (0, 2).
    ordering : {"natural", "multicolor"}
        Row order of the sweep. ``"multicolor"`` colours the matrix graph
        greedily (red–black for 5- and 7-point stencils) and relaxes each
        colour in parallel; its iteration counts differ from the natural
        order's.
    b, x0, rtol, atol, maxiter, callback, dtol
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
    problem = prepare(A, b, x0, rtol=rtol, atol=atol, maxiter=maxiter)
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
    ordering: str = "natural",
    callback: Callable[[np.ndarray], None] | None = None,
    dtol: float = 1e5,
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
               callback=callback, dtol=dtol)


def ssor(
    A: Any,
    b: Any,
    x0: Any = None,
    *,
    rtol: float = 1e-5,
    atol: float = 0.0,
    maxiter: int | None = None,
    omega: float = 1.0,
    ordering: str = "natural",
    callback: Callable[[np.ndarray], None] | None = None,
    dtol: float = 1e5,
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
    problem = prepare(A, b, x0, rtol=rtol, atol=atol, maxiter=maxiter)
    sweep, details = _sor_sweeper(problem, omega, ordering, symmetric=True)
    return _run(problem, sweep, callback, dtol, details)
