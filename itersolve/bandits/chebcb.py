"""ChebCB: SquareCB with per-arm Chebyshev regression of the loss on the context.

The contextual learner of Khodak et al., *Learning to Relax* (ICLR 2024),
written after ``learners/ChebCB.m`` of the official code. For each arm ``i``
the loss is modelled as a polynomial of the context rescaled to
``u ∈ [-1, 1]``,

    ŷ_i(u) = Σ_{j=0}^{degree} θ_ij T_j(u),

fitted by (ridge-)regularised least squares on the rounds that played ``i``,
under the bounds ``|θ_i0| ≤ ℓ_max`` and ``|θ_ij| ≤ 2 (ℓ_max - ℓ_min) / j``
that a Lipschitz loss with that range admits (the code's ``ub``; ℓ_max,
ℓ_min are the largest and smallest losses seen). Actions are drawn by
inverse-gap weighting (Foster & Rakhlin's SquareCB):

    p_i = 1 / (K + γ_t (ŷ_i - ŷ_*))  for i ≠ i_*,    p_{i_*} = 1 - Σ_{i≠i_*} p_i.

The exploration parameter follows the code's schedule, which grows linearly
in ``t``:

    γ_t = 2 t √(K t / (R_t - R*_t + 2 α² t)),
    α  = (π + (2/π) ln(2m+1)) / (2 (m+1)) · (ℓ_max - ℓ_min),   m = degree + 1,

where ``R_t`` is the online squared error of the played arms' predictions
and ``R*_t`` the in-hindsight squared error of the current fits; ``γ_0 = 0``
(uniform play).

Examples
--------
>>> from itersolve.bandits import ChebCB
>>> pol = ChebCB(20, context_range=(-0.15, 0.45), seed=0)
>>> arm = pol.select(context=0.1)
>>> pol.update(arm, 0.3, context=0.1)
>>> print(round(float(pol.probabilities(0.1).sum()), 12))
1.0
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .base import ContextualPolicy, sample_index
from .boxqp import box_qp
from .chebyshev import chebyshev_features

__all__ = ["ChebCB"]

_GAMMA_MAX = 1e15


class ChebCB(ContextualPolicy):
    """SquareCB over per-arm Chebyshev regressions of loss on a scalar context.

    Parameters
    ----------
    n_arms : int
        Number of arms ``K``.
    context_range : (float, float)
        Interval ``[a, b]`` of the context, mapped affinely onto ``[-1, 1]``;
        contexts outside are clipped.
    degree : int
        Polynomial degree (the paper's experiments use ``m = 6`` features,
        i.e. degree 5).
    seed : int or None
        Seed of the random generator.
    gamma : float, optional
        ``None`` (default): the adaptive schedule above. A number: a constant
        inverse-gap-weighting parameter ``γ`` (SquareCB with a known horizon
        uses ``γ = √(K T / Reg_sq)``).
    ridge : float
        Ridge added to each arm's normal equations; a small value stands in
        for the code's minimum-norm solution (``lsqminnorm``).

    Notes
    -----
    Deviations from the MATLAB code, none of which changes what is
    estimated: losses are the cap-normalised ``[0, 1]`` values instead of
    raw iteration counts, so the code's shift by 1 and its scale ``K·N`` are
    dropped (the exploration weights ``γ_t (ŷ_i - ŷ_*)`` are invariant to
    that scale); fits use running sufficient statistics (``O(m²)`` per
    round) rather than refitting on the stored history; ``R*_t`` is the
    hindsight error summed over all arms (the code subtracts only the
    residual of the last *constrained* refit, and zero otherwise); and the
    bounded least squares use :func:`~itersolve.bandits.boxqp.box_qp`
    instead of ``lsqlin``. All arms are refitted when the bounds change,
    otherwise only the played arm, as in the code.

    Examples
    --------
    >>> import numpy as np
    >>> pol = ChebCB(2, context_range=(0, 1), degree=2, seed=0)
    >>> rng = np.random.default_rng(1)
    >>> for _ in range(300):
    ...     c = rng.random()
    ...     a = pol.select(c)
    ...     pol.update(a, 0.5 + (0.4 if a == 0 else -0.4) * (c - 0.5), c)
    >>> int(pol.predictions(0.1).argmin()), int(pol.predictions(0.9).argmin())
    (0, 1)
    """

    name = "chebcb"
    _state_keys = (
        "gram",
        "rhs",
        "yy",
        "counts",
        "theta",
        "resid",
        "sq_online",
        "gamma_t",
        "loss_max",
        "loss_min",
        "fit_bounds",
    )

    def __init__(
        self,
        n_arms: int,
        *,
        context_range: tuple[float, float],
        degree: int = 5,
        seed: int | None = 0,
        gamma: float | None = None,
        ridge: float = 1e-3,
    ) -> None:
        if isinstance(degree, bool) or not isinstance(degree, numbers.Integral) or degree < 0:
            raise ValueError(f"degree must be a non-negative integer, got {degree!r}")
        self.degree = int(degree)
        if gamma is not None:
            gamma = float(gamma)
            if not (math.isfinite(gamma) and gamma >= 0):
                raise ValueError(f"gamma must be a non-negative number, got {gamma}")
        self.gamma = gamma
        ridge = float(ridge)
        if not (math.isfinite(ridge) and ridge > 0):
            raise ValueError(f"ridge must be positive, got {ridge}")
        self.ridge = ridge
        super().__init__(n_arms, context_range=context_range, seed=seed)

    # -- state -------------------------------------------------------------
    def _init_state(self) -> None:
        K, m = self.n_arms, self.degree + 1
        self._gram = np.zeros((K, m, m))
        self._rhs = np.zeros((K, m))
        self._yy = np.zeros(K)
        self._counts = np.zeros(K, dtype=np.int64)
        self._theta = np.zeros((K, m))
        self._resid = np.zeros(K)
        self._sq_online = 0.0
        self._gamma_t = 0.0
        self._loss_max = 0.0
        self._loss_min = 0.0
        self._fit_bounds = np.full(m, -1.0)

    # -- model ---------------------------------------------------------------
    def features(self, context: float) -> np.ndarray:
        """Chebyshev features ``T_0..T_degree`` of the rescaled context."""
        return chebyshev_features(self.rescaled(self._check_context(context)), self.degree)

    def predictions(self, context: float) -> np.ndarray:
        """Current loss predictions ``ŷ_i(context)`` of every arm."""
        return self._theta @ self.features(context)

    @property
    def gamma_t(self) -> float:
        """The exploration parameter used by the next ``select``."""
        return self.gamma if self.gamma is not None else self._gamma_t

    def probabilities(self, context: float | None = None) -> np.ndarray:
        """Inverse-gap-weighting distribution of ``select(context)``."""
        yhat = self.predictions(context)
        best = int(np.argmin(yhat))
        p = 1.0 / (self.n_arms + self.gamma_t * (yhat - yhat[best]))
        p[best] = 0.0
        p[best] = max(1.0 - p.sum(), 0.0)
        return p / p.sum()

    def _select(self, context: float) -> int:
        return sample_index(self._rng, self.probabilities(context))

    def _bounds(self) -> np.ndarray:
        spread = self._loss_max - self._loss_min
        j = np.arange(1, self.degree + 1)
        return np.concatenate(([self._loss_max], 2.0 * spread / j))

    def _refit(self, i: int, ub: np.ndarray) -> None:
        G, h = self._gram[i], self._rhs[i]
        A = G + self.ridge * np.eye(self.degree + 1)
        theta = np.linalg.solve(A, h)
        if np.any(np.abs(theta) > ub):
            theta = box_qp(A, h, -ub, ub)
        self._theta[i] = theta
        self._resid[i] = max(self._yy[i] - 2.0 * theta @ h + theta @ G @ theta, 0.0)

    def _update(self, arm: int, loss: float, context: float) -> None:
        phi = self.features(context)
        pred = float(self._theta[arm] @ phi)
        self._sq_online += (pred - loss) ** 2
        self._gram[arm] += np.outer(phi, phi)
        self._rhs[arm] += loss * phi
        self._yy[arm] += loss * loss
        self._counts[arm] += 1
        if self.t == 0:
            self._loss_max = self._loss_min = loss
        else:
            self._loss_max = max(self._loss_max, loss)
            self._loss_min = min(self._loss_min, loss)
        ub = self._bounds()
        if np.array_equal(ub, self._fit_bounds):
            self._refit(arm, ub)
        else:
            for i in np.flatnonzero(self._counts):
                self._refit(int(i), ub)
            self._fit_bounds = ub
        t = self.t + 1
        m = self.degree + 1
        alpha = (math.pi + 2.0 / math.pi * math.log(2 * m + 1)) / (2.0 * (m + 1)) * (self._loss_max - self._loss_min)
        denom = max(self._sq_online - float(self._resid.sum()), 0.0) + 2.0 * alpha * alpha * t
        if denom > 0:
            self._gamma_t = min(2.0 * t * math.sqrt(self.n_arms * t / denom), _GAMMA_MAX)
        else:
            self._gamma_t = _GAMMA_MAX
