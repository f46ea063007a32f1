"""Run directories: default names per options, one run at a time (a lock), stale locks, no silent overwrite,
and the command line's checks made before any directory exists."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from brian2learn.studies import load_study
from brian2learn.studies.common import StudyError
from brian2learn.studies.run_directory import LOCK_NAME, claim_run_dir, default_run_dir, lock_holder

CLI = "import sys; from brian2learn.studies.cli import main; sys.exit(main(sys.argv[1:]))"


def cli(*args, cwd):
    return subprocess.run([sys.executable, "-c", CLI, *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def test_default_directories_differ_exactly_when_the_options_do():
    options = load_study("perturbation-linear").Options
    assert default_run_dir("perturbation-linear", options()) == os.path.join("runs", "perturbation-linear-seed1")
    quick = default_run_dir("perturbation-linear", options(quick=True, seed=3))
    assert quick == os.path.join("runs", "perturbation-linear-seed3-quick")
    a = default_run_dir("perturbation-linear", options(quick=True, trials=7))
    b = default_run_dir("perturbation-linear", options(quick=True, trials=8))
    assert a != b and a.startswith(os.path.join("runs", "perturbation-linear-seed1-quick-"))
    assert a == default_run_dir("perturbation-linear", options(quick=True, trials=7))
    # where the run is written does not change its name
    assert default_run_dir("perturbation-linear", options(out="x", overwrite=True)) == default_run_dir(
        "perturbation-linear", options())


def test_a_second_run_into_a_held_directory_is_refused_and_a_stale_lock_taken_over(tmp_path, capsys):
    run_dir = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom brian2learn.studies.run_directory import claim_run_dir\n"
         "claim = claim_run_dir(sys.argv[1])\nclaim.__enter__()\nprint('held', flush=True)\ntime.sleep(120)",
         str(run_dir)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        result = cli("run", "perturbation-linear", "--quick", "--out", str(run_dir), cwd=tmp_path)
        assert result.returncode == 2
        assert result.stderr.count("\n") == 1 and f"in use by process {holder.pid}" in result.stderr
        assert sorted(os.listdir(run_dir)) == [LOCK_NAME]  # the refused run wrote nothing
    finally:
        holder.send_signal(signal.SIGKILL)  # dies without releasing: its lock is now stale
        holder.wait()
    assert lock_holder(run_dir)["pid"] == holder.pid
    with claim_run_dir(str(run_dir)) as path:
        assert lock_holder(path)["pid"] == os.getpid()
    assert f"taking over the stale lock of process {holder.pid}" in capsys.readouterr().err
    assert not os.path.exists(run_dir / LOCK_NAME)


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="process start times are read from Linux's /proc")
def test_a_lock_whose_process_id_was_reused_by_a_later_process_is_stale(tmp_path, capsys):
    """A lock taken a day ago by a process whose id now belongs to this (younger) test process is stale; the same
    id with a lock taken now holds."""
    def lock(run_dir, started):
        run_dir.mkdir()
        record = {"pid": os.getpid(), "host": socket.gethostname(), "started": started, "command": "earlier run"}
        (run_dir / LOCK_NAME).write_text(json.dumps(record))

    reused, held = tmp_path / "reused", tmp_path / "held"
    lock(reused, time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(time.time() - 86400)))
    with claim_run_dir(str(reused)):
        assert lock_holder(reused)["command"] != "earlier run"
    assert (f"taking over the stale lock of process {os.getpid()} (gone; its id now belongs to a later process)"
            in capsys.readouterr().err)
    lock(held, time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    with pytest.raises(StudyError, match=f"in use by process {os.getpid()}"):
        with claim_run_dir(str(held)):
            pass


def test_the_lock_is_released_when_the_run_fails(tmp_path):
    with pytest.raises(ZeroDivisionError):
        with claim_run_dir(str(tmp_path / "run")):
            raise ZeroDivisionError
    assert os.listdir(tmp_path / "run") == []


def test_a_finished_run_is_not_written_over_without_overwrite(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "summary.json").write_text(json.dumps({"status": "completed"}))
    result = cli("run", "perturbation-linear", "--quick", "--out", str(run_dir), cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "status completed" in result.stderr and "--overwrite" in result.stderr
    with pytest.raises(StudyError, match="already holds a run"):
        with claim_run_dir(str(run_dir)):
            pass
    with claim_run_dir(str(run_dir), overwrite=True) as path:
        assert path == str(run_dir)


@pytest.mark.parametrize("args, message", [(["--out", ""], "'--out' must name a directory"),
                                           (["--seed", "-1"], "'--seed' must be"),
                                           (["--seed", str(2 ** 32)], "'--seed' must be")])
def test_bad_placement_options_stop_before_any_directory_exists(tmp_path, args, message):
    result = cli("run", "perturbation-linear", "--quick", *args, cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and message in result.stderr
    assert os.listdir(tmp_path) == []
