"""Preconditioners: objects that approximate ``A^-1``.

Every preconditioner is a :class:`Preconditioner`, which is a
``scipy.sparse.linalg.LinearOperator``: ``P.apply(r, out=None)`` is the fast
path, and ``P @ r`` / ``P.matvec(r)`` make it usable as ``M`` in scipy and
pyamg. ``P.symmetric`` says whether it is SPD (usable in CG) and
``P.setup_time`` how long it took to build.

Classical: :class:`Jacobi`, :class:`SSOR`, :class:`IC0`, :class:`IC1` /
:class:`ICk` (incomplete Cholesky with level-k fill), :class:`ILU0`,
:class:`Chebyshev`; multigrid: :class:`AMG` (pyamg); learned:
:class:`GNNPreconditioner` (a graph network's incomplete Cholesky factor; needs
the ``torch`` extra, imported only when one is built).

Examples
--------
>>> import numpy as np, scipy.sparse as sp
>>> from itersolve.preconditioners import SSOR
>>> A = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(10, 10), format="csr")
>>> P = SSOR(A, omega=1.5)
>>> P.symmetric, (P @ np.ones(10)).shape
(True, (10,))
"""

from .amg import AMG
from .base import Preconditioner, is_symmetric
from .classical import IC0, IC1, ILU0, SSOR, Chebyshev, ICk, Jacobi, lanczos_extreme
from .gnn import GNNPreconditioner

__all__ = [
    "Preconditioner",
    "Jacobi",
    "SSOR",
    "IC0",
    "IC1",
    "ICk",
    "ILU0",
    "AMG",
    "Chebyshev",
    "GNNPreconditioner",
    "is_symmetric",
    "lanczos_extreme",
]
