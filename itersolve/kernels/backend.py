"""The CPU backend: the vector operations the solvers are written against, on NumPy arrays.

A solver is written once against a *backend* -- a namespace of the
operations below -- and :func:`itersolve.solvers._driver.prepare` picks the
backend from the inputs: this module for NumPy arrays, :mod:`itersolve.cuda.backend`
(the same names, on device arrays) for GPU arrays. Everything here is a thin
layer over the Numba kernels of :mod:`.blas`, :mod:`.sweeps` and
:mod:`.coloring`: no extra pass over the data and no allocation per call.

Two kinds of operations:

Plain
    ``dot``, ``norm2sq``, ``norm``, ``all_finite``, ``cg_update`` return Python
    floats/bools; ``axpy``, ``xpay``, ``axpby``, ``scale``, ``diag_scale``,
    ``copy`` work in place; ``empty``, ``zeros``, ``empty_like``,
    ``zeros_like``, ``from_host``, ``to_host`` allocate and move.

Loop state (the ``s_`` operations)
    A solver loop keeps its scalars (status, step lengths, the residual
    history) in a small *state* ``S`` that lives where the vectors live: a
    Python list here, a float64 device array on the GPU. A reduction hands its
    value to a *scalar rule* ``rule(S, value)`` (a plain Python function of
    the solver) instead of returning it; a coefficient can be a number or a
    :class:`Slot` of ``S``. Every ``s_`` operation does nothing once
    ``S[STATUS]`` is not zero (the loop stopped). On the GPU this lets a loop
    run several iterations without reading anything back; here it costs a
    list look-up.

Examples
--------
>>> import numpy as np
>>> from itersolve.kernels import backend as B
>>> x = np.arange(3.0); y = np.ones(3)
>>> B.dot(x, y), B.norm(np.array([3.0, 4.0]))
(3.0, 5.0)
>>> S = B.new_state(4, {1: 2.0})
>>> B.s_xpay(x, B.Slot(1), y, S); y        # y = x + S[1] y
array([2., 3., 4.])
>>> B.s_dot(x, y, S, lambda S, v: S.__setitem__(2, v)); S[2]
11.0
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from . import blas, coloring, sweeps

__all__ = [
    "name",
    "on_device",
    "Slot",
    "STATUS",
    "empty",
    "zeros",
    "empty_like",
    "zeros_like",
    "from_host",
    "to_host",
    "copy",
    "dot",
    "norm2sq",
    "norm",
    "all_finite",
    "axpy",
    "xpay",
    "axpby",
    "scale",
    "diag_scale",
    "cg_update",
    "new_state",
    "set_state",
    "read_state",
    "s_matvec",
    "s_matvec_dot",
    "s_residual",
    "s_dot",
    "s_cg_update",
    "s_xpay",
    "s_scale",
    "s_diag_axpy",
    "color_partition",
    "sor_forward",
    "sor_backward",
    "sor_colored",
]

#: The backend's name.
name = "cpu"
#: Whether the arrays live on a GPU.
on_device = False

#: Index of the loop status in a state ``S``; the ``s_`` operations run only while it is 0.
STATUS = 0

Rule = Callable[[Any, float], None]


class Slot(int):
    """A coefficient read from the loop state: ``Slot(i)`` stands for ``S[i]``.

    Examples
    --------
    >>> Slot(3) == 3, isinstance(Slot(3), Slot)
    (True, True)
    """

    __slots__ = ()


def _coef(v: Any, S: Any) -> float:
    return S[v] if type(v) is Slot else v


# ------------------------------------------------------------------ arrays


def empty(n: int, dtype: Any) -> np.ndarray:
    """An uninitialised vector."""
    return np.empty(n, dtype)


def zeros(n: int, dtype: Any) -> np.ndarray:
    """A zero vector."""
    return np.zeros(n, dtype)


def empty_like(x: np.ndarray) -> np.ndarray:
    """An uninitialised vector like ``x``."""
    return np.empty_like(x)


def zeros_like(x: np.ndarray) -> np.ndarray:
    """A zero vector like ``x``."""
    return np.zeros_like(x)


def from_host(a: np.ndarray) -> np.ndarray:
    """A host array as a backend array (here: itself, made contiguous)."""
    return np.ascontiguousarray(a)


def to_host(x: np.ndarray) -> np.ndarray:
    """A backend array as a NumPy array (here: itself)."""
    return x


copy = blas.copy
dot = blas.dot
norm2sq = blas.norm2sq
axpy = blas.axpy
xpay = blas.xpay
axpby = blas.axpby
scale = blas.scale
diag_scale = blas.diag_scale
cg_update = blas.cg_update


def norm(x: np.ndarray) -> float:
    """``||x||_2`` (float64 accumulation)."""
    return math.sqrt(blas.norm2sq(x))


def all_finite(x: np.ndarray) -> bool:
    """Whether ``x`` holds no NaN or Inf."""
    return bool(np.isfinite(x).all())


# -------------------------------------------------------------- loop state


def new_state(size: int, values: dict[int, float]) -> list[float]:
    """A loop state of ``size`` float slots, zero but for ``values`` (slot -> value)."""
    S = [0.0] * size
    for i, v in values.items():
        S[i] = float(v)
    return S


def set_state(S: list[float], values: dict[int, float]) -> None:
    """Write slots of the state."""
    for i, v in values.items():
        S[i] = float(v)


def read_state(S: list[float]) -> list[float]:
    """The state as host values (here: the list itself, no copy)."""
    return S


def s_matvec(op: Any, x: np.ndarray, out: np.ndarray, S: list) -> None:
    """``out = A x`` unless stopped."""
    if S[0] == 0.0:
        op.matvec(x, out)


def s_matvec_dot(op: Any, x: np.ndarray, out: np.ndarray, S: list, rule: Rule) -> None:
    """``out = A x``; ``rule(S, x . out)`` -- unless stopped."""
    if S[0] == 0.0:
        rule(S, op.matvec_dot(x, out))


def s_residual(op: Any, x: np.ndarray, b: np.ndarray, out: np.ndarray, S: list, rule: Rule) -> None:
    """``out = b - A x``; ``rule(S, out . out)`` -- unless stopped."""
    if S[0] == 0.0:
        rule(S, op.residual(x, b, out))


def s_dot(x: np.ndarray, y: np.ndarray, S: list, rule: Rule) -> None:
    """``rule(S, x . y)`` unless stopped."""
    if S[0] == 0.0:
        rule(S, blas.dot(x, y))


def s_cg_update(x: np.ndarray, r: np.ndarray, p: np.ndarray, q: np.ndarray, alpha: Any, S: list,
                rule: Rule) -> None:
    """``x += alpha p``; ``r -= alpha q``; ``rule(S, r . r)`` -- one pass, unless stopped."""
    if S[0] == 0.0:
        rule(S, blas.cg_update(x, r, p, q, S[alpha] if type(alpha) is Slot else alpha))


def s_xpay(x: np.ndarray, beta: Any, y: np.ndarray, S: list) -> None:
    """``y = x + beta y`` unless stopped."""
    if S[0] == 0.0:
        blas.xpay(x, S[beta] if type(beta) is Slot else beta, y)


def s_scale(a: Any, x: np.ndarray, out: np.ndarray, S: list) -> None:
    """``out = a x`` unless stopped."""
    if S[0] == 0.0:
        blas.scale(_coef(a, S), x, out)


def s_diag_axpy(d: np.ndarray, r: np.ndarray, x: np.ndarray, S: list, work: np.ndarray) -> None:
    """``x += d * r`` (the Jacobi update; ``work`` is scratch) unless stopped."""
    if S[0] == 0.0:
        np.multiply(d, r, out=work)
        x += work


# ------------------------------------------------------------------ sweeps


def color_partition(op: Any) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``op``'s matrix grouped by a greedy colouring: ``(color_ptr, color_rows)``."""
    A = op.csr
    return coloring.color_partition(coloring.greedy_coloring(A.indptr, A.indices))


def sor_forward(op: Any, diag: np.ndarray, x: np.ndarray, b: np.ndarray, omega: Any, S: list) -> None:
    """One natural-order SOR sweep (rows 0..n-1) unless stopped."""
    if S[0] == 0.0:
        A = op.csr
        sweeps.sor_forward(A.indptr, A.indices, A.data, diag, x, b, omega)


def sor_backward(op: Any, diag: np.ndarray, x: np.ndarray, b: np.ndarray, omega: Any, S: list) -> None:
    """One natural-order SOR sweep (rows n-1..0) unless stopped."""
    if S[0] == 0.0:
        A = op.csr
        sweeps.sor_backward(A.indptr, A.indices, A.data, diag, x, b, omega)


def sor_colored(op: Any, diag: np.ndarray, x: np.ndarray, b: np.ndarray, omega: Any,
                colors: tuple[np.ndarray, np.ndarray], reverse: bool, S: list) -> None:
    """One multicolour SOR sweep (colours in order, or reversed) unless stopped."""
    if S[0] == 0.0:
        A = op.csr
        sweeps.sor_colored(A.indptr, A.indices, A.data, diag, x, b, omega, colors[0], colors[1], reverse)
