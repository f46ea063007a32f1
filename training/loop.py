"""The run loop of every rule: chunks of iterations per run of one build, divergence, progress.

A training of ``n`` iterations (or trials, or epochs: the *unit*) is split into *chunks* of at
most ``chunk_size``; each chunk is one call of the rule's ``step`` -- for the Brian2 rules one
run of the compiled binary, whose values (weights, optimizer state, stimuli) travel by
``run_args``. Between chunks only the carried learning *state* travels. After every chunk the
loop

1. checks the chunk's losses: a non-finite loss, or one above the loss limit, stops training with
   :class:`TrainingDivergedError`, after the state of the last good iteration is recovered (the
   rule's ``replay`` re-runs the chunk with the updates after it switched off) and saved as
   ``run_dir/last_good_weights.npz``;
2. appends the chunk's rows to the history (one DataFrame format: the unit column, e.g.
   ``iteration``, numbered from 0 over the whole training, then the rule's columns);
3. reports progress (:class:`~brian2learn.training.progress.ProgressReporter` or any callable
   ``progress(done, total, metrics)``).

What differs between rules is only the ``step`` (its values, stimuli, carried state and
metrics), an optional ``replay`` and ``save_weights``: see the trainers of
:mod:`brian2learn.training` and ``docs/architecture.md``. The loop is the one place where
interruption, checkpoints and resuming hook in.
"""

import dataclasses
import os

import numpy as np
import pandas as pd

from brian2learn.simulation.files import replace_atomically


class TrainingDivergedError(RuntimeError):
    """The loss became non-finite or exceeded its limit.

    Attributes
    ----------
    iteration : int
        The first bad iteration (trial, epoch) of the training.
    loss : float
        Its loss.
    weights_path : str or None
        Where the weights of the last good iteration were saved (``None`` without a run directory).
    state : object
        The learning state of the last good iteration.
    history : pandas.DataFrame
        The rows of the chunk before the bad iteration (not yet in the trainer's history).
    """

    def __init__(self, message, iteration, loss, weights_path, state=None, history=None):
        super().__init__(message)
        self.iteration = iteration
        self.loss = loss
        self.weights_path = weights_path
        self.state = state
        self.history = history


@dataclasses.dataclass
class Chunk:
    """What one ``step`` of a rule returns.

    Attributes
    ----------
    state : object
        The carried learning state after the chunk.
    history : pandas.DataFrame
        The chunk's rows; its unit column counts from the ``first`` the step was given.
    losses : numpy.ndarray
        One loss per iteration of the chunk (for several learners, any non-finite one makes the
        iteration non-finite), checked for divergence.
    context : object
        What ``replay`` needs to re-run the chunk (its trials).
    progress : dict or None
        The metrics the progress reporter shows (default: the chunk's last history row).
    model : object
        The model of the run (its monitors), for the trainer's own records.
    accept : callable or None
        Called without arguments once the chunk passed the divergence check (the trainer keeps
        its records of the run then).
    """

    state: object
    history: pd.DataFrame
    losses: np.ndarray
    context: object = None
    progress: dict = None
    model: object = None
    accept: object = None


def check_count(name, value):
    """``value`` as an int if it is a positive integer (not a bool); ``ValueError`` naming ``name`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"'{name}' must be a positive integer, got {value!r}")
    return int(value)


class TrainingLoop:
    """Run a rule's ``step`` chunk by chunk, with divergence checks and progress.

    Parameters
    ----------
    step : callable
        ``step(state, n_now, first) -> Chunk``: train ``n_now <= chunk_size`` iterations from
        ``state``, the first of which is iteration ``first`` of the training.
    chunk_size : int
        Iterations per step (per run of the binary).
    unit : {'iteration', 'trial', 'epoch'}
        Name of the history's counting column.
    replay : callable or None
        ``replay(start_state, n_updates, context) -> state``: the state after the first
        ``n_updates >= 1`` updates of a chunk that started from ``start_state``; without it a
        divergence keeps the state at the start of the chunk.
    save_weights : callable or None
        ``save_weights(path, state, iteration)`` writes the weights of ``state`` (an ``.npz``);
        without it nothing is saved.
    loss_limit : float or None
        A loss above it counts as diverged.
    loss_limit_factor : float or None
        When ``loss_limit`` is ``None``: the limit becomes this factor times the first finite loss
        of the training.
    hint : str
        Appended to the divergence message (what to change).
    save_checkpoint : callable or None
        ``save_checkpoint(path, state, next_iteration, history)`` writes everything needed to go on
        from ``next_iteration`` (the rule's whole learning state and the history rows of this
        :meth:`run` so far, a DataFrame); :meth:`run` calls it after every accepted chunk when given a
        ``checkpoint`` path, under a temporary name renamed into place, before reporting progress, so
        an interruption at any moment leaves the last whole checkpoint.
    loss_before_update : bool
        True: a loss is measured with the state before its iteration's update (e-prop, RFLO,
        perturbation), so a bad loss condemns that state and the last good one is the iteration
        before, in the previous chunk for the first iteration of a chunk. False: a loss measures
        the iteration's own updates (a TTFS epoch), so the state at its start is the last good one.
    """

    def __init__(self, step, chunk_size, unit="iteration", replay=None, save_weights=None, loss_limit=None,
                 loss_limit_factor=None, hint="", loss_before_update=True, save_checkpoint=None):
        self.step = step
        self.chunk_size = check_count("chunk_size", chunk_size)
        self.unit = unit
        self.replay = replay
        self.save_weights = save_weights
        self.loss_limit = loss_limit
        self.loss_limit_factor = loss_limit_factor
        self.hint = hint
        self.loss_before_update = loss_before_update
        self.save_checkpoint = save_checkpoint
        self._previous = None  # (start state, n, context) of the last chunk, for a divergence at its end

    def run(self, state, n_iterations, first=0, run_dir=None, progress=None, checkpoint=None):
        """Train ``n_iterations`` from ``state``; return ``(state, history DataFrame)``.

        With a ``checkpoint`` path (and ``save_checkpoint``), the state after every chunk is saved there.
        Raises :class:`TrainingDivergedError` (with the last good state and the rows before the
        bad iteration) when a loss is non-finite or above the limit.
        """
        if checkpoint is not None and self.save_checkpoint is None:
            raise ValueError("this rule's trainer cannot write checkpoints (no save_checkpoint)")
        n_iterations = check_count(f"n_{self.unit}s", n_iterations)
        frames = []
        done = 0
        while done < n_iterations:
            n_now = min(self.chunk_size, n_iterations - done)
            start_state = state
            chunk = self.step(start_state, n_now, first + done)
            losses = np.asarray(chunk.losses, dtype=float)[:n_now]
            if self.loss_limit is None and self.loss_limit_factor is not None and first + done == 0 \
                    and np.isfinite(losses[0]):
                self.loss_limit = self.loss_limit_factor * max(losses[0], 1e-12)
            bad = ~np.isfinite(losses)
            if self.loss_limit is not None:
                bad |= losses > self.loss_limit
            if np.any(bad):
                frames_before = pd.concat(frames, ignore_index=True) if frames else None
                self._diverged(int(np.flatnonzero(bad)[0]), losses, chunk, start_state, first + done, run_dir,
                               frames_before)
            self._previous = (start_state, n_now, chunk.context)
            if chunk.accept is not None:
                chunk.accept()
            frames.append(chunk.history)
            state = chunk.state
            done += n_now
            if checkpoint is not None:
                with replace_atomically(checkpoint) as tmp:
                    self.save_checkpoint(tmp, state, first + done, pd.concat(frames, ignore_index=True))
            if progress is not None:
                metrics = chunk.progress
                if metrics is None:
                    metrics = chunk.history.iloc[-1].to_dict() if len(chunk.history) else {}
                progress(done, n_iterations, metrics)
        return state, pd.concat(frames, ignore_index=True)

    def _diverged(self, bad, losses, chunk, start_state, first, run_dir, frames_before):
        iteration = first + bad
        good, good_iteration = start_state, first  # without anything better: the chunk's start
        if bad >= 2 and self.replay is not None:
            good, good_iteration = self.replay(start_state, bad - 1, chunk.context), iteration - 1
        elif bad == 0 and self.loss_before_update and self._previous is not None:
            previous_start, previous_n, previous_context = self._previous
            if previous_n == 1:
                good, good_iteration = previous_start, iteration - 1
            elif self.replay is not None:
                good = self.replay(previous_start, previous_n - 1, previous_context)
                good_iteration = iteration - 1
        rows = chunk.history[chunk.history[self.unit] < iteration]
        history = rows if frames_before is None else pd.concat([frames_before, rows], ignore_index=True)
        path = None
        if run_dir is not None and self.save_weights is not None:
            os.makedirs(run_dir, exist_ok=True)
            path = os.path.join(run_dir, "last_good_weights.npz")
            with replace_atomically(path) as tmp:
                self.save_weights(tmp, good, good_iteration)
        limit = f" (limit {self.loss_limit:.4g})" if self.loss_limit is not None else ""
        where = f"; weights of {self.unit} {good_iteration} saved to {path}" if path else ""
        hint = f"; {self.hint}" if self.hint else ""
        raise TrainingDivergedError(
            f"training diverged: loss {losses[bad]:.4g} at {self.unit} {iteration}{limit}{where}{hint}",
            iteration, float(losses[bad]), path, state=good, history=history,
        )
