"""An e-prop network exported to NEST 3.10, run with 1 and 2 threads, next to brian2learn's standalone run.

For each size the script builds a LIF e-prop network of the pattern-generation task (Bellec et al.
2020, Fig. S7: 100 inputs at 50 Hz, ``n_rec`` recurrent neurons all to all, one readout; weights
:func:`brian2learn.plasticity.eprop.initial_weights`), runs one trial of ``--steps`` steps of 1 ms
in brian2learn's ``cpp_standalone`` (:func:`brian2learn.training.eprop.record_trials`: build, then
the simulation) and in NEST (:mod:`brian2learn.export.nest_eprop`: construction, then
``Simulate``) with each thread count, and prints the wall time per simulated second and whether
the readout and spikes agree. The pip wheel of NEST and this machine have no MPI (no ``mpirun``);
on a cluster, run the exported script under ``mpirun -np K`` with a NEST built with MPI.

    python benchmarks/export_nest_scale.py --sizes 1000 10000 --steps 1000 --threads 1 2
"""

import argparse
import time

from brian2learn.export import nest as nest_export
from brian2learn.export import nest_eprop
from brian2learn.models.eprop_neurons import BELLEC2020_PATTERN_GENERATION
from brian2learn.plasticity import eprop
from brian2learn.tasks.pattern_generation import pattern_generation_task
from brian2learn.training.eprop import record_trials


def measure(n_rec, n_steps, thread_counts, seed=1, nest_only=False):
    config = eprop.EpropConfig(n_in=100, n_rec=n_rec, n_out=1, n_steps=n_steps,
                               neuron_params=BELLEC2020_PATTERN_GENERATION)
    weights = eprop.initial_weights(config, seed)
    inputs = pattern_generation_task(seed=seed, n_in=config.n_in, n_steps=n_steps)["inputs"][:1]
    simulated = n_steps * float(config.neuron_params["dt"])
    timing = {"build_seconds": float("nan"), "run_seconds": float("nan")}
    ours = None if nest_only else record_trials(config, weights, inputs, timing=timing)
    row = {"n_rec": n_rec, "synapses": n_rec * (n_rec - 1) + 100 * n_rec + n_rec,
           "brian2learn_build_s": timing["build_seconds"],
           "brian2learn_s_per_sim_s": timing["run_seconds"] / simulated}
    nest = nest_export.import_nest()
    spec = nest_export.eprop_spec(config, weights)
    for threads in thread_counts:
        start = time.perf_counter()
        network = nest_eprop.build(nest, spec, inputs, threads=threads)
        built = time.perf_counter() - start
        start = time.perf_counter()
        theirs = nest_eprop.run(nest, network)
        ran = time.perf_counter() - start
        row[f"nest_{threads}t_build_s"] = built
        row[f"nest_{threads}t_s_per_sim_s"] = ran / simulated
        if ours is None:
            row[f"nest_{threads}t_same"] = "-"
            row["spikes"] = int(sum(len(n) for n, _ in theirs[1]))
            continue
        comparison = nest_export.compare_outputs(ours, theirs)
        row[f"nest_{threads}t_same"] = comparison["same_spikes"] and \
            comparison["readout_max_relative_difference"] < 1e-9
        row["spikes"] = comparison["spikes"]
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--nest-only", action="store_true",
                        help="NEST alone (brian2learn's e-prop network of 10^4 neurons, all to all, builds its "
                             "10^8 synapses from explicit index arrays: more memory than 24 GB)")
    args = parser.parse_args()
    print(f"{'n_rec':>6} {'synapses':>11} {'spikes':>7} {'b2l build s':>11} {'b2l s/sim s':>11}"
          + "".join(f" {f'NEST {t}t build s':>16} {f'NEST {t}t s/sim s':>16} {'same':>5}" for t in args.threads))
    for n_rec in args.sizes:
        row = measure(n_rec, args.steps, args.threads, nest_only=args.nest_only)
        print(f"{row['n_rec']:6d} {row['synapses']:11d} {row['spikes']:7d} {row['brian2learn_build_s']:11.1f} "
              f"{row['brian2learn_s_per_sim_s']:11.3f}"
              + "".join(f" {row[f'nest_{t}t_build_s']:16.2f} {row[f'nest_{t}t_s_per_sim_s']:16.3f} "
                        f"{str(row[f'nest_{t}t_same']):>5}" for t in args.threads), flush=True)


if __name__ == "__main__":
    main()
