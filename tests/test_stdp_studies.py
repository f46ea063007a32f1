"""The STDP studies on reduced settings: Song et al. (2000) summary numbers, and the assembly protocol."""

import argparse
import json

import numpy as np
import pytest

from brian2learn.studies import stdp_song
from brian2learn.tasks import assembly_patterns as ap


def test_song_reduced_run_gives_rate_regulation_and_weights_moving_to_both_bounds(tmp_path):
    """Two input rates, 120 s each, A+ = 0.01 (4x the paper's, for speed); one standalone build."""
    args = argparse.Namespace(quick=True, seed=3, rates=[15.0, 30.0], duration=120.0, a_plus=0.01,
                              device="cpp_standalone", out=str(tmp_path / "song"))
    summary = stdp_song.run(args)
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
    args = argparse.Namespace(quick=True, seed=1, rates=[10.0], duration=None, a_plus=None, device="cpp_standalone",
                              out=None)
    with pytest.raises(ValueError, match="--rates"):
        stdp_song.run(args)


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
        assert [counts[(phase, p)] for p in ap.PATTERNS] == [4, 4, 4]
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
    # each presentation lights 10 bins of its pattern(s); A+B lights A and B
    n_a = (pres["pattern"].str.contains("A")).sum()
    assert activity[:, 0].sum() == 10 * n_a
    assert activity[:, 2].sum() == 10 * (pres["pattern"] == "C").sum()
    test = phases[phases["phase"] == "test_before"].iloc[0]
    assert plastic[int(round(test["start"] / 0.01)):int(round(test["end"] / 0.01))].sum() == 0
    assert plastic[:int(round(test["start"] / 0.01))].min() == 1
    patterns = ap.InputPatterns(n_channels=200, n_active=40, rate_noise=3.0, rate_pattern=40.0, seed=5)
    members = patterns.membership()
    assert members.sum(axis=1).tolist() == [40, 40, 40] and members.sum(axis=0).max() == 1  # disjoint
    r = patterns.rates(["A", "B"])
    assert np.sum(r == 40.0) == 80 and np.sum(r == 3.0) == 120
    with pytest.raises(ValueError, match="n_active"):
        ap.InputPatterns(n_channels=100, n_active=40)
    with pytest.raises(ValueError, match="unknown protocol"):
        ap.protocol_schedule({"noise": 1.0})
