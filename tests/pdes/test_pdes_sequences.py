"""Sequences of systems: shifted Laplacians and the heat equation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.linalg import spsolve

from itersolve.pdes import (
    HeatSequence,
    LinearSystem,
    ShiftedLaplacianSequence,
    heat_sequence,
    paper_kappa,
    poisson,
    shifted_laplacian_sequence,
)

DTYPES = [np.float32, np.float64]


def lmin(A):
    return np.linalg.eigvalsh(A.toarray().astype(np.float64))[0]


# -- shifted Laplacians ------------------------------------------------------


@pytest.mark.parametrize("distribution", ["low", "high"])
def test_shifted_basic(distribution):
    seq = shifted_laplacian_sequence(T=200, distribution=distribution, seed=0)
    assert isinstance(seq, ShiftedLaplacianSequence)
    assert len(seq) == 200 and len(list(seq)) == 200
    assert seq.context_range == (-0.15, 0.45)
    assert ((seq.contexts > -0.15) & (seq.contexts < 0.45)).all()
    K = poisson((10, 10))
    for t in (0, 57, 199, -1):
        s = seq[t]
        assert isinstance(s, LinearSystem)
        assert s.A.shape == (100, 100) and s.grid == (10, 10) and s.A.has_canonical_format
        assert s.context == seq.contexts[t]
        assert abs(s.A - (K + s.context * sp.identity(100))).max() < 1e-15
        assert s.x0 is None
        np.testing.assert_allclose(s.A @ s.x_true, s.b, atol=1e-12 * np.linalg.norm(s.b))
        assert np.linalg.norm(s.b) <= 10.0  # radially truncated normal


def test_shifted_distributions_match_paper():
    # c = -0.15 + 0.6 Beta(a, b): low (2, 6), high (0.5, 1.5); both Beta means are 1/4
    for name, (a, b) in {"low": (2.0, 6.0), "high": (0.5, 1.5)}.items():
        c = shifted_laplacian_sequence(T=20000, distribution=name, seed=1).contexts
        mean = -0.15 + 0.6 * a / (a + b)
        var = 0.36 * a * b / ((a + b) ** 2 * (a + b + 1))
        assert abs(c.mean() - mean) < 0.005
        assert abs(c.var() / var - 1) < 0.06


def test_shifted_all_spd():
    # the worst shift of a high-variance sequence still leaves K + cI SPD
    seq = shifted_laplacian_sequence(T=3000, distribution="high", seed=2)
    worst = int(np.argmin(seq.contexts))
    assert seq.contexts[worst] < -0.14
    assert lmin(seq[worst].A) > 0
    assert lmin(seq[int(np.argmax(seq.contexts))].A) > 0


def test_shifted_reproducible_and_order_independent():
    a = shifted_laplacian_sequence(T=50, distribution="high", seed=3)
    b = shifted_laplacian_sequence(T=500, distribution="high", seed=3)
    c = shifted_laplacian_sequence(T=50, distribution="high", seed=4)
    assert np.array_equal(a.contexts, b.contexts[:50])
    s_late = b[40]
    s_early = a[40]
    assert np.array_equal(s_late.b, s_early.b) and s_late.context == s_early.context
    assert np.array_equal(a[40].b, s_early.b)
    assert not np.array_equal(c[40].b, s_early.b)
    assert not np.array_equal(a.contexts, c.contexts)


def test_shifted_slicing_and_index_errors():
    seq = shifted_laplacian_sequence(T=10)
    part = seq[2:8:3]
    assert [s.name for s in part] == ["shifted_laplacian[2]", "shifted_laplacian[5]"]
    with pytest.raises(IndexError):
        seq[10]
    with pytest.raises(IndexError):
        seq[-11]
    with pytest.raises(TypeError):
        seq[1.5]


@pytest.mark.parametrize("dtype", DTYPES)
def test_shifted_dtype(dtype):
    s = shifted_laplacian_sequence(T=2, dtype=dtype)[1]
    assert s.A.dtype == dtype and s.b.dtype == dtype and s.x_true.dtype == dtype


def test_shifted_rhs_options():
    assert np.isclose(np.linalg.norm(shifted_laplacian_sequence(T=1, rhs="unit")[0].b), 1.0)
    b = np.concatenate([s.b for s in shifted_laplacian_sequence(T=50, rhs="normal")])
    assert abs(b.std() - 1) < 0.05
    with pytest.raises(ValueError, match="rhs"):
        shifted_laplacian_sequence(rhs="ones")


def test_shifted_custom_distribution_and_spd_guard():
    seq = shifted_laplacian_sequence(T=100, n=20, distribution=(2.0, 2.0, 0.0, 1.0))
    assert seq.context_range == (0.0, 1.0) and (seq.contexts > 0).all()
    assert seq[0].A.shape == (400, 400)
    with pytest.raises(ValueError, match="indefinite"):
        shifted_laplacian_sequence(n=12)  # lambda_min(K) < 0.15 for n > 10
    with pytest.raises(ValueError, match="distribution"):
        shifted_laplacian_sequence(distribution="medium")
    with pytest.raises(ValueError, match="Beta"):
        shifted_laplacian_sequence(distribution=(0.0, 1.0))
    with pytest.raises(ValueError, match="T must"):
        shifted_laplacian_sequence(T=0)


# -- heat equation -----------------------------------------------------------


class LiteralHeat2D:
    """Line-by-line translation of the authors' Heat2D.m (MATLAB) for comparison."""

    def __init__(self, nx, dt):
        self.n = (nx - 1) ** 2
        dx = 1.0 / nx
        o = np.ones(nx - 1)
        X = sp.diags([o[1:], -4 * o, o[1:]], [-1, 0, 1])
        L = sp.block_diag([X] * (nx - 1)) + sp.diags([np.ones(self.n - nx + 1)] * 2, [-nx + 1, nx - 1])
        self.L = sp.csr_matrix(L) / dx**2
        self.I = sp.identity(self.n, format="csr")
        ij = [(i * dx, j * dx) for i in range(1, nx) for j in range(1, nx)]
        self.ijdx = np.array(ij)
        self.u = self.bump(self.ijdx, (0.5, 0.5), 0.25)
        self.t = 0.0
        self.dt = dt

    @staticmethod
    def bump(x, center, radius):
        with np.errstate(divide="ignore"):
            return np.exp(1.0 - 1.0 / (1.0 - np.minimum(1.0, ((x - center) ** 2 / radius**2).sum(axis=1))))

    def forcing(self, t, x):
        return 32.0 * self.bump(x, (0.5 + math.cos(16 * math.pi * t) / 4, 0.5 + math.sin(16 * math.pi * t) / 4), 0.125)

    def crank_nicolson_system(self):
        half = self.t + 0.5 * self.dt
        CL = 0.5 * paper_kappa(half) * self.dt * self.L
        return self.I - CL, (self.I + CL) @ self.u + self.dt * self.forcing(half, self.ijdx)

    def update(self, u):
        self.u = u
        self.t += self.dt


def test_heat_matches_authors_code():
    nx, dt = 8, 1e-3
    ref = LiteralHeat2D(nx, dt)
    seq = heat_sequence(nx=nx, T=30)
    sim = seq.simulate()
    for k in range(30):
        A_ref, b_ref = ref.crank_nicolson_system()
        s = sim.system()
        assert abs(s.A - A_ref).max() < 1e-12 * abs(A_ref).max()
        np.testing.assert_allclose(s.b, b_ref, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(s.x0, ref.u, rtol=1e-12, atol=1e-14)
        x = spsolve(A_ref.tocsc(), b_ref)
        ref.update(x)
        sim.advance(x)
    assert sim.done


def test_heat_sizes_and_defaults():
    for nx, n in [(25, 576), (50, 2401)]:
        seq = heat_sequence(nx=nx, T=3)
        assert seq.n == n and seq[0].A.shape == (n, n) and seq[0].grid == (nx - 1, nx - 1)
    seq = heat_sequence(T=5000)
    assert len(seq) == 5000 and seq.dt == 1e-3
    assert seq.context_range[0] >= 0 and seq.context_range[1] <= 10
    assert seq.context_range[1] > 9.99 and seq.context_range[0] < 1e-3
    np.testing.assert_allclose(seq.contexts, [paper_kappa((k + 0.5) * 1e-3) for k in range(5000)])


@pytest.mark.parametrize("kappa_at", ["midpoint", "endpoints"])
def test_heat_rhs_is_crank_nicolson(kappa_at):
    nx, dt = 10, 2e-3
    seq = heat_sequence(nx=nx, T=40, dt=dt, kappa_at=kappa_at)
    Lap = poisson((nx - 1, nx - 1)) * nx**2  # -Delta_h
    I = sp.identity(seq.n)
    u = seq.initial_state
    for k, s in enumerate(seq):
        t0, t1 = k * dt, (k + 1) * dt
        if kappa_at == "midpoint":
            ka = kb = paper_kappa(t0 + dt / 2)
            f = dt * seq.forcing(t0 + dt / 2)
        else:
            ka, kb = paper_kappa(t1), paper_kappa(t0)
            f = dt / 2 * (seq.forcing(t0) + seq.forcing(t1))
        assert s.context == ka
        assert abs(s.A - (I + dt / 2 * ka * Lap)).max() < 1e-12
        np.testing.assert_allclose(s.b, (I - dt / 2 * kb * Lap) @ u + f, rtol=1e-12, atol=1e-13)
        np.testing.assert_array_equal(s.x0, u)
        np.testing.assert_allclose(s.A @ s.x_true, s.b, atol=1e-12 * np.linalg.norm(s.b))
        u = s.x_true


def test_heat_systems_spd():
    seq = heat_sequence(nx=8, T=800)
    for k in (0, 250, 760):  # kappa ~ 0, 0.1, 10
        assert lmin(seq[k].A) >= 1.0 - 1e-12


def test_heat_random_access_equals_replay():
    seq = heat_sequence(nx=12, T=120)
    replay = list(seq)
    for k in (119, 3, 64, 65, 0, 100, 119):
        s = seq[k]
        np.testing.assert_array_equal(s.b, replay[k].b)
        np.testing.assert_array_equal(s.x0, replay[k].x0)
        np.testing.assert_array_equal(seq.state(k + 1), replay[k].x_true)
    fresh = heat_sequence(nx=12, T=120)
    np.testing.assert_array_equal(fresh[77].b, replay[77].b)


def test_heat_prefix_and_reproducibility():
    a = heat_sequence(nx=10, T=20, initial="random", seed=5)
    b = heat_sequence(nx=10, T=50, initial="random", seed=5)
    c = heat_sequence(nx=10, T=20, initial="random", seed=6)
    np.testing.assert_array_equal(a[19].b, b[19].b)
    assert not np.array_equal(a.initial_state, c.initial_state)
    u0 = a.initial_state.reshape(a.grid)
    assert np.abs(u0).max() > 0.1


def test_heat_closed_loop_uses_callers_solution():
    seq = heat_sequence(nx=10, T=5)
    sim = seq.simulate()
    s0 = sim.system()
    assert sim.system() is s0
    x = s0.x_true + 1e-3
    s1 = sim.advance(x)
    np.testing.assert_array_equal(s1.x0, x)
    expected = seq.system(1, x)
    np.testing.assert_array_equal(s1.b, expected.b)
    assert not np.allclose(s1.b, seq[1].b, rtol=0, atol=1e-6)
    assert sim.k == 1 and sim.t == pytest.approx(1e-3)
    rest = 0
    for s in sim:
        rest += 1
        last = sim.advance(s.x_true)
    assert rest == 4 and last is None and sim.done
    with pytest.raises(RuntimeError, match="over"):
        sim.system()
    with pytest.raises(RuntimeError, match="over"):
        sim.advance(x)


def test_heat_closed_loop_requires_advance():
    sim = heat_sequence(nx=6, T=3).simulate()
    with pytest.raises(RuntimeError, match="advance"):
        for _ in sim:
            pass


def test_heat_closed_loop_exact_equals_replay():
    seq = heat_sequence(nx=9, T=25)
    sim = seq.simulate()
    for s_ref in seq:
        s = sim.system()
        np.testing.assert_array_equal(s.b, s_ref.b)
        sim.advance(s.x_true)


@pytest.mark.parametrize("dtype", DTYPES)
def test_heat_dtype(dtype):
    s = heat_sequence(nx=8, T=3, dtype=dtype)[2]
    for arr in (s.A.data, s.b, s.x_true, s.x0):
        assert arr.dtype == dtype


def test_heat_custom_kappa_initial_and_errors():
    n = 49
    seq = heat_sequence(nx=8, T=4, kappa=lambda t: 2.0, initial=np.ones((7, 7)))
    assert seq.context_range == (2.0, 2.0)
    np.testing.assert_array_equal(seq[0].x0, np.ones(n))
    with pytest.raises(ValueError, match="kappa"):
        heat_sequence(nx=8, T=4, kappa=lambda t: -1.0)
    with pytest.raises(ValueError, match="initial"):
        heat_sequence(nx=8, T=4, initial=np.ones(5))
    with pytest.raises(ValueError, match="kappa_at"):
        heat_sequence(nx=8, T=4, kappa_at="left")
    with pytest.raises(ValueError, match="dt"):
        heat_sequence(nx=8, T=4, dt=0.0)
    with pytest.raises(ValueError, match="nx"):
        heat_sequence(nx=1)
    with pytest.raises(IndexError):
        HeatSequence(nx=8, T=4)[4]
    with pytest.raises(ValueError, match="length"):
        HeatSequence(nx=8, T=4).system(0, np.ones(3))


def test_heat_state_uses_nearest_checkpoint():
    seq = heat_sequence(nx=6, T=200)
    calls = []
    original = seq._exact
    seq._exact = lambda k, b: (calls.append(k), original(k, b))[1]
    seq.state(200)
    assert len(calls) == 200
    calls.clear()
    seq.state(5)  # from the checkpoint at 0
    assert calls == list(range(5))
    calls.clear()
    seq.state(199)  # from the cached checkpoint just below, not from step 5
    assert 0 < len(calls) <= seq._stride
    calls.clear()
    seq.state(199)
    assert calls == []
