"""The DCDM network: a small U-Net CNN mapping a residual on the grid to a search direction.

Input: the residual on the ``(nx, ny[, nz])`` grid (zero on solid cells),
divided by its RMS over the fluid cells (a unit-norm residual has entries of
order ``1/√n``; the network sees O(1) values at every size). The fluid mask
tells the network where the walls are, so one network serves every
obstacle layout: the features are multiplied by the mask (pooled to each
level) after every block, so nothing leaks into or out of solids. The
convolutions have no biases, so the network is positively homogeneous,
``f(c·r) = c·f(r)`` for ``c > 0``, and ``f(0) = 0``: it cannot answer with a
fixed field that ignores ``r`` (with biases or a mask input channel it
learned exactly that -- a smooth bump that lowers the loss on low-mode
training vectors but makes every direction the same, stalling the solve). Output: one channel, multiplied by the mask, read as an
approximation of ``A⁻¹r`` up to scale (the solver rescales every direction).

Architecture (Kaneda et al., ICML 2023): 3×3 (3×3×3) convolutions with
``channels`` (16) feature maps, residual blocks (``x + conv(relu(conv(relu(x))))``)
at full resolution, then ``levels`` times 2× average pooling with a residual
block at each coarser level, and back up by nearest-neighbour upsampling with
an additive skip connection from the same level. The paper uses one pooling
level; ``levels`` > 1 makes the network a multi-level (V-cycle-like)
operator whose receptive field covers the whole training grid (64² → 4² with
4 levels), which is what an approximate inverse of an elliptic operator
needs: its Green's function is global, and with one level the receptive
field would cover ever smaller fractions of larger grids. The coarse levels
cost little (1/4 or 1/8 of the full-resolution work per level).

Recursive coarse levels (``coarsest`` > 0): with a fixed number of levels
the receptive field covers an ever smaller part of larger grids (a network
trained at 64² with 4 levels stops at 16² on a 256² grid), so the iteration
count grows with the grid. With ``coarsest = c`` the first ``levels`` levels
keep their own blocks and every coarser level shares one pair of blocks
(down and up); the network pools until the coarsest grid's longest side is
at most ``c``, so the depth follows each input (64² → 4², 256² → 4²) and one
trained network is a V-cycle-like operator at any size. The shared levels
must mean the same thing at every depth: the grid operator is the unscaled
stencil (≈ h²·(−Δ)), so the correction of a pooled residual on a grid twice
as coarse is 4 times larger (in 2-D and 3-D alike). Each coarse correction is
therefore multiplied by a learned gain ``g`` (one scalar, stored as
``log_gain``) before it is added to the finer level's skip, so the shared
blocks' features can stay on one scale at every depth instead of absorbing a
depth-dependent factor. ``g`` starts at 1, not 4: with random weights a
factor 4 per level (64 at a 64² grid's depth) swamps the fine levels and
mixed-size training (32² and 64²) died at once (loss stuck at 1, the output
zero), while it learns from ``g = 1`` (and from 2, more slowly).

Examples
--------
>>> import torch
>>> from itersolve.solvers.deep_directions.model import DCDMNet
>>> net = DCDMNet(dim=2, channels=4, levels=2)
>>> r = torch.randn(3, 1, 10, 9)
>>> mask = torch.ones(3, 1, 10, 9)
>>> net(r, mask).shape
torch.Size([3, 1, 10, 9])
>>> deep = DCDMNet(dim=2, channels=4, levels=1, coarsest=4)
>>> deep.depth((64, 64)), deep.depth((256, 256)), deep(r, mask).shape
(4, 6, torch.Size([3, 1, 10, 9]))
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["DCDMNet", "build_model"]


class _ResBlock(nn.Module):
    def __init__(self, conv: type, channels: int):
        super().__init__()
        self.a = conv(channels, channels, 3, padding=1, bias=False)
        self.b = conv(channels, channels, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.b(F.relu(self.a(F.relu(x))))


#: Initial coarse-correction gain of the recursive network (learned; see the module docstring).
GAIN_INIT = 1.0


class DCDMNet(nn.Module):
    """U-Net CNN for DCDM search directions, 2-D or 3-D.

    Parameters
    ----------
    dim : {2, 3}
        Grid dimension (``Conv2d`` or ``Conv3d``).
    channels : int
        Feature maps at every level (16 in the paper).
    levels : int
        2× pooling levels with their own weights (1 in the paper; see the module docstring).
    coarsest : int
        0 (default): exactly ``levels`` pooling levels, every level with its own
        blocks. > 0: recursive coarse levels -- below the ``levels`` own levels,
        one shared pair of blocks, pooled until the longest side is at most
        ``coarsest``, with a learned coarse-correction gain (module docstring).

    Notes
    -----
    ``forward(r, mask)`` takes tensors of shape ``(batch, 1, *grid)`` and
    returns ``(batch, 1, *grid)``, zero where ``mask`` is zero. Odd grid
    sizes are fine: pooling rounds up and upsampling crops to the skip's size.

    Examples
    --------
    >>> net = DCDMNet(dim=3, channels=2, levels=1, coarsest=2)
    >>> net.depth((9, 8, 5)), net.depth((3, 3, 3))
    (3, 1)
    """

    def __init__(self, dim: int = 2, channels: int = 16, levels: int = 1, coarsest: int = 0):
        super().__init__()
        if dim not in (2, 3):
            raise ValueError(f"dim must be 2 or 3, got {dim}")
        if channels < 1 or levels < 0 or coarsest < 0:
            raise ValueError(f"channels must be >= 1, levels and coarsest >= 0, got {channels}, {levels}, {coarsest}")
        conv = nn.Conv2d if dim == 2 else nn.Conv3d
        self.dim, self.channels, self.levels, self.coarsest = dim, channels, levels, coarsest
        self.inp = conv(1, channels, 3, padding=1, bias=False)
        own = levels if coarsest else levels + 1  # the fixed-depth network's coarsest level has its own block
        self.down = nn.ModuleList([_ResBlock(conv, channels) for _ in range(own)])
        self.up = nn.ModuleList([_ResBlock(conv, channels) for _ in range(levels)])
        if coarsest:
            self.shared_down = _ResBlock(conv, channels)
            self.shared_up = _ResBlock(conv, channels)
            self.log_gain = nn.Parameter(torch.tensor(math.log(GAIN_INIT)))
        self.out = conv(channels, 1, 3, padding=1, bias=False)
        self._pool = F.avg_pool2d if dim == 2 else F.avg_pool3d

    def depth(self, shape: tuple[int, ...]) -> int:
        """Pooling levels used on a grid of this ``shape`` (``levels`` unless ``coarsest`` > 0)."""
        if not self.coarsest:
            return self.levels
        sides, depth = list(shape), 0
        while max(sides) > self.coarsest or depth < self.levels:
            sides, depth = [-(-s // 2) for s in sides], depth + 1
        return depth

    def _blocks(self, depth: int) -> tuple[list[nn.Module], list[nn.Module]]:
        """The down blocks of levels ``0..depth`` (fine to coarse) and the up blocks in the order they run
        (levels ``depth-1..0``, coarse to fine)."""
        if not self.coarsest:
            return list(self.down), list(self.up)
        return ([*self.down, *[self.shared_down] * (depth + 1 - self.levels)],
                [*[self.shared_up] * (depth - self.levels), *self.up])

    def forward(self, r: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        dims = tuple(range(1, r.dim()))
        scale = torch.sqrt((r**2).sum(dim=dims, keepdim=True) / mask.sum(dim=dims, keepdim=True).clamp_min(1.0))
        scale = torch.where(scale > 0, scale, torch.ones_like(scale))
        depth = self.depth(tuple(r.shape[2:]))
        down, up = self._blocks(depth)
        masks = [mask]
        for _ in range(depth):
            masks.append((self._pool(masks[-1], 2, ceil_mode=True) > 0).to(mask.dtype))
        h = down[0](self.inp(r / scale)) * mask
        skips = []
        for block, m in zip(down[1:], masks[1:]):
            skips.append(h)
            h = block(self._pool(h, 2, ceil_mode=True)) * m
        for block, level in zip(up, reversed(range(depth))):
            skip = skips[level]
            h = F.interpolate(h, scale_factor=2, mode="nearest")[(...,) + tuple(slice(0, s) for s in skip.shape[2:])]
            if self.coarsest and level >= self.levels:
                h = h * self.log_gain.exp()
            h = block(h + skip) * masks[level]
        return self.out(F.relu(h)) * mask * scale


def build_model(dim: int = 2, channels: int = 16, levels: int = 1, coarsest: int = 0) -> DCDMNet:
    """A freshly initialised :class:`DCDMNet` (seed torch first for reproducible weights).

    Examples
    --------
    >>> sum(p.numel() for p in build_model(2, 16, 1).parameters())
    14112
    >>> sum(p.numel() for p in build_model(2, 16, 1, coarsest=4).parameters())
    18721
    """
    return DCDMNet(dim=dim, channels=channels, levels=levels, coarsest=coarsest)
