"""The DCDM benchmark runs at a tiny size and writes its JSON and PNG."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

from itersolve.bench import dcdm as bench  # noqa: E402
from itersolve.solvers.deep_directions import build_model  # noqa: E402


def test_tiny_benchmark_writes_json(tmp_path, capsys):
    torch.manual_seed(0)
    models = {2: build_model(2, 2, 1), 3: build_model(3, 2, 1)}
    out = bench.run(quick=False, out_dir=tmp_path, progress=False, sizes={2: (8, 12, 16), 3: (6,)},
                    models=models)
    data = json.loads((tmp_path / "dcdm.json").read_text())
    assert (tmp_path / "dcdm.png").stat().st_size > 0
    methods = {r["method"] for r in data["rows"]}
    assert methods == {"CG", "IC(0)-PCG", "AMG-PCG", "DCDM", "DCDM+IC0", "DCDM-2"}  # no DCDM-untrained: not multigrid
    assert len(data["rows"]) == 3 * 2 * 6 + 1 * 2 * 5  # 2-D sizes x rtols x methods (DCDM-2 in 2-D only) + 3-D
    hybrid = [r for r in data["rows"] if r["method"] == "DCDM+IC0"]
    assert all(r["setup"] > 0 for r in hybrid)  # the IC(0) factorisation counts
    assert all(r["converged"] == "yes" for r in data["rows"] if r["method"] != "DCDM-2")
    dc = [r for r in out["summary"] if r["method"] == "DCDM"]
    assert all(r["vs_cg"] > 0 and r["vs_ic0"] > 0 for r in dc)
    assert {(g["dim"], g["from"], g["to"]) for g in out["growth"]} == {(2, 8, 12), (2, 8, 16)}  # smallest -> each
    growth_targets = [t["target"] for t in out["targets"] if t["target"].startswith("2-D 8->")]
    assert sorted(growth_targets)[:2] == ["2-D 8->12: DCDM iterations grow <= 1.5x (CG: about 2x per doubling)",
                                          "2-D 8->12: DCDM+IC0 iterations grow <= 1.5x (CG: about 2x per doubling)"]
    assert len(growth_targets) == 4
    assert any("3-D size" in t["target"] for t in out["targets"])
    assert any(t["target"].startswith("DCDM+IC0") for t in out["targets"])
    assert "targets:" in capsys.readouterr().out


def test_multigrid_model_runs_its_untrained_twin(tmp_path):
    torch.manual_seed(0)
    net = build_model(2, 2, 1, coarsest=2, multigrid=1)
    out = bench.run(quick=True, out_dir=None, progress=False, sizes={2: (8,)}, models={2: net})
    rows = {r["method"]: r for r in out["rows"] if r["rtol"] == 1e-4}
    assert set(rows) == {"CG", "IC(0)-PCG", "AMG-PCG", "DCDM", "DCDM+IC0", "DCDM-untrained"}
    assert rows["DCDM-untrained"]["converged"] == "yes"
    # an untrained multigrid network is its own untrained twin: the same iterations
    assert rows["DCDM-untrained"]["iterations"] == rows["DCDM"]["iterations"]


def test_cli_models_and_sizes_reach_the_benchmark(monkeypatch):
    from itersolve import bench as bench_pkg
    from itersolve import cli

    seen = {}
    monkeypatch.setattr(bench, "run", lambda **kw: seen.update(kw) or {})
    assert cli.main(["bench", "dcdm", "--sizes", "2=8,12", "3=6", "--models", "2=dcdm2d-64", "--out", "x"]) == 0
    assert seen["sizes"] == {2: (8, 12), 3: (6,)} and seen["models"] == {2: "dcdm2d-64"} and seen["threads"] is None
    assert cli.main(["bench", "dcdm", "--threads", "2", "--out", "x"]) == 0 and seen["threads"] == 2
    for bad in ("0", "two"):
        with pytest.raises(SystemExit):
            cli.build_parser().parse_args(["bench", "dcdm", "--threads", bad])
    with pytest.raises(ValueError, match="dcdm suite only"):
        bench_pkg.run_suite("stagger", threads=2)
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["bench", "dcdm", "--models", "4=x"])
    with pytest.raises(ValueError, match="dcdm suite only"):
        bench_pkg.run_suite("bandits", sizes={2: (8,)})
