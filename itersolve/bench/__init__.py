"""Benchmark suites behind ``itersolve bench``.

Each suite prints a table and writes JSON (and PNG where it plots) under the
output directory. ``convergence`` is the main job that ``make bench`` runs;
``gnn`` compares the learned GNN preconditioners with IC(0) and AMG (torch extra);
``bandits`` is the bandit-tuned relaxation study (:mod:`.bandits`);
``dcdm`` (:mod:`.dcdm`, torch extra) and ``stagger`` (:mod:`.stagger`, jax extra) the
deep-conjugate-direction and NeuralStagger studies; ``cuda`` measures the GPU kernels and CG against CuPy (:mod:`.cuda`; skipped without a GPU).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["run_suite"]


def run_suite(suite: str, *, full: bool = False, matrix: str | None = None, out_dir: str = "bench-results",
              progress: bool = True, simulator: bool = False, cache_dir: str | None = None,
              models: dict[int, str] | None = None, sizes: dict[int, tuple[int, ...]] | None = None,
              threads: int | None = None) -> dict:
    """Run one suite by name: convergence, kernels, solvers, perf (= kernels + solvers), gnn, bandits, dcdm, stagger or cuda.

    ``simulator`` (cuda suite only) switches the Numba CUDA simulator on and
    runs that suite at toy sizes; ``cache_dir`` (bandits suite only) keeps the
    per-arm cost tables between runs; ``models`` and ``sizes`` (dcdm suite
    only) replace the shipped model of a dimension and the grid sides
    (only the dimensions named run); ``threads`` (dcdm suite only) sets
    torch's threads for the networks.
    """
    from .report import write_json

    if simulator and suite != "cuda":
        raise ValueError("--simulator applies to the cuda suite only")
    if cache_dir is not None and suite != "bandits":
        raise ValueError("--cache-dir applies to the bandits suite only")
    if (models or sizes or threads) and suite != "dcdm":
        raise ValueError("--models, --sizes and --threads apply to the dcdm suite only")
    if suite == "cuda":
        if matrix is not None:
            raise ValueError("--matrix applies to the convergence suite only")
        from . import cuda as cuda_bench

        if simulator and not cuda_bench.enable_simulator():
            raise RuntimeError("--simulator: numba.cuda was already imported without the simulator")
        return {"cuda": cuda_bench.run(quick=not full, out_dir=out_dir, tiny=simulator)}

    if suite == "gnn":
        if matrix is not None:
            raise ValueError("--matrix applies to the convergence suite only")
        from . import gnn

        return gnn.run(full, out_dir=out_dir, progress_bar=progress)

    if suite in ("dcdm", "stagger"):
        if matrix is not None:
            raise ValueError("--matrix applies to the convergence suite only")
        import importlib

        module = importlib.import_module(f"{__name__}.{suite}")
        print(f"== {suite} ==")
        extra = {"models": models, "sizes": sizes, "threads": threads} if suite == "dcdm" else {}
        return {suite: module.run(quick=not full, out_dir=out_dir, progress=progress, **extra)}

    if suite == "bandits":
        if matrix is not None:
            raise ValueError("--matrix applies to the convergence suite only")
        from . import bandits

        print("== bandits ==")
        return {"bandits": bandits.run(quick=not full, out_dir=out_dir, progress=progress, cache_dir=cache_dir)}
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
