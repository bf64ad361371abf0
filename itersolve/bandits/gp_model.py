"""A Gaussian-process model of the loss over (arm value, context), kept exactly
in a fixed basis with rank-one updates.

The loss of arm ``i`` (arm value ``ω_i``) at a context rescaled to
``u ∈ [-1, 1]`` is modelled as

    f(i, u) = m₀ + Σ_{j=0}^{d} β_ij T_j(u),        y = f + ε,  ε ~ N(0, σ²),

with a Gaussian prior on the ``K × (d+1)`` coefficients that couples the
arms through their values,

    vec(β) ~ N(0, σ² ρ (A_ℓ ⊗ D)),   A_ℓ = k_ℓ(ω_i, ω_k) + c·11ᵀ,   D = diag((1+j)⁻²).

``k_ℓ`` is the squared-exponential kernel with lengthscale ``ℓ`` (a fraction
of the span of the arm values), ``c·11ᵀ`` lets all arms share a level, and
``D`` makes high Chebyshev degrees of the context dependence a priori
small. This is a GP on (arm, context) with a separable kernel, of rank
``K (d+1)`` in the context; ``d = 0`` (features ``[1]``) is the plain GP on
the arm grid.

The posterior is exact Bayesian linear regression on ``F = K (d+1)``
features: an observation changes the posterior covariance by a rank-one
(Sherman–Morrison) update, ``O(F²)``. Every so often (``refit``), the
covariance is recomputed from the sufficient statistics in a numerically
stable form, and the hyperparameters ``(ρ, ℓ)`` are chosen on a small grid
by type-II maximum likelihood with ``σ²`` profiled out under a weak
inverse-gamma prior; ``m₀`` is the mean loss so far.

Examples
--------
>>> import numpy as np
>>> from itersolve.bandits.gp_model import ArmContextGP
>>> gp = ArmContextGP(np.linspace(1.0, 1.9, 10), degree=0)
>>> for i in range(10):
...     gp.observe(i, np.ones(1), 0.2 + 0.5 * (i / 9 - 0.6) ** 2)
>>> gp.refit()
>>> int(np.argmin(gp.posterior_mean(np.ones(1))))
5
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .smalllinalg import cholesky, forward_solve, gram

__all__ = ["ArmContextGP"]

_JITTER = 1e-8


class ArmContextGP:
    """Posterior of the separable GP model described in the module docstring.

    Parameters
    ----------
    arm_values : array_like, shape (K,)
        Values of the arms (e.g. the ω grid); only their geometry is used.
    degree : int
        Chebyshev degree ``d`` in the context (0 for no context).
    snrs : sequence of float
        Grid of signal-to-noise variance ratios ``ρ``.
    lengthscales : sequence of float
        Grid of lengthscales, as fractions of ``max(arm_values) - min(arm_values)``.
    offset : float
        Weight ``c`` of the shared level across arms, relative to the kernel.
    prior_weight : float
        Pseudo-count ``ν₀`` of the inverse-gamma prior on ``σ²`` centred at
        the variance of all losses seen (a scale-free, conservative guess).
    """

    _keys = ("gram", "hsum", "hone", "stats", "hc", "cov", "mean", "fit")

    def __init__(
        self,
        arm_values: Any,
        degree: int = 0,
        *,
        snrs: Any = (1.0, 10.0, 100.0, 1e3, 1e4),
        lengthscales: Any = (0.1, 0.2, 0.4),
        offset: float = 10.0,
        prior_weight: float = 1.0,
    ) -> None:
        x = np.asarray(arm_values, dtype=float)
        self.K = x.size
        self.m = int(degree) + 1
        self.F = self.K * self.m
        self.snrs = np.asarray(snrs, dtype=float)
        self.lengthscales = np.asarray(lengthscales, dtype=float)
        if self.snrs.size == 0 or np.any(~np.isfinite(self.snrs)) or np.any(self.snrs <= 0):
            raise ValueError("snrs must be a non-empty sequence of positive numbers")
        if self.lengthscales.size == 0 or np.any(~np.isfinite(self.lengthscales)) or np.any(self.lengthscales <= 0):
            raise ValueError("lengthscales must be a non-empty sequence of positive numbers")
        if not (math.isfinite(offset) and offset >= 0):
            raise ValueError(f"offset must be non-negative, got {offset}")
        if not (math.isfinite(prior_weight) and prior_weight > 0):
            raise ValueError(f"prior_weight must be positive, got {prior_weight}")
        self.nu0 = float(prior_weight)
        #: refits with at most this many observations search the whole grid
        self.full_search_until = 64
        span = float(x.max() - x.min()) if self.K > 1 else 1.0
        xs = (x - x.min()) / (span if span > 0 else 1.0)
        d2 = (xs[:, None] - xs[None, :]) ** 2
        eye = np.eye(self.K)
        # Cholesky factors of (k_l + c 11^T + jitter) for each lengthscale l
        self._chol_arm = np.stack(
            [np.linalg.cholesky(np.exp(-0.5 * d2 / ls**2) + offset + _JITTER * (1 + offset) * eye) for ls in self.lengthscales]
        )
        self._sqrt_d = 1.0 / (1.0 + np.arange(self.m))
        self.reset()

    # -- state -------------------------------------------------------------
    def reset(self) -> None:
        """Forget the data; the posterior is the prior at the middle of the grids."""
        F = self.F
        self.gram = np.zeros((F, F))  # Σ φ φᵀ
        self.hsum = np.zeros(F)  # Σ φ y
        self.hone = np.zeros(F)  # Σ φ
        self.stats = np.zeros(3)  # n, Σ y, Σ y²
        self.hc = np.zeros(F)  # Σ φ (y - m0)
        # fit = [m0, sigma2, yyc = Σ (y - m0)², snr index, lengthscale index]
        self.fit = np.array([0.0, 1.0, 0.0, self.snrs.size // 2, self.lengthscales.size // 2])
        L = self._prior_chol(int(self.fit[3]), int(self.fit[4]))
        self.cov = L @ L.T  # posterior covariance / sigma2
        self.mean = np.zeros(F)  # posterior mean of the coefficients (centred)

    def get_state(self) -> dict[str, np.ndarray]:
        """Arrays that define the posterior (for ``state_dict``)."""
        return {k: getattr(self, k) for k in self._keys}

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        """Install arrays produced by :meth:`get_state`."""
        fit = np.asarray(state["fit"], dtype=float)
        i_snr, i_ls = fit[3], fit[4]
        if not (0 <= i_snr < self.snrs.size and 0 <= i_ls < self.lengthscales.size and i_snr % 1 == 0 and i_ls % 1 == 0):
            raise ValueError("state was saved with other snrs/lengthscales grids")
        for k in self._keys:
            setattr(self, k, np.array(state[k], dtype=float, copy=True))

    @property
    def n(self) -> int:
        """Number of observations."""
        return int(self.stats[0])

    @property
    def noise_var(self) -> float:
        """Current estimate of the noise variance ``σ²``."""
        return float(self.fit[1])

    @property
    def hyperparameters(self) -> tuple[float, float]:
        """Current ``(ρ, ℓ)``."""
        return float(self.snrs[int(self.fit[3])]), float(self.lengthscales[int(self.fit[4])])

    # -- prior -------------------------------------------------------------
    def _prior_chol(self, i_snr: int, i_ls: int) -> np.ndarray:
        """Lower Cholesky factor of the prior covariance / σ² (Kronecker structure)."""
        return math.sqrt(self.snrs[i_snr]) * np.kron(self._chol_arm[i_ls], np.diag(self._sqrt_d))

    def _prior_noise(self) -> float:
        n, s, ss = self.stats
        if n <= 0:
            return 1.0
        mu = s / n
        var = max(ss / n - mu * mu, 0.0)
        return max(var, (1e-2 * mu) ** 2, 1e-300)

    def _sigma2(self, q: float) -> float:
        n = self.stats[0]
        return (max(q, 0.0) + self.nu0 * self._prior_noise()) / (n + self.nu0 + 2.0)

    # -- learning ------------------------------------------------------------
    def observe(self, arm: int, feats: np.ndarray, y: float) -> None:
        """Add one observation ``y`` of arm ``arm`` with context features ``feats`` (O(F²))."""
        sl = slice(arm * self.m, (arm + 1) * self.m)
        self.gram[sl, sl] += np.outer(feats, feats)
        self.hsum[sl] += y * feats
        self.hone[sl] += feats
        self.stats += (1.0, y, y * y)
        m0 = self.fit[0]
        sphi = self.cov[:, sl] @ feats
        denom = 1.0 + float(feats @ sphi[sl])
        self.cov -= np.outer(sphi, sphi / denom)
        yc = y - m0
        # mean_new = S_new h_new = mean + S φ (y_c - φᵀ mean) / (1 + φᵀ S φ)
        self.mean += sphi * ((yc - float(feats @ self.mean[sl])) / denom)
        self.hc[sl] += yc * feats
        self.fit[2] += yc * yc
        self.fit[1] = self._sigma2(self.fit[2] - float(self.hc @ self.mean))

    def refit(self, select_hyperparameters: bool = True) -> None:
        """Recompute the posterior from the sufficient statistics.

        Re-centres at the mean loss and, if ``select_hyperparameters``, picks
        ``(ρ, ℓ)`` by the profiled marginal likelihood: over the whole grid
        while there are at most ``full_search_until`` observations, then among
        the current pair and its grid neighbours (a local search that follows
        the optimum as data accrue at a third of the cost). With the
        prior factor ``L = √ρ L₁`` and ``B = I + ρ L₁ᵀ G L₁ = C Cᵀ``, the
        posterior covariance is ``σ² L B⁻¹ Lᵀ``, ``log det(I + Σ₀G) = log det B``
        and the quadratic form is ``Σ (y - m₀)² - ρ |C⁻¹ L₁ᵀ h|²``; ``Σ₀`` is
        never inverted. ``G`` is block diagonal (one block per arm), so
        ``L₁ᵀ G L₁`` is formed from the Kronecker factors in ``O(K³ m²)``.
        """
        n, s, ss = self.stats
        if n <= 0:
            self.reset()
            return
        K, m, F = self.K, self.m, self.F
        m0 = s / n
        hc = self.hsum - m0 * self.hone
        yyc = max(ss - 2.0 * m0 * s + n * m0 * m0, 0.0)
        # per-arm blocks of G, scaled by D^(1/2) on both sides
        blocks = self.gram.reshape(K, m, K, m)[np.arange(K), :, np.arange(K), :]  # (K, m, m)
        blocks = blocks * self._sqrt_d[None, :, None] * self._sqrt_d[None, None, :]
        hd = hc.reshape(K, m) * self._sqrt_d[None, :]
        eye = np.eye(F)
        a = self.nu0 / 2.0 + 1.0 + n / 2.0
        cur = (int(self.fit[3]), int(self.fit[4]))
        if not select_hyperparameters:
            cands = [cur]
        elif n <= self.full_search_until:
            cands = [(i, j) for j in range(self.lengthscales.size) for i in range(self.snrs.size)]
        else:  # local search: the current pair and its grid neighbours
            cands = [cur] + [
                (cur[0] + di, cur[1] + dj)
                for di, dj in ((-1, 0), (1, 0), (0, -1), (0, 1))
                if 0 <= cur[0] + di < self.snrs.size and 0 <= cur[1] + dj < self.lengthscales.size
            ]
        best: tuple[float, int, int, np.ndarray] | None = None
        cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for i_snr, i_ls in cands:
            if i_ls not in cache:
                LA = self._chol_arm[i_ls]
                # (L_A ⊗ D½)ᵀ blockdiag(G_a) (L_A ⊗ D½) and (L_A ⊗ D½)ᵀ h
                M1 = np.einsum("ab,ac,ajk->bjck", LA, LA, blocks, optimize=True).reshape(F, F)
                cache[i_ls] = (M1, np.einsum("ab,aj->bj", LA, hd).reshape(F))
            M1, lh1 = cache[i_ls]
            rho = float(self.snrs[i_snr])
            C = cholesky(eye + rho * M1)
            z = forward_solve(C, lh1)
            q = yyc - rho * float(z @ z)
            logdet = 2.0 * float(np.log(np.diag(C)).sum())
            score = -a * math.log(self._sigma2(q)) - 0.5 * logdet
            if best is None or score > best[0]:
                best = (score, i_snr, i_ls, C)
        assert best is not None
        _, i_snr, i_ls, C = best
        L = self._prior_chol(i_snr, i_ls)
        self.cov = gram(forward_solve(C, L.T))
        self.hc = hc
        self.mean = self.cov @ hc
        q = yyc - float(hc @ self.mean)
        self.fit = np.array([m0, self._sigma2(q), yyc, i_snr, i_ls], dtype=float)

    # -- prediction ------------------------------------------------------------
    def posterior_mean(self, feats: np.ndarray) -> np.ndarray:
        """Posterior mean loss of every arm at a context with features ``feats``."""
        return self.fit[0] + self.mean.reshape(self.K, self.m) @ feats

    def posterior_cov(self, feats: np.ndarray) -> np.ndarray:
        """Posterior covariance (K × K) of the arms' losses at that context."""
        K, m = self.K, self.m
        if m > 1:  # C_ab = Σ_jk t_j cov[(a,j),(b,k)] t_k, in two contractions
            C = np.einsum("ajb,j->ab", np.einsum("ajbk,k->ajb", self.cov.reshape(K, m, K, m), feats), feats)
        else:
            C = self.cov * (feats[0] * feats[0])
        return self.fit[1] * 0.5 * (C + C.T)

    def sample(self, feats: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One joint posterior draw of the arms' losses at that context."""
        mu = self.posterior_mean(feats)
        C = self.posterior_cov(feats)
        z = rng.standard_normal(self.K)
        scale = max(float(np.trace(C)) / self.K, 1e-300)
        try:
            Lc = np.linalg.cholesky(C + 1e-10 * scale * np.eye(self.K))
            return mu + Lc @ z
        except np.linalg.LinAlgError:
            w, V = np.linalg.eigh(C)
            return mu + V @ (np.sqrt(np.clip(w, 0.0, None)) * z)
