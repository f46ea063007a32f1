"""Studies: one per published experiment, run as ``brian2learn run NAME``.

Each study module defines ``NAME``, ``DESCRIPTION``, an ``Options`` dataclass
(:class:`~brian2learn.studies.options.StudyOptions`) and ``run(options) -> dict`` (the summary it
also writes to ``summary.json`` in its run directory); a Python user calls
``load_study(name).run(module.Options(quick=True))``. The registry below names every study and its
description, so that listing the studies imports none of them.
"""

import importlib

#: Study name -> (module, description); a module is imported only when its study runs.
REGISTRY = {
    "eprop-pattern": ("brian2learn.studies.eprop_pattern",
                      "e-prop (random, symmetric) and BPTT on pattern generation, Bellec et al. 2020 Fig. S7"),
    "eprop-evidence": ("brian2learn.studies.eprop_evidence",
                       "e-prop (LIF+ALIF) vs BPTT on evidence accumulation, Bellec et al. 2020 Fig. 3"),
    "ttfs-yinyang": ("brian2learn.studies.ttfs_yinyang",
                     "time-to-first-spike learning with exact spike-time gradients on Yin-Yang, Göltz et al. 2021"),
    "ttfs-robustness": ("brian2learn.studies.ttfs_robustness",
                        "accuracy of a TTFS network on an imperfect Brian2 substrate, trained without and with "
                        "the substrate in the loop (Göltz et al. 2021)"),
    "perturbation-linear": ("brian2learn.studies.perturbation_linear",
                            "weight vs node perturbation on the linear task of Züge et al. 2023 (learning curves "
                            "vs closed form)"),
    "perturbation-reservoir": ("brian2learn.studies.perturbation_reservoir",
                               "WP vs NP training a reservoir readout to draw a butterfly (Züge et al. 2023), trials "
                               "to 2x LS optimum"),
    "perturbation-spiking": ("brian2learn.studies.perturbation_spiking",
                             "WP vs NP training a recurrent LIF network on a delayed output pattern, and WP on "
                             "Jabri & Flower's XOR"),
    "rflo": ("brian2learn.studies.rflo",
             "RFLO (Brian2) vs BPTT (JAX) on Murray 2019's periodic-output task, with W_out-B alignment"),
    "pearlmutter-trajectories": ("brian2learn.studies.pearlmutter_trajectories",
                                 "continuous-time BPTT (Brian2 adjoint) teaches limit cycles: circle and figure "
                                 "eight (Pearlmutter 1989)"),
    "contrastive-xor": ("brian2learn.studies.contrastive_xor",
                        "CHL, equilibrium propagation and symmetric EP (Brian2) on XOR and 3-bit parity, beside "
                        "backprop"),
    "contrastive-digits": ("brian2learn.studies.contrastive_digits",
                           "symmetric EP, EP and CHL (Brian2) on the 8x8 digits, beside backprop of the same layer "
                           "sizes"),
    "contrastive-oscillation": ("brian2learn.studies.contrastive_oscillation",
                                "contrastive learning by oscillation (Baldi & Pineda 1991): the phase period swept "
                                "across the settling time, XOR and 3-bit parity"),
    "srnn-ecg": ("brian2learn.studies.srnn_ecg",
                 "adaptive spiking RNN (JAX BPTT, Brian2 evaluation) on QT Database ECG segmentation (Yin et al. "
                 "2021)"),
    "srnn-sequential-digits": ("brian2learn.studies.srnn_sequential_digits",
                               "adaptive spiking RNN (JAX BPTT, Brian2 evaluation) on the 8x8 digits pixel by pixel "
                               "(not S-MNIST)"),
    "eprop-cartpole": ("brian2learn.studies.eprop_cartpole",
                       "spiking actor-critic (reward-based e-prop) learns CartPole-v1 in closed loop inside Brian2"),
    "eprop-reward-cues": ("brian2learn.studies.eprop_reward_cues",
                          "evidence accumulation from reward alone (reward-based e-prop) beside supervised e-prop, "
                          "same network"),
    "stdp-song": ("brian2learn.studies.stdp_song",
                  "pair STDP onto one neuron: bimodal weights and rate regulation (Song, Miller & Abbott 2000)"),
    "stdp-assemblies": ("brian2learn.studies.stdp_assemblies",
                        "STDP forms and associates memory assemblies: overlap vs recruitment (Pokorny et al. 2020)"),
    "energy-automata": ("brian2learn.studies.energy_automata",
                        "threshold circuits simulating finite automata: size, time per bit and energy (Šíma 2014)"),
}
#: Study name -> module (kept for code that looked studies up here).
STUDIES = {name: module for name, (module, _) in REGISTRY.items()}


def describe(name):
    """The one-line description of study ``name`` (without importing it)."""
    check_name(name)
    return REGISTRY[name][1]


def check_name(name):
    if name not in REGISTRY:
        raise ValueError(f"unknown study {name!r}; known studies: {', '.join(sorted(REGISTRY))}")


def load_study(name):
    """The module of study ``name``; ``ValueError`` naming the known studies otherwise."""
    check_name(name)
    return importlib.import_module(REGISTRY[name][0])
