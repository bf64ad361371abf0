"""Obstacle masks and the MAC-grid pressure-Poisson matrix."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy import ndimage

from itersolve.pdes.fluids.obstacles import ball, box, connected_fluid, random_obstacles
from itersolve.pdes.fluids.pressure import (
    divergence_rhs,
    pressure_system,
    random_rhs,
    random_velocity,
)


def slow_matrix(solid: np.ndarray, open_faces: set[tuple[int, int]]) -> np.ndarray:
    """Independent assembly: visit every fluid cell and each of its 2·ndim faces."""
    cells = [c for c in itertools.product(*map(range, solid.shape)) if not solid[c]]
    number = {c: k for k, c in enumerate(cells)}
    A = np.zeros((len(cells), len(cells)))
    for c in cells:
        for axis in range(solid.ndim):
            for side, step in ((0, -1), (1, 1)):
                nb = list(c)
                nb[axis] += step
                nb = tuple(nb)
                if 0 <= nb[axis] < solid.shape[axis]:
                    if not solid[nb]:
                        A[number[c], number[c]] += 1
                        A[number[c], number[nb]] -= 1
                elif (axis, side) in open_faces:
                    A[number[c], number[c]] += 1
    return A


@pytest.mark.parametrize("shape", [(5, 6), (4, 3, 5)])
@pytest.mark.parametrize("faces,expect", [(("top",), "top"), ((), None), (("x-", "y+"), "xy"), ("all", "all")])
def test_matches_slow_assembly(shape, faces, expect):
    solid = random_obstacles(shape, count=3, seed=4, size=(0.15, 0.3))
    system = pressure_system(solid, open_faces=faces)
    ndim = len(shape)
    open_set = {
        "top": {(ndim - 1, 1)},
        None: set(),
        "xy": {(0, 0), (1, 1)},
        "all": {(a, s) for a in range(ndim) for s in (0, 1)},
    }[expect]
    np.testing.assert_array_equal(system.A.toarray(), slow_matrix(solid, open_set))


@pytest.mark.parametrize("shape", [(9, 8), (5, 6, 4)])
@pytest.mark.parametrize("faces", [("top",), ()])
def test_symmetric_positive_semidefinite(shape, faces):
    solid = random_obstacles(shape, count=3, seed=2, size=(0.1, 0.25))
    system = pressure_system(solid, open_faces=faces)
    A = system.A.toarray()
    np.testing.assert_array_equal(A, A.T)
    w, V = np.linalg.eigh(A)
    if faces:
        assert system.nullspace is None
        assert w[0] > 1e-8
    else:
        # one connected fluid region: exactly one zero eigenvalue, the constant
        assert system.nullspace.shape == (system.n, 1)
        assert abs(w[0]) < 1e-10 and w[1] > 1e-8
        np.testing.assert_allclose(A @ system.nullspace, 0.0, atol=1e-12)


def test_disconnected_closed_regions_each_give_a_null_vector():
    solid = box((6, 6), (0.3, 0.0), (0.55, 1.0))  # a wall across the box, both sides kept
    system = pressure_system(solid, open_faces=())
    assert system.nullspace.shape[1] == 2
    np.testing.assert_allclose(system.nullspace.T @ system.nullspace, np.eye(2), atol=1e-12)
    assert np.linalg.matrix_rank(system.A.toarray()) == system.n - 2


@pytest.mark.parametrize("shape", [(12, 10), (6, 7, 5)])
def test_divergence_of_wall_respecting_flow_lies_in_range(shape):
    solid = random_obstacles(shape, count=3, seed=5)
    system = pressure_system(solid, open_faces=())
    vel = random_velocity(shape, seed=3)
    b = divergence_rhs(system, vel)
    assert np.linalg.norm(b) > 0
    # the raw divergence telescopes to zero on a closed region (projection only fixes rounding)
    raw = -sum(np.diff(np.where(_blocked(system, axis), 0.0, u), axis=axis) for axis, u in enumerate(vel))
    np.testing.assert_allclose(raw[system.fluid].sum(), 0.0, atol=1e-10)
    # and the projection step makes the fluid divergence-free
    p = np.linalg.lstsq(system.A.toarray(), b, rcond=None)[0]
    np.testing.assert_allclose(system.A @ p, b, atol=1e-9)


def _blocked(system, axis):
    shape = system.shape
    face = tuple(s + (a == axis) for a, s in enumerate(shape))
    out = np.zeros(face, dtype=bool)
    solid = ~system.fluid
    lo = [slice(None)] * system.ndim
    hi = [slice(None)] * system.ndim
    lo[axis], hi[axis] = slice(None, -1), slice(1, None)
    out[tuple(lo)] |= solid
    out[tuple(hi)] |= solid
    edge0 = [slice(None)] * system.ndim
    edge0[axis] = 0
    edge1 = [slice(None)] * system.ndim
    edge1[axis] = -1
    out[tuple(edge0)] = True
    out[tuple(edge1)] = True
    return out


def test_random_obstacles_connected_and_not_full():
    for seed in range(5):
        solid = random_obstacles((20, 20), count=8, seed=seed, max_fill=0.3)
        assert solid.mean() <= 0.3
        assert ndimage.label(~solid)[1] == 1
    assert np.array_equal(random_obstacles((10, 10, 10), seed=1), random_obstacles((10, 10, 10), seed=1))


def test_shapes_and_errors():
    assert ball((6, 6, 6), (0.5, 0.5, 0.5), 0.3).sum() > 0
    with pytest.raises(ValueError, match="lo <= hi"):
        box((4, 4), (0.5, 0.5), (0.2, 0.9))
    with pytest.raises(ValueError, match="2 or 3"):
        box((4,), (0.0,), (1.0,))
    with pytest.raises(ValueError, match="center"):
        ball((4, 4), (0.5, 0.5, 0.5), 0.1)
    with pytest.raises(ValueError, match="no fluid"):
        pressure_system(np.ones((3, 3), dtype=bool))
    with pytest.raises(TypeError, match="boolean"):
        pressure_system(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="unknown face"):
        pressure_system(np.zeros((3, 3), dtype=bool), open_faces=("z+",))
    assert pressure_system(np.zeros((3, 3), dtype=bool), dtype=np.float32).A.dtype == np.float32


@settings(max_examples=30, deadline=None)
@given(
    shape=st.tuples(st.integers(1, 7), st.integers(1, 7)) | st.tuples(st.integers(1, 4), st.integers(1, 4),
                                                                       st.integers(1, 4)),
    data=st.data(),
)
def test_mapping_roundtrip(shape, data):
    flat = data.draw(st.lists(st.booleans(), min_size=int(np.prod(shape)), max_size=int(np.prod(shape))))
    solid = np.array(flat, dtype=bool).reshape(shape)
    if solid.all():
        with pytest.raises(ValueError):
            pressure_system(solid)
        return
    system = pressure_system(solid)
    v = np.arange(1, system.n + 1, dtype=np.float64)
    grid = system.to_grid(v)
    assert grid.shape == shape
    assert np.all(grid[solid] == 0) and np.all(grid[~solid] > 0)
    np.testing.assert_array_equal(system.to_vector(grid), v)
    batch = np.stack([v, 2 * v])
    np.testing.assert_array_equal(system.to_vector(system.to_grid(batch)), batch)
    with pytest.raises(ValueError):
        system.to_grid(np.ones(system.n + 1))
    with pytest.raises(ValueError):
        system.to_vector(np.ones(tuple(s + 1 for s in shape)))
    # the matrix is symmetric and diagonally dominant whatever the mask
    A = system.A.toarray()
    assert np.array_equal(A, A.T)
    assert np.all(np.diag(A) >= np.abs(A).sum(axis=1) - np.diag(A))
    assert connected_fluid(solid).sum() >= solid.sum()


def test_random_rhs_is_deterministic():
    system = pressure_system(random_obstacles((16, 16), seed=0))
    np.testing.assert_array_equal(random_rhs(system, seed=3), random_rhs(system, seed=3))
    assert not np.allclose(random_rhs(system, seed=3), random_rhs(system, seed=4))
