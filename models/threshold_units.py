r"""Binary threshold units updated synchronously (McCulloch & Pitts 1943), as Brian2 code.

The units of :class:`brian2learn.models.automata.ThresholdCircuit` on a grid of steps (Brian2's ``dt``
only counts steps; all variables are numbers):

.. math::

    y_j^{s} = H\Big(\sum_i w_{ji} y_i^{s-1} + v_{j,a(s)} - \theta_j\Big), \qquad H(z) = [z \ge 0],

and :math:`y^0` the initial configuration. :class:`ThresholdNetwork` runs a batch of input strings as
trials of ``n_steps`` steps each (step 0 of a trial is the initial configuration; the symbol of each step
comes from a ``TimedArray``: 0, 1, or -1 for none). The units are connected all to all, so that every
circuit of a size runs on one build: weights, input weights, thresholds and the initial configuration are
run arguments (:class:`~brian2learn.simulation.devices.DeviceRunner`). A unit is *active* when
:math:`y = 1`; the active units of every step are recorded as events of a ``SpikeMonitor``, so that the
energy (the most units active in one step, Šíma 2014, Neural Comput 26:953) is read from them.
"""

import brian2 as b2
import numpy as np

from brian2learn.simulation.devices import DeviceRunner

UNIT_EQS = """
y : 1                  # activity of this step (0 or 1)
h : 1                  # summed sum_i w_ji y_i of the previous step
theta : 1              # threshold
v0 : 1                 # weight of the input line of symbol 0
v1 : 1                 # weight of the input line of symbol 1
y0 : 1                 # activity at step 0 of a trial
"""

#: One synchronous step (in the ``groups`` slot, after ``h`` was summed from the previous step's ``y``).
UNIT_STEP = """
step_in_trial = (int(t/dt + 0.5)) % n_steps
drive = h + v0*int(symbol(t) == 0) + v1*int(symbol(t) == 1) - theta
y = int(step_in_trial == 0)*y0 + int(step_in_trial > 0)*int(drive >= 0)
"""


class ThresholdNetwork:
    """``n_units`` synchronous threshold units, all to all, running ``n_trials`` trials of ``n_steps`` steps.

    A model for :class:`~brian2learn.simulation.devices.DeviceRunner`: ``state_variables`` are ``w``
    (``n_units**2``, synapse ``k`` from ``k // n_units`` to ``k % n_units``), ``theta``, ``v0``, ``v1``,
    ``y0``; ``stimulus_arrays`` is ``symbol`` (``n_trials * n_steps`` values).
    """

    def __init__(self, n_units, n_steps, n_trials):
        dt = 1 * b2.ms
        self.n_units, self.n_steps, self.n_trials = int(n_units), int(n_steps), int(n_trials)
        self.symbol = b2.TimedArray(-np.ones(self.n_trials * self.n_steps), dt=dt, name="threshold_symbol")
        namespace = {"symbol": self.symbol, "n_steps": self.n_steps}
        self.units = b2.NeuronGroup(self.n_units, UNIT_EQS, threshold="y > 0.5", reset="", dt=dt,
                                    namespace=namespace, name="threshold_units")
        self.synapses = b2.Synapses(self.units, self.units, "w : 1\nh_post = w*y_pre : 1 (summed)", dt=dt,
                                    name="threshold_synapses")
        self.synapses.connect(i=np.repeat(np.arange(self.n_units), self.n_units),
                              j=np.tile(np.arange(self.n_units), self.n_units))
        self.synapses.summed_updaters["h_post"].when = "start"  # the previous step's activity
        self.units.run_regularly(UNIT_STEP, when="groups", name="threshold_step")
        self.active = b2.SpikeMonitor(self.units, name="threshold_active")
        self.network = b2.Network(self.units, self.synapses, self.active)

    def run(self):
        self.network.run(self.n_trials * self.n_steps * b2.ms, namespace={})

    def state_variables(self):
        return {"w": (self.synapses, "w"), "theta": (self.units, "theta"), "v0": (self.units, "v0"),
                "v1": (self.units, "v1"), "y0": (self.units, "y0")}

    def stimulus_arrays(self):
        return {"symbol": self.symbol}


def circuit_values(circuit):
    """The run arguments of ``circuit`` (a :class:`~brian2learn.models.automata.ThresholdCircuit`)."""
    return {"w": np.asarray(circuit.weights, float).T.ravel(),  # synapse i*n + j carries weights[j, i]
            "theta": np.asarray(circuit.thresholds, float), "v0": np.asarray(circuit.input_weights[:, 0], float),
            "v1": np.asarray(circuit.input_weights[:, 1], float), "y0": np.asarray(circuit.initial, float)}


def symbol_array(circuit, strings, n_steps):
    """The ``symbol`` stimulus: every string as a trial of ``n_steps`` steps (-1 where no bit is shown)."""
    symbols = -np.ones((len(strings), n_steps))
    for trial, string in enumerate(strings):
        for k, bit in enumerate(string):
            start = k * circuit.steps_per_bit + 1
            symbols[trial, start:start + circuit.steps_per_bit] = bit
    return symbols.ravel()


def steps_needed(circuit, strings):
    """Steps of a trial long enough for the longest string (step 0 plus ``steps_per_bit`` per bit)."""
    return 1 + circuit.steps_per_bit * max((len(s) for s in strings), default=0)


def run_circuit(circuit, strings, device="runtime", runner=None, n_steps=None):
    """Run ``circuit`` on ``strings`` in Brian2; return ``(accepted, active_counts)`` as
    :func:`brian2learn.models.automata.simulate` does.

    ``runner``: a :class:`DeviceRunner` of a :class:`ThresholdNetwork` of the circuit's size, ``n_steps`` and
    ``len(strings)`` trials (built once, reused for other circuits of that size); else one is made and closed.
    """
    n_steps = steps_needed(circuit, strings) if n_steps is None else int(n_steps)
    if n_steps < steps_needed(circuit, strings):
        raise ValueError(f"'n_steps' = {n_steps} is too short for the longest string "
                         f"({steps_needed(circuit, strings)} steps needed)")
    own = runner is None
    if own:
        runner = DeviceRunner(lambda: ThresholdNetwork(circuit.size, n_steps, len(strings)), device=device)
    try:
        model = runner.run(circuit_values(circuit), {"symbol": symbol_array(circuit, strings, n_steps)})
        steps = np.rint(np.asarray(model.active.t / b2.ms)).astype(np.int64)
        units = np.asarray(model.active.i[:], dtype=np.int64)
    finally:
        if own:
            runner.close()
    trial, step = np.divmod(steps, n_steps)
    accepted, counts = [], []
    for k, string in enumerate(strings):
        last = len(string) * circuit.steps_per_bit
        mine = trial == k
        counts.append(np.bincount(step[mine], minlength=n_steps)[:last + 1])
        active = np.zeros(circuit.size, dtype=bool)
        active[units[mine & (step == last)]] = True
        accepted.append(circuit.decode(active))
    return np.array(accepted, dtype=bool), counts
