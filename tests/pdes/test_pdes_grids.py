"""Grid matrices: poisson, diffusion, anisotropic, elasticity."""

from __future__ import annotations

import numpy as np
import pyamg.gallery
import pytest
import scipy.sparse as sp

from itersolve.pdes import anisotropic, diffusion, elasticity, poisson, random_field

DTYPES = [np.float32, np.float64]


def assert_canonical_csr(A, dtype=np.float64):
    assert isinstance(A, sp.csr_matrix)
    assert A.dtype == np.dtype(dtype)
    assert A.has_canonical_format
    assert A.indices.dtype == np.int32 and A.indptr.dtype == np.int32
    assert A.shape[0] == A.shape[1]


def assert_spd(A, rtol=1e-10):
    D = A.toarray().astype(np.float64)
    scale = np.abs(D).max()
    assert np.abs(D - D.T).max() <= rtol * scale, "not symmetric"
    lmin = np.linalg.eigvalsh(D)[0]
    assert lmin > 1e-8 * scale, f"smallest eigenvalue {lmin}"


# -- poisson -----------------------------------------------------------------


@pytest.mark.parametrize("shape", [(7,), (1,), (4, 6), (5, 5), (3, 4, 5), (2, 1, 3)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_poisson_matches_pyamg(shape, dtype):
    A = poisson(shape, dtype=dtype)
    assert_canonical_csr(A, dtype)
    ref = sp.csr_matrix(pyamg.gallery.poisson(shape, format="csr"))
    assert A.shape == ref.shape
    assert abs(A.astype(np.float64) - ref).max() == 0
    assert np.all(A.diagonal() == 2 * len(shape))


def test_poisson_int_shape_is_1d():
    assert (poisson(5) != poisson((5,))).nnz == 0


@pytest.mark.parametrize("dtype", DTYPES)
def test_poisson_spacing(dtype):
    A = poisson((4, 5), h=(0.5, 0.25), dtype=dtype)
    assert_canonical_csr(A, dtype)
    T0 = poisson(4) * 4.0
    T1 = poisson(5) * 16.0
    ref = sp.kron(T0, sp.identity(5)) + sp.kron(sp.identity(4), T1)
    assert abs(A.astype(np.float64) - ref).max() == 0
    assert abs(poisson((3, 3), h=0.1) - poisson((3, 3)) * 100.0).max() < 1e-12


@pytest.mark.parametrize("shape", [(6,), (4, 5), (3, 3, 4)])
def test_poisson_spd(shape):
    assert_spd(poisson(shape))
    assert_spd(poisson(shape, h=0.01))


@pytest.mark.parametrize(
    "bad, exc",
    [((), ValueError), ((0, 3), ValueError), ((2, 2, 2, 2), ValueError), ((2.5,), TypeError), ("ab", TypeError)],
)
def test_poisson_bad_shape(bad, exc):
    with pytest.raises(exc, match="shape"):
        poisson(bad)


def test_poisson_bad_spacing():
    with pytest.raises(ValueError, match="h must"):
        poisson((3, 3), h=(0.1,))
    with pytest.raises(ValueError, match="h must"):
        poisson((3, 3), h=0.0)


# -- diffusion ---------------------------------------------------------------


def reference_diffusion_2d(k, h=(1.0, 1.0)):
    """Slow, obvious assembly: loop over cells and their four faces."""
    nx, ny = k.shape
    n = nx * ny
    A = np.zeros((n, n))
    for i in range(nx):
        for j in range(ny):
            row = i * ny + j
            for di, dj, hh in ((-1, 0, h[0]), (1, 0, h[0]), (0, -1, h[1]), (0, 1, h[1])):
                ii, jj = i + di, j + dj
                if 0 <= ii < nx and 0 <= jj < ny:
                    kf = 2.0 * k[i, j] * k[ii, jj] / (k[i, j] + k[ii, jj])
                    A[row, row] += kf / hh**2
                    A[row, ii * ny + jj] -= kf / hh**2
                else:  # Dirichlet node one spacing outside
                    A[row, row] += k[i, j] / hh**2
    return A


@pytest.mark.parametrize("h", [None, (0.1, 0.25)])
def test_diffusion_matches_reference_assembly(h):
    rng = np.random.default_rng(3)
    k = np.exp(2.0 * rng.standard_normal((6, 9)))
    A = diffusion(k, h=h)
    assert_canonical_csr(A)
    ref = reference_diffusion_2d(k, (1.0, 1.0) if h is None else h)
    np.testing.assert_allclose(A.toarray(), ref, rtol=1e-13, atol=1e-13 * np.abs(ref).max())
    assert_spd(A)


@pytest.mark.parametrize("shape", [(9,), (5, 7), (3, 4, 5)])
@pytest.mark.parametrize("h", [None, 0.1])
def test_diffusion_unit_coefficient_is_poisson(shape, h):
    A = diffusion(np.ones(shape), h=h)
    P = poisson(shape, h=h)
    assert A.shape == P.shape
    assert abs(A - P).max() <= (0 if h is None else 1e-12 * abs(P).max())


def test_diffusion_constant_coefficient_scales():
    A = diffusion(np.full((4, 4), 3.0))
    assert abs(A - 3.0 * poisson((4, 4))).max() < 1e-12


@pytest.mark.parametrize("dtype", DTYPES)
def test_diffusion_dtype(dtype):
    k = random_field((8, 8), variance=1.0, length=0.2, seed=0)
    A = diffusion(k, dtype=dtype)
    assert_canonical_csr(A, dtype)
    assert diffusion(k.astype(np.float32)).dtype == np.float32
    assert diffusion(k).dtype == np.float64


@pytest.mark.parametrize("shape", [(12,), (6, 5), (3, 3, 4)])
def test_diffusion_random_field_spd(shape):
    k = random_field(shape, variance=4.0, length=0.2, seed=1)
    assert_spd(diffusion(k))


def test_diffusion_rejects_bad_k():
    with pytest.raises(ValueError, match="positive"):
        diffusion(np.array([[1.0, -1.0], [1.0, 1.0]]))
    with pytest.raises(ValueError, match="positive"):
        diffusion(np.array([[1.0, np.nan], [1.0, 1.0]]))
    with pytest.raises(ValueError, match="k.shape"):
        diffusion(np.ones((2, 2, 2, 2)))
    with pytest.raises(TypeError, match="real"):
        diffusion(np.ones((2, 2), dtype=complex))


# -- anisotropic -------------------------------------------------------------


@pytest.mark.parametrize("kind", ["FE", "FD"])
@pytest.mark.parametrize("epsilon, theta", [(1e-3, 0.0), (1e-3, np.pi / 8), (0.1, np.pi / 4), (1.0, 1.0), (1e-2, -0.7)])
def test_anisotropic_spd(kind, epsilon, theta):
    A = anisotropic((7, 9), epsilon, theta, kind=kind)
    assert_canonical_csr(A)
    assert_spd(A)


def test_anisotropic_matches_pyamg():
    A = anisotropic((6, 5), 0.01, np.pi / 6)
    S = pyamg.gallery.diffusion_stencil_2d(0.01, np.pi / 6, "FE")
    ref = sp.csr_matrix(pyamg.gallery.stencil_grid(S, (6, 5), format="csr"))
    assert abs(A - ref).max() == 0


@pytest.mark.parametrize("dtype", DTYPES)
def test_anisotropic_dtype(dtype):
    assert_canonical_csr(anisotropic((4, 4), dtype=dtype), dtype)


def test_anisotropic_errors():
    with pytest.raises(ValueError, match="shape"):
        anisotropic((4, 4, 4))
    with pytest.raises(ValueError, match="epsilon"):
        anisotropic((4, 4), epsilon=0.0)
    with pytest.raises(ValueError, match="kind"):
        anisotropic((4, 4), kind="FV")


# -- elasticity --------------------------------------------------------------


def test_elasticity_clamped_box_matches_pyamg_spectrum():
    A = elasticity((5, 5), clamp="all")
    ref = pyamg.gallery.linear_elasticity((5, 5), format="csr")[0]
    assert A.shape == ref.shape == (50, 50)
    np.testing.assert_allclose(
        np.linalg.eigvalsh(A.toarray()), np.linalg.eigvalsh(ref.toarray()), rtol=1e-10, atol=1e-6
    )


@pytest.mark.parametrize("clamp", ["left", "all"])
@pytest.mark.parametrize("shape", [(4, 3), (3, 6)])
def test_elasticity_spd(clamp, shape):
    A = elasticity(shape, clamp=clamp)
    assert_canonical_csr(A)
    assert A.shape == (2 * shape[0] * shape[1],) * 2
    assert_spd(A)


def test_elasticity_cantilever_is_softer_than_box():
    # fewer constraints: smaller smallest eigenvalue, same size
    left = np.linalg.eigvalsh(elasticity((6, 6), clamp="left").toarray())[0]
    box = np.linalg.eigvalsh(elasticity((6, 6), clamp="all").toarray())[0]
    assert 0 < left < box


@pytest.mark.parametrize("dtype", DTYPES)
def test_elasticity_dtype_and_material(dtype):
    A = elasticity((3, 3), E=2e5, nu=0.25, dtype=dtype)
    assert_canonical_csr(A, dtype)
    B = elasticity((3, 3), E=1e5, nu=0.25)
    np.testing.assert_allclose(A.toarray(), 2 * B.toarray(), rtol=1e-6, atol=1e-6 * abs(B).max())


def test_elasticity_errors():
    with pytest.raises(ValueError, match="nu"):
        elasticity((3, 3), nu=0.5)
    with pytest.raises(ValueError, match="E must"):
        elasticity((3, 3), E=-1.0)
    with pytest.raises(ValueError, match="clamp"):
        elasticity((3, 3), clamp="top")
    with pytest.raises(ValueError, match="at least 2"):
        elasticity((3, 1))
