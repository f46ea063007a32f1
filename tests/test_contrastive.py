"""Contrastive rules in Brian2 against finite differences of the contrast function, implicit differentiation
(recurrent backprop) at the free fixed point, the two-phase schedule and the other device; settling checks;
symmetry by construction; bad input."""

import brian2 as b2
import numpy as np
import pytest

from brian2learn.plasticity import contrastive as cl
from brian2learn.simulation.devices import DeviceRunner

X = np.array([[0.3, 0.9]])
D = np.array([[0.2, 0.8]])


def make_config(rule, **changes):
    settings = {"n_in": 2, "n_hidden": 3, "n_out": 2, "architecture": "recurrent", "rule": rule, "beta": 0.05,
                "settle_steps": 200, "tau_steps": 4.0}
    settings.update(changes)
    return cl.ContrastiveConfig(**settings)


def weights_for(config, seed=3):
    weights = cl.initial_weights(config, seed)
    weights["b"] = np.random.default_rng(seed + 1).normal(0, 0.3, config.n_units)
    return weights


def one_update(config, weights, device="runtime", inputs=X, targets=D, eta=1.0):
    """(Delta W, Delta b, model) of one run over the examples with learning rate ``eta``."""
    n_examples = len(inputs)
    with DeviceRunner(lambda: cl.ContrastiveNetwork(config, n_examples), device=device) as runner:
        model = runner.run(cl.run_values(config, weights, eta=eta),
                           {"example_values": cl.example_values(config, inputs, targets)})
        w_new = cl.weight_matrix(config, np.asarray(model.synapses.w[:], dtype=float))
        b_new = np.asarray(model.units.b[:], dtype=float).copy()
        record = {"V_free": np.asarray(model.free_monitor.V_free, dtype=float).copy(),
                  "du_end": np.asarray(model.free_monitor.du_end, dtype=float).copy()}
    return w_new - weights["w"], b_new - weights["b"], record


def perturbed_pair(weights, i, j, h):
    """Copies of ``weights`` with the symmetric pair (i, j) raised and lowered by ``h``."""
    plus = {key: value.copy() for key, value in weights.items()}
    minus = {key: value.copy() for key, value in weights.items()}
    for a, b in ((i, j), (j, i)):
        plus["w"][a, b] += h
        minus["w"][a, b] -= h
    return plus, minus


def contrast_slope(config, plus, minus, h):
    """Central difference of the contrast function between two perturbed weight sets."""
    return (cl.contrast_function(config, plus, X[0], D[0]) - cl.contrast_function(config, minus, X[0], D[0])) / (2 * h)


def test_chl_update_is_minus_the_gradient_of_the_contrast_function(numpy_runtime):
    config = make_config("chl")
    weights = weights_for(config)
    delta_w, delta_b, _ = one_update(config, weights)
    h = 1e-6
    for i, j in cl.connected_pairs(config)[::3]:
        grad = contrast_slope(config, *perturbed_pair(weights, i, j, h), h)
        assert delta_w[i, j] == pytest.approx(-grad, rel=1e-4)
    for i in (2, 5):
        plus = {key: value.copy() for key, value in weights.items()}
        minus = {key: value.copy() for key, value in weights.items()}
        plus["b"][i] += h
        minus["b"][i] -= h
        grad = contrast_slope(config, plus, minus, h)
        assert delta_b[i] == pytest.approx(-grad, rel=1e-4)


def test_ep_approaches_recurrent_backprop_first_order_and_symmetric_ep_second_order(numpy_runtime):
    weights = weights_for(make_config("ep"))
    _, grad_w, grad_b = cl.loss_gradient(make_config("ep"), weights, X[0], D[0])
    # the implicit gradient agrees with finite differences of the loss at the free fixed point
    config = make_config("ep")
    i, j = cl.connected_pairs(config)[4]
    h = 1e-6
    plus, minus = perturbed_pair(weights, i, j, h)
    fd = (cl.loss_gradient(config, plus, X[0], D[0])[0] - cl.loss_gradient(config, minus, X[0], D[0])[0]) / (2 * h)
    assert grad_w[i, j] == pytest.approx(fd, rel=1e-6)
    errors = {}
    for rule in ("ep", "ep-symmetric"):
        for beta in (0.02, 0.01):
            delta_w, delta_b, _ = one_update(make_config(rule, beta=beta), weights)
            errors[rule, beta] = max(np.max(np.abs(delta_w + grad_w)) / np.max(np.abs(grad_w)),
                                     np.max(np.abs(delta_b + grad_b)) / np.max(np.abs(grad_b)))
    assert 1.7 < errors["ep", 0.02] / errors["ep", 0.01] < 2.3  # O(beta)
    assert 3.4 < errors["ep-symmetric", 0.02] / errors["ep-symmetric", 0.01] < 4.6  # O(beta^2)
    assert errors["ep-symmetric", 0.01] < 0.05 * errors["ep", 0.01]


def test_oscillating_schedule_converges_to_the_two_phase_update(numpy_runtime):
    config = make_config("chl")
    weights = weights_for(config)
    two_phase, _, _ = one_update(config, weights)
    errors = []
    for half_tau in (10, 20, 40):
        osc, _, _ = one_update(make_config("chl", schedule="oscillating", settle_steps=4 * half_tau), weights)
        errors.append(np.max(np.abs(osc - two_phase)) / np.max(np.abs(two_phase)))
    # the lag after each switch costs ~ tau_s/T_half: the error halves as the half period doubles
    assert 1.8 < errors[0] / errors[1] < 2.2 and 1.8 < errors[1] / errors[2] < 2.2
    assert errors[2] < 0.01  # 40 tau


def test_runtime_and_standalone_agree_and_weights_stay_symmetric():
    b2.set_device("runtime")
    config = make_config("ep-symmetric", settle_steps=60, batch_size=2, architecture="layered")
    weights = weights_for(config)
    weights["b"][:config.n_in] = 0.0
    rng = np.random.default_rng(7)
    inputs, targets = rng.random((4, 2)), rng.random((4, 2))
    results = {device: one_update(config, weights, device=device, inputs=inputs, targets=targets, eta=0.5)
               for device in ("runtime", "cpp_standalone")}
    b2.set_device("runtime")
    (dw_r, db_r, rec_r), (dw_c, db_c, rec_c) = results["runtime"], results["cpp_standalone"]
    assert np.max(np.abs(dw_c - dw_r)) <= 1e-9 * np.max(np.abs(dw_r))
    assert np.max(np.abs(db_c - db_r)) <= 1e-9 * np.max(np.abs(db_r))
    np.testing.assert_allclose(rec_c["V_free"], rec_r["V_free"], rtol=1e-9)
    w_after = weights["w"] + dw_c
    assert np.array_equal(w_after, w_after.T)  # bit for bit: every update is a product V_i V_j
    # the free outputs of each example are those of the numpy fixed point of the weights of its batch
    v = cl.fixed_point(config, weights, inputs[0])
    np.testing.assert_allclose(rec_r["V_free"][:, 1], v, atol=1e-6)  # 60 steps: settled to ~1e-7


def test_an_unsettled_phase_is_reported(numpy_runtime):
    settled = make_config("ep", settle_steps=200)
    weights = weights_for(settled)
    _, _, record = one_update(settled, weights)
    assert record["du_end"][:, 1].max() < settled.settle_tolerance
    short = make_config("ep", settle_steps=6)
    _, _, record = one_update(short, weights)
    assert record["du_end"][:, 1].max() > short.settle_tolerance


def test_bad_input_names_the_parameter():
    with pytest.raises(ValueError, match="'beta' must be a positive"):
        make_config("ep", beta=0.0)
    with pytest.raises(ValueError, match="'tau_steps' must be >= 1"):
        make_config("ep", tau_steps=0.5)
    with pytest.raises(ValueError, match="'rule' must be one of"):
        make_config("hebb")
    config = make_config("chl")
    weights = weights_for(config)
    asymmetric = weights["w"].copy()
    i, j = cl.connected_pairs(config)[0]
    asymmetric[i, j] += 0.1
    with pytest.raises(ValueError, match="asymmetric initial weights"):
        cl.check_weights(config, {"w": asymmetric, "b": weights["b"]})
    with pytest.raises(ValueError, match="'inputs' must have shape"):
        cl.example_values(config, np.zeros((3, 5)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="'targets' must have shape"):
        cl.example_values(config, np.zeros((3, 2)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="multiple of batch_size"):
        cl.ContrastiveNetwork(make_config("chl", batch_size=2), 3)


def test_epochs_to_solve_counts_from_the_last_failure():
    from brian2learn.studies.contrastive_xor import epochs_to_solve

    assert epochs_to_solve([0.5, 1.0, 0.75, 1.0, 1.0]) == 3
    assert epochs_to_solve([1.0, 1.0]) == 0
    assert epochs_to_solve([1.0, 0.5]) is None


def test_contrastive_xor_quick_run(tmp_path, summary_vocabulary):
    from brian2learn.studies import contrastive_xor as study
    from brian2learn.studies.runs import load_run

    options = study.Options(quick=True, seeds=1, epochs=12, tasks=("xor",),
                            rules=("ep", "backprop-ff", "recurrent-backprop"), out=str(tmp_path / "run"))
    summary = study.run(options)
    summary_vocabulary(summary, spiking=False)
    assert set(summary["results"]["xor"]) == {"ep", "backprop-ff", "recurrent-backprop"}
    run = load_run(str(tmp_path / "run"))
    curves = run.tables["learning_curves"]
    first = curves[curves["epoch"] == 0].set_index("rule")["loss"]
    # the same initial network settles to the same free fixed points in Brian2 and in numpy (Newton)
    assert first["ep"] == pytest.approx(first["recurrent-backprop"], rel=1e-6)
    assert len(curves[curves["rule"] == "ep"]) == 12
    assert "phase_traces.png" not in summary["figures"]  # the traces come from the symmetric-EP network
    # energy: synapse passes counted by hand (2 inputs, 8 hidden, 1 output: 24 pairs, 48 synapses, 100 steps a phase)
    results = run.tables["results"].set_index("rule")
    by_hand = {"ep": 2 * 100 * 48, "recurrent-backprop": 2 * 100 * 48, "backprop-ff": 3 * 24}
    for rule, value in by_hand.items():
        assert results.loc[rule, "operations_per_example"] == value
        assert summary["results"]["xor"][rule]["operations_per_example"] == value
    (tmp_path / "again").mkdir()
    assert "learning_curves.png" in study.plot_run(run, str(tmp_path / "again"))


def test_feedforward_backprop_step_is_the_finite_difference_gradient():
    from brian2learn.plasticity import feedforward

    rng = np.random.default_rng(0)
    params = {"w1": rng.normal(size=(4, 3)), "b1": rng.normal(size=4), "w2": rng.normal(size=(2, 4)),
              "b2": rng.normal(size=2)}
    x, d = rng.random((5, 3)), rng.random((5, 2))

    def loss(p):
        return float(np.mean(0.5 * np.sum((feedforward.forward(p, x) - d) ** 2, axis=1)))

    lr = 1e-3
    stepped = feedforward.train_epoch(params, x, d, lr)
    h = 1e-6
    for name, index in (("w1", (2, 1)), ("b1", (3,)), ("w2", (1, 2)), ("b2", (0,))):
        plus = {k: v.copy() for k, v in params.items()}
        minus = {k: v.copy() for k, v in params.items()}
        plus[name][index] += h
        minus[name][index] -= h
        grad = (loss(plus) - loss(minus)) / (2 * h)
        assert (params[name][index] - stepped[name][index]) / lr == pytest.approx(grad, rel=1e-6)
    # straight-through: the gradient is taken at the parameters the network runs with, applied to those kept
    held = {k: np.round(v * 4) / 4 for k, v in params.items()}
    through = feedforward.train_epoch(params, x, d, lr, realised=lambda p: held)
    at_held = feedforward.train_epoch(held, x, d, lr)
    for name in params:
        np.testing.assert_allclose(through[name] - params[name], at_held[name] - held[name], rtol=1e-12, atol=1e-15)


def test_contrastive_digits_quick_run(tmp_path, summary_vocabulary):
    from brian2learn.studies import contrastive_digits as study
    from brian2learn.studies.runs import load_run

    options = study.Options(quick=True, epochs=1, rules=("ep-symmetric", "backprop-ff"), out=str(tmp_path / "run"))
    summary = study.run(options)
    summary_vocabulary(summary, spiking=False)
    from brian2learn.tasks.digits import load_digits_split

    assert summary["train_examples"] == 200
    assert summary["test_examples"] == len(load_digits_split()["x_test"]) == 359
    curves = load_run(str(tmp_path / "run")).tables["learning_curves"]
    assert set(curves["rule"]) == {"ep-symmetric", "backprop-ff"}
    assert ((curves["test_accuracy"] >= 0) & (curves["test_accuracy"] <= 1)).all()
    assert summary["targets_met"]["ep_symmetric_test_accuracy_at_least_0.95"] is None  # judged on full runs only


def test_contrastive_digits_validation_run_scores_the_validation_split(tmp_path):
    from brian2learn.studies import contrastive_digits as study
    from brian2learn.studies.runs import load_run
    from brian2learn.tasks.digits import load_digits_split, validation_split

    options = study.Options(epochs=2, rules=("backprop-ff",), validation=True, learning_rate_decay=0.5,
                            out=str(tmp_path / "run"))
    summary = study.run(options)
    split = validation_split(load_digits_split(one_hot=True, low=0.1, high=0.9))
    assert summary["scored_on"] == "validation" and "test_examples" not in summary
    assert summary["train_examples"] == len(split["x_train"]) and summary["validation_examples"] == 287
    curves = load_run(str(tmp_path / "run")).tables["learning_curves"]
    assert "test_accuracy" not in curves and list(curves["learning_rate"]) == [1.0, 0.5]
    # the same two epochs by hand: backprop of the same initial network on the 80 % training part
    params = study.feedforward.from_symmetric(study.cl.initial_weights(study.network_config("ep"), 1)["w"],
                                              64, study.HIDDEN, 10)
    rng = np.random.default_rng(1)
    for rate in (1.0, 0.5):
        params = study.feedforward.train_epoch(params, split["x_train"], split["t_train"], rate, 20,
                                               rng.permutation(len(split["x_train"])))
    held = study.feedforward.forward(params, split["x_validation"])
    assert curves["validation_accuracy"].iloc[-1] == study.accuracy(held, split["t_validation"])
    assert summary["targets_met"]["spiking_test_accuracy_at_least_0.90"] is None


def test_settling_time_is_the_decay_time_of_a_small_perturbation():
    config = make_config("chl", architecture="layered")
    weights = weights_for(config)
    weights["w"] = 3 * weights["w"]  # strong enough coupling that the slowest mode is well above tau
    x = X[0]
    predicted = cl.settling_time(config, weights, x)
    v_star = cl.fixed_point(config, weights, x)
    free = config.kinds != 0
    u_star = np.log(v_star[free] / (1 - v_star[free]))
    # fine Euler relaxation of the free units from a small random displacement (independent of Brian2)
    h, u = 0.005, u_star + 1e-5 * np.random.default_rng(0).standard_normal(free.sum())
    v = v_star.copy()
    distance = []
    for _ in range(int(30 / h)):
        v[free] = 1 / (1 + np.exp(-u))
        u = u + h * (-u + weights["w"][free] @ v + weights["b"][free])
        distance.append(np.linalg.norm(u - u_star))
    times = h * np.arange(1, len(distance) + 1)
    late = (times > 10) & (times < 20)  # the slowest mode alone
    measured = -1 / np.polyfit(times[late], np.log(distance)[late], 1)[0]
    assert predicted > 1.2
    assert measured == pytest.approx(predicted, rel=5e-3)


def test_oscillating_cycles_after_a_long_onset_add_up_to_two_phase_updates(numpy_runtime):
    config = make_config("chl")
    weights = weights_for(config)
    two_phase, _, _ = one_update(config, weights)
    # 50 tau onset, then two periods of 40-tau half periods: twice the two-phase update, up to the lag
    # after each switch (~1 % per half period of 40 tau, test_oscillating_schedule_converges...)
    osc, _, _ = one_update(make_config("chl", schedule="oscillating", settle_steps=160, cycles=2, onset_steps=200),
                           weights)
    assert np.max(np.abs(osc - 2 * two_phase)) / np.max(np.abs(2 * two_phase)) < 0.015
    with pytest.raises(ValueError, match="onset_steps"):
        make_config("chl", onset_steps=10)  # a two-phase schedule has no onset
    with pytest.raises(ValueError, match="onset_steps"):
        make_config("chl", schedule="oscillating", onset_steps=0)


def test_contrastive_oscillation_quick_run(tmp_path, summary_vocabulary):
    from brian2learn.studies import contrastive_oscillation as study
    from brian2learn.studies.runs import load_run
    from brian2learn.tasks.parity import parity_task

    with pytest.raises(ValueError, match="half-periods"):
        study.Options(half_periods=(0.3,))  # not a whole number of steps
    options = study.Options(quick=True, seeds=1, epochs=1, rules=("ep-symmetric",), half_periods=(16.0, 0.5),
                            device="runtime", out=str(tmp_path / "run"))
    summary = study.run(options)
    summary_vocabulary(summary, spiking=False)
    results = load_run(str(tmp_path / "run")).tables["results"].set_index("half_period_tau")
    assert list(results["cycles"].loc[[16.0, 0.5]]) == [2, 64]
    # after one epoch the training loss is that of the initial weights at the end of the 32-tau free onset:
    # the free fixed point that numpy's Newton iteration finds
    data = parity_task(2, 0.1, 0.9)
    config = study.network_config("xor", "ep-symmetric", 16.0)
    initial = cl.initial_weights(config, 1)
    outputs = np.asarray([cl.fixed_point(config, initial, x)[-1] for x in data["inputs"]])
    expected = float(np.mean(0.5 * (outputs - data["targets"][:, 0]) ** 2))
    assert results["oscillation_loss"].to_numpy() == pytest.approx([expected, expected], rel=1e-6)
    assert results["settling_tau_initial"].to_numpy() == pytest.approx(
        [max(cl.settling_time(config, initial, x) for x in data["inputs"])] * 2, rel=1e-12)
    assert set(summary["figures"]) == {"breakdown.png", "phase_traces.png"}


def test_at_discrete_levels_chl_runs_the_rounded_network_and_updates_the_full_precision_weights(numpy_runtime):
    """The update is CHL's contrast at the fixed points of the network with its weights and biases rounded (in numpy)
    to 3-bit levels, added to the full-precision weights."""
    base = make_config("chl")
    weights = weights_for(base)
    kinds = base.kinds
    owner = np.maximum(kinds[:, None], kinds[None, :])
    levels = {name: (2.0 * max(np.max(np.abs(weights["w"][owner == k])), np.max(np.abs(weights["b"][kinds == k])))
                     / 3.0, 3.0) for name, k in cl.LEVEL_KINDS.items()}
    config = make_config("chl", weight_levels=levels)
    held = cl.held_weights(config, weights)
    step = {k: levels[name][0] for name, k in cl.LEVEL_KINDS.items()}
    for i, j in cl.connected_pairs(config):  # every held value a multiple of its own level spacing
        k = step[owner[i, j]]
        assert abs(held["w"][i, j] / k - round(held["w"][i, j] / k)) < 1e-9
    assert not np.allclose(held["w"], weights["w"])
    delta_w, delta_b, _ = one_update(config, weights)
    free = cl.fixed_point(config, held, X[0])
    clamped = cl.fixed_point(config, held, X[0], D[0], clamp=True)
    expected_w = np.outer(clamped, clamped) - np.outer(free, free)
    for i, j in cl.connected_pairs(config):
        assert delta_w[i, j] == pytest.approx(expected_w[i, j], rel=1e-5, abs=1e-9)
    free_units = kinds != 0
    np.testing.assert_allclose(delta_b[free_units], (clamped - free)[free_units], rtol=1e-5, atol=1e-9)
    with pytest.raises(ValueError, match="'weight_levels'"):
        make_config("chl", weight_levels={"input": (0.1, 3.0)})
