"""The XOR network of Jabri & Flower (1991) as Brian2 code, WP/NP-plastic.

Jabri & Flower (1991), "Weight perturbation: an optimal architecture and learning technique for analog
VLSI feedforward and recurrent multilayer networks", Neural Comput 3:546, doi:10.1162/neco.1991.3.4.546:
a 2-2-1 network of sigmoid units (with biases) learns XOR by weight perturbation. The task (patterns,
targets, error and criterion) is :mod:`brian2learn.tasks.xor`; the rules are those of
:mod:`brian2learn.plasticity.perturbation_network`.

Network
-------
A pass presents the four patterns ``(x_1, x_2)`` of the task in four steps. In a step

.. math::

    h_j = \\sigma\\Big(\\sum_{k} W^{1}_{jk} \\tilde x_k\\Big), \\quad
    y = \\sigma\\Big(\\sum_{j} W^{2}_{j} \\tilde h_j\\Big), \\quad \\sigma(z) = 1/(1 + e^{-z}),

with ``x~ = (x_1, x_2, 1)`` and ``h~ = (h_1, h_2, 1)`` (the constant entries carry the biases, so the nine
parameters are all weights of Brian2 Synapses). The output neurons accumulate the task's error
``E = (1/2T) sum_p (y_p - y*_p)^2`` (``T = 4``) and the count ``correct`` of the patterns of a pass with
``|y_p - y*_p| < 0.5``.

Brian2 schedule of a step: the inputs read the pattern (``before_groups``, order 0), node perturbations
(order 5), the summed hidden input (order 6) and eligibility of the first layer (order 7); the hidden
units (``groups``, 0), the summed output input (1), the output, ``E`` and ``correct`` (2); eligibility of
the second layer (``after_groups``).
"""

import brian2 as b2
import numpy as np

from brian2learn.plasticity.perturbation_network import (
    OUTPUT_EQS,
    PLASTIC_NEURON_EQS,
    PLASTIC_SYNAPSE_EQS,
    PerturbationLearning,
    PerturbationModel,
)
from brian2learn.simulation.devices import STEP_DT
from brian2learn.tasks.xor import PATTERNS, TARGETS
from brian2learn.tasks.xor import error as task_error

N_HIDDEN = 2  # hidden sigmoid units (Jabri & Flower's 2-2-1 network)
#: WP and NP on the 2-2-1 network: learning rate and perturbation strength from a numpy scan of eta in {2, 5, 10,
#: 20}, sigma in {0.01, 0.05, 0.2} (the perturbation-spiking study), initial weights U(-0.5, 0.5).
JABRI_FLOWER_LEARNING = {"wp": {"eta": 5.0, "sigma": 0.05}, "np": {"eta": 5.0, "sigma": 0.05}}
JABRI_FLOWER_INIT_SCALE = 0.5
#: Their serial form (:func:`serial_weight_perturbation`), our choices: the learning rate from a scan of 5, 20, 50,
#: 100 (seeds 1-10, 3000 updates, targets 0.1/0.9: 0, 9, 1, 2 of 10 networks solved); the perturbation at full
#: precision; the range +-8 of the weights held at discrete levels (a scan of +-1, 4, 8 at 8 and 6 bits: 4/0, 7/8
#: and 10/10 of 10 solved; the 2-2-1 network needs weights of several units to bend its sigmoids into XOR).
JABRI_FLOWER_SERIAL = {"eta": 20.0, "perturbation": 0.05, "weight_range": 8.0}

HIDDEN_EQS = PLASTIC_NEURON_EQS + """
h : 1                          # activity (1 for the bias unit)
u : 1                          # summed input
is_bias : 1 (constant)         # 1 for the constant unit that carries the output's bias
"""

OUTPUT_UNIT_EQS = PLASTIC_NEURON_EQS + OUTPUT_EQS + """
y : 1                          # output
y_target : 1                   # target of this step
u : 1                          # summed input
correct : 1                    # patterns of this pass with |y - y*| < 0.5
"""

LAYER_SYNAPSE_EQS = PLASTIC_SYNAPSE_EQS + "u_post = w_eff*{activity}_pre : 1 (summed)\n"


def connectivity(n_learners, n_hidden=N_HIDDEN):
    """Synapse order of the two layers (``N_h = n_hidden``).

    Layer 1: synapse ``(l N_h + j) 3 + k`` from input ``k`` (x_1, x_2, 1) to hidden ``j`` of learner ``l``
    (hidden unit index ``l (N_h + 1) + j``). Layer 2: synapse ``l (N_h + 1) + j`` from hidden ``j`` (the
    last is the bias unit) to output ``l``. Weights reshape to (n_learners, N_h, 3) and (n_learners, N_h + 1).
    """
    ll, jj, kk = np.meshgrid(np.arange(n_learners), np.arange(n_hidden), np.arange(3), indexing="ij")
    layer1 = (kk.ravel(), (ll * (n_hidden + 1) + jj).ravel())
    ll, jj = np.meshgrid(np.arange(n_learners), np.arange(n_hidden + 1), indexing="ij")
    layer2 = ((ll * (n_hidden + 1) + jj).ravel(), ll.ravel())
    return {"layer1": layer1, "layer2": layer2}


def forward_numpy(w1, w2, patterns=PATTERNS):
    """Outputs (4,) of one network: ``w1`` (N_h, 3), ``w2`` (N_h + 1,), any ``N_h``."""
    inputs = np.c_[patterns, np.ones(len(patterns))]
    hidden = 1.0 / (1.0 + np.exp(-inputs @ np.asarray(w1).T))
    return 1.0 / (1.0 + np.exp(-np.c_[hidden, np.ones(len(patterns))] @ np.asarray(w2)))


def error_numpy(w1, w2):
    """``E = (1/2T) sum_p (y_p - y*_p)^2`` of one network (:func:`brian2learn.tasks.xor.error`)."""
    return task_error(forward_numpy(w1, w2))


def initial_weights(n_learners, seed, scale=1.0, n_hidden=N_HIDDEN):
    """``U(-scale, scale)`` weights of every learner, drawn from ``numpy.random.default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    return {"layer1": rng.uniform(-scale, scale, (n_learners, n_hidden, 3)),
            "layer2": rng.uniform(-scale, scale, (n_learners, n_hidden + 1))}


def serial_weight_perturbation(w1, w2, n_updates, eta, perturbation, targets=TARGETS, realised=None, first=0):
    """Jabri & Flower's weight perturbation in its serial form, in numpy: one weight at a time.

    Update ``u`` perturbs weight ``k = (first + u) mod K`` (the ``K = 4 N_h + 1`` weights in the order of ``w1`` then
    ``w2``) of the network the hardware runs, ``v = realised(w)`` (default ``v = w``), by ``perturbation`` and
    changes the stored weight by :math:`\\Delta w_k = -\\eta\\,[E(v + p e_k) - E(v)]/p`, ``E`` the task's error
    (:func:`brian2learn.tasks.xor.error` with ``targets``). With weights held at discrete levels, ``realised``
    rounds them and ``p`` is one level; the stored weights accumulate the updates at full precision.

    Returns the final stored ``(w1, w2)`` and the error ``E(v)`` before every update (``n_updates``,).
    """
    w1, w2 = np.array(w1, dtype=float), np.array(w2, dtype=float)
    targets = np.asarray(targets, dtype=float)
    realised = realised or (lambda a, b: (a, b))
    n1 = w1.size
    errors = np.empty(int(n_updates))

    def error_of(a, b):
        return 0.5 * float(np.mean((forward_numpy(a, b) - targets) ** 2))

    for update in range(int(n_updates)):
        k = (first + update) % (n1 + w2.size)
        v1, v2 = realised(w1, w2)
        base = error_of(v1, v2)
        p1, p2 = v1.copy(), v2.copy()
        if k < n1:
            p1.flat[k] += perturbation
        else:
            p2.flat[k - n1] += perturbation
        step = -eta * (error_of(p1, p2) - base) / perturbation
        if k < n1:
            w1.flat[k] += step
        else:
            w2.flat[k - n1] += step
        errors[update] = base
    return w1, w2, errors


def hidden_units(n_learners, n_hidden, namespace, dt, name):
    """The hidden layer of a network of this schedule: ``n_hidden`` logistic units and a constant unit (the next
    layer's bias) per learner, updated in ``groups`` order 0 (NeuronGroup ``{name}_hidden``)."""
    hidden = b2.NeuronGroup(n_learners * (n_hidden + 1), HIDDEN_EQS, dt=dt, namespace=namespace,
                            name=f"{name}_hidden")
    is_bias = np.tile(np.r_[np.zeros(n_hidden), 1.0], n_learners)
    hidden.is_bias = is_bias
    hidden.h = is_bias
    hidden.run_regularly("h = is_bias + (1 - is_bias)/(1 + exp(-(u + pert)))", when="groups", order=0,
                         name=f"{name}_hidden_step")
    return hidden


def layer_synapses(inputs, hidden, output, conn, namespace, dt, name):
    """The two plastic layers of a network of this schedule: Synapses ``{name}_layer1`` (inputs to hidden units,
    activity ``x``) and ``{name}_layer2`` (hidden to output units, activity ``h``) connected as ``conn``, their summed
    inputs ``u`` in the slots of the module's schedule (``before_groups`` order 6 and ``groups`` order 1)."""
    layer1 = b2.Synapses(inputs, hidden, LAYER_SYNAPSE_EQS.format(activity="x"), dt=dt, namespace=namespace,
                         name=f"{name}_layer1")
    layer1.connect(i=conn["layer1"][0], j=conn["layer1"][1])
    layer2 = b2.Synapses(hidden, output, LAYER_SYNAPSE_EQS.format(activity="h"), dt=dt, namespace=namespace,
                         name=f"{name}_layer2")
    layer2.connect(i=conn["layer2"][0], j=conn["layer2"][1])
    layer1.summed_updaters["u_post"].when = "before_groups"
    layer1.summed_updaters["u_post"].order = 6
    layer2.summed_updaters["u_post"].when = "groups"
    layer2.summed_updaters["u_post"].order = 1
    return layer1, layer2


def xor_model(n_learners, n_trials, reference="unperturbed", dt=STEP_DT, name="xor", n_hidden=N_HIDDEN,
              targets=TARGETS):
    """Brian2 XOR networks of ``n_learners`` learners (state variables ``w:{name}_layer1``, ``w:{name}_layer2``).

    ``n_hidden`` hidden units (Jabri & Flower: 2); ``targets`` of the four patterns of
    :data:`~brian2learn.tasks.xor.PATTERNS` (default 0/1; the error and the ``correct`` count use them).
    """
    targets = np.asarray(targets, dtype=float)
    if targets.shape != TARGETS.shape:
        raise ValueError(f"'targets' must hold one value per pattern ({len(TARGETS)}), got shape {targets.shape}")
    if not isinstance(n_hidden, (int, np.integer)) or n_hidden < 1:
        raise ValueError(f"'n_hidden' must be a positive integer, got {n_hidden!r}")
    n_steps = len(targets)
    learning = PerturbationLearning(n_steps, n_learners, n_trials, reference=reference, dt=dt, name=name)
    stimulus = b2.TimedArray(np.c_[PATTERNS, np.ones(n_steps)], dt=dt, name=f"{name}_patterns")
    target = b2.TimedArray(targets, dt=dt, name=f"{name}_targets")
    namespace = {**learning.namespace, "xor_patterns": stimulus, "xor_targets": target}
    lookup = learning.step_lookup
    inputs = b2.NeuronGroup(3, "x : 1", dt=dt, namespace=namespace, name=f"{name}_inputs")
    inputs.run_regularly(f"x = xor_patterns({lookup}, i)", when="before_groups", order=0,
                         name=f"{name}_inputs_step")
    hidden = hidden_units(n_learners, n_hidden, namespace, dt, name)
    output = b2.NeuronGroup(n_learners, OUTPUT_UNIT_EQS, dt=dt, namespace=namespace, name=f"{name}_output")
    output.run_regularly(f"""
    y = 1/(1 + exp(-(u + pert)))
    y_target = xor_targets({lookup})
    E += (y - y_target)**2/(2*n_steps)
    correct += int(abs(y - y_target) < 0.5)
    """, when="groups", order=2, name=f"{name}_output_step")
    conn = connectivity(n_learners, n_hidden)
    layer1, layer2 = layer_synapses(inputs, hidden, output, conn, namespace, dt, name)
    learning.add_output(output, np.arange(n_learners), metrics=("correct",))
    learning.add_plastic(layer1, np.repeat(np.arange(n_learners), n_hidden + 1), activity="x_pre",
                         eligibility_when="before_groups", eligibility_order=7)
    learning.add_plastic(layer2, np.arange(n_learners), activity="h_pre", eligibility_when="after_groups")
    return PerturbationModel(learning, [inputs, hidden, output, layer1, layer2],
                             layer1=layer1, layer2=layer2, output=output,
                             weight_names=(f"w:{layer1.name}", f"w:{layer2.name}"))
