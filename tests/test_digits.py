"""The shared digits split: fixed, stratified, disjoint, reproducible."""

import numpy as np
import pytest

from brian2learn.tasks.digits import load_digits_split


def test_split_is_fixed_stratified_and_disjoint():
    split = load_digits_split(one_hot=True, low=0.1, high=0.9)
    assert len(split["x_train"]) + len(split["x_test"]) == 1797
    assert not set(split["train_index"]) & set(split["test_index"])
    counts_test = np.bincount(split["y_test"], minlength=10)
    counts_all = counts_test + np.bincount(split["y_train"], minlength=10)
    np.testing.assert_array_equal(counts_test, np.round(0.2 * counts_all).astype(int))
    assert split["x_train"].min() == 0.0 and split["x_train"].max() == 1.0
    np.testing.assert_array_equal(np.argmax(split["t_test"], axis=1), split["y_test"])
    assert set(np.unique(split["t_train"])) == {0.1, 0.9}
    again = load_digits_split()
    np.testing.assert_array_equal(again["test_index"], split["test_index"])
    other = load_digits_split(seed=1)
    assert not np.array_equal(other["test_index"], split["test_index"])
    with pytest.raises(ValueError, match="'test_fraction'"):
        load_digits_split(test_fraction=1.0)


def test_validation_split_is_a_stratified_part_of_the_training_set():
    from brian2learn.tasks.digits import validation_split

    split = load_digits_split(one_hot=True)
    cut = validation_split(split)
    # together the two parts are the training set, disjoint; the test set is untouched
    assert np.array_equal(np.sort(np.concatenate([cut["train_index"], cut["validation_index"]])),
                          split["train_index"])
    assert np.intersect1d(cut["train_index"], cut["validation_index"]).size == 0
    assert np.array_equal(cut["x_test"], split["x_test"])
    # stratified: each class gives round(0.2 * its training images)
    expected = np.round(0.2 * np.bincount(split["y_train"])).astype(int)
    assert np.array_equal(np.bincount(cut["y_validation"], minlength=10), expected)
    position = np.searchsorted(split["train_index"], cut["validation_index"])
    assert np.array_equal(cut["x_validation"], split["x_train"][position])
    assert np.array_equal(cut["t_validation"], split["t_train"][position])
    with pytest.raises(ValueError, match="'validation_fraction' must lie in"):
        validation_split(split, validation_fraction=0.0)
