"""The one input normaliser: matrices, vectors, dtypes and checks.

Everything a user passes to a solver or a preconditioner goes through this
module once. It returns CSR matrices with sorted, duplicate-free, contiguous
index arrays (int32 where they fit, int64 otherwise) and float32 or float64
values, and contiguous float vectors. Bad input raises a ``ValueError`` or
``TypeError`` that names the offending argument. Nothing downstream
re-validates.

Examples
--------
>>> import numpy as np
>>> from itersolve.sparse import as_csr, as_vector
>>> A = as_csr(np.array([[4, -1], [-1, 4]]))
>>> A.dtype, A.indices.dtype
(dtype('float64'), dtype('int32'))
>>> as_vector([1, 2], 2, name="b")
array([1., 2.])
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator

__all__ = [
    "as_csr",
    "as_operator",
    "as_vector",
    "solve_dtype",
    "check_tolerances",
    "diagonal",
    "on_device",
]

_INT32_MAX = np.iinfo(np.int32).max


def _float_dtype(dtype: np.dtype, name: str, allow_complex: bool = False) -> np.dtype:
    """Map an input dtype onto the float dtype we compute in."""
    dtype = np.dtype(dtype)
    if dtype.kind == "c":
        if not allow_complex:
            raise TypeError(f"{name} is complex ({dtype}); only real float32/float64 systems are supported")
        return np.dtype(np.complex128)
    if dtype.kind == "b" or dtype.kind in "iu":
        return np.dtype(np.float64)
    if dtype.kind == "f":
        return np.dtype(np.float32) if dtype.itemsize <= 4 else np.dtype(np.float64)
    raise TypeError(f"{name} has unsupported dtype {dtype}; expected a real numeric type")


def as_csr(
    A: Any,
    *,
    name: str = "A",
    dtype: np.dtype | type | None = None,
    square: bool = True,
    index_dtype: np.dtype | type | None = None,
) -> sp.csr_matrix:
    """Normalise a matrix to CSR with canonical, contiguous arrays.

    Parameters
    ----------
    A : sparse matrix or array, dense array_like
        The matrix. Any scipy sparse format or a dense 2-D array.
    name : str
        Argument name used in error messages.
    dtype : dtype, optional
        Value dtype to cast to (float32 or float64). By default float32 stays
        float32 and everything else real becomes float64.
    square : bool
        Require a square matrix.
    index_dtype : dtype, optional
        Force int32 or int64 indices; by default the smallest that fits.

    Returns
    -------
    scipy.sparse.csr_matrix
        A new matrix when any conversion was needed; the input itself when it
        already was canonical CSR of the requested dtypes.

    Raises
    ------
    TypeError
        For a ``LinearOperator``, a non-numeric or complex matrix.
    ValueError
        For a matrix that is not 2-D, empty, non-square (when ``square``),
        or holds NaN/Inf.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> as_csr(sp.eye(3, format="coo"), dtype="float32").format
    'csr'
    >>> as_csr([[1.0, 2.0, 3.0]])
    Traceback (most recent call last):
    ...
    ValueError: A must be square, got shape (1, 3)
    """
    if isinstance(A, LinearOperator):
        raise TypeError(f"{name} must be an explicit matrix here, not a LinearOperator")
    if sp.issparse(A):
        M = A
    else:
        try:
            arr = np.asarray(A)
        except Exception as exc:  # pragma: no cover - numpy's own message is kept
            raise TypeError(f"{name} cannot be converted to an array: {exc}") from exc
        if arr.dtype == object:
            raise TypeError(f"{name} has dtype object; expected a numeric matrix")
        if arr.ndim != 2:
            raise ValueError(f"{name} must be 2-D, got {arr.ndim}-D with shape {arr.shape}")
        M = arr
    shape = M.shape
    if len(shape) != 2:
        raise ValueError(f"{name} must be 2-D, got shape {shape}")
    if shape[0] == 0 or shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {shape})")
    if square and shape[0] != shape[1]:
        raise ValueError(f"{name} must be square, got shape {shape}")
    target = _float_dtype(M.dtype, name) if dtype is None else _float_dtype(dtype, name)
    if sp.issparse(M):
        out = sp.csr_matrix(M, dtype=target, copy=False)
    else:
        out = sp.csr_matrix(np.asarray(M, dtype=target))
    if not out.has_canonical_format:
        out = out.copy()
        out.sum_duplicates()  # also sorts indices
    if not np.isfinite(out.data).all():
        raise ValueError(f"{name} contains NaN or Inf entries")
    if index_dtype is None:
        fits32 = max(out.nnz, shape[0], shape[1]) <= _INT32_MAX
        index_dtype = np.int32 if fits32 else np.int64
    index_dtype = np.dtype(index_dtype)
    if index_dtype not in (np.dtype(np.int32), np.dtype(np.int64)):
        raise TypeError(f"index_dtype must be int32 or int64, got {index_dtype}")
    indptr = np.ascontiguousarray(out.indptr, dtype=index_dtype)
    indices = np.ascontiguousarray(out.indices, dtype=index_dtype)
    data = np.ascontiguousarray(out.data, dtype=target)
    if indptr is not out.indptr or indices is not out.indices or data is not out.data:
        out = sp.csr_matrix((data, indices, indptr), shape=shape, copy=False)
        # scipy may shrink int64 indices it judges too wide; put back what was asked
        out.indptr, out.indices = indptr, indices
        out.has_canonical_format = True
    return out


def as_operator(A: Any, *, name: str = "A") -> sp.csr_matrix | LinearOperator:
    """Normalise a matrix, keeping a ``LinearOperator`` as it is (checked).

    Solvers that only need products with ``A`` (CG, Chebyshev) accept a
    ``LinearOperator``; everything else is turned into CSR by :func:`as_csr`.

    Examples
    --------
    >>> from scipy.sparse.linalg import aslinearoperator
    >>> import numpy as np
    >>> op = as_operator(aslinearoperator(np.eye(2)))
    >>> op.shape
    (2, 2)
    """
    if isinstance(A, LinearOperator):
        shape = A.shape
        if len(shape) != 2 or shape[0] != shape[1]:
            raise ValueError(f"{name} must be square, got shape {shape}")
        if shape[0] == 0:
            raise ValueError(f"{name} is empty (shape {shape})")
        _float_dtype(A.dtype if A.dtype is not None else np.float64, name)
        return A
    return as_csr(A, name=name)


def as_vector(
    v: Any,
    n: int,
    *,
    name: str = "b",
    dtype: np.dtype | type | None = None,
    copy: bool = True,
) -> np.ndarray:
    """Normalise a vector of length ``n`` to a contiguous float array.

    Shapes ``(n,)`` and ``(n, 1)`` are accepted. By default a fresh array is
    returned so that solvers never write into the caller's memory.

    Examples
    --------
    >>> as_vector([[1], [2]], 2, dtype="float32")
    array([1., 2.], dtype=float32)
    >>> as_vector([1.0, float("nan")], 2, name="x0")
    Traceback (most recent call last):
    ...
    ValueError: x0 contains NaN or Inf entries
    """
    if sp.issparse(v):
        v = v.toarray()
    try:
        arr = np.asarray(v)
    except Exception as exc:  # pragma: no cover
        raise TypeError(f"{name} cannot be converted to an array: {exc}") from exc
    if arr.dtype == object:
        raise TypeError(f"{name} has dtype object; expected a numeric vector")
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a vector of length {n}, got shape {arr.shape}")
    if arr.shape[0] != n:
        raise ValueError(f"{name} has length {arr.shape[0]} but the matrix has {n} rows")
    target = _float_dtype(arr.dtype, name) if dtype is None else _float_dtype(dtype, name)
    out = np.array(arr, dtype=target, order="C", copy=True) if copy else np.ascontiguousarray(arr, dtype=target)
    if not np.isfinite(out).all():
        raise ValueError(f"{name} contains NaN or Inf entries")
    return out


def solve_dtype(*dtypes: np.dtype | None) -> np.dtype:
    """The dtype to iterate in: float32 when every input is float32, else float64.

    Examples
    --------
    >>> solve_dtype(np.float32, np.float32), solve_dtype(np.float32, np.int64)
    (dtype('float32'), dtype('float64'))
    """
    real = [np.dtype(d) for d in dtypes if d is not None]
    if real and all(d == np.float32 for d in real):
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def check_tolerances(rtol: float, atol: float, maxiter: int | None, default_maxiter: int) -> tuple[float, float, int]:
    """Validate the stopping-rule arguments shared by every solver.

    Returns ``(rtol, atol, maxiter)`` with the default ``maxiter`` filled in.

    Examples
    --------
    >>> check_tolerances(1e-8, 0.0, None, 100)
    (1e-08, 0.0, 100)
    >>> check_tolerances(-1.0, 0.0, None, 100)
    Traceback (most recent call last):
    ...
    ValueError: rtol must be a finite number >= 0, got -1.0
    """
    for label, value in (("rtol", rtol), ("atol", atol)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
            raise TypeError(f"{label} must be a real number, got {type(value).__name__}")
        if not np.isfinite(value) or value < 0:
            raise ValueError(f"{label} must be a finite number >= 0, got {value}")
    if maxiter is None:
        maxiter = default_maxiter
    if isinstance(maxiter, bool) or not isinstance(maxiter, (int, np.integer)):
        raise TypeError(f"maxiter must be an integer, got {type(maxiter).__name__}")
    if maxiter < 0:
        raise ValueError(f"maxiter must be >= 0, got {maxiter}")
    return float(rtol), float(atol), int(maxiter)


def diagonal(A: sp.csr_matrix, *, name: str = "A", nonzero: bool = True) -> np.ndarray:
    """The diagonal of a CSR matrix, checked to be free of zeros when asked.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> diagonal(sp.csr_matrix([[2.0, 1.0], [1.0, 0.0]]))
    Traceback (most recent call last):
    ...
    ValueError: A has a zero on its diagonal (row 1); this method divides by the diagonal
    """
    d = np.ascontiguousarray(A.diagonal(), dtype=A.dtype)
    if nonzero:
        zero = np.flatnonzero(d == 0)
        if zero.size:
            raise ValueError(
                f"{name} has a zero on its diagonal (row {zero[0]}); this method divides by the diagonal"
            )
    return d


def on_device(obj: Any) -> bool:
    """Whether ``obj`` lives on a GPU -- decided by duck typing, without importing ``numba.cuda``.

    True for itersolve's device objects (``DeviceCSR``, device
    preconditioners), anything exposing ``__cuda_array_interface__`` (Numba
    device arrays, CuPy arrays, PyTorch CUDA tensors), CuPy sparse matrices,
    PyTorch CUDA sparse tensors and the Numba simulator's device arrays.

    Examples
    --------
    >>> on_device(np.ones(3)), on_device([1.0])
    (False, False)
    """
    if getattr(obj, "__itersolve_device__", False):
        return True
    try:
        if hasattr(obj, "__cuda_array_interface__"):
            return True
    except Exception:  # noqa: BLE001 - a CPU tensor may raise something else than AttributeError
        pass
    module = type(obj).__module__ or ""
    if module.startswith(("numba.cuda.simulator", "cupyx.scipy.sparse", "cupy")):
        return True
    return module.startswith("torch") and bool(getattr(obj, "is_cuda", False))
