"""Algebraic multigrid preconditioner: one pyamg V-cycle per apply.

Examples
--------
>>> import numpy as np, scipy.sparse as sp
>>> from scipy.sparse.linalg import cg
>>> from itersolve.preconditioners import AMG
>>> T = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(40, 40))
>>> A = (sp.kron(T, sp.eye(40)) + sp.kron(sp.eye(40), T)).tocsr()
>>> P = AMG(A)
>>> x, info = cg(A, np.ones(1600), M=P, rtol=1e-8)
>>> info, P.symmetric, P.levels > 1
(0, True, True)
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from .base import Preconditioner, is_symmetric

__all__ = ["AMG"]

_SYMMETRIC_SMOOTHER = ("gauss_seidel", {"sweep": "symmetric"})


class AMG(Preconditioner):
    """Algebraic multigrid (pyamg) with one multigrid cycle as ``M^-1``.

    Parameters
    ----------
    A : sparse matrix or dense array
        Square matrix; SPD for smoothed aggregation / use in CG.
    kind : {"sa", "rs"}
        ``"sa"``: :func:`pyamg.smoothed_aggregation_solver`;
        ``"rs"``: :func:`pyamg.ruge_stuben_solver` (classical AMG).
    cycle : {"V", "W", "F"}
        The cycle one apply runs, from a zero initial guess.
    dtype : dtype, optional
        Compute in this dtype instead of ``A``'s (pyamg supports float32).
    **pyamg_options
        Passed to the pyamg constructor (``max_coarse``, ``strength``,
        ``presmoother``, ...). Unless given, pre- and post-smoother are
        symmetric Gauss-Seidel, so the cycle is a symmetric operator for
        symmetric ``A`` and the preconditioner is usable in CG.

    Attributes
    ----------
    ml : pyamg.multilevel.MultilevelSolver
        The hierarchy.
    levels : int
        Number of levels.
    operator_complexity : float
        pyamg's operator complexity (nnz of all levels / nnz of ``A``).
    setup_time : float
        Seconds for normalisation and the pyamg setup (usually the dominant
        cost of AMG for a single solve).

    Notes
    -----
    ``symmetric`` is ``True`` when ``A`` is symmetric and the smoothers were
    not overridden (with user smoothers it is ``True`` only when ``A`` is
    symmetric and ``symmetric=True`` is passed explicitly).

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> A = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(500, 500), format="csr")
    >>> P = AMG(A, kind="rs")
    >>> r = np.ones(500)
    >>> bool(np.linalg.norm(r - A @ P.apply(r)) < np.linalg.norm(r))
    True
    """

    def __init__(
        self,
        A: Any,
        kind: Literal["sa", "rs"] = "sa",
        *,
        cycle: Literal["V", "W", "F"] = "V",
        symmetric: bool | None = None,
        dtype: np.dtype | type | None = None,
        **pyamg_options: Any,
    ) -> None:
        if kind not in ("sa", "rs"):
            raise ValueError(f"kind must be 'sa' or 'rs', got {kind!r}")
        if cycle not in ("V", "W", "F"):
            raise ValueError(f"cycle must be 'V', 'W' or 'F', got {cycle!r}")
        self.kind = kind
        self.cycle = cycle
        self._symmetric_in = symmetric
        self.pyamg_options = dict(pyamg_options)
        super().__init__(A, dtype=dtype)

    def _setup(self) -> None:
        import pyamg

        opts = dict(self.pyamg_options)
        custom = "presmoother" in opts or "postsmoother" in opts
        opts.setdefault("presmoother", _SYMMETRIC_SMOOTHER)
        opts.setdefault("postsmoother", _SYMMETRIC_SMOOTHER)
        build = pyamg.smoothed_aggregation_solver if self.kind == "sa" else pyamg.ruge_stuben_solver
        self.ml = build(self.A, **opts)
        self.levels = len(self.ml.levels)
        self.operator_complexity = float(self.ml.operator_complexity())
        sym = is_symmetric(self.A)
        if self._symmetric_in is not None:
            self.symmetric = bool(self._symmetric_in) and sym
        else:
            self.symmetric = sym and not custom
        self._cycle_fn = getattr(self.ml, "_MultilevelSolver__solve", None)

    def _apply(self, r: np.ndarray, out: np.ndarray) -> None:
        ml = self.ml
        if self.levels == 1 or self._cycle_fn is None:
            z = ml.solve(r, x0=np.zeros_like(r), maxiter=1, tol=1e-300, cycle=self.cycle)
            out[:] = z
            return
        # one cycle from x = 0, without pyamg.solve's residual norms
        out[:] = 0
        self._cycle_fn(0, out, r, self.cycle)
