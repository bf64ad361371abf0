"""NeuralStagger: decomposition, models, training, rollout gradients, weights and the command line."""

from __future__ import annotations

import functools
import json
import shlex
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from itersolve.pdes.stagger.decompose import depth_to_space, space_to_depth, temporal_windows

jax = pytest.importorskip("jax")
eqx = pytest.importorskip("equinox")
jnp = jax.numpy

#: One jitted model call shared by the tests: compiled once per model structure and grid (eager calls compile
#: every primitive separately and dominate the run time).
_forward = eqx.filter_jit(lambda model, a, p, boundary: model(a, p, boundary))
#: The learning rate of the training tests (one compiled training step for all of them).
LR = 1e-2


@settings(max_examples=25, deadline=None)
@given(st.sampled_from([1, 2, 3, 4]), st.integers(1, 4), st.integers(1, 4), st.integers(0, 2), st.integers(0, 999))
def test_space_to_depth_and_back_is_identity(s, h, w, lead, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2,) * lead + (h * s, w * s))
    c = space_to_depth(x, s)
    assert c.shape == (2,) * lead + (s * s, h, w)
    assert np.array_equal(depth_to_space(c, s), x)
    y = rng.standard_normal((2,) * lead + (s * s, h, w))
    assert np.array_equal(space_to_depth(depth_to_space(y, s), s), y)
    for k in range(s * s):  # coarse field k is x[di::s, dj::s], k = di * s + dj
        di, dj = divmod(k, s)
        assert np.array_equal(c[..., k, :, :], x[..., di::s, dj::s])


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_decomposition_in_jax_keeps_dtype(dtype):
    x = jnp.arange(64, dtype=jnp.float32).reshape(8, 8).astype(dtype)
    c = space_to_depth(x, 4)
    assert c.dtype == dtype and c.shape == (16, 2, 2)
    assert bool((depth_to_space(c, 4) == x).all())


def test_decomposition_bad_input():
    with pytest.raises(ValueError, match="must divide"):
        space_to_depth(np.zeros((6, 8)), 4)
    with pytest.raises(ValueError, match="positive integer"):
        space_to_depth(np.zeros((6, 8)), 0)
    with pytest.raises(ValueError, match="expected shape"):
        depth_to_space(np.zeros((3, 2, 2)), 2)
    with pytest.raises(ValueError, match="must divide"):
        temporal_windows(np.zeros(5), 2)
    assert temporal_windows(np.arange(6), 3).shape == (2, 3)


def _env(shape=(16, 32)):
    from itersolve.pdes.fluids.navier_stokes import cylinder

    return cylinder(shape, speed=1.0, center=(0.25, 0.24), radius=0.06)


@functools.cache
def _tiny(s=2, st_=2, key=0, scale=0.0, coarse_input="own"):
    """A tiny model (cached: models are immutable); ``scale`` > 0 makes the zero-initialised output layer random.

    The keys use the ``rbg`` generator: the default threefry compiles a slow kernel for every parameter shape.
    """
    from itersolve.pdes.stagger.models import StaggerModel

    m = StaggerModel(s=s, st=st_, hidden=4, levels=1, coarse_input=coarse_input, key=jax.random.key(key, impl="rbg"))
    if scale:
        w = scale * jax.random.normal(jax.random.key(key + 1, impl="rbg"), m.net.out.weight.shape)
        m = eqx.tree_at(lambda t: t.net.out.weight, m, w)
    return m


def test_model_shapes_and_bad_input():
    from itersolve.pdes.fluids.navier_stokes import Physics
    from itersolve.pdes.stagger.rollouts import initial_states

    env = _env()
    a0, p0, b = initial_states([env], Physics())
    for s, coarse_input in ((1, "own"), (4, "own"), (2, "all"), (4, "all")):
        a, p = _forward(_tiny(s=s, scale=0.1, coarse_input=coarse_input), a0[0], p0[0], b[0])
        assert a.shape == p.shape == (2, 16, 32) and bool(jnp.isfinite(a).all())
    with pytest.raises(ValueError, match="must divide"):
        _tiny(s=4)(jnp.zeros((18, 32)), jnp.zeros((18, 32)), jnp.zeros((6, 18, 32)))
    with pytest.raises(ValueError, match="expected a, p"):
        _tiny()(a0[0], p0[0], b[0, :5])
    with pytest.raises(ValueError, match="positive integers"):
        _tiny(s=0)
    with pytest.raises(ValueError, match="coarse_input must be one of"):
        _tiny(coarse_input="neighbours")
    with pytest.raises(ValueError, match="needs s > 1"):
        _tiny(s=1, coarse_input="all")


def test_untrained_model_is_the_identity_step():
    from itersolve.pdes.fluids.navier_stokes import Physics
    from itersolve.pdes.stagger.rollouts import initial_states

    a0, p0, b = initial_states([_env()], Physics())
    a, p = _forward(_tiny(s=2, st_=2), a0[0], p0[0], b[0])
    assert a.shape == (2, 16, 32) and np.allclose(np.asarray(a), np.asarray(a0[0])[None], atol=1e-6)


def test_a_few_training_steps_lower_the_loss():
    from itersolve.pdes.fluids.navier_stokes import Physics
    from itersolve.pdes.stagger.rollouts import initial_states
    from itersolve.pdes.stagger.training import optimizer, train_step

    phys = Physics()
    a0, p0, b = initial_states([_env(), _env()], phys)
    model = _tiny(s=2, st_=2)
    state = optimizer(LR).init(eqx.filter(model, eqx.is_array))
    losses = []
    for _ in range(15):  # the training step of `train` (the same compiled function as the command-line test's)
        model, state, loss, _, _ = train_step(model, state, a0, p0, b, phys, 20.0, LR)
        losses.append(float(loss))
    assert losses[-1] < 0.9 * losses[0] and losses[-1] < min(losses[:5]), losses


def test_a_non_finite_batch_changes_nothing():
    from itersolve.pdes.fluids.navier_stokes import Physics
    from itersolve.pdes.stagger.rollouts import initial_states
    from itersolve.pdes.stagger.training import optimizer, train_step

    phys = Physics()
    a0, p0, b = initial_states([_env(), _env()], phys)
    model = _tiny(s=2, st_=2)
    state = optimizer(LR).init(eqx.filter(model, eqx.is_array))
    model, state, _, _, _ = train_step(model, state, a0, p0, b, phys, 20.0, LR)  # a real step: Adam's moments move
    a0[1, 5, 5] = np.nan
    new_model, new_state, loss, _, _ = train_step(model, state, a0, p0, b, phys, 20.0, LR)
    assert not np.isfinite(float(loss))
    for old, new in zip(jax.tree_util.tree_leaves((eqx.filter(model, eqx.is_array), state)),
                        jax.tree_util.tree_leaves((eqx.filter(new_model, eqx.is_array), new_state))):
        np.testing.assert_array_equal(np.asarray(old), np.asarray(new))


def test_training_replaces_pool_states_that_blow_up(monkeypatch):
    """A kick that yields NaN spoils one pool state: its steps are rejected, the slot refilled, training goes on."""
    from itersolve.pdes.stagger import training

    original, calls = training.perturbation, []

    def once_nan(env, rng, amplitude, length=3.0):
        calls.append(1)
        psi = original(env, rng, amplitude, length)
        return psi * np.nan if len(calls) == 6 else psi  # the first kick of a live state (after 4 initial ones)

    monkeypatch.setattr(training, "perturbation", once_nan)
    cfg = training.TrainConfig(grid=(16, 32), s=2, st=1, hidden=4, levels=1, pool=4, batch=2, steps=12,
                               perturb=0.1, kick_every=1)
    result = training.train(cfg, progress=False)
    assert result.rejected >= 1 and len(result.losses) == 12 - result.rejected
    assert all(np.isfinite(leaf).all() for leaf in jax.tree_util.tree_leaves(eqx.filter(result.model, eqx.is_array)))

    monkeypatch.setattr(training, "perturbation", lambda env, rng, amplitude, length=3.0: np.full(env.shape, np.nan))
    with pytest.raises(FloatingPointError, match="consecutive steps"):
        training.train(training.TrainConfig(grid=(16, 32), s=2, st=1, hidden=4, levels=1, pool=4, batch=2,
                                            steps=40, perturb=0.1), progress=False)


def test_balanced_objective_is_the_mean_log_loss():
    from itersolve.pdes.fluids.navier_stokes import Physics, physics_loss
    from itersolve.pdes.stagger.rollouts import initial_states
    from itersolve.pdes.stagger.training import window_loss

    phys = Physics()
    a0, p0, b = initial_states([_env(), _env()], phys)
    a0[1] *= 1.5  # a second sample with another (larger) loss
    model = _tiny(s=2, st_=1, scale=0.1)
    plain, (a1, p1, mean) = window_loss(model, a0, p0, b, phys)
    balanced, (_, _, mean_b) = window_loss(model, a0, p0, b, phys, balance=True)
    per_sample = np.asarray(physics_loss(a0, a1, p1, b, phys))
    assert per_sample[0] != per_sample[1]
    assert np.isclose(float(plain), per_sample.mean(), rtol=1e-5) and float(mean) == float(mean_b) == float(plain)
    assert np.isclose(float(balanced), np.log(per_sample).mean(), rtol=1e-5)


def test_perturbation_is_divergence_free_interior_and_scaled():
    from itersolve.pdes.fluids.mac import curl, divergence
    from itersolve.pdes.stagger.training import perturbation

    env = _env((32, 64))
    psi = perturbation(env, np.random.default_rng(3), 0.2)
    u, v = curl(psi)
    assert abs(max(np.abs(u).max(), np.abs(v).max()) - 0.2 * env.speed) < 1e-12
    assert np.abs(divergence(u, v)[1:-1, 1:-1]).max() < 1e-12
    assert np.abs(psi[env.solid]).max() == 0 and np.abs(psi[:, :3]).max() == 0 and np.abs(psi[:, -3:]).max() == 0
    assert not np.allclose(psi, psi[::-1])  # not symmetric about the channel axis: it breaks the wake's symmetry


def test_lr_schedule_and_scaled_training_step():
    from itersolve.pdes.fluids.navier_stokes import Physics
    from itersolve.pdes.stagger.rollouts import initial_states
    from itersolve.pdes.stagger.training import lr_scale, optimizer, train_step

    f = np.linspace(0, 1, 11)
    scales = [lr_scale(x, 1e-3, 1e-5) for x in f]
    assert scales[0] == 1.0 and abs(scales[-1] - 0.01) < 1e-12 and np.all(np.diff(scales) < 0)
    phys = Physics()
    a0, p0, b = initial_states([_env()], phys)
    model = _tiny(s=2, st_=2)
    state = optimizer(LR).init(eqx.filter(model, eqx.is_array))
    frozen, *_ = train_step(model, state, a0, p0, b, phys, 20.0, LR, jnp.float32(0.0))
    moved, *_ = train_step(model, state, a0, p0, b, phys, 20.0, LR, jnp.float32(1.0))
    leaves = lambda m: jax.tree_util.tree_leaves(eqx.filter(m, eqx.is_array))  # noqa: E731
    assert all(np.array_equal(x, y) for x, y in zip(leaves(frozen), leaves(model)))
    assert any(not np.array_equal(x, y) for x, y in zip(leaves(moved), leaves(model)))


@pytest.mark.parametrize("s", [2, 4])
def test_coarse_fields_share_one_update_rule(s):
    """With ``coarse_input="own"`` the decomposed network commutes with a one-cell shift (away from the edges): it
    applies the same update to every coarse field, so neighbouring fields' outputs, whose differences are
    velocities, agree. The legacy offset channels break this."""
    x = jax.random.normal(jax.random.key(3, impl="rbg"), (7, 16, 32))
    shifted = jnp.roll(x, 1, axis=2)
    margin = 3 * s  # two 3x3 convolutions on the coarse grid reach 2 coarse cells; padding spoils the edges
    for coarse_input, equal in (("own", True), ("own+offset", False)):
        m = _tiny(s=s, st_=1, scale=0.5, coarse_input=coarse_input)
        out, out_shifted = np.asarray(m._increments(x)), np.asarray(m._increments(shifted))
        same = np.allclose(out_shifted[:, :, margin + 1:-margin], out[:, :, margin:-margin - 1], atol=1e-5)
        assert same == equal, coarse_input


@pytest.mark.parametrize("s", [2, 4])
def test_which_coarse_fields_each_prediction_sees(s):
    """A change on coarse field (0, 0) alone reaches the other fields' predictions only with ``coarse_input="all"``."""
    x = jax.random.normal(jax.random.key(4, impl="rbg"), (7, 16, 32))
    bumped = x.at[:, 0::s, 0::s].add(1.0)
    others = np.ones((16, 32), bool)
    others[0::s, 0::s] = False
    for coarse_input, coupled in (("own", False), ("own+offset", False), ("all", True)):
        m = _tiny(s=s, st_=2, scale=0.5, coarse_input=coarse_input)
        change = np.abs(np.asarray(m._increments(bumped)) - np.asarray(m._increments(x)))
        assert change[:, ~others].max() > 1e-3, coarse_input  # field (0, 0) itself always responds
        assert (change[:, others].max() > 1e-3) == coupled, coarse_input


def test_pixelwise_head_sees_the_input_and_keeps_the_rest(tmp_path):
    """``head``: identity when untrained; the other layers initialise as without it; the config round-trips."""
    import argparse

    from itersolve.pdes.fluids.navier_stokes import Physics
    from itersolve.pdes.stagger import cli
    from itersolve.pdes.stagger.io import load, save
    from itersolve.pdes.stagger.models import StaggerModel
    from itersolve.pdes.stagger.rollouts import initial_states

    key = jax.random.key(3, impl="rbg")
    plain = StaggerModel(s=4, st=2, hidden=4, levels=1, coarse_input="all", key=key)
    headed = StaggerModel(s=4, st=2, hidden=4, levels=1, coarse_input="all", head=6, key=key)
    assert plain.config() == {"s": 4, "st": 2, "hidden": 4, "levels": 1, "coarse_input": "all"}
    assert headed.config() == {**plain.config(), "head": 6}
    assert headed.net.head.weight.shape == (6, 4 + 7 * 16, 1, 1) and headed.net.out.weight.shape == (64, 6, 1, 1)
    for mine, theirs in zip(jax.tree_util.tree_leaves(headed.net.down), jax.tree_util.tree_leaves(plain.net.down)):
        assert np.array_equal(np.asarray(mine), np.asarray(theirs))
    a0, p0, b = initial_states([_env()], Physics())
    a, _ = _forward(headed, a0[0], p0[0], b[0])
    assert np.allclose(np.asarray(a), np.asarray(a0[0])[None], atol=1e-6)  # zero output layer: the identity step

    # the head reads the input directly: with the 3x3 layers silenced, a bumped input cell still moves its coarse cell
    w = jax.random.normal(jax.random.key(5, impl="rbg"), headed.net.out.weight.shape)
    silent = eqx.tree_at(lambda m: (m.net.out.weight, m.net.down[0].c2.weight),
                         headed, (w, jnp.zeros_like(headed.net.down[0].c2.weight)))
    x = jax.random.normal(jax.random.key(6, impl="rbg"), (7, 16, 32))
    change = np.abs(np.asarray(silent._increments(x.at[0, 5, 9].add(1.0))) - np.asarray(silent._increments(x)))
    assert change[:, 4:8, 8:12].min() > 0 and change[:, :4].max() == 0  # its 4 x 4 patch only

    path = save(headed, tmp_path / "h.safetensors")
    assert load(path).config() == headed.config()
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args(["--s", "4", "--head", "32", "--out", "m.safetensors"])
    assert cli.architecture(args)["head"] == 32
    with pytest.raises(ValueError, match="head >= 0"):
        StaggerModel(s=4, hidden=4, levels=1, head=-1, key=key)


def test_fine_output_layer_couples_neighbouring_fields_one_cell_deep(tmp_path):
    """``fine``: identity when untrained; the 3x3 fine-grid layer lets a field's change reach only adjacent cells."""
    from itersolve.pdes.fluids.navier_stokes import Physics
    from itersolve.pdes.stagger.io import load, save
    from itersolve.pdes.stagger.models import StaggerModel
    from itersolve.pdes.stagger.rollouts import initial_states

    key = jax.random.key(7, impl="rbg")
    m = StaggerModel(s=2, st=2, hidden=4, levels=1, coarse_input="own", fine=3, key=key)
    assert m.config()["fine"] == 3 and m.net.out.weight.shape == (3, 4, 1, 1)
    assert float(jnp.abs(m.net.out.weight).max()) > 0 and float(jnp.abs(m.fine_out.weight).max()) == 0
    a0, p0, b = initial_states([_env()], Physics())
    a, _ = _forward(m, a0[0], p0[0], b[0])
    assert np.allclose(np.asarray(a), np.asarray(a0[0])[None], atol=1e-6)

    w = jax.random.normal(jax.random.key(8, impl="rbg"), m.fine_out.weight.shape)
    m = eqx.tree_at(lambda t: t.fine_out.weight, m, w)
    x = jax.random.normal(jax.random.key(9, impl="rbg"), (7, 16, 32))
    bumped = x.at[:, 0::2, 0::2].add(1.0)  # coarse field (0, 0) only
    change = np.abs(np.asarray(m._increments(bumped)) - np.asarray(m._increments(x))).max(axis=0)
    assert change[1::2, 1::2].min() > 1e-4  # field (1, 1): diagonal neighbours of field (0, 0)'s cells
    far = StaggerModel(s=4, st=1, hidden=4, levels=1, coarse_input="own", fine=3, key=key)
    far = eqx.tree_at(lambda t: t.fine_out.weight, far, jax.random.normal(key, far.fine_out.weight.shape))
    change = np.abs(np.asarray(far._increments(x.at[:, 0::4, 0::4].add(1.0))) - np.asarray(far._increments(x)))
    assert change[:, 2::4, 2::4].max() == 0 and change[:, 1::4, 1::4].min() > 0  # two cells away: untouched

    assert load(save(m, tmp_path / "f.safetensors")).config() == m.config()
    with pytest.raises(ValueError, match="fine must be 0"):
        StaggerModel(s=1, hidden=4, levels=1, fine=2, key=key)


def test_save_load_roundtrip_and_corruption(tmp_path):
    from itersolve.pdes.fluids.navier_stokes import Physics
    from itersolve.pdes.stagger.io import load, save
    from itersolve.pdes.stagger.rollouts import initial_states

    m = _tiny(s=2, st_=2, scale=0.1)
    path = save(m, tmp_path / "w.safetensors", {"grid": [16, 32]})
    m2 = load(path)
    a0, p0, b = initial_states([_env()], Physics())
    first, again = (np.asarray(_forward(x, a0[0], p0[0], b[0])[0]) for x in (m, m2))
    assert np.array_equal(first, again)
    good = path.with_suffix(".json").read_text()
    cfg = json.loads(good)
    path.with_suffix(".json").write_text(json.dumps({**cfg, "model": {**cfg["model"], "offsets": True}}))
    with pytest.raises(ValueError, match="does not describe a StaggerModel"):
        load(path)
    path.with_suffix(".json").write_text(good)
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 1
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="sha256"):
        load(path)
    cfg = json.loads(path.with_suffix(".json").read_text())
    cfg["kind"] = "gnn-preconditioner"
    path.with_suffix(".json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match="neuralstagger"):
        load(path)
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.safetensors")


def test_rollout_gradient_matches_finite_differences():
    from itersolve.pdes.fluids.navier_stokes import Physics
    from itersolve.pdes.stagger.control import probe_signal

    phys = Physics()
    env = _env()
    model = _tiny(s=2, st_=2, scale=0.2)

    def f(speed):
        return jnp.sum(probe_signal(model, env, speed, phys, steps=4, probe=(8, 14)) ** 2) * 1e3

    value_and_grad = jax.jit(jax.value_and_grad(f))  # one compilation for the gradient and the three values
    g = float(value_and_grad(1.0)[1])
    eps = 1e-2
    fd = (float(value_and_grad(1.0 + eps)[0]) - float(value_and_grad(1.0 - eps)[0])) / (2 * eps)
    assert abs(fd) > 1e-3
    assert abs(g - fd) <= 2e-2 * abs(fd), (g, fd)


def test_rollout_shapes_and_st_check():
    from itersolve.pdes.fluids.navier_stokes import Physics
    from itersolve.pdes.stagger.rollouts import initial_states, rollout

    a0, p0, b = initial_states([_env(), _env()], Physics())
    model = _tiny(s=2, st_=2, scale=0.05)
    a, p = rollout(model, a0, p0, b, steps=6, chunk=2)
    assert a.shape == p.shape == (2, 6, 16, 32)
    a1, _ = _forward(model, a0[0], p0[0], b[0])
    assert np.allclose(np.asarray(a[0, :2]), np.asarray(a1), atol=1e-5)
    with pytest.raises(ValueError, match="multiple"):
        rollout(model, a0, p0, b, steps=5)
    with pytest.raises(ValueError, match="batched"):
        rollout(model, a0[0], p0[0], b[0], steps=2)


def test_frequency_measurement_and_proxy():
    from itersolve.pdes.stagger.control import shedding_frequency, spectral_centroid

    t = np.arange(300.0)
    for f in (0.03, 0.047, 0.11):
        x = np.sin(2 * np.pi * f * t + 0.3) + 0.1 * np.sin(2 * np.pi * 3 * f * t)
        assert abs(shedding_frequency(x, 1.0) - f) < 0.02 * f
        assert abs(float(spectral_centroid(jnp.asarray(x), 1.0)) - f) < 0.05 * f
    assert shedding_frequency(np.ones(50), 1.0) == 0.0
    assert abs(shedding_frequency(np.sin(2 * np.pi * 0.05 * t * 2), 2.0) - 0.05) < 1e-3


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-3, 3), min_size=4, max_size=4), st.floats(5, 300), st.floats(0.0005, 0.01),
       st.integers(0, 2**16), st.sampled_from([0.5, 1.0]))
def test_frequency_of_a_slow_drift_stays_within_the_spectrum(coef, decay, slow, seed, dt):
    """A still probe (drift, decay, a fraction of a period, a little noise) is measured in the spectrum's range."""
    from itersolve.pdes.stagger.control import shedding_frequency

    t = np.arange(320.0)
    x = coef[0] * (t / 320) ** 2 + coef[1] * np.exp(-t / decay) + coef[2] * np.sin(2 * np.pi * slow * t)
    x += 1e-3 * coef[3] * np.random.default_rng(seed).standard_normal(t.size)
    f = shedding_frequency(x, dt)
    assert f == 0.0 or 0.5 / (320 * dt) <= f <= 0.5 / dt


def test_frequency_of_a_drift_that_leaks_into_dc():
    """Here the DC bin outweighs bin 1, the strongest above it: the lowest bin, not a parabola's far-off vertex."""
    from itersolve.pdes.stagger.control import shedding_frequency

    t = np.arange(320.0)
    x = 1.878 * (t / 320) ** 2 + 0.434 * np.exp(-t / 241.0) + 0.390 * np.sin(2 * np.pi * 0.00178 * t)
    x += 1e-3 * np.random.default_rng(19).standard_normal(t.size)
    assert shedding_frequency(x, 1.0) == pytest.approx(1 / 320)  # it used to say -1.648


def test_cli_imports_only_the_standard_library_and_parses():
    code = ("import sys, argparse; import itersolve.pdes.stagger.cli as c; "
            "p = argparse.ArgumentParser(); c.add_arguments(p); "
            "a = p.parse_args(['--s', '2', '--st', '2', '--out', 'x']); "
            "print(sorted(m for m in ('jax', 'equinox', 'optax', 'safetensors') if m in sys.modules), a.s, a.st)")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.split() == ["[]", "2", "2"]


def test_cli_run_trains_with_a_pool_and_checkpoints(tmp_path, monkeypatch):
    import argparse

    from itersolve.pdes.stagger import cli, training
    from safetensors.numpy import load_file

    from itersolve.pdes.stagger.io import config_of, load

    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    common = ["--grid", "16", "32", "--pool", "4", "--batch", "2", "--lr", str(LR), "--no-progress"]
    args = parser.parse_args(["--s", "2", "--st", "2", "--hidden", "4", "--levels", "1", "--steps", "6",
                              "--reset-every", "2", "--checkpoint-every", "3", "--out", str(tmp_path / "c.safetensors"),
                              "--perturb", "0.05", "--lr-final", str(LR / 10), "--kick-every", "1", "--balance",
                              "--speeds", "0.7", "0.8", *common])
    drawn = []
    original = training.random_environment
    monkeypatch.setattr(training, "random_environment", lambda *a: drawn.append(original(*a)) or drawn[-1])
    summary = cli.run(args, command="itersolve train stagger --s 2 --st 2")
    monkeypatch.undo()
    assert len(drawn) == 4 + 3 and all(0.7 <= env.speed <= 0.8 for env in drawn)  # the pool, then one per reset
    assert summary["steps"] == 6 and np.isfinite(summary["last_loss"])
    cfg = config_of(summary["out"])
    assert cfg["kind"] == "neuralstagger" and cfg["command"] == "itersolve train stagger --s 2 --st 2"
    assert cfg["training"]["steps_done"] == 6 and cfg["training"]["cpu_seconds"] >= 0
    assert cfg["training"]["perturb"] == 0.05 and cfg["training"]["lr_final"] == LR / 10
    assert cfg["training"]["kick_every"] == 1 and cfg["training"]["balance"] is True
    assert cfg["training"]["speed_range"] == [0.7, 0.8]
    assert load(summary["out"]).config() == {"s": 2, "st": 2, "hidden": 4, "levels": 1, "coarse_input": "own"}

    # --init: continue from those weights, the architecture taken from their JSON, the provenance recorded
    first = summary["out"]
    more = parser.parse_args(["--init", first, "--steps", "2", "--out", str(tmp_path / "d.safetensors"), *common])
    cont = cli.run(more, command=f"itersolve train stagger --init {first}")
    new = config_of(cont["out"])
    assert cont["steps"] == 2 and new["model"] == cfg["model"] and new["training"]["init"] == first
    assert new["init_from"] == {"name": first, "sha256": cfg["sha256"], "command": cfg["command"], "init_from": None}
    before, after = load_file(first), load_file(cont["out"])
    change = max(float(np.abs(after[k] - before[k]).max()) for k in before)
    assert 0 < change <= 2.5 * LR  # two Adam steps of at most ~LR each from the --init weights, not a fresh model
    with pytest.raises(ValueError, match="has s=2, but --s 4 was given"):
        cli.run(parser.parse_args(["--init", first, "--s", "4", "--out", str(tmp_path / "e"), *common]), command="")


def test_seed_bank_holds_the_teachers_rollout_states():
    from itersolve.pdes.fluids.navier_stokes import Physics
    from itersolve.pdes.stagger.rollouts import initial_states, rollout
    from itersolve.pdes.stagger.seeding import SeedBank

    teacher = _tiny(s=1, st_=1, scale=0.1)
    bank = SeedBank.roll(teacher, (16, 32), Physics(), envs=2, steps=6, stride=3, rng=np.random.default_rng(0))
    a0, p0, b = initial_states(bank.envs, Physics())
    a, p = rollout(teacher, a0, p0, b, 6)
    assert bank.a.shape == bank.p.shape == (2, 3, 16, 32)
    np.testing.assert_array_equal(bank.a[:, 0], a0)  # every row starts from rest
    np.testing.assert_allclose(bank.a[:, 1:], np.asarray(a[:, 2::3]), rtol=1e-6, atol=1e-6)  # steps 3 and 6
    np.testing.assert_allclose(bank.p[:, 1:], np.asarray(p[:, 2::3]), rtol=1e-6, atol=1e-6)
    assert not np.allclose(bank.a[:, 2], a0)  # the teacher moved the flow
    draws = [bank.draw(np.random.default_rng(k)) for k in range(20)]
    for env, a_k, p_k in draws:
        row = next(i for i, e in enumerate(bank.envs) if e is env)
        assert any(np.array_equal(a_k, bank.a[row, t]) and np.array_equal(p_k, bank.p[row, t]) for t in range(3))
    a_k = draws[0][1]
    a_k += 1.0  # a draw is a copy: the pool's updates never reach the bank
    assert not any(np.array_equal(a_k, x) for x in bank.a.reshape(-1, 16, 32))
    with pytest.raises(ValueError, match="multiple of stride"):
        SeedBank.roll(teacher, (16, 32), Physics(), envs=1, steps=5, stride=3, rng=np.random.default_rng(0))


def test_seed_bank_of_a_multistep_teacher_keeps_states_across_its_calls():
    """A teacher with st = 2 and stride 3: kept steps 3, 6, 9, 12 fall inside and at the ends of its calls."""
    from itersolve.pdes.fluids.navier_stokes import Physics
    from itersolve.pdes.stagger.rollouts import initial_states, rollout
    from itersolve.pdes.stagger.seeding import SeedBank

    teacher = _tiny(s=1, st_=2, scale=0.1)
    bank = SeedBank.roll(teacher, (16, 32), Physics(), envs=1, steps=12, stride=3, rng=np.random.default_rng(1))
    a, p = rollout(teacher, *initial_states(bank.envs, Physics()), 12)
    assert bank.a.shape == (1, 5, 16, 32)
    np.testing.assert_allclose(bank.a[:, 1:], np.asarray(a[:, 2::3]), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(bank.p[:, 1:], np.asarray(p[:, 2::3]), rtol=1e-6, atol=1e-6)


def test_training_pool_is_seeded_from_the_teacher(tmp_path, monkeypatch):
    import argparse

    from itersolve.pdes.stagger import cli
    from itersolve.pdes.stagger.io import config_of, save
    from itersolve.pdes.stagger.seeding import SeedBank

    teacher = save(_tiny(s=1, st_=1, scale=0.1), tmp_path / "teacher.safetensors", {"command": "a test teacher"})
    draws, speeds = [], []
    original = SeedBank.draw

    def draw(self, rng):
        draws.append(1)
        env, a, p = original(self, rng)
        speeds.append(env.speed)
        return env, a, p

    monkeypatch.setattr(SeedBank, "draw", draw)
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args(["--s", "2", "--st", "2", "--hidden", "4", "--levels", "1", "--steps", "4",
                              "--grid", "16", "32", "--pool", "4", "--batch", "2", "--lr", str(LR), "--no-progress",
                              "--reset-every", "2", "--seed-from", str(teacher), "--seed-envs", "3",
                              "--seed-steps", "4", "--seed-stride", "2", "--speeds", "1.2", "1.4",
                              "--out", str(tmp_path / "s.safetensors")])
    summary = cli.run(args, command="itersolve train stagger --seed-from teacher")
    assert summary["steps"] == 4 and np.isfinite(summary["last_loss"])
    assert len(draws) == 4 + 2  # the whole initial pool, then one fresh environment per reset
    assert all(1.2 <= v <= 1.4 for v in speeds)  # --speeds reaches the seed bank's environments
    cfg = config_of(summary["out"])
    assert cfg["seeded_from"]["sha256"] == config_of(teacher)["sha256"]
    assert cfg["seeded_from"]["command"] == "a test teacher"
    assert cfg["training"]["seed_from"] == str(teacher) and cfg["training"]["seed_steps"] == 4
    assert cfg["training"]["speed_range"] == [1.2, 1.4]


def _budget_minutes(cfg):
    """Training minutes of a model and of the chain of ``--init`` runs it continues (``--minutes``, default 20)."""
    total, link = 0.0, cfg
    while link is not None:
        words = shlex.split(link["command"])
        total += float(words[words.index("--minutes") + 1]) if "--minutes" in words else 20.0
        link = link.get("init_from")
    return total


def test_shipped_weights_load_and_step():
    from itersolve import pretrained
    from itersolve.pdes.fluids.navier_stokes import Physics, cylinder
    from itersolve.pdes.stagger.io import KIND, load
    from itersolve.pdes.stagger.rollouts import initial_states

    names = pretrained.available(kind=KIND)
    assert {"neuralstagger-base", "neuralstagger-s2", "neuralstagger-s4"} <= set(names)
    a0, p0, b = initial_states([cylinder((16, 32))], Physics())  # fully convolutional: any divisible grid
    for name in names:
        cfg = pretrained.config(name)
        assert cfg["command"].startswith("itersolve train stagger") and cfg["training"]["seconds"] > 0
        assert cfg["training"]["seconds"] <= 60 * cfg["training"]["minutes"] + 60
        assert _budget_minutes(cfg) <= 60  # "training runs on 2 CPU cores in about an hour each"
        model = load(name)
        assert model.config() == cfg["model"]
        assert np.abs(np.asarray(model.net.out.weight)).max() > 0  # trained: not the zero-initialised output layer
    model = load("neuralstagger-s4")  # one forward step (each compile costs seconds)
    a, p = _forward(model, a0[0], p0[0], b[0])
    assert bool(jnp.isfinite(a).all()) and a.shape == (model.st, 16, 32)
    assert float(jnp.abs(a - a0[0]).max()) > 0
