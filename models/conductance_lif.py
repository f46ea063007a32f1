"""Conductance-based leaky integrate-and-fire neuron with exponential excitatory and inhibitory synapses.

The neuron of Song, Miller & Abbott (2000), "Competitive Hebbian learning through
spike-timing-dependent synaptic plasticity", Nat Neurosci 3:919, doi:10.1038/78829 (Methods):

.. math::

    \\tau_m \\frac{dV}{dt} = V_{rest} - V + g_{ex} (E_{ex} - V) + g_{in} (E_{in} - V), \\qquad
    \\frac{dg_{ex}}{dt} = -\\frac{g_{ex}}{\\tau_{ex}}, \\quad \\frac{dg_{in}}{dt} = -\\frac{g_{in}}{\\tau_{in}}

with the conductances ``g_ex``, ``g_in`` in units of the leak conductance. When ``V`` reaches
``V_th`` the neuron spikes and ``V`` is reset to ``V_reset``. A presynaptic excitatory spike adds
``w g_max`` to ``g_ex`` (``w`` in [0, 1]), an inhibitory spike ``g_in_step`` to ``g_in``
(:data:`EXC_EFFECT`, :data:`INH_EFFECT`).
"""

import brian2 as b2

#: Song, Miller & Abbott (2000), Methods.
SONG2000_NEURON = {
    "tau_m": 20.0 * b2.ms,  # membrane time constant
    "V_rest": -70.0 * b2.mV,  # resting potential
    "V_th": -54.0 * b2.mV,  # spike threshold
    "V_reset": -60.0 * b2.mV,  # reset potential
    "E_ex": 0.0 * b2.mV,  # excitatory reversal potential
    "E_in": -70.0 * b2.mV,  # inhibitory reversal potential
    "tau_ex": 5.0 * b2.ms,  # excitatory conductance decay
    "tau_in": 5.0 * b2.ms,  # inhibitory conductance decay
    "g_max": 0.015,  # peak excitatory conductance of one synapse at w = 1 (units of the leak conductance)
    "g_in_step": 0.05,  # conductance of one inhibitory spike (units of the leak conductance)
}

EQS = """
dV/dt = (V_rest - V + g_ex*(E_ex - V) + g_in*(E_in - V))/tau_m : volt
dg_ex/dt = -g_ex/tau_ex : 1   # excitatory conductance / leak conductance
dg_in/dt = -g_in/tau_in : 1   # inhibitory conductance / leak conductance
"""

#: Synaptic effect of an excitatory synapse with weight ``w`` (fraction of g_max).
EXC_EFFECT = "g_ex_post += w*g_max"
#: Synaptic effect of an inhibitory spike.
INH_EFFECT = "g_in_post += g_in_step"


def neuron_params(**overrides):
    """:data:`SONG2000_NEURON` with ``overrides``; ``ValueError`` on unknown names or bad values."""
    unknown = set(overrides) - set(SONG2000_NEURON)
    if unknown:
        raise ValueError(f"unknown neuron parameter(s) {sorted(unknown)}; allowed: {', '.join(SONG2000_NEURON)}")
    params = {**SONG2000_NEURON, **overrides}
    for name in ("tau_m", "tau_ex", "tau_in"):
        value = params[name]
        if not isinstance(value, b2.Quantity) or not value.has_same_dimensions(b2.second) or float(value) <= 0:
            raise ValueError(f"'{name}' must be a positive time, got {value!r}")
    if not params["V_th"] > params["V_reset"]:
        raise ValueError("'V_th' must lie above 'V_reset'")
    for name in ("g_max", "g_in_step"):
        if float(params[name]) < 0:
            raise ValueError(f"'{name}' must be non-negative, got {params[name]!r}")
    return params


def conductance_lif_group(n, params=None, name=None, dt=None, method="exponential_euler"):
    """A :class:`brian2.NeuronGroup` of ``n`` Song et al. neurons starting at rest.

    ``V`` is linear in itself with a conductance-dependent time constant, so exponential Euler
    integrates it exactly for conductances held over a step.
    """
    params = neuron_params(**(params or {}))
    kwargs = {"dt": dt} if dt is not None else {}
    group = b2.NeuronGroup(n, EQS, threshold="V > V_th", reset="V = V_reset", method=method,
                           namespace=dict(params), name=name or "conductance_lif*", **kwargs)
    group.V = params["V_rest"]
    return group
