"""GPU backend: Numba-CUDA kernels, device matrices and preconditioners.

Importing this package imports ``numba.cuda`` (``import itersolve`` does not).
The solvers need no separate GPU entry point: give them device data and they
run on the device.

::

    import itersolve, itersolve.cuda as icu
    A_gpu = icu.to_device(A)            # DeviceCSR
    b_gpu = icu.to_device(b)            # or a CuPy array / torch CUDA tensor, used in place
    res = itersolve.cg(A_gpu, b_gpu, M=icu.to_device(IC0(A)), check_every=10)
    res.x                               # a Numba device array; res.x_host copies it to NumPy

What runs on the device
-----------------------
``itersolve.cg``, ``chebyshev``, ``jacobi``, ``sor``, ``gauss_seidel`` and
``ssor`` (multicolour ordering on the device), each with ``check_every=k``:
the loop reads its state back (one small copy) every ``k`` iterations; a loop
that stops in between freezes on the device, so results and iteration counts
do not depend on ``k``. The true residual is recomputed at exit, as always.

Inputs must all be on one side: a mix of host and device arrays raises a
``TypeError`` naming which is where. Device vectors may be Numba device
arrays or anything with ``__cuda_array_interface__`` (CuPy, PyTorch), used
without copies. Without a usable GPU every entry point raises
:class:`CudaUnavailableError` ("no CUDA GPU available ..."), unless the Numba
CUDA simulator is on (``NUMBA_ENABLE_CUDASIM=1``; tests only: it is slow).

Modules
-------
operator         :class:`DeviceCSR`, :func:`to_device`
preconditioners  device Jacobi, IC(0), ILU(0), multicolour SSOR
backend          the solvers' vector operations on device arrays
blas, spmv, sweeps, triangular, _reduce
                 the kernels (see ``CONTRACT.md``)
"""

import warnings

from numba.core.errors import NumbaPerformanceWarning

from ._config import SIMULATOR

# Single-block launches (reductions' set-up, narrow triangular levels) and small
# systems are deliberate here; numba warns about every grid under 128 blocks.
warnings.filterwarnings("ignore", message=r"Grid size \d+ will likely result in GPU under-utilization",
                        category=NumbaPerformanceWarning)

if SIMULATOR:
    from ._simshim import install as _install_simulator_shims

    _install_simulator_shims()

from . import backend, preconditioners  # noqa: E402
from ._runtime import CudaUnavailableError, is_available, require_gpu  # noqa: E402
from .operator import DeviceCSR, to_device  # noqa: E402
from .preconditioners import DeviceIC0, DeviceILU0, DeviceJacobi, DevicePreconditioner, DeviceSSOR  # noqa: E402

__all__ = [
    "SIMULATOR",
    "CudaUnavailableError",
    "is_available",
    "require_gpu",
    "DeviceCSR",
    "to_device",
    "DevicePreconditioner",
    "DeviceJacobi",
    "DeviceIC0",
    "DeviceILU0",
    "DeviceSSOR",
    "backend",
    "preconditioners",
]
