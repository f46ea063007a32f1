"""The Dask worker plugin that readies a worker process for Brian2, and :func:`prepare_client`.

Kept apart from :mod:`brian2learn.simulation.dask_builds`, which imports no Dask, so that modules
using :func:`~brian2learn.simulation.dask_builds.reusable_build` start without importing Dask.
"""

from distributed import WorkerPlugin
from distributed.core import Status

from brian2learn.simulation.dask_builds import _BUILDS


class Brian2WorkerSetup(WorkerPlugin):
    """Import Brian2 in a worker's main thread when the worker starts.

    Brian2 installs a SIGINT handler when it is imported, which Python allows only in the main
    thread; Dask runs tasks in a thread pool, so a first import inside a task fails. Plugins run
    their ``setup`` in the worker's event loop, the main thread, also on restarted workers. When
    the worker closes, ``teardown`` closes the build it kept
    (:func:`~brian2learn.simulation.dask_builds.worker_build`) and removes Brian2's temporary log
    files as Brian2 would at exit.
    """

    name = "brian2learn-brian2-setup"

    def setup(self, worker):
        import brian2  # noqa: F401

    def teardown(self, worker):
        # Dask also tears a plugin down when one of the same name is registered again (every
        # sweep or data-parallel trainer registers it); the worker lives on then, and closing
        # Brian2's logging would break its next compilation ("I/O operation on closed file").
        if worker.status not in (Status.closing, Status.closing_gracefully, Status.closed, Status.failed):
            return
        _BUILDS.drop()  # close the kept build (and delete its temporary project directory)
        # What Brian2 does at a normal exit (delete its debug log and script copy unless an error
        # occurred): a nanny may kill a worker that is slow to exit, and atexit never runs then.
        from brian2.utils.logger import clean_up_logging

        clean_up_logging()


def prepare_client(client):
    """Register :class:`Brian2WorkerSetup` on ``client``'s cluster, unless it is registered already."""
    name = Brian2WorkerSetup.name  # a plain string: the scheduler need not import brian2learn
    registered = client.run_on_scheduler(lambda dask_scheduler, name=name: name in dask_scheduler.worker_plugins)
    if not registered:
        client.register_plugin(Brian2WorkerSetup(), name=Brian2WorkerSetup.name)
    return client
