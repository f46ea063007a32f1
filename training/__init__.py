"""Training: the run loop of every rule, data-parallel training and trial samplers.

The floor above :mod:`brian2learn.plasticity` (rules and the networks that carry them) and below
:mod:`brian2learn.studies`: it may import the engine (:mod:`brian2learn.simulation`),
:mod:`brian2learn.analysis`, :mod:`brian2learn.models`, :mod:`brian2learn.tasks` and
:mod:`brian2learn.plasticity`, never a study. See ``docs/architecture.md``.
"""
