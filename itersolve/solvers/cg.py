"""Conjugate gradients, plain and preconditioned, on fused kernels."""

from __future__ import annotations

import math
import time
from typing import Any, Callable

import numpy as np

from ..kernels import blas
from ._driver import as_preconditioner, finish, prepare
from .result import Reason, SolveResult

__all__ = ["cg"]

#: How often a solve may replace its recursive residual by the true one when
#: the two disagree at the tolerance before it gives up as stagnated.
MAX_RESIDUAL_REPLACEMENTS = 5


def cg(
    A: Any,
    b: Any,
    x0: Any = None,
    *,
    rtol: float = 1e-5,
    atol: float = 0.0,
    maxiter: int | None = None,
    M: Any = None,
    callback: Callable[[np.ndarray], None] | None = None,
) -> SolveResult:
    """Solve ``A x = b`` for symmetric positive definite ``A`` by (P)CG.

    Each iteration is one sparse matrix–vector product fused with the
    ``pᵀAp`` reduction, one fused pass updating ``x`` and ``r`` and returning
    ``‖r‖²``, the preconditioner apply, and the direction update. When the
    recursive residual meets the target the true residual ``b − Ax`` is
    computed; if it misses, it replaces the recursive one and the iteration
    restarts from it (at most ``MAX_RESIDUAL_REPLACEMENTS`` times, then the
    solve reports ``DIVERGED_STAGNATION``).

    Parameters
    ----------
    A : sparse matrix, ndarray, LinearOperator or SparseOperator
        Symmetric positive definite matrix of size n.
    b : array_like, shape (n,)
        Right-hand side.
    x0 : array_like, optional
        Initial guess (left untouched); zeros by default.
    rtol, atol : float
        Stop when ‖b − Ax‖₂ ≤ max(rtol·‖b‖₂, atol).
    maxiter : int, optional
        Iteration cap, 10·n by default.
    M : Preconditioner, sparse matrix, LinearOperator or callable, optional
        Approximates A⁻¹; must be symmetric positive definite.
    callback : callable, optional
        Called as ``callback(xk)`` once per iteration.

    Returns
    -------
    SolveResult
        ``DIVERGED_INDEFINITE_MAT`` when pᵀAp ≤ 0 is met,
        ``DIVERGED_INDEFINITE_PC`` when rᵀM⁻¹r < 0, ``DIVERGED_BREAKDOWN``
        when rᵀM⁻¹r = 0 with r ≠ 0, ``DIVERGED_NANORINF`` on NaN/Inf.

    Examples
    --------
    >>> import itersolve
    >>> from itersolve.pdes import poisson
    >>> A = poisson((32, 32))
    >>> b = A @ np.ones(A.shape[0])
    >>> res = itersolve.cg(A, b, rtol=1e-8)
    >>> res.converged, res.iterations < 100
    (True, True)
    >>> bool(np.allclose(res.x, 1.0, atol=1e-6))
    True
    """
    problem = prepare(A, b, x0, rtol=rtol, atol=atol, maxiter=maxiter, matrix_free=True)
    op, bvec, x, target = problem.op, problem.b, problem.x, problem.target
    precond = as_preconditioner(M, problem.n)
    r = np.empty_like(bvec)
    q = np.empty_like(bvec)
    z = r if precond is None else np.empty_like(bvec)
    t_loop = time.perf_counter()

    rr = op.residual(x, bvec, r)
    history = [math.sqrt(rr)]
    reason = Reason.DIVERGED_MAXITER
    replacements = 0
    k = 0
    if not math.isfinite(rr):
        reason = Reason.DIVERGED_NANORINF
    elif math.sqrt(rr) <= target:
        reason = Reason.CONVERGED_RTOL
    else:
        rz, reason = _precondition(precond, r, z, rr)
        p = z.copy()
        while reason is None and k < problem.maxiter:
            pq = op.matvec_dot(p, q)
            if not math.isfinite(pq):
                reason = Reason.DIVERGED_NANORINF
                break
            if pq <= 0.0:
                reason = Reason.DIVERGED_INDEFINITE_MAT
                break
            rr = blas.cg_update(x, r, p, q, rz / pq)
            k += 1
            if callback is not None:
                callback(x)
            history.append(math.sqrt(rr))
            if not math.isfinite(rr):
                reason = Reason.DIVERGED_NANORINF
                break
            if math.sqrt(rr) <= target:
                rr = op.residual(x, bvec, r)
                history[-1] = math.sqrt(rr)
                if math.sqrt(rr) <= target:
                    reason = Reason.CONVERGED_RTOL
                    break
                replacements += 1
                if replacements > MAX_RESIDUAL_REPLACEMENTS:
                    reason = Reason.DIVERGED_STAGNATION
                    break
                rz, reason = _precondition(precond, r, z, rr)
                if reason is None:
                    p[:] = z
                continue
            rz_new, reason = _precondition(precond, r, z, rr)
            if reason is None:
                blas.xpay(z, rz_new / rz, p)
                rz = rz_new
        if reason is None:
            reason = Reason.DIVERGED_MAXITER
    return finish(
        problem,
        x,
        reason,
        k,
        history,
        t_loop,
        details={"residual_replacements": replacements},
    )


def _precondition(precond: Any, r: np.ndarray, z: np.ndarray, rr: float) -> tuple[float, Reason | None]:
    """z = M⁻¹r and rᵀz, with the failure it reveals (None when fine)."""
    if precond is None:
        return rr, None
    precond.apply(r, out=z)
    rz = blas.dot(r, z)
    if not math.isfinite(rz):
        return rz, Reason.DIVERGED_NANORINF
    if rz < 0.0:
        return rz, Reason.DIVERGED_INDEFINITE_PC
    if rz == 0.0:
        return rz, Reason.DIVERGED_BREAKDOWN
    return rz, None
