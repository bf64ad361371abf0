"""OnlineTuner and oracle_costs: costs, failures, configurations, seeds, oracles, state."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

import itersolve
from itersolve.bandits import OnlineTuner, OracleCosts, oracle_costs
from itersolve.bandits.tuner import omega_configs
from itersolve.pdes import heat_sequence, poisson, shifted_laplacian_sequence
from itersolve.preconditioners import IC0

OMEGAS = [1.2, 1.5, 1.8]

# SPD, but IC(0) breaks down on it (a non-positive pivot)
IC0_BREAKS = np.array(
    [
        [0.762, 0.934, 0.0, 0.537, 0.216],
        [0.934, 2.171, 0.453, 0.595, 0.0],
        [0.0, 0.453, 0.762, 0.702, 0.0],
        [0.537, 0.595, 0.702, 2.497, 1.079],
        [0.216, 0.0, 0.0, 1.079, 0.762],
    ]
)


@pytest.fixture(scope="module")
def seq():
    return shifted_laplacian_sequence(T=30, distribution="high", seed=3)


def _run(tuner: OnlineTuner, seq, contextual: bool = False) -> list:
    out = []
    for s in seq:
        out.append(tuner.solve(s.A, s.b, context=s.context if contextual else None))
    return out


def test_recorded_costs_are_the_solver_iterations(seq) -> None:
    tuner = OnlineTuner("sor", omegas=OMEGAS, seed=0)
    results = _run(tuner, seq)
    h = tuner.history
    assert h.size == len(seq) and tuner.policy.name == "gp-thompson"
    for t, (s, res) in enumerate(zip(seq, results)):
        w = OMEGAS[int(h["arm"][t])]
        brute = itersolve.sor(s.A, s.b, omega=w, rtol=1e-8, atol=0.0, maxiter=10_000)
        assert res.iterations == brute.iterations == h["iterations"][t] == h["cost"][t]
        assert h["omega"][t] == w and res.details["arm"] == h["arm"][t]
        assert h["loss"][t] == pytest.approx(brute.iterations / 10_000)
        assert res.converged and np.allclose(res.x, brute.x)
    s = tuner.summary()
    assert s["total_iterations"] == int(h["iterations"].sum()) and s["failures"] == 0
    assert 0 < s["overhead_time"] <= s["tuner_time"] and s["overhead_fraction"] > 0
    assert sum(s["arm_counts"]) == len(seq)


def test_contextual_default_and_context_checks(seq) -> None:
    tuner = OnlineTuner("sor", omegas=OMEGAS, context_range=seq.context_range, seed=1)
    _run(tuner, seq, contextual=True)
    assert tuner.policy.name == "gp-thompson-cb"
    np.testing.assert_allclose(tuner.history["context"], seq.contexts)
    with pytest.raises(ValueError, match="context"):
        tuner.solve(seq[0].A, seq[0].b)  # the contextual policy needs a context
    with pytest.raises(ValueError, match="context_range"):
        OnlineTuner("sor", omegas=OMEGAS).solve(seq[0].A, seq[0].b, context=0.1)
    # a non-contextual policy records contexts but ignores them
    t2 = OnlineTuner("sor", omegas=OMEGAS, policy="tsallis-inf", seed=0)
    t2.solve(seq[0].A, seq[0].b, context=0.25)
    assert t2.history["context"][0] == 0.25


def test_failures_cost_loss_one_and_never_crash() -> None:
    A = sp.csr_matrix(IC0_BREAKS)
    assert np.linalg.eigvalsh(IC0_BREAKS).min() > 0
    with pytest.raises(ValueError, match="broke down"):
        IC0(A)

    def broken(r):
        raise RuntimeError("preconditioner exploded")

    configs = [{"M": "ic0"}, {"M": broken}, {"M": "jacobi"}]
    tuner = OnlineTuner(configs=configs, policy="ucb1", seed=0)
    b = np.ones(5)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = [tuner.solve(A, b) for _ in range(6)]
    h = tuner.history
    by_arm = {int(a): (bool(c), float(l), int(r)) for a, c, l, r in zip(h["arm"], h["converged"], h["loss"], h["reason"])}
    assert by_arm[0] == (False, 1.0, int(itersolve.Reason.DIVERGED_PC_FAILED))
    assert by_arm[1] == (False, 1.0, int(itersolve.Reason.DIVERGED_BREAKDOWN))
    assert by_arm[2][0] and by_arm[2][1] < 1.0
    failed = [r for r in results if not r.converged]
    assert failed and all("error" in r.details and np.array_equal(r.x, np.zeros(5)) for r in failed)
    assert len([w for w in caught if issubclass(w.category, RuntimeWarning)]) == 2  # once per distinct error
    assert tuner.summary()["failures"] == len(failed)


def test_maxiter_failure_is_loss_one_and_options_override(seq) -> None:
    tuner = OnlineTuner("sor", omegas=[1.0], seed=0)
    res = tuner.solve(seq[0].A, seq[0].b, maxiter=5)
    assert not res.converged and res.iterations == 5
    assert tuner.history["loss"][0] == 1.0
    with pytest.raises(ValueError, match="omega"):
        tuner.solve(seq[0].A, seq[0].b, omega=1.3)
    with pytest.raises(ValueError, match="rtol"):
        tuner.solve(seq[0].A, seq[0].b, rtol=-1.0)
    with pytest.raises(ValueError, match="length"):
        tuner.solve(seq[0].A, np.ones(7))


def test_configs_with_every_preconditioner_and_time_cost() -> None:
    A = poisson((16, 16))
    b = np.ones(A.shape[0])
    configs = [{"M": "jacobi"}, {"M": "ssor", "M_options": {"omega": 1.5}}, {"M": "ic0"}, {"M": "amg"}]
    tuner = OnlineTuner(configs=configs, cost="time", policy="ucb1", seed=0)  # UCB1 plays every arm first
    assert tuner.labels == ["cg+jacobi", "cg+ssor(omega=1.5)", "cg+ic0", "cg+amg"]
    assert np.isnan(tuner.omegas).sum() == 3 and tuner.arm_values.tolist() == [0, 1, 2, 3]
    for _ in range(12):
        res = tuner.solve(A, b)
        assert res.converged and np.linalg.norm(b - A @ res.x) <= 1e-8 * np.linalg.norm(b)
    h = tuner.history
    # the cap is fixed from the first converged solve; a later solve may exceed it (a first call that
    # compiles its Numba kernels in a fresh environment takes seconds) and then costs the maximal loss 1
    assert tuner.time_cap is not None and tuner.time_cap > 0
    np.testing.assert_allclose(h["loss"], np.minimum(h["cost"], tuner.time_cap) / tuner.time_cap)
    assert set(h["arm"].tolist()) == {0, 1, 2, 3}  # every configuration was tried
    # the denoised time: median setup + iterations x median time per iteration of the arm so far
    for t in range(h.size):
        mine = h[: t + 1][h["arm"][: t + 1] == h["arm"][t]]
        expect = np.median(mine["setup_time"]) + h["iterations"][t] * np.median(mine["solve_time"] / mine["iterations"])
        assert h["cost"][t] == pytest.approx(expect)
    first = [int(np.flatnonzero(h["arm"] == a)[0]) for a in range(4)]
    np.testing.assert_allclose(h["cost"][first], h["time"][first])  # a first solve is its own median
    raw = OnlineTuner(configs=configs, cost="time", policy="ucb1", seed=0, time_model=False)
    raw.solve(A, b)
    assert raw.history["cost"][0] == raw.history["time"][0]


def test_determinism_by_seed(seq) -> None:
    arms = []
    for seed in (5, 5, 6):
        tuner = OnlineTuner("sor", omegas=OMEGAS + [1.6, 1.9], seed=seed, context_range=seq.context_range)
        _run(tuner, seq, contextual=True)
        arms.append(tuner.history["arm"].tolist())
    assert arms[0] == arms[1]
    assert arms[0] != arms[2]


def test_oracle_agrees_with_brute_force(seq) -> None:
    sub = seq[:6]
    oc = oracle_costs(sub, method="sor", omegas=OMEGAS)
    brute = np.array([[itersolve.sor(s.A, s.b, omega=w, rtol=1e-8, atol=0.0, maxiter=10_000).iterations for w in OMEGAS] for s in sub])
    np.testing.assert_array_equal(oc.iterations, brute)
    assert oc.best_fixed == int(np.argmin(brute.sum(axis=0)))
    assert oc.best_fixed_total == brute.sum(axis=0).min()
    assert oc.instance_optimal_total == brute.min(axis=1).sum()
    np.testing.assert_array_equal(oc.instance_optimal_arms, brute.argmin(axis=1))
    np.testing.assert_allclose(oc.contexts, [s.context for s in sub])
    # heat: warm-started replay of the reference trajectory, SSOR-PCG
    hs = heat_sequence(nx=10, T=4)
    oh = oracle_costs(hs, method="ssor-pcg", omegas=[1.0, 1.7])
    for t in range(4):
        s = hs[t]
        for j, w in enumerate([1.0, 1.7]):
            r = itersolve.cg(s.A, s.b, s.x0, M=itersolve.preconditioners.SSOR(s.A, omega=w), rtol=1e-8, atol=0.0, maxiter=10_000)
            assert oh.iterations[t, j] == r.iterations


def test_regret_against_the_oracle(seq) -> None:
    tuner = OnlineTuner("sor", omegas=OMEGAS, seed=0)
    _run(tuner, seq)
    oc = tuner.oracle(seq)
    r = tuner.regret(oc)
    assert r["total"] == oc.total(tuner.history["arm"]) == tuner.history["cost"].sum()
    assert r["instance_optimal_total"] <= r["total"]
    assert r["regret_best_fixed"] == pytest.approx(r["total"] - oc.best_fixed_total)
    assert r["cumulative"][-1] == r["total"] and len(r["cumulative_instance_optimal"]) == len(seq)
    first5 = tuner.regret(oracle_costs(seq[:5], method="sor", omegas=OMEGAS))  # a prefix of the history
    assert first5["total"] == tuner.history["cost"][:5].sum()
    with pytest.raises(ValueError, match="oracle covers"):
        tuner.regret(oracle_costs(seq[:5], method="sor", omegas=OMEGAS), start=28)


def test_closed_loop_heat_and_state_passthrough() -> None:
    hs = heat_sequence(nx=10, T=12)
    t1 = OnlineTuner("ssor-pcg", omegas=OMEGAS, context_range=hs.context_range, seed=2)
    sim = hs.simulate()
    seen = []
    for k, s in enumerate(sim):
        if k == 6:
            state = t1.state_dict()
        seen.append(s)
        res = t1.solve(s.A, s.b, x0=s.x0, context=s.context)
        assert res.converged
        sim.advance(res.x)
    assert all(isinstance(v, np.ndarray) for v in state.values())
    loaded = {k: np.asarray(v) for k, v in json.loads(json.dumps({k: v.tolist() for k, v in state.items()})).items()}
    # a fresh tuner (another seed, lazily built policy) resumes exactly where the first one was
    t2 = OnlineTuner("ssor-pcg", omegas=OMEGAS, context_range=hs.context_range, seed=99)
    t2.load_state_dict(loaded)
    arms2 = [t2.solve(s.A, s.b, x0=s.x0, context=s.context).details["arm"] for s in seen[6:]]
    assert arms2 == t1.history["arm"][6:].tolist()
    with pytest.raises(ValueError, match="arms"):
        OnlineTuner("sor", omegas=[1.1, 1.2]).load_state_dict(state)


def test_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="method"):
        OnlineTuner("jacobi-pcg")
    with pytest.raises(ValueError, match=r"\(0, 2\)"):
        OnlineTuner("sor", omegas=[1.0, 2.5])
    with pytest.raises(ValueError, match="cost"):
        OnlineTuner(cost="flops")
    with pytest.raises(ValueError, match="unknown preconditioner"):
        OnlineTuner(configs=[{"M": "ilu7"}])
    with pytest.raises(ValueError, match="takes no preconditioner"):
        OnlineTuner(configs=[{"method": "sor", "M": "jacobi"}])
    with pytest.raises(ValueError, match="either omegas"):
        OnlineTuner(omegas=[1.2], configs=[{"M": "jacobi"}])
    with pytest.raises(ValueError, match="unknown policy"):
        OnlineTuner(policy="best")
    with pytest.raises(ValueError, match="3 configurations"):
        OnlineTuner("sor", omegas=OMEGAS, policy=itersolve.bandits.UCB1(4))
    assert omega_configs("ssor-pcg", [1.5])[0]["M"] == "ssor"
    assert isinstance(OnlineTuner("sor").oracle, object) and OracleCosts is not None
