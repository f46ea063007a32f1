"""Assembly analysis on hand-made spike trains and weight matrices; escape-noise neurons against closed forms."""

import brian2 as b2
import numpy as np
import pytest

from brian2learn.analysis import assemblies
from brian2learn.models import stochastic_neurons as sn

# --- escape-noise neurons -------------------------------------------------------------------------------

def test_escape_noise_rate_is_poisson_with_dead_time(numpy_runtime):
    dt = 0.5 * b2.ms
    levels = np.array([-2.0, 0.0, 2.0, 4.0, 6.0]) * b2.mV  # offsets b
    per_level = 40
    group = sn.stochastic_group(len(levels) * per_level, dt=dt)
    group.b = np.repeat(levels, per_level)
    mon = b2.SpikeMonitor(group)
    b2.seed(7)
    duration = 10 * b2.second
    b2.Network(group, mon).run(duration, namespace={})
    counts = np.bincount(np.asarray(mon.i[:]), minlength=len(group)).reshape(len(levels), per_level)
    measured = counts.sum(axis=1) / (per_level * float(duration))
    p = sn.neuron_params()
    rho = np.asarray(sn.escape_rate(levels) / b2.Hz)
    # discrete time: geometric waiting with p = 1 - exp(-rho dt) after a dead time of t_ref
    step = float(dt)
    expected_discrete = 1.0 / (float(p["t_ref"]) + step / (1 - np.exp(-rho * step)))
    expected_continuous = np.asarray(sn.stationary_rate(levels) / b2.Hz)
    np.testing.assert_allclose(measured, expected_discrete, rtol=0.06)
    np.testing.assert_allclose(expected_discrete, expected_continuous, rtol=0.02)
    assert rho[-1] / rho[0] == pytest.approx(np.exp(8.0 / 2.0))  # e-fold per delta_u = 2 mV


def test_psp_kernel_has_unit_peak_and_closed_form_shape(numpy_runtime):
    dt = 0.1 * b2.ms
    spike = b2.SpikeGeneratorGroup(1, [0], [5.0] * b2.ms, dt=dt)
    target = sn.stochastic_group(1, params={"rho_0": 1e-9 * b2.Hz}, dt=dt)
    syn = b2.Synapses(spike, target, "w : 1", on_pre=sn.exc_effect("w*mV"), dt=dt)
    syn.connect(i=0, j=0)
    syn.w = 1.5
    mon = b2.StateMonitor(target, "u", record=0, dt=dt, when="end")
    b2.Network(spike, target, syn, mon).run(60 * b2.ms, namespace={})
    s = np.asarray(mon.t / b2.ms) - 5.0
    p = sn.neuron_params()
    tr, td = float(p["tau_rise_e"] / b2.ms), float(p["tau_decay_e"] / b2.ms)
    kernel = np.where(s >= 0, p["norm_e"] * (np.exp(-s / td) - np.exp(-s / tr)), 0.0)
    np.testing.assert_allclose(np.asarray(mon.u[0] / b2.mV), 1.5 * kernel, atol=1e-9)
    assert np.max(mon.u[0] / b2.mV) == pytest.approx(1.5, rel=2e-3)  # sampled peak of the unit-peak kernel


def test_excitability_offsets_and_bad_input():
    rng = np.random.default_rng(0)
    b = sn.excitability_offsets(20000, 1.5, 2.0 * b2.mV, 0.5 * b2.mV, rng)
    assert float(np.mean(b / b2.mV)) == pytest.approx(3.0, abs=0.02)
    assert float(np.std(b / b2.mV)) == pytest.approx(0.5, rel=0.03)
    with pytest.raises(ValueError, match="tau_rise"):
        sn.psp_peak_norm(5 * b2.ms, 2 * b2.ms)
    with pytest.raises(ValueError, match="unknown"):
        sn.neuron_params(tau=1 * b2.ms)


# --- membership ---------------------------------------------------------------------------------------------

def hand_made_trains():
    """12 presentations at 1 s intervals; per neuron a known pattern of spikes in the windows."""
    onsets = 1.0 + np.arange(12) * 1.0
    times, neurons = [], []

    def add(neuron, t):
        times.append(t)
        neurons.append(neuron)

    for k, t0 in enumerate(onsets):
        add(0, t0 + 0.020)  # neuron 0: 3 spikes in every response window, none in the baseline
        add(0, t0 + 0.050)
        add(0, t0 + 0.090)
        add(1, t0 + 0.060)  # neuron 1: 1 response spike every time (10 Hz), none before
        add(2, t0 + 0.060)  # neuron 2: one spike in each window: no change
        add(2, t0 - 0.050)
        if k < 5:
            add(3, t0 + 0.030)  # neuron 3: responds in 5 of 12 presentations: significant, median 0 Hz
        add(4, t0 - 0.030)  # neuron 4: fires in the baseline only (a decrease)
        add(4, t0 - 0.070)
        add(5, t0 + 0.005)  # neuron 5: spikes just before the response window and just at its end
        add(5, t0 + 0.110)
    return np.array(times), np.array(neurons), onsets


def test_response_rates_count_spikes_in_half_open_windows():
    t, i, onsets = hand_made_trains()
    resp, base = assemblies.response_rates(t, i, onsets, 6)
    assert resp.shape == (12, 6)
    np.testing.assert_allclose(resp[:, 0], 30.0)  # 3 spikes in 100 ms
    np.testing.assert_allclose(base[:, 0], 0.0)
    np.testing.assert_allclose(resp[:, 2], 10.0)
    np.testing.assert_allclose(base[:, 2], 10.0)
    np.testing.assert_allclose(base[:, 4], 20.0)
    np.testing.assert_allclose(resp[:, 5], 0.0)  # 5 ms is before the window, 110 ms is its open end
    np.testing.assert_allclose(resp[:5, 3], 10.0)
    np.testing.assert_allclose(resp[5:, 3], 0.0)


def test_membership_needs_significance_and_median_rate():
    t, i, onsets = hand_made_trains()
    resp, base = assemblies.response_rates(t, i, onsets, 6)
    members, p, median = assemblies.membership_test(resp, base)
    np.testing.assert_array_equal(members, [True, True, False, False, False, False])
    assert p[3] < 0.05 and median[3] == 0.0  # significant, but the median response is 0 Hz < 2 Hz
    assert p[2] == 1.0 and p[4] > 0.5
    # neuron 0: 12 positive differences; under H0 each sign is a fair coin, so P(all 12 positive) = 2^-12
    assert p[0] == pytest.approx(2.0 ** -12, rel=1e-9)
    # lowering the rate threshold admits neuron 3
    members_low, _, _ = assemblies.membership_test(resp, base, min_rate=0.0)
    assert members_low[3]
    with pytest.raises(ValueError, match="alpha"):
        assemblies.membership_test(resp, base, alpha=1.5)


def test_signed_rank_p_values_equal_scipy_and_the_enumerated_null_by_hand():
    from scipy import stats

    rng = np.random.default_rng(3)
    for n in (5, 12, 13, 20):  # exact enumeration up to 13 rows; scipy beyond
        d = rng.integers(-2, 5, size=(n, 40)) * 10.0  # rate differences: many ties and zeros
        d[:, 0] = 0.0
        expected = [stats.wilcoxon(d[:, k], zero_method="wilcox", alternative="greater").pvalue if np.any(d[:, k])
                    else 1.0 for k in range(d.shape[1])]
        np.testing.assert_allclose(assemblies.signed_rank_greater(d), expected, rtol=1e-12)
    # by hand: differences (+2, -1, 0, +1): the zero is dropped, the |d| ranks are 3, 1.5, 1.5 and R+ = 3 + 1.5 = 4.5;
    # of the 8 sign patterns of the three nonzero values, the rank sums are 0, 3, 1.5, 1.5, 4.5, 4.5, 3, 6: p = 3/8
    assert assemblies.signed_rank_greater(np.array([[2.0], [-1.0], [0.0], [1.0]]))[0] == 3 / 8
    with pytest.raises(ValueError, match="'differences' must be 2-d"):
        assemblies.signed_rank_greater(np.zeros(3))


def test_assembly_members_recovers_planted_assemblies_in_poisson_trains():
    rng = np.random.default_rng(3)
    n, n_pres = 40, 20
    planted = {"A": np.arange(0, 10), "B": np.arange(8, 18)}  # 8 and 9 in both
    onsets = {"A": 1.0 + 2.0 * np.arange(n_pres), "B": 2.0 + 2.0 * np.arange(n_pres)}
    total = 2.0 * n_pres + 1.0
    times, neurons = [], []
    for k in range(n):  # background 3 Hz for everybody
        s = rng.uniform(0, total, rng.poisson(3.0 * total))
        times.append(s)
        neurons.append(np.full(len(s), k))
    for name, members in planted.items():
        for t0 in onsets[name]:
            for k in members:  # 40 Hz extra in 10-110 ms after onset
                s = t0 + rng.uniform(0.010, 0.110, rng.poisson(4.0))
                times.append(s)
                neurons.append(np.full(len(s), k))
    found = assemblies.assembly_members(np.concatenate(times), np.concatenate(neurons), onsets, n)
    np.testing.assert_array_equal(found["A"], planted["A"])
    np.testing.assert_array_equal(found["B"], planted["B"])
    assert assemblies.overlap(found["A"], found["B"]) == {"shared": 2, "jaccard": 2 / 18, "size_a": 10,
                                                          "size_b": 10}


# --- association measures -----------------------------------------------------------------------------------

def test_overlap_recruitment_and_pair_coding_by_hand():
    before = {"A": [0, 1, 2, 3], "B": [10, 11, 12], "C": [20, 21]}
    after = {"A": [0, 1, 2, 3, 10, 30], "B": [10, 11, 12, 2, 31], "C": [20, 21, 3]}
    m = assemblies.association_measures(before, after, ("A", "B"), ("A", "C"))
    assert m["overlap_associated_before"]["shared"] == 0
    assert m["overlap_associated_after"] == {"shared": 2, "jaccard": 2 / 9, "size_a": 6, "size_b": 5}
    assert m["overlap_control_after"]["shared"] == 1  # neuron 3
    assert m["overlap_gain"] == 2 - 1
    assert m["recruited"] == [30, 31]
    assert m["recruited_control"] == [10, 30]  # new in A or C: 10 (from B) and 30
    assert m["pair_coding"] == [2, 10]
    assert m["sizes_after"] == {"A": 6, "B": 5, "C": 3}
    assert assemblies.overlap([], [])["jaccard"] == 0.0
    assert "recruited_combined" not in m  # no combined patterns tested


def test_recruitment_into_the_combination_by_hand():
    """A+B after: 0 (in A before), 40 and 41 (new), 12 (in B before); A+C after: 21 (in C before), 50 (new)."""
    before = {"A": [0, 1], "B": [10, 12], "C": [20, 21], "A+B": [0, 40], "A+C": [20]}
    after = {"A": [0, 1], "B": [10, 12], "C": [20, 21], "A+B": [0, 12, 40, 41], "A+C": [21, 50]}
    m = assemblies.association_measures(before, after, ("A", "B"), ("A", "C"))
    assert m["recruited_combined"] == [40, 41]  # 40 answered A+B before too, but neither A nor B alone
    assert m["n_recruited_combined"] == 2 and m["recruited_combined_control"] == [50]
    assert m["recruited"] == [] and m["overlap_gain"] == 0  # the assemblies of A and B did not change
    assert m["sizes_after"]["A+B"] == 4
    with pytest.raises(ValueError, match="no assembly of the combined pattern 'A\\+B'"):
        assemblies.recruited_into_combination(before, {"A": [], "B": []}, ("A", "B"))


# --- weight structure ---------------------------------------------------------------------------------------

def block_weights():
    n = 16
    w = np.full((n, n), 0.1)
    w[np.ix_(range(0, 6), range(0, 6))] = 1.0
    w[np.ix_(range(6, 12), range(6, 12))] = 2.0
    w[12:, :] = 0.05
    w[:, 12:] = 0.05
    np.fill_diagonal(w, 0.0)
    return w


def test_within_and_between_assembly_weights():
    w = block_weights()
    stats = assemblies.assembly_weight_statistics(w, {"A": range(0, 6), "B": range(6, 12)})
    assert stats["within"] == {"A": pytest.approx(1.0), "B": pytest.approx(2.0)}
    assert stats["between"]["A|B"] == pytest.approx(0.1)
    assert stats["within_all"] == pytest.approx(1.5)
    assert stats["ratio"] == pytest.approx(15.0)


def test_weight_graph_and_communities_match_planted_blocks():
    w = block_weights()
    graph = assemblies.weight_graph(w, threshold=0.5)
    assert graph.number_of_nodes() == 16
    assert graph.number_of_edges() == 2 * 6 * 5  # two blocks of six, no self-loops
    assert graph[0][1]["weight"] == 1.0 and graph[6][7]["weight"] == 2.0
    result = assemblies.compare_communities(w, {"A": range(0, 6), "B": range(6, 12)}, threshold=0.5)
    assert [len(c) for c in result["communities"]] == [6, 6]
    assert result["match"]["A"]["jaccard"] == 1.0 and result["match"]["B"]["jaccard"] == 1.0
    assert result["match"]["A"]["community"] != result["match"]["B"]["community"]
    # two disconnected cliques holding 1/3 and 2/3 of the weight: Q = 1 - (1/3)^2 - (2/3)^2
    assert result["modularity"] == pytest.approx(4 / 9)
    q = assemblies.weight_graph(w, quantile=0.9)
    assert q.graph["threshold"] == pytest.approx(np.quantile(w[w > 0], 0.9))
    with pytest.raises(ValueError, match="exactly one"):
        assemblies.weight_graph(w)
