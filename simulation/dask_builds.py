"""Dask worker setup and the one build a worker process keeps between tasks (compile reuse).

A ``cpp_standalone`` build takes 10-25 s, a re-run of the binary with new ``run_args`` tens of
ms. A worker process can keep one build alive between tasks: code that wraps the construction of
its :class:`~brian2learn.simulation.devices.DeviceRunner` (or trainer) in :func:`reusable_build`
with a *key* that names its structure gets, inside a task run under :func:`point_scope`, the
object that the previous task on the same worker built for the same key, and passes its values
by ``run_args``. Outside :func:`point_scope` :func:`reusable_build` builds and closes as usual.
Only one build per worker process is kept, because Brian2's standalone device holds one project
per process: a task with another key replaces it.

This is the engine's part of sweeps (:mod:`brian2learn.studies.sweep`) and data-parallel
training (:mod:`brian2learn.training.data_parallel`); it imports nothing of brian2learn and no Dask
(the worker plugin and :func:`~brian2learn.simulation.dask_plugin.prepare_client` are in
:mod:`brian2learn.simulation.dask_plugin`).
"""

import contextlib
import threading


class _WorkerBuilds:
    """The one build a worker process keeps between tasks, with counts of builds and reuses."""

    def __init__(self):
        self.key = None
        self.obj = None
        self.builds = 0
        self.reuses = 0
        self.touched = False

    def get(self, key, factory):
        self.touched = True
        if self.obj is not None and self.key == key:
            self.reuses += 1
            return self.obj, True
        self.drop()
        obj = factory()
        self.key, self.obj = key, obj
        self.builds += 1
        return obj, False

    def drop(self):
        obj, self.obj, self.key = self.obj, None, None
        if obj is not None and hasattr(obj, "close"):
            with contextlib.suppress(Exception):
                obj.close()


_BUILDS = _WorkerBuilds()
_POINT = threading.local()  # .active: inside a sweep point; .reused: what reusable_build did
#: Held while a task uses Brian2 in a worker process (Brian2's device is global to a process).
WORKER_LOCK = threading.Lock()


def build_key(*parts):
    """A key for :func:`worker_build` from the structural parameters ``parts`` (compared by ``repr``)."""
    return repr(parts)


def worker_build(key, factory):
    """The object ``factory()`` built for ``key`` in this process, kept until another key is asked for.

    Parameters
    ----------
    key : str
        Names the structure of the build (see :func:`build_key`).
    factory : callable
        ``factory()`` returns a new object; its ``close()`` is called when it is replaced.

    Returns
    -------
    (object, bool)
        The object and whether it was reused.
    """
    if not isinstance(key, str):
        raise ValueError(f"'key' must be a string (see build_key), got {type(key).__name__}")
    return _BUILDS.get(key, factory)


def release_worker_build():
    """Close the build this process keeps (see :func:`worker_build`); run it on workers with ``client.run``."""
    _BUILDS.drop()


@contextlib.contextmanager
def reusable_build(key, factory):
    """For studies: ``with reusable_build(key, factory) as runner:`` reuses a worker's build in a sweep.

    Inside a sweep point the object comes from :func:`worker_build` and stays open after the
    block (the next point with the same ``key`` reuses it); anywhere else it is built by
    ``factory()`` and closed at the end of the block. ``key`` must name every structural
    parameter (module docstring), e.g. ``build_key("rflo", config, trials_per_run, device)``.
    """
    if not getattr(_POINT, "active", False):
        obj = factory()
        try:
            yield obj
        finally:
            obj.close()
        return
    obj, reused = worker_build(key, factory)
    previous = getattr(_POINT, "reused", None)
    _POINT.reused = reused if previous is None else (previous and reused)
    yield obj


@contextlib.contextmanager
def point_scope():
    """Run a task (one sweep point) inside: :func:`reusable_build` keeps its builds for the next task.

    Yields an object whose ``reused`` attribute says, after the block, whether every
    :func:`reusable_build` inside reused a kept build (``None`` when none was asked for). A task
    that asked for no kept build may have replaced Brian2's device: the kept build is closed then.
    """
    _POINT.active, _POINT.reused = True, None
    _BUILDS.touched = False
    outcome = _PointOutcome()
    try:
        yield outcome
    finally:
        _POINT.active = False
        outcome.reused = _POINT.reused
        if not _BUILDS.touched:
            _BUILDS.drop()  # this task may have replaced Brian2's device: a kept build is stale


class _PointOutcome:
    reused = None
