r"""Energy measures of spiking activity: spike counts, synaptic operations, energy complexity.

Estimators
----------
Spike count: the number of rows of a spike frame, :math:`S = \sum_n c_n` with :math:`c_n`
the number of spikes of neuron :math:`n`.

Synaptic operations (SOP; the operations a neuromorphic chip performs when it delivers
spikes, Merolla et al. 2014, Science 345:668; Sorbaro, Liu, Bortone & Sheik 2020, Front
Neurosci 14:662, doi:10.3389/fnins.2020.00662):

.. math::

    \mathrm{SOP} = \sum_n c_n\, d_n

with :math:`d_n` the out-degree (number of outgoing synapses) of neuron :math:`n`.

Energy complexity (Šíma 2014, "Energy complexity of recurrent neural networks", Neural
Comput 26:953, doi:10.1162/NECO_a_00579): the largest number of neurons that fire in one
time step of a computation,

.. math::

    E = \max_{k, s}\; |\{n : \text{neuron } n \text{ spikes in step } s \text{ of trial } k\}|,
    \qquad s = \operatorname{round}(t / dt).
"""

import numpy as np
import pandas as pd

from .spikes import _to_indices, _to_seconds, check_spike_frame

__all__ = ["spike_count", "out_degrees", "synaptic_operations", "energy_complexity", "mean_fraction_active",
           "energy_summary", "not_spiking", "operation_energy_pj", "PICOJOULE_PER_ACCUMULATE", "PICOJOULE_PER_MAC"]

#: Energy of one 32-bit floating-point addition (an accumulate, what a synaptic event costs) and of one 32-bit
#: floating-point multiply-accumulate (3.7 pJ multiply + 0.9 pJ add), in picojoules, at 45 nm: Horowitz (2014),
#: "Computing's energy problem (and what we can do about it)", ISSCC, doi:10.1109/ISSCC.2014.6757323.
PICOJOULE_PER_ACCUMULATE = 0.9
PICOJOULE_PER_MAC = 4.6


def spike_count(spikes):
    r"""Total number of spikes :math:`S = \sum_n c_n` (the number of rows).

    Parameters
    ----------
    spikes : pandas.DataFrame
        Spike frame.

    Returns
    -------
    int
    """
    check_spike_frame(spikes)
    return int(len(spikes))


def out_degrees(synapses):
    """Out-degree :math:`d_n` of every source neuron of a Brian2 ``Synapses`` object.

    Parameters
    ----------
    synapses : brian2.Synapses
        Connected synapses (runtime mode, or after the run in standalone mode).

    Returns
    -------
    numpy.ndarray of int64
        ``d[n]`` = number of synapses whose presynaptic index is ``n``, length
        ``len(synapses.source)``.
    """
    pre = np.asarray(synapses.i[:], dtype=np.int64)
    return np.bincount(pre, minlength=len(synapses.source)).astype(np.int64)


def synaptic_operations(spikes, out_degree):
    r"""Number of synaptic operations caused by the spikes.

    .. math::

        \mathrm{SOP} = \sum_n c_n\, d_n

    with :math:`c_n` the spike count and :math:`d_n` the out-degree of neuron :math:`n`
    (Merolla et al. 2014, Science 345:668; Sorbaro et al. 2020, Front Neurosci 14:662).
    With several groups the sum runs over all of them, each with its own out-degrees.
    Counts and degrees are cast to int64 before the product (Brian2 indices are int32).

    Parameters
    ----------
    spikes : pandas.DataFrame
        Spike frame.
    out_degree : array_like of int or dict of str to array_like of int
        Out-degree indexed by neuron id (e.g. from :func:`out_degrees`), or a dict mapping
        each group name in the frame to such an array.

    Returns
    -------
    int

    Raises
    ------
    ValueError
        If a spiking neuron has no entry in ``out_degree``, a degree is negative, a group
        of the frame is missing from the dict, or an array is given for several groups.
    """
    check_spike_frame(spikes)
    names = spikes["group"].astype("str")
    present = [str(g) for g in pd.unique(names)]
    if isinstance(out_degree, dict):
        missing = [g for g in present if g not in out_degree]
        if missing:
            raise ValueError(f"out_degree has no entry for the groups {missing}")
        parts = [(spikes[names == g], _to_indices(out_degree[g], f"out_degree[{g!r}]")) for g in present]
    else:
        if len(present) > 1:
            raise ValueError(
                f"spikes holds several groups {present}; pass out_degree as a dict group -> array"
            )
        parts = [(spikes, _to_indices(out_degree, "out_degree"))]
    total = 0
    for frame, degree in parts:
        neurons = frame["neuron"].to_numpy(dtype=np.int64)
        if neurons.size == 0:
            continue
        if neurons.max() >= degree.size:
            raise ValueError(
                f"out_degree has {degree.size} entries but spikes has neuron index {neurons.max()}"
            )
        counts = np.bincount(neurons, minlength=degree.size).astype(np.int64)
        total += int(np.dot(counts, degree.astype(np.int64)))
    return total


def energy_complexity(spikes, dt, n_neurons=None, by_trial=False):
    r"""Šíma's energy complexity: the most neurons active in one time step.

    .. math::

        E = \max_{k, s}\; |\{(g, n) : \text{neuron } n \text{ of group } g
        \text{ spikes in step } s \text{ of trial } k\}|, \qquad
        s = \lfloor t / dt + 1/2 \rfloor

    (Šíma 2014, Neural Comput 26:953). Several spikes of one neuron in one step count once;
    neurons of different groups count separately. Steps are taken within each trial (the
    ``trial`` column is 0 for frames without trials, whose ``t_s`` is absolute), so spikes
    of different trials never share a step. Without spikes, :math:`E = 0`.

    Parameters
    ----------
    spikes : pandas.DataFrame
        Spike frame.
    dt : brian2.Quantity or float
        Time step (Quantity or seconds).
    n_neurons : int or dict of str to int, optional
        Number of neurons (per group): neuron ids must be below it.
    by_trial : bool
        Return :math:`E` for every trial ``0 .. max(trial)`` instead of the maximum.

    Returns
    -------
    int or pandas.DataFrame
        :math:`E`, or with ``by_trial`` a frame with columns trial (int64) and
        energy_complexity (int64).
    """
    check_spike_frame(spikes)
    step_size = _to_seconds(dt, "dt", scalar=True)
    if step_size <= 0:
        raise ValueError(f"dt must be strictly positive, got {step_size} s")
    neurons = spikes["neuron"].to_numpy(dtype=np.int64)
    trials = spikes["trial"].to_numpy(dtype=np.int64)
    if trials.size and trials.min() < 0:
        raise ValueError("spikes has negative trial numbers")
    group_codes, group_names = pd.factorize(spikes["group"].astype("str"))
    if n_neurons is not None:
        for code, name in enumerate(group_names):
            limit = n_neurons[name] if isinstance(n_neurons, dict) else n_neurons
            ids = neurons[group_codes == code]
            if ids.size and ids.max() >= limit:
                raise ValueError(
                    f"spikes of group {name!r} has neuron index {ids.max()} >= n_neurons = {limit}"
                )
    steps = np.floor(spikes["t_s"].to_numpy(dtype=np.float64) / step_size + 0.5).astype(np.int64)
    n_trials = int(trials.max()) + 1 if trials.size else 1
    if trials.size == 0:
        per_trial = np.zeros(1, dtype=np.int64)
    else:
        active = np.unique(np.column_stack([trials, steps, group_codes.astype(np.int64), neurons]), axis=0)
        trial_step, counts = np.unique(active[:, :2], axis=0, return_counts=True)
        per_trial = np.zeros(n_trials, dtype=np.int64)
        np.maximum.at(per_trial, trial_step[:, 0], counts.astype(np.int64))
    if by_trial:
        return pd.DataFrame({"trial": np.arange(n_trials, dtype=np.int64), "energy_complexity": per_trial})
    return int(per_trial.max())


def mean_fraction_active(spikes, dt, n_neurons, n_steps):
    r"""Mean fraction of the neurons active in a time step.

    .. math::

        \bar a = \frac{1}{N\,T} \sum_{k, s} |\{(g, n) : \text{neuron } n \text{ of group } g
        \text{ spikes in step } s \text{ of trial } k\}|

    with :math:`N` neurons and :math:`T` steps in all (over every trial); several spikes of one
    neuron in one step count once, as in :func:`energy_complexity`.

    Parameters
    ----------
    spikes : pandas.DataFrame
        Spike frame.
    dt : brian2.Quantity or float
        Time step (Quantity or seconds).
    n_neurons : int
        Number of neurons :math:`N` (all groups of the frame together).
    n_steps : int
        Number of time steps :math:`T` (all trials together).

    Returns
    -------
    float
    """
    check_spike_frame(spikes)
    step_size = _to_seconds(dt, "dt", scalar=True)
    if step_size <= 0:
        raise ValueError(f"dt must be strictly positive, got {step_size} s")
    for name, value in (("n_neurons", n_neurons), ("n_steps", n_steps)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"'{name}' must be a positive integer, got {value!r}")
    if len(spikes) == 0:
        return 0.0
    steps = np.floor(spikes["t_s"].to_numpy(dtype=np.float64) / step_size + 0.5).astype(np.int64)
    group_codes, _ = pd.factorize(spikes["group"].astype("str"))
    active = np.unique(np.column_stack([spikes["trial"].to_numpy(dtype=np.int64), steps,
                                        group_codes.astype(np.int64), spikes["neuron"].to_numpy(dtype=np.int64)]),
                       axis=0)
    return float(len(active)) / (float(n_neurons) * float(n_steps))


def energy_summary(spikes, out_degree, dt, n_neurons=None, n_steps=None):
    """Spike count, synaptic operations, energy complexity (and mean fraction active) in one dict.

    Parameters
    ----------
    spikes : pandas.DataFrame
        Spike frame.
    out_degree : array_like or dict
        As in :func:`synaptic_operations`.
    dt : brian2.Quantity or float
        As in :func:`energy_complexity`.
    n_neurons, n_steps : int, optional
        Neurons and time steps in all: with both, the summary has ``mean_fraction_active``
        (:func:`mean_fraction_active`).

    Returns
    -------
    dict
        ``{"spike_count": int, "synaptic_operations": int, "energy_complexity": int}`` and,
        with ``n_neurons`` and ``n_steps``, ``"mean_fraction_active": float`` and the two counts
        (``n_neurons``: the size that the energy complexity is read against).
    """
    summary = {
        "spike_count": spike_count(spikes),
        "synaptic_operations": synaptic_operations(spikes, out_degree),
        "energy_complexity": energy_complexity(spikes, dt),
    }
    if n_neurons is not None and n_steps is not None:
        summary["mean_fraction_active"] = mean_fraction_active(spikes, dt, n_neurons, n_steps)
        summary["n_neurons"], summary["n_steps"] = int(n_neurons), int(n_steps)
    return summary


def not_spiking(reason):
    """The ``energy`` entry of a summary of a network without spikes (rate units, closed forms)."""
    return {"not_spiking": str(reason)}


def operation_energy_pj(accumulates, macs):
    r"""Energy of a computation from its operation counts, in picojoules.

    .. math::

        E = 0.9\,\mathrm{pJ} \cdot N_{AC} + 4.6\,\mathrm{pJ} \cdot N_{MAC}

    (:data:`PICOJOULE_PER_ACCUMULATE`, :data:`PICOJOULE_PER_MAC`; Horowitz 2014, 45 nm, 32-bit float). Memory
    access, which dominates on real hardware, is not counted: the estimate compares arithmetic only.
    """
    accumulates, macs = float(accumulates), float(macs)
    if accumulates < 0 or macs < 0:
        raise ValueError(f"operation counts must be non-negative, got accumulates={accumulates}, macs={macs}")
    return PICOJOULE_PER_ACCUMULATE * accumulates + PICOJOULE_PER_MAC * macs
