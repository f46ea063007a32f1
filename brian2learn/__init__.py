"""brian2learn: learning in recurrent spiking networks on top of the Brian2 simulator.

Subpackages: :mod:`brian2learn.models` (neuron and synapse equations),
:mod:`brian2learn.plasticity` (learning rules as Brian2 code), :mod:`brian2learn.tasks`
(inputs and targets), :mod:`brian2learn.simulation` (devices, compile once and run many),
:mod:`brian2learn.analysis` (spikes as DataFrames, rates, energy) and
:mod:`brian2learn.studies` (published experiments, ``brian2learn run NAME``).
"""

__version__ = "0.1.0"
