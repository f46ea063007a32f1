"""Studies: one per published experiment, run as ``brian2learn run NAME``.

Each study module defines ``NAME``, ``DESCRIPTION``, ``add_arguments(parser)`` and
``run(args) -> dict`` (the summary it also writes to ``summary.json`` in its run directory).
"""

import importlib

#: Study name -> module, imported only when the study runs.
STUDIES = {
    "eprop-pattern": "brian2learn.studies.eprop_pattern",
    "eprop-evidence": "brian2learn.studies.eprop_evidence",
    "ttfs-yinyang": "brian2learn.studies.ttfs_yinyang",
    "ttfs-robustness": "brian2learn.studies.ttfs_robustness",
    "perturbation-linear": "brian2learn.studies.perturbation_linear",
    "perturbation-reservoir": "brian2learn.studies.perturbation_reservoir",
    "perturbation-spiking": "brian2learn.studies.perturbation_spiking",
    "rflo": "brian2learn.studies.rflo",
    "stdp-song": "brian2learn.studies.stdp_song",
    "stdp-assemblies": "brian2learn.studies.stdp_assemblies",
}


def load_study(name):
    """The module of study ``name``; ``ValueError`` naming the known studies otherwise."""
    if name not in STUDIES:
        raise ValueError(f"unknown study {name!r}; known studies: {', '.join(sorted(STUDIES))}")
    return importlib.import_module(STUDIES[name])
