"""e-prop in Brian2 against the BPTT reference, and runtime against cpp_standalone."""

import brian2 as b2
import numpy as np
import pytest

from brian2learn.models.eprop_neurons import BELLEC2020_EVIDENCE_ACCUMULATION, BELLEC2020_PATTERN_GENERATION
from brian2learn.plasticity import eprop
from brian2learn.training.eprop import EpropTrainer

N_IN, N_REC, N_STEPS = 12, 8, 150


def small_task(n_out, loss, seed=3):
    rng = np.random.default_rng(seed)
    inputs = (rng.random((1, N_STEPS, N_IN)) < 0.08).astype(float)
    window = np.zeros((1, N_STEPS))
    if loss == "mse":
        targets = np.sin(np.linspace(0, 4 * np.pi, N_STEPS))[None, :, None] * np.ones((1, 1, n_out))
        window[:] = 1.0
    else:
        targets = np.zeros((1, N_STEPS, n_out))
        targets[..., 1] = 1.0
        window[:, -40:] = 1.0 / 40
    return {"inputs": inputs, "targets": targets, "window": window}


def small_config(kind, loss, n_out, c_reg=50.0):
    if kind == "lif":
        params = dict(BELLEC2020_PATTERN_GENERATION)
        beta = None
    else:  # ALIF with refractoriness, half of the neurons adaptive
        params = dict(BELLEC2020_EVIDENCE_ACCUMULATION, tau_a=60 * b2.ms, t_ref=3 * b2.ms)
        beta = np.where(np.arange(N_REC) % 2 == 0, 0.0, 0.2) * b2.volt
    return eprop.EpropConfig(n_in=N_IN, n_rec=N_REC, n_out=n_out, n_steps=N_STEPS, neuron_params=params,
                             beta=beta, loss=loss, c_reg=c_reg, learning_rate=1e-3)


def small_weights(config, seed=5, recurrent=True, input_gain=None):
    weights = eprop.initial_weights(config, seed)
    gain = input_gain if input_gain is not None else (8.0 if config.neuron_params["input_scale"] == "1-alpha"
                                                       else 0.05)
    weights["w_in"] *= gain * float(config.neuron_params["v_th"]) / 0.03
    weights["w_rec"] *= float(config.neuron_params["v_th"]) / 0.03
    if not recurrent:
        weights["w_rec"][:] = 0.0
    return weights


def relative_error(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


@pytest.mark.parametrize("kind,loss,n_out", [("lif", "mse", 1), ("lif", "softmax", 2), ("alif", "mse", 2),
                                             ("alif", "softmax", 2)])
def test_eprop_gradient_equals_bptt_without_recurrent_weights(kind, loss, n_out):
    bptt = pytest.importorskip("brian2learn.plasticity.bptt", reason="BPTT reference needs the 'bptt' extra (JAX)")
    config = small_config(kind, loss, n_out)
    weights = small_weights(config, recurrent=False)
    task = small_task(n_out, loss)
    trainer = EpropTrainer(config, weights, task, feedback="symmetric", device="runtime", iterations_per_run=1)
    grads, metrics = trainer.gradients()
    params = bptt.network_params_from(config.neuron_params, N_REC, loss=loss, c_reg=config.c_reg,
                                      f_target=config.f_target)
    params = bptt.NetworkParams(**{**params.__dict__, "beta": np.asarray(config.beta)})
    reference, exact = bptt.loss_and_gradients(weights, task["inputs"][0], task["targets"][0], task["window"][0],
                                               params)
    assert np.isclose(metrics["loss"][0], reference["task_loss"], rtol=1e-9)
    assert np.isclose(metrics["reg_loss"][0], reference["reg_loss"], rtol=1e-9)
    assert metrics["rate_hz"][0] > 5, "the test network must spike to be meaningful"
    off_diagonal = ~np.eye(N_REC, dtype=bool)
    assert relative_error(grads["w_in"], exact["w_in"]) < 1e-6
    assert relative_error(grads["w_rec"][off_diagonal], exact["w_rec"][off_diagonal]) < 1e-6
    assert relative_error(grads["w_out"], exact["w_out"]) < 1e-6
    assert np.linalg.norm(exact["w_in"]) > 0


def test_eprop_is_an_approximation_with_recurrent_weights():
    """With recurrent weights e-prop drops the recurrent paths: close to, but not equal to BPTT."""
    bptt = pytest.importorskip("brian2learn.plasticity.bptt", reason="BPTT reference needs the 'bptt' extra (JAX)")
    config = small_config("lif", "mse", 1)
    weights = small_weights(config, recurrent=True)
    weights["w_rec"] *= 3.0
    task = small_task(1, "mse")
    trainer = EpropTrainer(config, weights, task, device="runtime", iterations_per_run=1)
    grads, _ = trainer.gradients()
    params = bptt.network_params_from(config.neuron_params, N_REC, c_reg=config.c_reg, f_target=config.f_target)
    _, exact = bptt.loss_and_gradients(weights, task["inputs"][0], task["targets"][0], task["window"][0], params)
    error = relative_error(grads["w_in"], exact["w_in"])
    cosine = np.sum(grads["w_in"] * exact["w_in"]) / np.linalg.norm(grads["w_in"]) / np.linalg.norm(exact["w_in"])
    assert error > 1e-6
    assert cosine > 0.5
    assert relative_error(grads["w_out"], exact["w_out"]) < 1e-9  # the readout gradient stays exact


@pytest.mark.parametrize("kind", ["lif", "alif"])
def test_brian2_spikes_equal_reference_spikes(kind):
    bptt = pytest.importorskip("brian2learn.plasticity.bptt", reason="BPTT reference needs the 'bptt' extra (JAX)")
    config = small_config(kind, "mse", 1)
    weights = small_weights(config, recurrent=True)
    task = small_task(1, "mse")
    trainer = EpropTrainer(config, weights, task, device="runtime", iterations_per_run=1)
    trainer.gradients()
    indices, times = trainer.last_spikes["recurrent"]
    brian_z = np.zeros((N_STEPS, N_REC))
    brian_z[np.round(times / float(config.dt)).astype(int), indices] = 1.0
    params = bptt.network_params_from(config.neuron_params, N_REC, c_reg=config.c_reg, f_target=config.f_target)
    params = bptt.NetworkParams(**{**params.__dict__, "beta": np.asarray(config.beta)})
    reference = bptt.simulate(weights, task["inputs"][0], params)
    assert brian_z.sum() > 20
    np.testing.assert_array_equal(brian_z, reference["z"])
    np.testing.assert_allclose(trainer.last_output["y"][0], reference["y"][:, 0], rtol=1e-9, atol=1e-12)


def _gd_config(feedback_decay=0.0):
    config = small_config("lif", "mse", 2)
    config.learning_rate = 5e-3
    config.feedback_decay = feedback_decay
    return config


@pytest.fixture(scope="module")
def standalone_and_runtime():
    """Five iterations of random-feedback training on both devices, and a second standalone run."""
    config = _gd_config()
    weights = small_weights(config, recurrent=True)
    feedback = eprop.random_feedback(config, 2)
    task = small_task(2, "mse")
    results = {}
    for device in ("runtime", "cpp_standalone"):
        trainer = EpropTrainer(config, weights, task, feedback="random", feedback_matrix=feedback, device=device,
                               iterations_per_run=5)
        history = trainer.train(5)
        results[device] = {"history": history, "weights": trainer.weights()}
        if device == "cpp_standalone":
            # A second training from new weights reuses the binary.
            binary_mtime = _binary_mtime(trainer.runner.project_directory)
            new_weights = small_weights(config, seed=11, recurrent=True)
            second = EpropTrainer(config, new_weights, task, feedback="random", feedback_matrix=feedback,
                                  runner=trainer.runner, iterations_per_run=5)
            results["second"] = {"history": second.train(5), "weights": second.weights(),
                                 "n_builds": trainer.runner.n_builds, "n_runs": trainer.runner.n_runs,
                                 "binary_unchanged": binary_mtime == _binary_mtime(trainer.runner.project_directory),
                                 "initial": new_weights}
            trainer.close()
    runtime_second = EpropTrainer(config, results["second"]["initial"], task, feedback="random",
                                  feedback_matrix=feedback, device="runtime", iterations_per_run=5)
    results["second_runtime"] = {"history": runtime_second.train(5), "weights": runtime_second.weights()}
    return results


def _binary_mtime(directory):
    import os

    return os.path.getmtime(os.path.join(directory, "main"))


def test_runtime_and_standalone_give_the_same_losses(standalone_and_runtime):
    runtime = standalone_and_runtime["runtime"]["history"]
    standalone = standalone_and_runtime["cpp_standalone"]["history"]
    assert len(runtime) == 5
    np.testing.assert_allclose(standalone["loss"], runtime["loss"], rtol=1e-6)
    np.testing.assert_allclose(standalone["rate_hz"], runtime["rate_hz"], rtol=1e-6)
    for name in ("w_in", "w_rec", "w_out", "B"):
        np.testing.assert_allclose(standalone_and_runtime["cpp_standalone"]["weights"][name],
                                   standalone_and_runtime["runtime"]["weights"][name], rtol=1e-6, atol=1e-12)
    assert not np.allclose(runtime["loss"].iloc[0], runtime["loss"].iloc[-1]), "the weights must learn"


def test_second_run_with_new_weights_does_not_rebuild(standalone_and_runtime):
    second = standalone_and_runtime["second"]
    assert second["n_builds"] == 1
    assert second["n_runs"] == 2
    assert second["binary_unchanged"]
    # The re-run really used the new weights: it equals a runtime simulation started from them.
    np.testing.assert_allclose(second["history"]["loss"], standalone_and_runtime["second_runtime"]["history"]["loss"],
                               rtol=1e-6)
    assert not np.allclose(second["history"]["loss"], standalone_and_runtime["cpp_standalone"]["history"]["loss"])


def test_random_feedback_stays_fixed_and_symmetric_follows_w_out():
    config = _gd_config()
    weights = small_weights(config)
    task = small_task(2, "mse")
    feedback = eprop.random_feedback(config, 2)
    random = EpropTrainer(config, weights, task, feedback="random", feedback_matrix=feedback, device="runtime",
                          iterations_per_run=3)
    random.train(3)
    np.testing.assert_array_equal(random.weights()["B"], feedback)
    symmetric = EpropTrainer(config, weights, task, feedback="symmetric", device="runtime", iterations_per_run=3)
    symmetric.train(3)
    after = symmetric.weights()
    assert not np.allclose(after["w_out"], weights["w_out"])
    np.testing.assert_array_equal(after["B"], after["w_out"].T)
    adaptive = EpropTrainer(config, weights, task, feedback="adaptive", feedback_matrix=feedback, device="runtime",
                            iterations_per_run=3)
    adaptive.train(3)
    moved = adaptive.weights()
    # B received exactly the updates of W_out.
    np.testing.assert_allclose(moved["B"] - feedback, (moved["w_out"] - weights["w_out"]).T, atol=1e-12)


def test_gradient_descent_step_is_minus_learning_rate_times_mean_gradient():
    config = _gd_config()
    config.batch_size = 2
    weights = small_weights(config)
    task = small_task(2, "mse")
    probe = EpropTrainer(config, weights, task, device="runtime", iterations_per_run=1)
    grads, _ = probe.gradients()
    trainer = EpropTrainer(config, weights, task, device="runtime", iterations_per_run=1)
    trainer.train(1)
    after = trainer.weights()
    for name in ("w_in", "w_rec", "w_out"):
        expected = weights[name] - config.learning_rate * grads[name]
        np.testing.assert_allclose(after[name], expected, rtol=1e-9, atol=1e-14)
        assert not np.allclose(after[name], weights[name])


@pytest.mark.parametrize("epsilon_form", ["kingma_ba", "tensorflow"])
def test_adam_and_clipping(epsilon_form):
    config = _gd_config()
    config.optimizer = "adam"
    config.adam_epsilon_form = epsilon_form
    config.weight_clip = (-0.05 * b2.volt, 0.05 * b2.volt)
    weights = small_weights(config)
    task = small_task(2, "mse")
    probe = EpropTrainer(config, weights, task, device="runtime", iterations_per_run=1)
    grads, _ = probe.gradients()
    trainer = EpropTrainer(config, weights, task, device="runtime", iterations_per_run=1)
    trainer.train(1)
    after = trainer.weights()
    # Adam's first bias-corrected step is -lr * g / (|g| + eps'): -lr * sign(g) where g is not tiny, with
    # eps' = eps (Kingma & Ba) or eps / sqrt(1 - beta2) (TensorFlow: constant epsilon-hat).
    eps = 1e-8 if epsilon_form == "kingma_ba" else 1e-8 / np.sqrt(1 - config.adam_beta2)
    expected = weights["w_out"] - config.learning_rate * grads["w_out"] / (np.abs(grads["w_out"]) + eps)
    np.testing.assert_allclose(after["w_out"], expected, rtol=1e-9, atol=1e-15)
    expected_in = np.clip(weights["w_in"] - config.learning_rate * grads["w_in"] / (np.abs(grads["w_in"]) + eps),
                          -0.05, 0.05)
    np.testing.assert_allclose(after["w_in"], expected_in, rtol=1e-9, atol=1e-15)
    assert np.max(np.abs(after["w_in"])) <= 0.05


@pytest.mark.parametrize("kind,loss", [("lif", "mse"), ("alif", "softmax")])
def test_online_traces_and_trial_end_closed_form_agree(kind, loss):
    """The gradient accumulated online per synapse equals the closed form at the trial's end."""
    n_out = 1 if loss == "mse" else 2
    task = small_task(n_out, loss)
    gradients = {}
    for engine in ("online", "trial_end"):
        config = small_config(kind, loss, n_out)
        config.engine = engine
        config.batch_size = 2
        weights = small_weights(config, recurrent=True)
        weights["w_rec"] *= 2.0
        trainer = EpropTrainer(config, weights, task, feedback="random",
                               feedback_matrix=eprop.random_feedback(config, 4), device="runtime", iterations_per_run=1)
        gradients[engine], metrics = trainer.gradients()
        assert metrics["rate_hz"][0] > 5
    for name in ("w_in", "w_rec", "w_out"):
        assert np.linalg.norm(gradients["online"][name]) > 0
        np.testing.assert_allclose(gradients["trial_end"][name], gradients["online"][name], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("kind,loss", [("lif", "mse"), ("alif", "softmax")])
def test_nest_late_learning_signal_drops_one_term_on_inputs_that_spike_in_step_one(kind, loss):
    """NEST's lazy update: inputs spiking in step 1 of the next trial lose L_j^{T-1} ebar_ji^{T-1}.

    The online engine subtracts the term from its per-synapse trace ebar; the trial-end engine
    from a second backward pass over the last step's learning signal. Both must agree, change
    only the columns of the channels that spike in step 1, and leave the other weights' gradients
    as they are without the option.
    """
    n_out = 1 if loss == "mse" else 2
    task = small_task(n_out, loss)
    task["inputs"][:, 1, :] = 0.0
    task["inputs"][:, 1, :2] = 1.0  # channels 0 and 1 spike in step 1 of every trial
    gradients = {}
    for engine in ("online", "trial_end"):
        for late in (False, True):
            config = small_config(kind, loss, n_out)
            config.engine = engine
            config.batch_size = 2  # trial 0's next trial is trial 1; trial 1's is trial 0 of the stimulus again
            config.nest_late_learning_signal = late
            weights = small_weights(config, recurrent=True)
            weights["w_rec"] *= 2.0
            trainer = EpropTrainer(config, weights, task, feedback="random",
                                   feedback_matrix=eprop.random_feedback(config, 4), device="runtime",
                                   iterations_per_run=1)
            gradients[engine, late], _ = trainer.gradients()
    differences = {}
    for engine in ("online", "trial_end"):
        plain, late = gradients[engine, False], gradients[engine, True]
        differences[engine] = late["w_in"] - plain["w_in"]
        assert np.abs(differences[engine][:, :2]).max() > 1e-9
        np.testing.assert_array_equal(differences[engine][:, 2:], 0.0)
        for name in ("w_rec", "w_out"):
            np.testing.assert_array_equal(late[name], plain[name])
    scale = np.abs(differences["online"]).max()
    np.testing.assert_allclose(differences["trial_end"], differences["online"], rtol=1e-7, atol=1e-9 * scale)
