"""Training a GNN preconditioner: :func:`train` and its :class:`TrainConfig`.

The loop: build ``n_train`` systems of a family (:mod:`.data`), their graphs
and, for the solution loss, ``rhs`` random right-hand sides ``b̂`` with
``x̂ = Â⁻¹ b̂`` (a sparse direct solve, once); then ``epochs`` passes of
Adam over shuffled mini-batches of graphs (a PyG ``Batch``), gradient norm
clipped at 1. After each epoch the model is validated by the PCG iteration
count (``‖b − Ax‖ ≤ 1e-8‖b‖``) on ``n_val`` held-out systems, relative to
IC(0); the best epoch is saved to ``out`` (safetensors + JSON config with the
command), the latest to ``<out>-last.safetensors``. Everything is seeded:
the same config and thread count give the same weights.

Examples
--------
>>> from itersolve.preconditioners.gnn import TrainConfig, train
>>> cfg = TrainConfig(grid=12, n_train=4, n_val=1, epochs=2, batch_size=2, hidden=4, layers=2)
>>> result = train(cfg, progress=False)
>>> len(result.history), sorted(result.history[-1])
(2, ['epoch', 'loss', 'val_fallbacks', 'val_ic0_iterations', 'val_iterations', 'val_ratio'])
"""

from __future__ import annotations

import dataclasses
import shlex
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch
from torch_geometric.data import Batch

from ...solvers import cg
from ..classical import IC0
from .data import make_matrix, seed_for
from .graph import NUMPY_KEYS, graph_to_matrix, matrix_to_graph
from .io import model_config, save_model
from .losses import frobenius_loss, solution_loss
from .models import build_model
from .preconditioner import GNNFallbackWarning, GNNPreconditioner

__all__ = ["TrainConfig", "TrainResult", "train", "validate"]


@dataclass
class TrainConfig:
    """Everything that determines a training run (stored in the checkpoint's JSON).

    Attributes
    ----------
    family : {"diffusion2d", "anisotropic2d", "fem"}
        See :mod:`.data`.
    grid : int or tuple of int
        Training grid side(s) (``grid**2`` unknowns); with several sides,
        system ``i`` uses ``grid[i % len(grid)]`` (a mix of sizes teaches the
        model scales it would otherwise only meet at test time).
    variances : tuple of float
        Variances ``σ²`` of ``log k``; system ``i`` uses
        ``variances[(i // len(grid)) % len(variances)]``, so every size meets
        every variance.
    length : float
        Correlation length of the random field.
    arch : {"precorrector", "neuralif"}
    level : int
        Level of fill of the factor's pattern (0: IC(0)'s, 1: IC(1)'s).
    hidden, layers : int
        Width and number of message-passing blocks.
    loss : {"solution", "frobenius"}
    n_train, n_val : int
        Training and validation systems.
    rhs : int
        Right-hand sides (or Frobenius probes) per system and step.
    epochs, batch_size : int
    lr : float
        Adam learning rate (cosine-decayed to 10% over the run).
    seed : int
        Seeds data (``seed_for``), initialisation and shuffling.
    threads : int
        ``torch.set_num_threads`` during training.
    init : str, optional
        Start from these weights (a shipped model name or a checkpoint path)
        instead of a fresh model -- fine-tuning; ``arch``, ``hidden`` and
        ``layers`` must match the checkpoint, ``level`` may differ (a
        PreCorrector[IC(0)] is a sensible start for a PreCorrector[IC(1)]).
        Its name, ``sha256`` and command are kept in the new config
        (``init_from``).
    """

    family: str = "diffusion2d"
    grid: tuple[int, ...] = (64,)
    variances: tuple[float, ...] = (0.7,)
    length: float = 0.1
    arch: str = "precorrector"
    level: int = 0
    hidden: int = 16
    layers: int = 4
    loss: str = "solution"
    n_train: int = 32
    n_val: int = 4
    rhs: int = 4
    epochs: int = 10
    batch_size: int = 4
    lr: float = 3e-3
    seed: int = 0
    threads: int = 2
    init: str | None = None

    def __post_init__(self) -> None:
        self.variances = tuple(float(v) for v in np.atleast_1d(self.variances))
        self.grid = tuple(int(g) for g in np.atleast_1d(self.grid))
        if min(self.grid) < 1:
            raise ValueError(f"grid must be >= 1, got {self.grid}")
        if self.loss not in ("solution", "frobenius"):
            raise ValueError(f"loss must be 'solution' or 'frobenius', got {self.loss!r}")
        for name in ("n_train", "rhs", "epochs", "batch_size", "threads"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")

    def command(self, out: str | Path | None = None) -> str:
        """The ``itersolve train gnn`` command line that reproduces this run.

        Examples
        --------
        >>> TrainConfig(grid=32, epochs=3).command("m.safetensors").split()[:6]
        ['itersolve', 'train', 'gnn', '--family', 'diffusion2d', '--grid']
        """
        parts = ["itersolve", "train", "gnn"]
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            flag = "--" + f.name.replace("_", "-")
            if f.name == "variances":
                parts += ["--variance", *[repr(v) for v in value]]
            elif f.name == "grid":
                parts += ["--grid", *[str(g) for g in value]]
            elif value is None:
                continue
            else:
                parts += [flag, str(value)]
        if out is not None:
            parts += ["--out", str(out)]
        return shlex.join(parts)


@dataclass
class TrainResult:
    """What :func:`train` returns: the best model, its validation history and checkpoint path."""

    model: torch.nn.Module
    history: list[dict[str, float]] = field(default_factory=list)
    path: Path | None = None
    best_epoch: int = 0
    seconds: float = 0.0


def _system(cfg: TrainConfig, split: str, i: int) -> Any:
    """System ``i`` of ``split``: every grid side meets every variance (see :class:`TrainConfig`)."""
    ng = len(cfg.grid)
    grid, var = cfg.grid[i % ng], cfg.variances[(i // ng) % len(cfg.variances)]
    return make_matrix(cfg.family, grid, var, seed_for(split, i, cfg.seed), length=cfg.length)


def _training_set(cfg: TrainConfig, rng: np.random.Generator) -> list[Any]:
    graphs = []
    for i in range(cfg.n_train):
        A = _system(cfg, "train", i)
        g = matrix_to_graph(A, level=cfg.level)
        if cfg.loss == "solution":
            Ahat = graph_to_matrix(g)
            s = g.sqrt_diag
            Ahat = sp.diags(1.0 / s) @ Ahat @ sp.diags(1.0 / s)
            b = rng.standard_normal((A.shape[0], cfg.rhs))
            x = spla.splu(Ahat.tocsc()).solve(b)
            g.b_hat = torch.as_tensor(b, dtype=torch.float32)
            g.x_hat = torch.as_tensor(x, dtype=torch.float32)
        graphs.append(g)
    return graphs


def _validation_set(cfg: TrainConfig) -> list[tuple[Any, np.ndarray, int]]:
    out = []
    for i in range(cfg.n_val):
        A = _system(cfg, "val", i)
        b = np.random.default_rng(seed_for("val", i, cfg.seed)).standard_normal(A.shape[0])
        ic = cg(A, b, M=IC0(A), rtol=1e-8).iterations
        out.append((A, b, ic))
    return out


def validate(model: torch.nn.Module, systems: list[tuple[Any, np.ndarray, int]]) -> dict[str, float]:
    """Mean PCG iterations with ``model`` (and with IC(0)) over validation systems ``(A, b, ic0_iters)``.

    The iterations are those a user gets from :class:`GNNPreconditioner`: on a
    system where the model's factor is unusable, those of the IC fallback
    (``val_fallbacks`` counts such systems); a failed solve counts as
    infinitely many.
    """
    its, ics, fallbacks = [], [], 0
    for A, b, ic in systems:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", GNNFallbackWarning)
            P = GNNPreconditioner(A, model=model)
        res = cg(A, b, M=P, rtol=1e-8)
        its.append(res.iterations if res.converged else np.inf)
        ics.append(ic)
        fallbacks += P.fallback
    mean, mean_ic = float(np.mean(its)), float(np.mean(ics))
    return {"val_iterations": mean, "val_ic0_iterations": mean_ic, "val_ratio": mean / mean_ic,
            "val_fallbacks": fallbacks}


def train(cfg: TrainConfig | None = None, *, out: str | Path | None = None, progress: bool = True,
          command: str | None = None, **overrides: Any) -> TrainResult:
    """Train a GNN preconditioner; returns the best model by validation PCG iterations.

    Parameters
    ----------
    cfg : TrainConfig, optional
        The run; keyword ``overrides`` replace its fields (``train(grid=32, epochs=5)``).
    out : path, optional
        Where the best checkpoint goes (``.safetensors``; its ``.json`` config
        and a ``-last`` checkpoint go next to it). Nothing is written without it.
    progress : bool
        Show a tqdm progress bar over the steps.
    command : str, optional
        The command to record in the config (default: the equivalent
        ``itersolve train gnn ...`` line, :meth:`TrainConfig.command`).

    Returns
    -------
    TrainResult
    """
    cfg = dataclasses.replace(cfg or TrainConfig(), **overrides)
    t_start = time.perf_counter()
    threads = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    try:
        torch.manual_seed(cfg.seed)
        rng = np.random.default_rng(cfg.seed)
        graphs = _training_set(cfg, rng)
        val = _validation_set(cfg) if cfg.n_val > 0 else []
        model = _initial_model(cfg)
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
        steps_per_epoch = -(-len(graphs) // cfg.batch_size)
        total = steps_per_epoch * cfg.epochs
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda k: 0.1 + 0.9 * 0.5 * (1.0 + np.cos(np.pi * min(k, total) / total)))
        gen = torch.Generator().manual_seed(cfg.seed)
        bar = _bar(total, progress)
        history: list[dict[str, float]] = []
        best, best_state, best_epoch = np.inf, None, 0
        out_path = Path(out) if out is not None else None
        config = {"kind": "gnn-preconditioner", "training": dataclasses.asdict(cfg),
                  "command": command or cfg.command(out_path)}
        if cfg.init is not None:
            config["init_from"] = _provenance(cfg.init)
        for epoch in range(1, cfg.epochs + 1):
            order = torch.randperm(len(graphs), generator=gen).tolist()
            losses = []
            for k in range(0, len(order), cfg.batch_size):
                batch = Batch.from_data_list([graphs[i] for i in order[k:k + cfg.batch_size]],
                                             exclude_keys=list(NUMPY_KEYS))
                diag, off = model(batch)
                if cfg.loss == "solution":
                    loss = solution_loss(batch, diag, off, batch.x_hat, batch.b_hat)
                else:
                    z = torch.randn(batch.num_nodes, cfg.rhs, generator=gen)
                    loss = frobenius_loss(batch, diag, off, z)
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
                sched.step()
                losses.append(float(loss.detach()))
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(epoch=epoch, loss=f"{losses[-1]:.3g}")
            row = {"epoch": epoch, "loss": float(np.mean(losses))}
            if val:
                row.update(validate(model, val))
            history.append(row)
            score = row.get("val_iterations", row["loss"])
            if bar is not None and val:
                bar.set_postfix(epoch=epoch, loss=f"{row['loss']:.3g}", val_ratio=f"{row['val_ratio']:.3f}")
            if score <= best:
                best, best_epoch = score, epoch
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                if out_path is not None:
                    save_model(model, out_path, {**config, "best_epoch": epoch, "history": history})
            if out_path is not None:
                save_model(model, out_path.with_name(out_path.stem + "-last.safetensors"),
                           {**config, "epoch": epoch, "history": history})
        if bar is not None:
            bar.close()
        if best_state is not None:
            model.load_state_dict(best_state)
        if out_path is not None and best_state is not None:  # final history in the best checkpoint's config
            save_model(model, out_path, {**config, "best_epoch": best_epoch, "history": history,
                                         "train_seconds": time.perf_counter() - t_start})
        model.eval()
        return TrainResult(model, history, out_path, best_epoch, time.perf_counter() - t_start)
    finally:
        torch.set_num_threads(threads)


def _initial_model(cfg: TrainConfig) -> torch.nn.Module:
    """A fresh model, or the weights of ``cfg.init`` (which must have ``cfg``'s architecture)."""
    model = build_model(cfg.arch, cfg.hidden, cfg.layers, cfg.level)
    if cfg.init is None:
        return model
    from .preconditioner import load_pretrained

    start = load_pretrained(cfg.init, "float32")
    have, want = model_config(start), model_config(model)
    if {**have, "level": 0} != {**want, "level": 0}:
        raise ValueError(f"init={cfg.init!r} is {have}, but the run asks for {want}")
    model.load_state_dict(start.state_dict())
    return model


def _provenance(init: str) -> dict[str, Any]:
    """Name, ``sha256`` and training command of the checkpoint a run starts from (kept in its config)."""
    import json

    from ... import pretrained

    try:
        cfg = pretrained.config(init)
    except KeyError:
        cfg = json.loads(Path(init).with_suffix(".json").read_text())
    return pretrained.lineage(init, cfg)


def _bar(total: int, enabled: bool) -> Any:
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dev dependency
        return None
    return tqdm(total=total, desc="train gnn", unit="step")
