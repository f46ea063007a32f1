"""The WP/NP-plastic classifier in Brian2 (plasticity.classifier_network) against the numpy network of
plasticity.feedforward: its errors minibatch by minibatch, its perturbed pass, and its updates along backprop's
gradient."""

import numpy as np
import pytest

from brian2learn.plasticity import classifier_network as cn
from brian2learn.plasticity import feedforward
from brian2learn.plasticity.perturbation_network import LearnerValues
from brian2learn.training.perturbation_network import PerturbationNetworkTrainer

SIZES = (3, 4, 2)
BATCH = 5


def _data(seed=0, n=40):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (n, SIZES[0]))
    labels = rng.integers(0, SIZES[2], n)
    return x, np.where(np.arange(SIZES[2]) == labels[:, None], 0.9, 0.1)


def _params(seed=3):
    rng = np.random.default_rng(seed)
    n_in, n_hidden, n_out = SIZES
    return {"w1": rng.normal(0, 1, (n_hidden, n_in)), "b1": rng.normal(0, 0.5, n_hidden),
            "w2": rng.normal(0, 1, (n_out, n_hidden)), "b2": rng.normal(0, 0.5, n_out)}


def _loss(params, x, d):
    return float(np.mean(0.5 * np.sum((feedforward.forward(params, x) - d) ** 2, axis=1)))


def _train(n_learners, n_trials, trials_per_run, learners, params, x, d, order, seed=1):
    layer1, layer2 = cn.to_synapses(params)
    trainer = PerturbationNetworkTrainer(lambda n: cn.classifier_model(n_learners, n, SIZES, BATCH), n_learners,
                                         device="runtime", trials_per_run=trials_per_run)
    try:
        return trainer.train(n_trials, learners,
                             {"w:clf_layer1": np.tile(layer1, n_learners), "w:clf_layer2": np.tile(layer2, n_learners)},
                             stimuli=lambda first, n: cn.minibatch_stimuli(x, d, order, first, n, BATCH), seed=seed)
    finally:
        trainer.close()


def test_synapse_order_round_trips_and_matches_the_connectivity():
    params = _params()
    back = cn.from_synapses(*cn.to_synapses(params), SIZES)
    for name in params:
        np.testing.assert_array_equal(back[name], params[name])
    conn = cn.connectivity(2, SIZES)
    # learner 1's synapse from the constant input to hidden unit 2 carries b1[2]
    index = (1 * SIZES[1] + 2) * (SIZES[0] + 1) + SIZES[0]
    assert conn["layer1"][0][index] == SIZES[0] and conn["layer1"][1][index] == 1 * (SIZES[1] + 1) + 2
    with pytest.raises(ValueError, match="'sizes' must be three positive integers"):
        cn.connectivity(1, (3, 0, 2))
    with pytest.raises(ValueError, match="'batch_size' must be a positive integer"):
        cn.classifier_model(1, 1, SIZES, 0)
    with pytest.raises(ValueError, match="'order' has no example for trial 9"):
        cn.minibatch_stimuli(*_data(), np.arange(40), 9, 1, BATCH)


def test_each_trial_has_the_numpy_error_of_its_own_minibatch_across_runs():
    x, d = _data()
    order = np.random.default_rng(5).permutation(len(x))
    params = _params()
    # eta = 0: the weights stay, so trial m's reference error is the numpy loss of minibatch m at the initial weights;
    # three runs of 2 trials (the last run has one trial): the stimuli follow the run's first trial
    out = _train(1, 5, 2, LearnerValues("wp", eta=0.0, sigma=0.1), params, x, d, order)
    history = out["history"].sort_values("trial")
    expected = [_loss(params, x[order[m * BATCH:(m + 1) * BATCH]], d[order[m * BATCH:(m + 1) * BATCH]])
                for m in range(5)]
    np.testing.assert_allclose(history["E_ref"].to_numpy(), expected, rtol=1e-12)
    assert np.all(history["E_pert"].to_numpy() != history["E_ref"].to_numpy())  # WP perturbs the second pass


def test_wp_perturbed_pass_runs_the_perturbed_weights():
    x, d = _data()
    order = np.arange(len(x))
    params, eta, sigma = _params(), 0.5, 0.05
    out = _train(1, 1, 1, LearnerValues("wp", eta=eta, sigma=sigma), params, x, d, order)
    row = out["history"].iloc[0]
    before = np.r_[cn.to_synapses(params)]
    after = np.r_[out["weights"]["w:clf_layer1"], out["weights"]["w:clf_layer2"]]
    xi = (after - before) * sigma ** 2 / (eta * row["dR"])  # dw = eta dR xi / sigma^2
    assert 0.5 < np.std(xi) / sigma < 1.5
    n1 = cn.to_synapses(params)[0].size
    perturbed = cn.from_synapses((before + xi)[:n1], (before + xi)[n1:], SIZES)
    assert row["E_pert"] == pytest.approx(_loss(perturbed, x[:BATCH], d[:BATCH]), rel=1e-9)
    assert row["dR"] == pytest.approx(row["E_ref"] - row["E_pert"], rel=1e-12)


@pytest.mark.parametrize("rule", ["wp", "np"])
def test_the_mean_update_of_many_learners_points_along_backprop(rule):
    x, d = _data()
    order = np.arange(len(x))
    params, eta, n_learners = _params(), 1.0, 1000
    out = _train(n_learners, 1, 1, LearnerValues(rule, eta=eta, sigma=1e-3), params, x, d, order, seed=4)
    layer1, layer2 = cn.to_synapses(params)
    change = np.c_[out["weights"]["w:clf_layer1"].reshape(n_learners, -1) - layer1,
                   out["weights"]["w:clf_layer2"].reshape(n_learners, -1) - layer2].mean(axis=0)
    stepped = feedforward.train_epoch(params, x[:BATCH], d[:BATCH], eta)  # one step on the same minibatch
    expected = np.concatenate([b - a for a, b in zip(cn.to_synapses(params), cn.to_synapses(stepped))])
    cosine = change @ expected / np.linalg.norm(change) / np.linalg.norm(expected)
    assert cosine > 0.9, f"{rule}: cosine {cosine:.3f} of the mean update with backprop's step"


def test_trainer_refuses_stimuli_of_another_kind_and_a_negative_first_run():
    params = _params()
    layer1, layer2 = cn.to_synapses(params)
    trainer = PerturbationNetworkTrainer(lambda n: cn.classifier_model(1, n, SIZES, BATCH), 1, device="runtime",
                                         trials_per_run=1)
    try:
        weights = {"w:clf_layer1": layer1, "w:clf_layer2": layer2}
        with pytest.raises(ValueError, match="'stimuli' must be a dict or a callable"):
            trainer.train(1, LearnerValues("wp", eta=1.0, sigma=0.1), weights, stimuli=[1, 2])
        with pytest.raises(ValueError, match="'first_run' must be a non-negative integer"):
            trainer.train(1, LearnerValues("wp", eta=1.0, sigma=0.1), weights, first_run=-1)
    finally:
        trainer.close()
