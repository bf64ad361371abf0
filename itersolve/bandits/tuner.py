"""Online tuning of a solver parameter across a sequence of linear systems.

:class:`OnlineTuner` wraps a bandit policy (:mod:`itersolve.bandits`) around
the solvers: before each solve it picks an *arm* -- a relaxation factor ω of
SOR or of an SSOR preconditioner for CG, or any configuration of
:func:`itersolve.solve` -- runs the solve, turns its cost into a loss in
``[0, 1]`` and lets the policy learn from it. This is the data flow of
Khodak et al., *Learning to Relax* (ICLR 2024): the only feedback is the cost
of the solve that was actually run.

:func:`oracle_costs` solves every system of a sequence with every arm; from
that cost table come the comparators of the paper -- every fixed arm, the
best fixed arm in hindsight and the instance-optimal arm of each system --
and :meth:`OnlineTuner.regret` measures the tuner against them.

Costs and losses
----------------
``cost="iterations"`` (the paper's)
    cost = iterations of the solve; loss = ``min(cost, maxiter) / maxiter``,
    the normalisation every policy expects (:class:`LossNormalizer`). The
    policies rescale these small numbers themselves (Tsallis-INF divides by
    the running mean loss, ChebCB's weights and the GP policies are
    invariant to the scale), so a generous ``maxiter`` costs nothing.
``cost="time"``
    cost = ``setup_time + solve_time`` of the solve (preconditioner
    construction included), in seconds; loss = ``min(cost, time_cap) /
    time_cap``. Unless ``time_cap`` is given it is fixed at the first
    successful solve as the time that solve would have taken had it run
    ``maxiter`` iterations, ``setup + maxiter * solve_time / max(iterations,
    1)`` (and at least ten times that first solve's cost): the analogue of
    the iteration cap, so a solve that runs to the cap has loss about 1.
    With ``time_model=True`` (the default) the cost is the *denoised* wall
    time ``median(setup times) + iterations × median(times per
    iteration)`` over this arm's solves so far: the iteration count is
    exact, and the medians discard the spikes a busy machine puts into
    single timings, which would otherwise mislead the policy for good.
    ``history["time"]`` keeps the raw timings.

A failed solve -- not converged within ``maxiter``, a breakdown, an
indefinite preconditioner, or an exception raised while building the
preconditioner or iterating (an IC(0) breakdown, say) -- has the maximal
loss 1. The tuner never lets such a failure escape: it returns a
:class:`~itersolve.SolveResult` with ``converged`` False (for an exception
the reason is ``DIVERGED_PC_FAILED`` or ``DIVERGED_BREAKDOWN``, ``x`` is the
initial guess and ``details["error"]`` holds the message, also issued once
as a ``RuntimeWarning``). Invalid arguments (a right-hand side of the wrong
length, a negative ``rtol``) are still raised.

Examples
--------
>>> import numpy as np
>>> from itersolve.bandits import OnlineTuner
>>> from itersolve.pdes import shifted_laplacian_sequence
>>> seq = shifted_laplacian_sequence(T=40, distribution="low", seed=0)
>>> tuner = OnlineTuner("sor", omegas=[1.2, 1.5, 1.8], seed=0)
>>> for s in seq:
...     res = tuner.solve(s.A, s.b)
>>> res.converged, len(tuner.history), tuner.policy.name
(True, 40, 'gp-thompson')
>>> bool(tuner.history["iterations"].sum() == tuner.summary()["total_iterations"])
True
"""

from __future__ import annotations

import math
import numbers
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from .. import sparse
from ..kernels.operator import SparseOperator
from ..solvers.front import METHODS, PRECONDITIONERS, make_preconditioner
from ..solvers.result import Reason, SolveResult
from .base import Policy
from .registry import POLICIES, make_policy

__all__ = ["OnlineTuner", "OracleCosts", "oracle_costs", "DEFAULT_OMEGAS", "omega_configs", "config_label"]

#: The paper's action grid: 20 relaxation factors ``1.00, 1.05, ..., 1.95``.
DEFAULT_OMEGAS: np.ndarray = np.linspace(1.0, 1.95, 20)
DEFAULT_OMEGAS.flags.writeable = False

#: The default policies: ours (see :mod:`itersolve.bandits.gp_thompson`).
DEFAULT_POLICY = "gp-thompson"
DEFAULT_CONTEXTUAL_POLICY = "gp-thompson-cb"

_METHOD_ALIASES = {"sor": "sor", "ssor-pcg": "ssor-pcg", "ssor_pcg": "ssor-pcg", "pcg-ssor": "ssor-pcg"}
_TAKES_M = ("cg", "chebyshev")
_RESERVED = ("x0", "M", "M_options", "method")

CostKind = Literal["iterations", "time"]


# ----------------------------------------------------------------------------- configurations
def omega_configs(method: str, omegas: Iterable[float]) -> list[dict[str, Any]]:
    """The :func:`itersolve.solve` keyword arguments of an ω grid.

    Parameters
    ----------
    method : {"sor", "ssor-pcg"}
        ``"sor"``: SOR with relaxation ω; ``"ssor-pcg"``: CG preconditioned
        by SSOR(ω).
    omegas : iterable of float
        Relaxation factors in ``(0, 2)``.

    Returns
    -------
    list of dict

    Examples
    --------
    >>> omega_configs("sor", [1.0, 1.5])
    [{'method': 'sor', 'omega': 1.0}, {'method': 'sor', 'omega': 1.5}]
    >>> omega_configs("ssor-pcg", [1.5])
    [{'method': 'cg', 'M': 'ssor', 'M_options': {'omega': 1.5}}]
    """
    key = _METHOD_ALIASES.get(str(method).strip().lower())
    if key is None:
        raise ValueError(f"method must be 'sor' or 'ssor-pcg' (or pass configs=), got {method!r}")
    w = np.asarray(list(omegas) if not isinstance(omegas, np.ndarray) else omegas, dtype=float).ravel()
    if w.size == 0:
        raise ValueError("omegas must not be empty")
    if not (np.isfinite(w).all() and (w > 0).all() and (w < 2).all()):
        raise ValueError(f"omegas must lie in (0, 2), got {w.tolist()}")
    if key == "sor":
        return [{"method": "sor", "omega": float(v)} for v in w]
    return [{"method": "cg", "M": "ssor", "M_options": {"omega": float(v)}} for v in w]


def config_label(config: Mapping[str, Any]) -> str:
    """A short readable name of a configuration.

    Examples
    --------
    >>> config_label({"method": "cg", "M": "ssor", "M_options": {"omega": 1.5}})
    'cg+ssor(omega=1.5)'
    >>> config_label({"method": "sor", "omega": 1.25})
    'sor(omega=1.25)'
    >>> config_label({"M": "amg"})
    'cg+amg'
    """
    method = str(config.get("method", "cg"))
    M = config.get("M")
    extra = {k: v for k, v in config.items() if k not in ("method", "M", "M_options")}
    opts = config.get("M_options") or {}

    def fmt(d: Mapping[str, Any]) -> str:
        return ",".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in d.items())

    label = method + (f"({fmt(extra)})" if extra else "")
    if M is not None:
        name = M if isinstance(M, str) else type(M).__name__
        label += f"+{name}" + (f"({fmt(opts)})" if opts else "")
    return label


def _config_omega(config: Mapping[str, Any]) -> float:
    w = config.get("omega")
    if w is None:
        w = (config.get("M_options") or {}).get("omega")
    try:
        return float(w) if w is not None else math.nan
    except (TypeError, ValueError):
        return math.nan


def _check_configs(configs: Any) -> list[dict[str, Any]]:
    if isinstance(configs, Mapping) or not isinstance(configs, Iterable):
        raise TypeError("configs must be a list of dicts of itersolve.solve keyword arguments")
    out = []
    for i, cfg in enumerate(configs):
        if not isinstance(cfg, Mapping):
            raise TypeError(f"configs[{i}] must be a dict, got {type(cfg).__name__}")
        cfg = dict(cfg)
        method = str(cfg.setdefault("method", "cg")).lower()
        cfg["method"] = method
        if method not in METHODS:
            raise ValueError(f"configs[{i}]: unknown method {method!r}; choose one of {sorted(METHODS)}")
        M = cfg.get("M")
        if M is not None and method not in _TAKES_M:
            raise ValueError(f"configs[{i}]: method {method!r} takes no preconditioner M")
        if isinstance(M, str) and M.lower() not in PRECONDITIONERS:
            raise ValueError(f"configs[{i}]: unknown preconditioner {M!r}; choose one of {list(PRECONDITIONERS)}")
        if cfg.get("M_options") and not isinstance(M, str):
            raise ValueError(f"configs[{i}]: M_options is only for a preconditioner given by name")
        if "x0" in cfg:
            raise ValueError(f"configs[{i}]: x0 belongs to the solve, not to a configuration")
        out.append(cfg)
    if not out:
        raise ValueError("configs must not be empty")
    return out


def _failed_result(x0: Any, b: np.ndarray, reason: Reason, elapsed: float, exc: BaseException) -> SolveResult:
    x = np.zeros_like(b) if x0 is None else np.array(x0, dtype=b.dtype, copy=True).reshape(-1)
    return SolveResult(
        x=x,
        reason=reason,
        iterations=0,
        residuals=np.array([math.nan]),
        setup_time=elapsed,
        solve_time=0.0,
        residual_norm=math.nan,
        target=math.nan,
        details={"error": f"{type(exc).__name__}: {exc}"},
    )


def run_config(A: Any, b: Any, x0: Any, config: Mapping[str, Any], options: Mapping[str, Any]) -> SolveResult:
    """Solve ``A x = b`` with one configuration; exceptions become failed results.

    Like :func:`itersolve.solve` (a preconditioner given by name is built
    here and its construction counted in ``setup_time``), except that an
    exception raised while building the preconditioner or iterating is
    returned as a non-converged :class:`~itersolve.SolveResult`
    (``DIVERGED_PC_FAILED`` / ``DIVERGED_BREAKDOWN``, ``x`` = the initial
    guess, the message in ``details["error"]``). ``A`` may be a
    :class:`~itersolve.kernels.operator.SparseOperator`, reused as it is.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.array([[1.0, 2.0], [2.0, 1.0]])          # indefinite: IC(0) breaks down
    >>> res = run_config(A, np.ones(2), None, {"method": "cg", "M": "ic0"}, {})
    >>> res.converged, res.reason.name
    (False, 'DIVERGED_PC_FAILED')
    """
    method = config.get("method", "cg")
    M = config.get("M")
    kwargs = {k: v for k, v in config.items() if k not in ("method", "M", "M_options")}
    kwargs.update(options)
    t0 = time.perf_counter()
    bvec = np.asarray(b)
    try:
        if isinstance(M, str):
            csr = A.csr if isinstance(A, SparseOperator) else sparse.as_csr(A)
            if not isinstance(A, SparseOperator):
                A = csr
            M = make_preconditioner(M, csr, **(config.get("M_options") or {}))
    except Exception as exc:  # noqa: BLE001 - any failure of the configuration is a failed solve
        return _failed_result(x0, bvec.astype(float), Reason.DIVERGED_PC_FAILED, time.perf_counter() - t0, exc)
    build = time.perf_counter() - t0
    if M is not None:
        kwargs["M"] = M
    try:
        res = METHODS[method](A, b, x0, **kwargs)
    except Exception as exc:  # noqa: BLE001
        return _failed_result(x0, bvec.astype(float), Reason.DIVERGED_BREAKDOWN, time.perf_counter() - t0, exc)
    res.setup_time += build
    return res


# ----------------------------------------------------------------------------- history
_HISTORY_DTYPE = np.dtype(
    [
        ("step", np.int64),
        ("arm", np.int64),
        ("omega", np.float64),
        ("context", np.float64),
        ("cost", np.float64),
        ("loss", np.float64),
        ("iterations", np.int64),
        ("time", np.float64),
        ("setup_time", np.float64),
        ("solve_time", np.float64),
        ("wall_time", np.float64),
        ("converged", np.bool_),
        ("reason", np.int64),
        ("overhead", np.float64),
        ("tuner_time", np.float64),
    ]
)


class OnlineTuner:
    """Pick a solver parameter for each system of a sequence with a bandit.

    Parameters
    ----------
    method : {"sor", "ssor-pcg"}
        What ω parametrises: SOR (:func:`itersolve.sor`) or CG with an SSOR
        preconditioner (``itersolve.solve(..., method="cg", M="ssor")``).
        Ignored when ``configs`` is given.
    omegas : array_like
        The ω grid (default the paper's ``linspace(1, 1.95, 20)``).
    policy : str, Policy or None
        ``None``: the package's default, decided at the first :meth:`solve`:
        ``"gp-thompson-cb"`` when that solve has a context,
        ``"gp-thompson"`` otherwise. A name of :data:`~itersolve.bandits.POLICIES`,
        or a policy instance with one arm per configuration.
    seed : int or None
        Seed of the policy built here.
    cost : {"iterations", "time"}
        What a solve costs; see the module docstring for the losses.
    configs : list of dict, optional
        A general discrete configuration space instead of an ω grid: each
        entry holds keyword arguments of :func:`itersolve.solve` (``method``,
        default ``"cg"``; ``M`` a preconditioner name or object;
        ``M_options``; solver options such as ``omega``), e.g.
        ``[{"M": "jacobi"}, {"M": "ssor", "M_options": {"omega": 1.5}},
        {"M": "ic0"}, {"M": "amg"}]``.
    context_range : (float, float), optional
        Range of the contexts, required by contextual policies (e.g.
        ``seq.context_range`` of a sequence from :mod:`itersolve.pdes`).
    arm_values : array_like, optional
        Numbers that place the arms for the policies that use arm values
        (the GP policies): by default the ω of each configuration when every
        configuration has one, else ``0, 1, ..., K-1``.
    rtol, atol, maxiter : float, float, int
        Stopping rule of every solve (override per solve through
        ``solver_options``); ``maxiter`` is also the iteration cap of the loss.
    time_cap : float, optional
        Seconds that map to loss 1 when ``cost="time"``; by default set at the
        first successful solve (module docstring).
    time_model : bool
        With ``cost="time"``, learn from the denoised time (median setup +
        iterations × median time per iteration of the arm) rather than from
        the raw timing of each solve.
    policy_options : dict, optional
        Extra keyword arguments of the policy constructor.

    Attributes
    ----------
    configs : list of dict
        The arms, as :func:`itersolve.solve` keyword arguments.
    labels : list of str
        Their names.
    omegas : numpy.ndarray
        The ω of each arm (NaN for configurations without one).
    policy : Policy or None
        The policy (``None`` until the first solve when it is chosen lazily).

    Examples
    --------
    A heat simulation, closed loop, with the diffusivity as context:

    >>> from itersolve.bandits import OnlineTuner
    >>> from itersolve.pdes import heat_sequence
    >>> seq = heat_sequence(nx=12, T=30)
    >>> tuner = OnlineTuner("ssor-pcg", context_range=seq.context_range, seed=1)
    >>> sim = seq.simulate()
    >>> for s in sim:
    ...     res = tuner.solve(s.A, s.b, x0=s.x0, context=s.context)
    ...     _ = sim.advance(res.x)
    >>> tuner.policy.name, tuner.summary()["failures"]
    ('gp-thompson-cb', 0)

    Choosing among preconditioners by wall time:

    >>> from itersolve.pdes import poisson
    >>> import numpy as np
    >>> A = poisson((20, 20)); b = np.ones(400)
    >>> tuner = OnlineTuner(configs=[{"M": "jacobi"}, {"M": "ic0"}, {"M": "amg"}], cost="time", seed=0)
    >>> for _ in range(5):
    ...     res = tuner.solve(A, b)
    >>> tuner.labels
    ['cg+jacobi', 'cg+ic0', 'cg+amg']
    """

    def __init__(
        self,
        method: str = "sor",
        omegas: Any = None,
        policy: str | Policy | None = None,
        *,
        seed: int | None = 0,
        cost: CostKind = "iterations",
        configs: Sequence[Mapping[str, Any]] | None = None,
        context_range: tuple[float, float] | None = None,
        arm_values: Any = None,
        rtol: float = 1e-8,
        atol: float = 0.0,
        maxiter: int = 10_000,
        time_cap: float | None = None,
        time_model: bool = True,
        policy_options: Mapping[str, Any] | None = None,
    ) -> None:
        if configs is not None:
            if omegas is not None:
                raise ValueError("give either omegas (with method) or configs, not both")
            self.method = "configs"
            self.configs = _check_configs(configs)
        else:
            self.method = _METHOD_ALIASES.get(str(method).strip().lower(), str(method))
            self.configs = omega_configs(method, DEFAULT_OMEGAS if omegas is None else omegas)
        self.labels = [config_label(c) for c in self.configs]
        self._reserved = frozenset(_RESERVED) | {k for c in self.configs for k in c}
        self.omegas = np.array([_config_omega(c) for c in self.configs])
        K = len(self.configs)
        if arm_values is None:
            self.arm_values = self.omegas.copy() if np.isfinite(self.omegas).all() else np.arange(K, dtype=float)
        else:
            av = np.asarray(arm_values, dtype=float).ravel()
            if av.size != K or not np.isfinite(av).all():
                raise ValueError(f"arm_values must hold {K} finite numbers, got {arm_values!r}")
            self.arm_values = av
        if cost not in ("iterations", "time"):
            raise ValueError(f"cost must be 'iterations' or 'time', got {cost!r}")
        self.cost = cost
        self.rtol, self.atol, self.maxiter = sparse.check_tolerances(rtol, atol, maxiter, 10_000)
        if self.maxiter < 1:
            raise ValueError("maxiter must be >= 1")
        if time_cap is not None and not (isinstance(time_cap, numbers.Real) and math.isfinite(time_cap) and time_cap > 0):
            raise ValueError(f"time_cap must be a positive number of seconds, got {time_cap!r}")
        self.time_cap = None if time_cap is None else float(time_cap)
        self.time_model = bool(time_model)
        self._setups: list[list[float]] = [[] for _ in self.configs]  # per arm, for the time model
        self._per_iter: list[list[float]] = [[] for _ in self.configs]
        self.context_range = None if context_range is None else (float(context_range[0]), float(context_range[1]))
        if self.context_range is not None and not self.context_range[0] < self.context_range[1]:
            raise ValueError(f"context_range must satisfy lo < hi, got {context_range!r}")
        self.seed = seed
        self.policy_options = dict(policy_options or {})
        self._policy_spec = policy
        self.policy: Policy | None = None
        if isinstance(policy, Policy):
            self._install(policy)
        elif policy is not None:
            if not isinstance(policy, str):
                raise TypeError(f"policy must be None, a name or a Policy, got {type(policy).__name__}")
            key = policy.strip().lower().replace("_", "-")
            if key not in POLICIES:
                raise ValueError(f"unknown policy {policy!r}; choose from {sorted(POLICIES)}")
            if not POLICIES[key].contextual:
                self._install(self._build(key))
            # a contextual policy by name is built here when the range is known, else at the first solve
            elif self.context_range is not None:
                self._install(self._build(key))
        self._rows: list[tuple] = []
        self._history_cache: np.ndarray | None = None
        self._warned: set[str] = set()

    # -- policy ----------------------------------------------------------------
    @property
    def n_arms(self) -> int:
        """Number of arms (configurations)."""
        return len(self.configs)

    def _build(self, name: str) -> Policy:
        cls = POLICIES[name]
        if cls.contextual and self.context_range is None:
            raise ValueError(
                f"policy {name!r} is contextual: give OnlineTuner(context_range=(lo, hi)), "
                "e.g. seq.context_range of a sequence from itersolve.pdes"
            )
        return make_policy(
            name, self.n_arms, arms=self.arm_values, context_range=self.context_range, seed=self.seed, **self.policy_options
        )

    def _install(self, policy: Policy) -> None:
        if policy.n_arms != self.n_arms:
            raise ValueError(f"the policy has {policy.n_arms} arms but there are {self.n_arms} configurations")
        self.policy = policy
        self._contextual = bool(policy.contextual)

    def _ensure_policy(self, context: Any) -> Policy:
        if self.policy is None:
            spec = self._policy_spec
            if spec is None:
                spec = DEFAULT_CONTEXTUAL_POLICY if context is not None else DEFAULT_POLICY
            self._install(self._build(str(spec).strip().lower().replace("_", "-")))
        assert self.policy is not None
        return self.policy

    # -- solving -----------------------------------------------------------------
    def loss_of(self, result: SolveResult, maxiter: int | None = None, arm: int | None = None) -> tuple[float, float]:
        """The ``(cost, loss)`` of a solve under this tuner's cost.

        Parameters
        ----------
        result : SolveResult
        maxiter : int, optional
            The iteration cap the solve ran under (default ``self.maxiter``).
        arm : int, optional
            The arm that ran it; with ``cost="time"`` and ``time_model`` its
            timings join the arm's medians (module docstring).

        Examples
        --------
        >>> import numpy as np, itersolve
        >>> t = OnlineTuner("sor", omegas=[1.5], maxiter=200)
        >>> res = itersolve.sor(np.eye(2) * 2, np.ones(2), rtol=1e-8)
        >>> t.loss_of(res)
        (1.0, 0.005)
        """
        cap = self.maxiter if maxiter is None else int(maxiter)
        if self.cost == "iterations":
            cost = float(result.iterations)
            loss = 1.0 if not result.converged else min(cost, cap) / cap
            return cost, loss
        cost = float(result.total_time)
        if self.time_model and arm is not None and result.converged:
            setups, per_iter = self._setups[arm], self._per_iter[arm]
            setups.append(float(result.setup_time))
            if result.iterations > 0:
                per_iter.append(float(result.solve_time) / result.iterations)
            cost = float(np.median(setups)) + result.iterations * (float(np.median(per_iter)) if per_iter else 0.0)
        if self.time_cap is None and result.converged:
            per_iter = result.solve_time / max(result.iterations, 1)
            self.time_cap = max(result.setup_time + cap * per_iter, 10.0 * cost, 1e-6)
        if not result.converged or self.time_cap is None:
            return cost, 1.0
        return cost, min(cost, self.time_cap) / self.time_cap

    def solve(self, A: Any, b: Any, x0: Any = None, *, context: float | None = None, **solver_options: Any) -> SolveResult:
        """Pick an arm, solve ``A x = b`` with it, learn from the cost.

        Parameters
        ----------
        A : sparse matrix, ndarray, LinearOperator or SparseOperator
            The matrix of this system.
        b : array_like
            Right-hand side.
        x0 : array_like, optional
            Initial guess (warm start).
        context : float, optional
            A scalar describing the system (a shift, a diffusion coefficient)
            for contextual policies; ``None`` for non-contextual ones.
        **solver_options
            Passed to the solver (``rtol``, ``atol``, ``maxiter``,
            ``callback`` ...), overriding the tuner's defaults; the keys of
            the configurations themselves (``omega``, ``M``) are not allowed.

        Returns
        -------
        SolveResult
            The solver's result (``converged`` False for a failed solve,
            which the policy sees as loss 1). ``details`` gains ``"arm"``
            and ``"config"``.

        Raises
        ------
        ValueError, TypeError
            For a bad right-hand side, initial guess or option, or a context
            missing where the policy needs one.
        """
        t_start = time.perf_counter()
        n = A.shape[0] if hasattr(A, "shape") else None
        if n is None:
            raise TypeError(f"A must be a matrix or operator with a shape, got {type(A).__name__}")
        sparse.as_vector(b, n, name="b", copy=False)
        if x0 is not None:
            sparse.as_vector(x0, n, name="x0", copy=False)
        opts = {"rtol": self.rtol, "atol": self.atol, "maxiter": self.maxiter}
        maxiter = self.maxiter
        if solver_options:
            bad = sorted(set(solver_options) & self._reserved)
            if bad:
                raise ValueError(f"solver_options may not set {bad}: they belong to the tuned configurations")
            opts.update(solver_options)
            rtol, atol, maxiter = sparse.check_tolerances(opts["rtol"], opts["atol"], opts["maxiter"], self.maxiter)
            opts.update(rtol=rtol, atol=atol, maxiter=maxiter)

        policy = self._ensure_policy(context)
        ctx = context if self._contextual else None
        if ctx is not None and type(ctx) is not float and isinstance(ctx, numbers.Real):
            ctx = float(ctx)  # the policies' fast path takes plain floats
        t0 = time.perf_counter()
        arm = policy.select(ctx)
        t_select = time.perf_counter() - t0

        t_solve0 = time.perf_counter()
        result = run_config(A, b, x0, self.configs[arm], opts)
        t_solve = time.perf_counter() - t_solve0
        err = result.details.get("error")
        if err is not None and err not in self._warned:
            self._warned.add(err)
            warnings.warn(f"configuration {self.labels[arm]!r} failed ({err}); counted as loss 1", RuntimeWarning, stacklevel=2)

        cost, loss = self.loss_of(result, maxiter, arm)
        t0 = time.perf_counter()
        policy.update(arm, loss, ctx)
        overhead = t_select + time.perf_counter() - t0
        result.details["arm"] = arm
        result.details["config"] = self.labels[arm]
        c = math.nan if context is None else float(np.asarray(context, dtype=float).reshape(()))
        tuner_time = time.perf_counter() - t_start - t_solve
        self._rows.append(
            (
                len(self._rows), arm, self.omegas[arm], c, cost, loss, result.iterations, result.total_time,
                result.setup_time, result.solve_time, t_solve, result.converged, int(result.reason), overhead, tuner_time,
            )
        )
        self._history_cache = None
        return result

    # -- reports -----------------------------------------------------------------
    @property
    def history(self) -> np.ndarray:
        """One record per solve, as a numpy structured array.

        Fields: ``step``, ``arm``, ``omega`` (NaN for configurations without
        one), ``context`` (NaN if none), ``cost`` (iterations or seconds, as
        the loss saw it), ``loss``, ``iterations``, ``time`` (setup + solve,
        seconds, as the solver measured them), ``setup_time``, ``solve_time``,
        ``wall_time`` (the solver call's wall time, seconds), ``converged``, ``reason``
        (the :class:`~itersolve.Reason` value), ``overhead`` (seconds in the
        policy's ``select`` + ``update``) and ``tuner_time`` (all the time
        :meth:`solve` spent outside the solver: overhead, checks, records).
        """
        if self._history_cache is None:
            self._history_cache = np.array(self._rows, dtype=_HISTORY_DTYPE)
        return self._history_cache

    def summary(self) -> dict[str, Any]:
        """Totals and the learned choice so far.

        Returns
        -------
        dict
            ``solves``, ``policy``, ``cost``, ``total_cost``,
            ``total_iterations``, ``total_time`` (solver seconds, setup +
            solve), ``wall_time`` (wall seconds of the solver calls),
            ``overhead_time`` and ``overhead_fraction`` (seconds in the
            policy's select + update, over ``wall_time``), ``tuner_time``
            (all seconds spent in :meth:`solve` outside the solver),
            ``failures``, ``arm_counts``,
            ``most_played`` (label) and ``recent_choice`` (the most played
            label over the last 10 % of solves).

        Examples
        --------
        >>> OnlineTuner("sor").summary()["solves"]
        0
        """
        h = self.history
        out: dict[str, Any] = {
            "solves": int(h.size),
            "policy": None if self.policy is None else self.policy.name,
            "cost": self.cost,
            "arms": list(self.labels),
        }
        if h.size == 0:
            return out
        counts = np.bincount(h["arm"], minlength=self.n_arms)
        tail = h["arm"][-max(1, h.size // 10) :]
        wall = float(h["wall_time"].sum())
        out.update(
            total_cost=float(h["cost"].sum()),
            total_iterations=int(h["iterations"].sum()),
            total_time=float(h["time"].sum()),
            wall_time=wall,
            overhead_time=float(h["overhead"].sum()),
            overhead_fraction=float(h["overhead"].sum() / wall) if wall > 0 else math.nan,
            tuner_time=float(h["tuner_time"].sum()),
            failures=int((~h["converged"]).sum()),
            arm_counts=counts.tolist(),
            most_played=self.labels[int(counts.argmax())],
            recent_choice=self.labels[int(np.bincount(tail, minlength=self.n_arms).argmax())],
        )
        return out

    def oracle(self, sequence: Iterable[Any], **kwargs: Any) -> "OracleCosts":
        """:func:`oracle_costs` of ``sequence`` with this tuner's arms, cost and stopping rule."""
        opts = {"rtol": self.rtol, "atol": self.atol, "maxiter": self.maxiter}
        opts.update(kwargs)
        return oracle_costs(sequence, self.configs, cost=self.cost, **opts)

    def regret(self, sequence_or_oracle: Any, *, start: int = 0) -> dict[str, Any]:
        """Compare the tuner's costs with the oracles of the sequence it solved.

        Parameters
        ----------
        sequence_or_oracle : sequence of systems or OracleCosts
            The systems the tuner solved, in order (their oracle table is
            computed here by solving each with every arm), or a precomputed
            :class:`OracleCosts`.
        start : int
            Index in :attr:`history` of the tuner's first solve of this
            sequence.

        Returns
        -------
        dict
            ``total`` (the tuner's cost), ``best_fixed`` / ``best_fixed_arm``
            / ``best_fixed_label`` / ``best_fixed_total``, ``instance_optimal_total``,
            ``regret_best_fixed``, ``regret_instance_optimal``, the ratios
            ``ratio_best_fixed`` and ``ratio_instance_optimal``, and per-step
            cumulative arrays ``cumulative`` (tuner), ``cumulative_best_fixed``
            and ``cumulative_instance_optimal``.

        Notes
        -----
        For sequences whose systems depend on earlier solutions (a warm-started
        time-stepping run) the oracle replays the reference trajectory
        (``seq[k]``), so the comparison holds up to the small differences
        between the tuner's own trajectory and the reference one.

        Examples
        --------
        >>> from itersolve.pdes import shifted_laplacian_sequence
        >>> seq = shifted_laplacian_sequence(T=20, seed=0)
        >>> tuner = OnlineTuner("sor", omegas=[1.3, 1.6], seed=0)
        >>> for s in seq:
        ...     _ = tuner.solve(s.A, s.b)
        >>> r = tuner.regret(seq)
        >>> r["instance_optimal_total"] <= r["best_fixed_total"] <= r["total"] + 1e-9 or r["regret_best_fixed"] < 0
        True
        """
        oracle = sequence_or_oracle if isinstance(sequence_or_oracle, OracleCosts) else self.oracle(sequence_or_oracle)
        T = oracle.T
        h = self.history[start : start + T]
        if h.size != T:
            raise ValueError(f"the oracle covers {T} systems but the history from {start} holds {h.size} solves")
        if oracle.n_arms != self.n_arms:
            raise ValueError(f"the oracle has {oracle.n_arms} arms, the tuner {self.n_arms}")
        costs = oracle.costs
        ours = h["cost"].astype(float)
        if self.cost == "iterations":  # a failed solve is charged the cap, as in the oracle
            ours = np.where(h["converged"], ours, float(self.maxiter))
        best = oracle.best_fixed
        cum_best = np.cumsum(costs[:, best])
        cum_inst = np.cumsum(costs.min(axis=1))
        total = float(ours.sum())
        return {
            "total": total,
            "best_fixed_arm": best,
            "best_fixed_label": oracle.labels[best],
            "best_fixed_total": float(cum_best[-1]),
            "instance_optimal_total": float(cum_inst[-1]),
            "regret_best_fixed": total - float(cum_best[-1]),
            "regret_instance_optimal": total - float(cum_inst[-1]),
            "ratio_best_fixed": total / float(cum_best[-1]) if cum_best[-1] > 0 else math.nan,
            "ratio_instance_optimal": total / float(cum_inst[-1]) if cum_inst[-1] > 0 else math.nan,
            "cumulative": np.cumsum(ours),
            "cumulative_best_fixed": cum_best,
            "cumulative_instance_optimal": cum_inst,
        }

    # -- state -------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """The policy's state (keys ``policy.*``) and the tuner's own (``tuner.*``).

        Numpy arrays only, like :meth:`Policy.state_dict`; the history is not
        included. Before the first solve of a lazily chosen policy the state
        holds the tuner's part only.

        Examples
        --------
        >>> import numpy as np
        >>> from itersolve.pdes import poisson
        >>> A = poisson((8, 8)); b = np.ones(64)
        >>> t1 = OnlineTuner("sor", omegas=[1.2, 1.5, 1.8], seed=3)
        >>> _ = t1.solve(A, b)
        >>> t2 = OnlineTuner("sor", omegas=[1.2, 1.5, 1.8], seed=99)
        >>> t2.load_state_dict(t1.state_dict())
        >>> t1.solve(A, b).details["arm"] == t2.solve(A, b).details["arm"]
        True
        """
        d: dict[str, np.ndarray] = {
            "tuner.n_arms": np.asarray(self.n_arms, dtype=np.int64),
            "tuner.contextual": np.asarray(-1 if self.policy is None else int(self._contextual), dtype=np.int64),
            "tuner.time_cap": np.asarray(math.nan if self.time_cap is None else self.time_cap, dtype=np.float64),
        }
        if self.policy is not None:
            for k, v in self.policy.state_dict().items():
                d["policy." + k] = v
        return d

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a :meth:`state_dict`; a lazily chosen policy is built first if needed."""
        n = int(np.asarray(state["tuner.n_arms"]))
        if n != self.n_arms:
            raise ValueError(f"state is for {n} arms, this tuner has {self.n_arms}")
        cap = float(np.asarray(state["tuner.time_cap"]))
        self.time_cap = None if math.isnan(cap) else cap
        contextual = int(np.asarray(state["tuner.contextual"]))
        pol_state = {k[len("policy.") :]: v for k, v in state.items() if k.startswith("policy.")}
        if contextual < 0 or not pol_state:
            return
        if self.policy is None:
            self._ensure_policy(0.0 if contextual else None)
        assert self.policy is not None
        self.policy.load_state_dict(pol_state)


# ----------------------------------------------------------------------------- oracles
@dataclass
class OracleCosts:
    """Every arm's cost on every system of a sequence (see :func:`oracle_costs`).

    Attributes
    ----------
    iterations : numpy.ndarray, shape (T, K)
        Iterations of each solve.
    times : numpy.ndarray, shape (T, K)
        ``setup_time + solve_time`` of each solve, seconds.
    converged : numpy.ndarray of bool, shape (T, K)
    contexts : numpy.ndarray, shape (T,)
        The systems' contexts (NaN where none).
    labels : list of str
        The arms' names.
    omegas : numpy.ndarray, shape (K,)
        The arms' ω (NaN where none).
    cost : {"iterations", "time"}
        Which table :attr:`costs` is.
    maxiter : int
        The iteration cap (the cost charged for a failed solve in iterations).
    """

    iterations: np.ndarray
    times: np.ndarray
    converged: np.ndarray
    contexts: np.ndarray
    labels: list[str]
    omegas: np.ndarray
    cost: str = "iterations"
    maxiter: int = 10_000

    @property
    def T(self) -> int:
        """Number of systems."""
        return int(self.iterations.shape[0])

    @property
    def n_arms(self) -> int:
        """Number of arms."""
        return int(self.iterations.shape[1])

    @property
    def costs(self) -> np.ndarray:
        """The (T, K) cost table: iterations (a failed solve costs ``maxiter``,
        the paper's convention) or seconds (a failed solve costs ``inf``: it
        gave no solution)."""
        if self.cost == "iterations":
            return np.where(self.converged, self.iterations, self.maxiter).astype(float)
        return np.where(self.converged, self.times, np.inf)

    @property
    def fixed_totals(self) -> np.ndarray:
        """Total cost of playing each arm on every system."""
        return self.costs.sum(axis=0)

    @property
    def best_fixed(self) -> int:
        """The best fixed arm in hindsight (ties: the lowest index)."""
        return int(np.argmin(self.fixed_totals))

    @property
    def best_fixed_total(self) -> float:
        """Total cost of the best fixed arm."""
        return float(self.fixed_totals.min())

    @property
    def instance_optimal_arms(self) -> np.ndarray:
        """The cheapest arm of each system (argmin over the arms; ties: the lowest index)."""
        return self.costs.argmin(axis=1)

    @property
    def instance_optimal_total(self) -> float:
        """Total cost of the instance-optimal choice."""
        return float(self.costs.min(axis=1).sum())

    def total(self, arms: Any) -> float:
        """Total cost of playing ``arms[t]`` on system ``t``.

        Examples
        --------
        >>> import numpy as np
        >>> o = OracleCosts(np.array([[3, 1], [2, 5]]), np.zeros((2, 2)), np.ones((2, 2), bool),
        ...                 np.full(2, np.nan), ["a", "b"], np.full(2, np.nan))
        >>> o.total([1, 0]), o.best_fixed, o.instance_optimal_total
        (3.0, 0, 3.0)
        """
        a = np.asarray(arms, dtype=np.int64)
        return float(self.costs[np.arange(self.T), a].sum())

    def to_dict(self) -> dict[str, Any]:
        """The tables and summary numbers as plain lists (for JSON)."""
        return {
            "labels": self.labels,
            "omegas": self.omegas.tolist(),
            "cost": self.cost,
            "maxiter": self.maxiter,
            "fixed_totals": self.fixed_totals.tolist(),
            "best_fixed": self.best_fixed,
            "best_fixed_total": self.best_fixed_total,
            "instance_optimal_total": self.instance_optimal_total,
            "failures": int((~self.converged).sum()),
        }


def oracle_costs(
    sequence: Iterable[Any],
    configs: Sequence[Mapping[str, Any]] | None = None,
    *,
    method: str = "sor",
    omegas: Any = None,
    cost: CostKind = "iterations",
    rtol: float = 1e-8,
    atol: float = 0.0,
    maxiter: int = 10_000,
    warm_start: bool = True,
    progress: Any = None,
) -> OracleCosts:
    """Solve every system of a sequence with every arm: the comparators' cost table.

    The best fixed arm in hindsight is the argmin of the column sums, the
    instance-optimal choice the argmin of each row (over the arms: the
    grid's instance optimum, not a continuous search).

    Parameters
    ----------
    sequence : iterable of LinearSystem
        Objects with ``A``, ``b`` and optionally ``x0`` and ``context``, e.g.
        a sequence from :mod:`itersolve.pdes`. A heat sequence replays its
        reference trajectory (``seq[k]``: ``x0`` is the exact previous
        state), so every arm sees the same systems.
    configs : list of dict, optional
        The arms as :func:`itersolve.solve` keyword arguments; default the
        ω grid of ``method``/``omegas`` (see :class:`OnlineTuner`).
    method, omegas
        As in :class:`OnlineTuner`.
    cost : {"iterations", "time"}
        Which table :attr:`OracleCosts.costs` returns (both are recorded).
    rtol, atol, maxiter
        The stopping rule.
    warm_start : bool
        Start from the system's ``x0`` when it has one (else from zero).
    progress : callable, optional
        Called as ``progress(t)`` after each system.

    Returns
    -------
    OracleCosts

    Examples
    --------
    >>> from itersolve.pdes import shifted_laplacian_sequence
    >>> import itersolve
    >>> seq = shifted_laplacian_sequence(T=5, seed=0)
    >>> oc = oracle_costs(seq, method="sor", omegas=[1.0, 1.5, 1.8])
    >>> oc.iterations.shape, oc.labels[1]
    ((5, 3), 'sor(omega=1.5)')
    >>> brute = itersolve.sor(seq[2].A, seq[2].b, omega=1.8, rtol=1e-8, atol=0.0, maxiter=10_000)
    >>> int(oc.iterations[2, 2]) == brute.iterations
    True
    """
    cfgs = _check_configs(configs) if configs is not None else omega_configs(method, DEFAULT_OMEGAS if omegas is None else omegas)
    if cost not in ("iterations", "time"):
        raise ValueError(f"cost must be 'iterations' or 'time', got {cost!r}")
    rtol, atol, maxiter = sparse.check_tolerances(rtol, atol, maxiter, maxiter)
    opts = {"rtol": rtol, "atol": atol, "maxiter": maxiter}
    its: list[list[int]] = []
    tms: list[list[float]] = []
    conv: list[list[bool]] = []
    ctx: list[float] = []
    for t, s in enumerate(sequence):
        A = sparse.as_csr(s.A)
        # one fast layout per system shared by the arms; timed runs build their own, as the tuner's do
        op = SparseOperator(A) if cost == "iterations" else A
        x0 = getattr(s, "x0", None) if warm_start else None
        c = getattr(s, "context", None)
        ctx.append(math.nan if c is None else float(c))
        row_i, row_t, row_c = [], [], []
        for cfg in cfgs:
            res = run_config(op, s.b, x0, cfg, opts)
            row_i.append(res.iterations)
            row_t.append(res.total_time)
            row_c.append(res.converged)
        its.append(row_i)
        tms.append(row_t)
        conv.append(row_c)
        if progress is not None:
            progress(t)
    return OracleCosts(
        iterations=np.array(its, dtype=np.int64).reshape(-1, len(cfgs)),
        times=np.array(tms, dtype=float).reshape(-1, len(cfgs)),
        converged=np.array(conv, dtype=bool).reshape(-1, len(cfgs)),
        contexts=np.array(ctx, dtype=float),
        labels=[config_label(c) for c in cfgs],
        omegas=np.array([_config_omega(c) for c in cfgs]),
        cost=cost,
        maxiter=maxiter,
    )
