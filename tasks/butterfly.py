"""The reservoir-computing task of Züge, Klos & Memmesheimer (2023): a readout draws a butterfly.

Züge, Klos & Memmesheimer (2023), "Weight versus node perturbation learning in temporally extended
tasks: weight perturbation often performs similarly or better", Phys Rev X 13:021006,
doi:10.1103/PhysRevX.13.021006 (task parameters from the paper and the authors' example code).

Task
----
A trial lasts ``T = 500`` steps. Five external inputs, a constant and ``sin``/``cos`` of the first two
harmonics of the trial, ``s = 2 pi t / T``, orthonormalised and scaled so that
``sum_t u_k(t)^2 = T``, drive a fixed random reservoir of tanh units (:mod:`brian2learn.plasticity.reservoir`)
whose activity ``r(t)`` is the input of a linear readout ``y_k(t) = sum_i W_ki r_i(t)`` with ``M = 2``
outputs, trained to draw Rosenbaum's butterfly,

.. math::

    \\rho(\\theta) = 0.1\\,(9 - \\sin\\theta + 2\\sin 3\\theta + 2\\sin 5\\theta - \\sin 7\\theta
    + 3\\cos 2\\theta - 2\\cos 4\\theta), \\quad y^*(t) = \\rho(\\theta)(\\cos\\theta, \\sin\\theta),
    \\quad \\theta = 2\\pi t/(T - 1),

with error ``E = (1/2T) sum_t sum_k (y*_k(t) - y_k(t))^2``. The authors' reference for the error is the
least-squares optimum of the readout over the leading ``k = 5`` principal components of ``r`` (the number of
inputs).
"""

import numpy as np

#: The task of Züge et al. (2023) (their example code); the reservoir's own parameters are
#: :data:`brian2learn.plasticity.reservoir.RESERVOIR`.
TASK = {
    "n_steps": 500,      # T, steps per trial
    "n_inputs": 5,       # external sine/cosine inputs
    "n_out": 2,          # M, outputs (butterfly coordinates)
    "n_components": 5,   # principal components of the reference least-squares fit
}


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"'{name}' must be a positive integer, got {value!r}")
    return int(value)


def input_signals(n_steps=TASK["n_steps"], n_inputs=TASK["n_inputs"]):
    """External inputs ``u`` (n_steps, n_inputs): a constant, then ``sin(m s)``, ``cos(m s)``, ``m = 1, 2, ...``,
    ``s = 2 pi t / T``, orthonormalised (QR, signs kept) and scaled to ``sum_t u_k(t)^2 = T``."""
    n_steps = _positive_int("n_steps", n_steps)
    n_inputs = _positive_int("n_inputs", n_inputs)
    if n_inputs > n_steps:
        raise ValueError(f"'n_inputs' must be at most n_steps = {n_steps}, got {n_inputs}")
    s = 2 * np.pi * np.arange(n_steps) / n_steps
    signals = np.empty((n_steps, n_inputs))
    for k in range(n_inputs):
        order = (k + 1) // 2
        signals[:, k] = np.cos(order * s) if k % 2 == 0 else np.sin(order * s)
    q, r = np.linalg.qr(signals)
    return np.sqrt(n_steps) * q * np.sign(np.diag(r))


def butterfly_target(n_steps=TASK["n_steps"]):
    """Rosenbaum's butterfly, shape (n_steps, 2): ``rho(theta) (cos theta, sin theta)``, ``theta = 2 pi t/(T - 1)``."""
    n_steps = _positive_int("n_steps", n_steps)
    if n_steps < 2:
        raise ValueError(f"'n_steps' must be at least 2, got {n_steps}")
    theta = 2 * np.pi * np.arange(n_steps) / (n_steps - 1)
    rho = 0.1 * (9 - np.sin(theta) + 2 * np.sin(3 * theta) + 2 * np.sin(5 * theta) - np.sin(7 * theta)
                 + 3 * np.cos(2 * theta) - 2 * np.cos(4 * theta))
    return np.stack([rho * np.cos(theta), rho * np.sin(theta)], axis=1)
