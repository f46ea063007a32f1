"""The 8x8 digits presented pixel by pixel: a small sequential-classification task (not S-MNIST).

The images are scikit-learn's 8x8 digits with the one shared split of :mod:`brian2learn.tasks.digits`
(1438 training, 359 test images). An image becomes a sequence of 64 steps, one pixel per step in row-major order
(as sequential MNIST presents 784 pixels; this task is 12 times shorter and far easier, and its numbers must not
be compared with S-MNIST's). Two spike encodings of the pixel intensity :math:`p_t \\in [0, 1]` (in sixteenths):

- ``'thermometer'`` (intensity spikes): ``n_levels`` input channels, channel ``k`` spikes at step ``t`` when
  :math:`p_t > (k + 1/2)/n_{levels}`; brighter pixels make more channels spike;
- ``'level-crossing'``: two channels, "up" spikes when :math:`p_t - p_{t-1} \\ge \\delta`, "down" when
  :math:`p_{t-1} - p_t \\ge \\delta` (:math:`p_{-1} = 0`), as the ECG data are encoded.

The label is the digit at every step; a classifier is scored at the last step only.
"""

import numpy as np

from brian2learn.tasks.digits import load_digits_split

ENCODINGS = ("thermometer", "level-crossing")
N_STEPS = 64


def encode(images, encoding="thermometer", n_levels=8, delta=0.25):
    """Spike sequences (n, 64, channels) of ``images`` (n, 64) with intensities in [0, 1]."""
    images = np.asarray(images, dtype=float)
    if images.ndim != 2 or images.shape[1] != N_STEPS:
        raise ValueError(f"'images' must have shape (n, {N_STEPS}), got {images.shape}")
    if encoding == "thermometer":
        if isinstance(n_levels, bool) or not isinstance(n_levels, (int, np.integer)) or n_levels < 1:
            raise ValueError(f"'n_levels' must be a positive integer, got {n_levels!r}")
        levels = (np.arange(n_levels) + 0.5) / n_levels
        return (images[:, :, None] > levels[None, None, :]).astype(float)
    if encoding == "level-crossing":
        if not (np.isfinite(delta) and 0 < delta <= 1):
            raise ValueError(f"'delta' must lie in (0, 1], got {delta!r}")
        change = np.diff(images, axis=1, prepend=0.0)
        return np.stack([change >= delta, -change >= delta], axis=-1).astype(float)
    raise ValueError(f"unknown encoding {encoding!r}; allowed: {', '.join(ENCODINGS)}")


def sequential_digits(encoding="thermometer", n_levels=8, delta=0.25):
    """``x``, ``y``, ``x_test``, ``y_test``: encoded sequences and labels repeated over the 64 steps."""
    split = load_digits_split()
    out = {}
    for part, suffix in (("train", ""), ("test", "_test")):
        x = encode(split[f"x_{part}"], encoding, n_levels, delta)
        out[f"x{suffix}"] = x
        out[f"y{suffix}"] = np.repeat(split[f"y_{part}"][:, None], N_STEPS, axis=1)
    return out
