"""The RFLO period sweep of studies/rflo.py (Murray 2019, Fig. 2b) against numpy, and its options.

Small networks on the runtime device keep it fast; the untrained loss is checked against a numpy forward
pass, and the trained losses against the untrained one.
"""

import json
import os

import numpy as np
import pandas as pd
import pytest

from brian2learn.plasticity import rflo
from brian2learn.studies import rflo as study
from brian2learn.tasks.periodic_target import periodic_target_task, segment_contexts

SMALL = {**study.SWEEP_NETWORK, "n_rec": 8, "tau": 4.0, "learning_rates": (0.0, 0.1, 0.1)}
PERIODS = (5, 10)  # units of tau: 20 and 40 steps
SEGMENT_TAU = 2.5  # the augmented circuit at 10 tau: 4 contexts of 10 steps


@pytest.fixture(scope="module")
def sweep():
    return study.period_sweep(PERIODS, 40, seed=2, device="runtime", network=SMALL, progress=False,
                              augmented_periods=(10,), segment_tau=SEGMENT_TAU)


def test_sweep_table_has_every_period_and_method(sweep):
    table, curves = sweep
    assert sorted(table["period_tau"].unique()) == [5.0, 10.0]
    assert set(table["period_steps"]) == {20, 40}
    assert set(table[table["period_tau"] == 5]["method"]) == set(study.SWEEP_METHODS)
    assert set(table[table["period_tau"] == 10]["method"]) == {*study.SWEEP_METHODS, study.AUGMENTED_METHOD}
    assert len(curves) == (len(PERIODS) * 2 + 1) * 40
    assert table.set_index("method")["segments"].to_dict() == {"rflo": 0, "bptt": 0, "untrained": 0,
                                                               study.AUGMENTED_METHOD: 4}
    for row in table[table["method"] != "untrained"].itertuples():
        rows = curves[(curves["period_tau"] == row.period_tau) & (curves["method"] == row.method)]
        assert np.isclose(row.final_loss, rows["loss"].to_numpy()[-2:].mean())  # last 5 % of 40 trials
        assert np.isclose(row.last_loss, rows["loss"].iloc[-1])


def test_untrained_loss_equals_a_numpy_forward_pass(sweep):
    table, _ = sweep
    for period in PERIODS:
        steps = int(period * SMALL["tau"])
        config = rflo.RfloConfig(**{**SMALL, "n_points": steps})
        weights = rflo.initial_weights(config, 2, g=study.GAIN)
        task = periodic_target_task(n_points=steps, period=float(steps))
        expected = study.untrained_loss(weights, task, SMALL["tau"])
        # Independent of leaky_tanh_forward: the recursion written out here.
        h, loss = weights["h0"].copy(), task["targets"][0, 0] ** 2
        for t in range(1, steps):
            h = h + (-h + np.tanh(weights["w_rec"] @ h)) / SMALL["tau"]
            loss += (task["targets"][t, 0] - weights["w_out"][0] @ h) ** 2
        assert np.isclose(expected, loss / (2 * steps), rtol=1e-12)
        measured = table[(table["period_tau"] == period) & (table["method"] == "untrained")]["final_loss"].iloc[0]
        assert np.isclose(measured, expected, rtol=1e-9)


def test_training_lowers_the_loss_below_the_untrained_network(sweep):
    table, _ = sweep
    for period in PERIODS:
        rows = table[table["period_tau"] == period].set_index("method")
        for method in ("rflo", "bptt"):
            assert rows.loc[method, "final_loss"] < 0.8 * rows.loc["untrained", "final_loss"], (period, method)


def test_augmented_circuit_starts_as_a_numpy_forward_pass_with_contexts_and_learns(sweep):
    table, curves = sweep
    steps = int(10 * SMALL["tau"])
    config = rflo.RfloConfig(**{**SMALL, "n_points": steps})
    plain = rflo.initial_weights(config, 2, g=study.GAIN)
    augmented_config, weights = rflo.augmented_circuit(config, plain, 4, seed=2)
    contexts = segment_contexts(steps, 4)
    target = periodic_target_task(n_points=steps, period=float(steps))["targets"][:, 0]
    # The recursion written out, the context of each step entering through W_in.
    h, loss = weights["h0"].copy(), target[0] ** 2
    for t in range(1, steps):
        h = h + (-h + np.tanh(weights["w_rec"] @ h + weights["w_in"] @ contexts[t])) / SMALL["tau"]
        loss += (target[t] - weights["w_out"][0] @ h) ** 2
    first = curves[(curves["method"] == study.AUGMENTED_METHOD)]["loss"].to_numpy()
    assert np.isclose(first[0], loss / (2 * steps), rtol=1e-9)
    rows = table[table["period_tau"] == 10].set_index("method")
    assert rows.loc[study.AUGMENTED_METHOD, "final_loss"] < 0.8 * rows.loc["untrained", "final_loss"]
    assert augmented_config.learning_rates == (rflo.AUGMENTED_CIRCUIT["eta_in"], 0.1, 0.1)


def test_segment_contexts_and_the_augmented_weights():
    contexts = segment_contexts(10, 3)
    assert contexts.shape == (10, 3) and np.all(contexts.sum(axis=1) == 1)
    active = contexts.argmax(axis=1)
    assert np.all(np.diff(active) >= 0) and sorted(np.bincount(active)) == [3, 3, 4]  # in order, near-equal
    for args, match in (((10, 0), "'n_segments' must be a positive integer"), ((3, 4), "at most n_points = 3"),
                        ((0, 1), "'n_points' must be a positive integer")):
        with pytest.raises(ValueError, match=match):
            segment_contexts(*args)
    config = rflo.RfloConfig(**{**SMALL, "n_points": 20})
    plain = rflo.initial_weights(config, 5)
    augmented_config, weights = rflo.augmented_circuit(config, plain, 3, seed=5)
    for name in ("w_rec", "w_out", "B", "h0"):  # the same RNN as the plain network's
        np.testing.assert_array_equal(weights[name], plain[name])
    assert weights["w_in"].shape == (SMALL["n_rec"], 3) and augmented_config.n_in == 3
    np.testing.assert_array_equal(rflo.augmented_circuit(config, plain, 3, seed=5)[1]["w_in"], weights["w_in"])
    assert not np.allclose(rflo.augmented_circuit(config, plain, 3, seed=6)[1]["w_in"], weights["w_in"])
    assert abs(np.std(rflo.augmented_circuit(config, plain, 400, seed=5)[1]["w_in"]) - 1.0) < 0.05
    assert [study.segment_count(p) for p in (100, 120, 160, 5)] == [5, 6, 8, 1]
    with pytest.raises(ValueError, match="'n_segments' must be a positive integer"):
        rflo.augmented_circuit(config, plain, 0, seed=5)
    with pytest.raises(ValueError, match="'context_scale' must be a positive number"):
        rflo.augmented_circuit(config, plain, 2, seed=5, context_scale=0.0)
    with pytest.raises(ValueError, match="'augmented_periods' must be among"):
        study.period_sweep(PERIODS, 2, seed=2, device="runtime", network=SMALL, augmented_periods=(7,))


def test_realizations_are_networks_of_successive_seeds_and_the_median_summarises_them(sweep):
    table, _ = sweep
    two, curves = study.period_sweep(PERIODS[:1], 40, seed=2, device="runtime", network=SMALL, progress=False,
                                     realizations=2)
    assert sorted(two["seed"].unique()) == [2, 3] and len(curves) == 2 * 2 * 40
    first = two[two["seed"] == 2].set_index("method")["final_loss"]
    alone = table[table["period_tau"] == PERIODS[0]].set_index("method")["final_loss"]
    pd.testing.assert_series_equal(first.sort_index(), alone.sort_index(), rtol=1e-12)  # same seed, same network
    steps = int(PERIODS[0] * SMALL["tau"])
    config = rflo.RfloConfig(**{**SMALL, "n_points": steps})
    seed3 = study.untrained_loss(rflo.initial_weights(config, 3, g=study.GAIN),
                                 periodic_target_task(n_points=steps, period=float(steps)), SMALL["tau"])
    untrained = two[(two["method"] == "untrained")].set_index("seed")["final_loss"]
    assert np.isclose(untrained[3], seed3, rtol=1e-9) and not np.isclose(untrained[2], untrained[3])
    medians = study.sweep_medians(two).set_index("method")
    for method in study.SWEEP_METHODS:
        values = two[two["method"] == method]["final_loss"].to_numpy()
        assert np.isclose(medians.loc[method, "final_loss"], values.mean())  # the median of two
        assert medians.loc[method, "q25"] <= medians.loc[method, "final_loss"] <= medians.loc[method, "q75"]
        assert medians.loc[method, "realizations"] == 2
    with pytest.raises(ValueError, match="'realizations' must be a positive integer"):
        study.period_sweep(PERIODS[:1], 2, seed=2, device="runtime", network=SMALL, realizations=0)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning",
                            "ignore:invalid value encountered:RuntimeWarning")
def test_a_diverging_network_counts_as_infinite_loss_and_the_sweep_goes_on():
    huge = {**SMALL, "learning_rates": (0.0, 1e8, 1e8)}  # the first update throws the readout far off
    table, _ = study.period_sweep(PERIODS[:1], 40, seed=2, device="runtime", network=huge, progress=False,
                                  with_bptt=False)
    rows = table.set_index("method")
    assert np.isinf(rows.loc["rflo", "final_loss"])
    steps = int(PERIODS[0] * SMALL["tau"])
    config = rflo.RfloConfig(**{**huge, "n_points": steps})
    expected = study.untrained_loss(rflo.initial_weights(config, 2, g=study.GAIN),
                                    periodic_target_task(n_points=steps, period=float(steps)), SMALL["tau"])
    assert np.isclose(rows.loc["untrained", "final_loss"], expected, rtol=1e-12)


def test_parse_periods_and_bad_input():
    assert study.parse_periods("20,40, 160", 10.0) == (20.0, 40.0, 160.0)
    assert study.parse_periods("2.5", 4.0) == (2.5,)
    for text, match in (("", "comma-separated"), ("20,x", "'x'"), ("0", "positive"), ("0.15", "whole number"),
                        ("20,20", "twice")):
        with pytest.raises(ValueError, match=match):
            study.parse_periods(text, 10.0)
    args = dict(quick=True, seed=1, device="runtime", trials=None, no_bptt=False, periods="20,-1",
                                 sweep_trials=None, no_sweep=False, out=None)
    with pytest.raises(ValueError, match="--periods"):
        study.run(study.Options(**args))
    with pytest.raises(ValueError, match="--sweep-trials"):
        study.run(study.Options(**{**args, "periods": None, "sweep_trials": 0}))
    with pytest.raises(ValueError, match="'--realizations' must be a positive integer, got 0"):
        study.run(study.Options(**{**args, "periods": None, "realizations": 0}))
    with pytest.raises(ValueError, match="'--bptt-clip-norm' must be a non-negative number"):
        study.run(study.Options(**{**args, "periods": None, "bptt_clip_norm": -1.0}))
    with pytest.raises(ValueError, match="'--augmented-periods': 60 not among the sweep's periods"):
        study.run(study.Options(**{**args, "periods": "20,160", "augmented_periods": "60"}))
    with pytest.raises(ValueError, match="'--augmented-periods' must be comma-separated"):
        study.run(study.Options(**{**args, "periods": None, "augmented_periods": "x"}))
    quick = study.Options(**{**args, "periods": None})
    assert study.augmented_periods(quick, "quick") == (160,)
    assert study.augmented_periods(study.Options(**{**args, "periods": "20,100"}), "full") == (100,)
    assert study.augmented_periods(study.Options(**{**args, "periods": None, "augmented_periods": "none"}),
                                   "quick") == ()


def test_study_writes_the_sweep_and_keeps_its_outputs(tmp_path, summary_vocabulary):
    args = dict(quick=True, seed=3, device="runtime", trials=2, no_bptt=True, periods="2",
                                 sweep_trials=3, no_sweep=False, out=str(tmp_path / "run"))
    summary = study.run(study.Options(**{**args, "realizations": 2}))
    summary_vocabulary(summary, spiking=False)
    assert summary["methods"]["rflo"]["realizations"]["seeds"] == [3, 4]
    losses = pd.read_parquet(os.path.join(args["out"], "losses.parquet"))
    last = losses[losses["trial"] == 1].set_index("seed")["loss"]
    assert summary["methods"]["rflo"]["final_loss"] == last[3]  # the first network's last trial
    assert np.isclose(summary["methods"]["rflo"]["realizations"]["median"], last.mean())
    for name in ("losses.parquet", "outputs_last_trial.parquet", "learning_curves.png", "output_vs_target.png",
                 "period_sweep.parquet", "period_sweep_curves.parquet", "period_sweep.png"):
        assert os.path.exists(os.path.join(args["out"], name)), name
    table = pd.read_parquet(os.path.join(args["out"], "period_sweep.parquet"))
    assert set(table["method"]) == {"rflo", "untrained"} and set(table["period_steps"]) == {20}
    assert saved_augmented(args["out"]) is None  # 2 tau is not among the quick mode's augmented periods
    with open(os.path.join(args["out"], "summary.json"), encoding="utf-8") as handle:
        saved = json.load(handle)
    assert saved["period_sweep"]["periods_tau"] == [2.0] and saved["period_sweep"]["network"]["n_rec"] == 30
    assert set(table["seed"]) == {3, 4}
    assert np.isclose(saved["period_sweep"]["final_loss"]["untrained"]["2"],
                      table[table["method"] == "untrained"]["final_loss"].median())
    assert summary["methods"]["rflo"]["final_loss"] > 0
    augmented = study.run(study.Options(**{**args, "trials": 1, "augmented_periods": "2",
                                           "out": str(tmp_path / "augmented")}))
    table = pd.read_parquet(os.path.join(str(tmp_path / "augmented"), "period_sweep.parquet"))
    assert set(table["method"]) == {"rflo", "untrained", study.AUGMENTED_METHOD}
    assert augmented["period_sweep"]["augmented"]["segments"] == {"2": 1}
    assert "loss_over_bptt" not in augmented["period_sweep"]["augmented"]  # no BPTT, no ratio
    skipped = study.run(study.Options(**{**args, "no_sweep": True, "out": str(tmp_path / "skip")}))
    assert skipped["period_sweep"] is None


def saved_augmented(run_dir):
    with open(os.path.join(run_dir, "summary.json"), encoding="utf-8") as handle:
        return json.load(handle)["period_sweep"]["augmented"]
