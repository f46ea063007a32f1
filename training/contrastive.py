"""Training of a contrastive network (CHL, EP, symmetric EP; :mod:`brian2learn.plasticity.contrastive`).

Epochs run chunk by chunk on :class:`~brian2learn.training.loop.TrainingLoop`: a run of the compiled
network holds ``epochs_per_run`` epochs (each a fresh seeded permutation of the training set, cut to a
whole number of batches), the weights travelling between runs by ``run_args``. Every example records its
free-phase outputs before its batch's update and whether its phases settled; an epoch's row holds the mean
loss :math:`\\tfrac12\\|V_{out} - d\\|^2`, the accuracy, the count of unsettled examples and the largest
:math:`|\\Delta u|` at the end of a phase. The test set runs
through the same build with the learning rate 0 (:meth:`ContrastiveTrainer.evaluate`).
"""

import dataclasses
import time

import numpy as np
import pandas as pd

from brian2learn.plasticity import contrastive as cl
from brian2learn.simulation.devices import DeviceRunner, RunnerHolder
from brian2learn.simulation.files import save_parameters
from brian2learn.training.loop import Chunk, TrainingLoop, check_count


def example_traces(config, weights, x, target, schedule=None, cycles=None):
    """Activity of every unit through one example, recorded on the runtime device (no learning).

    Returns ``(steps, V (steps, n_units), phase signal)``; the signal is +1 while the teacher (clamp or +beta)
    is on, -1 under the nudge -beta, 0 in a free phase. ``schedule`` and ``cycles`` replace the config's.
    """
    changes = {"batch_size": 1}
    if schedule is not None:
        changes["schedule"] = schedule
        if schedule != "oscillating":
            changes["onset_steps"] = None
    if cycles is not None:
        changes["cycles"] = cycles
    config = dataclasses.replace(config, **changes)
    runner = DeviceRunner(lambda: config.network(1, record_traces=True, name="traces"),
                          device="runtime", announce=False)
    with runner:
        model = runner.run(cl.run_values(config, weights, 0.0),
                           {"example_values": cl.example_values(config, np.asarray(x)[None],
                                                                np.asarray(target)[None])})
        v = np.asarray(model.trace_monitor.V, dtype=float).T[:config.steps_per_example].copy()
    plan = cl.phase_schedule(config)
    signal = plan["clamp"] + np.sign(plan["nudge"]) if config.rule != "chl" else plan["clamp"]
    return np.arange(len(v)), v, signal


def accuracy(outputs, targets):
    """Fraction correct: the largest output is the target's (several outputs), or output > 0.5 (one)."""
    outputs, targets = np.asarray(outputs), np.asarray(targets)
    if outputs.shape[1] == 1:
        return float(np.mean((outputs[:, 0] > 0.5) == (targets[:, 0] > 0.5)))
    return float(np.mean(np.argmax(outputs, axis=1) == np.argmax(targets, axis=1)))


class ContrastiveTrainer(RunnerHolder):
    """Train a contrastive network on a data set, ``epochs_per_run`` epochs per run of one build.

    Parameters
    ----------
    config : ContrastiveConfig
    weights : dict
        ``w`` (symmetric, n x n) and ``b`` (n,): :func:`~brian2learn.plasticity.contrastive.initial_weights`.
    inputs, targets : arrays (n_examples, n_in), (n_examples, n_out)
    learning_rate : float
    epochs_per_run : int
    seed : int
        Seed of the epochs' permutations.
    device : {'cpp_standalone', 'runtime'}
    directory : str or None
    """

    def __init__(self, config, weights, inputs, targets, learning_rate, epochs_per_run=1, seed=0,
                 device="cpp_standalone", directory=None):
        self.config = config
        self.weights = cl.check_weights(config, weights)
        self.values = cl.example_values(config, inputs, targets)
        self.targets = np.asarray(targets, dtype=float)
        if not (np.isfinite(learning_rate) and learning_rate > 0):
            raise ValueError(f"'learning_rate' must be a positive number, got {learning_rate!r}")
        self.learning_rate = float(learning_rate)
        self.epochs_per_run = check_count("epochs_per_run", epochs_per_run)
        self.per_epoch = (len(self.values) // config.batch_size) * config.batch_size
        if self.per_epoch == 0:
            raise ValueError(f"the training set ({len(self.values)} examples) is smaller than one batch "
                             f"({config.batch_size})")
        self.rng = np.random.default_rng(seed)
        self.epoch = 0
        self.history = []
        self.train_seconds = 0.0
        n_run = self.per_epoch * self.epochs_per_run
        self.runner = DeviceRunner(lambda: config.network(n_run), device=device, directory=directory)
        self._loop = TrainingLoop(self._step, self.epochs_per_run, unit="epoch", save_weights=self._save_weights,
                                  loss_before_update=False)

    @property
    def examples_per_run(self):
        return self.per_epoch * self.epochs_per_run

    def _run(self, weights, values, eta):
        model = self.runner.run(cl.run_values(self.config, weights, eta),
                                {"example_values": values})
        n = len(values)
        free = np.asarray(model.free_monitor.V_free, dtype=float)[:, 1:n + 1].T  # (examples, units)
        if "du_end" in model.free_monitor.record_variables:
            du_end = np.asarray(model.free_monitor.du_end, dtype=float)[:, 1:n + 1].T
        else:  # a spiking network does not settle: not measured
            du_end = np.full((n, self.config.n_units), np.nan)
        new = {"w": cl.weight_matrix(self.config, np.asarray(model.synapses.w[:], dtype=float)),
               "b": np.asarray(model.units.b[:], dtype=float).copy()}
        self.last_spikes = None
        if "spikes" in model.free_monitor.record_variables:  # spiking units: spikes of each unit per example
            self.last_spikes = np.asarray(model.free_monitor.spikes, dtype=float)[:, 1:n + 1].T.copy()
        return new, free[:, self.config.n_units - self.config.n_out:], du_end.max(axis=1)

    def _step(self, weights, n_now, first):
        orders = [self.rng.permutation(len(self.values))[:self.per_epoch] for _ in range(self.epochs_per_run)]
        values = np.concatenate([self.values[order] for order in orders])
        start = time.perf_counter()
        new, outputs, settle = self._run(weights, values, self.learning_rate)
        seconds = time.perf_counter() - start
        rows, losses = [], []
        for k in range(self.epochs_per_run):
            part = slice(k * self.per_epoch, (k + 1) * self.per_epoch)
            targets = self.targets[orders[k]]
            loss = float(np.mean(0.5 * np.sum((outputs[part] - targets) ** 2, axis=1)))
            losses.append(loss)
            rows.append({"epoch": first + k, "loss": loss, "accuracy": accuracy(outputs[part], targets),
                         "unsettled": int(np.sum(settle[part] > self.config.settle_tolerance)),
                         "max_phase_end_du": float(np.max(settle[part])),
                         "seconds": seconds / self.epochs_per_run, **self._spike_counts(part)})
        if n_now < self.epochs_per_run:  # the last chunk: only the epochs asked for count
            rows, losses = rows[:n_now], losses[:n_now]
        return Chunk(state=new, history=pd.DataFrame(rows), losses=np.asarray(losses))

    def _spike_counts(self, part):
        """Spikes and synaptic events (spikes times outgoing synapses) per example of ``part`` (spiking units)."""
        if self.last_spikes is None:
            return {}
        pre, _ = cl.synapse_indices(self.config)
        fan_out = np.bincount(pre, minlength=self.config.n_units)
        spikes = self.last_spikes[part]
        return {"spikes_per_example": float(spikes.sum(axis=1).mean()),
                "synaptic_events_per_example": float((spikes @ fan_out).mean())}

    def train(self, n_epochs, progress=None, run_dir=None):
        """Train ``n_epochs`` epochs (a multiple of ``epochs_per_run``); returns the history."""
        n_epochs = check_count("n_epochs", n_epochs)
        if n_epochs % self.epochs_per_run:
            raise ValueError(f"'n_epochs' = {n_epochs} must be a multiple of epochs_per_run = {self.epochs_per_run}")
        start = time.perf_counter()
        try:
            self.weights, frame = self._loop.run(self.weights, n_epochs, first=self.epoch, run_dir=run_dir,
                                                 progress=progress)
        finally:
            self.train_seconds += time.perf_counter() - start
        self.history.extend(frame.to_dict("records"))
        self.epoch += n_epochs
        return pd.DataFrame(self.history)

    def evaluate(self, inputs, targets):
        """Free-phase outputs, loss, accuracy and unsettled count on a data set (no learning: eta = 0)."""
        values = cl.example_values(self.config, inputs, targets)
        targets = np.asarray(targets, dtype=float)
        size = self.examples_per_run
        outputs, settle = [], []
        for start in range(0, len(values), size):
            part = values[start:start + size]
            padded = np.concatenate([part, np.repeat(part[-1:], size - len(part), axis=0)])
            _, out, du = self._run(self.weights, padded, 0.0)
            outputs.append(out[:len(part)])
            settle.append(du[:len(part)])
        outputs, settle = np.concatenate(outputs), np.concatenate(settle)
        return {"outputs": outputs, "loss": float(np.mean(0.5 * np.sum((outputs - targets) ** 2, axis=1))),
                "accuracy": accuracy(outputs, targets),
                "unsettled": int(np.sum(settle > self.config.settle_tolerance))}

    def _save_weights(self, path, weights, epoch):
        save_parameters(path, {**weights, "epoch": epoch}, rule=self.config.rule,
                        model=dataclasses.asdict(self.config))
