"""Warp, block and grid reductions, with the scalar rule applied on the device.

A reduction over a vector is fused into the kernel that produces the values
(a dot product, the CG update, an SpMV with its ``x . Ax`` or
``||b - Ax||^2``). Each thread accumulates its grid-stride share in float64;
the block adds its threads up (warp shuffles, then one shared-memory step
across warps) and writes one partial per block; the last block to finish
(a ticket taken with an atomic counter after a memory fence) adds the
partials in block order -- so the rounding does not depend on which block
finished last -- and calls a *scalar rule* on the total.

A scalar rule is a plain Python function ``rule(S, value)`` that updates a
float64 array ``S`` (the solver loop's scalars, or a one-slot result buffer):
the solvers define them, the CPU backend calls them on a list, and here they
are compiled into the kernel as CUDA device functions. So a reduction costs
one launch and nothing is read back unless the host asks.

A reducing kernel declares its shared scratch itself --
``sh = cuda.shared.array(SHARED, float64)`` -- and passes it down: a shared
array declared inside a device function that two other device functions call
makes invalid NVVM IR.
"""

from __future__ import annotations

from numba import cuda

from ._config import FULL_MASK, SIMULATOR

#: Length of a reducing kernel's float64 shared scratch: one slot per warp, then the last-block flag.
SHARED = 33

__all__ = ["SHARED", "warp_sum", "group_sum", "block_sum", "sum_partials", "reduce_grid", "device_rule", "store_rule",
           "set_slots", "shfl_warp_sum", "shfl_group_sum", "shfl_block_sum"]


@cuda.jit(device=True)
def shfl_warp_sum(v):
    """Sum over the 32 lanes of a warp (valid in lane 0); every lane must call it."""
    off = 16
    while off > 0:
        v += cuda.shfl_down_sync(FULL_MASK, v, off)
        off //= 2
    return v


@cuda.jit(device=True)
def shfl_group_sum(v, lanes):
    """Sum over aligned groups of ``lanes`` lanes (a power of two <= 32), valid in each group's first lane."""
    off = lanes // 2
    while off > 0:
        v += cuda.shfl_down_sync(FULL_MASK, v, off)
        off //= 2
    return v


@cuda.jit(device=True)
def shfl_block_sum(v, sh):
    """Sum of ``v`` over the block (valid in thread 0), ``sh`` the kernel's shared scratch;
    every thread of the block must call it."""
    tid = cuda.threadIdx.x
    lane = tid % 32
    wid = tid // 32
    v = shfl_warp_sum(v)
    if lane == 0:
        sh[wid] = v
    cuda.syncthreads()
    t = 0.0
    if wid == 0:
        if lane < cuda.blockDim.x // 32:
            t = sh[lane]
        t = shfl_warp_sum(t)
    return t


if SIMULATOR:
    # Each shuffle costs the simulator two barriers over Python threads; these
    # stand-ins exchange the values once (same sums, other summation order).
    # The shuffle versions above are still tested on the simulator directly.
    from ._simshim import sim_block_sum as block_sum
    from ._simshim import sim_group_sum as group_sum
    from ._simshim import sim_warp_sum as warp_sum
else:
    warp_sum = shfl_warp_sum
    group_sum = shfl_group_sum
    block_sum = shfl_block_sum


@cuda.jit(device=True)
def sum_partials(partials, nparts, sh):
    """The sum of ``partials[:nparts]`` over one block (valid in thread 0), in a fixed order."""
    s = 0.0
    for i in range(cuda.threadIdx.x, nparts, cuda.blockDim.x):
        s += partials[i]
    return block_sum(s, sh)


@cuda.jit(device=True)
def reduce_grid(acc, partials, counter, sh):
    """Grid-wide sum of every thread's ``acc``: returns ``(last, total)``.

    ``last`` is true (uniformly) in the block that finished last, and
    ``total`` is valid in its thread 0. Every thread of every block must call
    it once. ``counter`` (int32[1], zero) is back to zero afterwards; ``sh``
    is the kernel's shared scratch (:data:`SHARED` float64).
    """
    t = block_sum(acc, sh)
    if cuda.threadIdx.x == 0:
        partials[cuda.blockIdx.x] = t
        cuda.threadfence()
        ticket = cuda.atomic.add(counter, 0, 1)
        sh[32] = 1.0 if ticket == cuda.gridDim.x - 1 else 0.0
    cuda.syncthreads()
    last = sh[32] == 1.0
    total = 0.0
    if last:
        total = sum_partials(partials, cuda.gridDim.x, sh)
        if cuda.threadIdx.x == 0:
            counter[0] = 0
    return last, total


def store_rule(S, value):
    """The rule of a plain reduction: ``S[1] = value`` (``S[0]`` stays 0, the "running" status)."""
    S[1] = value


_DEVICE_RULES: dict = {}


def device_rule(rule):
    """``rule`` compiled as a CUDA device function (once per rule)."""
    dev = _DEVICE_RULES.get(rule)
    if dev is None:
        dev = cuda.jit(device=True)(rule)
        _DEVICE_RULES[rule] = dev
    return dev


@cuda.jit(cache=True)
def set_slots(S, i0, v0, i1, v1, i2, v2):
    """``S[i] = v`` for each pair with ``i >= 0`` (one thread): host writes without a synchronisation."""
    if cuda.grid(1) == 0:
        if i0 >= 0:
            S[i0] = v0
        if i1 >= 0:
            S[i1] = v1
        if i2 >= 0:
            S[i2] = v2
