"""The graph networks that output a sparse lower-triangular factor ``L̂ ≈ chol(Â)``.

Both models share one trunk (:class:`FactorTrunk`): encoders for the node and
edge features, then ``layers`` message-passing blocks that alternate between
the two triangles (NeuralIF, Häusner et al. 2024): even blocks send messages
along the lower-triangle edges ``j -> i`` (``j < i``), odd blocks along the
upper-triangle edges ``i -> j``. A block updates every edge from its two
end nodes, then every node from the sum of its incoming edges, both with
residual connections. Heads read one number per edge and one per node.

* :class:`NeuralIF` -- the factor itself: ``L̂_ij = â_ij + g_ij`` off the
  diagonal and ``L̂_ii = exp(g_ii)`` on it, so the diagonal is positive by
  construction. With zero heads (the initialisation) ``L̂ L̂ᵀ`` is the
  symmetric Gauss–Seidel preconditioner of ``Â``.
* :class:`PreCorrector` -- a learned correction of IC(0) (Trifonov et al.
  2024): ``L̂_ij = l̂_ij + α g_ij`` and ``L̂_ii = l̂_ii exp(α g_ii)`` with the
  scaled IC(0) factor ``l̂`` and a trainable scalar ``α`` that starts at 0,
  so the untrained model *is* IC(0). (The paper adds ``α g`` to the diagonal
  too; the exponential form agrees with it to first order and keeps the
  diagonal positive by construction.)

Both keep the sparsity of the graph's pattern -- ``tril(A)``, or the IC(k)
pattern for a model built with ``level=k`` (PreCorrector[IC(1)] corrects the
IC(1) factor) -- so the number of nonzeros of ``L``, and the cost of a PCG
iteration, is known before the model runs. A model's ``level`` says which
pattern its graphs must be built with (:func:`~.graph.matrix_to_graph`).

Examples
--------
>>> import torch
>>> from itersolve.pdes import poisson
>>> from itersolve.preconditioners.gnn.graph import matrix_to_graph
>>> from itersolve.preconditioners.gnn.models import PreCorrector
>>> g = matrix_to_graph(poisson((5, 5)))
>>> model = PreCorrector(hidden=8, layers=2)
>>> diag, off = model(g)
>>> bool(torch.equal(diag, g.ic_diag)), bool(torch.equal(off, g.ic_off))   # alpha = 0: IC(0)
(True, True)
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .graph import EDGE_FEATURES, NODE_FEATURES

__all__ = ["FactorTrunk", "NeuralIF", "PreCorrector", "ARCHITECTURES", "build_model"]

#: ``exp`` arguments are clamped to ``±CLAMP`` so a wild output cannot overflow.
CLAMP = 20.0


class _Block(nn.Module):
    """One message-passing block in one direction (edge update, then node update).

    The first layers of the two MLPs act on concatenations (``[e, h_src, h_dst]``
    and ``[h, Σ e]``); they are stored split by input, so that the node parts
    are multiplied once per node and gathered, instead of once per edge --
    the same function, about half the work and no concatenated copies.
    """

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.edge_e = nn.Linear(hidden, hidden)
        self.edge_src = nn.Linear(hidden, hidden, bias=False)
        self.edge_dst = nn.Linear(hidden, hidden, bias=False)
        self.edge_out = nn.Linear(hidden, hidden)
        self.node_h = nn.Linear(hidden, hidden)
        self.node_agg = nn.Linear(hidden, hidden, bias=False)
        self.node_out = nn.Linear(hidden, hidden)

    def forward(self, h: torch.Tensor, e: torch.Tensor, src: torch.Tensor, dst: torch.Tensor) -> tuple:
        # in-place sums on fresh outputs and index_select gathers: the same function with fewer
        # edge-sized temporaries (inference at 256^2 is bound by them); autograd-safe, as no
        # backward below needs the values overwritten
        pre = self.edge_e(e)
        pre += torch.index_select(self.edge_src(h), 0, src)
        pre += torch.index_select(self.edge_dst(h), 0, dst)
        msg = self.edge_out(torch.relu_(pre))
        msg += e
        agg = torch.zeros_like(h).index_add_(0, dst, msg)
        upd = self.node_h(h)
        upd += self.node_agg(agg)
        out = self.node_out(torch.relu_(upd))
        out += h
        return out, msg


class FactorTrunk(nn.Module):
    """Encoders, alternating lower/upper message passing, and the two heads.

    Parameters
    ----------
    hidden : int
        Width of node and edge embeddings.
    layers : int
        Message-passing blocks (directions alternate, starting with "lower").

    Returns (from ``forward(graph)``)
    ---------------------------------
    (g_diag, g_off) : the raw head outputs, shapes (n,) and (E,).
    """

    def __init__(self, hidden: int = 16, layers: int = 4) -> None:
        super().__init__()
        if hidden < 1 or layers < 0:
            raise ValueError(f"need hidden >= 1 and layers >= 0, got hidden={hidden}, layers={layers}")
        self.hidden, self.layers = int(hidden), int(layers)
        self.node_in = nn.Linear(NODE_FEATURES, hidden)
        self.edge_in = nn.Linear(EDGE_FEATURES, hidden)
        self.blocks = nn.ModuleList(_Block(hidden) for _ in range(layers))
        self.node_out = nn.Linear(hidden, 1)
        self.edge_out = nn.Linear(hidden, 1)
        for head in (self.node_out, self.edge_out):
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)

    def forward(self, graph: Any) -> tuple[torch.Tensor, torch.Tensor]:
        h = torch.relu(self.node_in(graph.x))
        e = torch.relu(self.edge_in(graph.edge_attr))
        lower_src, lower_dst = graph.edge_index[0], graph.edge_index[1]
        for k, block in enumerate(self.blocks):
            if k % 2 == 0:
                h, e = block(h, e, lower_src, lower_dst)
            else:
                h, e = block(h, e, lower_dst, lower_src)
        return self.node_out(h).squeeze(1), self.edge_out(e).squeeze(1)


class NeuralIF(nn.Module):
    """A factor learned from scratch (NeuralIF-style), initialised at symmetric Gauss–Seidel.

    ``forward(graph)`` returns ``(diag, off)`` of the scaled factor ``L̂``.

    Examples
    --------
    >>> import torch
    >>> from itersolve.pdes import poisson
    >>> from itersolve.preconditioners.gnn.graph import matrix_to_graph
    >>> g = matrix_to_graph(poisson((4, 4)))
    >>> diag, off = NeuralIF(hidden=4, layers=2)(g)
    >>> bool((diag > 0).all()), bool(torch.equal(off, g.a_off))
    (True, True)
    """

    arch = "neuralif"

    def __init__(self, hidden: int = 16, layers: int = 4, level: int = 0) -> None:
        super().__init__()
        self.trunk = FactorTrunk(hidden, layers)
        self.level = int(level)

    def forward(self, graph: Any) -> tuple[torch.Tensor, torch.Tensor]:
        gd, go = self.trunk(graph)
        return torch.exp(gd.clamp(-CLAMP, CLAMP)), graph.a_off + go


class PreCorrector(nn.Module):
    """A learned correction of IC(k): ``L̂ = l̂_IC + α·GNN(l̂_IC)`` with ``α`` starting at 0.

    ``forward(graph)`` returns ``(diag, off)`` of the scaled factor ``L̂``;
    ``level`` is the level of fill of the corrected factor (0: IC(0), 1: IC(1)).

    Examples
    --------
    >>> m = PreCorrector(hidden=4, layers=2)
    >>> float(m.alpha.detach())
    0.0
    """

    arch = "precorrector"

    def __init__(self, hidden: int = 16, layers: int = 4, level: int = 0) -> None:
        super().__init__()
        self.trunk = FactorTrunk(hidden, layers)
        self.level = int(level)
        self.alpha = nn.Parameter(torch.zeros(()))
        # the zero heads would leave alpha without a gradient direction; give them a small start
        nn.init.normal_(self.trunk.edge_out.weight, std=1e-2)
        nn.init.normal_(self.trunk.node_out.weight, std=1e-2)

    def forward(self, graph: Any) -> tuple[torch.Tensor, torch.Tensor]:
        gd, go = self.trunk(graph)
        diag = graph.ic_diag * torch.exp((self.alpha * gd).clamp(-CLAMP, CLAMP))
        return diag, graph.ic_off + self.alpha * go


#: Model classes by their ``arch`` name (as written in weight configs).
ARCHITECTURES: dict[str, type[nn.Module]] = {"neuralif": NeuralIF, "precorrector": PreCorrector}


def build_model(arch: str, hidden: int = 16, layers: int = 4, level: int = 0) -> nn.Module:
    """A fresh model of the named architecture.

    Examples
    --------
    >>> type(build_model("precorrector", hidden=8, layers=2)).__name__
    'PreCorrector'
    """
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown GNN architecture {arch!r}; known: {sorted(ARCHITECTURES)}")
    if int(level) != level or level < 0:
        raise ValueError(f"level must be an integer >= 0, got {level}")
    return ARCHITECTURES[arch](hidden=hidden, layers=layers, level=level)
