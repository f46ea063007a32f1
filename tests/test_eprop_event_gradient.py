"""The event-driven trial gradient (engine 'event'): the sum of F over presynaptic spikes equals the dot
products of the trial-end closed form and the online traces, LIF and ALIF, with and without NEST's late learning
signal. Its C++ form (cpp_standalone, ALIF, softmax, late signal) is checked against NEST's own losses by
tests/test_nest_fidelity.py's evidence-accumulation tests, which train with this engine."""

import numpy as np
import pytest
from test_eprop import small_config, small_task, small_weights

from brian2learn.plasticity import eprop
from brian2learn.training.eprop import EpropTrainer


def gradients(engine, kind, loss, late=False, device="runtime"):
    n_out = 1 if loss == "mse" else 2
    task = small_task(n_out, loss)
    if late:  # channels 0 and 1 spike in step 1 (the late signal's case), the others not
        task["inputs"][:, 1, :] = 0.0
        task["inputs"][:, 1, :2] = 1.0
    else:
        task["inputs"][:, 0, 3] = 1.0  # channel 3 spikes in step 0, the first step of a trace
    config = small_config(kind, loss, n_out)
    config.engine = engine
    config.batch_size = 2
    config.nest_late_learning_signal = late
    weights = small_weights(config, recurrent=True)
    weights["w_rec"] *= 2.0
    weights["w_in"] *= 0.5  # moderate rates: saturated neurons (psi = 0) would leave w_rec without gradient
    trainer = EpropTrainer(config, weights, task, feedback="random", feedback_matrix=eprop.random_feedback(config, 4),
                           device=device, iterations_per_run=1)
    try:
        grads, metrics = trainer.gradients()
    finally:
        trainer.close()
    assert metrics["rate_hz"][0] > 5  # the recurrent neurons spike: the recurrent sums are not empty
    return grads


def assert_same(ours, reference):
    for name in ("w_in", "w_rec", "w_out"):
        assert np.linalg.norm(reference[name]) > 0
        scale = np.abs(reference[name]).max()
        np.testing.assert_allclose(ours[name], reference[name], rtol=1e-12, atol=1e-12 * scale)


@pytest.mark.parametrize("kind,loss,late", [("lif", "mse", False), ("alif", "softmax", False),
                                            ("alif", "mse", True)])
def test_event_gradient_equals_the_dot_products_and_the_online_traces(kind, loss, late):
    event = gradients("event", kind, loss, late)
    assert_same(event, gradients("trial_end", kind, loss, late))
    online = gradients("online", kind, loss, late)
    for name in ("w_in", "w_rec"):
        np.testing.assert_allclose(event[name], online[name], rtol=1e-9, atol=1e-12)
