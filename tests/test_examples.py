"""The scripts in examples/ at tiny sizes, each against an answer computed here independently.

The examples are not a package: each file is imported from its path. They run on the runtime device
with numpy code generation (no compilation for tiny networks).
"""

import importlib.util
import os

import brian2 as b2
import numpy as np
import pandas as pd
import pytest

from brian2learn import analysis

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")

pytestmark = pytest.mark.usefixtures("numpy_runtime", "numpy_random_state")  # tests/conftest.py


@pytest.fixture
def numpy_random_state():
    """``b2.seed`` seeds numpy's global generator too: put it back afterwards."""
    state = np.random.get_state()
    yield
    np.random.set_state(state)


def load_example(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", os.path.join(EXAMPLES, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_eprop_own_task_loss_falls_from_that_of_a_silent_readout():
    example = load_example("eprop_own_task")
    n_steps = 100
    result = example.main(n_iterations=30, n_rec=20, trial=n_steps * b2.ms, learning_rate=0.03, device="runtime")
    targets = example.make_task(n_steps)["targets"]  # (2, n_steps, 1); the batch holds both trials
    # Untrained, the readout is nearly silent (y ~ 0): the loss is 0.5 sum_t y*^2, averaged over the batch
    # (sin and cos - 1 over one period: 0.5 * n_steps * (0.5 + 1.5) / 2 = 50).
    silent = 0.5 * np.sum(targets ** 2) / 2
    assert silent == pytest.approx(50.0, rel=1e-9)
    assert result["first_loss"] == pytest.approx(silent, rel=0.05)
    assert result["last_loss"] < 0.85 * result["first_loss"]
    assert len(result["history"]) == 30 and np.all(np.isfinite(result["history"]["loss"]))
    # The last trained trial shows pattern 1; its recorded readout beats silence on its own target.
    out = result["last_output"]
    np.testing.assert_allclose(out["y_target"][0], targets[1, :, 0], atol=1e-12)
    assert 0.5 * np.sum((out["y"][0] - targets[1, :, 0]) ** 2) < 0.5 * np.sum(targets[1] ** 2)


def replay_pair_stdp(result, n_inputs, mu, params):
    """The pair rule (all-to-all, clipped to [0, 1]) applied by hand to the recorded spikes, in time order.

    Within one step Brian2 runs the presynaptic pathway before the postsynaptic one, so a pre spike
    sees the post trace before a post spike of the same step, and a post spike sees that pre spike.
    """
    syn_i, syn_j = result["synapses"]
    (pre_i, pre_t), (post_i, post_t) = result["pre_spikes"], result["post_spikes"]
    times = np.concatenate([pre_t, post_t])
    kinds = np.concatenate([np.zeros(pre_t.size, int), np.ones(post_t.size, int)])
    neurons = np.concatenate([pre_i, post_i])
    tau_pre, tau_post = float(params["tau_pre"]), float(params["tau_post"])
    trace_pre, last_pre = np.zeros(n_inputs), np.zeros(n_inputs)
    trace_post, last_post = np.zeros(syn_j.max() + 1), np.zeros(syn_j.max() + 1)
    w = result["w_initial"].copy()
    for k in np.lexsort((kinds, times)):
        t, n = times[k], neurons[k]
        if kinds[k] == 0:
            s = syn_i == n
            a_post = trace_post[syn_j[s]] * np.exp(-(t - last_post[syn_j[s]]) / tau_post)
            w[s] = np.clip(w[s] - params["A_minus"] * w[s] ** mu * a_post, 0.0, 1.0)
            trace_pre[n] = trace_pre[n] * np.exp(-(t - last_pre[n]) / tau_pre) + 1.0
            last_pre[n] = t
        else:
            trace_post[n] = trace_post[n] * np.exp(-(t - last_post[n]) / tau_post) + 1.0
            last_post[n] = t
            s = syn_j == n
            a_pre = trace_pre[syn_i[s]] * np.exp(-(t - last_pre[syn_i[s]]) / tau_pre)
            w[s] = np.clip(w[s] + params["A_plus"] * (1.0 - w[s]) ** mu * a_pre, 0.0, 1.0)
    return w


@pytest.mark.parametrize("mu", [0.0, 1.0])
def test_stdp_own_network_weights_follow_the_pair_rule_within_bounds(mu):
    example = load_example("stdp_own_network")
    n_inputs = 200
    result = example.main(n_inputs=n_inputs, input_rate=75 * b2.Hz, duration=2 * b2.second, mu=mu,
                          device="runtime", record_spikes=True)
    syn_i, syn_j = result["synapses"]
    np.testing.assert_array_equal(syn_i, np.tile(np.arange(n_inputs), example.N_POST))  # order of w_initial
    np.testing.assert_array_equal(syn_j, np.repeat(np.arange(example.N_POST), n_inputs))
    assert np.all(result["rate_hz"] > 1.0)  # every neuron fires, so potentiation happens
    np.testing.assert_allclose(result["rate_hz"] * 2.0, np.bincount(result["post_spikes"][0], minlength=3))
    w = result["w_final"]
    assert np.all((w >= 0.0) & (w <= 1.0))
    assert np.max(np.abs(w - result["w_initial"])) > 0.05
    np.testing.assert_allclose(w, replay_pair_stdp(result, n_inputs, mu, example.STDP), rtol=0, atol=1e-9)
    assert result["near_0_final"] == np.mean(w < 0.1) and result["near_1_final"] == np.mean(w > 0.9)


def test_rflo_rate_network_first_loss_is_a_numpy_forward_pass_and_loss_falls():
    example = load_example("rflo_rate_network")
    period, n_rec = 30, 10
    result = example.main(n_trials=500, n_rec=n_rec, period=period, device="runtime")
    # The loss of trial 0 (before its update), from the initial weights with a plain loop (Murray 2019, eq. 1).
    w, target = result["weights"], example.make_target(period)[:, 0]
    h, y = w["h0"].copy(), [0.0]  # the output at t = 0 is 0 by convention
    for _ in range(1, period):
        h = h + (-h + np.tanh(w["w_rec"] @ h + w["w_in"] @ np.zeros(1))) / example.TAU
        y.append((w["w_out"] @ h)[0])
    assert result["first_loss"] == pytest.approx(np.sum((target - np.array(y)) ** 2) / (2 * period), rel=1e-9)
    assert result["last_loss"] < 0.6 * result["first_loss"]
    assert result["last_angle_deg"] < result["first_angle_deg"]  # W_out turns towards B^T
    np.testing.assert_allclose(result["last_output"]["y_target"][0], target)


def test_analyse_run_spikes_equals_a_hand_count_of_the_made_up_frame():
    table = load_example("analyse_run_spikes").main().set_index("group")
    # inputs: 4 neurons, spikes (neuron, ms) (0,1) (1,2) (0,5) (3,5) (0,12) in one 20 ms trial, 4 synapses each
    # recurrent: 4 neurons, spikes (2,3) (2,4) (1,15), 2 synapses each
    expected = pd.DataFrame({
        "mean_rate_hz": [5 / (4 * 0.02), 3 / (4 * 0.02)],
        "silent_fraction": [1 / 4, 2 / 4],  # neuron 2; neurons 0 and 3
        "active_per_bin": [(3 / 4 + 1 / 4) / 2, (1 / 4 + 1 / 4) / 2],  # 10 ms bins: {0,1,3} {0}; {2} {1}
        "spike_count": [5, 3],
        "synaptic_operations": [5 * 4, 3 * 2],
        "energy_complexity": [2, 1],  # neurons 0 and 3 at 5 ms
        "mean_fraction_active": [5 / (4 * 20), 3 / (4 * 20)],  # neuron-steps with a spike / (N * 20 steps)
    }, index=pd.Index(["inputs", "recurrent"], name="group"))
    assert list(table["method"]) == ["handmade", "handmade"]
    pd.testing.assert_frame_equal(table[expected.columns], expected, check_dtype=False, check_index_type=False)


def test_analyse_run_spikes_reads_a_saved_frame_with_two_trials(tmp_path):
    # Neuron 1 twice in trial 0 (one step, 3 ms), neuron 0 in trial 1 at 7 ms; trials of 10 ms, 2 neurons.
    frame = analysis.spikes_to_dataframe([1, 1, 0], [3, 3, 17] * b2.ms, group="recurrent", trial_duration=10 * b2.ms)
    path = tmp_path / "spikes.parquet"
    analysis.save_spikes(frame, path)
    table = load_example("analyse_run_spikes").main(str(path), n_neurons={"recurrent": 2},
                                                      out_degree={"recurrent": 3}, trial=10 * b2.ms,
                                                      dt=1 * b2.ms, bin_size=5 * b2.ms)
    row = table.iloc[0]
    assert len(table) == 1 and row["method"] == "run" and row["group"] == "recurrent"
    assert row["mean_rate_hz"] == pytest.approx(3 / (2 * 0.02))
    assert row["silent_fraction"] == pytest.approx(1 / 2)  # 4 neuron-trials, neuron 0 in trial 0 and 1 in 1
    assert row["active_per_bin"] == pytest.approx((1 / 2 + 0 + 0 + 1 / 2) / 4)  # bins of 5 ms, 2 per trial
    assert (row["spike_count"], row["synaptic_operations"], row["energy_complexity"]) == (3, 9, 1)
    assert row["mean_fraction_active"] == pytest.approx(2 / (2 * 20))  # the double spike counts once
