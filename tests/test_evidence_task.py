"""The evidence-accumulation task regenerated from its definition (Bellec et al. 2020, Fig. 3)."""

import brian2 as b2
import numpy as np
import pytest

from brian2learn.tasks.evidence_accumulation import (
    BACKGROUND,
    LEFT,
    RECALL,
    RIGHT,
    evidence_accumulation_trials,
    trial_length,
)


@pytest.fixture(scope="module")
def batch():
    return evidence_accumulation_trials(64, seed=3)


def test_shapes_and_length(batch):
    assert trial_length() == 7 * 150 + 1050 + 150 == 2250
    assert batch["inputs"].shape == (64, 2250, 40)
    assert batch["targets"].shape == (64, 2250, 2)
    assert batch["window"].shape == (64, 2250)
    assert set(np.unique(batch["inputs"])) <= {0.0, 1.0}


def test_label_is_the_side_with_more_cues(batch):
    right_cues = (batch["cues"] == RIGHT).sum(axis=1)
    np.testing.assert_array_equal(batch["labels"], (right_cues >= 4).astype(int))
    assert 0 < batch["labels"].mean() < 1


def test_cue_groups_fire_only_in_their_cue_windows(batch):
    inputs, cues = batch["inputs"], batch["cues"]
    for n in range(8):
        for side in (LEFT, RIGHT):
            allowed = np.zeros(2250, dtype=bool)
            for k in np.flatnonzero(cues[n] == side):
                allowed[k * 150 + 50:k * 150 + 150] = True
            group = inputs[n, :, side * 10:(side + 1) * 10]
            assert group[~allowed].sum() == 0
            if allowed.any():
                rate = group[allowed].mean() * 1000.0
                assert 20 < rate < 60  # 40 Hz, a few hundred draws per window


def test_recall_and_background(batch):
    recall = batch["inputs"][:, :, RECALL * 10:(RECALL + 1) * 10]
    assert recall[:, :2100].sum() == 0
    assert 30 < recall[:, 2100:].mean() * 1000 < 50
    background = batch["inputs"][:, :, BACKGROUND * 10:]
    assert 9 < background.mean() * 1000 < 11  # 64 trials x 2250 steps x 10 channels of 10 Hz


def test_targets_and_window_cover_the_recall_period(batch):
    np.testing.assert_allclose(batch["window"].sum(axis=1), 1.0)
    assert np.all(batch["window"][:, :2100] == 0)
    labels = batch["labels"]
    np.testing.assert_array_equal(batch["targets"][np.arange(64), -1, labels], 1.0)
    np.testing.assert_array_equal(batch["targets"][np.arange(64), -1, 1 - labels], 0.0)
    assert batch["targets"][:, :2100].sum() == 0


def test_favoured_side_gets_seventy_percent_of_cues():
    many = evidence_accumulation_trials(2000, seed=5, params={"delay": 0 * b2.ms})
    majority = np.maximum((many["cues"] == 0).sum(axis=1), (many["cues"] == 1).sum(axis=1))
    # E[majority count] for 7 cues at p = 0.7 on the favoured side, computed exactly:
    from math import comb

    expected = sum(max(k, 7 - k) * comb(7, k) * 0.7 ** k * 0.3 ** (7 - k) for k in range(8))
    assert abs(majority.mean() - expected) < 0.08


def test_seeds_reproduce_and_differ():
    a = evidence_accumulation_trials(4, seed=[1, 0, 7])
    b = evidence_accumulation_trials(4, seed=[1, 0, 7])
    c = evidence_accumulation_trials(4, seed=[1, 0, 8])
    np.testing.assert_array_equal(a["inputs"], b["inputs"])
    assert not np.array_equal(a["inputs"], c["inputs"])


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="'n_trials' must be a positive integer"):
        evidence_accumulation_trials(0, seed=1)
    with pytest.raises(ValueError, match="'n_cues' must be odd"):
        evidence_accumulation_trials(2, seed=1, params={"n_cues": 6})
    with pytest.raises(ValueError, match="unknown task parameters"):
        evidence_accumulation_trials(2, seed=1, params={"cue_rates": 3})
