"""Adaptive spiking RNNs on ECG wave segmentation (Yin, Corradi & Bohté 2021), trained in JAX, run in Brian2.

Yin, Corradi & Bohté (2021), "Accurate and efficient time-domain classification with adaptive spiking recurrent
neural networks", Nat Mach Intell 3:905, doi:10.1038/s42256-021-00397-w. Data: the authors' preprocessed QT
Database (:mod:`brian2learn.tasks.qtdb_ecg`; Laguna et al. 1997; Goldberger et al. 2000).

Methods
-------
*Task*: 618 training and 141 test sequences of 1301 steps, 4 level-crossing inputs, a label (one of six waveform
segments) at every step; accuracy is framewise over steps 10 .. 1300 of the test set, after the last epoch (no
selection on the test set).

*Network* (:mod:`brian2learn.models.adaptive_srnn`): 4-36-6 as in the authors' script, the hidden layer recurrent
and non-adaptive, the output layer adaptive and read from its membranes; per-neuron time constants.

*Training* (:mod:`brian2learn.plasticity.srnn_bptt`, :class:`~brian2learn.training.framewise.FramewiseTrainer`):
BPTT with the multi-Gaussian surrogate, framewise NLL, Adam lr 1e-2 (time constants x3 hidden, x2 output), halved
every 100 epochs, batches of 64, 400 epochs; test accuracy is also recorded every ``eval_every`` epochs for the
learning curve.

*Variants* on the same data and budget (:data:`VARIANTS`): the authors' network (``srnn``, seeds ``seed ..
seed + seeds - 1``), the same with an adaptive hidden layer, without adaptation (beta = 0 everywhere), with fixed
time constants, the authors' plain LIF (reset to zero, fixed decay), and two non-spiking RNNs of 36 units
(:mod:`brian2learn.plasticity.rnn_baselines`: GRU and tanh) with a linear readout. *Ablation*: the authors' network
with each surrogate of :data:`~brian2learn.plasticity.srnn_bptt.SURROGATES` (seed ``seed``).

*Brian2 in the loop of evaluation*: the trained ``srnn`` network of seed ``seed`` (weights and per-neuron decay
factors) runs on the whole test set in Brian2 (``cpp_standalone``, one build, all sequences as copies of the network)
from the same initial state as the JAX forward; spikes are compared neuron-step by neuron-step, and every sequence
where they differ is traced to the first differing spike and its margin :math:`|u - \\theta|` in JAX (a tie is a
margin below 1e-9).

*Energy* (per step of a sequence, on the test set): the SNN's accumulates (one per input event and fan-out, one
per hidden spike and fan-out, the neuron updates' additions and spike resets) and multiply-accumulates (the neuron
state updates, :func:`~brian2learn.models.adaptive_srnn.operations_per_neuron_step`), against the RNNs'
multiply-accumulates (:func:`~brian2learn.plasticity.rnn_baselines.operations_per_step`); energy at 0.9 pJ per
accumulate and 4.6 pJ per multiply-accumulate (Horowitz 2014, 45 nm; :func:`~brian2learn.analysis.energy.
operation_energy_pj`).

Cells (one variant, surrogate and seed each) are independent; each is saved when done (``cells/``), ``--resume``
skips the cells already saved, and ``--workers 2`` trains two at a time (:mod:`brian2learn.studies.srnn_common`
holds the protocol both SRNN studies share).
"""

import dataclasses

from brian2learn.studies import srnn_common
from brian2learn.studies.options import option
from brian2learn.studies.run_directory import in_run_directory
from brian2learn.tasks import qtdb_ecg

NAME = "srnn-ecg"
DESCRIPTION = "adaptive spiking RNN (JAX BPTT, Brian2 evaluation) on QT Database ECG segmentation (Yin et al. 2021)"
#: The script's header: 36 recurrent neurons give 84.4 % on the test set.
TASK = srnn_common.SrnnTask(study=NAME, module=__name__, n_in=qtdb_ecg.N_INPUTS, n_hidden=36,
                            n_out=len(qtdb_ecg.SEGMENTS), scored_from=qtdb_ecg.SCORED_FROM, target=0.84,
                            target_label="script's 84.4 %", class_names=qtdb_ecg.SEGMENTS)
MODES = {"full": {"epochs": 400, "train": None, "test": None, "steps": None},
         "quick": {"epochs": 2, "train": 48, "test": 24, "steps": 200}}


@dataclasses.dataclass
class Options(srnn_common.SrnnOptions):
    """Options of the srnn-ecg study (``brian2learn run srnn-ecg --help``)."""

    quick: bool = option(False, help="2 epochs on 48 training and 24 test sequences cut to 200 steps (checks the "
                                     "pipeline)")
    epochs: int | None = option(None, minimum=1, metavar="N", help="override the number of epochs (400)")


def load_data(mode):
    """Train and test sets of ``mode`` (the quick protocol cuts them)."""
    setting = MODES[mode]
    x, y = qtdb_ecg.load_qtdb("train")
    x_test, y_test = qtdb_ecg.load_qtdb("test")
    steps = setting["steps"] or x.shape[1]
    return {"x": x[:setting["train"], :steps], "y": y[:setting["train"], :steps],
            "x_test": x_test[:setting["test"], :steps], "y_test": y_test[:setting["test"], :steps]}


@in_run_directory(NAME)
def run(options, run_dir):
    """Train every cell, check the authors' network in Brian2, write summary.json, tables and figures."""
    mode = "quick" if options.quick else "full"
    return srnn_common.run_study(TASK, options, run_dir, mode, options.epochs or MODES[mode]["epochs"])


def plot_run(run, out_dir):
    """Redraw the figures of a finished run from its tables and saved cells."""
    return srnn_common.plot_run(TASK, run, out_dir)
