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

SUITES = ("convergence", "perf", "kernels", "solvers", "gnn", "bandits", "dcdm", "stagger", "cuda")


def _per_dim(text: str) -> tuple[int, str]:
    """``"2=VALUE"`` → ``(2, "VALUE")``, the form of ``bench dcdm --models`` and ``--sizes``.

    Examples
    --------
    >>> _per_dim("3=32,64")
    (3, '32,64')
    """
    dim, sep, value = text.partition("=")
    if not sep or dim.strip() not in ("2", "3") or not value.strip():
        raise argparse.ArgumentTypeError(f"expected DIM=VALUE with DIM 2 or 3, got {text!r}")
    return int(dim), value.strip()


def _positive_int(text: str) -> int:
    """``"2"`` → ``2``; zero, negatives and non-integers are refused (argparse reports them).

    Examples
    --------
    >>> _positive_int("2")
    2
    """
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _sides_per_dim(text: str) -> tuple[int, tuple[int, ...]]:
    """``"2=64,128"`` → ``(2, (64, 128))``, the form of ``bench dcdm --sizes`` (sides as ``train dcdm --grid``).

    Examples
    --------
    >>> _sides_per_dim("2=64,128"), _sides_per_dim("3=32")
    ((2, (64, 128)), (3, (32,)))
    """
    from .solvers.deep_directions.cli import grid_sides

    dim, value = _per_dim(text)
    sides = grid_sides(value)
    return dim, sides if isinstance(sides, tuple) else (sides,)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``itersolve`` command."""
    parser = argparse.ArgumentParser(prog="itersolve", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    bench = sub.add_parser("bench", help="run a benchmark suite (prints a table, writes JSON and PNG)")
    bench.add_argument("suite", nargs="?", default="convergence", choices=SUITES,
                       help="convergence (default): every method on built-in problems; "
                            "perf: kernels + solvers against their peers; kernels; solvers; "
                            "bandits: bandit-tuned relaxation on the Learning-to-Relax sequences; "
                            "dcdm: deep conjugate directions on pressure-Poisson systems (torch extra); "
                            "stagger: NeuralStagger against the numerical flow solver (jax extra); "
                            "cuda: GPU SpMV bandwidth and CG against CuPy (skipped without a GPU)")
    size = bench.add_mutually_exclusive_group()
    size.add_argument("--quick", dest="full", action="store_false", help="small sizes, under 5 minutes (default)")
    size.add_argument("--full", dest="full", action="store_true", help="the full problem sizes")
    bench.set_defaults(full=False)  # --quick is the default, as its help says
    bench.add_argument("--matrix", metavar="FILE.mtx", help="benchmark a Matrix Market file instead of the built-ins")
    bench.add_argument("--out", metavar="DIR", default="bench-results", help="where JSON and PNG go")
    bench.add_argument("--cache-dir", metavar="DIR",
                       help="bandits suite: store/reuse the per-arm cost tables here (they take ~30 min to build at --full)")
    bench.add_argument("--models", type=_per_dim, nargs="+", metavar="DIM=MODEL",
                       help="dcdm suite: the model of a dimension (shipped name or .safetensors), e.g. 2=dcdm2d-64")
    bench.add_argument("--sizes", type=_sides_per_dim, nargs="+", metavar="DIM=SIDES",
                       help="dcdm suite: only these dimensions, at these grid sides, e.g. 2=64,128 3=32")
    bench.add_argument("--threads", type=_positive_int, metavar="N",
                       help="dcdm suite: torch threads for the networks (default 1)")
    bench.add_argument("--no-progress", action="store_true", help="do not show a progress bar")
    bench.add_argument("--simulator", action="store_true",
                       help="cuda suite: run at toy sizes on the Numba CUDA simulator (no GPU needed)")

    _add_train_parser(sub)
    sub.add_parser("info", help="versions, threads and optional extras")
    return parser


#: ``itersolve train NAME``: the module that defines ``HELP``, ``add_arguments(parser)`` and
#: ``run(args, command) -> dict``; each is imported when the parser is built, so it imports
#: only the standard library at module level (its extra is imported by ``run``).
TRAINERS = {
    "gnn": "itersolve.preconditioners.gnn.cli",
    "dcdm": "itersolve.solvers.deep_directions.cli",
    "stagger": "itersolve.pdes.stagger.cli",
}


def _add_train_parser(sub: argparse._SubParsersAction) -> None:
    """``itersolve train gnn|dcdm|stagger ...``: each learned part declares its own options."""
    import importlib

    train = sub.add_parser("train", help="train a learned part (needs its extra)")
    what = train.add_subparsers(dest="model", required=True)
    for name, module_name in TRAINERS.items():
        module = importlib.import_module(module_name)
        module.add_arguments(what.add_parser(name, help=module.HELP))


def _train(args: argparse.Namespace, argv: Sequence[str]) -> int:
    import importlib
    import shlex

    module = importlib.import_module(TRAINERS[args.model])
    summary = module.run(args, command=shlex.join(["itersolve", *argv]))
    print(json.dumps(summary, indent=1, default=str))
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
              simulator=args.simulator, cache_dir=args.cache_dir, models=dict(args.models or ()) or None,
              sizes=dict(args.sizes or ()) or None, threads=args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
