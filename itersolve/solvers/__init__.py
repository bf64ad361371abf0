"""Iterative solvers; each returns a :class:`SolveResult`."""

from .cg import cg
from .chebyshev import chebyshev
from .dcdm import dcdm
from .fixed_point import fixed_point
from .front import solve
from .result import Reason, SolveResult
from .stationary import gauss_seidel, jacobi, sor, ssor

__all__ = [
    "cg",
    "chebyshev",
    "dcdm",
    "fixed_point",
    "gauss_seidel",
    "jacobi",
    "sor",
    "ssor",
    "solve",
    "Reason",
    "SolveResult",
]
