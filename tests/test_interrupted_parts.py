"""An interrupted study keeps every finished part on disk: its table rows and its saved network.

Each study runs in-process at a tiny size; the second part raises :class:`RunInterrupted` (as SIGINT
does) when it starts. What the first part wrote must equal the same rows of an uninterrupted run,
and the run directory's summary.json must say ``interrupted`` and list those files.
"""

import json
import signal

import numpy as np
import pandas as pd
import pytest

from brian2learn.simulation.files import load_parameters
from brian2learn.simulation.interrupt import RunInterrupted
from brian2learn.studies import rflo as rflo_study
from brian2learn.studies import stdp_song
from brian2learn.training.rflo import RfloTrainer


def _interrupt_at_call(number):
    """A function that counts its calls and raises RunInterrupted(SIGINT) at call ``number``."""
    calls = []

    def check():
        calls.append(None)
        if len(calls) == number:
            raise RunInterrupted(signal.SIGINT)

    return check


def _read_summary(run_dir):
    return json.loads((run_dir / "summary.json").read_text())


def _assert_same_arrays(path, reference):
    arrays, _ = load_parameters(str(path))
    expected, _ = load_parameters(str(reference))
    assert sorted(arrays) == sorted(expected)
    for name in expected:
        np.testing.assert_array_equal(np.asarray(arrays[name]), np.asarray(expected[name]))


def _song_options(out):
    return stdp_song.Options(quick=True, seed=3, rates=(15.0, 30.0), duration=0.5, a_plus=0.01, device="runtime",
                             out=str(out))


def test_stdp_song_interrupted_at_the_second_rate_keeps_the_first(tmp_path, monkeypatch):
    complete = tmp_path / "complete"
    stdp_song.run(_song_options(complete))

    check = _interrupt_at_call(2)

    class InterruptedRunner(stdp_song.DeviceRunner):
        def run(self, *args, **kwargs):
            check()
            return super().run(*args, **kwargs)

    monkeypatch.setattr(stdp_song, "DeviceRunner", InterruptedRunner)
    stopped = tmp_path / "stopped"
    with pytest.raises(RunInterrupted):
        stdp_song.run(_song_options(stopped))

    summary = _read_summary(stopped)
    assert summary["status"] == "interrupted" and summary["signal"] == "SIGINT"
    written = {"rates.parquet", "final_weights.parquet", "weight_history.parquet", "network_stdp.npz"}
    assert written <= set(summary["files"])
    for name in ("rates", "final_weights", "weight_history"):
        part = pd.read_parquet(stopped / f"{name}.parquet")
        full = pd.read_parquet(complete / f"{name}.parquet")
        assert set(part["input_rate_hz"]) == {15.0}
        first = full[full["input_rate_hz"] == 15.0].reset_index(drop=True)
        pd.testing.assert_frame_equal(part, first)
    arrays, metadata = load_parameters(str(stopped / "network_stdp.npz"))
    assert sorted(arrays) == ["w_final_15hz", "w_initial"]
    assert metadata["study"] == "stdp-song" and metadata["method"] == "stdp"
    full_arrays, _ = load_parameters(str(complete / "network_stdp.npz"))
    for name in arrays:
        np.testing.assert_array_equal(arrays[name], full_arrays[name])


def _rflo_options(out):
    return rflo_study.Options(seed=2, device="runtime", trials=6, no_bptt=True, no_sweep=True, realizations=2,
                              out=str(out))


def test_rflo_interrupted_at_the_second_network_keeps_the_first(tmp_path, monkeypatch):
    complete = tmp_path / "complete"
    rflo_study.run(_rflo_options(complete))

    check = _interrupt_at_call(2)
    original = RfloTrainer.train

    def train(self, *args, **kwargs):
        check()
        return original(self, *args, **kwargs)

    monkeypatch.setattr(RfloTrainer, "train", train)
    stopped = tmp_path / "stopped"
    with pytest.raises(RunInterrupted):
        rflo_study.run(_rflo_options(stopped))

    summary = _read_summary(stopped)
    assert summary["status"] == "interrupted"
    assert {"losses.parquet", "outputs_last_trial.parquet", "network_rflo_seed2.npz"} <= set(summary["files"])
    assert "network_rflo_seed3.npz" not in summary["files"]
    losses = pd.read_parquet(stopped / "losses.parquet")
    full = pd.read_parquet(complete / "losses.parquet")
    assert set(losses["seed"]) == {2} and len(losses) == 6
    pd.testing.assert_frame_equal(losses, full[full["seed"] == 2].reset_index(drop=True))
    pd.testing.assert_frame_equal(pd.read_parquet(stopped / "outputs_last_trial.parquet"),
                                  pd.read_parquet(complete / "outputs_last_trial.parquet"))
    _assert_same_arrays(stopped / "network_rflo_seed2.npz", complete / "network_rflo_seed2.npz")


def test_rflo_sweep_interrupted_at_the_second_period_keeps_the_first(tmp_path, monkeypatch):
    """The period sweep writes its table after every finished (period, realization)."""
    check = _interrupt_at_call(2)
    original = RfloTrainer.train

    def train(self, *args, **kwargs):
        if self.config.n_rec == rflo_study.SWEEP_NETWORK["n_rec"]:  # a trainer of the sweep
            check()
        return original(self, *args, **kwargs)

    monkeypatch.setattr(RfloTrainer, "train", train)
    stopped = tmp_path / "stopped"
    options = rflo_study.Options(seed=2, device="runtime", trials=3, no_bptt=True, periods="2,3", sweep_trials=4,
                                 realizations=1, out=str(stopped))
    with pytest.raises(RunInterrupted):
        rflo_study.run(options)

    summary = _read_summary(stopped)
    assert summary["status"] == "interrupted"
    assert {"losses.parquet", "period_sweep.parquet", "period_sweep_curves.parquet"} <= set(summary["files"])
    sweep = pd.read_parquet(stopped / "period_sweep.parquet")
    reference, curves = rflo_study.period_sweep((2.0,), 4, seed=2, device="runtime", with_bptt=False,
                                                progress=False)
    assert sweep["period_tau"].tolist() == [2.0, 2.0] and sweep["method"].tolist() == ["rflo", "untrained"]
    columns = [c for c in reference.columns if c != "wall_seconds"]
    pd.testing.assert_frame_equal(sweep[columns], reference[columns])
    pd.testing.assert_frame_equal(pd.read_parquet(stopped / "period_sweep_curves.parquet"), curves)


def test_perturbation_linear_interrupted_at_the_second_setting_keeps_the_first(tmp_path, monkeypatch):
    from brian2learn.studies import perturbation_linear

    def options(out):
        return perturbation_linear.Options(seed=2, device="runtime", trials=5, replicas=1, out=str(out))

    complete = tmp_path / "complete"
    perturbation_linear.run(options(complete))

    check = _interrupt_at_call(2)

    class InterruptedTrainer(perturbation_linear.PerturbationTrainer):
        def train(self, *args, **kwargs):
            check()
            return super().train(*args, **kwargs)

    monkeypatch.setattr(perturbation_linear, "PerturbationTrainer", InterruptedTrainer)
    stopped = tmp_path / "stopped"
    with pytest.raises(RunInterrupted):
        perturbation_linear.run(options(stopped))

    summary = _read_summary(stopped)
    assert summary["status"] == "interrupted"
    tables = ("learning_curves", "mean_curves", "final_weights")
    assert {f"{name}.parquet" for name in tables} | {"network_single.npz"} <= set(summary["files"])
    assert "network_multiple.npz" not in summary["files"]
    for name in tables:
        part = pd.read_parquet(stopped / f"{name}.parquet")
        full = pd.read_parquet(complete / f"{name}.parquet")
        assert set(part["setting"]) == {"single"}
        pd.testing.assert_frame_equal(part, full[full["setting"] == "single"].reset_index(drop=True))
    _assert_same_arrays(stopped / "network_single.npz", complete / "network_single.npz")


def test_ttfs_robustness_interrupted_at_the_second_strength_keeps_the_first(tmp_path, monkeypatch):
    from brian2learn.studies import ttfs_robustness

    def options(out):
        return ttfs_robustness.Options(quick=True, device="runtime", kinds="dead", pretrain_epochs=1,
                                       train_samples=40, test_samples=30, out=str(out))

    complete = tmp_path / "complete"
    ttfs_robustness.run(options(complete))

    check = _interrupt_at_call(3)  # the control, the first strength, then the second strength
    original = ttfs_robustness.TTFSTrainer.train

    def train(self, *args, **kwargs):
        if isinstance(self.forward, ttfs_robustness.substrate_model.TTFSSubstrate):  # training in the loop
            check()
        return original(self, *args, **kwargs)

    monkeypatch.setattr(ttfs_robustness.TTFSTrainer, "train", train)
    stopped = tmp_path / "stopped"
    with pytest.raises(RunInterrupted):
        ttfs_robustness.run(options(stopped))

    summary = _read_summary(stopped)
    assert summary["status"] == "interrupted"
    assert {"robustness.parquet", "in_loop_curves.parquet", "network_software.npz"} <= set(summary["files"])
    first = ttfs_robustness.QUICK_SWEEPS["dead"][0]
    for name, timing in (("robustness", "finetune_seconds"), ("in_loop_curves", "seconds")):
        part = pd.read_parquet(stopped / f"{name}.parquet")
        full = pd.read_parquet(complete / f"{name}.parquet")
        assert set(part["strength"]) == {0.0, first}
        expected = full[full["strength"].isin([0.0, first])].reset_index(drop=True)
        pd.testing.assert_frame_equal(part.drop(columns=timing), expected.drop(columns=timing))
    _assert_same_arrays(stopped / "network_software.npz", complete / "network_software.npz")
