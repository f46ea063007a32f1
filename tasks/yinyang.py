"""The Yin-Yang data set of Kriener, Göltz & Petrovici (2021), regenerated from its definition.

Kriener, Göltz & Petrovici (2021), "The Yin-Yang dataset", arXiv:2102.08211; used by Göltz,
Kriener et al. (2021), Nat Mach Intell 3:823.

Points ``(x, y)`` in the disc of radius ``r_big`` around ``(r_big, r_big)`` (the square
``[0, 2 r_big]^2``) belong to one of three classes:

- ``2`` (*dot*): within ``r_small`` of one of the two dots at ``(r_big/2, r_big)`` and
  ``(3 r_big/2, r_big)``;
- ``1`` (*yin*): within ``r_small`` of the right dot (excluded above already), or at a distance
  in ``(r_small, r_big/2]`` from the left dot, or in the upper half (``y > r_big``) and farther
  than ``r_big/2`` from the right dot;
- ``0`` (*yang*): the rest of the disc.

Sample ``n`` of a data set with ``numpy.random.RandomState(seed)``: draw the goal class
``randint(3)``, then repeatedly draw ``x = rand() * 2 r_big`` and ``y = rand() * 2 r_big``,
rejecting points outside the disc, until a point of the goal class comes. The features are
``(x, y, 1 - x, 1 - y)``. The published splits are 5000 training samples (seed 42), 1000
validation (seed 41) and 1000 test samples (seed 40), with ``r_small = 0.1``, ``r_big = 0.5``.
"""

import numpy as np

CLASS_NAMES = ("yang", "yin", "dot")
SPLITS = {"train": (5000, 42), "validation": (1000, 41), "test": (1000, 40)}
R_SMALL = 0.1
R_BIG = 0.5
#: Input spike times of Göltz et al. (2021) (:func:`encode_spike_times`), in units of ``tau_s``: our choice.
ENCODING = {"t_early": 0.15, "t_late": 2.0, "t_bias": 0.9}


def _check_radii(r_small, r_big):
    if not np.isfinite(r_big) or r_big <= 0:
        raise ValueError(f"'r_big' must be a positive number, got {r_big!r}")
    if not np.isfinite(r_small) or not 0 < r_small < r_big / 2:
        raise ValueError(f"'r_small' must lie in (0, r_big/2), got {r_small!r}")


def yin_yang_class(x, y, r_small=R_SMALL, r_big=R_BIG):
    """Class (0 yang, 1 yin, 2 dot) of points ``(x, y)``; arrays broadcast. Points outside the disc
    are classified by the same rules (check ``in_disc`` separately)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    d_right = np.hypot(x - 1.5 * r_big, y - r_big)
    d_left = np.hypot(x - 0.5 * r_big, y - r_big)
    yin = ((d_right <= r_small) | ((d_left > r_small) & (d_left <= 0.5 * r_big))
           | ((y > r_big) & (d_right > 0.5 * r_big)))
    dot = (d_right < r_small) | (d_left < r_small)
    return np.where(dot, 2, yin.astype(int))


def in_disc(x, y, r_big=R_BIG):
    """Whether ``(x, y)`` lies in the yin-yang disc (distance to the center at most ``r_big``)."""
    return np.hypot(np.asarray(x, dtype=float) - r_big, np.asarray(y, dtype=float) - r_big) <= r_big


def yin_yang_dataset(size, seed, r_small=R_SMALL, r_big=R_BIG):
    """``size`` samples drawn as in Kriener et al.: returns ``{'features': (size, 4), 'labels': (size,)}``.

    Features are ``(x, y, 1 - x, 1 - y)``; the draw order is described in the module docstring.
    """
    if not isinstance(size, (int, np.integer)) or size < 0:
        raise ValueError(f"'size' must be a non-negative integer, got {size!r}")
    if not isinstance(seed, (int, np.integer)):
        raise ValueError(f"'seed' must be an integer, got {seed!r}")
    _check_radii(r_small, r_big)
    rng = np.random.RandomState(seed)
    features = np.empty((size, 4))
    labels = np.empty(size, dtype=int)
    for n in range(size):
        goal = rng.randint(3)
        while True:
            x = rng.rand() * 2.0 * r_big
            y = rng.rand() * 2.0 * r_big
            if not in_disc(x, y, r_big):
                continue
            if int(yin_yang_class(x, y, r_small, r_big)) == goal:
                break
        features[n] = (x, y, 1.0 - x, 1.0 - y)
        labels[n] = goal
    return {"features": features, "labels": labels}


def yin_yang_splits(r_small=R_SMALL, r_big=R_BIG):
    """The published splits: ``{'train': ..., 'validation': ..., 'test': ...}`` (see :data:`SPLITS`)."""
    return {name: yin_yang_dataset(size, seed, r_small, r_big) for name, (size, seed) in SPLITS.items()}


def encode_spike_times(features, t_early=ENCODING["t_early"], t_late=ENCODING["t_late"], t_bias=ENCODING["t_bias"]):
    """Input spike times ``t_early + (t_late - t_early) * feature`` plus a bias spike at ``t_bias``.

    ``features`` (n, F) in [0, 1]; returns (n, F + 1) times (the bias last), in units of ``tau_s``.
    """
    features = np.asarray(features, dtype=float)
    if features.ndim != 2:
        raise ValueError(f"'features' must have shape (n, F), got {features.shape}")
    if not (np.isfinite(t_early) and np.isfinite(t_late) and 0 <= t_early < t_late):
        raise ValueError(f"'t_early' and 't_late' must satisfy 0 <= t_early < t_late, got {t_early!r}, {t_late!r}")
    if not np.isfinite(t_bias) or t_bias < 0:
        raise ValueError(f"'t_bias' must be a non-negative time, got {t_bias!r}")
    times = t_early + (t_late - t_early) * features
    return np.concatenate([times, np.full((len(features), 1), float(t_bias))], axis=1)
