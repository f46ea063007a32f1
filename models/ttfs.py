"""Time-to-first-spike (TTFS) neurons of Göltz, Kriener et al. (2021), as Brian2 equations and in closed form.

Göltz, Kriener et al. (2021), "Fast and energy-efficient neuromorphic deep learning with
first-spike times", Nat Mach Intell 3:823-835, doi:10.1038/s42256-021-00388-x (Methods:
neuron model and exact spike times). Re-implemented from the equations.

Model
-----
A current-based leaky integrate-and-fire neuron with exponential synaptic currents,

.. math::

    C_m \\frac{dV}{dt} = g_l (E_l - V) + I(t), \\qquad
    I(t) = \\sum_i w_i\\, \\Theta(t - t_i)\\, e^{-(t - t_i)/\\tau_s},
    \\qquad \\tau_m = C_m / g_l,

fires when ``V`` first reaches ``v_th``; there is no reset and only this first spike counts
(each neuron fires at most once). Input ``i`` spikes at ``t_i`` with weight ``w_i`` (a current).

*Natural units* (used by every closed-form function here and by :mod:`brian2learn.plasticity.ttfs`):
time in units of ``tau_s``, potential relative to ``E_l`` in units of ``theta_eff = v_th - E_l``,
current in units of ``g_l * theta_eff``. The membrane then obeys
:math:`\\tau_m \\dot u = -u + \\sum_i w_i \\Theta(t - t_i) e^{-(t - t_i)}`, threshold ``u = theta``
(``theta = 1``), and an input contributes the postsynaptic potential ``w_i eps(t - t_i)`` with

- ``tau_m = tau_s``: :math:`\\varepsilon(s) = s\\,e^{-s}`,
- ``tau_m = 2 tau_s``: :math:`\\varepsilon(s) = e^{-s/2} - e^{-s}`.

First spike time in closed form
-------------------------------
Sort the inputs by time. For the *causal set* of the first ``k`` inputs (a prefix) the
potential is a closed expression:

- ``tau_m = tau_s``, with ``a_1 = sum_i w_i e^{t_i}`` and ``b = sum_i w_i t_i e^{t_i}``:
  :math:`u(t) = (a_1 t - b) e^{-t}`, and :math:`u(t^*) = \\theta` has the solution
  :math:`t^* = b/a_1 - W_0\\!\\left(-\\tfrac{\\theta}{a_1} e^{b/a_1}\\right)` (needs ``a_1 > 0`` and
  an argument ``>= -1/e``; ``scipy.special.lambertw``). The principal branch ``W_0`` (values in
  ``[-1, 0)``) gives the upward crossing, before the maximum of ``u`` at ``t = 1 + b/a_1``;
  ``W_{-1}`` would give the later downward one.
- ``tau_m = 2 tau_s``, with ``a_1 = sum_i w_i e^{t_i/2}``, ``a_2 = sum_i w_i e^{t_i}`` and
  ``y = e^{-t/2}``: :math:`u = a_1 y - a_2 y^2`, a quadratic in ``y``; the upward crossing is
  its larger root, :math:`t^* = 2 \\ln\\frac{2 a_2}{a_1 + \\sqrt{a_1^2 - 4 a_2 \\theta}}` (needs
  ``a_1 > 0``, ``a_2 > 0`` and a non-negative discriminant).

A candidate of prefix ``k`` is accepted when it lies in ``[t_(k), t_(k+1))`` (after the last
included input and before the next one); the first accepted prefix gives the spike time and
the number of causal inputs; no accepted prefix means no spike (``inf``). Inputs that never
spike (``inf``) are never in the causal set. Exponentials are taken relative to the earliest
input of each sample, so one sample's input times may span up to :data:`MAX_SPAN` ``tau_s``.

Derivatives of these times (implicit function theorem, exact for the closed form) and their
backpropagation through layers are in :mod:`brian2learn.plasticity.ttfs`.

Brian2
------
:data:`TTFS_EQS` is the same neuron with units (``I_syn`` in amperes, weights added to it on a
presynaptic spike); :func:`ttfs_equations` writes it with one time constant when
``tau_m == tau_s`` so that Brian2's ``exact`` integrator does not divide by
``tau_m - tau_s``. :func:`simulate_first_spikes` runs one layer on the runtime device (a
check of the closed form), and :class:`TTFSBatchNetwork` is a layered network holding a whole
batch of samples as separate neuron copies, for :class:`brian2learn.simulation.devices.DeviceRunner`
(compile once with ``cpp_standalone``, re-run with ``run_args``).
"""

import brian2 as b2
import numpy as np
from scipy.special import lambertw

#: Parameters of the simulated substrate. The paper works in natural units (``tau_s = 1``,
#: ``g_l = 1``, threshold 1); ``tau_m = tau_s`` is its Yin-Yang setting. The physical values
#: (5 ms, -65 / -55 mV, 1 nS) are our choice; only ``tau_m / tau_s`` changes the learning problem.
GOELTZ2021_PARAMS = {
    "tau_s": 5.0 * b2.ms,  # synaptic time constant (the unit of time)
    "tau_m": 5.0 * b2.ms,  # membrane time constant, tau_s or 2 tau_s
    "E_l": -65.0 * b2.mV,  # leak (resting) potential
    "v_th": -55.0 * b2.mV,  # threshold; theta_eff = v_th - E_l
    "g_l": 1.0 * b2.nS,  # leak conductance; C_m = g_l * tau_m
}

#: Supported ratios ``tau_m / tau_s`` of the closed forms.
TAU_RATIOS = (1, 2)

#: Brian2 simulation of a batch of samples (:class:`TTFSBatchNetwork`,
#: :class:`brian2learn.models.ttfs_substrate.TTFSSubstrate`): step and simulated time (units of ``tau_s``),
#: samples per network run (our choice).
SUBSTRATE = {"dt": 0.01, "duration": 4.0, "n_copies": 150}

#: Largest span (in ``tau_s``) of one sample's finite input times that the closed form accepts.
MAX_SPAN = 500.0

#: Neuron equations with units. ``I_syn`` is the synaptic current; ``spiked`` keeps the first spike only.
TTFS_EQS = """
dv/dt = (E_l - v + I_syn/g_l)/tau_m : volt
dI_syn/dt = -I_syn/tau_s : amp
spiked : 1
"""

#: Threshold: the first crossing of ``v_th`` only.
TTFS_THRESHOLD = "v > v_th and spiked < 0.5"

#: Bookkeeping at the spike; the potential is not reset (later spikes are suppressed instead).
TTFS_RESET = "spiked = 1"

#: Presynaptic effect of a synapse with weight ``w`` (amperes).
TTFS_ON_PRE = "I_syn_post += w"

_UNITS = {"tau_s": b2.second, "tau_m": b2.second, "E_l": b2.volt, "v_th": b2.volt, "g_l": b2.siemens}


def validate_ttfs_params(params):
    """Check a parameter dict like :data:`GOELTZ2021_PARAMS`; ``ValueError`` naming the parameter.

    Returns the ratio ``tau_m / tau_s`` (1 or 2).
    """
    if not isinstance(params, dict):
        raise ValueError(f"'params' must be a dict of Brian2 quantities, got {type(params).__name__}")
    for name, unit in _UNITS.items():
        if name not in params:
            raise ValueError(f"parameter '{name}' is missing")
        value = params[name]
        if not isinstance(value, b2.Quantity) or not value.has_same_dimensions(unit):
            raise ValueError(f"parameter '{name}' must be a Brian2 quantity in units of {unit}, got {value!r}")
        if name in ("tau_s", "tau_m", "g_l") and not float(value) > 0:
            raise ValueError(f"parameter '{name}' must be positive, got {value!r}")
    if not float(params["v_th"]) > float(params["E_l"]):
        raise ValueError(f"parameter 'v_th' must lie above 'E_l', got v_th={params['v_th']!r}, "
                         f"E_l={params['E_l']!r}")
    return tau_ratio_of(params)


def tau_ratio_of(params):
    """The ratio ``tau_m / tau_s`` of ``params`` as 1 or 2; ``ValueError`` naming ``tau_m`` otherwise."""
    ratio = float(params["tau_m"] / params["tau_s"])
    for allowed in TAU_RATIOS:
        if abs(ratio - allowed) < 1e-9:
            return allowed
    raise ValueError(f"parameter 'tau_m' must be tau_s or 2*tau_s (closed forms exist for these), "
                     f"got tau_m/tau_s = {ratio:g}")


def check_tau_ratio(tau_ratio):
    if tau_ratio not in TAU_RATIOS:
        raise ValueError(f"'tau_ratio' must be one of {TAU_RATIOS} (tau_m / tau_s), got {tau_ratio!r}")
    return int(tau_ratio)


def neuron_params(tau_ratio):
    """:data:`GOELTZ2021_PARAMS` with ``tau_m = tau_ratio * tau_s``."""
    params = dict(GOELTZ2021_PARAMS)
    params["tau_m"] = tau_ratio * params["tau_s"]
    return params


def weight_unit(params):
    """The current of a natural weight 1: ``g_l * (v_th - E_l)``."""
    return params["g_l"] * (params["v_th"] - params["E_l"])


def ttfs_equations(params):
    """:data:`TTFS_EQS`, written with ``tau_s`` alone when ``tau_m == tau_s`` (for the exact integrator)."""
    if tau_ratio_of(params) == 1:
        return TTFS_EQS.replace("/tau_m", "/tau_s")
    return TTFS_EQS


def ttfs_namespace(params):
    """Namespace of :data:`TTFS_EQS` (the constants of ``params``)."""
    return {name: params[name] for name in _UNITS}


# -- closed form ------------------------------------------------------------------------------------
def psp_kernel(s, tau_ratio=1):
    """Postsynaptic potential ``eps(s)`` of a unit weight, ``s`` in ``tau_s`` (0 for ``s <= 0``)."""
    tau_ratio = check_tau_ratio(tau_ratio)
    s = np.asarray(s, dtype=float)
    positive = s > 0
    sp = np.where(positive, s, 0.0)
    if tau_ratio == 1:
        value = sp * np.exp(-sp)
    else:
        value = np.exp(-sp / 2) - np.exp(-sp)
    return np.where(positive, value, 0.0)


def psp_kernel_derivative(s, tau_ratio=1):
    """``d eps / ds`` (0 for ``s <= 0``)."""
    tau_ratio = check_tau_ratio(tau_ratio)
    s = np.asarray(s, dtype=float)
    positive = s > 0
    sp = np.where(positive, s, 0.0)
    if tau_ratio == 1:
        value = (1.0 - sp) * np.exp(-sp)
    else:
        value = np.exp(-sp) - 0.5 * np.exp(-sp / 2)
    return np.where(positive, value, 0.0)


def membrane_potential(t, t_in, w, tau_ratio=1):
    """Potential ``u(t) = sum_i w_i eps(t - t_i)`` (natural units) of one neuron at the times ``t``.

    ``t_in`` (K,) input times (``inf``: no spike), ``w`` (K,) weights; ignores the threshold.
    """
    t = np.asarray(t, dtype=float)
    t_in = np.asarray(t_in, dtype=float)
    w = np.asarray(w, dtype=float)
    finite = np.isfinite(t_in)
    s = t[..., None] - np.where(finite, t_in, 0.0)
    return np.sum(np.where(finite, w, 0.0) * psp_kernel(s, tau_ratio), axis=-1)


def _as_batch(t_in, w):
    t_in = np.asarray(t_in, dtype=float)
    w = np.asarray(w, dtype=float)
    if t_in.ndim not in (1, 2):
        raise ValueError(f"'t_in' must have shape (K,) or (batch, K), got {t_in.shape}")
    if w.ndim not in (1, 2):
        raise ValueError(f"'w' must have shape (K,) or (K, N), got {w.shape}")
    single_sample, single_neuron = t_in.ndim == 1, w.ndim == 1
    t_in = np.atleast_2d(t_in)
    w = w[:, None] if single_neuron else w
    if w.shape[0] != t_in.shape[1]:
        raise ValueError(f"'w' has {w.shape[0]} rows but 't_in' has {t_in.shape[1]} inputs")
    if np.isnan(t_in).any() or (t_in == -np.inf).any():
        raise ValueError("'t_in' must hold finite times or +inf (no spike)")
    if not np.isfinite(w).all():
        raise ValueError("'w' must be finite")
    return t_in, w, single_sample, single_neuron


def _unbatch(array, single_sample, single_neuron):
    if single_neuron:
        array = array[..., 0]
    if single_sample:
        array = array[0]
    return array


def first_spike_times(t_in, w, tau_ratio=1, theta=1.0, return_causal=False):
    """First spike times of a layer of TTFS neurons, in closed form (natural units).

    Parameters
    ----------
    t_in : array (batch, K) or (K,)
        Input spike times in units of ``tau_s``; ``inf`` for an input that does not spike.
    w : array (K, N) or (K,)
        Weights (natural units, ``g_l * theta_eff``), shared by all samples.
    tau_ratio : {1, 2}
        ``tau_m / tau_s``.
    theta : float
        Threshold in natural units (1 for the model of :data:`GOELTZ2021_PARAMS`).
    return_causal : bool
        Also return the size of the causal set (how many of the sorted inputs precede the spike).

    Returns
    -------
    t_out : array (batch, N) (or squeezed like the inputs)
        First spike times, ``inf`` where the threshold is never reached.
    n_causal : int array of the same shape, only with ``return_causal``.
    """
    tau_ratio = check_tau_ratio(tau_ratio)
    if not np.isfinite(theta) or theta <= 0:
        raise ValueError(f"'theta' must be a positive number, got {theta!r}")
    t_in, w, single_sample, single_neuron = _as_batch(t_in, w)
    n_batch = t_in.shape[0]
    order = np.argsort(t_in, axis=1, kind="stable")
    ts = np.take_along_axis(t_in, order, axis=1)  # (B, K), inf last
    finite = np.isfinite(ts)
    ref = np.where(finite[:, 0], ts[:, 0], 0.0)[:, None]
    rel = np.where(finite, ts - ref, 0.0)
    if rel.size and rel.max() > MAX_SPAN:
        raise ValueError(f"the finite input times of one sample must span at most {MAX_SPAN} tau_s, "
                         f"got {rel.max():g}")
    ws = np.where(finite[:, :, None], w[order], 0.0)  # (B, K, N)
    lower = np.broadcast_to(rel[:, :, None], ws.shape)
    upper = np.concatenate([np.where(finite[:, 1:], ts[:, 1:] - ref, np.inf),
                            np.full((n_batch, 1), np.inf)], axis=1)[:, :, None]
    candidate = np.full(ws.shape, np.nan)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if tau_ratio == 1:
            e1 = np.exp(rel)[:, :, None]
            a1 = np.cumsum(ws * e1, axis=1)
            b = np.cumsum(ws * (rel[:, :, None] * e1), axis=1)
            center = b / a1  # the candidate lies in (center, center + 1]
            z = -theta * np.exp(center) / a1
            valid = (a1 > 0) & np.isfinite(z) & (z >= -1.0 / np.e) & finite[:, :, None]
            # Skip W where the candidate cannot fall into [lower, upper): the potential of the
            # prefix, u(x) = (a_1 x - b) e^{-x}, rises until its peak at center + 1, so it can
            # reach theta in the interval only if the peak is not before it and u at
            # min(peak, upper) reaches theta (up to rounding).
            peak = center + 1.0
            valid &= peak >= lower
            x_end = np.where(valid, np.minimum(peak, upper), 0.0)
            valid &= (a1 * x_end - b) * np.exp(-x_end) >= theta * (1.0 - 1e-9)
            candidate[valid] = center[valid] - lambertw(z[valid], k=0).real
        else:
            e1 = np.exp(rel / 2)[:, :, None]
            a1 = np.cumsum(ws * e1, axis=1)
            a2 = np.cumsum(ws * (e1 * e1), axis=1)
            disc = a1 * a1 - 4.0 * a2 * theta
            valid = (a1 > 0) & (a2 > 0) & (disc >= 0) & finite[:, :, None]
            candidate[valid] = 2.0 * np.log(2.0 * a2[valid] / (a1[valid] + np.sqrt(disc[valid])))
        accepted = valid & (candidate >= lower) & (candidate < upper)
    first = np.argmax(accepted, axis=1)  # (B, N)
    has_spike = np.take_along_axis(accepted, first[:, None, :], axis=1)[:, 0, :]
    t_rel = np.take_along_axis(candidate, first[:, None, :], axis=1)[:, 0, :]
    t_out = np.where(has_spike, t_rel + ref, np.inf)
    n_causal = np.where(has_spike, first + 1, 0)
    t_out = _unbatch(t_out, single_sample, single_neuron)
    if return_causal:
        return t_out, _unbatch(n_causal, single_sample, single_neuron)
    return t_out


def network_first_spike_times(t_in, weights, tau_ratio=1, theta=1.0):
    """Spike times of every layer of a feed-forward TTFS network (closed form, natural units).

    ``weights`` is a list of (K_l, N_l) matrices; layer ``l + 1`` receives the spike times of
    layer ``l`` (``K_{l+1} = N_l``). Returns the list of (batch, N_l) spike-time arrays.
    """
    times = []
    current = np.atleast_2d(np.asarray(t_in, dtype=float))
    for w in weights:
        current = first_spike_times(current, w, tau_ratio=tau_ratio, theta=theta)
        times.append(current)
    return times


# -- Brian2 -------------------------------------------------------------------------------------------
def _check_positive_time(name, value):
    if not isinstance(value, b2.Quantity) or not value.has_same_dimensions(b2.second) or not float(value) > 0:
        raise ValueError(f"'{name}' must be a positive time (e.g. 0.01*ms), got {value!r}")


def make_ttfs_group(n, params, dt, name="ttfs_neurons*"):
    """A NeuronGroup of ``n`` TTFS neurons at rest (``v = E_l``), integrated exactly with step ``dt``."""
    validate_ttfs_params(params)
    group = b2.NeuronGroup(n, ttfs_equations(params), threshold=TTFS_THRESHOLD, reset=TTFS_RESET,
                           method="exact", dt=dt, namespace=ttfs_namespace(params), name=name)
    group.v = params["E_l"]
    return group


def simulate_first_spikes(t_in, w, params=None, dt=None, duration=None, codegen_target="numpy"):
    """One layer of TTFS neurons simulated by Brian2 on the runtime device.

    Parameters
    ----------
    t_in : array (K,)
        Input spike times in units of ``tau_s`` (``inf``: no spike); rounded to the step.
    w : array (K, N)
        Natural weights (units of ``g_l * (v_th - E_l)``).
    params : dict
        Neuron parameters (:data:`GOELTZ2021_PARAMS` by default).
    dt, duration : Quantity
        Step (default ``1e-3 tau_s``) and simulated time (default ``3 tau_s`` after the last input).

    Returns
    -------
    array (N,)
        First spike times in units of ``tau_s`` (read from a SpikeMonitor), ``inf`` for none.
    """
    params = GOELTZ2021_PARAMS if params is None else params
    validate_ttfs_params(params)
    t_in = np.asarray(t_in, dtype=float)
    w = np.atleast_2d(np.asarray(w, dtype=float).T).T
    if t_in.ndim != 1 or w.shape[0] != t_in.shape[0]:
        raise ValueError(f"'t_in' must have shape (K,) and 'w' (K, N), got {t_in.shape} and {w.shape}")
    if (t_in[np.isfinite(t_in)] < 0).any():
        raise ValueError("'t_in' must be non-negative")
    tau_s = params["tau_s"]
    dt = 1e-3 * tau_s if dt is None else dt
    _check_positive_time("dt", dt)
    finite = np.isfinite(t_in)
    if duration is None:
        duration = (float(np.max(t_in[finite], initial=0.0)) + 3.0) * tau_s
    _check_positive_time("duration", duration)
    n_in, n_out = w.shape
    previous = b2.prefs.codegen.target
    b2.prefs.codegen.target = codegen_target
    try:
        b2.set_device("runtime")
        steps = np.round(t_in[finite] * float(tau_s / dt)).astype(int)
        sources = np.flatnonzero(finite)
        inputs = b2.SpikeGeneratorGroup(n_in, sources, steps * dt, dt=dt)
        layer = make_ttfs_group(n_out, params, dt)
        synapses = b2.Synapses(inputs, layer, "w : amp", on_pre=TTFS_ON_PRE, dt=dt)
        pre, post = np.meshgrid(np.arange(n_in), np.arange(n_out), indexing="ij")
        synapses.connect(i=pre.ravel(), j=post.ravel())
        synapses.w = w.ravel() * weight_unit(params)
        monitor = b2.SpikeMonitor(layer)
        network = b2.Network(inputs, layer, synapses, monitor)
        network.run(duration)
        times = np.full(n_out, np.inf)
        indices, spike_t = np.asarray(monitor.i[:]), np.asarray(monitor.t[:] / tau_s)
        times[indices] = spike_t
    finally:
        b2.prefs.codegen.target = previous
    return times


class TTFSBatchNetwork:
    """A layered TTFS network holding ``n_copies`` samples as separate neuron copies.

    Layer sizes ``layer_sizes = [n_in, n_1, ..., n_L]``; copy ``c`` has its own inputs and
    neurons, and all copies share the weights (passed per synapse, tiled). Input ``k`` of copy
    ``c`` is a neuron that fires once, at the first step with ``t >= t_fire - dt/2`` (its time
    rounded to the step). Each run starts at rest.

    The model interface of :class:`brian2learn.simulation.devices.DeviceRunner`:
    ``network``, ``run()``, ``state_variables()`` (``t_fire``, ``w0``, ``w1``, ...; weights
    are (copy, pre, post) flattened, in amperes) and ``stimulus_arrays()`` (none).
    """

    def __init__(self, layer_sizes, n_copies, params=None, dt=None, duration=None, name="ttfs"):
        params = GOELTZ2021_PARAMS if params is None else params
        validate_ttfs_params(params)
        if len(layer_sizes) < 2 or any(int(n) < 1 for n in layer_sizes):
            raise ValueError(f"'layer_sizes' must hold at least two positive sizes, got {layer_sizes!r}")
        if int(n_copies) < 1:
            raise ValueError(f"'n_copies' must be a positive integer, got {n_copies!r}")
        self.params = params
        self.layer_sizes = [int(n) for n in layer_sizes]
        self.n_copies = int(n_copies)
        tau_s = params["tau_s"]
        self.dt = 0.01 * tau_s if dt is None else dt
        self.duration = 4.0 * tau_s if duration is None else duration
        _check_positive_time("dt", self.dt)
        _check_positive_time("duration", self.duration)
        dt = self.dt
        n_c = self.n_copies
        self.inputs = b2.NeuronGroup(n_c * self.layer_sizes[0], "t_fire : second\nspiked : 1",
                                     threshold="t >= t_fire - 0.5*dt and spiked < 0.5", reset="spiked = 1",
                                     dt=dt, name=f"{name}_inputs")
        self.inputs.t_fire = 1e9 * b2.second
        self.layers = []
        self.synapses = []
        self.monitors = [b2.SpikeMonitor(self.inputs, name=f"{name}_inputs_spikes")]
        previous = self.inputs
        for index, (n_pre, n_post) in enumerate(zip(self.layer_sizes[:-1], self.layer_sizes[1:])):
            layer = make_ttfs_group(n_c * n_post, params, dt, name=f"{name}_layer{index + 1}")
            syn = b2.Synapses(previous, layer, "w : amp", on_pre=TTFS_ON_PRE, dt=dt, name=f"{name}_w{index}")
            connect_copies(syn, n_c, n_pre, n_post)
            self.layers.append(layer)
            self.synapses.append(syn)
            self.monitors.append(b2.SpikeMonitor(layer, name=f"{name}_layer{index + 1}_spikes"))
            previous = layer
        self.network = b2.Network(self.inputs, *self.layers, *self.synapses, *self.monitors)

    def run(self):
        self.network.run(self.duration)

    def state_variables(self):
        variables = {"t_fire": (self.inputs, "t_fire")}
        for index, syn in enumerate(self.synapses):
            variables[f"w{index}"] = (syn, "w")
        return variables

    def stimulus_arrays(self):
        return {}

    def run_values(self, t_in, weights):
        """``DeviceRunner.run`` values for this network (see :func:`batch_network_values`)."""
        return batch_network_values(t_in, weights, self.layer_sizes, self.n_copies, self.params, self.dt,
                                    self.duration)

    def spike_times(self):
        """First spike times of inputs and layers after a run: a list of (n_copies, n) arrays in ``tau_s``."""
        tau_s = float(self.params["tau_s"])
        result = []
        for monitor, size in zip(self.monitors, self.layer_sizes):
            times = np.full(self.n_copies * size, np.inf)
            indices = np.asarray(monitor.i[:])
            times[indices] = np.asarray(monitor.t[:]) / tau_s
            result.append(times.reshape(self.n_copies, size))
        return result

    def check_synapse_order(self):
        """Raise if the synapses were not created in (copy, pre, post) order (weights would be misplaced)."""
        check_copy_order(self.synapses, self.n_copies, self.layer_sizes)


def batch_network_values(t_in, weights, layer_sizes, n_copies, params, dt, duration):
    """``DeviceRunner.run`` values of a :class:`TTFSBatchNetwork` (which need not be built yet).

    ``t_in`` (n_copies, n_in) in ``tau_s`` (``inf``: no spike), rounded to the step ``dt``;
    natural ``weights`` [(n_in, n_1), ...], tiled over the copies and converted to amperes.
    """
    t_in = np.asarray(t_in, dtype=float)
    if t_in.shape != (n_copies, layer_sizes[0]):
        raise ValueError(f"'t_in' must have shape {(n_copies, layer_sizes[0])}, got {t_in.shape}")
    if len(weights) != len(layer_sizes) - 1:
        raise ValueError(f"'weights' must hold {len(layer_sizes) - 1} matrices, got {len(weights)}")
    if np.isnan(t_in).any() or (t_in < 0).any():
        raise ValueError("'t_in' must hold non-negative times or +inf (no spike)")
    tau_s = float(params["tau_s"])
    step = float(dt)
    far = 1e3 * float(duration)
    finite = np.isfinite(t_in)
    seconds = np.where(finite, np.round(np.where(finite, t_in, 0.0) * tau_s / step) * step, far)
    values = {"t_fire": seconds.ravel() * b2.second}
    unit = weight_unit(params)
    for index, (w, n_pre, n_post) in enumerate(zip(weights, layer_sizes[:-1], layer_sizes[1:])):
        w = np.asarray(w, dtype=float)
        if w.shape != (n_pre, n_post):
            raise ValueError(f"'weights[{index}]' must have shape {(n_pre, n_post)}, got {w.shape}")
        values[f"w{index}"] = np.broadcast_to(w, (n_copies, n_pre, n_post)).ravel() * unit
    return values


def connect_copies(synapses, n_copies, n_pre, n_post):
    """Connect ``n_copies`` independent copies of an all-to-all ``n_pre`` -> ``n_post`` layer.

    Copy ``c`` links presynaptic neurons ``c*n_pre ...`` to postsynaptic ``c*n_post ...``, so
    one Brian2 group simulates a whole batch of networks side by side.
    """
    i, j = copy_indices(n_copies, n_pre, n_post)
    synapses.connect(i=i, j=j)


def copy_indices(n_copies, n_pre, n_post):
    """Presynaptic and postsynaptic indices of :func:`connect_copies`, in (copy, pre, post) order."""
    copy, pre, post = np.meshgrid(np.arange(n_copies), np.arange(n_pre), np.arange(n_post), indexing="ij")
    return (copy * n_pre + pre).ravel(), (copy * n_post + post).ravel()


def check_copy_order(synapses, n_copies, layer_sizes):
    """Raise if layered synapses are not in (copy, pre, post) order (weights would be misplaced)."""
    for syn, n_pre, n_post in zip(synapses, layer_sizes[:-1], layer_sizes[1:]):
        i, j = copy_indices(n_copies, n_pre, n_post)
        if not (np.array_equal(np.asarray(syn.i[:]), i) and np.array_equal(np.asarray(syn.j[:]), j)):
            raise RuntimeError(f"synapses of '{syn.name}' are not in (copy, pre, post) order")
