"""Builds examples/03_gpu.ipynb (run: python examples/build_03_gpu.py)."""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

cells = [
    new_markdown_cell("""# Solving on the GPU

The solvers have no separate GPU entry point: give them **device data** and the same loop runs on the GPU,
on Numba-CUDA kernels (CSR SpMV with a thread or a group of lanes per row, fused CG updates with their
reductions, multicolour SOR sweeps, level-scheduled triangular solves for IC(0)/ILU(0)).

* `itersolve.cuda.to_device(A)` moves a matrix (a `DeviceCSR`), a vector, or a preconditioner
  (`Jacobi`, `IC0`, `ILU0`, `SSOR(colored=True)`) to the GPU. CuPy arrays and PyTorch CUDA tensors are used
  in place, without copies.
* `itersolve.cg`, `chebyshev`, `jacobi`, `sor`, `gauss_seidel`, `ssor` take them as they are. The result's `x`
  stays on the device; `res.x_host` copies it to NumPy.
* `check_every=k` lets the loop run `k` iterations between two reads of its state (one small copy); a loop that
  stops in between freezes on the device, so the answer does not depend on `k`.

This notebook uses the GPU when there is one and says so when there is not (then it only shows the CPU side
and the error you get)."""),
    new_code_cell("""import time
import numpy as np
import itersolve
from itersolve import pdes, preconditioners as pc

try:
    import itersolve.cuda as icu
    GPU = icu.is_available() and not icu.SIMULATOR
except ImportError:  # numba-cuda not installed: pip install 'itersolve[cuda]'
    icu, GPU = None, False
print('CUDA GPU:', 'yes' if GPU else 'no -- the GPU cells below only say so')"""),
    new_markdown_cell("""## One system, both sides

2-D Poisson with a million unknowns on a GPU; a small grid without one (the CPU reference runs either way)."""),
    new_code_cell("""m = 1000 if GPU else 64
A = pdes.poisson((m, m))
b = np.random.default_rng(0).standard_normal(A.shape[0])

t = time.perf_counter()
cpu = itersolve.cg(A, b, rtol=1e-8)
print(f'CPU: {cpu.iterations} iterations, {time.perf_counter() - t:.2f} s, reason {cpu.reason.name}')"""),
    new_code_cell("""if GPU:
    A_gpu = icu.to_device(A)            # DeviceCSR: CSR arrays on the device
    b_gpu = icu.to_device(b)
    print(A_gpu)
    itersolve.cg(A_gpu, b_gpu, rtol=1e-8, maxiter=2)   # compile the kernels once
    t = time.perf_counter()
    gpu = itersolve.cg(A_gpu, b_gpu, rtol=1e-8, check_every=10)
    print(f'GPU: {gpu.iterations} iterations, {time.perf_counter() - t:.2f} s, reason {gpu.reason.name}')
    print('same iterate:', np.allclose(gpu.x_host, cpu.x, atol=1e-8 * np.abs(cpu.x).max()))
else:
    print('no CUDA GPU: skipped')"""),
    new_markdown_cell("""## Preconditioners on the device

The host object does the set-up (the factorisation, the level schedules, the colouring) and `to_device`
copies what `apply` needs. IC(0)'s triangular solves run level by level; runs of narrow levels are solved by one
single-block launch."""),
    new_code_cell("""P = pc.IC0(A)
ref = itersolve.cg(A, b, rtol=1e-8, M=P)
print(f'CPU PCG-IC(0): {ref.iterations} iterations')
if GPU:
    P_gpu = icu.to_device(P)
    res = itersolve.cg(A_gpu, b_gpu, rtol=1e-8, M=P_gpu, check_every=10)
    print(f'GPU PCG-IC(0): {res.iterations} iterations; launches per triangular solve: '
          f'{P_gpu.lower.launches} for {P_gpu.lower.levels} levels')
    sor = itersolve.sor(A_gpu, b_gpu, omega=1.9, rtol=1e-4, maxiter=5000, check_every=25)
    print(f'GPU red-black SOR: {sor.iterations} iterations, {sor.details["colors"]} colours')
else:
    print('no CUDA GPU: skipped')"""),
    new_markdown_cell("""## Clear errors

All inputs must be on one side, and asking for the GPU where there is none says so."""),
    new_code_cell("""if GPU:
    try:
        itersolve.cg(A_gpu, b)           # device matrix, host vector
    except TypeError as e:
        print('TypeError:', e)
elif icu is not None:
    try:
        icu.to_device(A)
    except icu.CudaUnavailableError as e:
        print('CudaUnavailableError:', e)
else:
    print('numba-cuda is not installed')"""),
    new_markdown_cell("""`itersolve bench cuda` measures SpMV bandwidth (against a device-to-device copy, the GPU's nominal peak and
cuSPARSE) and CG time per iteration against `cupyx.scipy.sparse.linalg.cg`, and writes `bench-results/cuda.json`."""),
]

nb = new_notebook(cells=cells, metadata={"kernelspec": {"display_name": "Python 3", "language": "python",
                                                       "name": "python3"}})
out = Path(__file__).resolve().parent / "03_gpu.ipynb"
nbformat.write(nb, out)
print(f"wrote {out}")
