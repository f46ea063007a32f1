"""Fixtures shared by several test modules."""

import os

import brian2 as b2
import pytest

from brian2learn.simulation.build_cache import CACHE_VARIABLE


@pytest.fixture(scope="session", autouse=True)
def session_build_cache(tmp_path_factory):
    """One build cache for the test session (also for the subprocesses it starts), not the user's.

    With pytest-xdist (``-n 2``) the workers share it: the cache is safe for concurrent processes, and
    a model one worker compiled serves the other.
    """
    previous = os.environ.get(CACHE_VARIABLE)
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the run's directory, above each worker's own
    cache = base / "build_cache"
    cache.mkdir(exist_ok=True)
    os.environ[CACHE_VARIABLE] = str(cache)
    yield os.environ[CACHE_VARIABLE]
    if previous is None:
        del os.environ[CACHE_VARIABLE]
    else:
        os.environ[CACHE_VARIABLE] = previous


@pytest.fixture
def numpy_runtime():
    """Runtime device with numpy code generation (no compilation for tiny networks)."""
    b2.set_device("runtime")
    previous = b2.prefs.codegen.target
    b2.prefs.codegen.target = "numpy"
    yield
    b2.prefs.codegen.target = previous


def _energy_entries(energy):
    """Every energy_summary dict inside a summary's ``energy`` entry."""
    if isinstance(energy, dict) and "spike_count" in energy:
        return [energy]
    if isinstance(energy, dict):
        return [entry for value in energy.values() for entry in _energy_entries(value)]
    return []


@pytest.fixture
def summary_vocabulary():
    """``check(summary, spiking)``: the results vocabulary every study's summary carries.

    ``status``, ``options`` (without the run directory) and ``energy``: ``not_spiking`` for rate
    networks, else energy summaries whose numbers are consistent with each other (the most neurons
    active in one step lie between 1 and the spike count; synaptic operations are not negative; the
    mean fraction active lies in [0, 1]).
    """
    def check(summary, spiking):
        assert summary["status"] in ("completed", "diverged")
        assert isinstance(summary["options"], dict) and "seed" in summary["options"]
        assert "out" not in summary["options"]
        energy = summary["energy"]
        if not spiking:
            assert isinstance(energy["not_spiking"], str) and energy["not_spiking"]
            return
        entries = _energy_entries(energy)
        assert entries, f"no energy summary in {energy!r}"
        for entry in entries:
            count, complexity = entry["spike_count"], entry["energy_complexity"]
            assert count >= 0 and entry["synaptic_operations"] >= 0
            assert (complexity == 0) if count == 0 else 1 <= complexity <= count
            if "mean_fraction_active" in entry:
                assert 0.0 <= entry["mean_fraction_active"] <= 1.0
            if "n_neurons" in entry:  # never more neurons active in one step than there are
                assert complexity <= entry["n_neurons"]
        assert any(entry["spike_count"] > 0 for entry in entries), "the networks must spike"

    return check
