"""``itersolve bench cuda`` runs end to end (toy sizes on the simulator) and says when it cannot run."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

cuda = pytest.importorskip("numba.cuda")
import itersolve.cuda as icu  # noqa: E402
from itersolve.bench import cuda as bench  # noqa: E402


@pytest.mark.skipif(not icu.SIMULATOR, reason="toy sizes are for the simulator")
def test_cuda_suite_end_to_end_at_tiny_sizes(tmp_path, capsys):
    payload = bench.run(out_dir=str(tmp_path), tiny=True)
    out = capsys.readouterr().out
    assert "SpMV y = A x" in out and "CG, no preconditioner" in out and "CuPy is not available" in out
    data = json.loads((tmp_path / "cuda.json").read_text())
    assert data["tiny"] and len(data["spmv"]) == len(bench.TINY_PROBLEMS) == len(data["cg"])
    assert all(row["max_rel_error"] < 1e-12 for row in payload["spmv"])
    assert all(row["ours_check1_s_per_iter"] > 0 for row in payload["cg"])


def test_cli_without_gpu_says_skipped(tmp_path):
    if icu.is_available() and not icu.SIMULATOR:
        pytest.skip("a real GPU is present")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    out = subprocess.run([sys.executable, "-m", "itersolve.cli", "bench", "cuda", "--out", str(tmp_path)],
                         capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "no CUDA GPU: skipped" in out.stdout
    assert json.loads((tmp_path / "cuda.json").read_text())["skipped"] == "no CUDA GPU"


def test_peak_table_and_stencil_builder():
    assert bench.peak_for("NVIDIA H100 80GB HBM3") == ("H100 SXM (HBM3)", 3350.0)
    assert bench.peak_for("NVIDIA H100 PCIe")[1] == 2000.0
    assert bench.peak_for("NVIDIA H200")[1] == 4800.0
    assert bench.peak_for("NVIDIA GH200 480GB")[1] == 4000.0
    assert bench.peak_for("Mystery GPU") == ("Mystery GPU", None)
    from itersolve import pdes

    for shape in [(7,), (4, 6), (3, 4, 5)]:
        assert (bench.poisson_csr(shape) != pdes.poisson(shape)).nnz == 0
