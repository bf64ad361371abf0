"""The DCDM network's V-cycle structure (``multigrid=1``): stencil, coarse solve, checkpoints, training."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from itersolve.pdes.fluids.obstacles import random_obstacles  # noqa: E402
from itersolve.pdes.fluids.pressure import pressure_system, random_rhs  # noqa: E402
from itersolve.pretrained import read_config, write_config  # noqa: E402
from itersolve.solvers.dcdm import dcdm  # noqa: E402
from itersolve.solvers.deep_directions import (  # noqa: E402
    DCDMNet,
    NetworkDirections,
    TrainConfig,
    build_model,
    load_model,
    save_model,
    train,
)
from itersolve.solvers.deep_directions.training import GridBatch  # noqa: E402


def _system(shape, seed=0, count=3):
    return pressure_system(random_obstacles(shape, count=count, seed=seed))


def _grid_inputs(system, batch=2, seed=0):
    g = GridBatch(system)
    rng = np.random.default_rng(seed)
    b = torch.as_tensor(rng.standard_normal((batch, system.n)), dtype=torch.float32)
    mask = g.mask.expand(batch, *g.mask.shape[1:])
    diag = g.diag.expand(batch, *g.diag.shape[1:])
    return g.to_grid(b), mask, diag


def _trained_like(net, seed=0):
    """Give the zero-initialised ``out`` convolutions weights, so the learned part is exercised."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith("out.weight"):
                p.normal_(0.0, 0.05)
    return net


@pytest.mark.parametrize("shape", [(5, 9), (17, 9), (33, 33), (3, 3), (9, 5, 7), (16, 16, 16)])
def test_multigrid_network_at_odd_sizes(shape):
    s = _system(shape, seed=1, count=2)
    net = _trained_like(build_model(len(shape), 3, 1, coarsest=4, multigrid=1))
    r, mask, diag = _grid_inputs(s)
    with torch.no_grad():
        out = net(r, mask, diag)
        out_nodiag = net(r, mask)
    assert out.shape == r.shape and bool(torch.isfinite(out).all()) and bool(torch.isfinite(out_nodiag).all())
    assert bool((out[mask == 0] == 0).all())


def test_multigrid_needs_coarsest():
    with pytest.raises(ValueError, match="multigrid"):
        DCDMNet(2, 4, 1, coarsest=0, multigrid=1)
    with pytest.raises(ValueError, match="multigrid"):
        DCDMNet(2, 4, 1, coarsest=4, multigrid=2)


def test_multigrid_positive_homogeneity_and_zero_on_solids():
    s = _system((19, 12), seed=3)
    net = _trained_like(build_model(2, 4, 1, coarsest=4, multigrid=1), seed=1)
    r, mask, diag = _grid_inputs(s, seed=3)
    with torch.no_grad():
        out = net(r, mask, diag)
        for c in (1e-3, 7.5):
            torch.testing.assert_close(net(c * r, mask, diag), c * out, rtol=1e-4, atol=1e-6 * c)
        assert bool((out[mask == 0] == 0).all())
        assert bool((net(torch.zeros_like(r), mask, diag) == 0).all())


def test_fine_stencil_is_the_matrix():
    """With ``diag`` the network's level-0 stencil is A itself (open top included)."""
    s = _system((14, 11), seed=4)
    net = build_model(2, 2, 1, coarsest=4, multigrid=1)
    g = GridBatch(s)
    x = np.random.default_rng(0).standard_normal(s.n)
    Ax = net.stencil(g.to_grid(torch.as_tensor(x[None], dtype=torch.float64)), g.mask.double(), g.diag.double())
    np.testing.assert_allclose(s.to_vector(Ax[0, 0].numpy()), s.A @ x, rtol=1e-12, atol=1e-12)


def test_coarse_levels_keep_the_dirichlet_faces():
    s = _system((16, 16), seed=5, count=0)  # empty box, open top
    net = build_model(2, 2, 1, coarsest=4, multigrid=1)
    g = GridBatch(s)
    masks, diags = net.hierarchy(g.mask, g.diag, net.depth(s.shape))
    assert [tuple(m.shape[2:]) for m in masks] == [(16, 16), (8, 8), (4, 4)]
    for m, d in zip(masks, diags):
        # interior 4, walls 3, corners 2; the open (top = last axis, high side) row one more
        nbrs = net._neighbours(m) * m
        assert torch.equal(d - nbrs, torch.zeros_like(d).index_fill_(-1, torch.tensor([d.shape[-1] - 1]), 1.0))


@pytest.mark.parametrize("shape", [(4, 4), (3, 2), (4, 3, 2)])
def test_coarsest_grid_is_solved_exactly(shape):
    """A grid that is already the coarsest level: the network is A⁻¹ (the V-cycle's exact coarse solve)."""
    s = _system(shape, seed=6, count=0)
    net = _trained_like(build_model(len(shape), 3, 0, coarsest=4, multigrid=1))  # levels=0: no forced pooling
    assert net.depth(shape) == 0
    g = GridBatch(s)
    b = np.random.default_rng(1).standard_normal(s.n)
    with torch.no_grad():
        x = g.apply(net, torch.as_tensor(b[None], dtype=torch.float32))[0].double().numpy()
    np.testing.assert_allclose(s.A @ x, b, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("dim", [2, 3])
def test_untrained_vcycle_converges_almost_independently_of_size(dim):
    """The structure alone (damped-Jacobi V-cycle) gives nearly size-independent DCDM iterations."""
    net = build_model(dim, 2, 1, coarsest=4, multigrid=1)
    iters = []
    for side in (16, 32) if dim == 3 else (32, 64):
        s = _system((side,) * dim, seed=7)
        res = dcdm(s, random_rhs(s, seed=7), model=net, rtol=1e-6)
        assert res.converged and res.details["fallback_steps"] == 0
        iters.append(res.iterations)
    assert iters[1] <= 1.4 * iters[0] + 2 and iters[1] < 40, iters


@pytest.mark.parametrize("dim, side", [(2, 64), (3, 32)])
def test_coarse_solution_of_a_smooth_residual_is_the_error(dim, side):
    """Restriction and coarse stencil are consistent: for a smooth error ``e`` the coarse system with the
    restricted residual ``R(A e)`` is solved by ``e`` (its children's mean) up to discretisation error.
    The plain children's sum would give ``2 e`` in 3-D."""
    from scipy.sparse.linalg import LinearOperator
    from scipy.sparse.linalg import cg as scipy_cg

    net = build_model(dim, 2, 1, coarsest=4, multigrid=1)
    mask = torch.ones((1, 1) + (side,) * dim, dtype=torch.float64)
    diag = 2.0 * dim * mask  # Dirichlet on every face
    centres = torch.meshgrid(*[(torch.arange(side, dtype=torch.float64) + 0.5) / side] * dim, indexing="ij")
    e = torch.exp(-sum((c - 0.5) ** 2 for c in centres) / (2 * 0.12**2))[None, None]
    masks, diags = net.hierarchy(mask, diag, 1)
    rhs = net.restrict(net.stencil(e, mask, diag), masks[1])
    shape = tuple(masks[1].shape)

    def coarse_matvec(x):
        return net.stencil(torch.as_tensor(x).reshape(shape), masks[1], diags[1]).reshape(-1).numpy()

    n = masks[1].numel()
    ec, info = scipy_cg(LinearOperator((n, n), matvec=coarse_matvec), rhs.reshape(-1).numpy(), rtol=1e-10)
    assert info == 0
    mean = net._pool(e, 2).reshape(-1).numpy()
    assert np.linalg.norm(ec - mean) <= 0.05 * np.linalg.norm(mean)


@pytest.mark.parametrize("multigrid, shape", [(1, (12, 9, 7)), (1, (20, 13)), (0, (10, 9, 6))])
def test_inference_convolutions_match_the_autograd_path(multigrid, shape):
    """Without gradients the convolutions go to oneDNN directly; the result is the modules' own to rounding."""
    net = _trained_like(build_model(len(shape), 3, 1, coarsest=4, multigrid=multigrid), seed=2)
    r, mask, diag = _grid_inputs(_system(shape, seed=8, count=2), seed=8)
    with torch.no_grad():
        fast = net(r, mask, diag)
    with torch.enable_grad():
        slow = net(r, mask, diag).detach()
    torch.testing.assert_close(fast, slow, rtol=1e-5, atol=1e-5 * float(slow.abs().max()))


def test_multigrid_shares_its_coarse_weights_at_every_depth():
    net = _trained_like(build_model(2, 3, 1, coarsest=2, multigrid=1))
    count = sum(p.numel() for p in net.parameters())
    for shape in ((8, 8), (32, 32), (40, 24)):
        s = _system(shape, seed=8)
        r, mask, diag = _grid_inputs(s)
        net.zero_grad()
        net(r, mask, diag).pow(2).sum().backward()
        assert all(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in net.parameters())
    assert sum(p.numel() for p in net.parameters()) == count


def test_solver_passes_the_diagonal():
    s = _system((20, 20), seed=9)
    b = random_rhs(s, seed=9)
    net = _trained_like(build_model(2, 3, 1, coarsest=4, multigrid=1))
    a = dcdm(s, b, model=net, rtol=1e-6)
    c = dcdm(s.A, b, model=net, grid=s.fluid, rtol=1e-6)
    assert a.converged and a.iterations == c.iterations
    f = NetworkDirections(net, s.fluid, s.A.diagonal())
    g = NetworkDirections(net, s.fluid)  # no diagonal: every face closed, a different (still valid) operator
    assert not np.allclose(f(b), g(b))


def test_multigrid_checkpoint_round_trip(tmp_path):
    net = _trained_like(build_model(2, 3, 1, coarsest=4, multigrid=1))
    path = save_model(net, tmp_path / "mg.safetensors", {"note": "mg"})
    loaded, cfg = load_model(path)
    assert (cfg["multigrid"], loaded.multigrid, loaded.coarsest) == (1, 1, 4)
    s = _system((13, 10), seed=10)
    r, mask, diag = _grid_inputs(s)
    with torch.no_grad():
        assert torch.equal(loaded(r, mask, diag), net.eval()(r, mask, diag))


def test_old_config_without_multigrid_loads_the_unet(tmp_path):
    torch.manual_seed(2)
    net = build_model(2, 3, 1, coarsest=4)
    path = save_model(net, tmp_path / "old.safetensors", {"note": "old"})
    cfg = read_config(path)
    del cfg["multigrid"], cfg["sha256"]  # a config written before the field existed
    write_config(path, cfg)
    loaded, cfg = load_model(path)
    assert loaded.multigrid == 0 and "multigrid" not in cfg and hasattr(loaded, "log_gain")
    s = _system((13, 10), seed=11)
    r, mask, diag = _grid_inputs(s)
    with torch.no_grad():
        assert torch.equal(loaded(r, mask), net.eval()(r, mask))
        assert torch.equal(loaded(r, mask, diag), loaded(r, mask))  # the U-Net ignores the diagonal


def test_train_and_fine_tune_a_multigrid_network(tmp_path):
    cfg = TrainConfig(dim=2, grid="8,12", geometries=1, val_geometries=1, ritz=15, vectors=8, epochs=1,
                      batch_size=4, channels=3, levels=1, coarsest=4, multigrid=1)
    assert "--multigrid 1 " in cfg.command()
    result = train(cfg, out=tmp_path / "mg.safetensors", progress=False)
    saved = json.loads((tmp_path / "mg.json").read_text())
    assert saved["multigrid"] == 1 and saved["training"]["multigrid"] == 1 and result.model.multigrid == 1
    tuned = train(TrainConfig(grid=8, geometries=1, val_geometries=1, ritz=15, vectors=4, epochs=1, batch_size=4,
                              init=str(tmp_path / "mg.safetensors")), progress=False)
    assert tuned.model.multigrid == 1
