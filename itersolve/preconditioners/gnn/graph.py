"""Matrix <-> graph: a symmetric CSR matrix as a PyG ``Data``, a factor back as CSR.

The graph lives in the Jacobi-scaled space ``Â = D^-1/2 A D^-1/2``
(``D = diag(A)``, which must be positive): every feature is then invariant to
the scale of ``A`` (and to any symmetric diagonal scaling of it), and a factor
``L̂`` learned for ``Â`` maps back as ``L = D^1/2 L̂``, so that
``L Lᵀ = D^1/2 L̂ L̂ᵀ D^1/2 ≈ A`` whenever ``L̂ L̂ᵀ ≈ Â``. IC(0) commutes with
this scaling, so the scaled IC(0) factor stored on the graph is exactly
``D^-1/2 IC0(A)``.

Nodes are the unknowns; the edges are the strictly lower entries of the
factor's pattern (one per symmetric pair), stored PyG-style as
``edge_index = [source, target] = [j, i]`` with ``j < i``: messages along the
edges flow "down" the lower triangle, against them "up" the upper one. The
sparsity pattern of the factor is fixed before any model runs: the pattern
of ``tril(A)`` (diagonal included) for ``level=0``, or the IC(k) pattern with
``level`` k of fill (:func:`itersolve.preconditioners.classical.ick_pattern`),
whose fill edges carry ``â_ij = 0``; the IC features are then those of the
scaled IC(k) factor.

Attributes of the returned ``Data``
-----------------------------------
x : (n, 4) node features -- ``log d_i`` minus its mean, ``Σ_j |â_ij|``,
    degree / max degree, the scaled IC(0) diagonal ``l̂_ii``.
edge_attr : (E, 2) edge features -- ``â_ij`` and the scaled IC(0) entry ``l̂_ij``.
a_off : (E,) ``â_ij``; ic_diag : (n,) and ic_off : (E,) the scaled IC(0) factor
(IC(k) for ``level`` k); level : the level of fill of the pattern.
Plus NumPy bookkeeping used to assemble the factor (``tril_indptr``,
``tril_indices``, ``diag_pos``, ``off_pos``, ``sqrt_diag``) and ``ic0_shift``,
the Manteuffel shift IC(0) needed (0 when none).

Examples
--------
>>> import numpy as np
>>> from itersolve.pdes import poisson
>>> from itersolve.preconditioners.gnn.graph import matrix_to_graph, graph_to_matrix
>>> A = 3.0 * poisson((4, 4))
>>> g = matrix_to_graph(A)
>>> g.num_nodes, g.edge_index.shape[1], tuple(g.x.shape), tuple(g.edge_attr.shape)
(16, 24, (16, 4), (24, 2))
>>> float(g.edge_attr[0, 0])                           # -3 / sqrt(12 * 12): scale-free
-0.25
>>> bool(abs(graph_to_matrix(g) - A).max() < 1e-12)
True
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from ...kernels.factorize import ic0
from ...sparse import as_csr
from ..classical import ick_pattern
from ._torch import require_torch

__all__ = ["matrix_to_graph", "factor_to_csr", "graph_to_matrix", "NODE_FEATURES", "EDGE_FEATURES",
           "NUMPY_KEYS"]

#: Number of node and edge features.
NODE_FEATURES = 4
EDGE_FEATURES = 2
#: The NumPy bookkeeping attributes (left out when graphs are batched).
NUMPY_KEYS = ("tril_indptr", "tril_indices", "diag_pos", "off_pos", "sqrt_diag", "ic0_shift", "level")


def _lower_pattern(A: sp.csr_matrix, level: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The IC(level) pattern with ``tril(A)``'s values (diagonal last in each row); also the row of each entry."""
    lp, li, lv = ick_pattern(A, level)
    rows = np.repeat(np.arange(A.shape[0], dtype=np.int64), np.diff(lp))
    return lp.astype(np.int64), li.astype(np.int64), lv.astype(np.float64), rows


def _scaled_ic0(lp: np.ndarray, li: np.ndarray, vals: np.ndarray, diag_pos: np.ndarray,
                max_shifts: int = 12) -> tuple[np.ndarray, float]:
    """IC of the scaled ``tril(Â)`` on its pattern; on breakdown retry with ``(1 + α)`` on the diagonal."""
    alpha = 0.0
    for _ in range(max_shifts + 1):
        v = vals
        if alpha > 0:
            v = vals.copy()
            v[diag_pos] *= 1.0 + alpha
        out, status = ic0(lp, li, v)
        if status < 0:
            return out, alpha
        alpha = 1e-3 if alpha == 0 else 2.0 * alpha
    raise ValueError("IC of the scaled matrix broke down even with diagonal shifts; is A SPD?")


def matrix_to_graph(A: Any, *, dtype: Any = None, level: int = 0) -> Any:
    """A PyG ``Data`` describing the symmetric positive-diagonal matrix ``A``.

    Parameters
    ----------
    A : sparse matrix or dense array
        Symmetric, with a positive diagonal (SPD for use with CG). Only its
        lower triangle is read.
    dtype : torch.dtype, optional
        Floating dtype of the feature tensors (``torch.float32`` by default).
    level : int
        Level of fill of the factor's pattern: 0 for ``tril(A)`` (IC(0)),
        1 for the IC(1) pattern, ...

    Returns
    -------
    torch_geometric.data.Data
        See the module docstring for the attributes.

    Raises
    ------
    ValueError
        If the diagonal of ``A`` is not positive everywhere.

    Examples
    --------
    >>> import numpy as np
    >>> g = matrix_to_graph(np.array([[4.0, -1.0], [-1.0, 4.0]]))
    >>> g.edge_index.tolist(), g.a_off.tolist()
    ([[0], [1]], [-0.25])
    >>> from itersolve.pdes import poisson
    >>> g1 = matrix_to_graph(poisson((4, 4)), level=1)         # 9 fill edges with a_off = 0
    >>> g1.edge_index.shape[1], int((g1.a_off == 0).sum()), g1.level
    (33, 9, 1)
    """
    torch = require_torch()
    from torch_geometric.data import Data

    dtype = torch.float32 if dtype is None else dtype
    A = as_csr(A, name="A", dtype=np.float64)
    n = A.shape[0]
    lp, li, lv, rows = _lower_pattern(A, int(level))
    diag_pos = lp[1:] - 1
    d = lv[diag_pos]
    if not np.all(d > 0):
        i = int(np.flatnonzero(~(d > 0))[0])
        raise ValueError(f"A needs a positive diagonal (A[{i},{i}] = {d[i]:g}); is A symmetric positive definite?")
    s = np.sqrt(d)
    vals = lv / (s[rows] * s[li])  # tril(Â)
    vals[diag_pos] = 1.0
    off_pos = np.flatnonzero(li < rows)
    src, dst = li[off_pos], rows[off_pos]
    a_off = vals[off_pos]
    # row statistics of the full Â (both triangles)
    offsum = np.bincount(dst, np.abs(a_off), minlength=n) + np.bincount(src, np.abs(a_off), minlength=n)
    deg = np.bincount(dst, minlength=n) + np.bincount(src, minlength=n)  # in the factor's pattern
    logd = np.log(d)
    ic, shift = _scaled_ic0(lp, li, vals, diag_pos)
    x = np.stack([logd - logd.mean(), offsum, deg / max(int(deg.max()), 1), ic[diag_pos]], axis=1)
    e = np.stack([a_off, ic[off_pos]], axis=1)

    def t(a: np.ndarray) -> Any:
        return torch.as_tensor(np.ascontiguousarray(a), dtype=dtype)

    g = Data(
        x=t(x),
        edge_index=torch.as_tensor(np.stack([src, dst]), dtype=torch.long),
        edge_attr=t(e),
        a_off=t(a_off),
        ic_diag=t(ic[diag_pos]),
        ic_off=t(ic[off_pos]),
        num_nodes=n,
    )
    g.tril_indptr, g.tril_indices, g.diag_pos, g.off_pos = lp, li, diag_pos, off_pos
    g.sqrt_diag, g.ic0_shift, g.level = s, float(shift), int(level)
    return g


def factor_to_csr(graph: Any, diag: Any, off: Any, *, dtype: Any = np.float64,
                  index_dtype: Any = np.int64) -> sp.csr_matrix:
    """The factor ``L = D^1/2 L̂`` in CSR on the graph's pattern (``tril(A)`` at level 0).

    Parameters
    ----------
    graph : Data
        From :func:`matrix_to_graph`.
    diag, off : array_like or torch.Tensor
        ``L̂``'s diagonal (n,) and strictly lower entries (E,), in edge order.
    dtype : numpy dtype
        Value dtype of the result.
    index_dtype : numpy dtype
        Dtype of its ``indptr`` and ``indices`` (int32 or int64).

    Returns
    -------
    scipy.sparse.csr_matrix
        Lower triangular, sorted indices, the diagonal last in each row.

    Examples
    --------
    >>> import numpy as np
    >>> g = matrix_to_graph(np.array([[4.0, 2.0], [2.0, 5.0]]))
    >>> L = factor_to_csr(g, g.ic_diag, g.ic_off)          # the IC(0) factor (exact here)
    >>> np.round(L.toarray(), 6)
    array([[2., 0.],
           [1., 2.]])
    """
    def npy(v: Any) -> np.ndarray:
        if hasattr(v, "detach"):
            v = v.detach().cpu().numpy()
        return np.asarray(v, dtype=np.float64).reshape(-1)

    lp, li = graph.tril_indptr, graph.tril_indices
    n = lp.shape[0] - 1
    data = np.empty(li.shape[0], np.float64)
    data[graph.diag_pos] = npy(diag)
    data[graph.off_pos] = npy(off)
    rows = np.repeat(np.arange(n), np.diff(lp))
    data *= graph.sqrt_diag[rows]
    ip, ix = lp.astype(index_dtype), li.astype(index_dtype)
    L = sp.csr_matrix((data.astype(dtype), ix, ip), shape=(n, n))
    L.indptr, L.indices = ip, ix  # keep the index dtype and the stored pattern (explicit zeros too)
    return L


def graph_to_matrix(graph: Any) -> sp.csr_matrix:
    """Rebuild ``A`` from the graph (the inverse of :func:`matrix_to_graph`).

    Examples
    --------
    >>> import numpy as np
    >>> A = np.array([[4.0, -1.0, 0.0], [-1.0, 9.0, 2.0], [0.0, 2.0, 1.0]])
    >>> bool(np.allclose(graph_to_matrix(matrix_to_graph(A)).toarray(), A))
    True
    """
    s = graph.sqrt_diag
    n = s.shape[0]
    src, dst = (graph.edge_index[0].numpy(), graph.edge_index[1].numpy())
    a = graph.a_off.detach().double().numpy() * s[src] * s[dst]
    rows = np.concatenate([dst, src, np.arange(n)])
    cols = np.concatenate([src, dst, np.arange(n)])
    vals = np.concatenate([a, a, s * s])
    return sp.csr_matrix((vals, (rows, cols)), shape=(n, n))
