"""Rolling a :class:`~.models.StaggerModel` forward: jitted, batched over environments, differentiable.

Examples
--------
>>> import jax
>>> from itersolve.pdes.fluids.navier_stokes import Physics, cylinder
>>> from itersolve.pdes.stagger.models import StaggerModel
>>> model = StaggerModel(s=2, st=2, hidden=4, levels=1, key=jax.random.PRNGKey(0))
>>> a0, p0, b = initial_states([cylinder((16, 32))], Physics())
>>> a, p = rollout(model, a0, p0, b, steps=4)
>>> a.shape
(1, 4, 16, 32)
"""

from __future__ import annotations

from typing import Any, Sequence

from ._jax import require_jax

require_jax()

import equinox as eqx  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from ..fluids.navier_stokes import Environment, Physics, poiseuille  # noqa: E402
from .models import StaggerModel  # noqa: E402

__all__ = ["rollout", "initial_states"]

Array = Any


def initial_states(envs: Sequence[Environment], physics: Physics, dtype: Any = np.float32
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stacked ``(a0, p0, boundary)`` of environments: the obstacle-free Poiseuille stream function, zero pressure.

    This is also the initial condition of :class:`~itersolve.pdes.fluids.reference.ProjectionSolver`.
    """
    a0 = np.stack([poiseuille(env, physics)[0] for env in envs]).astype(dtype)
    b = np.stack([env.boundary for env in envs]).astype(dtype)
    return a0, np.zeros_like(a0), b


@eqx.filter_jit
def _chunk(model: StaggerModel, a: Array, p: Array, boundary: Array, calls: int) -> tuple[Array, Array]:
    """``calls`` model calls, unrolled (XLA:CPU runs convolutions in a ``while`` loop about 50x slower)."""
    call = jax.vmap(model)
    a_out, p_out = [], []
    for _ in range(calls):
        a_seq, p_seq = call(a, p, boundary)
        a_out.append(a_seq)
        p_out.append(p_seq)
        a, p = a_seq[:, -1], p_seq[:, -1]
    return jnp.concatenate(a_out, axis=1), jnp.concatenate(p_out, axis=1)


def rollout(model: StaggerModel, a0: Array, p0: Array, boundary: Array, steps: int,
            chunk: int = 10) -> tuple[Array, Array]:
    """``steps`` time steps from ``(a0, p0)`` of shape ``(B, H, W)``: returns ``(a, p)`` of shape ``(B, steps, H, W)``.

    ``steps`` must be a multiple of the model's ``st``. The model is called in
    jitted chunks of ``chunk`` unrolled calls (compiled once per chunk length).
    Differentiable: :func:`jax.grad` goes through the loop over chunks.
    """
    if steps % model.st:
        raise ValueError(f"steps = {steps} must be a multiple of the model's st = {model.st}")
    if jnp.ndim(a0) != 3 or jnp.ndim(boundary) != 4:
        raise ValueError(f"expected batched a0 (B, H, W) and boundary (B, 6, H, W), got {jnp.shape(a0)}, "
                         f"{jnp.shape(boundary)}")
    a, p = jnp.asarray(a0), jnp.asarray(p0)
    calls, pieces_a, pieces_p = steps // model.st, [], []
    while calls > 0:
        n = min(chunk, calls)
        a_seq, p_seq = _chunk(model, a, p, boundary, n)
        pieces_a.append(a_seq)
        pieces_p.append(p_seq)
        a, p, calls = a_seq[:, -1], p_seq[:, -1], calls - n
    return jnp.concatenate(pieces_a, axis=1), jnp.concatenate(pieces_p, axis=1)
