"""Time per digits epoch of brian2learn's equilibrium propagation against a vectorised numpy EP.

The network, data and protocol of the ``contrastive-digits`` study (64-64-10 layered additive network,
symmetric EP, beta 0.5, tau 2 steps, 30 settling steps per phase, batches of 20, the shared training split):

- brian2learn: :class:`~brian2learn.training.contrastive.ContrastiveTrainer` in ``cpp_standalone`` (one epoch per
  run of the built binary; the build is timed apart);
- the peer, written here: the same Euler steps, phases and updates in numpy, a whole batch at a time through
  matrix products (the examples of a batch share the weights, which change at the batch's end in both), the
  rule's products :math:`V_i V_j` taken only at the steps where the phase schedule's coefficient is non-zero.

Both start from the same weights and see the examples in the same order; the weights after the epoch are
compared (they agree to rounding). Run::

    python benchmarks/contrastive_speed.py [--epochs 2] [--rule ep-symmetric]
"""

import argparse
import time

import numpy as np

from brian2learn.plasticity import contrastive as cl
from brian2learn.studies import contrastive_digits
from brian2learn.tasks.digits import load_digits_split
from brian2learn.training.contrastive import ContrastiveTrainer


def numpy_epoch(config, weights, values, eta):
    """One epoch of the contrastive rule over ``values`` (examples in order), a batch at a time."""
    plan = cl.phase_schedule(config)
    n, size = config.n_units, config.batch_size
    kinds = config.kinds
    inputs, outputs = (kinds == 0).astype(float), (kinds == 2).astype(float)
    mask = np.zeros((n, n))
    for i, j in cl.connected_pairs(config):
        mask[i, j] = mask[j, i] = 1.0
    w, b = weights["w"].copy(), weights["b"].copy()
    for first in range(0, len(values) - size + 1, size):
        value = values[first:first + size]
        u = np.zeros((size, n))
        v = inputs * value + (1 - inputs) * 0.5
        delta_w, delta_b = np.zeros((n, n)), np.zeros(n)
        for step in range(config.steps_per_example):
            h = v @ w.T
            u = u + (-u + h + b + outputs * plan["nudge"][step] * (value - v)) / config.tau_steps
            clamp = inputs + outputs * plan["clamp"][step]
            v = clamp * value + (1 - clamp) / (1 + np.exp(-u))
            coefficient = plan["coefficient"][step]
            if coefficient:
                delta_w += coefficient * (v.T @ v)
                delta_b += coefficient * v.sum(axis=0)
        w = w + eta * (delta_w * mask) / size
        b = b + eta * (delta_b * (1 - inputs)) / size
    return {"w": w, "b": b}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--rule", default="ep-symmetric", choices=cl.RULES)
    args = parser.parse_args()
    config = contrastive_digits.network_config(args.rule)
    eta = contrastive_digits.LEARNING_RATES[args.rule]
    data = load_digits_split(one_hot=True, low=contrastive_digits.PROTOCOL["low"],
                             high=contrastive_digits.PROTOCOL["high"])
    start_weights = cl.initial_weights(config, seed=1)
    values = cl.example_values(config, data["x_train"], data["t_train"])
    trainer = ContrastiveTrainer(config, start_weights, data["x_train"], data["t_train"], eta, seed=1)
    with trainer:
        orders = np.random.default_rng(1)  # the trainer's permutations, drawn the same way
        start = time.perf_counter()
        trainer.train(1)
        first_epoch = time.perf_counter() - start
        build = trainer.runner.compile_seconds
        epoch_times = []
        for _ in range(args.epochs):
            start = time.perf_counter()
            trainer.train(1)
            epoch_times.append(time.perf_counter() - start)
        brian2_weights = trainer.weights
    weights, numpy_times = start_weights, []
    for _ in range(1 + args.epochs):
        order = orders.permutation(len(values))[:trainer.per_epoch]
        start = time.perf_counter()
        weights = numpy_epoch(config, weights, values[order], eta)
        numpy_times.append(time.perf_counter() - start)
    difference = np.max(np.abs(weights["w"] - brian2_weights["w"])) / np.max(np.abs(weights["w"]))
    brian2_epoch, numpy_epoch_seconds = float(np.median(epoch_times)), float(np.median(numpy_times[1:]))
    print(f"{args.rule}, {config.n_in}-{config.n_hidden}-{config.n_out}, {trainer.per_epoch} examples per epoch, "
          f"{config.steps_per_example} steps per example")
    print(f"brian2learn (cpp_standalone): {brian2_epoch:.2f} s per epoch (first epoch {first_epoch:.1f} s, of which "
          f"build {build:.1f} s)")
    print(f"numpy, a batch at a time:      {numpy_epoch_seconds:.2f} s per epoch")
    print(f"ratio brian2learn / numpy: {brian2_epoch / numpy_epoch_seconds:.1f}")
    print(f"weights after {1 + args.epochs} epochs: largest difference {difference:.1e} of the largest weight")


if __name__ == "__main__":
    main()
