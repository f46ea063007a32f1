"""Pearlmutter's continuous-time RNN as Brian2 code, WP/NP-plastic: a trajectory learned by perturbation.

The network and its simulated system are those of :mod:`brian2learn.plasticity.ctbptt` (Pearlmutter 1989,
doi:10.1162/neco.1989.1.2.263): ``n`` units, the first ``n_out`` the outputs, explicit Euler on the grid
``t_n = n dt`` (``n = 0 .. N``),

.. math::

    y^{n+1} = y^n + \\frac{dt}{T}\\left(-y^n + \\sigma(x^n + \\xi^n)\\right), \\qquad x^n = W y^n + b,
    \\qquad E = dt \\sum_{n=0}^{N} \\tfrac12 \\sum_{k < n_{out}} m_k^n (y_k^n - d_k^n)^2,

with the rules of :mod:`brian2learn.plasticity.perturbation_network` (weight perturbation, Jabri & Flower 1991,
doi:10.1162/neco.1991.3.4.546; node perturbation ``xi`` of the units' net input, Fiete & Seung 2006,
doi:10.1103/PhysRevLett.97.048104; a recurrent network as in Züge, Klos & Memmesheimer 2023,
doi:10.1103/PhysRevX.13.021006). ``W`` and ``b`` are plastic (the bias is the weight from a unit that is always
on, as in Pearlmutter's paper); the time constants ``T`` and the initial state stay as given.

A trial is the window run twice from the same initial state: a reference pass (``xi = 0``, the weights
unperturbed) and a perturbed pass. The pass has ``N + 1`` steps; step ``n`` adds point ``n`` to the error and
then takes the Euler step, as :class:`~brian2learn.plasticity.ctbptt.CtrnnForward` does, so the reference pass's
error is the ``loss`` of the ctbptt forward network with the same parameters.

Brian2 schedule of a step: node perturbations (``before_groups``, order 5) and the eligibilities of both synapse
sets (order 7, with ``y^n``); the summed inputs (``groups``, 0); the error of point ``n`` and the Euler step
(``groups``, 1). A pass starts with ``y = y0`` (order 8 of the pass boundary).
"""

import brian2 as b2
import numpy as np

from brian2learn.plasticity.ctbptt import all_to_all, check_parameters, check_task
from brian2learn.plasticity.perturbation_network import (
    OUTPUT_EQS,
    PLASTIC_NEURON_EQS,
    PLASTIC_SYNAPSE_EQS,
    PerturbationLearning,
    PerturbationModel,
)

UNIT_EQS = PLASTIC_NEURON_EQS + OUTPUT_EQS + """
y : 1                          # activity y_i
y0 : 1 (constant)              # initial state, restored at every pass start
x_syn : 1                      # sum_j W_ij y_j (summed)
x_bias : 1                     # b_i: the weight from the constant unit (summed)
tau : second (constant)        # time constant T_i
"""

RECURRENT_EQS = PLASTIC_SYNAPSE_EQS + "x_syn_post = w_eff*y_pre : 1 (summed)\n"
BIAS_EQS = PLASTIC_SYNAPSE_EQS + "x_bias_post = w_eff*one_pre : 1 (summed)\n"

#: Point n's error (the error weight is 0 on hidden units), then the Euler step with the node perturbation.
UNIT_STEP = """
E += dt_seconds*error_weight({lookup}, i % n_units)*0.5*(y - target({lookup}, i % n_units))**2
y = y + dt/tau*(-y + 1/(1 + exp(-(x_syn + x_bias + pert))))
"""


def synapse_weights(params, n_learners=1, name="ctrnn"):
    """``w:{name}_recurrent`` (synapse ``l n^2 + s`` carries ``W[post[s], pre[s]]`` of learner ``l``, ``s`` in the
    order of :func:`~brian2learn.plasticity.ctbptt.all_to_all`) and ``w:{name}_bias`` (``b``), every learner from
    the same ``params``."""
    pre, post = all_to_all(len(params["b"]))
    return {f"w:{name}_recurrent": np.tile(np.asarray(params["w"], dtype=float)[post, pre], n_learners),
            f"w:{name}_bias": np.tile(np.asarray(params["b"], dtype=float), n_learners)}


def parameters_of(weights, n_units, learner=0, name="ctrnn"):
    """``w`` (n, n) and ``b`` (n,) of one learner from its synaptic weights (the inverse of
    :func:`synapse_weights`)."""
    pre, post = all_to_all(n_units)
    per_learner = n_units ** 2
    w = np.zeros((n_units, n_units))
    w[post, pre] = np.asarray(weights[f"w:{name}_recurrent"], dtype=float)[learner * per_learner:
                                                                           (learner + 1) * per_learner]
    b = np.asarray(weights[f"w:{name}_bias"], dtype=float)[learner * n_units:(learner + 1) * n_units]
    return {"w": w, "b": b.copy()}


def ctrnn_model(config, params, task, n_learners, n_trials, reference="unperturbed", name="ctrnn"):
    """Brian2 CTRNNs of ``n_learners`` learners with the time constants and initial state of ``params`` (of
    :func:`~brian2learn.plasticity.ctbptt.initial_parameters`) and the task's ``targets`` and ``error_weight``
    (:func:`~brian2learn.plasticity.ctbptt.check_task`; no drive). State variables ``w:{name}_recurrent`` and
    ``w:{name}_bias`` (:func:`synapse_weights`)."""
    params = check_parameters(config, params)
    arrays = check_task(config, task)
    if np.any(arrays["drive"] != 0):
        raise ValueError("'drive' must be absent or zero: the perturbation network has no input drive")
    n, points, dt = config.n_units, config.n_points, config.dt
    learning = PerturbationLearning(points, n_learners, n_trials, reference=reference, dt=dt, name=name)
    target = b2.TimedArray(arrays["target"], dt=dt, name=f"{name}_target")
    error_weight = b2.TimedArray(arrays["error_weight"], dt=dt, name=f"{name}_error_weight")
    namespace = {**learning.namespace, "target": target, "error_weight": error_weight, "n_units": n,
                 "dt_seconds": float(dt / b2.second)}
    units = b2.NeuronGroup(n_learners * n, UNIT_EQS, dt=dt, namespace=namespace, name=f"{name}_units")
    units.tau = np.tile(params["tau"], n_learners) * b2.second
    units.y0 = np.tile(params["y0"], n_learners)
    units.y = np.tile(params["y0"], n_learners)
    units.run_regularly(UNIT_STEP.format(lookup=learning.step_lookup), when="groups", order=1,
                        name=f"{name}_units_step")
    constant = b2.NeuronGroup(1, "one : 1", dt=dt, name=f"{name}_constant")
    constant.one = 1.0
    pre, post = all_to_all(n)
    offsets = np.repeat(np.arange(n_learners) * n, n * n)
    recurrent = b2.Synapses(units, units, RECURRENT_EQS, dt=dt, namespace=namespace, name=f"{name}_recurrent")
    recurrent.connect(i=np.tile(pre, n_learners) + offsets, j=np.tile(post, n_learners) + offsets)
    bias = b2.Synapses(constant, units, BIAS_EQS, dt=dt, namespace=namespace, name=f"{name}_bias")
    bias.connect(i=np.zeros(n_learners * n, dtype=int), j=np.arange(n_learners * n))
    for synapses, variable in ((recurrent, "x_syn_post"), (bias, "x_bias_post")):
        synapses.summed_updaters[variable].when = "groups"
        synapses.summed_updaters[variable].order = 0
    learner_of = np.repeat(np.arange(n_learners), n)
    learning.add_output(units, learner_of)
    learning.add_plastic(recurrent, learner_of, activity="y_pre", eligibility_when="before_groups",
                         eligibility_order=7)
    learning.add_plastic(bias, learner_of, activity="one_pre", eligibility_when="before_groups",
                         eligibility_order=7)
    learning.add_reset(units, "y = y0")
    return PerturbationModel(learning, [units, constant, recurrent, bias], units=units, recurrent=recurrent,
                             bias=bias, weight_names=(f"w:{recurrent.name}", f"w:{bias.name}"))
