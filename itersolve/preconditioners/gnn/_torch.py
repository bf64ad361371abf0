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

from types import ModuleType

from ..._extras import require

__all__ = ["require_torch"]


def require_torch() -> ModuleType:
    """Import and return ``torch``, checking that torch-geometric and safetensors exist too.

    Raises
    ------
    ImportError
        Naming the missing package and the ``torch`` extra.
    """
    return require("torch", "torch_geometric", "safetensors", extra="torch", feature="GNN preconditioners")
