"""Tsodyks–Markram short-term plasticity (depression and facilitation) as Brian2 synapse code.

Tsodyks & Markram (1997), PNAS 94:719, doi:10.1073/pnas.94.2.719; Markram, Wang & Tsodyks (1998),
"Differential signaling via the same axon of neocortical pyramidal neurons", PNAS 95:5323,
doi:10.1073/pnas.95.9.5323 (the UDF model); parameters of Gupta, Wang & Markram (2000) as used by
Maass, Natschläger & Markram (2002), Neural Comput 14:2531.

Model
-----
Each synapse has a utilization ``u`` (release probability) and a fraction of available resources
``x``. Between spikes ``u`` decays to 0 with ``tau_f`` and ``x`` recovers to 1 with ``tau_d``:

.. math:: \\dot u = -u/\\tau_f, \\qquad \\dot x = (1 - x)/\\tau_d \\quad\\text{(event-driven)}.

At a presynaptic spike, first ``u \\leftarrow u + U (1 - u)``, then the released fraction is
``r = u x``, the postsynaptic effect has amplitude ``w r``, and ``x \\leftarrow x - r``. For a regular
train with interval ``Delta`` from rest this is the recursion of Markram et al. (1998)

.. math::

    u_1 = U,\\ x_1 = 1, \\quad u_{n+1} = U + u_n (1 - U) e^{-\\Delta/\\tau_f}, \\quad
    x_{n+1} = 1 + (x_n - u_n x_n - 1) e^{-\\Delta/\\tau_d}, \\quad A_n = w\\, u_n x_n

(:func:`tm_train_amplitudes`). ``tau_f -> 0`` gives pure depression (``u_n = U``).

For rates below ``1/tau``, the steady-state amplitude of a Poisson train is not ``w U``; studies that
want a given mean efficacy can divide by :func:`tm_steady_state_factor`.
"""

import brian2 as b2
import numpy as np

#: UDF parameters of Gupta et al. (2000) per connection type, as in Maass et al. (2002).
GUPTA2000_UDF = {
    "EE": {"U": 0.5, "tau_d": 1100.0 * b2.ms, "tau_f": 50.0 * b2.ms},  # depressing
    "EI": {"U": 0.05, "tau_d": 125.0 * b2.ms, "tau_f": 1200.0 * b2.ms},  # facilitating
    "IE": {"U": 0.25, "tau_d": 700.0 * b2.ms, "tau_f": 20.0 * b2.ms},
    "II": {"U": 0.32, "tau_d": 144.0 * b2.ms, "tau_f": 60.0 * b2.ms},
}

TM_MODEL = """
du_stp/dt = -u_stp/tau_f : 1 (event-driven)       # utilization, decays to 0 between spikes
dx_stp/dt = (1 - x_stp)/tau_d : 1 (event-driven)  # available resources, recover to 1
r_stp : 1                                        # released fraction u*x at the last spike
"""

TM_ON_PRE = """
u_stp += U*(1 - u_stp)
r_stp = u_stp*x_stp
x_stp -= r_stp
{effect}
"""


def tm_params(U, tau_d, tau_f):
    """Checked UDF parameters: ``0 < U <= 1``, ``tau_d > 0``, ``tau_f > 0`` (times)."""
    if not 0 < float(U) <= 1:
        raise ValueError(f"'U' must lie in (0, 1], got {U!r}")
    for name, value in (("tau_d", tau_d), ("tau_f", tau_f)):
        if not isinstance(value, b2.Quantity) or not value.has_same_dimensions(b2.second) or float(value) <= 0:
            raise ValueError(f"'{name}' must be a positive time (e.g. 100*ms), got {value!r}")
    return {"U": float(U), "tau_d": tau_d, "tau_f": tau_f}


def tm_equations(effect, U, tau_d, tau_f, extra_model=""):
    """``dict(model=..., on_pre=..., namespace=...)`` of Tsodyks–Markram STP.

    Parameters
    ----------
    effect : str
        Synaptic effect using the released fraction ``r_stp``, e.g. ``"I_post += w*r_stp*nA"``.
    U, tau_d, tau_f
        Utilization increment, recovery and facilitation time constants.
    extra_model : str
        More synaptic equations (e.g. ``"w : 1"``).
    """
    return {"model": TM_MODEL + extra_model, "on_pre": TM_ON_PRE.format(effect=effect),
            "namespace": tm_params(U, tau_d, tau_f)}


def tm_synapses(source, target, i, j, effect, U, tau_d, tau_f, w=None, name=None, delay=None, dt=None,
                namespace=None):
    """Synapses with Tsodyks–Markram STP from ``source[i]`` to ``target[j]``, starting at rest (u=0, x=1).

    ``w`` (optional) adds a dimensionless weight variable ``w`` with these initial values.
    """
    code = tm_equations(effect, U, tau_d, tau_f, extra_model="w : 1\n" if w is not None else "")
    i = np.asarray(i, dtype=np.int64)
    j = np.asarray(j, dtype=np.int64)
    if i.shape != j.shape or i.ndim != 1:
        raise ValueError(f"'i' and 'j' must be 1-d arrays of one length, got shapes {i.shape} and {j.shape}")
    kwargs = {"dt": dt} if dt is not None else {}
    syn = b2.Synapses(source, target, code["model"], on_pre=code["on_pre"],
                      namespace={**code["namespace"], **(namespace or {})}, name=name or "tm_stp*", **kwargs)
    syn.connect(i=i, j=j)
    syn.x_stp = 1.0
    if w is not None:
        syn.w = np.broadcast_to(np.asarray(w, dtype=float), i.shape)
    if delay is not None:
        syn.delay = delay
    return syn


def tm_train_amplitudes(n_spikes, interval, U, tau_d, tau_f, w=1.0):
    """Amplitudes ``w u_n x_n`` of a regular train of ``n_spikes`` from rest (recursion of Markram et al. 1998)."""
    if int(n_spikes) < 1:
        raise ValueError(f"'n_spikes' must be a positive integer, got {n_spikes!r}")
    ef = np.exp(-float(interval / tau_f))
    ed = np.exp(-float(interval / tau_d))
    u, x = U, 1.0
    out = []
    for _ in range(int(n_spikes)):
        out.append(w * u * x)
        u, x = U + u * (1 - U) * ef, 1 + (x - u * x - 1) * ed
    return np.array(out)


def tm_steady_state_factor(rate, U, tau_d, tau_f):
    """Mean-field steady state ``u* x*`` of a regular train at ``rate`` (relative efficacy, ``U`` at low rates).

    From the fixed point of the recursion: ``u* = U / (1 - (1 - U) e^{-1/(rate tau_f)})``,
    ``x* = (1 - e^{-1/(rate tau_d)}) / (1 - (1 - u*) e^{-1/(rate tau_d)})``.
    """
    interval = 1.0 / float(rate / b2.Hz)
    ef = np.exp(-interval / float(tau_f / b2.second))
    ed = np.exp(-interval / float(tau_d / b2.second))
    u = U / (1 - (1 - U) * ef)
    x = (1 - ed) / (1 - (1 - u) * ed)
    return u * x
