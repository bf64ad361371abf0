"""Preconditioners on the device: Jacobi, IC(0), ILU(0) and multicolour SSOR.

A device preconditioner is made from its host twin, which does the set-up
(diagonal checks, the factorisation, level schedules, the colouring) with the
CPU kernels::

    P_gpu = itersolve.cuda.to_device(itersolve.preconditioners.IC0(A))
    itersolve.cg(A_gpu, b_gpu, M=P_gpu)

and then applies ``M^-1`` on device vectors with ``apply(r, out)``:

* :class:`DeviceJacobi` -- ``out = D^-1 r``;
* :class:`DeviceIC0` -- ``L`` then ``L^T`` level-scheduled triangular solves;
* :class:`DeviceILU0` -- unit-lower then upper solves on the packed factor;
* :class:`DeviceSSOR` -- a forward and a backward multicolour SOR sweep from
  zero (from ``SSOR(A, colored=True)``; natural-order SSOR is sequential and
  has no device version).

The results equal the host preconditioner's up to rounding.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from numba import cuda

from ._config import THREADS, TRI_BLOCK_LEVEL_MAX, grid_for
from ._runtime import require_gpu, scratch
from .blas import diag_scale_k, fill_k
from .sweeps import sor_color_k
from .triangular import plan_segments, tri_block_k, tri_level_k

__all__ = ["DevicePreconditioner", "DeviceJacobi", "DeviceIC0", "DeviceILU0", "DeviceSSOR", "from_host",
           "DeviceTriangular"]


class DevicePreconditioner:
    """Base of the device preconditioners: ``apply(r, out=None)`` on device vectors.

    Attributes
    ----------
    shape, n, dtype, symmetric, setup_time
        As for :class:`itersolve.preconditioners.Preconditioner`
        (``setup_time`` includes the host set-up and the transfer).
    host : Preconditioner
        The host preconditioner it was made from.
    """

    __itersolve_device__ = True

    def __init__(self, host: Any, t0: float) -> None:
        self.host = host
        self.n = int(host.n)
        self.shape = (self.n, self.n)
        self.dtype = np.dtype(host.dtype)
        self.symmetric = bool(host.symmetric)
        self.setup_time = float(getattr(host, "setup_time", 0.0)) + (time.perf_counter() - t0)

    def _apply(self, r: Any, out: Any) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def apply(self, r: Any, out: Any = None) -> Any:
        """``M^-1 r`` into ``out`` (allocated when ``None``); ``r`` is not modified."""
        if out is None:
            out = cuda.device_array(self.n, self.dtype)
        self._apply(r, out)
        return out

    def __call__(self, r: Any) -> Any:
        return self.apply(r)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} n={self.n} dtype={self.dtype} symmetric={self.symmetric}>"


class DeviceJacobi(DevicePreconditioner):
    """``M^-1 r = D^-1 r``."""

    def __init__(self, host: Any) -> None:
        t0 = time.perf_counter()
        super().__init__(host, t0)
        self.inv_diag = cuda.to_device(np.ascontiguousarray(host.inv_diag, dtype=self.dtype))
        self.setup_time += time.perf_counter() - t0

    def _apply(self, r: Any, out: Any) -> None:
        diag_scale_k[grid_for(self.n), THREADS](self.inv_diag, r, out)


def _upload_csr(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray) -> tuple[Any, Any, Any]:
    return tuple(cuda.to_device(np.ascontiguousarray(a)) for a in (indptr, indices, data))


class DeviceTriangular:
    """A triangular factor on the device with its level schedule: ``solve(b, x)``.

    Parameters
    ----------
    csr : tuple of device arrays
        ``(indptr, indices, data)`` of a matrix whose lower (``lower=True``:
        ``j < i``) or upper part, plus the diagonal unless ``unit``, is the
        factor (one packed ILU array can serve both solves).
    level_ptr, level_rows : host arrays
        From :func:`itersolve.kernels.triangular.level_schedule`.
    """

    def __init__(self, csr: tuple[Any, Any, Any], level_ptr: np.ndarray, level_rows: np.ndarray, lower: bool,
                 unit: bool) -> None:
        self.indptr, self.indices, self.data = csr
        self.level_ptr = cuda.to_device(np.ascontiguousarray(level_ptr, dtype=np.int64))
        self.level_rows = cuda.to_device(np.ascontiguousarray(level_rows, dtype=np.int64))
        self.lower = bool(lower)
        self.unit = bool(unit)
        self.levels = int(len(level_ptr) - 1)
        self.segments = plan_segments(np.asarray(level_ptr), TRI_BLOCK_LEVEL_MAX)

    @property
    def launches(self) -> int:
        """Kernel launches per solve."""
        return len(self.segments)

    def solve(self, b: Any, x: Any) -> None:
        """``x = T^-1 b`` (``x`` must not be ``b``)."""
        for single_block, lo, hi in self.segments:
            if single_block:
                tri_block_k[1, THREADS](self.indptr, self.indices, self.data, self.level_ptr, self.level_rows, lo, hi,
                                        b, x, self.lower, self.unit)
            else:
                tri_level_k[grid_for(hi - lo), THREADS](self.indptr, self.indices, self.data, self.level_rows, lo, hi,
                                                        b, x, self.lower, self.unit)


class DeviceIC0(DevicePreconditioner):
    """``M^-1 r = L^-T L^-1 r`` with the IC(0) factor of the host :class:`~itersolve.preconditioners.IC0`."""

    def __init__(self, host: Any) -> None:
        t0 = time.perf_counter()
        super().__init__(host, t0)
        L, LT = host.L, host.LT
        (lp, lr), (up, ur) = host._lower_levels, host._upper_levels
        self.lower = DeviceTriangular(_upload_csr(L.indptr, L.indices, L.data), lp, lr, True, False)
        self.upper = DeviceTriangular(_upload_csr(LT.indptr, LT.indices, LT.data), up, ur, False, False)
        self._tmp = cuda.device_array(self.n, self.dtype)
        self.setup_time += time.perf_counter() - t0

    def _apply(self, r: Any, out: Any) -> None:
        self.lower.solve(r, self._tmp)
        self.upper.solve(self._tmp, out)


class DeviceILU0(DevicePreconditioner):
    """``M^-1 r = U^-1 L^-1 r`` with the packed ILU(0) factor of the host :class:`~itersolve.preconditioners.ILU0`."""

    def __init__(self, host: Any) -> None:
        t0 = time.perf_counter()
        super().__init__(host, t0)
        LU = host.LU
        (lp, lr), (up, ur) = host._lower_levels, host._upper_levels
        csr = _upload_csr(LU.indptr, LU.indices, LU.data)  # one packed array serves both solves
        self.lower = DeviceTriangular(csr, lp, lr, True, True)
        self.upper = DeviceTriangular(csr, up, ur, False, False)
        self._tmp = cuda.device_array(self.n, self.dtype)
        self.setup_time += time.perf_counter() - t0

    def _apply(self, r: Any, out: Any) -> None:
        self.lower.solve(r, self._tmp)
        self.upper.solve(self._tmp, out)


class DeviceSSOR(DevicePreconditioner):
    """Multicolour SSOR: a forward and a backward colour sweep from zero (host ``SSOR(A, colored=True)``)."""

    def __init__(self, host: Any) -> None:
        t0 = time.perf_counter()
        super().__init__(host, t0)
        A = host.A
        self.indptr = cuda.to_device(A.indptr)
        self.indices = cuda.to_device(A.indices)
        self.data = cuda.to_device(A.data)
        self.diag = cuda.to_device(np.ascontiguousarray(host.diag, dtype=self.dtype))
        self.color_ptr = np.asarray(host.color_ptr)
        self.color_rows = cuda.to_device(np.ascontiguousarray(host.color_rows))
        self.omega = float(host.omega)  # as the host sweeps get it
        self.setup_time += time.perf_counter() - t0

    def _sweep(self, r: Any, out: Any, reverse: bool) -> None:
        S = scratch().result
        ncol = len(self.color_ptr) - 1
        for c in range(ncol):
            cc = ncol - 1 - c if reverse else c
            lo, hi = int(self.color_ptr[cc]), int(self.color_ptr[cc + 1])
            sor_color_k[grid_for(hi - lo), THREADS](self.indptr, self.indices, self.data, self.diag, out, r,
                                                    self.omega, self.color_rows, lo, hi, S)

    def _apply(self, r: Any, out: Any) -> None:
        fill_k[grid_for(self.n), THREADS](out, 0.0)
        self._sweep(r, out, False)
        self._sweep(r, out, True)


def from_host(P: Any) -> DevicePreconditioner:
    """The device twin of a host preconditioner (Jacobi, IC0, ILU0, SSOR with ``colored=True``)."""
    require_gpu("moving a preconditioner to the GPU")
    from ..preconditioners import IC0, ILU0, SSOR, Jacobi

    if isinstance(P, Jacobi):
        return DeviceJacobi(P)
    if isinstance(P, IC0):
        return DeviceIC0(P)
    if isinstance(P, ILU0):
        return DeviceILU0(P)
    if isinstance(P, SSOR):
        if not P.colored:
            raise TypeError("natural-order SSOR is sequential and has no device version; "
                            "build it with SSOR(A, omega, colored=True)")
        return DeviceSSOR(P)
    raise TypeError(f"no device version of {type(P).__name__}; device preconditioners are made from "
                    "Jacobi, IC0, ILU0 and SSOR(colored=True)")
