"""The ``solve`` front door."""

from __future__ import annotations

import numpy as np
import pytest

import itersolve
from itersolve import pdes, preconditioners as pc


@pytest.mark.parametrize("M", [None, "jacobi", "ssor", "ic0", "ilu0", "amg", "chebyshev"])
def test_every_named_preconditioner(M):
    A = pdes.poisson((12, 12))
    res = itersolve.solve(A, np.ones(144), "cg", M, rtol=1e-9)
    assert res.converged
    np.testing.assert_allclose(A @ res.x, 1.0, atol=1e-7)


def test_options_reach_preconditioner_and_solver():
    A = pdes.poisson((12, 12))
    res = itersolve.solve(A, np.ones(144), "cg", "ssor", M_options={"omega": 1.5}, rtol=1e-9, maxiter=500)
    direct = itersolve.cg(A, np.ones(144), M=pc.SSOR(A, omega=1.5), rtol=1e-9, maxiter=500)
    assert res.iterations == direct.iterations


def test_preconditioner_build_counts_as_setup():
    A = pdes.poisson((60, 60))
    res = itersolve.solve(A, np.ones(3600), "cg", "amg")
    assert res.setup_time > 0 and res.converged


def test_object_preconditioner_and_stationary_methods():
    A = pdes.poisson((8, 8))
    assert itersolve.solve(A, np.ones(64), "cg", pc.IC0(A)).converged
    assert itersolve.solve(A, np.ones(64), "sor", omega=1.5, rtol=1e-8).converged


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"method": "gmres"}, "unknown method"),
        ({"method": "cg", "M": "ilut"}, "unknown preconditioner"),
        ({"method": "sor", "M": "jacobi"}, "takes no preconditioner"),
    ],
)
def test_bad_names(kwargs, message):
    with pytest.raises(ValueError, match=message):
        itersolve.solve(pdes.poisson((3, 3)), np.ones(9), **kwargs)
