"""Trained assembly networks (Pokorny et al. 2020) exported to NEST 3.10 and compared with brian2learn.

:func:`assembly_spec` turns a network saved by ``stdp-assemblies`` (``network_*.npz``: trained ``w_in``,
``w_ee`` and the run arguments; the static pathways are redrawn from the saved model's
``structure_seed``) into a plain description; :mod:`brian2learn.export.nest_assemblies` (numpy and
NEST only) runs it in NEST with ``pp_psc_delta`` neurons and says what NEST cannot express. For the
comparison, :func:`test_block` draws a test block as in the study (every pattern of
:data:`~brian2learn.tasks.assembly_patterns.TEST_PATTERNS` ``n_test`` times, in random order, with random
gaps) and its input spike trains, :func:`run_in_brian2` runs the frozen network (the same neurons and
PSPs as the study, static synapses with the trained weights) on them with the runtime device, and
:func:`compare_with_nest` runs both simulators on the same inputs over several seeds and measures the
assemblies of each run with :func:`brian2learn.analysis.assemblies.assembly_members`.

Pokorny, Ison, Rao, Legenstein, Papadimitriou & Maass (2020), Cereb Cortex 30(3):952,
doi:10.1093/cercor/bhz140.
"""

import time

import brian2 as b2
import numpy as np
import pandas as pd

from brian2learn.analysis import assemblies as asm
from brian2learn.export import nest_assemblies
from brian2learn.models import stochastic_neurons as sn
from brian2learn.plasticity import assembly_network as an
from brian2learn.tasks import assembly_patterns as ap

__all__ = ["assembly_spec", "spec_from_file", "test_block", "run_in_brian2", "run_in_nest", "compare_with_nest"]

#: Arrays a saved assembly network must hold.
REQUIRED_ARRAYS = ("w_in", "w_ee", "i_in", "j_in", "i_ee", "j_ee", "b_exc", "unit_in", "unit_ee", "m_A", "m_B",
                   "m_C")


def _ms(quantity):
    return float(quantity / b2.ms)


def _millivolts(values):
    """mV from a Quantity, or from plain numbers in Brian2's base unit (volt)."""
    if isinstance(values, b2.Quantity):
        return np.asarray(values / b2.mV, dtype=float)
    return np.asarray(values, dtype=float) * 1e3


def spec_from_file(path):
    """:func:`assembly_spec` of a ``network_*.npz`` written by ``stdp-assemblies``."""
    from brian2learn.simulation.files import load_parameters, restore_quantities

    arrays, metadata = load_parameters(path)
    if metadata.get("study") != "stdp-assemblies":
        raise ValueError(f"'{path}' was saved by {metadata.get('study')!r}, not by stdp-assemblies")
    return assembly_spec(arrays, restore_quantities(metadata.get("model")))


def assembly_spec(arrays, model):
    """A plain description of a trained assembly network (numbers in ms, mV, Hz; arrays).

    Parameters
    ----------
    arrays : dict
        The arrays of a ``network_*.npz`` of ``stdp-assemblies`` (:data:`REQUIRED_ARRAYS`; ``b_exc`` a
        Quantity or numbers in volt).
    model : dict
        Its ``model`` metadata with Quantities restored (``network``, ``protocol``, ``inputs`` of
        :class:`~brian2learn.plasticity.assembly_network.AssemblyConfig`).

    Returns
    -------
    dict
        Sizes; the neurons' ``b_exc_mv``, ``b_inh_mv``, ``theta_exc_mv``, ``theta_inh_mv``, ``rho_0_hz``,
        ``delta_u_mv``, ``t_ref_ms``, the PSP time constants and ``tau_m_ms`` (NEST's membrane: the
        excitatory decay); per pathway ``i_P``, ``j_P`` and ``w_P_mv`` (peak PSP in mV) for ``in``, ``ee``,
        ``ei``, ``ie``, ``ii``; the input patterns ``m_A``, ``m_B``, ``m_C`` and rates; the protocol.
    """
    missing = [name for name in REQUIRED_ARRAYS if name not in arrays]
    if missing:
        raise ValueError(f"the saved network lacks {missing}: not a trained network of stdp-assemblies")
    if not isinstance(model, dict) or "network" not in model:
        raise ValueError("the saved network's metadata lacks 'model' (the AssemblyConfig that rebuilds it)")
    config = an.AssemblyConfig(network=dict(model["network"]), protocol=dict(model.get("protocol") or {}),
                               inputs=dict(model.get("inputs") or an.INPUTS))
    net = config.network
    conn = an.connectivity(config)
    for pathway in ("in", "ee"):
        for k, name in enumerate(("i", "j")):
            if not np.array_equal(np.asarray(arrays[f"{name}_{pathway}"]), conn[pathway][k]):
                raise ValueError(f"'{name}_{pathway}' of the saved network differs from the connectivity drawn from "
                                 f"its structure_seed {net['structure_seed']}: the network cannot be rebuilt")
    params = sn.neuron_params()
    w_in = np.asarray(arrays["w_in"], float) * np.asarray(arrays["unit_in"], float)[conn["in"][0]]
    w_ee = np.asarray(arrays["w_ee"], float) * np.asarray(arrays["unit_ee"], float)[conn["ee"][0]]
    spec = {"dt_ms": _ms(net["dt"]), "n_exc": int(net["n_exc"]), "n_inh": int(net["n_inh"]), "n_in": int(net["n_in"]),
            "b_exc_mv": _millivolts(arrays["b_exc"]),
            "b_inh_mv": float(net["b_inh"]), "theta_exc_mv": float(net["theta_exc"]),
            "theta_inh_mv": float(params["theta"] / b2.mV), "rho_0_hz": float(params["rho_0"] / b2.Hz),
            "delta_u_mv": float(params["delta_u"] / b2.mV), "t_ref_ms": _ms(params["t_ref"]),
            "tau_rise_e_ms": _ms(params["tau_rise_e"]), "tau_decay_e_ms": _ms(params["tau_decay_e"]),
            "tau_rise_i_ms": _ms(params["tau_rise_i"]), "tau_decay_i_ms": _ms(params["tau_decay_i"]),
            "tau_m_ms": _ms(params["tau_decay_e"]),
            "i_in": conn["in"][0], "j_in": conn["in"][1], "w_in_mv": w_in,
            "i_ee": conn["ee"][0], "j_ee": conn["ee"][1], "w_ee_mv": w_ee,
            "m_A": np.asarray(arrays["m_A"], float), "m_B": np.asarray(arrays["m_B"], float),
            "m_C": np.asarray(arrays["m_C"], float),
            "rate_noise_hz": float(config.inputs["rate_noise"]),
            "rate_pattern_hz": float(config.inputs["rate_pattern"]),
            "protocol": {**ap.POKORNY2020_PROTOCOL, **config.protocol}}
    for pathway in ("ei", "ie", "ii"):
        spec[f"i_{pathway}"], spec[f"j_{pathway}"] = conn[pathway]
        spec[f"w_{pathway}_mv"] = np.full(len(conn[pathway][0]), float(net[f"w_{pathway}"]))
    return spec


def test_block(spec, n_test, seed, lead_s=0.5):
    """A test block and its input spike trains, drawn with numpy from ``seed``.

    Every pattern of :data:`~brian2learn.tasks.assembly_patterns.TEST_PATTERNS` is shown ``n_test`` times
    in random order for the protocol's ``pattern_duration``, after ``lead_s`` of background and with gaps
    drawn uniformly from its ``test_gap_range``. A channel fires at the pattern rate while a pattern it
    belongs to is shown (both members of a combination), else at the noise rate: a Bernoulli draw with
    probability ``rate dt`` per step from the second step on.

    Returns
    -------
    dict
        ``onsets`` ``{pattern: onset times (s)}``, ``duration_s``, ``channels`` and ``times_s`` (the input
        spikes, sorted by time).
    """
    if int(n_test) < 2:
        raise ValueError(f"'n_test' must be at least 2 (the membership test pairs presentations), got {n_test!r}")
    rng = np.random.default_rng([int(seed), 4099])
    protocol = spec["protocol"]
    duration_pattern = float(protocol["pattern_duration"])
    low, high = protocol["test_gap_range"]
    order = rng.permutation(np.repeat(np.arange(len(ap.TEST_PATTERNS)), int(n_test)))
    gaps = rng.uniform(low, high, size=len(order))
    onsets_all = lead_s + np.cumsum(np.r_[0.0, (duration_pattern + gaps)[:-1]])
    dt = spec["dt_ms"] / 1000.0
    onsets_all = np.round(onsets_all / dt) * dt  # on the step grid
    duration = float(np.round((onsets_all[-1] + duration_pattern + gaps[-1]) / dt) * dt)
    n_steps = int(round(duration / dt))
    membership = np.stack([spec["m_A"], spec["m_B"], spec["m_C"]])  # (3, channels)
    active = np.zeros((n_steps, len(ap.PATTERNS)))
    for index, onset in zip(order, onsets_all):
        start = int(round(onset / dt))
        for part in ap.TEST_PATTERNS[index].split("+"):
            active[start:start + int(round(duration_pattern / dt)), ap.PATTERNS.index(part)] = 1.0
    drive = np.clip(active @ membership, 0.0, 1.0)  # (steps, channels)
    rates = spec["rate_noise_hz"] + (spec["rate_pattern_hz"] - spec["rate_noise_hz"]) * drive
    fired = rng.random(rates.shape) < rates * dt
    fired[0] = False  # NEST's generators need times after 0
    steps, channels = np.nonzero(fired)
    return {"onsets": {name: onsets_all[order == k] for k, name in enumerate(ap.TEST_PATTERNS)},
            "duration_s": duration, "channels": channels, "times_s": steps * dt}


def run_in_brian2(spec, block, seed):
    """The frozen network on a :func:`test_block` (runtime device); ``{"exc": (times_s, neurons), "inh": ...}``."""
    dt = spec["dt_ms"] * b2.ms
    b2.set_device("runtime")
    b2.start_scope()
    b2.seed(int(seed))
    inputs = b2.SpikeGeneratorGroup(spec["n_in"], block["channels"], block["times_s"] * b2.second, dt=dt)
    exc = sn.stochastic_group(spec["n_exc"], params={"theta": spec["theta_exc_mv"] * b2.mV}, dt=dt)
    inh = sn.stochastic_group(spec["n_inh"], params={"theta": spec["theta_inh_mv"] * b2.mV}, dt=dt)
    exc.b = spec["b_exc_mv"] * b2.mV
    inh.b = spec["b_inh_mv"] * b2.mV
    groups = {"in": inputs, "exc": exc, "inh": inh}
    synapses = []
    for pathway, (pre, post, sign) in nest_assemblies.PATHWAYS.items():
        if len(spec[f"i_{pathway}"]) == 0:
            continue
        effect = sn.exc_effect("w*mV") if sign > 0 else sn.inh_effect("w*mV")
        syn = b2.Synapses(groups[pre], groups[post], "w : 1 (constant)", on_pre=effect, dt=dt)
        syn.connect(i=np.asarray(spec[f"i_{pathway}"]), j=np.asarray(spec[f"j_{pathway}"]))
        syn.w = spec[f"w_{pathway}_mv"]
        synapses.append(syn)
    monitors = {name: b2.SpikeMonitor(groups[name]) for name in ("exc", "inh")}
    network = b2.Network(inputs, exc, inh, *synapses, *monitors.values())
    network.run(block["duration_s"] * b2.second, namespace={})
    return {name: (np.asarray(m.t / b2.second), np.asarray(m.i[:], dtype=np.int64)) for name, m in monitors.items()}


def run_in_nest(spec, block, seed, threads=1):
    """The network in NEST (:mod:`~brian2learn.export.nest_assemblies`) on a :func:`test_block`."""
    from brian2learn.export.nest import import_nest

    nest = import_nest()
    dt = spec["dt_ms"]
    times_ms = np.rint(block["times_s"] * 1000.0 / dt) * dt
    per_channel = [times_ms[block["channels"] == c] for c in range(spec["n_in"])]
    return nest_assemblies.run(nest, spec, per_channel, block["duration_s"] * 1000.0, seed, threads=threads)


def _jaccard(a, b):
    a, b = set(np.asarray(a).tolist()), set(np.asarray(b).tolist())
    return len(a & b) / len(a | b) if a | b else 1.0


def block_measures(spikes, block, spec):
    """Assemblies of one run and its rates: ``(assemblies, {measure: value})``.

    Measures: ``rate_exc_hz`` and ``rate_inh_hz`` (mean rates over the block), ``size_P`` (members of each
    pattern's assembly) and ``rate_P_members_hz`` (their mean rate in the response window to P).
    """
    t, i = spikes["exc"]
    n_exc = spec["n_exc"]
    assemblies = asm.assembly_members(t, i, block["onsets"], n_exc)
    measures = {"rate_exc_hz": len(t) / (n_exc * block["duration_s"]),
                "rate_inh_hz": len(spikes["inh"][0]) / (spec["n_inh"] * block["duration_s"])}
    for name, members in assemblies.items():
        measures[f"size_{name}"] = len(members)
        resp, _ = asm.response_rates(t, i, block["onsets"][name], n_exc)
        measures[f"rate_{name}_members_hz"] = float(resp[:, members].mean()) if len(members) else 0.0
    return assemblies, measures


def compare_with_nest(spec, seeds, n_test=20, threads=1, progress=None):
    """brian2learn and NEST on the same test blocks, one per seed; one row per seed and simulator.

    For each seed a :func:`test_block` is drawn; brian2learn runs it twice (network noise seeds ``seed``
    and ``seed + 10**6``: the spread of brian2learn against itself), NEST once (``rng_seed = seed``).
    Each row holds :func:`block_measures` and, per pattern, ``jaccard_P``: the overlap of the row's
    assembly with that of brian2learn's first run on the same block (brian2learn's second run: its own
    spread; NEST: the export's agreement). ``simulator`` is ``brian2learn``, ``brian2learn (other noise)``
    or ``nest``; ``wall_s`` the time of the run.
    """
    rows = []
    for k, seed in enumerate(seeds):
        block = test_block(spec, n_test, seed)
        reference = None
        for simulator in ("brian2learn", "brian2learn (other noise)", "nest"):
            start = time.perf_counter()
            if simulator == "nest":
                spikes = run_in_nest(spec, block, seed, threads=threads)
            else:
                spikes = run_in_brian2(spec, block, seed if simulator == "brian2learn" else seed + 10 ** 6)
            wall = time.perf_counter() - start
            assemblies, measures = block_measures(spikes, block, spec)
            reference = assemblies if reference is None else reference
            rows.append({"seed": int(seed), "simulator": simulator, **measures,
                         **{f"jaccard_{name}": _jaccard(assemblies[name], reference[name]) for name in assemblies},
                         "wall_s": wall})
        if progress is not None:
            progress(k + 1, len(seeds))
    return pd.DataFrame(rows)


#: Entries of a spec that the NEST side (:mod:`~brian2learn.export.nest_assemblies`) reads.
NEST_SPEC_KEYS = ("dt_ms", "n_exc", "n_inh", "n_in", "b_exc_mv", "b_inh_mv", "theta_exc_mv", "theta_inh_mv",
                  "rho_0_hz", "delta_u_mv", "t_ref_ms", "tau_rise_e_ms", "tau_decay_e_ms", "tau_rise_i_ms",
                  "tau_decay_i_ms", "tau_m_ms",
                  *(f"{kind}_{pathway}{unit}" for pathway in nest_assemblies.PATHWAYS
                    for kind, unit in (("i", ""), ("j", ""), ("w", "_mv"))))

_SCRIPT_MAIN = '''


def main(argv=None):
    parser = argparse.ArgumentParser(description="Run the exported brian2learn assembly network in NEST 3.10.")
    parser.add_argument("--threads", type=int, default=1, help="NEST threads (local_num_threads)")
    parser.add_argument("--seed", type=int, default=1, help="NEST's rng_seed")
    parser.add_argument("--out", default=None, help="where to save NEST's spikes (.npz)")
    args = parser.parse_args(argv)
    import nest

    spec, arrays = load()
    dt = spec["dt_ms"]
    times = np.rint(arrays["input_times_s"] * 1000.0 / dt) * dt
    per_channel = [times[arrays["input_channels"] == c] for c in range(int(spec["n_in"]))]
    duration_s = float(arrays["duration_s"])
    spikes = run(nest, spec, per_channel, duration_s * 1000.0, args.seed, threads=args.threads)
    rate_exc = len(spikes["exc"][0]) / (spec["n_exc"] * duration_s)
    rate_inh = len(spikes["inh"][0]) / (spec["n_inh"] * duration_s)
    print(f"{{duration_s:.1f}} s test block: E {{rate_exc:.3f}} Hz, I {{rate_inh:.3f}} Hz in NEST; brian2learn on the "
          f"same input: E {{float(arrays['brian2learn_rate_exc_hz']):.3f}} Hz, "
          f"I {{float(arrays['brian2learn_rate_inh_hz']):.3f}} Hz (statistics differ by noise and the PSP shape)")
    out = args.out or os.path.splitext(DATA)[0] + "_nest_results.npz"
    np.savez(out, exc_times_s=spikes["exc"][0], exc_neurons=spikes["exc"][1], inh_times_s=spikes["inh"][0],
             inh_neurons=spikes["inh"][1])
    print(f"results: {{out}}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
'''


def write_nest_script(path, spec, block, brian2learn_spikes, source="an assembly network trained with brian2learn"):
    """Write a NEST script ``path`` (``.py``, numpy and NEST 3.10 only) and its side file (``.npz``).

    The side file holds the network (:data:`NEST_SPEC_KEYS` of ``spec``), the test block's input spikes
    and onsets and brian2learn's rates on it; the script runs the block in NEST, prints both simulators'
    rates and saves NEST's spikes. Returns ``(script path, data path)``.
    """
    from brian2learn.export.nest import write_self_contained_script

    arrays = {f"spec_{key}": np.asarray(spec[key]) for key in NEST_SPEC_KEYS}
    duration = float(block["duration_s"])
    arrays.update(input_channels=np.asarray(block["channels"], dtype=np.int64),
                  input_times_s=np.asarray(block["times_s"], dtype=float), duration_s=np.asarray(duration),
                  brian2learn_rate_exc_hz=np.asarray(len(brian2learn_spikes["exc"][0]) / (spec["n_exc"] * duration)),
                  brian2learn_rate_inh_hz=np.asarray(len(brian2learn_spikes["inh"][0]) / (spec["n_inh"] * duration)))
    for name, onsets in block["onsets"].items():
        arrays[f"onsets_{name.replace('+', '_')}"] = np.asarray(onsets)
    return write_self_contained_script(path, nest_assemblies, _SCRIPT_MAIN, arrays, source,
                                       "The network, a test block's input spikes and brian2learn's rates on it",
                                       "[--threads N] [--seed S] [--out RESULTS.npz]")
