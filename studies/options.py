"""Options of a study as a dataclass: validated values, and the command line made from them.

A study's ``Options`` is a dataclass deriving from :class:`StudyOptions` (``quick``, ``seed``,
``out``) whose fields are declared with :func:`option`::

    @dataclasses.dataclass
    class Options(StudyOptions):
        device: str = option("cpp_standalone", choices=DEVICES, help="Brian2 device")
        iterations: int | None = option(None, minimum=1, metavar="N", help="override the number of iterations")

``Options(iterations=0)`` raises ``ValueError`` naming ``iterations`` and what is allowed, so a
Python user calls ``study.run(study.Options(quick=True))`` with the same checks as the command
line. :meth:`StudyOptions.add_arguments` writes the argparse options (``--iterations N``,
booleans as flags, sequences as ``nargs='+'``), :meth:`StudyOptions.from_args` reads them back, and
:meth:`StudyOptions.to_argv` writes a value as command-line tokens (the sweep's point records).
"""

import dataclasses
import types
import typing

import numpy as np

#: Options that change how or where a run is computed, not its protocol.
EXECUTION_OPTIONS = ("quick", "seed", "out", "overwrite", "resume", "device", "threads", "workers",
                     "iterations_per_run")

#: Largest seed a study accepts (NumPy's legacy seeds and Brian2's ``seed`` take 32-bit integers).
SEED_MAX = 2**32 - 1


def option(default, *, help="", choices=None, minimum=None, metavar=None, flag=None, parse=None, cli=True):
    """A field of an options dataclass.

    Parameters
    ----------
    default
        Default value (a list or tuple is copied for every instance).
    help : str
        Shown by ``--help``.
    choices : sequence or None
        Allowed values (of every element, for sequences).
    minimum : number or None
        Smallest allowed value (of every element, for sequences).
    metavar : str or None
    flag : str or None
        Command-line flag (default ``--`` and the name with ``-`` for ``_``).
    parse : callable or None
        Converts one command-line text to the value (default: the field's type).
    cli : bool
        Whether the command line shows the option.
    """
    metadata = {"help": help, "choices": tuple(choices) if choices is not None else None, "minimum": minimum,
                "metavar": metavar, "flag": flag, "parse": parse, "cli": cli}
    if isinstance(default, (list, tuple)):
        value = tuple(default)
        return dataclasses.field(default_factory=lambda: value, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def _kind(annotation):
    """``(element type, optional, sequence)`` of a field's annotation."""
    optional = False
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(args) < len(typing.get_args(annotation))
        annotation = args[0]
    origin = typing.get_origin(annotation)
    if origin in (tuple, list):
        args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        return (args[0] if args else str), optional, True
    return annotation, optional, False


def flag_of(field):
    return field.metadata.get("flag") or "--" + field.name.replace("_", "-")


@dataclasses.dataclass
class StudyOptions:
    """Options every study has.

    Attributes
    ----------
    quick : bool
        The study's short protocol (checks the pipeline in minutes).
    seed : int
        Seed of everything random in the study.
    out : str or None
        Run directory (default :func:`~brian2learn.studies.run_directory.default_run_dir`).
    overwrite : bool
        Write over a run already in the run directory (otherwise refused).
    resume : bool
        Continue the interrupted run in the run directory from its checkpoints (studies with
        ``RESUMABLE = True``; the others refuse it).

    Every study accepts the same seeds, 0 to :data:`SEED_MAX`.
    """

    quick: bool = option(False, help="the short protocol (minutes instead of hours)")
    seed: int = option(1, minimum=0, help="seed of everything random (default 1)")
    out: str | None = option(None, metavar="DIR", help="run directory (default runs/NAME-seedN[-quick][-HASH of "
                                                       "other options])")
    overwrite: bool = option(False, help="write over a run already in the run directory")
    resume: bool = option(False, help="continue the interrupted run in the run directory from its checkpoints")

    #: Whether the study writes checkpoints that ``resume`` continues from.
    RESUMABLE: typing.ClassVar[bool] = False

    def __post_init__(self):
        hints = typing.get_type_hints(type(self))
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            element, optional, sequence = _kind(hints[field.name])
            if value is None:
                if not optional:
                    raise ValueError(f"'{flag_of(field)}' must be given, got None")
                continue
            items = value if sequence else [value]
            if sequence:
                if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
                    raise ValueError(f"'{flag_of(field)}' must be a sequence of "
                                     f"{element.__name__}, got {value!r}")
                items = tuple(value)
                object.__setattr__(self, field.name, items)
            for item in items:
                self._check_item(field, element, item)
        if not 0 <= self.seed <= SEED_MAX:
            raise ValueError(f"'--seed' must be an integer from 0 to {SEED_MAX}, got {self.seed!r}")
        if self.out is not None and not self.out.strip():
            raise ValueError("'--out' must name a directory, got an empty string")
        if self.resume and not type(self).RESUMABLE:
            raise ValueError("'--resume' is not available for this study yet (it writes no checkpoints); start the "
                             "run again with --overwrite")
        if self.resume and self.overwrite:
            raise ValueError("'--resume' and '--overwrite' exclude each other: continue the run or replace it")
        self.check()

    @staticmethod
    def _check_item(field, element, item):
        name = f"'{flag_of(field)}'"
        if element is bool:
            ok, what = isinstance(item, bool), "true or false"
        elif element is int:
            ok, what = isinstance(item, (int, np.integer)) and not isinstance(item, bool), "an integer"
        elif element is float:
            ok, what = isinstance(item, (int, float)) and not isinstance(item, bool) and item == item, "a number"
        elif element is str:
            ok, what = isinstance(item, str), "a string"
        else:
            ok, what = True, ""
        if not ok:
            raise ValueError(f"{name} must be {what}, got {item!r}")
        choices = field.metadata.get("choices")
        if choices is not None and item not in choices:
            raise ValueError(f"unknown {field.name.replace('_', ' ')} {item!r} for {name}; allowed: "
                             f"{', '.join(map(str, choices))}")
        minimum = field.metadata.get("minimum")
        if minimum is not None and item < minimum:
            if element is int and minimum in (0, 1):
                raise ValueError(f"{name} must be a {'positive' if minimum == 1 else 'non-negative'} integer, "
                                 f"got {item!r}")
            raise ValueError(f"{name} must be at least {minimum}, got {item!r}")

    def check(self):
        """Checks between options (a study's own); raise ``ValueError`` naming the option."""

    # -- the command line -------------------------------------------------------------------------
    @classmethod
    def cli_fields(cls):
        return [f for f in dataclasses.fields(cls) if f.metadata.get("cli", True)]

    @classmethod
    def add_arguments(cls, parser):
        """Add one argparse option per field of ``cls`` to ``parser``."""
        hints = typing.get_type_hints(cls)
        for field in cls.cli_fields():
            element, _, sequence = _kind(hints[field.name])
            default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
            meta = field.metadata
            help_text = meta.get("help", "")
            if element is bool and not sequence:
                parser.add_argument(flag_of(field), dest=field.name, action="store_true", help=help_text)
                continue
            kwargs = {"dest": field.name, "default": default, "type": meta.get("parse") or element,
                      "metavar": meta.get("metavar")}
            if meta.get("choices") is not None and kwargs["metavar"] is None:
                # The options check the value (one-line error naming the allowed ones); the help lists them.
                kwargs["metavar"] = "{" + ",".join(map(str, meta["choices"])) + "}"
            if sequence:
                kwargs["nargs"] = "+"
            shown = " ".join(map(str, default)) if sequence and default is not None else default
            if default is not None and "default" not in help_text:
                help_text = f"{help_text} (default {shown})".strip()
            parser.add_argument(flag_of(field), help=help_text, **kwargs)
        return parser

    @classmethod
    def from_args(cls, args):
        """The options of a parsed command line (an ``argparse.Namespace``)."""
        values = {f.name: getattr(args, f.name) for f in cls.cli_fields() if hasattr(args, f.name)}
        return cls(**{name: tuple(value) if isinstance(value, list) else value for name, value in values.items()})

    @classmethod
    def find_field(cls, name):
        """The field called ``name`` (``max-iterations``, ``--max-iterations`` and ``max_iterations`` alike)."""
        key = str(name).lstrip("-").replace("-", "_")
        for field in cls.cli_fields():
            if key in (field.name, flag_of(field).lstrip("-").replace("-", "_")):
                return field
        return None

    @classmethod
    def to_argv(cls, name, value):
        """Command-line tokens that set option ``name`` to ``value`` (``True``/``'true'`` for flags)."""
        field = cls.find_field(name)
        if field is None:
            raise ValueError(f"unknown option '{name}'; allowed: {', '.join(f.name for f in cls.cli_fields())}")
        element, _, sequence = _kind(typing.get_type_hints(cls)[field.name])
        flag = flag_of(field)
        if element is bool and not sequence:
            truth = _truth(value)
            if truth is None:
                raise ValueError(f"'{field.name}' ({flag}) is a flag: its values must be true or false, got {value!r}")
            return [flag] if truth else []
        values = list(value) if isinstance(value, (list, tuple)) else [value]
        if not sequence and len(values) != 1:
            raise ValueError(f"'{field.name}' ({flag}) takes one value per point, got {value!r}")
        return [flag] + [str(v) for v in values]

    def changed(self, ignore=()):
        """Field name -> value of every option set away from its default (tuples as lists), ``ignore`` aside."""
        changed = {}
        for field in dataclasses.fields(self):
            if field.name in ignore:
                continue
            default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
            value = getattr(self, field.name)
            if value != default:
                changed[field.name] = list(value) if isinstance(value, tuple) else value
        return changed

    def reference_comparable(self):
        """Whether the run follows the published protocol its reference numbers come from: the full mode with
        every option that changes the protocol at its default (seed, device, threads, workers and where the
        run is written may differ)."""
        return not self.quick and not self.changed(ignore=EXECUTION_OPTIONS)

    def as_dict(self, exclude=("out", "overwrite", "resume")):
        """Field name -> value (tuples as lists), for ``summary.json``.

        Where the run is written (``out``, ``overwrite``) is left out by default: the summary lies in
        it, and a run moved elsewhere or repeated in another directory has the same options.
        """
        return {f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v
                for f in dataclasses.fields(self) if f.name not in exclude}


_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


def _truth(value):
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return None
