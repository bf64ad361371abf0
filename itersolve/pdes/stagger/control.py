"""Optimal control through a rollout: tune the inflow speed so vortices shed at a target frequency.

The shedding frequency of a probe signal (the cross-stream velocity behind
the obstacle) is measured by :func:`shedding_frequency`: the peak of the
Hann-windowed power spectrum of the signal less its least-squares line (the
start-up drift would otherwise fill the lowest bins), refined by a parabola through the three bins
around it. That estimate is piecewise constant in the inflow speed -- its
gradient is zero almost everywhere -- so :func:`tune_inflow` descends a
differentiable proxy instead, :func:`spectral_centroid`: the mean frequency
under the *squared* power spectrum. It equals the peak frequency for a
single spectral line, moves smoothly when the line moves, and squaring the
power makes the dominant line outweigh the broadband start-up transient and
harmonics. The loss is ``(centroid / target - 1)**2`` and its gradient comes
from :func:`jax.grad` through the whole rollout of the model (the inflow
speed scales both the prescribed inflow/outflow profile and the initial state).

Examples
--------
>>> import numpy as np
>>> t = np.arange(256.0)
>>> round(shedding_frequency(np.sin(2 * np.pi * 0.05 * t), dt=1.0), 3)
0.05
>>> round(float(spectral_centroid(np.sin(2 * np.pi * 0.05 * t), dt=1.0)), 2)
0.05
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._jax import require_jax

require_jax()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from ..fluids.mac import curl  # noqa: E402
from ..fluids.navier_stokes import Environment, Physics  # noqa: E402
from .models import StaggerModel  # noqa: E402
from .rollouts import initial_states, rollout  # noqa: E402

__all__ = ["shedding_frequency", "spectral_centroid", "probe_signal", "tune_inflow", "default_probe"]

Array = Any


def _detrend(x: Array, xp: Any) -> Array:
    """``x`` less its least-squares straight line (NumPy or JAX, differentiable)."""
    t = xp.linspace(-1.0, 1.0, x.shape[-1])
    return x - x.mean() - t * (xp.sum(t * x) / xp.sum(t * t))


def shedding_frequency(signal: Array, dt: float) -> float:
    """Dominant frequency of ``signal`` (sampled every ``dt``): Hann-windowed FFT peak, parabolic refinement.

    The peak is the strongest bin above DC; it is refined (by at most half a
    bin) only where it is a local maximum, so a slow drift whose power leaks
    mostly into the DC bin reports the lowest bin, never a frequency below it.
    Returns 0.0 for a constant (or straight-line) signal.
    """
    raw = np.asarray(signal, dtype=float)
    x = _detrend(raw, np)
    if np.abs(x).max() <= 1e-12 * max(1.0, float(np.abs(raw).max())):
        return 0.0
    power = np.abs(np.fft.rfft(x * np.hanning(x.size))) ** 2
    k = 1 + int(np.argmax(power[1:]))
    shift = 0.0
    if k < power.size - 1 and power[k] >= power[k - 1]:  # a local peak (the DC bin may outweigh bin 1): refine
        l, c, r = np.log(power[k - 1:k + 2] + 1e-300)
        denom = l - 2 * c + r
        shift = 0.5 * (l - r) / denom if denom < 0 else 0.0
    return float((k + shift) / (x.size * dt))


def spectral_centroid(signal: Array, dt: float) -> Array:
    """Differentiable frequency proxy: mean frequency under the squared Hann-windowed power spectrum (JAX)."""
    x = jnp.asarray(signal)
    x = _detrend(x, jnp) * jnp.hanning(x.shape[-1])
    weight = (jnp.abs(jnp.fft.rfft(x)) ** 2) ** 2
    freqs = jnp.fft.rfftfreq(x.shape[-1], d=dt)
    return jnp.sum(freqs[1:] * weight[1:]) / (jnp.sum(weight[1:]) + 1e-30)


def default_probe(env: Environment) -> tuple[int, int]:
    """A point on the channel axis, 40 % of the length downstream of the leading obstacle's centre."""
    H, W = env.shape
    cols = np.nonzero(env.solid[1:-1].any(axis=0))[0]
    x = int(cols.mean()) if cols.size else W // 4
    return H // 2, min(W - 3, x + int(0.3 * W))


def probe_signal(model: StaggerModel, env: Environment, speed: Array, physics: Physics, steps: int,
                 probe: tuple[int, int] | None = None) -> Array:
    """Cross-stream velocity ``v`` at ``probe`` over a rollout of ``steps`` at inflow ``speed``, differentiable in it.

    ``env`` is used for its geometry; its own speed is replaced by ``speed``.
    """
    i, j = default_probe(env) if probe is None else probe
    a0, p0, b = initial_states([env], physics)
    scale = jnp.asarray(speed, dtype=a0.dtype) / env.speed
    b = jnp.asarray(b).at[:, 4].multiply(scale)
    a, _ = rollout(model, jnp.asarray(a0) * scale, jnp.asarray(p0), b, steps)
    _, v = curl(a[0], physics.h)
    return v[:, i, j]


def tune_inflow(model: StaggerModel, env: Environment, target_frequency: float, *, physics: Physics,
                steps: int = 240, discard: int = 80, speed0: float = 1.0, iterations: int = 8, lr: float = 0.1,
                bounds: tuple[float, float] = (0.4, 2.0), probe: tuple[int, int] | None = None) -> dict:
    """Gradient descent on the inflow speed (Adam) so the probe's frequency proxy matches ``target_frequency``.

    The first ``discard`` steps (start-up) are left out of the spectrum.
    Returns ``{"speed", "history"}``; each history entry holds the speed, the
    proxy, the measured peak frequency, the loss and ``d loss / d speed``.
    """
    import optax

    if steps <= discard + 8:
        raise ValueError(f"steps = {steps} must exceed discard = {discard} by more than 8")

    def loss(speed):
        signal = probe_signal(model, env, speed, physics, steps, probe)[discard:]
        proxy = spectral_centroid(signal, physics.dt)
        return (proxy / target_frequency - 1.0) ** 2, (proxy, signal)

    grad_fn = jax.value_and_grad(loss, has_aux=True)
    opt = optax.adam(lr)
    speed = jnp.asarray(float(speed0), dtype=jnp.float32)
    state = opt.init(speed)
    history = []
    for _ in range(iterations):
        (value, (proxy, signal)), g = grad_fn(speed)
        history.append({"speed": float(speed), "proxy": float(proxy), "loss": float(value), "grad": float(g),
                        "frequency": shedding_frequency(np.asarray(signal), physics.dt)})
        update, state = opt.update(g, state)
        speed = jnp.clip(speed + update, *bounds)
    return {"speed": float(speed), "history": history}
