"""RFLO vs BPTT on Murray's periodic-output task (Murray 2019, eLife 8:e43299; the authors' notebook).

A leaky tanh RNN (N = 50, tau = 10 steps, W_rec ~ g N(0, 1/N) with g = 1.5, no input) must produce
sin(2 pi t/100) + 0.5 sin(4 pi t/100) + 0.25 sin(8 pi t/100), over trials of 100 time points, starting
each trial from h = 0.1 (:mod:`brian2learn.tasks.periodic_target`). It is trained for 10^4 trials with
RFLO, as Brian2 code (:mod:`brian2learn.plasticity.rflo`, one C++ build, weights carried between runs
by ``run_args``), and, when JAX is installed (extra ``bptt``), with exact BPTT gradients, from the same
initial network; learning rates 0.03 for W_rec and W_out, 0 for W_in, one update per trial. The angle
between W_out and the feedback B^T is recorded after every trial (feedback alignment, Murray Fig. 2).

The authors' notebook ends at losses 1.5e-4 (RFLO) and 2.3e-4 (BPTT) (shared/REFERENCES.md), each for one
unseeded random network. The final loss depends strongly on the initial network, so ``--realizations K``
trains K networks (seeds ``seed .. seed + K - 1``; one build serves them all) and reports the median and
quartiles of the final loss next to the first network's (Murray's Fig. 2 shows the median of nine).

Period sweep (Murray Fig. 2b): a network of N = 30 units (otherwise as above) is trained on targets of
period 20 tau ... 160 tau (one period per trial, ``--periods`` in units of tau) with RFLO and BPTT from the
same initial networks; the loss at the end of training (mean over the last 5 % of trials, median over the
realizations) is compared with the loss of the untrained network (the first trial, before any update).
BPTT in the sweep clips the gradient norm (:data:`SWEEP_BPTT_CLIP_NORM`, ``--bptt-clip-norm``): from about
60 tau on, plain gradient descent on these long trials of a chaotic network is thrown off by exploding
gradients and stays near the untrained loss. Every period is its own C++ build (the trial length is
structural), so the quick mode sweeps only the two ends, 20 tau and 160 tau.

Augmented circuit (Murray 2019: "an augmented circuit architecture that allows the RNN to concatenate
short-duration patterns into longer sequences"): at the periods of ``--augmented-periods`` (full mode 100 tau to
160 tau, quick 160 tau) RFLO also trains the same networks with upstream context units, one active in each
segment of about 20 tau (:func:`brian2learn.plasticity.rflo.augmented_circuit`, whose docstring says which
parts are ours: the paper's description of the circuit could not be read here). The summary gives each
architecture's median loss as a multiple of clipped BPTT's.

Run as ``python -m brian2learn.studies.rflo [--quick] ...`` (or ``brian2learn run rflo`` once registered in
:data:`brian2learn.studies.STUDIES`).
"""

import dataclasses
import os
import sys
import time

import matplotlib
import numpy as np
import pandas as pd

from brian2learn.analysis import energy
from brian2learn.analysis.tables import write_table
from brian2learn.models.rate_units import leaky_tanh_forward
from brian2learn.plasticity import rflo
from brian2learn.studies.common import jax_available, save_figure, save_network, write_summary
from brian2learn.studies.options import StudyOptions, option
from brian2learn.studies.run_directory import in_run_directory
from brian2learn.tasks.periodic_target import periodic_target_task, segment_contexts
from brian2learn.training.progress import ProgressReporter
from brian2learn.training.rflo import RfloTrainer

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

NAME = "rflo"
DESCRIPTION = "RFLO (Brian2) vs BPTT (JAX) on Murray 2019's periodic-output task, with W_out-B alignment"

DEVICES = ("cpp_standalone", "runtime")
NETWORK = {"n_in": 1, "n_rec": 50, "n_out": 1, "n_points": 100, "tau": 10.0, "learning_rates": (0.0, 0.03, 0.03)}
GAIN = 1.5
PERIOD = 100.0
MODES = {"full": {"trials": 10_000, "trials_per_run": 2500, "sweep_periods": (20, 40, 60, 80, 100, 120, 140, 160),
                  "sweep_trials": 10_000, "realizations": 9, "augmented_periods": (100, 120, 140, 160)},
         "quick": {"trials": 2_000, "trials_per_run": 1000, "sweep_periods": (20, 160), "sweep_trials": 300,
                   "realizations": 1, "augmented_periods": (160,)}}
REFERENCE_FINAL_LOSS = {"rflo": 1.5e-4, "bptt": 2.3e-4}
#: Network of the period sweep (Murray 2019, Fig. 2: N = 30); periods in units of its tau.
SWEEP_NETWORK = {**NETWORK, "n_rec": 30}
SWEEP_METHODS = ("rflo", "bptt", "untrained")
#: RFLO on the augmented circuit (:func:`brian2learn.plasticity.rflo.augmented_circuit`), at the periods of
#: ``--augmented-periods``: the same networks with context units, one per segment of about 20 tau.
AUGMENTED_METHOD = "rflo-augmented"
#: Gradient-norm clipping of BPTT in the period sweep (Pascanu, Mikolov & Bengio 2013). Measured here (N = 30,
#: seed 1, learning rate 0.03): at 80 tau plain gradient descent ends at 0.15 after 5000 trials, clipped at
#: norm 1 at 6.8e-4; at 160 tau, clipped, 1.1e-2 after 10^4 trials.
SWEEP_BPTT_CLIP_NORM = 1.0


@dataclasses.dataclass
class Options(StudyOptions):
    """Options of the RFLO study (``brian2learn run rflo --help``)."""

    quick: bool = option(False, help=f"{MODES['quick']['trials']} trials instead of {MODES['full']['trials']}")
    seed: int = option(1, minimum=0, help="seed of the initial network and feedback (default 1)")
    device: str = option("cpp_standalone", choices=DEVICES, help="Brian2 device")
    trials: int | None = option(None, minimum=1, metavar="N", help="override the number of trials")
    no_bptt: bool = option(False, help="skip BPTT even when JAX is installed")
    periods: str | None = option(None, metavar="P1,P2,...",
                                 help="target periods of the sweep in units of tau, comma-separated (default: "
                                      f"{','.join(map(str, MODES['full']['sweep_periods']))}; quick: "
                                      f"{','.join(map(str, MODES['quick']['sweep_periods']))})")
    sweep_trials: int | None = option(None, minimum=1, metavar="N",
                                      help=f"trials per period of the sweep (default {MODES['full']['sweep_trials']}, "
                                           f"quick {MODES['quick']['sweep_trials']})")
    no_sweep: bool = option(False, help="skip the period sweep")
    realizations: int | None = option(None, minimum=1, metavar="K",
                                      help="random networks trained per task and period (seeds --seed, --seed+1, "
                                           f"...; default {MODES['full']['realizations']}, quick "
                                           f"{MODES['quick']['realizations']})")
    augmented_periods: str | None = option(
        None, metavar="P1,P2,...",
        help="sweep periods (units of tau) at which RFLO also trains the augmented circuit (context units, one per "
             f"segment of {rflo.AUGMENTED_CIRCUIT['segment_tau']:g} tau); 'none' for none (default: those of "
             f"{','.join(map(str, MODES['full']['augmented_periods']))} in the sweep; quick: "
             f"{','.join(map(str, MODES['quick']['augmented_periods']))})")
    bptt_clip_norm: float = option(SWEEP_BPTT_CLIP_NORM, metavar="X",
                                   help="largest gradient norm of BPTT in the period sweep (0: no clipping); the "
                                        "main task's BPTT is unclipped, as in the notebook")

    def check(self):
        if not np.isfinite(self.bptt_clip_norm) or self.bptt_clip_norm < 0:
            raise ValueError(f"'--bptt-clip-norm' must be a non-negative number (0: no clipping), "
                             f"got {self.bptt_clip_norm!r}")
        if self.periods is not None:
            parse_periods(self.periods, NETWORK["tau"])
        if self.augmented_periods is not None:
            augmented_periods(self, "quick" if self.quick else "full")


def augmented_periods(options, mode):
    """The sweep periods at which the augmented circuit is trained: ``--augmented-periods`` (each one a period
    of the sweep) or, by default, the mode's that are in the sweep."""
    periods = (parse_periods(options.periods, SWEEP_NETWORK["tau"]) if options.periods is not None
               else MODES[mode]["sweep_periods"])
    text = options.augmented_periods
    if text is None:
        return tuple(p for p in MODES[mode]["augmented_periods"] if p in periods)
    if text.strip().lower() == "none":
        return ()
    chosen = parse_periods(text, SWEEP_NETWORK["tau"], name="--augmented-periods")
    missing = [p for p in chosen if p not in periods]
    if missing:
        raise ValueError(f"'--augmented-periods': {', '.join(f'{p:g}' for p in missing)} not among the sweep's "
                         f"periods ({', '.join(f'{p:g}' for p in periods)}; set them with --periods)")
    return chosen


def parse_periods(text, tau, name="--periods"):
    """Periods of the sweep from ``'20,40,80'`` (units of ``tau``): a tuple of floats whose periods in steps,
    ``period * tau``, are whole numbers of at least 2 steps, each period once."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"'{name}' must be comma-separated numbers (units of tau), e.g. 20,40,80; got {text!r}")
    periods = []
    for item in text.split(","):
        try:
            value = float(item)
        except ValueError:
            raise ValueError(f"'{name}' must be comma-separated numbers (units of tau), got {item.strip()!r} "
                             f"in {text!r}") from None
        steps = value * tau
        if not (np.isfinite(value) and value > 0 and abs(steps - round(steps)) < 1e-9 and round(steps) >= 2):
            raise ValueError(f"'{name}': {item.strip()} x tau = {steps:g} steps; each period must be a positive "
                             f"whole number of at least 2 steps")
        periods.append(value)
    if len(set(periods)) != len(periods):
        raise ValueError(f"'{name}' names a period twice: {text!r}")
    return tuple(periods)


@in_run_directory(NAME)
def run(options, run_dir):
    """Train with RFLO (and BPTT), write summary.json, Parquet tables and figures; return the summary.

    ``options`` is an :class:`Options` (``run(Options(quick=True))``).
    """
    mode = "quick" if options.quick else "full"
    n_trials = options.trials or MODES[mode]["trials"]
    trials_per_run = min(MODES[mode]["trials_per_run"], n_trials)
    config = rflo.RfloConfig(**NETWORK)
    task = periodic_target_task(n_points=config.n_points, period=PERIOD, n_in=config.n_in, n_out=config.n_out)
    print(f"{NAME}: {mode} mode, {n_trials} trials, seed {options.seed}, device {options.device}, "
          f"run directory {run_dir}", flush=True)

    realizations = options.realizations or MODES[mode]["realizations"]
    seeds = [options.seed + r for r in range(realizations)]
    with_bptt, bptt_skipped = False, None
    if options.no_bptt:
        bptt_skipped = "--no-bptt given"
    elif not jax_available():
        bptt_skipped = "JAX not installed (pip install -e '.[bptt]')"
    else:
        with_bptt = True
    histories, outputs, per_seed = [], {}, {"rflo": [], **({"bptt": []} if with_bptt else {})}
    networks = []
    directory = os.path.join(run_dir, "build") if options.device == "cpp_standalone" else None
    runner = None
    try:
        for seed in seeds:
            label = "rflo" if realizations == 1 else f"rflo seed {seed}"
            weights = rflo.initial_weights(config, seed, g=GAIN)
            trainer = RfloTrainer(config, weights, task, device=options.device, trials_per_run=trials_per_run,
                                  directory=directory, runner=runner)
            runner = trainer.runner
            start = time.perf_counter()
            history = trainer.train(n_trials, progress=ProgressReporter(f"{NAME} {label}", unit="trial"))
            histories.append(history.assign(method="rflo", seed=seed))
            suffix = "" if realizations == 1 else f"_seed{seed}"
            model = dataclasses.asdict(config)
            networks.append(save_network(run_dir, f"rflo{suffix}", trainer.weights, NAME, options, model, seed=seed))
            per_seed["rflo"].append(_result(history, time.perf_counter() - start))
            if seed == seeds[0]:
                outputs["rflo"] = trainer.last_output
                first_weights, first_history = weights, history
            _write_main_tables(run_dir, histories, outputs)  # what finished is on disk at once
            if with_bptt:
                trained = rflo.train_bptt(weights, task, config, n_trials)
                histories.append(trained["history"].assign(method="bptt", seed=seed))
                networks.append(save_network(run_dir, f"bptt{suffix}", {**trained["weights"], "h0": weights["h0"]},
                                             NAME, options, model, seed=seed))
                per_seed["bptt"].append(_result(trained["history"], trained["wall_seconds"]))
                if seed == seeds[0]:
                    outputs["bptt"] = trained["output"]
                _write_main_tables(run_dir, histories, outputs)
                print(f"[{NAME} {label.replace('rflo', 'bptt')}] trial {n_trials}/{n_trials}  loss "
                      f"{per_seed['bptt'][-1]['final_loss']:.4g}  ({trained['wall_seconds']:.1f} s, JAX)",
                      file=sys.stderr, flush=True)
    finally:
        if runner is not None:
            runner.close()
    results = {}
    for method, rows in per_seed.items():
        results[method] = {**rows[0], "realizations": {
            "seeds": seeds, "final_loss": [r["final_loss"] for r in rows],
            **_spread([r["final_loss"] for r in rows])}}
    results["rflo"].update({"compile_seconds": runner.compile_seconds, "binary_runs": runner.n_runs,
                            "builds": runner.n_builds})

    sweep, sweep_curves, sweep_summary = None, None, None
    if not options.no_sweep:
        periods = (parse_periods(options.periods, SWEEP_NETWORK["tau"]) if options.periods is not None
                   else MODES[mode]["sweep_periods"])
        sweep_trials = options.sweep_trials or MODES[mode]["sweep_trials"]
        clip = options.bptt_clip_norm or None
        augmented = augmented_periods(options, mode)
        sweep, sweep_curves = period_sweep(periods, sweep_trials, options.seed, options.device, run_dir,
                                           with_bptt=with_bptt, realizations=realizations, bptt_clip_norm=clip,
                                           augmented_periods=augmented,
                                           on_point=lambda table, curves: _write_sweep_tables(run_dir, table, curves))
        _write_sweep_tables(run_dir, sweep, sweep_curves)
        medians = sweep_medians(sweep)
        sweep_summary = {"network": {**SWEEP_NETWORK, "g": GAIN}, "trials": sweep_trials,
                         "periods_tau": list(periods), "seeds": seeds, "bptt_clip_norm": clip,
                         "notes": ("one period per trial (period x tau steps); final_loss: mean over the last 5 % of "
                                   "trials, median over the realizations (q25, q75: quartiles); untrained: the loss "
                                   "of the first trial, before any update"),
                         **{key: {method: {f"{row.period_tau:g}": getattr(row, key)
                                           for row in medians[medians["method"] == method].itertuples()}
                                  for method in medians["method"].unique()}
                            for key in ("final_loss", "q25", "q75")},
                         "augmented": _augmented_summary(medians, augmented)}

    losses = _write_main_tables(run_dir, histories, outputs)
    figures = _figures(run_dir, losses, outputs)
    if sweep is not None:
        fig, ax = plt.subplots(figsize=(5.5, 4))
        plot_period_sweep(sweep, axes=ax)
        figures.append(save_figure(fig, run_dir, "period_sweep.png"))
    summary = {
        "study": NAME, "status": "completed", "mode": mode, "seed": options.seed, "device": options.device,
        "trials": n_trials, "trials_per_run": trials_per_run, "network": {**NETWORK, "g": GAIN, "period": PERIOD},
        "initial_loss": float(first_history["loss"].iloc[0]), "initial_alignment_deg": rflo.alignment_degrees(
            first_weights["w_out"], first_weights["B"]), "realizations": realizations,
        "methods": results, "bptt_skipped": bptt_skipped, "figures": figures, "networks": networks,
        "options": options.as_dict(),
        "energy": energy.not_spiking("leaky tanh rate units (Murray 2019)"),
        "reference_final_loss": REFERENCE_FINAL_LOSS, "period_sweep": sweep_summary,
        "notes": ("loss = (1/2T) sum_t (y* - y)^2 of a trial before its update; final_loss: the last trial of the "
                  "first network (seed); realizations: the final losses of every network, their median and "
                  "quartiles; alignment_deg: angle between vec(W_out) and vec(B^T) after each update "
                  "(90 = orthogonal)."),
    }
    write_summary(run_dir, summary, options)
    _print_table(summary)
    print(f"summary: {os.path.join(run_dir, 'summary.json')}", flush=True)
    return summary


def _augmented_summary(medians, periods):
    """The augmented circuit's settings and, per period, its median loss and the plain network's as multiples
    of clipped BPTT's; ``within_10x_of_bptt`` says whether the augmented circuit stays within 10x of it at every
    period (the plain network is 20-100x above from 100 tau on)."""
    if not periods:
        return None
    table = medians.set_index(["method", "period_tau"])["final_loss"]
    summary = {**rflo.AUGMENTED_CIRCUIT, "periods_tau": list(periods),
               "segments": {f"{p:g}": segment_count(p) for p in periods}}
    if ("bptt", float(periods[0])) in table.index:
        ratios = {method: {f"{p:g}": float(table[(method, float(p))] / table[("bptt", float(p))]) for p in periods}
                  for method in ("rflo", AUGMENTED_METHOD)}
        summary["loss_over_bptt"] = ratios
        summary["within_10x_of_bptt"] = bool(all(r <= 10 for r in ratios[AUGMENTED_METHOD].values()))
    return summary


def segment_count(period_tau, segment_tau=None):
    """Context units of the augmented circuit for a period: segments of about ``segment_tau`` (default
    :data:`rflo.AUGMENTED_CIRCUIT`), at least one."""
    segment_tau = rflo.AUGMENTED_CIRCUIT["segment_tau"] if segment_tau is None else segment_tau
    return max(1, int(round(float(period_tau) / segment_tau)))


def _write_main_tables(run_dir, histories, outputs):
    """Write ``losses.parquet`` (every finished method and seed) and ``outputs_last_trial.parquet`` (the first
    network's finished methods); return the losses. Called after every method, so that an interrupted run keeps
    what finished; the last call writes the final tables."""
    losses = pd.concat(histories, ignore_index=True)
    write_table(losses, os.path.join(run_dir, "losses.parquet"))
    rows = [pd.DataFrame({"method": method, "step": out["t"], "y": out["y"][0], "y_target": out["y_target"][0]})
            for method, out in outputs.items() if out is not None]
    if rows:
        write_table(pd.concat(rows, ignore_index=True), os.path.join(run_dir, "outputs_last_trial.parquet"))
    return losses


def _write_sweep_tables(run_dir, sweep, curves):
    """Write ``period_sweep.parquet`` and ``period_sweep_curves.parquet`` (the sweep points finished so far)."""
    write_table(sweep, os.path.join(run_dir, "period_sweep.parquet"))
    write_table(curves, os.path.join(run_dir, "period_sweep_curves.parquet"))


def _spread(values):
    """Median and quartiles of a list of numbers (the realizations of one measure)."""
    q25, median, q75 = np.percentile(np.asarray(values, dtype=float), [25, 50, 75])
    return {"median": float(median), "q25": float(q25), "q75": float(q75)}


def _result(history, wall):
    loss = history["loss"].to_numpy()
    return {"final_loss": float(loss[-1]), "min_loss": float(loss.min()),
            "mean_loss_last_100": float(loss[-100:].mean()),
            "final_alignment_deg": float(history["alignment_deg"].iloc[-1]), "wall_seconds": wall}


def _print_table(summary):
    print(f"{'method':>6} {'final loss':>11} {'min loss':>10} {'W_out-B angle':>14} {'wall s':>7}   "
          f"median [q25, q75] over {summary['realizations']} network(s)")
    start_angle = summary["initial_alignment_deg"]
    print(f"{'start':>6} {summary['initial_loss']:>11.3e} {'-':>10} {start_angle:>13.1f}° {'-':>7}")
    for method, r in summary["methods"].items():
        spread = r["realizations"]
        print(f"{method:>6} {r['final_loss']:>11.3e} {r['min_loss']:>10.3e} {r['final_alignment_deg']:>13.1f}° "
              f"{r['wall_seconds']:>7.1f}   {spread['median']:.3e} [{spread['q25']:.3e}, {spread['q75']:.3e}]")
    if summary["bptt_skipped"]:
        print(f"BPTT skipped: {summary['bptt_skipped']}")
    sweep = summary.get("period_sweep")
    if sweep:
        methods = list(sweep["final_loss"])
        print(f"period sweep (N = {sweep['network']['n_rec']}, {sweep['trials']} trials per period, "
              f"{len(sweep['seeds'])} network(s), BPTT clip norm {sweep['bptt_clip_norm']}), final loss (median):")
        print(f"{'period':>10} " + " ".join(f"{m:>10}" for m in methods))
        for period in sweep["periods_tau"]:
            key = f"{period:g}"
            cells = (sweep["final_loss"][m].get(key) for m in methods)
            print(f"{key + ' tau':>10} " + " ".join(f"{c:>10.3e}" if c is not None else f"{'-':>10}" for c in cells))
        augmented = sweep.get("augmented")
        if augmented and "loss_over_bptt" in augmented:
            ratios = augmented["loss_over_bptt"]
            print("loss / BPTT's: " + ", ".join(
                f"{p} tau: plain {ratios['rflo'][p]:.3g}, augmented {ratios[AUGMENTED_METHOD][p]:.3g}"
                for p in ratios[AUGMENTED_METHOD]) + f"; augmented within 10x: {augmented['within_10x_of_bptt']}")


def _median_curves(losses, column, axes, plot):
    """Median over networks (and quartiles, with several) of ``column`` per trial, one line per method."""
    for method, frame in losses.groupby("method", sort=False):
        per_trial = frame.groupby("trial")
        trial = np.asarray(per_trial.size().index) + 1
        lines = getattr(axes, plot)(trial, per_trial[column].median(), lw=0.8, label=method.upper())
        if frame["seed"].nunique() > 1:
            axes.fill_between(trial, per_trial[column].quantile(0.25), per_trial[column].quantile(0.75),
                              color=lines[0].get_color(), alpha=0.25, lw=0)


def plot_loss_curves(losses, axes=None):
    """Loss per trial of each method (log-log; median and quartiles over networks)."""
    ax = axes if axes is not None else plt.gca()
    _median_curves(losses, "loss", ax, "loglog")
    ax.set_xlabel("trial")
    ax.set_ylabel("loss (median over networks)" if losses["seed"].nunique() > 1 else "loss")
    ax.set_title("Periodic output: loss per trial")
    ax.legend()
    return ax


def plot_alignment(losses, axes=None):
    """Angle between W_out and the feedback B per trial (90 degrees: unaligned)."""
    ax = axes if axes is not None else plt.gca()
    _median_curves(losses, "alignment_deg", ax, "semilogx")
    ax.axhline(90, color="grey", ls=":", lw=0.8)
    ax.set_xlabel("trial")
    ax.set_ylabel("angle W_out vs B (deg)")
    ax.set_title("Feedback alignment")
    ax.legend()
    return ax


def plot_output(out, method, axes=None):
    """Output of the last trial against the target."""
    ax = axes if axes is not None else plt.gca()
    ax.plot(out["t"], out["y_target"][0], "k--", lw=1.0, label="target")
    ax.plot(out["t"], out["y"][0], lw=1.2, label=method.upper())
    ax.set_xlabel("time step")
    ax.set_title(f"{method.upper()}: output after training")
    ax.legend(fontsize=8)
    return ax


def _figures(run_dir, losses, outputs):
    written = []
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    plot_loss_curves(losses, axes=axes[0])
    plot_alignment(losses, axes=axes[1])
    written.append(save_figure(fig, run_dir, "learning_curves.png"))
    fig, axes = plt.subplots(len(outputs), 1, figsize=(7, 2.4 * len(outputs)), squeeze=False)
    for ax, (method, out) in zip(axes[:, 0], outputs.items()):
        plot_output(out, method, axes=ax)
    written.append(save_figure(fig, run_dir, "output_vs_target.png"))
    return written


def plot_run(run, out_dir):
    """Redraw the figures of a finished run from its tables (``brian2learn plot RUN_DIR``); return their names."""
    outputs = {method: {"t": frame["step"].to_numpy(), "y": frame["y"].to_numpy()[None],
                        "y_target": frame["y_target"].to_numpy()[None]}
               for method, frame in run.tables["outputs_last_trial"].groupby("method", sort=False)}
    figures = _figures(out_dir, run.tables["losses"], outputs)
    if "period_sweep" in run.tables:
        fig, ax = plt.subplots(figsize=(5.5, 4))
        plot_period_sweep(run.tables["period_sweep"], axes=ax)
        figures.append(save_figure(fig, out_dir, "period_sweep.png"))
    return figures


def period_sweep(periods, n_trials, seed, device="cpp_standalone", run_dir=None, with_bptt=True,
                 network=None, progress=True, realizations=1, bptt_clip_norm=SWEEP_BPTT_CLIP_NORM,
                 on_point=None, augmented_periods=(), segment_tau=None):
    """Loss after training against the target period (Murray 2019, Fig. 2b).

    For every period ``P`` (units of ``tau``; ``P tau`` steps, one period per trial) and every realization
    ``r`` the network of ``network`` (default :data:`SWEEP_NETWORK`) starts from
    ``rflo.initial_weights(config, seed + r)`` and is trained for ``n_trials`` trials with RFLO (Brian2, one
    build per period for all realizations) and BPTT (JAX, if ``with_bptt``; gradient norm clipped at
    ``bptt_clip_norm``, None: not clipped); ``untrained`` is the loss of the first trial, before any update.
    ``on_point``, if given, is called as ``on_point(table, curves)`` with the rows of every finished (period,
    realization) after each one (the study writes them to disk at once). At the periods of ``augmented_periods``
    (a subset of ``periods``) RFLO also trains the augmented circuit of the same network
    (:func:`brian2learn.plasticity.rflo.augmented_circuit`, ``segment_count(period, segment_tau)`` context
    units; method :data:`AUGMENTED_METHOD`, its own build).

    Returns
    -------
    (DataFrame, DataFrame)
        The table (period_tau, period_steps, method, seed, final_loss: mean of the last 5 % of trials,
        last_loss, min_loss, trials, wall_seconds, segments: context units, 0 without), one row per
        realization, and the curves (period_tau, method, seed, trial, loss). :func:`sweep_medians` summarises
        the table over realizations. An RFLO network whose loss turns non-finite has loss ``inf`` from the run
        where it diverged (it enters the median as the worst network).
    """
    if isinstance(realizations, bool) or not isinstance(realizations, (int, np.integer)) or realizations < 1:
        raise ValueError(f"'realizations' must be a positive integer, got {realizations!r}")
    network = dict(SWEEP_NETWORK if network is None else network)
    unknown = [p for p in augmented_periods if p not in periods]
    if unknown:
        raise ValueError(f"'augmented_periods' must be among 'periods' {tuple(periods)}, got {unknown}")
    rows, curves = [], []
    tail = max(1, n_trials // 20)
    def add(period, steps, method, seed_r, loss, wall):
        rows.append({"period_tau": float(period), "period_steps": steps, "method": method, "seed": seed_r,
                     "final_loss": float(np.mean(loss[-tail:])), "last_loss": float(loss[-1]),
                     "min_loss": float(np.min(loss)), "trials": len(loss) if method != "untrained" else 0,
                     "wall_seconds": wall,
                     "segments": segment_count(period, segment_tau) if method == AUGMENTED_METHOD else 0})
        if method != "untrained":
            curves.append(pd.DataFrame({"period_tau": float(period), "method": method, "seed": seed_r,
                                        "trial": np.arange(len(loss)), "loss": loss}))

    def finished():
        if on_point is not None:
            on_point(pd.DataFrame(rows), pd.concat(curves, ignore_index=True))

    seeds = range(seed, seed + realizations)
    for period in periods:
        steps = int(round(period * network["tau"]))
        config = rflo.RfloConfig(**{**network, "n_points": steps})
        task = periodic_target_task(n_points=steps, period=float(steps), n_in=config.n_in, n_out=config.n_out)
        directory = (os.path.join(run_dir, f"build_sweep_{steps}") if device == "cpp_standalone" and run_dir
                     else None)
        labels = {seed_r: f"sweep {period:g} tau" + (f" seed {seed_r}" if realizations > 1 else "") for seed_r in seeds}
        runner = None
        try:
            for seed_r in seeds:
                weights = rflo.initial_weights(config, seed_r, g=GAIN)
                start = time.perf_counter()
                trainer = RfloTrainer(config, weights, task, device=device, trials_per_run=min(n_trials, 2500),
                                      directory=directory, runner=runner, record_output=False)
                runner = trainer.runner
                rflo_loss = _train_or_inf(trainer, n_trials, f"{labels[seed_r]} rflo", progress)
                add(period, steps, "rflo", seed_r, rflo_loss, time.perf_counter() - start)
                if with_bptt:
                    trained = rflo.train_bptt(weights, task, config, n_trials, clip_norm=bptt_clip_norm)
                    loss = trained["history"]["loss"].to_numpy()
                    add(period, steps, "bptt", seed_r, loss, trained["wall_seconds"])
                    if progress:
                        print(f"[{NAME} {labels[seed_r]} bptt] trial {n_trials}/{n_trials}  loss {loss[-1]:.4g}  "
                              f"({trained['wall_seconds']:.1f} s)", file=sys.stderr, flush=True)
                untrained = (float(rflo_loss[0]) if np.isfinite(rflo_loss[0])
                             else untrained_loss(weights, task, config.tau))
                add(period, steps, "untrained", seed_r, np.array([untrained]), 0.0)
                finished()
        finally:
            if runner is not None:
                runner.close()
        if period not in augmented_periods:
            continue
        # Its own build, after the plain network's is closed: Brian2's standalone device holds one project per
        # process.
        runner = None
        try:
            for seed_r in seeds:
                start = time.perf_counter()
                augmented_config, augmented_weights = rflo.augmented_circuit(
                    config, rflo.initial_weights(config, seed_r, g=GAIN), segment_count(period, segment_tau), seed_r)
                contexts = {**task, "inputs": segment_contexts(steps, augmented_config.n_in)}
                trainer = RfloTrainer(augmented_config, augmented_weights, contexts, device=device,
                                      trials_per_run=min(n_trials, 2500), runner=runner, record_output=False,
                                      directory=directory and f"{directory}_augmented")
                runner = trainer.runner
                loss = _train_or_inf(trainer, n_trials, f"{labels[seed_r]} {AUGMENTED_METHOD}", progress)
                add(period, steps, AUGMENTED_METHOD, seed_r, loss, time.perf_counter() - start)
                finished()
        finally:
            if runner is not None:
                runner.close()
    return pd.DataFrame(rows), pd.concat(curves, ignore_index=True)


def _train_or_inf(trainer, n_trials, label, progress):
    """Losses of ``n_trials`` trials of training; a network that diverges counts as infinitely bad from the run
    where it diverged, and the sweep goes on."""
    reporter = ProgressReporter(f"{NAME} {label}", unit="trial") if progress else None
    try:
        return trainer.train(n_trials, progress=reporter)["loss"].to_numpy()
    except RuntimeError as error:
        print(f"[{NAME} {label}] {error}", file=sys.stderr, flush=True)
        done = pd.DataFrame(trainer.history)["loss"].to_numpy() if trainer.history else np.zeros(0)
        return np.concatenate([done, np.full(n_trials - len(done), np.inf)])


def sweep_medians(sweep):
    """Median and quartiles of ``final_loss`` over realizations, per period and method (Murray's Fig. 2b)."""
    grouped = sweep.groupby(["period_tau", "method"], sort=True)["final_loss"]
    out = pd.DataFrame({"final_loss": grouped.median(), "q25": grouped.quantile(0.25),
                        "q75": grouped.quantile(0.75), "realizations": grouped.size()})
    return out.reset_index()


def untrained_loss(weights, task, tau):
    """Loss of one trial of a network with ``weights`` (numpy forward pass, Murray's convention y(0) = 0)."""
    out = leaky_tanh_forward(weights["w_rec"], weights["w_in"], weights["w_out"], weights["h0"], task["inputs"][1:],
                             tau)
    return 0.5 * float(np.sum((task["targets"] - out["y"]) ** 2)) / len(task["targets"])


def plot_period_sweep(sweep, axes=None):
    """Final loss against the target period (units of tau) for each method (Murray 2019, Fig. 2b): the median
    over realizations, with the quartiles shaded when there are several."""
    if axes is None:
        axes = plt.gca()
    styles = {"rflo": ("tab:blue", "o-"), "bptt": ("tab:orange", "s-"), "untrained": ("grey", "^--"),
              AUGMENTED_METHOD: ("tab:green", "D-")}
    labels = {"untrained": "untrained", AUGMENTED_METHOD: "RFLO, augmented circuit"}
    medians = sweep_medians(sweep)
    for method in (*SWEEP_METHODS, AUGMENTED_METHOD):
        rows = medians[medians["method"] == method].sort_values("period_tau")
        if len(rows):
            color, style = styles[method]
            axes.semilogy(rows["period_tau"], rows["final_loss"], style, color=color, ms=4,
                          label=labels.get(method, method.upper()))
            if rows["realizations"].max() > 1:
                axes.fill_between(rows["period_tau"], rows["q25"], rows["q75"], color=color, alpha=0.2, lw=0)
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
