"""Fast exact solves with ``alpha I + beta K``, ``K`` the Dirichlet Laplacian.

``K = poisson(shape, h=h)`` is diagonalised by the orthonormal type-I discrete
sine transform ``S`` (``S = S^T = S^{-1}``), ``K = S diag(lam) S``, so
``(alpha I + beta K) x = b`` costs two FFT-sized transforms. The sequences use
it for their reference solutions.

Examples
--------
>>> import numpy as np
>>> from itersolve.pdes.grids import poisson
>>> from itersolve.pdes._spectral import laplacian_eigenvalues, shifted_solve
>>> lam = laplacian_eigenvalues((4, 5))
>>> b = np.arange(20.0)
>>> x = shifted_solve(lam, b, 0.5, 1.0)
>>> bool(np.allclose((poisson((4, 5)) + 0.5 * np.eye(20)) @ x, b))
True
"""

from __future__ import annotations

import numpy as np

__all__ = ["laplacian_eigenvalues", "shifted_solve"]


def laplacian_eigenvalues(shape: tuple[int, ...], h: float | None = None) -> np.ndarray:
    """Eigenvalues of ``poisson(shape, h=h)`` laid out on the DST grid.

    Examples
    --------
    >>> laplacian_eigenvalues((3,)).round(4)
    array([0.5858, 2.    , 3.4142])
    """
    lam = np.zeros(shape)
    scale = 1.0 if h is None else 1.0 / h**2
    for axis, n in enumerate(shape):
        k = np.arange(1, n + 1)
        mu = 4.0 * np.sin(np.pi * k / (2.0 * (n + 1))) ** 2 * scale
        view = [1] * len(shape)
        view[axis] = n
        lam = lam + mu.reshape(view)
    return lam


def shifted_solve(lam: np.ndarray, b: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    """Solve ``(alpha I + beta K) x = b`` given ``lam = laplacian_eigenvalues(...)``.

    ``b`` is a flat C-ordered vector; the result is flat float64.

    Examples
    --------
    >>> lam = laplacian_eigenvalues((3,))
    >>> shifted_solve(lam, np.array([1.0, 0.0, 1.0]), 0.0, 1.0)
    array([1., 1., 1.])
    """
    import scipy.fft as sfft  # imported here: it costs 0.15 s at import time

    B = sfft.dstn(np.asarray(b, dtype=np.float64).reshape(lam.shape), type=1, norm="ortho")
    B /= alpha + beta * lam
    return sfft.idstn(B, type=1, norm="ortho").ravel()
