"""Continuous-time BPTT (Pearlmutter 1989): a continuous-time RNN and its adjoint, both as Brian2 code.

Pearlmutter, B. A. (1989), "Learning state space trajectories in recurrent neural networks",
Neural Computation 1(2):263-269, doi:10.1162/neco.1989.1.2.263.

The network
-----------
``n`` units, the first ``n_out`` of which are the outputs (Pearlmutter's outputs are units of the
network, not a readout):

.. math::

    T_i \\frac{dy_i}{dt} = -y_i + \\sigma(x_i) + I_i(t), \\qquad x_i = \\sum_j W_{ij} y_j + b_i,
    \\qquad \\sigma(x) = \\frac{1}{1 + e^{-x}}

(``W[i, j]`` is the weight from unit ``j`` to unit ``i``, Pearlmutter's :math:`w_{ji}`; the bias
:math:`b_i` is his weight from a unit that is always on). The error is a functional of the trajectory,

.. math::

    E = \\int_0^{t_1} q(y(t), t)\\, dt, \\qquad q = \\tfrac12 \\sum_{k < n_{out}} m_k(t) (y_k(t) - d_k(t))^2

with a target trajectory ``d`` and a weight ``m`` (0 outside the part of the window that counts).

Simulated system
----------------
Brian2 integrates the network by explicit Euler on the grid :math:`t_n = n\\,dt`, :math:`n = 0 .. N`,
and the error by the rectangle rule:

.. math::

    y^{n+1} = y^n + \\frac{dt}{T}\\left(-y^n + \\sigma(x^n) + I^n\\right), \\qquad
    E_{dt} = dt \\sum_{n=0}^{N} q^n .

Discrete adjoint (the exact gradient of :math:`E_{dt}`)
-------------------------------------------------------
With :math:`\\lambda^n = \\partial E_{dt} / \\partial y^n` (the total derivative), :math:`\\lambda^{N+1} = 0`
and, for :math:`n = N .. 0`,

.. math::

    g_i^n = \\lambda_i^{n+1} \\sigma'(x_i^n) / T_i, \\qquad
    \\lambda_j^n = \\lambda_j^{n+1} - \\frac{dt}{T_j}\\lambda_j^{n+1} + dt\\, e_j^n + dt \\sum_i W_{ij} g_i^n,

    \\frac{\\partial E_{dt}}{\\partial W_{ij}} = dt \\sum_{n=0}^{N-1} g_i^n y_j^n, \\quad
    \\frac{\\partial E_{dt}}{\\partial b_i} = dt \\sum_n g_i^n, \\quad
    \\frac{\\partial E_{dt}}{\\partial T_i} =
    -\\frac{dt}{T_i^2} \\sum_n \\lambda_i^{n+1} (-y_i^n + \\sigma(x_i^n) + I_i^n),

with :math:`e^n = m^n (y^n - d^n)` on the outputs (0 on hidden units); :math:`\\lambda^0` is the gradient
with respect to the initial state.

Continuous adjoint (Pearlmutter's equations, discretised)
--------------------------------------------------------
Pearlmutter's adjoint (his eqs. for :math:`dz_i/dt` and the two gradient integrals, in our indexing):

.. math::

    \\frac{dz_i}{dt} = \\frac{z_i}{T_i} - e_i - \\sum_j \\frac{1}{T_j} W_{ji} \\sigma'(x_j) z_j,
    \\qquad z(t_1) = 0,

    \\frac{\\partial E}{\\partial W_{ij}} = \\frac{1}{T_i}\\int_0^{t_1} z_i \\sigma'(x_i) y_j\\, dt, \\qquad
    \\frac{\\partial E}{\\partial T_i} = -\\frac{1}{T_i}\\int_0^{t_1} z_i \\frac{dy_i}{dt}\\, dt .

The *continuous* flavour integrates :math:`z` backwards from :math:`z^N = 0` by Heun's method (the
trapezoidal predictor-corrector; the forward states are the recorded grid values) and takes the
integrals by the trapezoidal rule. It estimates the gradient of the continuous :math:`E`, to which
it converges as :math:`dt \\to 0`, and differs from the exact gradient of the simulated system by
O(dt). (Integrating the same equations by explicit Euler, with :math:`z^n` at the forward's grid
points, gives the discrete adjoint above exactly, with :math:`z^n = \\lambda^{n+1}`: for explicit
Euler the two views coincide, which is why the continuous flavour uses another scheme.)

In Brian2
---------
:class:`CtrnnForward` runs ``N + 1`` steps and records :math:`y^n` and :math:`x^n`, ``n = 0 .. N``;
the error accumulates in the units' ``loss``. :class:`CtrnnAdjoint` is a second network with the
transposed connections (a synapse from unit ``i`` to unit ``j`` carries :math:`W_{ij}`): it runs
``N + 1`` steps over reversed time, driven by the recorded forward states as ``TimedArray`` values
(step ``k`` reads grid point ``n = N - k``), the back-propagated input :math:`\\sum_i W_{ij} g_i` a
summed variable, and accumulates the gradients in the synapses (``grad_w``) and the units (``grad_b``,
``grad_tau``). Both build once in ``cpp_standalone`` and re-run with ``run_args``.

:func:`jax_loss_and_gradients` differentiates the same discretised forward by JAX (the optional extra
``bptt``), the independent check of the discrete adjoint.
"""

from dataclasses import dataclass, field

import brian2 as b2
import numpy as np

from brian2learn.models.weight_levels import check_levels
from brian2learn.simulation.devices import schedule
from brian2learn.simulation.files import checked_arrays

#: Flavours of the adjoint.
ADJOINTS = ("discrete", "continuous")

#: Units of a continuous-time RNN (Pearlmutter 1989): state, net input and the error so far.
FORWARD_UNIT_EQS = """
y : 1                      # activity y_i
x : 1                      # net input x_i = sum_j W_ij y_j + b_i
x_syn : 1                  # sum_j W_ij y_j (summed)
b : 1 (constant)           # bias
tau : second (constant)    # time constant T_i
loss : second              # dt sum_n m^n q^n of this unit so far
"""

FORWARD_SYNAPSE_EQS = """
w : 1                      # W[post, pre]
x_syn_post = w*y_pre : 1 (summed)
"""

#: Net input and error of grid point n (t = n dt); the error weight is 0 on hidden units.
FORWARD_NET_INPUT = """
x = x_syn + b
loss += dt*error_weight(t, i)*0.5*(y - target(t, i))**2
"""

#: One Euler step of T dy/dt = -y + sigma(x) + I.
FORWARD_EULER_STEP = "y = y + dt/tau*(-y + 1/(1 + exp(-x)) + drive(t, i))"

ADJOINT_UNIT_EQS = """
lam : second               # adjoint: lambda^{n+1} (discrete) or z^n (continuous)
y_now : 1                  # y^n of the forward run
sig : 1                    # sigma(x^n)
sig_prev : 1               # continuous flavour: sigma(x^{n-1})
g : 1                      # lam sigma'(x^n)/T, sent back through the transposed weights
back : 1                   # sum_i W_ij g_i (summed)
z_pred : second            # continuous flavour: Heun's predictor z^{n-1}
g_pred : 1                 # continuous flavour: z_pred sigma'(x^{n-1})/T
back_pred : 1              # sum_i W_ij g_pred_i (summed)
slope : 1                  # continuous flavour: dz/ds at t_n (s = reversed time)
grad_b : second            # dE/db_i
grad_tau : 1               # dE/dT_i
tau : second (constant)
"""

ADJOINT_SYNAPSE_EQS = """
w : 1                      # W[pre, post] of the forward network (this synapse runs from i to j)
grad_w : second            # dE/dW[pre, post]
back_post = w*g_pre : 1 (summed)
back_pred_post = w*g_pred_pre : 1 (summed)
"""

#: Reversed-time readings of step k (grid point n = N - k): the recorded forward state.
ADJOINT_READ = """
y_now = y_rev(t, i)
sig = 1/(1 + exp(-x_rev(t, i)))
g = lam*sig*(1 - sig)/tau
"""

#: Discrete adjoint: the gradient terms of step n (from lambda^{n+1}), then lambda^n.
DISCRETE_GRADIENT = """
grad_b += dt*g
grad_tau += -dt*lam*(-y_now + sig + drive_rev(t, i))/tau**2
"""
DISCRETE_ADJOINT_STEP = """
lam = lam - dt*lam/tau + dt*error_weight_rev(t, i)*(y_now - target_rev(t, i)) + dt*back
"""

#: Continuous adjoint: trapezoidal weights of the gradient integrals (1/2 at n = 0 and n = N).
CONTINUOUS_GRADIENT = """
grad_b += quad_weight(t)*dt*g
grad_tau += -quad_weight(t)*dt*lam*(-y_now + sig + drive_rev(t, i))/tau**2
"""
#: Heun's predictor for z^{n-1} (slope at t_n in reversed time s = t_1 - t: dz/ds = -dz/dt).
CONTINUOUS_PREDICT = """
slope = -lam/tau + error_weight_rev(t, i)*(y_now - target_rev(t, i)) + back
z_pred = lam + dt*slope
g_pred = z_pred*sig_prev*(1 - sig_prev)/tau
"""
#: Heun's corrector: the mean of the slopes at t_n and t_{n-1}.
CONTINUOUS_CORRECT = """
slope_next = -z_pred/tau + error_weight_rev(t + dt, i)*(y_rev(t + dt, i) - target_rev(t + dt, i)) + back_pred
lam = lam + 0.5*dt*(slope + slope_next)
"""


@dataclass
class CtrnnConfig:
    """Structure and grid of a continuous-time RNN trained by continuous-time BPTT.

    Parameters
    ----------
    n_units : int
        Units, outputs included.
    n_out : int
        The first ``n_out`` units are the outputs (1 <= n_out <= n_units).
    n_steps : int
        Euler steps ``N`` of the window (grid points ``0 .. N``).
    dt : Quantity
        Step of the grid; a power of two keeps Brian2's clocks exact (default 2**-5 s).
    """

    n_units: int
    n_out: int
    n_steps: int
    dt: object = field(default_factory=lambda: 2.0 ** -5 * b2.second)

    def __post_init__(self):
        for name in ("n_units", "n_out", "n_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"'{name}' must be a positive integer, got {value!r}")
        if self.n_out > self.n_units:
            raise ValueError(f"'n_out' must be at most n_units = {self.n_units}, got {self.n_out}")
        if not isinstance(self.dt, b2.Quantity) or not self.dt.has_same_dimensions(b2.second) or float(self.dt) <= 0:
            raise ValueError(f"'dt' must be a positive time (e.g. 2**-5*second), got {self.dt!r}")

    @property
    def n_points(self):
        """Grid points ``N + 1``."""
        return self.n_steps + 1

    @property
    def duration(self):
        """``t_1 = N dt`` in seconds (a float)."""
        return self.n_steps * float(self.dt)


def initial_parameters(config, first_outputs, seed, tau_init=1.0):
    """Initial parameters drawn from ``numpy.random.default_rng(seed)``: ``W ~ N(0, 1/n)``, ``b = 0``,
    ``T = tau_init`` for every unit, the output units starting at ``first_outputs`` (e.g. the target's first
    point) and the hidden units at ``U(0.2, 0.8)``."""
    n = config.n_units
    first_outputs = np.asarray(first_outputs, dtype=float)
    if first_outputs.shape != (config.n_out,):
        raise ValueError(f"'first_outputs' must have shape (n_out,) = ({config.n_out},), got {first_outputs.shape}")
    rng = np.random.default_rng(seed)
    return {"w": rng.normal(0.0, 1.0 / np.sqrt(n), (n, n)), "b": np.zeros(n), "tau": np.full(n, float(tau_init)),
            "y0": np.concatenate([first_outputs, rng.uniform(0.2, 0.8, n - config.n_out)])}


def check_parameters(config, params):
    """``w`` (n, n), ``b`` (n,), ``tau`` (n,) in seconds (floats), ``y0`` (n,); copies, checked.

    Raises ``ValueError`` naming the parameter for a wrong shape, a non-finite value, a time
    constant that is not positive or one below ``dt`` (explicit Euler needs ``dt < T``).
    """
    n = config.n_units
    shapes = {"w": (n, n), "b": (n,), "tau": (n,), "y0": (n,)}
    params = dict(params)
    tau = params.get("tau")
    if isinstance(tau, b2.Quantity):
        if not tau.has_same_dimensions(b2.second):
            raise ValueError(f"'tau' must be times (or floats in seconds), got {tau!r}")
        params["tau"] = np.asarray(tau / b2.second)
    checked = checked_arrays(params, shapes)
    tau = checked["tau"]
    if np.any(tau <= 0):
        raise ValueError(f"'tau' must be positive, got a minimum of {tau.min()!r} s")
    if np.any(tau < float(config.dt)):
        raise ValueError(f"'dt' = {float(config.dt)!r} s is larger than the smallest time constant "
                         f"{tau.min()!r} s; explicit Euler needs dt < tau (use a smaller dt)")
    return checked


def check_task(config, task):
    """``targets`` (N+1, n_out), ``error_weight`` (N+1,) or (N+1, n_out) >= 0, optional ``drive`` (N+1, n).

    Returns the arrays of the Brian2 stimuli, over all units: ``target``, ``error_weight``
    (0 on hidden units) and ``drive``, each (N+1, n).
    """
    n, n_out, points = config.n_units, config.n_out, config.n_points
    targets = np.asarray(task["targets"], dtype=float)
    if targets.shape != (points, n_out):
        raise ValueError(f"'targets' must have shape (n_steps + 1, n_out) = {(points, n_out)}, got {targets.shape}")
    weight = np.asarray(task.get("error_weight", np.ones(points)), dtype=float)
    if weight.shape == (points,):
        weight = np.repeat(weight[:, None], n_out, axis=1)
    if weight.shape != (points, n_out):
        raise ValueError(f"'error_weight' must have shape (n_steps + 1,) or {(points, n_out)}, got {weight.shape}")
    if np.any(weight < 0) or not np.all(np.isfinite(weight)):
        raise ValueError("'error_weight' must be finite and non-negative")
    drive = np.asarray(task.get("drive", np.zeros((points, n))), dtype=float)
    if drive.shape != (points, n):
        raise ValueError(f"'drive' must have shape (n_steps + 1, n_units) = {(points, n)}, got {drive.shape}")
    if not (np.all(np.isfinite(targets)) and np.all(np.isfinite(drive))):
        raise ValueError("'targets' and 'drive' must be finite")
    full_target = np.zeros((points, n))
    full_target[:, :n_out] = targets
    full_weight = np.zeros((points, n))
    full_weight[:, :n_out] = weight
    return {"target": full_target, "error_weight": full_weight, "drive": drive}


def all_to_all(n):
    """Pre and post indices of the ``n * n`` synapses (autapses included), synapse ``s = post * n + pre``."""
    post, pre = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    return pre.ravel(), post.ravel()


class CtrnnForward:
    """The forward network over one window: ``N + 1`` steps recording ``y^n`` and ``x^n``.

    Parameters
    ----------
    config : CtrnnConfig
    n_steps : int or None
        Steps of this network (default ``config.n_steps``; longer for free running after training).
    name : str
    """

    def __init__(self, config, n_steps=None, name="ctrnn"):
        self.config = config
        steps = config.n_steps if n_steps is None else int(n_steps)
        self.n_steps = steps
        n, dt = config.n_units, config.dt
        self.dt = dt
        # one array each: a TimedArray keeps the array it is given, and the runtime device writes into it
        self.target = b2.TimedArray(np.zeros((steps + 1, n)), dt=dt, name=f"{name}_target")
        self.error_weight = b2.TimedArray(np.zeros((steps + 1, n)), dt=dt, name=f"{name}_error_weight")
        self.drive = b2.TimedArray(np.zeros((steps + 1, n)), dt=dt, name=f"{name}_drive")
        namespace = {"target": self.target, "error_weight": self.error_weight, "drive": self.drive}
        self.units = b2.NeuronGroup(n, FORWARD_UNIT_EQS, dt=dt, namespace=namespace, name=f"{name}_units")
        self.units.tau = 1 * b2.second
        self.synapses = b2.Synapses(self.units, self.units, FORWARD_SYNAPSE_EQS, dt=dt, namespace=namespace,
                                    name=f"{name}_synapses")
        pre, post = all_to_all(n)
        self.synapses.connect(i=pre, j=post)
        schedule(self.synapses.summed_updaters["x_syn_post"], "groups", 0)
        self.units.run_regularly(FORWARD_NET_INPUT, when="groups", order=1, name=f"{name}_net_input")
        self.monitor = b2.StateMonitor(self.units, ["y", "x"], record=True, when="groups", order=2,
                                       name=f"{name}_monitor")
        self.units.run_regularly(FORWARD_EULER_STEP, when="groups", order=3, name=f"{name}_euler_step")
        self.network = b2.Network(self.units, self.synapses, self.monitor)

    def run(self):
        self.network.run((self.n_steps + 1) * self.dt, namespace={})

    def state_variables(self):
        """``w`` (synapse order, see :func:`all_to_all`), ``b``, ``tau`` (seconds), ``y0`` (the initial ``y``)."""
        return {"w": (self.synapses, "w"), "b": (self.units, "b"), "tau": (self.units, "tau"),
                "y0": (self.units, "y")}

    def stimulus_arrays(self):
        """``target``, ``error_weight``, ``drive``: (n_steps + 1, n_units) each."""
        return {"target": self.target, "error_weight": self.error_weight, "drive": self.drive}


class CtrnnAdjoint:
    """The adjoint network: ``N + 1`` steps over reversed time, driven by the recorded forward states.

    Parameters
    ----------
    config : CtrnnConfig
    flavour : {'discrete', 'continuous'}
        The exact gradient of the simulated system, or Pearlmutter's adjoint integrated by Heun's method
        (module docstring).
    name : str
    """

    def __init__(self, config, flavour="discrete", name="ctrnn_adjoint"):
        if flavour not in ADJOINTS:
            raise ValueError(f"unknown adjoint flavour {flavour!r}; allowed: {', '.join(ADJOINTS)}")
        self.config = config
        self.flavour = flavour
        n, dt, points = config.n_units, config.dt, config.n_points
        self.dt = dt
        self.arrays = {key: b2.TimedArray(np.zeros((points, n)), dt=dt, name=f"{name}_{key}")
                       for key in ("y_rev", "x_rev", "drive_rev", "target_rev", "error_weight_rev")}
        quad = np.ones(points)
        quad[[0, -1]] = 0.5
        namespace = {**self.arrays, "quad_weight": b2.TimedArray(quad, dt=dt, name=f"{name}_quad_weight")}
        self.units = b2.NeuronGroup(n, ADJOINT_UNIT_EQS, dt=dt, namespace=namespace, name=f"{name}_units")
        self.units.tau = 1 * b2.second
        self.synapses = b2.Synapses(self.units, self.units, ADJOINT_SYNAPSE_EQS, dt=dt, namespace=namespace,
                                    name=f"{name}_synapses")
        # forward synapse s runs pre[s] -> post[s] with W[post, pre]; its adjoint runs post[s] -> pre[s]
        pre, post = all_to_all(n)
        self.synapses.connect(i=post, j=pre)
        read = ADJOINT_READ
        if flavour == "continuous":
            read += "sig_prev = 1/(1 + exp(-x_rev(t + dt, i)))\n"
        self.units.run_regularly(read, when="start", order=0, name=f"{name}_read")
        gradient_w = "grad_w += dt*g_pre*y_now_post" if flavour == "discrete" else \
            "grad_w += quad_weight(t)*dt*g_pre*y_now_post"
        self.synapses.run_regularly(gradient_w, when="start", order=1, name=f"{name}_grad_w")
        schedule(self.synapses.summed_updaters["back_post"], "groups", 0)
        if flavour == "discrete":
            self.units.run_regularly(DISCRETE_GRADIENT + DISCRETE_ADJOINT_STEP, when="groups", order=1,
                                     name=f"{name}_step")
            schedule(self.synapses.summed_updaters["back_pred_post"], "end", 0)
        else:
            self.units.run_regularly(CONTINUOUS_GRADIENT + CONTINUOUS_PREDICT, when="groups", order=1,
                                     name=f"{name}_predict")
            schedule(self.synapses.summed_updaters["back_pred_post"], "groups", 2)
            self.units.run_regularly(CONTINUOUS_CORRECT, when="groups", order=3, name=f"{name}_correct")
        self.network = b2.Network(self.units, self.synapses)

    def run(self):
        self.network.run(self.config.n_points * self.dt, namespace={})

    def state_variables(self):
        """``w`` (adjoint synapse order: synapse ``s`` carries forward ``W[post[s], pre[s]]``), ``tau``."""
        return {"w": (self.synapses, "w"), "tau": (self.units, "tau")}

    def stimulus_arrays(self):
        """The forward run reversed in time: ``y_rev``, ``x_rev``, ``drive_rev``, ``target_rev``,
        ``error_weight_rev``, each (N + 1, n_units), row ``k`` holding grid point ``N - k``."""
        return dict(self.arrays)


# -- between the two networks ---------------------------------------------------------------------------
def forward_values(config, params):
    """``run_args`` values of :class:`CtrnnForward` for ``params`` (checked by :func:`check_parameters`)."""
    pre, post = all_to_all(config.n_units)
    return {"w": params["w"][post, pre], "b": params["b"], "tau": params["tau"] * b2.second, "y0": params["y0"]}


def adjoint_values(config, params, prefix=""):
    """``run_args`` values of :class:`CtrnnAdjoint`: the forward weights on the transposed synapses.

    ``prefix``: ``'adjoint_'`` for :class:`CtbpttModel`.
    """
    pre, post = all_to_all(config.n_units)
    return {f"{prefix}w": params["w"][post, pre], f"{prefix}tau": params["tau"] * b2.second}


def adjoint_stimuli(record, stimuli):
    """The adjoint's stimuli: the forward run's ``y``, ``x`` (each (N + 1, n)) and its stimuli, reversed in time."""
    return {"y_rev": record["y"][::-1], "x_rev": record["x"][::-1], "drive_rev": stimuli["drive"][::-1],
            "target_rev": stimuli["target"][::-1], "error_weight_rev": stimuli["error_weight"][::-1]}


def gradient_matrix(config, grad_w):
    """``dE/dW`` (n, n) from the adjoint synapses' ``grad_w`` (adjoint synapse order)."""
    pre, post = all_to_all(config.n_units)
    matrix = np.zeros((config.n_units, config.n_units))
    matrix[post, pre] = grad_w
    return matrix


# -- JAX reference (the optional extra ``bptt``) ----------------------------------------------------------
def _jax():
    import jax

    jax.config.update("jax_enable_x64", True)
    return jax


def jax_forward_and_loss(jax, config):
    """``f(params, stimuli) -> (E, y)``: the discretised forward of the module docstring, in JAX."""
    jnp = jax.numpy
    dt = float(config.dt)

    def forward(params, stimuli):
        w, b, tau, y0 = params["w"], params["b"], params["tau"], params["y0"]

        def step(y, drive):
            x = w @ y + b
            return y + dt / tau * (-y + jax.nn.sigmoid(x) + drive), y

        _, ys = jax.lax.scan(step, y0, stimuli["drive"])  # ys[n] = y^n, n = 0 .. N
        q = 0.5 * stimuli["error_weight"] * (ys - stimuli["target"]) ** 2
        return dt * jnp.sum(q), ys

    return forward


def jax_loss_and_gradients(config, params, task):
    """``E`` and its exact gradients ``w``, ``b``, ``tau``, ``y0`` of the simulated system, by JAX autodiff.

    The independent check of the discrete adjoint; float64.
    """
    jax = _jax()
    params = check_parameters(config, params)
    stimuli = check_task(config, task)
    forward = jax_forward_and_loss(jax, config)
    arrays = {name: jax.numpy.asarray(value) for name, value in params.items()}
    inputs = {name: jax.numpy.asarray(value) for name, value in stimuli.items()}
    (loss, _), grads = jax.value_and_grad(forward, has_aux=True)(arrays, inputs)
    return float(loss), {name: np.asarray(value) for name, value in grads.items()}


def numpy_forward(config, params, task, n_steps=None):
    """The same Euler forward in numpy: ``(E, y)`` with ``y`` (n_steps + 1, n); for checks and free running.

    ``n_steps`` beyond the task's window continues with zero drive and no error.
    """
    params = check_parameters(config, params)
    stimuli = check_task(config, task)
    steps = config.n_steps if n_steps is None else int(n_steps)
    dt = float(config.dt)
    w, b, tau = params["w"], params["b"], params["tau"]
    y = params["y0"].copy()
    ys = np.empty((steps + 1, config.n_units))
    loss = 0.0
    for n in range(steps + 1):
        ys[n] = y
        if n < config.n_points:
            loss += dt * np.sum(0.5 * stimuli["error_weight"][n] * (y - stimuli["target"][n]) ** 2)
        drive = stimuli["drive"][n] if n < config.n_points else 0.0
        y = y + dt / tau * (-y + 1.0 / (1.0 + np.exp(-(w @ y + b))) + drive)
    return loss, ys


class CtbpttModel:
    """The forward and the adjoint network in one build (one Brian2 process holds one standalone build).

    Each run simulates both: a run with the parameters computes the forward trajectory (the adjoint part
    idles on its last stimuli), the next run with the recorded trajectory reversed computes the gradients.

    Parameters
    ----------
    config : CtrnnConfig
    adjoint : {'discrete', 'continuous'}
    """

    def __init__(self, config, adjoint="discrete"):
        self.config = config
        self.forward = CtrnnForward(config)
        self.adjoint = CtrnnAdjoint(config, adjoint)
        self.network = b2.Network(*self.forward.network.objects, *self.adjoint.network.objects)

    def run(self):
        self.network.run(self.config.n_points * self.config.dt, namespace={})

    def state_variables(self):
        """The forward's ``w``, ``b``, ``tau``, ``y0`` and the adjoint's ``adjoint_w``, ``adjoint_tau``."""
        return {**self.forward.state_variables(),
                **{f"adjoint_{name}": value for name, value in self.adjoint.state_variables().items()}}

    def stimulus_arrays(self):
        return {**self.forward.stimulus_arrays(), **self.adjoint.stimulus_arrays()}


def train_jax(config, params, task, n_iterations, optimizer, learn_tau=True, tau_min=None, weight_levels=None):
    """Discrete BPTT of the same network in JAX (``jit`` and ``lax.scan``): the peer of the Brian2 trainer.

    The same updates as :class:`~brian2learn.training.ctbptt.CtbpttTrainer` (Adam on ``W``, ``b`` and
    :math:`\\log T` clamped at ``tau_min``, from the exact gradient of the simulated system), all
    iterations in one compiled scan. ``weight_levels`` (``'w'``, ``'b'`` -> ``(step, limit)``,
    :mod:`brian2learn.models.weight_levels`) runs the network with those held at discrete levels, the gradient at
    the held values updating the full-precision ones (straight-through); ``losses`` are the held network's.

    Returns
    -------
    dict
        ``losses`` (E before each update), ``params`` (final), ``wall_seconds`` (compile included) and
        ``compile_seconds`` (the first call on a one-iteration problem, an estimate of the tracing cost).
    """
    import time

    from brian2learn.plasticity.optimizers import jax_step

    jax = _jax()
    jnp = jax.numpy
    params = check_parameters(config, params)
    stimuli = {name: jnp.asarray(value) for name, value in check_task(config, task).items()}
    tau_min = 4 * float(config.dt) if tau_min is None else float(tau_min)
    forward = jax_forward_and_loss(jax, config)
    value_and_grad = jax.value_and_grad
    fixed = {"y0": jnp.asarray(params["y0"])}
    if not learn_tau:
        fixed["tau"] = jnp.asarray(params["tau"])

    weight_levels = check_levels(weight_levels, ("w", "b"))
    if weight_levels:
        from brian2learn.plasticity.bptt import held_at_levels

        def held_forward(values, stimuli):
            return forward({**values, **held_at_levels({"w": values["w"], "b": values["b"]}, weight_levels)},
                           stimuli)
    else:
        held_forward = forward

    def full(groups):
        out = {"w": groups["w"], "b": groups["b"], **fixed}
        if learn_tau:
            out["tau"] = jnp.exp(groups["log_tau"])
        return out

    def one(carry, _):
        groups, opt_state = carry
        (loss, _), grads = value_and_grad(held_forward, has_aux=True)(full(groups), stimuli)
        group_grads = {"w": grads["w"], "b": grads["b"]}
        if learn_tau:
            group_grads["log_tau"] = grads["tau"] * jnp.exp(groups["log_tau"])
        groups, opt_state = jax_step(optimizer, groups, group_grads, opt_state)
        if learn_tau:
            groups = dict(groups, log_tau=jnp.maximum(groups["log_tau"], np.log(tau_min)))
        return (groups, opt_state), loss

    groups = {"w": jnp.asarray(params["w"]), "b": jnp.asarray(params["b"])}
    if learn_tau:
        groups["log_tau"] = jnp.log(jnp.asarray(params["tau"]))
    opt_state = jax.tree_util.tree_map(jnp.asarray, optimizer.init_state({k: np.asarray(v) for k, v in groups.items()}))

    @jax.jit
    def train(carry):
        return jax.lax.scan(one, carry, None, length=n_iterations)

    start = time.perf_counter()
    (groups, _), losses = train((groups, opt_state))
    losses = np.asarray(losses)
    wall = time.perf_counter() - start
    final = {name: np.asarray(value) for name, value in full(groups).items()}
    return {"losses": losses, "params": final, "wall_seconds": wall}
