"""Discrete-time LIF, ALIF and leaky readout neurons of Bellec et al. (2020), as Brian2 code.

Bellec, Scherr, Subramoney, Hajek, Salaj, Legenstein & Maass (2020), "A solution to the
learning dilemma for recurrent networks of spiking neurons", Nat Commun 11:3625,
doi:10.1038/s41467-020-17236-y (Methods, eqs. 1-3 and 20-25).

The model is defined on a grid of steps of length ``dt`` (1 ms in the paper). With
:math:`\\alpha = e^{-dt/\\tau_m}`, :math:`\\rho = e^{-dt/\\tau_a}`, :math:`\\kappa = e^{-dt/\\tau_{out}}`
and every state starting at zero at the beginning of a trial, step ``t`` computes

.. math::

    I_j^t &= \\sum_i W^{in}_{ji} x_i^t + \\sum_i W^{rec}_{ji} z_i^{t-1}

    v_j^t &= \\alpha v_j^{t-1} + c\\, I_j^t - v_{th} z_j^{t-1}

    a_j^t &= \\rho a_j^{t-1} + z_j^{t-1}, \\qquad A_j^t = v_{th} + \\beta_j a_j^t

    z_j^t &= H(v_j^t - A_j^t) \\quad\\text{(0 while refractory)}

    \\psi_j^t &= \\frac{\\gamma}{v_{th}} \\max\\left(0, 1 - \\left|\\frac{v_j^t - A_j^t}{v_{th}}\\right|\\right)
    \\quad\\text{(0 while refractory)}

    y_k^t &= \\kappa y_k^{t-1} + (1 - \\kappa) \\sum_j W^{out}_{kj} z_j^t

``c`` is the input scale: ``1 - alpha`` in the pattern-generation tutorial of the reference
code, ``1`` in the evidence-accumulation one. ``H(0) = 0``. LIF neurons have ``beta = 0``.
A neuron is refractory for the ``n_ref = round(t_ref / dt) - 1`` steps that follow a spike,
so that a neuron spiking at step ``t`` can spike again at step ``t + t_ref/dt`` at the
earliest: the convention of Brian2's ``refractory``, of NEST's e-prop neurons and of the
reference code (where ``t_ref = 5 ms`` blocks 4 steps).
The reset subtracts ``v_th`` one step after the spike (Bellec et al. eq. 20).

The potential and the weights onto recurrent neurons carry the unit volt; the paper's
dimensionless ``v_th = 0.03`` is 30 mV here, and the numbers are the same in SI units, so
one set of weights gives the same spikes in Brian2 and in the BPTT reference
(:mod:`brian2learn.plasticity.bptt`).

In Brian2 the step is split over the scheduling slots of one time step (see
:func:`brian2learn.plasticity.eprop` for the synaptic part):

- ``groups``: :data:`RECURRENT_STEP` advances ``v``, ``a`` and ``psi`` from the synaptic
  inputs ``I_in`` (input spikes ``x^t``, delivered in ``before_groups``) and ``I_rec``
  (recurrent spikes ``z^{t-1}``, delivered in the ``synapses`` slot of the previous step),
  then clears both;
- ``thresholds``: :data:`RECURRENT_THRESHOLD`;
- ``resets``: :data:`RECURRENT_RESET` marks the spike (``z = 1``); the potential is reset
  in the next step's update;
- ``after_resets``: the readout (:data:`READOUT_STEP_MSE` or the softmax variant).
"""

import brian2 as b2
import numpy as np

#: Parameters of the pattern-generation task (Bellec et al. 2020, Fig. S7; NEST 3.10
#: example ``eprop_supervised_regression_sine-waves_bsshslm_2020``).
BELLEC2020_PATTERN_GENERATION = {
    "dt": 1.0 * b2.ms,  # simulation step
    "tau_m": 30.0 * b2.ms,  # membrane time constant of recurrent neurons
    "tau_out": 30.0 * b2.ms,  # time constant of the leaky readout
    "tau_a": 200.0 * b2.ms,  # adaptation time constant (unused: all neurons are LIF)
    "beta": 0.0 * b2.mV,  # threshold adaptation strength (0: LIF)
    "v_th": 30.0 * b2.mV,  # spike threshold (dimensionless 0.03 in the paper)
    "gamma": 0.3,  # dampening factor of the pseudo-derivative
    "t_ref": 0.0 * b2.ms,  # absolute refractory period
    "input_scale": "1-alpha",  # input enters scaled by (1 - alpha)
}

#: Parameters of the evidence-accumulation task (Bellec et al. 2020, Fig. 3).
BELLEC2020_EVIDENCE_ACCUMULATION = {
    "dt": 1.0 * b2.ms,
    "tau_m": 20.0 * b2.ms,
    "tau_out": 20.0 * b2.ms,
    "tau_a": 2000.0 * b2.ms,
    # threshold adaptation strength 1.7 (1 - rho)/(1 - alpha) of the reference code, = 17.43 mV
    # (0.0174 in the units of the dimensionless v_th = 0.6)
    "beta": 1.7 * (1 - np.exp(-1.0 / 2000.0)) / (1 - np.exp(-1.0 / 20.0)) * b2.volt,
    "v_th": 600.0 * b2.mV,
    "gamma": 0.3,
    "t_ref": 5.0 * b2.ms,
    "input_scale": "1",
}

#: Variables of a recurrent e-prop neuron (LIF when ``beta == 0``, otherwise ALIF).
RECURRENT_EQS = """
v : volt                      # membrane potential after this step's input
a : 1                         # threshold adaptation, low-pass of own spikes with rho
beta : volt (constant)        # adaptation strength (0 for LIF)
z : 1                         # spike emitted in this step (0 or 1)
psi : 1/volt                  # pseudo-derivative dz/dv of this step
psi_prev : 1/volt             # pseudo-derivative of the previous step (ALIF eligibility)
refractory_left : integer     # steps during which the neuron cannot spike
blocked : 1                   # 1 while refractory in this step
I_in : volt                   # feed-forward input of this step (sum of w over input spikes)
I_rec : volt                  # recurrent input of this step (sum of w over last step's spikes)
zbar : 1                      # low-pass (alpha) of the recurrent presynaptic signal z^{t-1}
zbar_prev : 1                 # zbar of the previous step (ALIF eligibility)
zfilt : 1                     # low-pass (kappa, gain 1-kappa) of z^t, for readout gradients
n_spikes : 1                  # spikes in the current trial
"""

#: Per-step update of a recurrent neuron, run in the ``groups`` slot.
RECURRENT_STEP = """
psi_prev = psi
zbar_prev = zbar
zbar = alpha*zbar + z
v = alpha*v + input_scale*(I_in + I_rec) - v_th*z
I_in = 0*volt
I_rec = 0*volt
a = rho*a + z
blocked = int(refractory_left > 0)
refractory_left = refractory_left - int(refractory_left > 0)
psi = (gamma/v_th)*clip(1 - abs((v - v_th - beta*a)/v_th), 0, 1)*(1 - blocked)
z = 0
"""

#: Spike condition of a recurrent neuron (``H(0) = 0``).
RECURRENT_THRESHOLD = "v > v_th + beta*a and blocked < 0.5"

#: Spike bookkeeping of a recurrent neuron; the potential is reset in the next step.
RECURRENT_RESET = """
z = 1
refractory_left = n_ref
n_spikes += 1
"""

#: Low-pass of the spikes with the readout's filter, run after the resets.
RECURRENT_READOUT_TRACE = "zfilt = kappa*zfilt + (1 - kappa)*z"

#: Variables of a leaky readout neuron.
READOUT_EQS = """
y : 1                  # readout value
y_target : 1           # target of this step
window : 1             # weight of this step in the loss (0 outside the learning window)
err : 1                # dE/dy of this step: window*(y - y_target) or window*(pi - pi*)
I_out : 1              # input sum_j W_out z_j of this step (delivered by the spikes)
loss : 1               # loss of this neuron accumulated over the current trial
vote : 1               # window-weighted sum of y over the current trial (the decision variable)
"""

#: Per-step readout with mean squared error E = 1/2 sum_t window_t (y - y*)^2.
READOUT_STEP_MSE = """
y = kappa*y + (1 - kappa)*I_out
I_out = 0
err = window*(y - y_target)
loss += 0.5*window*(y - y_target)**2
vote += window*y
"""

#: Extra readout variables for softmax cross-entropy (summed over the readout population).
READOUT_SOFTMAX_EQS = """
exp_sum : 1            # sum_k exp(y_k) over the readout population
"""

#: First half of the softmax readout: the leaky integration.
READOUT_STEP_SOFTMAX_INTEGRATE = "y = kappa*y + (1 - kappa)*I_out\nI_out = 0"

#: Second half of the softmax readout, after ``exp_sum`` is summed:
#: E = -sum_t window_t sum_k pi*_k log pi_k with pi = softmax(y).
READOUT_STEP_SOFTMAX_ERROR = """
err = window*(exp(y)/exp_sum - y_target)
loss += -window*y_target*(y - log(exp_sum))
vote += window*y
"""


#: An example value of each unit, for the error messages.
_UNIT_EXAMPLES = {"second": "30*ms", "volt": "30*mV"}


def _require_quantity(name, value, unit):
    if not isinstance(value, b2.Quantity) or not value.has_same_dimensions(unit):
        example = _UNIT_EXAMPLES.get(repr(unit), f"1*{unit!r}")
        raise ValueError(
            f"parameter '{name}' must be a Brian2 quantity in units of {unit!r} "
            f"(for example {example}), got {value!r}"
        )


def _is_number(value):
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def validate_neuron_params(params):
    """Check units and ranges of a neuron parameter dict; return a complete copy.

    Raises
    ------
    ValueError
        Naming the parameter, for a missing unit, a non-positive time constant or
        threshold, or an unknown input scale.
    """
    required = ["dt", "tau_m", "tau_out", "tau_a", "beta", "v_th", "gamma", "t_ref", "input_scale"]
    if not isinstance(params, dict):
        raise ValueError(f"neuron parameters must be a dict with the keys {required}, got {type(params).__name__}")
    unknown = [key for key in params if key not in required]
    if unknown:
        raise ValueError(f"unknown neuron parameters {unknown}; the parameters are {required}")
    missing = [key for key in required if key not in params]
    if missing:
        raise ValueError(f"neuron parameters are missing {missing}; required are {required}")
    for name in ("dt", "tau_m", "tau_out", "tau_a"):
        _require_quantity(name, params[name], b2.second)
        if float(params[name]) <= 0:
            raise ValueError(f"parameter '{name}' must be positive, got {params[name]!r}")
    _require_quantity("t_ref", params["t_ref"], b2.second)
    if float(params["t_ref"]) < 0:
        raise ValueError(f"parameter 't_ref' must be non-negative, got {params['t_ref']!r}")
    for name in ("v_th", "beta"):
        _require_quantity(name, params[name], b2.volt)
    if float(params["v_th"]) <= 0:
        raise ValueError(f"parameter 'v_th' must be positive, got {params['v_th']!r}")
    if float(params["beta"]) < 0:
        raise ValueError(f"parameter 'beta' must be non-negative, got {params['beta']!r}")
    if not _is_number(params["gamma"]) or not 0 < float(params["gamma"]) < np.inf:
        raise ValueError(f"parameter 'gamma' must be a positive number, got {params['gamma']!r}")
    if params["input_scale"] not in ("1-alpha", "1"):
        raise ValueError(
            f"parameter 'input_scale' must be '1-alpha' or '1', got {params['input_scale']!r}"
        )
    return dict(params)


def discrete_constants(params):
    """The per-step constants of the discrete model as plain floats.

    Computed once in Python so that Brian2's generated code and the BPTT reference use
    bit-identical decay factors.

    Returns
    -------
    dict
        ``alpha``, ``kappa``, ``rho``, ``input_scale`` (floats), ``n_ref`` (int): the steps
        after a spike in which the neuron cannot spike, ``round(t_ref / dt) - 1`` (at least 0),
        so that two spikes are at least ``t_ref`` apart.
    """
    params = validate_neuron_params(params)
    dt = float(params["dt"])
    alpha = float(np.exp(-dt / float(params["tau_m"])))
    return {
        "alpha": alpha,
        "kappa": float(np.exp(-dt / float(params["tau_out"]))),
        "rho": float(np.exp(-dt / float(params["tau_a"]))),
        "input_scale": 1.0 - alpha if params["input_scale"] == "1-alpha" else 1.0,
        "n_ref": max(int(round(float(params["t_ref"]) / dt)) - 1, 0),
    }


def adaptation_strengths(beta, params, n_rec):
    """Adaptation strength of each of ``n_rec`` recurrent neurons (volt): ``beta`` broadcast, or ``params['beta']``.

    Raises ``ValueError`` unless ``beta`` is ``None`` or a quantity in volt (a scalar or one value per neuron).
    """
    if beta is None:
        return np.full(n_rec, float(params["beta"])) * b2.volt
    if not isinstance(beta, b2.Quantity) or not beta.has_same_dimensions(b2.volt):
        raise ValueError("'beta' must be an array in volt (one value per recurrent neuron)")
    return np.broadcast_to(np.asarray(beta), (n_rec,)).copy() * b2.volt


class RecurrentNeuronsConfig:
    """What a configuration with ``neuron_params`` and per-neuron ``beta`` (volt) derives from them."""

    @property
    def adaptive(self):
        """Whether any recurrent neuron has threshold adaptation (ALIF)."""
        return bool(np.any(np.asarray(self.beta) > 0))

    @property
    def dt(self):
        return self.neuron_params["dt"]
