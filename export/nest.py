"""Export trained e-prop networks to NEST 3.10, with the same readout and spikes.

brian2learn's e-prop network is the model of NEST 3.10's ``eprop_iaf_bsshslm_2020``,
``eprop_iaf_adapt_bsshslm_2020`` and ``eprop_readout_bsshslm_2020`` (the losses agree to 1e-7,
``tests/test_nest_fidelity.py``). This module turns a trained network into a plain description
(:func:`eprop_spec`), runs it in NEST (:func:`run_in_nest`, NEST imported only then), and writes a
self-contained NEST script with the weights and trials in a side file (:func:`write_nest_script`).
The NEST code itself is :mod:`brian2learn.export.nest_eprop`, which imports only numpy and NEST and
is copied into the script.

How the parameters map (brian2learn → NEST): ``dt`` → ``resolution``; ``tau_m``, ``t_ref``,
``tau_out`` → ``tau_m``, ``t_ref`` of the recurrent and readout models; ``v_th`` (volt) → ``V_th``
and the weights (volt) as plain numbers (``C_m = 1``, ``E_L = 0``: only their ratio matters);
``input_scale`` ``'1-alpha'`` / ``'1'`` → ``regular_spike_arrival`` ``False`` / ``True``; a neuron
with ``beta > 0`` → ``eprop_iaf_adapt_bsshslm_2020`` with ``adapt_beta = beta``, ``adapt_tau = tau_a``;
``gamma`` → ``surrogate_gradient_height = gamma / v_th``, ``surrogate_gradient_width = v_th``;
``loss`` ``'mse'`` / ``'softmax'`` → ``mean_squared_error`` / ``cross_entropy``. NEST's delays of one
step are taken up in the timing of the inputs and recordings (see ``nest_eprop``).
"""

import inspect
import os
import textwrap

import brian2 as b2
import numpy as np

from brian2learn.export import nest_eprop
from brian2learn.simulation.files import replace_atomically

__all__ = ["NotExportable", "eprop_spec", "run_in_nest", "compare_outputs", "script_paths", "write_nest_script",
           "import_nest"]


class NotExportable(ValueError):
    """A network or run that NEST's e-prop models cannot express."""


def _number(quantity, unit, name):
    try:
        value = float(quantity / unit)
    except (TypeError, b2.DimensionMismatchError) as error:
        raise NotExportable(f"'{name}' must be a quantity in {unit!r}, got {quantity!r}") from error
    if not np.isfinite(value):
        raise NotExportable(f"'{name}' must be finite, got {quantity!r}")
    return value


def eprop_spec(config, weights):
    """The plain description of a trained e-prop network that :mod:`nest_eprop` builds in NEST.

    Parameters
    ----------
    config : :class:`~brian2learn.plasticity.eprop.EpropConfig`
    weights : dict
        ``w_in`` (n_rec, n_in), ``w_rec`` (n_rec, n_rec), ``w_out`` (n_out, n_rec), numbers (volt for
        the first two).

    Raises
    ------
    NotExportable
        For what NEST's models cannot express (named), or weights of the wrong shape.
    """
    params = config.neuron_params
    dt_ms = _number(params["dt"], b2.ms, "dt")
    t_ref_ms = _number(params["t_ref"], b2.ms, "t_ref")
    if abs(t_ref_ms / dt_ms - round(t_ref_ms / dt_ms)) > 1e-9:
        raise NotExportable(f"'t_ref' = {t_ref_ms} ms is not a whole number of steps of {dt_ms} ms")
    scale = params.get("input_scale", "1-alpha")
    if scale not in ("1-alpha", "1"):
        raise NotExportable(f"'input_scale' = {scale!r} has no NEST counterpart; NEST has '1-alpha' "
                            "(regular_spike_arrival=False) and '1' (True)")
    beta = (np.full(config.n_rec, _number(params["beta"], b2.volt, "beta")) if config.beta is None
            else np.asarray(config.beta / b2.volt, dtype=float).reshape(-1))
    if beta.shape != (config.n_rec,) or np.any(beta < 0) or not np.all(np.isfinite(beta)):
        raise NotExportable(f"'beta' must be {config.n_rec} finite values >= 0 volt")
    shapes = {"w_in": (config.n_rec, config.n_in), "w_rec": (config.n_rec, config.n_rec),
              "w_out": (config.n_out, config.n_rec)}
    missing = sorted(set(shapes) - set(weights))
    if missing:
        raise NotExportable(f"the weights lack {missing}; a trained e-prop network has w_in, w_rec, w_out")
    arrays = {}
    for name, shape in shapes.items():
        value = np.asarray(weights[name] / b2.volt if isinstance(weights[name], b2.Quantity) else weights[name],
                           dtype=float)
        if value.shape != shape or not np.all(np.isfinite(value)):
            raise NotExportable(f"'{name}' must be {shape} finite numbers, got shape {value.shape}")
        arrays[name] = value
    return {
        "format": nest_eprop.SPEC_FORMAT, "dt_ms": dt_ms, "n_steps": int(config.n_steps), "n_in": int(config.n_in),
        "n_rec": int(config.n_rec), "n_out": int(config.n_out),
        "v_th": _number(params["v_th"], b2.volt, "v_th"), "tau_m_ms": _number(params["tau_m"], b2.ms, "tau_m"),
        "t_ref_ms": t_ref_ms, "tau_a_ms": _number(params["tau_a"], b2.ms, "tau_a"),
        "tau_out_ms": _number(params["tau_out"], b2.ms, "tau_out"), "gamma": float(params["gamma"]),
        "regular_spike_arrival": scale == "1", "f_target_hz": _number(config.f_target, b2.Hz, "f_target"),
        "loss": config.loss, "adapt_beta": beta, **arrays,
    }


def import_nest():
    """Import NEST 3.10 (quietly) or raise ``RuntimeError`` saying how to install it."""
    os.environ.setdefault("PYNEST_QUIET", "1")
    try:
        import nest
    except ImportError as error:
        raise RuntimeError("NEST is not installed; pip install nest-simulator (NEST 3.10), or "
                           "pip install -e '.[nest]'") from error
    nest_eprop.check_nest(nest)
    return nest


def run_in_nest(spec, inputs, threads=1):
    """Run the trials ``inputs`` (trials, n_steps, n_in) in NEST; ``(y, spikes)`` as :func:`record_trials`.

    Each trial runs in a fresh kernel with ``threads`` threads (``local_num_threads``).
    """
    return nest_eprop.run_trials(import_nest(), spec, inputs, threads=threads)


def compare_outputs(expected, actual):
    """How far two ``(y, spikes)`` results differ: the largest readout difference relative to the largest
    readout magnitude, and whether every trial has the same spikes (neuron and step)."""
    (y_a, spikes_a), (y_b, spikes_b) = expected, actual
    scale = max(float(np.max(np.abs(y_a))), 1e-300)
    same = len(spikes_a) == len(spikes_b) and all(
        np.array_equal(na, nb) and np.array_equal(sa, sb) for (na, sa), (nb, sb) in zip(spikes_a, spikes_b))
    return {"readout_max_relative_difference": float(np.max(np.abs(np.asarray(y_a) - np.asarray(y_b)))) / scale,
            "same_spikes": bool(same), "spikes": int(sum(len(n) for n, _ in spikes_a)),
            "spikes_nest": int(sum(len(n) for n, _ in spikes_b))}


def _flatten_spikes(spikes):
    trial = np.concatenate([np.full(len(n), k) for k, (n, _) in enumerate(spikes)]) if spikes else np.zeros(0)
    neurons = np.concatenate([n for n, _ in spikes]) if spikes else np.zeros(0)
    steps = np.concatenate([s for _, s in spikes]) if spikes else np.zeros(0)
    return trial.astype(np.int64), neurons.astype(np.int64), steps.astype(np.int64)


_SCRIPT_DATA = '''

# ---------------------------------------------------------------------------------------------------------
# The exported network: {source}
# ---------------------------------------------------------------------------------------------------------
DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), {data_name!r})


def load(path=DATA):
    """The network description (the ``spec_*`` entries) and everything else the side file holds."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {{name: data[name] for name in data.files}}
    spec = {{name[len("spec_"):]: (value.item() if value.ndim == 0 else value)
            for name, value in arrays.items() if name.startswith("spec_")}}
    return spec, arrays
'''

_SCRIPT_MAIN = '''


def main(argv=None):
    parser = argparse.ArgumentParser(description="Run the exported brian2learn e-prop network in NEST 3.10.")
    parser.add_argument("--threads", type=int, default=1, help="NEST threads (local_num_threads)")
    parser.add_argument("--out", default=None, help="where to save the NEST results (.npz)")
    args = parser.parse_args(argv)
    import nest

    spec, arrays = load()
    inputs = arrays["inputs"]
    y, spikes = run_trials(nest, spec, inputs, threads=args.threads)
    print(f"{{len(inputs)}} trials of {{spec['n_steps']}} steps: {{sum(len(n) for n, _ in spikes)}} recurrent spikes")
    rank, processes = nest.Rank(), nest.NumProcesses()
    if processes > 1:
        # Under MPI each process records its own neurons only (NaN elsewhere in y): save each
        # process's part; the comparison with brian2learn needs the parts merged.
        print(f"process {{rank}} of {{processes}}: saving this process's neurons; merge the parts to compare")
    elif "expected_y" in arrays:
        scale = max(float(np.max(np.abs(arrays["expected_y"]))), 1e-300)
        difference = float(np.max(np.abs(y - arrays["expected_y"]))) / scale
        same = all(np.array_equal(n, arrays["expected_neurons"][arrays["expected_trial"] == k]) and
                   np.array_equal(s, arrays["expected_steps"][arrays["expected_trial"] == k])
                   for k, (n, s) in enumerate(spikes))
        print(f"readout vs brian2learn: largest relative difference {{difference:.3g}}; "
              f"spikes {{'identical' if same else 'DIFFERENT'}}")
    out = args.out or os.path.splitext(DATA)[0] + "_nest_results.npz"
    if processes > 1:
        out = os.path.splitext(out)[0] + f".rank{{rank}}.npz"
    trial = np.concatenate([np.full(len(n), k) for k, (n, _) in enumerate(spikes)])
    np.savez(out, y=y, spike_trial=trial, spike_neurons=np.concatenate([n for n, _ in spikes]),
             spike_steps=np.concatenate([s for _, s in spikes]))
    print(f"results: {{out}}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
'''


def script_paths(path):
    """The script ``path`` (must end in ``.py``) and its side file (``.npz`` beside it)."""
    path = os.fspath(path)
    if not path.endswith(".py"):
        raise ValueError(f"'--out' must name a .py file, got {path!r}")
    return path, path[:-3] + ".npz"


def write_self_contained_script(path, module, main_code, arrays, source, contents, usage):
    """Write ``path`` (``.py``): the NEST code of ``module`` (numpy and NEST only), a ``load`` of the side file
    and ``main_code``; and the side file (``.npz`` beside it) with ``arrays``. Returns ``(script, data path)``.

    ``main_code`` is a template without fields (braces doubled, as the other parts); ``contents`` says what
    the side file holds and ``usage`` the script's options, for its docstring.
    """
    path, data_path = script_paths(path)
    header = textwrap.dedent(f'''\
        #!/usr/bin/env python3
        """{source}, exported by brian2learn for NEST {module.NEST_SERIES}.

        Needs numpy and NEST {module.NEST_SERIES} (pip install nest-simulator), not brian2learn. {contents} are
        in {os.path.basename(data_path)} beside this file. Run: python {os.path.basename(path)} {usage}
        """

        import argparse
        import os
        import sys

        ''')
    body = inspect.getsource(module).split("import numpy as np", 1)[1]
    code = (header + "import numpy as np" + body
            + _SCRIPT_DATA.format(source=source, data_name=os.path.basename(data_path)) + main_code.format())
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with replace_atomically(data_path) as temporary:
        np.savez(temporary, **arrays)
    with replace_atomically(path) as temporary:
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(code)
    return path, data_path


def write_nest_script(path, spec, inputs, expected=None, source="a network trained with brian2learn"):
    """Write a NEST script ``path`` (``.py``) and its side file (``.npz``: description, trials, expected results).

    The script needs numpy and NEST 3.10 only: ``python FILE.py [--threads N] [--out RESULTS.npz]``
    runs every trial, compares with brian2learn's results when ``expected`` (``(y, spikes)``) was
    given, and saves NEST's readout and spikes. Returns ``(script path, data path)``.
    """
    arrays = {f"spec_{name}": np.asarray(value) for name, value in spec.items()}
    arrays["inputs"] = np.asarray(inputs, dtype=np.float64)
    if expected is not None:
        y, spikes = expected
        arrays["expected_y"] = np.asarray(y, dtype=float)
        arrays["expected_trial"], arrays["expected_neurons"], arrays["expected_steps"] = _flatten_spikes(spikes)
    return write_self_contained_script(path, nest_eprop, _SCRIPT_MAIN, arrays, source,
                                       "The weights, the trials and brian2learn's readout and spikes on them",
                                       "[--threads N] [--out RESULTS.npz]")
