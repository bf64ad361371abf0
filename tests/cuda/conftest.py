"""The CUDA tests run on the Numba CUDA simulator unless a real GPU is asked for.

``NUMBA_ENABLE_CUDASIM`` is read when ``numba.cuda`` is first imported, so it
is set here, at collection time, before anything imports ``numba.cuda`` in
this process (no other test does), and numba's configuration is re-read
(``numba`` itself is already imported). The variable is removed again
afterwards so that subprocesses -- notebook kernels, CLI runs -- see the
machine as it is. ``ITERSOLVE_TEST_REAL_GPU=1`` runs the same tests on a real
GPU instead. Without numba-cuda every test here is skipped.
"""

from __future__ import annotations

import os
import sys

import pytest

_REAL = os.environ.get("ITERSOLVE_TEST_REAL_GPU") == "1"

if not _REAL and "numba.cuda" not in sys.modules:
    _before = os.environ.get("NUMBA_ENABLE_CUDASIM")
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
    try:
        import numba.core.config

        numba.core.config.reload_config()
        try:
            import numba.cuda  # noqa: F401 - decides simulator vs driver, once per process
        except ImportError:
            pass
    finally:
        if _before is None:
            os.environ.pop("NUMBA_ENABLE_CUDASIM", None)
        else:
            os.environ["NUMBA_ENABLE_CUDASIM"] = _before
        numba.core.config.reload_config()

try:
    import itersolve.cuda as icu
except ImportError as exc:  # numba-cuda missing: every test module here skips on its own importorskip
    icu = None
    _WHY = f"itersolve.cuda cannot be imported ({exc}); pip install -e '.[dev]'"
    _USABLE = False
else:
    _USABLE = icu.is_available() and (icu.SIMULATOR or _REAL)
    _WHY = ("numba.cuda was imported without the simulator before these tests could enable it, and no GPU "
            "test was asked for; run them alone: pytest tests/cuda")


def pytest_collection_modifyitems(config, items):
    if _USABLE:
        return
    here = os.path.dirname(__file__)
    skip = pytest.mark.skip(reason=_WHY)
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(skip)
