"""Property tests: converged ⇒ the true residual meets the tolerance."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings, strategies as st

import itersolve


@st.composite
def spd_systems(draw):
    n = draw(st.integers(1, 30))
    density = draw(st.floats(0.05, 0.5))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    B = sp.random(n, n, density=density, random_state=rng, format="csr")
    shift = draw(st.floats(1e-3, 10.0))
    A = (B @ B.T + shift * sp.eye(n)).tocsr()
    b = rng.standard_normal(n) * draw(st.sampled_from([1e-6, 1.0, 1e6]))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    return A.astype(dtype), b.astype(dtype)


SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(system=spd_systems(), rtol=st.sampled_from([1e-3, 1e-6, 1e-10]),
       method=st.sampled_from(["cg", "chebyshev", "gauss_seidel", "ssor", "pcg-ic0", "pcg-jacobi"]))
def test_converged_implies_true_residual_meets_target(system, rtol, method):
    A, b = system
    if method == "pcg-ic0":
        res = itersolve.solve(A, b, "cg", "ic0", M_options={"shift": 1e-3}, rtol=rtol, maxiter=2000)
    elif method == "pcg-jacobi":
        res = itersolve.solve(A, b, "cg", "jacobi", rtol=rtol, maxiter=2000)
    else:
        res = itersolve.solve(A, b, method, rtol=rtol, maxiter=2000)
    r = b.astype(np.float64) - A.astype(np.float64) @ res.x.astype(np.float64)
    if res.converged:
        # the result's own residual (in the working precision) meets the target exactly
        assert res.residual_norm <= res.target
        # recomputed in float64 it may differ by rounding of the float32 product
        slack = 1.0 + (1e-12 if A.dtype == np.float64 else 1e-3)
        eps = np.finfo(A.dtype).eps * (np.abs(A).sum() * np.abs(res.x).max() + np.abs(b).max()) * 10
        assert np.linalg.norm(r) <= slack * res.target + eps
    else:
        assert res.info != 0 and res.residual_norm > res.target or not np.isfinite(res.residual_norm)
