"""Tests of brian2learn.analysis.to_neo against a hand-made spike frame, checked with Elephant.

The hand-made frame (trial duration 100 ms, 2 trials, 3 neurons, neuron 2 silent), given in
shuffled order to ``spikes_to_dataframe``:

======  ===============================  ===============================
neuron  trial 0 (ms, within the trial)   trial 1 (ms, within the trial)
======  ===============================  ===============================
0       10, 20, 32, 41, 55               5
1       12, 90                           30, 50
2       (silent)                         (silent)
======  ===============================  ===============================

Neuron 0 in trial 0 is the "regular-ish" train: inter-spike intervals 10, 12, 9, 14 ms, mean
11.25 ms, population variance 14.75 / 4 = 3.6875 ms², so CV = sqrt(3.6875) / 11.25.
"""

import os
import subprocess
import sys

import brian2 as b2
import elephant.statistics
import neo
import numpy as np
import pandas as pd
import pytest
import quantities as pq

from brian2learn.analysis import concat_spikes, firing_rates, spikes_to_dataframe, to_neo

T = 0.1  # trial duration in seconds
N = 3
# expected spike times within the trial, [trial][neuron], in seconds
EXPECTED = [
    [[0.010, 0.020, 0.032, 0.041, 0.055], [0.012, 0.090], []],
    [[0.005], [0.030, 0.050], []],
]


@pytest.fixture
def frame():
    indices, times = [], []
    for trial, per_neuron in enumerate(EXPECTED):
        for neuron, spike_times in enumerate(per_neuron):
            indices += [neuron] * len(spike_times)
            times += [trial * T + t for t in spike_times]
    order = np.random.default_rng(1).permutation(len(indices))  # to_neo must sort the times
    indices = np.asarray(indices)[order]
    times = np.asarray(times)[order] * b2.second
    return spikes_to_dataframe(indices, times, "exc", trial_duration=100 * b2.ms)


def test_trains_by_trial(frame):
    trains = to_neo(frame, t_stop=100 * b2.ms, by_trial=True, n_neurons=N)
    assert len(trains) == 2 and all(len(row) == N for row in trains)
    for trial, row in enumerate(trains):
        for neuron, train in enumerate(row):
            assert isinstance(train, neo.SpikeTrain)
            assert train.units == pq.s and train.dtype == np.float64
            np.testing.assert_allclose(train.magnitude, EXPECTED[trial][neuron], rtol=0, atol=1e-15)
            assert train.t_start == 0 * pq.s and train.t_stop == 0.1 * pq.s
            assert train.annotations == {"neuron": neuron, "group": "exc", "trial": trial}
            # the times are the frame's t_s values themselves, sorted
            rows = frame[(frame.trial == trial) & (frame.neuron == neuron)]
            np.testing.assert_array_equal(train.magnitude, np.sort(rows.t_s.to_numpy()))


def test_floats_and_quantities_agree(frame):
    with_units = to_neo(frame, t_stop=100 * b2.ms, t_start=0 * b2.ms, by_trial=True, n_neurons=N)
    in_seconds = to_neo(frame, t_stop=0.1, t_start=0.0, by_trial=True, n_neurons=N)
    for a_row, b_row in zip(with_units, in_seconds, strict=True):
        for a, b in zip(a_row, b_row, strict=True):
            np.testing.assert_array_equal(a.magnitude, b.magnitude)
            assert a.t_start == b.t_start and a.t_stop == b.t_stop


def test_one_trial_and_extra_trials(frame):
    trains = to_neo(frame[frame.trial == 1], t_stop=T, n_neurons=N + 1)
    assert [len(train) for train in trains] == [1, 2, 0, 0]
    assert trains[3].annotations == {"neuron": 3, "group": "exc"}
    assert trains[3].t_stop == 0.1 * pq.s
    padded = to_neo(frame, t_stop=T, by_trial=True, n_neurons=N, n_trials=3)
    assert len(padded) == 3 and all(len(train) == 0 for train in padded[2])
    shifted = to_neo(frame[frame.trial == 0], t_stop=95 * b2.ms, t_start=5 * b2.ms, n_neurons=N)
    assert shifted[0].t_start == 0.005 * pq.s and shifted[0].t_stop == 0.095 * pq.s
    at_edges = to_neo(frame[frame.trial == 0], t_stop=90 * b2.ms, t_start=10 * b2.ms, n_neurons=N)
    assert [len(train) for train in at_edges] == [5, 2, 0]  # [t_start, t_stop] is closed


def test_mean_firing_rate_matches_firing_rates(frame):
    trains = to_neo(frame, t_stop=100 * b2.ms, by_trial=True, n_neurons=N)
    rates = firing_rates(frame, n_neurons=N, trial_duration=100 * b2.ms)
    assert len(rates) == 2 * N
    for row in rates.itertuples():
        elephant_rate = elephant.statistics.mean_firing_rate(trains[row.trial][row.neuron])
        assert float(elephant_rate.rescale(pq.Hz).magnitude) == pytest.approx(row.rate_hz, rel=1e-12)
        assert row.rate_hz == len(EXPECTED[row.trial][row.neuron]) / T


# elephant.statistics.isi passes copy= to quantities, which deprecates it (harmless)
@pytest.mark.filterwarnings("ignore:The 'copy' argument in Quantity is deprecated:DeprecationWarning")
def test_cv_of_isi_matches_numpy(frame):
    train = to_neo(frame, t_stop=T, by_trial=True, n_neurons=N)[0][0]
    isi = elephant.statistics.isi(train)
    np.testing.assert_allclose(isi.rescale(pq.ms).magnitude, [10, 12, 9, 14], rtol=1e-9)
    by_hand = np.diff(EXPECTED[0][0])
    cv_numpy = np.std(by_hand, ddof=0) / np.mean(by_hand)
    assert cv_numpy == pytest.approx(np.sqrt(3.6875) / 11.25, rel=1e-9)
    # elephant.statistics.cv is scipy.stats.variation, whose default is the population std (ddof=0)
    assert float(elephant.statistics.cv(isi)) == pytest.approx(cv_numpy, rel=1e-9)
    assert float(elephant.statistics.cv(isi, ddof=0)) == pytest.approx(cv_numpy, rel=1e-9)
    assert float(elephant.statistics.cv(isi)) != pytest.approx(np.std(by_hand, ddof=1) / np.mean(by_hand))


def test_group_selection(frame):
    other = spikes_to_dataframe([0, 4], [0.01, 0.02], "inh")
    both = concat_spikes([frame[frame.trial == 0], other])
    with pytest.raises(ValueError, match="group="):
        to_neo(both, t_stop=T, n_neurons=N)
    trains = to_neo(both, t_stop=T, group="exc", n_neurons=N)
    assert [len(train) for train in trains] == [5, 2, 0]
    inh = to_neo(both, t_stop=T, group="inh", n_neurons=5)
    assert [len(train) for train in inh] == [1, 0, 0, 0, 1]
    assert all(train.annotations["group"] == "inh" for train in inh)
    with pytest.raises(ValueError, match="group"):
        to_neo(both, t_stop=T, group="nope", n_neurons=5)


def test_errors(frame):
    with pytest.raises(ValueError, match="spikes"):
        to_neo([0.1, 0.2], t_stop=T, n_neurons=N)
    with pytest.raises(ValueError, match="spikes"):
        to_neo(pd.DataFrame({"neuron": [0], "t": [0.01]}), t_stop=T, n_neurons=N)
    with pytest.raises(TypeError, match="n_neurons"):
        to_neo(frame, t_stop=T, by_trial=True)
    with pytest.raises(ValueError, match="n_neurons"):
        to_neo(frame, t_stop=T, by_trial=True, n_neurons=1)
    with pytest.raises(ValueError, match="n_neurons"):
        to_neo(frame, t_stop=T, by_trial=True, n_neurons=0)
    with pytest.raises(ValueError, match="n_trials"):
        to_neo(frame, t_stop=T, by_trial=True, n_neurons=N, n_trials=1)
    with pytest.raises(ValueError, match="by_trial"):
        to_neo(frame, t_stop=T, n_neurons=N)
    with pytest.raises(ValueError, match="t_stop"):
        to_neo(frame, t_stop=50 * b2.ms, by_trial=True, n_neurons=N)
    with pytest.raises(ValueError, match="t_start"):
        to_neo(frame, t_stop=T, t_start=6 * b2.ms, by_trial=True, n_neurons=N)
    with pytest.raises(ValueError, match="t_stop"):
        to_neo(frame, t_stop=0, by_trial=True, n_neurons=N)
    with pytest.raises(ValueError, match="t_stop"):
        to_neo(frame, t_stop=5 * b2.mV, by_trial=True, n_neurons=N)
    with pytest.raises(ValueError, match="t_start"):
        to_neo(frame, t_stop=T, t_start=1 * b2.Hz, by_trial=True, n_neurons=N)


def test_missing_neo_gives_install_hint(frame, monkeypatch):
    monkeypatch.setitem(sys.modules, "neo", None)
    with pytest.raises(ImportError, match=r"pip install -e '\.\[neo\]'"):
        to_neo(frame, t_stop=T, by_trial=True, n_neurons=N)


def test_importing_analysis_does_not_import_neo():
    code = "import sys, brian2learn.analysis; assert 'neo' not in sys.modules and 'quantities' not in sys.modules"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root)
    assert result.returncode == 0, result.stderr
