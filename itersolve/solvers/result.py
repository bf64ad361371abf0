"""The one result type every solver returns, and why a solve stopped.

Examples
--------
>>> from itersolve.solvers.result import Reason
>>> Reason.CONVERGED_RTOL.converged, Reason.DIVERGED_MAXITER.converged
(True, False)
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Reason", "SolveResult"]


class Reason(enum.IntEnum):
    """Why an iteration stopped; values follow PETSc's ``KSPConvergedReason``.

    Positive values mean converged, negative values mean the solve failed.
    ``DIVERGED_STAGNATION`` (itersolve's own, -12) says the true residual stopped
    improving above the target: the attainable accuracy in this precision was
    reached before the tolerance.
    """

    CONVERGED_RTOL = 2
    CONVERGED_ATOL = 3
    DIVERGED_MAXITER = -3
    DIVERGED_DTOL = -4
    DIVERGED_BREAKDOWN = -5
    DIVERGED_INDEFINITE_PC = -8
    DIVERGED_NANORINF = -9
    DIVERGED_INDEFINITE_MAT = -10
    DIVERGED_PC_FAILED = -11
    DIVERGED_STAGNATION = -12

    @property
    def converged(self) -> bool:
        """True for the converged reasons."""
        return self.value > 0


@dataclass
class SolveResult:
    """Outcome of an iterative solve.

    Attributes
    ----------
    x : ndarray or device array
        The final iterate (never the caller's ``x0`` array itself). A solve on
        device arrays leaves it on the device (a Numba device array, usable
        from CuPy or PyTorch without a copy through
        ``__cuda_array_interface__``); :attr:`x_host` copies it to NumPy.
    converged : bool
        True only when the *true* residual ‖b − Ax‖₂ meets
        ``max(rtol·‖b‖₂, atol)``.
    reason : Reason
        Why the iteration stopped.
    iterations : int
        Iterations performed (the callback was called this many times).
    residuals : ndarray
        ‖r_k‖₂ for k = 0..iterations as the method tracked it (recursive for
        CG, true for stationary methods); the last entry is replaced by the
        true residual norm recomputed at exit.
    setup_time, solve_time : float
        Seconds spent before the loop (normalisation, operator layouts,
        preconditioner construction when the solver builds it) and in it.
    info : int
        scipy's convention: 0 converged, >0 the iteration count when the
        tolerance was not reached within ``maxiter``, <0 a breakdown or failure.
    residual_norm : float
        ‖b − Ax‖₂ recomputed at exit.
    target : float
        The tolerance the residual was held to, ``max(rtol·‖b‖₂, atol)``.
    details : dict
        Method-specific extras (chosen ω, fallbacks taken, restarts ...).
    """

    x: Any
    reason: Reason
    iterations: int
    residuals: np.ndarray
    setup_time: float
    solve_time: float
    residual_norm: float
    target: float
    details: dict = field(default_factory=dict)

    @property
    def converged(self) -> bool:
        return self.reason.converged

    @property
    def info(self) -> int:
        if self.reason.converged:
            return 0
        if self.reason == Reason.DIVERGED_MAXITER:
            return max(self.iterations, 1)
        return -1

    @property
    def x_host(self) -> np.ndarray:
        """``x`` as a NumPy array: copied from the device after a device solve, ``x`` itself otherwise."""
        copy_to_host = getattr(self.x, "copy_to_host", None)
        return copy_to_host() if copy_to_host is not None else np.asarray(self.x)

    @property
    def total_time(self) -> float:
        """setup_time + solve_time."""
        return self.setup_time + self.solve_time

    def __repr__(self) -> str:
        return (
            f"SolveResult(converged={self.converged}, reason={self.reason.name}, "
            f"iterations={self.iterations}, residual_norm={self.residual_norm:.3e}, "
            f"target={self.target:.3e}, setup_time={self.setup_time:.3g}s, solve_time={self.solve_time:.3g}s)"
        )
