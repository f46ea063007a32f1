"""BPTT with surrogate gradients for the adaptive SRNN of Yin, Corradi & Bohté (2021), in JAX.

Yin, B., Corradi, F. & Bohté, S. M. (2021), "Accurate and efficient time-domain classification with adaptive
spiking recurrent neural networks", Nat Mach Intell 3:905, doi:10.1038/s42256-021-00397-w; settings from the
authors' ECG script (``byin-cwi/Efficient-spiking-networks``, ``ECG/adapt_srnn_0.844_gpu-v1.py``, MIT).

The forward pass is exactly the discrete model of :mod:`brian2learn.models.adaptive_srnn` (``lax.scan`` over
steps, float64), with the time constants :math:`\\tau_m, \\tau_{adp}` of every neuron as parameters
(:math:`\\alpha = e^{-1/\\tau_m}` inside the differentiated graph). The spike :math:`s = H(v)`,
:math:`v = u - \\theta`, is a step; its derivative is replaced by a surrogate :math:`\\gamma\\, \\psi(v)`,
:math:`\\gamma = 0.5`, everywhere else the graph is differentiated exactly (through the reset and the
threshold too, as the authors' PyTorch code does). Surrogates :math:`\\psi` (:data:`SURROGATES`):

- ``'multi-gaussian'`` (the paper's): :math:`(1 + h)\\, N(v; 0, \\sigma^2) - h\\, N(v; \\sigma, (s\\sigma)^2)
  - h\\, N(v; -\\sigma, (s\\sigma)^2)`, :math:`\\sigma = 0.5`, :math:`h = 0.15`, :math:`s = 6`;
- ``'gaussian'``: :math:`N(v; 0, \\sigma^2)`;
- ``'linear'``: :math:`\\max(0, 1 - |v|)`;
- ``'slayer'`` (exponential, as in SLAYER): :math:`e^{-5|v|}`.

Loss: the negative log-likelihood of the label under :math:`\\mathrm{softmax}(u^{out}_t)` at every scored step
(``t >= scored_from``), averaged over the batch and summed over steps (the script's ``NLLLoss`` summed in its
loop). Adam (Kingma & Ba) with one rate for the weights and biases and multiples of it for the time constants
(hidden x3, output x2), the rate halved every 100 epochs (PyTorch's ``StepLR(100, 0.5)``), batches of 64
sequences reshuffled every epoch (the last one smaller). Initial weights as in the script: ``W_rec``
orthogonal, ``W_in`` and ``W_out`` Glorot-uniform, biases 0, :math:`\\tau_m = 20`, :math:`\\tau_{adp} = 7`
(hidden) and 100 (output) steps. One hidden bias stands for the script's two (``i2h`` and ``h2h`` biases,
which always add).

Needs the optional extra ``bptt`` (``pip install brian2learn[bptt]``).
"""

import math
from dataclasses import dataclass

import numpy as np

from brian2learn.models import adaptive_srnn as srnn
from brian2learn.models.weight_levels import check_levels
from brian2learn.plasticity.optimizers import OptimizerSpec

#: Surrogate derivatives of the spike (module docstring).
SURROGATES = ("multi-gaussian", "gaussian", "linear", "slayer")
#: Surrogate settings of the paper: width sigma, height h and scale s of the side lobes, gradient scale gamma.
SURROGATE_SIGMA = 0.5
SURROGATE_HEIGHT = 0.15
SURROGATE_SCALE = 6.0
SURROGATE_GAMMA = 0.5
#: Initial time constants of the ECG script, in steps.
TAU_INIT = {"tau_m_h": 20.0, "tau_adp_h": 7.0, "tau_m_o": 20.0, "tau_adp_o": 100.0}
#: Learning-rate multiples of the parameter groups (the script: hidden time constants x3, output x2).
RATE_MULTIPLES = {"tau_m_h": 3.0, "tau_adp_h": 3.0, "tau_m_o": 2.0, "tau_adp_o": 2.0}
WEIGHTS = ("w_in", "w_rec", "b_h", "w_out", "b_o")
TAUS = ("tau_m_h", "tau_adp_h", "tau_m_o", "tau_adp_o")


def _jax():
    import jax

    jax.config.update("jax_enable_x64", True)
    return jax


def _gaussian(jnp, v, mu, sigma):
    return jnp.exp(-((v - mu) ** 2) / (2 * sigma ** 2)) / (math.sqrt(2 * math.pi) * sigma)


def surrogate_derivative(jnp, kind, v):
    """:math:`\\gamma\\, \\psi(v)` of the surrogate ``kind`` (module docstring)."""
    sigma, height, scale = SURROGATE_SIGMA, SURROGATE_HEIGHT, SURROGATE_SCALE
    if kind == "multi-gaussian":
        psi = ((1 + height) * _gaussian(jnp, v, 0.0, sigma) - height * _gaussian(jnp, v, sigma, scale * sigma)
               - height * _gaussian(jnp, v, -sigma, scale * sigma))
    elif kind == "gaussian":
        psi = _gaussian(jnp, v, 0.0, sigma)
    elif kind == "linear":
        psi = jnp.maximum(0.0, 1.0 - jnp.abs(v))
    elif kind == "slayer":
        psi = jnp.exp(-5.0 * jnp.abs(v))
    else:
        raise ValueError(f"unknown surrogate {kind!r}; allowed: {', '.join(SURROGATES)}")
    return SURROGATE_GAMMA * psi


def spike_function(jax, kind):
    """:math:`H(v)` (1 where ``v > 0``) with the surrogate derivative ``kind``."""
    jnp = jax.numpy
    if kind not in SURROGATES:
        raise ValueError(f"unknown surrogate {kind!r}; allowed: {', '.join(SURROGATES)}")

    @jax.custom_jvp
    def spike(v):
        return (v > 0).astype(v.dtype)

    @spike.defjvp
    def spike_jvp(primals, tangents):
        (v,), (dv,) = primals, tangents
        return spike(v), surrogate_derivative(jnp, kind, v) * dv

    return spike


def _layer_step(jnp, spike, kind, alpha, rho, beta, current, u, s, b):
    """One step of a layer (:mod:`~brian2learn.models.adaptive_srnn`): new ``u, s, b`` and :math:`v = u - \\theta`."""
    if kind == "lif":
        u = srnn.LIF_DECAY * u + current
        v = u - srnn.LIF_THRESHOLD
        s = spike(v)
        return u * (1 - s), s, b, v
    b = rho * b + (1 - rho) * s
    theta = srnn.B0 + beta * b
    u = alpha * u + (1 - alpha) * current - theta * s
    v = u - theta
    return u, spike(v), b, v


def make_forward(architecture, surrogate="multi-gaussian"):
    """``forward(weights, decays, x) -> (u_out, v_hidden, v_out)`` in JAX for a batch ``x`` (batch, T, n_in).

    ``weights``: ``w_in, w_rec, b_h, w_out, b_o``; ``decays``: ``alpha_h, rho_h, alpha_o, rho_o``
    (:func:`~brian2learn.models.adaptive_srnn.decay_factors`, or :math:`e^{-1/\\tau}` traced by JAX). Outputs
    are (batch, T, n) each: the output membranes and :math:`v = u - \\theta` of both layers (a neuron spikes
    where :math:`v > 0`; how far from 0 tells how close a spike was to a threshold tie).
    """
    jax = _jax()
    jnp = jax.numpy
    spike = spike_function(jax, surrogate)
    a = architecture
    beta_h, beta_o = srnn.beta_of(a.hidden_kind), srnn.beta_of(a.output_kind)

    def forward(weights, decays, x):
        batch = x.shape[0]
        zeros_h, zeros_o = jnp.zeros((batch, a.n_hidden), x.dtype), jnp.zeros((batch, a.n_out), x.dtype)
        state = (zeros_h, zeros_h, zeros_h + srnn.B0, zeros_o, zeros_o, zeros_o + srnn.B0)

        def step(state, x_t):
            u_h, s_h, b_h, u_o, s_o, b_o = state
            current_h = x_t @ weights["w_in"].T + s_h @ weights["w_rec"].T + weights["b_h"]
            u_h, s_h, b_h, v_h = _layer_step(jnp, spike, a.hidden_kind, decays["alpha_h"], decays["rho_h"], beta_h,
                                             current_h, u_h, s_h, b_h)
            current_o = s_h @ weights["w_out"].T + weights["b_o"]
            u_o, s_o, b_o, v_o = _layer_step(jnp, spike, a.output_kind, decays["alpha_o"], decays["rho_o"], beta_o,
                                             current_o, u_o, s_o, b_o)
            return (u_h, s_h, b_h, u_o, s_o, b_o), (u_o, v_h, v_o)

        _, outputs = jax.lax.scan(step, state, jnp.swapaxes(x, 0, 1))
        return tuple(jnp.swapaxes(value, 0, 1) for value in outputs)

    return forward


def traced_decays(jnp, params):
    return {"alpha_h": jnp.exp(-1.0 / params["tau_m_h"]), "rho_h": jnp.exp(-1.0 / params["tau_adp_h"]),
            "alpha_o": jnp.exp(-1.0 / params["tau_m_o"]), "rho_o": jnp.exp(-1.0 / params["tau_adp_o"])}


def framewise_nll(jax, u_out, labels, scored_from):
    """Sum over scored steps of the batch mean of :math:`-\\log \\mathrm{softmax}(u^{out}_t)[y_t]`."""
    log_p = jax.nn.log_softmax(u_out[:, scored_from:], axis=-1)
    picked = jax.numpy.take_along_axis(log_p, labels[:, scored_from:, None], axis=-1)[..., 0]
    return -jax.numpy.sum(jax.numpy.mean(picked, axis=0))


def initial_parameters(architecture, seed, tau_init=None):
    """The script's initialisation (module docstring), seeded: orthogonal ``W_rec``, Glorot-uniform ``W_in``, ``W_out``.

    ``tau_init`` overrides entries of :data:`TAU_INIT` (steps).
    """
    a = architecture
    rng = np.random.default_rng(seed)

    def glorot(n_post, n_pre):
        bound = math.sqrt(6.0 / (n_pre + n_post))
        return rng.uniform(-bound, bound, (n_post, n_pre))

    q, r = np.linalg.qr(rng.normal(size=(a.n_hidden, a.n_hidden)))
    orthogonal = q * np.sign(np.diag(r))
    taus = dict(TAU_INIT, **(tau_init or {}))
    return {"w_in": glorot(a.n_hidden, a.n_in), "w_rec": orthogonal, "b_h": np.zeros(a.n_hidden),
            "w_out": glorot(a.n_out, a.n_hidden), "b_o": np.zeros(a.n_out),
            "tau_m_h": np.full(a.n_hidden, taus["tau_m_h"]), "tau_adp_h": np.full(a.n_hidden, taus["tau_adp_h"]),
            "tau_m_o": np.full(a.n_out, taus["tau_m_o"]), "tau_adp_o": np.full(a.n_out, taus["tau_adp_o"])}


@dataclass(frozen=True)
class SrnnTraining:
    """How an SRNN is trained (module docstring; the defaults are the ECG script's).

    Parameters
    ----------
    epochs : int
    batch_size : int
    learning_rate : float
        Rate of weights and biases; the time constants get :data:`RATE_MULTIPLES` of it.
    lr_decay, lr_decay_every : float, int
        The rate is multiplied by ``lr_decay`` every ``lr_decay_every`` epochs.
    surrogate : str
        One of :data:`SURROGATES`.
    learn_tau : bool
        Train the time constants (``False``: they stay at their initial values).
    scored_from : int
        First step that enters loss and accuracy.
    seed : int
        Seed of the batch order.
    """

    epochs: int = 400
    batch_size: int = 64
    learning_rate: float = 1e-2
    lr_decay: float = 0.5
    lr_decay_every: int = 100
    surrogate: str = "multi-gaussian"
    learn_tau: bool = True
    scored_from: int = 10
    seed: int = 1

    def __post_init__(self):
        for name in ("epochs", "batch_size", "lr_decay_every", "scored_from"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < (0 if name ==
                                                                                               "scored_from" else 1):
                raise ValueError(f"'{name}' must be a {'non-negative' if name == 'scored_from' else 'positive'} "
                                 f"integer, got {value!r}")
        if not (isinstance(self.learning_rate, (int, float)) and math.isfinite(self.learning_rate)
                and self.learning_rate > 0):
            raise ValueError(f"'learning_rate' must be a positive number, got {self.learning_rate!r}")
        if not (isinstance(self.lr_decay, (int, float)) and 0 < self.lr_decay <= 1):
            raise ValueError(f"'lr_decay' must lie in (0, 1], got {self.lr_decay!r}")
        if self.surrogate not in SURROGATES:
            raise ValueError(f"unknown surrogate {self.surrogate!r}; allowed: {', '.join(SURROGATES)}")

    def optimizer(self, groups):
        rates = {group: self.learning_rate * RATE_MULTIPLES.get(group, 1.0) for group in groups}
        return OptimizerSpec("adam", learning_rate=rates, lr_schedule="step", lr_decay=self.lr_decay,
                             lr_decay_every=self.lr_decay_every)


def check_data(n_in, n_out, x, y, name):
    """``x`` (n, T, n_in) as float64 and ``y`` (n, T) as int32 labels in ``0 .. n_out - 1``.

    Raises ``ValueError`` naming the data set ``name`` for a wrong shape or label.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y)
    if x.ndim != 3 or x.shape[2] != n_in:
        raise ValueError(f"'{name}' inputs must have shape (n, T, {n_in}), got {x.shape}")
    if y.shape != x.shape[:2]:
        raise ValueError(f"'{name}' labels must have shape {x.shape[:2]}, got {y.shape}")
    if y.min() < 0 or y.max() >= n_out:
        raise ValueError(f"'{name}' labels must lie in 0..{n_out - 1}")
    return x, y.astype(np.int32)


class SrnnObjective:
    """What the framewise trainer (:class:`~brian2learn.training.framewise.FramewiseTrainer`) optimizes for an SRNN.

    Parameters
    ----------
    architecture : SrnnArchitecture
    params : dict
        Initial parameters (:func:`initial_parameters`), checked.
    training : SrnnTraining
    weight_levels : dict, optional
        Name (of :data:`WEIGHTS`) -> ``(step, limit)``: the network runs with these held at signed discrete levels,
        the gradient at the held values updating the full-precision ones (straight-through;
        :func:`brian2learn.plasticity.bptt.held_at_levels`). Evaluate the held parameters
        (:func:`brian2learn.models.ttfs_substrate.quantize_weights`) to score the network that was trained.

    Attributes
    ----------
    groups : dict
        The trained parameter groups (the weights and biases, and the time constants when learned).
    spec : OptimizerSpec
    """

    def __init__(self, architecture, params, training, weight_levels=None):
        jax = _jax()
        jnp = jax.numpy
        levels = check_levels(weight_levels, WEIGHTS)
        if levels:
            from brian2learn.plasticity.bptt import held_at_levels
        else:
            def held_at_levels(weights, _):
                return weights
        self.architecture, self.training = architecture, training
        self.n_in, self.n_out, self.n_units = architecture.n_in, architecture.n_out, architecture.n_neurons
        self.params = srnn.check_parameters(architecture, params)
        names = WEIGHTS + (TAUS if training.learn_tau else ())
        self.groups = {name: self.params[name] for name in names}
        self.spec = training.optimizer(names)
        self.forward = make_forward(architecture, training.surrogate)
        fixed = {name: jnp.asarray(self.params[name]) for name in TAUS}
        forward, scored = self.forward, training.scored_from

        def loss(groups, x, y):
            taus = {name: groups[name] if name in groups else fixed[name].astype(x.dtype) for name in TAUS}
            u_out, v_h, v_o = forward(held_at_levels({name: groups[name] for name in WEIGHTS}, levels),
                                      traced_decays(jnp, taus), x)
            return framewise_nll(jax, u_out, y, scored), (u_out, jnp.sum(v_h > 0) + jnp.sum(v_o > 0))

        self.loss = loss

    def check(self, groups, epoch):
        """Time constants must stay positive."""
        for name in TAUS:
            if name in groups and not np.all(np.asarray(groups[name]) > 0):
                raise FloatingPointError(f"epoch {epoch}: a time constant of '{name}' left (0, inf); lower the "
                                         f"learning rate")

    def parameters(self, groups):
        """All parameters (numpy) from the trained groups."""
        return {**{name: value.copy() for name, value in self.params.items()},
                **{name: np.asarray(value) for name, value in groups.items()}}


def evaluate(architecture, params, x, y, scored_from=10, batch_size=None):
    """The JAX forward of ``params`` on a data set: accuracy, predictions, output membranes, spikes and margins.

    Returns ``accuracy`` (scored steps), ``predictions`` (n, T), ``u_out`` (n, T, n_out), ``hidden_spikes`` and
    ``output_spikes`` (bool), ``v_hidden`` and ``v_output`` (:math:`u - \\theta`, whose sign is the spike).

    The decay factors come from numpy (:func:`~brian2learn.models.adaptive_srnn.decay_factors`), the numbers
    the Brian2 network gets.
    """
    jax = _jax()
    jnp = jax.numpy
    params = srnn.check_parameters(architecture, params)
    x, y = check_data(architecture.n_in, architecture.n_out, x, y, "evaluation")
    forward = _compiled_forward(architecture)
    weights = {name: jnp.asarray(params[name]) for name in WEIGHTS}
    decays = {name: jnp.asarray(value) for name, value in srnn.decay_factors(params).items()}
    size = len(x) if batch_size is None else int(batch_size)
    parts = [forward(weights, decays, x[first:first + size]) for first in range(0, len(x), size)]
    u_out, v_hidden, v_output = (np.concatenate([np.asarray(part[k]) for part in parts]) for k in range(3))
    predictions = np.argmax(u_out, axis=-1)
    accuracy = float(np.mean(predictions[:, scored_from:] == y[:, scored_from:]))
    return {"accuracy": accuracy, "predictions": predictions, "u_out": u_out, "hidden_spikes": v_hidden > 0,
            "output_spikes": v_output > 0, "v_hidden": v_hidden, "v_output": v_output}


_COMPILED = {}


def _compiled_forward(architecture):
    """One ``jit``-compiled forward per architecture (the surrogate does not change the forward pass)."""
    if architecture not in _COMPILED:
        _COMPILED[architecture] = _jax().jit(make_forward(architecture))
    return _COMPILED[architecture]
