"""Paired effects over seeds: the signed-rank p-values and effect sizes against counts made by hand."""

import itertools

import numpy as np
import pytest

from brian2learn.analysis.paired import paired_effect


def exact_signed_rank_tail(ranks, w_minus):
    """P(W- <= w_minus) under the null: the share of the 2^n sign assignments whose negative ranks sum to <= it."""
    sums = [sum(r for r, negative in zip(ranks, signs, strict=True) if negative)
            for signs in itertools.product((False, True), repeat=len(ranks))]
    return np.mean(np.asarray(sums) <= w_minus)


def test_p_values_and_effect_sizes_equal_the_enumerated_null_distribution():
    d = [1, -2, 3, 4, 5, 6]  # ranks 1..6, the rank 2 negative: W+ = 19, W- = 2
    greater = paired_effect(d, alternative="greater")
    assert (greater["w_plus"], greater["w_minus"]) == (19.0, 2.0)
    assert greater["p_value"] == pytest.approx(exact_signed_rank_tail(range(1, 7), 2))  # 3/64
    assert paired_effect(d)["p_value"] == pytest.approx(2 * 3 / 64)
    assert greater["rank_biserial"] == pytest.approx(17 / 21)
    assert greater["mean"] == pytest.approx(17 / 6)
    assert greater["se"] == pytest.approx(np.std(d, ddof=1) / np.sqrt(6))
    assert greater["cohen_dz"] == pytest.approx(np.mean(d) / np.std(d, ddof=1))
    assert paired_effect([-x for x in d], alternative="less")["p_value"] == pytest.approx(3 / 64)


def test_zero_differences_are_dropped_and_all_zero_is_no_evidence():
    with_zeros = paired_effect([0, 0, 1, 2, 3, 4, 5], alternative="greater")
    assert with_zeros["n"] == 7 and with_zeros["n_nonzero"] == 5
    assert with_zeros["p_value"] == pytest.approx(1 / 32)  # as for [1, 2, 3, 4, 5]
    none = paired_effect([0, 0, 0])
    assert none["p_value"] == 1.0 and none["rank_biserial"] == 0.0 and np.isnan(none["cohen_dz"])


@pytest.mark.parametrize("differences, alternative, message", [
    ([1.0], "greater", "'differences' needs at least 2 values"),
    ([1.0, np.nan], "greater", "'differences' must be finite"),
    ([1.0, 2.0], "bigger", "'alternative' must be one of two-sided, greater, less"),
])
def test_bad_input_names_the_parameter(differences, alternative, message):
    with pytest.raises(ValueError, match=message):
        paired_effect(differences, alternative=alternative)
