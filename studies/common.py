"""Helpers shared by the studies: run directories, summaries, figures, one-line errors.

Progress is reported by the one reporter of the training floor (:mod:`brian2learn.training.progress`).
"""

import argparse
import json
import os
import sys

from brian2learn.simulation.files import quantity_text, replace_atomically, save_parameters
from brian2learn.studies.options import EXECUTION_OPTIONS


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line and exit with status 2."""

    def error(self, message):
        print(f"brian2learn: error: {message}", file=sys.stderr)
        raise SystemExit(2)


class StudyError(RuntimeError):
    """A study could not run or finish; the message is shown to the user in one line."""


def write_summary(run_dir, summary, options=None, name="summary.json"):
    """Write ``summary.json`` (or ``name``) atomically (NaN and infinity become null, Quantities text) and return
    its path.

    With the study's ``options``, the summary also says whether its reference numbers are comparable
    (``reference_comparable``: the full protocol with default options, :meth:`StudyOptions.reference_comparable`)
    and, when they are not, why (``reference_note``).
    """
    path = os.path.join(run_dir, name)
    if options is not None:
        comparable = options.reference_comparable()
        summary = dict(summary, reference_comparable=comparable)
        if not comparable:
            changed = options.changed(ignore=EXECUTION_OPTIONS)
            why = "quick mode" if options.quick else ""
            if changed:
                why += (" and " if why else "") + "options changed from the published protocol (" + ", ".join(
                    changed) + ")"
            summary["reference_note"] = (f"{why}: the reference numbers in this summary belong to the full protocol "
                                         f"with default options; do not compare them with this run's numbers")
    text = json.dumps(quantity_text(summary, non_finite_to_none=True), indent=2, sort_keys=False) + "\n"
    with replace_atomically(path) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path


def save_figure(fig, run_dir, name):
    """Save ``fig`` as ``run_dir/name`` (PNG, 110 dpi), close it, and return ``name``."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    with replace_atomically(os.path.join(run_dir, name)) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return name


def save_network(run_dir, method, arrays, study, options, model, **details):
    """Save a trained network as ``network_METHOD.npz`` in ``run_dir`` and return the file name.

    ``arrays`` are its named trained parameters (``w_in``, ``w_rec``, ...); the metadata holds the
    study, the method, the options (:meth:`StudyOptions.as_dict`) and ``model``, the parameters that
    rebuild it (Quantities as text), plus ``details``. Read it back with
    :func:`~brian2learn.simulation.files.load_parameters` or ``brian2learn.load_run``.
    """
    name = f"network_{method}.npz"
    save_parameters(os.path.join(run_dir, name), arrays, study=study, method=method, options=options.as_dict(),
                    model=model, **details)
    return name



def saved_network_name(run, method=None):
    """The name of a network saved in ``run`` (``network_NAME.npz``): ``method``, checked, or the first saved."""
    saved = [name[len("network_"):-len(".npz")] for name in run.summary.get("networks") or []]
    if not saved:
        raise ValueError(f"'{run.path}' holds no saved network (a run interrupted before any network was saved?)")
    method = saved[0] if method is None else method
    if method not in saved or f"network_{method}" not in run.parameters:
        raise ValueError(f"'{run.path}' has no network {method!r}; saved: {', '.join(saved)}")
    return method


def export_eprop_to_nest(run, out, trials, method=None, check=False):
    """Write the NEST script of an e-prop network saved in ``run`` (a :func:`~brian2learn.studies.runs.load_run`).

    ``trials`` (trials, n_steps, n_in) are the input spikes the script runs; brian2learn's readout and
    spikes on them are computed here and stored with it. ``method`` picks the network (default: the
    first the run saved). With ``check`` the network also runs in NEST here. Returns the lines to print.
    """
    from brian2learn.export import nest as nest_export
    from brian2learn.plasticity.eprop import EpropConfig
    from brian2learn.simulation.files import restore_quantities
    from brian2learn.training.eprop import record_trials

    nest_export.script_paths(out)  # a bad --out is refused before anything runs
    method = saved_network_name(run, method)
    arrays, metadata = run.parameters[f"network_{method}"]
    config = EpropConfig(**restore_quantities(metadata["model"]))
    spec = nest_export.eprop_spec(config, arrays)
    device = (run.summary.get("options") or {}).get("device", "cpp_standalone")  # the device the run trained on
    expected = record_trials(config, arrays, trials, device=device)
    source = f"the {method} network of the {run.study} run {run.path}"
    script, data = nest_export.write_nest_script(out, spec, trials, expected, source=source)
    lines = [f"script: {script}", f"weights and trials: {data}"]
    if check:
        comparison = nest_export.compare_outputs(expected, nest_export.run_in_nest(spec, trials))
        lines.append(f"NEST vs brian2learn on {len(trials)} trials: readout largest relative difference "
                     f"{comparison['readout_max_relative_difference']:.3g}, spikes "
                     f"{'identical' if comparison['same_spikes'] else 'DIFFERENT'} "
                     f"({comparison['spikes']} in brian2learn, {comparison['spikes_nest']} in NEST)")
    return lines


def jax_available():
    """Whether JAX (the optional extra ``bptt``) can be imported: the studies' BPTT rows need it."""
    try:
        import jax  # noqa: F401
    except ImportError:
        return False
    return True
