"""Matrices of elliptic problems on regular grids.

All grids are ordered in C order (the last axis varies fastest), as
``numpy.ravel`` and ``pyamg.gallery`` do, and every matrix is returned as
canonical CSR through :func:`itersolve.sparse.as_csr`.

Examples
--------
>>> from itersolve.pdes import poisson
>>> poisson(3).toarray()
array([[ 2., -1.,  0.],
       [-1.,  2., -1.],
       [ 0., -1.,  2.]])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
import scipy.sparse as sp

from itersolve.sparse import as_csr

__all__ = ["poisson", "diffusion", "anisotropic", "elasticity"]


def _shape(shape: int | Sequence[int], ndims: tuple[int, ...] = (1, 2, 3), name: str = "shape") -> tuple[int, ...]:
    """Validate a grid shape: a positive int or a tuple of positive ints."""
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (int(shape),)
    try:
        out = tuple(shape)
    except TypeError:
        raise TypeError(f"{name} must be an int or a tuple of ints, got {type(shape).__name__}") from None
    for s in out:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)):
            raise TypeError(f"{name} must hold integers, got {out!r}")
        if s < 1:
            raise ValueError(f"{name} must hold positive sizes, got {out!r}")
    if len(out) not in ndims:
        raise ValueError(f"{name} must have {' or '.join(map(str, ndims))} dimensions, got {out!r}")
    return tuple(int(s) for s in out)


def _spacing(h: float | Sequence[float] | None, ndim: int) -> tuple[float, ...] | None:
    """Grid spacing per axis, or ``None`` for the unscaled stencil."""
    if h is None:
        return None
    hs = (h,) * ndim if np.isscalar(h) else tuple(h)
    if len(hs) != ndim:
        raise ValueError(f"h must be a number or one number per axis ({ndim}), got {h!r}")
    hs = tuple(float(v) for v in hs)
    if not all(math.isfinite(v) and v > 0 for v in hs):
        raise ValueError(f"h must be finite and positive, got {h!r}")
    return hs


def poisson(
    shape: int | Sequence[int],
    *,
    dtype: np.dtype | type = np.float64,
    h: float | Sequence[float] | None = None,
) -> sp.csr_matrix:
    """Dirichlet Laplacian (-Δ) with the 3-, 5- or 7-point stencil.

    The unknowns are the interior points of a 1-D, 2-D or 3-D grid with
    ``shape`` points per axis; the boundary values are zero and eliminated.
    Without ``h`` the stencil is the unscaled integer one (``2 d`` on the
    diagonal, ``-1`` to each neighbour), exactly ``pyamg.gallery.poisson``.
    With ``h`` every axis ``i`` is scaled by ``1 / h_i**2``.

    Parameters
    ----------
    shape : int or tuple of int
        Interior points per axis, 1 to 3 axes.
    dtype : dtype
        float32 or float64.
    h : float or tuple of float, optional
        Grid spacing (one for all axes, or one per axis).

    Returns
    -------
    scipy.sparse.csr_matrix
        The SPD matrix of size ``prod(shape)``, C-ordered unknowns.

    Examples
    --------
    >>> A = poisson((2, 3))
    >>> A.shape, float(A.diagonal()[0])
    ((6, 6), 4.0)
    >>> poisson(3, h=0.5, dtype="float32").diagonal()
    array([8., 8., 8.], dtype=float32)
    """
    shape = _shape(shape)
    hs = _spacing(h, len(shape))
    A = None
    for axis, n in enumerate(shape):
        T = sp.diags([-np.ones(n - 1), 2.0 * np.ones(n), -np.ones(n - 1)], [-1, 0, 1], format="csr")
        if hs is not None:
            T = T * (1.0 / hs[axis] ** 2)
        before = math.prod(shape[:axis])
        after = math.prod(shape[axis + 1 :])
        term = sp.kron(sp.kron(sp.identity(before, format="csr"), T), sp.identity(after, format="csr"), format="csr")
        A = term if A is None else A + term
    return as_csr(A, dtype=dtype)


def diffusion(
    k: np.ndarray,
    *,
    h: float | Sequence[float] | None = None,
    dtype: np.dtype | type | None = None,
) -> sp.csr_matrix:
    """Variable-coefficient diffusion -∇·(k ∇u) by finite volumes.

    One unknown per entry of ``k`` (1-D, 2-D or 3-D, C order). The flux
    between neighbouring cells ``i`` and ``j`` uses the harmonic mean
    ``2 k_i k_j / (k_i + k_j)`` of the coefficient; outside the grid the
    solution is zero (homogeneous Dirichlet), placed one spacing beyond the
    last cell with the boundary face taking the coefficient of the cell
    itself. Hence ``diffusion(np.ones(shape))`` equals ``poisson(shape)``
    exactly, with or without ``h``. The matrix is symmetric, weakly
    diagonally dominant and irreducible: SPD.

    Parameters
    ----------
    k : ndarray
        Positive, finite coefficient per cell (e.g. from :func:`random_field`).
    h : float or tuple of float, optional
        Grid spacing; without it the stencil is unscaled, like :func:`poisson`.
    dtype : dtype, optional
        float32 or float64; by default float32 for a float32 ``k``, else float64.

    Returns
    -------
    scipy.sparse.csr_matrix
        The SPD matrix of size ``k.size``.

    Examples
    --------
    >>> import numpy as np
    >>> A = diffusion(np.array([[1.0, 3.0], [1.0, 1.0]]))
    >>> A.toarray()
    array([[ 4.5, -1.5, -1. ,  0. ],
           [-1.5,  9. ,  0. , -1.5],
           [-1. ,  0. ,  4. , -1. ],
           [ 0. , -1.5, -1. ,  4.5]])
    >>> bool((diffusion(np.ones((3, 4))) != poisson((3, 4))).nnz == 0)
    True
    """
    karr = np.asarray(k)
    if karr.dtype == object or karr.dtype.kind not in "iuf":
        raise TypeError(f"k must be a real array, got dtype {karr.dtype}")
    if dtype is None:
        dtype = np.float32 if karr.dtype == np.float32 else np.float64
    shape = _shape(karr.shape, name="k.shape")
    karr = np.asarray(karr, dtype=np.float64)
    if not np.isfinite(karr).all() or not (karr > 0).all():
        raise ValueError("k must be finite and positive everywhere")
    ndim = len(shape)
    hs = _spacing(h, ndim) or (1.0,) * ndim
    idx = np.arange(karr.size).reshape(shape)
    diag = np.zeros(shape)
    rows, cols, vals = [], [], []
    for d in range(ndim):
        w = 1.0 / hs[d] ** 2
        lo = [slice(None)] * ndim
        hi = [slice(None)] * ndim
        lo[d], hi[d] = slice(0, -1), slice(1, None)
        lo, hi = tuple(lo), tuple(hi)
        kf = (2.0 * w) / (1.0 / karr[lo] + 1.0 / karr[hi])  # harmonic mean on interior faces
        diag[lo] += kf
        diag[hi] += kf
        rows += [idx[lo].ravel(), idx[hi].ravel()]
        cols += [idx[hi].ravel(), idx[lo].ravel()]
        vals += [-kf.ravel(), -kf.ravel()]
        first = [slice(None)] * ndim
        last = [slice(None)] * ndim
        first[d], last[d] = slice(0, 1), slice(-1, None)
        diag[tuple(first)] += w * karr[tuple(first)]  # boundary faces
        diag[tuple(last)] += w * karr[tuple(last)]
    rows.append(idx.ravel())
    cols.append(idx.ravel())
    vals.append(diag.ravel())
    n = karr.size
    A = sp.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
    return as_csr(A.tocsr(), dtype=dtype)


def anisotropic(
    shape: int | Sequence[int],
    epsilon: float = 0.001,
    theta: float = 0.0,
    *,
    kind: Literal["FE", "FD"] = "FE",
    dtype: np.dtype | type = np.float64,
) -> sp.csr_matrix:
    """Rotated anisotropic diffusion -∇·(Q diag(1, ε) Qᵀ ∇u) on a 2-D grid.

    ``Q`` rotates by ``theta``; the stencil is
    ``pyamg.gallery.diffusion_stencil_2d(epsilon, theta, kind)`` (Q1 finite
    elements or second-order finite differences) laid on the grid with
    homogeneous Dirichlet boundaries by ``pyamg.gallery.stencil_grid``.
    Small ``epsilon`` with ``theta`` off the axes is the classical hard case
    for pointwise smoothers.

    Parameters
    ----------
    shape : tuple of two int
        Interior grid points per axis.
    epsilon : float
        Strength of the weak direction, ``0 < epsilon``.
    theta : float
        Rotation angle in radians.
    kind : {"FE", "FD"}
        Discretisation.
    dtype : dtype
        float32 or float64.

    Returns
    -------
    scipy.sparse.csr_matrix
        An SPD matrix of size ``prod(shape)``.

    Examples
    --------
    >>> import numpy as np
    >>> A = anisotropic((8, 8), epsilon=0.01, theta=np.pi / 8)
    >>> A.shape, bool(abs(A - A.T).max() == 0)
    ((64, 64), True)
    """
    from pyamg.gallery import diffusion_stencil_2d, stencil_grid

    shape = _shape(shape, ndims=(2,))
    if not (math.isfinite(epsilon) and epsilon > 0):
        raise ValueError(f"epsilon must be finite and positive, got {epsilon!r}")
    if not math.isfinite(theta):
        raise ValueError(f"theta must be finite, got {theta!r}")
    if kind not in ("FE", "FD"):
        raise ValueError(f"kind must be 'FE' or 'FD', got {kind!r}")
    stencil = diffusion_stencil_2d(epsilon=float(epsilon), theta=float(theta), type=kind)
    A = stencil_grid(stencil, shape, format="csr")
    A = sp.csr_matrix(A)
    A.eliminate_zeros()
    return as_csr(A, dtype=dtype)


def elasticity(
    shape: int | Sequence[int],
    *,
    E: float = 1e5,
    nu: float = 0.3,
    clamp: Literal["left", "all"] = "left",
    dtype: np.dtype | type = np.float64,
) -> sp.csr_matrix:
    """2-D linear elasticity (plane strain) with bilinear Q1 elements.

    Square unit elements on a regular grid; two unknowns per free node,
    interleaved ``(u_x, u_y)``, nodes in C order over ``shape = (nx, ny)``
    (``nx`` along x). The element stiffness is ``pyamg``'s Q1 one. The
    rigid-body modes are removed by clamping (zero displacement):

    - ``clamp="left"``: a cantilever, fixed on the edge ``x = 0`` only; the
      free nodes are the ``nx`` columns to its right, ``ny`` nodes each
      (``ny >= 2``). Harder for iterative solvers than the clamped box.
    - ``clamp="all"``: fixed on the whole boundary; ``nx × ny`` interior
      nodes. Same matrix as ``pyamg.gallery.linear_elasticity((nx, ny))``
      up to the ordering of the unknowns.

    Parameters
    ----------
    shape : tuple of two int
        Free nodes per axis.
    E : float
        Young's modulus, positive.
    nu : float
        Poisson's ratio, ``0 <= nu < 0.5``.
    clamp : {"left", "all"}
        Where the displacement is fixed.
    dtype : dtype
        float32 or float64.

    Returns
    -------
    scipy.sparse.csr_matrix
        The SPD stiffness matrix of size ``2 nx ny``.

    Examples
    --------
    >>> A = elasticity((4, 3))
    >>> A.shape, bool(abs(A - A.T).max() < 1e-9 * abs(A).max())
    ((24, 24), True)
    """
    from pyamg.gallery.elasticity import q12d_local

    nx, ny = _shape(shape, ndims=(2,))
    if not (math.isfinite(E) and E > 0):
        raise ValueError(f"E must be finite and positive, got {E!r}")
    if not (math.isfinite(nu) and 0 <= nu < 0.5):
        raise ValueError(f"nu must lie in [0, 0.5), got {nu!r}")
    if clamp == "left":
        if ny < 2:
            raise ValueError(f"clamp='left' needs at least 2 nodes along y, got shape {(nx, ny)}")
        mx, my = nx + 1, ny  # mesh nodes; column 0 is clamped
        free = np.ones((mx, my), dtype=bool)
        free[0, :] = False
    elif clamp == "all":
        mx, my = nx + 2, ny + 2
        free = np.zeros((mx, my), dtype=bool)
        free[1:-1, 1:-1] = True
    else:
        raise ValueError(f"clamp must be 'left' or 'all', got {clamp!r}")
    lame = E * nu / ((1 + nu) * (1 - 2 * nu))
    mu = E / (2 + 2 * nu)
    K = q12d_local(np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]), lame, mu)
    node = np.arange(mx * my).reshape(mx, my)
    # element corners counter-clockwise: (i, j), (i+1, j), (i+1, j+1), (i, j+1)
    corners = np.stack(
        [node[:-1, :-1].ravel(), node[1:, :-1].ravel(), node[1:, 1:].ravel(), node[:-1, 1:].ravel()], axis=1
    )
    dofs = np.empty((corners.shape[0], 8), dtype=np.int64)
    dofs[:, 0::2] = 2 * corners
    dofs[:, 1::2] = 2 * corners + 1
    rows = np.repeat(dofs, 8, axis=1).ravel()
    cols = np.tile(dofs, (1, 8)).ravel()
    vals = np.tile(K.ravel(), corners.shape[0])
    ndof = 2 * mx * my
    full = sp.coo_matrix((vals, (rows, cols)), shape=(ndof, ndof)).tocsr()
    keep = np.repeat(free.ravel(), 2)
    A = full[keep][:, keep]
    A.eliminate_zeros()
    return as_csr(A, dtype=dtype)
