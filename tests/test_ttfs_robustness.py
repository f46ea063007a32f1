"""Imperfect TTFS substrate: each imperfection against an independent answer; the robustness study."""

import argparse
import json
import os

import numpy as np
import pandas as pd
import pytest

from brian2learn.models import ttfs as model
from brian2learn.models import ttfs_substrate as sub
from brian2learn.plasticity import ttfs
from brian2learn.simulation.devices import DeviceRunner
from brian2learn.studies import ttfs_robustness
from brian2learn.training.ttfs import TTFSTrainer

DT = 0.01  # substrate step, tau_s


def inputs(n_copies, n_features, seed):
    rng = np.random.default_rng(seed)
    t_in = np.concatenate([0.15 + 1.85 * rng.uniform(0, 1, (n_copies, n_features)),
                           np.full((n_copies, 1), 0.9)], axis=1)
    return np.round(t_in / DT) * DT  # on the grid: recorded inputs equal the asked times


def psp(s, tau_m, tau_s):
    """Unit-weight PSP for any tau_m, tau_s (natural units): tau_s/(tau_m - tau_s) (e^{-s/tau_m} - e^{-s/tau_s})."""
    s = np.maximum(s, 0.0)
    if np.isclose(tau_m, tau_s):
        return (s / tau_m) * np.exp(-s / tau_m)
    return tau_s / (tau_m - tau_s) * (np.exp(-s / tau_m) - np.exp(-s / tau_s))


def first_crossing(t_in, w, tau_m, tau_s, theta, t_max=4.0):
    """First time the potential reaches ``theta`` on a grid of 1e-4 tau_s (inf if never)."""
    grid = np.arange(0.0, t_max, 1e-4)
    finite = np.isfinite(t_in)
    u = sum(wk * psp(grid - tk, tau_m, tau_s) for tk, wk in zip(t_in[finite], w[finite]))
    above = np.flatnonzero(u >= theta)
    return grid[above[0]] if above.size else np.inf


# -- quantisation ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("bits", [2, 3, 4, 6, 8])
def test_quantisation_levels_and_error(bits):
    rng = np.random.default_rng(bits)
    w = rng.normal(0.5, 1.5, (40, 30))
    w_max = 2.5
    q = sub.quantize_weights(w, bits, w_max)
    step = w_max / (2 ** (bits - 1) - 1)
    assert len(np.unique(q)) <= 2 ** bits
    inside = np.abs(w) <= w_max
    assert np.all(np.abs(q - w)[inside] <= step / 2 + 1e-12)
    np.testing.assert_allclose(q[~inside], np.sign(w[~inside]) * w_max)  # clipped to the range
    np.testing.assert_allclose(q / step, np.round(q / step), atol=1e-9)  # on the levels
    np.testing.assert_array_equal(sub.quantize_weights(q, bits, w_max), q)  # idempotent
    # the substrate quantises to the largest |w| of each layer unless a range is given
    substrate_like = sub.TTFSSubstrate.__new__(sub.TTFSSubstrate)
    substrate_like.imperfections = sub.Imperfections(weight_bits=bits)
    substrate_like.weight_range = None
    realised = substrate_like.realised_weights([w])[0]
    assert np.max(np.abs(realised)) == pytest.approx(np.max(np.abs(w)))
    assert len(np.unique(realised)) <= 2 ** bits


# -- fixed pattern ----------------------------------------------------------------------------------------
def test_fixed_pattern_uses_common_random_numbers():
    sizes = [5, 200, 3]
    weak = sub.draw_fixed_pattern(sizes, sub.Imperfections(threshold_cv=0.05, tau_cv=0.05, dead_fraction=0.1), 7)
    strong = sub.draw_fixed_pattern(sizes, sub.Imperfections(threshold_cv=0.2, tau_cv=0.2, dead_fraction=0.3), 7)
    np.testing.assert_allclose(strong.theta[0] - 1, 4 * (weak.theta[0] - 1), rtol=1e-12)
    assert np.std(strong.theta[0]) == pytest.approx(0.2, rel=0.15)
    assert np.std(strong.tau_m[0]) == pytest.approx(0.2, rel=0.15)
    assert not np.allclose(strong.tau_m[0], strong.tau_s[0])  # independent draws
    assert (~weak.alive[0]).sum() == 20 and (~strong.alive[0]).sum() == 60
    assert np.all(strong.alive[0] <= weak.alive[0])  # the dead of 10 % are among those of 30 %
    assert strong.alive[1].all()  # no dead outputs
    ideal = sub.draw_fixed_pattern(sizes, sub.Imperfections(), 7)
    for got, expected in zip((ideal.theta, ideal.tau_m, ideal.tau_s), (1.0, 1.0, 1.0)):
        assert all(np.all(a == expected) for a in got)


# -- Brian2 substrate (runtime device) ----------------------------------------------------------------------
def run_ideal_batch_network(t_in, weights, sizes):
    params = model.GOELTZ2021_PARAMS
    tau_s = params["tau_s"]

    def build():
        return model.TTFSBatchNetwork(sizes, len(t_in), params, dt=DT * tau_s, duration=4.0 * tau_s)

    values = model.batch_network_values(t_in, weights, sizes, len(t_in), params, DT * tau_s, 4.0 * tau_s)
    return DeviceRunner(build, device="runtime").run(values).spike_times()


def test_without_imperfections_the_substrate_is_the_ideal_network_exactly():
    """Zero threshold variation (and nothing else) gives the spike times of TTFSBatchNetwork exactly."""
    sizes = [4, 12, 3]
    rng = np.random.default_rng(3)
    weights = [rng.normal(1.5, 1.0, (4, 12)), rng.normal(1.0, 1.0, (12, 3))]
    t_in = inputs(6, 3, seed=1)
    t_in[5] = np.inf  # a silent copy
    ideal = run_ideal_batch_network(t_in, weights, sizes)
    with sub.TTFSSubstrate(sizes, imperfections=sub.Imperfections(threshold_cv=0.0), pattern_seed=4,
                           device="runtime", n_copies=6) as substrate:
        got = substrate(t_in, weights)
    assert np.isfinite(ideal[1]).sum() >= 30 and np.isfinite(ideal[2]).sum() >= 6
    for expected, recorded in zip(ideal, got):
        np.testing.assert_array_equal(recorded, expected)


def test_threshold_variation_gives_each_neuron_its_own_threshold():
    """Layer-1 spike times equal the closed form with each neuron's threshold, up to one step."""
    sizes = [4, 20]
    rng = np.random.default_rng(5)
    w = rng.normal(1.6, 1.0, (4, 20))
    t_in = inputs(5, 3, seed=2)
    with sub.TTFSSubstrate(sizes, imperfections=sub.Imperfections(threshold_cv=0.3), pattern_seed=1,
                           device="runtime", n_copies=5) as substrate:
        got = substrate(t_in, [w])
        theta = substrate.pattern.theta[0]
    assert np.std(theta) > 0.15
    expected = np.column_stack([model.first_spike_times(t_in, w[:, n], theta=theta[n]) for n in range(20)])
    nominal = model.first_spike_times(t_in, w)
    both = np.isfinite(expected)
    assert both.sum() >= 40
    shared = both & np.isfinite(nominal)
    assert np.max(np.abs(expected[shared] - nominal[shared])) > 10 * DT  # the test can tell the thresholds apart
    np.testing.assert_array_equal(np.isfinite(got[1]), both)
    delay = got[1][both] - expected[both]
    assert np.all(delay >= -1e-9) and np.all(delay <= DT + 1e-9)


def test_time_constant_variation_follows_each_neurons_membrane():
    """Per-neuron tau_m, tau_s (drawn, and tau_m = tau_s = 1.3 exactly): first crossing of the exact potential."""
    sizes = [4, 16]
    rng = np.random.default_rng(6)
    w = rng.normal(1.8, 1.0, (4, 16))
    t_in = inputs(3, 3, seed=3)
    pattern = sub.draw_fixed_pattern(sizes, sub.Imperfections(tau_cv=0.3), seed=2)
    pattern.tau_m[0][0] = pattern.tau_s[0][0] = 1.3  # the equal-time-constant limit of the propagator
    with sub.TTFSSubstrate(sizes, device="runtime", n_copies=3) as substrate:
        substrate.set_imperfections(sub.Imperfections(tau_cv=0.3), pattern=pattern)
        got = substrate(t_in, [w])
    assert np.std(pattern.tau_m[0]) > 0.15
    checked = 0
    for c in range(3):
        for n in range(16):
            expected = first_crossing(t_in[c], w[:, n], pattern.tau_m[0][n], pattern.tau_s[0][n], 1.0)
            if np.isinf(expected):
                assert np.isinf(got[1][c, n])
                continue
            checked += 1
            assert 0.0 <= got[1][c, n] - expected <= DT + 2e-4
    assert checked >= 20
    # tau_m = tau_s = 1.3: the ideal neuron slowed down by 1.3 (time-scale invariance of the closed form)
    scaled = 1.3 * model.first_spike_times(t_in / 1.3, w[:, 0])
    finite = np.isfinite(scaled)
    assert np.all(np.abs(got[1][finite, 0] - scaled[finite]) <= DT + 1e-9)


def test_dead_neurons_never_spike():
    sizes = [4, 20, 3]
    weights = [np.full((4, 20), 3.0), np.full((20, 3), 0.6)]  # every neuron fires when alive
    t_in = inputs(4, 3, seed=4)
    with sub.TTFSSubstrate(sizes, imperfections=sub.Imperfections(dead_fraction=0.25), pattern_seed=3,
                           device="runtime", n_copies=4) as substrate:
        got = substrate(t_in, weights)
        alive = substrate.pattern.alive
    assert (~alive[0]).sum() == 5 and alive[1].all()
    assert np.all(np.isinf(got[1][:, ~alive[0]]))
    assert np.all(np.isfinite(got[1][:, alive[0]])) and np.all(np.isfinite(got[2]))


def test_jitter_has_the_asked_std_and_changes_from_trial_to_trial():
    sigma = 0.1
    sizes = [4, 30]
    rng = np.random.default_rng(7)
    w = rng.normal(1.8, 0.6, (4, 30))
    t_in = inputs(40, 3, seed=5)
    with sub.TTFSSubstrate(sizes, imperfections=sub.Imperfections(jitter=sigma), max_jitter=sigma, jitter_seed=2,
                           device="runtime", n_copies=40) as substrate:
        first = substrate(t_in, [w])
        second = substrate(t_in, [w])
        assert substrate.offset == pytest.approx(0.4)
    input_noise = first[0] - t_in
    assert abs(np.mean(input_noise)) < 0.02
    assert np.std(input_noise) == pytest.approx(sigma, rel=0.1)
    # the emitted spike is the membrane crossing (closed form given the jittered inputs) plus its own jitter
    crossing = model.first_spike_times(first[0], w)
    spiking = np.isfinite(crossing) & np.isfinite(first[1])
    assert spiking.sum() > 1000
    output_noise = first[1][spiking] - crossing[spiking]
    assert abs(np.mean(output_noise) - DT / 2) < 0.02
    assert np.std(output_noise) == pytest.approx(sigma, rel=0.1)
    assert np.mean(first[0] != second[0]) > 0.9  # new draws each run


def test_substrate_in_the_loop_quantises_but_trains_float_weights():
    """With weight_bits the substrate runs the quantised weights; the trainer keeps learning float weights."""
    config = ttfs.TTFSConfig(layer_sizes=(4, 8, 3), batch_size=6)
    weights = ttfs.initial_weights(config, 3)
    t_in = inputs(6, 3, seed=6)
    labels = np.array([0, 1, 2, 0, 1, 2])
    with sub.TTFSSubstrate(config.layer_sizes, imperfections=sub.Imperfections(weight_bits=3), device="runtime",
                           n_copies=6) as substrate:
        quantised = substrate.realised_weights(weights)
        got = substrate(t_in, weights)
        trainer = TTFSTrainer(config, weights, forward=substrate)
        loss, _, _ = trainer.train_batch(t_in, labels)
    expected = run_ideal_batch_network(t_in, quantised, list(config.layer_sizes))
    for recorded, ideal in zip(got, expected):
        np.testing.assert_array_equal(recorded, ideal)
    assert np.isfinite(loss).all()
    assert len(np.unique(trainer.weights[0])) > 2 ** 3  # float weights, changed by the step
    assert any(not np.array_equal(a, b) for a, b in zip(weights, trainer.weights))


# -- bad input -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("call, name", [
    (lambda: sub.Imperfections(threshold_cv=-0.1), "'threshold_cv'"),
    (lambda: sub.Imperfections(jitter=np.nan), "'jitter'"),
    (lambda: sub.Imperfections(weight_bits=1), "'weight_bits'"),
    (lambda: sub.Imperfections(dead_fraction=1.5), "'dead_fraction'"),
    (lambda: sub.Imperfections.of_kind("noise", 0.1), "unknown imperfection"),
    (lambda: sub.quantize_weights(np.ones(3), 1, 1.0), "'bits'"),
    (lambda: sub.quantize_weights(np.ones(3), 4, 0.0), "'w_max'"),
    (lambda: sub.TTFSSubstrate([3, 2], imperfections=sub.Imperfections(jitter=0.1), device="runtime"), "'jitter'"),
    (lambda: sub.TTFSSubstrate([3, 2], n_copies=0, device="runtime"), "'n_copies'"),
    (lambda: sub.TTFSSubstrate([3, 2], weight_range=[1.0, 2.0], device="runtime"), "'weight_range'"),
    (lambda: sub.TTFSSubstrate([3, 2], device="runtime")(np.array([[-1.0, 0.0, 0.0]]), [np.ones((3, 2))]), "'t_in'"),
])
def test_bad_input_names_the_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()


@pytest.mark.parametrize("changes, name", [
    ({"finetune_epochs": 0}, "'--finetune-epochs'"), ({"kinds": "threshold,noise"}, "'--kinds'"),
    ({"seed": -1}, "'--seed'"), ({"device": "gpu"}, "'--device'"), ({"weights": "/nonexistent.npz"}, "'--weights'"),
])
def test_study_rejects_bad_options(changes, name, tmp_path):
    parser = argparse.ArgumentParser()
    ttfs_robustness.Options.add_arguments(parser)
    args = parser.parse_args(["--out", str(tmp_path)])
    for key, value in changes.items():
        setattr(args, key, value)
    with pytest.raises(ValueError, match=name):
        ttfs_robustness.run(ttfs_robustness.Options.from_args(args))


def test_study_runs_end_to_end(tmp_path, summary_vocabulary):
    parser = argparse.ArgumentParser()
    ttfs_robustness.Options.add_arguments(parser)
    args = parser.parse_args(["--quick", "--device", "runtime", "--kinds", "weight_bits", "--pretrain-epochs", "3",
                              "--train-samples", "300", "--test-samples", "150", "--out", str(tmp_path)])
    summary = ttfs_robustness.run(ttfs_robustness.Options.from_args(args))
    summary_vocabulary(summary, spiking=True)
    with open(os.path.join(tmp_path, "summary.json"), encoding="utf-8") as handle:
        written = json.load(handle)
    assert written["status"] == "completed" and summary["study"] == "ttfs-robustness"
    result = written["results"]["weight_bits"]
    assert len(result["strengths"]) == len(result["software"]) == len(result["in_loop"]) >= 2
    table = pd.read_parquet(os.path.join(tmp_path, "robustness.parquet"))
    assert set(table["training"]) == {"software", "in_loop", "control"}
    assert table["test_accuracy"].between(0, 1).all()
    software = table[(table["training"] == "software") & (table["kind"] == "weight_bits")]
    assert software["test_accuracy"].tolist() == pytest.approx(result["software"])
    for name in written["figures"] + written["tables"]:
        assert os.path.getsize(os.path.join(tmp_path, name)) > 0
