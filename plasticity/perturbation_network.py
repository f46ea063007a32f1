"""Weight perturbation (WP) and node perturbation (NP) of any weights that live in Brian2 Synapses.

Jabri & Flower (1991), "Weight perturbation: an optimal architecture and learning technique for
analog VLSI feedforward and recurrent multilayer networks", Neural Comput 3:546,
doi:10.1162/neco.1991.3.4.546; Fiete & Seung (2006), "Gradient learning in spiking neural networks
by dynamic perturbation of conductances", Phys Rev Lett 97:048104, doi:10.1103/PhysRevLett.97.048104;
Züge, Klos & Memmesheimer (2023), "Weight versus node perturbation learning in temporally extended
tasks", Phys Rev X 13:021006, doi:10.1103/PhysRevX.13.021006.

:mod:`brian2learn.plasticity.perturbation` trains a linear readout, whose linearity lets it compute
the unperturbed and the perturbed output in one pass. This module makes no assumption on the
network: it adds the rules to any Brian2 model whose plastic weights are variables of Synapses,
rate or spiking, feedforward or recurrent, and measures both rewards by simulating the network.

Rules
-----
A trial is a task of ``T`` steps with error ``E`` (accumulated by the network's output neurons, e.g.
``E = (1/2T) sum_t sum_k (y_k(t) - y*_k(t))^2``) and reward ``R = -E``:

- **WP**: at the start of a trial every plastic weight of a learner draws ``xi_ij ~ N(0, sigma^2)``;
  the network runs with ``w + xi`` (the synaptic variable ``w_eff`` that the model's equations use);
  after the trial ``dw_ij = eta (R_pert - R_ref) xi_ij / sigma^2``.
- **NP**: in every step of a trial each plastic neuron draws ``xi_i(t) ~ N(0, sigma^2)`` (the
  neuron variable ``pert``), which the model adds to the neuron's input at the place where the
  weights act (for a rate unit, its summed input; for a spiking neuron, its synaptic current, Fiete
  & Seung 2006); the synapse accumulates ``e_ij = sum_t xi_i(t) a_j(t)``, ``a_j(t)`` the presynaptic
  quantity the weight multiplies (a rate, or a synaptic trace); after the trial
  ``dw_ij = eta (R_pert - R_ref) e_ij / sigma^2``.

Both are unbiased estimates of ``eta grad_w R`` for small ``sigma``: for WP,
``<(R(w + xi) - R(w)) xi / sigma^2> = grad R + O(sigma^2)``; for NP the same holds with the
perturbations of the neurons' inputs, whose chain rule through ``a_j`` gives ``e_ij``.

*Discrete weights* (hardware with weights at a few levels, Jabri & Flower 1991): with ``w_level > 0`` a synapse
runs with its weight rounded to the nearest of the levels ``k w_level``, ``|k| <= w_limit``
(:func:`discrete_levels`), while ``w`` accumulates the updates at full precision; the WP perturbation is added to
the rounded weight.

Reference reward
----------------
- ``reference='unperturbed'``: every trial has two *passes* of ``T`` steps: an unperturbed pass that
  gives ``R_ref`` and a perturbed pass that gives ``R_pert`` (the protocol of Züge et al.'s code). The
  network's state must be reset at every pass start (:meth:`PerturbationLearning.add_reset`): both
  passes then see the same initial state and inputs, and a deterministic network makes
  ``R_pert - R_ref`` the effect of the perturbation alone.
- ``reference='average'``: one perturbed pass per trial; ``R_ref`` is the running average
  ``R_bar <- R_bar + (1 - decay)(R_pert - R_bar)``, started at the first trial's ``R_pert`` (that trial
  does not learn).

Learners
--------
``n_learners`` independent learners (network replicas) run side by side, each with its own
``eta``, ``sigma``, rule (``np_rule``: 0 WP, 1 NP) and ``random_scale`` (1: Gaussian perturbations;
0: a deterministic sequence of unit variance, ``sqrt(2) sin(phase + c k)``, identical on both
devices). The rule is a value, not code: one build trains WP and NP learners. Every neuron of a
plastic or output group belongs to one learner (``learner_of``).

Brian2 code and schedule
------------------------
A pass boundary (a clock of ``T`` steps, slot ``start``) runs, in order: the output neurons' errors
summed per learner (order 0) and recorded (1); the learners store ``E_ref`` or ``E_pert`` and, at the
end of a trial, compute ``dR`` (2), recorded per trial (3); ``dR``, ``eta``, ``sigma``, ``np_rule``,
``random_scale`` copied to the plastic neurons by summed variables (4), which set ``perturbing``
for the new pass (5); the synapses apply the update at the end of a trial, draw the next ``xi`` and
set ``w_eff`` (6); the outputs reset their error accumulators (7) and the model its state (8). In
each step, NP neurons draw ``pert`` (``before_groups``) and the synapses accumulate ``elig`` (slot of
the model's choice, after ``pert`` and the presynaptic quantity of the step are in place).

Random numbers are seeded like :mod:`brian2learn.plasticity.perturbation`: a ``seed`` variable that
the standalone binary reads at every run.

Use
---
Create a :class:`PerturbationLearning`, build the model's groups with its namespace and the
equation fragments :data:`PLASTIC_NEURON_EQS`, :data:`PLASTIC_SYNAPSE_EQS`, :data:`OUTPUT_EQS`,
register them (:meth:`~PerturbationLearning.add_output`, :meth:`~PerturbationLearning.add_plastic`,
:meth:`~PerturbationLearning.add_reset`) and wrap everything in a :class:`PerturbationModel`;
:class:`~brian2learn.training.perturbation_network.PerturbationNetworkTrainer` trains it in runs of
one build, carrying weights and running averages between runs. :func:`linear_readout_model` is a
complete example (a readout of replayed inputs) and :mod:`brian2learn.plasticity.xor_network` (a
sigmoid network) another.
"""


import brian2 as b2
import numpy as np

from brian2learn.models.weight_levels import held_code
from brian2learn.plasticity.perturbation import REFERENCES, RULES
from brian2learn.simulation.devices import (
    STEP_DT,
    check_clock_lockstep,
    schedule,
    seed_run,
)

#: Variables of a neuron group whose incoming weights are plastic (add to the group's equations).
PLASTIC_NEURON_EQS = """
eta : 1                        # learning rate of the neuron's learner (copied at pass boundaries)
sigma : 1                      # perturbation strength of the learner
np_rule : 1                    # 1: node perturbation, 0: weight perturbation
random_scale : 1               # 1: Gaussian perturbations; 0: deterministic sequence
dR : 1                         # R_pert - R_ref of the learner's last trial
perturbing : 1                 # 1 during a perturbed pass, 0 during a reference pass
pert : 1                       # node perturbation of this step (0 unless NP and perturbing)
pert_phase : 1 (constant)      # phase of the deterministic sequence
"""

#: Variables of plastic Synapses (add to the synapse model; the model's equations use ``w_eff``).
PLASTIC_SYNAPSE_EQS = """
w : 1                          # weight
w_eff : 1                      # weight in effect: w, or w + dw_pert in a perturbed pass of WP
w_level : 1 (constant)         # spacing of discrete weight levels (0: w in effect at full precision)
w_limit : 1 (constant)         # number of levels of each sign (the weights in effect lie within +-w_limit*w_level)
dw_pert : 1                    # weight perturbation xi of this trial (WP)
elig : 1                       # eligibility sum_t pert_post(t) a_pre(t) of this trial (NP)
pert_phase_syn : 1 (constant)  # phase of the deterministic sequence
"""

#: Variables of the neuron group that accumulates the error (the model adds ``E += ...`` per step).
OUTPUT_EQS = """
E : 1                          # error of this pass so far
"""

LEARNER_EQS = """
E_pass : 1                     # summed error of the pass that just ended
E_ref : 1                      # error of the unperturbed pass of this trial
E_pert : 1                     # error of the perturbed pass of this trial
dR : 1                         # R_pert - R_ref of the last trial
R_bar : 1                      # running average of R_pert (reference = 'average')
n_done : 1                     # trials learned so far (for the running average)
ref_decay : 1 (constant)       # decay of the running average
eta : 1 (constant)             # learning rate
sigma : 1 (constant)           # perturbation strength
np_rule : 1 (constant)         # 1: NP, 0: WP
random_scale : 1 (constant)    # 1: Gaussian perturbations, 0: deterministic sequence
"""

#: Index of the pass that begins at a boundary (``t`` a multiple of ``pass_dt``).
_PASS_INDEX = "int(t/pass_dt + 0.5)"

LEARNER_PASS_END = f"""
k_pass = {_PASS_INDEX}
finished = (k_pass + n_passes - 1) % n_passes
was_reference = int(n_passes == 2)*int(finished == 0)
E_ref = was_reference*E_pass + (1 - was_reference)*E_ref
E_pert = (1 - was_reference)*E_pass + was_reference*E_pert
gate = int(k_pass % n_passes == 0)*int(k_pass > 0)*trial_gate(t - trial_dt)
first = int(n_done < 0.5)
R_pert = -E_pert
dR = gate*((1 - ref_average)*(E_ref - E_pert) + ref_average*(1 - first)*(R_pert - R_bar))
R_bar = R_bar + gate*ref_average*(first + (1 - first)*(1 - ref_decay))*(R_pert - R_bar)
n_done = n_done + gate
"""

NEURON_PASS_START = f"perturbing = int({_PASS_INDEX} % n_passes == n_passes - 1)\n"

NP_NOISE_STEP = """
sequence = sqrt(2)*sin(pert_phase + 0.7548776662*int(t/dt + 0.5))
pert = perturbing*np_rule*sigma*(random_scale*randn() + (1 - random_scale)*sequence)
"""

SYNAPSE_PASS_START = f"""
new_trial = int({_PASS_INDEX} % n_passes == 0)
w = w + new_trial*eta_post*dR_post*(dw_pert + elig)/sigma_post**2
elig = (1 - new_trial)*elig
sequence = sqrt(2)*sin(pert_phase_syn + 2.399963229728653*int(t/trial_dt + 0.5))
draw = sigma_post*(random_scale_post*randn() + (1 - random_scale_post)*sequence)
dw_pert = new_trial*(1 - np_rule_post)*draw + (1 - new_trial)*dw_pert
w_eff = {held_code('w', 'w_level', 'w_limit', optional=True)}
w_eff = w_eff + perturbing_post*dw_pert
"""

BROADCAST_EQS = """
dR_post = dR_pre : 1 (summed)
eta_post = eta_pre : 1 (summed)
sigma_post = sigma_pre : 1 (summed)
np_rule_post = np_rule_pre : 1 (summed)
random_scale_post = random_scale_pre : 1 (summed)
"""

_PHASE_NEURON = 12.9898      # phase step of the deterministic sequence between neurons
_PHASE_SYNAPSE = 7.2360679   # phase step between synapses


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"'{name}' must be a positive integer, got {value!r}")
    return int(value)


def _has_variables(group, names, what):
    missing = [name for name in names if name not in group.variables]
    if missing:
        raise ValueError(f"{what} '{group.name}' lacks the variable(s) {', '.join(missing)}; add the "
                         f"equations of brian2learn.plasticity.perturbation_network to it")


class PerturbationLearning:
    """WP/NP learning machinery attached to the Brian2 groups of a model.

    Create it first (its :attr:`namespace` goes into the model's groups), then build the model's
    groups with the equation fragments :data:`PLASTIC_NEURON_EQS`, :data:`PLASTIC_SYNAPSE_EQS` and
    :data:`OUTPUT_EQS`, and register them with :meth:`add_output`, :meth:`add_plastic` and
    :meth:`add_reset`. :attr:`objects` then lists the Brian2 objects to add to the network.

    Parameters
    ----------
    n_steps : int
        Steps ``T`` of one pass (one presentation of the task).
    n_learners : int
        Independent learners.
    n_trials : int
        Trials simulated per run (:attr:`duration`).
    reference : {'unperturbed', 'average'}
        Where ``R_ref`` comes from (see the module documentation). Fixed at build time: it sets the
        number of passes per trial (2 or 1).
    dt : Quantity
        Step length; a power of two of seconds keeps the clocks in lock-step.
    name : str
        Prefix of the Brian2 object names.
    """

    def __init__(self, n_steps, n_learners, n_trials, reference="unperturbed", dt=STEP_DT, name="pl"):
        self.n_steps = _positive_int("n_steps", n_steps)
        self.n_learners = _positive_int("n_learners", n_learners)
        self.n_trials = _positive_int("n_trials", n_trials)
        if reference not in REFERENCES:
            raise ValueError(f"unknown reference {reference!r}; allowed: {', '.join(REFERENCES)}")
        if not isinstance(dt, b2.Quantity) or not dt.has_same_dimensions(b2.second) or float(dt) <= 0:
            raise ValueError(f"'dt' must be a positive time (e.g. 2**-10*second), got {dt!r}")
        self.reference = reference
        self.n_passes = 2 if reference == "unperturbed" else 1
        check_clock_lockstep(dt, self.n_steps, self.n_trials * self.n_passes)
        check_clock_lockstep(dt, self.n_steps * self.n_passes, self.n_trials)
        self.dt = dt
        self.name = name
        self.pass_dt = self.n_steps * dt
        self.trial_dt = self.n_passes * self.pass_dt
        #: Simulated time of a run: all trials and one closing step whose boundary applies the last update.
        self.duration = self.n_trials * self.trial_dt + dt
        self.trial_gate = b2.TimedArray(np.ones(self.n_trials), dt=self.trial_dt, name=f"{name}_trial_gate")
        self.namespace = {"n_steps": self.n_steps, "n_passes": self.n_passes, "pass_dt": self.pass_dt,
                          "trial_dt": self.trial_dt, "trial_gate": self.trial_gate,
                          "ref_average": float(reference == "average")}
        #: Expression of the time of the current step within its pass (for TimedArray lookups).
        self.step_lookup = "((int(t/dt + 0.5)) % n_steps)*dt"
        self.rng = b2.NeuronGroup(1, "seed : integer", dt=dt, name=f"{name}_rng")
        self.learners = b2.NeuronGroup(self.n_learners, LEARNER_EQS, dt=self.pass_dt, namespace=self.namespace,
                                       name=f"{name}_learners")
        self.learners.ref_decay = 0.9
        self.learners.random_scale = 1.0
        self.learners.run_regularly(LEARNER_PASS_END, when="start", order=2, name=f"{name}_learners_pass_end")
        self.trial_monitor = b2.StateMonitor(self.learners, ["E_ref", "E_pert", "dR"], record=True,
                                             dt=self.trial_dt, when="start", order=3, name=f"{name}_trial_monitor")
        self.objects = [self.rng, self.learners, self.trial_monitor]
        self.output = None
        self.output_monitor = None
        self.plastic_groups = {}   # group name -> (group, broadcast synapses)
        self.plastic_synapses = {}  # synapses name -> synapses
        self._phase_offset = 0

    # -- registration ----------------------------------------------------------------------------
    def _learner_index(self, group, learner_of):
        index = np.asarray(learner_of)
        if index.shape != (len(group),) or not np.issubdtype(index.dtype, np.integer):
            raise ValueError(f"'learner_of' of '{group.name}' must be {len(group)} integers, got shape {index.shape}")
        if index.min() < 0 or index.max() >= self.n_learners:
            raise ValueError(f"'learner_of' of '{group.name}' must lie in [0, n_learners = {self.n_learners})")
        return index

    def add_output(self, group, learner_of, metrics=()):
        """Register the neuron group whose ``E`` (accumulated by the model over a pass) is the error.

        ``E`` and the variables named in ``metrics`` are recorded at the end of every pass and reset
        to 0 at its start; each learner's error is the sum of ``E`` over its neurons.
        """
        if self.output is not None:
            raise ValueError("only one output group can be registered")
        _has_variables(group, ["E", *metrics], "the output group")
        index = self._learner_index(group, learner_of)
        sums = b2.Synapses(group, self.learners, "E_pass_post = E_pre : 1 (summed)", dt=self.pass_dt,
                           name=f"{self.name}_error_sums")
        sums.connect(i=np.arange(len(group)), j=index)
        schedule(sums.summed_updaters["E_pass_post"], "start", 0)
        self.output_monitor = b2.StateMonitor(group, ["E", *metrics], record=True, dt=self.pass_dt, when="start",
                                              order=1, name=f"{self.name}_output_monitor")
        reset = "\n".join(f"{var} = 0" for var in ["E", *metrics])
        group.run_regularly(reset, dt=self.pass_dt, when="start", order=7, name=f"{self.name}_output_reset")
        self.output = group
        self.output_metrics = tuple(metrics)
        self.output_learner = index
        self.objects.extend([sums, self.output_monitor])

    def _add_plastic_group(self, group, learner_of):
        if group.name in self.plastic_groups:
            return
        _has_variables(group, ["eta", "sigma", "np_rule", "random_scale", "dR", "perturbing", "pert", "pert_phase"],
                       "the postsynaptic group")
        index = self._learner_index(group, learner_of)
        broadcast = b2.Synapses(self.learners, group, BROADCAST_EQS, dt=self.pass_dt,
                                name=f"{self.name}_to_{group.name}")
        broadcast.connect(i=index, j=np.arange(len(group)))
        for var in ("dR_post", "eta_post", "sigma_post", "np_rule_post", "random_scale_post"):
            schedule(broadcast.summed_updaters[var], "start", 4)
        group.run_regularly(NEURON_PASS_START, dt=self.pass_dt, when="start", order=5,
                            name=f"{self.name}_{group.name}_pass_start")
        group.run_regularly(NP_NOISE_STEP, when="before_groups", order=self.noise_order,
                            name=f"{self.name}_{group.name}_noise")
        group.pert_phase = _PHASE_NEURON * (self._phase_offset + np.arange(len(group)))
        self._phase_offset += len(group)
        self.plastic_groups[group.name] = (group, broadcast)
        self.objects.append(broadcast)

    #: Order of the node-perturbation draw in ``before_groups`` (after inputs read at order 0).
    noise_order = 5

    def add_plastic(self, synapses, learner_of_post, activity, eligibility_when="after_groups",
                    eligibility_order=5):
        """Make the weights ``w`` of ``synapses`` plastic (WP and NP).

        Parameters
        ----------
        synapses : Synapses
            With :data:`PLASTIC_SYNAPSE_EQS`; the model uses ``w_eff`` as the weight in effect.
        learner_of_post : array of int
            Learner of every neuron of the postsynaptic group (which has :data:`PLASTIC_NEURON_EQS`
            and adds ``pert`` to its input where the weights act).
        activity : str
            Expression of the presynaptic quantity that the weight multiplies in a step (e.g.
            ``'r_pre'``, ``'s_pre'``); NP accumulates ``elig += pert_post * activity``.
        eligibility_when, eligibility_order
            Scheduling slot of that accumulation.
        """
        _has_variables(synapses, ["w", "w_eff", "w_level", "w_limit", "dw_pert", "elig", "pert_phase_syn"],
                       "the synapses")
        if synapses.name in self.plastic_synapses:
            raise ValueError(f"the synapses '{synapses.name}' are registered already")
        self._add_plastic_group(synapses.target, learner_of_post)
        synapses.run_regularly(f"elig += pert_post*({activity})", when=eligibility_when, order=eligibility_order,
                               name=f"{self.name}_{synapses.name}_eligibility")
        synapses.run_regularly(SYNAPSE_PASS_START, dt=self.pass_dt, when="start", order=6,
                               name=f"{self.name}_{synapses.name}_pass_start")
        self.plastic_synapses[synapses.name] = synapses

    def set_phases(self):
        """Phases of the deterministic WP sequences (call once the synapses are connected)."""
        offset = 0
        for syn in self.plastic_synapses.values():
            syn.pert_phase_syn = _PHASE_SYNAPSE * (offset + np.arange(len(syn)))
            offset += len(syn)

    def add_reset(self, group, code, order=8):
        """Run ``code`` on ``group`` at the start of every pass (the model's state reset)."""
        group.run_regularly(code, dt=self.pass_dt, when="start", order=order,
                            name=f"{self.name}_{group.name}_reset")


    # -- running -------------------------------------------------------------------------------------
    def run(self, network):
        """Simulate ``network`` for :attr:`duration` (seeding the random generators from ``seed``)."""
        if self.output is None or not self.plastic_synapses:
            raise ValueError("register an output group (add_output) and plastic synapses (add_plastic) first")
        self._seeded = seed_run(self.rng, getattr(self, "_seeded", False))
        network.run(self.duration, namespace={})

    def state_variables(self):
        """``seed``, the learners' ``eta``, ``sigma``, ``np_rule``, ``random_scale``, ``ref_decay``,
        ``R_bar``, ``n_done``, and for every plastic Synapses ``NAME`` its weights ``w:NAME`` and the discrete
        levels of its weights in effect, ``w_level:NAME`` and ``w_limit:NAME`` (:func:`discrete_levels`)."""
        names = {"seed": (self.rng, "seed")}
        for var in ("eta", "sigma", "np_rule", "random_scale", "ref_decay", "R_bar", "n_done"):
            names[var] = (self.learners, var)
        for syn_name, syn in self.plastic_synapses.items():
            names[f"w:{syn_name}"] = (syn, "w")
            names[f"w_level:{syn_name}"] = (syn, "w_level")
            names[f"w_limit:{syn_name}"] = (syn, "w_limit")
        return names

    def carried_variables(self):
        """Names of :meth:`state_variables` that a training carries from one run to the next."""
        return ["R_bar", "n_done", *(f"w:{name}" for name in self.plastic_synapses)]

    def stimulus_arrays(self):
        """``trial_gate`` (n_trials,): 0 skips a trial's update."""
        return {"trial_gate": self.trial_gate}


class PerturbationModel:
    """A Brian2 model with :class:`PerturbationLearning`, in the form :class:`DeviceRunner` runs.

    Parameters
    ----------
    learning : PerturbationLearning
    objects : list
        The model's own Brian2 objects.
    state_variables, stimulus_arrays : dict
        The model's own values and TimedArrays a run takes (added to the learning's).
    """

    def __init__(self, learning, objects, state_variables=None, stimulus_arrays=None, **attributes):
        learning.set_phases()
        self.learning = learning
        self.network = b2.Network([*objects, *learning.objects])
        self._state_variables = dict(state_variables or {})
        self._stimulus_arrays = dict(stimulus_arrays or {})
        for key, value in attributes.items():
            setattr(self, key, value)

    def run(self):
        self.learning.run(self.network)

    def state_variables(self):
        return {**self.learning.state_variables(), **self._state_variables}

    def stimulus_arrays(self):
        return {**self.learning.stimulus_arrays(), **self._stimulus_arrays}


class LearnerValues:
    """Learning parameters of every learner.

    Parameters
    ----------
    rule : str or sequence of str
        'wp' or 'np' for every learner (one value for all).
    eta, sigma : float or array (n_learners,)
        Learning rate and perturbation strength (> 0).
    random_scale : float
        1: Gaussian perturbations; 0: deterministic sequences (device comparisons).
    average_decay : float
        ``decay`` of the running average (reference = 'average'), in [0, 1).
    """

    def __init__(self, rule, eta, sigma, random_scale=1.0, average_decay=0.9):
        self.rule, self.eta, self.sigma = rule, eta, sigma
        self.random_scale, self.average_decay = random_scale, average_decay

    def arrays(self, n_learners):
        """Per-learner arrays ``eta``, ``sigma``, ``np_rule``, ``random_scale``, ``ref_decay``."""
        rules = [self.rule] * n_learners if isinstance(self.rule, str) else list(self.rule)
        if len(rules) != n_learners:
            raise ValueError(f"'rule' needs 1 or n_learners = {n_learners} values, got {len(rules)}")
        for rule in rules:
            if rule not in RULES:
                raise ValueError(f"unknown rule {rule!r}; allowed: {', '.join(RULES)}")
        out = {"np_rule": np.array([float(rule == "np") for rule in rules])}
        for name, value in (("eta", self.eta), ("sigma", self.sigma)):
            value = np.asarray(value, dtype=float).ravel()
            if value.size not in (1, n_learners):
                raise ValueError(f"'{name}' needs 1 or n_learners = {n_learners} values, got {value.size}")
            if not np.all(np.isfinite(value)):
                raise ValueError(f"'{name}' must be finite, got {value!r}")
            out[name] = np.broadcast_to(value, (n_learners,)).copy()
        if not np.all(out["sigma"] > 0):
            raise ValueError(f"'sigma' must be positive, got {self.sigma!r}")
        if self.random_scale not in (0, 1, 0.0, 1.0):
            raise ValueError(f"'random_scale' must be 0 or 1, got {self.random_scale!r}")
        if not 0 <= self.average_decay < 1:
            raise ValueError(f"'average_decay' must lie in [0, 1), got {self.average_decay!r}")
        out["random_scale"] = np.full(n_learners, float(self.random_scale))
        out["ref_decay"] = np.full(n_learners, float(self.average_decay))
        return out


# -- a linear readout of replayed inputs -----------------------------------------------------------------

READOUT_OUTPUT_EQS = PLASTIC_NEURON_EQS + OUTPUT_EQS + """
y : 1                          # output y_k(t) = sum_n w_eff x_n(t) + pert
y_syn : 1                      # summed sum_n w_eff x_n(t)
channel : integer (constant)   # output index k within its learner
"""

READOUT_SYNAPSE_EQS = PLASTIC_SYNAPSE_EQS + """
y_syn_post = w_eff*x_pre : 1 (summed)
"""


def readout_connectivity(n_in, n_out, n_learners):
    """Synapse ``s = (l M + k) N + n`` connects input ``n`` to output ``l M + k`` (learner ``l``, output ``k``):
    weights reshape to (n_learners, M, N)."""
    ll, kk, nn = np.meshgrid(np.arange(n_learners), np.arange(n_out), np.arange(n_in), indexing="ij")
    return nn.ravel(), (ll * n_out + kk).ravel()


def linear_readout_model(n_in, n_out, n_steps, n_learners, n_trials, reference="unperturbed", dt=STEP_DT,
                         record_learners=0, name="readout"):
    """A linear readout ``y_k(t) = sum_n W_kn x_n(t)`` of inputs replayed from a TimedArray, WP/NP-plastic.

    The inputs ``x`` (T, N) and the target ``y*`` (T, M) are the stimuli ``inputs`` and ``target`` (the
    same every pass); each learner has its own ``M`` outputs and ``M N`` weights (state variable
    ``w:{name}_synapses``, order of :func:`readout_connectivity`); the error is
    ``E = (1/2T) sum_t sum_k (y_k(t) - y*_k(t))^2``. Each step: inputs (``before_groups``, order 0),
    node perturbations (order 5), the summed ``sum_n w_eff x_n`` (``groups``, 0), ``y`` and ``E``
    (``groups``, 1), eligibilities (``after_groups``).

    ``record_learners > 0`` records, for the first learners, ``pert`` and ``y`` in every step and
    ``w``, ``dw_pert``, ``elig`` at every trial boundary before the update (``synapse_monitor``).
    """
    for label, value in (("n_in", n_in), ("n_out", n_out)):
        _positive_int(label, value)
    learning = PerturbationLearning(n_steps, n_learners, n_trials, reference=reference, dt=dt, name=name)
    inputs_array = b2.TimedArray(np.zeros((n_steps, n_in)), dt=dt, name=f"{name}_input_stimulus")
    target_array = b2.TimedArray(np.zeros((n_steps, n_out)), dt=dt, name=f"{name}_target_stimulus")
    namespace = {**learning.namespace, "readout_inputs": inputs_array, "readout_target": target_array}
    lookup = learning.step_lookup
    inputs = b2.NeuronGroup(n_in, "x : 1", dt=dt, namespace=namespace, name=f"{name}_inputs")
    inputs.run_regularly(f"x = readout_inputs({lookup}, i)", when="before_groups", order=0,
                         name=f"{name}_inputs_step")
    outputs = b2.NeuronGroup(n_learners * n_out, READOUT_OUTPUT_EQS, dt=dt, namespace=namespace,
                             name=f"{name}_outputs")
    outputs.channel = np.tile(np.arange(n_out), n_learners)
    synapses = b2.Synapses(inputs, outputs, READOUT_SYNAPSE_EQS, dt=dt, namespace=namespace, name=f"{name}_synapses")
    pre, post = readout_connectivity(n_in, n_out, n_learners)
    synapses.connect(i=pre, j=post)
    synapses.summed_updaters["y_syn_post"].when = "groups"
    synapses.summed_updaters["y_syn_post"].order = 0
    outputs.run_regularly(f"y = y_syn + pert\nE += (y - readout_target({lookup}, channel))**2/(2*n_steps)",
                          when="groups", order=1, name=f"{name}_outputs_step")
    learner_of = np.repeat(np.arange(n_learners), n_out)
    learning.add_output(outputs, learner_of)
    learning.add_plastic(synapses, learner_of, activity="x_pre")
    objects = [inputs, outputs, synapses]
    monitors = {}
    if record_learners:
        n_record = int(record_learners)
        monitors["steps"] = b2.StateMonitor(outputs, ["pert", "y"], record=np.arange(n_record * n_out),
                                            when="after_groups", order=9, name=f"{name}_step_monitor")
        monitors["synapses"] = b2.StateMonitor(synapses, ["w", "dw_pert", "elig"],
                                               record=np.arange(n_record * n_out * n_in), dt=learning.trial_dt,
                                               when="start", order=5, name=f"{name}_synapse_monitor")
        objects.extend(monitors.values())
    return PerturbationModel(learning, objects, stimulus_arrays={"inputs": inputs_array, "target": target_array},
                             inputs=inputs, outputs=outputs, synapses=synapses, monitors=monitors,
                             weight_name=f"w:{synapses.name}")
