"""Command line: ``brian2learn list``, ``brian2learn run NAME [options]`` and ``brian2learn sweep NAME ...``.

Errors are reported in one line on stderr, with exit status 2 and no traceback.
"""

import sys

from brian2learn.studies import STUDIES, load_study
from brian2learn.studies.common import OneLineParser
from brian2learn.studies.sweep_cli import add_sweep_command, run_sweep_command


def build_parser():
    parser = OneLineParser(prog="brian2learn", description="Learning in recurrent spiking networks with Brian2.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    commands.add_parser("list", help="list the studies")
    run = commands.add_parser("run", help="run a study")
    studies = run.add_subparsers(dest="study", required=True, parser_class=OneLineParser,
                                 metavar="NAME", title="studies")
    for name in STUDIES:
        module = load_study(name)
        sub = studies.add_parser(name, help=module.DESCRIPTION, description=module.DESCRIPTION)
        module.add_arguments(sub)
    add_sweep_command(commands)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "list":
        for name in STUDIES:
            print(f"{name:20s} {load_study(name).DESCRIPTION}")
        return 0
    if args.command == "sweep":
        return run_sweep_command(args)
    return run_study(load_study(args.study), args)


def run_study(module, args):
    """Run a study module with parsed ``args``; errors become one line on stderr and status 2."""
    try:
        module.run(args)
    except KeyboardInterrupt:
        print("brian2learn: interrupted", file=sys.stderr)
        return 130
    except (ValueError, TypeError, RuntimeError, OSError) as error:
        message = " ".join(str(error).split())
        print(f"brian2learn: error: {message}", file=sys.stderr)
        return 2
    return 0


def study_main(module, argv=None):
    """``python -m brian2learn.studies.NAME [options]``: parse ``argv`` for ``module`` and run it."""
    parser = OneLineParser(prog=f"python -m {module.__name__}", description=module.DESCRIPTION)
    module.add_arguments(parser)
    return run_study(module, parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
