"""Benchmark suites behind ``itersolve bench``.

Each suite prints a table and writes JSON (and PNG where it plots) under the
output directory. ``convergence`` is the main job that ``make bench`` runs.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["run_suite"]


def run_suite(suite: str, *, full: bool = False, matrix: str | None = None, out_dir: str = "bench-results",
              progress: bool = True) -> dict:
    """Run one suite by name: convergence, kernels, solvers or perf (= kernels + solvers)."""
    from .report import write_json

    if suite == "convergence":
        from . import convergence

        return convergence.run(full, matrix=matrix, out_dir=out_dir, progress_bar=progress)
    if matrix is not None:
        raise ValueError("--matrix applies to the convergence suite only")
    results = {}
    if suite in ("kernels", "perf"):
        from . import kernels

        print("== kernels ==")
        results["kernels"] = kernels.run(quick=not full, out_dir=out_dir)
        write_json(Path(out_dir) / "kernels.json", {"suite": "kernels", **results["kernels"]})
    if suite in ("solvers", "perf"):
        from . import solvers

        print("== solvers ==")
        results["solvers"] = solvers.run(quick=not full, out_dir=out_dir)
    if not results:
        raise ValueError(f"unknown suite {suite!r}")
    return results
