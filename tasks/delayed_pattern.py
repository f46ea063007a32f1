"""The delayed output pattern task: timing input bursts in, two delayed Gaussian bumps out.

Züge, Klos & Memmesheimer (2023), "Weight versus node perturbation learning in temporally extended
tasks: weight perturbation often performs similarly or better", Phys Rev X 13:021006,
doi:10.1103/PhysRevX.13.021006: a temporally extended task with a low-dimensional target, the regime in
which weight perturbation is as good as or better than node perturbation. The input is a "timing" signal,
as the HVC input of Fiete & Seung's songbird model (Fiete & Seung 2006, Phys Rev Lett 97:048104,
doi:10.1103/PhysRevLett.97.048104).

Task
----
A trial lasts ``n_steps`` steps of length ``dt``. Input ``k`` of ``n_in`` bursts once, in its own window of
``n_steps // n_in`` steps, at the steps ``k n_steps/n_in + burst_steps`` (:func:`timing_inputs`). The targets
are ``n_channels`` Gaussian bumps ``height exp(-(t - t_c)^2 / (2 width^2))``, ``t = step dt``, centred at the
``bump_times`` ``t_c`` (:func:`bump_targets`); a network's output channels (e.g. smoothed population rates,
:mod:`brian2learn.plasticity.delayed_pattern_network`) must follow them.
"""

import brian2 as b2
import numpy as np

#: Step of the task: 2**-10 s (about 0.98 ms), the same value as
#: :data:`brian2learn.simulation.devices.STEP_DT` (a power of two makes the step counts of Brian2 exact).
DT = 2.0 ** -10 * b2.second

#: The task (steps of :data:`DT`): 200 steps (about 195 ms), 20 timing inputs, bumps at 60 ms and 140 ms.
TASK = {
    "n_steps": 200,               # T, steps per trial
    "n_in": 20,                   # timing inputs
    "n_channels": 2,              # target channels (one bump each)
    "burst_steps": (2, 5, 8),     # spike steps of an input within its window of n_steps / n_in steps
    "bump_times": (60.0 * b2.ms, 140.0 * b2.ms),  # peak times of the target bumps
    "bump_width": 15.0 * b2.ms,   # standard deviation of the bumps
    "bump_height": 1.0,           # peak of the target (about 50 Hz x tau_out of a smoothed rate trace)
}


def timing_inputs(n_steps=TASK["n_steps"], n_in=TASK["n_in"], burst_steps=TASK["burst_steps"]):
    """Spike raster (n_steps, n_in) of 0/1: input ``k`` bursts at ``k n_steps/n_in + burst_steps``.

    Parameters
    ----------
    n_steps : int
        Steps per trial.
    n_in : int
        Number of inputs.
    burst_steps : sequence of int
        Steps of the burst within the input's window of ``n_steps // n_in`` steps.

    Returns
    -------
    numpy.ndarray
        (n_steps, n_in) float array of 0 and 1.

    Raises
    ------
    ValueError
        If the bursts do not fit in a window.
    """
    window = n_steps // n_in
    if window < 1 or max(burst_steps) >= window:
        raise ValueError(f"the bursts {burst_steps} must fit in a window of n_steps/n_in = {window} steps")
    raster = np.zeros((n_steps, n_in))
    for k in range(n_in):
        raster[k * window + np.asarray(burst_steps), k] = 1.0
    return raster


def bump_targets(n_steps=TASK["n_steps"], dt=DT, times=TASK["bump_times"], width=TASK["bump_width"],
                 height=TASK["bump_height"]):
    """Targets (n_steps, n_channels): Gaussian bumps ``height exp(-(t - t_c)^2 / (2 width^2))``, ``t = step dt``.

    Parameters
    ----------
    n_steps : int
        Steps per trial.
    dt : brian2.Quantity
        Step length (time).
    times : sequence of brian2.Quantity
        Peak times ``t_c``, one per channel.
    width : brian2.Quantity
        Standard deviation of the bumps (time).
    height : float
        Peak value.

    Returns
    -------
    numpy.ndarray
        (n_steps, len(times)) float array.
    """
    t = np.arange(n_steps) * float(dt / b2.ms)
    return np.stack([height * np.exp(-(t - float(center / b2.ms)) ** 2 / (2 * float(width / b2.ms) ** 2))
                     for center in times], axis=1)
