"""e-prop with adaptive neurons on evidence accumulation (Bellec et al. 2020, Fig. 3).

50 LIF and 50 ALIF neurons (threshold adaptation over 2 s) must report which side
received more of seven cues, 1 s after the last cue (:mod:`brian2learn.tasks.evidence_accumulation`).
Training uses fresh batches of 32 trials per iteration, Adam (lr 5e-3) and softmax
cross-entropy over the recall period, and stops when the error on 8 fresh validation batches
falls below 7 % (the criterion of the reference code) or after ``--max-iterations``. Each
feedback mode asked for is trained with e-prop (one C++ build for all), and BPTT (the ``bptt``
extra) trains the same network from the same initial weights on the same trials.

Along training, at checkpoints, the cosine similarity between the e-prop and the BPTT
gradient of the recurrent weights is measured on the same batch: the number behind
"e-prop approaches BPTT".

Reference (shared/REFERENCES.md, re-implementation with batch 32, seed 1): random e-prop
reached the criterion after 560 iterations (test error 8.6 %), symmetric after 660 (3.1 %);
the reference README quotes 200-500 iterations.
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
from brian2learn.plasticity import eprop
from brian2learn.simulation.devices import DEVICES
from brian2learn.studies.common import StudyError, save_figure, save_network, write_summary
from brian2learn.studies.options import StudyOptions, option
from brian2learn.studies.run_directory import in_run_directory
from brian2learn.tasks.evidence_accumulation import decision_error, evidence_accumulation_trials
from brian2learn.training.eprop import EpropTrainer
from brian2learn.training.loop import Chunk, TrainingDivergedError, TrainingLoop
from brian2learn.training.progress import ProgressReporter

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

NAME = "eprop-evidence"
DESCRIPTION = "e-prop (LIF+ALIF) vs BPTT on evidence accumulation, Bellec et al. 2020 Fig. 3"

#: Network: 50 LIF + 50 ALIF, 40 inputs, 2 readouts; learning and initialization (Bellec et al. 2020, Fig. 3; the
#: library's parameter sets in :mod:`brian2learn.plasticity.eprop`).
NETWORK = eprop.BELLEC2020_EVIDENCE_NETWORK
LEARNING = eprop.BELLEC2020_EVIDENCE_LEARNING
INITIALIZATION = eprop.BELLEC2020_EVIDENCE_INITIALIZATION
SCHEDULE = {
    "full": {"batch_size": 32, "max_iterations": 2000, "validation_batches": 8, "test_batches": 8,
             "checkpoints": 21},  # gradient agreement every 100 iterations
    "quick": {"batch_size": 8, "max_iterations": 12, "validation_batches": 1, "test_batches": 1,
              "checkpoints": 2},
}
CRITERION_ERROR = 0.07  # validation error that stops training
SCREEN_WINDOW = 8  # training batches whose mean error must be below the criterion before validating
RECORDED_NEURONS = (0, 1, 50, 51, 52)  # v and a recorded in the example trial (two LIF, three ALIF)
TEST_ERROR_TARGET = 0.10
STREAMS = {"train": 0, "validation": 1, "test": 2, "checkpoint": 3}


@dataclasses.dataclass
class Options(StudyOptions):
    """Options of the evidence-accumulation study (``brian2learn run eprop-evidence --help``).

    Attributes
    ----------
    feedback : tuple of str
        Feedback modes trained with e-prop, one method each (``eprop-<mode>``).
    device : str
        Brian2 device of the e-prop networks.
    max_iterations : int or None
        Iteration limit (one iteration: one batch and one weight update); default 2000, quick 12.
    batch_size : int or None
        Trials per iteration; default 32, quick 8.
    no_bptt : bool
        Skip the BPTT baseline.
    threads : int or None
        OpenMP threads of the C++ build (``None`` or 0: Brian2's default).
    """

    quick: bool = option(False, help="a small smoke run (batch 8, 12 iterations)")
    seed: int = option(1, minimum=0, help="seed of trials, weights and feedback (default 1)")
    feedback: tuple[str, ...] = option(("random", "symmetric"), choices=eprop.FEEDBACK_MODES,
                                       help="feedback modes to train (default: random symmetric)")
    device: str = option("cpp_standalone", choices=DEVICES, help="Brian2 device")
    max_iterations: int | None = option(None, minimum=1, metavar="N",
                                        help="override the iteration limit (iterations of one batch each)")
    batch_size: int | None = option(None, minimum=1, metavar="N", help="override the batch size (trials)")
    no_bptt: bool = option(False, help="skip BPTT even when JAX is installed")
    threads: int | None = option(None, minimum=0, metavar="N", help="OpenMP threads of the C++ build")

    def check(self):
        if not self.feedback:
            raise ValueError(f"'--feedback' needs at least one mode; allowed: {', '.join(eprop.FEEDBACK_MODES)}")


def make_config(batch_size):
    return eprop.evidence_accumulation_config(batch_size)


def trials(seed, stream, draw, n_trials):
    """Trials of one batch: independent streams for training, validation, test and checkpoints."""
    return evidence_accumulation_trials(n_trials, seed=[seed, STREAMS[stream], draw])


def _bptt_module():
    try:
        from brian2learn.plasticity import bptt
    except ImportError:
        return None
    return bptt


class EpropMethod:
    """e-prop with one feedback mode, trained batch by batch."""

    def __init__(self, config, weights, feedback, feedback_matrix, seed, options, run_dir, runner):
        self.label = f"eprop-{feedback}"
        self.seed = seed
        self.trainer = EpropTrainer(
            config, weights, lambda draw, n: trials(seed, "train", draw, n), feedback=feedback,
            feedback_matrix=feedback_matrix, device=options.device, iterations_per_run=1, runner=runner,
            directory=os.path.join(run_dir, "build") if runner is None else None,
            record_recurrent=RECORDED_NEURONS, threads=options.threads)
        self.run_dir = run_dir

    @property
    def history(self):
        return self.trainer.history

    def step(self):
        self.trainer.train(1, run_dir=os.path.join(self.run_dir, self.label))
        return self.trainer.history[-1]

    def evaluate(self, stream, n_batches, batch_size):
        errors, losses = [], []
        for k in range(n_batches):
            metrics = self.trainer.evaluate(trials=trials(self.seed, stream, k, batch_size))
            errors.append(metrics["error"])
            losses.append(metrics["loss"])
        return float(np.mean(errors)), float(np.mean(losses))

    def gradient(self, batch):
        grads, _ = self.trainer.gradients(trials=batch)
        return grads

    def weights(self):
        return self.trainer.weights()

    def last_trial_recurrent_spikes(self, config):
        """Spike frame of the recurrent neurons in the last trained trial (recorded by the training run;
        ``config`` is unused, as in :meth:`BpttMethod.last_trial_recurrent_spikes`)."""
        indices, times = self.trainer.last_spikes["recurrent"]
        return spikes.spikes_to_dataframe(indices, times, group="recurrent")


class BpttMethod:
    """BPTT of the same discrete model (plain BPTT, the reset included), with Adam.

    Trained one iteration per step of :class:`~brian2learn.training.loop.TrainingLoop` (chunks of
    one iteration; the carried state is the weights and the optimizer state), so that the
    criterion can be checked after every iteration.
    """

    def __init__(self, config, weights, seed, bptt):
        self.label = "bptt"
        self.bptt = bptt
        self.seed = seed
        self.config = config
        self.params = bptt.network_params_from(config.neuron_params, config.n_rec, loss=config.loss,
                                               c_reg=config.c_reg, f_target=config.f_target, reset_gradient=True)
        self.params = bptt.NetworkParams(**{**self.params.__dict__, "beta": np.asarray(config.beta)})
        self.weights_now = {key: np.array(value) for key, value in weights.items()}
        # e-prop's optimizer (numpy form), on the groups in, rec, out of w_in, w_rec, w_out
        self.optimizer = eprop.optimizer_spec(config)
        self.optimizer_state = self.optimizer.init_state(self._groups(self.weights_now))
        self.iteration = 0
        self.history = []
        self.last_trial = None  # (weights, inputs) of the last trained trial
        self._loop = TrainingLoop(self._step, chunk_size=1, unit="iteration")

    @staticmethod
    def _groups(arrays):
        return {key[2:]: arrays[key] for key in ("w_in", "w_rec", "w_out")}

    def _loss(self, batch, weights=None):
        weights = self.weights_now if weights is None else weights
        return self.bptt.loss_and_gradients(weights, batch["inputs"], batch["targets"], batch["window"], self.params)

    def step(self):
        """Train one iteration; raise :class:`TrainingDivergedError` on a non-finite loss."""
        state, _ = self._loop.run((self.weights_now, self.optimizer_state), 1, first=self.iteration)
        self.weights_now, self.optimizer_state = state
        self.iteration += 1
        return self.history[-1]

    def _step(self, state, n_now, first):
        """One iteration from ``state`` = (weights, optimizer state): a chunk of the training loop."""
        weights, optimizer_state = state
        batch = trials(self.seed, "train", first, self.config.batch_size)
        metrics, grads = self._loss(batch, weights)
        grads["w_rec"] = grads["w_rec"] * (1 - np.eye(self.config.n_rec))
        y = self.bptt.readout_batch(weights, batch["inputs"], self.params)
        error = decision_error(y, batch["targets"], batch["window"])
        new, optimizer_state = self.optimizer.step(self._groups(weights), self._groups(grads), optimizer_state)
        new_weights = {f"w_{group}": value for group, value in new.items()}
        row = {"iteration": first, "loss": metrics["task_loss"], "reg_loss": metrics["reg_loss"],
               "rate_hz": metrics["mean_rate_hz"], "error": error}

        def accept():
            self.history.append(row)
            self.last_trial = (weights, batch["inputs"][-1])

        return Chunk(state=(new_weights, optimizer_state), history=pd.DataFrame([row]),
                     losses=np.array([row["loss"]], dtype=float), accept=accept)

    def evaluate(self, stream, n_batches, batch_size):
        errors, losses = [], []
        for k in range(n_batches):
            batch = trials(self.seed, stream, k, batch_size)
            metrics, _ = self._loss(batch)
            y = self.bptt.readout_batch(self.weights_now, batch["inputs"], self.params)
            errors.append(decision_error(y, batch["targets"], batch["window"]))
            losses.append(metrics["task_loss"])
        return float(np.mean(errors)), float(np.mean(losses))

    def gradient(self, batch):
        _, grads = self._loss(batch)
        return grads

    def weights(self):
        return self.weights_now

    def last_trial_recurrent_spikes(self, config):
        """Spike frame of the recurrent neurons in the last trained trial, simulated again with the weights
        of that iteration (BPTT records no spikes while training; this changes no weight)."""
        weights, inputs = self.last_trial
        steps, neurons = np.nonzero(np.asarray(self.bptt.simulate(weights, inputs, self.params)["z"]))
        return spikes.spikes_to_dataframe(neurons, steps * float(config.dt), group="recurrent")


def _cosine(a, b):
    a, b = np.ravel(a), np.ravel(b)
    norm = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / norm) if norm > 0 else float("nan")


def train_to_criterion(method, schedule, batch_size, bptt_reference=None, checkpoint_iterations=(),
                       partial_path=None):
    """Train until the validation error is below the criterion or the iteration limit.

    Every 10 iterations the history so far is written to ``partial_path`` (Parquet), so that
    an interrupted training keeps its learning curve. Returns the history DataFrame, the
    iterations to criterion (None if not reached), the validation log, the gradient-agreement
    log and the wall time (seconds).
    """
    progress = ProgressReporter(f"{NAME} {method.label}", fields=("loss", "error", "rate_hz"))
    validations, agreement = [], []
    reached = None
    start = time.perf_counter()
    for iteration in range(schedule["max_iterations"]):
        if bptt_reference is not None and iteration in checkpoint_iterations:
            batch = trials(method.seed, "checkpoint", iteration, batch_size)
            eprop_grad = method.gradient(batch)
            exact = bptt_reference.bptt.loss_and_gradients(method.weights(), batch["inputs"], batch["targets"],
                                                           batch["window"], bptt_reference.params)[1]
            off = ~np.eye(exact["w_rec"].shape[0], dtype=bool)
            agreement.append({"iteration": iteration,
                              "cosine_w_rec": _cosine(eprop_grad["w_rec"][off], exact["w_rec"][off]),
                              "cosine_w_in": _cosine(eprop_grad["w_in"], exact["w_in"]),
                              "cosine_w_out": _cosine(eprop_grad["w_out"], exact["w_out"])})
        row = method.step()
        done = iteration + 1
        if done % 10 == 0 or done == schedule["max_iterations"]:
            progress(done, schedule["max_iterations"], row)
            if partial_path is not None:
                write_table(pd.DataFrame(method.history), partial_path)
        recent = [r["error"] for r in method.history[-SCREEN_WINDOW:]]
        screen = len(recent) >= min(SCREEN_WINDOW, schedule["max_iterations"]) and np.mean(recent) < CRITERION_ERROR
        if screen:
            error, loss = method.evaluate("validation", schedule["validation_batches"], batch_size)
            validations.append({"iteration": iteration, "validation_error": error, "validation_loss": loss})
            if error < CRITERION_ERROR:
                reached = done
                break
    progress.close()
    wall = time.perf_counter() - start
    return pd.DataFrame(method.history), reached, validations, agreement, wall


def _recurrent_out_degree(config):
    """Outgoing synapses of every recurrent neuron: recurrent synapses (no autapses) and readout synapses."""
    connections = eprop.connectivity(config)
    return (np.bincount(connections["rec"][0], minlength=config.n_rec)
            + np.bincount(connections["out"][0], minlength=config.n_rec))


def _energy(frame, config):
    """Energy summary of the recurrent spikes of one trial."""
    return energy.energy_summary(frame, _recurrent_out_degree(config), float(config.dt), n_neurons=config.n_rec,
                                 n_steps=config.n_steps)


@in_run_directory(NAME)
def run(options, run_dir):
    """Train every method, write summary.json, Parquet tables and figures; return the summary.

    ``options`` is an :class:`Options` (``run(Options(quick=True))``).

    The summary's ``energy`` has one entry per trained method, computed from the spikes of the
    recurrent neurons in the method's last trained trial (for the first e-prop method the trial of
    ``example_trial_spikes.parquet``; for BPTT that trial simulated again with its weights).
    """
    mode = "quick" if options.quick else "full"
    schedule = dict(SCHEDULE[mode])
    if options.max_iterations is not None:
        schedule["max_iterations"] = options.max_iterations
    batch_size = options.batch_size if options.batch_size is not None else schedule["batch_size"]
    config = make_config(batch_size)
    weights = eprop.initial_weights(config, options.seed, readout_init=INITIALIZATION["readout_init"])
    feedback_matrix = eprop.random_feedback(config, options.seed, scale=INITIALIZATION["feedback_scale"])
    bptt = None if options.no_bptt else _bptt_module()
    n_checkpoints = schedule["checkpoints"]
    checkpoints = sorted({int(round(x)) for x in np.linspace(0, schedule["max_iterations"] - 1, n_checkpoints)})
    print(f"{NAME}: {mode} mode, batch {batch_size}, up to {schedule['max_iterations']} iterations, seed "
          f"{options.seed}, feedback {' '.join(options.feedback)}, device {options.device}, run directory "
          f"{run_dir}", flush=True)

    reference = BpttMethod(config, weights, options.seed, bptt) if bptt is not None else None
    results, histories, validations, agreements, networks = {}, [], [], [], []
    energy_of_methods = {}
    example = None
    runner = None
    failure = None
    try:
        for feedback in options.feedback:
            method = EpropMethod(config, weights, feedback, feedback_matrix, options.seed, options, run_dir, runner)
            runner = method.trainer.runner
            compiled_before = runner.compile_seconds
            try:
                history, reached, validation, agreement, wall = train_to_criterion(
                    method, schedule, batch_size, reference, checkpoints,
                    partial_path=os.path.join(run_dir, f"losses_partial_{method.label}.parquet"))
            except TrainingDivergedError as error:
                failure = f"{method.label}: {error}"
                histories.append(pd.DataFrame(method.trainer.history).assign(method=method.label))
                break
            training_seconds = wall - (runner.compile_seconds - compiled_before)
            test_error, test_loss = method.evaluate("test", schedule["test_batches"], batch_size)
            results[method.label] = _result(history, reached, test_error, test_loss, wall)
            results[method.label]["training_seconds"] = training_seconds
            if agreement:
                results[method.label]["gradient_cosine_w_rec"] = [a["cosine_w_rec"] for a in agreement]
            histories.append(history.assign(method=method.label))
            networks.append(save_network(run_dir, method.label, method.weights(), NAME, options,
                                         dataclasses.asdict(config), feedback=feedback))
            validations += [dict(v, method=method.label) for v in validation]
            agreements += [dict(a, method=method.label) for a in agreement]
            energy_of_methods[method.label] = _energy(method.last_trial_recurrent_spikes(config), config)
            if example is None:
                example = _example_tables(_example_trial(method.trainer, config))
                _write_example(run_dir, example)
            # what finished is on disk at once: the network (above) and the tables so far
            _write_tables(run_dir, _tables(histories, validations, agreements), [method.label])
        builds = runner.n_builds if runner is not None else 0
        binary_runs = runner.n_runs if runner is not None else 0
        compile_seconds = runner.compile_seconds if runner is not None else 0.0
    finally:
        if runner is not None:
            runner.close()

    if reference is not None and failure is None:
        history, reached, validation, _, wall = train_to_criterion(
            reference, schedule, batch_size, partial_path=os.path.join(run_dir, "losses_partial_bptt.parquet"))
        test_error, test_loss = reference.evaluate("test", schedule["test_batches"], batch_size)
        results["bptt"] = _result(history, reached, test_error, test_loss, wall)
        results["bptt"]["training_seconds"] = wall
        histories.append(history.assign(method="bptt"))
        networks.append(save_network(run_dir, "bptt", {name: np.asarray(value) for name, value in
                                                       reference.weights().items()}, NAME, options,
                                     dataclasses.asdict(config)))
        validations += [dict(v, method="bptt") for v in validation]
        energy_of_methods["bptt"] = _energy(reference.last_trial_recurrent_spikes(config), config)

    tables = _tables(histories, validations, agreements)
    # the progress files are kept only while a run is unfinished
    _write_tables(run_dir, tables, [*(f"eprop-{feedback}" for feedback in options.feedback), "bptt"])
    figures = _figures(run_dir, tables["losses"], tables["gradient_agreement"], *(example or (None, None, None)))
    if mode == "full" and options.max_iterations is None and options.batch_size is None:
        for entry in results.values():
            entry["target_met"] = bool(entry["iterations_to_criterion"] is not None
                                       and entry["test_error"] < TEST_ERROR_TARGET)
    summary = {
        "study": NAME, "status": "diverged" if failure else "completed", "failure": failure, "mode": mode,
        "seed": options.seed, "device": options.device, "batch_size": batch_size,
        "max_iterations": schedule["max_iterations"], "criterion_validation_error": CRITERION_ERROR,
        "methods": results, "gradient_checkpoints": checkpoints if reference is not None else [],
        "builds": builds, "binary_runs": binary_runs, "compile_seconds": compile_seconds,
        "bptt_skipped": None if reference is not None else ("--no-bptt given" if options.no_bptt else
                                                            "JAX not installed (pip install -e '.[bptt]')"),
        "figures": figures, "networks": networks,
        "reference": {"eprop-random": {"iterations": 560, "test_error": 0.086},
                      "eprop-symmetric": {"iterations": 660, "test_error": 0.031}},
        "options": options.as_dict(),
        "energy": {"counts": "recurrent spikes of the last trained trial of each method (BPTT: that trial "
                             "simulated again with the weights it was trained with)", **energy_of_methods},
    }
    write_summary(run_dir, summary, options)
    _print_table(results)
    print(f"summary: {os.path.join(run_dir, 'summary.json')}", flush=True)
    if failure:
        raise StudyError(f"{failure} (partial results in {run_dir})")
    return summary


def _tables(histories, validations, agreements):
    """The tables ``losses``, ``validation`` and ``gradient_agreement`` of the methods trained so far."""
    return {"losses": pd.concat(histories, ignore_index=True) if histories else pd.DataFrame(),
            "validation": pd.DataFrame(validations), "gradient_agreement": pd.DataFrame(agreements)}


def _write_tables(run_dir, tables, finished):
    """Write the non-empty ``tables``; remove the progress files of the ``finished`` methods (their rows are in
    ``losses.parquet`` now)."""
    for name, table in tables.items():
        if not table.empty:
            write_table(table, os.path.join(run_dir, f"{name}.parquet"))
    for label in finished:
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(run_dir, f"losses_partial_{label}.parquet"))


def _result(history, reached, test_error, test_loss, wall):
    last = history.iloc[-1]
    return {"iterations": int(len(history)), "iterations_to_criterion": reached, "test_error": test_error,
            "test_loss": test_loss, "final_train_loss": float(last["loss"]),
            "mean_rate_hz": float(history["rate_hz"].iloc[-10:].mean()), "wall_seconds": wall}


def _print_table(results):
    print(f"{'method':18s} {'iterations':>10s} {'to criterion':>12s} {'test error':>10s} {'rate Hz':>8s} "
          f"{'wall s':>8s}")
    for label, entry in results.items():
        reached = entry["iterations_to_criterion"]
        print(f"{label:18s} {entry['iterations']:>10d} {str(reached) if reached else '-':>12s} "
              f"{100 * entry['test_error']:>9.1f}% {entry['mean_rate_hz']:>8.1f} {entry['wall_seconds']:>8.1f}")


def _example_trial(trainer, config):
    frames = [spikes.spikes_to_dataframe(indices, times, group=group)
              for group, (indices, times) in trainer.last_spikes.items()]
    y = trainer.last_output["y"]
    softmax = np.exp(y - y.max(axis=0)) / np.exp(y - y.max(axis=0)).sum(axis=0)
    recorded = trainer.last_recurrent
    beta = np.asarray(config.beta)[recorded["neurons"]]
    thresholds = float(config.neuron_params["v_th"]) + beta[:, None] * recorded["a"]
    return {"spikes": pd.concat(frames, ignore_index=True), "t": trainer.last_output["t"], "softmax": softmax,
            "target": trainer.last_output["y_target"], "neurons": recorded["neurons"], "thresholds": thresholds,
            "v_th": float(config.neuron_params["v_th"]),
            "v": recorded["v"]}


#: Names of the two readouts of the task (readout 0 votes left, 1 right).
READOUTS = ("left", "right")


def _example_tables(example):
    """The example trial as the tables the run writes: ``(spikes, readout, neurons)``.

    ``spikes``: input and recurrent spikes (``example_trial_spikes.parquet``); ``readout``: ``t_s``, the softmax
    of each readout and its target (``example_trial_readout.parquet``); ``neurons``: the recorded neurons'
    membrane potential and adaptive threshold A = v_th + beta a in units of v_th, one row per (neuron, step)
    (``example_trial_neurons.parquet``).
    """
    readout = pd.DataFrame({"t_s": example["t"],
                            **{f"softmax_{name}": example["softmax"][k] for k, name in enumerate(READOUTS)},
                            **{f"target_{name}": example["target"][k] for k, name in enumerate(READOUTS)}})
    neurons = pd.concat([pd.DataFrame({"neuron": int(neuron), "t_s": example["t"],
                                       "v_v_th": example["v"][k] / example["v_th"],
                                       "threshold_v_th": example["thresholds"][k] / example["v_th"]})
                         for k, neuron in enumerate(example["neurons"])], ignore_index=True)
    return example["spikes"], readout, neurons


def _write_example(run_dir, example):
    spike_frame, readout, neurons = example
    spikes.save_spikes(spike_frame, os.path.join(run_dir, "example_trial_spikes.parquet"))
    write_table(readout, os.path.join(run_dir, "example_trial_readout.parquet"))
    write_table(neurons, os.path.join(run_dir, "example_trial_neurons.parquet"))


# -- figures ---------------------------------------------------------------------------------------
def _axes(axes, figsize):
    if axes is None:
        _, axes = plt.subplots(figsize=figsize)
    return axes


def plot_training_loss(losses, axes=None):
    """Training loss per iteration of every method (``losses``: the ``losses.parquet`` table)."""
    axes = _axes(axes, (5, 3.8))
    plotting.plot_learning_curves({m: g["loss"].to_numpy() for m, g in losses.groupby("method", sort=False)},
                                  axes=axes)
    axes.set_title("training loss")
    return axes


def plot_training_error(losses, axes=None):
    """Training error (%, running mean of 8 iterations) of every method, with the criterion dotted."""
    axes = _axes(axes, (5, 3.8))
    for method, group in losses.groupby("method", sort=False):
        axes.plot(group["iteration"], 100 * group["error"].rolling(8, min_periods=1).mean(), label=method)
    axes.axhline(100 * CRITERION_ERROR, color="k", lw=0.8, ls=":")
    axes.set(xlabel="iteration", ylabel="training error (%), mean of 8", title="error")
    axes.legend()
    return axes


def plot_gradient_agreement(agreement, axes=None):
    """Cosine similarity of the e-prop and BPTT gradients of W_rec at the checkpoints."""
    axes = _axes(axes, (5, 3.5))
    for method, group in agreement.groupby("method", sort=False):
        axes.plot(group["iteration"], group["cosine_w_rec"], "o-", label=method)
    axes.set(xlabel="iteration", ylabel="cosine(e-prop, BPTT), W_rec", ylim=(-0.1, 1.05))
    axes.legend()
    return axes


def plot_example_readout(readout, axes=None):
    """Readout softmax of the example trial (time in ms) and the target of the right readout
    (``readout``: the ``example_trial_readout.parquet`` table)."""
    axes = _axes(axes, (8, 2.5))
    t_ms = readout["t_s"].to_numpy() * 1000
    for name in READOUTS:
        axes.plot(t_ms, readout[f"softmax_{name}"].to_numpy(), label=f"softmax {name}")
    axes.plot(t_ms, readout["target_right"].to_numpy(), "k:", label="target right")
    axes.set(ylabel="readout", title="readout softmax")
    axes.legend(loc="upper left")
    return axes


def plot_adaptive_thresholds(neurons, axes=None):
    """Thresholds A = v_th + beta a of the recorded neurons in the example trial, in units of v_th
    (``neurons``: the ``example_trial_neurons.parquet`` table).

    The model's voltages are the reference code's dimensionless ones read as volts (v_th = 0.6 -> 600 mV), so
    millivolts would suggest a biophysics the model does not have; A / v_th shows how far adaptation raises
    the threshold.
    """
    axes = _axes(axes, (8, 2.5))
    for neuron, rows in neurons.groupby("neuron", sort=False):
        axes.plot(rows["t_s"].to_numpy() * 1000, rows["threshold_v_th"].to_numpy(), label=f"neuron {neuron}")
    axes.set(xlabel="time (ms)", ylabel="threshold A / v_th", title="adaptive thresholds (1 = no adaptation)")
    axes.legend(loc="upper left", fontsize=7)
    return axes


def plot_example_trial(spike_frame, readout, neurons, axes=None):
    """Input and recurrent rasters, readout and thresholds of the example trial on four stacked axes
    (the tables of :func:`_example_tables`)."""
    if axes is None:
        _, axes = plt.subplots(4, 1, figsize=(8, 9), sharex=True)
    plotting.plot_raster(spike_frame[spike_frame["group"] == "inputs"], axes=axes[0])
    axes[0].set_title("example trial: inputs (left, right, recall, background)")
    plotting.plot_raster(spike_frame[spike_frame["group"] == "recurrent"], axes=axes[1])
    axes[1].set_title("recurrent neurons (0-49 LIF, 50-99 ALIF)")
    plot_example_readout(readout, axes=axes[2])
    plot_adaptive_thresholds(neurons, axes=axes[3])
    return axes


def _figures(run_dir, losses, agreement, example_spikes=None, example_readout=None, example_neurons=None):
    """Draw the figures from the run's tables (in memory or read back); return their file names."""
    written = []
    if not losses.empty:
        fig, (ax_loss, ax_error) = plt.subplots(1, 2, figsize=(10, 3.8))
        plot_training_loss(losses, axes=ax_loss)
        plot_training_error(losses, axes=ax_error)
        written.append(save_figure(fig, run_dir, "learning_curves.png"))
    if not agreement.empty:
        fig, ax = plt.subplots(figsize=(5, 3.5))
        plot_gradient_agreement(agreement, axes=ax)
        written.append(save_figure(fig, run_dir, "gradient_agreement.png"))
    if example_spikes is not None and example_readout is not None and example_neurons is not None:
        fig, axes = plt.subplots(4, 1, figsize=(8, 9), sharex=True)
        plot_example_trial(example_spikes, example_readout, example_neurons, axes=axes)
        written.append(save_figure(fig, run_dir, "example_trial.png"))
    return written


def export_to_nest(run, out, method=None, n_trials=2, check=False):
    """``brian2learn export RUN_DIR --to nest``: the trained network on ``n_trials`` fresh test trials.

    The trials are the first of the run's test stream (the seed's ``test`` draw 0, as the study's test
    error uses), so the exported script shows the network on trials it was not trained on.
    """
    from brian2learn.studies.common import export_eprop_to_nest

    inputs = trials(run.summary["options"]["seed"], "test", 0, n_trials)["inputs"]
    return export_eprop_to_nest(run, out, inputs, method=method, check=check)


def plot_run(run, out_dir):
    """Redraw the figures of a finished run from its tables (``brian2learn plot RUN_DIR``); return their names.

    ``run`` is a :class:`~brian2learn.studies.runs.Run` (``brian2learn.load_run``).
    """
    tables = run.tables
    return _figures(out_dir, tables.get("losses", pd.DataFrame()), tables.get("gradient_agreement", pd.DataFrame()),
                    tables.get("example_trial_spikes"), tables.get("example_trial_readout"),
                    tables.get("example_trial_neurons"))


def main(argv=None):
    """``python -m brian2learn.studies.eprop_evidence [options]``: errors in one line, exit status 2."""
    from brian2learn.studies.cli import study_main

    return study_main(sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
