"""CSR sparse matrix-vector products on the device: thread-per-row and warp-per-row.

Both kernels compute ``y = A x`` with float64 row sums rounded once to the
dtype of ``y`` (as the CPU kernels do) and fuse the reduction a solver needs
next into the same pass (``mode``):

* ``MODE_MATVEC`` (0): ``y = A x``;
* ``MODE_RESIDUAL`` (1): ``y = b - A x`` and partials of ``y . y``;
* ``MODE_MATVEC_DOT`` (2): ``y = A x`` and partials of ``x . y``.

``csr_thread_kernel(rule)`` gives each thread one row: best for the short rows of
stencil and FEM matrices. ``csr_warp_kernel(rule)`` gives each row a group of ``lanes``
consecutive lanes (a power of two up to a whole warp: 32 = warp-per-row) that
read the row's entries together (coalesced) and add them up with shuffles:
best for long rows. :class:`~itersolve.cuda.operator.DeviceCSR` picks one from
the average row length.

The fused reduction finishes on the device and hands its total to a scalar
rule (see :mod:`._reduce`). Both skip all work when the loop state ``S[0]`` is not zero (a stopped loop).
"""

from __future__ import annotations

from numba import cuda, float64

from ._reduce import SHARED, device_rule, group_sum, reduce_grid

__all__ = ["MODE_MATVEC", "MODE_RESIDUAL", "MODE_MATVEC_DOT", "csr_thread_kernel", "csr_warp_kernel", "diag_k"]

MODE_MATVEC = 0
MODE_RESIDUAL = 1
MODE_MATVEC_DOT = 2


@cuda.jit(device=True)
def _finish_row(x, b, y, mode, i, s):
    """Store row ``i`` (``s`` = its float64 sum) and return its share of the fused reduction."""
    y[i] = s
    if mode == 1:
        y[i] = b[i] - y[i]
        v = float64(y[i])
        return v * v
    if mode == 2:
        return float64(x[i]) * float64(y[i])
    return 0.0


_CACHE: dict = {}


def csr_thread_kernel(rule):
    """Kernel ``(indptr, indices, data, x, b, y, mode, partials, counter, S)``, one thread per row;
    for ``mode != 0`` it calls ``rule(S, total)`` with the fused reduction's total."""
    key = ("thread", rule)
    if key not in _CACHE:
        rule_dev = device_rule(rule)

        @cuda.jit
        def csr_thread_k(indptr, indices, data, x, b, y, mode, partials, counter, S):
            if S[0] != 0.0:
                return
            n = y.shape[0]
            acc = 0.0
            for i in range(cuda.grid(1), n, cuda.gridsize(1)):
                s = 0.0
                for k in range(indptr[i], indptr[i + 1]):
                    s += data[k] * x[indices[k]]
                acc += _finish_row(x, b, y, mode, i, s)
            if mode != 0:
                last, total = reduce_grid(acc, partials, counter, cuda.shared.array(SHARED, float64))
                if last and cuda.threadIdx.x == 0:
                    rule_dev(S, total)

        _CACHE[key] = csr_thread_k
    return _CACHE[key]


def csr_warp_kernel(rule):
    """Kernel ``(indptr, indices, data, x, b, y, mode, lanes, partials, counter, S)``: ``lanes``
    consecutive lanes per row (32: a warp per row). The row loop is uniform over the block, so
    every lane reaches every shuffle."""
    key = ("warp", rule)
    if key not in _CACHE:
        rule_dev = device_rule(rule)

        @cuda.jit
        def csr_warp_k(indptr, indices, data, x, b, y, mode, lanes, partials, counter, S):
            if S[0] != 0.0:
                return
            n = y.shape[0]
            gid = cuda.grid(1)
            group = gid // lanes
            lane = gid % lanes
            groups = cuda.gridsize(1) // lanes
            rounds = (n + groups - 1) // groups
            acc = 0.0
            for rnd in range(rounds):
                i = group + rnd * groups
                s = 0.0
                if i < n:
                    for k in range(indptr[i] + lane, indptr[i + 1], lanes):
                        s += data[k] * x[indices[k]]
                s = group_sum(s, lanes)
                if lane == 0 and i < n:
                    acc += _finish_row(x, b, y, mode, i, s)
            if mode != 0:
                last, total = reduce_grid(acc, partials, counter, cuda.shared.array(SHARED, float64))
                if last and cuda.threadIdx.x == 0:
                    rule_dev(S, total)

        _CACHE[key] = csr_warp_k
    return _CACHE[key]


@cuda.jit(cache=True)
def diag_k(indptr, indices, data, diag):
    """``diag[i] = A[i, i]`` (0 where not stored)."""
    n = diag.shape[0]
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        d = 0.0
        for k in range(indptr[i], indptr[i + 1]):
            if indices[k] == i:
                d = data[k]
        diag[i] = d
