"""Classical preconditioners: Jacobi, SSOR, IC(0), IC(k), ILU(0), Chebyshev.

Each is a :class:`~itersolve.preconditioners.base.Preconditioner` (and so a
``scipy.sparse.linalg.LinearOperator``) whose ``apply`` runs on the Numba
kernels of :mod:`itersolve.kernels`.

Examples
--------
>>> import numpy as np, scipy.sparse as sp
>>> from scipy.sparse.linalg import cg
>>> from itersolve.preconditioners import IC0
>>> T = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(20, 20))
>>> A = (sp.kron(T, sp.eye(20)) + sp.kron(sp.eye(20), T)).tocsr()
>>> P = IC0(A)
>>> x, info = cg(A, np.ones(400), M=P, rtol=1e-8)
>>> info, bool(np.linalg.norm(A @ x - 1) < 1e-6)
(0, True)
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import scipy.sparse as sp
from scipy.linalg import eigvalsh_tridiagonal

from ..kernels import blas
from ..kernels.coloring import color_partition, greedy_coloring
from ..kernels.factorize import ic0, ilu0
from ..kernels.factorize_fill import iluk_pattern
from ..kernels.sweeps import sor_backward, sor_colored, sor_forward
from ..kernels.triangular import level_schedule, lower_solve, upper_solve
from ..sparse import diagonal
from .base import Preconditioner, is_symmetric

__all__ = ["Jacobi", "SSOR", "IC0", "ICk", "IC1", "ILU0", "Chebyshev", "ick_pattern"]


# ----------------------------------------------------------------- helpers


def _with_diagonal(A: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """CSR arrays of ``A`` with every diagonal entry stored (explicit zeros added).

    Returns ``(indptr, indices, data, rows)`` with ``rows[k]`` the row of entry
    ``k``; index arrays keep ``A``'s index dtype.
    """
    n = A.shape[0]
    itype = A.indptr.dtype
    rows = np.repeat(np.arange(n, dtype=itype), np.diff(A.indptr))
    on_diag = A.indices == rows
    has = np.zeros(n, dtype=bool)
    has[rows[on_diag]] = True
    if has.all():
        return A.indptr, A.indices, A.data, rows
    missing = np.flatnonzero(~has).astype(itype)
    r = np.concatenate([rows, missing])
    c = np.concatenate([A.indices, missing])
    v = np.concatenate([A.data, np.zeros(missing.size, A.dtype)])
    order = np.lexsort((c, r))
    r, c, v = r[order], c[order], v[order]
    indptr = np.zeros(n + 1, dtype=itype)
    np.cumsum(np.bincount(r, minlength=n), out=indptr[1:])
    return indptr, np.ascontiguousarray(c), np.ascontiguousarray(v), r


def _lower_part(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, rows: np.ndarray):
    """``tril`` of a CSR matrix (diagonal last in each row when it is stored)."""
    n = indptr.shape[0] - 1
    mask = indices <= rows
    lp = np.zeros(n + 1, dtype=indptr.dtype)
    np.cumsum(np.bincount(rows[mask], minlength=n), out=lp[1:])
    return lp, np.ascontiguousarray(indices[mask]), np.ascontiguousarray(data[mask])


def _check_shift(shift: float, max_shifts: int) -> None:
    if not np.isfinite(shift) or shift < 0:
        raise ValueError(f"shift must be a finite number >= 0, got {shift}")
    if int(max_shifts) != max_shifts or max_shifts < 0:
        raise ValueError(f"max_shifts must be an integer >= 0, got {max_shifts}")


# ------------------------------------------------------------------ Jacobi


class Jacobi(Preconditioner):
    """Jacobi (diagonal) preconditioner, ``M = diag(A)``.

    Parameters
    ----------
    A : sparse matrix or dense array
        Square matrix with no zero on its diagonal.
    dtype : dtype, optional
        Compute in this dtype instead of ``A``'s.

    Raises
    ------
    ValueError
        If ``A`` has a zero on its diagonal.

    Notes
    -----
    ``symmetric`` is ``True`` when the diagonal is positive (so for every SPD
    ``A``).

    Examples
    --------
    >>> import numpy as np
    >>> P = Jacobi(np.diag([2.0, 4.0]))
    >>> P.apply(np.array([2.0, 2.0]))
    array([1. , 0.5])
    """

    def __init__(self, A: Any, *, dtype: np.dtype | type | None = None) -> None:
        super().__init__(A, dtype=dtype)

    def _setup(self) -> None:
        d = diagonal(self.A, name="A")
        self.diag = d
        self.inv_diag = (1.0 / d).astype(self.dtype)
        self.symmetric = bool(np.all(d > 0))

    def _apply(self, r: np.ndarray, out: np.ndarray) -> None:
        blas.diag_scale(self.inv_diag, r, out)


# -------------------------------------------------------------------- SSOR


class SSOR(Preconditioner):
    """Symmetric SOR preconditioner.

    ``apply(r)`` runs one forward and one backward SOR sweep with relaxation
    ``omega`` from a zero initial guess. That is exactly ``M^-1 r`` for the
    SSOR preconditioner

        M = omega / (2 - omega) * (D/omega + L) D^-1 (D/omega + U)
          = 1 / (omega (2 - omega)) * (D + omega L) D^-1 (D + omega U),

    with ``A = L + D + U`` (strictly lower, diagonal, strictly upper); the
    sweeps produce the ``omega (2 - omega)`` scaling themselves.

    Parameters
    ----------
    A : sparse matrix or dense array
        Square matrix with no zero on its diagonal.
    omega : float
        Relaxation parameter, ``0 < omega < 2``.
    colored : bool
        Sweep in multicolour order (rows of one colour in parallel). This is
        the SSOR preconditioner of the colour-permuted matrix -- a different
        (usually slightly weaker) preconditioner, but parallel.
    dtype : dtype, optional
        Compute in this dtype instead of ``A``'s.

    Notes
    -----
    ``symmetric`` is ``True`` when ``A`` is symmetric with a positive
    diagonal; then ``M`` is SPD whenever ``A`` is, for every ``0 < omega < 2``.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.array([[4.0, -1.0], [-1.0, 4.0]])
    >>> P = SSOR(A, omega=1.0)
    >>> M = np.array([[4.0, 0.0], [-1.0, 4.0]]) @ np.diag([0.25, 0.25]) @ np.array([[4.0, -1.0], [0.0, 4.0]])
    >>> bool(np.allclose(P @ np.array([1.0, 2.0]), np.linalg.solve(M, [1.0, 2.0])))
    True
    """

    def __init__(
        self, A: Any, omega: float = 1.0, *, colored: bool = False, dtype: np.dtype | type | None = None
    ) -> None:
        if isinstance(omega, bool) or not isinstance(omega, (int, float, np.floating, np.integer)):
            raise TypeError(f"omega must be a real number, got {type(omega).__name__}")
        if not 0.0 < float(omega) < 2.0:
            raise ValueError(f"omega must lie in (0, 2) for SSOR, got {omega}")
        self.omega = float(omega)
        self.colored = bool(colored)
        super().__init__(A, dtype=dtype)

    def _setup(self) -> None:
        A = self.A
        self.diag = diagonal(A, name="A")
        self.symmetric = bool(np.all(self.diag > 0)) and is_symmetric(A)
        if self.colored:
            self.colors = greedy_coloring(A.indptr, A.indices)
            self.color_ptr, self.color_rows = color_partition(self.colors)

    def _apply(self, r: np.ndarray, out: np.ndarray) -> None:
        A = self.A
        out[:] = 0
        if self.colored:
            sor_colored(A.indptr, A.indices, A.data, self.diag, out, r, self.omega, self.color_ptr, self.color_rows, False)
            sor_colored(A.indptr, A.indices, A.data, self.diag, out, r, self.omega, self.color_ptr, self.color_rows, True)
        else:
            sor_forward(A.indptr, A.indices, A.data, self.diag, out, r, self.omega)
            sor_backward(A.indptr, A.indices, A.data, self.diag, out, r, self.omega)


# ------------------------------------------------------------------- IC(0)


class _ShiftedFactorization(Preconditioner):
    """Shared by IC0 and ILU0: the constructor and the Manteuffel shift retries.

    A factorisation that meets a bad pivot is retried on A + α·diag(A) with
    α = shift, 2·shift, 4·shift … (at most ``max_shifts`` times); the α that
    worked is kept in ``shift_used``.
    """

    _label = ""
    _pivot = ""  # what a bad pivot is called in messages
    _no_shift_hint = ""

    def __init__(
        self,
        A: Any,
        *,
        shift: float = 0.0,
        max_shifts: int = 10,
        dtype: np.dtype | type | None = None,
    ) -> None:
        _check_shift(shift, max_shifts)
        self.shift = float(shift)
        self.max_shifts = int(max_shifts)
        super().__init__(A, dtype=dtype)

    def _hopeless(self, row: int, a_ii: float) -> str | None:
        """The message when no diagonal shift can help at ``row``, else None."""
        raise NotImplementedError

    def _factor_with_shifts(
        self, factor: Callable[[np.ndarray], tuple[np.ndarray, int]], values: np.ndarray, diag_pos: np.ndarray
    ) -> np.ndarray:
        """Run ``factor(values)``, retrying with diagonal shifts on breakdown."""
        alpha = 0.0
        tries = 0
        while True:
            vals = values
            if alpha > 0:
                vals = values.copy()
                vals[diag_pos] *= 1.0 + alpha
            out, status = factor(vals)
            if status < 0:
                self.shift_used = alpha
                return out
            row = int(status)
            head = f"{self._label} broke down at row {row}: {self._pivot}"
            hopeless = self._hopeless(row, float(values[diag_pos[row]]))
            if hopeless is not None:
                raise ValueError(f"{head}{hopeless}")
            if self.shift <= 0:
                raise ValueError(f"{head}{self._no_shift_hint}")
            if tries >= self.max_shifts:
                raise ValueError(f"{head} even with diagonal shift alpha = {alpha:g} after {tries} retries")
            alpha = self.shift if alpha == 0 else 2.0 * alpha
            tries += 1


class _CholeskyFactor:
    """``M = (L Lᵀ)⁻¹`` applied as a lower and an upper level-scheduled triangular solve.

    Shared by the preconditioners that hold a lower-triangular factor ``L``
    with the diagonal last in each row: :class:`IC0`, :class:`ICk` and the
    learned :class:`~itersolve.preconditioners.GNNPreconditioner`.
    """

    def _use_factor(self, L: sp.csr_matrix) -> None:
        """Take ``L`` as the factor: its transpose (same index dtype), the level schedules and the work vector."""
        self.L = L
        LT = L.T.tocsr()
        LT.sort_indices()
        LT.indptr, LT.indices = LT.indptr.astype(L.indptr.dtype), LT.indices.astype(L.indptr.dtype)
        self.LT = LT
        self._lower_levels = level_schedule(L.indptr, L.indices, True)
        self._upper_levels = level_schedule(LT.indptr, LT.indices, False)
        self._tmp = np.empty(L.shape[0], self.dtype)

    def _apply(self, r: np.ndarray, out: np.ndarray) -> None:
        L, LT, tmp = self.L, self.LT, self._tmp
        lp, lr = self._lower_levels
        up, ur = self._upper_levels
        lower_solve(L.indptr, L.indices, L.data, lp, lr, r, tmp, False)
        upper_solve(LT.indptr, LT.indices, LT.data, up, ur, tmp, out, False)


class IC0(_CholeskyFactor, _ShiftedFactorization):
    """Zero-fill incomplete Cholesky, ``M = L L^T`` with ``L`` on the pattern of ``tril(A)``.

    Only the lower triangle of ``A`` is read (``A`` is taken to be symmetric).
    ``apply`` is a lower and an upper triangular solve (level-scheduled
    kernels; sequential when the levels are too narrow to pay for threads).

    Parameters
    ----------
    A : sparse matrix or dense array
        Symmetric positive definite matrix (ideally an M- or H-matrix, for
        which IC(0) always exists).
    shift : float
        Manteuffel diagonal shifting. ``0`` (default): a breakdown raises.
        ``shift > 0``: after a breakdown the factorisation is retried on
        ``A + alpha diag(A)`` with ``alpha = shift, 2 shift, 4 shift, ...``
        (at most ``max_shifts`` retries); the ``alpha`` that worked is
        ``shift_used``. A shifted factor is still SPD, so still fine for CG.
    max_shifts : int
        Most retries with a growing shift.
    dtype : dtype, optional
        Compute in this dtype instead of ``A``'s (the factorisation itself is
        done in float64 and rounded).

    Attributes
    ----------
    L : scipy.sparse.csr_matrix
        The factor.
    shift_used : float
        The diagonal shift of the successful factorisation (0.0 if none).

    Raises
    ------
    ValueError
        ``"IC(0) broke down at row i ..."`` when a pivot is not positive
        (``A`` indefinite, or IC(0) does not exist for it) and shifting is off
        or did not help.

    Examples
    --------
    >>> import numpy as np
    >>> P = IC0(np.array([[4.0, 2.0], [2.0, 5.0]]))
    >>> P.L.toarray()
    array([[2., 0.],
           [1., 2.]])
    >>> IC0(np.array([[1.0, 3.0], [3.0, 1.0]]))
    Traceback (most recent call last):
    ...
    ValueError: IC(0) broke down at row 1: non-positive pivot...
    >>> IC0(np.array([[1.0, 3.0], [3.0, 1.0]]), shift=1.5).shift_used   # 1.5 fails, 3.0 works
    3.0
    """

    symmetric = True
    _label = "IC(0)"
    _pivot = "non-positive pivot"
    _no_shift_hint = (
        "; A is not symmetric positive definite or IC(0) does not exist for it. Pass shift=... "
        "(e.g. shift=1e-3) to retry with Manteuffel diagonal shifting A + alpha*diag(A)"
    )

    def _hopeless(self, row: int, a_ii: float) -> str | None:
        if a_ii <= 0:
            return (
                f" (A[{row},{row}] = {a_ii:g} <= 0); A is not symmetric positive definite, "
                "and no diagonal shift can help"
            )
        return None

    level = 0  # of fill (see ICk)

    def _setup(self) -> None:
        lp, li, ld = ick_pattern(self.A, self.level)
        dpos = lp[1:] - 1  # the diagonal is the last entry of each row of tril
        ldata = self._factor_with_shifts(lambda vals: ic0(lp, li, vals), ld, dpos)
        L = sp.csr_matrix((ldata, li, lp), shape=(self.n, self.n))
        L.indptr, L.indices = lp, li  # keep the index dtype
        self._use_factor(L)


# ------------------------------------------------------------------- IC(k)


def ick_pattern(A: sp.csr_matrix, level: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The lower pattern of IC(``level``) of a symmetric ``A``, with ``tril(A)``'s values on it.

    Returns ``(indptr, indices, data)`` of ``tril`` of the symbolic ILU(k)
    pattern (:func:`itersolve.kernels.factorize_fill.iluk_pattern`), sorted,
    the diagonal last in each row; fill entries hold 0. Index arrays keep
    ``A``'s index dtype. ``level=0`` is ``tril(A)`` itself (the IC(0) pattern).

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> A = sp.csr_matrix(np.array([[4., 1, 1], [1, 4, 0], [1, 0, 4]]))
    >>> lp, li, ld = ick_pattern(A, 1)
    >>> lp.tolist(), li.tolist(), ld.tolist()       # (2, 1) is level-1 fill
    ([0, 1, 3, 6], [0, 0, 1, 0, 1, 2], [4.0, 1.0, 4.0, 1.0, 0.0, 4.0])
    """
    indptr, indices, data, rows = _with_diagonal(A)
    if level == 0:
        return _lower_part(indptr, indices, data, rows)
    n = A.shape[0]
    fp, fi, _ = iluk_pattern(indptr, indices, int(level))
    frows = np.repeat(np.arange(n, dtype=np.int64), np.diff(fp))
    keep = fi <= frows
    lp = np.zeros(n + 1, dtype=indptr.dtype)
    np.cumsum(np.bincount(frows[keep], minlength=n), out=lp[1:])
    li = fi[keep].astype(indptr.dtype)
    # scatter tril(A) onto the pattern: both are sorted by (row, column)
    mask = indices <= rows
    keys = frows[keep] * n + li
    pos = np.searchsorted(keys, rows[mask].astype(np.int64) * n + indices[mask])
    ld = np.zeros(li.shape[0], A.dtype)
    ld[pos] = data[mask]
    return lp, li, ld


class ICk(IC0):
    """Incomplete Cholesky with level-of-fill ``k``, IC(k): ``M = L L^T``, ``L`` on the IC(k) pattern.

    The pattern of ``L`` is the lower triangle of the symbolic ILU(k)
    pattern of ``A`` (an entry created by eliminating through fill of level
    ``l1`` and ``l2`` has level ``l1 + l2 + 1``; those ``<= k`` are kept), fixed
    before any number is computed; the numerical factorisation then runs on it
    exactly like IC(0) (same kernel, same Manteuffel shifts, same apply).
    ``ICk(A, level=0)`` is :class:`IC0`. More fill: fewer PCG iterations,
    more setup and a costlier apply (``P.L.nnz`` says how much).

    Parameters
    ----------
    A : sparse matrix or dense array
        Symmetric positive definite matrix (structurally symmetric).
    level : int
        Level of fill ``k >= 0``.
    shift, max_shifts, dtype
        As for :class:`IC0`.

    Attributes
    ----------
    L : scipy.sparse.csr_matrix
        The factor (explicit zeros kept where the fill cancelled).
    level : int
    shift_used : float

    Raises
    ------
    ValueError
        ``"IC(k) broke down at row i ..."`` as for :class:`IC0`, or a negative ``level``.

    Examples
    --------
    >>> import numpy as np, itersolve
    >>> from itersolve.pdes import poisson
    >>> A = poisson((30, 30))
    >>> P0, P1 = IC0(A), ICk(A, level=1)
    >>> P1.L.nnz - P0.L.nnz                            # one fill diagonal on the 5-point stencil
    841
    >>> b = np.ones(900)
    >>> its = [itersolve.cg(A, b, M=P, rtol=1e-8).iterations for P in (P0, P1)]
    >>> its[1] < its[0]
    True
    """

    def __init__(
        self,
        A: Any,
        level: int = 1,
        *,
        shift: float = 0.0,
        max_shifts: int = 10,
        dtype: np.dtype | type | None = None,
    ) -> None:
        if int(level) != level or level < 0:
            raise ValueError(f"level must be an integer >= 0, got {level}")
        self.level = int(level)
        self._label = f"IC({self.level})"
        self._no_shift_hint = IC0._no_shift_hint.replace("IC(0)", self._label)
        super().__init__(A, shift=shift, max_shifts=max_shifts, dtype=dtype)


class IC1(ICk):
    """IC(1): incomplete Cholesky with one level of fill, ``ICk(A, level=1)``.

    Examples
    --------
    >>> from itersolve.pdes import poisson
    >>> P = IC1(poisson((4, 4)))
    >>> P.level, P.L.nnz
    (1, 49)
    """

    def __init__(self, A: Any, *, shift: float = 0.0, max_shifts: int = 10,
                 dtype: np.dtype | type | None = None) -> None:
        super().__init__(A, 1, shift=shift, max_shifts=max_shifts, dtype=dtype)


# ------------------------------------------------------------------ ILU(0)


class ILU0(_ShiftedFactorization):
    """Zero-fill incomplete LU, ``M = L U`` on the pattern of ``A``.

    ``L`` is unit lower triangular, ``U`` upper triangular; both are stored
    packed in one CSR matrix ``LU`` on ``A``'s pattern (diagonal added where
    missing). ``apply`` is two level-scheduled triangular solves; ``rmatvec``
    (``M^-T r``) is supported too.

    Parameters
    ----------
    A : sparse matrix or dense array
        Square matrix.
    shift : float
        As for :class:`IC0`: ``0`` raises on a zero pivot; ``shift > 0``
        retries on ``A + alpha diag(A)`` with ``alpha = shift, 2 shift, ...``.
    max_shifts : int
        Most retries with a growing shift.
    dtype : dtype, optional
        Compute in this dtype instead of ``A``'s.

    Notes
    -----
    ``symmetric`` is ``False``: ``M^-1`` is not symmetric in general. For an
    SPD matrix and CG use :class:`IC0`.

    Raises
    ------
    ValueError
        ``"ILU(0) broke down at row i: zero pivot ..."``.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.array([[4.0, 1.0, 0.0], [2.0, 5.0, 1.0], [0.0, 1.0, 3.0]])
    >>> P = ILU0(A)
    >>> bool(np.allclose(P @ (A @ np.ones(3)), np.ones(3)))   # no fill here: exact
    True
    """

    symmetric = False
    _label = "ILU(0)"
    _pivot = "zero pivot"
    _no_shift_hint = "; pass shift=... (e.g. shift=1e-3) to retry with a diagonal shift A + alpha*diag(A)"

    def _hopeless(self, row: int, a_ii: float) -> str | None:
        return "; A has a zero on its diagonal there" if a_ii == 0 else None

    def _setup(self) -> None:
        indptr, indices, data, rows = _with_diagonal(self.A)
        diag_ptr = np.flatnonzero(indices == rows)
        ludata = self._factor_with_shifts(lambda vals: ilu0(indptr, indices, vals, diag_ptr), data, diag_ptr)
        n = self.n
        self.LU = sp.csr_matrix((ludata, indices, indptr), shape=(n, n))
        self.LU.indptr, self.LU.indices = indptr, indices
        self.diag_ptr = diag_ptr
        self._lower_levels = level_schedule(indptr, indices, True)
        self._upper_levels = level_schedule(indptr, indices, False)
        self._tmp = np.empty(n, self.dtype)
        self._LUt = None

    @property
    def L(self) -> sp.csr_matrix:
        """The unit lower triangular factor (diagonal included), as CSR."""
        return (sp.tril(self.LU, k=-1) + sp.eye(self.n, dtype=self.dtype)).tocsr()

    @property
    def U(self) -> sp.csr_matrix:
        """The upper triangular factor, as CSR."""
        return sp.triu(self.LU, format="csr")

    def _apply(self, r: np.ndarray, out: np.ndarray) -> None:
        LU, tmp = self.LU, self._tmp
        lp, lr = self._lower_levels
        up, ur = self._upper_levels
        lower_solve(LU.indptr, LU.indices, LU.data, lp, lr, r, tmp, True)
        upper_solve(LU.indptr, LU.indices, LU.data, up, ur, tmp, out, False)

    def _apply_transpose(self, r: np.ndarray, out: np.ndarray) -> None:
        # (L U)^-T = L^-T U^-T; LU^T holds U^T (lower, with diagonal) and L^T (strictly upper)
        if self._LUt is None:
            LUt = self.LU.T.tocsr()
            LUt.sort_indices()
            self._LUt = (
                LUt,
                level_schedule(LUt.indptr, LUt.indices, True),
                level_schedule(LUt.indptr, LUt.indices, False),
            )
        LUt, (lp, lr), (up, ur) = self._LUt
        tmp = np.empty(self.n, self.dtype)
        lower_solve(LUt.indptr, LUt.indices, LUt.data, lp, lr, r, tmp, False)
        upper_solve(LUt.indptr, LUt.indices, LUt.data, up, ur, tmp, out, True)


# --------------------------------------------------------------- Chebyshev


def lanczos_extreme(
    op_matvec: Any, n: int, dtype: np.dtype, steps: int = 20, seed: int = 0
) -> tuple[float, float]:
    """Extreme Ritz values of a symmetric operator after ``steps`` Lanczos steps.

    ``op_matvec(v, out)`` must write ``S v`` into ``out``. Returns
    ``(smallest, largest)`` Ritz values (the largest approaches the largest
    eigenvalue from below).

    Examples
    --------
    >>> import numpy as np
    >>> S = np.diag(np.arange(1.0, 101.0))
    >>> lo, hi = lanczos_extreme(lambda v, out: np.dot(S, v, out=out), 100, np.dtype(float), steps=30)
    >>> round(hi, 6)
    100.0
    """
    rng = np.random.default_rng(seed)
    v = rng.standard_normal(n).astype(dtype)
    v /= np.sqrt(blas.norm2sq(v))
    v_old = np.zeros(n, dtype)
    w = np.empty(n, dtype)
    alphas: list[float] = []
    betas: list[float] = []
    beta = 0.0
    for _ in range(min(steps, n)):
        op_matvec(v, w)
        a = blas.dot(v, w)
        alphas.append(a)
        # w = w - a v - beta v_old
        blas.axpy(-a, v, w)
        blas.axpy(-beta, v_old, w)
        beta = float(np.sqrt(blas.norm2sq(w)))
        if beta <= 1e-10 * max(abs(a), 1e-300):
            break
        betas.append(beta)
        v_old, v = v, v_old
        blas.scale(1.0 / beta, w, v)
    k = len(alphas)
    ritz = eigvalsh_tridiagonal(np.array(alphas), np.array(betas[: k - 1])) if k > 1 else np.array(alphas)
    return float(ritz[0]), float(ritz[-1])


class Chebyshev(Preconditioner):
    """Jacobi-scaled Chebyshev polynomial preconditioner, ``M^-1 = p(D^-1 A) D^-1``.

    ``apply(r)`` runs ``degree + 1`` steps of the Chebyshev iteration for
    ``D^-1 A z = D^-1 r`` from ``z = 0`` on the interval ``[lmin, lmax]``
    (Saad, Algorithm 12.1); ``p`` has degree ``degree`` and one apply costs
    ``degree`` products with ``A``. For ``D^-1 A`` with spectrum in
    ``(0, lmax]`` the polynomial is positive, so ``M`` is SPD for SPD ``A``
    and the preconditioner can be used in CG.

    Parameters
    ----------
    A : sparse matrix or dense array
        Symmetric matrix with a positive diagonal (SPD for use in CG).
    degree : int
        Polynomial degree (``>= 0``; 0 is a scaled Jacobi).
    lmin, lmax : float, optional
        Interval of the spectrum of ``D^-1 A`` the polynomial targets,
        ``0 < lmin < lmax`` (``lmin = 0`` is refused: the polynomial would then
        vanish inside the spectrum, making ``M`` singular). ``lmax`` defaults to ``1.05`` times the largest Ritz value after
        ``lanczos_steps`` Lanczos steps on ``D^-1/2 A D^-1/2`` (capped by the
        Gershgorin bound). ``lmin`` defaults to ``lmax / ratio``.
    ratio : float
        ``lmax / lmin`` when ``lmin`` is not given. The default 30 (as in
        pyamg's Chebyshev smoother) works well for PDE matrices, whose
        smallest eigenvalues lie far below ``lmax``: on 2-D Poisson 150x150,
        degree 3, PCG needs 171 / 136 / 121 / 116 iterations for ratios
        3 / 10 / 30 / 100 and 219 for 1e4 (449 for Jacobi).
    lanczos_steps : int
        Lanczos steps for the ``lmax`` estimate.
    dtype : dtype, optional
        Compute in this dtype instead of ``A``'s.

    Attributes
    ----------
    lmin, lmax : float
        The interval used.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> A = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(100, 100), format="csr")
    >>> P = Chebyshev(A, degree=3)
    >>> bool(1.9 < P.lmax < 2.2), P.symmetric
    (True, True)
    >>> z = P @ np.ones(100)
    >>> bool(np.ones(100) @ z > 0)
    True
    """

    def __init__(
        self,
        A: Any,
        degree: int = 3,
        lmin: float | None = None,
        lmax: float | None = None,
        *,
        ratio: float = 30.0,
        lanczos_steps: int = 20,
        dtype: np.dtype | type | None = None,
    ) -> None:
        if isinstance(degree, bool) or int(degree) != degree or degree < 0:
            raise ValueError(f"degree must be an integer >= 0, got {degree}")
        if not ratio > 1:
            raise ValueError(f"ratio must be > 1, got {ratio}")
        for name, v in (("lmin", lmin), ("lmax", lmax)):
            if v is not None and not (np.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {v}")
        if lmin is not None and lmax is not None and not lmin < lmax:
            raise ValueError(f"need lmin < lmax, got lmin={lmin}, lmax={lmax}")
        self.degree = int(degree)
        self._lmin_in = lmin
        self._lmax_in = lmax
        self.ratio = float(ratio)
        self.lanczos_steps = int(lanczos_steps)
        super().__init__(A, dtype=dtype)

    def _setup(self) -> None:
        A = self.A
        d = diagonal(A, name="A")
        if not np.all(d > 0):
            raise ValueError("Chebyshev needs a positive diagonal (A should be SPD)")
        self.diag = d
        self.inv_diag = (1.0 / d).astype(self.dtype)
        self.symmetric = is_symmetric(A)
        op = self.operator
        if self._lmax_in is None:
            s = (1.0 / np.sqrt(d.astype(np.float64))).astype(self.dtype)
            tmp = np.empty(self.n, self.dtype)

            def smv(v: np.ndarray, out: np.ndarray) -> None:  # S = D^-1/2 A D^-1/2
                blas.diag_scale(s, v, tmp)
                op.matvec(tmp, out)
                blas.diag_scale(s, out, out)

            _, hi = lanczos_extreme(smv, self.n, self.dtype, steps=self.lanczos_steps)
            absA = abs(A)
            gersh = float(np.max(np.asarray(absA.sum(axis=1)).ravel() / np.abs(d)))
            lmax = min(1.05 * hi, gersh) if hi > 0 else gersh
        else:
            lmax = float(self._lmax_in)
        lmin = lmax / self.ratio if self._lmin_in is None else float(self._lmin_in)
        if not lmin < lmax:
            raise ValueError(f"need lmin < lmax, got lmin={lmin}, lmax={lmax}")
        self.lmin, self.lmax = float(lmin), float(lmax)
        n = self.n
        self._res = np.empty(n, self.dtype)
        self._d = np.empty(n, self.dtype)
        self._w = np.empty(n, self.dtype)

    def _apply(self, r: np.ndarray, out: np.ndarray) -> None:
        theta = 0.5 * (self.lmax + self.lmin)
        delta = 0.5 * (self.lmax - self.lmin)
        sigma = theta / delta
        res, d, w = self._res, self._d, self._w
        blas.diag_scale(self.inv_diag, r, res)  # residual of D^-1 A z = D^-1 r at z = 0
        blas.scale(1.0 / theta, res, d)
        blas.copy(d, out)
        rho = 1.0 / sigma
        for _ in range(self.degree):
            self.operator.matvec(d, w)
            blas.diag_scale(self.inv_diag, w, w)
            blas.axpy(-1.0, w, res)
            rho_new = 1.0 / (2.0 * sigma - rho)
            blas.axpby(2.0 * rho_new / delta, res, rho_new * rho, d)
            blas.axpy(1.0, d, out)
            rho = rho_new
