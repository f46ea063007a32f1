r"""Firing rates and population sparsity of spike frames.

All functions take a spike frame (see :mod:`brian2learn.analysis.spikes`) and return
plain numbers or tidy DataFrames. Times are in seconds, rates in Hz.

Estimators
----------
Spike-count rate of neuron :math:`n` in trial :math:`k` of length :math:`T`
(Dayan & Abbott 2001, *Theoretical Neuroscience*, MIT Press, sec. 1.2):

.. math::

    r_{n,k} = \frac{c_{n,k}}{T}, \qquad
    c_{n,k} = |\{\text{spikes of neuron } n \text{ in trial } k\}|.

Population mean rate over :math:`N` neurons recorded for a total duration :math:`D`:

.. math::

    \bar r = \frac{1}{N D} \sum_{n=1}^{N} c_n .

Population sparsity (the fraction of active neurons, the "activity sparseness" of
Willmore & Tolhurst 2001, "Characterizing the sparseness of neural codes", Network:
Comput Neural Syst 12:255-270; see also Olshausen & Field 2004, Curr Opin Neurobiol
14:481) in bin :math:`b = [b\Delta, (b+1)\Delta)`:

.. math::

    s_b = \frac{|\{n : \text{neuron } n \text{ spikes in bin } b\}|}{N}.
"""

import numpy as np
import pandas as pd

from .spikes import TRIAL_TOLERANCE, _to_seconds, select_group

__all__ = ["firing_rates", "mean_rate", "population_sparsity"]


def _positive_seconds(value, name):
    seconds = _to_seconds(value, name, scalar=True)
    if seconds <= 0:
        raise ValueError(f"{name} must be strictly positive, got {seconds} s")
    return seconds


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _check_neurons(neurons, n_neurons):
    if neurons.size and neurons.max() >= n_neurons:
        raise ValueError(f"spikes has neuron index {neurons.max()} >= n_neurons = {n_neurons}")


def _n_trials(trials, n_trials):
    """Number of trials: given, or max trial + 1 (at least 1); checks the spikes fit."""
    observed = int(trials.max()) + 1 if trials.size else 1
    if n_trials is None:
        return max(observed, 1)
    n_trials = _positive_int(n_trials, "n_trials")
    if observed > n_trials:
        raise ValueError(f"spikes has trial {observed - 1} >= n_trials = {n_trials}")
    return n_trials


def firing_rates(spikes, n_neurons, trial_duration, n_trials=None, group=None):
    r"""Firing rate of each neuron in each trial.

    .. math::

        r_{n,k} = \frac{c_{n,k}}{T}

    where :math:`c_{n,k}` counts the spikes of neuron :math:`n` in trial :math:`k` and
    :math:`T` is the trial duration (spike-count rate, Dayan & Abbott 2001, sec. 1.2).
    Silent neurons and trials get rate 0.

    Parameters
    ----------
    spikes : pandas.DataFrame
        Spike frame (columns neuron, t_s, trial, group).
    n_neurons : int
        Number of neurons :math:`N` of the group (ids 0 .. N-1).
    trial_duration : brian2.Quantity or float
        Trial duration :math:`T` (Quantity with time units, or seconds).
    n_trials : int, optional
        Number of trials; default ``max(trial) + 1`` (at least 1).
    group : str, optional
        Group to use when the frame holds several groups.

    Returns
    -------
    pandas.DataFrame
        Columns neuron (int64), trial (int64), rate_hz (float64); ``n_trials * n_neurons``
        rows ordered by trial, then neuron.

    Raises
    ------
    ValueError
        For a non-positive ``n_neurons``/``trial_duration``/``n_trials``, spikes of neurons
        ``>= n_neurons`` or of trials ``>= n_trials``, or an ambiguous group.
    """
    n_neurons = _positive_int(n_neurons, "n_neurons")
    period = _positive_seconds(trial_duration, "trial_duration")
    spikes = select_group(spikes, group)
    neurons = spikes["neuron"].to_numpy(dtype=np.int64)
    trials = spikes["trial"].to_numpy(dtype=np.int64)
    _check_neurons(neurons, n_neurons)
    if trials.size and trials.min() < 0:
        raise ValueError("spikes has negative trial numbers")
    n_trials = _n_trials(trials, n_trials)
    counts = np.bincount(trials * n_neurons + neurons, minlength=n_trials * n_neurons)
    return pd.DataFrame(
        {
            "neuron": np.tile(np.arange(n_neurons, dtype=np.int64), n_trials),
            "trial": np.repeat(np.arange(n_trials, dtype=np.int64), n_neurons),
            "rate_hz": counts.astype(np.float64) / period,
        }
    )


def mean_rate(spikes, n_neurons, duration, group=None):
    r"""Population mean firing rate in Hz.

    .. math::

        \bar r = \frac{\sum_n c_n}{N D}

    with :math:`c_n` the number of spikes of neuron :math:`n`, :math:`N` the number of
    neurons and :math:`D` the total recorded time (for several trials: the number of
    trials times the trial duration).

    Parameters
    ----------
    spikes : pandas.DataFrame
        Spike frame.
    n_neurons : int
        Number of neurons :math:`N`.
    duration : brian2.Quantity or float
        Total duration :math:`D` (Quantity or seconds).
    group : str, optional
        Group to use when the frame holds several groups.

    Returns
    -------
    float
        Mean rate in Hz.
    """
    n_neurons = _positive_int(n_neurons, "n_neurons")
    seconds = _positive_seconds(duration, "duration")
    spikes = select_group(spikes, group)
    _check_neurons(spikes["neuron"].to_numpy(dtype=np.int64), n_neurons)
    return float(len(spikes)) / (n_neurons * seconds)


def population_sparsity(spikes, n_neurons, bin_size, duration, by_trial=False, n_trials=None, group=None):
    r"""Fraction of neurons that spike at least once in each time bin.

    .. math::

        s_b = \frac{|\{n : \text{neuron } n \text{ spikes in } [b\Delta, (b+1)\Delta)\}|}{N},
        \qquad b = 0, \dots, \lceil D/\Delta \rceil - 1,

    with bin width :math:`\Delta` and duration :math:`D` (the last bin may extend past
    :math:`D`). A spike at time :math:`t` falls in bin
    :math:`\lfloor t/\Delta + \epsilon \rfloor` (:math:`\epsilon` =
    :data:`~brian2learn.analysis.spikes.TRIAL_TOLERANCE`), so that a spike on a bin
    boundary belongs to the later bin. This is the "activity sparseness", one of the
    population-sparseness measures of Willmore & Tolhurst (2001), Network: Comput Neural
    Syst 12:255-270; see also Olshausen & Field (2004), Curr Opin Neurobiol 14:481.

    The column ``t_s`` is used as it is. A frame built with a trial duration holds times
    *within* each trial, so a frame with several trials must either be split into one frame
    per trial or be analysed with ``by_trial=True``, which computes :math:`s_b` per trial
    (``duration`` is then the trial duration). With ``by_trial=False`` a frame with
    several trials is an error.

    Parameters
    ----------
    spikes : pandas.DataFrame
        Spike frame.
    n_neurons : int
        Number of neurons :math:`N`.
    bin_size : brian2.Quantity or float
        Bin width :math:`\Delta` (Quantity or seconds).
    duration : brian2.Quantity or float
        Duration :math:`D` to cover (of the recording, or of one trial with ``by_trial``).
    by_trial : bool
        Compute the sparsity per trial and add a ``trial`` column.
    n_trials : int, optional
        With ``by_trial``: number of trials (default ``max(trial) + 1``).
    group : str, optional
        Group to use when the frame holds several groups.

    Returns
    -------
    pandas.DataFrame
        Columns bin_start (float64, seconds) and fraction_active (float64), preceded by
        trial (int64) when ``by_trial``; ordered by trial, then bin.

    Raises
    ------
    ValueError
        For non-positive sizes, spikes outside ``[0, duration)`` or of neurons
        ``>= n_neurons``, or several trials without ``by_trial``.
    """
    n_neurons = _positive_int(n_neurons, "n_neurons")
    width = _positive_seconds(bin_size, "bin_size")
    seconds = _positive_seconds(duration, "duration")
    spikes = select_group(spikes, group)
    neurons = spikes["neuron"].to_numpy(dtype=np.int64)
    times = spikes["t_s"].to_numpy(dtype=np.float64)
    trials = spikes["trial"].to_numpy(dtype=np.int64)
    _check_neurons(neurons, n_neurons)
    n_bins = max(int(np.ceil(seconds / width - TRIAL_TOLERANCE)), 1)
    bins = np.floor(times / width + TRIAL_TOLERANCE).astype(np.int64)
    if times.size and (times.min() < -TRIAL_TOLERANCE * width):
        raise ValueError("spikes has negative times; population_sparsity needs times >= 0")
    bins = np.maximum(bins, 0)
    outside = times >= seconds * (1 - TRIAL_TOLERANCE)
    if np.any(outside):
        raise ValueError(
            f"spikes has times at or after duration = {seconds} s (max {times.max()} s); "
            "with trials, use by_trial=True and the trial duration"
        )
    if by_trial:
        if trials.size and trials.min() < 0:
            raise ValueError("spikes has negative trial numbers")
        n_rows = _n_trials(trials, n_trials)
        row = trials
    else:
        if np.unique(trials).size > 1:
            raise ValueError(
                "spikes holds several trials with times relative to each trial; "
                "pass by_trial=True or select one trial"
            )
        n_rows = 1
        row = np.zeros_like(trials)
    # one entry per (row, bin, neuron) with at least one spike
    keys = np.unique((row * n_bins + bins) * n_neurons + neurons)
    active = np.bincount(keys // n_neurons, minlength=n_rows * n_bins)
    bin_start = np.arange(n_bins, dtype=np.float64) * width
    out = {
        "bin_start": np.tile(bin_start, n_rows),
        "fraction_active": active.astype(np.float64) / n_neurons,
    }
    if by_trial:
        out = {"trial": np.repeat(np.arange(n_rows, dtype=np.int64), n_bins), **out}
    return pd.DataFrame(out)
