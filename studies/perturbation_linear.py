"""Weight vs node perturbation on the linear task of Züge, Klos & Memmesheimer (2023), Phys Rev X 13:021006.

A linear readout (M = 10 outputs, N = 100 inputs, T = 100 bins) learns target weights 0.1 on
the N_eff,task = 50 relevant inputs, with an unrealizable target component (E_opt = 2, initial
error 7) (:mod:`brian2learn.tasks.perturbation_linear`). Weight perturbation (WP) and node
perturbation (NP) learners run side by side as Brian2 code (:mod:`brian2learn.plasticity.perturbation`;
one C++ build for both settings), ``replicas`` independent learners per rule, at the optimal
learning rates and matched perturbation strengths, R_ref from the unperturbed network (the paper's
protocol; the running-average reference of the rule diverges at these rates and sigma -> 0, as its lag
enters the update divided by sigma^2):

- ``single``: one subtask (N_eff,trial = N_eff,task = 50), sigma_eff = 0.04;
- ``multiple``: multiple subtasks (N_eff,trial = 10 of 50 active per trial), sigma_eff -> 0 (1e-10).

The mean error over the learners is compared with the closed-form expected learning curves.
Reference numbers (shared/REFERENCES.md, re-simulated; single learners): single subtask WP final 2.97
(formula 3.01), ~1100 trials to 90 % of the drop, NP 5.8 (formula 6.00), ~2900; multiple subtasks WP 2.00,
~4640 trials, NP 3.81 (about 2 E_opt), ~580.

Run as ``python -m brian2learn.studies.perturbation_linear [--quick] ...`` (or ``brian2learn run
perturbation-linear`` once registered in :data:`brian2learn.studies.STUDIES`).
"""

import dataclasses
import os
import sys
import time

import matplotlib
import numpy as np
import pandas as pd

from brian2learn.analysis import energy
from brian2learn.analysis.tables import write_table
from brian2learn.plasticity.perturbation import (
    RULES,
    LearnerSettings,
    PerturbationConfig,
)
from brian2learn.studies.common import save_figure, save_network, write_summary
from brian2learn.studies.options import StudyOptions, option
from brian2learn.studies.run_directory import in_run_directory
from brian2learn.tasks.perturbation_linear import SETTINGS, LinearTask, analytic_error_curve, trials_to_fraction
from brian2learn.training.perturbation import PerturbationTrainer
from brian2learn.training.progress import ProgressReporter

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

NAME = "perturbation-linear"
DESCRIPTION = "weight vs node perturbation on the linear task of Züge et al. 2023 (learning curves vs closed form)"

DEVICES = ("cpp_standalone", "runtime")
MODES = {
    "full": {"trials": 10_000, "replicas": 10, "trials_per_run": 500},
    "quick": {"trials": 2_000, "replicas": 4, "trials_per_run": 500},
}
#: shared/REFERENCES.md ("Perturbation"): re-simulated single learners, and the closed forms.
REFERENCE_NUMBERS = {
    "single": {"wp": {"final_error": 2.97, "formula": 3.01, "trials_to_90": 1100},
               "np": {"final_error": 5.8, "formula": 6.00, "trials_to_90": 2900}},
    "multiple": {"wp": {"final_error": 2.00, "trials_to_90": 4640},
                 "np": {"final_error": 3.81, "trials_to_90": 580}},
}
RULE_LABELS = {"wp": "WP", "np": "NP"}


@dataclasses.dataclass
class Options(StudyOptions):
    """Options of the linear-task study (``brian2learn run perturbation-linear --help``)."""

    quick: bool = option(False, help=f"{MODES['quick']['trials']} trials and {MODES['quick']['replicas']} learners "
                                     f"per rule instead of {MODES['full']['trials']} and {MODES['full']['replicas']}")
    seed: int = option(1, minimum=0, help="seed of trials and perturbations (default 1)")
    device: str = option("cpp_standalone", choices=DEVICES, help="Brian2 device")
    trials: int | None = option(None, minimum=1, metavar="N", help="override the number of trials per setting")
    replicas: int | None = option(None, minimum=1, metavar="K", help="override the learners per rule")


def smooth(curve, window):
    """Centred moving average (shorter windows at the ends)."""
    return pd.Series(curve).rolling(window, center=True, min_periods=1).mean().to_numpy()


@in_run_directory(NAME)
def run(options, run_dir):
    """Train WP and NP in both settings, write summary.json, Parquet tables and figures; return the summary.

    ``options`` is an :class:`Options` (``run(Options(quick=True))``).
    """
    mode = "quick" if options.quick else "full"
    n_trials = options.trials or MODES[mode]["trials"]
    replicas = options.replicas or MODES[mode]["replicas"]
    tasks = {name: LinearTask(n_eff_task=s["n_eff_task"], n_eff_trial=s["n_eff_trial"]) for name, s in SETTINGS.items()}
    some_task = next(iter(tasks.values()))
    config = PerturbationConfig(n_in=some_task.n_in, n_out=some_task.n_out, n_steps=some_task.n_steps,
                                n_replicas=replicas, rules=RULES)
    trials_per_run = min(MODES[mode]["trials_per_run"], n_trials)
    print(f"{NAME}: {mode} mode, {n_trials} trials per setting, {replicas} learners per rule, seed {options.seed}, "
          f"device {options.device}, run directory {run_dir}", flush=True)
    directory = os.path.join(run_dir, "build") if options.device == "cpp_standalone" else None
    trainer = PerturbationTrainer(config, device=options.device, trials_per_run=trials_per_run, directory=directory)
    histories, mean_rows, weight_rows, results, networks = [], [], [], {}, []
    start = time.perf_counter()
    try:
        for index, (name, task) in enumerate(tasks.items()):
            sigma_eff = SETTINGS[name]["sigma_eff"]
            learners = {rule: LearnerSettings(eta=task.optimal_learning_rate(rule),
                                              sigma=task.perturbation_strength(rule, sigma_eff))
                        for rule in RULES}

            progress = ProgressReporter(f"{NAME} {name}", unit="trial")
            out = trainer.train(task, n_trials, learners, seed=options.seed * 10 + index, progress=progress)
            history = out["history"].assign(setting=name)
            histories.append(history)
            results[name] = {"n_eff_task": task.n_eff_task, "n_eff_trial": task.n_eff_trial, "sigma_eff": sigma_eff,
                             "alpha_sq": task.alpha_sq, "initial_error": task.initial_error(),
                             "wall_seconds": out["wall_seconds"], "rules": {}}
            networks.append(save_network(
                run_dir, name, {f"w_{rule}": out["weights"][rule] for rule in RULES}, NAME, options,
                {"perturbation": dataclasses.asdict(config), "task": {"n_eff_task": task.n_eff_task,
                                                                      "n_eff_trial": task.n_eff_trial}},
                learners={rule: dataclasses.asdict(learners[rule]) for rule in RULES},
                shape="w_RULE: (replica, output, input)"))
            for rule in RULES:
                results[name]["rules"][rule], rows = _compare(task, rule, learners[rule], history, n_trials)
                mean_rows.append(rows.assign(setting=name, rule=rule))
                weights = out["weights"][rule]
                rep, k, n = np.meshgrid(*(np.arange(s) for s in weights.shape), indexing="ij")
                weight_rows.append(pd.DataFrame({"setting": name, "rule": rule, "replica": rep.ravel(),
                                                 "output": k.ravel(), "input": n.ravel(), "w": weights.ravel()}))
            _write_tables(run_dir, histories, mean_rows, weight_rows)  # what finished is on disk at once
    finally:
        compile_seconds, n_builds, n_runs = (trainer.runner.compile_seconds, trainer.runner.n_builds,
                                             trainer.runner.n_runs)
        trainer.close()
    wall = time.perf_counter() - start

    means, weights = _write_tables(run_dir, histories, mean_rows, weight_rows)
    figures = _figures(run_dir, means, weights, tasks)
    summary = {
        "study": NAME, "status": "completed", "mode": mode, "seed": options.seed, "device": options.device,
        "reference": "unperturbed", "trials": n_trials, "replicas": replicas, "trials_per_run": trials_per_run,
        "settings": results, "compile_seconds": compile_seconds, "builds": n_builds, "binary_runs": n_runs,
        "wall_seconds": wall, "figures": figures, "networks": networks, "reference_numbers": REFERENCE_NUMBERS,
        "options": options.as_dict(),
        "energy": energy.not_spiking("linear rate outputs (Züge et al. 2023)"),
        "notes": ("final_error_sim: mean over learners of the last 5 % of trials; max_rel_deviation: largest "
                  "|sim - formula| / formula of the learner mean smoothed over 1 % of the trials; trials_to_90: first "
                  "trial at which the smoothed mean made 90 % of its drop to its own final level, and the same for the "
                  "formula over the same trials (trials_to_90_formula_same_horizon) and to its limit "
                  "(trials_to_90_formula_limit)."),
    }
    write_summary(run_dir, summary, options)
    _print_table(results)
    print(f"summary: {os.path.join(run_dir, 'summary.json')}", flush=True)
    return summary


def _write_tables(run_dir, histories, mean_rows, weight_rows):
    """Write ``learning_curves``, ``mean_curves`` and ``final_weights.parquet`` with every finished setting;
    return the mean curves and the weights. Called after every setting, so that an interrupted run keeps what
    finished; the last call writes the final tables."""
    write_table(pd.concat(histories, ignore_index=True), os.path.join(run_dir, "learning_curves.parquet"))
    means = pd.concat(mean_rows, ignore_index=True)
    write_table(means, os.path.join(run_dir, "mean_curves.parquet"))
    weights = pd.concat(weight_rows, ignore_index=True)
    write_table(weights, os.path.join(run_dir, "final_weights.parquet"))
    return means, weights


def _compare(task, rule, learner, history, n_trials):
    frame = history[history["rule"] == rule]
    mean = frame.groupby("trial")["error"].mean().to_numpy()
    curve = analytic_error_curve(task, rule, learner.eta, learner.sigma, n_trials)
    window = max(1, n_trials // 100)
    smoothed = smooth(mean, window)
    tail = max(1, n_trials // 20)
    final_by_replica = frame[frame["trial"] >= n_trials - tail].groupby("replica")["error"].mean()
    entry = {
        "eta": learner.eta, "sigma": learner.sigma,
        "final_error_sim": float(mean[-tail:].mean()),
        "final_error_sim_replica_std": float(final_by_replica.std(ddof=1)) if len(final_by_replica) > 1 else None,
        "final_error_formula": float(curve["error"][-tail:].mean()),
        "limit_error_formula": curve["e_final"], "a": curve["a"], "b_E": curve["b_E"],
        "max_rel_deviation": float(np.max(np.abs(smoothed - curve["error"]) / curve["error"])),
        "mean_rel_deviation": float(np.mean(np.abs(smoothed - curve["error"]) / curve["error"])),
        "trials_to_90_sim": trials_to_fraction(smoothed, 0.9, e_final=float(mean[-tail:].mean())),
        "trials_to_90_formula_same_horizon": trials_to_fraction(curve["error"], 0.9,
                                                                e_final=float(curve["error"][-tail:].mean())),
        "trials_to_90_formula_limit": curve["trials_to_90"],
    }
    rows = pd.DataFrame({"trial": np.arange(n_trials), "mean_error": mean, "smoothed_error": smoothed,
                         "formula_error": curve["error"]})
    return entry, rows


def _print_table(results):
    print(f"{'setting':>9} {'rule':>4} {'final sim':>10} {'formula':>8} {'limit':>7} {'90% sim':>8} "
          f"{'90% form':>8} {'max dev':>8}")
    for name, entry in results.items():
        for rule, r in entry["rules"].items():
            t_sim = r["trials_to_90_sim"] if r["trials_to_90_sim"] is not None else "-"
            t_form = r["trials_to_90_formula_same_horizon"]
            print(f"{name:>9} {RULE_LABELS[rule]:>4} {r['final_error_sim']:>10.3f} {r['final_error_formula']:>8.3f} "
                  f"{r['limit_error_formula']:>7.3f} {t_sim!s:>8} {t_form!s:>8} {100 * r['max_rel_deviation']:>7.1f}%")


RULE_COLORS = {"wp": "tab:blue", "np": "tab:orange"}


def plot_learning_curve(means, name, task, axes=None):
    """Mean error of the learners of each rule (raw and smoothed) against the closed form, one setting."""
    ax = axes if axes is not None else plt.gca()
    for rule in RULES:
        rows = means[(means["setting"] == name) & (means["rule"] == rule)]
        ax.plot(rows["trial"] + 1, rows["mean_error"], color=RULE_COLORS[rule], alpha=0.25, lw=0.6)
        ax.plot(rows["trial"] + 1, rows["smoothed_error"], color=RULE_COLORS[rule], lw=1.5,
                label=f"{RULE_LABELS[rule]} (Brian2, mean)")
        ax.plot(rows["trial"] + 1, rows["formula_error"], color="k", ls="--", lw=1.0,
                label="closed form" if rule == "wp" else None)
    ax.axhline(task.e_opt, color="grey", ls=":", lw=0.8, label="E_opt")
    ax.set_xscale("log")
    ax.set_xlabel("trial")
    ax.set_ylabel("error E")
    ax.set_title(f"{name} subtask{'s' if name == 'multiple' else ''}: N_eff,trial = {task.n_eff_trial}")
    ax.legend(fontsize=8)
    return ax


def plot_final_weights(weights, name, task, axes=None):
    """Histograms of the final weights of relevant and zero-input inputs, one setting."""
    ax = axes if axes is not None else plt.gca()
    for rule in RULES:
        rows = weights[(weights["setting"] == name) & (weights["rule"] == rule)]
        relevant = rows[rows["input"] < task.n_eff_task]["w"]
        irrelevant = rows[rows["input"] >= task.n_eff_task]["w"]
        bins = np.linspace(min(rows["w"].min(), -0.05), max(rows["w"].max(), 0.2), 60)
        ax.hist(relevant, bins=bins, color=RULE_COLORS[rule], alpha=0.5, label=f"{RULE_LABELS[rule]} relevant")
        ax.hist(irrelevant, bins=bins, color=RULE_COLORS[rule], histtype="step", lw=1.5,
                label=f"{RULE_LABELS[rule]} zero-input")
    ax.axvline(task.w_target_value, color="k", ls="--", lw=0.8, label="target weight")
    ax.set_xlabel("final weight")
    ax.set_ylabel("weights (all learners)")
    ax.set_title(f"{name}: weights (zero-input weights diffuse under WP)")
    ax.legend(fontsize=7)
    return ax


def _figures(run_dir, means, weights, tasks):
    written = []
    fig, axes = plt.subplots(1, len(tasks), figsize=(5.5 * len(tasks), 4), squeeze=False)
    for ax, (name, task) in zip(axes[0], tasks.items()):
        plot_learning_curve(means, name, task, axes=ax)
    written.append(save_figure(fig, run_dir, "learning_curves.png"))
    fig, axes = plt.subplots(1, len(tasks), figsize=(5.5 * len(tasks), 3.6), squeeze=False)
    for ax, (name, task) in zip(axes[0], tasks.items()):
        plot_final_weights(weights, name, task, axes=ax)
    written.append(save_figure(fig, run_dir, "final_weights.png"))
    return written


def plot_run(run, out_dir):
    """Redraw the figures of a finished run from its tables (``brian2learn plot RUN_DIR``); return their names.

    The tasks are made again from :data:`SETTINGS` (they hold no random numbers).
    """
    tasks = {name: LinearTask(n_eff_task=s["n_eff_task"], n_eff_trial=s["n_eff_trial"]) for name, s in SETTINGS.items()}
    return _figures(out_dir, run.tables["mean_curves"], run.tables["final_weights"], tasks)


def main(argv=None):
    """``python -m brian2learn.studies.perturbation_linear [options]``: errors in one line, exit status 2."""
    from brian2learn.studies.cli import study_main

    return study_main(sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
