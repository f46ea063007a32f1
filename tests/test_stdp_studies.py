"""The STDP studies on reduced settings: Song et al. (2000) summary numbers, and the assembly protocol."""

import argparse
import json

import numpy as np
import pytest

from brian2learn.studies import stdp_song
from brian2learn.tasks import assembly_patterns as ap


def test_song_reduced_run_gives_rate_regulation_and_weights_moving_to_both_bounds(tmp_path,
                                                                                 summary_vocabulary):
    """Two input rates, 120 s each, A+ = 0.01 (4x the paper's, for speed); one standalone build."""
    options = stdp_song.Options(quick=True, seed=3, rates=[15.0, 30.0], duration=120.0, a_plus=0.01,
                                device="cpp_standalone", out=str(tmp_path / "song"))
    summary = stdp_song.run(options)
    summary_vocabulary(summary, spiking=True)
    assert json.loads((tmp_path / "song" / "summary.json").read_text())["status"] == "completed"
    assert summary["builds"] == 1 and summary["binary_runs"] == 2
    # the static control neuron's rate grows steeply with the input rate, the plastic neuron's does not
    assert summary["rate_ratio_static"] > 3.0
    assert summary["rate_ratio_stdp"] < 2.0
    assert summary["regulation_index"] < 0.5
    for entry in summary["per_rate"].values():
        # from uniform initial weights (20 % in the two outer tenths, 80 % between) towards the bounds
        assert entry["frac_low"] + entry["frac_high"] > 0.35
        assert entry["frac_mid"] < 0.65
        assert entry["frac_high"] > 0.02 and entry["frac_low"] > 0.2
    assert summary["per_rate"]["30"]["mean_w"] < summary["per_rate"]["15"]["mean_w"]  # competition


def test_song_bad_arguments():
    with pytest.raises(ValueError, match="--rates"):
        stdp_song.run(stdp_song.Options(quick=True, seed=1, rates=[10.0], duration=None, a_plus=None,
                                        device="cpp_standalone", out=None))


PROTOCOL = {"noise_1": 2.0, "encoding": 20.0, "noise_2": 2.0, "n_test": 4, "n_association": 5, "noise_3": 2.0}


def test_protocol_phases_have_seed_independent_boundaries_and_right_counts():
    phases1, pres1 = ap.protocol_schedule(PROTOCOL, seed=1)
    phases2, pres2 = ap.protocol_schedule(PROTOCOL, seed=2)
    np.testing.assert_allclose(phases1[["start", "end"]].to_numpy(), phases2[["start", "end"]].to_numpy())
    assert list(phases1["phase"]) == ["noise_1", "encoding", "noise_2", "test_before", "association", "noise_3",
                                      "test_after"]
    assert list(phases1["plastic"]) == [True, True, True, False, True, True, False]
    counts = pres1.groupby(["phase", "pattern"]).size()
    for phase in ("test_before", "test_after"):
        assert [counts[(phase, p)] for p in ap.TEST_PATTERNS] == [4, 4, 4, 4, 4]  # A, B, C, A+B, A+C
    assert counts[("association", "A+B")] == 5
    assert set(pres1.loc[pres1["phase"] == "encoding", "pattern"]) <= set(ap.PATTERNS)
    # presentations stay inside their phase, gaps at least the minimal gap
    for _, row in phases1.iterrows():
        onsets = np.sort(pres1.loc[pres1["phase"] == row["phase"], "onset"].to_numpy())
        if len(onsets):
            assert onsets[0] >= row["start"] and onsets[-1] + 0.1 <= row["end"]
            gap_min = 0.4 if row["phase"].startswith("test") else 0.5
            assert np.all(np.diff(onsets) >= 0.1 + gap_min - 1e-12)


def test_rendered_schedule_and_input_rates():
    phases, pres = ap.protocol_schedule(PROTOCOL, seed=1)
    activity, plastic = ap.render_schedule(phases, pres, 0.1, bin_dt=0.01)
    n_bins = int(round(phases["end"].max() / 0.01))
    assert activity.shape == (n_bins, 3) and plastic.shape == (n_bins,)
    # each presentation lights 10 bins of its pattern(s); A+B lights A and B, A+C lights A and C
    for column, name in enumerate(ap.PATTERNS):
        shown = sum(name in pattern.split("+") for pattern in pres["pattern"])
        assert activity[:, column].sum() == 10 * shown
    assert (pres["pattern"] == "A+C").sum() == 2 * PROTOCOL["n_test"]  # test blocks only
    test = phases[phases["phase"] == "test_before"].iloc[0]
    assert plastic[int(round(test["start"] / 0.01)):int(round(test["end"] / 0.01))].sum() == 0
    assert plastic[:int(round(test["start"] / 0.01))].min() == 1
    patterns = ap.InputPatterns(n_channels=200, n_active=40, rate_noise=3.0, rate_pattern=40.0, seed=5)
    members = patterns.membership()
    assert members.sum(axis=1).tolist() == [40, 40, 40] and members.sum(axis=0).max() == 1  # disjoint
    r = patterns.rates(["A", "B"])
    assert np.sum(r == 40.0) == 80 and np.sum(r == 3.0) == 120


def test_sham_schedule_leaves_out_only_the_association():
    phases, pres = ap.protocol_schedule(PROTOCOL, seed=2)
    activity, plastic = ap.render_schedule(phases, pres, 0.1, bin_dt=0.01)
    sham, sham_plastic = ap.render_schedule(phases, pres, 0.1, bin_dt=0.01, silent_phases=("association",))
    assoc = phases[phases["phase"] == "association"].iloc[0]
    first, last = int(round(assoc["start"] / 0.01)), int(round(assoc["end"] / 0.01))
    # the association shows A+B n_association times for 10 bins each; the sham twin shows nothing there
    assert activity[first:last].sum(axis=0).tolist() == [10 * PROTOCOL["n_association"]] * 2 + [0]
    assert sham[first:last].sum() == 0
    np.testing.assert_array_equal(np.delete(sham, np.s_[first:last], axis=0),
                                  np.delete(activity, np.s_[first:last], axis=0))
    np.testing.assert_array_equal(sham_plastic, plastic)  # learning stays on during the silent association
    with pytest.raises(ValueError, match="silent_phases"):
        ap.render_schedule(phases, pres, 0.1, silent_phases=("assoc",))
    with pytest.raises(ValueError, match="silent_phases"):
        ap.render_schedule(phases, pres, 0.1, silent_phases="association")
    with pytest.raises(ValueError, match="n_active"):
        ap.InputPatterns(n_channels=100, n_active=40)
    with pytest.raises(ValueError, match="unknown protocol"):
        ap.protocol_schedule({"noise": 1.0})


def test_assembly_network_encodes_patterns_and_freezes_weights_when_learning_is_off():
    """A reduced assembly network on the runtime device (no compilation): after encoding, the neurons that the
    first test block assigns to a pattern respond to it in the second, held-out test block far above their own
    baseline and above their response to another pattern; with the plasticity gate at 0 the weights stay put."""
    from brian2learn.analysis import assemblies as asm
    from brian2learn.plasticity import assembly_network as an
    from brian2learn.studies import stdp_assemblies as sa

    network = {**an.NETWORK, "n_exc": 100, "n_inh": 25, "n_in": 100, "p_in": 0.2, "p_ei": 1.0, "p_ie": 1.0, "eta": 1.0}
    protocol = {"noise_1": 0.3, "encoding": 4.0, "noise_2": 0.3, "n_test": 6, "test_gap_range": (0.15, 0.2),
                "n_association": 1, "gap_range": (0.3, 0.6), "noise_3": 0.3}
    config = an.AssemblyConfig(network=network, protocol=protocol, inputs={**an.INPUTS, "n_active": 20})
    runner = sa.make_runner(config, device="runtime")
    result = sa.evaluate_point(runner, config, 1.0, 1.0, seed=4, keep=True, sham_control=True)
    data = result["data"]
    # the sham twin (same seed, association left out) spikes exactly as the run until the association starts,
    # and differently afterwards
    sham, phases = data["sham"], data["phases"]
    t_assoc = float(phases.loc[phases["phase"] == "association", "start"].iloc[0])
    for key in ("t", "i"):
        np.testing.assert_array_equal(sham[key][sham["t"] < t_assoc], data[key][data["t"] < t_assoc])
    late, sham_late = data["t"] >= t_assoc, sham["t"] >= t_assoc
    assert late.sum() != sham_late.sum() or not np.array_equal(data["i"][late], sham["i"][sham_late])
    assert result["sham_before_identical"] == 1.0
    recruited = {name: len(asm.recruited_into_combination(d["before"], d["after"], ("A", "B")))
                 for name, d in (("run", data), ("sham", sham))}
    assert result["net_recruited_twin"] == recruited["run"] - recruited["sham"]
    assert result["overlap_rise_twin"] == (len(set(data["after"]["A"]) & set(data["after"]["B"]))
                                           - len(set(sham["after"]["A"]) & set(sham["after"]["B"])))
    t, i = data["t"], data["i"]
    pres = data["presentations"]
    after = pres[pres["phase"] == "test_after"]
    members = data["before"]["A"]
    assert len(members) >= 3
    resp_a, base_a = asm.response_rates(t, i, ap.rounded_onsets(after[after["pattern"] == "A"]), 100)
    resp_c, _ = asm.response_rates(t, i, ap.rounded_onsets(after[after["pattern"] == "C"]), 100)
    rate_a, rate_base, rate_c = (x[:, members].mean() for x in (resp_a, base_a, resp_c))
    assert rate_a > 3 * rate_base + 2.0  # Hz, held-out response well above the members' own baseline
    assert rate_a > 2 * rate_c
    values, _, _, _ = an.initial_values(config, runner.model.conn, 1.0, 1.0, 4)
    assert np.mean(np.abs(data["w_ee_after"] - values["w_ee"])) > 1e-3  # learning moved the weights
    # a short run with the plasticity gate at 0 throughout: final weights are the initial ones, bit for bit
    short = an.AssemblyConfig(network=network, inputs=config.inputs, protocol={
        **protocol, "encoding": 1.0, "n_test": 1})
    runner = sa.make_runner(short, device="runtime")
    values, stimuli, _, _ = an.initial_values(short, an.connectivity(short), 1.0, 1.0, 4)
    stimuli["plastic"] = np.zeros_like(stimuli["plastic"])
    model = runner.run(values, stimuli)
    assert model.spikes_exc.num_spikes > 0
    np.testing.assert_array_equal(np.asarray(model.syn_in.w[:]), values["w_in"])
    np.testing.assert_array_equal(np.asarray(model.syn_ee.w[:]), values["w_ee"])


def test_regime_targets_count_recruitment_into_the_combination():
    from brian2learn.studies import stdp_assemblies as study

    base = {"shared_AB_after": 10, "shared_AC_after": 9, "jaccard_AB_after": 0.2, "jaccard_AC_after": 0.2,
            "overlap_rise_associated": 1, "overlap_rise_control": 0, "overlap_gain": 1, "size_A_after": 20,
            "size_B_after": 20, "net_recruited": 0, "net_recruited_combined": 6}
    recruitment = study.regime_targets("recruitment", base)
    assert recruitment["targets_met"] and recruitment["targets_info"]["margin"] == 2.0
    # new neurons in A's or B's assemblies do not count as recruitment into the combination
    moved = study.regime_targets("recruitment", {**base, "net_recruited": 9, "net_recruited_combined": 0})
    assert not moved["targets"]["recruited_more_than_overlap_rise"]
    assert not study.regime_targets("recruitment", {**base, "shared_AB_after": 14})["targets_met"]
    overlap = {**base, "shared_AB_after": 16, "overlap_rise_associated": 8, "overlap_rise_control": 2,
               "overlap_gain": 6, "net_recruited_combined": 1}
    assert study.regime_targets("overlap", overlap)["targets_met"] and study.classify_regime(overlap) == "overlap"
    assert not study.regime_targets("overlap", {**overlap, "net_recruited_combined": 7})["targets_met"]
    assert study.classify_regime(base) == "recruitment" and study.regime_targets("other", base) == {}
    # with the sham twin, recruitment is counted against the same run without the association instead
    twin = {**base, "net_recruited_twin": 0, "overlap_rise_twin": 0}
    assert not study.regime_targets("recruitment", twin)["targets_met"]
    assert study.regime_targets("recruitment", twin)["targets_info"]["recruitment_control"] == "sham twin"
    assert study.regime_targets("recruitment", {**twin, "net_recruited_twin": 3})["targets_met"]
    assert not study.regime_targets("recruitment", {**twin, "net_recruited_twin": 3, "overlap_rise_twin": 4})[
        "targets_met"]
    assert study.classify_regime({**overlap, "net_recruited_twin": 7, "overlap_rise_twin": 6}) == "neither"


def test_assembly_network_learns_with_the_chosen_triplet_parameter_set():
    """``stdp_rule`` picks the triplet parameters of both plastic pathways (``sliding_threshold`` adds the
    BCM-like threshold to both); the caps stay the network's."""
    from brian2learn.plasticity import assembly_network as an
    from brian2learn.plasticity import stdp

    network = {**an.NETWORK, "n_exc": 20, "n_inh": 5, "n_in": 20, "stdp_rule": "hippocampal-minimal",
               "sliding_threshold": {}}
    model = an.AssemblyNetwork(an.AssemblyConfig(network=network, protocol={"noise_1": 0.1, "encoding": 0.2,
                                                                            "noise_2": 0.1, "n_test": 1,
                                                                            "n_association": 1, "noise_3": 0.1}))
    expected = stdp.PFISTER2006_HIPPOCAMPAL_MINIMAL
    for syn, cap in ((model.syn_in, network["cap_in"]), (model.syn_ee, network["cap_ee"])):
        for key in ("A2_plus", "A3_plus", "A2_minus", "tau_y"):
            assert syn.namespace[key] == expected[key]
        assert syn.namespace["w_max"] == cap and syn.namespace["eta"] == network["eta"]
        # the sliding threshold's rate estimate starts at rho_0 on every synapse
        np.testing.assert_allclose(np.asarray(syn.rbar[:]), float(stdp.SLIDING_THRESHOLD["rho_0"]))
        assert "rbar/rho_0" in syn.pre.code


def test_fixed_input_in_degree_gives_every_neuron_the_same_number_of_distinct_channels():
    from brian2learn.plasticity import assembly_network as an

    network = an.NETWORK  # the default: fixed in-degree
    i, j = an.connectivity(an.AssemblyConfig(network=network))["in"]
    k = round(network["p_in"] * network["n_in"])
    assert np.all(np.bincount(j, minlength=network["n_exc"]) == k)
    assert len(set(zip(i.tolist(), j.tolist()))) == len(i)  # no channel twice onto one neuron
    assert i.min() >= 0 and i.max() < network["n_in"]
    bernoulli_i, bernoulli_j = an.connectivity(an.AssemblyConfig(network={**network, "in_fixed_degree": False}))["in"]
    assert np.bincount(bernoulli_j).std() > 1  # Bernoulli(p_in) per pair


def test_phase_diagram_points_repeat_the_options_of_the_run_that_are_not_at_default():
    from brian2learn.studies import stdp_assemblies as sa

    parser = argparse.ArgumentParser()
    sa.Options.add_arguments(parser)

    def parse(argv):
        return sa.Options.from_args(parser.parse_args(argv))

    assert sa._point_options(parse([])) == {"device": "cpp_standalone"}
    options = sa._point_options(parse(["--quick", "--device", "runtime", "--stdp-rule", "hippocampal-full",
                                       "--bernoulli-in-degree", "--sliding-threshold", "1.5", "--seed", "4",
                                       "--no-sham-control"]))
    assert options == {"device": "runtime", "quick": "true", "stdp-rule": "hippocampal-full",
                       "bernoulli-in-degree": "true", "sliding-threshold": "1.5", "no-sham-control": "true"}
    assert sa._point_options(parse(["--sliding-threshold", "2.0"])) == {"device": "cpp_standalone"}
    assert sa._point_options(parse(["--sliding-threshold", "off"]))["sliding-threshold"] == "off"
