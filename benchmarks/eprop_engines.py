"""e-prop's gradient engines side by side: ``trial_end`` (a dot product per synapse over the trial's steps)
against ``event`` (a sum per synapse over the presynaptic spikes), on NEST's sine-wave set-up.

For each size, each engine trains ``--iterations`` iterations in ``cpp_standalone`` (the build and a
first run), then the same number again on the built binary; the script prints the wall time per
iteration of the second run and the binary's share, and checks that both engines give the same losses.

    python benchmarks/eprop_engines.py --sizes 100 400 1600 --iterations 10 [--threads 2]
    python benchmarks/eprop_engines.py --sizes 1600 3200 --iterations 5 --engine event --threads 1 2
"""

import argparse
import dataclasses
import time

import numpy as np

from brian2learn.plasticity import eprop
from brian2learn.tasks.nest_reference import nest_sine_wave_setup
from brian2learn.training.eprop import EpropTrainer


def train(n_rec, engine, n_iterations, threads=None):
    """Losses of the first run and ms per iteration (wall, binary) of the second, for one engine."""
    setup = nest_sine_wave_setup(n_rec=n_rec)
    config = dataclasses.replace(eprop.EpropConfig(**setup["config"]), engine=engine)
    trainer = EpropTrainer(config, setup["weights"], setup["task"], feedback="random",
                           feedback_matrix=setup["feedback"], device="cpp_standalone", iterations_per_run=n_iterations,
                           threads=threads)
    try:
        trainer.train(n_iterations)
        losses = np.array([row["loss"] for row in trainer.history])
        binary_before = trainer.runner.run_seconds
        start = time.perf_counter()
        trainer.train(n_iterations)
        wall = time.perf_counter() - start
        binary = trainer.runner.run_seconds - binary_before
    finally:
        trainer.close()
    return losses, 1e3 * wall / n_iterations, 1e3 * binary / n_iterations


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 400, 1600], help="recurrent neurons")
    parser.add_argument("--iterations", type=int, default=10, help="iterations per run (default 10)")
    parser.add_argument("--threads", type=int, nargs="+", default=[None],
                        help="OpenMP threads of the C++ builds (Brian2's devices.cpp_standalone.openmp_threads); "
                             "several values: one row each, with the speed-up over the first")
    parser.add_argument("--engine", choices=("both", "trial_end", "event"), default="both",
                        help="time one engine only (default both, with their loss difference)")
    args = parser.parse_args(argv)
    if args.engine == "both":
        print("| n_rec | threads | trial_end (ms/iteration) | event (ms/iteration) | speed-up | "
              "largest relative loss difference |")
        print("| --- | --- | --- | --- | --- | --- |")
    else:
        print(f"| n_rec | threads | {args.engine} (ms/iteration) | speed-up over {args.threads[0] or 1} thread(s) |")
        print("| --- | --- | --- | --- |")
    for n_rec in args.sizes:
        first_ms = None
        for threads in args.threads:
            if args.engine != "both":
                _, ms, _ = train(n_rec, args.engine, args.iterations, threads)
                first_ms = first_ms or ms
                print(f"| {n_rec} | {threads or 1} | {ms:.1f} | {first_ms / ms:.2f}x |", flush=True)
                continue
            results = {engine: train(n_rec, engine, args.iterations, threads) for engine in ("trial_end", "event")}
            (dense_losses, dense_ms, _), (event_losses, event_ms, _) = results["trial_end"], results["event"]
            difference = float(np.max(np.abs(event_losses - dense_losses) / np.abs(dense_losses)))
            print(f"| {n_rec} | {threads or 1} | {dense_ms:.1f} | {event_ms:.1f} | {dense_ms / event_ms:.2f}x | "
                  f"{difference:.2g} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
