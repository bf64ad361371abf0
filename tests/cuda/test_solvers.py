"""Solvers on device arrays reproduce the CPU solvers: iterates, iteration counts, reasons."""

from __future__ import annotations

import math

import numpy as np
import pytest

import itersolve
from itersolve import Reason, pdes
from itersolve import preconditioners as pc

cuda = pytest.importorskip("numba.cuda")
import itersolve.cuda as icu  # noqa: E402


def _system(shape=(6, 6), dtype=np.float64, seed=0):
    A = pdes.poisson(shape).astype(dtype)
    b = np.random.default_rng(seed).standard_normal(A.shape[0]).astype(dtype)
    return A, b


def _dev(A, b):
    return icu.to_device(A), cuda.to_device(b)


def _same(res, ref, dtype, iters_slack=0):
    assert res.reason == ref.reason
    assert abs(res.iterations - ref.iterations) <= iters_slack
    x = res.x_host
    assert x.dtype == dtype
    scale = max(float(np.abs(ref.x).max()), 1.0)
    tol = 1e-10 if dtype == np.float64 else 2e-4
    np.testing.assert_allclose(x, ref.x, rtol=0, atol=tol * scale)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cg_matches_cpu(dtype):
    A, b = _system(dtype=dtype)
    rtol = 1e-8 if dtype == np.float64 else 1e-4
    ref = itersolve.cg(A, b, rtol=rtol)
    res = itersolve.cg(*_dev(A, b), rtol=rtol)
    _same(res, ref, dtype, iters_slack=1)
    assert res.converged and res.details["backend"] == "cuda"
    assert hasattr(res.x, "copy_to_host")  # stays on the device
    np.testing.assert_allclose(res.residuals[: len(ref.residuals)][:5], ref.residuals[:5], rtol=1e-4)
    assert res.residual_norm <= res.target


def test_check_every_changes_nothing_but_the_reads():
    A, b = _system()
    Ad, bd = _dev(A, b)
    one = itersolve.cg(Ad, bd, rtol=1e-8)
    seven = itersolve.cg(Ad, bd, rtol=1e-8, check_every=7)
    assert seven.iterations == one.iterations and seven.details["check_every"] == 7
    np.testing.assert_array_equal(seven.x_host, one.x_host)
    np.testing.assert_array_equal(seven.residuals, one.residuals)


def test_cg_int64_indices_and_maxiter():
    A, b = _system((5, 4))
    Ad = icu.to_device(itersolve.sparse.as_csr(A, index_dtype=np.int64))
    assert Ad.indices.dtype == np.int64
    ref = itersolve.cg(A, b, rtol=1e-12, maxiter=3)
    res = itersolve.cg(Ad, cuda.to_device(b), rtol=1e-12, maxiter=3, check_every=2)
    _same(res, ref, np.float64)
    assert res.reason == Reason.DIVERGED_MAXITER and res.iterations == 3 and res.info == 3


@pytest.mark.parametrize("make", [pc.Jacobi, pc.IC0, pc.ILU0, lambda A: pc.SSOR(A, 1.2, colored=True)],
                         ids=["jacobi", "ic0", "ilu0", "ssor-colored"])
def test_pcg_with_device_preconditioners(make):
    A = pdes.diffusion(pdes.random_field((6, 6), variance=0.5, length=0.3, seed=1))
    b = np.random.default_rng(2).standard_normal(A.shape[0])
    P = make(A)
    ref = itersolve.cg(A, b, rtol=1e-8, M=P)
    res = itersolve.cg(*_dev(A, b), rtol=1e-8, M=icu.to_device(P), check_every=4)
    _same(res, ref, np.float64, iters_slack=1)
    assert res.converged


def test_callback_sees_every_device_iterate():
    A, b = _system((4, 4))
    seen = []
    res = itersolve.cg(*_dev(A, b), rtol=1e-8, check_every=5, callback=lambda x: seen.append(x.copy_to_host()))
    assert len(seen) == res.iterations > 0
    np.testing.assert_array_equal(seen[-1], res.x_host)


def test_x0_is_left_untouched_and_used():
    A, b = _system((4, 4))
    exact = np.linalg.solve(A.toarray(), b)
    x0 = cuda.to_device(exact + 1e-3)
    res = itersolve.cg(icu.to_device(A), cuda.to_device(b), x0, rtol=1e-6)
    np.testing.assert_array_equal(x0.copy_to_host(), exact + 1e-3)
    assert res.converged and res.x is not x0
    assert res.iterations <= itersolve.cg(A, b, rtol=1e-6).iterations


def test_zero_rhs_and_dtype_promotion():
    A, _ = _system((3, 3), dtype=np.float32)
    res = itersolve.cg(icu.to_device(A), cuda.to_device(np.zeros(9, np.float32)))
    assert res.converged and res.iterations == 0 and not res.x_host.any()
    with pytest.raises(TypeError, match="float32 device matrix but b needs float64"):
        itersolve.cg(icu.to_device(A), cuda.to_device(np.ones(9)))


def test_indefinite_matrix_is_reported_like_on_the_cpu():
    A = pdes.poisson((4, 4)) - 1.5 * itersolve.sparse.as_csr(np.eye(16))
    b = np.ones(16)
    ref = itersolve.cg(A, b, rtol=1e-10)
    res = itersolve.cg(*_dev(A, b), rtol=1e-10, check_every=3)
    assert ref.reason == Reason.DIVERGED_INDEFINITE_MAT
    _same(res, ref, np.float64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_chebyshev_matches_cpu(dtype):
    A, b = _system((5, 5), dtype=dtype)
    rtol = 1e-6 if dtype == np.float64 else 1e-4
    ref = itersolve.chebyshev(A, b, rtol=rtol, lmin=0.25, lmax=8.0)
    res = itersolve.chebyshev(*_dev(A, b), rtol=rtol, lmin=0.25, lmax=8.0, check_every=6)
    _same(res, ref, dtype, iters_slack=1 if dtype == np.float32 else 0)


def test_chebyshev_estimates_bounds_on_the_device():
    A, b = _system((4, 4))
    P = pc.Jacobi(A)
    ref = itersolve.chebyshev(A, b, rtol=1e-6, M=P, estimate_steps=8)
    res = itersolve.chebyshev(*_dev(A, b), rtol=1e-6, M=icu.to_device(P), estimate_steps=8, check_every=5)
    assert res.details["lmax"] == pytest.approx(ref.details["lmax"], rel=1e-8)
    assert res.details["lmin"] == pytest.approx(ref.details["lmin"], rel=1e-6)
    _same(res, ref, np.float64)


@pytest.mark.parametrize("method, kwargs", [
    ("jacobi", {"omega": 0.8}),
    ("sor", {"omega": 1.3, "ordering": "multicolor"}),
    ("gauss_seidel", {"ordering": "multicolor"}),
    ("ssor", {"omega": 1.2, "ordering": "multicolor"}),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stationary_methods_match_cpu(method, kwargs, dtype):
    A, b = _system((4, 5), dtype=dtype)
    rtol = 1e-3
    solver = getattr(itersolve, method)
    ref = solver(A, b, rtol=rtol, maxiter=200, **kwargs)
    res = solver(*_dev(A, b), rtol=rtol, maxiter=200, check_every=8, **kwargs)
    _same(res, ref, dtype)
    np.testing.assert_allclose(res.residuals, ref.residuals, rtol=1e-4 if dtype == np.float32 else 1e-9)


def test_sor_on_the_device_defaults_to_multicolor_and_refuses_natural_order():
    A, b = _system((3, 4))
    res = itersolve.sor(*_dev(A, b), omega=1.2, rtol=1e-4)
    assert res.details["ordering"] == "multicolor" and res.details["colors"] == 2
    with pytest.raises(ValueError, match="natural.*sequential.*multicolor"):
        itersolve.sor(*_dev(A, b), omega=1.2, ordering="natural")


def test_stationary_divergence_is_caught_on_the_device():
    A, b = _system((3, 3))
    ref = itersolve.jacobi(A, b, omega=1.9, dtol=10.0, maxiter=500)
    res = itersolve.jacobi(*_dev(A, b), omega=1.9, dtol=10.0, maxiter=500, check_every=16)
    assert ref.reason == Reason.DIVERGED_DTOL
    _same(res, ref, np.float64)
    assert math.isfinite(res.residual_norm)


def test_front_door_builds_named_preconditioners_for_device_data():
    A, b = _system((4, 4))
    ref = itersolve.solve(A, b, "cg", "ic0", rtol=1e-8)
    res = itersolve.solve(icu.to_device(A), cuda.to_device(b), "cg", "ic0", rtol=1e-8)
    _same(res, ref, np.float64, iters_slack=1)


class _OpaqueDeviceOperator:
    """A user device operator with only the SparseOperator interface (no fused launch)."""

    __itersolve_device__ = True

    def __init__(self, inner):
        self.inner, self.shape, self.dtype, self.n = inner, inner.shape, inner.dtype, inner.n

    def matvec(self, x, out):
        return self.inner.matvec(x, out)

    def residual(self, x, b, out):
        return self.inner.residual(x, b, out)

    def matvec_dot(self, x, out):
        return self.inner.matvec_dot(x, out)


def test_user_device_operator_without_fused_kernels():
    A, b = _system((4, 4))
    op = _OpaqueDeviceOperator(icu.to_device(A))
    ref = itersolve.cg(A, b, rtol=1e-8)
    res = itersolve.cg(op, cuda.to_device(b), rtol=1e-8, check_every=3)
    _same(res, ref, np.float64, iters_slack=1)


def test_residual_replacement_path_matches_cpu():
    """float32 CG near its attainable accuracy: the recursive residual meets the target before the true one."""
    A, b = _system((6, 6), dtype=np.float32)
    ref = itersolve.cg(A, b, rtol=1e-7, maxiter=500)
    res = itersolve.cg(*_dev(A, b), rtol=1e-7, maxiter=500, check_every=4)
    assert ref.details["residual_replacements"] >= 1
    assert res.details["residual_replacements"] == ref.details["residual_replacements"]
    _same(res, ref, np.float32, iters_slack=1)


def test_chebyshev_resumes_after_a_false_alarm(monkeypatch):
    """The recursive residual meets the target, the true one does not: the device loop resumes, and the
    host replays its Chebyshev scalars to the iteration where the device stopped."""
    A, b = _system((6, 6), dtype=np.float32)
    ref = itersolve.chebyshev(A, b, rtol=3e-7, lmin=0.1, lmax=8.0, maxiter=400)
    calls = []
    original = icu.DeviceCSR.residual
    monkeypatch.setattr(icu.DeviceCSR, "residual", lambda self, *a: calls.append(1) or original(self, *a))
    res = itersolve.chebyshev(*_dev(A, b), rtol=3e-7, lmin=0.1, lmax=8.0, maxiter=400, check_every=16)
    assert len(calls) >= 4  # start, a failed recheck, the successful one, finish
    assert res.converged
    assert abs(res.iterations - ref.iterations) <= 2
