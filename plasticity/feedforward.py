"""Backpropagation in a feed-forward network of logistic units: the baseline beside the settling networks.

Rumelhart, Hinton & Williams (1986), Nature 323:533, doi:10.1038/323533a0: ``h = sigma(W_1 x + b_1)``,
``y = sigma(W_2 h + b_2)``, squared error :math:`\\tfrac12\\|y - d\\|^2` per example, gradient descent on the mean
over a (mini)batch. The contrastive studies give it the layer sizes and initial weights of their settling
network (the input-hidden and hidden-output weights of the symmetric matrix), so that the rows compare rules,
not networks.
"""

import numpy as np


def _sigmoid(u):
    return 1.0 / (1.0 + np.exp(-np.clip(u, -700, 700)))


def forward(params, x):
    """Outputs ``y`` (n, n_out) of the inputs ``x`` (n, n_in)."""
    h = _sigmoid(np.asarray(x, dtype=float) @ params["w1"].T + params["b1"])
    return _sigmoid(h @ params["w2"].T + params["b2"])


def multiply_adds_per_example(layers):
    """Multiply-adds of one backprop example through ``layers`` (sizes, input first): the forward pass, the
    backward pass and the weight gradient each take one per weight."""
    return int(3 * sum(a * b for a, b in zip(layers[:-1], layers[1:])))


def from_symmetric(w, n_in, n_hidden, n_out):
    """``w1`` (hidden x input), ``w2`` (output x hidden) and zero biases from a layered symmetric matrix."""
    hid = np.arange(n_in, n_in + n_hidden)
    out = np.arange(n_in + n_hidden, n_in + n_hidden + n_out)
    return {"w1": w[np.ix_(hid, np.arange(n_in))].copy(), "b1": np.zeros(n_hidden),
            "w2": w[np.ix_(out, hid)].copy(), "b2": np.zeros(n_out)}


def train_epoch(params, x, d, learning_rate, batch_size=None, order=None, realised=None):
    """One epoch of (mini)batch gradient descent; returns the new parameters (the input is not changed).

    ``batch_size`` None: the whole set is one batch; ``order``: the examples' order (default as given).
    ``realised``: a function of the parameters giving those the network actually runs with (e.g. weights held
    at discrete levels); the gradient is taken there and applied to the parameters kept at full precision (the
    straight-through estimator; Bengio, Léonard & Courville 2013, arXiv:1308.3432). Default: the parameters.
    """
    params = {key: value.copy() for key, value in params.items()}
    x, d = np.asarray(x, dtype=float), np.asarray(d, dtype=float)
    order = np.arange(len(x)) if order is None else np.asarray(order)
    size = len(order) if batch_size is None else int(batch_size)
    for start in range(0, len(order) - size + 1, size):
        batch = order[start:start + size]
        xb, db = x[batch], d[batch]
        used = params if realised is None else realised(params)
        h = _sigmoid(xb @ used["w1"].T + used["b1"])
        y = _sigmoid(h @ used["w2"].T + used["b2"])
        delta_out = (y - db) * y * (1 - y)
        delta_hid = (delta_out @ used["w2"]) * h * (1 - h)
        params["w2"] -= learning_rate * delta_out.T @ h / len(batch)
        params["b2"] -= learning_rate * delta_out.mean(axis=0)
        params["w1"] -= learning_rate * delta_hid.T @ xb / len(batch)
        params["b1"] -= learning_rate * delta_hid.mean(axis=0)
    return params
