"""Builds examples/05_neuralstagger.ipynb (run: python examples/build_05_neuralstagger.py)."""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

cells = [
    new_markdown_cell("""# NeuralStagger: physics-trained flow solvers, decomposed in space and time

A network that advances 2-D incompressible flow by one time step, trained with no simulation data at all:
its loss is the momentum residual of Navier–Stokes on a MAC grid (Wandel et al., ICLR 2021), with the velocity
the curl of a predicted stream function, so it is divergence-free by construction. **NeuralStagger**
(Huang et al., ICML 2023) splits the fine field into `s×s` interleaved coarse fields (space-to-depth), lets
small coarse networks advance them, reassembles the fine field (depth-to-space) and trains all of it with the
*unchanged* fine-grid physics loss; `s_T` steps per call decompose time likewise. Each model's JSON says what one
coarse field's network sees (`coarse_input`): its own field (`own`, the paper's decoupled solvers; `own+offset`
for older weights) or all `s×s` fields as channels (`all`: one coarse U-Net with one output group per field).
The shipped decomposed models are `all` models. All but `neuralstagger-s4-st2` were trained on a pool whose
fresh environments start from states of the base network's rollouts (`--seed-from`), so they train on developed
vortex streets from the first step, and drew their inflow speeds from 0.9-1.6 instead of 0.5-1.5 (`--speeds`), so
that most of the pool sheds vortices; the loss stays the physics residual. `neuralstagger-s2` (`s_T=1`),
`neuralstagger-s2-st2` (width 24), `neuralstagger-s2-st2-h20` (width 20) and `neuralstagger-s2-st2-h16` (width 16
with a pixel-wise head of width 32, the fastest: about 4.7x the base network at batch 1 on 2 cores) are 3-level
coarse U-Nets that shed from rest at Re 80 within 5 % of the reference's frequency. At `s=4` a coarse cell carries
a 4×4 patch, and the plain `neuralstagger-s4-st2` (trained from rest) holds a steady wake.
`neuralstagger-s4-st2-fine` adds a pixel-wise head that reads each coarse cell's patch (`--head`) and a 3×3
output layer on the fine grid that ties neighbouring patches together (`--fine`): its one-call change of a
developed street is close to the reference's, but from rest its wake only oscillates weakly. The same at width 48
sheds from rest: `neuralstagger-s4` (`s_T=1`, 2 % off the reference's frequency at Re 80, a weak street) and
`neuralstagger-s4-st2-fine-h48` (2 % off, about half the reference's amplitude), at 1.7x and 2.5x (batch 1) the
base network's speed.

Below: the shipped models (`itersolve train stagger ...`, JSON next to each file), a rollout of flow past a
cylinder against the numerical reference (a projection method whose pressure solves are itersolve's AMG-PCG),
and optimal control with `jax.grad` through a rollout. Needs the `jax` extra."""),
    new_code_cell("""import time
import numpy as np
import jax, jax.numpy as jnp
import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt

from itersolve import pretrained
from itersolve.pdes.fluids.navier_stokes import Physics, cylinder
from itersolve.pdes.fluids.reference import ProjectionSolver
from itersolve.pdes.fluids.mac import curl, stream_function, vorticity
from itersolve.pdes.stagger import load, rollout, initial_states, space_to_depth, depth_to_space
from itersolve.pdes.stagger.control import shedding_frequency, default_probe, tune_inflow

names = pretrained.available(kind='neuralstagger')
for n in names:
    cfg = pretrained.config(n)
    print(f"{n:24s} {cfg['model']}  trained {cfg['training']['steps_done']} steps in {cfg['training']['seconds']:.0f} s")"""),
    new_markdown_cell("""## Space-to-depth

Coarse field `k = di·s + dj` is `x[di::s, dj::s]`; depth-to-space puts them back exactly."""),
    new_code_cell("""x = np.arange(8 * 8).reshape(8, 8)
c = space_to_depth(x, 2)
print(c.shape); print(c[1])
assert (depth_to_space(c, 2) == x).all()"""),
    new_markdown_cell("""## Flow past a cylinder: networks against the numerical reference

A 32×64 channel (parabolic inflow of mean speed 1, cylinder of diameter 8 cells, Re = 80), 80 time steps from
the same initial state. The reference solves exactly the discrete equations the networks were trained on."""),
    new_code_cell("""physics, steps = Physics(), 80
env = cylinder((32, 64), speed=1.0)
solver = ProjectionSolver(env, physics)
ref = solver.rollout(steps)
t_ref = float(ref['seconds']) / steps
print(f"reference: {1e3 * t_ref:.1f} ms/step, mean PCG iterations {np.mean(solver.pcg_iterations):.1f}, "
      f"max |div v| {solver.max_divergence(ref['u'][-1], ref['v'][-1]):.1e}")

a0, p0, b = initial_states([env], physics)
fu, fv = env.boundary[0], env.boundary[1]
results = {}
for name in names:
    model = load(name)
    rollout(model, a0, p0, b, steps)[0].block_until_ready()        # compile
    t0 = time.perf_counter()
    a, _ = rollout(model, a0, p0, b, steps)
    a = np.asarray(a[0].block_until_ready(), dtype=float)
    seconds = (time.perf_counter() - t0) / steps
    u, v = curl(a)
    err = np.sqrt((np.sum(fu * (u - ref['u'])**2) + np.sum(fv * (v - ref['v'])**2))
                  / (np.sum(fu * ref['u']**2) + np.sum(fv * ref['v']**2)))
    results[name] = (u, v)
    print(f"{name:24s} {1e3 * seconds:6.2f} ms/step ({t_ref / seconds:5.1f}x faster than the reference), "
          f"relative L2 error {err:.3f}")"""),
    new_code_cell("""panels = {'reference': (ref['u'], ref['v']), **results}
fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 2.0))
lim = np.abs(vorticity(ref['u'][-1], ref['v'][-1])).max()
for ax, (name, (u, v)) in zip(axes, panels.items()):
    ax.imshow(np.where(env.solid, np.nan, vorticity(u[-1], v[-1])), origin='lower', cmap='RdBu_r', vmin=-lim, vmax=lim)
    ax.set_title(name, fontsize=8); ax.set_xticks([]); ax.set_yticks([])
fig.suptitle(f'vorticity after {steps} steps', fontsize=9);"""),
    new_markdown_cell("""## Restarting from a developed flow

A simulation restarted from a developed vortex street asks less of a network than a start from rest: it must
carry the street on, not grow it from a small instability. `stream_function` turns the reference's velocity
(divergence-free to the PCG tolerance) into the stream function the networks advance; every model then runs from
that state, and the probe behind the cylinder shows whether it keeps the street going and at which frequency."""),
    new_code_cell("""warm = solver.rollout(120, state=(ref['u'][-1], ref['v'][-1]))  # on from step 80 to a developed street
u0, v0, p_dev = warm['u'][-1], warm['v'][-1], warm['p'][-1]
more = 120
ref_dev = solver.rollout(more, state=(u0, v0))
a_dev = stream_function(u0, v0)[None].astype(np.float32)
i, j = default_probe(env)
signals = {'reference': ref_dev['v'][:, i, j]}
for name in names:
    model = load(name)
    a, _ = rollout(model, a_dev, p_dev[None].astype(np.float32), b, more)
    signals[name] = np.asarray(curl(np.asarray(a[0], dtype=float))[1][:, i, j])
for name, sig in signals.items():
    print(f"{name:24s} probe rms {np.std(sig[40:]):.3f}, frequency {shedding_frequency(sig[40:], physics.dt):.4f}")
fig, ax = plt.subplots(figsize=(7, 2.2))
for name, sig in signals.items():
    ax.plot(sig, lw=1.6 if name == 'reference' else 0.9, label=name)
ax.set_xlabel('step after the restart'); ax.set_ylabel('probe v'); ax.legend(fontsize=6, ncol=3);"""),
    new_markdown_cell("""## Optimal control: tune the inflow so vortices shed at a target frequency

The frequency of a probe signal is a piecewise-constant function of the inflow speed (an FFT peak), so its
gradient is useless; `tune_inflow` descends a smooth proxy, the centroid of the squared power spectrum, with
`jax.grad` through the whole rollout of a network (here the base network, the most accurate of the shipped ones).
A few Adam steps here. Read the result with the benchmark in mind: the base network (trained 52 minutes with
`--balance --kick-every 1 --perturb 0.4`) sheds vortices at close to the reference's frequency, and so do the
four `s=2` networks, `neuralstagger-s4` and `neuralstagger-s4-st2-fine-h48` (the last two at a quarter to half
the reference's amplitude); the other decomposed networks damp the vortex street, as the restart above shows
(`itersolve bench stagger` reports every probe frequency and its amplitude against the reference's, at Reynolds
numbers 80, 100 and 120)."""),
    new_code_cell("""controller = load('neuralstagger-base')
target = 0.05
out = tune_inflow(controller, env, target, physics=physics, steps=100, discard=30, iterations=3, lr=0.15)
for h in out['history']:
    print({k: round(v, 4) for k, v in h.items()})
print('tuned inflow speed:', round(out['speed'], 3))"""),
    new_markdown_cell("""`itersolve bench stagger` runs the full comparison (cylinder and an unseen obstacle layout from rest, and the
cylinder restarted from the reference's developed vortex street; time per simulated time unit at batch 1 and 8,
rollout error, shedding frequency and amplitude) and reports the issue's targets as measured."""),
]

nb = new_notebook(cells=cells, metadata={"kernelspec": {"display_name": "Python 3", "language": "python",
                                                       "name": "python3"}})
out = Path(__file__).resolve().parent / "05_neuralstagger.ipynb"
nbformat.write(nb, out)
print(f"wrote {out}")
