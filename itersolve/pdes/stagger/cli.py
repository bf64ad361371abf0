"""``itersolve train stagger``: the command-line options of :class:`~.train.TrainConfig` (no JAX at import).

Examples
--------
>>> import argparse
>>> parser = argparse.ArgumentParser()
>>> add_arguments(parser)
>>> args = parser.parse_args(["--s", "2", "--st", "2", "--out", "m.safetensors"])
>>> args.s, args.st, args.hidden
(2, 2, None)
"""

from __future__ import annotations

import argparse

HELP = "a NeuralStagger / base physics-trained flow model (jax extra); writes safetensors + JSON"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of :class:`itersolve.pdes.stagger.TrainConfig` to ``parser``."""
    parser.add_argument("--s", type=int, default=1, help="spatial decomposition factor (1: the base network)")
    parser.add_argument("--st", type=int, default=1, help="time steps predicted per call (temporal decomposition)")
    parser.add_argument("--hidden", type=int, default=None, help="U-Net width (default: 16 for s=1, 8 otherwise)")
    parser.add_argument("--levels", type=int, default=None,
                        help="U-Net resolutions (default: 3 for s=1, 2 for s=2, 1 for s>=4)")
    parser.add_argument("--grid", type=int, nargs=2, default=[32, 64], metavar=("H", "W"))
    parser.add_argument("--pool", type=int, default=32, help="environments in the training pool")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=100_000, help="at most this many optimiser steps")
    parser.add_argument("--minutes", type=float, default=20.0, help="wall-clock budget")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--reset-every", type=int, default=10, help="replace one pool environment every N steps")
    parser.add_argument("--boundary-weight", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint-every", type=int, default=200)
    parser.add_argument("--out", required=True, metavar="FILE.safetensors", help="weights (+ .json), checkpointed")
    parser.add_argument("--no-progress", action="store_true", help="do not show a progress bar")


def run(args: argparse.Namespace, command: str) -> dict:
    """Train from parsed ``args``; ``command`` is recorded in the JSON config. Returns a summary."""
    from .training import TrainConfig, default_size, train

    hidden, levels = default_size(args.s)
    cfg = TrainConfig(s=args.s, st=args.st, hidden=args.hidden or hidden, levels=args.levels or levels,
                      grid=tuple(args.grid), pool=args.pool, batch=args.batch, steps=args.steps,
                      minutes=args.minutes, lr=args.lr, reset_every=args.reset_every,
                      boundary_weight=args.boundary_weight, seed=args.seed, checkpoint_every=args.checkpoint_every)
    result = train(cfg, out=args.out, progress=not args.no_progress, command=command)
    return {"out": str(result.path), "steps": len(result.losses), "seconds": round(result.seconds, 1),
            "last_loss": result.losses[-1] if result.losses else None}
