"""The optimizer specification: its Brian2-code, numpy and JAX forms agree, closed forms, bad input."""

import brian2 as b2
import numpy as np
import pytest

from brian2learn.plasticity import optimizers
from brian2learn.plasticity.optimizers import OptimizerSpec

N_STEPS = 20
GROUPS = {"a": (5, b2.volt), "b": (3, 1)}  # group -> (size, unit of its weights)


def gradient_sequence(seed, n_steps=N_STEPS, sizes=None):
    """Gradients per step and group, over magnitudes 1e-9..10 (so that Adam's epsilon matters)."""
    rng = np.random.default_rng(seed)
    sizes = sizes or {group: n for group, (n, _) in GROUPS.items()}
    return [{group: rng.normal(size=n) * 10.0 ** rng.integers(-9, 2, n) for group, n in sizes.items()}
            for _ in range(n_steps)]


def initial_params(seed=7, sizes=None):
    rng = np.random.default_rng(seed)
    sizes = sizes or {group: n for group, (n, _) in GROUPS.items()}
    return {group: rng.normal(scale=0.05, size=n) for group, n in sizes.items()}


def numpy_run(spec, params, grads, batch_size=1, rates=None):
    """Weights and state after every step of the numpy form."""
    state = spec.init_state(params)
    history = []
    for step, grad in enumerate(grads):
        rate = None if rates is None else rates[step]
        params, state = spec.step(params, grad, state, batch_size=batch_size, learning_rate=rate)
        history.append((params, state))
    return history


def brian2_run(spec, params, grads, batch_size=1, rates=None):
    """Weights and state after every step of the Brian2 form: one NeuronGroup per group, runtime (numpy target).

    Each step sets ``grad`` from a TimedArray (``when='start', order=0``), then runs the optimizer's code
    (order 1); ``rates`` (optional) is the learning rate of each step, given by a TimedArray.
    """
    dt = 0.1 * b2.ms
    objects, monitors = [], {}
    for group, (n, unit) in GROUPS.items():
        rate_expression = None
        namespace = {"grad_sequence": b2.TimedArray(np.array([g[group] for g in grads]), dt=dt)}
        if rates is not None:
            rate_expression = "learning_rate_schedule(t)"
            namespace["learning_rate_schedule"] = b2.TimedArray(np.asarray(rates, dtype=float), dt=dt)
        code = optimizers.brian2_code(spec, group, weight_unit=unit, rate_expression=rate_expression,
                                      batch_size=batch_size)
        namespace.update(code.namespace)
        unit_name = repr(unit) if isinstance(unit, b2.Unit) else "1"
        grad_unit = f"1/{unit_name}" if unit_name != "1" else "1"
        neurons = b2.NeuronGroup(n, f"w : {unit_name}\ngrad : {grad_unit}\n" + code.equations, dt=dt,
                                 namespace=namespace)
        neurons.w = params[group] * unit
        neurons.run_regularly(f"grad = grad_sequence(t, i)/{unit_name}", when="start", order=0)
        neurons.run_regularly(code.code, when="start", order=1)
        monitors[group] = b2.StateMonitor(neurons, ["w", "adam_m", "adam_v", "adam_k"], record=True, when="end")
        objects += [neurons, monitors[group]]
    b2.Network(objects).run(len(grads) * dt, namespace={})
    return {group: {name: np.asarray(getattr(monitor, name)).T for name in ("w", "adam_m", "adam_v", "adam_k")}
            for group, monitor in monitors.items()}


BRIAN2_CASES = {
    "adam-kingma_ba-per-group-rates": dict(optimizer="adam", adam_epsilon_form="kingma_ba",
                                           learning_rate={"a": 1e-2, "b": 3e-3}),
    "adam-tensorflow-step-decay-clip": dict(optimizer="adam", adam_epsilon_form="tensorflow", learning_rate=2e-2,
                                            lr_schedule="step", lr_decay=0.5, lr_decay_every=3,
                                            weight_clip=(-0.06, 0.06), weight_clip_groups=("a",)),
    "gd-clip": dict(optimizer="gd", learning_rate=1e-3, weight_clip=(-0.08, 0.07)),
    "gd-step-decay": dict(optimizer="gd", learning_rate={"a": 1e-3, "b": 2e-3}, lr_schedule="step", lr_decay=0.7,
                          lr_decay_every=4),
}


@pytest.mark.parametrize("case", list(BRIAN2_CASES))
def test_brian2_form_equals_numpy_form(numpy_runtime, case):
    spec = OptimizerSpec(**BRIAN2_CASES[case])
    params, grads = initial_params(), gradient_sequence(1)
    batch_size = 3
    expected = numpy_run(spec, params, grads, batch_size=batch_size)
    got = brian2_run(spec, params, grads, batch_size=batch_size)
    for group in GROUPS:
        w = np.array([p[group] for p, _ in expected])
        np.testing.assert_allclose(got[group]["w"], w, rtol=1e-12, atol=1e-17)
        assert not np.allclose(w[-1], params[group])
        if spec.optimizer == "adam":
            for part in ("m", "v"):
                moment = np.array([s[part][group] for _, s in expected])
                np.testing.assert_allclose(got[group][f"adam_{part}"], moment, rtol=1e-12, atol=1e-30)
        if spec.optimizer == "adam" or spec.lr_schedule == "step":
            np.testing.assert_array_equal(got[group]["adam_k"][:, 0], np.arange(1, N_STEPS + 1))
    if spec.weight_clip is not None:
        clipped = [group for group in GROUPS if spec.weight_clip_groups is None or group in spec.weight_clip_groups]
        assert all(np.all(np.abs(expected[-1][0][group]) <= 0.08) for group in clipped)


@pytest.mark.parametrize("form", optimizers.ADAM_EPSILON_FORMS)
def test_brian2_form_with_an_external_learning_rate_equals_numpy_form(numpy_runtime, form):
    """As e-prop runs it: the rate of each update from a TimedArray, 0 meaning no update."""
    spec = OptimizerSpec(optimizer="adam", adam_epsilon_form=form, learning_rate=5e-3)
    rates = np.full(N_STEPS, 5e-3)
    rates[[0, 4, 5, 11]] = 0.0
    rates[12:] = 1e-3
    params, grads = initial_params(), gradient_sequence(2)
    expected = numpy_run(spec, params, grads, batch_size=4, rates=rates)
    got = brian2_run(spec, params, grads, batch_size=4, rates=rates)
    for group in GROUPS:
        np.testing.assert_allclose(got[group]["w"], np.array([p[group] for p, _ in expected]), rtol=1e-12,
                                   atol=1e-17)
        np.testing.assert_array_equal(got[group]["adam_k"][:, 0], np.cumsum(rates > 0))
        np.testing.assert_array_equal(got[group]["w"][0], params[group])  # no update with rate 0


def test_eprop_code_is_the_historical_code():
    """e-prop's batch-boundary code from the spec is, character for character, the code it had before."""
    from brian2learn.models.eprop_neurons import BELLEC2020_EVIDENCE_ACCUMULATION
    from brian2learn.plasticity import eprop

    gd = ("\napply_update = int(learning_rate_schedule(t) > 0)\n"
          "delta_w = -learning_rate_schedule(t)*grad/batch_size*{w_unit}**2\n"
          "w = w + delta_w\ngrad = grad*(1 - apply_update)\n")
    adam = ("\napply_update = int(learning_rate_schedule(t) > 0)\n"
            "g_mean = grad/batch_size\n"
            "adam_m = apply_update*(adam_beta1*adam_m + (1 - adam_beta1)*g_mean) + (1 - apply_update)*adam_m\n"
            "adam_v = apply_update*(adam_beta2*adam_v + (1 - adam_beta2)*g_mean**2) + (1 - apply_update)*adam_v\n"
            "adam_k = adam_k + apply_update\n"
            "m_hat = adam_m/(1 - adam_beta1**clip(adam_k, 1, 1e300))\n"
            "v_hat = adam_v/(1 - adam_beta2**clip(adam_k, 1, 1e300))\n"
            "epsilon_scale = adam_epsilon_hat/sqrt(1 - adam_beta2**clip(adam_k, 1, 1e300)) + (1 - adam_epsilon_hat)\n"
            "delta_w = -learning_rate_schedule(t)*{w_unit}*m_hat/(sqrt(v_hat) + epsilon_scale*adam_epsilon/{w_unit})\n"
            "w = w + delta_w\ngrad = grad*(1 - apply_update)\n")
    clip = "w = apply_update*clip(w, w_min, w_max) + (1 - apply_update)*w\n"
    for name, template in (("gd", gd), ("adam", adam)):
        for weight_clip in (None, (-1 * b2.volt, 1 * b2.volt)):
            config = eprop.EpropConfig(n_in=2, n_rec=3, n_out=2, n_steps=10, optimizer=name, weight_clip=weight_clip,
                                       neuron_params=BELLEC2020_EVIDENCE_ACCUMULATION, batch_size=4)
            code = eprop.optimizer_code(config)
            tail = clip if weight_clip is not None else ""
            assert code["in"].code == code["rec"].code == template.format(w_unit="volt") + tail
            assert code["out"].code == template.format(w_unit="1")
            if weight_clip is not None:
                assert code["in"].namespace["w_min"] == -1 * b2.volt and "w_min" not in code["out"].namespace
    assert "adam_m : 1/volt " in eprop.PLASTIC_SYNAPSE_EQS and "adam_v : 1/volt**2 " in eprop.PLASTIC_SYNAPSE_EQS


# JAX form --------------------------------------------------------------------------------------
JAX_CASES = {
    "adam-kingma_ba": dict(optimizer="adam", adam_epsilon_form="kingma_ba", learning_rate={"a": 1e-2, "b": 3e-3}),
    "adam-tensorflow-everything": dict(optimizer="adam", adam_epsilon_form="tensorflow", learning_rate=2e-2,
                                       lr_schedule="step", lr_decay=0.5, lr_decay_every=3, weight_clip=(-0.06, 0.06),
                                       weight_clip_groups=("a",), max_grad_norm=0.5),
    "gd-grad-norm": dict(optimizer="gd", learning_rate=1e-2, max_grad_norm=1.0, grad_norm_groups=("a", "b")),
    "gd-step-decay": dict(optimizer="gd", learning_rate=1e-3, lr_schedule="step", lr_decay=0.7, lr_decay_every=4),
}


@pytest.mark.parametrize("case", list(JAX_CASES))
def test_jax_form_equals_numpy_form(case):
    jax = pytest.importorskip("jax", reason="the JAX form needs JAX (the 'bptt' extra)")
    jax.config.update("jax_enable_x64", True)  # as brian2learn.plasticity.bptt does on import
    spec = OptimizerSpec(**JAX_CASES[case])
    params, grads = initial_params(), gradient_sequence(3)
    expected = numpy_run(spec, params, grads, batch_size=2)
    step = jax.jit(lambda p, g, s: optimizers.jax_step(spec, p, g, s, batch_size=2))
    p, s = params, jax.tree_util.tree_map(jax.numpy.asarray, spec.init_state(params))
    for (want, want_state), grad in zip(expected, grads):
        p, s = step(p, grad, s)
        for group in GROUPS:
            np.testing.assert_allclose(np.asarray(p[group]), want[group], rtol=1e-12, atol=1e-17)
            np.testing.assert_allclose(np.asarray(s["delta"][group]), want_state["delta"][group], rtol=1e-12,
                                       atol=1e-17)


def test_jax_form_with_a_traced_learning_rate_equals_numpy_form():
    jax = pytest.importorskip("jax", reason="the JAX form needs JAX (the 'bptt' extra)")
    jax.config.update("jax_enable_x64", True)
    spec = OptimizerSpec(optimizer="adam", adam_epsilon_form="tensorflow", learning_rate=1.0)
    rates = np.where(np.arange(N_STEPS) % 5 == 2, 0.0, 4e-3)
    params, grads = initial_params(), gradient_sequence(4)
    expected = numpy_run(spec, params, grads, rates=rates)
    step = jax.jit(lambda p, g, s, lr: optimizers.jax_step(spec, p, g, s, learning_rate=lr))
    p, s = params, jax.tree_util.tree_map(jax.numpy.asarray, spec.init_state(params))
    for (want, want_state), grad, rate in zip(expected, grads, rates):
        p, s = step(p, grad, s, rate)
        for group in GROUPS:
            np.testing.assert_allclose(np.asarray(p[group]), want[group], rtol=1e-12, atol=1e-17)
            assert float(s["k"][group]) == want_state["k"][group]


def test_bptt_training_uses_the_spec():
    """train_bptt with an OptimizerSpec equals BPTT gradients followed by the numpy form."""
    bptt = pytest.importorskip("brian2learn.plasticity.bptt", reason="BPTT needs the 'bptt' extra (JAX)")
    from brian2learn.models.eprop_neurons import BELLEC2020_PATTERN_GENERATION

    n_in, n_rec, n_steps = 3, 4, 30
    params = bptt.network_params_from(BELLEC2020_PATTERN_GENERATION, n_rec, c_reg=0.1)
    rng = np.random.default_rng(5)
    weights = {"w_in": rng.normal(0.3, 0.2, (n_rec, n_in)), "w_rec": rng.normal(0.0, 0.1, (n_rec, n_rec)),
               "w_out": rng.normal(0.0, 0.3, (1, n_rec))}
    np.fill_diagonal(weights["w_rec"], 0.0)
    inputs = (rng.random((2, n_steps, n_in)) < 0.3).astype(float)
    targets = np.sin(np.linspace(0, 3, n_steps))[None, :, None] * np.ones((2, 1, 1))
    window = np.ones((2, n_steps))
    spec = OptimizerSpec(optimizer="adam", adam_epsilon_form="tensorflow", learning_rate=1e-2, lr_schedule="step",
                         lr_decay=0.5, lr_decay_every=2, weight_clip=(-0.5, 0.5), weight_clip_groups=("w_in",))
    final, _ = bptt.train_bptt(weights, lambda iteration: (inputs, targets, window), params, optimizer=spec,
                               n_iterations=4)
    w, state = dict(weights), spec.init_state(weights)
    mask = 1.0 - np.eye(n_rec)
    for _ in range(4):
        _, grads = bptt.loss_and_gradients(w, inputs, targets, window, params)
        grads["w_rec"] = grads["w_rec"] * mask
        w, state = spec.step(w, grads, state)
    for name in weights:
        np.testing.assert_allclose(final[name], w[name], rtol=1e-10, atol=1e-14)
    assert np.max(np.abs(final["w_in"])) <= 0.5
    with pytest.raises(ValueError, match="learning_rate"):
        bptt.train_bptt(weights, lambda iteration: (inputs, targets, window), params, optimizer=spec,
                        learning_rate=1e-3, n_iterations=1)


# Closed forms ----------------------------------------------------------------------------------
@pytest.mark.parametrize("form", optimizers.ADAM_EPSILON_FORMS)
def test_first_adam_step_is_lr_times_g_over_abs_g_plus_epsilon(form):
    spec = OptimizerSpec(optimizer="adam", adam_epsilon_form=form, learning_rate=3e-3, adam_epsilon=1e-6)
    g = np.array([2.0, -5e-7, 1e-6, -3e-9, 0.0, 40.0])
    params = {"w": np.linspace(-1, 1, g.size)}
    new, state = spec.step(params, {"w": 4 * g}, batch_size=4)
    s = 1.0 / np.sqrt(1.0 - spec.adam_beta2) if form == "tensorflow" else 1.0
    np.testing.assert_allclose(state["delta"]["w"], -3e-3 * g / (np.abs(g) + s * 1e-6), rtol=1e-12, atol=0)
    np.testing.assert_allclose(new["w"] - params["w"], state["delta"]["w"], rtol=0, atol=1e-16)
    assert state["k"]["w"] == 1
    # large gradients: a step of the learning rate, whatever their size
    np.testing.assert_allclose(np.abs(state["delta"]["w"][[0, 5]]), 3e-3, rtol=1e-4)


def test_gradient_descent_step_and_zero_rate():
    spec = OptimizerSpec(optimizer="gd", learning_rate={"x": 0.1, "y": 0.01})
    params = {"x": np.array([1.0, 2.0]), "y": np.array([3.0])}
    grads = {"x": np.array([2.0, -4.0]), "y": np.array([10.0])}
    new, _ = spec.step(params, grads, batch_size=2)
    np.testing.assert_allclose(new["x"], [0.9, 2.2], rtol=1e-15)
    np.testing.assert_allclose(new["y"], [2.95], rtol=1e-15)
    same, state = spec.step(params, grads, learning_rate={"x": 0.0, "y": 0.01})
    np.testing.assert_array_equal(same["x"], params["x"])
    np.testing.assert_array_equal(state["delta"]["x"], 0.0)


def test_step_decay_schedule():
    spec = OptimizerSpec(optimizer="gd", learning_rate=0.1, lr_schedule="step", lr_decay=0.5, lr_decay_every=3)
    assert [spec.rate(step=s) for s in range(8)] == [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025]
    assert OptimizerSpec(learning_rate=0.1, lr_decay=0.5).rate(step=10) == 0.1  # constant schedule
    # the numpy form counts its own updates: steps of 0.1 (3x), 0.05 (3x), 0.025 with a unit gradient
    params, state = {"w": np.zeros(1)}, None
    for _ in range(7):
        params, state = spec.step(params, {"w": np.ones(1)}, state)
    np.testing.assert_allclose(params["w"], [-(0.3 + 0.15 + 0.025)], rtol=1e-14)
    assert state["k"]["w"] == 7
    # an explicit schedule step (e.g. the epoch) replaces the count
    params, _ = spec.step({"w": np.zeros(1)}, {"w": np.ones(1)}, schedule_step=6)
    np.testing.assert_allclose(params["w"], [-0.025], rtol=1e-15)


def test_weight_clipping_and_gradient_norm_clipping():
    spec = OptimizerSpec(optimizer="gd", learning_rate=1.0, weight_clip=(-0.5, 0.25), weight_clip_groups=("in",))
    params = {"in": np.array([0.0, 0.2, 0.0]), "out": np.array([0.0])}
    new, state = spec.step(params, {"in": np.array([-1.0, 0.01, 0.6]), "out": np.array([-3.0])})
    np.testing.assert_allclose(new["in"], [0.25, 0.19, -0.5])
    np.testing.assert_allclose(new["out"], [3.0])  # not clipped
    np.testing.assert_allclose(state["delta"]["in"], [1.0, -0.01, -0.6])  # before clipping

    spec = OptimizerSpec(optimizer="gd", learning_rate=1.0, max_grad_norm=1.0, grad_norm_groups=("a", "b"))
    params = {"a": np.zeros(2), "b": np.zeros(1), "c": np.zeros(1)}
    grads = {"a": np.array([3.0, 0.0]), "b": np.array([4.0]), "c": np.array([10.0])}
    new, _ = spec.step(params, grads)
    np.testing.assert_allclose(new["a"], [-0.6, 0.0], rtol=1e-15)
    np.testing.assert_allclose(new["b"], [-0.8], rtol=1e-15)
    np.testing.assert_allclose(new["c"], [-10.0])  # not in the norm
    small = {"a": np.array([0.3, 0.0]), "b": np.array([0.4]), "c": np.array([0.1])}
    new, _ = spec.step(params, small)
    np.testing.assert_array_equal(new["a"], -small["a"])  # below the norm: unchanged
    new, _ = spec.step(params, grads, batch_size=10)  # the norm is that of the mean gradient (0.5)
    np.testing.assert_allclose(new["a"], [-0.3, 0.0], rtol=1e-15)


def test_spec_is_hashable_and_ttfs_takes_the_epsilon_form():
    from brian2learn.plasticity import ttfs

    spec = OptimizerSpec(learning_rate={"a": 0.1, "b": 0.2})
    assert spec.learning_rate == (("a", 0.1), ("b", 0.2)) and hash(spec) == hash(OptimizerSpec(**vars(spec)))
    config = ttfs.TTFSConfig(adam_epsilon_form="tensorflow")
    assert config.optimizer_spec().adam_epsilon_form == "tensorflow"
    with pytest.raises(ValueError, match="adam_epsilon_form"):
        ttfs.TTFSConfig(adam_epsilon_form="pytorch")


# Bad input -------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, name", [
    (dict(optimizer="sgd"), "optimizer"),
    (dict(adam_epsilon_form="keras"), "adam_epsilon_form"),
    (dict(lr_schedule="cosine"), "lr_schedule"),
    (dict(learning_rate=0.0), "learning_rate"),
    (dict(learning_rate=float("nan")), "learning_rate"),
    (dict(learning_rate={"a": -1.0}), "learning_rate"),
    (dict(learning_rate={}), "learning_rate"),
    (dict(learning_rate="fast"), "learning_rate"),
    (dict(adam_beta1=1.0), "adam_beta1"),
    (dict(adam_beta2=-0.1), "adam_beta2"),
    (dict(adam_epsilon=0.0), "adam_epsilon"),
    (dict(lr_decay=0.0), "lr_decay"),
    (dict(lr_decay_every=0), "lr_decay_every"),
    (dict(lr_decay_every=2.5), "lr_decay_every"),
    (dict(weight_clip=(1.0, -1.0)), "weight_clip"),
    (dict(weight_clip=1.0), "weight_clip"),
    (dict(weight_clip_groups="in"), "weight_clip_groups"),
    (dict(max_grad_norm=-1.0), "max_grad_norm"),
    (dict(grad_norm_groups=()), "grad_norm_groups"),
])
def test_bad_spec_names_the_parameter(kwargs, name):
    with pytest.raises(ValueError, match=name):
        OptimizerSpec(**kwargs)


def test_bad_use_names_the_parameter():
    params = {"a": np.zeros(2)}
    with pytest.raises(ValueError, match="learning_rate"):
        OptimizerSpec(learning_rate={"b": 0.1}).step(params, {"a": np.ones(2)})
    with pytest.raises(ValueError, match="weight_clip_groups"):
        OptimizerSpec(weight_clip=(-1, 1), weight_clip_groups=("b",)).step(params, {"a": np.ones(2)})
    with pytest.raises(ValueError, match="grads"):
        OptimizerSpec().step(params, {"b": np.ones(2)})
    with pytest.raises(ValueError, match="max_grad_norm"):
        optimizers.brian2_code(OptimizerSpec(max_grad_norm=1.0), "a")
    with pytest.raises(ValueError, match="rate_expression"):
        optimizers.brian2_code(OptimizerSpec(), "a", rate_expression="lr + 1")
    with pytest.raises(ValueError, match="group"):
        optimizers.brian2_code(OptimizerSpec(), "not a name")
    with pytest.raises(ValueError, match="weight_unit"):
        optimizers.brian2_code(OptimizerSpec(), "a", weight_unit="volt")
    with pytest.raises(ValueError, match="batch_size"):
        optimizers.brian2_code(OptimizerSpec(), "a", batch_size=0)
