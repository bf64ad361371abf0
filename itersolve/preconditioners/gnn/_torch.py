"""Lazy access to the optional ``torch`` extra (torch + torch-geometric + safetensors).

Nothing in :mod:`itersolve` imports torch at import time; the GNN parts call
:func:`require_torch` first, which raises an ``ImportError`` naming the extra
to install when a piece is missing.

Examples
--------
>>> from itersolve.preconditioners.gnn._torch import require_torch
>>> torch = require_torch()
>>> torch.__name__
'torch'
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["require_torch", "EXTRA_HINT"]

#: What to tell the user when the extra is missing.
EXTRA_HINT = "install the 'torch' extra: pip install 'itersolve[torch]' (torch, torch-geometric, safetensors)"


def require_torch() -> ModuleType:
    """Import and return ``torch``, checking that torch-geometric and safetensors exist too.

    Raises
    ------
    ImportError
        Naming the missing package and the ``torch`` extra.
    """
    for name in ("torch", "torch_geometric", "safetensors"):
        try:
            importlib.import_module(name)
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise ImportError(f"GNN preconditioners need {name!r}, which is not installed; {EXTRA_HINT}") from err
    return importlib.import_module("torch")
