"""Problem generators: PDE matrices, random coefficients, FEM examples, sequences.

Everything here is NumPy/SciPy (plus ``pyamg.gallery`` for a few stencils and
stored examples); every matrix is canonical CSR from :func:`itersolve.sparse.as_csr`.

- grids: :func:`poisson`, :func:`diffusion`, :func:`anisotropic`, :func:`elasticity`
- coefficients: :func:`random_field`
- files: :func:`fem_example` (:data:`FEM_EXAMPLES`), :func:`load_matrix_market`
- sequences for parameter tuning (Khodak et al., ICLR 2024):
  :func:`shifted_laplacian_sequence`, :func:`heat_sequence`
- incompressible flow on MAC grids: :mod:`itersolve.pdes.fluids` (pressure Poisson with
  obstacles, Navier–Stokes operators and a reference solver) and :mod:`itersolve.pdes.stagger`
  (NeuralStagger networks, the ``jax`` extra); both are imported on request
  (``import itersolve.pdes.fluids``), so that ``import itersolve`` stays light
- the record they return: :class:`LinearSystem`

Examples
--------
>>> from itersolve.pdes import diffusion, random_field
>>> A = diffusion(random_field((32, 32), variance=2.0, length=0.1, seed=0))
>>> A.shape, A.format
((1024, 1024), 'csr')
"""

from .fem import FEM_EXAMPLES, fem_example, load_matrix_market
from .fields import random_field
from .grids import anisotropic, diffusion, elasticity, poisson
from .heat import HeatSequence, HeatSimulation, heat_sequence, paper_kappa
from .sequences import ShiftedLaplacianSequence, shifted_laplacian_sequence
from .system import LinearSystem

__all__ = [
    "FEM_EXAMPLES",
    "HeatSequence",
    "HeatSimulation",
    "LinearSystem",
    "ShiftedLaplacianSequence",
    "anisotropic",
    "diffusion",
    "elasticity",
    "fem_example",
    "heat_sequence",
    "load_matrix_market",
    "paper_kappa",
    "poisson",
    "random_field",
    "shifted_laplacian_sequence",
]
