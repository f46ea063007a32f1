"""An E/I network of escape-noise neurons with triplet STDP on input->E and E->E (Pokorny et al. 2020).

Pokorny, Ison, Rao, Legenstein, Papadimitriou & Maass (2020), "STDP forms associations between memory
traces in networks of spiking neurons", Cereb Cortex 30(3):952, doi:10.1093/cercor/bhz140.

Network (the paper's sizes; details that could not be checked against the paper are marked *choice*)
------------------------------------------------------------------------------------------------------
- 432 excitatory (E) and 108 inhibitory (I) escape-noise neurons
  (:mod:`brian2learn.models.stochastic_neurons`): ``u = b + sum w eps(t - t_i)``, rate
  ``rho_0 exp((u - theta)/delta_u)``, double-exponential PSPs of peak ``w`` (mV).
- Excitability: ``b_k = gamma_exc * b_gen + xi_k`` for E neurons (``xi_k ~ N(0, sigma_b^2)``, ``b_gen > 0``),
  with the escape rate of E neurons referred to ``theta_exc``: the resting rate is
  ``rho_0 exp((gamma_exc b_gen + xi_k - theta_exc)/delta_u)``, so a larger ``gamma_exc`` means a more excitable
  network (each 0.25 of ``gamma_exc`` multiplies resting rates by ``exp(0.25 b_gen/delta_u)``); I neurons have a
  fixed offset (*choice*).
- 200 Poisson input channels (:mod:`brian2learn.tasks.assembly_patterns`), each at a noise rate or, while a
  pattern it belongs to is shown, at the pattern rate.
- Random connectivity, drawn once with numpy from ``structure_seed`` (*choice*: the paper places the neurons on
  a 3-d grid with distance-dependent connection probabilities and delays, left out here). Every E neuron
  receives the same number ``round(p_in n_in)`` of distinct input channels (``in_fixed_degree``, *choice*), so
  that no neuron sees more of every pattern than another: with Bernoulli(p_in) draws (``in_fixed_degree``
  False) the neurons with the most channels come to answer all patterns. The recurrent pathways are Bernoulli.
- A BCM-like sliding threshold of the triplet rule (``sliding_threshold``, reference rate 2 Hz, about the
  background rate; :data:`~brian2learn.plasticity.stdp.SLIDING_THRESHOLD`, *choice*): pair depression grows
  with the square of a 30 s estimate of the postsynaptic rate, which keeps neurons that fire often from taking
  over every assembly (``None``: the plain triplet rule).
- Tsodyks-Markram short-term plasticity: the paper has it on all recurrent synapses; here it is an option
  for E→E (``stp_ee``; Gupta et al. 2000 'EE' parameters, :mod:`brian2learn.plasticity.short_term`),
  off by default (*choice*), with a gain that keeps the mean efficacy at ``stp_reference_rate`` (2 Hz, about
  the background rate) equal to the static weight.
- Input→E and E→E synapses learn with the triplet rule of Pfister & Gerstner (2006), by default with the visual
  cortex all-to-all minimal parameters (:mod:`brian2learn.plasticity.stdp`; ``stdp_rule``: any set of
  :data:`~brian2learn.plasticity.stdp.TRIPLET_PARAMETER_SETS`, e.g. the hippocampal fit, whose pair
  potentiation moves the threshold between depression and potentiation of uncorrelated firing from about 17 Hz to
  about 5 Hz), with amplitudes scaled by ``eta``. Plastic weights are dimensionless, in units of their initial
  mean ``gamma_w * w_in`` (input) or ``gamma_w * w_ee`` (E→E) mV of peak PSP (a per-presynaptic-neuron constant
  ``w_unit``), and capped at ``[0, cap_in]`` and ``[0, cap_ee]`` in these units: the caps are percentages of the
  initial mean as in the paper for the input (200 %); E→E 200 % (*choice*: with the paper's 1000 % or 500 % a few
  E neurons formed self-exciting cliques firing near the refractory limit), and ``eta`` acts relative to the
  initial mean. E→I, I→E and I→I are static (*choice* of values).
- Initial input→E and E→E weights: lognormal with mean 1 (in the units above; CV 0.5, *choice*), clipped
  at the caps.

Build once, run many
--------------------
:class:`AssemblyNetwork` is a model for :class:`~brian2learn.simulation.devices.DeviceRunner`: excitability
offsets, initial weights, input channel sets and the seed are run arguments (:func:`initial_values` draws
them for one ``(gamma_exc, gamma_w, seed)``), and the protocol's schedule (pattern activity and the
plasticity gate, :func:`brian2learn.tasks.assembly_patterns.render_schedule`) is passed as TimedArrays. The
connectivity graph is fixed at build time (``structure_seed``).
"""

from dataclasses import dataclass, field

import brian2 as b2
import numpy as np

from brian2learn.models import stochastic_neurons as sn
from brian2learn.plasticity import short_term, stdp
from brian2learn.simulation.devices import seed_run
from brian2learn.tasks import assembly_patterns as ap

#: Network structure and static weights (mV: peak PSP).
NETWORK = {
    "n_exc": 432,  # excitatory neurons (Pokorny et al.)
    "n_inh": 108,  # inhibitory neurons (Pokorny et al.)
    "n_in": 200,  # input channels (Pokorny et al.)
    "p_in": 0.1,  # input -> E connection probability (choice: few, strong input synapses give selective responses)
    "p_ee": 0.2,  # E -> E (choice)
    "p_ei": 0.5,  # E -> I (choice)
    "p_ie": 0.5,  # I -> E (choice)
    "p_ii": 0.5,  # I -> I (choice)
    "w_in": 3.0,  # mV, mean initial input -> E weight at gamma_w = 1
    "w_ee": 0.5,  # mV, mean initial E -> E weight at gamma_w = 1
    "w_ei": 1.0,  # mV, E -> I
    "w_ie": 1.5,  # mV, I -> E
    "w_ii": 1.0,  # mV, I -> I
    "cv_w": 0.5,  # coefficient of variation of the lognormal initial weights
    "cap_in": 2.0,  # input -> E cap, multiple of w_in (200 %)
    "cap_ee": 2.0,  # E -> E cap, multiple of the initial mean (choice; the paper's 1000 % ran away here)
    "theta_exc": 8.0,  # mV, reference potential of the E escape rate (rate rho_0 at u = theta_exc)
    "b_gen": 4.0,  # mV, generic excitability of E neurons (scaled by gamma_exc)
    "sigma_b": 1.0,  # mV, neuron-specific excitability spread
    "b_inh": -6.0,  # mV, offset of I neurons (theta 0 mV)
    "eta": 0.5,  # scale of the triplet amplitudes (weights in units of their initial mean)
    "in_fixed_degree": True,  # input -> E: exactly round(p_in n_in) channels per E neuron (False: Bernoulli(p_in))
    "stdp_rule": "visual-minimal",  # triplet parameter set (plasticity.stdp.TRIPLET_PARAMETER_SETS; choice)
    # overrides of plasticity.stdp.SLIDING_THRESHOLD (BCM-like), None: off (choice)
    "sliding_threshold": {"rho_0": 2.0 * b2.Hz},
    "stp_ee": False,  # Tsodyks-Markram depression on E->E (Gupta et al. 2000 'EE' UDF; the paper has STP, choice: off)
    "stp_reference_rate": 2.0 * b2.Hz,  # rate at which the mean E->E efficacy with STP equals the static weight
    "structure_seed": 12345,  # seed of the connectivity graph
    "dt": 1.0 * b2.ms,  # simulation step
}
#: Input patterns (Hz); see :class:`brian2learn.tasks.assembly_patterns.InputPatterns`.
INPUTS = {"n_active": 40, "rate_noise": 3.0, "rate_pattern": 40.0}
BIN_DT = 0.01  # s, grid of the schedule TimedArrays


@dataclass
class AssemblyConfig:
    """Everything fixed at build time: network dict, protocol overrides, learning-rate scale."""

    network: dict = field(default_factory=lambda: dict(NETWORK))
    protocol: dict = field(default_factory=dict)
    inputs: dict = field(default_factory=lambda: dict(INPUTS))

    def schedule(self, seed):
        return ap.protocol_schedule(self.protocol, seed=seed)

    def pattern_duration(self):
        """Duration of one presentation, seconds."""
        return {**ap.POKORNY2020_PROTOCOL, **self.protocol}["pattern_duration"]

    def timing(self):
        """Total duration and the time of the weight snapshot (end of the first test block), seconds."""
        phases, _ = self.schedule(0)
        t_snap = float(phases.loc[phases["phase"] == "test_before", "end"].iloc[0])
        return float(phases["end"].max()), t_snap


def connectivity(config):
    """Index arrays (i, j) of every pathway, drawn with numpy from ``structure_seed``."""
    net = config.network
    rng = np.random.default_rng(net["structure_seed"])

    def draw(n_pre, n_post, p, no_self=False):
        mask = rng.random((n_pre, n_post)) < p
        if no_self:
            np.fill_diagonal(mask, False)
        i, j = np.nonzero(mask)
        return i, j

    def draw_fixed_in_degree(n_pre, n_post, p):
        # every target gets round(p n_pre) distinct sources: no neuron sees more of the input than another
        k = int(round(p * n_pre))
        i = np.concatenate([rng.choice(n_pre, size=k, replace=False) for _ in range(n_post)])
        j = np.repeat(np.arange(n_post), k)
        order = np.lexsort((j, i))
        return i[order], j[order]

    draw_in = draw_fixed_in_degree if net.get("in_fixed_degree", False) else draw
    return {"in": draw_in(net["n_in"], net["n_exc"], net["p_in"]),
            "ee": draw(net["n_exc"], net["n_exc"], net["p_ee"], True),
            "ei": draw(net["n_exc"], net["n_inh"], net["p_ei"]),
            "ie": draw(net["n_inh"], net["n_exc"], net["p_ie"]),
            "ii": draw(net["n_inh"], net["n_inh"], net["p_ii"], True)}


class AssemblyNetwork:
    """The Brian2 network of ``config`` (a model for :class:`~brian2learn.simulation.devices.DeviceRunner`)."""

    def __init__(self, config):
        net = config.network
        dt = net["dt"]
        self.config = config
        self.duration, self.t_snapshot = config.timing()
        n_bins = int(round(self.duration / BIN_DT))
        self.conn = connectivity(config)
        self.activity = b2.TimedArray(np.zeros((n_bins, len(ap.PATTERNS))), dt=BIN_DT * b2.second, name="activity")
        self.plastic = b2.TimedArray(np.zeros(n_bins), dt=BIN_DT * b2.second, name="plastic")
        ns = {"activity": self.activity, "plastic": self.plastic, "rate_noise": config.inputs["rate_noise"] * b2.Hz,
              "rate_pattern": config.inputs["rate_pattern"] * b2.Hz}
        self.rng = b2.NeuronGroup(1, "seed : integer", dt=dt, name="asm_rng")
        self.inputs = b2.NeuronGroup(
            net["n_in"], "m_A : 1\nm_B : 1\nm_C : 1\nw_unit : 1 (constant)",
            threshold="rand() < (rate_noise + (rate_pattern - rate_noise)*clip(m_A*activity(t, 0) + "
                      "m_B*activity(t, 1) + m_C*activity(t, 2), 0, 1))*dt",
            namespace=ns, dt=dt, name="asm_inputs")
        self.exc = sn.stochastic_group(net["n_exc"], params={"theta": net["theta_exc"] * b2.mV}, dt=dt,
                                       name="asm_exc", extra_equations="w_unit : 1 (constant)\n")
        self.inh = sn.stochastic_group(net["n_inh"], dt=dt, name="asm_inh")
        self.inh.b = net["b_inh"] * b2.mV
        # the rule's amplitudes and time constants; the caps are the network's, per pathway
        trip = {k: v for k, v in stdp.triplet_parameter_set(net.get("stdp_rule", "visual-minimal")).items()
                if k not in ("w_min", "w_max")}
        trip.update(eta=net["eta"], w_min=0.0)
        self.syn_in = stdp.triplet_stdp_synapses(
            self.inputs, self.exc, *self.conn["in"], 1.0, effect=sn.exc_effect("w*w_unit_pre*mV"),
            name="asm_syn_in", dt=dt, namespace=ns, gate="plastic(t)", w_max=net["cap_in"],
            sliding=net.get("sliding_threshold"), **trip)
        ee_effect, ee_model, ee_namespace = sn.exc_effect("w*w_unit_pre*mV"), "", {}
        if net.get("stp_ee", False):
            # Tsodyks-Markram release scales each E->E PSP; stp_gain makes the mean efficacy at the reference
            # rate equal to the static weight, so that bursts (pattern responses) are depressed, not the background.
            udf = short_term.GUPTA2000_UDF["EE"]
            ee_namespace = {**short_term.tm_params(**udf), "stp_gain": 1.0 / short_term.tm_steady_state_factor(
                net["stp_reference_rate"], **udf)}
            ee_effect = short_term.TM_ON_PRE.format(effect=sn.exc_effect("w*w_unit_pre*stp_gain*r_stp*mV"))
            ee_model = short_term.TM_MODEL
        self.syn_ee = stdp.triplet_stdp_synapses(
            self.exc, self.exc, *self.conn["ee"], 1.0, effect=ee_effect, extra_model=ee_model,
            name="asm_syn_ee", dt=dt, namespace={**ns, **ee_namespace}, gate="plastic(t)", w_max=net["cap_ee"],
            sliding=net.get("sliding_threshold"), **trip)
        if ee_model:
            self.syn_ee.x_stp = 1.0  # at rest: all resources available
        self.static = []
        for key, src, dst, effect in (("ei", self.exc, self.inh, sn.exc_effect("w*mV")),
                                      ("ie", self.inh, self.exc, sn.inh_effect("w*mV")),
                                      ("ii", self.inh, self.inh, sn.inh_effect("w*mV"))):
            syn = b2.Synapses(src, dst, "w : 1 (constant)", on_pre=effect, dt=dt, name=f"asm_syn_{key}")
            syn.connect(i=self.conn[key][0], j=self.conn[key][1])
            syn.w = net[f"w_{key}"]
            self.static.append(syn)
        self.spikes_exc = b2.SpikeMonitor(self.exc, name="asm_spikes_exc")
        self.spikes_inh = b2.SpikeMonitor(self.inh, record=False, name="asm_spikes_inh")
        self.w_ee_mon = b2.StateMonitor(self.syn_ee, "w", record=True, dt=self.t_snapshot * b2.second,
                                        when="end", name="asm_w_ee_mon")
        self.network = b2.Network(self.rng, self.inputs, self.exc, self.inh, self.syn_in, self.syn_ee, *self.static,
                                  self.spikes_exc, self.spikes_inh, self.w_ee_mon)
        self._seeded = False

    def run(self):
        self._seeded = seed_run(self.rng, self._seeded)
        self.network.run(self.duration * b2.second, namespace={})

    def state_variables(self):
        return {"seed": (self.rng, "seed"), "b_exc": (self.exc, "b"), "w_in": (self.syn_in, "w"),
                "w_ee": (self.syn_ee, "w"), "unit_in": (self.inputs, "w_unit"),
                "unit_ee": (self.exc, "w_unit"), "m_A": (self.inputs, "m_A"), "m_B": (self.inputs, "m_B"),
                "m_C": (self.inputs, "m_C")}

    def stimulus_arrays(self):
        return {"activity": self.activity, "plastic": self.plastic}


def initial_values(config, conn, gamma_exc, gamma_w, seed):
    """run_args of one point: excitability offsets, initial weights, pattern channels, seed; and the schedule."""
    net = config.network
    rng = np.random.default_rng([seed, 7919])
    b = sn.excitability_offsets(net["n_exc"], gamma_exc, net["b_gen"] * b2.mV, net["sigma_b"] * b2.mV, rng)

    def lognormal(mean, n, cap):
        sigma = np.sqrt(np.log(1 + net["cv_w"] ** 2))
        w = mean * np.exp(rng.standard_normal(n) * sigma - sigma ** 2 / 2)
        return np.clip(w, 0.0, cap)

    w_in = lognormal(1.0, len(conn["in"][0]), net["cap_in"])
    w_ee = lognormal(1.0, len(conn["ee"][0]), net["cap_ee"])
    patterns = ap.InputPatterns(n_channels=net["n_in"], seed=seed, **config.inputs)
    membership = patterns.membership()
    phases, presentations = config.schedule(seed)
    activity, plastic = ap.render_schedule(phases, presentations, config.pattern_duration(), BIN_DT)
    values = {"seed": int(seed), "b_exc": b, "w_in": w_in, "w_ee": w_ee,
              "unit_in": np.full(net["n_in"], gamma_w * net["w_in"]),
              "unit_ee": np.full(net["n_exc"], gamma_w * net["w_ee"]), "m_A": membership[0], "m_B": membership[1],
              "m_C": membership[2]}
    return values, {"activity": activity, "plastic": plastic}, phases, presentations
