"""Adaptive SRNN (Yin, Corradi & Bohté 2021): JAX forward, Brian2 on both devices, surrogates, bad input."""

import json
import math

import numpy as np
import pytest

from brian2learn.models import adaptive_srnn as srnn
from brian2learn.simulation.devices import DeviceRunner

jax = pytest.importorskip("jax")
sb = pytest.importorskip("brian2learn.plasticity.srnn_bptt")


def random_parameters(architecture, seed, bias=0.3):
    rng = np.random.default_rng(seed)
    params = sb.initial_parameters(architecture, seed)
    params["b_h"] = rng.normal(bias, 0.3, architecture.n_hidden)
    params["tau_m_h"] = rng.uniform(3, 40, architecture.n_hidden)
    params["tau_adp_h"] = rng.uniform(3, 200, architecture.n_hidden)
    params["tau_m_o"] = rng.uniform(3, 40, architecture.n_out)
    params["tau_adp_o"] = rng.uniform(3, 200, architecture.n_out)
    return params


def random_inputs(batch, steps, n_in, seed):
    rng = np.random.default_rng(seed)
    return rng.choice([-1.0, 0.0, 1.0], p=[0.1, 0.8, 0.1], size=(batch, steps, n_in))


def numpy_forward(architecture, params, x):
    """The module docstring's equations, one sequence at a time, written out independently."""
    decay = srnn.decay_factors(params)
    out = []
    for sequence in x:
        u_h, s_h, b_h = np.zeros(architecture.n_hidden), np.zeros(architecture.n_hidden), np.full(
            architecture.n_hidden, srnn.B0)
        u_o, s_o, b_o = np.zeros(architecture.n_out), np.zeros(architecture.n_out), np.full(architecture.n_out, srnn.B0)
        membranes, spikes = [], []
        for x_t in sequence:
            current = params["w_in"] @ x_t + params["w_rec"] @ s_h + params["b_h"]
            u_h, s_h, b_h = layer(architecture.hidden_kind, decay["alpha_h"], decay["rho_h"], current, u_h, s_h, b_h)
            u_o, s_o, b_o = layer(architecture.output_kind, decay["alpha_o"], decay["rho_o"],
                                  params["w_out"] @ s_h + params["b_o"], u_o, s_o, b_o)
            membranes.append(u_o.copy())
            spikes.append(s_h.copy())
        out.append((np.array(membranes), np.array(spikes)))
    return np.array([m for m, _ in out]), np.array([s for _, s in out]) > 0.5


def layer(kind, alpha, rho, current, u, s, b):
    if kind == "lif":
        u = 0.618 * u + current
        s = (u > 0.5).astype(float)
        return u * (1 - s), s, b
    beta = 1.8 if kind == "adaptive" else 0.0
    b = rho * b + (1 - rho) * s
    theta = 0.01 + beta * b
    u = alpha * u + (1 - alpha) * current - theta * s
    return u, (u > theta).astype(float), b


KINDS = [("non-adaptive", "adaptive"), ("adaptive", "adaptive"), ("lif", "lif")]


@pytest.mark.parametrize("hidden_kind,output_kind", KINDS)
def test_jax_forward_follows_the_equations(hidden_kind, output_kind):
    architecture = srnn.SrnnArchitecture(3, 7, 2, hidden_kind, output_kind)
    params = srnn.check_parameters(architecture, random_parameters(architecture, 4))
    x = random_inputs(2, 80, 3, 5)
    membranes, hidden = numpy_forward(architecture, params, x)
    result = sb.evaluate(architecture, params, x, np.zeros((2, 80), dtype=int), scored_from=0)
    assert 0.05 < hidden.mean() < 0.9  # the check means something only if neurons spike
    np.testing.assert_array_equal(result["hidden_spikes"], hidden)
    np.testing.assert_allclose(result["u_out"], membranes, rtol=0, atol=1e-12)


@pytest.mark.parametrize("hidden_kind,output_kind", KINDS)
def test_brian2_runtime_gives_the_spikes_of_jax(hidden_kind, output_kind):
    architecture = srnn.SrnnArchitecture(3, 7, 2, hidden_kind, output_kind)
    params = srnn.check_parameters(architecture, random_parameters(architecture, 6))
    x = random_inputs(3, 60, 3, 7)
    reference = sb.evaluate(architecture, params, x, np.zeros((3, 60), dtype=int), scored_from=0)
    with DeviceRunner(lambda: srnn.Brian2Srnn(architecture, 3, 60), device="runtime") as runner:
        model = runner.run()
        result = runner.run(model.values(params), model.stimuli(x)).results()
    assert reference["hidden_spikes"].sum() > 20
    np.testing.assert_array_equal(result["hidden_spikes"], reference["hidden_spikes"])
    np.testing.assert_array_equal(result["output_spikes"], reference["output_spikes"])
    np.testing.assert_allclose(result["output_membrane"], reference["u_out"], rtol=0, atol=1e-12)


def test_brian2_standalone_gives_the_spikes_of_jax_for_two_networks_on_one_build(tmp_path):
    architecture = srnn.SrnnArchitecture(4, 9, 3)
    x = random_inputs(4, 70, 4, 8)
    with DeviceRunner(lambda: srnn.Brian2Srnn(architecture, 4, 70), device="cpp_standalone",
                      directory=str(tmp_path / "build")) as runner:
        model = runner.run()
        for seed in (1, 2):
            params = srnn.check_parameters(architecture, random_parameters(architecture, seed))
            reference = sb.evaluate(architecture, params, x, np.zeros((4, 70), dtype=int), scored_from=0)
            result = runner.run(model.values(params), model.stimuli(x)).results()
            assert reference["output_spikes"].sum() > 0
            np.testing.assert_array_equal(result["hidden_spikes"], reference["hidden_spikes"])
            np.testing.assert_array_equal(result["output_spikes"], reference["output_spikes"])
        assert runner.n_builds == 1


def normal_pdf(v, mu, sigma):
    return np.exp(-0.5 * ((v - mu) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))


def test_surrogate_derivatives_are_the_published_curves():
    v = np.linspace(-3, 3, 61)
    expected = {
        "multi-gaussian": (1.15 * normal_pdf(v, 0, 0.5) - 0.15 * normal_pdf(v, 0.5, 3.0)
                           - 0.15 * normal_pdf(v, -0.5, 3.0)),
        "gaussian": normal_pdf(v, 0, 0.5),
        "linear": np.maximum(0, 1 - np.abs(v)),
        "slayer": np.exp(-5 * np.abs(v)),
    }
    for kind, curve in expected.items():
        spike = sb.spike_function(jax, kind)
        derivative = jax.vmap(jax.grad(lambda value, spike=spike: spike(value)))(jax.numpy.asarray(v))
        np.testing.assert_allclose(np.asarray(derivative), 0.5 * curve, rtol=1e-12, atol=1e-15)
        np.testing.assert_array_equal(np.asarray(spike(jax.numpy.asarray(v))), (v > 0).astype(float))


def test_time_constant_gradients_equal_finite_differences_where_no_neuron_is_near_threshold():
    # far below threshold the linear surrogate is exactly 0: autodiff is then the gradient of the true function
    architecture = srnn.SrnnArchitecture(3, 5, 3, "non-adaptive", "adaptive")
    # fast membranes and strongly negative biases: v < -1 from the first step on
    params = srnn.check_parameters(architecture, random_parameters(architecture, 9, bias=-8.0))
    params["b_o"] = np.array([-8.0, -7.0, -7.5])
    rng = np.random.default_rng(12)
    params["tau_m_h"], params["tau_m_o"] = rng.uniform(1.0, 2.0, 5), rng.uniform(1.0, 2.0, 3)
    x = np.abs(random_inputs(2, 40, 3, 10))
    y = np.random.default_rng(11).integers(0, 3, (2, 40)).astype(np.int32)
    objective = sb.SrnnObjective(architecture, params, sb.SrnnTraining(surrogate="linear", scored_from=5))
    groups = {name: jax.numpy.asarray(value) for name, value in objective.groups.items()}
    loss_of = jax.jit(objective.loss)
    (loss, (_, spikes)), grads = jax.value_and_grad(objective.loss, has_aux=True)(groups, x, y)
    assert float(spikes) == 0
    for name in ("tau_m_o", "tau_m_h", "b_o", "w_in"):
        flat = np.asarray(groups[name]).ravel()
        for index in range(min(3, flat.size)):
            h = 1e-4 * max(1.0, abs(flat[index]))
            values = []
            for sign in (1, -1):
                moved = flat.copy()
                moved[index] += sign * h
                values.append(float(loss_of({**groups, name: moved.reshape(groups[name].shape)}, x, y)[0]))
            difference = (values[0] - values[1]) / (2 * h)
            analytic = float(np.asarray(grads[name]).ravel()[index])
            assert abs(analytic - difference) <= 1e-6 * abs(difference) + 1e-9, name
    assert np.any(np.abs(np.asarray(grads["tau_m_o"])) > 1e-8)


def test_gru_forward_follows_its_equations():
    from brian2learn.plasticity import rnn_baselines

    params = rnn_baselines.initial_parameters("gru", 3, 4, 2, 1)
    rng = np.random.default_rng(0)
    params = {name: value + rng.normal(0, 0.1, value.shape) for name, value in params.items()}
    x = rng.normal(size=(1, 6, 3))
    logits = np.asarray(rnn_baselines.make_forward("gru", 4)(params, x))[0]

    def sigmoid(z):
        return 1 / (1 + np.exp(-z))

    h = np.zeros(4)
    w_ir, w_iz, w_in = np.split(params["w_in"], 3)
    w_hr, w_hz, w_hn = np.split(params["w_rec"], 3)
    b_ir, b_iz, b_in = np.split(params["b_in"], 3)
    b_hr, b_hz, b_hn = np.split(params["b_rec"], 3)
    for step in range(6):
        r = sigmoid(w_ir @ x[0, step] + b_ir + w_hr @ h + b_hr)
        z = sigmoid(w_iz @ x[0, step] + b_iz + w_hz @ h + b_hz)
        n = np.tanh(w_in @ x[0, step] + b_in + r * (w_hn @ h + b_hn))
        h = (1 - z) * n + z * h
        np.testing.assert_allclose(logits[step], params["w_out"] @ h + params["b_out"], rtol=1e-12)


def test_bad_input_is_refused(tmp_path):
    from scipy.io import savemat

    from brian2learn.tasks import qtdb_ecg

    architecture = srnn.SrnnArchitecture(2, 3, 2)
    params = sb.initial_parameters(architecture, 1)
    with pytest.raises(ValueError, match="'tau_m_h' must be positive"):
        srnn.check_parameters(architecture, {**params, "tau_m_h": np.array([20.0, 0.0, 5.0])})
    with pytest.raises(ValueError, match="unknown surrogate 'box'"):
        sb.SrnnTraining(surrogate="box")
    with pytest.raises(ValueError, match="unknown hidden_kind"):
        srnn.SrnnArchitecture(2, 3, 2, hidden_kind="izhikevich")
    with pytest.raises(FileNotFoundError, match="QTDB_train.mat"):
        qtdb_ecg.load_qtdb("train", data_dir=str(tmp_path))
    savemat(tmp_path / "QTDB_test.mat", {"x": np.zeros((2, 100, 4)), "y": np.zeros((2, 100, 6))})
    with pytest.raises(ValueError, match=r"must have shape \(n, 1301, 4\)"):
        qtdb_ecg.load_qtdb("test", data_dir=str(tmp_path))
    x, y = qtdb_ecg.load_qtdb("test")
    assert x.shape == (141, 1301, 4) and y.shape == (141, 1301) and set(np.unique(y)) == set(range(6))


def test_srnn_ecg_quick_run_checks_brian2_against_jax(tmp_path):
    from brian2learn.studies import srnn_ecg

    out = tmp_path / "run"
    srnn_ecg.run(srnn_ecg.Options(quick=True, out=str(out), variants=("srnn", "gru"), seeds=1,
                                  surrogates=("multi-gaussian",), device="runtime"))
    summary = json.loads((out / "summary.json").read_text())
    check = summary["brian2"]
    assert check["identical_fraction"] == 1.0 and check["brian2_accuracy"] == check["jax_accuracy"]
    assert summary["energy"]["spike_count"] > 0
    cells = summary["cells"]
    assert set(cells) == {"srnn-multi-gaussian-seed1", "gru-rnn-seed1"}
    # the operation counts: the GRU's per step, the SNN's from its spikes (far fewer multiply-accumulates)
    assert cells["gru-rnn-seed1"]["operations"]["macs"] == 3 * 36 * (4 + 36) + 36 * 6 + 3 * 36
    assert cells["srnn-multi-gaussian-seed1"]["operations"]["macs"] == 36 * 2 + 6 * 4
    for name in ("learning_curves.png", "example.png", "time_constants.png", "results.parquet"):
        assert (out / name).exists()
    from brian2learn.studies.runs import load_run

    redrawn = srnn_ecg.plot_run(load_run(str(out)), str(tmp_path))
    assert set(redrawn) == {"learning_curves.png", "time_constants.png"}
    assert all((tmp_path / name).stat().st_size > 1000 for name in redrawn)


def test_sequential_digit_encodings_on_a_hand_made_image():
    from brian2learn.tasks import sequential_digits

    image = np.zeros((1, 64))
    image[0, :4] = [0.0, 1.0, 0.5, 0.0625]
    thermometer = sequential_digits.encode(image, "thermometer", n_levels=4)  # levels 0.125, 0.375, 0.625, 0.875
    np.testing.assert_array_equal(thermometer[0, :4], [[0, 0, 0, 0], [1, 1, 1, 1], [1, 1, 0, 0], [0, 0, 0, 0]])
    crossing = sequential_digits.encode(image, "level-crossing", delta=0.25)
    np.testing.assert_array_equal(crossing[0, :4], [[0, 0], [1, 0], [0, 1], [0, 1]])
    assert thermometer[0, 4:].sum() == 0 and crossing[0, 4:].sum() == 0
    with pytest.raises(ValueError, match="unknown encoding 'rate'"):
        sequential_digits.encode(image, "rate")
    data = sequential_digits.sequential_digits()
    assert data["x"].shape == (1438, 64, 8) and data["x_test"].shape == (359, 64, 8)
    assert np.all(data["y"] == data["y"][:, :1])


def test_weight_levels_run_the_rounded_network_and_pass_its_gradient_through():
    """With levels, the loss and gradient are those of the full-precision objective at the weights rounded in
    numpy (straight-through); the numpy forward of the rounded weights gives the same output membranes."""
    architecture = srnn.SrnnArchitecture(3, 6, 2, "adaptive", "adaptive")
    params = srnn.check_parameters(architecture, random_parameters(architecture, 31))
    levels = {name: (float(np.max(np.abs(params[name]))) / 7.0, 7.0) for name in ("w_in", "w_rec", "w_out")}
    rounded = {**params, **{name: np.clip(np.round(params[name] / step), -limit, limit) * step
                            for name, (step, limit) in levels.items()}}
    x = random_inputs(2, 30, 3, 32)
    y = np.random.default_rng(33).integers(0, 2, (2, 30)).astype(np.int32)
    training = sb.SrnnTraining(scored_from=5)
    held = sb.SrnnObjective(architecture, params, training, weight_levels=levels)
    plain = sb.SrnnObjective(architecture, rounded, training)
    (loss_held, (u_out, _)), grads_held = jax.value_and_grad(held.loss, has_aux=True)(held.groups, x, y)
    (loss_plain, _), grads_plain = jax.value_and_grad(plain.loss, has_aux=True)(plain.groups, x, y)
    assert float(loss_held) == pytest.approx(float(loss_plain), rel=1e-12)
    for name in grads_plain:
        np.testing.assert_allclose(np.asarray(grads_held[name]), np.asarray(grads_plain[name]), rtol=1e-10,
                                   atol=1e-14, err_msg=name)
    np.testing.assert_allclose(np.asarray(u_out), numpy_forward(architecture, rounded, x)[0], rtol=1e-9, atol=1e-12)
    with pytest.raises(ValueError, match="'weight_levels'"):
        sb.SrnnObjective(architecture, params, training, weight_levels={"tau_m_h": (1.0, 7.0)})
