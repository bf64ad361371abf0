"""Numba kernels of the GP policies (:mod:`itersolve.bandits.gp_thompson`).

For the contextual model (:mod:`itersolve.bandits.gp_model`), the per-round
work of Thompson sampling on the ``F = K (d+1)``-dimensional posterior's
marginals -- a rank-one update of the played arm's block and a draw of the
``K`` arms' losses at one context -- and the ``O(F³)`` refits; for the
discounted GP on the arm grid (:class:`~itersolve.bandits.GPThompson`), the
``K × K`` posterior of each forgetting factor. Plain loops, no BLAS: on a busy
two-core machine a multithreaded BLAS makes 120 × 120 products a hundred
times slower (see :mod:`itersolve.bandits.smalllinalg`), and at these sizes
compiled loops are as fast as BLAS anyway. Matrices are C-contiguous
float64; indices ``(a, j)`` of the coefficient vector are flattened as
``a * m + j`` (arm ``a``, Chebyshev degree ``j``).
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numba
import numpy as np
from numba import njit

from .chebyshev import chebyshev_features, chebyshev_into

__all__ = [
    "cholesky_inplace",
    "primal_scores",
    "dual_scores",
    "warped_chebyshev",
    "warped_chebyshev_batch",
    "data_stats",
    "observe_packed",
    "layout",
    "primal_posterior_blocks",
    "dual_posterior_blocks",
    "packed_size",
    "unpack",
    "observations",
    "control_size",
    "control_normals",
    "centre",
    "scaled_blocks",
    "refit_posterior",
    "policy_round",
    "compiled_entry",
    "discounted_update",
    "discounted_active",
    "discounted_select",
    "discounted_refit",
    "discounted_marginals",
]


@njit(cache=True)
def _sigma2(q: float, stats: np.ndarray, nu0: float) -> float:
    """Posterior-mode noise variance under the inverse-gamma prior (see ``ArmContextGP``)."""
    n, s, ss = stats[0], stats[1], stats[2]
    if n <= 0:
        prior = 1.0
    else:
        mu = s / n
        var = max(ss / n - mu * mu, 0.0)
        prior = max(var, (1e-2 * mu) ** 2, 1e-300)
    return (max(q, 0.0) + nu0 * prior) / (n + nu0 + 2.0)


@njit(cache=True, fastmath=True)
def cholesky_inplace(A):  # pragma: no cover - compiled
    """Lower Cholesky factor in the lower triangle of ``A`` (upper set to 0); False if not SPD.

    Column by column (Crout), four rows at a time: each row ``j`` of the
    factor is read once for four dot products, which roughly halves the
    time at the sizes used here (``n`` ≈ 80).
    """
    n = A.shape[0]
    for j in range(n):
        rj = A[j]
        d = rj[j]
        for k in range(j):
            d -= rj[k] * rj[k]
        if not d > 0.0:
            return False
        d = math.sqrt(d)
        rj[j] = d
        inv = 1.0 / d
        i = j + 1
        while i + 3 < n:
            r0, r1, r2, r3 = A[i], A[i + 1], A[i + 2], A[i + 3]
            a0, a1, a2, a3 = r0[j], r1[j], r2[j], r3[j]
            for k in range(j):
                x = rj[k]
                a0 -= r0[k] * x
                a1 -= r1[k] * x
                a2 -= r2[k] * x
                a3 -= r3[k] * x
            r0[j], r1[j], r2[j], r3[j] = a0 * inv, a1 * inv, a2 * inv, a3 * inv
            i += 4
        for i in range(i, n):
            ri = A[i]
            acc = ri[j]
            for k in range(j):
                acc -= ri[k] * rj[k]
            ri[j] = acc * inv
    for i in range(n):
        for j in range(i + 1, n):
            A[i, j] = 0.0
    return True


@njit(cache=True, fastmath=True)
def _forward(C, b, out):  # pragma: no cover - compiled
    n = C.shape[0]
    for i in range(n):
        acc = b[i]
        for k in range(i):
            acc -= C[i, k] * out[k]
        out[i] = acc / C[i, i]


@njit(cache=True, fastmath=True)
def _backward(C, b, out):  # pragma: no cover - compiled
    """Solve ``Cᵀ x = b`` for lower-triangular ``C``."""
    n = C.shape[0]
    for i in range(n - 1, -1, -1):
        acc = b[i]
        for k in range(i + 1, n):
            acc -= C[k, i] * out[k]
        out[i] = acc / C[i, i]


@njit(cache=True, fastmath=True)
def _build_m1(LA, blocks):  # pragma: no cover - compiled
    """Lower block triangle of ``(L_A ⊗ I)ᵀ blockdiag(blocks) (L_A ⊗ I)`` for lower-triangular ``L_A``.

    Block ``(b, c)`` is ``Σ_{a ≥ b} L_A[a, b] L_A[a, c] blocks[a]``, summed
    over flattened ``m²`` blocks (contiguous) before it is written; the
    blocks above the diagonal are left zero (the Cholesky factorisation
    reads the lower triangle only).
    """
    K = LA.shape[0]
    m = blocks.shape[1]
    mm = m * m
    flat = np.ascontiguousarray(blocks).reshape((K, mm))
    M1 = np.zeros((K * m, K * m))
    acc = np.empty(mm)
    for b in range(K):
        for c in range(b + 1):
            acc[:] = 0.0
            for a in range(b, K):
                w = LA[a, b] * LA[a, c]
                fa = flat[a]
                for t in range(mm):
                    acc[t] += w * fa[t]
            for j in range(m):
                row = M1[b * m + j]
                for k in range(m):
                    row[c * m + k] = acc[j * m + k]
    return M1


@njit(cache=True)
def _lh(LA, hd):  # pragma: no cover - compiled
    K = LA.shape[0]
    m = hd.shape[1]
    out = np.zeros(K * m)
    for a in range(K):
        for b in range(a + 1):
            for j in range(m):
                out[b * m + j] += LA[a, b] * hd[a, j]
    return out


@njit(cache=True, fastmath=True)
def _scores_over_rho(M, v, rhos, q0, primal, a_ig, stats, nu0):  # pragma: no cover - compiled
    """For each ``ρ``: ``B = ρ M + I = L Lᵀ``, ``z = L⁻¹ v`` and the profiled score, with the residual
    sum of squares ``q = q0 − ρ ‖z‖²`` (``primal``) or ``q = ‖z‖²`` (dual form). Non-SPD ``B`` scores ``-inf``."""
    F = M.shape[0]
    out = np.empty(rhos.shape[0])
    z = np.empty(F)
    B = np.empty((F, F))
    for i in range(rhos.shape[0]):
        rho = rhos[i]
        for r in range(F):
            for s in range(r + 1):
                B[r, s] = rho * M[r, s]
            B[r, r] += 1.0
        if not cholesky_inplace(B):
            out[i] = -np.inf
            continue
        _forward(B, v, z)
        q = q0
        logdet = 0.0
        for r in range(F):
            if primal:
                q -= rho * z[r] * z[r]
            else:
                q += z[r] * z[r]
            logdet += math.log(B[r, r])
        out[i] = -a_ig * math.log(_sigma2(q, stats, nu0)) - logdet
    return out


@njit(cache=True, fastmath=True)
def primal_scores(LA, blocks, hd, rhos, yyc, a_ig, stats, nu0):  # pragma: no cover - compiled
    """Profiled log marginal likelihood of each ``ρ`` for one arm-kernel factor ``L_A``.

    ``blocks`` are the per-arm Gram blocks scaled by ``D½`` on both sides,
    ``hd`` the centred ``Σ φ y`` scaled by ``D½``. Non-SPD candidates score ``-inf``.
    """
    return _scores_over_rho(_build_m1(LA, blocks), _lh(LA, hd), rhos, yyc, True, a_ig, stats, nu0)


@njit(cache=True, fastmath=True)
def _dual_kernel(P, dvec, arms, feats):  # pragma: no cover - compiled
    n = arms.shape[0]
    m = feats.shape[1]
    Kd = np.empty((n, n))
    for s in range(n):
        for t in range(s + 1):
            acc = 0.0
            for j in range(m):
                acc += dvec[j] * feats[s, j] * feats[t, j]
            v = P[arms[s], arms[t]] * acc
            Kd[s, t] = v
            Kd[t, s] = v
    return Kd


@njit(cache=True, fastmath=True)
def dual_scores(P, dvec, arms, feats, yc, rhos, a_ig, stats, nu0):  # pragma: no cover - compiled
    """:func:`primal_scores` computed on the ``n × n`` data kernel (cheaper while ``n < F``)."""
    return _scores_over_rho(_dual_kernel(P, dvec, arms, feats), yc, rhos, 0.0, False, a_ig, stats, nu0)


@njit(cache=True)
def _warp_norm(warp):  # pragma: no cover - compiled
    """``log(1 + 1/|warp|)``, the normaliser of a logarithmic warp (1 for the linear one, unused)."""
    return math.log1p(1.0 / abs(warp)) if warp != 0.0 else 1.0


@njit(cache=True, inline="always")
def _warp_with(c, lo, hi, warp, norm):  # pragma: no cover - compiled
    """:func:`_warped_point` with its normaliser ``norm = _warp_norm(warp)`` given (batches compute it once)."""
    z = (c - lo) / (hi - lo)
    z = min(max(z, 0.0), 1.0)
    if warp > 0.0:
        return 2.0 * math.log1p(z / warp) / norm - 1.0
    if warp < 0.0:
        return 1.0 - 2.0 * math.log1p((1.0 - z) / -warp) / norm
    return 2.0 * z - 1.0


@njit(cache=True)
def _warped_point(c, lo, hi, warp):  # pragma: no cover - compiled
    """The point ``u ∈ [-1, 1]`` of context ``c`` (see :func:`warped_chebyshev`)."""
    return _warp_with(c, lo, hi, warp, _warp_norm(warp))


@njit(cache=True)
def warped_chebyshev(c, lo, hi, warp, degree):  # pragma: no cover - compiled
    """``[T_0(u), ..., T_degree(u)]`` of the warped, rescaled context ``u ∈ [-1, 1]``.

    ``z = (c - lo) / (hi - lo)`` clipped to ``[0, 1]``; ``warp = 0``: ``u = 2z - 1``;
    ``warp = s > 0``: ``u = 2 log(1 + z/s) / log(1 + 1/s) - 1`` (resolution
    concentrated near ``lo``); ``warp = -s < 0``: the mirror image (near ``hi``).
    """
    return chebyshev_features(_warped_point(c, lo, hi, warp), degree)


@njit(cache=True)
def warped_chebyshev_batch(contexts, lo, hi, warp, degree):  # pragma: no cover - compiled
    """:func:`warped_chebyshev` of every entry of ``contexts``, as rows (written in place, no per-row arrays)."""
    out = np.empty((contexts.shape[0], degree + 1))
    norm = _warp_norm(warp)
    for i in range(contexts.shape[0]):
        chebyshev_into(_warp_with(contexts[i], lo, hi, warp, norm), out[i], 0, degree + 1)
    return out


@njit(cache=True)
def data_stats(arms, feats, ys, K):  # pragma: no cover - compiled
    """Per-arm ``Σ φφᵀ`` (K, m, m), ``Σ φ y`` and ``Σ φ`` (K, m) of a batch of observations."""
    n, m = feats.shape
    blocks = np.zeros((K, m, m))
    hs = np.zeros((K, m))
    ho = np.zeros((K, m))
    for i in range(n):
        a = arms[i]
        for j in range(m):
            fj = feats[i, j]
            hs[a, j] += fj * ys[i]
            ho[a, j] += fj
            for k in range(m):
                blocks[a, j, k] += fj * feats[i, k]
    return blocks, hs, ho


# ----------------------------------------------------------------------------- per-round work of the contextual model
@njit(cache=True)
def layout(K, m):  # pragma: no cover - compiled
    """Offsets of ``(cov, mean, hc, gram, hsum, hone, stats, fit)`` in ``ArmContextGP.packed``
    (sizes ``K m², K m, K m, K m², K m, K m, 3, 5``), then of the first observation."""
    F, mm = K * m, K * m * m
    return 0, mm, mm + F, mm + 2 * F, 2 * mm + 2 * F, 2 * mm + 3 * F, 2 * mm + 4 * F, 2 * mm + 4 * F + 3, 2 * mm + 4 * F + 8


@njit(cache=True)
def observe_packed(state, K, m, arm, f, fo, y, work, wo):  # pragma: no cover - compiled
    """Add one observation to the model in ``state`` (``ArmContextGP.packed``), updating the played
    arm's marginal posterior exactly.

    The observation is the loss ``y`` of ``arm`` with features ``f[fo : fo + m]``;
    ``work[wo : wo + m]`` is scratch. Arm ``a``'s marginal posterior covariance
    / σ² of its coefficients changes by a rank-one update (the other arms
    learn from it at the next refit, through the prior coupling). Flat
    indices, no array views: a view costs reference counting, which is most
    of the time of a round from cold caches.
    """
    o_cov, o_mean, o_hc, o_gram, o_hsum, o_hone, o_stats, o_fit, _ = layout(K, m)
    off = arm * m
    blk = arm * m * m
    for j in range(m):
        fj = f[fo + j]
        state[o_hsum + off + j] += y * fj
        state[o_hone + off + j] += fj
        for k in range(m):
            state[o_gram + blk + j * m + k] += fj * f[fo + k]
    state[o_stats] += 1.0
    state[o_stats + 1] += y
    state[o_stats + 2] += y * y
    B = o_cov + blk
    for j in range(m):
        acc = 0.0
        for k in range(m):
            acc += state[B + j * m + k] * f[fo + k]
        work[wo + j] = acc
    denom = 1.0
    pred = 0.0
    for j in range(m):
        denom += f[fo + j] * work[wo + j]
        pred += f[fo + j] * state[o_mean + off + j]
    yc = y - state[o_fit]
    g = (yc - pred) / denom
    for j in range(m):
        sj = work[wo + j]
        for k in range(m):
            state[B + j * m + k] -= sj * work[wo + k] / denom
        state[o_mean + off + j] += sj * g
        state[o_hc + off + j] += yc * f[fo + j]
    state[o_fit + 2] += yc * yc


@njit(cache=True)
def _thompson_argmin(state, K, m, f, fo, z, zo, scale):  # pragma: no cover - compiled
    """Arm minimising independent draws (normals ``z[zo : zo + K]``) from the arms' marginal posteriors
    at a context with features ``f[fo : fo + m]`` (flat indices, as :func:`observe_packed`)."""
    o_cov, o_mean, _, _, _, _, _, o_fit, _ = layout(K, m)
    m0, sigma2 = state[o_fit], state[o_fit + 1]
    best = 0
    best_val = np.inf
    for a in range(K):
        mu = m0
        var = 0.0
        B = o_cov + a * m * m
        for j in range(m):
            mu += state[o_mean + a * m + j] * f[fo + j]
            acc = 0.0
            for k in range(m):
                acc += state[B + j * m + k] * f[fo + k]
            var += f[fo + j] * acc
        v = mu + scale * math.sqrt(max(sigma2 * var, 0.0)) * z[zo + a]
        if v < best_val:
            best_val = v
            best = a
    return best


@njit(cache=True, fastmath=True)
def _tri_inverse(C):  # pragma: no cover - compiled
    """Inverse of a lower-triangular matrix, ``n³/6`` FMAs.

    Row ``i`` of ``W = C⁻¹`` is ``-(Σ_{k<i} C[i, k] W[k, :]) / C[i, i]`` on its
    first ``i`` entries: contiguous row updates, four rows ``k`` at a time.
    """
    n = C.shape[0]
    W = np.zeros((n, n))
    for i in range(n):
        ci, wi = C[i], W[i]
        k = 0
        while k + 3 < i:
            c0, c1, c2, c3 = ci[k], ci[k + 1], ci[k + 2], ci[k + 3]
            w0, w1, w2, w3 = W[k], W[k + 1], W[k + 2], W[k + 3]
            for j in range(k + 4):
                wi[j] += c0 * w0[j] + c1 * w1[j] + c2 * w2[j] + c3 * w3[j]
            k += 4
        for k in range(k, i):
            c, wk = ci[k], W[k]
            for j in range(k + 1):
                wi[j] += c * wk[j]
        d = 1.0 / ci[i]
        for j in range(i):
            wi[j] = -wi[j] * d
        wi[i] = d
    return W


@njit(cache=True, fastmath=True)
def primal_posterior_blocks(LA, sqrt_d, blocks, rho, hc):  # pragma: no cover - compiled
    """Mean and per-arm marginal covariance blocks (/σ²) of the posterior, ``O(F³)``.

    Like :func:`primal_posterior` but only the diagonal ``m × m`` blocks of
    ``L B⁻¹ Lᵀ = (C⁻¹Lᵀ)ᵀ(C⁻¹Lᵀ)`` are formed, from the triangular inverse
    ``C⁻¹`` (``F³/6``), and the mean by two triangular solves.
    """
    K = LA.shape[0]
    m = sqrt_d.shape[0]
    F = K * m
    M1 = _build_m1(LA, blocks)
    B = np.zeros((F, F))
    for r in range(F):
        for s in range(r + 1):
            B[r, s] = rho * M1[r, s]
        B[r, r] += 1.0
    if not cholesky_inplace(B):
        return np.empty(0), np.empty((0, m, m)), False
    sr = math.sqrt(rho)
    # mean = L C⁻ᵀ C⁻¹ Lᵀ hc, L = sr (LA ⊗ D½)
    lt = np.zeros(F)  # Lᵀ hc
    for a in range(K):
        for b in range(a + 1):
            for j in range(m):
                lt[b * m + j] += sr * LA[a, b] * sqrt_d[j] * hc[a * m + j]
    tmp = np.empty(F)
    w = np.empty(F)
    _forward(B, lt, tmp)
    _backward(B, tmp, w)
    mean = np.zeros(F)
    for a in range(K):
        for b in range(a + 1):
            for j in range(m):
                mean[a * m + j] += sr * LA[a, b] * sqrt_d[j] * w[b * m + j]
    # block a = ρ D½ (Σ_r z_r[a] z_r[a]ᵀ) D½ with z_r[(a, j)] = Σ_{b ≤ a} L_A[a, b] W[r, (b, j)], z_r = row r
    # of C⁻¹ (L_A ⊗ I)ᵀ; W = C⁻¹. For each feature j, Z_j[r, a] = z_r[(a, j)] is the product
    # W[:, j::m] L_Aᵀ (one BLAS call on a contiguous copy), and block a sums Z_j[:, a] Z_k[:, a] over r.
    W = _tri_inverse(B)
    LAT = np.ascontiguousarray(LA.T)
    Wj = np.empty((F, K))
    Z = np.empty((m, F, K))
    for j in range(m):
        for r in range(F):
            for b in range(K):
                Wj[r, b] = W[r, b * m + j]
        Z[j] = np.dot(Wj, LAT)
    acc = np.zeros((K, m, m))
    col = np.empty(K)
    for j in range(m):
        for k in range(j + 1):
            col[:] = 0.0
            zj, zk = Z[j], Z[k]
            for r in range(F):
                zjr, zkr = zj[r], zk[r]
                for a in range(K):
                    col[a] += zjr[a] * zkr[a]
            for a in range(K):
                acc[a, j, k] = col[a]
    out = np.empty((K, m, m))
    for a in range(K):
        for j in range(m):
            for k in range(j + 1):
                v = rho * sqrt_d[j] * sqrt_d[k] * acc[a, j, k]
                out[a, j, k] = v
                out[a, k, j] = v
    return mean, out, True


@njit(cache=True, fastmath=True)
def dual_posterior_blocks(P, dvec, arms, feats, yc, rho):  # pragma: no cover - compiled
    """Mean and marginal blocks from the ``n × n`` data kernel (see :func:`dual_posterior`)."""
    n = arms.shape[0]
    K = P.shape[0]
    m = feats.shape[1]
    F = K * m
    Kd = _dual_kernel(P, dvec, arms, feats)
    Bn = np.empty((n, n))
    for s in range(n):
        for t in range(n):
            Bn[s, t] = rho * Kd[s, t]
        Bn[s, s] += 1.0
    if not cholesky_inplace(Bn):
        return np.empty(0), np.empty((0, m, m)), False
    tmp = np.empty(n)
    w = np.empty(n)
    _forward(Bn, yc, tmp)
    _backward(Bn, tmp, w)
    mean = np.empty(F)
    out = np.empty((K, m, m))
    V = np.empty((n, m))
    col = np.empty(n)
    for a in range(K):
        # columns (a, j) of Σ₀Φᵀ: rho P[a, a_s] d_j φ_sj
        for j in range(m):
            acc = 0.0
            for s in range(n):
                col[s] = rho * P[a, arms[s]] * dvec[j] * feats[s, j]
                acc += col[s] * w[s]
            mean[a * m + j] = acc
            _forward(Bn, col, tmp)
            for s in range(n):
                V[s, j] = tmp[s]
        for j in range(m):
            for k in range(j + 1):
                acc = rho * P[a, a] * dvec[j] if j == k else 0.0
                for s in range(n):
                    acc -= V[s, j] * V[s, k]
                out[a, j, k] = acc
                out[a, k, j] = acc
    return mean, out, True


@njit(cache=True)
def packed_size(K, m):
    """Length of the posterior part of the buffer :func:`unpack` reads: ``2 K m² + 4 K m + 8`` (:func:`layout`)."""
    return layout(K, m)[8]


#: columns of a stored observation (:func:`observations`): arm, loss, tag, then the ``m`` features
OBS_ARM, OBS_Y, OBS_TAG, OBS_FEATS = 0, 1, 2, 3


@njit(cache=True)
def observations(state, K, m):  # pragma: no cover - compiled
    """View of the observations after the posterior in ``ArmContextGP.packed``: one row
    ``[arm, loss, tag, φ_0, ..., φ_{m-1}]`` per observation, as many rows as fit."""
    start = packed_size(K, m)
    rows = (state.shape[0] - start) // (m + OBS_FEATS)
    return state[start : start + rows * (m + OBS_FEATS)].reshape((rows, m + OBS_FEATS))


@njit(cache=True)
def unpack(state, K, m):  # pragma: no cover - compiled
    """Views ``(cov, mean, hc, gram, hsum, hone, stats, fit)`` of ``ArmContextGP.packed``.

    ``gram`` holds only the ``K`` diagonal ``m × m`` blocks of the
    (block-diagonal) Gram matrix ``Σ φ φᵀ``, shape ``(K, m, m)``, so the
    whole posterior part is a few kilobytes of contiguous memory.
    """
    F = K * m
    o_cov, o_mean, o_hc, o_gram, o_hsum, o_hone, o_stats, o_fit, _ = layout(K, m)
    return (state[o_cov : o_cov + K * m * m].reshape((K, m, m)), state[o_mean : o_mean + F],
            state[o_hc : o_hc + F], state[o_gram : o_gram + K * m * m].reshape((K, m, m)),
            state[o_hsum : o_hsum + F], state[o_hone : o_hone + F], state[o_stats : o_stats + 3],
            state[o_fit : o_fit + 5])


@njit(cache=True)
def centre(stats, hsum, hone):  # pragma: no cover - compiled
    """``(m₀, Σ φ (y − m₀), Σ (y − m₀)²)`` from the data sums (``stats = [n, Σ y, Σ y²]``), ``m₀`` the mean loss."""
    n, s, ss = stats[0], stats[1], stats[2]
    m0 = s / n
    return m0, hsum - m0 * hone, max(ss - 2.0 * m0 * s + n * m0 * m0, 0.0)


@njit(cache=True)
def scaled_blocks(blocks, sqrt_d):  # pragma: no cover - compiled
    """``D½ blocks[a] D½`` for every arm ``a`` (the primal kernels' form of the Gram blocks)."""
    K, m = blocks.shape[0], blocks.shape[1]
    out = np.empty((K, m, m))
    for a in range(K):
        for j in range(m):
            for k in range(m):
                out[a, j, k] = blocks[a, j, k] * sqrt_d[j] * sqrt_d[k]
    return out


@njit(cache=True)
def refit_posterior(state, K, m, LA, P, sqrt_d, dvec, rho, nu0):  # pragma: no cover - compiled
    """Recompute the posterior in ``state`` (``ArmContextGP.packed``) from its data, in place.

    Centres at the mean loss ``m₀``, then forms the mean and the arms'
    marginal blocks with the arm-kernel factor ``LA`` (of ``P``), the prior
    scales ``sqrt_d`` of the features (``dvec = sqrt_d²``) and signal ratio ``rho``: on the ``n × n`` data kernel while ``n < F``
    (:func:`dual_posterior_blocks`), else on the normal equations
    (:func:`primal_posterior_blocks`); finally ``σ²`` (:func:`_sigma2`).
    Writes ``cov``, ``mean``, ``hc`` and ``fit[:3]``; returns False (and
    changes nothing) if a factorisation fails.
    """
    cov, mean, hc, gram, hsum, hone, stats, fit = unpack(state, K, m)
    n = int(stats[0])
    m0, hcn, yyc = centre(stats, hsum, hone)
    F = K * m
    if n < F:
        obs = observations(state, K, m)
        arms = np.empty(n, dtype=np.int64)
        yc = np.empty(n)
        feats = np.empty((n, m))
        for i in range(n):
            arms[i] = int(obs[i, OBS_ARM])
            yc[i] = obs[i, OBS_Y] - m0
            for j in range(m):
                feats[i, j] = obs[i, OBS_FEATS + j]
        new_mean, new_cov, ok = dual_posterior_blocks(P, dvec, arms, feats, yc, rho)
    else:
        blocks = scaled_blocks(gram, sqrt_d)
        new_mean, new_cov, ok = primal_posterior_blocks(LA, sqrt_d, blocks, rho, hcn)
    if not ok:
        return False
    cov[...] = new_cov
    q = yyc
    for i in range(F):
        mean[i] = new_mean[i]
        hc[i] = hcn[i]
        q -= hcn[i] * new_mean[i]
    fit[0] = m0
    fit[1] = _sigma2(q, stats, nu0)
    fit[2] = yyc
    return True


#: layout of the control array of :func:`policy_round`: context range, warp, draw scale, next row of
#: normals, number of arms ``K`` and of features ``m``; then ``m`` entries of scratch for one context's
#: features and ``m`` of work space, then the standard normals of the draws, ``K`` per row (:func:`control_size`)
CTL_LO, CTL_HI, CTL_WARP, CTL_SCALE, CTL_ZPOS, CTL_K, CTL_M, CTL_FEATS = 0, 1, 2, 3, 4, 5, 6, 7


@njit(cache=True)
def _normals_start(m):  # pragma: no cover - compiled
    """Offset of the first row of normals in a control array (after the features and the work space)."""
    return CTL_FEATS + 2 * m


def control_size(K: int, m: int, rows: int) -> int:
    """Length of a control array of :func:`policy_round` with ``rows`` rows of normals."""
    return _normals_start(m) + rows * K


@njit(cache=True)
def control_normals(ctl):  # pragma: no cover - compiled
    """The rows of standard normals of a control array (a view)."""
    K, m = int(ctl[CTL_K]), int(ctl[CTL_M])
    return ctl[_normals_start(m) :].reshape((-1, K))


@njit(cache=True)
def policy_round(state, ctl, arm, y, pc, c):  # pragma: no cover - compiled
    """A round of the contextual GP policy in one compiled call with two array arguments.

    ``state`` is ``ArmContextGP.packed`` (:func:`unpack`, :func:`observations`);
    ``ctl`` holds the policy's scalars and normals (``CTL_*``). If ``arm >= 0``,
    first the last round's observation (loss ``y`` of ``arm`` at context
    ``pc``, stored as its tag) is stored after the ``n`` stored ones (the
    caller guarantees room) and taken into the played arm's marginal
    (:func:`observe_packed`). Then, unless ``c`` is NaN, the Thompson draw at
    context ``c`` with the next row of normals picks the arm returned.
    Contexts are clipped to the range. Returns ``-1`` when there is no draw
    and ``-2`` when the normals are used up (the observation, if any, was
    taken in: call again with ``arm = -1`` after refilling them and
    resetting ``CTL_ZPOS``).
    """
    K, m = int(ctl[CTL_K]), int(ctl[CTL_M])
    lo, hi, warp = ctl[CTL_LO], ctl[CTL_HI], ctl[CTL_WARP]
    if arm >= 0:
        pc = min(max(pc, lo), hi)
        chebyshev_into(_warped_point(pc, lo, hi, warp), ctl, CTL_FEATS, m)
        offsets = layout(K, m)
        row = offsets[8] + int(state[offsets[6]]) * (m + OBS_FEATS)
        state[row + OBS_ARM] = arm
        state[row + OBS_Y] = y
        state[row + OBS_TAG] = pc
        for j in range(m):
            state[row + OBS_FEATS + j] = ctl[CTL_FEATS + j]
        observe_packed(state, K, m, arm, ctl, CTL_FEATS, y, ctl, CTL_FEATS + m)
    if math.isnan(c):
        return -1
    zpos = int(ctl[CTL_ZPOS])
    z0 = _normals_start(m) + zpos * K
    if z0 + K > ctl.shape[0]:
        return -2
    ctl[CTL_ZPOS] = zpos + 1
    chebyshev_into(_warped_point(min(max(c, lo), hi), lo, hi, warp), ctl, CTL_FEATS, m)
    return _thompson_argmin(state, K, m, ctl, CTL_FEATS, ctl, z0, ctl[CTL_SCALE])


def compiled_entry(dispatcher: Any, args: tuple) -> Callable:
    """The compiled function of ``dispatcher`` for the types of ``args``, to call without type dispatch.

    A jitted function looks up the types of its arguments on every call
    (about 2.5 µs of an 11-argument call from cold caches); the entry point
    of one signature (``Dispatcher.compile``) skips that. The caller must
    pass arguments of exactly those types on every call (same dtypes,
    dimensions and layouts: it has no check); where Numba is disabled the
    plain function comes back.

    Examples
    --------
    >>> import numpy as np
    >>> f = compiled_entry(data_stats, (np.zeros(2, dtype=np.int64), np.ones((2, 3)), np.ones(2), 2))
    >>> f(np.array([0, 1]), np.ones((2, 3)), np.array([1.0, 2.0]), 2)[1].tolist()
    [[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]]
    """
    compile_ = getattr(dispatcher, "compile", None)
    if compile_ is None:
        return dispatcher
    return compile_(tuple(numba.typeof(a) for a in args))


# ----------------------------------------------------------------------------- discounted GP on the arm grid (no context)
@njit(cache=True, fastmath=True)
def _discounted_posterior(prec, rho, W, S, st, nu0, Lc, vec):  # pragma: no cover - compiled
    """Posterior of the arms' centred losses from discounted per-arm sums; returns ``(m0, σ², log det Λ)``.

    ``W[a]``, ``S[a]``: weighted count and sum of arm ``a``'s losses; ``st``:
    weighted ``(count, Σ y, Σ y²)``. With the prior ``σ² ρ A`` (``prec`` =
    ``A⁻¹``) the posterior precision / σ⁻² is ``Λ = A⁻¹/ρ + diag(W)``, left
    as its Cholesky factor in ``Lc``; ``vec[0] = Λ⁻¹ (S - W m0)``, the mean
    (``vec[1:3]`` is work space); ``σ²`` is profiled as in :func:`_sigma2`
    with the weighted count for ``n``.
    """
    K = W.shape[0]
    n = st[0]
    m0 = st[1] / n if n > 0.0 else 0.0
    inv_rho = 1.0 / rho
    for a in range(K):
        for b in range(a + 1):
            Lc[a, b] = prec[a, b] * inv_rho
        Lc[a, a] += W[a]
    cholesky_inplace(Lc)  # SPD: a positive definite prior precision plus a non-negative diagonal
    mean, hc, tmp = vec[0], vec[1], vec[2]
    for a in range(K):
        hc[a] = S[a] - W[a] * m0
    _forward(Lc, hc, tmp)
    _backward(Lc, tmp, mean)
    q = max(st[2] - m0 * st[1], 0.0)  # Σ w (y - m0)²
    logdet = 0.0
    for a in range(K):
        q -= hc[a] * mean[a]
        logdet += 2.0 * math.log(Lc[a, a])
    return m0, _sigma2(q, st, nu0), logdet


@njit(cache=True)
def discounted_update(prec, rhos, gammas, W, S, st, err, hyp, Lc, vec, arm, y, nu0):  # pragma: no cover - compiled
    """One observation ``y`` of ``arm`` for every forgetting factor ``gammas[c]``.

    First each candidate's posterior predicts ``y`` (its mean loss of
    ``arm``); with ``d_c`` the squared error of candidate 0 minus that of
    candidate ``c``, ``err[c]`` accumulates ``(Σ d_c, Σ d_c²)``. Then each
    candidate's sums are discounted by ``gammas[c]`` and the observation added.
    """
    C = gammas.shape[0]
    e2 = np.zeros(C)
    for c in range(C):
        if st[c, 0] > 0.0:
            m0, _, _ = _discounted_posterior(prec[hyp[c, 1]], rhos[hyp[c, 0]], W[c], S[c], st[c], nu0, Lc, vec)
            e = y - m0 - vec[0, arm]
            e2[c] = e * e
    for c in range(C):
        d = e2[0] - e2[c]
        err[c, 0] += d
        err[c, 1] += d * d
        g = gammas[c]
        for a in range(W.shape[1]):
            W[c, a] *= g
            S[c, a] *= g
        st[c, 0] = g * st[c, 0] + 1.0
        st[c, 1] = g * st[c, 1] + y
        st[c, 2] = g * st[c, 2] + y * y
        W[c, arm] += 1.0
        S[c, arm] += y


@njit(cache=True)
def discounted_active(err, z):  # pragma: no cover - compiled
    """The candidate that plays: among those whose prediction-error advantage over candidate 0
    is significant (``Σ d > z √(Σ d²)``), the one with the largest advantage; else 0."""
    best = 0
    best_gain = 0.0
    for c in range(1, err.shape[0]):
        gain = err[c, 0]
        if gain > z * math.sqrt(err[c, 1]) and gain > best_gain:
            best = c
            best_gain = gain
    return best


@njit(cache=True)
def discounted_select(prec, rhos, W, S, st, err, hyp, Lc, vec, z, scale, nu0, zcrit):  # pragma: no cover - compiled
    """The arm minimising one posterior draw (normals ``z``) of the candidate :func:`discounted_active` picks."""
    c = discounted_active(err, zcrit)
    _, s2, _ = _discounted_posterior(prec[hyp[c, 1]], rhos[hyp[c, 0]], W[c], S[c], st[c], nu0, Lc, vec)
    K = z.shape[0]
    mean, dev = vec[0], vec[1]
    _backward(Lc, z, dev)  # Lᵀ⁻¹ z ~ N(0, Λ⁻¹)
    sd = scale * math.sqrt(s2)
    best = 0
    best_val = np.inf
    for a in range(K):
        v = mean[a] + sd * dev[a]
        if v < best_val:
            best_val = v
            best = a
    return best


@njit(cache=True)
def discounted_refit(prec, logdet_prior, rhos, W, S, st, hyp, Lc, vec, nu0):  # pragma: no cover - compiled
    """Pick each candidate's ``(ρ, ℓ)`` on the grid by the profiled marginal likelihood of its weighted data.

    ``log p ∝ -(ν₀/2 + 1 + n/2) log σ² - ½ log det(I + ρ A diag(W))``, with
    ``det(I + ρ A W) = det Λ · ρᴷ det A``.
    """
    K = W.shape[1]
    for c in range(W.shape[0]):
        a_ig = nu0 / 2.0 + 1.0 + st[c, 0] / 2.0
        best = -np.inf
        for j in range(prec.shape[0]):
            for i in range(rhos.shape[0]):
                _, s2, logdet = _discounted_posterior(prec[j], rhos[i], W[c], S[c], st[c], nu0, Lc, vec)
                score = -a_ig * math.log(s2) - 0.5 * (logdet + K * math.log(rhos[i]) + logdet_prior[j])
                if score > best:
                    best = score
                    hyp[c, 0] = i
                    hyp[c, 1] = j


@njit(cache=True)
def discounted_marginals(prec, rho, W, S, st, nu0, Lc, vec):  # pragma: no cover - compiled
    """Posterior mean loss and standard deviation of each arm's mean loss, and ``σ²`` (one candidate)."""
    m0, s2, _ = _discounted_posterior(prec, rho, W, S, st, nu0, Lc, vec)
    Linv = _tri_inverse(Lc)
    K = W.shape[0]
    mean = vec[0]
    mu = np.empty(K)
    sd = np.zeros(K)
    for a in range(K):
        mu[a] = m0 + mean[a]
        for r in range(K):
            sd[a] += Linv[r, a] * Linv[r, a]
        sd[a] = math.sqrt(s2 * sd[a])
    return mu, sd, s2
