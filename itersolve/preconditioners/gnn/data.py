"""Training and test systems for the GNN preconditioners, from :mod:`itersolve.pdes`.

Families
--------
``diffusion2d``
    ``-∇·(k∇u)`` on an ``grid x grid`` finite-volume grid with
    ``k = exp(GRF)``, a Gaussian random field of variance ``σ²`` and
    correlation length ``length`` (:func:`itersolve.pdes.random_field`).
``anisotropic2d``
    rotated anisotropic diffusion (:func:`itersolve.pdes.anisotropic`) with
    ``epsilon = 10**u``, ``u`` uniform in ``[-3, -1]``, and a uniform angle; the
    variance is ignored.
``fem`` and ``fem:NAME``
    pyamg's stored SPD finite-element matrices (:func:`itersolve.pdes.fem_example`):
    ``fem:NAME`` is the example ``NAME``; ``fem`` cycles over the training
    examples :data:`FEM_TRAIN` by seed (system seed ``s`` is
    ``FEM_TRAIN[s % len(FEM_TRAIN)]``), so that the other SPD examples
    (:data:`FEM_HELD_OUT`) stay unseen. Grid and variance are ignored: these
    matrices are fixed, and a "system" is one of them with fresh random
    right-hand sides.

Seeds: system ``i`` of a split is drawn from ``seed_for(split, i, base)``:
training systems use ``base * 10**6 + i``, validation ``base * 10**6 + 500000 + i``
and benchmarks (:mod:`itersolve.bench.gnn`) ``10**9 + i`` -- so held-out test
systems never coincide with training ones.

Examples
--------
>>> from itersolve.preconditioners.gnn.data import make_matrix, seed_for
>>> A = make_matrix("diffusion2d", 16, 0.7, seed_for("train", 3))
>>> A.shape
(256, 256)
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from ...pdes import anisotropic, diffusion, fem_example, random_field

__all__ = ["FAMILIES", "FEM_TRAIN", "FEM_HELD_OUT", "VARIANCES", "make_matrix", "seed_for"]

#: Problem families :func:`make_matrix` knows (plus ``fem:NAME`` for one FEM example).
FAMILIES = ("diffusion2d", "anisotropic2d", "fem")
#: The SPD FEM examples the ``fem`` family trains on, and those kept for testing only.
FEM_TRAIN = ("airfoil", "bar", "local_disc_galerkin_diffusion")
FEM_HELD_OUT = ("knot", "unit_cube")
#: The variances of ``log k`` the issue asks for.
VARIANCES = (0.1, 0.5, 0.7, 1.1)

_SPLIT_OFFSET = {"train": 0, "val": 500_000}


def seed_for(split: str, i: int, base: int = 0) -> int:
    """The seed of system ``i`` of ``split`` ("train", "val" or "test").

    Examples
    --------
    >>> seed_for("train", 0), seed_for("val", 0), seed_for("test", 0)
    (0, 500000, 1000000000)
    """
    if split == "test":
        return 10**9 + int(i)
    if split not in _SPLIT_OFFSET:
        raise ValueError(f"split must be 'train', 'val' or 'test', got {split!r}")
    return int(base) * 10**6 + _SPLIT_OFFSET[split] + int(i)


def make_matrix(family: str, grid: int, variance: float, seed: int, *, length: float = 0.1) -> sp.csr_matrix:
    """One SPD matrix of ``family`` on a ``grid x grid`` grid (float64 CSR).

    Examples
    --------
    >>> make_matrix("fem", 0, 0.0, 4).shape, make_matrix("fem:knot", 0, 0.0, 0).shape   # bar, knot
    ((600, 600), (239, 239))
    """
    if family == "diffusion2d":
        return diffusion(random_field((grid, grid), variance=variance, length=length, seed=seed))
    if family == "anisotropic2d":
        rng = np.random.default_rng(seed)
        eps = 10.0 ** rng.uniform(-3.0, -1.0)
        return anisotropic((grid, grid), epsilon=eps, theta=rng.uniform(0.0, math.pi))
    if family == "fem":
        return fem_example(FEM_TRAIN[int(seed) % len(FEM_TRAIN)])
    if family.startswith("fem:") and family[4:] in FEM_TRAIN + FEM_HELD_OUT:
        return fem_example(family[4:])
    raise ValueError(f"unknown family {family!r}; known: {list(FAMILIES)} and "
                     f"{['fem:' + n for n in FEM_TRAIN + FEM_HELD_OUT]}")
