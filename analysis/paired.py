r"""Paired effects over seeds: mean, standard error, Wilcoxon signed-rank test and effect sizes.

A measure taken on a run and on its twin (the same seed with one manipulation left out) gives one
difference per seed, :math:`d_k = x_k - x^{twin}_k`, :math:`k = 1 \dots n`. This module summarises
such differences the way a methods section reports them.

Estimators
----------
Mean and its standard error (sample standard deviation with :math:`n - 1`):

.. math::

    \bar d = \frac{1}{n} \sum_k d_k, \qquad
    \mathrm{SE} = \frac{s_d}{\sqrt n}, \qquad s_d^2 = \frac{1}{n-1} \sum_k (d_k - \bar d)^2 .

Wilcoxon signed-rank test (Wilcoxon 1945, Biometrics Bull 1:80, doi:10.2307/3001968) of the null
hypothesis that the differences are symmetric about zero: zero differences are dropped
(Wilcoxon's own convention, ``zero_method='wilcox'``), the absolute differences ranked (ties get
their mean rank), and :math:`W^+` (:math:`W^-`) is the sum of the ranks of the positive (negative)
differences. The p-value is :func:`scipy.stats.wilcoxon`'s (method ``'auto'``: the exact null
distribution of :math:`W^+` for small samples, else its normal approximation).

Effect sizes: the matched-pairs rank-biserial correlation (Kerby 2014, Compr Psychol 3:11,
doi:10.2466/11.IT.3.1),

.. math::

    r = \frac{W^+ - W^-}{W^+ + W^-} \in [-1, 1],

the share of the ranked evidence favouring a positive effect minus that favouring a negative one;
and Cohen's :math:`d_z = \bar d / s_d` (Cohen 1988, *Statistical Power Analysis for the Behavioral
Sciences*, 2nd ed., eq. 2.3.5).
"""

import numpy as np

__all__ = ["ALTERNATIVES", "paired_effect"]

#: The alternative hypotheses of :func:`paired_effect`.
ALTERNATIVES = ("two-sided", "greater", "less")


def _signed_rank_sums(differences):
    """:math:`W^+` and :math:`W^-` of the non-zero differences (mean ranks for ties)."""
    from scipy.stats import rankdata

    nonzero = differences[differences != 0]
    ranks = rankdata(np.abs(nonzero))
    return float(ranks[nonzero > 0].sum()), float(ranks[nonzero < 0].sum())


def paired_effect(differences, alternative="two-sided"):
    """Summary of paired differences (one per seed): mean, SE, Wilcoxon signed-rank p, effect sizes.

    Parameters
    ----------
    differences : array-like of float
        One difference per pair (e.g. a run's measure minus its twin's), at least 2, all finite.
    alternative : {'two-sided', 'greater', 'less'}
        The alternative hypothesis of the signed-rank test ('greater': the differences are shifted above 0).

    Returns
    -------
    dict
        ``n``, ``mean``, ``sd``, ``se``, ``n_nonzero``, ``w_plus``, ``w_minus``, ``p_value`` (1.0 when
        every difference is zero: no evidence either way), ``alternative``, ``rank_biserial`` (0.0 when
        every difference is zero) and ``cohen_dz`` (NaN when the differences do not vary).
    """
    if alternative not in ALTERNATIVES:
        raise ValueError(f"'alternative' must be one of {', '.join(ALTERNATIVES)}, got {alternative!r}")
    d = np.asarray(differences, dtype=float).ravel()
    if d.size < 2:
        raise ValueError(f"'differences' needs at least 2 values (one per seed), got {d.size}")
    if not np.all(np.isfinite(d)):
        raise ValueError("'differences' must be finite (a seed whose measure is missing cannot be paired)")
    mean, sd = float(d.mean()), float(d.std(ddof=1))
    w_plus, w_minus = _signed_rank_sums(d)
    n_nonzero = int(np.count_nonzero(d))
    if n_nonzero == 0:
        p_value = 1.0
    else:
        from scipy.stats import wilcoxon

        p_value = float(wilcoxon(d, zero_method="wilcox", alternative=alternative).pvalue)
    total = w_plus + w_minus
    return {"n": int(d.size), "mean": mean, "sd": sd, "se": sd / np.sqrt(d.size), "n_nonzero": n_nonzero,
            "w_plus": w_plus, "w_minus": w_minus, "p_value": p_value, "alternative": alternative,
            "rank_biserial": (w_plus - w_minus) / total if total > 0 else 0.0,
            "cohen_dz": mean / sd if sd > 0 else float("nan")}
