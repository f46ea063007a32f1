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
step per input bit.

:func:`digit_circuit` — **our own construction** with Šíma's size and energy (the text of Šíma's proof
could not be read here; Šíma 2014, Neural Comput 26:953, doi:10.1162/NECO_a_00579, and its ICANN 2013
version, "A low-energy implementation of finite automata by optimal-size neural nets", LNCS 8131,
doi:10.1007/978-3-642-40728-4_15). A state :math:`q < m` is the number :math:`q = c + K r` with column
:math:`c < K = \lceil\sqrt m\rceil` and row :math:`r < R = \lceil m/K\rceil`, written with :math:`D \ge 2`
mixed-radix digits: :math:`D_c = \lfloor D/2\rfloor` digits of base :math:`B_c = \lceil K^{1/D_c}\rceil`
for :math:`c` and :math:`D_r = D - D_c` digits of base :math:`B_r = \lceil R^{1/D_r}\rceil` for :math:`r`
(digit :math:`d` has place value :math:`p_d` and base :math:`B_d`). The units:

* a clock ring :math:`K_0, \dots, K_{T-1}`, :math:`T = 1 + \sum_d B_d` (one unit active; :math:`K_0` at the
  last step of every bit, and at step 0);
* digit units :math:`Z_{d,j}`, :math:`1 \le j < B_d`: the state, one unit per nonzero digit (digit 0: no
  unit of its group active). They hold themselves, are cleared one step after :math:`K_0`, and are set
  by the search below;
* row units :math:`G_{r,a}` (:math:`2R`) and column units :math:`C_c` (:math:`K`): one step after
  :math:`K_0` the one whose row digits (column digits) equal those held by :math:`Z` fires — for
  :math:`G_{r,a}` only when symbol :math:`a` is read — and holds itself until :math:`K_{T-1}`;
* comparators :math:`P_c` (:math:`K`), with weight :math:`N_{r,a,c} = \delta(c + K r, a)` from
  :math:`G_{r,a}`: the whole transition table sits in the :math:`2R \times K \approx 2m` weights
  :math:`G \to P`.

Search (most significant digit first, each digit by its values :math:`j = B_d - 1, \dots, 1`, then one
gap step): at the clock step of test :math:`(d, j)`, the active comparator :math:`P_{c}` computes

.. math::

    \Big[\, N_{r,a,c} - \sum_{d', j'} j' p_{d'} Z_{d',j'} \ \ge\ j\, p_d \Big]

(gated by :math:`C_c` and the clock with a weight :math:`M = 2\,p_{D-1}B_{D-1} > 2m`), i.e. whether the
remainder after the digits found so far is at least :math:`j p_d`; one step later :math:`Z_{d,j}` is set
if the comparator fired, the clock is one past the test, and no unit of group :math:`d` is active. The
first (largest) :math:`j` that passes is the digit; the unit then blocks its group and enters the
remainder of the next tests. Greedy digits of a mixed radix are exact because the remainder before
digit :math:`d` is below :math:`B_d p_d`. The gap step lets the last digit reach the remainder before
the next digit is tested. After the last gap the digits hold :math:`\delta(q, a)`, at the bit's last
step :math:`K_0`.

Bounds (exact): size :math:`s = 1 + \sum_d (2B_d - 1) + 2R + 2K`; time :math:`T = 1 + \sum_d B_d` steps
per bit; energy :math:`\le D + 4` (one clock, one row, one column, one comparator unit and at most one
digit unit per digit group). With :math:`D = 2`: :math:`s \le 8\lceil\sqrt m\rceil + 1` (about
:math:`8\sqrt m`), :math:`T \le 2\lceil\sqrt m\rceil + 1 = O(s)`, energy 6; with :math:`D` digits
:math:`B_d \approx m^{1/D}`, so :math:`T \approx D m^{1/D}` while :math:`s = O(\sqrt m)` for
:math:`D \le \log_2 m`: the time falls steeply as the energy :math:`e = D + 4` grows, i.e.
:math:`T = O(s/e)` holds for every :math:`6 \le e \le c\,\sqrt m / \log m` (since :math:`e\,m^{1/e} \le
\sqrt m / e` there for large :math:`m`). **Not reached:** Šíma's regime :math:`e \gg \sqrt m/\log m`
(constant time per bit at energy :math:`O(s)`), which needs the constant-depth :math:`O(\sqrt m)`
circuit of Horne & Hush (NIPS 6, 1994, p. 359; Neural Networks 1996) / Indyk (STACS 1995, LNCS 900); with
:math:`D = \lceil\log_2 m\rceil` binary digits this construction takes :math:`T \le 2\lceil\log_2
m\rceil + 1` steps, not :math:`O(1)`. Weights are integers of magnitude at most :math:`M` (8192 for
:math:`m = 4096`), exact in float64.

Proof sketch. Clock: a ring of delays. Decoding: a unit with weight +1 from the digit unit of each of
its nonzero digits, −1 from every other unit of those groups and of its zero-digit groups, and +1 from
:math:`K_0` (and from the input line of its symbol) reaches its threshold (number of nonzero digits + 1,
or + 2) exactly when the held digits match; its self-weight exceeds the largest negative input, and the
clear weight exceeds the self-weight plus the largest positive input. Comparator: with :math:`G` and
:math:`C` one-hot during the search and :math:`M > 2m`, the gates cost :math:`2M` unless the column and a
test clock are both active, so only :math:`P_{c^*}` of the current column can fire, exactly when the
inequality above holds. Digits: by induction over the tests, when digit :math:`d` is searched the
groups :math:`d' > d` hold the greedy digits of :math:`\delta(q, a)` and the groups :math:`d' < d` are
empty, so the first passing test is the greedy digit, and a later passing test (the comparator does not
yet see the new unit) is blocked by it. Energy: at most one unit of the clock, of :math:`G`, of
:math:`C`, of :math:`P` and of each digit group is active at any step. :func:`sqrt_circuit` is this
construction with binary digits (among its fastest members); :func:`energy_circuit` picks :math:`D` from an
energy budget.
"""

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse

__all__ = ["DFA", "ThresholdCircuit", "parity", "modulo_counter", "random_dfa", "one_hot_circuit", "digit_circuit",
           "sqrt_circuit", "energy_circuit", "max_digits", "simulate", "all_strings", "MIN_DIGITS", "MIN_ENERGY"]

ALPHABET = (0, 1)  # the binary input alphabet of every automaton here
MIN_DIGITS = 2  # digits of the digit construction: fewer would make a row or column group of size m
MIN_ENERGY = MIN_DIGITS + 4  # its smallest energy bound (clock, row, column, comparator + one unit per digit)


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
    digit_group : int array (n,) or None
        For a digit code (:func:`digit_circuit`): the digit of each digit unit, -1 elsewhere; the state is
        then the sum of ``state_of_unit`` (the value a unit adds) over the active digit units.
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
    digit_group: np.ndarray | None = None

    @property
    def size(self):
        return len(self.thresholds)

    def decode(self, active):
        """Accept or not, from the units ``active`` (bool array (n,)) at the last step of a string."""
        return self.state(active) in self.accepting

    def state(self, active):
        """The automaton state encoded by the units ``active`` at the last step of a string."""
        active = np.asarray(active, bool)
        if self.digit_group is not None:  # digit code: the state is the sum of the active digit values
            digits = active & (self.digit_group >= 0)
            if np.bincount(self.digit_group[digits], minlength=1).max(initial=0) > 1:
                raise RuntimeError(f"the {self.name} circuit holds two values of one digit at the end of a string")
            return int(self.state_of_unit[digits].sum())
        states = set(self.state_of_unit[active & (self.state_of_unit >= 0)].tolist())
        if len(states) != 1:
            raise RuntimeError(f"the {self.name} circuit encodes {len(states)} states at the end of a string, not one")
        return states.pop()


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


def _digit_layout(m, n_digits):
    """Columns ``K``, rows ``R``, and the (place value, base) of every digit, most significant first."""
    n_columns = max(1, int(np.ceil(np.sqrt(m))))
    n_rows = -(-m // n_columns)
    d_columns = n_digits // 2
    d_rows = n_digits - d_columns
    b_columns = max(2, _root_ceil(n_columns, d_columns))
    b_rows = max(2, _root_ceil(n_rows, d_rows))
    digits = [(n_columns * b_rows ** d, b_rows) for d in reversed(range(d_rows))]
    digits += [(b_columns ** d, b_columns) for d in reversed(range(d_columns))]
    return n_columns, n_rows, digits


def _root_ceil(x, k):
    """The smallest integer b with b**k >= x."""
    b = max(1, int(round(x ** (1.0 / k))))
    while b ** k < x:
        b += 1
    while b > 1 and (b - 1) ** k >= x:
        b -= 1
    return b


def _digits_of(number, digits):
    """The greedy mixed-radix digits of ``number`` (most significant first)."""
    values = []
    for place, _base in digits:
        values.append(number // place)
        number -= values[-1] * place
    return values


def digit_circuit(dfa, n_digits):
    """The digit construction (module docstring) with ``n_digits`` digits ``D``.

    Exact bounds: size ``1 + sum_d (2 B_d - 1) + 2 R + 2 K``, ``1 + sum_d B_d`` steps per bit, energy at most
    ``D + 4`` (``circuit.energy_bound``); ``K = ceil(sqrt(m))`` columns, ``R = ceil(m / K)`` rows, bases ``B_d``
    the smallest with ``B_c**floor(D/2) >= K`` and ``B_r**ceil(D/2) >= R`` (at least 2).
    """
    n_digits = _check_int(n_digits, "n_digits", MIN_DIGITS)
    m = dfa.n_states
    n_columns, n_rows, digits = _digit_layout(m, n_digits)
    d_rows = n_digits - n_digits // 2
    n_steps = 1 + sum(base for _, base in digits)  # the clock ring: K_0, then per digit B_d - 1 tests and a gap
    # unit indices: clock, digits, rows (r, a), columns, comparators
    clock = np.arange(n_steps)
    digit_units, next_unit = [], n_steps
    for _, base in digits:
        digit_units.append(np.arange(next_unit, next_unit + base - 1))  # Z_{g, j} is digit_units[g][j - 1]
        next_unit += base - 1
    rows = np.arange(next_unit, next_unit + 2 * n_rows).reshape(n_rows, 2)
    columns = np.arange(rows.max() + 1, rows.max() + 1 + n_columns)
    comparators = columns + n_columns
    n = comparators.max() + 1 if n_columns else rows.max() + 1
    weights = np.zeros((n, n), dtype=np.int64)
    input_weights = np.zeros((n, 2), dtype=np.int64)
    thresholds = np.zeros(n, dtype=np.int64)
    big = 2 * digits[0][0] * digits[0][1]  # M > 2m: the gates of a comparator
    # clock ring
    weights[clock, np.roll(clock, 1)] = 1
    thresholds[clock] = 1
    # tests: (clock index, digit, value), most significant digit first, values descending, then a gap
    step = 1
    for g, (place, base) in enumerate(digits):
        for j in range(base - 1, 0, -1):
            z, test = digit_units[g][j - 1], step + base - 1 - j
            weights[comparators, clock[test]] = big - j * place  # the test: remainder >= j * place
            weights[z, comparators] = 1  # set: a comparator fired ...
            weights[z, clock[test + 1]] = 1  # ... at the test one step back ...
            weights[z, digit_units[g]] = -2  # ... and no value of this digit is held yet
            weights[z, z] = 3  # hold
            weights[z, clock[0]] = -8  # cleared one step after K_0
            thresholds[z] = 2
            weights[comparators, z] = -j * place  # the remainder after the digits found
        step += base  # base - 1 tests and a gap
    # rows and columns: decode the held digits one step after K_0, hold until K_{T-1}
    for groups, units, with_symbol in ((range(d_rows), rows, True), (range(d_rows, n_digits), columns, False)):
        groups = list(groups)
        n_groups = len(groups)
        for index in range(units.shape[0]):
            value = _digits_of(index * (n_columns if with_symbol else 1), digits)
            nonzero = sum(1 for g in groups if value[g] > 0)
            target = nonzero + 1 + int(with_symbol)  # threshold: every digit matches, K_0 (and the symbol)
            hold = target + n_groups
            for unit in np.atleast_1d(units[index]):
                for g in groups:
                    weights[unit, digit_units[g]] = -1
                    if value[g] > 0:
                        weights[unit, digit_units[g][value[g] - 1]] = 1
                weights[unit, clock[0]] = 1
                weights[unit, unit] = hold
                weights[unit, clock[-1]] = -(hold + target)
                thresholds[unit] = target
            if with_symbol:
                input_weights[units[index, 0], 0] = 1
                input_weights[units[index, 1], 1] = 1
    # comparators: the transition table in the weights from the rows, gated by their column
    for r in range(n_rows):
        for c in range(n_columns):
            q = c + n_columns * r
            if q < m:
                weights[comparators[c], rows[r, 0]] = dfa.transitions[q, 0]
                weights[comparators[c], rows[r, 1]] = dfa.transitions[q, 1]
    weights[comparators, columns] = big
    thresholds[comparators] = 2 * big
    initial = np.zeros(n, dtype=np.int64)
    initial[clock[0]] = 1
    state_of_unit = -np.ones(n, dtype=np.int64)
    digit_group = -np.ones(n, dtype=np.int64)
    for g, (place, _) in enumerate(digits):
        state_of_unit[digit_units[g]] = place * np.arange(1, len(digit_units[g]) + 1)
        digit_group[digit_units[g]] = g
    for g, value in enumerate(_digits_of(dfa.start, digits)):
        if value > 0:
            initial[digit_units[g][value - 1]] = 1
    return ThresholdCircuit(weights, input_weights, thresholds, initial, n_steps, state_of_unit, n_digits + 4,
                            f"digit (D={n_digits})", dfa.start, dfa.accepting, digit_group)


def max_digits(m):
    """The most digits worth using for ``m`` states: ``max(2, ceil(log2 m))`` (binary digits)."""
    return max(MIN_DIGITS, int(np.ceil(np.log2(max(int(m), 1)))))


def sqrt_circuit(dfa):
    """The O(√m)-size construction: :func:`digit_circuit` with binary digits, ``D = max(2, ceil(log2 m))``.

    Size ``O(sqrt(m))`` (about ``4 sqrt(m) + 3 log2 m``; the size of Horne & Hush 1996 and Indyk 1995),
    ``2 D + 1`` steps per bit (their circuits take O(1) steps: see the module docstring), energy ``<= D + 4``.
    """
    return digit_circuit(dfa, max_digits(dfa.n_states))


def energy_circuit(dfa, energy):
    """The energy-bounded construction: the fastest :func:`digit_circuit` whose energy bound is ``<= energy``.

    Among ``D = 2 .. min(energy - 4, max(2, ceil(log2 m)))`` digits, the ``D`` with the fewest steps per bit
    ``1 + sum_d B_d`` (about ``D m**(1/D)``; the fewer digits on a tie); energy ``<= D + 4 <= energy``; size
    ``O(sqrt(m))``. ``energy`` must be at least ``MIN_ENERGY`` (6).
    """
    energy = _check_int(energy, "energy", MIN_ENERGY)
    m = dfa.n_states
    candidates = range(MIN_DIGITS, min(energy - 4, max_digits(m)) + 1)
    n_digits = min(candidates, key=lambda d: (1 + sum(base for _, base in _digit_layout(m, d)[2]), d))
    return digit_circuit(dfa, n_digits)


def _check_int(value, name, minimum):
    if isinstance(value, bool) or not float(value).is_integer():
        raise ValueError(f"'{name}' must be an integer >= {minimum}, got {value!r}")
    if int(value) < minimum:
        raise ValueError(f"'{name}' must be an integer >= {minimum} (the digit construction's minimum), got {value!r}")
    return int(value)


def simulate(circuit, strings, operations=False):
    """A numpy run of ``circuit`` on ``strings`` (all strings at once): acceptance and the active units per step.

    Returns
    -------
    accepted : bool array (n_strings,)
    active_counts : list of int arrays
        Per string, the number of active units at each step ``0 .. len(string) * steps_per_bit``.
    synaptic_operations : int array (n_strings,)
        Only with ``operations``: per string, the sum over its steps of the out-degrees (non-zero weights to
        other units) of the active units, the synaptic events the string causes.
    """
    symbols = [_check_string(s) for s in strings]
    if not symbols:
        return (np.zeros(0, dtype=bool), []) + ((np.zeros(0, dtype=np.int64),) if operations else ())
    lengths = np.array([len(s) for s in symbols])
    n_steps = int(lengths.max()) * circuit.steps_per_bit
    weights = scipy.sparse.csr_matrix(circuit.weights.astype(np.float64))  # exact: integer sums far below 2**53
    y = np.repeat(circuit.initial.astype(np.float64)[:, None], len(symbols), axis=1)
    history = [y.sum(axis=0).astype(np.int64)]
    out_degree = np.count_nonzero(circuit.weights, axis=0).astype(np.float64)
    events = [out_degree @ y]
    final = y.copy()
    padded = -np.ones((len(symbols), max(int(lengths.max()), 1)), dtype=np.int64)
    for k, s in enumerate(symbols):
        padded[k, :len(s)] = s
    drive_of = np.concatenate([circuit.input_weights, np.zeros((circuit.size, 1))], axis=1)  # column -1: no symbol
    drive_of = drive_of - circuit.thresholds[:, None]
    for step in range(1, n_steps + 1):
        bit = (step - 1) // circuit.steps_per_bit
        y = (weights @ y + drive_of[:, padded[:, bit]] >= 0).astype(np.float64)
        history.append(y.sum(axis=0).astype(np.int64))
        events.append(out_degree @ y)
        done = lengths * circuit.steps_per_bit == step
        final[:, done] = y[:, done]
    history = np.array(history)
    accepted = np.array([circuit.decode(final[:, k].astype(bool)) for k in range(len(symbols))], dtype=bool)
    counts = [history[:lengths[k] * circuit.steps_per_bit + 1, k] for k in range(len(symbols))]
    if operations:
        events = np.array(events)
        per_string = np.array([int(events[:lengths[k] * circuit.steps_per_bit + 1, k].sum())
                               for k in range(len(symbols))], dtype=np.int64)
        return accepted, counts, per_string
    return accepted, counts
