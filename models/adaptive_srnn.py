"""Adaptive spiking recurrent networks of Yin, Corradi & Bohté (2021), as discrete-time Brian2 code.

Yin, B., Corradi, F. & Bohté, S. M. (2021), "Accurate and efficient time-domain classification with adaptive
spiking recurrent neural networks", Nature Machine Intelligence 3:905-913, doi:10.1038/s42256-021-00397-w
(equations as in their Methods and their ECG script, ``byin-cwi/Efficient-spiking-networks``, MIT).

The neuron, per step (``dt`` = 1 step)
--------------------------------------
Adaptive LIF with per-neuron membrane and adaptation time constants :math:`\\tau_m, \\tau_{adp}` (in steps):

.. math::

    \\alpha = e^{-1/\\tau_m}, \\qquad \\rho = e^{-1/\\tau_{adp}},

    b_t = \\rho\\, b_{t-1} + (1 - \\rho)\\, s_{t-1}, \\qquad \\theta_t = b_0 + \\beta\\, b_t,

    u_t = \\alpha\\, u_{t-1} + (1 - \\alpha)\\, I_t - \\theta_t\\, s_{t-1}, \\qquad s_t = H(u_t - \\theta_t),

with :math:`b_0 = 0.01`, :math:`\\beta = 1.8` (``'adaptive'``) or :math:`\\beta = 0` (``'non-adaptive'``: the
threshold stays at :math:`b_0`), :math:`H(x) = 1` for :math:`x > 0`. The reset subtracts the threshold one step
after the spike. ``'lif'`` is the plain LIF of the authors' script (its ``neuron_type = 'LIF'``), with fixed
constants: :math:`u_t = 0.618\\, u_{t-1} + I_t`, :math:`s_t = H(u_t - 0.5)`, then :math:`u_t \\leftarrow 0`
where :math:`s_t = 1`.

The network
-----------
``n_in`` inputs, ``n_hidden`` recurrent spiking neurons, ``n_out`` spiking output neurons whose *membrane*
:math:`u^{out}_t` is the network's output (the authors read log-softmax of it at every step):

.. math::

    I^{h}_t = W_{in} x_t + W_{rec} s^{h}_{t-1} + b_h, \\qquad I^{o}_t = W_{out} s^{h}_t + b_o .

The ECG script makes the hidden layer non-adaptive and the output layer adaptive (the default here). Every
state starts at 0 but the adaptation trace, which starts at :math:`b_0` (the script's initial ``b``); the
script draws its initial membranes uniformly in [0, 0.01), we start them at 0 so that runs are reproducible
and both simulators start from the same state.

In Brian2
---------
:class:`Brian2Srnn` simulates ``batch`` independent copies of the network at once (one sequence each, all
synapses block-diagonal) with ``dt = 1 ms`` standing for one step; each step, in scheduling order: the inputs
read row ``t`` of a ``TimedArray``, the hidden layer's summed inputs (from the inputs and from the hidden
spikes of the last step), the hidden update, the output's summed input (from this step's hidden spikes), the
output update; a threshold ``s > 0.5`` then turns the spike variables into Brian2 spike events for the
monitors. Parameters and inputs are run arguments of one ``cpp_standalone`` build.
"""

from dataclasses import dataclass

import brian2 as b2
import numpy as np

from brian2learn.simulation.devices import schedule
from brian2learn.simulation.files import checked_arrays

#: Neuron kinds (module docstring).
NEURON_KINDS = ("adaptive", "non-adaptive", "lif")
#: Baseline threshold b_0 and adaptation strength beta of the adaptive neuron (Yin et al. 2021).
B0 = 0.01
BETA = 1.8
#: The authors' plain LIF: decay per step, threshold.
LIF_DECAY = 0.618
LIF_THRESHOLD = 0.5
#: One step of the discrete model in Brian2.
STEP = 1 * b2.ms

#: A layer of the discrete model; ``I_in`` and ``I_rec`` are summed inputs (the output layer uses ``I_in`` only).
LAYER_EQS = """
u : 1                       # membrane potential u_t
s : 1                       # spike s_t (0 or 1)
b : 1                       # adaptation trace b_t
theta : 1                   # threshold theta_t
I_in : 1                    # summed input from the layer below
I_rec : 1                   # summed recurrent input (hidden layer)
bias : 1 (constant)
alpha : 1 (constant)        # exp(-1/tau_m)
rho : 1 (constant)          # exp(-1/tau_adp)
beta : 1 (constant)         # adaptation strength (0: non-adaptive)
"""

#: One step of the (non-)adaptive neuron: the spike of the last step adapts the threshold and resets.
ALIF_STEP = """
b = rho*b + (1 - rho)*s
theta = b0 + beta*b
u = alpha*u + (1 - alpha)*(I_in + I_rec + bias) - theta*s
s = int(u - theta > 0)
"""

#: One step of the authors' plain LIF (reset to zero in the step of the spike).
LIF_STEP = """
u = lif_decay*u + (I_in + I_rec + bias)
theta = lif_threshold
s = int(u - theta > 0)
u = u*(1 - s)
"""

INPUT_EQS = "x : 1"
SYNAPSE_EQS = "w : 1 (constant)"


@dataclass(frozen=True)
class SrnnArchitecture:
    """Sizes and neuron kinds of an adaptive SRNN.

    Parameters
    ----------
    n_in, n_hidden, n_out : int
    hidden_kind, output_kind : {'adaptive', 'non-adaptive', 'lif'}
        The ECG script's network has a non-adaptive hidden and an adaptive output layer (the defaults).
    """

    n_in: int
    n_hidden: int
    n_out: int
    hidden_kind: str = "non-adaptive"
    output_kind: str = "adaptive"

    def __post_init__(self):
        for name in ("n_in", "n_hidden", "n_out"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"'{name}' must be a positive integer, got {value!r}")
        for name in ("hidden_kind", "output_kind"):
            if getattr(self, name) not in NEURON_KINDS:
                raise ValueError(f"unknown {name} {getattr(self, name)!r}; allowed: {', '.join(NEURON_KINDS)}")

    @property
    def shapes(self):
        """Parameter name -> shape (weights are ``W[post, pre]``)."""
        h, o = self.n_hidden, self.n_out
        return {"w_in": (h, self.n_in), "w_rec": (h, h), "b_h": (h,), "w_out": (o, h), "b_o": (o,),
                "tau_m_h": (h,), "tau_adp_h": (h,), "tau_m_o": (o,), "tau_adp_o": (o,)}

    @property
    def n_neurons(self):
        return self.n_hidden + self.n_out


def check_parameters(architecture, params):
    """Float64 copies of the parameters, checked: shapes, finite values, time constants > 0 (in steps).

    Raises ``ValueError`` naming the parameter.
    """
    checked = checked_arrays(params, architecture.shapes)
    for name, value in checked.items():
        if name.startswith("tau") and np.any(value <= 0):
            raise ValueError(f"'{name}' must be positive (time constants in steps), got a minimum of {value.min()!r}")
    return checked


def decay_factors(params):
    """``alpha_h, rho_h, alpha_o, rho_o``: :math:`e^{-1/\\tau}` of each time constant (numpy, float64).

    Both simulators take these numbers, so that their spikes agree to the last bit of the decay factors.
    """
    return {"alpha_h": np.exp(-1.0 / params["tau_m_h"]), "rho_h": np.exp(-1.0 / params["tau_adp_h"]),
            "alpha_o": np.exp(-1.0 / params["tau_m_o"]), "rho_o": np.exp(-1.0 / params["tau_adp_o"])}


def beta_of(kind):
    return BETA if kind == "adaptive" else 0.0


def operations_per_neuron_step(kind):
    """Arithmetic of one neuron's state update in one step, without its synaptic input.

    Multiply-accumulates: ``'adaptive'`` 4 (:math:`\\alpha u`, :math:`(1 - \\alpha) I`, :math:`\\rho b`,
    :math:`\\beta b`), ``'non-adaptive'`` 2 (:math:`\\alpha u`, :math:`(1 - \\alpha) I`; its threshold is
    constant), ``'lif'`` 1 (:math:`0.618 u`). Accumulates: the bias and the threshold comparison (2). A spike
    adds, per spiking neuron, the reset (1 accumulate) and, in the adaptive kinds, :math:`(1 - \\rho)` to the
    trace (1 more): :func:`operations_per_spike`.
    """
    if kind not in NEURON_KINDS:
        raise ValueError(f"unknown neuron kind {kind!r}; allowed: {', '.join(NEURON_KINDS)}")
    return {"macs": {"adaptive": 4, "non-adaptive": 2, "lif": 1}[kind], "accumulates": 2}


def operations_per_spike(kind):
    """Accumulates a spike costs its own neuron (reset; trace increment in the (non-)adaptive kinds)."""
    if kind not in NEURON_KINDS:
        raise ValueError(f"unknown neuron kind {kind!r}; allowed: {', '.join(NEURON_KINDS)}")
    return 1 if kind == "lif" else 2


def block_diagonal(n_pre, n_post, copies):
    """Pre and post indices of ``copies`` all-to-all blocks; synapse order: copy, post, pre (``W[post, pre]``)."""
    copy, post, pre = np.meshgrid(np.arange(copies), np.arange(n_post), np.arange(n_pre), indexing="ij")
    return (copy * n_pre + pre).ravel(), (copy * n_post + post).ravel()


class Brian2Srnn:
    """``batch`` copies of the network over ``n_steps`` steps, recording spikes and output membranes.

    Parameters
    ----------
    architecture : SrnnArchitecture
    batch : int
        Sequences simulated at once (independent copies of the network).
    n_steps : int
    record_hidden_membrane : bool
        Also record the hidden membranes (for checks).
    name : str
    """

    def __init__(self, architecture, batch, n_steps, record_hidden_membrane=False, name="srnn"):
        a = architecture
        self.architecture, self.batch, self.n_steps = a, int(batch), int(n_steps)
        self.inputs_array = b2.TimedArray(np.zeros((self.n_steps, self.batch * a.n_in)), dt=STEP,
                                          name=f"{name}_input_values")
        namespace = {"input_values": self.inputs_array, "b0": B0, "lif_decay": LIF_DECAY,
                     "lif_threshold": LIF_THRESHOLD}
        self.inputs = b2.NeuronGroup(self.batch * a.n_in, INPUT_EQS, dt=STEP, namespace=namespace,
                                     name=f"{name}_inputs")
        self.inputs.run_regularly("x = input_values(t, i)", when="start", order=0, name=f"{name}_read_inputs")
        self.hidden = self._layer(a.n_hidden, a.hidden_kind, namespace, f"{name}_hidden")
        self.output = self._layer(a.n_out, a.output_kind, namespace, f"{name}_output")
        self.syn_in = self._synapses(self.inputs, self.hidden, a.n_in, a.n_hidden, "I_in_post = w*x_pre : 1 (summed)",
                                     namespace, f"{name}_syn_in")
        self.syn_rec = self._synapses(self.hidden, self.hidden, a.n_hidden, a.n_hidden,
                                      "I_rec_post = w*s_pre : 1 (summed)", namespace, f"{name}_syn_rec")
        self.syn_out = self._synapses(self.hidden, self.output, a.n_hidden, a.n_out,
                                      "I_in_post = w*s_pre : 1 (summed)", namespace, f"{name}_syn_out")
        # order within a step: hidden inputs (last step's spikes), hidden update, output input, output update
        schedule(self.syn_in.summed_updaters["I_in_post"], "groups", 0)
        schedule(self.syn_rec.summed_updaters["I_rec_post"], "groups", 0)
        self.hidden.run_regularly(ALIF_STEP if a.hidden_kind != "lif" else LIF_STEP, when="groups", order=1,
                                  name=f"{name}_hidden_step")
        schedule(self.syn_out.summed_updaters["I_in_post"], "groups", 2)
        self.output.run_regularly(ALIF_STEP if a.output_kind != "lif" else LIF_STEP, when="groups", order=3,
                                  name=f"{name}_output_step")
        self.hidden_spikes = b2.SpikeMonitor(self.hidden, name=f"{name}_hidden_spikes")
        self.output_spikes = b2.SpikeMonitor(self.output, name=f"{name}_output_spikes")
        self.output_membrane = b2.StateMonitor(self.output, "u", record=True, when="groups", order=4,
                                               name=f"{name}_output_membrane")
        objects = [self.inputs, self.hidden, self.output, self.syn_in, self.syn_rec, self.syn_out,
                   self.hidden_spikes, self.output_spikes, self.output_membrane]
        self.hidden_membrane = None
        if record_hidden_membrane:
            self.hidden_membrane = b2.StateMonitor(self.hidden, "u", record=True, when="groups", order=4,
                                                   name=f"{name}_hidden_membrane")
            objects.append(self.hidden_membrane)
        self.network = b2.Network(*objects)

    def _layer(self, size, kind, namespace, name):
        # the threshold only turns s into spike events for the monitors; the step code resets
        layer = b2.NeuronGroup(self.batch * size, LAYER_EQS, threshold="s > 0.5", reset="", dt=STEP,
                               namespace=namespace, name=name)
        layer.b = B0
        return layer

    def _synapses(self, source, target, n_pre, n_post, summed, namespace, name):
        synapses = b2.Synapses(source, target, SYNAPSE_EQS + "\n" + summed, dt=STEP, namespace=namespace, name=name)
        pre, post = block_diagonal(n_pre, n_post, self.batch)
        synapses.connect(i=pre, j=post)
        return synapses

    def run(self):
        self.network.run(self.n_steps * STEP, namespace={})

    def state_variables(self):
        return {"w_in": (self.syn_in, "w"), "w_rec": (self.syn_rec, "w"), "w_out": (self.syn_out, "w"),
                "bias_h": (self.hidden, "bias"), "bias_o": (self.output, "bias"),
                "alpha_h": (self.hidden, "alpha"), "rho_h": (self.hidden, "rho"), "beta_h": (self.hidden, "beta"),
                "alpha_o": (self.output, "alpha"), "rho_o": (self.output, "rho"), "beta_o": (self.output, "beta")}

    def stimulus_arrays(self):
        return {"input_values": self.inputs_array}

    def values(self, params):
        """``run_args`` of the checked ``params``: every copy gets the same weights and constants."""
        a, copies = self.architecture, self.batch
        decay = decay_factors(params)

        def tiled(vector):
            return np.tile(vector, copies)

        return {"w_in": np.tile(params["w_in"].ravel(), copies), "w_rec": np.tile(params["w_rec"].ravel(), copies),
                "w_out": np.tile(params["w_out"].ravel(), copies), "bias_h": tiled(params["b_h"]),
                "bias_o": tiled(params["b_o"]), "alpha_h": tiled(decay["alpha_h"]), "rho_h": tiled(decay["rho_h"]),
                "beta_h": np.full(copies * a.n_hidden, beta_of(a.hidden_kind)), "alpha_o": tiled(decay["alpha_o"]),
                "rho_o": tiled(decay["rho_o"]), "beta_o": np.full(copies * a.n_out, beta_of(a.output_kind))}

    def stimuli(self, x):
        """``x`` (batch, n_steps, n_in) as the input ``TimedArray`` (row = step, column = copy * n_in + input)."""
        x = np.asarray(x, dtype=float)
        expected = (self.batch, self.n_steps, self.architecture.n_in)
        if x.shape != expected:
            raise ValueError(f"'x' must have shape (batch, n_steps, n_in) = {expected}, got {x.shape}")
        return {"input_values": np.ascontiguousarray(x.transpose(1, 0, 2).reshape(self.n_steps, -1))}

    def results(self):
        """Spikes (batch, n_steps, n) bool of both layers and the output membranes (batch, n_steps, n_out)."""
        a, steps = self.architecture, self.n_steps

        def raster(monitor, size):
            out = np.zeros((steps, self.batch * size), dtype=bool)
            step = np.rint(np.asarray(monitor.t / STEP)).astype(int)
            out[step, np.asarray(monitor.i, dtype=int)] = True
            return out.reshape(steps, self.batch, size).transpose(1, 0, 2)

        membrane = np.asarray(self.output_membrane.u, dtype=float).T.reshape(steps, self.batch, a.n_out)
        out = {"hidden_spikes": raster(self.hidden_spikes, a.n_hidden),
               "output_spikes": raster(self.output_spikes, a.n_out),
               "output_membrane": membrane.transpose(1, 0, 2).copy()}
        if self.hidden_membrane is not None:
            hidden = np.asarray(self.hidden_membrane.u, dtype=float).T.reshape(steps, self.batch, a.n_hidden)
            out["hidden_membrane"] = hidden.transpose(1, 0, 2).copy()
        return out
