"""Placeholder while this part is being built; replaced by its owner."""

from __future__ import annotations

import argparse

HELP = "(being built)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options yet."""


def run(args: argparse.Namespace, command: str) -> dict:
    """Not built yet."""
    raise NotImplementedError("being built")
