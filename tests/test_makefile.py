"""The sped-up makefile (simulation.makefile) of a project Brian2 generated, checked with make's dry run.

That the binaries it builds compute what Brian2's own makefile's do is what every standalone test of the suite
checks against the runtime device, numpy and NEST: they all compile through it.
"""

import shutil
import subprocess

import brian2 as b2
import pytest

from brian2learn.simulation.makefile import PRECOMPILED_HEADER, speed_up_makefile

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


@pytest.fixture
def generated_project(tmp_path):
    """A small Brian2 project generated (not compiled) into ``tmp_path``; the device is reset afterwards."""
    b2.set_device("cpp_standalone", build_on_run=False)
    try:
        group = b2.NeuronGroup(3, "dv/dt = -v / (10*ms) : 1", threshold="v > 1", reset="v = 0")
        synapses = b2.Synapses(group, group, "w : 1", on_pre="v_post += w")
        synapses.connect(j="i")
        b2.run(1 * b2.ms)
        b2.device.build(directory=str(tmp_path), compile=False, run=False, with_output=False)
    finally:
        b2.device.reinit()
        b2.device.activate()
        b2.set_device("runtime")
    return tmp_path


def _dry_run(directory):
    return subprocess.run(["make", "-n"], cwd=directory, capture_output=True, text=True, check=True).stdout


def test_code_objects_read_the_precompiled_header_and_a_changed_header_rebuilds_them(generated_project):
    makefile = (generated_project / "makefile").read_text()
    assert speed_up_makefile(generated_project)
    assert not speed_up_makefile(generated_project)  # already rewritten: unchanged
    assert "make.deps" not in _dry_run(generated_project)  # no serial dependency scan
    commands = [line for line in _dry_run(generated_project).splitlines() if line.startswith(("g++", "c++", "cc"))]
    compiles = [line for line in commands if " -o " in line and line.split(" -o ")[1].strip().endswith(".o")]
    # the header is compiled first, with the flags of the objects; every object but objects.o reads it
    assert PRECOMPILED_HEADER in commands[0] and "-x c++-header" in commands[0]
    sources = {line.split()[-3] for line in compiles}
    assert {"objects.cpp", "main.cpp", "network.cpp"} <= sources and len(sources) == len(compiles)
    for line in compiles:
        if line.split()[-3] == "objects.cpp":
            assert "-include objects.h" not in line and line.split().index("-O1") > line.split().index("-O3")
        else:
            assert "-include objects.h" in line and "-O1" not in line
    # mark everything as built (make -t), then change one header: every object is compiled again
    subprocess.run(["make", "-t"], cwd=generated_project, capture_output=True, check=True)
    assert " -o " not in _dry_run(generated_project)
    header = next((generated_project / "code_objects").glob("*.h"))
    header.write_text(header.read_text() + "\n")
    rebuilt = [line for line in _dry_run(generated_project).splitlines() if " -o " in line]
    assert len(rebuilt) == len(commands)  # the header, every object and the link
    assert makefile.split("\nDEPS = make.deps\n")[0] in (generated_project / "makefile").read_text()


def test_an_unexpected_makefile_is_left_alone(tmp_path):
    (tmp_path / "objects.h").write_text("")
    text = "all:\n\techo other\n"
    (tmp_path / "makefile").write_text(text)
    assert not speed_up_makefile(tmp_path)
    assert (tmp_path / "makefile").read_text() == text
    assert not speed_up_makefile(tmp_path / "missing")
