"""Stopping a run by a signal: SIGINT (Ctrl-C) and SIGTERM raise :class:`RunInterrupted` at once.

Brian2 installs its own SIGINT handler, which during ``Network.run`` only asks the network to stop
after the current step and lets the program go on; in standalone mode that leaves a killed binary
whose results are read anyway. Inside :func:`interruptible`, both signals raise
:class:`RunInterrupted` in the main thread instead, whatever runs: Python code, a Brian2 network,
or the compiled binary (``subprocess.call``, which Brian2 uses to start it, kills the binary when
its wait is interrupted). A C++ compile killed by the signal (Brian2 reports it as "Project
compilation failed (error code: 2)", the wait status of a process killed by signal 2) is turned
into :class:`RunInterrupted` by :func:`interrupted_compile`.
"""

import contextlib
import signal
import threading

__all__ = ["RunInterrupted", "interruptible", "interrupted_compile"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class RunInterrupted(KeyboardInterrupt):
    """A run stopped by ``signum``; ``exit_status`` is the shell's convention, 128 + signum (130, 143)."""

    def __init__(self, signum):
        self.signum = int(signum)
        self.signal_name = signal.Signals(self.signum).name
        self.exit_status = 128 + self.signum
        super().__init__(f"interrupted by {self.signal_name}")


def _raise_interrupted(signum, frame):
    raise RunInterrupted(signum)


@contextlib.contextmanager
def interruptible():
    """Within the block, SIGINT and SIGTERM raise :class:`RunInterrupted`; the handlers before are restored after.

    Outside the main thread (where Python cannot set handlers) the block runs unchanged.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.getsignal(signum) for signum in _SIGNALS}
    for signum in _SIGNALS:
        signal.signal(signum, _raise_interrupted)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)


def interrupted_compile(error):
    """The :class:`RunInterrupted` that a Brian2 compile error stands for, or ``None``.

    ``os.system`` returns the raw wait status: a make killed by SIGINT or SIGTERM gives 2 or 15.
    """
    import re

    match = re.search(r"compilation failed \(error code: (\d+)\)", str(error))
    if match is None:
        return None
    status = int(match.group(1))
    if status & 0x7F in _SIGNALS and status >> 8 == 0:
        return RunInterrupted(status & 0x7F)
    return None
