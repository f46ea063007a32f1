"""A trained assembly network in brian2learn and in NEST 3.10 (``pp_psc_delta``), on the same test blocks.

For each seed a test block (every test pattern ``--n-test`` times, as in the study's test phases) and its
input spike trains are drawn; the frozen network runs it in brian2learn twice (two noise seeds: its own
spread) and in NEST once (:func:`brian2learn.export.assemblies.compare_with_nest`). The script prints,
per simulator, the mean and standard deviation over seeds of the E and I rates, each assembly's size and
its members' response rate, and the Jaccard overlap of each assembly with brian2learn's first run on the
same block; then the per-seed table goes to ``--out`` (Parquet) if given.

    python benchmarks/export_nest_assemblies.py runs/asm/network_overlap_seed6.npz --seeds 10 --n-test 20
"""

import argparse
import sys
import time

import numpy as np

from brian2learn.export import assemblies as ea


def summarise(table):
    measures = [c for c in table.columns if c not in ("seed", "simulator")]
    grouped = table.groupby("simulator", sort=False)[measures]
    mean, sd = grouped.mean(), grouped.std(ddof=1)
    lines = ["| measure | " + " | ".join(mean.index) + " |", "|---" * (len(mean.index) + 1) + "|"]
    for measure in measures:
        cells = [f"{mean.loc[s, measure]:.3g} ± {sd.loc[s, measure]:.2g}" for s in mean.index]
        lines.append(f"| {measure} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("network", help="a network_*.npz written by brian2learn run stdp-assemblies")
    parser.add_argument("--seeds", type=int, default=10, help="test blocks (seeds 1..N; default 10)")
    parser.add_argument("--n-test", type=int, default=20, help="presentations of each test pattern (default 20)")
    parser.add_argument("--threads", type=int, default=1, help="NEST threads")
    parser.add_argument("--out", default=None, help="write the per-seed table here (.parquet)")
    args = parser.parse_args(argv)
    try:
        spec = ea.spec_from_file(args.network)
    except (OSError, ValueError) as error:
        print(f"export_nest_assemblies: error: {error}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    table = ea.compare_with_nest(spec, list(range(1, args.seeds + 1)), n_test=args.n_test, threads=args.threads,
                                 progress=lambda k, n: print(f"seed {k}/{n} ({time.perf_counter() - start:.0f} s)",
                                                             file=sys.stderr, flush=True))
    print(f"{args.network}: {spec['n_exc']} E, {spec['n_inh']} I, {spec['n_in']} inputs; {args.seeds} test blocks "
          f"of {args.n_test} presentations per pattern; mean ± sd over seeds")
    print(summarise(table))
    jaccard = [c for c in table if c.startswith("jaccard_")]
    for simulator in ("brian2learn (other noise)", "nest"):
        values = table.loc[table["simulator"] == simulator, jaccard].to_numpy().ravel()
        print(f"Jaccard with brian2learn's assemblies, all patterns and seeds, {simulator}: "
              f"{np.mean(values):.3f} ± {np.std(values, ddof=1):.3f}")
    if args.out:
        table.to_parquet(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
