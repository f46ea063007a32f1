"""The fixed random tanh reservoir of Züge, Klos & Memmesheimer (2023), and its linear readout's references.

Züge, Klos & Memmesheimer (2023), "Weight versus node perturbation learning in temporally extended
tasks: weight perturbation often performs similarly or better", Phys Rev X 13:021006,
doi:10.1103/PhysRevX.13.021006 (parameters from the paper and the authors' example code). The task
(inputs ``u``, butterfly target ``y*``, error) is :mod:`brian2learn.tasks.butterfly`; the readout learns
with the rules of :mod:`brian2learn.plasticity.perturbation_network`.

Reservoir
---------
``N = 500`` tanh units with time constant ``tau = 10`` steps, driven by the task's inputs ``u_k(t)``:

.. math::

    x_i(t) = \\gamma x_i(t-1) + (1 - \\gamma)\\Big(\\sum_k W^{in}_{ik} u_k(t) + \\sum_j W^{rec}_{ij} r_j(t-1)\\Big),
    \\qquad r_i(t) = \\tanh x_i(t), \\qquad \\gamma = e^{-1/\\tau}

with ``W_in ~ N(0, 1/n_inputs)`` and ``W_rec ~ N(0, 1)`` scaled so that its eigenvalue of largest real part
has real part 1. The reservoir starts from ``x = 0`` ``warmup = 100`` steps before the trial (the inputs are
periodic in ``T``); its activity ``r(t)``, the same in every trial, is the input of a linear readout
``y_k(t) = sum_i W_ki r_i(t)``, trained from ``W = 0``.

Reference quantities
--------------------
``S = r r^T / T`` (eigenvalues ``lambda_1 >= lambda_2 >= ...``) gives the participation ratio
``PR = (sum lambda)^2 / sum lambda^2`` and the effective input strength ``alpha_eff^2 = sum lambda / PR``;
the learning rate of both rules is ``eta = 1/((M PR + 2) alpha_eff^2)`` (the optimal rate of the linear
theory with ``PR`` equally strong inputs, ``M`` outputs). Perturbation strengths are matched:
``sigma_NP = sigma_eff`` and ``sigma_WP = sigma_eff / sqrt(sum lambda)``, so that WP's output perturbation
has variance ``sigma_eff^2`` per step like NP's (the authors' example code divides by ``sum lambda`` itself).

The least-squares optimum of the readout over the leading ``k`` principal components of ``r`` is
``W_k = (1/T) y* r^T S_k^+``, ``S_k`` the rank-``k`` part of ``S``. With all components the reservoir
reproduces the butterfly almost exactly (an error near 0); the authors' reference is ``k = 5``, the
number of inputs.
"""

import brian2 as b2
import numpy as np

from brian2learn.simulation.devices import STEP_DT, DeviceRunner
from brian2learn.tasks.butterfly import TASK

#: The reservoir of Züge et al. (2023) (their example code).
RESERVOIR = {
    "n_units": 500,      # N, reservoir units
    "tau": 10.0,         # reservoir time constant, in steps
    "warmup": 100,       # steps run before the recorded trial
}


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"'{name}' must be a positive integer, got {value!r}")
    return int(value)


def draw_reservoir(seed, n_units=RESERVOIR["n_units"], n_inputs=TASK["n_inputs"]):
    """Reservoir weights from ``numpy.random.default_rng(seed)``: ``w_in`` (N, n_inputs) ``~ N(0, 1/n_inputs)``,
    ``w_rec`` (N, N) ``~ N(0, 1)`` divided by the largest real part of its eigenvalues."""
    n_units = _positive_int("n_units", n_units)
    n_inputs = _positive_int("n_inputs", n_inputs)
    rng = np.random.default_rng(seed)
    w_in = rng.standard_normal((n_units, n_inputs)) / np.sqrt(n_inputs)
    w_rec = rng.standard_normal((n_units, n_units))
    leading = float(np.max(np.linalg.eigvals(w_rec).real))
    if not leading > 0:
        raise ValueError("the recurrent matrix has no eigenvalue with positive real part; draw another seed")
    return {"w_in": w_in, "w_rec": w_rec / leading}


def _check_reservoir(weights, inputs):
    w_in = np.asarray(weights["w_in"], dtype=float)
    w_rec = np.asarray(weights["w_rec"], dtype=float)
    inputs = np.asarray(inputs, dtype=float)
    if w_rec.ndim != 2 or w_rec.shape[0] != w_rec.shape[1]:
        raise ValueError(f"'w_rec' must be square, got shape {w_rec.shape}")
    if w_in.shape != (w_rec.shape[0], inputs.shape[1]):
        raise ValueError(f"'w_in' must have shape (N, n_inputs) = {(w_rec.shape[0], inputs.shape[1])}, "
                         f"got {w_in.shape}")
    return w_in, w_rec, inputs


def warmup_inputs(inputs, warmup):
    """The input sequence of a simulation: ``warmup`` steps of the periodic input before the trial."""
    inputs = np.asarray(inputs, dtype=float)
    if isinstance(warmup, bool) or not isinstance(warmup, (int, np.integer)) or warmup < 0:
        raise ValueError(f"'warmup' must be a non-negative integer, got {warmup!r}")
    n_steps = inputs.shape[0]
    return inputs[(np.arange(warmup + n_steps) - warmup) % n_steps]


def reservoir_states_numpy(weights, inputs, tau=RESERVOIR["tau"], warmup=RESERVOIR["warmup"]):
    """Reference loop of the reservoir (see the module documentation); returns ``r`` (T, N) of the trial."""
    w_in, w_rec, inputs = _check_reservoir(weights, inputs)
    gamma = np.exp(-1.0 / tau)
    x = np.zeros(w_rec.shape[0])
    r = np.zeros_like(x)
    sequence = warmup_inputs(inputs, warmup)
    states = np.zeros((len(sequence), len(x)))
    for step, u in enumerate(sequence):
        x = gamma * x + (1 - gamma) * (w_in @ u + w_rec @ r)
        r = np.tanh(x)
        states[step] = r
    return states[warmup:]


class ReservoirModel:
    """The reservoir as Brian2 code, one simulation of ``warmup + T`` steps (for :class:`DeviceRunner`).

    Each step: the inputs read ``u(t)`` (``before_groups``); the summed ``W_in u`` and ``W_rec r(t-1)``
    (``groups``, orders 0 and 1); the units' update (order 2); ``r`` is recorded at ``end``.
    """

    EQS = """
    x : 1                      # potential x_i
    r : 1                      # activity tanh(x_i)
    u_in : 1                   # summed W_in u(t)
    u_rec : 1                  # summed W_rec r(t - 1)
    gamma : 1 (constant)       # exp(-1/tau)
    """

    def __init__(self, n_units, n_inputs, n_total_steps, dt=STEP_DT, name="reservoir"):
        self.n_total_steps = n_total_steps
        self.dt = dt
        self.stimulus = b2.TimedArray(np.zeros((n_total_steps, n_inputs)), dt=dt, name=f"{name}_stimulus")
        namespace = {"reservoir_stimulus": self.stimulus}
        self.inputs = b2.NeuronGroup(n_inputs, "u : 1", dt=dt, namespace=namespace, name=f"{name}_inputs")
        self.inputs.run_regularly("u = reservoir_stimulus(t, i)", when="before_groups", name=f"{name}_inputs_step")
        self.units = b2.NeuronGroup(n_units, self.EQS, dt=dt, namespace=namespace, name=f"{name}_units")
        self.syn_in = b2.Synapses(self.inputs, self.units, "w : 1\nu_in_post = w*u_pre : 1 (summed)", dt=dt,
                                  name=f"{name}_syn_in")
        self.syn_rec = b2.Synapses(self.units, self.units, "w : 1\nu_rec_post = w*r_pre : 1 (summed)", dt=dt,
                                   name=f"{name}_syn_rec")
        post, pre = np.meshgrid(np.arange(n_units), np.arange(n_inputs), indexing="ij")
        self.syn_in.connect(i=pre.ravel(), j=post.ravel())
        post, pre = np.meshgrid(np.arange(n_units), np.arange(n_units), indexing="ij")
        self.syn_rec.connect(i=pre.ravel(), j=post.ravel())
        for syn, var, order in ((self.syn_in, "u_in_post", 0), (self.syn_rec, "u_rec_post", 1)):
            syn.summed_updaters[var].when = "groups"
            syn.summed_updaters[var].order = order
        self.units.run_regularly("x = gamma*x + (1 - gamma)*(u_in + u_rec)\nr = tanh(x)", when="groups", order=2,
                                 name=f"{name}_units_step")
        self.monitor = b2.StateMonitor(self.units, "r", record=True, when="end", name=f"{name}_monitor")
        self.network = b2.Network([self.inputs, self.units, self.syn_in, self.syn_rec, self.monitor])

    def run(self):
        self.network.run(self.n_total_steps * self.dt, namespace={})

    def state_variables(self):
        """``w_in``, ``w_rec`` (synapse order: ``[post, pre]`` flattened) and ``gamma``."""
        return {"w_in": (self.syn_in, "w"), "w_rec": (self.syn_rec, "w"), "gamma": (self.units, "gamma")}

    def stimulus_arrays(self):
        """``inputs`` (warmup + T, n_inputs)."""
        return {"inputs": self.stimulus}


def reservoir_states_brian2(weights, inputs, tau=RESERVOIR["tau"], warmup=RESERVOIR["warmup"], device="runtime"):
    """The reservoir simulated as Brian2 code; returns ``r`` (T, N) of the trial (as :func:`reservoir_states_numpy`)."""
    w_in, w_rec, inputs = _check_reservoir(weights, inputs)
    sequence = warmup_inputs(inputs, warmup)
    n_units, n_inputs = w_in.shape
    runner = DeviceRunner(lambda: ReservoirModel(n_units, n_inputs, len(sequence)), device=device)
    try:
        model = runner.run({"w_in": w_in.ravel(), "w_rec": w_rec.ravel(), "gamma": np.exp(-1.0 / tau)},
                           {"inputs": sequence})
        states = np.asarray(model.monitor.r, dtype=float).T.copy()
    finally:
        runner.close()
    return states[warmup:]


def reservoir_statistics(states):
    """Eigen-decomposition of ``S = r^T r / T`` for states (T, N).

    Returns a dict: ``eigenvalues`` (descending), ``eigenvectors`` (N, N, columns), ``participation_ratio``,
    ``alpha_sq_eff``, ``total_strength`` (``sum lambda``).
    """
    states = np.asarray(states, dtype=float)
    n_steps = states.shape[0]
    values, vectors = np.linalg.eigh(states.T @ states / n_steps)
    order = np.argsort(values)[::-1]
    values, vectors = np.clip(values[order], 0.0, None), vectors[:, order]
    total = float(values.sum())
    ratio = total ** 2 / float(np.sum(values ** 2))
    return {"eigenvalues": values, "eigenvectors": vectors, "participation_ratio": ratio,
            "alpha_sq_eff": total / ratio, "total_strength": total}


def readout_error(weights, states, target):
    """``E = (1/2T) sum_t sum_k (y*_k(t) - y_k(t))^2`` of readout weights (M, N) on states (T, N)."""
    states, target = np.asarray(states, dtype=float), np.asarray(target, dtype=float)
    return 0.5 * float(np.sum((target - states @ np.asarray(weights, dtype=float).T) ** 2)) / states.shape[0]


def least_squares_optimum(states, target, n_components=None):
    """Least-squares readout (M, N) and its error, over the leading ``n_components`` principal components
    (all of them with ``None``: then ``numpy.linalg.lstsq``)."""
    states, target = np.asarray(states, dtype=float), np.asarray(target, dtype=float)
    if n_components is None:
        weights = np.linalg.lstsq(states, target, rcond=None)[0].T
    else:
        n_components = _positive_int("n_components", n_components)
        if n_components > states.shape[1]:
            raise ValueError(f"'n_components' must be at most N = {states.shape[1]}, got {n_components}")
        stats = reservoir_statistics(states)
        vectors = stats["eigenvectors"][:, :n_components]
        values = stats["eigenvalues"][:n_components]
        if not np.all(values > 0):
            raise ValueError(f"the states have fewer than {n_components} non-zero principal components")
        projection = vectors @ np.diag(1.0 / values) @ vectors.T  # pseudo-inverse of S_k
        weights = (target.T @ states / states.shape[0]) @ projection
    return weights, readout_error(weights, states, target)


def learning_parameters(states, n_out=TASK["n_out"], sigma_eff=5e-3):
    """``eta`` (both rules), ``sigma_wp`` and ``sigma_np`` for effective perturbation strength ``sigma_eff``."""
    if not (np.isfinite(sigma_eff) and sigma_eff > 0):
        raise ValueError(f"'sigma_eff' must be a positive number, got {sigma_eff!r}")
    stats = reservoir_statistics(states)
    eta = 1.0 / ((n_out * stats["participation_ratio"] + 2) * stats["alpha_sq_eff"])
    return {"eta": eta, "sigma_wp": sigma_eff / np.sqrt(stats["total_strength"]), "sigma_np": float(sigma_eff)}
