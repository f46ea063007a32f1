"""The 8x8 handwritten digits that scikit-learn ships, with one fixed, seeded train/test split.

Alpaydin & Kaynak (1998), "Optical Recognition of Handwritten Digits", UCI Machine Learning Repository,
doi:10.24432/C50P49: 1797 images of 8x8 pixels with integer intensities 0..16, classes 0-9, as
``sklearn.datasets.load_digits`` returns them (shipped with scikit-learn, no download). Every study that uses
the digits takes them from here, so all see the same split.

The split is stratified by class: for each class, a permutation drawn from
``numpy.random.default_rng(SPLIT_SEED)`` (one generator, classes in order 0..9) puts the first
``round(test_fraction * n_class)`` images into the test set. Pixels are scaled to [0, 1] (divided by 16).
"""

import numpy as np

#: Seed of the one split every study shares.
SPLIT_SEED = 2024
TEST_FRACTION = 0.2
#: Seed of the validation split cut from the training set (for choosing hyperparameters without the test set).
VALIDATION_SEED = 2025


def load_digits_split(test_fraction=TEST_FRACTION, seed=SPLIT_SEED, one_hot=False, low=0.0, high=1.0):
    """Train and test sets of the scikit-learn digits.

    Parameters
    ----------
    test_fraction : float
        Fraction of each class that goes to the test set, in (0, 1).
    seed : int
        Seed of the split (the default is the one shared split).
    one_hot : bool
        Also return targets as (n, 10) arrays with ``high`` for the class and ``low`` elsewhere.

    Returns
    -------
    dict
        ``x_train`` (n_train, 64), ``y_train`` (n_train,), ``x_test``, ``y_test`` (labels 0..9), and with
        ``one_hot`` ``t_train`` and ``t_test``; ``train_index``, ``test_index`` into scikit-learn's order.
    """
    if not (np.isfinite(test_fraction) and 0 < test_fraction < 1):
        raise ValueError(f"'test_fraction' must lie in (0, 1), got {test_fraction!r}")
    x, labels = _digits()
    train, test = _stratified(labels, np.arange(len(labels)), test_fraction, seed)
    out = {"x_train": x[train], "y_train": labels[train], "x_test": x[test], "y_test": labels[test],
           "train_index": train, "test_index": test}
    if one_hot:
        for part, index in (("train", train), ("test", test)):
            out[f"t_{part}"] = _one_hot(labels[index], low, high)
    return out


def validation_split(split, validation_fraction=TEST_FRACTION, seed=VALIDATION_SEED):
    """Cut a validation set out of a split's training set, stratified the same way; the test set is untouched.

    Parameters
    ----------
    split : dict
        A :func:`load_digits_split` result.
    validation_fraction : float
        Fraction of each class of the training set that goes to the validation set, in (0, 1).
    seed : int
        Seed of the cut (its own generator, so the test split stays the shared one).

    Returns
    -------
    dict
        The split with ``x_train``, ``y_train`` (and ``t_train``, ``train_index``) reduced to the rest, and
        ``x_validation``, ``y_validation`` (``t_validation``), ``validation_index`` (into scikit-learn's order).
    """
    if not (np.isfinite(validation_fraction) and 0 < validation_fraction < 1):
        raise ValueError(f"'validation_fraction' must lie in (0, 1), got {validation_fraction!r}")
    labels = np.asarray(split["y_train"], dtype=int)
    keep, held = _stratified(labels, np.arange(len(labels)), validation_fraction, seed)
    out = dict(split)
    for name in ("x", "y", "t"):
        if f"{name}_train" in split:
            out[f"{name}_train"] = split[f"{name}_train"][keep]
            out[f"{name}_validation"] = split[f"{name}_train"][held]
    out["train_index"], out["validation_index"] = split["train_index"][keep], split["train_index"][held]
    return out


def _digits():
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ImportError("the digits come with scikit-learn: pip install scikit-learn") from None
    data = load_digits()
    return np.asarray(data.data, dtype=float) / 16.0, np.asarray(data.target, dtype=int)


def _stratified(labels, positions, fraction, seed):
    """(kept, held) positions: per class 0..9 in order, a permutation's first round(fraction * n) are held."""
    rng = np.random.default_rng(seed)
    held = []
    for digit in range(10):
        members = positions[labels == digit]
        order = rng.permutation(members)
        held.extend(order[:int(round(fraction * len(members)))])
    held = np.sort(np.asarray(held, dtype=int))
    return np.setdiff1d(positions, held), held


def _one_hot(labels, low, high):
    targets = np.full((len(labels), 10), float(low))
    targets[np.arange(len(labels)), labels] = high
    return targets
