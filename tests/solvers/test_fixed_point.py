"""Picard and Anderson fixed-point iteration."""

from __future__ import annotations

import numpy as np
import pytest

import itersolve
from itersolve import Reason, pdes


def richardson_map(A, b, omega):
    return lambda x: x + omega * (b - A @ x)


def test_anderson_solves_linear_fixed_point_faster_than_picard():
    A = pdes.poisson((10, 10))
    b = np.ones(100)
    g = richardson_map(A, b, 1.0 / 8.0)
    picard = itersolve.fixed_point(g, np.zeros(100), method="picard", rtol=1e-8, maxiter=20000)
    anderson = itersolve.fixed_point(g, np.zeros(100), method="anderson", memory=10, rtol=1e-8, maxiter=20000)
    assert picard.converged and anderson.converged
    assert anderson.iterations * 5 < picard.iterations
    exact = np.linalg.solve(A.toarray(), b)
    np.testing.assert_allclose(anderson.x, exact, rtol=1e-5)


def test_nonlinear_fixed_point():
    # x = 0.5 cos(x) + c, componentwise contraction
    c = np.linspace(0, 1, 7)
    res = itersolve.fixed_point(lambda x: 0.5 * np.cos(x) + c, np.zeros(7), rtol=1e-12, atol=1e-14)
    assert res.converged
    np.testing.assert_allclose(res.x, 0.5 * np.cos(res.x) + c, atol=1e-12)


def test_divergent_map_reported():
    res = itersolve.fixed_point(lambda x: 3.0 * x + 1.0, np.ones(3), method="picard", maxiter=100)
    assert res.reason == Reason.DIVERGED_DTOL and not res.converged


def test_nan_map_reported():
    res = itersolve.fixed_point(lambda x: x * np.nan, np.ones(3))
    assert res.reason == Reason.DIVERGED_NANORINF


def test_callback_once_per_iteration_and_x0_untouched():
    x0 = np.zeros(4)
    seen = []
    res = itersolve.fixed_point(lambda x: 0.5 * x + 1.0, x0, method="picard", callback=lambda x: seen.append(x.copy()),
                                rtol=1e-6)
    assert len(seen) == res.iterations and np.all(x0 == 0)


@pytest.mark.parametrize("kw", [{"method": "newton"}, {"memory": 0}, {"mixing": 0.0}, {"mixing": 1.5}])
def test_bad_options_rejected(kw):
    with pytest.raises(ValueError):
        itersolve.fixed_point(np.cos, np.zeros(2), **kw)


def test_wrong_shape_from_map_rejected():
    with pytest.raises(ValueError, match="g returned shape"):
        itersolve.fixed_point(lambda x: np.zeros(3), np.zeros(2))
