"""Level-1 device kernels: dot products, norms, fused CG updates, scalings.

Every kernel is a grid-stride loop (``grid_for(n)`` blocks of ``THREADS``
threads). Reductions form products in float64 and finish on the device
(:func:`~itersolve.cuda._reduce.reduce_grid`), handing the total to a scalar
rule compiled into the kernel; the factories (``dot_kernel(rule)`` ...) build
one kernel per rule. Element-wise updates compute in float64 and round once
to the array dtype, as the CPU kernels do.

Kernels that change a solver's state take the loop's scalar array ``S`` and do
nothing when ``S[0]`` (the loop status) is not zero: a loop that has stopped
on the device stays exactly where it stopped, however many iterations the
host queued before it looked. A coefficient is either a number (``coef``) or
read on the device from ``S[slot]`` (``slot >= 0``), so a CG step needs no
value from the host.
"""

from __future__ import annotations

import math

from numba import cuda, float64

from ._reduce import SHARED, device_rule, reduce_grid

__all__ = [
    "dot_kernel",
    "nonfinite_kernel",
    "cg_update_kernel",
    "axpby_k",
    "scale_k",
    "diag_scale_k",
    "diag_axpy_k",
    "copy_k",
    "fill_k",
]

_CACHE: dict = {}


def dot_kernel(rule):
    """Kernel ``(x, y, partials, counter, S)``: ``rule(S, x . y)``."""
    key = ("dot", rule)
    if key not in _CACHE:
        rule_dev = device_rule(rule)

        @cuda.jit
        def dot_k(x, y, partials, counter, S):
            n = x.shape[0]
            s = 0.0
            for i in range(cuda.grid(1), n, cuda.gridsize(1)):
                s += float64(x[i]) * float64(y[i])
            last, total = reduce_grid(s, partials, counter, cuda.shared.array(SHARED, float64))
            if last and cuda.threadIdx.x == 0:
                rule_dev(S, total)

        _CACHE[key] = dot_k
    return _CACHE[key]


def nonfinite_kernel(rule):
    """Kernel ``(x, partials, counter, S)``: ``rule(S, number of NaN/Inf entries of x)``."""
    key = ("nonfinite", rule)
    if key not in _CACHE:
        rule_dev = device_rule(rule)

        @cuda.jit
        def nonfinite_k(x, partials, counter, S):
            n = x.shape[0]
            s = 0.0
            for i in range(cuda.grid(1), n, cuda.gridsize(1)):
                if not math.isfinite(x[i]):
                    s += 1.0
            last, total = reduce_grid(s, partials, counter, cuda.shared.array(SHARED, float64))
            if last and cuda.threadIdx.x == 0:
                rule_dev(S, total)

        _CACHE[key] = nonfinite_k
    return _CACHE[key]


def cg_update_kernel(rule):
    """Kernel ``(x, r, p, q, coef, slot, partials, counter, S)``: ``x += alpha p``; ``r -= alpha q``;
    ``rule(S, r . r)`` -- one pass; ``alpha = S[slot]`` if ``slot >= 0`` else ``coef``; skipped when
    ``S[0] != 0``."""
    key = ("cg_update", rule)
    if key not in _CACHE:
        rule_dev = device_rule(rule)

        @cuda.jit
        def cg_update_k(x, r, p, q, coef, slot, partials, counter, S):
            if S[0] != 0.0:
                return
            alpha = S[slot] if slot >= 0 else coef
            n = x.shape[0]
            s = 0.0
            for i in range(cuda.grid(1), n, cuda.gridsize(1)):
                x[i] = x[i] + alpha * p[i]
                r[i] = r[i] - alpha * q[i]
                ri = float64(r[i])
                s += ri * ri
            last, total = reduce_grid(s, partials, counter, cuda.shared.array(SHARED, float64))
            if last and cuda.threadIdx.x == 0:
                rule_dev(S, total)

        _CACHE[key] = cg_update_k
    return _CACHE[key]


@cuda.jit(cache=True)
def axpby_k(a, aslot, x, b, bslot, y, S):
    """``y = a x + b y`` (``a = S[aslot]`` when ``aslot >= 0``, likewise ``b``; skipped when stopped)."""
    if S[0] != 0.0:
        return
    av = S[aslot] if aslot >= 0 else a
    bv = S[bslot] if bslot >= 0 else b
    n = y.shape[0]
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        y[i] = av * x[i] + bv * y[i]


@cuda.jit(cache=True)
def scale_k(a, x, out, S):
    """``out = a x`` (skipped when stopped)."""
    if S[0] != 0.0:
        return
    n = out.shape[0]
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        out[i] = a * x[i]


@cuda.jit(cache=True)
def diag_scale_k(d, x, out):
    """``out = d * x`` element-wise."""
    n = out.shape[0]
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        out[i] = d[i] * x[i]


@cuda.jit(cache=True)
def diag_axpy_k(d, r, x, S):
    """``x += d * r`` element-wise (the Jacobi update; skipped when stopped)."""
    if S[0] != 0.0:
        return
    n = x.shape[0]
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        x[i] = x[i] + d[i] * r[i]


@cuda.jit(cache=True)
def copy_k(x, out):
    """``out[:] = x`` (converting the dtype when they differ)."""
    n = out.shape[0]
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        out[i] = x[i]


@cuda.jit(cache=True)
def fill_k(out, value):
    """``out[:] = value``."""
    n = out.shape[0]
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        out[i] = value
