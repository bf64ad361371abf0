"""The policy protocol shared by every bandit in :mod:`itersolve.bandits`.

A *policy* chooses an arm (an index into a grid of parameter values, e.g.
relaxation factors ω) before each solve of a sequence and learns from the one
number the solve returns, its normalised cost. The protocol is

``select(context=None) -> int``
    draw the arm for the next system (``context`` is a scalar such as a
    diagonal shift; contextual policies require it, the others ignore it);
``update(arm, loss, context=None) -> None``
    report the loss in ``[0, 1]`` of playing ``arm`` (see
    :class:`~itersolve.bandits.normalize.LossNormalizer`);
``state_dict() / load_state_dict(d)``
    the complete learner state, random generator included, as numpy arrays
    only (JSON via ``.tolist()``, or safetensors), never pickle;
``reset()``
    forget everything and restart the random generator from ``seed``.

Importance-weighted policies use their *current* probability of ``arm`` in
``update``; this equals the probability ``select`` used as long as the two
calls alternate, which is the intended use.

Examples
--------
>>> from itersolve.bandits import UCB1
>>> pol = UCB1(3, seed=0)
>>> arm = pol.select()
>>> pol.update(arm, 0.25)
>>> pol.t
1
>>> pol.update(5, 0.25)
Traceback (most recent call last):
...
ValueError: arm must be an integer in [0, 3), got 5
"""

from __future__ import annotations

import abc
import math
import numbers
from typing import Any, ClassVar, Mapping

import numpy as np

__all__ = ["Policy", "ContextualPolicy", "rng_to_array", "rng_from_array", "sample_index", "importance_weighted"]

_MASK64 = (1 << 64) - 1


def rng_to_array(rng: np.random.Generator) -> np.ndarray:
    """Encode a PCG64 generator's state as six ``uint64`` words.

    Parameters
    ----------
    rng : numpy.random.Generator
        A generator backed by ``PCG64`` (what ``np.random.default_rng`` makes).

    Returns
    -------
    numpy.ndarray
        ``[state_hi, state_lo, inc_hi, inc_lo, has_uint32, uinteger]``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> words = rng_to_array(rng)
    >>> x = rng.random()
    >>> float(rng_from_array(words).random()) == x
    True
    """
    st = rng.bit_generator.state
    if st.get("bit_generator") != "PCG64":
        raise TypeError(f"only PCG64 generators can be saved, got {st.get('bit_generator')}")
    s, inc = int(st["state"]["state"]), int(st["state"]["inc"])
    words = [s >> 64, s & _MASK64, inc >> 64, inc & _MASK64, int(st["has_uint32"]), int(st["uinteger"])]
    return np.array(words, dtype=np.uint64)


def rng_from_array(words: Any) -> np.random.Generator:
    """Rebuild the generator encoded by :func:`rng_to_array`."""
    w = [int(v) for v in np.asarray(words, dtype=np.uint64).ravel()]
    if len(w) != 6:
        raise ValueError(f"rng_state must hold 6 words, got {len(w)}")
    bg = np.random.PCG64()
    bg.state = {
        "bit_generator": "PCG64",
        "state": {"state": (w[0] << 64) | w[1], "inc": (w[2] << 64) | w[3]},
        "has_uint32": w[4],
        "uinteger": w[5],
    }
    return np.random.Generator(bg)


#: Floor of a probability in an importance-weighted loss estimate.
MIN_PROBABILITY = 1e-12


def importance_weighted(loss: float, p: float) -> float:
    """``loss / p``, with ``p`` floored at :data:`MIN_PROBABILITY`.

    A caller replaying someone else's history can feed back an arm the policy
    would (almost) never draw; the floor keeps the estimate, and every weight
    computed from it, finite.

    Examples
    --------
    >>> importance_weighted(0.5, 0.25), importance_weighted(1.0, 0.0)
    (2.0, 1000000000000.0)
    """
    return loss / max(p, MIN_PROBABILITY)


def sample_index(rng: np.random.Generator, p: np.ndarray) -> int:
    """Draw ``i`` with probability ``p[i]`` by inverting the CDF (one uniform).

    Examples
    --------
    >>> import numpy as np
    >>> sample_index(np.random.default_rng(0), np.array([0.0, 1.0, 0.0]))
    1
    """
    cdf = np.cumsum(p)
    i = int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"))
    i = min(i, len(p) - 1)
    while p[i] <= 0 and i > 0:  # never return a zero-probability arm at the top end
        i -= 1
    return i


def check_n_arms(n_arms: Any) -> int:
    """Validate an arm count (a positive integer)."""
    if isinstance(n_arms, bool) or not isinstance(n_arms, numbers.Integral):
        raise TypeError(f"n_arms must be an integer, got {type(n_arms).__name__}")
    if n_arms < 1:
        raise ValueError(f"n_arms must be >= 1, got {n_arms}")
    return int(n_arms)


def check_context_range(context_range: Any) -> tuple[float, float]:
    """Validate ``(lo, hi)`` with finite ``lo < hi``."""
    try:
        lo, hi = (float(v) for v in context_range)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"context_range must be a pair (lo, hi) of numbers, got {context_range!r}") from exc
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"context_range must satisfy finite lo < hi, got ({lo}, {hi})")
    return lo, hi


class Policy(abc.ABC):
    """Abstract bandit policy over ``n_arms`` arms with losses in ``[0, 1]``.

    Subclasses implement ``_select``, ``_update`` and ``_init_state`` and list
    in ``_state_keys`` the attributes (numpy arrays or numbers, stored as
    ``self._<key>``) that make up their state, or override ``_get_state`` /
    ``_set_state``; the base class validates inputs, counts rounds and
    (de)serialises.

    Parameters
    ----------
    n_arms : int
        Number of arms.
    seed : int or None
        Seed of the policy's own ``numpy.random.default_rng``.

    Attributes
    ----------
    n_arms : int
    seed : int or None
    t : int
        Number of ``update`` calls so far.
    """

    #: registry name (see :data:`itersolve.bandits.POLICIES`)
    name: ClassVar[str] = "policy"
    #: whether ``select``/``update`` require a scalar context
    contextual: ClassVar[bool] = False
    #: whether the constructor takes the arm values (``arms=``)
    uses_arm_values: ClassVar[bool] = False
    #: attribute names (without the leading underscore) saved by state_dict
    _state_keys: ClassVar[tuple[str, ...]] = ()

    def __init__(self, n_arms: int, *, seed: int | None = 0) -> None:
        self.n_arms = check_n_arms(n_arms)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
            raise TypeError(f"seed must be an integer or None, got {type(seed).__name__}")
        self.seed = seed
        self.reset()

    # -- public protocol -------------------------------------------------
    def select(self, context: float | None = None) -> int:
        """Draw the arm to play next.

        Parameters
        ----------
        context : float, optional
            Scalar context of the coming system; required by contextual
            policies, ignored by the others.

        Returns
        -------
        int
            An arm index in ``[0, n_arms)``.
        """
        arm = self._select(self._check_context(context))
        return int(arm)

    def update(self, arm: int, loss: float, context: float | None = None) -> None:
        """Learn from the loss of having played ``arm``.

        Parameters
        ----------
        arm : int
            The arm that was played, in ``[0, n_arms)``.
        loss : float
            Its normalised loss in ``[0, 1]``.
        context : float, optional
            The context it was played in (required by contextual policies).

        Raises
        ------
        ValueError
            For an arm out of range, a loss that is NaN, infinite or outside
            ``[0, 1]``, or a missing/non-finite context where one is required.
        TypeError
            For an arm that is not an integer.
        """
        a = self._check_arm(arm)
        y = self._check_loss(loss)
        c = self._check_context(context)
        self._update(a, y, c)
        self.t += 1

    def reset(self) -> None:
        """Forget all data and restart the random generator from ``seed``."""
        self._rng = np.random.default_rng(self.seed)
        self.t = 0
        self._init_state()

    def state_dict(self) -> dict[str, np.ndarray]:
        """Return the complete state as a dict of numpy arrays.

        Scalars are 0-d arrays. ``{k: v.tolist() for k, v in d.items()}`` is
        JSON-serialisable and the dict can be stored with safetensors; a policy
        constructed with the same arguments resumes exactly after
        :meth:`load_state_dict`.
        """
        d: dict[str, np.ndarray] = {
            "n_arms": np.asarray(self.n_arms, dtype=np.int64),
            "t": np.asarray(self.t, dtype=np.int64),
            "rng_state": rng_to_array(self._rng),
        }
        for key, val in self._get_state().items():
            d[key] = np.array(val, copy=True)
        return d

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a state produced by :meth:`state_dict` (arrays or lists).

        Raises
        ------
        ValueError
            If a key is missing or unexpected, or an entry has the wrong shape
            (for instance a state saved from a policy with other arguments).
        """
        template = self.state_dict()
        missing = sorted(set(template) - set(state))
        extra = sorted(set(state) - set(template))
        if missing or extra:
            raise ValueError(f"state for {type(self).__name__} has missing keys {missing} and unexpected keys {extra}")
        new: dict[str, np.ndarray] = {}
        for key, ref in template.items():
            try:
                arr = np.asarray(state[key], dtype=ref.dtype)
            except (TypeError, ValueError, OverflowError) as exc:
                raise ValueError(f"state[{key!r}] cannot be read as {ref.dtype}: {exc}") from exc
            expected = self._expected_shape(key, ref.shape, state)
            if arr.shape != expected:
                raise ValueError(f"state[{key!r}] has shape {arr.shape}, expected {expected}")
            new[key] = arr
        if int(new["n_arms"]) != self.n_arms:
            raise ValueError(f"state is for {int(new['n_arms'])} arms, this policy has {self.n_arms}")
        self.t = int(new["t"])
        self._rng = rng_from_array(new["rng_state"])
        for key in ("n_arms", "t", "rng_state"):
            del new[key]
        self._set_state(new)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n_arms={self.n_arms}, seed={self.seed}, t={self.t})"

    # -- validation helpers ----------------------------------------------
    def _check_arm(self, arm: Any) -> int:
        if type(arm) is int and 0 <= arm < self.n_arms:  # fast path
            return arm
        if isinstance(arm, bool) or not isinstance(arm, numbers.Integral):
            raise TypeError(f"arm must be an integer, got {type(arm).__name__}")
        if not 0 <= arm < self.n_arms:
            raise ValueError(f"arm must be an integer in [0, {self.n_arms}), got {arm}")
        return int(arm)

    @staticmethod
    def _check_loss(loss: Any) -> float:
        try:
            y = float(loss)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"loss must be a real number, got {loss!r}") from exc
        if not math.isfinite(y):
            raise ValueError(f"loss must be finite, got {y}")
        if not 0.0 <= y <= 1.0:
            raise ValueError(
                f"loss must lie in [0, 1], got {y}; normalise costs first, e.g. with LossNormalizer(cap)"
            )
        return y

    def _check_context(self, context: Any) -> float | None:
        return None  # non-contextual policies ignore the context

    # -- subclass hooks ----------------------------------------------------
    def _expected_shape(self, key: str, template_shape: tuple[int, ...], state: Mapping[str, Any]) -> tuple[int, ...]:
        """Shape ``state[key]`` must have; by default that of this policy's own state.

        Policies whose state grows with the data (e.g. stored observations)
        override this to accept any consistent length.
        """
        return template_shape

    def _get_state(self) -> dict[str, Any]:
        """The learner's own state (arrays or numbers); by default ``_state_keys``."""
        return {key: getattr(self, "_" + key) for key in self._state_keys}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        """Install a validated state (arrays of the template's dtypes and shapes)."""
        for key, val in state.items():
            setattr(self, "_" + key, val.item() if val.ndim == 0 else val.copy())

    @abc.abstractmethod
    def _init_state(self) -> None:
        """Create the empty learner state (called by ``__init__`` and ``reset``)."""

    @abc.abstractmethod
    def _select(self, context: float | None) -> int:
        """Draw an arm; ``context`` is already validated."""

    @abc.abstractmethod
    def _update(self, arm: int, loss: float, context: float | None) -> None:
        """Learn from one validated observation; ``self.t`` is incremented afterwards."""


class ContextualPolicy(Policy):
    """A policy that sees a scalar context in ``context_range`` before each choice.

    Contexts outside ``context_range`` are clipped to it. ``select`` and
    ``update`` raise ``ValueError`` when the context is missing or not finite.
    """

    contextual = True

    def __init__(self, n_arms: int, *, context_range: tuple[float, float], seed: int | None = 0) -> None:
        self.context_range = check_context_range(context_range)
        super().__init__(n_arms, seed=seed)

    def _check_context(self, context: Any) -> float:
        if context is None:
            raise ValueError(f"{type(self).__name__} is contextual: select/update need a context")
        if type(context) is float:  # fast path for the common case
            if not math.isfinite(context):
                raise ValueError(f"context must be finite, got {context}")
            lo, hi = self.context_range
            return min(max(context, lo), hi)
        try:
            arr = np.asarray(context, dtype=float) if not isinstance(context, (str, bytes)) else None
        except (TypeError, ValueError):
            arr = None
        if arr is None or arr.size != 1:
            raise ValueError(f"context must be a real scalar, got {context!r}")
        c = float(arr.reshape(()))
        if not math.isfinite(c):
            raise ValueError(f"context must be finite, got {c}")
        lo, hi = self.context_range
        return min(max(c, lo), hi)

    def rescaled(self, context: float) -> float:
        """Map a (validated, clipped) context onto ``[-1, 1]``."""
        lo, hi = self.context_range
        return min(max(2.0 * (context - lo) / (hi - lo) - 1.0, -1.0), 1.0)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(n_arms={self.n_arms}, context_range={self.context_range}, "
            f"seed={self.seed}, t={self.t})"
        )
