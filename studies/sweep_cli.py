"""Command line of sweeps (:mod:`brian2learn.studies.sweep`)::

    brian2learn sweep STUDY --param NAME=V1,V2,... [--param ...] [--seeds N]
                      [--scheduler ADDRESS] [--workers K] [--out DIR] [--retries R]

runs ``STUDY`` over the Cartesian product of the ``--param`` values times seeds 1..N, on a local
Dask cluster (one worker process per core, or ``--workers K``) or on the cluster of a running
``dask scheduler`` at ``ADDRESS``. ``NAME`` is one of the study's own options (``trials`` or
``--trials``); a parameter with one value fixes that option for every point; flags take
``true``/``false`` (``--param quick=true``). ``python -m brian2learn.studies.sweep_cli`` is
the same command.

Exit status: 0 when every point completed, 1 when some failed (see the ``error`` column of
``sweep.parquet``), 2 for bad input (one line on stderr), 130 when interrupted.
"""

import argparse
import sys

from brian2learn.studies.common import OneLineParser

DESCRIPTION = "run a study over a grid of parameters and seeds on Dask (local cores or a cluster)"


def parse_params(texts):
    """``['trials=20,40', 'quick=true']`` -> ``{'trials': ['20', '40'], 'quick': ['true']}``.

    Raises ``ValueError`` naming the malformed ``--param`` and the form it must have.
    """
    grid = {}
    for text in texts or ():
        name, sep, values = str(text).partition("=")
        name = name.strip()
        items = [item.strip() for item in values.split(",")]
        if not sep or not name or not values.strip() or any(item == "" for item in items):
            raise ValueError(f"malformed '--param {text}': expected NAME=VALUE or NAME=VALUE1,VALUE2,... "
                             "(no empty values)")
        key = name.lstrip("-").replace("-", "_")
        if key in {k.lstrip("-").replace("-", "_") for k in grid}:
            raise ValueError(f"'--param {name}' is given twice; list all its values in one --param")
        grid[name] = items
    return grid


def add_sweep_command(subparsers):
    """Add the ``sweep`` command to the ``subparsers`` of the ``brian2learn`` parser; return its parser."""
    parser = subparsers.add_parser("sweep", help=DESCRIPTION, description=DESCRIPTION)
    add_arguments(parser)
    return parser


def add_arguments(parser):
    parser.add_argument("study", metavar="STUDY", help="name of the study (see 'brian2learn list')")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=V1,V2,...",
                        help="an option of the study and its values (repeat for a grid); one value fixes the "
                             "option; flags take true/false")
    parser.add_argument("--seeds", type=int, default=1, metavar="N", help="seeds 1..N of every grid point (default 1)")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="address of a running dask scheduler (tcp://host:8786); default: a local cluster")
    parser.add_argument("--workers", type=int, default=None, metavar="K",
                        help="local cluster: K worker processes (default one per core); with --scheduler: wait "
                             "for K workers")
    parser.add_argument("--out", default=None, metavar="DIR", help="sweep directory (default runs/sweep-STUDY)")
    parser.add_argument("--retries", type=int, default=1, metavar="R",
                        help="extra attempts of a failed point (default 1)")


def run_sweep_command(args):
    """Run the sweep of parsed ``args``; return the exit status (errors: one line on stderr, 2)."""
    try:
        from brian2learn.studies.sweep import run_sweep

        grid = parse_params(args.param)
        out = args.out or f"runs/sweep-{args.study}"
        table = run_sweep(args.study, grid, args.seeds, out, scheduler=args.scheduler, workers=args.workers,
                          retries=args.retries)
    except KeyboardInterrupt:
        print("brian2learn: interrupted", file=sys.stderr)
        return 130
    except (ValueError, TypeError, RuntimeError, OSError, ImportError) as error:
        message = " ".join(str(error).split())
        print(f"brian2learn: error: {message}", file=sys.stderr)
        return 2
    failed = table.attrs.get("failed", 0)
    if failed:
        print(f"brian2learn: {failed} of {len(table)} points failed; see the 'error' column of "
              f"{out}/sweep.parquet", file=sys.stderr)
        return 1
    return 0


def main(argv=None):
    """``python -m brian2learn.studies.sweep_cli STUDY [options]``."""
    parser = OneLineParser(prog="python -m brian2learn.studies.sweep_cli", description=DESCRIPTION,
                           formatter_class=argparse.HelpFormatter)
    add_arguments(parser)
    return run_sweep_command(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
