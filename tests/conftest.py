"""Shared fixtures: small systems from several problem families."""

from __future__ import annotations

import math

import numpy as np
import pytest

from itersolve import pdes


def _families():
    return {
        "poisson1d": lambda: pdes.poisson((40,)),
        "poisson2d": lambda: pdes.poisson((12, 11)),
        "poisson3d": lambda: pdes.poisson((6, 5, 7)),
        "diffusion2d": lambda: pdes.diffusion(pdes.random_field((14, 14), variance=1.0, length=0.2, seed=3)),
        "anisotropic2d": lambda: pdes.anisotropic((14, 14), epsilon=0.05, theta=math.pi / 5),
        "fem-airfoil": lambda: pdes.fem_example("airfoil"),
        "fem-bar": lambda: pdes.fem_example("bar"),
    }


FAMILIES = sorted(_families())


@pytest.fixture(params=FAMILIES)
def spd_system(request):
    """(name, A, b, x_exact) for an SPD matrix of each family, float64."""
    A = _families()[request.param]()
    rng = np.random.default_rng(7)
    x = rng.standard_normal(A.shape[0])
    return request.param, A, A @ x, x


@pytest.fixture(params=["float32", "float64"])
def dtype(request):
    return np.dtype(request.param)


def tolerance_for(dtype) -> float:
    """An rtol each precision reaches comfortably."""
    return 1e-4 if np.dtype(dtype) == np.float32 else 1e-9
