"""The scalars of a solver loop, kept where the vectors live.

A loop's scalars -- its status, CG's step lengths, the residual history --
sit in one small array ``S`` made by the backend (``B.new_state``): a Python
list on the CPU, a float64 array on the GPU. Reductions hand their values to
*scalar rules*, the plain functions below and in the solvers, which the CPU
backend calls directly and the CUDA backend compiles into its kernels. So on
the GPU an iteration needs nothing from the host: step lengths are computed
on the device, a breakdown or convergence sets ``S[STATUS]``, and every
later state-changing operation of the loop does nothing (the loop *freezes*
exactly where it stopped). The host reads ``S`` back with
:meth:`Monitor.poll` once per check -- every iteration on the CPU, every
``check_every`` iterations on the GPU -- and gets the new residual norms
from a ring buffer. Results therefore do not depend on ``check_every``.

Rules are written for both targets: only ``S[i]`` reads and writes, ``math``
functions and arithmetic, and helpers marked ``register_jitable``.

Examples
--------
>>> from itersolve.kernels import backend as B
>>> S = new_state(B, 2, target=1.0)
>>> record_residual(S, 4.0); record_residual(S, 0.25)
>>> m = Monitor(B, S, [])
>>> m.poll(), m.history        # ||r|| = 2 then 0.5 <= target
((1, 2), [2.0, 0.5])
"""

from __future__ import annotations

import math
from typing import Any

from numba.extending import register_jitable

from .result import Reason

__all__ = [
    "STATUS", "ITERS", "CAP", "TARGET", "DTOL", "RZ", "ALPHA", "BETA", "RR", "HIST",
    "RUNNING", "MET_TARGET", "NANORINF", "INDEFINITE_MAT", "INDEFINITE_PC", "BREAKDOWN", "DIVERGED_DTOL",
    "REASONS", "new_state", "record_residual", "rz_status", "Monitor",
]

# slots
STATUS = 0  #: loop status (one of the codes below); state-changing operations run only while 0
ITERS = 1  #: iterations recorded so far
CAP = 2  #: length of the history ring
TARGET = 3  #: stop when ||r|| <= TARGET
DTOL = 4  #: diverged when ||r|| > DTOL
RZ = 5  #: CG: r . z
ALPHA = 6  #: CG: step length
BETA = 7  #: CG: direction update coefficient
RR = 8  #: last ||r||^2
HIST = 9  #: first slot of the ring of ||r|| values

# status codes
RUNNING = 0.0
MET_TARGET = 1.0  #: the (recursive) residual reached the target: the host decides
NANORINF = 2.0
INDEFINITE_MAT = 3.0
INDEFINITE_PC = 4.0
BREAKDOWN = 5.0
DIVERGED_DTOL = 6.0

#: Final reason of each stopping status (``MET_TARGET`` is settled by the solver).
REASONS = {
    int(NANORINF): Reason.DIVERGED_NANORINF,
    int(INDEFINITE_MAT): Reason.DIVERGED_INDEFINITE_MAT,
    int(INDEFINITE_PC): Reason.DIVERGED_INDEFINITE_PC,
    int(BREAKDOWN): Reason.DIVERGED_BREAKDOWN,
    int(DIVERGED_DTOL): Reason.DIVERGED_DTOL,
}


def new_state(B: Any, capacity: int, *, target: float, dtol: float = math.inf, rz: float = 0.0) -> Any:
    """A fresh loop state on backend ``B`` with a history ring of ``capacity`` entries."""
    capacity = max(int(capacity), 1)
    return B.new_state(HIST + capacity, {CAP: capacity, TARGET: target, DTOL: dtol, RZ: rz})


@register_jitable
def record_residual(S, rr):
    """Rule: one iteration is done and ``||r||^2 = rr``.

    Logs ``||r||`` and stops on NaN/Inf, on reaching the target or on
    exceeding the divergence bound (in that order).
    """
    if S[STATUS] != RUNNING:
        return
    k = S[ITERS]
    rn = math.sqrt(rr)
    S[HIST + int(k % S[CAP])] = rn
    S[ITERS] = k + 1.0
    S[RR] = rr
    if not math.isfinite(rr):
        S[STATUS] = NANORINF
    elif rn <= S[TARGET]:
        S[STATUS] = MET_TARGET
    elif rn > S[DTOL]:
        S[STATUS] = DIVERGED_DTOL


@register_jitable
def rz_status(rz):
    """Status for a preconditioned inner product ``r . M^-1 r``."""
    if not math.isfinite(rz):
        return NANORINF
    if rz < 0.0:
        return INDEFINITE_PC
    if rz == 0.0:
        return BREAKDOWN
    return RUNNING


class Monitor:
    """The host's view of a loop state: new residual norms, iterations done, status.

    ``history`` (a list, usually the solver's) gets every recorded ``||r||``
    appended by :meth:`poll`; ``k`` counts the recorded iterations.
    """

    __slots__ = ("B", "S", "history", "k", "host")

    def __init__(self, B: Any, S: Any, history: list) -> None:
        self.B, self.S, self.history, self.k = B, S, history, 0
        self.host = not B.on_device  # then S is already a host list: nothing to read back

    def poll(self) -> tuple[int, int]:
        """Read the state (one read-back on the GPU): ``(status, iterations new since last poll)``."""
        st = self.S if self.host else self.B.read_state(self.S)
        done = int(st[ITERS])
        k = self.k
        if done != k:
            cap = int(st[CAP])
            history = self.history
            for j in range(k, done):
                history.append(float(st[HIST + j % cap]))
            self.k = done
        return int(st[STATUS]), done - k
