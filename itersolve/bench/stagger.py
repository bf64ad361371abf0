"""The NeuralStagger benchmark (``itersolve bench stagger``): learned flow solvers against the numerical reference.

Three cases on the fine grid (default 32 x 64), each rolled out for the same
physical time from one initial state shared by every method: flow past a
cylinder and a layout never drawn in training
(:func:`~itersolve.pdes.fluids.navier_stokes.held_out_layout`), both from rest
(the Poiseuille state), so that a method must develop the vortex street
itself; and the cylinder started from the reference's *developed* vortex
street (its state after ``developed_after`` steps from rest, turned into a
stream function by :func:`~itersolve.pdes.fluids.mac.stream_function`), which
asks only that a method carry the street on: what a simulation restarted
from a developed flow needs. The from-rest cylinder is the case of the
frequency target; the developed case has a target of its own, reported
beside it, never in its place. The default cylinder is at Reynolds number
``U D / nu = 80``, not far above the onset of shedding in this channel (the
reference's squared wake amplitude extrapolates to zero near Re 68 on the
32 x 64 grid): there the oscillation grows slowly from rest, and a model's
slight excess dissipation decides whether it sheds at all. Further
cylinders from rest at the Reynolds numbers ``reynolds`` (default
:data:`REYNOLDS`: faster inflow, the same geometry and viscosity, inside the
training range of inflow speeds) show how each method's shedding frequency
and amplitude follow the Reynolds number (the Strouhal curve), again beside
the frequency target, never in its place.
Methods: the projection-method reference
(:class:`~itersolve.pdes.fluids.reference.ProjectionSolver`, AMG-PCG pressure
solves), the base network (``s = 1``) and every shipped NeuralStagger model
(``s = 2, 4``, with ``s_T = 1, 2``).

Per method and case: seconds per simulated time unit at batch size 1
(latency) and per environment at batch size :data:`BATCH` (throughput; the
reference runs one environment at a time; timed in the from-rest cases only:
the cost of a step does not depend on the state), the relative L2 error of the
velocity over the whole rollout on fluid faces against the reference, and the
vortex-shedding frequency of a probe behind the obstacle
(:func:`~itersolve.pdes.stagger.control.shedding_frequency`, start-up left
out) and the probe's oscillation amplitude relative to the reference's (a
model below :data:`SHEDDING_AMPLITUDE` does not shed, whatever its spectral
peak says). In the developed case every network also gets a one-call test
(:func:`step_response`): from :data:`STEP_STATES` states of the reference's
vortex street, its change of the velocity against the reference's over the
same steps; a projection below 1 is a step that damps the street. The
issue's targets are checked and printed as met or not met; the JSON holds
everything, the PNG the final vorticity of every method side by side.

JAX runs with however many threads XLA is given (see ``XLA_FLAGS``); the JSON records the flags.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from .report import format_table, write_json
from .report import progress as progress_bar

__all__ = ["run", "step_response", "reynolds_case", "TARGETS", "BATCH", "DEVELOPED", "STEP_STATES", "REYNOLDS"]

#: Environments per batch for the throughput timing of the networks.
BATCH = 8

#: The case started from the reference's developed vortex street behind the cylinder.
DEVELOPED = "cylinder, developed"

#: Reynolds numbers of the extra from-rest cylinder cases (the default cylinder is at 80 on the 32 x 64 grid).
REYNOLDS = (100.0, 120.0)

#: Reference states of the developed case from which each network's one-call change is compared (:func:`step_response`).
STEP_STATES = 20

TARGETS = {
    "error_vs_base": "decomposed models: rollout error <= 1.5x the base model's (each case)",
    "frequency": "decomposed models: shedding frequency within 5 % of the numerical reference (cylinder)",
    "frequency_developed": "decomposed models, started from the reference's developed vortex street: shedding "
                           "frequency within 5 % of the reference's (cylinder, developed; not the target above)",
    "frequency_reynolds": "decomposed models, cylinder from rest at a higher Reynolds number (further from the onset "
                          "of shedding): shedding frequency within 5 % of the reference's (not the target above)",
    "speedup_vs_base": "speed-up over the base network >= 4x on 2 CPU cores (time per simulated unit) at that "
                       "accuracy: only a model that meets the error target in every case and the frequency "
                       "target counts",
    "vs_reference": "every neural model >= 10x faster than the numerical reference at the same grid",
}

COLUMNS = [
    ("case", "case", "s"),
    ("reynolds", "Re", ".0f"),
    ("method", "method", "s"),
    ("s_per_unit_b1", "s/unit b=1", ".4f"),
    ("s_per_unit_batch", f"s/unit/env b={BATCH}", ".5f"),
    ("speedup_vs_base", "x base", ".2f"),
    ("speedup_vs_reference", "x ref", ".1f"),
    ("rel_l2", "rel L2", ".3f"),
    ("frequency", "freq", ".4f"),
    ("freq_error", "f err", ".3f"),
    ("amplitude_ratio", "amp/ref", ".2f"),
    ("step_projection", "step proj", ".3f"),
    ("step_error", "step err", ".3f"),
]

#: A probe whose oscillation (rms after start-up) is below this fraction of the reference's does not shed:
#: its spectral peak is noise, and its frequency is reported but cannot meet the frequency target.
SHEDDING_AMPLITUDE = 0.25


def _label(cfg: dict) -> str:
    m = cfg["model"]
    if m["s"] == 1 and m["st"] == 1:
        return "base"
    return f"s={m['s']} sT={m['st']}" + (" all" if m.get("coarse_input") == "all" else "")


def _size(model: dict) -> str:
    """``h<hidden>``, then ``head<head>`` and ``fine<fine>`` where the model has them."""
    return " ".join(f"{k}{model[key]}" for k, key in (("h", "hidden"), ("head", "head"), ("fine", "fine"))
                    if model.get(key))


def _labels(configs: list[dict]) -> list[str]:
    """Table labels of models: :func:`_label`, plus the sizes (:func:`_size`) where two models would share one.

    >>> cfg = lambda h, **more: {"model": {"s": 2, "st": 2, "hidden": h, "coarse_input": "all", **more}}
    >>> _labels([cfg(24), cfg(20), {"model": {"s": 1, "st": 1, "hidden": 16}}])
    ['s=2 sT=2 all h24', 's=2 sT=2 all h20', 'base']
    >>> _labels([cfg(32), cfg(32, fine=16)])
    ['s=2 sT=2 all h32', 's=2 sT=2 all h32 fine16']
    """
    plain = [_label(cfg) for cfg in configs]
    return [f"{label} {_size(cfg['model'])}" if plain.count(label) > 1 else label
            for label, cfg in zip(plain, configs)]


def _time(fn: Any, repeat: int) -> float:
    fn()  # compile
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return float(best)


def _rel_l2(u: np.ndarray, v: np.ndarray, ref: dict, fu: np.ndarray, fv: np.ndarray) -> float:
    num = np.sum(fu * (u - ref["u"]) ** 2) + np.sum(fv * (v - ref["v"]) ** 2)
    den = np.sum(fu * ref["u"] ** 2) + np.sum(fv * ref["v"] ** 2)
    return float(np.sqrt(num / den)) if np.isfinite(num) else float("inf")


def step_response(model: Any, ref: dict, boundary: np.ndarray, h: float = 1.0,
                  states: int = STEP_STATES) -> tuple[float, float]:
    """One call of ``model`` from reference states against the reference's change of the velocity over its ``st`` steps.

    ``ref`` holds the reference rollout (``u``, ``v``, ``p`` of shape
    ``(steps, H, W)``); ``states`` of its states, evenly spread, are turned
    into stream functions and advanced by one model call. On fluid faces, with
    ``d`` the model's change of the velocity and ``t`` the reference's,
    returns ``(d . t / |t|^2, |d - t| / |t|)``: the projection (1 is the right
    size; below 1 the step damps the flow's change, e.g. the vortex street)
    and the relative error of the change. A model that changes nothing scores
    ``(0, 1)``.

    Examples
    --------
    >>> import jax
    >>> from itersolve.pdes.fluids.navier_stokes import Physics, cylinder
    >>> from itersolve.pdes.fluids.reference import ProjectionSolver
    >>> from itersolve.pdes.stagger.models import StaggerModel
    >>> env = cylinder((16, 32))
    >>> ref = ProjectionSolver(env, Physics()).rollout(6)
    >>> identity = StaggerModel(hidden=2, levels=1, key=jax.random.PRNGKey(0))  # untrained: changes nothing
    >>> [round(x, 9) for x in step_response(identity, ref, env.boundary, states=3)]
    [0.0, 1.0]
    """
    from ..pdes.fluids.mac import curl, stream_function
    from ..pdes.stagger.rollouts import rollout

    st = model.st
    last = ref["u"].shape[0] - st
    if last < 1:
        raise ValueError(f"the reference rollout has {ref['u'].shape[0]} steps; a model with s_T = {st} needs more")
    ts = np.unique(np.linspace(0, last - 1, min(states, last)).round().astype(int))
    a = np.stack([stream_function(ref["u"][t], ref["v"][t], h) for t in ts]).astype(np.float32)
    b = np.repeat(np.asarray(boundary, dtype=np.float32)[None], len(ts), axis=0)
    after = rollout(model, a, ref["p"][ts].astype(np.float32), b, st)[0][:, -1]
    (u0, v0), (u1, v1) = curl(a.astype(float), h), curl(np.asarray(after, dtype=float), h)
    fu, fv = np.asarray(boundary[0], bool), np.asarray(boundary[1], bool)
    true = np.concatenate([(ref["u"][ts + st] - ref["u"][ts])[:, fu], (ref["v"][ts + st] - ref["v"][ts])[:, fv]], 1)
    got = np.concatenate([(u1 - u0)[:, fu], (v1 - v0)[:, fv]], 1)  # the model's own change: float32 start aside
    norm = float(np.sum(true * true))
    if not norm > 0:
        raise ValueError("the reference's velocity does not change over these steps: there is no change to compare")
    return float(np.sum(got * true)) / norm, float(np.linalg.norm(got - true)) / float(np.sqrt(norm))


def reynolds_case(grid: tuple[int, int], reynolds: float, physics: Any) -> tuple[str, Any]:
    """The name and environment of the default cylinder on ``grid`` at Reynolds number ``U D rho / mu = reynolds``.

    Examples
    --------
    >>> from itersolve.pdes.fluids.navier_stokes import Physics
    >>> name, env = reynolds_case((32, 64), 120, Physics())
    >>> name, round(env.speed, 6)
    ('cylinder, Re 120', 1.5)
    """
    from ..pdes.fluids.navier_stokes import cylinder

    speed = reynolds * physics.mu / (physics.rho * _diameter(grid, physics))
    return f"cylinder, Re {reynolds:g}", cylinder(grid, speed)


def _diameter(grid: tuple[int, int], physics: Any) -> float:
    """Diameter of the default cylinder on ``grid``, in length units."""
    from ..pdes.fluids.navier_stokes import CYLINDER_RADIUS

    return 2 * CYLINDER_RADIUS * grid[1] * physics.h


def run(quick: bool = True, out_dir: str | None = "bench-results", progress: bool = True, *,
        grid: tuple[int, int] = (32, 64), steps: int | None = None, discard: int | None = None,
        models: list[Any] | None = None, repeat: int = 1, developed_after: int = 240,
        reynolds: tuple[float, ...] = REYNOLDS) -> dict:
    """Run the benchmark, print the table and the targets, write ``stagger.json`` and ``stagger.png``.

    ``models``: shipped names or ``.safetensors`` paths (default: every shipped
    ``neuralstagger`` model); ``steps`` time steps (default 240 quick, 480 full),
    of which the first ``discard`` (default a third) are left out of the frequency;
    ``developed_after``: reference steps from rest to the start of the developed case;
    ``reynolds``: the Reynolds numbers of the extra from-rest cylinder cases (:func:`reynolds_case`).
    Every timing is one run after a warm-up (compilation) run (``repeat`` > 1: the best of
    that many), like the single timed run of the reference, so that both see the same machine load.
    Returns the payload written to the JSON.
    """
    from ..pdes.stagger._jax import require_jax

    require_jax()

    from .. import pretrained
    from ..pdes.fluids.mac import curl, stream_function, vorticity
    from ..pdes.fluids.navier_stokes import Physics, cylinder, held_out_layout
    from ..pdes.fluids.reference import ProjectionSolver
    from ..pdes.stagger.control import default_probe, shedding_frequency
    from ..pdes.stagger.io import KIND, config_of, load
    from ..pdes.stagger.rollouts import initial_states, rollout

    physics = Physics()
    steps = int(steps or (240 if quick else 480))
    discard = int(steps // 3 if discard is None else discard)
    if models is None:
        models = pretrained.available(kind=KIND)
    configs = [config_of(m) for m in models]
    loaded = {}
    for m, cfg, label in zip(models, configs, _labels(configs)):
        loaded[label if label not in loaded else str(m)] = (load(m), cfg, str(m))
    cases = {"cylinder": cylinder(grid, 1.0), "held-out": held_out_layout(grid, 1.0), DEVELOPED: cylinder(grid, 1.0)}
    sweep = dict(reynolds_case(grid, re, physics) for re in reynolds)
    cases.update(sweep)
    timed_cases = ("cylinder", "held-out")
    starts: dict[str, Any] = {}
    rows: list[dict] = []
    snapshots: dict[str, dict[str, np.ndarray]] = {}
    jobs = [(c, name) for c in cases for name in ["reference", *loaded]]
    for case, name in progress_bar(jobs, total=len(jobs), desc="bench stagger", enabled=progress):
        env = cases[case]
        fu, fv = env.boundary[0], env.boundary[1]
        probe = default_probe(env)
        timed, developed = case in timed_cases, case == DEVELOPED
        row: dict[str, Any] = {"case": case, "method": name, "steps": steps, "dt": physics.dt}
        if case != "held-out":
            row["reynolds"] = float(env.speed) * _diameter(grid, physics) * physics.rho / physics.mu
        if name == "reference":
            solver = ProjectionSolver(env, physics)
            if not developed:
                ref = solver.rollout(steps)
                if timed:
                    row["s_per_unit_b1"] = float(ref["seconds"]) / (steps * physics.dt)
            else:
                warm = solver.rollout(developed_after)
                u0, v0, p0 = (warm[k][-1] for k in ("u", "v", "p"))
                starts[case] = (stream_function(u0, v0, physics.h), p0)
                ref = solver.rollout(steps, state=(u0, v0))
                row["developed_after"] = developed_after
            row.update(batch=1, rel_l2=0.0, setup_seconds=solver.setup_time,
                       pcg_iterations_mean=float(np.mean(solver.pcg_iterations)),
                       max_divergence=solver.max_divergence(ref["u"][-1], ref["v"][-1]))
            u, v = ref["u"], ref["v"]
            cases_ref = ref
        else:
            model, cfg, source = loaded[name]
            if steps % model.st:
                raise ValueError(f"steps = {steps} is not a multiple of s_T = {model.st} of {source}")
            a0, p0, b = initial_states([env], physics)
            if developed:
                a0, p0 = (x[None].astype(a0.dtype) for x in starts[case])
            out = rollout(model, a0, p0, b, steps)
            a = np.asarray(out[0][0], dtype=float)
            u, v = curl(a, physics.h)
            row.update(batch=BATCH, rel_l2=_rel_l2(u, v, cases_ref, fu, fv), model=cfg["model"], source=source,
                       trained_seconds=cfg.get("training", {}).get("seconds"),
                       trained_steps=cfg.get("training", {}).get("steps_done"))
            if timed:
                t1 = _time(lambda: rollout(model, a0, p0, b, steps)[0].block_until_ready(), repeat)
                ab, pb, bb = (np.repeat(x, BATCH, axis=0) for x in (a0, p0, b))
                tb = _time(lambda: rollout(model, ab, pb, bb, steps)[0].block_until_ready(), repeat)
                row.update(s_per_unit_b1=t1 / (steps * physics.dt), s_per_unit_batch=tb / (BATCH * steps * physics.dt))
            elif developed:
                row["step_projection"], row["step_error"] = step_response(model, cases_ref, env.boundary, physics.h)
        signal = v[discard:, probe[0], probe[1]]
        row["frequency"] = shedding_frequency(signal, physics.dt)
        row["probe"] = list(probe)
        row["probe_rms"] = float(np.std(signal))
        snapshots.setdefault(case, {})[name] = vorticity(u[-1], v[-1], physics.h)
        rows.append(row)
    _ratios(rows)
    targets = _targets(rows, tuple(sweep))
    print(format_table(rows, COLUMNS))
    print()
    for t in targets:
        print(f"[{'met' if t['met'] else 'NOT met'}] {t['target']}: {t['measured']}")
    payload = {"suite": "stagger", "quick": quick, "grid": list(grid), "steps": steps, "discard": discard,
               "developed_after": developed_after,
               "physics": {"rho": physics.rho, "mu": physics.mu, "dt": physics.dt}, "batch": BATCH,
               "xla_flags": os.environ.get("XLA_FLAGS", ""), "rows": rows, "targets": targets}
    if out_dir is not None:
        path = write_json(Path(out_dir) / "stagger.json", payload)
        png = _plot(snapshots, cases, Path(out_dir) / "stagger.png")
        print(f"\nwrote {path}" + (f" and {png}" if png else ""))
    return payload


def _ratios(rows: list[dict]) -> None:
    for case in dict.fromkeys(r["case"] for r in rows):
        group = {r["method"]: r for r in rows if r["case"] == case}
        ref, base = group.get("reference"), group.get("base")
        for r in group.values():
            if ref is not None and ref.get("frequency"):
                r["reference_frequency"] = ref["frequency"]
                r["freq_error"] = abs(r["frequency"] - ref["frequency"]) / ref["frequency"]
                r["amplitude_ratio"] = r["probe_rms"] / ref["probe_rms"] if ref["probe_rms"] > 0 else None
                r["sheds"] = r["amplitude_ratio"] is not None and r["amplitude_ratio"] >= SHEDDING_AMPLITUDE
            if r["method"] == "reference":
                continue
            if base is not None:
                r["error_vs_base"] = r["rel_l2"] / base["rel_l2"] if base["rel_l2"] > 0 else None
            if r.get("s_per_unit_b1") is None:  # not timed (the developed case)
                continue
            r["speedup_vs_reference"] = ref["s_per_unit_b1"] / r["s_per_unit_b1"] if ref else None
            r["speedup_vs_reference_batch"] = ref["s_per_unit_b1"] / r["s_per_unit_batch"] if ref else None
            if base is not None:
                r["speedup_vs_base"] = base["s_per_unit_b1"] / r["s_per_unit_b1"]
                r["speedup_vs_base_batch"] = base["s_per_unit_batch"] / r["s_per_unit_batch"]


def _targets(rows: list[dict], sweep_cases: tuple[str, ...] = ()) -> list[dict]:
    out = []

    def add(key: str, measured: str, met: bool, method: str) -> None:
        out.append({"key": key, "target": TARGETS[key], "measured": measured, "met": bool(met), "method": method})

    decomposed = [r for r in rows if r["method"] not in ("reference", "base")]
    for r in decomposed:
        if r.get("error_vs_base") is not None:
            add("error_vs_base", f"{r['method']} {r['case']}: {r['error_vs_base']:.2f}x base "
                f"({r['rel_l2']:.3f} vs {r['rel_l2'] / r['error_vs_base']:.3f})", r["error_vs_base"] <= 1.5,
                r["method"])
    frequency_cases = {"cylinder": "frequency", DEVELOPED: "frequency_developed",
                       **dict.fromkeys(sweep_cases, "frequency_reynolds")}
    for case, key in frequency_cases.items():
        for r in decomposed:
            if r["case"] == case and r.get("freq_error") is not None:
                shed = "" if r["sheds"] else (f"; does not shed (probe rms {r['amplitude_ratio']:.3f} of the "
                                              f"reference's), so that is a noise peak")
                name = r["method"] if key != "frequency_reynolds" else f"{r['method']}, {case}"
                add(key, f"{name}: {r['frequency']:.4f} vs reference {r['reference_frequency']:.4f} "
                    f"({100 * r['freq_error']:.1f} % off{shed})", r["sheds"] and r["freq_error"] <= 0.05,
                    r["method"])
    accurate = _accurate(out)
    for r in decomposed:
        if r["case"] == "cylinder" and r.get("speedup_vs_base") is not None:
            note = "" if r["method"] in accurate else " (does not count: misses the accuracy targets)"
            add("speedup_vs_base", f"{r['method']}: {r['speedup_vs_base']:.2f}x at batch 1, "
                f"{r['speedup_vs_base_batch']:.2f}x at batch {BATCH}{note}",
                r["method"] in accurate and max(r["speedup_vs_base"], r["speedup_vs_base_batch"]) >= 4.0,
                r["method"])
    for r in rows:
        if r["case"] == "cylinder" and r["method"] != "reference" and r.get("speedup_vs_reference") is not None:
            add("vs_reference", f"{r['method']}: {r['speedup_vs_reference']:.1f}x at batch 1, "
                f"{r['speedup_vs_reference_batch']:.1f}x per environment at batch {BATCH}",
                r["speedup_vs_reference"] >= 10.0, r["method"])
    return out


def _accurate(targets: list[dict]) -> set[str]:
    """The methods that meet the from-rest cylinder's frequency target and the error target in every case."""
    shedding = {t["method"] for t in targets if t["key"] == "frequency" and t["met"]}
    return shedding - {t["method"] for t in targets if t["key"] == "error_vs_base" and not t["met"]}


def _plot(snapshots: dict[str, dict[str, np.ndarray]], cases: dict, path: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    methods = list(next(iter(snapshots.values())))
    fig, axes = plt.subplots(len(snapshots), len(methods), figsize=(2.6 * len(methods), 1.7 * len(snapshots)),
                             squeeze=False)
    for i, (case, snaps) in enumerate(snapshots.items()):
        lim = float(np.abs(snaps["reference"]).max()) or 1.0
        solid = cases[case].solid
        for j, name in enumerate(methods):
            ax = axes[i, j]
            w = np.where(solid, np.nan, snaps[name])
            ax.imshow(w, origin="lower", cmap="RdBu_r", vmin=-lim, vmax=lim)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{case}: {name}", fontsize=8)
    fig.suptitle("vorticity at the end of the rollout", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
