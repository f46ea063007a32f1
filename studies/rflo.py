"""RFLO vs BPTT on Murray's periodic-output task (Murray 2019, eLife 8:e43299; the authors' notebook).

A leaky tanh RNN (N = 50, tau = 10 steps, W_rec ~ g N(0, 1/N) with g = 1.5, no input) must produce
sin(2 pi t/100) + 0.5 sin(4 pi t/100) + 0.25 sin(8 pi t/100) over trials of 100 time points, starting
each trial from h = 0.1 (:mod:`brian2learn.tasks.periodic_target`). It is trained for 10^4 trials with
RFLO, as Brian2 code (:mod:`brian2learn.plasticity.rflo`, one C++ build, weights carried between runs
by ``run_args``), and, when JAX is installed (extra ``bptt``), with exact BPTT gradients, from the same
initial network; learning rates 0.03 for W_rec and W_out, 0 for W_in, one update per trial. The angle
between W_out and the feedback B^T is recorded after every trial (feedback alignment, Murray Fig. 2).

The authors' notebook (one random network each) ends at losses 1.5e-4 (RFLO) and 2.3e-4 (BPTT)
(shared/REFERENCES.md).

Run as ``python -m brian2learn.studies.rflo [--quick] ...`` (or ``brian2learn run rflo`` once registered in
:data:`brian2learn.studies.STUDIES`).
"""

import os
import sys
import time

import matplotlib
import pandas as pd

from brian2learn.plasticity import rflo
from brian2learn.studies.common import prepare_run_dir, save_figure, write_summary
from brian2learn.tasks.periodic_target import periodic_target_task

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

NAME = "rflo"
DESCRIPTION = "RFLO (Brian2) vs BPTT (JAX) on Murray 2019's periodic-output task, with W_out-B alignment"

DEVICES = ("cpp_standalone", "runtime")
NETWORK = {"n_in": 1, "n_rec": 50, "n_out": 1, "n_points": 100, "tau": 10.0, "learning_rates": (0.0, 0.03, 0.03)}
GAIN = 1.5
PERIOD = 100.0
MODES = {"full": {"trials": 10_000, "trials_per_run": 2500}, "quick": {"trials": 2_000, "trials_per_run": 1000}}
REFERENCE_FINAL_LOSS = {"rflo": 1.5e-4, "bptt": 2.3e-4}


def add_arguments(parser):
    parser.add_argument("--quick", action="store_true", help=f"{MODES['quick']['trials']} trials instead of "
                        f"{MODES['full']['trials']}")
    parser.add_argument("--seed", type=int, default=1, help="seed of the initial network and feedback (default 1)")
    parser.add_argument("--device", default="cpp_standalone", help="cpp_standalone (default) or runtime")
    parser.add_argument("--trials", type=int, default=None, help="override the number of trials")
    parser.add_argument("--no-bptt", action="store_true", help="skip BPTT even when JAX is installed")
    parser.add_argument("--out", default=None, help="run directory (default runs/rflo-seedN)")


def _check_args(args):
    if args.device not in DEVICES:
        raise ValueError(f"unknown device {args.device!r} for '--device'; allowed: {', '.join(DEVICES)}")
    if args.trials is not None and (not isinstance(args.trials, int) or args.trials < 1):
        raise ValueError(f"'--trials' must be a positive integer, got {args.trials!r}")
    if not isinstance(args.seed, int) or args.seed < 0:
        raise ValueError(f"'--seed' must be a non-negative integer, got {args.seed!r}")


def _bptt_available():
    try:
        import jax  # noqa: F401
    except ImportError:
        return False
    return True


class _Progress:
    def __init__(self, label):
        self.label = label
        self.start = time.perf_counter()

    def __call__(self, done, total, metrics):
        print(f"[{NAME} {self.label}] trial {done}/{total}  loss {metrics['loss']:.4g}  "
              f"W_out-B angle {metrics['alignment_deg']:.1f} deg  ({time.perf_counter() - self.start:.1f} s)",
              file=sys.stderr, flush=True)


def run(args):
    """Train with RFLO (and BPTT), write summary.json, Parquet tables and figures; return the summary."""
    _check_args(args)
    mode = "quick" if args.quick else "full"
    n_trials = args.trials or MODES[mode]["trials"]
    trials_per_run = min(MODES[mode]["trials_per_run"], n_trials)
    run_dir = prepare_run_dir(args.out or os.path.join("runs", f"{NAME}-seed{args.seed}"))
    config = rflo.RfloConfig(**NETWORK)
    task = periodic_target_task(n_points=config.n_points, period=PERIOD, n_in=config.n_in, n_out=config.n_out)
    weights = rflo.initial_weights(config, args.seed, g=GAIN)
    print(f"{NAME}: {mode} mode, {n_trials} trials, seed {args.seed}, device {args.device}, run directory {run_dir}",
          flush=True)

    histories, outputs, results = [], {}, {}
    trainer = rflo.RfloTrainer(config, weights, task, device=args.device, trials_per_run=trials_per_run,
                               directory=os.path.join(run_dir, "build") if args.device == "cpp_standalone" else None)
    start = time.perf_counter()
    try:
        history = trainer.train(n_trials, progress=_Progress("rflo"))
    finally:
        runner = trainer.runner
        trainer.close()
    rflo_wall = time.perf_counter() - start
    histories.append(history.assign(method="rflo"))
    outputs["rflo"] = trainer.last_output
    results["rflo"] = _result(history, rflo_wall)
    results["rflo"].update({"compile_seconds": runner.compile_seconds, "binary_runs": runner.n_runs,
                            "builds": runner.n_builds})

    bptt_skipped = None
    if args.no_bptt:
        bptt_skipped = "--no-bptt given"
    elif not _bptt_available():
        bptt_skipped = "JAX not installed (pip install -e '.[bptt]')"
    else:
        print(f"[{NAME} bptt] training {n_trials} trials with exact gradients (JAX)", file=sys.stderr, flush=True)
        trained = rflo.train_bptt(weights, task, config, n_trials)
        histories.append(trained["history"].assign(method="bptt"))
        outputs["bptt"] = trained["output"]
        results["bptt"] = _result(trained["history"], trained["wall_seconds"])
        print(f"[{NAME} bptt] trial {n_trials}/{n_trials}  loss {results['bptt']['final_loss']:.4g}  "
              f"({trained['wall_seconds']:.1f} s)", file=sys.stderr, flush=True)

    losses = pd.concat(histories, ignore_index=True)
    losses.to_parquet(os.path.join(run_dir, "losses.parquet"), index=False)
    rows = [pd.DataFrame({"method": method, "t": out["t"], "y": out["y"][0], "y_target": out["y_target"][0]})
            for method, out in outputs.items() if out is not None]
    pd.concat(rows, ignore_index=True).to_parquet(os.path.join(run_dir, "outputs_last_trial.parquet"), index=False)
    figures = _figures(run_dir, losses, outputs)
    summary = {
        "study": NAME, "status": "completed", "mode": mode, "seed": args.seed, "device": args.device,
        "trials": n_trials, "trials_per_run": trials_per_run, "network": {**NETWORK, "g": GAIN, "period": PERIOD},
        "initial_loss": float(history["loss"].iloc[0]), "initial_alignment_deg": rflo.alignment_degrees(
            weights["w_out"], weights["B"]),
        "methods": results, "bptt_skipped": bptt_skipped, "figures": figures,
        "reference_final_loss": REFERENCE_FINAL_LOSS,
        "notes": ("loss = (1/2T) sum_t (y* - y)^2 of a trial before its update; final_loss: the last trial; "
                  "alignment_deg: angle between vec(W_out) and vec(B^T) after each update (90 = orthogonal)."),
    }
    write_summary(run_dir, summary)
    _print_table(summary)
    print(f"summary: {os.path.join(run_dir, 'summary.json')}", flush=True)
    return summary


def _result(history, wall):
    loss = history["loss"].to_numpy()
    return {"final_loss": float(loss[-1]), "min_loss": float(loss.min()),
            "mean_loss_last_100": float(loss[-100:].mean()),
            "final_alignment_deg": float(history["alignment_deg"].iloc[-1]), "wall_seconds": wall}


def _print_table(summary):
    print(f"{'method':>6} {'final loss':>11} {'min loss':>10} {'W_out-B angle':>14} {'wall s':>7}")
    start_angle = summary["initial_alignment_deg"]
    print(f"{'start':>6} {summary['initial_loss']:>11.3e} {'-':>10} {start_angle:>13.1f}° {'-':>7}")
    for method, r in summary["methods"].items():
        print(f"{method:>6} {r['final_loss']:>11.3e} {r['min_loss']:>10.3e} {r['final_alignment_deg']:>13.1f}° "
              f"{r['wall_seconds']:>7.1f}")
    if summary["bptt_skipped"]:
        print(f"BPTT skipped: {summary['bptt_skipped']}")


def _figures(run_dir, losses, outputs):
    written = []
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for method, frame in losses.groupby("method", sort=False):
        axes[0].loglog(frame["trial"] + 1, frame["loss"], lw=0.8, label=method.upper())
        axes[1].semilogx(frame["trial"] + 1, frame["alignment_deg"], lw=1.0, label=method.upper())
    axes[0].set_xlabel("trial")
    axes[0].set_ylabel("loss")
    axes[0].set_title("Periodic output: loss per trial")
    axes[0].legend()
    axes[1].axhline(90, color="grey", ls=":", lw=0.8)
    axes[1].set_xlabel("trial")
    axes[1].set_ylabel("angle W_out vs B (deg)")
    axes[1].set_title("Feedback alignment")
    axes[1].legend()
    written.append(save_figure(fig, run_dir, "learning_curves.png"))
    fig, axes = plt.subplots(len(outputs), 1, figsize=(7, 2.4 * len(outputs)), squeeze=False)
    for ax, (method, out) in zip(axes[:, 0], outputs.items()):
        ax.plot(out["t"], out["y_target"][0], "k--", lw=1.0, label="target")
        ax.plot(out["t"], out["y"][0], lw=1.2, label=method.upper())
        ax.set_xlabel("time step")
        ax.set_title(f"{method.upper()}: output after training")
        ax.legend(fontsize=8)
    written.append(save_figure(fig, run_dir, "output_vs_target.png"))
    return written



def main(argv=None):
    """``python -m brian2learn.studies.rflo [options]``: errors in one line, exit status 2."""
    from brian2learn.studies.cli import study_main

    return study_main(sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
