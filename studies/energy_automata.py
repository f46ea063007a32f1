"""Energy complexity of threshold circuits simulating finite automata (Šíma 2014, Neural Comput 26:953).

Šíma (2014), "Energy complexity of recurrent neural networks", doi:10.1162/NECO_a_00579: a DFA with
``m`` states can be simulated by a threshold network of size Θ(√m) with O(s/e) steps per input bit at
energy O(e) (the most units active in one step). This study measures the constructions of
:mod:`brian2learn.models.automata` on seeded random DFAs:

1. **Size against m** (``sizes``; ``kind`` names the construction): for every ``m`` of ``--sizes``, the
   one-hot circuit (size 2m + 1, energy 1, one step per bit; simulated up to m = 1024, its size is a
   formula beyond), ``sqrt_circuit``
   (O(√m) units, binary digits) and ``energy_circuit`` at the smallest budget (energy 6). Every circuit
   must accept exactly the automaton's language on all strings up to ``--max-length`` bits and on
   ``--random-strings`` random strings of ``--random-length`` bits (the DFA's plain run is the reference);
   measured energy on the random strings (*typical*: the mean over strings of each string's largest
   number of active units) and over all strings (*worst*: the largest), against the stated bound.
2. **Time against energy** (``tradeoff``): ``energy_circuit`` for every budget of ``--budgets`` at
   ``m = --tradeoff-states``: size, steps per bit, bound and measured energy; the figure draws the steps
   per bit against the measured energy with Šíma's form ``T = c s/e`` fitted to the points.

The circuits run as numpy matrix products (:func:`brian2learn.models.automata.simulate`); the tests check
them step by step against Brian2 on both devices (``tests/test_automata.py``).
"""

import dataclasses
import os
import sys
import time

import matplotlib
import numpy as np
import pandas as pd

from brian2learn.analysis.tables import write_table
from brian2learn.models import automata as au
from brian2learn.studies.common import save_figure, write_summary
from brian2learn.studies.options import StudyOptions, option
from brian2learn.studies.run_directory import in_run_directory

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

NAME = "energy-automata"
DESCRIPTION = "threshold circuits simulating finite automata: size, time per bit and energy (Šíma 2014)"

MODES = {
    "full": {"sizes": (16, 64, 256, 1024, 4096), "tradeoff_states": 4096, "max_length": 12, "random_strings": 1000,
             "random_length": 200},
    "quick": {"sizes": (16, 64, 256), "tradeoff_states": 256, "max_length": 8, "random_strings": 100,
              "random_length": 50},
}
ONE_HOT_LIMIT = 1024  # largest m whose one-hot circuit (2m + 1 units, dense weights) is simulated


@dataclasses.dataclass
class Options(StudyOptions):
    """Options of the automata study (``brian2learn run energy-automata --help``)."""

    quick: bool = option(False, help="m up to 256, strings up to 8 bits and 100 random strings of 50 bits")
    seed: int = option(1, minimum=0, help="seed of the random automata and strings (default 1)")
    sizes: tuple[int, ...] | None = option(None, minimum=2, metavar="M",
                                           help="automaton sizes (default 16 64 256 1024 4096; quick 16 64 256)")
    budgets: tuple[int, ...] = option((6, 7, 8, 9, 10, 12), minimum=au.MIN_ENERGY, metavar="E",
                                      help=f"energy budgets of the trade-off (each >= {au.MIN_ENERGY})")
    tradeoff_states: int | None = option(None, minimum=2, metavar="M",
                                         help="automaton size of the trade-off (default 4096; quick 256)")


def _strings(mode, seed):
    """All strings up to the mode's length, and the random strings (typical inputs)."""
    rng = np.random.default_rng([seed, 2])
    random = [tuple(rng.integers(0, 2, size=mode["random_length"])) for _ in range(mode["random_strings"])]
    return au.all_strings(mode["max_length"]), random


def measure(circuit, exhaustive, random, expected):
    """Correctness and energies of one circuit: a row of the ``sizes`` or ``tradeoff`` table.

    ``expected`` holds the automaton's acceptance of ``exhaustive`` and of ``random`` (its plain run, made
    once per automaton).
    """
    start = time.perf_counter()
    accepted_all, counts_all = au.simulate(circuit, exhaustive)
    accepted_random, counts_random, operations = au.simulate(circuit, random, operations=True)
    correct = np.array_equal(accepted_all, expected[0]) and np.array_equal(accepted_random, expected[1])
    worst = max(max(int(c.max()) for c in counts_all), max(int(c.max()) for c in counts_random))
    steps = sum(len(c) for c in counts_random)
    return {"construction": circuit.name, "size": circuit.size, "steps_per_bit": circuit.steps_per_bit,
            "energy_bound": circuit.energy_bound,
            "energy_typical": float(np.mean([c.max() for c in counts_random])), "energy_worst": worst,
            "correct": bool(correct), "strings_checked": len(exhaustive) + len(random),
            "spike_count": int(sum(int(c.sum()) for c in counts_random)),
            "synaptic_operations": int(operations.sum()), "steps": int(steps),
            "seconds": time.perf_counter() - start}


def energy_entry(row):
    """The ``energy`` summary of one measured circuit (its active units on the random strings)."""
    return {"spike_count": row["spike_count"], "synaptic_operations": row["synaptic_operations"],
            "energy_complexity": row["energy_worst"], "n_neurons": row["size"], "n_steps": row["steps"],
            "mean_fraction_active": row["spike_count"] / (row["size"] * row["steps"])}


@in_run_directory(NAME)
def run(options, run_dir):
    """Measure sizes and the time-energy trade-off; write summary.json, Parquet tables and figures."""
    mode_name = "quick" if options.quick else "full"
    mode = MODES[mode_name]
    sizes = list(options.sizes or mode["sizes"])
    tradeoff_states = options.tradeoff_states or mode["tradeoff_states"]
    exhaustive, random = _strings(mode, options.seed)
    print(f"{NAME}: {mode_name} mode, m = {sizes}, trade-off at m = {tradeoff_states}, {len(exhaustive)} strings "
          f"up to {mode['max_length']} bits and {len(random)} of {mode['random_length']} bits, seed {options.seed}, "
          f"run directory {run_dir}", flush=True)
    start = time.perf_counter()
    size_rows = []
    for m in sizes:
        dfa = au.random_dfa(m, seed=[options.seed, m])
        expected = dfa.accepts(exhaustive), dfa.accepts(random)
        circuits = {"sqrt": au.sqrt_circuit(dfa), f"energy {au.MIN_ENERGY}": au.energy_circuit(dfa, au.MIN_ENERGY)}
        if m <= ONE_HOT_LIMIT:
            circuits = {"one-hot": au.one_hot_circuit(dfa), **circuits}
        else:
            size_rows.append({"states": m, "kind": "one-hot", "construction": "one-hot", "size": 2 * m + 1,
                              "steps_per_bit": 1, "energy_bound": 1})
        for kind, circuit in circuits.items():
            size_rows.append({"states": m, "kind": kind, **measure(circuit, exhaustive, random, expected)})
            print(f"  m {m:5d} {circuit.name:22s} size {circuit.size:6d}  steps/bit {circuit.steps_per_bit:4d}  "
                  f"energy {size_rows[-1]['energy_worst']}/{circuit.energy_bound}  correct {size_rows[-1]['correct']}",
                  flush=True)
        write_table(pd.DataFrame(size_rows), os.path.join(run_dir, "sizes.parquet"))  # finished parts at once
    dfa = au.random_dfa(tradeoff_states, seed=[options.seed, tradeoff_states])
    expected = dfa.accepts(exhaustive), dfa.accepts(random)
    trade_rows = []
    # a circuit already measured on this automaton (the sizes table's, or a smaller budget's) is not run again
    known = {row["construction"]: {k: v for k, v in row.items() if k not in ("states", "kind")}
             for row in size_rows if row["states"] == tradeoff_states}
    for e in options.budgets:
        circuit = au.energy_circuit(dfa, e)
        if circuit.name not in known:
            known[circuit.name] = measure(circuit, exhaustive, random, expected)
        measured = known[circuit.name]
        trade_rows.append({"budget": e, **measured})
        print(f"  trade-off m {tradeoff_states} budget {e:3d}  size {measured['size']:6d}  steps/bit "
              f"{measured['steps_per_bit']:4d}  energy {measured['energy_worst']}/{measured['energy_bound']}  "
              f"correct {measured['correct']}", flush=True)
        write_table(pd.DataFrame(trade_rows), os.path.join(run_dir, "tradeoff.parquet"))  # finished parts at once
    sizes_table, trade_table = pd.DataFrame(size_rows), pd.DataFrame(trade_rows)
    write_table(sizes_table, os.path.join(run_dir, "sizes.parquet"))
    write_table(trade_table, os.path.join(run_dir, "tradeoff.parquet"))
    fits = fit_scaling(sizes_table, trade_table)
    figures = _figures(run_dir, sizes_table, trade_table, fits)
    measured = sizes_table.dropna(subset=["correct"])
    largest = measured[measured["states"] == measured["states"].max()]
    summary = {
        "study": NAME, "status": "completed", "mode": mode_name, "seed": options.seed, "sizes": sizes,
        "tradeoff_states": tradeoff_states, "strings": {"exhaustive_max_length": mode["max_length"],
                                                        "random": len(random), "random_length": mode["random_length"]},
        "all_correct": bool(measured["correct"].all() and trade_table["correct"].all()),
        "energy_within_bounds": bool((measured["energy_worst"] <= measured["energy_bound"]).all()
                                     and (trade_table["energy_worst"] <= trade_table["energy_bound"]).all()),
        "fits": fits, "wall_seconds": time.perf_counter() - start, "figures": figures, "options": options.as_dict(),
        "energy": {"counts": f"active units of each circuit at m = {int(largest['states'].iloc[0])} on the random "
                             "strings; energy_complexity is the worst case over all checked strings",
                   **{row["kind"]: energy_entry(row) for _, row in largest.iterrows()}},
        "notes": ("energy_typical: mean over the random strings of each string's largest number of active units; "
                  "energy_worst: the largest over all checked strings; one-hot circuits above m = "
                  f"{ONE_HOT_LIMIT} are not simulated (size 2m + 1 by construction)."),
    }
    write_summary(run_dir, summary, options)
    print(trade_table[["budget", "size", "steps_per_bit", "energy_worst", "energy_bound", "correct"]].to_string(
        index=False))
    print(f"fits: {fits}")
    print(f"summary: {os.path.join(run_dir, 'summary.json')}", flush=True)
    return summary


def fit_scaling(sizes_table, trade_table):
    """Least-squares fits: size ~ a m^b per construction (log-log), and steps per bit ~ c s/e on the trade-off."""
    fits = {}
    for name, frame in sizes_table.groupby("kind"):
        if len(frame) >= 2:
            slope, intercept = np.polyfit(np.log(frame["states"]), np.log(frame["size"]), 1)
            fits[f"size_exponent_{name}"] = float(slope)
            fits[f"size_factor_{name}"] = float(np.exp(intercept))
    x = (trade_table["size"] / trade_table["energy_worst"]).to_numpy(float)
    fits["tradeoff_c"] = float(np.dot(x, trade_table["steps_per_bit"]) / np.dot(x, x))
    return fits


def plot_sizes(sizes_table, axes=None):
    """Circuit size against the number of states (log-log), with the √m and m slopes."""
    axes = axes or plt.gca()
    for name, frame in sizes_table.groupby("kind"):
        axes.loglog(frame["states"], frame["size"], "o-", label=name)
    m = np.array(sorted(sizes_table["states"].unique()), dtype=float)
    axes.loglog(m, 8 * np.sqrt(m), "k:", label="8√m")
    axes.set_xlabel("automaton states m")
    axes.set_ylabel("circuit size (units)")
    axes.set_title("Size of the threshold circuit against m")
    axes.legend(fontsize=8)
    return axes


def plot_tradeoff(trade_table, fits, axes=None):
    """Steps per input bit against the measured energy, with Šíma's form T = c s/e."""
    axes = axes or plt.gca()
    axes.plot(trade_table["energy_worst"], trade_table["steps_per_bit"], "o-", label="energy_circuit (measured)")
    e = trade_table["energy_worst"].to_numpy(float)
    axes.plot(e, fits["tradeoff_c"] * trade_table["size"] / e, "k--",
              label=f"c s/e, c = {fits['tradeoff_c']:.2f} (fitted)")
    axes.set_xlabel("energy (most units active in one step)")
    axes.set_ylabel("steps per input bit")
    axes.set_title("Time against energy")
    axes.legend(fontsize=8)
    return axes


def _figures(run_dir, sizes_table, trade_table, fits):
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    plot_sizes(sizes_table, axes=axes[0])
    plot_tradeoff(trade_table, fits, axes=axes[1])
    return [save_figure(fig, run_dir, "energy_automata.png")]


def plot_run(run, out_dir):
    """Redraw the figure from the run's tables (``brian2learn plot RUN_DIR``)."""
    sizes_table, trade_table = run.tables["sizes"], run.tables["tradeoff"]
    return _figures(out_dir, sizes_table, trade_table, fit_scaling(sizes_table, trade_table))


def main(argv=None):
    """``python -m brian2learn.studies.energy_automata [options]``: errors in one line, exit status 2."""
    from brian2learn.studies.cli import study_main

    return study_main(sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
