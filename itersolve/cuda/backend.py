"""The CUDA backend: the solvers' vector operations on device arrays.

The same names as the CPU backend :mod:`itersolve.kernels.backend` (read its
docstring for the two kinds of operations and the loop state), implemented
with the kernels of this package. Differences that matter to a solver:

* plain reductions (``dot``, ``norm``, ``cg_update`` ...) read one float back
  -- a synchronisation;
* the loop state ``S`` is a float64 device array: the ``s_`` operations run
  their scalar rules on the device (compiled from the same Python functions
  the CPU backend calls), ``set_state`` writes with a one-thread kernel (no
  synchronisation), and ``read_state`` is the one read-back a loop makes
  per check;
* natural-order SOR sweeps do not exist here (``sor_forward`` raises): the
  device sweeps are multicolour.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
from numba import cuda

from ..kernels.backend import STATUS, Slot
from ._config import THREADS, grid_for
from ._reduce import set_slots, store_rule
from ._runtime import read_result, require_gpu, scratch
from .blas import axpby_k, cg_update_kernel, copy_k, diag_axpy_k, diag_scale_k, dot_kernel, fill_k, scale_k
from .operator import DeviceCSR, as_device_operator, as_device_vector, count_nonfinite
from .spmv import MODE_MATVEC, MODE_MATVEC_DOT, MODE_RESIDUAL
from .sweeps import sor_color_k

__all__ = [
    "name",
    "on_device",
    "Slot",
    "STATUS",
    "require_gpu",
    "normalize",
    "as_preconditioner",
    "empty",
    "zeros",
    "empty_like",
    "zeros_like",
    "from_host",
    "to_host",
    "copy",
    "dot",
    "norm2sq",
    "norm",
    "all_finite",
    "axpy",
    "xpay",
    "axpby",
    "scale",
    "diag_scale",
    "cg_update",
    "new_state",
    "set_state",
    "read_state",
    "s_matvec",
    "s_matvec_dot",
    "s_residual",
    "s_dot",
    "s_cg_update",
    "s_xpay",
    "s_scale",
    "s_diag_axpy",
    "color_partition",
    "sor_forward",
    "sor_backward",
    "sor_colored",
]

name = "cuda"
on_device = True

Rule = Callable[[Any, float], None]


def _grid(n: int) -> int:
    return grid_for(n)


def _zero_state() -> Any:
    return scratch().result


def _coef(v: Any) -> tuple[float, int]:
    """``(coef, slot)`` kernel arguments for a number or a :class:`Slot`."""
    if type(v) is Slot:
        return 0.0, int(v)
    return float(v), -1


# ------------------------------------------------------------- set-up


def normalize(A: Any, b: Any, x0: Any, *, matrix_free: bool = False) -> tuple[Any, Any, Any, np.dtype]:
    """Device twin of the CPU normalisation in ``prepare``: ``(op, b, x, dtype)``.

    ``A`` must be a device operator (:class:`DeviceCSR`, a device
    preconditioner-like object with the operator interface, a CuPy / PyTorch
    CSR matrix); ``b`` and ``x0`` device vectors. ``b`` is used in place when
    it already is a contiguous vector of the solve dtype; ``x0`` is copied.
    """
    from .. import sparse

    op = as_device_operator(A)
    n = op.shape[0]
    if op.shape[0] != op.shape[1]:
        raise ValueError(f"A must be square, got shape {op.shape}")
    bvec = as_device_vector(b, n, name="b", copy=False)
    dtype = sparse.solve_dtype(op.dtype, bvec.dtype)
    if op.dtype != dtype:
        raise TypeError(f"A is a {op.dtype} device matrix but b needs {dtype}; build the matrix in {dtype} "
                        f"(itersolve.cuda.to_device(A, dtype={str(dtype)!r}))")
    if bvec.dtype != dtype:
        bvec = as_device_vector(bvec, n, name="b", dtype=dtype, copy=True)
    if x0 is None:
        x = zeros(n, dtype)
    else:
        x = as_device_vector(x0, n, name="x0", dtype=dtype, copy=True)
    return op, bvec, x, dtype


class _CallablePreconditioner:
    """A user function ``r -> M^-1 r`` on device arrays, given the ``apply(r, out)`` interface."""

    __itersolve_device__ = True

    def __init__(self, fn: Callable, n: int, dtype: np.dtype) -> None:
        self.fn, self.n, self.dtype = fn, n, dtype

    def apply(self, r: Any, out: Any) -> Any:
        z = as_device_vector(self.fn(r), self.n, name="M(r)", dtype=self.dtype, copy=False)
        copy(z, out)
        return out


def as_preconditioner(M: Any, n: int, dtype: Any = None) -> Any:
    """An object with ``apply(r, out)`` on device vectors; ``None`` stays ``None``.

    Device preconditioners (:mod:`itersolve.cuda.preconditioners`) are used
    directly, a callable ``r -> z`` on device arrays is wrapped; a host
    preconditioner or matrix is refused with a ``TypeError`` naming the way
    to move it.
    """
    if M is None:
        return None
    if getattr(M, "__itersolve_device__", False):
        shape = getattr(M, "shape", (n, n))
        if tuple(shape) != (n, n):
            raise ValueError(f"M has shape {tuple(shape)} but A has shape ({n}, {n})")
        return M
    from .. import sparse
    from ..preconditioners.base import Preconditioner

    if isinstance(M, str):
        raise TypeError("M given by name is accepted by itersolve.solve(); the solvers take an object "
                        "(itersolve.cuda.to_device(P))")
    if sparse.on_device(M) and not callable(M):
        raise TypeError(f"M ({type(M).__name__}) is a device array or matrix; pass a device preconditioner "
                        "(itersolve.cuda.to_device(P)) or a callable r -> M^-1 r on device arrays")
    if isinstance(M, Preconditioner) or (hasattr(M, "shape") and not sparse.on_device(M)):
        raise TypeError(
            f"mixed host and device inputs: M ({type(M).__name__}) is on the host but A and b are on the device; "
            "move it with itersolve.cuda.to_device(M) (Jacobi, IC0, ILU0, SSOR(colored=True))"
        )
    if callable(M):
        return _CallablePreconditioner(M, n, np.dtype(dtype or np.float64))
    raise TypeError(f"M of type {type(M).__name__} is not a preconditioner")


# ------------------------------------------------------------------ arrays


def empty(n: int, dtype: Any) -> Any:
    """An uninitialised device vector."""
    return cuda.device_array(int(n), np.dtype(dtype))


def zeros(n: int, dtype: Any) -> Any:
    """A zero device vector (filled by a kernel: no host transfer)."""
    x = empty(n, dtype)
    fill_k[_grid(n), THREADS](x, 0.0)
    return x


def empty_like(x: Any) -> Any:
    """An uninitialised device vector like ``x``."""
    return empty(x.shape[0], x.dtype)


def zeros_like(x: Any) -> Any:
    """A zero device vector like ``x``."""
    return zeros(x.shape[0], x.dtype)


def from_host(a: np.ndarray) -> Any:
    """Copy a host array to the device."""
    return cuda.to_device(np.ascontiguousarray(a))


def to_host(x: Any) -> np.ndarray:
    """Copy a device array to the host."""
    return x.copy_to_host()


def copy(x: Any, out: Any) -> None:
    """``out[:] = x``."""
    copy_k[_grid(out.shape[0]), THREADS](x, out)


def dot(x: Any, y: Any) -> float:
    """``x . y`` (float64 accumulation) -- one read-back."""
    s = scratch()
    dot_kernel(store_rule)[_grid(x.shape[0]), THREADS](x, y, s.partials, s.counter, s.result)
    return read_result()


def norm2sq(x: Any) -> float:
    """``x . x`` -- one read-back."""
    return dot(x, x)


def norm(x: Any) -> float:
    """``||x||_2`` -- one read-back."""
    return math.sqrt(dot(x, x))


def all_finite(x: Any) -> bool:
    """Whether ``x`` holds no NaN or Inf -- one read-back."""
    return count_nonfinite(x) == 0


def axpby(a: float, x: Any, b: float, y: Any) -> None:
    """``y = a x + b y``."""
    axpby_k[_grid(y.shape[0]), THREADS](float(a), -1, x, float(b), -1, y, _zero_state())


def axpy(a: float, x: Any, y: Any) -> None:
    """``y += a x``."""
    axpby(a, x, 1.0, y)


def xpay(x: Any, beta: float, y: Any) -> None:
    """``y = x + beta y``."""
    axpby(1.0, x, beta, y)


def scale(a: float, x: Any, out: Any) -> None:
    """``out = a x``."""
    scale_k[_grid(out.shape[0]), THREADS](float(a), x, out, _zero_state())


def diag_scale(d: Any, x: Any, out: Any) -> None:
    """``out = d * x``."""
    diag_scale_k[_grid(out.shape[0]), THREADS](d, x, out)


def cg_update(x: Any, r: Any, p: Any, q: Any, alpha: float) -> float:
    """``x += alpha p``; ``r -= alpha q``; returns ``r . r`` -- one pass, one read-back."""
    s = scratch()
    cg_update_kernel(store_rule)[_grid(x.shape[0]), THREADS](x, r, p, q, float(alpha), -1, s.partials, s.counter,
                                                            s.result)
    return read_result()


# -------------------------------------------------------------- loop state

_pinned: dict[int, np.ndarray] = {}


def new_state(size: int, values: dict[int, float]) -> Any:
    """A float64 device array of ``size`` slots, zero but for ``values``."""
    host = np.zeros(size, np.float64)
    for i, v in values.items():
        host[i] = v
    return cuda.to_device(host)


def set_state(S: Any, values: dict[int, float]) -> None:
    """Write slots of the state on the device (one-thread kernels, no synchronisation)."""
    items = list(values.items())
    for j in range(0, len(items), 3):
        chunk = items[j:j + 3] + [(-1, 0.0)] * (3 - len(items[j:j + 3]))
        args = []
        for i, v in chunk:
            args += [int(i), float(v)]
        set_slots[1, 1](S, *args)


def read_state(S: Any) -> np.ndarray:
    """Copy the state back: the one read-back (and synchronisation) of a loop check."""
    n = S.shape[0]
    buf = _pinned.get(n)
    if buf is None:
        buf = cuda.pinned_array(n, np.float64)
        _pinned[n] = buf
    S.copy_to_host(buf)
    return buf


def _launch_spmv(op: Any, x: Any, b: Any, y: Any, mode: int, S: Any, rule: Rule) -> None:
    if isinstance(op, DeviceCSR) or hasattr(op, "launch"):
        op.launch(x, b, y, mode, S, rule)
        return
    # a user device operator with the SparseOperator interface only
    op.matvec(x, y)
    s = scratch()
    if mode == MODE_RESIDUAL:
        axpby(1.0, b, -1.0, y)
        dot_kernel(rule)[_grid(y.shape[0]), THREADS](y, y, s.partials, s.counter, S)
    elif mode == MODE_MATVEC_DOT:
        dot_kernel(rule)[_grid(y.shape[0]), THREADS](x, y, s.partials, s.counter, S)


def s_matvec(op: Any, x: Any, out: Any, S: Any) -> None:
    """``out = A x`` unless stopped."""
    _launch_spmv(op, x, out, out, MODE_MATVEC, S, store_rule)


def s_matvec_dot(op: Any, x: Any, out: Any, S: Any, rule: Rule) -> None:
    """``out = A x``; ``rule(S, x . out)`` on the device -- unless stopped."""
    _launch_spmv(op, x, out, out, MODE_MATVEC_DOT, S, rule)


def s_residual(op: Any, x: Any, b: Any, out: Any, S: Any, rule: Rule) -> None:
    """``out = b - A x``; ``rule(S, out . out)`` on the device -- unless stopped."""
    _launch_spmv(op, x, b, out, MODE_RESIDUAL, S, rule)


def s_dot(x: Any, y: Any, S: Any, rule: Rule) -> None:
    """``rule(S, x . y)`` on the device (rules check the status themselves)."""
    s = scratch()
    dot_kernel(rule)[_grid(x.shape[0]), THREADS](x, y, s.partials, s.counter, S)


def s_cg_update(x: Any, r: Any, p: Any, q: Any, alpha: Any, S: Any, rule: Rule) -> None:
    """``x += alpha p``; ``r -= alpha q``; ``rule(S, r . r)`` -- one pass, unless stopped."""
    s = scratch()
    coef, slot = _coef(alpha)
    cg_update_kernel(rule)[_grid(x.shape[0]), THREADS](x, r, p, q, coef, slot, s.partials, s.counter, S)


def s_xpay(x: Any, beta: Any, y: Any, S: Any) -> None:
    """``y = x + beta y`` unless stopped."""
    coef, slot = _coef(beta)
    axpby_k[_grid(y.shape[0]), THREADS](1.0, -1, x, coef, slot, y, S)


def s_scale(a: Any, x: Any, out: Any, S: Any) -> None:
    """``out = a x`` unless stopped (``a`` a number)."""
    scale_k[_grid(out.shape[0]), THREADS](float(a), x, out, S)


def s_diag_axpy(d: Any, r: Any, x: Any, S: Any, work: Any = None) -> None:
    """``x += d * r`` unless stopped (one fused pass; ``work`` unused)."""
    diag_axpy_k[_grid(x.shape[0]), THREADS](d, r, x, S)


# ------------------------------------------------------------------ sweeps


def color_partition(op: Any) -> tuple[np.ndarray, Any]:
    """Greedy colouring of ``op``'s matrix, computed on the host: ``(color_ptr on the host,
    color_rows on the device)``."""
    from ..kernels.coloring import color_partition as partition, greedy_coloring

    A = op.csr
    ptr, rows = partition(greedy_coloring(A.indptr, A.indices))
    return np.asarray(ptr), cuda.to_device(rows)


def sor_forward(*args: Any) -> None:
    """Natural-order SOR is sequential: no device kernel."""
    raise ValueError("natural-order SOR is sequential (each row waits for the one before) and has no GPU "
                     "kernel; on the device use ordering='multicolor'")


sor_backward = sor_forward


def sor_colored(op: Any, diag: Any, x: Any, b: Any, omega: Any, colors: tuple[np.ndarray, Any], reverse: bool,
                S: Any) -> None:
    """One multicolour SOR sweep (a launch per colour) unless stopped."""
    ptr, rows = colors
    ncol = len(ptr) - 1
    for c in range(ncol):
        cc = ncol - 1 - c if reverse else c
        lo, hi = int(ptr[cc]), int(ptr[cc + 1])
        sor_color_k[_grid(hi - lo), THREADS](op.indptr, op.indices, op.data, diag, x, b, omega, rows, lo, hi, S)
