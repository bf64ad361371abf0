"""Online choice of a solver parameter across a sequence of linear systems.

Before each solve of a sequence ``A_t x = b_t`` a *policy* picks an arm, an
index into a grid of parameter values (e.g. ``omegas = np.linspace(1, 1.95,
20)`` for SOR), optionally after seeing a scalar context ``c_t`` (a diagonal
shift, a diffusion coefficient); after the solve it receives the normalised
cost ``loss = min(iterations, cap) / cap`` (:class:`LossNormalizer`).

Policies (:data:`POLICIES`, :func:`make_policy`):

- ``"tsallis-inf"`` :class:`TsallisINF` -- ½-Tsallis-INF, the paper's learner;
- ``"exp3"`` :class:`Exp3`, ``"ucb1"`` :class:`UCB1` -- classic baselines;
- ``"tsallis-inf-cb"`` :class:`TsallisINFCB` -- Tsallis-INF per context bin (paper);
- ``"chebcb"`` :class:`ChebCB` -- SquareCB on Chebyshev regressions (paper);
- ``"gp-thompson"`` :class:`GPThompson` -- Thompson sampling on a GP over the
  ω values, forgetting at a learned rate (ours);
- ``"gp-thompson-cb"`` :class:`ContextualGPThompson` -- Thompson sampling on
  a joint GP over (ω, context) (ours).

All share the protocol of :class:`Policy`: ``select(context=None)``,
``update(arm, loss, context=None)``, ``state_dict()``/``load_state_dict()``,
``reset()``, seeded by ``seed=``.

:class:`OnlineTuner` wraps a policy around the solvers (pick an arm, solve,
turn the cost into a loss, learn; failures cost the maximal loss) for ω
grids of SOR or SSOR-PCG, or any list of :func:`itersolve.solve`
configurations with iteration or wall-time costs; :func:`oracle_costs`
solves a sequence with every arm for the best-fixed and instance-optimal
comparators (``tuner.regret(seq)``).

Examples
--------
>>> import numpy as np
>>> from itersolve.bandits import LossNormalizer, make_policy
>>> omegas = np.linspace(1.0, 1.95, 20)
>>> norm = LossNormalizer(cap=1000)
>>> pol = make_policy("gp-thompson", len(omegas), arms=omegas, seed=0)
>>> for t in range(100):
...     arm = pol.select()
...     iterations = 80 + 400 * (omegas[arm] - 1.8) ** 2   # a stand-in for a solve
...     pol.update(arm, norm(iterations))
>>> state = pol.state_dict()          # numpy arrays only: JSON or safetensors
"""

from .base import ContextualPolicy, Policy
from .chebcb import ChebCB
from .exp3 import Exp3
from .gp_thompson import ContextualGPThompson, GPThompson
from .normalize import LossNormalizer
from .registry import POLICIES, make_policy
from .tsallis import TsallisINF, tsallis_inf_weights
from .tsallis_cb import TsallisINFCB
from .tuner import DEFAULT_OMEGAS, OnlineTuner, OracleCosts, oracle_costs
from .ucb import UCB1

__all__ = [
    "Policy",
    "ContextualPolicy",
    "LossNormalizer",
    "TsallisINF",
    "Exp3",
    "UCB1",
    "TsallisINFCB",
    "ChebCB",
    "GPThompson",
    "ContextualGPThompson",
    "POLICIES",
    "make_policy",
    "tsallis_inf_weights",
    "OnlineTuner",
    "OracleCosts",
    "oracle_costs",
    "DEFAULT_OMEGAS",
]
