"""Static examples as trials of Poisson spike trains: the spiking form of a classification task for recurrent
spiking networks (e-prop, BPTT of a spiking network).

Each feature ``x_i`` in [0, 1] of an example drives one input channel that fires Poisson spikes at ``x_i f_max``
through the trial, and a bias channel fires at ``f_max`` (the constant input that carries the biases of a rate
network); the class is reported by the readout with the largest sum over a window at the end of the trial, the
softmax loss's one-hot targets set over that window (the format of
:func:`brian2learn.tasks.evidence_accumulation.evidence_accumulation_trials`, scored by its ``decision_error``).
Rate coding of static inputs is the usual spiking form of such tasks (e.g. Diehl & Cook 2015, Front Comput
Neurosci 9:99, doi:10.3389/fncom.2015.00099).
"""

import numpy as np


def rate_coded_trials(features, labels, n_classes, n_steps, rate_max_hz, dt_ms, window_steps, seed):
    """Trials of the examples ``features`` (n, F) with ``labels`` (n,), spikes drawn from ``default_rng(seed)``.

    Parameters
    ----------
    features : array (n, F)
        Values in [0, 1].
    labels : array (n,)
        Classes 0 .. ``n_classes - 1``.
    n_steps : int
        Steps of a trial.
    rate_max_hz, dt_ms : float
        Rate of a feature of 1 (and of the bias channel) and the step; a spike per step has probability
        ``rate * dt``.
    window_steps : int
        Steps at the end of the trial in which the readouts are scored (and the loss is taken).

    Returns
    -------
    dict
        ``inputs`` (n, T, F + 1) spikes 0/1, the bias channel last; ``targets`` (n, T, n_classes) one-hot; ``window``
        (n, T) 1 over the last ``window_steps`` steps; ``labels`` (n,).
    """
    features = np.asarray(features, dtype=float)
    labels = np.asarray(labels)
    if features.ndim != 2 or np.any(features < 0) or np.any(features > 1):
        raise ValueError(f"'features' must be an (n, F) array of values in [0, 1], got shape {features.shape}")
    if labels.shape != (len(features),) or np.any(labels < 0) or np.any(labels >= n_classes):
        raise ValueError(f"'labels' must hold one class in 0 .. {n_classes - 1} per example")
    for name, value in (("n_steps", n_steps), ("window_steps", window_steps)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"'{name}' must be a positive integer, got {value!r}")
    if window_steps > n_steps:
        raise ValueError(f"'window_steps' ({window_steps}) must not exceed 'n_steps' ({n_steps})")
    probability = float(rate_max_hz) * float(dt_ms) / 1000.0
    if not 0 < probability <= 1:
        raise ValueError(f"'rate_max_hz' * 'dt_ms' must give a spike probability per step in (0, 1], got "
                         f"{probability!r}")
    rates = np.c_[features, np.ones(len(features))] * probability
    rng = np.random.default_rng(seed)
    inputs = (rng.random((len(features), n_steps, rates.shape[1])) < rates[:, None, :]).astype(float)
    window = np.zeros((len(features), n_steps))
    window[:, n_steps - window_steps:] = 1.0
    targets = np.zeros((len(features), n_steps, n_classes))
    targets[np.arange(len(features)), :, labels] = 1.0
    return {"inputs": inputs, "targets": targets, "window": window, "labels": labels.copy()}
