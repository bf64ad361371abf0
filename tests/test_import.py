"""``import itersolve`` is fast and pulls in no heavy framework."""

from __future__ import annotations

import subprocess
import sys


def _run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout


def test_import_does_not_load_torch_or_jax():
    out = _run("import sys, itersolve; print(sorted(m for m in ('torch', 'jax', 'torch_geometric', 'pyamg') "
               "if m in sys.modules))")
    assert out.strip() == "[]"


def test_import_under_one_second():
    # CPU time of the import, best of three fresh interpreters: wall time would
    # also count the other test worker sharing the two cores
    code = "import time; t=time.process_time(); import itersolve; print(time.process_time()-t)"
    times = [float(_run(code)) for _ in range(3)]
    assert min(times) < 1.0, times


def test_public_api():
    import itersolve

    for name in ("cg", "sor", "ssor", "jacobi", "gauss_seidel", "chebyshev", "fixed_point", "solve",
                 "SolveResult", "Reason"):
        assert callable(getattr(itersolve, name)) or name in ("SolveResult", "Reason")
    from itersolve import preconditioners as pc

    for name in ("Jacobi", "SSOR", "IC0", "ILU0", "AMG", "Chebyshev", "Preconditioner"):
        assert hasattr(pc, name)
