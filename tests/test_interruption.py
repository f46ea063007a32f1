"""SIGINT and SIGTERM at each phase of a run (Python, C++ compile, compiled binary): one line, exit 130/143,
the binary stopped, the finished part kept and a summary.json with status 'interrupted'."""

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from brian2learn.analysis.tables import read_table

STUDY = os.path.join(os.path.dirname(__file__), "interrupt_study.py")


def children_of(pid):
    """Process ids whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="utf-8") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def interrupt(tmp_path, phase, marker, send, delay=0.5, env=None):
    """Start the test study in its own session, wait for ``marker`` (or one of several) on stderr, then
    ``send(process)``."""
    run_dir = tmp_path / phase
    markers = (marker,) if isinstance(marker, str) else marker
    process = subprocess.Popen([sys.executable, STUDY, "--phase", phase, "--out", str(run_dir)],
                               stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, start_new_session=True,
                               env=None if env is None else {**os.environ, **env})
    lines = []
    try:
        for line in process.stderr:
            lines.append(line)
            if any(text in line for text in markers):
                break
        else:
            pytest.fail(f"the run ended before '{marker}': {''.join(lines)}")
        time.sleep(delay)
        helpers = children_of(process.pid)
        send(process)
        rest = process.stderr.read()
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    return process.returncode, rest, helpers, run_dir


def check_kept(run_dir, signal_name):
    with open(run_dir / "summary.json", encoding="utf-8") as handle:
        summary = json.load(handle)
    assert summary["status"] == "interrupted" and summary["signal"] == signal_name
    assert "part_1.parquet" in summary["files"]
    pd.testing.assert_frame_equal(read_table(run_dir / "part_1.parquet"),
                                  pd.DataFrame({"trial": [0, 1, 2], "loss": [3.0, 2.0, 1.0]}))
    assert not (run_dir / ".brian2learn.lock").exists()


def ctrl_c(process):  # a terminal sends SIGINT to the whole foreground process group
    os.killpg(process.pid, signal.SIGINT)


def terminate(process):  # SIGTERM to the Python process alone, as `kill PID` does
    process.send_signal(signal.SIGTERM)


@pytest.mark.parametrize("send, name, status", [(ctrl_c, "SIGINT", 130), (terminate, "SIGTERM", 143)])
def test_python_phase(tmp_path, send, name, status):
    code, rest, _, run_dir = interrupt(tmp_path, "python", "marker: python", send)
    assert code == status
    assert rest.strip().splitlines() == [f"brian2learn: interrupted by {name}; what finished is in {run_dir} "
                                         f"(summary.json, status interrupted)"]
    check_kept(run_dir, name)


def test_ctrl_c_during_the_compile(tmp_path):
    cache = tmp_path / "cache"  # empty: the model is compiled, not taken from the session's cache
    code, rest, helpers, run_dir = interrupt(tmp_path, "compile", "[brian2learn] compiling", ctrl_c, delay=2.0,
                                             env={"BRIAN2LEARN_BUILD_CACHE": str(cache)})
    assert code == 130, rest
    assert rest.strip().splitlines()[-1].startswith("brian2learn: interrupted by SIGINT")
    assert "compilation failed" not in rest and "Traceback" not in rest
    check_kept(run_dir, "SIGINT")
    assert helpers and not any(alive(pid) for pid in helpers)  # make and the compilers are gone
    # no half-compiled build is left in the cache: no entry, no staging directory (only the lock file)
    assert [path.name for path in cache.iterdir() if not path.name.endswith(".lock")] == []


BINARY_STARTS = ("[brian2learn] compiled", "[brian2learn] using the compiled build")


def test_sigterm_while_the_binary_runs_stops_it(tmp_path):
    code, rest, helpers, run_dir = interrupt(tmp_path, "binary", BINARY_STARTS, terminate, delay=1.0)
    assert code == 143, rest
    assert rest.strip().splitlines() == [f"brian2learn: interrupted by SIGTERM; what finished is in {run_dir} "
                                         f"(summary.json, status interrupted)"]
    check_kept(run_dir, "SIGTERM")
    assert helpers and not any(alive(pid) for pid in helpers)  # the binary was killed, not left running


def kill_the_binary(process):  # the binary dies on its own (out of memory, a crash): SIGKILL to it alone
    binaries = [pid for pid in children_of(process.pid) if alive(pid)]
    assert binaries, "the binary should be running"
    for pid in binaries:
        os.kill(pid, signal.SIGKILL)


def test_a_killed_binary_fails_the_run_in_one_line_and_keeps_what_finished(tmp_path):
    code, rest, _, run_dir = interrupt(tmp_path, "binary", BINARY_STARTS, kill_the_binary, delay=1.0)
    assert code == 2, rest
    lines = rest.strip().splitlines()
    assert len(lines) == 1 and "the compiled simulation stopped (killed by SIGKILL)" in lines[0], rest
    with open(run_dir / "summary.json", encoding="utf-8") as handle:
        summary = json.load(handle)
    assert summary["status"] == "failed" and "killed by SIGKILL" in summary["error"]
    assert "part_1.parquet" in summary["files"]
    assert not (run_dir / ".brian2learn.lock").exists()
