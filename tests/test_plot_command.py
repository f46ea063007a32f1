"""``brian2learn plot RUN_DIR`` redraws a run's figures from its tables: the same pixels as the figures drawn
from the results in memory."""

import os
import subprocess
import sys

import numpy as np
import pandas as pd
from PIL import Image

from brian2learn.analysis import save_spikes, spikes_to_dataframe, write_table
from brian2learn.studies import eprop_pattern, rflo
from brian2learn.studies.common import write_summary

CLI = "import sys; from brian2learn.studies.cli import main; sys.exit(main(sys.argv[1:]))"


def cli(*args):
    return subprocess.run([sys.executable, "-c", CLI, *args], capture_output=True, text=True, timeout=120)


def same_pixels(a, b):
    x, y = np.asarray(Image.open(a)), np.asarray(Image.open(b))
    return x.shape == y.shape and np.array_equal(x, y)


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


def test_the_studies_that_say_they_can_redraw_can():
    from brian2learn.studies import load_study
    from brian2learn.studies.cli import PLOTTABLE

    for name in PLOTTABLE:
        assert callable(getattr(load_study(name), "plot_run", None)), name


def test_plot_errors_are_one_line(tmp_path):
    result = cli("plot", str(tmp_path / "nowhere"))
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "not a run directory" in result.stderr
    write_summary(str(tmp_path), {"study": "eprop-evidence", "status": "completed"})
    result = cli("plot", str(tmp_path))
    assert result.returncode == 2 and "cannot redraw its figures" in result.stderr
