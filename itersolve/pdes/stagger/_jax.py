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

import importlib
from types import ModuleType

__all__ = ["require_jax", "EXTRA_HINT"]

#: What to tell the user when the extra is missing.
EXTRA_HINT = "install the 'jax' extra: pip install 'itersolve[jax]' (jax, equinox, optax, safetensors)"


def require_jax() -> ModuleType:
    """Import and return ``jax``, checking that equinox, optax and safetensors exist too.

    Raises
    ------
    ImportError
        Naming the missing package and the ``jax`` extra.
    """
    for name in ("jax", "equinox", "optax", "safetensors"):
        try:
            importlib.import_module(name)
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise ImportError(f"NeuralStagger needs {name!r}, which is not installed; {EXTRA_HINT}") from err
    return importlib.import_module("jax")
