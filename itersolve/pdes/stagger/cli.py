"""``itersolve train stagger``: the command-line options of :class:`~.train.TrainConfig` (no JAX at import).

Examples
--------
>>> import argparse
>>> parser = argparse.ArgumentParser()
>>> add_arguments(parser)
>>> args = parser.parse_args(["--s", "2", "--st", "2", "--out", "m.safetensors"])
>>> args.s, args.st, args.hidden
(2, 2, None)
>>> architecture(parser.parse_args(["--s", "4", "--out", "m.safetensors"]))
{'s': 4, 'st': 1, 'hidden': 8, 'levels': 1, 'coarse_input': 'own'}
>>> architecture(parser.parse_args(["--init", "neuralstagger-s2-st2", "--out", "m.safetensors"]))["levels"]
3
>>> architecture(parser.parse_args(["--init", "neuralstagger-s2-st2", "--st", "1", "--out", "m.safetensors"]))
Traceback (most recent call last):
...
ValueError: --init neuralstagger-s2-st2 has st=2, but --st 1 was given; leave --s/--st/--hidden/--levels/...
"""

from __future__ import annotations

import argparse

HELP = "a NeuralStagger / base physics-trained flow model (jax extra); writes safetensors + JSON"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of :class:`itersolve.pdes.stagger.TrainConfig` to ``parser``."""
    parser.add_argument("--s", type=int, default=None,
                        help="spatial decomposition factor (default 1: the base network)")
    parser.add_argument("--st", type=int, default=None,
                        help="time steps predicted per call (temporal decomposition; default 1)")
    parser.add_argument("--hidden", type=int, default=None, help="U-Net width (default: 16 for s=1, 8 otherwise)")
    parser.add_argument("--levels", type=int, default=None,
                        help="U-Net resolutions (default: 3 for s=1, 2 for s=2, 1 for s>=4)")
    parser.add_argument("--coarse-input", choices=("own", "all"), default=None,
                        help="what the network predicting one coarse field sees: its own field (the paper's "
                             "decoupled networks) or all s*s fields (default: own)")
    parser.add_argument("--head", type=int, default=None,
                        help="width of a pixel-wise hidden layer before the U-Net's output, fed with the top level's "
                             "features and the input (default 0: none)")
    parser.add_argument("--fine", type=int, default=None,
                        help="s > 1: channels per fine cell output by the coarse network and mapped to the increments "
                             "by a 3x3 convolution on the fine grid (default 0: none)")
    parser.add_argument("--grid", type=int, nargs=2, default=[32, 64], metavar=("H", "W"))
    parser.add_argument("--speeds", type=float, nargs=2, default=None, metavar=("LOW", "HIGH"),
                        help="inflow speeds of the random training environments, uniform between (default 0.5 1.5: "
                             "cylinder Reynolds numbers about 20-150)")
    parser.add_argument("--pool", type=int, default=32, help="environments in the training pool")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=100_000, help="at most this many optimiser steps")
    parser.add_argument("--minutes", type=float, default=20.0, help="wall-clock budget")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--reset-every", type=int, default=10,
                        help="replace one pool environment every N steps (mean life: N * batch * st time steps)")
    parser.add_argument("--boundary-weight", type=float, default=20.0)
    parser.add_argument("--perturb", type=float, default=0.0,
                        help="velocity amplitude (x inflow speed) of smooth random stream-function kicks given to "
                             "fresh and, at every reset, to one live pool environment: breaks wake symmetry (0: off)")
    parser.add_argument("--kick-every", type=int, default=0,
                        help="with --perturb, also kick one live pool environment every N steps (0: only at resets)")
    parser.add_argument("--balance", action="store_true",
                        help="optimise the mean log of the per-sample losses, so that developed flows weigh as much "
                             "as start-up transients")
    parser.add_argument("--lr-final", type=float, default=None,
                        help="decay the step size from --lr to this along a cosine over the run (default: constant)")
    parser.add_argument("--seed-from", default=None, metavar="NAME_OR_PATH",
                        help="start fresh pool environments from states of this trained model's rollouts (a "
                             "curriculum: the loss stays the physics residual; default: start from rest)")
    parser.add_argument("--seed-envs", type=int, default=64, help="with --seed-from: environments rolled out")
    parser.add_argument("--seed-steps", type=int, default=480, help="with --seed-from: steps per rollout")
    parser.add_argument("--seed-stride", type=int, default=4, help="with --seed-from: keep every N-th state")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint-every", type=int, default=200)
    parser.add_argument("--init", default=None, metavar="NAME_OR_PATH",
                        help="continue training from a shipped model name or a .safetensors path; the architecture "
                             "is taken from its JSON (--s/--st/--hidden/--levels/--coarse-input/--head/--fine, if "
                             "given, must match it)")
    parser.add_argument("--out", required=True, metavar="FILE.safetensors", help="weights (+ .json), checkpointed")
    parser.add_argument("--no-progress", action="store_true", help="do not show a progress bar")


def architecture(args: argparse.Namespace) -> dict:
    """The architecture of the run: ``--init``'s if given, else the options or defaults.

    Raises
    ------
    ValueError
        If an option given explicitly contradicts the ``--init`` model.
    """
    if args.init is None:
        from .models import with_options  # JAX is needed only to train
        from .training import default_size

        s = args.s or 1
        hidden, levels = default_size(s)
        arch = {"s": s, "st": args.st or 1, "hidden": args.hidden or hidden, "levels": args.levels or levels,
                "coarse_input": args.coarse_input or "own"}
        return with_options(arch, head=args.head or 0, fine=args.fine or 0)
    from .io import config_of

    arch = config_of(args.init)["model"]
    for k, v in arch.items():
        given = getattr(args, k)
        if given is not None and given != v:
            raise ValueError(f"--init {args.init} has {k}={v}, but --{k} {given} was given; leave "
                             "--s/--st/--hidden/--levels/--coarse-input/--head/--fine out (they are taken from "
                             "the --init model) or make them match")
    return arch


def run(args: argparse.Namespace, command: str) -> dict:
    """Train from parsed ``args``; ``command`` is recorded in the JSON config. Returns a summary."""
    from ..fluids.navier_stokes import TRAINING_SPEEDS
    from .training import TrainConfig, train

    cfg = TrainConfig(**architecture(args), init=args.init, grid=tuple(args.grid), pool=args.pool,
                      batch=args.batch, steps=args.steps, minutes=args.minutes, lr=args.lr,
                      reset_every=args.reset_every, perturb=args.perturb, lr_final=args.lr_final,
                      kick_every=args.kick_every, balance=args.balance, seed_from=args.seed_from,
                      seed_envs=args.seed_envs, seed_steps=args.seed_steps, seed_stride=args.seed_stride,
                      speed_range=tuple(args.speeds or TRAINING_SPEEDS),
                      boundary_weight=args.boundary_weight, seed=args.seed, checkpoint_every=args.checkpoint_every)
    result = train(cfg, out=args.out, progress=not args.no_progress, command=command)
    return {"out": str(result.path), "steps": len(result.losses), "seconds": round(result.seconds, 1),
            "last_loss": result.losses[-1] if result.losses else None, "rejected_steps": result.rejected}
