"""Helpers shared by the studies: run directories, summaries, figures, one-line errors.

Progress is reported by the one reporter of the training floor (:mod:`brian2learn.training.progress`).
"""

import argparse
import json
import os
import sys

import numpy as np

from brian2learn.simulation.files import replace_atomically


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line and exit with status 2."""

    def error(self, message):
        print(f"brian2learn: error: {message}", file=sys.stderr)
        raise SystemExit(2)


class StudyError(RuntimeError):
    """A study could not run or finish; the message is shown to the user in one line."""


def _plain(value):
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def write_summary(run_dir, summary):
    """Write ``summary.json`` atomically (NaN and infinity become null) and return its path."""
    path = os.path.join(run_dir, "summary.json")
    text = json.dumps(_plain(summary), indent=2, sort_keys=False) + "\n"
    with replace_atomically(path) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path


def save_figure(fig, run_dir, name):
    """Save ``fig`` as ``run_dir/name`` (PNG, 110 dpi), close it, and return ``name``."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    with replace_atomically(os.path.join(run_dir, name)) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return name
