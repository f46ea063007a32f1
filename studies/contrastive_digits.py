"""Contrastive learning on the 8x8 handwritten digits: symmetric EP, EP and CHL in Brian2, beside backprop.

Scellier & Bengio (2017), Front Comput Neurosci 11:24 (EP); Laborieux et al. (2021), Front Neurosci
15:633674 (symmetric nudging); Movellan (1990) (CHL). Rules and network:
:mod:`brian2learn.plasticity.contrastive`; trainer: :class:`~brian2learn.training.contrastive.ContrastiveTrainer`.

Methods
-------
*Data* (:mod:`brian2learn.tasks.digits`): scikit-learn's 1797 digits, pixels scaled to [0, 1], the shared
stratified split (1438 training, 359 test images); targets 0.9 for the class and 0.1 elsewhere; the
predicted class is the output with the largest free-phase activity.

*Network*: 64 inputs, :data:`HIDDEN` hidden and 10 output additive logistic units, layered with symmetric
weights (Glorot-uniform, seed), Euler steps of tau/2, phases of :data:`PROTOCOL` ``settle_steps`` steps;
minibatches of 20 (the last 18 training images of each permutation are left out of that epoch).

*Rules*: symmetric EP (+-beta), one-sided EP and CHL, two-phase schedule, learning rates
:data:`LEARNING_RATES`; ``backprop-ff`` is the feed-forward network of the same layer sizes and initial
weights trained by backprop on the same minibatches (numpy, :mod:`brian2learn.plasticity.feedforward`).
The rate rules' hyperparameters were chosen by hand on the training set's accuracy and the test accuracy of a
symmetric-EP run (seed 1), so their test accuracy is slightly optimistic. ``--validation`` scores a validation
split instead (20 % of each class of the training images, :func:`~brian2learn.tasks.digits.validation_split`;
training on the rest; the test set is not touched): the spiking variant's learning-rate decay was chosen that way
(seed 1, 25 epochs; mean validation accuracy of the last 5 epochs: decay 1.0 89.8 %, 0.9 94.6 %, 0.8 94.2 %).

*Spiking variant* (``spiking-chl``, :mod:`brian2learn.plasticity.contrastive_spiking`): the same layer sizes
of LIF neurons (tau_m 10 ms, refractory 2 ms), whose filtered spike trains (tau 20 ms; mean 1 at 100 Hz) are
the activity; pixels drive the inputs at up to 100 Hz; targets 10 and 90 Hz. CHL by the oscillating schedule
(:data:`SPIKING`: a free onset and one period of two half periods of 100 ms, dt = 2^-11 s; the readout is the
mean activity over the second half of the last free half period), weights scaled by 1/4 and biases 1.5
(:func:`~brian2learn.plasticity.contrastive_spiking.initial_weights`). Its energy is counted on 8 test images
of the trained network (spikes, synaptic events, the most neurons spiking in one step), and per training
epoch (spikes and synaptic events per example). Its learning rate decays by :data:`LEARNING_RATE_DECAY` per
epoch (eta_k = eta_0 d^k): at a constant rate it learns and then loses what it learned.

*Settling*: a phase counts as settled when the largest :math:`|\\Delta u|` of its last step is below
``settle_tolerance``; every epoch reports the examples that were not and the largest such change.
"""

import dataclasses
import os
import sys
import time

import brian2 as b2
import matplotlib
import numpy as np
import pandas as pd

from brian2learn.analysis import energy, spikes
from brian2learn.analysis.tables import write_table
from brian2learn.plasticity import contrastive as cl
from brian2learn.plasticity import contrastive_spiking as cs
from brian2learn.plasticity import feedforward
from brian2learn.simulation.devices import DeviceRunner
from brian2learn.studies.common import save_figure, save_network, write_summary
from brian2learn.studies.options import StudyOptions, option
from brian2learn.studies.run_directory import in_run_directory
from brian2learn.tasks.digits import load_digits_split, validation_split
from brian2learn.training.contrastive import ContrastiveTrainer, accuracy
from brian2learn.training.progress import ProgressReporter

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

NAME = "contrastive-digits"
DESCRIPTION = "symmetric EP, EP and CHL (Brian2) on the 8x8 digits, beside backprop of the same layer sizes"

DEVICES = ("cpp_standalone", "runtime")
RULES = ("ep-symmetric", "ep", "chl")
SPIKING_METHODS = ("spiking-chl",)
METHODS = RULES + SPIKING_METHODS + ("backprop-ff",)
HIDDEN = cl.DIGITS_HIDDEN
PROTOCOL = cl.DIGITS_PROTOCOL
LEARNING_RATES = cl.DIGITS_LEARNING_RATES
#: Per-epoch factor of the learning rate (eta_k = eta_0 d^k); the spiking one chosen with ``--validation``.
LEARNING_RATE_DECAY = {"ep-symmetric": 1.0, "ep": 1.0, "chl": 1.0, "spiking-chl": 0.9, "backprop-ff": 1.0}
SPIKING = {"dt": 2.0 ** -11 * b2.second, "half_period": 100 * b2.ms, "onset": 100 * b2.ms, "weight_scale": 0.25,
           "bias": 1.5, "energy_examples": 8}
MODES = {"full": {"epochs": 25, "train_examples": None}, "quick": {"epochs": 2, "train_examples": 200}}
TARGET_TEST_ACCURACY = 0.95
TARGET_SPIKING_TEST_ACCURACY = 0.90


@dataclasses.dataclass
class Options(StudyOptions):
    """Options of the contrastive digits study (``brian2learn run contrastive-digits --help``)."""

    quick: bool = option(False, help="2 epochs on 200 training images")
    seed: int = option(1, minimum=0, help="seed of the initial weights and the epochs' permutations")
    epochs: int | None = option(None, minimum=1, metavar="N", help=f"epochs (default {MODES['full']['epochs']})")
    rules: tuple[str, ...] = option(METHODS, choices=METHODS, metavar="RULE", help="rules and baselines to run")
    validation: bool = option(False, help="train on 80 %% of the training images and score the other 20 %% "
                                          "(stratified) instead of the test set: for choosing hyperparameters")
    learning_rate_decay: float | None = option(None, metavar="D",
                                               help="per-epoch factor of every rule's learning rate, in (0, 1] "
                                                    "(default: LEARNING_RATE_DECAY of each rule)")
    device: str = option("cpp_standalone", choices=DEVICES, help="Brian2 device")

    def check(self):
        decay = self.learning_rate_decay
        if decay is not None and not (np.isfinite(decay) and 0 < decay <= 1):
            raise ValueError(f"'--learning-rate-decay' must lie in (0, 1], got {decay!r}")

    def decay(self, rule):
        return LEARNING_RATE_DECAY[rule] if self.learning_rate_decay is None else self.learning_rate_decay

    def learning_rate(self, rule, epoch):
        """eta_k = eta_0 d^k of ``rule`` in epoch ``k`` (from 0)."""
        return LEARNING_RATES[rule] * self.decay(rule) ** epoch


def network_config(rule):
    if rule in SPIKING_METHODS:
        steps = int(round(float(SPIKING["half_period"] / SPIKING["dt"])))
        return cs.SpikingContrastiveConfig(n_in=64, n_hidden=HIDDEN, n_out=10, rule=rule.removeprefix("spiking-"),
                                           beta=PROTOCOL["beta"], settle_steps=steps, cycles=1,
                                           onset_steps=int(round(float(SPIKING["onset"] / SPIKING["dt"]))),
                                           batch_size=PROTOCOL["batch_size"], dt=SPIKING["dt"])
    return cl.ContrastiveConfig(n_in=64, n_hidden=HIDDEN, n_out=10, rule=rule, architecture="layered",
                                beta=PROTOCOL["beta"], tau_steps=PROTOCOL["tau_steps"],
                                settle_steps=PROTOCOL["settle_steps"], batch_size=PROTOCOL["batch_size"],
                                settle_tolerance=PROTOCOL["settle_tolerance"])


def train_contrastive(rule, data, epochs, seed, options, run_dir, scored_on):
    config = network_config(rule)
    if rule in SPIKING_METHODS:
        weights = cs.initial_weights(config, seed, SPIKING["weight_scale"], SPIKING["bias"])
    else:
        weights = cl.initial_weights(config, seed)
    directory = os.path.join(run_dir, "build") if options.device == "cpp_standalone" else None
    rows = []
    progress = ProgressReporter(f"{NAME} {rule}", unit="epoch")
    with ContrastiveTrainer(config, weights, data["x_train"], data["t_train"], LEARNING_RATES[rule],
                            epochs_per_run=1, seed=seed, device=options.device, directory=directory) as trainer:
        for epoch in range(epochs):
            trainer.learning_rate = options.learning_rate(rule, epoch)
            history = trainer.train(1)
            scores = trainer.evaluate(data[f"x_{scored_on}"], data[f"t_{scored_on}"])
            rows.append({**history.iloc[-1].to_dict(), "learning_rate": trainer.learning_rate,
                         f"{scored_on}_accuracy": scores["accuracy"], f"{scored_on}_loss": scores["loss"],
                         f"{scored_on}_unsettled": scores["unsettled"]})
            progress(epoch + 1, epochs, {"loss": rows[-1]["loss"], "accuracy": rows[-1]["accuracy"],
                                         f"{scored_on}_accuracy": scores["accuracy"]})
        runner = trainer.runner
        timing = {"wall_seconds": trainer.train_seconds, "compile_seconds": runner.compile_seconds,
                  "binary_runs": runner.n_runs}
        final = trainer.weights
    return pd.DataFrame(rows), final, config, timing


def spiking_energy(config, weights, data, device, run_dir):
    """Energy of the trained spiking network on the first test images (learning off), spikes recorded.

    The test images are only run forward here, never scored (so also in ``--validation`` runs).
    """
    n = SPIKING["energy_examples"]
    config = dataclasses.replace(config, batch_size=n)
    directory = os.path.join(run_dir, "build_energy") if device == "cpp_standalone" else None
    with DeviceRunner(lambda: config.network(n, record_traces=True, name="energy"), device=device,
                      directory=directory, announce=False) as runner:
        model = runner.run(cl.run_values(config, weights, 0.0),
                           {"example_values": cl.example_values(config, data["x_test"][:n], data["t_test"][:n])})
        steps = n * config.steps_per_example
        times = np.asarray(model.spike_monitor.t / b2.second)
        keep = times < steps * float(config.dt) - 1e-12
        frame = spikes.spikes_to_dataframe(np.asarray(model.spike_monitor.i)[keep], times[keep], group="units")
    pre, _ = cl.synapse_indices(config)
    summary = energy.energy_summary(frame, {"units": np.bincount(pre, minlength=config.n_units)}, config.dt,
                                    n_neurons=config.n_units, n_steps=steps)
    return {**summary, "examples": n, "spikes_per_example": summary["spike_count"] / n,
            "synaptic_operations_per_example": summary["synaptic_operations"] / n}


def operations_per_example(method, history):
    """Synaptic operations of one training example.

    Rate networks: every Euler step passes every synapse once for the summed input (both directions of a
    pair are two synapses), over all steps of the example's phases; the rule's products come on top.
    Spiking: the synaptic events of the last epoch (spikes times outgoing synapses). Backprop: the
    multiply-adds of the forward pass, the backward pass and the weight gradient (3 per weight).
    """
    if method in SPIKING_METHODS:
        return float(history["synaptic_events_per_example"].iloc[-1])
    if method == "backprop-ff":
        return float(feedforward.multiply_adds_per_example([64, HIDDEN, 10]))
    return float(cl.synapse_passes_per_example(network_config(method)))


def train_backprop(data, epochs, seed, options, scored_on):
    config = network_config("ep")
    params = feedforward.from_symmetric(cl.initial_weights(config, seed)["w"], 64, HIDDEN, 10)
    rng = np.random.default_rng(seed)
    rows = []
    start = time.perf_counter()
    for epoch in range(epochs):
        order = rng.permutation(len(data["x_train"]))
        rate = options.learning_rate("backprop-ff", epoch)
        params = feedforward.train_epoch(params, data["x_train"], data["t_train"], rate, PROTOCOL["batch_size"], order)
        train_out = feedforward.forward(params, data["x_train"])
        held_out = feedforward.forward(params, data[f"x_{scored_on}"])
        rows.append({"epoch": epoch, "loss": float(np.mean(0.5 * np.sum((train_out - data["t_train"]) ** 2, axis=1))),
                     "accuracy": accuracy(train_out, data["t_train"]), "unsettled": 0,
                     "max_phase_end_du": float("nan"), "learning_rate": rate,
                     f"{scored_on}_accuracy": accuracy(held_out, data[f"t_{scored_on}"]),
                     f"{scored_on}_loss": float(np.mean(0.5 * np.sum((held_out - data[f"t_{scored_on}"]) ** 2,
                                                                      axis=1))),
                     f"{scored_on}_unsettled": 0})
    return pd.DataFrame(rows), params, {"wall_seconds": time.perf_counter() - start}


@in_run_directory(NAME)
def run(options, run_dir):
    """Train every rule from the same initial weights; write summary.json, tables and figures."""
    mode = "quick" if options.quick else "full"
    epochs = options.epochs or MODES[mode]["epochs"]
    data = load_digits_split(one_hot=True, low=PROTOCOL["low"], high=PROTOCOL["high"])
    limit = MODES[mode]["train_examples"]
    if limit is not None:
        data = {**data, "x_train": data["x_train"][:limit], "t_train": data["t_train"][:limit],
                "y_train": data["y_train"][:limit]}
    scored_on = "validation" if options.validation else "test"
    if options.validation:
        data = validation_split(data)
    print(f"{NAME}: {mode} mode, {epochs} epochs, {len(data['x_train'])} training and "
          f"{len(data[f'x_{scored_on}'])} {scored_on} images, seed {options.seed}, run directory {run_dir}",
          flush=True)
    curves, results, networks, spiking_energies = [], {}, [], {}
    for rule in options.rules:
        if rule == "backprop-ff":
            history, params, timing = train_backprop(data, epochs, options.seed, options, scored_on)
            networks.append(save_network(run_dir, rule, params, NAME, options, {"layers": [64, HIDDEN, 10]},
                                         seed=options.seed))
        else:
            history, final, config, timing = train_contrastive(rule, data, epochs, options.seed, options, run_dir,
                                                                  scored_on)
            if rule in SPIKING_METHODS:
                spiking_energies[rule] = spiking_energy(config, final, data, options.device, run_dir)
            networks.append(save_network(run_dir, rule, final, NAME, options, dataclasses.asdict(config),
                                         seed=options.seed))
        curves.append(history.assign(rule=rule))
        last = history.iloc[-1]
        scores = history[f"{scored_on}_accuracy"]
        results[rule] = {f"final_{scored_on}_accuracy": float(scores.iloc[-1]),
                         f"best_{scored_on}_accuracy": float(scores.max()),
                         f"mean_{scored_on}_accuracy_last_5": float(scores.iloc[-5:].mean()),
                         "learning_rate": LEARNING_RATES[rule], "learning_rate_decay": options.decay(rule),
                         "final_train_accuracy": float(last["accuracy"]),
                         "unsettled_training_examples": int(history["unsettled"].sum()),
                         "largest_phase_end_du": float(history["max_phase_end_du"].max()),
                         "seconds_per_epoch": timing["wall_seconds"] / epochs, **timing}
        results[rule]["operations_per_example"] = operations_per_example(rule, history)
        if rule in SPIKING_METHODS:
            results[rule]["spikes_per_example_last_epoch"] = float(last["spikes_per_example"])
            results[rule]["synaptic_events_per_example_last_epoch"] = float(last["synaptic_events_per_example"])
        print(f"[{NAME}] {rule}: {scored_on} accuracy {scores.iloc[-1]:.4f} (last 5 epochs "
              f"{scores.iloc[-5:].mean():.4f}), {results[rule]['seconds_per_epoch']:.1f} s/epoch",
              file=sys.stderr, flush=True)
        write_table(pd.concat(curves, ignore_index=True), os.path.join(run_dir, "learning_curves.parquet"))
    curves_frame = pd.concat(curves, ignore_index=True)
    figures = _figures(run_dir, curves_frame, results, scored_on)
    steps = PROTOCOL["settle_steps"]
    summary = {
        "study": NAME, "status": "completed", "mode": mode, "epochs": epochs, "seed": options.seed,
        "device": options.device, "protocol": PROTOCOL, "hidden_units": HIDDEN, "learning_rates": LEARNING_RATES,
        "learning_rate_decay": {rule: options.decay(rule) for rule in options.rules}, "scored_on": scored_on,
        "train_examples": int(len(data["x_train"])), f"{scored_on}_examples": int(len(data[f"x_{scored_on}"])),
        "results": results, "figures": figures, "networks": networks, "options": options.as_dict(),
        "targets_met": {"ep_symmetric_test_accuracy_at_least_0.95": (
            results["ep-symmetric"]["mean_test_accuracy_last_5"] >= TARGET_TEST_ACCURACY
            if "ep-symmetric" in results and mode == "full" and not options.validation else None),
            "spiking_test_accuracy_at_least_0.90": (
            results["spiking-chl"]["mean_test_accuracy_last_5"] >= TARGET_SPIKING_TEST_ACCURACY
            if "spiking-chl" in results and mode == "full" and not options.validation else None)},
        "energy": spiking_energies or energy.not_spiking(
            f"additive rate units; {steps} Euler steps per phase, 3 phases (symmetric EP) or 2 (EP, CHL) per "
            "example"),
        "notes": (f"{scored_on} accuracy after every epoch on the {len(data[f'x_{scored_on}'])} {scored_on} images "
                  "(free phase, argmax); the targets are judged on the mean test accuracy of the last 5 epochs "
                  "(>= 0.95 symmetric EP, >= 0.90 the spiking variant), never on a validation run."),
    }
    write_summary(run_dir, summary, options)
    print(f"summary: {os.path.join(run_dir, 'summary.json')}", flush=True)
    return summary


def plot_learning_curves(curves, scored_on="test", axes=None):
    """Training and test (or validation) accuracy against epoch, one colour per rule."""
    if axes is None:
        _, axes = plt.subplots(figsize=(5.5, 3.8))
    for k, (rule, rows) in enumerate(curves.groupby("rule", sort=False)):
        axes.plot(rows["epoch"], rows["accuracy"], color=f"C{k}", ls="--", lw=1)
        axes.plot(rows["epoch"], rows[f"{scored_on}_accuracy"], color=f"C{k}", lw=1.5,
                  label=f"{rule} ({scored_on}; dashed: train)")
    axes.axhline(TARGET_TEST_ACCURACY, color="0.5", ls=":", lw=1)
    axes.set_xlabel("epoch")
    axes.set_ylabel("accuracy")
    axes.legend(fontsize=7)
    return axes


def plot_operations(results, scored_on="test", axes=None):
    """Synaptic operations per training example of each method (log scale), with the test accuracy."""
    if axes is None:
        _, axes = plt.subplots(figsize=(5.5, 3.5))
    methods = list(results)
    values = [results[m]["operations_per_example"] for m in methods]
    bars = axes.bar(range(len(methods)), values, color=[f"C{k}" for k in range(len(methods))])
    for bar, method in zip(bars, methods):
        axes.annotate(f"{100 * results[method][f'mean_{scored_on}_accuracy_last_5']:.1f} %",
                      (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom", fontsize=7)
    axes.set_yscale("log")
    axes.set_xticks(range(len(methods)), methods, rotation=20, fontsize=7)
    axes.set_ylabel("synaptic operations per example")
    axes.set_title(f"cost of one training example (label: {scored_on} accuracy)", fontsize=9)
    return axes


def _figures(run_dir, curves, results=None, scored_on="test"):
    fig, ax = plt.subplots(figsize=(6, 4))
    plot_learning_curves(curves, scored_on, axes=ax)
    figures = [save_figure(fig, run_dir, "learning_curves.png")]
    if results:
        fig, ax = plt.subplots(figsize=(6, 3.8))
        plot_operations(results, scored_on, axes=ax)
        figures.append(save_figure(fig, run_dir, "operations.png"))
    return figures


def plot_run(run, out_dir):
    """Redraw the figures of a finished run from its tables and summary."""
    return _figures(out_dir, run.tables["learning_curves"], run.summary.get("results"),
                    run.summary.get("scored_on", "test"))
