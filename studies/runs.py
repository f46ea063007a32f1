"""A finished run read back from its directory: summary, tables and trained parameters.

``brian2learn.load_run(path)`` (this module's :func:`load_run`, reached lazily so that
``import brian2learn`` stays fast) gives a :class:`Run`:

- ``summary``: the parsed ``summary.json``;
- ``tables``: every Parquet table by file stem, in the current table convention
  (:func:`~brian2learn.analysis.tables.read_table`; spike frames by
  :func:`~brian2learn.analysis.spikes.load_spikes`), also for runs written before it;
- ``parameters``: every ``.npz`` of trained parameters by file stem, as ``(arrays, metadata)``
  (:func:`~brian2learn.simulation.files.load_parameters`: named weights, with the study, method,
  options and model parameters that rebuild the network in the metadata);
- ``figures``: the PNG files.
"""

import dataclasses
import json
import os

import pyarrow.parquet as pq

from brian2learn.analysis.spikes import SPIKE_COLUMNS, load_spikes
from brian2learn.analysis.tables import read_table
from brian2learn.simulation.files import load_parameters

__all__ = ["Run", "load_run"]


@dataclasses.dataclass
class Run:
    """A run directory read back: see the module docstring."""

    path: str
    summary: dict
    tables: dict
    parameters: dict
    figures: list

    @property
    def study(self):
        """The study's name (``summary['study']``)."""
        return self.summary.get("study")

    @property
    def status(self):
        """``completed``, ``interrupted``, ``failed``, ``diverged``, ... (``summary['status']``)."""
        return self.summary.get("status")


def _is_spike_file(path):
    names = set(pq.read_schema(path).names)
    return set(SPIKE_COLUMNS) <= names or {"neuron", "t", "trial", "group"} <= names


def load_run(path):
    """Read the run directory ``path`` (see the module docstring).

    Raises
    ------
    ValueError
        If ``path`` is not a directory or holds no ``summary.json``.
    """
    path = os.fspath(path)
    summary_path = os.path.join(path, "summary.json")
    if not os.path.isdir(path):
        raise ValueError(f"'{path}' is not a run directory")
    if not os.path.isfile(summary_path):
        raise ValueError(f"'{path}' holds no summary.json: not a run directory of brian2learn")
    with open(summary_path, encoding="utf-8") as handle:
        summary = json.load(handle)
    tables, parameters, figures = {}, {}, []
    for name in sorted(os.listdir(path)):
        file_path = os.path.join(path, name)
        stem, extension = os.path.splitext(name)
        if name.startswith(".") or not os.path.isfile(file_path):
            continue
        if extension == ".parquet":
            tables[stem] = load_spikes(file_path) if _is_spike_file(file_path) else read_table(file_path)
        elif extension == ".npz":
            parameters[stem] = load_parameters(file_path)
        elif extension == ".png":
            figures.append(name)
    return Run(path=os.path.abspath(path), summary=summary, tables=tables, parameters=parameters, figures=figures)
