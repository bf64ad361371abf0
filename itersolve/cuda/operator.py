"""``DeviceCSR``: a CSR matrix on the GPU with the small interface of ``SparseOperator``.

:func:`to_device` moves a matrix (anything :func:`itersolve.sparse.as_csr`
takes, or a :class:`~itersolve.kernels.SparseOperator`), a vector or a
preconditioner to the device. A CuPy ``cupyx.scipy.sparse`` CSR matrix or a
PyTorch sparse-CSR CUDA tensor is wrapped without a copy.

The products pick their kernel once, from the average row length (see
:mod:`itersolve.cuda.spmv`): one thread per row below
:data:`WARP_MIN_ROW_LENGTH` stored entries per row, else a group of lanes
per row (a power of two up to a whole warp).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from .. import sparse
from ._config import THREADS, grid_for
from ._reduce import store_rule
from ._runtime import as_device_array, is_device_array, read_result, require_gpu, scratch
from .blas import copy_k, nonfinite_kernel
from .spmv import MODE_MATVEC, MODE_MATVEC_DOT, MODE_RESIDUAL, csr_thread_kernel, csr_warp_kernel, diag_k

__all__ = ["DeviceCSR", "to_device", "as_device_vector", "as_device_operator", "count_nonfinite", "WARP_MIN_ROW_LENGTH"]

#: ``kernel="auto"`` uses lanes per row (warp-per-row kernel) from this average row length on.
WARP_MIN_ROW_LENGTH = 12

_KERNELS = ("auto", "thread", "warp")


def _lanes_for(avg: float) -> int:
    lanes = 1
    while lanes * 2 <= min(avg, 32.0):
        lanes *= 2
    return lanes


def _zero_state():
    return scratch().result  # slot 0 is always 0: "running"


class DeviceCSR:
    """A CSR matrix whose arrays live on the GPU.

    Parameters
    ----------
    indptr, indices, data : device arrays
        Canonical CSR arrays (int32 or int64 indices, float32 or float64
        values), e.g. from :func:`to_device`.
    shape : tuple of int
    host : scipy.sparse.csr_matrix, optional
        The same matrix on the host, when known (kept for host-side set-up:
        colourings, level schedules, diagonals). Copied back on first use
        otherwise.
    kernel : {"auto", "thread", "warp"}
        SpMV kernel: one thread per row, or ``lanes`` lanes per row;
        ``"auto"`` chooses from the average row length.
    lanes : int, optional
        Lanes per row for ``kernel="warp"`` (a power of two <= 32); by default
        the largest power of two not above the average row length.

    Attributes
    ----------
    shape, n, nnz, dtype : tuple, int, int, numpy.dtype
    kernel, lanes : str, int
        The SpMV kernel in use.
    layout : str
        ``"csr"`` (the exchange format is the only device layout).
    nbytes : int
        Bytes one product streams at least (matrix + ``x`` + ``y``).

    Notes
    -----
    Same interface as :class:`itersolve.kernels.SparseOperator`:
    ``matvec(x, out)``, ``residual(x, b, out) -> float`` (``||b - Ax||^2``)
    and ``matvec_dot(x, out) -> float`` (``x . Ax``), on device vectors of
    ``dtype``. The two reductions read one float back each.
    """

    __itersolve_device__ = True
    layout = "csr"

    def __init__(self, indptr: Any, indices: Any, data: Any, shape: tuple[int, int], *, host: Any = None,
                 kernel: str = "auto", lanes: int | None = None) -> None:
        if kernel not in _KERNELS:
            raise ValueError(f"kernel must be one of {_KERNELS}, got {kernel!r}")
        self.indptr, self.indices, self.data = indptr, indices, data
        self.shape = (int(shape[0]), int(shape[1]))
        self.n = self.shape[0]
        self.nnz = int(data.shape[0])
        self.dtype = np.dtype(data.dtype)
        self._host = host
        avg = self.nnz / max(self.n, 1)
        if kernel == "auto":
            kernel = "warp" if avg >= WARP_MIN_ROW_LENGTH else "thread"
        if kernel == "warp":
            lanes = _lanes_for(avg) if lanes is None else int(lanes)
            if lanes < 1 or lanes > 32 or lanes & (lanes - 1):
                raise ValueError(f"lanes must be a power of two between 1 and 32, got {lanes}")
        else:
            lanes = 1
        self.kernel = kernel
        self.lanes = lanes
        vb = self.dtype.itemsize
        self.nbytes = int(data.nbytes + indices.nbytes + indptr.nbytes + vb * (self.shape[0] + self.shape[1]))

    # ------------------------------------------------------------ construction
    @classmethod
    def from_host(cls, A: Any, *, dtype: Any = None, index_dtype: Any = None, kernel: str = "auto",
                  lanes: int | None = None) -> "DeviceCSR":
        """Copy a host matrix (anything :func:`itersolve.sparse.as_csr` takes) to the device.

        ``index_dtype`` (int32 or int64) is kept from a canonical CSR input and
        otherwise the smallest that fits, as in :func:`itersolve.sparse.as_csr`.
        """
        require_gpu("moving a matrix to the GPU")
        from numba import cuda

        if index_dtype is None and sp.issparse(A) and getattr(A, "indices", None) is not None:
            if A.indices.dtype == np.int64 and A.indptr.dtype == np.int64:
                index_dtype = np.int64
        csr = sparse.as_csr(A, dtype=dtype, index_dtype=index_dtype)
        return cls(cuda.to_device(csr.indptr), cuda.to_device(csr.indices), cuda.to_device(csr.data), csr.shape,
                   host=csr, kernel=kernel, lanes=lanes)

    @property
    def csr(self) -> sp.csr_matrix:
        """The matrix on the host (canonical CSR; copied back from the device on first use)."""
        if self._host is None:
            host = sp.csr_matrix(
                (self.data.copy_to_host(), self.indices.copy_to_host(), self.indptr.copy_to_host()), shape=self.shape
            )
            self._host = sparse.as_csr(host)
        return self._host

    def copy_to_host(self) -> sp.csr_matrix:
        """The matrix as a SciPy CSR matrix."""
        return self.csr.copy()

    # --------------------------------------------------------------- products
    def launch(self, x: Any, b: Any, y: Any, mode: int, S: Any, rule: Any) -> None:
        """One SpMV launch: ``y = A x`` (mode 0), ``y = b - A x`` (1) or ``y = A x`` (2), the fused
        reduction's total handed to ``rule(S, total)`` on the device; nothing when ``S[0] != 0``."""
        s = scratch()
        if self.kernel == "thread":
            k = csr_thread_kernel(rule)
            k[grid_for(self.n), THREADS](self.indptr, self.indices, self.data, x, b, y, mode, s.partials, s.counter, S)
        else:
            k = csr_warp_kernel(rule)
            k[grid_for(self.n, self.lanes), THREADS](self.indptr, self.indices, self.data, x, b, y, mode, self.lanes,
                                                     s.partials, s.counter, S)

    def matvec(self, x: Any, out: Any = None) -> Any:
        """``out = A x``; returns ``out`` (allocated when ``None``)."""
        if out is None:
            from numba import cuda

            out = cuda.device_array(self.shape[0], self.dtype)
        self.launch(x, out, out, MODE_MATVEC, _zero_state(), store_rule)
        return out

    def residual(self, x: Any, b: Any, out: Any) -> float:
        """``out = b - A x``; returns ``||out||^2`` (float64 sum) -- one read-back."""
        self.launch(x, b, out, MODE_RESIDUAL, scratch().result, store_rule)
        return read_result()

    def matvec_dot(self, x: Any, out: Any) -> float:
        """``out = A x``; returns ``x . out`` (float64 sum) -- one read-back."""
        self.launch(x, out, out, MODE_MATVEC_DOT, scratch().result, store_rule)
        return read_result()

    def __matmul__(self, x: Any) -> Any:
        return self.matvec(x)

    def diagonal(self) -> Any:
        """The diagonal as a device vector (zeros where none is stored)."""
        from numba import cuda

        d = cuda.device_array(self.n, self.dtype)
        diag_k[grid_for(self.n), THREADS](self.indptr, self.indices, self.data, d)
        return d

    def update(self, A: Any) -> "DeviceCSR":
        """Take new values for the same sparsity pattern (host matrix); returns ``self``."""
        csr = sparse.as_csr(A, dtype=self.dtype)
        if csr.nnz != self.nnz or csr.shape != self.shape:
            raise ValueError("update() needs a matrix with the same shape and sparsity pattern")
        self.data.copy_to_device(csr.data)
        self._host = csr
        return self

    def __repr__(self) -> str:
        return (f"DeviceCSR(shape={self.shape}, dtype={self.dtype}, nnz={self.nnz}, index={self.indices.dtype}, "
                f"kernel={self.kernel!r}, lanes={self.lanes})")


# ----------------------------------------------------------------- helpers


def _float_dtype(dtype: Any, name: str) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype.kind == "c":
        raise TypeError(f"{name} is complex ({dtype}); only real float32/float64 systems are supported")
    if dtype.kind in "biu":
        return np.dtype(np.float64)
    if dtype.kind == "f":
        return np.dtype(np.float32) if dtype.itemsize <= 4 else np.dtype(np.float64)
    raise TypeError(f"{name} has unsupported dtype {dtype}; expected a real numeric type")


def _device_copy(src: Any, dtype: np.dtype) -> Any:
    from numba import cuda

    out = cuda.device_array(src.shape[0], dtype)
    copy_k[grid_for(src.shape[0]), THREADS](src, out)
    return out


def count_nonfinite(x: Any) -> int:
    """Number of NaN/Inf entries of a device vector (one read-back)."""
    s = scratch()
    nonfinite_kernel(store_rule)[grid_for(x.shape[0]), THREADS](x, s.partials, s.counter, s.result)
    return int(read_result())


def as_device_vector(v: Any, n: int, *, name: str = "b", dtype: Any = None, copy: bool = True) -> Any:
    """Normalise a device vector of length ``n``: the device twin of :func:`itersolve.sparse.as_vector`.

    Shapes ``(n,)`` and ``(n, 1)`` are accepted; the result is a contiguous
    Numba device array of a float dtype (``dtype``, or float32/float64 from
    the input), a fresh copy when ``copy`` or when a conversion was needed.
    NaN/Inf raise a ``ValueError`` (one reduction, one read-back).
    """
    arr = as_device_array(v, name)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr.reshape(arr.shape[0])
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a vector of length {n}, got shape {tuple(arr.shape)}")
    if arr.shape[0] != n:
        raise ValueError(f"{name} has length {arr.shape[0]} but the matrix has {n} rows")
    target = _float_dtype(arr.dtype, name) if dtype is None else _float_dtype(dtype, name)
    if copy or arr.dtype != target or not arr.is_c_contiguous():
        arr = _device_copy(arr, target)
    if count_nonfinite(arr):
        raise ValueError(f"{name} contains NaN or Inf entries")
    return arr


def _wrap_foreign_csr(A: Any) -> DeviceCSR | None:
    """A CuPy CSR matrix or a PyTorch sparse-CSR CUDA tensor as a DeviceCSR, without copies."""
    mod = type(A).__module__
    if mod.startswith("cupyx.scipy.sparse"):
        if A.format != "csr":
            A = A.tocsr()
        parts = (A.indptr, A.indices, A.data)
        shape = A.shape
    elif hasattr(A, "crow_indices") and getattr(A, "is_cuda", False):
        parts = (A.crow_indices(), A.col_indices(), A.values())
        shape = tuple(A.shape)
    else:
        return None
    if len(shape) != 2 or shape[0] != shape[1]:
        raise ValueError(f"A must be square, got shape {tuple(shape)}")
    indptr, indices, data = (as_device_array(a, "A") for a in parts)
    target = _float_dtype(data.dtype, "A")
    if data.dtype != target:
        data = _device_copy(data, target)
    if count_nonfinite(data):
        raise ValueError("A contains NaN or Inf entries")
    return DeviceCSR(indptr, indices, data, shape)


def as_device_operator(A: Any) -> Any:
    """The device operator for ``A``: a :class:`DeviceCSR` or device operator as it is, a CuPy /
    PyTorch CSR matrix wrapped without copies."""
    if getattr(A, "__itersolve_device__", False):
        return A
    wrapped = _wrap_foreign_csr(A)
    if wrapped is not None:
        return wrapped
    if is_device_array(A):
        raise TypeError(
            f"A is a dense device array (shape {tuple(A.shape)}); the device solvers take a sparse matrix: "
            "itersolve.cuda.to_device(A_host), a cupyx.scipy.sparse.csr_matrix or a torch sparse CSR tensor"
        )
    raise TypeError(f"A of type {type(A).__name__} is not a device matrix; use itersolve.cuda.to_device(A)")


def to_device(obj: Any, *, dtype: Any = None, index_dtype: Any = None, kernel: str = "auto") -> Any:
    """Move a matrix, vector or preconditioner to the GPU.

    Parameters
    ----------
    obj : matrix, vector or preconditioner
        * a SciPy sparse matrix, dense 2-D array or
          :class:`~itersolve.kernels.SparseOperator` -> :class:`DeviceCSR`;
        * a CuPy CSR matrix or PyTorch sparse-CSR CUDA tensor ->
          :class:`DeviceCSR` sharing its memory;
        * a 1-D array -> a Numba device array;
        * an :class:`itersolve.preconditioners.Jacobi`, ``IC0``, ``ILU0`` or
          ``SSOR(colored=True)`` -> its device twin (see
          :mod:`itersolve.cuda.preconditioners`);
        * anything already on the device is returned as it is.
    dtype : dtype, optional
        Value dtype for a matrix or vector (float32 or float64).
    index_dtype : dtype, optional
        Index dtype of a matrix (int32 or int64; by default int64 indices
        are kept and anything else gets the smallest that fits).
    kernel : {"auto", "thread", "warp"}
        SpMV kernel of a matrix (see :class:`DeviceCSR`).

    Raises
    ------
    CudaUnavailableError
        When no GPU can be used ("no CUDA GPU available ...").
    """
    require_gpu("itersolve.cuda.to_device")
    from numba import cuda

    from ..kernels.operator import SparseOperator
    from ..preconditioners.base import Preconditioner

    if getattr(obj, "__itersolve_device__", False):
        return obj
    wrapped = _wrap_foreign_csr(obj)
    if wrapped is not None:
        return wrapped
    if is_device_array(obj):
        return as_device_array(obj)
    if isinstance(obj, Preconditioner):
        from .preconditioners import from_host

        return from_host(obj)
    if isinstance(obj, SparseOperator):
        obj = obj.csr
    if sp.issparse(obj):
        return DeviceCSR.from_host(obj, dtype=dtype, index_dtype=index_dtype, kernel=kernel)
    arr = np.asarray(obj)
    if arr.ndim == 2:
        return DeviceCSR.from_host(arr, dtype=dtype, index_dtype=index_dtype, kernel=kernel)
    if arr.ndim == 1:
        if dtype is not None:
            arr = arr.astype(dtype)
        return cuda.to_device(np.ascontiguousarray(arr))
    raise TypeError(f"cannot move a {type(obj).__name__} of shape {arr.shape} to the device")

