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

import hashlib
import json
import os
from pathlib import Path
from typing import Any

__all__ = [
    "available", "config", "path", "read_config", "write_config", "verify_sha256", "lineage", "WeightsError", "DIRECTORY",
]

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


class WeightsError(ValueError):
    """A weights file or its JSON config is missing, corrupted or does not match its model."""


def _sha256(weights: Path) -> str:
    return hashlib.sha256(weights.read_bytes()).hexdigest()


def write_config(weights: str | os.PathLike, config: dict[str, Any]) -> Path:
    """Write ``config`` plus the ``sha256`` of ``weights`` as the JSON beside ``weights``; returns its path.

    Values JSON does not know (paths, say) are written as strings.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "m.safetensors").write_bytes(b"weights")
    >>> write_config(folder / "m.safetensors", {"kind": "demo"}).name
    'm.json'
    >>> read_config(folder / "m.safetensors")["kind"]
    'demo'
    >>> _ = (folder / "m.safetensors").write_bytes(b"tampered")
    >>> read_config(folder / "m.safetensors")
    Traceback (most recent call last):
    ...
    itersolve.pretrained.WeightsError: weights file ... is corrupted: its sha256 does not match m.json
    """
    weights = Path(weights)
    cfg_path = weights.with_suffix(".json")
    cfg_path.write_text(json.dumps({**config, "sha256": _sha256(weights)}, indent=1, default=str) + "\n")
    return cfg_path


def read_config(weights: str | os.PathLike, *, check_hash: bool = True) -> dict[str, Any]:
    """The JSON config beside a weights file, after checking both exist and (if recorded) the ``sha256``.

    Raises
    ------
    WeightsError
        Missing weights or config, invalid JSON, or a hash mismatch (a corrupted or replaced file).
    """
    weights = Path(weights)
    cfg_path = weights.with_suffix(".json")
    if not weights.exists():
        raise WeightsError(f"weights file {weights} does not exist")
    if not cfg_path.exists():
        raise WeightsError(f"config {cfg_path} is missing next to the weights file {weights.name}")
    try:
        cfg = json.loads(cfg_path.read_text())
    except ValueError as err:
        raise WeightsError(f"config {cfg_path} is not valid JSON: {err}") from err
    if check_hash:
        verify_sha256(weights, cfg)
    return cfg


def verify_sha256(weights: str | os.PathLike, cfg: dict[str, Any]) -> None:
    """Raise :class:`WeightsError` if ``cfg`` records a ``sha256`` that ``weights`` does not have."""
    weights = Path(weights)
    if "sha256" in cfg and _sha256(weights) != cfg["sha256"]:
        raise WeightsError(f"weights file {weights} is corrupted: its sha256 does not match "
                           f"{weights.with_suffix('.json').name}")


def lineage(name: str | os.PathLike, cfg: dict[str, Any]) -> dict[str, Any]:
    """What a fine-tuned model records of the weights it started from (its ``init_from``).

    ``name`` is the shipped name or path given to ``--init``, ``cfg`` that
    model's config; the parent's own ``init_from`` is kept, so the whole
    chain of fine-tunes stays on record.

    Examples
    --------
    >>> from itersolve import pretrained
    >>> sorted(lineage("diffusion2d", pretrained.config("diffusion2d")))
    ['command', 'init_from', 'name', 'sha256']
    """
    return {"name": str(name), "sha256": cfg.get("sha256"), "command": cfg.get("command"),
            "init_from": cfg.get("init_from")}
