"""The ``Preconditioner`` base class: an approximation of ``A^-1`` that is also a
``scipy.sparse.linalg.LinearOperator``.

A preconditioner is built once from ``A`` (normalised by
:func:`itersolve.sparse.as_csr`), records how long that took
(``setup_time``), and then applies ``M^-1`` to vectors:

* ``P.apply(r, out=None)`` -- the fast path used by itersolve's solvers;
  writes into ``out`` when given;
* ``P @ r``, ``P.matvec(r)``, ``P.dot(r)`` -- the ``LinearOperator`` path,
  so ``P`` drops into ``scipy.sparse.linalg.cg(A, b, M=P)`` and pyamg's Krylov
  methods unchanged.

Everything is computed in the dtype of ``A`` (float32 or float64); vectors of
another dtype are converted on the way in.

Examples
--------
>>> import numpy as np, scipy.sparse as sp
>>> from scipy.sparse.linalg import cg
>>> from itersolve.preconditioners import Jacobi
>>> A = sp.diags([-1.0, 4.0, -1.0], [-1, 0, 1], shape=(50, 50), format="csr")
>>> P = Jacobi(A)
>>> P.symmetric, P.shape, P.dtype
(True, (50, 50), dtype('float64'))
>>> (P @ np.full(50, 4.0))[:3]
array([1., 1., 1.])
>>> x, info = cg(A, np.ones(50), M=P)
>>> info
0
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator

from ..kernels.operator import SparseOperator
from ..sparse import as_csr

__all__ = ["Preconditioner", "is_symmetric"]


def is_symmetric(A: sp.csr_matrix, rtol: float | None = None) -> bool:
    """Whether ``A`` equals its transpose up to ``rtol * max|A|``.

    ``rtol`` defaults to 1e-12 for float64 and 1e-5 for float32 values.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> is_symmetric(sp.csr_matrix([[2.0, 1.0], [1.0, 2.0]])), is_symmetric(sp.csr_matrix([[2.0, 1.0], [0.0, 2.0]]))
    (True, False)
    """
    if A.shape[0] != A.shape[1]:
        return False
    if A.nnz == 0:
        return True
    D = (A - A.T).tocsr()
    if D.nnz == 0:
        return True
    if rtol is None:
        rtol = 1e-5 if A.dtype == np.float32 else 1e-12
    tol = rtol * float(np.max(np.abs(A.data)))
    return bool(np.max(np.abs(D.data)) <= tol)


class Preconditioner(LinearOperator):
    """Base class of all itersolve preconditioners.

    Subclasses set their own parameters, then call ``super().__init__(A)``,
    which normalises ``A``, runs ``self._setup()`` and times it; they
    implement ``_apply(r, out)`` (``out = M^-1 r``, both contiguous vectors of
    ``self.dtype``).

    Parameters
    ----------
    A : sparse matrix or dense array
        The (square) system matrix. Anything :func:`itersolve.sparse.as_csr`
        accepts.
    dtype : dtype, optional
        Compute in this dtype (float32 or float64) instead of ``A``'s.

    Attributes
    ----------
    A : scipy.sparse.csr_matrix
        The normalised matrix.
    n : int
        Its order.
    dtype : numpy.dtype
        The dtype ``apply`` computes and returns in.
    symmetric : bool
        ``True`` when ``M^-1`` is symmetric positive definite (for an SPD
        ``A``), so the preconditioner may be used in CG.
    setup_time : float
        Seconds the construction took (normalisation included).
    """

    #: ``True`` when ``M^-1`` is SPD for an SPD ``A`` -- usable in CG.
    symmetric: bool = True

    def __init__(self, A: Any, *, dtype: np.dtype | type | None = None) -> None:
        t0 = time.perf_counter()
        self.A = as_csr(A, name="A", dtype=dtype)
        self.n = int(self.A.shape[0])
        super().__init__(dtype=self.A.dtype, shape=self.A.shape)
        self._operator: SparseOperator | None = None
        self._setup()
        self.setup_time = time.perf_counter() - t0

    # --------------------------------------------------------------- subclass API
    def _setup(self) -> None:  # pragma: no cover - overridden
        """Build the preconditioner from ``self.A``."""

    def _apply(self, r: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _apply_transpose(self, r: np.ndarray, out: np.ndarray) -> None:
        """``out = M^-T r``; symmetric preconditioners reuse ``_apply``."""
        if self.symmetric:
            self._apply(r, out)
            return
        raise NotImplementedError(f"{type(self).__name__} does not implement the transposed apply (rmatvec)")

    # ------------------------------------------------------------------- public
    @property
    def operator(self) -> SparseOperator:
        """A :class:`~itersolve.kernels.SparseOperator` on ``A`` (built on first use)."""
        if self._operator is None:
            self._operator = SparseOperator(self.A)
        return self._operator

    def apply(self, r: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``M^-1 r``, written into ``out`` when given; returns the result.

        ``r`` is used as it is when it is a contiguous vector of ``self.dtype``
        (converted otherwise). ``r`` is never modified; ``out`` must not be
        ``r``.
        """
        if r.dtype != self.dtype or not r.flags.c_contiguous or r.ndim != 1:
            r = np.ascontiguousarray(r, dtype=self.dtype).reshape(-1)
        if out is None:
            out = np.empty(self.n, self.dtype)
            self._apply(r, out)
            return out
        if out.dtype != self.dtype or not out.flags.c_contiguous:
            tmp = np.empty(self.n, self.dtype)
            self._apply(r, tmp)
            out[...] = tmp.reshape(out.shape)
            return out
        self._apply(r, out)
        return out

    def __call__(self, r: np.ndarray) -> np.ndarray:
        """Same as ``apply(r)``."""
        return self.apply(np.asarray(r))

    # ---------------------------------------------------- LinearOperator hooks
    def _matvec(self, x: np.ndarray) -> np.ndarray:
        return self.apply(np.ascontiguousarray(x, dtype=self.dtype).reshape(-1))

    def _rmatvec(self, x: np.ndarray) -> np.ndarray:
        r = np.ascontiguousarray(x, dtype=self.dtype).reshape(-1)
        out = np.empty(self.n, self.dtype)
        self._apply_transpose(r, out)
        return out

    def _adjoint(self) -> LinearOperator:
        if self.symmetric:
            return self
        return _TransposedPreconditioner(self)

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} n={self.n} dtype={self.dtype} symmetric={self.symmetric} "
            f"setup_time={self.setup_time:.3g}s>"
        )


class _TransposedPreconditioner(LinearOperator):
    """``M^-T`` of a nonsymmetric preconditioner, as a ``LinearOperator``."""

    def __init__(self, P: Preconditioner) -> None:
        self._P = P
        super().__init__(dtype=P.dtype, shape=P.shape)

    def _matvec(self, x: np.ndarray) -> np.ndarray:
        return self._P._rmatvec(x)

    def _rmatvec(self, x: np.ndarray) -> np.ndarray:
        return self._P._matvec(x)

    def _adjoint(self) -> LinearOperator:
        return self._P
