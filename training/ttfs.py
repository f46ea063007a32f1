"""Training of a feed-forward time-to-first-spike network (Göltz, Kriener et al. 2021, Nat Mach Intell 3:823).

The exact spike-time gradients are :mod:`brian2learn.plasticity.ttfs`; the forward pass is closed
form (:func:`~brian2learn.plasticity.ttfs.analytic_forward`) or a Brian2 simulation (the substrate
in the loop). :class:`TTFSTrainer` trains in mini-batches with the shared optimizer
(:mod:`brian2learn.plasticity.optimizers`), and :meth:`TTFSTrainer.train` runs its epochs on the one
run loop (:mod:`brian2learn.training.loop`): progress, divergence (non-finite loss or weights) and
the last good weights saved like every other rule.
"""

import time

import numpy as np
import pandas as pd

from brian2learn.plasticity import ttfs
from brian2learn.simulation.files import save_parameters
from brian2learn.training.loop import Chunk, TrainingDivergedError, TrainingLoop, check_count


class TTFSTrainer:
    """Mini-batch training of a feed-forward TTFS network with exact spike-time gradients.

    ``forward(t_in, weights)`` returns the spike times of every layer, the (possibly rounded)
    input times first: :func:`~brian2learn.plasticity.ttfs.analytic_forward` or a simulation. The gradient is always
    computed from these times with :func:`~brian2learn.plasticity.ttfs.spike_time_gradients`. A forward pass that runs
    other weights than it is given (a substrate with quantised weights) says so with a method
    ``realised_weights(weights)``; the gradient is then taken at the realised weights and
    applied to the trainer's full-precision weights (the straight-through estimator of
    Bengio, Léonard & Courville 2013, arXiv:1308.3432), so that updates smaller than one
    quantisation step accumulate instead of being rounded away.
    """

    def __init__(self, config, weights, forward=None):
        self.config = config
        expected = list(zip(config.layer_sizes[:-1], config.layer_sizes[1:]))
        if len(weights) != len(expected):
            raise ValueError(f"'weights' must hold {len(expected)} matrices, got {len(weights)}")
        for index, (w, shape) in enumerate(zip(weights, expected)):
            if np.shape(w) != shape:
                raise ValueError(f"'weights[{index}]' must have shape {shape}, got {np.shape(w)}")
        self.weights = [np.array(w, dtype=float) for w in weights]
        self.forward = forward or ttfs.analytic_forward(config)
        self.optimizer_state = config.optimizer_spec().init_state(dict(enumerate(self.weights)))
        self.epoch = 0
        self.n_bumps = 0

    def learning_rate(self, epoch=None):
        epoch = self.epoch if epoch is None else epoch
        return self.config.optimizer_spec().rate(step=epoch)

    def gradients(self, t_in, labels, times=None):
        """Loss per sample, weight gradients and spike times of one batch."""
        cfg = self.config
        times = self.forward(t_in, self.weights) if times is None else times
        loss, dloss = ttfs.loss_and_gradient(times[-1], labels, cfg.xi, cfg.alpha, cfg.beta, cfg.t_missing)
        realised = getattr(self.forward, "realised_weights", None)
        weights = self.weights if realised is None else realised(self.weights)
        grads, _ = ttfs.backward(times[0], weights, times[1:], dloss, cfg.tau_ratio, cfg.min_slope)
        return loss, grads, times

    def train_batch(self, t_in, labels):
        """One step: forward, gradient (clipped per neuron) with Adam, then bump silent layers."""
        cfg = self.config
        loss, grads, times = self.gradients(t_in, labels)
        grads = [ttfs.clip_per_neuron(g, cfg.max_grad_norm) for g in grads]
        new, self.optimizer_state = self.config.optimizer_spec().step(
            dict(enumerate(self.weights)), dict(enumerate(grads)), self.optimizer_state, schedule_step=self.epoch)
        for layer, w in new.items():
            self.weights[layer][...] = w  # in place, as before
        bumped = ttfs.bump_silent_neurons(self.weights, times[1:], cfg.max_missing, cfg.weight_bump)
        self.n_bumps += int(bool(bumped))
        return loss, times, bumped

    def train_epoch(self, t_in, labels, rng):
        """One epoch over shuffled mini-batches; returns mean loss, accuracy and bump count."""
        order = rng.permutation(len(labels))
        losses, correct, bumps = [], 0, 0
        for start in range(0, len(order), self.config.batch_size):
            batch = order[start:start + self.config.batch_size]
            loss, times, bumped = self.train_batch(t_in[batch], labels[batch])
            losses.append(loss)
            prediction, _ = ttfs.classify(times[-1])
            correct += int(np.sum(prediction == labels[batch]))
            bumps += int(bool(bumped))
        self.epoch += 1
        return {"loss": float(np.mean(np.concatenate(losses))), "accuracy": correct / len(labels),
                "bumped_batches": bumps}

    def evaluate(self, t_in, labels, batch_size=None):
        """Spike times of every layer, loss and accuracy on a data set (no learning)."""
        cfg = self.config
        batch_size = batch_size or max(cfg.batch_size, 1000)
        parts = [self.forward(t_in[s:s + batch_size], self.weights) for s in range(0, len(labels), batch_size)]
        times = [np.concatenate([p[layer] for p in parts]) for layer in range(len(parts[0]))]
        loss, _ = ttfs.loss_and_gradient(times[-1], labels, cfg.xi, cfg.alpha, cfg.beta, cfg.t_missing)
        prediction, t_decision = ttfs.classify(times[-1])
        return {"loss": float(np.mean(loss)), "accuracy": float(np.mean(prediction == labels)),
                "prediction": prediction, "t_decision": t_decision, "times": times}

    def train(self, n_epochs, t_in, labels, rng, validation=None, run_dir=None, progress=None):
        """Train for ``n_epochs`` epochs on the run loop (one epoch per step).

        Parameters
        ----------
        n_epochs : int
        t_in : array (n_samples, n_inputs)
            Input spike times (units of ``tau_s``).
        labels : array (n_samples,)
        rng : numpy.random.Generator
            Shuffles the mini-batches of every epoch.
        validation : (t_in, labels) or None
            Evaluated after every epoch (``validation_loss``, ``validation_accuracy``).
        run_dir : str or None
            Where the weights of the last good epoch are saved if training diverges.
        progress : callable or None
            ``progress(epochs_done, n_epochs, row)`` after every epoch.

        Returns
        -------
        pandas.DataFrame
            One row per epoch of this call: epoch (its 0-based index over the trainer's life),
            train_loss, train_accuracy, [validation_loss, validation_accuracy], learning_rate,
            bumped_batches, train_seconds, epoch_seconds.

        Raises
        ------
        TrainingDivergedError
            When an epoch's loss or weights turn non-finite; the trainer keeps the weights of the
            epoch before.
        """
        n_epochs = check_count("n_epochs", n_epochs)

        def step(weights, n_now, first):
            began = time.perf_counter()
            stats = self.train_epoch(t_in, labels, rng)
            train_seconds = time.perf_counter() - began
            finite = np.isfinite(stats["loss"]) and all(np.isfinite(w).all() for w in self.weights)
            row = {"epoch": first, "train_loss": stats["loss"], "train_accuracy": stats["accuracy"]}
            if finite and validation is not None:
                result = self.evaluate(*validation)
                row.update({"validation_loss": result["loss"], "validation_accuracy": result["accuracy"]})
            row.update({"learning_rate": self.learning_rate(first), "bumped_batches": stats["bumped_batches"],
                        "train_seconds": train_seconds, "epoch_seconds": time.perf_counter() - began})
            return Chunk(state=[w.copy() for w in self.weights], history=pd.DataFrame([row]),
                         losses=np.array([stats["loss"] if finite else np.nan]), progress=row)

        loop = TrainingLoop(step, 1, unit="epoch", save_weights=self._save_weights, loss_before_update=False)
        try:
            _, history = loop.run([w.copy() for w in self.weights], n_epochs, first=self.epoch, run_dir=run_dir,
                                  progress=progress)
        except TrainingDivergedError as error:
            self.weights = [w.copy() for w in error.state]
            raise
        return history

    @staticmethod
    def _save_weights(path, weights, epoch):
        save_parameters(path, {**{f"w_{k}": w for k, w in enumerate(weights)}, "epoch": epoch}, rule="TTFS")
