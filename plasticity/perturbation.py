"""Weight perturbation (WP) and node perturbation (NP) of a linear readout, written as Brian2 code.

Jabri & Flower (1991), "Weight perturbation: an optimal architecture and learning technique for
analog VLSI feedforward and recurrent multilayer networks", Neural Comput 3:546; Züge, Klos &
Memmesheimer (2023), "Weight versus node perturbation learning in temporally extended tasks",
Phys Rev X 13:021006, doi:10.1103/PhysRevX.13.021006.

Rules
-----
A linear readout ``y_k(t) = sum_n W_kn x_n(t)`` is trained on trials of ``T`` steps with the
reward ``R = -E``, ``E = (1/2T) sum_k sum_t (y_k(t) - y*_k(t))^2``:

- **WP**: at each trial boundary every plastic weight draws a perturbation
  ``xi_kn ~ N(0, sigma^2)`` (``sigma*randn()`` in a ``run_regularly`` of the synapses); the
  perturbed network's outputs are ``sum_n (W_kn + xi_kn) x_n(t)``; after the trial
  ``dW = eta (R_pert - R_ref) xi / sigma^2``.
- **NP**: in every step each output draws ``xi_k(t) ~ N(0, sigma^2)``, added to its input; the
  eligibility ``e_kn = sum_t xi_k(t) x_n(t)`` is accumulated per synapse in Brian2 code; after
  the trial ``dW = eta (R_pert - R_ref) e / sigma^2``.

The reference reward ``R_ref`` is either that of the **unperturbed** network in the same trial
(the network is deterministic, so the unperturbed pass runs alongside the perturbed one: the
synapses sum ``(W - W*) x`` once, the output adds the perturbation; the reward difference is
accumulated directly as ``sum_t pert (2 err + pert) / 2T``, free of cancellation), or a running
**average** of the perturbed rewards, ``R_bar <- R_bar + (1 - decay)(R_pert - R_bar)``, started
at the first trial's ``R_pert`` (that trial does not learn). Both are values, not code: one
binary runs either, and WP and NP learners run side by side in one network. (The average's lag
enters ``dR`` and is divided by ``sigma^2``: at the optimal rates of Züge et al. and small
``sigma`` it diverges; :class:`~brian2learn.training.perturbation.PerturbationTrainer` stops
with an error when an error turns non-finite.) In the Brian2 code the weight perturbation ``xi``
is the synaptic variable ``dw_pert`` (``xi`` is reserved in Brian2 equations).

Network
-------
``n_replicas`` independent learners per rule share one input block each (WP learner ``r`` and
NP learner ``r`` see the same trials). The target is ``y* = W* x + d(t)``; each synapse carries
the teacher's weight ``w_target`` next to its own, so that one summed variable gives the
output's deviation from the target's realizable part, ``y - W* x = sum_n (w - w_target) x``.

Each time step, in fixed scheduling slots: ``before_groups``: the inputs read
``x = sqrt(T s_n) phi_n(t)`` (``s_n`` the trial's input strength, ``phi_n`` from a TimedArray),
NP outputs draw their perturbation; ``groups``: the summed outputs; ``after_groups``: every
output accumulates its unperturbed error ``E_ref`` and the perturbation's effect ``dE``, then
NP synapses accumulate their eligibility. At each trial boundary (a clock of one trial, slot
``start``): the errors are summed over the outputs of a learner (a summed variable within the
learner), recorded, turned into ``R_pert - R_ref``; the synapses update their weights and WP
synapses draw the next ``xi``; the accumulators are reset and the inputs take the next trial's
strengths. A closing extra step applies the last trial's update (its per-step operations
belong to a trial that is never used).

Random numbers
--------------
A compiled ``cpp_standalone`` binary reuses one seed for every run; here the seed is a
variable, ``seed`` (``state_variables()['seed']``), that the binary reads right after the
``run_args`` to seed its generators (:func:`seed_standalone_from_variable`), so every run of one
build draws its own reproducible stream. On the runtime device the same value seeds Brian2's
generator. For device comparisons, ``random_scale = 0`` replaces ``randn()`` by a deterministic
sequence of unit variance (``sqrt(2) sin(phase + c k)``), identical on both devices.
"""

from dataclasses import dataclass, field

import brian2 as b2
import numpy as np

from brian2learn.models import rate_units
from brian2learn.simulation.devices import (
    STEP_DT,
    check_clock_lockstep,
    schedule,
    seed_run,
)

RULES = ("wp", "np")
REFERENCES = ("unperturbed", "average")
__all__ = ["STEP_DT", "check_clock_lockstep", "RULES", "REFERENCES"]  # re-exported helpers kept importable

@dataclass
class PerturbationConfig:
    """Structure of a network of perturbation learners.

    Parameters
    ----------
    n_in, n_out, n_steps : int
        Inputs ``N``, outputs ``M`` and steps ``T`` per trial.
    n_replicas : int
        Independent learners per rule (each with its own input block).
    rules : tuple of {'wp', 'np'}
        The rules in the network.
    dt : Quantity
        Length of a step (only counts steps); a power of two by default, see :func:`check_clock_lockstep`.
    """

    n_in: int
    n_out: int
    n_steps: int
    n_replicas: int = 1
    rules: tuple = RULES
    dt: object = field(default_factory=lambda: STEP_DT)

    def __post_init__(self):
        for name in ("n_in", "n_out", "n_steps", "n_replicas"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"'{name}' must be a positive integer, got {value!r}")
        if isinstance(self.rules, str):
            self.rules = (self.rules,)
        self.rules = tuple(self.rules)
        if not self.rules or len(set(self.rules)) != len(self.rules):
            raise ValueError(f"'rules' must name each rule at most once, from: {', '.join(RULES)}")
        for rule in self.rules:
            if rule not in RULES:
                raise ValueError(f"unknown rule {rule!r}; allowed: {', '.join(RULES)}")
        if not isinstance(self.dt, b2.Quantity) or not self.dt.has_same_dimensions(b2.second) or float(self.dt) <= 0:
            raise ValueError(f"'dt' must be a positive time (e.g. 1*ms), got {self.dt!r}")


@dataclass
class LearnerSettings:
    """Learning parameters of the learners of one rule.

    Parameters
    ----------
    eta : float or array (n_replicas,)
        Learning rate.
    sigma : float or array (n_replicas,)
        Perturbation strength (> 0).
    reference : {'unperturbed', 'average'}
        Where ``R_ref`` comes from.
    average_decay : float
        ``decay`` of the running average, in [0, 1).
    random_scale : float
        1: Gaussian perturbations; 0: the deterministic sequence (device comparisons).
    """

    eta: object
    sigma: object
    reference: str = "unperturbed"
    average_decay: float = 0.9
    random_scale: float = 1.0

    def __post_init__(self):
        if self.reference not in REFERENCES:
            raise ValueError(f"unknown reference {self.reference!r}; allowed: {', '.join(REFERENCES)}")
        eta = np.asarray(self.eta, dtype=float)
        sigma = np.asarray(self.sigma, dtype=float)
        if not np.all(np.isfinite(eta)):
            raise ValueError(f"'eta' must be finite, got {self.eta!r}")
        if not np.all(np.isfinite(sigma)) or not np.all(sigma > 0):
            raise ValueError(f"'sigma' must be positive, got {self.sigma!r}")
        if not 0 <= self.average_decay < 1:
            raise ValueError(f"'average_decay' must lie in [0, 1), got {self.average_decay!r}")
        if self.random_scale not in (0, 1, 0.0, 1.0):
            raise ValueError(f"'random_scale' must be 0 or 1, got {self.random_scale!r}")


INPUT_EQS = rate_units.INPUT_EQS + """
scale : 1                      # sqrt(T * strength) of this trial
strength : 1                   # input strength s_n of this trial
channel : integer (constant)   # input index n within its block
"""

OUTPUT_EQS = """
channel : integer (constant)   # output index k within its learner
eta : 1 (constant)             # learning rate
sigma : 1 (constant)           # perturbation strength
ref_average : 1 (constant)     # 0: R_ref of the unperturbed network; 1: running average
ref_decay : 1 (constant)       # decay of the running average
random_scale : 1 (constant)    # 1: Gaussian perturbations; 0: deterministic sequence
phase : 1 (constant)           # phase of the deterministic sequence
y_res : 1                      # summed (w - w_target) x = y - W* x
pert : 1                       # output perturbation of this step
err_ref : 1                    # y - y* of the unperturbed network
E_ref : 1                      # (1/2T) sum_t err_ref^2 of this output so far
dE : 1                         # (1/2T) sum_t [(err_ref + pert)^2 - err_ref^2] so far
E_ref_total : 1                # E_ref summed over the learner's outputs
dE_total : 1                   # dE summed over the learner's outputs
dR : 1                         # R_pert - R_ref of the last trial
R_bar : 1                      # running average of R_pert
n_done : 1                     # trials learned so far (for the running average)
valid : 1                      # 0 before the first trial of a run
"""

OUTPUT_STEP = """
err_ref = y_res - unrealizable_stimulus({lookup}, channel)
E_ref += err_ref**2/(2*n_steps)
dE += pert*(2*err_ref + pert)/(2*n_steps)
"""

OUTPUT_TRIAL_END = """
R_pert = -(E_ref_total + dE_total)
first = int(n_done < 0.5)
gate = valid*trial_gate(t - trial_dt)
dR = gate*((1 - ref_average)*(-dE_total) + ref_average*(1 - first)*(R_pert - R_bar))
R_bar = R_bar + gate*ref_average*(first + (1 - first)*(1 - ref_decay))*(R_pert - R_bar)
n_done = n_done + gate
valid = 1
E_ref = 0
dE = 0
"""

NP_NOISE_STEP = """
pert = sigma*(random_scale*randn() + (1 - random_scale)*sqrt(2)*sin(phase + 0.7548776662*int(t/dt + 0.5)))
"""

SYNAPSE_EQS = """
w : 1                          # weight W_kn
w_target : 1 (constant)        # the teacher's weight W*_kn
y_res_post = (w - w_target)*x_pre : 1 (summed)
"""

WP_SYNAPSE_EQS = SYNAPSE_EQS + """
dw_pert : 1                    # weight perturbation xi of this trial
phase_syn : 1 (constant)       # phase of the deterministic sequence
pert_post = dw_pert*x_pre : 1 (summed)
"""

NP_SYNAPSE_EQS = SYNAPSE_EQS + """
elig : 1                       # sum_t xi_k(t) x_n(t) of this trial
"""

WP_UPDATE = """
w = w + eta_post*dR_post*dw_pert/sigma_post**2
sequence = sqrt(2)*sin(phase_syn + 2.399963229728653*int(t/trial_dt + 0.5))
dw_pert = sigma_post*(random_scale_post*randn() + (1 - random_scale_post)*sequence)
"""

NP_ELIGIBILITY_STEP = "elig += pert_post*x_pre"

NP_UPDATE = """
w = w + eta_post*dR_post*elig/sigma_post**2
elig = 0
"""


class PerturbationNetwork:
    """The Brian2 objects of WP and NP learners on a linear readout, for ``n_trials`` trials per run.

    Parameters
    ----------
    config : PerturbationConfig
    n_trials : int
        Trials simulated per run.
    record_detail : int
        For the first ``record_detail`` learners of each rule, record per trial the weights and
        ``dw_pert`` (WP) or ``elig`` (NP) before each update, and the inputs' strengths.
    record_steps : bool
        Also record per step ``pert`` and ``err_ref`` of their outputs and ``x`` of their inputs.
    name : str
        Prefix of the Brian2 object names.

    Synapse ``s`` of a rule connects input ``r N + n`` to output ``r M + k`` with
    ``s = (r M + k) N + n``: weights reshape to (n_replicas, M, N).
    """

    def __init__(self, config, n_trials, record_detail=0, record_steps=False, name="pert"):
        if isinstance(n_trials, bool) or not isinstance(n_trials, (int, np.integer)) or n_trials < 1:
            raise ValueError(f"'n_trials' must be a positive integer, got {n_trials!r}")
        if not isinstance(record_detail, (int, np.integer)) or not 0 <= record_detail <= config.n_replicas:
            raise ValueError(f"'record_detail' must be an integer in [0, n_replicas = {config.n_replicas}], "
                             f"got {record_detail!r}")
        check_clock_lockstep(config.dt, config.n_steps, n_trials)
        self.config = config
        self.n_trials = int(n_trials)
        n_in, n_out, n_steps, n_rep = config.n_in, config.n_out, config.n_steps, config.n_replicas
        dt = config.dt
        self.dt = dt
        self.trial_duration = n_steps * dt
        trial_dt = self.trial_duration

        self.basis_stimulus = b2.TimedArray(np.zeros((n_steps, n_in)), dt=dt, name=f"{name}_basis")
        self.unrealizable_stimulus = b2.TimedArray(np.zeros((n_steps, n_out)), dt=dt, name=f"{name}_unrealizable")
        self.strength_stimulus = b2.TimedArray(np.zeros((self.n_trials, n_rep * n_in)), dt=trial_dt,
                                               name=f"{name}_strengths")
        self.trial_gate = b2.TimedArray(np.ones(self.n_trials), dt=trial_dt, name=f"{name}_trial_gate")
        namespace = {
            "n_steps": n_steps, "trial_dt": trial_dt,
            "basis_stimulus": self.basis_stimulus, "unrealizable_stimulus": self.unrealizable_stimulus,
            "strength_stimulus": self.strength_stimulus, "trial_gate": self.trial_gate,
        }
        self.namespace = namespace
        lookup = "((int(t/dt + 0.5)) % n_steps)*dt"
        per_step = []

        self.rng = b2.NeuronGroup(1, "seed : integer", dt=dt, namespace=namespace, name=f"{name}_rng")
        self.inputs = b2.NeuronGroup(n_rep * n_in, INPUT_EQS, dt=dt, namespace=namespace, name=f"{name}_inputs")
        self.inputs.channel = np.tile(np.arange(n_in), n_rep)
        per_step.append(self.inputs.run_regularly(f"x = scale*basis_stimulus({lookup}, channel)",
                                                  when="before_groups", order=0, name=f"{name}_inputs_step"))
        self.inputs.run_regularly("strength = strength_stimulus(t, i)\nscale = sqrt(n_steps*strength)",
                                  dt=trial_dt, when="start", order=5, name=f"{name}_inputs_trial")

        self.outputs, self.synapses, self.learner_sums, self.trial_monitors = {}, {}, {}, {}
        self.detail_monitors, self.step_monitors = {}, {}
        self.strength_monitor = None
        # Synapse order (r, k, n) and learner-sum order (r, k_pre, k_post).
        rr, kk, nn = np.meshgrid(np.arange(n_rep), np.arange(n_out), np.arange(n_in), indexing="ij")
        pre, post = (rr * n_in + nn).ravel(), (rr * n_out + kk).ravel()
        ra, ka, kb = np.meshgrid(np.arange(n_rep), np.arange(n_out), np.arange(n_out), indexing="ij")
        sum_pre, sum_post = (ra * n_out + ka).ravel(), (ra * n_out + kb).ravel()
        self.connectivity = {"pre": pre, "post": post}
        for rule in config.rules:
            label = f"{name}_{rule}"
            out = b2.NeuronGroup(n_rep * n_out, OUTPUT_EQS, dt=dt, namespace=namespace, name=f"{label}_outputs")
            out.channel = np.tile(np.arange(n_out), n_rep)
            out.phase = 12.9898 * np.arange(n_rep * n_out)
            syn = b2.Synapses(self.inputs, out, WP_SYNAPSE_EQS if rule == "wp" else NP_SYNAPSE_EQS,
                              dt=dt, namespace=namespace, name=f"{label}_synapses")
            syn.connect(i=pre, j=post)
            if rule == "wp":
                syn.phase_syn = 7.2360679 * np.arange(len(pre))
            schedule(syn.summed_updaters["y_res_post"], "groups", 0)
            per_step.append(syn.summed_updaters["y_res_post"])
            if rule == "wp":
                schedule(syn.summed_updaters["pert_post"], "groups", 1)
                per_step.append(syn.summed_updaters["pert_post"])
            else:
                per_step.append(out.run_regularly(NP_NOISE_STEP, when="before_groups", order=1,
                                                  name=f"{label}_noise"))
            per_step.append(out.run_regularly(OUTPUT_STEP.format(lookup=lookup), when="after_groups", order=0,
                                              name=f"{label}_outputs_step"))
            if rule == "np":
                per_step.append(syn.run_regularly(NP_ELIGIBILITY_STEP, when="after_groups", order=1,
                                                  name=f"{label}_eligibility"))

            # Trial boundary: sums over the learner (0), records (1), reward difference and reset
            # of the accumulators (2), update and new xi (3); the inputs take the next strengths (5).
            sums = b2.Synapses(out, out, "E_ref_total_post = E_ref_pre : 1 (summed)\n"
                               "dE_total_post = dE_pre : 1 (summed)",
                               dt=trial_dt, namespace=namespace, name=f"{label}_learner_sums")
            sums.connect(i=sum_pre, j=sum_post)
            for var in ("E_ref_total_post", "dE_total_post"):
                schedule(sums.summed_updaters[var], "start", 0)
            self.trial_monitors[rule] = b2.StateMonitor(
                out, ["E_ref_total", "dE_total"], record=np.arange(n_rep) * n_out, dt=trial_dt, when="start",
                order=1, name=f"{label}_trial_monitor")
            out.run_regularly(OUTPUT_TRIAL_END, dt=trial_dt, when="start", order=2, name=f"{label}_trial_end")
            syn.run_regularly(WP_UPDATE if rule == "wp" else NP_UPDATE, dt=trial_dt, when="start", order=3,
                              name=f"{label}_update")
            if record_detail:
                self.detail_monitors[rule] = b2.StateMonitor(
                    syn, ["w", "dw_pert" if rule == "wp" else "elig"], record=np.arange(record_detail * n_out * n_in),
                    dt=trial_dt, when="start", order=1, name=f"{label}_detail_monitor")
                if record_steps:
                    monitor = b2.StateMonitor(out, ["pert", "err_ref"], record=np.arange(record_detail * n_out),
                                              when="after_groups", order=2, name=f"{label}_step_monitor")
                    self.step_monitors[rule] = monitor
                    per_step.append(monitor)
            self.outputs[rule], self.synapses[rule], self.learner_sums[rule] = out, syn, sums

        if record_detail:
            self.strength_monitor = b2.StateMonitor(self.inputs, "strength", record=np.arange(record_detail * n_in),
                                                    dt=trial_dt, when="start", order=1, name=f"{name}_strength_monitor")
            if record_steps:
                self.input_step_monitor = b2.StateMonitor(self.inputs, "x", record=np.arange(record_detail * n_in),
                                                          when="after_groups", order=2, name=f"{name}_x_monitor")
                per_step.append(self.input_step_monitor)
        self.per_step_objects = per_step
        objects = [self.rng, self.inputs]
        for store in (self.outputs, self.synapses, self.learner_sums, self.trial_monitors, self.detail_monitors,
                      self.step_monitors):
            objects.extend(store.values())
        objects.extend(obj for obj in (self.strength_monitor, getattr(self, "input_step_monitor", None))
                       if obj is not None)
        self.network = b2.Network(objects)
        self._seeded = False


    def run(self):
        """Simulate all trials and one closing step, whose trial-boundary operations apply the last update.

        The closing step is the first step of a trial that is never used: its per-step
        operations only touch accumulators that the next run starts afresh, so it runs in the
        same ``network.run`` (one set of code objects instead of two).
        """
        self._seeded = seed_run(self.rng, self._seeded)
        self.network.run(self.n_trials * self.trial_duration + self.dt, namespace={})

    def state_variables(self):
        """What a run takes, by name: ``seed`` and per rule ``w_R``, ``w_target_R``, ``eta_R``, ``sigma_R``,
        ``ref_average_R``, ``ref_decay_R``, ``random_scale_R``, ``R_bar_R``, ``n_done_R``."""
        names = {"seed": (self.rng, "seed")}
        for rule in self.config.rules:
            syn, out = self.synapses[rule], self.outputs[rule]
            names[f"w_{rule}"] = (syn, "w")
            names[f"w_target_{rule}"] = (syn, "w_target")
            for var in ("eta", "sigma", "ref_average", "ref_decay", "random_scale", "R_bar", "n_done"):
                names[f"{var}_{rule}"] = (out, var)
        return names

    def stimulus_arrays(self):
        """The TimedArrays a run takes: ``basis`` (T, N), ``unrealizable`` (T, M),
        ``strengths`` (n_trials, n_replicas N) and ``trial_gate`` (n_trials,): 0 skips a trial's update."""
        return {"basis": self.basis_stimulus, "unrealizable": self.unrealizable_stimulus,
                "strengths": self.strength_stimulus, "trial_gate": self.trial_gate}
