"""One table of the ``energy`` entries of finished runs, one row per counted network.

Every study's ``summary.json`` carries ``energy``: spike count, synaptic operations, energy
complexity (the largest number of neurons active in one time step, Šíma 2014, Neural Comput
26:953, doi:10.1162/NECO_a_00579, after Uchizawa, Douglas & Maass 2006) and, where the network
has time steps, the mean fraction of neurons active per step and the network size
(:func:`brian2learn.analysis.energy.energy_summary`); rate networks say ``not_spiking``. This
script prints them as one Markdown table, with the energy complexity as a share of the network
size where the size is known (a network is sparse in Šíma's sense when that share is small).

    python benchmarks/energy_across_studies.py RUNS_DIR [--first-only]   # RUNS_DIR/NAME/summary.json
"""

import argparse
import json
import os
import sys


def energy_rows(summary):
    """``(network, entry)`` for every energy summary in a run's ``energy`` entry (nested keys joined by '/')."""
    def walk(node, path):
        if isinstance(node, dict) and "spike_count" in node:
            yield "/".join(path) or "network", node
        elif isinstance(node, dict):
            for key, value in node.items():
                yield from walk(value, path + [str(key)])
    yield from walk(summary.get("energy") or {}, [])


def table(runs_dir, first_only=False):
    lines = ["| study | network counted | spikes | synaptic operations | energy complexity | neurons | "
             "complexity / neurons | mean fraction active per step |", "|---|---|---|---|---|---|---|---|"]
    for name in sorted(os.listdir(runs_dir)):
        path = os.path.join(runs_dir, name, "summary.json")
        if not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8") as handle:
            summary = json.load(handle)
        study = f"{summary.get('study', name)} ({summary.get('mode', '?')})"
        energy = summary.get("energy") or {}
        if "not_spiking" in energy:
            lines.append(f"| {study} | {energy['not_spiking']} | — | — | — | — | — | — |")
            continue
        rows = list(energy_rows(summary))
        for network, entry in rows[:1] if first_only else rows:
            if first_only and len(rows) > 1:
                low = min(e["energy_complexity"] for _, e in rows)
                high = max(e["energy_complexity"] for _, e in rows)
                network = f"{network} (first of {len(rows)}; energy complexity {low}-{high} over all)"
            size = entry.get("n_neurons")
            share = f"{entry['energy_complexity'] / size:.3f}" if size else "—"
            fraction = f"{entry['mean_fraction_active']:.4f}" if "mean_fraction_active" in entry else "—"
            lines.append(f"| {study} | {network} | {entry['spike_count']} | {entry['synaptic_operations']} | "
                         f"{entry['energy_complexity']} | {size or '—'} | {share} | {fraction} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs_dir", metavar="RUNS_DIR", help="a directory with one finished run per study")
    parser.add_argument("--first-only", action="store_true",
                        help="one row per study: its first counted network, with the range over the others")
    args = parser.parse_args(argv)
    if not os.path.isdir(args.runs_dir):
        print(f"energy_across_studies: error: '{args.runs_dir}' is not a directory", file=sys.stderr)
        return 2
    print(table(args.runs_dir, first_only=args.first_only))
    return 0


if __name__ == "__main__":
    sys.exit(main())
