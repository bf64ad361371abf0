"""What the Numba CUDA simulator lacks for these kernels: warp intrinsics.

The simulator (``NUMBA_ENABLE_CUDASIM=1``) runs every CUDA thread as a Python
thread but implements neither the warp shuffles nor ``syncwarp``, which the
warp-per-row SpMV and the block reductions use on real hardware. This module
adds them to the simulator's fake ``cuda`` module, with the hardware contract
for a full mask: every lane of the warp calls the intrinsic (the kernels keep
their shuffles warp-uniform, as the hardware requires). A lane exchange is a
barrier over the warp's Python threads.

``sim_warp_sum``, ``sim_group_sum`` and ``sim_block_sum`` are what
:mod:`._reduce` uses for its reductions under the simulator: one exchange
instead of a barrier per shuffle step (the shuffle versions are still tested
on the simulator, directly).

It also runs the simulator's blocks on a pool of Python threads, with the
block manager sleeping on a condition until a thread blocks in
``syncthreads`` or ends. The simulator itself starts a new thread for every
simulated thread of every launch and polls them in a busy loop: on a loaded
2-core machine that made a solver iteration several times slower.

Only :func:`install` changes anything, and only the simulator; it is called by
:mod:`itersolve.cuda` when the simulator is active.
"""

from __future__ import annotations

import threading

__all__ = ["install", "sim_warp_sum", "sim_group_sum", "sim_block_sum"]

_installed = False
_lock = threading.Lock()
_WARP = 32
#: A lane waiting longer than this at a shuffle means a non-uniform shuffle (a bug).
_TIMEOUT_S = 120.0


class _Exchange:
    def __init__(self, parties: int) -> None:
        self.parties = parties
        self.barrier = threading.Barrier(parties, timeout=_TIMEOUT_S)
        self.vals: list = [None] * parties


def _exchange():
    th = threading.current_thread()
    mgr = th._manager
    tid = th.thread_id
    w, lane = divmod(tid, _WARP)
    table = getattr(mgr, "_itersolve_warps", None)
    if table is None:
        with _lock:
            table = getattr(mgr, "_itersolve_warps", None)
            if table is None:
                table = {}
                mgr._itersolve_warps = table
    ex = table.get(w)
    if ex is None:
        with _lock:
            ex = table.get(w)
            if ex is None:
                nthreads = 1
                for d in mgr._block_dim:
                    nthreads *= d
                ex = _Exchange(min(_WARP, nthreads - _WARP * w))
                table[w] = ex
    return ex, lane


def _shuffle(val, pick):
    ex, lane = _exchange()
    ex.vals[lane] = val
    ex.barrier.wait()
    src = pick(lane)
    out = ex.vals[src] if 0 <= src < ex.parties else val
    ex.barrier.wait()
    return out


def _shfl_down_sync(self, mask, val, delta):
    return _shuffle(val, lambda lane: lane + delta)


def _shfl_up_sync(self, mask, val, delta):
    return _shuffle(val, lambda lane: lane - delta)


def _shfl_xor_sync(self, mask, val, lane_mask):
    return _shuffle(val, lambda lane: lane ^ lane_mask)


def _shfl_sync(self, mask, val, src_lane):
    return _shuffle(val, lambda lane: src_lane)


def _syncwarp(self, mask=0xFFFFFFFF):
    ex, _ = _exchange()
    ex.barrier.wait()


def sim_group_sum(v, lanes):
    """Simulator stand-in for the shuffle group sum: one exchange over the warp."""
    ex, lane = _exchange()
    ex.vals[lane] = v
    ex.barrier.wait()
    out = v
    if lane % lanes == 0:
        out = 0.0
        for j in range(lane, min(lane + lanes, ex.parties)):
            out += ex.vals[j]
    ex.barrier.wait()
    return out


def sim_warp_sum(v):
    """Simulator stand-in for the shuffle warp sum (valid in lane 0)."""
    return sim_group_sum(v, _WARP)


def sim_block_sum(v, sh=None):
    """Simulator stand-in for the block sum (valid in thread 0): one exchange over the block."""
    th = threading.current_thread()
    mgr = th._manager
    vals = getattr(mgr, "_itersolve_block_vals", None)
    if vals is None:
        with _lock:
            vals = getattr(mgr, "_itersolve_block_vals", None)
            if vals is None:
                nthreads = 1
                for d in mgr._block_dim:
                    nthreads *= d
                vals = [0.0] * nthreads
                mgr._itersolve_block_vals = vals
    vals[th.thread_id] = v
    th.syncthreads()
    out = 0.0
    if th.thread_id == 0:
        for w in vals:
            out += w
    th.syncthreads()
    return out


class _Worker(threading.Thread):
    """A pooled Python thread that plays one simulated CUDA thread per task.

    It carries the attributes the simulator reads from
    ``threading.current_thread()`` (``threadIdx``, ``blockIdx``,
    ``thread_id``, ``_manager``, ``syncthreads`` ...), rebound per task.
    """

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self._go = threading.Event()
        self.syncthreads_event = threading.Event()
        self.syncthreads_blocked = False
        self.abort = False
        self.exception = None
        self.done = True
        self.debug = False
        self._manager = None
        self._target_fn = None
        self.threadIdx = self.blockIdx = None
        self.thread_id = 0

    def setup(self, manager, grid_point, block_point, target, dim3) -> None:
        self._manager = manager
        self._target_fn = target
        self.blockIdx = dim3(*grid_point)
        self.threadIdx = dim3(*block_point)
        bx, by, _ = manager._block_dim
        self.thread_id = self.threadIdx.x + bx * (self.threadIdx.y + by * self.threadIdx.z)
        self.syncthreads_event.clear()
        self.syncthreads_blocked = False
        self.abort = False
        self.exception = None
        self.done = False

    def _signal(self) -> None:
        cond = self._manager._itersolve_cond
        with cond:
            cond.notify()

    def run(self) -> None:
        while True:
            self._go.wait()
            self._go.clear()
            try:
                self._target_fn()
            except Exception as e:  # noqa: BLE001 - reported by the manager, as the simulator does
                import sys

                tid = "tid=%s" % list(self.threadIdx)
                ctaid = "ctaid=%s" % list(self.blockIdx)
                msg = "%s %s" % (tid, ctaid) if str(e) == "" else "%s %s: %s" % (tid, ctaid, e)
                try:
                    exc = type(e)(msg)
                except Exception:  # noqa: BLE001 - exception types with other constructors
                    exc = e
                self.exception = (exc, sys.exc_info()[2])
            finally:
                self.done = True
                self._signal()

    def syncthreads(self) -> None:
        if self.abort:
            raise RuntimeError("abort flag set on syncthreads call")
        self.syncthreads_blocked = True
        self._signal()
        self.syncthreads_event.wait()
        self.syncthreads_event.clear()
        if self.abort:
            raise RuntimeError("abort flag set on syncthreads clear")

    def syncthreads_count(self, value):
        import numpy as np

        idx = self.threadIdx.x, self.threadIdx.y, self.threadIdx.z
        self._manager.block_state[idx] = value
        self.syncthreads()
        count = np.count_nonzero(self._manager.block_state)
        self.syncthreads()
        return count

    def syncthreads_and(self, value):
        import numpy as np

        idx = self.threadIdx.x, self.threadIdx.y, self.threadIdx.z
        self._manager.block_state[idx] = value
        self.syncthreads()
        test = np.all(self._manager.block_state)
        self.syncthreads()
        return 1 if test else 0

    def syncthreads_or(self, value):
        import numpy as np

        idx = self.threadIdx.x, self.threadIdx.y, self.threadIdx.z
        self._manager.block_state[idx] = value
        self.syncthreads()
        test = np.any(self._manager.block_state)
        self.syncthreads()
        return 1 if test else 0


_idle: list[_Worker] = []


def _take(n: int) -> list[_Worker]:
    with _lock:
        got = [_idle.pop() for _ in range(min(n, len(_idle)))]
    while len(got) < n:
        w = _Worker()
        w.start()
        got.append(w)
    return got


def _give_back(workers: list[_Worker]) -> None:
    with _lock:
        _idle.extend(workers)


def _patch_block_manager(kernel_module, kernelapi) -> None:
    """Run the simulator's blocks on pooled threads, the manager sleeping until a thread blocks
    or ends (the original starts a thread per simulated thread and polls in a busy loop)."""
    manager = getattr(kernel_module, "BlockManager", None)
    original = getattr(manager, "run", None)
    if original is None or getattr(original, "_itersolve_pooled", False):
        return
    import numpy as np

    dim3 = kernelapi.Dim3

    def run(self, grid_point, *args):
        block_points = list(np.ndindex(*self._block_dim))
        self._itersolve_cond = threading.Condition()
        workers = _take(len(block_points))

        def target():
            self._f(*args)

        for w, bp in zip(workers, block_points):
            w.setup(self, grid_point, bp, target, dim3)
        for w in workers:
            w._go.set()
        failed = None
        cond = self._itersolve_cond
        with cond:
            while True:
                live = [w for w in workers if not w.done]
                failed = next((w for w in workers if w.exception), None)
                if failed is not None:
                    for w in workers:
                        w.abort = True
                        w.syncthreads_blocked = False
                        w.syncthreads_event.set()
                    for ex in getattr(self, "_itersolve_warps", {}).values():
                        ex.barrier.abort()
                    while any(not w.done for w in workers):
                        cond.wait(timeout=0.05)
                    break
                if not live:
                    break
                if all(w.syncthreads_blocked for w in live):
                    for w in live:
                        w.syncthreads_blocked = False
                        w.syncthreads_event.set()
                    continue
                cond.wait(timeout=0.5)
        _give_back(workers)
        if failed is not None:
            raise failed.exception[0].with_traceback(failed.exception[1])

    run._itersolve_pooled = True
    manager.run = run


def install() -> None:
    """Add the warp intrinsics to the simulator (idempotent)."""
    global _installed
    if _installed:
        return
    from numba.cuda.simulator import kernel as kernel_module
    from numba.cuda.simulator import kernelapi

    fake = kernelapi.FakeCUDAModule
    for name, fn in (
        ("shfl_down_sync", _shfl_down_sync),
        ("shfl_up_sync", _shfl_up_sync),
        ("shfl_xor_sync", _shfl_xor_sync),
        ("shfl_sync", _shfl_sync),
        ("syncwarp", _syncwarp),
    ):
        if not hasattr(fake, name):
            setattr(fake, name, fn)
    try:
        _patch_block_manager(kernel_module, kernelapi)
    except Exception:  # noqa: BLE001 - a speed-up only; the simulator works without it
        pass
    _installed = True
