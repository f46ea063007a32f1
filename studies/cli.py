"""Command line: ``brian2learn list``, ``run NAME [options]``, ``sweep NAME ...``, ``plot RUN_DIR`` and ``cache``.

The command line only maps flags to a study's ``Options`` (:mod:`brian2learn.studies.options`);
``list`` and ``--help`` of the commands import no study, ``run NAME`` imports that study alone.
Errors are reported in one line on stderr, with exit status 2 and no traceback.
"""

import argparse
import os
import sys

from brian2learn.simulation.interrupt import interruptible
from brian2learn.studies import REGISTRY, describe, load_study
from brian2learn.studies.arena_cli import add_arena_command, run_arena_command
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
    cache = commands.add_parser("cache", help="show or empty the cache of compiled C++ builds",
                                description="Compiled cpp_standalone projects are kept in a cache shared by all "
                                "runs (BRIAN2LEARN_BUILD_CACHE sets where; 'off' disables it).")
    cache_commands = cache.add_subparsers(dest="cache_command", required=True, parser_class=OneLineParser)
    cache_commands.add_parser("list", help="list the cached builds")
    clear = cache_commands.add_parser("clear", help="delete the cached builds not in use")
    clear.add_argument("--older-than", metavar="DAYS", type=_days, default=None,
                       help="only builds unused for this many days")
    export = commands.add_parser("export", help="export a run's trained network to another simulator",
                                 description="Write a self-contained NEST 3.10 script (and its .npz side file with "
                                 "the weights, trials and brian2learn's results) for a trained network of "
                                 "eprop-pattern, eprop-evidence or stdp-assemblies.")
    export.add_argument("run_dir", metavar="RUN_DIR", help="the run directory (holds summary.json)")
    export.add_argument("--to", choices=("nest",), required=True, help="the simulator (nest: NEST 3.10)")
    export.add_argument("--out", metavar="FILE.py", required=True, help="the script to write (FILE.npz beside it)")
    export.add_argument("--method", default=None, help="which trained network (default: the first the run saved)")
    export.add_argument("--trials", type=_positive, default=2, metavar="N",
                        help="trials in the script (stdp-assemblies: presentations of each test pattern; default 2)")
    export.add_argument("--check", action="store_true", help="also run the script's network in NEST here and "
                        "compare its readout and spikes with brian2learn's")
    add_sweep_command(commands)
    add_arena_command(commands)
    return parser


def _positive(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}")
    return value


def _days(text):
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number of days >= 0, got {text!r}")
    return value


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
    if args.command == "arena":
        return run_arena_command(args)
    if args.command == "plot":
        return plot_command(args.run_dir, args.out)
    if args.command == "export":
        return export_command(args.run_dir, args.out, method=args.method, n_trials=args.trials, check=args.check)
    if args.command == "cache":
        return cache_command(args.cache_command, args.older_than if args.cache_command == "clear" else None)
    module = load_study(args.study)
    return run_study(module, study_parser(module).parse_args(args.study_args))


#: Studies whose figures ``brian2learn plot`` redraws from their tables (their modules define ``plot_run``).
PLOTTABLE = ("eprop-pattern", "eprop-evidence", "rflo", "perturbation-linear", "perturbation-reservoir",
             "perturbation-spiking", "stdp-song", "stdp-assemblies", "ttfs-yinyang",
             "ttfs-robustness", "energy-automata", "contrastive-xor", "contrastive-digits", "srnn-ecg",
             "srnn-sequential-digits")


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


#: Studies whose trained networks ``brian2learn export`` takes to NEST (their modules define ``export_to_nest``).
EXPORTABLE = ("eprop-pattern", "eprop-evidence", "stdp-assemblies")


def export_command(run_dir, out, method=None, n_trials=2, check=False):
    """``brian2learn export RUN_DIR --to nest --out FILE.py``: one-line errors, exit status 2."""
    from brian2learn.studies.runs import load_run

    try:
        run = load_run(run_dir)
        if run.study not in EXPORTABLE:
            raise ValueError(f"'{run_dir}' holds a run of {run.study!r}, whose networks cannot be exported to NEST "
                             f"(exportable: {', '.join(EXPORTABLE)})")
        module = load_study(run.study)
        written = module.export_to_nest(run, out, method=method, n_trials=n_trials, check=check)
    except (ValueError, OSError, RuntimeError) as error:
        message = " ".join(str(error).split())
        print(f"brian2learn: error: {message}", file=sys.stderr)
        return 2
    for line in written:
        print(line)
    return 0


def cache_command(action, older_than_days=None):
    """``brian2learn cache list`` and ``brian2learn cache clear [--older-than DAYS]``."""
    from brian2learn.simulation.build_cache import CACHE_VARIABLE, BuildCache, cache_root

    try:
        root = cache_root()
    except ValueError as error:
        print(f"brian2learn: error: {error}", file=sys.stderr)
        return 2
    if root is None:
        print(f"the build cache is off ({CACHE_VARIABLE}=off)")
        return 0
    cache = BuildCache(root)
    if action == "clear":
        removed, in_use = cache.clear(older_than_days)
        kept = f"; kept {len(in_use)} in use by running processes" if in_use else ""
        print(f"removed {len(removed)} cached build{'s' * (len(removed) != 1)} from {root}{kept}")
        return 0
    entries = cache.entries()
    total = sum(entry["size_bytes"] for entry in entries) / 1e6
    print(f"build cache {root}: {len(entries)} build{'s' * (len(entries) != 1)}, {total:.1f} MB")
    if entries:
        print(f"{'key':12s}  {'model':28s} {'MB':>7s} {'compile s':>9s}  {'last used':24s} in use")
    for entry in entries:
        compile_seconds = entry["compile_seconds"]
        print(f"{entry['key'][:12]}  {str(entry['model'])[:28]:28s} {entry['size_bytes'] / 1e6:7.1f} "
              f"{compile_seconds if compile_seconds is not None else float('nan'):9.1f}  "
              f"{entry['last_used']:24s} {'yes' if entry['in_use'] else 'no'}")
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
