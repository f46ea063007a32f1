"""Non-spiking recurrent networks of the same size, the peers of the adaptive SRNNs, in JAX.

Two cells, each with ``n_hidden`` units and a linear readout ``logits_t = W_out h_t + b_out`` trained with the
same framewise loss (:func:`~brian2learn.plasticity.srnn_bptt.framewise_nll`), optimizer and batches as the
SRNN (:class:`~brian2learn.training.framewise.FramewiseTrainer`):

- ``'tanh'`` (Elman): :math:`h_t = \\tanh(W_{in} x_t + W_{rec} h_{t-1} + b)`;
- ``'gru'`` (Cho et al. 2014, arXiv:1406.1078, in the form of PyTorch's ``nn.GRU``):

  .. math::

      r_t &= \\sigma(W_{ir} x_t + W_{hr} h_{t-1} + b_r), \\qquad z_t = \\sigma(W_{iz} x_t + W_{hz} h_{t-1} + b_z),

      n_t &= \\tanh(W_{in} x_t + b_{in} + r_t \\odot (W_{hn} h_{t-1} + b_{hn})), \\qquad
      h_t = (1 - z_t) \\odot n_t + z_t \\odot h_{t-1}.

Initial weights uniform in :math:`\\pm 1/\\sqrt{n_{hidden}}` (PyTorch's default for recurrent cells), the
readout Glorot-uniform, biases 0, :math:`h_0 = 0`; one rate for every group (no time constants).
:func:`operations_per_step` counts what a step costs (multiply-accumulates and activations).
"""

import math

import numpy as np

from brian2learn.plasticity.optimizers import OptimizerSpec

CELLS = ("gru", "tanh")


def _jax():
    import jax

    jax.config.update("jax_enable_x64", True)
    return jax


def initial_parameters(cell, n_in, n_hidden, n_out, seed):
    """Seeded initial parameters of ``cell`` (module docstring)."""
    if cell not in CELLS:
        raise ValueError(f"unknown cell {cell!r}; allowed: {', '.join(CELLS)}")
    rng = np.random.default_rng(seed)
    gates = 3 if cell == "gru" else 1
    bound = 1.0 / math.sqrt(n_hidden)
    readout = math.sqrt(6.0 / (n_hidden + n_out))
    params = {"w_in": rng.uniform(-bound, bound, (gates * n_hidden, n_in)),
              "w_rec": rng.uniform(-bound, bound, (gates * n_hidden, n_hidden)),
              "b_in": np.zeros(gates * n_hidden), "w_out": rng.uniform(-readout, readout, (n_out, n_hidden)),
              "b_out": np.zeros(n_out)}
    if cell == "gru":
        params["b_rec"] = np.zeros(gates * n_hidden)
    return params


def make_forward(cell, n_hidden):
    """``forward(params, x) -> logits`` (batch, T, n_out) for ``x`` (batch, T, n_in)."""
    jax = _jax()
    jnp = jax.numpy

    def forward(params, x):
        def step(h, x_t):
            if cell == "tanh":
                h = jnp.tanh(x_t @ params["w_in"].T + h @ params["w_rec"].T + params["b_in"])
            else:
                gi = x_t @ params["w_in"].T + params["b_in"]
                gh = h @ params["w_rec"].T + params["b_rec"]
                r = jax.nn.sigmoid(gi[:, :n_hidden] + gh[:, :n_hidden])
                z = jax.nn.sigmoid(gi[:, n_hidden:2 * n_hidden] + gh[:, n_hidden:2 * n_hidden])
                n = jnp.tanh(gi[:, 2 * n_hidden:] + r * gh[:, 2 * n_hidden:])
                h = (1 - z) * n + z * h
            return h, h @ params["w_out"].T + params["b_out"]

        h0 = jnp.zeros((x.shape[0], n_hidden), x.dtype)
        _, logits = jax.lax.scan(step, h0, jnp.swapaxes(x, 0, 1))
        return jnp.swapaxes(logits, 0, 1)

    return forward


class RnnObjective:
    """A non-spiking RNN for :class:`~brian2learn.training.framewise.FramewiseTrainer`.

    Parameters
    ----------
    cell : {'gru', 'tanh'}
    params : dict
        From :func:`initial_parameters`.
    learning_rate, lr_decay, lr_decay_every : float, float, int
        Adam's rate for every group and its step schedule (per epoch).
    scored_from : int
    """

    def __init__(self, cell, params, learning_rate=1e-2, lr_decay=0.5, lr_decay_every=100, scored_from=10):
        from brian2learn.plasticity.srnn_bptt import framewise_nll

        if cell not in CELLS:
            raise ValueError(f"unknown cell {cell!r}; allowed: {', '.join(CELLS)}")
        jax = _jax()
        self.cell = cell
        self.groups = {name: np.asarray(value, dtype=float) for name, value in params.items()}
        self.n_out, self.n_hidden = self.groups["w_out"].shape
        self.n_in = self.groups["w_in"].shape[1]
        self.n_units = self.n_hidden + self.n_out
        self.spec = OptimizerSpec("adam", learning_rate=learning_rate, lr_schedule="step", lr_decay=lr_decay,
                                  lr_decay_every=lr_decay_every)
        self.forward = make_forward(cell, self.n_hidden)
        forward = self.forward

        def loss(groups, x, y):
            logits = forward(groups, x)
            return framewise_nll(jax, logits, y, scored_from), (logits, 0.0)

        self.loss = loss
        self._evaluate = jax.jit(forward)  # compiled once, not at every evaluation

    def check(self, groups, epoch):
        """Nothing can leave its range here (the loss is checked for finiteness by the trainer)."""

    def parameters(self, groups):
        return {name: np.asarray(value) for name, value in groups.items()}

    def evaluate(self, params, x, y, scored_from=10):
        """Accuracy over scored steps and the predictions on ``x``, ``y``."""
        jax = _jax()
        logits = np.asarray(self._evaluate({k: jax.numpy.asarray(v) for k, v in params.items()}, x))
        predictions = np.argmax(logits, axis=-1)
        return {"accuracy": float(np.mean(predictions[:, scored_from:] == np.asarray(y)[:, scored_from:])),
                "predictions": predictions}


def parameter_count(params):
    return int(sum(np.asarray(value).size for value in params.values()))


def operations_per_step(cell, n_in, n_hidden, n_out):
    """Multiply-accumulates and activation functions of one step (readout included).

    ``tanh``: :math:`H(n_{in} + H) + H n_{out}` MACs and :math:`H` activations; ``gru``: three gates,
    :math:`3H(n_{in} + H) + H n_{out}` MACs plus the :math:`3H` element-wise products of the gating
    (:math:`r \\odot \\cdot`, :math:`(1 - z) \\odot n`, :math:`z \\odot h`), and :math:`3H` activations.
    """
    if cell not in CELLS:
        raise ValueError(f"unknown cell {cell!r}; allowed: {', '.join(CELLS)}")
    gates = 3 if cell == "gru" else 1
    macs = gates * n_hidden * (n_in + n_hidden) + n_hidden * n_out + (3 * n_hidden if cell == "gru" else 0)
    return {"macs": macs, "activations": gates * n_hidden}
