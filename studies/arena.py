"""The learning-rule arena: every registered rule on every task where it is defined, one table, one command.

``brian2learn arena [--quick] [--rules ...] [--tasks ...] [--seeds N] [--scheduler ADDRESS] [--workers K]``
runs the grid of rule x task x seed *cells* (:mod:`brian2learn.studies.arena_registry` defines the protocol,
:mod:`brian2learn.studies.arena_cells` the built-in tasks and rules) and writes into its directory:

- ``arena.parquet``: one row per rule, task and seed: the task's measure after training (``performance``), the
  untrained network's (``untrained``), ``normalized`` = (performance - untrained) / (perfect - untrained) (the
  fraction of the gap to a perfect network that training closed), the trials used and the budget, trials to
  criterion (the first trial of the learning curve at the criterion; empty if never), wall time, compile time,
  spikes per trial, synaptic operations per trial, energy complexity, gradient cosine with BPTT;
- ``arena_empty.parquet``: the rule x task cells with no cell function, and why;
- ``arena.md``: the markdown table the README includes, generated from the rows;
- ``arena_heatmap.png`` (median normalised performance per rule and task) and ``arena_energy.png`` (per task,
  performance against the synaptic operations spent in training: per trial times the trials used);
- ``arena.json``: the grid, the budgets, the counts, this invocation's wall time and the cells' summed wall time
  (cells finished by an earlier invocation included), and with ``--tune`` the factors chosen;
- ``arena_tuning.parquet`` (``--tune``): the tuning runs, one row per rule, task, learning-rate factor and
  tuning seed, scored on the validation split.

Every cell is one point of the sweep engine (:func:`brian2learn.studies.sweep.run_sweep`, this module being
the study of one cell, ``arena-cell``): the cells run on a local Dask cluster (``--workers K``) or on a
running scheduler (``--scheduler``); each cell's results are on disk as it finishes, so a grid stopped midway
continues where it stopped when the same command runs again, and a killed worker loses only the cell it ran.
``--report`` runs nothing: it writes these outputs from the cells finished so far (a grid still running, or
stopped), ``arena.md`` and ``arena.json`` counting the runs not finished.
Cells of the same network structure reuse one C++ build through the machine's build cache.

Hyperparameters: each cell uses its rule's published or default values on the task
(:data:`brian2learn.studies.arena_cells.HYPERPARAMETERS`, with their sources). ``--tune`` gives every rule the same
small tuning budget (:data:`~brian2learn.studies.arena_registry.TUNING`): its learning rate times 0.25, 1 and 4,
each trained with the task's budget on a tuning seed (101, not a test seed) and scored on the validation split;
the test runs use the factor with the best validation score (:func:`choose_factors`). Tasks without held-out data
(one fixed trial; the four XOR patterns) score their training data in tuning as in testing. ``--split
validation`` scores the test runs themselves on the validation split.
"""

import dataclasses
import math
import os
import sys
import time

import matplotlib
import numpy as np
import pandas as pd

from brian2learn.analysis import energy
from brian2learn.analysis.tables import write_table
from brian2learn.studies import arena_registry as registry
from brian2learn.studies.common import save_figure, write_summary
from brian2learn.studies.options import StudyOptions, option
from brian2learn.studies.run_directory import in_run_directory

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

NAME = "arena-cell"
DESCRIPTION = "one cell of the learning-rule arena: a rule trained on a task from one seed"
DEVICES = registry.DEVICES
DEFAULT_SEEDS = registry.DEFAULT_SEEDS
TABLE_COLUMNS = ("rule", "task", "seed", "mode", "split", "learning_rate_factor", "weight_bits", "status", "metric",
                 "performance", "untrained", "normalized", "trials", "budget_trials", "trials_to_criterion",
                 "wall_seconds", "compile_seconds", "spikes_per_trial", "synaptic_operations_per_trial",
                 "training_synaptic_operations", "energy_complexity", "gradient_cosine_bptt", "error")


# -- one cell (a study run by the sweep engine) ------------------------------------------------------------------

@dataclasses.dataclass
class Options(StudyOptions):
    """Options of one arena cell (``brian2learn arena`` runs the grid of them)."""

    quick: bool = option(False, help="the task's quick budget and network size")
    seed: int = option(1, minimum=0, help="seed of the network, data and feedback")
    rule: str = option("", metavar="RULE", help="a registered rule")
    task: str = option("", metavar="TASK", help="a registered task")
    split: str = option("test", choices=registry.SPLITS, help="the data scored after training")
    device: str = option("cpp_standalone", choices=DEVICES, help="Brian2 device")
    trials: int | None = option(None, minimum=1, metavar="N", help="override the task's budget of trials")
    learning_rate_factor: float = option(1.0, metavar="F", help="multiply the rule's learning rate by F (tuning)")
    weight_bits: int | None = option(None, minimum=2, metavar="B",
                                     help="hold the weights at signed B-bit levels (the precision axis)")
    register: tuple[str, ...] = option((), metavar="MODULE", help="modules with more registrations to import")

    def check(self):
        tasks, rules = registry.load(self.register)
        if self.rule not in rules:
            raise ValueError(f"'--rule' must be one of {', '.join(rules)}, got {self.rule!r}")
        if self.task not in tasks:
            raise ValueError(f"'--task' must be one of {', '.join(tasks)}, got {self.task!r}")
        function, reason = registry.cell_function(self.rule, self.task)
        if function is None:
            raise ValueError(f"rule '{self.rule}' has no cell on task '{self.task}': {reason}")
        _check_factor(self.learning_rate_factor)
        if self.weight_bits is not None and self.task not in rules[self.rule].discrete_weights:
            raise ValueError(f"'--weight-bits': rule '{self.rule}' has no discrete-weight form on task '{self.task}'"
                             f" (it has one on: {', '.join(rules[self.rule].discrete_weights) or 'none'})")


def _check_factor(factor):
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not (math.isfinite(factor) and factor > 0):
        raise ValueError(f"'--learning-rate-factor' must be a positive number, got {factor!r}")


def trials_to_criterion(task, curve):
    """The first ``trial`` of a learning curve whose performance meets the task's criterion, or None."""
    if curve is None or len(curve) == 0:
        return None
    met = [task.meets_criterion(float(p)) for p in curve["performance"]]
    return int(curve["trial"].to_numpy()[met.index(True)]) if any(met) else None


def normalized(task, performance, untrained):
    """(performance - untrained) / (perfect - untrained): 1 for a perfect network, 0 for no progress."""
    gap = task.perfect - untrained
    if not (math.isfinite(performance) and math.isfinite(untrained)) or gap == 0:
        return float("nan")
    return float((performance - untrained) / gap)


@in_run_directory(NAME)
def run(options, run_dir):
    """Train and score one cell; write ``summary.json`` and ``curve.parquet``; return the summary."""
    tasks, rules = registry.load(options.register)
    task, rule = tasks[options.task], rules[options.rule]
    mode = "quick" if options.quick else "full"
    function, _ = registry.cell_function(rule.name, task.name)
    spec = registry.CellSpec(rule=rule, task=task, seed=options.seed, mode=mode,
                             trials=options.trials or task.budget[mode], wall_cap_seconds=task.wall_cap_seconds[mode],
                             split=options.split, device=options.device, run_dir=run_dir,
                             learning_rate_factor=float(options.learning_rate_factor),
                             weight_bits=options.weight_bits)
    bits = "" if options.weight_bits is None else f", weights at {options.weight_bits} bits"
    print(f"arena: {rule.name} on {task.name}, seed {options.seed}, {mode}, {spec.trials} trials{bits}", flush=True)
    start = time.perf_counter()
    result = function(spec)
    wall = time.perf_counter() - start
    curve = pd.DataFrame(result.curve)
    write_table(curve.assign(rule=rule.name, task=task.name, seed=options.seed), os.path.join(run_dir, "curve.parquet"))
    per_trial = result.synaptic_operations_per_trial
    cell = {
        "rule": rule.name, "task": task.name, "seed": options.seed, "mode": mode, "split": options.split,
        "learning_rate_factor": float(options.learning_rate_factor), "weight_bits": options.weight_bits,
        "metric": task.metric, "performance": float(result.performance), "untrained": float(result.untrained),
        "normalized": normalized(task, float(result.performance), float(result.untrained)),
        "trials": int(result.trials), "budget_trials": int(spec.trials),
        "trials_to_criterion": trials_to_criterion(task, curve), "wall_seconds": wall,
        "compile_seconds": float(result.compile_seconds), "spikes_per_trial": result.spikes_per_trial,
        "synaptic_operations_per_trial": per_trial,
        "training_synaptic_operations": None if per_trial is None else float(per_trial) * int(result.trials),
        "energy_complexity": result.energy_complexity, "gradient_cosine_bptt": result.gradient_cosine_bptt,
    }
    energy_entry = (energy.not_spiking(f"{task.name}: rate form") if result.spikes_per_trial is None else
                    {"last_trial": {"spike_count": result.spikes_per_trial,
                                    "synaptic_operations": result.synaptic_operations_per_trial,
                                    "energy_complexity": result.energy_complexity}})
    summary = {"study": NAME, "status": "completed", "cell": cell, "network": task.network[mode],
               "hyperparameters": rule.hyperparameters.get(task.name, {}), "curve_split": result.curve_split,
               "notes": result.notes, "energy": energy_entry, "options": options.as_dict()}
    write_summary(run_dir, summary, options)
    return summary


# -- the grid ---------------------------------------------------------------------------------------------------

def plan(rules=None, tasks=None, register=()):
    """The defined cells ``[{'rule', 'task'}, ...]`` and the empty ones ``[{'rule', 'task', 'reason'}, ...]`` of
    the chosen rules and tasks (default: all registered)."""
    all_tasks, all_rules = registry.load(register)
    rules = list(all_rules) if not rules else list(rules)
    tasks = list(all_tasks) if not tasks else list(tasks)
    for kind, chosen, known in (("rules", rules, all_rules), ("tasks", tasks, all_tasks)):
        unknown = [name for name in chosen if name not in known]
        if unknown:
            raise ValueError(f"'--{kind}': unknown {', '.join(unknown)}; registered: {', '.join(known)}")
        if len(set(chosen)) != len(chosen):
            raise ValueError(f"'--{kind}' names one twice: {' '.join(chosen)}")
    defined, empty = [], []
    for rule in rules:
        for task in tasks:
            function, reason = registry.cell_function(rule, task)
            if function is None:
                empty.append({"rule": rule, "task": task, "reason": reason})
            else:
                defined.append({"rule": rule, "task": task})
    return defined, empty


def run_arena(out_dir, quick=False, rules=None, tasks=None, seeds=DEFAULT_SEEDS, scheduler=None, workers=None,
              split="test", device="cpp_standalone", register=(), progress=True, tune=False, bits=(),
              bits_seeds=None, report=False):
    """Run the grid; write the table, the markdown and the figures into ``out_dir``; return the table.

    ``seeds``: ``N`` for seeds 1..N, or a list of seeds. The cells are points of the sweep engine in
    ``out_dir/cells``: running the same grid again computes only the cells not finished. With ``tune``, every cell
    first runs each learning-rate factor of :data:`~brian2learn.studies.arena_registry.TUNING` on its tuning seeds
    and split (``out_dir/tuning``, ``arena_tuning.parquet``), and the test runs use the factor chosen there
    (:func:`choose_factors`). ``bits`` (e.g. ``(8, 6, 4)``) adds the precision axis: every cell whose rule has a
    discrete-weight form on the task (``ArenaRule.discrete_weights``) runs again with its weights held at each
    resolution, with the factor of its full-precision cell, on the first ``bits_seeds`` seeds (None: all).
    ``report`` runs nothing: the outputs are written from the cells of this grid finished so far (by a grid still
    running elsewhere, or one stopped midway), and ``arena.json`` and ``arena.md`` count the pending ones; with
    ``tune`` the tuning runs must all be finished, since they choose the test cells.
    """
    from brian2learn.studies.sweep import run_sweep

    defined, empty = plan(rules, tasks, register)
    if not defined:
        raise ValueError("no cell is defined for the chosen rules and tasks")
    all_tasks, all_rules = registry.load(register)
    fixed = {"quick": bool(quick), "split": split, "device": device}
    if register:
        fixed["register"] = tuple(register)
    start = time.perf_counter()
    factors, tuning = {}, None
    if tune:
        tuning_fixed = {**fixed, "split": registry.TUNING["split"]}
        tuning_cells = [{**cell, **tuning_fixed, **_factor_parameter(factor)} for cell in defined
                        for factor in registry.TUNING["learning_rate_factors"]]
        tuning_sweep = run_sweep(sys.modules[__name__], tuning_cells, list(registry.TUNING["seeds"]),
                                 os.path.join(out_dir, "tuning"), scheduler=scheduler, workers=workers,
                                 progress=progress, compute=not report)
        if tuning_sweep.attrs["pending"]:
            raise ValueError(f"'--report': {tuning_sweep.attrs['pending']} of the {len(tuning_cells)} tuning runs in "
                             f"{os.path.join(out_dir, 'tuning')} are not finished; they choose the test cells' "
                             f"learning rates (run the grid without --report first)")
        tuning = arena_table(tuning_sweep)
        if not report:
            write_table(tuning, os.path.join(out_dir, "arena_tuning.parquet"))
        factors = choose_factors(tuning, all_tasks)
    combinations = [{**cell, **fixed, **_factor_parameter(factors.get((cell["rule"], cell["task"]), 1.0))}
                    for cell in defined]
    held = [{**combination, "weight_bits": int(b)} for b in bits for combination in combinations
            if combination["task"] in all_rules[combination["rule"]].discrete_weights]
    seed_list = list(range(1, seeds + 1)) if isinstance(seeds, (int, np.integer)) else list(seeds)
    held_seeds = seed_list if bits_seeds is None else seed_list[:int(bits_seeds)]
    if held_seeds == seed_list:
        combinations += held
        held = []
    sweep = run_sweep(sys.modules[__name__], combinations, seed_list, os.path.join(out_dir, "cells"),
                      scheduler=scheduler, workers=workers, progress=progress, compute=not report)
    if held:  # the precision axis on fewer seeds: a second sweep into the same cells
        held_sweep = run_sweep(sys.modules[__name__], held, held_seeds, os.path.join(out_dir, "cells"),
                               scheduler=scheduler, workers=workers, progress=progress, compute=not report)
        counts = {key: sweep.attrs.get(key, 0) + held_sweep.attrs.get(key, 0)
                  for key in ("computed", "skipped", "failed", "pending")}
        sweep = pd.concat([sweep, held_sweep], ignore_index=True)
        sweep.attrs.update(counts)
    if report and sweep.empty:
        raise ValueError(f"'--report': no cell of this grid has finished in {os.path.join(out_dir, 'cells')}")
    table = arena_table(sweep)
    details = {"quick": bool(quick), "seeds": sorted(set(int(s) for s in sweep["seed"])), "split": split,
               "precision": {**registry.PRECISION, "bits": [int(b) for b in bits], "seeds": held_seeds},
               "device": device, "report": bool(report), "wall_seconds": time.perf_counter() - start,
               "cells_wall_seconds": float(table["wall_seconds"].sum()),
               "computed": sweep.attrs.get("computed"), "skipped": sweep.attrs.get("skipped"),
               "failed": sweep.attrs.get("failed"), "pending": sweep.attrs.get("pending", 0),
               "tuning": None if tuning is None else {
                   "learning_rate_factors": list(registry.TUNING["learning_rate_factors"]),
                   "seeds": list(registry.TUNING["seeds"]), "split": registry.TUNING["split"],
                   "chosen": {f"{rule}/{task}": factor for (rule, task), factor in sorted(factors.items())},
                   "cells_wall_seconds": float(tuning["wall_seconds"].sum()),
                   "failed": int((tuning["status"] != "completed").sum())}}
    write_outputs(out_dir, table, pd.DataFrame(empty, columns=["rule", "task", "reason"]), register, details)
    table.attrs.update(sweep.attrs)
    return table


def _factor_parameter(factor):
    """The cell option of a learning-rate factor: none at 1, so that untuned cells keep their directories."""
    return {} if factor == 1.0 else {"learning_rate_factor": factor}


def choose_factors(tuning, tasks):
    """The learning-rate factor of every rule and task from the tuning runs: the best median performance over the
    tuning seeds (a failed or non-finite run counts as the worst); a tie goes to the factor nearest 1.

    Returns ``{(rule, task): factor}``.
    """
    chosen = {}
    for (rule, task), frame in tuning.groupby(["rule", "task"], sort=True):
        sign = 1.0 if tasks[task].higher_is_better else -1.0
        scores = []
        for factor, runs in frame.groupby("learning_rate_factor"):
            values = runs["performance"].where(runs["status"] == "completed").to_numpy(dtype=float)
            values = np.where(np.isfinite(values), sign * values, -np.inf)
            scores.append((float(np.median(values)), -abs(math.log(factor)), factor))
        chosen[(rule, task)] = max(scores)[2]
    return chosen


def arena_table(sweep):
    """One row per cell and seed from the sweep table (``cell.*`` columns of each cell's summary; a failed run,
    which has none, takes its learning-rate factor, resolution and split from its sweep point)."""
    rows = []
    for record in sweep.to_dict("records"):
        row = {column: record.get(f"cell.{column}") for column in TABLE_COLUMNS}
        row.update({"rule": record.get("param.rule"), "task": record.get("param.task"), "seed": record.get("seed"),
                    "status": record.get("status"), "error": record.get("error")})
        for column in ("learning_rate_factor", "weight_bits", "split"):
            if pd.isna(row[column]):
                row[column] = record.get(f"param.{column}")
        if pd.isna(row["mode"]) and not pd.isna(record.get("param.quick")):
            row["mode"] = "quick" if record["param.quick"] else "full"
        rows.append(row)
    table = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    for column in ("performance", "untrained", "normalized", "wall_seconds", "compile_seconds", "spikes_per_trial",
                   "synaptic_operations_per_trial", "training_synaptic_operations", "energy_complexity",
                   "gradient_cosine_bptt", "trials", "budget_trials", "trials_to_criterion"):
        table[column] = pd.to_numeric(table[column], errors="coerce").astype(float)
    table["seed"] = table["seed"].astype(int)
    table["learning_rate_factor"] = pd.to_numeric(table["learning_rate_factor"], errors="coerce").fillna(1.0)
    table["weight_bits"] = pd.to_numeric(table["weight_bits"], errors="coerce").astype(float)
    return table.sort_values(["task", "rule", "seed"], ignore_index=True)


def failed_runs(table):
    """``{(rule, task, bits): runs}`` of the runs that stopped with an error (``bits`` None at full precision)."""
    failed = table[table["status"] == "failed"]
    return {(rule, task, None if pd.isna(bits) else float(bits)): len(frame)
            for (rule, task, bits), frame in failed.groupby(["rule", "task", "weight_bits"], dropna=False)}


def _seeds_text(completed, failed):
    """A cell's count of seeds, with its failed runs: "3", "3 + 2 failed"."""
    return f"{completed} + {failed} failed" if failed else f"{completed}"


def cell_statistics(table):
    """Per rule and task: seeds, median and quartiles of performance and normalised performance, seeds that met
    the criterion, median trials to criterion, median wall time, median synaptic operations per trial (the cells at
    full precision; :func:`precision_statistics` has the others); ``failed``: the runs that stopped with an error,
    left out of the medians."""
    done = table[(table["status"] == "completed") & table["weight_bits"].isna()]
    failed = failed_runs(table)
    rows = []
    for (rule, task), frame in done.groupby(["rule", "task"], sort=True):
        q25, median, q75 = np.percentile(frame["performance"], [25, 50, 75])
        reached = frame["trials_to_criterion"].dropna()
        rows.append({"rule": rule, "task": task, "metric": frame["metric"].iloc[0], "seeds": len(frame),
                     "failed": failed.get((rule, task, None), 0),
                     "performance": median, "q25": q25, "q75": q75,
                     "normalized": float(np.median(frame["normalized"])), "reached": len(reached),
                     "trials_to_criterion": float(np.median(reached)) if len(reached) else float("nan"),
                     "trials": float(np.median(frame["trials"])),
                     "wall_seconds": float(np.median(frame["wall_seconds"])),
                     "synaptic_operations_per_trial": float(np.median(frame["synaptic_operations_per_trial"])),
                     "spikes_per_trial": float(np.median(frame["spikes_per_trial"])),
                     "gradient_cosine_bptt": float(np.median(frame["gradient_cosine_bptt"])),
                     "learning_rate_factor": float(np.median(frame["learning_rate_factor"]))})
    return pd.DataFrame(rows)


def precision_statistics(table):
    """Per task, rule and weight resolution (``bits``: NaN for full precision): seeds and the median normalised
    performance, of the (task, rule) pairs run at discrete weights, full precision on the same seeds as the held
    weights (``--bits-seeds``) so that every column compares the same networks; ``failed``: the runs that stopped
    with an error, left out of the median (NaN where every run failed)."""
    finished = table[table["status"].isin(["completed", "failed"])]
    held = finished[finished["weight_bits"].notna()]
    seeds_held = {key: set(frame["seed"]) for key, frame in held.groupby(["task", "rule"])}
    rows = []
    for (task, rule, bits), frame in finished.groupby(["task", "rule", "weight_bits"], sort=True, dropna=False):
        if (task, rule) not in seeds_held:
            continue
        if pd.isna(bits):
            frame = frame[frame["seed"].isin(seeds_held[(task, rule)])]
        done = frame[frame["status"] == "completed"]
        rows.append({"task": task, "rule": rule, "bits": bits, "seeds": len(done),
                     "failed": int((frame["status"] == "failed").sum()),
                     "normalized": float(np.median(done["normalized"])) if len(done) else float("nan")})
    return pd.DataFrame(rows, columns=["task", "rule", "bits", "seeds", "failed", "normalized"])


def _precision_markdown(table):
    stats = precision_statistics(table)
    if stats.empty:
        return []
    resolutions = sorted(set(stats["bits"].dropna()), reverse=True)
    lines = ["", "Weight precision: the median normalised performance (seeds) with the weights held at signed "
             "discrete levels (updates accumulated at full precision), beside full precision on the same seeds.", "",
             "| task | rule | full | " + " | ".join(f"{b:g} bits" for b in resolutions) + " |",
             "| --- | --- | --- |" + " --- |" * len(resolutions)]
    for (task, rule), frame in stats.groupby(["task", "rule"], sort=True):
        by_bits = {("full" if pd.isna(row.bits) else row.bits): row for row in frame.itertuples()}
        cells = [by_bits.get(key) for key in ("full", *resolutions)]
        entries = ["—" if c is None else f"{_number(c.normalized, 2)} ({_seeds_text(c.seeds, c.failed)})"
                   for c in cells]
        lines.append(f"| {task} | {rule} | " + " | ".join(entries) + " |")
    return lines


def plot_precision(table, task, axes=None, colors=None, legend=True):
    """One task: the median normalised performance of each rule run at discrete weights against the weight
    resolution (the grid's resolutions, full precision at the right)."""
    ax = axes if axes is not None else plt.gca()
    stats = precision_statistics(table)
    resolutions = sorted(set(stats["bits"].dropna()))
    positions = {b: k for k, b in enumerate(resolutions)}
    frame = stats[stats["task"] == task]
    colors = colors or rule_colors(frame["rule"])
    ax.axhline(0.0, color="0.6", linewidth=0.8, zorder=0)
    for rule, rows in frame.groupby("rule", sort=True):
        x = np.array([positions.get(b, len(resolutions)) for b in rows["bits"]])
        order = np.argsort(x)
        ax.plot(x[order], rows["normalized"].to_numpy()[order], marker="o", color=colors[rule], label=rule)
    ax.set_xticks(range(len(resolutions) + 1), [f"{b:g}" for b in resolutions] + ["full"])
    ax.set_xlabel("weight resolution (bits)")
    ax.set_ylabel("normalised performance (median)")
    ax.set_title(task)
    if legend:
        ax.legend(fontsize=7)
    return ax


def rule_colors(rules):
    """A fixed colour for each rule (in sorted order), the same in every panel of a figure."""
    palette = plt.get_cmap("tab20").colors
    return {rule: palette[k % len(palette)] for k, rule in enumerate(sorted(set(rules)))}


def _task_panels(n_tasks, columns=4, size=(4.2, 3.4)):
    """A figure with a panel per task and one more, the last, for the legend the panels share."""
    slots = n_tasks + 1
    n_columns = min(columns, slots)
    n_rows = -(-slots // n_columns)
    fig, axes = plt.subplots(n_rows, n_columns, figsize=(size[0] * n_columns, size[1] * n_rows), squeeze=False)
    axes = axes.ravel()
    for ax in axes[n_tasks:]:
        ax.axis("off")
    return fig, axes[:n_tasks], axes[n_tasks]


def _shared_legend(ax, colors, marker):
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=color, marker=marker, linestyle="-" if marker == "o" else "none", label=rule)
               for rule, color in colors.items()]
    ax.legend(handles=handles, loc="center", title="rule", fontsize=8, ncols=2 if len(handles) > 10 else 1)


def _number(value, digits=3):
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:.{digits}g}"


def _count(value):
    return "—" if value is None or not math.isfinite(value) else f"{value:,.0f}"


def markdown(table, empty, tasks_info):
    """``arena.md``: the matrix of median normalised performance, the cells in detail, and the empty cells."""
    stats = cell_statistics(table)
    rules = sorted(set(table["rule"]) | set(empty["rule"]))
    tasks = sorted(set(table["task"]) | set(empty["task"]))
    lines = ["| rule | " + " | ".join(tasks) + " |", "| --- |" + " --- |" * len(tasks)]
    by_cell = {(row.rule, row.task): row for row in stats.itertuples()}
    reasons = {(row.rule, row.task): row.reason for row in empty.itertuples()}
    failed = failed_runs(table)
    notes = {}
    for rule in rules:
        cells = []
        for task in tasks:
            row = by_cell.get((rule, task))
            if row is not None:
                cells.append(f"{_number(row.normalized, 2)} ({_seeds_text(row.seeds, row.failed)})")
            elif failed.get((rule, task, None)):
                cells.append(f"— ({_seeds_text(0, failed[(rule, task, None)])})")
            else:
                reason = reasons.get((rule, task), "not run")
                mark = notes.setdefault(reason, len(notes) + 1)
                cells.append(f"—[{mark}]")
        lines.append(f"| {rule} | " + " | ".join(cells) + " |")
    lines += ["", "Each entry: the median over seeds (in brackets) of the normalised performance, (performance − "
              "untrained) / (perfect − untrained): 1 is a perfect network, 0 no progress from the untrained one. "
              "\"+ k failed\": k runs stopped with an error (arena.parquet's error column), left out of the median.",
              ""]
    for reason, mark in notes.items():
        lines.append(f"[{mark}] {reason}  ")
    lines += ["", "| task | rule | measure: median [q25, q75] | seeds at criterion | trials to criterion "
              "(median) | trials | wall s | synaptic ops per trial | spikes per trial | gradient cosine with BPTT | "
              "learning-rate factor |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in stats.sort_values(["task", "rule"]).itertuples():
        lines.append(f"| {row.task} | {row.rule} | {row.metric} {_number(row.performance)} [{_number(row.q25)}, "
                     f"{_number(row.q75)}] | {row.reached}/{_seeds_text(row.seeds, row.failed)} | "
                     f"{_count(row.trials_to_criterion)} | "
                     f"{_count(row.trials)} | {_number(row.wall_seconds)} | "
                     f"{_number(row.synaptic_operations_per_trial)} | {_number(row.spikes_per_trial)} | "
                     f"{_number(row.gradient_cosine_bptt, 2)} | {row.learning_rate_factor:g} |")
    lines += _precision_markdown(table)
    lines += ["", "Tasks: " + "; ".join(f"{name}: {info}" for name, info in sorted(tasks_info.items())) + "."]
    return "\n".join(lines) + "\n"


def plot_heatmap(table, empty=None, axes=None):
    """Median normalised performance per rule (rows) and task (columns); empty cells grey."""
    ax = axes if axes is not None else plt.gca()
    stats = cell_statistics(table)
    rules = sorted(set(table["rule"]) | (set(empty["rule"]) if empty is not None else set()))
    tasks = sorted(set(table["task"]) | (set(empty["task"]) if empty is not None else set()))
    matrix = np.full((len(rules), len(tasks)), np.nan)
    for row in stats.itertuples():
        matrix[rules.index(row.rule), tasks.index(row.task)] = row.normalized
    cmap = plt.get_cmap("viridis").with_extremes(bad="0.85")
    image = ax.imshow(np.ma.masked_invalid(matrix), cmap=cmap, vmin=0.0, vmax=1.0, aspect="auto")
    for i in range(len(rules)):
        for j in range(len(tasks)):
            text = "—" if np.isnan(matrix[i, j]) else f"{matrix[i, j]:.2f}".replace("-0.00", "0.00")
            ax.text(j, i, text, ha="center", va="center", fontsize=8,
                    color="k" if np.isnan(matrix[i, j]) or matrix[i, j] > 0.5 else "w")
    ax.set_xticks(range(len(tasks)), tasks)
    ax.set_yticks(range(len(rules)), rules)
    ax.set_title("normalised performance")
    ax.figure.colorbar(image, ax=ax, fraction=0.046, label="median over seeds")
    return ax


def plot_energy(table, task, axes=None, colors=None, legend=True):
    """One task: performance after training against the synaptic operations spent in training, one point per
    seed, one colour per rule."""
    ax = axes if axes is not None else plt.gca()
    frame = table[(table["task"] == task) & (table["status"] == "completed") & table["weight_bits"].isna()]
    colors = colors or rule_colors(frame["rule"])
    for rule, rows in frame.groupby("rule", sort=True):
        ax.scatter(rows["training_synaptic_operations"], rows["performance"], s=14, color=colors[rule], label=rule)
    operations = frame["training_synaptic_operations"].dropna()
    if len(operations) and operations.min() > 0 and operations.max() >= 10 * operations.min():
        ax.set_xscale("log")
    else:  # each tick its own number (an offset such as "1e10" would sit on the axis label)
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(4))
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda value, _: f"{value:.2g}"))
    ax.set_xlabel("synaptic operations of the training trials (forward)")
    ax.set_ylabel(frame["metric"].iloc[0] if len(frame) else "performance")
    ax.set_title(task)
    if legend:
        ax.legend(fontsize=7)
    return ax


def write_outputs(out_dir, table, empty, register=(), details=None):
    """Write ``arena.parquet``, ``arena_empty.parquet``, ``arena.md``, the figures and ``arena.json``."""
    os.makedirs(out_dir, exist_ok=True)
    write_table(table, os.path.join(out_dir, "arena.parquet"))
    write_table(empty, os.path.join(out_dir, "arena_empty.parquet"))
    tasks, _ = registry.load(register)
    mode = "quick" if details and details.get("quick") else "full"
    info = {name: f"{tasks[name].description}, network {tasks[name].network[mode]}, budget {tasks[name].budget[mode]} "
                  f"trials, criterion {tasks[name].metric} {'≥' if tasks[name].higher_is_better else '≤'} "
                  f"{tasks[name].criterion:g}"
            for name in sorted(set(table["task"]) | set(empty["task"]))}
    text = markdown(table, empty, info)
    if details and details.get("pending"):
        text = (f"**Partial table** (`--report`): {details['pending']} runs (rule × task × seed) of this grid are not "
                f"finished; the brackets count the seeds finished, and a cell none of whose seeds has finished reads "
                f"\"not run\".\n\n{text}")
    with open(os.path.join(out_dir, "arena.md"), "w", encoding="utf-8") as handle:
        handle.write(text)
    fig, ax = plt.subplots(figsize=(1.6 + 1.3 * len(info), 1.2 + 0.4 * len(set(table["rule"]) | set(empty["rule"]))))
    plot_heatmap(table, empty, axes=ax)
    figures = [save_figure(fig, out_dir, "arena_heatmap.png")]
    colors = rule_colors(table["rule"])  # one colour per rule in both figures
    full = table[(table["status"] == "completed") & table["weight_bits"].isna()]
    ran = sorted(set(full["task"]))
    if ran:
        fig, axes, legend_ax = _task_panels(len(ran))
        for ax, task in zip(axes, ran):
            plot_energy(table, task, axes=ax, colors=colors, legend=False)
        _shared_legend(legend_ax, {rule: colors[rule] for rule in sorted(set(full["rule"]))}, marker=".")
        figures.append(save_figure(fig, out_dir, "arena_energy.png"))
    stats = precision_statistics(table)
    if stats["bits"].notna().any():
        quantized = sorted(set(stats["task"]))
        fig, axes, legend_ax = _task_panels(len(quantized))
        for ax, task in zip(axes, quantized):
            plot_precision(table, task, axes=ax, colors=colors, legend=False)
        _shared_legend(legend_ax, {rule: colors[rule] for rule in sorted(set(stats["rule"]))}, marker="o")
        figures.append(save_figure(fig, out_dir, "arena_precision.png"))
    write_summary(out_dir, {"study": "arena", "status": "completed", "figures": figures, "tasks": info,
                            "cells": int(len(table)), "empty_cells": int(len(empty)), **(details or {})},
                  name="arena.json")
    return figures
