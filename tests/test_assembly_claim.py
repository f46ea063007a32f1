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
