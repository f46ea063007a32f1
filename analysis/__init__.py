"""Analysis of spiking activity: spikes as tidy pandas DataFrames, rates, sparsity, energy, plots.

:mod:`~brian2learn.analysis.spikes` turns Brian2 spikes (index/time arrays or a
``SpikeMonitor``) into DataFrames with columns ``neuron, t_s, trial, group`` and stores them
as Parquet; :mod:`~brian2learn.analysis.rates` computes firing rates and population
sparsity; :mod:`~brian2learn.analysis.energy` spike counts, synaptic operations and Šíma's
energy complexity; :mod:`~brian2learn.analysis.plotting` raster plots, learning curves and
outputs against targets; :mod:`~brian2learn.analysis.tables` the naming convention of every
Parquet table (units in the names, 0-based indices) with a writer and a reader that upgrades
older files; :mod:`~brian2learn.analysis.neo_export` converts spike frames to ``neo.SpikeTrain``
objects for Elephant (neo is imported only when :func:`to_neo` is called);
:mod:`~brian2learn.analysis.paired` summarises paired differences over seeds (mean, standard error,
Wilcoxon signed-rank test, effect sizes).
"""

from .energy import (
    energy_complexity,
    energy_summary,
    mean_fraction_active,
    not_spiking,
    out_degrees,
    spike_count,
    synaptic_operations,
)
from .neo_export import to_neo
from .paired import paired_effect
from .plotting import plot_learning_curves, plot_output_vs_target, plot_raster
from .rates import firing_rates, mean_rate, population_sparsity
from .spikes import (
    SPIKE_COLUMNS,
    TRIAL_TOLERANCE,
    concat_spikes,
    empty_spikes,
    load_spikes,
    save_spikes,
    select_group,
    spike_monitor_to_dataframe,
    spikes_to_dataframe,
)
from .tables import SCHEMA_VERSION, read_table, write_table

__all__ = [
    "SPIKE_COLUMNS",
    "TRIAL_TOLERANCE",
    "spikes_to_dataframe",
    "spike_monitor_to_dataframe",
    "concat_spikes",
    "empty_spikes",
    "select_group",
    "save_spikes",
    "load_spikes",
    "firing_rates",
    "mean_rate",
    "population_sparsity",
    "spike_count",
    "out_degrees",
    "mean_fraction_active",
    "not_spiking",
    "synaptic_operations",
    "energy_complexity",
    "energy_summary",
    "paired_effect",
    "plot_raster",
    "plot_learning_curves",
    "plot_output_vs_target",
    "SCHEMA_VERSION",
    "write_table",
    "read_table",
    "to_neo",
]
