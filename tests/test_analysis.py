"""Tests of brian2learn.analysis on hand-made spike trains whose answers are worked out by hand.

The reference spike train (trial duration 100 ms, 3 neurons, neuron 2 silent):

======  ==========  =====  ==============
neuron  t absolute  trial  t within trial
======  ==========  =====  ==============
0       5 ms        0      5 ms
1       12 ms       0      12 ms
0       15 ms       0      15 ms
0       105 ms      1      5 ms
1       150 ms      1      50 ms
1       190 ms      1      90 ms
======  ==========  =====  ==============
"""

import brian2 as b2
import matplotlib
import numpy as np
import pandas as pd
import pytest

from brian2learn import analysis
from brian2learn.analysis import (
    SPIKE_COLUMNS,
    concat_spikes,
    energy_complexity,
    energy_summary,
    firing_rates,
    load_spikes,
    mean_fraction_active,
    mean_rate,
    not_spiking,
    out_degrees,
    plot_learning_curves,
    plot_output_vs_target,
    plot_raster,
    population_sparsity,
    save_spikes,
    spike_count,
    spike_monitor_to_dataframe,
    spikes_to_dataframe,
    synaptic_operations,
)

INDICES = np.array([0, 1, 0, 0, 1, 1], dtype=np.int32)
TIMES_MS = np.array([5.0, 12.0, 15.0, 105.0, 150.0, 190.0])
EXPECTED_TRIAL = [0, 0, 0, 1, 1, 1]
EXPECTED_T_S = [0.005, 0.012, 0.015, 0.005, 0.050, 0.090]


@pytest.fixture
def trial_spikes():
    return spikes_to_dataframe(INDICES, TIMES_MS * b2.ms, "exc", trial_duration=100 * b2.ms)


@pytest.fixture
def absolute_spikes():
    return spikes_to_dataframe(INDICES, TIMES_MS / 1000.0, "exc")


@pytest.fixture
def numpy_target():
    old = b2.prefs.codegen.target
    b2.prefs.codegen.target = "numpy"
    b2.start_scope()
    yield
    b2.prefs.codegen.target = old


@pytest.fixture
def agg():
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


def _assert_spike_dtypes(df):
    assert tuple(df.columns[:4]) == SPIKE_COLUMNS
    assert df["neuron"].dtype == np.int64
    assert df["t_s"].dtype == np.float64
    assert df["trial"].dtype == np.int64
    assert isinstance(df["group"].dtype, pd.CategoricalDtype)


# ---------------------------------------------------------------- spikes


def test_spikes_to_dataframe_with_trials(trial_spikes):
    df = trial_spikes
    _assert_spike_dtypes(df)
    assert df["neuron"].tolist() == [0, 1, 0, 0, 1, 1]
    assert df["trial"].tolist() == EXPECTED_TRIAL
    np.testing.assert_allclose(df["t_s"], EXPECTED_T_S, atol=1e-12)
    assert (df["group"] == "exc").all()
    assert list(df["group"].cat.categories) == ["exc"]


def test_spikes_to_dataframe_absolute_times_in_seconds(absolute_spikes):
    df = absolute_spikes
    _assert_spike_dtypes(df)
    assert df["trial"].tolist() == [0] * 6
    np.testing.assert_allclose(df["t_s"], [0.005, 0.012, 0.015, 0.105, 0.150, 0.190])


def test_spikes_to_dataframe_t_start():
    # trials of 10 ms starting at 2 ms: 2 ms -> trial 0 at 0, 13 ms -> trial 1 at 1 ms
    df = spikes_to_dataframe([0, 1], [2.0, 13.0] * b2.ms, "g", trial_duration=10 * b2.ms, t_start=2 * b2.ms)
    assert df["trial"].tolist() == [0, 1]
    np.testing.assert_allclose(df["t_s"], [0.0, 0.001], atol=1e-15)
    with pytest.raises(ValueError, match="t_start"):
        spikes_to_dataframe([0], [1.0] * b2.ms, "g", trial_duration=10 * b2.ms, t_start=2 * b2.ms)


def test_trial_boundary_belongs_to_next_trial():
    # 0.3 / 0.1 == 2.9999999999999996 in floating point, 3 * 0.1 == 0.30000000000000004
    assert np.floor(0.3 / 0.1) == 2.0
    times = [0.1, 0.3, 3 * 0.1, 0.2 - 1e-6, 0.0]
    df = spikes_to_dataframe([0, 1, 2, 3, 4], times, "g", trial_duration=0.1)
    assert df["trial"].tolist() == [1, 3, 3, 1, 0]
    assert df["t_s"].tolist()[:3] == [0.0, 0.0, 0.0]
    assert df["t_s"].iloc[3] == pytest.approx(0.1 - 1e-6)
    assert (df["t_s"] >= 0).all()
    # the same with Brian2 quantities
    dfq = spikes_to_dataframe([0, 0], [100.0, 300.0] * b2.ms, "g", trial_duration=100 * b2.ms)
    assert dfq["trial"].tolist() == [1, 3]
    assert dfq["t_s"].tolist() == [0.0, 0.0]


def test_spikes_to_dataframe_errors():
    with pytest.raises(ValueError, match="same length"):
        spikes_to_dataframe([0, 1], [0.1], "g")
    with pytest.raises(ValueError, match="indices must be non-negative"):
        spikes_to_dataframe([0, -1], [0.1, 0.2], "g")
    with pytest.raises(ValueError, match="indices must be integers"):
        spikes_to_dataframe([0.5], [0.1], "g")
    with pytest.raises(ValueError, match="trial_duration must be strictly positive"):
        spikes_to_dataframe([0], [0.1], "g", trial_duration=0 * b2.ms)
    with pytest.raises(ValueError, match="trial_duration must be strictly positive"):
        spikes_to_dataframe([0], [0.1], "g", trial_duration=-0.1)
    with pytest.raises(ValueError, match="times must have time units"):
        spikes_to_dataframe([0], [1.0] * b2.mV, "g")
    with pytest.raises(ValueError, match="trial_duration must have time units"):
        spikes_to_dataframe([0], [0.1], "g", trial_duration=10 * b2.Hz)
    with pytest.raises(ValueError, match="group"):
        spikes_to_dataframe([0], [0.1], None)


def test_empty_spike_train():
    df = spikes_to_dataframe(np.array([], dtype=np.int32), np.array([]) * b2.ms, "g", trial_duration=0.1)
    _assert_spike_dtypes(df)
    assert len(df) == 0
    assert list(df["group"].cat.categories) == ["g"]


def test_spike_monitor_to_dataframe(numpy_target):
    gen = b2.SpikeGeneratorGroup(3, [0, 1, 0, 2], [1.0, 2.0, 5.5, 7.0] * b2.ms, name="inp")
    mon = b2.SpikeMonitor(gen)
    net = b2.Network(gen, mon)
    net.run(10 * b2.ms)
    df = spike_monitor_to_dataframe(mon)
    _assert_spike_dtypes(df)
    assert df["neuron"].tolist() == [0, 1, 0, 2]
    np.testing.assert_allclose(df["t_s"], [0.001, 0.002, 0.0055, 0.007], atol=1e-12)
    assert df["trial"].tolist() == [0, 0, 0, 0]
    assert (df["group"] == "inp").all()
    # trials of 5 ms; the monitor can also be passed to spikes_to_dataframe
    df5 = spikes_to_dataframe(mon, trial_duration=5 * b2.ms)
    assert df5["trial"].tolist() == [0, 0, 1, 1]
    np.testing.assert_allclose(df5["t_s"], [0.001, 0.002, 0.0005, 0.002], atol=1e-12)
    assert (spike_monitor_to_dataframe(mon, group="input")["group"] == "input").all()
    # energy complexity with the simulation step: at most one neuron per step here
    assert energy_complexity(df, b2.defaultclock.dt) == 1


def test_concat_spikes_keeps_dtypes(trial_spikes):
    inh = spikes_to_dataframe([0], [0.02], "inh", trial_duration=0.1)
    silent = spikes_to_dataframe([], [], "silent")
    df = concat_spikes([trial_spikes, inh, silent])
    _assert_spike_dtypes(df)
    assert len(df) == 7
    assert list(df["group"].cat.categories) == ["exc", "inh", "silent"]
    assert df["group"].tolist() == ["exc"] * 6 + ["inh"]
    assert df.index.tolist() == list(range(7))
    empty = concat_spikes([])
    _assert_spike_dtypes(empty)
    assert len(empty) == 0


def test_parquet_round_trip(tmp_path, trial_spikes):
    df = concat_spikes([trial_spikes, spikes_to_dataframe([], [], "silent")])
    path = tmp_path / "spikes.parquet"
    save_spikes(df, path)
    back = load_spikes(path)
    pd.testing.assert_frame_equal(back, df)
    assert list(back["group"].cat.categories) == ["exc", "silent"]
    # an empty frame too
    empty = spikes_to_dataframe([], [], "g")
    save_spikes(empty, tmp_path / "empty.parquet")
    pd.testing.assert_frame_equal(load_spikes(tmp_path / "empty.parquet"), empty)


def test_parquet_missing_columns(tmp_path, trial_spikes):
    with pytest.raises(ValueError, match="group"):
        save_spikes(trial_spikes.drop(columns="group"), tmp_path / "x.parquet")
    path = tmp_path / "no_trial.parquet"
    trial_spikes.drop(columns="trial").to_parquet(path, engine="pyarrow")
    with pytest.raises(ValueError, match="trial"):
        load_spikes(path)


# ---------------------------------------------------------------- rates


def test_firing_rates_by_hand(trial_spikes):
    rates = firing_rates(trial_spikes, n_neurons=3, trial_duration=100 * b2.ms)
    assert list(rates.columns) == ["neuron", "trial", "rate_hz"]
    assert rates["neuron"].dtype == np.int64 and rates["trial"].dtype == np.int64
    # trial 0: neuron 0 two spikes, neuron 1 one, neuron 2 none; trial 1: 1, 2, 0; T = 0.1 s
    expected = {(0, 0): 20.0, (1, 0): 10.0, (2, 0): 0.0, (0, 1): 10.0, (1, 1): 20.0, (2, 1): 0.0}
    got = {(n, k): r for n, k, r in rates.itertuples(index=False)}
    assert got == pytest.approx(expected)
    assert len(rates) == 6


def test_firing_rates_n_trials_and_seconds(trial_spikes):
    rates = firing_rates(trial_spikes, 4, 0.1, n_trials=3)
    assert len(rates) == 12
    assert rates.loc[rates["trial"] == 2, "rate_hz"].tolist() == [0.0] * 4
    assert rates.loc[rates["neuron"] == 3, "rate_hz"].tolist() == [0.0] * 3
    silent = firing_rates(spikes_to_dataframe([], [], "g"), 2, 0.5)
    assert silent["rate_hz"].tolist() == [0.0, 0.0]
    assert silent["trial"].tolist() == [0, 0]
    with pytest.raises(ValueError, match="n_trials"):
        firing_rates(trial_spikes, 3, 0.1, n_trials=1)
    with pytest.raises(ValueError, match="n_neurons"):
        firing_rates(trial_spikes, 1, 0.1)
    with pytest.raises(ValueError, match="trial_duration"):
        firing_rates(trial_spikes, 3, 0.0)


def test_firing_rates_group_selection(trial_spikes):
    both = concat_spikes([trial_spikes, spikes_to_dataframe([0, 0], [0.01, 0.02], "inh", trial_duration=0.1)])
    with pytest.raises(ValueError, match="group"):
        firing_rates(both, 3, 0.1)
    inh = firing_rates(both, 1, 0.1, n_trials=2, group="inh")
    assert inh["rate_hz"].tolist() == pytest.approx([20.0, 0.0])
    with pytest.raises(ValueError, match="nope"):
        firing_rates(both, 1, 0.1, group="nope")


def test_mean_rate(absolute_spikes):
    # 6 spikes / (3 neurons * 0.2 s) = 10 Hz
    assert mean_rate(absolute_spikes, 3, 200 * b2.ms) == pytest.approx(10.0)
    assert mean_rate(absolute_spikes, 6, 0.2) == pytest.approx(5.0)
    with pytest.raises(ValueError, match="duration"):
        mean_rate(absolute_spikes, 3, 1 * b2.volt)


def test_population_sparsity_absolute(absolute_spikes):
    sp = population_sparsity(absolute_spikes, 3, 10 * b2.ms, 200 * b2.ms)
    assert list(sp.columns) == ["bin_start", "fraction_active"]
    assert len(sp) == 20
    np.testing.assert_allclose(sp["bin_start"], np.arange(20) * 0.01)
    expected = np.zeros(20)
    expected[0] = 1 / 3  # neuron 0 at 5 ms
    expected[1] = 2 / 3  # neuron 1 at 12 ms, neuron 0 at 15 ms
    expected[10] = 1 / 3  # 105 ms
    expected[15] = 1 / 3  # 150 ms
    expected[19] = 1 / 3  # 190 ms
    np.testing.assert_allclose(sp["fraction_active"], expected)


def test_population_sparsity_counts_neurons_once_and_boundaries():
    # neuron 0 spikes twice in bin 0: still 1 of 2 neurons; a spike at 0.3 with bins of
    # 0.1 is in bin 3, not bin 2; the last bin [0.3, 0.4) extends past duration = 0.35
    df = spikes_to_dataframe([0, 0, 1], [0.01, 0.02, 0.3], "g")
    sp = population_sparsity(df, 2, 0.1, 0.35)
    assert sp["fraction_active"].tolist() == [0.5, 0.0, 0.0, 0.5]
    with pytest.raises(ValueError, match="duration"):
        population_sparsity(df, 2, 0.1, 0.3)


def test_population_sparsity_by_trial(trial_spikes):
    sp = population_sparsity(trial_spikes, 3, 10 * b2.ms, 100 * b2.ms, by_trial=True)
    assert list(sp.columns) == ["trial", "bin_start", "fraction_active"]
    assert sp["trial"].tolist() == [0] * 10 + [1] * 10
    expected = np.zeros(20)
    expected[[0, 10, 15, 19]] = 1 / 3  # trial 0 bin 0; trial 1 bins 0, 5, 9
    expected[1] = 2 / 3  # trial 0 bin 1: neurons 0 and 1
    np.testing.assert_allclose(sp["fraction_active"], expected)
    with pytest.raises(ValueError, match="by_trial"):
        population_sparsity(trial_spikes, 3, 10 * b2.ms, 100 * b2.ms)
    one_trial = population_sparsity(trial_spikes[trial_spikes["trial"] == 1], 3, 0.01, 0.1)
    np.testing.assert_allclose(one_trial["fraction_active"], expected[10:])


# ---------------------------------------------------------------- energy


def test_spike_count(trial_spikes):
    assert spike_count(trial_spikes) == 6
    assert isinstance(spike_count(trial_spikes), int)


def test_synaptic_operations_by_hand(trial_spikes):
    # neuron 0 spikes 3 times, neuron 1 3 times, neuron 2 never: 3 * 2 + 3 * 5 + 0 * 7 = 21
    assert synaptic_operations(trial_spikes, np.array([2, 5, 7], dtype=np.int32)) == 21
    with pytest.raises(ValueError, match="out_degree"):
        synaptic_operations(trial_spikes, [2])


def test_synaptic_operations_no_int32_overflow():
    big = np.array([2**30], dtype=np.int32)
    df = spikes_to_dataframe(np.zeros(4, dtype=np.int32), [0.1, 0.2, 0.3, 0.4], "g")
    result = synaptic_operations(df, big)
    assert result == 4 * 2**30
    assert isinstance(result, int)


def test_synaptic_operations_several_groups(trial_spikes):
    inh = spikes_to_dataframe([1, 1], [0.01, 0.02], "inh")
    both = concat_spikes([trial_spikes, inh])
    # exc: 3 * 1 + 3 * 1; inh: 2 * 10
    assert synaptic_operations(both, {"exc": [1, 1, 1], "inh": [0, 10]}) == 26
    with pytest.raises(ValueError, match="several groups"):
        synaptic_operations(both, [1, 1, 1])
    with pytest.raises(ValueError, match="inh"):
        synaptic_operations(both, {"exc": [1, 1, 1]})


def test_out_degrees_from_synapses(numpy_target):
    group = b2.NeuronGroup(3, "v : 1")
    syn = b2.Synapses(group, group)
    syn.connect(i=[0, 0, 1], j=[0, 1, 2])
    degree = out_degrees(syn)
    assert degree.dtype == np.int64
    assert degree.tolist() == [2, 1, 0]


@pytest.fixture
def step_spikes():
    # dt = 1 ms, trials of 10 ms.
    # trial 0: neuron 0 at 2.8, 3.0, 3.2 ms (all step 3: counts once); neurons 1, 2 at 7 ms
    # trial 1: neurons 1, 2 at 13 ms (step 3 of trial 1)
    indices = [0, 0, 0, 1, 2, 1, 2]
    times = [2.8, 3.0, 3.2, 7.0, 7.0, 13.0, 13.0] * b2.ms
    return spikes_to_dataframe(indices, times, "g", trial_duration=10 * b2.ms)


def test_energy_complexity_by_hand(step_spikes):
    # trial 0: step 3 has 1 neuron (3 spikes), step 7 has 2 neurons; trial 1: step 3 has 2
    # (merging trials would give {0, 1, 2} = 3 at step 3)
    assert energy_complexity(step_spikes, 1 * b2.ms) == 2
    assert energy_complexity(step_spikes, 0.001, n_neurons=3) == 2
    per_trial = energy_complexity(step_spikes, 1 * b2.ms, by_trial=True)
    assert per_trial["trial"].tolist() == [0, 1]
    assert per_trial["energy_complexity"].tolist() == [2, 2]
    # absolute times without trials: neuron 0's spikes in one 1 ms step, 3 neurons at 3 ms
    df = spikes_to_dataframe([0, 0, 1, 2], [2.9, 3.1, 3.0, 3.0] * b2.ms, "g")
    assert energy_complexity(df, 1 * b2.ms) == 3
    # with a 0.1 ms step the 2.9 and 3.1 ms spikes are separate steps: 1 + 3 at 3.0 ms
    assert energy_complexity(df, 0.1 * b2.ms) == 2
    assert energy_complexity(spikes_to_dataframe([], [], "g"), 1 * b2.ms) == 0
    with pytest.raises(ValueError, match="n_neurons"):
        energy_complexity(step_spikes, 1 * b2.ms, n_neurons=2)
    with pytest.raises(ValueError, match="dt"):
        energy_complexity(step_spikes, 0 * b2.ms)


def test_energy_complexity_counts_groups_separately():
    a = spikes_to_dataframe([0], [0.001], "a")
    b = spikes_to_dataframe([0], [0.001], "b")
    assert energy_complexity(concat_spikes([a, b]), 1 * b2.ms) == 2


def test_energy_summary(step_spikes):
    # 7 spikes; neuron 0: 3 spikes * 1, neuron 1: 2 * 2, neuron 2: 2 * 3 -> 13
    summary = energy_summary(step_spikes, [1, 2, 3], 1 * b2.ms)
    assert summary == {"spike_count": 7, "synaptic_operations": 13, "energy_complexity": 2}


def test_mean_fraction_active_by_hand(step_spikes):
    # active (trial, step, neuron): (0, 3, 0), (0, 7, 1), (0, 7, 2), (1, 3, 1), (1, 3, 2) -> 5 of
    # 3 neurons x 20 steps (two trials of 10 steps)
    assert mean_fraction_active(step_spikes, 1 * b2.ms, n_neurons=3, n_steps=20) == pytest.approx(5 / 60, rel=1e-15)
    summary = energy_summary(step_spikes, [1, 2, 3], 1 * b2.ms, n_neurons=3, n_steps=20)
    assert summary["mean_fraction_active"] == pytest.approx(5 / 60, rel=1e-15)
    assert (summary["n_neurons"], summary["n_steps"]) == (3, 20)
    assert mean_fraction_active(spikes_to_dataframe([], [], "g"), 1 * b2.ms, 3, 20) == 0.0
    with pytest.raises(ValueError, match="n_steps"):
        mean_fraction_active(step_spikes, 1 * b2.ms, 3, 0)
    assert not_spiking("rate units") == {"not_spiking": "rate units"}


# ---------------------------------------------------------------- plotting


def _n_points(axes):
    return sum(len(line.get_xdata()) for line in axes.get_lines())


def test_plot_raster(agg, trial_spikes):
    inh = spikes_to_dataframe([0, 1], [0.02, 0.03], "inh", trial_duration=0.1)
    df = concat_spikes([trial_spikes, inh])
    axes = plot_raster(df)
    assert isinstance(axes, matplotlib.axes.Axes)
    assert _n_points(axes) == 8
    exc_line, inh_line = axes.get_lines()
    # exc spans rows 0 .. 1 (max index 1), so inh starts at row 2
    assert list(exc_line.get_ydata()) == [0, 1, 0, 0, 1, 1]
    assert list(inh_line.get_ydata()) == [2, 3]
    np.testing.assert_allclose(inh_line.get_xdata(), [20.0, 30.0])  # in ms
    # one trial, capped neurons, on given axes, with one color
    _, ax = agg.subplots()
    out = plot_raster(df, axes=ax, color="k", max_neurons=1, trial=0, time_unit="s")
    assert out is ax
    assert _n_points(ax) == 3  # exc neuron 0 at 5 and 15 ms, inh neuron 0 at 20 ms
    assert [line.get_ydata().tolist() for line in ax.get_lines()] == [[0, 0], [1]]


def test_plot_learning_curves(agg):
    curves = {"eprop": np.array([1.0, 0.5, 0.25]), "bptt": [2.0, 1.0]}
    axes = plot_learning_curves(curves)
    assert isinstance(axes, matplotlib.axes.Axes)
    assert len(axes.get_lines()) == 2
    assert _n_points(axes) == 5
    assert axes.get_yscale() == "log"
    assert plot_learning_curves(curves, log=False).get_yscale() == "linear"


def test_plot_output_vs_target(agg):
    t = np.arange(5) * b2.ms
    y = np.zeros((5, 2))
    y_target = np.ones((5, 2))
    axes = plot_output_vs_target(t, y, y_target)
    assert isinstance(axes, matplotlib.axes.Axes)
    lines = axes.get_lines()
    assert len(lines) == 4
    assert _n_points(axes) == 20
    assert [line.get_linestyle() for line in lines] == ["-", "--", "-", "--"]
    np.testing.assert_allclose(lines[0].get_xdata(), [0, 1, 2, 3, 4])
    # StateMonitor layout (n_outputs, n_steps) is accepted
    assert len(plot_output_vs_target(t, y.T, y_target.T).get_lines()) == 4


def test_public_api():
    for name in analysis.__all__:
        assert hasattr(analysis, name)
