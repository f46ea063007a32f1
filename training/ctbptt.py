"""Training of a continuous-time RNN by continuous-time BPTT (Pearlmutter 1989), on the run loop.

The networks are :mod:`brian2learn.plasticity.ctbptt`. One iteration is one run of the compiled
forward network (the trajectory over the window, recorded) and one run of the compiled adjoint
network (the recorded trajectory reversed, the gradients accumulated in its synapses and units);
the parameters travel by ``run_args`` and Adam (:mod:`brian2learn.plasticity.optimizers`) updates
``W``, ``b`` and, when learned, the time constants.

Learned time constants: the optimizer works on :math:`\\log T_i` (the gradient
:math:`T_i\\, \\partial E/\\partial T_i`), so a time constant never changes sign, and after every
update :math:`T_i` is clamped to at least ``tau_min`` (default ``4 dt``), which keeps it above the
step of the grid.
"""

import dataclasses
import time

import numpy as np
import pandas as pd

from brian2learn.models import weight_levels
from brian2learn.models.weight_levels import check_levels
from brian2learn.plasticity import ctbptt
from brian2learn.plasticity.optimizers import OptimizerSpec
from brian2learn.simulation.devices import DeviceRunner, RunnerHolder
from brian2learn.simulation.files import save_parameters
from brian2learn.training.loop import Chunk, TrainingDivergedError, TrainingLoop, check_count


class CtbpttGradients(RunnerHolder):
    """The error and its gradient for given parameters: a forward and an adjoint run of one Brian2 build.

    Parameters
    ----------
    config : CtrnnConfig
    task : dict
        See :func:`~brian2learn.plasticity.ctbptt.check_task`.
    adjoint : {'discrete', 'continuous'}
    device : {'cpp_standalone', 'runtime'}
    directory : str or None
        The runner's directory (a temporary one if ``None``).
    """

    def __init__(self, config, task, adjoint="discrete", device="cpp_standalone", directory=None):
        if adjoint not in ctbptt.ADJOINTS:
            raise ValueError(f"unknown adjoint {adjoint!r}; allowed: {', '.join(ctbptt.ADJOINTS)}")
        self.config = config
        self.adjoint = adjoint
        self.stimuli = ctbptt.check_task(config, task)
        self.runner = DeviceRunner(lambda: ctbptt.CtbpttModel(config, adjoint), device=device, directory=directory)

    def forward(self, params):
        """``(E, record)``: the error and ``y``, ``x`` of grid points ``0 .. N`` as (N + 1, n) arrays."""
        params = ctbptt.check_parameters(self.config, params)
        model = self.runner.run(ctbptt.forward_values(self.config, params), self.stimuli).forward
        record = {"y": np.asarray(model.monitor.y, dtype=float).T.copy(),
                  "x": np.asarray(model.monitor.x, dtype=float).T.copy()}
        loss = float(np.sum(np.asarray(model.units.loss[:], dtype=float)))
        return loss, record

    def loss_and_gradients(self, params):
        """``(E, grads, record)``: ``grads`` has ``w`` (n, n), ``b``, ``tau`` (per second of ``T``) and ``y0``
        (NaN for the continuous flavour)."""
        params = ctbptt.check_parameters(self.config, params)
        loss, record = self.forward(params)
        model = self.runner.run(ctbptt.adjoint_values(self.config, params, prefix="adjoint_"),
                                ctbptt.adjoint_stimuli(record, self.stimuli)).adjoint
        grads = {"w": ctbptt.gradient_matrix(self.config, np.asarray(model.synapses.grad_w[:], dtype=float)),
                 "b": np.asarray(model.units.grad_b[:], dtype=float).copy(),
                 "tau": np.asarray(model.units.grad_tau[:], dtype=float).copy(),
                 "y0": np.asarray(model.units.lam[:], dtype=float).copy()}
        if self.adjoint == "continuous":
            # Heun's last step ran past t = 0; lambda^0 is the discrete flavour's gradient for y0 only
            grads["y0"] = np.full(self.config.n_units, np.nan)
        return loss, grads, record


class CtbpttTrainer(RunnerHolder):
    """Train ``W``, ``b`` and optionally the time constants of a continuous-time RNN by continuous-time BPTT.

    Parameters
    ----------
    config : CtrnnConfig
    params : dict
        ``w``, ``b``, ``tau`` (seconds), ``y0``: see :func:`~brian2learn.plasticity.ctbptt.check_parameters`.
    task : dict
        See :func:`~brian2learn.plasticity.ctbptt.check_task`.
    learn_tau : bool
        Learn the time constants (as :math:`\\log T`, clamped to ``>= tau_min``).
    optimizer : OptimizerSpec or None
        Default: Adam with learning rate 0.01 for every group.
    tau_min : float or None
        Smallest learned time constant in seconds (default ``4 dt``); must exceed ``dt``.
    adjoint : {'discrete', 'continuous'}
    iterations_per_chunk : int
        Iterations between progress reports and checkpoints.
    device, directory
        See :class:`CtbpttGradients`.
    weight_levels : dict or None
        ``'w'``, ``'b'`` -> ``(step, limit)`` (:mod:`brian2learn.models.weight_levels`): the network runs (forward
        and adjoint) with those held at discrete levels, the gradient at the held values updating the
        full-precision ones (straight-through). None: full precision.
    """

    def __init__(self, config, params, task, learn_tau=True, optimizer=None, tau_min=None, adjoint="discrete",
                 iterations_per_chunk=50, device="cpp_standalone", directory=None, weight_levels=None):
        self.config = config
        self.params = ctbptt.check_parameters(config, params)
        self.learn_tau = bool(learn_tau)
        self.optimizer = optimizer if optimizer is not None else OptimizerSpec("adam", learning_rate=0.01)
        dt = float(config.dt)
        self.tau_min = 4 * dt if tau_min is None else float(tau_min)
        if not (np.isfinite(self.tau_min) and self.tau_min > dt):
            raise ValueError(f"'tau_min' must exceed dt = {dt!r} s, got {tau_min!r}")
        self.weight_levels = check_levels(weight_levels, ("w", "b"))
        self.gradients = CtbpttGradients(config, task, adjoint=adjoint, device=device, directory=directory)
        self.runner = self.gradients.runner
        self.opt_state = None
        self.iteration = 0
        self.history = []
        self.last_record = None
        self.train_seconds = 0.0
        self._loop = TrainingLoop(self._step, iterations_per_chunk, unit="iteration", replay=self._replay,
                                  save_weights=self._save_weights)

    def _groups(self, params):
        groups = {"w": params["w"], "b": params["b"]}
        if self.learn_tau:
            groups["log_tau"] = np.log(params["tau"])
        return groups

    def _update(self, state, grads):
        params, opt_state = state
        groups = self._groups(params)
        group_grads = {"w": grads["w"], "b": grads["b"]}
        if self.learn_tau:
            group_grads["log_tau"] = grads["tau"] * params["tau"]
        new_groups, opt_state = self.optimizer.step(groups, group_grads, opt_state)
        new = dict(params, w=new_groups["w"], b=new_groups["b"])
        if self.learn_tau:
            new["tau"] = np.maximum(np.exp(new_groups["log_tau"]), self.tau_min)
        return new, opt_state

    def _step(self, state, n_now, first):
        rows, states, losses = [], [], []
        for k in range(n_now):
            start = time.perf_counter()
            loss, grads, record = self.gradients.loss_and_gradients(self.held(state[0]))
            seconds = time.perf_counter() - start
            losses.append(loss)
            if not np.isfinite(loss):
                break
            norm = float(np.sqrt(sum(np.sum(g ** 2) for name, g in grads.items() if name in ("w", "b"))))
            rows.append({"iteration": first + k, "loss": loss,
                         "rms_error": float(np.sqrt(2 * loss / self._error_weight_time())),
                         "grad_norm": norm, "tau_min_s": float(state[0]["tau"].min()),
                         "tau_max_s": float(state[0]["tau"].max()), "seconds": seconds})
            self.last_record = record
            state = self._update(state, grads)
            states.append(state)
        losses = np.asarray(losses + [np.nan] * (n_now - len(losses)))
        return Chunk(state=state, history=pd.DataFrame(rows), losses=losses, context=states)

    def held(self, params):
        """The parameters the network runs with: ``w`` and ``b`` at their levels (``weight_levels``)."""
        return {**params, **{name: weight_levels.held(params[name], step, limit)
                             for name, (step, limit) in self.weight_levels.items()}}

    def _error_weight_time(self):
        """``dt`` times the summed error weights: ``2 E`` over it is the mean squared error per output and time."""
        weights = self.gradients.stimuli["error_weight"][:, :self.config.n_out]
        return max(float(self.config.dt) * float(np.sum(weights)), 1e-300)

    def _replay(self, _start_state, n_updates, states):
        return states[n_updates - 1]

    def _save_weights(self, path, state, iteration):
        params = state[0]
        save_parameters(path, {**params, "iteration": iteration}, rule="continuous-time BPTT",
                        model=dataclasses.asdict(self.config))

    def train(self, n_iterations, progress=None, run_dir=None):
        """Train ``n_iterations``; returns the history: iteration, loss (E before the update), rms_error (the
        root mean square of ``y - d`` over the outputs and the weighted grid points), grad_norm (of W and b),
        tau range, seconds (of the iteration's two runs)."""
        n_iterations = check_count("n_iterations", n_iterations)
        start = time.perf_counter()
        try:
            (self.params, self.opt_state), frame = self._loop.run(
                (self.params, self.opt_state), n_iterations, first=self.iteration, run_dir=run_dir,
                progress=progress)
        except TrainingDivergedError as error:
            if error.history is not None:
                self.history.extend(error.history.to_dict("records"))
            self.params, self.opt_state = error.state
            raise
        finally:
            self.train_seconds += time.perf_counter() - start
        self.history.extend(frame.to_dict("records"))
        self.iteration += n_iterations
        return pd.DataFrame(self.history)
