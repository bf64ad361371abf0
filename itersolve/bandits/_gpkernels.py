"""Numba kernels of the GP policies (:mod:`itersolve.bandits.gp_model`).

The per-round work of Thompson sampling on the ``F = K (d+1)``-dimensional
posterior -- a rank-one update and a draw of the ``K`` arms' losses at one
context -- and the ``O(F³)`` refits. Plain loops, no BLAS: on a busy
two-core machine a multithreaded BLAS makes 120 × 120 products a hundred
times slower (see :mod:`itersolve.bandits.smalllinalg`), and at these sizes
compiled loops are as fast as BLAS anyway. Matrices are C-contiguous
float64; indices ``(a, j)`` of the coefficient vector are flattened as
``a * m + j`` (arm ``a``, Chebyshev degree ``j``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = [
    "observe",
    "thompson_argmin",
    "cholesky_inplace",
    "primal_scores",
    "primal_posterior",
    "dual_scores",
    "dual_posterior",
    "warped_chebyshev",
    "warped_chebyshev_batch",
    "data_stats",
    "observe_block",
    "thompson_argmin_blocks",
    "primal_posterior_blocks",
    "dual_posterior_blocks",
    "select_blocks",
    "observe_record",
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


@njit(cache=True)
def observe(cov, mean, hc, gram, hsum, hone, stats, fit, arm, feats, y, nu0):  # pragma: no cover - compiled
    """Add one observation: sufficient statistics and the exact rank-one posterior update."""
    F = cov.shape[0]
    m = feats.shape[0]
    off = arm * m
    for j in range(m):
        hsum[off + j] += y * feats[j]
        hone[off + j] += feats[j]
        for k in range(m):
            gram[off + j, off + k] += feats[j] * feats[k]
    stats[0] += 1.0
    stats[1] += y
    stats[2] += y * y
    # sphi = cov[:, block] @ feats = Σ_j feats[j] cov[off + j, :] (cov is symmetric): contiguous rows
    sphi = np.zeros(F)
    for j in range(m):
        fj = feats[j]
        row = cov[off + j]
        for r in range(F):
            sphi[r] += fj * row[r]
    denom = 1.0
    pred = 0.0
    for j in range(m):
        denom += feats[j] * sphi[off + j]
        pred += feats[j] * mean[off + j]
    yc = y - fit[0]
    g = (yc - pred) / denom
    inv = 1.0 / denom
    for r in range(F):
        a = sphi[r] * inv
        row = cov[r]
        for s in range(F):
            row[s] -= a * sphi[s]
        mean[r] += sphi[r] * g
    for j in range(m):
        hc[off + j] += yc * feats[j]
    fit[2] += yc * yc
    q = fit[2]
    for r in range(F):
        q -= hc[r] * mean[r]
    fit[1] = _sigma2(q, stats, nu0)


@njit(cache=True, fastmath=True)
def cholesky_inplace(A):  # pragma: no cover - compiled
    """Lower Cholesky factor in the lower triangle of ``A`` (upper set to 0); False if not SPD."""
    n = A.shape[0]
    for j in range(n):
        d = A[j, j]
        for k in range(j):
            d -= A[j, k] * A[j, k]
        if not d > 0.0:
            return False
        d = math.sqrt(d)
        A[j, j] = d
        for i in range(j + 1, n):
            acc = A[i, j]
            for k in range(j):
                acc -= A[i, k] * A[j, k]
            A[i, j] = acc / d
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


@njit(cache=True)
def thompson_argmin(cov, mean, m0, sigma2, feats, z, scale):  # pragma: no cover - compiled
    """Arm minimising one draw ``μ + scale·L z`` of the arms' losses at a context.

    ``μ_a = m0 + Σ_j mean[a,j] φ_j``, ``LLᵀ = σ² Σ_jk φ_j φ_k cov[(a,j),(b,k)]``
    (plus a relative jitter of 1e-10).
    """
    F = cov.shape[0]
    m = feats.shape[0]
    K = F // m
    # C[a, b] = σ² Σ_jk φ_j φ_k cov[(a,j),(b,k)]: for each a, t = Σ_j φ_j cov[a*m+j, :]
    # (contiguous rows), then C[a, b] = Σ_k t[b*m+k] φ_k for b <= a (symmetry)
    C = np.empty((K, K))
    t = np.empty(F)
    tr = 0.0
    for a in range(K):
        for r in range(F):
            t[r] = 0.0
        for j in range(m):
            fj = feats[j]
            row = cov[a * m + j]
            for r in range((a + 1) * m):
                t[r] += fj * row[r]
        for b in range(a + 1):
            acc = 0.0
            for k in range(m):
                acc += t[b * m + k] * feats[k]
            C[a, b] = sigma2 * acc
            C[b, a] = sigma2 * acc
        tr += C[a, a]
    jit = 1e-10 * max(tr / K, 1e-300)
    ok = False
    for attempt in range(8):
        for a in range(K):
            C[a, a] += jit
        D = C.copy()
        if cholesky_inplace(D):
            ok = True
            break
        jit *= 100.0
    best = 0
    best_val = np.inf
    for a in range(K):
        mu = m0
        for j in range(m):
            mu += mean[a * m + j] * feats[j]
        noise = 0.0
        if ok:
            for k in range(a + 1):
                noise += D[a, k] * z[k]
        else:  # pragma: no cover - only for a broken covariance
            noise = math.sqrt(max(C[a, a], 0.0)) * z[a]
        v = mu + scale * noise
        if v < best_val:
            best_val = v
            best = a
    return best


@njit(cache=True, fastmath=True)
def _build_m1(LA, blocks):  # pragma: no cover - compiled
    """``(L_A ⊗ I)ᵀ blockdiag(blocks) (L_A ⊗ I)`` for lower-triangular ``L_A``."""
    K = LA.shape[0]
    m = blocks.shape[1]
    F = K * m
    M1 = np.zeros((F, F))
    for a in range(K):
        for b in range(a + 1):
            lab = LA[a, b]
            if lab == 0.0:
                continue
            for c in range(a + 1):
                w = lab * LA[a, c]
                if w == 0.0:
                    continue
                for j in range(m):
                    for k in range(m):
                        M1[b * m + j, c * m + k] += w * blocks[a, j, k]
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
def primal_scores(LA, blocks, hd, rhos, yyc, a_ig, stats, nu0):  # pragma: no cover - compiled
    """Profiled log marginal likelihood of each ``ρ`` for one arm-kernel factor ``L_A``.

    ``blocks`` are the per-arm Gram blocks scaled by ``D½`` on both sides,
    ``hd`` the centred ``Σ φ y`` scaled by ``D½``. Non-SPD candidates score ``-inf``.
    """
    M1 = _build_m1(LA, blocks)
    lh = _lh(LA, hd)
    F = M1.shape[0]
    out = np.empty(rhos.shape[0])
    z = np.empty(F)
    B = np.empty((F, F))
    for i in range(rhos.shape[0]):
        rho = rhos[i]
        for r in range(F):
            for s in range(F):
                B[r, s] = rho * M1[r, s]
            B[r, r] += 1.0
        if not cholesky_inplace(B):
            out[i] = -np.inf
            continue
        _forward(B, lh, z)
        q = yyc
        logdet = 0.0
        for r in range(F):
            q -= rho * z[r] * z[r]
            logdet += math.log(B[r, r])
        out[i] = -a_ig * math.log(_sigma2(q, stats, nu0)) - logdet
    return out


@njit(cache=True, fastmath=True)
def primal_posterior(LA, sqrt_d, blocks, rho, hc):  # pragma: no cover - compiled
    """Posterior covariance / σ² and mean for ``(ρ, L_A)``: ``L B⁻¹ Lᵀ`` with ``L = √ρ (L_A ⊗ D½)``."""
    K = LA.shape[0]
    m = sqrt_d.shape[0]
    F = K * m
    M1 = _build_m1(LA, blocks)
    B = np.empty((F, F))
    for r in range(F):
        for s in range(F):
            B[r, s] = rho * M1[r, s]
        B[r, r] += 1.0
    ok = cholesky_inplace(B)
    if not ok:
        return np.empty((0, 0)), np.empty(0), False
    # X = C⁻¹ Lᵀ, column by column: Lᵀ[:, col] is row `col` of L
    sr = math.sqrt(rho)
    X = np.empty((F, F))
    col = np.empty(F)
    tmp = np.empty(F)
    for c_idx in range(F):
        a, j = c_idx // m, c_idx % m
        for r in range(F):
            b, k = r // m, r % m
            col[r] = sr * LA[a, b] * sqrt_d[j] if k == j else 0.0
        _forward(B, col, tmp)
        for r in range(F):
            X[r, c_idx] = tmp[r]
    cov = np.empty((F, F))
    for r in range(F):
        for s in range(r + 1):
            acc = 0.0
            for k in range(F):
                acc += X[k, r] * X[k, s]
            cov[r, s] = acc
            cov[s, r] = acc
    mean = np.empty(F)
    for r in range(F):
        acc = 0.0
        for s in range(F):
            acc += cov[r, s] * hc[s]
        mean[r] = acc
    return cov, mean, True


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
    n = arms.shape[0]
    Kd = _dual_kernel(P, dvec, arms, feats)
    out = np.empty(rhos.shape[0])
    B = np.empty((n, n))
    z = np.empty(n)
    for i in range(rhos.shape[0]):
        rho = rhos[i]
        for s in range(n):
            for t in range(n):
                B[s, t] = rho * Kd[s, t]
            B[s, s] += 1.0
        if not cholesky_inplace(B):
            out[i] = -np.inf
            continue
        _forward(B, yc, z)
        q = 0.0
        logdet = 0.0
        for s in range(n):
            q += z[s] * z[s]
            logdet += math.log(B[s, s])
        out[i] = -a_ig * math.log(_sigma2(q, stats, nu0)) - logdet
    return out


@njit(cache=True, fastmath=True)
def dual_posterior(P, dvec, arms, feats, yc, rho):  # pragma: no cover - compiled
    """Posterior covariance / σ² and mean from the data kernel: ``Σ₀ - Σ₀Φᵀ K⁻¹ ΦΣ₀``."""
    n = arms.shape[0]
    K = P.shape[0]
    m = feats.shape[1]
    F = K * m
    Kd = _dual_kernel(P, dvec, arms, feats)
    B = np.empty((n, n))
    for s in range(n):
        for t in range(n):
            B[s, t] = rho * Kd[s, t]
        B[s, s] += 1.0
    if not cholesky_inplace(B):
        return np.empty((0, 0)), np.empty(0), False
    # S0Phi[(b,k), s] = rho P[b, a_s] d_k φ_sk
    S0Phi = np.empty((F, n))
    for r in range(F):
        b, k = r // m, r % m
        for s in range(n):
            S0Phi[r, s] = rho * P[b, arms[s]] * dvec[k] * feats[s, k]
    # V = C⁻¹ (S0Phi)ᵀ  (n × F)
    V = np.empty((n, F))
    col = np.empty(n)
    tmp = np.empty(n)
    for r in range(F):
        for s in range(n):
            col[s] = S0Phi[r, s]
        _forward(B, col, tmp)
        for s in range(n):
            V[s, r] = tmp[s]
    cov = np.empty((F, F))
    for r in range(F):
        b, k = r // m, r % m
        for q in range(r + 1):
            c, l = q // m, q % m
            acc = rho * P[b, c] * dvec[k] if k == l else 0.0
            for s in range(n):
                acc -= V[s, r] * V[s, q]
            cov[r, q] = acc
            cov[q, r] = acc
    # mean = S0Phi K⁻¹ yc = S0Phi C⁻ᵀ C⁻¹ yc
    w = np.empty(n)
    _forward(B, yc, tmp)
    _backward(B, tmp, w)
    mean = np.empty(F)
    for r in range(F):
        acc = 0.0
        for s in range(n):
            acc += S0Phi[r, s] * w[s]
        mean[r] = acc
    return cov, mean, True


@njit(cache=True)
def warped_chebyshev(c, lo, hi, warp, degree):  # pragma: no cover - compiled
    """``[T_0(u), ..., T_degree(u)]`` of the warped, rescaled context ``u ∈ [-1, 1]``.

    ``z = (c - lo) / (hi - lo)`` clipped to ``[0, 1]``; ``warp = 0``: ``u = 2z - 1``;
    ``warp = s > 0``: ``u = 2 log(1 + z/s) / log(1 + 1/s) - 1`` (resolution
    concentrated near ``lo``); ``warp = -s < 0``: the mirror image (near ``hi``).
    """
    z = (c - lo) / (hi - lo)
    z = min(max(z, 0.0), 1.0)
    if warp > 0.0:
        u = 2.0 * math.log1p(z / warp) / math.log1p(1.0 / warp) - 1.0
    elif warp < 0.0:
        s = -warp
        u = 1.0 - 2.0 * math.log1p((1.0 - z) / s) / math.log1p(1.0 / s)
    else:
        u = 2.0 * z - 1.0
    out = np.empty(degree + 1)
    out[0] = 1.0
    if degree >= 1:
        out[1] = u
    for j in range(2, degree + 1):
        out[j] = 2.0 * u * out[j - 1] - out[j - 2]
    return out


@njit(cache=True)
def warped_chebyshev_batch(contexts, lo, hi, warp, degree):  # pragma: no cover - compiled
    """:func:`warped_chebyshev` of every entry of ``contexts``, as rows."""
    out = np.empty((contexts.shape[0], degree + 1))
    for i in range(contexts.shape[0]):
        out[i] = warped_chebyshev(contexts[i], lo, hi, warp, degree)
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


# ----------------------------------------------------------------------------- marginal (block) mode
@njit(cache=True)
def observe_block(blocks, mean, hc, gram, hsum, hone, stats, fit, arm, feats, y):  # pragma: no cover - compiled
    """Add one observation, updating the played arm's marginal posterior exactly.

    ``blocks[a]`` is arm ``a``'s marginal posterior covariance / σ² of its
    coefficients; an observation of arm ``a`` changes its own marginal
    exactly as a rank-one update (the other arms learn from it at the next
    refit, through the prior coupling).
    """
    m = feats.shape[0]
    off = arm * m
    for j in range(m):
        hsum[off + j] += y * feats[j]
        hone[off + j] += feats[j]
        for k in range(m):
            gram[off + j, off + k] += feats[j] * feats[k]
    stats[0] += 1.0
    stats[1] += y
    stats[2] += y * y
    B = blocks[arm]
    sphi = np.zeros(m)
    for j in range(m):
        for k in range(m):
            sphi[j] += B[j, k] * feats[k]
    denom = 1.0
    pred = 0.0
    for j in range(m):
        denom += feats[j] * sphi[j]
        pred += feats[j] * mean[off + j]
    yc = y - fit[0]
    g = (yc - pred) / denom
    for j in range(m):
        for k in range(m):
            B[j, k] -= sphi[j] * sphi[k] / denom
        mean[off + j] += sphi[j] * g
        hc[off + j] += yc * feats[j]
    fit[2] += yc * yc


@njit(cache=True)
def thompson_argmin_blocks(blocks, mean, m0, sigma2, feats, z, scale):  # pragma: no cover - compiled
    """Arm minimising independent draws from the arms' marginal posteriors at a context."""
    K, m = blocks.shape[0], blocks.shape[1]
    best = 0
    best_val = np.inf
    for a in range(K):
        mu = m0
        var = 0.0
        for j in range(m):
            mu += mean[a * m + j] * feats[j]
            acc = 0.0
            for k in range(m):
                acc += blocks[a, j, k] * feats[k]
            var += feats[j] * acc
        v = mu + scale * math.sqrt(max(sigma2 * var, 0.0)) * z[a]
        if v < best_val:
            best_val = v
            best = a
    return best


@njit(cache=True, fastmath=True)
def _tri_inverse(C):  # pragma: no cover - compiled
    """Inverse of a lower-triangular matrix, row by row with contiguous updates, ``n³/6`` FMAs."""
    n = C.shape[0]
    W = np.zeros((n, n))
    acc = np.empty(n)
    for i in range(n):
        for j in range(i):
            acc[j] = 0.0
        ci = C[i]
        for k in range(i):
            c = ci[k]
            wk = W[k]
            for j in range(k + 1):
                acc[j] += c * wk[j]
        d = 1.0 / ci[i]
        wi = W[i]
        for j in range(i):
            wi[j] = -acc[j] * d
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
    B = np.empty((F, F))
    for r in range(F):
        for s in range(F):
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
    # X[:, (a,j)] = C⁻¹ Lᵀ[:, (a,j)] = Σ_{b<=a} W[:, (b,j)] sr LA[a,b] d½_j
    W = _tri_inverse(B)
    out = np.empty((K, m, m))
    X = np.empty((m, F))
    coef = np.empty(K)
    for a in range(K):
        for b in range(a + 1):
            coef[b] = sr * LA[a, b]
        for r in range(F):
            wr = W[r]
            for j in range(m):
                acc = 0.0
                for b in range(a + 1):
                    acc += coef[b] * wr[b * m + j]
                X[j, r] = acc * sqrt_d[j]
        for j in range(m):
            for k in range(j + 1):
                acc = 0.0
                for r in range(F):
                    acc += X[j, r] * X[k, r]
                out[a, j, k] = acc
                out[a, k, j] = acc
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
def select_blocks(c, lo, hi, warp, blocks, mean, fit, zbuf, zpos, scale, feats):  # pragma: no cover - compiled
    """Features of context ``c`` (written into ``feats``) and :func:`thompson_argmin_blocks` there,
    with the normals ``zbuf[zpos]``."""
    f = warped_chebyshev(c, lo, hi, warp, feats.shape[0] - 1)
    for j in range(feats.shape[0]):
        feats[j] = f[j]
    return thompson_argmin_blocks(blocks, mean, fit[0], fit[1], feats, zbuf[zpos], scale)


@njit(cache=True)
def observe_record(blocks, mean, hc, gram, hsum, hone, stats, fit, obs_arm, obs_feat, obs_y, obs_ctx, arm, feats, y, c):  # pragma: no cover - compiled
    """:func:`observe_block` plus storing the observation (and its context) at index ``n``.

    The caller guarantees room in the ``obs_*`` arrays.
    """
    n = int(stats[0])
    obs_arm[n] = arm
    obs_y[n] = y
    obs_ctx[n] = c
    for j in range(feats.shape[0]):
        obs_feat[n, j] = feats[j]
    observe_block(blocks, mean, hc, gram, hsum, hone, stats, fit, arm, feats, y)
