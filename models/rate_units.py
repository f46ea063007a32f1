"""Discrete-time rate units as Brian2 code: leaky tanh units, linear readouts, input channels.

The units are defined on a grid of steps (Brian2's ``dt`` only counts steps; every variable is
dimensionless) and advanced by ``run_regularly`` code in fixed scheduling slots, so that the
plasticity rules (:mod:`brian2learn.plasticity.rflo`, :mod:`brian2learn.plasticity.perturbation`)
can read the quantities of the same step in the slots after them.

Leaky tanh unit (Murray 2019, eLife 8:e43299, eq. 1)
----------------------------------------------------

.. math::

    u_i^t = \\sum_j W^{rec}_{ij} h_j^{t-1} + \\sum_k W^{in}_{ik} x_k^t, \\qquad
    h_i^t = h_i^{t-1} + \\frac{1}{\\tau}\\left(-h_i^{t-1} + \\tanh u_i^t\\right)

with ``tau`` in steps; ``phi'(u) = 1 - tanh(u)^2`` is kept for the eligibility traces. At the start
of every trial the state is set to ``h0``.

Linear readout
--------------

.. math::

    y_k^t = \\sum_i W^{out}_{ki} h_i^t, \\qquad \\varepsilon_k^t = y_k^{*t} - y_k^t,
    \\qquad L = \\frac{1}{2T} \\sum_t \\sum_k (\\varepsilon_k^t)^2

(``T`` the number of time points of a trial, see :mod:`brian2learn.plasticity.rflo`).
"""

import numpy as np

#: Input channels: the value of the current step, set from a stimulus.
INPUT_EQS = """
x : 1                     # input of this step
"""

#: Leaky tanh units; ``u_rec`` and ``u_in`` are summed synaptic inputs.
LEAKY_TANH_EQS = """
h : 1                     # activity h^t
h_prev : 1                # activity of the previous step h^{t-1}
h0 : 1                    # activity at the start of a trial
u : 1                     # total input u^t
u_rec : 1                 # summed W_rec h^{t-1}
u_in : 1                  # summed W_in x^t
phi_prime : 1             # tanh'(u^t)
tau : 1 (constant)        # time constant in steps
"""

#: One step of the leaky tanh units (after the summed inputs of the step). ``h`` is written from
#: ``h_prev``, not as ``h = h + ...``: Brian2's numpy target turns the latter into an in-place
#: ``h += ...`` that also changes ``h_prev``, which it aliases after ``h_prev = h``.
LEAKY_TANH_STEP = """
h_prev = h
u = u_rec + u_in
h = h_prev + (-h_prev + tanh(u))/tau
phi_prime = 1 - tanh(u)**2
"""

#: Start of a trial.
LEAKY_TANH_TRIAL_RESET = """
h = h0
h_prev = h0
u = 0
phi_prime = 0
"""

#: Linear readout; ``y`` is a summed synaptic input, ``loss`` accumulates over the trial.
LINEAR_READOUT_EQS = """
y : 1                     # output y^t
y_target : 1              # target of this step
err : 1                   # y_target - y
loss : 1                  # (1/2T) sum_t err^2 so far in this trial
"""

#: One step of the readout; ``{target}`` is an expression for the target of this step and ``n_points``
#: the number of time points ``T`` that normalises the loss.
LINEAR_READOUT_STEP = """
y_target = {target}
err = y_target - y
loss += err**2/(2*n_points)
"""


def leaky_tanh_forward(w_rec, w_in, w_out, h0, inputs, tau):
    """Reference forward pass in numpy (for tests and figures).

    Parameters
    ----------
    w_rec (N, N), w_in (N, n_in), w_out (n_out, N) : arrays
    h0 : array (N,)
    inputs : array (n_updates, n_in)
        ``x^t`` for the steps ``t = 1 .. n_updates``.
    tau : float

    Returns
    -------
    dict
        ``h`` (n_updates + 1, N) with ``h[0] = h0``, ``u`` (n_updates + 1, N) with ``u[0] = 0``,
        and ``y`` (n_updates + 1, n_out) with ``y[0] = 0`` (Murray's convention).
    """
    w_rec, w_in, w_out = (np.asarray(w, dtype=float) for w in (w_rec, w_in, w_out))
    inputs = np.asarray(inputs, dtype=float)
    n_updates = inputs.shape[0]
    h = np.zeros((n_updates + 1, w_rec.shape[0]))
    u = np.zeros_like(h)
    y = np.zeros((n_updates + 1, w_out.shape[0]))
    h[0] = h0
    for t in range(1, n_updates + 1):
        u[t] = w_rec @ h[t - 1] + w_in @ inputs[t - 1]
        h[t] = h[t - 1] + (-h[t - 1] + np.tanh(u[t])) / tau
        y[t] = w_out @ h[t]
    return {"h": h, "u": u, "y": y}


#: Additive (Hopfield 1984; Baldi & Pineda 1991) units with symmetric weights, clamped or nudged from outside.
#: ``kind``: 0 input (always clamped to its value), 1 hidden, 2 output. ``h`` is the summed sum_j W_ij V_j.
ADDITIVE_UNIT_EQS = """
u : 1                     # internal state u_i
V : 1                     # activity V_i = sigma(u_i), or the clamped value
h : 1                     # summed input sum_j W_ij V_j
b : 1                     # bias
kind : integer (constant) # 0 input, 1 hidden, 2 output
du : 1                    # |u change| of the last step
"""

#: One Euler step of tau du/dt = -u + h + b + nudge*(value - V) (the nudge on outputs only), then V;
#: ``{nudge}``, ``{clamp}``, ``{value}`` and ``{bias}`` (``b``, or the level a discrete bias runs with) are
#: expressions for the step (``clamp`` 1 clamps outputs to ``value``; inputs are always clamped).
ADDITIVE_STEP = """
u_next = u + (-u + h + {bias} + int(kind == 2)*({nudge})*({value} - V))/tau
du = abs(u_next - u)
u = u_next
clamp_now = int(kind == 0) + int(kind == 2)*({clamp})
V = clamp_now*({value}) + (1 - clamp_now)/(1 + exp(-u))
"""


def additive_energy(weights, biases, activity, free):
    """Hopfield's energy of the additive model with logistic units (``free`` marks the units that settle).

    .. math::

        E(V) = -\\tfrac12 \\sum_{i \\ne j} W_{ij} V_i V_j - \\sum_{i \\in free} b_i V_i
               + \\sum_{i \\in free} \\left[V_i \\ln V_i + (1 - V_i)\\ln(1 - V_i) + \\ln 2\\right]

    (the last term is :math:`\\int_{1/2}^{V_i} \\sigma^{-1}(v)\\,dv`); its stationary points over the free
    units are the fixed points :math:`u = W V + b`, :math:`V = \\sigma(u)` (Hopfield 1984, PNAS 81:3088).
    """
    w = np.asarray(weights, dtype=float)
    v = np.asarray(activity, dtype=float)
    free = np.asarray(free, dtype=bool)
    interaction = -0.5 * (v @ w @ v - np.sum(np.diag(w) * v ** 2))
    vf = np.clip(v[free], 1e-300, 1 - 1e-16)
    entropy = np.sum(vf * np.log(vf) + (1 - vf) * np.log1p(-vf) + np.log(2.0))
    return float(interaction - np.sum(np.asarray(biases, dtype=float)[free] * v[free]) + entropy)
