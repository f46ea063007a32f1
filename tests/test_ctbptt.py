"""Continuous-time BPTT (Pearlmutter 1989): the adjoint networks against JAX autodiff, finite differences
and the other device; the trainer; the trajectory measures against closed forms; bad input."""

import brian2 as b2
import numpy as np
import pytest

from brian2learn.analysis.trajectories import curve_distances, period_from_crossings
from brian2learn.plasticity import ctbptt
from brian2learn.plasticity.optimizers import OptimizerSpec
from brian2learn.training.ctbptt import CtbpttGradients, CtbpttTrainer

N_UNITS = 3
WINDOW_S = 2.0  # t_1 in seconds


def random_params(seed=2, n=N_UNITS):
    rng = np.random.default_rng(seed)
    return {"w": rng.normal(0, 1.5, (n, n)), "b": rng.normal(0, 0.5, n), "tau": rng.uniform(0.5, 1.5, n),
            "y0": rng.uniform(0, 1, n)}


def config_and_task(dt, drive=False):
    """Two outputs following a circle over WINDOW_S; an optional random drive on every unit."""
    steps = int(round(WINDOW_S / dt))
    t = np.arange(steps + 1) * dt
    config = ctbptt.CtrnnConfig(n_units=N_UNITS, n_out=2, n_steps=steps, dt=dt * b2.second)
    task = {"targets": np.stack([0.5 + 0.3 * np.sin(2 * t), 0.5 + 0.3 * np.cos(2 * t)], axis=1)}
    if drive:
        task["drive"] = 0.1 * np.random.default_rng(5).standard_normal((steps + 1, N_UNITS))
        task["error_weight"] = (t >= 0.25).astype(float)
    return config, task


@pytest.fixture(scope="module")
def standalone_results():
    """Discrete and continuous adjoints of one problem in cpp_standalone (one build each)."""
    b2.set_device("runtime")
    config, task = config_and_task(2 ** -4, drive=True)
    params = random_params()
    results = {}
    for flavour in ctbptt.ADJOINTS:
        with CtbpttGradients(config, task, adjoint=flavour, device="cpp_standalone") as gradients:
            results[flavour] = gradients.loss_and_gradients(params)
    b2.set_device("runtime")
    return config, task, params, results


def relative_error(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))) / np.max(np.abs(np.asarray(b))))


def test_discrete_adjoint_equals_jax_autodiff(numpy_runtime):
    pytest.importorskip("jax")
    config, task = config_and_task(2 ** -4, drive=True)
    params = random_params()
    loss_ref, grads_ref = ctbptt.jax_loss_and_gradients(config, params, task)
    with CtbpttGradients(config, task, adjoint="discrete", device="runtime") as gradients:
        loss, grads, _ = gradients.loss_and_gradients(params)
    assert loss == pytest.approx(loss_ref, rel=1e-12)
    for name in ("w", "b", "tau", "y0"):
        assert relative_error(grads[name], grads_ref[name]) < 1e-8, name


def test_both_devices_give_the_same_adjoints(standalone_results, numpy_runtime):
    config, task, params, results = standalone_results
    for flavour in ctbptt.ADJOINTS:
        with CtbpttGradients(config, task, adjoint=flavour, device="runtime") as gradients:
            loss, grads, record = gradients.loss_and_gradients(params)
        loss_c, grads_c, record_c = results[flavour]
        assert loss_c == pytest.approx(loss, rel=1e-12)
        np.testing.assert_allclose(record_c["y"], record["y"], rtol=1e-12, atol=1e-15)
        for name in ("w", "b", "tau"):
            assert relative_error(grads_c[name], grads[name]) < 1e-9, (flavour, name)
    # the two flavours are different estimates (not the same code under two names)
    assert relative_error(results["continuous"][1]["w"], results["discrete"][1]["w"]) > 1e-3


def test_forward_matches_a_numpy_euler_loop(standalone_results):
    config, task, params, results = standalone_results
    loss, ys = ctbptt.numpy_forward(config, params, task)
    np.testing.assert_allclose(results["discrete"][2]["y"], ys, rtol=1e-12, atol=1e-15)
    assert results["discrete"][0] == pytest.approx(loss, rel=1e-12)


def finite_difference_reference(params, entries, dt=2 ** -12, h=1e-5):
    """Central differences of E computed at a fine dt: the gradient of the continuous-time error."""
    config, task = config_and_task(dt)
    reference = {}
    for name, index in entries:
        plus = {key: value.copy() for key, value in params.items()}
        minus = {key: value.copy() for key, value in params.items()}
        plus[name][index] += h
        minus[name][index] -= h
        reference[(name, index)] = (ctbptt.numpy_forward(config, plus, task)[0]
                                    - ctbptt.numpy_forward(config, minus, task)[0]) / (2 * h)
    return reference


def test_continuous_adjoint_converges_to_finite_differences_as_dt_falls(numpy_runtime):
    params = random_params()
    entries = [("w", (0, 1)), ("w", (2, 0)), ("b", (1,)), ("tau", (0,)), ("tau", (2,))]
    reference = finite_difference_reference(params, entries)
    errors = []
    for dt in (2 ** -3, 2 ** -4, 2 ** -5):
        config, task = config_and_task(dt)
        with CtbpttGradients(config, task, adjoint="continuous", device="runtime") as gradients:
            _, grads, _ = gradients.loss_and_gradients(params)
        errors.append(max(abs(grads[name][index] - value) / abs(value) for (name, index), value in reference.items()))
    # first order in dt (the forward is explicit Euler): each halving of dt about halves the error
    assert errors[0] < 0.05
    for coarse, fine in zip(errors, errors[1:]):
        assert 1.6 < coarse / fine < 2.5, errors


def test_trainer_lowers_the_error_and_keeps_time_constants_above_tau_min(standalone_results):
    config, task, params, _ = standalone_results
    optimizer = OptimizerSpec("adam", learning_rate=0.2)
    with CtbpttTrainer(config, params, task, optimizer=optimizer, tau_min=0.3, iterations_per_chunk=10) as trainer:
        history = trainer.train(30)
        assert list(history["iteration"]) == list(range(30))
        assert history["loss"].iloc[-1] < 0.5 * history["loss"].iloc[0]
        assert trainer.params["tau"].min() >= 0.3
        # the loss of each iteration is that of the parameters before its update
        loss, _ = trainer.gradients.forward(trainer.params)
        assert np.isfinite(loss)
    with CtbpttTrainer(config, params, task, learn_tau=False, iterations_per_chunk=5) as trainer:
        trainer.train(5)
        np.testing.assert_array_equal(trainer.params["tau"], params["tau"])


def test_curve_distances_and_period_against_closed_forms():
    phase = np.linspace(0, 2 * np.pi, 4000, endpoint=False)
    circle = np.stack([np.cos(phase), np.sin(phase)], axis=1)
    larger = 1.1 * circle[::7]
    distances = curve_distances(larger, circle)
    assert distances["to_curve"] == pytest.approx(0.1, rel=1e-3)
    assert distances["coverage"] == pytest.approx(0.1, rel=1e-2)
    resting = np.repeat(circle[:1], 50, axis=0)  # on the curve but covering none of it
    stuck = curve_distances(resting, circle)
    assert stuck["to_curve"] < 1e-12 and stuck["coverage"] > 1.0
    dt = 0.01
    t = np.arange(0, 20, dt)
    assert period_from_crossings(np.sin(2 * np.pi * t / 3.7 + 0.3), dt) == pytest.approx(3.7, rel=1e-4)
    assert np.isnan(period_from_crossings(np.ones(100), dt))


def test_bad_input_names_the_parameter():
    config, task = config_and_task(2 ** -4)
    params = random_params()
    with pytest.raises(ValueError, match="'tau' must be positive"):
        ctbptt.check_parameters(config, {**params, "tau": np.array([1.0, -1.0, 1.0])})
    with pytest.raises(ValueError, match="'dt'.*larger than the smallest time constant"):
        ctbptt.check_parameters(config, {**params, "tau": np.array([1.0, 0.01, 1.0])})
    with pytest.raises(ValueError, match="'w' must have shape"):
        ctbptt.check_parameters(config, {**params, "w": np.zeros((2, 2))})
    with pytest.raises(ValueError, match="'targets' must have shape"):
        ctbptt.check_task(config, {"targets": task["targets"][:-1]})
    with pytest.raises(ValueError, match="'error_weight'"):
        ctbptt.check_task(config, {**task, "error_weight": -np.ones(config.n_points)})
    with pytest.raises(ValueError, match="'n_out' must be at most"):
        ctbptt.CtrnnConfig(n_units=2, n_out=3, n_steps=10)
    with pytest.raises(ValueError, match="unknown adjoint"):
        CtbpttGradients(config, task, adjoint="exact")
    with pytest.raises(ValueError, match="'tau_min' must exceed dt"):
        CtbpttTrainer(config, params, task, tau_min=0.01)

