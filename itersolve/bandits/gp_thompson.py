"""Thompson sampling on a Gaussian-process model of the loss over the ω grid
(and the context): itersolve's own policies.

Why these should beat Tsallis-INF and ChebCB on solver-parameter sequences
---------------------------------------------------------------------------
* **Neighbouring arms share information.** The iteration count of SOR/SSOR is
  a smooth, nearly unimodal function of ω. Tsallis-INF and Exp3 treat the 20
  arms as unrelated and must sample each of them many times; ChebCB fits 20
  independent regressions. A GP over the arm *values* learns the whole curve
  from a few arms, so bad regions are abandoned after a handful of plays.
* **Stochastic, not adversarial.** The systems of a simulation are drawn
  from a slowly varying distribution. Thompson sampling is asymptotically
  optimal for stochastic bandits, while Tsallis-INF pays for its adversarial
  guarantee with importance-weighted estimates whose variance grows as
  ``1/p``.
* **Scale-free.** Losses are ``cost / cap``; with a generous cap every loss
  is tiny and the Tsallis-INF learning rate ``2/√t`` (made for ``[0, 1]``
  losses) learns slowly. The GP estimates the noise level and the
  signal-to-noise ratio from the data, so its behaviour does not depend on
  the cap.
* **Known range.** The grid itself carries the prior knowledge that good ω
  lie in ``[1, 2)``; the policy receives the arm values, so its smoothness
  prior is expressed in ω units, not in arm indices.

Each step costs ``O(F²)`` with ``F = K`` (non-contextual) or ``F = K (d+1)``
(contextual) features — a rank-one update of the posterior and a ``K × K``
Cholesky factor for the draw — plus an ``O(F³)`` refit with hyperparameter
selection at rounds 1, 2, 4, ... and then every ``refit_every`` rounds.

Caveat: Thompson sampling has no adversarial guarantee; for sequences that
change abruptly, the paper's Tsallis-INF remains the safe choice.

Examples
--------
>>> import numpy as np
>>> from itersolve.bandits import GPThompson
>>> omegas = np.linspace(1.0, 1.95, 20)
>>> pol = GPThompson(arms=omegas, seed=0)
>>> for _ in range(150):
...     a = pol.select()
...     pol.update(a, 0.2 + 0.5 * (omegas[a] - 1.7) ** 2)
>>> round(float(omegas[int(np.argmin(pol.posterior_mean()))]), 2)
1.7
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .base import ContextualPolicy, Policy, check_n_arms
from .chebyshev import chebyshev_features
from .gp_model import ArmContextGP

__all__ = ["GPThompson", "ContextualGPThompson"]

_ONE = np.ones(1)


def _resolve_arms(n_arms: int | None, arms: Any) -> tuple[int, np.ndarray]:
    if arms is None:
        if n_arms is None:
            raise ValueError("give n_arms or arms (the arm values, e.g. the omega grid)")
        n = check_n_arms(n_arms)
        return n, np.arange(n, dtype=float)
    x = np.asarray(arms, dtype=float)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"arms must be a non-empty 1-D array of arm values, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("arms must be finite")
    if n_arms is not None and check_n_arms(n_arms) != x.size:
        raise ValueError(f"n_arms={n_arms} but {x.size} arm values were given")
    return x.size, x


def _check_refit_every(refit_every: Any) -> int:
    if isinstance(refit_every, bool) or not isinstance(refit_every, numbers.Integral) or refit_every < 1:
        raise ValueError(f"refit_every must be a positive integer, got {refit_every!r}")
    return int(refit_every)


def _due(n: int, every: int) -> bool:
    """Refit at n = 1, 2, 4, ... below ``every``, then at multiples of ``every``."""
    return (n < every and n & (n - 1) == 0) or n % every == 0


class _GPMixin:
    """State plumbing shared by the two GP policies."""

    _model: ArmContextGP

    def _get_state(self) -> dict[str, Any]:
        return self._model.get_state()

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        self._model.set_state(state)


class GPThompson(_GPMixin, Policy):
    """Thompson sampling with a GP prior over the arm values (no context).

    Parameters
    ----------
    n_arms : int, optional
        Number of arms; inferred from ``arms`` when omitted.
    arms : array_like, optional
        The arm values (e.g. ``np.linspace(1, 1.95, 20)``); default
        ``0, 1, ..., n_arms - 1``.
    seed : int or None
        Seed of the random generator.
    lengthscales : sequence of float
        Candidate kernel lengthscales as fractions of the arm-value span.
    snrs : sequence of float
        Candidate signal-to-noise variance ratios.
    refit_every : int
        Refit period (rounds) once past the doubling phase.

    See the module docstring for why this policy should beat the paper's.

    Examples
    --------
    >>> pol = GPThompson(4, seed=0)
    >>> arm = pol.select()
    >>> pol.update(arm, 0.5)
    >>> pol.posterior_mean().shape
    (4,)
    """

    name = "gp-thompson"
    uses_arm_values = True

    def __init__(
        self,
        n_arms: int | None = None,
        *,
        arms: Any = None,
        seed: int | None = 0,
        lengthscales: Any = (0.1, 0.2, 0.4),
        snrs: Any = (1.0, 10.0, 100.0, 1e3, 1e4),
        refit_every: int = 50,
    ) -> None:
        n, self.arms = _resolve_arms(n_arms, arms)
        self.refit_every = _check_refit_every(refit_every)
        self._model = ArmContextGP(self.arms, degree=0, snrs=snrs, lengthscales=lengthscales)
        super().__init__(n, seed=seed)

    def _init_state(self) -> None:
        self._model.reset()

    def posterior_mean(self, context: float | None = None) -> np.ndarray:
        """Posterior mean loss of every arm."""
        return self._model.posterior_mean(_ONE)

    def posterior_std(self, context: float | None = None) -> np.ndarray:
        """Posterior standard deviation of every arm's mean loss."""
        return np.sqrt(np.clip(np.diag(self._model.posterior_cov(_ONE)), 0.0, None))

    def _select(self, context: float | None) -> int:
        return int(np.argmin(self._model.sample(_ONE, self._rng)))

    def _update(self, arm: int, loss: float, context: float | None) -> None:
        self._model.observe(arm, _ONE, loss)
        if _due(self._model.n, self.refit_every):
            self._model.refit()


class ContextualGPThompson(_GPMixin, ContextualPolicy):
    """Thompson sampling with a joint GP over (arm value, context).

    The loss of each arm is a Chebyshev series in the rescaled context (as in
    ChebCB), but the coefficient vectors of different arms are tied by an
    RBF kernel on the arm values, so one solve informs the neighbouring ω at
    that context, and the noise level and smoothness are learned.

    Parameters
    ----------
    n_arms : int, optional
        Number of arms; inferred from ``arms`` when omitted.
    arms : array_like, optional
        The arm values; default ``0, 1, ..., n_arms - 1``.
    context_range : (float, float)
        Interval of the context, mapped onto ``[-1, 1]``; values outside are clipped.
    degree : int
        Chebyshev degree in the context.
    seed : int or None
        Seed of the random generator.
    lengthscales, snrs, refit_every
        As in :class:`GPThompson`.

    Examples
    --------
    >>> import numpy as np
    >>> omegas = np.linspace(1.0, 1.95, 20)
    >>> pol = ContextualGPThompson(arms=omegas, context_range=(0, 1), degree=3, seed=0)
    >>> rng = np.random.default_rng(0)
    >>> for _ in range(300):
    ...     c = rng.random()
    ...     a = pol.select(c)
    ...     pol.update(a, 0.2 + 0.5 * abs(omegas[a] - 1.1 - 0.8 * c), c)
    >>> best = lambda c: round(float(omegas[int(np.argmin(pol.posterior_mean(c)))]), 1)
    >>> best(0.0), best(1.0)
    (1.1, 1.9)
    """

    name = "gp-thompson-cb"
    uses_arm_values = True

    def __init__(
        self,
        n_arms: int | None = None,
        *,
        arms: Any = None,
        context_range: tuple[float, float],
        degree: int = 5,
        seed: int | None = 0,
        lengthscales: Any = (0.1, 0.2, 0.4),
        snrs: Any = (1.0, 10.0, 100.0, 1e3, 1e4),
        refit_every: int = 200,
    ) -> None:
        n, self.arms = _resolve_arms(n_arms, arms)
        if isinstance(degree, bool) or not isinstance(degree, numbers.Integral) or degree < 0:
            raise ValueError(f"degree must be a non-negative integer, got {degree!r}")
        self.degree = int(degree)
        self.refit_every = _check_refit_every(refit_every)
        self._model = ArmContextGP(self.arms, degree=self.degree, snrs=snrs, lengthscales=lengthscales)
        super().__init__(n, context_range=context_range, seed=seed)

    def _init_state(self) -> None:
        self._model.reset()

    def _feats(self, context: float) -> np.ndarray:
        return chebyshev_features(self.rescaled(context), self.degree)

    def posterior_mean(self, context: float) -> np.ndarray:
        """Posterior mean loss of every arm at ``context``."""
        return self._model.posterior_mean(self._feats(self._check_context(context)))

    def posterior_std(self, context: float) -> np.ndarray:
        """Posterior standard deviation of every arm's mean loss at ``context``."""
        C = self._model.posterior_cov(self._feats(self._check_context(context)))
        return np.sqrt(np.clip(np.diag(C), 0.0, None))

    def _select(self, context: float) -> int:
        return int(np.argmin(self._model.sample(self._feats(context), self._rng)))

    def _update(self, arm: int, loss: float, context: float) -> None:
        self._model.observe(arm, self._feats(context), loss)
        if _due(self._model.n, self.refit_every):
            self._model.refit()

