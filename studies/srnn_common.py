"""What the adaptive-SRNN studies (``srnn-ecg``, ``srnn-sequential-digits``) share: variants, cells, evaluation.

A study is a :class:`SrnnTask` (sizes, scored steps, where its data come from, its target) and this module's
protocol (the methods sections of the two studies describe it):

- *cells*: one variant, surrogate and seed each (:func:`cells_of`), trained independently by
  :func:`train_cell` (the framewise trainer, test accuracy after the last epoch and every ``eval_every``
  epochs), saved in ``cells/`` when done, so that ``--resume`` skips them and ``--workers`` trains several at
  once in spawned processes;
- *Brian2 in the loop of evaluation* (:func:`brian2_check`): the trained network of the first seed on the whole
  test set in Brian2, spike by spike against the JAX forward, differences traced to threshold ties;
- *energy per step* (:func:`operations`) and the summary's ``energy`` entry from Brian2's spikes.
"""

import concurrent.futures
import dataclasses
import importlib
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

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

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
TIE_MARGIN = 1e-9
DEVICES = ("cpp_standalone", "runtime")


@dataclasses.dataclass(frozen=True)
class SrnnTask:
    """One study's task and network sizes.

    ``module`` names the study module, whose ``load_data(mode)`` returns ``x``, ``y``, ``x_test``, ``y_test``
    (inputs (n, T, n_in), labels (n, T)); worker processes import it from there.
    """

    study: str
    module: str
    n_in: int
    n_hidden: int
    n_out: int
    scored_from: int
    target: float
    target_label: str
    class_names: tuple = ()
    batch_size: int = 64
    learning_rate: float = 1e-2

    def data(self, mode):
        return importlib.import_module(self.module).load_data(mode)


@dataclasses.dataclass
class SrnnOptions(StudyOptions):
    """Options both SRNN studies have (each study's ``Options`` adds its own help and protocol)."""

    RESUMABLE = True

    seed: int = option(1, minimum=0, help="first seed (default 1)")
    seeds: int = option(3, minimum=1, metavar="K", help="seeds of the authors' network: seed .. seed+K-1 (default 3)")
    epochs: int | None = option(None, minimum=1, metavar="N", help="override the number of epochs")
    variants: tuple[str, ...] = option(tuple(VARIANTS), choices=tuple(VARIANTS), metavar="VARIANT",
                                       help=f"variants to train (default all: {', '.join(VARIANTS)})")
    surrogates: tuple[str, ...] = option(SURROGATES, choices=SURROGATES, metavar="KIND",
                                         help="surrogates of the ablation on the authors' network (default all)")
    eval_every: int = option(10, minimum=1, metavar="K", help="test accuracy every K epochs for the learning curve")
    workers: int = option(1, minimum=1, metavar="K", help="cells trained at once (processes)")
    device: str = option("cpp_standalone", choices=DEVICES, help="Brian2 device of the evaluation")
    no_brian2: bool = option(False, help="skip the Brian2 evaluation")


# -- cells ----------------------------------------------------------------------------------------------------
def cells_of(options):
    """The cells to train: dicts with ``key``, ``variant``, ``surrogate`` (SRNNs) and ``seed``.

    In the order they are trained: every variant on the first seed (the comparison), the authors' network on the
    other seeds, then the surrogate ablation.
    """
    cells = [{"variant": variant, "surrogate": None if isinstance(VARIANTS[variant], str) else "multi-gaussian",
              "seed": options.seed} for variant in options.variants]
    if "srnn" in options.variants:
        cells += [{"variant": "srnn", "surrogate": "multi-gaussian", "seed": seed}
                  for seed in range(options.seed + 1, options.seed + options.seeds)]
        cells += [{"variant": "srnn", "surrogate": kind, "seed": options.seed}
                  for kind in options.surrogates if kind != "multi-gaussian"]
    for cell in cells:
        cell["key"] = f"{cell['variant']}-{cell['surrogate'] or 'rnn'}-seed{cell['seed']}"
    return cells


def architecture_of(task, variant):
    hidden, output, _ = VARIANTS[variant]
    return adaptive_srnn.SrnnArchitecture(task.n_in, task.n_hidden, task.n_out, hidden, output)


def make_objective(task, cell, n_epochs):
    """The trained model of a cell: an SRNN or RNN objective (Adam at the task's rate, the ECG script's multiples)."""
    from brian2learn.plasticity import rnn_baselines, srnn_bptt

    spec = VARIANTS[cell["variant"]]
    if isinstance(spec, str):
        params = rnn_baselines.initial_parameters(spec, task.n_in, task.n_hidden, task.n_out, cell["seed"])
        return rnn_baselines.RnnObjective(spec, params, learning_rate=task.learning_rate, scored_from=task.scored_from)
    architecture = architecture_of(task, cell["variant"])
    training = srnn_bptt.SrnnTraining(epochs=n_epochs, batch_size=task.batch_size, learning_rate=task.learning_rate,
                                      surrogate=cell["surrogate"], learn_tau=spec[2], scored_from=task.scored_from,
                                      seed=cell["seed"])
    return srnn_bptt.SrnnObjective(architecture, srnn_bptt.initial_parameters(architecture, cell["seed"]), training)


def test_forward(task, cell, objective, params, data):
    """Accuracy, predictions and (SRNNs) spikes of ``params`` on the test set."""
    from brian2learn.plasticity import srnn_bptt

    if isinstance(VARIANTS[cell["variant"]], str):
        return objective.evaluate(params, data["x_test"], data["y_test"], task.scored_from)
    return srnn_bptt.evaluate(objective.architecture, params, data["x_test"], data["y_test"], task.scored_from,
                              batch_size=64)


def operations(task, cell, result, data):
    """Operations per sequence step on the test set and their energy in pJ.

    SNN: accumulates (an input event or hidden spike times its fan-out, the neuron updates' additions, the
    resets and trace increments of spikes) and multiply-accumulates (the neuron state updates,
    :func:`~brian2learn.models.adaptive_srnn.operations_per_neuron_step`); RNN: its multiply-accumulates
    (:func:`~brian2learn.plasticity.rnn_baselines.operations_per_step`). Energy by
    :func:`~brian2learn.analysis.energy.operation_energy_pj` (Horowitz 2014, 45 nm).
    """
    from brian2learn.plasticity import rnn_baselines

    spec = VARIANTS[cell["variant"]]
    n_hidden, n_out = task.n_hidden, task.n_out
    if isinstance(spec, str):
        counts = rnn_baselines.operations_per_step(spec, task.n_in, n_hidden, n_out)
        accumulates, macs = 0.0, float(counts["macs"])
        extra = {"activations": counts["activations"]}
    else:
        hidden_kind, output_kind, _ = spec
        sequence_steps = data["x_test"].shape[0] * data["x_test"].shape[1]
        input_events = np.count_nonzero(data["x_test"]) / sequence_steps
        hidden_rate = result["hidden_spikes"].sum() / sequence_steps
        output_rate = result["output_spikes"].sum() / sequence_steps
        neuron = {kind: adaptive_srnn.operations_per_neuron_step(kind) for kind in (hidden_kind, output_kind)}
        synaptic = input_events * n_hidden + hidden_rate * (n_hidden + n_out)
        accumulates = (synaptic + n_hidden * neuron[hidden_kind]["accumulates"] + n_out *
                       neuron[output_kind]["accumulates"] + hidden_rate * adaptive_srnn.operations_per_spike(
                           hidden_kind) + output_rate * adaptive_srnn.operations_per_spike(output_kind))
        macs = float(n_hidden * neuron[hidden_kind]["macs"] + n_out * neuron[output_kind]["macs"])
        extra = {"synaptic_operations": float(synaptic), "input_events": float(input_events),
                 "hidden_spikes": float(hidden_rate), "output_spikes": float(output_rate)}
    return {"accumulates": float(accumulates), "macs": macs,
            "energy_pj": energy.operation_energy_pj(accumulates, macs), **extra}


def train_cell(task, cell, mode, n_epochs, eval_every, cells_dir):
    """Train one cell, evaluate it on the test set after the last epoch, save it; returns its record."""
    from brian2learn.plasticity import rnn_baselines
    from brian2learn.training.framewise import FramewiseTrainer

    data = task.data(mode)
    objective = make_objective(task, cell, n_epochs)
    trainer = FramewiseTrainer(objective, batch_size=task.batch_size, seed=cell["seed"],
                               scored_from=task.scored_from)
    curve = []
    start = time.perf_counter()
    for epoch in range(n_epochs):
        row = trainer.train_epoch(data["x"], data["y"])
        if (epoch + 1) % eval_every == 0 or epoch + 1 == n_epochs:
            row["test_accuracy"] = test_forward(task, cell, objective, trainer.parameters(), data)["accuracy"]
            print(f"[{task.study} {cell['key']}] epoch {epoch + 1}/{n_epochs}  loss {row['loss']:.4f}  train "
                  f"{row['train_accuracy']:.4f}  test {row['test_accuracy']:.4f}  ({row['seconds']:.2f} s/epoch)",
                  flush=True)
        curve.append(row)
    wall = time.perf_counter() - start
    params = trainer.parameters()
    result = test_forward(task, cell, objective, params, data)
    record = {**cell, "epochs": n_epochs, "test_accuracy": result["accuracy"],
              "train_accuracy": curve[-1]["train_accuracy"], "final_loss": curve[-1]["loss"],
              "wall_seconds": wall, "seconds_per_epoch": float(np.mean([r["seconds"] for r in curve[1:]] or
                                                                      [curve[0]["seconds"]])),
              "parameters": rnn_baselines.parameter_count(objective.groups),
              "operations": operations(task, cell, result, data), "history": curve}
    np.savez(os.path.join(cells_dir, f"{cell['key']}.npz"), **params)
    temporary = os.path.join(cells_dir, f".{cell['key']}.json.tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(record, handle)
    os.replace(temporary, os.path.join(cells_dir, f"{cell['key']}.json"))
    return record


def _worker_init():
    # one process per cell: keep XLA to one thread so that workers share the cores
    os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")


def train_cells(task, cells, mode, n_epochs, options, cells_dir):
    """Train the cells not yet saved (``workers`` at once); returns every cell's record."""
    records, todo = {}, []
    for cell in cells:
        path = os.path.join(cells_dir, f"{cell['key']}.json")
        if os.path.exists(path) and options.resume:
            with open(path, encoding="utf-8") as handle:
                records[cell["key"]] = json.load(handle)
            print(f"[{task.study}] {cell['key']}: saved by the interrupted run, not trained again", flush=True)
        else:
            todo.append(cell)
    if options.workers == 1 or len(todo) <= 1:
        for cell in todo:
            records[cell["key"]] = train_cell(task, cell, mode, n_epochs, options.eval_every, cells_dir)
    else:
        context = multiprocessing.get_context("spawn")  # JAX does not survive fork
        with concurrent.futures.ProcessPoolExecutor(options.workers, mp_context=context,
                                                    initializer=_worker_init) as pool:
            futures = {pool.submit(train_cell, task, cell, mode, n_epochs, options.eval_every, cells_dir): cell
                       for cell in todo}
            for future in concurrent.futures.as_completed(futures):
                records[futures[future]["key"]] = future.result()
    return [records[cell["key"]] for cell in cells]


# -- Brian2 and energy ------------------------------------------------------------------------------------------
def brian2_check(task, params, data, device, run_dir):
    """The trained ``srnn`` network in Brian2 on the test set, spike by spike against the JAX forward.

    Every sequence whose spikes differ is traced to its first differing spike and the JAX margin
    :math:`|u - \\theta|` there (a tie: below :data:`TIE_MARGIN`). Returns the check and Brian2's results.
    """
    from brian2learn.plasticity import srnn_bptt
    from brian2learn.simulation.devices import DeviceRunner

    architecture = architecture_of(task, "srnn")
    x, y = data["x_test"], data["y_test"]
    reference = srnn_bptt.evaluate(architecture, params, x, y, task.scored_from, batch_size=64)
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
    accuracy = float(np.mean(predictions[:, task.scored_from:] == y[:, task.scored_from:]))
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


def energy_entry(task, result, data):
    """The summary's ``energy`` entry from the Brian2 spikes of the test set (sequences as trials)."""
    frames = []
    for layer, offset in (("hidden", 0), ("output", task.n_hidden)):
        sequence, step, neuron = np.nonzero(result[f"{layer}_spikes"])
        frames.append(pd.DataFrame({"neuron": neuron + offset, "t_s": step * float(adaptive_srnn.STEP),
                                    "trial": sequence, "group": "srnn"}))
    spikes = pd.concat(frames, ignore_index=True)
    degree = np.concatenate([np.full(task.n_hidden, task.n_hidden + task.n_out), np.zeros(task.n_out)])
    n_steps = data["x_test"].shape[0] * data["x_test"].shape[1]
    return energy.energy_summary(spikes, degree, adaptive_srnn.STEP, n_neurons=len(degree), n_steps=n_steps)


# -- results --------------------------------------------------------------------------------------------------
def results_table(task, records):
    """One row per cell: accuracy, trained parameters, cost and energy per step."""
    rnn_energy = {r["variant"]: r["operations"]["energy_pj"] for r in records if r["surrogate"] is None}
    rows = []
    for r in records:
        ops = r["operations"]
        rows.append({"cell": r["key"], "variant": r["variant"], "surrogate": r["surrogate"] or "", "seed": r["seed"],
                     "test_accuracy": r["test_accuracy"], "train_accuracy": r["train_accuracy"],
                     "parameters": r["parameters"], "seconds_per_epoch": r["seconds_per_epoch"],
                     "spikes_per_neuron_step": ops.get("hidden_spikes", 0.0) / task.n_hidden if r["surrogate"] else 0.0,
                     "accumulates_per_step": ops["accumulates"], "macs_per_step": ops["macs"],
                     "energy_pj_per_step": ops["energy_pj"],
                     "gru_energy_ratio": rnn_energy.get("gru", np.nan) / ops["energy_pj"]})
    return pd.DataFrame(rows)


def curves_table(records):
    rows = [{"cell": r["key"], "variant": r["variant"], "surrogate": r["surrogate"] or "", "seed": r["seed"],
             **row} for r in records for row in r["history"]]
    return pd.DataFrame(rows)


def plot_curves(curves, target=None, target_label="", axes=None):
    """Test accuracy against epochs, one line per cell with the multi-Gaussian surrogate or no spikes."""
    axes = axes or plt.subplots(figsize=(6, 4))[1]
    shown = curves[(curves["surrogate"].isin(["multi-gaussian", ""])) & curves["test_accuracy"].notna()]
    for cell, part in shown.groupby("cell", sort=False):
        axes.plot(part["epoch"] + 1, 100 * part["test_accuracy"], label=cell)
    if target is not None:
        axes.axhline(100 * target, color="k", linestyle=":", linewidth=1, label=target_label)
    axes.set_xlabel("epoch")
    axes.set_ylabel("test accuracy (%)")
    axes.legend(fontsize=6)
    return axes


def plot_surrogates(table, seed, axes=None):
    """Test accuracy of the authors' network against the surrogate (the ablation's seed)."""
    axes = axes or plt.subplots(figsize=(4, 3))[1]
    part = table[(table["variant"] == "srnn") & (table["seed"] == seed)]
    axes.bar(part["surrogate"], 100 * part["test_accuracy"])
    axes.set_ylabel("test accuracy (%)")
    axes.set_ylim(max(0.0, 100 * part["test_accuracy"].min() - 10), 100)
    axes.tick_params(axis="x", labelrotation=30)
    return axes


def plot_time_constants(params, axes=None):
    """Histograms of the learned time constants."""
    axes = axes if axes is not None else plt.subplots(1, 2, figsize=(8, 3))[1]
    for ax, names in zip(axes, (("tau_m_h", "tau_m_o"), ("tau_adp_h", "tau_adp_o"))):
        for name in names:
            ax.hist(params[name], bins=20, alpha=0.6, label=name)
        ax.set_xlabel("time constant (steps = ms)")
        ax.legend(fontsize=7)
    return axes


def plot_example(result, labels, class_names, axes=None):
    """One test sequence: label and prediction at every step (Brian2's output membranes), the hidden raster."""
    axes = axes if axes is not None else plt.subplots(2, 1, figsize=(8, 4), sharex=True)[1]
    predictions = np.argmax(result["output_membrane"][0], axis=-1)
    axes[0].plot(labels[0], label="label", linewidth=2)
    axes[0].plot(predictions, label="prediction (Brian2)", linewidth=1)
    axes[0].set_yticks(range(len(class_names)), class_names)
    axes[0].legend(fontsize=7)
    step, neuron = np.nonzero(result["hidden_spikes"][0])
    axes[1].scatter(step, neuron, s=0.5, color="k")
    axes[1].set_xlabel("step (ms)")
    axes[1].set_ylabel("hidden neuron")
    return axes


def table_figures(task, table, curves, seed, out_dir):
    """The figures drawn from the tables alone: learning curves and (with more than one surrogate) the ablation."""
    fig, ax = plt.subplots(figsize=(6, 4))
    plot_curves(curves, task.target, task.target_label, ax)
    names = [save_figure(fig, out_dir, "learning_curves.png")]
    if ((table["variant"] == "srnn") & (table["seed"] == seed)).sum() > 1:
        fig, ax = plt.subplots(figsize=(4, 3))
        plot_surrogates(table, seed, ax)
        names.append(save_figure(fig, out_dir, "surrogates.png"))
    return names


def plot_run(task, run, out_dir):
    """Redraw a finished run's figures from its tables (and the learned time constants from its saved cells)."""
    names = table_figures(task, run.tables["results"], run.tables["curves"], run.summary["options"]["seed"], out_dir)
    main = [key for key, cell in run.summary["cells"].items()
            if cell["variant"] == "srnn" and cell["surrogate"] == "multi-gaussian"]
    saved = os.path.join(run.path, "cells", f"{main[0]}.npz") if main else None
    if saved and os.path.exists(saved):
        fig, axes = plt.subplots(1, 2, figsize=(8, 3))
        plot_time_constants(dict(np.load(saved)), axes)
        names.append(save_figure(fig, out_dir, "time_constants.png"))
    return names


# -- the run --------------------------------------------------------------------------------------------------
def run_study(task, options, run_dir, mode, n_epochs):
    """Train every cell, check the first ``srnn`` in Brian2, write summary.json, tables and figures."""
    if not jax_available():
        raise StudyError(f"{task.study} trains with JAX: pip install 'brian2learn[bptt]'")
    cells = cells_of(options)
    print(f"{task.study}: {mode} mode, {n_epochs} epochs, {len(cells)} cells, {options.workers} worker(s), run "
          f"directory {run_dir}", flush=True)
    cells_dir = os.path.join(run_dir, "cells")
    os.makedirs(cells_dir, exist_ok=True)
    records = train_cells(task, cells, mode, n_epochs, options, cells_dir)
    table = results_table(task, records)
    curves = curves_table(records)
    write_table(table, os.path.join(run_dir, "results.parquet"))
    write_table(curves, os.path.join(run_dir, "curves.parquet"))
    data = task.data(mode)
    summary = {"study": task.study, "status": "completed", "mode": mode, "epochs": n_epochs,
               "options": options.as_dict(),
               "cells": {r["key"]: {k: r[k] for k in ("variant", "surrogate", "seed", "test_accuracy",
                                                      "train_accuracy", "parameters", "seconds_per_epoch",
                                                      "wall_seconds", "operations")} for r in records}}
    main = [r for r in records if r["variant"] == "srnn" and r["surrogate"] == "multi-gaussian"]
    if main:
        accuracies = [r["test_accuracy"] for r in main]
        summary["srnn_test_accuracy"] = {"seeds": [r["seed"] for r in main], "values": accuracies,
                                         "mean": float(np.mean(accuracies))}
        first = main[0]
        summary["targets"] = {"test_accuracy_first_seed": first["test_accuracy"], "target": task.target,
                              "met": bool(first["test_accuracy"] >= task.target)}
        params = dict(np.load(os.path.join(cells_dir, f"{first['key']}.npz")))
        fig, axes = plt.subplots(1, 2, figsize=(8, 3))
        plot_time_constants(params, axes)
        fig.suptitle(f"learned time constants (srnn, seed {first['seed']})")
        save_figure(fig, run_dir, "time_constants.png")
        summary["time_constants"] = {name: {"mean": float(np.mean(v)), "std": float(np.std(v)),
                                            "min": float(np.min(v)), "max": float(np.max(v))}
                                     for name, v in params.items() if name.startswith("tau")}
        if not options.no_brian2:
            check, result = brian2_check(task, params, data, options.device, run_dir)
            summary["brian2"] = check
            summary["energy"] = energy_entry(task, result, data)
            print(f"[{task.study}] Brian2 ({options.device}) on {check['sequences']} test sequences: "
                  f"{100 * check['identical_fraction']:.4f} % of neuron-steps identical to JAX, accuracy "
                  f"{check['brian2_accuracy']:.4f} (JAX {check['jax_accuracy']:.4f})", flush=True)
            fig, axes = plt.subplots(2, 1, figsize=(8, 4), sharex=True)
            plot_example(result, data["y_test"], task.class_names, axes=axes)
            save_figure(fig, run_dir, "example.png")
    if "energy" not in summary:
        summary["energy"] = energy.not_spiking("the Brian2 evaluation was skipped")
    table_figures(task, table, curves, options.seed, run_dir)
    write_summary(run_dir, summary, options)
    print(table[["cell", "test_accuracy", "parameters", "spikes_per_neuron_step", "energy_pj_per_step",
                 "gru_energy_ratio"]].to_string(index=False), flush=True)
    return summary
