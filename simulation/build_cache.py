"""A cache of compiled ``cpp_standalone`` projects shared by every run on the machine.

A fresh C++ build takes 10-30 s; the same model built again gives the same generated project (Brian2's
code generation is deterministic), so the compiled binary of the first build serves every later run.
:class:`DeviceRunner <brian2learn.simulation.devices.DeviceRunner>` generates its project into a
*staging* directory inside the cache, hashes what it generated (every source, header, static array and
the makefile, which holds the compiler flags, the OpenMP thread count and the paths of the Brian2
installation), and

- if an entry with that hash exists, runs its binary and deletes the staging directory;
- otherwise compiles the staging directory and renames it to the entry, complete or not at all.

Every run writes its results (and the arrays passed by ``run_args``) into a directory of its own, so
concurrent processes share an entry safely. Each entry has a lock file (``flock``, released by the
operating system when a process dies, so a killed run never leaves a stale lock): a process compiling
an entry holds it exclusively, and a second process wanting the same model waits for the first build
instead of compiling it again; a process using an entry holds it shared until its runner closes, so
:meth:`BuildCache.clear` skips entries in use.

The cache lives in ``$BRIAN2LEARN_BUILD_CACHE`` if set, else ``$XDG_CACHE_HOME/brian2learn/builds``
(``~/.cache/brian2learn/builds``); ``BRIAN2LEARN_BUILD_CACHE=off`` builds every runner in its own
directory as before. ``brian2learn cache list`` and ``brian2learn cache clear`` show and empty it.
"""

import contextlib
import dataclasses
import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import time

__all__ = ["BuildCache", "CachedProject", "cache_root", "canonical_main", "project_key"]

#: Environment variable naming the cache directory (``off`` disables the cache).
CACHE_VARIABLE = "BRIAN2LEARN_BUILD_CACHE"
#: File in an entry describing it; an entry is complete exactly when it holds this file.
ENTRY_FILE = "brian2learn-build.json"
_STAGING_PREFIX = ".staging-"
_LOCK_SUFFIX = ".lock"
#: What the key leaves out: what a build or a run writes, not what is generated.
_NOT_HASHED_DIRECTORIES = ("results",)
_NOT_HASHED_SUFFIXES = (".o", ".d", ".gch", ".log", ".txt")


def cache_root(environ=None):
    """The cache directory, or ``None`` when ``BRIAN2LEARN_BUILD_CACHE=off``."""
    environ = os.environ if environ is None else environ
    value = environ.get(CACHE_VARIABLE)
    if value is not None:
        if value.strip().lower() in ("off", "0", "no", "false"):
            return None
        if not value.strip():
            raise ValueError(f"{CACHE_VARIABLE} is empty; give a directory or 'off'")
        return os.path.abspath(os.path.expanduser(value))
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "brian2learn", "builds")


#: Statements Brian2 writes in the order of a Python set (hash-randomised per process), each independent
#: of the others in its run of consecutive lines: a constant stored into one array element (the resets
#: of the clocks), and a clock added to a network without code (its position does not matter).
_CONSTANT_STORE = re.compile(r"^\s*(_array_\w+\[0\]) = [-+0-9.eE]+;$")
_CLOCK_WITHOUT_CODE = re.compile(r"^\s*\w+\.add\(&\w+, NULL\);$")


def canonical_main(text):
    """``main.cpp`` with each run of set-ordered independent statements sorted (see the patterns above).

    A run of constant stores is sorted only if no element is stored twice with different values,
    so the program's effect is unchanged. With it, one model generates the same project in every
    process, which the cache key needs.
    """
    lines = text.split("\n")
    out, start = [], 0
    while start < len(lines):
        for pattern in (_CONSTANT_STORE, _CLOCK_WITHOUT_CODE):
            end = start
            while end < len(lines) and pattern.match(lines[end]):
                end += 1
            if end > start:
                run = lines[start:end]
                if pattern is _CONSTANT_STORE:
                    values = {}
                    for line in run:
                        values.setdefault(pattern.match(line).group(1), set()).add(line.strip())
                    if any(len(stored) > 1 for stored in values.values()):
                        out.extend(run)
                        start = end
                        break
                out.extend(sorted(run))
                start = end
                break
        else:
            out.append(lines[start])
            start += 1
    return "\n".join(out)


def canonicalise_project(directory):
    """Rewrite the generated ``main.cpp`` of ``directory`` with :func:`canonical_main`."""
    path = os.path.join(directory, "main.cpp")
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        canonical = canonical_main(text)
        if canonical != text:
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(canonical)


def project_key(directory):
    """SHA-256 of a generated project: every file's path relative to ``directory`` and its bytes.

    Results and compiler outputs (``results/``, ``*.o``, ``*.d``, logs) are left out, so the key of a
    staging directory equals that of its compiled entry.
    """
    digest = hashlib.sha256()
    for root, directories, files in os.walk(directory):
        directories[:] = sorted(d for d in directories
                                if not (root == directory and d in _NOT_HASHED_DIRECTORIES))
        for name in sorted(files):
            relative = os.path.relpath(os.path.join(root, name), directory)
            if name.endswith(_NOT_HASHED_SUFFIXES) or relative in ("main", ENTRY_FILE):
                continue
            digest.update(relative.encode() + b"\0")
            with open(os.path.join(root, name), "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
            digest.update(b"\0")
    return digest.hexdigest()


def _directory_bytes(path):
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total


@dataclasses.dataclass
class CachedProject:
    """A compiled project in use: ``path`` to run, ``key``, whether it was ``reused``; ``release()`` when done."""

    path: str
    key: str
    reused: bool
    _lock: object = dataclasses.field(repr=False, default=None)

    def release(self):
        """Give up the shared hold on the entry (``clear`` may then delete it)."""
        if self._lock is not None:
            self._lock.close()  # closing the descriptor releases the flock
            self._lock = None


class BuildCache:
    """The compiled projects under ``root`` (default :func:`cache_root`)."""

    def __init__(self, root=None):
        self.root = os.path.abspath(root) if root is not None else cache_root()
        if self.root is None:
            raise ValueError(f"the build cache is off ({CACHE_VARIABLE}=off)")

    # -- building --------------------------------------------------------------------------------
    def staging_directory(self):
        """A new empty directory in the cache (same file system as the entries) to generate a project into."""
        os.makedirs(self.root, exist_ok=True)
        return tempfile.mkdtemp(prefix=f"{_STAGING_PREFIX}{os.getpid()}-", dir=self.root)

    def entry_path(self, key):
        return os.path.join(self.root, key)

    def use(self, staging, compile_project, description=None, announce=None):
        """The compiled entry for the project generated in ``staging``, compiled by ``compile_project(staging)`` if new.

        ``staging`` is consumed: deleted when an entry exists, renamed into the entry otherwise (and
        deleted if the compile fails). ``announce(text)`` is told when the process waits for another
        one compiling the same project. Returns a :class:`CachedProject` holding the entry shared.
        """
        canonicalise_project(staging)
        key = project_key(staging)
        entry = self.entry_path(key)
        lock = self._open_lock(key, fcntl.LOCK_SH)
        try:
            if os.path.isfile(os.path.join(entry, ENTRY_FILE)):
                return self._reuse(staging, entry, key, lock)
            fcntl.flock(lock, fcntl.LOCK_UN)
            lock.close()
            lock = self._open_lock(key, fcntl.LOCK_EX, announce=announce)
            if os.path.isfile(os.path.join(entry, ENTRY_FILE)):  # built meanwhile by the process we waited for
                fcntl.flock(lock, fcntl.LOCK_SH)
                return self._reuse(staging, entry, key, lock)
            lock.seek(0)
            lock.truncate()
            lock.write(f"{os.getpid()} {os.uname().nodename}\n")
            lock.flush()
            if os.path.isdir(entry):  # left incomplete by an older layout or a crash: build it anew
                shutil.rmtree(entry)
            start = time.perf_counter()
            compile_project(staging)
            meta = {"key": key, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    "compile_seconds": round(time.perf_counter() - start, 3), "model": description,
                    "python": sys.version.split()[0]}
            with contextlib.suppress(ImportError):
                import brian2

                meta["brian2"] = brian2.__version__
            with open(os.path.join(staging, ENTRY_FILE), "w", encoding="utf-8") as handle:
                json.dump(meta, handle, indent=1)
            os.rename(staging, entry)
            fcntl.flock(lock, fcntl.LOCK_SH)
            return CachedProject(path=entry, key=key, reused=False, _lock=lock)
        except BaseException:
            lock.close()
            shutil.rmtree(staging, ignore_errors=True)
            raise

    def _reuse(self, staging, entry, key, lock):
        shutil.rmtree(staging, ignore_errors=True)
        with contextlib.suppress(OSError):
            os.utime(os.path.join(entry, ENTRY_FILE))  # the entry's last use
        return CachedProject(path=entry, key=key, reused=True, _lock=lock)

    def _open_lock(self, key, operation, announce=None, blocking=True):
        """Open and ``flock`` the entry's lock file; retried if ``clear`` replaced the file meanwhile."""
        path = os.path.join(self.root, key + _LOCK_SUFFIX)
        while True:
            handle = open(path, "a+", encoding="utf-8")
            try:
                try:
                    fcntl.flock(handle, operation | fcntl.LOCK_NB)
                except BlockingIOError:
                    if not blocking:
                        raise
                    if announce is not None:
                        handle.seek(0)
                        holder = handle.read().strip() or "another process"
                        announce(f"waiting for process {holder} compiling the same model")
                    fcntl.flock(handle, operation)
                with contextlib.suppress(FileNotFoundError):
                    if os.fstat(handle.fileno()).st_ino == os.stat(path).st_ino:
                        return handle
            except BaseException:
                handle.close()
                raise
            handle.close()

    # -- inspecting and clearing -------------------------------------------------------------------
    def entries(self):
        """One dict per complete entry: key, model, created, last_used, size_bytes, compile_seconds, in_use."""
        found = []
        if not os.path.isdir(self.root):
            return found
        for name in sorted(os.listdir(self.root)):
            meta_path = os.path.join(self.root, name, ENTRY_FILE)
            if name.startswith(".") or not os.path.isfile(meta_path):
                continue
            try:
                with open(meta_path, encoding="utf-8") as handle:
                    meta = json.load(handle)
            except (OSError, ValueError):
                meta = {}
            found.append({"key": name, "model": meta.get("model"), "created": meta.get("created"),
                          "last_used": time.strftime("%Y-%m-%dT%H:%M:%S%z",
                                                     time.localtime(os.path.getmtime(meta_path))),
                          "compile_seconds": meta.get("compile_seconds"), "brian2": meta.get("brian2"),
                          "size_bytes": _directory_bytes(os.path.join(self.root, name)),
                          "in_use": self._in_use(name)})
        return found

    def _in_use(self, key):
        try:
            handle = self._open_lock(key, fcntl.LOCK_EX, blocking=False)
        except BlockingIOError:
            return True
        handle.close()
        return False

    def clear(self, older_than_days=None):
        """Delete the entries not in use (only those unused for ``older_than_days`` if given) and leftovers.

        Leftovers are staging directories of processes that no longer exist and incomplete entries.
        Returns ``(removed, kept_in_use)``: lists of keys.
        """
        if older_than_days is not None and not older_than_days >= 0:
            raise ValueError(f"'older_than_days' must be >= 0, got {older_than_days!r}")
        removed, in_use = [], []
        if not os.path.isdir(self.root):
            return removed, in_use
        cutoff = None if older_than_days is None else time.time() - 86400.0 * older_than_days
        for name in sorted(os.listdir(self.root)):
            path = os.path.join(self.root, name)
            if name.startswith(_STAGING_PREFIX):
                if not _staging_owner_alive(name):
                    shutil.rmtree(path, ignore_errors=True)
                continue
            if name.endswith(_LOCK_SUFFIX) or not os.path.isdir(path):
                continue
            meta_path = os.path.join(path, ENTRY_FILE)
            if cutoff is not None and os.path.isfile(meta_path) and os.path.getmtime(meta_path) > cutoff:
                continue
            try:
                handle = self._open_lock(name, fcntl.LOCK_EX, blocking=False)
            except BlockingIOError:
                in_use.append(name)
                continue
            try:
                shutil.rmtree(path)
                os.remove(os.path.join(self.root, name + _LOCK_SUFFIX))
                removed.append(name)
            finally:
                handle.close()
        return removed, in_use


def _staging_owner_alive(name):
    """Whether the process that made staging directory ``name`` (``.staging-PID-...``) still runs here."""
    try:
        pid = int(name[len(_STAGING_PREFIX):].split("-", 1)[0])
    except ValueError:
        return False
    try:
        os.kill(pid, 0)
    except OSError as error:
        return error.errno == errno.EPERM
    return True
