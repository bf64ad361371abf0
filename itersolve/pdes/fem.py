"""Finite-element matrices from files: pyamg's examples and Matrix Market.

Examples
--------
>>> from itersolve.pdes import FEM_EXAMPLES, fem_example
>>> A = fem_example("airfoil")
>>> A.shape, FEM_EXAMPLES["airfoil"].startswith("SPD")
((260, 260), True)
"""

from __future__ import annotations

import os

import scipy.sparse as sp

from itersolve.sparse import as_csr

__all__ = ["FEM_EXAMPLES", "fem_example", "load_matrix_market"]

#: The real examples shipped with pyamg (``pyamg.gallery.load_example``),
#: name -> note. Each note starts with ``"SPD"``, ``"SPSD"`` (singular,
#: semidefinite) or ``"nonsymmetric"``. pyamg's complex ``helmholtz_2D`` is
#: left out: itersolve solves real systems only.
FEM_EXAMPLES: dict[str, str] = {
    "airfoil": "SPD; 260 unknowns, 2-D P1 Laplacian on an unstructured triangular mesh around an airfoil",
    "bar": "SPD; 600 unknowns, 3-D linear elasticity of a clamped bar, trilinear hexahedra (3 unknowns per node)",
    "knot": "SPD; 239 unknowns, P1 Laplacian on a triangulated knot-shaped surface in 3-D",
    "local_disc_galerkin_diffusion": (
        "SPD; 966 unknowns, 2-D local discontinuous Galerkin diffusion (symmetric only up to rounding, ~1e-14 relative)"
    ),
    "recirc_flow": "nonsymmetric; 225 unknowns, 2-D Q1 convection-diffusion with a recirculating flow",
    "unit_cube": "SPD; 125 unknowns, P1 matrix on a tetrahedral mesh of the unit cube (well conditioned)",
    "unit_square": "SPSD; 191 unknowns, 2-D P1 Laplacian with pure Neumann boundary (constants span the null space)",
}


def fem_example(name: str) -> sp.csr_matrix:
    """Matrix of one of pyamg's stored finite-element examples.

    Parameters
    ----------
    name : str
        One of the keys of :data:`FEM_EXAMPLES`.

    Returns
    -------
    scipy.sparse.csr_matrix
        The (square, float64) matrix ``A`` of ``pyamg.gallery.load_example(name)``.

    Raises
    ------
    ValueError
        For a name not in :data:`FEM_EXAMPLES`; the message lists the valid ones.

    Examples
    --------
    >>> fem_example("unit_cube").shape
    (125, 125)
    >>> fem_example("teapot")
    Traceback (most recent call last):
    ...
    ValueError: unknown FEM example 'teapot'; valid names: airfoil, bar, ...
    """
    if name not in FEM_EXAMPLES:
        raise ValueError(f"unknown FEM example {name!r}; valid names: {', '.join(FEM_EXAMPLES)}")
    from pyamg.gallery import load_example

    return as_csr(load_example(name)["A"], name=f"fem_example({name!r})")


def load_matrix_market(path: str | os.PathLike[str]) -> sp.csr_matrix:
    """Read a square real matrix from a Matrix Market file (``.mtx``, maybe gzipped).

    Parameters
    ----------
    path : str or path-like
        The file.

    Returns
    -------
    scipy.sparse.csr_matrix
        Canonical CSR with float64 values (integer and pattern files included).

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    ValueError, TypeError
        If the file cannot be parsed, or holds a non-square, complex or
        non-finite matrix.

    Examples
    --------
    >>> import os, tempfile, scipy.io, scipy.sparse as sp
    >>> d = tempfile.mkdtemp()
    >>> scipy.io.mmwrite(os.path.join(d, "a.mtx"), sp.eye(3, format="coo"))
    >>> load_matrix_market(os.path.join(d, "a.mtx")).nnz
    3
    >>> load_matrix_market(os.path.join(d, "missing.mtx"))
    Traceback (most recent call last):
    ...
    FileNotFoundError: Matrix Market file not found: .../missing.mtx
    """
    import scipy.io

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Matrix Market file not found: {path}")
    try:
        M = scipy.io.mmread(path)
    except Exception as exc:
        raise ValueError(f"could not read Matrix Market file {path}: {exc}") from exc
    return as_csr(M, name=os.path.basename(path))
