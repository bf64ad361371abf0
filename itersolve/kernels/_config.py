"""Tuning constants shared by the CPU kernels (no algorithm logic here).

The constants are read at compile time: changing them needs a fresh Numba
cache (delete the ``__pycache__`` folders of this package).

Examples
--------
>>> from itersolve.kernels._config import BLOCK, PAR_MIN
>>> BLOCK > 0 and PAR_MIN >= BLOCK
True
"""

from __future__ import annotations

#: Length of the index blocks that vector kernels and reductions are split into.
#: Reductions sum one partial per block (in float64) and then add the partials
#: in block order, so their rounding does not depend on the number of threads.
BLOCK = 8192

#: Below this many entries a vector kernel runs on the calling thread only:
#: waking the thread pool costs more than it saves.
PAR_MIN = 32768

#: Rows per block in the sparse matrix-vector kernels (one block is one task;
#: for DIA a block of ``y`` stays in L1 while the diagonals stream through it).
ROW_BLOCK = 2048

#: Below this many stored entries a matrix kernel runs on the calling thread.
PAR_MIN_NNZ = 65536

# Scheduling is Numba's default (static: each thread gets an equal share of
# the blocks). Dynamic scheduling was measured to be a little faster and far
# more robust on a shared machine (a preempted thread's blocks get taken by
# the other one), but ``numba.set_parallel_chunksize`` inside a kernel makes
# it uncachable (it calls through a ctypes pointer), and setting it globally
# would change every other parallel loop in the process.

#: Fast-math flags for reductions: reassociation lets LLVM vectorise the sum;
#: ``nnan``/``ninf`` are deliberately *not* set so NaN and Inf propagate.
FASTMATH = {"reassoc", "contract"}

__all__ = ["BLOCK", "PAR_MIN", "ROW_BLOCK", "PAR_MIN_NNZ", "FASTMATH"]
