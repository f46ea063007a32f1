"""Files written whole or not at all.

:func:`replace_atomically` gives a temporary name beside the destination; the caller writes
there and, when the block ends without an error, the file is renamed onto the destination
(``os.replace``, atomic on POSIX file systems). An error or an interruption (Ctrl-C) inside
the block removes the temporary file and leaves an earlier file at the destination as it was,
so a reader never sees half a summary, table or weight file.
"""

import contextlib
import os

__all__ = ["replace_atomically"]


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
