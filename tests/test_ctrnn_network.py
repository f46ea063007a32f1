"""The WP/NP-plastic CTRNN in Brian2 (plasticity.ctrnn_network) against ctbptt's numpy forward (its error) and
JAX's exact gradient (its updates)."""

import brian2 as b2
import numpy as np
import pytest

from brian2learn.plasticity import ctbptt
from brian2learn.plasticity import ctrnn_network as cn
from brian2learn.plasticity.perturbation_network import LearnerValues
from brian2learn.training.perturbation_network import PerturbationNetworkTrainer

CONFIG = ctbptt.CtrnnConfig(n_units=4, n_out=2, n_steps=16, dt=2.0 ** -4 * b2.second)


def _task():
    t = np.arange(CONFIG.n_points) * float(CONFIG.dt)
    return {"targets": np.c_[0.5 + 0.3 * np.sin(2 * np.pi * t), 0.5 + 0.3 * np.cos(2 * np.pi * t)],
            "error_weight": (t >= 0.25).astype(float)}


def _params():
    params = ctbptt.initial_parameters(CONFIG, _task()["targets"][0], seed=3, tau_init=0.5)
    return {**params, "b": np.array([0.2, -0.1, 0.3, 0.0]), "tau": np.array([0.5, 0.4, 0.6, 0.5])}


def _train(n_learners, n_trials, learners, params, seed=1):
    trainer = PerturbationNetworkTrainer(lambda n: cn.ctrnn_model(CONFIG, params, _task(), n_learners, n),
                                         n_learners, device="runtime", trials_per_run=n_trials)
    try:
        return trainer.train(n_trials, learners, cn.synapse_weights(params, n_learners), seed=seed)
    finally:
        trainer.close()


def test_weights_round_trip_and_bad_input_is_refused():
    params = _params()
    back = cn.parameters_of(cn.synapse_weights(params, 3), CONFIG.n_units, learner=2)
    np.testing.assert_array_equal(back["w"], params["w"])
    np.testing.assert_array_equal(back["b"], params["b"])
    with pytest.raises(ValueError, match="'drive' must be absent or zero"):
        cn.ctrnn_model(CONFIG, params, {**_task(), "drive": np.ones((CONFIG.n_points, 4))}, 1, 1)


def test_the_reference_pass_has_the_error_of_ctbptt_s_forward():
    params = _params()
    out = _train(2, 3, LearnerValues("np", eta=0.0, sigma=0.1), params)
    expected, _ = ctbptt.numpy_forward(CONFIG, params, _task())
    np.testing.assert_allclose(out["history"]["E_ref"].to_numpy(), expected, rtol=1e-12)  # every trial, learner
    assert np.all(out["history"]["E_pert"].to_numpy() != expected)  # node noise in the perturbed pass


@pytest.mark.parametrize("rule", ["wp", "np"])
def test_the_mean_update_of_many_learners_points_along_the_exact_gradient(rule):
    pytest.importorskip("jax")
    params, n_learners = _params(), 1000
    out = _train(n_learners, 1, LearnerValues(rule, eta=1.0, sigma=1e-3), params, seed=5)
    _, gradients = ctbptt.jax_loss_and_gradients(CONFIG, params, _task())
    start = cn.synapse_weights(params)
    change = np.concatenate([(out["weights"][name].reshape(n_learners, -1) - start[name]).mean(axis=0)
                             for name in start])
    exact = -np.concatenate(list(cn.synapse_weights(gradients).values()))  # the same synapse order as the weights
    cosine = change @ exact / np.linalg.norm(change) / np.linalg.norm(exact)
    assert cosine > 0.9, f"{rule}: cosine {cosine:.3f} of the mean update with the exact descent direction"
