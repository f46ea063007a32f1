"""Pair STDP onto one neuron: bimodal weights and rate regulation (Song, Miller & Abbott 2000).

Song, Miller & Abbott (2000), "Competitive Hebbian learning through spike-timing-dependent synaptic
plasticity", Nat Neurosci 3:919, doi:10.1038/78829. One conductance-based integrate-and-fire neuron
(:mod:`brian2learn.models.conductance_lif`; the network: :mod:`brian2learn.plasticity.song_network`)
receives ``n_exc = 1000`` excitatory Poisson inputs at a common rate ``r_in`` through synapses with
additive all-to-all pair STDP (:mod:`brian2learn.plasticity.stdp`, ``A_+ = 0.005``, ``A_-/A_+ = 1.05``,
``tau = 20 ms``, weights in ``[0, g_max]``) and ``n_inh = 200`` inhibitory Poisson inputs at 10 Hz
through fixed synapses. The paper's two findings are checked:

- the final weight distribution is bimodal: most weights end near 0 or near ``g_max``;
- the output rate is regulated: it changes little while ``r_in`` runs from 10 to 40 Hz, whereas a
  control neuron with the same inputs and the same (initial) weights without plasticity fires much
  faster at higher input rates (Song et al. Fig. 2).

The control neuron runs in the same network (the second neuron; its synapses copy the plastic ones'
initial weights and stay fixed), so both see identical input spikes. Initial weights are uniform in
[0, 1] (units of ``g_max``; a choice, the paper's figures start from weights at or spread below g_max).
One ``cpp_standalone`` build serves every input rate: the rate, the initial weights and the seed are
passed as ``run_args``.

Run as ``python -m brian2learn.studies.stdp_song [--quick] [--seed N] [--rates 10 20 30 40]`` or, from Python,
``stdp_song.run(stdp_song.Options(quick=True, out="runs/song"))``.
"""

import dataclasses
import os
import sys
import time

import brian2 as b2
import matplotlib
import numpy as np
import pandas as pd

from brian2learn.analysis import energy, spikes
from brian2learn.analysis.tables import write_table
from brian2learn.plasticity.song_network import SongModel
from brian2learn.simulation.dask_builds import build_key, reusable_build
from brian2learn.simulation.devices import DeviceRunner
from brian2learn.studies.common import save_figure, save_network, write_summary
from brian2learn.studies.options import StudyOptions, option
from brian2learn.studies.run_directory import in_run_directory
from brian2learn.training.progress import ProgressReporter

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

NAME = "stdp-song"
DESCRIPTION = "pair STDP onto one neuron: bimodal weights and rate regulation (Song, Miller & Abbott 2000)"

DEVICES = ("cpp_standalone", "runtime")
#: Simulated time per input rate, the final window in which the output rate is measured, weight snapshots.
MODES = {
    "full": {"duration": 900.0 * b2.second, "measure": 100.0 * b2.second, "snapshot": 20.0 * b2.second,
             "rates": (10.0, 15.0, 20.0, 30.0, 40.0), "A_plus": 0.005},
    "quick": {"duration": 60.0 * b2.second, "measure": 15.0 * b2.second, "snapshot": 5.0 * b2.second,
              "rates": (10.0, 20.0, 40.0), "A_plus": 0.02},
}
NETWORK = {
    "n_exc": 1000,  # excitatory Poisson inputs (Song et al.)
    "n_inh": 200,  # inhibitory Poisson inputs (Song et al.)
    "rate_inh": 10.0 * b2.Hz,  # rate of the inhibitory inputs
    "dt": 0.1 * b2.ms,  # integration step
}
A_RATIO = 1.05  # A_-/A_+ (Song et al.)
LOW, HIGH = 0.1, 0.9  # weights below LOW or above HIGH (units of g_max) count as "near 0" / "near g_max"
#: Song et al. (2000): with STDP the output rate stays roughly flat for inputs of 10-40 Hz.
REFERENCE = {"input_rates_hz": [10, 40], "bimodal": True, "A_plus": 0.005, "A_ratio": 1.05}


@dataclasses.dataclass
class Options(StudyOptions):
    """Options of the Song et al. (2000) study (``brian2learn run stdp-song --help``).

    Attributes
    ----------
    rates : tuple of float or None
        Excitatory input rates in Hz, at least two in (0, 200] (default: the mode's).
    duration : float or None
        Simulated seconds per input rate (default: the mode's).
    a_plus : float or None
        STDP potentiation amplitude A+ in (0, 1), dimensionless (units of g_max); A- = 1.05 A+.
    device : str
        Brian2 device.
    """

    quick: bool = option(False, help=f"{float(MODES['quick']['duration']):g} s per rate at A+ = "
                                     f"{MODES['quick']['A_plus']} instead of {float(MODES['full']['duration']):g} s "
                                     f"at A+ = {MODES['full']['A_plus']}")
    seed: int = option(1, minimum=0, help="seed of weights and input spikes (default 1)")
    rates: tuple[float, ...] | None = option(None, metavar="HZ",
                                             help="excitatory input rates in Hz (default 10 15 20 30 40; quick "
                                                  "10 20 40)")
    duration: float | None = option(None, metavar="SECONDS", help="simulated seconds per input rate")
    a_plus: float | None = option(None, metavar="A", help="STDP potentiation amplitude A+ (A- = 1.05 A+)")
    device: str = option("cpp_standalone", choices=DEVICES, help="Brian2 device")
    out: str | None = option(None, metavar="DIR", help="run directory (default runs/stdp-song-seedN)")

    def check(self):
        if self.rates is not None and (len(self.rates) < 2 or any(not (0 < r <= 200) for r in self.rates)):
            raise ValueError(f"'--rates' needs at least two rates in (0, 200] Hz, got {list(self.rates)!r}")
        if self.duration is not None and not self.duration > 0:
            raise ValueError(f"'--duration' must be positive, got {self.duration!r}")
        if self.a_plus is not None and not 0 < self.a_plus < 1:
            raise ValueError(f"'--a-plus' must lie in (0, 1), got {self.a_plus!r}")


def weight_statistics(w, low=LOW, high=HIGH):
    """Fractions of weights below ``low``, above ``high`` and between (weights in units of g_max)."""
    w = np.asarray(w, dtype=float)
    frac_low = float(np.mean(w < low))
    frac_high = float(np.mean(w > high))
    return {"frac_low": frac_low, "frac_high": frac_high, "frac_mid": 1.0 - frac_low - frac_high,
            "mean_w": float(np.mean(w))}


def _run_rates(runner, rates, seed, w0, duration, measure, tables, progress=None, on_rate=None):
    """One run of the built model per input rate, all from the weights ``w0``; appends to ``tables``.

    ``tables`` is ``(rows, weight_rows, history_rows, per_rate, spike_frames)``; ``spike_frames`` gets, per input
    rate (key ``f"{rate:g}"``), the spike frame of the two output neurons (0: STDP, 1: static control).
    ``progress`` is called as ``progress(done, total, metrics)`` after every rate, then ``on_rate()`` (no
    arguments; ``tables`` hold the finished rates).
    """
    rows, weight_rows, history_rows, per_rate, spike_frames = tables
    for k, rate in enumerate(rates):
        model = runner.run({"seed": seed * 1000 + k, "rate": np.full(NETWORK["n_exc"], rate) * b2.Hz,
                            "w_plastic": w0, "w_static": w0})
        t_spk = np.asarray(model.spikes.t / b2.second)
        i_spk = np.asarray(model.spikes.i[:])
        t_end = float(duration / b2.second)
        window = t_spk >= t_end - float(measure / b2.second)
        out_rate = [float(np.sum(window & (i_spk == n)) / float(measure / b2.second)) for n in (0, 1)]
        w_final = np.asarray(model.plastic.w[:])
        snap_t = np.asarray(model.weights.t / b2.second)
        snaps = np.asarray(model.weights.w)  # (n_syn, n_snapshots)
        stats = weight_statistics(w_final)
        per_rate[f"{rate:g}"] = {"input_rate_hz": rate, "output_rate_stdp_hz": out_rate[0],
                                 "output_rate_static_hz": out_rate[1], **stats}
        rows.append({"input_rate_hz": rate, "output_rate_stdp_hz": out_rate[0],
                     "output_rate_static_hz": out_rate[1], **stats})
        weight_rows.append(pd.DataFrame({"input_rate_hz": rate, "synapse": np.arange(len(w_final)),
                                         "w_initial": w0, "w_final": w_final}))
        for s, t in enumerate(snap_t):
            history_rows.append({"input_rate_hz": rate, "t_s": t, **weight_statistics(snaps[:, s])})
        spike_frames[f"{rate:g}"] = spikes.spikes_to_dataframe(i_spk, t_spk, group="post")
        if progress is not None:
            progress(k + 1, len(rates), {"input_rate_hz": rate, "output_rate_stdp_hz": out_rate[0],
                                         "output_rate_static_hz": out_rate[1], **stats})
        if on_rate is not None:
            on_rate()


def output_energy(spike_frames, duration):
    """``energy`` of the summary: per input rate, the spikes of the two output neurons over the whole run.

    The outputs project nowhere in the model (out-degree 0), so their synaptic operations are 0; the input
    spikes are not recorded. ``duration`` is a Brian2 time (one run).
    """
    n_steps = int(round(float(duration / NETWORK["dt"])))
    return {"counts": "spikes of the two output neurons (STDP and static control; out-degree 0) over the whole "
                      "run of each input rate",
            **{rate: energy.energy_summary(frame, np.zeros(2, dtype=np.int64), NETWORK["dt"], n_neurons=2,
                                           n_steps=n_steps)
               for rate, frame in spike_frames.items()}}


@in_run_directory(NAME)
def run(options, run_dir):
    """Run every input rate from the same initial weights; write summary.json, Parquet tables, a figure.

    ``options`` is an :class:`Options` (``run(Options(quick=True))``). In the summary, ``compile_seconds`` is the
    build and ``run_seconds`` the binary's runs; ``energy`` is :func:`output_energy`.
    """
    mode = "quick" if options.quick else "full"
    cfg = MODES[mode]
    duration = options.duration * b2.second if options.duration else cfg["duration"]
    measure = min(cfg["measure"], duration / 2)
    rates = tuple(options.rates) if options.rates else cfg["rates"]
    a_plus = options.a_plus or cfg["A_plus"]
    print(f"{NAME}: {mode} mode, rates {', '.join(f'{r:g}' for r in rates)} Hz, {float(duration):g} s each, "
          f"A+ = {a_plus:g}, seed {options.seed}, device {options.device}, run directory {run_dir}", flush=True)
    stdp_params = {"A_plus": a_plus, "A_minus": A_RATIO * a_plus}

    def build():
        return SongModel(duration, cfg["snapshot"], stdp_params=stdp_params, **NETWORK)

    rng = np.random.default_rng(options.seed)
    w0 = rng.uniform(0.0, 1.0, NETWORK["n_exc"])
    directory = os.path.join(run_dir, "build") if options.device == "cpp_standalone" else None
    # Structure of the build: duration, snapshots, STDP amplitudes (constants of the code), device. The seed
    # and the input rates are run arguments, so a sweep over them compiles once per worker.
    key = build_key(NAME, float(duration / b2.second), float(cfg["snapshot"] / b2.second),
                    sorted(stdp_params.items()), options.device)
    rows, weight_rows, history_rows, per_rate, spike_frames = [], [], [], {}, {}
    progress = ProgressReporter(NAME, unit="rate", fields=("input_rate_hz", "output_rate_stdp_hz",
                                                           "output_rate_static_hz", "frac_low", "frac_high"))
    model = {**NETWORK, "A_plus": a_plus, "A_minus": A_RATIO * a_plus, "duration": duration}

    def save_rates():
        """Write the tables and the network of the rates finished so far (after every rate, and at the end)."""
        return _save_rates(run_dir, rows, weight_rows, history_rows, w0, options, model)

    start = time.perf_counter()
    with reusable_build(key, lambda: DeviceRunner(build, device=options.device, directory=directory)) as runner:
        before = runner.compile_seconds, runner.n_builds, runner.n_runs, runner.run_seconds
        _run_rates(runner, rates, options.seed, w0, duration, measure,
                   (rows, weight_rows, history_rows, per_rate, spike_frames), progress=progress, on_rate=save_rates)
        compile_seconds, n_builds, n_runs, run_seconds = (now - then for now, then in zip(
            (runner.compile_seconds, runner.n_builds, runner.n_runs, runner.run_seconds), before))
    wall = time.perf_counter() - start

    table, weights, history, network = save_rates()
    summary = {
        "study": NAME, "status": "completed", "mode": mode, "seed": options.seed, "device": options.device,
        "input_rates_hz": list(rates), "duration_s": float(duration), "measure_window_s": float(measure),
        "A_plus": a_plus, "A_minus": A_RATIO * a_plus, "network": {k: (str(v) if isinstance(v, b2.Quantity) else v)
                                                                     for k, v in NETWORK.items()},
        "per_rate": per_rate, **regulation_summary(table),
        "compile_seconds": compile_seconds, "builds": n_builds, "binary_runs": n_runs, "wall_seconds": wall,
        "run_seconds": run_seconds,
        "wall_seconds_per_simulated_second": (wall - compile_seconds) / (float(duration) * len(rates)),
        "reference": REFERENCE,
        "figures": _figures(run_dir, table, weights, history),
        "options": options.as_dict(), "networks": [network],
        "energy": output_energy(spike_frames, duration),
        "notes": (f"frac_low/frac_high: weights below {LOW} / above {HIGH} g_max; output rates measured in the last "
                  f"{float(measure):g} s; static = the control neuron with the same inputs and fixed initial weights; "
                  "rate_ratio = output rate at the highest over the lowest input rate; regulation_index = "
                  "log(rate_ratio_stdp)/log(rate_ratio_static) (0 = perfectly regulated, 1 = no regulation)."),
    }
    write_summary(run_dir, summary, options)
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    print(f"summary: {os.path.join(run_dir, 'summary.json')}", flush=True)
    return summary


def _save_rates(run_dir, rows, weight_rows, history_rows, w0, options, model):
    """Write ``rates``, ``final_weights`` and ``weight_history.parquet`` and the network ``network_stdp.npz``
    (the initial weights and the final weights of every finished rate); return the three tables and the
    network's file name. Called after every rate, so that an interrupted run keeps what finished; the last call
    writes the final files."""
    table = pd.DataFrame(rows)
    write_table(table, os.path.join(run_dir, "rates.parquet"))
    weights = pd.concat(weight_rows, ignore_index=True)
    write_table(weights, os.path.join(run_dir, "final_weights.parquet"))
    history = pd.DataFrame(history_rows)
    write_table(history, os.path.join(run_dir, "weight_history.parquet"))
    network = save_network(run_dir, "stdp", {"w_initial": w0, **{f"w_final_{rate:g}hz": frame["w_final"].to_numpy()
                                                                 for rate, frame in weights.groupby("input_rate_hz")}},
                           NAME, options, model, units="weights in units of g_max")
    return table, weights, history, network


def regulation_summary(table):
    """Bimodality and rate regulation from the per-rate table (columns as written by :func:`run`)."""
    low, high = table.iloc[0], table.iloc[-1]
    ratio_stdp = high["output_rate_stdp_hz"] / max(low["output_rate_stdp_hz"], 1e-9)
    ratio_static = high["output_rate_static_hz"] / max(low["output_rate_static_hz"], 1e-9)
    return {
        "bimodal_fraction_min": float((table["frac_low"] + table["frac_high"]).min()),
        "mid_fraction_max": float(table["frac_mid"].max()),
        "rate_ratio_input": float(high["input_rate_hz"] / low["input_rate_hz"]),
        "rate_ratio_stdp": float(ratio_stdp),
        "rate_ratio_static": float(ratio_static),
        "regulation_index": float(np.log(max(ratio_stdp, 1e-9)) / np.log(ratio_static))
        if ratio_static > 1 else None,
    }


def plot_weight_histograms(weights, axes=None):
    """Histograms of the final weights, one outline per input rate; returns the Axes."""
    if axes is None:
        _, axes = plt.subplots()
    bins = np.linspace(0, 1, 41)
    for rate, frame in weights.groupby("input_rate_hz"):
        axes.hist(frame["w_final"], bins=bins, histtype="step", lw=1.5, label=f"{rate:g} Hz")
    axes.set_xlabel("final weight / g_max")
    axes.set_ylabel("synapses")
    axes.legend(title="input rate", fontsize=8)
    return axes


def plot_rate_regulation(table, axes=None):
    """Output rate against input rate with STDP and without (static control); returns the Axes."""
    if axes is None:
        _, axes = plt.subplots()
    axes.plot(table["input_rate_hz"], table["output_rate_stdp_hz"], "o-", label="STDP")
    axes.plot(table["input_rate_hz"], table["output_rate_static_hz"], "s--", color="grey",
              label="static (initial weights)")
    axes.set_xlabel("input rate (Hz)")
    axes.set_ylabel("output rate (Hz)")
    axes.legend(fontsize=8)
    return axes


def plot_weight_fractions(history, axes=None):
    """Fractions of synapses near g_max (solid) and near 0 (dotted) over time, per input rate; returns the Axes."""
    if axes is None:
        _, axes = plt.subplots()
    for rate, frame in history.groupby("input_rate_hz"):
        axes.plot(frame["t_s"], frame["frac_high"], label=f"{rate:g} Hz near g_max")
        axes.plot(frame["t_s"], frame["frac_low"], ls=":", color=axes.lines[-1].get_color())
    axes.set_xlabel("time (s)")
    axes.set_ylabel("fraction of synapses")
    axes.legend(fontsize=7)
    return axes


def _figures(run_dir, table, weights, history):
    """Save ``stdp_song.png`` (final weights, rate regulation, weight fractions); return the file names."""
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    plot_weight_histograms(weights, axes=axes[0])
    axes[0].set_title("final weights (bimodal after a full run)")
    plot_rate_regulation(table, axes=axes[1])
    axes[1].set_title("rate regulation")
    plot_weight_fractions(history, axes=axes[2])
    axes[2].set_title(f"fraction > {HIGH} g_max (solid), < {LOW} g_max (dotted)", fontsize=10)
    return [save_figure(fig, run_dir, "stdp_song.png")]


def plot_run(run, out_dir):
    """Redraw the figure of a finished run from its tables (``brian2learn plot RUN_DIR``); return its name."""
    return _figures(out_dir, run.tables["rates"], run.tables["final_weights"], run.tables["weight_history"])


def main(argv=None):
    """``python -m brian2learn.studies.stdp_song [options]``: errors in one line, exit status 2."""
    from brian2learn.studies.cli import study_main

    return study_main(sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
