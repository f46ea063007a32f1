"""The Yin-Yang data set is regenerated exactly (golden values of Kriener et al.'s training split)."""

import numpy as np
import pytest

from brian2learn.tasks import yinyang


@pytest.fixture(scope="module")
def splits():
    return yinyang.yin_yang_splits()


def test_training_split_golden_values(splits):
    train = splits["train"]
    assert train["features"].shape == (5000, 4)
    assert train["features"][0].tolist() == [0.6803075385877797, 0.450499251969543, 0.3196924614122203,
                                             0.549500748030457]
    assert train["labels"][:10].tolist() == [2, 1, 2, 1, 1, 1, 0, 2, 2, 0]
    assert np.bincount(train["labels"]).tolist() == [1681, 1702, 1617]


def test_split_sizes_seeds_and_consistency(splits):
    assert {name: len(split["labels"]) for name, split in splits.items()} == {
        "train": 5000, "validation": 1000, "test": 1000}
    assert not np.array_equal(splits["validation"]["features"], splits["test"]["features"])
    again = yinyang.yin_yang_dataset(1000, 40)
    np.testing.assert_array_equal(again["features"], splits["test"]["features"])
    for split in splits.values():
        x, y, x_flipped, y_flipped = split["features"].T
        np.testing.assert_allclose(x + x_flipped, 1.0)
        np.testing.assert_allclose(y + y_flipped, 1.0)
        assert yinyang.in_disc(x, y).all()
        np.testing.assert_array_equal(yinyang.yin_yang_class(x, y), split["labels"])


def test_class_geometry():
    # The dots at (0.25, 0.5) and (0.75, 0.5); yin (1) fills the upper half away from the right dot.
    assert yinyang.yin_yang_class([0.25, 0.75], [0.5, 0.5]).tolist() == [2, 2]
    assert int(yinyang.yin_yang_class(0.5, 0.9)) == 1
    assert int(yinyang.yin_yang_class(0.5, 0.1)) == 0
    assert int(yinyang.yin_yang_class(0.25, 0.33)) == 1  # the yin's round head around the left dot
    assert int(yinyang.yin_yang_class(0.75, 0.67)) == 0  # the yang's head around the right dot


def test_encoding():
    features = np.array([[0.0, 1.0, 0.5, 0.25]])
    times = yinyang.encode_spike_times(features, t_early=0.15, t_late=2.0, t_bias=0.9)
    np.testing.assert_allclose(times, [[0.15, 2.0, 1.075, 0.6125, 0.9]])


@pytest.mark.parametrize("call, name", [
    (lambda: yinyang.yin_yang_dataset(-1, 42), "'size'"),
    (lambda: yinyang.yin_yang_dataset(10, 1.5), "'seed'"),
    (lambda: yinyang.yin_yang_dataset(10, 42, r_small=0.3), "'r_small'"),
    (lambda: yinyang.yin_yang_dataset(10, 42, r_big=-1.0), "'r_big'"),
    (lambda: yinyang.encode_spike_times(np.zeros(4)), "'features'"),
    (lambda: yinyang.encode_spike_times(np.zeros((2, 4)), t_early=2.0, t_late=1.0), "'t_early'"),
])
def test_bad_input_names_the_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()
