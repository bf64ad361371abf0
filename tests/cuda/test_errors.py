"""Clear errors: mixed host/device inputs, bad device inputs, no GPU at all; lazy import."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import itersolve
from itersolve import pdes
from itersolve import preconditioners as pc

cuda = pytest.importorskip("numba.cuda")
import itersolve.cuda as icu  # noqa: E402

A = pdes.poisson((3, 3))
b = np.ones(9)


def _run(code: str, **env: str) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    full_env.update(env)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=full_env, timeout=300)


@pytest.mark.parametrize("solver", [itersolve.cg, itersolve.chebyshev, itersolve.jacobi, itersolve.sor])
def test_mixed_host_and_device_inputs_are_refused(solver):
    with pytest.raises(TypeError, match=r"mixed host and device inputs: A \(DeviceCSR\) on the device "
                                        r"but b \(ndarray\) on the host"):
        solver(icu.to_device(A), b)
    with pytest.raises(TypeError, match=r"b \(\w+\) on the device but A \(csr_matrix\) on the host"):
        solver(A, cuda.to_device(b))
    with pytest.raises(TypeError, match=r"x0 \(\w+\) on the device"):
        solver(A, b, cuda.to_device(np.zeros(9)))


def test_preconditioner_on_the_wrong_side():
    with pytest.raises(TypeError, match="M \\(IC0\\) is on the host.*itersolve.cuda.to_device\\(M\\)"):
        itersolve.cg(icu.to_device(A), cuda.to_device(b), M=pc.IC0(A))
    with pytest.raises(TypeError, match="M \\(DeviceJacobi\\) is on the device"):
        itersolve.cg(A, b, M=icu.to_device(pc.Jacobi(A)))
    with pytest.raises(TypeError, match="natural-order SSOR"):
        icu.to_device(pc.SSOR(A))
    with pytest.raises(TypeError, match="no device version of AMG"):
        icu.to_device(pc.AMG(A))


def test_bad_device_vectors():
    Ad = icu.to_device(A)
    with pytest.raises(ValueError, match="b has length 8"):
        itersolve.cg(Ad, cuda.to_device(np.ones(8)))
    with pytest.raises(ValueError, match="b contains NaN"):
        itersolve.cg(Ad, cuda.to_device(np.where(np.arange(9) == 4, np.nan, 1.0)))
    with pytest.raises(ValueError, match="x0 has length"):
        itersolve.cg(Ad, cuda.to_device(b), cuda.to_device(np.ones(3)))
    with pytest.raises(ValueError, match="b must be a vector"):
        itersolve.cg(Ad, cuda.to_device(np.ones((3, 3))))
    with pytest.raises(TypeError, match="dense device array"):
        itersolve.cg(cuda.to_device(A.toarray()), cuda.to_device(b))
    with pytest.raises(ValueError, match="check_every"):
        itersolve.cg(Ad, cuda.to_device(b), check_every=0)


def test_user_device_callable_as_preconditioner():
    Ad, bd = icu.to_device(A), cuda.to_device(b)
    inv = cuda.to_device(1.0 / A.diagonal())

    def jacobi(r):
        out = cuda.device_array_like(r)
        icu.backend.diag_scale(inv, r, out)
        return out

    res = itersolve.cg(Ad, bd, M=jacobi, rtol=1e-8)
    ref = itersolve.cg(A, b, M=pc.Jacobi(A), rtol=1e-8)
    assert res.iterations == ref.iterations and res.converged


def test_without_a_gpu_every_entry_point_says_so():
    """A fresh interpreter without the simulator on this GPU-less machine."""
    if icu.is_available() and not icu.SIMULATOR:
        pytest.skip("a real GPU is present")
    out = _run("""
        import numpy as np, itersolve, itersolve.cuda as icu
        from itersolve.pdes import poisson
        print("available", icu.is_available())
        try:
            icu.to_device(poisson((3, 3)))
        except icu.CudaUnavailableError as e:
            print("to_device:", e)

        class FakeDeviceVector:  # anything exposing the CUDA array interface counts as device data
            __cuda_array_interface__ = {"shape": (9,), "typestr": "<f8", "data": (0, False), "version": 3}

        try:
            itersolve.cg(FakeDeviceVector(), FakeDeviceVector())
        except RuntimeError as e:
            print("cg:", type(e).__name__, e)
    """)
    assert out.returncode == 0, out.stderr
    assert "available False" in out.stdout
    assert "to_device: no CUDA GPU available" in out.stdout
    assert "cg: CudaUnavailableError no CUDA GPU available: a solve on device arrays" in out.stdout


def test_import_itersolve_does_not_import_numba_cuda():
    out = _run("""
        import sys, numpy as np, itersolve
        from itersolve.pdes import poisson
        itersolve.cg(poisson((4, 4)), np.ones(16))
        itersolve.sor(poisson((4, 4)), np.ones(16), ordering="multicolor")
        print(sorted(m for m in sys.modules if m.startswith("numba.cuda") or m.startswith("itersolve.cuda")))
    """)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
