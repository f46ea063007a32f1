"""Robustness of time-to-first-spike learning to substrate imperfections (Göltz, Kriener et al. 2021).

Göltz et al. (2021), "Fast and energy-efficient neuromorphic deep learning with first-spike
times", Nat Mach Intell 3:823-835, doi:10.1038/s42256-021-00388-x: a network trained with exact
spike-time gradients keeps working on an analog substrate whose neurons differ from the ideal
model, when it is trained with the substrate in the loop (forward pass on the substrate, the
gradient computed from the recorded spike times with the ideal model). Here a Brian2 simulation
plays the substrate (:mod:`brian2learn.models.ttfs_substrate`) with, one at a time,

- ``threshold``: fixed-pattern variation of the thresholds (relative std),
- ``tau``: fixed-pattern variation of ``tau_m`` and ``tau_s`` (relative std),
- ``jitter``: trial-to-trial spike-time jitter (std, units of ``tau_s``),
- ``weight_bits``: signed weights with a few bits (range: the largest ``|w|`` of each layer of
  the software-trained network),
- ``dead``: a fraction of the hidden neurons never spikes,

each swept over several strengths, on the Yin-Yang task (:mod:`brian2learn.tasks.yinyang`,
network 4 + bias -> 120 -> 3 of :mod:`brian2learn.studies.ttfs_yinyang`). For each setting:

1. *software*: the network trained in closed form (``--pretrain-epochs`` epochs, or weights from a
   ``ttfs-yinyang`` run via ``--weights``) is tested on the imperfect substrate;
2. *in the loop*: starting from these weights, it is trained for ``--finetune-epochs`` epochs with
   the imperfect substrate (the same chip) in the loop, then tested on it;
3. *control*: the software network trained for the same epochs on the *ideal* Brian2 substrate,
   tested on the imperfect one (more training without the imperfection).

The *recovered fraction* of a setting is ``(in_loop - software) / (ideal - software)`` with
``ideal`` the software network on the ideal substrate, reported where the loss
``ideal - software`` is at least 1 percentage point.

Protocol note: on BrainScaleS-2 the paper trained with the chip in the loop from the start
(Yin-Yang: 95.0 % test accuracy; software 95.9 %). Fine-tuning the software-trained weights for a
few epochs instead is our choice, to keep the full study within about half an hour on two cores;
``--in-loop-start scratch`` trains from the initial weights instead (then use many more epochs).
One Brian2 network (150 samples as neuron copies) is compiled once with ``cpp_standalone``; every
imperfection is passed per run.

Constants (our choices unless stated): the sweeps of :data:`SWEEPS` (the software network is
sensitive: a 5 % threshold spread or 10 % dead hidden neurons already cost several points);
training in the loop with Adam at the paper's learning rate ``5e-3`` (fresh moments; with
``1e-3`` three epochs recovered clearly less, e.g. threshold spread 0.2: 87.7 % instead of
94.0 %, 4-bit weights: 72.8 % instead of 78.9 %, seed 1), the stabilizers and the loss of the
software training (:class:`brian2learn.plasticity.ttfs.TTFSConfig`, from the paper); the
substrate step ``0.01 tau_s`` and ``4 tau_s`` simulated (plus the jitter offset),
``tau_s = 5 ms``; quick mode trains in the loop on the first 1500 training samples.

Measured here (full mode, seed 1, 3 epochs in the loop, ``brian2learn run ttfs-robustness``): software
network 96.4 % (closed form), 96.1 % on the ideal substrate; training in the loop recovered 85-88 % of
the loss from threshold variation, 69-110 % from time-constant variation, 82-97 % from dead neurons
(30 % dead: 51.1 -> 93.3 %), 18-62 % from quantised weights (4 bits: 71.9 -> 86.8 %) and 5-18 % from
jitter (trial-to-trial noise is not a fixed distortion that training can undo; with 9 epochs jitter
0.05 tau_s went 74.4 -> 81.4 %); mean over the 18 settings with a loss: 60 % (``recovers_most``).
Quantised weights are trained with the straight-through estimator
(:class:`brian2learn.training.ttfs.TTFSTrainer`: the gradient at the quantised weights, applied to
full-precision weights); before, with the gradient at the full-precision weights, quantisation
recovered at most 28 % (4 bits: 71.9 -> 76.6 %). The quantisation figures vary between runs: with
``--kinds weight_bits`` alone (no jitter offset in the substrate) 7, 6, 5 and 4 bits recovered 69,
68, 32 and 36 %.
"""

import dataclasses
import os
import sys
import time

import matplotlib
import numpy as np
import pandas as pd

from brian2learn.analysis import energy, spikes
from brian2learn.analysis.tables import write_table
from brian2learn.models import ttfs as ttfs_model
from brian2learn.models import ttfs_substrate as substrate_model
from brian2learn.plasticity import ttfs
from brian2learn.simulation.files import load_parameters
from brian2learn.studies.common import StudyError, save_figure, save_network, write_summary
from brian2learn.studies.options import StudyOptions, option
from brian2learn.studies.run_directory import in_run_directory
from brian2learn.tasks import yinyang
from brian2learn.training.loop import TrainingDivergedError
from brian2learn.training.progress import ProgressReporter
from brian2learn.training.ttfs import TTFSTrainer

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

NAME = "ttfs-robustness"
DESCRIPTION = ("accuracy of a TTFS network on an imperfect Brian2 substrate, trained without and with the "
               "substrate in the loop (Göltz et al. 2021)")

DEVICES = ("cpp_standalone", "runtime")
STARTS = ("software", "scratch")
#: Strengths of each imperfection (full mode); quick mode takes the entries of QUICK_SWEEPS.
SWEEPS = {
    "threshold": (0.02, 0.05, 0.1, 0.2),  # relative std of v_th - E_l
    "tau": (0.02, 0.05, 0.1, 0.2),  # relative std of tau_m and of tau_s
    "jitter": (0.01, 0.02, 0.05, 0.1),  # std of the spike-time jitter, tau_s
    "weight_bits": (7, 6, 5, 4),  # signed bits (BrainScaleS-2: 6 bits + sign = 7)
    "dead": (0.05, 0.1, 0.2, 0.3),  # fraction of dead hidden neurons
}
QUICK_SWEEPS = {"threshold": (0.05, 0.2), "tau": (0.05, 0.2), "jitter": (0.02, 0.05), "weight_bits": (6, 4),
                "dead": (0.1, 0.2)}
LABELS = {
    "threshold": ("threshold variation", "relative std of the threshold"),
    "tau": ("time-constant variation", "relative std of tau_m and tau_s"),
    "jitter": ("spike-time jitter", "std of the jitter (tau_s)"),
    "weight_bits": ("weight quantisation", "signed weight bits"),
    "dead": ("dead neurons", "fraction of dead hidden neurons"),
}
MODES = {
    "full": {"pretrain_epochs": 300, "finetune_epochs": 3, "train_samples": None},
    "quick": {"pretrain_epochs": 30, "finetune_epochs": 1, "train_samples": 1500},
}
FINETUNE_LEARNING_RATE = 5e-3  # the paper's (initial) learning rate
#: A loss below this (accuracy, ideal minus imperfect) gets no recovered fraction.
MIN_LOSS = 0.01
#: Göltz et al. 2021: Yin-Yang test accuracy in software and on BrainScaleS-2 (chip in the loop).
PAPER_ACCURACY = {"software": 0.959, "brainscales2_in_the_loop": 0.950}


def parse_kinds(text):
    """The imperfections of ``--kinds`` (comma-separated names of :data:`SWEEPS`), in order, without repeats."""
    kinds = [k.strip() for k in str(text).split(",") if k.strip()]
    unknown = [k for k in kinds if k not in SWEEPS]
    if not kinds or unknown:
        raise ValueError(f"'--kinds' must list imperfections among {', '.join(SWEEPS)}, got {text!r}")
    return list(dict.fromkeys(kinds))


@dataclasses.dataclass
class Options(StudyOptions):
    """Options of the robustness study (``brian2learn run ttfs-robustness --help``).

    Attributes
    ----------
    device : str
        Brian2 device of the substrate.
    kinds : str
        Comma-separated imperfections to sweep (names of :data:`SWEEPS`).
    weights : str or None
        ``network_ttfs.npz`` (or the ``weights.npz`` of older runs) of a ``ttfs-yinyang`` run (skips the
        software training).
    pretrain_epochs, finetune_epochs : int or None
        Epochs of the software training and of the training in the loop (``None``: :data:`MODES`).
    finetune_lr : float
        Learning rate of Adam in the loop (a step size in the weight unit ``g_l (v_th - E_l)``).
    in_loop_start : str
        ``software`` (the software weights) or ``scratch`` (the initial weights).
    train_samples, test_samples : int or None
        Training samples in the loop and test samples (first N; ``None``: :data:`MODES`, all 1000).
    """

    quick: bool = option(False, help=f"{MODES['quick']['pretrain_epochs']} software epochs, 2 strengths per "
                                     f"imperfection and {MODES['quick']['finetune_epochs']} epoch of "
                                     f"{MODES['quick']['train_samples']} samples in the loop (full: "
                                     f"{MODES['full']['pretrain_epochs']}, 4 and {MODES['full']['finetune_epochs']} "
                                     "of 5000)")
    seed: int = option(1, help="seed of weights, batch order, chip and jitter (default 1)")
    device: str = option("cpp_standalone", choices=DEVICES, help="cpp_standalone (default) or runtime")
    kinds: str = option(",".join(SWEEPS), metavar="KIND,...",
                        help=f"comma-separated imperfections to sweep (default all: {','.join(SWEEPS)})")
    weights: str | None = option(None, metavar="FILE",
                                 help="network_ttfs.npz (or weights.npz) of a ttfs-yinyang run (skips the "
                                      "software training)")
    pretrain_epochs: int | None = option(None, minimum=1, metavar="N", help="override the software training epochs")
    finetune_epochs: int | None = option(None, minimum=1, metavar="N", help="override the epochs in the loop")
    finetune_lr: float = option(FINETUNE_LEARNING_RATE, metavar="LR",
                                help=f"learning rate in the loop (default {FINETUNE_LEARNING_RATE:g})")
    in_loop_start: str = option("software", choices=STARTS,
                                help="start training in the loop from the software weights (default) or from "
                                     "scratch")
    train_samples: int | None = option(None, minimum=1, metavar="N",
                                       help="train in the loop on the first N training samples (default all 5000; "
                                            "quick 1500)")
    test_samples: int | None = option(None, minimum=1, metavar="N",
                                      help="test on the first N test samples (default all 1000)")
    out: str | None = option(None, metavar="DIR", help="run directory (default runs/ttfs-robustness-seedN)")

    def check(self):
        if not 0 <= self.seed < 2 ** 31:
            raise ValueError(f"'--seed' must be an integer in [0, 2**31), got {self.seed!r}")
        parse_kinds(self.kinds)
        if not np.isfinite(self.finetune_lr) or self.finetune_lr <= 0:
            raise ValueError(f"'--finetune-lr' must be a positive number, got {self.finetune_lr!r}")
        if self.weights is not None and not os.path.isfile(self.weights):
            raise ValueError(f"'--weights' must be an existing .npz file, got {self.weights!r}")


def load_weights(path, config):
    """Weights of a ``ttfs-yinyang`` run, checked against ``config``.

    Reads its ``network_ttfs.npz`` (arrays ``w_0``, ``w_1``, ...) or the ``weights.npz`` of runs written
    before it (``arr_0``, ``arr_1``, ...).
    """
    what = "the network_ttfs.npz (or weights.npz) of a ttfs-yinyang run"
    try:
        arrays, _ = load_parameters(path)
    except (OSError, ValueError, AttributeError) as error:
        raise ValueError(f"'--weights' must be {what}, and {path!r} is not an .npz file "
                         f"({' '.join(str(error).split())[:80]})") from None
    for prefix in ("w_", "arr_"):
        names = [f"{prefix}{k}" for k in range(len(arrays))]
        if sorted(arrays) == sorted(names):
            break
    else:
        raise ValueError(f"'--weights' must be {what}: arrays w_0, w_1, ..., got {sorted(arrays)}")
    weights = [np.asarray(arrays[name], dtype=float) for name in names]
    expected = list(zip(config.layer_sizes[:-1], config.layer_sizes[1:]))
    if [w.shape for w in weights] != expected:
        raise ValueError(f"'--weights' must hold matrices of shapes {expected}, got {[w.shape for w in weights]}")
    return weights


def _log(message):
    print(f"[{NAME}] {message}", file=sys.stderr, flush=True)


def _metrics(result, labels):
    decided = np.isfinite(result["t_decision"])
    return {"test_accuracy": result["accuracy"], "test_loss": result["loss"],
            "undecided_fraction": float(np.mean(result["prediction"] < 0)),
            "mean_time_to_decision_tau_s": float(np.mean(result["t_decision"][decided])) if decided.any() else np.nan,
            "hidden_spikes_per_sample": float(np.isfinite(result["times"][1]).sum(axis=1).mean())}


@in_run_directory(NAME)
def run(options, run_dir):
    """Train, sweep the imperfections, write summary.json, Parquet tables and the figure; return the summary.

    ``options`` is an :class:`Options` (``run(Options(quick=True))``). In the summary, ``compile_seconds`` is
    the build of the substrate, ``training_seconds`` the software training and the training in the loop,
    and ``energy`` is :func:`evaluation_energy`.
    """
    mode = "quick" if options.quick else "full"
    seed = int(options.seed)
    sweeps = {kind: (QUICK_SWEEPS if options.quick else SWEEPS)[kind] for kind in parse_kinds(options.kinds)}
    pretrain_epochs = options.pretrain_epochs or MODES[mode]["pretrain_epochs"]
    finetune_epochs = options.finetune_epochs or MODES[mode]["finetune_epochs"]
    print(f"{NAME}: {mode} mode, seed {seed}, device {options.device}, imperfections {', '.join(sweeps)}, "
          f"{finetune_epochs} epoch(s) in the loop from {options.in_loop_start}, run directory {run_dir}", flush=True)

    data = yinyang.yin_yang_splits()
    x = {name: yinyang.encode_spike_times(split["features"], **yinyang.ENCODING) for name, split in data.items()}
    y = {name: split["labels"] for name, split in data.items()}
    n_train = options.train_samples or MODES[mode]["train_samples"] or len(y["train"])
    n_test = options.test_samples or len(y["test"])
    x["loop"], y["loop"] = x["train"][:n_train], y["train"][:n_train]
    x["test"], y["test"] = x["test"][:n_test], y["test"][:n_test]
    config = ttfs.TTFSConfig()
    start = time.perf_counter()

    # 1. software network (closed-form forward pass)
    if options.weights:
        software = load_weights(options.weights, config)
        pretrain = {"source": os.path.abspath(options.weights), "epochs": None, "seconds": 0.0}
    else:
        trainer = TTFSTrainer(config, ttfs.initial_weights(config, seed))
        rng = np.random.default_rng(seed)
        progress = ProgressReporter(f"{NAME} software", unit="epoch", fields=("train_loss", "train_accuracy"),
                                    every=max(1, pretrain_epochs // 10))
        try:
            trainer.train(pretrain_epochs, x["train"], y["train"], rng, run_dir=run_dir, progress=progress)
        except TrainingDivergedError as error:
            raise StudyError(f"the software training diverged: {error}") from error
        software = trainer.weights
        pretrain = {"source": "trained here (closed form)", "epochs": pretrain_epochs,
                    "seconds": time.perf_counter() - start}
    networks = [save_network(run_dir, "software", {f"w_{k}": w for k, w in enumerate(software)}, NAME, options,
                             dataclasses.asdict(config), source=pretrain["source"])]
    analytic_test = TTFSTrainer(config, software).evaluate(x["test"], y["test"])["accuracy"]
    weight_range = [float(np.max(np.abs(w))) for w in software]
    finetune_config = dataclasses.replace(config, learning_rate=options.finetune_lr)

    max_jitter = max(sweeps.get("jitter", (0.0,)))
    substrate = substrate_model.TTFSSubstrate(
        config.layer_sizes, ttfs_model.neuron_params(config.tau_ratio), pattern_seed=seed, jitter_seed=seed + 1,
        max_jitter=max_jitter, weight_range=weight_range, device=options.device,
        directory=os.path.join(run_dir, "build") if options.device == "cpp_standalone" else None,
        **ttfs_model.SUBSTRATE)
    rows, curves, energies = [], [], {}
    try:
        def evaluate(weights, imperfections, part):
            """Metrics of ``weights`` on the substrate with ``imperfections``; keeps the energy of ``part``."""
            substrate.set_imperfections(imperfections, weight_range=weight_range)
            result = TTFSTrainer(config, weights, forward=substrate).evaluate(x["test"], y["test"])
            energies[part] = spike_energy(result["times"], substrate, config)
            return _metrics(result, y["test"])

        def train_in_loop(imperfections, kind, strength):
            substrate.set_imperfections(imperfections, weight_range=weight_range)
            first = software if options.in_loop_start == "software" else ttfs.initial_weights(config, seed)
            trainer = TTFSTrainer(finetune_config, first, forward=substrate)
            rng = np.random.default_rng(seed + 2)
            began = time.perf_counter()
            try:
                history = trainer.train(finetune_epochs, x["loop"], y["loop"], rng)
            except TrainingDivergedError as error:
                raise StudyError(f"training in the loop diverged ({kind} = {strength}): {error}") from error
            elapsed = history["epoch_seconds"].cumsum()
            for (_, row), seconds in zip(history.iterrows(), elapsed):
                curves.append({"kind": kind, "strength": strength, "epoch": int(row["epoch"]),
                               "train_loss": row["train_loss"], "train_accuracy": row["train_accuracy"],
                               "bumped_batches": int(row["bumped_batches"]), "seconds": float(seconds)})
            return trainer.weights, time.perf_counter() - began

        ideal = substrate_model.Imperfections()
        baseline = evaluate(software, ideal, ("ideal", 0.0, "software"))
        rows.append({"kind": "ideal", "strength": 0.0, "training": "software", **baseline, "finetune_seconds": 0.0})
        _write_tables(run_dir, rows, curves)  # what finished is on disk at once, after every part
        _log(f"software network: closed form {100 * analytic_test:.1f} %, ideal Brian2 substrate "
             f"{100 * baseline['test_accuracy']:.1f} % ({time.perf_counter() - start:.1f} s)")
        control, control_seconds = train_in_loop(ideal, "ideal", 0.0)
        control_ideal = evaluate(control, ideal, ("ideal", 0.0, "control"))
        rows.append({"kind": "ideal", "strength": 0.0, "training": "control", **control_ideal,
                     "finetune_seconds": control_seconds})
        _write_tables(run_dir, rows, curves)
        _log(f"control ({finetune_epochs} epoch(s) on the ideal substrate): "
             f"{100 * control_ideal['test_accuracy']:.1f} %")
        for kind, strengths in sweeps.items():
            for strength in strengths:
                imperfections = substrate_model.Imperfections.of_kind(kind, strength)
                before = evaluate(software, imperfections, (kind, strength, "software"))
                with_control = evaluate(control, imperfections, (kind, strength, "control"))
                tuned, seconds = train_in_loop(imperfections, kind, strength)
                after = evaluate(tuned, imperfections, (kind, strength, "in_loop"))
                for training, metrics, spent in (("software", before, 0.0), ("control", with_control, 0.0),
                                                 ("in_loop", after, seconds)):
                    rows.append({"kind": kind, "strength": float(strength), "training": training, **metrics,
                                 "finetune_seconds": spent})
                _write_tables(run_dir, rows, curves)
                _log(f"{kind} {strength:g}: software {100 * before['test_accuracy']:.1f} %, in the loop "
                     f"{100 * after['test_accuracy']:.1f} %, control {100 * with_control['test_accuracy']:.1f} %  "
                     f"({time.perf_counter() - start:.1f} s)")
    finally:
        runner = substrate.runner
        brian2_stats = {"compile_seconds": runner.compile_seconds, "builds": runner.n_builds, "runs": runner.n_runs,
                        "run_seconds": runner.run_seconds}
        substrate.close()
    wall = time.perf_counter() - start

    table = _write_tables(run_dir, rows, curves)
    results = _results(table, sweeps, baseline["test_accuracy"])
    recovered = [f for r in results.values() for f in r["recovered_fraction"] if f is not None]
    figures = _figures(run_dir, table, sweeps, baseline["test_accuracy"], finetune_epochs)
    summary = {
        "study": NAME, "status": "completed", "mode": mode, "seed": seed, "device": options.device,
        "software": {**pretrain, "test_accuracy_closed_form": analytic_test,
                     "test_accuracy_ideal_substrate": baseline["test_accuracy"], "weight_range": weight_range},
        "control_test_accuracy_ideal_substrate": control_ideal["test_accuracy"],
        "in_loop": {"start": options.in_loop_start, "epochs": finetune_epochs, "learning_rate": options.finetune_lr,
                    "train_samples": n_train},
        "test_samples": n_test, "sweeps": {kind: list(values) for kind, values in sweeps.items()},
        "results": results,
        "mean_recovered_fraction": float(np.mean(recovered)) if recovered else None,
        "settings_with_loss": len(recovered),
        "recovers_most": bool(np.mean(recovered) >= 0.5) if recovered else None,
        "paper_accuracy": PAPER_ACCURACY,
        "substrate": {"dt_tau_s": ttfs_model.SUBSTRATE["dt"], "duration_tau_s": ttfs_model.SUBSTRATE["duration"],
                      "n_copies": ttfs_model.SUBSTRATE["n_copies"], "jitter_offset_tau_s": substrate.offset,
                      "neuron_params": {k: str(v) for k, v in ttfs_model.neuron_params(config.tau_ratio).items()}},
        "brian2": brian2_stats, "wall_seconds": wall, "compile_seconds": brian2_stats["compile_seconds"],
        "training_seconds": {"software": pretrain["seconds"], "in_loop": float(table["finetune_seconds"].sum())},
        "notes": ("recovered_fraction = (in_loop - software) / (ideal - software), only where ideal - software >= "
                  f"{MIN_LOSS}; ideal = software weights on the ideal Brian2 substrate. The paper trained with "
                  "BrainScaleS-2 in the loop from the start; here the software weights are fine-tuned in the loop "
                  "(see the module docstring)."),
        "figures": figures, "tables": ["robustness.parquet", "in_loop_curves.parquet"],
        "options": options.as_dict(), "networks": networks, "energy": evaluation_energy(energies, n_test),
    }
    write_summary(run_dir, summary, options)
    _print_table(summary)
    print(f"summary: {os.path.join(run_dir, 'summary.json')}", flush=True)
    return summary


def _write_tables(run_dir, rows, curves):
    """Write ``robustness.parquet`` (the evaluations so far) and ``in_loop_curves.parquet`` (the trainings in the
    loop so far, once there is one); return the robustness table. Called after the baseline, the control and
    every sweep point, so that an interrupted run keeps what finished; the last call writes the final tables."""
    table = pd.DataFrame(rows)
    write_table(table, os.path.join(run_dir, "robustness.parquet"))
    if curves:
        write_table(pd.DataFrame(curves), os.path.join(run_dir, "in_loop_curves.parquet"))
    return table


def spike_energy(times, substrate, config):
    """Energy of one evaluation: the hidden and output spikes of the test samples (one trial each).

    ``times`` are the spike times returned by ``substrate`` (a :class:`TTFSSubstrate`, in ``tau_s``,
    ``inf``: no spike); out-degree of a hidden neuron = the number of outputs, of an output neuron 0;
    ``n_neurons`` = hidden + output neurons (dead ones included); the steps are those the substrate
    simulates per sample (its duration, with the jitter offset, over its step).
    """
    sizes = config.layer_sizes
    tau_s = float(substrate.params["tau_s"])
    frames = []
    for group, layer in (("hidden", times[1]), ("output", times[2])):
        samples, neurons = np.nonzero(np.isfinite(layer))
        frame = spikes.spikes_to_dataframe(neurons, layer[samples, neurons] * tau_s, group=group)
        frame["trial"] = samples.astype(np.int64)
        frames.append(frame)
    out_degree = {"hidden": np.full(sizes[1], sizes[2], dtype=np.int64),
                  "output": np.zeros(sizes[2], dtype=np.int64)}
    steps_per_sample = int(round(substrate.duration / substrate.step))
    return energy.energy_summary(spikes.concat_spikes(frames), out_degree, substrate.step * tau_s,
                                 n_neurons=sizes[1] + sizes[2], n_steps=len(times[1]) * steps_per_sample)


def evaluation_energy(energies, n_test):
    """``energy`` of the summary: one entry per evaluation on the substrate (see :func:`spike_energy`).

    ``energies`` maps ``(kind, strength, training)`` to :func:`spike_energy`; the entry is
    ``{"ideal": {training: ...}, kind: {strength: {training: ...}}}`` (strengths as text) and a
    ``counts`` line. Only the test evaluations count: the training passes keep no spikes.
    """
    entry = {"counts": f"hidden and output spikes of the {n_test} test samples (one trial each) in every "
                       "evaluation on the Brian2 substrate: the ideal substrate (software and control weights) "
                       "and each imperfection (software, control and in-loop weights); synaptic operations of the "
                       "hidden -> output synapses; steps of the substrate (0.01 tau_s)"}
    for (kind, strength, training), values in energies.items():
        if kind == "ideal":
            entry.setdefault("ideal", {})[training] = values
        else:
            entry.setdefault(kind, {}).setdefault(f"{strength:g}", {})[training] = values
    return entry


def _results(table, sweeps, ideal_accuracy):
    results = {}
    for kind, strengths in sweeps.items():
        entry = {"strengths": [float(s) for s in strengths]}
        for training in ("software", "in_loop", "control"):
            part = table[(table["kind"] == kind) & (table["training"] == training)].set_index("strength")
            entry[training] = [float(part.loc[float(s), "test_accuracy"]) for s in strengths]
        fractions = []
        for before, after in zip(entry["software"], entry["in_loop"]):
            loss = ideal_accuracy - before
            fractions.append(float((after - before) / loss) if loss >= MIN_LOSS else None)
        entry["recovered_fraction"] = fractions
        results[kind] = entry
    return results


def _print_table(summary):
    print(f"software network: closed form {100 * summary['software']['test_accuracy_closed_form']:.1f} %, "
          f"ideal substrate {100 * summary['software']['test_accuracy_ideal_substrate']:.1f} %")
    print(f"{'imperfection':>12} {'strength':>8} {'software %':>10} {'in loop %':>9} {'control %':>9} {'recovered':>9}")
    for kind, entry in summary["results"].items():
        for values in zip(entry["strengths"], entry["software"], entry["in_loop"], entry["control"],
                          entry["recovered_fraction"]):
            strength, before, after, control, fraction = values
            shown = f"{fraction:.2f}" if fraction is not None else "-"
            print(f"{kind:>12} {strength:>8g} {100 * before:>10.1f} {100 * after:>9.1f} {100 * control:>9.1f} "
                  f"{shown:>9}")
    if summary["mean_recovered_fraction"] is not None:
        print(f"mean recovered fraction {summary['mean_recovered_fraction']:.2f} over {summary['settings_with_loss']} "
              f"settings with a loss of at least {100 * MIN_LOSS:g} percentage point(s)")


def plot_robustness(table, kind, ideal_accuracy, finetune_epochs, axes=None):
    """Test accuracy against the strength of one imperfection: software, in the loop, control.

    ``table`` is the ``robustness.parquet`` frame; returns the Axes.
    """
    if axes is None:
        _, axes = plt.subplots(figsize=(4, 3.2))
    styles = {"software": ("trained without (software)", "C0", "o-"),
              "in_loop": (f"+{finetune_epochs} ep. substrate in the loop", "C3", "s-"),
              "control": (f"+{finetune_epochs} ep. on ideal substrate", "0.5", "^:")}
    for training, (label, color, style) in styles.items():
        part = table[(table["kind"] == kind) & (table["training"] == training)].sort_values("strength")
        strengths, accuracy = part["strength"].to_numpy(), 100 * part["test_accuracy"].to_numpy()
        if kind != "weight_bits":
            strengths, accuracy = np.concatenate([[0.0], strengths]), np.concatenate([[100 * ideal_accuracy], accuracy])
        axes.plot(strengths, accuracy, style, color=color, label=label, ms=4)
    axes.axhline(100 * ideal_accuracy, color="k", lw=0.8, ls="--", label="software, ideal substrate")
    if kind == "weight_bits":
        axes.invert_xaxis()
    title, xlabel = LABELS[kind]
    axes.set_title(title)
    axes.set_xlabel(xlabel)
    axes.set_ylabel("test accuracy (%)")
    return axes


def plot_run(run, out_dir):
    """Redraw the figure of a finished run from its table and summary (``brian2learn plot RUN_DIR``)."""
    summary = run.summary
    return _figures(out_dir, run.tables["robustness"], summary["sweeps"],
                    summary["software"]["test_accuracy_ideal_substrate"], summary["in_loop"]["epochs"])


def _figures(run_dir, table, sweeps, ideal_accuracy, finetune_epochs):
    n_cols = min(3, len(sweeps) + 1)
    n_rows = int(np.ceil((len(sweeps) + 1) / n_cols))
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(4.2 * n_cols, 3.5 * n_rows), squeeze=False)
    panels = axes.ravel()
    low = max(0.0, 100 * table["test_accuracy"].min() - 3)
    for ax, kind in zip(panels, sweeps):
        plot_robustness(table, kind, ideal_accuracy, finetune_epochs, axes=ax)
        ax.set_ylim(low, 100)
    handles, labels = panels[0].get_legend_handles_labels()
    legend_ax = panels[len(sweeps)]
    legend_ax.axis("off")
    legend_ax.legend(handles, labels, loc="center", fontsize=9, frameon=False,
                     title="Yin-Yang test accuracy on the imperfect substrate")
    for ax in panels[len(sweeps) + 1:]:
        ax.axis("off")
    fig.suptitle("TTFS network on an imperfect Brian2 substrate, trained without and with it in the loop "
                 "(Göltz et al. 2021)")
    return [save_figure(fig, run_dir, "robustness.png")]


def main(argv=None):
    """``python -m brian2learn.studies.ttfs_robustness [options]``: errors in one line, exit status 2."""
    from brian2learn.studies.cli import study_main

    return study_main(sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
