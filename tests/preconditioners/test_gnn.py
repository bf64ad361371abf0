"""GNN preconditioners: graph conversion, factor properties, losses, fallback, weights I/O."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.linalg import solve_triangular

torch = pytest.importorskip("torch")
pytest.importorskip("torch_geometric")
pytest.importorskip("safetensors")

from hypothesis import example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import itersolve  # noqa: E402
from itersolve import pdes, pretrained  # noqa: E402
from itersolve.preconditioners import IC0, GNNPreconditioner  # noqa: E402
from itersolve.preconditioners.gnn import (  # noqa: E402
    GNNFallbackWarning,
    NeuralIF,
    PreCorrector,
    WeightsError,
    factor_to_csr,
    frobenius_loss,
    graph_to_matrix,
    load_model,
    matrix_to_graph,
    save_model,
    solution_loss,
)
from itersolve.preconditioners.gnn.data import make_matrix, seed_for  # noqa: E402

torch.set_num_threads(1)


def _random_spd(n: int, density: float, seed: int) -> sp.csr_matrix:
    """A random sparse SPD matrix (diagonally dominant) with a random diagonal scaling."""
    rng = np.random.default_rng(seed)
    B = sp.random(n, n, density=density, random_state=rng, format="csr")
    B = B + B.T
    B.data = -np.abs(B.data)
    dom = np.asarray(abs(B).sum(axis=1)).ravel() + rng.uniform(0.1, 1.0, n)
    A = B + sp.diags(dom)
    s = sp.diags(np.exp(rng.uniform(-2, 2, n)))
    return (s @ A @ s).tocsr()


def _pattern(M: sp.csr_matrix) -> set[tuple[int, int]]:
    C = M.tocoo()
    return set(zip(C.row.tolist(), C.col.tolist()))


# ---------------------------------------------------------------- graph


@pytest.mark.parametrize("make", [
    lambda: pdes.diffusion(pdes.random_field((9, 7), variance=1.1, seed=2)),
    lambda: pdes.poisson((5, 4, 3)),
    lambda: pdes.fem_example("airfoil"),
    lambda: _random_spd(40, 0.1, 0),
])
def test_graph_round_trip(make):
    A = make()
    g = matrix_to_graph(A, dtype=torch.float64)
    B = graph_to_matrix(g)
    assert abs(B - A).max() <= 1e-12 * abs(A).max()
    assert g.edge_index.shape[1] == sp.tril(A, k=-1).nnz
    assert bool((g.edge_index[0] < g.edge_index[1]).all())  # source j < target i: lower triangle
    # the stored IC(0) factor, mapped back, is IC0(A).L
    L = factor_to_csr(g, g.ic_diag, g.ic_off)
    assert abs(L - IC0(A).L).max() <= 1e-10 * abs(IC0(A).L).max()


def test_graph_features_are_scale_invariant():
    A = pdes.diffusion(pdes.random_field((8, 8), variance=0.7, seed=1))
    g1, g2 = matrix_to_graph(A, dtype=torch.float64), matrix_to_graph(1e4 * A, dtype=torch.float64)
    assert torch.allclose(g1.x, g2.x) and torch.allclose(g1.edge_attr, g2.edge_attr)


def test_non_positive_diagonal_is_rejected():
    with pytest.raises(ValueError, match="positive diagonal"):
        matrix_to_graph(np.array([[1.0, 0.5], [0.5, -1.0]]))


# --------------------------------------------------------------- factors


@settings(max_examples=12, deadline=None)
@given(n=st.integers(2, 24), density=st.floats(0.05, 0.4), seed=st.integers(0, 10_000),
       arch=st.sampled_from(["neuralif", "precorrector"]), scale=st.floats(1e-3, 1e3))
@example(n=15, density=0.25, seed=877, arch="precorrector", scale=1.0)  # overflowing factor, seen in CI
def test_factor_is_lower_with_positive_diagonal_on_the_pattern(n, density, seed, arch, scale):
    A = scale * _random_spd(n, density, seed)
    torch.manual_seed(seed)
    model = NeuralIF(hidden=4, layers=2) if arch == "neuralif" else PreCorrector(hidden=4, layers=2)
    with torch.no_grad():
        for p in model.parameters():  # random, large weights: not the benign initialisation
            p.normal_(0.0, 0.5)
    g = matrix_to_graph(A, dtype=torch.float32)
    with torch.no_grad():
        diag, off = model(g)
    L = factor_to_csr(g, diag.double().numpy(), off.double().numpy())
    expected = _pattern(sp.tril(A)) | {(i, i) for i in range(n)}
    assert _pattern(L) == expected
    assert np.all(L.diagonal() > 0)
    assert sp.triu(L, k=1).nnz == 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GNNFallbackWarning)
        P = GNNPreconditioner(A, model=model, probe_bound=np.inf)  # the factor itself, however poor
    Ld = L.toarray()
    if P.fallback:
        # random weights can give pivots ~1e-9 under entries ~10: the only acceptable refusal is that
        # applying (L Lᵀ)⁻¹ really overflows, checked here with a dense triangular solve
        assert "Rayleigh quotient" in P.fallback_reason
        v = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
        with np.errstate(all="ignore"):
            p = solve_triangular(Ld.T, solve_triangular(Ld, v, lower=True), lower=False)
            q = (p @ (A @ p)) / (p @ v)
        assert not np.isfinite(q)
        return
    assert abs(P.L - L).max() == 0.0
    # the preconditioner is (L Lᵀ)⁻¹: small backward error (random weights make L ill-conditioned)
    r = np.random.default_rng(seed).standard_normal(n)
    z = P.apply(r)
    y = Ld.T @ z
    bound = 1e-10 * (np.abs(Ld) @ (np.abs(Ld.T) @ np.abs(z)) + np.abs(Ld) @ np.abs(y) + np.abs(r))
    assert np.all(np.abs(Ld @ y - r) <= n * bound)


def test_factor_scales_with_sqrt_of_the_matrix_scale():
    A = _random_spd(30, 0.2, 3)
    torch.manual_seed(0)
    model = NeuralIF(hidden=4, layers=2).double()
    L1 = GNNPreconditioner(A, model=model).L
    L2 = GNNPreconditioner(100.0 * A, model=model).L
    assert np.allclose(L2.toarray(), 10.0 * L1.toarray(), rtol=1e-10)


def test_untrained_precorrector_is_ic0():
    A = pdes.diffusion(pdes.random_field((10, 10), variance=1.1, seed=0))
    P = GNNPreconditioner(A, model=PreCorrector(hidden=4, layers=2).double())
    assert abs(P.L - IC0(A).L).max() <= 1e-12 * abs(IC0(A).L).max()


def test_level_one_graph_and_untrained_precorrector_is_ic1():
    from itersolve.preconditioners.classical import IC1, ick_pattern

    A = pdes.diffusion(pdes.random_field((10, 10), variance=1.1, seed=0))
    g = matrix_to_graph(A, level=1, dtype=torch.float64)
    lp, li, _ = ick_pattern(A, 1)
    assert g.level == 1 and np.array_equal(g.tril_indptr, lp) and np.array_equal(g.tril_indices, li)
    assert int((g.a_off == 0).sum()) == 9 * 9  # the fill edges carry a_ij = 0
    assert abs(graph_to_matrix(g) - A).max() < 1e-12
    P = GNNPreconditioner(A, model=PreCorrector(hidden=4, layers=2, level=1).double())
    assert P.L.nnz == IC1(A).L.nnz and abs(P.L - IC1(A).L).max() <= 1e-12 * abs(IC1(A).L).max()


# ---------------------------------------------------------------- losses


def test_losses_vanish_for_the_exact_cholesky_factor():
    # a tree-structured (here: tridiagonal) SPD matrix: its Cholesky factor has the pattern of tril(A)
    rng = np.random.default_rng(0)
    n = 12
    off = -rng.uniform(0.1, 1.0, n - 1)
    A = sp.diags([off, 2.5 + rng.uniform(size=n), off], [-1, 0, 1], format="csr")
    g = matrix_to_graph(A, dtype=torch.float64)
    d = np.sqrt(A.diagonal())
    Ahat = A.toarray() / np.outer(d, d)
    C = np.linalg.cholesky(Ahat)
    src, dst = g.edge_index.numpy()
    diag = torch.as_tensor(np.diag(C).copy())
    offv = torch.as_tensor(C[dst, src])
    b = torch.as_tensor(rng.standard_normal((n, 3)))
    x = torch.as_tensor(np.linalg.solve(Ahat, b.numpy()))
    assert float(solution_loss(g, diag, offv, x, b)) < 1e-26
    assert float(frobenius_loss(g, diag, offv, b)) < 1e-26
    assert float(solution_loss(g, 1.1 * diag, offv, x, b)) > 1e-3
    assert float(frobenius_loss(g, diag, 0.9 * offv, b)) > 1e-4


# ------------------------------------------------------- training and I/O


def test_a_few_training_steps_lower_pcg_iterations_on_the_training_matrix():
    from itersolve.preconditioners.gnn import TrainConfig, train

    cfg = TrainConfig(grid=16, variances=(1.1,), n_train=2, n_val=0, epochs=25, batch_size=2, hidden=8, layers=2,
                      lr=1e-2, rhs=8, threads=1)
    result = train(cfg, progress=False)
    A = make_matrix("diffusion2d", 16, 1.1, seed_for("train", 0))
    b = np.random.default_rng(5).standard_normal(A.shape[0])
    ic = itersolve.cg(A, b, M=IC0(A), rtol=1e-8).iterations
    res = itersolve.cg(A, b, M=GNNPreconditioner(A, model=result.model), rtol=1e-8)
    assert res.converged
    assert res.iterations < ic
    assert result.history[-1]["loss"] < result.history[0]["loss"]


def test_cli_train_writes_reproducible_checkpoints(tmp_path):
    from itersolve.cli import main

    args = ["train", "gnn", "--grid", "10", "--variance", "0.5", "1.1", "--n-train", "2", "--n-val", "1",
            "--epochs", "2", "--batch-size", "2", "--hidden", "4", "--layers", "1", "--threads", "1",
            "--no-progress"]
    assert main(args + ["--out", str(tmp_path / "a.safetensors")]) == 0
    assert main(args + ["--out", str(tmp_path / "b.safetensors")]) == 0
    cfg = json.loads((tmp_path / "a.json").read_text())
    assert cfg["command"].startswith("itersolve train gnn --grid 10")
    assert cfg["training"]["variances"] == [0.5, 1.1] and len(cfg["history"]) == 2
    assert (tmp_path / "a-last.safetensors").exists()
    ma, _ = load_model(tmp_path / "a.safetensors")
    mb, _ = load_model(tmp_path / "b.safetensors")
    for (k, va), vb in zip(ma.state_dict().items(), mb.state_dict().values()):
        assert torch.equal(va, vb), k  # same seed, same weights


def test_training_mixes_grid_sizes_and_fine_tunes_from_a_checkpoint(tmp_path):
    from itersolve.preconditioners.gnn import TrainConfig, train
    from itersolve.preconditioners.gnn.training import _system

    cfg = TrainConfig(grid=(8, 12), variances=(0.5, 1.1), n_train=4, n_val=0, epochs=1, batch_size=4, hidden=4,
                      layers=1, level=1, threads=1)
    assert [_system(cfg, "train", i).shape[0] for i in range(4)] == [64, 144, 64, 144]
    assert "--grid 8 12 --variance 0.5 1.1" in cfg.command() and "--init" not in cfg.command()
    first = train(cfg, out=tmp_path / "a.safetensors", progress=False)
    model, saved = load_model(tmp_path / "a.safetensors")
    assert model.level == 1 and saved["level"] == 1 and saved["training"]["grid"] == [8, 12]
    tuned = train(cfg, init=str(tmp_path / "a.safetensors"), lr=0.0, progress=False, out=tmp_path / "b.safetensors")
    origin = json.loads((tmp_path / "b.json").read_text())["init_from"]
    assert origin["sha256"] == saved["sha256"] and origin["command"] == saved["command"]
    for (k, va), vb in zip(first.model.state_dict().items(), tuned.model.state_dict().values()):
        assert torch.equal(va, vb), k  # lr = 0: fine-tuning starts from (and keeps) the checkpoint
    with pytest.raises(ValueError, match="init="):
        train(cfg, init=str(tmp_path / "a.safetensors"), hidden=8, progress=False)


def test_fem_family_trains_on_three_examples_and_holds_two_out():
    from itersolve.preconditioners.gnn.data import FEM_HELD_OUT, FEM_TRAIN

    assert {make_matrix("fem", 0, 0.0, s).shape[0] for s in range(3)} == {260, 600, 966}
    assert not set(FEM_TRAIN) & set(FEM_HELD_OUT)
    assert make_matrix("fem:unit_cube", 0, 0.0, 0).shape == (125, 125)
    with pytest.raises(ValueError, match="unknown family"):
        make_matrix("fem:teapot", 0, 0.0, 0)


@pytest.fixture
def checkpoint(tmp_path):
    path = save_model(PreCorrector(hidden=4, layers=2), tmp_path / "m.safetensors", {"note": "test"})
    return path


def test_corrupted_weights_fail_clearly(checkpoint):
    raw = bytearray(checkpoint.read_bytes())
    raw[-5] ^= 0xFF
    checkpoint.write_bytes(bytes(raw))
    with pytest.raises(WeightsError, match="corrupted"):
        load_model(checkpoint)


def test_truncated_weights_fail_clearly(checkpoint):
    checkpoint.write_bytes(checkpoint.read_bytes()[:40])
    with pytest.raises(WeightsError, match="cannot read weights file"):
        load_model(checkpoint, check_hash=False)


def test_mismatched_config_fails_clearly(checkpoint):
    cfg_path = checkpoint.with_suffix(".json")
    cfg = json.loads(cfg_path.read_text())
    cfg["hidden"] = 8
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(WeightsError, match="hidden"):
        load_model(checkpoint)
    del cfg["sha256"]
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(WeightsError, match="hidden"):
        load_model(checkpoint)
    cfg["arch"] = "transformer"
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(WeightsError, match="cannot build the model"):
        load_model(checkpoint)


def test_weights_of_another_architecture_fail_clearly(tmp_path, checkpoint):
    other = save_model(NeuralIF(hidden=4, layers=2), tmp_path / "n.safetensors")
    checkpoint.write_bytes(other.read_bytes())
    cfg_path = checkpoint.with_suffix(".json")
    cfg = json.loads(cfg_path.read_text())
    del cfg["sha256"]
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(WeightsError, match="arch"):
        load_model(checkpoint)


def test_missing_config_or_model_fails_clearly(checkpoint):
    checkpoint.with_suffix(".json").unlink()
    with pytest.raises(WeightsError, match="config"):
        load_model(checkpoint)
    with pytest.raises(KeyError, match="available"):
        GNNPreconditioner(np.eye(3), model="no-such-model")


# -------------------------------------------------------------- fallback


class _Broken(torch.nn.Module):
    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def forward(self, g):
        diag = torch.ones(g.num_nodes)
        if self.kind == "nan":
            diag[3] = float("nan")
        else:
            diag[2] = -1.0
        return diag, g.a_off.clone()


@pytest.mark.parametrize("kind", ["nan", "negative"])
def test_unusable_factor_falls_back_to_ic0_or_raises_when_strict(kind):
    A = pdes.diffusion(pdes.random_field((8, 8), variance=1.1, seed=4))
    with pytest.warns(GNNFallbackWarning, match="falling back to IC"):
        P = GNNPreconditioner(A, model=_Broken(kind))
    assert P.fallback
    assert abs(P.L - IC0(A).L).max() == 0
    assert itersolve.cg(A, np.ones(64), M=P, rtol=1e-8).converged
    with pytest.raises(ValueError, match="strict"):
        GNNPreconditioner(A, model=_Broken(kind), strict=True)


def test_factor_failing_the_probe_falls_back_and_the_bound_is_a_parameter():
    A = pdes.diffusion(pdes.random_field((8, 8), variance=1.1, seed=4))
    model = PreCorrector(hidden=4, layers=2).double()
    with torch.no_grad():
        model.alpha.fill_(1.0)
        model.trunk.node_out.bias.fill_(-8.0)  # a diagonal e^-8 times IC(0)'s: the probe sees ~e^16
    with pytest.warns(GNNFallbackWarning, match="Rayleigh quotient"):
        P = GNNPreconditioner(A, model=model)
    assert P.fallback and abs(P.L - IC0(A).L).max() == 0
    assert not GNNPreconditioner(A, model=model, probe_bound=np.inf).fallback
    with pytest.raises(ValueError, match="probe_bound"):
        GNNPreconditioner(A, model=model, probe_bound=0.0)


def test_diffusion_model_on_other_families_falls_back_instead_of_stalling():
    A = make_matrix("fem:knot", 0, 0.0, 0)
    b = np.random.default_rng(0).standard_normal(A.shape[0])
    with pytest.warns(GNNFallbackWarning):
        P = GNNPreconditioner(A, model="diffusion2d")
    assert itersolve.cg(A, b, M=P, rtol=1e-8).iterations == itersolve.cg(A, b, M=IC0(A), rtol=1e-8).iterations


# ----------------------------------------------------------- shipped model


def test_shipped_model_loads_and_beats_ic0_on_held_out_systems():
    assert "diffusion2d" in pretrained.available(kind="gnn-preconditioner")
    cfg = pretrained.config("diffusion2d")
    assert cfg["command"].startswith("itersolve train gnn") and len(cfg["sha256"]) == 64
    ratios = []
    for i in range(2):
        A = make_matrix("diffusion2d", 64, 1.1, seed_for("test", i))
        b = np.random.default_rng(i).standard_normal(A.shape[0])
        with warnings.catch_warnings():
            warnings.simplefilter("error", GNNFallbackWarning)
            P = GNNPreconditioner(A)
        res = itersolve.cg(A, b, M=P, rtol=1e-8)
        assert res.converged and not P.fallback
        ratios.append(res.iterations / itersolve.cg(A, b, M=IC0(A), rtol=1e-8).iterations)
    assert max(ratios) < 0.8, ratios
    P32 = GNNPreconditioner(A, inference_dtype="float64", dtype=np.float32)
    assert P32.dtype == np.float32 and itersolve.cg(A, b, M=P32, rtol=1e-5).converged


def test_importing_the_gnn_package_does_not_import_torch():
    code = ("import sys, itersolve.preconditioners.gnn, itersolve.pretrained; "
            "print(sorted(m for m in ('torch', 'torch_geometric', 'safetensors') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "[]"


def test_missing_torch_names_the_extra():
    code = ("import sys; sys.modules['torch'] = None\n"
            "import numpy as np\n"
            "from itersolve.preconditioners import GNNPreconditioner\n"
            "try:\n    GNNPreconditioner(np.eye(2))\n"
            "except ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert "torch' extra" in out and "pip install 'itersolve[torch]'" in out
