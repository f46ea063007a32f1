"""Trained networks saved with what rebuilds them, and a run directory read back (brian2learn.load_run)."""

import json
import subprocess
import sys

import brian2 as b2
import numpy as np
import pandas as pd
import pytest

import brian2learn
from brian2learn.analysis import save_spikes, spikes_to_dataframe, write_table
from brian2learn.models.eprop_neurons import BELLEC2020_EVIDENCE_ACCUMULATION
from brian2learn.plasticity import eprop
from brian2learn.simulation.files import load_parameters, parse_quantity, quantity_text, restore_quantities
from brian2learn.studies.common import save_network, write_summary
from brian2learn.studies.options import StudyOptions
from brian2learn.training.eprop import EpropTrainer


@pytest.mark.parametrize("value", [30 * b2.ms, 17.43 * b2.mV, 10 * b2.Hz, 0.3 * b2.nS, 2 * b2.mV / b2.ms,
                                   -1.5e-3 * b2.volt])
def test_quantities_survive_their_text(value):
    text = quantity_text(value)
    assert isinstance(text, str) and parse_quantity(text) == value


def test_arrays_of_quantities_and_other_values_survive_the_metadata():
    model = {"beta": np.array([0.0, 0.2]) * b2.volt, "input_scale": "1-alpha", "gamma": 0.3, "clip": None}
    back = restore_quantities(json.loads(json.dumps(quantity_text(model))))
    assert back["input_scale"] == "1-alpha" and back["gamma"] == 0.3 and back["clip"] is None
    assert b2.have_same_dimensions(back["beta"], b2.volt)
    np.testing.assert_array_equal(np.asarray(back["beta"]), [0.0, 0.2])


@pytest.mark.parametrize("text", ["__import__('os').getcwd()", "1. * nonsense", "().__class__", "open('x')"])
def test_only_numbers_and_units_are_read(text):
    with pytest.raises(ValueError):
        parse_quantity(text)


def test_a_saved_network_rebuilt_from_its_file_continues_the_training(tmp_path):
    # ALIF network with refractoriness (units of every kind in the model); plain gradient descent, so that
    # the weights are the whole learning state
    rng = np.random.default_rng(2)
    params = dict(BELLEC2020_EVIDENCE_ACCUMULATION, tau_a=60 * b2.ms, t_ref=3 * b2.ms)
    config = eprop.EpropConfig(n_in=6, n_rec=5, n_out=1, n_steps=60, neuron_params=params,
                               beta=np.array([0.0, 0.2, 0.0, 0.2, 0.1]) * b2.volt, c_reg=20.0, learning_rate=5e-3)
    task = {"inputs": (rng.random((1, 60, 6)) < 0.2).astype(float),
            "targets": np.sin(np.linspace(0, 2 * np.pi, 60))[None, :, None], "window": np.ones((1, 60))}
    weights = eprop.initial_weights(config, 4)
    weights["w_in"] = weights["w_in"] * 3  # enough input to spike
    with EpropTrainer(config, weights, task, device="runtime", iterations_per_run=4) as reference:
        history = reference.train(4)
    with EpropTrainer(config, weights, task, device="runtime", iterations_per_run=3) as first:
        first.train(3)
        name = save_network(str(tmp_path), "eprop-symmetric", first.weights(), "test-study", StudyOptions(),
                            model=quantity_text(vars(config)), feedback="symmetric")
    arrays, metadata = load_parameters(tmp_path / name)
    assert metadata["study"] == "test-study" and metadata["method"] == "eprop-symmetric"
    rebuilt = eprop.EpropConfig(**restore_quantities(metadata["model"]))
    with EpropTrainer(rebuilt, arrays, task, feedback=metadata["feedback"], device="runtime",
                      iterations_per_run=1) as resumed:
        continued = resumed.train(1)
    assert continued["loss"].iloc[0] == pytest.approx(history["loss"].iloc[3], rel=1e-12)


def test_load_run_gives_summary_tables_spikes_and_networks(tmp_path):
    write_summary(str(tmp_path), {"study": "test-study", "status": "completed"})
    write_table(pd.DataFrame({"iteration": [0, 1], "loss": [2.0, 1.0]}), tmp_path / "losses.parquet")
    spikes = spikes_to_dataframe([0, 2], [0.001, 0.004], group="recurrent")
    save_spikes(spikes, tmp_path / "spikes_last_trial.parquet")
    pd.DataFrame({"method": ["a"], "t": [0.002], "y": [0.5]}).to_parquet(tmp_path / "old_outputs.parquet")
    save_network(str(tmp_path), "gd", {"w": np.eye(2)}, "test-study", StudyOptions(seed=3), model={"dt": 1 * b2.ms})
    run = brian2learn.load_run(tmp_path)
    assert run.study == "test-study" and run.status == "completed"
    assert sorted(run.tables) == ["losses", "old_outputs", "spikes_last_trial"]
    pd.testing.assert_frame_equal(run.tables["spikes_last_trial"], spikes)
    assert list(run.tables["old_outputs"].columns) == ["method", "t_s", "y"]  # written before the convention
    arrays, metadata = run.parameters["network_gd"]
    np.testing.assert_array_equal(arrays["w"], np.eye(2))
    assert metadata["options"]["seed"] == 3 and parse_quantity(metadata["model"]["dt"]) == 1 * b2.ms
    with pytest.raises(ValueError, match="is not a run directory"):
        brian2learn.load_run(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no summary.json"):
        brian2learn.load_run(tmp_path / "empty")


def test_importing_brian2learn_imports_no_simulator():
    code = "import sys, brian2learn; print('brian2' in sys.modules, callable(brian2learn.load_run))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.split() == ["False", "True"]


def test_ttfs_robustness_reads_the_ttfs_network_and_the_older_weights_file(tmp_path):
    from brian2learn.plasticity import ttfs
    from brian2learn.studies import ttfs_robustness

    config = ttfs.TTFSConfig()
    weights = ttfs.initial_weights(config, 1)
    name = save_network(str(tmp_path), "ttfs", {f"w_{k}": w for k, w in enumerate(weights)}, "ttfs-yinyang",
                        StudyOptions(), model=quantity_text(vars(config)))
    np.savez(tmp_path / "weights.npz", *weights)  # as ttfs-yinyang wrote it before
    for path in (tmp_path / name, tmp_path / "weights.npz"):
        loaded = ttfs_robustness.load_weights(str(path), config)
        assert len(loaded) == len(weights)
        for got, expected in zip(loaded, weights):
            np.testing.assert_array_equal(got, expected)


def test_stdp_assemblies_saves_every_trained_network_and_its_sham_twin(tmp_path, monkeypatch, numpy_runtime):
    """A tiny stdp-assemblies run on the runtime device (one point, one seed, with its sham twin): the saved
    weights are those the network ended with, and the saved model and indices rebuild its connectivity."""
    from brian2learn.plasticity import assembly_network as an
    from brian2learn.simulation.devices import DeviceRunner
    from brian2learn.studies import stdp_assemblies as sa

    monkeypatch.setattr(an, "INPUTS", {**an.INPUTS, "n_active": 10})
    monkeypatch.setattr(sa, "NETWORK", {**an.NETWORK, "n_exc": 30, "n_inh": 8, "n_in": 40, "p_in": 0.2,
                                        "p_ei": 1.0, "p_ie": 1.0})
    protocol = {"noise_1": 0.1, "encoding": 0.5, "noise_2": 0.1, "n_test": 1, "test_gap_range": (0.15, 0.2),
                "n_association": 1, "gap_range": (0.3, 0.6), "noise_3": 0.1}
    monkeypatch.setattr(sa, "MODES", {**sa.MODES, "quick": {"protocol": protocol, "eta": 1.0}})
    final = []  # the weights of every run, read from the network in memory right after it
    original = DeviceRunner.run

    def run(self, *args, **kwargs):
        model = original(self, *args, **kwargs)
        final.append({"w_in": np.array(model.syn_in.w[:]), "w_ee": np.array(model.syn_ee.w[:])})
        return model

    monkeypatch.setattr(DeviceRunner, "run", run)
    summary = sa.run(sa.Options(quick=True, device="runtime", gamma_exc=1.0, gamma_w=1.0, seeds=(3,),
                                out=str(tmp_path)))
    assert summary["networks"] == ["network_point_seed3.npz", "network_point_seed3_sham.npz"]
    loaded = brian2learn.load_run(tmp_path)
    assert loaded.summary["networks"] == summary["networks"] and len(final) == 2
    for name, weights, sham in zip(summary["networks"], final, (False, True)):
        arrays, metadata = loaded.parameters[name[:-len(".npz")]]
        assert metadata["study"] == "stdp-assemblies" and metadata["sham"] is sham and metadata["seed"] == 3
        assert metadata["gamma_exc"] == 1.0 and metadata["gamma_w"] == 1.0
        for key in ("w_in", "w_ee"):
            np.testing.assert_array_equal(arrays[key], weights[key])
        config = an.AssemblyConfig(**restore_quantities(metadata["model"]))
        assert config.network["n_exc"] == 30 and config.network["dt"] == 1 * b2.ms
        conn = an.connectivity(config)
        for pathway in ("in", "ee"):
            np.testing.assert_array_equal(arrays[f"i_{pathway}"], conn[pathway][0])
            np.testing.assert_array_equal(arrays[f"j_{pathway}"], conn[pathway][1])
        values, _, _, _ = an.initial_values(config, conn, 1.0, 1.0, 3)
        np.testing.assert_array_equal(np.asarray(arrays["b_exc"] / b2.mV), np.asarray(values["b_exc"] / b2.mV))
    assert not np.array_equal(final[0]["w_ee"], final[1]["w_ee"])  # the association changed the run's weights
