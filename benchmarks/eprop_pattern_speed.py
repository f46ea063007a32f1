"""Speed of e-prop training on the pattern-generation task (Bellec et al. 2020, Fig. S7).

Prints, for the compiled C++ build (and optionally the runtime device), the compile time, the
wall time per training iteration (one trial of 1000 steps plus its weight update) and the
loss reached, for 100 inputs, 100 LIF neurons and one readout.

    python benchmarks/eprop_pattern_speed.py [--iterations 200] [--engine both|trial_end|online]
                                             [--runtime-iterations 0]
"""

import argparse
import time

from brian2learn.models.eprop_neurons import BELLEC2020_PATTERN_GENERATION
from brian2learn.plasticity import eprop
from brian2learn.studies.eprop_pattern import LEARNING, NETWORK
from brian2learn.tasks.pattern_generation import pattern_generation_task
from brian2learn.training.eprop import EpropTrainer


def measure(device, n_iterations, iterations_per_run, engine):
    config = eprop.EpropConfig(neuron_params=BELLEC2020_PATTERN_GENERATION, engine=engine, **NETWORK, **LEARNING)
    trainer = EpropTrainer(config, eprop.initial_weights(config, 1), pattern_generation_task(seed=1),
                           feedback="symmetric", device=device, iterations_per_run=iterations_per_run,
                           record_spikes=False)
    start = time.perf_counter()
    history = trainer.train(n_iterations)
    wall = time.perf_counter() - start
    runner = trainer.runner
    trainer.close()
    per_iteration = (wall - runner.compile_seconds) / n_iterations
    print(f"{device:15s} engine {engine:9s} iterations {n_iterations:5d}  compile {runner.compile_seconds:6.1f} s  "
          f"{1000 * per_iteration:7.1f} ms/iteration  builds {runner.n_builds}  binary runs {runner.n_runs}  "
          f"loss {history['loss'].iloc[0]:.3f} -> {history['loss'].iloc[-1]:.3f}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--iterations-per-run", type=int, default=100)
    parser.add_argument("--engine", choices=eprop.ENGINES + ("both",), default="both")
    parser.add_argument("--runtime-iterations", type=int, default=0,
                        help="iterations on the runtime device (numpy target; slow), 0 to skip")
    args = parser.parse_args()
    engines = eprop.ENGINES if args.engine == "both" else (args.engine,)
    for engine in engines:
        measure("cpp_standalone", args.iterations, min(args.iterations_per_run, args.iterations), engine)
        if args.runtime_iterations:
            measure("runtime", args.runtime_iterations, args.runtime_iterations, engine)


if __name__ == "__main__":
    main()
