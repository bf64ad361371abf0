"""The kernel benchmark runs end to end at a tiny size and returns sane numbers."""

from __future__ import annotations

import json

from itersolve.bench.kernels import poisson2d, run


def test_run_tiny(capsys):
    res = run(quick=True, spmv_grid=30, sor_grid=20, copy_mb=4, rounds=3)
    out = capsys.readouterr().out
    assert "SpMV" in out and "SOR" in out and "copy bandwidth" in out
    json.dumps(res)  # JSON-serialisable as it is
    assert set(res) == {"machine", "copy", "spmv", "sor"}
    assert res["copy"]["numpy_GBps"] > 0
    s = res["spmv"]
    assert s["n"] == 900 and s["auto"]["layout"] == "dia" and s["csr"]["layout"] == "csr"
    for key in ("scipy", "auto", "csr"):
        assert s[key]["best_s"] > 0 and s[key]["GBps"] > 0
    assert s["auto"]["max_rel_err"] < 1e-14 and s["csr"]["max_rel_err"] < 1e-14
    w = res["sor"]
    assert w["colors"] == 2 and w["sequential"]["max_rel_diff_vs_pyamg"] < 1e-12
    assert w["sequential"]["speedup_vs_pyamg"] > 0 and w["multicolor"]["speedup_vs_pyamg"] > 0
    assert isinstance(s["target_met"], bool) and isinstance(w["target_met"], bool)


def test_poisson2d_builder():
    A = poisson2d(4)
    assert A.shape == (16, 16) and A.nnz == 16 * 5 - 4 * 4
    assert (A != A.T).nnz == 0
