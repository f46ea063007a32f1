"""Weight and node perturbation in Brian2 against hand computations, the other device and the closed forms.

One cpp_standalone build (module fixture) serves every standalone test; the runtime device runs the same
network for the device comparison.
"""

import brian2 as b2
import numpy as np
import pytest

from brian2learn.plasticity.perturbation import (
    LearnerSettings,
    PerturbationConfig,
    PerturbationNetwork,
    check_clock_lockstep,
)
from brian2learn.tasks.perturbation_linear import LinearTask, analytic_error_curve, fourier_basis
from brian2learn.training.perturbation import PerturbationTrainer

N_IN, N_OUT, N_STEPS, N_TASK = 10, 3, 12, 5
REPLICAS = 1000
TRIALS_PER_RUN = 20
DETAIL = 2  # learners per rule whose weights, perturbations and steps are recorded


def small_task(n_eff_trial):
    return LinearTask(n_in=N_IN, n_out=N_OUT, n_steps=N_STEPS, n_eff_task=N_TASK, n_eff_trial=n_eff_trial,
                      w_target_value=0.5, e_opt=0.5)


def settings(task, sigma_eff=0.2, **kwargs):
    return {rule: LearnerSettings(eta=task.optimal_learning_rate(rule),
                                  sigma=task.perturbation_strength(rule, sigma_eff), **kwargs)
            for rule in ("wp", "np")}


def make_trainer(device, tmp_path_factory=None):
    config = PerturbationConfig(n_in=N_IN, n_out=N_OUT, n_steps=N_STEPS, n_replicas=REPLICAS)
    directory = str(tmp_path_factory.mktemp("perturbation_build")) if tmp_path_factory else None
    return PerturbationTrainer(config, device=device, trials_per_run=TRIALS_PER_RUN, directory=directory,
                               record_detail=DETAIL, record_steps=True)


@pytest.fixture(scope="module")
def standalone(tmp_path_factory):
    trainer = make_trainer("cpp_standalone", tmp_path_factory)
    yield trainer
    trainer.close()


def recorded(trainer, rule):
    """Per-trial records of the first run: weights before each update, perturbations, strengths."""
    model = trainer.model
    detail = model.detail_monitors[rule]
    weights = np.asarray(detail.w).T.reshape(-1, DETAIL, N_OUT, N_IN)  # boundary, learner, k, n
    perturbation = np.asarray(detail.dw_pert if rule == "wp" else detail.elig).T.reshape(-1, DETAIL, N_OUT, N_IN)
    strengths = np.asarray(model.strength_monitor.strength).T.reshape(-1, DETAIL, N_IN)
    trial = model.trial_monitors[rule]
    return {"w": weights, "perturbation": perturbation, "strengths": strengths,
            "E_ref": np.asarray(trial.E_ref_total)[:DETAIL].T, "dE": np.asarray(trial.dE_total)[:DETAIL].T}


def test_wp_update_equals_hand_computation(standalone):
    task = small_task(n_eff_trial=2)
    learners = settings(task)
    standalone.train(task, TRIALS_PER_RUN, learners, seed=11)
    rec = recorded(standalone, "wp")
    eta, sigma = learners["wp"].eta, learners["wp"].sigma
    assert np.all(rec["w"][1] == 0.0), "the first trial starts from the initial (zero) weights"
    xi_all = rec["perturbation"][1:TRIALS_PER_RUN + 1]
    assert abs(np.std(xi_all) / sigma - 1) < 0.05, "weight perturbations are N(0, sigma^2)"
    checked = 0
    for trial in range(8):
        boundary = trial + 1  # records at boundary k + 1 belong to trial k
        for learner in range(DETAIL):
            w_before = rec["w"][boundary, learner]
            xi = rec["perturbation"][boundary, learner]
            x = task.inputs(rec["strengths"][boundary, learner])
            r_ref = -task.error(w_before, x)
            r_pert = -task.error(w_before + xi, x)
            assert np.isclose(rec["E_ref"][boundary, learner], -r_ref, rtol=1e-12)
            assert np.isclose(rec["dE"][boundary, learner], r_ref - r_pert, rtol=1e-9)
            expected = w_before + eta * (r_pert - r_ref) * xi / sigma ** 2
            assert np.allclose(rec["w"][boundary + 1, learner], expected, rtol=1e-9, atol=1e-12)
            checked += 1
    assert checked == 16


def test_np_eligibility_and_update_equal_hand_computation(standalone):
    task = small_task(n_eff_trial=2)
    learners = settings(task)
    standalone.train(task, TRIALS_PER_RUN, learners, seed=12)
    model = standalone.model
    rec = recorded(standalone, "np")
    eta, sigma = learners["np"].eta, learners["np"].sigma
    noise = np.asarray(model.step_monitors["np"].pert).T.reshape(-1, DETAIL, N_OUT)  # step, learner, k
    x_steps = np.asarray(model.input_step_monitor.x).T.reshape(-1, DETAIL, N_IN)  # step, block, n
    assert abs(np.std(noise[:TRIALS_PER_RUN * N_STEPS]) / sigma - 1) < 0.05, "node perturbations are N(0, sigma^2)"
    for trial in range(8):
        steps = slice(trial * N_STEPS, (trial + 1) * N_STEPS)
        boundary = trial + 1
        for learner in range(DETAIL):
            xi = noise[steps, learner]  # (T, M)
            x = x_steps[steps, learner]  # (T, N)
            assert np.allclose(x, task.inputs(rec["strengths"][boundary, learner]), rtol=1e-12, atol=1e-14)
            eligibility = xi.T @ x  # e_kn = sum_t xi_k(t) x_n(t)
            assert np.allclose(rec["perturbation"][boundary, learner], eligibility, rtol=1e-10, atol=1e-14)
            w_before = rec["w"][boundary, learner]
            r_ref = -task.error(w_before, x)
            r_pert = -task.error(w_before, x, perturbation=xi)
            expected = w_before + eta * (r_pert - r_ref) * eligibility / sigma ** 2
            assert np.allclose(rec["w"][boundary + 1, learner], expected, rtol=1e-9, atol=1e-12)


def test_running_average_reference_by_hand(standalone):
    task = small_task(n_eff_trial=N_TASK)
    decay = 0.7
    # The average's lag enters dR / sigma^2: a rate well below the optimal one keeps learning stable.
    learners = {rule: LearnerSettings(eta=0.05 * task.optimal_learning_rate(rule),
                                      sigma=task.perturbation_strength(rule, 0.5), reference="average",
                                      average_decay=decay) for rule in ("wp", "np")}
    standalone.train(task, TRIALS_PER_RUN, learners, seed=13)
    rec = recorded(standalone, "wp")
    eta, sigma = learners["wp"].eta, learners["wp"].sigma
    r_pert = -(rec["E_ref"] + rec["dE"])  # per boundary and learner
    for learner in range(DETAIL):
        w = rec["w"][:, learner]
        assert np.array_equal(w[2], w[1]), "the first trial only starts the running average"
        r_bar = r_pert[1, learner]
        for boundary in range(2, 10):
            xi = rec["perturbation"][boundary, learner]
            expected = w[boundary] + eta * (r_pert[boundary, learner] - r_bar) * xi / sigma ** 2
            assert np.allclose(w[boundary + 1], expected, rtol=1e-9, atol=1e-12)
            r_bar = decay * r_bar + (1 - decay) * r_pert[boundary, learner]


def test_runtime_equals_cpp_standalone(standalone):
    """Deterministic perturbation sequences (random_scale = 0): both devices compute the same numbers."""
    task = small_task(n_eff_trial=2)
    learners = settings(task, random_scale=0.0)
    results = {"cpp_standalone": standalone.train(task, 6, learners, seed=5)}
    runtime = make_trainer("runtime")
    try:
        results["runtime"] = runtime.train(task, 6, learners, seed=5)
    finally:
        runtime.close()
    a, b = results["cpp_standalone"], results["runtime"]
    assert np.array_equal(a["history"][["trial", "rule", "replica"]].to_numpy(),
                          b["history"][["trial", "rule", "replica"]].to_numpy())
    assert np.allclose(a["history"]["error"], b["history"]["error"], rtol=1e-10, atol=1e-12)
    for rule in ("wp", "np"):
        assert np.abs(a["weights"][rule]).max() > 0.01, "the weights must have moved"
        assert np.allclose(a["weights"][rule], b["weights"][rule], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("n_eff_trial,sigma_eff,block", [(N_TASK, 0.2, 1), (2, 1e-6, 10)])
def test_mean_curve_matches_analytic_prediction(standalone, n_eff_trial, sigma_eff, block):
    """Mean over 1000 learners per rule vs the closed form, within 5 % at every trial (block means of
    10 trials for multiple subtasks, whose per-trial error also depends on the trial's inputs)."""
    task = small_task(n_eff_trial)
    learners = settings(task, sigma_eff=sigma_eff)
    n_trials = 4 * TRIALS_PER_RUN  # four runs of the same build: weights and seeds travel between runs
    history = standalone.train(task, n_trials, learners, seed=21)["history"]
    for rule in ("wp", "np"):
        mean = history[history["rule"] == rule].groupby("trial")["error"].mean().to_numpy()
        curve = analytic_error_curve(task, rule, learners[rule].eta, learners[rule].sigma, n_trials)
        assert curve["e_final"] < 0.5 * task.initial_error(), "the learning curve must drop"
        sim = mean.reshape(-1, block).mean(axis=1)
        theory = curve["error"].reshape(-1, block).mean(axis=1)
        assert np.max(np.abs(sim - theory) / theory) < 0.05


def test_analytic_curves_reproduce_the_papers_numbers():
    """The closed forms at the paper's parameters (Züge et al. 2023; shared/REFERENCES.md)."""
    single = LinearTask(n_eff_task=50, n_eff_trial=50)
    multiple = LinearTask(n_eff_task=50, n_eff_trial=10)
    assert np.isclose(single.initial_error(), 7.0) and np.isclose(multiple.initial_error(), 7.0)
    wp = analytic_error_curve(single, "wp", single.optimal_learning_rate("wp"),
                              single.perturbation_strength("wp", 0.04), 10_000)
    np_ = analytic_error_curve(single, "np", single.optimal_learning_rate("np"),
                               single.perturbation_strength("np", 0.04), 10_000)
    assert np.isclose(wp["e_final"], 3.008, atol=1e-3) and np.isclose(np_["e_final"], 5.996, atol=1e-3)
    assert 1100 < wp["trials_to_90"] < 1200
    wp_m = analytic_error_curve(multiple, "wp", multiple.optimal_learning_rate("wp"), 1e-12, 10_000)
    np_m = analytic_error_curve(multiple, "np", multiple.optimal_learning_rate("np"), 1e-12, 10_000)
    assert np.isclose(wp_m["e_final"], 2.0) and np.isclose(np_m["e_final"], 2.0 * (1 + 100 / 102))
    assert np_m["trials_to_90"] < wp_m["trials_to_90"] / 4, "NP learns faster with multiple subtasks"
    basis = fourier_basis(100)
    assert np.allclose(basis @ basis.T, np.eye(100), atol=1e-12)


def test_bad_input_names_the_parameter():
    with pytest.raises(ValueError, match="unknown rule 'xp'; allowed: wp, np"):
        PerturbationConfig(n_in=2, n_out=1, n_steps=4, rules=("xp",))
    with pytest.raises(ValueError, match="unknown reference 'best'; allowed: unperturbed, average"):
        LearnerSettings(eta=0.1, sigma=0.1, reference="best")
    with pytest.raises(ValueError, match="'sigma' must be positive"):
        LearnerSettings(eta=0.1, sigma=0.0)
    with pytest.raises(ValueError, match="'n_eff_trial' must be at most 'n_eff_task'"):
        LinearTask(n_eff_task=5, n_eff_trial=6)
    with pytest.raises(ValueError, match="'dt' = .* drift"):
        check_clock_lockstep(1 * b2.ms, 99, 1000)
    config = PerturbationConfig(n_in=2, n_out=1, n_steps=4)
    with pytest.raises(ValueError, match="'record_detail' must be an integer in"):
        PerturbationNetwork(config, 3, record_detail=5)
    trainer = PerturbationTrainer(config, device="runtime", trials_per_run=2)
    with pytest.raises(ValueError, match="the task has \\(n_in, n_out, n_steps\\)"):
        trainer.train(small_task(2), 2, settings(small_task(2)))
    with pytest.raises(ValueError, match="unknown device 'gpu'; allowed: runtime, cpp_standalone"):
        PerturbationTrainer(config, device="gpu")


def test_study_rejects_bad_options_in_one_line(tmp_path, capsys):
    from brian2learn.studies import perturbation_linear

    assert perturbation_linear.main(["--device", "gpu", "--out", str(tmp_path / "run")]) == 2
    error = capsys.readouterr().err.strip()
    assert error == ("brian2learn: error: unknown device 'gpu' for '--device'; allowed: cpp_standalone, runtime")
    assert perturbation_linear.main(["--replicas", "0", "--out", str(tmp_path / "run")]) == 2
    assert "'--replicas' must be a positive integer, got 0" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_every_run_of_one_build_draws_its_own_reproducible_perturbations(standalone):
    task = small_task(n_eff_trial=2)
    learners = settings(task)
    draws = []
    for seed in (31, 31, 32):
        standalone.train(task, TRIALS_PER_RUN, learners, seed=seed)
        draws.append(recorded(standalone, "wp")["perturbation"][1:TRIALS_PER_RUN + 1].copy())
    assert np.array_equal(draws[0], draws[1]), "the same seed gives the same perturbations"
    assert not np.allclose(draws[0], draws[2]), "another seed gives other perturbations"
    # Within one training, run k uses seed * 100003 + k: the second run differs from a first run.
    standalone.train(task, 2 * TRIALS_PER_RUN, learners, seed=31)
    second_run = recorded(standalone, "wp")["perturbation"][1:TRIALS_PER_RUN + 1]
    assert not np.allclose(second_run, draws[0])
