"""Pattern generation: a recurrent network turns frozen Poisson noise into a sum of sines.

Bellec et al. (2020), Nat Commun 11:3625, doi:10.1038/s41467-020-17236-y, Fig. S7 and the
reference tutorial; NEST 3.10 example ``eprop_supervised_regression_sine-waves_bsshslm_2020``.

- Input: ``n_in`` channels of frozen Poisson spikes at ``input_rate``; in each step of
  length ``dt`` a channel spikes with probability ``input_rate * dt``; the same sample is
  shown in every trial.
- Target: :math:`y^*(t) = \\sum_{m=1}^{4} A_m \\sin(2\\pi t / P_m + \\phi_m)` with periods
  1000, 500, 333 and 200 ms, amplitudes :math:`A_m \\sim U(0.5, 2)` and phases
  :math:`\\phi_m \\sim U(0, 2\\pi)`. With ``normalize='nest'`` (default, as in NEST's
  example) the first value is subtracted and the result divided by its largest magnitude.
- Loss: :math:`E = \\frac12 \\sum_t (y^t - y^{*t})^2` over the whole trial (window 1).
"""

import brian2 as b2
import numpy as np

PERIODS = (1000.0, 500.0, 333.0, 200.0) * b2.ms
NORMALIZATIONS = ("nest", "none")


def pattern_generation_task(seed=1, n_in=100, n_steps=1000, dt=1.0 * b2.ms, input_rate=50.0 * b2.Hz,
                            normalize="nest"):
    """Inputs, target and learning window of one pattern-generation trial.

    Parameters
    ----------
    seed : int
        Seed of the numpy generator that draws spikes, amplitudes and phases.
    n_in, n_steps : int
    dt : Quantity
        Step length.
    input_rate : Quantity
        Rate of the frozen Poisson inputs.
    normalize : {'nest', 'none'}

    Returns
    -------
    dict
        ``inputs`` (1, n_steps, n_in) of 0/1, ``targets`` (1, n_steps, 1), ``window``
        (1, n_steps), ``amplitudes``, ``phases`` and ``t`` (seconds).
    """
    if not isinstance(n_in, (int, np.integer)) or n_in < 1:
        raise ValueError(f"'n_in' must be a positive integer, got {n_in!r}")
    if not isinstance(n_steps, (int, np.integer)) or n_steps < 1:
        raise ValueError(f"'n_steps' must be a positive integer, got {n_steps!r}")
    if not isinstance(dt, b2.Quantity) or not dt.has_same_dimensions(b2.second) or float(dt) <= 0:
        raise ValueError(f"'dt' must be a positive time (e.g. 1*ms), got {dt!r}")
    if not isinstance(input_rate, b2.Quantity) or not input_rate.has_same_dimensions(b2.Hz):
        raise ValueError(f"'input_rate' must be a rate with units (e.g. 50*Hz), got {input_rate!r}")
    probability = float(input_rate * dt)
    if not 0 <= probability <= 1:
        raise ValueError(f"'input_rate' * 'dt' must lie in [0, 1], got {probability}")
    if normalize not in NORMALIZATIONS:
        raise ValueError(f"'normalize' must be one of {NORMALIZATIONS}, got {normalize!r}")
    rng = np.random.default_rng(seed)
    inputs = (rng.random((n_steps, n_in)) < probability).astype(float)
    amplitudes = rng.uniform(0.5, 2.0, size=len(PERIODS))
    phases = rng.uniform(0.0, 2 * np.pi, size=len(PERIODS))
    t = np.arange(n_steps) * float(dt)
    target = np.zeros(n_steps)
    for amplitude, phase, period in zip(amplitudes, phases, np.asarray(PERIODS)):
        target += amplitude * np.sin(2 * np.pi * t / period + phase)
    if normalize == "nest":
        target -= target[0]
        target /= np.max(np.abs(target))
    return {
        "inputs": inputs[None],
        "targets": target[None, :, None],
        "window": np.ones((1, n_steps)),
        "amplitudes": amplitudes,
        "phases": phases,
        "t": t,
    }
