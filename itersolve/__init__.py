"""itersolve: learned iterative solvers for sparse linear systems and PDEs.

The public API, re-exported; nothing is defined here. Heavy frameworks
(torch, jax, numba-cuda) are imported only by the parts that need them.

Examples
--------
>>> import numpy as np, itersolve
>>> from itersolve.pdes import poisson
>>> A = poisson((50, 50))
>>> res = itersolve.solve(A, np.ones(2500), method="cg", M="ic0", rtol=1e-8)
>>> res.converged
True
"""

from . import pdes, preconditioners
from .solvers import (
    Reason,
    SolveResult,
    cg,
    chebyshev,
    dcdm,
    fixed_point,
    gauss_seidel,
    jacobi,
    solve,
    sor,
    ssor,
)

__version__ = "0.1.0"

__all__ = [
    "Reason",
    "SolveResult",
    "cg",
    "chebyshev",
    "dcdm",
    "fixed_point",
    "gauss_seidel",
    "jacobi",
    "pdes",
    "preconditioners",
    "solve",
    "sor",
    "ssor",
]
