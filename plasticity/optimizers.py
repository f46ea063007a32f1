"""One definition of the optimizers: gradient descent and Adam, learning-rate schedules, clipping.

An :class:`OptimizerSpec` says once what an update is; three forms carry it out with the same
arithmetic (the same order of operations, but for one product, see below):

- the **numpy form** :meth:`OptimizerSpec.step` (``params, grads, state -> params, state``), used by
  the data-parallel driver (:mod:`brian2learn.training.data_parallel`), the BPTT baseline of the
  evidence-accumulation study and the time-to-first-spike trainer (:mod:`~brian2learn.plasticity.ttfs`);
- the **Brian2-code form** :func:`brian2_code`: the abstract code of a ``run_regularly`` operation
  that updates the weight ``w`` of every synapse (or neuron) of a group from its accumulated gradient
  ``grad``, with per-synapse optimizer state (:func:`brian2_state_equations`), as
  :mod:`~brian2learn.plasticity.eprop` runs it at batch boundaries, on the runtime device and in
  ``cpp_standalone``;
- the **JAX form** :func:`jax_step`, traceable by :func:`jax.jit`, used by the BPTT reference
  (:mod:`~brian2learn.plasticity.bptt`).

Update of one group
-------------------
Parameters come in named groups (``'in'``, ``'rec'``, ``'out'``, ``'w_in'``, a layer index, ...);
``g`` is the gradient the optimizer uses, the mean :math:`g = G/n` of a gradient ``G`` summed over
the ``n = batch_size`` trials of a batch (``n = 1``: ``G`` is already the mean), and ``k`` counts the
updates the group has had. One update, with the learning rate :math:`\\eta_k` of the group and of the
schedule:

1. *Gradient-norm clipping* (``max_grad_norm = c``): over the groups ``grad_norm_groups`` (default
   all), :math:`\\|g\\| = \\sqrt{\\sum_{groups} \\sum g^2}` and every gradient of those groups is
   multiplied by :math:`c / \\max(\\|g\\|, c)` (unchanged where :math:`\\|g\\| \\le c`).
2. *Gradient descent* (``'gd'``): :math:`\\Delta w = -\\eta_k G / n` (computed in this order).
3. *Adam* (``'adam'``, Kingma & Ba 2015, "Adam: a method for stochastic optimization", ICLR 2015,
   arXiv:1412.6980, Algorithm 1), with :math:`t = k + 1`:

   .. math::

       m &\\leftarrow \\beta_1 m + (1 - \\beta_1)\\, g, \\qquad
       v \\leftarrow \\beta_2 v + (1 - \\beta_2)\\, g^2,

       \\hat m &= m / (1 - \\beta_1^t), \\qquad \\hat v = v / (1 - \\beta_2^t),

       \\Delta w &= -\\eta_k\\, \\hat m / (\\sqrt{\\hat v} + s_t\\, \\epsilon),

   where ``adam_epsilon_form`` sets :math:`s_t`:

   - ``'kingma_ba'``: :math:`s_t = 1`, Algorithm 1 of the paper as printed;
   - ``'tensorflow'``: :math:`s_t = 1/\\sqrt{1 - \\beta_2^t}`, which is the same as
     :math:`\\Delta w = -\\eta_t\\, m / (\\sqrt v + \\hat\\epsilon)` with
     :math:`\\eta_t = \\eta_k \\sqrt{1 - \\beta_2^t} / (1 - \\beta_1^t)` and a constant
     :math:`\\hat\\epsilon = \\epsilon`: the "more efficient order of computation" at the end of
     Section 2 of the paper, as ``tf.train.AdamOptimizer`` of TensorFlow 1 implements it (and the
     reference code of Bellec et al. 2020 and NEST 3.10 with it). The two differ only where
     :math:`\\sqrt{\\hat v}` is comparable to :math:`\\epsilon`.

   In the code the exponent is :math:`\\mathrm{clip}(t, 1, 10^{300})` (the Brian2 form computes
   :math:`\\hat m` also where no update is applied, with ``t = 0``). The numpy and JAX forms compute
   the terms in the order of the Brian2 code except :math:`(1 - \\beta_2) g^2`, which they round as
   :math:`((1 - \\beta_2) g)\\, g`; the forms agree to rounding (1e-12 relative in the tests).
4. :math:`w \\leftarrow w + \\Delta w`, then *weight clipping* (``weight_clip = (w_min, w_max)``)
   :math:`w \\leftarrow \\min(\\max(w, w_{min}), w_{max})` for the groups ``weight_clip_groups``
   (default all).

Learning rates: ``learning_rate`` is one rate for all groups or a mapping group -> rate. The schedule
``'constant'`` keeps it; ``'step'`` multiplies it by :math:`d^{\\lfloor s / I \\rfloor}`
(``lr_decay = d``, ``lr_decay_every = I``), ``s`` the schedule step: by default the group's update
count ``k`` (in the numpy form a caller may pass another, e.g. the epoch). A learning rate of 0 means
*no update*: weights, optimizer state and (Brian2 form) the accumulated gradient stay as they are.
"""

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

import brian2 as b2
import numpy as np

__all__ = [
    "ADAM_EPSILON_FORMS",
    "LR_SCHEDULES",
    "OPTIMIZERS",
    "Brian2OptimizerCode",
    "OptimizerSpec",
    "brian2_code",
    "brian2_state_equations",
    "jax_step",
]

OPTIMIZERS = ("gd", "adam")
ADAM_EPSILON_FORMS = ("kingma_ba", "tensorflow")
LR_SCHEDULES = ("constant", "step")


def _number(name, value, low=None, high=None, low_open=False, high_open=False):
    """``value`` as a float, or a ValueError naming ``name`` and the allowed range."""
    interval = (f"{'(' if low_open or low is None else '['}{'-inf' if low is None else low}, "
                f"{'inf' if high is None else high}{')' if high_open or high is None else ']'}")
    try:
        if isinstance(value, (bool, np.bool_)):
            raise TypeError
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"'{name}' must be a number in {interval}, got {value!r}") from None
    ok = math.isfinite(number)
    if ok and low is not None:
        ok = number > low if low_open else number >= low
    if ok and high is not None:
        ok = number < high if high_open else number <= high
    if not ok:
        raise ValueError(f"'{name}' must be a finite number in {interval}, got {value!r}")
    return number


def _choice(name, value, allowed):
    if value not in allowed:
        raise ValueError(f"unknown {name} {value!r}; allowed: {', '.join(allowed)}")
    return value


def _groups(name, value):
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, (tuple, list)) or not value:
        raise ValueError(f"'{name}' must be None (all groups) or a non-empty tuple of group names, got {value!r}")
    return tuple(value)


@dataclass(frozen=True)
class OptimizerSpec:
    """What one update does (module docstring for the formulas); frozen and hashable.

    Parameters
    ----------
    optimizer : {'gd', 'adam'}
        Gradient descent or Adam (Kingma & Ba 2015, arXiv:1412.6980).
    learning_rate : float or mapping
        :math:`\\eta > 0` for every group, or a mapping group -> :math:`\\eta` (stored as a tuple of
        ``(group, rate)`` pairs); every group updated must then be in it.
    adam_beta1, adam_beta2 : float
        Decay rates of Adam's moments, in [0, 1).
    adam_epsilon : float
        :math:`\\epsilon > 0`.
    adam_epsilon_form : {'kingma_ba', 'tensorflow'}
        Where :math:`\\epsilon` enters: :math:`s_t = 1` (Algorithm 1 of Kingma & Ba) or
        :math:`s_t = 1/\\sqrt{1 - \\beta_2^t}` (TensorFlow 1's constant :math:`\\hat\\epsilon`).
    lr_schedule : {'constant', 'step'}
        ``'step'``: :math:`\\eta\\, d^{\\lfloor s/I \\rfloor}` at schedule step ``s``.
    lr_decay : float
        :math:`d > 0` of the step schedule.
    lr_decay_every : int
        :math:`I \\ge 1` of the step schedule.
    weight_clip : tuple of float or None
        ``(w_min, w_max)``, ``w_min < w_max``, in the units of the weights (the Brian2 form multiplies
        them by its ``weight_unit``); ``None``: no clipping.
    weight_clip_groups : tuple or None
        Groups whose weights are clipped (``None``: all).
    max_grad_norm : float or None
        :math:`c > 0` of the global gradient-norm clipping (``None``: none). Numpy and JAX forms only.
    grad_norm_groups : tuple or None
        Groups whose gradients enter and share the global norm (``None``: all).

    Raises
    ------
    ValueError
        Naming the parameter and the allowed values.
    """

    optimizer: str = "adam"
    learning_rate: object = 1e-3
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_epsilon: float = 1e-8
    adam_epsilon_form: str = "kingma_ba"
    lr_schedule: str = "constant"
    lr_decay: float = 1.0
    lr_decay_every: int = 1
    weight_clip: object = None
    weight_clip_groups: object = None
    max_grad_norm: object = None
    grad_norm_groups: object = None

    def __post_init__(self):
        def put(name, value):
            object.__setattr__(self, name, value)

        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _choice("adam_epsilon_form", self.adam_epsilon_form, ADAM_EPSILON_FORMS)
        _choice("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        rate = self.learning_rate
        if isinstance(rate, Mapping) or (isinstance(rate, tuple) and all(
                isinstance(pair, tuple) and len(pair) == 2 for pair in rate)):
            pairs = tuple(rate.items()) if isinstance(rate, Mapping) else rate
            if not pairs:
                raise ValueError("'learning_rate' must be a positive number or a non-empty mapping group -> rate")
            put("learning_rate", tuple((group, _number(f"learning_rate[{group!r}]", value, 0, low_open=True))
                                       for group, value in pairs))
        else:
            put("learning_rate", _number("learning_rate", rate, 0, low_open=True))
        put("adam_beta1", _number("adam_beta1", self.adam_beta1, 0, 1, high_open=True))
        put("adam_beta2", _number("adam_beta2", self.adam_beta2, 0, 1, high_open=True))
        put("adam_epsilon", _number("adam_epsilon", self.adam_epsilon, 0, low_open=True))
        put("lr_decay", _number("lr_decay", self.lr_decay, 0, low_open=True))
        every = self.lr_decay_every
        if isinstance(every, (bool, np.bool_)) or not isinstance(every, (int, np.integer)) or every < 1:
            raise ValueError(f"'lr_decay_every' must be a positive integer, got {every!r}")
        put("lr_decay_every", int(every))
        if self.weight_clip is not None:
            try:
                w_min, w_max = self.weight_clip
            except (TypeError, ValueError):
                raise ValueError(f"'weight_clip' must be None or (w_min, w_max), got {self.weight_clip!r}") from None
            w_min, w_max = _number("weight_clip[0]", w_min), _number("weight_clip[1]", w_max)
            if not w_min < w_max:
                raise ValueError(f"'weight_clip' needs w_min < w_max, got {self.weight_clip!r}")
            put("weight_clip", (w_min, w_max))
        put("weight_clip_groups", _groups("weight_clip_groups", self.weight_clip_groups))
        if self.max_grad_norm is not None:
            put("max_grad_norm", _number("max_grad_norm", self.max_grad_norm, 0, low_open=True))
        put("grad_norm_groups", _groups("grad_norm_groups", self.grad_norm_groups))

    # Learning rates ----------------------------------------------------------------------
    def base_rate(self, group=None):
        """The learning rate of ``group`` before the schedule."""
        if not isinstance(self.learning_rate, tuple):
            return self.learning_rate
        for name, value in self.learning_rate:
            if name == group:
                return value
        raise ValueError(f"'learning_rate' has no rate for group {group!r}; "
                         f"it has: {', '.join(repr(name) for name, _ in self.learning_rate)}")

    def rate(self, group=None, step=0):
        """Learning rate of ``group`` at schedule step ``step``.

        :math:`\\eta` (``'constant'``) or :math:`\\eta\\, d^{\\lfloor s/I \\rfloor}` (``'step'``), computed as
        ``eta * lr_decay ** (step // lr_decay_every)``.
        """
        base = self.base_rate(group)
        if self.lr_schedule == "constant":
            return base
        return base * self.lr_decay ** (int(step) // self.lr_decay_every)

    # Numpy form --------------------------------------------------------------------------
    def init_state(self, params):
        """Zero optimizer state for ``params`` (dict group -> array).

        Returns
        -------
        dict
            ``{'m': {group: zeros}, 'v': {group: zeros}, 'k': {group: 0.0}, 'delta': {group: zeros}}``:
            Adam's moments, the update count ``k`` (a float, or an array of per-synapse counts as the
            Brian2 form keeps them) and the last step :math:`\\Delta w` of each group.
        """
        zeros = {group: np.zeros_like(np.asarray(value, dtype=float)) for group, value in params.items()}
        return {"m": dict(zeros), "v": {group: z.copy() for group, z in zeros.items()},
                "k": dict.fromkeys(params, 0.0), "delta": {group: z.copy() for group, z in zeros.items()}}

    def step(self, params, grads, state=None, *, batch_size=1, schedule_step=None, learning_rate=None):
        """One update of every group of ``params`` (numpy form).

        Parameters
        ----------
        params : dict
            group -> weights (arrays; not modified).
        grads : dict
            group -> gradient summed over ``batch_size`` trials (the update uses their mean).
        state : dict or None
            As from :meth:`init_state` (``None``: zero state); ``'m'`` and ``'v'`` are needed by
            Adam only, ``'k'`` by Adam and by the ``'step'`` schedule.
        batch_size : int
            ``n`` of :math:`g = G/n`.
        schedule_step : int or None
            Step ``s`` of the learning-rate schedule; ``None``: each group's update count ``k``.
        learning_rate : float, mapping or None
            The learning rate of this update (one for all groups or group -> rate), in place of
            the spec's scheduled rate; 0 skips the update.

        Returns
        -------
        params : dict
            The new weights.
        state : dict
            The new state; ``state['delta'][group]`` is the step :math:`\\Delta w` of this update
            (before weight clipping; zeros for a group not updated).
        """
        groups = list(params)
        self._check_groups(groups, grads)
        state = self.init_state(params) if state is None else state
        new_state = {part: dict(state.get(part, {})) for part in ("m", "v", "k", "delta")}
        g_all = self._clip_norm(np, groups, {group: np.asarray(grads[group], dtype=float) for group in groups},
                                batch_size)
        new_params = dict(params)
        for group in groups:
            if learning_rate is not None:
                lr = learning_rate[group] if isinstance(learning_rate, Mapping) else learning_rate
            else:
                if schedule_step is not None or self.lr_schedule == "constant":
                    count = schedule_step or 0
                else:
                    count = _count(self._state_of(new_state, "k", group))
                lr = self.rate(group, count)
            if not lr > 0:
                new_state["delta"][group] = np.zeros_like(np.asarray(params[group], dtype=float))
                continue
            w, m, v, k, delta = self._update(np, group, params[group], g_all[group], new_state, lr, batch_size)
            new_params[group] = w
            new_state["delta"][group] = delta
            if self.optimizer == "adam":
                new_state["m"][group], new_state["v"][group] = m, v
            if k is not None:
                new_state["k"][group] = k
        return new_params, new_state

    # Shared by the numpy and JAX forms -------------------------------------------------------
    def _check_groups(self, groups, grads):
        missing = [group for group in groups if group not in grads]
        if missing:
            raise ValueError(f"'grads' has no gradient for group(s) {missing!r}")
        for name in ("weight_clip_groups", "grad_norm_groups"):
            unknown = [group for group in getattr(self, name) or () if group not in groups]
            if unknown:
                raise ValueError(f"'{name}' names group(s) {unknown!r} that are not among the parameters "
                                 f"{groups!r}")
        for group in groups:
            self.base_rate(group)

    @staticmethod
    def _state_of(state, part, group):
        try:
            return state[part][group]
        except KeyError:
            raise ValueError(f"the optimizer state has no {part!r} for group {group!r}") from None

    def _clip_norm(self, xp, groups, grads, batch_size):
        """Global gradient-norm clipping of the mean gradients of ``grad_norm_groups``."""
        if self.max_grad_norm is None:
            return grads
        names = [group for group in groups if self.grad_norm_groups is None or group in self.grad_norm_groups]
        total = sum(xp.sum((grads[group] / batch_size) ** 2) for group in names)
        factor = self.max_grad_norm / xp.maximum(xp.sqrt(total), self.max_grad_norm)
        return {group: grads[group] * factor if group in names else grads[group] for group in groups}

    def _update(self, xp, group, w, grad, state, lr, batch_size):
        """(w, m, v, k, delta) after one update of ``group``; ``k`` is None where it is not kept."""
        m = v = k = None
        if self.optimizer == "gd":
            delta = -lr * grad / batch_size
            if self.lr_schedule == "step":
                k = self._state_of(state, "k", group) + 1
        else:
            b1, b2_, eps = self.adam_beta1, self.adam_beta2, self.adam_epsilon
            g_mean = grad / batch_size
            m = b1 * self._state_of(state, "m", group) + (1 - b1) * g_mean
            # ((1 - beta2) g) g, as the earlier TTFS trainer rounded it (whose Yin-Yang runs amplify a
            # difference in the last bit); the Brian2 form computes (1 - beta2) g^2: equal to rounding
            v = b2_ * self._state_of(state, "v", group) + (1 - b2_) * g_mean * g_mean
            k = self._state_of(state, "k", group) + 1
            power = xp.clip(k, 1, 1e300)
            m_hat = m / (1 - b1 ** power)
            v_hat = v / (1 - b2_ ** power)
            scale = 1 / xp.sqrt(1 - b2_ ** power) if self.adam_epsilon_form == "tensorflow" else 1.0
            delta = -lr * m_hat / (xp.sqrt(v_hat) + scale * eps)
        w = w + delta
        if self.weight_clip is not None and (self.weight_clip_groups is None or group in self.weight_clip_groups):
            w = xp.clip(w, self.weight_clip[0], self.weight_clip[1])
        return w, m, v, k, delta


def _count(k):
    """An update count kept as a number or as per-synapse counts (all equal) as an int."""
    k = np.asarray(k)
    return int(k.max()) if k.size else 0


# JAX form ------------------------------------------------------------------------------------
def jax_step(spec, params, grads, state, *, batch_size=1, schedule_step=None, learning_rate=None):
    """One update in JAX: :meth:`OptimizerSpec.step` with the same arithmetic, traceable by ``jax.jit``.

    ``spec`` is static (a Python object); ``params``, ``grads``, ``state`` (as from
    :meth:`OptimizerSpec.init_state`), ``schedule_step`` and ``learning_rate`` may be traced.
    The schedule's exponent is :math:`\\lfloor s/I \\rfloor` computed in floating point, and a
    learning rate of 0 leaves a group unchanged through ``jnp.where``. Returns ``(params, state)``.
    """
    import jax.numpy as jnp

    groups = list(params)
    spec._check_groups(groups, grads)
    new_state = {part: dict(state.get(part, {})) for part in ("m", "v", "k", "delta")}
    g_all = spec._clip_norm(jnp, groups, {group: jnp.asarray(grads[group]) for group in groups}, batch_size)
    new_params = dict(params)
    for group in groups:
        if learning_rate is not None:
            lr = learning_rate[group] if isinstance(learning_rate, Mapping) else learning_rate
        elif spec.lr_schedule == "constant":
            lr = spec.base_rate(group)
        else:
            count = spec._state_of(new_state, "k", group) if schedule_step is None else schedule_step
            lr = spec.base_rate(group) * spec.lr_decay ** jnp.floor(jnp.asarray(count) / spec.lr_decay_every)
        w_old = params[group]
        if isinstance(lr, (int, float)):  # known now: no select needed
            if not lr > 0:
                new_state["delta"][group] = jnp.zeros_like(jnp.asarray(w_old, dtype=float))
                continue
            apply = True
        else:
            apply = lr > 0
        w, m, v, k, delta = spec._update(jnp, group, w_old, g_all[group], new_state, lr, batch_size)

        def pick(new, old, apply=apply):
            return new if apply is True else jnp.where(apply, new, old)

        new_params[group] = pick(w, w_old)
        new_state["delta"][group] = pick(delta, jnp.zeros_like(delta))
        if spec.optimizer == "adam":
            new_state["m"][group] = pick(m, new_state["m"][group])
            new_state["v"][group] = pick(v, new_state["v"][group])
        if k is not None:
            new_state["k"][group] = pick(k, new_state["k"][group])
    return new_params, new_state


# Brian2-code form ----------------------------------------------------------------------------
GD_CODE = """
apply_update = int({rate} > 0)
delta_w = -{rate}*grad/batch_size*{w_unit}**2
w = w + delta_w
{count}grad = grad*(1 - apply_update)
"""

ADAM_CODE = """
apply_update = int({rate} > 0)
g_mean = grad/batch_size
adam_m = apply_update*(adam_beta1*adam_m + (1 - adam_beta1)*g_mean) + (1 - apply_update)*adam_m
adam_v = apply_update*(adam_beta2*adam_v + (1 - adam_beta2)*g_mean**2) + (1 - apply_update)*adam_v
adam_k = adam_k + apply_update
m_hat = adam_m/(1 - adam_beta1**clip(adam_k, 1, 1e300))
v_hat = adam_v/(1 - adam_beta2**clip(adam_k, 1, 1e300))
epsilon_scale = adam_epsilon_hat/sqrt(1 - adam_beta2**clip(adam_k, 1, 1e300)) + (1 - adam_epsilon_hat)
delta_w = -{rate}*{w_unit}*m_hat/(sqrt(v_hat) + epsilon_scale*adam_epsilon/{w_unit})
w = w + delta_w
grad = grad*(1 - apply_update)
"""

WEIGHT_CLIP_CODE = "w = apply_update*clip(w, w_min, w_max) + (1 - apply_update)*w\n"

_RATE_EXPRESSION = re.compile(r"^[A-Za-z_]\w*(\([^()]*\))?$")


@dataclass(frozen=True)
class Brian2OptimizerCode:
    """The Brian2 form of one group's update.

    Attributes
    ----------
    code : str
        Abstract code of a ``run_regularly`` operation. It reads ``w`` and ``grad`` (the gradient
        summed over ``batch_size`` trials), updates ``w``, the state of
        :func:`brian2_state_equations` and resets ``grad`` to 0 where an update was applied; it
        leaves ``apply_update`` (1 or 0) and ``delta_w`` (the step, before weight clipping) for
        code appended after it.
    equations : str
        Declarations of the optimizer state (:func:`brian2_state_equations`).
    namespace : dict
        Constants the code uses (a ``namespace`` of the group, or merged into one).
    """

    code: str
    equations: str
    namespace: dict


def _unit_name(weight_unit):
    if isinstance(weight_unit, b2.Unit):
        if weight_unit.is_dimensionless:
            return "1", 1.0
        return repr(weight_unit), weight_unit
    if isinstance(weight_unit, (int, float)) and not isinstance(weight_unit, bool) and weight_unit == 1:
        return "1", 1.0
    raise ValueError(f"'weight_unit' must be 1 or a Brian2 unit (e.g. brian2.volt), got {weight_unit!r}")


def brian2_state_equations(weight_unit=1):
    """Declarations of the per-synapse optimizer state for weights in ``weight_unit``.

    ``adam_m`` (unit of the gradient, 1/``weight_unit``), ``adam_v`` (its square) and the update
    count ``adam_k``, declared for every optimizer so that a group has the same variables whatever
    its optimizer (gradient descent keeps ``adam_k`` only with a ``'step'`` schedule and
    ``rate_expression=None``).
    """
    name, _ = _unit_name(weight_unit)
    if name == "1":
        return ("adam_m : 1             # Adam first moment\n"
                "adam_v : 1             # Adam second moment\n"
                "adam_k : 1             # number of Adam steps taken\n")
    return (f"adam_m : 1/{name}        # Adam first moment\n"
            f"adam_v : 1/{name}**2     # Adam second moment\n"
            "adam_k : 1             # number of Adam steps taken\n")


def brian2_code(spec, group=None, *, weight_unit=1, rate_expression=None, batch_size=1):
    """The Brian2 form of ``spec``'s update of one group (a ``run_regularly`` operation).

    Parameters
    ----------
    spec : OptimizerSpec
        ``max_grad_norm`` must be ``None``: a global norm is a reduction over every synapse of
        several groups, which this form does not compute.
    group : str or None
        The group's name: its learning rate (with a mapping ``learning_rate``), whether its weights
        are clipped (``weight_clip_groups``), and the name ``learning_rate_<group>`` of its rate
        constant (a Python identifier then).
    weight_unit : 1 or Brian2 unit
        Unit of ``w`` (the gradient ``grad`` is in its inverse); ``weight_clip`` is multiplied by it.
    rate_expression : str or None
        A name or a call (e.g. a ``TimedArray`` ``'learning_rate_schedule(t)'``) whose value is the
        learning rate of the update at the time the operation runs (0: no update), filled by the
        caller, e.g. with :meth:`OptimizerSpec.rate`. ``None``: the spec's rate of ``group``
        and its schedule, whose step is the update count ``adam_k``.
    batch_size : int
        ``n`` of :math:`g = G/n` (namespace constant ``batch_size``).

    Returns
    -------
    Brian2OptimizerCode
    """
    if not isinstance(spec, OptimizerSpec):
        raise ValueError(f"'spec' must be an OptimizerSpec, got {spec!r}")
    if spec.max_grad_norm is not None:
        raise ValueError("'max_grad_norm' (global gradient-norm clipping) is not supported by the Brian2 form; "
                         "allowed: None")
    if isinstance(batch_size, (bool, np.bool_)) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"'batch_size' must be a positive integer, got {batch_size!r}")
    unit_name, unit = _unit_name(weight_unit)
    namespace = {"batch_size": batch_size}
    prefix = count = ""
    if rate_expression is None:
        if not isinstance(group, str) or not group.isidentifier():
            raise ValueError(f"'group' must be a Python identifier when 'rate_expression' is None, got {group!r}")
        lr_name = f"learning_rate_{group}"
        namespace[lr_name] = spec.base_rate(group)
        if spec.lr_schedule == "constant":
            prefix = f"lr_now = {lr_name}"
        else:
            prefix = f"lr_now = {lr_name}*lr_decay**floor(adam_k/lr_decay_every)"
            namespace.update(lr_decay=spec.lr_decay, lr_decay_every=spec.lr_decay_every)
            count = "adam_k = adam_k + apply_update\n"
        rate = "lr_now"
    else:
        if not isinstance(rate_expression, str) or not _RATE_EXPRESSION.match(rate_expression.strip()):
            raise ValueError("'rate_expression' must be a name or a call such as 'learning_rate_schedule(t)', "
                             f"got {rate_expression!r}")
        rate = rate_expression.strip()
    if spec.optimizer == "gd":
        code = GD_CODE.format(rate=rate, w_unit=unit_name, count=count)
    else:
        code = ADAM_CODE.format(rate=rate, w_unit=unit_name)
        namespace.update(adam_beta1=spec.adam_beta1, adam_beta2=spec.adam_beta2, adam_epsilon=spec.adam_epsilon,
                         adam_epsilon_hat=float(spec.adam_epsilon_form == "tensorflow"))
    if prefix:
        code = f"\n{prefix}" + code
    if spec.weight_clip is not None and (spec.weight_clip_groups is None or group in spec.weight_clip_groups):
        namespace["w_min"], namespace["w_max"] = spec.weight_clip[0] * unit, spec.weight_clip[1] * unit
        code += WEIGHT_CLIP_CODE
    return Brian2OptimizerCode(code=code, equations=brian2_state_equations(weight_unit), namespace=namespace)
