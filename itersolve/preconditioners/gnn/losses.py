"""Training losses for a factor ``L̂`` given as (diagonal, strictly-lower edge values).

* :func:`solution_loss` -- ``‖L̂ L̂ᵀ x̂ − b̂‖² / ‖b̂‖²`` with ``x̂ = Â⁻¹ b̂`` for
  random ``b̂`` (Li et al. 2023; PreCorrector's "low-frequency" loss: the
  error ``(L̂L̂ᵀ − Â) x̂`` is weighted towards smooth ``x̂``, the modes CG
  struggles with);
* :func:`frobenius_loss` -- the stochastic Frobenius loss
  ``‖(L̂ L̂ᵀ − Â) z‖² / ‖Â z‖²`` with ``z ~ N(0, I)`` (NeuralIF): an unbiased
  estimate of ``‖L̂L̂ᵀ − Â‖_F²`` up to the normalisation.

Both work on a single graph or on a PyG ``Batch`` (the mean over graphs of
the per-graph loss), with ``k`` right-hand sides per graph (``(n, k)``).
:data:`LOSSES` maps their names (``"solution"``, ``"frobenius"``) to them.

Examples
--------
>>> import numpy as np, torch
>>> from itersolve.preconditioners.gnn.graph import matrix_to_graph
>>> from itersolve.preconditioners.gnn.losses import solution_loss, frobenius_loss
>>> A = np.array([[4.0, 2.0, 0.0], [2.0, 5.0, 2.0], [0.0, 2.0, 5.0]])   # tridiagonal: IC(0) is exact
>>> g = matrix_to_graph(A, dtype=torch.float64)
>>> b = torch.randn(3, 2, dtype=torch.float64)
>>> x = torch.linalg.solve(torch.as_tensor(A / np.sqrt(np.outer(np.diag(A), np.diag(A)))), b)
>>> float(solution_loss(g, g.ic_diag, g.ic_off, x, b)) < 1e-28
True
>>> float(frobenius_loss(g, g.ic_diag, g.ic_off, b)) < 1e-28
True
"""

from __future__ import annotations

from typing import Any, Callable

import torch

__all__ = ["llt_matvec", "a_matvec", "solution_loss", "frobenius_loss", "LOSSES"]


def _col(v: torch.Tensor) -> torch.Tensor:
    return v.unsqueeze(1)


def llt_matvec(graph: Any, diag: torch.Tensor, off: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``L̂ L̂ᵀ x`` for ``x`` of shape (n, k)."""
    src, dst = graph.edge_index[0], graph.edge_index[1]  # L̂[dst, src] = off
    y = _col(diag) * x
    y = y.index_add(0, src, _col(off) * x[dst])  # Lᵀ x
    z = _col(diag) * y
    return z.index_add(0, dst, _col(off) * y[src])  # L y


def a_matvec(graph: Any, x: torch.Tensor) -> torch.Tensor:
    """``Â x`` (unit diagonal, ``a_off`` on both triangles) for ``x`` of shape (n, k)."""
    src, dst = graph.edge_index[0], graph.edge_index[1]
    a = _col(graph.a_off)
    y = x.index_add(0, dst, a * x[src])
    return y.index_add(0, src, a * x[dst])


def _per_graph_ratio(graph: Any, num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    """Mean over graphs (and right-hand sides) of ``Σ num / Σ den`` per graph."""
    batch = getattr(graph, "batch", None)
    if batch is None:
        return (num.sum(0) / den.sum(0)).mean()
    ng = int(graph.num_graphs)
    sn = torch.zeros(ng, num.shape[1], dtype=num.dtype).index_add_(0, batch, num)
    sd = torch.zeros(ng, den.shape[1], dtype=den.dtype).index_add_(0, batch, den)
    return (sn / sd).mean()


def solution_loss(graph: Any, diag: torch.Tensor, off: torch.Tensor, x: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``mean ‖L̂ L̂ᵀ x − b‖² / ‖b‖²`` where ``Â x = b`` (columns of ``x``, ``b``: (n, k))."""
    r = llt_matvec(graph, diag, off, x) - b
    return _per_graph_ratio(graph, r * r, b * b)


def frobenius_loss(graph: Any, diag: torch.Tensor, off: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """``mean ‖(L̂ L̂ᵀ − Â) z‖² / ‖Â z‖²`` for probe vectors ``z`` of shape (n, k)."""
    az = a_matvec(graph, z)
    r = llt_matvec(graph, diag, off, z) - az
    return _per_graph_ratio(graph, r * r, az * az)


#: Loss functions by name; ``"solution"`` takes ``(graph, diag, off, x, b)``, ``"frobenius"`` ``(graph, diag, off, z)``.
LOSSES: dict[str, Callable[..., torch.Tensor]] = {"solution": solution_loss, "frobenius": frobenius_loss}
