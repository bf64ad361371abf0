"""``solve``: one front door taking a method name and a preconditioner name or object."""

from __future__ import annotations

import time
from typing import Any

from .. import sparse
from ..kernels.operator import SparseOperator
from .cg import cg
from .chebyshev import chebyshev
from .result import SolveResult
from .stationary import gauss_seidel, jacobi, sor, ssor

__all__ = ["solve", "METHODS", "PRECONDITIONERS", "make_preconditioner"]

METHODS = {
    "cg": cg,
    "chebyshev": chebyshev,
    "jacobi": jacobi,
    "gauss_seidel": gauss_seidel,
    "sor": sor,
    "ssor": ssor,
}
_TAKES_M = ("cg", "chebyshev")

#: Preconditioner names accepted by :func:`solve`, resolved lazily so that
#: importing itersolve stays cheap.
PRECONDITIONERS = ("jacobi", "ssor", "ic0", "ic1", "ilu0", "amg", "chebyshev")


def make_preconditioner(name: str, A: Any, **options: Any) -> Any:
    """Build a preconditioner from its name.

    Examples
    --------
    >>> from itersolve.pdes import poisson
    >>> make_preconditioner("ic0", poisson((8, 8))).shape
    (64, 64)
    """
    from .. import preconditioners as pc

    classes = {
        "jacobi": pc.Jacobi,
        "ssor": pc.SSOR,
        "ic0": pc.IC0,
        "ic1": pc.IC1,
        "ilu0": pc.ILU0,
        "amg": pc.AMG,
        "chebyshev": pc.Chebyshev,
    }
    key = name.lower()
    if key not in classes:
        raise ValueError(f"unknown preconditioner {name!r}; choose one of {sorted(classes)} or pass an object")
    return classes[key](A, **options)


def solve(
    A: Any,
    b: Any,
    method: str = "cg",
    M: Any = None,
    *,
    M_options: dict | None = None,
    **options: Any,
) -> SolveResult:
    """Solve ``A x = b`` with the named method and preconditioner.

    Parameters
    ----------
    A, b
        The system, as for the individual solvers.
    method : {"cg", "chebyshev", "jacobi", "gauss_seidel", "sor", "ssor"}
    M : str or preconditioner, optional
        A name among ``"jacobi"``, ``"ssor"``, ``"ic0"``, ``"ic1"``, ``"ilu0"``,
        ``"amg"``, ``"chebyshev"`` (built here, its construction counted in
        ``setup_time``), or any preconditioner object. Only for ``cg`` and
        ``chebyshev``. With device data the named preconditioner is built on
        the host and moved to the device (``"jacobi"``, ``"ic0"``, ``"ilu0"``;
        ``"ssor"`` needs ``M_options={"colored": True}``).
    M_options : dict, optional
        Keyword arguments for a preconditioner given by name, e.g.
        ``{"omega": 1.5}`` for ``"ssor"`` or ``{"kind": "rs"}`` for ``"amg"``.
    **options
        Passed to the solver: ``x0``, ``rtol``, ``atol``, ``maxiter``,
        ``callback``, ``omega`` ...

    Examples
    --------
    >>> import numpy as np, itersolve
    >>> from itersolve.pdes import poisson
    >>> A = poisson((30, 30))
    >>> res = itersolve.solve(A, np.ones(900), method="cg", M="amg", rtol=1e-8)
    >>> res.converged and res.iterations < 15
    True
    """
    key = method.lower()
    if key not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {sorted(METHODS)}")
    if M is not None and key not in _TAKES_M:
        raise ValueError(f"method {method!r} takes no preconditioner (M); use 'cg' or 'chebyshev'")
    if M_options and not isinstance(M, str):
        raise ValueError("M_options is only for a preconditioner given by name")
    t0 = time.perf_counter()
    if isinstance(M, str) and sparse.on_device(A):
        # device data: build on the host from the matrix's host copy, then move it over
        from ..cuda import to_device
        from ..cuda.operator import as_device_operator

        A = as_device_operator(A)
        M = to_device(make_preconditioner(M, A.csr, **(M_options or {})))
    elif isinstance(M, str):
        csr = A.csr if isinstance(A, SparseOperator) else sparse.as_csr(A)
        M = make_preconditioner(M, csr, **(M_options or {}))
        A = csr
    build_time = time.perf_counter() - t0
    kwargs = dict(options)
    if key in _TAKES_M:
        kwargs["M"] = M
    result = METHODS[key](A, b, **kwargs)
    result.setup_time += build_time
    return result
