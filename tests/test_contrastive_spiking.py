"""The spiking contrastive network: input rates against the LIF f-I curve, the synaptic integral against a replay
of the recorded activity, runtime against cpp_standalone spike for spike, XOR learned by the oscillating form,
bad input."""

import brian2 as b2
import numpy as np
import pytest

from brian2learn.plasticity import contrastive as cl
from brian2learn.plasticity import contrastive_spiking as cs
from brian2learn.simulation.devices import DeviceRunner
from brian2learn.tasks.parity import parity_task

DT = 2.0 ** -11  # s
HALF = 100e-3  # s, half period and onset


def xor_config(rule="chl", **changes):
    steps = int(round(HALF / DT))
    settings = {"n_in": 2, "n_hidden": 8, "n_out": 1, "rule": rule, "settle_steps": steps, "onset_steps": steps,
                "batch_size": 4}
    settings.update(changes)
    return cs.SpikingContrastiveConfig(**settings)


def xor_weights(config, seed=1):
    weights = cl.initial_weights(config, seed)
    weights["b"][config.kinds != 0] = 1.5  # above threshold: the units fire from the start
    return weights


def run_once(config, weights, inputs, targets, eta, device="runtime", record=False):
    with DeviceRunner(lambda: config.network(len(inputs), record_traces=record), device=device,
                      announce=False) as runner:
        model = runner.run(cl.run_values(config, weights, eta),
                           {"example_values": cl.example_values(config, inputs, targets)})
        out = {"w": cl.weight_matrix(config, np.asarray(model.synapses.w[:], dtype=float)),
               "b": np.asarray(model.units.b[:], dtype=float).copy(),
               "spikes": np.asarray(model.free_monitor.spikes, dtype=float).copy(),
               "V_free": np.asarray(model.free_monitor.V_free, dtype=float).copy()}
        if record:
            out["V"] = np.asarray(model.trace_monitor.V, dtype=float).T.copy()  # (steps, units)
            out["spike_i"] = np.asarray(model.spike_monitor.i).copy()
            out["spike_t"] = np.asarray(model.spike_monitor.t / b2.second).copy()
    return out


def test_input_neurons_fire_at_the_rate_of_their_value_and_the_trace_mean_is_rate_over_scale(numpy_runtime):
    config = xor_config(onset_steps=int(round(0.5 / DT)), batch_size=1)  # 0.5 s onset + 0.2 s oscillation
    weights = xor_weights(config)
    x = np.array([[0.3, 0.8]])
    out = run_once(config, weights, x, np.array([[0.5]]), 0.0, record=True)
    duration = config.steps_per_example * DT
    for unit, value in enumerate(x[0]):
        times = out["spike_t"][out["spike_i"] == unit]
        rate = (len(times) - 1) / (times[-1] - times[0])  # first to last spike: whole intervals
        # the f-I inversion is exact in continuous time; the threshold is seen at steps of dt (~0.5 ms)
        assert rate == pytest.approx(value * float(config.input_rate), rel=0.05)
        trace = out["V"][len(out["V"]) // 2:, unit]  # after the first spikes
        assert trace.mean() == pytest.approx(rate / float(config.rate_scale), rel=0.05)
    assert out["spikes"][:2, 1] == pytest.approx([len(out["spike_t"][out["spike_i"] == k]) for k in (0, 1)])
    assert duration > 0.6
    # the f-I curve and its inverse
    currents = cs.input_current(np.array([0.0, 0.2, 0.9]), config)
    assert currents[0] == 0.0
    np.testing.assert_allclose(cs.lif_rate(currents[1:], config), [20.0, 90.0], rtol=1e-12)


def test_synaptic_integral_is_the_replay_of_the_recorded_activity(numpy_runtime):
    config = xor_config("ep-symmetric", beta=1.0, batch_size=2)
    weights = xor_weights(config)
    data = parity_task(2, 0.1, 0.9)
    eta = 0.3
    out = run_once(config, weights, data["inputs"][1:3], data["targets"][1:3], eta, record=True)
    steps = config.steps_per_example
    v = out["V"][:2 * steps]  # the two examples of the batch
    coefficient = np.tile(cl.phase_schedule(config)["coefficient"], 2)
    pre, post = cl.synapse_indices(config)
    # Delta W_ij = eta / B * sum_t a(t) V_i(t) V_j(t), from the recorded V (numpy, outside Brian2)
    replay = eta / 2 * np.einsum("t,ts,ts->s", coefficient, v[:, pre], v[:, post])
    np.testing.assert_allclose(out["w"][post, pre] - weights["w"][post, pre], replay, rtol=1e-9, atol=1e-12)
    replay_b = eta / 2 * (coefficient @ v) * (config.kinds != 0)
    np.testing.assert_allclose(out["b"] - weights["b"], replay_b, rtol=1e-9, atol=1e-12)
    # the readout is the mean of V over its window
    window = cs.readout_window(config)
    np.testing.assert_allclose(out["V_free"][:, 1], window @ v[:steps], rtol=1e-9)
    assert np.array_equal(out["w"], out["w"].T)


def test_runtime_and_standalone_give_the_same_spikes_and_update():
    b2.set_device("runtime")
    config = xor_config("chl")
    weights = xor_weights(config)
    data = parity_task(2, 0.1, 0.9)
    results = {device: run_once(config, weights, data["inputs"], data["targets"], 0.2, device=device)
               for device in ("runtime", "cpp_standalone")}
    b2.set_device("runtime")
    runtime, standalone = results["runtime"], results["cpp_standalone"]
    assert np.array_equal(runtime["spikes"], standalone["spikes"])
    assert runtime["spikes"].sum() > 500
    np.testing.assert_allclose(standalone["w"], runtime["w"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(standalone["b"], runtime["b"], rtol=1e-9, atol=1e-12)


def test_xor_is_learned_by_chl_in_the_oscillating_spiking_network():
    from brian2learn.training.contrastive import ContrastiveTrainer

    config = xor_config("chl")
    data = parity_task(2, 0.1, 0.9)
    with ContrastiveTrainer(config, xor_weights(config), data["inputs"], data["targets"], 0.25, epochs_per_run=1,
                            seed=1) as trainer:
        first = trainer.evaluate(data["inputs"], data["targets"])
        history = trainer.train(150)
        last = trainer.evaluate(data["inputs"], data["targets"])
    b2.set_device("runtime")
    assert first["accuracy"] < 1.0
    assert last["accuracy"] == 1.0
    assert last["loss"] < 0.1 * first["loss"]
    assert np.isnan(history["max_phase_end_du"]).all()  # a spiking network is not checked for settling


def test_bad_input_names_the_parameter():
    with pytest.raises(ValueError, match="'schedule' of the spiking network must be 'oscillating'"):
        xor_config(schedule="two-phase", onset_steps=None)
    with pytest.raises(ValueError, match="'input_rate' must be a rate between 0 and 1/refractory"):
        xor_config(input_rate=600 * b2.Hz)
    with pytest.raises(ValueError, match="'tau_m' must be a positive time"):
        xor_config(tau_m=10.0)
    with pytest.raises(ValueError, match="'rate_scale' must be a positive rate"):
        xor_config(rate_scale=-1 * b2.Hz)
