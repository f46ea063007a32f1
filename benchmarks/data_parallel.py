"""Speed-up of data-parallel e-prop training (Daphne-style, on Dask) on evidence accumulation.

The network and trials of the study ``eprop-evidence`` (Bellec et al. 2020, Fig. 3: 40 inputs,
50 LIF + 50 ALIF, 2 readouts, trials of 2250 steps), batch 32, Adam, random feedback, all in
``cpp_standalone``. Prints, per iteration (after the first, which includes the builds):

- the single-process reference (:class:`~brian2learn.training.eprop.EpropTrainer`, one
  run of the compiled binary per iteration, the update inside the binary);
- :class:`~brian2learn.training.data_parallel.DataParallelEprop` on local clusters of K
  single-threaded workers (default K = 1 and 2): wall time per iteration, the slowest share's
  simulation time and whole task (drawing its trials, setting the weights, simulating), the
  exchange overhead (wall minus the slowest task: scheduling, transfer of the weights and the
  gradients, the driver's optimizer step) and the speed-up over K = 1;
- with ``--exchange-workers``, the exchange alone for larger K on this machine: K tasks that
  carry the same weights, a share of the trials and a gradient-sized answer, but simulate
  nothing, to show from which K the exchange cost rivals the per-worker simulation time
  (which scales as 1/K).

    python benchmarks/data_parallel.py [--iterations 8] [--workers 1 2] [--exchange-workers 1 2 4 8]
                                       [--batch-size 32] [--no-reference] [--sampling trialwise|batch]

Speed-ups depend on free cores: on a shared 2-core machine they are depressed.
"""

import argparse
import os
import sys
import time

import numpy as np

from brian2learn.plasticity import eprop
from brian2learn.studies import eprop_evidence
from brian2learn.tasks.evidence_accumulation import evidence_accumulation_trials
from brian2learn.training.data_parallel import DataParallelEprop
from brian2learn.training.eprop import EpropTrainer
from brian2learn.training.samplers import TrialwiseSampler

SEED = 1  # seed of the weights, the feedback and the training trials


def setup(batch_size, sampling="trialwise"):
    """The study's network, weights and feedback of seed 1, and a sampler of training trials.

    ``sampling='trialwise'`` seeds every trial by (draw, trial) (each worker draws only its share);
    ``'batch'`` is the study's own sampler, seeded per batch (every worker draws the whole batch).
    """
    config = eprop_evidence.make_config(batch_size)
    init = getattr(eprop_evidence, "INITIALIZATION", {})
    weights = eprop.initial_weights(config, SEED, **({"readout_init": init["readout_init"]} if init else {}))
    feedback = eprop.random_feedback(config, SEED, **({"scale": init["feedback_scale"]} if init else {}))
    if sampling == "trialwise":
        sampler = TrialwiseSampler(
            lambda draw, j: evidence_accumulation_trials(1, seed=[SEED, eprop_evidence.STREAMS["train"], draw, j]))
    else:
        def sampler(draw, n_trials):
            return eprop_evidence.trials(SEED, "train", draw, n_trials)

    return config, weights, feedback, sampler


def reference(batch_size, n_iterations, sampling):
    config, weights, feedback, sampler = setup(batch_size, sampling)
    trainer = EpropTrainer(config, weights, sampler, feedback="random", feedback_matrix=feedback,
                           device="cpp_standalone", iterations_per_run=1, record_spikes=False)
    times = []
    for _ in range(n_iterations):
        start = time.perf_counter()
        trainer.train(1)
        times.append(time.perf_counter() - start)
    compile_seconds = trainer.runner.compile_seconds
    history = trainer.history
    trainer.close()
    per_iteration = float(np.mean(times[1:]))
    print(f"single process (in-binary update)  compile {compile_seconds:6.1f} s  "
          f"{1000 * per_iteration:8.1f} ms/iteration  loss {history[0]['loss']:.4f} -> {history[-1]['loss']:.4f}",
          flush=True)
    return per_iteration


def data_parallel(batch_size, n_iterations, n_workers, sampling):
    from distributed import Client, LocalCluster

    config, weights, feedback, sampler = setup(batch_size, sampling)
    cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(cluster)
    try:
        with DataParallelEprop(config, weights, sampler, feedback="random", feedback_matrix=feedback, client=client,
                               n_workers=n_workers, device="cpp_standalone") as trainer:
            history = trainer.train(n_iterations)
    finally:
        client.close()
        cluster.close()
    steady = history.iloc[1:]
    row = {"workers": n_workers, "build_s": float(history["build_seconds"].iloc[0]),
           "wall_ms": 1000 * float(steady["wall_seconds"].mean()),
           "compute_ms": 1000 * float(steady["compute_seconds"].mean()),
           "worker_ms": 1000 * float(steady["worker_seconds"].mean()),
           "exchange_ms": 1000 * float(steady["exchange_seconds"].mean()),
           "loss_first": float(history["loss"].iloc[0]), "loss_last": float(history["loss"].iloc[-1])}
    print(f"data parallel K = {n_workers}  build {row['build_s']:6.1f} s  {row['wall_ms']:8.1f} ms/iteration  "
          f"slowest share: simulation {row['compute_ms']:8.1f} ms, task {row['worker_ms']:8.1f} ms  "
          f"exchange {row['exchange_ms']:6.1f} ms  "
          f"loss {row['loss_first']:.4f} -> {row['loss_last']:.4f}", flush=True)
    return row


def _echo(weights, iteration):
    """A task that takes what a share takes (the weights) and answers a gradient-sized result, simulating nothing."""
    return {"grads": {key: np.zeros_like(weights[name]) for key, name in (("in", "w_in"), ("rec", "w_rec"),
                                                                          ("out", "w_out"))},
            "metrics": {"loss": 0.0, "iteration": iteration}}


def exchange_only(batch_size, counts, repeats=10):
    """Per-iteration exchange for K workers: K tasks with the weights out, K gradients back, their sum."""
    from distributed import Client, LocalCluster

    config, weights, feedback, _ = setup(batch_size)
    conn = eprop.connectivity(config)
    state = {"w_in": eprop.matrix_to_synapses(weights["w_in"], *conn["in"]),
             "w_rec": eprop.matrix_to_synapses(weights["w_rec"], *conn["rec"]),
             "w_out": eprop.matrix_to_synapses(weights["w_out"], *conn["out"]),
             "B": eprop.matrix_to_synapses(feedback.T, *conn["out"])}
    print(f"exchange only (weights {sum(v.nbytes for v in state.values()) / 1024:.0f} KiB out to every worker, "
          "gradients of the same size back; trials are drawn on the workers)", flush=True)
    for n_workers in counts:
        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
        try:
            workers = sorted(client.scheduler_info()["workers"])
            times = []
            for iteration in range(repeats + 1):
                start = time.perf_counter()
                futures = [client.submit(_echo, state, iteration, workers=[worker], pure=False) for worker in workers]
                results = client.gather(futures)
                sum(result["grads"]["rec"] for result in results)
                times.append(time.perf_counter() - start)
        finally:
            client.close()
            cluster.close()
        print(f"  K = {n_workers:2d}  exchange {1000 * float(np.median(times[1:])):7.1f} ms/iteration (median of "
              f"{repeats})", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=8, help="iterations per measurement (the first is "
                        "not counted)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="K of the data-parallel runs")
    parser.add_argument("--exchange-workers", type=int, nargs="*", default=[],
                        help="K of exchange-only measurements (no simulation)")
    parser.add_argument("--no-reference", action="store_true", help="skip the single-process reference")
    parser.add_argument("--sampling", choices=("trialwise", "batch"), default="trialwise",
                        help="trials seeded one by one (each worker draws only its share; default) or per batch "
                        "(the study's sampler: every worker draws the whole batch)")
    args = parser.parse_args(argv)
    if args.iterations < 2:
        parser.error("--iterations must be at least 2")
    print(f"evidence accumulation, batch {args.batch_size}, {args.iterations} iterations, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    print(f"sampling: {args.sampling}", flush=True)
    single = None if args.no_reference else reference(args.batch_size, args.iterations, args.sampling)
    rows = [data_parallel(args.batch_size, args.iterations, k, args.sampling) for k in args.workers]
    base = next((row for row in rows if row["workers"] == 1), None)
    for row in rows:
        parts = []
        if base is not None:
            parts.append(f"speed-up over K = 1: {base['wall_ms'] / row['wall_ms']:.2f}")
        if single is not None:
            parts.append(f"over the single process: {1000 * single / row['wall_ms']:.2f}")
        parts.append(f"exchange {100 * row['exchange_ms'] / row['wall_ms']:.1f} % of the iteration")
        print(f"K = {row['workers']}: " + ", ".join(parts), flush=True)
    if args.exchange_workers:
        exchange_only(args.batch_size, args.exchange_workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
