"""random_field: determinism, shape, statistics."""

from __future__ import annotations

import numpy as np
import pytest

from itersolve.pdes import random_field


@pytest.mark.parametrize("shape", [(50,), (16, 24), (8, 9, 10)])
@pytest.mark.parametrize("covariance", ["gaussian", "exponential"])
def test_shape_positive_deterministic(shape, covariance):
    k = random_field(shape, variance=1.5, length=0.2, seed=7, covariance=covariance)
    assert k.shape == shape and k.dtype == np.float64
    assert np.isfinite(k).all() and (k > 0).all()
    again = random_field(shape, variance=1.5, length=0.2, seed=7, covariance=covariance)
    assert np.array_equal(k, again)
    other = random_field(shape, variance=1.5, length=0.2, seed=8, covariance=covariance)
    assert not np.array_equal(k, other)


def test_generator_seed_and_int_shape():
    a = random_field(32, seed=np.random.default_rng(5))
    b = random_field((32,), seed=np.random.default_rng(5))
    assert np.array_equal(a, b)


@pytest.mark.parametrize("covariance", ["gaussian", "exponential"])
@pytest.mark.parametrize("variance", [0.5, 2.0])
def test_sample_variance_of_log_k(covariance, variance):
    # correlation length of ~2.5 cells on 256x256: thousands of independent patches
    vs = [np.log(random_field((256, 256), variance, 0.01, seed=s, covariance=covariance)).var() for s in range(3)]
    assert abs(np.mean(vs) / variance - 1.0) < 0.08
    assert all(abs(v / variance - 1.0) < 0.15 for v in vs)


def test_pointwise_variance_long_correlation():
    # even with correlations longer than the domain, each point has the requested variance
    g = np.array([np.log(random_field((40,), 1.0, 1.0, seed=s))[[0, 20, 39]] for s in range(1500)])
    np.testing.assert_allclose(g.var(axis=0), 1.0, rtol=0.12)


def test_correlation_length_controls_smoothness():
    def roughness(length):
        g = np.log(random_field((128, 128), 1.0, length, seed=0))
        return np.mean(np.diff(g, axis=0) ** 2)

    assert roughness(0.01) > 10 * roughness(0.1)


def test_zero_variance_is_one():
    assert np.array_equal(random_field((4, 4), variance=0.0, seed=0), np.ones((4, 4)))


def test_errors():
    with pytest.raises(ValueError, match="variance"):
        random_field((4, 4), variance=-1.0)
    with pytest.raises(ValueError, match="length"):
        random_field((4, 4), length=0.0)
    with pytest.raises(ValueError, match="covariance"):
        random_field((4, 4), covariance="matern")
    with pytest.raises(ValueError, match="shape"):
        random_field((2, 2, 2, 2))
