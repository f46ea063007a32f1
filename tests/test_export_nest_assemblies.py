"""The assembly network (Pokorny et al. 2020) in NEST 3.10: what maps exactly is checked against brian2learn
and closed forms; a saved network's spec carries its trained weights."""

import numpy as np
import pytest

from brian2learn.export import assemblies as ea
from brian2learn.export import nest_assemblies
from brian2learn.models import stochastic_neurons as sn
from brian2learn.plasticity import assembly_network as an
from brian2learn.studies import stdp_assemblies as sa

pytest.importorskip("nest", reason="NEST 3.10 (pip install nest-simulator) is part of the test extra")


def tiny_spec(n_exc=2, n_in=1, b_mv=-200.0):
    """Neurons of the study's model with no synapses; offsets ``b_mv`` (far below threshold: silent)."""
    empty = np.zeros(0, dtype=np.int64)
    spec = {"dt_ms": 1.0, "n_exc": n_exc, "n_inh": 1, "n_in": n_in, "b_exc_mv": np.full(n_exc, b_mv),
            "b_inh_mv": -200.0, "theta_exc_mv": 8.0, "theta_inh_mv": 0.0, "rho_0_hz": 2.0, "delta_u_mv": 2.0,
            "t_ref_ms": 3.0, "tau_rise_e_ms": 1.0, "tau_decay_e_ms": 10.0, "tau_rise_i_ms": 1.0,
            "tau_decay_i_ms": 15.0, "tau_m_ms": 10.0}
    for pathway in nest_assemblies.PATHWAYS:
        spec[f"i_{pathway}"], spec[f"j_{pathway}"], spec[f"w_{pathway}_mv"] = empty, empty, np.zeros(0)
    return spec


@pytest.mark.filterwarnings("ignore:overflow encountered in exp")  # the huge PSPs: rate inf, p = 1
def test_a_hand_made_spike_train_gives_the_same_spikes_in_both(numpy_runtime):
    # input -> E0 -> E1 with huge weights: E0 fires one step after the input, E1 one step after E0, and both
    # again whenever their refractoriness ends (t_ref 3 ms: every third step), certainly while the PSPs are large
    spec = tiny_spec()
    spec["i_in"], spec["j_in"], spec["w_in_mv"] = np.array([0]), np.array([0]), np.array([1000.0])
    spec["i_ee"], spec["j_ee"], spec["w_ee_mv"] = np.array([0]), np.array([1]), np.array([1000.0])
    block = {"channels": np.array([0]), "times_s": np.array([0.050]), "duration_s": 0.1}
    ours, theirs = ea.run_in_brian2(spec, block, 1)["exc"], ea.run_in_nest(spec, block, 1)["exc"]
    expected_times = [0.051, 0.052, 0.054, 0.055, 0.057, 0.058, 0.060, 0.061]
    for times, neurons in (ours, theirs):
        early = times <= 0.0615
        np.testing.assert_allclose(times[early], expected_times, atol=1e-9)
        np.testing.assert_array_equal(neurons[early], [0, 1] * 4)


def test_the_rate_at_constant_potential_is_that_of_brian2learns_discrete_neuron():
    # rho = rho_0 exp((b - theta)/delta_u) = 100 Hz; a spike per step with p = 1 - exp(-rho dt), silent for
    # t_ref/dt - 1 = 2 steps after each: rate 1/(dt (2 + 1/p)) = 79.95 Hz
    rho, theta, delta_u = 100.0, 8.0, 2.0
    spec = tiny_spec(n_exc=200, b_mv=theta + delta_u * np.log(rho / 2.0))
    spikes = ea.run_in_nest(spec, {"channels": np.zeros(0, int), "times_s": np.zeros(0), "duration_s": 5.0}, seed=2)
    p = 1 - np.exp(-rho * 1e-3)
    expected = 1.0 / (1e-3 * (2 + 1 / p))
    assert len(spikes["exc"][0]) / (200 * 5.0) == pytest.approx(expected, rel=0.02)  # ~80 000 spikes
    assert len(spikes["inh"][0]) == 0  # b = -200 mV: silent


def test_each_psp_keeps_brian2learns_integral():
    import nest

    spec = tiny_spec()
    for pathway, tau_rise, tau_decay in (("in", 1.0, 10.0), ("ie", 1.0, 15.0)):
        s = np.arange(0.0, 400.0, 0.001)  # ms
        norm = sn.psp_peak_norm(tau_rise * 1e-3 * sn.b2.second, tau_decay * 1e-3 * sn.b2.second)
        kernel_integral = np.trapezoid(norm * (np.exp(-s / tau_decay) - np.exp(-s / tau_rise)), s)
        assert nest_assemblies.psp_integral_ms(tau_rise, tau_decay) == pytest.approx(kernel_integral, rel=1e-6)
        jump = nest_assemblies.nest_weight_mv(pathway, 0.5, spec)
        assert jump * spec["tau_m_ms"] == pytest.approx((1 if pathway == "in" else -1) * 0.5 * kernel_integral)
    # and NEST's potential jumps by that weight: one input spike onto a silent neuron
    nest.ResetKernel()
    nest.set(resolution=1.0)
    neuron = nest.Create("pp_psc_delta", params=nest_assemblies.neuron_parameters([-50.0], 8.0, spec)[0])
    generator = nest.Create("spike_generator", params={"spike_times": [10.0]})
    nest.Connect(generator, neuron, syn_spec={"weight": nest_assemblies.nest_weight_mv("in", 0.5, spec), "delay": 1.0})
    meter = nest.Create("multimeter", params={"record_from": ["V_m"], "interval": 1.0})
    nest.Connect(meter, neuron)
    nest.Simulate(20.0)
    v = np.asarray(meter.get("events")["V_m"])
    assert v[8] == pytest.approx(-50.0)  # the offset is the resting potential (I_e = b C_m / tau_m)
    assert v[10] - v[9] == pytest.approx(nest_assemblies.nest_weight_mv("in", 0.5, spec), rel=1e-9)


@pytest.fixture
def saved_network(tmp_path):
    """A small network 'trained' by hand, saved as stdp-assemblies saves its networks."""
    network = {**an.NETWORK, "n_exc": 20, "n_inh": 5, "n_in": 20, "p_in": 0.2}
    config = an.AssemblyConfig(network=network, inputs={**an.INPUTS, "n_active": 5})
    conn = an.connectivity(config)
    values, _, _, _ = an.initial_values(config, conn, 1.0, 0.7, 3)
    trained = {"w_in": values["w_in"] * 1.3, "w_ee": values["w_ee"][::-1].copy()}
    names = sa.save_networks(str(tmp_path), "overlap", {"initial": values, "conn": conn, "run": trained}, config,
                             sa.Options(quick=True, seed=3), 1.0, 0.7, 3)
    return tmp_path / names[0], config, conn, values, trained


def test_the_spec_of_a_saved_network_carries_its_trained_weights(saved_network):
    path, config, conn, values, trained = saved_network
    spec = ea.spec_from_file(str(path))
    np.testing.assert_array_equal(spec["w_in_mv"], trained["w_in"] * values["unit_in"][conn["in"][0]])
    np.testing.assert_array_equal(spec["w_ee_mv"], trained["w_ee"] * values["unit_ee"][conn["ee"][0]])
    np.testing.assert_allclose(spec["b_exc_mv"], np.asarray(values["b_exc"] / sn.b2.mV))
    for pathway in ("ei", "ie", "ii"):
        np.testing.assert_array_equal(spec[f"i_{pathway}"], conn[pathway][0])
        assert np.all(spec[f"w_{pathway}_mv"] == config.network[f"w_{pathway}"])
    assert (spec["n_exc"], spec["n_inh"], spec["n_in"]) == (20, 5, 20)


def test_bad_networks_are_refused(saved_network, tmp_path):
    from brian2learn.simulation.files import load_parameters, restore_quantities

    path, *_ = saved_network
    arrays, metadata = load_parameters(str(path))
    model = restore_quantities(metadata["model"])
    with pytest.raises(ValueError, match=r"lacks \['w_ee'\]: not a trained network of stdp-assemblies"):
        ea.assembly_spec({k: v for k, v in arrays.items() if k != "w_ee"}, model)
    shuffled = {**arrays, "j_in": arrays["j_in"][::-1].copy()}
    with pytest.raises(ValueError, match="'j_in' of the saved network differs from the connectivity"):
        ea.assembly_spec(shuffled, model)
    with pytest.raises(ValueError, match="lacks 'model'"):
        ea.assembly_spec(arrays, None)
    with pytest.raises(RuntimeError, match=r"targets NEST 3.10.x .* found NEST 3.9.0"):
        nest_assemblies.check_nest(type("nest", (), {"__version__": "3.9.0"}))
    with pytest.raises(ValueError, match="'n_test' must be at least 2"):
        ea.test_block(ea.spec_from_file(str(path)), 1, seed=1)


def test_both_simulators_run_a_test_block_of_a_saved_network(saved_network, numpy_runtime):
    spec = ea.spec_from_file(str(saved_network[0]))
    table = ea.compare_with_nest(spec, [1], n_test=2)
    assert list(table["simulator"]) == ["brian2learn", "brian2learn (other noise)", "nest"]
    assert (table["rate_exc_hz"] > 0).all()
    assert table.loc[0, [c for c in table if c.startswith("jaccard_")]].eq(1.0).all()  # the reference itself


def test_a_run_exports_a_script_that_runs_in_nest_alone(saved_network, tmp_path, numpy_runtime):
    import subprocess
    import sys

    from brian2learn.studies.common import write_summary
    from brian2learn.studies.runs import load_run

    path = saved_network[0]
    write_summary(str(path.parent), {"study": "stdp-assemblies", "status": "completed", "networks": [path.name],
                                     "options": sa.Options(quick=True, seed=3).as_dict()})
    lines = sa.export_to_nest(load_run(str(path.parent)), str(tmp_path / "out" / "asm.py"), n_trials=2, check=True)
    assert lines[0].endswith("asm.py") and "E rate: brian2learn" in lines[-1]
    with pytest.raises(ValueError, match="has no network 'recruitment_seed3'; saved: overlap_seed3"):
        sa.export_to_nest(load_run(str(path.parent)), str(tmp_path / "b.py"), method="recruitment_seed3")
    alone = ("import runpy, sys; sys.modules['brian2learn'] = None; sys.modules['brian2'] = None; "
             "sys.argv = ['asm.py']; runpy.run_path('asm.py', run_name='__main__')")
    ran = subprocess.run([sys.executable, "-c", alone], capture_output=True, text=True, timeout=120,
                         cwd=tmp_path / "out")
    assert ran.returncode == 0, ran.stderr
    assert "test block: E" in ran.stdout and (tmp_path / "out" / "asm_nest_results.npz").is_file()
