"""``itersolve train gnn``: the command-line options of :class:`TrainConfig` (no torch at import)."""

from __future__ import annotations

import argparse

HELP = "a GNN preconditioner (torch extra); writes safetensors + JSON"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of :class:`itersolve.preconditioners.gnn.TrainConfig` to ``parser``."""
    parser.add_argument("--family", default="diffusion2d", choices=("diffusion2d", "anisotropic2d", "fem"))
    parser.add_argument("--grid", type=int, nargs="+", default=[64],
                        help="training grid side(s), cycled over the systems (default 64)")
    parser.add_argument("--variance", dest="variances", type=float, nargs="+", default=[0.7],
                        help="variance(s) of log k, cycled over the systems (default 0.7)")
    parser.add_argument("--length", type=float, default=0.1, help="correlation length of the random field")
    parser.add_argument("--arch", default="precorrector", choices=("precorrector", "neuralif"))
    parser.add_argument("--level", type=int, default=0, help="level of fill of L's pattern: 0 IC(0), 1 IC(1)")
    parser.add_argument("--hidden", type=int, default=16)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--loss", default="solution", choices=("solution", "frobenius"))
    parser.add_argument("--n-train", type=int, default=32)
    parser.add_argument("--n-val", type=int, default=4)
    parser.add_argument("--rhs", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--init", default=None, metavar="MODEL",
                        help="fine-tune: start from a shipped model name or a checkpoint path")
    parser.add_argument("--out", required=True, metavar="FILE.safetensors", help="best checkpoint (+ .json)")
    parser.add_argument("--no-progress", action="store_true", help="do not show a progress bar")


def run(args: argparse.Namespace, command: str) -> dict:
    """Train from parsed ``args``; ``command`` is recorded in the JSON config. Returns a summary."""
    from . import TrainConfig, train

    fields = {k: getattr(args, k) for k in TrainConfig.__dataclass_fields__}
    result = train(TrainConfig(**fields), out=args.out, progress=not args.no_progress, command=command)
    last = result.history[-1] if result.history else {}
    return {"out": str(result.path), "best_epoch": result.best_epoch, "seconds": round(result.seconds, 1),
            "last": last}
