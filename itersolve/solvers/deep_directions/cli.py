"""``itersolve train dcdm``: the command-line options of :class:`~.training.TrainConfig` (no torch at import).

Examples
--------
>>> import argparse
>>> parser = argparse.ArgumentParser()
>>> add_arguments(parser)
>>> args = parser.parse_args(["--dim", "3", "--grid", "32", "--out", "m.safetensors"])
>>> args.dim, args.grid, args.levels
(3, 32, 1)
>>> parser.parse_args(["--grid", "32,64", "--coarsest", "4", "--out", "m.safetensors"]).grid
(32, 64)
"""

from __future__ import annotations

import argparse

HELP = "a deep-conjugate-direction CNN (torch extra); writes safetensors + JSON"


def grid_sides(text: str) -> int | tuple[int, ...]:
    """``--grid``'s value: one side (``"64"`` → 64) or several, comma-separated (``"32,64"`` → (32, 64)).

    Examples
    --------
    >>> grid_sides("64"), grid_sides("16, 32")
    (64, (16, 32))
    """
    try:
        sides = tuple(int(part) for part in text.split(","))
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"grid sides are integers separated by commas, got {text!r}") from err
    return sides[0] if len(sides) == 1 else sides


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of :class:`itersolve.solvers.deep_directions.TrainConfig` to ``parser``."""
    parser.add_argument("--dim", type=int, default=2, choices=(2, 3), help="grid dimension (default 2)")
    parser.add_argument("--grid", type=grid_sides, default=64,
                        help="training grid side, or several comma-separated (32,64: batches of every side; "
                             "default 64)")
    parser.add_argument("--geometries", type=int, default=8, help="random obstacle layouts to train on (at each grid side)")
    parser.add_argument("--val-geometries", type=int, default=2, help="held-out layouts for validation (at each grid side)")
    parser.add_argument("--ritz", type=int, default=200, help="Lanczos steps per layout")
    parser.add_argument("--vectors", type=int, default=2000, help="training vectors per epoch")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--levels", type=int, default=1, help="2x pooling levels with their own weights (paper: 1)")
    parser.add_argument("--coarsest", type=int, default=0,
                        help="recursive network: below --levels, one shared block pair pooled until the longest "
                             "side is at most this (0: fixed depth, the default)")
    parser.add_argument("--multigrid", type=int, default=0, choices=(0, 1),
                        help="1: V-cycle structure with the known stencil (needs --coarsest; default 0: U-Net)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--max-minutes", type=float, default=0.0, help="stop after the epoch past this (0: none)")
    parser.add_argument("--init", default=None, metavar="NAME_OR_PATH",
                        help="fine-tune: start from a shipped model name or a .safetensors checkpoint "
                             "(dim, channels, levels, coarsest and multigrid are then the parent's)")
    parser.add_argument("--out", required=True, metavar="FILE.safetensors", help="best checkpoint (+ .json)")
    parser.add_argument("--no-progress", action="store_true", help="do not show a progress bar")


def run(args: argparse.Namespace, command: str) -> dict:
    """Train from parsed ``args``; ``command`` is recorded in the JSON config. Returns a summary."""
    from . import TrainConfig, train

    fields = {k: getattr(args, k) for k in TrainConfig.__dataclass_fields__}
    result = train(TrainConfig(**fields), out=args.out, progress=not args.no_progress, command=command)
    return {"out": str(result.path), "best_epoch": result.best_epoch, "seconds": round(result.seconds, 1),
            "last": result.history[-1] if result.history else {}}
