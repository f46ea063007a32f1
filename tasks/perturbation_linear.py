"""The analytically tractable linear-readout task of Züge, Klos & Memmesheimer (2023), and its learning curves.

Züge, Klos & Memmesheimer (2023), "Weight versus node perturbation learning in temporally
extended tasks: weight perturbation often performs similarly or better", Phys Rev X 13:021006,
doi:10.1103/PhysRevX.13.021006.

Task
----
A linear readout ``y_k(t) = sum_n W_kn x_n(t)`` with ``M`` outputs and ``N`` inputs is trained over
trials of ``T`` time bins. The inputs are built from ``T`` smooth orthonormal functions
``phi_m(t)`` (the real Fourier basis on ``T`` points: a constant, then ``sin(m s)``, ``cos(m s)``
for ``m = 1, 2, ...``, ``s = 2 pi t / T``, normalised, and orthonormalised once more):

- only the first ``N_eff,task`` inputs are relevant; in every trial ``N_eff,trial`` of them are
  drawn at random (without replacement) and active, with strength ``alpha^2 = N / N_eff,trial``:
  ``x_n(t) = sqrt(T alpha^2) phi_n(t)`` for an active input ``n``, 0 otherwise, so that
  ``sum_t x_n(t)^2 = T alpha^2``. With ``N_eff,trial = N_eff,task`` every trial is the same
  ("a single subtask"); with ``N_eff,trial < N_eff,task`` there are "multiple subtasks";
- the target is ``y*_k(t) = sum_n W*_kn x_n(t) + d(t)``: target weights ``W*_kn = 0.1`` on the relevant
  inputs, plus an unrealizable component ``d(t) = sqrt(alpha_d^2 T) phi_{N_eff,task}(t)``, the same
  for every output, orthogonal to every input (the first basis function no input carries; the
  authors' code uses the next one, which changes nothing), with ``alpha_d^2 = 2 E_opt / M``;
- the error of a trial is ``E = (1/2T) sum_k sum_t (y*_k(t) - y_k(t))^2`` and the reward ``R = -E``.
  With the optimal weights ``E = E_opt`` (2 in the paper); from zero weights
  ``E_0 = E_opt + (M/2) w*^2 N_eff,trial alpha^2 = E_opt + M N w*^2 / 2`` (7 in the paper).

Learning curves
---------------
Write ``u = W - W*`` restricted to the ``D = M N_eff,task`` relevant weights, ``K = N_eff,trial``,
``f = K / N_eff,task`` (the fraction of relevant inputs active in a trial), ``D_S = M K`` and
``P = M T``. A trial's error is ``E = E_opt + (alpha^2/2) |u_S|^2`` (``S``: its active inputs), so
``<E> = E_opt + f (alpha^2/2) <|u|^2>``. One trial of either rule maps ``<|u|^2>`` linearly, which
gives the exact expected learning curve (Züge et al., Appendix; derived here for the general
``f``):

.. math::

    E(t) = E_\\infty + (E_0 - E_\\infty)\\, a^t, \\qquad E_\\infty = E_{opt} + \\frac{b_E}{1 - a}

- weight perturbation (``xi ~ N(0, sigma^2)`` on every weight, ``dW = -eta dE xi / sigma^2``):
  averaging ``dE = alpha^2 u_S.xi + (alpha^2/2)|xi_S|^2`` over Gaussian moments,
  ``a = 1 - f (2 eta alpha^2 - eta^2 alpha^4 (D + 2))`` and
  ``b_E = f eta^2 alpha^6 sigma^2 D_S (D_S + 2)(D + 4) / 8``;
- node perturbation (``xi_k(t) ~ N(0, sigma^2)`` added to every output in every bin,
  ``dW_kn = -eta dE sum_t xi_k(t) x_n(t) / sigma^2``): expanding ``xi_k`` in the basis,
  ``a = 1 - f (2 eta alpha^2 - eta^2 alpha^4 (D_S + 2))`` and
  ``b_E = f eta^2 alpha^4 [E_opt D_S + sigma^2 D_S (P + 2)(P + 4) / (8 T)]``; the ``E_opt`` term
  is the unrealizable target component, which correlates with the node perturbations.

In reward units (``R = -E``, ``b = -b_E``) these are the paper's
``R(t) = R_opt + (R_0 - R_opt - b/(1-a)) a^t + b/(1-a)`` with ``a = 1 - 2 eta alpha^2 + eta^2 alpha^4
(M N_eff + 2)``; for a single subtask (``f = 1``, ``D_S = D = M N_eff``) they reduce to the paper's
``b_WP = -sigma^2 eta^2 alpha^6 (M^3 N_eff^3 + 6 M^2 N_eff^2 + 8 M N_eff)/8`` and
``b_NP = -sigma^2 eta^2 alpha^4 (M^3 N_eff T + 6 M^2 N_eff + 8 M N_eff / T)/8 + eta^2 alpha^4 M N_eff R_opt``.
For multiple subtasks and ``sigma -> 0`` at the optimal rates, ``a_WP = 1 - f/(M N_eff,task + 2)``,
``a_NP = 1 - f/(M N_eff,trial + 2)``, WP ends at ``E_opt`` and NP at
``E_opt (1 + M K/(M K + 2))`` (3.96 for the paper's setting; "about 2 E_opt" in the paper).

The optimal learning rates are ``eta_WP = 1/((M N_eff,task + 2) alpha^2)`` and
``eta_NP = 1/((M N_eff,trial + 2) alpha^2)``; perturbation strengths are matched through an effective
strength ``sigma_eff``: ``sigma_NP = sigma_eff`` and ``sigma_WP = sigma_eff / sqrt(alpha^2 N_eff,trial)``
(the output perturbation of WP then has the same size as NP's).

The error recorded for a trial is the error of the unperturbed network in that trial.
"""

from dataclasses import dataclass

import numpy as np

RULES = ("wp", "np")

#: The two settings of the study (Züge et al. 2023, Fig. 3 and Fig. 4; shared/REFERENCES.md).
SETTINGS = {
    "single": {"n_eff_task": 50, "n_eff_trial": 50, "sigma_eff": 0.04},
    "multiple": {"n_eff_task": 50, "n_eff_trial": 10, "sigma_eff": 1e-10},
}


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"'{name}' must be a positive integer, got {value!r}")
    return int(value)


def _check_rule(rule):
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}; allowed: {', '.join(RULES)}")


def fourier_basis(n_steps):
    """``n_steps`` smooth orthonormal functions on ``n_steps`` points, shape (function, time).

    Row 0 is constant, rows ``2m - 1`` and ``2m`` are ``sin(m s)`` and ``cos(m s)`` with
    ``s = 2 pi t / n_steps``; for an even ``n_steps`` the last row is ``cos(n_steps s / 2)``.
    The rows are normalised and orthonormalised once more (QR), keeping their signs.
    """
    n_steps = _positive_int("n_steps", n_steps)
    s = 2 * np.pi * np.arange(n_steps) / n_steps
    basis = np.empty((n_steps, n_steps))
    for row in range(n_steps):
        order = (row + 1) // 2
        basis[row] = np.cos(order * s) if row % 2 == 0 else np.sin(order * s)
    if n_steps % 2 == 0:
        basis[-1] = np.cos(n_steps // 2 * s)
    basis /= np.linalg.norm(basis, axis=1, keepdims=True)
    q, r = np.linalg.qr(basis.T)
    return (q * np.sign(np.diag(r))).T


@dataclass(frozen=True)
class LinearTask:
    """The linear-readout task of Züge et al. (2023); see the module documentation.

    Parameters
    ----------
    n_in, n_out, n_steps : int
        ``N`` inputs, ``M`` outputs, ``T`` time bins per trial.
    n_eff_task : int
        Number of relevant inputs (``N_eff,task <= min(N, T - 1)``).
    n_eff_trial : int
        Inputs active per trial (``N_eff,trial <= N_eff,task``).
    w_target_value : float
        Target weight of every relevant input.
    e_opt : float
        Error of the optimal weights (the unrealizable component).
    """

    n_in: int = 100
    n_out: int = 10
    n_steps: int = 100
    n_eff_task: int = 50
    n_eff_trial: int = 10
    w_target_value: float = 0.1
    e_opt: float = 2.0

    def __post_init__(self):
        for name in ("n_in", "n_out", "n_steps", "n_eff_task", "n_eff_trial"):
            _positive_int(name, getattr(self, name))
        if self.n_eff_task > min(self.n_in, self.n_steps - 1):
            raise ValueError(f"'n_eff_task' must be at most min(n_in, n_steps - 1) = "
                             f"{min(self.n_in, self.n_steps - 1)}, got {self.n_eff_task}")
        if self.n_eff_trial > self.n_eff_task:
            raise ValueError(f"'n_eff_trial' must be at most 'n_eff_task' ({self.n_eff_task}), got {self.n_eff_trial}")
        if not np.isfinite(self.w_target_value):
            raise ValueError(f"'w_target_value' must be a finite number, got {self.w_target_value!r}")
        if not (np.isfinite(self.e_opt) and self.e_opt >= 0):
            raise ValueError(f"'e_opt' must be a non-negative number, got {self.e_opt!r}")

    # -- definition ---------------------------------------------------------------------------
    @property
    def alpha_sq(self):
        """Input strength ``alpha^2 = N / N_eff,trial`` of an active input."""
        return self.n_in / self.n_eff_trial

    @property
    def multiple_subtasks(self):
        return self.n_eff_trial < self.n_eff_task

    def basis(self):
        """The orthonormal functions, shape (T, T): row ``m`` is ``phi_m``."""
        return fourier_basis(self.n_steps)

    def input_basis(self):
        """``phi_n(t)`` of each input, shape (T, N): the basis a network reads its inputs from."""
        basis = self.basis()
        values = np.zeros((self.n_steps, self.n_in))
        n = min(self.n_in, self.n_steps)
        values[:, :n] = basis[:n].T
        return values

    def target_weights(self):
        """``W*``, shape (M, N)."""
        weights = np.zeros((self.n_out, self.n_in))
        weights[:, :self.n_eff_task] = self.w_target_value
        return weights

    def unrealizable(self):
        """The unrealizable target component ``d(t)`` of every output, shape (T, M)."""
        alpha_d_sq = 2.0 * self.e_opt / self.n_out
        d = np.sqrt(alpha_d_sq * self.n_steps) * self.basis()[self.n_eff_task]
        return np.repeat(d[:, None], self.n_out, axis=1)

    def draw_strengths(self, rng, n_trials, n_replicas=1):
        """Input strengths of ``n_trials`` trials for ``n_replicas`` independent learners.

        Returns an array (n_trials, n_replicas, N): ``alpha^2`` for the ``N_eff,trial`` inputs
        drawn (uniformly, without replacement) from the first ``N_eff,task``, 0 elsewhere.
        """
        n_trials = _positive_int("n_trials", n_trials)
        n_replicas = _positive_int("n_replicas", n_replicas)
        strengths = np.zeros((n_trials, n_replicas, self.n_in))
        if not self.multiple_subtasks:
            strengths[:, :, :self.n_eff_task] = self.alpha_sq
            return strengths
        keys = rng.random((n_trials, n_replicas, self.n_eff_task))
        active = np.argsort(keys, axis=2)[:, :, :self.n_eff_trial]
        np.put_along_axis(strengths, active, self.alpha_sq, axis=2)
        return strengths

    def inputs(self, strengths):
        """``x(t)`` for one trial's strengths (N,), shape (T, N)."""
        strengths = np.asarray(strengths, dtype=float)
        return np.sqrt(self.n_steps * strengths)[None, :] * self.input_basis()

    def targets(self, inputs):
        """``y*(t)`` for one trial's inputs (T, N), shape (T, M)."""
        return np.asarray(inputs) @ self.target_weights().T + self.unrealizable()

    def error(self, weights, inputs, perturbation=0.0):
        """``E = (1/2T) sum (y* - y)^2`` of weights (M, N) on inputs (T, N), plus an output perturbation (T, M)."""
        outputs = np.asarray(inputs) @ np.asarray(weights).T + perturbation
        return 0.5 * float(np.sum((self.targets(inputs) - outputs) ** 2)) / self.n_steps

    def initial_error(self, weights=None):
        """Expected error of ``weights`` (default zero), the same for every trial of a single subtask."""
        weights = np.zeros((self.n_out, self.n_in)) if weights is None else np.asarray(weights, dtype=float)
        u = (weights - self.target_weights())[:, :self.n_eff_task]
        fraction = self.n_eff_trial / self.n_eff_task
        return self.e_opt + fraction * 0.5 * self.alpha_sq * float(np.sum(u ** 2))

    # -- learning parameters --------------------------------------------------------------------
    def optimal_learning_rate(self, rule):
        """``eta_WP = 1/((M N_eff,task + 2) alpha^2)``, ``eta_NP = 1/((M N_eff,trial + 2) alpha^2)``."""
        _check_rule(rule)
        n_eff = self.n_eff_task if rule == "wp" else self.n_eff_trial
        return 1.0 / ((self.n_out * n_eff + 2) * self.alpha_sq)

    def perturbation_strength(self, rule, sigma_eff):
        """``sigma_NP = sigma_eff``, ``sigma_WP = sigma_eff / sqrt(alpha^2 N_eff,trial)``."""
        _check_rule(rule)
        if not (np.isfinite(sigma_eff) and sigma_eff > 0):
            raise ValueError(f"'sigma_eff' must be a positive number, got {sigma_eff!r}")
        if rule == "np":
            return float(sigma_eff)
        return float(sigma_eff) / np.sqrt(self.alpha_sq * self.n_eff_trial)


def learning_curve_coefficients(task, rule, eta, sigma):
    """``(a, b_E)`` of the expected error recursion ``E_{t+1} - E_opt = a (E_t - E_opt) + b_E``."""
    _check_rule(rule)
    alpha_sq = task.alpha_sq
    fraction = task.n_eff_trial / task.n_eff_task
    d_task = task.n_out * task.n_eff_task
    d_trial = task.n_out * task.n_eff_trial
    if rule == "wp":
        a = 1.0 - fraction * (2 * eta * alpha_sq - eta ** 2 * alpha_sq ** 2 * (d_task + 2))
        b = fraction * eta ** 2 * alpha_sq ** 3 * sigma ** 2 * d_trial * (d_trial + 2) * (d_task + 4) / 8.0
    else:
        p = task.n_out * task.n_steps
        a = 1.0 - fraction * (2 * eta * alpha_sq - eta ** 2 * alpha_sq ** 2 * (d_trial + 2))
        b = fraction * eta ** 2 * alpha_sq ** 2 * (
            task.e_opt * d_trial + sigma ** 2 * d_trial * (p + 2) * (p + 4) / (8.0 * task.n_steps))
    return a, b


def analytic_error_curve(task, rule, eta, sigma, n_trials, e_initial=None):
    """Expected error of trials ``0 .. n_trials - 1`` (the unperturbed error of each trial).

    Returns a dict: ``error`` (array), ``a``, ``b_E``, ``e_final`` (the limit ``E_inf``) and
    ``trials_to_90`` (trials until 90 % of the drop from ``E_0`` to ``E_inf``: ``ln 10 / -ln a``).
    Raises ``ValueError`` when the rate makes the recursion diverge (``a >= 1``).
    """
    n_trials = _positive_int("n_trials", n_trials)
    e0 = task.initial_error() if e_initial is None else float(e_initial)
    a, b = learning_curve_coefficients(task, rule, eta, sigma)
    if not 0 <= a < 1:
        raise ValueError(f"'eta' = {eta!r} gives a = {a:.6g}; the expected error converges only for 0 <= a < 1")
    e_final = task.e_opt + b / (1.0 - a)
    error = e_final + (e0 - e_final) * a ** np.arange(n_trials)
    return {"error": error, "a": a, "b_E": b, "e_final": e_final,
            "trials_to_90": float(np.log(10.0) / -np.log(a)) if a > 0 else 1.0}


def trials_to_fraction(curve, fraction=0.9, e_final=None):
    """First trial at which ``curve`` has made ``fraction`` of its drop from ``curve[0]`` to ``e_final``.

    ``e_final`` defaults to the mean of the last 5 % of the curve. Returns ``None`` if the curve
    never gets there or does not drop.
    """
    curve = np.asarray(curve, dtype=float)
    if e_final is None:
        e_final = float(np.mean(curve[-max(1, len(curve) // 20):]))
    drop = curve[0] - e_final
    if not drop > 0:
        return None
    hits = np.flatnonzero(curve <= curve[0] - fraction * drop)
    return int(hits[0]) if hits.size else None
