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

Period sweep (Murray Fig. 2b): a network of N = 30 units (otherwise as above) is trained on targets of
period 20 tau ... 160 tau (one period per trial, ``--periods`` in units of tau) with RFLO and BPTT from the
same initial network; the loss at the end of training (mean over the last 5 % of trials) is compared with
the loss of the untrained network (the first trial, before any update). Every period is its own C++
build (the trial length is structural), so the quick mode sweeps only the two ends, 20 tau and 160 tau.

Run as ``python -m brian2learn.studies.rflo [--quick] ...`` (or ``brian2learn run rflo`` once registered in
:data:`brian2learn.studies.STUDIES`).
"""

import os
import sys
import time

import matplotlib
import numpy as np
import pandas as pd

from brian2learn.models.rate_units import leaky_tanh_forward
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
MODES = {"full": {"trials": 10_000, "trials_per_run": 2500, "sweep_periods": (20, 40, 60, 80, 100, 120, 140, 160),
                  "sweep_trials": 2000},
         "quick": {"trials": 2_000, "trials_per_run": 1000, "sweep_periods": (20, 160), "sweep_trials": 300}}
REFERENCE_FINAL_LOSS = {"rflo": 1.5e-4, "bptt": 2.3e-4}
#: Network of the period sweep (Murray 2019, Fig. 2: N = 30); periods in units of its tau.
SWEEP_NETWORK = {**NETWORK, "n_rec": 30}
SWEEP_METHODS = ("rflo", "bptt", "untrained")


def add_arguments(parser):
    parser.add_argument("--quick", action="store_true", help=f"{MODES['quick']['trials']} trials instead of "
                        f"{MODES['full']['trials']}")
    parser.add_argument("--seed", type=int, default=1, help="seed of the initial network and feedback (default 1)")
    parser.add_argument("--device", default="cpp_standalone", help="cpp_standalone (default) or runtime")
    parser.add_argument("--trials", type=int, default=None, help="override the number of trials")
    parser.add_argument("--no-bptt", action="store_true", help="skip BPTT even when JAX is installed")
    parser.add_argument("--periods", default=None,
                        help="target periods of the sweep in units of tau, comma-separated (default: "
                             f"{','.join(map(str, MODES['full']['sweep_periods']))}; quick: "
                             f"{','.join(map(str, MODES['quick']['sweep_periods']))})")
    parser.add_argument("--sweep-trials", type=int, default=None,
                        help=f"trials per period of the sweep (default {MODES['full']['sweep_trials']}, quick "
                             f"{MODES['quick']['sweep_trials']})")
    parser.add_argument("--no-sweep", action="store_true", help="skip the period sweep")
    parser.add_argument("--out", default=None, help="run directory (default runs/rflo-seedN)")


def _check_args(args):
    if args.device not in DEVICES:
        raise ValueError(f"unknown device {args.device!r} for '--device'; allowed: {', '.join(DEVICES)}")
    if args.trials is not None and (not isinstance(args.trials, int) or args.trials < 1):
        raise ValueError(f"'--trials' must be a positive integer, got {args.trials!r}")
    if not isinstance(args.seed, int) or args.seed < 0:
        raise ValueError(f"'--seed' must be a non-negative integer, got {args.seed!r}")
    sweep_trials = getattr(args, "sweep_trials", None)
    if sweep_trials is not None and (isinstance(sweep_trials, bool) or not isinstance(sweep_trials, int)
                                     or sweep_trials < 1):
        raise ValueError(f"'--sweep-trials' must be a positive integer, got {sweep_trials!r}")
    if getattr(args, "periods", None) is not None:
        parse_periods(args.periods, NETWORK["tau"])


def parse_periods(text, tau):
    """Periods of the sweep from ``'20,40,80'`` (units of ``tau``): a tuple of floats whose periods in steps,
    ``period * tau``, are whole numbers of at least 2 steps, each period once."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"'--periods' must be comma-separated numbers (units of tau), e.g. 20,40,80; got {text!r}")
    periods = []
    for item in text.split(","):
        try:
            value = float(item)
        except ValueError:
            raise ValueError(f"'--periods' must be comma-separated numbers (units of tau), got {item.strip()!r} "
                             f"in {text!r}") from None
        steps = value * tau
        if not (np.isfinite(value) and value > 0 and abs(steps - round(steps)) < 1e-9 and round(steps) >= 2):
            raise ValueError(f"'--periods': {item.strip()} x tau = {steps:g} steps; each period must be a positive "
                             f"whole number of at least 2 steps")
        periods.append(value)
    if len(set(periods)) != len(periods):
        raise ValueError(f"'--periods' names a period twice: {text!r}")
    return tuple(periods)


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

    sweep, sweep_curves, sweep_summary = None, None, None
    if not getattr(args, "no_sweep", False):
        periods = (parse_periods(args.periods, SWEEP_NETWORK["tau"]) if getattr(args, "periods", None) is not None
                   else MODES[mode]["sweep_periods"])
        sweep_trials = getattr(args, "sweep_trials", None) or MODES[mode]["sweep_trials"]
        sweep, sweep_curves = period_sweep(periods, sweep_trials, args.seed, args.device, run_dir,
                                           with_bptt=bptt_skipped is None)
        sweep.to_parquet(os.path.join(run_dir, "period_sweep.parquet"), index=False)
        sweep_curves.to_parquet(os.path.join(run_dir, "period_sweep_curves.parquet"), index=False)
        sweep_summary = {"network": {**SWEEP_NETWORK, "g": GAIN}, "trials": sweep_trials,
                         "periods_tau": list(periods),
                         "notes": ("one period per trial (period x tau steps); final_loss: mean over the last 5 % of "
                                   "trials; untrained: the loss of the first trial, before any update"),
                         "final_loss": {method: {f"{row.period_tau:g}": row.final_loss
                                                 for row in sweep[sweep["method"] == method].itertuples()}
                                        for method in sweep["method"].unique()}}

    losses = pd.concat(histories, ignore_index=True)
    losses.to_parquet(os.path.join(run_dir, "losses.parquet"), index=False)
    rows = [pd.DataFrame({"method": method, "t": out["t"], "y": out["y"][0], "y_target": out["y_target"][0]})
            for method, out in outputs.items() if out is not None]
    pd.concat(rows, ignore_index=True).to_parquet(os.path.join(run_dir, "outputs_last_trial.parquet"), index=False)
    figures = _figures(run_dir, losses, outputs)
    if sweep is not None:
        fig, ax = plt.subplots(figsize=(5.5, 4))
        plot_period_sweep(sweep, axes=ax)
        figures.append(save_figure(fig, run_dir, "period_sweep.png"))
    summary = {
        "study": NAME, "status": "completed", "mode": mode, "seed": args.seed, "device": args.device,
        "trials": n_trials, "trials_per_run": trials_per_run, "network": {**NETWORK, "g": GAIN, "period": PERIOD},
        "initial_loss": float(history["loss"].iloc[0]), "initial_alignment_deg": rflo.alignment_degrees(
            weights["w_out"], weights["B"]),
        "methods": results, "bptt_skipped": bptt_skipped, "figures": figures,
        "reference_final_loss": REFERENCE_FINAL_LOSS, "period_sweep": sweep_summary,
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
    sweep = summary.get("period_sweep")
    if sweep:
        methods = list(sweep["final_loss"])
        print(f"period sweep (N = {sweep['network']['n_rec']}, {sweep['trials']} trials per period), final loss:")
        print(f"{'period':>10} " + " ".join(f"{m:>10}" for m in methods))
        for period in sweep["periods_tau"]:
            key = f"{period:g}"
            print(f"{key + ' tau':>10} " + " ".join(f"{sweep['final_loss'][m][key]:>10.3e}" for m in methods))


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



def period_sweep(periods, n_trials, seed, device="cpp_standalone", run_dir=None, with_bptt=True,
                 network=None, progress=True):
    """Loss after training against the target period (Murray 2019, Fig. 2b).

    For every period ``P`` (units of ``tau``; ``P tau`` steps, one period per trial) the network of
    ``network`` (default :data:`SWEEP_NETWORK`) starts from ``rflo.initial_weights(config, seed)`` and is
    trained for ``n_trials`` trials with RFLO (Brian2, one build per period) and BPTT (JAX, if
    ``with_bptt``); ``untrained`` is the loss of the first trial, before any update.

    Returns
    -------
    (DataFrame, DataFrame)
        The table (period_tau, period_steps, method, final_loss: mean of the last 5 % of trials,
        last_loss, min_loss, trials, wall_seconds) and the curves (period_tau, method, trial, loss).
    """
    network = dict(SWEEP_NETWORK if network is None else network)
    rows, curves = [], []
    for period in periods:
        steps = int(round(period * network["tau"]))
        config = rflo.RfloConfig(**{**network, "n_points": steps})
        task = periodic_target_task(n_points=steps, period=float(steps), n_in=config.n_in, n_out=config.n_out)
        weights = rflo.initial_weights(config, seed, g=GAIN)
        label = f"sweep {period:g} tau"
        start = time.perf_counter()
        directory = (os.path.join(run_dir, f"build_sweep_{steps}") if device == "cpp_standalone" and run_dir
                     else None)
        trainer = rflo.RfloTrainer(config, weights, task, device=device, trials_per_run=min(n_trials, 2500),
                                   directory=directory, record_output=False)
        try:
            history = trainer.train(n_trials, progress=_Progress(f"{label} rflo") if progress else None)
        finally:
            trainer.close()
        histories = {"rflo": (history["loss"].to_numpy(), time.perf_counter() - start)}
        if with_bptt:
            trained = rflo.train_bptt(weights, task, config, n_trials)
            histories["bptt"] = (trained["history"]["loss"].to_numpy(), trained["wall_seconds"])
            if progress:
                print(f"[{NAME} {label} bptt] trial {n_trials}/{n_trials}  loss {histories['bptt'][0][-1]:.4g}  "
                      f"({trained['wall_seconds']:.1f} s)", file=sys.stderr, flush=True)
        tail = max(1, n_trials // 20)
        untrained = float(histories["rflo"][0][0])
        for method, (loss, wall) in histories.items():
            rows.append({"period_tau": float(period), "period_steps": steps, "method": method,
                         "final_loss": float(np.mean(loss[-tail:])), "last_loss": float(loss[-1]),
                         "min_loss": float(np.min(loss)), "trials": n_trials, "wall_seconds": wall})
            curves.append(pd.DataFrame({"period_tau": float(period), "method": method,
                                        "trial": np.arange(len(loss)), "loss": loss}))
        rows.append({"period_tau": float(period), "period_steps": steps, "method": "untrained",
                     "final_loss": untrained, "last_loss": untrained, "min_loss": untrained, "trials": 0,
                     "wall_seconds": 0.0})
    return pd.DataFrame(rows), pd.concat(curves, ignore_index=True)


def untrained_loss(weights, task, tau):
    """Loss of one trial of a network with ``weights`` (numpy forward pass, Murray's convention y(0) = 0)."""
    out = leaky_tanh_forward(weights["w_rec"], weights["w_in"], weights["w_out"], weights["h0"], task["inputs"][1:],
                             tau)
    return 0.5 * float(np.sum((task["targets"] - out["y"]) ** 2)) / len(task["targets"])


def plot_period_sweep(sweep, axes=None):
    """Final loss against the target period (units of tau) for each method (Murray 2019, Fig. 2b)."""
    if axes is None:
        axes = plt.gca()
    styles = {"rflo": ("tab:blue", "o-"), "bptt": ("tab:orange", "s-"), "untrained": ("grey", "^--")}
    for method in SWEEP_METHODS:
        rows = sweep[sweep["method"] == method].sort_values("period_tau")
        if len(rows):
            color, style = styles[method]
            axes.semilogy(rows["period_tau"], rows["final_loss"], style, color=color, ms=4,
                          label=method.upper() if method != "untrained" else "untrained")
    axes.set_xlabel("target period (units of tau)")
    axes.set_ylabel("loss at the end of training")
    axes.set_title("Periodic output: loss at the end of training vs period")
    axes.legend()
    return axes


def main(argv=None):
    """``python -m brian2learn.studies.rflo [options]``: errors in one line, exit status 2."""
    from brian2learn.studies.cli import study_main

    return study_main(sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
