"""Options dataclasses of studies: validation, the command line made from them, and the registry."""

import argparse
import dataclasses
import subprocess
import sys

import pytest

from brian2learn.studies import REGISTRY, describe, load_study
from brian2learn.studies.options import StudyOptions, option


@dataclasses.dataclass
class ToyOptions(StudyOptions):
    device: str = option("runtime", choices=("runtime", "cpp_standalone"), help="Brian2 device")
    trials: int | None = option(None, minimum=1, metavar="N", help="trials")
    rates: tuple[float, ...] = option((10.0, 20.0), minimum=0.0, help="input rates in Hz")
    no_bptt: bool = option(False, help="skip BPTT")
    threshold: float | None = option(None, flag="--sliding-threshold",
                                     parse=lambda text: None if text == "off" else float(text), help="rate or off")

    def check(self):
        if self.threshold is not None and self.threshold <= 0:
            raise ValueError(f"'--sliding-threshold' must be a positive rate, got {self.threshold!r}")


def parse(argv):
    parser = argparse.ArgumentParser()
    ToyOptions.add_arguments(parser)
    return ToyOptions.from_args(parser.parse_args(argv))


def test_defaults_and_command_line_give_the_same_options():
    assert parse([]) == ToyOptions()
    options = parse(["--quick", "--seed", "3", "--trials", "5", "--rates", "1", "2.5", "--no-bptt",
                     "--sliding-threshold", "off", "--device", "cpp_standalone"])
    assert options == ToyOptions(quick=True, seed=3, trials=5, rates=(1.0, 2.5), no_bptt=True, threshold=None,
                                 device="cpp_standalone")
    assert parse(["--sliding-threshold", "2"]).threshold == 2.0
    assert options.as_dict()["rates"] == [1.0, 2.5]


@pytest.mark.parametrize("values,message", [
    ({"trials": 0}, "'--trials' must be a positive integer, got 0"),
    ({"seed": -1}, "'--seed' must be a non-negative integer"),
    ({"seed": 1.5}, "'--seed' must be an integer"),
    ({"device": "gpu"}, "unknown device 'gpu' for '--device'; allowed: runtime, cpp_standalone"),
    ({"rates": (1.0, -2.0)}, "'--rates' must be at least 0.0, got -2.0"),
    ({"rates": 3.0}, "'--rates' must be a sequence"),
    ({"no_bptt": "yes"}, "'--no-bptt' must be true or false"),
    ({"threshold": -1.0}, "'--sliding-threshold' must be a positive rate"),
    ({"quick": None}, "'--quick' must be given"),
])
def test_bad_values_name_the_option(values, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ToyOptions(**values)


def test_to_argv_round_trips_through_the_parser():
    argv = (ToyOptions.to_argv("trials", 7) + ToyOptions.to_argv("--no-bptt", "true")
            + ToyOptions.to_argv("rates", [3, 4]) + ToyOptions.to_argv("sliding-threshold", "off"))
    assert argv == ["--trials", "7", "--no-bptt", "--rates", "3", "4", "--sliding-threshold", "off"]
    assert parse(argv) == ToyOptions(trials=7, no_bptt=True, rates=(3.0, 4.0))
    assert ToyOptions.to_argv("no_bptt", False) == []
    with pytest.raises(ValueError, match="is a flag"):
        ToyOptions.to_argv("no_bptt", "maybe")
    with pytest.raises(ValueError, match="one value per point"):
        ToyOptions.to_argv("trials", [1, 2])
    with pytest.raises(ValueError, match="unknown option 'bogus'"):
        ToyOptions.to_argv("bogus", 1)


def test_every_registered_study_has_options_and_run():
    for name, (module_name, description) in REGISTRY.items():
        module = load_study(name)
        assert module.__name__ == module_name and module.NAME == name
        assert describe(name) == description == module.DESCRIPTION
        assert issubclass(module.Options, StudyOptions) and callable(module.run)
        assert module.Options().seed == 1  # defaults are valid options


def test_listing_the_studies_imports_none_of_them():
    code = ("import sys; from brian2learn.studies.cli import main; main(['list']); "
            "print(sorted(m for m in sys.modules if m.startswith('brian2learn.studies.') and "
            "m.split('.')[-1] not in ('cli', 'common', 'options', 'sweep_cli', 'arena_cli', 'arena_registry')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
    assert "eprop-pattern" in result.stdout


def test_version_names_brian2learn_brian2_and_python():
    import importlib.metadata
    import platform

    import brian2learn

    result = subprocess.run([sys.executable, "-c", "import sys; from brian2learn.studies.cli import main; "
                             "sys.exit(main(['--version']))"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert result.stdout.strip() == (f"brian2learn {brian2learn.__version__} (Brian2 "
                                     f"{importlib.metadata.version('brian2')}, Python {platform.python_version()})")


def test_reference_numbers_are_marked_comparable_only_for_the_published_protocol(tmp_path):
    import json

    from brian2learn.studies import load_study
    from brian2learn.studies.common import write_summary

    options = load_study("perturbation-linear").Options
    cases = {"full": options(seed=2, device="runtime"), "quick": options(quick=True),
             "changed": options(trials=10)}
    written = {}
    for name, value in cases.items():
        (tmp_path / name).mkdir()
        write_summary(str(tmp_path / name), {"study": "perturbation-linear", "reference": 1.0}, value)
        written[name] = json.loads((tmp_path / name / "summary.json").read_text())
    assert written["full"]["reference_comparable"] is True and "reference_note" not in written["full"]
    assert written["quick"]["reference_comparable"] is False
    assert written["quick"]["reference_note"].startswith("quick mode:")
    assert "options changed from the published protocol (trials)" in written["changed"]["reference_note"]


def test_resume_is_refused_where_no_checkpoints_exist_and_with_overwrite():
    from brian2learn.studies import load_study

    with pytest.raises(ValueError, match="'--resume' is not available for this study yet"):
        load_study("perturbation-linear").Options(resume=True)
    with pytest.raises(ValueError, match="'--resume' and '--overwrite' exclude each other"):
        load_study("eprop-pattern").Options(resume=True, overwrite=True)
    assert load_study("eprop-pattern").Options(resume=True).resume


def test_a_study_help_imports_neither_dask_nor_scipy_stats():
    # 'brian2learn run NAME --help' must stay quick: Dask (sweeps) and scipy.stats (the membership
    # test) are imported where they are used, not when a study module is loaded.
    code = ("import sys\nfrom brian2learn.studies.cli import main\n"
            "for name in ('stdp-assemblies', 'stdp-song', 'eprop-pattern'):\n"
            "    try:\n        main(['run', name, '--help'])\n    except SystemExit:\n        pass\n"
            "print('distributed' in sys.modules, 'scipy.stats' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "--gamma-exc" in result.stdout  # the study's options were listed
    assert result.stdout.strip().splitlines()[-1] == "False False"
