"""Rate-coded trials of static examples (tasks.rate_coding): spike counts against the Poisson rates, the window
and one-hot targets, reproducibility and refusals."""

import numpy as np
import pytest

from brian2learn.tasks.rate_coding import rate_coded_trials


def test_spike_probability_per_step_is_the_feature_times_the_top_rate_and_the_bias_fires_at_the_top():
    features = np.array([[0.0, 0.25, 1.0]])
    trials = rate_coded_trials(np.repeat(features, 400, axis=0), np.zeros(400, dtype=int), 2, n_steps=100,
                               rate_max_hz=200.0, dt_ms=1.0, window_steps=30, seed=[1, 2])
    inputs = trials["inputs"]
    assert inputs.shape == (400, 100, 4) and set(np.unique(inputs)) <= {0.0, 1.0}
    rate = inputs.mean(axis=(0, 1))  # 40,000 steps per channel: a binomial standard error below 0.002
    np.testing.assert_allclose(rate, [0.0, 0.05, 0.2, 0.2], atol=0.006)
    assert np.all(trials["window"][:, :70] == 0) and np.all(trials["window"][:, 70:] == 1)
    assert np.all(trials["targets"][:, :, 0] == 1) and np.all(trials["targets"][:, :, 1] == 0)


def test_the_same_seed_gives_the_same_spikes_and_another_seed_others():
    features, labels = np.random.default_rng(0).random((5, 3)), np.arange(5) % 3
    a = rate_coded_trials(features, labels, 3, 50, 100.0, 1.0, 10, seed=[4, 0, 7])
    b = rate_coded_trials(features, labels, 3, 50, 100.0, 1.0, 10, seed=[4, 0, 7])
    c = rate_coded_trials(features, labels, 3, 50, 100.0, 1.0, 10, seed=[4, 0, 8])
    np.testing.assert_array_equal(a["inputs"], b["inputs"])
    assert np.any(a["inputs"] != c["inputs"]) and list(a["labels"]) == [0, 1, 2, 0, 1]


def test_bad_input_names_the_parameter():
    good = {"features": np.zeros((2, 3)), "labels": np.array([0, 1]), "n_classes": 2, "n_steps": 10,
            "rate_max_hz": 100.0, "dt_ms": 1.0, "window_steps": 5, "seed": 1}
    for change, match in (({"features": np.full((2, 3), 1.5)}, "'features'"),
                          ({"labels": np.array([0, 2])}, "'labels'"),
                          ({"window_steps": 11}, "'window_steps'"), ({"n_steps": 0}, "'n_steps'"),
                          ({"rate_max_hz": 2000.0}, "spike probability")):
        with pytest.raises(ValueError, match=match):
            rate_coded_trials(**{**good, **change})
