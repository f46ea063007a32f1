"""Guards against Brian2's silent failures in cpp_standalone mode."""

import os

import brian2 as b2
import numpy as np
import pytest

from brian2learn.simulation.devices import DeviceRunner, StandaloneGuardError


class TinyModel:
    """A Poisson population driving a LIF group through synapses connected by ``connect``."""

    def __init__(self, connect_kwargs, with_operation=False):
        self.source = b2.PoissonGroup(20, rates=200 * b2.Hz, name="tiny_source")
        self.target = b2.NeuronGroup(5, "dv/dt = -v/(10*ms) : 1", threshold="v > 1", reset="v = 0",
                                     method="exact", name="tiny_target")
        self.synapses = b2.Synapses(self.source, self.target, "w : 1", on_pre="v_post += w", name="tiny_synapses")
        self.synapses.connect(**connect_kwargs)
        self.synapses.w = 0.5
        self.monitor = b2.SpikeMonitor(self.target, name="tiny_spikes")
        objects = [self.source, self.target, self.synapses, self.monitor]
        if with_operation:
            objects.append(b2.NetworkOperation(lambda: None, name="tiny_operation"))
        self.network = b2.Network(objects)

    def run(self):
        self.network.run(20 * b2.ms)

    def state_variables(self):
        return {"w": (self.synapses, "w")}

    def stimulus_arrays(self):
        return {}


def test_network_operation_is_refused_in_standalone(tmp_path):
    runner = DeviceRunner(lambda: TinyModel({"p": 1.0}, with_operation=True), directory=str(tmp_path / "build"))
    try:
        with pytest.raises(StandaloneGuardError, match="network_operation .* would never run in cpp_standalone"):
            runner.run()
    finally:
        runner.close()
    assert b2.get_device().__class__.__name__ == "RuntimeDevice"


def test_changing_synapses_are_an_error_and_run_args_files_do_not_pile_up(tmp_path):
    directory = str(tmp_path / "build")
    runner = DeviceRunner(lambda: TinyModel({"p": 0.5}), directory=directory)
    try:
        runner.run()
        n_synapses = len(runner.model.synapses.i[:])
        with pytest.raises(StandaloneGuardError, match="synapses of 'tiny_synapses' changed between runs"):
            for _ in range(10):  # unseeded connect(p=0.5): the count changes from run to run
                runner.run({"w": np.linspace(0.5, 0.9, n_synapses)})
        assert runner.n_builds == 1
        assert os.listdir(os.path.join(runner.scratch_directory, "run_args")) == []  # each run's arrays removed
        static = os.listdir(os.path.join(runner.project_directory, "static_arrays"))
        assert not [name for name in static if name.startswith("init_")]
    finally:
        runner.close()


def test_fixed_synapses_rerun_without_rebuild_and_new_values_take_effect(tmp_path):
    directory = str(tmp_path / "build")
    runner = DeviceRunner(lambda: TinyModel({"i": np.arange(20), "j": np.arange(20) % 5}), directory=directory)
    try:
        b2.seed(7)
        runner.run({"w": np.zeros(20)})
        silent = runner.model.monitor.num_spikes
        runner.run({"w": np.full(20, 2.0)})
        driven = runner.model.monitor.num_spikes
        assert silent == 0
        assert driven > 0
        assert runner.n_builds == 1 and runner.n_runs == 2
        with pytest.raises(ValueError, match="'w' has 3 values but tiny_synapses has 20 synapses"):
            runner.run({"w": np.zeros(3)})
    finally:
        runner.close()
