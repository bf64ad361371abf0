"""The record a problem generator hands to a solver: one linear system.

Examples
--------
>>> import numpy as np
>>> from itersolve.pdes import LinearSystem, poisson
>>> A = poisson((3, 3))
>>> s = LinearSystem(A, np.ones(9), grid=(3, 3), name="poisson")
>>> s.n, s.grid, s.x_true is None
(9, (3, 3), True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

__all__ = ["LinearSystem"]


@dataclass(eq=False)
class LinearSystem:
    """One linear system ``A x = b`` with what is known about it.

    Parameters
    ----------
    A : scipy.sparse.csr_matrix
        The matrix, canonical CSR (as returned by :func:`itersolve.sparse.as_csr`).
    b : numpy.ndarray
        The right-hand side, same dtype as ``A``.
    x_true : numpy.ndarray, optional
        The exact solution when the generator knows it (for error measurements).
    grid : tuple of int, optional
        Shape of the grid the unknowns live on (C order), when there is one.
    context : float, optional
        A scalar describing the instance, for contextual bandits (for instance
        the diagonal shift or the diffusion coefficient of this system).
    name : str
        A short label.
    x0 : numpy.ndarray, optional
        A suggested initial guess (the previous solution in a time-stepping
        sequence); ``None`` means start from zero.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> s = LinearSystem(sp.csr_matrix(np.eye(2)), np.array([1.0, 2.0]), context=0.5)
    >>> s.n, s.context
    (2, 0.5)
    """

    A: sp.csr_matrix
    b: np.ndarray
    x_true: np.ndarray | None = None
    grid: tuple[int, ...] | None = None
    context: float | None = None
    name: str = ""
    x0: np.ndarray | None = None

    @property
    def n(self) -> int:
        """Number of unknowns.

        Examples
        --------
        >>> import numpy as np, scipy.sparse as sp
        >>> LinearSystem(sp.csr_matrix(np.eye(3)), np.zeros(3)).n
        3
        """
        return int(self.A.shape[0])
