"""The e-prop set-ups of NEST 3.10's test suite, drawn exactly as NEST draws them.

NEST 3.10 (Tiddia, Espinoza Valverde et al.; models ``eprop_iaf_bsshslm_2020``,
``eprop_iaf_adapt_bsshslm_2020``, ``eprop_readout_bsshslm_2020``) checks its e-prop
against Bellec et al.'s TensorFlow code (Nat Commun 11:3625, 2020,
doi:10.1038/s41467-020-17236-y) in ``testsuite/pytests/synapses/
test_eprop_bsshslm_2020_plasticity.py``: the losses of the first five iterations of the
sine-wave regression (batch 1) and of evidence accumulation (batch 1 and 2). These
functions regenerate the same initial weights, feedback weights, input spikes and targets
(legacy ``numpy.random`` seeded with 1, in NEST's order of draws, weights rounded to
float32), and give the :class:`~brian2learn.plasticity.eprop.EpropConfig` arguments under
which brian2learn's e-prop is the same model. The test suite of brian2learn compares the
losses with NEST's published numbers, so no NEST installation is needed.

How NEST's parameters map onto brian2learn's:

- NEST delays every connection by one step and starts its input one step late; the
  recorded signals are shifted accordingly, and NEST clears the input of the first step
  of each sequence. A trial of brian2learn is the same sequence without the offsets.
- ``regular_spike_arrival=False`` (sine waves) scales the recurrent input by
  ``1 - exp(-dt/tau_m)``: ``input_scale='1-alpha'``; ``True`` (evidence) does not scale it.
- ``t_ref = 5 ms`` lets a neuron fire again 5 steps after a spike (4 blocked steps), as
  brian2learn's neuron models do.
- ``average_gradient=True`` (evidence) divides the summed gradient by the number of steps
  of the learning window; brian2learn averages the loss over the window (window weight
  ``1/150``) instead, so NEST's ``c_reg = 300`` becomes ``c_reg = 300/150 = 2``.
- NEST's Adam keeps :math:`\\hat\\epsilon` constant: ``adam_epsilon_form='tensorflow'``.
- NEST updates a synapse lazily, at its presynaptic neuron's next event; for an input that
  spikes in step 1 of the next sequence this happens before the learning signal of the
  sequence's last step is back, which drops one term of the gradient:
  ``nest_late_learning_signal=True``. Without it the sine-wave losses agree for eight
  iterations and then drift (62.99 against NEST's 61.42 at iteration 200).
"""

import brian2 as b2
import numpy as np

from brian2learn.models.eprop_neurons import BELLEC2020_EVIDENCE_ACCUMULATION, BELLEC2020_PATTERN_GENERATION

#: Sine-wave regression of NEST's test (100 inputs at 50 Hz, 100 LIF, 1 readout, 1000 steps).
SINE_WAVES = {
    "n_in": 100,
    "n_rec": 100,
    "n_out": 1,
    "n_steps": 1000,  # steps of 1 ms per sequence
    "input_spike_probability": 0.05,  # per step (50 Hz)
    "periods": (1000, 500, 333, 200),  # steps
}

#: Evidence accumulation of NEST's test (40 inputs, 50 LIF + 50 ALIF, 2 readouts).
EVIDENCE = {
    "n_in": 40,
    "n_lif": 50,
    "n_alif": 50,
    "n_out": 2,
    "n_cues": 7,
    "cue_steps": 100,  # steps of one cue
    "spacing_steps": 50,  # silent steps before each cue
    "delay_steps": 1050,  # background-noise steps between the cues and the recall
    "recall_steps": 150,  # recall cue and learning window
    "cue_group_probability": 0.3,  # probability of the minority side
    "spike_probability": 0.04,  # per step (40 Hz) in cues and recall; a quarter in the background
}


def _float32(array):
    """NEST's weights are float32 numbers, used as doubles."""
    return np.asarray(np.asarray(array, dtype=np.float32), dtype=float)


def nest_sine_wave_setup(seed=1, n_rec=None):
    """Initial weights, feedback, task and configuration of NEST's sine-wave regression test.

    ``n_rec`` (default 100, NEST's value) changes the number of recurrent neurons with the
    same order of draws, for scaling benchmarks.

    Returns
    -------
    dict
        ``weights`` (``w_in``, ``w_rec``, ``w_out`` as ``[post, pre]`` floats), ``feedback``
        (n_rec, n_out), ``task`` (``inputs``, ``targets``, ``window``; the same sequence in
        every iteration) and ``config`` (keyword arguments of ``EpropConfig``).
    """
    s = SINE_WAVES
    n_rec = s["n_rec"] if n_rec is None else n_rec
    if not isinstance(n_rec, (int, np.integer)) or n_rec < 2:
        raise ValueError(f"'n_rec' must be an integer >= 2, got {n_rec!r}")
    n_in, n_out, n_steps = s["n_in"], s["n_out"], s["n_steps"]
    np.random.seed(seed)
    w_in = _float32(np.random.randn(n_in, n_rec).T / np.sqrt(n_in))
    w_rec = _float32(np.random.randn(n_rec, n_rec).T / np.sqrt(n_rec))
    np.fill_diagonal(w_rec, 0.0)
    w_out = _float32(np.random.randn(n_rec, n_out).T / np.sqrt(n_rec))
    feedback = _float32(np.random.randn(n_rec, n_out) / np.sqrt(n_rec))
    spikes = np.random.rand(n_steps, n_in) < s["input_spike_probability"]
    spikes[0, :] = False  # NEST's first step carries no input
    amplitudes = np.random.uniform(low=0.5, high=2.0, size=len(s["periods"]))
    phases = np.random.uniform(low=0.0, high=2.0 * np.pi, size=len(s["periods"]))
    # NEST's target: sines over a linspace of whole periods (integer division), shifted to
    # start at 0 and scaled to a largest magnitude of 1.
    target = sum(amplitude * np.sin(np.linspace(phase, phase + 2.0 * np.pi * (n_steps // period), n_steps))
                 for amplitude, phase, period in zip(amplitudes, phases, s["periods"]))
    target = target - target[0]
    target = target / max(np.abs(target).max(), 1e-6)
    task = {
        "inputs": spikes[None].astype(float),
        "targets": target[None, :, None],
        "window": np.ones((1, n_steps)),
    }
    config = {
        "n_in": n_in, "n_rec": n_rec, "n_out": n_out, "n_steps": n_steps,
        "neuron_params": BELLEC2020_PATTERN_GENERATION,
        "loss": "mse", "c_reg": 300.0, "f_target": 10.0 * b2.Hz,
        "optimizer": "gd", "learning_rate": 1e-4, "batch_size": 1, "nest_late_learning_signal": True,
    }
    return {"weights": {"w_in": w_in, "w_rec": w_rec, "w_out": w_out}, "feedback": feedback, "task": task,
            "config": config}


def _evidence_batch(batch_size, rng_state_owner):
    """One batch of evidence-accumulation trials, drawn like NEST's test (global numpy state)."""
    e = EVIDENCE
    n_in = e["n_in"]
    group = n_in // 4  # left, right, recall, background
    n_steps = e["n_cues"] * (e["cue_steps"] + e["spacing_steps"]) + e["delay_steps"] + e["recall_steps"]
    choices = np.array([e["cue_group_probability"], 1 - e["cue_group_probability"]], dtype=np.float32)
    side = rng_state_owner.choice([0, 1], batch_size)
    probabilities = np.zeros((batch_size, 2), dtype=np.float32)
    probabilities[:, 0] = choices[side]
    probabilities[:, 1] = choices[1 - side]
    cues = np.zeros((batch_size, e["n_cues"]), dtype=int)
    for trial in range(batch_size):
        cues[trial] = rng_state_owner.choice([0, 1], e["n_cues"], p=probabilities[trial])
    rates = np.zeros((batch_size, n_steps, n_in))
    for trial in range(batch_size):
        for k, cue in enumerate(cues[trial]):
            start = k * (e["cue_steps"] + e["spacing_steps"]) + e["spacing_steps"]
            rates[trial, start:start + e["cue_steps"], cue * group:(cue + 1) * group] = e["spike_probability"]
    rates[:, -e["recall_steps"]:, 2 * group:3 * group] = e["spike_probability"]
    rates[:, :, 3 * group:] = e["spike_probability"] / 4.0
    spikes = rates > rng_state_owner.rand(rates.size).reshape(rates.shape)
    spikes[:, 0, :] = False
    labels = (np.sum(cues, axis=1) > e["n_cues"] // 2).astype(int)
    return spikes.astype(float), labels


def nest_evidence_accumulation_setup(batch_size=1, n_iterations=5, seed=1):
    """Initial weights, feedback, trials and configuration of NEST's evidence-accumulation test.

    Returns
    -------
    dict
        ``weights``, ``feedback`` (random, N(0, 1)), ``task`` with the
        ``n_iterations * batch_size`` trials in training order (``inputs``, ``targets``
        one-hot over the whole trial, ``window`` 1/150 over the recall, ``labels``) and
        ``config`` (keyword arguments of ``EpropConfig``).
    """
    for name, value in (("batch_size", batch_size), ("n_iterations", n_iterations)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"'{name}' must be a positive integer, got {value!r}")
    e = EVIDENCE
    n_in, n_out = e["n_in"], e["n_out"]
    n_rec = e["n_lif"] + e["n_alif"]
    np.random.seed(seed)
    w_in = _float32(np.random.randn(n_in, n_rec).T / np.sqrt(n_in))
    w_rec = _float32(np.random.randn(n_rec, n_rec).T / np.sqrt(n_rec))
    np.fill_diagonal(w_rec, 0.0)
    # Glorot-uniform readout weights drawn as (n_rec, n_out), as in NEST's test.
    limit = np.sqrt(3.0 / max(1.0, (n_rec + n_out) / 2.0))
    w_out = _float32(np.random.uniform(low=-limit, high=limit, size=(n_rec, n_out)).T)
    feedback = _float32(np.random.randn(n_rec, n_out))
    batches = [_evidence_batch(batch_size, np.random) for _ in range(n_iterations)]
    inputs = np.concatenate([spikes for spikes, _ in batches])
    labels = np.concatenate([label for _, label in batches])
    n_steps = inputs.shape[1]
    targets = np.zeros((len(labels), n_steps, n_out))
    targets[np.arange(len(labels)), :, labels] = 1.0
    window = np.zeros((len(labels), n_steps))
    window[:, -e["recall_steps"]:] = 1.0 / e["recall_steps"]
    beta_alif = BELLEC2020_EVIDENCE_ACCUMULATION["beta"]  # 1.7 (1 - rho)/(1 - alpha) of the reference code
    config = {
        "n_in": n_in, "n_rec": n_rec, "n_out": n_out, "n_steps": n_steps,
        "neuron_params": BELLEC2020_EVIDENCE_ACCUMULATION,
        "beta": np.r_[np.zeros(e["n_lif"]), np.full(e["n_alif"], float(beta_alif))] * b2.volt,
        "loss": "softmax", "c_reg": 300.0 / e["recall_steps"], "f_target": 10.0 * b2.Hz,
        "optimizer": "adam", "learning_rate": 5e-3, "adam_epsilon_form": "tensorflow",
        "batch_size": batch_size, "nest_late_learning_signal": True,
    }
    task = {"inputs": inputs, "targets": targets, "window": window, "labels": labels}
    return {"weights": {"w_in": w_in, "w_rec": w_rec, "w_out": w_out}, "feedback": feedback, "task": task,
            "config": config}
