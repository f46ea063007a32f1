"""One progress reporter for every training: a progress bar on a terminal, plain lines elsewhere.

:class:`ProgressReporter` is called as ``reporter(done, total, metrics)`` by the run loop
(:mod:`brian2learn.training.loop`) after every run of the binary. On a terminal it draws a
``tqdm`` bar with the rate and the time left; when the stream is not a terminal (a log file, a
Dask worker, CI) it prints one line per call::

    [eprop-pattern random] iteration 100/2000  loss 85.8  rate_hz 15.1  (9.4 s, 10.6 iteration/s, ETA 179 s)
"""

import sys
import time

import numpy as np

#: How the metrics of the rules are printed (others: 4 significant digits).
_FORMATS = {"rate_hz": "{:.1f}", "alignment_deg": "{:.1f}", "accuracy": "{:.3f}", "error": "{:.4g}"}


def format_metrics(metrics, fields=None):
    """``'loss 85.8  rate_hz 15.1'``: the scalar metrics named in ``fields`` (default: all scalars)."""
    names = fields if fields is not None else [name for name in metrics if name not in ("iteration", "trial",
                                                                                          "epoch")]
    parts = []
    for name in names:
        value = metrics.get(name)
        if value is None or isinstance(value, (str, bytes)) or np.ndim(value) != 0:
            continue
        parts.append(f"{name} {_FORMATS.get(name, '{:.4g}').format(float(value))}")
    return "  ".join(parts)


class ProgressReporter:
    """Progress of a training on ``stream`` (default stderr).

    Parameters
    ----------
    label : str
        Shown in front of every line, e.g. ``'eprop-pattern random'``.
    unit : str
        What is counted: ``'iteration'``, ``'trial'`` or ``'epoch'``.
    fields : sequence of str or None
        The metrics to show (default: every scalar metric passed).
    stream : file or None
    bar : bool or None
        Draw a tqdm bar (default: when ``stream`` is a terminal).
    every : int
        Without a bar, print a line only every ``every`` units (and after the first and the last).
    """

    def __init__(self, label, unit="iteration", fields=None, stream=None, bar=None, every=1):
        self.label = label
        self.unit = unit
        self.fields = fields
        self.stream = stream or sys.stderr
        isatty = getattr(self.stream, "isatty", None)
        self.bar = bool(isatty and isatty()) if bar is None else bool(bar)
        self.every = max(int(every), 1)
        self.start = time.perf_counter()
        self._tqdm = None

    def __call__(self, done, total, metrics):
        text = format_metrics(metrics if isinstance(metrics, dict) else {"loss": metrics}, self.fields)
        if self.bar:
            self._bar_update(done, total, text)
            return
        if done % self.every and done not in (1, total):
            return
        elapsed = time.perf_counter() - self.start
        rate = done / elapsed if elapsed > 0 else float("inf")
        left = (total - done) / rate if rate > 0 and np.isfinite(rate) else 0.0
        eta = f", ETA {left:.0f} s" if done < total else ""
        print(f"[{self.label}] {self.unit} {done}/{total}  {text}  ({elapsed:.1f} s, {rate:.3g} {self.unit}/s{eta})",
              file=self.stream, flush=True)

    def _bar_update(self, done, total, text):
        from tqdm.auto import tqdm

        if self._tqdm is None or self._tqdm.total != total:
            self.close()
            self._tqdm = tqdm(total=total, desc=self.label, unit=self.unit, file=self.stream, leave=True)
        self._tqdm.update(done - self._tqdm.n)
        self._tqdm.set_postfix_str(text, refresh=True)
        if done >= total:
            self.close()

    def close(self):
        """Close the bar (if one is drawn)."""
        if self._tqdm is not None:
            self._tqdm.close()
            self._tqdm = None
