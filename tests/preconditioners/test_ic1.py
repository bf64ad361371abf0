"""IC(k): the symbolic level-of-fill pattern and the numeric factor against dense references."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import itersolve
from itersolve.kernels.factorize_fill import iluk_pattern
from itersolve.pdes import diffusion, poisson, random_field
from itersolve.preconditioners.classical import IC0, IC1, ICk, ick_pattern


def dense_levels(A: np.ndarray, level: int) -> np.ndarray:
    """Levels of fill of ILU(level) by the KIJ definition on a dense array (inf = dropped)."""
    n = A.shape[0]
    lev = np.where(A != 0, 0.0, np.inf)
    for k in range(n):
        for i in range(k + 1, n):
            if lev[i, k] > level:
                continue
            for j in range(k + 1, n):
                if lev[k, j] <= level:
                    lev[i, j] = min(lev[i, j], lev[i, k] + lev[k, j] + 1)
    return np.where(lev <= level, lev, np.inf)


def dense_ic(A: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Right-looking Cholesky that drops every update outside the lower pattern ``keep``."""
    W = np.tril(A).astype(float)
    n = A.shape[0]
    for k in range(n):
        W[k, k] = np.sqrt(W[k, k])
        W[k + 1:, k] /= W[k, k]
        for j in range(k + 1, n):
            rows = np.arange(j, n)
            upd = W[rows, k] * W[j, k]
            W[rows, j] -= np.where(keep[rows, j], upd, 0.0)
    return np.where(keep, W, 0.0)


def random_spd(n: int, density: float, seed: int) -> np.ndarray:
    R = sp.random(n, n, density=density, random_state=seed).toarray()
    S = np.where((R + R.T) != 0, -np.abs(R + R.T), 0.0)
    np.fill_diagonal(S, 0.0)
    return S + np.diag(np.abs(S).sum(1) + 1.0)  # a diagonally dominant M-matrix: IC(k) exists


@pytest.mark.parametrize("level", [0, 1, 2, 3])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pattern_matches_dense_level_rule(level, seed):
    A = random_spd(25, 0.1, seed)
    S = sp.csr_matrix(A)
    p, i, lev = iluk_pattern(S.indptr, S.indices, level)
    got = np.full(A.shape, np.inf)
    got[np.repeat(np.arange(25), np.diff(p)), i] = lev
    np.testing.assert_array_equal(got, dense_levels(A, level))


@pytest.mark.parametrize("level", [1, 2])
@pytest.mark.parametrize("seed", [3, 4])
def test_factor_matches_dense_reference(level, seed):
    A = random_spd(30, 0.12, seed)
    P = ICk(A, level=level)
    keep = np.tril(np.isfinite(dense_levels(A, level)))
    np.testing.assert_allclose(P.L.toarray(), dense_ic(A, keep), rtol=1e-12, atol=1e-12)
    assert P.L.nnz == keep.sum()
    r = np.random.default_rng(seed).standard_normal(30)
    Ld = P.L.toarray()
    np.testing.assert_allclose(P @ r, np.linalg.solve(Ld @ Ld.T, r), rtol=1e-10)


def test_level_zero_is_ic0_and_full_level_is_cholesky():
    A = diffusion(random_field((12, 12), variance=1.1, seed=5))
    np.testing.assert_array_equal(ICk(A, level=0).L.toarray(), IC0(A).L.toarray())
    L = ICk(A, level=A.shape[0]).L.toarray()
    np.testing.assert_allclose(L, np.linalg.cholesky(A.toarray()), rtol=1e-10, atol=1e-12)


def test_ic1_on_diffusion_pattern_and_iterations():
    A = diffusion(random_field((40, 40), variance=1.1, seed=6))
    P0, P1 = IC0(A), IC1(A)
    lp, li, ld = ick_pattern(A, 1)
    assert P1.level == 1 and P1.L.nnz == li.size == P0.L.nnz + 39 * 39  # one fill diagonal (5-point stencil)
    b = np.random.default_rng(0).standard_normal(A.shape[0])
    r0 = itersolve.cg(A, b, M=P0, rtol=1e-8)
    r1 = itersolve.cg(A, b, M=P1, rtol=1e-8)
    assert r1.converged and r1.iterations < 0.85 * r0.iterations


def test_errors():
    with pytest.raises(ValueError, match="level must be an integer >= 0"):
        ICk(poisson((3, 3)), level=-1)
    with pytest.raises(ValueError, match=r"IC\(1\) broke down at row 1"):
        IC1(np.array([[1.0, 3.0], [3.0, 1.0]]))
    assert IC1(np.array([[1.0, 3.0], [3.0, 1.0]]), shift=1.5).shift_used == 3.0
