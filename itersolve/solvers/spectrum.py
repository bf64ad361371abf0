"""Extreme-eigenvalue estimates of M⁻¹A from a few Lanczos steps.

The Lanczos tridiagonal is assembled from the coefficients of preconditioned
CG run on a random right-hand side (Saad, §6.7.3), so the estimate needs
only products with A and applications of M.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["extreme_eigenvalues"]


def extreme_eigenvalues(op: Any, precond: Any = None, *, steps: int = 20, seed: int = 0,
                        backend: Any = None) -> tuple[float, float]:
    """Ritz estimates ``(λ_min, λ_max)`` of ``M⁻¹A`` (of ``A`` when ``precond`` is None).

    Ritz values lie inside the spectrum: ``λ_max`` is approached from below
    and ``λ_min`` from above, so callers that need a safe upper bound should
    enlarge ``λ_max`` by a margin.

    Parameters
    ----------
    op : SparseOperator, LinearOperatorAdapter or DeviceCSR
        The matrix, through its ``matvec_dot``.
    precond : object with ``apply(r, out)``, optional
        The preconditioner.
    steps : int
        Lanczos steps (CG iterations).
    seed : int
        Seed of the random start vector (drawn on the host, so a device run
        starts from the same vector).
    backend : backend namespace, optional
        Where the vectors live; by default the operator's.

    Raises
    ------
    ValueError
        When ``pᵀAp ≤ 0`` or ``rᵀM⁻¹r ≤ 0`` is met: then ``M⁻¹A`` is not
        positive definite and has no such bounds.

    Examples
    --------
    >>> from itersolve.kernels.operator import SparseOperator
    >>> from itersolve.pdes import poisson
    >>> lo, hi = extreme_eigenvalues(SparseOperator(poisson((30,))), steps=30)
    >>> round(hi, 3), round(lo, 3)   # exact: 2 ± 2 cos(π/31)
    (3.99, 0.01)
    """
    from ._driver import backend_of

    B = backend_of(op) if backend is None else backend
    n = op.shape[0]
    rng = np.random.default_rng(seed)
    r = B.from_host(rng.standard_normal(n).astype(op.dtype))
    x = B.zeros_like(r)
    q = B.empty_like(r)
    z = r if precond is None else B.empty_like(r)
    if precond is not None:
        precond.apply(r, out=z)
    rz = B.dot(r, z)
    p = B.empty_like(r)
    B.copy(z, p)
    alphas: list[float] = []
    betas: list[float] = []
    for _ in range(min(steps, n)):
        pq = op.matvec_dot(p, q)
        if not pq > 0.0 or not rz > 0.0:
            raise ValueError("M⁻¹A is not positive definite (Lanczos met pᵀAp ≤ 0 or rᵀM⁻¹r ≤ 0)")
        alpha = rz / pq
        rr = B.cg_update(x, r, p, q, alpha)
        alphas.append(alpha)
        if precond is not None:
            precond.apply(r, out=z)
            rz_new = B.dot(r, z)
        else:
            rz_new = rr
        if rz_new <= 1e-30 * rz or not math.isfinite(rz_new):
            break  # invariant subspace found: the Ritz values are exact
        beta = rz_new / rz
        betas.append(beta)
        B.xpay(z, beta, p)
        rz = rz_new
    m = len(alphas)
    diag = np.empty(m)
    off = np.empty(max(m - 1, 0))
    for j in range(m):
        diag[j] = 1.0 / alphas[j] + (betas[j - 1] / alphas[j - 1] if j > 0 else 0.0)
        if j < m - 1:
            off[j] = math.sqrt(betas[j]) / alphas[j]
    T = np.diag(diag) + np.diag(off, 1) + np.diag(off, -1)
    ritz = np.linalg.eigvalsh(T)
    return float(ritz[0]), float(ritz[-1])
