"""The build cache: a model compiled once serves later runners and concurrent processes; results stay per run."""

import os
import shutil
import subprocess
import sys
import textwrap

import brian2 as b2
import numpy as np
import pytest

from brian2learn.simulation.build_cache import BuildCache, canonical_main, project_key
from brian2learn.simulation.devices import DeviceRunner

CLI = "import sys; from brian2learn.studies.cli import main; sys.exit(main(sys.argv[1:]))"


class DrivenUnits:
    """Units driven through synapses whose weights each run passes; ``tau_ms`` changes the generated code."""

    def __init__(self, tau_ms=10):
        self.source = b2.SpikeGeneratorGroup(4, [0, 1, 2, 3, 0, 1], [1, 2, 3, 4, 6, 7] * b2.ms, name="cache_source")
        self.target = b2.NeuronGroup(3, f"dv/dt = -v/({tau_ms}*ms) : 1", threshold="v > 1", reset="v = 0",
                                     method="exact", name="cache_target")
        self.synapses = b2.Synapses(self.source, self.target, "w : 1", on_pre="v_post += w", name="cache_synapses")
        self.synapses.connect(i=[0, 1, 2, 3, 0, 1], j=[0, 0, 1, 1, 2, 2])
        self.monitor = b2.SpikeMonitor(self.target, name="cache_spikes")
        self.network = b2.Network(self.source, self.target, self.synapses, self.monitor)

    def run(self):
        self.network.run(10 * b2.ms)

    def state_variables(self):
        return {"w": (self.synapses, "w")}

    def stimulus_arrays(self):
        return {}


def spikes_with(runner, weights):
    model = runner.run({"w": np.asarray(weights, dtype=float)})
    return np.asarray(model.monitor.i[:]).tolist(), np.round(np.asarray(model.monitor.t[:] / b2.ms), 6).tolist()


WEIGHTS = ([1.2, 0.0, 0.6, 0.6, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.7, 0.7])


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A cache holding the build of DrivenUnits, and its spikes for WEIGHTS: the one compile that the
    tests below share (each copies the cache, as another machine's cache directory would be)."""
    root = tmp_path_factory.mktemp("built")
    with DeviceRunner(DrivenUnits, directory=str(root / "first"), cache=str(root / "cache")) as first:
        spikes = [spikes_with(first, w) for w in WEIGHTS]
        assert not first.reused_build and first.project_directory.startswith(str(root / "cache"))
        assert os.path.isdir(os.path.join(first.scratch_directory, "results"))
    return root / "cache", spikes


def copied_cache(built, tmp_path):
    shutil.copytree(built[0], tmp_path / "cache")
    return str(tmp_path / "cache")


def test_a_second_runner_of_the_model_runs_the_cached_binary_with_its_own_results(built, tmp_path):
    cache, expected = built
    # by hand, for the first weights: unit 0 gets 1.2 at 1 ms and at 6 ms; unit 1 gets 0.6 at 3 ms and
    # 0.6 exp(-1/10) + 0.6 = 1.14 at 4 ms; unit 2 nothing. Brian2 tests thresholds before the synapses act,
    # so each spike is seen one step (0.1 ms) later.
    assert expected[0] == ([0, 1, 0], [1.1, 4.1, 6.1])
    (entry,) = BuildCache(str(cache)).entries()
    with DeviceRunner(DrivenUnits, directory=str(tmp_path / "second"), cache=str(cache)) as second:
        assert [spikes_with(second, w) for w in WEIGHTS] == expected
        assert second.reused_build and second.project_directory == os.path.join(str(cache), entry["key"])
        # each runner's results in its own scratch directory, removed when it closes
        scratch = second.scratch_directory
        assert os.path.isdir(os.path.join(scratch, "results"))
    assert scratch == str(tmp_path / "second") or not os.path.exists(scratch)
    with DeviceRunner(DrivenUnits, directory=str(tmp_path / "own"), cache=False) as uncached:
        assert [spikes_with(uncached, w) for w in WEIGHTS] == expected  # the binary without the cache agrees
        assert uncached.project_directory == str(tmp_path / "own")
    assert len(BuildCache(str(cache)).entries()) == 1


def test_clear_keeps_builds_in_use_and_removes_what_is_left_over(built, tmp_path):
    cache = BuildCache(copied_cache(built, tmp_path))
    runner = DeviceRunner(DrivenUnits, cache=cache.root)
    try:
        assert spikes_with(runner, WEIGHTS[0]) == built[1][0] and runner.reused_build
        (tmp_path / "cache" / ".staging-999999999-dead").mkdir()  # left by a process that no longer exists
        (entry,) = cache.entries()
        assert entry["in_use"] and entry["model"] == "DrivenUnits" and entry["size_bytes"] > 0
        removed, in_use = cache.clear()
        assert removed == [] and in_use == [entry["key"]]
        assert not (tmp_path / "cache" / ".staging-999999999-dead").exists()
        assert spikes_with(runner, WEIGHTS[1])[0] == [2, 2]  # the build in use still runs
    finally:
        runner.close()
    assert cache.clear(older_than_days=1) == ([], [])  # used just now: not older than a day
    assert cache.clear() == ([entry["key"]], [])
    assert cache.entries() == [] and os.listdir(cache.root) == []


def test_an_incomplete_entry_is_built_anew(built, tmp_path):
    cache = copied_cache(built, tmp_path)
    (entry,) = BuildCache(cache).entries()
    entry = os.path.join(cache, entry["key"])
    os.remove(os.path.join(entry, "main"))
    os.remove(os.path.join(entry, "brian2learn-build.json"))  # as a crash before the rename would never leave it
    with DeviceRunner(DrivenUnits, cache=cache) as runner:
        assert spikes_with(runner, WEIGHTS[0]) == built[1][0]
        assert not runner.reused_build and os.path.isfile(os.path.join(entry, "main"))


SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    import numpy as np
    from test_build_cache import DrivenUnits, WEIGHTS, spikes_with
    from brian2learn.simulation.devices import DeviceRunner
    with DeviceRunner(DrivenUnits, cache={cache!r}) as runner:
        print(spikes_with(runner, WEIGHTS[0]))
""")


def test_concurrent_processes_compile_a_model_once(tmp_path):
    script = SCRIPT.format(tests=os.path.dirname(__file__), cache=str(tmp_path / "cache"))
    processes = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for _ in range(2)]
    outputs = [process.communicate(timeout=300) for process in processes]
    assert all(process.returncode == 0 for process in processes), outputs
    stderr = "".join(err for _, err in outputs)
    assert stderr.count("[brian2learn] compiling") == 1, stderr  # the other waited or found it built
    assert stderr.count("[brian2learn] using the compiled build") == 1, stderr
    assert outputs[0][0] == outputs[1][0] == "([0, 1, 0], [1.1, 4.1, 6.1])\n"
    assert len(BuildCache(str(tmp_path / "cache")).entries()) == 1


def test_set_ordered_statements_are_sorted_and_nothing_else():
    text = "\n".join(["int main() {", "    _array_b_clock_t[0] = 0.0;", "    _array_a_clock_t[0] = 0.0;",
                      "    f();", "    net.add(&zclock, NULL);", "    net.add(&aclock, NULL);",
                      "    _array_x[0] = 1;", "    _array_x[0] = 2;", "}"])
    lines = canonical_main(text).split("\n")
    assert lines[1:3] == ["    _array_a_clock_t[0] = 0.0;", "    _array_b_clock_t[0] = 0.0;"]
    assert lines[3] == "    f();" and lines[4:6] == ["    net.add(&aclock, NULL);", "    net.add(&zclock, NULL);"]
    assert lines[6:8] == ["    _array_x[0] = 1;", "    _array_x[0] = 2;"]  # the same element twice: order kept


def test_the_key_covers_the_generated_files_only(tmp_path):
    (tmp_path / "code_objects").mkdir()
    (tmp_path / "code_objects" / "a.cpp").write_text("int a;")
    key = project_key(str(tmp_path))
    (tmp_path / "code_objects" / "a.o").write_bytes(b"\x7fELF")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "v.dat").write_bytes(b"1")
    assert project_key(str(tmp_path)) == key
    (tmp_path / "code_objects" / "a.cpp").write_text("int b;")
    assert project_key(str(tmp_path)) != key


def cli(*args, cache):
    return subprocess.run([sys.executable, "-c", CLI, *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "BRIAN2LEARN_BUILD_CACHE": cache})


def test_cache_command(built, tmp_path):
    cache = copied_cache(built, tmp_path)
    (entry,) = BuildCache(cache).entries()
    key = entry["key"]
    listing = cli("cache", "list", cache=cache)
    assert listing.returncode == 0 and f"build cache {cache}: 1 build," in listing.stdout
    assert key[:12] in listing.stdout and "DrivenUnits" in listing.stdout
    cleared = cli("cache", "clear", cache=cache)
    assert cleared.returncode == 0 and cleared.stdout.strip() == f"removed 1 cached build from {cache}"
    assert BuildCache(cache).entries() == []
    bad = cli("cache", "clear", "--older-than", "-1", cache=cache)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "--older-than" in bad.stderr
    assert cli("cache", "list", cache="off").stdout.strip() == "the build cache is off (BRIAN2LEARN_BUILD_CACHE=off)"


@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_cache_variable_is_an_error(value):
    result = cli("cache", "list", cache=value)
    assert result.returncode == 2 and "BRIAN2LEARN_BUILD_CACHE is empty" in result.stderr


def test_scratch_goes_where_asked_and_directories_of_dead_processes_are_removed(tmp_path, monkeypatch):
    from brian2learn.simulation import devices

    monkeypatch.setenv(devices.SCRATCH_ENV, "off")
    assert devices.scratch_root() is None
    monkeypatch.setenv(devices.SCRATCH_ENV, str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="BRIAN2LEARN_SCRATCH=.* must be a writable directory or 'off'"):
        devices.scratch_root()
    monkeypatch.setenv(devices.SCRATCH_ENV, str(tmp_path))
    assert devices.scratch_root() == str(tmp_path)
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True)
    dead = tmp_path / f"{devices._SCRATCH_PREFIX}{int(finished.stdout)}_x"
    living = tmp_path / f"{devices._SCRATCH_PREFIX}{os.getpid()}_y"
    dead.mkdir()
    living.mkdir()
    made = devices._make_scratch(str(tmp_path))
    assert not dead.exists() and living.exists() and os.path.basename(made).startswith(
        f"{devices._SCRATCH_PREFIX}{os.getpid()}_")
    with DeviceRunner(DrivenUnits, directory=str(tmp_path / "run")) as runner:
        runner.run()
        assert os.path.dirname(runner.scratch_directory) == str(tmp_path)
        scratch = runner.scratch_directory
    assert not os.path.exists(scratch)


def test_a_uniform_array_goes_on_the_command_line_with_the_same_effect(built, tmp_path):
    # all six weights 0.6, by hand: target 0 gets 0.6 at 1 ms and 0.6 e^-0.1 + 0.6 = 1.14 at 2 ms (spike,
    # seen at 2.1 ms), the same at 6 and 7 ms; target 1 at 3 and 4 ms; target 2 as target 0
    with DeviceRunner(DrivenUnits, directory=str(tmp_path / "run"), cache=copied_cache(built, tmp_path)) as runner:
        assert spikes_with(runner, np.full(6, 0.6)) == ([0, 2, 1, 0, 2], [2.1, 2.1, 4.1, 7.1, 7.1])
        assert not os.path.exists(os.path.join(runner.scratch_directory, "run_args"))  # no file was written
        assert spikes_with(runner, WEIGHTS[0]) == built[1][0]  # and an array still goes by file
