"""The arena's built-in tasks and rules, registered with :mod:`brian2learn.studies.arena_registry`.

Each registration below is the same call a user makes for a rule or task of their own. So far the
arena holds seven tasks:

- ``xor`` (rate and rate-coded spiking form): the four XOR patterns, targets 0.1/0.9
  (:func:`brian2learn.tasks.parity.parity_task`); every rule trains a 2-8-1 network; there is no held-out data in a
  task of four patterns, so the test (and validation) split is the four patterns themselves (the rate-coded form:
  32 fresh trials of each), scored by accuracy (an output on the right side of 0.5) after training. Criterion:
  accuracy 1.
- ``circle`` (rate and spiking form): Pearlmutter's (1989) circle, radius 0.3, period 4 s, a window of three
  periods on a grid of 1/16 s (:func:`brian2learn.tasks.trajectories.trajectory_task`; the pearlmutter-trajectories
  study's settings); every rule trains 12 units (for the continuous-time network, its first two units are the
  outputs; for RFLO's leaky tanh network, a linear readout of its 12 units, since RFLO's learning signal needs one),
  from a fixed initial state; the score is the RMS error over the window (the one trial there is); criterion 0.03
  (10 % of the radius). The spiking form (:data:`CIRCLE_SPIKING`) runs the same window in steps of 1 ms: 12 LIF
  neurons and two leaky readouts of the pattern task's kind, driven by 100 frozen Poisson inputs whose spikes repeat
  every period (:func:`brian2learn.tasks.trajectories.spiking_trajectory_task`; quick: a period of 0.2 s, 20
  inputs), scored like the pattern by the RMS error of the last training trial.
- ``pattern`` (spiking form): Bellec et al. (2020, Nat Commun 11:3625, Fig. S7) pattern generation, 100
  frozen Poisson inputs at 50 Hz, 100 LIF neurons, a leaky readout producing a sum of four sines over 1000
  steps of 1 ms (quick: 20 inputs, 20 LIF, 200 steps) (:func:`brian2learn.tasks.pattern_generation.
  pattern_generation_task`); the task is one fixed trial, so the score is the loss of the last training
  trial (the network as trained, on the only trial there is). Criterion: loss 5 (the target of random
  e-prop in the eprop-pattern study).
- ``digits`` (rate and first-spike form): scikit-learn's 8x8 digits, the shared split of :mod:`brian2learn.tasks.
  digits` (1438 training and 359 test images; the validation split is 20 % of each class of the training images),
  targets 0.1/0.9, a 64-64-10 network for every rule, minibatches of 20 (quick: the first 200 training images);
  accuracy of the largest output (first-spike form: of the first output to fire; rate-coded form: of the readout
  with the largest sum over the trial's last 50 ms) on the held-out images after each epoch. The first-spike form
  codes each pixel as one spike, brighter earlier, and adds a bias spike (:data:`DIGITS_TTFS_SIZES`); the
  rate-coded form as Poisson spikes of 100 ms with a bias channel (:data:`RATE_CODED`). Criterion: accuracy 0.9.
- ``yinyang`` (spiking, rate-coded spiking and rate form; the rate-coded form as the digits'): Kriener et al.'s (2021)
  Yin-Yang splits (5000 training, 1000 validation, 1000 test samples; :mod:`brian2learn.tasks.yinyang`), quick: the
  first 500 training samples. Spiking form: Göltz et al.'s (2021) first-spike code (4 input times and a bias spike, 120
  hidden and 3 output neurons that fire at most once; the class of the first output spike). Rate form: the features (x,
  y, 1-x, 1-y) into 4-120-3 units with biases, targets 0.1/0.9, the class of the largest output. Criterion: accuracy
  0.9.
- ``evidence`` (spiking form): Bellec et al.'s (2020, Fig. 3) evidence accumulation (:mod:`brian2learn.tasks.
  evidence_accumulation`; the network, learning and initialization of :func:`brian2learn.plasticity.eprop.
  evidence_accumulation_config`): 40 inputs, 50 LIF and 50 ALIF neurons, 2 readouts, fresh training trials in
  batches of 32 (quick: 8); the score is the accuracy of the side reported on 128 held-out trials (quick: 16) of the
  split's own trial stream. Criterion: accuracy 0.9 (the eprop-evidence study's test target).
- ``evidence-reward`` (spiking form): the same trials learned from a reward of 1 for the correct side and nothing
  else (:class:`brian2learn.tasks.evidence_accumulation.CueChoice`); the score is the accuracy of the greedy choice
  on 256 held-out trials (quick: 10). Only reward-based rules have a cell here.

The precision axis (``--bits``): the cells of every rule also run with their
weights held at signed discrete levels (:mod:`brian2learn.models.weight_levels`; each layer's largest initial |w|
exactly on level 2**(bits - 2), a range of about +-2 times it: :func:`~brian2learn.studies.arena_registry.
layer_levels`; Jabri & Flower's row over their own +-8), the updates accumulated at full precision and taken at the held
weights (straight-through; WP perturbs the held weights by one level). Backprop and the contrastive rules
(``ContrastiveConfig.weight_levels``) on XOR, digits and Yin-Yang; BPTT (:func:`brian2learn.plasticity.bptt.
held_at_levels`) and e-prop (``EpropConfig.weight_levels``) on pattern, evidence, XOR, the digits and Yin-Yang (e-prop
also on the spiking circle); BPTT and ctbptt on the circle (W with the biases) and RFLO (``RfloConfig.weight_levels``);
the adaptive SRNN on evidence, the digits and Yin-Yang; WP and NP on XOR, the digits, Yin-Yang and the circle (in
Brian2; one set of levels for the network), on pattern and evidence and from reward (in JAX, the e-prop cells' levels),
and reward-based e-prop (``RewardEpropConfig.weight_levels``); TTFS on Yin-Yang and the digits.

Rules and their values (each cell uses the value stated in :data:`HYPERPARAMETERS`, with its source, times the
cell's learning-rate factor: 1, or the factor the arena's tuning chose on the validation split):

- ``chl``, ``ep``, ``ep-symmetric``: contrastive Hebbian learning and equilibrium propagation on the settling
  network (:mod:`brian2learn.plasticity.contrastive`), full batch on XOR, minibatches of 20 on the digits and
  Yin-Yang (the digits' settling protocol and rates on both: :data:`brian2learn.plasticity.contrastive.
  DIGITS_PROTOCOL`).
- ``eprop-random``, ``eprop-symmetric``, ``eprop-adaptive``: e-prop with random, symmetric and adaptive
  feedback (:mod:`brian2learn.plasticity.eprop`; Bellec et al. 2020); on the digits and Yin-Yang in their rate-coded
  form, and on XOR's (one readout), with the evidence task's learning and LIF neurons.
- ``bptt``: the exact gradient of the task's network: BPTT with the pseudo-derivative in JAX on the spiking
  network (:mod:`brian2learn.plasticity.bptt`), backpropagation on the rate network (the feed-forward network
  of the same layer sizes, :mod:`brian2learn.plasticity.feedforward`), discrete BPTT of the continuous-time
  network in JAX (:func:`brian2learn.plasticity.ctbptt.train_jax`), Adam as the ctbptt rule's.
- ``bptt-srnn``: BPTT with a surrogate gradient of Yin, Corradi & Bohté's (2021) adaptive SRNN (adaptive hidden and
  output neurons, learned time constants, the hidden adaptation starting at the task network's ALIF tau_a;
  :mod:`brian2learn.plasticity.srnn_bptt`) on the evidence trials, their framewise softmax loss over the decision
  window, the ECG script's Adam rate; on the rate-coded digits and Yin-Yang with the ECG script's initial time
  constants.
- ``ctbptt``: Pearlmutter's continuous-time BPTT, his adjoint as Brian2 code (:mod:`brian2learn.plasticity.
  ctbptt`, continuous flavour), Adam on W, b and log T.
- ``rflo``: Murray's (2019) random-feedback local online learning (:mod:`brian2learn.plasticity.rflo`).
- ``wp``, ``np``: weight and node perturbation (Jabri & Flower 1991; Fiete & Seung 2006). On XOR, of the
  network's weights held in Brian2 Synapses (:func:`brian2learn.plasticity.xor_network.xor_model` with 8 hidden
  units and the task's targets), a reference and a perturbed pass per update, Jabri & Flower's values from the
  perturbation-spiking study's scan on their 2-2-1 network. On the digits and Yin-Yang, of the backprop cell's
  network, initial weights and minibatches in Brian2 Synapses (:mod:`brian2learn.plasticity.classifier_network`),
  a reference and a perturbed pass per minibatch, backprop's rate divided by the square root of the noise
  dimension (updates of backprop's size in expectation). On the circle, of the ctbptt cell's CTRNN
  (:mod:`brian2learn.plasticity.ctrnn_network`; W and b, the time constants fixed), the window run as a reference
  and a perturbed pass per update, plain gradient descent's rate divided in the same way. On pattern and evidence,
  of the e-prop cells' network in JAX (:mod:`brian2learn.plasticity.reward_perturbation` with minus each trial's
  task loss as its reward), 5 % perturbations, the BPTT cell's optimizer and rate. On evidence-reward, of
  the e-prop cells' LIF/ALIF network in JAX from the reward of its greedy choice alone
  (:mod:`brian2learn.plasticity.reward_perturbation`), each trial run unperturbed and perturbed, Adam.
- ``wp-jabri-flower``: Jabri & Flower's serial weight perturbation on their own 2-2-1 network (a row of its own,
  not the task's 2-8-1), in numpy (:func:`brian2learn.plasticity.xor_network.serial_weight_perturbation`).
- ``eprop-reward``: reward-based e-prop, an actor-critic of the same LIF/ALIF network with random feedback and one
  online update per trial (:func:`brian2learn.plasticity.eprop_reward.evidence_accumulation_config`).
- ``ttfs``: Göltz, Kriener et al.'s (2021) exact spike-time gradients of the first-spike network, its forward pass
  in closed form, Adam with their settings (:class:`brian2learn.plasticity.ttfs.TTFSConfig`); on the digits their
  Yin-Yang initial weights scaled by the fan-in.
"""

import dataclasses
import math
import os
import time

import brian2 as b2
import numpy as np
import pandas as pd

from brian2learn.models import eprop_neurons
from brian2learn.models.eprop_neurons import BELLEC2020_PATTERN_GENERATION
from brian2learn.models.weight_levels import held as held_values
from brian2learn.plasticity import contrastive as cl
from brian2learn.plasticity import eprop, eprop_reward, feedforward, ttfs
from brian2learn.plasticity.xor_network import JABRI_FLOWER_LEARNING, JABRI_FLOWER_SERIAL
from brian2learn.studies.arena_registry import (
    ArenaRule,
    ArenaTask,
    CellResult,
    layer_levels,
    register_rule,
    register_task,
)
from brian2learn.tasks import yinyang
from brian2learn.tasks.digits import load_digits_split, validation_split
from brian2learn.tasks.evidence_accumulation import (
    CueChoice,
    cue_choice_stimuli,
    decision_error,
    evidence_accumulation_trials,
    trial_length,
)
from brian2learn.tasks.parity import parity_task
from brian2learn.tasks.pattern_generation import pattern_generation_task
from brian2learn.tasks.trajectories import PEARLMUTTER_TRAJECTORY, spiking_trajectory_task, trajectory_task
from brian2learn.training.contrastive import ContrastiveTrainer, accuracy
from brian2learn.training.eprop import EpropTrainer
from brian2learn.training.eprop_reward import RewardEpropTrainer
from brian2learn.training.ttfs import TTFSTrainer

# -- tasks -----------------------------------------------------------------------------------------------------

XOR = register_task(ArenaTask(
    name="xor", description="XOR of two bits, targets 0.1/0.9 (rate form; tasks.parity; rate-coded spiking form: "
                            "32 fresh trials of each pattern held out, tasks.rate_coding)", metric="accuracy",
    criterion=1.0, budget={"quick": 800, "full": 12_000}, wall_cap_seconds={"quick": 120, "full": 1200},
    network={"quick": "2-8-1", "full": "2-8-1"}))

CIRCLE = register_task(ArenaTask(
    name="circle", description="Pearlmutter's circle, 3 periods of 4 s, loss: the RMS error over the window "
                               "(rate form; tasks.trajectories; spiking form: steps of 1 ms, a frozen Poisson clock "
                               "repeated every period, tasks.trajectories.spiking_trajectory_task)",
    metric="loss", criterion=0.03, budget={"quick": 20, "full": 3000}, wall_cap_seconds={"quick": 120, "full": 1800},
    network={"quick": "12 units (spiking: 20 inputs, 12 LIF, 2 readouts, 600 steps)",
             "full": "12 units (spiking: 100 inputs, 12 LIF, 2 readouts, 12000 steps)"}))

PATTERN = register_task(ArenaTask(
    name="pattern", description="four-sine pattern generation, Bellec et al. 2020 Fig. S7, loss: Bellec's "
                                "squared error of the trial (spiking form; tasks.pattern_generation)",
    metric="loss", criterion=5.0, budget={"quick": 40, "full": 2000}, wall_cap_seconds={"quick": 120, "full": 1800},
    network={"quick": "20 inputs, 20 LIF, 200 steps", "full": "100 inputs, 100 LIF, 1000 steps"}))

DIGITS = register_task(ArenaTask(
    name="digits", description="scikit-learn's 8x8 digits, the shared stratified split (1438 training, 359 test "
                               "images; validation: 20 % of each class of the training images), accuracy of the "
                               "largest output (rate form; tasks.digits), of the first output to fire (first-"
                               "spike form) or of the readout with the largest sum over the last 50 ms (rate-coded "
                               "spiking form, tasks.rate_coding)",
    metric="accuracy", criterion=0.9, budget={"quick": 400, "full": 35_500},
    wall_cap_seconds={"quick": 120, "full": 1800},
    network={"quick": "64-64-10, 200 training images", "full": "64-64-10"}))

YINYANG = register_task(ArenaTask(
    name="yinyang", description="Yin-Yang, Kriener et al. 2021's splits (5000 training, 1000 validation, 1000 test "
                                "samples), accuracy (spiking form: the first output to fire; rate form: the largest "
                                "output; tasks.yinyang; rate-coded spiking form as the digits')",
    metric="accuracy", criterion=0.9, budget={"quick": 1000, "full": 100_000},
    wall_cap_seconds={"quick": 120, "full": 400},
    network={"quick": "4 (+ bias) - 120 - 3, 500 training samples", "full": "4 (+ bias) - 120 - 3"}))

EVIDENCE = register_task(ArenaTask(
    name="evidence", description="evidence accumulation, Bellec et al. 2020 Fig. 3: seven cues left or right, a "
                                 "delay, a recall cue; accuracy of the side reported (the readout with the larger "
                                 "mean over the recall window) on held-out trials (spiking form; "
                                 "tasks.evidence_accumulation)",
    metric="accuracy", criterion=0.9, budget={"quick": 32, "full": 8192},
    wall_cap_seconds={"quick": 120, "full": 900},
    network={"quick": "40 inputs, 50 LIF + 50 ALIF, 2 readouts, batches of 8",
             "full": "40 inputs, 50 LIF + 50 ALIF, 2 readouts, batches of 32"}))
#: Batch size, iterations per binary run (the held-out trials are one run's trials: runs x batch) and iterations
#: between two scorings of the held-out trials, per mode.
EVIDENCE_PROTOCOL = {"quick": {"batch_size": 8, "iterations_per_run": 2, "score_every": 2},
                     "full": {"batch_size": 32, "iterations_per_run": 4, "score_every": 32}}
EVIDENCE_REWARD = register_task(ArenaTask(
    name="evidence-reward", description="the evidence-accumulation task learned from a reward of 1 for the correct "
                                        "side at the end of each trial and nothing else (no target); accuracy of "
                                        "the greedy choice on held-out trials (spiking form; "
                                        "tasks.evidence_accumulation.CueChoice)",
    metric="accuracy", criterion=0.9, budget={"quick": 20, "full": 8192},
    wall_cap_seconds={"quick": 120, "full": 900},
    network={"quick": "40 inputs, 50 LIF + 50 ALIF, 2 policy readouts and a value readout",
             "full": "40 inputs, 50 LIF + 50 ALIF, 2 policy readouts and a value readout"}))
#: Trials per binary run, held-out trials and trials between two scorings of the reward task, per mode.
REWARD_PROTOCOL = {"quick": {"trials_per_run": 10, "held_out": 10, "score_every": 10},
                   "full": {"trials_per_run": 64, "held_out": 256, "score_every": 1024}}
#: The adaptive SRNN of the evidence task: Yin et al.'s (2021) neurons, adaptive in both layers (the memory the task
#: needs), the ECG script's Adam rate and surrogate (plasticity.srnn_bptt); 100 hidden neurons as the LIF/ALIF network,
#: their adaptation time constant starting at that network's ALIF tau_a (2 s, in steps of 1 ms). With the ECG
#: script's 7 steps the network stayed at chance on this 2-s memory task (tuning seed 101: validation accuracy 0.53
#: at each of the three rates, a constant choice; seed 1: training loss ln 2 after 1536 trials), with 2000 steps it
#: reached 0.73 after 2304 trials (seed 1, validation).
EVIDENCE_SRNN = {"hidden_kind": "adaptive", "output_kind": "adaptive", "learning_rate": 1e-2,
                 "surrogate": "multi-gaussian", "learn_tau": True,
                 "tau_init": {"tau_adp_h": float(eprop_neurons.BELLEC2020_EVIDENCE_ACCUMULATION["tau_a"]
                                                 / eprop_neurons.BELLEC2020_EVIDENCE_ACCUMULATION["dt"])}}
#: Weight and node perturbation on the reward-only evidence task (plasticity.reward_perturbation): batches of 32
#: trials (one update each, a reference and a perturbed pass per trial), Adam at its default rate. None is published
#: for this task: the perturbation sizes are ours, those at which a perturbation changes the reward of about one
#: trial in five of the untrained network (seed 1, its first 96 training trials: WP 0.5 changes 9 %, 1.0 18 %; NP
#: 0.05 V with readout noise 0.5 changes 21 %, with 1.0 30 %).
REWARD_PERTURBATION = {"batch_size": {"quick": 4, "full": 32}, "learning_rate": 1e-3, "weight_sigma": 1.0,
                       "current_sigma": 0.05, "readout_sigma": 0.5}
#: Independent trial streams of a seed (those of the eprop-evidence study).
EVIDENCE_STREAMS = {"train": 0, "validation": 1, "test": 2}

#: The rate-coded spiking form of the digits and Yin-Yang for recurrent spiking networks (tasks.rate_coding; our
#: choices): trials of 100 steps of 1 ms, a feature of 1 (and the bias channel) firing at 200 Hz, the class the
#: readout with the largest sum over the last 50 ms; all-LIF neurons of the evidence network (Bellec et al.'s
#: evidence-task neurons without adaptation: nothing to remember beyond a trial) and its learning (softmax loss,
#: Adam at 5e-3, rate regularization, batches of 32 (quick: 8)); as many recurrent neurons as the rate form's
#: hidden units. The held-out examples are scored by the same network in JAX (plasticity.bptt, one trial each). XOR:
#: its four patterns (inputs 0 or 1), 8 LIF neurons and one readout trained to 0.1/0.9 (squared error), each
#: pattern held out as 32 fresh trials.
RATE_CODED = {"n_steps": 100, "rate_max_hz": 200.0, "window_steps": 50,
              "batch_size": {"quick": 8, "full": 32}, "iterations_per_run": {"quick": 2, "full": 4},
              "xor_draws": 32}
#: Independent spike streams of a seed's rate-coded trials.
RATE_CODED_STREAMS = {"train": 0, "validation": 1, "test": 2}


#: Training examples in quick mode (the first of the training split; the digits' as contrastive-digits --quick).
QUICK_TRAINING = {"digits": 200, "yinyang": 500}
#: Hidden units of Yin-Yang (Göltz et al. 2021's network, plasticity.ttfs.TTFSConfig).
YINYANG_HIDDEN = 120
#: Layer sizes (inputs, hidden, outputs) of each classification task in rate form.
CLASSIFICATION_SIZES = {"digits": (64, cl.DIGITS_HIDDEN, 10), "yinyang": (4, YINYANG_HIDDEN, 3)}

#: The 2-8-1 settling network of XOR (plasticity.contrastive.XOR_PROTOCOL: layered, Euler steps of tau/2).
XOR_NETWORK = {"n_in": 2, "n_hidden": cl.XOR_HIDDEN, "n_out": 1,
               **{key: cl.XOR_PROTOCOL[key] for key in ("beta", "tau_steps", "settle_steps", "architecture")}}
PATTERN_SIZES = {"quick": {"n_in": 20, "n_rec": 20, "n_out": 1, "n_steps": 200},
                 "full": eprop.BELLEC2020_PATTERN_NETWORK}
PATTERN_LEARNING = eprop.BELLEC2020_PATTERN_LEARNING

#: The circle's window and grid (tasks.trajectories.PEARLMUTTER_TRAJECTORY), its 12 units and their initial tau.
CIRCLE_PROTOCOL = {**PEARLMUTTER_TRAJECTORY, "n_units": 12, "tau_init_s": 1.0}
#: The circle's spiking form (our choices): the pattern task's neurons and learning (Bellec et al. 2020, Fig. S7) with
#: as many LIF neurons as the rate form's units and a readout per coordinate, driven by the pattern's 100 frozen
#: Poisson inputs at 50 Hz whose spikes repeat every period; steps of 1 ms over the rate form's window of three
#: periods (quick: periods of 0.2 s, 20 inputs).
CIRCLE_SPIKING = {"quick": {"n_in": 20, "period_s": 0.2},
                  "full": {"n_in": eprop.BELLEC2020_PATTERN_NETWORK["n_in"],
                           "period_s": PEARLMUTTER_TRAJECTORY["period_s"]},
                  "n_rec": CIRCLE_PROTOCOL["n_units"], "n_out": 2, "input_rate_hz": 50.0}
#: Steps of the spiking form's full trial (12000).
CIRCLE_SPIKING_STEPS = PEARLMUTTER_TRAJECTORY["window_periods"] * round(
    PEARLMUTTER_TRAJECTORY["period_s"] / float(BELLEC2020_PATTERN_GENERATION["dt"]))
#: The pattern's rate scaled by the ratio of the trial lengths (1000 against 12000 steps): the loss sums over the
#: steps of a trial, and so does its gradient. At the pattern's rate itself the loss diverged within 5 trials
#: (seed 1, symmetric feedback); at 1e-5 the RMS error fell from 0.53 to 0.10 in 1000 trials.
CIRCLE_SPIKING_LEARNING_RATE = (PATTERN_LEARNING["learning_rate"] * eprop.BELLEC2020_PATTERN_NETWORK["n_steps"]
                                / CIRCLE_SPIKING_STEPS)
#: The pattern's regularization strength scaled the other way: its learning signal is divided by the trial's length
#: (eprop.REGULARIZATION_SIGNAL), so its gradient does not grow with the trial as the task's does, and at the scaled
#: rate it would weigh 12 times less. Tuning seed 101, validation, symmetric feedback, 3000 trials: with the
#: pattern's c_reg the 12 neurons fired at 69 Hz (factor 1; RMS error 0.096) and 78 Hz (factor 4; 0.091), with
#: this one at 39 Hz (0.101) and 34 Hz (0.078).
CIRCLE_SPIKING_REGULARIZATION = (PATTERN_LEARNING["c_reg"] * CIRCLE_SPIKING_STEPS
                                 / eprop.BELLEC2020_PATTERN_NETWORK["n_steps"])

HYPERPARAMETERS_DIGITS = {
    **{(rule, "digits"): {"learning_rate": cl.DIGITS_LEARNING_RATES[rule],
                          **({"beta": cl.DIGITS_PROTOCOL["beta"]} if rule != "chl" else {}),
                          "batch_size": cl.DIGITS_PROTOCOL["batch_size"],
                          "source": "contrastive-digits study (chosen by hand, seed 1; plasticity.contrastive)"}
       for rule in cl.RULES},
    ("bptt", "digits"): {"learning_rate": cl.DIGITS_LEARNING_RATES["backprop-ff"],
                         "batch_size": cl.DIGITS_PROTOCOL["batch_size"],
                         "source": "contrastive-digits study (backprop-ff; plasticity.contrastive)"},
}
#: Perturbations a trial of WP or NP draws on a classification network of layer sizes (inputs, hidden, outputs)
#: with minibatches of B: WP one per weight (biases included), NP one per unit and step of a pass.
PERTURBATION_DIMENSION = {"wp": lambda n_in, n_hidden, n_out, batch: (n_in + 1) * n_hidden + (n_hidden + 1) * n_out,
                          "np": lambda n_in, n_hidden, n_out, batch: (n_hidden + n_out) * batch}


def _perturbation_classification(rule, task):
    """WP and NP on a classification task: backprop's learning rate on the digits divided by sqrt(D + 2), D the
    dimension of the noise a trial injects (:data:`PERTURBATION_DIMENSION`). A gradient estimate from D Gaussian
    directions has E|g_hat|^2 = (D + 2)|g|^2, so an update is then as large as backprop's step in expectation (our
    choice; the largest stable rate scales as 1/D, Werfel, Xie & Seung 2005, Neural Comput 17:2699). The
    perturbation size is the XOR cells'."""
    batch = cl.DIGITS_PROTOCOL["batch_size"]
    dimension = PERTURBATION_DIMENSION[rule](*CLASSIFICATION_SIZES[task], batch)
    return {"learning_rate": cl.DIGITS_LEARNING_RATES["backprop-ff"] / math.sqrt(dimension + 2),
            "sigma": JABRI_FLOWER_LEARNING[rule]["sigma"], "batch_size": batch, "noise_dimension": dimension,
            "source": "backprop's digits rate / sqrt(noise dimension + 2): updates of backprop's size; sigma of the "
                      "XOR cells"}


#: Plain gradient descent on the circle's exact gradient (ctbptt.train_jax, "gd", the time constants fixed): the
#: best final RMS error after 3000 iterations of the rates 0.3, 1, 3 and 10 on the tuning seed 101 (0.103, 0.0195,
#: 0.026, 0.022). The perturbation rules' reference rate, as backprop's is on the classification tasks.
CIRCLE_GRADIENT_DESCENT_RATE = 1.0
#: Perturbations per circle trial: WP one per weight and bias, NP one per unit and grid point of the window.
PERTURBATION_DIMENSION_CIRCLE = {
    "wp": CIRCLE_PROTOCOL["n_units"] * (CIRCLE_PROTOCOL["n_units"] + 1),
    "np": CIRCLE_PROTOCOL["n_units"] * (CIRCLE_PROTOCOL["window_periods"] * round(
        CIRCLE_PROTOCOL["period_s"] / CIRCLE_PROTOCOL["dt_s"]) + 1)}

#: WP and NP of the spiking supervised tasks (plasticity.reward_perturbation, minus the task loss as the reward;
#: our choices): perturbations of 5 % (WP: of each weight group's RMS; NP: of the threshold per step, and 0.05 on
#: each readout's input); the optimizer of the task's BPTT cell at its rate, divided on the pattern (plain gradient
#: descent) by sqrt(D + 2) as on the rate tasks, D the noise dimension of a trial (WP: the weights; NP: the neurons
#: and readouts times the steps). Adam (the evidence task) sets its step size itself.
SPIKING_PERTURBATION_SIZE = 0.05


def _spiking_perturbation(rule, task):
    if task == "pattern":
        sizes, neurons = PATTERN_SIZES["full"], BELLEC2020_PATTERN_GENERATION
        n_in, n_rec, n_out, n_steps = (sizes[key] for key in ("n_in", "n_rec", "n_out", "n_steps"))
        dimension = (n_rec * (n_in + n_rec + n_out) if rule == "wp" else (n_rec + n_out) * n_steps)
        values = {"optimizer": "gd", "learning_rate": PATTERN_LEARNING["learning_rate"] / math.sqrt(dimension + 2),
                  "noise_dimension": dimension}
    else:
        neurons = eprop_neurons.BELLEC2020_EVIDENCE_ACCUMULATION
        values = {"optimizer": "adam", "learning_rate": eprop.BELLEC2020_EVIDENCE_LEARNING["learning_rate"]}
    if rule == "wp":
        values["weight_sigma"] = SPIKING_PERTURBATION_SIZE
    else:
        values.update(current_sigma=SPIKING_PERTURBATION_SIZE * float(neurons["v_th"] / b2.volt),
                      readout_sigma=SPIKING_PERTURBATION_SIZE)
    return {**values, "source": "our choice: 5 % perturbations; the BPTT cell's optimizer and rate (pattern: / "
                                "sqrt(noise dimension + 2))"}


#: (rule, task) -> the values its cell uses and where they come from.
HYPERPARAMETERS = {
    **{(rule, task): _perturbation_classification(rule, task) for rule in ("wp", "np")
       for task in ("digits", "yinyang")},
    **{(rule, task): _spiking_perturbation(rule, task) for rule in ("wp", "np") for task in ("pattern", "evidence")},
    **{(rule, "xor"): {"learning_rate": cl.XOR_LEARNING_RATES[rule],
                       **({"beta": cl.XOR_PROTOCOL["beta"]} if rule != "chl" else {}),
                       "source": "contrastive-xor study (chosen on XOR seeds 1-10; plasticity.contrastive)"}
       for rule in cl.RULES},
    **HYPERPARAMETERS_DIGITS,
    **{(rule, "yinyang"): {**HYPERPARAMETERS_DIGITS[(rule, "digits")], "source": "the digits' values (contrastive-"
                                                                                 "digits), not tuned on Yin-Yang"}
       for rule in (*cl.RULES, "bptt")},
    ("ttfs", "yinyang"): {"optimizer": "adam", "learning_rate": ttfs.TTFSConfig.learning_rate,
                          "batch_size": ttfs.TTFSConfig.batch_size, "xi": ttfs.TTFSConfig.xi,
                          "alpha": ttfs.TTFSConfig.alpha,
                          "source": "Göltz et al. 2021 (plasticity.ttfs.TTFSConfig; the ttfs-yinyang study)"},
    ("ttfs", "digits"): {"optimizer": "adam", "learning_rate": ttfs.TTFSConfig.learning_rate,
                         "batch_size": ttfs.TTFSConfig.batch_size, "xi": ttfs.TTFSConfig.xi,
                         "alpha": ttfs.TTFSConfig.alpha,
                         "source": "Göltz et al.'s Yin-Yang settings, the initial weights scaled by the fan-in "
                                   "(DIGITS_TTFS_SIZES), not tuned for the digits"},
    **{(rule, task): {"learning_rate": eprop.BELLEC2020_EVIDENCE_LEARNING["learning_rate"], "optimizer": "adam",
                      "c_reg": eprop.BELLEC2020_EVIDENCE_LEARNING["c_reg"],
                      "f_target_hz": float(eprop.BELLEC2020_EVIDENCE_LEARNING["f_target"] / b2.Hz),
                      "batch_size": RATE_CODED["batch_size"]["full"],
                      "source": "the evidence task's e-prop learning (Bellec et al. 2020 / NEST 3.10), not tuned for "
                                "the rate-coded form (RATE_CODED)"}
       for rule in ("eprop-random", "eprop-symmetric", "eprop-adaptive") for task in ("digits", "yinyang", "xor")},
    **{(rule, "evidence"): {"learning_rate": eprop.BELLEC2020_EVIDENCE_LEARNING["learning_rate"],
                            "optimizer": "adam", "c_reg": eprop.BELLEC2020_EVIDENCE_LEARNING["c_reg"],
                            "f_target_hz": float(eprop.BELLEC2020_EVIDENCE_LEARNING["f_target"] / b2.Hz),
                            "source": "Bellec et al. 2020 / NEST 3.10 e-prop example (plasticity.eprop; the "
                                      "eprop-evidence study)"}
       for rule in ("eprop-random", "eprop-symmetric", "eprop-adaptive", "bptt")},
    **{("bptt-srnn", task): {"optimizer": "adam", "learning_rate": EVIDENCE_SRNN["learning_rate"],
                             "surrogate": EVIDENCE_SRNN["surrogate"], "learn_tau": EVIDENCE_SRNN["learn_tau"],
                             "batch_size": RATE_CODED["batch_size"]["full"],
                             "source": "Yin et al. 2021's ECG script (its initial time constants); the rate-coded "
                                       "form (RATE_CODED)"}
       for task in ("digits", "yinyang")},
    ("bptt-srnn", "evidence"): {"optimizer": "adam", "learning_rate": EVIDENCE_SRNN["learning_rate"],
                                "surrogate": EVIDENCE_SRNN["surrogate"], "learn_tau": EVIDENCE_SRNN["learn_tau"],
                                "tau_adp_h_init_steps": EVIDENCE_SRNN["tau_init"]["tau_adp_h"],
                                "source": "Yin et al. 2021's ECG script; tau_adp the task network's ALIF tau_a"},
    **{(rule, "evidence-reward"): {"optimizer": "adam", "learning_rate": REWARD_PERTURBATION["learning_rate"],
                                   "batch_size": REWARD_PERTURBATION["batch_size"]["full"],
                                   **({"weight_sigma": REWARD_PERTURBATION["weight_sigma"]} if rule == "wp" else
                                      {key: REWARD_PERTURBATION[key] for key in ("current_sigma", "readout_sigma")}),
                                   "source": "our choice on training trials of seed 1 (plasticity.reward_perturbation)"}
       for rule in ("wp", "np")},
    ("eprop-reward", "evidence-reward"): {
        "learning_rate": eprop_reward.CUE_REWARD_LEARNING["learning_rate"], "optimizer": "adam",
        "discount": eprop_reward.CUE_REWARD_LEARNING["discount"], "c_reg": eprop_reward.CUE_REWARD_LEARNING["c_reg"],
        "source": "eprop-reward-cues study (chosen on training trials; plasticity.eprop_reward)"},
    **{(rule, "xor"): {"learning_rate": JABRI_FLOWER_LEARNING[rule]["eta"],
                       "sigma": JABRI_FLOWER_LEARNING[rule]["sigma"],
                       "source": "perturbation-spiking study's scan on Jabri & Flower's 2-2-1 network "
                                 "(plasticity.xor_network), not tuned for 2-8-1"}
       for rule in ("wp", "np")},
    ("wp-jabri-flower", "xor"): {"learning_rate": JABRI_FLOWER_SERIAL["eta"],
                                 "perturbation": JABRI_FLOWER_SERIAL["perturbation"],
                                 "weight_range": JABRI_FLOWER_SERIAL["weight_range"],
                                 "source": "our scan on Jabri & Flower's 2-2-1 network (plasticity.xor_network)"},
    ("bptt", "xor"): {"learning_rate": cl.XOR_LEARNING_RATES["backprop-ff"],
                      "source": "contrastive-xor study (backprop-ff; plasticity.contrastive)"},
    **{(rule, "pattern"): {"learning_rate": PATTERN_LEARNING["learning_rate"],
                           "optimizer": PATTERN_LEARNING["optimizer"], "c_reg": PATTERN_LEARNING["c_reg"],
                           "f_target_hz": float(PATTERN_LEARNING["f_target"] / b2.Hz),
                           "source": "Bellec et al. 2020 / NEST 3.10 e-prop example (plasticity.eprop)"}
       for rule in ("eprop-random", "eprop-symmetric", "eprop-adaptive", "bptt")},
    **{(rule, "circle"): {"optimizer": "adam", "learning_rate": 0.02, "learn_tau": True,
                          "source": "pearlmutter-trajectories study (our choices)"} for rule in ("ctbptt", "bptt")},
    **{(rule, "circle"): {"learning_rate": CIRCLE_GRADIENT_DESCENT_RATE / math.sqrt(
                              PERTURBATION_DIMENSION_CIRCLE[rule] + 2),
                          "sigma": JABRI_FLOWER_LEARNING[rule]["sigma"],
                          "noise_dimension": PERTURBATION_DIMENSION_CIRCLE[rule],
                          "source": "plain gradient descent's rate on the circle (a scan on the tuning seed) / "
                                    "sqrt(noise dimension + 2); sigma of the XOR cells"}
       for rule in ("wp", "np")},
    **{(rule, "circle"): {"learning_rate": CIRCLE_SPIKING_LEARNING_RATE, "optimizer": PATTERN_LEARNING["optimizer"],
                          "c_reg": CIRCLE_SPIKING_REGULARIZATION,
                          "f_target_hz": float(PATTERN_LEARNING["f_target"] / b2.Hz),
                          "source": "the pattern's e-prop learning (Bellec et al. 2020 / NEST 3.10), its rate and "
                                    "regularization scaled by the trial length (CIRCLE_SPIKING_LEARNING_RATE, "
                                    "CIRCLE_SPIKING_REGULARIZATION)"}
       for rule in ("eprop-random", "eprop-symmetric", "eprop-adaptive")},
    ("rflo", "circle"): {"learning_rate": 0.03, "gain": 1.5, "tau_steps": 16.0,
                         "source": "Murray 2019 notebook (rates, gain); tau 1 s as the CTRNN's initial T"},
}


def _learning_rate(spec):
    """The cell's learning rate: its rule's value on the task times the tuning factor of the cell."""
    return HYPERPARAMETERS[(spec.rule.name, spec.task.name)]["learning_rate"] * spec.learning_rate_factor


def _levels_of_layers(spec, initial, layers):
    """Name -> ``(step, limit)`` at ``spec.weight_bits``: each layer (a tuple of names in ``initial`` sharing its
    levels, e.g. a weight matrix and its biases) by :func:`~brian2learn.studies.arena_registry.layer_levels` of its
    largest initial |w|."""
    levels = {}
    for layer in layers:
        largest = max(float(np.max(np.abs(initial[name]))) for name in layer)
        levels.update({name: layer_levels(spec.weight_bits, largest) for name in layer})
    return levels


def _held_at_levels(spec, initial, layers):
    """The function giving the parameters the network runs with when ``spec.weight_bits`` is set: each layer's
    values rounded to its levels (:func:`_levels_of_layers`; models.weight_levels.held); None at full precision."""
    if spec.weight_bits is None:
        return None
    levels = _levels_of_layers(spec, initial, layers)

    def realised(params):
        return {name: held_values(value, *levels[name]) if name in levels else value
                for name, value in params.items()}
    return realised


def _chunks(total, size):
    """Sizes of the training chunks (the wall-time cap is checked between them)."""
    while total > 0:
        yield min(size, total)
        total -= min(size, total)


def _capped(spec, start):
    return time.perf_counter() - start >= spec.wall_cap_seconds


# -- XOR (rate form) ---------------------------------------------------------------------------------------------

#: The feed-forward network's layers: each weight matrix shares its range of levels with its biases.
FEED_FORWARD_LAYERS = (("w1", "b1"), ("w2", "b2"))


def _xor_data():
    return parity_task(2, cl.XOR_PROTOCOL["low"], cl.XOR_PROTOCOL["high"])


def _xor_config(rule):
    return cl.ContrastiveConfig(rule=rule, batch_size=4, **XOR_NETWORK)


def _xor_untrained(config, weights, data):
    outputs = np.asarray([cl.fixed_point(config, weights, x)[-config.n_out:] for x in data["inputs"]])
    return accuracy(outputs, data["targets"])


def _contrastive_levels(spec, config, weights):
    """``config`` with its weights and biases at ``spec.weight_bits`` (``ContrastiveConfig.weight_levels``): each
    layer (the weights into a kind of unit, with those units' biases) by the layer_levels of its largest initial
    |w|, as the feed-forward cells' layers; ``config`` itself at full precision."""
    if spec.weight_bits is None:
        return config
    kinds = config.kinds
    owner = np.maximum(kinds[:, None], kinds[None, :])
    levels = {}
    for name, kind in cl.LEVEL_KINDS.items():
        largest = max(float(np.max(np.abs(weights["w"][owner == kind]), initial=0.0)),
                      float(np.max(np.abs(weights["b"][kinds == kind]), initial=0.0)))
        if largest > 0:
            levels[name] = layer_levels(spec.weight_bits, largest)
    return dataclasses.replace(config, weight_levels=levels)


def _contrastive_cell(rule):
    def cell(spec):
        data = _xor_data()
        weights = cl.initial_weights(_xor_config(rule), spec.seed)
        config = _contrastive_levels(spec, _xor_config(rule), weights)
        epochs = max(1, spec.trials // len(data["inputs"]))
        chunk = next(size for size in range(min(250, epochs), 0, -1) if epochs % size == 0)
        start = time.perf_counter()
        with ContrastiveTrainer(config, weights, data["inputs"], data["targets"],
                                _learning_rate(spec), epochs_per_run=chunk, seed=spec.seed,
                                device=spec.device, directory=os.path.join(spec.run_dir, "build")) as trainer:
            for _ in range(epochs // chunk):
                history = trainer.train(chunk)
                if _capped(spec, start):
                    break
            performance = trainer.evaluate(data["inputs"], data["targets"])["accuracy"]
            compile_seconds = trainer.runner.compile_seconds
        n = len(data["inputs"])
        return CellResult(
            performance=performance, untrained=_xor_untrained(config, cl.held_weights(config, weights), data),
            trials=len(history) * n,
            curve=pd.DataFrame({"trial": (history["epoch"].to_numpy() + 1) * n, "performance": history["accuracy"]}),
            compile_seconds=compile_seconds, synaptic_operations_per_trial=cl.synapse_passes_per_example(config),
            notes="curve: training accuracy of each epoch (the outputs as the epoch ran)")
    return cell


def _xor_backprop_cell(spec):
    data = _xor_data()
    config = _xor_config("ep")
    weights = cl.initial_weights(config, spec.seed)
    params = feedforward.from_symmetric(weights["w"], config.n_in, config.n_hidden, config.n_out)
    realised = _held_at_levels(spec, params, FEED_FORWARD_LAYERS)
    used = realised or (lambda p: p)
    x, d = data["inputs"], data["targets"]
    untrained = accuracy(feedforward.forward(used(params), x), d)
    rows, start = [], time.perf_counter()
    for epoch in range(max(1, spec.trials // len(x))):
        params = feedforward.train_epoch(params, x, d, _learning_rate(spec), realised=realised)
        rows.append({"trial": (epoch + 1) * len(x), "performance": accuracy(feedforward.forward(used(params), x), d)})
        if _capped(spec, start):
            break
    curve = pd.DataFrame(rows)
    return CellResult(performance=float(curve["performance"].iloc[-1]), untrained=untrained, curve=curve,
                      trials=int(curve["trial"].iloc[-1]),
                      synaptic_operations_per_trial=feedforward.multiply_adds_per_example(
                          [config.n_in, config.n_hidden, config.n_out]),
                      notes="the feed-forward network of the same layer sizes and initial weights; curve: accuracy "
                            "after each epoch")


# -- digits and Yin-Yang (classification; rate form, and Yin-Yang's spiking form) ---------------------------------

def _digits_data(spec):
    """The shared split (quick: its first training images), targets 0.1/0.9; the held-out part is ``*_held``."""
    p = cl.DIGITS_PROTOCOL
    data = load_digits_split(one_hot=True, low=p["low"], high=p["high"])
    if spec.quick:
        data = {**data, **{f"{name}_train": data[f"{name}_train"][:QUICK_TRAINING["digits"]] for name in "xyt"}}
    if spec.split == "validation":
        data = validation_split(data)
    return {**data, **{f"{name}_held": data[f"{name}_{spec.split}"] for name in "xyt"}}


def _yinyang_data(spec):
    """Kriener et al.'s splits (quick: the first training samples): features (x, y, 1-x, 1-y), labels, targets
    0.1/0.9 (rate form) and input spike times (spiking form); the held-out part is ``*_held``."""
    p = cl.DIGITS_PROTOCOL
    splits = yinyang.yin_yang_splits()
    limit = QUICK_TRAINING["yinyang"] if spec.quick else None
    data = {}
    for part, split in (("train", splits["train"]), ("held", splits[spec.split])):
        n = limit if part == "train" and limit is not None else len(split["labels"])
        labels = split["labels"][:n]
        data.update({f"x_{part}": split["features"][:n], f"y_{part}": labels,
                     f"t_{part}": np.where(np.arange(3) == labels[:, None], p["high"], p["low"]),
                     f"spikes_{part}": yinyang.encode_spike_times(split["features"][:n], **yinyang.ENCODING)})
    return data


#: Each classification task in rate form: its loader and layer sizes (inputs, hidden, outputs).
CLASSIFICATION = {"digits": {"data": _digits_data, "sizes": CLASSIFICATION_SIZES["digits"]},
                  "yinyang": {"data": _yinyang_data, "sizes": CLASSIFICATION_SIZES["yinyang"]}}


def _classification_config(task, rule):
    p = cl.DIGITS_PROTOCOL
    n_in, n_hidden, n_out = CLASSIFICATION[task]["sizes"]
    return cl.ContrastiveConfig(n_in=n_in, n_hidden=n_hidden, n_out=n_out, rule=rule, architecture="layered",
                                beta=p["beta"], tau_steps=p["tau_steps"], settle_steps=p["settle_steps"],
                                batch_size=p["batch_size"], settle_tolerance=p["settle_tolerance"])


def _epochs(spec, n_train, batch_size):
    """Epochs within the budget (at least one); an epoch presents every whole minibatch of the training set."""
    per_epoch = (n_train // batch_size) * batch_size
    return max(1, spec.trials // per_epoch), per_epoch


def _classification_contrastive_cell(rule, task):
    def cell(spec):
        data = CLASSIFICATION[task]["data"](spec)
        weights = cl.initial_weights(_classification_config(task, rule), spec.seed)
        config = _contrastive_levels(spec, _classification_config(task, rule), weights)
        epochs, per_epoch = _epochs(spec, len(data["x_train"]), config.batch_size)
        rows, start = [], time.perf_counter()
        with ContrastiveTrainer(config, weights, data["x_train"], data["t_train"],
                                _learning_rate(spec), epochs_per_run=1,
                                seed=spec.seed, device=spec.device,
                                directory=os.path.join(spec.run_dir, "build")) as trainer:
            untrained = trainer.evaluate(data["x_held"], data["t_held"])["accuracy"]
            for epoch in range(epochs):
                trainer.train(1)
                rows.append({"trial": (epoch + 1) * per_epoch,
                             "performance": trainer.evaluate(data["x_held"], data["t_held"])["accuracy"]})
                if _capped(spec, start):
                    break
            compile_seconds = trainer.runner.compile_seconds
        curve = pd.DataFrame(rows)
        return CellResult(performance=float(curve["performance"].iloc[-1]), untrained=untrained, curve=curve,
                          trials=int(curve["trial"].iloc[-1]), compile_seconds=compile_seconds,
                          synaptic_operations_per_trial=cl.synapse_passes_per_example(config), curve_split=spec.split,
                          notes=f"minibatches of {config.batch_size}; curve: {spec.split} accuracy after each epoch")
    return cell


def _classification_backprop_cell(task):
    def cell(spec):
        data = CLASSIFICATION[task]["data"](spec)
        config = _classification_config(task, "ep")
        params = feedforward.from_symmetric(cl.initial_weights(config, spec.seed)["w"], *CLASSIFICATION[task]["sizes"])
        realised = _held_at_levels(spec, params, FEED_FORWARD_LAYERS)
        used = realised or (lambda p: p)
        epochs, per_epoch = _epochs(spec, len(data["x_train"]), config.batch_size)
        rng = np.random.default_rng(spec.seed)
        untrained = accuracy(feedforward.forward(used(params), data["x_held"]), data["t_held"])
        rows, start = [], time.perf_counter()
        for epoch in range(epochs):
            params = feedforward.train_epoch(params, data["x_train"], data["t_train"],
                                             _learning_rate(spec), config.batch_size,
                                             rng.permutation(len(data["x_train"])), realised=realised)
            rows.append({"trial": (epoch + 1) * per_epoch,
                         "performance": accuracy(feedforward.forward(used(params), data["x_held"]), data["t_held"])})
            if _capped(spec, start):
                break
        curve = pd.DataFrame(rows)
        return CellResult(performance=float(curve["performance"].iloc[-1]), untrained=untrained, curve=curve,
                          trials=int(curve["trial"].iloc[-1]), curve_split=spec.split,
                          synaptic_operations_per_trial=feedforward.multiply_adds_per_example(
                              list(CLASSIFICATION[task]["sizes"])),
                          notes="the feed-forward network of the same layer sizes and initial weights, minibatches of "
                                f"{config.batch_size}; curve: {spec.split} accuracy after each epoch")
    return cell


def _classification_perturbation_cell(rule, task):
    """WP or NP (``rule``) on the backprop cell's network (the same layer sizes, initial weights and minibatch
    order), its weights in Brian2 Synapses (:mod:`brian2learn.plasticity.classifier_network`): one update per
    minibatch, each minibatch presented in a reference and a perturbed pass, so an update is ``batch_size`` trials.
    With ``spec.weight_bits`` the synapses run with their weights at signed levels, one set for the network (its
    largest initial |w| on level 2**(bits - 2); a WP perturbation of one level is then one size), and WP perturbs
    by one level."""
    def cell(spec):
        from brian2learn.plasticity import classifier_network as cn
        from brian2learn.plasticity.perturbation_network import LearnerValues
        from brian2learn.training.perturbation_network import PerturbationNetworkTrainer

        data = CLASSIFICATION[task]["data"](spec)
        sizes = CLASSIFICATION[task]["sizes"]
        batch = _classification_config(task, "ep").batch_size
        params = feedforward.from_symmetric(cl.initial_weights(_classification_config(task, "ep"), spec.seed)["w"],
                                            *sizes)
        weights = dict(zip(("w:clf_layer1", "w:clf_layer2"), cn.to_synapses(params)))
        levels, sigma, level_of = _synapse_levels(spec, rule, weights, HYPERPARAMETERS[(rule, task)]["sigma"])

        def accuracy_of(current):  # of the weights the network runs with
            layers = [current[f"w:clf_layer{k}"] for k in (1, 2)]
            if level_of is not None:
                layers = [held_values(w, *level_of) for w in layers]
            return accuracy(feedforward.forward(cn.from_synapses(*layers, sizes), data["x_held"]), data["t_held"])

        epochs, per_epoch = _epochs(spec, len(data["x_train"]), batch)
        rng = np.random.default_rng(spec.seed)  # the backprop cell's minibatches: a permutation per epoch
        orders = [rng.permutation(len(data["x_train"]))[:per_epoch] for _ in range(epochs)]
        learners = LearnerValues(rule, eta=_learning_rate(spec), sigma=sigma)
        untrained, rows, current, start = accuracy_of(weights), [], weights, time.perf_counter()
        trainer = PerturbationNetworkTrainer(lambda n: cn.classifier_model(1, n, sizes, batch), 1,
                                             device=spec.device, trials_per_run=per_epoch // batch,
                                             directory=os.path.join(spec.run_dir, "build"))
        try:  # one run per epoch, run k seeded spec.seed * 100003 + k
            for epoch, order in enumerate(orders):
                current = trainer.train(per_epoch // batch, learners, current, values=levels, seed=spec.seed,
                                        first_run=epoch,
                                        stimuli=lambda first, n, order=order: cn.minibatch_stimuli(
                                            data["x_train"], data["t_train"], order, first, n, batch))["weights"]
                rows.append({"trial": (epoch + 1) * per_epoch, "performance": accuracy_of(current)})
                if _capped(spec, start):
                    break
            compile_seconds = trainer.runner.compile_seconds
        finally:
            trainer.close()
        curve = pd.DataFrame(rows)
        return CellResult(performance=float(curve["performance"].iloc[-1]), untrained=untrained, curve=curve,
                          trials=int(curve["trial"].iloc[-1]), compile_seconds=compile_seconds, curve_split=spec.split,
                          synaptic_operations_per_trial=float(2 * sum(w.size for w in weights.values())),
                          notes=f"logistic units with biases (the backprop cell's network, initial weights and "
                                f"minibatches of {batch}), the reference pass unperturbed; a trial is one example in "
                                f"both passes; curve: {spec.split} accuracy after each epoch")
    return cell


def _ttfs_energy(times, config):
    """Spikes and synaptic events per sample of a TTFS network (every neuron fires at most once; the input layer's
    spikes reach every neuron of the next layer, and so on)."""
    spikes = [np.sum(np.isfinite(layer), axis=1) for layer in times]  # per sample, per layer
    events = sum(count * n_post for count, n_post in zip(spikes[:-1], config.layer_sizes[1:]))
    return {"spikes_per_trial": float(np.mean(sum(spikes[1:]))),
            "synaptic_operations_per_trial": float(np.mean(events))}


class _LevelledForward:
    """The closed-form TTFS forward pass run with the weights held at levels (``realised``); the trainer takes the
    gradient at those weights and applies it to its full-precision ones (its ``realised_weights`` protocol)."""

    def __init__(self, config, realised):
        self.analytic, self.realised = ttfs.analytic_forward(config), realised

    def realised_weights(self, weights):
        held = self.realised(dict(enumerate(weights)))
        return [held[layer] for layer in range(len(weights))]

    def __call__(self, t_in, weights):
        return self.analytic(t_in, self.realised_weights(weights))


#: The first-spike form of the digits (our choices): each pixel one input spike, brighter earlier, at the Yin-Yang
#: encoding's times (1 - intensity in [0, 1] as the feature), and a bias spike; 64 hidden neurons (the rate form's
#: size) and 10 outputs. Göltz et al.'s Yin-Yang initialisation scaled by the fan-in (the mean by 5/n_in, the std by
#: sqrt(5/n_in) in the first layer, 120/64 and its square root in the second), so that a neuron's summed initial
#: input has the statistics it has on Yin-Yang.
DIGITS_TTFS_SIZES = (64 + 1, CLASSIFICATION_SIZES["digits"][1], 10)


def _fan_in_scaled_init(sizes):
    reference = ttfs.TTFSConfig()
    scaled = []
    for (mean, std), fan_in, reference_fan_in in zip(reference.weight_init, sizes[:-1], reference.layer_sizes[:-1]):
        ratio = reference_fan_in / fan_in
        scaled.append((mean * ratio, std * math.sqrt(ratio)))
    return tuple(scaled)


def _ttfs_data(spec):
    """The task's examples as input spike times: Yin-Yang's own, the digits' by :data:`DIGITS_TTFS_SIZES`."""
    if spec.task.name == "yinyang":
        return _yinyang_data(spec)
    data = _digits_data(spec)
    return {**{f"spikes_{part}": yinyang.encode_spike_times(1.0 - data[f"x_{part}"], **yinyang.ENCODING)
               for part in ("train", "held")}, "y_train": data["y_train"], "y_held": data["y_held"]}


def _ttfs_config(spec):
    if spec.task.name == "yinyang":
        return ttfs.TTFSConfig(learning_rate=_learning_rate(spec))
    return ttfs.TTFSConfig(learning_rate=_learning_rate(spec), layer_sizes=DIGITS_TTFS_SIZES,
                           weight_init=_fan_in_scaled_init(DIGITS_TTFS_SIZES))


def _ttfs_cell(spec):
    data = _ttfs_data(spec)
    config = _ttfs_config(spec)
    weights = ttfs.initial_weights(config, spec.seed)
    realised = _held_at_levels(spec, dict(enumerate(weights)), tuple((layer,) for layer in range(len(weights))))
    trainer = TTFSTrainer(config, weights, forward=None if realised is None else _LevelledForward(config, realised))
    epochs, per_epoch = _epochs(spec, len(data["y_train"]), 1)
    rng = np.random.default_rng(spec.seed)
    untrained = trainer.evaluate(data["spikes_held"], data["y_held"])["accuracy"]
    rows, start = [], time.perf_counter()
    for epoch in range(epochs):
        trained = trainer.train_epoch(data["spikes_train"], data["y_train"], rng)
        if not np.isfinite(trained["loss"]):
            break
        result = trainer.evaluate(data["spikes_held"], data["y_held"])
        rows.append({"trial": (epoch + 1) * per_epoch, "performance": result["accuracy"]})
        if _capped(spec, start):
            break
    curve = pd.DataFrame(rows, columns=["trial", "performance"])
    final = float(curve["performance"].iloc[-1]) if len(curve) else float("nan")
    network = ("Göltz et al.'s network and settings (plasticity.ttfs.TTFSConfig)" if spec.task.name == "yinyang" else
               f"layers {'-'.join(map(str, config.layer_sizes))} with Göltz et al.'s settings and fan-in-scaled "
               "initial weights (DIGITS_TTFS_SIZES)")
    return CellResult(performance=final, untrained=untrained, curve=curve,
                      trials=int(curve["trial"].iloc[-1]) if len(curve) else 0, curve_split=spec.split,
                      **_ttfs_energy(result["times"], config),
                      notes=network + f", forward pass in closed form; curve: {spec.split} accuracy after each "
                            "epoch; energy: spikes of the held-out samples (hidden and output; the energy complexity "
                            "is not defined in continuous time)")


def _synapse_levels(spec, rule, weights, sigma):
    """``(values, sigma, level_of)`` of a WP/NP cell in Brian2 (plasticity.perturbation_network) at
    ``spec.weight_bits``: the ``w_level:NAME`` and ``w_limit:NAME`` state variables of every plastic Synapses of
    ``weights`` (``w:NAME`` -> initial weights) at one set of levels for the network (its largest initial |w| on level
    2**(bits - 2): arena_registry.layer_levels; a WP perturbation of one level is then one size), WP's ``sigma``
    one level, and ``level_of`` = (step, limit); at full precision ``({}, sigma, None)``."""
    if spec.weight_bits is None:
        return {}, sigma, None
    level_of = layer_levels(spec.weight_bits, max(float(np.max(np.abs(w))) for w in weights.values()))
    values = {f"w_{kind}:{name[2:]}": np.full(np.size(w), number) for name, w in weights.items()
              for kind, number in zip(("level", "limit"), level_of)}
    return values, level_of[0] if rule == "wp" else sigma, level_of


def _xor_perturbation_cell(rule):
    """WP or NP (``rule``) on the same 2-8-1 network: the feed-forward net of the backprop cell, its weights in
    Brian2 Synapses (:func:`brian2learn.plasticity.xor_network.xor_model`); one update per pass pair over the four
    patterns (a reference and a perturbed pass), so an update is four trials. With ``spec.weight_bits`` the
    synapses run with their weights at signed levels, one set for the network (its largest initial |w| on level
    2**(bits - 2): arena_registry.layer_levels), and WP perturbs by one level."""
    def cell(spec):
        from brian2learn.plasticity import xor_network
        from brian2learn.plasticity.perturbation_network import LearnerValues
        from brian2learn.tasks.xor import PATTERNS
        from brian2learn.training.perturbation_network import PerturbationNetworkTrainer

        config = _xor_config("ep")
        n_hidden = config.n_hidden
        params = feedforward.from_symmetric(cl.initial_weights(config, spec.seed)["w"], config.n_in, n_hidden,
                                            config.n_out)
        weights = {"w:xor_layer1": np.c_[params["w1"], params["b1"]].ravel(),
                   "w:xor_layer2": np.r_[params["w2"][0], params["b2"]]}
        low, high = cl.XOR_PROTOCOL["low"], cl.XOR_PROTOCOL["high"]
        targets = np.where(PATTERNS.sum(axis=1) % 2 == 1, high, low)

        levels, sigma, level_of = _synapse_levels(spec, rule, weights, HYPERPARAMETERS[(rule, "xor")]["sigma"])

        def accuracy_of(current):
            w1, w2 = current["w:xor_layer1"].reshape(n_hidden, 3), current["w:xor_layer2"]
            if level_of is not None:
                w1, w2 = held_values(w1, *level_of), held_values(w2, *level_of)
            return accuracy(xor_network.forward_numpy(w1, w2)[:, None], targets[:, None])

        learners = LearnerValues(rule, eta=_learning_rate(spec), sigma=sigma)
        updates = max(1, spec.trials // len(PATTERNS))
        per_run = min(500, updates)
        untrained, rows = accuracy_of(weights), []
        trainer = PerturbationNetworkTrainer(
            lambda n: xor_network.xor_model(1, n, n_hidden=n_hidden, targets=targets), 1, device=spec.device,
            trials_per_run=per_run, directory=os.path.join(spec.run_dir, "build"))
        def score(model, first, n_now):  # after every run of the one training: its weights' accuracy
            rows.append({"trial": (first + n_now) * len(PATTERNS),
                         "performance": accuracy_of({"w:xor_layer1": np.asarray(model.layer1.w[:], dtype=float),
                                                     "w:xor_layer2": np.asarray(model.layer2.w[:], dtype=float)})})

        try:  # one training (run k seeded spec.seed * 100003 + k); the wall-time cap is not checked inside it
            trainer.train(updates, learners, weights, values=levels, seed=spec.seed, on_run=score)
            compile_seconds = trainer.runner.compile_seconds
        finally:
            trainer.close()
        curve = pd.DataFrame(rows)
        n_weights = n_hidden * 3 + n_hidden + 1
        return CellResult(performance=float(curve["performance"].iloc[-1]), untrained=untrained, curve=curve,
                          trials=int(curve["trial"].iloc[-1]), compile_seconds=compile_seconds,
                          synaptic_operations_per_trial=float(2 * n_weights),
                          notes="sigmoid units with biases (the feed-forward net of the backprop cell, the same "
                                "initial weights), the reference pass unperturbed; a trial is one pattern in both "
                                "passes; curve: accuracy after each run of updates")
    return cell


def _jabri_flower_cell(spec):
    """Jabri & Flower's own 2-2-1 network (not the task's 2-8-1: a row of its own), trained by their serial weight
    perturbation in numpy; with ``spec.weight_bits`` the network runs with its weights at signed levels over +-8 and
    the perturbation is one level (:data:`brian2learn.plasticity.xor_network.JABRI_FLOWER_SERIAL`)."""
    from brian2learn.models.ttfs_substrate import quantize_weights
    from brian2learn.plasticity import xor_network
    from brian2learn.tasks.xor import PATTERNS

    serial = xor_network.JABRI_FLOWER_SERIAL
    targets = np.where(PATTERNS.sum(axis=1) % 2 == 1, cl.XOR_PROTOCOL["high"], cl.XOR_PROTOCOL["low"])
    init = xor_network.initial_weights(1, spec.seed, scale=xor_network.JABRI_FLOWER_INIT_SCALE)
    w1, w2 = init["layer1"][0], init["layer2"][0]
    if spec.weight_bits is None:
        realised, perturbation = None, serial["perturbation"]
    else:
        w_max = serial["weight_range"]

        def realised(a, b):
            return quantize_weights(a, spec.weight_bits, w_max), quantize_weights(b, spec.weight_bits, w_max)
        perturbation = w_max / (2 ** (spec.weight_bits - 1) - 1)  # one level

    def accuracy_of(a, b):
        a, b = (a, b) if realised is None else realised(a, b)
        return accuracy(xor_network.forward_numpy(a, b)[:, None], targets[:, None])

    updates, per_chunk = max(1, spec.trials // len(PATTERNS)), 100
    untrained, rows, done, start = accuracy_of(w1, w2), [], 0, time.perf_counter()
    for n_now in _chunks(updates, per_chunk):
        w1, w2, _ = xor_network.serial_weight_perturbation(w1, w2, n_now, _learning_rate(spec), perturbation,
                                                           targets, realised, first=done)
        done += n_now
        rows.append({"trial": done * len(PATTERNS), "performance": accuracy_of(w1, w2)})
        if _capped(spec, start):
            break
    curve = pd.DataFrame(rows)
    return CellResult(performance=float(curve["performance"].iloc[-1]), untrained=untrained, curve=curve,
                      trials=int(curve["trial"].iloc[-1]), synaptic_operations_per_trial=float(2 * 9),
                      notes="Jabri & Flower's 2-2-1 network (9 weights with the biases), one weight perturbed per "
                            "update, a reference and a perturbed pass over the four patterns (four trials); "
                            "initial weights U(-0.5, 0.5)")


# -- circle (rate form) ------------------------------------------------------------------------------------------

#: The continuous-time network's one layer on the precision axis: W with the biases.
CTRNN_LAYERS = (("w", "b"),)


def _circle_setup(seed):
    """The task, the continuous-time network and its initial parameters (seeded; the outputs start on the curve)."""
    from brian2learn.plasticity import ctbptt

    p = CIRCLE_PROTOCOL
    task = trajectory_task("circle", p["period_s"], p["window_periods"], p["dt_s"], p["radius"], p["centre"])
    n = p["n_units"]
    config = ctbptt.CtrnnConfig(n_units=n, n_out=2, n_steps=task["n_steps"], dt=p["dt_s"] * b2.second)
    return config, task, ctbptt.initial_parameters(config, task["targets"][0], seed, p["tau_init_s"])


def _rms(losses, config):
    """RMS error over the window from E = dt sum_n q^n (q: half the squared error of the two outputs)."""
    return np.sqrt(2 * np.asarray(losses, dtype=float) / (float(config.dt) * config.n_points * config.n_out))


def _ctrnn_operations(config):
    return float(config.n_units ** 2 * config.n_steps)  # every synapse once per Euler step


def _ctbptt_cell(spec):
    from brian2learn.plasticity.optimizers import OptimizerSpec
    from brian2learn.training.ctbptt import CtbpttTrainer

    config, task, params = _circle_setup(spec.seed)
    hyper = HYPERPARAMETERS[("ctbptt", "circle")]
    per_chunk = max(1, min(250, spec.trials // 10))
    start = time.perf_counter()
    with CtbpttTrainer(config, params, task, learn_tau=hyper["learn_tau"], adjoint="continuous",
                       optimizer=OptimizerSpec("adam", learning_rate=_learning_rate(spec)), device=spec.device,
                       directory=os.path.join(spec.run_dir, "build"), iterations_per_chunk=per_chunk,
                       weight_levels=_discrete_levels_of(spec, params, CTRNN_LAYERS)[0]) as trainer:
        for n_now in _chunks(spec.trials, per_chunk):
            history = trainer.train(n_now)
            if _capped(spec, start):
                break
        compile_seconds = trainer.gradients.runner.compile_seconds
    rms = history["rms_error"].to_numpy()
    return CellResult(performance=float(rms[-1]), untrained=float(rms[0]), trials=len(rms),
                      curve=pd.DataFrame({"trial": np.arange(1, len(rms) + 1), "performance": rms}),
                      compile_seconds=compile_seconds, synaptic_operations_per_trial=_ctrnn_operations(config),
                      notes="performance: RMS error of the last trial before its update; synaptic operations: the "
                            "forward pass of one trial")


def _circle_bptt_cell(spec):
    from brian2learn.plasticity import ctbptt
    from brian2learn.plasticity.optimizers import OptimizerSpec

    config, task, params = _circle_setup(spec.seed)
    hyper = HYPERPARAMETERS[("bptt", "circle")]
    result = ctbptt.train_jax(config, params, task, spec.trials, OptimizerSpec("adam",
                              learning_rate=_learning_rate(spec)), learn_tau=hyper["learn_tau"],
                              weight_levels=_discrete_levels_of(spec, params, CTRNN_LAYERS)[0])
    rms = _rms(result["losses"], config)
    return CellResult(performance=float(rms[-1]), untrained=float(rms[0]), trials=len(rms),
                      curve=pd.DataFrame({"trial": np.arange(1, len(rms) + 1), "performance": rms}),
                      synaptic_operations_per_trial=_ctrnn_operations(config),
                      notes="discrete BPTT in JAX, the updates of the ctbptt trainer's discrete adjoint (one compiled "
                            "scan; the wall-time cap is not checked inside it)")


def _circle_rflo_cell(spec):
    from brian2learn.plasticity import rflo
    from brian2learn.training.rflo import RfloTrainer

    p, hyper = CIRCLE_PROTOCOL, HYPERPARAMETERS[("rflo", "circle")]
    task = trajectory_task("circle", p["period_s"], p["window_periods"], p["dt_s"], p["radius"], p["centre"])
    rate = _learning_rate(spec)
    config = rflo.RfloConfig(n_in=1, n_rec=p["n_units"], n_out=2, n_points=task["n_steps"] + 1,
                             tau=hyper["tau_steps"], learning_rates=(0.0, rate, rate))
    weights = rflo.initial_weights(config, spec.seed, g=hyper["gain"])
    config = _config_at_levels(spec, config, weights)[0]
    per_run = min(1000, spec.trials)
    start = time.perf_counter()
    with RfloTrainer(config, weights, {"inputs": np.zeros((config.n_points, 1)), "targets": task["targets"]},
                     device=spec.device, trials_per_run=per_run, record_output=False,
                     directory=os.path.join(spec.run_dir, "build")) as trainer:
        for n_now in _chunks(spec.trials, per_run):
            history = trainer.train(n_now)
            if _capped(spec, start):
                break
        compile_seconds = trainer.runner.compile_seconds
    rms = np.sqrt(2 * history["loss"].to_numpy() / config.n_out)  # RFLO's loss: the mean over the window
    operations = float((config.n_in + config.n_rec + config.n_out) * config.n_rec * config.n_updates)
    return CellResult(performance=float(rms[-1]), untrained=float(rms[0]), trials=len(rms),
                      curve=pd.DataFrame({"trial": np.arange(1, len(rms) + 1), "performance": rms}),
                      compile_seconds=compile_seconds, synaptic_operations_per_trial=operations,
                      notes="a leaky tanh network of 12 units with a linear readout (Murray's architecture); "
                            "performance: RMS error of the last trial before its update")


def _circle_perturbation_cell(rule):
    """WP or NP (``rule``) on the circle's 12-unit CTRNN (the ctbptt cell's network, initial weights, time constants
    and initial state; :mod:`brian2learn.plasticity.ctrnn_network`): W and b plastic, the time constants fixed; a
    trial is the window run twice from the same state, a reference and a perturbed pass, and one update. With
    ``spec.weight_bits`` the synapses run with W and b at the levels of the ctbptt cell's (one layer), and WP
    perturbs by one level."""
    def cell(spec):
        from brian2learn.plasticity import ctrnn_network
        from brian2learn.plasticity.perturbation_network import LearnerValues
        from brian2learn.training.perturbation_network import PerturbationNetworkTrainer

        config, task, params = _circle_setup(spec.seed)
        weights = ctrnn_network.synapse_weights(params)
        levels, sigma, _ = _synapse_levels(spec, rule, weights, HYPERPARAMETERS[(rule, "circle")]["sigma"])
        learners = LearnerValues(rule, eta=_learning_rate(spec), sigma=sigma)
        per_run = min(500, spec.trials)
        frames, current, start = [], weights, time.perf_counter()
        trainer = PerturbationNetworkTrainer(
            lambda n: ctrnn_network.ctrnn_model(config, params, task, 1, n), 1, device=spec.device,
            trials_per_run=per_run, directory=os.path.join(spec.run_dir, "build"))
        try:  # run k of the training seeded spec.seed * 100003 + k
            for run, n_now in enumerate(_chunks(spec.trials, per_run)):
                out = trainer.train(n_now, learners, current, values=levels, seed=spec.seed, first_run=run)
                current = out["weights"]
                frames.append(out["history"]["E_ref"].to_numpy())
                if _capped(spec, start):
                    break
            compile_seconds = trainer.runner.compile_seconds
        finally:
            trainer.close()
        rms = _rms(np.concatenate(frames), config)
        return CellResult(performance=float(rms[-1]), untrained=float(rms[0]), trials=len(rms),
                          curve=pd.DataFrame({"trial": np.arange(1, len(rms) + 1), "performance": rms}),
                          compile_seconds=compile_seconds,
                          synaptic_operations_per_trial=2 * _ctrnn_operations(config),
                          notes="the time constants fixed at their initial 1 s; performance: RMS error of the last "
                                "trial's reference pass, before its update; synaptic operations: both passes")
    return cell


# -- pattern generation (spiking form) ---------------------------------------------------------------------------

def _pattern_setup(spec):
    config = eprop.EpropConfig(neuron_params=BELLEC2020_PATTERN_GENERATION, **PATTERN_SIZES[spec.mode],
                               **{**PATTERN_LEARNING, "learning_rate": _learning_rate(spec)})
    task = pattern_generation_task(seed=spec.seed, n_in=config.n_in, n_steps=config.n_steps)
    return config, task, eprop.initial_weights(config, spec.seed)


def _spike_energy(input_steps, recurrent_steps, config):
    """Spikes, synaptic events and energy complexity of one trial from the time steps of its spikes
    (``input_steps``, ``recurrent_steps``: one entry per spike): inputs reach every recurrent neuron,
    recurrent neurons every other recurrent neuron and the readout (:func:`eprop.connectivity`)."""
    recurrent_steps = np.asarray(recurrent_steps, dtype=int)
    events = len(input_steps) * config.n_rec + len(recurrent_steps) * (config.n_rec - 1 + config.n_out)
    complexity = int(np.bincount(recurrent_steps).max()) if len(recurrent_steps) else 0
    return {"spikes_per_trial": float(len(recurrent_steps)), "synaptic_operations_per_trial": float(events),
            "energy_complexity": float(complexity)}


def _bptt_params(bptt, config):
    """The JAX network of an e-prop configuration: the same neurons, loss and regularization, the reset's gradient
    kept (plain BPTT), and the per-neuron threshold adaptation where the neurons differ in it (LIF and ALIF)."""
    params = bptt.network_params_from(config.neuron_params, config.n_rec, loss=config.loss, c_reg=config.c_reg,
                                      f_target=config.f_target, reset_gradient=True)
    beta = np.asarray(config.beta)
    if np.any(beta != beta[0]):
        params = bptt.NetworkParams(**{**params.__dict__, "beta": beta})
    return params


def _cosine_with_bptt(config, weights, task, gradients):
    """Cosine between a rule's gradient of (w_in, w_rec, w_out) and BPTT's (JAX) on the same network and trial,
    regularisation included in both; None without JAX."""
    try:
        from brian2learn.plasticity import bptt
    except ImportError:
        return None
    _, exact = bptt.loss_and_gradients(weights, task["inputs"], task["targets"], task["window"],
                                       _bptt_params(bptt, config))  # the bptt cell's gradient
    a = np.concatenate([np.ravel(gradients[name]) for name in ("w_in", "w_rec", "w_out")])
    b = np.concatenate([np.ravel(exact[name]) for name in ("w_in", "w_rec", "w_out")])
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


#: The spiking network's weight groups, each with its own range of levels on the precision axis.
SPIKING_LAYERS = (("w_in",), ("w_rec",), ("w_out",))


def _discrete_levels_of(spec, weights, layers=SPIKING_LAYERS):
    """``(levels, held)`` of a JAX cell at ``spec.weight_bits``: name -> ``(step, limit)`` for the straight-through
    training (:func:`brian2learn.plasticity.bptt.held_at_levels`; each layer, a tuple of names, by
    :func:`_levels_of_layers`) and the function giving the weights the network runs with; ``(None, identity)`` at
    full precision."""
    realised = _held_at_levels(spec, weights, layers)
    if realised is None:
        return None, lambda current: current
    return _levels_of_layers(spec, weights, layers), realised


def _config_at_levels(spec, config, weights, layers=SPIKING_LAYERS):
    """``(config, held)`` of a Brian2 cell at ``spec.weight_bits``: the configuration with ``weight_levels`` set to
    the levels of :func:`_discrete_levels_of` (keyed by group, a weight's name without its ``w_``, as e-prop's,
    reward e-prop's and RFLO's configurations take them), and the held weights' function; ``config`` unchanged at
    full precision."""
    levels, held = _discrete_levels_of(spec, weights, layers)
    if levels is None:
        return config, held
    return dataclasses.replace(config, weight_levels={name[2:]: level for name, level in levels.items()}), held


def _circle_spiking_setup(spec):
    """The e-prop configuration, trial and initial weights of the circle's spiking form (:data:`CIRCLE_SPIKING`)."""
    sizes = CIRCLE_SPIKING[spec.mode]
    task = spiking_trajectory_task("circle", sizes["period_s"], CIRCLE_PROTOCOL["window_periods"],
                                   float(BELLEC2020_PATTERN_GENERATION["dt"]), sizes["n_in"],
                                   CIRCLE_SPIKING["input_rate_hz"], seed=spec.seed, radius=CIRCLE_PROTOCOL["radius"],
                                   centre=CIRCLE_PROTOCOL["centre"])
    config = eprop.EpropConfig(neuron_params=BELLEC2020_PATTERN_GENERATION, n_in=sizes["n_in"],
                               n_rec=CIRCLE_SPIKING["n_rec"], n_out=CIRCLE_SPIKING["n_out"],
                               n_steps=task["inputs"].shape[1],
                               **{**PATTERN_LEARNING, "learning_rate": _learning_rate(spec),
                                  "c_reg": CIRCLE_SPIKING_REGULARIZATION})
    return config, task, eprop.initial_weights(config, spec.seed)


def _squared_error_rms(losses, config):
    """RMS error over a trial from Bellec's E = 1/2 sum over its steps and outputs of the squared error."""
    return np.sqrt(2 * np.asarray(losses, dtype=float) / (config.n_steps * config.n_out))


#: Each regression task of e-prop's: its setup, the score of a trial's loss, and what the score is.
EPROP_REGRESSION = {
    "pattern": (_pattern_setup, lambda losses, config: np.asarray(losses, dtype=float),
                "performance: the loss of the last training trial (one fixed trial)"),
    "circle": (_circle_spiking_setup, _squared_error_rms,
               "spiking form; performance: the RMS error of the last training trial (one fixed trial)"),
}


def _eprop_cell(feedback):
    def cell(spec):
        setup, score, described = EPROP_REGRESSION[spec.task.name]
        config, task, weights = setup(spec)
        config, held = _config_at_levels(spec, config, weights)
        per_run = min(20 if spec.quick else 100, spec.trials)
        start = time.perf_counter()
        with EpropTrainer(config, weights, task, feedback=feedback,
                          feedback_matrix=eprop.random_feedback(config, spec.seed), device=spec.device,
                          iterations_per_run=per_run, directory=os.path.join(spec.run_dir, "build")) as trainer:
            cosine = _cosine_with_bptt(config, held(weights), task, trainer.gradients()[0])
            for n_now in _chunks(spec.trials, per_run):
                history = trainer.train(n_now)
                if _capped(spec, start):
                    break
            compile_seconds = trainer.runner.compile_seconds
            spikes = trainer.last_spikes
        dt = float(config.dt)
        energy = _spike_energy(np.round(spikes["inputs"][1] / dt), np.round(spikes["recurrent"][1] / dt), config)
        loss = score(history["loss"].to_numpy(), config)
        return CellResult(performance=float(loss[-1]), untrained=float(loss[0]), trials=len(loss),
                          curve=pd.DataFrame({"trial": np.arange(1, len(loss) + 1), "performance": loss}),
                          compile_seconds=compile_seconds, gradient_cosine_bptt=cosine, **energy,
                          notes=f"{described}; curve: that score of each trial before its update; energy: the last "
                                "trial; gradient cosine: e-prop's gradient and BPTT's of the untrained network on the "
                                "task's trial")
    return cell


def _pattern_bptt_cell(spec):
    from brian2learn.plasticity import bptt

    config, task, weights = _pattern_setup(spec)
    params = _bptt_params(bptt, config)
    levels, held = _discrete_levels_of(spec, weights)
    losses, start = [], time.perf_counter()

    def batches(iteration):
        return task["inputs"], task["targets"], task["window"]

    def record(iteration, metrics):
        losses.append(metrics["task_loss"])

    def train(current, n_now):  # plain gradient descent has no optimizer state: chunks continue exactly
        return bptt.train_bptt(current, batches, params, optimizer=config.optimizer,
                               learning_rate=config.learning_rate, n_iterations=n_now, callback=record,
                               weight_levels=levels)[0]

    current = {name: np.asarray(value) for name, value in weights.items()}
    for n_now in _chunks(spec.trials - 1, 50):
        current = train(current, n_now)
        if _capped(spec, start):
            break
    # the last trial alone, so that its network (before its update) gives the energy, as e-prop's cells do
    trial = bptt.simulate(held(current), task["inputs"][0], params)
    train(current, 1)
    input_steps = np.nonzero(task["inputs"][0])[0]
    recurrent_steps = np.nonzero(np.asarray(trial["z"]))[0]
    loss = np.asarray(losses, dtype=float)
    return CellResult(performance=float(loss[-1]), untrained=float(loss[0]), trials=len(loss),
                      curve=pd.DataFrame({"trial": np.arange(1, len(loss) + 1), "performance": loss}),
                      **_spike_energy(input_steps, recurrent_steps, config),
                      notes="JAX BPTT of the same discrete-time network (pseudo-derivative, reset gradient kept); "
                            "performance: the loss of the last training trial; energy: that trial")


# -- evidence accumulation (spiking form) ------------------------------------------------------------------------

def _evidence_trials(seed, stream, draw, n_trials):
    return evidence_accumulation_trials(n_trials, seed=[seed, EVIDENCE_STREAMS[stream], draw])


def _evidence_setup(spec):
    """Configuration, initial weights, random feedback and held-out trials (one run's worth) of a cell."""
    p = EVIDENCE_PROTOCOL[spec.mode]
    config = eprop.evidence_accumulation_config(p["batch_size"], learning_rate=_learning_rate(spec))
    init = eprop.BELLEC2020_EVIDENCE_INITIALIZATION
    weights = eprop.initial_weights(config, spec.seed, readout_init=init["readout_init"])
    feedback = eprop.random_feedback(config, spec.seed, scale=init["feedback_scale"])
    held_out = _evidence_trials(spec.seed, spec.split, 0, p["iterations_per_run"] * p["batch_size"])
    return config, weights, feedback, held_out, p


def _train_eprop_scored(spec, trainer, iterations, score_every, score, start):
    """Train an e-prop cell ``iterations`` iterations in chunks of ``score_every``, scoring after each (the wall-time
    cap, from ``start``, checked between chunks); returns the curve, the compile time and the energy of the last
    trial the trainer ran."""
    rows, done = [], 0
    for n_now in _chunks(iterations, score_every):
        trainer.train(n_now)
        done += n_now
        rows.append({"trial": done * trainer.config.batch_size, "performance": score()})
        if _capped(spec, start):
            break
    spikes, dt = trainer.last_spikes, float(trainer.config.dt)
    energy = _spike_energy(np.round(spikes["inputs"][1] / dt), np.round(spikes["recurrent"][1] / dt), trainer.config)
    return pd.DataFrame(rows), trainer.runner.compile_seconds, energy


def _evidence_eprop_cell(feedback_mode):
    def cell(spec):
        config, weights, feedback, held_out, p = _evidence_setup(spec)
        config, held = _config_at_levels(spec, config, weights)
        iterations = max(1, spec.trials // p["batch_size"])
        start = time.perf_counter()
        with EpropTrainer(config, weights, lambda draw, n: _evidence_trials(spec.seed, "train", draw, n),
                          feedback=feedback_mode, feedback_matrix=feedback, device=spec.device,
                          iterations_per_run=p["iterations_per_run"],
                          directory=os.path.join(spec.run_dir, "build")) as trainer:
            untrained = 1.0 - trainer.evaluate(trials=held_out)["error"]
            cosine = _cosine_with_bptt(config, held(weights), held_out, trainer.gradients(trials=held_out)[0])
            curve, compile_seconds, energy = _train_eprop_scored(
                spec, trainer, iterations, p["score_every"],
                lambda: 1.0 - trainer.evaluate(trials=held_out)["error"], start)
        return CellResult(performance=float(curve["performance"].iloc[-1]), untrained=untrained, curve=curve,
                          trials=int(curve["trial"].iloc[-1]), compile_seconds=compile_seconds,
                          gradient_cosine_bptt=cosine, curve_split=spec.split, **energy,
                          notes=f"batches of {config.batch_size}; performance and curve: accuracy on "
                                f"{len(held_out['labels'])} {spec.split} trials; energy: the last trial scored; "
                                "gradient cosine: e-prop's gradient and BPTT's of the untrained network on those "
                                "trials")
    return cell


def _rate_coded_examples(spec):
    """The examples of a rate-coded cell, ``x_``/``y_`` ``train`` and ``held``, and its layer sizes: the rate form's
    (features clipped to [0, 1]); XOR's four patterns in both parts, held out :data:`RATE_CODED` ``xor_draws`` times
    each (fresh spikes every time)."""
    if spec.task.name == "xor":
        data = _xor_data()
        labels = (data["targets"][:, 0] > 0.5).astype(int)
        draws = RATE_CODED["xor_draws"]
        return ({"x_train": data["inputs"], "y_train": labels, "x_held": np.tile(data["inputs"], (draws, 1)),
                 "y_held": np.tile(labels, draws)}, (XOR_NETWORK["n_in"], XOR_NETWORK["n_hidden"], 1))
    data = CLASSIFICATION[spec.task.name]["data"](spec)
    return ({key: np.clip(data[key], 0.0, 1.0) if key.startswith("x_") else data[key]
             for key in ("x_train", "y_train", "x_held", "y_held")}, CLASSIFICATION[spec.task.name]["sizes"])


def _rate_coded_score(readouts, trials):
    """Accuracy of the decisions: the readout with the largest sum over the window, or with one readout (XOR) its
    window mean on the target's side of 0.5."""
    if readouts.shape[-1] > 1:
        return 1.0 - decision_error(readouts, trials["targets"], trials["window"])
    mean = np.einsum("nt,nt->n", trials["window"], readouts[..., 0]) / trials["window"].sum(axis=1)
    return float(np.mean((mean > 0.5) == (trials["labels"] == 1)))


def _rate_coded_streams(spec):
    """Layer sizes, the held-out trials, the training trial maker (``draw``, ``n`` -> the draw-th ``n`` trials of a
    per-epoch permutation of the training examples, fresh spikes each) and the number of training examples of a
    rate-coded cell (XOR's targets 0.1/0.9 on its one readout)."""
    from brian2learn.tasks.rate_coding import rate_coded_trials

    data, (n_in, n_hidden, n_out) = _rate_coded_examples(spec)
    dt_ms = float(eprop_neurons.BELLEC2020_EVIDENCE_ACCUMULATION["dt"] / b2.ms)

    def trials(part, indices, stream, draw):
        made = rate_coded_trials(data[f"x_{part}"][indices], data[f"y_{part}"][indices], max(n_out, 2),
                                 RATE_CODED["n_steps"], RATE_CODED["rate_max_hz"], dt_ms, RATE_CODED["window_steps"],
                                 seed=[spec.seed, RATE_CODED_STREAMS[stream], draw])
        if n_out == 1:  # XOR's targets 0.1/0.9 on one readout
            low, high = cl.XOR_PROTOCOL["low"], cl.XOR_PROTOCOL["high"]
            made["targets"] = np.where(made["targets"][..., 1:] > 0.5, high, low)
        return made

    n_train = len(data["x_train"])
    n_run = RATE_CODED["batch_size"][spec.mode] * RATE_CODED["iterations_per_run"][spec.mode]
    rng = np.random.default_rng(spec.seed)  # a permutation of the training examples per epoch
    order = np.concatenate([rng.permutation(n_train) for _ in range((spec.trials + 2 * n_run) // n_train + 2)])
    held_out = trials("held", np.arange(len(data["x_held"])), spec.split, 0)
    return ((n_in, n_hidden, n_out), held_out,
            lambda draw, n: trials("train", order[draw * n:(draw + 1) * n], "train", draw), n_train)


def _rate_coded_setup(spec):
    """Configuration, initial weights, random feedback and the trials (:func:`_rate_coded_streams`) of a rate-coded
    e-prop cell: the softmax loss over the readouts; XOR: one readout, the squared error to 0.1/0.9."""
    (n_in, n_hidden, n_out), held_out, train_trials, n_train = _rate_coded_streams(spec)
    neurons = eprop_neurons.BELLEC2020_EVIDENCE_ACCUMULATION
    config = eprop.EpropConfig(n_in=n_in + 1, n_rec=n_hidden, n_out=n_out, n_steps=RATE_CODED["n_steps"],
                               neuron_params=neurons, beta=eprop.adaptation_strengths(n_hidden, 0, neurons["beta"]),
                               batch_size=RATE_CODED["batch_size"][spec.mode],
                               **{**eprop.BELLEC2020_EVIDENCE_LEARNING, "learning_rate": _learning_rate(spec),
                                  **({"loss": "mse"} if n_out == 1 else {})})
    init = eprop.BELLEC2020_EVIDENCE_INITIALIZATION
    weights = eprop.initial_weights(config, spec.seed, readout_init=init["readout_init"])
    feedback = eprop.random_feedback(config, spec.seed, scale=init["feedback_scale"])
    return config, weights, feedback, held_out, train_trials, n_train


def _rate_coded_eprop_cell(feedback_mode):
    """e-prop (``feedback_mode``) on the rate-coded spiking form of a classification task (:data:`RATE_CODED`)."""
    def cell(spec):
        from brian2learn.plasticity import bptt

        config, weights, feedback, held_out, train_trials, n_train = _rate_coded_setup(spec)
        config, held = _config_at_levels(spec, config, weights)
        params = _bptt_params(bptt, config)
        per_run = RATE_CODED["iterations_per_run"][spec.mode]
        n_run = per_run * config.batch_size

        def accuracy_of(current):
            weights_now = held({name: current[name] for name in ("w_in", "w_rec", "w_out")})
            return _rate_coded_score(bptt.readout_batch(weights_now, held_out["inputs"], params), held_out)

        iterations = max(1, spec.trials // config.batch_size)
        score_every = per_run * max(1, round(n_train / n_run))  # about an epoch, whole runs
        first_run = {key: value[:n_run] for key, value in held_out.items()}
        start = time.perf_counter()
        with EpropTrainer(config, weights, train_trials, feedback=feedback_mode, feedback_matrix=feedback,
                          device=spec.device, iterations_per_run=per_run,
                          directory=os.path.join(spec.run_dir, "build")) as trainer:
            untrained = accuracy_of(weights)
            cosine = _cosine_with_bptt(config, held(weights), first_run, trainer.gradients(trials=first_run)[0])
            curve, compile_seconds, energy = _train_eprop_scored(
                spec, trainer, iterations, score_every, lambda: accuracy_of(trainer.weights()), start)
        return CellResult(performance=float(curve["performance"].iloc[-1]), untrained=untrained, curve=curve,
                          trials=int(curve["trial"].iloc[-1]), compile_seconds=compile_seconds,
                          gradient_cosine_bptt=cosine, curve_split=spec.split, **energy,
                          notes=f"rate-coded trials of {RATE_CODED['n_steps']} ms (tasks.rate_coding), "
                                f"{config.n_rec} LIF neurons, batches of {config.batch_size}; performance and curve: "
                                f"accuracy on the {len(held_out['labels'])} {spec.split} examples (JAX forward of "
                                "the same network); energy: the last trial of the last run; gradient cosine: "
                                f"e-prop's gradient and BPTT's of the untrained network on {n_run} of them")
    return cell


def _evidence_bptt_cell(spec):
    from brian2learn.plasticity import bptt

    config, weights, _, held_out, p = _evidence_setup(spec)
    params = _bptt_params(bptt, config)
    optimizer = eprop.optimizer_spec(config, group_prefix="w_")  # e-prop's Adam (TensorFlow's epsilon), its clipping
    levels, held = _discrete_levels_of(spec, weights)

    def accuracy_of(current):
        readouts = bptt.readout_batch(held(current), held_out["inputs"], params)
        return 1.0 - decision_error(readouts, held_out["targets"], held_out["window"])

    def batch(draw):
        trials = _evidence_trials(spec.seed, "train", draw, p["batch_size"])
        return trials["inputs"], trials["targets"], trials["window"]

    iterations = max(1, spec.trials // p["batch_size"])
    current, state, done, rows, start = weights, None, 0, [], time.perf_counter()
    untrained = accuracy_of(current)
    for n_now in _chunks(iterations, p["score_every"]):
        current, _, state = bptt.train_bptt(current, lambda k, first=done: batch(first + k), params,
                                            optimizer=optimizer, n_iterations=n_now, optimizer_state=state,
                                            return_state=True, weight_levels=levels)
        done += n_now
        rows.append({"trial": done * p["batch_size"], "performance": accuracy_of(current)})
        if _capped(spec, start):
            break
    last = held_out["inputs"][-1]
    trial = bptt.simulate(held(current), last, params)
    curve = pd.DataFrame(rows)
    return CellResult(performance=float(curve["performance"].iloc[-1]), untrained=untrained, curve=curve,
                      trials=int(curve["trial"].iloc[-1]), curve_split=spec.split,
                      **_spike_energy(np.nonzero(last)[0], np.nonzero(np.asarray(trial["z"]))[0], config),
                      notes="JAX BPTT of the same discrete-time LIF/ALIF network (pseudo-derivative, reset gradient "
                            f"kept), e-prop's Adam; performance and curve: accuracy on {len(held_out['labels'])} "
                            f"{spec.split} trials (the e-prop cells' trials); energy: the last of them")


#: The reward-based agent's weight groups on the precision axis (input, recurrent, policy and value readouts).
REWARD_AGENT_LAYERS = (("w_in",), ("w_rec",), ("w_pi",), ("w_v",))


def _evidence_reward_cell(spec):
    p = REWARD_PROTOCOL[spec.mode]
    config = eprop_reward.evidence_accumulation_config(learning_rate=_learning_rate(spec))
    weights = eprop_reward.initial_weights(config, spec.seed)
    config = _config_at_levels(spec, config, weights, REWARD_AGENT_LAYERS)[0]

    def stimuli(first, n, evaluation):  # training trials from the training stream, scoring from the split's
        return cue_choice_stimuli(_evidence_trials(spec.seed, spec.split if evaluation else "train", first, n))

    rows, start = [], time.perf_counter()
    with RewardEpropTrainer(config, weights,
                            lambda: CueChoice(p["trials_per_run"]), stimuli, steps_per_run=p["trials_per_run"],
                            seed=spec.seed, device=spec.device,
                            directory=os.path.join(spec.run_dir, "build")) as trainer:
        untrained = float(trainer.evaluate(p["held_out"]).mean())
        while trainer.step_count < spec.trials:
            trainer.train(min(p["score_every"], spec.trials - trainer.step_count))
            rows.append({"trial": trainer.step_count, "performance": float(trainer.evaluate(p["held_out"]).mean())})
            if _capped(spec, start):
                break
        compile_seconds = trainer.runner.compile_seconds
        rate_hz = float(np.mean(trainer.state["reward_eprop_recurrent.rate_est"])) * 1000.0
    curve = pd.DataFrame(rows)
    spikes = rate_hz * config.n_rec * trial_length() * float(config.neuron_params["dt"] / b2.second)
    return CellResult(performance=float(curve["performance"].iloc[-1]), untrained=untrained, curve=curve,
                      trials=int(curve["trial"].iloc[-1]), compile_seconds=compile_seconds, curve_split=spec.split,
                      spikes_per_trial=spikes,
                      synaptic_operations_per_trial=spikes * (config.n_rec - 1 + config.n_actions + 1),
                      notes=f"one greedy choice per trial, one update per trial; performance and curve: accuracy on "
                            f"{p['held_out']} {spec.split} trials; spikes: the recurrent rate estimate of the last "
                            "training trials times the trial (input spikes and the energy complexity not counted)")


#: The adaptive SRNN's layers on the precision axis (a bias shares its layer's range; the biases start at 0).
SRNN_LAYERS = (("w_in", "b_h"), ("w_rec",), ("w_out", "b_o"))


def _srnn_energy(hidden_spikes, inputs, architecture):
    """Spikes, synaptic events and energy complexity of one SRNN trial from its hidden spikes (T, n_hidden) and input
    spikes (T, n_in): inputs reach every hidden neuron, hidden neurons every hidden and output neuron."""
    hidden_steps = np.nonzero(hidden_spikes)[0]
    events = (int(np.count_nonzero(inputs)) * architecture.n_hidden
              + len(hidden_steps) * (architecture.n_hidden + architecture.n_out))
    return {"spikes_per_trial": float(len(hidden_steps)), "synaptic_operations_per_trial": float(events),
            "energy_complexity": float(np.bincount(hidden_steps).max()) if len(hidden_steps) else 0.0}


def _evidence_srnn_cell(spec):
    """BPTT with a surrogate gradient of Yin et al.'s adaptive SRNN on the evidence trials: the softmax of the output
    membranes against the trial's side at every step of the decision window (their framewise loss), fresh training
    trials in batches of the e-prop cells' size; the decision is the output with the largest window sum."""
    from brian2learn.models.adaptive_srnn import SrnnArchitecture, operations_per_spike
    from brian2learn.plasticity import srnn_bptt
    from brian2learn.training.framewise import FramewiseTrainer

    p = EVIDENCE_PROTOCOL[spec.mode]
    network = eprop.BELLEC2020_EVIDENCE_NETWORK
    architecture = SrnnArchitecture(network["n_in"], network["n_lif"] + network["n_alif"], network["n_out"],
                                    EVIDENCE_SRNN["hidden_kind"], EVIDENCE_SRNN["output_kind"])
    scored_from = trial_length() - int(np.count_nonzero(_evidence_trials(spec.seed, "train", 0, 1)["window"][0]))
    training = srnn_bptt.SrnnTraining(batch_size=p["batch_size"], learning_rate=_learning_rate(spec),
                                      surrogate=EVIDENCE_SRNN["surrogate"], learn_tau=EVIDENCE_SRNN["learn_tau"],
                                      scored_from=scored_from, seed=spec.seed, lr_decay=1.0)
    initial = srnn_bptt.initial_parameters(architecture, spec.seed, tau_init=EVIDENCE_SRNN["tau_init"])
    levels, held = _discrete_levels_of(spec, initial, SRNN_LAYERS)
    objective = srnn_bptt.SrnnObjective(architecture, initial, training, weight_levels=levels)
    trainer = FramewiseTrainer(objective, batch_size=p["batch_size"], seed=spec.seed, scored_from=scored_from)
    held_out = _evidence_trials(spec.seed, spec.split, 0, p["iterations_per_run"] * p["batch_size"])
    labels_held = np.repeat(held_out["labels"][:, None], trial_length(), axis=1)

    def forward(params):
        return srnn_bptt.evaluate(architecture, held(params), held_out["inputs"], labels_held, scored_from,
                                  batch_size=64)

    def accuracy_of(result):
        return 1.0 - decision_error(result["u_out"], held_out["targets"], held_out["window"])

    untrained = accuracy_of(forward(objective.params))
    iterations = max(1, spec.trials // p["batch_size"])
    rows, done, start = [], 0, time.perf_counter()
    for n_now in _chunks(iterations, p["score_every"]):
        trials = _evidence_trials(spec.seed, "train", done, n_now * p["batch_size"])
        trainer.train_epoch(trials["inputs"], np.repeat(trials["labels"][:, None], trial_length(), axis=1))
        done += n_now
        result = forward(trainer.parameters())
        rows.append({"trial": done * p["batch_size"], "performance": accuracy_of(result)})
        if _capped(spec, start):
            break
    curve = pd.DataFrame(rows)
    return CellResult(performance=float(curve["performance"].iloc[-1]), untrained=untrained, curve=curve,
                      trials=int(curve["trial"].iloc[-1]), curve_split=spec.split,
                      **_srnn_energy(result["hidden_spikes"][-1], held_out["inputs"][-1], architecture),
                      notes=f"Yin et al.'s adaptive SRNN ({architecture.hidden_kind} hidden, "
                            f"{architecture.output_kind} output; {operations_per_spike(architecture.hidden_kind)} "
                            "operations per hidden spike not counted), BPTT in JAX (float32); each chunk of fresh "
                            "trials is one epoch of the framewise trainer; performance and curve: accuracy on "
                            f"{len(held_out['labels'])} {spec.split} trials; energy: the last of them (hidden spikes)")


def _rate_coded_srnn_cell(spec):
    """BPTT with a surrogate gradient of Yin et al.'s adaptive SRNN on the rate-coded trials of a classification task
    (:func:`_rate_coded_streams`): the ECG script's neurons, initial time constants and Adam rate, the framewise
    softmax over the scoring window, batches of the e-prop cells' size; the decision the output with the largest
    window sum."""
    from brian2learn.models.adaptive_srnn import SrnnArchitecture
    from brian2learn.plasticity import srnn_bptt
    from brian2learn.training.framewise import FramewiseTrainer

    (n_in, n_hidden, n_out), held_out, train_trials, n_train = _rate_coded_streams(spec)
    batch, n_steps = RATE_CODED["batch_size"][spec.mode], RATE_CODED["n_steps"]
    architecture = SrnnArchitecture(n_in + 1, n_hidden, n_out, EVIDENCE_SRNN["hidden_kind"],
                                    EVIDENCE_SRNN["output_kind"])
    scored_from = n_steps - RATE_CODED["window_steps"]
    training = srnn_bptt.SrnnTraining(batch_size=batch, learning_rate=_learning_rate(spec),
                                      surrogate=EVIDENCE_SRNN["surrogate"], learn_tau=EVIDENCE_SRNN["learn_tau"],
                                      scored_from=scored_from, seed=spec.seed, lr_decay=1.0)
    initial = srnn_bptt.initial_parameters(architecture, spec.seed)
    levels, held = _discrete_levels_of(spec, initial, SRNN_LAYERS)
    trainer = FramewiseTrainer(srnn_bptt.SrnnObjective(architecture, initial, training, weight_levels=levels),
                               batch_size=batch, seed=spec.seed, scored_from=scored_from)

    def frames(trials):
        return np.repeat(trials["labels"][:, None], n_steps, axis=1)

    def forward(params):
        return srnn_bptt.evaluate(architecture, held(params), held_out["inputs"], frames(held_out), scored_from,
                                  batch_size=64)

    def accuracy_of(result):
        return 1.0 - decision_error(result["u_out"], held_out["targets"], held_out["window"])

    untrained = accuracy_of(forward(initial))
    chunk = max(1, round(n_train / batch))  # iterations between two scorings: about an epoch
    iterations = max(1, spec.trials // batch)
    rows, done, start = [], 0, time.perf_counter()
    for draw, n_now in enumerate(_chunks(iterations, chunk)):
        trials = {key: value[:n_now * batch] for key, value in train_trials(draw, chunk * batch).items()}
        trainer.train_epoch(trials["inputs"], frames(trials))
        done += n_now
        result = forward(trainer.parameters())
        rows.append({"trial": done * batch, "performance": accuracy_of(result)})
        if _capped(spec, start):
            break
    curve = pd.DataFrame(rows)
    return CellResult(performance=float(curve["performance"].iloc[-1]), untrained=untrained, curve=curve,
                      trials=int(curve["trial"].iloc[-1]), curve_split=spec.split,
                      **_srnn_energy(result["hidden_spikes"][-1], held_out["inputs"][-1], architecture),
                      notes=f"Yin et al.'s adaptive SRNN ({n_hidden} adaptive hidden neurons, the ECG script's "
                            "initial time constants), BPTT in JAX (float32), rate-coded trials (RATE_CODED); "
                            f"performance and curve: accuracy on the {len(held_out['labels'])} {spec.split} "
                            "examples; energy: the last of them (hidden spikes)")


def _evidence_reward_perturbation_cell(rule):
    def cell(spec):
        from brian2learn.plasticity import bptt
        from brian2learn.plasticity.reward_perturbation import (
            RewardPerturbationConfig,
            RewardPerturbationLearner,
            rewards,
        )

        settings = REWARD_PERTURBATION
        batch_size = settings["batch_size"][spec.mode]
        config = eprop.evidence_accumulation_config(batch_size)
        weights = eprop.initial_weights(config, spec.seed,
                                        readout_init=eprop.BELLEC2020_EVIDENCE_INITIALIZATION["readout_init"])
        learner = RewardPerturbationLearner(
            RewardPerturbationConfig(rule, learning_rate=_learning_rate(spec), weight_sigma=settings["weight_sigma"],
                                     current_sigma=settings["current_sigma"], readout_sigma=settings["readout_sigma"]),
            weights, _bptt_params(bptt, config), seed=spec.seed, weight_levels=_discrete_levels_of(spec, weights)[0])
        held_out = _evidence_trials(spec.seed, spec.split, 0, REWARD_PROTOCOL[spec.mode]["held_out"])

        def accuracy_of():
            return float(rewards(learner.readouts(held_out["inputs"]), held_out["window"], held_out["labels"]).mean())

        untrained = accuracy_of()
        updates = max(1, spec.trials // batch_size)
        score_every = max(1, REWARD_PROTOCOL[spec.mode]["score_every"] // batch_size)
        rows, start = [], time.perf_counter()
        while learner.updates < updates:
            trials = _evidence_trials(spec.seed, "train", learner.updates, batch_size)
            learner.update(trials["inputs"], trials["labels"], trials["window"])
            if learner.updates % score_every == 0 or learner.updates == updates or _capped(spec, start):
                rows.append({"trial": learner.updates * batch_size, "performance": accuracy_of()})
                if _capped(spec, start):
                    break
        last = bptt.simulate(learner.held(), held_out["inputs"][-1], _bptt_params(bptt, config))
        curve = pd.DataFrame(rows)
        energy = _spike_energy(np.nonzero(held_out["inputs"][-1])[0], np.nonzero(last["z"])[0], config)
        return CellResult(performance=float(curve["performance"].iloc[-1]), untrained=untrained, curve=curve,
                          trials=int(curve["trial"].iloc[-1]), curve_split=spec.split, **energy,
                          notes=f"the LIF/ALIF network of the e-prop cells in JAX, greedy choice, reward 1 or 0; "
                                f"batches of {batch_size}, each trial run unperturbed and perturbed (a trial counts "
                                "once; its synaptic operations are one pass's); performance and curve: accuracy of "
                                f"the greedy choice on {len(held_out['labels'])} {spec.split} trials; energy: the last")
    return cell


def _supervised_perturbation_learner(spec, rule, config, weights):
    """The JAX WP/NP learner of a spiking supervised cell (plasticity.reward_perturbation, minus the task loss as the
    reward) with the rule's values on the task (:data:`HYPERPARAMETERS`) and the e-prop cells' levels."""
    from brian2learn.plasticity import bptt
    from brian2learn.plasticity.reward_perturbation import RewardPerturbationConfig, RewardPerturbationLearner

    hyper = HYPERPARAMETERS[(rule, spec.task.name)]
    sizes = {key: hyper[key] for key in ("weight_sigma", "current_sigma", "readout_sigma") if key in hyper}
    return RewardPerturbationLearner(
        RewardPerturbationConfig(rule, learning_rate=_learning_rate(spec), optimizer_kind=hyper["optimizer"], **sizes),
        weights, _bptt_params(bptt, config), seed=spec.seed, weight_levels=_discrete_levels_of(spec, weights)[0])


def _pattern_perturbation_cell(rule):
    """WP or NP (``rule``) of the pattern cells' LIF network in JAX (plasticity.reward_perturbation with minus the
    trial's task loss as its reward): every update runs the one trial unperturbed and perturbed."""
    def cell(spec):
        from brian2learn.plasticity import bptt
        from brian2learn.plasticity.reward_perturbation import task_rewards

        config, task, weights = _pattern_setup(spec)
        learner = _supervised_perturbation_learner(spec, rule, config, weights)
        losses, start = [], time.perf_counter()
        while learner.updates < spec.trials:
            learner.update_with(task["inputs"], lambda y: task_rewards(y, task["targets"], task["window"], "mse"))
            losses.append(-learner.history[-1]["reference_reward"])
            if _capped(spec, start):
                break
        trial = bptt.simulate(learner.held(), task["inputs"][0], _bptt_params(bptt, config))
        loss = np.asarray(losses)
        return CellResult(performance=float(loss[-1]), untrained=float(loss[0]), trials=len(loss),
                          curve=pd.DataFrame({"trial": np.arange(1, len(loss) + 1), "performance": loss}),
                          **_spike_energy(np.nonzero(task["inputs"][0])[0], np.nonzero(np.asarray(trial["z"]))[0],
                                          config),
                          notes="the LIF network of the e-prop cells in JAX, its task loss (no rate regularization) "
                                "as minus the reward; performance: the loss of the last trial's unperturbed pass, "
                                "before its update; energy: the trained network on the trial (one pass)")
    return cell


def _evidence_perturbation_cell(rule):
    """WP or NP (``rule``) of the evidence cells' LIF/ALIF network in JAX from minus each trial's task loss (the
    softmax loss BPTT descends) as its reward: batches of the BPTT cell's size, each trial run unperturbed and
    perturbed, Adam."""
    def cell(spec):
        from brian2learn.plasticity import bptt
        from brian2learn.plasticity.reward_perturbation import task_rewards

        config, weights, _, held_out, p = _evidence_setup(spec)
        learner = _supervised_perturbation_learner(spec, rule, config, weights)

        def accuracy_of():
            return 1.0 - decision_error(learner.readouts(held_out["inputs"]), held_out["targets"], held_out["window"])

        updates, untrained = max(1, spec.trials // p["batch_size"]), accuracy_of()
        rows, start = [], time.perf_counter()
        while learner.updates < updates:
            trials = _evidence_trials(spec.seed, "train", learner.updates, p["batch_size"])
            learner.update_with(trials["inputs"],
                                lambda y, t=trials: task_rewards(y, t["targets"], t["window"], "softmax"))
            if learner.updates % p["score_every"] == 0 or learner.updates == updates or _capped(spec, start):
                rows.append({"trial": learner.updates * p["batch_size"], "performance": accuracy_of()})
                if _capped(spec, start):
                    break
        last = held_out["inputs"][-1]
        trial = bptt.simulate(learner.held(), last, _bptt_params(bptt, config))
        curve = pd.DataFrame(rows)
        return CellResult(performance=float(curve["performance"].iloc[-1]), untrained=untrained, curve=curve,
                          trials=int(curve["trial"].iloc[-1]), curve_split=spec.split,
                          **_spike_energy(np.nonzero(last)[0], np.nonzero(np.asarray(trial["z"]))[0], config),
                          notes=f"the LIF/ALIF network of the e-prop cells in JAX, its task loss (no rate "
                                f"regularization) as minus the reward; batches of {p['batch_size']}, each trial run "
                                "unperturbed and perturbed (a trial counts once; its synaptic operations are one "
                                f"pass's); performance and curve: accuracy on {len(held_out['labels'])} {spec.split} "
                                "trials (the e-prop cells' trials); energy: the last of them")
    return cell


# -- rules -------------------------------------------------------------------------------------------------------

_RATE_ONLY = "a settling rate network's rule; the spiking form of this task has no fixed point to settle to"
_REWARD_RULE = "a reward-based rule; of the tasks, only evidence-reward gives a reward alone"
_SUPERVISED_RULE = "a supervised rule: the task gives a reward alone, no target"
_CLASSIFICATION_NO_TRAJECTORY = ("a classification by a feed-forward or settling network: there is no trajectory to "
                                 "follow")
_NO_FIXED_POINT = "the target is a limit cycle: the network has no fixed point to settle to"
_SPIKING_TASK = "a continuous-time rate network's rule; this task is registered in its spiking form only"
_RATE_TASK = "a rate network's rule; this task is registered in its spiking form only"

for _rule in cl.RULES:
    register_rule(ArenaRule(
        _rule, {"chl": "contrastive Hebbian learning (Movellan 1990)", "ep": "equilibrium propagation (Scellier & "
                "Bengio 2017)", "ep-symmetric": "symmetric equilibrium propagation (Laborieux et al. 2021)"}[_rule]
        + " on a settling rate network (plasticity.contrastive)",
        cells={"xor": _contrastive_cell(_rule), "digits": _classification_contrastive_cell(_rule, "digits"),
               "yinyang": _classification_contrastive_cell(_rule, "yinyang")},
        empty={"evidence-reward": _SUPERVISED_RULE, "pattern": _RATE_ONLY, "circle": _NO_FIXED_POINT,
               "evidence": _RATE_ONLY},
        hyperparameters={task: HYPERPARAMETERS[(_rule, task)] for task in ("xor", "digits", "yinyang")},
        discrete_weights=("xor", "digits", "yinyang")))

for _feedback in eprop.FEEDBACK_MODES:
    register_rule(ArenaRule(
        f"eprop-{_feedback}", f"e-prop with {_feedback} feedback (Bellec et al. 2020; plasticity.eprop)",
        cells={"pattern": _eprop_cell(_feedback), "circle": _eprop_cell(_feedback),
               "evidence": _evidence_eprop_cell(_feedback),
               **{task: _rate_coded_eprop_cell(_feedback) for task in ("digits", "yinyang", "xor")}},
        discrete_weights=("pattern", "circle", "evidence", "digits", "yinyang", "xor"),
        empty={"evidence-reward": _SUPERVISED_RULE},
        hyperparameters={task: HYPERPARAMETERS[(f"eprop-{_feedback}", task)]
                         for task in ("pattern", "circle", "evidence", "digits", "yinyang", "xor")}))

register_rule(ArenaRule(
    "bptt", "the exact gradient: BPTT with the pseudo-derivative (spiking, JAX), backprop (feed-forward rate, "
            "numpy), discrete BPTT (continuous-time rate, JAX)",
    cells={"xor": _xor_backprop_cell, "pattern": _pattern_bptt_cell, "circle": _circle_bptt_cell,
           "digits": _classification_backprop_cell("digits"), "yinyang": _classification_backprop_cell("yinyang"),
           "evidence": _evidence_bptt_cell},
    empty={"evidence-reward": _SUPERVISED_RULE},
    hyperparameters={task: HYPERPARAMETERS[("bptt", task)]
                     for task in ("xor", "pattern", "circle", "digits", "yinyang", "evidence")},
    discrete_weights=("xor", "pattern", "circle", "digits", "yinyang", "evidence")))

register_rule(ArenaRule(
    "bptt-srnn", "BPTT with a surrogate gradient of the adaptive SRNN (Yin, Corradi & Bohté 2021; "
                 "plasticity.srnn_bptt)",
    cells={"evidence": _evidence_srnn_cell, "digits": _rate_coded_srnn_cell, "yinyang": _rate_coded_srnn_cell},
    discrete_weights=("evidence", "digits", "yinyang"),
    empty={"evidence-reward": _SUPERVISED_RULE,
           "pattern": "the adaptive SRNN's loss is a framewise classification (softmax); the pattern is a regression",
           "xor": "the adaptive SRNN's loss is a softmax over its outputs; XOR's network has one output (2-8-1)",
           "circle": "the adaptive SRNN's loss is a framewise classification (softmax); the circle is a "
                     "regression"},
    hyperparameters={task: HYPERPARAMETERS[("bptt-srnn", task)] for task in ("evidence", "digits", "yinyang")}))

register_rule(ArenaRule(
    "ctbptt", "continuous-time BPTT, Pearlmutter's adjoint as Brian2 code (Pearlmutter 1989; plasticity.ctbptt)",
    cells={"circle": _ctbptt_cell}, discrete_weights=("circle",),
    empty={"evidence-reward": _SUPERVISED_RULE,
           "xor": "XOR is registered as a settling (fixed-point) network, which has no trajectory to follow",
           "digits": _CLASSIFICATION_NO_TRAJECTORY, "yinyang": _CLASSIFICATION_NO_TRAJECTORY,
           "pattern": _SPIKING_TASK, "evidence": _SPIKING_TASK},
    hyperparameters={"circle": HYPERPARAMETERS[("ctbptt", "circle")]}))

register_rule(ArenaRule(
    "rflo", "random-feedback local online learning of a leaky tanh RNN (Murray 2019; plasticity.rflo)",
    cells={"circle": _circle_rflo_cell}, discrete_weights=("circle",),
    empty={"evidence-reward": _SUPERVISED_RULE,
           "xor": "XOR is registered as a settling (fixed-point) network; RFLO trains trajectories",
           "digits": _CLASSIFICATION_NO_TRAJECTORY, "yinyang": _CLASSIFICATION_NO_TRAJECTORY,
           "pattern": _RATE_TASK, "evidence": _RATE_TASK},
    hyperparameters={"circle": HYPERPARAMETERS[("rflo", "circle")]}))

register_rule(ArenaRule(
    "ttfs", "time-to-first-spike learning with exact spike-time gradients (Göltz, Kriener et al. 2021; "
            "plasticity.ttfs)",
    cells={"yinyang": _ttfs_cell, "digits": _ttfs_cell},
    empty={"evidence-reward": _SUPERVISED_RULE,
           "xor": "a first-spike network reports a class by the first of several outputs to fire; XOR's network has "
                  "one output (2-8-1)",
           "pattern": "TTFS neurons fire at most once per trial; the pattern is a continuous output over the trial",
           "evidence": "TTFS neurons fire at most once per trial; the task needs memory of cues over two seconds",
           "circle": "TTFS neurons fire at most once per trial; the trajectory is a continuous output over the trial"},
    hyperparameters={task: HYPERPARAMETERS[("ttfs", task)] for task in ("yinyang", "digits")},
    discrete_weights=("yinyang", "digits")))

register_rule(ArenaRule(
    "eprop-reward", "reward-based e-prop: an actor-critic of the recurrent spiking network, random feedback, one "
                    "online update per trial (Bellec et al. 2020, Methods; plasticity.eprop_reward)",
    cells={"evidence-reward": _evidence_reward_cell}, discrete_weights=("evidence-reward",),
    empty={task: _REWARD_RULE for task in ("xor", "pattern", "circle", "digits", "yinyang", "evidence")},
    hyperparameters={"evidence-reward": HYPERPARAMETERS[("eprop-reward", "evidence-reward")]}))

for _rule, _name in (("wp", "weight perturbation (Jabri & Flower 1991)"),
                     ("np", "node perturbation (Fiete & Seung 2006)")):
    register_rule(ArenaRule(
        _rule, f"{_name}, every weight or node perturbed in parallel, the reference pass unperturbed "
               "(plasticity.perturbation_network)",
        cells={"xor": _xor_perturbation_cell(_rule), "evidence-reward": _evidence_reward_perturbation_cell(_rule),
               **{task: _classification_perturbation_cell(_rule, task) for task in ("digits", "yinyang")},
               "circle": _circle_perturbation_cell(_rule), "pattern": _pattern_perturbation_cell(_rule),
               "evidence": _evidence_perturbation_cell(_rule)},
        hyperparameters={task: HYPERPARAMETERS[(_rule, task)] for task in ("xor", "evidence-reward", "digits",
                                                                           "yinyang", "circle", "pattern",
                                                                           "evidence")},
        discrete_weights=("xor", "evidence-reward", "digits", "yinyang", "circle", "pattern", "evidence")))

register_rule(ArenaRule(
    "wp-jabri-flower", "Jabri & Flower's (1991) serial weight perturbation on their own 2-2-1 XOR network, one weight "
                       "at a time (a row of its own: not the task's network; plasticity.xor_network)",
    cells={"xor": _jabri_flower_cell},
    empty={task: "Jabri & Flower's row: their XOR network only" for task in
           ("pattern", "circle", "digits", "yinyang", "evidence", "evidence-reward")},
    hyperparameters={"xor": HYPERPARAMETERS[("wp-jabri-flower", "xor")]}, discrete_weights=("xor",)))

