"""What an e-prop iteration costs besides the network's work: the empty step and the binary run.

On NEST's sine-wave set-up (``n_rec`` LIF, 1000 steps per iteration, ``cpp_standalone``, engine
``event``) the script times, after the build:

- **the empty step**: the same network with no input spikes and all weights zero (no spike, no synaptic
  event; every code object of a step still runs), in ms per iteration and ns per simulated step;
- **the binary run**: ``--iterations`` iterations in one binary run against one iteration per run (the
  same total work), whose difference per run is the fixed cost of a run (writing the ``run_args`` files,
  starting the binary, loading its arrays, reading the results back);
- **the working network** for comparison.

    python benchmarks/eprop_overhead.py --n-rec 100 --iterations 20
"""

import argparse
import dataclasses
import time

import numpy as np

from brian2learn.plasticity import eprop
from brian2learn.tasks.nest_reference import nest_sine_wave_setup
from brian2learn.training.eprop import EpropTrainer


def timed(setup, config, n_iterations, iterations_per_run, weights=None):
    """ms per iteration over ``n_iterations`` after a first run that builds; and the binary's share."""
    trainer = EpropTrainer(config, weights or setup["weights"], setup["task"], feedback="random",
                           feedback_matrix=setup["feedback"], device="cpp_standalone",
                           iterations_per_run=iterations_per_run)
    try:
        trainer.train(iterations_per_run)  # build
        binary = trainer.runner.run_seconds
        start = time.perf_counter()
        trainer.train(n_iterations)
        wall = time.perf_counter() - start
        binary = trainer.runner.run_seconds - binary
        spikes = float(np.mean([row["rate_hz"] for row in trainer.history]))
    finally:
        trainer.close()
    return 1e3 * wall / n_iterations, 1e3 * binary / n_iterations, spikes


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-rec", type=int, default=100)
    parser.add_argument("--iterations", type=int, default=20)
    args = parser.parse_args(argv)
    setup = nest_sine_wave_setup(n_rec=args.n_rec)
    config = dataclasses.replace(eprop.EpropConfig(**setup["config"]), engine="event")
    n = args.iterations
    silent = {**setup, "task": {**setup["task"], "inputs": np.zeros_like(setup["task"]["inputs"])}}
    zero = {name: np.zeros_like(value) for name, value in setup["weights"].items()}
    empty_ms, empty_binary, empty_rate = timed(silent, config, n, n, zero)
    work_ms, work_binary, rate = timed(setup, config, n, n)
    single_ms, single_binary, _ = timed(setup, config, n, 1)
    steps = config.n_steps
    print(f"NEST sine-wave set-up, {args.n_rec} LIF, {steps} steps per iteration, engine event, {n} iterations")
    print(f"empty network (rate {empty_rate:.1f} Hz): {empty_ms:.2f} ms per iteration "
          f"({empty_binary:.2f} ms in the binary), {1e6 * empty_ms / steps:.0f} ns per step")
    print(f"working network (rate {rate:.1f} Hz): {work_ms:.2f} ms per iteration ({work_binary:.2f} ms in the binary)")
    print(f"one iteration per binary run: {single_ms:.2f} ms per iteration ({single_binary:.2f} ms in the binary); "
          f"fixed cost of a run: {single_ms - work_ms:.1f} ms (of which {single_binary - work_binary:.1f} ms "
          "in the binary's start-up and loading)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
