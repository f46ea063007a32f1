r"""Deterministic finite automata and threshold circuits that simulate them.

Šíma (2014), "Energy complexity of recurrent neural networks", Neural Comput 26(5):953,
doi:10.1162/NECO_a_00579, measures a recurrent threshold network by its size and its *energy*: the
largest number of units active at one time step of a computation (after Uchizawa, Douglas & Maass
2006, Neural Comput 18:2994). He shows that a deterministic finite automaton (DFA) with :math:`m`
states can be simulated by a network of optimal size :math:`\Theta(\sqrt m)` with a time overhead of
:math:`O(s/e)` steps per input bit using energy :math:`O(e)`. This module holds the automata side:
:class:`DFA` (binary alphabet), a plain Python run of it (:meth:`DFA.accepts`, the reference every
circuit is checked against), automata for tests (:func:`parity`, :func:`modulo_counter`,
:func:`random_dfa`), and circuits — :class:`ThresholdCircuit`: integer weights and thresholds of
binary threshold units updated synchronously (:mod:`brian2learn.models.threshold_units` runs them in
Brian2; :func:`simulate` is a numpy reference of the same update).

Synchronous threshold units (McCulloch & Pitts 1943)
----------------------------------------------------

.. math::

    y_j^{s} = H\Big(\sum_i w_{ji} y_i^{s-1} + v_{j,a(s)} - \theta_j\Big), \qquad H(z) = [z \ge 0],

with :math:`y^0` the circuit's initial configuration and :math:`a(s) \in \{0, 1, \varnothing\}` the
input symbol presented at step :math:`s` (:math:`v_{j,\varnothing} = 0`: no input).

Constructions
-------------
:func:`one_hot_circuit` — a unit per (state, symbol) pair (Minsky 1967, *Computation: Finite and
Infinite Machines*, sec. 3.5, in this form): unit :math:`(q, a)` fires at step :math:`s` iff the
automaton is in state :math:`q` before reading bit :math:`s` and that bit is :math:`a`. Its inputs are
weight 1 from every pair :math:`(p, b)` with :math:`\delta(p, b) = q` (and from a start unit for
:math:`q = q_0`) and weight 1 from the input line :math:`a`, threshold 2: exactly one pair is active in
every step, so the unit fires iff one of its predecessors fired and its symbol is read. Size
:math:`2m + 1`, energy exactly 1 in every step (the start unit at step 0, one pair afterwards), one
step per input bit. The O(√m)-size construction (Horne & Hush 1996; Indyk 1995) and Šíma's
energy-bounded one are not built yet.
"""

from dataclasses import dataclass, field

import numpy as np

__all__ = ["DFA", "ThresholdCircuit", "parity", "modulo_counter", "random_dfa", "one_hot_circuit", "simulate",
           "all_strings"]

ALPHABET = (0, 1)  # the binary input alphabet of every automaton here


@dataclass
class DFA:
    """A deterministic finite automaton over the binary alphabet.

    Parameters
    ----------
    transitions : array of int, shape (m, 2)
        ``transitions[q, a]``: the state after reading ``a`` in state ``q`` (states ``0 .. m-1``).
    start : int
        The start state.
    accepting : iterable of int
        The accepting states.
    """

    transitions: np.ndarray
    start: int = 0
    accepting: frozenset = field(default_factory=frozenset)

    def __post_init__(self):
        table = np.asarray(self.transitions)
        if table.ndim != 2 or table.shape[0] < 1:
            raise ValueError(f"'transitions' must be a table of shape (states, symbols), got shape {table.shape}")
        if table.shape[1] != len(ALPHABET):
            raise ValueError(f"'transitions' has {table.shape[1]} symbols; only the binary alphabet {{0, 1}} is "
                             "supported (2 columns)")
        if not np.issubdtype(table.dtype, np.integer) and not np.all(table == np.round(table)):
            raise ValueError("'transitions' must hold whole state numbers")
        table = table.astype(np.int64)
        m = table.shape[0]
        if table.min() < 0 or table.max() >= m:
            outside = sorted(set(table[(table < 0) | (table >= m)].tolist()))
            raise ValueError(f"'transitions' holds states outside 0..{m - 1}: {outside}")
        if not 0 <= int(self.start) < m:
            raise ValueError(f"'start' must be a state in 0..{m - 1}, got {self.start!r}")
        accepting = frozenset(int(q) for q in self.accepting)
        if any(not 0 <= q < m for q in accepting):
            raise ValueError(f"'accepting' must hold states in 0..{m - 1}, got {sorted(accepting)}")
        self.transitions, self.start, self.accepting = table, int(self.start), accepting

    @property
    def n_states(self):
        return self.transitions.shape[0]

    def run(self, string):
        """The state after reading ``string`` (a sequence of 0 and 1) from the start state."""
        state = self.start
        for symbol in string:
            state = int(self.transitions[state, symbol])
        return state

    def accepts(self, strings):
        """Whether each string is accepted (a bool array): the plain reference run."""
        return np.array([self.run(_check_string(s)) in self.accepting for s in strings], dtype=bool)


def _check_string(string):
    symbols = list(string)
    if any(s not in ALPHABET for s in symbols):
        raise ValueError(f"input strings must consist of 0 and 1, got {string!r}")
    return symbols


def parity():
    """Accepts the strings with an odd number of 1s (2 states)."""
    return DFA(np.array([[0, 1], [1, 0]]), 0, {1})


def modulo_counter(k):
    """Accepts the strings whose number of 1s is divisible by ``k`` (``k`` states)."""
    if int(k) < 1:
        raise ValueError(f"'k' must be a positive integer, got {k!r}")
    q = np.arange(int(k))
    return DFA(np.stack([q, (q + 1) % int(k)], axis=1), 0, {0})


def random_dfa(m, seed, accepting_fraction=0.5):
    """A DFA with ``m`` states whose transitions and accepting states are drawn with numpy from ``seed``."""
    if int(m) < 1:
        raise ValueError(f"'m' must be a positive integer, got {m!r}")
    rng = np.random.default_rng(seed)
    transitions = rng.integers(0, int(m), size=(int(m), 2))
    accepting = np.flatnonzero(rng.random(int(m)) < accepting_fraction)
    return DFA(transitions, 0, set(accepting.tolist()))


def all_strings(max_length):
    """Every binary string of length 0 .. ``max_length`` (as tuples), shortest first."""
    strings = [()]
    for length in range(1, int(max_length) + 1):
        strings += [tuple((number >> (length - 1 - k)) & 1 for k in range(length)) for number in range(2 ** length)]
    return strings


@dataclass
class ThresholdCircuit:
    """Integer weights and thresholds of synchronous binary threshold units that simulate a DFA.

    Attributes
    ----------
    weights : int array (n, n)
        ``weights[j, i]``: from unit ``i`` to unit ``j``.
    input_weights : int array (n, 2)
        ``input_weights[j, a]``: from the input line of symbol ``a`` to unit ``j``.
    thresholds : int array (n,)
    initial : int array (n,)
        The configuration at step 0.
    steps_per_bit : int
        Network steps per input bit; bit ``k`` (from 0) is presented at steps ``k*steps_per_bit + 1`` ..
        ``(k + 1)*steps_per_bit``.
    state_of_unit : int array (n,)
        For the units that encode the automaton's state after the last bit: that state; -1 elsewhere.
    energy_bound, name : int, str
        The largest number of units the construction can make active in one step, and its name.
    """

    weights: np.ndarray
    input_weights: np.ndarray
    thresholds: np.ndarray
    initial: np.ndarray
    steps_per_bit: int
    state_of_unit: np.ndarray
    energy_bound: int
    name: str
    start_state: int = 0
    accepting: frozenset = field(default_factory=frozenset)

    @property
    def size(self):
        return len(self.thresholds)

    def decode(self, active):
        """Accept or not, from the units ``active`` (bool array (n,)) at the last step of a string."""
        states = set(self.state_of_unit[np.asarray(active, bool) & (self.state_of_unit >= 0)].tolist())
        if len(states) != 1:
            raise RuntimeError(f"the {self.name} circuit encodes {len(states)} states at the end of a string, not one")
        return states.pop() in self.accepting


def one_hot_circuit(dfa):
    """The one-hot construction (module docstring): size ``2m + 1``, energy 1, one step per bit.

    Unit ``2 q + a`` is the pair ``(q, a)``; unit ``2 m`` is the start unit (active at step 0 only). At
    the end of a string the active pair ``(q, a)`` encodes the state ``delta(q, a)``; the empty string is
    decoded from the start unit (the start state).
    """
    m = dfa.n_states
    n = 2 * m + 1
    weights = np.zeros((n, n), dtype=np.int64)
    input_weights = np.zeros((n, 2), dtype=np.int64)
    for q in range(m):
        for a in ALPHABET:
            unit = 2 * q + a
            input_weights[unit, a] = 1
            for p in range(m):
                for b in ALPHABET:
                    if dfa.transitions[p, b] == q:
                        weights[unit, 2 * p + b] = 1
            if q == dfa.start:
                weights[unit, 2 * m] = 1
    thresholds = np.full(n, 2, dtype=np.int64)
    thresholds[2 * m] = 1  # the start unit has no inputs: it never fires again after step 0
    initial = np.zeros(n, dtype=np.int64)
    initial[2 * m] = 1
    state_of_unit = np.array([dfa.transitions[u // 2, u % 2] for u in range(2 * m)] + [dfa.start])
    return ThresholdCircuit(weights, input_weights, thresholds, initial, 1, state_of_unit, 1, "one-hot",
                            dfa.start, dfa.accepting)


def simulate(circuit, strings):
    """A numpy run of ``circuit`` on ``strings``: acceptance and the active units per step.

    Returns
    -------
    accepted : bool array (n_strings,)
    active_counts : list of int arrays
        Per string, the number of active units at each step ``0 .. len(string) * steps_per_bit``.
    """
    accepted, counts = [], []
    for string in strings:
        symbols = _check_string(string)
        y = circuit.initial.astype(np.int64).copy()
        history = [int(y.sum())]
        for symbol in symbols:
            for _ in range(circuit.steps_per_bit):
                y = (circuit.weights @ y + circuit.input_weights[:, symbol] - circuit.thresholds >= 0).astype(np.int64)
                history.append(int(y.sum()))
        accepted.append(circuit.decode(y.astype(bool)))
        counts.append(np.array(history))
    return np.array(accepted, dtype=bool), counts
