"""Conjugate gradients, plain and preconditioned, on fused kernels -- on the CPU or the GPU."""

from __future__ import annotations

import math
import time
from typing import Any, Callable

import numpy as np

from ..kernels.backend import Slot
from ._driver import as_preconditioner, confirm_target, finish, prepare
from ._state import (
    ALPHA,
    BETA,
    INDEFINITE_MAT,
    MET_TARGET,
    NANORINF,
    REASONS,
    RUNNING,
    RZ,
    STATUS,
    Monitor,
    new_state,
    record_residual,
    rz_status,
)
from .result import Reason, SolveResult

__all__ = ["cg"]


_ALPHA = Slot(ALPHA)
_BETA = Slot(BETA)


# Scalar rules of the loop (see ._state): run on the host by the CPU backend,
# compiled into the reduction kernels by the CUDA backend.


def _alpha_rule(S, pq):
    """After ``q = A p``: ``alpha = r.z / p.q``; stop on NaN/Inf or ``p.q <= 0``."""
    if S[STATUS] != RUNNING:
        return
    if not math.isfinite(pq):
        S[STATUS] = NANORINF
    elif pq <= 0.0:
        S[STATUS] = INDEFINITE_MAT
    else:
        S[ALPHA] = S[RZ] / pq


def _record_plain_rule(S, rr):
    """After the update, without a preconditioner (``z = r``): record ``||r||``; ``beta = r.r / r.r_old``."""
    if S[STATUS] != RUNNING:
        return
    record_residual(S, rr)
    S[BETA] = rr / S[RZ]
    S[RZ] = rr


def _beta_rule(S, rz):
    """After ``z = M^-1 r``: ``beta = r.z / r.z_old``; stop when ``r.z`` is NaN, negative or zero."""
    if S[STATUS] != RUNNING:
        return
    code = rz_status(rz)
    if code != RUNNING:
        S[STATUS] = code
    else:
        S[BETA] = rz / S[RZ]
        S[RZ] = rz


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
    check_every: int | None = None,
) -> SolveResult:
    """Solve ``A x = b`` for symmetric positive definite ``A`` by (P)CG.

    Each iteration is one sparse matrix–vector product fused with the
    ``pᵀAp`` reduction, one fused pass updating ``x`` and ``r`` and returning
    ``‖r‖²``, the preconditioner apply, and the direction update. When the
    recursive residual meets the target the true residual ``b − Ax`` is
    computed; if it misses, it replaces the recursive one and the iteration
    restarts from it (at most ``MAX_RESIDUAL_REPLACEMENTS`` times, then the
    solve reports ``DIVERGED_STAGNATION``).

    On device data (an :class:`itersolve.cuda.DeviceCSR` ``A`` and device
    vectors) the same loop runs on the GPU: the step lengths and the checks
    stay on the device, and the host reads the loop state back (one small
    copy) every ``check_every`` iterations; a loop that stops in between
    freezes on the device, so the result does not depend on ``check_every``.

    Parameters
    ----------
    A : sparse matrix, ndarray, LinearOperator, SparseOperator or DeviceCSR
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
        Called as ``callback(xk)`` once per iteration (on the device: with
        the device array, and the state is read back every iteration).
    check_every : int, optional
        Device solves only: iterations between two reads of the loop state
        (default 1). Ignored on the CPU.

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
    problem = prepare(A, b, x0, rtol=rtol, atol=atol, maxiter=maxiter, matrix_free=True, check_every=check_every)
    B = problem.backend
    op, bvec, x, target = problem.op, problem.b, problem.x, problem.target
    precond = as_preconditioner(M, problem.n, B, problem.dtype)
    r = B.empty_like(bvec)
    q = B.empty_like(bvec)
    z = r if precond is None else B.empty_like(bvec)
    p = B.empty_like(bvec)
    t_loop = time.perf_counter()

    rr = op.residual(x, bvec, r)
    history = [math.sqrt(rr)]
    reason = None
    replacements = 0
    k = 0
    if not math.isfinite(rr):
        reason = Reason.DIVERGED_NANORINF
    elif math.sqrt(rr) <= target:
        reason = Reason.CONVERGED_RTOL
    else:
        rz, reason = _precondition(B, precond, r, z, rr)
        if reason is None:
            B.copy(z, p)
        steps = problem.steps(callback)
        S = new_state(B, steps, target=target, rz=rz)
        monitor = Monitor(B, S, history)
        record = _record_plain_rule if precond is None else record_residual
        restart = True  # p = z is set: the first iteration skips the direction update
        maxiter = problem.maxiter
        while reason is None and k < maxiter:
            for _ in range(min(steps, maxiter - k)):
                if not restart:
                    if precond is not None:
                        precond.apply(r, out=z)
                        B.s_dot(r, z, S, _beta_rule)
                    B.s_xpay(z, _BETA, p, S)  # p = z + beta p
                restart = False
                B.s_matvec_dot(op, p, q, S, _alpha_rule)  # q = A p; alpha = r.z / p.q
                B.s_cg_update(x, r, p, q, _ALPHA, S, record)  # x += alpha p; r -= alpha q; ||r||
            status, new = monitor.poll()
            k += new
            if callback is not None and new:
                callback(x)
            if status == RUNNING:
                continue
            if status != MET_TARGET:
                reason = REASONS[status]
                break
            # the recursive residual met the target: confirm with the true one
            rr, reason, replacements = confirm_target(op, x, bvec, r, history, target, replacements)
            if reason is not None:
                break
            rz, reason = _precondition(B, precond, r, z, rr)
            if reason is None:
                B.copy(z, p)
                B.set_state(S, {STATUS: RUNNING, RZ: rz})
                restart = True
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


def _precondition(B: Any, precond: Any, r: Any, z: Any, rr: float) -> tuple[float, Reason | None]:
    """z = M⁻¹r and rᵀz on the host, with the failure it reveals (None when fine)."""
    if precond is None:
        return rr, None
    precond.apply(r, out=z)
    rz = B.dot(r, z)
    code = rz_status(rz)
    return rz, (None if code == RUNNING else REASONS[int(code)])
