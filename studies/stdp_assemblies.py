"""STDP forms and associates memory assemblies: overlap versus recruitment (Pokorny et al. 2020).

Pokorny, Ison, Rao, Legenstein, Papadimitriou & Maass (2020), "STDP forms associations between memory
traces in networks of spiking neurons", Cereb Cortex 30(3):952, doi:10.1093/cercor/bhz140.

Network (:mod:`brian2learn.plasticity.assembly_network`, the paper's sizes; its details and *choices*
are listed there): 432 excitatory and 108 inhibitory escape-noise neurons, 200 Poisson input channels, random
connectivity (every E neuron with the same number of distinct input channels; ``--bernoulli-in-degree``:
Bernoulli(p_in) draws), triplet STDP of Pfister & Gerstner (2006) on input→E and E→E (``--stdp-rule``: the
parameter set) with a BCM-like sliding threshold (``--sliding-threshold``: its reference rate, or ``off``),
optional Tsodyks-Markram depression on E→E (``--stp-ee``). ``gamma_exc`` scales the excitability of the E
neurons, ``gamma_w`` the initial input→E and E→E weights.

Protocol (:func:`brian2learn.tasks.assembly_patterns.protocol_schedule`): noise, encoding of three
patterns A, B, C, noise, a test block (plasticity off), association (A and B together), noise, a test
block. Assemblies are measured in the two test blocks (:mod:`brian2learn.analysis.assemblies`: one-sided
Wilcoxon signed-rank test of the 10-110 ms response against the -100-0 ms baseline, p < 0.05, median
response >= 2 Hz); the associated pair is (A, B), the control pair (A, C).

One ``cpp_standalone`` build serves every seed and every (gamma_exc, gamma_w): excitability offsets,
initial weights, input channel sets, the schedule (TimedArrays) and the seed are ``run_args``. The
connectivity graph is drawn once (``structure_seed``); the run seed varies all the rest.
:func:`evaluate_point` is the unit of work of one point; :func:`phase_diagram` runs the grid on the sweep
engine (:mod:`brian2learn.studies.sweep`), one build per worker.

Regimes and targets (:data:`REGIMES`, :func:`regime_targets`)
---------------------------------------------------------------
The test blocks show A, B, C and the combined patterns A+B and A+C. Between the two test blocks about 20
neurons per combination become new members without any association (membership turnover under ongoing
plasticity and noise), as many as the association could recruit. So every run has a *sham twin*
(:func:`evaluate_point`, ``sham_control``): the same seed with the association left out. The two draw the same
random numbers and are identical up to the association; what differs afterwards is the association's doing.
Recruitment is then the number of new members of A+B (members after that answered neither A nor B before)
beyond the twin's, ``net_recruited_twin``; the association's effect on the overlap is ``overlap_rise_twin``.

Both regimes appear at low excitability (gamma_exc 0.5) and are chosen by the initial weight scale (found with
five-seed twin-controlled checks of points of the phase diagram; which (gamma_exc, gamma_w) the paper used
could not be checked). With weak initial weights (``overlap``: gamma_w 0.7) members of A's assembly come to
respond to B and vice versa (pair coding): the shared A,B members rise above the twin's and above the never
co-presented A, C. With strong initial weights (``recruitment``: gamma_w 1.6) the shared members stay where
they were, and the assembly of A+B gains neurons that answered neither A nor B. Measured mechanism of the
latter (seed 1): not Hebbian growth onto the new members (their input and E→E weights end 0.01 of the initial
mean *below* the twin's), but redistribution: the association lowers the response of the old A and B members
(to A+B 17.3 against 20.0 Hz in the twin, to A 23.3 against 28.0 Hz) and the new members pick up (11.5 against
8.2 Hz), the population response to A+B staying about the same (6.6 against 6.9 Hz).

Held-out phase diagram: with ``--phase-seeds N`` every point of the grid runs the first N held-out seeds (6, 7,
...), each with its twin, and its regime is decided by the regime claim's tests (:func:`regime_by_tests`:
one-sided Wilcoxon signed-rank, p < :data:`CLAIM_ALPHA`) instead of the mean's targets. A signed-rank test of n
nonzero differences reaches at best p = 2^-n, so p < 0.01 needs at least 7 seeds whose difference is not zero.

Run as ``python -m brian2learn.studies.stdp_assemblies [--quick] [--seed N] [--gamma-exc X] [--gamma-w Y]
[--seeds ...] [--phase-diagram [--phase-seeds N]]`` or, from Python,
``stdp_assemblies.run(stdp_assemblies.Options(quick=True))``.
"""

import dataclasses
import os
import sys
import time
import warnings

import brian2 as b2
import matplotlib
import numpy as np
import pandas as pd

from brian2learn.analysis import assemblies as asm
from brian2learn.analysis import energy, spikes
from brian2learn.analysis.tables import write_table
from brian2learn.plasticity import stdp
from brian2learn.plasticity.assembly_network import (
    BIN_DT,
    NETWORK,
    AssemblyConfig,
    AssemblyNetwork,
    connectivity,
    initial_values,
)
from brian2learn.simulation.dask_builds import build_key, reusable_build
from brian2learn.simulation.devices import DeviceRunner
from brian2learn.studies.common import save_figure, save_network, saved_network_name, write_summary
from brian2learn.studies.options import StudyOptions, flag_of, option
from brian2learn.studies.run_directory import in_run_directory
from brian2learn.tasks import assembly_patterns as ap
from brian2learn.training.progress import ProgressReporter

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

NAME = "stdp-assemblies"
DESCRIPTION = "STDP forms and associates memory assemblies: overlap vs recruitment (Pokorny et al. 2020)"

DEVICES = ("cpp_standalone", "runtime")

#: Hz, reference rate of the sliding threshold (--sliding-threshold): that of the network's default.
DEFAULT_SLIDING_RATE = f"{float(NETWORK['sliding_threshold']['rho_0'] / b2.Hz):g}"

MODES = {
    "full": {"protocol": {}, "eta": 0.5},
    "quick": {"protocol": {"noise_1": 5.0, "encoding": 60.0, "noise_2": 5.0, "n_test": 12, "n_association": 20,
                           "noise_3": 5.0}, "eta": 1.5},
}
#: (gamma_exc, gamma_w) of the two regimes reported by default.
REGIMES = {"overlap": (0.5, 0.7), "recruitment": (0.5, 1.6)}
PHASE_GRID = {"gamma_exc": (0.5, 0.75, 1.0, 1.25, 1.5), "gamma_w": (0.5, 0.7, 1.0, 1.3, 1.6)}
#: Seeds on which the regimes' parameters were chosen; reported numbers come from others (issue: held-out protocol).
TUNING_SEEDS = (1, 2, 3, 4, 5)
#: The held-out seeds of ``--held-out`` (20 seeds, each with its sham twin).
HELD_OUT_SEEDS = tuple(range(6, 26))
#: Significance level of the regime claim (one-sided Wilcoxon signed-rank tests over seeds).
CLAIM_ALPHA = 0.01
#: Paired measures over seeds, each a per-seed difference: name -> (column, what it is).
PAIRED_MEASURES = {
    "overlap_effect": ("overlap_rise_twin", "shared A,B members after, minus the sham twin's"),
    "recruitment_effect": ("net_recruited_twin", "neurons new to A+B, minus the sham twin's"),
    "recruitment_beyond_control": ("net_recruited_combined", "neurons new to A+B, minus those new to A+C"),
}


def make_runner(config, device="cpp_standalone", directory=None):
    """A :class:`DeviceRunner` of :class:`AssemblyNetwork` (one build for all points)."""
    if device not in DEVICES:
        raise ValueError(f"unknown device {device!r}; allowed: {', '.join(DEVICES)}")
    return DeviceRunner(lambda: AssemblyNetwork(config), device=device, directory=directory)


def _test_assemblies(model, presentations, n_exc):
    """Spike times and neurons of the E population, and the assemblies of both test blocks."""
    t = np.asarray(model.spikes_exc.t / b2.second)
    i = np.array(model.spikes_exc.i[:])
    assemblies = {}
    for phase in ("test_before", "test_after"):
        rows = presentations[presentations["phase"] == phase]
        onsets = {p: ap.rounded_onsets(rows[rows["pattern"] == p], BIN_DT) for p in ap.TEST_PATTERNS}
        assemblies[phase] = asm.assembly_members(t, i, onsets, n_exc)
    return t, i, assemblies["test_before"], assemblies["test_after"]


def evaluate_point(runner, config, gamma_exc, gamma_w, seed, keep=False, communities=True, sham_control=False,
                   networks=False):
    """Simulate the protocol at one (gamma_exc, gamma_w, seed) and measure the assemblies.

    The unit of work for a sweep engine: it needs a runner (:func:`make_runner`) and returns a flat dict
    of numbers (plus, with ``keep``, the spikes, weights and assemblies under ``"data"``; with ``networks``, the
    trained networks under ``"networks"``: ``initial`` the run arguments of :func:`initial_values`, ``conn`` the
    connectivity, ``run`` (and ``sham``) the final ``w_in`` and ``w_ee``).

    With ``sham_control`` the point is run a second time with the same seed and the association left out
    (its phase keeps its timing, the input stays at background): the *sham twin*. Both runs draw the same
    random numbers, so they are identical up to the association (``sham_before_identical`` checks the
    assemblies of the first test block) and differ afterwards by what the association did, not by another
    draw of the noise. ``net_recruited_twin`` = members of A+B after the association that were in neither A nor
    B before, minus the same count in the sham twin; ``overlap_rise_twin`` = shared A,B after, minus the twin's.
    """
    if not (np.isfinite(gamma_exc) and gamma_w > 0):
        raise ValueError(f"need a finite 'gamma_exc' and a positive 'gamma_w', got {gamma_exc!r}, {gamma_w!r}")
    net = config.network
    probe = runner.model
    conn = probe.conn if probe is not None else connectivity(config)
    values, stimuli, phases, presentations = initial_values(config, conn, gamma_exc, gamma_w, seed)
    start = time.perf_counter()
    model = runner.run(values, stimuli)
    wall = time.perf_counter() - start
    t, i, before, after = _test_assemblies(model, presentations, net["n_exc"])
    measures = asm.association_measures(before, after, ap.ASSOCIATED, ap.CONTROL)
    w_ee_final = np.asarray(model.syn_ee.w[:])
    trained = {"run": {"w_in": np.array(model.syn_in.w[:], dtype=float), "w_ee": np.array(w_ee_final, dtype=float)}}
    w_snap = np.asarray(model.w_ee_mon.w)
    w_ee_before = w_snap[:, 1] if w_snap.shape[1] > 1 else w_snap[:, 0]
    ee_i, ee_j = conn["ee"]

    def dense(w):
        out = np.zeros((net["n_exc"], net["n_exc"]))
        out[ee_i, ee_j] = w
        return out

    structure_after = asm.assembly_weight_statistics(dense(w_ee_final), after)
    nan = float("nan")
    communities = (asm.compare_communities(dense(w_ee_final), after, quantile=0.9) if communities
                   else {"match": {}, "modularity": nan})
    rates = {}
    for _, row in phases.iterrows():
        sel = (t >= row["start"]) & (t < row["end"])
        rates[row["phase"]] = float(sel.sum() / (net["n_exc"] * (row["end"] - row["start"])))
    o_as, o_cb = measures["overlap_associated_after"], measures["overlap_control_after"]
    result = {
        "gamma_exc": float(gamma_exc), "gamma_w": float(gamma_w), "seed": int(seed),
        **{f"size_{k}_before": v for k, v in measures["sizes_before"].items()},
        **{f"size_{k}_after": v for k, v in measures["sizes_after"].items()},
        "shared_AB_before": measures["overlap_associated_before"]["shared"], "shared_AB_after": o_as["shared"],
        "shared_AC_before": measures["overlap_control_before"]["shared"], "shared_AC_after": o_cb["shared"],
        "jaccard_AB_before": measures["overlap_associated_before"]["jaccard"], "jaccard_AB_after": o_as["jaccard"],
        "jaccard_AC_before": measures["overlap_control_before"]["jaccard"], "jaccard_AC_after": o_cb["jaccard"],
        "overlap_rise_associated": measures["overlap_rise_associated"],
        "overlap_rise_control": measures["overlap_rise_control"], "overlap_gain": measures["overlap_gain"],
        "jaccard_gain": measures["jaccard_gain"], "n_recruited": measures["n_recruited"],
        "n_recruited_control": measures["n_recruited_control"],
        "net_recruited": measures["n_recruited"] - measures["n_recruited_control"],
        "n_pair_coding": measures["n_pair_coding"],
        "n_recruited_combined": measures["n_recruited_combined"],
        "n_recruited_combined_control": measures["n_recruited_combined_control"],
        "net_recruited_combined": measures["n_recruited_combined"] - measures["n_recruited_combined_control"],
        "w_within_after": structure_after["within_all"], "w_between_after": structure_after["between_all"],
        "w_ratio_after": structure_after["ratio"], "w_ee_mean_before": float(np.mean(w_ee_before)),
        "w_ee_mean_after": float(np.mean(w_ee_final)), "w_in_mean_after": float(np.mean(model.syn_in.w[:])),
        "community_jaccard_A": communities["match"].get("A", {}).get("jaccard", nan),
        "community_jaccard_B": communities["match"].get("B", {}).get("jaccard", nan),
        "modularity": communities["modularity"],
        **{f"rate_{k}_hz": v for k, v in rates.items()},
        "wall_seconds": wall, "simulated_seconds": model.duration,
    }
    if keep:
        result["data"] = {"t": t, "i": i, "before": before, "after": after, "phases": phases,
                          "presentations": presentations, "w_ee_before": w_ee_before, "w_ee_after": w_ee_final,
                          "conn_ee": conn["ee"]}
    if networks:
        result["networks"] = {"initial": values, "conn": conn, **trained}
    if sham_control:
        # everything read from the first run above: the runner's model now runs again, on the same run_args
        # and a schedule without the association's presentations
        silent, _ = ap.render_schedule(phases, presentations, config.pattern_duration(), BIN_DT, ("association",))
        sham_model = runner.run(values, {**stimuli, "activity": silent})
        if networks:
            result["networks"]["sham"] = {"w_in": np.array(sham_model.syn_in.w[:], dtype=float),
                                          "w_ee": np.array(sham_model.syn_ee.w[:], dtype=float)}
        sham_t, sham_i, sham_before, sham_after = _test_assemblies(sham_model, presentations, net["n_exc"])
        sham = asm.association_measures(sham_before, sham_after, ap.ASSOCIATED, ap.CONTROL)
        identical = all(np.array_equal(before[p], sham_before[p]) for p in before)
        if not identical:
            # e.g. random streams that depend on the thread count: the twin is then another draw of the noise
            warnings.warn(f"the sham twin of seed {seed} at gamma_exc {gamma_exc:g}, gamma_w {gamma_w:g} had other "
                          "assemblies before the association than the run; its *_twin measures are not a paired "
                          "control", RuntimeWarning, stacklevel=2)
        result.update({
            "sham_before_identical": float(identical),
            "shared_AB_after_sham": sham["overlap_associated_after"]["shared"],
            "shared_AC_after_sham": sham["overlap_control_after"]["shared"],
            "n_recruited_combined_sham": sham["n_recruited_combined"],
            "n_recruited_combined_control_sham": sham["n_recruited_combined_control"],
            "net_recruited_twin": measures["n_recruited_combined"] - sham["n_recruited_combined"],
            "net_recruited_twin_control": (measures["n_recruited_combined_control"]
                                           - sham["n_recruited_combined_control"]),
            "overlap_rise_twin": o_as["shared"] - sham["overlap_associated_after"]["shared"]})
        if keep:
            result["data"]["sham"] = {"t": sham_t, "i": sham_i, "before": sham_before, "after": sham_after}
    return result


def classify_regime(row):
    """``'overlap'``, ``'recruitment'`` or ``'neither'``: which regime's targets (:func:`regime_targets`) hold."""
    for label in ("overlap", "recruitment"):
        if regime_targets(label, row)["targets_met"]:
            return label
    return "neither"


def regime_statistics(frame):
    """Paired statistics over the seeds of one regime (:func:`brian2learn.analysis.paired.paired_effect`).

    For each measure of :data:`PAIRED_MEASURES` present: the per-seed values are differences (run minus
    twin, or A+B minus A+C), summarised by mean, standard error, the one-sided Wilcoxon signed-rank test
    against zero (``alternative='greater'``), its two-sided p and the effect sizes; and
    ``overlap_minus_recruitment``: the overlap effect minus the recruitment beyond A+C, per seed.
    Returns ``{}`` with fewer than 2 seeds.
    """
    from brian2learn.analysis.paired import paired_effect

    if len(frame) < 2:
        return {}
    stats = {}
    for name, (column, meaning) in PAIRED_MEASURES.items():
        if column not in frame or frame[column].isna().any():
            continue
        values = frame[column].to_numpy(dtype=float)
        stats[name] = {**paired_effect(values, alternative="greater"), "column": column, "meaning": meaning,
                       "p_two_sided": paired_effect(values)["p_value"]}
    if "overlap_effect" in stats and "recruitment_beyond_control" in stats:
        difference = (frame["overlap_rise_twin"] - frame["net_recruited_combined"]).to_numpy(dtype=float)
        stats["overlap_minus_recruitment"] = {**paired_effect(difference, alternative="greater"),
                                              "meaning": "overlap effect minus recruitment into A+B beyond A+C"}
    return stats


def regime_claim(statistics, alpha=CLAIM_ALPHA):
    """Whether the seeds show Pokorny et al.'s claim that the two parameter sets give the two regimes.

    The overlap regime holds when its overlap effect is above zero (one-sided p < ``alpha``) and above its own
    recruitment into A+B beyond A+C (one-sided p < ``alpha`` on the per-seed difference); the recruitment regime
    when its recruitment effect is above zero (p < ``alpha``) and its overlap effect is not significant
    (two-sided p >= ``alpha``). Returns ``{regime: {"holds": bool, "reasons": [...]}}`` for the regimes whose
    statistics are there, and ``"claim_holds"`` when both are.
    """
    result = {}
    overlap = statistics.get("overlap", {})
    if {"overlap_effect", "overlap_minus_recruitment"} <= set(overlap):
        p_effect, p_above = overlap["overlap_effect"]["p_value"], overlap["overlap_minus_recruitment"]["p_value"]
        tests = [(f"overlap effect > 0 (p = {p_effect:.2g})", p_effect < alpha),
                 (f"overlap effect > recruitment beyond A+C (p = {p_above:.2g})", p_above < alpha)]
        result["overlap"] = {"holds": all(ok for _, ok in tests), "tests": {text: ok for text, ok in tests}}
    recruitment = statistics.get("recruitment", {})
    if {"recruitment_effect", "overlap_effect"} <= set(recruitment):
        p_effect, p_overlap = (recruitment["recruitment_effect"]["p_value"],
                               recruitment["overlap_effect"]["p_two_sided"])
        tests = [(f"recruitment effect > 0 (p = {p_effect:.2g})", p_effect < alpha),
                 (f"no overlap effect (two-sided p = {p_overlap:.2g})", p_overlap >= alpha)]
        result["recruitment"] = {"holds": all(ok for _, ok in tests), "tests": {text: ok for text, ok in tests}}
    if len(result) == 2:
        result["claim_holds"] = result["overlap"]["holds"] and result["recruitment"]["holds"]
    return result


def regime_by_tests(statistics, alpha=CLAIM_ALPHA):
    """The regime one point's seeds show by the tests of :func:`regime_claim`: ``'overlap'``, ``'recruitment'``,
    ``'both'`` or ``'neither'``; None without statistics (fewer than 2 seeds, or no sham twin).

    ``statistics`` is :func:`regime_statistics` of the point's seeds; both regimes' tests are applied to it.
    """
    verdict = regime_claim({"overlap": statistics, "recruitment": statistics}, alpha)
    if len(verdict) < 2:
        return None
    holds = [label for label in ("overlap", "recruitment") if verdict[label]["holds"]]
    return "both" if len(holds) == 2 else holds[0] if holds else "neither"


def phase_diagram(gamma_exc_values, gamma_w_values, seed, out_dir, options=None, workers=None, scheduler=None,
                  progress=True):
    """The grid gamma_exc x gamma_w, one point per run of this study, distributed by the sweep engine.

    Every point is ``brian2learn run stdp-assemblies --gamma-exc X --gamma-w Y`` with the command-line
    ``options`` ``{name: value}`` (e.g. ``{"device": "cpp_standalone", "quick": "true"}``; see
    :func:`_point_options`) in ``out_dir``, run by :func:`brian2learn.studies.sweep.run_sweep` on a local
    cluster of ``workers`` processes (or the Dask ``scheduler``); each worker compiles once and reuses its build
    for its points (:func:`run` builds through :func:`~brian2learn.simulation.dask_builds.reusable_build`).

    Returns a DataFrame: gamma_exc, gamma_w, the measures of each point (as :func:`evaluate_point`, mean
    over the point's seeds), its ``regime`` and ``status`` (``completed`` or why not; the measures of a failed
    point are missing). The regime is decided by the tests (:func:`regime_by_tests`) where the point has them
    (``regime_decided_by``: ``'tests'``, with the one-sided p of its overlap effect ``p_overlap``, of its
    recruitment ``p_recruitment`` and their number of seeds ``n_seeds``), else by the mean's targets
    (:func:`classify_regime`, ``'means'``).
    """
    grid = {"gamma-exc": list(gamma_exc_values), "gamma-w": list(gamma_w_values),
            **{name: [value] for name, value in (options or {}).items()}}
    from brian2learn.studies.sweep import run_sweep  # imports Dask: only for the phase diagram

    table = run_sweep(NAME, grid, [seed], out_dir, scheduler=scheduler, workers=workers, progress=progress)
    prefix = "regimes.point.mean."
    rows = []
    for record in table.to_dict("records"):
        mean = {key[len(prefix):]: value for key, value in record.items()
                if key.startswith(prefix) and value is not None and not pd.isna(value)}
        row = {"gamma_exc": float(record["param.gamma_exc"]), "gamma_w": float(record["param.gamma_w"]),
               "status": record["status"], **mean}
        tested = record.get("regimes.point.regime_by_tests")
        if record["status"] != "completed":
            row["regime"], row["regime_decided_by"] = "failed", None
        elif isinstance(tested, str):
            statistics = "regimes.point.statistics."
            row.update(regime=tested, regime_decided_by="tests",
                       p_overlap=record.get(statistics + "overlap_effect.p_value"),
                       p_recruitment=record.get(statistics + "recruitment_effect.p_value"),
                       n_seeds=record.get(statistics + "overlap_effect.n"))
        else:
            row["regime"], row["regime_decided_by"] = classify_regime(mean), "means"
        rows.append(row)
    return pd.DataFrame(rows)


def sliding_rate(text):
    """The sliding threshold's reference rate in Hz from the text of ``--sliding-threshold``, or None for ``off``."""
    text = str(text).strip()
    if text.lower() == "off":
        return None
    try:
        rate = float(text)
    except ValueError:
        rate = float("nan")
    if not (np.isfinite(rate) and rate > 0):
        raise ValueError(f"'--sliding-threshold' must be a positive rate in Hz or 'off', got {text!r}")
    return rate


@dataclasses.dataclass
class Options(StudyOptions):
    """Options of the assembly study (``brian2learn run stdp-assemblies --help``).

    Attributes
    ----------
    seeds : tuple of int or None
        Seeds of each regime (default: ``seed, seed+1, seed+2``; quick: ``seed``).
    gamma_exc, gamma_w : float or None
        One point (both, dimensionless scales of excitability and initial weights) instead of the two regimes.
    phase_diagram : bool
        Also run the grid :data:`PHASE_GRID` on the sweep engine.
    workers : int or None
        Worker processes of the phase diagram's local Dask cluster.
    stp_ee, stdp_rule, bernoulli_in_degree : bool, str, bool
        Network choices (:mod:`brian2learn.plasticity.assembly_network`).
    sliding_threshold : str
        Reference rate of the sliding threshold in Hz (as text, e.g. ``"2"``; a number is taken too), or ``"off"``.
    no_sham_control : bool
        Skip the sham twin of every run.
    device : str
        Brian2 device.
    """

    quick: bool = option(False, help="short protocol (about 3 simulated minutes per run)")
    seed: int = option(1, minimum=0, help="first seed (default 1)")
    seeds: tuple[int, ...] | None = option(None, minimum=0, metavar="SEED",
                                           help="seeds of each regime (default: --seed, --seed+1, --seed+2; quick: "
                                                "--seed)")
    held_out: bool = option(False, help=f"run the held-out seeds {HELD_OUT_SEEDS[0]}-{HELD_OUT_SEEDS[-1]} "
                                        f"(parameters were chosen on seeds {TUNING_SEEDS[0]}-{TUNING_SEEDS[-1]}), "
                                        "each with its sham twin, and test the regime claim on them")
    gamma_exc: float | None = option(None, metavar="X",
                                     help="run only this excitability scale (with --gamma-w) instead of the two "
                                          "regimes")
    gamma_w: float | None = option(None, metavar="Y", help="initial weight scale of a single point")
    phase_diagram: bool = option(False, help=f"also run the {len(PHASE_GRID['gamma_exc'])}x"
                                             f"{len(PHASE_GRID['gamma_w'])} grid gamma_exc x gamma_w on the sweep "
                                             "engine (each point with the study's default seeds from the first: "
                                             "quick 1, full 3; see --phase-seeds)")
    phase_seeds: int | None = option(None, minimum=2, metavar="N",
                                     help=f"with --phase-diagram: every point runs the first N held-out seeds "
                                          f"({HELD_OUT_SEEDS[0]}, {HELD_OUT_SEEDS[1]}, ...) with their twins, and its "
                                          f"regime is decided by the regime tests (p < {CLAIM_ALPHA}; needs N >= 7)")
    workers: int | None = option(None, minimum=1, metavar="N",
                                 help="worker processes of the phase diagram's local Dask cluster (default: one per "
                                      "core)")
    stp_ee: bool = option(False, help="Tsodyks-Markram depression on the E->E synapses (off by default)")
    stdp_rule: str = option("visual-minimal", metavar="SET",
                            help="triplet parameter set of Pfister & Gerstner (2006): "
                                 f"{', '.join(stdp.TRIPLET_PARAMETER_SETS)} (default visual-minimal)")
    bernoulli_in_degree: bool = option(False, help="draw every input -> E synapse with probability p_in (default: "
                                                   "every E neuron gets the same number of distinct input channels)")
    sliding_threshold: str = option(DEFAULT_SLIDING_RATE, metavar="RHO0_HZ|off",
                                    help="reference rate (Hz) of the BCM-like sliding threshold of the triplet rule "
                                         f"(averaging time 30 s), or 'off' (default {DEFAULT_SLIDING_RATE})")
    no_sham_control: bool = option(False, help="skip the sham twin of every run (the same seed without the "
                                               "association; it halves the run time, and recruitment is then "
                                               "measured against the control pair A+C only)")
    device: str = option("cpp_standalone", choices=DEVICES, help="Brian2 device")
    out: str | None = option(None, metavar="DIR", help="run directory (default runs/stdp-assemblies-seedN)")

    def __post_init__(self):
        # a rate given as a number (Python users) is kept as its text, as on the command line
        if isinstance(self.sliding_threshold, (int, float)) and not isinstance(self.sliding_threshold, bool):
            self.sliding_threshold = str(self.sliding_threshold)
        super().__post_init__()

    def check(self):
        sliding_rate(self.sliding_threshold)
        if self.stdp_rule not in stdp.TRIPLET_PARAMETER_SETS:
            raise ValueError(f"unknown triplet parameter set {self.stdp_rule!r} for '--stdp-rule'; allowed: "
                             f"{', '.join(stdp.TRIPLET_PARAMETER_SETS)}")
        if self.held_out and self.seeds is not None:
            raise ValueError("give '--held-out' (the seeds "
                             f"{HELD_OUT_SEEDS[0]}-{HELD_OUT_SEEDS[-1]}) or '--seeds', not both")
        if self.held_out and self.no_sham_control:
            raise ValueError("'--held-out' measures every effect against the sham twin: drop '--no-sham-control'")
        if self.phase_seeds is not None:
            if not self.phase_diagram:
                raise ValueError("'--phase-seeds' sets the seeds of the phase diagram's points: add '--phase-diagram'")
            if self.phase_seeds > len(HELD_OUT_SEEDS):
                raise ValueError(f"'--phase-seeds' must be at most {len(HELD_OUT_SEEDS)} (the held-out seeds "
                                 f"{HELD_OUT_SEEDS[0]}-{HELD_OUT_SEEDS[-1]}), got {self.phase_seeds}")
            if self.no_sham_control:
                raise ValueError("'--phase-seeds' tests every effect against the sham twin: drop '--no-sham-control'")
        if (self.gamma_exc is None) != (self.gamma_w is None):
            raise ValueError("give both '--gamma-exc' and '--gamma-w' (one point) or neither (the two regimes)")
        if self.gamma_w is not None and not self.gamma_w > 0:
            raise ValueError(f"'--gamma-w' must be positive, got {self.gamma_w!r}")
        if self.gamma_exc is not None and not np.isfinite(self.gamma_exc):
            raise ValueError(f"'--gamma-exc' must be finite, got {self.gamma_exc!r}")

    @property
    def sliding_rate_hz(self):
        """The sliding threshold's reference rate in Hz, or None (``off``)."""
        return sliding_rate(self.sliding_threshold)


#: Options that a phase-diagram point sets itself (the grid, its seeds) or that concern only the whole run.
_NOT_REPEATED_BY_POINTS = ("seed", "seeds", "out", "gamma_exc", "gamma_w", "phase_diagram", "phase_seeds", "workers")


def _default_seeds(seed, quick):
    """Seeds of a run without ``--seeds`` (also those of every phase-diagram point): quick 1, full 3."""
    return [seed] if quick else [seed, seed + 1, seed + 2]


def _phase_point_seeds(options, seeds):
    """Seeds of every phase-diagram point: the first ``--phase-seeds`` held-out seeds, else the defaults."""
    if options.phase_seeds is not None:
        return list(HELD_OUT_SEEDS[:options.phase_seeds])
    return _default_seeds(seeds[0], options.quick)


def _point_options(options):
    """The command-line options of this run that every phase-diagram point repeats: ``{flag name: text}``.

    The device always, and every other option not at its default (flags as ``"true"``; the sliding threshold
    compared as a rate, so ``2.0`` is the default ``2``), except those in :data:`_NOT_REPEATED_BY_POINTS`.
    """
    defaults = Options()
    repeated = {"device": options.device}
    for field in Options.cli_fields():
        name, value = field.name, getattr(options, field.name)
        if name in _NOT_REPEATED_BY_POINTS or name == "device":
            continue
        if name == "sliding_threshold":
            at_default = options.sliding_rate_hz == defaults.sliding_rate_hz
        else:
            at_default = value == getattr(defaults, name)
        if at_default:
            continue
        key = flag_of(field).lstrip("-")
        if isinstance(value, bool):
            repeated[key] = "true"
        else:
            repeated[key] = [str(v) for v in value] if isinstance(value, tuple) else str(value)
    return repeated


#: Metrics of the progress line of every run (:class:`~brian2learn.training.progress.ProgressReporter`).
PROGRESS_FIELDS = ("gamma_exc", "gamma_w", "seed", "size_A_after", "size_B_after", "shared_AB_before",
                   "shared_AB_after", "shared_AC_after", "n_recruited", "n_pair_coding", "n_recruited_combined",
                   "n_recruited_combined_control", "n_recruited_combined_sham", "shared_AB_after_sham",
                   "rate_noise_1_hz")


@in_run_directory(NAME)
def run(options, run_dir):
    """Run the regimes (or one point) for every seed, optionally the phase diagram; write outputs.

    ``options`` is an :class:`Options` (``run(Options(quick=True))``). In the summary, ``compile_seconds`` is the
    build and ``run_seconds`` the binary's runs of the regimes (sham twins included); ``energy`` is
    :func:`excitatory_energy`.
    """
    mode = "quick" if options.quick else "full"
    rho_0 = options.sliding_rate_hz
    network = {**NETWORK, "eta": MODES[mode]["eta"], "stp_ee": options.stp_ee, "stdp_rule": options.stdp_rule,
               "in_fixed_degree": not options.bernoulli_in_degree,
               "sliding_threshold": None if rho_0 is None else {"rho_0": rho_0 * b2.Hz}}
    config = AssemblyConfig(network=network, protocol=dict(MODES[mode]["protocol"]))
    seeds = (list(HELD_OUT_SEEDS) if options.held_out else list(options.seeds) if options.seeds is not None
             else _default_seeds(options.seed, options.quick))
    points = ({"point": (options.gamma_exc, options.gamma_w)} if options.gamma_exc is not None else dict(REGIMES))
    duration, _ = config.timing()
    print(f"{NAME}: {mode} mode, {duration:.0f} simulated s per run, points {points}, seeds {seeds}, "
          f"device {options.device}, run directory {run_dir}", flush=True)
    directory = os.path.join(run_dir, "build") if options.device == "cpp_standalone" else None
    # Everything structural is in the key; gamma_exc, gamma_w and the seed are run arguments, so a sweep over
    # them (the phase diagram) compiles once per worker.
    key = build_key(NAME, sorted((k, str(v)) for k, v in config.network.items()), sorted(config.protocol.items()),
                    sorted(config.inputs.items()), options.device)
    rows, examples, example_tables, networks, grid = [], {}, {}, [], None
    start = time.perf_counter()
    with reusable_build(key, lambda: make_runner(config, options.device, directory)) as runner:
        before = runner.compile_seconds, runner.n_builds, runner.n_runs, runner.run_seconds
        for label, (ge, gw) in points.items():
            progress = ProgressReporter(f"{NAME} {label}", unit="seed", fields=PROGRESS_FIELDS)
            for k, seed in enumerate(seeds):
                row = evaluate_point(runner, config, ge, gw, seed, keep=(seed == seeds[0]),
                                     sham_control=not options.no_sham_control, networks=True)
                # what finished is on disk at once: the seed's trained networks, its example, the points so far
                networks += save_networks(run_dir, label, row.pop("networks"), config, options, ge, gw, seed)
                if "data" in row:
                    examples[label] = row.pop("data")
                    example_tables[label] = _example_tables(examples[label])
                    _write_example_tables(run_dir, label, example_tables[label])
                row["label"] = label
                rows.append(row)
                write_table(pd.DataFrame(rows), os.path.join(run_dir, "points.parquet"))
                progress(k + 1, len(seeds), row)
        compile_seconds, n_builds, n_runs, run_seconds = (now - then for now, then in zip(
            (runner.compile_seconds, runner.n_builds, runner.n_runs, runner.run_seconds), before))
    if options.phase_diagram:
        point_seeds = _phase_point_seeds(options, seeds)
        point_options = _point_options(options)
        if options.phase_seeds is not None:
            point_options["seeds"] = [str(s) for s in point_seeds]
        grid = phase_diagram(PHASE_GRID["gamma_exc"], PHASE_GRID["gamma_w"], point_seeds[0],
                             os.path.join(run_dir, "phase_diagram"), options=point_options, workers=options.workers)
    wall = time.perf_counter() - start
    table = pd.DataFrame(rows)
    write_table(table, os.path.join(run_dir, "points.parquet"))
    regimes = {}
    for label, frame in table.groupby("label", sort=False):
        numeric = frame.drop(columns=["label"]).mean(numeric_only=True)
        mean = {k: float(v) for k, v in numeric.items()}
        regimes[label] = {"gamma_exc": float(frame["gamma_exc"].iloc[0]), "gamma_w": float(frame["gamma_w"].iloc[0]),
                          "seeds": [int(s) for s in frame["seed"]], "mean": mean,
                          "per_seed": frame.drop(columns=["label"]).to_dict(orient="records"),
                          "classified_as": classify_regime(mean), **regime_targets(label, mean),
                          "statistics": regime_statistics(frame)}
        regimes[label]["regime_by_tests"] = regime_by_tests(regimes[label]["statistics"])
    if grid is not None:
        write_table(grid, os.path.join(run_dir, "phase_diagram.parquet"))
    figures = _figures(run_dir, table, example_tables, grid)
    # every binary run (sham twins included) simulates the whole protocol; the grid's points report their own
    simulated = float(table["simulated_seconds"].iloc[0]) * n_runs if len(table) else 0.0
    summary = {
        "study": NAME, "status": "completed", "mode": mode, "device": options.device, "seeds": seeds,
        "simulated_seconds_per_run": duration, "regimes": regimes,
        "targets_met": {label: r["targets_met"] for label, r in regimes.items() if "targets_met" in r},
        "seeds_role": ("held-out" if not set(seeds) & set(TUNING_SEEDS) else
                       f"includes the tuning seeds {TUNING_SEEDS[0]}-{TUNING_SEEDS[-1]}"),
        "regime_claim": regime_claim({label: r["statistics"] for label, r in regimes.items()}),
        "phase_diagram": None if grid is None else {
            "gamma_exc": list(PHASE_GRID["gamma_exc"]), "gamma_w": list(PHASE_GRID["gamma_w"]),
            "seeds_per_point": _phase_point_seeds(options, seeds),
            "regime_decided_by": ("tests (one-sided Wilcoxon signed-rank against the twin, p < "
                                  f"{CLAIM_ALPHA})" if options.phase_seeds is not None else "the mean's targets"),
            "regime_counts": grid["regime"].value_counts().to_dict(),
            "directory": os.path.join(run_dir, "phase_diagram")},
        "network": {k: ({kk: str(vv) for kk, vv in v.items()} if isinstance(v, dict) else
                        str(v) if isinstance(v, b2.Quantity) else v) for k, v in config.network.items()},
        "inputs": config.inputs, "protocol": {**ap.POKORNY2020_PROTOCOL, **config.protocol},
        "compile_seconds": compile_seconds, "builds": n_builds, "binary_runs": n_runs, "wall_seconds": wall,
        "run_seconds": run_seconds,
        "wall_seconds_per_simulated_second": run_seconds / simulated if simulated else None,
        "figures": figures, "networks": networks, "options": options.as_dict(),
        "energy": excitatory_energy(examples, config),
        "notes": ("overlap_rise_*: shared members of the pair after minus before the association (associated A,B; "
                  "control A,C); overlap_gain = rise associated - rise control; n_recruited_combined: members of "
                  "the assembly of the combined pattern A+B after that were in neither A's nor B's before; "
                  "n_recruited_combined_control: the same for A+C (never co-presented); net_recruited_combined = "
                  "their difference; *_sham: the same measures in the sham twin (same seed, association left out; "
                  "sham_before_identical: fraction of seeds whose twin had the same assemblies before); "
                  "net_recruited_twin = n_recruited_combined - n_recruited_combined_sham, overlap_rise_twin = "
                  "shared_AB_after - shared_AB_after_sham; n_recruited (net_recruited): the same count for "
                  "neurons joining A's or B's assembly (minus A's or C's); n_pair_coding: in exactly one of A, B "
                  "before and in both after. "
                  "Targets (regime_targets): overlap regime: rise of shared A,B > 0 and >= 2x the rise of shared "
                  "A,C, and recruited < overlap_gain; recruitment regime: |shared A,B - shared A,C| after <= "
                  "max(2, 10% of the mean size of A, B) and recruited > max(overlap effect, 0), where recruited is "
                  "net_recruited_twin and the overlap effect overlap_rise_twin with the sham twin, else "
                  "net_recruited_combined and overlap_gain. "
                  "Weights in the tables are in units of their initial mean (gamma_w times the base mean). "
                  "wall_seconds_per_simulated_second: binary run time over simulated time."),
    }
    write_summary(run_dir, summary, options)
    cols = ["label", "seed", "size_A_before", "size_B_before", "shared_AB_before", "shared_AB_after",
            "shared_AC_before", "shared_AC_after", "n_recruited_combined", "n_recruited_combined_control",
            *[c for c in ("n_recruited_combined_sham", "net_recruited_twin") if c in table],
            "n_recruited", "n_pair_coding",
            "rate_noise_1_hz", "wall_seconds"]
    print(table[cols].to_string(index=False, float_format=lambda x: f"{x:.2f}"))
    for label, regime in regimes.items():
        for name, stat in regime["statistics"].items():
            print(f"{label}: {name} {stat['mean']:+.2f} +- {stat['se']:.2f} (n = {stat['n']}, Wilcoxon one-sided "
                  f"p = {stat['p_value']:.2g}, rank-biserial r = {stat['rank_biserial']:+.2f}, "
                  f"d_z = {stat['cohen_dz']:+.2f})")
    for label, verdict in summary["regime_claim"].items():
        print(f"regime claim, {label}: {verdict}")
    print(f"summary: {os.path.join(run_dir, 'summary.json')}", flush=True)
    return summary


def save_networks(run_dir, label, trained, config, options, gamma_exc, gamma_w, seed):
    """Save the trained networks of one seed of a regime (or point) ``label``; return the file names.

    ``trained`` is the ``networks`` entry of :func:`evaluate_point`. One file per network:
    ``network_LABEL_seedN.npz``, and ``network_LABEL_seedN_sham.npz`` for its sham twin. Arrays: the final
    ``w_in`` and ``w_ee`` (units of their initial mean), the indices ``i_in``, ``j_in``, ``i_ee``, ``j_ee`` of
    these plastic synapses, and the run arguments that rebuild the network with them (``b_exc``, ``unit_in``,
    ``unit_ee``, ``m_A``, ``m_B``, ``m_C``: :func:`~brian2learn.plasticity.assembly_network.initial_values`). The
    model parameters are the :class:`AssemblyConfig` (``network``, ``protocol``, ``inputs``); the static
    pathways are ``connectivity(config)`` (drawn from ``structure_seed``).
    """
    initial, conn = trained["initial"], trained["conn"]
    common = {"i_in": np.asarray(conn["in"][0], dtype=np.int32), "j_in": np.asarray(conn["in"][1], dtype=np.int32),
              "i_ee": np.asarray(conn["ee"][0], dtype=np.int32), "j_ee": np.asarray(conn["ee"][1], dtype=np.int32),
              **{name: initial[name] for name in ("b_exc", "unit_in", "unit_ee", "m_A", "m_B", "m_C")}}
    model = {"network": config.network, "protocol": config.protocol, "inputs": config.inputs}
    names = []
    for twin in ("run", "sham"):
        if twin in trained:
            method = f"{label}_seed{seed}" + ("_sham" if twin == "sham" else "")
            names.append(save_network(
                run_dir, method, {**trained[twin], **common}, NAME, options, model, regime=label,
                gamma_exc=float(gamma_exc), gamma_w=float(gamma_w), seed=int(seed), sham=twin == "sham",
                weights="w_in, w_ee: final weights in units of their initial mean (times unit_in or unit_ee of the "
                        "presynaptic neuron: mV of peak PSP), synapse k from i_*[k] to j_*[k]"))
    return names


def _example_tables(data):
    """The tables of a regime's example run (the first seed): ``(spikes, assemblies, phases, presentations)``.

    ``spikes``: the E spikes (``spikes_exc_LABEL.parquet``, absolute times); ``assemblies``: ``phase`` (before,
    after), ``pattern``, ``neuron`` of every member (``assemblies_LABEL.parquet``); ``phases``: the protocol's
    phases with ``start_s``, ``end_s`` and ``plastic`` (``phases_LABEL.parquet``); ``presentations``: every
    pattern presentation's ``phase``, ``onset_s`` and ``pattern`` (``presentations_LABEL.parquet``).
    """
    spike_frame = spikes.spikes_to_dataframe(data["i"], data["t"], group="exc")
    members = pd.DataFrame([{"phase": ph, "pattern": p, "neuron": int(n)} for ph in ("before", "after")
                            for p, ns in data[ph].items() for n in ns], columns=["phase", "pattern", "neuron"])
    members["neuron"] = members["neuron"].astype(np.int64)
    phases = data["phases"].rename(columns={"start": "start_s", "end": "end_s"})
    presentations = data["presentations"].rename(columns={"onset": "onset_s"})
    return spike_frame, members, phases, presentations


def _write_example_tables(run_dir, label, tables):
    spike_frame, members, phases, presentations = tables
    spikes.save_spikes(spike_frame, os.path.join(run_dir, f"spikes_exc_{label}.parquet"))
    write_table(members, os.path.join(run_dir, f"assemblies_{label}.parquet"))
    write_table(phases, os.path.join(run_dir, f"phases_{label}.parquet"))
    write_table(presentations, os.path.join(run_dir, f"presentations_{label}.parquet"))


def _example_from_tables(tables):
    """The example run as :func:`plot_assembly_raster` takes it, from the tables of :func:`_example_tables`."""
    spike_frame, members, phases, presentations = tables
    data = {"t": spike_frame["t_s"].to_numpy(dtype=float), "i": spike_frame["neuron"].to_numpy(dtype=np.int64),
            "phases": phases.rename(columns={"start_s": "start", "end_s": "end"}),
            "presentations": presentations.rename(columns={"onset_s": "onset"})}
    for ph in ("before", "after"):
        rows = members[members["phase"] == ph]
        data[ph] = {p: rows.loc[rows["pattern"] == p, "neuron"].to_numpy(dtype=np.int64) for p in ap.TEST_PATTERNS}
    return data


def excitatory_energy(examples, config):
    """``energy`` of the summary: per regime (or point), the E population's spikes in the first seed's run.

    These are the spikes of ``spikes_exc_LABEL.parquet`` (the whole protocol, not the sham twin); the I
    population's spikes are counted by the model but not recorded with their times, so they are left out. The
    out-degree of an E neuron is its number of E->E and E->I synapses.
    """
    net = config.network
    conn = connectivity(config)
    out_degree = (np.bincount(conn["ee"][0], minlength=net["n_exc"])
                  + np.bincount(conn["ei"][0], minlength=net["n_exc"])).astype(np.int64)
    duration, _ = config.timing()
    n_steps = int(round(duration / float(net["dt"])))
    result = {"counts": "E spikes of the first seed's run of each regime (not the sham twin), whole protocol"}
    for label, data in examples.items():
        frame = spikes.spikes_to_dataframe(data["i"], data["t"], group="exc")
        result[label] = energy.energy_summary(frame, out_degree, net["dt"], n_neurons=net["n_exc"], n_steps=n_steps)
    return result


def regime_targets(label, mean):
    """The issue's targets, evaluated on the mean measures (over seeds) of one regime.

    Recruitment is counted into the combination (:func:`~brian2learn.analysis.assemblies.recruited_into_combination`):
    members of the assembly of the combined pattern A+B after the association that answered neither A nor B
    before. Pokorny et al. describe the recruitment data as "the assemblies themselves remain largely unchanged
    and new assemblies emerge as neural codes for associated memory items", so recruited neurons code the
    association, not A or B alone; neurons that join A's or B's assembly (``net_recruited``) are reported too.
    About 20 neurons per combination and run are new in the second test block without any association
    (membership turnover under ongoing plasticity and noise), so the count is taken against a control:

    - with the sham twin (:func:`evaluate_point` with ``sham_control``, the default of the study):
      ``net_recruited_twin``, the count minus the same count of the same run without the association, and the
      association's effect on the overlap ``overlap_rise_twin`` (shared A,B after, minus the twin's);
    - without it: ``net_recruited_combined``, the count minus that of the never co-presented control pair
      (A+C), and the overlap gain.

    ``overlap``: the rise of the associated pair's shared neurons over the association is positive and at least
    twice the control pair's rise, while the association recruits few neurons (recruitment below the overlap
    gain). Whether the overlap *after* the association is at least twice the control pair's (shared neurons or
    Jaccard) is reported in ``targets_info`` but not required: neurons that respond to every pattern make the
    overlap before the association large for both pairs.
    ``recruitment``: the associated pair's shared neurons after the association stay within
    ``max(2, 10 % of the mean size of A and B)`` of the control pair's, and the recruitment is positive and
    larger than the association's effect on the overlap.
    Returns ``{"targets": {criterion: bool}, "targets_met": bool, "targets_info": {...}}`` (empty dict for
    other labels).
    """
    shared_as, shared_ctl = mean["shared_AB_after"], mean["shared_AC_after"]
    j_as, j_ctl = mean["jaccard_AB_after"], mean["jaccard_AC_after"]
    rise_as, rise_ctl = mean["overlap_rise_associated"], mean["overlap_rise_control"]
    twin = "net_recruited_twin" in mean
    recruited = mean["net_recruited_twin"] if twin else mean["net_recruited_combined"]
    overlap_effect = mean["overlap_rise_twin"] if twin else mean["overlap_gain"]
    info = {"recruitment_control": "sham twin" if twin else "control pair A+C", "recruited": recruited,
            "overlap_effect": overlap_effect}
    if label == "overlap":
        crit = {"overlap_rise_at_least_twice_control": bool(rise_as > 0 and rise_as >= 2 * max(rise_ctl, 0.0)),
                "few_recruited": bool(recruited < mean["overlap_gain"])}
        info["overlap_after_at_least_twice_control"] = bool(shared_as >= 2 * shared_ctl or j_as >= 2 * j_ctl)
    elif label == "recruitment":
        info["margin"] = max(2.0, 0.1 * (mean["size_A_after"] + mean["size_B_after"]) / 2)
        crit = {"overlap_within_margin_of_control": bool(abs(shared_as - shared_ctl) <= info["margin"]),
                "recruited_more_than_overlap_rise": bool(recruited > max(overlap_effect, 0.0))}
    else:
        return {}
    return {"targets": crit, "targets_met": bool(all(crit.values())), "targets_info": info}


def plot_assembly_raster(data, phase, axes=None, max_neurons=None):
    """Raster of E neurons in one test block, members of the assemblies of A, B, C colored (the combined
    patterns' presentations shaded in their own colors); returns the Axes."""
    if axes is None:
        _, axes = plt.subplots()
    phases = data["phases"]
    row = phases[phases["phase"] == f"test_{phase}"].iloc[0]
    sel = (data["t"] >= row["start"]) & (data["t"] < row["end"])
    axes.plot(data["t"][sel], data["i"][sel], ",", color="0.6")
    colors = {"A": "tab:blue", "B": "tab:orange", "C": "tab:green", "A+B": "tab:purple", "A+C": "tab:olive"}
    for p in ap.PATTERNS:
        members = data[phase][p]
        m = sel & np.isin(data["i"], members)
        axes.plot(data["t"][m], data["i"][m], ".", ms=1.5, color=colors[p], label=f"{p} ({len(members)})")
    pres = data["presentations"]
    for _, r in pres[pres["phase"] == f"test_{phase}"].iterrows():
        axes.axvspan(r["onset"], r["onset"] + 0.1, color=colors[r["pattern"]], alpha=0.15, lw=0)
    if max_neurons:
        axes.set_ylim(0, max_neurons)
    axes.set_xlabel("time (s)")
    axes.set_ylabel("E neuron")
    axes.legend(fontsize=7, loc="upper right")
    return axes


def plot_regime_measures(table, axes=None):
    """Bars of the overlap rises, the recruitment into A+B and A+C and the pair-coding neurons per regime (mean and
    standard deviation over seeds); returns the Axes."""
    if axes is None:
        _, axes = plt.subplots()
    measures = ["overlap_rise_associated", "overlap_rise_control", "n_recruited_combined",
                "n_recruited_combined_control", "n_pair_coding"]
    labels = list(dict.fromkeys(table["label"]))
    width = 0.8 / max(len(labels), 1)
    for k, label in enumerate(labels):
        frame = table[table["label"] == label]
        x = np.arange(len(measures)) + k * width
        axes.bar(x, frame[measures].mean(), width, yerr=frame[measures].std(ddof=0), label=label)
    axes.set_xticks(np.arange(len(measures)) + width * (len(labels) - 1) / 2)
    axes.set_xticklabels(["overlap rise A,B", "overlap rise A,C", "new in A+B", "new in A+C", "pair-coding"],
                         fontsize=8)
    axes.set_ylabel("neurons (mean over seeds)")
    axes.legend(fontsize=8)
    return axes


def plot_jaccard(table, axes=None):
    """Jaccard index of A,B before and after the association, and of A,C after, per regime and seed; returns the
    Axes."""
    if axes is None:
        _, axes = plt.subplots()
    for k, label in enumerate(dict.fromkeys(table["label"])):
        frame = table[table["label"] == label]
        axes.plot(np.full(len(frame), 0 + 0.1 * k), frame["jaccard_AB_before"], "o", color=f"C{k}")
        axes.plot(np.full(len(frame), 1 + 0.1 * k), frame["jaccard_AB_after"], "o", color=f"C{k}",
                  label=f"{label} A,B")
        axes.plot(np.full(len(frame), 1 + 0.1 * k), frame["jaccard_AC_after"], "x", color=f"C{k}",
                  label=f"{label} A,C")
    axes.set_xticks([0, 1])
    axes.set_xticklabels(["before", "after"])
    axes.set_ylabel("Jaccard index")
    axes.legend(fontsize=7)
    return axes


def _figures(run_dir, table, example_tables, grid=None):
    """Save ``assemblies.png`` (and ``phase_diagram.png`` with a ``grid``); return the file names.

    ``table`` is ``points.parquet``, ``example_tables`` maps a regime to the tables of its example run
    (:func:`_example_tables`), ``grid`` is ``phase_diagram.parquet``: in memory or read back, the same figures.
    """
    fig, axes = plt.subplots(2, 2, figsize=(13, 8))
    plot_regime_measures(table, axes=axes[0, 0])
    plot_jaccard(table, axes=axes[0, 1])
    for ax, (label, tables) in zip(axes[1], list(example_tables.items())[:2]):
        plot_assembly_raster(_example_from_tables(tables), "after", axes=ax)
        ax.set_title(f"{label}: test block after the association")
    figures = [save_figure(fig, run_dir, "assemblies.png")]
    if grid is not None:
        figures.append(_figure_phase_diagram(run_dir, grid))
    return figures


def export_to_nest(run, out, method=None, n_trials=2, check=False):
    """``brian2learn export RUN_DIR --to nest``: a trained network and a test block as a NEST script.

    ``method`` names the network (``overlap_seed1``; default: the first the run saved), ``n_trials`` the
    presentations of each test pattern in the block (at least 2). brian2learn's rates on the block are stored
    with the script; with ``check`` the block also runs in NEST here.
    """
    from brian2learn.export import assemblies as export_assemblies
    from brian2learn.export.nest import script_paths

    script_paths(out)  # a bad --out is refused before anything runs
    method = saved_network_name(run, method)
    spec = export_assemblies.spec_from_file(os.path.join(run.path, f"network_{method}.npz"))
    seed = int((run.summary.get("options") or {}).get("seed", 1))
    block = export_assemblies.test_block(spec, n_trials, seed)
    ours = export_assemblies.run_in_brian2(spec, block, seed)
    script, data = export_assemblies.write_nest_script(
        out, spec, block, ours, source=f"the {method} network of the {run.study} run {run.path}")
    lines = [f"script: {script}", f"network and test block: {data}"]
    if check:
        theirs = export_assemblies.run_in_nest(spec, block, seed)
        duration = block["duration_s"]
        rate_ours, rate_nest = (len(spikes["exc"][0]) / (spec["n_exc"] * duration) for spikes in (ours, theirs))
        lines.append(f"{duration:.1f} s test block, E rate: brian2learn {rate_ours:.3f} Hz, NEST {rate_nest:.3f} Hz "
                     "(noise and the PSP shape differ: compare statistics, see benchmarks/export_nest_assemblies.py)")
    return lines


def plot_run(run, out_dir):
    """Redraw the figures of a finished run from its tables (``brian2learn plot RUN_DIR``); return their names.

    ``run`` is a :class:`~brian2learn.studies.runs.Run` (``brian2learn.load_run``). The example rasters need
    the ``phases_LABEL`` and ``presentations_LABEL`` tables (written since they exist).
    """
    tables = run.tables
    table = tables["points"]
    names = ("spikes_exc", "assemblies", "phases", "presentations")
    example_tables = {label: tuple(tables[f"{name}_{label}"] for name in names)
                      for label in dict.fromkeys(table["label"])
                      if all(f"{name}_{label}" in tables for name in names)}
    return _figures(out_dir, table, example_tables, tables.get("phase_diagram"))


def plot_phase_diagram(grid, value, axes=None, title=None, labels=None):
    """Heat map of ``value`` over gamma_exc (rows) x gamma_w (columns); returns the Axes.

    ``labels``: a column of ``grid`` whose first letter is written in each cell (e.g. ``"regime"``).
    """
    if axes is None:
        _, axes = plt.subplots()
    table = grid.pivot_table(index="gamma_exc", columns="gamma_w", values=value, aggfunc="mean")
    image = axes.imshow(table.to_numpy(), origin="lower", aspect="auto", cmap="viridis")
    if labels is not None:
        rows, cols = list(table.index), list(table.columns)
        for _, point in grid.iterrows():
            if point["gamma_exc"] in rows and point["gamma_w"] in cols:
                axes.text(cols.index(point["gamma_w"]), rows.index(point["gamma_exc"]),
                          str(point[labels])[:1].upper(), ha="center", va="center", color="white")
    axes.set_xticks(range(len(table.columns)))
    axes.set_xticklabels([f"{v:g}" for v in table.columns])
    axes.set_yticks(range(len(table.index)))
    axes.set_yticklabels([f"{v:g}" for v in table.index])
    axes.set_xlabel("gamma_w")
    axes.set_ylabel("gamma_exc")
    axes.figure.colorbar(image, ax=axes)
    axes.set_title(title or value)
    return axes


def _figure_phase_diagram(run_dir, grid):
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.2))
    if "net_recruited_twin" in grid:
        plot_phase_diagram(grid, "overlap_rise_twin", axes=axes[0], labels="regime",
                           title="shared A,B after, minus the sham twin's")
        plot_phase_diagram(grid, "net_recruited_twin", axes=axes[1], labels="regime",
                           title="recruited into A+B, minus the sham twin's")
    else:
        plot_phase_diagram(grid, "overlap_gain", axes=axes[0], labels="regime",
                           title="overlap gain (rise A,B - rise A,C)")
        plot_phase_diagram(grid, "net_recruited_combined", axes=axes[1], labels="regime",
                           title="net recruited into A+B (minus control A+C)")
    plot_phase_diagram(grid, "rate_noise_1_hz", axes=axes[2], title="E rate in the first noise phase (Hz)")
    if "regime_decided_by" in grid and (grid["regime_decided_by"] == "tests").any():
        seeds = int(grid["n_seeds"].max())
        fig.suptitle(f"regime letters: O overlap, R recruitment, B both, N neither, by one-sided Wilcoxon tests "
                     f"against the sham twin over {seeds} held-out seeds (p < {CLAIM_ALPHA})", fontsize=9)
    return save_figure(fig, run_dir, "phase_diagram.png")


def main(argv=None):
    """``python -m brian2learn.studies.stdp_assemblies [options]``: errors in one line, exit status 2."""
    from brian2learn.studies.cli import study_main

    return study_main(sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
