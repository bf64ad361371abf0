"""GPU availability, device-array handling and the shared scratch buffers.

* :func:`require_gpu` raises :class:`CudaUnavailableError` ("no CUDA GPU
  available ...") when Numba finds no usable GPU and the simulator is off.
* :func:`is_device_array` / :func:`as_device_array` recognise and wrap device
  arrays without copying: Numba device arrays as they are, anything with
  ``__cuda_array_interface__`` (CuPy arrays, PyTorch CUDA tensors ...) through
  ``numba.cuda.as_cuda_array``.
* Every reduction of the backend shares one partial-sum buffer, one ticket
  counter and a two-slot result buffer (slot 0 stays 0: the "running" status
  seen by kernels that check a loop state; slot 1 takes the result). Kernels
  run in order on the default stream, so sharing is safe within a process;
  device solves from several host threads at once are not supported.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import cuda

from ._config import SIMULATOR, max_blocks

__all__ = [
    "CudaUnavailableError",
    "is_available",
    "require_gpu",
    "is_device_array",
    "as_device_array",
    "scratch",
    "read_result",
]


class CudaUnavailableError(RuntimeError):
    """A GPU was asked for but none can be used (no NVIDIA GPU or driver, and no simulator)."""


_available: bool | None = None


def is_available() -> bool:
    """Whether device solves can run here: a usable CUDA GPU, or the Numba CUDA simulator.

    Examples
    --------
    >>> isinstance(is_available(), bool)
    True
    """
    global _available
    if _available is None:
        try:
            _available = bool(cuda.is_available())
        except Exception:  # noqa: BLE001 - a broken driver means "not available"
            _available = False
    return _available


def require_gpu(what: str = "this operation") -> None:
    """Raise :class:`CudaUnavailableError` unless :func:`is_available`."""
    if not is_available():
        raise CudaUnavailableError(
            f"no CUDA GPU available: {what} needs an NVIDIA GPU with a working driver, and numba.cuda "
            "found none. Run on a GPU machine, keep the data on the host (NumPy/SciPy) to use the CPU "
            "solvers, or set NUMBA_ENABLE_CUDASIM=1 before numba is imported to run the (slow) Numba "
            "CUDA simulator."
        )


if SIMULATOR:
    from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray as _DeviceArrayType
else:
    from numba.cuda.cudadrv.devicearray import DeviceNDArray as _DeviceArrayType


def is_device_array(obj: Any) -> bool:
    """Whether ``obj`` is a Numba device array or exposes ``__cuda_array_interface__``."""
    if isinstance(obj, _DeviceArrayType):
        return True
    try:
        return hasattr(obj, "__cuda_array_interface__")
    except Exception:  # noqa: BLE001 - e.g. a CPU tensor raising on the attribute
        return False


def as_device_array(obj: Any, name: str = "array") -> Any:
    """A Numba device array viewing ``obj``'s memory (no copy)."""
    if isinstance(obj, _DeviceArrayType):
        return obj
    if is_device_array(obj):
        if SIMULATOR:
            raise TypeError(
                f"{name} is a foreign device array ({type(obj).__name__}); the Numba CUDA simulator "
                "only takes its own device arrays (numba.cuda.to_device)"
            )
        return cuda.as_cuda_array(obj)
    raise TypeError(f"{name} is not a device array (got {type(obj).__name__})")


class _Scratch:
    def __init__(self) -> None:
        self.partials = cuda.device_array(max_blocks(), np.float64)
        self.counter = cuda.to_device(np.zeros(1, np.int32))
        self.result = cuda.to_device(np.zeros(2, np.float64))
        self.host = cuda.pinned_array(2, np.float64)


_scratch: _Scratch | None = None


def scratch() -> _Scratch:
    """The shared buffers (created on first use)."""
    global _scratch
    if _scratch is None:
        require_gpu()
        _scratch = _Scratch()
    return _scratch


def read_result() -> float:
    """Copy the result slot back (one synchronising read of 16 bytes)."""
    s = scratch()
    s.result.copy_to_host(s.host)
    return float(s.host[1])
