"""Trial samplers whose every trial has its own seed, so that any subset of a batch can be drawn alone.

A trainer's task sampler is a function ``sampler(draw, n_trials) -> dict`` of arrays
(``inputs`` (n_trials, T, n_in), ``targets`` (n_trials, T, n_out), ``window`` (n_trials, T)), called
with ``draw = 0, 1, 2, ...`` (:class:`~brian2learn.training.eprop.EpropTrainer`). When a
sampler seeds the whole batch at once, trial ``j`` of a draw depends on all trials before it, and a
worker that simulates only trials 16-31 of a batch must still draw trials 0-31.
:class:`TrialwiseSampler` seeds each trial by ``(draw, j)`` instead: trial ``j`` of draw ``r`` is
``make_trial(r, j)``, the same whether it is drawn with its whole batch (``sampler(r, n)``) or
alone (``sampler.select(r, n, [j])``). Data-parallel training
(:mod:`brian2learn.training.data_parallel`) uses :meth:`TrialwiseSampler.select` so that each
worker draws only its own share.
"""

import numpy as np

TRIAL_ARRAYS = ("inputs", "targets", "window")


class TrialwiseSampler:
    """A batch sampler built from a function that draws one trial.

    Parameters
    ----------
    make_trial : callable
        ``make_trial(draw, j) -> dict`` with ``inputs`` (T, n_in) or (1, T, n_in), ``targets``
        (T, n_out) or (1, T, n_out) and ``window`` (T,) or (1, T): trial ``j`` of draw ``draw``.
        It must be deterministic in ``(draw, j)`` (seed it from them, e.g.
        ``numpy.random.default_rng([seed, draw, j])``) and picklable to run on Dask workers
        (cloudpickle: a closure or lambda is fine).

    Examples
    --------
    >>> from brian2learn.tasks.evidence_accumulation import evidence_accumulation_trials
    >>> sampler = TrialwiseSampler(lambda draw, j: evidence_accumulation_trials(1, seed=[7, draw, j]))
    >>> batch = sampler(0, 4)                      # trials 0-3 of draw 0
    >>> share = sampler.select(0, 4, [2, 3])        # the same trials 2 and 3, without drawing 0 and 1
    """

    def __init__(self, make_trial):
        if not callable(make_trial):
            raise ValueError(f"'make_trial' must be callable as make_trial(draw, j), got {make_trial!r}")
        self.make_trial = make_trial

    def __call__(self, draw, n_trials):
        """Trials ``0 .. n_trials - 1`` of draw ``draw``."""
        _check_count(n_trials)
        return self.select(draw, n_trials, np.arange(n_trials))

    def select(self, draw, n_trials, positions):
        """Trials ``positions`` of draw ``draw`` (a batch of ``n_trials``), stacked in that order."""
        _check_count(n_trials)
        positions = np.asarray(positions)
        if positions.ndim != 1 or positions.size == 0 or positions.dtype.kind not in "iu":
            raise ValueError(f"'positions' must be a non-empty 1-d array of trial indices, got {positions!r}")
        if positions.min() < 0 or positions.max() >= n_trials:
            raise ValueError(f"'positions' must lie in [0, {n_trials - 1}], got {positions.min()}..{positions.max()}")
        trials = [self._one(draw, int(j)) for j in positions]
        return {name: np.stack([trial[name] for trial in trials]) for name in TRIAL_ARRAYS}

    def _one(self, draw, j):
        trial = self.make_trial(draw, j)
        missing = [name for name in TRIAL_ARRAYS if name not in trial]
        if missing:
            raise ValueError(f"make_trial({draw}, {j}) must return {', '.join(TRIAL_ARRAYS)}; missing {missing}")
        out = {}
        for name, ndim in zip(TRIAL_ARRAYS, (2, 2, 1)):
            value = np.asarray(trial[name], dtype=float)
            if value.ndim == ndim + 1 and value.shape[0] == 1:  # a batch of one trial
                value = value[0]
            if value.ndim != ndim:
                raise ValueError(f"make_trial({draw}, {j})['{name}'] must have {ndim} dimensions (one trial), "
                                 f"got shape {value.shape}")
            out[name] = value
        return out


def _check_count(n_trials):
    if isinstance(n_trials, bool) or not isinstance(n_trials, (int, np.integer)) or n_trials < 1:
        raise ValueError(f"'n_trials' must be a positive integer, got {n_trials!r}")
