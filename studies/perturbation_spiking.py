"""Weight vs node perturbation in a recurrent spiking network, and Jabri & Flower's XOR network.

Two experiments, both with the rules of :mod:`brian2learn.plasticity.perturbation_network` (WP and NP
on weights that live in Brian2 Synapses; each trial an unperturbed and a perturbed pass; one C++ build
per network):

1. **Delayed output pattern** (spiking). A recurrent network of leaky integrate-and-fire neurons
   (:mod:`brian2learn.plasticity.delayed_pattern_network`) receives a sequence of input bursts (a "timing"
   input, as the HVC input of Fiete & Seung's songbird model); two groups of its neurons are outputs whose
   smoothed population rates must follow two delayed bumps (at 60 ms and 140 ms of a 195 ms trial): a
   temporally extended task with a low-dimensional target, the regime in which Züge, Klos & Memmesheimer
   (2023, Phys Rev X 13:021006, doi:10.1103/PhysRevX.13.021006) find WP as good as or better than NP.
   Input and recurrent weights are plastic. NP perturbs each neuron by a current ``xi_i(t)`` added to its
   synaptic current (Fiete & Seung 2006, Phys Rev Lett 97:048104, doi:10.1103/PhysRevLett.97.048104, with
   current instead of conductance noise); its eligibility is ``sum_t xi_i(t) s_j(t)``, ``s_j`` the
   presynaptic synaptic trace that the weight multiplies. Criterion: the unperturbed error at most
   ``CRITERION`` of its initial value.
2. **XOR** (Jabri & Flower 1991, Neural Comput 3:546, doi:10.1162/neco.1991.3.4.546): the 2-2-1 sigmoid
   network of :mod:`brian2learn.plasticity.xor_network` trained on the task of :mod:`brian2learn.tasks.xor`
   by WP (all nine weights perturbed in parallel) until all four patterns are correct (100 %).

Run as ``python -m brian2learn.studies.perturbation_spiking [--quick] ...`` (or ``brian2learn run
perturbation-spiking`` once registered in :data:`brian2learn.studies.STUDIES`).
"""

import dataclasses
import os
import sys
import time

import brian2 as b2
import matplotlib
import numpy as np
import pandas as pd

from brian2learn.analysis import energy, plotting
from brian2learn.analysis.spikes import concat_spikes, save_spikes, spikes_to_dataframe
from brian2learn.analysis.tables import write_table
from brian2learn.plasticity import delayed_pattern_network, xor_network
from brian2learn.plasticity.delayed_pattern_network import delayed_pattern_model, initial_spiking_weights
from brian2learn.plasticity.perturbation_network import LearnerValues
from brian2learn.simulation.devices import STEP_DT
from brian2learn.studies.common import save_figure, save_network, write_summary
from brian2learn.studies.options import StudyOptions, option
from brian2learn.studies.run_directory import in_run_directory
from brian2learn.tasks import delayed_pattern, xor
from brian2learn.tasks.delayed_pattern import bump_targets, timing_inputs
from brian2learn.training.perturbation_network import PerturbationNetworkTrainer
from brian2learn.training.progress import ProgressReporter

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

NAME = "perturbation-spiking"
DESCRIPTION = "WP vs NP training a recurrent LIF network on a delayed output pattern, and WP on Jabri & Flower's XOR"

# -- the spiking task -------------------------------------------------------------------------------------

#: Network (:data:`brian2learn.plasticity.delayed_pattern_network.NETWORK`) and task
#: (:data:`brian2learn.tasks.delayed_pattern.TASK`; a step is STEP_DT = 2**-10 s, about 0.98 ms).
SPIKING = {
    **delayed_pattern_network.NETWORK,
    **{key: delayed_pattern.TASK[key] for key in ("burst_steps", "bump_times", "bump_width", "bump_height")},
}


def spiking_stimuli(params=SPIKING):
    """Inputs (timing bursts) and targets (delayed bumps) of the spiking task, in the network's steps."""
    return {"inputs": timing_inputs(params["n_steps"], params["n_in"], params["burst_steps"]),
            "targets": bump_targets(params["n_steps"], STEP_DT, params["bump_times"], params["bump_width"],
                                    params["bump_height"])}


# -- the study ---------------------------------------------------------------------------------------------

DEVICES = ("cpp_standalone", "runtime")
RULES = ("wp", "np")
RULE_LABELS = {"wp": "WP", "np": "NP"}
#: Learning parameters (a coarse scan of eta in {0.003 ... 0.4} and sigma, seed 1, 1000 trials: the largest
#: rate at which no learner diverged; WP diverges with eta = 0.4, sigma = 0.05).
SPIKING_LEARNING = {"wp": {"eta": 0.2, "sigma": 0.1}, "np": {"eta": 0.2, "sigma": 1.0}}
CRITERION = 0.1  # spiking criterion: unperturbed error <= CRITERION x initial error
#: XOR learning parameters and initial weight scale (plasticity.xor_network, from a numpy scan of eta and sigma).
XOR_LEARNING = xor_network.JABRI_FLOWER_LEARNING
XOR_INIT_SCALE = xor_network.JABRI_FLOWER_INIT_SCALE
MODES = {
    "full": {"trials": 3000, "learners": 10, "xor_trials": 10_000, "xor_learners": 50, "trials_per_run": 1000},
    "quick": {"trials": 800, "learners": 4, "xor_trials": 3000, "xor_learners": 20, "trials_per_run": 800},
}


@dataclasses.dataclass
class Options(StudyOptions):
    """Options of the spiking and XOR perturbation study (``brian2learn run perturbation-spiking --help``)."""

    quick: bool = option(False, help=f"spiking: {MODES['quick']['trials']} trials, {MODES['quick']['learners']} "
                                     f"learners per rule; XOR: {MODES['quick']['xor_trials']} trials, "
                                     f"{MODES['quick']['xor_learners']} learners per rule (full: "
                                     f"{MODES['full']['trials']}, {MODES['full']['learners']}, "
                                     f"{MODES['full']['xor_trials']}, {MODES['full']['xor_learners']})")
    seed: int = option(1, minimum=0, help="seed of the networks and perturbations (default 1)")
    device: str = option("cpp_standalone", choices=DEVICES, help="Brian2 device")
    trials: int | None = option(None, minimum=1, metavar="N", help="override the spiking trials")
    learners: int | None = option(None, minimum=1, metavar="K", help="override the spiking learners per rule")
    xor_trials: int | None = option(None, minimum=1, metavar="N", help="override the XOR trials")
    xor_learners: int | None = option(None, minimum=1, metavar="K", help="override the XOR learners per rule")


def first_trial(values, condition):
    """First trial (0-based) at which ``condition(values)`` holds; ``None`` if never."""
    hits = np.flatnonzero(condition(np.asarray(values)))
    return int(hits[0]) if hits.size else None


def _rule_summary(per_learner, finals):
    reached = [trial for trial in per_learner if trial is not None]
    return {"reached": len(reached), "learners": len(per_learner),
            "median_trials_to_criterion": float(np.median(reached)) if reached else None,
            "median_trials_all_reached": float(np.median(reached)) if len(reached) == len(per_learner) else None,
            "per_learner": per_learner, "final_error": float(np.mean(finals))}


def evaluate_spiking(weights, learners, params=SPIKING):
    """One unperturbed pass of the networks ``learners`` (indices) of a weight set, on the runtime device.

    Returns a dict: ``y`` (len(learners), n_channels, T), ``y_target`` (n_channels, T), ``spikes``
    (list of (neuron, step) arrays per learner), ``error`` (len(learners),).
    """
    n_eval = len(learners)
    n_net, n_in = params["n_net"], params["n_in"]
    w_in = weights["in"].reshape(-1, n_net * n_in)[list(learners)].ravel()
    w_rec = weights["rec"].reshape(-1, n_net * (n_net - 1))[list(learners)].ravel()
    trainer = PerturbationNetworkTrainer(
        lambda n: delayed_pattern_model(n_eval, n, record_learners=n_eval, name="spk_eval"), n_eval,
        device="runtime", trials_per_run=1)
    try:
        out = trainer.train(1, LearnerValues("wp", eta=0.0, sigma=1.0),
                            {"w:spk_eval_in": w_in, "w:spk_eval_rec": w_rec},
                            stimuli=spiking_stimuli(), seed=0)
        model = trainer.model
        n_steps, n_channels = params["n_steps"], params["n_channels"]
        y = np.asarray(model.monitors["readout"].y)[:, :n_steps].reshape(n_eval, n_channels, n_steps)
        y_target = np.asarray(model.monitors["readout"].y_target)[:n_channels, :n_steps]
        index = np.asarray(model.monitors["spikes"].i)
        steps = np.round(np.asarray(model.monitors["spikes"].t / STEP_DT)).astype(int)
        first_pass = steps < n_steps
        spikes = [(index[first_pass & (index // n_net == k)] % n_net, steps[first_pass & (index // n_net == k)])
                  for k in range(n_eval)]
        error = out["history"]["E_ref"].to_numpy()
    finally:
        trainer.close()
    return {"y": y, "y_target": y_target, "spikes": spikes, "error": error}


#: The evaluated networks of the spiking task: name -> (stage of ``evaluate_spiking``, learner within it).
EVALUATED = {"initial": ("initial", 0), "wp_trained": ("final", 0), "np_trained": ("final", 1)}


def evaluation_spike_frames(evaluation):
    """Spike frames (:mod:`brian2learn.analysis.spikes`, group ``network``, times in the trial) of the unperturbed
    evaluation passes: the initial network and the first WP and NP learners after training (:data:`EVALUATED`)."""
    frames = {}
    for name, (stage, learner) in EVALUATED.items():
        neurons, steps = evaluation[stage]["spikes"][learner]
        frames[name] = spikes_to_dataframe(neurons, steps * float(STEP_DT), group="network")
    return frames


def network_out_degree(params=SPIKING):
    """Out-degree of each neuron of one learner's network: its recurrent synapses (``n_net - 1``, no autapses),
    plus one readout synapse for the ``n_channels x per_channel`` output neurons."""
    recurrent_pre = delayed_pattern_network.spiking_connectivity(1, params["n_in"], params["n_net"])["rec"][0]
    degree = np.bincount(recurrent_pre, minlength=params["n_net"]).astype(np.int64)
    degree[:params["n_channels"] * params["per_channel"]] += 1
    return degree


def spiking_energy(frames, params=SPIKING):
    """The ``energy`` entry of the summary: one entry per evaluated spiking network, and XOR (not spiking).

    It counts the spikes of the unperturbed evaluation pass (one trial of ``n_steps`` steps) of the initial
    network and of the first WP and NP learners after training; the training passes record no spikes.
    """
    degree = network_out_degree(params)
    entry = {"counts": "spikes of one unperturbed evaluation trial of the delayed-pattern network: the initial "
                       "network and the first WP and NP learners after training (synaptic operations over the "
                       "recurrent and readout synapses)"}
    for name, frame in frames.items():
        entry[name] = energy.energy_summary(frame, degree, STEP_DT, n_neurons=params["n_net"],
                                            n_steps=params["n_steps"])
    entry["xor"] = energy.not_spiking("2-2-1 sigmoid network (Jabri & Flower 1991)")
    return entry


def run_spiking(options, n_trials, per_rule, trials_per_run, run_dir):
    """Train WP and NP learners (alternating, from the same network) on the delayed output pattern."""
    n_learners = 2 * per_rule
    rules = [RULES[k % 2] for k in range(n_learners)]
    params = {var: [SPIKING_LEARNING[rule][var] for rule in rules] for var in ("eta", "sigma")}
    weights = initial_spiking_weights(n_learners, options.seed)
    names = ("w:spk_in", "w:spk_rec")
    directory = os.path.join(run_dir, "build_spiking") if options.device == "cpp_standalone" else None
    trainer = PerturbationNetworkTrainer(lambda n: delayed_pattern_model(n_learners, n), n_learners,
                                         device=options.device, trials_per_run=trials_per_run, directory=directory)
    progress = ProgressReporter(f"{NAME} spiking", unit="trial")
    try:
        out = trainer.train(n_trials, LearnerValues(rules, **params), dict(zip(names, (weights["in"], weights["rec"]))),
                            stimuli=spiking_stimuli(), seed=options.seed * 10 + 1, progress=progress)
    finally:
        build = {"compile_seconds": trainer.runner.compile_seconds, "builds": trainer.runner.n_builds,
                 "binary_runs": trainer.runner.n_runs}
        trainer.close()
    history = out["history"].assign(rule=lambda f: np.asarray(rules)[f["learner"]])
    initial_error = float(history.loc[history["trial"] == 0, "E_ref"].mean())
    level = CRITERION * initial_error
    tail = max(1, n_trials // 20)
    result = {"initial_error": initial_error, "criterion_level": level, "rules": {},
              "wall_seconds": out["wall_seconds"], **build,
              "training_seconds": out["wall_seconds"] - build["compile_seconds"]}
    for rule in RULES:
        learners = [k for k, name in enumerate(rules) if name == rule]
        per_learner = [first_trial(history.loc[history["learner"] == k, "E_ref"], lambda e: e <= level)
                       for k in learners]
        finals = [history.loc[(history["learner"] == k) & (history["trial"] >= n_trials - tail), "E_ref"].mean()
                  for k in learners]
        result["rules"][rule] = {**_rule_summary(per_learner, finals), **SPIKING_LEARNING[rule]}
    final_weights = {"in": out["weights"]["w:spk_in"], "rec": out["weights"]["w:spk_rec"]}
    result["network"] = save_network(run_dir, "spiking", {"w_in": final_weights["in"], "w_rec": final_weights["rec"]},
                                     NAME, options, {"n_learners": n_learners, "network": "delayed_pattern_network"},
                                     rules=rules, learning=SPIKING_LEARNING,
                                     order="synapse order of delayed_pattern_network(n_learners), learner-major")
    evaluation = {"initial": evaluate_spiking(weights, [0]), "final": evaluate_spiking(final_weights, [0, 1])}
    return history, result, evaluation, rules


def run_xor(options, n_trials, per_rule, trials_per_run, run_dir):
    """Train XOR learners by WP (and NP), pairs of learners from the same initial weights."""
    n_learners = 2 * per_rule
    rules = [RULES[k % 2] for k in range(n_learners)]
    params = {var: [XOR_LEARNING[rule][var] for rule in rules] for var in ("eta", "sigma")}
    init = xor_network.initial_weights(per_rule, options.seed, scale=XOR_INIT_SCALE)
    pairs = np.arange(n_learners) // 2
    weights = {"w:xor_layer1": init["layer1"][pairs].ravel(), "w:xor_layer2": init["layer2"][pairs].ravel()}
    directory = os.path.join(run_dir, "build_xor") if options.device == "cpp_standalone" else None
    trainer = PerturbationNetworkTrainer(lambda n: xor_network.xor_model(n_learners, n), n_learners,
                                         device=options.device, trials_per_run=min(trials_per_run * 4, n_trials),
                                         directory=directory)
    progress = ProgressReporter(f"{NAME} xor", unit="trial")
    try:
        out = trainer.train(n_trials, LearnerValues(rules, **params), weights, seed=options.seed * 10 + 2,
                            progress=progress)
    finally:
        build = {"compile_seconds": trainer.runner.compile_seconds, "builds": trainer.runner.n_builds,
                 "binary_runs": trainer.runner.n_runs}
        trainer.close()
    reference = out["outputs"][out["outputs"]["pass"] == 0].assign(rule=lambda f: np.asarray(rules)[f["learner"]])
    final1 = out["weights"]["w:xor_layer1"].reshape(n_learners, xor_network.N_HIDDEN, 3)
    final2 = out["weights"]["w:xor_layer2"].reshape(n_learners, xor_network.N_HIDDEN + 1)
    result = {"rules": {}, "wall_seconds": out["wall_seconds"], "init_scale": XOR_INIT_SCALE, **build,
              "training_seconds": out["wall_seconds"] - build["compile_seconds"],
              "network": save_network(run_dir, "xor", {"w_layer1": final1, "w_layer2": final2}, NAME, options,
                                      {"n_learners": n_learners, "n_hidden": xor_network.N_HIDDEN},
                                      rules=rules, learning=XOR_LEARNING,
                                      shape="w_layer1: (learner, hidden, 2 inputs + bias); "
                                            "w_layer2: (learner, hidden + bias)")}
    tail = max(1, n_trials // 20)
    for rule in RULES:
        learners = [k for k, name in enumerate(rules) if name == rule]
        per_learner = [first_trial(reference.loc[reference["learner"] == k, "correct"], lambda c: c >= 4)
                       for k in learners]
        finals = [reference.loc[(reference["learner"] == k) & (reference["trial"] >= n_trials - tail), "E"].mean()
                  for k in learners]
        correct_after = [xor.n_correct(xor_network.forward_numpy(final1[k], final2[k])) for k in learners]
        result["rules"][rule] = {**_rule_summary(per_learner, finals), **XOR_LEARNING[rule],
                                 "correct_after_training_numpy": correct_after}
    return reference, result


@in_run_directory(NAME)
def run(options, run_dir):
    """Train the spiking network (WP, NP) and XOR (WP, NP); write summary.json, Parquet tables and figures.

    ``options`` is an :class:`Options` (``run(Options(quick=True))``).
    """
    mode = "quick" if options.quick else "full"
    cfg = MODES[mode]
    n_trials = options.trials or cfg["trials"]
    per_rule = options.learners or cfg["learners"]
    xor_trials = options.xor_trials or cfg["xor_trials"]
    xor_per_rule = options.xor_learners or cfg["xor_learners"]
    trials_per_run = min(cfg["trials_per_run"], n_trials)
    print(f"{NAME}: {mode} mode, spiking {n_trials} trials x {per_rule} learners per rule, XOR {xor_trials} trials "
          f"x {xor_per_rule} learners per rule, seed {options.seed}, device {options.device}, run directory {run_dir}",
          flush=True)
    start = time.perf_counter()
    spiking_history, spiking, evaluation, rules = run_spiking(options, n_trials, per_rule, trials_per_run, run_dir)
    # the spiking task's tables are on disk before XOR starts (its network is saved by run_spiking)
    write_table(spiking_history, os.path.join(run_dir, "spiking_learning_curves.parquet"))
    outputs = _output_table(evaluation)
    write_table(outputs, os.path.join(run_dir, "spiking_outputs.parquet"))
    evaluation_spikes = evaluation_spike_frames(evaluation)
    spike_table = evaluation_spike_table(evaluation_spikes)
    save_spikes(spike_table, os.path.join(run_dir, "spiking_spikes.parquet"))
    write_table(_criteria_table({"spiking": spiking}), os.path.join(run_dir, "trials_to_criterion.parquet"))
    xor_history, xor_result = run_xor(options, xor_trials, xor_per_rule, trials_per_run, run_dir)
    wall = time.perf_counter() - start

    xor_table = xor_history[["trial", "learner", "rule", "E", "correct"]]
    write_table(xor_table, os.path.join(run_dir, "xor_learning_curves.parquet"))
    criteria = _criteria_table({"spiking": spiking, "xor": xor_result})
    write_table(criteria, os.path.join(run_dir, "trials_to_criterion.parquet"))
    figures = _figures(run_dir, spiking_history, xor_table, outputs, spike_table, criteria)
    summary = {
        "study": NAME, "status": "completed", "mode": mode, "seed": options.seed, "device": options.device,
        "spiking": {"task": _plain_parameters(SPIKING),
                    "dt_ms": float(STEP_DT / b2.ms), "trials": n_trials, "learners_per_rule": per_rule,
                    "criterion": f"unperturbed error <= {CRITERION:g} x initial error", **spiking,
                    "final_evaluation_error": {rule: float(evaluation["final"]["error"][k])
                                               for k, rule in enumerate(rules[:2])}},
        "xor": {"trials": xor_trials, "learners_per_rule": xor_per_rule,
                "criterion": "all four patterns correct (|y - y*| < 0.5) in the unperturbed pass", **xor_result},
        "wall_seconds": wall, "compile_seconds": spiking["compile_seconds"] + xor_result["compile_seconds"],
        "figures": figures, "options": options.as_dict(), "energy": spiking_energy(evaluation_spikes),
        "notes": ("Each trial is an unperturbed and a perturbed pass; errors are those of the unperturbed pass. "
                  "trials_to_criterion: per learner, the first trial meeting the criterion (null: not within the "
                  "trials); median_trials_to_criterion over the learners that reached it. WP and NP learners "
                  "alternate; spiking learners start from the same network, XOR pairs (one WP, one NP) from the same "
                  "weights."),
    }
    write_summary(run_dir, summary, options)
    _print_table(summary)
    print(f"summary: {os.path.join(run_dir, 'summary.json')}", flush=True)
    return summary


def _plain_parameters(params):
    """Parameters for summary.json: times in ms (key suffix ``_ms``), tuples as lists."""
    plain = {}
    for key, value in params.items():
        values = value if isinstance(value, tuple) else (value,)
        if any(isinstance(item, b2.Quantity) and item.has_same_dimensions(b2.second) for item in values):
            converted = [float(item / b2.ms) for item in values]
            plain[f"{key}_ms"] = converted if isinstance(value, tuple) else converted[0]
        else:
            plain[key] = list(value) if isinstance(value, tuple) else value
    return plain


def _criteria_table(results):
    """The ``trials_to_criterion.parquet`` table of the tasks in ``results`` (task -> its result)."""
    rows = [{"task": task, "rule": rule, "learner": k, "trials_to_criterion": trials}
            for task, entry in results.items() for rule in RULES
            for k, trials in enumerate(entry["rules"][rule]["per_learner"])]
    criteria = pd.DataFrame(rows)
    criteria["trials_to_criterion"] = criteria["trials_to_criterion"].astype("Int64")
    return criteria


#: ``stage`` and ``rule`` of each evaluated network (:data:`EVALUATED`) in the tables, as in ``spiking_outputs``.
EVALUATED_ROWS = {"initial": ("initial", "initial"), "wp_trained": ("final", "wp"), "np_trained": ("final", "np")}


def evaluation_spike_table(frames):
    """The ``spiking_spikes.parquet`` table: the spike frames of :func:`evaluation_spike_frames` with the
    ``stage`` and ``rule`` of their network (:data:`EVALUATED_ROWS`)."""
    return concat_spikes([frame.assign(stage=EVALUATED_ROWS[name][0], rule=EVALUATED_ROWS[name][1])
                          for name, frame in frames.items()])


def _evaluation_from_tables(outputs, spike_table):
    """The outputs (as :func:`evaluate_spiking` gives them: ``y``, ``y_target``) and spike frames of the
    evaluated networks, from the ``spiking_outputs`` and ``spiking_spikes`` tables."""
    def stage(name, rules):
        rows = outputs[outputs["stage"] == name]
        channels = sorted(set(rows["channel"]))
        y = np.stack([np.stack([rows.loc[(rows["rule"] == rule) & (rows["channel"] == c), "y"].to_numpy()
                                for c in channels]) for rule in rules])
        first = rows[rows["rule"] == rules[0]]
        y_target = np.stack([first.loc[first["channel"] == c, "y_target"].to_numpy() for c in channels])
        return {"y": y, "y_target": y_target}

    evaluation = {"initial": stage("initial", ["initial"]), "final": stage("final", list(RULES))}
    frames = {name: spike_table[(spike_table["stage"] == st) & (spike_table["rule"] == rule)]
              for name, (st, rule) in EVALUATED_ROWS.items()}
    return evaluation, frames


def _xor_result_from_table(criteria):
    """What :func:`plot_xor_trials_to_criterion` takes, from the ``trials_to_criterion`` table."""
    rows = criteria[criteria["task"] == "xor"]
    return {"rules": {rule: {"per_learner": [None if pd.isna(t) else int(t)
                                             for t in rows.loc[rows["rule"] == rule, "trials_to_criterion"]],
                             "learners": int((rows["rule"] == rule).sum())} for rule in RULES}}


def _output_table(evaluation):
    rows = []
    for stage, rule_names in (("initial", ["initial"]), ("final", list(RULES))):
        data = evaluation[stage]
        for k, label in enumerate(rule_names):
            for channel in range(data["y"].shape[1]):
                rows.append(pd.DataFrame({"stage": stage, "rule": label, "channel": channel,
                                          "step": np.arange(data["y"].shape[2]), "y": data["y"][k, channel],
                                          "y_target": data["y_target"][channel]}))
    return pd.concat(rows, ignore_index=True)


def _print_table(summary):
    print(f"{'task':>8} {'rule':>4} {'reached':>9} {'median trials':>14} {'final error':>12}")
    for task in ("spiking", "xor"):
        for rule, r in summary[task]["rules"].items():
            median = r["median_trials_to_criterion"]
            print(f"{task:>8} {RULE_LABELS[rule]:>4} {r['reached']:>4}/{r['learners']:<4} "
                  f"{(f'{median:.0f}' if median is not None else '-'):>14} {r['final_error']:>12.4g}")


def plot_error_curves(history, error_column, axes=None, level=None):
    """Error per trial of each rule: learners faint, median bold; ``level`` a criterion line."""
    if axes is None:
        axes = plt.gca()
    colors = {"wp": "tab:blue", "np": "tab:orange"}
    for rule in RULES:
        rows = history[history["rule"] == rule]
        for _, learner in rows.groupby("learner"):
            axes.plot(learner["trial"] + 1, learner[error_column], color=colors[rule], alpha=0.15, lw=0.5)
        median = rows.groupby("trial")[error_column].median()
        axes.plot(median.index + 1, median.to_numpy(), color=colors[rule], lw=1.5,
                  label=f"{RULE_LABELS[rule]} (median)")
    if level is not None:
        axes.axhline(level, color="k", ls="--", lw=0.8, label="criterion")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("trial")
    axes.set_ylabel("error (unperturbed pass)")
    axes.legend(fontsize=7)
    return axes


def plot_outputs(evaluation, axes=None):
    """Target bumps and the channel outputs of the initial network and of the first WP and NP learners."""
    if axes is None:
        axes = plt.gca()
    t_ms = np.arange(evaluation["initial"]["y"].shape[2]) * float(STEP_DT / b2.ms)
    styles = {"initial": ("grey", ":"), "wp": ("tab:blue", "-"), "np": ("tab:orange", "-")}
    for channel in range(evaluation["initial"]["y"].shape[1]):
        axes.plot(t_ms, evaluation["initial"]["y_target"][channel], "k--", lw=1.2,
                  label="target" if channel == 0 else None)
        axes.plot(t_ms, evaluation["initial"]["y"][0, channel], color=styles["initial"][0], ls=":",
                  label="initial" if channel == 0 else None)
        for k, rule in enumerate(RULES):
            axes.plot(t_ms, evaluation["final"]["y"][k, channel], color=styles[rule][0], lw=1.0,
                      label=f"{RULE_LABELS[rule]} trained" if channel == 0 else None)
    axes.set_xlabel("time in trial (ms)")
    axes.set_ylabel("channel output (smoothed rate)")
    axes.legend(fontsize=7)
    return axes


def plot_spike_raster(frame, title, axes=None):
    """Spikes of one evaluated network in its unperturbed trial (neurons 0-7 feed the output channels)."""
    axes = plotting.plot_raster(frame, axes=axes if axes is not None else plt.gca(), color="k", time_unit="ms")
    axes.set_xlabel("time in trial (ms)")
    axes.set_ylabel("neuron (0-7: output channels)")
    axes.set_title(title)
    return axes


def plot_xor_trials_to_criterion(xor_result, axes=None):
    """Histogram per rule of the trials each XOR learner needed to classify all four patterns."""
    if axes is None:
        axes = plt.gca()
    for rule, color in (("wp", "tab:blue"), ("np", "tab:orange")):
        reached = [t for t in xor_result["rules"][rule]["per_learner"] if t is not None]
        if reached:
            axes.hist(reached, bins=20, alpha=0.5, color=color, label=f"{RULE_LABELS[rule]} "
                      f"({len(reached)}/{xor_result['rules'][rule]['learners']})")
    axes.set_xlabel("trials to 100 % correct")
    axes.set_ylabel("learners")
    axes.set_title("XOR: trials to criterion")
    if axes.get_legend_handles_labels()[0]:
        axes.legend(fontsize=8)
    return axes


def _figures(run_dir, spiking_history, xor_history, outputs, spike_table, criteria):
    """Draw the figures from the run's tables (in memory or read back); return their file names.

    The criterion line is :data:`CRITERION` times the mean error of the first trial, as in the summary.
    """
    written = []
    evaluation, evaluation_spikes = _evaluation_from_tables(outputs, spike_table)
    level = CRITERION * float(spiking_history.loc[spiking_history["trial"] == 0, "E_ref"].mean())
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    plot_error_curves(spiking_history, "E_ref", axes=axes[0], level=level)
    axes[0].set_title("Spiking delayed pattern: error")
    plot_outputs(evaluation, axes=axes[1])
    axes[1].set_title("Outputs (unperturbed pass)")
    written.append(save_figure(fig, run_dir, "spiking_learning.png"))
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for ax, (name, label) in zip(axes, (("initial", "initial"), ("wp_trained", "WP trained"),
                                        ("np_trained", "NP trained"))):
        plot_spike_raster(evaluation_spikes[name], f"Spikes, {label}", axes=ax)
    written.append(save_figure(fig, run_dir, "spiking_rasters.png"))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    plot_error_curves(xor_history, "E", axes=axes[0])
    axes[0].set_title("XOR: error")
    plot_xor_trials_to_criterion(_xor_result_from_table(criteria), axes=axes[1])
    written.append(save_figure(fig, run_dir, "xor_learning.png"))
    return written


def plot_run(run, out_dir):
    """Redraw the figures of a finished run from its tables (``brian2learn plot RUN_DIR``); return their names.

    ``run`` is a :class:`~brian2learn.studies.runs.Run` (``brian2learn.load_run``).
    """
    tables = run.tables
    return _figures(out_dir, tables["spiking_learning_curves"], tables["xor_learning_curves"],
                    tables["spiking_outputs"], tables["spiking_spikes"], tables["trials_to_criterion"])


def main(argv=None):
    """``python -m brian2learn.studies.perturbation_spiking [options]``: errors in one line, exit status 2."""
    from brian2learn.studies.cli import study_main

    return study_main(sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
