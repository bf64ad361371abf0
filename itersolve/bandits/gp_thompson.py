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

Costs. :class:`GPThompson` (``F = K`` coefficients) keeps the exact
posterior with a rank-one update per round, ``O(K²)``, and draws jointly.
:class:`ContextualGPThompson` (``F = K (d+1)``) keeps between refits only
each arm's marginal posterior: a round is ``O(K (d+1)²)`` (one compiled
call each for ``select`` and ``update``), and a refit on a schedule
(after each of the first 32 rounds, then every ``n/8`` rounds, at most
1024) recomputes the exact posterior's means and marginals, passing each
arm's data on to its neighbours. Both select hyperparameters at rounds 1, 2,
4, ... and then every ``refit_every`` rounds (``O(n³)`` on the data kernel
while ``n < F``, ``O(F³)`` afterwards).

The contextual policy also chooses how the context enters: Chebyshev
polynomials of the context after one of a few monotone *warps* (linear, or
logarithmic towards either end of the range), selected by the same
marginal likelihood at rounds 64, 256, 1024, ... Solver costs typically
change fastest near one end of the context range (a shift approaching
singularity, a diffusivity near zero), where a warp puts the resolution.
The contextual policy's draws are tempered (``explore=0.5``: half the
posterior spread), a good trade on sequences whose costs are nearly
deterministic given the context.

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

import math
import numbers
from typing import Any, Mapping

import numpy as np

from . import _gpkernels as kern
from .base import ContextualPolicy, Policy, check_n_arms
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


def _check_explore(explore: Any) -> float:
    try:
        e = float(explore)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"explore must be a non-negative number, got {explore!r}") from exc
    if not (np.isfinite(e) and e >= 0):
        raise ValueError(f"explore must be a non-negative number, got {explore!r}")
    return e


def _due(n: int, every: int) -> bool:
    """Refit at n = 1, 2, 4, ... below ``every``, then at multiples of ``every``."""
    return (n < every and n & (n - 1) == 0) or n % every == 0


#: standard normals drawn per call of the random generator (contextual policy)
_ZBLOCK = 64

#: keys of the state whose length is the number of observations
_GROWING = ("obs_arm", "obs_feat", "obs_y", "obs_ctx")


class _GPMixin:
    """State plumbing shared by the two GP policies."""

    _model: ArmContextGP

    def _get_state(self) -> dict[str, Any]:
        return self._model.get_state()

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        self._model.set_state(state)

    def _expected_shape(self, key: str, template_shape: tuple[int, ...], state: Mapping[str, Any]) -> tuple[int, ...]:
        if key in _GROWING and "obs_y" in state:
            n = int(np.shape(state["obs_y"])[0])
            return (n,) + tuple(template_shape[1:])
        return template_shape


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
    explore : float
        Scale of each draw's deviation from the posterior mean (1: Thompson
        sampling, the default; 0.5 explores less and is often better, but
        without a context it can stay on a poor arm: 1.17 x the best fixed ω
        in one of three low-variance shifted-Laplacian runs).

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
        explore: float = 1.0,
    ) -> None:
        n, self.arms = _resolve_arms(n_arms, arms)
        self.refit_every = _check_refit_every(refit_every)
        self.explore = _check_explore(explore)
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
        return self._model.thompson_arm(_ONE, self._rng, self.explore)

    def _update(self, arm: int, loss: float, context: float | None) -> None:
        self._model.observe(arm, _ONE, loss)
        if _due(self._model.n, self.refit_every):
            self._model.refit()


def _check_warps(warps: Any) -> np.ndarray:
    w = np.asarray(warps, dtype=float).ravel()
    if w.size == 0 or not np.isfinite(w).all():
        raise ValueError(f"warps must be a non-empty sequence of finite numbers, got {warps!r}")
    return w


def _warp_due(n: int) -> bool:
    """Warp selection at n = 64, 256, 1024, ... (powers of 4 from 64)."""
    return n >= 64 and n & (n - 1) == 0 and (n.bit_length() - 1) % 2 == 0


class ContextualGPThompson(_GPMixin, ContextualPolicy):
    """Thompson sampling with a joint GP over (arm value, context).

    The loss of each arm is a Chebyshev series in the (warped, rescaled)
    context, as in ChebCB, but the coefficient vectors of different arms are
    tied by an RBF kernel on the arm values, so one solve informs the
    neighbouring ω at that context, and the noise level, the smoothness and
    the warp of the context axis are learned (module docstring).

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
        As in :class:`GPThompson` (``refit_every``: hyperparameter selection).
        The signal-to-noise grid stops at 1e3: a weaker prior lets arms
        that were rarely played in part of the context range keep a wide
        posterior there, and their draws cost dear exploration (a
        2000-iteration solve near a singular shift).
    explore : float
        Scale of each draw's deviation from the posterior mean (1: Thompson
        sampling; the default 0.5 explores less).
    dense_refits, refit_ratio, max_refit_gap : int
        Schedule of the posterior refits that pass each arm's data on to the
        other arms (between them an observation updates only the played
        arm's marginal; see ``ArmContextGP(marginal=True)``): after each of
        the first ``dense_refits`` rounds, then after ``max(1, n //
        refit_ratio)`` more rounds, at most ``max_refit_gap``.
    warps : sequence of float
        Candidate warps of the context axis (see
        :func:`~itersolve.bandits._gpkernels.warped_chebyshev`): 0 linear,
        ``s > 0`` logarithmic with scale ``s`` towards the low end of
        ``context_range``, ``-s`` towards the high end. The first is used
        until round 64. ``warps=(0,)`` gives the plain Chebyshev features.

    Notes
    -----
    Draws are independent across arms, from each arm's marginal posterior
    at the context (the coupling between arms acts through the means and
    variances at each refit). A round costs ``O(K m²)`` and a refit
    ``O(min(n, F)³)``-ish; about 130 refits happen in 5000 rounds.

    Examples
    --------
    >>> import numpy as np
    >>> omegas = np.linspace(1.0, 1.95, 20)
    >>> pol = ContextualGPThompson(arms=omegas, context_range=(0, 1), degree=3, seed=0, explore=1.0)
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
        degree: int = 3,
        seed: int | None = 0,
        lengthscales: Any = (0.1, 0.2, 0.4),
        snrs: Any = (1.0, 10.0, 100.0, 1e3),
        refit_every: int = 1024,
        explore: float = 0.5,
        warps: Any = (0.0, 0.1, 0.01, -0.1, -0.01),
        dense_refits: int = 32,
        refit_ratio: int = 8,
        max_refit_gap: int = 1024,
    ) -> None:
        n, self.arms = _resolve_arms(n_arms, arms)
        if isinstance(degree, bool) or not isinstance(degree, numbers.Integral) or degree < 0:
            raise ValueError(f"degree must be a non-negative integer, got {degree!r}")
        self.degree = int(degree)
        self.refit_every = _check_refit_every(refit_every)
        self.explore = _check_explore(explore)
        self.warps = _check_warps(warps)
        for label, v in (("dense_refits", dense_refits), ("refit_ratio", refit_ratio), ("max_refit_gap", max_refit_gap)):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < (0 if label == "dense_refits" else 1):
                raise ValueError(f"{label} must be a {'non-negative' if label == 'dense_refits' else 'positive'} integer, got {v!r}")
        self.dense_refits, self.refit_ratio, self.max_refit_gap = int(dense_refits), int(refit_ratio), int(max_refit_gap)
        self._model = ArmContextGP(self.arms, degree=self.degree, snrs=snrs, lengthscales=lengthscales, marginal=True)
        self._scratch: ArmContextGP | None = None
        super().__init__(n, context_range=context_range, seed=seed)

    def _init_state(self) -> None:
        self._model.reset()
        self._obs_ctx = np.zeros(0)
        self._warp = 0
        self._next_refit = 1
        self._fbuf = np.empty(self.degree + 1)  # features of the last selected context
        self._last: tuple[float, int] | None = None
        self._zbuf = np.zeros((_ZBLOCK, self.n_arms))  # standard normals, drawn a block at a time
        self._zpos = _ZBLOCK

    @property
    def warp(self) -> float:
        """The warp of the context axis in use."""
        return float(self.warps[self._warp])

    def _get_state(self) -> dict[str, Any]:
        d = self._model.get_state()
        d["obs_ctx"] = self._obs_ctx[: self._model.n]
        d["warp"] = self._warp
        d["next_refit"] = self._next_refit
        d["zbuf"] = self._zbuf
        d["zpos"] = self._zpos
        return d

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        w = int(state["warp"])
        if not 0 <= w < self.warps.size:
            raise ValueError("state was saved with another warps grid")
        self._model.set_state(state)
        self._obs_ctx = np.array(state["obs_ctx"], dtype=float, copy=True)
        self._warp = w
        self._next_refit = int(state["next_refit"])
        self._zbuf = np.array(state["zbuf"], dtype=float, copy=True)
        self._zpos = int(state["zpos"])
        self._last = None

    def _feats(self, context: float, warp: float | None = None) -> np.ndarray:
        lo, hi = self.context_range
        return kern.warped_chebyshev(float(context), lo, hi, self.warp if warp is None else float(warp), self.degree)

    def _feats_batch(self, contexts: np.ndarray, warp: float) -> np.ndarray:
        lo, hi = self.context_range
        return kern.warped_chebyshev_batch(np.ascontiguousarray(contexts, dtype=float), lo, hi, float(warp), self.degree)

    def posterior_mean(self, context: float) -> np.ndarray:
        """Posterior mean loss of every arm at ``context``."""
        return self._model.posterior_mean(self._feats(self._check_context(context)))

    def posterior_std(self, context: float) -> np.ndarray:
        """Posterior standard deviation of every arm's mean loss at ``context``."""
        C = self._model.posterior_cov(self._feats(self._check_context(context)))
        return np.sqrt(np.clip(np.diag(C), 0.0, None))

    def _select(self, context: float) -> int:
        zpos = self._zpos
        if zpos >= _ZBLOCK:
            self._zbuf = self._rng.standard_normal((_ZBLOCK, self.n_arms))
            zpos = 0
        self._zpos = zpos + 1
        M = self._model
        lo, hi = self.context_range
        arm = kern.select_blocks(
            context, lo, hi, float(self.warps[self._warp]), M.cov, M.mean, M.fit, self._zbuf, zpos, self.explore, self._fbuf
        )
        self._last = (context, self._warp)  # the update of this round reuses the features in _fbuf
        return arm

    def _choose_warp(self) -> None:
        """Pick the warp with the largest marginal likelihood (current hyperparameters)."""
        model = self._model
        n = model.n
        if self._scratch is None:
            self._scratch = ArmContextGP(
                self.arms, degree=self.degree, snrs=model.snrs, lengthscales=model.lengthscales, marginal=True
            )
        scratch = self._scratch
        arms, ys, ctx = model.obs_arm[:n], model.obs_y[:n], self._obs_ctx[:n]
        cur = (int(model.fit[3]), int(model.fit[4]))
        best_score, best_w, best_feats = -np.inf, self._warp, None
        for w_idx, w in enumerate(self.warps):
            feats = self._feats_batch(ctx, w)
            scratch.load_data(arms, feats, ys)
            score = float(scratch.scores([cur])[0])
            if score > best_score:
                best_score, best_w, best_feats = score, w_idx, feats
        if best_w != self._warp:
            self._warp = best_w
            model.rebuild(arms, best_feats, ys)

    def select(self, context: float | None = None) -> int:
        """Draw the arm to play next (see :meth:`Policy.select`)."""
        if type(context) is float and math.isfinite(context):  # fast path of the validation
            lo, hi = self.context_range
            return self._select(min(max(context, lo), hi))
        return super().select(context)

    def update(self, arm: int, loss: float, context: float | None = None) -> None:
        """Learn from the loss of having played ``arm`` (see :meth:`Policy.update`)."""
        if (
            type(arm) is int and 0 <= arm < self.n_arms and type(loss) is float and 0.0 <= loss <= 1.0
            and type(context) is float and math.isfinite(context)
        ):  # fast path: the same checks as Policy.update for plain Python numbers
            lo, hi = self.context_range
            self._update(arm, loss, min(max(context, lo), hi))
            self.t += 1
            return
        super().update(arm, loss, context)

    def _update(self, arm: int, loss: float, context: float) -> None:
        M = self._model
        n = self.t  # observations so far
        if n >= M.capacity or n >= self._obs_ctx.size:
            M.reserve(n + 1)
            self._obs_ctx = np.resize(self._obs_ctx, M.capacity)
        feats = self._fbuf if self._last == (context, self._warp) else self._feats(context)
        self._last = None
        kern.observe_record(*M.kernel_arrays(), self._obs_ctx, arm, feats, loss, context)
        n += 1
        if n < self._next_refit and n & (n - 1) and n % self.refit_every:
            return  # no refit due (the common case)
        if _due(n, self.refit_every):
            if self.warps.size > 1 and _warp_due(n):
                self._choose_warp()
            M.refit()
        elif n <= self.dense_refits or n >= self._next_refit:
            M.refit(select_hyperparameters=False)
        else:
            return
        self._next_refit = n + min(self.max_refit_gap, max(1, n // self.refit_ratio))
