"""Training of an RFLO network (Murray 2019, eLife 8:e43299): trials per run of one build, on the run loop.

The rule and its network are :mod:`brian2learn.plasticity.rflo`; this module runs it chunk by chunk
on :class:`~brian2learn.training.loop.TrainingLoop`: ``trials_per_run`` trials per run of the
compiled network, the weight matrices travelling between runs by ``run_args``, a non-finite loss
stopping the training with :class:`~brian2learn.training.loop.TrainingDivergedError` (the weights
of the last good trial recovered by re-running the chunk with the later trials gated off).
"""

import dataclasses

import numpy as np
import pandas as pd

from brian2learn.plasticity.rflo import RfloNetwork, alignment_degrees, check_task, check_weights, connectivity
from brian2learn.simulation.devices import DeviceRunner, RunnerHolder
from brian2learn.simulation.files import save_parameters
from brian2learn.training.loop import Chunk, TrainingDivergedError, TrainingLoop, check_count


class RfloTrainer(RunnerHolder):
    """Train an RFLO network, ``trials_per_run`` trials per run of one build; weights travel by ``run_args``.

    Parameters
    ----------
    config : RfloConfig
    weights : dict
        ``w_in`` (n_rec, n_in), ``w_rec`` (n_rec, n_rec), ``w_out`` (n_out, n_rec), ``B`` (n_rec, n_out),
        ``h0`` (n_rec,); see :func:`initial_weights`.
    task : dict
        ``inputs`` (n_points, n_in) and ``targets`` (n_points, n_out), the same every trial.
    device : {'cpp_standalone', 'runtime'}
    trials_per_run : int
    directory : str or None
    runner : DeviceRunner or None
        A runner of the same configuration whose build to share.
    record_output, record_traces : bool
        See :class:`RfloNetwork`.
    """

    def __init__(self, config, weights, task, device="cpp_standalone", trials_per_run=1000, directory=None,
                 runner=None, record_output=True, record_traces=False):
        self.config = config
        self.trials_per_run = check_count("trials_per_run", trials_per_run)
        self.weights = check_weights(config, weights)
        self.inputs, self.targets = check_task(config, task)
        self.connectivity = connectivity(config)
        self.trial = 0
        self.history = []
        self.last_output = None
        if runner is None:
            def build():
                return RfloNetwork(config, self.trials_per_run, record_output=record_output,
                                   record_traces=record_traces)
            runner = DeviceRunner(build, device=device, directory=directory)
        self.runner = runner
        self._loop = TrainingLoop(self._step, self.trials_per_run, unit="trial", replay=self._replay,
                                  save_weights=self._save_weights)

    def _values(self, w, learning_rates):
        conn = self.connectivity
        eta_in, eta_rec, eta_out = learning_rates
        return {
            "w_in": w["w_in"][conn["in"][1], conn["in"][0]],
            "w_rec": w["w_rec"][conn["rec"][1], conn["rec"][0]],
            "w_out": w["w_out"][conn["out"][1], conn["out"][0]],
            "B": w["B"].T[conn["out"][1], conn["out"][0]],
            "h0": w["h0"],
            "eta_in": np.full(len(conn["in"][0]), eta_in), "eta_rec": np.full(len(conn["rec"][0]), eta_rec),
            "eta_out": np.full(len(conn["out"][0]), eta_out),
        }

    def _matrices(self, model, variable="w"):
        """``variable`` of the input, recurrent and readout synapses as matrices ``w_in``, ``w_rec``, ``w_out``."""
        conn, cfg = self.connectivity, self.config
        out = {}
        for key, name, shape in (("in", "w_in", (cfg.n_rec, cfg.n_in)), ("rec", "w_rec", (cfg.n_rec, cfg.n_rec)),
                                 ("out", "w_out", (cfg.n_out, cfg.n_rec))):
            group, _ = model.state_variables()[name]
            matrix = np.zeros(shape)
            matrix[conn[key][1], conn[key][0]] = np.asarray(getattr(group, variable)[:], dtype=float)
            out[name] = matrix
        return out

    def run_trials(self, n_trials, learning_rates=None):
        """One run of ``n_trials <= trials_per_run`` trials from the current weights, which it leaves unchanged.

        Returns (model, losses, new weight matrices).
        """
        return self._run_trials(self.weights, n_trials, learning_rates)

    def _run_trials(self, weights, n_trials, learning_rates=None):
        if not 1 <= n_trials <= self.trials_per_run:
            raise ValueError(f"'n_trials' must lie in [1, trials_per_run = {self.trials_per_run}], got {n_trials}")
        rates = self.config.learning_rates if learning_rates is None else learning_rates
        gate = np.zeros(self.trials_per_run)
        gate[:n_trials] = 1.0
        model = self.runner.run(self._values(weights, rates), {"inputs": self.inputs, "targets": self.targets,
                                                               "trial_gate": gate})
        losses = np.asarray(model.loss_monitor.loss, dtype=float).sum(axis=0)[1:n_trials + 1]
        return model, losses, self._matrices(model)

    def train(self, n_trials, progress=None, run_dir=None):
        """Train for ``n_trials`` trials.

        Parameters
        ----------
        n_trials : int
        progress : callable or None
            ``progress(trials_done, n_trials, metrics)`` after every run.
        run_dir : str or None
            Where the weights of the last good trial are saved if training diverges.

        Returns
        -------
        pandas.DataFrame
            trial, loss (of the trial, before its update), alignment_deg (angle between ``W_out``
            and ``B^T`` after the trial's update).
        """
        n_trials = check_count("n_trials", n_trials)
        try:
            self.weights, frame = self._loop.run(self.weights, n_trials, first=self.trial, run_dir=run_dir,
                                                 progress=progress)
        except TrainingDivergedError as error:
            self.history.extend(error.history.to_dict("records"))
            self.weights = error.state
            raise
        self.history.extend(frame.to_dict("records"))
        self.trial += n_trials
        return pd.DataFrame(self.history)

    def _step(self, weights, n_now, first):
        """One run of ``n_now`` trials from ``weights`` (a chunk of the run loop)."""
        self.trial = first
        cfg = self.config
        model, losses, matrices = self._run_trials(weights, n_now)
        w_out_records = np.asarray(model.readout_weight_monitor.w, dtype=float)[:, 1:n_now + 1]
        angles = []
        for k in range(n_now):
            w_out = np.zeros((cfg.n_out, cfg.n_rec))
            w_out[self.connectivity["out"][1], self.connectivity["out"][0]] = w_out_records[:, k]
            angles.append(alignment_degrees(w_out, weights["B"]))
        rows = pd.DataFrame({"trial": first + np.arange(n_now), "loss": np.asarray(losses, dtype=float),
                             "alignment_deg": np.asarray(angles, dtype=float)})
        return Chunk(state={**weights, **matrices}, history=rows, losses=losses, model=model,
                     accept=lambda: self._keep_last_output(model, n_now))

    def _replay(self, weights, n_updates, _context):
        return {**weights, **self._run_trials(weights, n_updates)[2]}

    def _save_weights(self, path, weights, trial):
        save_parameters(path, {**weights, "trial": trial}, rule="RFLO", model=dataclasses.asdict(self.config))

    def _keep_last_output(self, model, n_now):
        cfg = self.config
        if model.output_monitor is not None:
            steps = slice((n_now - 1) * cfg.n_updates, n_now * cfg.n_updates)
            self.last_output = {
                "t": np.arange(cfg.n_points),
                "y": np.concatenate([np.zeros((cfg.n_out, 1)),
                                     np.asarray(model.output_monitor.y, dtype=float)[:, steps]], axis=1),
                "y_target": self.targets.T.copy(),
            }

    # -- gradient sums (data-parallel training) ---------------------------------------------------------
    def set_learning_state(self, state):
        """Set any of ``w_in``, ``w_rec``, ``w_out``, ``B`` and ``h0`` (shapes as in :meth:`__init__`)."""
        for name, value in state.items():
            if name not in ("w_in", "w_rec", "w_out", "B", "h0"):
                raise ValueError(f"unknown learning state {name!r}; allowed: w_in, w_rec, w_out, B, h0")
            value = np.asarray(value, dtype=float)
            if value.shape != self.weights[name].shape or not np.all(np.isfinite(value)):
                raise ValueError(f"'{name}' must be finite values of shape {self.weights[name].shape}, "
                                 f"got shape {value.shape}")
            self.weights[name] = value.copy()

    def gradient_sums(self, n_trials):
        r"""RFLO's gradient estimates summed over ``n_trials`` trials of the current weights, without learning.

        The task's trials are identical given the weights (every state is reset at a trial's start), so the
        trials of a batch can run on different processes and their sums be added
        (:mod:`brian2learn.training.data_parallel`).

        Returns
        -------
        (dict, dict)
            ``w_in``/``w_rec``/``w_out`` -> the sum over the trials of :math:`-\Delta W/\eta` (a descent
            direction: gradient descent with rate :math:`\eta` on its mean is one RFLO update), as
            matrices; and ``loss`` -> the sum of the trials' losses.
        """
        n_trials = check_count("n_trials", n_trials)
        model, losses, _ = self._run_trials(self.weights, n_trials, learning_rates=(0.0, 0.0, 0.0))
        sums = {name: -matrix for name, matrix in self._matrices(model, "grad_sum").items()}
        return sums, {"loss": float(np.sum(losses))}

    @property
    def n_trials(self):
        """Trials per run of the build."""
        return self.trials_per_run

