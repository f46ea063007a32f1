"""Test only: a study with marked phases, to interrupt each one (tests/test_interruption.py).

It writes a finished part (``part_1.parquet``), prints ``marker: part 1 written``, and then spends a long
time in the phase asked for: ``python`` (a Python loop), ``compile`` (a fresh C++ standalone build) or
``binary`` (a run of the compiled binary that would last minutes). It never finishes in the tests.
"""

import dataclasses
import os
import sys
import time

import brian2 as b2
import numpy as np
import pandas as pd

from brian2learn.analysis.tables import write_table
from brian2learn.simulation.devices import DeviceRunner
from brian2learn.studies.options import StudyOptions, option
from brian2learn.studies.run_directory import in_run_directory

NAME = "interrupt-test"
DESCRIPTION = "test only: a study with a Python, a compile and a binary phase"
N_NEURONS = 2000  # leaky units of the long binary run
LONG_RUN = 1000 * b2.second  # simulated time of the binary run: minutes of wall time


@dataclasses.dataclass
class Options(StudyOptions):
    phase: str = option("python", choices=("python", "compile", "binary"), help="where the run spends its time")


class LeakyUnits:
    """``N_NEURONS`` leaky units, plus ``n_extra`` small groups that differ only in their time constant
    (each is a source file of its own, to make the compile last long enough to interrupt it)."""

    def __init__(self, n_extra=0):
        self.group = b2.NeuronGroup(N_NEURONS, "dv/dt = (1 - v)/(10*ms) : 1", method="exact", name="leaky")
        extra = [b2.NeuronGroup(1, f"dv/dt = (1 - v)/({11 + k}*ms) : 1", method="euler", threshold="v > 0.5",
                                reset="v = 0", name=f"extra_{k}") for k in range(n_extra)]
        self.network = b2.Network(self.group, *extra)

    def run(self):
        self.network.run(LONG_RUN, namespace={})

    def state_variables(self):
        return {"v": (self.group, "v")}

    def stimulus_arrays(self):
        return {}


@in_run_directory(NAME)
def run(options, run_dir):
    write_table(pd.DataFrame({"trial": np.arange(3), "loss": [3.0, 2.0, 1.0]}), os.path.join(run_dir, "part_1.parquet"))
    print("marker: part 1 written", file=sys.stderr, flush=True)
    if options.phase == "python":
        print("marker: python", file=sys.stderr, flush=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            sum(range(10_000))
        return None
    build_dir = os.path.join(run_dir, "build")
    n_extra = 40 if options.phase == "compile" else 0
    with DeviceRunner(lambda: LeakyUnits(n_extra), device="cpp_standalone", directory=build_dir) as runner:
        runner.run()  # the first run compiles ('compiling' marker), then runs the binary ('compiled' marker)
    return None


if __name__ == "__main__":
    from brian2learn.studies.cli import study_main

    sys.exit(study_main(sys.modules[__name__]))
