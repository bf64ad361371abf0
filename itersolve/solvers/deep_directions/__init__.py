"""Deep conjugate directions (Kaneda et al., ICML 2023): the network, its data, training and weights.

The solver itself is :func:`itersolve.solvers.dcdm.dcdm`; this package holds
the learned part (torch extra), imported lazily: importing it needs only the
standard library, and the first use of a name below imports torch (or says
which extra to install).

- :class:`DCDMNet`, :func:`build_model` (:mod:`.model`)
- :func:`ritz_vectors`, :class:`RitzData` (:mod:`.data`)
- :class:`TrainConfig`, :func:`train`, :func:`dcdm_loss`, :func:`torch_operator` (:mod:`.training`)
- :func:`save_model`, :func:`load_model`, :func:`resolve_model`, :class:`WeightsError` (:mod:`.io`)
- :class:`NetworkDirections` (:mod:`.inference`)

Examples
--------
>>> from itersolve.solvers import deep_directions
>>> deep_directions.build_model(dim=3, channels=4, levels=1).dim
3
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from ..._extras import require

__all__ = [
    "DCDMNet",
    "NetworkDirections",
    "RitzData",
    "TrainConfig",
    "WeightsError",
    "build_model",
    "dcdm_loss",
    "load_model",
    "require_torch",
    "resolve_model",
    "ritz_vectors",
    "save_model",
    "torch_operator",
    "train",
]

_WHERE = {
    "DCDMNet": "model",
    "build_model": "model",
    "NetworkDirections": "inference",
    "RitzData": "data",
    "ritz_vectors": "data",
    "TrainConfig": "training",
    "train": "training",
    "dcdm_loss": "training",
    "torch_operator": "training",
    "WeightsError": "io",
    "load_model": "io",
    "save_model": "io",
    "resolve_model": "io",
}

def require_torch() -> ModuleType:
    """Import and return ``torch``, checking that safetensors is there too.

    Raises
    ------
    ImportError
        Naming the missing package and the ``torch`` extra.
    """
    return require("torch", "safetensors", extra="torch", feature="DCDM networks")


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    require_torch()
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
