"""``GNNPreconditioner``: a learned incomplete Cholesky factor used exactly like ``IC0``.

Setup: matrix -> graph (:func:`~.graph.matrix_to_graph`) -> GNN, run without
gradient -> factor ``L`` in CSR on the pattern of ``tril(A)`` (or of IC(k) for
a model with ``level=k``) -> ``Lᵀ`` and the level schedules. Apply: ``M⁻¹ r = L⁻ᵀ L⁻¹ r``, two level-scheduled
triangular solves on the Numba kernels (the same kernels and the same
sparsity as :class:`~itersolve.preconditioners.IC0` -- or as IC(k) for a
model of level k -- so an apply costs what that classical apply costs).

If the model yields NaN/Inf or a non-positive diagonal entry, or fails the
setup probe (see :class:`GNNPreconditioner`), the preconditioner falls back to IC(0) (IC(k) for a level-k model) with a
:class:`GNNFallbackWarning` (or raises ``ValueError`` when ``strict=True``);
``P.fallback`` says which happened. Never a wrong answer: the fallback is an
ordinary incomplete Cholesky factor.

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

from ..base import Preconditioner
from ..classical import ICk, _CholeskyFactor

__all__ = ["GNNPreconditioner", "GNNFallbackWarning", "DEFAULT_MODEL", "PROBE_BOUND", "load_pretrained"]

#: The shipped model used when none is named: the best one for 2-D diffusion.
DEFAULT_MODEL = "diffusion2d"
#: Largest Rayleigh quotient of ``M⁻¹A`` accepted on the setup probe (see :class:`GNNPreconditioner`).
PROBE_BOUND = 1e2

_CACHE: dict[tuple[str, str], Any] = {}


class GNNFallbackWarning(RuntimeWarning):
    """The GNN's factor was unusable (NaN/Inf or a non-positive pivot); IC(0) (IC(k)) is used instead."""


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


class GNNPreconditioner(_CholeskyFactor, Preconditioner):
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
    probe_bound : float
        Largest accepted Rayleigh quotient of ``M⁻¹A`` on the setup probe
        (see Notes; default :data:`PROBE_BOUND`, ``numpy.inf`` keeps only the
        finiteness check).

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
        model's factor has NaN/Inf or a non-positive diagonal entry or fails
        the probe.
    ImportError
        If the ``torch`` extra is not installed.

    Notes
    -----
    The setup probe: one apply and one product with ``A`` on the
    alternating vector ``v = (1, -1, 1, ...)`` give ``q = pᵀAp / pᵀv`` with
    ``p = M⁻¹v``, a Rayleigh quotient of ``M^-1/2 A M^-1/2``, so a lower bound
    on ``λ_max(M⁻¹A)``. A factor that approximates ``A`` keeps it near 1
    (about 1.4 for the shipped models on 2-D diffusion, about 1 for IC(0)); a
    model applied far outside its training distribution (anisotropic
    diffusion, FEM matrices, for the diffusion model) gave ``5·10^2`` to
    ``10^84`` and PCG stalled or overflowed. Above ``probe_bound`` (or not
    finite) the factor is treated as unusable. A check, not a guarantee.

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
        probe_bound: float = PROBE_BOUND,
    ) -> None:
        if inference_dtype not in ("float32", "float64"):
            raise ValueError(f"inference_dtype must be 'float32' or 'float64', got {inference_dtype!r}")
        self.model = model
        self.strict = bool(strict)
        self.inference_dtype = inference_dtype
        if not probe_bound > 0:
            raise ValueError(f"probe_bound must be > 0, got {probe_bound}")
        self.probe_bound = float(probe_bound)
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
        level = int(getattr(model, "level", 0))
        graph = matrix_to_graph(self.A, dtype=tdtype, level=level)
        t1 = time.perf_counter()
        with torch.inference_mode():
            diag, off = model(graph)
        self.inference_time = time.perf_counter() - t1
        self.graph_time = t1 - t0
        diag = diag.detach().double().numpy()
        off = off.detach().double().numpy()
        problem = _factor_problem(diag, off)
        if problem is None:
            self._use_factor(factor_to_csr(graph, diag, off, dtype=self.dtype, index_dtype=self.A.indptr.dtype))
            problem = _factor_problem(self.L.data[graph.diag_pos], self.L.data)  # after rounding to dtype
        if problem is None:
            problem = self._probe()
        self.fallback = problem is not None
        self.fallback_reason = problem
        if problem is not None:
            msg = f"the GNN factor is unusable ({problem})"
            if self.strict:
                raise ValueError(msg + "; strict=True, so no fallback to IC(0)")
            warnings.warn(msg + f"; falling back to IC({level})", GNNFallbackWarning, stacklevel=4)
            self._use_factor(ICk(self.A, level, shift=1e-3 if graph.ic0_shift > 0 else 0.0, dtype=self.dtype).L)

    def _probe(self) -> str | None:
        """Why the factor fails the probe check (see the class notes), or ``None``."""
        v = np.ones(self.n, self.dtype)
        v[1::2] = -1.0
        p = np.empty(self.n, self.dtype)
        self._apply(v, p)
        with np.errstate(all="ignore"):
            q = float(p @ (self.A @ p)) / float(p @ v)
        if np.isfinite(q) and 0.0 < q <= self.probe_bound:
            return None
        return (f"the probe's Rayleigh quotient of M^-1 A is {q:.3g}, not in (0, {self.probe_bound:g}]: "
                "is A far from the model's training distribution?")

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
