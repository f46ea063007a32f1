"""Discrete weight levels: the hardware axis of the learning rules.

Analog and mixed-signal substrates hold a weight at one of a few levels (Jabri & Flower 1991, IEEE Trans Neural
Netw 3:154, doi:10.1109/72.105429, train XOR by weight perturbation on such a chip; Göltz, Kriener et al. 2021,
Nat Mach Intell 3:823, doi:10.1038/s42256-021-00388-x, on BrainScaleS-2 with 6-bit weights). Signed ``bits``-bit
levels over :math:`\\pm w_{max}` are the multiples :math:`k \\Delta`, :math:`|k| \\le L`, of

.. math::

    L = 2^{bits - 1} - 1, \\qquad \\Delta = w_{max} / L,

and a value :math:`x` runs as :math:`\\Delta\\, \\mathrm{clip}(\\mathrm{round}(x / \\Delta), -L, L)`, rounded half away
from zero (the same for :math:`x` and :math:`-x`). The learning rule's updates accumulate in :math:`x` at full
precision (as on-chip learning keeps a higher-precision copy of each weight), so a rule's gradient is that of the
network with its held weights (straight-through).

One definition, three forms: :func:`held` (numpy or JAX arrays), :func:`held_code` (a Brian2 expression) and
:func:`discrete_levels` (:math:`\\Delta` and :math:`L` of a resolution); every rule's ``weight_levels`` option is
checked by :func:`check_levels`.
"""

import brian2 as b2
import numpy as np


def discrete_levels(bits, w_max):
    """``(step, limit)`` = :math:`(\\Delta, L)` of signed ``bits``-bit levels within :math:`\\pm` ``w_max``.

    Raises ValueError naming ``bits`` (an integer >= 2) or ``w_max`` (a positive number).
    """
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or bits < 2:
        raise ValueError(f"'bits' must be an integer >= 2, got {bits!r}")
    if not np.isfinite(w_max) or w_max <= 0:
        raise ValueError(f"'w_max' must be a positive number, got {w_max!r}")
    limit = 2 ** (int(bits) - 1) - 1
    return w_max / limit, float(limit)


def check_levels(levels, groups, units=None, name="weight_levels"):
    """A rule's ``weight_levels`` option checked: ``{group: (step, limit)}`` with floats, ``{}`` for None.

    Parameters
    ----------
    levels : dict or None
        Some of ``groups`` mapped to ``(step, limit)``: the level spacing :math:`\\Delta > 0` and the largest level
        index :math:`L \\ge 1` (:func:`discrete_levels`).
    groups : iterable of str
        The weight groups (or parameters) of the rule that can be held at discrete levels.
    units : dict, optional
        The Brian2 unit of a group's step where it has one (e.g. ``b2.volt``). A step given as a Quantity must have
        that unit's dimensions and is returned as a number in it; groups not named here take plain numbers.
    name : str
        The option's name in error messages.

    Raises ValueError naming ``name`` (and the group) and what is allowed.
    """
    groups = list(groups)
    units = units or {}
    if levels is None:
        return {}
    if not isinstance(levels, dict) or not set(levels) <= set(groups):
        raise ValueError(f"'{name}' must map some of {', '.join(groups)} to (step, limit), got {levels!r}")
    checked = {}
    for group, value in levels.items():
        try:
            step, limit = value
        except (TypeError, ValueError):
            raise ValueError(f"'{name}[{group!r}]' must be (step, limit), got {value!r}") from None
        unit = units.get(group, 1)
        if isinstance(step, b2.Quantity):
            if not step.has_same_dimensions(unit):
                unit_name = "dimensionless" if group not in units else str(unit)
                raise ValueError(f"'{name}[{group!r}]': the step must be {unit_name}, got {step!r}")
            step = float(step / unit)
        try:
            step, limit = float(step), float(limit)
        except (TypeError, ValueError):
            raise ValueError(f"'{name}[{group!r}]' must be two numbers (step, limit), got {value!r}") from None
        if not (np.isfinite(step) and step > 0 and np.isfinite(limit) and limit >= 1):
            raise ValueError(f"'{name}[{group!r}]' must be (step > 0, limit >= 1), both finite, got {value!r}")
        checked[group] = (step, limit)
    return checked


def held(x, step, limit, xp=np):
    """The values ``x`` run as: ``step * clip(round(x / step), -limit, limit)``, rounded half away from zero.

    ``xp`` is the array module (``numpy``, or ``jax.numpy`` inside a traced function).
    """
    return step * xp.clip(xp.sign(x) * xp.floor(xp.abs(x) / step + 0.5), -limit, limit)


def held_code(x, level, limit, optional=False):
    """The Brian2 expression of :func:`held` for the variable or constant names ``x``, ``level`` and ``limit``.

    With ``optional`` a ``level`` of 0 or less leaves ``x`` at full precision (for per-synapse levels of which some
    are unset).
    """
    if not optional:
        return f"({level}*clip(sign({x})*floor(abs({x})/{level} + 0.5), -{limit}, {limit}))"
    return (f"(int({level} > 0)*{level}*clip(sign({x})*floor(abs({x})/({level} + int({level} <= 0)) + 0.5), "
            f"-{limit}, {limit}) + int({level} <= 0)*{x})")
