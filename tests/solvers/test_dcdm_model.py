"""The DCDM network's recursive architecture (``coarsest`` > 0), its checkpoints and mixed-size training."""

from __future__ import annotations

import json
import shlex

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from itersolve import pretrained  # noqa: E402
from itersolve.pdes.fluids.obstacles import random_obstacles  # noqa: E402
from itersolve.pdes.fluids.pressure import pressure_system  # noqa: E402
from itersolve.pretrained import read_config, write_config  # noqa: E402
from itersolve.solvers.deep_directions import (  # noqa: E402
    DCDMNet,
    RitzData,
    TrainConfig,
    build_model,
    dcdm_loss,
    load_model,
    save_model,
    train,
)
from itersolve.solvers.deep_directions.training import GridBatch  # noqa: E402


def _inputs(shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    mask = (torch.rand(2, 1, *shape, generator=g) > 0.2).float()
    return torch.randn(2, 1, *shape, generator=g) * mask, mask


@pytest.mark.parametrize("shape, depth", [((5, 9), 2), ((17, 9), 3), ((33, 33), 4), ((64, 64), 4), ((3, 3), 1),
                                          ((9, 5, 7), 2), ((16, 16, 16), 2)])
def test_recursive_network_shape_and_depth(shape, depth):
    torch.manual_seed(0)
    net = build_model(len(shape), 3, 1, coarsest=4)
    assert net.depth(shape) == depth
    r, mask = _inputs(shape)
    out = net(r, mask)
    assert out.shape == r.shape and bool(torch.isfinite(out).all())


def test_recursive_network_shares_its_coarse_weights():
    torch.manual_seed(0)
    net = build_model(2, 3, 1, coarsest=2)
    count = sum(p.numel() for p in net.parameters())
    for shape in ((8, 8), (32, 32), (64, 40)):  # depths 2, 4, 5: the same parameters at every depth
        r, mask = _inputs(shape)
        net.zero_grad()
        net(r, mask).pow(2).sum().backward()
        assert all(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in net.parameters())
    assert sum(p.numel() for p in net.parameters()) == count
    assert float(net.log_gain.detach().exp()) == pytest.approx(1.0)


@pytest.mark.parametrize("coarsest", [0, 4])
def test_positive_homogeneity_and_zero_on_solids(coarsest):
    torch.manual_seed(1)
    net = build_model(2, 4, 2, coarsest=coarsest)
    r, mask = _inputs((19, 12), seed=3)
    with torch.no_grad():
        out = net(r, mask)
        for c in (1e-3, 7.5):
            torch.testing.assert_close(net(c * r, mask), c * out, rtol=1e-4, atol=1e-6 * c)
        assert bool((out[mask == 0] == 0).all())
        assert bool((net(torch.zeros_like(r), mask) == 0).all())


def test_bad_architecture_is_rejected():
    with pytest.raises(ValueError, match="coarsest"):
        DCDMNet(2, 4, 1, coarsest=-1)


def test_old_config_without_coarsest_loads_as_the_fixed_depth_network(tmp_path):
    torch.manual_seed(2)
    net = build_model(2, 3, 2)
    path = save_model(net, tmp_path / "old.safetensors", {"note": "old"})
    cfg = read_config(path)
    del cfg["coarsest"], cfg["sha256"]  # a config written before the field existed
    write_config(path, cfg)
    loaded, cfg = load_model(path)
    assert loaded.coarsest == 0 and "coarsest" not in cfg and not hasattr(loaded, "log_gain")
    r, mask = _inputs((13, 10))
    with torch.no_grad():
        assert torch.equal(loaded(r, mask), net.eval()(r, mask))


@pytest.mark.parametrize("name", pretrained.available(kind="dcdm"))
def test_shipped_configs_rebuild_their_architecture(name):
    net, cfg = load_model(pretrained.path(name))
    assert net.coarsest == int(cfg.get("coarsest", 0)) and net.levels == int(cfg["levels"])


def test_recursive_checkpoint_round_trip(tmp_path):
    torch.manual_seed(3)
    net = build_model(3, 2, 1, coarsest=2)
    with torch.no_grad():
        net.log_gain.fill_(1.7)
    path = save_model(net, tmp_path / "ml.safetensors", {"note": "ml"})
    loaded, cfg = load_model(path)
    assert (cfg["coarsest"], loaded.coarsest, loaded.levels) == (2, 2, 1)
    assert float(loaded.log_gain.detach()) == pytest.approx(1.7)
    r, mask = _inputs((7, 9, 6))
    with torch.no_grad():
        assert torch.equal(loaded(r, mask), net.eval()(r, mask))


def test_mixed_size_training_steps_lower_the_loss():
    torch.manual_seed(4)
    net = build_model(2, 4, 1, coarsest=2)
    systems = [pressure_system(random_obstacles((side, side), count=2, seed=side)) for side in (8, 16)]
    data = RitzData.build(systems, 20, seed=0)
    rng = np.random.default_rng(0)
    grids = [GridBatch(s) for s in systems]
    fixed = [torch.as_tensor(data.batch(i, 8, rng)) for i in range(2)]

    def losses():
        with torch.no_grad():
            return [float(dcdm_loss(g.apply(net, b), b, g.A)) for g, b in zip(grids, fixed)]

    before = losses()
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for step in range(20):
        g, b = grids[step % 2], fixed[step % 2]
        loss = dcdm_loss(g.apply(net, b), b, g.A)
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = losses()
    assert all(a < 0.9 * b for a, b in zip(after, before)), (before, after)


def test_train_on_several_sides_records_them(tmp_path):
    cfg = TrainConfig(dim=2, grid="8,12", geometries=1, val_geometries=1, ritz=15, vectors=8, epochs=1,
                      batch_size=4, channels=3, levels=1, coarsest=2)
    assert cfg.grids == (8, 12) and "--grid 8,12 " in cfg.command()
    result = train(cfg, out=tmp_path / "mixed.safetensors", progress=False)
    saved = json.loads((tmp_path / "mixed.json").read_text())
    assert saved["training"]["grid"] == [8, 12] and saved["coarsest"] == 2
    assert "trained at 8^2, 12^2 on" in saved["description"]
    assert result.model.coarsest == 2 and len(result.history) == 1
    with pytest.raises(ValueError, match="grid"):
        TrainConfig(grid=(16, 0))


def _chain_minutes(cfg):
    """``--max-minutes`` of a model's run and of the chain of ``--init`` runs it continues."""
    total, link = 0.0, cfg
    while link is not None:
        words = shlex.split(link["command"])
        total += float(words[words.index("--max-minutes") + 1])
        link = link.get("init_from")
    return total


@pytest.mark.parametrize("name", pretrained.available(kind="dcdm"))
def test_shipped_models_trained_within_an_hour(name):
    cfg = pretrained.config(name)
    assert _chain_minutes(cfg) <= 60  # one training hour per model, fine-tunes included
    assert cfg["train_seconds"] <= 1.1 * 60 * cfg["training"]["max_minutes"] + 60  # stops after the epoch past it
