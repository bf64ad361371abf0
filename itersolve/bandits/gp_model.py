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

The posterior is Bayesian linear regression on ``F = K (d+1)`` features,
of which the model keeps the mean and each arm's marginal covariance (an
``m × m`` block, ``m = d + 1``). An observation of arm ``a`` updates arm
``a``'s marginal exactly (a rank-one, Sherman–Morrison update, ``O(m²)``);
the other arms learn from it at the next ``refit``, which recomputes the
exact posterior's mean and marginal blocks from the data in a numerically
stable form, and selects ``(ρ, ℓ)`` on a small grid by type-II
maximum likelihood with ``σ²`` profiled out under a weak inverse-gamma
prior; ``m₀`` is the mean loss so far. While there are fewer observations
than features the refit works on the ``n × n`` data kernel (``O(n³)``),
afterwards on the ``F × F`` normal equations (``O(F³)``). The loops are
Numba kernels (:mod:`itersolve.bandits._gpkernels`): a round of a
20-arm, degree-5 model costs a few microseconds.

Examples
--------
>>> import numpy as np
>>> from itersolve.bandits.gp_model import ArmContextGP
>>> gp = ArmContextGP(np.linspace(1.0, 1.9, 10), degree=0)
>>> for i in range(10):
...     gp.observe(i, np.ones(1), 0.2 + 0.5 * (i / 9 - 0.6) ** 2)
>>> _ = gp.refit()
>>> int(np.argmin(gp.posterior_mean(np.ones(1)))), gp.cov.shape
(5, (10, 1, 1))
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import _gpkernels as kern

__all__ = ["ArmContextGP", "arm_covariances", "positive_grid"]

_JITTER = 1e-8


def positive_grid(values: Any, name: str) -> np.ndarray:
    """``values`` as a float array, checked to be a non-empty grid of positive finite numbers.

    Examples
    --------
    >>> positive_grid((1, 10.0), "snrs")
    array([ 1., 10.])
    """
    g = np.asarray(values, dtype=float).ravel()
    if g.size == 0 or np.any(~np.isfinite(g)) or np.any(g <= 0):
        raise ValueError(f"{name} must be a non-empty sequence of positive numbers")
    return g


def arm_covariances(arm_values: np.ndarray, lengthscales: np.ndarray, offset: float = 10.0) -> np.ndarray:
    """The prior covariances ``A_ℓ = k_ℓ(ω_i, ω_k) + c·11ᵀ`` of the arms, one per lengthscale.

    ``k_ℓ`` is the squared-exponential kernel on the arm values rescaled to
    ``[0, 1]`` (``ℓ`` a fraction of their span), ``c = offset``; a relative
    jitter of 1e-8 keeps each matrix positive definite.

    Examples
    --------
    >>> import numpy as np
    >>> A = arm_covariances(np.array([1.0, 1.5, 2.0]), np.array([0.5]), offset=0.0)
    >>> A.shape, round(float(A[0, 0, 1]), 4)
    ((1, 3, 3), 0.6065)
    """
    x = np.asarray(arm_values, dtype=float)
    span = float(x.max() - x.min()) if x.size > 1 else 1.0
    xs = (x - x.min()) / (span if span > 0 else 1.0)
    d2 = (xs[:, None] - xs[None, :]) ** 2
    jitter = _JITTER * (1 + offset) * np.eye(x.size)
    mats = [np.exp(-0.5 * d2 / ls**2) + offset + jitter for ls in np.asarray(lengthscales, dtype=float)]
    return np.ascontiguousarray(np.stack(mats))


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

    Attributes
    ----------
    cov : numpy.ndarray, shape (K, m, m)
        Each arm's marginal posterior covariance of its coefficients / σ².
    mean : numpy.ndarray, shape (F,)
        Posterior mean of the (centred) coefficients.
    capacity : int
        Number of observations the buffer holds without growing.
    packed : numpy.ndarray
        The one buffer of which ``cov, mean, hc, gram, hsum, hone, stats,
        fit`` (in this order) are views, followed by the observations
        (:func:`~itersolve.bandits._gpkernels.observations`): a compiled
        round takes the whole model as one argument
        (:func:`~itersolve.bandits._gpkernels.policy_round`), since each
        array argument costs the caller about 0.3 µs, and more from cold caches.
    obs_arm, obs_feat, obs_y, obs_tag : numpy.ndarray
        Copies of the ``n`` observations: arms, context features, losses,
        and the tag each was given (:meth:`observe`; NaN if none).
    """

    _keys = ("gram", "hsum", "hone", "stats", "hc", "cov", "mean", "fit", "obs_arm", "obs_feat", "obs_y")

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
        self.snrs = positive_grid(snrs, "snrs")
        self.lengthscales = positive_grid(lengthscales, "lengthscales")
        if not (math.isfinite(offset) and offset >= 0):
            raise ValueError(f"offset must be non-negative, got {offset}")
        if not (math.isfinite(prior_weight) and prior_weight > 0):
            raise ValueError(f"prior_weight must be positive, got {prior_weight}")
        self.nu0 = float(prior_weight)
        #: refits with at most this many observations search the whole grid
        self.full_search_until = 64
        # the arm covariances (k_l + c 11^T + jitter) for each lengthscale l, and their Cholesky factors
        self._arm_cov = arm_covariances(x, self.lengthscales, offset)
        self._chol_arm = np.ascontiguousarray(np.linalg.cholesky(self._arm_cov))
        self._sqrt_d = 1.0 / (1.0 + np.arange(self.m))
        self._d = self._sqrt_d**2
        self.reset()

    # -- state -------------------------------------------------------------
    def reset(self) -> None:
        """Forget the data; the posterior is the prior at the middle of the grids."""
        self._allocate(0)
        # gram: the diagonal m × m blocks of Σ φ φᵀ, one per arm (the rest is zero); hsum: Σ φ y; hone: Σ φ;
        # stats: n, Σ y, Σ y²; hc: Σ φ (y - m0); mean: posterior mean of the (centred) coefficients
        # fit = [m0, sigma2, yyc = Σ (y - m0)², snr index, lengthscale index]
        self.fit[:] = [0.0, 1.0, 0.0, self.snrs.size // 2, self.lengthscales.size // 2]
        # marginal posterior covariances / sigma2, here those of the prior ρ (P_ℓ ⊗ D)
        rho, P = self.snrs[int(self.fit[3])], self._arm_cov[int(self.fit[4])]
        self.cov[...] = rho * np.diagonal(P)[:, None, None] * np.diag(self._d)[None, :, :]

    def _allocate(self, capacity: int, keep: np.ndarray | None = None) -> None:
        """A buffer for the posterior and ``capacity`` observations (the layout is the kernels',
        :func:`~itersolve.bandits._gpkernels.unpack` and :func:`~itersolve.bandits._gpkernels.observations`),
        starting with a copy of ``keep`` (a smaller buffer), else zero."""
        size = kern.packed_size(self.K, self.m)
        self.packed = np.zeros(size + capacity * (self.m + kern.OBS_FEATS))
        if keep is not None:
            self.packed[: keep.size] = keep
        self.cov, self.mean, self.hc, self.gram, self.hsum, self.hone, self.stats, self.fit = kern.unpack(
            self.packed, self.K, self.m
        )
        self._obs = kern.observations(self.packed, self.K, self.m)
        self.capacity = capacity

    @property
    def obs_arm(self) -> np.ndarray:
        return self._obs[: self.n, kern.OBS_ARM].astype(np.int64)

    @property
    def obs_y(self) -> np.ndarray:
        return self._obs[: self.n, kern.OBS_Y].copy()

    @property
    def obs_tag(self) -> np.ndarray:
        return self._obs[: self.n, kern.OBS_TAG].copy()

    @property
    def obs_feat(self) -> np.ndarray:
        return np.ascontiguousarray(self._obs[: self.n, kern.OBS_FEATS :])

    def get_state(self) -> dict[str, np.ndarray]:
        """Arrays that define the model (for ``state_dict``); the observation arrays have length ``n``."""
        out = {k: getattr(self, k) for k in self._keys}
        out["obs_tag"] = self.obs_tag
        return out

    def state_shapes(self, n: int) -> dict[str, tuple[int, ...]]:
        """Shapes of :meth:`get_state` with ``n`` observations (for loading states of any length)."""
        F = self.F
        return {
            "gram": (self.K, self.m, self.m), "hsum": (F,), "hone": (F,), "stats": (3,), "hc": (F,),
            "cov": (self.K, self.m, self.m),
            "mean": (F,), "fit": (5,), "obs_arm": (n,), "obs_feat": (n, self.m), "obs_y": (n,), "obs_tag": (n,),
        }

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        """Install arrays produced by :meth:`get_state`."""
        fit = np.asarray(state["fit"], dtype=float)
        i_snr, i_ls = fit[3], fit[4]
        if not (0 <= i_snr < self.snrs.size and 0 <= i_ls < self.lengthscales.size and i_snr % 1 == 0 and i_ls % 1 == 0):
            raise ValueError("state was saved with other snrs/lengthscales grids")
        n = int(np.asarray(state["stats"], dtype=float)[0])
        if np.asarray(state["obs_y"]).shape[0] != n:
            raise ValueError(f"state holds {np.asarray(state['obs_y']).shape[0]} observations but counts {n}")
        shapes = self.state_shapes(n)
        values = {}
        for k in shapes:
            values[k] = np.asarray(state[k], dtype=float)
            if values[k].shape != shapes[k]:
                raise ValueError(f"state[{k!r}] has shape {values[k].shape}, expected {shapes[k]}")
        self._allocate(n)
        for k in self._keys[:8]:
            getattr(self, k)[...] = values[k]
        self._store(values["obs_arm"], values["obs_feat"], values["obs_y"], values["obs_tag"])

    def _store(self, arms: np.ndarray, feats: np.ndarray, ys: np.ndarray, tags: np.ndarray | None) -> None:
        """Write observations into the first rows of the buffer (which must hold them)."""
        n = arms.shape[0]
        self._obs[:n, kern.OBS_ARM] = arms
        self._obs[:n, kern.OBS_Y] = ys
        self._obs[:n, kern.OBS_TAG] = math.nan if tags is None else tags
        self._obs[:n, kern.OBS_FEATS :] = feats

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

    # -- learning ------------------------------------------------------------
    def reserve(self, n: int) -> None:
        """Make room for at least ``n`` stored observations (a new ``packed`` buffer when it grows)."""
        if n > self.capacity:
            self._allocate(max(64, 2 * self.capacity, n), keep=self.packed)

    def observe(self, arm: int, feats: np.ndarray, y: float, tag: float = math.nan) -> None:
        """Add one observation ``y`` of arm ``arm`` with context features ``feats`` (``O(m²)``).

        ``tag`` is stored with it and returned in :attr:`obs_tag` (e.g. the raw context).
        """
        if type(feats) is not np.ndarray or feats.dtype != np.float64:
            feats = np.ascontiguousarray(feats, dtype=float)
        n = self.n
        self.reserve(n + 1)
        self._obs[n, kern.OBS_ARM], self._obs[n, kern.OBS_Y], self._obs[n, kern.OBS_TAG] = arm, y, tag
        self._obs[n, kern.OBS_FEATS :] = feats
        kern.observe_packed(self.packed, self.K, self.m, int(arm), feats, 0, float(y), np.empty(self.m), 0)

    def load_data(self, arms: np.ndarray, feats: np.ndarray, ys: np.ndarray, tags: np.ndarray | None = None) -> None:
        """Replace the data by ``(arms, feats, ys)`` (and ``tags``), keeping the hyperparameters; no refit.

        The posterior is left at the prior: call :meth:`refit` before predicting.

        Examples
        --------
        >>> import numpy as np
        >>> gp = ArmContextGP(np.linspace(1.0, 1.9, 4), degree=1)
        >>> gp.load_data(np.array([0, 1, 1]), np.array([[1.0, 0.0], [1.0, 0.5], [1.0, -0.5]]), np.array([0.2, 0.3, 0.1]))
        >>> _ = gp.refit(select_hyperparameters=False)
        >>> gp.n, gp.gram[1].tolist()
        (3, [[2.0, 0.0], [0.0, 0.5]])
        """
        arms = np.asarray(arms, dtype=np.int64)
        feats = np.ascontiguousarray(feats, dtype=float).reshape(arms.size, self.m)
        ys = np.asarray(ys, dtype=float)
        fit = self.fit.copy()
        self.reset()
        self.fit[3:] = fit[3:]
        n = arms.size
        K, m = self.K, self.m
        self._allocate(n, keep=self.packed)
        self._store(arms, feats, ys, tags)
        blocks, hs, ho = kern.data_stats(arms, feats, ys, K)
        self.gram[...] = blocks
        self.hsum[:], self.hone[:] = hs.reshape(-1), ho.reshape(-1)
        self.stats[:] = [float(n), float(ys.sum()), float(ys @ ys)]

    def _candidates(self, select_hyperparameters: bool) -> list[tuple[int, int]]:
        cur = (int(self.fit[3]), int(self.fit[4]))
        if not select_hyperparameters:
            return [cur]
        if self.n <= self.full_search_until:
            return [(i, j) for j in range(self.lengthscales.size) for i in range(self.snrs.size)]
        return [cur] + [
            (cur[0] + di, cur[1] + dj)
            for di, dj in ((-1, 0), (1, 0), (0, -1), (0, 1))
            if 0 <= cur[0] + di < self.snrs.size and 0 <= cur[1] + dj < self.lengthscales.size
        ]

    def scores(self, candidates: list[tuple[int, int]], data: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """Profiled log marginal likelihood of each ``(snr index, lengthscale index)``.

        With the prior factor ``L = √ρ L₁`` and ``B = I + ρ L₁ᵀ G L₁ = C Cᵀ``,
        ``log det(I + Σ₀G) = log det B`` and the quadratic form is
        ``Σ (y - m₀)² - ρ |C⁻¹ L₁ᵀ h|²``; ``σ²`` is profiled out under its
        inverse-gamma prior. While ``n < F`` the same numbers come from the
        ``n × n`` data kernel ``I + ρ Φ P Φᵀ``.

        ``data = (arms, feats, ys)`` scores those observations instead of the
        model's own (e.g. other context features), leaving the model as it is.
        """
        K, m = self.K, self.m
        if data is None:
            n, stats = self.n, self.stats
            m0, hc, yyc = kern.centre(stats, self.hsum, self.hone)
            if n < self.F:  # the data kernel needs the observations themselves
                arms, feats, ys = self.obs_arm, self.obs_feat, self.obs_y
            blocks = self.gram
        else:
            arms, feats, ys = data
            n = arms.shape[0]
            blocks, hs, ho = kern.data_stats(arms, feats, ys, K)
            stats = np.array([float(n), float(ys.sum()), float(ys @ ys)])
            m0, hc, yyc = kern.centre(stats, hs.reshape(-1), ho.reshape(-1))
        a = self.nu0 / 2.0 + 1.0 + n / 2.0
        out = np.full(len(candidates), -np.inf)
        by_ls: dict[int, list[int]] = {}
        for idx, (_, j) in enumerate(candidates):
            by_ls.setdefault(j, []).append(idx)
        dual = n < self.F
        if dual:
            yc = ys - m0
        else:
            blocks = kern.scaled_blocks(blocks, self._sqrt_d)
            hd = np.ascontiguousarray(hc.reshape(K, m) * self._sqrt_d[None, :])
        for j, idxs in by_ls.items():
            rhos = np.array([self.snrs[candidates[i][0]] for i in idxs])
            if dual:
                sc = kern.dual_scores(self._arm_cov[j], self._d, arms, feats, yc, rhos, a, stats, self.nu0)
            else:
                sc = kern.primal_scores(self._chol_arm[j], blocks, hd, rhos, yyc, a, stats, self.nu0)
            out[idxs] = sc
        return out

    def refit(self, select_hyperparameters: bool = True) -> float:
        """Recompute the posterior from the data; returns the chosen candidate's score (NaN if not scored).

        Re-centres at the mean loss and, if ``select_hyperparameters``, picks
        ``(ρ, ℓ)`` by the profiled marginal likelihood (:meth:`scores`): over
        the whole grid while there are at most ``full_search_until``
        observations, then among the current pair and its grid neighbours (a
        local search that follows the optimum as data accrue at a third of
        the cost).
        """
        n = self.n
        if n <= 0:
            self.reset()
            return 0.0
        cands = self._candidates(select_hyperparameters)
        if len(cands) > 1:
            sc = self.scores(cands)
            best = int(np.argmax(sc))
            score = float(sc[best])
        else:  # nothing to choose: no need to score
            best, score = 0, math.nan
        i_snr, i_ls = cands[best]
        ok = kern.refit_posterior(
            self.packed, self.K, self.m, self._chol_arm[i_ls], self._arm_cov[i_ls], self._sqrt_d, self._d,
            float(self.snrs[i_snr]), self.nu0,
        )
        if not ok:  # pragma: no cover - the matrices are SPD by construction
            raise np.linalg.LinAlgError("GP refit: matrix not positive definite")
        self.fit[3:] = i_snr, i_ls
        return score

    # -- prediction ------------------------------------------------------------
    def posterior_mean(self, feats: np.ndarray) -> np.ndarray:
        """Posterior mean loss of every arm at a context with features ``feats``."""
        return self.fit[0] + self.mean.reshape(self.K, self.m) @ feats

    def posterior_var(self, feats: np.ndarray) -> np.ndarray:
        """Posterior variance of each arm's mean loss at a context with features ``feats``."""
        return self.fit[1] * np.einsum("j,ajk,k->a", feats, self.cov, feats)
