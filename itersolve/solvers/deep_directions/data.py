"""Training vectors for DCDM: Ritz vectors from Lanczos, mixed with weight on the low end of the spectrum.

For each training system, ``m`` Lanczos steps (full reorthogonalisation,
float64, started from a seeded random vector with its null-space part
removed) give Ritz pairs ``(θⱼ, vⱼ)``; pairs with ``θⱼ ≤ drop_tol·θ_max``
(null-space modes) are dropped. A training vector is
``b = Σⱼ cⱼ vⱼ / ‖·‖`` with ``cⱼ ~ N(0, 1)`` times ``low_weight`` on the
lowest ``low_fraction`` of the Ritz values: residuals late in a solve are
dominated by smooth, low-frequency error, which is what the network must
invert well (Kaneda et al. weight the low end the same way).
:class:`RitzData` holds the Ritz vectors of several obstacle layouts and
draws batches from them on the fly (no large dataset in memory).

Examples
--------
>>> from itersolve.pdes.fluids.pressure import pressure_system
>>> from itersolve.pdes.fluids.obstacles import random_obstacles
>>> from itersolve.solvers.deep_directions.data import ritz_vectors
>>> system = pressure_system(random_obstacles((12, 12), seed=0), open_faces=())
>>> theta, V = ritz_vectors(system.A, 30, seed=0, nullspace=system.nullspace)
>>> V.shape[1] == theta.size, bool(theta.min() > 1e-6), bool(abs(V[:, 0].sum()) < 1e-8)
(True, True, True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ...pdes.fluids.obstacles import random_obstacles
from ...pdes.fluids.pressure import PressureSystem, pressure_system

__all__ = ["lanczos", "ritz_vectors", "mix", "RitzData", "seed_for", "training_geometry"]

#: Seed offsets of the disjoint splits: training layouts, validation layouts, benchmark layouts, examples.
_SPLITS = {"train": 10_000, "val": 20_000, "bench": 30_000, "example": 40_000}


def seed_for(split: str, i: int) -> int:
    """Seed of layout/right-hand side ``i`` of ``split`` ("train", "val", "bench", "example"): disjoint splits.

    Examples
    --------
    >>> seed_for("train", 3), seed_for("bench", 3)
    (10003, 30003)
    """
    return _SPLITS[split] + int(i)


def training_geometry(dim: int, grid: int, seed: int) -> PressureSystem:
    """A pressure system on a ``grid**dim`` box with 0–6 random obstacles, open top.

    Examples
    --------
    >>> training_geometry(2, 16, seed=1).shape
    (16, 16)
    """
    rng = np.random.default_rng(seed)
    solid = random_obstacles((grid,) * dim, count=int(rng.integers(0, 7)), seed=seed)
    return pressure_system(solid)


def lanczos(A: sp.spmatrix, m: int, *, seed: int = 0, nullspace: np.ndarray | None = None
            ) -> tuple[np.ndarray, np.ndarray]:
    """``m`` Lanczos steps with full reorthogonalisation: the basis ``Q`` (n × k) and tridiagonal ``T`` (k × k).

    Stops early (k < m) on an invariant subspace.
    """
    n = A.shape[0]
    m = min(int(m), n)
    A = A.astype(np.float64)
    rng = np.random.default_rng(seed)

    def clean(v: np.ndarray) -> np.ndarray:
        return v if nullspace is None else v - nullspace @ (nullspace.T @ v)

    q = clean(rng.standard_normal(n))
    Q = np.zeros((n, m))
    alpha, beta = np.zeros(m), np.zeros(m)
    Q[:, 0] = q / np.linalg.norm(q)
    k = m
    for j in range(m):
        w = clean(A @ Q[:, j])
        alpha[j] = Q[:, j] @ w
        w -= Q[:, : j + 1] @ (Q[:, : j + 1].T @ w)
        w -= Q[:, : j + 1] @ (Q[:, : j + 1].T @ w)  # twice is enough
        beta[j] = np.linalg.norm(w)
        if j + 1 == m:
            break
        if beta[j] <= 1e-10 * max(abs(alpha[j]), 1.0):
            k = j + 1
            break
        Q[:, j + 1] = w / beta[j]
    T = np.diag(alpha[:k]) + np.diag(beta[: k - 1], 1) + np.diag(beta[: k - 1], -1)
    return Q[:, :k], T


def ritz_vectors(A: sp.spmatrix, m: int, *, seed: int = 0, nullspace: np.ndarray | None = None,
                 drop_tol: float = 1e-8) -> tuple[np.ndarray, np.ndarray]:
    """Ritz values (ascending) and unit Ritz vectors ``(n, k)`` of ``A`` from ``m`` Lanczos steps.

    Ritz values at most ``drop_tol·θ_max`` (null-space modes) are dropped.
    """
    Q, T = lanczos(A, m, seed=seed, nullspace=nullspace)
    theta, S = np.linalg.eigh(T)
    keep = theta > drop_tol * theta.max()
    V = Q @ S[:, keep]
    return theta[keep], V / np.linalg.norm(V, axis=0)


def mix(V: np.ndarray, count: int, rng: np.random.Generator, *, low_weight: float = 9.0,
        low_fraction: float = 0.5) -> np.ndarray:
    """``count`` unit vectors ``(count, n)``: random combinations of the columns of ``V`` (Ritz order).

    Examples
    --------
    >>> V = np.eye(4)
    >>> B = mix(V, 3, np.random.default_rng(0))
    >>> B.shape, np.allclose(np.linalg.norm(B, axis=1), 1.0)
    ((3, 4), True)
    """
    k = V.shape[1]
    weights = np.ones(k)
    weights[: max(1, int(round(low_fraction * k)))] = low_weight
    C = rng.standard_normal((count, k)) * weights
    B = C @ V.T
    return B / np.linalg.norm(B, axis=1, keepdims=True)


@dataclass
class RitzData:
    """Ritz vectors of several systems; :meth:`batch` draws training vectors from one of them.

    Attributes
    ----------
    systems : list of PressureSystem
    ritz : list of ndarray, each (n_i, k_i), float32
    """

    systems: list
    ritz: list

    @classmethod
    def build(cls, systems: list[PressureSystem], m: int, seed: int = 0, progress: bool = False) -> "RitzData":
        """Run :func:`ritz_vectors` (``m`` steps) on every system."""
        items = systems
        if progress:
            from tqdm.auto import tqdm

            items = tqdm(systems, desc="Lanczos", leave=False)
        ritz = [ritz_vectors(s.A, m, seed=seed + i, nullspace=s.nullspace)[1].astype(np.float32)
                for i, s in enumerate(items)]
        return cls(systems=list(systems), ritz=ritz)

    def batch(self, index: int, count: int, rng: np.random.Generator) -> np.ndarray:
        """``count`` unit training vectors of system ``index``, float32 ``(count, n)``."""
        return mix(self.ritz[index], count, rng).astype(np.float32)
