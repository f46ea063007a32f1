"""Weight and node perturbation from a reward alone (plasticity.reward_perturbation) and the forward passes they use.

Independent answers: the readout's leaky filter written out in numpy, single-network runs, a hand-made task whose
reward a choice by one input channel earns.
"""

import numpy as np
import pytest

pytest.importorskip("jax")

from brian2learn.models.eprop_neurons import BELLEC2020_EVIDENCE_ACCUMULATION  # noqa: E402
from brian2learn.plasticity import bptt  # noqa: E402
from brian2learn.plasticity.reward_perturbation import (  # noqa: E402
    RewardPerturbationConfig,
    RewardPerturbationLearner,
    choices,
    rewards,
    task_rewards,
)

N_IN, N_REC, N_OUT, N_STEPS = 2, 12, 2, 60


def _network(seed=0):
    rng = np.random.default_rng(seed)
    weights = {"w_in": rng.normal(0.0, 0.6, (N_REC, N_IN)), "w_rec": rng.normal(0.0, 0.1, (N_REC, N_REC)),
               "w_out": rng.normal(0.0, 0.3, (N_OUT, N_REC))}
    np.fill_diagonal(weights["w_rec"], 0.0)
    return weights, bptt.network_params_from(BELLEC2020_EVIDENCE_ACCUMULATION, N_REC)


def _trials(n, seed):
    """Channel ``label`` fires at 200 Hz-like density through the trial; the choice ``label`` is rewarded, scored
    over the last 20 steps."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    inputs = np.zeros((n, N_STEPS, N_IN))
    inputs[np.arange(n), :, labels] = rng.random((n, N_STEPS)) < 0.3
    window = np.zeros((n, N_STEPS))
    window[:, -20:] = 1.0
    return inputs, labels, window


def test_readout_noise_adds_its_leaky_filter_and_leaves_the_spikes():
    weights, params = _network()
    inputs, _, _ = _trials(3, seed=1)
    rng = np.random.default_rng(2)
    out_noise = rng.normal(0.0, 0.5, (3, N_STEPS, N_OUT))
    plain = bptt.readout_batch(weights, inputs, params)
    traces = bptt.perturbed_batch(weights, inputs, params, np.zeros((3, N_STEPS, N_REC)), out_noise)
    filtered, expected = np.zeros((3, N_OUT)), np.empty_like(out_noise)
    for t in range(N_STEPS):  # y^t = kappa y^{t-1} + (1 - kappa) xi^t, the readout's own filter
        filtered = params.kappa * filtered + (1.0 - params.kappa) * out_noise[:, t]
        expected[:, t] = filtered
    np.testing.assert_allclose(traces["y"] - plain, expected, rtol=1e-10, atol=1e-12)
    spikes = np.stack([bptt.simulate(weights, x, params)["z"] for x in inputs])
    np.testing.assert_array_equal(traces["z"], spikes)


def test_current_noise_acts_as_an_input_current():
    """Noise on the recurrent currents equals an extra input channel per neuron with an identity weight."""
    weights, params = _network()
    inputs, _, _ = _trials(2, seed=3)
    noise = np.random.default_rng(4).normal(0.0, 0.3, (2, N_STEPS, N_REC))
    traces = bptt.perturbed_batch(weights, inputs, params, noise, np.zeros((2, N_STEPS, N_OUT)))
    extended = {**weights, "w_in": np.hstack([weights["w_in"], np.eye(N_REC)])}
    for k in range(2):
        reference = bptt.simulate(extended, np.hstack([inputs[k], noise[k]]), params)
        np.testing.assert_allclose(traces["y"][k], reference["y"], rtol=1e-10, atol=1e-12)
        np.testing.assert_array_equal(traces["z"][k], reference["z"])


def test_per_trial_weights_run_each_trial_with_its_own_network():
    inputs, _, _ = _trials(3, seed=5)
    networks = [_network(seed)[0] for seed in (10, 11, 12)]
    params = _network()[1]
    stacked = {name: np.stack([w[name] for w in networks]) for name in networks[0]}
    batch = bptt.readout_batch(stacked, inputs, params, per_trial_weights=True)
    for k, w in enumerate(networks):
        np.testing.assert_allclose(batch[k], bptt.readout_batch(w, inputs[k:k + 1], params)[0], rtol=1e-12)
    with pytest.raises(ValueError, match="per_trial_weights"):
        bptt.readout_batch(stacked, inputs[:2], params, per_trial_weights=True)


def test_choices_and_rewards_by_hand():
    readouts = np.zeros((2, 4, 2))
    readouts[0, 3, 1] = 1.0  # trial 0 votes 1 inside the window
    readouts[1, 0, 1] = 5.0  # trial 1 votes 1 only outside it, 0 inside
    readouts[1, 3, 0] = 0.1
    window = np.array([[0, 0, 1, 1], [0, 0, 1, 1]], dtype=float)
    np.testing.assert_array_equal(choices(readouts, window), [1, 0])
    np.testing.assert_array_equal(rewards(readouts, window, [1, 1]), [1.0, 0.0])


def test_weight_perturbation_estimate_is_the_reward_change_times_the_perturbation():
    """Redraw the update's perturbations from its documented seed and form the estimate in numpy."""
    weights, params = _network()
    inputs, labels, window = _trials(8, seed=6)
    learner = RewardPerturbationLearner(RewardPerturbationConfig("wp", weight_sigma=1.5), weights, params, seed=7)
    estimate = learner.update(inputs, labels, window)
    rng = np.random.default_rng([7, 0])
    sigma = {name: 1.5 * np.sqrt(np.mean(weights[name] ** 2)) for name in ("w_in", "w_rec", "w_out")}
    noise = {name: rng.normal(0.0, sigma[name], (8, *weights[name].shape)) for name in ("w_in", "w_rec", "w_out")}
    noise["w_rec"] *= 1.0 - np.eye(N_REC)
    reference = rewards(bptt.readout_batch(weights, inputs, params), window, labels)
    perturbed = np.array([rewards(bptt.readout_batch({n: weights[n] + noise[n][k] for n in noise}, inputs[k:k + 1],
                                                     params), window[k:k + 1], labels[k:k + 1])[0] for k in range(8)])
    assert np.any(perturbed != reference), "the test needs a perturbation that changes some reward"
    for name in noise:
        expected = np.einsum("k,k...->...", perturbed - reference, noise[name]) / (8 * sigma[name] ** 2)
        np.testing.assert_allclose(estimate[name], expected, rtol=1e-10, atol=1e-12)
    assert learner.history[0]["reference_reward"] == pytest.approx(reference.mean())


@pytest.mark.parametrize("rule", ["wp", "np"])
def test_perturbation_learns_to_choose_the_active_channel(rule):
    """Reward alone teaches the network to report which input channel fired (untrained it is near chance)."""
    weights, params = _network()
    config = RewardPerturbationConfig(rule, learning_rate=0.05, weight_sigma=0.5, current_sigma=0.5, readout_sigma=1.0)
    learner = RewardPerturbationLearner(config, weights, params, seed=1)
    held_inputs, held_labels, held_window = _trials(200, seed=99)

    def accuracy():
        return rewards(learner.readouts(held_inputs), held_window, held_labels).mean()

    before = accuracy()
    for update in range(40):
        learner.update(*_trials(16, seed=update))
    after = accuracy()
    assert before < 0.7
    assert after > 0.9, (before, after)


@pytest.mark.parametrize("loss", ["mse", "softmax"])
def test_task_rewards_are_minus_bptt_s_task_loss(loss):
    weights, params = _network()
    params = bptt.network_params_from(BELLEC2020_EVIDENCE_ACCUMULATION, N_REC, loss=loss)
    inputs, labels, window = _trials(5, seed=3)
    targets = np.zeros((5, N_STEPS, N_OUT))
    targets[np.arange(5), :, labels] = 1.0  # one-hot, or a target level for the squared error
    losses, _ = bptt.loss_and_gradients(weights, inputs, targets, window, params)  # JAX, the mean over the batch
    reward = task_rewards(bptt.readout_batch(weights, inputs, params), targets, window, loss)
    assert reward.shape == (5,)
    assert -reward.mean() == pytest.approx(losses["task_loss"], rel=1e-9)
    with pytest.raises(ValueError, match="'loss' must be 'mse' or 'softmax'"):
        task_rewards(np.zeros((1, 2, 2)), np.zeros((1, 2, 2)), np.ones((1, 2)), "hinge")


def test_supervised_update_with_plain_gradient_ascent_steps_by_the_rate_times_the_estimate():
    weights, params = _network()
    inputs, labels, window = _trials(6, seed=4)
    targets = np.zeros((6, N_STEPS, N_OUT))
    targets[np.arange(6), :, labels] = 1.0
    learner = RewardPerturbationLearner(RewardPerturbationConfig("np", learning_rate=0.01, optimizer_kind="gd"),
                                        weights, params, seed=2)
    estimate = learner.update_with(inputs, lambda y: task_rewards(y, targets, window, "mse"))
    for name in ("w_in", "w_rec", "w_out"):
        np.testing.assert_allclose(learner.weights[name], weights[name] * (1 - np.eye(N_REC) if name == "w_rec"
                                                                           else 1) + 0.01 * estimate[name],
                                   rtol=1e-12, atol=1e-15)
    reference = task_rewards(bptt.readout_batch(weights, inputs, params), targets, window, "mse")
    assert learner.history[0]["reference_reward"] == pytest.approx(reference.mean())
    assert np.any(estimate["w_out"] != 0) and learner.history[0]["changed"] == 1.0  # a continuous reward


def test_config_errors_name_the_parameter():
    with pytest.raises(ValueError, match="'rule'"):
        RewardPerturbationConfig("sgd")
    with pytest.raises(ValueError, match="'weight_sigma'"):
        RewardPerturbationConfig("wp", weight_sigma=0.0)
    with pytest.raises(ValueError, match="'optimizer_kind' must be 'adam' or 'gd'"):
        RewardPerturbationConfig("wp", optimizer_kind="sgd")


def test_at_discrete_levels_the_network_runs_rounded_and_wp_perturbs_by_one_level():
    weights, params = _network()
    levels = {name: (2.0 * float(np.max(np.abs(w))) / 3.0, 3.0) for name, w in weights.items()}  # 3 bits
    rounded = {name: np.clip(np.round(w / levels[name][0]), -3, 3) * levels[name][0] for name, w in weights.items()}
    inputs, labels, window = _trials(16, seed=8)
    learner = RewardPerturbationLearner(RewardPerturbationConfig("wp"), weights, params, seed=9, weight_levels=levels)
    np.testing.assert_array_equal(learner.readouts(inputs), bptt.readout_batch(rounded, inputs, params))
    estimate = learner.update(inputs, labels, window)
    rng = np.random.default_rng([9, 0])
    noise = {name: rng.normal(0.0, levels[name][0], (16, *weights[name].shape)) for name in ("w_in", "w_rec", "w_out")}
    noise["w_rec"] *= 1.0 - np.eye(N_REC)
    reference = rewards(bptt.readout_batch(rounded, inputs, params), window, labels)
    perturbed = np.array([rewards(bptt.readout_batch({n: rounded[n] + noise[n][k] for n in noise}, inputs[k:k + 1],
                                                     params), window[k:k + 1], labels[k:k + 1])[0] for k in range(16)])
    for name in noise:
        expected = np.einsum("k,k...->...", perturbed - reference, noise[name]) / (16 * levels[name][0] ** 2)
        np.testing.assert_allclose(estimate[name], expected, rtol=1e-10, atol=1e-12)
    assert np.any(perturbed != reference), "the test needs a perturbation that changes some reward"
    # Adam's first step (sign times its rate) lands in the full-precision weights where the estimate is nonzero
    moved = learner.weights["w_out"] - weights["w_out"]
    np.testing.assert_allclose(moved, 1e-3 * np.sign(estimate["w_out"]), atol=1e-9)
