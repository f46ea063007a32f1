"""The held-out protocol of stdp-assemblies: paired statistics per regime and the regime claim decided from them."""

import numpy as np
import pandas as pd
import pytest

from brian2learn.studies import stdp_assemblies as sa


def regime_frame(overlap_effect, recruitment_effect, beyond_control):
    return pd.DataFrame({"overlap_rise_twin": overlap_effect, "net_recruited_twin": recruitment_effect,
                         "net_recruited_combined": beyond_control})


def test_the_claim_holds_only_when_each_regime_shows_its_own_effect_on_the_seeds():
    n = 20
    zeros, ones = np.zeros(n), np.ones(n)
    # overlap regime: 1, 2, ..., 20 more shared members than the twin, no recruitment beyond A+C: all 20
    # signs positive and no ties, so p = 2^-20 exactly; recruitment regime: +8 recruited, overlap alternating +-1
    overlap = regime_frame(np.arange(1.0, n + 1), 3 * ones, zeros)
    recruitment = regime_frame(np.resize([1.0, -1.0], n), 8 * ones, 2 * ones)
    statistics = {"overlap": sa.regime_statistics(overlap), "recruitment": sa.regime_statistics(recruitment)}
    assert statistics["overlap"]["overlap_effect"]["p_value"] == pytest.approx(2.0 ** -20)
    assert statistics["overlap"]["overlap_minus_recruitment"]["mean"] == 10.5
    assert statistics["recruitment"]["overlap_effect"]["p_two_sided"] == pytest.approx(1.0)
    claim = sa.regime_claim(statistics)
    assert claim["overlap"]["holds"] and claim["recruitment"]["holds"] and claim["claim_holds"]
    # the unseen-seed finding: the overlap regime recruits as much as it overlaps -> the claim fails
    statistics["overlap"] = sa.regime_statistics(regime_frame(np.resize([1.0, 2.0, 2.0], n), 4 * ones,
                                                              np.resize([6.0, 5.0, 3.0], n)))
    claim = sa.regime_claim(statistics)
    assert list(claim["overlap"]["tests"].values()) == [True, False]  # an overlap effect, but not above recruitment
    assert not claim["claim_holds"]
    # a recruitment regime whose overlap also rises significantly is not the recruitment regime
    statistics["recruitment"] = sa.regime_statistics(regime_frame(3 * ones, 8 * ones, zeros))
    assert not sa.regime_claim(statistics)["recruitment"]["holds"]
    assert sa.regime_statistics(overlap.iloc[:1]) == {}  # one seed: no statistics


def test_held_out_options_are_checked():
    assert sa.HELD_OUT_SEEDS == tuple(range(6, 26)) and not set(sa.HELD_OUT_SEEDS) & set(sa.TUNING_SEEDS)
    with pytest.raises(ValueError, match="give '--held-out' .* or '--seeds', not both"):
        sa.Options(held_out=True, seeds=(6, 7))
    with pytest.raises(ValueError, match="drop '--no-sham-control'"):
        sa.Options(held_out=True, no_sham_control=True)


def test_a_point_s_regime_is_the_one_whose_tests_hold_on_its_seeds():
    # n positive, distinct differences: one-sided signed-rank p = 2^-n exactly, below 0.01 from n = 7 on
    for n, expected in ((7, "overlap"), (6, "neither")):
        frame = regime_frame(np.arange(1.0, n + 1), np.zeros(n), np.zeros(n))
        statistics = sa.regime_statistics(frame)
        assert statistics["overlap_effect"]["p_value"] == pytest.approx(2.0 ** -n)
        assert sa.regime_by_tests(statistics) == expected
    recruiting = regime_frame(np.resize([1.0, -1.0], 8), np.arange(2.0, 10.0), np.arange(1.0, 9.0))
    assert sa.regime_by_tests(sa.regime_statistics(recruiting)) == "recruitment"
    assert sa.regime_by_tests({}) is None  # one seed: no statistics, no tested regime


def test_the_held_out_phase_diagram_takes_each_point_s_regime_from_its_tests(monkeypatch):
    from brian2learn.studies import sweep

    n = 8
    frames = {(0.5, 0.7): regime_frame(np.arange(1.0, n + 1), np.zeros(n), np.zeros(n)),  # overlap alone
              (0.5, 1.6): regime_frame(np.resize([1.0, -1.0], n), np.arange(2.0, 10.0), np.arange(1.0, 9.0)),
              (1.5, 0.5): regime_frame(np.resize([1.0, -1.0], n), np.resize([1.0, -1.0], n), np.zeros(n))}
    records = []
    for (ge, gw), frame in frames.items():  # the point's summary as run() writes it, flattened as the sweep does
        statistics = sa.regime_statistics(frame)
        point = {"mean": frame.mean().to_dict(), "statistics": statistics,
                 "regime_by_tests": sa.regime_by_tests(statistics)}
        records.append({"param.gamma_exc": ge, "param.gamma_w": gw, "status": "completed",
                        **sweep.flatten({"regimes": {"point": point}})})
    records.append({"param.gamma_exc": 1.0, "param.gamma_w": 1.0, "status": "failed: worker lost"})
    seen = {}

    def fake_sweep(study, grid, seeds, out_dir, **kwargs):
        seen.update(grid=grid, seeds=seeds)
        return pd.DataFrame(records)

    monkeypatch.setattr(sweep, "run_sweep", fake_sweep)
    options = {"device": "cpp_standalone", "seeds": [str(s) for s in sa.HELD_OUT_SEEDS[:n]]}
    grid = sa.phase_diagram([0.5, 1.0, 1.5], [0.5, 0.7, 1.0, 1.6], sa.HELD_OUT_SEEDS[0], "unused", options=options)
    assert seen["grid"]["seeds"] == [options["seeds"]] and seen["seeds"] == [6]
    regimes = dict(zip(zip(grid["gamma_exc"], grid["gamma_w"]), grid["regime"]))
    assert regimes == {(0.5, 0.7): "overlap", (0.5, 1.6): "recruitment", (1.5, 0.5): "neither",
                       (1.0, 1.0): "failed"}
    tested = grid[grid["regime_decided_by"] == "tests"]
    assert len(tested) == 3 and set(tested["n_seeds"]) == {n}
    assert tested["p_overlap"].iloc[0] == pytest.approx(2.0 ** -n)


def test_phase_seeds_are_checked_and_taken_from_the_held_out_seeds():
    with pytest.raises(ValueError, match="'--phase-seeds' .* add '--phase-diagram'"):
        sa.Options(phase_seeds=8)
    with pytest.raises(ValueError, match="'--phase-seeds' must be at most 20"):
        sa.Options(phase_diagram=True, phase_seeds=21)
    with pytest.raises(ValueError, match="drop '--no-sham-control'"):
        sa.Options(phase_diagram=True, phase_seeds=8, no_sham_control=True)
    assert sa._phase_point_seeds(sa.Options(phase_diagram=True, phase_seeds=8), [1]) == list(range(6, 14))
    assert sa._phase_point_seeds(sa.Options(phase_diagram=True), [1]) == [1, 2, 3]
