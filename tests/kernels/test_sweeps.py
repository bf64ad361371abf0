"""Relaxation sweeps against a slow textbook SOR written here (omega != 1)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from itersolve.kernels import coloring, sweeps

from ._ref import DTYPES, ITYPES, diag_dominant, poisson2d, rtol_for, sor_ref


def _setup(dtype, itype, n=60, seed=0, symmetric=False):
    A = diag_dominant(n, 0.1, seed, dtype, itype, symmetric=symmetric)
    rng = np.random.default_rng(seed)
    x0 = rng.standard_normal(n).astype(dtype)
    b = rng.standard_normal(n).astype(dtype)
    d = np.ascontiguousarray(A.diagonal())
    return A, x0, b, d


def _close(x, ref, dtype):
    np.testing.assert_allclose(x.astype(np.float64), ref, rtol=100 * rtol_for(dtype), atol=100 * rtol_for(dtype))


@pytest.mark.parametrize("omega", [0.6, 1.0, 1.7])
@pytest.mark.parametrize("itype", ITYPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_sor_forward_backward_symmetric(dtype, itype, omega):
    A, x0, b, d = _setup(dtype, itype)
    n = A.shape[0]
    x = x0.copy()
    sweeps.sor_forward(A.indptr, A.indices, A.data, d, x, b, omega)
    _close(x, sor_ref(A, x0, b, omega, range(n)), dtype)

    x = x0.copy()
    sweeps.sor_backward(A.indptr, A.indices, A.data, d, x, b, omega)
    _close(x, sor_ref(A, x0, b, omega, range(n - 1, -1, -1)), dtype)

    # symmetric sweep = forward then backward
    x = x0.copy()
    sweeps.sor_forward(A.indptr, A.indices, A.data, d, x, b, omega)
    sweeps.sor_backward(A.indptr, A.indices, A.data, d, x, b, omega)
    ref = sor_ref(A, sor_ref(A, x0, b, omega, range(n)), b, omega, range(n - 1, -1, -1))
    _close(x, ref, dtype)


def test_sor_with_empty_offdiagonal_rows_and_1x1():
    A = sp.csr_matrix(np.diag([2.0, 4.0, 5.0]))
    x = np.zeros(3)
    sweeps.sor_forward(A.indptr, A.indices, A.data, A.diagonal(), x, np.ones(3), 1.3)
    np.testing.assert_allclose(x, 1.3 / np.array([2.0, 4.0, 5.0]))
    A1 = sp.csr_matrix(np.array([[3.0]]))
    x = np.array([1.0])
    sweeps.sor_backward(A1.indptr, A1.indices, A1.data, A1.diagonal(), x, np.array([6.0]), 0.5)
    assert x[0] == pytest.approx(0.5 * 1.0 + 0.5 * 2.0)


@pytest.mark.parametrize("itype", ITYPES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [60, 20000])  # serial and threaded
def test_jacobi_sweep(dtype, itype, n):
    A, x0, b, d = _setup(dtype, itype, n=n) if n < 1000 else (None, None, None, None)
    if A is None:
        A = poisson2d(int(np.sqrt(n)), dtype, itype)
        rng = np.random.default_rng(1)
        x0 = rng.standard_normal(A.shape[0]).astype(dtype)
        b = rng.standard_normal(A.shape[0]).astype(dtype)
        d = np.ascontiguousarray(A.diagonal())
    x_new = np.empty_like(x0)
    sweeps.jacobi_sweep(A.indptr, A.indices, A.data, d, x0, b, 0.8, x_new)
    Af = A.astype(np.float64)
    ref = x0 + 0.8 * (b - Af @ x0) / d
    _close(x_new, ref, dtype)


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("itype", ITYPES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["random", "poisson-threaded"])
def test_sor_colored_equals_sequential_in_color_order(kind, dtype, itype, reverse):
    if kind == "random":
        A, x0, b, d = _setup(dtype, itype, n=80, seed=3)
    else:
        A = poisson2d(100, dtype, itype)  # 5000 rows per colour: threaded path
        rng = np.random.default_rng(2)
        x0 = rng.standard_normal(A.shape[0]).astype(dtype)
        b = rng.standard_normal(A.shape[0]).astype(dtype)
        d = np.ascontiguousarray(A.diagonal())
    colors = coloring.greedy_coloring(A.indptr, A.indices)
    cptr, crows = coloring.color_partition(colors)
    order = list(crows)
    if reverse:  # colours last-first; order inside a colour does not matter
        ncol = len(cptr) - 1
        order = [r for c in range(ncol - 1, -1, -1) for r in crows[cptr[c] : cptr[c + 1]]]
    x = x0.copy()
    omega = 1.4
    sweeps.sor_colored(A.indptr, A.indices, A.data, d, x, b, omega, cptr, crows, reverse)
    if kind == "random":
        _close(x, sor_ref(A, x0, b, omega, order), dtype)
    else:
        # the same sweep through the sequential kernel on the permuted system
        perm = np.asarray(order)
        Ap = A[perm][:, perm].tocsr()
        Ap.sort_indices()
        xp = x0[perm].copy()
        sweeps.sor_forward(Ap.indptr, Ap.indices, Ap.data, d[perm], xp, b[perm], omega)
        _close(x[perm], xp.astype(np.float64), dtype)
