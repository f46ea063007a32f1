"""Weight and node perturbation of a recurrent spiking network that learns from a reward alone.

The network is the discrete LIF/ALIF network with leaky readouts of :mod:`brian2learn.plasticity.bptt` (Bellec et
al. 2020), of which only the forward pass is used (JAX). It acts by a greedy choice, the readout with the largest
window-weighted sum, :math:`c = \\arg\\max_o \\sum_t m_t y_o^t`, and receives a reward :math:`r`, 1 when the choice
is the rewarded one and 0 otherwise. Nothing else of the task reaches the rule.
On a supervised task the same learner takes minus each trial's task loss as its reward (:func:`task_rewards`,
:meth:`RewardPerturbationLearner.update_with`): the perturbation rules then descend the loss that BPTT descends.

Both rules estimate the gradient of the expected reward from the change of reward a random perturbation causes,
measured against a reference pass of the unperturbed network on the same trial (Jabri & Flower's reference pass;
the reinforcement baseline of Williams 1992), and ascend it with Adam or plain gradient ascent
(:mod:`brian2learn.plasticity.optimizers`).

**Weight perturbation** (Jabri & Flower 1991, IEEE Trans Neural Netw 3:154, doi:10.1109/72.105429; every weight at
once, as in Cauwenberghs 1993, NIPS 5): trial :math:`k` of a batch of :math:`B` runs with its own perturbation
:math:`\\xi_k \\sim N(0, \\sigma_g^2 I)` of the weights of each group :math:`g` (``w_in``, ``w_rec``, ``w_out``;
:math:`\\sigma_g` is ``weight_sigma`` times the root mean square of the group's initial weights),

.. math::

    \\hat g_g = \\frac{1}{B} \\sum_k \\left(r_k(W + \\xi_k) - r_k(W)\\right) \\frac{\\xi_{k,g}}{\\sigma_g^2}.

**Node perturbation** (Fiete & Seung 2006, Phys Rev Lett 97:048104, doi:10.1103/PhysRevLett.97.048104; Williams
1992): white noise :math:`\\xi_j^t \\sim N(0, \\sigma^2)` is added to the input current of every recurrent neuron
(:math:`\\sigma` = ``current_sigma``, volts) and to the input of every readout (``readout_sigma``). A weight enters
its neuron's current as :math:`W_{ji}\\, p_i^t` (:math:`p`: the input spikes :math:`x^t`, the recurrent spikes
:math:`z^{t-1}`, or :math:`z^t` for a readout), so its eligibility is :math:`\\sum_t \\xi_j^t p_i^t` and

.. math::

    \\hat g_{ji} = \\frac{1}{B} \\sum_k \\left(r_k(\\xi_k) - r_k(0)\\right)
    \\frac{\\sum_t \\xi_{k,j}^t\\, p_{k,i}^t}{\\sigma^2}.

Autapses stay zero (their perturbation and gradient are masked). With ``weight_levels`` (the hardware axis) the
network runs with its weights held at signed discrete levels, the estimate accumulating in the full-precision
weights, and WP perturbs the held weights by one level (:math:`\\sigma_g` is the group's level spacing), as
:mod:`brian2learn.plasticity.perturbation_network` does. Needs the optional extra ``bptt``.
"""

import dataclasses
import math

import numpy as np

from brian2learn.models import weight_levels
from brian2learn.models.weight_levels import check_levels
from brian2learn.plasticity.optimizers import OptimizerSpec

RULES = ("wp", "np")
GROUPS = ("w_in", "w_rec", "w_out")


@dataclasses.dataclass(frozen=True)
class RewardPerturbationConfig:
    """What a reward-perturbation update does (module docstring).

    Parameters
    ----------
    rule : {'wp', 'np'}
    learning_rate : float
        The optimizer's rate.
    weight_sigma : float
        WP: the perturbation of each weight group, relative to the root mean square of its initial weights.
    current_sigma : float
        NP: noise added to each recurrent neuron's input current per step, in volts.
    readout_sigma : float
        NP: noise added to each readout's input per step.
    optimizer_kind : {'adam', 'gd'}
        Adam (the default), or plain gradient ascent of the estimate.
    """

    rule: str
    learning_rate: float = 1e-3
    weight_sigma: float = 0.05
    current_sigma: float = 0.05
    readout_sigma: float = 0.5
    optimizer_kind: str = "adam"

    def __post_init__(self):
        if self.rule not in RULES:
            raise ValueError(f"'rule' must be one of {', '.join(RULES)}, got {self.rule!r}")
        if self.optimizer_kind not in ("adam", "gd"):
            raise ValueError(f"'optimizer_kind' must be 'adam' or 'gd', got {self.optimizer_kind!r}")
        for name in ("learning_rate", "weight_sigma", "current_sigma", "readout_sigma"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value)
                                                                                     and value > 0):
                raise ValueError(f"'{name}' must be a positive number, got {value!r}")

    def optimizer(self):
        return OptimizerSpec(self.optimizer_kind, learning_rate=self.learning_rate)


def choices(readouts, window):
    """The greedy choice of each trial, :math:`\\arg\\max_o \\sum_t m_t y_o^t`.

    ``readouts`` (B, T, n_out), ``window`` (B, T).
    """
    return np.argmax(np.einsum("nt,nto->no", window, readouts), axis=1)


def rewards(readouts, window, rewarded):
    """1.0 where the greedy choice is the rewarded choice ``rewarded`` (B,), else 0.0."""
    return (choices(readouts, window) == np.asarray(rewarded)).astype(float)


def task_rewards(readouts, targets, window, loss):
    """The reward of a supervised trial: minus its task loss, the losses of :mod:`brian2learn.plasticity.bptt`.

    ``loss`` 'mse': :math:`E = \\tfrac12 \\sum_t m_t \\sum_k (y_k^t - y_k^{*t})^2`; 'softmax':
    :math:`E = -\\sum_t m_t \\sum_k y_k^{*t} \\log \\mathrm{softmax}(y^t)_k`. ``readouts`` and ``targets``
    (B, T, n_out), ``window`` (B, T); returns (B,).
    """
    y, targets, window = (np.asarray(a, dtype=float) for a in (readouts, targets, window))
    if loss == "mse":
        per_step = 0.5 * np.sum((y - targets) ** 2, axis=-1)
    elif loss == "softmax":
        shifted = y - y.max(axis=-1, keepdims=True)
        log_softmax = shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))
        per_step = -np.sum(targets * log_softmax, axis=-1)
    else:
        raise ValueError(f"'loss' must be 'mse' or 'softmax', got {loss!r}")
    return -np.sum(window * per_step, axis=-1)


class RewardPerturbationLearner:
    """Weight or node perturbation of one network (module docstring).

    Parameters
    ----------
    config : RewardPerturbationConfig
    weights : dict
        Initial ``w_in`` (n_rec, n_in), ``w_rec`` (n_rec, n_rec), ``w_out`` (n_out, n_rec), floats.
    params : brian2learn.plasticity.bptt.NetworkParams
        The network's neurons.
    seed : int
        Seed of the perturbations: update ``u`` draws from ``numpy.random.default_rng([seed, u])``.
    weight_levels : dict, optional
        Group -> ``(step, limit)``: the network runs with ``step * clip(round(w / step), -limit, limit)``
        (:func:`brian2learn.models.weight_levels.discrete_levels`). None: full precision.

    Attributes
    ----------
    weights : dict
        The weights now (numpy).
    updates : int
        Updates done.
    history : list of dict
        One row per update: ``reference_reward`` and ``perturbed_reward`` (batch means) and ``changed`` (the
        fraction of trials whose reward the perturbation changed).
    """

    def __init__(self, config, weights, params, seed, weight_levels=None):
        from brian2learn.plasticity import bptt

        self._bptt = bptt
        self.config, self.params, self.seed = config, params, int(seed)
        self.weights = {name: np.array(weights[name], dtype=float) for name in GROUPS}
        n_rec = self.weights["w_rec"].shape[0]
        self._rec_mask = 1.0 - np.eye(n_rec)
        self.weights["w_rec"] *= self._rec_mask
        self.weight_levels = check_levels(weight_levels, GROUPS)
        self._sigma = {name: self.weight_levels[name][0] if name in self.weight_levels else
                       config.weight_sigma * float(np.sqrt(np.mean(self.weights[name] ** 2))) for name in GROUPS}
        if not all(value > 0 for value in self._sigma.values()):
            raise ValueError(f"weight perturbation needs every group's initial weights nonzero, got RMS {self._sigma}")
        self._spec = config.optimizer()
        self._state = self._spec.init_state(self.weights)
        self.updates, self.history = 0, []

    def held(self):
        """The weights the network runs with (the full-precision ones where no levels are given)."""
        held = dict(self.weights)
        for name, (step, limit) in self.weight_levels.items():
            held[name] = weight_levels.held(self.weights[name], step, limit)
        return held

    def readouts(self, inputs):
        """Readouts of the unperturbed network, (B, T, n_out)."""
        return self._bptt.readout_batch(self.held(), inputs, self.params)

    def update(self, inputs, rewarded, window):
        """One update from a batch: ``inputs`` (B, T, n_in), ``rewarded`` choices (B,), ``window`` (B, T).

        Returns the gradient estimate :math:`\\hat g` (dict of arrays) it ascended.
        """
        window = np.asarray(window, dtype=float)
        return self.update_with(inputs, lambda readouts: rewards(readouts, window, rewarded))

    def update_with(self, inputs, reward_of):
        """One update from a batch ``inputs`` (B, T, n_in) whose rewards ``reward_of(readouts)`` gives (B,) from the
        readouts (B, T, n_out) of a pass, e.g. :func:`task_rewards` on a supervised task.

        Returns the gradient estimate :math:`\\hat g` (dict of arrays) it ascended.
        """
        inputs = np.asarray(inputs, dtype=float)
        rng = np.random.default_rng([self.seed, self.updates])
        reference = np.asarray(reward_of(self.readouts(inputs)), dtype=float)
        estimate = (self._weight_estimate if self.config.rule == "wp" else self._node_estimate)(
            inputs, reward_of, reference, rng)
        estimate["w_rec"] = estimate["w_rec"] * self._rec_mask
        # Adam descends: ascend the reward by descending its negative
        self.weights, self._state = self._spec.step(self.weights, {k: -v for k, v in estimate.items()}, self._state)
        self.updates += 1
        return estimate

    def _record(self, reference, perturbed):
        self.history.append({"reference_reward": float(np.mean(reference)),
                             "perturbed_reward": float(np.mean(perturbed)),
                             "changed": float(np.mean(perturbed != reference))})

    def _weight_estimate(self, inputs, reward_of, reference, rng):
        n_batch = len(inputs)
        noise = {name: rng.normal(0.0, self._sigma[name], (n_batch, *value.shape))
                 for name, value in self.weights.items()}
        noise["w_rec"] *= self._rec_mask
        held = self.held()
        perturbed_weights = {name: held[name][None] + noise[name] for name in GROUPS}
        perturbed = np.asarray(reward_of(self._bptt.readout_batch(perturbed_weights, inputs, self.params,
                                                                  per_trial_weights=True)), dtype=float)
        self._record(reference, perturbed)
        change = perturbed - reference
        return {name: np.einsum("k,k...->...", change, noise[name]) / (n_batch * self._sigma[name] ** 2)
                for name in GROUPS}

    def _node_estimate(self, inputs, reward_of, reference, rng):
        n_batch, n_steps = inputs.shape[:2]
        n_rec, n_out = self.weights["w_rec"].shape[0], self.weights["w_out"].shape[0]
        c = self.config
        rec_noise = rng.normal(0.0, c.current_sigma, (n_batch, n_steps, n_rec))
        out_noise = rng.normal(0.0, c.readout_sigma, (n_batch, n_steps, n_out))
        traces = self._bptt.perturbed_batch(self.held(), inputs, self.params, rec_noise, out_noise)
        perturbed = np.asarray(reward_of(traces["y"]), dtype=float)
        self._record(reference, perturbed)
        change = perturbed - reference
        estimate = {name: np.zeros_like(value) for name, value in self.weights.items()}
        for k in np.flatnonzero(change):  # only trials whose reward changed carry signal
            z = traces["z"][k]
            z_previous = np.vstack([np.zeros((1, n_rec)), z[:-1]])
            estimate["w_in"] += change[k] * rec_noise[k].T @ inputs[k] / c.current_sigma ** 2
            estimate["w_rec"] += change[k] * rec_noise[k].T @ z_previous / c.current_sigma ** 2
            estimate["w_out"] += change[k] * out_noise[k].T @ z / c.readout_sigma ** 2
        return {name: value / n_batch for name, value in estimate.items()}
