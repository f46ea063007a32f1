"""Tests of the JAX BPTT reference :mod:`brian2learn.plasticity.bptt`.

The forward pass is compared with a plain-numpy loop of the equations of Bellec et al.
(2020, Nat Commun 11:3625), the readout gradient with finite differences, and, for networks
without recurrent weights (where e-prop is exact), the input gradient with a forward-mode
eligibility-trace computation.
"""

import dataclasses

import brian2 as b2
import numpy as np
import pytest

pytest.importorskip("jax")

from brian2learn.models.eprop_neurons import (
    BELLEC2020_EVIDENCE_ACCUMULATION,
    BELLEC2020_PATTERN_GENERATION,
)
from brian2learn.plasticity import bptt

N_IN, N_REC, N_OUT, T = 5, 4, 2, 50


def make_params(beta=0.0, n_ref=0, loss="mse", c_reg=0.0, f_target_hz=10.0, dt_ms=1.0):
    """Time constants 20 ms (membrane, readout) and 200 ms (adaptation), input scale 1."""
    return bptt.NetworkParams(
        alpha=float(np.exp(-1 / 20)),
        kappa=float(np.exp(-1 / 20)),
        rho=float(np.exp(-1 / 200)),
        input_scale=1.0,
        n_ref=n_ref,
        v_th=0.03,
        gamma=0.3,
        beta=np.full(N_REC, beta),
        loss=loss,
        c_reg=c_reg,
        f_target_hz=f_target_hz,
        dt_ms=dt_ms,
    )


def make_weights(seed, recurrent=True, n_out=N_OUT):
    rng = np.random.default_rng(seed)
    w_rec = rng.normal(0.0, 0.01, (N_REC, N_REC)) if recurrent else np.zeros((N_REC, N_REC))
    np.fill_diagonal(w_rec, 0.0)
    return {
        "w_in": rng.normal(0.006, 0.004, (N_REC, N_IN)),
        "w_rec": w_rec,
        "w_out": rng.normal(0.0, 1.0, (n_out, N_REC)),
    }


def make_inputs(seed, n_batch=None, n_steps=T, rate=0.3):
    rng = np.random.default_rng(seed)
    shape = (n_steps, N_IN) if n_batch is None else (n_batch, n_steps, N_IN)
    return (rng.random(shape) < rate).astype(float)


def reference_forward(weights, x, p):
    """Plain-numpy loop of the discrete model, written independently of the module."""
    w_in, w_rec, w_out = weights["w_in"], weights["w_rec"], weights["w_out"]
    n_rec, n_out = w_rec.shape[0], w_out.shape[0]
    beta = np.broadcast_to(p.beta, (n_rec,))
    v, a, z, y = np.zeros(n_rec), np.zeros(n_rec), np.zeros(n_rec), np.zeros(n_out)
    refractory = np.zeros(n_rec, dtype=int)
    out = {name: [] for name in ("v", "z", "a", "psi", "y", "threshold", "blocked")}
    for t in range(x.shape[0]):
        v = p.alpha * v + p.input_scale * (w_in @ x[t] + w_rec @ z) - p.v_th * z
        a = p.rho * a + z
        threshold = p.v_th + beta * a
        blocked = refractory > 0
        refractory = refractory - blocked.astype(int)
        z = ((v > threshold) & ~blocked).astype(float)
        refractory[z > 0] = p.n_ref
        psi = p.gamma / p.v_th * np.maximum(0.0, 1.0 - np.abs((v - threshold) / p.v_th)) * ~blocked
        y = p.kappa * y + (1.0 - p.kappa) * (w_out @ z)
        for name, value in zip(out, (v, z, a, psi, y, threshold, blocked)):
            out[name].append(np.array(value, dtype=float))
    return {name: np.array(values) for name, values in out.items()}


def reference_task_loss(y, targets, window, loss):
    if loss == "mse":
        return 0.5 * np.sum(window[:, None] * (y - targets) ** 2)
    log_softmax = y - np.log(np.sum(np.exp(y), axis=1, keepdims=True))
    return -np.sum(window[:, None] * targets * log_softmax)


def smooth_targets(n_steps=T, n_out=N_OUT, n_batch=None):
    t = np.arange(n_steps)[:, None]
    targets = np.sin(2 * np.pi * t / n_steps + np.arange(n_out)[None, :])
    return targets if n_batch is None else np.repeat(targets[None], n_batch, axis=0)


def one_hot_targets(seed, n_batch, n_out=3):
    labels = np.random.default_rng(seed).integers(0, n_out, (n_batch, T))
    return np.eye(n_out)[labels]


@pytest.mark.parametrize("beta, n_ref", [(0.0, 0), (0.0, 3), (0.01, 3)], ids=["lif", "lif_ref", "alif_ref"])
def test_forward_matches_numpy_loop(beta, n_ref):
    params = make_params(beta=beta, n_ref=n_ref)
    weights = make_weights(1)
    x = make_inputs(2)
    got = bptt.simulate(weights, x, params)
    ref = reference_forward(weights, x, params)
    assert got["z"].shape == (T, N_REC) and got["y"].shape == (T, N_OUT)
    assert ref["z"].sum() >= 10, "the test network should spike"
    np.testing.assert_array_equal(got["z"], ref["z"])
    for name in ("v", "a", "y"):
        np.testing.assert_allclose(got[name], ref[name], rtol=0, atol=1e-12)
    np.testing.assert_allclose(got["psi"], ref["psi"], rtol=1e-12, atol=1e-12)
    if n_ref:
        # the n_ref steps after each spike are silent and have no pseudo-derivative
        for t, j in zip(*np.nonzero(got["z"])):
            assert np.all(got["z"][t + 1 : t + 1 + n_ref, j] == 0)
            assert np.all(got["psi"][t + 1 : t + 1 + n_ref, j] == 0)
        # and refractoriness actually suppressed spikes above threshold
        assert np.any((ref["blocked"] > 0) & (ref["v"] > ref["threshold"]))
    if beta:
        assert np.any(got["a"] > 0.5)


@pytest.mark.parametrize("loss", ["mse", "softmax"])
def test_loss_matches_numpy_and_batch_mean(loss):
    params = make_params(beta=0.01, n_ref=2, loss=loss, c_reg=0.5, f_target_hz=50.0)
    n_out = N_OUT if loss == "mse" else 3
    weights = make_weights(3, n_out=n_out)
    x = make_inputs(4, n_batch=3)
    targets = smooth_targets(n_out=n_out, n_batch=3) if loss == "mse" else one_hot_targets(5, 3)
    window = np.random.default_rng(6).random((3, T))
    losses, _ = bptt.loss_and_gradients(weights, x, targets, window, params)
    task, reg, rates = [], [], []
    for b in range(3):
        ref = reference_forward(weights, x[b], params)
        task.append(reference_task_loss(ref["y"], targets[b], window[b], loss))
        rate = ref["z"].sum(axis=0) / (T * params.dt_ms)
        reg.append(0.5 * params.c_reg * np.sum((rate - 0.05) ** 2))
        rates.append(1000.0 * rate.mean())
    np.testing.assert_allclose(losses["task_loss"], np.mean(task), rtol=1e-12)
    np.testing.assert_allclose(losses["reg_loss"], np.mean(reg), rtol=1e-12)
    np.testing.assert_allclose(losses["loss"], np.mean(task) + np.mean(reg), rtol=1e-12)
    np.testing.assert_allclose(losses["mean_rate_hz"], np.mean(rates), rtol=1e-12)
    # a single trial (2-d inputs) is a batch of one
    single, _ = bptt.loss_and_gradients(weights, x[0], targets[0], window[0], params)
    np.testing.assert_allclose(single["task_loss"], task[0], rtol=1e-12)


def finite_difference_w_out(weights, x, targets, window, params, h=1e-5):
    grad = np.zeros_like(weights["w_out"])
    for idx in np.ndindex(grad.shape):
        losses = []
        for sign in (1.0, -1.0):
            w_out = weights["w_out"].copy()
            w_out[idx] += sign * h
            losses.append(
                bptt.loss_and_gradients({**weights, "w_out": w_out}, x, targets, window, params)[0]["loss"]
            )
        grad[idx] = (losses[0] - losses[1]) / (2 * h)
    return grad


@pytest.mark.parametrize("loss", ["mse", "softmax"])
def test_w_out_gradient_matches_finite_differences(loss):
    params = make_params(beta=0.01, n_ref=3, loss=loss, c_reg=0.3)
    n_out = N_OUT if loss == "mse" else 3
    weights = make_weights(7, n_out=n_out)
    x = make_inputs(8, n_batch=2)
    targets = smooth_targets(n_out=n_out, n_batch=2) if loss == "mse" else one_hot_targets(9, 2)
    window = (np.arange(T) >= 10).astype(float)
    _, grads = bptt.loss_and_gradients(weights, x, targets, window, params)
    assert set(grads) == {"w_in", "w_rec", "w_out"}
    for name in grads:
        assert grads[name].shape == weights[name].shape and grads[name].dtype == np.float64
    numeric = finite_difference_w_out(weights, x, targets, window, params)
    assert np.max(np.abs(numeric)) > 1e-3
    np.testing.assert_allclose(grads["w_out"], numeric, rtol=1e-6, atol=1e-9)


def eligibility_gradient_w_in(weights, x, targets, window, params):
    """dE/dW_in of one trial from forward-mode eligibility traces (exact when W_rec = 0).

    dE/dW_ji = sum_t L_j^t ebar_ji^t + c_reg (r_j - r_target)/(T dt) sum_t e_ji^t with
    e^t = psi^t (eps_v^t - beta eps_a^t), eps_v^t = alpha eps_v^{t-1} + c x^t,
    eps_a^t = psi^{t-1} eps_v^{t-1} + (rho - beta psi^{t-1}) eps_a^{t-1},
    ebar^t = kappa ebar^{t-1} + (1 - kappa) e^t, L_j^t = sum_k W_out_kj m_t (y_k^t - y*_k^t).
    """
    p = params
    ref = reference_forward(weights, x, p)
    beta = np.broadcast_to(p.beta, (N_REC,))[:, None]
    n_steps = x.shape[0]
    rate = ref["z"].sum(axis=0) / (n_steps * p.dt_ms)
    reg_signal = p.c_reg * (rate - p.f_target_hz / 1000.0) / (n_steps * p.dt_ms)
    eps_v = np.zeros((N_REC, N_IN))
    eps_a = np.zeros((N_REC, N_IN))
    ebar = np.zeros((N_REC, N_IN))
    psi_prev = np.zeros(N_REC)
    grad = np.zeros((N_REC, N_IN))
    for t in range(n_steps):
        eps_a = psi_prev[:, None] * eps_v + (p.rho - beta * psi_prev[:, None]) * eps_a
        eps_v = p.alpha * eps_v + p.input_scale * x[t][None, :]
        e = ref["psi"][t][:, None] * (eps_v - beta * eps_a)
        ebar = p.kappa * ebar + (1.0 - p.kappa) * e
        learning_signal = weights["w_out"].T @ (window[t] * (ref["y"][t] - targets[t]))
        grad += learning_signal[:, None] * ebar + reg_signal[:, None] * e
        psi_prev = ref["psi"][t]
    return grad


@pytest.mark.parametrize("beta, n_ref", [(0.0, 0), (0.01, 2)], ids=["lif", "alif_ref"])
def test_w_in_gradient_matches_eligibility_traces_without_recurrence(beta, n_ref):
    params = make_params(beta=beta, n_ref=n_ref, c_reg=2.0, f_target_hz=20.0)
    weights = make_weights(10, recurrent=False)
    x = make_inputs(11, n_batch=2)
    targets = smooth_targets(n_batch=2)
    window = (np.arange(T) >= 5).astype(float)
    _, grads = bptt.loss_and_gradients(weights, x, targets, window, params)
    expected = np.mean(
        [eligibility_gradient_w_in(weights, x[b], targets[b], window, params) for b in range(2)], axis=0
    )
    assert np.all(np.abs(expected) > 0)
    np.testing.assert_allclose(grads["w_in"], expected, rtol=1e-9, atol=0)
    # without recurrent weights the recurrent gradient is not zero, but the input one is exact
    assert grads["w_rec"].shape == (N_REC, N_REC)


def test_network_params_from_brian2_quantities():
    lif = bptt.network_params_from(
        BELLEC2020_PATTERN_GENERATION, n_rec=3, loss="mse", c_reg=0.1, f_target=10 * b2.Hz
    )
    alpha = np.exp(-1 / 30)
    assert lif.alpha == pytest.approx(alpha, rel=1e-15)
    assert lif.input_scale == pytest.approx(1 - alpha, rel=1e-15)
    assert lif.v_th == pytest.approx(0.03) and lif.dt_ms == pytest.approx(1.0)
    assert lif.f_target_hz == pytest.approx(10.0) and lif.n_ref == 0
    np.testing.assert_array_equal(lif.beta, np.zeros(3))
    alif = bptt.network_params_from(
        {**BELLEC2020_EVIDENCE_ACCUMULATION, "beta": np.array([0, 1, 2]) * b2.mV},
        n_rec=3,
        loss="softmax",
        c_reg=0.0,
        f_target=20 * b2.Hz,
    )
    np.testing.assert_allclose(alif.beta, [0.0, 0.001, 0.002])
    # t_ref = 5 ms: 4 blocked steps, so that two spikes are at least 5 steps apart
    assert alif.n_ref == 4 and alif.loss == "softmax" and alif.v_th == pytest.approx(0.6)
    with pytest.raises(ValueError):
        bptt.network_params_from(BELLEC2020_PATTERN_GENERATION, n_rec=3, loss="hinge")
    with pytest.raises(ValueError):
        bptt.network_params_from(BELLEC2020_PATTERN_GENERATION, n_rec=3, f_target=10.0)


@pytest.mark.parametrize("optimizer, learning_rate", [("gd", 0.01), ("adam", 0.003)])
def test_train_bptt_reduces_regression_loss(optimizer, learning_rate):
    # input scale 1 - alpha (pattern-generation setting); the target is the readout of the
    # same network with other readout weights, so that it can be reached
    alpha = float(np.exp(-1 / 20))
    params = dataclasses.replace(make_params(c_reg=0.1), input_scale=1.0 - alpha)
    rng = np.random.default_rng(12)
    weights = {
        "w_in": rng.normal(0.003, 0.003, (N_REC, N_IN)) / (1.0 - alpha),
        "w_rec": rng.normal(0.0, 0.005, (N_REC, N_REC)) / (1.0 - alpha),
        "w_out": rng.normal(0.0, 0.3, (1, N_REC)),
    }
    np.fill_diagonal(weights["w_rec"], 0.0)
    x = make_inputs(13)
    targets = bptt.simulate({**weights, "w_out": rng.normal(0.0, 2.0, (1, N_REC))}, x, params)["y"]
    window = np.ones(T)
    seen = []
    final, history = bptt.train_bptt(
        weights,
        lambda iteration: (x, targets, window),
        params,
        optimizer=optimizer,
        learning_rate=learning_rate,
        n_iterations=50,
        callback=lambda iteration, metrics: seen.append(iteration),
    )
    assert seen == list(range(50)) and len(history) == 50
    assert set(history[0]) >= {"loss", "task_loss", "reg_loss", "mean_rate_hz"}
    assert history[0]["loss"] == pytest.approx(
        bptt.loss_and_gradients(weights, x, targets, window, params)[0]["loss"]
    )
    final_loss = bptt.loss_and_gradients(final, x, targets, window, params)[0]["loss"]
    assert final_loss < 0.6 * history[0]["loss"]
    np.testing.assert_array_equal(np.diag(final["w_rec"]), 0.0)
    assert not np.allclose(final["w_in"], weights["w_in"])
    assert not np.allclose(final["w_rec"], weights["w_rec"])


def test_train_bptt_in_chunks_that_carry_the_adam_state_equals_one_call():
    params = make_params()
    weights = make_weights(16)
    batches = [(make_inputs(20 + k), smooth_targets(), np.ones(T)) for k in range(5)]
    whole, history = bptt.train_bptt(weights, lambda k: batches[k], params, optimizer="adam", learning_rate=3e-3,
                                     n_iterations=5)
    first, _, state = bptt.train_bptt(weights, lambda k: batches[k], params, optimizer="adam", learning_rate=3e-3,
                                      n_iterations=2, return_state=True)
    second, rest = bptt.train_bptt(first, lambda k: batches[2 + k], params, optimizer="adam", learning_rate=3e-3,
                                   n_iterations=3, optimizer_state=state)
    for name in whole:
        np.testing.assert_array_equal(second[name], whole[name])
    assert [r["loss"] for r in rest] == [r["loss"] for r in history[2:]]
    restarted, _ = bptt.train_bptt(first, lambda k: batches[2 + k], params, optimizer="adam", learning_rate=3e-3,
                                   n_iterations=3)  # a fresh Adam state: other moments, other weights
    assert not np.array_equal(restarted["w_in"], whole["w_in"])


def test_adam_first_step_is_sign_times_learning_rate():
    # with bias correction the first Adam step is lr * g / (|g| + eps) = lr * sign(g)
    params = make_params()
    weights = make_weights(14)
    x, targets, window = make_inputs(15), smooth_targets(), np.ones(T)
    _, grads = bptt.loss_and_gradients(weights, x, targets, window, params)
    final, _ = bptt.train_bptt(
        weights,
        lambda iteration: (x, targets, window),
        params,
        optimizer="adam",
        learning_rate=1e-3,
        adam_eps=1e-12,
        n_iterations=1,
    )
    np.testing.assert_allclose(final["w_out"] - weights["w_out"], -1e-3 * np.sign(grads["w_out"]), atol=1e-12)
    mask = 1.0 - np.eye(N_REC)
    np.testing.assert_allclose(
        final["w_rec"] - weights["w_rec"], -1e-3 * np.sign(grads["w_rec"]) * mask, atol=1e-12
    )


def test_weight_levels_run_the_held_weights_and_update_the_full_precision_ones():
    """Straight-through: the loss is the held (rounded) network's, and one gradient step moves the full-precision
    weights by the held network's gradient (both from loss_and_gradients of the weights rounded in numpy)."""
    params = make_params()
    weights = make_weights(21)
    x, targets, window = make_inputs(22), smooth_targets(), np.ones(T)
    levels = {name: (float(np.max(np.abs(w))) / 7.0, 7.0) for name, w in weights.items()}  # 4 bits
    held = {name: np.clip(np.round(w / levels[name][0]), -7, 7) * levels[name][0] for name, w in weights.items()}
    assert any(not np.array_equal(held[name], weights[name]) for name in weights)
    losses, grads = bptt.loss_and_gradients(held, x, targets, window, params)
    final, history = bptt.train_bptt(weights, lambda k: (x, targets, window), params, optimizer="gd",
                                     learning_rate=1e-3, n_iterations=1, weight_levels=levels)
    assert history[0]["loss"] == pytest.approx(losses["loss"], rel=1e-12)
    mask = {"w_in": 1.0, "w_rec": 1.0 - np.eye(N_REC), "w_out": 1.0}
    for name in weights:
        np.testing.assert_allclose(final[name], weights[name] - 1e-3 * grads[name] * mask[name], rtol=1e-12,
                                   atol=1e-15)
    with pytest.raises(ValueError, match="weight_levels"):
        bptt.train_bptt(weights, lambda k: (x, targets, window), params, n_iterations=1, weight_levels={"w": (1, 1)})
