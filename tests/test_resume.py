"""A training stopped after a checkpoint and continued from it gives the numbers of a training that never
stopped (e-prop: weights, Adam moments, history and the sampler's draws are all in the checkpoint)."""

import json

import brian2 as b2
import numpy as np
import pandas as pd
import pytest

from brian2learn.models.eprop_neurons import BELLEC2020_PATTERN_GENERATION
from brian2learn.plasticity import eprop
from brian2learn.training.eprop import EpropTrainer

N_IN, N_REC, N_STEPS = 8, 6, 50


def config():
    return eprop.EpropConfig(n_in=N_IN, n_rec=N_REC, n_out=1, n_steps=N_STEPS,
                             neuron_params=BELLEC2020_PATTERN_GENERATION, optimizer="adam", learning_rate=5e-3,
                             c_reg=10.0, f_target=10 * b2.Hz)


def sampler(draw, n_trials):
    """Fresh Poisson inputs for every draw (the k-th call gets draw = k), one target."""
    rng = np.random.default_rng(100 + draw)
    inputs = (rng.random((n_trials, N_STEPS, N_IN)) < 0.15).astype(float)
    targets = np.tile(np.sin(np.linspace(0, 2 * np.pi, N_STEPS))[None, :, None], (n_trials, 1, 1))
    return {"inputs": inputs, "targets": targets, "window": np.ones((n_trials, N_STEPS))}


def trainer(cfg):
    weights = eprop.initial_weights(cfg, 3)
    weights["w_in"] = weights["w_in"] * 4.0  # enough input to spike
    return EpropTrainer(cfg, weights, sampler, device="runtime", iterations_per_run=2)


class Stop(Exception):
    pass


def stop_after(iterations):
    def progress(done, total, metrics):
        if done >= iterations:
            raise Stop
    return progress


def test_continuing_from_a_checkpoint_gives_the_uninterrupted_numbers(tmp_path):
    cfg = config()
    with trainer(cfg) as whole:
        expected = whole.train(6)
        expected_state = {name: value.copy() for name, value in whole.state.items()}
        expected_output = whole.last_output["y"].copy()

    path = str(tmp_path / "checkpoint.npz")
    with trainer(cfg) as first, pytest.raises(Stop):
        first.train(6, checkpoint=path, progress=stop_after(4))  # stopped after two of three runs
    with trainer(cfg) as resumed:
        assert resumed.load_checkpoint(path) == 4
        history = resumed.train(2, checkpoint=path)
        pd.testing.assert_frame_equal(history, expected, check_exact=True)
        for name, value in expected_state.items():
            np.testing.assert_array_equal(resumed.state[name], value, err_msg=name)
        np.testing.assert_array_equal(resumed.last_output["y"], expected_output)
    assert np.any(expected_state["adam_v_rec"] != 0)  # the optimizer state mattered


def test_a_checkpoint_of_another_network_is_refused(tmp_path):
    path = str(tmp_path / "checkpoint.npz")
    with trainer(config()) as first:
        first.train(2, checkpoint=path)
    other = eprop.EpropConfig(n_in=N_IN, n_rec=N_REC + 1, n_out=1, n_steps=N_STEPS,
                              neuron_params=BELLEC2020_PATTERN_GENERATION)
    with trainer(other) as second, pytest.raises(ValueError, match="another size or configuration"):
        second.load_checkpoint(path)


def test_a_checkpoint_in_the_old_synapse_order_loads_the_same_matrices(tmp_path):
    from brian2learn.simulation.files import save_parameters

    cfg = config()
    with trainer(cfg) as first:
        state = {name: np.random.default_rng(k).normal(size=value.shape)
                 for k, (name, value) in enumerate(first.state.items())}
        expected = first.weights(state)
        # the same state written as before December 2026: synapses by postsynaptic neuron, no synapse_order
        old = eprop.post_major_connectivity(cfg)
        arrays = {}
        for name, values in state.items():
            group = "in" if name.endswith("_in") else "rec" if name.endswith("_rec") else None
            if group is None:
                arrays[f"state.{name}"] = values
                continue
            n_pre = cfg.n_in if group == "in" else cfg.n_rec
            matrix = np.full((cfg.n_rec, n_pre), np.nan)
            matrix[first.connectivity[group][1], first.connectivity[group][0]] = values
            arrays[f"state.{name}"] = matrix[old[group][1], old[group][0]]
        assert not np.array_equal(arrays["state.w_rec"], state["w_rec"])  # the orders differ
        path = str(tmp_path / "old.npz")
        save_parameters(path, arrays, checkpoint_iteration=2, history=[], draws=1, rule="e-prop",
                        feedback=first.feedback)
    with trainer(cfg) as second:
        second.load_checkpoint(path)
        for name, matrix in second.weights().items():
            assert np.array_equal(matrix, expected[name])
        assert np.array_equal(second.state["adam_v_in"], state["adam_v_in"])


def test_an_interrupted_study_resumed_gives_the_uninterrupted_tables(tmp_path):
    """eprop-pattern on the runtime device, 4 iterations in runs of 2: SIGTERM after the first run, then
    --resume; its losses and trained networks equal those of a run that was never stopped."""
    import os
    import signal
    import subprocess
    import sys

    from brian2learn.analysis import read_table
    from brian2learn.simulation.files import load_parameters

    cli = "import sys; from brian2learn.studies.cli import main; sys.exit(main(sys.argv[1:]))"
    args = ["run", "eprop-pattern", "--iterations", "4", "--iterations-per-run", "2", "--no-bptt", "--device",
            "runtime"]

    def study(*extra, **kwargs):
        return subprocess.Popen([sys.executable, "-c", cli, *args, *extra], stderr=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, text=True, **kwargs)

    whole = study("--out", str(tmp_path / "whole"))
    stopped = study("--out", str(tmp_path / "stopped"))
    for line in stopped.stderr:
        if "[eprop-pattern eprop-random] iteration 2/4" in line:
            stopped.send_signal(signal.SIGTERM)
            break
    assert stopped.wait(timeout=120) == 143, stopped.stderr.read()
    refused = study("--out", str(tmp_path / "stopped"))
    assert refused.wait(timeout=60) == 2 and "--resume to continue it" in refused.stderr.read()
    resumed = study("--out", str(tmp_path / "stopped"), "--resume")
    assert resumed.wait(timeout=180) == 0, resumed.stderr.read()
    assert whole.wait(timeout=180) == 0

    expected, got = tmp_path / "whole", tmp_path / "stopped"
    pd.testing.assert_frame_equal(read_table(got / "losses.parquet"), read_table(expected / "losses.parquet"),
                                  check_exact=True)
    for name in ("network_eprop-random.npz", "network_eprop-symmetric.npz"):
        a, b = load_parameters(got / name)[0], load_parameters(expected / name)[0]
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])
    summary = json.loads((got / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["resumed_at_iteration"] == {"eprop-random": 2}
    assert not os.path.exists(got / "eprop-random" / "checkpoint.npz")  # removed once the run completed
