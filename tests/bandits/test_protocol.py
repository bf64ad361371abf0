"""The Policy protocol, for every registered policy: seeding, state, validation."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.bandits.bandit_sim import OMEGAS, build, drive, scripted_losses

from itersolve.bandits import POLICIES, LossNormalizer, Policy, make_policy

NAMES = sorted(POLICIES)
CONTEXTUAL = [n for n in NAMES if POLICIES[n].contextual]
TABLE = scripted_losses(300)


def test_registry_names() -> None:
    assert set(NAMES) == {"tsallis-inf", "exp3", "ucb1", "tsallis-inf-cb", "chebcb", "gp-thompson", "gp-thompson-cb"}
    for name, cls in POLICIES.items():
        assert issubclass(cls, Policy) and cls.name == name
    assert set(CONTEXTUAL) == {"tsallis-inf-cb", "chebcb", "gp-thompson-cb"}


@pytest.mark.parametrize("name", NAMES)
def test_choices_are_valid_arms(name: str) -> None:
    pol = build(name)
    arms = drive(pol, TABLE, 0, 60)
    assert all(isinstance(a, int) and 0 <= a < len(OMEGAS) for a in arms)
    assert pol.t == 60 and pol.n_arms == len(OMEGAS)


@pytest.mark.parametrize("name", NAMES)
def test_determinism_by_seed(name: str) -> None:
    a = drive(build(name, seed=11), TABLE, 0, 120)
    b = drive(build(name, seed=11), TABLE, 0, 120)
    c = drive(build(name, seed=12), TABLE, 0, 120)
    assert a == b
    assert a != c


@pytest.mark.parametrize("name", NAMES)
def test_reset_restarts(name: str) -> None:
    pol = build(name, seed=5)
    first = drive(pol, TABLE, 0, 80)
    pol.reset()
    assert pol.t == 0
    assert drive(pol, TABLE, 0, 80) == first


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_round_trip_through_json(name: str) -> None:
    pol = build(name, seed=3)
    drive(pol, TABLE, 0, 150)
    state = pol.state_dict()
    for key, val in state.items():
        assert isinstance(val, np.ndarray), key
        assert val.dtype.kind in "fiub", (key, val.dtype)  # safetensors-friendly, no objects
    text = json.dumps({k: v.tolist() for k, v in state.items()})
    other = build(name, seed=99)  # a different seed: the saved generator must win
    other.load_state_dict(json.loads(text))
    assert other.t == pol.t
    assert drive(other, TABLE, 150, 300) == drive(pol, TABLE, 150, 300)
    s1, s2 = pol.state_dict(), other.state_dict()
    assert s1.keys() == s2.keys()
    for key in s1:
        np.testing.assert_array_equal(s1[key], s2[key], err_msg=key)


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_is_a_copy(name: str) -> None:
    pol = build(name)
    drive(pol, TABLE, 0, 20)
    state = pol.state_dict()
    saved = {k: v.copy() for k, v in state.items()}
    drive(pol, TABLE, 20, 40)
    for k in state:
        np.testing.assert_array_equal(state[k], saved[k], err_msg=k)


@pytest.mark.parametrize("name", NAMES)
def test_load_state_dict_rejects_foreign_states(name: str) -> None:
    pol = build(name)
    state = pol.state_dict()
    with pytest.raises(ValueError, match="missing keys"):
        pol.load_state_dict({k: v for k, v in state.items() if k != "t"})
    with pytest.raises(ValueError, match="unexpected keys"):
        pol.load_state_dict({**state, "bogus": np.zeros(1)})
    small = make_policy(name, 5, arms=OMEGAS[:5], context_range=(0.0, 1.0))
    with pytest.raises(ValueError):
        pol.load_state_dict(small.state_dict())


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("arm", [-1, 20, 10**9])
def test_arm_out_of_range(name: str, arm: int) -> None:
    pol = build(name)
    with pytest.raises(ValueError, match=r"arm must be an integer in \[0, 20\)"):
        pol.update(arm, 0.5, 0.5)
    assert pol.t == 0


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("arm", [1.0, True, "3", None])
def test_arm_not_an_integer(name: str, arm: object) -> None:
    with pytest.raises(TypeError, match="arm must be an integer"):
        build(name).update(arm, 0.5, 0.5)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("loss", [math.nan, math.inf, -math.inf, -0.1, 1.5, "x", None])
def test_bad_loss(name: str, loss: object) -> None:
    pol = build(name)
    before = pol.state_dict()
    with pytest.raises(ValueError, match="loss must"):
        pol.update(0, loss, 0.5)  # type: ignore[arg-type]
    after = pol.state_dict()
    for k in before:  # a rejected update leaves no trace
        np.testing.assert_array_equal(before[k], after[k])


@pytest.mark.parametrize("name", NAMES)
def test_numpy_scalars_accepted(name: str) -> None:
    pol = build(name)
    a = pol.select(np.float32(0.3))
    pol.update(np.int64(a), np.float64(0.25), np.float64(0.3))
    pol.update(np.int32(0), 1, 0)  # integer loss/context are fine
    assert pol.t == 2


@pytest.mark.parametrize("name", CONTEXTUAL)
def test_context_required(name: str) -> None:
    pol = build(name)
    with pytest.raises(ValueError, match="context"):
        pol.select()
    with pytest.raises(ValueError, match="context"):
        pol.update(0, 0.5)
    for bad in (math.nan, math.inf, [0.1, 0.2], "0.3"):
        with pytest.raises(ValueError, match="context"):
            pol.select(bad)  # type: ignore[arg-type]
    assert pol.t == 0


@pytest.mark.parametrize("name", CONTEXTUAL)
def test_context_outside_range_is_clipped(name: str) -> None:
    p1, p2 = build(name, seed=4), build(name, seed=4)
    for t in range(30):
        assert p1.select(5.0) == p2.select(1.0)
        p1.update(t % 20, 0.3, -7.0)
        p2.update(t % 20, 0.3, 0.0)


@pytest.mark.parametrize("name", sorted(set(NAMES) - set(CONTEXTUAL)))
def test_non_contextual_ignore_context(name: str) -> None:
    p1, p2 = build(name, seed=4), build(name, seed=4)
    for t in range(30):
        assert p1.select(0.9) == p2.select()
        p1.update(t % 20, 0.3, 0.9)
        p2.update(t % 20, 0.3)


def test_constructor_validation() -> None:
    with pytest.raises(ValueError, match="n_arms"):
        make_policy("exp3", 0)
    with pytest.raises(TypeError, match="n_arms"):
        make_policy("exp3", 2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown policy"):
        make_policy("thompson", 3)
    with pytest.raises(ValueError, match="arms has 3 values"):
        make_policy("gp-thompson", 4, arms=[1.0, 1.1, 1.2])
    with pytest.raises(ValueError, match="context_range"):
        make_policy("chebcb", 4, context_range=(1.0, 1.0))
    with pytest.raises(TypeError):
        make_policy("chebcb", 4)  # context_range is required
    with pytest.raises(TypeError, match="seed"):
        make_policy("ucb1", 4, seed=1.5)
    with pytest.raises(ValueError, match="estimator"):
        make_policy("tsallis-inf", 4, estimator="xx")
    with pytest.raises(ValueError, match="gamma"):
        make_policy("exp3", 4, gamma=0.0)
    with pytest.raises(ValueError, match="bins"):
        make_policy("tsallis-inf-cb", 4, context_range=(0, 1), bins=0)
    with pytest.raises(ValueError, match="finite"):
        make_policy("gp-thompson", 2, arms=[1.0, math.nan])


def test_make_policy_name_forms_and_passthrough() -> None:
    pol = make_policy("Tsallis_INF", 6, seed=2, estimator="rv")
    assert type(pol).__name__ == "TsallisINF" and pol.estimator == "rv" and pol.eta0 == 4.0
    gp = make_policy("gp-thompson", 3, arms=[1.0, 1.5, 1.9])
    np.testing.assert_array_equal(gp.arms, [1.0, 1.5, 1.9])
    assert make_policy("gp-thompson", 3).arms.tolist() == [0.0, 1.0, 2.0]


def test_loss_normalizer() -> None:
    norm = LossNormalizer(200)
    assert norm(0) == 0.0 and norm(50) == 0.25 and norm(200) == 1.0 and norm(10**6) == 1.0
    assert norm.cost(norm(37)) == pytest.approx(37)
    for bad in (math.nan, math.inf, -1, "a"):
        with pytest.raises(ValueError, match="cost"):
            norm(bad)
    for cap in (0, -3, math.inf, math.nan, "x"):
        with pytest.raises(ValueError, match="cap"):
            LossNormalizer(cap)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", NAMES)
def test_single_arm(name: str) -> None:
    pol = make_policy(name, 1, arms=[1.5], context_range=(0.0, 1.0))
    for t in range(10):
        assert pol.select(0.5) == 0
        pol.update(0, 0.1 * (t % 3), 0.5)


WITH_PROBABILITIES = [n for n in NAMES if hasattr(POLICIES[n], "probabilities")]


@pytest.mark.parametrize("name", WITH_PROBABILITIES)
@settings(max_examples=25, deadline=None)
@given(history=st.lists(st.tuples(st.integers(0, 5), st.floats(0.0, 1.0), st.floats(0.0, 1.0)), max_size=40))
def test_probabilities_are_a_distribution_for_random_histories(name: str, history) -> None:
    pol = make_policy(name, 6, context_range=(0.0, 1.0), seed=0)
    for arm, loss, c in history:
        pol.update(arm, loss, c)
    for c in (0.0, 0.37, 1.0):
        p = pol.probabilities(c)
        assert p.shape == (6,) and np.all(np.isfinite(p)) and np.all(p >= 0)
        assert p.sum() == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_replayed_history_on_never_drawn_arms_stays_finite(name: str) -> None:
    """Feeding back arms the policy would not draw (someone else's history) never yields inf/NaN."""
    pol = build(name)
    for _ in range(3000):
        pol.update(0, 1.0, 0.5)
        pol.update(1, 0.0, 0.5)
    pol.update(0, 1.0, 0.5)  # arm 0's probability has underflowed for the exponential-weights policies
    for value in pol.state_dict().values():
        if isinstance(value, np.ndarray) and value.dtype.kind == "f":
            assert np.isfinite(value).all()
    assert 0 <= pol.select(0.5) < 20
