"""Small shipped weights (safetensors), each with the JSON config and command that trained it.

Every model ``NAME`` is a pair ``NAME.safetensors`` + ``NAME.json`` in this
directory. The JSON records at least ``name``, ``kind`` (which part of
itersolve loads it, e.g. ``"gnn-preconditioner"``), ``description``,
``command`` (the exact command that trained it) and ``sha256`` of the weights.
Nothing here imports torch: listing and reading configs is plain JSON; the
part that uses a model loads the weights (never with pickle).

Examples
--------
>>> from itersolve import pretrained
>>> "diffusion2d" in pretrained.available()
True
>>> pretrained.config("diffusion2d")["kind"]
'gnn-preconditioner'
>>> pretrained.path("diffusion2d").name
'diffusion2d.safetensors'
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["available", "config", "path", "DIRECTORY"]

#: Where the shipped weights live.
DIRECTORY = Path(__file__).resolve().parent


def available(kind: str | None = None) -> list[str]:
    """Names of the shipped models (of one ``kind`` when given), sorted.

    Examples
    --------
    >>> available(kind="no-such-kind")
    []
    """
    names = []
    for cfg in sorted(DIRECTORY.glob("*.json")):
        if not cfg.with_suffix(".safetensors").exists():
            continue
        if kind is not None:
            try:
                if json.loads(cfg.read_text()).get("kind") != kind:
                    continue
            except (OSError, ValueError):
                continue
        names.append(cfg.stem)
    return names


def _check(name: str) -> None:
    if name not in available():
        raise KeyError(f"no shipped model named {name!r}; available: {available()}")


def config(name: str) -> dict[str, Any]:
    """The JSON config of a shipped model.

    Raises
    ------
    KeyError
        If there is no such model.
    """
    _check(name)
    return json.loads((DIRECTORY / f"{name}.json").read_text())


def path(name: str) -> Path:
    """Path of a shipped model's ``.safetensors`` file.

    Raises
    ------
    KeyError
        If there is no such model.
    """
    _check(name)
    return DIRECTORY / f"{name}.safetensors"
