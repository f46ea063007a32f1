"""Pair STDP onto one conductance-based neuron, beside a static control neuron (Song, Miller & Abbott 2000).

Song, Miller & Abbott (2000), "Competitive Hebbian learning through spike-timing-dependent synaptic
plasticity", Nat Neurosci 3:919, doi:10.1038/78829. One conductance-based integrate-and-fire neuron
(:mod:`brian2learn.models.conductance_lif`) receives ``n_exc`` excitatory Poisson inputs at a common rate
through synapses with additive all-to-all pair STDP (:mod:`brian2learn.plasticity.stdp`, weights in
``[0, g_max]``) and ``n_inh`` inhibitory Poisson inputs through fixed synapses. A second, control neuron
receives the same input spikes through static synapses (initial weights passed like the plastic ones), so
that both see identical inputs.
"""

import brian2 as b2
import numpy as np

from brian2learn.models import conductance_lif
from brian2learn.plasticity import stdp
from brian2learn.simulation.devices import seed_run


class SongModel:
    """Inputs, one plastic neuron and one static control neuron, in one Brian2 network.

    A model for :class:`~brian2learn.simulation.devices.DeviceRunner`: the run arguments are ``seed``,
    ``rate`` (the excitatory input rate of each input), ``w_plastic`` and ``w_static`` (initial weights,
    units of ``g_max``).

    Parameters
    ----------
    duration : Quantity
        Simulated time of one run.
    snapshot : Quantity
        Interval of weight snapshots.
    n_exc, n_inh : int
    rate_inh : Quantity
    dt : Quantity
    stdp_params : dict
        Overrides of :data:`brian2learn.plasticity.stdp.SONG2000_STDP`.
    """

    def __init__(self, duration, snapshot, n_exc=1000, n_inh=200, rate_inh=10 * b2.Hz, dt=0.1 * b2.ms,
                 stdp_params=None):
        self.duration = duration
        neuron = conductance_lif.neuron_params()
        self.rng = b2.NeuronGroup(1, "seed : integer", dt=dt, name="song_rng")
        self.exc = b2.NeuronGroup(n_exc, "rate : Hz", threshold="rand() < rate*dt", dt=dt, name="song_exc")
        self.inh = b2.NeuronGroup(n_inh, "rate : Hz", threshold="rand() < rate*dt", dt=dt, name="song_inh")
        self.inh.rate = rate_inh
        self.post = conductance_lif.conductance_lif_group(2, dt=dt, name="song_post")
        effect_ns = {"g_max": neuron["g_max"], "g_in_step": neuron["g_in_step"]}
        idx = np.arange(n_exc)
        self.plastic = stdp.pair_stdp_synapses(self.exc, self.post, idx, np.zeros(n_exc, dtype=int), 0.5,
                                               effect=conductance_lif.EXC_EFFECT, name="song_plastic", dt=dt,
                                               namespace=effect_ns, **(stdp_params or {}))
        self.static = b2.Synapses(self.exc, self.post, "w : 1", on_pre=conductance_lif.EXC_EFFECT,
                                  namespace=effect_ns, dt=dt, name="song_static")
        self.static.connect(i=idx, j=np.ones(n_exc, dtype=int))
        self.static.w = 0.5
        inh_i = np.tile(np.arange(n_inh), 2)
        inh_j = np.repeat([0, 1], n_inh)
        self.inhibition = b2.Synapses(self.inh, self.post, on_pre=conductance_lif.INH_EFFECT, namespace=effect_ns,
                                      dt=dt, name="song_inhibition")
        self.inhibition.connect(i=inh_i, j=inh_j)
        self.spikes = b2.SpikeMonitor(self.post, name="song_spikes")
        self.weights = b2.StateMonitor(self.plastic, "w", record=True, dt=snapshot, when="end", name="song_weights")
        self.network = b2.Network(self.rng, self.exc, self.inh, self.post, self.plastic, self.static,
                                  self.inhibition, self.spikes, self.weights)
        self._seeded = False

    def run(self):
        self._seeded = seed_run(self.rng, self._seeded)
        self.network.run(self.duration, namespace={})

    def state_variables(self):
        """``seed``, ``rate`` (excitatory input rate), ``w_plastic``, ``w_static``."""
        return {"seed": (self.rng, "seed"), "rate": (self.exc, "rate"), "w_plastic": (self.plastic, "w"),
                "w_static": (self.static, "w")}

    def stimulus_arrays(self):
        return {}
