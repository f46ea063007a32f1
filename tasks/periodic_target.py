"""Periodic output without input: Murray (2019), eLife 8:e43299, Fig. 2 and the authors' notebook.

Murray, "Local online learning in recurrent networks with random feedback", eLife 8:e43299 (2019),
doi:10.7554/eLife.43299; notebook ``RFLO_Example.ipynb`` of github.com/murray-lab/rflo-learning.

A trial has ``n_points`` time points ``t = 0 .. n_points - 1``; the network starts from a fixed
state at ``t = 0`` and must produce

.. math::

    y^*(t) = \\sin(2\\pi t/P) + 0.5 \\sin(4\\pi t/P) + 0.25 \\sin(8\\pi t/P)

with period ``P`` (100 steps in the notebook, with ``n_points = P``: one period per trial). The
input is zero (one silent channel).
"""

import numpy as np

#: (amplitude, harmonic) of the target's components.
COMPONENTS = ((1.0, 1), (0.5, 2), (0.25, 4))


def periodic_target_task(n_points=100, period=100.0, n_in=1, n_out=1):
    """Inputs and target of one trial.

    Parameters
    ----------
    n_points : int
        Time points per trial (including the initial state at ``t = 0``).
    period : float
        Period ``P`` of the target, in steps.
    n_in, n_out : int
        Input channels (all zero) and outputs (all the same target).

    Returns
    -------
    dict
        ``inputs`` (n_points, n_in), ``targets`` (n_points, n_out), ``t`` (n_points,), ``period``.
    """
    for name, value in (("n_points", n_points), ("n_in", n_in), ("n_out", n_out)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"'{name}' must be a positive integer, got {value!r}")
    if n_points < 2:
        raise ValueError(f"'n_points' must be at least 2 (an initial state and one step), got {n_points}")
    if not (np.isfinite(period) and period > 0):
        raise ValueError(f"'period' must be a positive number of steps, got {period!r}")
    t = np.arange(n_points, dtype=float)
    target = sum(amplitude * np.sin(2 * np.pi * harmonic * t / period) for amplitude, harmonic in COMPONENTS)
    return {"inputs": np.zeros((n_points, n_in)), "targets": np.repeat(target[:, None], n_out, axis=1),
            "t": t, "period": float(period)}


def segment_contexts(n_points, n_segments):
    """Context inputs that split a trial into ``n_segments`` consecutive segments, one unit active in each.

    Unit ``k`` is 1 at the time points ``t`` with ``floor(t K / n_points) = k`` and 0 elsewhere, so the
    segments have ``n_points / K`` points each (rounded down or up). These are the inputs of the augmented
    circuit of :func:`brian2learn.plasticity.rflo.augmented_circuit`.

    Returns
    -------
    numpy.ndarray
        (n_points, n_segments) of 0 and 1, one 1 per row.
    """
    for name, value in (("n_points", n_points), ("n_segments", n_segments)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"'{name}' must be a positive integer, got {value!r}")
    if n_segments > n_points:
        raise ValueError(f"'n_segments' must be at most n_points = {n_points} (one point per segment), "
                         f"got {n_segments}")
    segment = (np.arange(n_points) * n_segments) // n_points
    contexts = np.zeros((n_points, n_segments))
    contexts[np.arange(n_points), segment] = 1.0
    return contexts
