"""Vector kernels against NumPy in float64."""

from __future__ import annotations

import numpy as np
import pytest

from itersolve.kernels import blas
from itersolve.kernels._config import PAR_MIN

from ._ref import DTYPES

SIZES = [1, 1000, PAR_MIN + 12345]  # serial path and threaded path


def _vecs(n, dtype, k, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(n).astype(dtype) for _ in range(k)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", SIZES)
def test_reductions_accumulate_in_float64(dtype, n):
    x, y = _vecs(n, dtype, 2)
    ref = float(x.astype(np.float64) @ y.astype(np.float64))
    # float64 accumulation: even float32 data gives the float64 answer to ~1e-13
    assert blas.dot(x, y) == pytest.approx(ref, rel=1e-12, abs=1e-12)
    assert blas.norm2sq(x) == pytest.approx(float(x.astype(np.float64) @ x.astype(np.float64)), rel=1e-12)
    assert isinstance(blas.dot(x, y), float)


def test_float32_dot_beats_float32_accumulation():
    x = np.full(1_000_001, 0.1, dtype=np.float32)
    exact = 1_000_001 * float(np.float32(0.1)) ** 2
    assert abs(blas.dot(x, x) - exact) / exact < 1e-12


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", SIZES)
def test_elementwise_updates(dtype, n):
    x, y, r, p, q = _vecs(n, dtype, 5, seed=1)
    tol = dict(rtol=1e-6 if dtype == "float32" else 1e-14, atol=1e-6 if dtype == "float32" else 1e-14)
    X = lambda v: v.astype(np.float64)  # noqa: E731

    yy = y.copy()
    blas.axpy(0.7, x, yy)
    np.testing.assert_allclose(yy, X(y) + 0.7 * X(x), **tol)
    assert yy.dtype == np.dtype(dtype)

    yy = y.copy()
    blas.xpay(x, -0.3, yy)
    np.testing.assert_allclose(yy, X(x) - 0.3 * X(y), **tol)

    yy = y.copy()
    blas.axpby(2.0, x, 0.5, yy)
    np.testing.assert_allclose(yy, 2.0 * X(x) + 0.5 * X(y), **tol)

    out = np.empty_like(x)
    blas.scale(-1.5, x, out)
    np.testing.assert_allclose(out, -1.5 * X(x), **tol)

    blas.diag_scale(y, x, out)
    np.testing.assert_allclose(out, X(y) * X(x), **tol)

    blas.copy(x, out)
    np.testing.assert_array_equal(out, x)

    xx, rr = x.copy(), r.copy()
    rr_norm = blas.cg_update(xx, rr, p, q, 0.25)
    np.testing.assert_allclose(xx, X(x) + 0.25 * X(p), **tol)
    np.testing.assert_allclose(rr, X(r) - 0.25 * X(q), **tol)
    assert rr_norm == pytest.approx(float(X(rr) @ X(rr)), rel=1e-12)
    assert blas.pcg_update is blas.cg_update


def test_nan_propagates_through_reductions():
    x = np.ones(PAR_MIN + 1)
    x[17] = np.nan
    assert np.isnan(blas.dot(x, x))
    assert np.isnan(blas.norm2sq(x))


def test_reductions_do_not_depend_on_threads():
    import numba

    x, y = _vecs(PAR_MIN * 3 + 7, "float64", 2, seed=3)
    a = blas.dot(x, y)
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        b = blas.dot(x, y)
    finally:
        numba.set_num_threads(old)
    assert a == b
