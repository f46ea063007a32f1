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
    check_on_one_build(dfas, [au.one_hot_circuit(d) for d in dfas], strings)


def check_on_one_build(dfas, circuits, strings):
    """Run circuits of one size on one cpp_standalone build; each accepts its automaton's language, with the
    numpy reference's active counts and within its energy bound."""
    n_steps = tu.steps_needed(circuits[0], strings)
    runner = DeviceRunner(lambda: tu.ThresholdNetwork(circuits[0].size, n_steps, len(strings)))
    try:
        for dfa, circuit in zip(dfas, circuits, strict=True):
            accepted, counts = tu.run_circuit(circuit, strings, runner=runner, n_steps=n_steps)
            np.testing.assert_array_equal(accepted, dfa.accepts(strings))
            reference = au.simulate(circuit, strings)[1]
            assert all(np.array_equal(a, b) for a, b in zip(counts, reference, strict=True))
            assert max(c.max() for c in counts) <= circuit.energy_bound
        assert runner.n_builds == 1 and runner.n_runs == len(circuits)
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


CONSTRUCTIONS = {"sqrt": au.sqrt_circuit, "energy 6": lambda d: au.energy_circuit(d, 6),
                 "energy 7": lambda d: au.energy_circuit(d, 7)}
MORE_AUTOMATA = {**AUTOMATA, "mod 5": au.modulo_counter(5), "random 40": au.random_dfa(40, seed=1)}


def _digit_size(circuit, m):
    """The stated size 1 + sum_d (2 B_d - 1) + 2 R + 2 K of a digit circuit of m states."""
    n_columns, n_rows, digits = au._digit_layout(m, circuit.energy_bound - 4)
    return 1 + sum(2 * base - 1 for _, base in digits) + 2 * n_rows + 2 * n_columns


@pytest.mark.parametrize("construction", CONSTRUCTIONS)
@pytest.mark.parametrize("name", MORE_AUTOMATA)
def test_digit_circuits_accept_the_language_within_their_bounds(name, construction):
    dfa = MORE_AUTOMATA[name]
    strings = au.all_strings(8)
    circuit = CONSTRUCTIONS[construction](dfa)
    accepted, counts = au.simulate(circuit, strings)
    np.testing.assert_array_equal(accepted, dfa.accepts(strings))
    assert max(c.max() for c in counts) <= circuit.energy_bound
    assert circuit.size == _digit_size(circuit, dfa.n_states)
    assert circuit.steps_per_bit == 1 + sum(base for _, base in au._digit_layout(dfa.n_states,
                                                                                   circuit.energy_bound - 4)[2])
    if construction.startswith("energy"):
        assert circuit.energy_bound <= int(construction.split()[1])


@pytest.mark.parametrize("n_digits", [2, 3, 5, 8])
def test_larger_random_automata_on_long_strings(n_digits):
    """m = 200 (K = 15 columns, R = 14 rows): every digit count up to binary digits, random strings of up to 40 bits."""
    dfa = au.random_dfa(200, seed=5)
    rng = np.random.default_rng(8)
    strings = [tuple(rng.integers(0, 2, size=length)) for length in rng.integers(0, 40, size=100)]
    circuit = au.digit_circuit(dfa, n_digits)
    accepted, counts = au.simulate(circuit, strings)
    np.testing.assert_array_equal(accepted, dfa.accepts(strings))
    assert max(c.max() for c in counts) <= circuit.energy_bound == n_digits + 4
    assert circuit.size <= 8 * int(np.ceil(np.sqrt(200))) + 1 < au.one_hot_circuit(dfa).size


def test_digit_circuit_in_brian2_runtime_matches_numpy():
    dfa = au.modulo_counter(3)
    strings = au.all_strings(5)
    circuit = au.sqrt_circuit(dfa)
    accepted, counts = au.simulate(circuit, strings)
    ours, our_counts = tu.run_circuit(circuit, strings, device="runtime")
    np.testing.assert_array_equal(ours, dfa.accepts(strings))
    assert all(np.array_equal(a, b) for a, b in zip(our_counts, counts, strict=True))


def test_one_build_runs_several_digit_circuits_in_cpp_standalone():
    """Digit circuits of one layout (m = 12, D = 2: 27 units) are run arguments of one build."""
    rng = np.random.default_rng(4)
    strings = [tuple(rng.integers(0, 2, size=length)) for length in rng.integers(0, 12, size=20)]
    dfas = [au.random_dfa(12, seed=seed) for seed in (21, 22)]
    circuits = [au.energy_circuit(d, 6) for d in dfas]
    assert {c.size for c in circuits} == {27}
    check_on_one_build(dfas, circuits, strings)


@pytest.mark.parametrize("call, message", [
    (lambda: au.energy_circuit(au.parity(), 5), r"'energy' must be an integer >= 6 .*got 5"),
    (lambda: au.energy_circuit(au.parity(), 6.5), r"'energy' must be an integer >= 6, got 6.5"),
    (lambda: au.digit_circuit(au.parity(), 1), r"'n_digits' must be an integer >= 2 .*got 1"),
])
def test_bad_budgets_are_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_synaptic_operations_count_the_out_degrees_of_active_units():
    # parity's one-hot circuit: every unit (pair or start) projects to exactly 2 pairs; one unit is active in
    # each of the 1 + 3 steps of a 3-bit string
    circuit = au.one_hot_circuit(au.parity())
    _, counts, operations = au.simulate(circuit, [(1, 0, 1), ()], operations=True)
    assert list(operations) == [2 * 4, 2 * 1]
    assert [list(c) for c in counts] == [[1, 1, 1, 1], [1]]


def test_energy_automata_quick_run_checks_every_circuit(tmp_path, summary_vocabulary):
    from brian2learn.studies import energy_automata as ea
    from brian2learn.studies.runs import load_run

    options = ea.Options(quick=True, sizes=(8, 32), budgets=(6, 8), tradeoff_states=32, out=str(tmp_path / "run"))
    summary = ea.run(options)
    summary_vocabulary(summary, spiking=True)
    assert summary["all_correct"] and summary["energy_within_bounds"]
    run = load_run(str(tmp_path / "run"))
    sizes = run.tables["sizes"]
    assert set(sizes["kind"]) == {"one-hot", "sqrt", "energy 6"}
    one_hot = sizes[sizes["kind"] == "one-hot"]
    assert list(one_hot["size"]) == [17, 65] and (one_hot["energy_worst"] == 1).all()
    assert (sizes["strings_checked"] == len(au.all_strings(8)) + 100).all()
    trade = run.tables["tradeoff"]
    assert list(trade["budget"]) == [6, 8] and (trade["energy_worst"] <= trade["budget"]).all()
    assert trade["steps_per_bit"].is_monotonic_decreasing  # more energy never costs more time per bit
    assert summary["fits"]["size_exponent_one-hot"] == pytest.approx(np.log(65 / 17) / np.log(4))
    (tmp_path / "again").mkdir()
    assert ea.plot_run(run, str(tmp_path / "again")) == ["energy_automata.png"]
