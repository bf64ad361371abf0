"""Training a DCDM network: :func:`train`, its :class:`TrainConfig`, and the unsupervised loss.

Loss (Kaneda et al.): for a training vector ``b`` (unit norm) and ``f = f(b)``,
``α = fᵀb / fᵀAf`` and ``loss = ‖b − α A f‖²`` -- zero exactly when ``f`` is
a multiple of ``A⁻¹b``, and the residual left by the best step along ``f``.
``A f`` is a torch sparse matrix product (:func:`torch_operator`), so the
gradient flows through the matrix of each obstacle layout.

The loop: ``geometries`` random obstacle layouts at ``grid**dim``
(:func:`.data.training_geometry`, training seeds), ``ritz`` Lanczos steps on
each (:class:`.data.RitzData`); each epoch draws ``vectors`` training vectors
in batches of ``batch_size`` from a layout picked at random, and takes one
Adam step per batch. ``grid`` may list several sides (``--grid 32,64``):
then there are ``geometries`` layouts (and ``val_geometries`` held-out
ones) at each side, and a batch comes from one layout of one side -- the way
to train the recursive network (``coarsest`` > 0), whose shared coarse
blocks run at a different depth on each side. After each epoch the network is validated on held-out
layouts (validation seeds): mean loss on fixed vectors and DCDM iterations
to ``rtol = 1e-4`` on a divergence right-hand side (means over all sides). The best epoch (fewest
iterations, then lowest loss) is saved to ``out`` (safetensors + JSON with
the command). Everything is seeded; ``max_minutes`` stops the run after the
epoch that crosses it.

Examples
--------
>>> from itersolve.solvers.deep_directions.training import TrainConfig, train
>>> cfg = TrainConfig(dim=2, grid=12, geometries=2, ritz=20, vectors=8, epochs=2, batch_size=4, channels=4,
...                   levels=1, val_geometries=1)
>>> result = train(cfg, progress=False)
>>> len(result.history), sorted(result.history[-1])
(2, ['epoch', 'loss', 'val_iterations', 'val_loss'])
"""

from __future__ import annotations

import dataclasses
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from ...pdes.fluids.pressure import PressureSystem, random_rhs
from .data import RitzData, seed_for, training_geometry
from .io import save_model
from .model import DCDMNet, build_model

#: Iteration cap of the validation solves (a solve that misses counts as this many).
VAL_MAXITER = 150

__all__ = ["TrainConfig", "TrainResult", "train", "dcdm_loss", "torch_operator", "GridBatch"]


def torch_operator(A: sp.spmatrix) -> torch.Tensor:
    """``A`` as a coalesced float32 torch sparse COO tensor (for ``torch.sparse.mm``).

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> torch_operator(sp.eye(3)).to_dense().diag().tolist()
    [1.0, 1.0, 1.0]
    """
    coo = sp.coo_matrix(A)
    idx = torch.as_tensor(np.vstack([coo.row, coo.col]).astype(np.int64))
    return torch.sparse_coo_tensor(idx, torch.as_tensor(coo.data, dtype=torch.float32), coo.shape,
                                   check_invariants=False).coalesce()


def dcdm_loss(f: torch.Tensor, b: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of ``‖b − α A f‖²``, ``α = fᵀb / fᵀAf``; ``f``, ``b`` of shape ``(batch, n)``.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> M = sp.diags([1.0, 2.0, 4.0])
    >>> b = torch.tensor([[1.0, 1.0, 1.0]])
    >>> float(dcdm_loss(torch.tensor([[1.0, 0.5, 0.25]]), b, torch_operator(M)))  # f = M⁻¹b
    0.0
    """
    Af = torch.sparse.mm(A, f.T).T
    alpha = (f * b).sum(dim=1, keepdim=True) / (f * Af).sum(dim=1, keepdim=True)
    return ((b - alpha * Af) ** 2).sum(dim=1).mean()


class GridBatch:
    """Scatter vectors of one system onto its grid and gather the network's output back (torch).

    Examples
    --------
    >>> import numpy as np
    >>> from itersolve.pdes.fluids.pressure import pressure_system
    >>> s = pressure_system(np.array([[False, True], [False, False]]))
    >>> g = GridBatch(s)
    >>> g.to_grid(torch.tensor([[1.0, 2.0, 3.0]]))[0, 0].tolist()
    [[1.0, 0.0], [2.0, 3.0]]
    """

    def __init__(self, system: PressureSystem):
        self.shape = system.shape
        self.cells = torch.as_tensor(np.flatnonzero(system.fluid.ravel()))
        self.mask = torch.as_tensor(system.fluid, dtype=torch.float32)[None, None]
        self.A = torch_operator(system.A)
        self.diag = self.to_grid(torch.as_tensor(system.A.diagonal(), dtype=torch.float32)[None])

    def to_grid(self, v: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(v.shape[0], int(np.prod(self.shape)), dtype=v.dtype)
        out[:, self.cells] = v
        return out.reshape(v.shape[0], 1, *self.shape)

    def apply(self, net: DCDMNet, b: torch.Tensor) -> torch.Tensor:
        """``f(b)`` as vectors ``(batch, n)``."""
        mask = self.mask.expand(b.shape[0], *self.mask.shape[1:])
        diag = self.diag.expand(b.shape[0], *self.diag.shape[1:]) if getattr(net, "multigrid", 0) else None
        return net(self.to_grid(b), mask, diag).reshape(b.shape[0], -1)[:, self.cells]


@dataclass
class TrainConfig:
    """Everything that determines a training run (stored in the checkpoint's JSON).

    Attributes
    ----------
    dim : {2, 3}
    grid : int or tuple of int
        Training grid side, or several (a batch is drawn at one side; see the module docstring).
        A string ``"32,64"`` (the command line's form) is read as a tuple.
    geometries, val_geometries : int
        Training and validation obstacle layouts.
    ritz : int
        Lanczos steps per layout.
    vectors : int
        Training vectors drawn per epoch.
    epochs, batch_size : int
    lr : float
        Adam learning rate (cosine-decayed to 10 % over the run).
    channels, levels, coarsest, multigrid : int
        Network width, pooling levels with their own weights, the recursive
        coarse levels' stopping side (0: none) and the V-cycle structure
        (1; needs ``coarsest`` > 0) (:class:`.model.DCDMNet`).
    seed : int
    threads : int
        ``torch.set_num_threads`` during training.
    max_minutes : float
        Stop after the epoch that crosses this wall time (0: no limit).
    init : str, optional
        Fine-tune: start from these weights (a shipped model name such as
        ``"dcdm3d-32"`` or a ``.safetensors`` checkpoint path) instead of a
        fresh network. The architecture (``dim``, ``channels``, ``levels``,
        ``coarsest``, ``multigrid``) is the parent's: :func:`train` replaces those fields by the
        parent's values. The parent is validated before the first step
        (epoch 0 of the history) and stays the best checkpoint unless an
        epoch beats it, so a fine-tune never saves a network that validates
        worse than where it started. Its name, ``sha256`` and command are
        kept in the new config (``init_from``).
    """

    dim: int = 2
    grid: int | tuple[int, ...] = 64
    geometries: int = 8
    val_geometries: int = 2
    ritz: int = 200
    vectors: int = 2000
    epochs: int = 10
    batch_size: int = 16
    lr: float = 1e-3
    channels: int = 16
    levels: int = 1
    coarsest: int = 0
    multigrid: int = 0
    seed: int = 0
    threads: int = 1
    max_minutes: float = 0.0
    init: str | None = None

    def __post_init__(self) -> None:
        if self.dim not in (2, 3):
            raise ValueError(f"dim must be 2 or 3, got {self.dim}")
        if isinstance(self.grid, str):
            self.grid = tuple(int(g) for g in self.grid.split(","))
        if not isinstance(self.grid, int):
            self.grid = tuple(int(g) for g in self.grid)
            if len(self.grid) == 1:
                self.grid = self.grid[0]
        if min(self.grids) < 1 or int(self.coarsest) < 0:
            raise ValueError(f"grid sides must be >= 1 and coarsest >= 0, got {self.grid}, {self.coarsest}")
        for name in ("geometries", "val_geometries", "ritz", "vectors", "epochs", "batch_size", "threads"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")

    @property
    def grids(self) -> tuple[int, ...]:
        """The training grid sides, as a tuple.

        Examples
        --------
        >>> TrainConfig(grid="32,64").grids, TrainConfig(grid=16).grids
        ((32, 64), (16,))
        """
        return (self.grid,) if isinstance(self.grid, int) else self.grid

    def command(self, out: str | Path | None = None) -> str:
        """The ``itersolve train dcdm`` command line that reproduces this run.

        Examples
        --------
        >>> TrainConfig(grid=(32, 64)).command("m.safetensors").split()[:7]
        ['itersolve', 'train', 'dcdm', '--dim', '2', '--grid', '32,64']
        """
        parts = ["itersolve", "train", "dcdm"]
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is not None:
                text = ",".join(map(str, value)) if isinstance(value, tuple) else str(value)
                parts += ["--" + f.name.replace("_", "-"), text]
        if out is not None:
            parts += ["--out", str(out)]
        return shlex.join(parts)


@dataclass
class TrainResult:
    """What :func:`train` returns: the best network, the history, the checkpoint path and the wall time."""

    model: DCDMNet
    history: list[dict[str, float]] = field(default_factory=list)
    path: Path | None = None
    best_epoch: int = 0
    seconds: float = 0.0


def _parent(init: str | None) -> tuple[DCDMNet | None, dict[str, Any] | None]:
    """The network a fine-tune starts from and its provenance (``init_from``), or ``(None, None)``.

    The weights are checked against the ``sha256`` of their config
    (:func:`itersolve.pretrained.read_config`, through :func:`.io.resolve_model`).
    """
    if init is None:
        return None, None
    from ...pretrained import lineage
    from .io import resolve_model

    net, cfg = resolve_model(init)
    return net, lineage(init, cfg)


def _validate(net: DCDMNet, val: list[tuple[GridBatch, PressureSystem, torch.Tensor, np.ndarray]]) -> dict:
    from ..dcdm import dcdm

    net.eval()
    losses, iters = [], []
    with torch.no_grad():
        for grid, system, vecs, b in val:
            losses.append(float(dcdm_loss(grid.apply(net, vecs), vecs, grid.A)))
            res = dcdm(system, b, model=net, rtol=1e-4, maxiter=VAL_MAXITER)
            iters.append(res.iterations if res.converged else VAL_MAXITER)
    net.train()
    return {"val_loss": float(np.mean(losses)), "val_iterations": float(np.mean(iters))}


def train(cfg: TrainConfig | None = None, *, out: str | Path | None = None, progress: bool = True,
          command: str | None = None, **overrides: Any) -> TrainResult:
    """Train a DCDM network; returns the best one by validation iterations (then loss).

    Parameters
    ----------
    cfg : TrainConfig, optional
        The run; keyword ``overrides`` replace its fields.
    out : path, optional
        Best checkpoint (``.safetensors`` + ``.json``); nothing is written without it.
    progress : bool
        tqdm bars over Lanczos and the steps.
    command : str, optional
        Command recorded in the JSON (default :meth:`TrainConfig.command`).
    """
    cfg = dataclasses.replace(cfg or TrainConfig(), **overrides)
    parent, init_from = _parent(cfg.init)
    if parent is not None:
        cfg = dataclasses.replace(cfg, dim=int(parent.dim), channels=int(parent.channels), levels=int(parent.levels),
                                  coarsest=int(parent.coarsest), multigrid=int(getattr(parent, "multigrid", 0)))
    t_start = time.perf_counter()
    threads = torch.get_num_threads()
    torch.set_num_threads(int(cfg.threads))
    try:
        torch.manual_seed(cfg.seed)
        rng = np.random.default_rng(cfg.seed)
        systems = [training_geometry(cfg.dim, side, seed_for("train", cfg.seed * 1000 + k * cfg.geometries + i))
                   for k, side in enumerate(cfg.grids) for i in range(cfg.geometries)]
        data = RitzData.build(systems, cfg.ritz, seed=cfg.seed, progress=progress)
        grids = [GridBatch(s) for s in systems]
        val = []
        for k, side in enumerate(cfg.grids):
            for i in range(k * cfg.val_geometries, (k + 1) * cfg.val_geometries):
                s = training_geometry(cfg.dim, side, seed_for("val", cfg.seed * 1000 + i))
                vdata = RitzData.build([s], cfg.ritz, seed=seed_for("val", i))
                vecs = torch.as_tensor(vdata.batch(0, 16, np.random.default_rng(seed_for("val", i))))
                val.append((GridBatch(s), s, vecs, random_rhs(s, seed=seed_for("val", i))))
        net = build_model(cfg.dim, cfg.channels, cfg.levels, cfg.coarsest, cfg.multigrid)
        if parent is not None:
            net.load_state_dict(parent.state_dict())
            net.train()
        opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
        steps = max(1, cfg.vectors // cfg.batch_size)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps * cfg.epochs, eta_min=0.1 * cfg.lr)
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=steps * cfg.epochs, desc=f"train dcdm{cfg.dim}d", leave=False)
        history: list[dict[str, float]] = []
        best, best_key, best_epoch = None, None, 0
        config: dict[str, Any] = {"name": Path(out).stem if out is not None else None,
                  "training": dataclasses.asdict(cfg),
                  "command": command or cfg.command(out),
                  "description": f"DCDM {cfg.dim}-D CNN"
                                 + (f" (recursive coarse levels down to {cfg.coarsest})" if cfg.coarsest else "")
                                 + (" with the V-cycle structure (known stencil)" if cfg.multigrid else "")
                                 + f", trained at {', '.join(f'{g}^{cfg.dim}' for g in cfg.grids)} on Ritz "
                                 f"vectors of {cfg.geometries} random obstacle layouts per side (open top)"
                                 + (f", fine-tuned from {cfg.init}" if parent is not None else "")}
        if init_from is not None:
            config["init_from"] = init_from
            row = {"epoch": 0, "loss": None, **_validate(net, val)}
            history.append(row)
            best_key = (row["val_iterations"], row["val_loss"])
            best = {k: v.detach().clone() for k, v in net.state_dict().items()}
        for epoch in range(1, cfg.epochs + 1):
            total = 0.0
            for _ in range(steps):
                g = int(rng.integers(len(grids)))
                b = torch.as_tensor(data.batch(g, cfg.batch_size, rng))
                loss = dcdm_loss(grids[g].apply(net, b), b, grids[g].A)
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
                opt.step()
                sched.step()
                total += loss.item()
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{loss.item():.4f}")
            row = {"epoch": epoch, "loss": total / steps, **_validate(net, val)}
            history.append(row)
            key = (row["val_iterations"], row["val_loss"])
            if best_key is None or key < best_key:
                best_key, best_epoch = key, epoch
                best = {k: v.detach().clone() for k, v in net.state_dict().items()}
                if out is not None:
                    save_model(net, out, {**config, "best_epoch": epoch, "history": history,
                                          "train_seconds": time.perf_counter() - t_start})
            if cfg.max_minutes and time.perf_counter() - t_start > 60.0 * cfg.max_minutes:
                break
        if bar is not None:
            bar.close()
        net.load_state_dict(best)
        net.eval()
        seconds = time.perf_counter() - t_start
        if out is not None:  # final config: the whole history and the wall time of the run
            save_model(net, out, {**config, "best_epoch": best_epoch, "history": history, "train_seconds": seconds})
        return TrainResult(model=net, history=history, path=Path(out) if out else None, best_epoch=best_epoch,
                           seconds=seconds)
    finally:
        torch.set_num_threads(threads)
