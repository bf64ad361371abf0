"""Running a DCDM network on vectors: the grid ↔ vector mapping around one forward pass.

:class:`NetworkDirections` holds a network and a fluid mask; calling it with
a residual vector (one entry per fluid cell, C order) scatters it onto the
grid, runs the network once in float32 without gradients, and gathers the
output back into a vector of the residual's dtype.

Examples
--------
>>> import numpy as np
>>> from itersolve.solvers.deep_directions.model import build_model
>>> from itersolve.solvers.deep_directions.inference import NetworkDirections
>>> fluid = np.ones((6, 5), dtype=bool); fluid[2, 2] = False
>>> f = NetworkDirections(build_model(2, 4, 1), fluid)
>>> f(np.ones(29)).shape
(29,)
"""

from __future__ import annotations

import numpy as np
import torch

from .model import DCDMNet

__all__ = ["NetworkDirections"]


class NetworkDirections:
    """``r ↦ f(r)`` on vectors for a :class:`DCDMNet` and a fluid mask.

    Parameters
    ----------
    net : DCDMNet
    fluid : ndarray of bool
        ``True`` on the cells that carry unknowns; ``net.dim`` must equal ``fluid.ndim``.
    diag : ndarray, optional
        The matrix diagonal, one entry per fluid cell: the multigrid network
        (``multigrid=1``) builds its fine stencil from it (other networks ignore it).

    Raises
    ------
    ValueError
        When the network is for another dimension than the mask.
    """

    def __init__(self, net: DCDMNet, fluid: np.ndarray, diag: np.ndarray | None = None):
        fluid = np.asarray(fluid, dtype=bool)
        dim = getattr(net, "dim", None)
        if dim != fluid.ndim:
            raise ValueError(f"the DCDM network is {dim}-D but the grid mask is {fluid.ndim}-D {fluid.shape}; "
                             f"use a {fluid.ndim}-D model (e.g. 'dcdm{fluid.ndim}d-...')")
        self.net = net
        self.n = int(fluid.sum())
        self._cells = torch.as_tensor(np.flatnonzero(fluid.ravel()))
        self._shape = fluid.shape
        self._mask = torch.as_tensor(fluid, dtype=torch.float32)[None, None]
        self._diag = self._to_grid(diag) if diag is not None and getattr(net, "multigrid", 0) else None

    def _to_grid(self, v: np.ndarray) -> torch.Tensor:
        """A vector over the fluid cells as a ``(1, 1, *grid)`` float32 tensor, zero on solids."""
        grid = torch.zeros(int(np.prod(self._shape)), dtype=torch.float32)
        grid[self._cells] = torch.as_tensor(np.asarray(v, dtype=np.float32))
        return grid.reshape(1, 1, *self._shape)

    def __call__(self, r: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            out = self.net(self._to_grid(r), self._mask, self._diag)
        return out.reshape(-1)[self._cells].numpy().astype(np.asarray(r).dtype, copy=False)
