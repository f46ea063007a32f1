"""A Brian2 substrate for time-to-first-spike networks, with the imperfections of analog hardware.

Göltz, Kriener et al. (2021), "Fast and energy-efficient neuromorphic deep learning with
first-spike times", Nat Mach Intell 3:823-835, doi:10.1038/s42256-021-00388-x: networks trained
with exact spike-time gradients run on the analog BrainScaleS-2 chip, whose neurons differ from
the ideal model, and the paper studies in simulation how such distortions affect the accuracy
and how training with the substrate in the loop (forward pass on the substrate, gradient from
the recorded spike times with the *ideal* model) compensates them. This module is the simulated
substrate: the neuron of :mod:`brian2learn.models.ttfs` (current-based LIF, exponential synaptic
currents, no reset, first spike only) with five imperfections, each off by default:

- **threshold variation** (fixed pattern): neuron ``n`` has its own effective threshold
  :math:`\\vartheta_n = \\vartheta (1 + c_\\vartheta z_n)`, ``z_n ~ N(0, 1)`` drawn once per chip;
- **time-constant variation** (fixed pattern): :math:`\\tau_{m,n} = \\tau_m (1 + c_\\tau z'_n)`
  and :math:`\\tau_{s,n} = \\tau_s (1 + c_\\tau z''_n)`, independent draws;
- **spike-time jitter** (trial to trial): every spike, inputs included, reaches its targets
  :math:`\\xi \\sim N(0, \\sigma_j^2)` later than the ideal neuron would emit it, a new draw for
  every spike of every run;
- **weight quantisation**: signed weights with ``b`` bits, ``2^{b-1} - 1`` levels of each sign
  plus zero, :math:`\\hat w = \\Delta\\, \\mathrm{round}(w / \\Delta)` clipped to
  :math:`\\pm w_{max}`, :math:`\\Delta = w_{max} / (2^{b-1} - 1)` (BrainScaleS-2: 6 bits and a
  sign, our ``b = 7``);
- **dead neurons**: a fixed fraction of the hidden neurons never spikes.

Fixed-pattern draws use common random numbers: the same ``z`` scaled by the strength, and the
dead neurons of a larger fraction include those of a smaller one, so that a sweep over a
strength changes one chip gradually. Draws are clipped so that every threshold and time
constant stays at least :data:`MIN_FACTOR` of its nominal value.

Exact integration with per-neuron time constants
------------------------------------------------
The membrane obeys :math:`\\tau_{m,n} \\dot V = E_l - V + I/g_l`, :math:`\\tau_{s,n} \\dot I = -I`.
Between input spikes the step ``h = dt`` is propagated exactly,

.. math::

    V(t + h) - E_l = (V(t) - E_l)\\, e^{-h/\\tau_{m,n}} + \\kappa_n\\, I(t)/g_l, \\qquad
    I(t + h) = I(t)\\, e^{-h/\\tau_{s,n}},

    \\kappa_n = \\frac{h}{\\tau_{m,n}} e^{-h/\\tau_{m,n}}\\, \\frac{e^{x_n} - 1}{x_n}, \\qquad
    x_n = h \\left(\\frac{1}{\\tau_{m,n}} - \\frac{1}{\\tau_{s,n}}\\right),

with :math:`(e^x - 1)/x = 1` at ``x = 0`` (``tau_m = tau_s``, the limit
:math:`\\kappa = (h/\\tau) e^{-h/\\tau}`), computed with ``expm1``. Brian2's ``exact`` method
cannot take per-neuron time constants that may be equal (it divides by ``tau_m - tau_s``), so
the propagators are per-neuron parameters and the update is Brian2 code run every step in the
``groups`` slot, before the threshold, exactly where the state updater of the ideal neuron
(:class:`brian2learn.models.ttfs.TTFSBatchNetwork`) runs; without imperfections the two give the
same spike steps.

Jitter without acausal spikes
-----------------------------
A neuron cannot emit a spike before its membrane crosses the threshold, so negative jitter needs
a common offset ``D`` (a multiple of ``dt``, ``D >= 4 sigma_max``): the membrane crossing is
noted, and the spike (seen by the targets and the SpikeMonitor) is emitted ``D + xi`` later
(at least at the crossing). Inputs fire at ``t_in + D + xi``. The network is time-invariant and
each layer receives only from the one before, so layer ``l`` (inputs: ``l = 0``) is recorded
``(l + 1) D`` late; the substrate subtracts this, and returns the spike times as seen by the
next layer, jitter included. Without jitter ``D = 0``.

:class:`Brian2Substrate` is the ideal substrate alone (the network of
:class:`brian2learn.models.ttfs.TTFSBatchNetwork`, no imperfections), the forward pass of the
``ttfs-yinyang`` study with ``--substrate brian2``.
"""

from dataclasses import dataclass, field

import brian2 as b2
import numpy as np

from brian2learn.models import ttfs as ttfs_model
from brian2learn.models.weight_levels import discrete_levels, held
from brian2learn.simulation.devices import DeviceRunner, RunnerHolder

#: The imperfections and their strength parameter (see :class:`Imperfections`).
IMPERFECTION_KINDS = {
    "threshold": "threshold_cv",
    "tau": "tau_cv",
    "jitter": "jitter",
    "weight_bits": "weight_bits",
    "dead": "dead_fraction",
}

#: Smallest allowed factor of a threshold or time constant relative to its nominal value.
MIN_FACTOR = 0.1

#: Offset of the emission of jittered spikes, in standard deviations of the largest jitter.
JITTER_OFFSET_SD = 4.0

#: Neuron variables: per-neuron parameters (set per run) and the state of one run.
SUBSTRATE_EQS = """
v : volt  # membrane potential
I_syn : amp  # synaptic current
theta_n : volt  # this neuron's threshold v_th,n
decay_m : 1  # exp(-dt/tau_m,n)
decay_s : 1  # exp(-dt/tau_s,n)
coupling : 1  # kappa_n, effect of I_syn on v over one step
alive : 1  # 0 for a dead neuron
emit_delay : second  # D + jitter of this run: crossing to emitted spike
t_emit : second  # when the spike of the first crossing goes out
crossed : 1  # 1 once v crossed theta_n
spiked : 1  # 1 once the spike went out
"""

#: One exact step of the membrane, then note a first crossing and when its spike goes out.
SUBSTRATE_UPDATE = """
v = E_l + (v - E_l)*decay_m + coupling*I_syn/g_l
I_syn = I_syn*decay_s
crossing = int(v > theta_n and crossed < 0.5 and alive > 0.5)
t_emit = t_emit + crossing*(t + emit_delay - t_emit)
crossed = crossed + crossing
"""

#: The spike leaves when its emission time has come (once).
SUBSTRATE_THRESHOLD = "crossed > 0.5 and spiked < 0.5 and t >= t_emit - 0.5*dt"


@dataclass
class Imperfections:
    """Strengths of the substrate imperfections (all off by default).

    Attributes
    ----------
    threshold_cv : float
        Relative standard deviation of the effective threshold ``v_th - E_l`` (fixed pattern).
    tau_cv : float
        Relative standard deviation of ``tau_m`` and of ``tau_s`` (fixed pattern, independent).
    jitter : float
        Standard deviation of the spike-time jitter, in units of ``tau_s`` (new every run).
    weight_bits : int or None
        Signed weight resolution in bits (``>= 2``); ``None``: continuous weights.
    dead_fraction : float
        Fraction of the neurons of each hidden layer that never spike, in ``[0, 1]``.
    """

    threshold_cv: float = 0.0
    tau_cv: float = 0.0
    jitter: float = 0.0
    weight_bits: int = None
    dead_fraction: float = 0.0

    def __post_init__(self):
        for name in ("threshold_cv", "tau_cv", "jitter"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not (
                    np.isfinite(value) and value >= 0):
                raise ValueError(f"'{name}' must be a non-negative number, got {value!r}")
        bits = self.weight_bits
        if bits is not None and (isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or bits < 2):
            raise ValueError(f"'weight_bits' must be None or an integer >= 2, got {bits!r}")
        dead = self.dead_fraction
        if isinstance(dead, bool) or not isinstance(dead, (int, float, np.number)) or not 0 <= dead <= 1:
            raise ValueError(f"'dead_fraction' must lie in [0, 1], got {dead!r}")

    @classmethod
    def of_kind(cls, kind, strength):
        """Only the imperfection ``kind`` (a key of :data:`IMPERFECTION_KINDS`) at ``strength``."""
        if kind not in IMPERFECTION_KINDS:
            raise ValueError(f"unknown imperfection {kind!r}; known: {', '.join(IMPERFECTION_KINDS)}")
        if kind == "weight_bits":
            strength = None if strength is None else int(strength)
        return cls(**{IMPERFECTION_KINDS[kind]: strength})

    @property
    def is_ideal(self):
        return (self.threshold_cv == 0 and self.tau_cv == 0 and self.jitter == 0 and self.weight_bits is None
                and self.dead_fraction == 0)


@dataclass
class FixedPattern:
    """Per-neuron parameters of one chip, for each non-input layer (natural units).

    ``theta[l]``: effective thresholds (nominal 1); ``tau_m[l]``, ``tau_s[l]``: time constants in
    units of the nominal ``tau_s``; ``alive[l]``: bool, ``False`` for a dead neuron.
    """

    theta: list = field(default_factory=list)
    tau_m: list = field(default_factory=list)
    tau_s: list = field(default_factory=list)
    alive: list = field(default_factory=list)


def ideal_pattern(layer_sizes, tau_ratio=1):
    """The :class:`FixedPattern` of the ideal neuron (no variation, no dead neuron)."""
    sizes = list(layer_sizes)[1:]
    return FixedPattern(theta=[np.ones(n) for n in sizes], tau_m=[np.full(n, float(tau_ratio)) for n in sizes],
                        tau_s=[np.ones(n) for n in sizes], alive=[np.ones(n, dtype=bool) for n in sizes])


def draw_fixed_pattern(layer_sizes, imperfections, seed, tau_ratio=1):
    """Draw the per-neuron parameters of one chip with ``imperfections`` (a :class:`Imperfections`).

    Common random numbers: for a given ``seed`` the standard normal draws and the order in which
    neurons die do not depend on the strengths. The output layer has no dead neurons (a dead
    output would make its class unreachable); each hidden layer has exactly
    ``round(dead_fraction * n)`` of them.
    """
    if not isinstance(imperfections, Imperfections):
        raise ValueError(f"'imperfections' must be an Imperfections, got {type(imperfections).__name__}")
    sizes = [int(n) for n in layer_sizes]
    pattern = FixedPattern()
    rng = np.random.default_rng(seed)
    for index, n in enumerate(sizes[1:]):
        z_theta, z_tau_m, z_tau_s = rng.standard_normal((3, n))
        death_order = rng.permutation(n)
        pattern.theta.append(np.maximum(1.0 + imperfections.threshold_cv * z_theta, MIN_FACTOR))
        pattern.tau_m.append(tau_ratio * np.maximum(1.0 + imperfections.tau_cv * z_tau_m, MIN_FACTOR))
        pattern.tau_s.append(np.maximum(1.0 + imperfections.tau_cv * z_tau_s, MIN_FACTOR))
        alive = np.ones(n, dtype=bool)
        if index < len(sizes) - 2:  # hidden layer
            alive[death_order[:int(round(imperfections.dead_fraction * n))]] = False
        pattern.alive.append(alive)
    return pattern


def quantize_weights(w, bits, w_max):
    """Signed ``bits``-bit weights: ``Delta * round(w / Delta)`` clipped to ``+-w_max``, rounded half away from zero
    (:mod:`brian2learn.models.weight_levels`).

    ``Delta = w_max / (2**(bits - 1) - 1)``; at most ``2**bits - 1`` distinct values; the error is
    at most ``Delta / 2`` for ``|w| <= w_max``.
    """
    step, limit = discrete_levels(bits, w_max)
    return held(np.asarray(w, dtype=float), step, limit)


def propagators(tau_m, tau_s, h):
    """Exact one-step propagators ``(exp(-h/tau_m), exp(-h/tau_s), kappa)`` (arrays, same units)."""
    tau_m = np.asarray(tau_m, dtype=float)
    tau_s = np.asarray(tau_s, dtype=float)
    x = h * (1.0 / tau_m - 1.0 / tau_s)
    safe = np.where(x == 0.0, 1.0, x)
    ratio = np.where(x == 0.0, 1.0, np.expm1(safe) / safe)
    decay_m = np.exp(-h / tau_m)
    return decay_m, np.exp(-h / tau_s), (h / tau_m) * decay_m * ratio


class ImperfectTTFSNetwork:
    """A layered TTFS network with per-neuron parameters, ``n_copies`` samples as neuron copies.

    Like :class:`brian2learn.models.ttfs.TTFSBatchNetwork` (copies share the weights and the
    per-neuron parameters; inputs are neurons firing once at ``t_fire``), but every neuron of a
    layer has its own threshold, propagators (:func:`propagators`), ``alive`` flag and emission
    delay, all set per run. The model interface of
    :class:`brian2learn.simulation.devices.DeviceRunner`.
    """

    def __init__(self, layer_sizes, n_copies, params=None, dt=None, duration=None, name="ttfs_sub"):
        params = ttfs_model.GOELTZ2021_PARAMS if params is None else params
        ttfs_model.validate_ttfs_params(params)
        if len(layer_sizes) < 2 or any(int(n) < 1 for n in layer_sizes):
            raise ValueError(f"'layer_sizes' must hold at least two positive sizes, got {layer_sizes!r}")
        if int(n_copies) < 1:
            raise ValueError(f"'n_copies' must be a positive integer, got {n_copies!r}")
        self.params = params
        self.layer_sizes = [int(n) for n in layer_sizes]
        self.n_copies = n_c = int(n_copies)
        tau_s = params["tau_s"]
        self.dt = dt = 0.01 * tau_s if dt is None else dt
        self.duration = 4.0 * tau_s if duration is None else duration
        ttfs_model._check_positive_time("dt", self.dt)
        ttfs_model._check_positive_time("duration", self.duration)
        namespace = {name_: params[name_] for name_ in ("E_l", "g_l")}
        self.inputs = b2.NeuronGroup(n_c * self.layer_sizes[0], "t_fire : second\nspiked : 1",
                                     threshold="t >= t_fire - 0.5*dt and spiked < 0.5", reset="spiked = 1",
                                     dt=dt, name=f"{name}_inputs")
        self.inputs.t_fire = 1e9 * b2.second
        self.layers, self.synapses, self.updates = [], [], []
        self.monitors = [b2.SpikeMonitor(self.inputs, name=f"{name}_inputs_spikes")]
        previous = self.inputs
        for index, (n_pre, n_post) in enumerate(zip(self.layer_sizes[:-1], self.layer_sizes[1:])):
            layer = b2.NeuronGroup(n_c * n_post, SUBSTRATE_EQS, threshold=SUBSTRATE_THRESHOLD, reset="spiked = 1",
                                   dt=dt, namespace=namespace, name=f"{name}_layer{index + 1}")
            layer.v = params["E_l"]
            layer.theta_n = params["v_th"]
            layer.alive = 1
            update = layer.run_regularly(SUBSTRATE_UPDATE, dt=dt, when="groups", name=f"{name}_update{index + 1}")
            syn = b2.Synapses(previous, layer, "w : amp", on_pre=ttfs_model.TTFS_ON_PRE, dt=dt,
                              name=f"{name}_w{index}")
            ttfs_model.connect_copies(syn, n_c, n_pre, n_post)
            self.layers.append(layer)
            self.updates.append(update)
            self.synapses.append(syn)
            self.monitors.append(b2.SpikeMonitor(layer, name=f"{name}_layer{index + 1}_spikes"))
            previous = layer
        self.network = b2.Network(self.inputs, *self.layers, *self.synapses, *self.monitors)

    def run(self):
        self.network.run(self.duration)

    def state_variables(self):
        variables = {"t_fire": (self.inputs, "t_fire")}
        for index, (layer, syn) in enumerate(zip(self.layers, self.synapses)):
            variables[f"w{index}"] = (syn, "w")
            for var in ("theta_n", "decay_m", "decay_s", "coupling", "alive", "emit_delay"):
                variables[f"{var}{index + 1}"] = (layer, var)
        return variables

    def stimulus_arrays(self):
        return {}

    def spike_times(self):
        """Recorded first spike times of inputs and layers: a list of (n_copies, n) arrays in ``tau_s``."""
        tau_s = float(self.params["tau_s"])
        result = []
        for monitor, size in zip(self.monitors, self.layer_sizes):
            times = np.full(self.n_copies * size, np.inf)
            times[np.asarray(monitor.i[:])] = np.asarray(monitor.t[:]) / tau_s
            result.append(times.reshape(self.n_copies, size))
        return result

    def check_synapse_order(self):
        """Raise if the synapses were not created in (copy, pre, post) order."""
        ttfs_model.check_copy_order(self.synapses, self.n_copies, self.layer_sizes)


class TTFSSubstrate(RunnerHolder):
    """Forward pass ``f(t_in, weights) -> [t_in, t_1, ..., t_L]`` on an imperfect Brian2 substrate.

    A drop-in ``forward`` of :class:`brian2learn.training.ttfs.TTFSTrainer` (substrate in the
    loop: the trainer computes the gradient from the returned times with the ideal model). One
    network of ``n_copies`` samples is built once (``cpp_standalone``: one compilation) and re-run
    for every chunk of samples, with the imperfections passed per run, so that changing them
    (:meth:`set_imperfections`) needs no rebuild.

    Parameters
    ----------
    layer_sizes : sequence of int
        ``[n_in, n_1, ..., n_L]``.
    params : dict
        Nominal neuron parameters (:data:`brian2learn.models.ttfs.GOELTZ2021_PARAMS`).
    imperfections : Imperfections
        Initial imperfections (ideal by default).
    pattern_seed : int
        Seed of the fixed pattern (the chip).
    jitter_seed : int
        Seed of the trial-to-trial jitter (a generator advanced by every run).
    max_jitter : float
        Largest jitter (``tau_s``) the built network accepts; fixes the emission offset ``D`` and
        lengthens the simulated time by ``(L + 1) D``.
    weight_range : list of float or None
        ``w_max`` of each layer for the quantisation; ``None``: the largest ``|w|`` of each layer
        passed at each call.
    device : {'cpp_standalone', 'runtime'}
    n_copies : int
        Samples per network run (a short last chunk is padded with silent copies).
    dt, duration : float
        Step and simulated time (without the jitter offset), in units of ``tau_s``.
    """

    def __init__(self, layer_sizes, params=None, imperfections=None, pattern_seed=0, jitter_seed=1,
                 max_jitter=0.0, weight_range=None, device="cpp_standalone", directory=None, n_copies=150,
                 dt=0.01, duration=4.0):
        self.params = ttfs_model.GOELTZ2021_PARAMS if params is None else params
        self.tau_ratio = ttfs_model.validate_ttfs_params(self.params)
        self.layer_sizes = [int(n) for n in layer_sizes]
        if not np.isfinite(max_jitter) or max_jitter < 0:
            raise ValueError(f"'max_jitter' must be a non-negative number, got {max_jitter!r}")
        for name, value in (("dt", dt), ("duration", duration)):
            if not np.isfinite(value) or value <= 0:
                raise ValueError(f"'{name}' must be a positive number (units of tau_s), got {value!r}")
        if isinstance(n_copies, bool) or not isinstance(n_copies, (int, np.integer)) or n_copies < 1:
            raise ValueError(f"'n_copies' must be a positive integer, got {n_copies!r}")
        self.n_copies = int(n_copies)
        self.step = float(dt)
        self.max_jitter = float(max_jitter)
        self.offset = float(np.ceil(JITTER_OFFSET_SD * self.max_jitter / self.step)) * self.step
        n_layers = len(self.layer_sizes) - 1
        self.duration = float(duration) + (n_layers + 1) * self.offset
        tau_s = self.params["tau_s"]
        self._checked = False
        self._jitter_rng = np.random.default_rng(jitter_seed)
        self.pattern_seed = pattern_seed
        self.weight_range = None

        def build():
            return ImperfectTTFSNetwork(self.layer_sizes, self.n_copies, self.params, dt=self.step * tau_s,
                                        duration=self.duration * tau_s)

        self.runner = DeviceRunner(build, device=device, directory=directory)
        self.set_imperfections(imperfections or Imperfections(), pattern_seed, weight_range)

    def set_imperfections(self, imperfections, pattern_seed=None, weight_range=None, pattern=None):
        """Change the imperfections without rebuilding.

        ``pattern_seed`` (a new chip) and ``weight_range`` keep their current values when ``None``;
        ``pattern`` (a :class:`FixedPattern`) replaces the drawn one.
        """
        if not isinstance(imperfections, Imperfections):
            raise ValueError(f"'imperfections' must be an Imperfections, got {type(imperfections).__name__}")
        if imperfections.jitter > self.max_jitter:
            raise ValueError(f"'jitter' {imperfections.jitter:g} exceeds the substrate's 'max_jitter' "
                             f"{self.max_jitter:g} (set at construction)")
        if weight_range is not None:
            weight_range = [float(w) for w in weight_range]
            if len(weight_range) != len(self.layer_sizes) - 1 or not all(np.isfinite(weight_range)) or min(
                    weight_range) <= 0:
                raise ValueError(f"'weight_range' must hold {len(self.layer_sizes) - 1} positive numbers, "
                                 f"got {weight_range!r}")
        self.imperfections = imperfections
        if pattern_seed is not None:
            self.pattern_seed = pattern_seed
        if weight_range is not None:
            self.weight_range = weight_range
        if pattern is None:
            pattern = draw_fixed_pattern(self.layer_sizes, imperfections, self.pattern_seed, self.tau_ratio)
        self._check_pattern(pattern)
        self.pattern = pattern
        self._pattern_values = self._fixed_values(pattern)

    def _check_pattern(self, pattern):
        for name in ("theta", "tau_m", "tau_s", "alive"):
            arrays = getattr(pattern, name)
            if len(arrays) != len(self.layer_sizes) - 1 or any(
                    np.shape(a) != (n,) for a, n in zip(arrays, self.layer_sizes[1:])):
                raise ValueError(f"pattern '{name}' must hold one array per layer of sizes {self.layer_sizes[1:]}")
            if name != "alive" and not all(np.all(np.isfinite(a) & (np.asarray(a) > 0)) for a in arrays):
                raise ValueError(f"pattern '{name}' must be positive and finite")

    def _fixed_values(self, pattern):
        """Per-run values of the fixed pattern, tiled over the copies."""
        params = self.params
        theta_eff = params["v_th"] - params["E_l"]
        values = {}
        for index in range(len(self.layer_sizes) - 1):
            decay_m, decay_s, coupling = propagators(pattern.tau_m[index], pattern.tau_s[index], self.step)
            tile = (self.n_copies, 1)
            values[f"theta_n{index + 1}"] = params["E_l"] + theta_eff * np.tile(pattern.theta[index], tile).ravel()
            values[f"decay_m{index + 1}"] = np.tile(decay_m, tile).ravel()
            values[f"decay_s{index + 1}"] = np.tile(decay_s, tile).ravel()
            values[f"coupling{index + 1}"] = np.tile(coupling, tile).ravel()
            values[f"alive{index + 1}"] = np.tile(pattern.alive[index].astype(float), tile).ravel()
        return values

    def realised_weights(self, weights):
        """The weights the substrate uses: quantised if ``weight_bits`` is set, else unchanged."""
        bits = self.imperfections.weight_bits
        if bits is None:
            return [np.asarray(w, dtype=float) for w in weights]
        ranges = self.weight_range or [max(float(np.max(np.abs(w))), 1e-12) for w in weights]
        return [quantize_weights(w, bits, w_max) for w, w_max in zip(weights, ranges)]

    def _jitter(self, shape):
        sigma = self.imperfections.jitter
        if sigma == 0:
            return np.zeros(shape)
        return self._jitter_rng.normal(0.0, sigma, shape)

    def __call__(self, t_in, weights):
        t_in = np.asarray(t_in, dtype=float)
        if t_in.ndim != 2 or t_in.shape[1] != self.layer_sizes[0]:
            raise ValueError(f"'t_in' must have shape (n, {self.layer_sizes[0]}), got {t_in.shape}")
        if np.isnan(t_in).any() or (t_in < 0).any():
            raise ValueError("'t_in' must hold non-negative times or +inf (no spike)")
        realised = self.realised_weights(weights)
        tau_s = self.params["tau_s"]
        n_layers = len(self.layer_sizes) - 1
        parts = []
        for start in range(0, len(t_in), self.n_copies):
            chunk = t_in[start:start + self.n_copies]
            padded = np.full((self.n_copies, chunk.shape[1]), np.inf)
            padded[:len(chunk)] = chunk
            shifted = padded + self.offset + self._jitter(padded.shape)
            values = ttfs_model.batch_network_values(np.maximum(shifted, 0.0), realised, self.layer_sizes,
                                                     self.n_copies, self.params, self.step * tau_s,
                                                     self.duration * tau_s)
            values.update(self._pattern_values)
            for index, n in enumerate(self.layer_sizes[1:]):
                delay = np.maximum(self.offset + self._jitter((self.n_copies, n)), 0.0)
                values[f"emit_delay{index + 1}"] = delay.ravel() * tau_s
            model = self.runner.run(values)
            if not self._checked:
                model.check_synapse_order()
                self._checked = True
            recorded = model.spike_times()
            parts.append([times[:len(chunk)] - (layer + 1) * self.offset
                          for layer, times in enumerate(recorded[:n_layers + 1])])
        return [np.concatenate([p[layer] for p in parts]) for layer in range(n_layers + 1)]



class Brian2Substrate(RunnerHolder):
    """Forward pass ``f(t_in, weights)`` simulated by Brian2, a batch of samples per network run.

    Samples are split into runs of ``n_copies``; a short last run is padded with silent copies.
    Returns the recorded spike times ``[inputs, hidden, outputs]`` in units of ``tau_s``.

    The ideal network (:class:`brian2learn.models.ttfs.TTFSBatchNetwork`, no imperfections; the
    imperfect one is :class:`TTFSSubstrate`), built once by a
    :class:`brian2learn.simulation.devices.DeviceRunner` and re-run with the inputs and weights of
    each chunk. ``dt`` and ``duration`` are given in units of ``tau_s``; the attributes ``dt`` and
    ``duration`` are the Brian2 times.
    """

    def __init__(self, layer_sizes, params, device="cpp_standalone", directory=None, n_copies=150,
                 dt=0.01, duration=4.0):
        self.layer_sizes = list(layer_sizes)
        self.params = params
        self.n_copies = n_copies
        self.dt = dt * params["tau_s"]
        self.duration = duration * params["tau_s"]
        self._checked = False

        def build():
            return ttfs_model.TTFSBatchNetwork(self.layer_sizes, n_copies, params, dt=self.dt,
                                               duration=self.duration)

        self.runner = DeviceRunner(build, device=device, directory=directory)

    def __call__(self, t_in, weights):
        t_in = np.asarray(t_in, dtype=float)
        parts = []
        for start in range(0, len(t_in), self.n_copies):
            chunk = t_in[start:start + self.n_copies]
            padded = np.full((self.n_copies, chunk.shape[1]), np.inf)
            padded[:len(chunk)] = chunk
            values = ttfs_model.batch_network_values(padded, weights, self.layer_sizes, self.n_copies,
                                                     self.params, self.dt, self.duration)
            model = self.runner.run(values)
            if not self._checked:
                model.check_synapse_order()
                self._checked = True
            parts.append([times[:len(chunk)] for times in model.spike_times()])
        return [np.concatenate([p[layer] for p in parts]) for layer in range(len(parts[0]))]

