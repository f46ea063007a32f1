"""Random-feedback local online learning (RFLO) of a leaky rate RNN, written as Brian2 code; BPTT in JAX.

Murray (2019), "Local online learning in recurrent networks with random feedback", eLife 8:e43299,
doi:10.7554/eLife.43299; notebook ``RFLO_Example.ipynb`` of github.com/murray-lab/rflo-learning.

Model (:mod:`brian2learn.models.rate_units`)
---------------------------------------------
A trial has ``T`` time points. At ``t = 0`` the state is ``h^0 = h0`` and the output is defined as 0
(the notebook's convention); each of the ``T - 1`` steps ``t = 1 .. T - 1`` computes

.. math::

    u^t = W^{rec} h^{t-1} + W^{in} x^t, \\quad h^t = h^{t-1} + (-h^{t-1} + \\tanh u^t)/\\tau,
    \\quad y^t = W^{out} h^t, \\quad \\varepsilon^t = y^{*t} - y^t

and the loss is :math:`L = \\frac{1}{2T}\\sum_{t=0}^{T-1}\\sum_k (\\varepsilon_k^t)^2` (with
:math:`\\varepsilon^0 = y^{*0}`; for one output, the notebook's ``0.5*mean(err**2)``).

RFLO
----
Eligibility traces, per synapse, from quantities at its two ends only:

.. math::

    p_{ij}^t = (1 - 1/\\tau) p_{ij}^{t-1} + \\phi'(u_i^t) h_j^{t-1}/\\tau, \\qquad
    q_{ik}^t = (1 - 1/\\tau) q_{ik}^{t-1} + \\phi'(u_i^t) x_k^t/\\tau

(zero at the start of a trial), and after the trial

.. math::

    \\Delta W^{rec}_{ij} = \\frac{\\eta_{rec}}{T}\\sum_t (B\\varepsilon^t)_i\\, p^t_{ij},\\quad
    \\Delta W^{in}_{ik} = \\frac{\\eta_{in}}{T}\\sum_t (B\\varepsilon^t)_i\\, q^t_{ik},\\quad
    \\Delta W^{out}_{ki} = \\frac{\\eta_{out}}{T}\\sum_t \\varepsilon^t_k h^t_i

with a fixed random feedback matrix ``B`` (n_rec, n_out). ``Delta W_out = -eta_out dL/dW_out`` is
the exact gradient step; with ``W_rec = 0`` and ``B = W_out^T`` the other two are exact as well
(no recurrent paths to drop), which the tests check against finite differences. ``q`` uses the
input that entered ``u^t`` (the notebook's trace for ``W_in`` lags the input by one step; its
input learning rate is 0).

In Brian2, each step runs in fixed slots: ``before_groups`` the inputs; ``groups`` the summed
inputs ``u_in``, ``u_rec`` (from ``h^{t-1}``), then the units; ``after_groups`` the summed output,
the readout's error and loss, the learning signal ``L_i = (B eps)_i`` (a summed variable to the
presynaptic side of the readout synapses), then the traces and gradient sums of the synapses.
At each trial boundary (a clock of one trial, slot ``start``): the trial's loss and ``W_out`` are
recorded, the weights take their update, traces, sums and states are reset. One ``network.run``
covers all trials of a run plus a closing step that applies the last update.

Augmented circuit
-----------------
:func:`augmented_circuit` adds upstream context units, one active per segment of the trial, whose learned
input weights let the RNN produce a long target as a concatenation of short patterns (our form of the
architecture Murray's abstract names; see the function).

BPTT
----
:func:`train_bptt` trains the same model by exact gradient descent, ``W <- W - eta dL/dW`` (JAX,
the optional extra ``bptt``; JAX is imported only there).
"""

import time
from dataclasses import dataclass, field, replace

import brian2 as b2
import numpy as np
import pandas as pd

from brian2learn.models import rate_units
from brian2learn.models.weight_levels import check_levels, held_code
from brian2learn.simulation.devices import STEP_DT, check_clock_lockstep, schedule
from brian2learn.simulation.files import checked_arrays

REC_SYNAPSE_EQS = """
w : 1                  # W_rec[post, pre]
p : 1                  # eligibility trace p_ij
grad : 1               # sum_t L_i p_ij of this trial
grad_sum : 1           # sum over the run's trials of grad/T (the updates' direction, for batch training)
eta : 1 (constant)     # learning rate
u_rec_post = w*h_pre : 1 (summed)
"""

IN_SYNAPSE_EQS = """
w : 1                  # W_in[post, pre]
q : 1                  # eligibility trace q_ik
grad : 1               # sum_t L_i q_ik of this trial
grad_sum : 1           # sum over the run's trials of grad/T
eta : 1 (constant)
u_in_post = w*x_pre : 1 (summed)
"""

OUT_SYNAPSE_EQS = """
w : 1                  # W_out[post, pre]
B : 1 (constant)       # feedback weight B[pre, post]
grad : 1               # sum_t eps_k h_i of this trial
grad_sum : 1           # sum over the run's trials of grad/T
eta : 1 (constant)
y_post = w*h_pre : 1 (summed)
L_pre = B*err_post : 1 (summed)
"""

REC_TRACE_STEP = """
p = (1 - 1/tau_post)*p + phi_prime_post*h_prev_pre/tau_post
grad += L_post*p
"""

IN_TRACE_STEP = """
q = (1 - 1/tau_post)*q + phi_prime_post*x_pre/tau_post
grad += L_post*q
"""

OUT_GRADIENT_STEP = "grad += err_post*h_pre"

#: The summed variable of each synapse group: what a discrete weight (``RfloConfig.weight_levels``) changes.
SUMMED = {"in": "u_in_post = w*x_pre", "rec": "u_rec_post = w*h_pre", "out": "y_post = w*h_pre"}


def synapse_equations(config, group, equations):
    """``equations`` of a synapse group with its summed variable using the held weight where the group has levels."""
    if not config.weight_levels or group not in config.weight_levels:
        return equations
    target, product = SUMMED[group].split(" = ")
    held = held_code("w", f"level_{group}", f"limit_{group}")
    return equations.replace(SUMMED[group], f"{target} = {held}*{product.split('*')[1]}")


TRIAL_UPDATE = """
grad_sum += trial_gate(t - trial_dt)*grad/n_points
w = w + trial_gate(t - trial_dt)*eta*grad/n_points
grad = 0
"""


@dataclass
class RfloConfig:
    """Structure and learning rates of an RFLO network.

    Parameters
    ----------
    n_in, n_rec, n_out : int
    n_points : int
        Time points ``T`` per trial (``T - 1`` steps after the initial state).
    tau : float
        Time constant in steps (> 1).
    learning_rates : tuple
        ``(eta_in, eta_rec, eta_out)``.
    dt : Quantity
        Length of a step (only counts steps); a power of two by default, see
        :func:`brian2learn.simulation.devices.check_clock_lockstep`.
    weight_levels : dict or None
        Discrete weights (the hardware axis): group (``'in'``, ``'rec'``, ``'out'``) -> ``(step, limit)``
        (:mod:`brian2learn.models.weight_levels`): the network's currents and readout use the weights of that group
        held at their levels, while ``w`` accumulates the updates at full precision (the eligibility traces hold no
        weight, so the rule is RFLO of the held network). None: full precision.
    """

    n_in: int
    n_rec: int
    n_out: int
    n_points: int
    tau: float = 10.0
    learning_rates: tuple = (0.0, 0.03, 0.03)
    dt: object = field(default_factory=lambda: STEP_DT)
    weight_levels: object = None

    def __post_init__(self):
        for name in ("n_in", "n_rec", "n_out", "n_points"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"'{name}' must be a positive integer, got {value!r}")
        if self.n_points < 2:
            raise ValueError(f"'n_points' must be at least 2, got {self.n_points}")
        if not (np.isfinite(self.tau) and self.tau >= 1):
            raise ValueError(f"'tau' must be a number of steps >= 1, got {self.tau!r}")
        rates = tuple(float(r) for r in self.learning_rates)
        if len(rates) != 3 or not all(np.isfinite(r) and r >= 0 for r in rates):
            raise ValueError(f"'learning_rates' must be three non-negative numbers (in, rec, out), "
                             f"got {self.learning_rates!r}")
        self.learning_rates = rates
        if not isinstance(self.dt, b2.Quantity) or not self.dt.has_same_dimensions(b2.second) or float(self.dt) <= 0:
            raise ValueError(f"'dt' must be a positive time (e.g. 1*ms), got {self.dt!r}")
        self.weight_levels = check_levels(self.weight_levels, SUMMED) or None

    @property
    def n_updates(self):
        return self.n_points - 1


def connectivity(config):
    """Pre/post indices of the input, recurrent (all-to-all, autapses included) and readout synapses.

    Synapse ``s`` of a group connects ``pre[s]`` to ``post[s]``; matrices are ``[post, pre]``
    and flatten row by row (``s = post * n_pre + pre``).
    """
    def full(n_pre, n_post):
        post, pre = np.meshgrid(np.arange(n_post), np.arange(n_pre), indexing="ij")
        return pre.ravel(), post.ravel()
    return {"in": full(config.n_in, config.n_rec), "rec": full(config.n_rec, config.n_rec),
            "out": full(config.n_rec, config.n_out)}


class RfloNetwork:
    """The Brian2 objects of an RFLO network for ``n_trials`` trials per run.

    Parameters
    ----------
    config : RfloConfig
    n_trials : int
    record_output : bool
        Record ``y`` and ``y_target`` in every step.
    record_traces : bool
        Record ``p``, ``q`` and ``L`` in every step (for tests; every synapse).
    name : str
    """

    def __init__(self, config, n_trials, record_output=True, record_traces=False, name="rflo"):
        if isinstance(n_trials, bool) or not isinstance(n_trials, (int, np.integer)) or n_trials < 1:
            raise ValueError(f"'n_trials' must be a positive integer, got {n_trials!r}")
        check_clock_lockstep(config.dt, config.n_updates, n_trials)
        self.config = config
        self.n_trials = int(n_trials)
        dt = config.dt
        self.dt = dt
        self.trial_duration = config.n_updates * dt
        trial_dt = self.trial_duration
        self.input_stimulus = b2.TimedArray(np.zeros((config.n_points, config.n_in)), dt=dt,
                                            name=f"{name}_input_stimulus")
        self.target_stimulus = b2.TimedArray(np.zeros((config.n_points, config.n_out)), dt=dt,
                                             name=f"{name}_target_stimulus")
        self.trial_gate = b2.TimedArray(np.ones(self.n_trials), dt=trial_dt, name=f"{name}_trial_gate")
        namespace = {"n_points": config.n_points, "n_updates": config.n_updates, "trial_dt": trial_dt,
                     "input_stimulus": self.input_stimulus, "target_stimulus": self.target_stimulus,
                     "trial_gate": self.trial_gate,
                     **{f"{kind}_{group}": value for group, (step, limit) in (config.weight_levels or {}).items()
                        for kind, value in (("level", step), ("limit", limit))}}
        self.namespace = namespace
        # Step s of a trial (0-based) computes time point s + 1.
        point = "((int(t/dt + 0.5)) % n_updates + 1)*dt"

        self.inputs = b2.NeuronGroup(config.n_in, rate_units.INPUT_EQS, dt=dt, namespace=namespace,
                                     name=f"{name}_inputs")
        self.inputs.run_regularly(f"x = input_stimulus({point}, i)", when="before_groups",
                                                   order=0, name=f"{name}_inputs_step")
        self.recurrent = b2.NeuronGroup(config.n_rec, rate_units.LEAKY_TANH_EQS + "L : 1  # (B eps)_i\n",
                                        dt=dt, namespace=namespace, name=f"{name}_recurrent")
        self.recurrent.tau = config.tau
        self.readout = b2.NeuronGroup(config.n_out, rate_units.LINEAR_READOUT_EQS, dt=dt, namespace=namespace,
                                      name=f"{name}_readout")
        conn = connectivity(config)
        self.connectivity = conn
        self.synapses_in = b2.Synapses(self.inputs, self.recurrent, synapse_equations(config, "in", IN_SYNAPSE_EQS),
                                       dt=dt, namespace=namespace, name=f"{name}_synapses_in")
        self.synapses_rec = b2.Synapses(self.recurrent, self.recurrent,
                                        synapse_equations(config, "rec", REC_SYNAPSE_EQS), dt=dt,
                                        namespace=namespace, name=f"{name}_synapses_rec")
        self.synapses_out = b2.Synapses(self.recurrent, self.readout, synapse_equations(config, "out", OUT_SYNAPSE_EQS),
                                        dt=dt, namespace=namespace, name=f"{name}_synapses_out")
        for syn, key in ((self.synapses_in, "in"), (self.synapses_rec, "rec"), (self.synapses_out, "out")):
            syn.connect(i=conn[key][0], j=conn[key][1])

        schedule(self.synapses_in.summed_updaters["u_in_post"], "groups", 0)
        schedule(self.synapses_rec.summed_updaters["u_rec_post"], "groups", 1)
        self.recurrent.run_regularly(rate_units.LEAKY_TANH_STEP, when="groups", order=2,
                                                     name=f"{name}_recurrent_step")
        schedule(self.synapses_out.summed_updaters["y_post"], "after_groups", 0)
        self.readout.run_regularly(
            rate_units.LINEAR_READOUT_STEP.format(target=f"target_stimulus({point}, i)"), when="after_groups",
            order=1, name=f"{name}_readout_step")
        schedule(self.synapses_out.summed_updaters["L_pre"], "after_groups", 2)
        self.synapses_rec.run_regularly(REC_TRACE_STEP, when="after_groups", order=3, name=f"{name}_rec_traces")
        self.synapses_in.run_regularly(IN_TRACE_STEP, when="after_groups", order=3, name=f"{name}_in_traces")
        self.synapses_out.run_regularly(OUT_GRADIENT_STEP, when="after_groups", order=3, name=f"{name}_out_gradient")

        # Trial boundary: the trial's loss (0), updates and reset of the traces (1), the updated W_out (2),
        # reset of the units (3).
        self.loss_monitor = b2.StateMonitor(self.readout, "loss", record=True, dt=trial_dt, when="start", order=0,
                                            name=f"{name}_loss_monitor")
        self.readout_weight_monitor = b2.StateMonitor(self.synapses_out, "w", record=True, dt=trial_dt,
                                                      when="start", order=2, name=f"{name}_readout_weights")
        for syn, reset in ((self.synapses_in, "q = 0"), (self.synapses_rec, "p = 0"), (self.synapses_out, "")):
            syn.run_regularly(TRIAL_UPDATE + reset, dt=trial_dt, when="start", order=1, name=f"{syn.name}_update")
        self.recurrent.run_regularly(rate_units.LEAKY_TANH_TRIAL_RESET, dt=trial_dt, when="start", order=3,
                                     name=f"{name}_recurrent_reset")
        self.readout.run_regularly("loss = target_stimulus(0*second, i)**2/(2*n_points)", dt=trial_dt, when="start",
                                   order=3, name=f"{name}_readout_reset")

        self.output_monitor = None
        if record_output:
            self.output_monitor = b2.StateMonitor(self.readout, ["y", "y_target"], record=True, when="end",
                                                  name=f"{name}_output")
        self.trace_monitors = {}
        if record_traces:
            self.trace_monitors = {
                "p": b2.StateMonitor(self.synapses_rec, "p", record=True, when="end", name=f"{name}_p_monitor"),
                "q": b2.StateMonitor(self.synapses_in, "q", record=True, when="end", name=f"{name}_q_monitor"),
                "L": b2.StateMonitor(self.recurrent, "L", record=True, when="end", name=f"{name}_L_monitor"),
                "h": b2.StateMonitor(self.recurrent, "h", record=True, when="end", name=f"{name}_h_monitor"),
            }
        objects = [self.inputs, self.recurrent, self.readout, self.synapses_in, self.synapses_rec, self.synapses_out,
                   self.loss_monitor, self.readout_weight_monitor, *self.trace_monitors.values()]
        if self.output_monitor is not None:
            objects.append(self.output_monitor)
        self.network = b2.Network(objects)


    def run(self):
        """All trials and one closing step, whose trial-boundary operations apply the last update."""
        self.network.run(self.n_trials * self.trial_duration + self.dt, namespace={})

    def state_variables(self):
        """``w_in``, ``w_rec``, ``w_out``, ``B``, ``h0``, ``eta_in``, ``eta_rec``, ``eta_out`` (synapse order)."""
        return {
            "w_in": (self.synapses_in, "w"), "w_rec": (self.synapses_rec, "w"), "w_out": (self.synapses_out, "w"),
            "B": (self.synapses_out, "B"), "h0": (self.recurrent, "h0"),
            "eta_in": (self.synapses_in, "eta"), "eta_rec": (self.synapses_rec, "eta"),
            "eta_out": (self.synapses_out, "eta"),
        }

    def stimulus_arrays(self):
        """``inputs`` (T, n_in), ``targets`` (T, n_out), ``trial_gate`` (n_trials,): 0 skips a trial's update."""
        return {"inputs": self.input_stimulus, "targets": self.target_stimulus, "trial_gate": self.trial_gate}


def initial_weights(config, seed, g=1.5, h0=0.1):
    """Initial weights of the authors' notebook, drawn from ``numpy.random.default_rng(seed)``.

    ``W_in = 0.1 (U(0,1) - 1)``, ``W_rec = g N(0,1)/sqrt(N)``, ``W_out = 0.1 (2 U(0,1) - 1)/sqrt(N)``,
    ``B = N(0,1)/sqrt(n_out)`` (n_rec, n_out), ``h0`` the same for every unit.
    """
    rng = np.random.default_rng(seed)
    n = config.n_rec
    w_in = 0.1 * (rng.random((n, config.n_in)) - 1.0)
    w_rec = g * rng.standard_normal((n, n)) / np.sqrt(n)
    w_out = 0.1 * (2 * rng.random((config.n_out, n)) - 1.0) / np.sqrt(n)
    feedback = rng.standard_normal((n, config.n_out)) / np.sqrt(config.n_out)
    return {"w_in": w_in, "w_rec": w_rec, "w_out": w_out, "B": feedback, "h0": np.full(n, float(h0))}


#: The augmented circuit's choices (ours, see :func:`augmented_circuit`): segment length in units of tau (the
#: longest period whose plain network RFLO trains to within 10x of BPTT, README's sweep), the standard deviation
#: of the context weights, and their learning rate (that of W_rec and W_out in Murray's notebook).
AUGMENTED_CIRCUIT = {"segment_tau": 20.0, "context_scale": 1.0, "eta_in": 0.03}


def augmented_circuit(config, weights, n_segments, seed, context_scale=AUGMENTED_CIRCUIT["context_scale"],
                      eta_in=AUGMENTED_CIRCUIT["eta_in"]):
    """The RNN of ``config``/``weights`` with ``n_segments`` upstream context units, one active per segment.

    Murray (2019) proposes "an augmented circuit architecture that allows the RNN to concatenate
    short-duration patterns into longer sequences" (abstract) for targets too long for RFLO. The paper's
    figure and Methods of that circuit could not be read here (only its abstract and the caption of Fig. 2
    are in the stored pages), so the form below is ours: a bank of ``K`` context units upstream of the RNN,
    unit ``k`` active (value 1) throughout segment ``k`` of the trial and silent otherwise
    (:func:`brian2learn.tasks.periodic_target.segment_contexts`), each projecting to every RNN unit through
    its own input weights, drawn as ``context_scale * N(0, 1)`` and learned by RFLO with rate ``eta_in``
    (the input eligibility traces ``q``). Each context selects a short pattern; stepping through the contexts
    concatenates them into the long target, so no learned trajectory has to bridge more than one segment.
    The RNN itself (``W_rec``, ``W_out``, ``B``, ``h0``) is the plain network's, unchanged, so that a sweep
    compares the two architectures on the same networks.

    Parameters
    ----------
    config : RfloConfig
        The plain network (any ``n_in``; its input weights are replaced).
    weights : dict
        Its initial weights (:func:`initial_weights`).
    n_segments : int
        Context units ``K``.
    seed : int
        Seed of the context weights (``numpy.random.default_rng((seed, 2019))``, separate from the RNN's).
    context_scale, eta_in : float

    Returns
    -------
    (RfloConfig, dict)
        The augmented configuration (``n_in = K``, learning rates ``(eta_in, eta_rec, eta_out)``) and weights.
    """
    if isinstance(n_segments, bool) or not isinstance(n_segments, (int, np.integer)) or n_segments < 1:
        raise ValueError(f"'n_segments' must be a positive integer, got {n_segments!r}")
    if not (np.isfinite(context_scale) and context_scale > 0):
        raise ValueError(f"'context_scale' must be a positive number, got {context_scale!r}")
    _, eta_rec, eta_out = config.learning_rates
    augmented = replace(config, n_in=int(n_segments), learning_rates=(float(eta_in), eta_rec, eta_out))
    rng = np.random.default_rng((int(seed), 2019))
    w_in = float(context_scale) * rng.standard_normal((config.n_rec, int(n_segments)))
    return augmented, {**check_weights(config, weights), "w_in": w_in}


def alignment_degrees(w_out, feedback):
    """Angle between ``vec(W_out)`` and ``vec(B^T)`` in degrees (0: aligned, 90: orthogonal)."""
    a = np.asarray(w_out, dtype=float).ravel()
    b = np.asarray(feedback, dtype=float).T.ravel()
    cosine = float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
    return float(np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0))))


def check_weights(config, weights):
    shapes = {"w_in": (config.n_rec, config.n_in), "w_rec": (config.n_rec, config.n_rec),
              "w_out": (config.n_out, config.n_rec), "B": (config.n_rec, config.n_out), "h0": (config.n_rec,)}
    return checked_arrays(weights, shapes, what="weights")


def check_task(config, task):
    inputs = np.asarray(task["inputs"], dtype=float)
    targets = np.asarray(task["targets"], dtype=float)
    if inputs.shape != (config.n_points, config.n_in):
        raise ValueError(f"'inputs' must have shape (n_points, n_in) = {(config.n_points, config.n_in)}, "
                         f"got {inputs.shape}")
    if targets.shape != (config.n_points, config.n_out):
        raise ValueError(f"'targets' must have shape (n_points, n_out) = {(config.n_points, config.n_out)}, "
                         f"got {targets.shape}")
    return inputs, targets


# -- BPTT (JAX) --------------------------------------------------------------------------------------------

def _jax():
    import jax

    jax.config.update("jax_enable_x64", True)
    return jax


def bptt_loss_and_gradients(weights, task, config):
    """Loss and exact gradients ``dL/dW_in``, ``dL/dW_rec``, ``dL/dW_out`` of one trial (JAX)."""
    jax = _jax()
    loss_fn = _make_loss(jax, config)
    w = check_weights(config, weights)
    inputs, targets = check_task(config, task)
    params = (jax.numpy.asarray(w["w_in"]), jax.numpy.asarray(w["w_rec"]), jax.numpy.asarray(w["w_out"]))
    loss, grads = jax.value_and_grad(loss_fn)(params, inputs, targets, w["h0"])
    return float(loss), {name: np.asarray(g) for name, g in zip(("w_in", "w_rec", "w_out"), grads)}


def _make_loss(jax, config):
    jnp = jax.numpy
    tau, n_points = float(config.tau), config.n_points

    def loss_fn(params, inputs, targets, h0):
        w_in, w_rec, w_out = params

        def step(h, x):
            u = w_rec @ h + w_in @ x
            h = h + (-h + jnp.tanh(u)) / tau
            return h, w_out @ h

        _, y = jax.lax.scan(step, jnp.asarray(h0), jnp.asarray(inputs)[1:])
        err = jnp.asarray(targets)[1:] - y
        return (jnp.sum(err ** 2) + jnp.sum(jnp.asarray(targets)[0] ** 2)) / (2.0 * n_points)

    return loss_fn


def train_bptt(weights, task, config, n_trials, learning_rates=None, clip_norm=None):
    """Gradient descent with exact BPTT gradients on the same model, one update per trial (JAX).

    ``clip_norm`` (None: no clipping) rescales the gradient of the trained weights (those with a non-zero
    learning rate), taken together as one vector, to at most that Euclidean norm before the step
    (Pascanu, Mikolov & Bengio 2013, ICML, "On the difficulty of training recurrent neural networks"):
    ``g <- g min(1, clip_norm/|g|)``. Over long trials of a chaotic network (g = 1.5) single gradients
    explode and plain gradient descent jumps away from the solutions it was approaching.

    Returns a dict: ``history`` (DataFrame: trial, loss, alignment_deg), ``weights`` (final
    ``w_in``, ``w_rec``, ``w_out``), ``output`` (the trained network's last trial), ``wall_seconds``.
    """
    jax = _jax()
    jnp = jax.numpy
    w = check_weights(config, weights)
    inputs, targets = check_task(config, task)
    rates = config.learning_rates if learning_rates is None else tuple(float(r) for r in learning_rates)
    if clip_norm is not None and (isinstance(clip_norm, bool) or not np.isfinite(clip_norm) or clip_norm <= 0):
        raise ValueError(f"'clip_norm' must be a positive number or None, got {clip_norm!r}")
    loss_fn = _make_loss(jax, config)
    value_and_grad = jax.value_and_grad(loss_fn)
    h0 = jnp.asarray(w["h0"])
    trained = tuple(rate != 0 for rate in rates)

    def train_step(params, _):
        loss, grads = value_and_grad(params, inputs, targets, h0)
        if clip_norm is not None:
            norm = jnp.sqrt(sum(jnp.sum(g ** 2) for g, on in zip(grads, trained) if on))
            scale = jnp.minimum(1.0, clip_norm / jnp.maximum(norm, 1e-300))
            grads = tuple(scale * g for g in grads)
        params = tuple(p - rate * g for p, rate, g in zip(params, rates, grads))
        return params, (loss, params[2])

    @jax.jit
    def train(params):
        return jax.lax.scan(train_step, params, None, length=n_trials)

    start = time.perf_counter()
    params = (jnp.asarray(w["w_in"]), jnp.asarray(w["w_rec"]), jnp.asarray(w["w_out"]))
    final, (losses, w_out_trace) = train(params)
    losses = np.asarray(losses)
    w_out_trace = np.asarray(w_out_trace)
    wall = time.perf_counter() - start
    alignment = [alignment_degrees(w_out_trace[k], w["B"]) for k in range(n_trials)]
    final = {name: np.asarray(value) for name, value in zip(("w_in", "w_rec", "w_out"), final)}
    forward = rate_units.leaky_tanh_forward(final["w_rec"], final["w_in"], final["w_out"], w["h0"], inputs[1:],
                                            config.tau)
    history = pd.DataFrame({"trial": np.arange(n_trials), "loss": losses, "alignment_deg": alignment})
    return {"history": history, "weights": final, "wall_seconds": wall,
            "output": {"t": np.arange(config.n_points), "y": forward["y"].T, "y_target": targets.T.copy()}}
