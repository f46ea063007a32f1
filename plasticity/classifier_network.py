"""A classifier of logistic units (one hidden layer) as Brian2 code, WP/NP-plastic, trained minibatch by minibatch.

The network of :mod:`brian2learn.plasticity.feedforward` (Rumelhart, Hinton & Williams 1986),
``h = sigma(W_1 x + b_1)``, ``y = sigma(W_2 h + b_2)``, with its weights in Brian2 Synapses and the rules of
:mod:`brian2learn.plasticity.perturbation_network` (weight perturbation, Jabri & Flower 1991,
doi:10.1162/neco.1991.3.4.546; node perturbation, Fiete & Seung 2006, doi:10.1103/PhysRevLett.97.048104).
:mod:`brian2learn.plasticity.xor_network` is the same network on XOR's four fixed patterns; here every trial
presents a minibatch of a training set.

Protocol
--------
A trial is one minibatch of ``B`` examples, presented one per step in each of its two passes (the reference pass
unperturbed, then the perturbed pass), so both passes see the same examples. The output units accumulate the
minibatch's error

.. math::

    E = \\frac{1}{B} \\sum_{p=1}^{B} \\tfrac12 \\lVert y_p - d_p \\rVert^2,

the loss whose gradient :func:`brian2learn.plasticity.feedforward.train_epoch` descends, so that a learning rate
means the same for backprop and for WP/NP (``dw = eta (E_ref - E_pert) xi / sigma^2`` estimates
``-eta dE/dw``). The examples of a run's trials are the rows of two TimedArrays (:func:`minibatch_stimuli`): row
``k B + p`` is example ``p`` of the run's trial ``k``.

Brian2 schedule of a step: the inputs read their example (``before_groups``, order 0), node perturbations
(order 5), the summed hidden input (order 6) and eligibility of the first layer (order 7); the hidden units
(``groups``, 0), the summed output input (1), the outputs and ``E`` (2); eligibility of the second layer
(``after_groups``). The constant units (an input and a hidden one) carry the biases, so every parameter is a
weight of Brian2 Synapses.
"""

import brian2 as b2
import numpy as np

from brian2learn.plasticity.perturbation_network import (
    OUTPUT_EQS,
    PLASTIC_NEURON_EQS,
    PerturbationLearning,
    PerturbationModel,
)
from brian2learn.plasticity.xor_network import hidden_units, layer_synapses
from brian2learn.simulation.devices import STEP_DT

OUTPUT_UNIT_EQS = PLASTIC_NEURON_EQS + OUTPUT_EQS + """
y : 1                          # output
y_target : 1                   # target of this step
u : 1                          # summed input
"""


def _check_sizes(sizes):
    if len(sizes) != 3 or any(isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1 for n in sizes):
        raise ValueError(f"'sizes' must be three positive integers (inputs, hidden, outputs), got {sizes!r}")
    return tuple(int(n) for n in sizes)


def connectivity(n_learners, sizes):
    """Synapse order of the two layers (``N_i, N_h, N_o = sizes``).

    Layer 1: synapse ``(l N_h + j)(N_i + 1) + k`` from input ``k`` (the last is the constant 1) to hidden ``j`` of
    learner ``l`` (hidden unit ``l (N_h + 1) + j``; the last of each learner is its constant unit). Layer 2: synapse
    ``(l N_o + o)(N_h + 1) + j`` from hidden ``j`` to output ``o`` of learner ``l`` (output unit ``l N_o + o``).
    The weights reshape to (n_learners, N_h, N_i + 1) and (n_learners, N_o, N_h + 1): ``[W_1 | b_1]``,
    ``[W_2 | b_2]``.
    """
    n_in, n_hidden, n_out = _check_sizes(sizes)
    ll, jj, kk = np.meshgrid(np.arange(n_learners), np.arange(n_hidden), np.arange(n_in + 1), indexing="ij")
    layer1 = (kk.ravel(), (ll * (n_hidden + 1) + jj).ravel())
    ll, oo, jj = np.meshgrid(np.arange(n_learners), np.arange(n_out), np.arange(n_hidden + 1), indexing="ij")
    layer2 = ((ll * (n_hidden + 1) + jj).ravel(), (ll * n_out + oo).ravel())
    return {"layer1": layer1, "layer2": layer2}


def to_synapses(params):
    """The synaptic weights (layer 1, layer 2) of one network's ``params`` (``w1``, ``b1``, ``w2``, ``b2`` of
    :mod:`brian2learn.plasticity.feedforward`), in the order of :func:`connectivity`."""
    return (np.c_[params["w1"], params["b1"]].ravel(), np.c_[params["w2"], params["b2"]].ravel())


def from_synapses(layer1, layer2, sizes):
    """The ``params`` of one network from its synaptic weights (the inverse of :func:`to_synapses`)."""
    n_in, n_hidden, n_out = _check_sizes(sizes)
    w1 = np.asarray(layer1, dtype=float).reshape(n_hidden, n_in + 1)
    w2 = np.asarray(layer2, dtype=float).reshape(n_out, n_hidden + 1)
    return {"w1": w1[:, :-1].copy(), "b1": w1[:, -1].copy(), "w2": w2[:, :-1].copy(), "b2": w2[:, -1].copy()}


def minibatch_stimuli(inputs, targets, order, first_trial, n_trials, batch_size):
    """The TimedArray values of a run of ``n_trials`` trials from trial ``first_trial``.

    ``order`` lists example indices; trial ``m`` presents ``order[m B : (m + 1) B]`` (it must hold whole
    minibatches for every trial of the run, or fewer: the rest of the run repeats its last example, as trials
    past a training's end are not learned). Returns ``{"examples": (n_trials B, N_i + 1), "targets":
    (n_trials B, N_o)}``, the inputs with the constant 1 appended.
    """
    inputs, targets = np.asarray(inputs, dtype=float), np.asarray(targets, dtype=float)
    rows = np.asarray(order)[first_trial * batch_size:(first_trial + n_trials) * batch_size]
    if len(rows) == 0:
        raise ValueError(f"'order' has no example for trial {first_trial} (it holds {len(order)} examples)")
    rows = np.r_[rows, np.full(n_trials * batch_size - len(rows), rows[-1])]
    return {"examples": np.c_[inputs[rows], np.ones(len(rows))], "targets": targets[rows]}


def classifier_model(n_learners, n_trials, sizes, batch_size, reference="unperturbed", dt=STEP_DT, name="clf"):
    """Brian2 classifiers of ``n_learners`` learners (state variables ``w:{name}_layer1``, ``w:{name}_layer2``;
    stimulus arrays ``examples`` and ``targets``: :func:`minibatch_stimuli`).

    ``sizes``: inputs, hidden units, outputs; ``batch_size``: examples per pass (the steps ``T`` of a pass).
    """
    n_in, n_hidden, n_out = _check_sizes(sizes)
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"'batch_size' must be a positive integer, got {batch_size!r}")
    learning = PerturbationLearning(batch_size, n_learners, n_trials, reference=reference, dt=dt, name=name)
    n_rows = learning.n_trials * batch_size
    examples = b2.TimedArray(np.zeros((n_rows, n_in + 1)), dt=dt, name=f"{name}_examples")
    targets = b2.TimedArray(np.zeros((n_rows, n_out)), dt=dt, name=f"{name}_targets")
    namespace = {**learning.namespace, "clf_examples": examples, "clf_targets": targets, "n_out": n_out}
    # the row of this step: the trial's minibatch (both passes), then the step within the pass
    row = "((int(t/dt + 0.5) // (n_passes*n_steps))*n_steps + int(t/dt + 0.5) % n_steps)*dt"
    inputs = b2.NeuronGroup(n_in + 1, "x : 1", dt=dt, namespace=namespace, name=f"{name}_inputs")
    inputs.run_regularly(f"x = clf_examples({row}, i)", when="before_groups", order=0, name=f"{name}_inputs_step")
    hidden = hidden_units(n_learners, n_hidden, namespace, dt, name)
    output = b2.NeuronGroup(n_learners * n_out, OUTPUT_UNIT_EQS, dt=dt, namespace=namespace, name=f"{name}_output")
    output.run_regularly(f"""
    y = 1/(1 + exp(-(u + pert)))
    y_target = clf_targets({row}, i % n_out)
    E += (y - y_target)**2/(2*n_steps)
    """, when="groups", order=2, name=f"{name}_output_step")
    conn = connectivity(n_learners, sizes)
    layer1, layer2 = layer_synapses(inputs, hidden, output, conn, namespace, dt, name)
    learning.add_output(output, np.repeat(np.arange(n_learners), n_out))
    learning.add_plastic(layer1, np.repeat(np.arange(n_learners), n_hidden + 1), activity="x_pre",
                         eligibility_when="before_groups", eligibility_order=7)
    learning.add_plastic(layer2, np.repeat(np.arange(n_learners), n_out), activity="h_pre",
                         eligibility_when="after_groups")
    return PerturbationModel(learning, [inputs, hidden, output, layer1, layer2],
                             stimulus_arrays={"examples": examples, "targets": targets},
                             layer1=layer1, layer2=layer2, output=output, sizes=(n_in, n_hidden, n_out),
                             weight_names=(f"w:{layer1.name}", f"w:{layer2.name}"))
