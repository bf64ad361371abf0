"""Command line: ``itersolve bench | train | info``.

Examples
--------
>>> from itersolve.cli import build_parser
>>> build_parser().parse_args(["bench", "--quick"]).suite
'convergence'
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from typing import Sequence

__all__ = ["main", "build_parser"]

SUITES = ("convergence", "perf", "kernels", "solvers", "gnn", "bandits", "cuda")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``itersolve`` command."""
    parser = argparse.ArgumentParser(prog="itersolve", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    bench = sub.add_parser("bench", help="run a benchmark suite (prints a table, writes JSON and PNG)")
    bench.add_argument("suite", nargs="?", default="convergence", choices=SUITES,
                       help="convergence (default): every method on built-in problems; "
                            "perf: kernels + solvers against their peers; kernels; solvers; "
                            "bandits: bandit-tuned relaxation on the Learning-to-Relax sequences; "
                            "cuda: GPU SpMV bandwidth and CG against CuPy (skipped without a GPU)")
    size = bench.add_mutually_exclusive_group()
    size.add_argument("--quick", dest="full", action="store_false", help="small sizes, under 5 minutes (default)")
    size.add_argument("--full", dest="full", action="store_true", help="the full problem sizes")
    bench.set_defaults(full=False)  # --quick is the default, as its help says
    bench.add_argument("--matrix", metavar="FILE.mtx", help="benchmark a Matrix Market file instead of the built-ins")
    bench.add_argument("--out", metavar="DIR", default="bench-results", help="where JSON and PNG go")
    bench.add_argument("--no-progress", action="store_true", help="do not show a progress bar")
    bench.add_argument("--simulator", action="store_true",
                       help="cuda suite: run at toy sizes on the Numba CUDA simulator (no GPU needed)")

    _add_train_parser(sub)
    sub.add_parser("info", help="versions, threads and optional extras")
    return parser


def _add_train_parser(sub: argparse._SubParsersAction) -> None:
    """``itersolve train gnn ...``: the options of :class:`itersolve.preconditioners.gnn.TrainConfig`."""
    train = sub.add_parser("train", help="train a learned part (needs its extra)")
    what = train.add_subparsers(dest="model", required=True)
    gnn = what.add_parser("gnn", help="a GNN preconditioner (torch extra); writes safetensors + JSON")
    gnn.add_argument("--family", default="diffusion2d", choices=("diffusion2d", "anisotropic2d"))
    gnn.add_argument("--grid", type=int, default=64, help="training grid side (default 64)")
    gnn.add_argument("--variance", dest="variances", type=float, nargs="+", default=[0.7],
                     help="variance(s) of log k, cycled over the systems (default 0.7)")
    gnn.add_argument("--length", type=float, default=0.1, help="correlation length of the random field")
    gnn.add_argument("--arch", default="precorrector", choices=("precorrector", "neuralif"))
    gnn.add_argument("--hidden", type=int, default=16)
    gnn.add_argument("--layers", type=int, default=4)
    gnn.add_argument("--loss", default="solution", choices=("solution", "frobenius"))
    gnn.add_argument("--n-train", type=int, default=32)
    gnn.add_argument("--n-val", type=int, default=4)
    gnn.add_argument("--rhs", type=int, default=4)
    gnn.add_argument("--epochs", type=int, default=10)
    gnn.add_argument("--batch-size", type=int, default=4)
    gnn.add_argument("--lr", type=float, default=3e-3)
    gnn.add_argument("--seed", type=int, default=0)
    gnn.add_argument("--threads", type=int, default=2, help="torch threads")
    gnn.add_argument("--out", required=True, metavar="FILE.safetensors", help="best checkpoint (+ .json)")
    gnn.add_argument("--no-progress", action="store_true", help="do not show a progress bar")


def _train(args: argparse.Namespace, argv: Sequence[str]) -> int:
    import shlex

    from .preconditioners.gnn import TrainConfig, train

    fields = {k: getattr(args, k) for k in TrainConfig.__dataclass_fields__}
    cfg = TrainConfig(**fields)
    result = train(cfg, out=args.out, progress=not args.no_progress,
                   command=shlex.join(["itersolve", *argv]))
    last = result.history[-1] if result.history else {}
    print(json.dumps({"out": str(result.path), "best_epoch": result.best_epoch, "seconds": round(result.seconds, 1),
                      "last": last}, indent=1))
    return 0


def _info() -> dict:
    import numba
    import numpy
    import scipy

    extras = {}
    for name in ("torch", "torch_geometric", "jax", "numba.cuda", "safetensors", "matplotlib"):
        try:
            module = __import__(name, fromlist=["__version__"])
            extras[name] = getattr(module, "__version__", "present")
        except Exception:  # noqa: BLE001 - any failure means "not usable"
            extras[name] = None
    from . import __version__

    return {
        "itersolve": __version__,
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "numba": numba.__version__,
        "numba_threads": numba.config.NUMBA_NUM_THREADS,
        "extras": extras,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``itersolve`` command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if args.command == "train":
        return _train(args, argv)
    if args.command == "info":
        print(json.dumps(_info(), indent=2))
        return 0
    from .bench import run_suite

    run_suite(args.suite, full=args.full, matrix=args.matrix, out_dir=args.out, progress=not args.no_progress,
              simulator=args.simulator)
    return 0


if __name__ == "__main__":
    sys.exit(main())
