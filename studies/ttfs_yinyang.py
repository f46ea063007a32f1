"""Time-to-first-spike learning on Yin-Yang (Göltz, Kriener et al. 2021, Nat Mach Intell 3:823).

Göltz et al. (2021), "Fast and energy-efficient neuromorphic deep learning with first-spike
times", doi:10.1038/s42256-021-00388-x; data set: Kriener, Göltz & Petrovici (2021),
arXiv:2102.08211 (:mod:`brian2learn.tasks.yinyang`).

A layered network of LIF neurons with exponential synaptic currents, each firing at most once
(:mod:`brian2learn.models.ttfs`): 4 input spikes (the features x, y, 1-x, 1-y) plus a bias
spike -> 120 hidden -> 3 outputs; the output neuron of the correct class should fire first.
Training uses the exact derivatives of the spike times (:mod:`brian2learn.plasticity.ttfs`)
with the forward pass either in closed form (``--substrate analytic``) or simulated by Brian2
(``--substrate brian2``, :class:`brian2learn.models.ttfs_substrate.Brian2Substrate`: one network
holds a batch of 150 samples as neuron copies, built once with ``cpp_standalone`` and re-run with
``run_args``; spike times are read from SpikeMonitors and the gradient is computed from these
recorded times).

Constants (time in units of ``tau_s``; weights in ``g_l (v_th - E_l)``):

- from the paper / the issue: ``tau_m = tau_s``, threshold 1 (natural units), 120 hidden
  neurons, loss with ``xi = 0.2`` and ``alpha = 0.005``, Adam with learning rate 5e-3, batch
  150, 300 epochs; per-neuron gradient clipping and weight bumping of silent layers;
- our choices: input times ``t_early = 0.15``, ``t_late = 2.0``, bias spike at ``0.9``;
  ``beta = 1``; initial weights N(1.5, 0.8) (input -> hidden) and N(0.5, 0.8) (hidden ->
  output); clipping norm 0.2 per neuron; bump 5e-3 when more than 30 % of the hidden spikes or
  any output spike of a batch is missing; learning rate x0.95 every 20 epochs; substrate step
  ``0.01 tau_s`` over ``4 tau_s``, ``tau_s = 5 ms``.

Target (full mode): test accuracy >= 95 % (paper: 95.9 % in simulation).
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
from brian2learn.models import ttfs as ttfs_model
from brian2learn.models.ttfs_substrate import Brian2Substrate
from brian2learn.plasticity import ttfs
from brian2learn.studies.common import StudyError, save_figure, save_network, write_summary
from brian2learn.studies.options import StudyOptions, option
from brian2learn.studies.run_directory import in_run_directory
from brian2learn.tasks import yinyang
from brian2learn.training.loop import TrainingDivergedError
from brian2learn.training.progress import ProgressReporter
from brian2learn.training.ttfs import TTFSTrainer

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
from matplotlib.colors import to_rgb  # noqa: E402
from matplotlib.patches import Circle  # noqa: E402

NAME = "ttfs-yinyang"
DESCRIPTION = "time-to-first-spike learning with exact spike-time gradients on Yin-Yang, Göltz et al. 2021"

SUBSTRATES = ("analytic", "brian2")
DEVICES = ("cpp_standalone", "runtime")
EPOCHS = {"full": 300, "quick": {"analytic": 20, "brian2": 8}}
TARGET_TEST_ACCURACY = 0.95
PAPER_TEST_ACCURACY = 0.959
MAP_RESOLUTION = 150


@dataclasses.dataclass
class Options(StudyOptions):
    """Options of the Yin-Yang TTFS study (``brian2learn run ttfs-yinyang --help``).

    Attributes
    ----------
    substrate : str
        ``analytic`` (forward pass in closed form) or ``brian2`` (simulated by Brian2).
    device : str
        Brian2 device of the ``brian2`` substrate (unused by the closed form).
    tau_ratio : int
        ``tau_m / tau_s`` (1 or 2).
    epochs : int or None
        Training epochs (``None``: 300, quick 20, or 8 with the ``brian2`` substrate).
    """

    quick: bool = option(False, help=f"{EPOCHS['quick']['analytic']} epochs ({EPOCHS['quick']['brian2']} with "
                                     f"--substrate brian2) instead of {EPOCHS['full']}")
    seed: int = option(1, help="seed of weights and batch order (default 1)")
    substrate: str = option("analytic", choices=SUBSTRATES,
                            help="forward pass in closed form or simulated by Brian2 (default analytic)")
    device: str = option("cpp_standalone", choices=DEVICES,
                         help="Brian2 device of the brian2 substrate (default cpp_standalone)")
    tau_ratio: int = option(1, choices=ttfs_model.TAU_RATIOS, help="tau_m / tau_s (default 1)")
    epochs: int | None = option(None, minimum=1, metavar="N", help="override the number of epochs")
    out: str | None = option(None, metavar="DIR", help="run directory (default runs/ttfs-yinyang[-brian2]-seedN)")

    def check(self):
        if not 0 <= self.seed < 2 ** 32:
            raise ValueError(f"'--seed' must be an integer in [0, 2**32), got {self.seed!r}")


@in_run_directory(NAME)
def run(options, run_dir):
    """Train, evaluate, write summary.json, Parquet tables and figures; return the summary.

    ``options`` is an :class:`Options` (``run(Options(quick=True))``). In the summary,
    ``compile_seconds`` is the build of the Brian2 substrate (0 for the closed form),
    ``training_seconds`` the training without it, and ``energy`` is :func:`energy_of_test_spikes`.
    """
    mode = "quick" if options.quick else "full"
    substrate = options.substrate
    n_epochs = options.epochs or (EPOCHS["quick"][substrate] if options.quick else EPOCHS["full"])
    params = ttfs_model.neuron_params(options.tau_ratio)
    tau_s_ms = float(params["tau_s"] / b2.ms)
    device_note = f", device {options.device}" if substrate == "brian2" else ""
    print(f"{NAME}: {mode} mode, {n_epochs} epochs, seed {options.seed}, substrate {substrate}{device_note}, "
          f"tau_m/tau_s {options.tau_ratio}, run directory {run_dir}", flush=True)

    data = yinyang.yin_yang_splits()
    inputs = {name: yinyang.encode_spike_times(split["features"], **yinyang.ENCODING) for name, split in data.items()}
    labels = {name: split["labels"] for name, split in data.items()}
    config = ttfs.TTFSConfig(tau_ratio=options.tau_ratio)
    weights = ttfs.initial_weights(config, options.seed)
    substrate_runner = None
    if substrate == "brian2":
        substrate_runner = Brian2Substrate(config.layer_sizes, params, device=options.device,
                                           directory=os.path.join(run_dir, "build"), **ttfs_model.SUBSTRATE)
    trainer = TTFSTrainer(config, weights, forward=substrate_runner)
    rng = np.random.default_rng(options.seed)
    status, failure = "completed", None
    start = time.perf_counter()
    progress = ProgressReporter(NAME, unit="epoch", fields=("train_loss", "train_accuracy", "validation_accuracy"),
                                every=max(1, n_epochs // 20))
    curves_path = os.path.join(run_dir, "learning_curves.parquet")
    try:
        try:
            history = trainer.train(n_epochs, inputs["train"], labels["train"], rng,
                                    validation=(inputs["validation"], labels["validation"]), run_dir=run_dir,
                                    progress=_writing_progress(progress, curves_path))
        except TrainingDivergedError as error:  # evaluate the last good weights (the trainer keeps them)
            status, failure = "diverged", str(error)
            history = error.history
        train_wall = time.perf_counter() - start
        compile_seconds = substrate_runner.runner.compile_seconds if substrate_runner is not None else 0.0
        results = {name: trainer.evaluate(inputs[name], labels[name]) for name in ("train", "validation", "test")}
        analytic_test = None
        if substrate == "brian2":
            analytic_test = TTFSTrainer(config, trainer.weights).evaluate(inputs["test"], labels["test"])
    finally:
        if substrate_runner is not None:
            substrate_runner.close()

    if not history.empty:
        write_table(history, curves_path)
    network = save_network(run_dir, "ttfs", {f"w_{k}": w for k, w in enumerate(trainer.weights)}, NAME, options,
                           dataclasses.asdict(config), substrate=substrate, epochs_trained=int(trainer.epoch))
    test = results["test"]
    test_spikes = _spike_frame(test["times"], tau_s_ms * 1e-3)
    test_outputs = _test_outputs(data["test"], test)
    decision_map = decision_map_table(trainer.weights, config)
    tables = ["learning_curves.parquet"] + _write_test_tables(run_dir, test_outputs, test_spikes, decision_map)
    metrics = _test_metrics(test, labels["test"], config, tau_s_ms)
    figures = _figures(run_dir, history, decision_map, test_outputs, substrate)

    summary = {
        "study": NAME, "status": status, "failure": failure, "mode": mode, "seed": options.seed,
        "substrate": substrate, "device": options.device if substrate == "brian2" else None,
        "epochs": n_epochs, "epochs_completed": len(history), "networks": [network],
        "accuracy": {name: result["accuracy"] for name, result in results.items()},
        "loss": {name: result["loss"] for name, result in results.items()},
        "test_accuracy_analytic_forward": analytic_test["accuracy"] if analytic_test else None,
        **metrics,
        "wall_seconds": {"training": train_wall, "mean_epoch": float(history["epoch_seconds"].mean())
                         if not history.empty else None,
                         "mean_epoch_training_only": float(history["train_seconds"].mean())
                         if not history.empty else None},
        "compile_seconds": compile_seconds, "training_seconds": train_wall - compile_seconds,
        "brian2": _runner_summary(substrate_runner),
        "network": {"layer_sizes": list(config.layer_sizes), "tau_ratio": config.tau_ratio,
                    "theta": config.theta, "encoding_tau_s": yinyang.ENCODING,
                    "neuron_params": {name: str(value) for name, value in params.items()},
                    "substrate": ttfs_model.SUBSTRATE if substrate == "brian2" else None},
        "training": {name: getattr(config, name) for name in (
            "xi", "alpha", "beta", "learning_rate", "batch_size", "lr_decay", "lr_decay_every", "max_grad_norm",
            "max_missing", "weight_bump", "weight_init", "t_missing")},
        "target_test_accuracy": TARGET_TEST_ACCURACY,
        "target_met": (bool(results["test"]["accuracy"] >= TARGET_TEST_ACCURACY)
                       if mode == "full" and options.epochs is None and status == "completed" else None),
        "paper_test_accuracy": PAPER_TEST_ACCURACY,
        "figures": figures, "tables": tables, "options": options.as_dict(),
        "energy": energy_of_test_spikes(test_spikes, len(labels["test"]), config, substrate_runner),
    }
    write_summary(run_dir, summary, options)
    _print_table(summary)
    print(f"summary: {os.path.join(run_dir, 'summary.json')}", flush=True)
    if failure:
        raise StudyError(f"{failure} (partial results in {run_dir})")
    return summary


def energy_of_test_spikes(test_spikes, n_samples, config, substrate_runner=None):
    """``energy`` of the summary: the hidden and output spikes of the test set, one trial per sample.

    ``test_spikes`` is the frame of ``spikes_test.parquet`` (times in seconds, trial = test sample) of
    ``n_samples`` test samples.
    It counts its spikes without the inputs: ``n_neurons`` = hidden +
    output neurons, out-degree of a hidden neuron = the number of outputs, of an output neuron 0.
    The network runs in continuous time: with the Brian2 substrate (``substrate_runner``) the
    energy complexity bins the spikes in its step ``dt`` and ``mean_fraction_active`` counts its
    steps; in closed form the bins are the substrate's step too (``0.01 tau_s``), and
    ``mean_fraction_active`` is left out (there are no time steps).
    """
    sizes = config.layer_sizes
    tau_s = float(ttfs_model.neuron_params(config.tau_ratio)["tau_s"])
    frame = test_spikes[test_spikes["group"].isin(["hidden", "output"])]
    out_degree = {"hidden": np.full(sizes[1], sizes[2], dtype=np.int64),
                  "output": np.zeros(sizes[2], dtype=np.int64)}
    n_neurons = sizes[1] + sizes[2]
    n_trials = int(n_samples)
    if substrate_runner is not None:
        dt = float(substrate_runner.dt)
        steps_per_trial = int(round(float(substrate_runner.duration / substrate_runner.dt)))
        values = energy.energy_summary(frame, out_degree, dt, n_neurons=n_neurons, n_steps=n_trials * steps_per_trial)
        timing = (f"energy_complexity: neurons spiking in one step of the Brian2 substrate ({dt:g} s); "
                  f"mean_fraction_active over {n_trials} trials of {steps_per_trial} steps")
    else:
        dt = ttfs_model.SUBSTRATE["dt"] * tau_s
        values = energy.energy_summary(frame, out_degree, dt)
        timing = (f"closed form in continuous time: energy_complexity counts neurons spiking within one bin of "
                  f"{ttfs_model.SUBSTRATE['dt']:g} tau_s ({dt:g} s, the Brian2 substrate's step); "
                  "mean_fraction_active is not defined (no time steps)")
    return {"counts": f"hidden and output spikes of the {n_trials} test samples (one trial each; {n_neurons} "
                      f"neurons; synaptic operations of the hidden -> output synapses); {timing}",
            "dt_seconds": dt, **values}


def _runner_summary(substrate_runner):
    if substrate_runner is None:
        return None
    runner = substrate_runner.runner
    return {"compile_seconds": runner.compile_seconds, "builds": runner.n_builds, "runs": runner.n_runs,
            "run_seconds": runner.run_seconds}


def _test_metrics(result, labels, config, tau_s_ms):
    """Time to decision, spikes and synaptic operations per classification on the test set."""
    t_inputs, t_hidden, t_out = result["times"]
    t_decision = result["t_decision"]
    decided = np.isfinite(t_decision)
    hidden_spikes = np.isfinite(t_hidden).sum(axis=1)
    output_spikes = np.isfinite(t_out).sum(axis=1)
    with np.errstate(invalid="ignore"):
        hidden_before = np.sum(t_hidden <= t_decision[:, None], axis=1)
    sizes = config.layer_sizes
    frame = _spike_frame(result["times"], 1.0)
    sops = energy.synaptic_operations(frame, {"inputs": np.full(sizes[0], sizes[1]),
                                              "hidden": np.full(sizes[1], sizes[2]),
                                              "output": np.zeros(sizes[2], dtype=int)})
    return {
        "time_to_decision": {
            "mean_tau_s": float(np.mean(t_decision[decided])) if decided.any() else None,
            "median_tau_s": float(np.median(t_decision[decided])) if decided.any() else None,
            "mean_ms": float(np.mean(t_decision[decided]) * tau_s_ms) if decided.any() else None,
            "mean_after_first_input_tau_s": float(np.mean(t_decision[decided] - t_inputs[decided].min(axis=1)))
            if decided.any() else None,
            "undecided_fraction": float(np.mean(~decided)),
        },
        "spikes_per_classification": {
            "hidden": float(hidden_spikes.mean()), "output": float(output_spikes.mean()),
            "hidden_and_output": float((hidden_spikes + output_spikes).mean()),
            "until_decision": float((hidden_before[decided] + 1).mean()) if decided.any() else None,
            "inputs": float(np.isfinite(t_inputs).sum(axis=1).mean()),
        },
        "synaptic_operations_per_classification": sops / len(labels),
    }


def _spike_frame(times, tau_s_seconds):
    """Spike frame (neuron, t in s, trial = sample, group) of every layer."""
    frames = []
    for group, layer in zip(("inputs", "hidden", "output"), times):
        samples, neurons = np.nonzero(np.isfinite(layer))
        frame = spikes.spikes_to_dataframe(neurons, layer[samples, neurons] * tau_s_seconds, group=group)
        frame["trial"] = samples.astype(np.int64)
        frames.append(frame)
    return spikes.concat_spikes(frames)


def _writing_progress(progress, path):
    """``progress`` that also writes the learning curve so far to ``path`` after every epoch, so that an
    interrupted run keeps the epochs it finished (the run writes the whole curve again at its end)."""
    rows = []

    def report(done, total, row):
        rows.append(dict(row))
        write_table(pd.DataFrame(rows), path)
        progress(done, total, row)

    return report


def _test_outputs(split, result):
    """The ``test_outputs.parquet`` table: every test sample, its class, the prediction and the output spike
    times."""
    t_out = result["times"][-1]
    table = pd.DataFrame({"sample": np.arange(len(split["labels"])), "x": split["features"][:, 0],
                          "y": split["features"][:, 1], "label": split["labels"],
                          "prediction": result["prediction"], "t_decision_tau_s": result["t_decision"]})
    for n in range(t_out.shape[1]):
        table[f"t_out{n}_tau_s"] = t_out[:, n]
    return table


def _write_test_tables(run_dir, test_outputs, test_spikes, decision_map):
    write_table(test_outputs, os.path.join(run_dir, "test_outputs.parquet"))
    spikes.save_spikes(test_spikes, os.path.join(run_dir, "spikes_test.parquet"))
    write_table(decision_map, os.path.join(run_dir, "decision_map.parquet"))
    return ["test_outputs.parquet", "spikes_test.parquet", "decision_map.parquet"]


def _print_table(summary):
    acc = summary["accuracy"]
    print(f"{'split':>10} {'accuracy %':>10} {'loss':>8}")
    for name in ("train", "validation", "test"):
        print(f"{name:>10} {100 * acc[name]:>10.2f} {summary['loss'][name]:>8.4f}")
    decision = summary["time_to_decision"]
    if decision["mean_tau_s"] is not None:
        print(f"time to decision {decision['mean_tau_s']:.3f} tau_s ({decision['mean_ms']:.2f} ms), "
              f"spikes per classification {summary['spikes_per_classification']['hidden_and_output']:.1f} "
              f"({summary['spikes_per_classification']['until_decision']:.1f} until the decision)")


def decision_map_table(weights, config, resolution=MAP_RESOLUTION):
    """The ``decision_map.parquet`` table: the class the network with ``weights`` predicts (closed form; -1:
    undecided) at every point (``x``, ``y``) of a ``resolution`` x ``resolution`` grid over the unit square, row
    by row (``y`` the slower index)."""
    grid = (np.arange(resolution) + 0.5) / resolution
    x, y = np.meshgrid(grid, grid)
    features = np.stack([x.ravel(), y.ravel(), 1 - x.ravel(), 1 - y.ravel()], axis=1)
    t_in = yinyang.encode_spike_times(features, **yinyang.ENCODING)
    forward = ttfs.analytic_forward(config)
    predictions = [ttfs.classify(forward(t_in[s:s + 5000], weights)[-1])[0] for s in range(0, len(t_in), 5000)]
    return pd.DataFrame({"x": x.ravel(), "y": y.ravel(), "prediction": np.concatenate(predictions)})


def _decision_map(table):
    """The grids x, y and prediction of a ``decision_map.parquet`` table."""
    n = int(round(np.sqrt(len(table))))
    return tuple(table[name].to_numpy().reshape(n, n) for name in ("x", "y", "prediction"))


CLASS_COLORS = np.array(["#1f77b4", "#ff7f0e", "#2ca02c"])


def plot_learning_curves(history, substrate, axes=None):
    """Loss (log scale) and accuracy per epoch, training and validation; returns the two Axes.

    ``history`` is the ``learning_curves.parquet`` frame; ``axes`` a pair of Axes or ``None``. The x axis counts
    epochs trained (the 0-based ``epoch`` index + 1).
    """
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    axes[0].plot(history["epoch"] + 1, history["train_loss"], label="train (during epoch)")
    axes[0].plot(history["epoch"] + 1, history["validation_loss"], label="validation")
    axes[0].set_yscale("log")
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("loss")
    axes[1].plot(history["epoch"] + 1, 100 * history["train_accuracy"], label="train (during epoch)")
    axes[1].plot(history["epoch"] + 1, 100 * history["validation_accuracy"], label="validation")
    axes[1].axhline(100 * TARGET_TEST_ACCURACY, color="gray", lw=0.8, ls="--", label="target (test)")
    axes[1].set_xlabel("epoch")
    axes[1].set_ylabel("accuracy (%)")
    for ax in axes:
        ax.legend()
    axes[0].figure.suptitle(f"TTFS on Yin-Yang ({substrate} forward pass)")
    return axes


def plot_decision_map(decision_map, test_outputs, axes=None):
    """Classes of the trained network over the unit square (closed form) and the test samples; returns the Axes.

    ``decision_map`` is the ``decision_map.parquet`` table (:func:`decision_map_table`), ``test_outputs`` the
    ``test_outputs.parquet`` table (``x``, ``y``, ``label``, ``prediction``); misclassified samples are crosses.
    """
    if axes is None:
        _, axes = plt.subplots(figsize=(5.5, 5))
    names = yinyang.CLASS_NAMES
    x, y, prediction = _decision_map(decision_map)
    image = np.ones(prediction.shape + (3,)) * 0.85
    for c in range(3):
        image[prediction == c] = to_rgb(CLASS_COLORS[c])
    outside = ~yinyang.in_disc(x, y)
    image[outside] = 0.6 * image[outside] + 0.4
    axes.imshow(image, origin="lower", extent=(0, 1, 0, 1), alpha=0.45)
    features = test_outputs[["x", "y"]].to_numpy()
    labels, predicted = test_outputs["label"].to_numpy(), test_outputs["prediction"].to_numpy()
    wrong = predicted != labels
    accuracy = float(np.mean(predicted == labels))
    for c in range(3):
        chosen = (labels == c) & ~wrong
        axes.scatter(features[chosen, 0], features[chosen, 1], s=6, color=CLASS_COLORS[c], label=names[c])
    axes.scatter(features[wrong, 0], features[wrong, 1], s=18, marker="x", color="k",
                 label=f"misclassified ({wrong.sum()})")
    axes.add_patch(Circle((0.5, 0.5), 0.5, fill=False, color="k", lw=0.8))
    axes.set_xlabel("x")
    axes.set_ylabel("y")
    axes.set_title(f"decision map (closed form), test accuracy {100 * accuracy:.1f} %")
    axes.legend(loc="upper right", fontsize=7)
    return axes


def plot_output_spike_times(t_out, labels, axes=None):
    """Histograms of the output spike times (``tau_s``) for the samples of each class; returns the Axes.

    ``t_out`` is (samples, outputs), ``inf`` for no spike; ``axes`` three Axes or ``None``.
    """
    if axes is None:
        _, axes = plt.subplots(1, 3, figsize=(11, 3.3), sharey=True)
    names = yinyang.CLASS_NAMES
    finite = t_out[np.isfinite(t_out)]
    bins = np.linspace(finite.min(), finite.max(), 40) if finite.size else 10
    for c, ax in enumerate(axes):
        for n in range(t_out.shape[1]):
            values = t_out[labels == c, n]
            ax.hist(values[np.isfinite(values)], bins=bins, alpha=0.55, color=CLASS_COLORS[n],
                    label=f"output {n} ({names[n]})")
        ax.set_title(f"samples of class {c} ({names[c]})")
        ax.set_xlabel("output spike time (tau_s)")
    axes[0].set_ylabel("count")
    axes[0].legend(fontsize=7)
    return axes


def _output_times(test_outputs):
    """The output spike times (samples, outputs) of a ``test_outputs.parquet`` table (``inf``: no spike)."""
    n_out = sum(1 for name in test_outputs.columns if name.startswith("t_out") and name.endswith("_tau_s"))
    return np.stack([test_outputs[f"t_out{n}_tau_s"].to_numpy() for n in range(n_out)], axis=1)


def _figures(run_dir, history, decision_map, test_outputs, substrate):
    """Draw the figures from the run's tables (in memory or read back); return their file names."""
    written = []
    if not history.empty:
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
        plot_learning_curves(history, substrate, axes=axes)
        written.append(save_figure(fig, run_dir, "learning_curves.png"))
    if decision_map is not None and test_outputs is not None:
        fig, ax = plt.subplots(figsize=(5.5, 5))
        plot_decision_map(decision_map, test_outputs, axes=ax)
        written.append(save_figure(fig, run_dir, "decision_map.png"))
    if test_outputs is not None:
        fig, axes = plt.subplots(1, 3, figsize=(11, 3.3), sharey=True)
        plot_output_spike_times(_output_times(test_outputs), test_outputs["label"].to_numpy(), axes=axes)
        written.append(save_figure(fig, run_dir, "output_spike_times.png"))
    return written


def plot_run(run, out_dir):
    """Redraw the figures of a finished run from its tables (``brian2learn plot RUN_DIR``); return their names.

    ``run`` is a :class:`~brian2learn.studies.runs.Run` (``brian2learn.load_run``). A run written before
    ``decision_map.parquet`` existed gets no decision map.
    """
    tables = run.tables
    substrate = run.summary.get("substrate") or (run.summary.get("options") or {}).get("substrate", "analytic")
    return _figures(out_dir, tables.get("learning_curves", pd.DataFrame()), tables.get("decision_map"),
                    tables.get("test_outputs"), substrate)


def main(argv=None):
    """``python -m brian2learn.studies.ttfs_yinyang [options]``: errors in one line, exit status 2."""
    from brian2learn.studies.cli import study_main

    return study_main(sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
