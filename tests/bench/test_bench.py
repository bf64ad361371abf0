"""The benchmark suites run end to end at tiny sizes."""

from __future__ import annotations

import json

from itersolve.bench import convergence, solvers
from itersolve.cli import main


def test_convergence_suite_tiny(tmp_path, capsys):
    payload = convergence.run(out_dir=str(tmp_path), progress_bar=False, scale=0.1)
    out = capsys.readouterr().out
    assert "cg+amg-sa" in out and "scipy cg" in out and "pyamg sa+cg" in out
    data = json.loads((tmp_path / "convergence.json").read_text())
    assert data["rows"] and (tmp_path / "convergence.png").stat().st_size > 1000
    krylov = [r for r in payload["rows"] if r["method"].startswith("cg") and r["status"].startswith("CONVERGED")]
    assert krylov and all(r["relres"] <= convergence.RTOL for r in krylov)


def test_matrix_market_option(tmp_path, capsys):
    import scipy.io

    from itersolve import pdes

    path = tmp_path / "small.mtx"
    scipy.io.mmwrite(str(path), pdes.poisson((6, 6)))
    assert main(["bench", "--matrix", str(path), "--out", str(tmp_path / "o"), "--no-progress"]) == 0
    assert "small" in capsys.readouterr().out


def test_solver_perf_suite_tiny(tmp_path):
    payload = solvers.run(quick=True, out_dir=str(tmp_path), side=40)
    assert payload["cg"]["iterations_ours"] > 0
    assert payload["amg_pcg"]["iterations_ours"] > 0
    assert (tmp_path / "solvers.json").exists()
