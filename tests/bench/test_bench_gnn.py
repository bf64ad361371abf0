"""``itersolve bench gnn`` at a tiny scale: runs, writes JSON/PNG, reports every target."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("torch_geometric")


def test_gnn_bench_smoke(tmp_path):
    from itersolve.bench import gnn

    payload = gnn.run(False, out_dir=str(tmp_path), progress_bar=False, scale=0.05)
    body = json.loads((tmp_path / "gnn.json").read_text())
    assert body["suite"] == "gnn" and body["trained"]["gnn:diffusion2d"]["family"] == "diffusion2d"
    rows = payload["rows"]
    assert {"ic0", "ic1", "amg-sa", "gnn:diffusion2d"} <= {r["method"] for r in rows}
    assert {r["family"] for r in rows} >= {"diffusion2d", "anisotropic2d", "fem:airfoil", "fem:knot"}
    diffusion = [r for r in rows if r["family"] == "diffusion2d"]
    assert all(r["failures"] == 0 for r in diffusion)
    ic1 = [r for r in diffusion if r["method"] == "ic1"]
    assert all(r["iters_vs_ic0"] < 1 for r in ic1)  # one level of fill helps
    for r in rows:  # a model runs on its own family; the default one everywhere
        info = body["trained"].get(r["method"])
        assert info is None or r["method"] == "gnn:diffusion2d" or r["family"].split(":")[0] == info["family"]
    keys = {t["key"] for t in payload["targets"]}
    assert {"iters_256_s1.1", "total_below_ic0", "inference_256", "apply_vs_ic0"} <= keys


def test_cli_knows_the_gnn_suite():
    from itersolve.cli import build_parser

    assert build_parser().parse_args(["bench", "gnn"]).suite == "gnn"
