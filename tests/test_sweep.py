"""Sweeps on a local Dask cluster of 2 workers: the same results as the points run one by one, a killed worker
costs only its running point, a second run computes nothing, builds are reused, bad input is refused.

This module is also a tiny real study (NAME, add_arguments, run): leaky integrators in cpp_standalone whose
input is a run argument, so one build per worker serves every point; the workers import it by its name.
"""

import dataclasses
import os
import signal
import sys
import threading
import time

import brian2 as b2
import numpy as np
import pandas as pd
import pytest

from brian2learn.simulation import dask_builds
from brian2learn.simulation.devices import DeviceRunner
from brian2learn.studies import load_study, sweep, sweep_cli
from brian2learn.studies.common import write_summary
from brian2learn.studies.options import StudyOptions, option
from brian2learn.studies.run_directory import in_run_directory

# -- the test-only study -------------------------------------------------------------------------------

NAME = "sweep-test-integrators"
DESCRIPTION = "test only: leaky integrators tau dv/dt = I - v, input I by run_args, one build per structure"
TAU = 10.0 * b2.ms  # membrane time constant
DURATION = 20.0 * b2.ms  # one run
DRIVE_SPREAD = 0.1  # relative spread of the inputs drawn from the seed


class Integrators:
    """``n`` leaky integrators from v = 0, input ``I`` a state variable (passed by run_args)."""

    def __init__(self, n):
        self.group = b2.NeuronGroup(n, "dv/dt = (I - v)/tau : 1\nI : 1", method="exact",
                                    namespace={"tau": TAU}, name="integrators")
        self.network = b2.Network(self.group)

    def run(self):
        self.network.run(DURATION, namespace={})

    def state_variables(self):
        return {"I": (self.group, "I"), "v": (self.group, "v")}

    def stimulus_arrays(self):
        return {}


@dataclasses.dataclass
class Options(StudyOptions):
    n: int = option(3, minimum=1, help="number of integrators (structural)")
    drive: float = option(1.0, help="mean input (a run argument)")
    hold: float = option(0.0, minimum=0.0, help="seconds to wait after the run")


def inputs(drive, n, seed):
    return drive * (1.0 + DRIVE_SPREAD * np.random.default_rng(seed).standard_normal(n))


@in_run_directory(NAME)
def run(args, run_dir):
    current = inputs(args.drive, args.n, args.seed)
    key = dask_builds.build_key(NAME, args.n)
    build_dir = os.path.join(run_dir, os.pardir, os.pardir, "builds", f"pid{os.getpid()}")  # in the test's tmp_path

    def factory():
        return DeviceRunner(lambda: Integrators(args.n), device="cpp_standalone", directory=build_dir)

    with dask_builds.reusable_build(key, factory) as runner:
        model = runner.run({"I": current, "v": np.zeros(args.n)})
        v_end = np.asarray(model.group.v[:], dtype=float).copy()
    time.sleep(args.hold)
    pd.DataFrame({"neuron": np.arange(args.n), "I": current, "v_end": v_end}).to_parquet(
        os.path.join(run_dir, "v_end.parquet"), index=False)
    summary = {"study": NAME, "status": "completed", "seed": args.seed, "n": args.n, "drive": args.drive,
               "v_end": {"mean": float(v_end.mean()), "first": float(v_end[0])}, "pid": os.getpid()}
    write_summary(run_dir, summary)
    return summary


STUDY = sys.modules[__name__]


def closed_form_v_end(drive, n, seed):
    """v(T) = I (1 - exp(-T/tau)) from v(0) = 0 (exact integration)."""
    return inputs(drive, n, seed) * (1.0 - np.exp(-float(DURATION / TAU)))


# -- fixtures ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    from distributed import LocalCluster

    # Brian2's temporary files of the workers (a killed worker cannot remove its own) in the test's directory.
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                           env={"TMPDIR": str(tmp_path_factory.mktemp("workers"))})
    yield cluster
    cluster.close()


def _comparable(summary):
    """Flattened summary without timings (which differ from run to run)."""
    return {key: value for key, value in sweep.flatten(summary).items() if "seconds" not in key}


# -- tests -------------------------------------------------------------------------------------------

def test_sweep_equals_the_points_run_one_by_one(cluster, tmp_path):
    grid = {"trials": [20, 30], "device": ["runtime"], "no-bptt": ["true"], "no-sweep": ["true"],
            "realizations": [1]}
    table = sweep.run_sweep("rflo", grid, 2, tmp_path / "sweep", scheduler=cluster.scheduler_address,
                            progress=False)
    assert len(table) == 4 and set(table["status"]) == {"completed"}
    assert sorted(zip(table["param.trials"], table["seed"])) == [(20, 1), (20, 2), (30, 1), (30, 2)]
    stored = pd.read_parquet(tmp_path / "sweep" / sweep.TABLE_NAME)
    pd.testing.assert_frame_equal(stored, table, check_dtype=False)

    module = load_study("rflo")
    for row in table.to_dict("records"):
        args = sweep.study_parser(module).parse_args(
            ["--trials", str(row["param.trials"]), "--device", "runtime", "--no-bptt", "--no-sweep",
             "--realizations", "1", "--seed",
             str(row["seed"]),
             "--out", str(tmp_path / "alone" / f"{row['param.trials']}-{row['seed']}")])
        alone = _comparable(module.run(module.Options.from_args(args)))
        for key, value in alone.items():
            assert row[key] == value, key
        assert row["methods.rflo.final_loss"] < row["initial_loss"]  # it learned: the metrics are not constants
        assert os.path.exists(os.path.join(row["sweep.run_dir"], "losses.parquet"))


def _kill_first_started_worker(out_dir, stop):
    """Wait for a point to start, kill its worker process (SIGKILL), return the point's directory."""
    while not stop.is_set():
        for root, _, files in os.walk(out_dir):
            if sweep.ATTEMPTS_FILE in files and sweep.POINT_FILE not in files:
                with open(os.path.join(root, sweep.ATTEMPTS_FILE)) as handle:
                    line = handle.readline()
                if "pid" in line:
                    os.kill(int(line.split(" pid ")[1].split()[0]), signal.SIGKILL)
                    return root
        time.sleep(0.05)
    return None


def test_killed_worker_costs_only_its_point_and_a_second_run_computes_nothing(cluster, tmp_path):
    out_dir = str(tmp_path / "sweep")
    drives, seeds = [0.5, 1.0, 2.0], [1, 2]
    grid = {"drive": drives, "hold": [1.0]}
    result, stop = {}, threading.Event()

    def sweeping():
        result["table"] = sweep.run_sweep(STUDY, grid, seeds, out_dir, scheduler=cluster.scheduler_address,
                                          progress=False)

    thread = threading.Thread(target=sweeping)
    thread.start()
    killed = _kill_first_started_worker(out_dir, stop)
    thread.join(timeout=240)
    stop.set()
    assert killed is not None and not thread.is_alive()
    table = result["table"]
    assert len(table) == 6 and set(table["status"]) == {"completed"}, table[["point", "seed", "status", "error"]]
    for row in table.to_dict("records"):
        expected = closed_form_v_end(row["param.drive"], 3, row["seed"])
        assert row["v_end.mean"] == pytest.approx(expected.mean(), rel=1e-12)
        assert row["v_end.first"] == pytest.approx(expected[0], rel=1e-12)
        # Only the killed point ran twice; nothing finished was redone.
        assert row["sweep.attempts"] == (2 if os.path.samefile(row["sweep.run_dir"], killed) else 1)
    # One build per worker process (2 workers + 1 restarted), reused by every other point.
    built = int((~table["sweep.build_reused"].astype(bool)).sum())
    assert 1 <= built <= 3 and int(table["sweep.build_reused"].sum()) == 6 - built

    attempts = {path: open(os.path.join(path, sweep.ATTEMPTS_FILE)).read() for path in table["sweep.run_dir"]}
    again = sweep.run_sweep(STUDY, grid, seeds, out_dir, scheduler=None, workers=2, progress=False)
    assert again.attrs == {"computed": 0, "skipped": 6, "failed": 0, "pending": 0}
    assert bool(again["sweep.skipped"].all())
    assert attempts == {path: open(os.path.join(path, sweep.ATTEMPTS_FILE)).read() for path in again["sweep.run_dir"]}
    pd.testing.assert_frame_equal(again.drop(columns="sweep.skipped"), table.drop(columns="sweep.skipped"))


def test_worker_build_reuses_per_key_and_reusable_build_closes_outside_a_sweep():
    closed = []

    class Thing:
        def __init__(self, tag):
            self.tag = tag

        def close(self):
            closed.append(self.tag)

    first, reused = dask_builds.worker_build(dask_builds.build_key("x", 1), lambda: Thing("a"))
    again, reused_again = dask_builds.worker_build(dask_builds.build_key("x", 1), lambda: Thing("b"))
    assert (reused, reused_again, again is first, closed) == (False, True, True, [])
    other, reused_other = dask_builds.worker_build(dask_builds.build_key("x", 2), lambda: Thing("c"))
    assert (other.tag, reused_other, closed) == ("c", False, ["a"])
    dask_builds._BUILDS.drop()
    assert closed == ["a", "c"]
    with dask_builds.reusable_build(dask_builds.build_key("x", 1), lambda: Thing("d")) as thing:
        assert thing.tag == "d"
    assert closed == ["a", "c", "d"]


@pytest.mark.parametrize("study,grid,seeds,message", [
    ("no-such-study", {}, 1, "no-such-study"),
    ("rflo", {"bogus": [1]}, 1, "bogus"),
    ("rflo", {"trials": ["many"]}, 1, "--trials"),
    ("rflo", {"no_bptt": ["maybe"]}, 1, "no_bptt"),
    ("rflo", {"seed": [1, 2]}, 1, "seed"),
    ("rflo", {"trials": [10, 10]}, 1, "repeats"),
    ("rflo", {"trials": [10]}, 0, "seeds"),
])
def test_bad_input_raises_value_error_naming_it(tmp_path, study, grid, seeds, message):
    with pytest.raises(ValueError, match=message):
        sweep.run_sweep(study, grid, seeds, tmp_path, progress=False)


def test_a_combination_may_leave_out_a_parameter_that_others_set(tmp_path):
    _, _, points = sweep.plan_points("rflo", [{"trials": 10}, {"trials": 10, "no_bptt": True}], [1], tmp_path)
    assert [p["point"] for p in points] == ["trials=10", "trials=10__no_bptt=true"]
    assert points[0]["params"] == {"trials": 10} and points[1]["params"] == {"trials": 10, "no_bptt": True}
    assert "--no-bptt" not in points[0]["argv"] and "--no-bptt" in points[1]["argv"]
    with pytest.raises(ValueError, match="repeats"):
        sweep.plan_points("rflo", [{"trials": 10}, {"trials": 10}], [1], tmp_path)


@pytest.mark.parametrize("text", ["trials", "trials=", "=3", "trials=1,,2"])
def test_malformed_param_is_refused_in_one_line(text, capsys):
    with pytest.raises(ValueError, match="malformed"):
        sweep_cli.parse_params([text])
    assert sweep_cli.main(["rflo", "--param", text]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("brian2learn: error: malformed") and "\n" not in err


def test_stdp_song_sweep_compiles_once_per_worker_and_reused_builds_give_the_same_results(cluster, tmp_path):
    """Four seeds of stdp-song on two workers: at most one build per worker, the others reuse it."""
    grid = {"quick": ["true"], "duration": ["1"]}  # the quick mode's three input rates, 1 s each
    table = sweep.run_sweep("stdp-song", grid, 4, tmp_path / "sweep", scheduler=cluster.scheduler_address,
                            progress=False)
    assert len(table) == 4 and set(table["status"]) == {"completed"}
    reused = table["sweep.build_reused"].astype(bool)
    assert reused.sum() >= 2 and table["builds"].sum() == (~reused).sum() <= 2
    assert (table.loc[reused, "builds"] == 0).all() and (table["binary_runs"] == 3).all()

    row = table[reused].iloc[0]
    song = load_study("stdp-song")
    options = song.Options(quick=True, seed=int(row["seed"]), rates=None, duration=1.0, a_plus=None,
                           device="cpp_standalone", out=str(tmp_path / "alone"))
    alone = sweep.flatten(song.run(options))
    for key in ("per_rate.20.output_rate_stdp_hz", "per_rate.20.output_rate_static_hz", "per_rate.20.mean_w",
                "per_rate.20.frac_low"):
        assert row[key] == alone[key], key
    assert table["per_rate.20.mean_w"].nunique() == 4  # the seeds differ: the comparison is not between constants


def test_without_compute_a_point_whose_last_attempt_failed_counts_as_failed_not_pending(tmp_path):
    points = sweep.plan_points(STUDY, {"drive": [1.0, 2.0]}, [1], str(tmp_path))[2]
    failed = points[0]
    os.makedirs(failed["run_dir"])
    write_summary(failed["run_dir"], {"study": NAME, "status": "failed", "error": "ValueError:  it\n broke"})
    table = sweep.run_sweep(STUDY, {"drive": [1.0, 2.0]}, [1], str(tmp_path), compute=False, progress=False)
    assert table.attrs == {"computed": 0, "skipped": 0, "failed": 1, "pending": 1}
    assert list(table["status"]) == ["failed"] and table["error"].iloc[0] == "ValueError: it broke"
    assert table["point"].iloc[0] == failed["point"] and not os.path.exists(tmp_path / sweep.TABLE_NAME)
