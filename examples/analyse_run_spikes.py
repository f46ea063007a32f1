"""Rates, sparsity and energy of a run's spikes, loaded from Parquet into pandas.

``python examples/analyse_run_spikes.py runs/eprop-pattern-seed1/spikes_last_trial.parquet``
analyses the last trial of each method of ``brian2learn run eprop-pattern --quick`` (columns neuron,
t_s, trial, group, method); without a path it makes a small spike frame itself, saves it and loads it
back. Per method and group it prints the mean firing rate and the silent fraction (spike-count
rates, Dayan & Abbott 2001, sec. 1.2), the mean fraction of neurons active per 10 ms bin
(population sparsity, Willmore & Tolhurst 2001, Network 12:255), and the spike count, synaptic
operations (Sorbaro et al. 2020, Front Neurosci 14:662) and energy complexity (the most neurons
active in one step; Šíma 2014, Neural Comput 26:953).
"""

import os
import sys
import tempfile

import brian2 as b2
import numpy as np
import pandas as pd

from brian2learn import analysis

# The spike file does not store the network's sizes: these are those of eprop-pattern.
N_NEURONS = {"inputs": 100, "recurrent": 100}  # neurons per group
OUT_DEGREE = {"inputs": 100, "recurrent": 100}  # synapses per neuron (recurrent: 99 recurrent, 1 readout)
TRIAL = 1000 * b2.ms  # trial duration
DT = 1 * b2.ms  # simulation step
BIN = 10 * b2.ms  # bin of the population sparsity


def example_spikes(path):
    """Write a small hand-made spike frame (two groups of 4 neurons, one 20 ms trial) to ``path``."""
    frames = [analysis.spikes_to_dataframe([0, 1, 0, 3, 0], [1, 2, 5, 5, 12] * b2.ms, group="inputs"),
              analysis.spikes_to_dataframe([2, 2, 1], [3, 4, 15] * b2.ms, group="recurrent")]
    analysis.save_spikes(analysis.concat_spikes(frames).assign(method="handmade"), path)


def main(path=None, n_neurons=None, out_degree=None, trial=TRIAL, dt=DT, bin_size=BIN):
    """Rates, sparsity and energy per method and group of the spikes in the Parquet file ``path``.

    ``path=None`` analyses the frame of :func:`example_spikes`; ``n_neurons`` and ``out_degree`` (dicts per
    group) default to :data:`N_NEURONS` and :data:`OUT_DEGREE`. Returns a DataFrame, one row per method and
    group: mean_rate_hz, silent_fraction, active_per_bin, spike_count, synaptic_operations,
    energy_complexity, mean_fraction_active.
    """
    if path is None:  # the hand-made frame, with its own sizes
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "spikes.parquet")
            example_spikes(path)
            sizes = {"n_neurons": {"inputs": 4, "recurrent": 4}, "out_degree": {"inputs": 4, "recurrent": 2}}
            return main(path, **sizes, trial=20 * b2.ms, dt=dt, bin_size=bin_size)
    n_neurons, out_degree = n_neurons or N_NEURONS, out_degree or OUT_DEGREE
    spikes = analysis.load_spikes(path)
    if "method" not in spikes:
        spikes = spikes.assign(method="run")
    rows = []
    for (method, group), frame in spikes.groupby(["method", "group"], observed=True):
        frame = frame.drop(columns="method")
        n, n_trials = n_neurons[group], int(frame["trial"].max()) + 1
        rates = analysis.firing_rates(frame, n, trial, n_trials=n_trials, group=group)
        sparsity = analysis.population_sparsity(frame, n, bin_size, trial, by_trial=True, n_trials=n_trials,
                                                group=group)
        energy = analysis.energy_summary(frame, np.full(n, out_degree[group]), dt, n_neurons=n,
                                         n_steps=n_trials * int(round(float(trial / dt))))
        rows.append({"method": method, "group": group,
                     "mean_rate_hz": analysis.mean_rate(frame, n, n_trials * trial, group=group),
                     "silent_fraction": float(np.mean(rates["rate_hz"] == 0)),
                     "active_per_bin": float(sparsity["fraction_active"].mean()), **energy})
    return pd.DataFrame(rows)


if __name__ == "__main__":
    with pd.option_context("display.width", 160, "display.float_format", "{:.4g}".format):
        print(main(sys.argv[1] if len(sys.argv) > 1 else None).to_string(index=False))
