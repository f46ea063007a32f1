"""RFLO in Brian2 against a numpy loop, finite differences and the other device; BPTT (JAX) against finite
differences. One cpp_standalone build (module fixture) serves every standalone test."""

import numpy as np
import pytest

from brian2learn.models.rate_units import leaky_tanh_forward
from brian2learn.plasticity import rflo
from brian2learn.tasks.periodic_target import periodic_target_task
from brian2learn.training.rflo import RfloTrainer

CONFIG = rflo.RfloConfig(n_in=2, n_rec=6, n_out=2, n_points=20, tau=4.0, learning_rates=(0.05, 0.1, 0.1))
TRIALS_PER_RUN = 3


def small_task():
    task = periodic_target_task(n_points=CONFIG.n_points, period=10.0, n_in=CONFIG.n_in, n_out=CONFIG.n_out)
    task["inputs"] = np.random.default_rng(0).standard_normal((CONFIG.n_points, CONFIG.n_in))
    task["targets"][:, 1] *= -0.5
    return task


def loss_numpy(weights, task):
    out = leaky_tanh_forward(weights["w_rec"], weights["w_in"], weights["w_out"], weights["h0"],
                             task["inputs"][1:], CONFIG.tau)
    err = task["targets"] - out["y"]  # y[0] = 0 by convention
    return 0.5 * np.sum(err ** 2) / CONFIG.n_points


def rflo_numpy(weights, task, n_trials, rates=CONFIG.learning_rates):
    """RFLO written out as a plain loop over trials and steps (Murray 2019, offline updates)."""
    w = {key: np.array(value, dtype=float) for key, value in weights.items()}
    n_points, tau = CONFIG.n_points, CONFIG.tau
    losses, traces = [], []
    for _ in range(n_trials):
        h = w["h0"].copy()
        p, q = np.zeros_like(w["w_rec"]), np.zeros_like(w["w_in"])
        sums = {key: np.zeros_like(w[key]) for key in ("w_in", "w_rec", "w_out")}
        loss = np.sum(task["targets"][0] ** 2) / (2 * n_points)
        trial = {"p": [], "q": [], "L": [], "h": []}
        for t in range(1, n_points):
            x = task["inputs"][t]
            u = w["w_rec"] @ h + w["w_in"] @ x
            h_new = h + (-h + np.tanh(u)) / tau
            err = task["targets"][t] - w["w_out"] @ h_new
            loss += np.sum(err ** 2) / (2 * n_points)
            dphi = 1 - np.tanh(u) ** 2
            p = (1 - 1 / tau) * p + np.outer(dphi, h) / tau
            q = (1 - 1 / tau) * q + np.outer(dphi, x) / tau
            signal = w["B"] @ err
            sums["w_rec"] += signal[:, None] * p
            sums["w_in"] += signal[:, None] * q
            sums["w_out"] += np.outer(err, h_new)
            for key, value in (("p", p), ("q", q), ("L", signal), ("h", h_new)):
                trial[key].append(value.copy())
            h = h_new
        losses.append(loss)
        traces.append({key: np.array(value) for key, value in trial.items()})
        for key, rate in zip(("w_in", "w_rec", "w_out"), rates):
            w[key] = w[key] + rate * sums[key] / n_points
    return w, np.array(losses), traces


@pytest.fixture(scope="module")
def standalone(tmp_path_factory):
    weights = rflo.initial_weights(CONFIG, 3)
    trainer = RfloTrainer(CONFIG, weights, small_task(), device="cpp_standalone",
                               trials_per_run=TRIALS_PER_RUN, directory=str(tmp_path_factory.mktemp("rflo_build")),
                               record_traces=True)
    yield trainer
    trainer.close()


def fresh(trainer, weights):
    trainer.weights = {key: np.array(value, dtype=float) for key, value in weights.items()}
    trainer.trial = 0
    trainer.history = []


def test_traces_and_updates_equal_a_numpy_loop(standalone):
    weights = rflo.initial_weights(CONFIG, 3)
    fresh(standalone, weights)
    history = standalone.train(5)  # two runs of the build: the weights travel through run_args
    expected, losses, traces = rflo_numpy(weights, small_task(), 5)
    np.testing.assert_allclose(history["loss"], losses, rtol=1e-12)
    for key in ("w_in", "w_rec", "w_out"):
        np.testing.assert_allclose(standalone.weights[key], expected[key], rtol=1e-11, atol=1e-14)
    assert np.abs(standalone.weights["w_rec"] - weights["w_rec"]).max() > 1e-4, "W_rec must have learned"
    # The last run held trials 3 and 4; compare the per-step traces of trial 3 synapse by synapse.
    model = standalone.runner.model
    conn = standalone.connectivity
    steps = slice(0, CONFIG.n_updates)
    reference = traces[3]
    np.testing.assert_allclose(np.asarray(model.trace_monitors["p"].p)[:, steps],
                               reference["p"][:, conn["rec"][1], conn["rec"][0]].T, rtol=1e-11, atol=1e-15)
    np.testing.assert_allclose(np.asarray(model.trace_monitors["q"].q)[:, steps],
                               reference["q"][:, conn["in"][1], conn["in"][0]].T, rtol=1e-11, atol=1e-15)
    np.testing.assert_allclose(np.asarray(model.trace_monitors["L"].L)[:, steps], reference["L"].T,
                               rtol=1e-11, atol=1e-15)
    np.testing.assert_allclose(np.asarray(model.trace_monitors["h"].h)[:, steps], reference["h"].T, rtol=1e-12)
    expected_angle = rflo.alignment_degrees(expected["w_out"], weights["B"])
    assert np.isclose(history["alignment_deg"].iloc[-1], expected_angle, rtol=1e-10)


def finite_difference_gradients(weights, task, eps=1e-6):
    grads = {}
    for key in ("w_in", "w_rec", "w_out"):
        grad = np.zeros_like(weights[key])
        for index in np.ndindex(grad.shape):
            plus = {k: v.copy() for k, v in weights.items()}
            minus = {k: v.copy() for k, v in weights.items()}
            plus[key][index] += eps
            minus[key][index] -= eps
            grad[index] = (loss_numpy(plus, task) - loss_numpy(minus, task)) / (2 * eps)
        grads[key] = grad
    return grads


def test_rflo_is_the_exact_gradient_without_recurrent_weights(standalone):
    """With W_rec = 0 and B = W_out^T, RFLO drops nothing: its update is -eta times the exact gradient."""
    weights = rflo.initial_weights(CONFIG, 4)
    weights["w_rec"][:] = 0.0
    weights["w_in"] = np.random.default_rng(5).standard_normal(weights["w_in"].shape)
    weights["w_out"] *= 30.0
    weights["B"] = weights["w_out"].T.copy()
    fresh(standalone, weights)
    rates = (0.5, 0.5, 0.5)
    _, losses, matrices = standalone.run_trials(1, learning_rates=rates)
    exact = finite_difference_gradients(weights, small_task())
    assert np.isclose(losses[0], loss_numpy(weights, small_task()), rtol=1e-12)
    for key, rate in zip(("w_in", "w_rec", "w_out"), rates):
        rflo_grad = -(matrices[key] - weights[key]) / rate
        assert np.linalg.norm(exact[key]) > 1e-4
        np.testing.assert_allclose(rflo_grad, exact[key], rtol=1e-6, atol=1e-9)


def test_rflo_approximates_the_gradient_with_recurrent_weights(standalone):
    weights = rflo.initial_weights(CONFIG, 6)
    weights["B"] = weights["w_out"].T.copy()
    fresh(standalone, weights)
    _, _, matrices = standalone.run_trials(1, learning_rates=(0.0, 1.0, 0.0))
    rflo_grad = -(matrices["w_rec"] - weights["w_rec"])
    exact = finite_difference_gradients(weights, small_task())["w_rec"]
    cosine = np.sum(rflo_grad * exact) / (np.linalg.norm(rflo_grad) * np.linalg.norm(exact))
    assert 0.5 < cosine < 1 - 1e-6, "close to, but not equal to the gradient"


def test_runtime_equals_cpp_standalone(standalone):
    weights = rflo.initial_weights(CONFIG, 7)
    fresh(standalone, weights)
    a = standalone.train(3)
    runtime = RfloTrainer(CONFIG, weights, small_task(), device="runtime", trials_per_run=TRIALS_PER_RUN)
    try:
        b = runtime.train(3)
    finally:
        runtime.close()
    np.testing.assert_allclose(a["loss"], b["loss"], rtol=1e-12)
    for key in ("w_in", "w_rec", "w_out"):
        np.testing.assert_allclose(standalone.weights[key], runtime.weights[key], rtol=1e-11, atol=1e-15)


def test_bptt_gradient_equals_finite_differences():
    pytest.importorskip("jax", reason="BPTT needs the 'bptt' extra (JAX)")
    weights = rflo.initial_weights(CONFIG, 8)
    loss, grads = rflo.bptt_loss_and_gradients(weights, small_task(), CONFIG)
    assert np.isclose(loss, loss_numpy(weights, small_task()), rtol=1e-12)
    exact = finite_difference_gradients(weights, small_task())
    for key in ("w_in", "w_rec", "w_out"):
        np.testing.assert_allclose(grads[key], exact[key], rtol=1e-6, atol=1e-9)
    trained = rflo.train_bptt(weights, small_task(), CONFIG, 3, learning_rates=(0.0, 0.1, 0.1))
    assert np.isclose(trained["history"]["loss"].iloc[0], loss)
    w1 = {**weights, "w_rec": weights["w_rec"] - 0.1 * grads["w_rec"], "w_out": weights["w_out"] - 0.1 * grads["w_out"]}
    assert np.isclose(trained["history"]["loss"].iloc[1], loss_numpy(w1, small_task()), rtol=1e-10)


def test_bptt_clipping_rescales_the_trained_weights_gradient_to_the_norm():
    """One clipped step is -eta g c/|g|, |g| over the trained weights only (W_in, rate 0, is left out)."""
    pytest.importorskip("jax", reason="BPTT needs the 'bptt' extra (JAX)")
    weights = rflo.initial_weights(CONFIG, 8)
    task = small_task()
    _, grads = rflo.bptt_loss_and_gradients(weights, task, CONFIG)
    norm = np.sqrt(np.sum(grads["w_rec"] ** 2) + np.sum(grads["w_out"] ** 2))
    rates = (0.0, 0.1, 0.1)
    for clip, scale in ((0.25 * norm, 0.25), (4.0 * norm, 1.0)):
        step = rflo.train_bptt(weights, task, CONFIG, 1, learning_rates=rates, clip_norm=clip)["weights"]
        for key in ("w_rec", "w_out"):
            np.testing.assert_allclose(step[key], weights[key] - 0.1 * scale * grads[key], rtol=1e-10, atol=1e-15)
        np.testing.assert_array_equal(step["w_in"], weights["w_in"])
    for bad in (0.0, -1.0, float("nan"), True):
        with pytest.raises(ValueError, match="'clip_norm' must be a positive number or None"):
            rflo.train_bptt(weights, task, CONFIG, 1, clip_norm=bad)


def test_bad_input_names_the_parameter():
    with pytest.raises(ValueError, match="'tau' must be a number of steps >= 1"):
        rflo.RfloConfig(n_in=1, n_rec=2, n_out=1, n_points=5, tau=0.5)
    with pytest.raises(ValueError, match="'learning_rates' must be three non-negative numbers"):
        rflo.RfloConfig(n_in=1, n_rec=2, n_out=1, n_points=5, learning_rates=(0.1, 0.1))
    config = rflo.RfloConfig(n_in=1, n_rec=2, n_out=1, n_points=5)
    weights = rflo.initial_weights(config, 1)
    task = periodic_target_task(n_points=5)
    with pytest.raises(ValueError, match="'w_rec' must have shape \\(2, 2\\)"):
        RfloTrainer(config, {**weights, "w_rec": np.zeros((3, 3))}, task, device="runtime")
    with pytest.raises(ValueError, match="'targets' must have shape"):
        RfloTrainer(config, weights, {**task, "targets": np.zeros((4, 1))}, device="runtime")
    with pytest.raises(ValueError, match="'period' must be a positive number of steps"):
        periodic_target_task(period=0)


def test_study_rejects_bad_options_in_one_line(tmp_path, capsys):
    from brian2learn.studies import rflo as study

    assert study.main(["--device", "gpu", "--out", str(tmp_path / "run")]) == 2
    error = capsys.readouterr().err.strip()
    assert error == "brian2learn: error: unknown device 'gpu' for '--device'; allowed: cpp_standalone, runtime"
    assert study.main(["--trials", "-3", "--out", str(tmp_path / "run")]) == 2
    assert "'--trials' must be a positive integer, got -3" in capsys.readouterr().err


def test_at_discrete_levels_rflo_runs_the_rounded_weights_and_learns_in_full_precision():
    """The losses and final weights of RFLO with 3-bit weights equal the numpy loop run with the weights rounded
    before every trial (the updates computed from the rounded network, added to the full-precision weights)."""
    import dataclasses

    from brian2learn.models.weight_levels import held

    weights = rflo.initial_weights(CONFIG, 3)
    levels = {group: (np.max(np.abs(weights[f"w_{group}"])) / 2.0, 3.0) for group in ("in", "rec", "out")}
    config = dataclasses.replace(CONFIG, weight_levels=levels)
    task = small_task()
    with RfloTrainer(config, weights, task, device="runtime", trials_per_run=3, record_output=False) as trainer:
        history = trainer.train(3)
        final = trainer.weights
    w = {key: np.array(value, dtype=float) for key, value in weights.items()}
    losses = []
    for _ in range(3):  # one trial of the numpy loop at the rounded weights, its update to the unrounded ones
        rounded = {**w, **{f"w_{g}": held(w[f"w_{g}"], *levels[g]) for g in levels}}
        moved, loss, _ = rflo_numpy(rounded, task, 1)
        losses.append(loss[0])
        w = {**w, **{key: w[key] + moved[key] - rounded[key] for key in ("w_in", "w_rec", "w_out")}}
    np.testing.assert_allclose(history["loss"], losses, rtol=1e-10)
    for key in ("w_in", "w_rec", "w_out"):
        np.testing.assert_allclose(final[key], w[key], rtol=1e-10, atol=1e-13)
    assert not np.allclose(held(weights["w_rec"], *levels["rec"]), weights["w_rec"])
    with pytest.raises(ValueError, match="'weight_levels'"):
        rflo.RfloConfig(n_in=1, n_rec=2, n_out=1, n_points=3, weight_levels={"feedback": (0.1, 3.0)})
