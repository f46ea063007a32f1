"""Training of weight and node perturbation on any Brian2 network (Züge, Klos & Memmesheimer 2023).

The learning (perturbations, references, eligibilities, updates) is Brian2 code of
:mod:`brian2learn.plasticity.perturbation_network`; this module runs a
:class:`~brian2learn.plasticity.perturbation_network.PerturbationModel` on
:class:`~brian2learn.training.loop.TrainingLoop`, ``trials_per_run`` trials per run of one build,
every run with its own seed; a non-finite error stops the training with
:class:`~brian2learn.training.loop.TrainingDivergedError`.
"""

import time

import numpy as np
import pandas as pd

from brian2learn.plasticity.perturbation_network import LearnerValues
from brian2learn.simulation.devices import DeviceRunner, RunnerHolder
from brian2learn.training.loop import Chunk, TrainingLoop, check_count


class PerturbationNetworkTrainer(RunnerHolder):
    """Train a perturbation model, ``trials_per_run`` trials per run of one build.

    The model is a :class:`~brian2learn.plasticity.perturbation_network.PerturbationModel`.

    Parameters
    ----------
    build : callable
        ``build(n_trials)`` returns a :class:`PerturbationModel` simulating ``n_trials`` trials per run.
    device : {'cpp_standalone', 'runtime'}
    trials_per_run : int
    directory : str or None
        Build directory of the standalone project.
    """

    def __init__(self, build, n_learners, device="cpp_standalone", trials_per_run=500, directory=None):
        self.trials_per_run = check_count("trials_per_run", trials_per_run)
        self.n_learners = check_count("n_learners", n_learners)
        self.runner = DeviceRunner(lambda: build(self.trials_per_run), device=device, directory=directory)
        self.device = self.runner.device

    def train(self, n_trials, learners, weights, values=None, stimuli=None, seed=1, progress=None,
              on_run=None, first_run=0):
        """Train for ``n_trials`` trials.

        Parameters
        ----------
        n_trials : int
        learners : LearnerValues
        weights : dict
            ``w:NAME`` -> initial weights of every plastic Synapses (synapse order).
        values : dict
            Further state variables of the model, the same for every run.
        stimuli : dict or callable
            Further TimedArrays of the model: the same for every run, or ``stimuli(first_trial, trials_per_run)``
            giving those of the run that starts at ``first_trial`` (e.g. the next minibatches of a training set;
            rows past the run's last trial are not used).
        seed : int
            Run ``k`` of the training seeds its perturbations with ``seed * 100003 + k``.
        first_run : int
            ``k`` of the first run: a training continued over several calls (e.g. an epoch each) numbers its runs
            on, so that no two runs share a seed.
        progress : callable or None
            ``progress(trials_done, n_trials, {"mean_error": ...})`` after each run (the mean over
            learners of the last trial's unperturbed error, or perturbed error with reference = 'average').
        on_run : callable or None
            ``on_run(model, first_trial, n_trials_in_run)`` after each run, to read the model's monitors.

        Returns
        -------
        dict
            ``history`` (DataFrame: trial, learner, E_ref, E_pert, dR), ``outputs`` (DataFrame: trial,
            pass, neuron, learner, E and the output metrics, per pass), ``weights`` (the final
            ``w:NAME``), ``wall_seconds``, ``runs``.
        """
        n_trials = check_count("n_trials", n_trials)
        if not isinstance(learners, LearnerValues):
            raise ValueError(f"'learners' must be a LearnerValues, got {type(learners).__name__}")
        learner_arrays = learners.arrays(self.n_learners)
        start = time.perf_counter()
        state = {**weights, "R_bar": np.zeros(self.n_learners), "n_done": np.zeros(self.n_learners)}
        if stimuli is not None and not callable(stimuli) and not isinstance(stimuli, dict):
            raise ValueError(f"'stimuli' must be a dict or a callable, got {type(stimuli).__name__}")
        fixed = {"values": {**(values or {}), **learner_arrays},
                 "stimuli": stimuli if callable(stimuli) else (lambda first, n: dict(stimuli or {}))}
        if isinstance(first_run, bool) or not isinstance(first_run, (int, np.integer)) or first_run < 0:
            raise ValueError(f"'first_run' must be a non-negative integer, got {first_run!r}")
        run_count = [int(first_run)]
        outputs = []

        def step(state, n_now, first):
            run_seed = int(seed) * 100003 + run_count[0]
            run_count[0] += 1
            model, new_state = self._run(state, n_now, (run_seed, first), fixed)
            learning = model.learning
            frame = self._history(learning, first, n_now)
            bad = ~np.isfinite(frame["E_pert"].to_numpy()) | ~np.isfinite(frame["dR"].to_numpy())
            losses = np.zeros(n_now)
            losses[np.unique(frame["trial"].to_numpy()[bad] - first)] = np.nan
            last = frame[frame["trial"] == frame["trial"].max()]
            mean_error = float(last["E_ref" if learning.n_passes == 2 else "E_pert"].mean())
            chunk_outputs = self._outputs(learning, first, n_now)

            def accept():
                outputs.append(chunk_outputs)
                if on_run is not None:
                    on_run(model, first, n_now)

            return Chunk(state=new_state, history=frame, losses=losses, context=(run_seed, first),
                         progress={"mean_error": mean_error}, model=model, accept=accept)

        def replay(state, n_updates, context):
            return self._run(state, n_updates, context, fixed)[1]

        loop = TrainingLoop(step, self.trials_per_run, unit="trial", replay=replay,
                            hint="the update scales as eta*dR/sigma^2: lower 'eta'")
        state, history = loop.run(state, n_trials, progress=progress)
        return {"history": history, "outputs": pd.concat(outputs, ignore_index=True),
                "weights": {name: value for name, value in state.items() if name.startswith("w:")},
                "wall_seconds": time.perf_counter() - start, "runs": run_count[0] - int(first_run)}

    def _run(self, state, n_now, context, fixed):
        """One run of ``n_now`` trials from ``state`` (``context``: the run's seed and first trial); returns
        (model, new state)."""
        run_seed, first = context
        gate = np.zeros(self.trials_per_run)
        gate[:n_now] = 1.0
        model = self.runner.run({**fixed["values"], **state, "seed": run_seed},
                                {**fixed["stimuli"](first, self.trials_per_run), "trial_gate": gate})
        learning = model.learning
        if learning.n_learners != self.n_learners:
            raise ValueError(f"the model has {learning.n_learners} learners, the trainer {self.n_learners}")
        new_state = dict(state)
        for name in learning.carried_variables():
            group, var = model.state_variables()[name]
            new_state[name] = np.asarray(getattr(group, var)[:], dtype=float).copy()
        return model, new_state

    @staticmethod
    def _history(learning, first_trial, n_now):
        monitor = learning.trial_monitor
        n_learners = learning.n_learners
        columns = {var: np.asarray(getattr(monitor, var), dtype=float)[:, 1:n_now + 1] for var in
                   ("E_ref", "E_pert", "dR")}
        trials = first_trial + np.arange(n_now)
        frame = pd.DataFrame({"trial": np.tile(trials, n_learners),
                              "learner": np.repeat(np.arange(n_learners), n_now),
                              **{var: value.ravel() for var, value in columns.items()}})
        if learning.n_passes == 1:
            frame["E_ref"] = np.nan
        return frame

    @staticmethod
    def _outputs(learning, first_trial, n_now):
        monitor = learning.output_monitor
        n_pass = n_now * learning.n_passes
        n_neurons = len(learning.output)
        data = {var: np.asarray(getattr(monitor, var), dtype=float)[:, 1:n_pass + 1]
                for var in ("E", *learning.output_metrics)}
        passes = np.arange(n_pass)
        frame = pd.DataFrame({
            "trial": np.tile(first_trial + passes // learning.n_passes, n_neurons),
            "pass": np.tile(passes % learning.n_passes, n_neurons),
            "neuron": np.repeat(np.arange(n_neurons), n_pass),
            "learner": np.repeat(learning.output_learner, n_pass),
            **{var: value.ravel() for var, value in data.items()}})
        return frame

    @property
    def model(self):
        """The model of the last run (its monitors hold that run's records)."""
        return self.runner.model

