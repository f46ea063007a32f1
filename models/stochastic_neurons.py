"""Stochastic (escape-noise) spike-response neurons with an excitability offset per neuron.

The neuron model of the network of Pokorny, Ison, Rao, Legenstein, Papadimitriou & Maass (2020),
"STDP forms associations between memory traces in networks of spiking neurons", Cereb Cortex
30(3):952, doi:10.1093/cercor/bhz140, in the form of the escape-noise spike response model of
Jolivet, Rauch, Lüscher & Gerstner (2006), J Comput Neurosci 21:35, doi:10.1007/s10827-006-7074-5.

Membrane potential
------------------
No reset and no leaky integration: the potential is the sum of postsynaptic potentials and the
neuron's excitability offset,

.. math::

    u_k(t) = b_k + \\sum_{i \\in exc} w_{ki} \\epsilon_e(t - t_i) - \\sum_{i \\in inh} w_{ki} \\epsilon_i(t - t_i),

with a double-exponential PSP kernel normalised to a peak of 1,

.. math::

    \\epsilon(s) = \\frac{e^{-s/\\tau_d} - e^{-s/\\tau_r}}{\\max_s (e^{-s/\\tau_d} - e^{-s/\\tau_r})}, \\quad s \\ge 0,

so that ``w`` is the peak PSP in mV. In Brian2 each kernel is two event-driven exponentials per
neuron (``x_*`` rise, ``y_*`` decay); a presynaptic spike adds its weight to both
(:func:`exc_effect`, :func:`inh_effect`).

Escape noise
------------
The neuron fires with the instantaneous rate

.. math:: \\rho_k(t) = \\rho_0 \\exp\\left(\\frac{u_k(t) - \\vartheta}{\\Delta_u}\\right),

i.e. with probability ``1 - exp(-rho dt)`` per step, and is silent for an absolute refractory period
``t_ref`` after each spike. With constant potential the rate is that of a Poisson process with dead
time, ``rho / (1 + rho t_ref)`` (tested).

Excitability
------------
The offset ``b_k = gamma_exc * b_gen + xi_k`` has a generic part ``b_gen`` scaled by the network
parameter ``gamma_exc`` and a neuron-specific part ``xi_k ~ N(0, sigma_b^2)``
(:func:`excitability_offsets`). Pokorny et al. scale neuron excitability with one parameter; its
exact form is not reproduced here, this additive offset is the choice of this module.
"""

import brian2 as b2
import numpy as np

#: Default parameters (choices documented in the module docstring and the study using them).
STOCHASTIC_NEURON = {
    "rho_0": 2.0 * b2.Hz,  # rate at u = theta
    "theta": 0.0 * b2.mV,  # reference potential of the escape rate
    "delta_u": 2.0 * b2.mV,  # softness of the escape rate (rate x e per delta_u)
    "t_ref": 3.0 * b2.ms,  # absolute refractory period
    "tau_rise_e": 1.0 * b2.ms,  # excitatory PSP rise time constant
    "tau_decay_e": 10.0 * b2.ms,  # excitatory PSP decay time constant
    "tau_rise_i": 1.0 * b2.ms,  # inhibitory PSP rise time constant
    "tau_decay_i": 15.0 * b2.ms,  # inhibitory PSP decay time constant
}

EQS = """
dx_e/dt = -x_e/tau_rise_e : volt     # rise part of the excitatory PSPs
dy_e/dt = -y_e/tau_decay_e : volt    # decay part of the excitatory PSPs
dx_i/dt = -x_i/tau_rise_i : volt     # rise part of the inhibitory PSPs
dy_i/dt = -y_i/tau_decay_i : volt    # decay part of the inhibitory PSPs
b : volt                             # excitability offset b_k
u = b + norm_e*(y_e - x_e) - norm_i*(y_i - x_i) : volt
rho = rho_0*exp((u - theta)/delta_u) : Hz
"""

THRESHOLD = "rand() < 1 - exp(-rho*dt)"


def psp_peak_norm(tau_rise, tau_decay):
    """``1 / max_s (e^{-s/tau_d} - e^{-s/tau_r})``: the factor giving the double-exponential kernel a peak of 1."""
    tr, td = float(tau_rise / b2.second), float(tau_decay / b2.second)
    if not 0 < tr < td:
        raise ValueError(f"PSP time constants need 0 < tau_rise < tau_decay, got {tau_rise!r}, {tau_decay!r}")
    s_peak = np.log(td / tr) * tr * td / (td - tr)
    return 1.0 / (np.exp(-s_peak / td) - np.exp(-s_peak / tr))


def neuron_params(**overrides):
    """:data:`STOCHASTIC_NEURON` with ``overrides``, checked; adds the PSP normalisations ``norm_e``, ``norm_i``."""
    unknown = set(overrides) - set(STOCHASTIC_NEURON)
    if unknown:
        raise ValueError(f"unknown neuron parameter(s) {sorted(unknown)}; allowed: {', '.join(STOCHASTIC_NEURON)}")
    params = {**STOCHASTIC_NEURON, **overrides}
    for name in ("t_ref", "tau_rise_e", "tau_decay_e", "tau_rise_i", "tau_decay_i"):
        value = params[name]
        if not isinstance(value, b2.Quantity) or not value.has_same_dimensions(b2.second) or float(value) < 0:
            raise ValueError(f"'{name}' must be a non-negative time, got {value!r}")
    if not isinstance(params["rho_0"], b2.Quantity) or not params["rho_0"].has_same_dimensions(b2.Hz) \
            or float(params["rho_0"]) <= 0:
        raise ValueError(f"'rho_0' must be a positive rate, got {params['rho_0']!r}")
    if not isinstance(params["delta_u"], b2.Quantity) or not params["delta_u"].has_same_dimensions(b2.volt) \
            or float(params["delta_u"]) <= 0:
        raise ValueError(f"'delta_u' must be a positive voltage, got {params['delta_u']!r}")
    params["norm_e"] = psp_peak_norm(params["tau_rise_e"], params["tau_decay_e"])
    params["norm_i"] = psp_peak_norm(params["tau_rise_i"], params["tau_decay_i"])
    return params


def stochastic_group(n, params=None, name=None, dt=None, extra_equations=""):
    """A :class:`brian2.NeuronGroup` of ``n`` escape-noise neurons (offset ``b`` = 0 until set).

    ``extra_equations`` are appended to :data:`EQS` (e.g. ``"w_unit : 1"``, a per-neuron constant that
    outgoing synapses read as ``w_unit_pre``); they must not change ``u``.
    """
    params = neuron_params(**(params or {}))
    kwargs = {"dt": dt} if dt is not None else {}
    return b2.NeuronGroup(n, EQS + extra_equations, threshold=THRESHOLD, refractory=params["t_ref"], method="exact",
                          namespace=params, name=name or "stochastic*", **kwargs)


def exc_effect(amplitude="w*mV"):
    """On-pre code adding an excitatory PSP of peak ``amplitude`` (an expression in volt)."""
    return f"x_e_post += {amplitude}\ny_e_post += {amplitude}"


def inh_effect(amplitude="w*mV"):
    """On-pre code adding an inhibitory PSP of peak ``amplitude`` (an expression in volt)."""
    return f"x_i_post += {amplitude}\ny_i_post += {amplitude}"


def escape_rate(u, params=None):
    """``rho_0 exp((u - theta)/delta_u)`` for potentials ``u`` (Quantity), in Hz (Quantity)."""
    p = neuron_params(**(params or {}))
    return p["rho_0"] * np.exp(np.asarray((u - p["theta"]) / p["delta_u"], dtype=float))


def stationary_rate(u, params=None):
    """Rate at constant potential ``u``: ``rho / (1 + rho t_ref)`` (Poisson process with dead time), in Hz."""
    p = neuron_params(**(params or {}))
    rho = escape_rate(u, params)
    return rho / (1 + rho * p["t_ref"])


def excitability_offsets(n, gamma_exc, b_gen, sigma_b, rng):
    """Offsets ``b_k = gamma_exc * b_gen + xi_k``, ``xi_k ~ N(0, sigma_b^2)``, drawn with numpy ``rng``."""
    if int(n) < 1:
        raise ValueError(f"'n' must be a positive integer, got {n!r}")
    if not np.isfinite(gamma_exc):
        raise ValueError(f"'gamma_exc' must be finite, got {gamma_exc!r}")
    if float(sigma_b / b2.mV) < 0:
        raise ValueError(f"'sigma_b' must be non-negative, got {sigma_b!r}")
    return gamma_exc * b_gen + rng.standard_normal(int(n)) * sigma_b
