"""The Parquet table convention: units in the names, 0-based indices, the schema stamp and the reader of
files written before it (schema 1, written with plain ``DataFrame.to_parquet`` as brian2learn did up to 6bea6e4)."""

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from brian2learn.analysis import load_spikes, save_spikes, spikes_to_dataframe, tables


def _schema_1_file(frame, path):
    """A file as brian2learn wrote it before the stamp: pandas' own writer, no index."""
    frame.to_parquet(path, index=False)
    return path


def test_written_table_reads_back_equal_and_carries_the_stamp(tmp_path):
    frame = pd.DataFrame({"trial": np.arange(3), "t_s": [0.0, 0.001, 0.002], "rule": ["wp", "np", "wp"]})
    path = tables.write_table(frame, tmp_path / "curves.parquet")
    assert tables.table_schema_version(pq.read_schema(path).metadata) == tables.SCHEMA_VERSION == 2
    pd.testing.assert_frame_equal(tables.read_table(path), frame)
    pd.testing.assert_frame_equal(pd.read_parquet(path), frame)  # plain pandas reads it too
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curves.parquet"]  # no .tmp left behind


@pytest.mark.parametrize("column, hint", [("t", "t_s"), ("time", "step"), ("delay_ms", "delay_s")])
def test_columns_without_unit_or_in_milliseconds_are_refused(tmp_path, column, hint):
    with pytest.raises(ValueError, match=f"'{column}'.*{hint}"):
        tables.write_table(pd.DataFrame({column: [1.0]}), tmp_path / "x.parquet")
    assert not list(tmp_path.iterdir())


def test_an_interrupted_write_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "losses.parquet"
    old = pd.DataFrame({"iteration": [0, 1], "loss": [2.0, 1.0]})
    tables.write_table(old, path)

    def failing_writer(table, where):
        with open(where, "wb") as handle:
            handle.write(b"PAR1 half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(pq, "write_table", failing_writer)
    with pytest.raises(KeyboardInterrupt):
        tables.write_table(pd.DataFrame({"iteration": [0, 1, 2], "loss": [2.0, 1.0, 0.5]}), path)
    monkeypatch.undo()
    pd.testing.assert_frame_equal(tables.read_table(path), old)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["losses.parquet"]


def test_schema_1_times_become_seconds_or_steps(tmp_path):
    seconds = pd.DataFrame({"method": ["bptt"] * 3, "t": [0.0, 0.001, 0.002], "y": [0.1, 0.2, 0.3]})
    steps = pd.DataFrame({"method": ["rflo"] * 3, "t": np.arange(3), "y": [0.1, 0.2, 0.3]})
    read_seconds = tables.read_table(_schema_1_file(seconds, tmp_path / "a.parquet"))
    read_steps = tables.read_table(_schema_1_file(steps, tmp_path / "b.parquet"))
    assert list(read_seconds.columns) == ["method", "t_s", "y"]
    assert list(read_steps.columns) == ["method", "step", "y"]
    np.testing.assert_array_equal(read_seconds["t_s"], seconds["t"])
    np.testing.assert_array_equal(read_steps["step"], steps["t"])


def test_schema_1_one_based_indices_count_from_zero(tmp_path):
    curves = pd.DataFrame({"epoch": [1, 2, 3], "train_loss": [0.3, 0.2, 0.1]})
    spectrum = pd.DataFrame({"component": [1, 2], "eigenvalue": [4.0, 1.0]})
    assert tables.read_table(_schema_1_file(curves, tmp_path / "c.parquet"))["epoch"].tolist() == [0, 1, 2]
    assert tables.read_table(_schema_1_file(spectrum, tmp_path / "s.parquet"))["component"].tolist() == [0, 1]
    # a stamped file is taken as written: its epoch 0 is the first epoch
    stamped = tables.write_table(curves.assign(epoch=[0, 1, 2]), tmp_path / "new.parquet")
    assert tables.read_table(stamped)["epoch"].tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match="'epoch' from 1"):
        tables.read_table(_schema_1_file(curves.assign(epoch=[0, 1, 2]), tmp_path / "bad.parquet"))


def test_a_newer_schema_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "future.parquet"
    monkeypatch.setattr(tables, "SCHEMA_VERSION", 3)
    tables.write_table(pd.DataFrame({"trial": [0]}), path)
    monkeypatch.undo()
    with pytest.raises(ValueError, match="schema 3.*upgrade brian2learn"):
        tables.read_table(path)
    with pytest.raises(ValueError, match="schema 3"):
        load_spikes(path)


def test_schema_1_spike_files_load_as_spike_frames(tmp_path):
    frame = spikes_to_dataframe([0, 2, 1], [0.001, 0.002, 0.0125], group="rec", trial_duration=0.01)
    legacy = frame.rename(columns={"t_s": "t"})
    loaded = load_spikes(_schema_1_file(legacy, tmp_path / "spikes_last_trial.parquet"))
    pd.testing.assert_frame_equal(loaded, frame)

    # stdp-assemblies wrote absolute times of the excitatory group as just (t, neuron)
    two_columns = pd.DataFrame({"t": [0.5, 1.25], "neuron": [7, 3]})
    path = _schema_1_file(two_columns, tmp_path / "spikes_exc_assembly.parquet")
    with pytest.raises(ValueError, match="pass group="):
        load_spikes(path)
    loaded = load_spikes(path, group="exc")
    expected = spikes_to_dataframe([7, 3], [0.5, 1.25], group="exc")
    pd.testing.assert_frame_equal(loaded[list(expected.columns)], expected)


def test_saved_spikes_are_stamped_and_an_old_time_column_is_named(tmp_path):
    frame = spikes_to_dataframe([1], [0.003], group="out")
    path = tmp_path / "spikes.parquet"
    save_spikes(frame, path)
    assert tables.table_schema_version(pq.read_schema(path).metadata) == tables.SCHEMA_VERSION
    with pytest.raises(ValueError, match="'t_s'.*rename"):
        save_spikes(frame.rename(columns={"t_s": "t"}), path)


def test_replace_atomically_keeps_the_extension_that_writers_rely_on(tmp_path):
    from brian2learn.simulation.files import replace_atomically

    path = tmp_path / "weights.npz"
    with replace_atomically(path) as tmp:
        np.savez(tmp, w_rec=np.eye(2))  # numpy would append .npz to a name without it
    with pytest.raises(KeyboardInterrupt), replace_atomically(path) as tmp:
        np.savez(tmp, w_rec=np.zeros((2, 2)))
        raise KeyboardInterrupt
    np.testing.assert_array_equal(np.load(path)["w_rec"], np.eye(2))
    assert [p.name for p in tmp_path.iterdir()] == ["weights.npz"]
