"""e-prop: eligibility propagation in a recurrent spiking network, written as Brian2 code.

Bellec, Scherr, Subramoney, Hajek, Salaj, Legenstein & Maass (2020), "A solution to the
learning dilemma for recurrent networks of spiking neurons", Nat Commun 11:3625,
doi:10.1038/s41467-020-17236-y.

The gradient of the loss ``E`` with respect to a weight ``W_ji`` (presynaptic ``i``,
postsynaptic ``j``) is approximated by the product of a learning signal and an
eligibility trace, summed over the steps of a trial,

.. math::

    \\frac{dE}{dW_{ji}} \\approx \\sum_t L_j^t\\, \\bar e_{ji}^t
        + c_{reg}\\,(r_j - r^*)\\,\\frac{1}{T\\,\\Delta t_{ms}} \\sum_t e_{ji}^t .

- Presynaptic trace: :math:`\\bar s_i^t = \\alpha \\bar s_i^{t-1} + s_i^t` with ``s = x^t`` for
  input synapses and ``s = z^{t-1}`` for recurrent ones (what entered ``v^t``); ``c`` is the
  model's input scale (see :mod:`brian2learn.models.eprop_neurons`).
- LIF eligibility: :math:`e_{ji}^t = \\psi_j^t\\, c\\, \\bar s_i^t`.
- ALIF eligibility vector: :math:`\\epsilon^{a,t}_{ji} = \\psi_j^{t-1} c \\bar s_i^{t-1}
  + (\\rho - \\beta_j \\psi_j^{t-1}) \\epsilon^{a,t-1}_{ji}` and
  :math:`e_{ji}^t = \\psi_j^t (c \\bar s_i^t - \\beta_j \\epsilon^{a,t}_{ji})`.
- Readout-filtered eligibility: :math:`\\bar e^t = \\kappa \\bar e^{t-1} + (1-\\kappa) e^t`.
- Learning signal: :math:`L_j^t = \\sum_k B_{jk}\\, \\delta_k^t` with
  :math:`\\delta_k^t = m_t (y_k^t - y_k^{*t})` (mean squared error) or
  :math:`m_t (\\pi_k^t - \\pi_k^{*t})` (softmax cross-entropy), ``m_t`` the learning window.
- Feedback ``B``: ``symmetric`` (:math:`B = W_{out}^T`, kept equal), ``random`` (fixed
  random ``B``), ``adaptive`` (``B`` receives the same updates as :math:`W_{out}`, minus a
  weight decay).
- Readout weights use their exact gradient :math:`\\sum_t \\delta_k^t \\tilde z_j^t`, with
  :math:`\\tilde z = \\kappa \\tilde z + (1 - \\kappa) z^t`.
- Firing-rate regularization :math:`E_{reg} = \\frac{c_{reg}}{2}\\sum_j (r_j - r^*)^2`, rates
  ``r`` in spikes per ms over the trial, as in the reference code; its term uses the trial's
  own rate, so it is added at the end of the trial.

With symmetric feedback and no recurrent weights these sums are the exact gradient of
the model in which the reset does not carry a gradient (Bellec et al., Methods); the
BPTT reference :mod:`brian2learn.plasticity.bptt` checks this.

Everything runs as Brian2 code in the time step (summed variables and ``run_regularly``
operations in fixed scheduling slots), and at trial and batch boundaries
(``run_regularly`` on clocks of one trial and one batch): the per-trial reset of the
neurons, the regularization term, and the optimizer step (gradient descent or Adam, with
per-synapse state, gradients averaged over the trials of a batch, optional weight
clipping: the Brian2 form of :func:`optimizer_spec`, see :mod:`brian2learn.plasticity.optimizers`).
The same objects therefore run on the runtime device and in ``cpp_standalone``, where one
build serves every training run through ``run_args``.
"""

from dataclasses import dataclass, field

import brian2 as b2
import numpy as np

from brian2learn.models import eprop_neurons
from brian2learn.models.weight_levels import check_levels, held_code
from brian2learn.plasticity import optimizers
from brian2learn.plasticity.eprop_trial_end import TrialHistories
from brian2learn.simulation.devices import check_clock_lockstep, schedule

FEEDBACK_MODES = ("symmetric", "random", "adaptive")
ENGINES = ("trial_end", "event", "online")
OPTIMIZERS = optimizers.OPTIMIZERS
ADAM_EPSILON_FORMS = optimizers.ADAM_EPSILON_FORMS
LOSSES = ("mse", "softmax")

#: Bellec et al.'s (2020, Fig. 3) evidence accumulation: 40 inputs, 50 LIF and 50 ALIF neurons, 2 readouts.
BELLEC2020_EVIDENCE_NETWORK = {"n_in": 40, "n_lif": 50, "n_alif": 50, "n_out": 2}
#: Its supervised learning: softmax cross-entropy over the recall window, NEST 3.10's rate regularization, Adam.
BELLEC2020_EVIDENCE_LEARNING = {
    "loss": "softmax",
    "c_reg": 2.0,  # firing-rate regularization (NEST 3.10 example)
    "f_target": 10.0 * b2.Hz,
    "optimizer": "adam",
    "learning_rate": 5e-3,
}
#: Its initialization in the reference tutorial: readout weights Glorot-uniform (TensorFlow's default), random
#: feedback N(0, 1) without the 1/sqrt(n_rec) of the pattern-generation tutorial (so the task's learning signal is
#: about ten times stronger relative to the rate regularization).
BELLEC2020_EVIDENCE_INITIALIZATION = {"readout_init": "glorot_uniform", "feedback_scale": 1.0}


#: Sizes of Bellec et al.'s (2020, Fig. S7) pattern generation: inputs, LIF neurons, readouts, 1-ms steps.
BELLEC2020_PATTERN_NETWORK = {"n_in": 100, "n_rec": 100, "n_out": 1, "n_steps": 1000}
#: Their learning settings (as in NEST 3.10's e-prop example), shared by the eprop-pattern study and the arena.
BELLEC2020_PATTERN_LEARNING = {
    "c_reg": 300.0,  # firing-rate regularization strength
    "f_target": 10.0 * b2.Hz,  # target rate of the regularization
    "optimizer": "gd",
    "learning_rate": 1e-4,
    "batch_size": 1,
}


@dataclass
class EpropConfig(eprop_neurons.RecurrentNeuronsConfig):
    """Structure and hyper-parameters of an e-prop network.

    Parameters
    ----------
    n_in, n_rec, n_out : int
        Number of input channels, recurrent neurons and readouts.
    n_steps : int
        Steps per trial.
    neuron_params : dict
        Neuron parameters with units, see :mod:`brian2learn.models.eprop_neurons`.
    beta : Quantity array or None
        Adaptation strength per recurrent neuron (volt); ``None`` uses
        ``neuron_params['beta']`` for all.
    loss : {'mse', 'softmax'}
    c_reg : float
        Strength of the firing-rate regularization.
    f_target : Quantity
        Target rate of the regularization (Hz).
    optimizer : {'gd', 'adam'}
    learning_rate : float
    adam_beta1, adam_beta2, adam_epsilon : float
    adam_epsilon_form : {'kingma_ba', 'tensorflow'}
        Where Adam's epsilon enters: ``kingma_ba`` (Algorithm 1 of Kingma & Ba 2015)
        :math:`\\Delta w = -\\eta\\, \\hat m/(\\sqrt{\\hat v} + \\epsilon)`; ``tensorflow`` (default)
        keeps :math:`\\hat\\epsilon = \\epsilon` constant in
        :math:`\\Delta w = -\\eta_t\\, m/(\\sqrt{v} + \\hat\\epsilon)`,
        :math:`\\eta_t = \\eta \\sqrt{1 - \\beta_2^t}/(1 - \\beta_1^t)`, as TensorFlow 1, the
        reference code and NEST 3.10 do. The two differ where gradients are as small as
        epsilon; NEST's evidence-accumulation losses are reproduced to 1e-12 with
        ``tensorflow`` and only to 3e-3 with ``kingma_ba``.
    batch_size : int
        Trials whose gradients are averaged before one update.
    weight_clip : tuple of Quantity or None
        ``(w_min, w_max)`` for input and recurrent weights (volt), or ``None``.
    feedback_decay : float
        Weight decay of ``B`` per update in the ``adaptive`` feedback mode.
    nest_late_learning_signal : bool
        Reproduce a timing effect of NEST 3.10's ``eprop_synapse_bsshslm_2020`` (default
        ``False``). NEST computes a synapse's gradient of a trial lazily, when the presynaptic
        neuron's next event arrives; for an input channel that spikes in step 1 of the next
        trial, that is before the learning signal of the trial's last step has come back
        through the readout (a 3-step loop), so NEST leaves the term
        :math:`L_j^{T-1} \\bar e_{ji}^{T-1}` out of that synapse's gradient. With ``True`` the
        same term is left out of the gradients of input synapses whose channel spikes in step 1
        of the next trial of the stimulus arrays (trial ``k + 1`` modulo the distinct trials of
        a run). Recurrent synapses are unaffected (a recurrent neuron cannot fire in step 0 of
        a trial). Needed to follow NEST's loss curves beyond the first iterations.
    weight_levels : dict or None
        Discrete weights (the hardware axis): group (``'in'``, ``'rec'``, ``'out'``) -> ``(step, limit)``
        (:func:`brian2learn.models.weight_levels.discrete_levels`; ``step`` in volt for ``'in'`` and
        ``'rec'``): a spike of a synapse of that group delivers
        :math:`\\Delta\\, \\mathrm{clip}(\\mathrm{round}(w/\\Delta), -\\mathrm{limit}, \\mathrm{limit})`
        (rounded half away from 0) instead of :math:`w`, while :math:`w` accumulates the updates at full
        precision (straight-through: the eligibility traces do not contain :math:`w`, so the gradient is the held
        network's; symmetric feedback reads the full-precision :math:`W_{out}`). ``None``: full precision.
    engine : {'trial_end', 'event', 'online'}
        How the gradient of the input and recurrent weights is accumulated: ``online``
        updates eligibility traces of every synapse in every step (the rule as written);
        ``trial_end`` computes the same sum once per trial from per-neuron histories
        (:mod:`brian2learn.plasticity.eprop_trial_end`), several times faster; ``event``
        (default) takes that sum over the presynaptic spikes of the trial (one addition per
        spike and synapse instead of one per step; 1.3-1.8x faster again on NEST's sine-wave
        task at 100-1600 neurons). All give the same gradients to rounding.
    """

    n_in: int
    n_rec: int
    n_out: int
    n_steps: int
    neuron_params: dict
    beta: object = None
    loss: str = "mse"
    c_reg: float = 0.0
    f_target: object = field(default_factory=lambda: 10.0 * b2.Hz)
    optimizer: str = "gd"
    learning_rate: float = 1e-4
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_epsilon: float = 1e-8
    adam_epsilon_form: str = "tensorflow"
    batch_size: int = 1
    weight_clip: object = None
    feedback_decay: float = 0.0
    nest_late_learning_signal: bool = False
    engine: str = "event"
    weight_levels: object = None

    def __post_init__(self):
        for name in ("n_in", "n_rec", "n_out", "n_steps", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"'{name}' must be a positive integer, got {value!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"unknown loss {self.loss!r}; allowed: {', '.join(LOSSES)}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; allowed: {', '.join(OPTIMIZERS)}")
        if self.adam_epsilon_form not in ADAM_EPSILON_FORMS:
            raise ValueError(f"unknown adam_epsilon_form {self.adam_epsilon_form!r}; "
                             f"allowed: {', '.join(ADAM_EPSILON_FORMS)}")
        if not isinstance(self.nest_late_learning_signal, (bool, np.bool_)):
            raise ValueError("'nest_late_learning_signal' must be True or False, "
                             f"got {self.nest_late_learning_signal!r}")
        if self.engine not in ENGINES:
            raise ValueError(f"unknown engine {self.engine!r}; allowed: {', '.join(ENGINES)}")
        if self.loss == "softmax" and self.n_out < 2:
            raise ValueError("the softmax loss needs 'n_out' >= 2")
        if not isinstance(self.f_target, b2.Quantity) or not self.f_target.has_same_dimensions(b2.Hz):
            raise ValueError(f"'f_target' must be a rate with units (e.g. 10*Hz), got {self.f_target!r}")
        if not np.ndim(self.f_target) == 0 or not 0 <= float(self.f_target) < np.inf:
            raise ValueError(f"'f_target' must be a finite rate >= 0 Hz, got {self.f_target!r}")
        check_number("c_reg", self.c_reg, 0, np.inf, "a finite number >= 0")
        check_number("learning_rate", self.learning_rate, 0, np.inf, "a finite number > 0", low_open=True)
        check_number("adam_beta1", self.adam_beta1, 0, 1, "a number in [0, 1)", high_open=True)
        check_number("adam_beta2", self.adam_beta2, 0, 1, "a number in [0, 1)", high_open=True)
        check_number("adam_epsilon", self.adam_epsilon, 0, np.inf, "a finite number > 0", low_open=True)
        check_number("feedback_decay", self.feedback_decay, 0, np.inf, "a finite number >= 0")
        self.neuron_params = eprop_neurons.validate_neuron_params(self.neuron_params)
        self.beta = eprop_neurons.adaptation_strengths(self.beta, self.neuron_params, self.n_rec)
        if self.weight_clip is not None:
            w_min, w_max = self.weight_clip
            for bound in (w_min, w_max):
                if not isinstance(bound, b2.Quantity) or not bound.has_same_dimensions(b2.volt):
                    raise ValueError("'weight_clip' must be (w_min, w_max) in volt, e.g. (-1*volt, 1*volt)")
            if not w_min < w_max:
                raise ValueError(f"'weight_clip' needs w_min < w_max, got {self.weight_clip!r}")
        if self.weight_levels is not None:
            self.weight_levels = check_weight_levels(self.weight_levels, WEIGHT_GROUPS)



WEIGHT_GROUPS = ("in", "rec", "out")
#: Weight groups whose weights are voltages (the others, readouts, are numbers).
VOLT_GROUPS = ("in", "rec")


def check_weight_levels(levels, groups):
    """``weight_levels`` as group (of ``groups``) -> (step, limit), ``step`` a float in volt for :data:`VOLT_GROUPS`
    and a number for the readouts (:func:`brian2learn.models.weight_levels.check_levels`); None if it names none."""
    return check_levels(levels, groups, units={group: b2.volt for group in VOLT_GROUPS}) or None


def held_weight_code(group, levels):
    """What a spike of a synapse of ``group`` delivers: ``w``, or its discrete level (``EpropConfig.weight_levels``)."""
    if levels is None or group not in levels:
        return "w"
    return held_code("w", f"level_{group}", f"limit_{group}")


def weight_level_namespace(levels):
    """The Brian2 constants of :func:`held_weight_code`."""
    namespace = {}
    for group, (step, limit) in (levels or {}).items():
        namespace[f"level_{group}"] = step * (b2.volt if group in VOLT_GROUPS else 1)
        namespace[f"limit_{group}"] = limit
    return namespace


def adaptation_strengths(n_lif, n_alif, beta):
    """Threshold adaptation of every recurrent neuron: 0 for the ``n_lif`` LIF neurons, then ``beta`` (a voltage)
    for the ``n_alif`` ALIF neurons."""
    return np.r_[np.zeros(n_lif), np.full(n_alif, float(beta / b2.volt))] * b2.volt


def evidence_accumulation_config(batch_size, **changes):
    """The :class:`EpropConfig` of Bellec et al.'s evidence accumulation (:data:`BELLEC2020_EVIDENCE_NETWORK`,
    :data:`BELLEC2020_EVIDENCE_LEARNING`, the neurons of
    :data:`~brian2learn.models.eprop_neurons.BELLEC2020_EVIDENCE_ACCUMULATION`, trials of
    :func:`~brian2learn.tasks.evidence_accumulation.trial_length` steps); ``changes`` override learning settings."""
    from brian2learn.tasks.evidence_accumulation import trial_length

    network, params = BELLEC2020_EVIDENCE_NETWORK, eprop_neurons.BELLEC2020_EVIDENCE_ACCUMULATION
    return EpropConfig(n_in=network["n_in"], n_rec=network["n_lif"] + network["n_alif"], n_out=network["n_out"],
                       n_steps=trial_length(), neuron_params=params,
                       beta=adaptation_strengths(network["n_lif"], network["n_alif"], params["beta"]),
                       batch_size=batch_size, **{**BELLEC2020_EVIDENCE_LEARNING, **changes})


def check_number(name, value, low, high, allowed, low_open=False, high_open=False):
    """Raise ValueError naming ``name`` unless ``value`` is a real number in the range (finite unless ``high`` is 1)."""
    number = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    ok = number and np.isfinite(value) and (value > low if low_open else value >= low) and (
        value < high if high_open else value <= high)
    if not ok:
        raise ValueError(f"'{name}' must be {allowed}, got {value!r}")


#: Order of the input and recurrent synapses (e-prop checkpoints record it).
SYNAPSE_ORDER = "pre-major"


def connectivity(config):
    """Presynaptic and postsynaptic indices of the three synapse groups.

    All-to-all input and readout connections, recurrent connections without autapses.
    Synapse ``k`` of a group connects ``pre[k]`` to ``post[k]``; weight matrices are
    ``[post, pre]``. Input and recurrent synapses are ordered by presynaptic neuron
    (:data:`SYNAPSE_ORDER`), so a spike's synapses lie side by side in memory. Until December
    2026 they were ordered by postsynaptic neuron (``"post-major"``), which made the forward pass
    about four times slower at 1600 neurons; checkpoints of that order are reordered on loading.
    """
    pre_in, post_in = np.meshgrid(np.arange(config.n_in), np.arange(config.n_rec), indexing="ij")
    pre_rec, post_rec = np.meshgrid(np.arange(config.n_rec), np.arange(config.n_rec), indexing="ij")
    no_autapse = post_rec != pre_rec
    post_out, pre_out = np.meshgrid(np.arange(config.n_out), np.arange(config.n_rec), indexing="ij")
    return {
        "in": (pre_in.ravel(), post_in.ravel()),
        "rec": (pre_rec[no_autapse], post_rec[no_autapse]),
        "out": (pre_out.ravel(), post_out.ravel()),
    }


def post_major_connectivity(config):
    """The synapse order before :data:`SYNAPSE_ORDER` (input and recurrent synapses by postsynaptic
    neuron), for reading state arrays written in it."""
    post_in, pre_in = np.meshgrid(np.arange(config.n_rec), np.arange(config.n_in), indexing="ij")
    post_rec, pre_rec = np.meshgrid(np.arange(config.n_rec), np.arange(config.n_rec), indexing="ij")
    no_autapse = post_rec != pre_rec
    return {"in": (pre_in.ravel(), post_in.ravel()), "rec": (pre_rec[no_autapse], post_rec[no_autapse]),
            "out": connectivity(config)["out"]}


def matrix_to_synapses(matrix, pre, post):
    """Values of a ``[post, pre]`` matrix in synapse order."""
    return np.asarray(matrix)[post, pre]


def synapses_to_matrix(values, pre, post, shape):
    """A ``[post, pre]`` matrix from values in synapse order (zeros where unconnected)."""
    matrix = np.zeros(shape)
    matrix[post, pre] = values
    return matrix


PLASTIC_SYNAPSE_EQS = """
w : volt               # synaptic weight
grad : 1/volt          # accumulated gradient dE/dw of the current batch
""" + optimizers.brian2_state_equations(b2.volt)

ONLINE_SYNAPSE_EQS = """
ebar : 1/volt          # eligibility trace filtered with the readout's kappa
esum : 1/volt          # eligibility trace summed over the trial (regularization)
"""

ALIF_SYNAPSE_EQS = """
eps_a : 1/volt         # adaptation component of the eligibility vector
"""

READOUT_SYNAPSE_EQS = """
w : 1                  # readout weight W_out[k, j]
B : 1                  # feedback weight B[j, k]
grad : 1               # accumulated gradient dE/dW_out of the current batch
""" + optimizers.brian2_state_equations(1) + """fb_symmetric : 1 (constant)   # 1: B is kept equal to w
fb_adaptive : 1 (constant)    # 1: B receives the updates of w
L_pre = B*err_post : 1 (summed)
"""

#: Eligibility ``e_now`` of one step and its readout-filtered trace ``ebar`` (Bellec et al. 2020, Methods
#: eqs. 23-25; ``trace`` is xbar or zbar), shared with :mod:`brian2learn.plasticity.eprop_reward`.
LIF_ELIGIBILITY_TRACE = """
e_now = psi_post*input_scale*{trace}_pre
ebar = kappa*ebar + (1 - kappa)*e_now
"""
ALIF_ELIGIBILITY_TRACE = """
eps_a = psi_prev_post*input_scale*{trace}_prev_pre + (rho - beta_post*psi_prev_post)*eps_a
e_now = psi_post*(input_scale*{trace}_pre - beta_post*eps_a)
ebar = kappa*ebar + (1 - kappa)*e_now
"""
ONLINE_GRADIENT_STEP = """grad += L_post*ebar
esum += e_now
"""
LIF_ELIGIBILITY_STEP = LIF_ELIGIBILITY_TRACE + ONLINE_GRADIENT_STEP
ALIF_ELIGIBILITY_STEP = ALIF_ELIGIBILITY_TRACE + ONLINE_GRADIENT_STEP

READOUT_GRADIENT_STEP = "grad += err_post*zfilt_pre"

REGULARIZATION_SIGNAL = "L_reg = c_reg*(n_spikes/(n_steps*dt_ms) - f_target_per_ms)/(n_steps*dt_ms)"

#: Closed form of the trial's gradient (engine 'trial_end'), see eprop_trial_end.
STORE_NEURON_HISTORY = """
history_write = store_psi(i, (int(t/dt + 0.5)) % n_steps, psi*volt)
history_write += store_L(i, (int(t/dt + 0.5)) % n_steps, L)
"""
STORE_RECURRENT_HISTORY = STORE_NEURON_HISTORY + "history_write += store_zbar(i, (int(t/dt + 0.5)) % n_steps, zbar)\n"
STORE_INPUT_HISTORY = "history_write = store_xbar(i, (int(t/dt + 0.5)) % n_steps, xbar)"
#: The event-driven form (engine 'event'): the steps at which a spike enters each trace. An input's x^t
#: enters xbar^t; a recurrent neuron's z^t enters zbar^{t+1} (zbar is updated before the threshold with the
#: last step's z), and a spike in the trial's last step never enters it (the traces restart each trial).
STORE_RECURRENT_EVENTS = STORE_NEURON_HISTORY + """
step_now = (int(t/dt + 0.5)) % n_steps
history_write += store_zbar(i, step_now, (step_now + 1) % n_steps, z*int(step_now < n_steps - 1))
"""
STORE_INPUT_EVENTS = "history_write = store_xbar(i, (int(t/dt + 0.5)) % n_steps, (int(t/dt + 0.5)) % n_steps, x)"
TRIAL_END_ADJOINT = "history_write = adjoint(i, L_reg, beta/volt)"
TRIAL_END_GRADIENT = "grad += input_scale*{dot}(i, j)/volt"

#: NEST's late learning signal (EpropConfig.nest_late_learning_signal): whether an input channel
#: spikes in step 1 of the next trial, read at the trial boundary (step k*n_steps + 1).
NEXT_TRIAL_FIRST_INPUT = "late_signal = input_stimulus((((int(t/dt + 0.5)) + 1) % period_steps)*dt, i)"
LATE_SIGNAL_TRIAL_END = "grad -= late_signal_pre*L_post*ebar\n"

PLASTIC_TRIAL_END = """
grad += L_reg_post*esum
ebar = 0/volt
esum = 0/volt
"""

#: The learning rate of each batch-boundary update: a TimedArray that the trainer fills per run
#: (0: no update, e.g. the runs that only sum gradients).
LEARNING_RATE_EXPRESSION = "learning_rate_schedule(t)"
#: Groups whose weights ``EpropConfig.weight_clip`` clips.
CLIPPED_GROUPS = ("in", "rec")


def optimizer_spec(config, group_prefix=""):
    """The optimizer of ``config`` as an :class:`~brian2learn.plasticity.optimizers.OptimizerSpec`.

    Groups ``'in'``, ``'rec'`` (weights in volt, clipped to ``weight_clip``) and ``'out'``; the
    batch-boundary operation of :class:`EpropNetwork` is its Brian2 form, the data-parallel driver
    uses its numpy form. ``group_prefix`` names the groups otherwise (``'w_'``: the weights of
    :func:`brian2learn.plasticity.bptt.train_bptt`).
    """
    clip = None if config.weight_clip is None else tuple(float(bound / b2.volt) for bound in config.weight_clip)
    return optimizers.OptimizerSpec(
        optimizer=config.optimizer, learning_rate=float(config.learning_rate), adam_beta1=config.adam_beta1,
        adam_beta2=config.adam_beta2, adam_epsilon=config.adam_epsilon, adam_epsilon_form=config.adam_epsilon_form,
        weight_clip=clip, weight_clip_groups=tuple(group_prefix + group for group in CLIPPED_GROUPS))


def optimizer_code(config):
    """Brian2 form of the optimizer step of each group (``'in'``, ``'rec'``, ``'out'``), see :func:`optimizer_spec`."""
    spec = optimizer_spec(config)
    return {group: optimizers.brian2_code(spec, group, weight_unit=unit, rate_expression=LEARNING_RATE_EXPRESSION,
                                          batch_size=config.batch_size)
            for group, unit in (("in", b2.volt), ("rec", b2.volt), ("out", 1))}


FEEDBACK_UPDATE = """
B = fb_symmetric*w + (1 - fb_symmetric)*(B + fb_adaptive*(delta_w - apply_update*feedback_decay*B))
"""


class EpropNetwork:
    """The Brian2 objects of an e-prop network for a fixed number of trials per run.

    Parameters
    ----------
    config : EpropConfig
    n_trials : int
        Trials simulated per run (a multiple of ``config.batch_size``).
    n_distinct : int
        Number of distinct trials in the stimulus arrays; trial ``k`` uses stimulus
        ``k % n_distinct``.
    record_spikes, record_output : bool
        Whether to record spikes of inputs and recurrent neurons, and the readout traces.
    record_recurrent : sequence of int
        Recurrent neurons whose ``v`` and ``a`` are recorded in every step.
    name : str
        Prefix of the Brian2 object names.

    Notes
    -----
    The objects are created with placeholder state; :meth:`state_variables` and
    :meth:`stimulus_arrays` name what a run takes (for ``run_args`` in standalone or for
    direct assignment on the runtime device).
    """

    def __init__(self, config, n_trials, n_distinct=1, record_spikes=True, record_output=True,
                 record_recurrent=(), name="eprop"):
        if n_trials % config.batch_size:
            raise ValueError(
                f"'n_trials' ({n_trials}) must be a multiple of 'batch_size' ({config.batch_size})"
            )
        if n_trials % n_distinct:
            raise ValueError(f"'n_trials' ({n_trials}) must be a multiple of 'n_distinct' ({n_distinct})")
        self.config = config
        self.n_trials = n_trials
        self.n_distinct = n_distinct
        self.n_batches = n_trials // config.batch_size
        dt = config.dt
        self.dt = dt
        self.trial_duration = config.n_steps * dt
        constants = eprop_neurons.discrete_constants(config.neuron_params)
        period_steps = n_distinct * config.n_steps
        # Trial and batch operations run on their own clocks, which must stay in step with dt.
        check_clock_lockstep(dt, config.n_steps, n_trials)
        check_clock_lockstep(dt, config.n_steps * config.batch_size, self.n_batches)

        self.input_stimulus = b2.TimedArray(np.zeros((period_steps, config.n_in)), dt=dt,
                                            name=f"{name}_input_stimulus")
        self.target_stimulus = b2.TimedArray(np.zeros((period_steps, config.n_out)), dt=dt,
                                             name=f"{name}_target_stimulus")
        self.window_stimulus = b2.TimedArray(np.zeros(period_steps), dt=dt,
                                             name=f"{name}_window_stimulus")
        self.learning_rate_schedule = b2.TimedArray(
            np.zeros(self.n_batches + 1), dt=config.batch_size * self.trial_duration,
            name=f"{name}_learning_rate_schedule",
        )
        namespace = {
            **constants,
            "v_th": config.neuron_params["v_th"],
            "gamma": float(config.neuron_params["gamma"]),
            "period_steps": period_steps,
            "n_steps": config.n_steps,
            "dt_ms": float(dt / b2.ms),
            "c_reg": float(config.c_reg),
            "f_target_per_ms": float(config.f_target * b2.ms),
            "batch_size": config.batch_size,
            "feedback_decay": config.feedback_decay,
            "input_stimulus": self.input_stimulus,
            "target_stimulus": self.target_stimulus,
            "window_stimulus": self.window_stimulus,
            "learning_rate_schedule": self.learning_rate_schedule,
            **weight_level_namespace(config.weight_levels),
        }
        update_code = optimizer_code(config)
        for code in update_code.values():
            namespace.update(code.namespace)
        trial_end = config.engine in ("trial_end", "event")
        event = config.engine == "event"
        if trial_end:
            self.histories = TrialHistories(name, config.n_steps, config.n_in, config.n_rec,
                                            constants["kappa"], constants["rho"],
                                            last_signal_term=config.nest_late_learning_signal,
                                            event_driven=event, alpha=constants["alpha"] if event else None)
            namespace.update(self.histories.functions)
        self.namespace = namespace
        lookup = "((int(t/dt + 0.5)) % period_steps)*dt"
        trial_dt = self.trial_duration
        batch_dt = config.batch_size * self.trial_duration
        # one clock per rhythm: Brian2's standalone scheduler looks every object's clock up among the clocks
        # due at each step, so sharing three clocks (instead of one per group and per run_regularly) makes
        # each step cheaper; times and order of execution are the same
        step_clock = b2.Clock(dt=dt, name=f"{name}_step_clock")
        trial_clock = b2.Clock(dt=trial_dt, name=f"{name}_trial_clock")
        batch_clock = b2.Clock(dt=batch_dt, name=f"{name}_batch_clock")
        per_step = []  # objects that act in every step (inactive in the closing step)

        # Input channels: stimulus from a TimedArray, with the alpha-trace of e-prop.
        self.inputs = b2.NeuronGroup(
            config.n_in,
            """
            x : 1          # input spike of this step (0 or 1)
            xbar : 1       # low-pass (alpha) of x
            xbar_prev : 1  # xbar of the previous step
            history_write : 1  # return value of the history functions (engine 'trial_end')
            late_signal : 1  # 1: spikes in step 1 of the next trial (nest_late_learning_signal)
            """,
            threshold="x > 0.5", reset="", clock=step_clock, namespace=namespace, name=f"{name}_inputs",
        )
        per_step.append(self.inputs.run_regularly(
            f"""
            x = input_stimulus({lookup}, i)
            xbar_prev = xbar
            xbar = alpha*xbar + x
            """, when="before_groups", name=f"{name}_inputs_step"))
        per_step.append(self.inputs.thresholder["spike"])

        # Recurrent LIF/ALIF neurons.
        self.recurrent = b2.NeuronGroup(
            config.n_rec,
            eprop_neurons.RECURRENT_EQS + "L : 1  # learning signal of this step\n"
            "L_reg : 1  # regularization signal of the trial\n"
            "history_write : 1  # return value of the history functions (engine 'trial_end')\n",
            threshold=eprop_neurons.RECURRENT_THRESHOLD,
            reset=eprop_neurons.RECURRENT_RESET,
            clock=step_clock, namespace=namespace, name=f"{name}_recurrent",
        )
        self.recurrent.beta = config.beta
        per_step.append(self.recurrent.run_regularly(
            eprop_neurons.RECURRENT_STEP, when="groups", name=f"{name}_recurrent_step"))
        per_step.append(self.recurrent.thresholder["spike"])
        per_step.append(self.recurrent.resetter["spike"])
        per_step.append(self.recurrent.run_regularly(
            eprop_neurons.RECURRENT_READOUT_TRACE, when="after_resets", order=0,
            name=f"{name}_recurrent_readout_trace"))

        # Readout neurons.
        readout_eqs = eprop_neurons.READOUT_EQS
        if config.loss == "softmax":
            readout_eqs += eprop_neurons.READOUT_SOFTMAX_EQS
        self.readout = b2.NeuronGroup(config.n_out, readout_eqs, clock=step_clock, namespace=namespace,
                                      name=f"{name}_readout")
        target_lookup = f"""
            y_target = target_stimulus({lookup}, i)
            window = window_stimulus({lookup})
            """
        if config.loss == "mse":
            per_step.append(self.readout.run_regularly(
                target_lookup + eprop_neurons.READOUT_STEP_MSE, when="after_resets", order=2,
                name=f"{name}_readout_step"))
        else:
            per_step.append(self.readout.run_regularly(
                target_lookup + eprop_neurons.READOUT_STEP_SOFTMAX_INTEGRATE, when="after_resets",
                order=2, name=f"{name}_readout_integrate"))
            self.softmax_sum = b2.Synapses(
                self.readout, self.readout, "exp_sum_post = exp(y_pre) : 1 (summed)",
                clock=step_clock, namespace=namespace, name=f"{name}_softmax_sum")
            self.softmax_sum.connect()
            schedule(self.softmax_sum.summed_updaters["exp_sum_post"], "after_resets", 3)
            per_step.append(self.softmax_sum.summed_updaters["exp_sum_post"])
            per_step.append(self.readout.run_regularly(
                eprop_neurons.READOUT_STEP_SOFTMAX_ERROR, when="after_resets", order=4,
                name=f"{name}_readout_error"))

        # Plastic input and recurrent synapses.
        eligibility = ALIF_ELIGIBILITY_STEP if config.adaptive else LIF_ELIGIBILITY_STEP
        synapse_eqs = PLASTIC_SYNAPSE_EQS
        if not trial_end:
            synapse_eqs += ONLINE_SYNAPSE_EQS + (ALIF_SYNAPSE_EQS if config.adaptive else "")
        conn = connectivity(config)
        self.connectivity = conn
        self.synapses_in = b2.Synapses(
            self.inputs, self.recurrent, synapse_eqs,
            on_pre=f"I_in_post += {held_weight_code('in', config.weight_levels)}",
            clock=step_clock, namespace=namespace, name=f"{name}_synapses_in")
        self.synapses_rec = b2.Synapses(
            self.recurrent, self.recurrent, synapse_eqs,
            on_pre=f"I_rec_post += {held_weight_code('rec', config.weight_levels)}",
            clock=step_clock, namespace=namespace, name=f"{name}_synapses_rec")
        self.synapses_out = b2.Synapses(self.recurrent, self.readout, READOUT_SYNAPSE_EQS,
                                        on_pre=f"I_out_post += {held_weight_code('out', config.weight_levels)}",
                                        clock=step_clock, namespace=namespace, name=f"{name}_synapses_out")
        for syn, key in ((self.synapses_in, "in"), (self.synapses_rec, "rec"), (self.synapses_out, "out")):
            pre, post = conn[key]
            syn.connect(i=pre, j=post)
        # Input spikes of step t reach I_in before the neuron update of step t; recurrent
        # spikes of step t (synapses slot) reach I_rec for the update of step t+1. Event-driven
        # delivery costs a fraction of a summed variable over all synapses.
        schedule(self.inputs.thresholder["spike"], "before_groups", 1)
        schedule(self.synapses_in.pre, "before_groups", 2)
        per_step += [self.synapses_in.pre, self.synapses_rec.pre]
        # Readout input W_out z^t arrives with the spikes of step t (synapses slot).
        schedule(self.synapses_out.summed_updaters["L_pre"], "after_resets", 5)
        per_step += [self.synapses_out.pre, self.synapses_out.summed_updaters["L_pre"]]

        if trial_end:
            per_step.append(self.recurrent.run_regularly(
                STORE_RECURRENT_EVENTS if event else STORE_RECURRENT_HISTORY, when="after_resets", order=6,
                name=f"{name}_recurrent_history"))
            per_step.append(self.inputs.run_regularly(
                STORE_INPUT_EVENTS if event else STORE_INPUT_HISTORY, when="after_resets", order=6,
                name=f"{name}_inputs_history"))
        else:
            per_step.append(self.synapses_in.run_regularly(
                eligibility.format(trace="xbar"), when="after_resets", order=6,
                name=f"{name}_synapses_in_eligibility"))
            per_step.append(self.synapses_rec.run_regularly(
                eligibility.format(trace="zbar"), when="after_resets", order=6,
                name=f"{name}_synapses_rec_eligibility"))
        per_step.append(self.synapses_out.run_regularly(
            READOUT_GRADIENT_STEP, when="after_resets", order=6, name=f"{name}_synapses_out_gradient"))

        # Trial boundaries: per-trial records (order -1), regularization signal (0), the
        # trial's closed-form gradient (1, 2; engine 'trial_end') or the regularization term
        # of the online traces (2), reset of the neurons (3); batch boundaries: optimizer
        # step (4).
        self.trial_loss_monitor = b2.StateMonitor(self.readout, ["loss", "vote"], record=True, clock=trial_clock,
                                                  when="start", order=-1, name=f"{name}_trial_loss")
        self.trial_spike_count_monitor = b2.StateMonitor(
            self.recurrent, "n_spikes", record=True, clock=trial_clock, when="start", order=-1,
            name=f"{name}_trial_spike_count")
        self.recurrent.run_regularly(REGULARIZATION_SIGNAL, clock=trial_clock, when="start", order=0,
                                     name=f"{name}_regularization_signal")
        late = config.nest_late_learning_signal
        if late:
            self.inputs.run_regularly(NEXT_TRIAL_FIRST_INPUT, clock=trial_clock, when="start", order=1,
                                      name=f"{name}_inputs_next_trial")
        if trial_end:
            self.recurrent.run_regularly(TRIAL_END_ADJOINT, clock=trial_clock, when="start", order=1,
                                         name=f"{name}_recurrent_adjoint")
            input_gradient = (TRIAL_END_GRADIENT.format(dot="dot_in") if not late else
                              "grad += input_scale*dot_in_without_last(i, j, late_signal_pre)/volt")
            for syn, code in ((self.synapses_in, input_gradient),
                              (self.synapses_rec, TRIAL_END_GRADIENT.format(dot="dot_rec"))):
                syn.run_regularly(code, clock=trial_clock, when="start", order=2, name=f"{syn.name}_trial_end")
        else:
            plastic_trial_end = PLASTIC_TRIAL_END + ("eps_a = 0/volt\n" if config.adaptive else "")
            for syn in (self.synapses_in, self.synapses_rec):
                code = (LATE_SIGNAL_TRIAL_END if late and syn is self.synapses_in else "") + plastic_trial_end
                syn.run_regularly(code, clock=trial_clock, when="start", order=2, name=f"{syn.name}_trial_end")
        self.recurrent.run_regularly(
            """
            v = 0*volt
            I_in = 0*volt
            I_rec = 0*volt
            a = 0
            z = 0
            psi = 0/volt
            psi_prev = 0/volt
            refractory_left = 0
            blocked = 0
            zbar = 0
            zbar_prev = 0
            zfilt = 0
            n_spikes = 0
            """, clock=trial_clock, when="start", order=3, name=f"{name}_recurrent_trial_reset")
        self.readout.run_regularly("y = 0\nerr = 0\nloss = 0\nvote = 0", clock=trial_clock, when="start", order=3,
                                   name=f"{name}_readout_trial_reset")
        self.inputs.run_regularly("xbar = 0\nxbar_prev = 0", clock=trial_clock, when="start", order=3,
                                  name=f"{name}_inputs_trial_reset")

        for syn, group in ((self.synapses_in, "in"), (self.synapses_rec, "rec")):
            syn.run_regularly(update_code[group].code, clock=batch_clock, when="start", order=4,
                              name=f"{syn.name}_update")
        self.synapses_out.run_regularly(update_code["out"].code + FEEDBACK_UPDATE, clock=batch_clock,
                                        when="start", order=4, name=f"{name}_synapses_out_update")

        if record_spikes:
            self.spike_monitor_inputs = b2.SpikeMonitor(self.inputs, name=f"{name}_spikes_inputs")
            self.spike_monitor_recurrent = b2.SpikeMonitor(self.recurrent, name=f"{name}_spikes_recurrent")
            per_step += [self.spike_monitor_inputs, self.spike_monitor_recurrent]
        else:
            self.spike_monitor_inputs = self.spike_monitor_recurrent = None
        if record_output:
            self.output_monitor = b2.StateMonitor(self.readout, ["y", "y_target"], record=True,
                                                  when="end", name=f"{name}_output")
            per_step.append(self.output_monitor)
        else:
            self.output_monitor = None
        if len(record_recurrent):
            self.recurrent_monitor = b2.StateMonitor(self.recurrent, ["v", "a"], record=list(record_recurrent),
                                                     when="end", name=f"{name}_recurrent_state")
            per_step.append(self.recurrent_monitor)
        else:
            self.recurrent_monitor = None
        self.per_step_objects = per_step
        self.network = b2.Network(
            [obj for obj in vars(self).values() if isinstance(obj, (b2.Group, b2.SpikeMonitor, b2.StateMonitor))]
        )


    def run(self):
        """Simulate all trials, then one closing step that finishes the last trial and batch.

        The trial and batch boundary operations act at the start of a trial; the closing
        step runs them once more (with the per-step dynamics switched off) so that the
        last trial's regularization term and the last batch's update are applied.
        """
        self.network.run(self.n_trials * self.trial_duration, namespace={})
        for obj in self.per_step_objects:
            obj.active = False
        self.network.run(self.dt, namespace={})
        for obj in self.per_step_objects:
            obj.active = True

    # What a run takes and gives -------------------------------------------------------
    def state_variables(self):
        """The variables that carry the learning state from run to run, by name."""
        names = {
            "w_in": (self.synapses_in, "w"), "w_rec": (self.synapses_rec, "w"),
            "w_out": (self.synapses_out, "w"), "B": (self.synapses_out, "B"),
            "fb_symmetric": (self.synapses_out, "fb_symmetric"),
            "fb_adaptive": (self.synapses_out, "fb_adaptive"),
        }
        for key, syn in (("in", self.synapses_in), ("rec", self.synapses_rec), ("out", self.synapses_out)):
            for var in ("adam_m", "adam_v", "adam_k", "grad"):
                names[f"{var}_{key}"] = (syn, var)
        return names

    def stimulus_arrays(self):
        """The TimedArrays a run takes, by name."""
        return {
            "inputs": self.input_stimulus,
            "targets": self.target_stimulus,
            "window": self.window_stimulus,
            "learning_rate": self.learning_rate_schedule,
        }


READOUT_INITS = ("normal", "glorot_uniform")


def initial_weights(config, seed, readout_init="normal"):
    """Initial weights as in the reference code of Bellec et al. (2020).

    :math:`W^{in} \\sim N(0, 1)/\\sqrt{n_{in}}`, :math:`W^{rec} \\sim N(0, 1)/\\sqrt{n_{rec}}`
    (no autapses), drawn in this order from ``numpy.random.default_rng(seed)``, then
    :math:`W^{out}`: ``readout_init='normal'`` draws :math:`N(0, 1)/\\sqrt{n_{rec}}` (the
    pattern-generation tutorial); ``'glorot_uniform'`` draws
    :math:`U(-l, l)`, :math:`l = \\sqrt{6/(n_{rec} + n_{out})}` (TensorFlow's default
    initializer, which the evidence-accumulation tutorial uses). ``w_in`` and ``w_rec`` are
    in volt (as floats).
    """
    if readout_init not in READOUT_INITS:
        raise ValueError(f"unknown readout_init {readout_init!r}; allowed: {', '.join(READOUT_INITS)}")
    rng = np.random.default_rng(seed)
    w_in = rng.normal(size=(config.n_rec, config.n_in)) / np.sqrt(config.n_in)
    w_rec = rng.normal(size=(config.n_rec, config.n_rec)) / np.sqrt(config.n_rec)
    np.fill_diagonal(w_rec, 0.0)
    if readout_init == "normal":
        w_out = rng.normal(size=(config.n_out, config.n_rec)) / np.sqrt(config.n_rec)
    else:
        limit = np.sqrt(6.0 / (config.n_rec + config.n_out))
        w_out = rng.uniform(-limit, limit, size=(config.n_out, config.n_rec))
    return {"w_in": w_in, "w_rec": w_rec, "w_out": w_out}


def random_feedback(config, seed, scale=None):
    """Fixed random feedback weights :math:`B \\sim N(0, 1) \\cdot` ``scale``, shape (n_rec, n_out).

    ``scale`` defaults to :math:`1/\\sqrt{n_{rec}}` (the pattern-generation tutorial of
    Bellec et al. 2020); their evidence-accumulation tutorial draws ``B`` with ``scale=1``.
    The scale matters: with Adam only the ratio of the task's learning signal to the
    firing-rate regularization changes the updates, and ``B`` sets that ratio.
    """
    scale = 1.0 / np.sqrt(config.n_rec) if scale is None else float(scale)
    if not scale > 0:
        raise ValueError(f"'scale' of the random feedback must be positive, got {scale!r}")
    rng = np.random.default_rng([seed, 1])
    return rng.normal(size=(config.n_rec, config.n_out)) * scale
