"""The device kernels agree with the CPU kernels to rounding (float32 and float64,
int32 and int64 indices, empty rows, a single row)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from itersolve import pdes
from itersolve import preconditioners as pc
from itersolve.kernels import blas, coloring, sweeps
from itersolve.kernels.operator import SparseOperator
from itersolve.kernels.triangular import level_schedule, lower_solve, upper_solve
from itersolve.sparse import as_csr

cuda = pytest.importorskip("numba.cuda")
from numba import float64  # noqa: E402

import itersolve.cuda as icu  # noqa: E402
from itersolve.cuda import backend as B  # noqa: E402
from itersolve.cuda._config import THREADS, WARP  # noqa: E402
from itersolve.cuda._reduce import SHARED, shfl_block_sum, shfl_group_sum, shfl_warp_sum  # noqa: E402
from itersolve.cuda.triangular import plan_segments  # noqa: E402

RTOL = {np.dtype(np.float32): 2e-5, np.dtype(np.float64): 1e-12}


def _tol(dtype):
    return RTOL[np.dtype(dtype)]


def _matrices():
    rng = np.random.default_rng(3)
    R = sp.random(40, 40, density=0.4, format="csr", random_state=4) + sp.eye(40)
    R = R.tolil()
    for i in (0, 7, 39):  # empty rows, first and last included
        R.rows[i] = []
        R.data[i] = []
    return {
        "poisson2d": pdes.poisson((6, 5)),            # short rows: thread per row
        "random-long-rows": R.tocsr(),                 # ~16 per row: lanes per row, empty rows
        "single-row": sp.csr_matrix(np.array([[2.5]])),
        "rect-empty": sp.csr_matrix((3, 3)),           # no stored entry at all
        "dense-row": sp.csr_matrix(np.vstack([rng.standard_normal(70), np.zeros((69, 70))]) + sp.eye(70)),
    }


MATRICES = _matrices()


def _close(a, b, dtype, scale=1.0):
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    tol = _tol(dtype) * max(scale, float(np.abs(b).max(initial=0.0)), 1.0)
    np.testing.assert_allclose(a, b, rtol=0, atol=tol)


@pytest.mark.parametrize("name", sorted(MATRICES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("index", [np.int32, np.int64])
@pytest.mark.parametrize("kernel", ["thread", "warp"])
def test_spmv_modes_match_cpu(name, dtype, index, kernel):
    A = as_csr(MATRICES[name], dtype=dtype, index_dtype=index)
    n = A.shape[0]
    rng = np.random.default_rng(1)
    x = rng.standard_normal(n).astype(dtype)
    b = rng.standard_normal(n).astype(dtype)
    cpu = SparseOperator(A, layout="csr")
    lanes = 4 if name == "poisson2d" else None
    Ad = icu.DeviceCSR.from_host(A, kernel=kernel, lanes=lanes)
    assert Ad.indices.dtype == index and Ad.dtype == dtype and Ad.kernel == kernel
    xd, bd, yd = cuda.to_device(x), cuda.to_device(b), cuda.device_array(n, dtype)

    _close(Ad.matvec(xd, yd).copy_to_host(), cpu.matvec(x, np.empty(n, dtype)), dtype)
    y = np.empty(n, dtype)
    rr = Ad.residual(xd, bd, yd)
    rr_cpu = cpu.residual(x, b, y)
    _close(yd.copy_to_host(), y, dtype)
    assert rr == pytest.approx(rr_cpu, rel=10 * _tol(dtype), abs=1e-30)
    xa = Ad.matvec_dot(xd, yd)
    xa_cpu = cpu.matvec_dot(x, y)
    assert xa == pytest.approx(xa_cpu, rel=10 * _tol(dtype), abs=10 * _tol(dtype) * float(np.abs(x) @ np.abs(y)))


@pytest.mark.parametrize("avg, kernel, lanes", [(4.3, "thread", 1), (12.0, "warp", 8), (20.0, "warp", 16),
                                                (500.0, "warp", 32)])
def test_kernel_choice_follows_row_length(avg, kernel, lanes):
    n = max(64, int(np.ceil(avg)))
    nnz = int(round(avg * n))
    rows = np.arange(nnz) * n // nnz          # rows of (almost) equal length, avg entries each
    cols = np.arange(nnz) % n
    A = sp.csr_matrix((np.ones(nnz), (rows, cols)), shape=(n, n))
    Ad = icu.DeviceCSR.from_host(A)
    assert (Ad.kernel, Ad.lanes) == (kernel, lanes)


def test_diagonal_and_update():
    A = as_csr(pdes.poisson((5, 4)))
    Ad = icu.to_device(A)
    np.testing.assert_array_equal(Ad.diagonal().copy_to_host(), A.diagonal())
    Ad.update((2 * A).tocsr())
    x = np.ones(A.shape[0])
    np.testing.assert_allclose(Ad.matvec(cuda.to_device(x)).copy_to_host(), 2 * (A @ x))
    assert Ad.csr.shape == A.shape and Ad.copy_to_host().nnz == A.nnz


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 37, 200])
def test_level1_ops_match_cpu(dtype, n):
    rng = np.random.default_rng(n)
    x, y, p, q = (rng.standard_normal(n).astype(dtype) for _ in range(4))
    d = rng.random(n).astype(dtype) + 0.5
    X, Y, P, Q, D = (cuda.to_device(v) for v in (x, y, p, q, d))
    assert B.dot(X, Y) == pytest.approx(blas.dot(x, y), rel=1e-6 if dtype == np.float32 else 1e-12, abs=1e-12)
    assert B.norm(X) == pytest.approx(np.sqrt(blas.norm2sq(x)), rel=1e-6)
    # cg_update: x += a p; r -= a q; returns r.r
    xc, yc = x.copy(), y.copy()
    rr = blas.cg_update(xc, yc, p, q, 0.75)
    assert B.cg_update(X, Y, P, Q, 0.75) == pytest.approx(rr, rel=1e-5 if dtype == np.float32 else 1e-12)
    _close(X.copy_to_host(), xc, dtype)
    _close(Y.copy_to_host(), yc, dtype)
    X = cuda.to_device(x)
    for op, args in (("xpay", (0.3,)), ("axpy", (-1.5,)), ("axpby", (0.5, 2.0))):
        yc = y.copy()
        Yd = cuda.to_device(y)
        if op == "xpay":
            blas.xpay(x, *args, yc)
            B.xpay(X, *args, Yd)
        elif op == "axpy":
            blas.axpy(*args, x, yc)
            B.axpy(*args, X, Yd)
        else:
            blas.axpby(args[0], x, args[1], yc)
            B.axpby(args[0], X, args[1], Yd)
        _close(Yd.copy_to_host(), yc, dtype)
    out = B.empty_like(X)
    B.scale(-2.0, P, out)
    _close(out.copy_to_host(), -2.0 * p, dtype)
    B.diag_scale(D, P, out)
    _close(out.copy_to_host(), d * p, dtype)
    B.copy(Q, out)
    np.testing.assert_array_equal(out.copy_to_host(), q)
    np.testing.assert_array_equal(B.zeros(n, dtype).copy_to_host(), np.zeros(n, dtype))
    assert B.all_finite(X)
    x[-1] = np.nan
    assert not B.all_finite(cuda.to_device(x))


def test_state_ops_read_slots_and_freeze():
    """Coefficients come from the state on the device; a stopped state freezes every update."""
    x = np.arange(5.0)
    y = np.ones(5)
    X, Y = cuda.to_device(x), cuda.to_device(y)
    S = B.new_state(4, {2: 3.0})
    B.s_xpay(X, B.Slot(2), Y, S)                 # y = x + 3 y
    np.testing.assert_array_equal(Y.copy_to_host(), x + 3.0)
    B.set_state(S, {0: 1.0})                      # stopped
    B.s_xpay(X, B.Slot(2), Y, S)
    B.s_scale(5.0, X, Y, S)
    np.testing.assert_array_equal(Y.copy_to_host(), x + 3.0)
    B.set_state(S, {0: 0.0, 3: -1.0})
    B.s_dot(X, X, S, _store_in_slot_3)
    assert list(B.read_state(S)) == [0.0, 0.0, 3.0, 30.0]


def _store_in_slot_3(S, v):
    S[3] = v


# -------------------------------------------------- reductions: the real shuffle code


@cuda.jit
def _shuffle_sums(x, lanes, out_warp, out_group, out_block):
    i = cuda.grid(1)
    v = x[i]
    w = shfl_warp_sum(v)
    g = shfl_group_sum(v, lanes)
    b = shfl_block_sum(v, cuda.shared.array(SHARED, float64))
    if i % WARP == 0:
        out_warp[i // WARP] = w
    if i % lanes == 0:
        out_group[i // lanes] = g
    if cuda.threadIdx.x == 0:
        out_block[cuda.blockIdx.x] = b


@pytest.mark.parametrize("lanes", [4, 32])
def test_shuffle_reductions(lanes):
    """The warp-shuffle reductions used on real GPUs (two warps per block, two blocks)."""
    threads, blocks = 2 * WARP, 2
    x = np.arange(threads * blocks, dtype=np.float64) + 0.5
    ow = cuda.device_array(x.size // WARP)
    og = cuda.device_array(x.size // lanes)
    ob = cuda.device_array(blocks)
    _shuffle_sums[blocks, threads](cuda.to_device(x), lanes, ow, og, ob)
    np.testing.assert_allclose(ow.copy_to_host(), x.reshape(-1, WARP).sum(1))
    np.testing.assert_allclose(og.copy_to_host(), x.reshape(-1, lanes).sum(1))
    np.testing.assert_allclose(ob.copy_to_host(), x.reshape(blocks, -1).sum(1))


def test_reduction_counter_resets_between_launches():
    x = cuda.to_device(np.ones(3 * THREADS + 5))
    assert [B.dot(x, x) for _ in range(3)] == [3 * THREADS + 5.0] * 3


# --------------------------------------------------------------------- sweeps


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("index", [np.int32, np.int64])
def test_multicolor_sor_sweep_matches_cpu(dtype, index):
    A = as_csr(pdes.poisson((6, 6)), dtype=dtype, index_dtype=index)
    n = A.shape[0]
    b = np.linspace(1.0, 2.0, n).astype(dtype)
    diag = A.diagonal().astype(dtype)
    w = A.dtype.type(1.3)
    colors = coloring.color_partition(coloring.greedy_coloring(A.indptr, A.indices))
    x = np.zeros(n, dtype)
    Ad = icu.DeviceCSR.from_host(A)
    dev_colors = B.color_partition(Ad)
    X, bd, Dd = cuda.to_device(x), cuda.to_device(b), cuda.to_device(diag)
    S = B.new_state(2, {})
    for reverse in (False, True, False):
        sweeps.sor_colored(A.indptr, A.indices, A.data, diag, x, b, w, colors[0], colors[1], reverse)
        B.sor_colored(Ad, Dd, X, bd, w, dev_colors, reverse, S)
    _close(X.copy_to_host(), x, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_jacobi_sweep_matches_cpu(dtype):
    from itersolve.cuda._config import grid_for
    from itersolve.cuda.sweeps import jacobi_sweep_k

    A = as_csr(MATRICES["random-long-rows"] + 3 * sp.eye(40), dtype=dtype)
    n = A.shape[0]
    rng = np.random.default_rng(2)
    x, b = rng.standard_normal(n).astype(dtype), rng.standard_normal(n).astype(dtype)
    diag = A.diagonal().astype(dtype)
    w = A.dtype.type(0.7)
    x_new = np.empty(n, dtype)
    sweeps.jacobi_sweep(A.indptr, A.indices, A.data, diag, x, b, w, x_new)
    out = cuda.device_array(n, dtype)
    Ad = icu.DeviceCSR.from_host(A)
    jacobi_sweep_k[grid_for(n), THREADS](Ad.indptr, Ad.indices, Ad.data, cuda.to_device(diag), cuda.to_device(x),
                                         cuda.to_device(b), w, out)
    _close(out.copy_to_host(), x_new, dtype)


def test_natural_sor_has_no_device_kernel():
    with pytest.raises(ValueError, match="multicolor"):
        B.sor_forward()


# ------------------------------------------------------------ triangular solves


def test_plan_segments_groups_narrow_levels():
    assert plan_segments(np.array([0, 2, 4, 100, 101]), 8) == [(True, 0, 2), (False, 4, 100), (True, 3, 4)]
    assert plan_segments(np.array([0, 1, 2]), 0) == [(False, 0, 1), (False, 1, 2)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("block_max", [None, 0])
def test_triangular_solves_match_cpu(dtype, block_max, monkeypatch):
    from itersolve.cuda import preconditioners as dp

    if block_max is not None:  # force one grid launch per level
        monkeypatch.setattr(dp, "TRI_BLOCK_LEVEL_MAX", block_max)
    A = pdes.poisson((5, 4)).astype(dtype)
    n = A.shape[0]
    r = np.random.default_rng(0).standard_normal(n).astype(dtype)
    for host in (pc.IC0(A), pc.ILU0(A), pc.Jacobi(A), pc.SSOR(A, 1.2, colored=True)):
        dev = icu.to_device(host)
        got = dev.apply(cuda.to_device(r)).copy_to_host()
        _close(got, host.apply(r), dtype, scale=float(np.abs(host.apply(r)).max()))
        assert dev.shape == host.shape and dev.symmetric == host.symmetric
    ic = icu.to_device(pc.IC0(A))
    if block_max == 0:
        assert ic.lower.launches == ic.lower.levels
    else:
        assert ic.lower.launches < ic.lower.levels


def test_lower_upper_kernels_on_a_nonsymmetric_factor():
    """The packed ILU arrays serve both solves, as on the CPU."""
    rng = np.random.default_rng(5)
    M = sp.random(30, 30, density=0.15, random_state=6, format="csr") + 4 * sp.eye(30)
    A = as_csr(M)
    lp, lr = level_schedule(A.indptr, A.indices, True)
    up, ur = level_schedule(A.indptr, A.indices, False)
    b = rng.standard_normal(30)
    xl, xu = np.empty(30), np.empty(30)
    lower_solve(A.indptr, A.indices, A.data, lp, lr, b, xl, True)
    upper_solve(A.indptr, A.indices, A.data, up, ur, b, xu, False)
    from itersolve.cuda.preconditioners import DeviceTriangular, _upload_csr

    csr = _upload_csr(A.indptr, A.indices, A.data)
    out = cuda.device_array(30)
    DeviceTriangular(csr, lp, lr, True, True).solve(cuda.to_device(b), out)
    np.testing.assert_allclose(out.copy_to_host(), xl, rtol=1e-12)
    DeviceTriangular(csr, up, ur, False, False).solve(cuda.to_device(b), out)
    np.testing.assert_allclose(out.copy_to_host(), xu, rtol=1e-12)
