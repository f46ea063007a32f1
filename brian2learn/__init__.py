"""brian2learn: learning in recurrent spiking networks on top of the Brian2 simulator.

Subpackages: :mod:`brian2learn.models` (neuron and synapse equations),
:mod:`brian2learn.plasticity` (learning rules as Brian2 code), :mod:`brian2learn.tasks`
(inputs and targets), :mod:`brian2learn.simulation` (devices, compile once and run many),
:mod:`brian2learn.analysis` (spikes as DataFrames, rates, energy) and
:mod:`brian2learn.studies` (published experiments, ``brian2learn run NAME``).
``brian2learn.load_run(path)`` reads a run directory back (:mod:`brian2learn.studies.runs`).
"""

__version__ = "0.1.0"

__all__ = ["load_run"]


def __getattr__(name):
    # load_run is imported on first use, so that `import brian2learn` imports no simulator
    if name == "load_run":
        from brian2learn.studies.runs import load_run

        return load_run
    raise AttributeError(f"module 'brian2learn' has no attribute {name!r}")
