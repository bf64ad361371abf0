"""Lazy access to the optional extras (``torch``, ``jax``): import on use, or say which extra to install.

Nothing in :mod:`itersolve` imports torch or JAX at import time; the parts that
need one call :func:`require` first.

Examples
--------
>>> from itersolve._extras import require
>>> require("numpy", extra="core", feature="this example").__name__
'numpy'
>>> try:
...     require("no_such_package_xyz", extra="torch", feature="GNN preconditioners")
... except ImportError as err:
...     print(err)
GNN preconditioners: 'no_such_package_xyz' is not installed; install the 'torch' extra: pip install 'itersolve[torch]'
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["require"]


def require(*packages: str, extra: str, feature: str) -> ModuleType:
    """Import every one of ``packages`` and return the first.

    Parameters
    ----------
    *packages : str
        Module names; the first is returned.
    extra : str
        The itersolve extra that installs them (named in the error).
    feature : str
        What needs them, for the error message.

    Raises
    ------
    ImportError
        Naming the missing package and the extra to install.
    """
    for name in packages:
        try:
            importlib.import_module(name)
        except ImportError as err:
            raise ImportError(f"{feature}: {name!r} is not installed; "
                              f"install the {extra!r} extra: pip install 'itersolve[{extra}]'") from err
    return importlib.import_module(packages[0])
