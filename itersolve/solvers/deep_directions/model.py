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

Examples
--------
>>> import torch
>>> from itersolve.solvers.deep_directions.model import DCDMNet
>>> net = DCDMNet(dim=2, channels=4, levels=2)
>>> r = torch.randn(3, 1, 10, 9)
>>> mask = torch.ones(3, 1, 10, 9)
>>> net(r, mask).shape
torch.Size([3, 1, 10, 9])
"""

from __future__ import annotations

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


class DCDMNet(nn.Module):
    """U-Net CNN for DCDM search directions, 2-D or 3-D.

    Parameters
    ----------
    dim : {2, 3}
        Grid dimension (``Conv2d`` or ``Conv3d``).
    channels : int
        Feature maps at every level (16 in the paper).
    levels : int
        2× pooling levels (1 in the paper; see the module docstring).

    Notes
    -----
    ``forward(r, mask)`` takes tensors of shape ``(batch, 1, *grid)`` and
    returns ``(batch, 1, *grid)``, zero where ``mask`` is zero. Odd grid
    sizes are fine: pooling rounds up and upsampling crops to the skip's size.
    """

    def __init__(self, dim: int = 2, channels: int = 16, levels: int = 1):
        super().__init__()
        if dim not in (2, 3):
            raise ValueError(f"dim must be 2 or 3, got {dim}")
        if channels < 1 or levels < 0:
            raise ValueError(f"channels must be >= 1 and levels >= 0, got {channels}, {levels}")
        conv = nn.Conv2d if dim == 2 else nn.Conv3d
        self.dim, self.channels, self.levels = dim, channels, levels
        self.inp = conv(1, channels, 3, padding=1, bias=False)
        self.down = nn.ModuleList([_ResBlock(conv, channels) for _ in range(levels + 1)])
        self.up = nn.ModuleList([_ResBlock(conv, channels) for _ in range(levels)])
        self.out = conv(channels, 1, 3, padding=1, bias=False)
        self._pool = F.avg_pool2d if dim == 2 else F.avg_pool3d

    def forward(self, r: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        dims = tuple(range(1, r.dim()))
        scale = torch.sqrt((r**2).sum(dim=dims, keepdim=True) / mask.sum(dim=dims, keepdim=True).clamp_min(1.0))
        scale = torch.where(scale > 0, scale, torch.ones_like(scale))
        masks = [mask]
        for _ in range(self.levels):
            masks.append((self._pool(masks[-1], 2, ceil_mode=True) > 0).to(mask.dtype))
        h = self.down[0](self.inp(r / scale)) * mask
        skips = []
        for block, m in zip(self.down[1:], masks[1:]):
            skips.append(h)
            h = block(self._pool(h, 2, ceil_mode=True)) * m
        for block, skip, m in zip(self.up, reversed(skips), reversed(masks[:-1])):
            h = F.interpolate(h, scale_factor=2, mode="nearest")
            h = block(h[(...,) + tuple(slice(0, s) for s in skip.shape[2:])] + skip) * m
        return self.out(F.relu(h)) * mask * scale


def build_model(dim: int = 2, channels: int = 16, levels: int = 1) -> DCDMNet:
    """A freshly initialised :class:`DCDMNet` (seed torch first for reproducible weights).

    Examples
    --------
    >>> sum(p.numel() for p in build_model(2, 16, 1).parameters())
    14112
    """
    return DCDMNet(dim=dim, channels=channels, levels=levels)
