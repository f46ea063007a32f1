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
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ImportError("the digits come with scikit-learn: pip install scikit-learn") from None
    data = load_digits()
    x = np.asarray(data.data, dtype=float) / 16.0
    labels = np.asarray(data.target, dtype=int)
    rng = np.random.default_rng(seed)
    test = []
    for digit in range(10):
        members = np.flatnonzero(labels == digit)
        order = rng.permutation(members)
        test.extend(order[:int(round(test_fraction * len(members)))])
    test = np.sort(np.asarray(test))
    train = np.setdiff1d(np.arange(len(labels)), test)
    out = {"x_train": x[train], "y_train": labels[train], "x_test": x[test], "y_test": labels[test],
           "train_index": train, "test_index": test}
    if one_hot:
        for part, index in (("train", train), ("test", test)):
            targets = np.full((len(index), 10), float(low))
            targets[np.arange(len(index)), labels[index]] = high
            out[f"t_{part}"] = targets
    return out
