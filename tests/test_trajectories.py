import numpy as np
import pytest

from brian2learn.tasks.trajectories import spiking_trajectory_task, trajectory


def test_spiking_form_repeats_one_period_of_frozen_poisson_spikes_under_the_curve():
    task = spiking_trajectory_task("circle", period=0.5, n_periods=3, dt=1e-3, n_in=40, input_rate=50.0, seed=7)
    inputs, targets = task["inputs"][0], task["targets"][0]
    assert inputs.shape == (1500, 40) and targets.shape == (1500, 2) and task["window"].shape == (1, 1500)
    np.testing.assert_array_equal(inputs[:500], inputs[500:1000])  # the clock repeats every period
    np.testing.assert_array_equal(inputs[:500], inputs[1000:])
    assert abs(inputs[:500].mean() - 0.05) < 0.01  # 50 Hz in steps of 1 ms: 20,000 Bernoulli(0.05) draws
    t = np.arange(1500) * 1e-3
    np.testing.assert_allclose(targets[:, 0], 0.5 + 0.3 * np.sin(2 * np.pi * t / 0.5), atol=1e-12)
    np.testing.assert_allclose(targets[:, 1], 0.5 + 0.3 * np.cos(2 * np.pi * t / 0.5), atol=1e-12)
    np.testing.assert_allclose(targets, trajectory("circle", t, 0.5))
    again = spiking_trajectory_task("circle", 0.5, 3, 1e-3, 40, 50.0, seed=7)["inputs"]
    other = spiking_trajectory_task("circle", 0.5, 3, 1e-3, 40, 50.0, seed=8)["inputs"]
    assert np.array_equal(again, task["inputs"]) and not np.array_equal(other, task["inputs"])


def test_spiking_form_bad_input_names_the_parameter():
    with pytest.raises(ValueError, match="'n_in' must be a positive integer"):
        spiking_trajectory_task("circle", 0.5, 3, 1e-3, 0, 50.0, seed=1)
    with pytest.raises(ValueError, match=r"'input_rate' \* 'dt' must lie in \[0, 1\]"):
        spiking_trajectory_task("circle", 0.5, 3, 1e-3, 10, 2000.0, seed=1)
    with pytest.raises(ValueError, match="unknown trajectory 'square'"):
        spiking_trajectory_task("square", 0.5, 3, 1e-3, 10, 50.0, seed=1)
