"""Reward-based e-prop: an actor-critic in a recurrent spiking network, online, written as Brian2 code.

Bellec, Scherr, Subramoney, Hajek, Salaj, Legenstein & Maass (2020), "A solution to the learning dilemma
for recurrent networks of spiking neurons", Nat Commun 11:3625, doi:10.1038/s41467-020-17236-y, Methods,
"Reward-based e-prop". The network (LIF and ALIF neurons of :mod:`brian2learn.models.eprop_neurons`) drives
leaky readouts: ``n_actions`` policy readouts :math:`y_k` and one value readout :math:`V`,

.. math::

    y_k^t = \\kappa y_k^{t-1} + (1-\\kappa) \\sum_j W^\\pi_{kj} z_j^t, \\qquad
    V^t = \\kappa V^{t-1} + (1-\\kappa) \\sum_j W^V_j z_j^t, \\qquad \\pi^t = \\mathrm{softmax}(y^t).

The agent acts every ``k`` network steps (one *environment step* ``n``, :mod:`brian2learn.tasks.cartpole`
describes the protocol): it samples :math:`a_n \\sim \\pi^{t_n}` from a pre-drawn uniform (or takes the
greedy action), and the environment answers with a reward :math:`r_n`. The loss of the actor-critic is
:math:`E = -\\sum_n (R_n - V_n) \\log \\pi_{a_n} + \\frac{c_V}{2} \\sum_n (R_n - V_n)^2 - c_H \\sum_n H(\\pi^n)`,
:math:`R_n` the discounted return, and its gradient is written with the temporal-difference error

.. math::

    \\delta_n = r_n + \\gamma\\, (1 - \\mathrm{terminal}_n)\\, V_{n+1} - V_n

(Bellec et al., Methods, eqs. 33-35): with the e-prop approximation
:math:`\\partial y_k^t/\\partial W_{ji} \\approx B^\\pi_{jk} \\bar e^t_{ji}` the learning signals are

.. math::

    L_j^n = \\sum_k B^\\pi_{jk} (\\pi_k^n - 1[a_n = k]) - c_V B^V_j,

and the weights descend the TD error times the eligibility filtered over the reward horizon,
:math:`G^n_{ji} = \\gamma G^{n-1}_{ji} + L_j^n \\bar e^{t_n}_{ji}` (the filter :math:`\\mathcal F_\\gamma` of the
paper; :math:`\\sum_n \\delta_n G^n` equals :math:`\\sum_n (R_n - V_n) L^n \\bar e^n` within an episode). At
environment step ``n`` (when :math:`\\delta_{n-1}` is known) every input and recurrent weight moves along

.. math::

    g^n_{ji} = \\delta_{n-1} G^{n-1}_{ji} - c_H L^{H,n}_j \\bar e^{t_n}_{ji}
        + c_{reg} \\frac{\\bar r_j - r^*}{k\\, \\Delta t_{ms}} \\sum_{t \\in \\text{step } n} e^t_{ji},
    \\qquad L^{H,n}_j = \\sum_k B^\\pi_{jk} \\frac{\\partial H}{\\partial y_k},
    \\quad \\frac{\\partial H}{\\partial y_k} = -\\pi_k \\Big(y_k - \\sum_l \\pi_l y_l\\Big),

by gradient descent or Adam: the update is online, at every environment step (the paper's point: no trial or
episode has to end). The entropy term :math:`H = -\\sum_k \\pi_k \\log \\pi_k` acts without :math:`\\delta`; the
rate term drives the low-pass rate :math:`\\bar r_j` (spikes per ms, time constant ``tau_rate``) towards
:math:`r^*`. The readouts use their exact gradients, :math:`(\\pi_k - 1[a_n = k])\\, \\tilde z_j` and
:math:`-c_V \\tilde z_j` (:math:`\\tilde z` the readout-filtered spikes) in :math:`G`, and
:math:`-c_H\\, \\partial H/\\partial y_k\\, \\tilde z_j` for the entropy. Within an episode :math:`G` carries
over; it restarts at zero when one ends; a terminal step is not bootstrapped (a truncated one is). Rewards enter
multiplied by ``reward_scale``.

Feedback: ``random`` (fixed :math:`B^\\pi, B^V`) or ``symmetric`` (:math:`B = W` kept equal).

Every random number comes from outside: the uniforms of the action choices are a ``TimedArray`` passed to
each run, and the environment's own (:mod:`brian2learn.tasks.cartpole`). The whole state (neurons, traces,
optimizer, environment) is a set of Brian2 variables that a run returns and the next takes by ``run_args``,
so that runs of a build chain into one long simulation, on the runtime device and in ``cpp_standalone``
alike.

Order of one time step: a *decision* at the boundary of an environment step (``before_groups``, orders -30
to -20, on the environment's clock) reads the readouts left by the last step, computes :math:`\\delta`,
updates the weights, extends :math:`G`, samples the action; the environment steps (order 0); a new
episode optionally resets the network (order 1); then the network's step: inputs, neurons, readouts,
eligibility traces (``after_resets``).
"""

from dataclasses import dataclass, field

import brian2 as b2
import numpy as np

from brian2learn.models import eprop_neurons
from brian2learn.plasticity import eprop, optimizers
from brian2learn.plasticity.eprop import check_number
from brian2learn.simulation.devices import check_clock_lockstep, schedule

FEEDBACK_MODES = ("random", "symmetric")
OPTIMIZERS = optimizers.OPTIMIZERS
#: Variables every environment group must have (see :mod:`brian2learn.tasks.cartpole`).
ENVIRONMENT_VARIABLES = ("action", "reward", "transition", "terminated", "done", "new_episode", "episode",
                         "episode_finished", "last_return")


#: The weight groups of the agent: input, recurrent, policy readout and value readout synapses.
WEIGHT_GROUPS = ("in", "rec", "pi", "v")


@dataclass
class RewardEpropConfig(eprop_neurons.RecurrentNeuronsConfig):
    """Structure and hyper-parameters of a reward-based e-prop agent.

    Parameters
    ----------
    n_in, n_rec, n_actions : int
        Input channels, recurrent neurons, policy readouts (actions).
    neuron_params : dict
        Neuron parameters with units (:mod:`brian2learn.models.eprop_neurons`).
    beta : Quantity array or None
        Adaptation strength per recurrent neuron (volt); ``None``: ``neuron_params['beta']`` for all.
    discount : float
        :math:`\\gamma` in (0, 1], per environment step.
    value_weight : float
        :math:`c_V`, weight of the value loss.
    entropy_weight : float
        :math:`c_H`, weight of the entropy bonus.
    c_reg : float
        Strength of the firing-rate regularization; ``f_target`` its target rate, ``tau_rate`` the time
        constant of the rate estimate.
    reward_scale : float
        Rewards enter :math:`\\delta` multiplied by it.
    feedback : {'random', 'symmetric'}
    optimizer : {'gd', 'adam'}
    learning_rate : float
        Rate of every group (the trainer may pass another per run, 0 freezes learning).
    adam_beta1, adam_beta2, adam_epsilon : float
    reset_on_episode : bool
        Reset the network's state (potentials, adaptation, traces, readouts) when an episode starts.
    weight_levels : dict or None
        Discrete weights (the hardware axis): group (``'in'``, ``'rec'``: volt; ``'pi'``, ``'v'``: the readouts)
        -> ``(step, limit)``: a spike delivers the weight's level (:mod:`brian2learn.models.weight_levels`) while
        ``w`` accumulates the updates at full precision, as ``EpropConfig.weight_levels``. None: full precision.
    """

    n_in: int
    n_rec: int
    n_actions: int
    neuron_params: dict
    beta: object = None
    discount: float = 0.99
    value_weight: float = 1.0
    entropy_weight: float = 0.0
    c_reg: float = 0.0
    f_target: object = field(default_factory=lambda: 10.0 * b2.Hz)
    tau_rate: object = field(default_factory=lambda: 1.0 * b2.second)
    reward_scale: float = 1.0
    feedback: str = "random"
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_epsilon: float = 1e-8
    reset_on_episode: bool = True
    weight_levels: object = None

    def __post_init__(self):
        for name in ("n_in", "n_rec", "n_actions"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"'{name}' must be a positive integer, got {value!r}")
        if self.n_actions < 2:
            raise ValueError(f"'n_actions' must be at least 2 (a softmax policy), got {self.n_actions}")
        check_number("discount", self.discount, 0, 1, "the discount factor gamma in (0, 1]", low_open=True)
        for name in ("value_weight", "entropy_weight", "c_reg"):
            check_number(name, getattr(self, name), 0, np.inf, "a finite number >= 0")
        check_number("reward_scale", self.reward_scale, 0, np.inf, "a finite number > 0", low_open=True)
        check_number("learning_rate", self.learning_rate, 0, np.inf, "a finite number >= 0")
        check_number("adam_beta1", self.adam_beta1, 0, 1, "a number in [0, 1)", high_open=True)
        check_number("adam_beta2", self.adam_beta2, 0, 1, "a number in [0, 1)", high_open=True)
        check_number("adam_epsilon", self.adam_epsilon, 0, np.inf, "a finite number > 0", low_open=True)
        if self.feedback not in FEEDBACK_MODES:
            raise ValueError(f"unknown feedback {self.feedback!r}; allowed: {', '.join(FEEDBACK_MODES)}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; allowed: {', '.join(OPTIMIZERS)}")
        if not isinstance(self.reset_on_episode, (bool, np.bool_)):
            raise ValueError(f"'reset_on_episode' must be True or False, got {self.reset_on_episode!r}")
        for name, unit, example in (("f_target", b2.Hz, "10*Hz"), ("tau_rate", b2.second, "1*second")):
            value = getattr(self, name)
            if not isinstance(value, b2.Quantity) or not value.has_same_dimensions(unit) or np.ndim(value):
                raise ValueError(f"'{name}' must be a Brian2 quantity like {example}, got {value!r}")
        if not float(self.f_target) >= 0 or not float(self.tau_rate) > 0:
            raise ValueError("'f_target' must be >= 0 Hz and 'tau_rate' > 0 s")
        self.neuron_params = eprop_neurons.validate_neuron_params(self.neuron_params)
        self.beta = eprop_neurons.adaptation_strengths(self.beta, self.neuron_params, self.n_rec)
        if self.weight_levels is not None:
            self.weight_levels = eprop.check_weight_levels(self.weight_levels, WEIGHT_GROUPS)



# ---------------------------------------------------------------------------------------------------------
# Brian2 code
# ---------------------------------------------------------------------------------------------------------

#: Variables of the input, recurrent synapses (weights in volt).
PLASTIC_SYNAPSE_EQS = """
w : volt               # synaptic weight
grad : 1/volt          # descent direction of this environment step
ebar : 1/volt          # eligibility trace filtered with the readouts' kappa
ereg : 1/volt          # eligibility summed over this environment step (regularization)
G : 1/volt             # L*ebar filtered with the discount over the episode (F_gamma)
lr : 1 (constant)      # learning rate (0: frozen)
""" + optimizers.brian2_state_equations(b2.volt)

ALIF_SYNAPSE_EQS = "eps_a : 1/volt  # adaptation component of the eligibility vector\n"

#: Eligibility of one network step (supervised e-prop's traces), summed over the environment step for the
#: rate regularization.
LIF_ELIGIBILITY = eprop.LIF_ELIGIBILITY_TRACE + "ereg += e_now\n"
ALIF_ELIGIBILITY = eprop.ALIF_ELIGIBILITY_TRACE + "ereg += e_now\n"

#: Readout synapses (policy and value): weight, feedback weight and the filtered exact gradient.
READOUT_SYNAPSE_EQS = """
w : 1                  # readout weight
B : 1                  # feedback weight
grad : 1               # descent direction of this environment step
G : 1                  # filtered gradient over the episode
lr : 1 (constant)      # learning rate (0: frozen)
fb_symmetric : 1 (constant)  # 1: B is kept equal to w
""" + optimizers.brian2_state_equations(1)

#: The decision's part of the plastic synapses: descend delta*G (the G of the steps before), the entropy
#: bonus and the rate regularization; then extend G with this step's term.
PLASTIC_DECISION_GRADIENT = """
grad = delta_post*G - entropy_weight*L_H_post*ebar + L_reg_post*ereg
"""
PLASTIC_DECISION_TRACE = """
G = keep_post*discount*G + act_post*L_post*ebar
ereg = 0/volt
"""
POLICY_DECISION_GRADIENT = "grad = delta_post*G - entropy_weight*dH_post*zfilt_pre\n"
POLICY_DECISION_TRACE = "G = keep_post*discount*G + act_post*err_post*zfilt_pre\n"
VALUE_DECISION_GRADIENT = "grad = delta_post*G\n"
VALUE_DECISION_TRACE = "G = keep_post*discount*G - act_post*value_weight*zfilt_pre\n"
SYMMETRIC_FEEDBACK = "B = fb_symmetric*w + (1 - fb_symmetric)*B\n"

RECURRENT_EXTRA_EQS = """
L : 1                  # learning signal of this decision
L_pi : 1               # sum_k B_jk (pi_k - 1[a = k])
L_v : 1                # B^V_j
L_H : 1                # sum_k B_jk dH/dy_k
L_reg : 1              # c_reg (rate - f_target)/(k dt_ms)
rate_est : 1           # low-pass of the spike rate (spikes per ms)
delta : 1              # TD error of this decision (copied from the critic for the synapses)
keep : 1               # 1: the eligibility filter G carries over (same episode)
act : 1                # 1: this decision acts on a live state (adds a term to G)
new_episode : 1        # 1: the environment step started an episode
delta_shared : 1 (linked)
keep_shared : 1 (linked)
act_shared : 1 (linked)
new_episode_shared : 1 (linked)
"""

#: The recurrent neurons' part of the decision.
#: Synaptic code reads ``_post`` variables, which cannot be linked ones: the decision copies them first.
COPY_SHARED = """
delta = delta_shared
keep = keep_shared
act = act_shared
"""
RECURRENT_DECISION = COPY_SHARED + """
L = L_pi - value_weight*L_v
L_reg = c_reg*(rate_est - f_target_per_ms)/(env_steps*dt_ms)
"""
RATE_ESTIMATE = "rate_est = rate_decay*rate_est + (1 - rate_decay)*z/dt_ms"

POLICY_EQS = """
y : 1                  # policy readout
I_out : 1              # input sum_j W z_j of this step
exp_sum : 1            # sum_l exp(y_l)
exp_below : 1          # sum_{l < k} exp(y_l)
exp_upto : 1           # sum_{l <= k} exp(y_l)
ey_sum : 1             # sum_l exp(y_l) y_l
n_larger : 1           # readouts with a larger y (or an equal one with a lower index)
prob : 1               # softmax probability pi_k
chosen : 1             # 1: the action of this decision
err : 1                # prob - chosen
dH : 1                 # dH/dy of the entropy H = -sum pi log pi
delta : 1              # copies of the critic's (see COPY_SHARED)
keep : 1
act : 1
delta_shared : 1 (linked)
keep_shared : 1 (linked)
act_shared : 1 (linked)
u : 1 (linked)         # the decision's uniform
greedy : 1 (linked)    # 1: take the most likely action instead of sampling
new_episode : 1 (linked)
"""
#: Sampling by inverse transform: exactly one readout satisfies exp_below <= u*S < exp_upto, since the
#: exp_upto of readout k and the exp_below of readout k + 1 are the same sum in the same order.
POLICY_DECISION = COPY_SHARED + """
prob = exp(y)/exp_sum
sampled = int(u*exp_sum >= exp_below)*int(u*exp_sum < exp_upto or i == n_actions - 1)
chosen = greedy*int(n_larger < 0.5) + (1 - greedy)*sampled
err = prob - chosen
dH = -prob*(y - ey_sum/exp_sum)
"""

CRITIC_EQS = """
V : 1                  # value readout
I_out : 1              # input sum_j W^V z_j of this step
V_prev : 1             # V at the last decision
delta : 1              # TD error of this decision
keep : 1               # 1: G carries over
act : 1                # 1: this decision acts
u : 1                  # uniform of this decision
greedy : 1 (constant)  # 1: greedy actions
reward : 1 (linked)
transition : 1 (linked)
terminated : 1 (linked)
done : 1 (linked)
new_episode : 1 (linked)
"""
#: delta_n = r_n + gamma (1 - terminal) V_{n+1} - V_n, only where the environment step applied an action.
CRITIC_DECISION = """
delta = transition*(reward_scale*reward + discount*(1 - terminated)*V - V_prev)
keep = (1 - new_episode)*(1 - done)
act = 1 - done
u = action_uniform(t)
"""
CRITIC_AFTER_DECISION = "V_prev = V"

INPUT_EQS = """
x : 1                  # input spike of this step (0 or 1)
xbar : 1               # low-pass (alpha) of x
xbar_prev : 1          # xbar of the previous step
new_episode : 1 (linked)
"""
INPUT_TRACE = "\nxbar_prev = xbar\nxbar = alpha*xbar + x\n"

READOUT_STEP = "{y} = kappa*{y} + (1 - kappa)*I_out\nI_out = 0"

NETWORK_RESET = """
v = keep_state*v
a = keep_state*a
z = keep_state*z
psi = keep_state*psi
psi_prev = keep_state*psi_prev
refractory_left = int(keep_state*refractory_left)
blocked = keep_state*blocked
I_rec = keep_state*I_rec
zbar = keep_state*zbar
zbar_prev = keep_state*zbar_prev
zfilt = keep_state*zfilt
"""


class RewardEpropAgent:
    """The Brian2 objects of a reward-based e-prop agent closed in a loop with an environment.

    Parameters
    ----------
    config : RewardEpropConfig
    environment : object
        An environment of the protocol of :mod:`brian2learn.tasks.cartpole`: ``group`` (one environment, the
        variables :data:`ENVIRONMENT_VARIABLES`, a custom event ``'episode_end'``), ``env_dt``, ``n_actions``,
        ``record_variables``, ``stimulus_arrays()`` and ``encoder(n_in)``, the input code (an object with
        ``equations``, the per-step ``code`` writing the 0/1 spike ``x``, ``namespace`` and
        ``link(inputs, env_group)``); optionally ``max_episodes``, the episodes its stimuli provide for.
    n_env_steps : int
        Environment steps per run.
    record : bool
        Record the spikes of the inputs and the recurrent neurons, and the environment's ``record_variables`` at
        every environment step (for figures); the decisions (TD error, value, uniform), the actions and the
        episodes' returns are always recorded.
    name : str
        Prefix of the Brian2 object names.
    """

    def __init__(self, config, environment, n_env_steps, record=False, name="reward_eprop"):
        for variable in ENVIRONMENT_VARIABLES:
            if variable not in environment.group.variables:
                raise ValueError(f"the environment's group lacks the variable {variable!r} of the protocol "
                                 f"(needed: {', '.join(ENVIRONMENT_VARIABLES)})")
        if environment.group.N != 1:
            raise ValueError(f"the agent acts in one environment; its group has {environment.group.N}")
        if environment.n_actions != config.n_actions:
            raise ValueError(f"the environment has {environment.n_actions} actions but 'n_actions' is "
                             f"{config.n_actions}: one policy readout per action is needed")
        dt = config.dt
        env_steps = int(round(float(environment.env_dt / dt)))
        if env_steps < 1 or abs(env_steps * float(dt) - float(environment.env_dt)) > 1e-12:
            raise ValueError(f"the environment's step ({environment.env_dt!r}) must be a whole number of network "
                             f"steps of {dt!r}")
        check_clock_lockstep(dt, env_steps, n_env_steps)
        self.config, self.environment = config, environment
        self.dt, self.env_dt, self.env_steps, self.n_env_steps = dt, environment.env_dt, env_steps, n_env_steps
        constants = eprop_neurons.discrete_constants(config.neuron_params)
        self.action_uniform = b2.TimedArray(np.zeros(n_env_steps), dt=environment.env_dt,
                                            name=f"{name}_action_uniform")
        spec = optimizers.OptimizerSpec(optimizer=config.optimizer, learning_rate=1.0,
                                        adam_beta1=config.adam_beta1, adam_beta2=config.adam_beta2,
                                        adam_epsilon=config.adam_epsilon, adam_epsilon_form="kingma_ba")
        update = {unit: optimizers.brian2_code(spec, weight_unit=unit, rate_expression="lr")
                  for unit in (b2.volt, 1)}
        namespace = {**constants, "v_th": config.neuron_params["v_th"],
                     "gamma": float(config.neuron_params["gamma"]), "discount": float(config.discount),
                     "value_weight": float(config.value_weight), "entropy_weight": float(config.entropy_weight),
                     "c_reg": float(config.c_reg), "f_target_per_ms": float(config.f_target * b2.ms),
                     "rate_decay": float(np.exp(-float(dt) / float(config.tau_rate))),
                     "reward_scale": float(config.reward_scale), "dt_ms": float(dt / b2.ms),
                     "env_steps": env_steps, "n_actions": config.n_actions,
                     "action_uniform": self.action_uniform, **eprop.weight_level_namespace(config.weight_levels)}
        for code in update.values():
            namespace.update(code.namespace)
        self.namespace = namespace
        env_group = environment.group
        env_dt = self.env_dt
        decision = {"dt": env_dt, "when": "before_groups"}

        # Inputs, written by the environment's encoder every network step.
        encoder = environment.encoder(config.n_in)
        self.encoder = encoder
        self.inputs = b2.NeuronGroup(config.n_in, INPUT_EQS + encoder.equations, threshold="x > 0.5", reset="",
                                     dt=dt, namespace={**namespace, **encoder.namespace}, name=f"{name}_inputs")
        encoder.link(self.inputs, env_group)
        self.inputs.new_episode = b2.linked_var(env_group, "new_episode", index=np.zeros(config.n_in, dtype=int))
        self.inputs.run_regularly(encoder.code + INPUT_TRACE, when="before_groups", order=3,
                                  name=f"{name}_inputs_step")

        # Recurrent LIF/ALIF neurons.
        self.recurrent = b2.NeuronGroup(
            config.n_rec, eprop_neurons.RECURRENT_EQS + RECURRENT_EXTRA_EQS,
            threshold=eprop_neurons.RECURRENT_THRESHOLD, reset=eprop_neurons.RECURRENT_RESET, dt=dt,
            namespace=namespace, name=f"{name}_recurrent")
        self.recurrent.beta = config.beta
        self.recurrent.run_regularly(eprop_neurons.RECURRENT_STEP, when="groups", name=f"{name}_recurrent_step")
        self.recurrent.run_regularly(eprop_neurons.RECURRENT_READOUT_TRACE + "\n" + RATE_ESTIMATE,
                                     when="after_resets", order=0, name=f"{name}_recurrent_traces")

        # Readouts: the policy (one per action) and the critic (the value, and the decision's scalars).
        self.policy = b2.NeuronGroup(config.n_actions, POLICY_EQS, dt=dt, namespace=namespace,
                                     name=f"{name}_policy")
        self.critic = b2.NeuronGroup(1, CRITIC_EQS, dt=dt, namespace=namespace, name=f"{name}_critic")
        self.policy.run_regularly(READOUT_STEP.format(y="y"), when="after_resets", order=1,
                                  name=f"{name}_policy_step")
        self.critic.run_regularly(READOUT_STEP.format(y="V"), when="after_resets", order=1,
                                  name=f"{name}_critic_step")
        for variable in ("reward", "transition", "terminated", "done", "new_episode"):
            setattr(self.critic, variable, b2.linked_var(env_group, variable, index=np.zeros(1, dtype=int)))
        for group in (self.policy, self.recurrent):
            for variable in ("delta", "keep", "act"):
                setattr(group, f"{variable}_shared",
                        b2.linked_var(self.critic, variable, index=np.zeros(group.N, dtype=int)))
        self.policy.new_episode = b2.linked_var(env_group, "new_episode",
                                                index=np.zeros(config.n_actions, dtype=int))
        for variable in ("u", "greedy"):
            setattr(self.policy, variable,
                    b2.linked_var(self.critic, variable, index=np.zeros(config.n_actions, dtype=int)))
        self.recurrent.new_episode_shared = b2.linked_var(env_group, "new_episode",
                                                   index=np.zeros(config.n_rec, dtype=int))

        # Synapses.
        synapse_eqs = PLASTIC_SYNAPSE_EQS + (ALIF_SYNAPSE_EQS if config.adaptive else "")
        levels = config.weight_levels
        self.synapses_in = b2.Synapses(self.inputs, self.recurrent, synapse_eqs,
                                       on_pre=f"I_in_post += {eprop.held_weight_code('in', levels)}", dt=dt,
                                       namespace=namespace, name=f"{name}_synapses_in")
        self.synapses_rec = b2.Synapses(self.recurrent, self.recurrent, synapse_eqs,
                                        on_pre=f"I_rec_post += {eprop.held_weight_code('rec', levels)}",
                                        dt=dt, namespace=namespace, name=f"{name}_synapses_rec")
        self.synapses_pi = b2.Synapses(
            self.recurrent, self.policy,
            READOUT_SYNAPSE_EQS + "L_pi_pre = B*err_post : 1 (summed)\nL_H_pre = B*dH_post : 1 (summed)\n",
            on_pre=f"I_out_post += {eprop.held_weight_code('pi', levels)}", dt=dt, namespace=namespace,
            name=f"{name}_synapses_pi")
        self.synapses_v = b2.Synapses(self.recurrent, self.critic, READOUT_SYNAPSE_EQS + "L_v_pre = B : 1 (summed)\n",
                                      on_pre=f"I_out_post += {eprop.held_weight_code('v', levels)}", dt=dt,
                                      namespace=namespace,
                                      name=f"{name}_synapses_v")
        self.connectivity = connectivity(config)
        for syn, key in ((self.synapses_in, "in"), (self.synapses_rec, "rec"), (self.synapses_pi, "pi"),
                         (self.synapses_v, "v")):
            pre, post = self.connectivity[key]
            syn.connect(i=pre, j=post)
        schedule(self.inputs.thresholder["spike"], "before_groups", 4)
        schedule(self.synapses_in.pre, "before_groups", 5)
        self.softmax_sums = b2.Synapses(
            self.policy, self.policy,
            """
            exp_sum_post = exp(y_pre) : 1 (summed)
            exp_below_post = exp(y_pre)*int(i < j) : 1 (summed)
            exp_upto_post = exp(y_pre)*int(i <= j) : 1 (summed)
            ey_sum_post = exp(y_pre)*y_pre : 1 (summed)
            n_larger_post = int(y_pre > y_post or (y_pre == y_post and i < j)) : 1 (summed)
            """, dt=env_dt, namespace=namespace, name=f"{name}_softmax_sums")
        self.softmax_sums.connect()
        self.action_out = b2.Synapses(self.policy, env_group, "action_post = i*chosen_pre : 1 (summed)", dt=env_dt,
                                      namespace=namespace, name=f"{name}_action_out")
        self.action_out.connect()

        # The decision at an environment step's boundary, before the environment steps (order 0).
        for variable in ("exp_sum_post", "exp_below_post", "exp_upto_post", "ey_sum_post", "n_larger_post"):
            schedule(self.softmax_sums.summed_updaters[variable], "before_groups", -30)
        self.critic.run_regularly(CRITIC_DECISION, order=-29, name=f"{name}_critic_decision", **decision)
        self.policy.run_regularly(POLICY_DECISION, order=-28, name=f"{name}_policy_decision", **decision)
        schedule(self.action_out.summed_updaters["action_post"], "before_groups", -27)
        # the learning signals change only at decisions (summed in every step, a few hundred products)
        for syn, variables in ((self.synapses_pi, ("L_pi_pre", "L_H_pre")), (self.synapses_v, ("L_v_pre",))):
            for variable in variables:
                schedule(syn.summed_updaters[variable], "before_groups", -26)
        self.recurrent.run_regularly(RECURRENT_DECISION, order=-25, name=f"{name}_recurrent_decision", **decision)
        self.synapses_in.run_regularly(PLASTIC_DECISION_GRADIENT + update[b2.volt].code + PLASTIC_DECISION_TRACE,
                                       order=-24, name=f"{name}_synapses_in_decision", **decision)
        self.synapses_rec.run_regularly(PLASTIC_DECISION_GRADIENT + update[b2.volt].code + PLASTIC_DECISION_TRACE,
                                        order=-24, name=f"{name}_synapses_rec_decision", **decision)
        self.synapses_pi.run_regularly(POLICY_DECISION_GRADIENT + update[1].code + SYMMETRIC_FEEDBACK
                                       + POLICY_DECISION_TRACE, order=-24, name=f"{name}_synapses_pi_decision",
                                       **decision)
        self.synapses_v.run_regularly(VALUE_DECISION_GRADIENT + update[1].code + SYMMETRIC_FEEDBACK
                                      + VALUE_DECISION_TRACE, order=-24, name=f"{name}_synapses_v_decision",
                                      **decision)
        self.critic.run_regularly(CRITIC_AFTER_DECISION, order=-23, name=f"{name}_critic_after_decision",
                                  **decision)

        # A new episode resets the network (after the environment's step, order 0).
        if config.reset_on_episode:
            keep_state = "new_episode = new_episode_shared\nkeep_state = 1 - new_episode\n"
            self.recurrent.run_regularly(keep_state + NETWORK_RESET + "I_in = keep_state*I_in", order=1,
                                         name=f"{name}_recurrent_episode_reset", **decision)
            self.inputs.run_regularly("xbar = xbar*(1 - new_episode)\nxbar_prev = xbar_prev*(1 - new_episode)",
                                      order=1, name=f"{name}_inputs_episode_reset", **decision)
            for group, variable in ((self.policy, "y"), (self.critic, "V")):
                group.run_regularly(f"{variable} = {variable}*(1 - new_episode)\nI_out = I_out*(1 - new_episode)",
                                    order=1, name=f"{group.name}_episode_reset", **decision)
            for syn in (self.synapses_in, self.synapses_rec):
                syn.run_regularly("ebar = ebar*(1 - new_episode_post)" +
                                  ("\neps_a = eps_a*(1 - new_episode_post)" if config.adaptive else ""),
                                  order=2, name=f"{syn.name}_episode_reset", **decision)

        # Eligibility traces of every network step.
        eligibility = ALIF_ELIGIBILITY if config.adaptive else LIF_ELIGIBILITY
        self.synapses_in.run_regularly(eligibility.format(trace="xbar"), when="after_resets", order=6,
                                       name=f"{name}_synapses_in_eligibility")
        self.synapses_rec.run_regularly(eligibility.format(trace="zbar"), when="after_resets", order=6,
                                        name=f"{name}_synapses_rec_eligibility")

        # Records: the decisions, and the episodes as they end.
        self.decision_monitor = b2.StateMonitor(self.critic, ["delta", "V", "u"], record=True, dt=env_dt,
                                                when="before_groups", order=-22, name=f"{name}_decisions")
        self.action_monitor = b2.StateMonitor(env_group, ["action"], record=True, dt=env_dt, when="before_groups",
                                              order=-21, name=f"{name}_actions")
        self.episode_monitor = b2.EventMonitor(env_group, "episode_end", variables=["last_return"],
                                               name=f"{name}_episodes")
        self.spike_monitor = b2.SpikeMonitor(self.recurrent, name=f"{name}_spikes") if record else None
        self.input_monitor = b2.SpikeMonitor(self.inputs, name=f"{name}_input_spikes") if record else None
        self.environment_monitor = (b2.StateMonitor(env_group, list(environment.record_variables), record=True,
                                                    dt=env_dt, when="before_groups", order=1,
                                                    name=f"{name}_environment") if record else None)
        self.network = b2.Network([env_group] + [obj for obj in vars(self).values()
                                                 if isinstance(obj, (b2.Group, b2.SpikeMonitor, b2.StateMonitor,
                                                                     b2.EventMonitor))])
        self._carried = self._carried_variables()

    def _carried_variables(self):
        """Every variable that a run changes: the state that the next run must start from."""
        carried = {}
        groups = [self.environment.group, self.inputs, self.recurrent, self.policy, self.critic, self.synapses_in,
                  self.synapses_rec, self.synapses_pi, self.synapses_v]
        for group in groups:
            for variable_name, variable in group.variables.items():
                if (variable_name.startswith("_") or variable_name in ("i", "j", "N", "t", "dt", "t_in_timesteps",
                                                                        "lastspike", "not_refractory")
                        or not isinstance(variable, b2.core.variables.ArrayVariable) or variable.read_only
                        or variable.owner.name != group.name):
                    continue
                carried[f"{group.name}.{variable_name}"] = (group, variable_name)
        return carried

    def run(self):
        """Simulate ``n_env_steps`` environment steps."""
        self.network.run(self.n_env_steps * self.env_dt, namespace={})

    def state_variables(self):
        """All carried variables by ``'group.variable'`` (weights, optimizer, traces, neurons, environment)."""
        return dict(self._carried)

    def stimulus_arrays(self):
        """The TimedArrays a run takes: the action uniforms and the environment's."""
        return {"action_uniform": self.action_uniform, **self.environment.stimulus_arrays()}


def connectivity(config):
    """Presynaptic and postsynaptic indices of the four synapse groups (all-to-all, no autapses)."""
    def all_to_all(n_pre, n_post, autapses=True):
        post, pre = np.meshgrid(np.arange(n_post), np.arange(n_pre), indexing="ij")
        keep = np.ones(post.shape, dtype=bool) if autapses else post != pre
        return pre[keep], post[keep]
    return {"in": all_to_all(config.n_in, config.n_rec), "rec": all_to_all(config.n_rec, config.n_rec, False),
            "pi": all_to_all(config.n_rec, config.n_actions), "v": all_to_all(config.n_rec, 1)}


#: Reward-based e-prop on Bellec et al.'s (2020, Fig. 3) evidence accumulation, a reward of 1 for the correct side
#: at the end of each trial (:class:`~brian2learn.tasks.evidence_accumulation.CueChoice`): one decision per trial,
#: undiscounted, no entropy bonus, NEST 3.10's rate regularization, Adam. The rate 5e-4 was chosen on training
#: trials in the eprop-reward-cues study (1e-3 and 3e-3 stayed at chance for 3000 trials).
CUE_REWARD_LEARNING = {"discount": 1.0, "learning_rate": 5e-4, "value_weight": 1.0, "entropy_weight": 0.0,
                       "c_reg": 2.0, "f_target": 10.0 * b2.Hz, "feedback": "random", "optimizer": "adam"}


def evidence_accumulation_config(**changes):
    """The :class:`RewardEpropConfig` of the cue task from reward: the network and neurons of
    :func:`brian2learn.plasticity.eprop.evidence_accumulation_config` with two actions and a value readout,
    :data:`CUE_REWARD_LEARNING`; ``changes`` override learning settings."""
    network, params = eprop.BELLEC2020_EVIDENCE_NETWORK, eprop_neurons.BELLEC2020_EVIDENCE_ACCUMULATION
    return RewardEpropConfig(n_in=network["n_in"], n_rec=network["n_lif"] + network["n_alif"],
                             n_actions=network["n_out"], neuron_params=params,
                             beta=eprop.adaptation_strengths(network["n_lif"], network["n_alif"], params["beta"]),
                             **{**CUE_REWARD_LEARNING, **changes})


def initial_weights(config, seed, readout_scale=None, feedback_scale=1.0, input_gain=1.0, recurrent_gain=1.0):
    """Initial weights and feedback (matrices ``[post, pre]``; ``w_in``, ``w_rec`` in volt as floats).

    As in Bellec et al. (2020)'s reference code, :math:`W^{in} \\sim N(0, 1)/\\sqrt{n_{in}}` and
    :math:`W^{rec} \\sim N(0, 1)/\\sqrt{n_{rec}}` (no autapses), both multiplied by ``v_th / 0.6 V`` so
    that the drive relative to the threshold is that of the evidence-accumulation tutorial; readouts
    :math:`N(0, 1) \\cdot` ``readout_scale`` (default :math:`1/\\sqrt{n_{rec}}`); random feedback
    ``B_pi`` (n_rec, n_actions) and ``B_v`` (n_rec,) :math:`N(0, 1) \\cdot` ``feedback_scale``, from a
    separate stream. ``input_gain`` and ``recurrent_gain`` multiply ``w_in`` and ``w_rec`` (a task's input
    statistics set the activity they give).
    """
    rng = np.random.default_rng(seed)
    scale = float(config.neuron_params["v_th"]) / 0.6
    readout_scale = 1.0 / np.sqrt(config.n_rec) if readout_scale is None else float(readout_scale)
    w_in = rng.normal(size=(config.n_rec, config.n_in)) / np.sqrt(config.n_in) * scale * float(input_gain)
    w_rec = rng.normal(size=(config.n_rec, config.n_rec)) / np.sqrt(config.n_rec) * scale * float(recurrent_gain)
    np.fill_diagonal(w_rec, 0.0)
    w_pi = rng.normal(size=(config.n_actions, config.n_rec)) * readout_scale
    w_v = rng.normal(size=(1, config.n_rec)) * readout_scale
    feedback = np.random.default_rng([seed, 1])
    return {"w_in": w_in, "w_rec": w_rec, "w_pi": w_pi, "w_v": w_v,
            "B_pi": feedback.normal(size=(config.n_rec, config.n_actions)) * feedback_scale,
            "B_v": feedback.normal(size=(config.n_rec,)) * feedback_scale}
