"""Seeding a training pool with the states of a trained teacher's rollouts (a curriculum, not data).

A physics-trained model learns only the states its own pool visits. A
decomposed model whose step is slightly too dissipative damps the wake
before the vortex street develops, so its pool never holds shedding states
and it never learns to sustain them. :class:`SeedBank` rolls an already
trained model (the *teacher*, usually the base network, itself trained
without data) through random environments once, and hands out its states at
random times, from the start-up to the developed vortex street, as the start
of fresh pool environments. The training loss is unchanged: the fine-grid
physics residual of the *student's* prediction. The teacher only chooses
where that residual is evaluated; it never supplies a target.

Examples
--------
>>> import jax, numpy as np
>>> from itersolve.pdes.fluids.navier_stokes import Physics
>>> from itersolve.pdes.stagger.models import StaggerModel
>>> teacher = StaggerModel(hidden=4, levels=1, key=jax.random.PRNGKey(0))
>>> bank = SeedBank.roll(teacher, (16, 32), Physics(), envs=3, steps=8, stride=4,
...                      rng=np.random.default_rng(0))
>>> bank.a.shape
(3, 3, 16, 32)
>>> env, a, p = bank.draw(np.random.default_rng(1))
>>> a.shape, env.shape
((16, 32), (16, 32))
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ._jax import require_jax

require_jax()

import numpy as np  # noqa: E402

from ..fluids.navier_stokes import TRAINING_SPEEDS, Environment, Physics, random_environment  # noqa: E402
from .models import StaggerModel  # noqa: E402
from .rollouts import initial_states, rollout  # noqa: E402

__all__ = ["SeedBank"]


@dataclass
class SeedBank:
    """States of a teacher's rollouts: ``a`` and ``p`` of shape ``(envs, times, H, W)``, one environment per row.

    Row ``k`` holds the initial (Poiseuille) state of ``envs[k]`` and then
    the teacher's state every ``stride`` steps.
    """

    envs: list[Environment]
    a: np.ndarray
    p: np.ndarray

    @classmethod
    def roll(cls, teacher: StaggerModel, grid: tuple[int, int], physics: Physics, *, envs: int, steps: int,
             stride: int, rng: np.random.Generator,
             speed_range: tuple[float, float] = TRAINING_SPEEDS) -> "SeedBank":
        """Roll ``teacher`` ``steps`` time steps through ``envs`` random environments; keep every ``stride``-th state.

        The environments are drawn by :func:`~itersolve.pdes.fluids.navier_stokes.random_environment` with
        inflow speeds uniform in ``speed_range``.

        The rollout runs ``lcm(stride, teacher.st)`` steps at a time, so only the kept states are ever held
        (``1/stride`` of the whole rollout).

        Raises
        ------
        ValueError
            If ``steps`` is not a positive multiple of ``stride`` and of the teacher's ``st``.
        """
        if steps <= 0 or stride <= 0 or steps % stride or steps % teacher.st:
            raise ValueError(f"steps = {steps} must be a positive multiple of stride = {stride} and of the "
                             f"teacher's st = {teacher.st}")
        environments = [random_environment(tuple(grid), rng, speed_range) for _ in range(envs)]
        a0, p0, b = initial_states(environments, physics)
        chunk = math.lcm(stride, teacher.st)  # rolled a chunk at a time: only the kept states are held
        kept_a, kept_p, a_t, p_t = [a0[:, None]], [p0[:, None]], a0, p0
        for _ in range(steps // chunk):
            a_c, p_c = rollout(teacher, a_t, p_t, b, chunk)
            kept_a.append(np.asarray(a_c[:, stride - 1::stride]))
            kept_p.append(np.asarray(p_c[:, stride - 1::stride]))
            a_t, p_t = a_c[:, -1], p_c[:, -1]
        a, p = np.concatenate(kept_a, axis=1), np.concatenate(kept_p, axis=1)
        if not (np.isfinite(a).all() and np.isfinite(p).all()):
            raise FloatingPointError("the teacher's rollout is not finite; it cannot seed a pool")
        return cls(environments, a, p)

    def draw(self, rng: np.random.Generator) -> tuple[Environment, Any, Any]:
        """A random environment of the bank and its state at a random stored time: ``(env, a, p)``."""
        k = int(rng.integers(len(self.envs)))
        t = int(rng.integers(self.a.shape[1]))
        return self.envs[k], self.a[k, t].copy(), self.p[k, t].copy()
