"""Time-to-first-spike model: closed form against Brian2, exact gradients against finite differences."""

import argparse
import json
import os

import brian2 as b2
import numpy as np
import pandas as pd
import pytest

from brian2learn.models import ttfs as model
from brian2learn.models.ttfs_substrate import Brian2Substrate
from brian2learn.plasticity import ttfs
from brian2learn.simulation.devices import DeviceRunner
from brian2learn.studies import ttfs_yinyang
from brian2learn.training.ttfs import TTFSTrainer


def params_for(ratio):
    params = dict(model.GOELTZ2021_PARAMS)
    params["tau_m"] = ratio * params["tau_s"]
    return params


# -- closed form --------------------------------------------------------------------------------------
@pytest.mark.parametrize("ratio", model.TAU_RATIOS)
def test_closed_form_matches_brian2(ratio):
    """Spike / no spike agree and times agree within 1e-4 tau_s at dt = 1e-5 tau_s (runtime, numpy)."""
    t_in = np.array([0.0, 0.1, 0.25, 0.4, np.inf])  # the last input never spikes
    rng = np.random.default_rng(ratio)
    gain = 1.0 if ratio == 1 else 1.5  # the PSP of tau_m = 2 tau_s peaks lower
    w = rng.normal(1.2, 1.2, size=(5, 24)) * gain
    w[:, 0] = [4.0, -2.0, 1.0, 0.0, 3.0]  # inhibition between excitations
    w[:, 1] = [0.5, 0.5, 0.5, 0.5, 9.0]  # stays below threshold
    w[:, 2] = [-3.0, 0.0, 0.0, 9.0, 0.0]  # fires late, after the inhibition fades
    duration = 1.2
    params = params_for(ratio)
    simulated = model.simulate_first_spikes(t_in, w, params, dt=1e-5 * params["tau_s"],
                                            duration=duration * params["tau_s"])
    closed = model.first_spike_times(t_in[None], w, tau_ratio=ratio)[0]
    within = closed < duration
    assert 5 <= within.sum() <= 20  # both outcomes are tested
    np.testing.assert_array_equal(np.isfinite(simulated), within)
    np.testing.assert_allclose(simulated[within], closed[within], atol=1e-4, rtol=0)


@pytest.mark.parametrize("ratio", model.TAU_RATIOS)
def test_closed_form_is_the_first_threshold_crossing(ratio):
    """On a fine grid the potential first reaches the threshold at the closed-form time (or never)."""
    rng = np.random.default_rng(10 + ratio)
    grid = np.linspace(0.0, 15.0, 150001)
    for _ in range(20):
        k = int(rng.integers(1, 7))
        t_in = rng.uniform(0.0, 2.0, k)
        w = rng.normal(1.0, 1.5, (k, 4))
        times, n_causal = model.first_spike_times(t_in, w, tau_ratio=ratio, return_causal=True)
        for n in range(4):
            u = model.membrane_potential(grid, t_in, w[:, n], ratio)
            above = np.flatnonzero(u >= 1.0)
            if above.size == 0:
                assert np.isinf(times[n]) and n_causal[n] == 0
            else:
                assert abs(grid[above[0]] - times[n]) <= 2e-4
                assert n_causal[n] == np.sum(t_in < times[n])


def test_lambert_w_branch_and_single_input():
    """One input of weight w (tau_m = tau_s): t = -W_0(-1/w), and w <= e never reaches threshold."""
    from scipy.special import lambertw

    for w in (2.8, 4.0, 10.0):
        expected = -lambertw(-1.0 / w, 0).real
        assert model.first_spike_times([0.0], [w], tau_ratio=1) == pytest.approx(expected, rel=1e-12)
        assert expected < 1.0  # before the PSP maximum: the rising crossing
    assert np.isinf(model.first_spike_times([0.0], [np.e - 1e-9], tau_ratio=1))
    # tau_m = 2 tau_s: u = w (e^{-t/2} - e^{-t}) peaks at w/4.
    assert np.isinf(model.first_spike_times([0.0], [4.0 - 1e-9], tau_ratio=2))
    w = 6.0
    assert model.first_spike_times([0.0], [w], tau_ratio=2) == pytest.approx(
        2 * np.log(2 / (1 + np.sqrt(1 - 4 / w))), rel=1e-12)


def test_batches_neurons_and_silent_inputs():
    rng = np.random.default_rng(3)
    t_in = rng.uniform(0, 2, (7, 5))
    t_in[2, 1] = np.inf
    t_in[4] = np.inf
    w = rng.normal(1.5, 1.0, (5, 6))
    batch = model.first_spike_times(t_in, w)
    assert batch.shape == (7, 6)
    assert np.isinf(batch[4]).all()
    for b in range(7):
        for n in range(6):
            single = model.first_spike_times(t_in[b], w[:, n])
            assert single == batch[b, n] or (np.isinf(single) and np.isinf(batch[b, n]))


# -- gradients ----------------------------------------------------------------------------------------
def robust_cases(ratio, n_cases, seed):
    """Random single-neuron cases that spike clearly (no input within 1e-3 of the spike, slope > 0.05)."""
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < n_cases:
        k = int(rng.integers(1, 8))
        t_in = rng.uniform(0.0, 2.0, (1, k))
        w = rng.normal(1.2, 1.5, (k, 1))
        t = model.first_spike_times(t_in, w, tau_ratio=ratio)
        if not np.isfinite(t[0, 0]) or np.min(np.abs(t_in - t[0, 0])) < 1e-3:
            continue
        s = t[0, 0] - t_in[0]
        slope = np.sum(w[:, 0] * model.psp_kernel_derivative(s, ratio))
        if slope > 0.05:
            cases.append((t_in, w, t))
    return cases


@pytest.mark.parametrize("ratio", model.TAU_RATIOS)
def test_gradients_match_finite_differences(ratio):
    h = 1e-6
    worst = 0.0
    for t_in, w, t in robust_cases(ratio, 40, seed=ratio):
        dt_dw, dt_dtin = ttfs.spike_time_gradients(t_in, w, t, tau_ratio=ratio)
        for k in range(w.shape[0]):
            step = np.zeros_like(w)
            step[k] = h
            fd_w = (model.first_spike_times(t_in, w + step, ratio) - model.first_spike_times(t_in, w - step, ratio))
            shift = np.zeros_like(t_in)
            shift[0, k] = h
            fd_t = (model.first_spike_times(t_in + shift, w, ratio) - model.first_spike_times(t_in - shift, w, ratio))
            for exact, fd in ((dt_dw[0, k, 0], fd_w[0, 0] / (2 * h)), (dt_dtin[0, k, 0], fd_t[0, 0] / (2 * h))):
                worst = max(worst, abs(exact - fd) / max(abs(exact), abs(fd), 1e-2))
    assert worst < 1e-5


@pytest.mark.parametrize("ratio", model.TAU_RATIOS)
def test_time_shift_invariance(ratio):
    rng = np.random.default_rng(5 + ratio)
    t_in = rng.uniform(0, 2, (50, 6))
    w = rng.normal(1.2, 1.2, (6, 8))
    t = model.first_spike_times(t_in, w, tau_ratio=ratio)
    spiking = np.isfinite(t)
    assert spiking.mean() > 0.3
    _, dt_dtin = ttfs.spike_time_gradients(t_in, w, t, tau_ratio=ratio)
    np.testing.assert_allclose(dt_dtin.sum(axis=1)[spiking], 1.0, atol=1e-10)
    assert (dt_dtin[:, :, ~spiking.any(axis=0)] == 0).all()
    shifted = model.first_spike_times(t_in + 0.7, w, tau_ratio=ratio)
    np.testing.assert_allclose(shifted[spiking], t[spiking] + 0.7, atol=1e-12)
    assert np.isinf(shifted[~spiking]).all()


@pytest.mark.parametrize("ratio", model.TAU_RATIOS)
def test_backpropagation_through_layers_matches_finite_differences(ratio):
    """Weight gradients of the loss of a 2-layer network against central differences of the closed form."""
    cfg = ttfs.TTFSConfig(layer_sizes=(4, 7, 3), tau_ratio=ratio, weight_init=((2.0, 1.0), (1.5, 0.8)))
    rng = np.random.default_rng(ratio)
    t_in = rng.uniform(0, 1.5, (6, 4))
    labels = rng.integers(0, 3, 6)
    weights = [w * (1.0 if ratio == 1 else 1.6) for w in ttfs.initial_weights(cfg, seed=ratio)]

    def mean_loss(ws):
        times = model.network_first_spike_times(t_in, ws, tau_ratio=ratio)
        return np.mean(ttfs.loss_and_gradient(times[-1], labels, t_missing=5.0)[0])

    times = model.network_first_spike_times(t_in, weights, tau_ratio=ratio)
    assert np.isfinite(times[-1]).mean() > 0.5 and np.isfinite(times[0]).mean() > 0.5
    _, dloss = ttfs.loss_and_gradient(times[-1], labels)
    grads, _ = ttfs.backward(t_in, weights, times, dloss, tau_ratio=ratio)
    h = 1e-6
    checked = 0
    for layer, w in enumerate(weights):
        for index in np.ndindex(w.shape):
            plus = [x.copy() for x in weights]
            minus = [x.copy() for x in weights]
            plus[layer][index] += h
            minus[layer][index] -= h
            fd = (mean_loss(plus) - mean_loss(minus)) / (2 * h)
            exact = grads[layer][index]
            assert abs(exact - fd) <= 1e-5 * max(abs(exact), abs(fd), 1e-2), (layer, index, exact, fd)
            checked += abs(exact) > 1e-6
    assert checked > 20


def test_loss_gradient_and_missing_spikes():
    t = np.array([[0.8, 1.1, 1.5], [1.2, 0.9, np.inf]])
    labels = np.array([0, 2])
    loss, grad = ttfs.loss_and_gradient(t, labels, xi=0.2, alpha=0.005, beta=1.0, t_missing=5.0)
    logits = -np.array([0.8, 1.1, 1.5]) / 0.2
    expected = -(logits[0] - np.log(np.exp(logits).sum())) + 0.005 * (np.exp(0.8) - 1)
    assert loss[0] == pytest.approx(expected, rel=1e-12)
    assert grad[1, 2] == 0.0  # no gradient for the missing spike
    h = 1e-6
    for n in range(3):
        step = np.zeros_like(t)
        step[0, n] = h
        fd = (ttfs.loss_and_gradient(t + step, labels)[0].mean() - ttfs.loss_and_gradient(t - step, labels)[0].mean())
        assert grad[0, n] == pytest.approx(fd / (2 * h), rel=1e-6)
    prediction, t_first = ttfs.classify(np.array([[1.0, 1.0, 2.0], [np.inf, np.inf, np.inf], [2.0, 0.5, 1.0]]))
    assert prediction.tolist() == [-1, -1, 1]
    assert t_first[2] == 0.5


def test_training_step_improves_a_small_problem():
    cfg = ttfs.TTFSConfig(layer_sizes=(3, 10, 2), batch_size=20, weight_init=((2.0, 1.0), (1.0, 0.8)))
    rng = np.random.default_rng(0)
    features = rng.uniform(0, 1, (100, 2))
    labels = (features[:, 0] > features[:, 1]).astype(int)
    t_in = np.concatenate([0.15 + 1.85 * features, np.full((100, 1), 0.9)], axis=1)
    trainer = TTFSTrainer(cfg, ttfs.initial_weights(cfg, 1))
    before = trainer.evaluate(t_in, labels)["loss"]
    for _ in range(30):
        trainer.train_epoch(t_in, labels, rng)
    after = trainer.evaluate(t_in, labels)
    assert after["loss"] < 0.6 * before
    assert after["accuracy"] > 0.9


# -- Brian2 substrate -----------------------------------------------------------------------------------
def test_batch_network_matches_the_closed_form_on_the_grid():
    """The layered batch network (runtime device) gives the closed-form times up to the step."""
    sizes = [3, 6, 2]
    params = params_for(1)
    holder = {}

    def build():
        holder["net"] = model.TTFSBatchNetwork(sizes, 3, params, dt=0.01 * params["tau_s"],
                                               duration=4.0 * params["tau_s"])
        return holder["net"]

    rng = np.random.default_rng(2)
    weights = [rng.normal(2.0, 1.0, (3, 6)), rng.normal(1.5, 0.8, (6, 2))]
    t_in = np.array([[0.15, 1.0, 0.9], [2.0, 0.3, 0.9], [np.inf, np.inf, np.inf]])
    values = model.batch_network_values(t_in, weights, sizes, 3, params, 0.01 * params["tau_s"],
                                        4.0 * params["tau_s"])
    runner = DeviceRunner(build, device="runtime")
    net = runner.run(values)
    net.check_synapse_order()
    recorded = net.spike_times()
    np.testing.assert_allclose(recorded[0][:2], np.round(t_in[:2] / 0.01) * 0.01, atol=1e-9)
    assert all(np.isinf(times[2]).all() for times in recorded)  # the silent copy
    hidden = model.first_spike_times(recorded[0], weights[0])
    both = np.isfinite(hidden)
    assert both.sum() >= 6
    np.testing.assert_array_equal(np.isfinite(recorded[1]), both)
    delay = recorded[1][both] - hidden[both]
    assert (delay >= -1e-9).all() and (delay <= 0.01 + 1e-9).all()  # detected at the next step
    # The gradient from recorded times is close to the closed-form one.
    _, dloss = ttfs.loss_and_gradient(recorded[2][:2], np.array([0, 1]))
    grads_sim, _ = ttfs.backward(recorded[0][:2], weights, [r[:2] for r in recorded[1:]], dloss)
    exact_times = model.network_first_spike_times(t_in[:2], weights)
    _, dloss_exact = ttfs.loss_and_gradient(exact_times[-1], np.array([0, 1]))
    grads_exact, _ = ttfs.backward(t_in[:2], weights, exact_times, dloss_exact)
    for g_sim, g_exact in zip(grads_sim, grads_exact):
        assert np.linalg.norm(g_sim - g_exact) <= 0.1 * np.linalg.norm(g_exact)


def test_brian2_substrate_pads_batches_and_trains():
    """The study's Brian2 forward pass (runtime device) splits samples into padded runs."""
    config = ttfs.TTFSConfig(layer_sizes=(5, 8, 3), batch_size=6)
    params = model.neuron_params(1)
    substrate = Brian2Substrate(config.layer_sizes, params, device="runtime", n_copies=4)
    rng = np.random.default_rng(4)
    t_in = np.concatenate([0.15 + 1.85 * rng.uniform(0, 1, (6, 4)), np.full((6, 1), 0.9)], axis=1)
    labels = rng.integers(0, 3, 6)
    trainer = TTFSTrainer(config, ttfs.initial_weights(config, 2), forward=substrate)
    try:
        times = substrate(t_in, trainer.weights)
        assert [t.shape for t in times] == [(6, 5), (6, 8), (6, 3)]
        assert substrate.runner.n_runs == 2
        exact = model.network_first_spike_times(times[0], trainer.weights)
        np.testing.assert_array_equal(np.isfinite(times[1]), np.isfinite(exact[0]))
        before = [w.copy() for w in trainer.weights]
        loss, _, _ = trainer.train_batch(t_in, labels)
        assert np.isfinite(loss).all()
        assert any(not np.array_equal(a, b) for a, b in zip(before, trainer.weights))
    finally:
        substrate.close()


# -- bad input and the study ----------------------------------------------------------------------------
@pytest.mark.parametrize("call, name", [
    (lambda: model.first_spike_times([0.0], [1.0], tau_ratio=3), "'tau_ratio'"),
    (lambda: model.first_spike_times([0.0, 1.0], np.ones((3, 2))), "'w'"),
    (lambda: model.first_spike_times([np.nan], [1.0]), "'t_in'"),
    (lambda: model.first_spike_times([0.0], [1.0], theta=0.0), "'theta'"),
    (lambda: model.validate_ttfs_params(dict(model.GOELTZ2021_PARAMS, tau_m=3 * b2.ms)), "'tau_m'"),
    (lambda: model.validate_ttfs_params(dict(model.GOELTZ2021_PARAMS, g_l=1.0)), "'g_l'"),
    (lambda: model.validate_ttfs_params(dict(model.GOELTZ2021_PARAMS, v_th=-70 * b2.mV)), "'v_th'"),
    (lambda: ttfs.TTFSConfig(layer_sizes=(5,)), "'layer_sizes'"),
    (lambda: ttfs.TTFSConfig(xi=0.0), "'xi'"),
    (lambda: ttfs.TTFSConfig(max_missing=(0.3,)), "'max_missing'"),
    (lambda: ttfs.loss_and_gradient(np.zeros((2, 3)), np.array([0, 3])), "'labels'"),
])
def test_bad_input_names_the_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()


@pytest.mark.parametrize("changes, name", [
    ({"epochs": 0}, "'--epochs'"), ({"substrate": "gpu"}, "'--substrate'"), ({"seed": -1}, "'--seed'"),
    ({"tau_ratio": 3}, "'--tau-ratio'"), ({"device": "cuda"}, "'--device'"),
])
def test_study_rejects_bad_options(changes, name, tmp_path):
    parser = argparse.ArgumentParser()
    ttfs_yinyang.Options.add_arguments(parser)
    args = parser.parse_args(["--out", str(tmp_path)])
    for key, value in changes.items():
        setattr(args, key, value)
    with pytest.raises(ValueError, match=name):
        ttfs_yinyang.run(ttfs_yinyang.Options.from_args(args))


def test_study_runs_end_to_end(tmp_path, summary_vocabulary):
    parser = argparse.ArgumentParser()
    ttfs_yinyang.Options.add_arguments(parser)
    args = parser.parse_args(["--epochs", "2", "--seed", "3", "--out", str(tmp_path)])
    summary = ttfs_yinyang.run(ttfs_yinyang.Options.from_args(args))
    summary_vocabulary(summary, spiking=True)
    assert ttfs_yinyang.NAME == "ttfs-yinyang"
    with open(os.path.join(tmp_path, "summary.json"), encoding="utf-8") as handle:
        written = json.load(handle)
    assert written["status"] == "completed" and written["epochs_completed"] == 2
    assert set(written["accuracy"]) == {"train", "validation", "test"}
    assert written["accuracy"]["test"] > 0.6  # two epochs already learn most of the task
    assert written["target_met"] is None  # not a full run
    assert 0 < written["time_to_decision"]["mean_tau_s"] < 4
    assert written["spikes_per_classification"]["until_decision"] <= written["spikes_per_classification"][
        "hidden_and_output"]
    for name in written["figures"] + written["tables"]:
        assert os.path.getsize(os.path.join(tmp_path, name)) > 0
    curves = pd.read_parquet(os.path.join(tmp_path, "learning_curves.parquet"))
    assert curves["epoch"].tolist() == [0, 1]  # 0-based epoch index (table schema 2)
    outputs = pd.read_parquet(os.path.join(tmp_path, "test_outputs.parquet"))
    assert len(outputs) == 1000 and (outputs["prediction"] == outputs["label"]).mean() == pytest.approx(
        summary["accuracy"]["test"])


def test_quantising_forward_gets_the_gradient_at_its_realised_weights():
    """Straight-through estimator: with a forward that runs quantised weights, the trainer's gradient is the
    derivative of the loss at the quantised weights (central differences), and a step smaller than half a
    quantisation level still moves the full-precision weights."""
    from brian2learn.models.ttfs_substrate import quantize_weights

    cfg = ttfs.TTFSConfig(layer_sizes=(4, 7, 3), weight_init=((2.0, 1.0), (1.5, 0.8)))
    rng = np.random.default_rng(3)
    t_in = rng.uniform(0, 1.5, (6, 4))
    labels = rng.integers(0, 3, 6)
    weights = ttfs.initial_weights(cfg, seed=3)
    ranges = [float(np.abs(w).max()) for w in weights]

    class QuantisingForward:
        def realised_weights(self, ws):
            return [quantize_weights(w, 4, r) for w, r in zip(ws, ranges)]

        def __call__(self, t, ws):
            return [np.asarray(t, dtype=float)] + model.network_first_spike_times(t, self.realised_weights(ws))

    forward = QuantisingForward()
    realised = forward.realised_weights(weights)
    assert not np.allclose(realised[0], weights[0])

    def mean_loss(ws):
        return np.mean(ttfs.loss_and_gradient(model.network_first_spike_times(t_in, ws)[-1], labels,
                                              cfg.xi, cfg.alpha, cfg.beta, cfg.t_missing)[0])

    trainer = TTFSTrainer(cfg, weights, forward=forward)
    _, grads, _ = trainer.gradients(t_in, labels)
    h = 1e-6
    checked = 0
    for layer, w in enumerate(realised):
        for index in list(np.ndindex(w.shape))[:12]:
            plus = [x.copy() for x in realised]
            minus = [x.copy() for x in realised]
            plus[layer][index] += h
            minus[layer][index] -= h
            fd = (mean_loss(plus) - mean_loss(minus)) / (2 * h)
            assert abs(grads[layer][index] - fd) <= 1e-5 * max(abs(fd), 1e-2), (layer, index)
            checked += abs(fd) > 1e-6
    assert checked > 5
    before = [w.copy() for w in trainer.weights]
    trainer.config.learning_rate = 1e-4  # far below one level (range / 7)
    trainer.train_batch(t_in, labels)
    assert any(np.abs(w - b).max() > 0 for w, b in zip(trainer.weights, before))
