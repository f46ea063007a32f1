r"""Spike frames as ``neo.SpikeTrain`` objects, for Elephant and the rest of the neo ecosystem.

:func:`to_neo` turns a spike frame (see :mod:`~brian2learn.analysis.spikes`) into one
``neo.SpikeTrain`` per neuron (and per trial), which the statistics of Elephant
(``elephant.statistics.mean_firing_rate``, ``isi``, ``cv``, ...) and the writers of neo take.
neo is imported only when :func:`to_neo` is called; it comes with the ``neo`` extra
(``pip install -e '.[neo]'``).

References
----------
Garcia S, Guarino D, Jaillet F, Jennings T, Pröpper R, Rautenberg PL, Rodgers CC, Sobolev A,
Wachtler T, Yger P, Davison AP (2014), "Neo: an object model for handling electrophysiology
data in multiple formats", Front Neuroinform 8:10, doi:10.3389/fninf.2014.00010.

Elephant, Electrophysiology Analysis Toolkit, doi:10.5281/zenodo.1186602, RRID:SCR_003833;
Denker M, Yegenoglu A, Grün S (2018), "Collaborative HPC-enabled workflows on the HBP
Collaboratory using the Elephant framework", Neuroinformatics 2018, P19,
doi:10.12751/incf.ni2018.0019.
"""

import numpy as np
import pandas as pd

from .rates import _n_trials, _positive_int
from .spikes import _to_seconds, check_spike_frame, select_group

__all__ = ["to_neo"]

_INSTALL_HINT = "pip install -e '.[neo]' (or pip install neo elephant)"


def _group_name(spikes, group):
    """Name of the one group of ``spikes`` (already selected), or None if it has none."""
    if group is not None:
        return str(group)
    present = pd.unique(spikes["group"].astype("str"))
    if len(present) == 1:
        return str(present[0])
    column = spikes["group"]
    if isinstance(column.dtype, pd.CategoricalDtype) and len(column.cat.categories) == 1:
        return str(column.cat.categories[0])
    return None


def to_neo(spikes, t_stop, t_start=0, group=None, by_trial=False, *, n_neurons, n_trials=None):
    r"""Convert the spikes of one neuron group into ``neo.SpikeTrain`` objects.

    Neuron :math:`n` (:math:`n = 0, \dots, N-1`, :math:`N` = ``n_neurons``) in trial
    :math:`k` becomes the spike train

    .. math::

        S_{n,k} = \operatorname{sort}\{\, t_j : \mathrm{neuron}_j = n,\ \mathrm{trial}_j = k \,\}
        \ \mathrm{s}, \qquad t_j \in [t_\mathrm{start}, t_\mathrm{stop}],

    with :math:`t_j` the column ``t_s`` of the frame used as it is, as a ``quantities``
    array in seconds (float64) on the interval ``[t_start, t_stop]``. A frame built with a
    trial duration :math:`T` holds times *within* each trial, so its trains share the time
    axis of one trial (typically ``t_start = 0``, ``t_stop = T``). Neurons without spikes
    get empty trains. With ``t_start = 0`` and ``t_stop = T``, Elephant's
    ``mean_firing_rate`` of :math:`S_{n,k}`, :math:`|S_{n,k}| / (t_\mathrm{stop} -
    t_\mathrm{start})`, is the spike-count rate :math:`r_{n,k}` of
    :func:`~brian2learn.analysis.rates.firing_rates`.

    Neo is the object model of Garcia et al. (2014), "Neo: an object model for handling
    electrophysiology data in multiple formats", Front Neuroinform 8:10,
    doi:10.3389/fninf.2014.00010; its spike trains are the input of Elephant
    (doi:10.5281/zenodo.1186602; Denker, Yegenoglu & Grün 2018, Neuroinformatics 2018, P19,
    doi:10.12751/incf.ni2018.0019).

    Parameters
    ----------
    spikes : pandas.DataFrame
        Spike frame (columns neuron, t_s, trial, group).
    t_stop : brian2.Quantity or float
        End of every train (Quantity with time units, or seconds); must exceed ``t_start``.
    t_start : brian2.Quantity or float, optional
        Start of every train (default 0).
    group : str, optional
        Group to convert when the frame holds several groups.
    by_trial : bool
        Return one list of trains per trial. Without it the frame must hold spikes of at
        most one trial (times are relative to their trial, so trials cannot be merged).
    n_neurons : int
        Number of neurons :math:`N` of the group (keyword-only, required), so that silent
        neurons get (empty) trains too.
    n_trials : int, optional
        With ``by_trial``: number of trials (default ``max(trial) + 1``, at least 1).

    Returns
    -------
    list of neo.SpikeTrain or list of list of neo.SpikeTrain
        ``trains[n]`` for neuron ``n``, or with ``by_trial`` ``trains[k][n]`` for trial ``k``
        and neuron ``n``. Each train has the annotations ``neuron`` (int), ``group`` (str, or
        None for an empty frame without a single group) and, with ``by_trial``, ``trial``
        (int).

    Raises
    ------
    ValueError
        If ``spikes`` is not a spike frame or holds several groups and ``group`` is None,
        ``n_neurons``/``n_trials`` is not a positive integer or smaller than a neuron/trial
        index of the frame, ``t_start``/``t_stop`` is not a time or ``t_stop <= t_start``, a
        spike lies outside ``[t_start, t_stop]``, or the frame holds several trials without
        ``by_trial``.
    ImportError
        If neo is not installed.

    Examples
    --------
    >>> import elephant.statistics  # doctest: +SKIP
    >>> trains = to_neo(frame, t_stop=100 * b2.ms, n_neurons=3)  # doctest: +SKIP
    >>> [elephant.statistics.mean_firing_rate(st) for st in trains]  # doctest: +SKIP
    """
    try:
        import neo
        import quantities as pq
    except ImportError as err:
        raise ImportError(f"to_neo needs the packages neo and quantities: {_INSTALL_HINT}") from err

    check_spike_frame(spikes, "spikes")
    n_neurons = _positive_int(n_neurons, "n_neurons")
    start = _to_seconds(t_start, "t_start", scalar=True)
    stop = _to_seconds(t_stop, "t_stop", scalar=True)
    if stop <= start:
        raise ValueError(f"t_stop must be after t_start, got t_start = {start} s and t_stop = {stop} s")
    selected = select_group(spikes, group)
    group_name = _group_name(selected, group)

    neurons = selected["neuron"].to_numpy(dtype=np.int64)
    trials = selected["trial"].to_numpy(dtype=np.int64)
    times = selected["t_s"].to_numpy(dtype=np.float64)
    if neurons.size and neurons.min() < 0:
        raise ValueError(f"spikes has negative neuron index {neurons.min()}")
    if neurons.size and neurons.max() >= n_neurons:
        raise ValueError(f"n_neurons = {n_neurons} is too small: spikes has neuron index {neurons.max()}")
    if trials.size and trials.min() < 0:
        raise ValueError(f"spikes has negative trial number {trials.min()}")
    if not np.all(np.isfinite(times)):
        raise ValueError("spikes has non-finite spike times in column t_s")
    if times.size and times.min() < start:
        raise ValueError(f"spikes has a spike at {times.min()} s, before t_start = {start} s")
    if times.size and times.max() > stop:
        raise ValueError(f"spikes has a spike at {times.max()} s, after t_stop = {stop} s")
    if by_trial:
        n_rows = _n_trials(trials, n_trials)
        rows = trials
    else:
        if n_trials is not None:
            raise ValueError("n_trials is only used with by_trial=True")
        if np.unique(trials).size > 1:
            raise ValueError("spikes holds several trials with times relative to each trial; "
                             "pass by_trial=True or select one trial")
        n_rows = 1
        rows = np.zeros_like(trials)

    # spikes ordered by (row, neuron, time), then cut into one slice per (row, neuron)
    keys = rows * n_neurons + neurons
    order = np.lexsort((times, keys))
    bounds = np.searchsorted(keys[order], np.arange(n_rows * n_neurons + 1))
    sorted_times = times[order]
    t_start_q = start * pq.s
    t_stop_q = stop * pq.s

    out = []
    for row in range(n_rows):
        trains = []
        for neuron in range(n_neurons):
            key = row * n_neurons + neuron
            train = neo.SpikeTrain(sorted_times[bounds[key]:bounds[key + 1]].copy(), units="s", dtype=np.float64,
                                   t_start=t_start_q, t_stop=t_stop_q)
            annotations = {"neuron": neuron, "group": group_name}
            if by_trial:
                annotations["trial"] = row
            train.annotate(**annotations)
            trains.append(train)
        out.append(trains)
    return out if by_trial else out[0]
