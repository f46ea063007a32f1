"""Trained e-prop networks exported to NEST 3.10 give brian2learn's readout (rtol 1e-9) and spikes, and the
exported script runs in NEST without brian2learn."""

import dataclasses
import json
import os
import subprocess
import sys
import types

import brian2 as b2
import numpy as np
import pytest

from brian2learn.export import nest as nest_export
from brian2learn.export import nest_eprop
from brian2learn.plasticity import eprop
from brian2learn.studies.common import save_network, write_summary
from brian2learn.studies.eprop_pattern import Options, make_config
from brian2learn.tasks.nest_reference import nest_evidence_accumulation_setup, nest_sine_wave_setup
from brian2learn.training.eprop import EpropTrainer, record_trials

pytest.importorskip("nest", reason="NEST 3.10 (pip install nest-simulator) is part of the test extra")

CLI = "import sys; from brian2learn.studies.cli import main; sys.exit(main(sys.argv[1:]))"


def trained(setup, n_iterations):
    """The set-up's network after a few iterations of e-prop (runtime device: no compile)."""
    config = eprop.EpropConfig(**setup["config"])
    task = {key: value[:n_iterations] for key, value in setup["task"].items()}
    trainer = EpropTrainer(config, setup["weights"], task, feedback="random", feedback_matrix=setup["feedback"],
                           device="runtime", iterations_per_run=n_iterations)
    trainer.train(n_iterations)
    weights = trainer.weights()
    assert not np.allclose(weights["w_rec"], setup["weights"]["w_rec"])  # training changed the network
    return config, weights


def check_same_in_nest(config, weights, inputs):
    expected = record_trials(config, weights, inputs, device="runtime")
    y, spikes = nest_export.run_in_nest(nest_export.eprop_spec(config, weights), inputs)
    np.testing.assert_allclose(y, expected[0], rtol=1e-9, atol=1e-12 * np.max(np.abs(expected[0])))
    assert sum(len(n) for n, _ in spikes) > 100  # the network spikes: the test means something
    for (n_ours, s_ours), (n_nest, s_nest) in zip(expected[1], spikes, strict=True):
        np.testing.assert_array_equal(s_nest, s_ours)
        np.testing.assert_array_equal(n_nest, n_ours)


def test_a_trained_pattern_generation_network_runs_the_same_in_nest():
    setup = nest_sine_wave_setup(n_rec=20)
    config, weights = trained(setup, n_iterations=2)
    inputs = np.concatenate([setup["task"]["inputs"]] * 2)
    inputs[1, 0, :4] = 1.0  # input in step 0, which NEST's own sequence reset would drop
    check_same_in_nest(config, weights, inputs)


def test_a_trained_evidence_accumulation_network_with_adaptive_neurons_runs_the_same_in_nest():
    setup = nest_evidence_accumulation_setup(batch_size=1, n_iterations=2)
    config, weights = trained(setup, n_iterations=1)
    assert np.count_nonzero(np.asarray(config.beta)) == 50  # half of the neurons adapt (ALIF)
    check_same_in_nest(config, weights, setup["task"]["inputs"][:2])


def cli(*args, **kwargs):
    return subprocess.run([sys.executable, "-c", CLI, *args], capture_output=True, text=True, timeout=300, **kwargs)


@pytest.fixture(scope="module")
def pattern_run(tmp_path_factory):
    """A run directory of eprop-pattern holding one (randomly perturbed) network, written as the study does."""
    run_dir = tmp_path_factory.mktemp("pattern_run")
    config = make_config()
    weights = eprop.initial_weights(config, 3)
    rng = np.random.default_rng(3)
    weights = {name: value + 0.02 * rng.standard_normal(value.shape) * (value != 0) for name, value in weights.items()}
    options = Options(quick=True, seed=3, device="runtime")  # brian2learn's side of the export runs on it
    name = save_network(str(run_dir), "eprop-random", weights, "eprop-pattern", options, dataclasses.asdict(config),
                        feedback="random")
    write_summary(str(run_dir), {"study": "eprop-pattern", "status": "completed", "networks": [name],
                                 "options": options.as_dict()})
    return run_dir


def test_the_exported_script_reproduces_brian2learn_in_nest_alone(pattern_run, tmp_path):
    script = tmp_path / "exported" / "pattern.py"
    result = cli("export", str(pattern_run), "--to", "nest", "--out", str(script), "--check")
    assert result.returncode == 0, result.stderr
    assert "spikes identical" in result.stdout and (tmp_path / "exported" / "pattern.npz").is_file()
    difference = float(result.stdout.split("largest relative difference ")[1].split(",")[0])
    assert difference < 1e-9
    # the script alone: brian2learn and Brian2 cannot be imported
    alone = ("import runpy, sys; sys.modules['brian2learn'] = None; sys.modules['brian2'] = None; "
             f"sys.argv = ['pattern.py']; runpy.run_path({str(script)!r}, run_name='__main__')")
    ran = subprocess.run([sys.executable, "-c", alone], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert "spikes identical" in ran.stdout
    with np.load(tmp_path / "exported" / "pattern_nest_results.npz") as saved, \
            np.load(tmp_path / "exported" / "pattern.npz") as data:
        np.testing.assert_allclose(saved["y"], data["expected_y"], rtol=1e-9, atol=1e-12)
        np.testing.assert_array_equal(saved["spike_steps"], data["expected_steps"])


def test_an_evidence_accumulation_run_exports_its_network_on_fresh_test_trials(tmp_path):
    from brian2learn.studies import eprop_evidence
    from brian2learn.studies.runs import load_run

    config = eprop_evidence.make_config(batch_size=1)
    weights = eprop.initial_weights(config, 4)
    weights["w_rec"] = weights["w_rec"] * 1.5  # a livelier network than at initialisation
    options = eprop_evidence.Options(quick=True, seed=4, device="runtime")
    name = save_network(str(tmp_path), "eprop-random", weights, "eprop-evidence", options, dataclasses.asdict(config),
                        feedback="random")
    write_summary(str(tmp_path), {"study": "eprop-evidence", "status": "completed", "networks": [name],
                                  "options": options.as_dict()})
    lines = eprop_evidence.export_to_nest(load_run(str(tmp_path)), str(tmp_path / "evidence.py"), n_trials=1,
                                          check=True)
    assert "spikes identical" in lines[-1], lines
    assert float(lines[-1].split("largest relative difference ")[1].split(",")[0]) < 1e-9
    with np.load(tmp_path / "evidence.npz") as data:
        assert data["expected_steps"].size > 100  # the recurrent network spiked
        test_trial = eprop_evidence.trials(4, "test", 0, 1)["inputs"]
        np.testing.assert_array_equal(data["inputs"], test_trial)
        training_trial = eprop_evidence.trials(4, "train", 0, 1)["inputs"]
        assert not np.array_equal(data["inputs"], training_trial)  # held-out trials, not the training stream


def test_bad_exports_are_refused_in_one_line(pattern_run, tmp_path):
    other = tmp_path / "song"
    other.mkdir()
    (other / "summary.json").write_text(json.dumps({"study": "stdp-song", "status": "completed"}))
    cases = [
        ((str(other), "--to", "nest", "--out", str(tmp_path / "a.py")), "whose networks cannot be exported to NEST"),
        ((str(pattern_run), "--to", "nest", "--out", str(tmp_path / "a.py"), "--method", "bptt"),
         "has no network 'bptt'; saved: eprop-random"),
        ((str(pattern_run), "--to", "nest", "--out", str(tmp_path / "a.txt")), "'--out' must name a .py file"),
        ((str(tmp_path / "nothing"), "--to", "nest", "--out", str(tmp_path / "a.py")), "is not a run directory"),
        ((str(pattern_run), "--to", "brian3", "--out", str(tmp_path / "a.py")), "invalid choice: 'brian3'"),
    ]
    for args, message in cases:
        result = cli("export", *args)
        assert result.returncode == 2 and message in result.stderr, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1


def test_what_nest_cannot_express_is_named():
    config = make_config()
    weights = eprop.initial_weights(config, 1)
    with pytest.raises(nest_export.NotExportable, match="'t_ref' = 2.5 ms is not a whole number of steps of 1.0 ms"):
        nest_export.eprop_spec(dataclasses.replace(config, neuron_params={**config.neuron_params,
                                                                          "t_ref": 2.5 * b2.ms}), weights)
    with pytest.raises(nest_export.NotExportable, match="the weights lack \\['w_rec'\\]"):
        nest_export.eprop_spec(config, {k: v for k, v in weights.items() if k != "w_rec"})
    with pytest.raises(RuntimeError, match="targets NEST 3.10.x .* found NEST 3.9.0"):
        nest_eprop.check_nest(types.SimpleNamespace(__version__="3.9.0"))
    assert os.path.basename(nest_eprop.__file__) == "nest_eprop.py"
