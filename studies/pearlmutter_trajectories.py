"""Limit cycles learned by continuous-time BPTT (Pearlmutter 1989): a circle and a figure eight.

Pearlmutter, "Learning state space trajectories in recurrent neural networks", Neural Computation 1:263
(1989), doi:10.1162/neco.1989.1.2.263.

Methods
-------
*Network* (:mod:`brian2learn.plasticity.ctbptt`): continuous-time logistic units
:math:`T_i\\, dy_i/dt = -y_i + \\sigma(\\sum_j W_{ij} y_j + b_i)`, no input; the first two units are the
outputs, the others hidden; explicit Euler with ``dt = 2**-4`` s (:data:`PROTOCOL` holds every number).
Initial state: the outputs on the target's first point, hidden units uniform in [0.2, 0.8];
:math:`W_{ij} \\sim N(0, 1/n)`, :math:`b = 0`, :math:`T_i = 1` s (seeded).

*Task* (:mod:`brian2learn.tasks.trajectories`): the outputs follow a circle or a figure eight (radius
0.3 around (0.5, 0.5), period 4 s) over a training window of three periods; the error is
:math:`E = \\int \\tfrac12 \\|y_{out} - d\\|^2 dt` over the whole window.

*Training*: the gradient of :math:`E` by the discrete adjoint, run as a second Brian2 network over reversed
time (:class:`~brian2learn.training.ctbptt.CtbpttTrainer`); Adam on ``W``, ``b`` and, where the case
learns them, :math:`\\log T_i`, clamped at :math:`T_i \\ge 4\\,dt` after every update. Side by side, from the
same initial network: discrete BPTT of the same model in JAX (``jit`` and ``lax.scan``; the same updates,
so the same final network to rounding) and RFLO (:mod:`brian2learn.plasticity.rflo`), which needs a readout
(its learning signal is the readout error sent back through random feedback): RFLO gets Murray's
architecture, N = 50 leaky tanh units with time constant 1 s (16 steps of ``dt``), a linear readout of two
outputs, W_rec ~ 1.5 N(0, 1/N), learning rates 0.03 (W_rec, W_out), the same number of trials.

*Cases*: circle with two units (time constants learned, and fixed at 1 s); figure eight with two units (it
cannot be traced: an autonomous two-dimensional flow cannot cross its own path) and with
:data:`HIDDEN_UNITS` hidden units (time constants learned, and fixed).

*Free running*: after training, each network runs on from its initial state for the window and
``free_periods`` further periods (Brian2, runtime device, for the CT-BPTT networks; the numpy forward of the
same equations for the JAX network; the numpy forward of the leaky tanh network for RFLO); the last
``free_periods - 1`` periods (a period after the window, to let a transient pass) are compared with the
target *curve*: RMS distance of the produced points to the curve and of the curve to the produced points
(coverage), and the period from the upward crossings of the first output through its mean. A network
*stays on the trajectory* when both distances are below :data:`ON_TRAJECTORY_FRACTION` (10 %) of the radius
and the period is within 5 % of the target's: 0.03 is a tenth of the circle's radius and a fifth of the
eight's half-height, a deviation one sees in the figure, well above what the training error reaches.

*Robustness*: one initial network proves little, so every case is also trained from ``robustness_seeds``
initial networks (seeds ``seed ..``) by the JAX trainer, whose updates are those of the Brian2 trainer (the
main run shows both ending at the same network), and the networks that stay on the trajectory are counted.

Pearlmutter's own sizes, periods and learning settings could not be read from the sources reachable here
(neither the paper nor its Carnegie Mellon technical report is in the stored texts): every number above is our
choice, not the paper's.
"""

import dataclasses
import os
import sys
import time

import brian2 as b2
import matplotlib
import numpy as np
import pandas as pd

from brian2learn.analysis import energy
from brian2learn.analysis.tables import write_table
from brian2learn.analysis.trajectories import curve_distances, period_from_crossings
from brian2learn.models.rate_units import leaky_tanh_forward
from brian2learn.plasticity import ctbptt, rflo
from brian2learn.plasticity.optimizers import OptimizerSpec
from brian2learn.simulation.devices import DeviceRunner
from brian2learn.studies.common import jax_available, save_figure, save_network, write_summary
from brian2learn.studies.options import StudyOptions, option
from brian2learn.studies.run_directory import in_run_directory
from brian2learn.tasks.trajectories import PEARLMUTTER_TRAJECTORY, curve_samples, trajectory_task
from brian2learn.training.ctbptt import CtbpttTrainer
from brian2learn.training.progress import ProgressReporter
from brian2learn.training.rflo import RfloTrainer

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

NAME = "pearlmutter-trajectories"
DESCRIPTION = "continuous-time BPTT (Brian2 adjoint) teaches limit cycles: circle and figure eight (Pearlmutter 1989)"

DEVICES = ("cpp_standalone", "runtime")
#: Hidden units of the figure-eight network with hidden units.
HIDDEN_UNITS = 10
#: Task, grid and learning (our choices; see the module docstring).
PROTOCOL = {**PEARLMUTTER_TRAJECTORY, "tau_init_s": 1.0, "learning_rate": 0.02, "settle_periods": 1}
#: case -> (trajectory, hidden units, time constants learned)
CASES = {
    "circle": ("circle", 0, True),
    "circle-fixed-tau": ("circle", 0, False),
    "eight-no-hidden": ("eight", 0, True),
    "eight-hidden": ("eight", HIDDEN_UNITS, True),
    "eight-hidden-fixed-tau": ("eight", HIDDEN_UNITS, False),
}
#: RFLO's network (Murray 2019's architecture and learning rates); tau in steps of dt (1 s).
RFLO_NETWORK = {"n_rec": 50, "gain": 1.5, "tau_steps": 16.0, "learning_rate": 0.03}
ON_TRAJECTORY_FRACTION = 0.1
PERIOD_TOLERANCE = 0.05
MODES = {"full": {"iterations": 3000}, "quick": {"iterations": 100}}
METHODS = ("ctbptt", "jax-bptt", "rflo")


@dataclasses.dataclass
class Options(StudyOptions):
    """Options of the Pearlmutter trajectories study (``brian2learn run pearlmutter-trajectories --help``)."""

    quick: bool = option(False, help=f"{MODES['quick']['iterations']} iterations instead of "
                                     f"{MODES['full']['iterations']}")
    seed: int = option(1, minimum=0, help="seed of the initial networks (default 1)")
    device: str = option("cpp_standalone", choices=DEVICES, help="Brian2 device of the training")
    iterations: int | None = option(None, minimum=1, metavar="N", help="override the number of iterations")
    cases: tuple[str, ...] = option(tuple(CASES), choices=tuple(CASES), metavar="CASE",
                                    help=f"cases to run (default all: {', '.join(CASES)})")
    free_periods: int = option(6, minimum=5, metavar="K",
                               help="periods of free running after the window (>= 5; the first is not scored)")
    no_jax: bool = option(False, help="skip discrete BPTT in JAX")
    robustness_seeds: int = option(10, minimum=0, metavar="K",
                                   help="also train every case from K initial networks (seeds --seed ...) by JAX's "
                                        "identical updates and count those that stay on the trajectory (0: skip)")
    no_rflo: bool = option(False, help="skip RFLO")


# -- protocol -------------------------------------------------------------------------------------------------
def case_setup(case, seed):
    """Config, task and initial parameters of ``case`` (seeded)."""
    shape, hidden, _ = CASES[case]
    p = PROTOCOL
    task = trajectory_task(shape, p["period_s"], p["window_periods"], p["dt_s"], p["radius"], p["centre"])
    n = 2 + hidden
    config = ctbptt.CtrnnConfig(n_units=n, n_out=2, n_steps=task["n_steps"], dt=p["dt_s"] * b2.second)
    return config, task, ctbptt.initial_parameters(config, task["targets"][0], seed, p["tau_init_s"])


def free_run_steps(task, free_periods):
    return task["n_steps"] + free_periods * task["steps_per_period"]


def free_run_brian2(config, params, task, free_periods):
    """The trained network run in Brian2 (runtime device) over the window and ``free_periods`` more periods."""
    steps = free_run_steps(task, free_periods)
    runner = DeviceRunner(lambda: ctbptt.CtrnnForward(config, n_steps=steps, name="free_run"), device="runtime")
    with runner:
        model = runner.run(ctbptt.forward_values(config, ctbptt.check_parameters(config, params)))
        return np.asarray(model.monitor.y, dtype=float).T[:, :2].copy()


def score_free_run(outputs, task, shape, free_periods):
    """Distances to the target curve and period over the scored part of the free run (module docstring)."""
    p = PROTOCOL
    start = task["n_steps"] + p["settle_periods"] * task["steps_per_period"]
    scored = outputs[start:]
    curve = curve_samples(shape, p["period_s"], 4000, p["radius"], p["centre"])
    distances = curve_distances(scored, curve) if np.all(np.isfinite(scored)) else \
        {"to_curve": float("inf"), "coverage": float("inf"), "max_to_curve": float("inf")}
    period = period_from_crossings(scored[:, 0], p["dt_s"]) if np.all(np.isfinite(scored)) else float("nan")
    period_error = abs(period - p["period_s"]) / p["period_s"] if np.isfinite(period) else float("nan")
    threshold = ON_TRAJECTORY_FRACTION * p["radius"]
    on = bool(distances["to_curve"] < threshold and distances["coverage"] < threshold
              and np.isfinite(period_error) and period_error < PERIOD_TOLERANCE)
    return {**distances, "period_s": period, "period_error": period_error, "threshold": threshold,
            "scored_periods": free_periods - p["settle_periods"], "on_trajectory": on}


def train_ctbptt(case, config, task, params, n_iterations, options, run_dir):
    _, _, learn_tau = CASES[case]
    optimizer = OptimizerSpec("adam", learning_rate=PROTOCOL["learning_rate"])
    directory = os.path.join(run_dir, "build") if options.device == "cpp_standalone" else None
    trainer = CtbpttTrainer(config, params, task, learn_tau=learn_tau, optimizer=optimizer, device=options.device,
                            directory=directory, iterations_per_chunk=max(1, min(250, n_iterations // 10)))
    with trainer:
        history = trainer.train(n_iterations, progress=ProgressReporter(f"{NAME} {case} ctbptt"), run_dir=run_dir)
        runner = trainer.gradients.runner
        timing = {"wall_seconds": trainer.train_seconds, "compile_seconds": runner.compile_seconds,
                  "ms_per_iteration": 1e3 * float(history["seconds"].mean()), "binary_runs": runner.n_runs}
        return history, trainer.params, timing


def train_jax_bptt(config, task, params, n_iterations, learn_tau):
    optimizer = OptimizerSpec("adam", learning_rate=PROTOCOL["learning_rate"])
    result = ctbptt.train_jax(config, params, task, n_iterations, optimizer, learn_tau=learn_tau)
    losses = result["losses"]
    rms = np.sqrt(2 * losses / (PROTOCOL["dt_s"] * config.n_points * config.n_out))
    history = pd.DataFrame({"iteration": np.arange(n_iterations), "loss": losses, "rms_error": rms})
    return history, result["params"], {"wall_seconds": result["wall_seconds"],
                                       "ms_per_iteration": 1e3 * result["wall_seconds"] / n_iterations}


def train_rflo(task, n_trials, seed, device, run_dir):
    net = RFLO_NETWORK
    config = rflo.RfloConfig(n_in=1, n_rec=net["n_rec"], n_out=2, n_points=task["n_steps"] + 1,
                             tau=net["tau_steps"], learning_rates=(0.0, net["learning_rate"], net["learning_rate"]))
    weights = rflo.initial_weights(config, seed, g=net["gain"])
    rflo_task = {"inputs": np.zeros((config.n_points, 1)), "targets": task["targets"]}
    directory = os.path.join(run_dir, "build_rflo") if device == "cpp_standalone" else None
    start = time.perf_counter()
    with RfloTrainer(config, weights, rflo_task, device=device, trials_per_run=min(1000, n_trials),
                     directory=directory) as trainer:
        history = trainer.train(n_trials, progress=ProgressReporter(f"{NAME} rflo", unit="trial"))
        trained = trainer.weights
    wall = time.perf_counter() - start
    history = pd.DataFrame({"iteration": history["trial"], "loss": history["loss"],
                            "rms_error": np.sqrt(2 * history["loss"] / config.n_out)})
    return history, trained, config, {"wall_seconds": wall, "ms_per_iteration": 1e3 * wall / n_trials}


def free_run_rflo(weights, config, task, free_periods):
    steps = free_run_steps(task, free_periods)
    out = leaky_tanh_forward(weights["w_rec"], weights["w_in"], weights["w_out"], weights["h0"],
                             np.zeros((steps, 1)), config.tau)
    return np.asarray(out["y"], dtype=float)  # y[0] = 0 (Murray's convention), then steps 1 .. steps


def robustness(case, seeds, n_iterations, free_periods):
    """Train ``case`` from each seed's initial network by JAX (the updates of the Brian2 trainer) and score it.

    One row per seed: the final RMS error in the window and the free-running measures.
    """
    shape, _, learn_tau = CASES[case]
    rows = []
    for seed in seeds:
        config, task, params = case_setup(case, seed)
        history, final, _ = train_jax_bptt(config, task, params, n_iterations, learn_tau)
        _, outputs = ctbptt.numpy_forward(config, final, task, free_run_steps(task, free_periods))
        score = score_free_run(outputs[:, :2], task, shape, free_periods)
        rows.append({"case": case, "seed": seed, "final_rms_error": float(history["rms_error"].iloc[-1]),
                     **{key: score[key] for key in ("to_curve", "coverage", "period_s", "on_trajectory")}})
    return pd.DataFrame(rows)


# -- the run --------------------------------------------------------------------------------------------------
@in_run_directory(NAME)
def run(options, run_dir):
    """Train every case, run each network freely, write summary.json, Parquet tables and figures."""
    mode = "quick" if options.quick else "full"
    n_iterations = options.iterations or MODES[mode]["iterations"]
    with_jax = not options.no_jax and jax_available()
    print(f"{NAME}: {mode} mode, {n_iterations} iterations, seed {options.seed}, cases {', '.join(options.cases)}, "
          f"run directory {run_dir}", flush=True)
    histories, free_rows, tau_rows, results, networks = [], [], [], {}, []
    rflo_done = {}
    for case in options.cases:
        shape, hidden, learn_tau = CASES[case]
        config, task, params = case_setup(case, options.seed)
        entry = {"trajectory": shape, "units": config.n_units, "hidden_units": hidden, "learn_tau": learn_tau}
        trained = {}
        history, final, timing = train_ctbptt(case, config, task, params, n_iterations, options, run_dir)
        trained["ctbptt"] = (history, final, timing, free_run_brian2(config, final, task, options.free_periods))
        networks.append(save_network(run_dir, case, final, NAME, options, dataclasses.asdict(config),
                                     seed=options.seed, case=case))
        tau_rows.append(pd.DataFrame({"case": case, "unit": np.arange(config.n_units), "tau_s": final["tau"],
                                      "output": np.arange(config.n_units) < 2, "learned": learn_tau}))
        if with_jax:
            history_j, final_j, timing_j = train_jax_bptt(config, task, params, n_iterations, learn_tau)
            _, outputs_j = ctbptt.numpy_forward(config, final_j, task, free_run_steps(task, options.free_periods))
            trained["jax-bptt"] = (history_j, final_j, timing_j, outputs_j[:, :2])
            timing_j["max_weight_difference_to_ctbptt"] = float(np.max(np.abs(final_j["w"] - final["w"])))
        # RFLO's network depends on the trajectory only: train it once per trajectory
        if not options.no_rflo and shape not in rflo_done:
            history_r, weights_r, config_r, timing_r = train_rflo(task, n_iterations, options.seed, options.device,
                                                                   run_dir)
            rflo_done[shape] = (history_r, weights_r, timing_r,
                                free_run_rflo(weights_r, config_r, task, options.free_periods))
        if shape in rflo_done and case in (shape, "eight-hidden"):
            trained["rflo"] = rflo_done[shape]
        entry["methods"] = {}
        for method, (hist, _, timing, outputs) in trained.items():
            histories.append(hist.assign(case=case, method=method))
            t = np.arange(len(outputs)) * PROTOCOL["dt_s"]
            free_rows.append(pd.DataFrame({"case": case, "method": method, "step": np.arange(len(outputs)),
                                           "t_s": t, "y0": outputs[:, 0], "y1": outputs[:, 1],
                                           "free": np.arange(len(outputs)) > task["n_steps"]}))
            score = score_free_run(outputs, task, shape, options.free_periods)
            entry["methods"][method] = {"final_rms_error": float(hist["rms_error"].iloc[-1]),
                                        "initial_rms_error": float(hist["rms_error"].iloc[0]),
                                        "iterations": int(len(hist)), **timing, "free_running": score}
        results[case] = entry
        _write_tables(run_dir, histories, free_rows, tau_rows)  # what finished is on disk at once
        _print_case(case, entry)
    frames = _write_tables(run_dir, histories, free_rows, tau_rows)
    figures = _figures(run_dir, *frames, options.cases)
    robust = None
    if with_jax and options.robustness_seeds:
        seeds = list(range(options.seed, options.seed + options.robustness_seeds))
        table = pd.concat([robustness(case, seeds, n_iterations, options.free_periods) for case in options.cases],
                          ignore_index=True)
        write_table(table, os.path.join(run_dir, "robustness.parquet"))
        robust = {"seeds": seeds, "trainer": "jax-bptt (the same updates as ctbptt)",
                  "on_trajectory": {case: int(rows["on_trajectory"].sum()) for case, rows in table.groupby("case")},
                  "median_final_rms_error": {case: float(rows["final_rms_error"].median())
                                             for case, rows in table.groupby("case")}}
        print(f"robustness over seeds {seeds[0]}..{seeds[-1]} (JAX): on the trajectory "
              + ", ".join(f"{case} {n}/{len(seeds)}" for case, n in robust["on_trajectory"].items()), flush=True)
    claims = _claims(results)
    summary = {
        "study": NAME, "status": "completed", "mode": mode, "seed": options.seed, "device": options.device,
        "iterations": n_iterations, "protocol": PROTOCOL, "rflo_network": RFLO_NETWORK,
        "on_trajectory_threshold": {"fraction_of_radius": ON_TRAJECTORY_FRACTION,
                                    "distance": ON_TRAJECTORY_FRACTION * PROTOCOL["radius"],
                                    "period_tolerance": PERIOD_TOLERANCE},
        "cases": results, "claims": claims, "robustness": robust,
        "jax_skipped": None if with_jax else "--no-jax or JAX not installed",
        "figures": figures, "networks": networks, "options": options.as_dict(),
        "energy": energy.not_spiking("continuous-time logistic rate units (Pearlmutter 1989)"),
        "notes": ("rms_error: root mean square of y - d over the two outputs and the window, before each update; "
                  "free_running: distances of the scored free-running points to the target curve (to_curve) and of "
                  "the curve to them (coverage), the period from upward crossings of output 0; rflo is Murray's "
                  "leaky tanh network with a readout, trained once per trajectory (shown with the circle and with "
                  "the figure eight with hidden units)."),
    }
    write_summary(run_dir, summary, options)
    print(f"summary: {os.path.join(run_dir, 'summary.json')}", flush=True)
    return summary


def _claims(results):
    """Pearlmutter's points as checks of this run (None where a case did not run)."""
    def on(case, method="ctbptt"):
        entry = results.get(case, {}).get("methods", {}).get(method)
        return None if entry is None else entry["free_running"]["on_trajectory"]
    return {"circle_traced_by_two_units": on("circle"),
            "eight_not_traced_without_hidden_units": None if on("eight-no-hidden") is None
            else not on("eight-no-hidden"),
            "eight_traced_with_hidden_units": on("eight-hidden")}


def _write_tables(run_dir, histories, free_rows, tau_rows):
    history = pd.concat(histories, ignore_index=True)
    free = pd.concat(free_rows, ignore_index=True)
    taus = pd.concat(tau_rows, ignore_index=True)
    write_table(history, os.path.join(run_dir, "learning_curves.parquet"))
    write_table(free, os.path.join(run_dir, "free_running.parquet"))
    write_table(taus, os.path.join(run_dir, "time_constants.parquet"))
    return history, free, taus


def _print_case(case, entry):
    print(f"{case} ({entry['units']} units, time constants {'learned' if entry['learn_tau'] else 'fixed'}):",
          file=sys.stderr)
    for method, r in entry["methods"].items():
        f = r["free_running"]
        print(f"  {method:>8}: rms error {r['initial_rms_error']:.4f} -> {r['final_rms_error']:.4f} in "
              f"{r['iterations']} iterations, {r['wall_seconds']:.1f} s ({r['ms_per_iteration']:.1f} ms/iteration); "
              f"free running: to curve {f['to_curve']:.4f}, coverage {f['coverage']:.4f}, period "
              f"{f['period_s']:.3f} s -> {'on' if f['on_trajectory'] else 'OFF'} the trajectory", file=sys.stderr,
              flush=True)


# -- figures --------------------------------------------------------------------------------------------------
def plot_trajectory(free, case, method="ctbptt", axes=None):
    """Target curve, the produced outputs in the training window and in free running, in the plane."""
    if axes is None:
        _, axes = plt.subplots(figsize=(3.2, 3.2))
    rows = free[(free["case"] == case) & (free["method"] == method)]
    shape = CASES[case][0]
    curve = curve_samples(shape, PROTOCOL["period_s"], 400, PROTOCOL["radius"], PROTOCOL["centre"])
    axes.plot(*np.vstack([curve, curve[:1]]).T, color="0.75", lw=4, label="target")
    window = rows[~rows["free"]]
    running = rows[rows["free"]]
    axes.plot(window["y0"], window["y1"], color="C0", lw=1, label="training window")
    axes.plot(running["y0"], running["y1"], color="C1", lw=1, ls="--", label="free running")
    axes.set_title(f"{case} ({method})", fontsize=9)
    axes.set_xlabel("output 0")
    axes.set_ylabel("output 1")
    axes.set_aspect("equal", adjustable="datalim")
    return axes


def plot_learning_curves(history, axes=None):
    """RMS error against iteration, one line per case and method."""
    if axes is None:
        _, axes = plt.subplots(figsize=(6, 4))
    styles = {"ctbptt": "-", "jax-bptt": ":", "rflo": "--"}
    for k, case in enumerate(history["case"].unique()):
        for method, rows in history[history["case"] == case].groupby("method"):
            axes.semilogy(rows["iteration"], rows["rms_error"], styles.get(method, "-"), color=f"C{k}", lw=1,
                          label=f"{case} {method}")
    axes.set_xlabel("iteration (trial)")
    axes.set_ylabel("RMS error in the window")
    axes.legend(fontsize=6)
    return axes


def plot_time_constants(taus, axes=None):
    """Time constants after training, per unit (outputs filled, hidden open), one column per case."""
    if axes is None:
        _, axes = plt.subplots(figsize=(6, 3))
    cases = list(taus["case"].unique())
    for k, case in enumerate(cases):
        rows = taus[taus["case"] == case]
        x = np.full(len(rows), k) + np.linspace(-0.2, 0.2, len(rows))
        out = rows["output"].to_numpy()
        axes.scatter(x[out], rows["tau_s"][out], color=f"C{k}", s=18)
        axes.scatter(x[~out], rows["tau_s"][~out], facecolor="none", edgecolor=f"C{k}", s=18)
    axes.axhline(4 * PROTOCOL["dt_s"], color="0.5", ls=":", lw=1, label="clamp 4 dt")
    axes.set_xticks(range(len(cases)), cases, rotation=20, fontsize=7)
    axes.set_ylabel("time constant T (s)")
    axes.legend(fontsize=7)
    return axes


def _figures(run_dir, history, free, taus, cases):
    figures = []
    fig, axes = plt.subplots(1, len(cases), figsize=(3.2 * len(cases), 3.4), squeeze=False)
    for ax, case in zip(axes[0], cases):
        plot_trajectory(free, case, axes=ax)
    axes[0][0].legend(fontsize=6)
    figures.append(save_figure(fig, run_dir, "trajectories.png"))
    methods = [m for m in ("rflo", "jax-bptt") if m in set(free["method"])]
    for method in methods:
        shown = [case for case in cases if ((free["case"] == case) & (free["method"] == method)).any()]
        fig, axes = plt.subplots(1, len(shown), figsize=(3.2 * len(shown), 3.4), squeeze=False)
        for ax, case in zip(axes[0], shown):
            plot_trajectory(free, case, method=method, axes=ax)
        figures.append(save_figure(fig, run_dir, f"trajectories_{method}.png"))
    fig, ax = plt.subplots(figsize=(6.5, 4))
    plot_learning_curves(history, axes=ax)
    figures.append(save_figure(fig, run_dir, "learning_curves.png"))
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    plot_time_constants(taus, axes=ax)
    figures.append(save_figure(fig, run_dir, "time_constants.png"))
    return figures


def plot_run(run, out_dir):
    """Redraw the figures of a finished run from its tables (``brian2learn plot RUN_DIR``); return their names."""
    history, free, taus = (run.tables[name] for name in ("learning_curves", "free_running", "time_constants"))
    cases = [case for case in CASES if case in set(history["case"])]
    return _figures(out_dir, history, free, taus, cases)
