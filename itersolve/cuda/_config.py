"""Launch configuration shared by the CUDA kernels (no algorithm logic here).

Every kernel is launched with :data:`THREADS` threads per block (a multiple of
the warp size: the warp-per-row SpMV and the block reductions need whole
warps) and at most :func:`max_blocks` blocks, with grid-stride loops over the
data. A fixed grid for a given length makes every reduction's summation order,
and so its rounding, reproducible from run to run.

Under the Numba CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``) each simulated
thread is a Python thread, so the blocks are one warp and the grids capped at
two blocks: still enough to exercise the grid-stride loops and the
cross-block reductions (the cross-warp step is tested with its own launch).

Examples
--------
>>> from itersolve.cuda._config import THREADS, WARP
>>> THREADS % WARP == 0
True
"""

from __future__ import annotations

from numba import cuda

__all__ = ["SIMULATOR", "WARP", "THREADS", "FULL_MASK", "max_blocks", "grid_for", "TRI_BLOCK_LEVEL_MAX"]

#: True when the kernels run on the Numba CUDA simulator (decided when ``numba.cuda`` was
#: imported: read from what it is, not from the environment, which may have changed since).
SIMULATOR: bool = getattr(cuda.device_array, "__module__", "").startswith("numba.cuda.simulator")

#: Threads per warp.
WARP = 32
#: Shuffle mask of a whole warp.
FULL_MASK = 0xFFFFFFFF
#: Threads per block.
THREADS = WARP if SIMULATOR else 256
#: Blocks per multiprocessor of a grid-stride launch (enough resident warps to
#: saturate memory bandwidth on an H100: 8 x 256 threads = the 2048-thread limit).
BLOCKS_PER_SM = 8
#: Simulator grid cap.
_SIM_MAX_BLOCKS = 2
#: A run of consecutive triangular-solve levels each at most this wide is
#: solved by one single-block launch (``syncthreads`` between levels) instead
#: of one launch per level.
TRI_BLOCK_LEVEL_MAX = 4 * THREADS

_max_blocks: int | None = None


def max_blocks() -> int:
    """Largest grid of a grid-stride launch (and length of the partial-sum buffer)."""
    global _max_blocks
    if _max_blocks is None:
        if SIMULATOR:
            _max_blocks = _SIM_MAX_BLOCKS
        else:
            dev = cuda.get_current_device()
            sms = int(getattr(dev, "MULTIPROCESSOR_COUNT", 0) or 108)
            _max_blocks = BLOCKS_PER_SM * sms
    return _max_blocks


def grid_for(n: int, per_thread_items: int = 1) -> int:
    """Blocks for ``n`` items (``per_thread_items`` threads each), capped by :func:`max_blocks`."""
    need = (max(int(n), 1) * per_thread_items + THREADS - 1) // THREADS
    return max(1, min(need, max_blocks()))
