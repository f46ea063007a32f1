"""Command line: ``brian2learn list``, ``run NAME [options]``, ``sweep NAME ...`` and ``plot RUN_DIR``.

The command line only maps flags to a study's ``Options`` (:mod:`brian2learn.studies.options`);
``list`` and ``--help`` of the commands import no study, ``run NAME`` imports that study alone.
Errors are reported in one line on stderr, with exit status 2 and no traceback.
"""

import argparse
import os
import sys

from brian2learn.simulation.interrupt import interruptible
from brian2learn.studies import REGISTRY, describe, load_study
from brian2learn.studies.common import OneLineParser
from brian2learn.studies.sweep_cli import add_sweep_command, run_sweep_command


def version_text():
    """``brian2learn X (Brian2 Y, Python Z)``, read from the installed metadata (imports no simulator)."""
    import importlib.metadata
    import platform

    versions = {}
    for package in ("brian2learn", "brian2"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return (f"brian2learn {versions['brian2learn']} (Brian2 {versions['brian2']}, "
            f"Python {platform.python_version()})")


def build_parser():
    parser = OneLineParser(prog="brian2learn", description="Learning in recurrent spiking networks with Brian2.")
    parser.add_argument("--version", action="version", version=version_text())
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    commands.add_parser("list", help="list the studies")
    run = commands.add_parser("run", help="run a study", description="Run a study: brian2learn run NAME [options]; "
                              "'brian2learn run NAME --help' lists its options.")
    run.add_argument("study", metavar="NAME", choices=list(REGISTRY),
                     help="one of: " + ", ".join(REGISTRY))
    run.add_argument("study_args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    plot = commands.add_parser("plot", help="redraw a run's figures from its saved tables",
                               description="Redraw the figures of a finished run from its Parquet tables.")
    plot.add_argument("run_dir", metavar="RUN_DIR", help="the run directory (holds summary.json)")
    plot.add_argument("--out", metavar="DIR", default=None, help="where to write the figures (default RUN_DIR)")
    add_sweep_command(commands)
    return parser


def study_parser(module, prog=None):
    """The parser of one study's options (one-line errors, exit status 2)."""
    parser = OneLineParser(prog=prog or f"brian2learn run {module.NAME}", description=module.DESCRIPTION)
    module.Options.add_arguments(parser)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "list":
        for name in REGISTRY:
            print(f"{name:20s} {describe(name)}")
        return 0
    if args.command == "sweep":
        return run_sweep_command(args)
    if args.command == "plot":
        return plot_command(args.run_dir, args.out)
    module = load_study(args.study)
    return run_study(module, study_parser(module).parse_args(args.study_args))


#: Studies whose figures ``brian2learn plot`` redraws from their tables (their modules define ``plot_run``).
PLOTTABLE = ("eprop-pattern", "rflo", "perturbation-linear", "perturbation-reservoir", "stdp-song",
             "ttfs-robustness")


def plot_command(run_dir, out=None):
    """``brian2learn plot RUN_DIR``: redraw a run's figures with its study's ``plot_run``; one-line errors."""
    from brian2learn.studies.runs import load_run

    try:
        run = load_run(run_dir)
        if run.study not in REGISTRY:
            raise ValueError(f"'{run_dir}' was written by {run.study!r}, not a study of brian2learn "
                             f"({', '.join(REGISTRY)})")
        module = load_study(run.study)
        if not hasattr(module, "plot_run"):
            raise ValueError(f"{run.study} cannot redraw its figures from its tables yet "
                             f"(studies that can: {', '.join(PLOTTABLE)})")
        out_dir = out or run.path
        os.makedirs(out_dir, exist_ok=True)
        figures = module.plot_run(run, out_dir)
    except KeyError as error:
        print(f"brian2learn: error: '{run_dir}' lacks the table {error} that its figures need", file=sys.stderr)
        return 2
    except (ValueError, OSError) as error:
        message = " ".join(str(error).split())
        print(f"brian2learn: error: {message}", file=sys.stderr)
        return 2
    print("\n".join(os.path.join(out_dir, name) for name in figures))
    return 0


def run_study(module, args):
    """Run a study module with parsed ``args``; errors become one line on stderr and status 2.

    SIGINT and SIGTERM stop the run at once (:func:`~brian2learn.simulation.interrupt.interruptible`):
    one line on stderr naming the signal and the run directory, exit status 130 or 143.
    """
    try:
        with interruptible():
            module.run(module.Options.from_args(args))
    except KeyboardInterrupt as interruption:
        name = getattr(interruption, "signal_name", "SIGINT")
        where = getattr(interruption, "run_dir", None)
        kept = f"; what finished is in {where} (summary.json, status interrupted)" if where else ""
        print(f"brian2learn: interrupted by {name}{kept}", file=sys.stderr)
        return getattr(interruption, "exit_status", 130)
    except (ValueError, TypeError, RuntimeError, OSError) as error:
        message = " ".join(str(error).split())
        print(f"brian2learn: error: {message}", file=sys.stderr)
        return 2
    return 0


def study_main(module, argv=None):
    """``python -m brian2learn.studies.NAME [options]``: parse ``argv`` for ``module`` and run it."""
    return run_study(module, study_parser(module, prog=f"python -m {module.__name__}").parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
