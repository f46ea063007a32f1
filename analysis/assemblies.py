"""Memory assemblies in spike trains and weight matrices: membership, overlap, recruitment, structure.

Definitions follow Pokorny, Ison, Rao, Legenstein, Papadimitriou & Maass (2020), "STDP forms
associations between memory traces in networks of spiking neurons", Cereb Cortex 30(3):952,
doi:10.1093/cercor/bhz140, and the human recordings they model, Ison, Quian Quiroga & Fried (2015),
"Rapid encoding of new memories by individual neurons in the human brain", Neuron 87:220,
doi:10.1016/j.neuron.2015.06.016.

Membership
----------
For every presentation ``k`` of a pattern (onset ``t_k``) and every neuron, the response rate
``r_k`` is the spike count in ``[t_k + response[0], t_k + response[1])`` divided by the window length,
and the baseline rate ``b_k`` the same in ``[t_k + baseline[0], t_k + baseline[1])`` (defaults: response
10-110 ms, baseline -100-0 ms). A neuron belongs to the pattern's assembly if

- a one-sided Wilcoxon signed-rank test of ``r_k - b_k`` over the presentations rejects "no increase"
  at level ``alpha`` (0.05; :func:`scipy.stats.wilcoxon`, ``alternative='greater'``; presentations with
  ``r_k = b_k`` are dropped, and a neuron without any nonzero difference has ``p = 1``), and
- its median response rate over the presentations is at least ``min_rate`` (2 Hz).

Measures of an association of patterns A and B
----------------------------------------------
- overlap: the neurons in both assemblies, and the Jaccard index ``|A ∩ B| / |A ∪ B|``
  (:func:`overlap`);
- recruited neurons: members of A's or B's assembly after the association that belonged to neither
  assembly before (:func:`recruited_neurons`);
- neurons recruited into the combination: members of the assembly of the combined pattern ``A+B`` after
  the association that belonged to neither A's nor B's assembly before (:func:`recruited_into_combination`):
  the new code for the associated item when the assemblies of A and B themselves stay as they were;
- pair-coding neurons (Ison et al. 2015: single units that responded to one item of a pair before
  learning and to both after): members of exactly one of the two assemblies before and of both after
  (:func:`pair_coding_neurons`).

Structure
---------
:func:`weight_graph` turns the strong E→E weights (above a threshold or a quantile) into a networkx
graph; :func:`assembly_weight_statistics` compares the mean weight within and between assemblies;
:func:`compare_communities` detects communities (greedy modularity) and matches them to the
response-defined assemblies by Jaccard index.
"""

import networkx as nx
import numpy as np

__all__ = [
    "response_rates",
    "membership_test",
    "assembly_members",
    "overlap",
    "recruited_neurons",
    "recruited_into_combination",
    "pair_coding_neurons",
    "association_measures",
    "weight_graph",
    "assembly_weight_statistics",
    "compare_communities",
]

RESPONSE_WINDOW = (0.010, 0.110)  # seconds after onset (Pokorny et al. 2020)
BASELINE_WINDOW = (-0.100, 0.0)  # seconds after onset
ALPHA = 0.05  # significance level of the one-sided signed-rank test
MIN_RATE = 2.0  # Hz, minimal median response rate


def _window(name, window):
    if len(window) != 2 or not window[1] > window[0]:
        raise ValueError(f"'{name}' must be (start, end) in seconds with end > start, got {window!r}")
    return float(window[0]), float(window[1])


def response_rates(spike_times, spike_neurons, onsets, n_neurons, response=RESPONSE_WINDOW,
                   baseline=BASELINE_WINDOW):
    """Response and baseline rates (Hz) of every neuron at every presentation.

    Parameters
    ----------
    spike_times : array of float
        Spike times in seconds.
    spike_neurons : array of int
        Neuron index of each spike, in ``[0, n_neurons)``.
    onsets : array of float
        Onset times (s) of the presentations of one pattern.
    n_neurons : int
    response, baseline : (float, float)
        Windows relative to the onset, in seconds.

    Returns
    -------
    resp, base : arrays (n_presentations, n_neurons)
    """
    r0, r1 = _window("response", response)
    b0, b1 = _window("baseline", baseline)
    t = np.asarray(spike_times, dtype=float)
    i = np.asarray(spike_neurons, dtype=np.int64)
    if t.shape != i.shape:
        raise ValueError(f"'spike_times' and 'spike_neurons' must have one length, got {t.shape} and {i.shape}")
    if i.size and (i.min() < 0 or i.max() >= n_neurons):
        raise ValueError(f"'spike_neurons' must lie in [0, {n_neurons})")
    onsets = np.atleast_1d(np.asarray(onsets, dtype=float))
    order = np.argsort(t, kind="stable")
    t, i = t[order], i[order]

    def counts(lo, hi):
        out = np.zeros((len(onsets), n_neurons))
        starts = np.searchsorted(t, onsets + lo, side="left")
        ends = np.searchsorted(t, onsets + hi, side="left")
        for k, (s, e) in enumerate(zip(starts, ends)):
            out[k] = np.bincount(i[s:e], minlength=n_neurons)
        return out

    return counts(r0, r1) / (r1 - r0), counts(b0, b1) / (b1 - b0)


#: Largest number of presentations whose signed-rank test is exact: every one of the 2^n sign patterns is counted.
EXACT_SIGNED_RANK_N = 13


def signed_rank_greater(differences):
    """One-sided Wilcoxon signed-rank p-value (alternative: median above zero) of every column.

    Zeros are dropped (Wilcoxon's method); the statistic is the rank sum of the positive differences,
    :math:`R^+ = \\sum_i r_i [d_i > 0]`, with average ranks of :math:`|d_i|` for ties. With at most
    :data:`EXACT_SIGNED_RANK_N` rows the p-value is exact: the fraction of the :math:`2^n` sign patterns
    :math:`s` whose :math:`\\sum_i r_i s_i` is at least the observed :math:`R^+` (what scipy's ``wilcoxon``
    computes there, one column at a time, by a permutation test; here all columns share one table of patterns).
    Longer columns are left to ``scipy.stats.wilcoxon`` (normal approximation with ties, exact without).
    A column of zeros gets p = 1.

    Wilcoxon, F. (1945). Individual comparisons by ranking methods. Biometrics Bulletin 1:80-83.
    """
    from scipy import stats  # imported here: scipy.stats takes 0.5 s to import

    d = np.asarray(differences, dtype=float)
    if d.ndim != 2:
        raise ValueError(f"'differences' must be 2-d (samples, columns), got shape {d.shape}")
    p_values = np.ones(d.shape[1])
    testable = np.flatnonzero(np.any(d != 0, axis=0))
    if d.shape[0] > EXACT_SIGNED_RANK_N:
        for n in testable:
            p_values[n] = stats.wilcoxon(d[:, n], zero_method="wilcox", alternative="greater").pvalue
        return p_values
    if len(testable) == 0:
        return p_values
    sub = d[:, testable]
    magnitude = np.where(sub == 0, np.nan, np.abs(sub))
    ranks = np.nan_to_num(stats.rankdata(magnitude, axis=0, nan_policy="omit"))  # zeros: rank 0
    observed = np.sum(ranks * (sub > 0), axis=0)
    n = d.shape[0]
    signs = (np.arange(2 ** n)[:, None] >> np.arange(n)[None, :]) & 1  # every sign pattern, one per row
    null = signs @ ranks  # (2^n, columns)
    tolerance = np.abs(observed) * 1e-12  # rank sums are multiples of 1/2: only rounding is forgiven
    p_values[testable] = np.mean(null >= observed - tolerance, axis=0)
    return p_values


def membership_test(resp, base, alpha=ALPHA, min_rate=MIN_RATE):
    """Membership of each neuron given its response/baseline rates over presentations.

    Returns
    -------
    members : bool array (n_neurons,)
    p_values : float array (n_neurons,)
    median_rates : float array (n_neurons,)
    """
    resp = np.asarray(resp, dtype=float)
    base = np.asarray(base, dtype=float)
    if resp.shape != base.shape or resp.ndim != 2:
        raise ValueError(f"'resp' and 'base' must be 2-d of one shape, got {resp.shape} and {base.shape}")
    if not 0 < alpha < 1:
        raise ValueError(f"'alpha' must lie in (0, 1), got {alpha!r}")
    if min_rate < 0:
        raise ValueError(f"'min_rate' must be non-negative, got {min_rate!r}")
    p_values = signed_rank_greater(resp - base)
    median_rates = np.median(resp, axis=0) if len(resp) else np.zeros(resp.shape[1])
    members = (p_values < alpha) & (median_rates >= min_rate)
    return members, p_values, median_rates


def assembly_members(spike_times, spike_neurons, onsets_by_pattern, n_neurons, response=RESPONSE_WINDOW,
                     baseline=BASELINE_WINDOW, alpha=ALPHA, min_rate=MIN_RATE):
    """Assembly of each pattern: ``{pattern: sorted array of member neurons}``.

    ``onsets_by_pattern`` maps a pattern name to its presentation onsets (s); the other arguments as
    :func:`response_rates` and :func:`membership_test`.
    """
    out = {}
    for name, onsets in onsets_by_pattern.items():
        if len(np.atleast_1d(onsets)) == 0:
            raise ValueError(f"pattern {name!r} has no presentations in 'onsets_by_pattern'")
        resp, base = response_rates(spike_times, spike_neurons, onsets, n_neurons, response, baseline)
        members, _, _ = membership_test(resp, base, alpha, min_rate)
        out[name] = np.flatnonzero(members)
    return out


def overlap(a, b):
    """``{'shared': |A ∩ B|, 'jaccard': |A ∩ B| / |A ∪ B|, 'size_a', 'size_b'}`` (Jaccard 0 for two empty sets)."""
    a, b = set(np.asarray(a).tolist()), set(np.asarray(b).tolist())
    union = len(a | b)
    return {"shared": len(a & b), "jaccard": len(a & b) / union if union else 0.0, "size_a": len(a),
            "size_b": len(b)}


def _members(assemblies, *names):
    """The union of the assemblies ``names`` of ``{pattern: members}``, as a set of neuron indices."""
    return set().union(*(np.asarray(assemblies[name]).tolist() for name in names))


def recruited_neurons(before, after, pair):
    """Members of an assembly of ``pair`` after the association that were in neither before.

    ``before``/``after``: ``{pattern: members}``; ``pair``: the two associated pattern names.
    """
    return np.array(sorted(_members(after, *pair) - _members(before, *pair)), dtype=int)


def recruited_into_combination(before, after, pair):
    """Members of the combined pattern's assembly after the association that were in neither pattern's before.

    ``before``/``after``: ``{pattern: members}``, ``after`` with the combined pattern under ``"A+B"`` (the
    pair's names joined by ``+``); ``pair``: the two pattern names.
    """
    a, b = pair
    combined = f"{a}+{b}"
    if combined not in after:
        raise ValueError(f"'after' has no assembly of the combined pattern {combined!r}; patterns: {sorted(after)}")
    return np.array(sorted(_members(after, combined) - _members(before, a, b)), dtype=int)


def pair_coding_neurons(before, after, pair):
    """Neurons in exactly one assembly of ``pair`` before and in both after (Ison et al. 2015)."""
    a, b = pair
    ba, bb = set(np.asarray(before[a]).tolist()), set(np.asarray(before[b]).tolist())
    aa, ab = set(np.asarray(after[a]).tolist()), set(np.asarray(after[b]).tolist())
    return np.array(sorted((ba ^ bb) & (aa & ab)), dtype=int)


def association_measures(before, after, pair, control_pair):
    """Sizes, overlaps (associated and control pair), recruited and pair-coding neurons, as one dict.

    ``recruited`` and ``recruited_control`` are the recruited neurons (:func:`recruited_neurons`) of the
    associated and the control pair (the latter: membership turnover without association). When ``after``
    holds the combined patterns (``"A+B"``, and the control pair's), also the neurons recruited into each
    combination (``recruited_combined``, ``recruited_combined_control``).

    ``overlap_gain`` is the rise in shared neurons of the associated pair minus that of the control pair;
    ``jaccard_gain`` the same for the Jaccard index.
    """
    out = {"sizes_before": {k: int(len(v)) for k, v in before.items()},
           "sizes_after": {k: int(len(v)) for k, v in after.items()}}
    for label, p in (("associated", pair), ("control", control_pair)):
        out[f"overlap_{label}_before"] = overlap(before[p[0]], before[p[1]])
        out[f"overlap_{label}_after"] = overlap(after[p[0]], after[p[1]])
    rise = {label: out[f"overlap_{label}_after"]["shared"] - out[f"overlap_{label}_before"]["shared"]
            for label in ("associated", "control")}
    rise_j = {label: out[f"overlap_{label}_after"]["jaccard"] - out[f"overlap_{label}_before"]["jaccard"]
              for label in ("associated", "control")}
    out["overlap_rise_associated"] = rise["associated"]
    out["overlap_rise_control"] = rise["control"]
    out["overlap_gain"] = rise["associated"] - rise["control"]
    out["jaccard_gain"] = rise_j["associated"] - rise_j["control"]
    for label, p in (("", pair), ("_control", control_pair)):
        out[f"recruited{label}"] = recruited_neurons(before, after, p).tolist()
        out[f"n_recruited{label}"] = len(out[f"recruited{label}"])
        if "+".join(p) in after:
            out[f"recruited_combined{label}"] = recruited_into_combination(before, after, p).tolist()
            out[f"n_recruited_combined{label}"] = len(out[f"recruited_combined{label}"])
    out["pair_coding"] = pair_coding_neurons(before, after, pair).tolist()
    out["n_pair_coding"] = len(out["pair_coding"])
    return out


def _check_square(weights):
    w = np.asarray(weights, dtype=float)
    if w.ndim != 2 or w.shape[0] != w.shape[1]:
        raise ValueError(f"'weights' must be a square matrix W[pre, post], got shape {w.shape}")
    return w


def weight_graph(weights, threshold=None, quantile=None):
    """Directed networkx graph of the strong weights of ``weights[pre, post]`` (edge attribute ``weight``).

    Exactly one of ``threshold`` (absolute) or ``quantile`` (of the nonzero weights, in [0, 1)) selects
    the strong weights (``w > threshold``); self-connections are ignored. Every neuron is a node.
    """
    w = _check_square(weights)
    if (threshold is None) == (quantile is None):
        raise ValueError("give exactly one of 'threshold' or 'quantile'")
    if quantile is not None:
        if not 0 <= quantile < 1:
            raise ValueError(f"'quantile' must lie in [0, 1), got {quantile!r}")
        nonzero = w[w > 0]
        threshold = float(np.quantile(nonzero, quantile)) if nonzero.size else 0.0
    graph = nx.DiGraph()
    graph.add_nodes_from(range(w.shape[0]))
    pre, post = np.nonzero(w > threshold)
    keep = pre != post
    graph.add_weighted_edges_from(zip(pre[keep].tolist(), post[keep].tolist(), w[pre[keep], post[keep]].tolist()))
    graph.graph["threshold"] = threshold
    return graph


def assembly_weight_statistics(weights, assemblies, connected=None):
    """Mean weight within each assembly, between each pair of assemblies, and from/to the rest.

    Parameters
    ----------
    weights : array (n, n)
        ``W[pre, post]``, 0 where there is no synapse.
    assemblies : dict
        name -> member indices.
    connected : bool array (n, n), optional
        Where synapses exist (default ``weights != 0``); means are over existing synapses, self-connections
        excluded.

    Returns
    -------
    dict with ``within`` (name -> mean), ``between`` ("A|B" -> mean of A→B and B→A), ``within_all``
    (mean over all within-assembly synapses), ``between_all`` and ``ratio`` = within_all / between_all.
    """
    w = _check_square(weights)
    mask = (w != 0) if connected is None else np.asarray(connected, dtype=bool)
    mask = mask & ~np.eye(len(w), dtype=bool)

    def block(src, dst):
        sub_w = w[np.ix_(src, dst)]
        sub_m = mask[np.ix_(src, dst)]
        return sub_w[sub_m]

    names = list(assemblies)
    members = {k: np.asarray(v, dtype=int) for k, v in assemblies.items()}
    within = {k: block(members[k], members[k]) for k in names}
    between = {}
    for x, a in enumerate(names):
        for b in names[x + 1:]:
            between[f"{a}|{b}"] = np.concatenate([block(members[a], members[b]), block(members[b], members[a])])

    def mean(values):
        return float(np.mean(values)) if len(values) else float("nan")

    within_all = np.concatenate([v for v in within.values()]) if within else np.array([])
    between_all = np.concatenate([v for v in between.values()]) if between else np.array([])
    result = {"within": {k: mean(v) for k, v in within.items()}, "between": {k: mean(v) for k, v in between.items()},
              "within_all": mean(within_all), "between_all": mean(between_all), "all": mean(w[mask])}
    result["ratio"] = result["within_all"] / result["between_all"] if result["between_all"] else float("nan")
    return result


def compare_communities(weights, assemblies, threshold=None, quantile=0.9, seed=0):
    """Communities of the strong-weight graph against the response-defined assemblies.

    The strong weights (:func:`weight_graph`) form an undirected graph (weights of both directions
    added); :func:`networkx.algorithms.community.greedy_modularity_communities` finds communities
    among the neurons with at least one strong edge. Each assembly is matched to the community with
    the highest Jaccard index.

    Returns
    -------
    dict with ``communities`` (list of sorted member lists, largest first), ``modularity`` and per
    assembly ``match`` (name -> {"community": index, "jaccard": value}); ``seed`` is unused by the
    deterministic greedy algorithm and kept for other algorithms.
    """
    del seed
    graph = weight_graph(weights, threshold=threshold, quantile=quantile if threshold is None else None)
    undirected = nx.Graph()
    for u, v, data in graph.edges(data=True):
        if undirected.has_edge(u, v):
            undirected[u][v]["weight"] += data["weight"]
        else:
            undirected.add_edge(u, v, weight=data["weight"])
    if undirected.number_of_edges() == 0:
        return {"communities": [], "modularity": float("nan"),
                "match": {k: {"community": None, "jaccard": 0.0} for k in assemblies}}
    communities = nx.algorithms.community.greedy_modularity_communities(undirected, weight="weight")
    communities = sorted((sorted(c) for c in communities), key=len, reverse=True)
    modularity = nx.algorithms.community.modularity(undirected, [set(c) for c in communities], weight="weight")
    match = {}
    for name, members in assemblies.items():
        scores = [overlap(members, c)["jaccard"] for c in communities]
        best = int(np.argmax(scores))
        match[name] = {"community": best, "jaccard": float(scores[best])}
    return {"communities": communities, "modularity": float(modularity), "match": match}
