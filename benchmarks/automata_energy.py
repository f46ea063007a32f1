"""Sizes, steps per bit and measured energies of the automaton constructions (numpy reference run).

Random DFAs (`random_dfa(m, seed=1)`) with m = 16 ... 4096 states, 40 random strings of 1-23 bits: every
acceptance is checked against the DFA's plain run; then the time-energy trade-off of `energy_circuit` at
m = 4096 and the energy reached on all strings up to 10 bits at m = 64 (Šíma 2014, Neural Comput 26:953).

    python benchmarks/automata_energy.py
"""
import numpy as np

from brian2learn.models import automata as au

rng = np.random.default_rng(0)
strings = [tuple(rng.integers(0, 2, size=n)) for n in rng.integers(1, 24, size=40)]
print("m | one-hot size | sqrt size (D, T/bit, E meas/bound) | energy-6 size (T/bit, E meas/bound)")
for m in (16, 64, 256, 1024, 4096):
    dfa = au.random_dfa(m, seed=1)
    oh, sq, e6 = au.one_hot_circuit(dfa), au.sqrt_circuit(dfa), au.energy_circuit(dfa, 6)
    row = [m, oh.size]
    for c in (sq, e6):
        acc, counts = au.simulate(c, strings)
        assert np.array_equal(acc, dfa.accepts(strings))
        row += [c.size, c.energy_bound - 4, c.steps_per_bit, max(x.max() for x in counts), c.energy_bound]
    print(" | ".join(map(str, row)))
print("trade-off m=4096: e | D | size | T/bit | E measured (40 random strings) | bound")
dfa = au.random_dfa(4096, seed=1)
for e in range(6, 17):
    c = au.energy_circuit(dfa, e)
    acc, counts = au.simulate(c, strings)
    assert np.array_equal(acc, dfa.accepts(strings))
    print(e, c.energy_bound - 4, c.size, c.steps_per_bit, max(x.max() for x in counts), c.energy_bound)
print("exhaustive (all strings <= 10 bits) m=64 random: D | E max | bound")
dfa = au.random_dfa(64, seed=2)
allstr = au.all_strings(10)
for D in range(2, 7):
    c = au.digit_circuit(dfa, D)
    acc, counts = au.simulate(c, allstr)
    assert np.array_equal(acc, dfa.accepts(allstr))
    print(D, max(x.max() for x in counts), c.energy_bound)
