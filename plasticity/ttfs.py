"""Exact gradients of first-spike times and their training rule (Göltz, Kriener et al. 2021).

Göltz et al. (2021), "Fast and energy-efficient neuromorphic deep learning with first-spike
times", Nat Mach Intell 3:823-835, doi:10.1038/s42256-021-00388-x (Methods: gradients,
loss and training).
Re-implemented from the equations; natural units as in :mod:`brian2learn.models.ttfs` (time
in ``tau_s``, weights in ``g_l (v_th - E_l)``, threshold ``theta``).

Derivatives of a spike time
---------------------------
A neuron spikes at ``t*`` where :math:`u(t^*) = \\sum_{i \\in C} w_i \\varepsilon(t^* - t_i) = \\theta`,
``C`` its causal set (inputs with ``t_i < t*``). The implicit function theorem gives, with the
slope :math:`\\dot u(t^*) = \\sum_{i \\in C} w_i \\varepsilon'(t^* - t_i) > 0`,

.. math::

    \\frac{\\partial t^*}{\\partial w_i} = -\\frac{\\varepsilon(t^* - t_i)}{\\dot u(t^*)}, \\qquad
    \\frac{\\partial t^*}{\\partial t_i} = \\frac{w_i\\, \\varepsilon'(t^* - t_i)}{\\dot u(t^*)},

zero for inputs outside ``C``. These are the derivatives of the closed forms of
:func:`brian2learn.models.ttfs.first_spike_times` (Lambert W for ``tau_m = tau_s``, the
logarithm for ``tau_m = 2 tau_s``), and :math:`\\sum_i \\partial t^*/\\partial t_i = 1` (shifting
every input shifts the spike). A neuron that does not spike (``t* = inf``) gets no gradient and
passes none to its inputs; an input that does not spike gets none either. When the times come
from a simulation on a time grid (the Brian2 substrate), a slope ``<= min_slope`` can occur at a
recorded time; such spikes get no gradient either.

Backpropagation through layers: with :math:`\\delta^{(l)}_n = \\partial L / \\partial t^{(l)}_n`,
:math:`\\partial L / \\partial w^{(l)}_{kn} = \\sum_b \\delta^{(l)}_{bn}\\, \\partial t^{(l)}_{bn}/\\partial w_{kn}` and
:math:`\\delta^{(l-1)}_{bk} = \\sum_n \\delta^{(l)}_{bn}\\, \\partial t^{(l)}_{bn} / \\partial t^{(l-1)}_{bk}`.

Loss
----
For output spike times ``t`` (in ``tau_s``) and label ``n*`` (the form of Göltz et al.),

.. math::

    L = -\\log \\frac{e^{-t_{n^*}/\\xi}}{\\sum_n e^{-t_n/\\xi}}
        + \\alpha \\left(e^{t_{n^*}/\\beta} - 1\\right),

averaged over the batch, with ``xi = 0.2``, ``alpha = 0.005``, ``beta = 1`` (all times in
``tau_s``). A missing output spike enters the loss as ``t_missing`` (the value is only reported;
it has no gradient).

Stabilizers (Methods of the paper, our implementation)
------------------------------------------------------
- per-neuron gradient clipping: the gradient of the weights into one neuron (a column) is
  scaled to a norm of at most ``max_grad_norm``;
- weight bumping: when the fraction of missing spikes of a layer in a batch exceeds
  ``max_missing[l]``, the weights into each neuron of that layer that missed a spike in the
  batch are raised by ``weight_bump``, after the gradient step of that batch (skipping the
  step instead, more than half of the Yin-Yang batches went without learning, and the
  validation accuracy after 40 epochs was 93.3 % instead of 94.0 %, seed 1);
- Adam (learning rate ``5e-3``), multiplied by ``lr_decay`` every ``lr_decay_every`` epochs
  (:meth:`TTFSConfig.optimizer_spec`, the numpy form of :mod:`brian2learn.plasticity.optimizers`).
"""

from dataclasses import dataclass

import numpy as np

from brian2learn.models import ttfs as ttfs_model
from brian2learn.plasticity import optimizers


@dataclass
class TTFSConfig:
    """Network, loss and optimizer settings (defaults: the Yin-Yang network of Göltz, Kriener et al. 2021)."""

    layer_sizes: tuple = (5, 120, 3)  # inputs (4 features + bias), hidden, outputs
    tau_ratio: int = 1  # tau_m / tau_s
    theta: float = 1.0  # threshold, natural units
    xi: float = 0.2  # softmax temperature of the loss, tau_s
    alpha: float = 0.005  # weight of the term pushing the correct output early
    beta: float = 1.0  # time scale of that term, tau_s
    learning_rate: float = 5e-3
    batch_size: int = 150
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_epsilon: float = 1e-8
    adam_epsilon_form: str = "kingma_ba"  # where epsilon enters Adam, see plasticity.optimizers
    lr_decay: float = 0.95  # learning rate factor every lr_decay_every epochs
    lr_decay_every: int = 20
    max_grad_norm: float = 0.2  # per-neuron gradient clipping
    max_missing: tuple = (0.3, 0.0)  # tolerated fraction of missing spikes per layer
    weight_bump: float = 5e-3  # raise of the weights into silent neurons
    weight_init: tuple = ((1.5, 0.8), (0.5, 0.8))  # (mean, std) of each layer's Gaussian weights
    t_missing: float = 5.0  # time that a missing output spike takes in the (reported) loss, tau_s
    min_slope: float = 0.0  # spikes with a smaller slope du/dt get no gradient

    def __post_init__(self):
        sizes = tuple(self.layer_sizes)
        if len(sizes) < 2 or any(not isinstance(n, (int, np.integer)) or n < 1 for n in sizes):
            raise ValueError(f"'layer_sizes' must hold at least two positive integers, got {self.layer_sizes!r}")
        self.layer_sizes = tuple(int(n) for n in sizes)
        ttfs_model.check_tau_ratio(self.tau_ratio)
        for name in ("theta", "xi", "beta", "learning_rate", "adam_epsilon", "max_grad_norm", "lr_decay"):
            value = getattr(self, name)
            if not np.isfinite(value) or value <= 0:
                raise ValueError(f"'{name}' must be a positive number, got {value!r}")
        for name in ("alpha", "weight_bump", "min_slope", "t_missing"):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"'{name}' must be a non-negative number, got {value!r}")
        for name in ("adam_beta1", "adam_beta2"):
            value = getattr(self, name)
            if not 0 <= value < 1:
                raise ValueError(f"'{name}' must lie in [0, 1), got {value!r}")
        if not isinstance(self.batch_size, (int, np.integer)) or self.batch_size < 1:
            raise ValueError(f"'batch_size' must be a positive integer, got {self.batch_size!r}")
        if not isinstance(self.lr_decay_every, (int, np.integer)) or self.lr_decay_every < 1:
            raise ValueError(f"'lr_decay_every' must be a positive integer, got {self.lr_decay_every!r}")
        n_layers = len(self.layer_sizes) - 1
        if len(self.max_missing) != n_layers or any(not 0 <= m <= 1 for m in self.max_missing):
            raise ValueError(f"'max_missing' must hold {n_layers} fractions in [0, 1], got {self.max_missing!r}")
        if len(self.weight_init) != n_layers or any(len(pair) != 2 or pair[1] < 0 for pair in self.weight_init):
            raise ValueError(f"'weight_init' must hold {n_layers} (mean, std >= 0) pairs, got {self.weight_init!r}")
        self.optimizer_spec()

    def optimizer_spec(self):
        """Adam with the step schedule of the learning rate in epochs; groups are the layer indices."""
        return optimizers.OptimizerSpec(
            optimizer="adam", learning_rate=self.learning_rate, adam_beta1=self.adam_beta1,
            adam_beta2=self.adam_beta2, adam_epsilon=self.adam_epsilon, adam_epsilon_form=self.adam_epsilon_form,
            lr_schedule="step", lr_decay=self.lr_decay, lr_decay_every=self.lr_decay_every)


def initial_weights(config, seed):
    """Gaussian weights ``[(K_0, N_0), (N_0, N_1), ...]`` with the (mean, std) of ``config.weight_init``."""
    rng = np.random.default_rng(seed)
    sizes = config.layer_sizes
    return [rng.normal(mean, std, size=(n_pre, n_post))
            for (mean, std), n_pre, n_post in zip(config.weight_init, sizes[:-1], sizes[1:])]


def spike_time_gradients(t_in, w, t_out, tau_ratio=1, min_slope=0.0):
    """Exact derivatives of the spike times ``t_out`` of one layer.

    Parameters
    ----------
    t_in : array (batch, K)
        Input times (``inf``: no spike), ``tau_s``.
    w : array (K, N)
        Weights.
    t_out : array (batch, N)
        The layer's spike times (closed form, or recorded in a simulation).

    Returns
    -------
    dt_dw, dt_dtin : arrays (batch, K, N)
        :math:`\\partial t_{bn} / \\partial w_{kn}` and :math:`\\partial t_{bn} / \\partial t_{bk}`;
        zero outside the causal set and for neurons without a spike.
    """
    t_in = np.atleast_2d(np.asarray(t_in, dtype=float))
    t_out = np.atleast_2d(np.asarray(t_out, dtype=float))
    w = np.asarray(w, dtype=float)
    if w.ndim != 2 or w.shape[0] != t_in.shape[1] or t_out.shape != (t_in.shape[0], w.shape[1]):
        raise ValueError(f"shapes do not fit: t_in {t_in.shape}, w {w.shape}, t_out {t_out.shape}")
    with np.errstate(invalid="ignore"):
        s = t_out[:, None, :] - t_in[:, :, None]
    causal = np.isfinite(s) & (s > 0)
    s = np.where(causal, s, 0.0)
    eps = np.where(causal, ttfs_model.psp_kernel(s, tau_ratio), 0.0)
    deps = np.where(causal, ttfs_model.psp_kernel_derivative(s, tau_ratio), 0.0)
    slope = np.sum(w[None] * deps, axis=1)  # (B, N)
    ok = np.isfinite(t_out) & (slope > min_slope)
    inv = np.where(ok, 1.0 / np.where(ok, slope, 1.0), 0.0)[:, None, :]
    return -eps * inv, w[None] * deps * inv


def backward(t_in, weights, times, dloss_dtout, tau_ratio=1, min_slope=0.0):
    """Backpropagate ``dL/dt`` of the last layer through a feed-forward TTFS network.

    ``times`` are the spike times of each layer (as from
    :func:`brian2learn.models.ttfs.network_first_spike_times`, or recorded); returns the list of
    weight gradients (same shapes as ``weights``) and ``dL/dt_in``.
    """
    delta = np.asarray(dloss_dtout, dtype=float)
    grads = [None] * len(weights)
    for layer in range(len(weights) - 1, -1, -1):
        pre = t_in if layer == 0 else times[layer - 1]
        dt_dw, dt_dtin = spike_time_gradients(pre, weights[layer], times[layer], tau_ratio, min_slope)
        grads[layer] = np.einsum("bkn,bn->kn", dt_dw, delta)
        delta = np.einsum("bkn,bn->bk", dt_dtin, delta)
    return grads, delta


def loss_and_gradient(t_out, labels, xi=0.2, alpha=0.005, beta=1.0, t_missing=5.0):
    """Per-sample loss and the gradient of the batch-mean loss with respect to ``t_out``.

    Missing spikes (``inf``) count as ``t_missing`` in the loss and get zero gradient.
    """
    t_out = np.atleast_2d(np.asarray(t_out, dtype=float))
    labels = np.asarray(labels, dtype=int)
    if labels.shape != (t_out.shape[0],) or labels.min(initial=0) < 0 or labels.max(initial=0) >= t_out.shape[1]:
        raise ValueError(f"'labels' must be {t_out.shape[0]} integers in [0, {t_out.shape[1]}), got {labels!r}")
    finite = np.isfinite(t_out)
    t = np.where(finite, t_out, t_missing)
    logits = -t / xi
    shift = logits.max(axis=1, keepdims=True)
    exp = np.exp(logits - shift)
    log_norm = shift[:, 0] + np.log(exp.sum(axis=1))
    rows = np.arange(len(labels))
    t_label = t[rows, labels]
    loss = -(logits[rows, labels] - log_norm) + alpha * (np.exp(t_label / beta) - 1.0)
    p = exp / exp.sum(axis=1, keepdims=True)
    onehot = np.zeros_like(t)
    onehot[rows, labels] = 1.0
    grad = (onehot - p) / xi + onehot * (alpha / beta) * np.exp(t_label / beta)[:, None]
    grad = np.where(finite, grad, 0.0) / len(labels)
    return loss, grad


def classify(t_out):
    """Predicted class (index of the first output spike) and whether it is decided.

    Undecided: no output spike, or several outputs tie for the first time (possible on a time grid).
    Returns ``prediction`` (-1 if undecided), ``t_decision`` (``inf`` without any spike).
    """
    t_out = np.atleast_2d(np.asarray(t_out, dtype=float))
    first = np.argmin(t_out, axis=1)
    t_first = t_out[np.arange(len(t_out)), first]
    ties = np.sum(t_out == t_first[:, None], axis=1) > 1
    decided = np.isfinite(t_first) & ~ties
    return np.where(decided, first, -1), t_first


def clip_per_neuron(grad, max_norm):
    """Scale each column (the weights into one neuron) to a norm of at most ``max_norm``."""
    norms = np.linalg.norm(grad, axis=0)
    scale = np.minimum(1.0, max_norm / np.maximum(norms, 1e-300))
    return grad * scale[None, :]


def bump_silent_neurons(weights, times, max_missing, bump):
    """Raise the weights into neurons of layers with too many missing spikes (in place).

    Returns the indices of the layers that were bumped.
    """
    bumped = []
    for layer, (w, t) in enumerate(zip(weights, times)):
        missing = ~np.isfinite(t)
        if missing.mean() > max_missing[layer]:
            w[:, missing.any(axis=0)] += bump
            bumped.append(layer)
    return bumped


def analytic_forward(config):
    """A forward pass ``f(t_in, weights) -> [t_in, t_1, ..., t_L]`` in closed form."""
    def forward(t_in, weights):
        return [np.asarray(t_in, dtype=float)] + ttfs_model.network_first_spike_times(
            t_in, weights, tau_ratio=config.tau_ratio, theta=config.theta)
    return forward
