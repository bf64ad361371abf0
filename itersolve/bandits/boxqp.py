"""Small box-constrained convex quadratic programs (a primal active-set method).

ChebCB fits each arm's Chebyshev coefficients by least squares under the
coefficient bounds of Khodak et al.; the official code calls MATLAB's
``lsqlin``. Here the problem is written on the normal equations,

    minimise ½ θᵀAθ - bᵀθ   subject to  lower ≤ θ ≤ upper,

with ``A`` symmetric positive definite and small (a few unknowns).

Examples
--------
>>> import numpy as np
>>> from itersolve.bandits.boxqp import box_qp
>>> A = np.array([[2.0, 0.0], [0.0, 2.0]])
>>> box_qp(A, np.array([4.0, -1.0]), np.array([-1.0, -1.0]), np.array([1.0, 1.0]))
array([ 1. , -0.5])
"""

from __future__ import annotations

import numpy as np

__all__ = ["box_qp"]


def box_qp(
    A: np.ndarray, b: np.ndarray, lower: np.ndarray, upper: np.ndarray, *, tol: float = 1e-12, max_iter: int | None = None
) -> np.ndarray:
    """Minimise ``½ θᵀAθ - bᵀθ`` over the box ``[lower, upper]``.

    A primal active-set method (Nocedal & Wright, Alg. 16.3, specialised to
    bounds): start at the feasible point nearest the origin, solve the
    equality-constrained problem on the free variables, step to the first
    blocking bound, and release the bound with the most negative multiplier
    when no step is possible. Finite for strictly convex problems.

    Parameters
    ----------
    A : numpy.ndarray, shape (n, n)
        Symmetric positive definite.
    b : numpy.ndarray, shape (n,)
    lower, upper : numpy.ndarray, shape (n,)
        Bounds with ``lower <= upper`` (equal bounds fix a variable).
    tol : float
        Relative tolerance for steps and multipliers.
    max_iter : int, optional
        Iteration cap (default ``10 n + 20``); the last iterate, always
        feasible, is returned if it is reached.

    Returns
    -------
    numpy.ndarray, shape (n,)
    """
    A = np.asarray(A, dtype=float)
    b = np.asarray(b, dtype=float)
    lo = np.asarray(lower, dtype=float)
    hi = np.asarray(upper, dtype=float)
    n = b.size
    if np.any(lo > hi):
        raise ValueError("box_qp needs lower <= upper")
    max_iter = 10 * n + 20 if max_iter is None else max_iter
    x = np.clip(np.zeros(n), lo, hi)
    # side: 0 free, -1 held at lower, +1 held at upper, 2 fixed (lower == upper)
    side = np.where(lo == hi, 2, np.where(x == lo, -1, np.where(x == hi, 1, 0)))
    scale = max(float(np.abs(b).max(initial=0.0)), float(np.abs(A).max(initial=0.0)), 1e-300)
    for _ in range(max_iter):
        free = side == 0
        if free.any():
            held = ~free
            rhs = b[free] - A[np.ix_(free, held)] @ x[held]
            xf = np.linalg.solve(A[np.ix_(free, free)], rhs)
            p = np.zeros(n)
            p[free] = xf - x[free]
        else:
            p = np.zeros(n)
        if np.abs(p).max(initial=0.0) <= tol * max(1.0, float(np.abs(x).max(initial=0.0))):
            g = A @ x - b
            # KKT: at the lower bound g >= 0, at the upper bound g <= 0
            viol = np.where(side == -1, -g, np.where(side == 1, g, -np.inf))
            j = int(np.argmax(viol))
            if viol[j] <= tol * scale:
                return x
            side[j] = 0
            continue
        alpha, block = 1.0, -1
        for i in np.flatnonzero(p):
            if p[i] > 0:
                a = (hi[i] - x[i]) / p[i]
            else:
                a = (lo[i] - x[i]) / p[i]
            if a < alpha:
                alpha, block = a, int(i)
        x = x + max(alpha, 0.0) * p
        if block >= 0:
            side[block] = 1 if p[block] > 0 else -1
            x[block] = hi[block] if p[block] > 0 else lo[block]
        x = np.clip(x, lo, hi)
    return x
