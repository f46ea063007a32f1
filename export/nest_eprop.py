"""The NEST 3.10 side of brian2learn's e-prop export: build and run a network from a plain description.

This file imports only numpy and NEST: ``brian2learn export RUN_DIR --to nest`` copies it into the script
it writes, so that a NEST user runs the exported network without brian2learn. The description (*spec*)
is a dict of plain numbers and arrays made by :func:`brian2learn.export.nest.eprop_spec`.

Models (NEST 3.10, Tiddia, Espinoza Valverde et al.): ``eprop_iaf_bsshslm_2020`` (LIF),
``eprop_iaf_adapt_bsshslm_2020`` (ALIF), ``eprop_readout_bsshslm_2020``, after Bellec et al. (2020),
Nat Commun 11:3625, doi:10.1038/s41467-020-17236-y.

Time. NEST delays every connection by at least one step; brian2learn's discrete-time network is
the same model with the input of step ``k`` acting in step ``k``. Input spikes pass through
``parrot_neuron`` relays, so a recurrent neuron sees the input of brian2learn's step ``k`` at
NEST time ``(k + 3) dt`` and emits brian2learn's spike of step ``k`` at that time; the readout's
step ``k`` is recorded at ``(k + 4) dt``.

Trials. brian2learn starts every trial from rest. NEST's own reset between sequences
(``eprop_reset_neurons_on_update``) drops the input of a sequence's first step, and spikes of
one sequence's last steps still reach the next (measured: the evidence-accumulation network
differs from its second trial on). :func:`run_trials` therefore simulates each trial in a fresh
kernel, without NEST's reset: exact, at the cost of one network construction per trial.
"""

import numpy as np

NEST_SERIES = "3.10"
SPEC_FORMAT = "brian2learn e-prop for NEST 1"
#: NEST time of brian2learn's step 0 in a sequence: the generator offset, the relay and the input delay.
SPIKE_OFFSET_STEPS = 3
READOUT_OFFSET_STEPS = 4


def check_nest(nest):
    """Raise ``RuntimeError`` unless ``nest`` is NEST 3.10.x (whose e-prop models the spec follows)."""
    version = getattr(nest, "__version__", None)
    if version is None:
        version = str(nest.version()).split()[-1]
    if not str(version).startswith(NEST_SERIES + "."):
        raise RuntimeError(f"the export targets NEST {NEST_SERIES}.x and its e-prop models; found NEST {version}")
    return version


def _recurrent_runs(spec):
    """Consecutive runs of recurrent neurons of one NEST model: (model, first, stop)."""
    adaptive = np.asarray(spec["adapt_beta"]) != 0.0
    runs, first = [], 0
    for index in range(1, len(adaptive) + 1):
        if index == len(adaptive) or adaptive[index] != adaptive[first]:
            model = "eprop_iaf_adapt_bsshslm_2020" if adaptive[first] else "eprop_iaf_bsshslm_2020"
            runs.append((model, first, index))
            first = index
    return runs


def build(nest, spec, inputs, threads=1, lead=0):
    """Create the network of ``spec`` in a fresh NEST kernel, driven by ``inputs`` (trials, steps, n_in).

    Synapses are static (the trained weights, no learning). Returns a dict of the node collections
    and recorders.
    """
    check_nest(nest)
    dt = float(spec["dt_ms"])
    n_trials, n_steps, n_in = np.shape(inputs)
    if n_steps != int(spec["n_steps"]) or n_in != int(spec["n_in"]):
        raise ValueError(f"inputs must have shape (trials, {spec['n_steps']}, {spec['n_in']}), got {np.shape(inputs)}")
    sequence = (n_steps + lead) * dt
    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.WARNING
    nest.set(resolution=dt, local_num_threads=int(threads), print_time=False, eprop_learning_window=n_steps * dt,
             eprop_reset_neurons_on_update=False, eprop_update_interval=n_trials * sequence + 10 * dt)
    common = {"C_m": 1.0, "E_L": 0.0, "I_e": 0.0, "V_m": 0.0, "V_th": float(spec["v_th"]),
              "tau_m": float(spec["tau_m_ms"]), "t_ref": float(spec["t_ref_ms"]),
              "regular_spike_arrival": bool(spec["regular_spike_arrival"]),
              "surrogate_gradient_function": "piecewise_linear",
              "surrogate_gradient_height": float(spec["gamma"]) / float(spec["v_th"]),
              "surrogate_gradient_width": float(spec["v_th"]), "c_reg": 0.0,
              "f_target": float(spec["f_target_hz"])}
    recurrent = None
    for model, first, stop in _recurrent_runs(spec):
        params = dict(common)
        if model == "eprop_iaf_adapt_bsshslm_2020":
            params["adapt_tau"] = float(spec["tau_a_ms"])
        nodes = nest.Create(model, stop - first, params)
        if model == "eprop_iaf_adapt_bsshslm_2020":
            nodes.set([{"adapt_beta": float(b)} for b in np.asarray(spec["adapt_beta"])[first:stop]])
        recurrent = nodes if recurrent is None else recurrent + nodes
    readout = nest.Create("eprop_readout_bsshslm_2020", int(spec["n_out"]),
                          {"C_m": 1.0, "E_L": 0.0, "I_e": 0.0, "V_m": 0.0, "tau_m": float(spec["tau_out_ms"]),
                           "regular_spike_arrival": False,
                           "loss": "mean_squared_error" if spec["loss"] == "mse" else "cross_entropy"})
    generators = nest.Create("spike_generator", n_in)
    relays = nest.Create("parrot_neuron", n_in)
    static = {"synapse_model": "static_synapse", "delay": dt}
    nest.Connect(generators, relays, {"rule": "one_to_one"}, static)
    nest.Connect(relays, recurrent, {"rule": "all_to_all"}, {**static, "weight": np.asarray(spec["w_in"], float)})
    nest.Connect(recurrent, recurrent, {"rule": "all_to_all", "allow_autapses": False},
                 {**static, "weight": np.asarray(spec["w_rec"], float)})
    nest.Connect(recurrent, readout, {"rule": "all_to_all"}, {**static, "weight": np.asarray(spec["w_out"], float)})
    starts = np.arange(n_trials) * (n_steps + lead) + lead  # first step of each trial
    times = []
    for channel in range(n_in):
        trial, step = np.nonzero(np.asarray(inputs)[:, :, channel] > 0)
        times.append({"spike_times": ((starts[trial] + step + 1) * dt).astype(float)})
    generators.set(times)
    spikes = nest.Create("spike_recorder")
    nest.Connect(recurrent, spikes)
    meter = nest.Create("multimeter", {"interval": dt, "record_from": ["V_m"]})
    nest.Connect(meter, readout, {"rule": "all_to_all"}, {"synapse_model": "static_synapse", "delay": dt})
    return {"recurrent": recurrent, "readout": readout, "generators": generators, "relays": relays,
            "spikes": spikes, "meter": meter, "n_trials": n_trials, "n_steps": n_steps, "lead": lead, "dt": dt}


def run(nest, network):
    """Simulate the trials of :func:`build`; return the readout ``y`` (trials, n_out, steps) and the spikes.

    ``spikes`` is a list with one ``(neurons, steps)`` pair per trial in brian2learn's indices.
    """
    dt, n_trials, n_steps, lead = network["dt"], network["n_trials"], network["n_steps"], network["lead"]
    span = n_steps + lead
    nest.Simulate((n_trials * span + READOUT_OFFSET_STEPS + 1) * dt)
    events = network["meter"].get("events")
    steps = np.rint(np.asarray(events["times"]) / dt).astype(int) - READOUT_OFFSET_STEPS - lead
    senders = np.asarray(events["senders"]) - network["readout"][0].global_id
    values = np.asarray(events["V_m"], float)
    trial, step = np.divmod(steps, span)
    keep = (steps >= 0) & (step < n_steps) & (trial < n_trials)
    y = np.full((n_trials, len(network["readout"]), n_steps), np.nan)
    y[trial[keep], senders[keep], step[keep]] = values[keep]
    events = network["spikes"].get("events")
    steps = np.rint(np.asarray(events["times"]) / dt).astype(int) - SPIKE_OFFSET_STEPS - lead
    neurons = np.asarray(events["senders"]) - network["recurrent"][0].global_id
    trial, step = np.divmod(steps, span)
    spikes = []
    for index in range(n_trials):
        mine = (steps >= 0) & (trial == index) & (step < n_steps)
        order = np.lexsort((neurons[mine], step[mine]))
        spikes.append((neurons[mine][order], step[mine][order]))
    return y, spikes


def run_trials(nest, spec, inputs, threads=1):
    """Each trial of ``inputs`` (trials, steps, n_in) in a fresh kernel; returns ``y`` and ``spikes`` as :func:`run`."""
    ys, spikes = [], []
    for trial in np.asarray(inputs):
        y, trial_spikes = run(nest, build(nest, spec, trial[None], threads=threads))
        ys.append(y[0])
        spikes.extend(trial_spikes)
    return np.asarray(ys), spikes
