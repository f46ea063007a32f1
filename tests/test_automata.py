"""Threshold circuits simulating finite automata (Šíma 2014): every string accepted exactly as the automaton's
plain run says, on both devices, with the energy the construction states."""

import numpy as np
import pytest

from brian2learn.models import automata as au
from brian2learn.models import threshold_units as tu
from brian2learn.simulation.devices import DeviceRunner

AUTOMATA = {"parity": au.parity(), "mod 3": au.modulo_counter(3), "random 12": au.random_dfa(12, seed=7)}


@pytest.mark.parametrize("name", AUTOMATA)
def test_one_hot_circuit_accepts_the_language_with_energy_one(name):
    dfa = AUTOMATA[name]
    strings = au.all_strings(8)  # 511 strings, the empty one included
    circuit = au.one_hot_circuit(dfa)
    assert circuit.size == 2 * dfa.n_states + 1 and circuit.steps_per_bit == 1
    accepted, counts = au.simulate(circuit, strings)
    np.testing.assert_array_equal(accepted, dfa.accepts(strings))
    assert all(np.all(c == 1) for c in counts)  # exactly one unit active in every step: energy 1 <= bound
    assert circuit.energy_bound == 1
    ours, our_counts = tu.run_circuit(circuit, strings, device="runtime")  # Brian2, numpy target
    np.testing.assert_array_equal(ours, accepted)
    assert all(np.array_equal(a, b) for a, b in zip(our_counts, counts, strict=True))


def test_the_automaton_reference_by_hand():
    assert list(au.parity().accepts([(), (1,), (1, 1), (0, 1, 0), (1, 0, 1, 1)])) == [False, True, False, True, True]
    assert list(au.modulo_counter(3).accepts([(), (1, 1), (1, 1, 1), (0, 1, 1, 0, 1)])) == [True, False, True, True]
    assert len(au.all_strings(3)) == 1 + 2 + 4 + 8


def test_one_build_runs_several_automata_in_cpp_standalone():
    """Automata of one circuit size are run arguments of one build: parity and a random automaton of 2 states
    on long random strings, against the plain run."""
    rng = np.random.default_rng(3)
    strings = [tuple(rng.integers(0, 2, size=length)) for length in rng.integers(0, 40, size=30)]
    dfas = [au.parity(), au.random_dfa(2, seed=11)]
    circuits = [au.one_hot_circuit(d) for d in dfas]
    n_steps = tu.steps_needed(circuits[0], strings)
    runner = DeviceRunner(lambda: tu.ThresholdNetwork(circuits[0].size, n_steps, len(strings)))
    try:
        for dfa, circuit in zip(dfas, circuits, strict=True):
            accepted, counts = tu.run_circuit(circuit, strings, runner=runner, n_steps=n_steps)
            np.testing.assert_array_equal(accepted, dfa.accepts(strings))
            assert max(c.max() for c in counts) <= circuit.energy_bound
        assert runner.n_builds == 1 and runner.n_runs == 2
    finally:
        runner.close()


@pytest.mark.parametrize("kwargs, message", [
    ({"transitions": [[0, 2], [1, 0]]}, r"'transitions' holds states outside 0..1: \[2\]"),
    ({"transitions": [[0, 1, 0], [1, 0, 1]]}, "only the binary alphabet"),
    ({"transitions": [[0, 1], [1, 0]], "start": 5}, "'start' must be a state in 0..1"),
    ({"transitions": [[0, 1], [1, 0]], "accepting": {3}}, "'accepting' must hold states in 0..1"),
])
def test_bad_automata_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        au.DFA(**kwargs)


def test_bad_strings_and_sizes_are_refused():
    with pytest.raises(ValueError, match="input strings must consist of 0 and 1"):
        au.parity().accepts([(0, 2)])
    circuit = au.one_hot_circuit(au.parity())
    with pytest.raises(ValueError, match="'n_steps' = 2 is too short"):
        tu.run_circuit(circuit, [(0, 1, 1)], n_steps=2)
