"""Tables, JSON and timing helpers shared by the benchmark suites."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

__all__ = ["format_table", "write_json", "machine_info", "best_time", "progress"]


def format_table(rows: Sequence[dict], columns: Sequence[tuple[str, str, str]]) -> str:
    """Render ``rows`` as a fixed-width text table.

    ``columns`` holds ``(key, header, format)`` triples; a missing value prints
    as ``-``.

    Examples
    --------
    >>> print(format_table([{"a": 1.5, "b": "x"}], [("b", "name", "s"), ("a", "value", ".2f")]))
    name  value
    ----  -----
    x      1.50
    """
    cells = [[header for _, header, _ in columns]]
    for row in rows:
        line = []
        for key, _, fmt in columns:
            value = row.get(key)
            line.append("-" if value is None else format(value, fmt))
        cells.append(line)
    widths = [max(len(c[i]) for c in cells) for i in range(len(columns))]
    numeric = [fmt not in ("s", "") for _, _, fmt in columns]
    out = []
    for j, line in enumerate(cells):
        parts = [
            (c.rjust(w) if numeric[i] and j > 0 else c.ljust(w)) for i, (c, w) in enumerate(zip(line, widths))
        ]
        out.append("  ".join(parts).rstrip())
        if j == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        value = float(obj)
        return value if np.isfinite(value) else None
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    return obj


def machine_info() -> dict:
    """Versions and thread count, stored with every result file."""
    import numba
    import scipy

    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "numba_threads": numba.config.NUMBA_NUM_THREADS,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "numba": numba.__version__,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }


def write_json(path: str | os.PathLike, payload: dict) -> Path:
    """Write ``payload`` (with :func:`machine_info`) as JSON; NaN becomes null."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"machine": machine_info(), **payload}
    path.write_text(json.dumps(_jsonable(body), indent=1))
    return path


def best_time(fn: Callable[[], Any], repeat: int = 5, warmup: int = 1) -> float:
    """Minimum wall time of ``fn()`` over ``repeat`` runs after ``warmup`` runs.

    Examples
    --------
    >>> best_time(lambda: sum(range(100)), repeat=3) >= 0.0
    True
    """
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def progress(items: Iterable, total: int | None = None, desc: str = "", enabled: bool = True) -> Iterable:
    """Wrap ``items`` in a tqdm bar when tqdm is installed and ``enabled``."""
    if not enabled:
        return items
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return items
    return tqdm(items, total=total, desc=desc, leave=False)
