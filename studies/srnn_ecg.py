"""Adaptive spiking RNNs on ECG wave segmentation (Yin, Corradi & Bohté 2021), trained in JAX, run in Brian2.

Yin, Corradi & Bohté (2021), "Accurate and efficient time-domain classification with adaptive spiking recurrent
neural networks", Nat Mach Intell 3:905, doi:10.1038/s42256-021-00397-w. Data: the authors' preprocessed QT
Database (:mod:`brian2learn.tasks.qtdb_ecg`; Laguna et al. 1997; Goldberger et al. 2000).

Methods
-------
*Task*: 618 training and 141 test sequences of 1301 steps, 4 level-crossing inputs, a label (one of six waveform
segments) at every step; accuracy is framewise over steps 10 .. 1300 of the test set, after the last epoch (no
selection on the test set).

*Network* (:mod:`brian2learn.models.adaptive_srnn`): 4-36-6 as in the authors' script, the hidden layer recurrent
and non-adaptive, the output layer adaptive and read from its membranes; per-neuron time constants.

*Training* (:mod:`brian2learn.plasticity.srnn_bptt`, :class:`~brian2learn.training.framewise.FramewiseTrainer`):
BPTT with the multi-Gaussian surrogate, framewise NLL, Adam lr 1e-2 (time constants x3 hidden, x2 output), halved
every 100 epochs, batches of 64, 400 epochs; test accuracy is also recorded every ``eval_every`` epochs for the
learning curve.

*Variants* on the same data and budget (:data:`VARIANTS`): the authors' network (``srnn``, seeds ``seed ..
seed + seeds - 1``), the same with an adaptive hidden layer, without adaptation (beta = 0 everywhere), with fixed
time constants, the authors' plain LIF (reset to zero, fixed decay), and two non-spiking RNNs of 36 units
(:mod:`brian2learn.plasticity.rnn_baselines`: GRU and tanh) with a linear readout. *Ablation*: the authors' network
with each surrogate of :data:`~brian2learn.plasticity.srnn_bptt.SURROGATES` (seed ``seed``).

*Brian2 in the loop of evaluation*: the trained ``srnn`` network of seed ``seed`` (weights and per-neuron decay
factors) runs on the whole test set in Brian2 (``cpp_standalone``, one build, all sequences as copies of the network)
from the same initial state as the JAX forward; spikes are compared neuron-step by neuron-step, and every sequence
where they differ is traced to the first differing spike and its margin :math:`|u - \\theta|` in JAX (a tie is a
margin below 1e-9).

*Energy* (per step of a sequence, on the test set): the SNN's accumulates (one per input event and fan-out, one
per hidden spike and fan-out, the neuron updates' additions and spike resets) and multiply-accumulates (the neuron
state updates, :func:`~brian2learn.models.adaptive_srnn.operations_per_neuron_step`), against the RNNs'
multiply-accumulates (:func:`~brian2learn.plasticity.rnn_baselines.operations_per_step`); energy at 0.9 pJ per
accumulate and 4.6 pJ per multiply-accumulate (Horowitz 2014, 45 nm; :func:`~brian2learn.analysis.energy.
operation_energy_pj`).

Cells (one variant, surrogate and seed each) are independent; each is saved when done (``cells/``), ``--resume``
skips the cells already saved, and ``--workers 2`` trains two at a time.
"""

import concurrent.futures
import dataclasses
import json
import multiprocessing
import os
import time

import matplotlib
import numpy as np
import pandas as pd

from brian2learn.analysis import energy
from brian2learn.analysis.tables import write_table
from brian2learn.models import adaptive_srnn
from brian2learn.studies.common import StudyError, jax_available, save_figure, write_summary
from brian2learn.studies.options import StudyOptions, option
from brian2learn.studies.run_directory import in_run_directory
from brian2learn.tasks import qtdb_ecg

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

NAME = "srnn-ecg"
DESCRIPTION = "adaptive spiking RNN (JAX BPTT, Brian2 evaluation) on QT Database ECG segmentation (Yin et al. 2021)"
#: variant -> (hidden kind, output kind, time constants learned) for SRNNs, or the cell of a non-spiking RNN.
VARIANTS = {
    "srnn": ("non-adaptive", "adaptive", True),
    "srnn-adaptive-hidden": ("adaptive", "adaptive", True),
    "no-adaptation": ("non-adaptive", "non-adaptive", True),
    "fixed-tau": ("non-adaptive", "adaptive", False),
    "lif": ("lif", "lif", False),
    "gru": "gru",
    "tanh-rnn": "tanh",
}
SURROGATES = ("multi-gaussian", "gaussian", "linear", "slayer")
N_HIDDEN = 36
#: The script's header: 36 recurrent neurons give 84.4 % on the test set.
TARGET_ACCURACY = 0.84
MODES = {"full": {"epochs": 400, "train": None, "test": None, "steps": None},
         "quick": {"epochs": 2, "train": 48, "test": 24, "steps": 200}}
TIE_MARGIN = 1e-9
DEVICES = ("cpp_standalone", "runtime")


@dataclasses.dataclass
class Options(StudyOptions):
    """Options of the srnn-ecg study (``brian2learn run srnn-ecg --help``)."""

    RESUMABLE = True

    quick: bool = option(False, help="2 epochs on 48 training and 24 test sequences cut to 200 steps (checks the "
                                     "pipeline)")
    seed: int = option(1, minimum=0, help="first seed (default 1)")
    seeds: int = option(3, minimum=1, metavar="K", help="seeds of the authors' network: seed .. seed+K-1 (default 3)")
    epochs: int | None = option(None, minimum=1, metavar="N", help="override the number of epochs (400)")
    variants: tuple[str, ...] = option(tuple(VARIANTS), choices=tuple(VARIANTS), metavar="VARIANT",
                                       help=f"variants to train (default all: {', '.join(VARIANTS)})")
    surrogates: tuple[str, ...] = option(SURROGATES, choices=SURROGATES, metavar="KIND",
                                         help="surrogates of the ablation on the authors' network (default all)")
    eval_every: int = option(10, minimum=1, metavar="K", help="test accuracy every K epochs for the learning curve")
    workers: int = option(1, minimum=1, metavar="K", help="cells trained at once (processes)")
    device: str = option("cpp_standalone", choices=DEVICES, help="Brian2 device of the evaluation")
    no_brian2: bool = option(False, help="skip the Brian2 evaluation")


# -- protocol -------------------------------------------------------------------------------------------------
def load_data(mode):
    """Train and test sets of ``mode`` (the quick protocol cuts them)."""
    setting = MODES[mode]
    x, y = qtdb_ecg.load_qtdb("train")
    x_test, y_test = qtdb_ecg.load_qtdb("test")
    steps = setting["steps"] or x.shape[1]
    return {"x": x[:setting["train"], :steps], "y": y[:setting["train"], :steps],
            "x_test": x_test[:setting["test"], :steps], "y_test": y_test[:setting["test"], :steps]}


def cells_of(options):
    """The cells to train: dicts with ``key``, ``variant``, ``surrogate`` (SRNNs) and ``seed``."""
    cells = []
    for variant in options.variants:
        spiking = not isinstance(VARIANTS[variant], str)
        seeds = range(options.seed, options.seed + options.seeds) if variant == "srnn" else [options.seed]
        for seed in seeds:
            surrogate = "multi-gaussian" if spiking else None
            cells.append({"variant": variant, "surrogate": surrogate, "seed": seed})
    if "srnn" in options.variants:  # the ablation last: the comparison of variants comes first
        cells += [{"variant": "srnn", "surrogate": kind, "seed": options.seed}
                  for kind in options.surrogates if kind != "multi-gaussian"]
    for cell in cells:
        cell["key"] = f"{cell['variant']}-{cell['surrogate'] or 'rnn'}-seed{cell['seed']}"
    return cells


def architecture_of(variant):
    hidden, output, _ = VARIANTS[variant]
    return adaptive_srnn.SrnnArchitecture(qtdb_ecg.N_INPUTS, N_HIDDEN, len(qtdb_ecg.SEGMENTS), hidden, output)


def make_objective(cell, n_epochs):
    """The trained model of a cell: an SRNN or RNN objective with the script's optimizer settings."""
    from brian2learn.plasticity import rnn_baselines, srnn_bptt

    spec = VARIANTS[cell["variant"]]
    if isinstance(spec, str):
        params = rnn_baselines.initial_parameters(spec, qtdb_ecg.N_INPUTS, N_HIDDEN, len(qtdb_ecg.SEGMENTS),
                                                  cell["seed"])
        return rnn_baselines.RnnObjective(spec, params, scored_from=qtdb_ecg.SCORED_FROM)
    architecture = architecture_of(cell["variant"])
    training = srnn_bptt.SrnnTraining(epochs=n_epochs, surrogate=cell["surrogate"], learn_tau=spec[2],
                                      scored_from=qtdb_ecg.SCORED_FROM, seed=cell["seed"])
    return srnn_bptt.SrnnObjective(architecture, srnn_bptt.initial_parameters(architecture, cell["seed"]), training)


def test_forward(cell, objective, params, data):
    """Accuracy, predictions and (SRNNs) spikes of ``params`` on the test set."""
    from brian2learn.plasticity import srnn_bptt

    if isinstance(VARIANTS[cell["variant"]], str):
        return objective.evaluate(params, data["x_test"], data["y_test"], qtdb_ecg.SCORED_FROM)
    return srnn_bptt.evaluate(objective.architecture, params, data["x_test"], data["y_test"], qtdb_ecg.SCORED_FROM,
                              batch_size=64)


def operations(cell, result, data):
    """Operations per sequence step on the test set (module docstring), and their energy in pJ."""
    from brian2learn.plasticity import rnn_baselines

    spec = VARIANTS[cell["variant"]]
    n_in, n_out = qtdb_ecg.N_INPUTS, len(qtdb_ecg.SEGMENTS)
    if isinstance(spec, str):
        counts = rnn_baselines.operations_per_step(spec, n_in, N_HIDDEN, n_out)
        accumulates, macs = 0.0, float(counts["macs"])
        extra = {"activations": counts["activations"]}
    else:
        hidden_kind, output_kind, _ = spec
        sequence_steps = data["x_test"].shape[0] * data["x_test"].shape[1]
        input_events = np.count_nonzero(data["x_test"]) / sequence_steps
        hidden_rate = result["hidden_spikes"].sum() / sequence_steps
        output_rate = result["output_spikes"].sum() / sequence_steps
        neuron = {kind: adaptive_srnn.operations_per_neuron_step(kind) for kind in (hidden_kind, output_kind)}
        synaptic = input_events * N_HIDDEN + hidden_rate * (N_HIDDEN + n_out)
        accumulates = (synaptic + N_HIDDEN * neuron[hidden_kind]["accumulates"] + n_out *
                       neuron[output_kind]["accumulates"] + hidden_rate * adaptive_srnn.operations_per_spike(
                           hidden_kind) + output_rate * adaptive_srnn.operations_per_spike(output_kind))
        macs = float(N_HIDDEN * neuron[hidden_kind]["macs"] + n_out * neuron[output_kind]["macs"])
        extra = {"synaptic_operations": float(synaptic), "input_events": float(input_events),
                 "hidden_spikes": float(hidden_rate), "output_spikes": float(output_rate)}
    return {"accumulates": float(accumulates), "macs": macs,
            "energy_pj": energy.operation_energy_pj(accumulates, macs), **extra}


def train_cell(cell, mode, n_epochs, eval_every, cells_dir):
    """Train one cell, evaluate it on the test set after the last epoch, save it; returns its record."""
    from brian2learn.plasticity import rnn_baselines
    from brian2learn.training.framewise import FramewiseTrainer

    data = load_data(mode)
    objective = make_objective(cell, n_epochs)
    trainer = FramewiseTrainer(objective, batch_size=64, seed=cell["seed"], scored_from=qtdb_ecg.SCORED_FROM)
    curve = []
    start = time.perf_counter()
    for epoch in range(n_epochs):
        row = trainer.train_epoch(data["x"], data["y"])
        if (epoch + 1) % eval_every == 0 or epoch + 1 == n_epochs:
            row["test_accuracy"] = test_forward(cell, objective, trainer.parameters(), data)["accuracy"]
            print(f"[{NAME} {cell['key']}] epoch {epoch + 1}/{n_epochs}  loss {row['loss']:.4f}  train "
                  f"{row['train_accuracy']:.4f}  test {row['test_accuracy']:.4f}  ({row['seconds']:.2f} s/epoch)",
                  flush=True)
        curve.append(row)
    wall = time.perf_counter() - start
    params = trainer.parameters()
    result = test_forward(cell, objective, params, data)
    record = {**cell, "epochs": n_epochs, "test_accuracy": result["accuracy"],
              "train_accuracy": curve[-1]["train_accuracy"], "final_loss": curve[-1]["loss"],
              "wall_seconds": wall, "seconds_per_epoch": float(np.mean([r["seconds"] for r in curve[1:]] or
                                                                      [curve[0]["seconds"]])),
              "parameters": rnn_baselines.parameter_count(objective.groups),
              "operations": operations(cell, result, data),
              "history": curve}
    np.savez(os.path.join(cells_dir, f"{cell['key']}.npz"), **params)
    temporary = os.path.join(cells_dir, f".{cell['key']}.json.tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(record, handle)
    os.replace(temporary, os.path.join(cells_dir, f"{cell['key']}.json"))
    return record


def _worker_init():
    # one process per cell: keep XLA to one thread so that two workers share the two cores
    os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")


def train_cells(cells, mode, n_epochs, options, cells_dir):
    """Train the cells not yet saved (``workers`` at once); returns every cell's record."""
    records, todo = {}, []
    for cell in cells:
        path = os.path.join(cells_dir, f"{cell['key']}.json")
        if os.path.exists(path) and options.resume:
            with open(path, encoding="utf-8") as handle:
                records[cell["key"]] = json.load(handle)
            print(f"[{NAME}] {cell['key']}: saved by the interrupted run, not trained again", flush=True)
        else:
            todo.append(cell)
    if options.workers == 1 or len(todo) <= 1:
        for cell in todo:
            records[cell["key"]] = train_cell(cell, mode, n_epochs, options.eval_every, cells_dir)
    else:
        context = multiprocessing.get_context("spawn")  # JAX does not survive fork
        with concurrent.futures.ProcessPoolExecutor(options.workers, mp_context=context,
                                                    initializer=_worker_init) as pool:
            futures = {pool.submit(train_cell, cell, mode, n_epochs, options.eval_every, cells_dir): cell
                       for cell in todo}
            for future in concurrent.futures.as_completed(futures):
                records[futures[future]["key"]] = future.result()
    return [records[cell["key"]] for cell in cells]


def brian2_check(params, data, device, run_dir):
    """The trained network in Brian2 on the test set, spike by spike against the JAX forward (module docstring)."""
    from brian2learn.plasticity import srnn_bptt
    from brian2learn.simulation.devices import DeviceRunner

    architecture = architecture_of("srnn")
    x, y = data["x_test"], data["y_test"]
    reference = srnn_bptt.evaluate(architecture, params, x, y, qtdb_ecg.SCORED_FROM, batch_size=64)
    directory = os.path.join(run_dir, "build") if device == "cpp_standalone" else None
    start = time.perf_counter()
    runner = DeviceRunner(lambda: adaptive_srnn.Brian2Srnn(architecture, len(x), x.shape[1]), device=device,
                          directory=directory)
    with runner:
        model = runner.run()
        checked = adaptive_srnn.check_parameters(architecture, params)
        model = runner.run(model.values(checked), model.stimuli(x))
        result = model.results()
        compile_seconds = runner.compile_seconds
    wall = time.perf_counter() - start
    predictions = np.argmax(result["output_membrane"], axis=-1)
    accuracy = float(np.mean(predictions[:, qtdb_ecg.SCORED_FROM:] == y[:, qtdb_ecg.SCORED_FROM:]))
    differ = (result["hidden_spikes"] != reference["hidden_spikes"]).sum(axis=(1, 2)) + \
        (result["output_spikes"] != reference["output_spikes"]).sum(axis=(1, 2))
    traced = []
    for sequence in np.flatnonzero(differ):
        first = {}
        for layer in ("hidden", "output"):
            mismatch = np.argwhere(result[f"{layer}_spikes"][sequence] != reference[f"{layer}_spikes"][sequence])
            if len(mismatch):
                step, neuron = mismatch[0]
                first[layer] = (int(step), int(neuron), float(abs(reference[f"v_{layer}"][sequence, step, neuron])))
        layer = min(first, key=lambda name: first[name][0])
        step, neuron, margin = first[layer]
        traced.append({"sequence": int(sequence), "layer": layer, "step": step, "neuron": neuron,
                       "jax_margin": margin, "tie": margin < TIE_MARGIN})
    total = result["hidden_spikes"].size + result["output_spikes"].size
    return {"device": device, "sequences": int(len(x)), "neuron_steps": int(total),
            "identical_fraction": 1.0 - float(differ.sum()) / total, "differing_neuron_steps": int(differ.sum()),
            "sequences_differing": traced, "all_differences_ties": all(item["tie"] for item in traced),
            "brian2_accuracy": accuracy, "jax_accuracy": reference["accuracy"],
            "accuracy_difference": abs(accuracy - reference["accuracy"]),
            "max_output_membrane_difference": float(np.max(np.abs(result["output_membrane"] - reference["u_out"]))),
            "wall_seconds": wall, "compile_seconds": compile_seconds}, result


def energy_entry(result, data):
    """The summary's ``energy`` entry from the Brian2 spikes of the test set (sequences as trials)."""
    frames = []
    for layer, offset in (("hidden", 0), ("output", N_HIDDEN)):
        sequence, step, neuron = np.nonzero(result[f"{layer}_spikes"])
        frames.append(pd.DataFrame({"neuron": neuron + offset, "t_s": step * float(adaptive_srnn.STEP),
                                    "trial": sequence, "group": "srnn"}))
    spikes = pd.concat(frames, ignore_index=True)
    degree = np.concatenate([np.full(N_HIDDEN, N_HIDDEN + len(qtdb_ecg.SEGMENTS)), np.zeros(len(qtdb_ecg.SEGMENTS))])
    n_steps = data["x_test"].shape[0] * data["x_test"].shape[1]
    return energy.energy_summary(spikes, degree, adaptive_srnn.STEP, n_neurons=len(degree), n_steps=n_steps)


# -- results --------------------------------------------------------------------------------------------------
def results_table(records):
    """One row per cell: accuracy, trained parameters, cost and energy per step."""
    rnn_energy = {r["variant"]: r["operations"]["energy_pj"] for r in records if r["surrogate"] is None}
    rows = []
    for r in records:
        ops = r["operations"]
        rows.append({"cell": r["key"], "variant": r["variant"], "surrogate": r["surrogate"] or "", "seed": r["seed"],
                     "test_accuracy": r["test_accuracy"], "train_accuracy": r["train_accuracy"],
                     "parameters": r["parameters"], "seconds_per_epoch": r["seconds_per_epoch"],
                     "spikes_per_neuron_step": ops.get("hidden_spikes", 0.0) / N_HIDDEN if r["surrogate"] else 0.0,
                     "accumulates_per_step": ops["accumulates"], "macs_per_step": ops["macs"],
                     "energy_pj_per_step": ops["energy_pj"],
                     "gru_energy_ratio": rnn_energy.get("gru", np.nan) / ops["energy_pj"]})
    return pd.DataFrame(rows)


def curves_table(records):
    rows = [{"cell": r["key"], "variant": r["variant"], "surrogate": r["surrogate"] or "", "seed": r["seed"],
             **row} for r in records for row in r["history"]]
    return pd.DataFrame(rows)


def plot_curves(curves, axes=None):
    """Test accuracy against epochs, one line per cell with the multi-Gaussian surrogate or no spikes."""
    axes = axes or plt.subplots(figsize=(6, 4))[1]
    shown = curves[(curves["surrogate"].isin(["multi-gaussian", ""])) & curves["test_accuracy"].notna()]
    for cell, part in shown.groupby("cell", sort=False):
        axes.plot(part["epoch"] + 1, 100 * part["test_accuracy"], label=cell)
    axes.axhline(100 * TARGET_ACCURACY, color="k", linestyle=":", linewidth=1, label="script's 84.4 %")
    axes.set_xlabel("epoch")
    axes.set_ylabel("test accuracy (%)")
    axes.legend(fontsize=6)
    return axes


def plot_surrogates(table, axes=None):
    """Test accuracy of the authors' network against the surrogate (seed of the ablation)."""
    axes = axes or plt.subplots(figsize=(4, 3))[1]
    part = table[(table["variant"] == "srnn") & (table["seed"] == table["seed"].min())]
    axes.bar(part["surrogate"], 100 * part["test_accuracy"])
    axes.set_ylabel("test accuracy (%)")
    axes.set_ylim(max(0.0, 100 * part["test_accuracy"].min() - 10), 100)
    axes.tick_params(axis="x", labelrotation=30)
    return axes


def plot_time_constants(params, axes=None):
    """Histograms of the learned time constants of the authors' network."""
    axes = axes if axes is not None else plt.subplots(1, 2, figsize=(8, 3))[1]
    for ax, names in zip(axes, (("tau_m_h", "tau_m_o"), ("tau_adp_h", "tau_adp_o"))):
        for name in names:
            ax.hist(params[name], bins=20, alpha=0.6, label=name)
        ax.set_xlabel("time constant (steps = ms)")
        ax.legend(fontsize=7)
    return axes


def plot_example(result, data, sequence=0, axes=None):
    """A test sequence: labels and predictions, and the hidden raster (Brian2's spikes)."""
    axes = axes if axes is not None else plt.subplots(2, 1, figsize=(8, 4), sharex=True)[1]
    predictions = np.argmax(result["output_membrane"][sequence], axis=-1)
    axes[0].plot(data["y_test"][sequence], label="label", linewidth=2)
    axes[0].plot(predictions, label="prediction (Brian2)", linewidth=1)
    axes[0].set_yticks(range(len(qtdb_ecg.SEGMENTS)), qtdb_ecg.SEGMENTS)
    axes[0].legend(fontsize=7)
    step, neuron = np.nonzero(result["hidden_spikes"][sequence])
    axes[1].scatter(step, neuron, s=0.5, color="k")
    axes[1].set_xlabel("step (ms)")
    axes[1].set_ylabel("hidden neuron")
    return axes


# -- the run --------------------------------------------------------------------------------------------------
@in_run_directory(NAME)
def run(options, run_dir):
    """Train every cell, check the authors' network in Brian2, write summary.json, tables and figures."""
    if not jax_available():
        raise StudyError("srnn-ecg trains with JAX: pip install 'brian2learn[bptt]'")
    mode = "quick" if options.quick else "full"
    n_epochs = options.epochs or MODES[mode]["epochs"]
    cells = cells_of(options)
    print(f"{NAME}: {mode} mode, {n_epochs} epochs, {len(cells)} cells, {options.workers} worker(s), run directory "
          f"{run_dir}", flush=True)
    cells_dir = os.path.join(run_dir, "cells")
    os.makedirs(cells_dir, exist_ok=True)
    records = train_cells(cells, mode, n_epochs, options, cells_dir)
    table = results_table(records)
    curves = curves_table(records)
    write_table(table, os.path.join(run_dir, "results.parquet"))
    write_table(curves, os.path.join(run_dir, "curves.parquet"))
    data = load_data(mode)
    summary = {"study": NAME, "mode": mode, "epochs": n_epochs, "options": options.as_dict(),
               "cells": {r["key"]: {k: r[k] for k in ("variant", "surrogate", "seed", "test_accuracy",
                                                      "train_accuracy", "parameters", "seconds_per_epoch",
                                                      "wall_seconds", "operations")} for r in records}}
    main = [r for r in records if r["variant"] == "srnn" and r["surrogate"] == "multi-gaussian"]
    if main:
        accuracies = [r["test_accuracy"] for r in main]
        summary["srnn_test_accuracy"] = {"seeds": [r["seed"] for r in main], "values": accuracies,
                                         "mean": float(np.mean(accuracies))}
        first = main[0]
        summary["targets"] = {"test_accuracy_seed_first": first["test_accuracy"], "target": TARGET_ACCURACY,
                              "met": bool(first["test_accuracy"] >= TARGET_ACCURACY)}
        params = dict(np.load(os.path.join(cells_dir, f"{first['key']}.npz")))
        fig, axes = plt.subplots(1, 2, figsize=(8, 3))
        plot_time_constants(params, axes)
        fig.suptitle(f"learned time constants (srnn, seed {first['seed']})")
        save_figure(fig, run_dir, "time_constants.png")
        summary["time_constants"] = {name: {"mean": float(np.mean(v)), "std": float(np.std(v)),
                                            "min": float(np.min(v)), "max": float(np.max(v))}
                                     for name, v in params.items() if name.startswith("tau")}
        if not options.no_brian2:
            check, result = brian2_check(params, data, options.device, run_dir)
            summary["brian2"] = check
            summary["energy"] = energy_entry(result, data)
            print(f"[{NAME}] Brian2 ({options.device}) on {check['sequences']} test sequences: "
                  f"{100 * check['identical_fraction']:.4f} % of neuron-steps identical to JAX, accuracy "
                  f"{check['brian2_accuracy']:.4f} (JAX {check['jax_accuracy']:.4f})", flush=True)
            fig, axes = plt.subplots(2, 1, figsize=(8, 4), sharex=True)
            plot_example(result, data, axes=axes)
            save_figure(fig, run_dir, "example.png")
    if "energy" not in summary:
        summary["energy"] = energy.not_spiking("the Brian2 evaluation was skipped")
    fig, ax = plt.subplots(figsize=(6, 4))
    plot_curves(curves, ax)
    save_figure(fig, run_dir, "learning_curves.png")
    if (table["variant"] == "srnn").sum() > 1:
        fig, ax = plt.subplots(figsize=(4, 3))
        plot_surrogates(table, ax)
        save_figure(fig, run_dir, "surrogates.png")
    write_summary(run_dir, summary, options)
    print(table[["cell", "test_accuracy", "parameters", "spikes_per_neuron_step", "energy_pj_per_step",
                 "gru_energy_ratio"]].to_string(index=False), flush=True)
    return summary
