"""STDP and short-term plasticity in Brian2 against their closed forms, on hand-made spike trains.

Every synapse sees its own pre- and postsynaptic spike generator, so each one gets exactly the
spikes written down here; the weight changes are compared with the formulas of Song et al. (2000),
van Rossum et al. (2000), Pfister & Gerstner (2006) and the recursion of Markram et al. (1998).
"""

import functools

import brian2 as b2
import numpy as np
import pytest

from brian2learn.plasticity import short_term, stdp

DT = 0.1 * b2.ms  # fine step; all spike times below are multiples of it


pytestmark = pytest.mark.usefixtures("numpy_runtime")  # tests/conftest.py: no compilation for tiny networks


def run_pairs(builder, spikes_pre, spikes_post, w0, duration, **params):
    """One synapse per entry of ``spikes_pre``/``spikes_post`` (lists of spike-time lists in ms)."""
    n = len(spikes_pre)

    def generator(trains, name):
        idx = np.concatenate([[k] * len(t) for k, t in enumerate(trains)]).astype(int)
        times = np.concatenate([np.asarray(t, dtype=float) for t in trains]) * b2.ms
        return b2.SpikeGeneratorGroup(n, idx, times, dt=DT, name=name)

    pre = generator(spikes_pre, "pre_gen")
    post = generator(spikes_post, "post_gen")
    syn = builder(pre, post, np.arange(n), np.arange(n), w0, dt=DT, **params)
    net = b2.Network(pre, post, syn)
    net.run(duration, namespace={})
    return np.asarray(syn.w[:])


@pytest.mark.parametrize("mu", [0.0, 1.0])
def test_pair_stdp_single_pairs_follow_the_exponential_window(mu):
    deltas = np.array([-60.0, -20.0, -5.0, -1.0, 1.0, 3.0, 10.0, 25.0, 80.0])  # t_post - t_pre (ms)
    t0 = 100.0
    pre = [[t0] for _ in deltas]
    post = [[t0 + d] for d in deltas]
    params = {"A_plus": 0.02, "A_minus": 0.03, "tau_pre": 17 * b2.ms, "tau_post": 34 * b2.ms, "mu": mu,
              "w_min": 0.0, "w_max": 2.0}
    w0 = 0.5
    w = run_pairs(stdp.pair_stdp_synapses, pre, post, w0, 300 * b2.ms, **params)
    span = params["w_max"] - params["w_min"]
    # weight dependence written out: (w_max - w)/span for potentiation, (w - w_min)/span for depression
    factor = np.where(deltas > 0, ((params["w_max"] - w0) / span) ** mu, ((w0 - params["w_min"]) / span) ** mu)
    expected = w0 + span * factor * np.where(deltas > 0, params["A_plus"] * np.exp(-np.abs(deltas) / 17.0),
                                             -params["A_minus"] * np.exp(-np.abs(deltas) / 34.0))
    np.testing.assert_allclose(w, expected, rtol=1e-9, atol=1e-12)
    window = stdp.pair_stdp_window(deltas * b2.ms, 17 * b2.ms, 34 * b2.ms, 0.02, 0.03)
    if mu == 0.0:
        np.testing.assert_allclose(w - w0, span * window, rtol=1e-9, atol=1e-12)
    assert np.all(w[deltas > 0] > w0) and np.all(w[deltas < 0] < w0)


def test_pair_stdp_all_to_all_sums_and_hard_bounds():
    # synapse 0: pre at 0 and 10 ms, post at 20 ms: two potentiating pairs add up
    # synapse 1: close to w_max, one strong pair is clipped at the bound
    # synapse 2: close to w_min, depression clipped at 0
    pre = [[10.0, 20.0], [10.0], [30.0]]
    post = [[30.0], [11.0], [29.0]]
    w0 = np.array([0.5, 0.98, 0.01])
    w = run_pairs(stdp.pair_stdp_synapses, pre, post, w0, 100 * b2.ms, A_plus=0.1, A_minus=0.1,
                  tau_pre=20 * b2.ms, tau_post=20 * b2.ms)
    expected0 = 0.5 + 0.1 * (np.exp(-20 / 20) + np.exp(-10 / 20))
    np.testing.assert_allclose(w, [expected0, 1.0, 0.0], rtol=1e-9, atol=1e-12)


def test_triplet_rule_against_its_closed_form():
    p = stdp.triplet_stdp_params(**stdp.PFISTER2006_VISUAL_FULL)
    p.update(A2_plus=3e-3, eta=2.0, tau_x=80 * b2.ms)
    tp, tm, tx, ty = (float(p[k] / b2.ms) for k in ("tau_plus", "tau_minus", "tau_x", "tau_y"))
    t0 = 50.0
    # 0: pre-post-post (triplet potentiation); 1: pre-post-pre (triplet depression);
    # 2: post-pre-pre-post at known intervals (all four terms)
    pre = [[t0], [t0, t0 + 30.0], [t0 + 5.0, t0 + 12.0]]
    post = [[t0 + 10.0, t0 + 25.0], [t0 + 10.0], [t0, t0 + 20.0]]
    w0 = 0.5
    w = run_pairs(stdp.triplet_stdp_synapses, pre, post, w0, 300 * b2.ms, **p)
    a2p, a3p, a2m, a3m, eta = (p[k] for k in ("A2_plus", "A3_plus", "A2_minus", "A3_minus", "eta"))
    d0 = a2p * np.exp(-10 / tp) + np.exp(-25 / tp) * (a2p + a3p * np.exp(-15 / ty))
    d1 = a2p * np.exp(-10 / tp) - np.exp(-20 / tm) * (a2m + a3m * np.exp(-30 / tx))
    # synapse 2: pre at 5 (o1 = e^{-5/tm}, r2 = 0), pre at 12 (o1 = e^{-12/tm}, r2 = e^{-7/tx}),
    # post at 20 (r1 = e^{-15/tp} + e^{-8/tp}, o2 = e^{-20/ty})
    d2 = (-np.exp(-5 / tm) * a2m - np.exp(-12 / tm) * (a2m + a3m * np.exp(-7 / tx))
          + (np.exp(-15 / tp) + np.exp(-8 / tp)) * (a2p + a3p * np.exp(-20 / ty)))
    np.testing.assert_allclose(w, w0 + eta * np.array([d0, d1, d2]), rtol=1e-9, atol=1e-13)


def test_triplet_caps_clip_the_weight():
    w = run_pairs(stdp.triplet_stdp_synapses, [[10.0, 11.0, 12.0]], [[13.0, 14.0, 15.0]], 0.9, 50 * b2.ms,
                  eta=100.0, w_max=1.0)
    assert w[0] == pytest.approx(1.0)


@pytest.mark.parametrize("kind", ["EE", "EI"])
def test_tsodyks_markram_amplitudes_of_a_regular_train(kind):
    udf = short_term.GUPTA2000_UDF[kind]
    n_spikes, interval = 12, 25.0  # spikes, ms
    times = (10.0 + interval * np.arange(n_spikes)) * b2.ms
    pre = b2.SpikeGeneratorGroup(1, np.zeros(n_spikes, dtype=int), times, dt=DT)
    target = b2.NeuronGroup(1, "I : 1", dt=DT)
    syn = short_term.tm_synapses(pre, target, [0], [0], "I_post += w*r_stp", w=0.7, dt=DT, **udf)
    mon = b2.StateMonitor(target, "I", record=0, when="end", dt=DT)
    net = b2.Network(pre, target, syn, mon)
    net.run(times[-1] + 5 * b2.ms, namespace={})
    trace = mon.I[0]
    steps = np.round(np.asarray(times / DT)).astype(int)
    amplitudes = trace[steps] - np.concatenate([[0.0], trace[steps[:-1]]])
    expected = short_term.tm_train_amplitudes(n_spikes, interval * b2.ms, w=0.7, **udf)
    np.testing.assert_allclose(amplitudes, expected, rtol=1e-9)
    # the fixed point of the recursion is where a long train goes
    long_train = short_term.tm_train_amplitudes(2000, interval * b2.ms, w=0.7, **udf)
    assert long_train[-1] == pytest.approx(0.7 * short_term.tm_steady_state_factor(40 * b2.Hz, **udf), rel=1e-9)


def test_bad_parameters_raise_value_errors():
    with pytest.raises(ValueError, match="tau_pre"):
        stdp.pair_stdp_params(tau_pre=20.0)
    with pytest.raises(ValueError, match="w_max"):
        stdp.triplet_stdp_params(w_max=-1.0)
    with pytest.raises(ValueError, match="unknown"):
        stdp.pair_stdp_params(tau=1 * b2.ms)
    with pytest.raises(ValueError, match="'U'"):
        short_term.tm_params(1.5, 100 * b2.ms, 100 * b2.ms)


def test_gate_switches_learning_off():
    pre, post = [[10.0, 20.0], [10.0, 20.0]], [[15.0], [15.0]]  # pairs that change w in both rules
    for builder in (stdp.pair_stdp_synapses, stdp.triplet_stdp_synapses):
        w = run_pairs(functools.partial(builder, gate="0"), pre, post, 0.5, 50 * b2.ms)
        np.testing.assert_array_equal(w, [0.5, 0.5])
        w_on = run_pairs(builder, pre, post, 0.5, 50 * b2.ms)
        assert np.all(w_on != 0.5)


def test_triplet_synapses_with_short_term_depression_deliver_the_tsodyks_markram_amplitudes():
    """``extra_model`` + the TM update as ``effect``: each PSP is w u_n x_n of the Markram et al. recursion, and
    with the plasticity gate at 0 the weight stays put."""
    udf = short_term.GUPTA2000_UDF["EE"]
    interval, n_spikes, w = 20 * b2.ms, 8, 0.7
    source = b2.SpikeGeneratorGroup(1, np.zeros(n_spikes, dtype=int), (np.arange(n_spikes) * interval) + 1 * b2.ms)
    target = b2.NeuronGroup(1, "v : 1", threshold="False")  # never spikes: only the presynaptic side acts
    syn = stdp.triplet_stdp_synapses(source, target, [0], [0], w, gate="0", extra_model=short_term.TM_MODEL,
                                     effect=short_term.TM_ON_PRE.format(effect="v_post += w*r_stp"),
                                     namespace=short_term.tm_params(**udf))
    syn.x_stp = 1.0
    monitor = b2.StateMonitor(target, "v", record=0, dt=interval)
    b2.run(n_spikes * interval + 1 * b2.ms)
    expected = np.cumsum(short_term.tm_train_amplitudes(n_spikes, interval, w=w, **udf))
    # the monitor samples at k*interval, just before spike k (at k*interval + 1 ms)
    np.testing.assert_allclose(monitor.v[0][1:n_spikes + 1], expected, rtol=1e-12)
    assert expected[-1] < 0.5 * n_spikes * w * udf["U"]  # depression: far below n identical PSPs
    assert float(syn.w[0]) == w


def test_triplet_drift_of_independent_poisson_trains_matches_the_rate_formula():
    """Hippocampal fit (pair potentiation): uncorrelated firing depresses below its threshold (about 5 Hz of
    postsynaptic rate) and potentiates above it; the mean weight change over many independent synapses agrees
    with the Pfister & Gerstner (2006) average within its standard error (plus the dt-coincidence bias)."""
    n, duration, dt = 1000, 8 * b2.second, 0.5 * b2.ms
    params = stdp.triplet_parameter_set("hippocampal-minimal")
    params.update(w_min=-100.0, w_max=100.0, eta=1.0)  # caps out of reach: the formula ignores them
    rate_pre = 20 * b2.Hz
    rate_post = np.repeat([2.0, 30.0], n // 2) * b2.Hz
    b2.seed(2024)
    pre = b2.PoissonGroup(n, rate_pre, dt=dt)
    post = b2.PoissonGroup(n, rate_post, dt=dt)
    syn = stdp.triplet_stdp_synapses(pre, post, np.arange(n), np.arange(n), 0.0, dt=dt, **params)
    b2.Network(pre, post, syn).run(duration, namespace={})
    w = np.asarray(syn.w[:])
    for half, rate in ((slice(0, n // 2), 2.0 * b2.Hz), (slice(n // 2, n), 30.0 * b2.Hz)):
        expected = float(stdp.triplet_poisson_drift(rate_pre, rate, **params) * duration)
        sem = w[half].std(ddof=1) / np.sqrt(w[half].size)
        assert abs(w[half].mean() - expected) < 4 * sem + 0.03 * abs(expected), (w[half].mean(), expected, sem)
    assert w[: n // 2].mean() < 0 < w[n // 2:].mean()
    # the threshold between the two, from the formula: about 5.4 Hz for this fit, 17.5 Hz for the visual one
    for name, threshold in (("hippocampal-minimal", 5.38), ("visual-minimal", 17.5)):
        p = stdp.triplet_parameter_set(name)
        assert float(stdp.triplet_poisson_drift(10 * b2.Hz, threshold * 0.98 * b2.Hz, **p)) < 0
        assert float(stdp.triplet_poisson_drift(10 * b2.Hz, threshold * 1.02 * b2.Hz, **p)) > 0


def test_triplet_parameter_sets_and_drift_reject_bad_input():
    with pytest.raises(ValueError, match="unknown triplet parameter set 'cortex'.*hippocampal-minimal"):
        stdp.triplet_parameter_set("cortex")
    with pytest.raises(ValueError, match="'rate_post'"):
        stdp.triplet_poisson_drift(10 * b2.Hz, 5.0)
    with pytest.raises(ValueError, match="'rate_pre'"):
        stdp.triplet_poisson_drift(-1 * b2.Hz, 5 * b2.Hz)


def test_sliding_threshold_scales_pair_depression_with_the_squared_rate_estimate():
    """Two post spikes, then a pre spike: the depression is eta o1 A2- (rbar/rho_0)^2 with rbar written out
    (starts at rho_0, decays with tau_bar, jumps by 1/tau_bar per post spike); potentiation is unchanged."""
    tau_bar, rho_0 = 100.0, 5.0  # ms, Hz
    p = stdp.triplet_stdp_params(**stdp.PFISTER2006_VISUAL_MINIMAL)
    tm, tp = (float(p[k] / b2.ms) for k in ("tau_minus", "tau_plus"))
    sliding = {"tau_bar": tau_bar * b2.ms, "rho_0": rho_0 * b2.Hz}
    builder = functools.partial(stdp.triplet_stdp_synapses, sliding=sliding)
    # synapse 0: post at 20, 40 ms; pre at 60 ms. synapse 1: nothing but a pre at 60 ms (o1 = 0: no change)
    # synapse 2: pre at 10, post at 30 ms: pair + triplet potentiation as in the plain rule
    w = run_pairs(builder, [[60.0], [60.0], [10.0]], [[20.0, 40.0], [], [30.0]], 0.5, 100 * b2.ms)
    rbar = rho_0 * np.exp(-60 / tau_bar) + 1000.0 / tau_bar * (np.exp(-40 / tau_bar) + np.exp(-20 / tau_bar))  # Hz
    o1 = np.exp(-40 / tm) + np.exp(-20 / tm)
    expected0 = 0.5 - o1 * p["A2_minus"] * (rbar / rho_0) ** 2
    expected2 = 0.5 + np.exp(-20 / tp) * p["A2_plus"]  # o2 = 0 before the first post spike
    np.testing.assert_allclose(w, [expected0, 0.5, expected2], rtol=1e-9, atol=1e-13)
    assert (rbar / rho_0) ** 2 > 10  # the two spikes in 100 ms raised the threshold well above the plain rule's
    with pytest.raises(ValueError, match="'rho_0'"):
        stdp.sliding_threshold_params(rho_0=0 * b2.Hz)
    with pytest.raises(ValueError, match="unknown sliding-threshold"):
        stdp.sliding_threshold_params(theta=1)
