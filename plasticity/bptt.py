"""Exact backpropagation through time (BPTT) for the discrete e-prop network, in JAX.

This module is the gradient reference for :mod:`brian2learn.plasticity.eprop`: it implements
the discrete-time LIF/ALIF network with leaky readout of Bellec et al. (2020) exactly as
defined in :mod:`brian2learn.models.eprop_neurons`, and differentiates the loss through
all time steps with :func:`jax.grad`, with the pseudo-derivative as the derivative of the
spike function.

Bellec, Scherr, Subramoney, Hajek, Salaj, Legenstein & Maass (2020), "A solution to the
learning dilemma for recurrent networks of spiking neurons", Nat Commun 11:3625,
doi:10.1038/s41467-020-17236-y (Methods, eqs. 1-3, 20-25 and 27-29).

Model
-----
For one trial of ``T`` steps, with every state zero before the first step, step ``t``
computes (weights are matrices ``[post, pre]``)

.. math::

    I_j^t &= \\sum_i W^{in}_{ji} x_i^t + \\sum_i W^{rec}_{ji} z_i^{t-1}

    v_j^t &= \\alpha v_j^{t-1} + c\\, I_j^t - v_{th}\\, \\mathrm{sg}(z_j^{t-1})

    a_j^t &= \\rho a_j^{t-1} + z_j^{t-1}, \\qquad A_j^t = v_{th} + \\beta_j a_j^t

    b_j^t &= [r_j^{t-1} > 0] \\qquad\\text{(refractory: } r \\text{ counts down the } n_{ref}
    \\text{ steps after a spike)}

    z_j^t &= H\\!\\left(v_j^t - A_j^t\\right) (1 - b_j^t), \\qquad H(0) = 0

    y_k^t &= \\kappa y_k^{t-1} + (1 - \\kappa) \\sum_j W^{out}_{kj} z_j^t

where ``sg`` stops the gradient (the reset does not carry gradient, as in the reference
implementation of the paper), and the derivative of the spike is replaced by the
pseudo-derivative

.. math::

    \\frac{\\partial z_j^t}{\\partial v_j^t} = -\\frac{\\partial z_j^t}{\\partial A_j^t}
    = \\psi_j^t = \\frac{\\gamma}{v_{th}} \\max\\left(0, 1 - \\left|\\frac{v_j^t - A_j^t}{v_{th}}
    \\right|\\right) (1 - b_j^t).

The refractory counter is updated as ``r^t = r^{t-1} - [r^{t-1} > 0]``, then set to
``n_ref`` where ``z^t = 1``.

Losses
------
With window weights :math:`m_t` and targets :math:`y^{*t}_k`,

.. math::

    E_{task} &= \\tfrac12 \\sum_t m_t \\sum_k (y_k^t - y_k^{*t})^2 \\qquad\\text{(mse)}

    E_{task} &= -\\sum_t m_t \\sum_k y_k^{*t} \\log \\mathrm{softmax}(y^t)_k
    \\qquad\\text{(softmax)}

    E_{reg} &= \\tfrac{c_{reg}}{2} \\sum_j \\left(\\bar r_j - r_{target}\\right)^2,
    \\qquad \\bar r_j = \\frac{\\sum_t z_j^t}{T\\, dt_{ms}}

with rates in spikes per ms (:math:`r_{target} = f_{target}/1000` for ``f_target`` in Hz).
The total loss of a trial is :math:`E = E_{task} + E_{reg}`; the loss of a batch is the
mean of :math:`E` over its trials.

This module needs JAX (the optional extra ``bptt``); it switches JAX to 64-bit floats when
imported. Other modules import it only where it is used.
"""

from dataclasses import dataclass, field

import brian2 as b2
import jax
import jax.numpy as jnp
import numpy as np

from brian2learn.models import weight_levels
from brian2learn.models.eprop_neurons import discrete_constants
from brian2learn.models.weight_levels import check_levels
from brian2learn.plasticity import optimizers

jax.config.update("jax_enable_x64", True)

__all__ = [
    "NetworkParams",
    "loss_and_gradients",
    "network_params_from",
    "simulate",
    "spike_function",
    "train_bptt",
]

LOSSES = ("mse", "softmax")
OPTIMIZERS = optimizers.OPTIMIZERS
WEIGHT_NAMES = ("w_in", "w_rec", "w_out")


@dataclass(frozen=True, eq=False)
class NetworkParams:
    """Constants of the discrete network and of its loss, as plain floats.

    Attributes
    ----------
    alpha, kappa, rho : float
        Per-step decay factors of membrane, readout and threshold adaptation
        (:math:`e^{-dt/\\tau}`).
    input_scale : float
        Factor ``c`` of the summed synaptic input (``1 - alpha`` or ``1``).
    n_ref : int
        Number of refractory steps after a spike.
    v_th : float
        Spike threshold in volts.
    gamma : float
        Dampening factor of the pseudo-derivative.
    beta : numpy.ndarray
        Threshold adaptation strength in volts, scalar or one per recurrent neuron
        (0 for LIF neurons).
    loss : {"mse", "softmax"}
        Task loss.
    c_reg : float
        Strength of the firing-rate regularization (0 switches it off).
    f_target_hz : float
        Target firing rate in Hz.
    dt_ms : float
        Length of one step in ms.
    reset_gradient : bool
        Whether the gradient flows through the reset term :math:`-v_{th} z^{t-1}`. ``False``
        (default) is the model whose exact gradient e-prop computes without recurrent weights;
        ``True`` is plain BPTT through every term, as the BPTT baseline of the reference code,
        where the reset path damps the gradients of long recurrent trials.
    """

    alpha: float
    kappa: float
    rho: float
    input_scale: float
    n_ref: int
    v_th: float
    gamma: float
    beta: np.ndarray = field(default_factory=lambda: np.zeros(()))
    loss: str = "mse"
    c_reg: float = 0.0
    f_target_hz: float = 10.0
    dt_ms: float = 1.0
    reset_gradient: bool = False

    def __post_init__(self):
        beta = np.array(self.beta, dtype=np.float64)
        if beta.ndim > 1:
            raise ValueError(f"beta must be a scalar or a 1-d array, got shape {beta.shape}")
        if np.any(beta < 0):
            raise ValueError("beta must be non-negative")
        beta.setflags(write=False)
        object.__setattr__(self, "beta", beta)
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        if int(self.n_ref) != self.n_ref or self.n_ref < 0:
            raise ValueError(f"n_ref must be a non-negative integer, got {self.n_ref!r}")
        object.__setattr__(self, "n_ref", int(self.n_ref))
        if self.v_th <= 0:
            raise ValueError(f"v_th must be positive, got {self.v_th!r}")
        if self.dt_ms <= 0:
            raise ValueError(f"dt_ms must be positive, got {self.dt_ms!r}")
        for name in (
            "alpha",
            "kappa",
            "rho",
            "input_scale",
            "v_th",
            "gamma",
            "c_reg",
            "f_target_hz",
            "dt_ms",
        ):
            object.__setattr__(self, name, float(getattr(self, name)))


def network_params_from(neuron_params, n_rec, loss="mse", c_reg=0.0, f_target=10.0 * b2.Hz,
                        reset_gradient=False):
    """Build :class:`NetworkParams` from a Brian2 neuron parameter dict.

    Parameters
    ----------
    neuron_params : dict
        Parameters as in :data:`brian2learn.models.eprop_neurons.BELLEC2020_PATTERN_GENERATION`
        (Brian2 quantities). ``beta`` may be a scalar quantity or an array quantity with one
        value per recurrent neuron.
    n_rec : int
        Number of recurrent neurons (``beta`` is broadcast to this length).
    loss : {"mse", "softmax"}
        Task loss.
    c_reg : float
        Strength of the firing-rate regularization.
    f_target : brian2.Quantity
        Target firing rate (a frequency, e.g. ``10*Hz``).
    reset_gradient : bool
        See :class:`NetworkParams`.

    Returns
    -------
    NetworkParams
        With ``alpha``, ``kappa``, ``rho``, ``input_scale`` and ``n_ref`` from
        :func:`brian2learn.models.eprop_neurons.discrete_constants`, ``v_th`` and ``beta``
        in volts, ``f_target_hz`` in Hz and ``dt_ms`` in ms.
    """
    if "beta" not in neuron_params:
        raise ValueError("neuron parameters are missing 'beta'")
    beta_q = neuron_params["beta"]
    if not isinstance(beta_q, b2.Quantity) or not beta_q.has_same_dimensions(b2.volt):
        raise ValueError(f"parameter 'beta' must be a Brian2 quantity in volt, got {beta_q!r}")
    beta = np.asarray(beta_q / b2.volt, dtype=np.float64)
    if beta.ndim > 1 or (beta.ndim == 1 and beta.shape[0] not in (1, n_rec)):
        raise ValueError(f"parameter 'beta' must be a scalar or have {n_rec} values, got shape {beta.shape}")
    if np.any(beta < 0):
        raise ValueError("parameter 'beta' must be non-negative")
    beta = np.broadcast_to(beta.reshape(-1) if beta.ndim else beta, (n_rec,)).copy()
    # discrete_constants validates a scalar beta; the per-neuron values are checked above.
    constants = discrete_constants({**neuron_params, "beta": 0.0 * b2.volt})
    if not isinstance(f_target, b2.Quantity) or not f_target.has_same_dimensions(b2.Hz):
        raise ValueError(f"f_target must be a Brian2 quantity in Hz (e.g. 10*Hz), got {f_target!r}")
    return NetworkParams(
        alpha=constants["alpha"],
        kappa=constants["kappa"],
        rho=constants["rho"],
        input_scale=constants["input_scale"],
        n_ref=constants["n_ref"],
        v_th=float(neuron_params["v_th"] / b2.volt),
        gamma=float(neuron_params["gamma"]),
        beta=beta,
        loss=loss,
        c_reg=float(c_reg),
        f_target_hz=float(f_target / b2.Hz),
        dt_ms=float(neuron_params["dt"] / b2.ms),
        reset_gradient=bool(reset_gradient),
    )


@jax.custom_jvp
def spike_function(u, gamma):
    """Heaviside step of the normalized distance to threshold, with a pseudo-derivative.

    Parameters
    ----------
    u : jax.Array
        :math:`(v - A) / v_{th}`.
    gamma : float
        Dampening factor.

    Returns
    -------
    jax.Array
        :math:`H(u)` with :math:`H(0) = 0`; its derivative is taken to be
        :math:`\\gamma \\max(0, 1 - |u|)` (no derivative with respect to ``gamma``).
    """
    return (u > 0).astype(u.dtype)


@spike_function.defjvp
def _spike_function_jvp(primals, tangents):
    u, gamma = primals
    du, _ = tangents
    return spike_function(u, gamma), gamma * jnp.maximum(0.0, 1.0 - jnp.abs(u)) * du


def _constants(params):
    """The numbers of ``params`` that enter the traced computation, as JAX scalars/arrays."""
    return {
        "alpha": jnp.float64(params.alpha),
        "kappa": jnp.float64(params.kappa),
        "rho": jnp.float64(params.rho),
        "input_scale": jnp.float64(params.input_scale),
        "n_ref": jnp.int64(params.n_ref),
        "v_th": jnp.float64(params.v_th),
        "gamma": jnp.float64(params.gamma),
        "beta": jnp.asarray(params.beta, dtype=jnp.float64),
        "c_reg": jnp.float64(params.c_reg),
        "r_target": jnp.float64(params.f_target_hz / 1000.0),
        "dt_ms": jnp.float64(params.dt_ms),
        "reset_gradient": jnp.float64(bool(params.reset_gradient)),
    }


def _run_trial(weights, inputs, const, noise=None):
    """Scan the network over one trial; returns the per-step traces (each ``(T, n)``).

    ``noise`` (optional): ``(rec, out)`` currents of shapes ``(T, n_rec)`` and ``(T, n_out)`` added to
    :math:`I_j^t` and to the readout's input :math:`\\sum_j W^{out}_{kj} z_j^t` (node perturbation)."""
    w_in, w_rec, w_out = weights["w_in"], weights["w_rec"], weights["w_out"]
    n_rec, n_out = w_rec.shape[0], w_out.shape[0]
    alpha, rho, kappa, c = const["alpha"], const["rho"], const["kappa"], const["input_scale"]
    v_th, gamma, n_ref = const["v_th"], const["gamma"], const["n_ref"]
    beta = jnp.broadcast_to(const["beta"], (n_rec,))

    def step(carry, drive):
        input_current_t, rec_noise_t, out_noise_t = drive
        v, a, z, r, y = carry
        current = input_current_t + w_rec @ z
        if rec_noise_t is not None:
            current = current + rec_noise_t
        # the reset carries gradient only when const["reset_gradient"] is 1
        z_reset = const["reset_gradient"] * z + (1.0 - const["reset_gradient"]) * jax.lax.stop_gradient(z)
        v = alpha * v + c * current - v_th * z_reset
        a = rho * a + z
        threshold = v_th + beta * a
        u = (v - threshold) / v_th  # u > 0 exactly when v > threshold
        blocked = r > 0
        open_ = 1.0 - blocked.astype(v.dtype)
        r = r - blocked.astype(r.dtype)
        z = spike_function(u, gamma) * open_
        r = jnp.where(jax.lax.stop_gradient(z) > 0, n_ref, r)
        psi = jax.lax.stop_gradient(gamma / v_th * jnp.maximum(0.0, 1.0 - jnp.abs(u)) * open_)
        readout_input = w_out @ z if out_noise_t is None else w_out @ z + out_noise_t
        y = kappa * y + (1.0 - kappa) * readout_input
        return (v, a, z, r, y), {"v": v, "z": z, "a": a, "psi": psi, "y": y}

    zeros = jnp.zeros(n_rec, dtype=jnp.float64)
    init = (zeros, zeros, zeros, jnp.zeros(n_rec, dtype=jnp.int64), jnp.zeros(n_out, dtype=jnp.float64))
    # the feed-forward currents W_in x^t of all steps in one matrix product
    rec_noise, out_noise = (None, None) if noise is None else noise
    _, traces = jax.lax.scan(step, init, (inputs @ w_in.T, rec_noise, out_noise))
    return traces


def _trial_losses(weights, inputs, targets, window, const, loss_kind):
    """Task and regularization loss of one trial, and its mean rate in Hz."""
    traces = _run_trial(weights, inputs, const)
    y, z = traces["y"], traces["z"]
    if loss_kind == "mse":
        task = 0.5 * jnp.sum(window[:, None] * (y - targets) ** 2)
    else:
        task = -jnp.sum(window[:, None] * targets * jax.nn.log_softmax(y, axis=-1))
    n_steps = inputs.shape[0]
    rate = jnp.sum(z, axis=0) / (n_steps * const["dt_ms"])  # spikes per ms
    reg = 0.5 * const["c_reg"] * jnp.sum((rate - const["r_target"]) ** 2)
    return task, reg, 1000.0 * jnp.mean(rate)


def _batch_loss(weights, inputs, targets, windows, const, loss_kind):
    task, reg, rate_hz = jax.vmap(_trial_losses, in_axes=(None, 0, 0, 0, None, None))(
        weights, inputs, targets, windows, const, loss_kind
    )
    total = jnp.mean(task + reg)
    return total, {"task_loss": jnp.mean(task), "reg_loss": jnp.mean(reg), "mean_rate_hz": jnp.mean(rate_hz)}


_value_and_grad = jax.jit(jax.value_and_grad(_batch_loss, has_aux=True), static_argnames="loss_kind")
_simulate = jax.jit(_run_trial)
_simulate_batch = jax.jit(jax.vmap(lambda w, x, c: _run_trial(w, x, c)["y"], in_axes=(None, 0, None)))


_simulate_batch_weights = jax.jit(jax.vmap(lambda w, x, c: _run_trial(w, x, c)["y"], in_axes=(0, 0, None)))
_simulate_batch_perturbed = jax.jit(jax.vmap(
    lambda w, x, rec, out, c: {key: value for key, value in _run_trial(w, x, c, (rec, out)).items()
                               if key in ("y", "z")}, in_axes=(None, 0, 0, 0, None)))


def _as_weights(weights):
    missing = [name for name in WEIGHT_NAMES if name not in weights]
    if missing:
        raise ValueError(f"weights are missing {missing}; required are {list(WEIGHT_NAMES)}")
    w = {name: jnp.asarray(np.asarray(weights[name], dtype=np.float64)) for name in WEIGHT_NAMES}
    n_rec = w["w_in"].shape[0]
    if w["w_rec"].shape != (n_rec, n_rec):
        raise ValueError(f"w_rec must have shape {(n_rec, n_rec)}, got {w['w_rec'].shape}")
    if w["w_out"].ndim != 2 or w["w_out"].shape[1] != n_rec:
        raise ValueError(f"w_out must have shape (n_out, {n_rec}), got {w['w_out'].shape}")
    return w


def _as_batch(inputs, targets, window):
    """Bring a single trial or a batch to shapes (B, T, n_in), (B, T, n_out), (B, T)."""
    inputs = np.asarray(inputs, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.float64)
    window = np.asarray(window, dtype=np.float64)
    if inputs.ndim == 2:
        inputs = inputs[None]
        if targets.ndim == 2:
            targets = targets[None]
    if inputs.ndim != 3 or targets.ndim != 3:
        raise ValueError(
            f"inputs and targets must be (T, n) for one trial or (B, T, n) for a batch, got "
            f"{inputs.shape} and {targets.shape}"
        )
    n_batch, n_steps = inputs.shape[:2]
    if targets.shape[:2] != (n_batch, n_steps):
        raise ValueError(f"targets of shape {targets.shape} do not match inputs of shape {inputs.shape}")
    if window.shape not in ((n_steps,), (n_batch, n_steps)):
        raise ValueError(f"window must have shape ({n_steps},) or ({n_batch}, {n_steps}), got {window.shape}")
    window = np.broadcast_to(window, (n_batch, n_steps))
    return jnp.asarray(inputs), jnp.asarray(targets), jnp.asarray(window)


def simulate(weights, inputs, params):
    """Run the network over one trial.

    Parameters
    ----------
    weights : dict
        ``"w_in"`` ``(n_rec, n_in)``, ``"w_rec"`` ``(n_rec, n_rec)`` (volts),
        ``"w_out"`` ``(n_out, n_rec)``.
    inputs : array_like
        Input spikes ``(T, n_in)``, 0 or 1.
    params : NetworkParams

    Returns
    -------
    dict of numpy.ndarray
        ``"v"``, ``"z"``, ``"a"``, ``"psi"`` of shape ``(T, n_rec)`` and ``"y"`` of shape
        ``(T, n_out)``: membrane potential (after the step's input and reset), spikes,
        adaptation variable, pseudo-derivative (0 while refractory) and readout.
    """
    w = _as_weights(weights)
    inputs = np.asarray(inputs, dtype=np.float64)
    if inputs.ndim != 2 or inputs.shape[1] != w["w_in"].shape[1]:
        raise ValueError(f"inputs must have shape (T, {w['w_in'].shape[1]}), got {inputs.shape}")
    traces = _simulate(w, jnp.asarray(inputs), _constants(params))
    return {name: np.asarray(value) for name, value in traces.items()}


def readout_batch(weights, inputs, params, per_trial_weights=False):
    """Readout traces ``y`` of a batch of trials, shape ``(B, T, n_out)``.

    ``inputs`` has shape ``(B, T, n_in)``; the network is the one of :func:`simulate`. With
    ``per_trial_weights`` every weight array has a leading axis of length ``B``: trial ``k`` runs
    with the weights ``[k]`` (weight perturbation).
    """
    inputs = np.asarray(inputs, dtype=np.float64)
    if per_trial_weights:
        w = {name: jnp.asarray(np.asarray(weights[name], dtype=np.float64)) for name in WEIGHT_NAMES}
        for name in WEIGHT_NAMES:
            if w[name].ndim != 3 or w[name].shape[0] != inputs.shape[0]:
                raise ValueError(f"with per_trial_weights, '{name}' must have shape (B, post, pre) with B = "
                                 f"{inputs.shape[0]} trials, got {w[name].shape}")
        n_in = w["w_in"].shape[2]
    else:
        w = _as_weights(weights)
        n_in = w["w_in"].shape[1]
    if inputs.ndim != 3 or inputs.shape[2] != n_in:
        raise ValueError(f"inputs must have shape (B, T, {n_in}), got {inputs.shape}")
    simulate_batch = _simulate_batch_weights if per_trial_weights else _simulate_batch
    return np.asarray(simulate_batch(w, jnp.asarray(inputs), _constants(params)))


def perturbed_batch(weights, inputs, params, rec_noise, out_noise):
    """Readouts and spikes of a batch with currents added to every neuron (node perturbation).

    ``rec_noise`` ``(B, T, n_rec)`` is added to :math:`I_j^t`, ``out_noise`` ``(B, T, n_out)`` to the input
    :math:`\\sum_j W^{out}_{kj} z_j^t` of the readouts (zeros: the network of :func:`readout_batch`).
    Returns ``"y"`` ``(B, T, n_out)`` and ``"z"`` ``(B, T, n_rec)``.
    """
    w = _as_weights(weights)
    inputs = np.asarray(inputs, dtype=np.float64)
    n_batch, n_steps = inputs.shape[:2]
    n_rec, n_out = w["w_rec"].shape[0], w["w_out"].shape[0]
    for name, value, n in (("rec_noise", rec_noise, n_rec), ("out_noise", out_noise, n_out)):
        if np.shape(value) != (n_batch, n_steps, n):
            raise ValueError(f"'{name}' must have shape {(n_batch, n_steps, n)}, got {np.shape(value)}")
    traces = _simulate_batch_perturbed(w, jnp.asarray(inputs), jnp.asarray(rec_noise, dtype=jnp.float64),
                                       jnp.asarray(out_noise, dtype=jnp.float64), _constants(params))
    return {name: np.asarray(value) for name, value in traces.items()}


def loss_and_gradients(weights, inputs, targets, window, params):
    """Loss and its exact BPTT gradient with respect to all weights.

    Parameters
    ----------
    weights : dict
        ``"w_in"``, ``"w_rec"``, ``"w_out"`` as in :func:`simulate`.
    inputs : array_like
        ``(B, T, n_in)``, or ``(T, n_in)`` for a single trial (a batch of one).
    targets : array_like
        ``(B, T, n_out)`` or ``(T, n_out)``; one-hot per step for the softmax loss.
    window : array_like
        Loss weights :math:`m_t`, ``(T,)`` (shared by all trials) or ``(B, T)``.
    params : NetworkParams

    Returns
    -------
    losses : dict of float
        ``"loss"`` (:math:`E = E_{task} + E_{reg}`), ``"task_loss"``, ``"reg_loss"`` and
        ``"mean_rate_hz"`` (mean firing rate of the recurrent neurons), each the mean over
        the trials of the batch.
    gradients : dict of numpy.ndarray
        :math:`\\partial E / \\partial W` for ``"w_in"``, ``"w_rec"``, ``"w_out"`` (float64,
        shapes of the weights).
    """
    w = _as_weights(weights)
    inputs, targets, window = _as_batch(inputs, targets, window)
    (total, aux), grads = _value_and_grad(
        w, inputs, targets, window, _constants(params), loss_kind=params.loss
    )
    losses = {"loss": float(total), **{name: float(value) for name, value in aux.items()}}
    return losses, {name: np.asarray(grads[name]) for name in WEIGHT_NAMES}


def held_at_levels(weights, levels):
    """The weights the network runs with: each group named in ``levels`` (name -> ``(step, limit)``,
    :func:`brian2learn.models.weight_levels.discrete_levels`) at ``step * clip(round(w / step), -limit,
    limit)``, with the gradient passed straight through to ``w`` (the update accumulates at full precision)."""
    if not levels:
        return weights
    held = dict(weights)
    for name, (step, limit) in levels.items():
        w = weights[name]
        level = weight_levels.held(w, step, limit, xp=jnp)
        held[name] = w + jax.lax.stop_gradient(level - w)
    return held


def _train_step(weights, state, inputs, targets, window, const, rec_mask, levels, loss_kind, spec):
    """One optimizer step (the JAX form of ``spec``), compiled once per shapes, loss and spec."""
    (total, aux), grads = jax.value_and_grad(
        lambda w: _batch_loss(held_at_levels(w, levels), inputs, targets, window, const, loss_kind), has_aux=True
    )(weights)
    grads = {**grads, "w_rec": grads["w_rec"] * rec_mask}
    new_weights, new_state = optimizers.jax_step(spec, weights, grads, state)
    return new_weights, new_state, {"loss": total, **aux}


_train_step_jit = jax.jit(_train_step, static_argnames=("loss_kind", "spec"))


def train_bptt(
    weights,
    batches,
    params,
    optimizer="adam",
    learning_rate=None,
    adam_betas=None,
    adam_eps=None,
    n_iterations=100,
    rec_mask=None,
    callback=None,
    adam_epsilon_form=None,
    optimizer_state=None,
    return_state=False,
    weight_levels=None,
):
    """Train all weights with exact BPTT gradients.

    Parameters
    ----------
    weights : dict
        Initial ``"w_in"``, ``"w_rec"``, ``"w_out"`` (not modified).
    batches : callable
        ``batches(iteration) -> (inputs, targets, window)`` for ``iteration = 0, 1, ...``,
        with the shapes accepted by :func:`loss_and_gradients`.
    params : NetworkParams
    optimizer : {"gd", "adam"} or OptimizerSpec
        Plain gradient descent :math:`W \\leftarrow W - \\eta g`, or Adam with bias
        correction: :math:`m \\leftarrow \\beta_1 m + (1-\\beta_1) g`,
        :math:`v \\leftarrow \\beta_2 v + (1-\\beta_2) g^2`,
        :math:`W \\leftarrow W - \\eta\\, \\hat m / (\\sqrt{\\hat v} + s_k \\epsilon)` with
        :math:`\\hat m = m / (1-\\beta_1^k)`, :math:`\\hat v = v / (1-\\beta_2^k)`,
        :math:`k = 1, 2, \\ldots`; or a whole
        :class:`~brian2learn.plasticity.optimizers.OptimizerSpec` over the groups ``"w_in"``,
        ``"w_rec"``, ``"w_out"`` (schedules, per-group rates, clipping), in which case
        ``learning_rate``, ``adam_betas``, ``adam_eps`` and ``adam_epsilon_form`` must not be given.
        Either way the update is the JAX form :func:`~brian2learn.plasticity.optimizers.jax_step`.
    learning_rate : float
        :math:`\\eta` (default 1e-3).
    adam_betas : tuple of float
        :math:`(\\beta_1, \\beta_2)` (default (0.9, 0.999)).
    adam_eps : float
        :math:`\\epsilon` (default 1e-8).
    n_iterations : int
        Number of updates.
    rec_mask : array_like, optional
        ``(n_rec, n_rec)`` multiplying the gradient of ``w_rec``; entries where it is 0 keep
        their initial values. Default: ones with a zero diagonal (no self-connections are
        learned).
    callback : callable, optional
        ``callback(iteration, metrics)`` after each update.
    adam_epsilon_form : {"kingma_ba", "tensorflow"}
        :math:`s_k = 1` (default, Kingma & Ba 2015) or :math:`1/\\sqrt{1 - \\beta_2^k}` (TensorFlow 1,
        as e-prop's :class:`~brian2learn.plasticity.eprop.EpropConfig` defaults to).
    optimizer_state : optional
        The optimizer's state to continue from (as returned with ``return_state``): training in chunks that carry
        it equals training in one call. Default: a fresh state.
    return_state : bool
        Also return the optimizer's state after the last update.
    weight_levels : dict, optional
        Group -> ``(step, limit)``: the network runs with these groups held at signed discrete levels
        (:func:`held_at_levels`), the gradient at the held weights updates the full-precision weights
        (straight-through, as on-chip learning accumulates updates at higher precision). The returned weights are
        the full-precision ones.

    Returns
    -------
    weights : dict of numpy.ndarray
        Final weights.
    history : list of dict
        One dict per iteration with ``"iteration"``, ``"loss"``, ``"task_loss"``,
        ``"reg_loss"`` and ``"mean_rate_hz"`` of the batch, evaluated with the weights
        before that iteration's update.
    state : optional
        With ``return_state``: the optimizer's state.
    """
    spec = _optimizer_spec(optimizer, learning_rate, adam_betas, adam_eps, adam_epsilon_form)
    w = _as_weights(weights)
    n_rec = w["w_rec"].shape[0]
    if rec_mask is None:
        rec_mask = 1.0 - np.eye(n_rec)
    rec_mask = np.asarray(rec_mask, dtype=np.float64)
    if rec_mask.shape != (n_rec, n_rec):
        raise ValueError(f"rec_mask must have shape {(n_rec, n_rec)}, got {rec_mask.shape}")
    rec_mask = jnp.asarray(rec_mask)
    const = _constants(params)
    levels = {name: (jnp.float64(step), jnp.float64(limit))
              for name, (step, limit) in check_levels(weight_levels, WEIGHT_NAMES).items()}
    state = jax.tree_util.tree_map(jnp.asarray, spec.init_state(w) if optimizer_state is None else optimizer_state)
    history = []
    for iteration in range(int(n_iterations)):
        inputs, targets, window = _as_batch(*batches(iteration))
        w, state, metrics = _train_step_jit(
            w,
            state,
            inputs,
            targets,
            window,
            const,
            rec_mask,
            levels,
            loss_kind=params.loss,
            spec=spec,
        )
        record = {"iteration": iteration, **{name: float(value) for name, value in metrics.items()}}
        history.append(record)
        if callback is not None:
            callback(iteration, record)
    final = {name: np.asarray(w[name]) for name in WEIGHT_NAMES}
    return (final, history, state) if return_state else (final, history)


def _optimizer_spec(optimizer, learning_rate, adam_betas, adam_eps, adam_epsilon_form):
    """The OptimizerSpec of :func:`train_bptt`'s optimizer arguments."""
    if isinstance(optimizer, optimizers.OptimizerSpec):
        given = {name: value for name, value in (("learning_rate", learning_rate), ("adam_betas", adam_betas),
                                                 ("adam_eps", adam_eps), ("adam_epsilon_form", adam_epsilon_form))
                 if value is not None}
        if given:
            raise ValueError(f"with an OptimizerSpec as 'optimizer', {', '.join(map(repr, given))} must not be "
                             "given (the spec holds them)")
        return optimizer
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS} or an OptimizerSpec, got {optimizer!r}")
    beta1, beta2 = (0.9, 0.999) if adam_betas is None else adam_betas
    return optimizers.OptimizerSpec(
        optimizer=optimizer, learning_rate=1e-3 if learning_rate is None else learning_rate, adam_beta1=beta1,
        adam_beta2=beta2, adam_epsilon=1e-8 if adam_eps is None else adam_eps,
        adam_epsilon_form="kingma_ba" if adam_epsilon_form is None else adam_epsilon_form)
