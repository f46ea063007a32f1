"""Training of weight- and node-perturbation learners on the linear task (Züge, Klos & Memmesheimer 2023).

The rules and their network are :mod:`brian2learn.plasticity.perturbation`; this module runs them
on :class:`~brian2learn.training.loop.TrainingLoop`, ``trials_per_run`` trials per run of one
build, every run with its own seed. A non-finite error of any learner stops the training with
:class:`~brian2learn.training.loop.TrainingDivergedError`.
"""

import time

import numpy as np
import pandas as pd

from brian2learn.plasticity.perturbation import LearnerSettings, PerturbationNetwork
from brian2learn.simulation.devices import DeviceRunner, RunnerHolder
from brian2learn.training.loop import Chunk, TrainingLoop, check_count


class PerturbationTrainer(RunnerHolder):
    """Train WP and NP learners on a :class:`~brian2learn.tasks.perturbation_linear.LinearTask`.

    One build serves every training (tasks and learning parameters are values); a training of
    ``n`` trials is split into runs of ``trials_per_run`` trials, the weights and the running
    average travel between runs, and every run gets its own seed.

    Parameters
    ----------
    config : PerturbationConfig
    device : {'cpp_standalone', 'runtime'}
    trials_per_run : int
    directory : str or None
        Build directory of the standalone project.
    record_detail, record_steps
        See :class:`PerturbationNetwork`.
    runner : DeviceRunner or None
        A runner of the same configuration whose build to share.
    """

    def __init__(self, config, device="cpp_standalone", trials_per_run=500, directory=None, record_detail=0,
                 record_steps=False, runner=None):
        self.config = config
        self.trials_per_run = check_count("trials_per_run", trials_per_run)
        if runner is None:
            def build():
                return PerturbationNetwork(config, self.trials_per_run, record_detail=record_detail,
                                           record_steps=record_steps)
            runner = DeviceRunner(build, device=device, directory=directory)
        self.runner = runner
        self.device = runner.device

    def _check_task(self, task):
        cfg = self.config
        if (task.n_in, task.n_out, task.n_steps) != (cfg.n_in, cfg.n_out, cfg.n_steps):
            raise ValueError(f"the task has (n_in, n_out, n_steps) = {(task.n_in, task.n_out, task.n_steps)}, "
                             f"the network {(cfg.n_in, cfg.n_out, cfg.n_steps)}")

    def train(self, task, n_trials, settings, seed=1, initial_weights=None, progress=None):
        """Train the learners of ``settings`` (rule -> :class:`LearnerSettings`) for ``n_trials`` trials.

        Parameters
        ----------
        task : LinearTask
        n_trials : int
        settings : dict
            One :class:`LearnerSettings` per rule of the network.
        seed : int
            Seeds the task's trials (numpy) and the perturbations (Brian2; run ``k`` of the
            training uses seed ``seed * 100003 + k``).
        initial_weights : dict or None
            rule -> (n_replicas, M, N) or (M, N); zeros by default.
        progress : callable or None
            ``progress(trials_done, n_trials, mean_errors)`` after each run, ``mean_errors``
            a dict rule -> mean error over the learners in the run's last trial.

        Returns
        -------
        dict
            ``history`` (DataFrame: trial, rule, replica, error, delta_error), ``weights``
            (rule -> (n_replicas, M, N)), ``runs``, ``wall_seconds``.
        """
        self._check_task(task)
        n_trials = check_count("n_trials", n_trials)
        cfg = self.config
        if set(settings) != set(cfg.rules):
            raise ValueError(f"'settings' must give one LearnerSettings per rule of the network: "
                             f"{', '.join(cfg.rules)}; got {', '.join(map(str, settings)) or 'none'}")
        n_rep, n_out, n_in = cfg.n_replicas, cfg.n_out, cfg.n_in
        rng = np.random.default_rng(seed)
        state = {}
        for rule in cfg.rules:
            learner = settings[rule]
            if not isinstance(learner, LearnerSettings):
                raise ValueError(f"settings['{rule}'] must be a LearnerSettings, got {type(learner).__name__}")
            per_output = {}
            for var, value in (("eta", learner.eta), ("sigma", learner.sigma)):
                value = np.asarray(value, dtype=float)
                if value.size not in (1, n_rep):
                    raise ValueError(f"'{var}' of rule '{rule}' needs 1 or n_replicas = {n_rep} values, "
                                     f"got {value.size}")
                per_output[var] = np.repeat(np.broadcast_to(value.ravel(), (n_rep,)), n_out)
            weights = np.zeros((n_rep, n_out, n_in))
            if initial_weights is not None and rule in initial_weights:
                given = np.asarray(initial_weights[rule], dtype=float)
                if given.shape not in ((n_out, n_in), (n_rep, n_out, n_in)):
                    raise ValueError(f"initial weights of rule '{rule}' must have shape {(n_out, n_in)} or "
                                     f"{(n_rep, n_out, n_in)}, got {given.shape}")
                weights[:] = given
            state.update({
                f"w_{rule}": weights.ravel(),
                f"w_target_{rule}": np.tile(task.target_weights()[None], (n_rep, 1, 1)).ravel(),
                f"eta_{rule}": per_output["eta"], f"sigma_{rule}": per_output["sigma"],
                f"ref_average_{rule}": np.full(n_rep * n_out, float(learner.reference == "average")),
                f"ref_decay_{rule}": np.full(n_rep * n_out, float(learner.average_decay)),
                f"random_scale_{rule}": np.full(n_rep * n_out, float(learner.random_scale)),
                f"R_bar_{rule}": np.zeros(n_rep * n_out), f"n_done_{rule}": np.zeros(n_rep * n_out),
            })
        stimuli = {"basis": task.input_basis(), "unrealizable": task.unrealizable()}
        run_count = [0]

        def step(state, n_now, first):
            strengths = np.zeros((self.trials_per_run, n_rep, n_in))
            strengths[:n_now] = task.draw_strengths(rng, n_now, n_rep)
            run_seed = int(seed) * 100003 + run_count[0]
            run_count[0] += 1
            context = (stimuli, strengths, run_seed)
            model, new_state = self._run(state, n_now, context)
            frames, last, worst = [], {}, np.zeros(n_now)
            for rule in cfg.rules:
                monitor = model.trial_monitors[rule]
                errors = np.asarray(monitor.E_ref_total, dtype=float)[:, 1:n_now + 1]
                delta = np.asarray(monitor.dE_total, dtype=float)[:, 1:n_now + 1]
                # A trial with a non-finite error or error change of any learner counts as diverged.
                worst += np.where(np.isfinite(errors) & np.isfinite(delta), 0.0, np.nan).sum(axis=0)
                frames.append(pd.DataFrame({
                    "trial": np.tile(first + np.arange(n_now), n_rep), "rule": rule,
                    "replica": np.repeat(np.arange(n_rep), n_now), "error": errors.ravel(),
                    "delta_error": delta.ravel()}))
                last[rule] = float(errors[:, -1].mean())
            return Chunk(state=new_state, history=pd.concat(frames, ignore_index=True), losses=worst, context=context,
                         progress=last, model=model)

        def replay(state, n_updates, context):
            return self._run(state, n_updates, context)[1]

        loop = TrainingLoop(step, self.trials_per_run, unit="trial", replay=replay, save_weights=None,
                            hint="the update scales as eta*dR/sigma^2 (with reference='average' the lag of the "
                                 "average adds to dR): lower 'eta' or raise 'sigma'")
        start = time.perf_counter()
        state, history = loop.run(state, n_trials, progress=progress)
        weights = {rule: state[f"w_{rule}"].reshape(n_rep, n_out, n_in) for rule in cfg.rules}
        return {"history": history, "weights": weights, "runs": run_count[0],
                "wall_seconds": time.perf_counter() - start}

    def _run(self, state, n_now, context):
        """One run of the first ``n_now`` trials of ``context`` from ``state``; returns (model, new state)."""
        stimuli, strengths, run_seed = context
        gate = np.zeros(self.trials_per_run)
        gate[:n_now] = 1.0
        model = self.runner.run({**state, "seed": run_seed},
                                {**stimuli, "strengths": strengths.reshape(self.trials_per_run, -1),
                                 "trial_gate": gate})
        new_state = dict(state)
        for name in state:
            if name.startswith(("w_", "R_bar_", "n_done_")) and not name.startswith("w_target_"):
                group, var = model.state_variables()[name]
                new_state[name] = np.asarray(getattr(group, var)[:], dtype=float).copy()
        return model, new_state

    @property
    def model(self):
        """The model of the last run (its monitors hold that run's records)."""
        return self.runner.model

