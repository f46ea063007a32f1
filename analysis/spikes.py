r"""Spikes as tidy pandas DataFrames: one row per spike.

A *spike frame* has the columns of :data:`SPIKE_COLUMNS`:

========  ============  ==========================================================
column    dtype         meaning
========  ============  ==========================================================
neuron    int64         index of the neuron inside its group (Brian2's ``i``)
t_s       float64       spike time in seconds; relative to the start of the trial
                        when the frame was built with a trial duration, else
                        absolute
trial     int64         trial number :math:`k` (0 when there are no trials)
group     category      name of the neuron group the neuron belongs to
========  ============  ==========================================================

With trials of length :math:`T` that start at :math:`t_0`, an absolute spike time
:math:`\tau` is split into a trial and a time within the trial as

.. math::

    k = \left\lfloor \frac{\tau - t_0}{T} + \epsilon \right\rfloor, \qquad
    t = \tau - t_0 - k T,

with the tolerance :math:`\epsilon` = :data:`TRIAL_TOLERANCE` (a fraction of a trial), so
that a time that is a trial boundary up to floating-point rounding (``0.3`` for
``T = 0.1``, whose quotient is ``2.9999999999999996``) belongs to the *next* trial, as
it does in exact arithmetic. Times within rounding of the trial start are set to exactly 0.

This is the "tidy data" layout of Wickham (2014), "Tidy data", J Stat Softw 59(10),
doi:10.18637/jss.v059.i10: one observation (a spike) per row, one variable per column.
Frames are written to Parquet (Apache Parquet format, via pyarrow) by
:func:`save_spikes` and read back by :func:`load_spikes` with the same columns and dtypes,
following the table convention of :mod:`~brian2learn.analysis.tables` (files written before
it, whose time column was a bare ``t``, are read too).
"""

import json
import os

import brian2 as b2
import numpy as np
import pandas as pd

from .tables import _write_stamped, read_stamped, upgrade_legacy_columns

__all__ = [
    "SPIKE_COLUMNS",
    "TRIAL_TOLERANCE",
    "spikes_to_dataframe",
    "spike_monitor_to_dataframe",
    "concat_spikes",
    "save_spikes",
    "load_spikes",
    "empty_spikes",
    "check_spike_frame",
    "select_group",
]

#: Columns of a spike frame, in this order.
SPIKE_COLUMNS = ("neuron", "t_s", "trial", "group")

#: Tolerance :math:`\epsilon` (in units of the trial length or bin width) under which a
#: time counts as lying on the next boundary.
TRIAL_TOLERANCE = 1e-9

#: Key of the Parquet schema metadata that stores the group categories.
_PARQUET_GROUPS_KEY = b"brian2learn.spike_groups"


def _to_seconds(value, name, scalar=False):
    """Return ``value`` as float seconds (array, or float if ``scalar``).

    A Brian2 Quantity must have the dimension of time; anything else is taken to be
    seconds already. Raises ValueError naming ``name`` otherwise.
    """
    if isinstance(value, b2.Quantity):
        if not b2.have_same_dimensions(value, b2.second):
            raise ValueError(
                f"{name} must have time units (e.g. 10*ms) or be plain floats in seconds, "
                f"got a quantity with dimension {b2.get_dimensions(value)!r}"
            )
        value = np.asarray(value, dtype=np.float64)
    else:
        try:
            value = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{name} must be a time (Quantity) or floats in seconds: {err}") from None
    if scalar:
        if value.ndim != 0:
            raise ValueError(f"{name} must be a scalar, got shape {value.shape}")
        value = float(value)
        if not np.isfinite(value):
            raise ValueError(f"{name} must be finite, got {value}")
        return value
    value = np.atleast_1d(value)
    if value.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {value.shape}")
    if not np.all(np.isfinite(value)):
        raise ValueError(f"{name} must be finite")
    return value


def _to_indices(indices, name="indices"):
    """Return ``indices`` as a 1-D int64 array of non-negative integers."""
    arr = np.atleast_1d(np.asarray(indices))
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise ValueError(f"{name} must be integers")
    elif arr.dtype.kind not in "iu":
        raise ValueError(f"{name} must be integers, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if np.any(arr < 0):
        raise ValueError(f"{name} must be non-negative, got minimum {arr.min()}")
    return arr


def _group_column(group, n):
    """A categorical column of length ``n`` holding the single category ``group``."""
    codes = np.zeros(n, dtype=np.int8)
    return pd.Categorical.from_codes(codes, categories=pd.Index([group], dtype="str"))


def empty_spikes(group=None):
    """Return a spike frame without rows, with the dtypes of :data:`SPIKE_COLUMNS`.

    Parameters
    ----------
    group : str, optional
        Category of the (empty) ``group`` column.

    Returns
    -------
    pandas.DataFrame
    """
    categories = pd.Index([] if group is None else [group], dtype="str")
    return pd.DataFrame(
        {
            "neuron": np.zeros(0, dtype=np.int64),
            "t_s": np.zeros(0, dtype=np.float64),
            "trial": np.zeros(0, dtype=np.int64),
            "group": pd.Categorical.from_codes(np.zeros(0, dtype=np.int8), categories=categories),
        }
    )


def _is_spike_monitor(obj):
    return isinstance(obj, b2.SpikeMonitor)


def spikes_to_dataframe(indices, times=None, group=None, trial_duration=None, t_start=0):
    r"""Build a spike frame from neuron indices and spike times.

    With a trial duration :math:`T` and start :math:`t_0`, spike :math:`j` at absolute
    time :math:`\tau_j` gets

    .. math::

        k_j = \left\lfloor \frac{\tau_j - t_0}{T} + \epsilon \right\rfloor, \qquad
        t_j = \tau_j - t_0 - k_j T,

    with :math:`\epsilon` = :data:`TRIAL_TOLERANCE`, so that a spike at a trial boundary
    (also one computed in floating point, such as ``3 * 0.1``) belongs to the trial that
    starts there. Without a trial duration, :math:`k_j = 0` and :math:`t_j = \tau_j`
    (``t_start`` is then ignored). The layout is the tidy one of Wickham (2014), J Stat
    Softw 59(10).

    Parameters
    ----------
    indices : array_like of int or brian2.SpikeMonitor
        Index of the spiking neuron, one per spike (non-negative). A ``SpikeMonitor`` may be
        passed instead; then ``times`` must be omitted and ``group`` defaults to the name of
        the monitored group (see :func:`spike_monitor_to_dataframe`).
    times : brian2.Quantity or array_like of float
        Spike times, a Quantity with time units or plain floats in seconds; same length as
        ``indices``.
    group : str
        Name of the neuron group; stored as the categorical ``group`` column.
    trial_duration : brian2.Quantity or float, optional
        Length :math:`T` of one trial (Quantity or seconds), strictly positive.
    t_start : brian2.Quantity or float, optional
        Start :math:`t_0` of trial 0 (default 0). Spikes before it are an error.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SPIKE_COLUMNS` (neuron int64, t_s float64 seconds, trial int64, group
        category), one row per spike, in the order of the input.

    Raises
    ------
    ValueError
        If ``indices`` and ``times`` differ in length, an index is negative or not an
        integer, ``times``/``trial_duration``/``t_start`` carry units other than time,
        ``trial_duration`` is not strictly positive, a spike precedes ``t_start`` or
        ``group`` is not a string.
    """
    if _is_spike_monitor(indices):
        if times is not None:
            raise ValueError("times must be omitted when indices is a SpikeMonitor")
        return spike_monitor_to_dataframe(
            indices, group=group, trial_duration=trial_duration, t_start=t_start
        )
    if times is None:
        raise ValueError("times is required unless indices is a SpikeMonitor")
    if not isinstance(group, str):
        raise ValueError(f"group must be a string naming the neuron group, got {group!r}")
    idx = _to_indices(indices, "indices")
    t = _to_seconds(times, "times")
    if idx.shape[0] != t.shape[0]:
        raise ValueError(
            f"indices and times must have the same length, got {idx.shape[0]} indices and {t.shape[0]} times"
        )
    trial = np.zeros(idx.shape[0], dtype=np.int64)
    if trial_duration is not None:
        period = _to_seconds(trial_duration, "trial_duration", scalar=True)
        if period <= 0:
            raise ValueError(f"trial_duration must be strictly positive, got {period} s")
        start = _to_seconds(t_start, "t_start", scalar=True)
        rel = t - start
        trial = np.floor(rel / period + TRIAL_TOLERANCE).astype(np.int64)
        if np.any(trial < 0):
            raise ValueError(f"all spike times must be at or after t_start = {start} s")
        t = rel - trial * period
        # times within rounding of the trial start are the start itself
        t[np.abs(t) <= TRIAL_TOLERANCE * period] = 0.0
        t = np.maximum(t, 0.0)
    return pd.DataFrame(
        {
            "neuron": idx,
            "t_s": t.astype(np.float64, copy=False),
            "trial": trial,
            "group": _group_column(group, idx.shape[0]),
        }
    )


def spike_monitor_to_dataframe(monitor, group=None, trial_duration=None, t_start=0):
    """Build a spike frame from a Brian2 ``SpikeMonitor`` (after a run).

    Reads ``monitor.i`` and ``monitor.t`` and calls :func:`spikes_to_dataframe`; see
    there for the trial formula.

    Parameters
    ----------
    monitor : brian2.SpikeMonitor
        Monitor that recorded indices and times (``record=True``, the default).
    group : str, optional
        Group name; defaults to ``monitor.source.name``.
    trial_duration, t_start : brian2.Quantity or float, optional
        As in :func:`spikes_to_dataframe`.

    Returns
    -------
    pandas.DataFrame
        Spike frame with columns :data:`SPIKE_COLUMNS`.
    """
    if not _is_spike_monitor(monitor):
        raise ValueError(f"monitor must be a brian2.SpikeMonitor, got {type(monitor).__name__}")
    if group is None:
        group = monitor.source.name
    indices = np.asarray(monitor.i[:])
    times = monitor.t[:]
    return spikes_to_dataframe(indices, times, group, trial_duration=trial_duration, t_start=t_start)


def check_spike_frame(spikes, name="spikes"):
    """Raise ValueError unless ``spikes`` is a DataFrame with the columns of a spike frame."""
    if not isinstance(spikes, pd.DataFrame):
        raise ValueError(f"{name} must be a pandas DataFrame, got {type(spikes).__name__}")
    missing = [c for c in SPIKE_COLUMNS if c not in spikes.columns]
    if missing == ["t_s"] and "t" in spikes.columns:
        raise ValueError(f"{name} names its time column 't'; spike frames call it 't_s' (seconds): "
                         f"rename it (frame.rename(columns={{'t': 't_s'}})) or read files with load_spikes")
    if missing:
        raise ValueError(f"{name} lacks the columns {missing}; a spike frame has {list(SPIKE_COLUMNS)}")


def _normalise_dtypes(df, categories=None):
    """Cast the spike columns to their dtypes (group: categorical with ``categories``)."""
    out = df.copy()
    out["neuron"] = out["neuron"].astype(np.int64)
    out["t_s"] = out["t_s"].astype(np.float64)
    out["trial"] = out["trial"].astype(np.int64)
    if categories is None and isinstance(out["group"].dtype, pd.CategoricalDtype):
        categories = out["group"].cat.categories
    categories = [str(c) for c in (categories if categories is not None else [])]
    names = out["group"].astype("str")
    categories += [str(v) for v in pd.unique(names) if str(v) not in categories]
    dtype = pd.CategoricalDtype(pd.Index(categories, dtype="str"))
    out["group"] = names.astype(dtype)
    return out


def concat_spikes(frames):
    """Concatenate spike frames, keeping the dtypes of :data:`SPIKE_COLUMNS`.

    The ``group`` column of the result is categorical with the union of the categories of
    all frames (in order of first appearance), so that e.g. frames of an excitatory and an
    inhibitory population stay distinguishable and keep their category even when empty.

    Parameters
    ----------
    frames : iterable of pandas.DataFrame
        Spike frames (extra columns are kept, missing values filled as pandas does).

    Returns
    -------
    pandas.DataFrame
        The rows of all frames in order, with a fresh ``RangeIndex``; an empty spike frame
        when ``frames`` is empty.
    """
    frames = list(frames)
    if not frames:
        return empty_spikes()
    categories = []
    for n, frame in enumerate(frames):
        check_spike_frame(frame, f"frames[{n}]")
        if isinstance(frame["group"].dtype, pd.CategoricalDtype):
            values = frame["group"].cat.categories
        else:
            values = pd.unique(frame["group"].astype("str"))
        for value in values:
            if value not in categories:
                categories.append(str(value))
    normalised = [_normalise_dtypes(frame, categories) for frame in frames]
    out = pd.concat(normalised, ignore_index=True)
    return _normalise_dtypes(out, categories)


def save_spikes(df, path):
    """Write a spike frame to a Parquet file (pyarrow engine), stamped with the table schema.

    The group categories are stored in the file's schema metadata, so that
    :func:`load_spikes` restores them even for categories without spikes. The file is
    written atomically, as by :func:`~brian2learn.analysis.tables.write_table`.

    Parameters
    ----------
    df : pandas.DataFrame
        Spike frame with the columns of :data:`SPIKE_COLUMNS` (extra columns are written
        too).
    path : str or os.PathLike
        Destination file.

    Raises
    ------
    ValueError
        If a column of :data:`SPIKE_COLUMNS` is missing.
    """
    import pyarrow as pa

    check_spike_frame(df, "df")
    out = _normalise_dtypes(df).reset_index(drop=True)
    table = pa.Table.from_pandas(out, preserve_index=False)
    categories = [str(c) for c in out["group"].cat.categories]
    metadata = dict(table.schema.metadata or {})
    metadata[_PARQUET_GROUPS_KEY] = json.dumps(categories).encode("utf-8")
    _write_stamped(table.replace_schema_metadata(metadata), os.fspath(path))


def load_spikes(path, group=None):
    """Read a spike frame written by :func:`save_spikes` (or by brian2learn before schema stamps).

    A file written before the table schema was stamped (schema 1) is upgraded: its time
    column ``t`` becomes ``t_s``. A schema-1 file with only the columns ``neuron`` and ``t``
    (the ``spikes_exc_*.parquet`` of stdp-assemblies) holds the absolute spike times of one
    group: it gets trial 0 and the group ``group``.

    Parameters
    ----------
    path : str or os.PathLike
        Parquet file.
    group : str, optional
        Group of the spikes of a schema-1 file without ``trial`` and ``group`` columns.

    Returns
    -------
    pandas.DataFrame
        Spike frame with the dtypes of :data:`SPIKE_COLUMNS` (and any extra columns).

    Raises
    ------
    ValueError
        If the file lacks a column of :data:`SPIKE_COLUMNS`, is a schema-1 file of one group
        and ``group`` is not given, or was written with a newer schema.
    """
    path = os.fspath(path)
    table, version = read_stamped(path)
    metadata = table.schema.metadata or {}
    df = table.to_pandas()
    if version == 1:
        df = upgrade_legacy_columns(df)
        if "trial" not in df.columns and "group" not in df.columns and {"neuron", "t_s"} <= set(df.columns):
            if not isinstance(group, str):
                raise ValueError(f"{path} holds the spikes of one unnamed group (written before table schema "
                                 f"2): pass group= (a string) to name it, got {group!r}")
            df = df.assign(trial=np.zeros(len(df), dtype=np.int64), group=_group_column(group, len(df)))
    missing = [c for c in SPIKE_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{path} lacks the spike columns {missing}")
    categories = None
    if _PARQUET_GROUPS_KEY in metadata:
        categories = json.loads(metadata[_PARQUET_GROUPS_KEY].decode("utf-8"))
    return _normalise_dtypes(df, categories)


def select_group(spikes, group=None, name="spikes"):
    """Rows of the spike frame ``spikes`` that belong to one neuron group.

    Neuron indices are only unique within a group, so functions that index neurons need
    one group. With ``group=None`` the frame must contain spikes of at most one group.

    Parameters
    ----------
    spikes : pandas.DataFrame
        Spike frame.
    group : str, optional
        Group to select.
    name : str
        Name of the argument, for error messages.

    Returns
    -------
    pandas.DataFrame
        The selected rows (a view or copy; do not modify).

    Raises
    ------
    ValueError
        If ``spikes`` is not a spike frame, ``group`` is None and the frame has spikes of
        several groups, or ``group`` is not a category of a categorical ``group`` column.
    """
    check_spike_frame(spikes, name)
    column = spikes["group"]
    if group is None:
        present = pd.unique(column.astype("str"))
        if len(present) > 1:
            raise ValueError(
                f"{name} holds spikes of several groups {sorted(present)}; pass group= to choose one"
            )
        return spikes
    if isinstance(column.dtype, pd.CategoricalDtype) and group not in list(column.cat.categories):
        raise ValueError(f"group {group!r} is not in {name} (groups: {list(column.cat.categories)})")
    return spikes[column.astype("str") == group]
