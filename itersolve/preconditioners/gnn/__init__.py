"""GNN preconditioners: learned sparse Cholesky-type factors for PCG (the ``torch`` extra).

A graph network reads the matrix graph of an SPD ``A`` and outputs a
lower-triangular ``L`` on the pattern of ``tril(A)`` with a positive diagonal,
so that ``L Lᵀ ≈ A``; :class:`GNNPreconditioner` applies ``(L Lᵀ)⁻¹`` with two
triangular solves, exactly like :class:`~itersolve.preconditioners.IC0`.

- graph conversion: :func:`matrix_to_graph`, :func:`factor_to_csr`, :func:`graph_to_matrix`
- models: :class:`NeuralIF` (Häusner et al., TMLR 2024), :class:`PreCorrector`
  (Trifonov et al., 2024: ``L = L_IC0 + α·GNN(L_IC0)``, ``α`` starts at 0;
  ``level=1`` corrects IC(1) on its one-level-of-fill pattern instead)
- losses: :func:`solution_loss` (``‖L Lᵀ x − b‖²``, ``x = A⁻¹ b``) and
  :func:`frobenius_loss` (``‖(L Lᵀ − A) z‖²``)
- training: :func:`train` (also ``itersolve train gnn ...``; families 2-D
  diffusion, anisotropic diffusion and pyamg's FEM examples, mixed grid sizes,
  fine-tuning from a checkpoint), weights I/O:
  :func:`save_model`, :func:`load_model` (safetensors + JSON, :class:`WeightsError`)
- shipped models: :func:`itersolve.pretrained.available`

Importing this package does not import torch; the names above that need it
are loaded on first use and raise an ``ImportError`` naming the ``torch``
extra when it is missing.

Examples
--------
>>> import numpy as np, itersolve
>>> from itersolve.pdes import diffusion, random_field
>>> from itersolve.preconditioners.gnn import GNNPreconditioner, PreCorrector
>>> A = diffusion(random_field((16, 16), variance=0.5, seed=1))
>>> P = GNNPreconditioner(A, model=PreCorrector(hidden=8, layers=2))   # untrained: IC(0) exactly
>>> itersolve.cg(A, np.ones(256), M=P, rtol=1e-8).converged
True
"""

from __future__ import annotations

import importlib
from typing import Any

from .preconditioner import DEFAULT_MODEL, GNNFallbackWarning, GNNPreconditioner, load_pretrained

__all__ = [
    "DEFAULT_MODEL",
    "GNNFallbackWarning",
    "GNNPreconditioner",
    "NeuralIF",
    "PreCorrector",
    "TrainConfig",
    "WeightsError",
    "factor_to_csr",
    "frobenius_loss",
    "graph_to_matrix",
    "load_model",
    "load_pretrained",
    "matrix_to_graph",
    "save_model",
    "solution_loss",
    "train",
]

_LAZY = {
    "NeuralIF": "models",
    "PreCorrector": "models",
    "build_model": "models",
    "matrix_to_graph": "graph",
    "factor_to_csr": "graph",
    "graph_to_matrix": "graph",
    "solution_loss": "losses",
    "frobenius_loss": "losses",
    "save_model": "io",
    "load_model": "io",
    "WeightsError": "io",
    "train": "training",
    "TrainConfig": "training",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from ._torch import require_torch

        require_torch()
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
