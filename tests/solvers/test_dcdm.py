"""Deep conjugate directions: the iteration, the safeguard, the network path and the loss."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings, strategies as st

from itersolve.pdes import poisson
from itersolve.pdes.fluids.obstacles import ball, random_obstacles
from itersolve.pdes.fluids.pressure import pressure_system, random_rhs
from itersolve.solvers.dcdm import dcdm
from itersolve.solvers.result import Reason

torch = pytest.importorskip("torch")

from itersolve import pretrained  # noqa: E402
from itersolve.solvers.deep_directions import (  # noqa: E402
    WeightsError,
    build_model,
    dcdm_loss,
    load_model,
    save_model,
    torch_operator,
)
from itersolve.solvers.deep_directions.training import GridBatch  # noqa: E402


@pytest.fixture(scope="module")
def system2d():
    return pressure_system(random_obstacles((10, 10), count=3, seed=7))


def _steps(A, b, model, **kw):
    """Iterates of a solve and its search steps s_k = x_{k+1} − x_k (multiples of the directions)."""
    xs = [np.zeros_like(b)]
    res = dcdm(A, b, model=model, callback=lambda xk: xs.append(xk.copy()), **kw)
    return res, np.diff(np.array(xs), axis=0)


@pytest.mark.parametrize("memory", [2, None])
def test_consecutive_directions_are_A_orthogonal(system2d, memory):
    A = system2d.A
    b = random_rhs(system2d, seed=1)
    rng = np.random.default_rng(0)
    M = sp.random(A.shape[0], A.shape[0], density=0.05, random_state=rng) + sp.eye(A.shape[0])

    def nonlinear(r):  # a direction that is neither r nor A⁻¹r, and not linear in r
        return M @ r + 0.3 * np.tanh(5 * r)

    res, S = _steps(A, b, nonlinear, rtol=1e-8, maxiter=40, memory=memory, descent_tol=0.0)
    assert res.details["fallback_steps"] == 0
    assert len(S) >= 10
    AS = (A @ S.T).T
    norms = np.sqrt(np.einsum("ij,ij->i", S, AS))
    for lag in (1, 2) if memory == 2 else range(1, len(S)):
        cos = np.einsum("ij,ij->i", S[lag:], AS[:-lag]) / (norms[lag:] * norms[:-lag])
        assert np.max(np.abs(cos)) < 1e-8, lag


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exact_inverse_converges_in_one_step(dtype):
    A = poisson((9, 7)).astype(dtype)
    b = np.random.default_rng(2).standard_normal(A.shape[0]).astype(dtype)
    dense = A.toarray().astype(np.float64)
    res = dcdm(A, b, model=lambda r: np.linalg.solve(dense, r), rtol=1e-5)
    assert res.converged and res.iterations == 1
    assert res.x.dtype == dtype
    assert np.linalg.norm(b - A @ res.x) <= 1e-5 * np.linalg.norm(b) * 1.0001


def test_identity_model_converges_within_n_steps():
    A = poisson((5, 4))
    b = np.random.default_rng(3).standard_normal(20)
    res = dcdm(A, b, model=lambda r: r, rtol=1e-10)
    assert res.converged and res.iterations <= 20


@pytest.mark.parametrize(
    "model,cause",
    [
        (lambda r: np.zeros_like(r), "zero"),
        (lambda r: np.full_like(r, np.nan), "nan"),
        (lambda r: np.ones_like(r), "descent"),
    ],
    ids=["zeros", "nan", "constant"],
)
def test_safeguard_keeps_bad_models_convergent(system2d, model, cause):
    b = random_rhs(system2d, seed=2)
    res = dcdm(system2d, b, model=model, rtol=1e-6)
    assert res.converged
    assert res.details["fallbacks"].get(cause, 0) >= 1
    assert res.details["fallback_steps"] == sum(res.details["fallbacks"].values())
    assert np.linalg.norm(b - system2d.A @ res.x) <= 1e-6 * np.linalg.norm(b)


def test_negated_residual_is_a_valid_direction(system2d):
    b = random_rhs(system2d, seed=3)
    res = dcdm(system2d, b, model=lambda r: -r, rtol=1e-6)
    assert res.converged and res.details["fallback_steps"] == 0


def test_breakdown_is_reported_not_hidden():
    A = -sp.eye(5, format="csr")
    res = dcdm(A, np.ones(5), model=lambda r: np.zeros_like(r))
    assert not res.converged and res.reason == Reason.DIVERGED_INDEFINITE_MAT
    res = dcdm(poisson(6), np.ones(6), model=lambda r: np.full_like(r, np.nan), maxiter=1, rtol=1e-12)
    assert res.reason == Reason.DIVERGED_MAXITER and res.info == 1


def test_singular_closed_box_converges():
    s = pressure_system(ball((10, 10), (0.5, 0.5), 0.2), open_faces=())
    b = random_rhs(s, seed=0)
    res = dcdm(s, b, model=lambda r: r, rtol=1e-8)
    assert res.converged


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_network_path_on_the_grid(dtype):
    torch.manual_seed(0)
    solid = random_obstacles((10, 9), count=2, seed=1)
    s = pressure_system(solid, dtype=dtype)
    b = random_rhs(s, seed=5)
    res = dcdm(s, b, model=build_model(2, 4, 1), rtol=1e-4)
    assert res.converged and res.x.dtype == dtype
    assert res.details["network_calls"] >= res.iterations - res.details["fallback_steps"]
    assert res.details["network_time"] > 0
    # the same with an explicit matrix + mask
    res2 = dcdm(s.A, b, model=build_model(2, 4, 1), grid=s.fluid, rtol=1e-4)
    assert res2.converged


def test_bad_inputs_get_clear_errors(system2d, tmp_path):
    b = random_rhs(system2d, seed=1)
    with pytest.raises(ValueError, match="3-D"):
        dcdm(system2d, b, model=build_model(3, 2, 1))
    with pytest.raises(ValueError, match="fluid cells"):
        dcdm(system2d.A, b, model=build_model(2, 2, 1), grid=np.ones((12, 12), dtype=bool))
    with pytest.raises(TypeError, match="boolean"):
        dcdm(system2d.A, b, model=lambda r: r, grid=system2d.fluid.astype(int))
    with pytest.raises(ValueError, match="grid="):
        dcdm(system2d.A, b, model=build_model(2, 2, 1))
    with pytest.raises(WeightsError, match="no DCDM model"):
        dcdm(system2d, b, model="no-such-model")
    with pytest.raises(ValueError, match="shape"):
        dcdm(system2d, b, model=lambda r: r[:-1])
    with pytest.raises(TypeError, match="model must be"):
        dcdm(system2d, b, model=3)
    with pytest.raises(ValueError, match="memory"):
        dcdm(system2d, b, model=lambda r: r, memory=0)
    path = save_model(build_model(2, 2, 1), tmp_path / "m.safetensors", {"note": "x"})
    path.write_bytes(path.read_bytes()[:-8])
    with pytest.raises(WeightsError, match="corrupted"):
        load_model(path)


def test_loss_is_zero_for_the_exact_inverse(system2d):
    A = system2d.A
    rng = np.random.default_rng(0)
    b = rng.standard_normal((3, A.shape[0]))
    f = np.linalg.solve(A.toarray(), b.T).T * np.array([[1.0], [-2.0], [1e3]])  # any scale
    loss = dcdm_loss(torch.as_tensor(f, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64),
                     torch_operator(A).to(torch.float64))
    assert float(loss) < 1e-20
    wrong = dcdm_loss(torch.as_tensor(b, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64),
                      torch_operator(A).to(torch.float64))
    assert float(wrong) > 1e-3


def test_a_few_training_steps_lower_the_loss(system2d):
    from itersolve.solvers.deep_directions.data import RitzData

    torch.manual_seed(0)
    data = RitzData.build([system2d], 30, seed=0)
    b = torch.as_tensor(data.batch(0, 8, np.random.default_rng(1)))
    grid = GridBatch(system2d)
    net = build_model(2, 4, 1)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    with torch.no_grad():
        before = float(dcdm_loss(grid.apply(net, b), b, grid.A))
    for _ in range(10):
        loss = dcdm_loss(grid.apply(net, b), b, grid.A)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        after = float(dcdm_loss(grid.apply(net, b), b, grid.A))
    assert after < 0.9 * before


@pytest.mark.parametrize("name", pretrained.available(kind="dcdm"))
def test_shipped_weights_load_and_solve(name):
    cfg = pretrained.config(name)
    assert cfg["kind"] == "dcdm" and cfg["command"].startswith("itersolve train dcdm")
    assert pretrained.path(name).stat().st_size < 4_000_000
    dim = int(cfg["dim"])
    shape = (16, 16) if dim == 2 else (8, 8, 8)
    s = pressure_system(random_obstacles(shape, count=2, seed=99))
    res = dcdm(s, random_rhs(s, seed=99), model=name, rtol=1e-4)
    assert res.converged


@settings(max_examples=25, deadline=None)
@given(data=st.data(), shape=st.sampled_from([(4, 5), (3, 3, 4)]))
def test_mask_handling_property(data, shape):
    flat = data.draw(st.lists(st.booleans(), min_size=int(np.prod(shape)), max_size=int(np.prod(shape))))
    solid = np.array(flat, dtype=bool).reshape(shape)
    if solid.all():
        return
    s = pressure_system(solid, open_faces="all")  # singular only where a cell is walled in on all sides
    b = s.A @ np.random.default_rng(0).standard_normal(s.n)
    pinv = np.linalg.pinv(s.A.toarray())
    res = dcdm(s, b, model=lambda r: pinv @ r, rtol=1e-8)
    assert res.converged and res.iterations <= 1
    wrong = np.ones(shape, dtype=bool)
    wrong.flat[0] = not (s.n == wrong.size)  # a mask whose cell count differs from n
    if int(wrong.sum()) != s.n:
        with pytest.raises(ValueError, match="fluid cells"):
            dcdm(s.A, b, model=lambda r: r, grid=wrong)


def test_fine_tune_from_a_checkpoint_keeps_the_parent_architecture(tmp_path):
    import argparse
    import json

    from itersolve.solvers.deep_directions import TrainConfig, train
    from itersolve.solvers.deep_directions.cli import add_arguments

    tiny = dict(dim=2, grid=12, geometries=1, ritz=15, vectors=4, epochs=1, batch_size=4, val_geometries=1)
    parent = train(TrainConfig(channels=3, levels=2, **tiny), out=tmp_path / "parent.safetensors", progress=False)
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--init", str(parent.path), "--out", str(tmp_path / "child.safetensors")])
    assert args.init == str(parent.path)
    # the run asks for the default 16 channels / 1 level, the parent's 3 / 2 win
    child = train(TrainConfig(channels=16, levels=1, init=str(parent.path), seed=1, **tiny),
                  out=tmp_path / "child.safetensors", progress=False, command="itersolve train dcdm --init x")
    assert (child.model.channels, child.model.levels) == (3, 2)
    assert child.history[0]["epoch"] == 0 and child.history[0]["loss"] is None  # the parent, validated
    cfg = json.loads((tmp_path / "child.json").read_text())
    parent_cfg = json.loads((tmp_path / "parent.json").read_text())
    assert cfg["init_from"]["name"] == str(parent.path)
    assert cfg["init_from"]["sha256"] == parent_cfg["sha256"]
    assert cfg["init_from"]["command"] == parent_cfg["command"]
    assert (cfg["channels"], cfg["levels"], cfg["training"]["init"]) == (3, 2, str(parent.path))
    load_model(tmp_path / "child.safetensors")
    with pytest.raises(WeightsError):
        train(TrainConfig(init=str(tmp_path / "missing.safetensors"), **tiny), progress=False)


def test_fine_tune_from_a_shipped_model_records_its_hash():
    from itersolve.solvers.deep_directions.training import _parent

    name = pretrained.available(kind="dcdm")[0]
    net, prov = _parent(name)
    assert prov["name"] == name and prov["sha256"] == pretrained.config(name)["sha256"]
    assert net.channels == pretrained.config(name)["channels"]


# --- the hybrid with a classical preconditioner (M=) -------------------------------------------------------


def _galerkin(A, b, x0, V):
    """x0 + the A-norm-optimal correction in span(V) (dense reference)."""
    V = np.column_stack(V)
    return x0 + V @ np.linalg.solve(V.T @ A @ V, V.T @ (b - A @ x0))


@pytest.mark.parametrize("pair", ["multiplicative", "additive"])
@pytest.mark.parametrize("seed", [3, 11])
def test_hybrid_matches_a_dense_galerkin_reference(pair, seed):
    from itersolve.preconditioners import IC0

    s = pressure_system(random_obstacles((9, 9), count=3, seed=seed))
    A = s.A.toarray()
    b = random_rhs(s, seed=seed)
    B = np.random.default_rng(seed).standard_normal((s.n, s.n)) / s.n + np.eye(s.n)  # a poor, fixed "network"
    model = lambda r: B @ r  # noqa: E731
    M = IC0(s.A)
    Minv = lambda r: M.apply(np.ascontiguousarray(r))  # noqa: E731
    xs = []
    dcdm(s.A, b, model=model, M=M, pair=pair, rtol=1e-12, maxiter=4, callback=lambda xk: xs.append(xk.copy()))
    x, V = np.zeros(s.n), []
    for xk in xs:
        r = b - A @ x
        V.append(model(r / np.linalg.norm(r)))
        if pair == "multiplicative":
            V.append(Minv(b - A @ _galerkin(A, b, np.zeros(s.n), V)))
        else:
            V.append(Minv(r))
        x = _galerkin(A, b, np.zeros(s.n), V)
        np.testing.assert_allclose(xk, x, rtol=1e-7, atol=1e-9 * np.linalg.norm(x))


def test_hybrid_keeps_directions_A_orthogonal_and_converges_exactly(monkeypatch, system2d):
    from itersolve.preconditioners import IC0
    import importlib

    dcdm_module = importlib.import_module("itersolve.solvers.dcdm")

    made = []

    class Recording(dcdm_module._Directions):
        def __init__(self, memory):
            super().__init__(memory)
            made.append(self)

    monkeypatch.setattr(dcdm_module, "_Directions", Recording)
    A, n = system2d.A, system2d.n
    b = random_rhs(system2d, seed=1)
    res = dcdm(A, b, model=lambda r: r, M=IC0(A), rtol=1e-10)  # f = I: a poor network
    assert res.converged and res.iterations <= n // 2 + 1
    P = np.column_stack([p for p, _, _ in made[0].kept])
    G = P.T @ (A @ P)
    off = G - np.diag(np.diag(G))
    assert np.abs(off).max() <= 1e-8 * np.abs(np.diag(G)).max()
    assert P.shape[1] == 2 * res.iterations - res.details["pair_dropped"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_hybrid_float32_and_float64(system2d, dtype):
    from itersolve.preconditioners import IC0

    A = system2d.A.astype(dtype)
    b = random_rhs(system2d, seed=2).astype(dtype)
    plain = dcdm(A, b, model=lambda r: r, rtol=1e-5)
    res = dcdm(A, b, model=lambda r: r, M=IC0(A), rtol=1e-5)
    assert res.converged and res.x.dtype == dtype
    assert res.iterations < plain.iterations
    assert np.linalg.norm(b - A @ res.x) <= 1e-5 * np.linalg.norm(b) * 1.0001
    assert res.details["preconditioner"] == "IC0"


def test_hybrid_network_on_the_grid_beats_ic0_pcg():
    from itersolve.preconditioners import IC0
    from itersolve.solvers import cg

    s = pressure_system(random_obstacles((16, 16), count=2, seed=5))
    b = random_rhs(s, seed=5)
    torch.manual_seed(0)
    res = dcdm(s, b, model=build_model(2, 4, 1), M=IC0(s.A), rtol=1e-6)
    assert res.converged and res.details["network_calls"] == res.iterations
    assert res.iterations <= cg(s.A, b, M=IC0(s.A), rtol=1e-6).iterations


def test_hybrid_guards_a_dependent_pair_and_a_failing_network(system2d):
    from itersolve.preconditioners import IC0
    from itersolve.solvers import cg

    A = system2d.A
    b = random_rhs(system2d, seed=4)
    M = IC0(A)
    same = dcdm(A, b, model=lambda r: M.apply(np.ascontiguousarray(r)), M=M, pair="additive", rtol=1e-8)
    assert same.converged and same.details["pair_dropped"] == same.iterations  # f(r) = M⁻¹r: one direction
    nan = dcdm(A, b, model=lambda r: np.full_like(r, np.nan), M=M, rtol=1e-8)
    assert nan.converged and nan.details["fallbacks"] == {"nan": nan.iterations}
    assert abs(nan.iterations - cg(A, b, M=M, rtol=1e-8).iterations) <= 1  # M⁻¹r alone: PCG's directions
    with pytest.raises(ValueError, match="pair"):
        dcdm(A, b, model=lambda r: r, M=M, pair="both")
