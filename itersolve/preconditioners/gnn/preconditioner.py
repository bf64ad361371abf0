"""``GNNPreconditioner``: a learned incomplete Cholesky factor used exactly like ``IC0``.

Setup: matrix -> graph (:func:`~.graph.matrix_to_graph`) -> GNN, run without
gradient -> factor ``L`` in CSR on the pattern of ``tril(A)`` -> ``Lᵀ`` and
the level schedules. Apply: ``M⁻¹ r = L⁻ᵀ L⁻¹ r``, two level-scheduled
triangular solves on the Numba kernels (the same kernels and the same
sparsity as :class:`~itersolve.preconditioners.IC0`, so an apply costs what an
IC(0) apply costs).

If the model yields NaN/Inf or a non-positive diagonal entry, the
preconditioner falls back to IC(0) with a :class:`GNNFallbackWarning` (or
raises ``ValueError`` when ``strict=True``); ``P.fallback`` says which
happened. Never a wrong answer: the fallback is an ordinary IC(0).

This module does not import torch; building a ``GNNPreconditioner`` does (it
needs the ``torch`` extra).
"""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ...kernels.triangular import level_schedule, lower_solve, upper_solve
from ..base import Preconditioner
from ..classical import IC0

__all__ = ["GNNPreconditioner", "GNNFallbackWarning", "DEFAULT_MODEL", "load_pretrained"]

#: The shipped model used when none is named: the best one for 2-D diffusion.
DEFAULT_MODEL = "diffusion2d"

_CACHE: dict[tuple[str, str], Any] = {}


class GNNFallbackWarning(RuntimeWarning):
    """The GNN's factor was unusable (NaN/Inf or a non-positive pivot); IC(0) is used instead."""


def load_pretrained(name: str, dtype: str = "float32") -> Any:
    """A shipped model by name (see :func:`itersolve.pretrained.available`), or a checkpoint path.

    Loaded once per process and cached; returned in eval mode, in ``dtype``.

    Examples
    --------
    >>> model = load_pretrained("diffusion2d")
    >>> model.arch
    'precorrector'
    """
    from ... import pretrained
    from ._torch import require_torch

    torch = require_torch()
    from .io import load_model

    key = (str(name), str(dtype))
    if key not in _CACHE:
        if str(name).endswith(".safetensors") or os.sep in str(name):
            path = Path(name)
        else:
            path = pretrained.path(name)  # KeyError naming the available models
        model, _ = load_model(path)
        _CACHE[key] = model.to(getattr(torch, dtype))
    return _CACHE[key]


class GNNPreconditioner(Preconditioner):
    """Learned incomplete Cholesky preconditioner ``M = L Lᵀ`` from a graph network.

    Parameters
    ----------
    A : sparse matrix or dense array
        Symmetric positive definite, positive diagonal.
    model : str or torch.nn.Module
        A shipped model by name (:func:`itersolve.pretrained.available`; the
        default ``"diffusion2d"`` is the best shipped one for 2-D diffusion),
        a path to a ``.safetensors`` checkpoint (with its ``.json``), or a
        module whose ``forward(graph)`` returns ``(diag, off)`` of the scaled
        factor, e.g. a :class:`~.models.PreCorrector` or
        :class:`~.models.NeuralIF`.
    dtype : dtype, optional
        Compute (apply) in this dtype instead of ``A``'s.
    strict : bool
        Raise ``ValueError`` instead of falling back to IC(0) when the model's
        factor is unusable.
    inference_dtype : {"float32", "float64"}
        Precision of the network for shipped/path models (a module is run in
        the dtype of its parameters).

    Attributes
    ----------
    L, LT : scipy.sparse.csr_matrix
        The factor and its transpose (pattern of ``tril(A)``).
    fallback : bool
        ``True`` when IC(0) replaced the model's factor.
    graph_time, inference_time : float
        Seconds to build the graph and to run the network (both in ``setup_time``).

    Raises
    ------
    ValueError
        If ``A`` has a non-positive diagonal, or (``strict=True``) if the
        model's factor has NaN/Inf or a non-positive diagonal entry.
    ImportError
        If the ``torch`` extra is not installed.

    Examples
    --------
    >>> import numpy as np, itersolve
    >>> from itersolve.pdes import diffusion, random_field
    >>> from itersolve.preconditioners import IC0, GNNPreconditioner
    >>> A = diffusion(random_field((48, 48), variance=1.1, seed=123))
    >>> b = np.random.default_rng(0).standard_normal(A.shape[0])
    >>> P = GNNPreconditioner(A)                                # the shipped "diffusion2d" model
    >>> res = itersolve.cg(A, b, M=P, rtol=1e-8)
    >>> res.converged, P.fallback, P.L.nnz == IC0(A).L.nnz
    (True, False, True)
    >>> res.iterations < itersolve.cg(A, b, M=IC0(A), rtol=1e-8).iterations
    True
    """

    symmetric = True

    def __init__(
        self,
        A: Any,
        model: Any = DEFAULT_MODEL,
        *,
        dtype: np.dtype | type | None = None,
        strict: bool = False,
        inference_dtype: str = "float32",
    ) -> None:
        if inference_dtype not in ("float32", "float64"):
            raise ValueError(f"inference_dtype must be 'float32' or 'float64', got {inference_dtype!r}")
        self.model = model
        self.strict = bool(strict)
        self.inference_dtype = inference_dtype
        super().__init__(A, dtype=dtype)

    def _resolve_model(self) -> Any:
        if isinstance(self.model, (str, os.PathLike)):
            return load_pretrained(str(self.model), self.inference_dtype)
        if not callable(self.model):
            raise TypeError(f"model must be a shipped model name, a checkpoint path or a torch module, got {self.model!r}")
        return self.model

    def _setup(self) -> None:
        from ._torch import require_torch

        torch = require_torch()
        from .graph import factor_to_csr, matrix_to_graph

        model = self._resolve_model()
        params = list(model.parameters()) if hasattr(model, "parameters") else []
        tdtype = params[0].dtype if params else torch.float32
        t0 = time.perf_counter()
        graph = matrix_to_graph(self.A, dtype=tdtype)
        t1 = time.perf_counter()
        with torch.inference_mode():
            diag, off = model(graph)
        self.inference_time = time.perf_counter() - t1
        self.graph_time = t1 - t0
        diag = diag.detach().double().numpy()
        off = off.detach().double().numpy()
        problem = _factor_problem(diag, off)
        L = None
        if problem is None:
            L = factor_to_csr(graph, diag, off, dtype=self.dtype, index_dtype=self.A.indptr.dtype)
            problem = _factor_problem(L.data[graph.diag_pos], L.data)  # after rounding to dtype
        self.fallback = problem is not None
        self.fallback_reason = problem
        if problem is not None:
            msg = f"the GNN factor is unusable ({problem})"
            if self.strict:
                raise ValueError(msg + "; strict=True, so no fallback to IC(0)")
            warnings.warn(msg + "; falling back to IC(0)", GNNFallbackWarning, stacklevel=4)
            L = IC0(self.A, shift=1e-3 if graph.ic0_shift > 0 else 0.0, dtype=self.dtype).L
        self.L = L
        LT = L.T.tocsr()
        LT.sort_indices()
        LT.indptr, LT.indices = LT.indptr.astype(L.indptr.dtype), LT.indices.astype(L.indptr.dtype)
        self.LT = LT
        self._lower_levels = level_schedule(L.indptr, L.indices, True)
        self._upper_levels = level_schedule(LT.indptr, LT.indices, False)
        self._tmp = np.empty(self.n, self.dtype)

    def _apply(self, r: np.ndarray, out: np.ndarray) -> None:
        L, LT, tmp = self.L, self.LT, self._tmp
        lp, lr = self._lower_levels
        up, ur = self._upper_levels
        lower_solve(L.indptr, L.indices, L.data, lp, lr, r, tmp, False)
        upper_solve(LT.indptr, LT.indices, LT.data, up, ur, tmp, out, False)

    def __repr__(self) -> str:
        name = self.model if isinstance(self.model, str) else type(self.model).__name__
        return (f"<GNNPreconditioner model={name} n={self.n} dtype={self.dtype} fallback={self.fallback} "
                f"setup_time={self.setup_time:.3g}s>")


def _factor_problem(diag: np.ndarray, values: np.ndarray) -> str | None:
    """Why a factor is unusable, or ``None`` when it is fine."""
    if not np.all(np.isfinite(values)) or not np.all(np.isfinite(diag)):
        return "NaN or Inf entries"
    if not np.all(diag > 0):
        i = int(np.flatnonzero(~(diag > 0))[0])
        return f"non-positive pivot L[{i},{i}] = {diag[i]:g}"
    return None
