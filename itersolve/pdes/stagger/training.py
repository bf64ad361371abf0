"""Physics-constrained training of :class:`~.models.StaggerModel` on a self-rolled pool of environments.

No simulation data (Wandel et al., ICLR 2021): a pool of random channels
(:func:`~itersolve.pdes.fluids.navier_stokes.random_environment`: cylinders,
boxes and balls, inflow speeds) starts from the Poiseuille initial state; each
step draws a batch, the model predicts the next ``st`` states, the loss is the
*unchanged fine-grid* physics loss summed over consecutive pairs of the window
(``state_0 -> state_1 -> ... -> state_st``), and the predicted last states go
back into the pool. Every ``reset_every`` steps one environment is replaced by
a fresh random one, so the pool holds every stage of the flow, from the start
to developed shedding. The decomposed models (``s > 1``) are trained jointly
through the same loss: one optimiser, gradients through depth-to-space.

Three options aim at vortex shedding, which the reference develops only slowly
(a growing wake instability) and which a model with a slightly too
dissipative step never reaches on its own rollouts:

* ``perturb`` (default 0: off): every fresh environment starts with a smooth
  random perturbation of the stream function (:func:`perturbation`, velocity
  amplitude ``perturb * speed``, divergence-free by construction since
  ``v = curl(a)``), and at every reset one more pool state gets such a kick.
  Developed but symmetric wakes in the pool are thus pushed off symmetry, so
  the pool holds oscillating, asymmetric wakes to learn from (the symmetry
  breaking that Wandel et al. get from moving obstacles and random inflows).
  ``kick_every`` (default 0: only at resets) kicks one more live pool state
  every ``kick_every`` steps, so that many more of the pool's states carry a
  decaying or growing wake oscillation.
* ``balance`` (default off): the objective is the mean of the *logarithms* of
  the per-sample losses, i.e. every sample's gradient is divided by its own
  loss. The loss of a pool is dominated by the few fresh environments (the
  start-up from the Poiseuille state through the obstacles), whose losses
  are one to two orders of magnitude above those of developed flows;
  balancing gives the developed flows, where the model's one-step error damps
  the growing wake oscillation, the same weight.
* ``lr_final`` (default ``None``: constant step size): the step size decays
  from ``lr`` to ``lr_final`` along a cosine over the run (its fraction is the
  larger of steps done / ``steps`` and time spent / ``minutes``), which
  averages out the noise of a self-rolled pool at the end of a (fine-tuning) run.

``seed_from`` (default ``None``) seeds the pool from a trained teacher's
rollouts (:class:`.SeedBank`): fresh environments start at random stages of
the teacher's flow, developed vortex streets included, so that a student
whose own rollouts damp the wake still trains on shedding states. The loss
is unchanged; the teacher supplies no targets.

``TrainConfig.init`` continues training (fine-tuning) from saved weights: a
shipped model name or a ``.safetensors`` path with the run's architecture. The
new JSON keeps their name, ``sha256``, command and own ``init_from`` (the whole
chain of commands that reproduces the weights).

Examples
--------
>>> cfg = TrainConfig(grid=(16, 32), s=2, st=1, hidden=4, levels=1, pool=4, batch=2, steps=3)
>>> result = train(cfg, progress=False)
>>> len(result.losses)
3
"""

from __future__ import annotations

import dataclasses
import functools
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._jax import require_jax

require_jax()

import equinox as eqx  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

from ..fluids.navier_stokes import TRAINING_SPEEDS, Physics, physics_loss, random_environment  # noqa: E402
from .models import StaggerModel, with_options  # noqa: E402
from .rollouts import initial_states  # noqa: E402

#: Consecutive non-finite training losses, on pool states refilled after each, after which training stops.
MAX_FAILING_STEPS = 10

__all__ = ["MAX_FAILING_STEPS", "TrainConfig", "TrainResult", "train", "window_loss", "default_size", "initial_model",
           "provenance", "optimizer", "train_step", "perturbation", "lr_scale"]


def default_size(s: int) -> tuple[int, int]:
    """Default ``(hidden, levels)`` for decomposition factor ``s``.

    The base network (``s = 1``) is a 3-level U-Net of width 16 on the fine
    grid. A coarse network sees a field ``s`` times coarser, so it needs
    ``log2(s)`` fewer levels for the same receptive field in physical units,
    and it runs on ``s*s`` coarse fields whose pixels add up to the fine grid:
    on a CPU its cost per step is its cost per pixel, hence the narrower width 8.

    Examples
    --------
    >>> default_size(1), default_size(2), default_size(4)
    ((16, 3), (8, 2), (8, 1))
    """
    if s == 1:
        return 16, 3
    return 8, max(1, 3 - (s - 1).bit_length())


@dataclass
class TrainConfig:
    """Everything a training run depends on (recorded in the JSON of the weights).

    The pool is refilled one environment every ``reset_every`` steps, so an
    environment lives ``reset_every * batch`` model calls on average, i.e.
    ``reset_every * batch * st * dt`` time units: the horizon of flow
    development (start-up, onset and saturation of shedding) the model is
    trained on.

    ``init``: start from these weights (a shipped model name or a
    ``.safetensors`` path) instead of a fresh model; its ``s``, ``st``,
    ``hidden``, ``levels``, ``coarse_input``, ``head`` and ``fine`` must equal
    the run's. ``coarse_input``: what the network predicting one coarse field
    sees; ``head``: the width of the network's pixel-wise head; ``fine``: the
    channels of its fine-grid output layer; 0 for none (:class:`.StaggerModel`).

    ``perturb``: velocity amplitude (relative to the inflow speed) of the
    random stream-function kicks of fresh and of live pool environments
    (:func:`perturbation`); 0 turns them off. ``lr_final``: end of the cosine
    decay of the step size (:func:`lr_scale`); ``None`` keeps ``lr`` constant.
    ``kick_every``: also kick one live pool environment every this many steps
    (0: only at resets). ``balance``: optimise the mean log of the per-sample
    losses (:func:`window_loss`).

    ``seed_from``: a trained model (shipped name or ``.safetensors`` path)
    whose rollouts seed the pool (:class:`.SeedBank`: ``seed_envs`` random
    environments, ``seed_steps`` steps, every ``seed_stride``-th state kept);
    every fresh pool environment then starts from one of its states at a
    random time instead of from rest. ``None``: fresh environments start from
    the Poiseuille state.

    ``speed_range``: the inflow speeds of the random environments (pool and
    seed bank), uniform between the two; with the default cylinders the
    Reynolds number ``speed * D / (mu / rho)`` then ranges over about 20-150.
    """

    s: int = 1
    st: int = 1
    hidden: int = 16
    levels: int = 3
    coarse_input: str = "own"
    head: int = 0
    fine: int = 0
    grid: tuple[int, int] = (32, 64)
    pool: int = 32
    batch: int = 8
    steps: int = 100_000
    minutes: float = 20.0
    lr: float = 1e-3
    reset_every: int = 10
    boundary_weight: float = 20.0
    rho: float = 1.0
    mu: float = 0.1
    dt: float = 1.0
    seed: int = 0
    checkpoint_every: int = 200
    init: str | None = None
    perturb: float = 0.0
    lr_final: float | None = None
    kick_every: int = 0
    balance: bool = False
    seed_from: str | None = None
    seed_envs: int = 64
    seed_steps: int = 480
    seed_stride: int = 4
    speed_range: tuple[float, float] = TRAINING_SPEEDS
    history: list = field(default_factory=list, repr=False)

    @property
    def physics(self) -> Physics:
        """The :class:`Physics` of this run."""
        return Physics(rho=self.rho, mu=self.mu, dt=self.dt)

    def public(self) -> dict:
        """The fields, for JSON."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "history"}


@dataclass
class TrainResult:
    """The trained model, the losses of the steps taken, seconds, the checkpoint path (if any) and the steps rejected.

    A step is rejected when its loss is not finite (a pool state blew up): the
    model is left as it was and the batch's pool environments are replaced.
    """

    model: StaggerModel
    losses: list[float]
    seconds: float
    path: Path | None
    rejected: int = 0


def window_loss(model: StaggerModel, a: Any, p: Any, boundary: Any, physics: Physics,
                boundary_weight: float = 20.0, balance: bool = False) -> tuple[Any, tuple[Any, Any, Any]]:
    """Training objective over a batch and a window of ``st`` steps; also returns the last states and the mean loss.

    The objective is the mean fine-grid physics loss, or with ``balance`` the
    mean of its logarithm per sample and step (each sample's gradient divided
    by its own loss). The third auxiliary output is always the plain mean loss.
    """
    a_seq, p_seq = jax.vmap(model)(a, p, boundary)  # (B, st, H, W)
    prev = jnp.concatenate([a[:, None], a_seq[:, :-1]], axis=1)
    losses = physics_loss(prev, a_seq, p_seq, boundary[:, None], physics, boundary_weight)
    objective = jnp.log(losses).mean() if balance else losses.mean()
    return objective, (a_seq[:, -1], p_seq[:, -1], losses.mean())


@functools.cache
def optimizer(lr: float) -> optax.GradientTransformation:
    """Adam with global-norm gradient clipping at 1 (one object per ``lr``, so :func:`train_step` compiles once).

    Examples
    --------
    >>> optimizer(1e-3) is optimizer(1e-3)
    True
    """
    return optax.chain(optax.clip_by_global_norm(1.0), optax.adam(lr))


def lr_scale(fraction: float, lr: float, lr_final: float | None) -> float:
    """Factor on the step size ``lr`` at ``fraction`` (0 to 1) of a run: cosine from 1 to ``lr_final / lr``.

    Examples
    --------
    >>> [round(lr_scale(f, 1e-3, 1e-4), 3) for f in (0.0, 0.5, 1.0, 2.0)]
    [1.0, 0.55, 0.1, 0.1]
    >>> lr_scale(0.7, 1e-3, None)
    1.0
    """
    if lr_final is None:
        return 1.0
    end = lr_final / lr
    f = min(max(float(fraction), 0.0), 1.0)
    return float(end + (1.0 - end) * 0.5 * (1.0 + np.cos(np.pi * f)))


def perturbation(env: Any, rng: np.random.Generator, amplitude: float, length: float = 3.0) -> np.ndarray:
    """A smooth random stream function whose velocity ``curl`` has maximum ``amplitude * env.speed`` in the fluid.

    Gaussian-filtered white noise (correlation ``length`` cells), tapered to
    zero on solid cells and their neighbours and next to the inflow and
    outflow columns, so the kick lives in the interior; the velocity it adds is
    divergence-free by construction.

    Examples
    --------
    >>> from itersolve.pdes.fluids.navier_stokes import cylinder
    >>> from itersolve.pdes.fluids.mac import curl
    >>> env = cylinder((32, 64))
    >>> psi = perturbation(env, np.random.default_rng(0), 0.1)
    >>> u, v = curl(psi)
    >>> round(float(max(np.abs(u).max(), np.abs(v).max())), 3)
    0.1
    """
    from scipy.ndimage import gaussian_filter

    from ..fluids.mac import curl

    H, W = env.shape
    noise = gaussian_filter(rng.standard_normal((H, W)), length, mode="nearest")
    keep = (~env.solid).astype(float)
    keep[:, :3] = keep[:, -3:] = 0.0
    taper = gaussian_filter(keep, 1.0) * keep
    psi = noise * taper
    u, v = curl(psi)
    peak = float(max(np.abs(u).max(), np.abs(v).max()))
    return psi * (amplitude * abs(float(env.speed)) / peak) if peak > 0 else psi


@eqx.filter_jit
def train_step(model: StaggerModel, opt_state: Any, a: Any, p: Any, boundary: Any, physics: Physics,
               boundary_weight: float, lr: float, scale: Any = 1.0, balance: bool = False
               ) -> tuple[StaggerModel, Any, Any, Any, Any]:
    """One optimiser step of :func:`window_loss` on a batch; returns the model, optimiser state, mean loss, last states.

    A batch whose loss or gradient is not finite changes neither the model nor the optimiser state
    (the caller sees the non-finite loss and decides what to do with the batch's pool states).

    Jitted once per model structure, batch shape, ``physics``, ``boundary_weight``, ``lr`` and ``balance``
    (held static), and shared by every :func:`train` run with those. ``scale`` multiplies the
    update (the step-size schedule, :func:`lr_scale`); pass it as a JAX scalar so that a changing
    value does not recompile.

    Examples
    --------
    >>> import jax
    >>> from itersolve.pdes.fluids.navier_stokes import cylinder
    >>> model = StaggerModel(s=2, hidden=4, levels=1, key=jax.random.PRNGKey(0))
    >>> a, p, b = initial_states([cylinder((16, 32))], Physics())
    >>> state = optimizer(1e-3).init(eqx.filter(model, eqx.is_array))
    >>> model, state, loss, a1, p1 = train_step(model, state, a, p, b, Physics(), 20.0, 1e-3)
    >>> a1.shape, bool(loss > 0)
    ((1, 16, 32), True)
    """
    opt = optimizer(lr)
    (_, (a1, p1, loss)), grads = eqx.filter_value_and_grad(window_loss, has_aux=True)(
        model, a, p, boundary, physics, boundary_weight, balance)
    updates, new_state = opt.update(grads, opt_state, eqx.filter(model, eqx.is_array))
    finite = jnp.isfinite(loss) & jnp.isfinite(optax.tree.norm(grads))
    updates = jax.tree_util.tree_map(lambda u: jnp.where(finite, u * scale, 0.0), updates)
    opt_state = jax.tree_util.tree_map(lambda n, o: jnp.where(finite, n, o), new_state, opt_state)
    return eqx.apply_updates(model, updates), opt_state, loss, a1, p1


def initial_model(cfg: TrainConfig) -> StaggerModel:
    """A fresh model (seeded by ``cfg.seed``), or the weights of ``cfg.init``, which must have ``cfg``'s architecture.

    Raises
    ------
    ValueError
        If ``cfg.init`` is a model with another architecture (``s``, ``st``, ``hidden``, ``levels``,
        ``coarse_input``, ``head`` or ``fine``).

    Examples
    --------
    >>> import os, tempfile
    >>> from itersolve.pdes.stagger.io import save
    >>> path = save(StaggerModel(s=2, hidden=4, levels=1, key=jax.random.PRNGKey(0)),
    ...             os.path.join(tempfile.mkdtemp(), "m.safetensors"))
    >>> initial_model(TrainConfig(s=2, hidden=4, levels=1, init=str(path))).config()
    {'s': 2, 'st': 1, 'hidden': 4, 'levels': 1, 'coarse_input': 'own'}
    >>> initial_model(TrainConfig(s=2, st=2, hidden=4, levels=1, init=str(path)))
    Traceback (most recent call last):
    ...
    ValueError: init='...m.safetensors' is {'s': 2, 'st': 1, ...}, but the run asks for {'s': 2, 'st': 2, ...}
    """
    want = with_options({"s": cfg.s, "st": cfg.st, "hidden": cfg.hidden, "levels": cfg.levels,
                         "coarse_input": cfg.coarse_input}, head=cfg.head, fine=cfg.fine)
    if cfg.init is None:
        return StaggerModel(**want, key=jax.random.PRNGKey(cfg.seed))
    from .io import load

    model = load(cfg.init)
    if model.config() != want:
        raise ValueError(f"init={cfg.init!r} is {model.config()}, but the run asks for {want}")
    return model


def provenance(init: str) -> dict[str, Any]:
    """Name, ``sha256``, training command and own ``init_from`` of the weights a run starts from.

    Examples
    --------
    >>> sorted(provenance("neuralstagger-base"))
    ['command', 'init_from', 'name', 'sha256']
    """
    from ...pretrained import lineage
    from .io import config_of

    return lineage(init, config_of(init))


def train(cfg: TrainConfig, *, out: str | Path | None = None, progress: bool = True,
          command: str = "") -> TrainResult:
    """Train (until ``cfg.steps`` or ``cfg.minutes``); checkpoint to ``out`` every ``cfg.checkpoint_every`` steps.

    The model starts from :func:`initial_model`; with ``cfg.init`` the JSON
    written to ``out`` holds ``init_from`` (:func:`provenance`). A step whose
    loss is not finite is rejected (:class:`TrainResult`); after
    :data:`MAX_FAILING_STEPS` in a row it raises ``FloatingPointError``.
    """
    from .io import save

    physics = cfg.physics
    grid = tuple(int(n) for n in cfg.grid)
    rng = np.random.default_rng(cfg.seed)
    model = initial_model(cfg)
    origin = {} if cfg.init is None else {"init_from": provenance(cfg.init)}
    t0, cpu0 = time.perf_counter(), time.process_time()
    bank = None
    if cfg.seed_from is not None:
        from .io import load
        from .seeding import SeedBank

        origin["seeded_from"] = provenance(cfg.seed_from)
        bank = SeedBank.roll(load(cfg.seed_from), grid, physics, envs=cfg.seed_envs, steps=cfg.seed_steps,
                             stride=cfg.seed_stride, rng=rng, speed_range=cfg.speed_range)
    envs = [random_environment(grid, rng, cfg.speed_range) if bank is None else bank.envs[0] for _ in range(cfg.pool)]
    a_pool, p_pool, b_pool = initial_states(envs, physics)  # the bank's slots are refilled below

    def kick(k: int) -> None:
        if cfg.perturb > 0:
            a_pool[k] += perturbation(envs[k], rng, cfg.perturb).astype(a_pool.dtype)

    def refill(k: int) -> None:
        """A fresh environment in slot ``k``: from rest, or a state of the seed bank; kicked."""
        if bank is None:
            envs[k] = random_environment(grid, rng, cfg.speed_range)
            a_pool[k:k + 1], p_pool[k:k + 1], b_pool[k:k + 1] = initial_states([envs[k]], physics)
        else:
            envs[k], a_pool[k], p_pool[k] = bank.draw(rng)
            b_pool[k] = envs[k].boundary
        kick(k)

    for k in range(cfg.pool):
        if bank is None:
            kick(k)
        else:
            refill(k)
    opt_state = optimizer(cfg.lr).init(eqx.filter(model, eqx.is_array))

    def checkpoint(done: int, seconds: float) -> Path | None:
        if out is None:
            return None
        info = {"command": command, **origin,
                "training": {**cfg.public(), "steps_done": done, "steps_rejected": rejected,
                             "seconds": round(seconds, 1), "cpu_seconds": round(time.process_time() - cpu0, 1)},
                "grid": list(grid), "physics": dataclasses.asdict(physics), "losses_every_50": cfg.history}
        return save(model, out, info)

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=cfg.steps, desc=f"train stagger s={cfg.s} st={cfg.st}")
    losses: list[float] = []
    path = None
    rejected = failing = 0
    for n in range(cfg.steps):
        idx = rng.choice(cfg.pool, size=cfg.batch, replace=False)
        fraction = max(n / cfg.steps, (time.perf_counter() - t0) / (60.0 * cfg.minutes))
        scale = jnp.float32(lr_scale(fraction, cfg.lr, cfg.lr_final))
        model, opt_state, loss, a1, p1 = train_step(model, opt_state, a_pool[idx], p_pool[idx], b_pool[idx],
                                                    physics, cfg.boundary_weight, cfg.lr, scale, cfg.balance)
        loss = float(loss)
        if not np.isfinite(loss):  # the step was not taken; a pool state that blew up is replaced
            rejected += 1
            failing += 1
            if failing >= MAX_FAILING_STEPS:
                raise FloatingPointError(f"training loss was {loss} at {failing} consecutive steps (last: step {n}), "
                                         "on fresh pool states too; lower --lr")
            for k in idx:
                refill(int(k))
            continue
        failing = 0
        losses.append(loss)
        a_pool[idx], p_pool[idx] = np.asarray(a1), np.asarray(p1)
        if (n + 1) % cfg.reset_every == 0:
            refill(int(rng.integers(cfg.pool)))
            if cfg.perturb > 0:
                kick(int(rng.integers(cfg.pool)))  # a live environment, likely with a developed wake
        if cfg.kick_every > 0 and (n + 1) % cfg.kick_every == 0:
            kick(int(rng.integers(cfg.pool)))
        if (n + 1) % 50 == 0:
            cfg.history.append(float(np.mean(losses[-50:])))
        elapsed = time.perf_counter() - t0
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.3g}", min=f"{elapsed / 60:.1f}")
        if (n + 1) % cfg.checkpoint_every == 0:
            path = checkpoint(n + 1, elapsed)
        if elapsed > 60.0 * cfg.minutes:
            break
    if bar is not None:
        bar.close()
    seconds = time.perf_counter() - t0
    path = checkpoint(len(losses), seconds) or path
    return TrainResult(model=model, losses=losses, seconds=seconds, path=path, rejected=rejected)
