"""Bad input gets a clear error naming the parameter; the CLI answers in one line with status 2."""

import os
import subprocess
import sys

import brian2 as b2
import numpy as np
import pytest

from brian2learn.models.eprop_neurons import BELLEC2020_PATTERN_GENERATION, validate_neuron_params
from brian2learn.plasticity import eprop
from brian2learn.tasks.pattern_generation import pattern_generation_task
from brian2learn.training.eprop import EpropTrainer, TrainingDivergedError


def config(**changes):
    settings = dict(n_in=10, n_rec=6, n_out=1, n_steps=100, neuron_params=BELLEC2020_PATTERN_GENERATION,
                    c_reg=10.0, learning_rate=1e-3)
    settings.update(changes)
    return eprop.EpropConfig(**settings)


def task(cfg):
    return pattern_generation_task(seed=1, n_in=cfg.n_in, n_steps=cfg.n_steps)


def test_wrong_input_shape_names_inputs():
    cfg = config()
    bad = task(cfg)
    bad["inputs"] = bad["inputs"][:, :, :5]
    with pytest.raises(ValueError, match="'inputs' must have shape"):
        EpropTrainer(cfg, eprop.initial_weights(cfg, 1), bad, device="runtime")


def test_wrong_target_shape_names_targets():
    cfg = config()
    bad = task(cfg)
    bad["targets"] = np.zeros((1, cfg.n_steps, 2))
    with pytest.raises(ValueError, match="'targets' must have shape"):
        EpropTrainer(cfg, eprop.initial_weights(cfg, 1), bad, device="runtime")


def test_wrong_weight_shape_names_the_matrix():
    cfg = config()
    weights = eprop.initial_weights(cfg, 1)
    weights["w_rec"] = np.zeros((3, 3))
    with pytest.raises(ValueError, match="'w_rec' must have shape"):
        EpropTrainer(cfg, weights, task(cfg), device="runtime")


def test_unknown_feedback_mode_lists_the_allowed_ones():
    cfg = config()
    with pytest.raises(ValueError, match="unknown feedback mode 'mirror'; allowed: symmetric, random, adaptive"):
        EpropTrainer(cfg, eprop.initial_weights(cfg, 1), task(cfg), feedback="mirror", device="runtime")


def test_random_feedback_needs_a_matrix():
    cfg = config()
    with pytest.raises(ValueError, match="feedback_matrix"):
        EpropTrainer(cfg, eprop.initial_weights(cfg, 1), task(cfg), feedback="random", device="runtime")


def test_unknown_optimizer_and_loss():
    with pytest.raises(ValueError, match="unknown optimizer 'sgd'; allowed: gd, adam"):
        config(optimizer="sgd")
    with pytest.raises(ValueError, match="unknown loss 'l1'; allowed: mse, softmax"):
        config(loss="l1")


@pytest.mark.parametrize("name", ["tau_m", "tau_out", "tau_a", "dt"])
def test_non_positive_time_constant_is_named(name):
    params = dict(BELLEC2020_PATTERN_GENERATION, **{name: -1 * b2.ms})
    with pytest.raises(ValueError, match=f"parameter '{name}' must be positive"):
        validate_neuron_params(params)
    with pytest.raises(ValueError, match=f"'{name}'"):
        config(neuron_params=params)


def test_missing_units_are_named():
    with pytest.raises(ValueError, match="parameter 'tau_m' must be a Brian2 quantity in units of second"):
        validate_neuron_params(dict(BELLEC2020_PATTERN_GENERATION, tau_m=30.0))
    with pytest.raises(ValueError, match="parameter 'v_th' must be a Brian2 quantity in units of volt"):
        validate_neuron_params(dict(BELLEC2020_PATTERN_GENERATION, v_th=0.03))
    with pytest.raises(ValueError, match="'f_target' must be a rate with units"):
        config(f_target=10.0)
    with pytest.raises(ValueError, match="'dt' must be a positive time"):
        pattern_generation_task(dt=1.0)


def test_exploding_loss_stops_with_iteration_and_saves_last_good_weights(tmp_path):
    cfg = config(learning_rate=30.0)
    weights = eprop.initial_weights(cfg, 1)
    weights["w_in"] *= 6.0
    trainer = EpropTrainer(cfg, weights, task(cfg), device="runtime", iterations_per_run=4)
    with pytest.raises(TrainingDivergedError, match=r"training diverged: loss .* at iteration \d+") as info:
        trainer.train(12, run_dir=str(tmp_path))
    error = info.value
    assert error.iteration >= 1
    assert os.path.exists(error.weights_path)
    saved = np.load(error.weights_path)
    assert int(saved["iteration"]) == error.iteration - 1
    good = [row for row in trainer.history if row["iteration"] < error.iteration]
    assert len(good) == error.iteration
    assert all(np.isfinite(row["loss"]) and row["loss"] <= trainer.loss_limit for row in good)
    # The saved weights are those in use at the last good iteration: replaying it from them
    # gives that iteration's loss.
    replay = EpropTrainer(cfg, {k: saved[k] for k in ("w_in", "w_rec", "w_out")}, task(cfg), device="runtime",
                          iterations_per_run=1)
    _, metrics = replay.gradients()
    assert np.isclose(metrics["loss"][0], good[-1]["loss"], rtol=1e-9)


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "brian2learn.studies.cli", *args], capture_output=True, text=True,
                          timeout=120)


def test_cli_lists_studies():
    result = run_cli("list")
    assert result.returncode == 0
    assert "eprop-pattern" in result.stdout


@pytest.mark.parametrize("args,expected", [
    (("run", "no-such-study"), "invalid choice"),
    (("run", "eprop-pattern", "--seed", "abc"), "--seed"),
    (("run", "eprop-pattern", "--device", "gpu"), "--device"),
    (("run", "eprop-pattern", "--iterations", "0", "--no-bptt"), "'--iterations' must be a positive integer"),
    (("run", "eprop-evidence", "--feedback", "mirror"), "--feedback"),
    (("run", "eprop-evidence", "--max-iterations", "0"), "'--max-iterations' must be a positive integer"),
    (("run", "stdp-assemblies", "--stdp-rule", "cortex"), "'--stdp-rule'; allowed: visual-minimal"),
    (("run", "stdp-assemblies", "--sliding-threshold", "0"), "'--sliding-threshold' must be a positive rate"),
    (("run", "stdp-assemblies", "--sliding-threshold", "none"), "positive rate in Hz or 'off', got 'none'"),
])
def test_cli_errors_are_one_line_with_status_2(args, expected, tmp_path):
    out = ["--out", str(tmp_path)] if len(args) > 1 and args[1].startswith(("eprop", "stdp")) else []
    result = run_cli(*args, *out)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("changes, message", [
    ({"learning_rate": np.inf}, "'learning_rate' must be a finite number > 0, got inf"),
    ({"learning_rate": "abc"}, "'learning_rate' must be a finite number > 0, got 'abc'"),
    ({"learning_rate": 0.0}, "'learning_rate' must be a finite number > 0"),
    ({"f_target": -10 * b2.Hz}, "'f_target' must be a finite rate >= 0 Hz"),
    ({"adam_beta1": 1.5}, r"'adam_beta1' must be a number in \[0, 1\), got 1.5"),
    ({"adam_beta2": 1.0}, r"'adam_beta2' must be a number in \[0, 1\)"),
    ({"adam_epsilon": 0.0}, "'adam_epsilon' must be a finite number > 0"),
    ({"c_reg": "high"}, "'c_reg' must be a finite number >= 0, got 'high'"),
    ({"feedback_decay": np.nan}, "'feedback_decay' must be a finite number >= 0"),
])
def test_out_of_range_learning_settings_are_named(changes, message):
    with pytest.raises(ValueError, match=message):
        config(**changes)


def test_a_misspelt_neuron_parameter_is_named():
    params = dict(BELLEC2020_PATTERN_GENERATION)
    params["tau_mem"] = params.pop("tau_m")
    with pytest.raises(ValueError, match=r"unknown neuron parameters \['tau_mem'\]"):
        config(neuron_params=params)


def test_the_unit_hint_matches_the_unit():
    with pytest.raises(ValueError, match=r"units of second \(for example 30\*ms\), got 30\. \* mvolt"):
        validate_neuron_params(dict(BELLEC2020_PATTERN_GENERATION, tau_m=30 * b2.mV))
    with pytest.raises(ValueError, match=r"units of volt \(for example 30\*mV\)"):
        validate_neuron_params(dict(BELLEC2020_PATTERN_GENERATION, v_th=30 * b2.ms))


def test_non_finite_task_values_and_missing_weights_are_named():
    cfg = config()
    bad = task(cfg)
    bad["inputs"] = np.array(bad["inputs"], dtype=float)
    bad["inputs"][0, 3, 2] = np.nan
    with pytest.raises(ValueError, match="'inputs' of the task holds non-finite values"):
        EpropTrainer(cfg, eprop.initial_weights(cfg, 1), bad, device="runtime")
    weights = eprop.initial_weights(cfg, 1)
    del weights["w_rec"]
    with pytest.raises(ValueError, match=r"the weights lack \['w_rec'\]"):
        EpropTrainer(cfg, weights, task(cfg), device="runtime")


def test_ttfs_robustness_names_weights_that_are_not_an_npz(tmp_path):
    from brian2learn.studies import ttfs_robustness

    summary = tmp_path / "summary.json"
    summary.write_text('{"status": "completed"}')
    with pytest.raises(ValueError, match=r"'--weights' must be the network_ttfs.npz \(or weights.npz\) of a ttfs"):
        ttfs_robustness.load_weights(str(summary), config=None)  # refused before the shapes are compared
