"""The pressure-Poisson system of incompressible flow on a MAC grid with solid obstacles.

A projection step ``u ← u − ∇p`` makes a velocity field divergence-free when
``−Δp = −∇·u`` in the fluid, with ``∂p/∂n = 0`` on solid walls and obstacles
(no flux through them) and ``p = 0`` on open domain faces. On a MAC grid
(pressure at cell centres, velocity components on the faces normal to them)
with spacing ``h`` this is, multiplied by ``h²``, the matrix :math:`A` with

- one unknown per *fluid* cell (solid cells carry none);
- ``A[i, i]`` = number of faces of cell ``i`` that are shared with a fluid
  neighbour or lie on an *open* domain face (the ghost pressure there is 0);
- ``A[i, j] = −1`` for face-neighbouring fluid cells ``i, j``;

and the right-hand side ``b = −h · (net outflow of u through the cell's faces)``,
i.e. ``−h²·div u``. Faces touching a solid cell or a closed domain face carry
zero normal velocity, so a velocity field never pushes fluid into walls.

:math:`A` is symmetric, weakly diagonally dominant and an M-matrix. Every
face-connected fluid region that touches an open face makes its block
positive definite; a region that touches none (a closed box) has the
constant on that region as null vector. :class:`PressureSystem` holds these
vectors (orthonormal columns of ``nullspace``, or ``None`` when A is SPD);
divergences of admissible velocities are orthogonal to them automatically
(the outflow of a closed region telescopes to zero), and
:meth:`PressureSystem.project` removes what rounding leaves. CG-type methods
then converge to a solution (the one with the component of ``x0`` in the
null space).

The unknowns are the fluid cells in C order (last axis fastest);
:meth:`PressureSystem.to_vector` and :meth:`PressureSystem.to_grid` map
between grid arrays and vectors.

Faces are named ``"x-"``, ``"x+"``, ``"y-"``, ``"y+"`` (and ``"z-"``,
``"z+"``) after the axis (first, second, third) and side; ``"top"`` is the
high side of the last axis, ``"bottom"`` its low side.

Examples
--------
>>> from itersolve.pdes.fluids.obstacles import ball
>>> from itersolve.pdes.fluids.pressure import pressure_system, random_rhs
>>> system = pressure_system(ball((16, 16), (0.5, 0.4), 0.2))       # open top by default
>>> system.A.shape[0] == int(system.fluid.sum()), system.nullspace is None
(True, True)
>>> b = random_rhs(system, seed=0)
>>> grid = system.to_grid(b)                                        # zeros inside the obstacle
>>> grid.shape, bool(np.allclose(system.to_vector(grid), b))
((16, 16), True)
>>> closed = pressure_system(ball((16, 16), (0.5, 0.4), 0.2), open_faces=())
>>> closed.nullspace.shape, bool(abs(closed.nullspace[:, 0] @ random_rhs(closed, seed=0)) < 1e-10)
((224, 1), True)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy import ndimage

from ...sparse import as_csr

__all__ = ["PressureSystem", "pressure_system", "face_names", "random_velocity", "divergence_rhs", "random_rhs"]


def face_names(ndim: int) -> tuple[str, ...]:
    """Names of the domain faces of a ``ndim``-D grid.

    Examples
    --------
    >>> face_names(2)
    ('x-', 'x+', 'y-', 'y+')
    """
    return tuple(f"{a}{s}" for a in "xyz"[:ndim] for s in "-+")


def _open_faces(open_faces: str | Sequence[str] | None, ndim: int) -> frozenset[tuple[int, int]]:
    """``(axis, side)`` pairs (side 0 = low, 1 = high) of the open faces."""
    if open_faces is None:
        return frozenset()
    if isinstance(open_faces, str):
        open_faces = (open_faces,)
    names = face_names(ndim)
    out = set()
    for name in open_faces:
        if name == "all":
            out.update((a, s) for a in range(ndim) for s in (0, 1))
            continue
        alias = {"top": f"{'xyz'[ndim - 1]}+", "bottom": f"{'xyz'[ndim - 1]}-"}.get(name, name)
        if alias not in names:
            raise ValueError(f"unknown face {name!r} for a {ndim}-D grid; use {names}, 'top', 'bottom' or 'all'")
        index = names.index(alias)
        out.add((index // 2, index % 2))
    return frozenset(out)


def _solid_mask(solid: np.ndarray) -> np.ndarray:
    arr = np.asarray(solid)
    if arr.dtype != bool:
        raise TypeError(f"solid must be a boolean array (True = solid cell), got dtype {arr.dtype}")
    if arr.ndim not in (2, 3):
        raise ValueError(f"solid must be a 2-D or 3-D mask, got shape {arr.shape}")
    if arr.all():
        raise ValueError("solid covers every cell: there is no fluid to solve for")
    return arr


@dataclass(frozen=True)
class PressureSystem:
    """A pressure-Poisson system on a MAC grid: the matrix and its grid ↔ vector mapping.

    Attributes
    ----------
    A : scipy.sparse.csr_matrix
        The ``n × n`` matrix, ``n`` = number of fluid cells (``h²``-scaled, integer entries).
    fluid : ndarray of bool
        Grid mask, ``True`` on the cells that carry an unknown.
    open_faces : frozenset of (axis, side)
        The Dirichlet faces of the domain (side 0 low, 1 high).
    nullspace : ndarray, shape (n, k), or None
        Orthonormal basis of the null space of ``A`` (indicators of the fluid
        regions that touch no open face, normalised); ``None`` when ``A`` is SPD.
    index : ndarray of int
        Grid of unknown numbers, ``-1`` on solid cells.
    """

    A: sp.csr_matrix
    fluid: np.ndarray
    open_faces: frozenset
    nullspace: np.ndarray | None
    index: np.ndarray = field(repr=False)

    @property
    def shape(self) -> tuple[int, ...]:
        """The grid shape."""
        return self.fluid.shape

    @property
    def ndim(self) -> int:
        """2 or 3."""
        return self.fluid.ndim

    @property
    def n(self) -> int:
        """Number of unknowns (fluid cells)."""
        return self.A.shape[0]

    def to_vector(self, grid: np.ndarray) -> np.ndarray:
        """The fluid cells of a grid array (shape :attr:`shape`, or with leading batch axes) as vectors."""
        grid = np.asarray(grid)
        if grid.shape[grid.ndim - self.ndim:] != self.shape:
            raise ValueError(f"grid array has shape {grid.shape}, its last axes must be {self.shape}")
        return grid[..., self.fluid]

    def to_grid(self, vector: np.ndarray, fill: float = 0.0) -> np.ndarray:
        """A vector (or a batch ``(..., n)``) on the grid, ``fill`` on solid cells."""
        vector = np.asarray(vector)
        if vector.shape[-1:] != (self.n,):
            raise ValueError(f"vector has shape {vector.shape}, its last axis must have length {self.n}")
        out = np.full(vector.shape[:-1] + self.shape, fill, dtype=np.result_type(vector.dtype, np.float32))
        out[..., self.fluid] = vector
        return out

    def project(self, b: np.ndarray) -> np.ndarray:
        """``b`` with its null-space components removed (a copy; ``b`` itself when A is SPD)."""
        b = np.asarray(b)
        if self.nullspace is None:
            return b
        N = self.nullspace.astype(b.dtype, copy=False)
        return b - N @ (N.T @ b)


def pressure_system(
    solid: np.ndarray,
    *,
    open_faces: str | Sequence[str] | None = ("top",),
    dtype: np.dtype | type = np.float64,
) -> PressureSystem:
    """Assemble the pressure-Poisson matrix for a grid with solid cells ``solid``.

    Parameters
    ----------
    solid : ndarray of bool, shape (nx, ny) or (nx, ny, nz)
        ``True`` on solid cells (see :mod:`~itersolve.pdes.fluids.obstacles`).
    open_faces : str or sequence of str, optional
        Domain faces where the pressure is 0 (Dirichlet): names from
        :func:`face_names`, ``"top"``, ``"bottom"`` or ``"all"``. All other
        domain faces are closed walls (Neumann). Default: the top is open.
        ``()`` or ``None`` closes the box (pure Neumann: ``nullspace`` is set).
    dtype : float32 or float64

    Returns
    -------
    PressureSystem

    Examples
    --------
    >>> import numpy as np
    >>> s = pressure_system(np.zeros((2, 2), dtype=bool), open_faces="x+")
    >>> s.A.toarray()
    array([[ 2., -1., -1.,  0.],
           [-1.,  2.,  0., -1.],
           [-1.,  0.,  3., -1.],
           [ 0., -1., -1.,  3.]])
    """
    solid = _solid_mask(solid)
    ndim = solid.ndim
    open_set = _open_faces(open_faces, ndim)
    fluid = ~solid
    n = int(fluid.sum())
    index = np.full(solid.shape, -1, dtype=np.int64)
    index[fluid] = np.arange(n)
    rows, cols = [], []
    diag = np.zeros(n, dtype=np.float64)
    for axis in range(ndim):
        lo = [slice(None)] * ndim
        hi = [slice(None)] * ndim
        lo[axis], hi[axis] = slice(None, -1), slice(1, None)
        both = fluid[tuple(lo)] & fluid[tuple(hi)]
        i, j = index[tuple(lo)][both], index[tuple(hi)][both]
        rows += [i, j]
        cols += [j, i]
        np.add.at(diag, i, 1.0)
        np.add.at(diag, j, 1.0)
        for side in (0, 1):
            if (axis, side) in open_set:
                edge = np.take(index, 0 if side == 0 else -1, axis=axis)
                np.add.at(diag, edge[edge >= 0], 1.0)
    r = np.concatenate(rows + [np.arange(n)])
    c = np.concatenate(cols + [np.arange(n)])
    v = np.concatenate([-np.ones(sum(len(x) for x in rows)), diag])
    A = as_csr(sp.coo_matrix((v, (r, c)), shape=(n, n)), dtype=dtype)
    return PressureSystem(A=A, fluid=fluid, open_faces=open_set, nullspace=_nullspace(fluid, index, open_set),
                          index=index)


def _nullspace(fluid: np.ndarray, index: np.ndarray, open_set: frozenset) -> np.ndarray | None:
    """Normalised indicators of the fluid regions that touch no open face."""
    labels, count = ndimage.label(fluid)
    touching = set()
    for axis, side in open_set:
        touching.update(np.unique(np.take(labels, 0 if side == 0 else -1, axis=axis)).tolist())
    closed = [k for k in range(1, count + 1) if k not in touching]
    if not closed:
        return None
    N = np.zeros((int(fluid.sum()), len(closed)))
    for col, k in enumerate(closed):
        cells = index[labels == k]
        N[cells, col] = 1.0 / np.sqrt(cells.size)
    return N


def random_velocity(shape: Sequence[int], *, seed: int | None = 0, length: float = 0.1) -> list[np.ndarray]:
    """A smooth random velocity field on the faces of a MAC grid.

    Component ``a`` lives on the faces normal to axis ``a`` (shape ``shape``
    with one more entry along ``a``): Gaussian white noise smoothed by a
    Gaussian filter of width ``length`` (unit-cube units), scaled to unit RMS.

    Examples
    --------
    >>> u, v = random_velocity((8, 6), seed=1)
    >>> u.shape, v.shape
    ((9, 6), (8, 7))
    """
    shape = tuple(int(s) for s in shape)
    rng = np.random.default_rng(seed)
    out = []
    for axis in range(len(shape)):
        face_shape = tuple(s + (a == axis) for a, s in enumerate(shape))
        noise = rng.standard_normal(face_shape)
        sigma = [max(length * s, 0.5) for s in shape]
        field_ = ndimage.gaussian_filter(noise, sigma=sigma, mode="wrap")
        out.append(field_ / max(float(np.sqrt(np.mean(field_**2))), 1e-300))
    return out


def divergence_rhs(system: PressureSystem, velocity: Sequence[np.ndarray]) -> np.ndarray:
    """``b = −h · (net outflow of u)`` on the fluid cells, for face velocities ``velocity``.

    Normal velocities on faces that touch a solid cell or a closed domain face
    are taken as zero (walls are at rest); ``h = 1 / max(shape)``. The result
    is projected onto the range of ``A`` (:meth:`PressureSystem.project`).

    Examples
    --------
    >>> import numpy as np
    >>> s = pressure_system(np.zeros((3, 3), dtype=bool), open_faces="all")
    >>> u = [np.ones((4, 3)), np.zeros((3, 4))]          # uniform flow along x: no divergence
    >>> bool(np.allclose(divergence_rhs(s, u), 0.0))
    True
    """
    shape, ndim = system.shape, system.ndim
    if len(velocity) != ndim:
        raise ValueError(f"velocity must have {ndim} components for a {ndim}-D grid, got {len(velocity)}")
    h = 1.0 / max(shape)
    solid_pad = np.pad(~system.fluid, 1, constant_values=False)
    outflow = np.zeros(shape)
    for axis, comp in enumerate(velocity):
        comp = np.array(comp, dtype=np.float64)
        want = tuple(s + (a == axis) for a, s in enumerate(shape))
        if comp.shape != want:
            raise ValueError(f"velocity component {axis} must have shape {want}, got {comp.shape}")
        # a face is blocked when a cell on either side is solid
        lo = [slice(1, -1)] * ndim
        hi = [slice(1, -1)] * ndim
        lo[axis], hi[axis] = slice(0, -1), slice(1, None)
        comp[solid_pad[tuple(lo)] | solid_pad[tuple(hi)]] = 0.0
        for side in (0, 1):
            if (axis, side) not in system.open_faces:
                sl = [slice(None)] * ndim
                sl[axis] = 0 if side == 0 else -1
                comp[tuple(sl)] = 0.0
        outflow += np.diff(comp, axis=axis)
    b = (-h * outflow[system.fluid]).astype(system.A.dtype)
    return system.project(b)


def random_rhs(system: PressureSystem, *, seed: int | None = 0, length: float = 0.1) -> np.ndarray:
    """:func:`divergence_rhs` of :func:`random_velocity` (the benchmark's right-hand sides).

    Examples
    --------
    >>> import numpy as np
    >>> s = pressure_system(np.zeros((8, 8), dtype=bool))
    >>> random_rhs(s, seed=2).shape
    (64,)
    """
    return divergence_rhs(system, random_velocity(system.shape, seed=seed, length=length))
