"""Every device kernel compiles for a real GPU (PTX for sm_90), checked without one.

Needs NVVM and NVRTC (the ``cuda-ptx`` extra); skipped without them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("numba.cuda")


def _have_nvvm() -> bool:
    code = ("from cuda.pathfinder import load_nvidia_dynamic_lib as l; l('nvvm'); l('nvrtc')")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, env=env, timeout=120).returncode == 0


def test_kernels_compile_to_ptx():
    if not _have_nvvm():
        pytest.skip("NVVM/NVRTC not installed: pip install -e '.[cuda-ptx]'")
    script = Path(__file__).with_name("ptx_check.py")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2]) + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, str(script), "--quick"], capture_output=True, text=True, env=env,
                         timeout=600)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
    assert "0 failure(s)" in out.stdout
