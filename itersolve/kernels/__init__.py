"""Numba CPU kernels: the small kernel set every solver is written against.

No algorithm logic and no validation lives here (see ``CONTRACT.md`` and
:mod:`itersolve.sparse`). All kernels are ``@njit(cache=True)`` and compile
lazily, once per combination of float32/float64 values and int32/int64
indices; the compiled code is cached on disk.

Modules
-------
operator
    :class:`SparseOperator` -- CSR plus a faster layout (DIA) chosen once.
blas
    dot products, norms, fused CG updates (float64 accumulation).
spmv
    CSR and DIA sparse matrix-vector products, fused residual / dot variants.
sweeps
    Jacobi, SOR forward/backward, multicolour SOR.
coloring
    greedy colouring of the matrix graph, rows grouped by colour.
triangular
    level schedules and lower/upper triangular solves.
factorize
    IC(0) and ILU(0).

Examples
--------
>>> import numpy as np, scipy.sparse as sp
>>> from itersolve import kernels
>>> A = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(4, 4), format="csr")
>>> op = kernels.SparseOperator(A)
>>> x = np.ones(4)
>>> kernels.dot(x, op.matvec(x, np.empty(4)))
2.0
"""

from . import blas, coloring, factorize, operator, spmv, sweeps, triangular
from .blas import axpby, axpy, cg_update, copy, diag_scale, dot, norm2sq, pcg_update, scale, xpay
from .coloring import color_partition, greedy_coloring
from .factorize import ic0, ilu0
from .operator import SparseOperator
from .spmv import (
    csr_apply,
    csr_matvec,
    csr_matvec_dot,
    csr_residual,
    csr_to_dia,
    dia_apply,
    dia_matvec,
    dia_matvec_dot,
    dia_offsets,
    dia_residual,
)
from .sweeps import jacobi_sweep, sor_backward, sor_colored, sor_forward
from .triangular import level_schedule, lower_solve, tri_solve, upper_solve

__all__ = [
    "blas",
    "coloring",
    "factorize",
    "operator",
    "spmv",
    "sweeps",
    "triangular",
    "SparseOperator",
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
    "csr_apply",
    "csr_matvec",
    "csr_residual",
    "csr_matvec_dot",
    "dia_offsets",
    "csr_to_dia",
    "dia_apply",
    "dia_matvec",
    "dia_residual",
    "dia_matvec_dot",
    "jacobi_sweep",
    "sor_forward",
    "sor_backward",
    "sor_colored",
    "greedy_coloring",
    "color_partition",
    "level_schedule",
    "lower_solve",
    "upper_solve",
    "tri_solve",
    "ic0",
    "ilu0",
]
