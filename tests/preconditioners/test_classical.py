"""Classical preconditioners against dense formulas, and their LinearOperator behaviour."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.polynomial import chebyshev as C
from scipy.sparse.linalg import LinearOperator, cg

from itersolve.preconditioners import IC0, ILU0, SSOR, Chebyshev, Jacobi, Preconditioner
from itersolve.sparse import as_csr
from tests.kernels._ref import DTYPES, diag_dominant, ic0_dense, ilu0_dense, poisson2d


def _tol(dtype):
    return dict(rtol=2e-4, atol=2e-4) if np.dtype(dtype) == np.float32 else dict(rtol=1e-10, atol=1e-10)


def _r(n, dtype, seed=0):
    return np.random.default_rng(seed).standard_normal(n).astype(dtype)


def _check_apply(P, Minv_dense, dtype):
    n = P.shape[0]
    r = _r(n, dtype)
    ref = Minv_dense @ r.astype(np.float64)
    scale = max(1.0, np.abs(ref).max())
    z = P.apply(r)
    assert z.dtype == np.dtype(dtype) and z.shape == (n,)
    np.testing.assert_allclose(z / scale, ref / scale, **_tol(dtype))
    # the LinearOperator paths agree with apply
    np.testing.assert_array_equal(P @ r, z)
    np.testing.assert_array_equal(P.matvec(r), z)
    np.testing.assert_array_equal(P.dot(r), z)
    np.testing.assert_array_equal(P(r), z)
    out = np.empty(n, dtype)
    assert P.apply(r, out=out) is out
    np.testing.assert_array_equal(out, z)
    np.testing.assert_array_equal((P @ r.reshape(-1, 1)).ravel(), z)  # column vector
    # a vector of the other dtype is converted, the result stays in P.dtype
    other = np.float64 if np.dtype(dtype) == np.float32 else np.float32
    assert P.apply(r.astype(other)).dtype == np.dtype(dtype)
    assert r.dtype == np.dtype(dtype)  # input untouched
    return r, z


# ------------------------------------------------------------------ Jacobi


@pytest.mark.parametrize("dtype", DTYPES)
def test_jacobi(dtype):
    A = diag_dominant(40, 0.1, 0, dtype)
    P = Jacobi(A)
    assert isinstance(P, Preconditioner) and isinstance(P, LinearOperator)
    assert P.symmetric and P.dtype == np.dtype(dtype) and P.setup_time >= 0
    _check_apply(P, np.diag(1.0 / A.diagonal().astype(np.float64)), dtype)
    with pytest.raises(ValueError, match="zero on its diagonal"):
        Jacobi(sp.csr_matrix(np.array([[0.0, 1.0], [1.0, 2.0]])))
    assert not Jacobi(np.diag([1.0, -2.0])).symmetric


# -------------------------------------------------------------------- SSOR


def _ssor_dense(A, omega):
    """M = omega/(2-omega) (D/omega + L) D^-1 (D/omega + U)."""
    Ad = A.toarray().astype(np.float64)
    D = np.diag(np.diag(Ad))
    L = np.tril(Ad, -1)
    U = np.triu(Ad, 1)
    return omega / (2 - omega) * (D / omega + L) @ np.linalg.inv(D) @ (D / omega + U)


@pytest.mark.parametrize("omega", [0.7, 1.0, 1.6])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("symmetric", [True, False])
def test_ssor_matches_dense_formula(dtype, omega, symmetric):
    A = diag_dominant(40, 0.1, 1, dtype, symmetric=symmetric)
    P = SSOR(A, omega=omega)
    assert P.symmetric == symmetric
    _check_apply(P, np.linalg.inv(_ssor_dense(A, omega)), dtype)
    # the brief's variant with (D/omega)^-1 in the middle differs by the factor omega
    Ad = A.toarray().astype(np.float64)
    D = np.diag(np.diag(Ad))
    M_alt = (D / omega + np.tril(Ad, -1)) @ np.linalg.inv(D / omega) @ (D / omega + np.triu(Ad, 1)) * omega / (2 - omega)
    np.testing.assert_allclose(M_alt, omega * _ssor_dense(A, omega), rtol=1e-10)


@pytest.mark.parametrize("dtype", DTYPES)
def test_ssor_colored_is_ssor_of_permuted_matrix(dtype):
    A = poisson2d(7, dtype)
    P = SSOR(A, omega=1.3, colored=True)
    perm = P.color_rows
    Ap = as_csr(A[perm][:, perm])
    Minv_p = np.linalg.inv(_ssor_dense(Ap, 1.3))
    n = A.shape[0]
    Q = np.zeros((n, n))
    Q[np.arange(n), perm] = 1  # (Q x)_k = x[perm[k]]
    _check_apply(P, Q.T @ Minv_p @ Q, dtype)
    assert P.symmetric


def test_ssor_rejects_bad_omega():
    A = poisson2d(3)
    for w in (0.0, 2.0, -1.0, 2.5):
        with pytest.raises(ValueError, match="omega"):
            SSOR(A, omega=w)
    with pytest.raises(TypeError):
        SSOR(A, omega="1")


# ------------------------------------------------------------------- IC(0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["poisson", "random-spd", "missing-lower-entries"])
def test_ic0_matches_dense_reference(dtype, kind):
    if kind == "poisson":
        A = poisson2d(7, dtype)
    elif kind == "random-spd":
        A = diag_dominant(50, 0.1, 2, dtype, symmetric=True)
    else:  # only the lower triangle is read: an upper triangle with extra entries is ignored
        B = diag_dominant(30, 0.1, 3, "float64", symmetric=True)
        A = as_csr(B + sp.triu(sp.random(30, 30, density=0.1, random_state=4), 1), dtype=dtype)
    P = IC0(A)
    assert P.symmetric and P.shift_used == 0.0
    Lsym = as_csr(sp.tril(A) + sp.tril(A, -1).T, dtype="float64")
    L = ic0_dense(Lsym)
    np.testing.assert_allclose(P.L.toarray(), L, **_tol(dtype))
    _check_apply(P, np.linalg.inv(L @ L.T), dtype)


def test_ic0_breakdown_raises_clear_error():
    A = np.array([[2.0, 1.0, 0.0], [1.0, -1.0, 1.0], [0.0, 1.0, 2.0]])  # indefinite
    with pytest.raises(ValueError, match=r"IC\(0\) broke down at row 1"):
        IC0(A)
    # an SPD matrix without an IC(0) factor (no M-matrix), fixed by Manteuffel shifting
    B = sp.csr_matrix(
        np.array(
            [
                [3.0, -2.0, 0.0, 2.0],
                [-2.0, 3.0, -2.0, 0.0],
                [0.0, -2.0, 3.0, -2.0],
                [2.0, 0.0, -2.0, 3.0],
            ]
        )
    )
    assert np.all(np.linalg.eigvalsh(B.toarray()) > 0)
    with pytest.raises(ValueError, match=r"IC\(0\) broke down at row 3.*shift"):
        IC0(B)
    P = IC0(B, shift=0.1)
    assert P.shift_used > 0
    x, info = cg(B, np.ones(4), M=P, rtol=1e-10)
    assert info == 0
    with pytest.raises(ValueError, match="shift"):
        IC0(B, shift=-1.0)
    with pytest.raises(ValueError, match="broke down at row 0"):
        IC0(np.array([[0.0, 1.0], [1.0, 0.0]]), shift=1.0)  # zero diagonal: no shift helps


def test_ic0_missing_diagonal_entry():
    A = sp.csr_matrix(np.array([[2.0, 1.0], [1.0, 0.0]]))
    A.eliminate_zeros()
    with pytest.raises(ValueError, match=r"IC\(0\) broke down at row 1"):
        IC0(A)


# ------------------------------------------------------------------ ILU(0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["poisson", "random"])
def test_ilu0_matches_dense_reference(dtype, kind):
    A = poisson2d(6, dtype) if kind == "poisson" else diag_dominant(50, 0.1, 5, dtype)
    P = ILU0(A)
    assert not P.symmetric
    LU = ilu0_dense(A)
    L = np.tril(LU, -1) + np.eye(A.shape[0])
    U = np.triu(LU)
    np.testing.assert_allclose(P.LU.toarray(), LU, **_tol(dtype))
    np.testing.assert_allclose(P.L.toarray(), L, **_tol(dtype))
    np.testing.assert_allclose(P.U.toarray(), U, **_tol(dtype))
    Minv = np.linalg.inv(L @ U)
    _check_apply(P, Minv, dtype)
    # rmatvec / adjoint: M^-T
    r = _r(A.shape[0], dtype, 1)
    np.testing.assert_allclose(P.rmatvec(r), Minv.T @ r.astype(np.float64), **_tol(dtype))
    np.testing.assert_allclose(P.H @ r, Minv.T @ r.astype(np.float64), **_tol(dtype))


def test_ilu0_zero_pivot_and_missing_diagonal():
    with pytest.raises(ValueError, match=r"ILU\(0\) broke down at row 1: zero pivot"):
        ILU0(np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0], [0.0, 1.0, 2.0]]))
    P = ILU0(np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0], [0.0, 1.0, 2.0]]), shift=0.5)
    assert P.shift_used == 0.5
    # a structurally missing diagonal entry is added (as 0) and may receive fill ...
    A = sp.csr_matrix(np.array([[2.0, 1.0], [1.0, 0.0]]))
    A.eliminate_zeros()
    np.testing.assert_allclose(ILU0(A).U.toarray(), [[2.0, 1.0], [0.0, -0.5]])
    # ... or not
    A = sp.csr_matrix(np.array([[2.0, 0.0], [1.0, 0.0]]))
    A.eliminate_zeros()
    with pytest.raises(ValueError, match="row 1: zero pivot; A has a zero on its diagonal"):
        ILU0(A)


# --------------------------------------------------------------- Chebyshev


def _cheb_dense(A, degree, lmin, lmax):
    """M^-1 = D^-1/2 V q(L) V^T D^-1/2, q(l) = (1 - T_k((t - l)/d) / T_k(t/d)) / l, k = degree + 1."""
    Ad = A.toarray().astype(np.float64)
    s = 1 / np.sqrt(np.diag(Ad))
    lam, V = np.linalg.eigh(s[:, None] * Ad * s[None, :])
    theta, delta = (lmax + lmin) / 2, (lmax - lmin) / 2
    Tk = [0] * (degree + 1) + [1]
    q = (1 - C.chebval((theta - lam) / delta, Tk) / C.chebval(theta / delta, Tk)) / lam
    return s[:, None] * (V * q) @ V.T * s[None, :]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("degree", [0, 1, 3, 6])
def test_chebyshev_matches_closed_form(dtype, degree):
    A = poisson2d(6, dtype)
    P = Chebyshev(A, degree=degree, lmin=0.1, lmax=2.0)
    assert P.symmetric
    Minv = _cheb_dense(A, degree, 0.1, 2.0)
    _check_apply(P, Minv, dtype)
    assert np.all(np.linalg.eigvalsh((Minv + Minv.T) / 2) > 0)  # SPD


def test_chebyshev_estimates_lmax():
    A = diag_dominant(60, 0.1, 6, symmetric=True)
    P = Chebyshev(A)
    Ad = A.toarray()
    s = 1 / np.sqrt(np.diag(Ad))
    true = np.linalg.eigvalsh(s[:, None] * Ad * s[None, :]).max()
    assert true * 0.999 <= P.lmax <= true * 1.06
    assert P.lmin == pytest.approx(P.lmax / 30)
    with pytest.raises(ValueError, match="lmin"):
        Chebyshev(A, lmin=0.0, lmax=2.0)
    with pytest.raises(ValueError, match="lmin < lmax"):
        Chebyshev(A, lmin=3.0, lmax=2.0)
    with pytest.raises(ValueError, match="degree"):
        Chebyshev(A, degree=-1)


# ------------------------------------------------------- in scipy's CG, dtypes


@pytest.mark.parametrize(
    "make",
    [
        lambda A: Jacobi(A),
        lambda A: SSOR(A, omega=1.5),
        lambda A: SSOR(A, omega=1.5, colored=True),
        lambda A: IC0(A),
        lambda A: Chebyshev(A, degree=3),
    ],
    ids=["jacobi", "ssor", "ssor-colored", "ic0", "chebyshev"],
)
@pytest.mark.parametrize("dtype", DTYPES)
def test_works_as_M_in_scipy_cg(make, dtype):
    A = poisson2d(24, dtype)
    b = np.ones(A.shape[0], dtype)
    P = make(A)
    assert P.symmetric and P.dtype == np.dtype(dtype)
    counts = {"plain": 0, "pc": 0}

    def cb(key):
        def f(_):
            counts[key] += 1

        return f

    rtol = 1e-5 if dtype == "float32" else 1e-10
    _, info0 = cg(A, b, rtol=rtol, callback=cb("plain"), maxiter=2000)
    x, info = cg(A, b, M=P, rtol=rtol, callback=cb("pc"), maxiter=2000)
    assert info == 0 and info0 == 0
    Af = A.astype(np.float64)
    assert np.linalg.norm(b - Af @ x) <= 10 * rtol * np.linalg.norm(b)
    assert counts["pc"] <= counts["plain"] + 1


def test_works_as_M_in_pyamg_krylov():
    from pyamg.krylov import cg as pyamg_cg
    from pyamg.krylov import gmres as pyamg_gmres

    A = poisson2d(20)
    b = np.ones(A.shape[0])
    for P in (IC0(A), SSOR(A, 1.5), Chebyshev(A)):
        x, info = pyamg_cg(A, b, M=P, tol=1e-10, maxiter=500)
        assert info == 0 and np.linalg.norm(b - A @ x) <= 1e-9 * np.linalg.norm(b)
    B = diag_dominant(200, 0.03, 9)
    x, info = pyamg_gmres(B, np.ones(200), M=ILU0(B), tol=1e-10, maxiter=200)
    assert info == 0 and np.linalg.norm(np.ones(200) - B @ x) <= 1e-8 * np.sqrt(200)


def test_symmetric_preconditioners_are_symmetric_operators():
    A = poisson2d(5)
    n = A.shape[0]
    for P in (Jacobi(A), SSOR(A, 1.3), IC0(A), Chebyshev(A, 2)):
        M = np.column_stack([P @ e for e in np.eye(n)])
        np.testing.assert_allclose(M, M.T, atol=1e-12)
        assert P.H is P
        np.testing.assert_allclose(P.rmatvec(np.arange(n, dtype=float)), P @ np.arange(n, dtype=float))
    assert "setup_time" in repr(IC0(A))


def test_input_normalisation_and_errors():
    with pytest.raises(ValueError, match="square"):
        Jacobi(np.ones((2, 3)))
    with pytest.raises(TypeError):
        IC0(LinearOperator((2, 2), matvec=lambda v: v))
    P = IC0(poisson2d(4), dtype="float32")
    assert P.dtype == np.float32 and P.L.dtype == np.float32
    P = Jacobi([[2, 0], [0, 4]])  # integer input: float64
    assert P.dtype == np.float64
    assert P.matmat(np.ones((2, 3))).shape == (2, 3)
