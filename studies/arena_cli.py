"""Command line of the learning-rule arena (:mod:`brian2learn.studies.arena`)::

    brian2learn arena [--quick] [--rules RULE ...] [--tasks TASK ...] [--seeds N] [--scheduler ADDRESS]
                      [--workers K] [--split test|validation] [--tune] [--bits B ...] [--bits-seeds K]
                      [--report] [--device ...]
                      [--register MODULE ...] [--out DIR]

``python -m brian2learn.studies.arena_cli`` is the same command. Building the parser imports neither the arena
nor its rules (``brian2learn list`` and ``--help`` stay fast); running it does.

Exit status: 0 when every cell completed, 1 when some failed (the ``error`` column of ``arena.parquet``), 2 for
bad input (one line on stderr), 130 when interrupted.
"""

import argparse
import os
import sys

from brian2learn.studies import arena_registry as registry
from brian2learn.studies.common import OneLineParser

DESCRIPTION = "every learning rule on common tasks: one grid of cells, one table (arena.parquet, arena.md)"


def add_arguments(parser):
    parser.add_argument("--quick", action="store_true", help="every cell at its task's quick size and budget")
    parser.add_argument("--rules", nargs="+", default=None, metavar="RULE", help="rules to run (default: all)")
    parser.add_argument("--tasks", nargs="+", default=None, metavar="TASK", help="tasks to run (default: all)")
    parser.add_argument("--seeds", type=int, default=registry.DEFAULT_SEEDS, metavar="N",
                        help=f"seeds 1..N of every cell (default {registry.DEFAULT_SEEDS})")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="address of a running dask scheduler (tcp://host:8786); default: a local cluster")
    parser.add_argument("--workers", type=int, default=None, metavar="K",
                        help="local cluster: K worker processes (default one per core)")
    parser.add_argument("--split", choices=registry.SPLITS, default="test",
                        help="score on the test split (default) or the validation split (for tuning)")
    parser.add_argument("--tune", action="store_true",
                        help="first choose every cell's learning-rate factor among "
                             f"{', '.join(f'{f:g}' for f in registry.TUNING['learning_rate_factors'])} on the "
                             f"{registry.TUNING['split']} split (seed {', '.join(map(str, registry.TUNING['seeds']))})")
    parser.add_argument("--bits", nargs="+", type=int, default=(), metavar="B",
                        help="the precision axis: also run every cell that has a discrete-weight form with its "
                             "weights held at signed B-bit levels (e.g. "
                             f"{' '.join(map(str, registry.PRECISION['bits']))})")
    parser.add_argument("--bits-seeds", type=int, default=None, metavar="K",
                        help="the precision axis runs the grid's first K seeds (default: all of them)")
    parser.add_argument("--report", action="store_true",
                        help="run nothing: write the table and figures from the cells of this grid finished so far "
                             "(a grid still running, or stopped midway)")
    parser.add_argument("--device", choices=registry.DEVICES, default="cpp_standalone", help="Brian2 device")
    parser.add_argument("--register", nargs="+", default=(), metavar="MODULE",
                        help="modules with more registered rules or tasks")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="arena directory (default runs/arena or runs/arena-quick)")


def add_arena_command(subparsers):
    """Add the ``arena`` command to the ``subparsers`` of the ``brian2learn`` parser; return its parser."""
    parser = subparsers.add_parser("arena", help=DESCRIPTION, description=DESCRIPTION)
    add_arguments(parser)
    return parser


def run_arena_command(args):
    """Run the grid of parsed ``args``; return the exit status (errors: one line on stderr, 2)."""
    try:
        if isinstance(args.seeds, bool) or args.seeds < 1:
            raise ValueError(f"'--seeds' must be a positive integer, got {args.seeds}")
        if args.workers is not None and args.workers < 1:
            raise ValueError(f"'--workers' must be a positive integer, got {args.workers}")
        if any(b < 2 for b in args.bits) or len(set(args.bits)) != len(args.bits):
            raise ValueError(f"'--bits' must be distinct integers >= 2, got {' '.join(map(str, args.bits))}")
        if args.bits_seeds is not None and not 1 <= args.bits_seeds <= args.seeds:
            raise ValueError(f"'--bits-seeds' must be an integer from 1 to --seeds ({args.seeds}), got "
                             f"{args.bits_seeds}")
        from brian2learn.studies.arena import run_arena

        out = args.out or ("runs/arena-quick" if args.quick else "runs/arena")
        table = run_arena(out, quick=args.quick, rules=args.rules, tasks=args.tasks, seeds=args.seeds,
                          scheduler=args.scheduler, workers=args.workers, split=args.split, device=args.device,
                          register=tuple(args.register), tune=args.tune, bits=tuple(args.bits),
                          bits_seeds=args.bits_seeds, report=args.report)
    except KeyboardInterrupt:
        print("brian2learn: interrupted", file=sys.stderr)
        return 130
    except (ValueError, TypeError, RuntimeError, OSError) as error:
        print(f"brian2learn: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    print(f"arena: {os.path.join(out, 'arena.md')}")
    if table.attrs.get("pending"):
        print(f"arena: a partial table: {table.attrs['pending']} runs of the grid are not finished", file=sys.stderr)
    failed = int((table["status"] != "completed").sum())
    if failed:
        print(f"brian2learn: {failed} of {len(table)} cells failed; see the 'error' column of {out}/arena.parquet",
              file=sys.stderr)
        return 1
    return 0


def main(argv=None):
    """``python -m brian2learn.studies.arena_cli [options]``."""
    parser = OneLineParser(prog="python -m brian2learn.studies.arena_cli", description=DESCRIPTION,
                           formatter_class=argparse.HelpFormatter)
    add_arguments(parser)
    return run_arena_command(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
