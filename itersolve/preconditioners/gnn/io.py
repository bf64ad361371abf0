"""Saving and loading GNN preconditioner weights: safetensors + a JSON config, no pickle.

A checkpoint ``PATH.safetensors`` holds the tensors (its metadata repeats
``arch``, ``hidden``, ``layers``, ``level``); ``PATH.json`` next to it holds the config:
those three, the training settings and the command that produced it, and the
``sha256`` of the weights file. :func:`load_model` checks the hash, the
architecture, and the name and shape of every tensor, and raises
:class:`WeightsError` (a ``ValueError``) with a clear message when anything
is off -- a corrupted, truncated or mismatched file never loads silently.

Examples
--------
>>> import tempfile, pathlib
>>> from itersolve.preconditioners.gnn.models import PreCorrector
>>> from itersolve.preconditioners.gnn.io import save_model, load_model
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = save_model(PreCorrector(hidden=4, layers=2), d / "m.safetensors", {"note": "demo"})
>>> model, cfg = load_model(d / "m.safetensors")
>>> type(model).__name__, cfg["hidden"], cfg["note"]
('PreCorrector', 4, 'demo')
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ...pretrained import WeightsError, read_config, write_config
from .models import ARCHITECTURES, build_model

__all__ = ["WeightsError", "save_model", "load_model", "model_config", "FORMAT_VERSION"]

#: Version of the checkpoint layout.
FORMAT_VERSION = 1



def model_config(model: nn.Module) -> dict[str, Any]:
    """``arch``, ``hidden``, ``layers`` and ``level`` of a model built by :func:`~.models.build_model`."""
    arch = getattr(model, "arch", None)
    if arch not in ARCHITECTURES:
        raise TypeError(f"cannot describe {type(model).__name__}: not one of {sorted(ARCHITECTURES)}")
    return {"arch": arch, "hidden": model.trunk.hidden, "layers": model.trunk.layers, "level": model.level}


def save_model(model: nn.Module, path: str | os.PathLike, config: dict[str, Any] | None = None) -> Path:
    """Write ``model``'s tensors to ``path`` (safetensors) and its config to ``path`` with ``.json``.

    Returns the path of the weights file.
    """
    from safetensors.torch import save_file

    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"weights files end in .safetensors, got {path.name!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    arch = model_config(model)
    tensors = {k: v.detach().to(torch.float32).contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, str(path), metadata={k: str(v) for k, v in arch.items()})
    write_config(path, {"format_version": FORMAT_VERSION, **(config or {}), **arch})
    return path


def load_model(path: str | os.PathLike, *, check_hash: bool = True) -> tuple[nn.Module, dict[str, Any]]:
    """Load a checkpoint written by :func:`save_model`; returns ``(model in eval mode, config)``.

    Raises
    ------
    WeightsError
        Missing file or config, hash mismatch (corrupted file), unreadable
        safetensors, unknown architecture, or tensors whose names or shapes
        do not match the architecture in the config.
    """
    from safetensors import safe_open

    path = Path(path)
    cfg_path = path.with_suffix(".json")
    cfg = read_config(path, check_hash=check_hash)
    if cfg.get("format_version") != FORMAT_VERSION:
        raise WeightsError(f"{cfg_path}: format_version {cfg.get('format_version')!r}, expected {FORMAT_VERSION}")
    try:
        model = build_model(cfg["arch"], int(cfg["hidden"]), int(cfg["layers"]), int(cfg.get("level", 0)))
    except (KeyError, ValueError, TypeError) as err:
        raise WeightsError(f"{cfg_path}: cannot build the model ({err!r})") from err
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as err:  # safetensors raises its own error types for bad headers
        raise WeightsError(f"cannot read weights file {path}: {err}") from err
    for key in ("arch", "hidden", "layers", "level"):
        if key in meta and meta[key] != str(cfg.get(key)):
            raise WeightsError(f"{path.name} says {key}={meta[key]!r} but {cfg_path.name} says {cfg.get(key)!r}")
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        raise WeightsError(f"{path.name} does not match architecture {cfg['arch']!r}: missing {missing}, unexpected {extra}")
    bad = [f"{k}: {tuple(tensors[k].shape)} != {tuple(v.shape)}" for k, v in expected.items()
           if tuple(tensors[k].shape) != tuple(v.shape)]
    if bad:
        raise WeightsError(f"{path.name}: tensor shapes do not match the config ({'; '.join(bad)})")
    if not all(bool(torch.isfinite(t).all()) for t in tensors.values()):
        raise WeightsError(f"{path.name} holds NaN or Inf weights")
    model.load_state_dict({k: t.to(v.dtype) for k, (t, v) in ((k, (tensors[k], expected[k])) for k in expected)})
    model.eval()
    return model, cfg
