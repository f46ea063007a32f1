"""Files written whole or not at all, and trained parameters saved with what rebuilds them.

:func:`replace_atomically` gives a temporary name beside the destination; the caller writes
there and, when the block ends without an error, the file is renamed onto the destination
(``os.replace``, atomic on POSIX file systems). An error or an interruption (Ctrl-C) inside
the block removes the temporary file and leaves an earlier file at the destination as it was,
so a reader never sees half a summary, table or weight file.

:func:`save_parameters` writes named arrays (weights, feedback matrices) to an ``.npz`` together with
JSON metadata under the key :data:`METADATA_KEY`: the study, the method, its options and the model
parameters needed to rebuild the network, with units as text (``'30. * msecond'``, read back by
:func:`parse_quantity`). Trained networks and the last good weights of a diverged run use it;
:func:`load_parameters` reads it, and older weight files without metadata too.
"""

import contextlib
import os

__all__ = ["replace_atomically", "save_parameters", "load_parameters", "quantity_text", "parse_quantity",
           "restore_quantities", "checked_arrays"]


@contextlib.contextmanager
def replace_atomically(path):
    """Yield a temporary path beside ``path``, with the same extension; rename it onto ``path`` at the end.

    The extension is kept because some writers choose the format by it (``savefig``) or add one
    when it is missing (``numpy.savez`` adds ``.npz``).

    Parameters
    ----------
    path : str or os.PathLike
        Destination file.

    Yields
    ------
    str
        The temporary path to write.
    """
    path = os.fspath(path)
    directory, base = os.path.split(os.path.abspath(path))
    stem, extension = os.path.splitext(base)
    tmp = os.path.join(directory, f".{stem}.tmp-{os.getpid()}{extension}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)


# -- saved parameters --------------------------------------------------------------------------------

#: Key of the JSON metadata inside a parameter file.
METADATA_KEY = "__brian2learn__"


def _unit_text(quantity):
    """The SI unit of ``quantity`` as text (``'volt'``, ``'metre ** 2 * kilogram * ...'``), ``'1'`` if none."""
    import brian2 as b2

    return "1" if quantity.is_dimensionless else repr(b2.Quantity(1.0, dim=quantity.dim))[len("1. * "):]


def _unit(text):
    """The unit written by :func:`_unit_text`, as a Quantity of value 1 (1.0 for ``'1'``)."""
    return 1.0 if text == "1" else parse_quantity(f"1. * {text}")


def quantity_text(value, non_finite_to_none=False):
    """A Brian2 Quantity as text that :func:`parse_quantity` reads back (``'30. * msecond'``); other values
    unchanged, dicts and lists converted element by element, numpy scalars and arrays made plain.

    With ``non_finite_to_none``, a Python float that is NaN or infinite becomes ``None`` (JSON's null;
    numpy scalars and arrays keep theirs).
    """
    import brian2 as b2
    import numpy as np

    if isinstance(value, b2.Quantity):
        if np.ndim(value) == 0:
            return repr(value)
        return {"values": np.asarray(value).tolist(), "unit": _unit_text(value)}
    if isinstance(value, dict):
        return {str(key): quantity_text(item, non_finite_to_none) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [quantity_text(item, non_finite_to_none) for item in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if non_finite_to_none and isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def parse_quantity(text):
    """Read a quantity written by :func:`quantity_text` (``'30. * msecond'``, ``'1. * metre ** 2 * ...'``).

    Only numbers, Brian2's unit names and ``* / ** ( ) -`` are accepted; anything else is a ValueError.
    """
    import re

    import brian2 as b2
    from brian2.units import allunits

    if not isinstance(text, str) or not re.fullmatch(r"[\w\s.*/+\-()]+", text):
        raise ValueError(f"not a quantity written by brian2learn: {text!r}")
    names = {unit_name: getattr(allunits, unit_name) for unit_name in re.findall(r"[A-Za-z_]\w*", text)
             if isinstance(getattr(allunits, unit_name, None), b2.Unit)}
    unknown = set(re.findall(r"[A-Za-z_]\w*", text)) - set(names) - {"e", "E"}
    if unknown:
        raise ValueError(f"unknown units {sorted(unknown)} in {text!r}")
    return eval(text, {"__builtins__": {}}, names)  # noqa: S307  (checked: numbers, units and operators only)


def restore_quantities(value):
    """Undo :func:`quantity_text` in metadata: quantity texts and ``{'values', 'unit'}`` dicts become Quantities.

    Other strings (``'1-alpha'``, names) stay as they are.
    """
    import numpy as np

    if isinstance(value, dict):
        if set(value) == {"values", "unit"}:
            return np.asarray(value["values"], dtype=float) * _unit(value["unit"])
        return {key: restore_quantities(item) for key, item in value.items()}
    if isinstance(value, list):
        return [restore_quantities(item) for item in value]
    if isinstance(value, str) and " * " in value:
        try:
            return parse_quantity(value)
        except (ValueError, SyntaxError, TypeError):
            return value
    return value


def save_parameters(path, arrays, **metadata):
    """Write named arrays and their metadata to the ``.npz`` file ``path``, atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Destination (``.npz``).
    arrays : dict
        Name -> array (plain numbers, or a Brian2 Quantity: then its unit is recorded in the
        metadata's ``units`` and :func:`load_parameters` gives the Quantity back).
    **metadata
        JSON-able values (Quantities become text, see :func:`quantity_text`): e.g. ``study``,
        ``method``, ``options``, ``model`` (the parameters needed to rebuild the network), ``iteration``.
    """
    import json

    import brian2 as b2
    import numpy as np

    plain, units = {}, {}
    for name, value in arrays.items():
        if name == METADATA_KEY:
            raise ValueError(f"an array may not be called {METADATA_KEY!r}")
        if isinstance(value, b2.Quantity) and not value.is_dimensionless:
            units[name] = _unit_text(value)
        plain[name] = np.asarray(value, dtype=float) if isinstance(value, b2.Quantity) else np.asarray(value)
    meta = quantity_text(dict(metadata, units=units, format="brian2learn parameters 1"))
    with replace_atomically(path) as tmp:
        np.savez(tmp, **plain, **{METADATA_KEY: np.array(json.dumps(meta))})


def load_parameters(path):
    """The arrays and metadata of a parameter file: ``(arrays, metadata)``.

    Arrays with a recorded unit come back as Quantities; a scalar entry (a counter: ``iteration``,
    ``trial``, ``epoch``) goes into the metadata. Files written before this format (``arr_0``,
    ``arr_1``, ... or named arrays and a counter) read the same way, with only their counter as metadata.
    """
    import json

    import numpy as np

    with np.load(os.fspath(path), allow_pickle=False) as data:
        entries = {name: data[name] for name in data.files}
    metadata = json.loads(str(entries.pop(METADATA_KEY))) if METADATA_KEY in entries else {}
    # counters (iteration, trial, epoch) are 0-d entries, so that np.load(path)["iteration"] reads them too
    metadata.update({name: entries.pop(name).item() for name in list(entries) if entries[name].ndim == 0})
    arrays = {}
    for name, value in entries.items():
        unit = metadata.get("units", {}).get(name)
        arrays[name] = value * _unit(unit) if unit else value
    return arrays, metadata


def checked_arrays(values, shapes, what="parameters"):
    """Float64 copies of the named arrays ``shapes`` (name -> shape) taken from ``values``, checked.

    Raises ``ValueError`` naming the array for a missing name, a wrong shape or a non-finite value
    (``what`` names the whole set in the first message: ``'the weights lack ...'``).
    """
    import numpy as np

    checked = {}
    for name, shape in shapes.items():
        if name not in values:
            raise ValueError(f"the {what} lack '{name}'; they need {', '.join(shapes)}")
        value = np.array(values[name], dtype=float)
        if value.shape != tuple(shape):
            raise ValueError(f"'{name}' must have shape {tuple(shape)}, got {value.shape}")
        if not np.all(np.isfinite(value)):
            raise ValueError(f"'{name}' contains non-finite values")
        checked[name] = value
    return checked
