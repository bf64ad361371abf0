"""What every solver does before and after its loop.

``prepare`` normalises the inputs once (through :mod:`itersolve.sparse`, or
its device twin), builds the operator's fast layout and the stopping target,
and picks the *backend* the loop runs on: :mod:`itersolve.kernels.backend`
for host arrays, :mod:`itersolve.cuda.backend` for device arrays (a mix of
the two is refused). ``finish`` recomputes the true residual and never lets a
solve claim convergence that the true residual does not confirm. Solvers own
only their loops, written once against the backend.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from scipy.sparse.linalg import LinearOperator

from .. import sparse
from ..kernels import backend as cpu_backend
from ..kernels.operator import SparseOperator
from .result import Reason, SolveResult

__all__ = ["Problem", "prepare", "finish", "as_preconditioner", "LinearOperatorAdapter", "select_backend",
           "backend_of", "MAX_RESIDUAL_REPLACEMENTS", "confirm_target"]

#: How often a solve may replace its recursive residual by the true one when
#: the two disagree at the tolerance before it gives up as stagnated.
MAX_RESIDUAL_REPLACEMENTS = 5


def confirm_target(op: Any, x: Any, b: Any, r: Any, history: list, target: float,
                   replacements: int) -> tuple[float, Reason | None, int]:
    """The recursive residual met ``target``: recompute ``r = b − A x`` and decide.

    The true norm replaces the last entry of ``history``. Returns ``(‖r‖², reason,
    replacements)``: ``CONVERGED_RTOL`` when the true residual meets the target;
    otherwise one more replacement, and ``DIVERGED_STAGNATION`` once more than
    :data:`MAX_RESIDUAL_REPLACEMENTS` were needed, else ``None`` (the solver
    restarts from the true residual).
    """
    rr = op.residual(x, b, r)
    history[-1] = math.sqrt(rr)
    if history[-1] <= target:
        return rr, Reason.CONVERGED_RTOL, replacements
    replacements += 1
    return rr, (Reason.DIVERGED_STAGNATION if replacements > MAX_RESIDUAL_REPLACEMENTS else None), replacements


class LinearOperatorAdapter:
    """Gives a scipy ``LinearOperator`` the small interface of :class:`SparseOperator`."""

    layout = "linear-operator"

    def __init__(self, A: LinearOperator, dtype: np.dtype):
        self.op = A
        self.shape = A.shape
        self.n = A.shape[0]
        self.dtype = np.dtype(dtype)

    def _product(self, x: np.ndarray) -> np.ndarray:
        y = np.asarray(self.op.matvec(x)).reshape(-1)
        if y.shape[0] != self.n:
            raise ValueError(f"A.matvec returned a vector of length {y.shape[0]}, expected {self.n}")
        return y

    def matvec(self, x: np.ndarray, out: np.ndarray) -> np.ndarray:
        out[:] = self._product(x)
        return out

    def residual(self, x: np.ndarray, b: np.ndarray, out: np.ndarray) -> float:
        np.subtract(b, self._product(x), out=out)
        return float(np.dot(out, out))

    def matvec_dot(self, x: np.ndarray, out: np.ndarray) -> float:
        out[:] = self._product(x)
        return float(np.dot(x, out))


@dataclass
class Problem:
    """A normalised system ready for a solver loop."""

    op: Any
    b: np.ndarray
    x: np.ndarray
    dtype: np.dtype
    target: float
    bnorm: float
    rtol: float
    atol: float
    maxiter: int
    t_start: float
    backend: Any = cpu_backend
    check_every: int = 1

    @property
    def n(self) -> int:
        return self.b.shape[0]

    def steps(self, callback: Any) -> int:
        """Iterations a loop runs between two looks at its state: 1 with a callback (it must see
        every iterate) or on the CPU, ``check_every`` on the device."""
        return 1 if callback is not None else self.check_every

    def details(self, details: dict) -> dict:
        """``details`` plus, for a device solve, the backend and ``check_every``."""
        if self.backend.on_device:
            details = {**details, "backend": self.backend.name, "check_every": self.check_every}
        return details

    @property
    def csr(self):
        """The CSR matrix, for methods that sweep over rows."""
        return self.op.csr


def _describe(obj: Any) -> str:
    return type(obj).__name__


def select_backend(**named: Any) -> Any:
    """The backend for these inputs (``None`` values are ignored).

    All on the host -> the CPU backend; all on the device -> the CUDA backend
    (:class:`itersolve.cuda.CudaUnavailableError` when no GPU can be used);
    a mix -> ``TypeError`` naming which argument is on which side.

    Examples
    --------
    >>> import numpy as np
    >>> select_backend(A=np.eye(2), b=np.ones(2)).name
    'cpu'
    """
    device = [k for k, v in named.items() if v is not None and sparse.on_device(v)]
    if not device:
        return cpu_backend
    host = [k for k, v in named.items() if v is not None and k not in device]
    if host:
        on_dev = ", ".join(f"{k} ({_describe(named[k])})" for k in device)
        on_host = ", ".join(f"{k} ({_describe(named[k])})" for k in host)
        raise TypeError(
            f"mixed host and device inputs: {on_dev} on the device but {on_host} on the host; "
            "put them all on one side (itersolve.cuda.to_device(...) moves host data to the GPU, "
            ".copy_to_host() / .get() brings device arrays back)"
        )
    return _cuda_backend()


def _cuda_backend() -> Any:
    try:
        from ..cuda import backend as cuda_backend
    except ImportError as exc:  # pragma: no cover - numba-cuda missing
        raise ImportError(
            "device arrays need the CUDA extra: pip install 'itersolve[cuda]' (numba-cuda)"
        ) from exc
    cuda_backend.require_gpu("a solve on device arrays")
    return cuda_backend


def backend_of(op: Any) -> Any:
    """The backend an operator's products run on."""
    return _cuda_backend() if getattr(op, "__itersolve_device__", False) else cpu_backend


def _check_every(check_every: Any, device: bool) -> int:
    if check_every is None:
        return 1
    if isinstance(check_every, bool) or not isinstance(check_every, (int, np.integer)) or check_every < 1:
        raise ValueError(f"check_every must be an integer >= 1, got {check_every!r}")
    return int(check_every) if device else 1


def prepare(
    A: Any,
    b: Any,
    x0: Any,
    *,
    rtol: float,
    atol: float,
    maxiter: int | None,
    matrix_free: bool = False,
    default_maxiter: Callable[[int], int] = lambda n: 10 * n,
    check_every: int | None = None,
) -> Problem:
    """Normalise ``A``, ``b``, ``x0`` and the stopping rule for one solve.

    ``A`` may be a :class:`SparseOperator` (reused as it is: its layout was
    chosen when it was built), anything :func:`sparse.as_csr` accepts, or, when
    ``matrix_free``, a ``LinearOperator``. When the inputs are device arrays
    (a :class:`itersolve.cuda.DeviceCSR`, Numba/CuPy/PyTorch device vectors)
    the problem lives on the device and ``check_every`` (default 1) sets how
    many iterations run between two reads of the loop state; on the CPU it is
    always 1.
    """
    t0 = time.perf_counter()
    backend = select_backend(A=A, b=b, x0=x0)
    every = _check_every(check_every, backend.on_device)
    if backend.on_device:
        op, bvec, x, dtype = backend.normalize(A, b, x0, matrix_free=matrix_free)
        n = op.shape[0]
        rtol, atol, maxiter = sparse.check_tolerances(rtol, atol, maxiter, default_maxiter(n))
        bnorm = backend.norm(bvec)
        target = max(rtol * bnorm, atol)
        return Problem(op, bvec, x, dtype, target, bnorm, rtol, atol, maxiter, t0, backend, every)
    mat = A if isinstance(A, SparseOperator) else (sparse.as_operator(A) if matrix_free else sparse.as_csr(A))
    n = mat.shape[0]
    bvec = sparse.as_vector(b, n, name="b", copy=False)
    dtype = sparse.solve_dtype(mat.dtype if mat.dtype is not None else np.float64, bvec.dtype)
    if isinstance(mat, SparseOperator):
        if mat.dtype != dtype:
            raise TypeError(f"A is a {mat.dtype} SparseOperator but b needs {dtype}; build the operator in {dtype}")
        op = mat
    elif isinstance(mat, LinearOperator):
        op = LinearOperatorAdapter(mat, dtype)
    else:
        op = SparseOperator(mat if mat.dtype == dtype else sparse.as_csr(mat, dtype=dtype))
    bvec = np.ascontiguousarray(bvec, dtype=dtype)
    if x0 is None:
        x = np.zeros(n, dtype=dtype)
    else:
        x = sparse.as_vector(x0, n, name="x0", dtype=dtype, copy=True)
    rtol, atol, maxiter = sparse.check_tolerances(rtol, atol, maxiter, default_maxiter(n))
    bnorm = float(np.linalg.norm(bvec.astype(np.float64, copy=False)))
    target = max(rtol * bnorm, atol)
    return Problem(op, bvec, x, dtype, target, bnorm, rtol, atol, maxiter, t0, cpu_backend, every)


def finish(
    problem: Problem,
    x: np.ndarray,
    reason: Reason,
    iterations: int,
    residuals: list[float],
    t_loop: float,
    *,
    extra_setup: float = 0.0,
    details: dict | None = None,
) -> SolveResult:
    """Recompute the true residual, settle the reason and build the result.

    A solve whose loop believed it converged but whose true residual misses
    the target is reported as ``DIVERGED_STAGNATION`` (the attainable accuracy
    was reached first); a NaN/Inf iterate is reported as ``DIVERGED_NANORINF``.
    """
    t_end = time.perf_counter()
    B = problem.backend
    r = B.empty_like(problem.b)
    if B.all_finite(x):
        rnorm = float(np.sqrt(problem.op.residual(x, problem.b, r)))
    else:
        rnorm = float("nan")
    if not np.isfinite(rnorm):
        reason = Reason.DIVERGED_NANORINF
    elif reason.converged and rnorm > problem.target:
        reason = Reason.DIVERGED_STAGNATION
    elif not reason.converged and reason == Reason.DIVERGED_MAXITER and rnorm <= problem.target:
        reason = converged_reason(problem)
    if reason.converged:
        reason = converged_reason(problem)
    hist = np.asarray(residuals, dtype=np.float64)
    if hist.size:
        hist[-1] = rnorm
    return SolveResult(
        x=x,
        reason=reason,
        iterations=iterations,
        residuals=hist,
        setup_time=(t_loop - problem.t_start) + extra_setup,
        solve_time=t_end - t_loop,
        residual_norm=rnorm,
        target=problem.target,
        details=problem.details(details or {}),
    )


def converged_reason(problem: Problem) -> Reason:
    """RTOL when the relative part of the target binds, ATOL otherwise."""
    if problem.atol >= problem.rtol * problem.bnorm:
        return Reason.CONVERGED_ATOL
    return Reason.CONVERGED_RTOL


class _OperatorPreconditioner:
    """Applies anything with ``@`` or ``matvec`` (a matrix, a LinearOperator, a callable)."""

    def __init__(self, M: Any, n: int):
        self.M = M
        self.n = n
        if callable(M) and not hasattr(M, "shape"):
            self._apply = M
        else:
            shape = getattr(M, "shape", None)
            if shape is None or tuple(shape) != (n, n):
                raise ValueError(f"M must have shape ({n}, {n}), got {shape}")
            self._apply = M.matvec if hasattr(M, "matvec") else (lambda r: M @ r)

    def apply(self, r: np.ndarray, out: np.ndarray) -> np.ndarray:
        z = np.asarray(self._apply(r)).reshape(-1)
        if z.shape[0] != self.n:
            raise ValueError(f"M returned a vector of length {z.shape[0]}, expected {self.n}")
        out[:] = z
        return out


def as_preconditioner(M: Any, n: int, backend: Any = cpu_backend, dtype: Any = None) -> Any:
    """Return an object with ``apply(r, out)`` for ``backend``'s vectors; ``None`` stays ``None``.

    On the CPU, itersolve's own preconditioners are used directly; any other
    matrix, ``LinearOperator`` or callable ``r -> M⁻¹r`` is wrapped. On the
    device, see :func:`itersolve.cuda.backend.as_preconditioner`. A
    preconditioner on the other side than the vectors raises ``TypeError``.
    """
    if M is None:
        return None
    if backend.on_device:
        return backend.as_preconditioner(M, n, dtype)
    if sparse.on_device(M):
        raise TypeError(
            f"mixed host and device inputs: M ({_describe(M)}) is on the device but A and b are on the host; "
            "use the host preconditioner, or move A and b with itersolve.cuda.to_device"
        )
    from ..preconditioners.base import Preconditioner

    if isinstance(M, Preconditioner):
        if M.shape != (n, n):
            raise ValueError(f"M has shape {M.shape} but A has shape ({n}, {n})")
        return M
    if isinstance(M, str):
        raise TypeError("M given by name is accepted by itersolve.solve(); the solvers take an object")
    return _OperatorPreconditioner(M, n)
