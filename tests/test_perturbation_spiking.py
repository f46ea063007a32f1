"""WP and NP (current perturbation) in a recurrent LIF network, and WP on XOR, against numpy.

A small delayed-pattern network runs on the runtime device; a numpy loop of the same discrete LIF scheme,
the input traces computed by hand from the spike raster, and the XOR forward pass in numpy are the
independent answers.
"""

import json
import os

import brian2 as b2
import numpy as np
import pytest

from brian2learn.plasticity import delayed_pattern_network, xor_network
from brian2learn.plasticity.perturbation_network import LearnerValues
from brian2learn.simulation.devices import STEP_DT
from brian2learn.studies import perturbation_spiking as study
from brian2learn.tasks import xor
from brian2learn.tasks.delayed_pattern import bump_targets, timing_inputs
from brian2learn.training.perturbation_network import PerturbationNetworkTrainer

SMALL = {**study.SPIKING, "n_steps": 40, "n_in": 4, "burst_steps": (1, 4, 7), "n_net": 5, "n_channels": 1,
         "per_channel": 2, "bump_times": (20.0 * b2.ms,), "bump_width": 6.0 * b2.ms, "w_in": (2.0, 1.0), "g_rec": 1.0}
N_STEPS, N_IN, N_NET = SMALL["n_steps"], SMALL["n_in"], SMALL["n_net"]
RULES = ["wp", "np"]
ETA = 0.05
SIGMA = [0.2, 0.8]  # WP, NP
N_TRIALS = 2


def stimuli():
    return {"inputs": timing_inputs(N_STEPS, N_IN, SMALL["burst_steps"]),
            "targets": bump_targets(N_STEPS, times=SMALL["bump_times"], width=SMALL["bump_width"])}


@pytest.fixture(scope="module")
def trained():
    weights = delayed_pattern_network.initial_spiking_weights(2, 5, params=SMALL)
    trainer = PerturbationNetworkTrainer(
        lambda n: delayed_pattern_network.delayed_pattern_model(2, n, params=SMALL, record_learners=2, name="tspk"), 2,
        device="runtime", trials_per_run=N_TRIALS)
    out = trainer.train(N_TRIALS, LearnerValues(RULES, eta=ETA, sigma=SIGMA),
                        {"w:tspk_in": weights["in"], "w:tspk_rec": weights["rec"]}, stimuli=stimuli(), seed=3)
    model = trainer.model
    monitors = model.monitors
    rec = {
        "pert": np.asarray(monitors["net"].pert).T.reshape(-1, 2, N_NET),     # step, learner, neuron
        "s_in": np.asarray(monitors["inputs"].s).T,                           # step, input
        "w_in": np.asarray(monitors["synapses_in"].w).T.reshape(-1, 2, N_NET, N_IN),
        "xi_in": np.asarray(monitors["synapses_in"].dw_pert).T.reshape(-1, 2, N_NET, N_IN),
        "elig_in": np.asarray(monitors["synapses_in"].elig).T.reshape(-1, 2, N_NET, N_IN),
        "w_rec": np.asarray(monitors["synapses_rec"].w).T.reshape(-1, 2, N_NET, N_NET - 1),
        "xi_rec": np.asarray(monitors["synapses_rec"].dw_pert).T.reshape(-1, 2, N_NET, N_NET - 1),
        "spike_i": np.asarray(monitors["spikes"].i).copy(),
        "spike_step": np.round(np.asarray(monitors["spikes"].t / STEP_DT)).astype(int),
    }
    trainer.close()
    return out, rec, weights


def full_recurrent(w_rec):
    """(N, N - 1) weights from the other neurons -> (N, N) matrix with a zero diagonal."""
    matrix = np.zeros((N_NET, N_NET))
    for i in range(N_NET):
        matrix[i, [j for j in range(N_NET) if j != i]] = w_rec[i]
    return matrix


def lif_numpy(w_in, w_rec, pert=None):
    """One pass of the discrete LIF scheme in numpy: per step the input spikes add 1 to their traces, the
    current ``I = W_in s_in + W_rec s + pert`` is held over the step, ``v`` integrates exactly, the traces decay,
    ``v > 1`` spikes (reset 0, ``s += 1``, ``zbar += 1``), and the error accumulates on the channel mean of zbar."""
    decay = {key: np.exp(-float(STEP_DT / SMALL[key])) for key in ("tau_m", "tau_s", "tau_out")}
    task = stimuli()
    raster, target = task["inputs"], task["targets"]
    matrix = full_recurrent(w_rec)
    v, s, zbar, s_in = (np.zeros(N_NET), np.zeros(N_NET), np.zeros(N_NET), np.zeros(N_IN))
    error, spikes = 0.0, []
    for step in range(N_STEPS):
        s_in = s_in + raster[step]
        current = w_in @ s_in + matrix @ s + (0.0 if pert is None else pert[step])
        v = current + (v - current) * decay["tau_m"]
        s, zbar, s_in = s * decay["tau_s"], zbar * decay["tau_out"], s_in * decay["tau_s"]
        fired = v > SMALL["v_threshold"]
        v[fired] = 0.0
        s[fired] += 1.0
        zbar[fired] += 1.0
        spikes.extend((i, step) for i in np.flatnonzero(fired))
        y = zbar[:SMALL["per_channel"]].mean()
        error += (y - target[step, 0]) ** 2 / (2 * N_STEPS)
    return error, spikes


def test_reference_and_perturbed_passes_equal_a_numpy_lif_loop(trained):
    out, rec, weights = trained
    history = out["history"]
    w_in0 = weights["in"].reshape(2, N_NET, N_IN)
    w_rec0 = weights["rec"].reshape(2, N_NET, N_NET - 1)
    e_ref, spikes = lif_numpy(w_in0[0], w_rec0[0])
    assert len(spikes) > 5, "the network spikes"
    brian_spikes = sorted(zip(rec["spike_i"][(rec["spike_i"] < N_NET) & (rec["spike_step"] < N_STEPS)],
                              rec["spike_step"][(rec["spike_i"] < N_NET) & (rec["spike_step"] < N_STEPS)]))
    assert brian_spikes == sorted(spikes), "spikes of learner 0's first (unperturbed) pass"
    for learner in range(2):
        row = history[(history["trial"] == 0) & (history["learner"] == learner)].iloc[0]
        assert np.isclose(row["E_ref"], e_ref, rtol=1e-9)
    # WP: the perturbed pass runs with w + xi (recorded), NP with the recorded node perturbations.
    for trial in range(N_TRIALS):
        boundary = trial + 1
        w_in, w_rec = rec["w_in"][boundary, 0], rec["w_rec"][boundary, 0]
        e_wp, _ = lif_numpy(w_in + rec["xi_in"][boundary, 0], w_rec + rec["xi_rec"][boundary, 0])
        row = history[(history["trial"] == trial) & (history["learner"] == 0)].iloc[0]
        assert np.isclose(row["E_pert"], e_wp, rtol=1e-9)
        assert np.isclose(row["E_ref"], lif_numpy(w_in, w_rec)[0], rtol=1e-9)
        steps = slice((2 * trial + 1) * N_STEPS, (2 * trial + 2) * N_STEPS)
        e_np, _ = lif_numpy(rec["w_in"][boundary, 1], rec["w_rec"][boundary, 1], pert=rec["pert"][steps, 1])
        row = history[(history["trial"] == trial) & (history["learner"] == 1)].iloc[0]
        assert np.isclose(row["E_pert"], e_np, rtol=1e-9)
        assert row["E_pert"] != row["E_ref"], "the perturbation changes the error"


def test_np_eligibility_is_the_sum_of_current_noise_times_the_hand_made_trace(trained):
    out, rec, _ = trained
    raster = stimuli()["inputs"]
    decay = np.exp(-float(STEP_DT / SMALL["tau_s"]))
    trace = np.zeros((N_STEPS, N_IN))  # s_k(t) = sum over spikes t_s <= t of decay^(t - t_s), seen in step t
    for step in range(N_STEPS):
        for earlier in range(step + 1):
            trace[step] += raster[earlier] * decay ** (step - earlier)
    assert np.allclose(rec["s_in"][:N_STEPS], trace, rtol=1e-12, atol=1e-15)
    assert np.allclose(rec["s_in"][N_STEPS:2 * N_STEPS], trace, rtol=1e-12, atol=1e-15), "every pass restarts"
    history = out["history"]
    for trial in range(N_TRIALS):
        boundary = trial + 1
        reference = slice(2 * trial * N_STEPS, (2 * trial + 1) * N_STEPS)
        perturbed = slice((2 * trial + 1) * N_STEPS, (2 * trial + 2) * N_STEPS)
        noise = rec["pert"][perturbed, 1]  # (T, N) current perturbations of the NP learner
        assert np.all(rec["pert"][reference, 1] == 0) and np.all(rec["pert"][:, 0] == 0)
        eligibility = noise.T @ trace  # e_ik = sum_t xi_i(t) s_k(t)
        assert np.allclose(rec["elig_in"][boundary, 1], eligibility, rtol=1e-10, atol=1e-13)
        row = history[(history["trial"] == trial) & (history["learner"] == 1)].iloc[0]
        delta_r = row["E_ref"] - row["E_pert"]
        expected = rec["w_in"][boundary, 1] + ETA * delta_r * eligibility / SIGMA[1] ** 2
        after = (rec["w_in"][boundary + 1, 1] if boundary + 1 < len(rec["w_in"])
                 else out["weights"]["w:tspk_in"].reshape(2, N_NET, N_IN)[1])
        assert np.allclose(after, expected, rtol=1e-10, atol=1e-13)
        row = history[(history["trial"] == trial) & (history["learner"] == 0)].iloc[0]
        delta_r = row["E_ref"] - row["E_pert"]
        expected = rec["w_in"][boundary, 0] + ETA * delta_r * rec["xi_in"][boundary, 0] / SIGMA[0] ** 2
        after = (rec["w_in"][boundary + 1, 0] if boundary + 1 < len(rec["w_in"])
                 else out["weights"]["w:tspk_in"].reshape(2, N_NET, N_IN)[0])
        assert np.allclose(after, expected, rtol=1e-10, atol=1e-13)
    assert abs(np.std(rec["pert"][N_STEPS:2 * N_STEPS, 1]) / SIGMA[1] - 1) < 0.3, "current noise has std sigma"


def test_xor_forward_equals_numpy_and_wp_learns_it():
    n_learners, n_trials = 8, 1200
    init = xor_network.initial_weights(n_learners, 4, scale=study.XOR_INIT_SCALE)
    trainer = PerturbationNetworkTrainer(lambda n: xor_network.xor_model(n_learners, n), n_learners, device="runtime",
                                         trials_per_run=n_trials)
    try:
        out = trainer.train(n_trials, LearnerValues("wp", **study.XOR_LEARNING["wp"]),
                            {"w:xor_layer1": init["layer1"].ravel(), "w:xor_layer2": init["layer2"].ravel()}, seed=8)
    finally:
        trainer.close()
    history = out["history"]
    first = history[history["trial"] == 0].sort_values("learner")["E_ref"].to_numpy()
    expected = [xor_network.error_numpy(init["layer1"][k], init["layer2"][k]) for k in range(n_learners)]
    assert np.allclose(first, expected, rtol=1e-12)
    outputs = out["outputs"]
    reference = outputs[outputs["pass"] == 0]
    initial_correct = reference[reference["trial"] == 0]["correct"].to_numpy()
    numpy_correct = [np.sum(np.abs(xor_network.forward_numpy(init["layer1"][k], init["layer2"][k]) - xor.TARGETS) < 0.5)
                     for k in range(n_learners)]
    assert np.array_equal(initial_correct, numpy_correct)
    final1 = out["weights"]["w:xor_layer1"].reshape(n_learners, xor_network.N_HIDDEN, 3)
    final2 = out["weights"]["w:xor_layer2"].reshape(n_learners, xor_network.N_HIDDEN + 1)
    solved = [k for k in range(n_learners)
              if np.all(np.abs(xor_network.forward_numpy(final1[k], final2[k]) - xor.TARGETS) < 0.5)]
    assert len(solved) >= n_learners // 2, f"only {len(solved)} of {n_learners} XOR networks solved by WP"
    for k in solved:
        hits = reference[(reference["learner"] == k) & (reference["correct"] == 4)]
        assert len(hits) > 0 and hits["trial"].min() < n_trials
    assert np.all(initial_correct < 4), "no network starts solved"


def test_study_runs_on_the_runtime_device(tmp_path, summary_vocabulary):
    args = study.Options(quick=True, seed=2, device="runtime", trials=2, learners=1, xor_trials=3, xor_learners=1,
                         out=str(tmp_path / "run"))
    summary = study.run(args)
    summary_vocabulary(summary, spiking=True)
    with open(os.path.join(args.out, "summary.json"), encoding="utf-8") as handle:
        saved = json.load(handle)
    assert saved["status"] == "completed"
    assert set(saved["spiking"]["rules"]) == {"wp", "np"} and set(saved["xor"]["rules"]) == {"wp", "np"}
    # The evaluation pass of the initial network has the error of trial 0 of the training.
    assert np.isclose(summary["spiking"]["initial_error"], float(study.evaluate_spiking(
        delayed_pattern_network.initial_spiking_weights(1, 2), [0])["error"][0]), rtol=1e-9)
    for name in ("spiking_learning_curves.parquet", "xor_learning_curves.parquet", "trials_to_criterion.parquet",
                 "spiking_outputs.parquet", "spiking_learning.png", "xor_learning.png"):
        assert os.path.exists(os.path.join(args.out, name))


def test_bad_input_raises_value_error():
    with pytest.raises(ValueError, match="--xor-trials"):
        study.run(study.Options(quick=True, seed=1, device="runtime", trials=None, learners=None, xor_trials=0,
                                xor_learners=None, out=None))
    with pytest.raises(ValueError, match="window"):
        timing_inputs(n_steps=20, n_in=10, burst_steps=(1, 4))
    with pytest.raises(ValueError, match="n_net"):
        delayed_pattern_network.delayed_pattern_model(1, 1, params={**SMALL, "per_channel": 6})


def test_a_wider_xor_network_with_other_targets_has_the_numpy_error_in_its_first_pass():
    n_learners, n_hidden, targets = 3, 8, np.array([0.1, 0.9, 0.9, 0.1])
    init = xor_network.initial_weights(n_learners, 5, n_hidden=n_hidden)
    trainer = PerturbationNetworkTrainer(
        lambda n: xor_network.xor_model(n_learners, n, n_hidden=n_hidden, targets=targets), n_learners,
        device="runtime", trials_per_run=2)
    try:
        out = trainer.train(2, LearnerValues("np", eta=1.0, sigma=0.05),
                            {"w:xor_layer1": init["layer1"].ravel(), "w:xor_layer2": init["layer2"].ravel()}, seed=3)
    finally:
        trainer.close()
    first = out["history"].query("trial == 0").sort_values("learner")["E_ref"].to_numpy()
    expected = [0.5 * np.mean((xor_network.forward_numpy(init["layer1"][k], init["layer2"][k]) - targets) ** 2)
                for k in range(n_learners)]
    np.testing.assert_allclose(first, expected, rtol=1e-12)
    assert out["weights"]["w:xor_layer1"].shape == (n_learners * n_hidden * 3,)
    with pytest.raises(ValueError, match="'targets' must hold one value per pattern"):
        xor_network.xor_model(1, 1, targets=[0.0, 1.0])


def test_serial_weight_perturbation_steps_along_the_backprop_gradient_one_weight_at_a_time():
    from brian2learn.plasticity import feedforward

    init = xor_network.initial_weights(1, 7, scale=0.5)
    w1, w2 = init["layer1"][0], init["layer2"][0]
    targets = np.array([0.1, 0.9, 0.9, 0.1])
    # backprop's gradient of E = (1/2T) sum (y - y*)^2 (feedforward.train_epoch with the whole set as one batch
    # steps by lr * mean over patterns of (1/2)|y - y*|^2's gradient: E's gradient times T/T = the same mean)
    params = {"w1": w1[:, :2], "b1": w1[:, 2], "w2": w2[None, :2], "b2": w2[2:]}
    stepped = feedforward.train_epoch(params, xor.PATTERNS, targets[:, None], 1.0)
    gradient = np.r_[np.c_[params["w1"] - stepped["w1"], params["b1"] - stepped["b1"]].ravel(),
                     (params["w2"] - stepped["w2"]).ravel(), params["b2"] - stepped["b2"]]
    eta, p = 2.0, 1e-6
    for k in (0, 4, 7):  # a first-layer weight, a bias, a second-layer weight
        a, b, errors = xor_network.serial_weight_perturbation(w1, w2, 1, eta, p, targets, first=k)
        change = np.r_[(a - w1).ravel(), b - w2]
        assert np.count_nonzero(change) == 1
        np.testing.assert_allclose(change[k], -eta * gradient[k], rtol=1e-4)  # a finite difference of O(p)
        assert errors[0] == pytest.approx(0.5 * np.mean((xor_network.forward_numpy(w1, w2) - targets) ** 2))
    # held at levels: the network runs rounded weights, the stored weights keep the unrounded update
    rounded = lambda a, b: (np.round(a), np.round(b))  # noqa: E731
    a, _, errors = xor_network.serial_weight_perturbation(w1, w2, 1, eta, 1.0, targets, rounded)
    assert errors[0] == pytest.approx(0.5 * np.mean((xor_network.forward_numpy(*rounded(w1, w2)) - targets) ** 2))
    assert a[0, 0] != np.round(a[0, 0])


def test_xor_network_at_discrete_levels_runs_the_rounded_weights_and_keeps_the_update_unrounded():
    from brian2learn.models.ttfs_substrate import quantize_weights
    from brian2learn.models.weight_levels import discrete_levels

    n_learners, bits, w_max = 2, 4, 1.0
    init = xor_network.initial_weights(n_learners, 9, scale=1.0)
    level, limit = discrete_levels(bits, w_max)
    assert (level, limit) == (w_max / 7, 7.0)
    values = {f"w_{kind}:xor_layer{k}": np.full(init[f"layer{k}"].size, value)
              for k in (1, 2) for kind, value in (("level", level), ("limit", limit))}
    trainer = PerturbationNetworkTrainer(lambda n: xor_network.xor_model(n_learners, n), n_learners,
                                         device="runtime", trials_per_run=3)
    try:
        out = trainer.train(3, LearnerValues("wp", eta=5.0, sigma=level),
                            {"w:xor_layer1": init["layer1"].ravel(), "w:xor_layer2": init["layer2"].ravel()},
                            values=values, seed=2)
    finally:
        trainer.close()
    first = out["history"].query("trial == 0").sort_values("learner")["E_ref"].to_numpy()
    expected = [xor_network.error_numpy(quantize_weights(init["layer1"][k], bits, w_max),
                                        quantize_weights(init["layer2"][k], bits, w_max)) for k in range(n_learners)]
    np.testing.assert_allclose(first, expected, rtol=1e-12)  # the reference pass ran the rounded weights
    final = out["weights"]["w:xor_layer1"]
    assert not np.allclose(final, quantize_weights(final, bits, w_max))  # the stored weights are not rounded
