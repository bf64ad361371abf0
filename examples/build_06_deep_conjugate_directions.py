"""Builds examples/06_deep_conjugate_directions.ipynb (run: python examples/build_06_deep_conjugate_directions.py)."""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

cells = [
    new_markdown_cell("""# Deep conjugate directions (DCDM) for a pressure-Poisson solve around obstacles

Kaneda et al. (ICML 2023) train a CNN `f` so that `f(r) ≈ A⁻¹r` up to scale, and use its outputs,
A-orthogonalised against the previous two directions, as search directions. `itersolve.solvers.dcdm.dcdm`
does the grid ↔ vector mapping (no unknowns inside obstacles) and the network call inside, stops on the true
residual like every itersolve solver, and falls back to the Jacobi direction for any step where the
network's direction is unusable or clearly worse — the result says how often (`details['fallback_steps']`).

Here: the projection step of an incompressible flow on a 2-D MAC grid with solid obstacles (walls closed,
top open), solved with the shipped 2-D model `dcdm2d-mg` (multigrid-structured: learned smoothers in a V-cycle, so its
iteration count hardly grows with the grid) against CG and IC(0)-PCG. Needs the `torch` extra."""),
    new_code_cell("""import numpy as np
import torch
import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt

import itersolve
from itersolve import pretrained
from itersolve.pdes.fluids.obstacles import ball, box, random_obstacles
from itersolve.pdes.fluids.pressure import pressure_system, random_velocity, divergence_rhs
from itersolve.preconditioners import IC0
from itersolve.solvers.dcdm import dcdm

torch.set_num_threads(1)
print(pretrained.available(kind='dcdm'))
print(pretrained.config('dcdm2d-mg')['command'])"""),
    new_markdown_cell("""## The system

Obstacles are boolean masks in unit-square coordinates (`box`, `ball`, `random_obstacles`, combined with `|`).
`pressure_system` assembles the h²-scaled pressure matrix on the fluid cells (Neumann at walls and obstacles,
Dirichlet on the open top); the right-hand side is −h² times the divergence of a smooth random velocity field
whose normal component vanishes on every wall."""),
    new_code_cell("""n = 64
solid = ball((n, n), (0.3, 0.45), 0.12) | box((n, n), (0.55, 0.2), (0.7, 0.55)) | random_obstacles((n, n), count=3, seed=40001)
system = pressure_system(solid, open_faces=('top',))
velocity = random_velocity(system.shape, seed=40001)
b = divergence_rhs(system, velocity)
print(system.n, 'unknowns of', n * n, 'cells; SPD:', system.nullspace is None)

fig, axes = plt.subplots(1, 2, figsize=(9, 4))
axes[0].imshow(solid.T, origin='lower', cmap='gray_r'); axes[0].set_title('solid cells')
im = axes[1].imshow(system.to_grid(b).T, origin='lower', cmap='RdBu_r'); axes[1].set_title('b = −h² div u')
fig.colorbar(im, ax=axes[1]);"""),
    new_markdown_cell("""## DCDM against CG and IC(0)-PCG, rtol 1e-6

`DCDM+IC0` is the hybrid `dcdm(..., M=IC0(A))`: each iteration takes the best step (in the A-norm) over two
new directions, the network's `f(r)` and the IC(0)-preconditioned residual, both A-orthogonalised against all
kept directions. The network supplies the smooth, global part of the error that IC(0) misses, IC(0) the local
part the network misses."""),
    new_code_cell("""def history(solve):
    res = solve()
    return res, res.residuals / np.linalg.norm(b)

runs = {
    'CG': history(lambda: itersolve.cg(system.A, b, rtol=1e-6)),
    'IC(0)-PCG': history(lambda: itersolve.cg(system.A, b, rtol=1e-6, M=IC0(system.A))),
    'DCDM (dcdm2d-mg)': history(lambda: dcdm(system, b, model='dcdm2d-mg', rtol=1e-6)),
    'DCDM+IC0': history(lambda: dcdm(system, b, model='dcdm2d-mg', M=IC0(system.A), rtol=1e-6)),
}
print(f"{'method':18s} {'iters':>5s} {'total s':>8s}  converged")
for name, (res, _) in runs.items():
    print(f"{name:18s} {res.iterations:5d} {res.total_time:8.3f}  {res.converged}")
d = runs['DCDM (dcdm2d-mg)'][0].details
print('DCDM network time', round(d['network_time'], 3), 's in', d['network_calls'], 'calls; fallback steps:',
      d['fallback_steps'], d['fallbacks'])"""),
    new_code_cell("""fig, ax = plt.subplots(figsize=(6, 4))
for name, (_, h) in runs.items():
    ax.semilogy(h, label=name)
ax.axhline(1e-6, color='k', ls=':', lw=0.8)
ax.set_xlabel('iteration'); ax.set_ylabel('‖r‖ / ‖b‖'); ax.legend()
ax.set_title('pressure solve, 64×64 MAC grid with obstacles');"""),
    new_markdown_cell("""## The projected velocity

`u ← u − ∇p` on the fluid faces removes the divergence; the faces next to walls keep zero normal velocity."""),
    new_code_cell("""p = system.to_grid(runs['DCDM (dcdm2d-mg)'][0].x)
h = 1.0 / n
# divergence of the projected field equals the solver's residual, scaled: A p - b = h² div(u - ∇p)-terms
res_grid = system.to_grid(b - system.A @ runs['DCDM (dcdm2d-mg)'][0].x)
print('max |residual| on the grid:', float(np.abs(res_grid).max()), ' max |b|:', float(np.abs(b).max()))
plt.figure(figsize=(4.5, 4)); plt.imshow(np.ma.masked_where(solid, p).T, origin='lower'); plt.colorbar()
plt.title('pressure');"""),
    new_markdown_cell("""Iteration counts and timings at 64²–256² and 32³–64³, with AMG-PCG too, are in
`itersolve bench dcdm` (JSON + PNG); the issue's targets are printed there as met / not met. A
network is a good direction generator only where it was trained well: the safeguard makes a poor one cost
iterations, never correctness."""),
]

nb = new_notebook(cells=cells, metadata={"kernelspec": {"display_name": "Python 3", "language": "python",
                                                       "name": "python3"}})
out = Path(__file__).resolve().parent / "06_deep_conjugate_directions.ipynb"
nbformat.write(nb, out)
print(f"wrote {out}")
