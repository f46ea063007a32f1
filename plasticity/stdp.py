"""Spike-timing-dependent plasticity (STDP) as Brian2 synapse code with event-driven traces.

Two rules, each given as the ``model``/``on_pre``/``on_post`` strings of a :class:`brian2.Synapses`
and a small builder that connects the synapses from explicit index arrays.

Pair-based STDP (all-to-all spike pairing)
------------------------------------------
Bi & Poo (1998), J Neurosci 18:10464; Song, Miller & Abbott (2000), "Competitive Hebbian learning
through spike-timing-dependent synaptic plasticity", Nat Neurosci 3:919, doi:10.1038/78829 (additive);
van Rossum, Bi & Turrigiano (2000), J Neurosci 20:8812 and Gütig, Aharonov, Rotter & Sompolinsky
(2003), J Neurosci 23:3697 (weight-dependent, soft bounds). Each presynaptic spike adds 1 to a trace
``apre`` (time constant ``tau_pre``), each postsynaptic spike adds 1 to ``apost`` (``tau_post``).
For one pair with ``dt_pair = t_post - t_pre``

.. math::

    \\Delta w = \\begin{cases} +A_+\\, f_+(w)\\, e^{-\\Delta t/\\tau_{pre}} & \\Delta t > 0 \\\\
                                -A_-\\, f_-(w)\\, e^{+\\Delta t/\\tau_{post}} & \\Delta t < 0 \\end{cases}

with the weight dependence (Gütig et al. 2003) of exponent ``mu``

.. math::

    f_+(w) = (w_{max} - w_{min}) \\left(\\frac{w_{max} - w}{w_{max} - w_{min}}\\right)^{\\mu},\\quad
    f_-(w) = (w_{max} - w_{min}) \\left(\\frac{w - w_{min}}{w_{max} - w_{min}}\\right)^{\\mu}.

``mu = 0`` is the additive rule of Song et al. (amplitudes ``A_+ (w_max - w_min)``, hard bounds by
clipping to ``[w_min, w_max]``); ``mu = 1`` the multiplicative (soft-bounded) rule of van Rossum et al.
Contributions of all earlier spikes add up (all-to-all pairing): at a postsynaptic spike
``w += A_+ f_+(w) apre``, at a presynaptic spike ``w -= A_- f_-(w) apost``, both followed by clipping.

Triplet STDP
------------
Pfister & Gerstner (2006), "Triplets of spikes in a model of spike timing-dependent plasticity",
J Neurosci 26:9673, doi:10.1523/JNEUROSCI.1425-06.2006 (all-to-all interaction). Presynaptic traces
``r1`` (``tau_plus``), ``r2`` (``tau_x``), postsynaptic traces ``o1`` (``tau_minus``), ``o2`` (``tau_y``),
each jumping by 1 at a spike of its neuron. At a presynaptic spike at ``t``

.. math:: w \\leftarrow w - \\eta\\, o_1(t) [A_2^- + A_3^- r_2(t - \\epsilon)]

and at a postsynaptic spike

.. math:: w \\leftarrow w + \\eta\\, r_1(t) [A_2^+ + A_3^+ o_2(t - \\epsilon)],

where ``t - epsilon`` means the trace before its own jump at ``t`` (the update reads the traces first,
then increments them). Parameter sets: Pfister & Gerstner's fits to visual cortex (Sjöström et al. 2001)
and hippocampal culture data (Wang et al. 2005), minimal and full (:data:`TRIPLET_PARAMETER_SETS`); the mean
drift under uncorrelated Poisson firing is :func:`triplet_poisson_drift`. Optionally (``sliding``) the pair
depression scales with the squared slow postsynaptic rate, their mapping onto a BCM rule with a sliding
threshold (:data:`SLIDING_THRESHOLD`). The weight is clipped to the caps ``[w_min, w_max]`` after every update
(Pokorny et al. 2020 cap input and recurrent weights at multiples of their initial mean). ``eta``
scales all four amplitudes (1 gives Pfister & Gerstner's values).

Conventions
-----------
Weights ``w`` are dimensionless; the synaptic effect is a string such as ``"g_exc_post += w*g_max"``
that the caller passes as ``effect`` (executed first in ``on_pre``, with the weight before the
update). Rule parameters go to the synapses' namespace, so one set of parameters is fixed per build.
"""

import brian2 as b2
import numpy as np

#: Song, Miller & Abbott (2000): additive pair STDP, all-to-all.
SONG2000_STDP = {
    "tau_pre": 20.0 * b2.ms,  # time constant of potentiation (pre-before-post window)
    "tau_post": 20.0 * b2.ms,  # time constant of depression (post-before-pre window)
    "A_plus": 0.005,  # potentiation per pair, fraction of (w_max - w_min)
    "A_minus": 0.005 * 1.05,  # depression per pair (A_-/A_+ = 1.05 in Song et al.)
    "w_min": 0.0,  # lower weight bound
    "w_max": 1.0,  # upper weight bound (Song et al.: g_max, here the weight is in units of g_max)
    "mu": 0.0,  # weight dependence exponent: 0 additive, 1 multiplicative
}

#: Pfister & Gerstner (2006), Table 4: visual cortex data (Sjöström et al. 2001), all-to-all, minimal model.
PFISTER2006_VISUAL_MINIMAL = {
    "tau_plus": 16.8 * b2.ms,  # presynaptic trace r1
    "tau_minus": 33.7 * b2.ms,  # postsynaptic trace o1
    "tau_x": 101.0 * b2.ms,  # presynaptic trace r2 (unused with A3_minus = 0)
    "tau_y": 125.0 * b2.ms,  # postsynaptic trace o2
    "A2_plus": 0.0,  # pair potentiation
    "A3_plus": 6.5e-3,  # triplet potentiation
    "A2_minus": 7.1e-3,  # pair depression
    "A3_minus": 0.0,  # triplet depression
    "eta": 1.0,  # common scale of the amplitudes
    "w_min": 0.0,  # lower weight cap
    "w_max": 1.0,  # upper weight cap
}

#: Pfister & Gerstner (2006), Table 4: visual cortex, all-to-all, full model (all four amplitudes).
PFISTER2006_VISUAL_FULL = {
    **PFISTER2006_VISUAL_MINIMAL,
    "A2_plus": 5e-10,
    "A3_plus": 6.2e-3,
    "A2_minus": 7e-3,
    "A3_minus": 2.3e-4,
}

#: Pfister & Gerstner (2006), Table 4: hippocampal culture data (Wang et al. 2005), all-to-all, minimal model.
#: Unlike the visual-cortex fit it has pair potentiation, so uncorrelated firing potentiates from a few Hz
#: of postsynaptic rate on (see :func:`triplet_poisson_drift`).
PFISTER2006_HIPPOCAMPAL_MINIMAL = {
    **PFISTER2006_VISUAL_MINIMAL,
    "tau_x": 946.0 * b2.ms,  # presynaptic trace r2 (unused with A3_minus = 0; the full fit's value)
    "tau_y": 40.0 * b2.ms,  # postsynaptic trace o2
    "A2_plus": 5.3e-3,
    "A3_plus": 8.0e-3,
    "A2_minus": 3.5e-3,
    "A3_minus": 0.0,
}

#: Pfister & Gerstner (2006), Table 4: hippocampal culture data, all-to-all, full model.
PFISTER2006_HIPPOCAMPAL_FULL = {
    **PFISTER2006_VISUAL_MINIMAL,
    "tau_x": 946.0 * b2.ms,
    "tau_y": 27.0 * b2.ms,
    "A2_plus": 6.1e-3,
    "A3_plus": 6.7e-3,
    "A2_minus": 1.6e-3,
    "A3_minus": 1.4e-3,
}

#: Named parameter sets of the triplet rule (the keys a study or CLI may offer).
TRIPLET_PARAMETER_SETS = {
    "visual-minimal": PFISTER2006_VISUAL_MINIMAL,
    "visual-full": PFISTER2006_VISUAL_FULL,
    "hippocampal-minimal": PFISTER2006_HIPPOCAMPAL_MINIMAL,
    "hippocampal-full": PFISTER2006_HIPPOCAMPAL_FULL,
}

PAIR_MODEL = """
w : 1                                            # synaptic weight (dimensionless)
dapre/dt = -apre/tau_pre : 1 (event-driven)    # presynaptic trace
dapost/dt = -apost/tau_post : 1 (event-driven) # postsynaptic trace
"""

PAIR_ON_PRE = """
{effect}
apre += 1
w = clip(w - ({gate})*A_minus*w_span*(clip(w - w_min, 0, w_span)/w_span)**mu*apost, w_min, w_max)
"""

PAIR_ON_POST = """
apost += 1
w = clip(w + ({gate})*A_plus*w_span*(clip(w_max - w, 0, w_span)/w_span)**mu*apre, w_min, w_max)
"""

TRIPLET_MODEL = """
w : 1                                          # synaptic weight (dimensionless)
dr1/dt = -r1/tau_plus : 1 (event-driven)       # presynaptic trace, pair potentiation
dr2/dt = -r2/tau_x : 1 (event-driven)          # presynaptic trace, triplet depression
do1/dt = -o1/tau_minus : 1 (event-driven)      # postsynaptic trace, pair depression
do2/dt = -o2/tau_y : 1 (event-driven)          # postsynaptic trace, triplet potentiation
"""

TRIPLET_ON_PRE = """
{effect}
w = clip(w - ({gate})*eta*o1*({pair_depression} + A3_minus*r2), w_min, w_max)
r1 += 1
r2 += 1
"""

TRIPLET_ON_POST = """
w = clip(w + ({gate})*eta*r1*(A2_plus + A3_plus*o2), w_min, w_max)
o1 += 1
o2 += 1
"""

#: BCM-like sliding threshold of the triplet rule (Pfister & Gerstner 2006, "Relation to the BCM rule"): the
#: pair depression amplitude scales with the square of a slow estimate of the postsynaptic rate,
#: ``A2_minus (rbar / rho_0)**2``, so the postsynaptic rate above which uncorrelated firing potentiates rises
#: with the neuron's own recent activity. The estimate is a postsynaptic trace of time constant ``tau_bar`` that
#: jumps by ``1/tau_bar`` at each spike (units of Hz) and starts at ``rho_0``, where the rule is the plain one.
SLIDING_THRESHOLD = {
    "tau_bar": 30.0 * b2.second,  # averaging time of the postsynaptic rate estimate (choice)
    "rho_0": 1.0 * b2.Hz,  # rate at which the depression amplitude is A2_minus (choice)
}

SLIDING_MODEL = """
drbar/dt = -rbar/tau_bar : Hz (event-driven)   # slow estimate of the postsynaptic rate
"""

_PAIR_KEYS = set(SONG2000_STDP)
_TRIPLET_KEYS = set(PFISTER2006_VISUAL_MINIMAL)


def _check_time(name, value):
    if not isinstance(value, b2.Quantity) or not value.has_same_dimensions(b2.second) or float(value) <= 0:
        raise ValueError(f"'{name}' must be a positive time (e.g. 20*ms), got {value!r}")


def _check_params(params, keys, times, rule):
    unknown = set(params) - keys
    if unknown:
        raise ValueError(f"unknown {rule} parameter(s) {sorted(unknown)}; allowed: {', '.join(sorted(keys))}")
    for name in times:
        _check_time(name, params[name])
    for name, value in params.items():
        if name in times:
            continue
        if isinstance(value, b2.Quantity) and not value.is_dimensionless:
            raise ValueError(f"'{name}' must be dimensionless, got {value!r}")
        if not np.isfinite(float(value)):
            raise ValueError(f"'{name}' must be finite, got {value!r}")
    if not float(params["w_max"]) > float(params["w_min"]):
        raise ValueError(f"'w_max' must exceed 'w_min', got {params['w_max']!r} <= {params['w_min']!r}")
    for name in [k for k in params if k.startswith("A") or k == "eta"]:
        if float(params[name]) < 0:
            raise ValueError(f"'{name}' must be non-negative, got {params[name]!r}")


def pair_stdp_params(**overrides):
    """Parameters of pair STDP: :data:`SONG2000_STDP` with ``overrides``; ``ValueError`` on bad values."""
    params = {**SONG2000_STDP, **overrides}
    _check_params(params, _PAIR_KEYS, ("tau_pre", "tau_post"), "pair STDP")
    if float(params["mu"]) < 0:
        raise ValueError(f"'mu' must be >= 0 (0 additive, 1 multiplicative), got {params['mu']!r}")
    return params


def triplet_stdp_params(**overrides):
    """Parameters of triplet STDP: :data:`PFISTER2006_VISUAL_MINIMAL` with ``overrides``."""
    params = {**PFISTER2006_VISUAL_MINIMAL, **overrides}
    _check_params(params, _TRIPLET_KEYS, ("tau_plus", "tau_minus", "tau_x", "tau_y"), "triplet STDP")
    return params


def sliding_threshold_params(**overrides):
    """Parameters of the sliding threshold: :data:`SLIDING_THRESHOLD` with ``overrides``; ``ValueError`` on bad
    values (``tau_bar`` a positive time, ``rho_0`` a positive rate)."""
    unknown = set(overrides) - set(SLIDING_THRESHOLD)
    if unknown:
        raise ValueError(f"unknown sliding-threshold parameter(s) {sorted(unknown)}; allowed: tau_bar, rho_0")
    params = {**SLIDING_THRESHOLD, **overrides}
    _check_time("tau_bar", params["tau_bar"])
    rho_0 = params["rho_0"]
    if not isinstance(rho_0, b2.Quantity) or not rho_0.has_same_dimensions(b2.Hz) or not float(rho_0) > 0:
        raise ValueError(f"'rho_0' must be a positive rate (e.g. 1*Hz), got {rho_0!r}")
    return params


def triplet_parameter_set(name):
    """The triplet parameters called ``name`` in :data:`TRIPLET_PARAMETER_SETS` (a copy); ``ValueError`` otherwise."""
    if name not in TRIPLET_PARAMETER_SETS:
        raise ValueError(f"unknown triplet parameter set {name!r}; allowed: {', '.join(TRIPLET_PARAMETER_SETS)}")
    return dict(TRIPLET_PARAMETER_SETS[name])


def triplet_poisson_drift(rate_pre, rate_post, **params):
    """Mean rate of weight change of the triplet rule for independent Poisson pre- and postsynaptic trains.

    Pfister & Gerstner (2006, section "Relation to the BCM rule"): with all-to-all interaction and
    uncorrelated trains of rates :math:`\\rho_x` (pre) and :math:`\\rho_y` (post), each trace averages to its
    rate times its time constant, so

    .. math::

        \\langle \\dot w \\rangle = \\eta\\, \\rho_x \\rho_y \\left[A_2^+ \\tau_+ - A_2^- \\tau_-
            + A_3^+ \\tau_+ \\tau_y \\rho_y - A_3^- \\tau_- \\tau_x \\rho_x\\right]

    (weight caps ignored). Its sign change in :math:`\\rho_y` is the rule's potentiation threshold, which
    is where the visual-cortex fit (about 17 Hz) and the hippocampal fit (about 5 Hz) differ most.

    Parameters
    ----------
    rate_pre, rate_post : Quantity (Hz), scalars or arrays that broadcast
    **params
        Triplet parameters replacing :data:`PFISTER2006_VISUAL_MINIMAL`.

    Returns
    -------
    Quantity
        Weight change per second (``1/second``; weights are dimensionless).
    """
    p = triplet_stdp_params(**params)
    for name, rate in (("rate_pre", rate_pre), ("rate_post", rate_post)):
        if not isinstance(rate, b2.Quantity) or not rate.has_same_dimensions(b2.Hz) or np.any(np.asarray(rate) < 0):
            raise ValueError(f"'{name}' must be a non-negative rate in Hz (e.g. 10*Hz), got {rate!r}")
    bracket = (p["A2_plus"] * p["tau_plus"] - p["A2_minus"] * p["tau_minus"]
               + p["A3_plus"] * p["tau_plus"] * p["tau_y"] * rate_post
               - p["A3_minus"] * p["tau_minus"] * p["tau_x"] * rate_pre)
    return p["eta"] * rate_pre * rate_post * bracket


def pair_stdp_equations(effect="", gate="1", **overrides):
    """``dict(model=..., on_pre=..., on_post=..., namespace=...)`` of pair STDP.

    Parameters
    ----------
    effect : str
        Synaptic effect, e.g. ``"g_exc_post += w*g_max"``, run first at each presynaptic spike.
    gate : str
        Expression multiplying every weight change, e.g. ``"plastic(t)"`` (a TimedArray of 0/1 that
        switches learning off in test phases); ``"1"`` by default.
    **overrides
        Parameters replacing those of :data:`SONG2000_STDP` (``mu = 1`` for the multiplicative rule).
    """
    params = pair_stdp_params(**overrides)
    return {"model": PAIR_MODEL, "on_pre": PAIR_ON_PRE.format(effect=effect, gate=gate),
            "on_post": PAIR_ON_POST.format(gate=gate),
            "namespace": {**params, "w_span": float(params["w_max"]) - float(params["w_min"])}}


def triplet_stdp_equations(effect="", gate="1", extra_model="", sliding=None, **overrides):
    """``dict(model=..., on_pre=..., on_post=..., namespace=...)`` of triplet STDP (Pfister & Gerstner 2006).

    ``effect`` and ``gate`` as in :func:`pair_stdp_equations`; ``extra_model`` adds synaptic equations that
    ``effect`` may use (e.g. the Tsodyks–Markram variables of :mod:`brian2learn.plasticity.short_term`, whose
    update then leads ``effect``). ``sliding``: ``None`` (plain rule) or a dict of :data:`SLIDING_THRESHOLD`
    overrides (``{}`` for the defaults): pair depression ``A2_minus (rbar/rho_0)**2`` with the slow rate
    estimate ``rbar`` (set its initial value with :func:`triplet_stdp_synapses`, which starts it at ``rho_0``).
    """
    namespace = dict(triplet_stdp_params(**overrides))
    model, pair_depression, rate_update = TRIPLET_MODEL, "A2_minus", ""
    if sliding is not None:
        namespace.update(sliding_threshold_params(**sliding))
        model += SLIDING_MODEL
        pair_depression, rate_update = "A2_minus*(rbar/rho_0)**2", "rbar += 1/tau_bar\n"
    return {"model": model + extra_model,
            "on_pre": TRIPLET_ON_PRE.format(effect=effect, gate=gate, pair_depression=pair_depression),
            "on_post": TRIPLET_ON_POST.format(gate=gate) + rate_update, "namespace": namespace}


def _build(source, target, code, i, j, w, name, delay, dt, extra_namespace):
    i = np.asarray(i, dtype=np.int64)
    j = np.asarray(j, dtype=np.int64)
    if i.shape != j.shape or i.ndim != 1:
        raise ValueError(f"'i' and 'j' must be 1-d arrays of one length, got shapes {i.shape} and {j.shape}")
    if i.size and (i.min() < 0 or i.max() >= len(source)):
        raise ValueError(f"'i' must index the {len(source)} source neurons")
    if j.size and (j.min() < 0 or j.max() >= len(target)):
        raise ValueError(f"'j' must index the {len(target)} target neurons")
    namespace = {**code["namespace"], **(extra_namespace or {})}
    kwargs = {"dt": dt} if dt is not None else {}
    syn = b2.Synapses(source, target, code["model"], on_pre=code["on_pre"], on_post=code["on_post"],
                      namespace=namespace, name=name, **kwargs)
    syn.connect(i=i, j=j)
    w = np.broadcast_to(np.asarray(w, dtype=float), i.shape)
    lo, hi = float(namespace["w_min"]), float(namespace["w_max"])
    if np.any(w < lo) or np.any(w > hi):
        raise ValueError(f"initial weights 'w' must lie within [w_min, w_max] = [{lo}, {hi}]")
    syn.w = w
    if delay is not None:
        syn.delay = delay
    return syn


def pair_stdp_synapses(source, target, i, j, w, effect="", name=None, delay=None, dt=None, namespace=None,
                       gate="1", **params):
    """Synapses with pair STDP from ``source[i]`` to ``target[j]`` with initial weights ``w``.

    Parameters
    ----------
    source, target : brian2.Group
    i, j : array of int
        Explicit connection indices (reproducible across standalone runs).
    w : float or array
        Initial weights, within ``[w_min, w_max]``.
    effect : str
        Synaptic effect at a presynaptic spike (e.g. ``"g_exc_post += w*g_max"``).
    name, delay, dt
        Passed to :class:`brian2.Synapses` (``delay`` set after connecting).
    namespace : dict
        Extra names used in ``effect`` and ``gate`` (e.g. ``g_max``, a TimedArray).
    gate : str
        Expression multiplying every weight change (see :func:`pair_stdp_equations`).
    **params
        STDP parameters replacing :data:`SONG2000_STDP`.
    """
    code = pair_stdp_equations(effect, gate, **params)
    return _build(source, target, code, i, j, w, name or "pair_stdp*", delay, dt, namespace)


def triplet_stdp_synapses(source, target, i, j, w, effect="", name=None, delay=None, dt=None, namespace=None,
                          gate="1", extra_model="", sliding=None, **params):
    """Synapses with triplet STDP (Pfister & Gerstner 2006); arguments as :func:`pair_stdp_synapses`, and
    ``extra_model`` and ``sliding`` as :func:`triplet_stdp_equations`."""
    code = triplet_stdp_equations(effect, gate, extra_model, sliding, **params)
    syn = _build(source, target, code, i, j, w, name or "triplet_stdp*", delay, dt, namespace)
    if sliding is not None:
        syn.rbar = code["namespace"]["rho_0"]
    return syn


def pair_stdp_window(delta_t, tau_pre, tau_post, A_plus, A_minus):
    """Closed-form weight change of one isolated pair (additive, away from the bounds, ``w_max - w_min = 1``).

    ``delta_t = t_post - t_pre`` (Quantity or seconds); ``+A_plus exp(-dt/tau_pre)`` for ``dt > 0``,
    ``-A_minus exp(dt/tau_post)`` for ``dt < 0``, 0 at ``dt = 0``.
    """
    delta_t = np.asarray(delta_t / b2.second if isinstance(delta_t, b2.Quantity) else delta_t, dtype=float)
    tp, tm = float(tau_pre / b2.second), float(tau_post / b2.second)
    return np.where(delta_t > 0, A_plus * np.exp(-np.abs(delta_t) / tp),
                    np.where(delta_t < 0, -A_minus * np.exp(-np.abs(delta_t) / tm), 0.0))
