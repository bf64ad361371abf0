"""MAC-grid operators, the Wandel physics residual and the projection reference solver."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from itersolve.pdes.fluids.mac import advection, curl, divergence, gradient, laplacian, shift, stream_function
from itersolve.pdes.fluids.navier_stokes import (
    Physics,
    channel,
    cylinder,
    held_out_layout,
    momentum_residual,
    physics_loss,
    poiseuille,
    random_environment,
)
from itersolve.pdes.fluids.reference import ProjectionSolver, pressure_matrix


@settings(max_examples=20, deadline=None)
@given(st.integers(2, 12), st.integers(2, 12), st.sampled_from(["float32", "float64"]), st.integers(0, 2**16))
def test_curl_is_discretely_divergence_free(H, W, dtype, seed):
    a = np.random.default_rng(seed).standard_normal((H, W)).astype(dtype) * 10
    u, v = curl(a)
    eps = np.finfo(dtype).eps
    assert np.abs(divergence(u, v)).max() <= 16 * eps * np.abs(a).max()


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 12), st.integers(1, 12), st.sampled_from([0.25, 1.0]), st.integers(0, 2**16))
def test_stream_function_inverts_curl(H, W, h, seed):
    a = np.random.default_rng(seed).standard_normal((H, W)) * 10
    b = stream_function(*curl(a, h), h)
    assert b[0, 0] == 0.0
    np.testing.assert_allclose(b, a - a[0, 0], atol=1e-10 * max(1.0, np.abs(a).max() * max(H, W)))


def test_stream_function_refuses_what_is_not_a_curl():
    u, v = curl(np.random.default_rng(0).standard_normal((6, 8)))
    with pytest.raises(ValueError, match="not the curl"):
        stream_function(u + 1e-3 * (np.arange(8) == 3), v)  # one column of faces adds divergence
    with pytest.raises(ValueError, match="not the curl"):
        stream_function(u, v + 1e-3 * (np.arange(8) == 7))  # flow through the last column
    with pytest.raises(ValueError, match="one shape"):
        stream_function(u, v[:, :-1])


def test_curl_divergence_free_in_jax_batched():
    jnp = pytest.importorskip("jax.numpy")
    a = jnp.asarray(np.random.default_rng(1).standard_normal((3, 8, 10)), dtype=jnp.float32)
    u, v = curl(a)
    assert u.shape == (3, 8, 10)
    assert float(jnp.abs(divergence(u, v)).max()) < 1e-5


def test_operators_exact_on_polynomials():
    y, x = np.mgrid[0:8, 0:9].astype(float)
    assert np.allclose(laplacian(x**2 + y**2)[1:-1, 1:-1], 4.0)
    gx, gy = gradient(3 * x - 2 * y)
    assert np.allclose(gx[:, 1:], 3.0) and np.allclose(gy[1:], -2.0)
    au, av = advection(np.full((8, 9), 2.0), np.zeros((8, 9)))
    assert np.abs(au).max() == 0 and np.abs(av).max() == 0
    with pytest.raises(ValueError, match="offsets"):
        shift(x, 2, 0)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_poiseuille_is_an_exact_discrete_steady_solution(dtype):
    phys = Physics(rho=1.0, mu=0.07, dt=0.5)
    env = channel((14, 20), speed=1.3)
    a, p = (x.astype(dtype) for x in poiseuille(env, phys))
    ru, rv = momentum_residual(a, a, p, phys)
    fu, fv = env.boundary[:2]
    tol = 1e-12 if dtype == "float64" else 1e-5
    assert np.abs(ru * fu).max() < tol and np.abs(rv * fv).max() < tol
    assert float(physics_loss(a, a, p, env.boundary.astype(dtype), phys)) < tol**2 * 100
    # and not a trivial zero: a wrong pressure gradient or a perturbed state is penalised
    assert float(physics_loss(a, a, 2 * p, env.boundary, phys)) > 1e-6
    assert float(physics_loss(a, a * 1.1, p, env.boundary, phys)) > 1e-6


def test_environment_layouts_and_bad_input():
    env = cylinder((32, 64), speed=0.8)
    fu, fv, cu, cv, ut, vt = env.boundary
    assert np.array_equal(fu + cu, np.ones_like(fu)) and np.array_equal(fv + cv, np.ones_like(fv))
    assert np.allclose(ut[1:-1, 0], ut[1:-1, -1])  # inflow = outflow profile: fluxes balance
    assert np.isclose(ut[1:-1, 0].mean(), 0.8)
    assert env.solid[1:-1, 10:22].any() and not (env.solid & env.fluid).any()
    assert held_out_layout((32, 64)).solid[1:-1].sum() > 0
    rnd = random_environment((32, 64), np.random.default_rng(3))
    assert not rnd.solid[1:-1, 0].any()
    assert random_environment((32, 64), np.random.default_rng(3), (1.2, 1.2)).speed == 1.2
    for bad in [(0.0, 1.0), (1.0, 0.5), (1.0, np.inf), (np.nan, 1.0)]:
        with pytest.raises(ValueError, match="speed_range"):
            random_environment((32, 64), np.random.default_rng(3), bad)
    with pytest.raises(ValueError, match="shape"):
        channel((8, 8), solid=np.zeros((4, 4), bool))
    with pytest.raises(ValueError, match="2-D"):
        channel((8,))


def test_pressure_matrix_is_spd_with_one_pin_per_region():
    fluid = np.ones((6, 7), bool)
    fluid[:, 3] = False  # two separate regions
    A = pressure_matrix(fluid).toarray()
    assert np.allclose(A, A.T) and np.linalg.eigvalsh(A).min() > 0
    assert np.isclose(A.sum(), 2.0)


@pytest.mark.parametrize("preconditioner", ["amg", "ic0"])
def test_reference_conserves_mass_to_solver_tolerance(preconditioner):
    env = cylinder((16, 32), speed=1.0)
    dt = Physics().dt
    for rtol in (1e-4, 1e-10):
        solver = ProjectionSolver(env, Physics(), substeps=1, picard=1, rtol=rtol, preconditioner=preconditioner)
        u, v = solver.initial_state()
        for _ in range(3):
            u, v, p = solver.step(u, v)
            div = np.linalg.norm(divergence(u, v)[env.fluid])
            # div v_new = (dt / rho) (b - A p): bounded by the PCG stopping rule
            assert div <= 1.01 * dt * rtol * solver.last_rhs_norm
        assert np.all(np.isfinite(p)) and np.abs(u).max() < 3.0
        if rtol == 1e-4:
            assert div > 1e-10  # the bound is tight: a loose tolerance leaves a visible divergence


def test_reference_states_have_a_stream_function():
    """A projected state is a curl to the pressure solver's tolerance, so networks can start from it."""
    env = cylinder((16, 32), speed=1.0)
    ref = ProjectionSolver(env, Physics(), rtol=1e-10).rollout(6)
    u, v = ref["u"][-1], ref["v"][-1]
    cu, cv = curl(stream_function(u, v))
    assert max(np.abs(cu - u).max(), np.abs(cv - v).max()) < 1e-8


def test_reference_keeps_poiseuille_steady_and_solves_the_loss_equations():
    phys = Physics()
    env = channel((12, 24), speed=1.0)
    solver = ProjectionSolver(env, phys, substeps=1, picard=2, rtol=1e-12)
    u0, v0 = solver.initial_state()
    u, v, p = solver.step(u0, v0)
    assert np.abs(u - u0).max() < 1e-9 and np.abs(v).max() < 1e-9
    a, p_exact = poiseuille(env, phys)
    gx = gradient(p)[0]
    assert np.allclose(gx[env.boundary[0] > 0], gradient(p_exact)[0][env.boundary[0] > 0])
