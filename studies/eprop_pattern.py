"""e-prop on pattern generation (Bellec et al. 2020, Nat Commun 11:3625, Fig. S7).

100 frozen Poisson inputs at 50 Hz drive 100 LIF neurons whose leaky readout must
produce a sum of four sines over 1000 steps of 1 ms (:mod:`brian2learn.tasks.pattern_generation`).
The network is trained with e-prop under random and symmetric feedback (one C++ build for
both) and, when the ``bptt`` extra (JAX) is installed, with BPTT on the same discrete-time
model, from the same initial weights.

Targets (full mode, 2000 iterations): loss <= 5 for random e-prop, <= 3 for symmetric,
mean rate 10-20 Hz. Reference runs of Bellec's setup (seeds 1 / 2): random 3.00 / 3.72,
symmetric 1.47 / 2.24, BPTT 3.31 / 1.23 (shared/REFERENCES.md).
"""

import contextlib
import dataclasses
import os
import sys
import time

import matplotlib
import numpy as np
import pandas as pd

from brian2learn.analysis import energy, plotting, spikes
from brian2learn.analysis.tables import write_table
from brian2learn.models.eprop_neurons import BELLEC2020_PATTERN_GENERATION
from brian2learn.plasticity import eprop
from brian2learn.simulation.devices import DEVICES
from brian2learn.studies.common import (
    StudyError,
    export_eprop_to_nest,
    jax_available,
    save_figure,
    save_network,
    write_summary,
)
from brian2learn.studies.options import StudyOptions, option
from brian2learn.studies.run_directory import in_run_directory
from brian2learn.tasks.pattern_generation import pattern_generation_task
from brian2learn.training.eprop import EpropTrainer, TrainingDivergedError
from brian2learn.training.progress import ProgressReporter

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

NAME = "eprop-pattern"
DESCRIPTION = "e-prop (random, symmetric) and BPTT on pattern generation, Bellec et al. 2020 Fig. S7"

#: Network, task and learning parameters (Bellec et al. 2020; NEST 3.10 example).
NETWORK = eprop.BELLEC2020_PATTERN_NETWORK
LEARNING = eprop.BELLEC2020_PATTERN_LEARNING
ITERATIONS = {"full": 2000, "quick": 200}
TARGETS = {"eprop-random": 5.0, "eprop-symmetric": 3.0}  # largest final loss, full mode
RATE_RANGE_HZ = (10.0, 20.0)


@dataclasses.dataclass
class Options(StudyOptions):
    """Options of the pattern-generation study (``brian2learn run eprop-pattern --help``)."""

    quick: bool = option(False, help=f"{ITERATIONS['quick']} iterations instead of {ITERATIONS['full']}")
    seed: int = option(1, minimum=0, help="seed of task, weights and feedback (default 1)")
    device: str = option("cpp_standalone", choices=DEVICES, help="Brian2 device")
    iterations: int | None = option(None, minimum=1, metavar="N", help="override the number of iterations")
    no_bptt: bool = option(False, help="skip BPTT even when JAX is installed")
    iterations_per_run: int | None = option(None, minimum=1, metavar="N",
                                            help="iterations per run of the binary, and per checkpoint "
                                                 "(default min(100, iterations))")

    #: e-prop's checkpoints hold its whole learning state: --resume gives the numbers of an uninterrupted run
    RESUMABLE = True


def make_config():
    return eprop.EpropConfig(neuron_params=BELLEC2020_PATTERN_GENERATION, **NETWORK, **LEARNING)


def _make_trainer(config, weights, task, feedback, feedback_matrix, n_iterations, options, run_dir, runner):
    per_run = min(options.iterations_per_run or 100, n_iterations)
    return EpropTrainer(config, weights, task, feedback=feedback, feedback_matrix=feedback_matrix,
                        device=options.device, iterations_per_run=per_run, runner=runner,
                        directory=os.path.join(run_dir, "build") if runner is None else None)


def _train_bptt(config, weights, task, n_iterations):
    from brian2learn.plasticity import bptt

    # Plain BPTT through every term, the reset included, as the BPTT baseline of the reference
    # code; with the reset path cut, the gradients of 1000-step trials explode (about 1e18).
    params = bptt.network_params_from(config.neuron_params, config.n_rec, loss=config.loss,
                                      c_reg=config.c_reg, f_target=config.f_target, reset_gradient=True)
    progress = ProgressReporter(f"{NAME} bptt", fields=("loss", "rate_hz"))
    rows = []

    def callback(iteration, metrics):
        rows.append({"iteration": iteration, "loss": metrics["task_loss"], "reg_loss": metrics["reg_loss"],
                     "rate_hz": metrics["mean_rate_hz"]})
        if (iteration + 1) % 100 == 0 or iteration + 1 == n_iterations:
            progress(iteration + 1, n_iterations, rows[-1])

    def batches(iteration):
        return task["inputs"], task["targets"], task["window"]

    start = time.perf_counter()
    final, _ = bptt.train_bptt(weights, batches, params, optimizer=config.optimizer,
                               learning_rate=config.learning_rate, n_iterations=n_iterations, callback=callback)
    wall = time.perf_counter() - start
    trial = bptt.simulate(final, task["inputs"][0], params)
    return pd.DataFrame(rows), wall, trial, final


@in_run_directory(NAME)
def run(options, run_dir):
    """Train every method, write summary.json, Parquet tables and figures; return the summary.

    ``options`` is an :class:`Options` (``run(Options(quick=True))``).
    """
    mode = "quick" if options.quick else "full"
    n_iterations = options.iterations if options.iterations is not None else ITERATIONS[mode]
    config = make_config()
    task = pattern_generation_task(seed=options.seed, n_in=config.n_in, n_steps=config.n_steps)
    weights = eprop.initial_weights(config, options.seed)
    feedback_matrix = eprop.random_feedback(config, options.seed)
    print(f"{NAME}: {mode} mode, {n_iterations} iterations, seed {options.seed}, device {options.device}, "
          f"run directory {run_dir}", flush=True)

    results = {}
    resumed = {}
    networks = []
    histories = []
    spike_frames = []
    outputs = {}
    runner = None
    status = "completed"
    failure = None
    try:
        for feedback in ("random", "symmetric"):
            label = f"eprop-{feedback}"
            trainer = _make_trainer(config, weights, task, feedback, feedback_matrix, n_iterations, options,
                                    run_dir, runner)
            runner = trainer.runner
            start, compiled = time.perf_counter(), runner.compile_seconds
            checkpoint = os.path.join(run_dir, label, "checkpoint.npz")
            os.makedirs(os.path.dirname(checkpoint), exist_ok=True)
            if options.resume and os.path.exists(checkpoint):
                resumed[label] = trainer.load_checkpoint(checkpoint)
                print(f"[{NAME} {label}] resumed at iteration {resumed[label]}/{n_iterations}", file=sys.stderr,
                      flush=True)
            try:
                remaining = n_iterations - trainer.iteration
                history = (trainer.train(remaining, run_dir=os.path.join(run_dir, label), checkpoint=checkpoint,
                                         progress=ProgressReporter(f"{NAME} {label}", fields=("loss", "rate_hz")))
                           if remaining > 0 else pd.DataFrame(trainer.history))
            except TrainingDivergedError as error:
                status, failure = "diverged", f"{label}: {error}"
                histories.append(pd.DataFrame(trainer.history).assign(method=label))
                break
            wall = time.perf_counter() - start
            histories.append(history.assign(method=label))
            # what finished is on disk at once: the trained network and the losses so far
            networks.append(save_network(run_dir, label, trainer.weights(), NAME, options,
                                         dataclasses.asdict(config), feedback=feedback))
            write_table(pd.concat(histories, ignore_index=True), os.path.join(run_dir, "losses.parquet"))
            results[label] = {"final_loss": float(history["loss"].iloc[-1]),
                              "final_rate_hz": float(history["rate_hz"].iloc[-1]),
                              "wall_seconds": wall, "training_seconds": wall - (runner.compile_seconds - compiled)}
            for group, (indices, times) in trainer.last_spikes.items():
                frame = spikes.spikes_to_dataframe(indices, times, group=group)
                spike_frames.append(frame.assign(method=label))
            outputs[label] = trainer.last_output
    finally:
        if runner is not None:
            runner.close()

    compile_seconds = runner.compile_seconds if runner is not None else 0.0
    n_builds = runner.n_builds if runner is not None else 0
    n_runs = runner.n_runs if runner is not None else 0
    bptt_skipped = None
    if status == "completed" and not options.no_bptt and jax_available():
        history, wall, trial, final = _train_bptt(config, weights, task, n_iterations)
        histories.append(history.assign(method="bptt"))
        networks.append(save_network(run_dir, "bptt", {name: np.asarray(value) for name, value in final.items()},
                                     NAME, options, dataclasses.asdict(config)))
        results["bptt"] = {"final_loss": float(history["loss"].iloc[-1]),
                           "final_rate_hz": float(history["rate_hz"].iloc[-1]), "wall_seconds": wall}
        for group, raster in (("inputs", task["inputs"][0]), ("recurrent", np.asarray(trial["z"]))):
            steps, neurons = np.nonzero(raster)
            spike_frames.append(spikes.spikes_to_dataframe(neurons, steps * float(config.dt), group=group)
                                .assign(method="bptt"))
        outputs["bptt"] = {"t": np.arange(config.n_steps) * float(config.dt), "y": np.asarray(trial["y"]).T,
                           "y_target": task["targets"][0].T}
    elif status == "completed":
        bptt_skipped = "--no-bptt given" if options.no_bptt else "JAX not installed (pip install -e '.[bptt]')"

    losses = pd.concat(histories, ignore_index=True) if histories else pd.DataFrame()
    if not losses.empty:
        write_table(losses, os.path.join(run_dir, "losses.parquet"))
    energy_of_methods = {}
    if spike_frames:
        all_spikes = pd.concat(spike_frames, ignore_index=True)
        spikes.save_spikes(all_spikes, os.path.join(run_dir, "spikes_last_trial.parquet"))
        for label in results:
            frame = all_spikes[all_spikes["method"] == label]
            recurrent = frame[frame["group"] == "recurrent"].drop(columns="method")
            out_degree = np.full(config.n_rec, config.n_rec - 1 + config.n_out)
            results[label]["energy_last_trial_recurrent"] = energy.energy_summary(recurrent, out_degree,
                                                                                  float(config.dt))
            energy_of_methods[label] = energy.energy_summary(recurrent, out_degree, float(config.dt),
                                                             n_neurons=config.n_rec, n_steps=config.n_steps)
    if outputs:
        rows = [pd.DataFrame({"method": label, "t_s": out["t"], "y": out["y"][0], "y_target": out["y_target"][0]})
                for label, out in outputs.items()]
        write_table(pd.concat(rows, ignore_index=True), os.path.join(run_dir, "outputs_last_trial.parquet"))
    figures = _figures(run_dir, losses, spike_frames, outputs)

    if mode == "full" and options.iterations is None:
        for label, limit in TARGETS.items():
            if label in results:
                entry = results[label]
                entry["target_loss"] = limit
                entry["target_met"] = bool(entry["final_loss"] <= limit and
                                           RATE_RANGE_HZ[0] <= entry["final_rate_hz"] <= RATE_RANGE_HZ[1])
    summary = {
        "study": NAME, "status": status, "failure": failure, "mode": mode, "seed": options.seed,
        "device": options.device, "iterations": n_iterations, "methods": results,
        "compile_seconds": compile_seconds, "builds": n_builds, "binary_runs": n_runs,
        "bptt_skipped": bptt_skipped, "figures": figures, "networks": networks, "options": options.as_dict(),
        "resumed_at_iteration": resumed or None,
        "energy": {"counts": "recurrent spikes of the last trained trial of each method", **energy_of_methods},
        "reference_final_loss": {"seed1": {"eprop-random": 3.00, "eprop-symmetric": 1.47, "bptt": 3.31},
                                 "seed2": {"eprop-random": 3.72, "eprop-symmetric": 2.24, "bptt": 1.23}},
    }
    if status == "completed":  # the checkpoints only serve an unfinished run
        for label in results:
            with contextlib.suppress(FileNotFoundError):
                os.remove(os.path.join(run_dir, label, "checkpoint.npz"))
    write_summary(run_dir, summary, options)
    _print_table(losses, n_iterations)
    print(f"summary: {os.path.join(run_dir, 'summary.json')}", flush=True)
    if failure:
        raise StudyError(f"{failure} (partial results in {run_dir})")
    return summary


def _print_table(losses, n_iterations):
    """Losses every tenth of the training; ``iteration`` is the 0-based index of losses.parquet."""
    if losses.empty:
        return
    checkpoints = sorted({*range(0, n_iterations, max(n_iterations // 10, 1)), n_iterations - 1})
    methods = list(dict.fromkeys(losses["method"]))
    header = f"{'iteration':>9}" + "".join(f"  {m + ' loss':>22} {'rate Hz':>8}" for m in methods)
    print(header)
    indexed = {m: losses[losses["method"] == m].set_index("iteration") for m in methods}
    for it in checkpoints:
        line = f"{it:>9}"
        for m in methods:
            if it in indexed[m].index:
                row = indexed[m].loc[it]
                line += f"  {row['loss']:>22.3f} {row['rate_hz']:>8.1f}"
            else:
                line += f"  {'-':>22} {'-':>8}"
        print(line)


def plot_losses(losses, axes=None):
    """Loss per iteration of every method."""
    ax = axes if axes is not None else plt.gca()
    plotting.plot_learning_curves({m: g["loss"].to_numpy() for m, g in losses.groupby("method", sort=False)},
                                  axes=ax)
    for (label, limit), style in zip(TARGETS.items(), (":", "-.")):
        ax.axhline(limit, color="0.3", ls=style, lw=1.0, label=f"target of a full run, {label}")
    ax.set_ylabel("loss = 1/2 sum_t (y_t - y*_t)^2 (one trial)")
    ax.set_title("Pattern generation: loss per iteration")
    ax.legend(fontsize=7)
    return ax


def plot_last_trial_raster(frames, method, axes=None):
    """Input and recurrent spikes of the last trained trial of ``method``."""
    ax = axes if axes is not None else plt.gca()
    plotting.plot_raster(frames[frames["method"] == method].drop(columns="method"), axes=ax)
    ax.set_ylabel("neuron (inputs, then recurrent)")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)  # beside the spikes
    ax.set_title(f"{method}: last trial")
    return ax


def plot_readout(out, method, axes=None):
    """Readout of the last trained trial against the target."""
    ax = axes if axes is not None else plt.gca()
    plotting.plot_output_vs_target(out["t"], out["y"][0], out["y_target"][0], axes=ax)
    ax.set_title(f"{method}: readout vs target (last trial)")
    return ax


def _figures(run_dir, losses, spike_frames, outputs):
    written = []
    if not losses.empty:
        fig, ax = plt.subplots(figsize=(6, 4))
        plot_losses(losses, axes=ax)
        written.append(save_figure(fig, run_dir, "learning_curves.png"))
    if spike_frames:
        frames = pd.concat(spike_frames, ignore_index=True)
        methods = list(dict.fromkeys(frames["method"]))
        fig, axes = plt.subplots(len(methods), 1, figsize=(7, 2.5 * len(methods)), squeeze=False)
        for ax, method in zip(axes[:, 0], methods):
            plot_last_trial_raster(frames, method, axes=ax)
        written.append(save_figure(fig, run_dir, "raster.png"))
    if outputs:
        fig, axes = plt.subplots(len(outputs), 1, figsize=(7, 2.2 * len(outputs)), squeeze=False)
        for ax, (method, out) in zip(axes[:, 0], outputs.items()):
            plot_readout(out, method, axes=ax)
        written.append(save_figure(fig, run_dir, "output_vs_target.png"))
    return written


def _outputs_from_table(table, time_column):
    """The per-method readouts of an outputs table, as the figures take them."""
    return {method: {"t": frame[time_column].to_numpy(), "y": frame["y"].to_numpy()[None],
                     "y_target": frame["y_target"].to_numpy()[None]}
            for method, frame in table.groupby("method", sort=False)}


def export_to_nest(run, out, method=None, n_trials=1, check=False):
    """``brian2learn export RUN_DIR --to nest``: the trained network on the study's input pattern.

    The task has one trial, the frozen input pattern of the run's seed, so ``n_trials`` is not used.
    """
    config = make_config()
    task = pattern_generation_task(seed=run.summary["options"]["seed"], n_in=config.n_in, n_steps=config.n_steps)
    return export_eprop_to_nest(run, out, task["inputs"][:1], method=method, check=check)


def plot_run(run, out_dir):
    """Redraw the figures of a finished run from its tables (``brian2learn plot RUN_DIR``); return their names.

    ``run`` is a :class:`~brian2learn.studies.runs.Run` (``brian2learn.load_run``).
    """
    tables = run.tables
    spike_frames = [tables["spikes_last_trial"]] if "spikes_last_trial" in tables else []
    outputs = _outputs_from_table(tables["outputs_last_trial"], "t_s") if "outputs_last_trial" in tables else {}
    return _figures(out_dir, tables.get("losses", pd.DataFrame()), spike_frames, outputs)


def main(argv=None):
    """``python -m brian2learn.studies.eprop_pattern [options]``: errors in one line, exit status 2."""
    from brian2learn.studies.cli import study_main

    return study_main(sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
