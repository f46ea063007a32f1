"""The cart-pole as Brian2 code: an environment that runs inside the simulation (also in ``cpp_standalone``).

Dynamics of Barto, Sutton & Anderson (1983), "Neuronlike adaptive elements that can solve difficult learning
control problems", IEEE Trans Syst Man Cybern 13:834, doi:10.1109/TSMC.1983.6313077, with the equations of
motion as corrected by Florian (2007, "Correct equations for the dynamics of the cart-pole system"), in the form
and with the constants of gymnasium's ``CartPole-v1`` (explicit Euler, step :math:`\\tau = 0.02` s):

.. math::

    F &= \\pm 10\\ \\mathrm{N}\\ (\\text{action 1: right, 0: left}), \\qquad
    h = \\frac{F + m_p l \\dot\\theta^2 \\sin\\theta}{m_c + m_p},

    \\ddot\\theta &= \\frac{g \\sin\\theta - \\cos\\theta\\, h}{l\\,(4/3 - m_p \\cos^2\\theta / (m_c + m_p))},
    \\qquad \\ddot x = h - \\frac{m_p l\\, \\ddot\\theta \\cos\\theta}{m_c + m_p},

    x &\\leftarrow x + \\tau \\dot x, \\quad \\dot x \\leftarrow \\dot x + \\tau \\ddot x, \\quad
    \\theta \\leftarrow \\theta + \\tau \\dot\\theta, \\quad \\dot\\theta \\leftarrow \\dot\\theta + \\tau \\ddot\\theta

(:math:`g = 9.8`, :math:`m_c = 1`, :math:`m_p = 0.1`, half-length :math:`l = 0.5`). Reward 1 per step; the episode
*terminates* after a step that leaves :math:`|x| \\le 2.4` or :math:`|\\theta| \\le 12°` and is *truncated* after
500 steps (``CartPole-v1``'s time limit). A new episode starts from four values uniform in [-0.05, 0.05].

The protocol of an environment in the simulation
------------------------------------------------
Users can write their own environment the same way:

1. The environment is a ``NeuronGroup`` (one neuron per parallel environment) whose variables are its state, the
   ``action`` the agent writes, and the bookkeeping: ``steps`` in the episode, ``episode`` index, ``done``,
   ``terminated``, ``episode_return`` and ``last_return``; for a learning agent
   (:mod:`brian2learn.plasticity.eprop_reward`) also ``reward`` (of the last step), ``transition`` (1 where the
   last step applied the agent's action to the state it acted on), ``new_episode`` (1 where it started an
   episode) and ``episode_finished`` (1 where it ended one), and a custom event ``'episode_end'``
   (``episode_finished > 0.5``) for an ``EventMonitor``. An episode may end and the next start in the same
   step (a one-decision task); the cart-pole shows its last state for one step, so that a truncated episode's
   value can be bootstrapped.
2. One environment step is one ``run_regularly`` operation every ``k`` network steps (:data:`ENV_WHEN`,
   :data:`ENV_ORDER`): where the last step ended the episode, it starts the next one (new initial state, no
   dynamics; the agent sees it for ``k`` network steps); otherwise it applies the action. Abstract code has no
   branches, so both are computed and one is kept by the 0/1 variable ``done``: ``x = done*x_reset +
   (1 - done)*x_next`` is exact.
3. Randomness comes in from outside: initial states are read from a ``TimedArray`` of pre-drawn uniforms indexed
   by the episode (``reset_uniform(episode*second, 4*i + component)``; a ``TimedArray`` takes any time as its
   index), so that the runtime and ``cpp_standalone`` devices give the same episodes.
4. The agent writes ``action`` before the environment step (any slot earlier in the same time step, or any
   earlier time step) and reads the state after it.
5. For an agent network the environment object also has ``env_dt``, ``n_actions``, ``record_variables``,
   ``max_episodes`` (the episodes its stimuli provide for, or ``None``),
   ``stimulus_arrays()`` (the TimedArrays a run takes) and ``encoder(n_in)``: the input code of the network
   (:class:`PopulationCode` here), with its ``equations``, per-step ``code`` (writing the 0/1 spike ``x``),
   ``namespace`` and ``link(inputs, env_group)``.
"""

import math

import brian2 as b2
import numpy as np

#: Constants of gymnasium's CartPole-v1 (SI units; the code is dimensionless).
CARTPOLE = {"gravity": 9.8, "masscart": 1.0, "masspole": 0.1, "length": 0.5, "force_mag": 10.0, "tau_env": 0.02,
            "x_threshold": 2.4, "theta_threshold": 12 * 2 * math.pi / 360, "max_steps": 500}
#: Half-width of the uniform initial state.
RESET_HALF_WIDTH = 0.05
#: Scheduling slot of the environment step.
ENV_WHEN, ENV_ORDER = "before_groups", 0
STATE = ("x", "x_dot", "theta", "theta_dot")

CARTPOLE_EQS = """
x : 1                  # cart position (m)
x_dot : 1              # cart velocity (m/s)
theta : 1              # pole angle (rad)
theta_dot : 1          # pole angular velocity (rad/s)
action : 1             # 0: push left, 1: push right (written by the agent)
steps : 1              # steps of the current episode
episode : 1            # index of the current episode (-1 before the first)
done : 1               # 1 after the step that ended the episode
terminated : 1         # 1 after a step that left the allowed region
episode_return : 1     # reward so far in this episode
last_return : 1        # return of the last finished episode
reward : 1             # reward of the last step (1 per step applied to a live state, as gymnasium)
transition : 1         # 1: the last step applied the agent's action (0: it started an episode)
new_episode : 1        # 1: the last step started an episode
episode_finished : 1   # 1: the last step ended an episode (its return is last_return)
total_mass : 1 (constant)  # m_c + m_p, a variable so that Brian2 divides by it as gymnasium does
"""

#: One environment step: a reset where the last step ended the episode, the dynamics otherwise. One operation per
#: statement, in gymnasium's order of evaluation: Brian2 passes each statement through sympy, which may regroup a
#: longer product and change its last bit (and the unstable pole turns such bits into visible differences); and a
#: division by a namespace constant would become a product with its inverse (loop-invariant optimisation).
CARTPOLE_STEP = """
force = force_mag*(2*action - 1)
costheta = cos(theta)
sintheta = sin(theta)
theta_dot_squared = theta_dot*theta_dot
spin = polemass_length*theta_dot_squared
spin_force = spin*sintheta
temp = (force + spin_force)/total_mass
pull = gravity*sintheta
push = costheta*temp
cos_squared = costheta*costheta
mass_term = masspole*cos_squared
mass_ratio = mass_term/total_mass
inertia = length*(four_thirds - mass_ratio)
thetaacc = (pull - push)/inertia
coupling = polemass_length*thetaacc
coupling_cos = coupling*costheta
coupling_term = coupling_cos/total_mass
xacc = temp - coupling_term
x_next = x + tau_env*x_dot
x_dot_next = x_dot + tau_env*xacc
theta_next = theta + tau_env*theta_dot
theta_dot_next = theta_dot + tau_env*thetaacc
restart = done
episode = episode + restart
x = restart*reset_uniform(episode*second, 4*i) + (1 - restart)*x_next
x_dot = restart*reset_uniform(episode*second, 4*i + 1) + (1 - restart)*x_dot_next
theta = restart*reset_uniform(episode*second, 4*i + 2) + (1 - restart)*theta_next
theta_dot = restart*reset_uniform(episode*second, 4*i + 3) + (1 - restart)*theta_dot_next
steps = (1 - restart)*(steps + 1)
episode_return = (1 - restart)*(episode_return + 1)
terminated = (1 - restart)*int(abs(x) > x_threshold or abs(theta) > theta_threshold)
done = int(terminated > 0.5 or steps >= max_steps)
last_return = done*episode_return + (1 - done)*last_return
reward = 1 - restart
transition = 1 - restart
new_episode = restart
episode_finished = done
"""


def reset_uniforms(n_envs, n_episodes, seed):
    """Pre-drawn initial states: (n_episodes, 4 n_envs) uniform in [-0.05, 0.05] (seeded)."""
    rng = np.random.default_rng(seed)
    return rng.uniform(-RESET_HALF_WIDTH, RESET_HALF_WIDTH, (int(n_episodes), 4 * int(n_envs)))


class CartPole:
    """``n_envs`` cart-poles in one ``NeuronGroup``, stepped every ``env_dt`` inside the simulation.

    Parameters
    ----------
    n_envs : int
    uniforms : array (n_episodes, 4 n_envs)
        Initial states of the episodes (:func:`reset_uniforms`); a run needs at most ``n_episodes`` episodes.
    env_dt : Quantity
        Time between environment steps (``k`` steps of the network's clock).
    name : str
    dt : Quantity or None
        Clock of the group (default ``env_dt``).
    """

    def __init__(self, n_envs, uniforms, env_dt, name="cartpole", dt=None):
        uniforms = np.asarray(uniforms, dtype=float)
        if isinstance(n_envs, bool) or not isinstance(n_envs, (int, np.integer)) or n_envs < 1:
            raise ValueError(f"'n_envs' must be a positive integer, got {n_envs!r}")
        if uniforms.ndim != 2 or uniforms.shape[1] != 4 * n_envs:
            raise ValueError(f"'uniforms' must have shape (n_episodes, 4 * n_envs) = (n, {4 * n_envs}), "
                             f"got {uniforms.shape}")
        if np.any(np.abs(uniforms) > RESET_HALF_WIDTH):
            raise ValueError(f"'uniforms' must lie in [-{RESET_HALF_WIDTH}, {RESET_HALF_WIDTH}]")
        c = CARTPOLE
        self.reset_uniform = b2.TimedArray(uniforms, dt=1 * b2.second, name=f"{name}_reset_uniform")
        namespace = {"reset_uniform": self.reset_uniform, "gravity": c["gravity"], "masspole": c["masspole"],
                     "length": c["length"], "four_thirds": 4.0 / 3.0,
                     "polemass_length": c["masspole"] * c["length"], "force_mag": c["force_mag"],
                     "tau_env": c["tau_env"], "x_threshold": c["x_threshold"],
                     "theta_threshold": c["theta_threshold"], "max_steps": c["max_steps"]}
        self.group = b2.NeuronGroup(n_envs, CARTPOLE_EQS, dt=dt or env_dt, namespace=namespace, name=name,
                                    events={"episode_end": "episode_finished > 0.5"})
        self.group.total_mass = c["masspole"] + c["masscart"]
        self.group.episode = -1
        self.group.done = 1  # the first step starts episode 0
        self.step = self.group.run_regularly(CARTPOLE_STEP, dt=env_dt, when=ENV_WHEN, order=ENV_ORDER,
                                             name=f"{name}_step")
        self.n_envs = n_envs
        self.max_episodes = uniforms.shape[0]
        self.env_dt = env_dt
        self.n_actions = 2
        self.record_variables = STATE + ("action",)
        self.population_code = None

    def stimulus_arrays(self):
        """The TimedArrays a run takes: the initial states of the episodes."""
        return {"reset_uniform": self.reset_uniform}

    def encoder(self, n_in):
        """The input code of an agent network: :class:`PopulationCode` with ``n_in / 4`` inputs per variable."""
        if n_in % len(STATE):
            raise ValueError(f"'n_in' must be a multiple of {len(STATE)} (inputs per state variable), got {n_in}")
        self.population_code = PopulationCode(n_in // len(STATE))
        return self.population_code


#: Ranges of the population code: the region of each variable that the tuning curves tile (values outside it
#: are clipped to its edge). x and theta: the termination thresholds; the velocities: what a balancing agent
#: meets (their absolute value stays below these in > 99 % of the steps of gymnasium's random-policy episodes).
POPULATION_RANGES = {"x": 2.4, "x_dot": 2.0, "theta": CARTPOLE["theta_threshold"], "theta_dot": 2.5}


class PopulationCode:
    """The cart-pole's state as spikes of ``n_per_variable`` inputs per state variable.

    Input ``m`` of variable ``s`` has a Gaussian tuning curve centred at :math:`c_m`, the centres evenly spaced
    over :math:`[-R_s, R_s]` (:data:`POPULATION_RANGES`), width :math:`\\sigma` = their spacing; its rate
    :math:`\\nu_m = \\nu_{max} \\exp(-(s - c_m)^2 / 2\\sigma^2)` drives a deterministic phase,
    :math:`\\phi \\leftarrow \\phi + \\nu_m \\Delta t`, spiking and subtracting 1 when it reaches 1 (no random
    numbers, so both devices give the same spikes).

    Parameters
    ----------
    n_per_variable : int
    max_rate : Quantity
        :math:`\\nu_{max}`.
    """

    def __init__(self, n_per_variable, max_rate=200 * b2.Hz):
        if isinstance(n_per_variable, bool) or not isinstance(n_per_variable, (int, np.integer)) \
                or n_per_variable < 2:
            raise ValueError(f"'n_per_variable' must be an integer >= 2, got {n_per_variable!r}")
        if not isinstance(max_rate, b2.Quantity) or not max_rate.has_same_dimensions(b2.Hz) \
                or not float(max_rate) > 0:
            raise ValueError(f"'max_rate' must be a positive rate like 200*Hz, got {max_rate!r}")
        self.n_per_variable = int(n_per_variable)
        self.max_rate = max_rate
        self.equations = """
        phase : 1                          # integrated rate; a spike where it reaches 1
        variable_index : integer (constant)  # which state variable (0: x, 1: x_dot, 2: theta, 3: theta_dot)
        center : 1 (constant)              # centre of the tuning curve
        width : 1 (constant)               # its width
        reach : 1 (constant)               # the range R of its variable
        obs_x : 1 (linked)
        obs_x_dot : 1 (linked)
        obs_theta : 1 (linked)
        obs_theta_dot : 1 (linked)
        """
        self.code = """
        position_part = (variable_index == 0)*obs_x + (variable_index == 1)*obs_x_dot
        angle_part = (variable_index == 2)*obs_theta + (variable_index == 3)*obs_theta_dot
        observed = position_part + angle_part
        offset = (clip(observed, -reach, reach) - center)/width
        phase += max_rate*dt*exp(-0.5*offset**2)
        x = int(phase >= 1)
        phase -= x
        """
        self.namespace = {"max_rate": max_rate}

    def tuning(self):
        """``variable_index``, ``center``, ``width`` and ``reach`` of every input."""
        n = self.n_per_variable
        index, center, width, reach = [], [], [], []
        for k, name in enumerate(STATE):
            centres = np.linspace(-POPULATION_RANGES[name], POPULATION_RANGES[name], n)
            index += [k] * n
            center += list(centres)
            width += [centres[1] - centres[0]] * n
            reach += [POPULATION_RANGES[name]] * n
        return {"variable_index": np.array(index), "center": np.array(center), "width": np.array(width),
                "reach": np.array(reach)}

    def link(self, inputs, env_group):
        """Set the tuning of the ``inputs`` group and link it to the state of ``env_group``."""
        for name, values in self.tuning().items():
            setattr(inputs, name, values)
        for name in STATE:
            setattr(inputs, f"obs_{name}", b2.linked_var(env_group, name, index=np.zeros(inputs.N, dtype=int)))
