"""Closed trajectories in the plane for networks to trace as limit cycles (after Pearlmutter 1989).

Pearlmutter, "Learning state space trajectories in recurrent neural networks", Neural Computation
1:263 (1989), doi:10.1162/neco.1989.1.2.263, teaches continuous-time networks to move two output units
around a circle and around a figure eight; the figure eight crosses itself, so a network whose state is
just its two outputs cannot trace it (an autonomous two-dimensional flow cannot cross its own path)
and hidden units are needed. The exact curves, sizes and periods of the paper could not be read from
the sources reachable here; these are our choices, centred in the range (0, 1) of logistic units:

- ``'circle'``: :math:`(c + r \\sin \\omega t,\\; c + r \\cos \\omega t)`;
- ``'eight'`` (Gerono's lemniscate): :math:`(c + r \\sin \\omega t,\\; c + r \\sin \\omega t \\cos \\omega t)`,
  crossing itself at the centre twice per period;

with :math:`\\omega = 2\\pi/P`, centre ``c = 0.5`` and size ``r = 0.3`` by default.

The spiking form (:func:`spiking_trajectory_task`) gives a spiking network the clock it needs to trace a curve,
as in Bellec et al.'s (2020, Nat Commun 11:3625, doi:10.1038/s41467-020-17236-y, Fig. S7) pattern generation:
frozen Poisson spikes, here one period of them repeated in every period of the window, so that the input is as
periodic as the target.
"""

import numpy as np

SHAPES = ("circle", "eight")
#: Pearlmutter's (1989) trajectories as the pearlmutter-trajectories study and the arena draw them (our choices of
#: period, grid and window; radius and centre of the curve in the units' (0, 1) range).
PEARLMUTTER_TRAJECTORY = {"period_s": 4.0, "dt_s": 2.0 ** -4, "window_periods": 3, "radius": 0.3, "centre": 0.5}


def trajectory(shape, t, period, radius=0.3, centre=0.5):
    """Points ``(len(t), 2)`` of the curve ``shape`` at times ``t`` (seconds, or any unit of ``period``)."""
    if shape not in SHAPES:
        raise ValueError(f"unknown trajectory {shape!r}; allowed: {', '.join(SHAPES)}")
    if not (np.isfinite(period) and period > 0):
        raise ValueError(f"'period' must be positive, got {period!r}")
    if not (np.isfinite(radius) and radius > 0):
        raise ValueError(f"'radius' must be positive, got {radius!r}")
    phase = 2 * np.pi * np.asarray(t, dtype=float) / period
    if shape == "circle":
        return np.stack([centre + radius * np.sin(phase), centre + radius * np.cos(phase)], axis=1)
    return np.stack([centre + radius * np.sin(phase), centre + radius * np.sin(phase) * np.cos(phase)], axis=1)


def curve_samples(shape, period=1.0, n_samples=2000, radius=0.3, centre=0.5):
    """The whole curve, ``n_samples`` points evenly spaced in time over one period (for distances to it)."""
    t = np.arange(n_samples) * (period / n_samples)
    return trajectory(shape, t, period, radius, centre)


def trajectory_task(shape, period, n_periods, dt, radius=0.3, centre=0.5):
    """Targets of a training window of ``n_periods`` periods on the grid ``t_n = n dt``.

    Parameters
    ----------
    shape : {'circle', 'eight'}
    period, dt : float
        In seconds; ``period / dt`` must be a whole number of steps (so that every period is sampled alike).
    n_periods : int

    Returns
    -------
    dict
        ``targets`` (N + 1, 2), ``t`` (N + 1,), ``n_steps`` N, ``steps_per_period``.
    """
    if isinstance(n_periods, bool) or not isinstance(n_periods, (int, np.integer)) or n_periods < 1:
        raise ValueError(f"'n_periods' must be a positive integer, got {n_periods!r}")
    if not (np.isfinite(dt) and dt > 0):
        raise ValueError(f"'dt' must be positive, got {dt!r}")
    steps = period / dt
    if abs(steps - round(steps)) > 1e-9 or round(steps) < 4:
        raise ValueError(f"'period' / 'dt' = {steps:g} must be a whole number of at least 4 steps")
    steps_per_period = int(round(steps))
    n_steps = n_periods * steps_per_period
    t = np.arange(n_steps + 1) * dt
    return {"targets": trajectory(shape, t, period, radius, centre), "t": t, "n_steps": n_steps,
            "steps_per_period": steps_per_period}


def spiking_trajectory_task(shape, period, n_periods, dt, n_in, input_rate, seed, radius=0.3, centre=0.5):
    """Inputs, targets and learning window of one trial of the spiking form: ``n_periods`` periods of ``shape``
    on the grid ``t_n = n dt`` (n = 0 .. N - 1), driven by ``n_in`` channels of frozen Poisson spikes.

    In each step of one period a channel spikes with probability ``input_rate * dt`` (drawn once from ``seed``);
    every later period repeats those spikes. The learning window is the whole trial.

    Parameters
    ----------
    shape : {'circle', 'eight'}
    period, dt : float
        In seconds; ``period / dt`` must be a whole number of at least 4 steps.
    n_periods, n_in : int
    input_rate : float
        In Hz; ``input_rate * dt`` must lie in [0, 1].
    seed : int or sequence of int
        Seed of the numpy generator that draws the input spikes.

    Returns
    -------
    dict
        ``inputs`` (1, N, n_in) of 0/1, ``targets`` (1, N, 2), ``window`` (1, N) of ones, ``t`` (N,) and
        ``steps_per_period``, with N = ``n_periods * period / dt``.
    """
    if isinstance(n_in, bool) or not isinstance(n_in, (int, np.integer)) or n_in < 1:
        raise ValueError(f"'n_in' must be a positive integer, got {n_in!r}")
    probability = float(input_rate) * float(dt)
    if not 0 <= probability <= 1:
        raise ValueError(f"'input_rate' * 'dt' must lie in [0, 1], got {probability!r}")
    grid = trajectory_task(shape, period, n_periods, dt, radius, centre)
    n_steps, steps_per_period = grid["n_steps"], grid["steps_per_period"]
    one_period = np.random.default_rng(seed).random((steps_per_period, n_in)) < probability
    inputs = np.tile(one_period, (n_periods, 1)).astype(float)
    return {"inputs": inputs[None], "targets": grid["targets"][None, :n_steps], "window": np.ones((1, n_steps)),
            "t": grid["t"][:n_steps], "steps_per_period": steps_per_period}
