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
    assert body["suite"] == "gnn" and body["trained_grid"]["gnn:diffusion2d"] == 128
    methods = {r["method"] for r in payload["rows"]}
    assert {"ic0", "amg-sa", "gnn:diffusion2d"} <= methods
    assert all(r["failures"] == 0 for r in payload["rows"])
    keys = {t["key"] for t in payload["targets"]}
    assert {"iters_256_s1.1", "total_below_ic0", "inference_256", "apply_vs_ic0"} <= keys


def test_cli_knows_the_gnn_suite():
    from itersolve.cli import build_parser

    assert build_parser().parse_args(["bench", "gnn"]).suite == "gnn"
