"""The learning-rule arena: registration, the grid on the sweep engine (resumable), its table, markdown and figures
against a closed form, and built-in cells against independent answers.

This module also registers a toy task and two toy rules, the way a user adds their own (the workers import it
by its name through ``register``): gradient descent on a quadratic, whose loss after n trials is known exactly.
"""

import json
import math
import os

import numpy as np
import pandas as pd
import pytest

from brian2learn.studies import arena, arena_cells
from brian2learn.studies import arena_registry as registry
from brian2learn.studies.cli import main as cli_main

HERE = __name__
TOY_RATE = 0.1  # learning rate of the toy rule
TOY_CRITERION = 0.05


def toy_loss(seed, n, factor=1.0):
    """Loss of w after n steps of w <- w - eta (w - 1) from w = -seed: ((1 - eta)^n (1 + seed))^2 / 2."""
    return 0.5 * ((1 - TOY_RATE * factor) ** n * (1 + seed)) ** 2


def toy_weight(seed, n, bits=None):
    """w after n steps: 1 - (1 - eta)^n (1 + seed); with ``bits``, the weight the network runs with: w rounded to
    multiples of 2^-bits (the toy's levels)."""
    w = 1.0 - (1 - TOY_RATE) ** n * (1 + seed)
    return w if bits is None else round(w * 2 ** bits) / 2 ** bits


def toy_cell(spec):
    w, losses = -float(spec.seed), []
    for _ in range(spec.trials):
        w -= TOY_RATE * spec.learning_rate_factor * (w - 1.0)
        held = w if spec.weight_bits is None else np.round(w * 2 ** spec.weight_bits) / 2 ** spec.weight_bits
        losses.append(0.5 * (held - 1.0) ** 2)
    return registry.CellResult(performance=losses[-1], untrained=toy_loss(spec.seed, 0), trials=spec.trials,
                               curve=pd.DataFrame({"trial": np.arange(1, spec.trials + 1), "performance": losses}),
                               synaptic_operations_per_trial=3.0)


TOY_TASK = registry.register_task(registry.ArenaTask(
    name="toy-quadratic", description="test only: w -> 1", metric="loss", criterion=TOY_CRITERION,
    budget={"quick": 30, "full": 60}, wall_cap_seconds={"quick": 10, "full": 10},
    network={"quick": "one weight", "full": "one weight"}))
registry.register_rule(registry.ArenaRule("toy-gd", "test only: gradient descent", cells={"toy-quadratic": toy_cell},
                                          discrete_weights=("toy-quadratic",)))
registry.register_rule(registry.ArenaRule("toy-full", "test only: full precision only",
                                          cells={"toy-quadratic": toy_cell}))


def toy_cell_diverging_on_seed_2(spec):
    if spec.seed == 2:
        raise FloatingPointError("the toy's loss left the finite numbers")
    return toy_cell(spec)


def toy_cell_diverging_above_factor_2(spec):
    if spec.learning_rate_factor > 2:
        raise FloatingPointError("the toy's loss left the finite numbers")
    return toy_cell(spec)


registry.register_rule(registry.ArenaRule("toy-diverging", "test only: seed 2 stops with an error",
                                          cells={"toy-quadratic": toy_cell_diverging_on_seed_2},
                                          discrete_weights=("toy-quadratic",)))
registry.register_rule(registry.ArenaRule("toy-unstable", "test only: a factor above 2 stops with an error",
                                          cells={"toy-quadratic": toy_cell_diverging_above_factor_2}))
registry.register_rule(registry.ArenaRule("toy-none", "test only: never defined",
                                          cells={}, empty={"toy-quadratic": "the toy rule has no cell here"}))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    from distributed import LocalCluster

    cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None,
                           env={"TMPDIR": str(tmp_path_factory.mktemp("workers"))})
    yield cluster
    cluster.close()


def test_grid_runs_on_the_sweep_engine_resumes_and_writes_the_table_markdown_and_figures(cluster, tmp_path):
    out = tmp_path / "arena"
    table = arena.run_arena(out, quick=True, rules=["toy-gd", "toy-none"], tasks=["toy-quadratic"], seeds=3,
                            scheduler=cluster.scheduler_address, register=(HERE,), progress=False)
    assert list(table["seed"]) == [1, 2, 3] and set(table["status"]) == {"completed"}
    for row in table.itertuples():
        first_met = min(n for n in range(1, 31) if toy_loss(row.seed, n) <= TOY_CRITERION)
        assert row.trials_to_criterion == first_met
        assert math.isclose(row.performance, toy_loss(row.seed, 30), rel_tol=1e-12)
        assert math.isclose(row.normalized, 1 - toy_loss(row.seed, 30) / toy_loss(row.seed, 0), rel_tol=1e-12)
        assert row.trials == row.budget_trials == 30 and row.training_synaptic_operations == 90.0
    stored = pd.read_parquet(out / "arena.parquet")
    pd.testing.assert_frame_equal(stored, table, check_dtype=False)
    empty = pd.read_parquet(out / "arena_empty.parquet")
    assert empty.to_dict("records") == [{"rule": "toy-none", "task": "toy-quadratic",
                                         "reason": "the toy rule has no cell here"}]
    text = (out / "arena.md").read_text()
    median_normalized = np.median(table["normalized"])
    assert f"| toy-gd | {median_normalized:.2g} (3) |" in text and "the toy rule has no cell here" in text
    for name in ("arena_heatmap.png", "arena_energy.png", "arena.json"):
        assert (out / name).stat().st_size > 0, name
    again = arena.run_arena(out, quick=True, rules=["toy-gd"], tasks=["toy-quadratic"], seeds=3,
                            scheduler=cluster.scheduler_address, register=(HERE,), progress=False)
    assert again.attrs["computed"] == 0 and again.attrs["skipped"] == 3  # every cell was on disk
    pd.testing.assert_frame_equal(again, table, check_dtype=False)


def test_tuning_chooses_the_factor_with_the_best_validation_score_and_the_test_runs_use_it(cluster, tmp_path):
    out = tmp_path / "tuned"
    table = arena.run_arena(out, quick=True, rules=["toy-gd"], tasks=["toy-quadratic"], seeds=2, tune=True,
                            scheduler=cluster.scheduler_address, register=(HERE,), progress=False)
    tuning = pd.read_parquet(out / "arena_tuning.parquet")
    factors = registry.TUNING["learning_rate_factors"]
    assert sorted(tuning["learning_rate_factor"]) == sorted(factors) and set(tuning["split"]) == {"validation"}
    assert set(tuning["seed"]) == set(registry.TUNING["seeds"])
    for row in tuning.itertuples():  # eta = 0.1 f: after 30 steps the loss is smallest at f = 4 (eta 0.4)
        assert math.isclose(row.performance, toy_loss(row.seed, 30, row.learning_rate_factor), rel_tol=1e-9)
    assert set(table["learning_rate_factor"]) == {4.0} and set(table["split"]) == {"test"}
    for row in table.itertuples():
        assert math.isclose(row.performance, toy_loss(row.seed, 30, 4.0), rel_tol=1e-9)
    import json

    assert json.loads((out / "arena.json").read_text())["tuning"]["chosen"] == {"toy-gd/toy-quadratic": 4.0}
    assert "| 4 |" in (out / "arena.md").read_text()


def test_the_precision_axis_runs_the_discrete_weight_cells_and_tabulates_them(cluster, tmp_path):
    out = tmp_path / "bits"
    table = arena.run_arena(out, quick=True, rules=["toy-gd"], tasks=["toy-quadratic"], seeds=2, bits=(3, 5),
                            scheduler=cluster.scheduler_address, register=(HERE,), progress=False)
    assert sorted(table["weight_bits"].fillna(0)) == [0, 0, 3, 3, 5, 5]
    for row in table.itertuples():
        bits = None if math.isnan(row.weight_bits) else int(row.weight_bits)
        assert math.isclose(row.performance, 0.5 * (toy_weight(row.seed, 30, bits) - 1) ** 2, rel_tol=1e-9,
                            abs_tol=1e-15)
    stats = arena.precision_statistics(table)
    assert len(stats) == 3 and stats["bits"].isna().sum() == 1
    text = (out / "arena.md").read_text()
    assert "| toy-quadratic | toy-gd |" in text and "3 bits" in text and "5 bits" in text
    assert (out / "arena_precision.png").stat().st_size > 0
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()  # the task's panel: the medians at 3 bits, 5 bits and full precision, in that order
    line = [lin for lin in arena.plot_precision(table, "toy-quadratic", axes=ax).get_lines() if lin.get_label() ==
            "toy-gd"][0]
    plt.close(fig)
    medians = [np.median(table.loc[table["weight_bits"] == bits, "normalized"]) for bits in (3, 5)]
    medians.append(np.median(table.loc[table["weight_bits"].isna(), "normalized"]))
    np.testing.assert_allclose(line.get_xdata(), [0, 1, 2])
    np.testing.assert_allclose(line.get_ydata(), medians, rtol=1e-12)
    full = table[table["weight_bits"].isna()]
    assert arena.cell_statistics(table)["seeds"].tolist() == [len(full)]  # the main table: full precision only
    # the precision axis on the first seed only: the full-precision cells keep both seeds, the held ones are reused
    fewer = arena.run_arena(out, quick=True, rules=["toy-gd"], tasks=["toy-quadratic"], seeds=2, bits=(3, 5),
                            bits_seeds=1, scheduler=cluster.scheduler_address, register=(HERE,), progress=False)
    assert sorted(zip(fewer["weight_bits"].fillna(0), fewer["seed"])) == [(0, 1), (0, 2), (3, 1), (5, 1)]
    assert fewer.attrs["computed"] == 0
    stats = arena.precision_statistics(fewer)
    full_column = stats[stats["bits"].isna()].iloc[0]  # full precision on the held weights' seed 1 only
    assert full_column["seeds"] == 1
    assert full_column["normalized"] == fewer.query("seed == 1 and weight_bits != weight_bits")["normalized"].item()
    with pytest.raises(ValueError, match="'--weight-bits': rule 'toy-full' has no discrete-weight form"):
        arena.Options(rule="toy-full", task="toy-quadratic", weight_bits=4)


def test_failed_runs_keep_their_factor_and_resolution_and_the_tables_count_them(cluster, tmp_path):
    """A run that stops with an error is left out of the medians and counted beside them ("1 + 1 failed"), in the
    matrix, the detailed table and the precision table; its row in arena.parquet carries the factor tuning chose
    and the resolution it ran at, read from its sweep point since it has no cell summary."""
    out = tmp_path / "failing"
    table = arena.run_arena(out, quick=True, rules=["toy-diverging"], tasks=["toy-quadratic"], seeds=2, tune=True,
                            bits=(3,), scheduler=cluster.scheduler_address, register=(HERE,), progress=False)
    failed = table[table["status"] == "failed"]
    assert sorted(failed["weight_bits"].fillna(0)) == [0, 3] and set(failed["seed"]) == {2}
    assert set(failed["learning_rate_factor"]) == {4.0} and set(failed["split"]) == {"test"}
    assert all("FloatingPointError" in error for error in failed["error"])
    seed_1 = table[(table["status"] == "completed") & table["weight_bits"].isna()].iloc[0]
    assert math.isclose(seed_1.performance, toy_loss(1, 30, 4.0), rel_tol=1e-9)
    text = (out / "arena.md").read_text()
    assert f"| toy-diverging | {seed_1.normalized:.2g} (1 + 1 failed) |" in text  # the matrix: seed 1 alone
    assert "| 1/1 + 1 failed |" in text  # seeds at criterion
    assert "| toy-quadratic | toy-diverging | " in text and text.count("(1 + 1 failed)") == 3  # full and 3 bits too
    stats = arena.precision_statistics(table)
    assert stats["failed"].tolist() == [1, 1] and stats["seeds"].tolist() == [1, 1]


def test_a_failed_tuning_run_counts_against_its_own_factor(cluster, tmp_path):
    """The toy's loss after 30 trials is smallest at factor 4, which fails; of the others, factor 1 is better than
    0.25 (toy_loss), so tuning chooses 1: the failed run is filed under 4, not under the default factor."""
    out = tmp_path / "unstable"
    table = arena.run_arena(out, quick=True, rules=["toy-unstable"], tasks=["toy-quadratic"], seeds=1, tune=True,
                            scheduler=cluster.scheduler_address, register=(HERE,), progress=False)
    tuning = pd.read_parquet(out / "arena_tuning.parquet")
    assert tuning.loc[tuning["status"] == "failed", "learning_rate_factor"].tolist() == [4.0]
    assert toy_loss(101, 30, 1.0) < toy_loss(101, 30, 0.25)
    assert table["learning_rate_factor"].tolist() == [1.0] and table["status"].tolist() == ["completed"]


def test_choose_factors_prefers_the_best_score_then_the_factor_nearest_one():
    tasks = registry.load()[0]
    rows = [("xor", 0.25, 1.0, "completed"), ("xor", 1.0, 1.0, "completed"), ("xor", 4.0, 0.5, "completed"),
            ("circle", 0.25, 0.2, "completed"), ("circle", 1.0, float("nan"), "completed"),
            ("circle", 4.0, 0.1, "failed")]
    tuning = pd.DataFrame([{"rule": "bptt", "task": task, "learning_rate_factor": factor, "performance": value,
                            "status": status} for task, factor, value, status in rows])
    # XOR (accuracy): 0.25 and 1 tie at 1.0, 1 is nearer 1; circle (loss): the failed 0.1 and the NaN count as worst
    assert arena.choose_factors(tuning, tasks) == {("bptt", "xor"): 1.0, ("bptt", "circle"): 0.25}


def test_digits_backprop_cell_is_one_epoch_of_minibatch_backprop_at_the_scaled_rate(tmp_path):
    from brian2learn.plasticity import contrastive as cl
    from brian2learn.plasticity import feedforward
    from brian2learn.tasks.digits import load_digits_split
    from brian2learn.training.contrastive import accuracy

    cell = arena.run(arena.Options(rule="bptt", task="digits", quick=True, trials=200, learning_rate_factor=0.5,
                                   out=str(tmp_path / "cell")))["cell"]
    # by hand: the first 200 training images, one epoch of minibatches of 20 in the seed's order, rate 1.0 x 0.5
    data = load_digits_split(one_hot=True, low=0.1, high=0.9)
    x, t = data["x_train"][:200], data["t_train"][:200]
    config = arena_cells._classification_config("digits", "ep")
    params = feedforward.from_symmetric(cl.initial_weights(config, 1)["w"], 64, 64, 10)
    untrained = accuracy(feedforward.forward(params, data["x_test"]), data["t_test"])
    params = feedforward.train_epoch(params, x, t, 0.5, 20, np.random.default_rng(1).permutation(200))
    assert cell["untrained"] == untrained and cell["trials"] == 200
    assert cell["performance"] == accuracy(feedforward.forward(params, data["x_test"]), data["t_test"])
    assert round(cell["performance"] * 359) == cell["performance"] * 359  # scored on the 359 test images


def test_ttfs_cell_on_yin_yang_learns_and_counts_at_most_one_spike_per_neuron(tmp_path):
    cell = arena.run(arena.Options(rule="ttfs", task="yinyang", quick=True, split="validation",
                                   out=str(tmp_path / "cell")))["cell"]
    assert cell["performance"] > cell["untrained"] and cell["trials"] == 1000
    assert round(cell["performance"] * 1000) == cell["performance"] * 1000  # Kriener et al.'s 1000 validation samples
    hidden_and_output = cell["spikes_per_trial"]
    assert 0 < hidden_and_output <= 120 + 3  # every neuron fires at most once
    # synaptic events: the 5 input spikes reach 120 hidden neurons, each hidden spike 3 outputs; the mean number of
    # hidden spikes h gives 600 + 3 h, and output spikes (at most 3) reach nothing
    hidden = (cell["synaptic_operations_per_trial"] - 600) / 3
    assert hidden_and_output - 3 - 1e-9 <= hidden <= hidden_and_output


def test_trials_to_criterion_and_normalisation():
    curve = pd.DataFrame({"trial": [4, 8, 12], "performance": [0.5, 1.0, 0.75]})
    xor = registry.load()[0]["xor"]
    assert arena.trials_to_criterion(xor, curve) == 8
    assert arena.trials_to_criterion(xor, curve.iloc[[0, 2]]) is None
    assert arena.normalized(xor, 0.75, 0.5) == 0.5  # half the gap from chance to perfect
    assert arena.normalized(TOY_TASK, 0.25, 1.0) == 0.75  # a loss: perfect is 0
    assert math.isnan(arena.normalized(xor, 1.0, 1.0))


def test_bad_registrations_and_options_name_the_parameter(capsys):
    base = dict(name="t", description="", metric="loss", criterion=1.0, budget={"quick": 1, "full": 2},
                wall_cap_seconds={"quick": 1, "full": 1}, network={"quick": "", "full": ""})
    for change, match in (({"metric": "speed"}, "'metric' must be one of accuracy, loss"),
                          ({"budget": {"quick": 1}}, "'budget' must map each mode"),
                          ({"budget": {"quick": 0, "full": 1}}, r"budget\['quick'\] must be a positive"),
                          ({"name": "a b"}, "letters, digits and '-'")):
        with pytest.raises(ValueError, match=match):
            registry.ArenaTask(**{**base, **change})
    with pytest.raises(ValueError, match="already registered"):
        registry.register_task(registry.ArenaTask(**{**base, "name": "xor"}))
    with pytest.raises(ValueError, match="both have a cell and are marked empty"):
        registry.ArenaRule("r", "", cells={"xor": toy_cell}, empty={"xor": "no"})
    with pytest.raises(ValueError, match="'--rules': unknown nope"):
        arena.plan(rules=["nope"])
    with pytest.raises(ValueError, match="'--register': cannot import module 'no_such_module'"):
        registry.load(("no_such_module",))
    with pytest.raises(ValueError, match="rule 'chl' has no cell on task 'pattern'"):
        arena.Options(rule="chl", task="pattern")
    assert cli_main(["arena", "--rules", "nope", "--out", "unused"]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "unknown nope" in error[0]
    assert cli_main(["arena", "--seeds", "2", "--bits", "4", "--bits-seeds", "3", "--out", "unused"]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "'--bits-seeds' must be an integer from 1 to --seeds (2)" in error[0]


def test_ttfs_cell_on_the_digits_codes_brighter_pixels_earlier_and_learns(tmp_path):
    from brian2learn.tasks import yinyang

    spec = registry.CellSpec(rule=registry.RULES["ttfs"], task=registry.TASKS["digits"], seed=1, mode="quick",
                             trials=400, wall_cap_seconds=60, split="test", device="runtime", run_dir=str(tmp_path))
    data = arena_cells._ttfs_data(spec)
    x = arena_cells._digits_data(spec)["x_train"]
    times = data["spikes_train"]
    encoding = yinyang.ENCODING
    assert times.shape == (200, 65) and np.all(times[:, -1] == encoding["t_bias"])
    assert np.allclose(times[:, :-1][x == 1.0], encoding["t_early"]) and np.allclose(times[:, :-1][x == 0.0],
                                                                                     encoding["t_late"])
    # Göltz et al.'s Yin-Yang initialisation scaled to the fan-in: (1.5, 0.8) over 5 inputs -> 65, (0.5, 0.8) 120 -> 64
    (m1, s1), (m2, s2) = arena_cells._ttfs_config(spec).weight_init
    assert math.isclose(m1 * 65, 1.5 * 5) and math.isclose(s1 ** 2 * 65, 0.8 ** 2 * 5)
    assert math.isclose(m2 * 64, 0.5 * 120) and math.isclose(s2 ** 2 * 64, 0.8 ** 2 * 120)
    cell = arena.run(arena.Options(rule="ttfs", task="digits", quick=True, out=str(tmp_path / "cell")))["cell"]
    assert cell["trials"] == 400 and cell["performance"] > cell["untrained"]
    assert round(cell["performance"] * 359) == cell["performance"] * 359  # scored on the 359 test images


def test_rate_coded_eprop_cell_scores_in_jax_the_decisions_of_its_brian2_network(tmp_path):
    pytest.importorskip("jax")
    from brian2learn.plasticity import bptt
    from brian2learn.tasks.evidence_accumulation import decision_error
    from brian2learn.training.eprop import EpropTrainer

    spec = registry.CellSpec(rule=registry.RULES["eprop-random"], task=registry.TASKS["digits"], seed=2,
                             mode="quick", trials=16, wall_cap_seconds=60, split="validation", device="runtime",
                             run_dir=str(tmp_path))
    config, weights, feedback, held_out, train_trials, _ = arena_cells._rate_coded_setup(spec)
    assert config.n_in == 65 and config.n_rec == 64 and config.n_out == 10 and not np.any(config.beta)
    first = {key: value[:16] for key, value in held_out.items()}  # one quick run: 2 iterations of 8
    with EpropTrainer(config, weights, train_trials, feedback="random", feedback_matrix=feedback, device="runtime",
                      iterations_per_run=2) as trainer:
        brian2_error = trainer.evaluate(trials=first)["error"]
    readouts = bptt.readout_batch(weights, first["inputs"], arena_cells._bptt_params(bptt, config))
    assert brian2_error == decision_error(readouts, first["targets"], first["window"])
    # the cell: one run of 16 trials, the validation images scored, e-prop's first gradient beside BPTT's
    cell = arena.run(arena.Options(rule="eprop-random", task="digits", quick=True, split="validation", trials=16,
                                   device="runtime", out=str(tmp_path / "cell")))["cell"]
    assert cell["trials"] == 16 and 0 < cell["gradient_cosine_bptt"] <= 1 and cell["spikes_per_trial"] > 0
    assert round(cell["performance"] * len(held_out["labels"])) == cell["performance"] * len(held_out["labels"])


def test_rate_coded_xor_has_one_readout_trained_to_its_targets_and_scored_on_its_side_of_one_half(tmp_path):
    spec = registry.CellSpec(rule=registry.RULES["eprop-symmetric"], task=registry.TASKS["xor"], seed=1,
                             mode="quick", trials=800, wall_cap_seconds=60, split="test", device="runtime",
                             run_dir=str(tmp_path))
    config, _, _, held_out, train_trials, n_train = arena_cells._rate_coded_setup(spec)
    assert (config.n_in, config.n_rec, config.n_out, config.loss) == (3, 8, 1, "mse")
    assert held_out["inputs"].shape == (4 * 32, 100, 3) and list(held_out["labels"][:4]) == [0, 1, 1, 0]
    np.testing.assert_array_equal(held_out["targets"][:4, 0, 0], [0.1, 0.9, 0.9, 0.1])
    # (0, 0): only the bias channel fires
    assert held_out["inputs"][0, :, :2].sum() == 0 and held_out["inputs"][0, :, 2].sum() > 0
    assert train_trials(0, 16)["inputs"].shape == (16, 100, 3) and n_train == 4
    readouts = np.zeros((4, 100, 1))
    readouts[:, 50:, 0] = [[0.4], [0.6], [0.2], [0.7]]  # window means 0.4, 0.6, 0.2, 0.7
    trials = {"window": held_out["window"][:4], "labels": np.array([0, 1, 1, 1])}
    assert arena_cells._rate_coded_score(readouts, trials) == 0.75  # the third is on the wrong side


def test_adaptive_srnn_learns_the_rate_coded_digits_scored_on_the_e_prop_cells_trials(tmp_path):
    pytest.importorskip("jax")
    cell = arena.run(arena.Options(rule="bptt-srnn", task="digits", quick=True, out=str(tmp_path / "cell")))["cell"]
    assert cell["trials"] == 400 and cell["performance"] > cell["untrained"] + 0.2
    assert round(cell["performance"] * 359) == cell["performance"] * 359 and cell["spikes_per_trial"] > 0


def test_every_built_in_rule_covers_every_built_in_task_with_a_cell_or_a_reason():
    defined, empty = arena.plan(rules=[r for r in registry.RULES if not r.startswith("toy")],
                                tasks=["xor", "pattern", "circle", "digits", "yinyang", "evidence", "evidence-reward"])
    assert {(c["rule"], c["task"]) for c in defined} >= {("chl", "xor"), ("bptt", "xor"), ("eprop-random", "pattern"),
                                                         ("bptt", "pattern"), ("ctbptt", "circle"), ("rflo", "circle"),
                                                         ("ep-symmetric", "digits"), ("bptt", "digits"),
                                                         ("ttfs", "yinyang"), ("chl", "yinyang"),
                                                         ("eprop-adaptive", "evidence"), ("bptt", "evidence"),
                                                         ("eprop-reward", "evidence-reward"), ("wp", "xor"),
                                                         ("np", "xor"), ("wp", "digits"), ("np", "yinyang"),
                                                         ("wp", "circle"), ("ttfs", "digits"), ("np", "pattern"),
                                                         ("wp", "evidence"), ("eprop-random", "digits"),
                                                         ("eprop-adaptive", "yinyang"), ("eprop-random", "xor"),
                                                         ("bptt-srnn", "digits")}
    assert all(e["reason"] and e["reason"] != "no cell registered" for e in empty)
    for name, rule in registry.RULES.items():  # the precision axis: every built-in cell has a discrete-weight form
        if not name.startswith("toy"):
            assert set(rule.discrete_weights) == set(rule.cells), name


def test_backprop_solves_xor_within_the_budget_from_an_untrained_network_at_chance(tmp_path):
    summary = arena.run(arena.Options(rule="bptt", task="xor", seed=1, out=str(tmp_path / "cell")))
    cell = summary["cell"]
    assert cell["performance"] == 1.0 and cell["trials_to_criterion"] <= cell["trials"] == 12_000
    # The untrained accuracy, from the initial weights written out: sigma(W2 sigma(W1 x + b1) + b2), biases 0.
    from brian2learn.plasticity import contrastive as cl

    config = arena_cells._xor_config("ep")
    w = cl.initial_weights(config, 1)["w"]
    data = arena_cells._xor_data()
    sigma = lambda u: 1 / (1 + np.exp(-u))  # noqa: E731
    hidden = sigma(data["inputs"] @ w[:2, 2:10])
    output = sigma(hidden @ w[2:10, 10:11])
    expected = np.mean((output > 0.5) == (data["targets"] > 0.5))
    assert cell["untrained"] == expected
    assert os.path.exists(tmp_path / "cell" / "curve.parquet")
    # at 2 bits, the levels of each layer are -r, 0, r with r = max|w| of the layer (its biases start at 0)
    held = arena.run(arena.Options(rule="bptt", task="xor", seed=1, trials=4, weight_bits=2,
                                   out=str(tmp_path / "held")))["cell"]
    w1, w2 = w[:2, 2:10], w[2:10, 10:11]
    q1, q2 = (np.abs(m).max() * np.sign(m) * np.floor(np.abs(m) / np.abs(m).max() + 0.5) for m in (w1, w2))
    output = sigma(sigma(data["inputs"] @ q1) @ q2)
    assert held["untrained"] == np.mean((output > 0.5) == (data["targets"] > 0.5)) and held["weight_bits"] == 2


def test_weight_perturbation_on_xor_starts_from_the_backprop_cell_s_network_and_learns(tmp_path):
    cells = {rule: arena.run(arena.Options(rule=rule, task="xor", quick=True, device="runtime",
                                           out=str(tmp_path / rule)))["cell"] for rule in ("wp", "bptt")}
    # the same 2-8-1 weights in Brian2 Synapses (WP) and in the numpy feed-forward net (backprop)
    assert cells["wp"]["untrained"] == cells["bptt"]["untrained"] == 0.5
    assert cells["wp"]["trials"] == 800 and cells["wp"]["synaptic_operations_per_trial"] == 2 * (8 * 3 + 9)
    assert cells["wp"]["performance"] == 1.0  # seed 1 solves XOR within the quick budget


def test_perturbation_on_the_digits_starts_from_the_backprop_cell_s_network_and_minibatches(tmp_path):
    cells = {rule: arena.run(arena.Options(rule=rule, task="digits", quick=True, device="runtime",
                                           out=str(tmp_path / rule)))["cell"] for rule in ("np", "bptt")}
    # the same 64-64-10 weights in Brian2 Synapses (NP) and in the numpy feed-forward net (backprop), the same test
    # images; two epochs of the 200 quick training images, in minibatches of 20 (an update each)
    assert cells["np"]["untrained"] == cells["bptt"]["untrained"]
    assert cells["np"]["trials"] == cells["bptt"]["trials"] == 400
    assert cells["np"]["synaptic_operations_per_trial"] == 2 * (65 * 64 + 65 * 10)
    curve = pd.read_parquet(tmp_path / "np" / "curve.parquet")
    assert list(curve["trial"]) == [200, 400] and round(curve["performance"].iloc[-1] * 359) == \
        curve["performance"].iloc[-1] * 359
    hyper = arena_cells.HYPERPARAMETERS[("np", "digits")]
    assert hyper["noise_dimension"] == (64 + 10) * 20 and math.isclose(hyper["learning_rate"], 1 / math.sqrt(1482))


def test_perturbation_on_the_circle_starts_from_the_error_of_bptt_s_network(tmp_path):
    pytest.importorskip("jax")
    cells = {rule: arena.run(arena.Options(rule=rule, task="circle", quick=True, trials=3, device="runtime",
                                           out=str(tmp_path / rule)))["cell"] for rule in ("wp", "bptt")}
    # the same CTRNN from the same parameters: the reference pass in Brian2, the forward pass in JAX
    assert math.isclose(cells["wp"]["untrained"], cells["bptt"]["untrained"], rel_tol=1e-9)
    assert cells["wp"]["trials"] == 3 and cells["wp"]["synaptic_operations_per_trial"] == 2 * 12 ** 2 * 192
    assert cells["wp"]["performance"] != cells["wp"]["untrained"]  # two updates before the last trial


def test_perturbation_of_the_spiking_networks_starts_from_bptt_s_loss_and_decisions(tmp_path):
    pytest.importorskip("jax")
    pattern = {rule: arena.run(arena.Options(rule=rule, task="pattern", quick=True, trials=3, device="runtime",
                                             out=str(tmp_path / f"pattern-{rule}")))["cell"] for rule in ("wp", "bptt")}
    # the same LIF network and trial: WP's first unperturbed pass has the loss of BPTT's first trial
    assert math.isclose(pattern["wp"]["untrained"], pattern["bptt"]["untrained"], rel_tol=1e-9)
    assert pattern["wp"]["trials"] == 3 and pattern["wp"]["spikes_per_trial"] > 0
    evidence = {rule: arena.run(arena.Options(rule=rule, task="evidence", quick=True, trials=16, split="validation",
                                              out=str(tmp_path / f"evidence-{rule}")))["cell"]
                for rule in ("np", "bptt")}
    assert evidence["np"]["untrained"] == evidence["bptt"]["untrained"] and evidence["np"]["trials"] == 16


def test_eprop_in_brian2_and_bptt_in_jax_start_from_the_same_network_and_loss(tmp_path):
    pytest.importorskip("jax")
    cells = {}
    for rule in ("eprop-symmetric", "bptt"):
        cells[rule] = arena.run(arena.Options(rule=rule, task="pattern", quick=True, trials=1, device="runtime",
                                              out=str(tmp_path / rule)))["cell"]
    assert math.isclose(cells["eprop-symmetric"]["untrained"], cells["bptt"]["untrained"], rel_tol=1e-6)
    assert cells["bptt"]["spikes_per_trial"] == cells["eprop-symmetric"]["spikes_per_trial"]  # the same trial
    assert 0 < cells["eprop-symmetric"]["gradient_cosine_bptt"] < 1 and cells["bptt"]["gradient_cosine_bptt"] is None


def test_eprop_on_the_spiking_circle_starts_from_the_rms_error_of_the_same_network_in_jax(tmp_path):
    """The circle's spiking form: e-prop's first trial in Brian2 scores the RMS error sqrt(2 E / (N * 2)) of BPTT's
    JAX loss E of the same initial network on the same trial (quick: 600 steps, 20 inputs, 12 LIF, 2 readouts), and
    with symmetric feedback its gradient points along BPTT's."""
    pytest.importorskip("jax")
    from brian2learn.plasticity import bptt

    spec = registry.CellSpec(rule=registry.RULES["eprop-symmetric"], task=registry.TASKS["circle"], seed=1,
                             mode="quick", trials=1, wall_cap_seconds=60, split="test", device="runtime",
                             run_dir=str(tmp_path))
    config, task, weights = arena_cells._circle_spiking_setup(spec)
    assert (config.n_in, config.n_rec, config.n_out, config.n_steps) == (20, 12, 2, 600)
    losses, _ = bptt.loss_and_gradients(weights, task["inputs"], task["targets"], task["window"],
                                        arena_cells._bptt_params(bptt, config))
    cell = arena.run(arena.Options(rule="eprop-symmetric", task="circle", quick=True, trials=2, device="runtime",
                                   out=str(tmp_path / "cell")))["cell"]
    assert cell["untrained"] == pytest.approx(np.sqrt(2 * float(losses["task_loss"]) / (600 * 2)), rel=1e-6)
    assert cell["trials"] == 2 and cell["spikes_per_trial"] > 0
    assert 0.5 < cell["gradient_cosine_bptt"] <= 1  # symmetric feedback: e-prop's approximation of BPTT's gradient


def test_eprop_in_brian2_and_bptt_in_jax_score_the_same_untrained_evidence_network(tmp_path):
    pytest.importorskip("jax")
    cells = {rule: arena.run(arena.Options(rule=rule, task="evidence", quick=True, trials=16, split="validation",
                                           out=str(tmp_path / rule)))["cell"] for rule in ("eprop-random", "bptt")}
    # the same LIF/ALIF network from the same weights on the same 16 validation trials: the same decisions
    assert cells["eprop-random"]["untrained"] == cells["bptt"]["untrained"]
    assert round(cells["bptt"]["untrained"] * 16) == cells["bptt"]["untrained"] * 16
    assert 0 < cells["eprop-random"]["gradient_cosine_bptt"] <= 1
    for cell in cells.values():
        assert cell["trials"] == 16 and 0 < cell["spikes_per_trial"]


def test_continuous_time_bptt_in_brian2_and_bptt_in_jax_start_from_the_same_circle_error(tmp_path):
    pytest.importorskip("jax")
    cells = {rule: arena.run(arena.Options(rule=rule, task="circle", quick=True, trials=2, device="runtime",
                                           out=str(tmp_path / rule)))["cell"] for rule in ("ctbptt", "bptt")}
    assert math.isclose(cells["ctbptt"]["untrained"], cells["bptt"]["untrained"], rel_tol=1e-9)
    # one Adam step on the continuous adjoint and one on the discrete one: close, not equal (dt = 1/16 s)
    assert cells["ctbptt"]["performance"] != cells["bptt"]["performance"]
    assert math.isclose(cells["ctbptt"]["performance"], cells["bptt"]["performance"], rel_tol=1e-2)


def test_quick_grid_of_built_in_cells_gives_finite_numbers_for_every_cell(cluster, tmp_path):
    pytest.importorskip("jax")
    table = arena.run_arena(tmp_path / "quick", quick=True, rules=["bptt", "ep"], tasks=["pattern", "circle"],
                            seeds=1, scheduler=cluster.scheduler_address, device="runtime", progress=False)
    # ep has no cell on either task: two cells, one seed each, every number of a completed cell finite
    assert sorted(zip(table["rule"], table["task"])) == [("bptt", "circle"), ("bptt", "pattern")]
    assert set(table["status"]) == {"completed"}
    for column in ("performance", "untrained", "normalized", "wall_seconds", "synaptic_operations_per_trial"):
        assert np.all(np.isfinite(table[column])), column
    pattern = table.set_index("task").loc["pattern"]
    assert pattern["spikes_per_trial"] > 0
    assert pattern["performance"] > 5 and np.isnan(pattern["trials_to_criterion"])  # 40 trials: never at 5
    assert list(table.set_index("task").loc["circle", ["trials", "budget_trials"]]) == [20, 20]
    empty = pd.read_parquet(tmp_path / "quick" / "arena_empty.parquet")
    assert sorted(empty["task"]) == ["circle", "pattern"] and set(empty["rule"]) == {"ep"}
    assert (tmp_path / "quick" / "arena_heatmap.png").stat().st_size > 0
    # --report with a second seed: nothing runs, the table is the finished seed's, the markdown says what is missing
    grid = ["--quick", "--rules", "bptt", "ep", "--tasks", "pattern", "circle", "--device", "runtime"]
    sweep_file = tmp_path / "quick" / "cells" / "sweep.parquet"
    written = sweep_file.stat().st_mtime_ns
    assert cli_main(["arena", *grid, "--seeds", "2", "--report", "--out", str(tmp_path / "quick")]) == 0
    reported = pd.read_parquet(tmp_path / "quick" / "arena.parquet")
    pd.testing.assert_frame_equal(reported[["rule", "task", "seed", "performance"]],
                                  table[["rule", "task", "seed", "performance"]])
    assert (tmp_path / "quick" / "arena.md").read_text().startswith("**Partial table** (`--report`): 2 runs")
    details = json.loads((tmp_path / "quick" / "arena.json").read_text())
    assert details["pending"] == 2 and details["report"] and details["computed"] == 0
    assert not list((tmp_path / "quick" / "cells").glob("*/seed2")) and sweep_file.stat().st_mtime_ns == written
    assert cli_main(["arena", *grid, "--report", "--out", str(tmp_path / "nothing")]) == 2


def test_reward_perturbation_cells_start_from_the_evidence_network_and_score_its_greedy_choice(tmp_path):
    pytest.importorskip("jax")
    from brian2learn.plasticity import bptt, eprop
    from brian2learn.tasks.evidence_accumulation import decision_error

    cells = {rule: arena.run(arena.Options(rule=rule, task="evidence-reward", quick=True, split="validation",
                                           out=str(tmp_path / rule)))["cell"] for rule in ("wp", "np")}
    # the untrained network scored independently: the e-prop cells' LIF/ALIF network in JAX, the task's decision
    config = eprop.evidence_accumulation_config(4)
    weights = eprop.initial_weights(config, 1, readout_init="glorot_uniform")
    held_out = arena_cells._evidence_trials(1, "validation", 0, arena_cells.REWARD_PROTOCOL["quick"]["held_out"])
    readouts = bptt.readout_batch(weights, held_out["inputs"], arena_cells._bptt_params(bptt, config))
    expected = 1.0 - decision_error(readouts, held_out["targets"], held_out["window"])
    for cell in cells.values():
        assert cell["untrained"] == pytest.approx(expected)
        assert cell["trials"] == 20 and 0 <= cell["performance"] <= 1 and cell["spikes_per_trial"] > 0


def test_adaptive_srnn_cell_trains_on_the_evidence_trials(tmp_path):
    pytest.importorskip("jax")
    cell = arena.run(arena.Options(rule="bptt-srnn", task="evidence", quick=True, split="validation",
                                   out=str(tmp_path / "srnn")))["cell"]
    assert cell["trials"] == 32 and 0 <= cell["performance"] <= 1 and 0 <= cell["untrained"] <= 1
    assert round(cell["untrained"] * 16) == cell["untrained"] * 16  # a fraction of the 16 validation trials
    assert cell["spikes_per_trial"] >= 0 and np.isfinite(cell["synaptic_operations_per_trial"])


def test_bptt_and_eprop_pattern_cells_at_four_bits_start_from_the_rounded_network(tmp_path):
    """The held network's first loss (BPTT in JAX; e-prop's Brian2 synapses delivering their levels) is that of the
    initial weights rounded to 4-bit levels (each group's largest initial |w| on level 4 of 7), computed by
    loss_and_gradients; full precision starts from the unrounded loss."""
    pytest.importorskip("jax")
    from brian2learn.plasticity import bptt

    spec = registry.CellSpec(rule=registry.RULES["bptt"], task=registry.TASKS["pattern"], seed=1, mode="quick",
                             trials=1, wall_cap_seconds=60, split="test", device="runtime", run_dir=str(tmp_path))
    config, task, weights = arena_cells._pattern_setup(spec)
    params = arena_cells._bptt_params(bptt, config)
    rounded = {}
    for name, w in weights.items():
        step = np.max(np.abs(w)) / 4.0
        rounded[name] = np.clip(np.round(np.asarray(w) / step), -7, 7) * step
        assert np.sum(np.abs(rounded[name]) == 4 * step) >= 1  # the largest weight on its level
    losses = {label: bptt.loss_and_gradients(w, task["inputs"], task["targets"], task["window"], params)[0]
              for label, w in (("rounded", rounded), ("full", weights))}
    cells = {bits: arena.run(arena.Options(rule="bptt", task="pattern", quick=True, trials=2, device="runtime",
                                           weight_bits=bits, out=str(tmp_path / f"bits{bits}")))["cell"]
             for bits in (4, None)}
    eprop_cell = arena.run(arena.Options(rule="eprop-symmetric", task="pattern", quick=True, trials=2,
                                         device="runtime", weight_bits=4, out=str(tmp_path / "eprop4")))["cell"]
    assert cells[4]["untrained"] == pytest.approx(losses["rounded"]["task_loss"], rel=1e-9)
    assert eprop_cell["untrained"] == pytest.approx(losses["rounded"]["task_loss"], rel=1e-9)  # Brian2 synapses
    assert cells[None]["untrained"] == pytest.approx(losses["full"]["task_loss"], rel=1e-9)
    assert losses["rounded"]["task_loss"] != pytest.approx(losses["full"]["task_loss"], rel=1e-6)


def test_continuous_time_cells_at_four_bits_start_from_the_rounded_network(tmp_path):
    """Pearlmutter's adjoint in Brian2 and discrete BPTT in JAX, W and b rounded to 4-bit levels (one set, their
    largest initial |value| on level 4 of 7): both start from the RMS error of numpy's forward of the rounded
    parameters."""
    pytest.importorskip("jax")
    from brian2learn.models.weight_levels import held
    from brian2learn.plasticity import ctbptt

    config, task, params = arena_cells._circle_setup(1)
    step, limit = max(np.max(np.abs(params["w"])), np.max(np.abs(params["b"]))) / 4.0, 7.0
    rounded = {**params, "w": held(params["w"], step, limit), "b": held(params["b"], step, limit)}
    expected = arena_cells._rms(np.array([ctbptt.numpy_forward(config, rounded, task)[0]]), config)[0]
    full = arena_cells._rms(np.array([ctbptt.numpy_forward(config, params, task)[0]]), config)[0]
    assert expected != pytest.approx(full, rel=1e-6)
    for rule in ("ctbptt", "bptt"):
        cell = arena.run(arena.Options(rule=rule, task="circle", quick=True, trials=2, device="runtime", weight_bits=4,
                                       out=str(tmp_path / rule)))["cell"]
        assert cell["untrained"] == pytest.approx(expected, rel=1e-9), rule


def test_layer_levels_put_the_largest_weight_on_a_level():
    for bits, factor in ((4, 1.75), (6, 31 / 16), (8, 127 / 64)):
        step, limit = registry.layer_levels(bits, 0.3)
        assert limit == 2 ** (bits - 1) - 1 and step * limit == pytest.approx(factor * 0.3)
        assert 0.3 / step == 2 ** (bits - 2)
    with pytest.raises(ValueError, match="'largest'"):
        registry.layer_levels(4, 0.0)
