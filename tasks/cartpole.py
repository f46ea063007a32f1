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
   ``terminated``, ``episode_return`` and ``last_return``.
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
        self.group = b2.NeuronGroup(n_envs, CARTPOLE_EQS, dt=dt or env_dt, namespace=namespace, name=name)
        self.group.total_mass = c["masspole"] + c["masscart"]
        self.group.episode = -1
        self.group.done = 1  # the first step starts episode 0
        self.step = self.group.run_regularly(CARTPOLE_STEP, dt=env_dt, when=ENV_WHEN, order=ENV_ORDER,
                                             name=f"{name}_step")
        self.n_envs = n_envs
