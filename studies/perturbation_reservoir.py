"""Weight vs node perturbation training the readout of a reservoir to draw a butterfly (Züge et al. 2023).

Züge, Klos & Memmesheimer (2023), Phys Rev X 13:021006, doi:10.1103/PhysRevX.13.021006, reservoir
computing task (:mod:`brian2learn.tasks.butterfly`): a fixed random reservoir of 500 tanh units
(tau = 10 steps, :mod:`brian2learn.plasticity.reservoir`), driven by 5 sine/cosine inputs, is
simulated once as Brian2 code; its activity, the same in every trial, feeds a linear readout of
M = 2 outputs that must draw a butterfly over T = 500 steps. The readout weights live in Brian2
Synapses and learn by weight perturbation (WP) and node perturbation (NP)
(:mod:`brian2learn.plasticity.perturbation_network`, one C++ build for everything): every trial is
an unperturbed pass (R_ref) and a perturbed pass (R_pert), as in the authors' code. Both rules use
the learning rate eta = 1/((M PR + 2) alpha_eff^2) from the reservoir's
participation ratio PR, and matched perturbation strengths, in two settings:

- ``finite``: sigma_eff = 5e-3 (the authors' "finite" perturbations: the final error shows the noise);
- ``small``: sigma_eff = 1e-10 (negligible perturbations: the convergence speed of the rules).

Trials to criterion: the first trial whose unperturbed error is at most 2x the least-squares optimum of
the readout, computed from the reservoir states over their leading k principal components (k = 5, the
number of inputs and the authors' "top 5 PCA fit", is the headline criterion; k = 10 and 20 are
reported too). With all components the least-squares error is ~1e-26 (500 states span the target), a
level no finite learning run reaches, so it is reported but not used as a criterion.

Run as ``python -m brian2learn.studies.perturbation_reservoir [--quick] ...`` (or ``brian2learn run
perturbation-reservoir`` once registered in :data:`brian2learn.studies.STUDIES`).
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
from brian2learn.plasticity import reservoir
from brian2learn.plasticity.perturbation_network import (
    LearnerValues,
    linear_readout_model,
)
from brian2learn.studies.common import save_figure, save_network, write_summary
from brian2learn.studies.options import StudyOptions, option
from brian2learn.studies.run_directory import in_run_directory
from brian2learn.tasks import butterfly
from brian2learn.training.perturbation_network import PerturbationNetworkTrainer
from brian2learn.training.progress import ProgressReporter

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

NAME = "perturbation-reservoir"
DESCRIPTION = "WP vs NP training a reservoir readout to draw a butterfly (Züge et al. 2023), trials to 2x LS optimum"

DEVICES = ("cpp_standalone", "runtime")
RULES = ("wp", "np")
RULE_LABELS = {"wp": "WP", "np": "NP"}
#: Effective perturbation strengths of the two settings (the authors' example code).
SETTINGS = {"finite": 5e-3, "small": 1e-10}
#: Principal components of the least-squares references; the first is the headline criterion.
COMPONENTS = (5, 10, 20)
CRITERION_FACTOR = 2.0  # criterion: error <= 2 x least-squares optimum
MODES = {
    "full": {"trials": 5_000, "learners": 4, "trials_per_run": 1000},
    "quick": {"trials": 1_000, "learners": 3, "trials_per_run": 500},
}


@dataclasses.dataclass
class Options(StudyOptions):
    """Options of the reservoir-readout study (``brian2learn run perturbation-reservoir --help``)."""

    quick: bool = option(False, help=f"{MODES['quick']['trials']} trials and {MODES['quick']['learners']} learners "
                                     f"per rule instead of {MODES['full']['trials']} and {MODES['full']['learners']}")
    seed: int = option(1, minimum=0, help="seed of the reservoir and the perturbations (default 1)")
    device: str = option("cpp_standalone", choices=DEVICES, help="Brian2 device")
    trials: int | None = option(None, minimum=1, metavar="N", help="override the number of trials per setting")
    learners: int | None = option(None, minimum=1, metavar="K", help="override the learners per rule")


def trials_to_criterion(errors, level):
    """First trial (0-based) whose error is at most ``level``; ``None`` if none is."""
    hits = np.flatnonzero(np.asarray(errors, dtype=float) <= level)
    return int(hits[0]) if hits.size else None


def reservoir_task(seed):
    """The task of a seed: inputs, target, reservoir weights and the reservoir states (Brian2, runtime device)."""
    inputs = butterfly.input_signals()
    target = butterfly.butterfly_target()
    weights = reservoir.draw_reservoir(seed)
    states = reservoir.reservoir_states_brian2(weights, inputs, device="runtime")
    return {"inputs": inputs, "target": target, "weights": weights, "states": states}


@in_run_directory(NAME)
def run(options, run_dir):
    """Simulate the reservoir, train WP and NP readouts in both settings, write the results; return the summary.

    ``options`` is an :class:`Options` (``run(Options(quick=True))``).
    """
    mode = "quick" if options.quick else "full"
    n_trials = options.trials or MODES[mode]["trials"]
    per_rule = options.learners or MODES[mode]["learners"]
    trials_per_run = min(MODES[mode]["trials_per_run"], n_trials)
    print(f"{NAME}: {mode} mode, {n_trials} trials per setting, {per_rule} learners per rule, seed {options.seed}, "
          f"device {options.device}, run directory {run_dir}", flush=True)
    start = time.perf_counter()
    task = reservoir_task(options.seed)
    states, target = task["states"], task["target"]
    n_steps, n_units = states.shape
    n_out = target.shape[1]
    stats = reservoir.reservoir_statistics(states)
    optima = {k: reservoir.least_squares_optimum(states, target, k) for k in COMPONENTS}
    full_weights, full_error = reservoir.least_squares_optimum(states, target, None)
    initial_error = reservoir.readout_error(np.zeros((n_out, n_units)), states, target)
    print(f"[{NAME}] reservoir: PR {stats['participation_ratio']:.2f}, alpha_eff^2 {stats['alpha_sq_eff']:.2f}, "
          f"E_0 {initial_error:.4f}, E_LS(5) {optima[5][1]:.4g}, E_LS(all) {full_error:.3g} "
          f"({time.perf_counter() - start:.1f} s)", file=sys.stderr, flush=True)

    n_learners = per_rule * len(RULES)
    rules = [rule for rule in RULES for _ in range(per_rule)]

    def build(n):
        return linear_readout_model(n_units, n_out, n_steps, n_learners, n, name="reservoir_readout")

    directory = os.path.join(run_dir, "build") if options.device == "cpp_standalone" else None
    trainer = PerturbationNetworkTrainer(build, n_learners, device=options.device, trials_per_run=trials_per_run,
                                         directory=directory)
    weight_name = "w:reservoir_readout_synapses"
    curves, finals, results, networks = [], {}, {}, []
    spectrum = pd.DataFrame({"component": np.arange(n_units), "eigenvalue": stats["eigenvalues"]})
    write_table(spectrum, os.path.join(run_dir, "reservoir_spectrum.parquet"))
    try:
        for index, (setting, sigma_eff) in enumerate(SETTINGS.items()):
            params = reservoir.learning_parameters(states, n_out, sigma_eff)
            sigma = np.array([params["sigma_wp"] if rule == "wp" else params["sigma_np"] for rule in rules])
            compiled = trainer.runner.compile_seconds
            out = trainer.train(n_trials, LearnerValues(rules, eta=params["eta"], sigma=sigma),
                                {weight_name: np.zeros(n_learners * n_out * n_units)},
                                stimuli={"inputs": states, "target": target}, seed=options.seed * 10 + index,
                                progress=ProgressReporter(f"{NAME} {setting}", unit="trial"))
            history = out["history"].assign(setting=setting, rule=lambda f: np.asarray(rules)[f["learner"]])
            curves.append(history)
            weights = out["weights"][weight_name].reshape(n_learners, n_out, n_units)
            finals[setting] = weights
            networks.append(save_network(run_dir, setting, {"w_readout": weights}, NAME, options,
                                         {"n_units": n_units, "n_out": n_out, "n_steps": n_steps,
                                          "reservoir_seed": options.seed},
                                         rules=rules, eta=params["eta"], sigma=sigma,
                                         shape="w_readout: (learner, output, reservoir unit)"))
            results[setting] = _summarise(history, rules, weights, states, target, optima, n_trials)
            results[setting].update({"sigma_eff": sigma_eff, "eta": params["eta"], "sigma_wp": params["sigma_wp"],
                                     "sigma_np": params["sigma_np"], "wall_seconds": out["wall_seconds"],
                                     "training_seconds": out["wall_seconds"] - (trainer.runner.compile_seconds
                                                                                - compiled)})
            # what finished is on disk at once: the tables with every finished setting
            _write_tables(run_dir, curves, results, finals, rules, states, target, optima)
    finally:
        compile_seconds, n_builds, n_runs = (trainer.runner.compile_seconds, trainer.runner.n_builds,
                                             trainer.runner.n_runs)
        trainer.close()
    wall = time.perf_counter() - start

    curves, outputs = _write_tables(run_dir, curves, results, finals, rules, states, target, optima)
    figures = _figures(run_dir, curves, outputs, spectrum, stats, optima, initial_error)

    summary = {
        "study": NAME, "status": "completed", "mode": mode, "seed": options.seed, "device": options.device,
        "trials": n_trials, "learners_per_rule": per_rule, "trials_per_run": trials_per_run,
        "task": {**butterfly.TASK, **reservoir.RESERVOIR, "reservoir_device": "runtime"},
        "reservoir": {"participation_ratio": stats["participation_ratio"], "alpha_sq_eff": stats["alpha_sq_eff"],
                      "total_strength": stats["total_strength"],
                      "leading_eigenvalues": stats["eigenvalues"][:10]},
        "initial_error": initial_error,
        "least_squares_error": {**{f"k{k}": optima[k][1] for k in COMPONENTS}, "all": full_error},
        "criterion": f"unperturbed error <= {CRITERION_FACTOR:g} x least-squares error over the leading k principal "
                     f"components; headline k = {COMPONENTS[0]}",
        "settings": results, "compile_seconds": compile_seconds, "builds": n_builds, "binary_runs": n_runs,
        "wall_seconds": wall, "figures": figures, "networks": networks, "options": options.as_dict(),
        "energy": energy.not_spiking("tanh rate units of the reservoir and a linear readout (Züge et al. 2023)"),
        "notes": ("error: the unperturbed pass of each trial; final_error: mean over the rule's learners of the "
                  "last 5 % of trials; trials_to_criterion: per learner, null if not reached; "
                  "sigma_WP = sigma_eff / sqrt(sum of the eigenvalues of S) matches the output perturbation of NP "
                  "(the authors' example code divides by the sum itself)."),
    }
    write_summary(run_dir, summary, options)
    _print_table(summary)
    print(f"summary: {os.path.join(run_dir, 'summary.json')}", flush=True)
    return summary


def _write_tables(run_dir, curves, results, finals, rules, states, target, optima):
    """Write ``learning_curves``, ``trials_to_criterion`` and ``final_outputs.parquet`` with every finished
    setting; return the learning curves and the outputs. Called after every setting, so that an interrupted run
    keeps what finished; the last call writes the final tables."""
    curves = pd.concat(curves, ignore_index=True)
    write_table(curves, os.path.join(run_dir, "learning_curves.parquet"))
    criteria = pd.DataFrame([
        {"setting": setting, "rule": rule, "learner": learner, "components": k,
         "ls_error": optima[k][1], "level": CRITERION_FACTOR * optima[k][1], "trials_to_criterion": trials}
        for setting, entry in results.items() for rule in RULES
        for k in COMPONENTS for learner, trials in enumerate(entry["rules"][rule]["per_learner"][f"k{k}"])])
    criteria["trials_to_criterion"] = criteria["trials_to_criterion"].astype("Int64")
    write_table(criteria, os.path.join(run_dir, "trials_to_criterion.parquet"))
    outputs = _final_outputs(finals, rules, states, target, optima)
    write_table(outputs, os.path.join(run_dir, "final_outputs.parquet"))
    return curves, outputs


def _summarise(history, rules, weights, states, target, optima, n_trials):
    tail = max(1, n_trials // 20)
    entry = {"rules": {}}
    for rule in RULES:
        learners = [index for index, name in enumerate(rules) if name == rule]
        per_learner, medians = {}, {}
        for k in COMPONENTS:
            level = CRITERION_FACTOR * optima[k][1]
            hits = [trials_to_criterion(history.loc[history["learner"] == index, "E_ref"], level)
                    for index in learners]
            per_learner[f"k{k}"] = hits
            reached = [h for h in hits if h is not None]
            medians[f"k{k}"] = float(np.median(reached)) if len(reached) == len(hits) else None
        frame = history[history["rule"] == rule]
        mean = frame.groupby("trial")["E_ref"].mean().to_numpy()
        final_by_learner = [reservoir.readout_error(weights[index], states, target) for index in learners]
        entry["rules"][rule] = {
            "final_error": float(mean[-tail:].mean()),
            "final_error_after_last_update": float(np.mean(final_by_learner)),
            "median_trials_to_criterion": medians, "per_learner": per_learner,
            "reached": {key: int(sum(h is not None for h in hits)) for key, hits in per_learner.items()},
        }
    return entry


def _final_outputs(finals, rules, states, target, optima):
    rows = [pd.DataFrame({"setting": "-", "curve": "target", "step": np.arange(len(target)),
                          "x": target[:, 0], "y": target[:, 1]})]
    weights_k = optima[COMPONENTS[0]][0]
    fit = states @ weights_k.T
    rows.append(pd.DataFrame({"setting": "-", "curve": f"least squares k={COMPONENTS[0]}",
                              "step": np.arange(len(target)), "x": fit[:, 0], "y": fit[:, 1]}))
    for setting, weights in finals.items():
        for rule in RULES:
            index = rules.index(rule)  # the rule's first learner
            out = states @ weights[index].T
            rows.append(pd.DataFrame({"setting": setting, "curve": rule, "step": np.arange(len(target)),
                                      "x": out[:, 0], "y": out[:, 1]}))
    return pd.concat(rows, ignore_index=True)


def _print_table(summary):
    print(f"E_0 {summary['initial_error']:.4f}; least squares: " + ", ".join(
        f"{key} {value:.3g}" for key, value in summary["least_squares_error"].items()))
    print(f"{'setting':>8} {'rule':>4} {'final error':>12} " + " ".join(f"{'trials 2xk' + str(k):>12}"
                                                                      for k in COMPONENTS))
    for setting, entry in summary["settings"].items():
        for rule, r in entry["rules"].items():
            cells = []
            for k in COMPONENTS:
                median = r["median_trials_to_criterion"][f"k{k}"]
                reached = r["reached"][f"k{k}"]
                total = len(r["per_learner"][f"k{k}"])
                cells.append(f"{median:>12.0f}" if median is not None else f"{f'{reached}/{total} reached':>12}")
            print(f"{setting:>8} {RULE_LABELS[rule]:>4} {r['final_error']:>12.4g} " + " ".join(cells))


def plot_learning_curves(curves, setting, optima, initial_error, axes=None):
    """Unperturbed error per trial of each rule (mean over learners, learners faint) with the LS levels."""
    if axes is None:
        axes = plt.gca()
    colors = {"wp": "tab:blue", "np": "tab:orange"}
    frame = curves[curves["setting"] == setting]
    for rule in RULES:
        rows = frame[frame["rule"] == rule]
        for _, learner in rows.groupby("learner"):
            axes.plot(learner["trial"] + 1, learner["E_ref"], color=colors[rule], alpha=0.2, lw=0.5)
        mean = rows.groupby("trial")["E_ref"].mean()
        axes.plot(mean.index + 1, mean.to_numpy(), color=colors[rule], lw=1.5, label=f"{RULE_LABELS[rule]} (mean)")
    for k, style in zip(COMPONENTS, (":", "-.", "--")):
        axes.axhline(CRITERION_FACTOR * optima[k][1], color="k", ls=style, lw=0.8,
                     label=f"{CRITERION_FACTOR:g} x LS optimum, {k} PCs")
    axes.axhline(initial_error, color="grey", lw=0.5)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("trial")
    axes.set_ylabel("error E (unperturbed pass)")
    axes.legend(fontsize=7)
    return axes


def plot_butterflies(outputs, setting, axes=None):
    """Target, least-squares fit and the final output of each rule's first learner."""
    if axes is None:
        axes = plt.gca()
    for curve, style in (("target", {"color": "k", "lw": 1.5}),
                         (f"least squares k={COMPONENTS[0]}", {"color": "grey", "lw": 1.0, "ls": "--"})):
        rows = outputs[outputs["curve"] == curve]
        axes.plot(rows["x"], rows["y"], label=curve, **style)
    for rule, color in (("wp", "tab:blue"), ("np", "tab:orange")):
        rows = outputs[(outputs["curve"] == rule) & (outputs["setting"] == setting)]
        axes.plot(rows["x"], rows["y"], color=color, lw=1.0, label=RULE_LABELS[rule])
    axes.set_aspect("equal")
    axes.set_xlabel("y_1")
    axes.set_ylabel("y_2")
    axes.legend(fontsize=7)
    return axes


def plot_spectrum(spectrum, participation_ratio, axes=None, n_components=40):
    """Leading eigenvalues of the reservoir's activity covariance, with its participation ratio."""
    if axes is None:
        axes = plt.gca()
    axes.semilogy(spectrum["component"][:n_components] + 1, spectrum["eigenvalue"][:n_components], "o-", ms=3)
    axes.axvline(participation_ratio, color="tab:red", lw=1.0, label=f"PR = {participation_ratio:.2f}")
    axes.set_xlabel("principal component")
    axes.set_ylabel("eigenvalue of S = r r^T / T")
    axes.set_title("Reservoir activity")
    axes.legend()
    return axes


def plot_run(run, out_dir):
    """Redraw the figures of a finished run from its tables and summary (``brian2learn plot RUN_DIR``)."""
    summary = run.summary
    optima = {k: (None, summary["least_squares_error"][f"k{k}"]) for k in COMPONENTS}  # the figures use the errors
    return _figures(out_dir, run.tables["learning_curves"], run.tables["final_outputs"],
                    run.tables["reservoir_spectrum"], summary["reservoir"], optima, summary["initial_error"])


def _figures(run_dir, curves, outputs, spectrum, stats, optima, initial_error):
    written = []
    fig, axes = plt.subplots(1, len(SETTINGS), figsize=(5.5 * len(SETTINGS), 4), squeeze=False)
    for ax, (setting, sigma_eff) in zip(axes[0], SETTINGS.items()):
        plot_learning_curves(curves, setting, optima, initial_error, axes=ax)
        ax.set_title(f"{setting}: sigma_eff = {sigma_eff:g}")
    written.append(save_figure(fig, run_dir, "learning_curves.png"))
    fig, axes = plt.subplots(1, len(SETTINGS), figsize=(4.5 * len(SETTINGS), 4), squeeze=False)
    for ax, setting in zip(axes[0], SETTINGS):
        plot_butterflies(outputs, setting, axes=ax)
        ax.set_title(f"final outputs ({setting})")
    written.append(save_figure(fig, run_dir, "butterflies.png"))
    fig, ax = plt.subplots(figsize=(5, 3.6))
    plot_spectrum(spectrum, stats["participation_ratio"], axes=ax)
    written.append(save_figure(fig, run_dir, "reservoir_spectrum.png"))
    return written


def main(argv=None):
    """``python -m brian2learn.studies.perturbation_reservoir [options]``: errors in one line, exit status 2."""
    from brian2learn.studies.cli import study_main

    return study_main(sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
