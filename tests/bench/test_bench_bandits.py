"""The bandit benchmark suite at tiny sizes."""

from __future__ import annotations

import json

import numpy as np

from itersolve.bandits import OnlineTuner, make_policy, oracle_costs
from itersolve.bench import bandits
from itersolve.cli import build_parser
from itersolve.pdes import shifted_laplacian_sequence


def test_bandits_suite_tiny(tmp_path, capsys) -> None:
    payload = bandits.run(
        quick=True, out_dir=str(tmp_path), seeds=(0, 1), T=30, heat_nx=(10,), overhead_nx=10,
        configs_nx=10, configs_T=10, cache_dir=str(tmp_path / "cache"), progress=False,
    )
    out = capsys.readouterr().out
    assert "targets (" in out and "gp-thompson-cb" in out
    data = json.loads((tmp_path / "bandits.json").read_text())
    assert set(data["sequences"]) == {"sl-high", "sl-low", "heat-10"}
    for key, ev in data["sequences"].items():
        rows = ev["rows"]
        assert ev["T"] == 30 and len(ev["fixed_totals"]) == 20
        inst, best = rows["instance-opt (grid)"]["total"], rows["best fixed"]["total"]
        assert inst <= best <= rows["omega=1"]["total"]
        for name in bandits.POLICY_NAMES:
            assert rows[name]["total"] >= inst and len(rows[name]["totals"]) == 2
    assert "young" in data["sequences"]["sl-high"]["rows"] and "golden" in data["sequences"]["heat-10"]["rows"]
    assert data["sequences"]["heat-10"]["rows"]["golden"]["total"] <= data["sequences"]["heat-10"]["rows"]["instance-opt (grid)"]["total"]
    assert data["overhead"]["T"] == 30 and all(r["failures"] == 0 for r in data["configs"]["runs"])
    ov = data["overhead"]
    assert ov["policy"] == "gp-thompson-cb" and len(ov["overhead_fractions"]) == ov["repeats"] == 3
    assert 0 < min(ov["overhead_fractions"]) <= ov["overhead_fraction"] <= max(ov["overhead_fractions"])
    assert any("tuner overhead" in t["target"] for t in data["targets"])
    for png in data["plots"]:
        assert (tmp_path / png).stat().st_size > 1000
    assert len(list((tmp_path / "cache").glob("*.npz"))) >= 5
    # a second run reuses the cached tables and gives the same comparators
    again = bandits.run(quick=True, seeds=(0, 1), T=30, sequences=("sl-low",), configs_case=False, overhead_case=False,
                        cache_dir=str(tmp_path / "cache"), progress=False, plots=False)
    assert again["sequences"]["sl-low"]["fixed_totals"] == data["sequences"]["sl-low"]["fixed_totals"]


def test_table_simulation_equals_the_tuner() -> None:
    """Playing a policy off the cost table is what the tuner does with real solves."""
    seq = shifted_laplacian_sequence(T=25, distribution="low", seed=4)
    omegas = np.array([1.3, 1.5, 1.7, 1.9])
    oc = oracle_costs(seq, method="sor", omegas=omegas)
    pol = make_policy("gp-thompson-cb", 4, arms=omegas, context_range=seq.context_range, seed=7)
    arms, costs, _ = bandits.simulate_policy(pol, oc)
    tuner = OnlineTuner("sor", omegas=omegas, context_range=seq.context_range, seed=7)
    for s in seq:
        tuner.solve(s.A, s.b, context=s.context)
    np.testing.assert_array_equal(tuner.history["arm"], arms)
    np.testing.assert_array_equal(tuner.history["iterations"], costs)


def test_cli_knows_the_suite() -> None:
    args = build_parser().parse_args(["bench", "bandits", "--full"])
    assert args.suite == "bandits" and args.full
