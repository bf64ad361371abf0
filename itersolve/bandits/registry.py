"""Policies by name: the :data:`POLICIES` registry and :func:`make_policy`.

Examples
--------
>>> import numpy as np
>>> from itersolve.bandits import POLICIES, make_policy
>>> sorted(POLICIES)
['chebcb', 'exp3', 'gp-thompson', 'gp-thompson-cb', 'tsallis-inf', 'tsallis-inf-cb', 'ucb1']
>>> omegas = np.linspace(1.0, 1.95, 20)
>>> pol = make_policy("chebcb", 20, arms=omegas, context_range=(-0.15, 0.45), seed=3)
>>> type(pol).__name__, pol.contextual
('ChebCB', True)
>>> make_policy("tsallis-inf", 20, arms=omegas, context_range=(0, 1)).contextual
False
"""

from __future__ import annotations

from typing import Any

from .base import Policy, check_n_arms
from .chebcb import ChebCB
from .exp3 import Exp3
from .gp_thompson import ContextualGPThompson, GPThompson
from .tsallis import TsallisINF
from .tsallis_cb import TsallisINFCB
from .ucb import UCB1

__all__ = ["POLICIES", "make_policy"]

#: name -> policy class; contextual ones have ``cls.contextual == True``.
POLICIES: dict[str, type[Policy]] = {
    cls.name: cls for cls in (TsallisINF, Exp3, UCB1, TsallisINFCB, ChebCB, GPThompson, ContextualGPThompson)
}


def make_policy(name: str, n_arms: int, **kwargs: Any) -> Policy:
    """Build a policy from its registry name.

    Parameters
    ----------
    name : str
        A key of :data:`POLICIES` (case-insensitive; ``_`` may stand for ``-``).
    n_arms : int
        Number of arms.
    **kwargs
        Passed to the constructor. The problem-description keywords ``arms``
        (the arm values, e.g. the ω grid) and ``context_range`` are passed only
        to the policies that use them, so a caller can give every policy the
        same description; ``arms`` must have ``n_arms`` entries.

    Returns
    -------
    Policy

    Raises
    ------
    ValueError
        For an unknown name or an ``arms`` of the wrong length.
    """
    key = str(name).strip().lower().replace("_", "-")
    if key not in POLICIES:
        raise ValueError(f"unknown policy {name!r}; choose from {sorted(POLICIES)}")
    cls = POLICIES[key]
    n = check_n_arms(n_arms)
    arms = kwargs.pop("arms", None)
    if arms is not None:
        if len(arms) != n:
            raise ValueError(f"arms has {len(arms)} values but n_arms={n}")
        if cls.uses_arm_values:
            kwargs["arms"] = arms
    if not cls.contextual:
        kwargs.pop("context_range", None)
    return cls(n, **kwargs)
