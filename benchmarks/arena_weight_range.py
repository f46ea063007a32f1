"""How much of the arena's precision axis is resolution and how much is range: backprop on the digits and Yin-Yang.

The arena holds a layer's weights at signed b-bit levels whose range is about twice the layer's largest initial
|w| (:func:`brian2learn.studies.arena_registry.layer_levels`), as an analog substrate fixes its range before
training. A network whose trained weights need more than that sits at the rails whatever the number of bits. This
script trains the arena's backprop cell (the feed-forward network of the same layer sizes, initial weights,
minibatches and budget; :mod:`brian2learn.studies.arena_cells`) at full precision and at each resolution, and
prints for each run its test accuracy and, per layer, the fraction of weights beyond the range of the levels
(full precision: of the trained weights; held: of the weights the network runs with, at a rail).

    python benchmarks/arena_weight_range.py [--tasks digits yinyang] [--bits 8 6 4] [--seeds 1 2] [--factor 4]

``--factor`` is the learning-rate factor the arena's tuning chose for backprop on both tasks (``arena.md``).
A few seconds per run on one core.
"""

import argparse
import time

import numpy as np

from brian2learn.plasticity import contrastive as cl
from brian2learn.plasticity import feedforward
from brian2learn.studies import arena_cells
from brian2learn.studies import arena_registry as registry
from brian2learn.training.contrastive import accuracy


def trained(task, seed, bits, factor):
    """(test accuracy, initial parameters, trained parameters, the function giving the held ones or None)."""
    spec = registry.CellSpec(rule=registry.RULES["bptt"], task=registry.TASKS[task], seed=seed, mode="full",
                             trials=registry.TASKS[task].budget["full"], wall_cap_seconds=3600.0, split="test",
                             device="runtime", run_dir="", learning_rate_factor=factor, weight_bits=bits)
    data = arena_cells.CLASSIFICATION[task]["data"](spec)
    config = arena_cells._classification_config(task, "ep")
    sizes = arena_cells.CLASSIFICATION[task]["sizes"]
    initial = feedforward.from_symmetric(cl.initial_weights(config, seed)["w"], *sizes)
    realised = arena_cells._held_at_levels(spec, initial, arena_cells.FEED_FORWARD_LAYERS)
    epochs, _ = arena_cells._epochs(spec, len(data["x_train"]), config.batch_size)
    rng, params = np.random.default_rng(seed), dict(initial)
    for _ in range(epochs):
        params = feedforward.train_epoch(params, data["x_train"], data["t_train"], arena_cells._learning_rate(spec),
                                         config.batch_size, rng.permutation(len(data["x_train"])), realised=realised)
    used = realised(params) if realised else params
    return accuracy(feedforward.forward(used, data["x_held"]), data["t_held"]), initial, params, realised


def beyond_range(initial, params, realised, bits):
    """Per parameter: the fraction of values beyond the range of ``bits``-bit levels (held: at a rail)."""
    fractions = {}
    for layer in arena_cells.FEED_FORWARD_LAYERS:
        step, limit = registry.layer_levels(bits, max(float(np.max(np.abs(initial[name]))) for name in layer))
        for name in layer:
            values = np.abs(np.asarray((realised(params) if realised else params)[name]))
            fractions[name] = float(np.mean(values >= limit * step * (1 - 1e-9)))
    return fractions


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=["digits", "yinyang"], choices=["digits", "yinyang"])
    parser.add_argument("--bits", nargs="+", type=int, default=[8, 6, 4])
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--factor", type=float, default=4.0)
    args = parser.parse_args(argv)
    reference_bits = max(args.bits)
    print("task     seed  bits  accuracy  fraction beyond the range (held: at a rail) per parameter   seconds")
    for task in args.tasks:
        for seed in args.seeds:
            for bits in (None, *args.bits):
                start = time.perf_counter()
                score, initial, params, realised = trained(task, seed, bits, args.factor)
                fractions = beyond_range(initial, params, realised, bits or reference_bits)
                label = "full" if bits is None else f"{bits}"
                text = "  ".join(f"{name} {value:.2f}" for name, value in fractions.items())
                range_of = f" (range of {reference_bits} bits)" if bits is None else ""
                print(f"{task:8s} {seed:4d}  {label:>4s}  {score:8.3f}  {text}{range_of}  "
                      f"{time.perf_counter() - start:6.1f}", flush=True)


if __name__ == "__main__":
    main()
