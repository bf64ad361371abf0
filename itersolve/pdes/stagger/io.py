"""Saving and loading :class:`~.models.StaggerModel` weights: safetensors + a JSON config, never pickle.

A model ``NAME`` is ``NAME.safetensors`` (one tensor per array leaf, named by
its path in the module tree) and ``NAME.json`` (``kind: "neuralstagger"``, the
model config, physics, grid, the training command and time, ``sha256`` of the
weights). Shipped models live in :mod:`itersolve.pretrained`.

Examples
--------
>>> import jax, tempfile, os
>>> from itersolve.pdes.stagger.models import StaggerModel
>>> m = StaggerModel(s=2, hidden=4, levels=1, key=jax.random.PRNGKey(0))
>>> path = save(m, os.path.join(tempfile.mkdtemp(), "m.safetensors"), {"grid": [8, 8]})
>>> load(path).config() == m.config()
True
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...pretrained import WeightsError, read_config, verify_sha256, write_config
from ._jax import require_jax

require_jax()

import equinox as eqx  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from safetensors.numpy import load_file, save_file  # noqa: E402

from .models import StaggerModel  # noqa: E402

__all__ = ["save", "load", "config_of", "KIND"]

#: The ``kind`` of NeuralStagger weights in :mod:`itersolve.pretrained`.
KIND = "neuralstagger"


def _is_parameter(x: Any) -> bool:
    """An array leaf, or its shape-only stand-in (:func:`equinox.filter_eval_shape`)."""
    return eqx.is_array(x) or isinstance(x, jax.ShapeDtypeStruct)


def _named_leaves(model: StaggerModel) -> tuple[list[str], list[Any], Any]:
    params, static = eqx.partition(model, _is_parameter)
    flat, treedef = jax.tree_util.tree_flatten_with_path(params)
    names = [jax.tree_util.keystr(path) for path, _ in flat]
    return names, [leaf for _, leaf in flat], (treedef, static)


def save(model: StaggerModel, path: str | Path, info: dict[str, Any] | None = None) -> Path:
    """Write ``path`` (``.safetensors``) and the JSON config next to it; returns the weights path."""
    path = Path(path).with_suffix(".safetensors")
    path.parent.mkdir(parents=True, exist_ok=True)
    names, leaves, _ = _named_leaves(model)
    save_file({n: np.asarray(x, dtype=np.float32) for n, x in zip(names, leaves)}, str(path))
    config = {"name": path.stem, "kind": KIND, "model": model.config(), **(info or {})}
    config.setdefault("description", f"NeuralStagger s={model.s}, s_T={model.st} (s=1: the base network)")
    write_config(path, config)
    return path


def _resolve(name_or_path: str | Path) -> Path:
    from ... import pretrained

    if isinstance(name_or_path, str) and name_or_path in pretrained.available(kind=KIND):
        return pretrained.path(name_or_path)
    path = Path(name_or_path).with_suffix(".safetensors")
    if not path.exists():
        raise FileNotFoundError(f"no NeuralStagger weights at {path} and no shipped model named {name_or_path!r}; "
                                f"shipped: {pretrained.available(kind=KIND)}")
    return path


def config_of(name_or_path: str | Path) -> dict[str, Any]:
    """The JSON config of a shipped model name or a weights path."""
    return read_config(_resolve(name_or_path), check_hash=False)


def load(name_or_path: str | Path, dtype: Any = jnp.float32) -> StaggerModel:
    """Load a shipped model by name or a ``.safetensors`` path; checks the kind, the hash and every tensor's shape.

    Raises
    ------
    FileNotFoundError
        Neither a shipped name nor an existing file.
    WeightsError
        (a ``ValueError``) Wrong kind, hash mismatch, or tensors that do not match the config.
    """
    path = _resolve(name_or_path)
    cfg = read_config(path, check_hash=False)
    if cfg.get("kind") != KIND:
        raise WeightsError(f"{path} holds a {cfg.get('kind')!r} model, not {KIND!r}")
    verify_sha256(path, cfg)
    # shapes only: initialising the layers would compile a random-number kernel per parameter shape
    try:
        skeleton = eqx.filter_eval_shape(StaggerModel, **cfg["model"], key=jax.random.PRNGKey(0))
    except (TypeError, ValueError) as err:
        raise WeightsError(f"{path}: the model config {cfg['model']} does not describe a StaggerModel: {err}") from err
    names, leaves, (treedef, static) = _named_leaves(skeleton)
    tensors = load_file(str(path))
    if sorted(tensors) != sorted(names):
        raise WeightsError(f"{path}: tensor names do not match the model config {cfg['model']}")
    new = []
    for n, ref in zip(names, leaves):
        if tensors[n].shape != ref.shape:
            raise WeightsError(f"{path}: tensor {n} has shape {tensors[n].shape}, expected {ref.shape}")
        new.append(jnp.asarray(tensors[n], dtype=dtype))
    return eqx.combine(jax.tree_util.tree_unflatten(treedef, new), static)
