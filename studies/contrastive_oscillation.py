"""Learning by oscillation: where the oscillating form of contrastive learning breaks down.

Baldi & Pineda (1991), "Contrastive learning and neural oscillations", Neural Comput 3:526,
doi:10.1162/neco.1991.3.4.526, conjecture that brain oscillations could be the alternation of the free and the
taught phase of contrastive learning. The oscillating schedule of :mod:`brian2learn.plasticity.contrastive`
takes it literally: a phase signal s(t) = ±1 switches the teacher, every synapse integrates
dW/dt ∝ s(t) V_i V_j and no phase is stored. When each half period is long against the time the network
needs to settle, one period's change equals the two-phase update (``tests/test_contrastive.py``). This study
sweeps the half period from far above to far below the settling time and measures where learning stops.

Methods
-------
*Tasks* (:mod:`brian2learn.tasks.parity`): XOR and 3-bit parity, targets 0.1/0.9, full batch.

*Network and rules*: ``contrastive-xor``'s (8 hidden additive logistic units, layered, symmetric weights,
Glorot-uniform initial weights per seed; CHL, EP with β = 0.5 and symmetric EP ±0.5), with Euler steps of
τ/8 so that half periods down to τ/4 are simulated.

*Schedule*: every example starts with a free onset of :data:`ONSET_TAU` τ from the reset (the same for every
period, so that only the oscillation changes), then oscillates for :data:`OSCILLATION_TAU` τ: ``cycles =
OSCILLATION_TAU / (2 T_half)`` periods of half period ``T_half``. Each period adds about one two-phase update,
so the learning rate of ``contrastive-xor`` is divided by ``cycles``: at every period an example moves the
weights by as much as one two-phase update would.

*Measures*, per rule, half period and seed, after :data:`MODES` epochs:

- the *fixed-point error*: the trained weights' free fixed point (numpy, relaxation and Newton's method:
  :func:`~brian2learn.plasticity.contrastive.fixed_point`) on every pattern: loss ½(V_out − d)², and
  *solved* when every pattern's output lies on the right side of 0.5 — what the network computes when it is
  left to settle;
- the *oscillation loss*: the output at the end of the last free half period during training (what the rule
  saw);
- the *settling time* τ_s: the slowest relaxation time constant of the free dynamics at the fixed point
  (:func:`~brian2learn.plasticity.contrastive.settling_time`, the largest over the patterns), before and after
  training. The initial networks settle with τ_s ≈ 1.5 τ; training slows them (weights grow).

The breakdown is the shortest half period at which at least 9 of 10 seeds solve the task; the figure draws
the fraction solved and the fixed-point error against ``T_half / τ`` and, per seed, the error against
``T_half / τ_s`` of the trained network.
"""

import dataclasses
import os
import sys
import time
import typing

import matplotlib
import numpy as np
import pandas as pd

from brian2learn.analysis import energy, plotting
from brian2learn.analysis.tables import write_table
from brian2learn.plasticity import contrastive as cl
from brian2learn.studies.common import save_figure, write_summary
from brian2learn.studies.options import StudyOptions, option
from brian2learn.studies.run_directory import in_run_directory
from brian2learn.tasks.parity import parity_task
from brian2learn.training.contrastive import ContrastiveTrainer, accuracy, example_traces

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

NAME = "contrastive-oscillation"
DESCRIPTION = ("contrastive learning by oscillation (Baldi & Pineda 1991): the phase period swept across the "
               "settling time, XOR and 3-bit parity")

DEVICES = ("cpp_standalone", "runtime")
TASKS = {"xor": 2, "parity3": 3}
HIDDEN = 8
TAU_STEPS = 8  # Euler steps per unit time constant tau (a half period of tau/4 is 2 steps)
ONSET_TAU = 32  # free settling from the reset before the oscillation, in tau
OSCILLATION_TAU = 64  # oscillating time per example, in tau: cycles = OSCILLATION_TAU / (2 T_half)
PROTOCOL = {"beta": 0.5, "architecture": "layered", "low": 0.1, "high": 0.9}
LEARNING_RATES = {"chl": 2.0, "ep": 4.0, "ep-symmetric": 4.0}  # contrastive-xor's, per two-phase update
HALF_PERIODS = (32.0, 16.0, 8.0, 4.0, 2.0, 1.0, 0.5, 0.25)  # in tau
MODES = {"full": {"epochs": {"xor": 2000, "parity3": 3000}, "seeds": 10, "half_periods": HALF_PERIODS,
                  "tasks": tuple(TASKS)},
         "quick": {"epochs": {"xor": 100, "parity3": 100}, "seeds": 2, "half_periods": (16.0, 1.0),
                   "tasks": ("xor",)}}
SUCCESS = 0.9  # fraction of seeds solved that counts as learning


@dataclasses.dataclass
class Options(StudyOptions):
    """Options of the oscillation study (``brian2learn run contrastive-oscillation --help``)."""

    quick: bool = option(False, help="XOR only, 100 epochs, 2 seeds, half periods 16 and 1 tau")
    seed: int = option(1, minimum=0, help="first seed (seeds --seed .. --seed + K - 1)")
    seeds: int | None = option(None, minimum=1, metavar="K", help=f"seeds per cell (default {MODES['full']['seeds']})")
    epochs: int | None = option(None, minimum=1, metavar="N",
                                help="epochs per training (default 2000 XOR, 3000 parity)")
    half_periods: tuple[float, ...] | None = option(None, minimum=2 / TAU_STEPS, metavar="T",
                                                    help="half periods in tau (default 32 16 8 4 2 1 0.5 0.25; "
                                                         f"each a multiple of 1/{TAU_STEPS} and at most "
                                                         f"{OSCILLATION_TAU // 2})")
    tasks: tuple[str, ...] | None = option(None, choices=tuple(TASKS), metavar="TASK",
                                           help="tasks to run (default xor parity3; quick xor)")
    rules: tuple[str, ...] = option(cl.RULES, choices=cl.RULES, metavar="RULE", help="rules to run")
    device: str = option("cpp_standalone", choices=DEVICES, help="Brian2 device")

    RESUMABLE: typing.ClassVar[bool] = True  # results.parquet holds every finished cell

    def check(self):
        for half in self.half_periods or ():
            steps = half * TAU_STEPS
            if abs(steps - round(steps)) > 1e-9 or half > OSCILLATION_TAU / 2:
                raise ValueError(f"'--half-periods' must be multiples of 1/{TAU_STEPS} tau from {2 / TAU_STEPS} to "
                                 f"{OSCILLATION_TAU // 2}, got {half!r}")


# -- protocol -------------------------------------------------------------------------------------------------
def network_config(task, rule, half_period):
    """The oscillating network of ``task`` with half periods of ``half_period`` tau."""
    return cl.ContrastiveConfig(n_in=TASKS[task], n_hidden=HIDDEN, n_out=1, rule=rule, schedule="oscillating",
                                architecture=PROTOCOL["architecture"], beta=PROTOCOL["beta"],
                                tau_steps=float(TAU_STEPS), settle_steps=int(round(half_period * TAU_STEPS)),
                                cycles=cycles(half_period), onset_steps=ONSET_TAU * TAU_STEPS,
                                batch_size=2 ** TASKS[task])


def cycles(half_period):
    return max(1, int(round(OSCILLATION_TAU / (2 * half_period))))


def fixed_point_measures(config, weights, data):
    """Loss, accuracy and slowest settling time (in tau) of the free fixed points; None when one is missing."""
    try:
        outputs = np.asarray([cl.fixed_point(config, weights, x)[-config.n_out:] for x in data["inputs"]])
        slowest = max(cl.settling_time(config, weights, x) for x in data["inputs"])
    except cl.FixedPointError:
        return None
    loss = float(np.mean(0.5 * np.sum((outputs - data["targets"]) ** 2, axis=1)))
    return {"loss": loss, "accuracy": accuracy(outputs, data["targets"]), "settling_tau": float(slowest)}


def train_cell(task, rule, half_period, seed, epochs, device, directory):
    """One training: the result row and the trained weights."""
    data = parity_task(TASKS[task], PROTOCOL["low"], PROTOCOL["high"])
    config = network_config(task, rule, half_period)
    weights = cl.initial_weights(config, seed)
    before = fixed_point_measures(config, weights, data)
    epochs_per_run = max(d for d in range(1, min(500, epochs) + 1) if epochs % d == 0)
    start = time.perf_counter()
    with ContrastiveTrainer(config, weights, data["inputs"], data["targets"],
                            LEARNING_RATES[rule] / config.cycles, epochs_per_run=epochs_per_run, seed=seed,
                            device=device, directory=directory) as trainer:
        history = trainer.train(epochs)
        trained = trainer.weights
    after = fixed_point_measures(config, trained, data)
    row = {"task": task, "rule": rule, "half_period_tau": float(half_period), "cycles": config.cycles, "seed": seed,
           "epochs": epochs, "oscillation_loss": float(history["loss"].iloc[-1]),
           "oscillation_accuracy": float(history["accuracy"].iloc[-1]),
           "settling_tau_initial": before["settling_tau"] if before else float("nan"),
           "fixed_point_found": after is not None,
           "fixed_point_loss": after["loss"] if after else float("nan"),
           "fixed_point_accuracy": after["accuracy"] if after else 0.0,
           "settling_tau_trained": after["settling_tau"] if after else float("nan"),
           "steps_per_example": config.steps_per_example, "wall_seconds": time.perf_counter() - start}
    row["solved"] = bool(row["fixed_point_accuracy"] == 1.0)
    row["half_period_over_settling"] = row["half_period_tau"] / row["settling_tau_trained"]
    return row, trained


def breakdown_table(results):
    """Per task, rule and half period: seeds solved, median errors and settling times."""
    grouped = results.groupby(["task", "rule", "half_period_tau"], sort=False)
    table = grouped.agg(solved=("solved", "sum"), seeds=("seed", "count"),
                        fixed_point_loss_median=("fixed_point_loss", "median"),
                        oscillation_loss_median=("oscillation_loss", "median"),
                        settling_tau_initial_median=("settling_tau_initial", "median"),
                        settling_tau_trained_median=("settling_tau_trained", "median")).reset_index()
    table["fraction_solved"] = table["solved"] / table["seeds"]
    return table


def shortest_learning_period(table):
    """Per task and rule: the shortest half period (tau) with at least SUCCESS of the seeds solved, and the
    longest one where learning fails (None when none)."""
    out = {}
    for (task, rule), rows in table.groupby(["task", "rule"], sort=False):
        learned = rows[rows["fraction_solved"] >= SUCCESS]["half_period_tau"]
        failed = rows[rows["fraction_solved"] < SUCCESS]["half_period_tau"]
        out.setdefault(task, {})[rule] = {
            "shortest_learning_half_period_tau": float(learned.min()) if len(learned) else None,
            "longest_failing_half_period_tau": float(failed.max()) if len(failed) else None}
    return out


# -- the run --------------------------------------------------------------------------------------------------
@in_run_directory(NAME)
def run(options, run_dir):
    """Train every rule at every half period from each seed; write summary.json, tables and figures."""
    mode = "quick" if options.quick else "full"
    setting = MODES[mode]
    halves = tuple(options.half_periods or setting["half_periods"])
    seeds = list(range(options.seed, options.seed + (options.seeds or setting["seeds"])))
    tasks = tuple(options.tasks or setting["tasks"])
    print(f"{NAME}: {mode} mode, half periods {list(halves)} tau, seeds {seeds[0]}..{seeds[-1]}, run directory "
          f"{run_dir}", flush=True)
    directory = os.path.join(run_dir, "build") if options.device == "cpp_standalone" else None
    results_path = os.path.join(run_dir, "results.parquet")
    rows, example = [], None
    if options.resume and os.path.exists(results_path):  # cells already written are kept
        rows = pd.read_parquet(results_path).to_dict("records")
    done = {(r["task"], r["rule"], r["half_period_tau"], r["seed"]) for r in rows}
    for task in tasks:
        epochs = options.epochs or setting["epochs"][task]
        for rule in options.rules:
            for half in halves:
                start = time.perf_counter()
                for seed in seeds:
                    if (task, rule, float(half), seed) in done:
                        continue
                    row, trained = train_cell(task, rule, half, seed, epochs, options.device, directory)
                    rows.append(row)
                    if (task, rule, seed, float(half)) == ("xor", "ep-symmetric", seeds[0], float(max(halves))):
                        example = (network_config(task, rule, half), trained)  # kept for the trace figure
                    write_table(pd.DataFrame(rows), results_path)  # kept if interrupted
                cell = [r for r in rows if (r["task"], r["rule"], r["half_period_tau"]) == (task, rule, float(half))]
                print(f"[{NAME}] {task} {rule:>12} half period {half:>5g} tau ({cycles(half):>3} cycles): solved "
                      f"{sum(r['solved'] for r in cell)}/{len(cell)}, fixed-point loss (median) "
                      f"{np.nanmedian([r['fixed_point_loss'] for r in cell]):.4f}, settling time "
                      f"{np.nanmedian([r['settling_tau_trained'] for r in cell]):.2f} tau "
                      f"({time.perf_counter() - start:.1f} s)", file=sys.stderr, flush=True)
    results = pd.DataFrame(rows)
    table = breakdown_table(results)
    write_table(table, os.path.join(run_dir, "breakdown.parquet"))
    if example is None and "xor" in tasks and "ep-symmetric" in options.rules:  # its cell came from a resumed run
        example = _trained_example(results, seeds[0], options.device, directory)
    figures = _figures(run_dir, results, table, example)
    limits = shortest_learning_period(table)
    summary = {
        "study": NAME, "status": "completed", "mode": mode, "seeds": seeds, "half_periods_tau": list(halves),
        "protocol": {**PROTOCOL, "tau_steps": TAU_STEPS, "onset_tau": ONSET_TAU, "oscillation_tau": OSCILLATION_TAU,
                     "hidden_units": HIDDEN, "learning_rates_per_update": LEARNING_RATES},
        "breakdown": limits, "table": table.to_dict("records"), "figures": figures, "options": options.as_dict(),
        "energy": energy.not_spiking(f"additive rate units; {ONSET_TAU * TAU_STEPS + OSCILLATION_TAU * TAU_STEPS} "
                                     "Euler steps per example at every half period"),
        "notes": ("solved: every pattern's output at the trained weights' free fixed point on the right side of 0.5; "
                  "oscillation loss: the free output at the end of the last free half period in training; "
                  "settling times in units of tau (slowest mode at the free fixed point)."),
    }
    write_summary(run_dir, summary, options)
    _print_table(table)
    print(f"summary: {os.path.join(run_dir, 'summary.json')}", flush=True)
    return summary


def _trained_example(results, seed, device, directory):
    """Symmetric EP on XOR at the longest half period, retrained for the trace figure (deterministic) when the
    run resumed past its cell."""
    rows = results[(results["task"] == "xor") & (results["rule"] == "ep-symmetric") & (results["seed"] == seed)]
    if rows.empty:
        return None
    half = float(rows["half_period_tau"].max())
    row = rows[rows["half_period_tau"] == half].iloc[0]
    _, trained = train_cell("xor", "ep-symmetric", half, seed, int(row["epochs"]), device, directory)
    return network_config("xor", "ep-symmetric", half), trained


def _print_table(table):
    print(f"{'task':>8} {'rule':>12} {'T_half/tau':>10} {'solved':>7} {'fp loss':>9} {'osc loss':>9} "
          f"{'tau_s/tau':>9}")
    for _, r in table.iterrows():
        print(f"{r['task']:>8} {r['rule']:>12} {r['half_period_tau']:>10g} {int(r['solved']):>4}/{int(r['seeds']):<2} "
              f"{r['fixed_point_loss_median']:>9.4f} {r['oscillation_loss_median']:>9.4f} "
              f"{r['settling_tau_trained_median']:>9.2f}")


# -- figures --------------------------------------------------------------------------------------------------
def plot_breakdown(table, task, axes=None):
    """Fraction of seeds solved against the half period (tau), one line per rule."""
    axes = axes if axes is not None else plt.gca()
    for k, (rule, rows) in enumerate(table[table["task"] == task].groupby("rule", sort=False)):
        rows = rows.sort_values("half_period_tau")
        axes.semilogx(rows["half_period_tau"], rows["fraction_solved"], marker="o", color=f"C{k}", label=rule)
    axes.axhline(SUCCESS, color="k", lw=0.6, ls="--")
    axes.set_xlabel("half period T_half / tau")
    axes.set_ylabel("fraction of seeds solved")
    axes.set_title(task, fontsize=9)
    axes.legend(fontsize=7)
    return axes


def plot_error_against_settling(results, task, axes=None):
    """Per seed: the fixed-point loss against the half period in units of the trained settling time."""
    axes = axes if axes is not None else plt.gca()
    for k, (rule, rows) in enumerate(results[results["task"] == task].groupby("rule", sort=False)):
        axes.loglog(rows["half_period_over_settling"], rows["fixed_point_loss"].clip(lower=1e-8), ".", ms=4,
                    color=f"C{k}", label=rule)
    axes.set_xlabel("half period / settling time of the trained network")
    axes.set_ylabel("fixed-point loss")
    axes.set_title(task, fontsize=9)
    axes.legend(fontsize=7)
    return axes


def _figures(run_dir, results, table, example):
    figures = []
    tasks = list(table["task"].unique())
    fig, axes = plt.subplots(2, len(tasks), figsize=(5 * len(tasks), 7), squeeze=False)
    for k, task in enumerate(tasks):
        plot_breakdown(table, task, axes=axes[0, k])
        plot_error_against_settling(results, task, axes=axes[1, k])
    figures.append(save_figure(fig, run_dir, "breakdown.png"))
    if example is not None:
        config, weights = example
        data = parity_task(2, PROTOCOL["low"], PROTOCOL["high"])
        shown = (8.0, 1.0)
        fig, axes = plt.subplots(len(shown), 1, figsize=(7, 2.8 * len(shown)))
        for ax, half in zip(axes, shown):
            traced = dataclasses.replace(config, settle_steps=int(half * TAU_STEPS), onset_steps=4 * TAU_STEPS)
            steps, activity, signal = example_traces(traced, weights, data["inputs"][1], data["targets"][1],
                                                     cycles=3)
            plotting.plot_phase_traces(steps, activity, signal, config.n_in, axes=ax,
                                       title=f"trained symmetric-EP XOR network, pattern (0, 1), half period "
                                             f"{half:g} tau")
        figures.append(save_figure(fig, run_dir, "phase_traces.png"))
    return figures


def plot_run(run, out_dir):
    """Redraw the figures of a finished run from its tables (the traces need the trained network: not redrawn)."""
    return _figures(out_dir, run.tables["results"], run.tables["breakdown"], None)
