"""Small matplotlib plots of spike frames, learning curves and network outputs.

Every function takes ``axes=None`` and returns the :class:`matplotlib.axes.Axes` it drew
on, in the style of brian2tools (Stimberg et al., brian2tools,
https://brian2tools.readthedocs.io): without ``axes`` a new figure is made with
:func:`matplotlib.pyplot.subplots`. Nothing calls ``plt.show``, so the functions work with
any backend, Agg included. ``matplotlib.pyplot`` is imported only when a figure is made,
so importing this module does not choose a backend.
"""

import brian2 as b2
import numpy as np
import pandas as pd

from .spikes import check_spike_frame

__all__ = ["plot_raster", "plot_learning_curves", "plot_output_vs_target", "plot_phase_traces"]

_TIME_UNITS = {"s": 1.0, "ms": 1e3, "us": 1e6}


def _get_axes(axes):
    if axes is None:
        import matplotlib.pyplot as plt

        _, axes = plt.subplots()
    return axes


def _time_scale(time_unit):
    """Factor from seconds to ``time_unit`` (a name in s, ms, us or a Brian2 time unit)."""
    if isinstance(time_unit, b2.Quantity):
        if not b2.have_same_dimensions(time_unit, b2.second):
            raise ValueError(f"time_unit must be a unit of time, got {time_unit!r}")
        return 1.0 / float(time_unit), str(time_unit)
    if time_unit not in _TIME_UNITS:
        raise ValueError(
            f"time_unit must be one of {sorted(_TIME_UNITS)} or a Brian2 unit, got {time_unit!r}"
        )
    return _TIME_UNITS[time_unit], time_unit


def plot_raster(spikes, axes=None, color=None, max_neurons=None, time_unit="ms", trial=None):
    """Raster plot of a spike frame: one dot per spike, time against neuron index.

    Groups are stacked vertically in the order of their categories: a group occupies
    rows ``offset .. offset + size - 1``, its size being ``max(neuron) + 1`` (or
    ``max_neurons`` when smaller), and gets its own color and legend entry.

    Parameters
    ----------
    spikes : pandas.DataFrame
        Spike frame. Its ``t_s`` column is plotted as it is: for a frame with trial-relative
        times, pass ``trial`` to show one trial (else the trials are overlaid).
    axes : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure when omitted.
    color : color or dict of str to color, optional
        One color for all groups, or one per group name (default: the color cycle).
    max_neurons : int, optional
        Show only neurons with index below this in each group.
    time_unit : {"s", "ms", "us"} or brian2 unit
        Unit of the time axis.
    trial : int, optional
        Show only this trial.

    Returns
    -------
    matplotlib.axes.Axes
    """
    check_spike_frame(spikes)
    axes = _get_axes(axes)
    scale, unit_name = _time_scale(time_unit)
    if trial is not None:
        spikes = spikes[spikes["trial"] == trial]
    if max_neurons is not None:
        spikes = spikes[spikes["neuron"] < max_neurons]
    names = spikes["group"].astype("str")
    if isinstance(spikes["group"].dtype, pd.CategoricalDtype):
        groups = [str(g) for g in spikes["group"].cat.categories if (names == str(g)).any()]
    else:
        groups = [str(g) for g in pd.unique(names)]
    offset = 0
    for group in groups:
        rows = spikes[names == group]
        neurons = rows["neuron"].to_numpy(dtype=np.int64)
        kwargs = {}
        if isinstance(color, dict):
            if group in color:
                kwargs["color"] = color[group]
        elif color is not None:
            kwargs["color"] = color
        axes.plot(
            rows["t_s"].to_numpy(dtype=np.float64) * scale,
            neurons + offset,
            linestyle="none",
            marker=".",
            markersize=2,
            label=group,
            **kwargs,
        )
        size = int(neurons.max()) + 1
        if max_neurons is not None:
            size = min(size, int(max_neurons))
        offset += size
    axes.set_xlabel(f"time ({unit_name})")
    axes.set_ylabel("neuron index")
    if len(groups) > 1:
        axes.legend(loc="upper right", markerscale=4)
    return axes


def plot_learning_curves(curves, axes=None, log=True):
    """Plot loss against iteration for several runs.

    Parameters
    ----------
    curves : dict of str to array_like
        Name -> one-dimensional array of losses, one per iteration.
    axes : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure when omitted.
    log : bool
        Logarithmic loss axis.

    Returns
    -------
    matplotlib.axes.Axes
    """
    if not isinstance(curves, dict):
        raise ValueError(f"curves must be a dict name -> 1D array of losses, got {type(curves).__name__}")
    axes = _get_axes(axes)
    for name, losses in curves.items():
        losses = np.asarray(losses, dtype=np.float64)
        if losses.ndim != 1:
            raise ValueError(f"curves[{name!r}] must be one-dimensional, got shape {losses.shape}")
        axes.plot(np.arange(losses.size), losses, label=str(name))
    if log:
        axes.set_yscale("log")
    axes.set_xlabel("iteration")
    axes.set_ylabel("loss")
    if curves:
        axes.legend()
    return axes


def _as_time_major(values, n_steps, name):
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2:
        raise ValueError(f"{name} must have one or two dimensions, got shape {values.shape}")
    if values.shape[0] != n_steps:
        if values.shape[1] == n_steps:
            values = values.T
        else:
            raise ValueError(f"{name} has shape {values.shape}, which does not match {n_steps} times")
    return values


def plot_output_vs_target(t, y, y_target, axes=None, time_unit="ms"):
    """Plot network outputs (solid) against their targets (dashed, same color).

    Parameters
    ----------
    t : brian2.Quantity or array_like
        Times, a Quantity or seconds, length ``n_steps``.
    y, y_target : array_like
        Outputs and targets of shape ``(n_steps,)`` or ``(n_steps, n_outputs)``; the
        Brian2 StateMonitor layout ``(n_outputs, n_steps)`` is transposed. Quantities are
        plotted in SI units.
    axes : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure when omitted.
    time_unit : {"s", "ms", "us"} or brian2 unit
        Unit of the time axis.

    Returns
    -------
    matplotlib.axes.Axes
    """
    if isinstance(t, b2.Quantity) and not b2.have_same_dimensions(t, b2.second):
        raise ValueError("t must have time units or be plain floats in seconds")
    times = np.asarray(t, dtype=np.float64).ravel()
    outputs = _as_time_major(y, times.size, "y")
    targets = _as_time_major(y_target, times.size, "y_target")
    if outputs.shape != targets.shape:
        raise ValueError(f"y has shape {outputs.shape} but y_target has {targets.shape}")
    scale, unit_name = _time_scale(time_unit)
    axes = _get_axes(axes)
    for k in range(outputs.shape[1]):
        suffix = f" {k}" if outputs.shape[1] > 1 else ""
        (line,) = axes.plot(times * scale, outputs[:, k], label=f"output{suffix}")
        axes.plot(
            times * scale, targets[:, k], linestyle="--", color=line.get_color(), label=f"target{suffix}"
        )
    axes.set_xlabel(f"time ({unit_name})")
    axes.set_ylabel("output")
    axes.legend()
    return axes


def plot_phase_traces(steps, activity, signal, n_in, axes=None, title=""):
    """The output and two hidden units of a settling network through the phases of one example.

    ``activity`` is (steps, units) with the inputs first (``n_in``) and the output last; ``signal`` the phase
    signal per step (+1 teacher or +beta, -1 nudge -beta, 0 free), shaded.
    """
    axes = _get_axes(axes)
    axes.plot(steps, activity[:, -1], color="k", lw=1.5, label="output")
    for k in range(min(2, activity.shape[1] - n_in - 1)):
        axes.plot(steps, activity[:, n_in + k], lw=1, label=f"hidden {k}")
    axes.fill_between(steps, 0, 1, where=signal > 0, color="C3", alpha=0.12, step="mid", label="teacher +")
    axes.fill_between(steps, 0, 1, where=signal < 0, color="C0", alpha=0.12, step="mid", label="teacher -")
    axes.set_xlabel("step")
    axes.set_ylabel("activity V")
    axes.set_title(title, fontsize=9)
    axes.legend(fontsize=6, ncol=3)
    return axes
