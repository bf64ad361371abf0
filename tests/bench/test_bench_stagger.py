"""``itersolve bench stagger`` at a tiny size: runs, checks its targets, writes JSON and PNG."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("jax")


def test_bench_stagger_tiny(tmp_path):
    import jax

    from itersolve.bench import stagger
    from itersolve.pdes.stagger.io import save
    from itersolve.pdes.stagger.models import StaggerModel

    # rbg keys: the default threefry generator compiles a slow kernel for every parameter shape
    paths = [save(StaggerModel(s=s, st=st, hidden=4, levels=1, coarse_input=inp, key=jax.random.key(s, impl="rbg")),
                  tmp_path / f"m{s}{st}{inp}.safetensors", {"grid": [16, 32], "command": "test"})
             for s, st, inp in ((1, 1, "own"), (2, 2, "own"), (2, 2, "all"))]
    payload = stagger.run(quick=True, out_dir=str(tmp_path), progress=False, grid=(16, 32), steps=4, discard=1,
                          models=[str(p) for p in paths], repeat=1, developed_after=6, reynolds=(50,))
    written = json.loads((tmp_path / "stagger.json").read_text())
    assert (tmp_path / "stagger.png").stat().st_size > 0
    methods = {(r["case"], r["method"]) for r in written["rows"]}
    labels = ("reference", "base", "s=2 sT=2", "s=2 sT=2 all")
    cases = ("cylinder", "held-out", stagger.DEVELOPED, "cylinder, Re 50")
    assert methods == {(c, m) for c in cases for m in labels}
    for r in payload["rows"]:
        timed = r["case"] in ("cylinder", "held-out")
        # the default cylinder has a diameter of 4 cells on this grid: Re 40 at the default inflow speed
        assert r.get("reynolds") == pytest.approx({"held-out": None, "cylinder, Re 50": 50}.get(r["case"], 40))
        assert (r.get("s_per_unit_b1", 0) > 0) == timed
        if r["method"] != "reference":
            assert r["rel_l2"] > 0 and r["batch"] == stagger.BATCH and r["error_vs_base"] > 0
            assert (r.get("speedup_vs_base", 0) > 0) == timed
            assert ("step_error" in r) == (r["case"] == stagger.DEVELOPED)  # from the developed street only
        else:
            assert r["max_divergence"] < 1e-6
    keys = {t["key"] for t in payload["targets"]}
    assert {"error_vs_base", "speedup_vs_base", "vs_reference"} <= keys
    sweep = [t for t in payload["targets"] if t["key"] == "frequency_reynolds"]
    named = [t["measured"].split(":")[0] for t in sweep]
    assert named == ["s=2 sT=2, cylinder, Re 50", "s=2 sT=2 all, cylinder, Re 50"]
    assert not any(t["met"] for t in sweep)  # untrained models (the identity) do not shed


def test_developed_case_starts_every_model_from_the_reference_state(tmp_path):
    """An untrained model is the identity on ``a``: its developed rollout must hold the reference's start state."""
    import jax
    import numpy as np

    from itersolve.bench import stagger
    from itersolve.pdes.fluids.navier_stokes import Physics, cylinder
    from itersolve.pdes.fluids.reference import ProjectionSolver
    from itersolve.pdes.stagger.io import save
    from itersolve.pdes.stagger.models import StaggerModel

    path = save(StaggerModel(hidden=4, levels=1, key=jax.random.key(0, impl="rbg")), tmp_path / "m.safetensors",
                {"grid": [16, 32], "command": "test"})
    payload = stagger.run(quick=True, out_dir=None, progress=False, grid=(16, 32), steps=4, discard=0,
                          models=[str(path)], developed_after=5)
    row = next(r for r in payload["rows"] if r["case"] == stagger.DEVELOPED and r["method"] == "base")
    env = cylinder((16, 32))
    solver = ProjectionSolver(env, Physics())
    warm = solver.rollout(5)
    start = warm["u"][-1], warm["v"][-1]
    ref = solver.rollout(4, state=start)
    fu, fv = env.boundary[0], env.boundary[1]
    num = np.sum(fu * (start[0] - ref["u"]) ** 2) + np.sum(fv * (start[1] - ref["v"]) ** 2)
    den = np.sum(fu * ref["u"] ** 2) + np.sum(fv * ref["v"] ** 2)
    assert row["rel_l2"] == pytest.approx(np.sqrt(num / den), rel=1e-4)
    assert row["step_projection"] == 0.0 and row["step_error"] == pytest.approx(1.0, rel=1e-12)  # changes nothing


def test_step_response_measures_the_change_against_the_reference():
    """Against its own trajectory a model scores projection 1 and error 0; against a trajectory whose every change
    is twice its own it scores 1/2 and 1/2. A rollout too short for one call, or one that does not change, is
    refused."""
    import equinox as eqx
    import jax
    import numpy as np

    from itersolve.bench import stagger
    from itersolve.pdes.fluids.mac import curl
    from itersolve.pdes.fluids.navier_stokes import Physics, cylinder
    from itersolve.pdes.stagger.models import StaggerModel
    from itersolve.pdes.stagger.rollouts import initial_states, rollout

    env = cylinder((16, 32))
    model = StaggerModel(hidden=4, levels=1, key=jax.random.key(0, impl="rbg"))
    weight = 0.05 * jax.random.normal(jax.random.key(1, impl="rbg"), model.net.out.weight.shape)
    model = eqx.tree_at(lambda m: m.net.out.weight, model, weight)  # a model that changes the flow
    a0, p0, b = initial_states([env], Physics())
    a, p = rollout(model, a0, p0, b, 3)
    a = np.concatenate([a0, np.asarray(a[0])]).astype(float)
    p = np.concatenate([p0, np.asarray(p[0])]).astype(float)
    u, v = curl(a)
    own = {"u": u, "v": v, "p": p}
    projection, error = stagger.step_response(model, own, env.boundary, states=3)
    assert projection == pytest.approx(1.0, abs=1e-3) and error < 1e-3
    doubled = {"u": np.stack([u[0], 2 * u[1] - u[0]]), "v": np.stack([v[0], 2 * v[1] - v[0]]), "p": p[:2]}
    projection, error = stagger.step_response(model, doubled, env.boundary)  # one state: the first
    assert projection == pytest.approx(0.5, abs=1e-3) and error == pytest.approx(0.5, abs=1e-3)
    with pytest.raises(ValueError, match="needs more"):
        stagger.step_response(model, {k: x[:1] for k, x in own.items()}, env.boundary)
    with pytest.raises(ValueError, match="does not change"):
        stagger.step_response(model, {k: np.repeat(x[:1], 2, axis=0) for k, x in own.items()}, env.boundary)


def test_frequency_target_needs_shedding():
    """A probe that barely moves has a spectral peak too; it must not pass the frequency target."""
    from itersolve.bench import stagger

    def row(method, rms, freq):
        return {"case": "cylinder", "method": method, "probe_rms": rms, "frequency": freq, "rel_l2": 0.2,
                "s_per_unit_b1": 1.0, "s_per_unit_batch": 1.0}

    rows = [row("reference", 0.3, 0.035), row("base", 0.3, 0.036), row("still", 0.001, 0.0351),
            row("sheds", 0.2, 0.0355), row("sheds off", 0.2, 0.05)]
    stagger._ratios(rows)
    verdict = {t["measured"].split(":")[0]: t["met"] for t in stagger._targets(rows) if t["key"] == "frequency"}
    assert verdict == {"still": False, "sheds": True, "sheds off": False}
    assert [r["sheds"] for r in rows] == [True, True, False, True, True]


def test_speedup_target_counts_only_accurate_models():
    """The speed-up target is "at that accuracy": a fast model that does not shed, or errs > 1.5x base, fails it."""
    from itersolve.bench import stagger

    def row(method, rms, seconds, rel_l2=0.2):
        return {"case": "cylinder", "method": method, "probe_rms": rms, "frequency": 0.035, "rel_l2": rel_l2,
                "s_per_unit_b1": seconds, "s_per_unit_batch": seconds}

    rows = [row("reference", 0.3, 40.0), row("base", 0.3, 4.0), row("fast still", 0.001, 0.5),
            row("fast sheds", 0.2, 0.5), row("fast sheds, wrong", 0.2, 0.5, rel_l2=0.4), row("slow sheds", 0.2, 2.0)]
    stagger._ratios(rows)
    verdict = {t["method"]: t["met"] for t in stagger._targets(rows) if t["key"] == "speedup_vs_base"}
    assert verdict == {"fast still": False, "fast sheds": True, "fast sheds, wrong": False, "slow sheds": False}
