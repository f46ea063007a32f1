"""Tables of a run as Parquet files: one naming and indexing convention, and a reader for older files.

Every Parquet table brian2learn writes follows *table schema* :data:`SCHEMA_VERSION`:

Units in the names
    A column that holds a physical quantity ends with its unit: ``t_s`` (simulated time in
    seconds; brian2learn never stores milliseconds), ``rate_hz``, ``alignment_deg``; a time in
    units of a model's time constant ends with that constant (``t_decision_tau_s``: in units of
    the synaptic time constant :math:`\\tau_s`; ``period_tau``). Wall-clock durations keep the
    summary's spelling ``*_seconds``. A time-step index is ``step`` (an integer); a bare ``t``
    or ``time``, or a ``*_ms`` column, is refused.
One indexing convention
    A column named after what it counts (``trial``, ``iteration``, ``epoch``, ``step``,
    ``neuron``, ``sample``, ``replica``, ``point``) is a 0-based index: the row of ``epoch`` 0
    holds the results of the first epoch. Counts say so in their name (``trials_to_criterion``,
    ``epochs_completed``).

:func:`write_table` checks the names, stamps the schema version into the file's Parquet
metadata and writes atomically (a temporary file renamed into place, so that an interrupted run
never leaves half a table). :func:`read_table` returns a stamped file as written, and brings a
file written before the stamp existed (brian2learn up to commit 6bea6e4, schema 1) into the
current convention with :func:`upgrade_legacy_columns`. Plain ``pandas.read_parquet`` reads
every file too; it just does not upgrade old ones.
"""

import os

import numpy as np
import pandas as pd

from brian2learn.simulation.files import replace_atomically

__all__ = ["SCHEMA_VERSION", "check_column_names", "write_table", "read_table", "read_stamped",
           "table_schema_version", "upgrade_legacy_columns"]

#: Version of the table convention written by :func:`write_table` (1: files without a stamp).
SCHEMA_VERSION = 2

#: Key of the Parquet schema metadata that holds the schema version.
SCHEMA_KEY = b"brian2learn.table_schema"

_UNITLESS_TIME_NAMES = ("t", "time")

#: Index columns that schema 1 counted from 1: the TTFS trainer's ``epoch`` and the
#: reservoir spectrum's ``component``.
_ONE_BASED_IN_SCHEMA_1 = ("epoch", "component")


def check_column_names(columns, name="table"):
    """Raise ValueError if a column name breaks the unit convention of the module docstring.

    Parameters
    ----------
    columns : iterable of str
        Column names.
    name : str
        What the columns belong to, for the message.
    """
    for column in columns:
        if not isinstance(column, str):
            raise ValueError(f"{name} has a column named {column!r}; column names must be strings")
        if column in _UNITLESS_TIME_NAMES:
            raise ValueError(f"{name} has a column {column!r} without a unit: name a time in seconds 't_s' "
                             f"or a time-step index 'step'")
        if column.endswith("_ms"):
            raise ValueError(f"{name} has the column {column!r}: tables store times in seconds "
                             f"('{column[:-3]}_s')")


def write_table(frame, path, check_names=True):
    """Write ``frame`` to the Parquet file ``path`` (pyarrow, no index), stamped with the schema.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table. Its index is not written.
    path : str or os.PathLike
        Destination; written under a temporary name first and renamed into place
        (:func:`~brian2learn.simulation.files.replace_atomically`).
    check_names : bool
        Check the names against the convention (:func:`check_column_names`). Off only for
        tables whose columns mirror other names (the sweep table mirrors summary keys).

    Returns
    -------
    str
        The path written.
    """
    import pyarrow as pa

    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
    path = os.fspath(path)
    if check_names:
        check_column_names(frame.columns, os.path.basename(path))
    table = pa.Table.from_pandas(frame.reset_index(drop=True), preserve_index=False)
    _write_stamped(table, path)
    return path


def _write_stamped(table, path):
    """Write a pyarrow Table with the schema stamp, atomically."""
    import pyarrow.parquet as pq

    metadata = dict(table.schema.metadata or {})
    metadata[SCHEMA_KEY] = str(SCHEMA_VERSION).encode("ascii")
    with replace_atomically(path) as tmp:
        pq.write_table(table.replace_schema_metadata(metadata), tmp)


def table_schema_version(metadata):
    """The schema version stamped in Parquet schema ``metadata`` (a dict of bytes), 1 if none."""
    value = (metadata or {}).get(SCHEMA_KEY)
    if value is None:
        return 1
    try:
        return int(value.decode("ascii"))
    except ValueError:
        raise ValueError(f"unreadable table schema stamp {value!r}") from None


def upgrade_legacy_columns(frame):
    """Bring a table written under schema 1 into the current convention.

    Schema 1 differed in two ways: a time column was a bare ``t``, in seconds when it held
    floats and a time-step index when it held integers; and two indices counted from 1,
    ``epoch`` (written only by the time-to-first-spike trainer) and ``component`` (the
    reservoir spectrum of perturbation-reservoir). So ``t`` becomes ``t_s`` (floats) or
    ``step`` (integers), and ``epoch`` and ``component`` are shifted down by one.

    Parameters
    ----------
    frame : pandas.DataFrame
        A table as read from a schema-1 file.

    Returns
    -------
    pandas.DataFrame
        A new frame (``frame`` is not modified).
    """
    out = frame.copy()
    if "t" in out.columns:
        integer = pd.api.types.is_integer_dtype(out["t"].dtype)
        target = "step" if integer else "t_s"
        if target in out.columns:
            raise ValueError(f"a schema-1 table cannot have both 't' and {target!r}")
        out = out.rename(columns={"t": target})
    for column in _ONE_BASED_IN_SCHEMA_1:
        if column in out.columns:
            if len(out) and np.min(out[column]) < 1:
                raise ValueError(f"a schema-1 table counts {column!r} from 1, this one has a value below 1")
            out[column] = out[column] - 1
    return out


def read_table(path):
    """Read a Parquet table of a run in the current convention.

    Parameters
    ----------
    path : str or os.PathLike
        Parquet file, written by :func:`write_table` or by brian2learn before schema stamps.

    Returns
    -------
    pandas.DataFrame
        The table; a schema-1 file is upgraded by :func:`upgrade_legacy_columns`.

    Raises
    ------
    ValueError
        If the file was written by a newer schema than this version reads.
    """
    table, version = read_stamped(path)
    frame = table.to_pandas()
    return upgrade_legacy_columns(frame) if version == 1 else frame


def read_stamped(path):
    """The pyarrow Table of a Parquet file and its schema version; a ValueError for a newer schema."""
    import pyarrow.parquet as pq

    table = pq.read_table(os.fspath(path))
    version = table_schema_version(table.schema.metadata)
    if version > SCHEMA_VERSION:
        raise ValueError(f"{os.fspath(path)} was written with table schema {version}; this brian2learn reads "
                         f"up to {SCHEMA_VERSION}: upgrade brian2learn")
    return table, version
