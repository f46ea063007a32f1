"""WP and NP on Brian2 Synapses (perturbation_network), the reservoir and the butterfly task, against numpy.

One cpp_standalone build (module fixture) of a small replayed-input readout with many learners serves the
hand computations and the expected-update tests; the runtime device runs the device comparison, the
reservoir and a tiny study run.
"""

import json
import os

import numpy as np
import pandas as pd
import pytest

from brian2learn.plasticity import reservoir
from brian2learn.plasticity.perturbation_network import (
    LearnerValues,
    linear_readout_model,
)
from brian2learn.studies import perturbation_reservoir as study
from brian2learn.tasks import butterfly
from brian2learn.training.perturbation_network import PerturbationNetworkTrainer

N_IN, N_OUT, N_STEPS = 4, 2, 10
PER_RULE = 1000        # learners per rule: averages of single-trial updates
N_LEARNERS = 2 * PER_RULE
RECORD = 2             # learners of each rule recorded in detail: learners 0, 1 (WP) and PER_RULE, PER_RULE + 1 (NP)
WEIGHT = "w:readout_synapses"
ETA, SIGMA = 0.05, 0.05


def small_task():
    rng = np.random.default_rng(7)
    return {"inputs": rng.standard_normal((N_STEPS, N_IN)), "target": rng.standard_normal((N_STEPS, N_OUT))}


def rules():
    return ["wp"] * PER_RULE + ["np"] * PER_RULE


def build_small(n_learners, record):
    def build(n_trials):
        return linear_readout_model(N_IN, N_OUT, N_STEPS, n_learners, n_trials, record_learners=record)
    return build


@pytest.fixture(scope="module")
def standalone(tmp_path_factory):
    # Detail monitors cover the first PER_RULE + RECORD learners: the first WP and the first NP learners.
    trainer = PerturbationNetworkTrainer(build_small(N_LEARNERS, PER_RULE + RECORD), N_LEARNERS,
                                         device="cpp_standalone", trials_per_run=3,
                                         directory=str(tmp_path_factory.mktemp("pn_build")))
    yield trainer
    trainer.close()


def error(weights, task):
    return reservoir.readout_error(weights, task["inputs"], task["target"])


def detail(trainer):
    model = trainer.model
    syn = model.monitors["synapses"]
    n_rec = syn.w.shape[0] // (N_OUT * N_IN)
    shape = (-1, n_rec, N_OUT, N_IN)
    steps = np.asarray(model.monitors["steps"].pert).T.reshape(-1, n_rec, N_OUT)
    return {"w": np.asarray(syn.w).T.reshape(shape), "xi": np.asarray(syn.dw_pert).T.reshape(shape),
            "elig": np.asarray(syn.elig).T.reshape(shape), "pert": steps}


def test_updates_and_np_eligibility_equal_hand_computation(standalone):
    task = small_task()
    w0 = np.random.default_rng(1).normal(0, 0.3, (N_LEARNERS, N_OUT, N_IN))
    out = standalone.train(3, LearnerValues(rules(), eta=ETA, sigma=SIGMA), {WEIGHT: w0.ravel()},
                           stimuli=task, seed=4)
    rec = detail(standalone)
    history = out["history"]
    assert np.allclose(rec["w"][1, :RECORD], w0[:RECORD]), "the first trial starts from the given weights"
    checked = 0
    for trial in range(3):
        boundary = trial + 1  # trial k's values before its update are recorded at boundary k + 1
        for learner in (*range(RECORD), *range(PER_RULE, PER_RULE + RECORD)):
            w = rec["w"][boundary, learner]
            row = history[(history["trial"] == trial) & (history["learner"] == learner)].iloc[0]
            e_ref = error(w, task)
            if learner < PER_RULE:
                xi = rec["xi"][boundary, learner]
                assert np.all(rec["elig"][boundary, learner] == 0)
                e_pert = error(w + xi, task)
                direction = xi
            else:
                noise = rec["pert"][(2 * trial + 1) * N_STEPS:(2 * trial + 2) * N_STEPS, learner]  # perturbed pass
                assert np.all(rec["pert"][2 * trial * N_STEPS:(2 * trial + 1) * N_STEPS, learner] == 0)
                assert np.all(rec["xi"][boundary, learner] == 0)
                direction = noise.T @ task["inputs"]  # e_kn = sum_t xi_k(t) x_n(t)
                assert np.allclose(rec["elig"][boundary, learner], direction, rtol=1e-12, atol=1e-15)
                outputs = task["inputs"] @ w.T + noise
                e_pert = 0.5 * np.sum((outputs - task["target"]) ** 2) / N_STEPS
            assert np.isclose(row["E_ref"], e_ref, rtol=1e-12)
            assert np.isclose(row["E_pert"], e_pert, rtol=1e-12)
            expected = w + ETA * (e_ref - e_pert) * direction / SIGMA ** 2
            after = (rec["w"][boundary + 1, learner] if boundary + 1 < len(rec["w"])
                     else out["weights"][WEIGHT].reshape(N_LEARNERS, N_OUT, N_IN)[learner])  # the last update
            assert np.allclose(after, expected, rtol=1e-10, atol=1e-13)
            checked += 1
    assert checked == 12
    assert abs(np.std(rec["xi"][1:4, :RECORD]) / SIGMA - 1) < 0.35, "weight perturbations have std sigma"


def finite_difference_gradient(weights, task, step=1e-6):
    grad = np.zeros_like(weights)
    for index in np.ndindex(weights.shape):
        plus, minus = weights.copy(), weights.copy()
        plus[index] += step
        minus[index] -= step
        grad[index] = -(error(plus, task) - error(minus, task)) / (2 * step)  # gradient of R = -E
    return grad


def test_expected_updates_equal_the_finite_difference_gradient(standalone):
    """<dW>/eta over 1000 learners of each rule, one trial from the same weights, is grad R (finite differences)."""
    task = small_task()
    w0 = np.random.default_rng(2).normal(0, 0.3, (N_OUT, N_IN))
    out = standalone.train(1, LearnerValues(rules(), eta=ETA, sigma=SIGMA),
                           {WEIGHT: np.tile(w0.ravel(), N_LEARNERS)}, stimuli=task, seed=5)
    grad = finite_difference_gradient(w0, task)
    estimates = (out["weights"][WEIGHT].reshape(N_LEARNERS, N_OUT, N_IN) - w0) / ETA
    for rule, block in (("wp", estimates[:PER_RULE]), ("np", estimates[PER_RULE:])):
        mean = block.mean(axis=0)
        standard_error = block.std(axis=0, ddof=1) / np.sqrt(PER_RULE)
        z = np.abs(mean - grad) / standard_error
        assert np.all(z < 4.5), f"{rule}: mean update off the gradient by {z.max():.1f} standard errors"
        cosine = float(np.sum(mean * grad) / (np.linalg.norm(mean) * np.linalg.norm(grad)))
        assert cosine > 0.95, f"{rule}: cosine {cosine:.3f} between mean update and gradient"


def test_runtime_equals_cpp_standalone(standalone):
    """Deterministic perturbation sequences (random_scale = 0): both devices compute the same numbers."""
    task = small_task()
    n_small = 4  # the first learners of both builds have the same indices, hence the same sequences
    w0 = np.random.default_rng(3).normal(0, 0.3, (N_LEARNERS, N_OUT, N_IN))
    learner_rules = ["wp", "np"] * (N_LEARNERS // 2)
    big = standalone.train(3, LearnerValues(learner_rules, eta=ETA, sigma=SIGMA, random_scale=0.0),
                           {WEIGHT: w0.ravel()}, stimuli=task, seed=6)
    runtime = PerturbationNetworkTrainer(build_small(n_small, 0), n_small, device="runtime", trials_per_run=3)
    try:
        small = runtime.train(3, LearnerValues(learner_rules[:n_small], eta=ETA, sigma=SIGMA, random_scale=0.0),
                              {WEIGHT: w0[:n_small].ravel()}, stimuli=task, seed=6)
    finally:
        runtime.close()
    a = big["history"][big["history"]["learner"] < n_small].sort_values(["learner", "trial"])
    b = small["history"].sort_values(["learner", "trial"])
    assert np.allclose(a[["E_ref", "E_pert", "dR"]].to_numpy(), b[["E_ref", "E_pert", "dR"]].to_numpy(),
                       rtol=1e-10, atol=1e-14)
    assert np.allclose(big["weights"][WEIGHT][:n_small * N_OUT * N_IN], small["weights"][WEIGHT], rtol=1e-10)
    assert np.all(a["dR"].to_numpy() != 0), "the deterministic perturbations change the reward"


def test_running_average_reference_by_hand():
    """reference = 'average': one perturbed pass per trial, R_ref the running average of R_pert (runtime device)."""
    task = small_task()
    decay, n_trials = 0.6, 6
    trainer = PerturbationNetworkTrainer(
        lambda n: linear_readout_model(N_IN, N_OUT, N_STEPS, 2, n, reference="average", record_learners=2), 2,
        device="runtime", trials_per_run=n_trials)
    w0 = np.random.default_rng(5).normal(0, 0.3, (2, N_OUT, N_IN))
    try:
        out = trainer.train(n_trials, LearnerValues(["wp", "np"], eta=0.02, sigma=SIGMA, average_decay=decay),
                            {WEIGHT: w0.ravel()}, stimuli=task, seed=9)
        rec = detail(trainer)
    finally:
        trainer.close()
    history = out["history"]
    assert history["E_ref"].isna().all(), "no unperturbed pass"
    for learner in range(2):
        rows = history[history["learner"] == learner].sort_values("trial")
        r_pert = -rows["E_pert"].to_numpy()
        w = rec["w"][:, learner]
        direction = rec["xi"][:, learner] if learner == 0 else rec["elig"][:, learner]
        for trial in range(n_trials):
            boundary = trial + 1
            e_pert = (error(w[boundary] + rec["xi"][boundary, learner], task) if learner == 0 else
                      0.5 * np.sum((task["inputs"] @ w[boundary].T
                                    + rec["pert"][trial * N_STEPS:(trial + 1) * N_STEPS, learner]
                                    - task["target"]) ** 2) / N_STEPS)
            assert np.isclose(rows["E_pert"].iloc[trial], e_pert, rtol=1e-12)
            if trial == 0:
                r_bar = r_pert[0]
                assert rows["dR"].iloc[0] == 0, "the first trial only starts the average"
                continue
            assert np.isclose(rows["dR"].iloc[trial], r_pert[trial] - r_bar, rtol=1e-10, atol=1e-15)
            if boundary + 1 < len(w):
                expected = w[boundary] + 0.02 * (r_pert[trial] - r_bar) * direction[boundary] / SIGMA ** 2
                assert np.allclose(w[boundary + 1], expected, rtol=1e-10, atol=1e-13)
            r_bar = decay * r_bar + (1 - decay) * r_pert[trial]


def test_reservoir_in_brian2_equals_numpy():
    inputs = butterfly.input_signals(n_steps=40, n_inputs=5)
    weights = reservoir.draw_reservoir(2, n_units=30, n_inputs=5)
    brian = reservoir.reservoir_states_brian2(weights, inputs, tau=10.0, warmup=15)
    reference = reservoir.reservoir_states_numpy(weights, inputs, tau=10.0, warmup=15)
    assert brian.shape == (40, 30)
    assert np.allclose(brian, reference, rtol=1e-12, atol=1e-14)
    assert np.std(brian) > 0.05, "the reservoir is active"
    # The inputs: orthonormal up to sqrt(T), constant first, periodic sine/cosine after.
    assert np.allclose(inputs.T @ inputs, 40 * np.eye(5), atol=1e-9)
    assert np.allclose(inputs[:, 0], inputs[0, 0])


def test_least_squares_optimum_against_numpy():
    rng = np.random.default_rng(4)
    states = np.tanh(rng.standard_normal((60, 12)) @ rng.standard_normal((12, 12)) * 0.5)
    target = rng.standard_normal((60, 2))
    weights, err = reservoir.least_squares_optimum(states, target)
    reference = np.linalg.lstsq(states, target, rcond=None)[0].T
    assert np.allclose(weights, reference)
    assert np.isclose(err, 0.5 * np.sum((states @ reference.T - target) ** 2) / 60)
    # Over k principal components: least squares in the span of the top-k right singular vectors.
    _, _, vt = np.linalg.svd(states, full_matrices=False)
    errors = []
    for k in (1, 3, 6, 12):
        basis = vt[:k].T  # (N, k)
        coefficients = np.linalg.lstsq(states @ basis, target, rcond=None)[0]
        expected = 0.5 * np.sum((states @ basis @ coefficients - target) ** 2) / 60
        w_k, e_k = reservoir.least_squares_optimum(states, target, k)
        assert np.isclose(e_k, expected, rtol=1e-9)
        assert np.allclose(w_k, (basis @ coefficients).T, atol=1e-9)
        errors.append(e_k)
    assert np.all(np.diff(errors) <= 1e-12) and np.isclose(errors[-1], err)


def test_study_runs_on_the_runtime_device(tmp_path, summary_vocabulary):
    args = study.Options(quick=True, seed=3, device="runtime", trials=2, learners=1, out=str(tmp_path / "run"))
    summary = study.run(args)
    summary_vocabulary(summary, spiking=False)
    with open(os.path.join(args.out, "summary.json"), encoding="utf-8") as handle:
        assert json.load(handle)["status"] == "completed"
    states = reservoir.reservoir_states_numpy(reservoir.draw_reservoir(3), butterfly.input_signals())
    task = {"states": states, "target": butterfly.butterfly_target()}
    _, e5 = reservoir.least_squares_optimum(task["states"], task["target"], 5)
    assert np.isclose(summary["least_squares_error"]["k5"], e5)
    assert summary["least_squares_error"]["all"] < 1e-12, "500 states span the butterfly"
    curves = pd.read_parquet(os.path.join(args.out, "learning_curves.parquet"))
    first = curves[curves["trial"] == 0]["E_ref"].to_numpy()
    assert np.allclose(first, summary["initial_error"]), "every learner starts from zero weights"
    assert np.isclose(summary["initial_error"], 0.5 * np.mean(np.sum(task["target"] ** 2, axis=1)))
    for name in ("trials_to_criterion.parquet", "final_outputs.parquet", "learning_curves.png", "butterflies.png"):
        assert os.path.exists(os.path.join(args.out, name))


def test_bad_input_raises_value_error():
    with pytest.raises(ValueError, match="rule"):
        LearnerValues("bp", eta=0.1, sigma=0.1).arrays(2)
    with pytest.raises(ValueError, match="sigma"):
        LearnerValues("wp", eta=0.1, sigma=0.0).arrays(2)
    with pytest.raises(ValueError, match="reference"):
        linear_readout_model(2, 1, 4, 1, 1, reference="mean")
    with pytest.raises(ValueError, match="--device"):
        study.run(study.Options(quick=True, seed=1, device="gpu", trials=None, learners=None, out=None))
    with pytest.raises(ValueError, match="n_components"):
        reservoir.least_squares_optimum(np.ones((5, 3)), np.ones((5, 2)), 4)
