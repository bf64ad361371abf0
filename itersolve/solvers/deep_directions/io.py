"""Saving and loading DCDM networks: safetensors + a JSON config, no pickle.

``PATH.safetensors`` holds the tensors (metadata: ``dim``, ``channels``,
``levels``, ``coarsest``, ``multigrid``); ``PATH.json`` next to it holds ``kind: "dcdm"``, those five
(a config without ``coarsest`` or ``multigrid``, written before they existed, means 0: the
fixed-depth network, the U-Net),
the training settings, the command that produced the weights and the
``sha256`` of the weights file. :func:`load_model` checks all of them and
raises :class:`WeightsError` (a ``ValueError``) when anything is off.
:func:`resolve_model` turns a shipped name (:mod:`itersolve.pretrained`,
``kind == "dcdm"``) or a path into a network.

Examples
--------
>>> import tempfile, pathlib
>>> from itersolve.solvers.deep_directions.model import build_model
>>> from itersolve.solvers.deep_directions.io import save_model, load_model
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = save_model(build_model(3, 4, 1), d / "m.safetensors", {"note": "demo"})
>>> net, cfg = load_model(d / "m.safetensors")
>>> net.dim, cfg["kind"], cfg["note"]
(3, 'dcdm', 'demo')
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from ... import pretrained
from ...pretrained import WeightsError, read_config, write_config
from .model import DCDMNet, build_model

__all__ = ["WeightsError", "save_model", "load_model", "resolve_model", "KIND", "FORMAT_VERSION"]

#: ``kind`` of DCDM weights in :mod:`itersolve.pretrained`.
KIND = "dcdm"
#: Version of the checkpoint layout.
FORMAT_VERSION = 1
#: The architecture fields of a config and their defaults (a missing field has the value it had before it existed).
_ARCH = {"dim": None, "channels": None, "levels": None, "coarsest": 0, "multigrid": 0}



def save_model(model: DCDMNet, path: str | os.PathLike, config: dict[str, Any] | None = None) -> Path:
    """Write ``model``'s tensors to ``path`` (``.safetensors``) and its config next to it (``.json``)."""
    from safetensors.torch import save_file

    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"weights files end in .safetensors, got {path.name!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    arch = {k: int(getattr(model, k)) for k in _ARCH}
    tensors = {k: v.detach().to(torch.float32).contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, str(path), metadata={k: str(v) for k, v in arch.items()})
    write_config(path, {"format_version": FORMAT_VERSION, "kind": KIND, **(config or {}), **arch})
    return path


def load_model(path: str | os.PathLike) -> tuple[DCDMNet, dict[str, Any]]:
    """Load a checkpoint written by :func:`save_model`: ``(network in eval mode, config)``.

    Raises
    ------
    WeightsError
        Missing file or config, wrong ``kind``, hash mismatch, unreadable
        tensors, tensors that do not match the architecture, NaN weights.
    """
    from safetensors import safe_open

    path = Path(path)
    cfg_path = path.with_suffix(".json")
    cfg = read_config(path)
    if cfg.get("kind") != KIND or cfg.get("format_version") != FORMAT_VERSION:
        raise WeightsError(f"{cfg_path} is not a DCDM config (kind {cfg.get('kind')!r}, "
                           f"format_version {cfg.get('format_version')!r})")
    try:
        model = build_model(*(int(cfg[k] if default is None else cfg.get(k, default)) for k, default in _ARCH.items()))
    except (KeyError, ValueError, TypeError) as err:
        raise WeightsError(f"{cfg_path}: cannot build the network ({err!r})") from err
    try:
        with safe_open(str(path), framework="pt") as f:
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as err:  # safetensors raises its own error types for bad headers
        raise WeightsError(f"cannot read weights file {path}: {err}") from err
    expected = model.state_dict()
    if set(tensors) != set(expected) or any(tensors[k].shape != v.shape for k, v in expected.items()):
        raise WeightsError(f"{path.name}: tensors do not match the architecture in {cfg_path.name}")
    if not all(bool(torch.isfinite(t).all()) for t in tensors.values()):
        raise WeightsError(f"{path.name} holds NaN or Inf weights")
    model.load_state_dict(tensors)
    model.eval()
    return model, cfg


def resolve_model(spec: str | os.PathLike) -> tuple[DCDMNet, dict[str, Any]]:
    """A network from a shipped name (``"dcdm2d-64"``) or a ``.safetensors`` path.

    Examples
    --------
    >>> resolve_model("no-such-model")
    Traceback (most recent call last):
    ...
    itersolve.pretrained.WeightsError: no DCDM model 'no-such-model': not a shipped name (...) nor a file
    """
    text = os.fspath(spec)
    shipped = pretrained.available(kind=KIND)
    if text in shipped:
        return load_model(pretrained.path(text))
    if Path(text).exists():
        return load_model(text)
    raise WeightsError(f"no DCDM model {text!r}: not a shipped name ({', '.join(shipped) or 'none'}) nor a file")
