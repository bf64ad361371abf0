"""Sequences of related linear systems, generated lazily.

The bandit tuners (``itersolve.bandits``) learn a relaxation parameter
across such a sequence. A sequence object has ``len``, indexing and
iteration, but holds no matrices: system ``t`` is built when asked for, the
same every time.

This module holds the shifted-Laplacian setting of Khodak et al.,
*Learning to Relax* (ICLR 2024); the heat-equation setting is in
:mod:`itersolve.pdes.heat`.

Examples
--------
>>> from itersolve.pdes import shifted_laplacian_sequence
>>> seq = shifted_laplacian_sequence(T=3, seed=0)
>>> len(seq), seq[0].A.shape
(3, (100, 100))
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterator, Sequence
from typing import Literal, overload

import numpy as np
import scipy.sparse as sp

from itersolve.sparse import as_csr

from ._spectral import laplacian_eigenvalues, shifted_solve
from .grids import poisson
from .system import LinearSystem

__all__ = ["ShiftedLaplacianSequence", "shifted_laplacian_sequence", "truncated_normal"]

#: Offset distributions of the paper's code (``contextual.m``, ``learning.m``):
#: ``c = -0.15 + 0.6 * Beta(a, b)``.
SHIFT_DISTRIBUTIONS: dict[str, tuple[float, float, float, float]] = {
    "low": (2.0, 6.0, -0.15, 0.45),
    "high": (0.5, 1.5, -0.15, 0.45),
}


class _LazySequence(Sequence[LinearSystem]):
    """``len``, integer and slice indexing on top of ``_get(t)``."""

    _T: int

    def __len__(self) -> int:
        return self._T

    @overload
    def __getitem__(self, index: int) -> LinearSystem: ...

    @overload
    def __getitem__(self, index: slice) -> list[LinearSystem]: ...

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self._get(t) for t in range(*index.indices(self._T))]
        t = operator.index(index)
        if t < 0:
            t += self._T
        if not 0 <= t < self._T:
            raise IndexError(f"system index {index} out of range for a sequence of {self._T}")
        return self._get(t)

    def __iter__(self) -> Iterator[LinearSystem]:
        for t in range(self._T):
            yield self._get(t)

    def _get(self, t: int) -> LinearSystem:  # pragma: no cover - abstract
        raise NotImplementedError


def _check_T(T: int) -> int:
    if isinstance(T, bool) or not isinstance(T, (int, np.integer)):
        raise TypeError(f"T must be an integer, got {type(T).__name__}")
    if T < 1:
        raise ValueError(f"T must be >= 1, got {T}")
    return int(T)


def _diagonal_positions(A: sp.csr_matrix) -> np.ndarray:
    """Positions in ``A.data`` of the diagonal entries (each row must have one)."""
    rows = np.repeat(np.arange(A.shape[0]), np.diff(A.indptr))
    pos = np.flatnonzero(A.indices == rows)
    if pos.size != A.shape[0]:  # pragma: no cover - our Laplacians have full diagonals
        raise ValueError("matrix lacks stored diagonal entries")
    return pos


def truncated_normal(n: int, rng: np.random.Generator) -> np.ndarray:
    """Standard normal vector conditioned on ``||x||_2 <= sqrt(n)`` (rejection).

    The right-hand-side distribution of the paper's code (``truncated_normal.m``).

    Examples
    --------
    >>> import numpy as np
    >>> x = truncated_normal(100, np.random.default_rng(0))
    >>> bool(np.linalg.norm(x) <= 10.0)
    True
    """
    while True:
        x = rng.standard_normal(n)
        if x @ x <= n:
            return x


class ShiftedLaplacianSequence(_LazySequence):
    """Lazily generated ``A_t = K + c_t I`` systems; see :func:`shifted_laplacian_sequence`.

    Attributes
    ----------
    contexts : numpy.ndarray
        The shifts ``c_t``, all ``T`` of them (read-only).
    context_range : tuple of float
        Support ``(lo, hi)`` of the shift distribution, for contextual bandits.
    base : scipy.sparse.csr_matrix
        The unshifted Laplacian ``K`` (float64).
    grid : tuple of int
        ``(n, n)``.

    Examples
    --------
    >>> seq = ShiftedLaplacianSequence(T=4, n=5, distribution="high", seed=1)
    >>> s = seq[2]
    >>> bool(s.context == seq.contexts[2]), s.grid
    (True, (5, 5))
    """

    def __init__(
        self,
        T: int = 5000,
        *,
        n: int = 10,
        distribution: Literal["low", "high"] | tuple[float, ...] = "low",
        seed: int | None = 0,
        rhs: Literal["random", "normal", "unit"] = "random",
        dtype: np.dtype | type = np.float64,
    ) -> None:
        self._T = _check_T(T)
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        self.n = int(n)
        self.grid = (self.n, self.n)
        if isinstance(distribution, str):
            if distribution not in SHIFT_DISTRIBUTIONS:
                raise ValueError(
                    f"distribution must be one of {sorted(SHIFT_DISTRIBUTIONS)} or a tuple "
                    f"(a, b[, lo, hi]), got {distribution!r}"
                )
            a, b, lo, hi = SHIFT_DISTRIBUTIONS[distribution]
        else:
            params = tuple(float(v) for v in distribution)
            if len(params) == 2:
                params = params + SHIFT_DISTRIBUTIONS["low"][2:]
            if len(params) != 4:
                raise ValueError(f"distribution tuple must be (a, b) or (a, b, lo, hi), got {distribution!r}")
            a, b, lo, hi = params
            if not (a > 0 and b > 0 and math.isfinite(a) and math.isfinite(b)):
                raise ValueError(f"Beta parameters must be positive, got a={a}, b={b}")
            if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
                raise ValueError(f"need finite lo < hi, got lo={lo}, hi={hi}")
        if rhs not in ("random", "normal", "unit"):
            raise ValueError(f"rhs must be 'random', 'normal' or 'unit', got {rhs!r}")
        self.distribution = (a, b, lo, hi)
        self.context_range = (lo, hi)
        self.rhs = rhs
        self.dtype = np.dtype(dtype)
        self._lam = laplacian_eigenvalues(self.grid)
        lam_min = float(self._lam.min())
        if lo <= -lam_min:
            raise ValueError(
                f"shifts down to {lo} make K + c I singular or indefinite on a {n}x{n} grid "
                f"(smallest eigenvalue of K is {lam_min:.4g}); use a distribution with lo > {-lam_min:.4g}"
            )
        self.base = poisson(self.grid)
        self._diag_pos = _diagonal_positions(self.base)
        self._entropy = np.random.SeedSequence(seed).entropy
        rng = np.random.default_rng(np.random.SeedSequence(self._entropy, spawn_key=(0,)))
        contexts = lo + (hi - lo) * rng.beta(a, b, size=self._T)
        contexts.flags.writeable = False
        self.contexts = contexts

    def _get(self, t: int) -> LinearSystem:
        c = float(self.contexts[t])
        rng = np.random.default_rng(np.random.SeedSequence(self._entropy, spawn_key=(1, t)))
        N = self.n * self.n
        if self.rhs == "random":
            b = truncated_normal(N, rng)
        else:
            b = rng.standard_normal(N)
            if self.rhs == "unit":
                b /= np.linalg.norm(b)
        K = self.base
        data = K.data.copy()
        data[self._diag_pos] += c
        A = as_csr(sp.csr_matrix((data, K.indices.copy(), K.indptr.copy()), shape=K.shape), dtype=self.dtype)
        x = shifted_solve(self._lam, b, c, 1.0)
        return LinearSystem(
            A=A,
            b=b.astype(self.dtype, copy=False),
            x_true=x.astype(self.dtype, copy=False),
            grid=self.grid,
            context=c,
            name=f"shifted_laplacian[{t}]",
        )

    def __repr__(self) -> str:
        a, b, lo, hi = self.distribution
        return (
            f"ShiftedLaplacianSequence(T={self._T}, n={self.n}, c ~ {lo} + {hi - lo} Beta({a}, {b}), "
            f"rhs={self.rhs!r}, dtype={self.dtype})"
        )


def shifted_laplacian_sequence(
    T: int = 5000,
    *,
    n: int = 10,
    distribution: Literal["low", "high"] | tuple[float, ...] = "low",
    seed: int | None = 0,
    rhs: Literal["random", "normal", "unit"] = "random",
    dtype: np.dtype | type = np.float64,
) -> ShiftedLaplacianSequence:
    """Diagonally shifted Laplacians, setting 1 of *Learning to Relax* (Khodak et al., ICLR 2024).

    ``A_t = K + c_t I`` with ``K = poisson((n, n))`` the unscaled 5-point
    Laplacian on an ``n × n`` interior grid (``n = 10``: 100 unknowns, as
    MATLAB's ``delsq(numgrid('S', 12))`` in the paper), i.i.d. shifts

    - ``"low"`` variance:  ``c_t = -0.15 + 0.6 * Beta(2, 6)``,
    - ``"high"`` variance: ``c_t = -0.15 + 0.6 * Beta(0.5, 1.5)``,

    exactly as in the authors' code (``contextual.m``, ``learning.m``); the
    shifts lie in ``(-0.15, 0.45)`` and ``K + c I`` stays SPD because the
    smallest eigenvalue of ``K`` is 0.162 for ``n = 10``. (For ``n > 10``
    that eigenvalue drops below 0.15 and the paper's distributions are
    refused; pass ``distribution=(a, b, lo, hi)`` for
    ``c = lo + (hi - lo) Beta(a, b)`` instead; ``(a, b)`` alone keeps the
    paper's interval.)

    Right-hand sides, independent of the shifts:

    - ``"random"``: standard normal conditioned on ``||b|| <= sqrt(n²)``
      (the paper's ``truncated_normal``),
    - ``"normal"``: standard normal,
    - ``"unit"``: standard normal scaled to ``||b||_2 = 1``.

    Each system carries ``context = c_t``, ``x_true`` (exact, by a sine
    transform) and ``x0 = None`` (the paper starts SOR from zero).

    Parameters
    ----------
    T : int
        Number of systems.
    n : int
        Interior grid points per axis.
    distribution : {"low", "high"} or tuple
        Shift distribution.
    seed : int or None
        Seed; the same seed gives the same sequence, and system ``t`` does
        not depend on ``T`` or on the order of access.
    rhs : {"random", "normal", "unit"}
        Right-hand-side distribution.
    dtype : dtype
        float32 or float64 for ``A``, ``b`` and ``x_true``.

    Returns
    -------
    ShiftedLaplacianSequence
        A lazy sequence: ``len``, ``seq[t]``, slicing, iteration; all shifts
        are in ``seq.contexts``, their support in ``seq.context_range``.

    Examples
    --------
    >>> seq = shifted_laplacian_sequence(T=5000, distribution="high", seed=0)
    >>> len(seq), seq.context_range
    (5000, (-0.15, 0.45))
    >>> s = seq[17]
    >>> s.A.shape, bool(-0.15 < s.context < 0.45)
    ((100, 100), True)
    >>> import numpy as np
    >>> bool(np.allclose(s.A @ s.x_true, s.b))
    True
    """
    return ShiftedLaplacianSequence(T, n=n, distribution=distribution, seed=seed, rhs=rhs, dtype=dtype)
