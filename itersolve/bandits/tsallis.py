"""½-Tsallis-INF (Zimmert & Seldin, JMLR 2021), the non-contextual learner of
Khodak et al., *Learning to Relax* (ICLR 2024).

Online mirror descent / FTRL on the simplex with the ½-Tsallis entropy
``Ψ_t(w) = -(4/η_t) Σ_i √w_i``. Given the cumulative loss estimates ``L̂``
the weights are

    w_i = 4 / (η_t (L̂_i - x))²,   x < min_i L̂_i  such that  Σ_i w_i = 1,

and the normalisation constant ``x`` is found by Newton's method
(see :func:`tsallis_inf_weights`). The
learning rate is ``η_t = η₀ / √t`` at round ``t = 1, 2, ...`` with ``η₀ = 2``
for the importance-weighted estimator (the rate of Zimmert & Seldin's
Theorem 1 and of the paper's code ``learners/TsallisINF.m``) and ``η₀ = 4``
for the reduced-variance estimator.

Examples
--------
>>> import numpy as np
>>> from itersolve.bandits import TsallisINF, tsallis_inf_weights
>>> w = tsallis_inf_weights(np.array([0.0, 1.0, 5.0]), eta=1.0)
>>> print(np.round(w, 4), round(float(w.sum()), 12))
[0.6132 0.3167 0.0701] 1.0
>>> pol = TsallisINF(20, seed=0)
>>> arm = pol.select()
>>> pol.update(arm, 0.4)
>>> print(round(float(pol.probabilities().sum()), 12))
1.0
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit

from .base import Policy, importance_weighted, sample_index

__all__ = ["TsallisINF", "tsallis_inf_weights"]

_ESTIMATORS = ("iw", "rv")


def tsallis_inf_weights(cum_losses: Any, eta: float, *, tol: float = 1e-13, max_iter: int = 100) -> np.ndarray:
    """Weights of ½-Tsallis-INF for cumulative loss estimates ``cum_losses``.

    Solves ``Σ_i 4 / (η (L_i - x))² = 1`` for the normalisation constant
    ``x < min L`` by Newton's method. The iteration is applied to the
    equivalent equation ``g(x) = (Σ_i (L_i - x)⁻²)^(-1/2) - 2/η = 0``:
    ``g`` is a power mean (exponent -2) of the distances ``L_i - x``, hence
    concave and decreasing in ``x``, and exactly linear when all ``L_i`` are
    equal. Started at ``x₀ = min L - 2/η`` (where ``Σ w ≥ 1``), the iterates
    decrease monotonically to the root without crossing the pole at
    ``min L``; two to four steps reach machine precision. A final division by
    the sum removes the residual error.

    Parameters
    ----------
    cum_losses : array_like, shape (K,)
        Cumulative (estimated) losses; finite.
    eta : float
        Learning rate ``η > 0``.
    tol : float
        Stop when ``|Σ w - 1| <= tol``.
    max_iter : int
        Newton iteration cap.

    Returns
    -------
    numpy.ndarray, shape (K,)
        A probability vector; smaller cumulative loss means larger weight.

    Examples
    --------
    >>> tsallis_inf_weights([0.0, 0.0], eta=3.0)
    array([0.5, 0.5])
    """
    L = np.asarray(cum_losses, dtype=float)
    if L.ndim != 1 or L.size == 0:
        raise ValueError(f"cum_losses must be a non-empty 1-D array, got shape {L.shape}")
    if not np.isfinite(L).all():
        raise ValueError("cum_losses must be finite")
    eta = float(eta)
    if not (math.isfinite(eta) and eta > 0):
        raise ValueError(f"eta must be positive and finite, got {eta}")
    return _newton_weights(L, eta, float(tol), int(max_iter))


@njit(cache=True)
def _newton_weights(L: np.ndarray, eta: float, tol: float, max_iter: int) -> np.ndarray:  # pragma: no cover - compiled
    """The Newton iteration of :func:`tsallis_inf_weights` on checked input, compiled: a
    round of the Tsallis-INF policies costs a few microseconds, not a few dozen NumPy calls."""
    K = L.shape[0]
    Ls = L - L.min()
    c = 2.0 / eta
    x = -c
    for _ in range(max_iter):
        S = 0.0
        for i in range(K):
            d = Ls[i] - x
            S += 1.0 / (d * d)
        if abs(S * c * c - 1.0) <= tol:
            break
        S3 = 0.0
        for i in range(K):
            d = Ls[i] - x
            S3 += 1.0 / (d * d * d)
        r = 1.0 / math.sqrt(S)
        x += (r - c) / (r**3 * S3)
    w = np.empty(K)
    total = 0.0
    for i in range(K):
        d = eta * (Ls[i] - x)
        w[i] = 4.0 / (d * d)
        total += w[i]
    return w / total


def _check_estimator(estimator: str, eta0: float | None) -> tuple[str, float]:
    if estimator not in _ESTIMATORS:
        raise ValueError(f"estimator must be one of {_ESTIMATORS}, got {estimator!r}")
    if eta0 is None:
        eta0 = 2.0 if estimator == "iw" else 4.0
    eta0 = float(eta0)
    if not (math.isfinite(eta0) and eta0 > 0):
        raise ValueError(f"eta0 must be positive and finite, got {eta0}")
    return estimator, eta0


def tsallis_round_weights(
    cum: np.ndarray, rounds_done: int, loss_sum: float, eta0: float, adaptive_scale: bool
) -> tuple[np.ndarray, float]:
    """Weights and learning rate for the next round of one Tsallis-INF learner.

    ``rounds_done`` updates have been seen, so the coming round is
    ``t = rounds_done + 1`` and ``η_t = η₀/√t``. With ``adaptive_scale`` the
    estimates are divided by the mean observed loss first, as in the paper's
    MATLAB code (which divides by ``mean(cost) - 1``).
    """
    t = rounds_done + 1
    eta = eta0 / math.sqrt(t)
    L = cum
    if adaptive_scale and rounds_done > 0:
        scale = loss_sum / rounds_done
        if scale > 0:
            L = cum / scale
    return tsallis_inf_weights(L, eta), eta


def tsallis_loss_estimate(w: np.ndarray, arm: int, loss: float, eta: float, estimator: str) -> np.ndarray:
    """The loss-estimate vector ``ℓ̂_t`` to add to the cumulative estimates.

    ``"iw"``: ``ℓ̂_i = 1[i = arm] ℓ / w_i``.
    ``"rv"`` (reduced variance, Zimmert & Seldin eq. (5)):
    ``ℓ̂_i = 1[i = arm] (ℓ - B_i) / w_i + B_i`` with ``B_i = ½·1[w_i ≥ η²]``.
    Both are unbiased.
    """
    est = np.zeros_like(w)
    if estimator == "iw":
        est[arm] = importance_weighted(loss, w[arm])
    else:
        B = np.where(w >= eta * eta, 0.5, 0.0)
        est += B
        est[arm] += importance_weighted(loss - B[arm], w[arm])
    return est


class TsallisINF(Policy):
    """½-Tsallis-INF bandit (Zimmert & Seldin 2021), as used by Khodak et al.

    Best-of-both-worlds: ``O(√(KT))`` regret against any (adversarial)
    loss sequence and ``O(Σ_i log T / Δ_i)`` in stochastic environments. It
    treats the arms as unrelated.

    Parameters
    ----------
    n_arms : int
        Number of arms ``K``.
    seed : int or None
        Seed of the policy's random generator.
    estimator : {"iw", "rv"}
        Importance-weighted (the paper's code) or reduced-variance loss
        estimates.
    eta0 : float, optional
        ``η_t = eta0/√t``; default 2 for ``"iw"`` and 4 for ``"rv"``
        (Zimmert & Seldin, Theorem 1).
    adaptive_scale : bool
        Divide the cumulative estimates by the running mean loss before
        computing the weights (default), as the official MATLAB code does: it
        feeds raw iteration counts and divides by ``mean(cost) - 1``. This
        makes the policy invariant to the cap of :class:`LossNormalizer`;
        without it, a generous cap makes every loss small and ``η_t = 2/√t``
        learns correspondingly slowly. ``False`` gives the analysed algorithm
        on ``[0, 1]`` losses.

    Notes
    -----
    ``update`` uses the probability that the current state gives ``arm``,
    recomputed from the state (Newton converges in a few steps), so no
    hidden "last selection" is kept.

    Examples
    --------
    >>> import numpy as np
    >>> pol = TsallisINF(3, seed=1)
    >>> for _ in range(200):
    ...     a = pol.select()
    ...     pol.update(a, [0.9, 0.1, 0.9][a])
    >>> int(np.argmax(pol.probabilities()))
    1
    """

    name = "tsallis-inf"
    _state_keys = ("cum", "loss_sum")

    def __init__(
        self,
        n_arms: int,
        *,
        seed: int | None = 0,
        estimator: str = "iw",
        eta0: float | None = None,
        adaptive_scale: bool = True,
    ) -> None:
        self.estimator, self.eta0 = _check_estimator(estimator, eta0)
        self.adaptive_scale = bool(adaptive_scale)
        super().__init__(n_arms, seed=seed)

    def _init_state(self) -> None:
        self._cum = np.zeros(self.n_arms)
        self._loss_sum = 0.0

    def probabilities(self, context: float | None = None) -> np.ndarray:
        """The sampling distribution of the next ``select``."""
        return tsallis_round_weights(self._cum, self.t, self._loss_sum, self.eta0, self.adaptive_scale)[0]

    def _select(self, context: float | None) -> int:
        return sample_index(self._rng, self.probabilities())

    def _update(self, arm: int, loss: float, context: float | None) -> None:
        w, eta = tsallis_round_weights(self._cum, self.t, self._loss_sum, self.eta0, self.adaptive_scale)
        self._cum = self._cum + tsallis_loss_estimate(w, arm, loss, eta, self.estimator)
        self._loss_sum += loss
