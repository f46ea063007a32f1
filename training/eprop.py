"""Training schedule of an e-prop network: many iterations per run, one build for all runs.

One *iteration* is one batch of ``config.batch_size`` trials followed by one weight update
(all inside Brian2 code, see :mod:`brian2learn.plasticity.eprop`). A run of the compiled
network simulates ``iterations_per_run`` iterations; between runs only the learning state
(weights, feedback weights, optimizer state) travels, through ``run_args`` in
``cpp_standalone``. Between runs the losses are checked: a non-finite or exploding loss
stops training with :class:`TrainingDivergedError`, after the weights of the last good
iteration are recovered (by re-running the run with the updates after it switched off) and
saved.
"""

import dataclasses
import time

import brian2 as b2
import numpy as np
import pandas as pd

from brian2learn.plasticity import eprop
from brian2learn.simulation.devices import DeviceRunner, RunnerHolder
from brian2learn.simulation.files import load_parameters, save_parameters
from brian2learn.training.loop import Chunk, TrainingDivergedError, TrainingLoop, check_count

FEEDBACK_MODES = eprop.FEEDBACK_MODES


def _check_matrix(name, value, shape):
    array = np.asarray(value, dtype=float)
    if array.shape != shape:
        raise ValueError(f"'{name}' must have shape {shape}, got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"'{name}' contains non-finite values")
    return array


def initial_learning_state(config, connectivity, weights, feedback, feedback_matrix=None, gradients=True):
    """The learning state in synapse order of initial weight matrices ``[post, pre]``.

    Holds ``w_in``, ``w_rec``, ``w_out``, the feedback ``B`` (``w_out`` transposed for symmetric
    feedback, else ``feedback_matrix`` of shape (n_rec, n_out)), the feedback-mode flags, zeroed
    Adam moments and, with ``gradients``, zeroed gradient accumulators ``grad_*``.
    """
    missing = [name for name in ("w_in", "w_rec", "w_out") if name not in weights]
    if missing:
        raise ValueError(f"the weights lack {missing}; they need 'w_in', 'w_rec' and 'w_out' (matrices [post, pre])")
    w_in = _check_matrix("w_in", weights["w_in"], (config.n_rec, config.n_in))
    w_rec = _check_matrix("w_rec", weights["w_rec"], (config.n_rec, config.n_rec))
    w_out = _check_matrix("w_out", weights["w_out"], (config.n_out, config.n_rec))
    if feedback == "symmetric":
        b_matrix = w_out.T
    else:
        if feedback_matrix is None:
            raise ValueError(f"feedback '{feedback}' needs a 'feedback_matrix' of shape (n_rec, n_out)")
        b_matrix = _check_matrix("feedback_matrix", feedback_matrix, (config.n_rec, config.n_out))
    conn = connectivity
    n_out_syn = len(conn["out"][0])
    state = {
        "w_in": eprop.matrix_to_synapses(w_in, *conn["in"]),
        "w_rec": eprop.matrix_to_synapses(w_rec, *conn["rec"]),
        "w_out": eprop.matrix_to_synapses(w_out, *conn["out"]),
        "B": eprop.matrix_to_synapses(b_matrix.T, *conn["out"]),
        "fb_symmetric": np.full(n_out_syn, float(feedback == "symmetric")),
        "fb_adaptive": np.full(n_out_syn, float(feedback == "adaptive")),
    }
    variables = ("adam_m", "adam_v", "adam_k") + (("grad",) if gradients else ())
    for key in ("in", "rec", "out"):
        for var in variables:
            state[f"{var}_{key}"] = np.zeros(len(conn[key][0]))
    return state


def _reordered(state, old, new):
    """State arrays in synapse order ``old`` (a connectivity dict) put into order ``new`` (input and recurrent
    synapses; the readout's have one order)."""
    permutation = {}
    for group in ("in", "rec"):
        (old_pre, old_post), (new_pre, new_post) = old[group], new[group]
        index = np.zeros((int(old_post.max()) + 1, int(old_pre.max()) + 1), dtype=int)
        index[old_post, old_pre] = np.arange(len(old_pre))
        permutation[group] = index[new_post, new_pre]
    return {name: values[permutation[name.rsplit("_", 1)[-1]]] if name.rsplit("_", 1)[-1] in permutation
            else values for name, values in state.items()}


def learning_state_matrices(state, config, connectivity):
    """The weights ``w_in``, ``w_rec``, ``w_out`` and feedback ``B`` (n_rec, n_out) of a learning state in
    synapse order (``EpropTrainer.state``) as matrices ``[post, pre]`` (zero where unconnected)."""
    conn, cfg = connectivity, config
    return {
        "w_in": eprop.synapses_to_matrix(state["w_in"], *conn["in"], (cfg.n_rec, cfg.n_in)),
        "w_rec": eprop.synapses_to_matrix(state["w_rec"], *conn["rec"], (cfg.n_rec, cfg.n_rec)),
        "w_out": eprop.synapses_to_matrix(state["w_out"], *conn["out"], (cfg.n_out, cfg.n_rec)),
        "B": eprop.synapses_to_matrix(state["B"], *conn["out"], (cfg.n_out, cfg.n_rec)).T,
    }


def check_task_arrays(task, config):
    """Validate and normalise a task dict: inputs (n, T, n_in), targets (n, T, n_out), window (n, T)."""
    for key in ("inputs", "targets", "window"):
        if key not in task:
            raise ValueError(f"the task lacks '{key}'; it needs inputs, targets and window arrays")
    inputs = np.asarray(task["inputs"], dtype=float)
    if inputs.ndim == 2:
        inputs = inputs[None]
    n_distinct = inputs.shape[0]
    expected = (n_distinct, config.n_steps, config.n_in)
    if inputs.shape != expected:
        raise ValueError(f"'inputs' must have shape (n_trials, n_steps, n_in) = {expected}, got {inputs.shape}")
    targets = np.asarray(task["targets"], dtype=float).reshape(-1, *np.shape(task["targets"])[-2:])
    if targets.shape != (n_distinct, config.n_steps, config.n_out):
        raise ValueError(
            f"'targets' must have shape (n_trials, n_steps, n_out) = "
            f"{(n_distinct, config.n_steps, config.n_out)}, got {np.shape(task['targets'])}"
        )
    window = np.broadcast_to(np.asarray(task["window"], dtype=float), (n_distinct, config.n_steps))
    for name, array in (("inputs", inputs), ("targets", targets), ("window", window)):
        if not np.all(np.isfinite(array)):
            raise ValueError(f"'{name}' of the task holds non-finite values (NaN or infinity)")
    return inputs, targets, np.array(window)


class EpropTrainer(RunnerHolder):
    """Train an e-prop network on a task, on the runtime device or compiled once in C++.

    Parameters
    ----------
    config : brian2learn.plasticity.eprop.EpropConfig
    weights : dict
        Initial ``w_in`` (n_rec, n_in) and ``w_rec`` (n_rec, n_rec) in volt (plain floats),
        ``w_out`` (n_out, n_rec); matrices ``[post, pre]``; the diagonal of ``w_rec`` is
        not connected.
    task : dict or callable
        Fixed trials: ``inputs`` (n, n_steps, n_in), ``targets`` (n, n_steps, n_out) and
        ``window`` (n, n_steps) or (n_steps,); trial ``k`` of a run uses sample ``k % n``.
        Or a sampler ``task(draw, n_trials) -> dict`` of such arrays, called with
        ``draw = 0, 1, 2, ...`` for fresh trials in every run (``draw`` makes it reproducible).
    feedback : {'symmetric', 'random', 'adaptive'}
    feedback_matrix : array or None
        ``B`` (n_rec, n_out) for the random and adaptive modes.
    device : {'cpp_standalone', 'runtime'}
    iterations_per_run : int
        Iterations simulated per run of the compiled network.
    directory : str or None
        Build directory of the standalone project.
    runner : DeviceRunner or None
        An existing runner of the same configuration, to share its build.
    loss_limit : float or None
        A loss above it counts as exploding; default 100 times the first loss.
    record_spikes : bool
        Record spikes (of the last trial of each run, kept in ``last_spikes``).
    record_recurrent : sequence of int
        Recurrent neurons whose ``v`` and adaptation ``a`` of the last trial are kept in
        ``last_recurrent``.
    threads : int or None
        OpenMP threads of the standalone build (e-prop draws no random numbers, so results
        do not depend on it).
    """

    def __init__(self, config, weights, task, feedback="symmetric", feedback_matrix=None,
                 device="cpp_standalone", iterations_per_run=50, directory=None, runner=None,
                 record_spikes=True, loss_limit=None, record_recurrent=(), threads=None):
        if feedback not in FEEDBACK_MODES:
            raise ValueError(f"unknown feedback mode {feedback!r}; allowed: {', '.join(FEEDBACK_MODES)}")
        if not isinstance(iterations_per_run, (int, np.integer)) or iterations_per_run < 1:
            raise ValueError(f"'iterations_per_run' must be a positive integer, got {iterations_per_run!r}")
        self.config = config
        self.feedback = feedback
        n_trials = iterations_per_run * config.batch_size
        if callable(task):
            self.sampler = task
            self._draws = 0
            self.trials = self._sample(n_trials)
        else:
            self.sampler = None
            self.trials = check_task_arrays(task, config)
        n_distinct = self.trials[0].shape[0]
        if n_trials % n_distinct:
            raise ValueError(
                f"the task has {n_distinct} distinct trials, which must divide the "
                f"{n_trials} trials of a run (iterations_per_run * batch_size)"
            )
        self.iterations_per_run = iterations_per_run
        self.n_trials = n_trials
        self.connectivity = eprop.connectivity(config)
        self.state = initial_learning_state(config, self.connectivity, weights, feedback, feedback_matrix)
        self.iteration = 0
        self.history = []
        self._loop = TrainingLoop(self._step, iterations_per_run, unit="iteration", replay=self._replay,
                                  save_weights=self._save_weights, loss_limit=loss_limit, loss_limit_factor=100.0,
                                  save_checkpoint=self._save_checkpoint)
        self.last_spikes = None
        self.last_output = None
        self.last_recurrent = None
        if runner is None:
            def build():
                return eprop.EpropNetwork(config, n_trials, n_distinct=n_distinct,
                                          record_spikes=record_spikes, record_recurrent=record_recurrent)
            runner = DeviceRunner(build, device=device, directory=directory, threads=threads)
        self.runner = runner

    @property
    def loss_limit(self):
        """Losses above it count as diverged (set from the first loss unless given)."""
        return self._loop.loss_limit

    # -- state ---------------------------------------------------------------------------------
    _UNITS = {"w_in": b2.volt, "w_rec": b2.volt, "grad_in": 1 / b2.volt, "grad_rec": 1 / b2.volt,
              "adam_m_in": 1 / b2.volt, "adam_m_rec": 1 / b2.volt,
              "adam_v_in": 1 / b2.volt ** 2, "adam_v_rec": 1 / b2.volt ** 2}

    def _values(self, state):
        # the arrays with their units attached, not multiplied (a copy of every array of a large network)
        return {name: b2.Quantity(value, dim=self._UNITS[name].dim) if name in self._UNITS else value
                for name, value in state.items()}

    def weights(self, state=None):
        """Current weight matrices ``w_in``, ``w_rec``, ``w_out`` and feedback ``B`` (n_rec, n_out)."""
        return learning_state_matrices(self.state if state is None else state, self.config, self.connectivity)

    # -- runs ------------------------------------------------------------------------------------
    def _sample(self, n_trials):
        """Fresh trials from the sampler (reproducible: the k-th call passes ``draw = k``)."""
        trials = check_task_arrays(self.sampler(self._draws, n_trials), self.config)
        self._draws += 1
        if trials[0].shape[0] != n_trials:
            raise ValueError(f"the task sampler returned {trials[0].shape[0]} trials, {n_trials} were asked for")
        return trials

    def _run(self, state, learning_rates, trials=None):
        inputs, targets, window = self.trials if trials is None else trials
        stimuli = {
            "inputs": inputs.reshape(-1, self.config.n_in),
            "targets": targets.reshape(-1, self.config.n_out),
            "window": window.reshape(-1),
            "learning_rate": learning_rates,
        }
        # Gradients never carry over: each run accumulates its own.
        state = {**state, **{f"grad_{key}": np.zeros_like(state[f"grad_{key}"]) for key in ("in", "rec", "out")}}
        model = self.runner.run(self._values(state), stimuli)
        new_state = {}
        for name, (group, var) in model.state_variables().items():
            new_state[name] = np.asarray(getattr(group, var)[:], dtype=float).copy()
        return model, new_state, self._metrics(model, targets, window)

    def _metrics(self, model, targets, window):
        """Per-iteration loss, regularization loss, rate and (for several readouts) error."""
        cfg = self.config
        trial_loss = np.asarray(model.trial_loss_monitor.loss, dtype=float)[:, 1:].sum(axis=0)
        spike_counts = np.asarray(model.trial_spike_count_monitor.n_spikes, dtype=float)[:, 1:]
        dt_ms = float(cfg.dt / b2.ms)
        rates_per_ms = spike_counts / (cfg.n_steps * dt_ms)
        reg_loss = 0.5 * cfg.c_reg * np.sum((rates_per_ms - float(cfg.f_target * b2.ms)) ** 2, axis=0)
        per_batch = (-1, cfg.batch_size)
        metrics = {
            "loss": trial_loss.reshape(per_batch).mean(axis=1),
            "reg_loss": reg_loss.reshape(per_batch).mean(axis=1),
            "rate_hz": (rates_per_ms.mean(axis=0) * 1000.0).reshape(per_batch).mean(axis=1),
        }
        if cfg.n_out > 1:
            votes = np.asarray(model.trial_loss_monitor.vote, dtype=float)[:, 1:]  # (n_out, n_trials)
            n_distinct = targets.shape[0]
            labels = np.argmax(np.einsum("nt,nto->no", window, targets), axis=1)
            labels = np.tile(labels, self.n_trials // n_distinct)
            wrong = (np.argmax(votes, axis=0) != labels).astype(float)
            metrics["error"] = wrong.reshape(per_batch).mean(axis=1)
        return metrics

    def _learning_rates(self, n_updates):
        rates = np.zeros(self.iterations_per_run + 1)
        rates[1:1 + n_updates] = self.config.learning_rate
        return rates

    def train(self, n_iterations, run_dir=None, progress=None, checkpoint=None):
        """Train for ``n_iterations`` iterations.

        Parameters
        ----------
        n_iterations : int
        run_dir : str or None
            Where the weights of the last good iteration are saved if training diverges.
        progress : callable or None
            ``progress(iterations_done, n_iterations, metrics)`` after every run, e.g. a
            :class:`~brian2learn.training.progress.ProgressReporter`.
        checkpoint : str or None
            A file (``.npz``) that holds, after every run, the whole learning state (weights, feedback,
            optimizer moments), the history, the sampler's draws and the last trial's spikes and readout:
            :meth:`load_checkpoint` continues from it to the same numbers as training without a stop.

        Returns
        -------
        pandas.DataFrame
            One row per iteration: iteration, loss, reg_loss, rate_hz (and error).

        Raises
        ------
        TrainingDivergedError
            After a non-finite loss or one above the loss limit; the trainer keeps the state of
            the last good iteration and the history up to it.
        """
        n_iterations = check_count("n_iterations", n_iterations)
        try:
            self.state, frame = self._loop.run(self.state, n_iterations, first=self.iteration, run_dir=run_dir,
                                               progress=progress, checkpoint=checkpoint)
        except TrainingDivergedError as error:
            self.history.extend(error.history.to_dict("records"))
            self.state = error.state
            raise
        self.history.extend(frame.to_dict("records"))
        self.iteration += n_iterations
        return pd.DataFrame(self.history)

    def _step(self, state, n_now, first):
        """One run of ``n_now`` iterations from ``state`` (a chunk of :class:`TrainingLoop`)."""
        self.iteration = first
        if self.sampler is not None and first > 0:
            self.trials = self._sample(self.n_trials)
        trials = self.trials
        model, new_state, metrics = self._run(state, self._learning_rates(n_now))
        rows = pd.DataFrame({"iteration": first + np.arange(n_now),
                             **{key: np.asarray(value[:n_now], dtype=float) for key, value in metrics.items()}})
        return Chunk(state=new_state, history=rows, losses=metrics["loss"][:n_now], context=trials, model=model,
                     accept=lambda: self._keep_last_trial(model, n_now))

    def _replay(self, start_state, n_updates, trials):
        """The state after the first ``n_updates`` updates of a run from ``start_state`` on ``trials``."""
        return self._run(start_state, self._learning_rates(n_updates), trials)[1]

    def _save_weights(self, path, state, iteration):
        save_parameters(path, {**self.weights(state), "iteration": iteration}, rule="e-prop",
                        feedback=self.feedback, model=dataclasses.asdict(self.config))

    def _save_checkpoint(self, path, state, next_iteration, frame):
        arrays = {f"state.{name}": value for name, value in state.items()}
        for group, (indices, times) in (self.last_spikes or {}).items():
            arrays[f"spikes.{group}.i"], arrays[f"spikes.{group}.t_s"] = indices, times
        arrays.update({f"output.{name}": value for name, value in (self.last_output or {}).items()})
        history = self.history + frame.to_dict("records")
        save_parameters(path, arrays, checkpoint_iteration=next_iteration, history=history,
                        draws=getattr(self, "_draws", 0), rule="e-prop", feedback=self.feedback,
                        model=dataclasses.asdict(self.config), synapse_order=eprop.SYNAPSE_ORDER)

    def load_checkpoint(self, path):
        """Continue from a checkpoint written by :meth:`train`: state, iteration, history, draws, last trial.

        The trainer must have been made as the one that wrote it (same configuration and feedback);
        training on from here gives the numbers of a training that never stopped (e-prop draws no random
        numbers, and a sampler is asked for the same draws).

        Returns
        -------
        int
            The iteration the training goes on from.
        """
        arrays, meta = load_parameters(path)
        if meta.get("rule") != "e-prop" or "checkpoint_iteration" not in meta:
            raise ValueError(f"'{path}' is not a checkpoint of an e-prop trainer")
        if meta.get("feedback") != self.feedback:
            raise ValueError(f"the checkpoint was written with feedback {meta.get('feedback')!r}, this trainer has "
                             f"{self.feedback!r}")
        state = {name[len("state."):]: np.asarray(value, dtype=float) for name, value in arrays.items()
                 if name.startswith("state.")}
        if set(state) != set(self.state) or any(state[k].shape != self.state[k].shape for k in state):
            raise ValueError(f"the checkpoint '{path}' belongs to a network of another size or configuration")
        if meta.get("synapse_order", "post-major") != eprop.SYNAPSE_ORDER:  # written before the reordering
            state = _reordered(state, eprop.post_major_connectivity(self.config), self.connectivity)
        self.state = state
        self.iteration = int(meta["checkpoint_iteration"])
        self.history = list(meta["history"])
        self._draws = int(meta.get("draws", 0) or 0)
        groups = sorted({name.split(".")[1] for name in arrays if name.startswith("spikes.")})
        self.last_spikes = {group: (np.asarray(arrays[f"spikes.{group}.i"]), np.asarray(arrays[f"spikes.{group}.t_s"]))
                            for group in groups} or None
        output = {name[len("output."):]: np.asarray(value) for name, value in arrays.items()
                  if name.startswith("output.")}
        self.last_output = output or None
        return self.iteration

    def _keep_last_trial(self, model, n_now):
        """Spikes and readout of the last trained trial of the last run."""
        cfg = self.config
        trial = n_now * cfg.batch_size - 1
        t0 = float(trial * cfg.n_steps * cfg.dt)
        t1 = t0 + float(cfg.n_steps * cfg.dt)
        spikes = {}
        for label, monitor in (("inputs", model.spike_monitor_inputs),
                               ("recurrent", model.spike_monitor_recurrent)):
            if monitor is None:
                continue
            times = np.asarray(monitor.t[:], dtype=float)
            indices = np.asarray(monitor.i[:])
            keep = (times >= t0 - 1e-9) & (times < t1 - 1e-9)
            spikes[label] = (indices[keep], times[keep] - t0)
        self.last_spikes = spikes
        if model.output_monitor is not None:
            steps = slice(trial * cfg.n_steps, (trial + 1) * cfg.n_steps)
            self.last_output = {
                "t": np.arange(cfg.n_steps) * float(cfg.dt),
                "y": np.asarray(model.output_monitor.y[:, steps], dtype=float),
                "y_target": np.asarray(model.output_monitor.y_target[:, steps], dtype=float),
            }
        if model.recurrent_monitor is not None:
            steps = slice(trial * cfg.n_steps, (trial + 1) * cfg.n_steps)
            self.last_recurrent = {
                "neurons": np.asarray(model.recurrent_monitor.record),
                "v": np.asarray(model.recurrent_monitor.v[:, steps] / b2.volt, dtype=float),
                "a": np.asarray(model.recurrent_monitor.a[:, steps], dtype=float),
            }

    def gradients(self, trials=None):
        """e-prop gradients of the current weights, averaged over the trials of one run.

        Runs without applying updates, on ``trials`` (a task dict of one run's trials) or on
        the trials of the last run; returns ``w_in``, ``w_rec``, ``w_out`` gradient matrices
        (``[post, pre]``, zero where unconnected) and the per-iteration metrics.
        """
        if trials is not None:
            trials = check_task_arrays(trials, self.config)
        model, new_state, metrics = self._run(self.state, np.zeros(self.iterations_per_run + 1), trials)
        self._keep_last_trial(model, self.iterations_per_run)
        conn, cfg = self.connectivity, self.config
        scale = 1.0 / self.n_trials
        grads = {
            "w_in": eprop.synapses_to_matrix(new_state["grad_in"] * scale, *conn["in"], (cfg.n_rec, cfg.n_in)),
            "w_rec": eprop.synapses_to_matrix(new_state["grad_rec"] * scale, *conn["rec"],
                                              (cfg.n_rec, cfg.n_rec)),
            "w_out": eprop.synapses_to_matrix(new_state["grad_out"] * scale, *conn["out"],
                                              (cfg.n_out, cfg.n_rec)),
        }
        return grads, metrics

    def set_learning_state(self, state):
        """Set any of ``w_in``, ``w_rec``, ``w_out`` and ``B`` in synapse order (as in ``self.state``).

        For drivers that keep the weights themselves (data-parallel training,
        :mod:`brian2learn.training.data_parallel`); :meth:`weights` gives them as matrices.
        """
        for name, value in state.items():
            if name not in ("w_in", "w_rec", "w_out", "B"):
                raise ValueError(f"unknown learning state {name!r}; allowed: w_in, w_rec, w_out, B")
            value = np.asarray(value, dtype=float)
            if value.shape != self.state[name].shape or not np.all(np.isfinite(value)):
                raise ValueError(f"'{name}' must be {self.state[name].shape[0]} finite values, got shape {value.shape}")
            self.state[name] = value.copy()

    def gradient_sums(self, trials):
        """Gradients summed over ``trials`` (one run's worth, a task dict), without learning.

        Returns
        -------
        (dict, dict)
            ``in``/``rec``/``out`` -> the gradient summed over the trials, in synapse order (the
            networks' ``grad`` variables), and metric -> its sum over the trials. Unlike
            :meth:`gradients` nothing is averaged or reshaped, so that gradients of several
            processes can be added (:mod:`brian2learn.training.data_parallel`).
        """
        arrays = check_task_arrays(trials, self.config)
        if arrays[0].shape[0] != self.n_trials:
            raise ValueError(f"this trainer runs {self.n_trials} trials per run, got {arrays[0].shape[0]}")
        _, new_state, metrics = self._run(self.state, np.zeros(self.iterations_per_run + 1), arrays)
        sums = {key: new_state[f"grad_{key}"] for key in ("in", "rec", "out")}
        return sums, {name: float(np.sum(values)) * self.config.batch_size for name, values in metrics.items()}

    def evaluate(self, n_runs=1, trials=None):
        """Loss, rate and error of the current weights on fresh trials, without learning.

        Parameters
        ----------
        n_runs : int
            Runs of fresh trials from the sampler (each ``iterations_per_run * batch_size``
            trials); ignored when ``trials`` is given.
        trials : dict or None
            A task dict of one run's trials.

        Returns
        -------
        dict
            Means over all evaluated trials: ``loss``, ``reg_loss``, ``rate_hz`` (and ``error``).
        """
        if trials is not None:
            batches = [check_task_arrays(trials, self.config)]
        elif self.sampler is not None:
            batches = [self._sample(self.n_trials) for _ in range(n_runs)]
        else:
            batches = [self.trials]
        collected = {}
        for batch in batches:
            _, _, metrics = self._run(self.state, np.zeros(self.iterations_per_run + 1), batch)
            for key, value in metrics.items():
                collected.setdefault(key, []).append(np.mean(value))
        return {key: float(np.mean(values)) for key, values in collected.items()}



def record_trials(config, weights, inputs, device="cpp_standalone", directory=None, timing=None):
    """Readout and recurrent spikes of the network ``weights`` on the trials ``inputs``, without learning.

    Parameters
    ----------
    config : EpropConfig
    weights : dict
        ``w_in``, ``w_rec``, ``w_out`` as ``[post, pre]`` matrices (volt for the first two, as numbers).
    inputs : array (trials, n_steps, n_in)
        Input spikes (0 or 1) of each trial; every trial starts from rest.
    timing : dict or None
        If given, receives ``build_seconds`` (code generation and compile, or the cached build) and
        ``run_seconds`` (the simulation).

    Returns
    -------
    y : array (trials, n_out, n_steps)
        The readout's membrane (before a softmax).
    spikes : list of (neurons, steps)
        The recurrent spikes of each trial, sorted by step, then neuron.
    """
    inputs = np.asarray(inputs, dtype=float)
    if inputs.ndim != 3 or inputs.shape[1:] != (config.n_steps, config.n_in):
        raise ValueError(f"'inputs' must have shape (trials, {config.n_steps}, {config.n_in}), got {inputs.shape}")
    n_trials = inputs.shape[0]
    single = dataclasses.replace(config, batch_size=1)  # the forward pass does not depend on the batch
    task = {"inputs": inputs, "targets": np.zeros((n_trials, config.n_steps, config.n_out)),
            "window": np.zeros((n_trials, config.n_steps))}
    trainer = EpropTrainer(single, weights, task, feedback="symmetric", device=device, iterations_per_run=n_trials,
                           directory=directory)
    try:
        model, _, _ = trainer._run(trainer.state, np.zeros(n_trials + 1))
        steps = config.n_steps
        y = np.asarray(model.output_monitor.y[:, :n_trials * steps], dtype=float).reshape(config.n_out, n_trials, steps)
        step_of_spike = np.rint(np.asarray(model.spike_monitor_recurrent.t[:] / config.dt)).astype(np.int64)
        neurons = np.asarray(model.spike_monitor_recurrent.i[:], dtype=np.int64)
        if timing is not None:
            timing.update(build_seconds=trainer.runner.compile_seconds, run_seconds=trainer.runner.run_seconds)
    finally:
        trainer.close()
    trial, step = np.divmod(step_of_spike, steps)
    spikes = []
    for index in range(n_trials):
        mine = trial == index
        order = np.lexsort((neurons[mine], step[mine]))
        spikes.append((neurons[mine][order], step[mine][order]))
    return y.transpose(1, 0, 2), spikes


def timed(function, *args, **kwargs):
    """``(result, seconds)`` of a call."""
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start
