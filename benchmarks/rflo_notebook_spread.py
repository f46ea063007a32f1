"""Spread of the final loss of the authors' RFLO notebook procedure over random networks (Murray 2019).

Murray, "Local online learning in recurrent networks with random feedback", eLife 8:e43299 (2019),
doi:10.7554/eLife.43299; notebook ``RFLO_Example.ipynb`` of github.com/murray-lab/rflo-learning. The notebook
trains one unseeded network with RFLO and another with its BPTT and prints final losses 1.5e-4 and 2.3e-4
(shared/REFERENCES.md). This script re-runs the notebook's procedure, written out here in plain numpy (no
Brian2, no JAX: an independent check of ``brian2learn run rflo``), for several numpy seeds and prints the
last-trial loss of each network and their median, to compare with ``summary.json`` of the study
(``methods.*.realizations``).

The procedure, as in the notebook: N = 50 leaky tanh units (tau = 10 steps), W_rec = 1.5 N(0, 1)/sqrt(N),
W_out = 0.1 U(-1, 1)/sqrt(N), B = N(0, 1), drawn in this order (after W_in = 0.1 (U(0, 1) - 1), unused: no
input) from ``numpy.random.RandomState(seed)``; trials of 100 points from h = 0.1, target
sin(2 pi t/100) + 0.5 sin(4 pi t/100) + 0.25 sin(8 pi t/100); loss 0.5 mean(err^2) with y(0) = 0; learning
rates 0.03 for W_rec and W_out, one update per trial, 10^4 trials; phi'(u) = 1/cosh(10 tanh(u/10))^2 (the
notebook's overflow-safe form); BPTT is the notebook's backward recursion, whose error term at step t enters
the adjoint of step t - 1.

    python benchmarks/rflo_notebook_spread.py [--seeds 1 2 3] [--rules rflo bptt] [--trials 10000]

About 30 s per RFLO network and 60 s per BPTT network on one core.
"""

import argparse
import time

import numpy as np

N_REC, N_POINTS, TAU, GAIN, LEARNING_RATE = 50, 100, 10.0, 1.5, 0.03


def notebook_target(n_points=N_POINTS):
    t = np.arange(n_points)
    return (np.sin(2 * np.pi * t / n_points) + 0.5 * np.sin(4 * np.pi * t / n_points)
            + 0.25 * np.sin(8 * np.pi * t / n_points))


def slope(u):
    """The notebook's phi'(u) = sech(u)^2, written as 1/cosh(10 tanh(u/10))^2 to avoid overflow."""
    return 1.0 / np.cosh(10.0 * np.tanh(u / 10.0)) ** 2


def train(seed, rule, n_trials):
    """Losses per trial of one network trained by ``rule`` ('rflo' or 'bptt') with the notebook's procedure."""
    rng = np.random.RandomState(seed)
    rng.rand(N_REC, 1)  # W_in, drawn first in the notebook; no input reaches it
    w_rec = GAIN * rng.randn(N_REC, N_REC) / np.sqrt(N_REC)
    w_out = 0.1 * (2 * rng.rand(N_REC) - 1) / np.sqrt(N_REC)
    feedback = rng.randn(N_REC)
    target = notebook_target()
    losses = np.empty(n_trials)
    for trial in range(n_trials):
        h = np.zeros((N_POINTS, N_REC))
        h[0] = 0.1
        u = np.zeros((N_POINTS, N_REC))
        y = np.zeros(N_POINTS)
        d_rec, d_out = np.zeros((N_REC, N_REC)), np.zeros(N_REC)
        trace = np.zeros((N_REC, N_REC))
        for t in range(1, N_POINTS):
            u[t] = w_rec @ h[t - 1]
            h[t] = h[t - 1] + (-h[t - 1] + np.tanh(u[t])) / TAU
            y[t] = w_out @ h[t]
            if rule == "rflo":
                error = target[t] - y[t]
                trace = (1 - 1 / TAU) * trace + np.outer(slope(u[t]), h[t - 1]) / TAU
                d_rec += LEARNING_RATE / N_POINTS * (feedback * error)[:, None] * trace
                d_out += LEARNING_RATE / N_POINTS * error * h[t]
        error = target - y
        if rule == "bptt":
            s = slope(u)
            adjoint = np.zeros((N_POINTS, N_REC))
            adjoint[-1] = w_out * error[-1]
            for t in range(N_POINTS - 1, 0, -1):
                adjoint[t - 1] = adjoint[t] * (1 - 1 / TAU) + w_out * error[t] + (adjoint[t] * s[t]) @ w_rec / TAU
                d_out += LEARNING_RATE * error[t] * h[t] / N_POINTS
                d_rec += LEARNING_RATE / (N_POINTS * TAU) * np.outer(adjoint[t] * s[t], h[t - 1])
        w_rec += d_rec
        w_out += d_out
        losses[trial] = 0.5 * np.mean(error ** 2)
    return losses


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(1, 11)))
    parser.add_argument("--rules", nargs="+", default=["rflo", "bptt"], choices=["rflo", "bptt"])
    parser.add_argument("--trials", type=int, default=10_000)
    args = parser.parse_args(argv)
    if args.trials < 1:
        parser.error(f"'--trials' must be a positive integer, got {args.trials}")
    for rule in args.rules:
        finals = []
        for seed in args.seeds:
            start = time.perf_counter()
            losses = train(seed, rule, args.trials)
            finals.append(losses[-1])
            early = losses[min(1999, args.trials - 1)]
            print(f"{rule} seed {seed}: final loss {losses[-1]:.3e} (at trial 2000: {early:.3e}; "
                  f"{time.perf_counter() - start:.0f} s)", flush=True)
        q25, median, q75 = np.percentile(finals, [25, 50, 75])
        print(f"{rule}: median {median:.3e} [q25 {q25:.3e}, q75 {q75:.3e}], range {min(finals):.3e} to "
              f"{max(finals):.3e} over {len(finals)} networks", flush=True)


if __name__ == "__main__":
    main()
