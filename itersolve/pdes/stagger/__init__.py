"""NeuralStagger (Huang et al., ICML 2023) on physics-constrained flow solvers (Wandel et al., ICLR 2021), in JAX.

A fine ``(H, W)`` state ``(a, p)`` (stream function and pressure on the MAC
grid of :mod:`itersolve.pdes.fluids`) is split into ``s*s`` interleaved
coarse fields (:func:`space_to_depth`), a coarse network predicts each one's
next ``st`` states, and :func:`depth_to_space` reassembles the fine field;
training uses only the unchanged fine-grid physics loss
(:func:`itersolve.pdes.fluids.navier_stokes.physics_loss`) on a self-rolled
pool of random environments (:func:`train`). ``s = 1`` is the base network.

- decomposition: :func:`space_to_depth`, :func:`depth_to_space`, :func:`temporal_windows`
- networks: :class:`StaggerModel` (coarse U-Nets that see their own coarse field or all of them,
  ``coarse_input``; see :mod:`.models`), :class:`UNet`
- training: :class:`TrainConfig`, :func:`train` (``itersolve train stagger``), :class:`SeedBank`
  (a teacher's rollouts as starting states of the pool)
- inference: :func:`rollout`, :func:`initial_states`, weights :func:`load` / :func:`save`
- optimal control: :func:`tune_inflow`, :func:`shedding_frequency`

Framework: JAX with Equinox + Optax (the ``jax`` extra). Equinox, not Flax:
a model is a plain PyTree, so ``jax.vmap`` over the coarse fields,
``jax.grad`` through a rollout for control, and flattening into named
safetensors need no extra state handling (no ``apply``/variables
bookkeeping); the networks here are small enough that Flax's module system
would add indirection without adding anything used.

The submodules import JAX; this package's namespace loads them lazily, so
``import itersolve.pdes.stagger.cli`` (the command line) stays free of JAX.

Examples
--------
>>> import numpy as np
>>> from itersolve.pdes.stagger import space_to_depth, depth_to_space
>>> x = np.random.default_rng(0).standard_normal((2, 8, 12))
>>> bool((depth_to_space(space_to_depth(x, 4), 4) == x).all())
True
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "space_to_depth": "decompose",
    "depth_to_space": "decompose",
    "temporal_windows": "decompose",
    "check_factor": "decompose",
    "StaggerModel": "models",
    "UNet": "models",
    "TrainConfig": "training",
    "TrainResult": "training",
    "train": "training",
    "default_size": "training",
    "SeedBank": "seeding",
    "rollout": "rollouts",
    "initial_states": "rollouts",
    "load": "io",
    "save": "io",
    "config_of": "io",
    "tune_inflow": "control",
    "shedding_frequency": "control",
    "spectral_centroid": "control",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
