"""STDP on your own Brian2 network: Poisson inputs onto a few conductance-based LIF neurons.

The neurons are written here in plain Brian2; only the plastic synapses come from
:mod:`brian2learn.plasticity.stdp`. With additive pair STDP and depression slightly stronger
than potentiation, uncorrelated inputs drive the weights apart towards the two bounds (a bimodal
distribution), while the output rate settles (Song, Miller & Abbott 2000, "Competitive Hebbian
learning through spike-timing-dependent synaptic plasticity", Nat Neurosci 3:919,
doi:10.1038/78829; the set-up of Brian2's example ``frompapers/Song_Miller_Abbott_2000``).
``mu=1`` gives the multiplicative rule (van Rossum et al. 2000), whose weights stay away from the
bounds; :func:`~brian2learn.plasticity.stdp.triplet_stdp_synapses` is a drop-in alternative.
"""

import shutil
import tempfile

import brian2 as b2
import numpy as np

from brian2learn.plasticity import stdp

N_INPUTS = 1000  # Poisson inputs
N_POST = 3  # LIF neurons; each receives every input
INPUT_RATE = 15 * b2.Hz  # rate of each input
DURATION = 300 * b2.second  # simulated time
NEURON = {
    "tau_m": 10 * b2.ms,  # membrane time constant
    "E_L": -74 * b2.mV,  # leak reversal potential
    "E_e": 0 * b2.mV,  # excitatory reversal potential
    "v_th": -54 * b2.mV,  # spike threshold
    "v_reset": -60 * b2.mV,  # reset potential
    "tau_e": 5 * b2.ms,  # decay of the excitatory conductance
    "g_max": 0.01,  # conductance of a synapse with w = 1, in units of the leak conductance
}
EQS = """
dv/dt = (E_L - v + g_e*(E_e - v))/tau_m : volt
dg_e/dt = -g_e/tau_e : 1  # excitatory conductance / leak conductance
"""
STDP = {  # pair STDP of stdp.SONG2000_STDP with Brian2's example's amplitudes; w in [w_min, w_max] = [0, 1]
    "A_plus": 0.01,  # potentiation per pre-before-post pair
    "A_minus": 0.0105,  # depression per post-before-pre pair (5 % stronger)
    "tau_pre": 20 * b2.ms,  # width of the potentiation window
    "tau_post": 20 * b2.ms,  # width of the depression window
}


def main(n_inputs=N_INPUTS, input_rate=INPUT_RATE, duration=DURATION, mu=0.0, device="cpp_standalone", seed=1,
         record_spikes=False):
    """Simulate the network with plastic input synapses (``mu``: 0 additive as Song et al., 1 multiplicative).

    Returns ``w_initial``, ``w_final`` (synapse order), ``rate_hz`` per neuron, the fractions of weights
    ``near_0_*`` (< 0.1) and ``near_1_*`` (> 0.9), and with ``record_spikes`` also ``pre_spikes``,
    ``post_spikes`` (indices, times in s) and ``synapses`` (i, j).
    """
    build_dir = tempfile.mkdtemp() if device == "cpp_standalone" else None
    if build_dir:  # compiled and run at the end of net.run
        b2.set_device("cpp_standalone", directory=build_dir)
    try:
        b2.seed(seed)
        inputs = b2.PoissonGroup(n_inputs, rates=input_rate)
        neurons = b2.NeuronGroup(N_POST, EQS, threshold="v > v_th", reset="v = v_reset", method="euler",
                                 namespace=NEURON)
        neurons.v = NEURON["E_L"]
        i, j = np.tile(np.arange(n_inputs), N_POST), np.repeat(np.arange(N_POST), n_inputs)
        w_initial = np.random.default_rng(seed).random(i.size)  # uniform in [0, 1]
        synapses = stdp.pair_stdp_synapses(inputs, neurons, i, j, w_initial, effect="g_e_post += w*g_max",
                                           namespace={"g_max": NEURON["g_max"]}, mu=mu, **STDP)
        pre, post = b2.SpikeMonitor(inputs, record=record_spikes), b2.SpikeMonitor(neurons)
        b2.Network(inputs, neurons, synapses, pre, post).run(duration)
        result = {"w_initial": w_initial, "w_final": np.array(synapses.w[:]),
                  "rate_hz": np.array(post.count[:]) / float(duration)}
        if record_spikes:
            result["pre_spikes"] = (np.array(pre.i[:]), np.array(pre.t[:] / b2.second))
            result["post_spikes"] = (np.array(post.i[:]), np.array(post.t[:] / b2.second))
            result["synapses"] = (np.array(synapses.i[:]), np.array(synapses.j[:]))
    finally:
        if build_dir:
            b2.device.reinit()
            b2.set_device("runtime")
            shutil.rmtree(build_dir, ignore_errors=True)
    for when in ("initial", "final"):
        w = result[f"w_{when}"]
        result[f"near_0_{when}"], result[f"near_1_{when}"] = float(np.mean(w < 0.1)), float(np.mean(w > 0.9))
    return result


if __name__ == "__main__":
    r = main()
    print(f"output rates {np.round(r['rate_hz'], 1)} Hz; mean weight {r['w_initial'].mean():.2f} -> "
          f"{r['w_final'].mean():.2f}")
    for when in ("initial", "final"):
        print(f"{when:>7} weights: {r[f'near_0_{when}']:.0%} below 0.1, {r[f'near_1_{when}']:.0%} above 0.9")
    print("histogram of final weights (10 bins):", np.histogram(r["w_final"], bins=10, range=(0, 1))[0])
