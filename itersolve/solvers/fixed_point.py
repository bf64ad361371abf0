"""Fixed-point iteration x = g(x): Picard and Anderson acceleration."""

from __future__ import annotations

import math
import time
from typing import Any, Callable

import numpy as np

from .. import sparse
from .result import Reason, SolveResult

__all__ = ["fixed_point"]

_METHODS = ("picard", "anderson")


def fixed_point(
    g: Callable[[np.ndarray], np.ndarray],
    x0: Any,
    *,
    method: str = "anderson",
    rtol: float = 1e-5,
    atol: float = 0.0,
    maxiter: int | None = None,
    memory: int = 5,
    mixing: float = 1.0,
    callback: Callable[[np.ndarray], None] | None = None,
    dtol: float = 1e5,
) -> SolveResult:
    """Find x with ``g(x) = x`` by Picard iteration or Anderson acceleration.

    The residual is ``f(x) = g(x) − x`` and the stopping rule is the house
    rule with ``f(x₀)`` in the role of ``b``: stop when
    ‖f(x_k)‖₂ ≤ max(rtol·‖f(x₀)‖₂, atol). The reported ``residual_norm`` is
    ‖g(x) − x‖₂ evaluated at the returned ``x``.

    Anderson acceleration (type II, Walker & Ni 2011) keeps the last
    ``memory`` differences of residuals ΔF and of map values ΔG, solves the
    small least-squares problem min ‖f_k − ΔF γ‖ by QR, and sets
    ``x ← g(x_k) − ΔG γ − (1 − mixing)(f_k − ΔF γ)``. Picard is
    ``x ← x + mixing·f(x)``.

    Parameters
    ----------
    g : callable
        The map, ``g(x) -> ndarray`` of the same shape.
    x0 : array_like
        Starting point (left untouched).
    method : {"anderson", "picard"}
    memory : int
        Anderson depth m ≥ 1.
    mixing : float
        Damping β in (0, 1].
    rtol, atol, maxiter, callback, dtol
        As for the linear solvers; ``maxiter`` defaults to 1000.

    Returns
    -------
    SolveResult
        ``x`` is the last iterate; ``DIVERGED_DTOL`` when ‖f‖ grows past
        ``dtol·‖f(x₀)‖``; ``DIVERGED_NANORINF`` if ``g`` returns NaN/Inf.

    Examples
    --------
    >>> import numpy as np, itersolve
    >>> res = itersolve.fixed_point(np.cos, np.zeros(3), rtol=1e-10)
    >>> res.converged, bool(np.allclose(res.x, 0.7390851332))
    (True, True)
    >>> slow = itersolve.fixed_point(np.cos, np.zeros(3), method="picard", rtol=1e-10)
    >>> slow.iterations > 3 * res.iterations
    True
    """
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    if not callable(g):
        raise TypeError("g must be callable")
    if isinstance(memory, bool) or not isinstance(memory, (int, np.integer)) or memory < 1:
        raise ValueError(f"memory must be an integer >= 1, got {memory!r}")
    if not 0.0 < float(mixing) <= 1.0:
        raise ValueError(f"mixing must lie in (0, 1], got {mixing}")
    t0 = time.perf_counter()
    x = sparse.as_vector(x0, np.size(x0), name="x0", copy=True)
    rtol, atol, maxiter = sparse.check_tolerances(rtol, atol, maxiter, 1000)

    def evaluate(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        gv = np.asarray(g(v), dtype=x.dtype).reshape(-1)
        if gv.shape != v.shape:
            raise ValueError(f"g returned shape {gv.shape}, expected {v.shape}")
        return gv, gv - v

    t_loop = time.perf_counter()
    gx, f = evaluate(x)
    f0 = float(np.linalg.norm(f))
    target = max(rtol * f0, atol)
    history = [f0]
    dF: list[np.ndarray] = []
    dG: list[np.ndarray] = []
    reason = None
    k = 0
    if not math.isfinite(f0):
        reason = Reason.DIVERGED_NANORINF
    elif f0 <= target:
        reason = Reason.CONVERGED_RTOL
    while reason is None and k < maxiter:
        if method == "picard" or not dF:
            x_new = x + mixing * f
        else:
            F = np.stack(dF, axis=1)
            gamma = np.linalg.lstsq(F, f, rcond=None)[0]
            x_new = gx - np.stack(dG, axis=1) @ gamma - (1.0 - mixing) * (f - F @ gamma)
        gx_new, f_new = evaluate(x_new)
        if method == "anderson":
            dF.append(f_new - f)
            dG.append(gx_new - gx)
            if len(dF) > memory:
                dF.pop(0)
                dG.pop(0)
        x, gx, f = x_new, gx_new, f_new
        k += 1
        if callback is not None:
            callback(x)
        fnorm = float(np.linalg.norm(f))
        history.append(fnorm)
        if not math.isfinite(fnorm):
            reason = Reason.DIVERGED_NANORINF
        elif fnorm <= target:
            reason = Reason.CONVERGED_RTOL if target > atol else Reason.CONVERGED_ATOL
        elif fnorm > dtol * f0:
            reason = Reason.DIVERGED_DTOL
    if reason is None:
        reason = Reason.DIVERGED_MAXITER
    elif reason == Reason.CONVERGED_RTOL and atol >= rtol * f0:
        reason = Reason.CONVERGED_ATOL
    t_end = time.perf_counter()
    return SolveResult(
        x=x,
        reason=reason,
        iterations=k,
        residuals=np.asarray(history),
        setup_time=t_loop - t0,
        solve_time=t_end - t_loop,
        residual_norm=history[-1],
        target=target,
        details={"method": method, "memory": int(memory) if method == "anderson" else 0},
    )
