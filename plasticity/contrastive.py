"""Contrastive learning in settling networks as Brian2 code: CHL, equilibrium propagation, symmetric EP.

Baldi & Pineda (1991), "Contrastive learning and neural oscillations", Neural Computation 3:526,
doi:10.1162/neco.1991.3.4.526: a network alternates between a free phase and a phase with a teacher
signal; the weights descend a *contrast function*, the difference of an energy between the two phases.
Members: contrastive Hebbian learning (CHL; Movellan 1990, "Contrastive Hebbian learning in the continuous
Hopfield model"), equilibrium propagation (EP; Scellier & Bengio 2017, Front Comput Neurosci 11:24,
doi:10.3389/fncom.2017.00024) and its symmetric form (Laborieux et al. 2021, Front Neurosci 15:633674,
doi:10.3389/fnins.2021.633674). Their conjecture: brain oscillations could be the alternation of the phases.

Network
-------
The additive model (:data:`brian2learn.models.rate_units.ADDITIVE_UNIT_EQS`): units ``0 .. n_in - 1``
are inputs (clamped to the example's ``x``), then ``n_hidden`` hidden and ``n_out`` output units, with

.. math::

    \\tau \\frac{du_i}{dt} = -u_i + \\sum_j W_{ij} V_j + b_i + \\beta_i(t)\\,(d_i - V_i), \\qquad
    V_i = \\sigma(u_i) = \\frac{1}{1 + e^{-u_i}},

the nudge :math:`\\beta_i(t)` acting on outputs only; in a *clamped* phase the outputs are held at
the target, :math:`V_k = d_k`. ``W`` is symmetric with zero diagonal: every pair of connected units
has a synapse in each direction with the same weight, and every update is symmetric in the pair
(a product :math:`V_i V_j`), so symmetry holds by construction. Connectivity: ``'layered'``
(input-hidden, hidden-output) or ``'recurrent'`` (input to all, all pairs of hidden and output units).
With the energy :math:`E` of :func:`~brian2learn.models.rate_units.additive_energy` and the cost
:math:`C = \\tfrac12 \\sum_k (V_k - d_k)^2`, the fixed points of the nudged dynamics are the stationary
points of :math:`F = E + \\beta C` over the free units. Brian2 integrates by Euler with
``dt = tau / tau_steps`` (the fixed points are exactly those of the ODE).

Rules (the update of the weight of a pair and of a bias, after an example)
--------------------------------------------------------------------------
- ``'chl'`` (free, then clamped outputs): :math:`\\Delta W_{ij} = \\eta (V_i^c V_j^c - V_i^f V_j^f)`,
  :math:`\\Delta b_i = \\eta (V_i^c - V_i^f)`; exactly :math:`-\\eta\\, \\partial J/\\partial W_{ij}` of the contrast
  function :math:`J = E(V^c) - E(V^f)` (the free units are stationary points of ``E``, so only the explicit
  dependence counts).
- ``'ep'`` (free, then nudged by :math:`+\\beta`): :math:`\\Delta W_{ij} = \\frac{\\eta}{\\beta}
  (V_i^\\beta V_j^\\beta - V_i^0 V_j^0)`, which tends to :math:`-\\eta\\, dL/dW_{ij}` of the loss
  :math:`L = C(V^0)` at the free fixed point as :math:`\\beta \\to 0`, with an O(β) error.
- ``'ep-symmetric'`` (free, then :math:`+\\beta`, then :math:`-\\beta`): :math:`\\Delta W_{ij} = \\frac{\\eta}{2\\beta}
  (V_i^{+\\beta} V_j^{+\\beta} - V_i^{-\\beta} V_j^{-\\beta})`, error O(β²).

Schedules
---------
Both are one Brian2 program: per step of an example, a *schedule* gives the nudge, the clamp and a
coefficient ``a(t)``; every synapse integrates :math:`\\Delta W_{ij} \\mathrel{+}= a(t) V_i V_j` (and every
unit :math:`\\Delta b_i \\mathrel{+}= a(t) V_i`), and the weights change at batch boundaries by
:math:`\\eta\\, \\Delta / B`.

- ``'two-phase'``: phases of ``settle_steps`` steps; ``a`` is non-zero only at the last step of each phase
  (the coefficients of the rule above).
- ``'oscillating'``: after a free onset that settles the network from its reset (``onset_steps``, by default
  one half period; not integrated), a periodic phase signal :math:`s(t) = \\pm 1` (half periods of ``settle_steps``
  steps, ``cycles`` periods per example): the teacher is on while :math:`s = +1` (clamped outputs; for EP
  the nudge :math:`+\\beta`, for symmetric EP :math:`\\pm\\beta` with the sign of ``s``) and
  :math:`a(t) = c\\, s(t) / n_{half}` at every step, with ``c`` 1 (CHL), :math:`1/\\beta` (EP) or
  :math:`1/(2\\beta)` (symmetric EP): the synapses integrate :math:`dW/dt \\propto s(t) V_i V_j` and never
  store a phase, Baldi & Pineda's conjecture taken literally. When each half period is long against
  :math:`\\tau`, one period's change equals the two-phase update. The difference is the lag of the state
  after each switch of the phase: for a first-order relaxation with time constant :math:`\\tau_s` the
  integral of a half period misses about :math:`\\tau_s` times the jump, so the relative error falls as
  :math:`\\approx 2\\tau_s / T_{half}`. Measured (7 units, :math:`\\beta = 0.05`, tau 4 steps): at half
  periods of 5, 10, 20, 40 tau, CHL 6.4, 3.3, 1.6, 0.8 %; EP 14.5, 9.4, 4.7, 2.4 %; symmetric EP 26, 14,
  7.1, 3.6 % (the nudged outputs lag as well, the clamped ones do not). Within 1 % needs half periods of
  about 33 tau (CHL), 95 tau (EP) and 140 tau (symmetric EP).

A phase that has not settled, :math:`|\\Delta u|` of its last step above ``settle_tolerance`` for some unit,
is reported per example (``unsettled``), never silently used.
"""

from dataclasses import dataclass, field

import brian2 as b2
import numpy as np

from brian2learn.models import rate_units
from brian2learn.models.weight_levels import check_levels, held_code
from brian2learn.models.weight_levels import held as held_values
from brian2learn.simulation.devices import STEP_DT, check_clock_lockstep, schedule

RULES = ("chl", "ep", "ep-symmetric")
#: The kinds of units whose weights and biases ``ContrastiveConfig.weight_levels`` holds at discrete levels.
LEVEL_KINDS = {"hidden": 1, "output": 2}
SCHEDULES = ("two-phase", "oscillating")
ARCHITECTURES = ("layered", "recurrent")

#: Settling protocol and targets of the small Boolean tasks (XOR, 3-bit parity) with :data:`XOR_HIDDEN` hidden units,
#: layered; our choices, after Scellier & Bengio (2017): nudging beta, Euler step tau/2, steps per phase, target
#: values of false and true. Shared by the contrastive-xor study and the learning-rule arena.
XOR_PROTOCOL = {"beta": 0.5, "tau_steps": 2.0, "settle_steps": 100, "architecture": "layered", "low": 0.1, "high": 0.9}
XOR_HIDDEN = 8
#: Full-batch learning rates of XOR, chosen on XOR seeds 1-10 (the contrastive-xor study).
XOR_LEARNING_RATES = {"chl": 2.0, "ep": 4.0, "ep-symmetric": 4.0, "backprop-ff": 4.0, "recurrent-backprop": 4.0}
#: Settling protocol of the 8x8 digits (64-:data:`DIGITS_HIDDEN`-10, layered, minibatches of 20; our choices after
#: Laborieux et al. 2021), shared by the contrastive-digits study and the learning-rule arena.
DIGITS_PROTOCOL = {"beta": 0.5, "tau_steps": 2.0, "settle_steps": 30, "settle_tolerance": 1e-3, "batch_size": 20,
                   "low": 0.1, "high": 0.9}
DIGITS_HIDDEN = 64
#: Learning rates of the digits, chosen by hand on the training accuracy and one symmetric-EP test run (seed 1).
DIGITS_LEARNING_RATES = {"ep-symmetric": 1.0, "ep": 1.0, "chl": 0.5, "spiking-chl": 0.1, "backprop-ff": 1.0}

SYNAPSE_EQS = """
w : 1                     # W_ij (the same on the synapse j -> i and i -> j)
delta : 1                 # sum over the examples of the batch of the rule's Delta W_ij / eta
eta : 1 (constant)        # learning rate
h_post = w*V_pre : 1 (summed)
"""

#: Per unit, besides the additive model: the bias update, the free-phase outputs and the settling check.
#: Discrete weights (``ContrastiveConfig.weight_levels``): the synapse's and the unit's level spacing and count.
SYNAPSE_LEVEL_EQS = """
w_level : 1 (constant)    # spacing of the levels (0: full precision)
w_limit : 1 (constant)    # levels of each sign
"""
UNIT_LEVEL_EQS = """
b_level : 1 (constant)
b_limit : 1 (constant)
"""

UNIT_EXTRA_EQS = """
delta_b : 1               # sum over the batch of Delta b_i / eta
eta_b : 1 (constant)
V_free : 1                # V at the end of the (last) free phase of the example
du_end : 1                # largest |du| at the end of a phase in this example
"""


@dataclass
class ContrastiveConfig:
    """Structure, rule and schedule of a contrastive network.

    Parameters
    ----------
    n_in, n_hidden, n_out : int
    architecture : {'layered', 'recurrent'}
    rule : {'chl', 'ep', 'ep-symmetric'}
    schedule : {'two-phase', 'oscillating'}
    beta : float
        Nudging strength (> 0; EP rules).
    tau_steps : float
        Settling time constant in Euler steps (>= 1; the step is ``dt = tau / tau_steps``).
    settle_steps : int
        Steps of a phase (two-phase) or of a half period (oscillating).
    cycles : int
        Oscillation periods per example (oscillating schedule).
    onset_steps : int or None
        Free steps from the reset before the oscillation starts (oscillating schedule; None: ``settle_steps``).
    batch_size : int
        Examples per weight update.
    settle_tolerance : float
        Largest |du| in the last step of a phase that counts as settled.
    dt : Quantity
        Brian2's step (only counts steps; a power of two keeps the clocks exact).
    weight_levels : dict or None
        Discrete weights (the hardware axis): ``'hidden'`` and/or ``'output'`` -> ``(step, limit)``
        (:func:`brian2learn.models.weight_levels.discrete_levels`). A weight belongs to the higher
        kind of its two units and a bias to its unit's kind (layered: the input-hidden weights with the hidden
        biases, the hidden-output weights with the output biases); the network runs with
        ``step * clip(round(x / step), -limit, limit)`` (rounded half away from 0) for each of them
        (:func:`held_weights`) while the updates accumulate at full precision (the contrast of the held
        network's activities). None: full precision.
    """

    n_in: int
    n_hidden: int
    n_out: int
    architecture: str = "layered"
    rule: str = "ep-symmetric"
    schedule: str = "two-phase"
    beta: float = 0.1
    tau_steps: float = 4.0
    settle_steps: int = 60
    cycles: int = 1
    onset_steps: int | None = None
    batch_size: int = 1
    settle_tolerance: float = 1e-6
    dt: object = field(default_factory=lambda: STEP_DT)
    weight_levels: object = None

    def __post_init__(self):
        for name in ("n_in", "n_out", "settle_steps", "cycles", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"'{name}' must be a positive integer, got {value!r}")
        if self.onset_steps is not None and (isinstance(self.onset_steps, bool) or not isinstance(
                self.onset_steps, (int, np.integer)) or self.onset_steps < 1):
            raise ValueError(f"'onset_steps' must be a positive integer or None, got {self.onset_steps!r}")
        if self.onset_steps is not None and self.schedule != "oscillating":
            raise ValueError("'onset_steps' applies to the oscillating schedule only")
        if isinstance(self.n_hidden, bool) or not isinstance(self.n_hidden, (int, np.integer)) or self.n_hidden < 0:
            raise ValueError(f"'n_hidden' must be a non-negative integer, got {self.n_hidden!r}")
        for name, allowed in (("architecture", ARCHITECTURES), ("rule", RULES), ("schedule", SCHEDULES)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"'{name}' must be one of {', '.join(allowed)}, got {getattr(self, name)!r}")
        if not (np.isfinite(self.beta) and self.beta > 0):
            raise ValueError(f"'beta' must be a positive number, got {self.beta!r}")
        if not (np.isfinite(self.tau_steps) and self.tau_steps >= 1):
            raise ValueError(f"'tau_steps' must be >= 1 (the settling time constant in steps; a period shorter "
                             f"than dt cannot be simulated), got {self.tau_steps!r}")
        if not (np.isfinite(self.settle_tolerance) and self.settle_tolerance > 0):
            raise ValueError(f"'settle_tolerance' must be positive, got {self.settle_tolerance!r}")
        self.weight_levels = check_levels(self.weight_levels, LEVEL_KINDS) or None

    @property
    def n_units(self):
        return self.n_in + self.n_hidden + self.n_out

    @property
    def kinds(self):
        """0 input, 1 hidden, 2 output, per unit."""
        return np.repeat([0, 1, 2], [self.n_in, self.n_hidden, self.n_out])

    @property
    def n_phases(self):
        """Phases of an example (two-phase) or half periods (oscillating)."""
        if self.schedule == "oscillating":
            return 1 + 2 * self.cycles  # a free half period to settle from the reset, then the cycles
        return 3 if self.rule == "ep-symmetric" else 2

    def network(self, n_examples, record_traces=False, name="contrastive"):
        """The Brian2 network of this configuration over ``n_examples`` examples."""
        return ContrastiveNetwork(self, n_examples, record_traces=record_traces, name=name)

    @property
    def onset(self):
        """Free steps before the first half period (oscillating schedule)."""
        return self.settle_steps if self.onset_steps is None else int(self.onset_steps)

    @property
    def steps_per_example(self):
        if self.schedule == "oscillating":
            return self.onset + 2 * self.cycles * self.settle_steps
        return self.n_phases * self.settle_steps


def connected_pairs(config):
    """Unordered pairs ``(i, j)``, ``i < j``, of connected units (both directions carry one weight)."""
    kinds = config.kinds
    idx = {k: np.flatnonzero(kinds == k) for k in (0, 1, 2)}
    pairs = []
    if config.architecture == "layered":
        first = idx[1] if config.n_hidden else idx[2]
        pairs += [(i, j) for i in idx[0] for j in first]
        if config.n_hidden:
            pairs += [(i, j) for i in idx[1] for j in idx[2]]
    else:
        free = np.concatenate([idx[1], idx[2]])
        pairs += [(i, j) for i in idx[0] for j in free]
        pairs += [(int(a), int(b)) for n, a in enumerate(free) for b in free[n + 1:]]
    return np.asarray(pairs, dtype=int).reshape(-1, 2)


def synapse_passes_per_example(config):
    """Synapse passes of one example on a clocked simulator (the energy measure of a rate network).

    Every Euler step sums each unit's input over its incoming synapses, and each connected pair is two
    synapses (one per direction), so an example costs ``steps_per_example * 2 * n_pairs`` passes; the
    rule's products (once per phase or per step) come on top.
    """
    return int(config.steps_per_example * 2 * len(connected_pairs(config)))


def synapse_indices(config):
    """Pre and post of the synapses: each pair in both directions (pair ``p`` gives synapses ``2p``, ``2p + 1``)."""
    pairs = connected_pairs(config)
    pre = np.stack([pairs[:, 0], pairs[:, 1]], axis=1).ravel()
    post = np.stack([pairs[:, 1], pairs[:, 0]], axis=1).ravel()
    return pre, post


def phase_schedule(config):
    """Per step of an example: ``nudge`` (beta_i(t) of the outputs), ``clamp`` (0/1), ``coefficient`` a(t),
    ``free_mark`` (1 at the step whose V is the example's free-phase output) and ``phase_end`` (1 at the
    last step of each phase)."""
    n, steps = config.settle_steps, config.steps_per_example
    nudge, clamp, coef = np.zeros(steps), np.zeros(steps), np.zeros(steps)
    free_mark, phase_end = np.zeros(steps), np.zeros(steps)
    beta = config.beta
    if config.schedule == "two-phase":
        phase_end[n - 1::n] = 1.0
        last = np.arange(1, config.n_phases + 1) * n - 1
        free_mark[last[0]] = 1.0
        if config.rule == "chl":
            clamp[n:] = 1.0
            coef[last] = (-1.0, 1.0)
        elif config.rule == "ep":
            nudge[n:] = beta
            coef[last] = (-1.0 / beta, 1.0 / beta)
        else:
            nudge[n:2 * n], nudge[2 * n:] = beta, -beta
            coef[last] = (0.0, 1.0 / (2 * beta), -1.0 / (2 * beta))
        return {"nudge": nudge, "clamp": clamp, "coefficient": coef, "free_mark": free_mark, "phase_end": phase_end}
    # oscillating: after the free onset from the reset (not integrated), s = -1 in the first half of every
    # period, +1 in the second
    onset = config.onset
    phase_end[onset - 1] = 1.0
    phase_end[onset + n - 1::n] = 1.0
    sign = np.concatenate([np.zeros(onset), np.tile(np.repeat([-1.0, 1.0], n), config.cycles)])
    teacher = sign > 0
    if config.rule == "chl":
        clamp[teacher] = 1.0
        scale = 1.0
    elif config.rule == "ep":
        nudge[teacher] = beta
        scale = 1.0 / beta
    else:
        nudge[:] = beta * sign
        scale = 1.0 / (2 * beta)
        free_mark[onset - 1] = 1.0  # the onset is the only free stretch
    coef[:] = scale * sign / n
    if config.rule != "ep-symmetric":
        free_mark[steps - n - 1] = 1.0  # the end of the last free half period
    return {"nudge": nudge, "clamp": clamp, "coefficient": coef, "free_mark": free_mark, "phase_end": phase_end}


#: The two-phase schedule's products at the end of the phase that ended with the last step (none at t = 0).
PHASE_END_INTEGRAL = ("delta += int(t > 0*second)*plan_coefficient(((int(t/step_dt + 0.5) + steps_per_example - 1)"
                      " % steps_per_example)*step_dt)*V_pre*V_post")


def check_examples(config, n_examples):
    """``n_examples`` must be a positive multiple of the batch size, and the batch clocks exact."""
    if isinstance(n_examples, bool) or not isinstance(n_examples, (int, np.integer)) or n_examples < 1:
        raise ValueError(f"'n_examples' must be a positive integer, got {n_examples!r}")
    if n_examples % config.batch_size:
        raise ValueError(f"'n_examples' = {n_examples} must be a multiple of batch_size = {config.batch_size}")
    check_clock_lockstep(config.dt, config.steps_per_example * config.batch_size, n_examples // config.batch_size)


class ContrastiveNetwork:
    """The Brian2 objects of a contrastive network for ``n_examples`` examples per run.

    Parameters
    ----------
    config : ContrastiveConfig
    n_examples : int
        Examples of one run (a multiple of ``batch_size``).
    record_traces : bool
        Record ``V`` of every unit at every step (phase-trace figures, tests).
    name : str
    """

    def __init__(self, config, n_examples, record_traces=False, name="contrastive"):
        check_examples(config, n_examples)
        steps = config.steps_per_example
        self.config = config
        self.n_examples = int(n_examples)
        dt = config.dt
        self.dt = dt
        self.example_duration = steps * dt
        plan = phase_schedule(config)
        self.schedule_arrays = {key: b2.TimedArray(value.copy(), dt=dt, name=f"{name}_{key}")
                                for key, value in plan.items()}
        self.example_values = b2.TimedArray(np.zeros((self.n_examples, config.n_units)), dt=self.example_duration,
                                            name=f"{name}_example_values")
        namespace = {"tau": config.tau_steps, "steps_per_example": steps, "example_values": self.example_values,
                     "step_dt": dt,
                     "batch_size": config.batch_size, **{f"plan_{k}": v for k, v in self.schedule_arrays.items()}}
        step_in_example = "((int(t/dt + 0.5)) % steps_per_example)*dt"
        value = "example_values(t, i)"
        levels = config.weight_levels
        unit_eqs = rate_units.ADDITIVE_UNIT_EQS + UNIT_EXTRA_EQS + (UNIT_LEVEL_EQS if levels else "")
        self.units = b2.NeuronGroup(config.n_units, unit_eqs, dt=dt, namespace=namespace, name=f"{name}_units")
        self.units.kind = config.kinds
        synapse_eqs = SYNAPSE_EQS
        if levels:
            synapse_eqs = (SYNAPSE_EQS.replace("h_post = w*V_pre", "h_post = {}*V_pre".format(
                held_code("w", "w_level", "w_limit", optional=True))) + SYNAPSE_LEVEL_EQS)
        self.synapses = b2.Synapses(self.units, self.units, synapse_eqs, dt=dt, namespace=namespace,
                                    name=f"{name}_synapses")
        pre, post = synapse_indices(config)
        self.synapses.connect(i=pre, j=post)
        if levels:
            for target, kinds, prefix in ((self.synapses, np.maximum(config.kinds[pre], config.kinds[post]), "w"),
                                          (self.units, config.kinds, "b")):
                step, limit = level_arrays(config, kinds)
                setattr(target, f"{prefix}_level", step)
                setattr(target, f"{prefix}_limit", limit)

        # example boundary: record the finished example (0), weight updates at batch boundaries (1), reset (2)
        self.free_monitor = b2.StateMonitor(self.units, ["V_free", "du_end"], record=True, dt=self.example_duration,
                                            when="start", order=0, name=f"{name}_free_monitor")
        batch_dt = config.batch_size * self.example_duration
        self.synapses.run_regularly("w += eta*delta/batch_size\ndelta = 0", dt=batch_dt, when="start", order=1,
                                    name=f"{name}_weight_update")
        self.units.run_regularly("b += eta_b*delta_b/batch_size\ndelta_b = 0", dt=batch_dt, when="start", order=1,
                                 name=f"{name}_bias_update")
        self.units.run_regularly(f"u = 0\nclamp_start = int(kind == 0)\n"
                                 f"V = clamp_start*{value} + (1 - clamp_start)*0.5\nV_free = 0\ndu_end = 0",
                                 dt=self.example_duration, when="start", order=2, name=f"{name}_reset")
        # every step: summed input (0), the units (1); then the rule's integrals (after_groups)
        schedule(self.synapses.summed_updaters["h_post"], "groups", 0)
        bias = held_code("b", "b_level", "b_limit", optional=True) if levels else "b"
        step = rate_units.ADDITIVE_STEP.format(nudge=f"plan_nudge({step_in_example})",
                                               clamp=f"plan_clamp({step_in_example})", value=value, bias=bias)
        self.units.run_regularly(step, when="groups", order=1, name=f"{name}_step")
        self.units.run_regularly(
            f"delta_b += int(kind != 0)*plan_coefficient({step_in_example})*V\n"
            f"mark = plan_free_mark({step_in_example})\nV_free = mark*V + (1 - mark)*V_free\n"
            f"end_du = plan_phase_end({step_in_example})*du\n"
            f"du_end = du_end + int(end_du > du_end)*(end_du - du_end)",
            when="after_groups", order=0, name=f"{name}_unit_integrals")
        if config.schedule == "two-phase":
            # the coefficient is non-zero only at the last step of a phase: take the products there alone, at the
            # start of the next step (before the batch's update and the next example's reset), not every step
            phase_dt = config.settle_steps * dt
            check_clock_lockstep(dt, config.settle_steps, n_examples * config.n_phases)
            self.synapses.run_regularly(PHASE_END_INTEGRAL, dt=phase_dt, when="start", order=-1,
                                        name=f"{name}_synapse_integrals")
        else:
            self.synapses.run_regularly(f"delta += plan_coefficient({step_in_example})*V_pre*V_post",
                                        when="after_groups", order=1, name=f"{name}_synapse_integrals")
        self.trace_monitor = None
        objects = [self.units, self.synapses, self.free_monitor]
        if record_traces:
            self.trace_monitor = b2.StateMonitor(self.units, ["V", "u"], record=True, when="end",
                                                 name=f"{name}_traces")
            objects.append(self.trace_monitor)
        self.network = b2.Network(objects)

    def run(self):
        """All examples and one closing step, whose boundary operations record the last example and apply
        the last batch's update."""
        self.network.run(self.n_examples * self.example_duration + self.dt, namespace={})

    def state_variables(self):
        """``w`` (synapse order, :func:`synapse_indices`), ``b``, ``eta``, ``eta_b``."""
        return {"w": (self.synapses, "w"), "b": (self.units, "b"), "eta": (self.synapses, "eta"),
                "eta_b": (self.units, "eta_b")}

    def stimulus_arrays(self):
        """``example_values`` (n_examples, n_units): inputs ``x`` on input units, targets ``d`` on outputs."""
        return {"example_values": self.example_values}


# -- weights and data --------------------------------------------------------------------------------------
def initial_weights(config, seed, scale=None):
    """Symmetric weights with zero diagonal on the connected pairs, Glorot-like ``U(-a, a)``,
    ``a = sqrt(6 / (fan_in + fan_out))`` per pair of layers (or ``scale``); zero biases."""
    rng = np.random.default_rng(seed)
    n = config.n_units
    w = np.zeros((n, n))
    kinds = config.kinds
    counts = np.bincount(kinds, minlength=3)
    for i, j in connected_pairs(config):
        a = scale if scale is not None else np.sqrt(6.0 / (counts[kinds[i]] + counts[kinds[j]]))
        w[i, j] = w[j, i] = rng.uniform(-a, a)
    return {"w": w, "b": np.zeros(n)}


def check_weights(config, weights):
    """Copies of ``w`` (n, n: symmetric, zero outside the connected pairs) and ``b`` (n,)."""
    n = config.n_units
    w = np.array(weights["w"], dtype=float)
    b = np.array(weights.get("b", np.zeros(n)), dtype=float)
    if w.shape != (n, n):
        raise ValueError(f"'w' must have shape (n_units, n_units) = {(n, n)}, got {w.shape}")
    if b.shape != (n,):
        raise ValueError(f"'b' must have shape ({n},), got {b.shape}")
    if not (np.all(np.isfinite(w)) and np.all(np.isfinite(b))):
        raise ValueError("'w' and 'b' must be finite")
    if not np.array_equal(w, w.T):
        worst = np.unravel_index(np.argmax(np.abs(w - w.T)), w.shape)
        raise ValueError(f"'w' must be symmetric (contrastive rules need W_ij = W_ji); asymmetric initial weights "
                         f"at {tuple(int(k) for k in worst)}: {w[worst]!r} vs {w[worst[::-1]]!r}")
    mask = np.zeros((n, n), dtype=bool)
    pairs = connected_pairs(config)
    mask[pairs[:, 0], pairs[:, 1]] = mask[pairs[:, 1], pairs[:, 0]] = True
    if np.any(w[~mask] != 0):
        raise ValueError(f"'w' has weights outside the {config.architecture} connectivity (self-connections or "
                         "unconnected pairs)")
    return {"w": w, "b": b}


def example_values(config, inputs, targets):
    """The ``example_values`` stimulus: (n_examples, n_units) with ``x`` on inputs, ``d`` on outputs."""
    inputs = np.asarray(inputs, dtype=float)
    targets = np.asarray(targets, dtype=float)
    if inputs.ndim != 2 or inputs.shape[1] != config.n_in:
        raise ValueError(f"'inputs' must have shape (n_examples, n_in = {config.n_in}), got {inputs.shape}")
    if targets.shape != (len(inputs), config.n_out):
        raise ValueError(f"'targets' must have shape (n_examples, n_out) = {(len(inputs), config.n_out)}, "
                         f"got {targets.shape}")
    if not (np.all(np.isfinite(inputs)) and np.all(np.isfinite(targets))):
        raise ValueError("'inputs' and 'targets' must be finite")
    values = np.zeros((len(inputs), config.n_units))
    values[:, :config.n_in] = inputs
    values[:, config.n_units - config.n_out:] = targets
    return values


def run_values(config, weights, eta, eta_b=None):
    """``run_args`` values of :class:`ContrastiveNetwork` from matrices (``eta`` 0: no learning)."""
    pre, post = synapse_indices(config)
    n_syn = len(pre)
    return {"w": weights["w"][post, pre], "b": weights["b"], "eta": np.full(n_syn, float(eta)),
            "eta_b": np.full(config.n_units, float(eta if eta_b is None else eta_b))}


def level_arrays(config, kinds):
    """Level spacing and count of values belonging to units of ``kinds`` (0 spacing: full precision)."""
    step, limit = np.zeros(len(kinds)), np.ones(len(kinds))
    for name, (level, count) in (config.weight_levels or {}).items():
        step[kinds == LEVEL_KINDS[name]] = level
        limit[kinds == LEVEL_KINDS[name]] = count
    return step, limit


def held_weights(config, weights):
    """The ``w`` (n, n) and ``b`` the network of ``config`` runs with: at the levels of
    ``config.weight_levels`` (rounded half away from 0), or ``weights`` themselves at full precision."""
    if not config.weight_levels:
        return weights
    kinds = config.kinds
    held = {}
    for name, value, owner in (("w", weights["w"], np.maximum(kinds[:, None], kinds[None, :])),
                               ("b", weights["b"], kinds)):
        step, limit = (array.reshape(owner.shape) for array in level_arrays(config, owner.ravel()))
        held[name] = np.where(step > 0, held_values(value, np.where(step > 0, step, 1.0), limit), value)
    return held


def weight_matrix(config, synapse_w):
    """The (n, n) matrix from the synapses' values (synapse ``pre -> post`` holds ``W[post, pre]``)."""
    pre, post = synapse_indices(config)
    w = np.zeros((config.n_units, config.n_units))
    w[post, pre] = synapse_w
    return w


# -- independent references in numpy ----------------------------------------------------------------------
class FixedPointError(RuntimeError):
    """The network has no fixed point that relaxation and Newton's method reach (it oscillates or diverges)."""


def _sigmoid(u):
    return 1.0 / (1.0 + np.exp(-np.clip(u, -700, 700)))


def fixed_point(config, weights, x, target=None, beta=0.0, clamp=False, tol=1e-13, max_iter=100, relax_steps=2000):
    """The fixed point ``u = W V + b + beta (d - V)`` (outputs), ``V = sigma(u)``: relaxation, then Newton's method.

    Returns ``V`` of all units (inputs clamped to ``x``; outputs to ``target`` when ``clamp``).
    """
    w, b = weights["w"], weights["b"]
    kinds = config.kinds
    n = config.n_units
    v = np.full(n, 0.5)
    v[kinds == 0] = x
    fixed = kinds == 0
    if clamp:
        v[kinds == 2] = target
        fixed = fixed | (kinds == 2)
    free = ~fixed
    nudge = np.zeros(n)
    if beta and not clamp:
        nudge[kinds == 2] = beta
    d = np.zeros(n)
    if target is not None:
        d[kinds == 2] = target
    u = np.zeros(n)
    # relax first as the Brian2 network does (Euler, dt = tau/2, from u = 0): Newton then polishes the fixed
    # point the dynamics reach, not another one of a multistable network
    for _ in range(relax_steps):
        v[free] = _sigmoid(u)[free]
        step = (-u + w @ v + b + nudge * (d - v))[free]
        u[free] += 0.5 * step
        if np.max(np.abs(step)) < 1e-4:  # close enough for Newton
            break
    for _ in range(max_iter):
        v_free = _sigmoid(u)
        v[free] = v_free[free]
        residual = (-u + w @ v + b + nudge * (d - v))[free]
        if np.max(np.abs(residual)) < tol:
            break
        slope = v_free * (1 - v_free)
        jac = -np.eye(n) + (w - np.diag(nudge)) * slope[None, :]
        jac = jac[np.ix_(free, free)]
        u[free] -= np.linalg.solve(jac, residual)
    else:
        raise FixedPointError("no fixed point found (the relaxation and Newton's method did not converge)")
    return v


def settling_time(config, weights, x, target=None, clamp=False):
    """The slowest relaxation time constant at the fixed point, in units of the unit time constant tau.

    Linearised about the fixed point ``u*`` (free units only), :math:`\\tau\\, d\\delta u/dt = (-I + W D)\\,\\delta u`
    with :math:`D = \\mathrm{diag}(\\sigma'(u^*))`; ``W D`` is similar to the symmetric :math:`D^{1/2} W D^{1/2}`,
    so its eigenvalues :math:`\\lambda` are real, and a stable fixed point has all :math:`\\lambda < 1`. The slowest
    mode decays with :math:`\\tau_s = \\tau / (1 - \\lambda_{max})`; returns :math:`\\tau_s / \\tau` (inf when not
    stable). With ``clamp`` the outputs are held at ``target`` (the clamped phase).
    """
    kinds = config.kinds
    v = fixed_point(config, weights, x, target, clamp=clamp)
    free = (kinds != 0) & ~((kinds == 2) & clamp)
    slope = np.sqrt((v * (1 - v))[free])
    symmetric = slope[:, None] * weights["w"][np.ix_(free, free)] * slope[None, :]
    largest = float(np.max(np.linalg.eigvalsh(symmetric)))
    return 1.0 / (1.0 - largest) if largest < 1.0 else float("inf")


def contrast_function(config, weights, x, target):
    """Movellan's contrast ``J = E(clamped fixed point) - E(free fixed point)`` (CHL descends it)."""
    kinds = config.kinds
    v_free = fixed_point(config, weights, x)
    v_clamped = fixed_point(config, weights, x, target, clamp=True)
    e_free = rate_units.additive_energy(weights["w"], weights["b"], v_free, kinds != 0)
    e_clamped = rate_units.additive_energy(weights["w"], weights["b"], v_clamped, kinds != 0)
    return e_clamped - e_free


def loss_gradient(config, weights, x, target, return_activity=False):
    """``L = C(V^0)`` at the free fixed point and ``dL/dW`` (symmetric pairs), ``dL/db`` by implicit differentiation.

    Recurrent backpropagation (Almeida 1987; Pineda 1987): with the fixed-point condition
    :math:`G(u) = -u + W\\sigma(u) + b = 0` over the free units, solve :math:`(\\partial G/\\partial u)^T \\lambda
    = -\\partial L/\\partial u`; then :math:`dL/db_i = \\lambda_i` and, for a pair of units whose one weight enters
    both directions, :math:`dL/dW_{ij} = \\lambda_i V_j + \\lambda_j V_i` (a term only for free units).
    With ``return_activity`` the free fixed point ``V`` comes fourth.
    """
    kinds = config.kinds
    w = weights["w"]
    v = fixed_point(config, weights, x)
    free = kinds != 0
    out = kinds == 2
    loss = 0.5 * float(np.sum((v[out] - target) ** 2))
    slope = v * (1 - v)
    jac = (-np.eye(config.n_units) + w * slope[None, :])[np.ix_(free, free)]
    dl_du = np.zeros(config.n_units)
    dl_du[out] = (v[out] - target) * slope[out]
    lam = np.zeros(config.n_units)
    lam[free] = np.linalg.solve(jac.T, -dl_du[free])
    grad_w = np.outer(lam, v) + np.outer(v, lam)
    mask = np.zeros_like(w, dtype=bool)
    pairs = connected_pairs(config)
    mask[pairs[:, 0], pairs[:, 1]] = mask[pairs[:, 1], pairs[:, 0]] = True
    result = (loss, np.where(mask, grad_w, 0.0), np.where(free, lam, 0.0))
    return result + (v,) if return_activity else result
