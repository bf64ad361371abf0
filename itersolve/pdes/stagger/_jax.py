"""Lazy access to the optional ``jax`` extra (jax + equinox + optax + safetensors).

Nothing in :mod:`itersolve` imports JAX at import time; the NeuralStagger
parts call :func:`require_jax` first, which raises an ``ImportError`` naming
the extra to install when a piece is missing.

Examples
--------
>>> from itersolve.pdes.stagger._jax import require_jax
>>> require_jax().__name__
'jax'
"""

from __future__ import annotations

from types import ModuleType

from ..._extras import require

__all__ = ["require_jax"]


def require_jax() -> ModuleType:
    """Import and return ``jax``, checking that equinox, optax and safetensors exist too.

    Raises
    ------
    ImportError
        Naming the missing package and the ``jax`` extra.
    """
    return require("jax", "equinox", "optax", "safetensors", extra="jax", feature="NeuralStagger")
