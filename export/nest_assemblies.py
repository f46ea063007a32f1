"""The trained assembly network of Pokorny et al. (2020) in NEST 3.10 (numpy and NEST only).

Pokorny, Ison, Rao, Legenstein, Papadimitriou & Maass (2020), "STDP forms associations between memory
traces in networks of spiking neurons", Cereb Cortex 30(3):952, doi:10.1093/cercor/bhz140; the network
as brian2learn builds it is :mod:`brian2learn.plasticity.assembly_network`. Its escape-noise neurons
(:mod:`brian2learn.models.stochastic_neurons`) become NEST's ``pp_psc_delta`` (Cardanobile & Rotter
2010, J Comput Neurosci 28:267, doi:10.1007/s10827-009-0204-0), the trained synapses static synapses,
and the input channels ``spike_generator`` s replaying given spike trains.

What is mapped exactly
----------------------
- **Escape rate.** ``pp_psc_delta`` fires with rate ``c_1 V + c_2 exp(c_3 V)`` (Hz); ``c_1 = 0``,
  ``c_3 = 1/delta_u`` and ``c_2 = rho_0 exp(-theta/delta_u)`` give ``rho_0 exp((u - theta)/delta_u)``
  with ``u = V``, a spike in a step with probability ``1 - exp(-rho dt)``, as in brian2learn.
- **No reset** (``with_reset = False``): the potential is not touched by the neuron's own spike.
- **Refractoriness.** Brian2 keeps a neuron silent while ``t < t_spike + t_ref``: the ``t_ref/dt - 1``
  steps after a spike. NEST's ``dead_time`` silences ``dead_time/dt`` steps, so ``dead_time = t_ref - dt``
  (at constant potential both give the rate ``1/(dt (t_ref/dt - 1 + 1/p))``, ``p = 1 - exp(-rho dt)``;
  tested).
- **Excitability offset** ``b_k``: a constant current ``I_e = b_k C_m/tau_m``, whose steady potential is
  ``b_k``; the neurons start at ``V_m = b_k``.
- **Timing.** With NEST's delay of one step, an input spike at ``t`` can make a neuron fire at ``t + dt``
  and that spike its targets at ``t + 2 dt``, in both simulators (tested with a hand-made spike train).

What NEST cannot express
------------------------
- **The double-exponential PSP.** brian2learn's PSP is ``w norm (e^{-s/tau_d} - e^{-s/tau_r})`` (peak ``w``;
  rise 1 ms, decay 10 ms excitatory and 15 ms inhibitory). ``pp_psc_delta`` has delta currents into one
  leaky membrane: every PSP is a jump decaying with the neuron's single ``tau_m``. The export takes
  ``tau_m`` = the excitatory decay and scales every weight so that its PSP has brian2learn's integral
  (``w_nest tau_m = w norm (tau_d - tau_r)``): the mean potential a given input rate produces is the same,
  the PSP's 1-ms rise is lost (it peaks at once, higher: 1.0 mV excitatory PSP of brian2learn -> a jump of
  about 1.2 mV), and inhibition decays with 10 ms instead of 15 ms (at a matched integral). ``gif_psc_exp``
  would give the excitatory PSP's shape exactly (exponential currents into a leaky membrane) but resets
  the potential after every spike, which changes the neuron model itself; ``pp_psc_delta`` keeps it.
- **Plasticity** is not exported: the synapses are static with the trained weights (triplet STDP, the
  sliding threshold and the optional short-term depression of E->E are left out). The comparison runs
  brian2learn's network frozen as well.
- **Random streams** differ: the same input spike trains go to both, the neurons' noise is each
  simulator's own; networks are compared by statistics over seeds.
"""

import numpy as np

#: NEST release series the export was written and tested for.
NEST_SERIES = "3.10"
C_M = 250.0  # pF, pp_psc_delta's default membrane capacitance (only I_e = b C_m / tau_m depends on it)


def check_nest(nest):
    """Raise RuntimeError unless ``nest`` is NEST 3.10.x."""
    version = getattr(nest, "__version__", "unknown")
    if not str(version).startswith(NEST_SERIES + "."):
        raise RuntimeError(f"the exported assembly network targets NEST {NEST_SERIES}.x (pip install "
                           f"'nest-simulator>={NEST_SERIES},<3.11'), found NEST {version}")


def neuron_parameters(offsets_mv, theta_mv, spec):
    """``pp_psc_delta`` parameters of neurons with offsets ``offsets_mv`` and escape reference ``theta_mv``."""
    tau_m = float(spec["tau_m_ms"])
    offsets = np.asarray(offsets_mv, dtype=float)
    common = {"tau_m": tau_m, "C_m": C_M, "c_1": 0.0, "c_3": 1.0 / float(spec["delta_u_mv"]),
              "c_2": float(spec["rho_0_hz"]) * float(np.exp(-theta_mv / float(spec["delta_u_mv"]))),
              "dead_time": float(spec["t_ref_ms"]) - float(spec["dt_ms"]), "dead_time_random": False,
              "with_reset": False}
    return [{**common, "I_e": float(b) * C_M / tau_m, "V_m": float(b)} for b in offsets]


#: Pathways: (presynaptic population, postsynaptic population, sign of the PSP).
PATHWAYS = {"in": ("in", "exc", 1.0), "ee": ("exc", "exc", 1.0), "ei": ("exc", "inh", 1.0),
            "ie": ("inh", "exc", -1.0), "ii": ("inh", "inh", -1.0)}


def psp_integral_ms(tau_rise_ms, tau_decay_ms):
    """Integral (ms) of brian2learn's double-exponential PSP of peak 1: ``norm (tau_d - tau_r)``."""
    tr, td = float(tau_rise_ms), float(tau_decay_ms)
    s_peak = np.log(td / tr) * tr * td / (td - tr)
    return (td - tr) / (np.exp(-s_peak / td) - np.exp(-s_peak / tr))


def nest_weight_mv(pathway, peak_mv, spec):
    """The jump (mV) of ``pp_psc_delta``'s potential whose PSP has the integral of brian2learn's PSP of peak
    ``peak_mv``, with the pathway's sign (inhibitory pathways negative)."""
    kind = "e" if PATHWAYS[pathway][2] > 0 else "i"
    integral = psp_integral_ms(spec[f"tau_rise_{kind}_ms"], spec[f"tau_decay_{kind}_ms"])
    return PATHWAYS[pathway][2] * np.asarray(peak_mv, dtype=float) * integral / float(spec["tau_m_ms"])


def build(nest, spec, input_times_ms, seed, threads=1):
    """Build the network of ``spec`` (:func:`brian2learn.export.nest.assembly_spec`) in a fresh kernel.

    ``input_times_ms`` is one array of spike times (ms, on the grid, >= one step) per input channel.
    Returns the populations and the spike recorders.
    """
    check_nest(nest)
    dt = float(spec["dt_ms"])
    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.WARNING
    nest.set(resolution=dt, rng_seed=int(seed), local_num_threads=int(threads), print_time=False)
    exc = nest.Create("pp_psc_delta", int(spec["n_exc"]))
    inh = nest.Create("pp_psc_delta", int(spec["n_inh"]))
    exc.set(neuron_parameters(spec["b_exc_mv"], float(spec["theta_exc_mv"]), spec))
    inh.set(neuron_parameters(np.full(int(spec["n_inh"]), float(spec["b_inh_mv"])), float(spec["theta_inh_mv"]),
                              spec))
    generators = nest.Create("spike_generator", len(input_times_ms))
    generators.set([{"spike_times": np.asarray(times, dtype=float)} for times in input_times_ms])
    populations = {"in": generators, "exc": exc, "inh": inh}
    for pathway, (pre, post, _) in PATHWAYS.items():
        sources, targets = spec[f"i_{pathway}"], spec[f"j_{pathway}"]
        if len(sources) == 0:
            continue
        first_pre, first_post = populations[pre][0].global_id, populations[post][0].global_id
        nest.Connect(np.asarray(sources, dtype=np.int64) + first_pre, np.asarray(targets, dtype=np.int64) + first_post,
                     "one_to_one", {"synapse_model": "static_synapse", "delay": np.full(len(sources), dt),
                                    "weight": nest_weight_mv(pathway, spec[f"w_{pathway}_mv"], spec)})
    recorders = {name: nest.Create("spike_recorder") for name in ("exc", "inh")}
    nest.Connect(exc, recorders["exc"])
    nest.Connect(inh, recorders["inh"])
    return {**populations, "recorders": recorders}


def run(nest, spec, input_times_ms, duration_ms, seed, threads=1):
    """Simulate ``duration_ms``; return ``{"exc": (times_s, neurons), "inh": (times_s, neurons)}``.

    NEST stamps a spike with the end of the step it was drawn in; these stamps are the times at
    which brian2learn's threshold fires for the same causes (an input spike at ``t`` can make a neuron
    fire at ``t + dt`` in both, and that spike its target at ``t + 2 dt``; tested), so they are kept.
    """
    network = build(nest, spec, input_times_ms, seed, threads=threads)
    dt = float(spec["dt_ms"])
    nest.Simulate(round(float(duration_ms) / dt) * dt)
    spikes = {}
    for name in ("exc", "inh"):
        events = network["recorders"][name].get("events")
        neurons = np.asarray(events["senders"], dtype=np.int64) - network[name][0].global_id
        steps = np.rint(np.asarray(events["times"], dtype=float) / dt).astype(np.int64)
        order = np.lexsort((neurons, steps))
        spikes[name] = (steps[order] * dt / 1000.0, neurons[order])
    return spikes
