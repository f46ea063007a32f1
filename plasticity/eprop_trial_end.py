"""The e-prop gradient of a trial in closed form at the trial's end.

Weights change only at batch boundaries, so the gradient e-prop accumulates online during
a trial (:mod:`brian2learn.plasticity.eprop`) can equally be computed once the trial is over,
from per-neuron histories, with the same result to rounding. Writing the effective learning
signal that multiplies the eligibility trace as

.. math::

    \\bar A_j^t = \\tilde L_j^t + L^{reg}_j, \\qquad
    \\tilde L_j^t = (1-\\kappa) L_j^t + \\kappa \\tilde L_j^{t+1}

(the readout filter moved from the eligibility trace onto the learning signal, backwards in
time), and unrolling the ALIF eligibility vector
:math:`\\epsilon^{a,t}_{ji} = \\sum_{t'<t} \\prod_{u=t'+1}^{t-1} (\\rho - \\beta_j \\psi_j^u)\\,
\\psi_j^{t'} c \\bar s_i^{t'}`, the gradient of a trial factorises into a presynaptic and a
postsynaptic history,

.. math::

    \\Delta_{ji} = \\sum_t \\bar A_j^t e_{ji}^t = c \\sum_t \\bar s_i^t D_j^t, \\qquad
    D_j^t = \\psi_j^t (\\bar A_j^t - \\beta_j G_j^t),

    G_j^t = \\bar A_j^{t+1} \\psi_j^{t+1} + (\\rho - \\beta_j \\psi_j^{t+1}) G_j^{t+1},
    \\qquad G_j^{T-1} = 0 .

For LIF neurons (:math:`\\beta_j = 0`) this is :math:`c \\sum_t \\bar s_i^t \\psi_j^t \\bar A_j^t`.
Per step only the neurons store :math:`\\psi`, :math:`L` and their presynaptic trace
:math:`\\bar s`; at the trial's end each neuron runs the backward recursion for :math:`D`,
and each synapse takes one dot product over the trial. That replaces four read-modify-write
state variables per synapse and step by one streaming product per synapse and trial.

Event-driven form (engine ``'event'``)
-------------------------------------
The presynaptic trace is a filtered spike train, :math:`\\bar s_i^t = \\sum_{t' \\le t} \\alpha^{t-t'}
s_i^{t'}` (it starts each trial at 0), so the sum over steps can be taken over the presynaptic
spikes instead,

.. math::

    \\Delta_{ji} = c \\sum_{t' : s_i^{t'} = 1} F_j^{t'}, \\qquad
    F_j^{t} = D_j^{t} + \\alpha F_j^{t+1}, \\quad F_j^{T} = 0,

one more backward recursion per postsynaptic neuron (in place of :math:`D_j`). A synapse then
costs one addition per spike of its presynaptic neuron in the trial -- the synaptic events of
the forward pass -- instead of :math:`T` multiply-adds. The neurons store the steps at which
their trace receives a spike (an input's :math:`x^t` enters :math:`\\bar x^t`, a recurrent
neuron's :math:`z^t` enters :math:`\\bar z^{t+1}`) instead of the trace. Same sums as the dot
products in exact arithmetic; in floating point they differ by rounding (tested to 1e-12).

The histories live in arrays shared by Brian2 functions with a C++ implementation (for
``cpp_standalone``) and a numpy implementation (for the runtime device with the numpy
target); the functions write and read them as side effects, so they are marked stateful.
In the event-driven form the recurrent neurons' histories (:math:`\\psi`, :math:`L`, :math:`F`) are
stored step by step (``[step, neuron]``): the synapses of one presynaptic neuron are consecutive
(:func:`~brian2learn.plasticity.eprop.connectivity`), so each of its spikes reads :math:`F` of the
postsynaptic neurons in the order they lie in memory, and each step's stores are contiguous too.
"""

import brian2 as b2
import numpy as np


class TrialHistories:
    """History arrays of one trial and the Brian2 functions that fill and use them.

    Parameters
    ----------
    name : str
        Prefix of the C++ names (unique per network).
    n_steps : int
        Steps per trial.
    n_inputs, n_recurrent : int
    kappa, rho : float
        Readout and adaptation decay per step.
    event_driven : bool
        Keep each neuron's spike steps instead of its trace, and sum ``F`` over them (the
        event-driven form above); ``alpha`` is then the trace's decay per step.
    last_signal_term : bool
        Also keep :math:`D^{last}_j`, the part of :math:`D_j` made by the learning signal of the
        trial's last step alone (same recursion with :math:`L^t_j = 0` for :math:`t < T-1` and no
        regularization), so that ``dot_in_without_last(i, j, drop)`` can leave the term
        :math:`L_j^{T-1} \\bar e_{ji}^{T-1} = c \\sum_t \\bar s_i^t D^{last,t}_j` out where ``drop``
        is non-zero (:class:`~brian2learn.plasticity.eprop.EpropConfig`, ``nest_late_learning_signal``).

    Attributes
    ----------
    functions : dict
        Brian2 functions, to be put into the namespace of the groups that call them:
        ``store_psi``, ``store_L``, ``store_zbar`` (recurrent neurons, every step),
        ``store_xbar`` (inputs, every step), ``adjoint`` (recurrent neurons, at the trial's
        end: ``adjoint(i, L_reg, beta/volt)``), ``dot_in`` and ``dot_rec`` (synapses, at the
        trial's end: ``dot_in(i, j)``), and with ``last_signal_term`` ``dot_in_without_last``.
    """

    def __init__(self, name, n_steps, n_inputs, n_recurrent, kappa, rho, last_signal_term=False,
                 event_driven=False, alpha=None):
        self.name = name
        self.n_steps = n_steps
        self.kappa = float(kappa)
        self.rho = float(rho)
        self.last_signal_term = bool(last_signal_term)
        self.event_driven = bool(event_driven)
        if self.event_driven and alpha is None:
            raise ValueError("the event-driven form needs 'alpha', the trace's decay per step")
        self.alpha = None if alpha is None else float(alpha)
        self.arrays = {
            "psi": np.zeros(n_recurrent * n_steps),
            "L": np.zeros(n_recurrent * n_steps),
            "D": np.zeros(n_recurrent * n_steps),
        }
        if self.event_driven:
            # spike steps of each neuron in this trial (as doubles: the namespace arrays of one type) and
            # their count; the numpy implementation keeps the dense 0/1 spike history instead
            for label, n in (("zbar", n_recurrent), ("xbar", n_inputs)):
                self.arrays[label] = np.zeros(n * n_steps)
                self.arrays[f"{label}_count"] = np.zeros(n)
        else:
            self.arrays["zbar"] = np.zeros(n_recurrent * n_steps)
            self.arrays["xbar"] = np.zeros(n_inputs * n_steps)
        if self.last_signal_term:
            self.arrays["D_last"] = np.zeros(n_recurrent * n_steps)
        self.keys = {label: f"_{name}_history_{label}" for label in self.arrays}
        self.n_recurrent = int(n_recurrent)
        # the recurrent neurons' histories step by step in the event-driven form (see the module docstring)
        self.time_major = {label for label in ("psi", "L", "D", "D_last") if label in self.arrays} \
            if self.event_driven else set()
        self.functions = {f"store_{label}": self._store(label) for label in ("psi", "L")}
        for label in ("zbar", "xbar"):
            self.functions[f"store_{label}"] = self._store_spike(label) if self.event_driven else self._store(label)
        self.functions["adjoint"] = self._adjoint()
        self.functions["dot_in"] = self._dot("xbar")
        self.functions["dot_rec"] = self._dot("zbar")
        if self.last_signal_term:
            self.functions["dot_in_without_last"] = self._dot("xbar", drop_last=True)

    def _view(self, label):
        """The history as ``[neuron, step]`` (a transposed view where it is stored step by step)."""
        if label in self.time_major:
            return self.arrays[label].reshape(self.n_steps, -1).T
        return self.arrays[label].reshape(-1, self.n_steps)

    def _layout(self, label, neuron="neuron"):
        """C++ (offset of the first entry of the neuron named ``neuron``, stride between its steps) of a history."""
        if label in self.time_major:
            return f"(size_t){neuron}", self.n_recurrent
        return f"(size_t){neuron} * {self.n_steps}", 1

    def _function(self, pyfunc, n_args, arg_types, cpp_name, cpp_code, labels):
        function = b2.Function(pyfunc, arg_units=[1] * n_args, return_unit=1, arg_types=arg_types,
                               return_type="float", stateless=False)
        function.implementations.add_implementation(
            "cpp", cpp_code, name=cpp_name,
            namespace={self.keys[label]: self.arrays[label] for label in labels})
        return function

    def _store(self, label):
        history = self._view(label)

        def store(neuron, step, value):
            history[neuron, step] = value
            return np.zeros(np.shape(neuron))

        cpp_name = f"{self.name}_store_{label}"
        offset, stride = self._layout(label)
        code = f"""
        double {cpp_name}(const int32_t neuron, const int32_t step, const double value)
        {{
            _namespace{self.keys[label]}[{offset} + (size_t)step * {stride}] = value;
            return 0.0;
        }}
        """
        return self._function(store, 3, ["integer", "integer", "float"], cpp_name, code, [label])

    def _store_spike(self, label):
        """``store_LABEL(neuron, step, entry_step, value)`` of the event-driven form: with ``value`` 1 a spike
        enters the trace in ``entry_step``; ``step`` 0 (the current step) starts the neuron's list of the trial."""
        history = self._view(label)
        n_steps = self.n_steps

        def store(neuron, step, entry_step, value):
            neuron = np.atleast_1d(neuron)
            step, entry_step, value = (np.broadcast_to(np.asarray(a), neuron.shape) for a in (step, entry_step, value))
            history[neuron[step == 0]] = 0.0
            history[neuron, entry_step] = np.where(np.asarray(value) > 0.5, 1.0, 0.0)
            return np.zeros(neuron.shape)

        cpp_name = f"{self.name}_store_spike_{label}"
        key, count_key = self.keys[label], self.keys[f"{label}_count"]
        code = f"""
        double {cpp_name}(const int32_t neuron, const int32_t step, const int32_t entry_step, const double value)
        {{
            if (step == 0)
                _namespace{count_key}[neuron] = 0.0;
            if (value > 0.5)
            {{
                const size_t k = (size_t)_namespace{count_key}[neuron];
                _namespace{key}[(size_t)neuron * {n_steps} + k] = entry_step;
                _namespace{count_key}[neuron] = k + 1;
            }}
            return 0.0;
        }}
        """
        return self._function(store, 4, ["integer", "integer", "integer", "float"], cpp_name, code,
                              [label, f"{label}_count"])

    def _adjoint(self):
        psi, learning_signal, d_history = self._view("psi"), self._view("L"), self._view("D")
        kappa, rho, n_steps = self.kappa, self.rho, self.n_steps

        last_history = self._view("D_last") if self.last_signal_term else None
        alpha = self.alpha if self.event_driven else None

        def backward(neuron, signal_at, reg_signal, beta, out):
            filtered = np.zeros(neuron.shape)
            carried = np.zeros(neuron.shape)
            a_next = np.zeros(neuron.shape)
            psi_next = np.zeros(neuron.shape)
            for step in range(n_steps - 1, -1, -1):
                filtered = (1 - kappa) * signal_at(step) + kappa * filtered
                a_now = filtered + reg_signal
                if step < n_steps - 1:
                    carried = a_next * psi_next + (rho - beta * psi_next) * carried
                psi_now = psi[neuron, step]
                out[neuron, step] = psi_now * (a_now - beta * carried)
                a_next, psi_next = a_now, psi_now

        def adjoint(neuron, reg_signal, beta):
            neuron = np.atleast_1d(neuron)
            reg_signal = np.broadcast_to(reg_signal, neuron.shape)
            beta = np.broadcast_to(beta, neuron.shape)
            backward(neuron, lambda step: learning_signal[neuron, step], reg_signal, beta, d_history)
            if last_history is not None:  # the part of D that the last step's learning signal makes
                last = learning_signal[neuron, n_steps - 1]
                backward(neuron, lambda step: last if step == n_steps - 1 else 0.0, 0.0, beta, last_history)
            if alpha is not None:  # event-driven form: F = D + alpha F(next step), in place of D
                for history in [d_history] + ([last_history] if last_history is not None else []):
                    for step in range(n_steps - 2, -1, -1):
                        history[neuron, step] += alpha * history[neuron, step + 1]
            return np.zeros(neuron.shape)

        cpp_name = f"{self.name}_adjoint"
        keys = self.keys
        labels = ["psi", "L", "D"] + (["D_last"] if self.last_signal_term else [])
        # one backward pass per neuron: the recursions of D (and D_last) and, in the event-driven form, the
        # filter F^t = D^t + alpha F^{t+1} of each run side by side, so their dependency chains overlap
        event = self.event_driven
        last = self.last_signal_term
        alpha_code = f"{self.alpha!r}"
        offset, stride = self._layout("D")  # the same layout for psi, L, D and D_last
        last_declarations = ("double* d_last = _namespace" + keys["D_last"] + f" + {offset};\n"
                             "            double filtered_last = 0.0, carried_last = 0.0, a_next_last = 0.0, "
                             "f_last = 0.0;") if last else ""
        last_body = f"""
                filtered_last = (step == {n_steps} - 1 ? {1 - kappa!r}*signal_now : 0.0) + {kappa!r}*filtered_last;
                if (step < {n_steps} - 1)
                    carried_last = a_next_last*psi_next + ({rho!r} - beta*psi_next)*carried_last;
                double value_last = psi_now*(filtered_last - beta*carried_last);
                {f"value_last += {alpha_code}*f_last; f_last = value_last;" if event else ""}
                d_last[(size_t)step * {stride}] = value_last;
                a_next_last = filtered_last;""" if last else ""
        code = f"""
        double {cpp_name}(const int32_t neuron, const double reg_signal, const double beta)
        {{
            const double* psi = _namespace{keys['psi']} + {offset};
            const double* signal = _namespace{keys['L']} + {offset};
            double* d = _namespace{keys['D']} + {offset};
            double filtered = 0.0, carried = 0.0, a_next = 0.0, psi_next = 0.0, f_next = 0.0;
            {last_declarations}
            for (int step = {n_steps} - 1; step >= 0; --step)
            {{
                const double signal_now = signal[(size_t)step * {stride}];
                const double psi_now = psi[(size_t)step * {stride}];
                filtered = {1 - kappa!r}*signal_now + {kappa!r}*filtered;
                const double a_now = filtered + reg_signal;
                if (step < {n_steps} - 1)
                    carried = a_next*psi_next + ({rho!r} - beta*psi_next)*carried;
                double value = psi_now*(a_now - beta*carried);
                {f"value += {alpha_code}*f_next; f_next = value;" if event else ""}
                d[(size_t)step * {stride}] = value;
                a_next = a_now;{last_body}
                psi_next = psi_now;
            }}
            return 0.0;
        }}
        """
        return self._function(adjoint, 3, ["integer", "float", "float"], cpp_name, code, labels)

    def _numpy_dot(self, presynaptic_label, drop_last):
        """The numpy ``dot(pre, post[, drop])``: ``sum_t s_pre^t D_post^t`` from the presynaptic history
        (trace, or 0/1 spikes with ``F`` in ``D``), less the ``D_last`` part where ``drop`` is non-zero."""
        pre_history, d_history = self._view(presynaptic_label), self._view("D")
        if not drop_last:
            def dot(pre, post):
                return (d_history @ pre_history.T)[post, pre]
            return dot
        last_history = self._view("D_last")

        def dot_without_last(pre, post, drop):
            last = (last_history @ pre_history.T)[post, pre]
            return (d_history @ pre_history.T)[post, pre] - np.where(np.asarray(drop) != 0, last, 0.0)
        return dot_without_last

    def _dot(self, presynaptic_label, drop_last=False):
        if self.event_driven:
            return self._event_dot(presynaptic_label, drop_last)
        return self._dense_dot(presynaptic_label, drop_last)

    def _event_dot(self, presynaptic_label, drop_last=False):
        """``dot(pre, post[, drop])`` of the event-driven form: ``sum`` of ``F_post`` over the spike steps of
        ``pre`` (``F`` is in the ``D`` arrays after :meth:`_adjoint`); with ``drop_last`` less the same sum of
        ``F^{last}_post`` where ``drop`` is non-zero."""
        keys, n_steps = self.keys, self.n_steps
        labels = [presynaptic_label, f"{presynaptic_label}_count", "D"] + (["D_last"] if drop_last else [])
        # numpy: the dense 0/1 spike history against F, the same products as the dense form's
        dot = self._numpy_dot(presynaptic_label, drop_last)

        cpp_name = f"{self.name}_event_dot_{'without_last_' if drop_last else ''}{presynaptic_label}"
        post_offset, stride = self._layout("D", neuron="post")
        drop_argument = ", const double drop" if drop_last else ""
        drop_block = f"""
            if (drop != 0.0)
            {{
                const double* f_last = _namespace{keys['D_last']} + {post_offset};
                for (int k = 0; k < count; ++k)
                    total -= f_last[(size_t)steps[k] * {stride}];
            }}""" if drop_last else ""
        code = f"""
        double {cpp_name}(const int32_t pre, const int32_t post{drop_argument})
        {{
            const double* steps = _namespace{keys[presynaptic_label]} + (size_t)pre * {n_steps};
            const int count = (int)_namespace{keys[f"{presynaptic_label}_count"]}[pre];
            const double* f = _namespace{keys['D']} + {post_offset};
            double total = 0.0;
            for (int k = 0; k < count; ++k)
                total += f[(size_t)steps[k] * {stride}];{drop_block}
            return total;
        }}
        """
        arg_types = ["integer", "integer"] + (["float"] if drop_last else [])
        return self._function(dot, len(arg_types), arg_types, cpp_name, code, labels)

    def _dense_dot(self, presynaptic_label, drop_last=False):
        """``dot(pre, post)``: the trial's dot product ``sum_t s_pre^t D_post^t``.

        With ``drop_last``: ``dot(pre, post, drop)``, less ``sum_t s_pre^t D^{last,t}_post`` (the last
        step's learning-signal term) where ``drop`` is non-zero.
        """
        labels = [presynaptic_label, "D"] + (["D_last"] if drop_last else [])
        keys = self.keys
        dot = self._numpy_dot(presynaptic_label, drop_last)

        cpp_name = f"{self.name}_dot_{'without_last_' if drop_last else ''}{presynaptic_label}"
        drop_argument = ", const double drop" if drop_last else ""
        drop_block = f"""
            if (drop != 0.0)
            {{
                const double* d_last = _namespace{keys['D_last']} + (size_t)post * {self.n_steps};
                for (int step = 0; step < {self.n_steps}; ++step)
                    total -= s[step]*d_last[step];
            }}""" if drop_last else ""
        code = f"""
        double {cpp_name}(const int32_t pre, const int32_t post{drop_argument})
        {{
            const double* s = _namespace{keys[presynaptic_label]} + (size_t)pre * {self.n_steps};
            const double* d = _namespace{keys['D']} + (size_t)post * {self.n_steps};
            double total = 0.0;
            for (int step = 0; step < {self.n_steps}; ++step)
                total += s[step]*d[step];{drop_block}
            return total;
        }}
        """
        arg_types = ["integer", "integer"] + (["float"] if drop_last else [])
        return self._function(dot, len(arg_types), arg_types, cpp_name, code, labels)
