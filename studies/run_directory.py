"""The run directory of a study: its default name, a lock per directory, and no silent overwrite.

A study writes into one directory (``--out``, default :func:`default_run_dir`). While it runs it
holds the directory's lock, the file :data:`LOCK_NAME` created exclusively (``O_CREAT | O_EXCL``,
atomic on POSIX file systems) holding the process id, host and start time of its holder:

- a second run into the same directory stops with a one-line error naming the holder's process;
- a lock whose process is gone (same host, no such process, or a process of that id started after
  the lock was taken: the id was reused) is stale: it is taken over with a warning on stderr;
- a directory that already holds a run (a ``summary.json``) is not written over unless
  ``overwrite`` is set (``--overwrite``); then the old ``summary.json`` is removed first, so that
  the directory never passes for the earlier run while the new one writes into it.

The lock is removed when the run ends, also when it fails or is interrupted. A study run through
:func:`in_run_directory` that stops without writing its ``summary.json`` (interrupted by
SIGINT/SIGTERM, or failed) still leaves one: ``status`` ``interrupted`` or ``failed``, the signal
or error, the options, and the files it had written.
"""

import contextlib
import datetime
import functools
import hashlib
import json
import os
import socket
import sys
import time

from brian2learn.studies.common import StudyError, write_summary

__all__ = ["LOCK_NAME", "default_run_dir", "claim_run_dir", "lock_holder", "in_run_directory"]

#: Name of the lock file inside a run directory.
LOCK_NAME = ".brian2learn.lock"

#: Options that say where and how a run is written, not what it computes: left out of the default name.
_PLACEMENT_OPTIONS = ("seed", "quick", "out", "overwrite", "resume", "iterations_per_run")


def default_run_dir(name, options, root="runs"):
    """``root/NAME-seedN``, with ``-quick`` for the short protocol and a hash of every other option set
    away from its default, so that runs with different options never share a default directory.

    Parameters
    ----------
    name : str
        The study's name.
    options : StudyOptions
        The study's options (a dataclass instance).
    root : str
        Parent directory.

    Returns
    -------
    str
        E.g. ``runs/eprop-pattern-seed1-quick`` or ``runs/eprop-pattern-seed1-quick-3f2a9c1e``.
    """
    changed = options.changed(ignore=_PLACEMENT_OPTIONS)
    label = f"{name}-seed{options.seed}" + ("-quick" if options.quick else "")
    if changed:
        text = json.dumps(changed, sort_keys=True, default=str)
        label += "-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
    return os.path.join(root, label)


def _process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    return True


def _started_after(pid, started):
    """Whether process ``pid`` started after the time ``started`` (the lock's "%Y-%m-%dT%H:%M:%S%z"): then it is
    another process that reuses the lock holder's id. Read from Linux's /proc; False where that cannot be told."""
    try:
        lock_time = datetime.datetime.strptime(started, "%Y-%m-%dT%H:%M:%S%z").timestamp()
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            ticks = int(handle.read().rsplit(")", 1)[1].split()[19])  # field 22, starttime, after the name
        with open("/proc/stat", encoding="utf-8") as handle:
            boot = next(int(line.split()[1]) for line in handle if line.startswith("btime "))
        return boot + ticks / os.sysconf("SC_CLK_TCK") > lock_time + 2.0  # the lock's time has whole seconds
    except (OSError, ValueError, TypeError, IndexError, StopIteration):
        return False


def lock_holder(run_dir):
    """The holder recorded in ``run_dir``'s lock (dict with pid, host, started), or None if unlocked."""
    try:
        with open(os.path.join(run_dir, LOCK_NAME), encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}  # being written, or damaged: held by someone unknown


def _take_lock(run_dir):
    path = os.path.join(run_dir, LOCK_NAME)
    record = {"pid": os.getpid(), "host": socket.gethostname(),
              "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "command": " ".join(sys.argv)}
    for _ in range(2):
        try:
            descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = lock_holder(run_dir)
            if holder is None:
                continue  # released meanwhile: try again
            pid, host = holder.get("pid"), holder.get("host")
            local = isinstance(pid, int) and host == socket.gethostname()
            gone = local and not _process_alive(pid)
            reused = local and not gone and _started_after(pid, holder.get("started"))
            if gone or reused:
                why = "gone" if gone else "gone; its id now belongs to a later process"
                print(f"brian2learn: warning: taking over the stale lock of process {pid} ({why}) in {run_dir}",
                      file=sys.stderr, flush=True)
                with contextlib.suppress(FileNotFoundError):
                    os.remove(path)
                continue
            who = f"process {pid} on {host}" if pid is not None else "another process"
            since = f" since {holder['started']}" if holder.get("started") else ""
            raise StudyError(f"the run directory '{run_dir}' is in use by {who}{since}; wait for it to end "
                             f"or choose another --out") from None
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(record, handle)
        return path
    raise StudyError(f"cannot take the lock of the run directory '{run_dir}'")


@contextlib.contextmanager
def claim_run_dir(path, overwrite=False, resume_options=None):
    """Create the run directory ``path``, hold its lock for the block and yield its absolute path.

    Parameters
    ----------
    path : str
        The directory (created with its parents).
    overwrite : bool
        Allow writing into a directory that already holds a run (a ``summary.json``).
    resume_options : dict or None
        To continue the run in ``path``: the options of the run now (``StudyOptions.as_dict()``); the
        directory must hold an unfinished run (status ``interrupted`` or ``failed``) made with the same
        options.

    Raises
    ------
    StudyError
        If the directory cannot be created, is locked by a live process, holds a run and neither
        ``overwrite`` nor a matching resume is asked for, or there is nothing to resume.
    """
    if not isinstance(path, str) or not path.strip():
        raise StudyError(f"the run directory must be a non-empty path, got {path!r}")
    path = os.path.abspath(path)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as error:
        raise StudyError(f"cannot create the run directory '{path}': {error.strerror}") from error
    lock = _take_lock(path)
    try:
        summary = os.path.join(path, "summary.json")
        if resume_options is not None:
            _check_resumable(path, summary, resume_options)
        elif os.path.exists(summary) and not overwrite:
            status = _status_of(summary)
            resume = " or --resume to continue it" if status in RESUMABLE_STATUS else ""
            raise StudyError(f"'{path}' already holds a run (summary.json, status {status}); pass --overwrite "
                             f"to replace it{resume}, or choose another --out")
        if os.path.exists(summary):
            os.remove(summary)
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(lock)


#: Statuses of a run that ``--resume`` continues.
RESUMABLE_STATUS = ("interrupted", "failed")


def _check_resumable(path, summary_path, options):
    if not os.path.exists(summary_path):
        raise StudyError(f"nothing to resume in '{path}': it holds no summary.json of an interrupted run")
    with open(summary_path, encoding="utf-8") as handle:
        earlier = json.load(handle)
    status = earlier.get("status")
    if status not in RESUMABLE_STATUS:
        raise StudyError(f"nothing to resume in '{path}': its run is {status}; pass --overwrite to run it again")
    ignore = set(_PLACEMENT_OPTIONS) - {"seed", "quick"}
    before = {k: v for k, v in (earlier.get("options") or {}).items() if k not in ignore}
    now = {k: v for k, v in options.items() if k not in ignore}
    if before != now:
        different = sorted(k for k in set(before) | set(now) if before.get(k) != now.get(k))
        raise StudyError(f"the run in '{path}' was made with other options ({', '.join(different)}); resume it with "
                         f"the same options, or pass --overwrite to start again")


def _status_of(summary_path):
    try:
        with open(summary_path, encoding="utf-8") as handle:
            return json.load(handle).get("status", "unknown")
    except (OSError, ValueError, AttributeError):
        return "unreadable"


def in_run_directory(name):
    """Decorate a study's ``body(options, run_dir)`` into its ``run(options)``.

    ``run`` claims ``options.out`` (default :func:`default_run_dir`) with :func:`claim_run_dir`
    (``options.overwrite`` allows writing over an earlier run), calls the body with the absolute
    run directory, and releases the directory when the body returns or raises.
    """
    def decorate(body):
        @functools.wraps(body)
        def run(options):
            path = options.out if options.out is not None else default_run_dir(name, options)
            resume = options.as_dict() if options.resume else None
            with claim_run_dir(path, overwrite=options.overwrite, resume_options=resume) as run_dir:
                try:
                    return body(options, run_dir)
                except BaseException as error:
                    error.run_dir = run_dir
                    if not os.path.exists(os.path.join(run_dir, "summary.json")):
                        write_summary(run_dir, unfinished_summary(name, options, run_dir, error))
                    raise
        del run.__wrapped__  # its signature is run(options)
        return run
    return decorate


def unfinished_summary(name, options, run_dir, error):
    """The summary of a run that stopped before writing its own: status, cause, options, files written."""
    interrupted = isinstance(error, KeyboardInterrupt)
    files = sorted(entry for entry in os.listdir(run_dir)
                   if entry != LOCK_NAME and os.path.isfile(os.path.join(run_dir, entry)) and ".tmp-" not in entry)
    summary = {"study": name, "status": "interrupted" if interrupted else "failed"}
    if interrupted:
        summary["signal"] = getattr(error, "signal_name", "SIGINT")
    else:
        summary["error"] = f"{type(error).__name__}: {' '.join(str(error).split())}"
    summary.update({"options": options.as_dict(), "files": files,
                    "stopped": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    return summary
