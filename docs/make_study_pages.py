"""Write docs/studies/NAME.md, one page per study: what it reproduces, its options, what a run writes.

Usage::

    python docs/make_study_pages.py RUNS_DIR [NAME ...]

``RUNS_DIR`` holds one finished run per study in ``RUNS_DIR/NAME`` (e.g. the ``--quick --seed 1`` runs);
the pages list the options from each study's ``Options`` (flag, default, help), the module's docstring
(the protocol and its measured reference numbers), and from the run: every Parquet table with its
columns and dtypes (read in the current table convention), the trained networks with their arrays, the
figures, and the summary's top-level keys. A study without a run gets the options and the docstring only.
With study names after ``RUNS_DIR``, only their pages are written.
"""

import dataclasses
import inspect
import os
import sys

from brian2learn.studies import REGISTRY, load_study
from brian2learn.studies.options import flag_of
from brian2learn.studies.runs import load_run

HERE = os.path.dirname(os.path.abspath(__file__))


def _default(field):
    value = field.default if field.default is not dataclasses.MISSING else field.default_factory()
    if isinstance(value, tuple):
        return " ".join(map(str, value)) or "(none)"
    return "off" if value is False else ("(not set)" if value is None else str(value))


def options_table(module):
    rows = ["| option | default | meaning |", "|---|---|---|"]
    for field in module.Options.cli_fields():
        # argparse's help text writes a per cent sign as %%
        meaning = " ".join(field.metadata.get("help", "").split()).replace("%%", "%").replace("|", "\\|")
        rows.append(f"| `{flag_of(field)}` | {_default(field)} | {meaning} |")
    return "\n".join(rows)


def run_section(run):
    seeds = run.summary.get("seeds") or [(run.summary.get("options") or {}).get("seed", "?")]
    seeds = seeds if isinstance(seeds, list) else [seeds]
    lines = [f"Read from a `{run.summary.get('mode', '?')}` run (seed{'s' * (len(seeds) > 1)} "
             f"{', '.join(map(str, seeds))}), status `{run.status}`.", "",
             "**Tables** (Parquet; units in the column names, indices from 0):", ""]
    for name, table in sorted(run.tables.items()):
        columns = ", ".join(f"`{column}` ({table[column].dtype})" for column in table.columns)
        lines.append(f"- `{name}.parquet` ({len(table)} rows): {columns}")
    if run.parameters:
        lines += ["", "**Trained networks** (`.npz`, read with `brian2learn.load_run` or "
                  "`brian2learn.simulation.files.load_parameters`):", ""]
        for name, (arrays, meta) in sorted(run.parameters.items()):
            shapes = ", ".join(f"`{key}` {tuple(value.shape)}" for key, value in arrays.items())
            what = f" ({meta['shape']})" if "shape" in meta else ""
            lines.append(f"- `{name}.npz`: {shapes}{what}")
    lines += ["", "**Figures**: " + ", ".join(f"`{name}`" for name in run.figures), "",
              "**summary.json** top-level keys: " + ", ".join(f"`{key}`" for key in run.summary)]
    return "\n".join(lines)


def page(name, runs_dir):
    module = load_study(name)
    doc = inspect.getdoc(module) or ""
    parts = [f"# {name}", "", f"*{REGISTRY[name][1]}*", "", f"`brian2learn run {name} [options]` "
             f"(module `{module.__name__}`).", "", "## Protocol and reference numbers", "", doc, "",
             "## Options", "", options_table(module), "", "## What a run writes", ""]
    run_dir = os.path.join(runs_dir, name) if runs_dir else None
    if run_dir and os.path.isfile(os.path.join(run_dir, "summary.json")):
        parts.append(run_section(load_run(run_dir)))
    else:
        parts.append("(no run was at hand when this page was written)")
    return "\n".join(parts) + "\n"


def main(argv):
    runs_dir = argv[0] if argv else None
    names = argv[1:] or list(REGISTRY)
    unknown = [name for name in names if name not in REGISTRY]
    if unknown:
        print(f"unknown studies: {', '.join(unknown)}; known: {', '.join(REGISTRY)}", file=sys.stderr)
        return 2
    out_dir = os.path.join(HERE, "studies")
    os.makedirs(out_dir, exist_ok=True)
    for name in names:
        with open(os.path.join(out_dir, f"{name}.md"), "w", encoding="utf-8") as handle:
            handle.write(page(name, runs_dir))
        print(os.path.join(out_dir, f"{name}.md"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
