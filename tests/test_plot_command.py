"""``brian2learn plot RUN_DIR`` redraws a run's figures from its tables: the same pixels as the figures drawn
from the results in memory."""

import os
import subprocess
import sys
import types

import numpy as np
import pandas as pd
from PIL import Image

from brian2learn.analysis import save_spikes, spikes_to_dataframe, write_table
from brian2learn.studies import eprop_evidence, eprop_pattern, perturbation_spiking, rflo, stdp_assemblies, ttfs_yinyang
from brian2learn.studies.common import write_summary

CLI = "import sys; from brian2learn.studies.cli import main; sys.exit(main(sys.argv[1:]))"


def cli(*args):
    return subprocess.run([sys.executable, "-c", CLI, *args], capture_output=True, text=True, timeout=120)


def same_pixels(a, b):
    x, y = np.asarray(Image.open(a)), np.asarray(Image.open(b))
    return x.shape == y.shape and np.array_equal(x, y)


def redrawn_equal(tmp_path, run_dir, memory, drawn):
    """``brian2learn plot run_dir`` draws the figures ``drawn`` in ``memory``, pixel for pixel."""
    result = cli("plot", str(run_dir), "--out", str(tmp_path / "redrawn"))
    assert result.returncode == 0, result.stderr
    assert sorted(os.listdir(tmp_path / "redrawn")) == sorted(drawn)
    for name in drawn:
        assert same_pixels(memory / name, tmp_path / "redrawn" / name), name


def readouts(methods, n, rng, time_step):
    return {m: {"t": np.arange(n) * time_step, "y": rng.standard_normal((1, n)),
                "y_target": np.sin(np.arange(n) / 7)[None]} for m in methods}


def test_rflo_figures_from_tables_equal_those_from_memory(tmp_path):
    rng = np.random.default_rng(1)
    losses = pd.concat([pd.DataFrame({"trial": np.arange(50), "loss": np.exp(-np.arange(50) / (10 + k)),
                                      "alignment_deg": 90 - np.arange(50) * 0.5, "method": m, "seed": 1})
                        for k, m in enumerate(("rflo", "bptt"))], ignore_index=True)
    outputs = readouts(("rflo", "bptt"), 40, rng, 1)
    memory = tmp_path / "memory"
    memory.mkdir()
    drawn = rflo._figures(str(memory), losses, outputs)

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    write_summary(str(run_dir), {"study": "rflo", "status": "completed"})
    write_table(losses, run_dir / "losses.parquet")
    write_table(pd.concat([pd.DataFrame({"method": m, "step": o["t"], "y": o["y"][0], "y_target": o["y_target"][0]})
                           for m, o in outputs.items()], ignore_index=True), run_dir / "outputs_last_trial.parquet")
    result = cli("plot", str(run_dir), "--out", str(tmp_path / "redrawn"))
    assert result.returncode == 0, result.stderr
    assert sorted(os.listdir(tmp_path / "redrawn")) == sorted(drawn)
    for name in drawn:
        assert same_pixels(memory / name, tmp_path / "redrawn" / name), name


def test_eprop_pattern_figures_from_tables_equal_those_from_memory(tmp_path):
    rng = np.random.default_rng(2)
    losses = pd.concat([pd.DataFrame({"iteration": np.arange(30), "loss": 100 - np.arange(30) * (k + 1),
                                      "reg_loss": 1.0, "rate_hz": 15.0, "method": m})
                        for k, m in enumerate(("eprop-random", "bptt"))], ignore_index=True)
    frames = [pd.concat([spikes_to_dataframe(rng.integers(0, 10, 40), np.sort(rng.random(40)), group=g)
                         for g in ("inputs", "recurrent")], ignore_index=True).assign(method=m)
              for m in ("eprop-random", "bptt")]
    outputs = readouts(("eprop-random", "bptt"), 60, rng, 1e-3)
    memory = tmp_path / "memory"
    memory.mkdir()
    drawn = eprop_pattern._figures(str(memory), losses, frames, outputs)

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    write_summary(str(run_dir), {"study": "eprop-pattern", "status": "completed"})
    write_table(losses, run_dir / "losses.parquet")
    save_spikes(pd.concat(frames, ignore_index=True), run_dir / "spikes_last_trial.parquet")
    write_table(pd.concat([pd.DataFrame({"method": m, "t_s": o["t"], "y": o["y"][0], "y_target": o["y_target"][0]})
                           for m, o in outputs.items()], ignore_index=True), run_dir / "outputs_last_trial.parquet")
    assert cli("plot", str(run_dir)).returncode == 0  # into the run directory itself
    for name in drawn:
        assert same_pixels(memory / name, run_dir / name), name


def test_eprop_evidence_figures_from_tables_equal_those_from_memory(tmp_path):
    rng = np.random.default_rng(3)
    methods = ("eprop-random", "bptt")
    losses = pd.concat([pd.DataFrame({"iteration": np.arange(25), "loss": np.exp(-np.arange(25) / (8 + k)),
                                      "reg_loss": 0.1, "rate_hz": 12.0, "error": 0.5 * rng.random(25), "method": m})
                        for k, m in enumerate(methods)], ignore_index=True)
    agreement = pd.DataFrame({"iteration": [0, 12, 24], "cosine_w_rec": [0.2, 0.5, 0.7], "cosine_w_in": 0.3,
                              "cosine_w_out": 1.0, "method": "eprop-random"})
    n_steps = 60
    y = rng.standard_normal((2, n_steps))
    example = eprop_evidence._example_tables({
        "spikes": pd.concat([spikes_to_dataframe(rng.integers(0, 8, 50), np.sort(rng.random(50)) * 0.06, group=g)
                             for g in ("inputs", "recurrent")], ignore_index=True),
        "t": np.arange(n_steps) * 1e-3, "softmax": np.exp(y) / np.exp(y).sum(axis=0),
        "target": np.r_[np.zeros((1, n_steps)), (np.arange(n_steps) > 40)[None] * 1.0],
        "neurons": np.array([0, 50, 51]), "v_th": 0.6, "v": 0.5 * rng.random((3, n_steps)),
        "thresholds": 0.6 + 0.1 * rng.random((3, n_steps))})
    memory = tmp_path / "memory"
    memory.mkdir()
    drawn = eprop_evidence._figures(str(memory), losses, agreement, *example)
    assert sorted(drawn) == ["example_trial.png", "gradient_agreement.png", "learning_curves.png"]

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    write_summary(str(run_dir), {"study": "eprop-evidence", "status": "completed"})
    write_table(losses, run_dir / "losses.parquet")
    write_table(agreement, run_dir / "gradient_agreement.parquet")
    spike_frame, readout, neurons = example
    save_spikes(spike_frame, run_dir / "example_trial_spikes.parquet")
    write_table(readout, run_dir / "example_trial_readout.parquet")
    write_table(neurons, run_dir / "example_trial_neurons.parquet")
    redrawn_equal(tmp_path, run_dir, memory, drawn)


def test_ttfs_yinyang_figures_from_tables_equal_those_from_memory(tmp_path):
    from brian2learn.plasticity import ttfs

    rng = np.random.default_rng(4)
    history = pd.DataFrame({"epoch": np.arange(6), "train_loss": np.exp(-np.arange(6) / 3),
                            "train_accuracy": np.linspace(0.4, 0.8, 6), "validation_loss": np.exp(-np.arange(6) / 4),
                            "validation_accuracy": np.linspace(0.35, 0.75, 6), "learning_rate": 5e-3,
                            "bumped_batches": 0, "train_seconds": 0.1, "epoch_seconds": 0.2})
    n = 80
    labels = rng.integers(0, 3, n)
    t_out = 1.0 + rng.random((n, 3))
    t_out[:5, 1] = np.inf  # no spike
    prediction = np.where(rng.random(n) < 0.8, labels, (labels + 1) % 3)
    test_outputs = pd.DataFrame({"sample": np.arange(n), "x": rng.random(n), "y": rng.random(n), "label": labels,
                                 "prediction": prediction, "t_decision_tau_s": t_out.min(axis=1)})
    for k in range(3):
        test_outputs[f"t_out{k}_tau_s"] = t_out[:, k]
    config = ttfs.TTFSConfig()
    decision_map = ttfs_yinyang.decision_map_table(ttfs.initial_weights(config, 1), config, resolution=12)
    memory = tmp_path / "memory"
    memory.mkdir()
    drawn = ttfs_yinyang._figures(str(memory), history, decision_map, test_outputs, "brian2")
    assert sorted(drawn) == ["decision_map.png", "learning_curves.png", "output_spike_times.png"]

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    # an interrupted run's summary: the substrate comes from the options
    write_summary(str(run_dir), {"study": "ttfs-yinyang", "status": "interrupted", "options": {"substrate": "brian2"}})
    write_table(history, run_dir / "learning_curves.parquet")
    write_table(test_outputs, run_dir / "test_outputs.parquet")
    write_table(decision_map, run_dir / "decision_map.parquet")
    redrawn_equal(tmp_path, run_dir, memory, drawn)


def test_perturbation_spiking_figures_from_tables_equal_those_from_memory(tmp_path):
    study = perturbation_spiking
    rng = np.random.default_rng(5)
    trials, learners = np.arange(30), np.arange(4)
    spiking_history = pd.DataFrame([{"trial": t, "learner": k, "E_ref": np.exp(-t / (10 + k)) + 0.01 * rng.random(),
                                     "E_pert": 1.0, "dR": 0.0, "rule": study.RULES[k % 2]}
                                    for t in trials for k in learners])
    xor_history = pd.DataFrame([{"trial": t, "learner": k, "rule": study.RULES[k % 2], "E": np.exp(-t / 9 - k),
                                 "correct": float(min(4, t // 5))} for t in trials for k in learners])
    n_steps = 40
    evaluation = {stage: {"y": rng.random((n, 2, n_steps)), "y_target": rng.random((2, n_steps)),
                          "spikes": [(rng.integers(0, 10, 25), rng.integers(0, n_steps, 25)) for _ in range(n)]}
                  for stage, n in (("initial", 1), ("final", 2))}
    outputs = study._output_table(evaluation)
    spike_table = study.evaluation_spike_table(study.evaluation_spike_frames(evaluation))
    per_rule = {"wp": {"per_learner": [5, None]}, "np": {"per_learner": [9, 14]}}
    criteria = study._criteria_table({task: {"rules": per_rule} for task in ("spiking", "xor")})
    memory = tmp_path / "memory"
    memory.mkdir()
    drawn = study._figures(str(memory), spiking_history, xor_history, outputs, spike_table, criteria)
    assert sorted(drawn) == ["spiking_learning.png", "spiking_rasters.png", "xor_learning.png"]

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    write_summary(str(run_dir), {"study": "perturbation-spiking", "status": "completed"})
    write_table(spiking_history, run_dir / "spiking_learning_curves.parquet")
    write_table(xor_history, run_dir / "xor_learning_curves.parquet")
    write_table(outputs, run_dir / "spiking_outputs.parquet")
    save_spikes(spike_table, run_dir / "spiking_spikes.parquet")
    write_table(criteria, run_dir / "trials_to_criterion.parquet")
    redrawn_equal(tmp_path, run_dir, memory, drawn)


def test_stdp_assemblies_figures_from_tables_equal_those_from_memory(tmp_path):
    study = stdp_assemblies
    rng = np.random.default_rng(6)
    measures = ("overlap_rise_associated", "overlap_rise_control", "n_recruited_combined",
                "n_recruited_combined_control", "n_pair_coding", "jaccard_AB_before", "jaccard_AB_after",
                "jaccard_AC_after")
    points = pd.DataFrame([{"gamma_exc": 0.5, "gamma_w": gamma_w, "seed": seed,
                            **{m: rng.random() * 5 for m in measures}, "label": label}
                           for label, gamma_w in (("overlap", 0.7), ("recruitment", 1.6)) for seed in (1, 2)])
    phases = pd.DataFrame({"phase": ["test_before", "association", "test_after"], "start": [0.0, 1.0, 2.0],
                           "end": [1.0, 2.0, 3.0], "plastic": [False, True, False]})
    presentations = pd.DataFrame({"phase": ["test_before"] * 2 + ["test_after"] * 3,
                                  "onset": [0.2, 0.6, 2.1, 2.4, 2.7], "pattern": ["A", "B", "A", "A+B", "C"]})
    examples = {}
    for label in ("overlap", "recruitment"):
        n_spikes = 300
        members = {phase: {p: np.sort(rng.choice(30, 4, replace=False)) for p in ("A", "B", "C", "A+B")}
                   for phase in ("before", "after")}
        examples[label] = study._example_tables({"t": np.sort(rng.random(n_spikes)) * 3,
                                                 "i": rng.integers(0, 30, n_spikes), "phases": phases,
                                                 "presentations": presentations, **members})
    grid = pd.DataFrame([{"gamma_exc": ge, "gamma_w": gw, "status": "completed", "overlap_rise_twin": ge * gw,
                          "net_recruited_twin": ge - gw, "rate_noise_1_hz": 2 * ge, "regime": "overlap"}
                         for ge in (0.5, 1.0) for gw in (0.7, 1.6)])
    memory = tmp_path / "memory"
    memory.mkdir()
    drawn = study._figures(str(memory), points, examples, grid)
    assert sorted(drawn) == ["assemblies.png", "phase_diagram.png"]

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    write_summary(str(run_dir), {"study": "stdp-assemblies", "status": "completed"})
    write_table(points, run_dir / "points.parquet")
    write_table(grid, run_dir / "phase_diagram.parquet")
    for label, (spike_frame, members, phase_table, presentation_table) in examples.items():
        save_spikes(spike_frame, run_dir / f"spikes_exc_{label}.parquet")
        write_table(members, run_dir / f"assemblies_{label}.parquet")
        write_table(phase_table, run_dir / f"phases_{label}.parquet")
        write_table(presentation_table, run_dir / f"presentations_{label}.parquet")
    redrawn_equal(tmp_path, run_dir, memory, drawn)


def test_the_studies_that_say_they_can_redraw_can():
    from brian2learn.studies import load_study
    from brian2learn.studies.cli import PLOTTABLE

    for name in PLOTTABLE:
        assert callable(getattr(load_study(name), "plot_run", None)), name


def test_plot_errors_are_one_line(tmp_path, monkeypatch, capsys):
    from brian2learn.studies import cli as cli_module

    result = cli("plot", str(tmp_path / "nowhere"))
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "not a run directory" in result.stderr
    write_summary(str(tmp_path), {"study": "perturbation-spiking", "status": "interrupted"})
    result = cli("plot", str(tmp_path))
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "lacks the table 'spiking_learning_curves'" in result.stderr
    # every study of brian2learn redraws now; one without plot_run is refused in one line
    monkeypatch.setattr(cli_module, "load_study", lambda name: types.SimpleNamespace())
    assert cli_module.plot_command(str(tmp_path)) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "cannot redraw its figures" in error
