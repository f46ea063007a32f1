"""How closely a produced trajectory in the plane follows a target curve: distances and the period.

Used for limit cycles learned by recurrent networks (Pearlmutter 1989), where the produced and the
target trajectory need not be in phase: the distances compare the *curves*, the period compares the
timing.
"""

import numpy as np


def _nearest_distances(points, curve):
    """Distance from every row of ``points`` (m, d) to the nearest row of ``curve`` (k, d)."""
    points = np.asarray(points, dtype=float)
    curve = np.asarray(curve, dtype=float)
    out = np.empty(len(points))
    for start in range(0, len(points), 512):  # bounded memory for long runs
        block = points[start:start + 512]
        out[start:start + 512] = np.sqrt(((block[:, None, :] - curve[None, :, :]) ** 2).sum(axis=2).min(axis=1))
    return out


def curve_distances(produced, target):
    r"""RMS distances between a produced trajectory and a target curve, in both directions.

    .. math::

        d_{p \to c} = \sqrt{\frac1m \sum_{k} \min_l \|p_k - c_l\|^2}, \qquad
        d_{c \to p} = \sqrt{\frac1K \sum_{l} \min_k \|c_l - p_k\|^2}

    The first says whether the produced points lie on the curve, the second whether they cover all of
    it (a trajectory resting at one point of the curve has :math:`d_{p \to c} = 0` but a large
    :math:`d_{c \to p}`). Sample the target curve finely (its spacing bounds the resolution).

    Parameters
    ----------
    produced : array (m, d)
    target : array (K, d)

    Returns
    -------
    dict
        ``to_curve`` (:math:`d_{p \to c}`), ``coverage`` (:math:`d_{c \to p}`) and ``max_to_curve``.
    """
    produced = np.asarray(produced, dtype=float)
    target = np.asarray(target, dtype=float)
    if produced.ndim != 2 or target.ndim != 2 or produced.shape[1] != target.shape[1]:
        raise ValueError(f"'produced' and 'target' must be (points, dimensions) arrays of the same dimension, "
                         f"got {produced.shape} and {target.shape}")
    if len(produced) == 0 or len(target) == 0:
        raise ValueError("'produced' and 'target' need at least one point each")
    to_curve = _nearest_distances(produced, target)
    coverage = _nearest_distances(target, produced)
    return {"to_curve": float(np.sqrt(np.mean(to_curve ** 2))), "coverage": float(np.sqrt(np.mean(coverage ** 2))),
            "max_to_curve": float(to_curve.max())}


def period_from_crossings(signal, dt):
    """Mean interval between upward crossings of ``signal`` through its mean, linearly interpolated.

    Returns NaN with fewer than two crossings (no oscillation).

    Parameters
    ----------
    signal : array (m,)
    dt : float
        Sampling interval (the period is in its unit).
    """
    x = np.asarray(signal, dtype=float)
    x = x - x.mean()
    if np.ptp(x) < 1e-9:
        return float("nan")
    k = np.flatnonzero((x[:-1] < 0) & (x[1:] >= 0))
    if len(k) < 2:
        return float("nan")
    crossings = (k + x[k] / (x[k] - x[k + 1])) * dt
    return float(np.mean(np.diff(crossings)))
