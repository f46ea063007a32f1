"""Training of sequence models by a loss over every step (framewise classification), in JAX.

One loop for the adaptive SRNNs (:class:`~brian2learn.plasticity.srnn_bptt.SrnnObjective`) and their non-spiking
peers (:mod:`~brian2learn.plasticity.rnn_baselines`): an *objective* says what is trained (``groups``: name ->
initial array; ``loss(groups, x, y) -> (loss, (logits, spike_count))``, traceable by JAX; ``spec``: the
:class:`~brian2learn.plasticity.optimizers.OptimizerSpec`; ``check(groups, epoch)``; ``n_units``), the trainer
runs epochs of shuffled mini-batches, one ``jit``-compiled update per batch shape, with the learning-rate
schedule stepped per epoch.
"""

import math
import time

import numpy as np

from brian2learn.plasticity.optimizers import jax_step

DTYPES = ("float32", "float64")


def _jax():
    import jax

    jax.config.update("jax_enable_x64", True)
    return jax


class FramewiseTrainer:
    """Epochs of mini-batch BPTT on an objective (module docstring).

    Parameters
    ----------
    objective : object
        With ``groups``, ``loss``, ``spec``, ``check``, ``n_in``, ``n_out``, ``n_units``.
    batch_size : int
    seed : int
        Seed of the batch order: epoch ``k`` shuffles with ``numpy.random.default_rng([seed, k])``.
    scored_from : int
        First step that counts in the accuracy.
    dtype : {'float32', 'float64'}
        Precision of the training (parameters, optimizer state, data). float32 trains about 1.5 times faster on
        this CPU; evaluation (the models' ``evaluate``) is float64 in any case.

    Attributes
    ----------
    epoch : int
        Epochs done.
    history : list of dict
        One row per epoch: ``loss`` (per scored step), ``train_accuracy``, ``spikes_per_unit_step``
        (0 for non-spiking models), ``seconds``.
    """

    def __init__(self, objective, batch_size, seed, scored_from, dtype="float32"):
        if dtype not in DTYPES:
            raise ValueError(f"unknown dtype {dtype!r}; allowed: {', '.join(DTYPES)}")
        jax = _jax()
        jnp = jax.numpy
        self.dtype = dtype
        self.objective = objective
        self.batch_size, self.seed, self.scored_from = int(batch_size), int(seed), int(scored_from)
        spec, loss = objective.spec, objective.loss

        def update(groups, opt_state, epoch, x, y):
            (value, (logits, spikes)), grads = jax.value_and_grad(loss, has_aux=True)(groups, x, y)
            groups, opt_state = jax_step(spec, groups, grads, opt_state, schedule_step=epoch)
            correct = jnp.sum(jnp.argmax(logits[:, scored_from:], axis=-1) == y[:, scored_from:])
            return groups, opt_state, value, correct, spikes

        self._update = jax.jit(update)
        self.groups = {name: jnp.asarray(value, dtype=dtype) for name, value in objective.groups.items()}
        self._opt_state = jax.tree_util.tree_map(
            lambda value: jnp.asarray(value, dtype=dtype),
            spec.init_state({name: np.asarray(value) for name, value in objective.groups.items()}))
        self.epoch = 0
        self.history = []

    def train_epoch(self, x, y):
        """One epoch over ``x`` (n, T, n_in), ``y`` (n, T); returns its history row."""
        from brian2learn.plasticity.srnn_bptt import check_data

        x, y = check_data(self.objective.n_in, self.objective.n_out, x, y, "train")
        x = x.astype(self.dtype)
        order = np.random.default_rng([self.seed, self.epoch]).permutation(len(x))
        start = time.perf_counter()
        loss_sum, correct, spikes, n_batches = 0.0, 0, 0.0, 0
        for first in range(0, len(x), self.batch_size):
            index = order[first:first + self.batch_size]
            self.groups, self._opt_state, loss, n_correct, n_spikes = self._update(
                self.groups, self._opt_state, float(self.epoch), x[index], y[index])
            loss_sum += float(loss)
            correct += int(n_correct)
            spikes += float(n_spikes)
            n_batches += 1
        self.objective.check(self.groups, self.epoch)
        scored = x.shape[1] - self.scored_from
        row = {"epoch": self.epoch, "loss": loss_sum / n_batches / scored,
               "train_accuracy": correct / (len(x) * scored),
               "spikes_per_unit_step": spikes / (len(x) * x.shape[1] * self.objective.n_units),
               "seconds": time.perf_counter() - start}
        if not math.isfinite(row["loss"]):
            raise FloatingPointError(f"epoch {self.epoch}: the loss is not finite")
        self.epoch += 1
        self.history.append(row)
        return row

    def parameters(self):
        """The model's parameters now (numpy float64)."""
        return {name: np.asarray(value, dtype=float) for name, value in
                self.objective.parameters(self.groups).items()}
