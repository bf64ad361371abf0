"""Level-1 vector kernels: dot products, norms and fused CG updates.

All kernels are Numba ``@njit(cache=True, parallel=True)`` functions over
contiguous 1-D float32 or float64 arrays. They are split into blocks of
:data:`~itersolve.kernels._config.BLOCK` entries and run on the Numba thread
pool above :data:`~itersolve.kernels._config.PAR_MIN` entries (on the calling
thread below).

Precision of reductions
-----------------------
Dot products and squared norms always accumulate in **float64**, also for
float32 data: every product is formed in float64, each block is summed in
float64, and the block partials are added in block order. So a float32 CG
loses no accuracy in its inner products (they are the part of CG most
sensitive to rounding), and the result does not depend on the number of
threads. Element-wise updates (``axpy`` and friends) compute in float64 and
round once to the array dtype.

Scalars (``a``, ``alpha``, ``beta``) are Python floats; reductions return
Python floats.

Examples
--------
>>> import numpy as np
>>> from itersolve.kernels.blas import dot, axpy, cg_update
>>> x = np.arange(4.0); y = np.ones(4)
>>> dot(x, y)
6.0
>>> axpy(2.0, x, y); y
array([1., 3., 5., 7.])
>>> r = np.ones(4); p = np.ones(4); q = np.full(4, 0.5)
>>> cg_update(x, r, p, q, 2.0)   # x += 2 p, r -= 2 q, returns r.r
0.0
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._config import BLOCK, FASTMATH, PAR_MIN

__all__ = [
    "dot",
    "norm2sq",
    "axpy",
    "xpay",
    "axpby",
    "cg_update",
    "pcg_update",
    "scale",
    "diag_scale",
    "copy",
]


# Implementation notes: every loop runs over ``range(m)`` on slices so that
# the index is provably non-negative; Numba then drops its negative-index
# wraparound check and LLVM vectorises the loop (2x on this machine).
# ``norm2sq``, ``axpy`` and ``xpay`` are serial wrappers around the parallel
# ``dot`` and ``axpby``: a parallel kernel costs ~1.5 s of compilation per
# dtype, and a cold cache should pay that as rarely as possible.


@njit(cache=True, inline="always", fastmath=FASTMATH)
def _dot_block(x, y, lo, hi):
    xs = x[lo:hi]
    ys = y[lo:hi]
    s = 0.0
    for t in range(hi - lo):
        s += np.float64(xs[t]) * np.float64(ys[t])
    return s


@njit(cache=True, parallel=True, fastmath=FASTMATH)
def dot(x, y):
    """``x . y`` accumulated in float64; returns a Python float."""
    n = x.shape[0]
    nb = (n + BLOCK - 1) // BLOCK
    part = np.empty(nb, np.float64)
    if n < PAR_MIN:
        for b in range(nb):
            part[b] = _dot_block(x, y, b * BLOCK, min(n, (b + 1) * BLOCK))
    else:
        for b in prange(nb):
            part[b] = _dot_block(x, y, b * BLOCK, min(n, (b + 1) * BLOCK))
    s = 0.0
    for b in range(nb):
        s += part[b]
    return s


@njit(cache=True)
def norm2sq(x):
    """``x . x`` accumulated in float64; returns a Python float."""
    return dot(x, x)


@njit(cache=True, inline="always")
def _axpby_block(a, x, b, y, lo, hi):
    xs = x[lo:hi]
    ys = y[lo:hi]
    for t in range(hi - lo):
        ys[t] = a * xs[t] + b * ys[t]


@njit(cache=True, inline="always")
def _scale_block(a, x, out, lo, hi):
    xs = x[lo:hi]
    os = out[lo:hi]
    for t in range(hi - lo):
        os[t] = a * xs[t]


@njit(cache=True, inline="always")
def _diag_scale_block(d, x, out, lo, hi):
    ds = d[lo:hi]
    xs = x[lo:hi]
    os = out[lo:hi]
    for t in range(hi - lo):
        os[t] = ds[t] * xs[t]


@njit(cache=True, inline="always")
def _copy_block(x, out, lo, hi):
    xs = x[lo:hi]
    os = out[lo:hi]
    for t in range(hi - lo):
        os[t] = xs[t]


@njit(cache=True, parallel=True)
def axpby(a, x, b, y):
    """``y = a x + b y`` in place (extension to the contract)."""
    n = y.shape[0]
    nb = (n + BLOCK - 1) // BLOCK
    if n < PAR_MIN:
        _axpby_block(a, x, b, y, 0, n)
    else:
        for blk in prange(nb):
            _axpby_block(a, x, b, y, blk * BLOCK, min(n, (blk + 1) * BLOCK))


@njit(cache=True)
def axpy(a, x, y):
    """``y += a x`` in place (computed as ``a x + 1.0 y``: the same rounding)."""
    axpby(np.float64(a), x, 1.0, y)


@njit(cache=True)
def xpay(x, beta, y):
    """``y = x + beta y`` in place (the CG direction update ``p = z + beta p``)."""
    axpby(1.0, x, np.float64(beta), y)


@njit(cache=True, inline="always", fastmath=FASTMATH)
def _cg_block(x, r, p, q, alpha, lo, hi):
    xs = x[lo:hi]
    rs = r[lo:hi]
    ps = p[lo:hi]
    qs = q[lo:hi]
    s = 0.0
    for t in range(hi - lo):
        xs[t] = xs[t] + alpha * ps[t]
        rs[t] = rs[t] - alpha * qs[t]
        ri = np.float64(rs[t])
        s += ri * ri
    return s


@njit(cache=True, parallel=True, fastmath=FASTMATH)
def cg_update(x, r, p, q, alpha):
    """``x += alpha p``; ``r -= alpha q``; returns ``r . r`` (float64), one pass."""
    n = x.shape[0]
    nb = (n + BLOCK - 1) // BLOCK
    part = np.empty(nb, np.float64)
    if n < PAR_MIN:
        for b in range(nb):
            part[b] = _cg_block(x, r, p, q, alpha, b * BLOCK, min(n, (b + 1) * BLOCK))
    else:
        for b in prange(nb):
            part[b] = _cg_block(x, r, p, q, alpha, b * BLOCK, min(n, (b + 1) * BLOCK))
    s = 0.0
    for b in range(nb):
        s += part[b]
    return s


#: Same as :func:`cg_update`; PCG uses ``r . r`` only for the stopping test.
pcg_update = cg_update


@njit(cache=True, parallel=True)
def scale(a, x, out):
    """``out = a x``."""
    n = out.shape[0]
    nb = (n + BLOCK - 1) // BLOCK
    if n < PAR_MIN:
        _scale_block(a, x, out, 0, n)
    else:
        for b in prange(nb):
            _scale_block(a, x, out, b * BLOCK, min(n, (b + 1) * BLOCK))


@njit(cache=True, parallel=True)
def diag_scale(d, x, out):
    """``out = d * x`` element-wise (Jacobi; extension to the contract)."""
    n = out.shape[0]
    nb = (n + BLOCK - 1) // BLOCK
    if n < PAR_MIN:
        _diag_scale_block(d, x, out, 0, n)
    else:
        for b in prange(nb):
            _diag_scale_block(d, x, out, b * BLOCK, min(n, (b + 1) * BLOCK))


@njit(cache=True, parallel=True)
def copy(x, out):
    """``out[:] = x`` (extension to the contract)."""
    n = out.shape[0]
    nb = (n + BLOCK - 1) // BLOCK
    if n < PAR_MIN:
        _copy_block(x, out, 0, n)
    else:
        for b in prange(nb):
            _copy_block(x, out, b * BLOCK, min(n, (b + 1) * BLOCK))
