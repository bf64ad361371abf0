"""The networks: a small U-Net, and :class:`StaggerModel`, the (decomposed) one-call time stepper.

:class:`StaggerModel` maps a state ``(a, p)`` and the environment's
boundary stack to the next ``st`` states. Inputs per cell: the velocity
``curl(a)``, the pressure (mean removed) and the boundary stack's
conditioned-face masks and targets (7 channels). For ``s = 1`` one
:class:`UNet` sees the fine grid (the undecomposed base model, Wandel-style).
For ``s > 1`` the inputs are split by :func:`.space_to_depth` into ``s*s``
coarse fields and :func:`.depth_to_space` reassembles the predicted
increments of ``a`` and ``p`` on the fine grid. What the network predicting
one coarse field sees is ``coarse_input``:

- ``"own"``: its own field only, the paper's decoupled coarse solvers. All
  fields go *as one batch* through one shared coarse :class:`UNet` (one call,
  no loop over networks). It is not told which field it works on: every
  field samples the same staggered layout (``u[i, j]`` sits in the same place
  relative to ``a[i, j]`` for every ``(i, j)``), so the right update is the
  same function for each, and a shared network without per-field input
  commutes with fine-grid shifts (a convolution dilated by ``s``):
  neighbouring fields' outputs differ only as much as their inputs. That
  matters because velocities are *differences* of ``a`` between neighbouring
  fields, so a per-field bias becomes a fine-scale velocity error. Sharing
  also gives every weight ``s*s`` times more training signal.
- ``"own+offset"``: the same plus the field's offset ``(di, dj) / s`` as two
  constant channels; kept only to load weights trained that way.
- ``"all"``: every field's prediction sees all ``s*s`` fields, stacked as
  channels: one coarse :class:`UNet` with ``7 s*s`` input and ``2 st s*s``
  output channels, one output group per coarse field. The coarse solvers
  share all but their output layer and run as one call at the coarse
  resolution, with no information lost by the split.

Why ``"all"`` exists: the decoupled networks cannot couple neighbouring
fields within a step, and on the 32 x 64 cylinder channel none learned the
wake. Trained from scratch with the recipe under which the base network sheds,
both ``"own"`` (22 minutes) and ``"own+offset"`` (up to an hour) predicted only
0.06-0.10 of the true one-step change of the wake's velocity, and started from a
shedding reference state they froze the vortex street within 40 steps.

Two additions aim at ``s = 4``, where a coarse cell carries a 4 x 4 fine
patch (112 input and, for ``st = 2``, 64 output numbers):

- ``fine``: the coarse network outputs ``fine`` channels per fine cell; after
  depth-to-space one 3x3 convolution on the fine grid maps them to the
  increments. Without it, neighbouring fine cells in different patches come
  from different output channels with nothing tying them together, and as
  velocities are differences of ``a`` every mismatch at a patch edge is a
  velocity error (the period-4 artefacts of the plain ``s = 4`` models). The
  layer costs about ``9 * fine * 2 st`` multiply-adds per fine cell, a few
  per cent of the base network's.
- ``head``: a pixel-wise layer before the output that reads the top level's
  features and the raw patch, so the output need not squeeze through the
  3x3 layers' width (whose cost grows with its square).

Relative error of one call's change of the benchmark cylinder's developed
vortex street against the reference's (``bench stagger``'s step error), for
``s = 4, st = 2`` models trained 55 minutes each: the plain width-32 model
(``neuralstagger-s4-st2``, trained from rest) 1.13; trained seeded on speeds
0.9-1.6, widths 40 and 48: 0.38 and 0.36; width 32 with ``fine = 16``: 0.24;
and with ``head = 128`` as well: 0.20 (the base network: 0.14). None of them
grows a vortex street from rest. Width 48 with ``head = 128, fine = 16``
(``neuralstagger-s4-st2-fine-h48``) does: its wake sheds from rest at Re 80
within 2 % of the reference's frequency, at about half the amplitude. Its
step error is no smaller (0.22 against 0.20), but its one-call change
projects onto the reference's at 1.02 against 0.98: it feeds the street a
little where width 32 damps it. The same architecture with ``st = 1``
(``neuralstagger-s4``) sheds from rest too (2 % off, at a quarter of the amplitude).

At ``s = 2, st = 2`` the head pays off too: a 3-level coarse U-Net of width
16 trained with the seeded recipe keeps a steady wake at Re 80 (it sheds only
from Re 100), while the same with ``head = 32``
(``neuralstagger-s2-st2-h16``) sheds from rest within 2 % of the reference's
frequency at about 4.7 times the base network's speed at batch 1 on 2 cores
(width 20 without a head: about 3.7 times).

Outputs are increments (``a_k = a_{k-1} + da_k``, pressure likewise, mean
removed); the last layer starts at zero so an untrained model is the
identity map, a stable start for the self-rolled training pool.

Examples
--------
>>> import jax, numpy as np
>>> from itersolve.pdes.fluids.navier_stokes import cylinder, poiseuille, Physics
>>> model = StaggerModel(s=2, st=2, hidden=4, levels=1, key=jax.random.PRNGKey(0))
>>> env = cylinder((16, 32))
>>> a, p = poiseuille(env, Physics())
>>> a2, p2 = model(a, p, env.boundary)
>>> a2.shape, p2.shape
((2, 16, 32), (2, 16, 32))
"""

from __future__ import annotations

from typing import Any

from ._jax import require_jax
from .decompose import check_factor, depth_to_space, space_to_depth

require_jax()

import equinox as eqx  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from ..fluids.mac import curl  # noqa: E402

__all__ = ["UNet", "StaggerModel", "IN_CHANNELS", "COARSE_INPUTS", "features", "with_options"]

#: Input channels per cell before the offset channels: u, v, p, cond_u, cond_v, u_target, v_target.
IN_CHANNELS = 7

#: What the network predicting one coarse field sees (:class:`StaggerModel`'s ``coarse_input``).
COARSE_INPUTS = ("own", "all", "own+offset")

Array = Any


class _Block(eqx.Module):
    c1: eqx.nn.Conv2d
    c2: eqx.nn.Conv2d

    def __init__(self, cin: int, cout: int, key: Any) -> None:
        k1, k2 = jax.random.split(key)
        self.c1 = eqx.nn.Conv2d(cin, cout, 3, padding=1, key=k1)
        self.c2 = eqx.nn.Conv2d(cout, cout, 3, padding=1, key=k2)

    def __call__(self, x: Array) -> Array:
        return jax.nn.gelu(self.c2(jax.nn.gelu(self.c1(x))))


class UNet(eqx.Module):
    """A small U-Net on one ``(channels, h, w)`` image: ``levels`` resolutions, widths ``hidden * (1, 2, 2, ...)``.

    Down: two 3x3 convolutions then 2x2 average pooling; up: nearest
    upsampling, concatenation with the skip, two 3x3 convolutions; a 1x1
    output convolution initialised to zero. ``h`` and ``w`` must be divisible
    by ``2 ** (levels - 1)``.

    ``head > 0`` puts a pixel-wise hidden layer of that width before the
    output: a 1x1 convolution of the top level's features *and the input*,
    then GELU. Its cost is per pixel, without the 3x3 stencil, so it can be
    much wider than ``hidden``; see :class:`StaggerModel` for why.

    Examples
    --------
    >>> import jax
    >>> net = UNet(3, 2, hidden=4, levels=2, key=jax.random.PRNGKey(0))
    >>> net(jax.numpy.ones((3, 8, 8))).shape
    (2, 8, 8)
    """

    down: list
    up: list
    head: eqx.nn.Conv2d | None
    out: eqx.nn.Conv2d
    levels: int = eqx.field(static=True)

    def __init__(self, cin: int, cout: int, *, hidden: int, levels: int, head: int = 0, key: Any) -> None:
        if levels < 1 or hidden < 1 or head < 0:
            raise ValueError(f"levels and hidden must be >= 1 and head >= 0, got {levels}, {hidden}, {head}")
        widths = [hidden * min(2**lv, 2) for lv in range(levels)]
        keys = jax.random.split(key, 2 * levels + 1)
        self.levels = levels
        self.down = [_Block(cin if lv == 0 else widths[lv - 1], widths[lv], keys[lv]) for lv in range(levels)]
        self.up = [_Block(widths[lv] + widths[lv + 1], widths[lv], keys[levels + lv]) for lv in range(levels - 1)]
        # the head's key is folded in, not split off, so models without a head initialise as before
        self.head = eqx.nn.Conv2d(widths[0] + cin, head, 1, key=jax.random.fold_in(key, 1)) if head else None
        out = eqx.nn.Conv2d(head or widths[0], cout, 1, key=keys[-1])
        zeros = (jnp.zeros_like(out.weight), jnp.zeros_like(out.bias))
        self.out = eqx.tree_at(lambda c: (c.weight, c.bias), out, zeros)

    def __call__(self, x: Array) -> Array:
        x_in, skips = x, []
        for lv, block in enumerate(self.down):
            x = block(x)
            if lv < self.levels - 1:
                skips.append(x)
                c, h, w = x.shape
                x = x.reshape(c, h // 2, 2, w // 2, 2).mean(axis=(2, 4))
        for lv in reversed(range(self.levels - 1)):
            x = jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)
            x = self.up[lv](jnp.concatenate([x, skips[lv]], axis=0))
        if self.head is not None:
            x = jax.nn.gelu(self.head(jnp.concatenate([x, x_in], axis=0)))
        return self.out(x)


def features(a: Array, p: Array, boundary: Array) -> Array:
    """The ``(7, H, W)`` network input of one state: ``u, v, p - mean(p)`` and the boundary conditions.

    Examples
    --------
    >>> import numpy as np
    >>> features(np.zeros((4, 4)), np.zeros((4, 4)), np.zeros((6, 4, 4))).shape
    (7, 4, 4)
    """
    u, v = curl(jnp.asarray(a))
    p = jnp.asarray(p)
    return jnp.concatenate([jnp.stack([u, v, p - p.mean()]), jnp.asarray(boundary)[2:]], axis=0)


def with_options(config: dict, *, head: int = 0, fine: int = 0) -> dict:
    """``config`` plus ``head`` and ``fine`` where they are not 0: how :meth:`StaggerModel.config` lists them.

    They are left out when 0 so that the configs of weights saved before they existed still match.

    Examples
    --------
    >>> with_options({"s": 4}, head=0, fine=16)
    {'s': 4, 'fine': 16}
    """
    return config | {k: v for k, v in (("head", head), ("fine", fine)) if v}


class StaggerModel(eqx.Module):
    """One call = ``st`` time steps; ``s = 1`` is the undecomposed base model, ``s > 1`` NeuralStagger.

    Parameters
    ----------
    s : int
        Spatial decomposition factor (must divide the grid it is applied to).
    st : int
        Temporal window: steps predicted per call.
    hidden, levels : int
        Width and depth of the (coarse) :class:`UNet`.
    head : int
        Width of the :class:`UNet`'s pixel-wise head (0: none, the output layer reads the top level's features).
    fine : int
        ``s > 1`` only: channels per fine cell that the coarse network outputs, put back on the fine grid and
        mapped to the increments by one 3x3 convolution there (0: none, the coarse network outputs the increments).
    coarse_input : {"own", "all", "own+offset"}
        What the network predicting one coarse field sees (``s > 1``): its own field (the paper's decoupled
        networks), all ``s*s`` fields as channels, or its own plus its offset (legacy weights); see above.
    key : jax PRNG key

    Calling ``model(a, p, boundary)`` on one state (``a``, ``p``: ``(H, W)``;
    ``boundary``: ``(6, H, W)``) returns ``(a_next, p_next)`` of shape ``(st, H, W)``.
    """

    net: UNet
    s: int = eqx.field(static=True)
    st: int = eqx.field(static=True)
    hidden: int = eqx.field(static=True)
    levels: int = eqx.field(static=True)
    coarse_input: str = eqx.field(static=True)
    fine_out: eqx.nn.Conv2d | None
    head: int = eqx.field(static=True)
    fine: int = eqx.field(static=True)

    def __init__(self, *, s: int = 1, st: int = 1, hidden: int = 16, levels: int = 3, coarse_input: str = "own",
                 head: int = 0, fine: int = 0, key: Any) -> None:
        if not isinstance(s, int) or s < 1 or not isinstance(st, int) or st < 1:
            raise ValueError(f"s and st must be positive integers, got s={s!r}, st={st!r}")
        if coarse_input not in COARSE_INPUTS:
            raise ValueError(f"coarse_input must be one of {COARSE_INPUTS}, got {coarse_input!r}")
        if s == 1 and coarse_input != "own":
            raise ValueError(f"coarse_input={coarse_input!r} needs s > 1 (the base network sees the fine grid)")
        if fine < 0 or (fine and s == 1):
            raise ValueError(f"fine must be 0, or > 0 with s > 1 (the base network works on the fine grid), got {fine}")
        self.s, self.st, self.hidden, self.levels = s, st, hidden, levels
        self.coarse_input, self.head, self.fine = coarse_input, head, fine
        per_cell = fine or 2 * st
        cin, cout = {"own": (IN_CHANNELS, per_cell), "own+offset": (IN_CHANNELS + 2, per_cell),
                     "all": (IN_CHANNELS * s * s, per_cell * s * s)}[coarse_input]
        self.net = UNet(cin, cout, hidden=hidden, levels=levels, head=head, key=key)
        self.fine_out = None
        if fine:  # the fine layer starts at zero (the identity step), so the coarse output layer must not
            out = eqx.nn.Conv2d(self.net.out.in_channels, cout, 1, key=jax.random.fold_in(key, 2))
            self.net = eqx.tree_at(lambda n: n.out, self.net, out)
            last = eqx.nn.Conv2d(fine, 2 * st, 3, padding=1, key=jax.random.fold_in(key, 3))
            self.fine_out = eqx.tree_at(lambda c: (c.weight, c.bias), last,
                                        (jnp.zeros_like(last.weight), jnp.zeros_like(last.bias)))

    def config(self) -> dict:
        """The constructor arguments (without the key), as stored with shipped weights (:func:`with_options`)."""
        config = {"s": self.s, "st": self.st, "hidden": self.hidden, "levels": self.levels,
                  "coarse_input": self.coarse_input}
        return with_options(config, head=self.head, fine=self.fine)

    def _increments(self, x: Array) -> Array:
        if self.s == 1:
            return self.net(x)
        y = self._coarse_outputs(x)
        return y if self.fine_out is None else self.fine_out(jax.nn.gelu(y))

    def _coarse_outputs(self, x: Array) -> Array:
        """The coarse network's outputs, put back on the fine grid: ``(fine or 2 st, H, W)``."""
        s = self.s
        if self.coarse_input == "all":  # one call: s*s channel groups in, one group out per coarse field
            coarse = space_to_depth(x, s)  # (7, s*s, h, w)
            c, _, h, w = coarse.shape
            out = self.net(coarse.reshape(c * s * s, h, w))
            return depth_to_space(out.reshape(-1, s * s, h, w), s)
        coarse = jnp.swapaxes(space_to_depth(x, s), 0, 1)  # (s*s, 7, h, w)
        if self.coarse_input == "own+offset":
            _, _, h, w = coarse.shape
            di, dj = jnp.divmod(jnp.arange(s * s), s)
            offsets = jnp.stack([di, dj], axis=1).astype(x.dtype) / s
            coarse = jnp.concatenate([coarse, jnp.broadcast_to(offsets[:, :, None, None], (s * s, 2, h, w))], axis=1)
        out = jax.vmap(self.net)(coarse)  # (s*s, fine or 2 st, h, w)
        return depth_to_space(jnp.swapaxes(out, 0, 1), s)

    def __call__(self, a: Array, p: Array, boundary: Array) -> tuple[Array, Array]:
        a, p = jnp.asarray(a), jnp.asarray(p)
        if a.ndim != 2 or p.shape != a.shape or tuple(boundary.shape) != (6, *a.shape):
            raise ValueError(f"expected a, p of shape (H, W) and boundary (6, H, W); got {a.shape}, {p.shape}, "
                             f"{tuple(boundary.shape)}")
        check_factor(a.shape, self.s)
        m = self.s * 2 ** (self.levels - 1)
        if a.shape[0] % m or a.shape[1] % m:
            raise ValueError(f"grid {a.shape} must be divisible by s * 2**(levels-1) = {m} (s={self.s}, "
                             f"levels={self.levels})")
        inc = self._increments(features(a, p, boundary).astype(a.dtype))
        da, dp = inc[0::2], inc[1::2]
        dp = dp - dp.mean(axis=(1, 2), keepdims=True)
        return a + jnp.cumsum(da, axis=0), p - p.mean() + jnp.cumsum(dp, axis=0)
