"""A recurrent LIF network with WP/NP-plastic input and recurrent weights, trained on a delayed output pattern.

Fiete & Seung (2006), "Gradient learning in spiking neural networks by dynamic perturbation of
conductances", Phys Rev Lett 97:048104, doi:10.1103/PhysRevLett.97.048104 (node perturbation of a spiking
network; here with current instead of conductance noise); Züge, Klos & Memmesheimer (2023), "Weight versus
node perturbation learning in temporally extended tasks", Phys Rev X 13:021006,
doi:10.1103/PhysRevX.13.021006 (weight vs node perturbation on temporally extended tasks).

Network
-------
A recurrent network of ``n_net`` leaky integrate-and-fire neurons per learner (dimensionless membrane
potential, threshold ``v_threshold``, reset 0) receives ``n_in`` spiking inputs (a raster given per pass);
every spike adds 1 to the synaptic trace ``s`` of its neuron (``tau_s``), and the weights multiply these
traces: ``I = sum_in w s_in + sum_rec w s + pert``. Groups of ``per_channel`` neurons are output channels
whose mean smoothed spike train (``zbar``, ``tau_out``) is the output ``y`` compared with the target of the
step, ``E = (1/2T) sum_t sum_c (y_c(t) - y*_c(t))^2``. Input and recurrent weights are plastic
(:mod:`brian2learn.plasticity.perturbation_network`): WP perturbs the weights; NP perturbs each neuron by
a current ``xi_i(t)`` added to its synaptic current, with eligibility ``sum_t xi_i(t) s_j(t)``, ``s_j`` the
presynaptic synaptic trace that the weight multiplies.
"""

import brian2 as b2
import numpy as np

from brian2learn.plasticity.perturbation_network import (
    OUTPUT_EQS,
    PLASTIC_NEURON_EQS,
    PLASTIC_SYNAPSE_EQS,
    PerturbationLearning,
    PerturbationModel,
)
from brian2learn.simulation.devices import STEP_DT

#: The network (a step is STEP_DT = 2**-10 s, about 0.98 ms).
NETWORK = {
    "n_steps": 200,               # T, steps per pass (about 195 ms)
    "n_in": 20,                   # spiking inputs
    "n_net": 20,                  # LIF neurons per learner (recurrent, all plastic)
    "n_channels": 2,              # output channels
    "per_channel": 4,             # neurons of the network averaged into one output channel
    "tau_m": 20.0 * b2.ms,        # membrane time constant
    "tau_s": 5.0 * b2.ms,         # synaptic time constant
    "tau_out": 20.0 * b2.ms,      # output smoothing time constant
    "v_threshold": 1.0,           # threshold (dimensionless membrane potential, reset 0)
    "w_in": (0.8, 1.0),           # mean and std of the initial input weights (dimensionless current)
    "g_rec": 0.5,                 # std of the initial recurrent weights x sqrt(n_net)
}

NET_EQS = PLASTIC_NEURON_EQS + """
dv/dt = (-v + I)/tau_m : 1        # membrane potential (threshold 1, reset 0)
ds/dt = -s/tau_s : 1              # synaptic trace: +1 per spike; the weights multiply it
dzbar/dt = -zbar/tau_out : 1      # smoothed spike train of the output channels
I : 1                             # input current of this step: I_in + I_rec + pert
I_in : 1                          # summed w_eff s of the input synapses
I_rec : 1                         # summed w_eff s of the recurrent synapses
"""

INPUT_EQS = """
ds/dt = -s/tau_s : 1              # synaptic trace of the input spikes
"""

READOUT_EQS = OUTPUT_EQS + """
y : 1                             # output: mean zbar of the channel's neurons
y_target : 1                      # target of this step
channel : integer (constant)      # output channel within its learner
"""


def spiking_connectivity(n_learners, n_in=NETWORK["n_in"], n_net=NETWORK["n_net"]):
    """Input synapse ``(l N + i) n_in + k`` (input ``k`` to neuron ``i`` of learner ``l``) and recurrent synapse
    ``(l N + i)(N - 1) + m`` (the ``m``-th other neuron of the same learner, no autapses): weights reshape to
    (n_learners, N, n_in) and (n_learners, N, N - 1)."""
    ll, ii, kk = np.meshgrid(np.arange(n_learners), np.arange(n_net), np.arange(n_in), indexing="ij")
    inputs = (kk.ravel(), (ll * n_net + ii).ravel())
    pre, post = [], []
    for learner in range(n_learners):
        for i in range(n_net):
            others = [j for j in range(n_net) if j != i]
            pre.extend(learner * n_net + np.asarray(others))
            post.extend([learner * n_net + i] * len(others))
    return {"in": inputs, "rec": (np.asarray(pre), np.asarray(post))}


def initial_spiking_weights(n_learners, seed, params=NETWORK):
    """Initial weights, the same network for every learner: input ``N(mean, std)``, recurrent
    ``N(0, g^2/N)`` without autapses, drawn from ``numpy.random.default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    n_net, n_in = params["n_net"], params["n_in"]
    w_in = rng.normal(params["w_in"][0], params["w_in"][1], (n_net, n_in))
    w_rec = rng.normal(0.0, params["g_rec"] / np.sqrt(n_net), (n_net, n_net - 1))
    return {"in": np.tile(w_in.ravel(), n_learners), "rec": np.tile(w_rec.ravel(), n_learners)}


def delayed_pattern_model(n_learners, n_trials, params=NETWORK, reference="unperturbed", dt=STEP_DT,
                          record_learners=0, name="spk"):
    """Recurrent LIF networks of ``n_learners`` learners on a delayed output pattern, WP/NP-plastic.

    Each step: the inputs spike from the raster (their threshold, ``before_groups`` order 0), node
    perturbations (order 5), the summed currents ``I_in = sum w_eff s_in`` and ``I_rec = sum w_eff s``
    (order 6), ``I = I_in + I_rec + pert`` (order 7) and NP eligibilities ``elig += pert_post s_pre``
    (order 8); the LIF update with ``I`` held over the step (exact integration), threshold and reset
    ``v = 0, s += 1, zbar += 1``; at ``end`` the channel outputs ``y = mean zbar`` (order 0) and the error
    ``E += (y - y*)^2 / 2T`` (order 1). Every pass starts from ``v = s = zbar = 0``.
    State variables: ``w:{name}_in``, ``w:{name}_rec``; stimuli ``inputs`` (T, n_in) and ``targets`` (T, channels).

    ``record_learners > 0`` records, for the first learners, their spikes, the channel outputs ``y`` per step,
    ``pert``, ``s`` and ``I`` of their neurons and ``s`` of the inputs per step (``before_groups``, after the
    currents), and ``w``, ``dw_pert``, ``elig`` of their synapses at every trial boundary before the update.
    """
    n_steps, n_in, n_net = params["n_steps"], params["n_in"], params["n_net"]
    n_channels, per_channel = params["n_channels"], params["per_channel"]
    if n_channels * per_channel > n_net:
        raise ValueError(f"n_channels x per_channel = {n_channels * per_channel} exceeds n_net = {n_net}")
    learning = PerturbationLearning(n_steps, n_learners, n_trials, reference=reference, dt=dt, name=name)
    raster = b2.TimedArray(np.zeros((n_steps, n_in)), dt=dt, name=f"{name}_raster")
    targets = b2.TimedArray(np.zeros((n_steps, n_channels)), dt=dt, name=f"{name}_targets")
    namespace = {**learning.namespace, "spk_raster": raster, "spk_targets": targets,
                 "tau_m": params["tau_m"], "tau_s": params["tau_s"], "tau_out": params["tau_out"],
                 "v_threshold": params["v_threshold"]}
    lookup = learning.step_lookup
    inputs = b2.NeuronGroup(n_in, INPUT_EQS, threshold=f"spk_raster({lookup}, i) > 0.5", reset="s += 1",
                            method="exact", dt=dt, namespace=namespace, name=f"{name}_inputs")
    inputs.thresholder["spike"].when = "before_groups"
    inputs.thresholder["spike"].order = 0
    inputs.resetter["spike"].when = "before_groups"
    inputs.resetter["spike"].order = 1
    net = b2.NeuronGroup(n_learners * n_net, NET_EQS, threshold="v > v_threshold",
                         reset="v = 0\ns += 1\nzbar += 1", method="exact", dt=dt, namespace=namespace,
                         name=f"{name}_net")
    readout = b2.NeuronGroup(n_learners * n_channels, READOUT_EQS, dt=dt, namespace=namespace,
                             name=f"{name}_readout")
    readout.channel = np.tile(np.arange(n_channels), n_learners)
    conn = spiking_connectivity(n_learners, n_in, n_net)
    syn_in = b2.Synapses(inputs, net, PLASTIC_SYNAPSE_EQS + "I_in_post = w_eff*s_pre : 1 (summed)\n", dt=dt,
                         namespace=namespace, name=f"{name}_in")
    syn_in.connect(i=conn["in"][0], j=conn["in"][1])
    syn_rec = b2.Synapses(net, net, PLASTIC_SYNAPSE_EQS + "I_rec_post = w_eff*s_pre : 1 (summed)\n", dt=dt,
                          namespace=namespace, name=f"{name}_rec")
    syn_rec.connect(i=conn["rec"][0], j=conn["rec"][1])
    for syn, var in ((syn_in, "I_in_post"), (syn_rec, "I_rec_post")):
        syn.summed_updaters[var].when = "before_groups"
        syn.summed_updaters[var].order = 6
    net.run_regularly("I = I_in + I_rec + pert", when="before_groups", order=7, name=f"{name}_net_current")
    # Readout: channel c of learner l averages the smoothed spike trains of neurons l N + c P ... l N + c P + P - 1.
    ll, cc, pp = np.meshgrid(np.arange(n_learners), np.arange(n_channels), np.arange(per_channel), indexing="ij")
    readout_syn = b2.Synapses(net, readout, "y_post = zbar_pre/n_per_channel : 1 (summed)", dt=dt,
                              namespace={"n_per_channel": per_channel}, name=f"{name}_readout_syn")
    readout_syn.connect(i=(ll * n_net + cc * per_channel + pp).ravel(), j=(ll * n_channels + cc).ravel())
    readout_syn.summed_updaters["y_post"].when = "end"
    readout_syn.summed_updaters["y_post"].order = 0
    readout.run_regularly(f"y_target = spk_targets({lookup}, channel)\nE += (y - y_target)**2/(2*n_steps)",
                          when="end", order=1, name=f"{name}_readout_step")
    learner_of_net = np.repeat(np.arange(n_learners), n_net)
    learning.add_output(readout, np.repeat(np.arange(n_learners), n_channels))
    for syn in (syn_in, syn_rec):
        learning.add_plastic(syn, learner_of_net, activity="s_pre", eligibility_when="before_groups",
                             eligibility_order=8)
    learning.add_reset(net, "v = 0\ns = 0\nzbar = 0")
    learning.add_reset(inputs, "s = 0")
    objects = [inputs, net, readout, syn_in, syn_rec, readout_syn]
    monitors = {}
    if record_learners:
        n_record = int(record_learners)
        monitors["spikes"] = b2.SpikeMonitor(net[:n_record * n_net], name=f"{name}_spike_monitor")
        monitors["readout"] = b2.StateMonitor(readout, ["y", "y_target"], record=np.arange(n_record * n_channels),
                                              when="end", order=2, name=f"{name}_readout_monitor")
        monitors["net"] = b2.StateMonitor(net, ["pert", "s", "I"], record=np.arange(n_record * n_net),
                                          when="before_groups", order=9, name=f"{name}_net_monitor")
        monitors["inputs"] = b2.StateMonitor(inputs, "s", record=True, when="before_groups", order=9,
                                             name=f"{name}_input_monitor")
        for key, syn, per_learner in (("synapses_in", syn_in, n_net * n_in), ("synapses_rec", syn_rec,
                                                                                n_net * (n_net - 1))):
            monitors[key] = b2.StateMonitor(syn, ["w", "dw_pert", "elig"], record=np.arange(n_record * per_learner),
                                            dt=learning.trial_dt, when="start", order=5,
                                            name=f"{name}_{key}_monitor")
        objects.extend(monitors.values())
    return PerturbationModel(learning, objects, stimulus_arrays={"inputs": raster, "targets": targets},
                             net=net, readout=readout, syn_in=syn_in, syn_rec=syn_rec, monitors=monitors,
                             weight_names=(f"w:{syn_in.name}", f"w:{syn_rec.name}"))
