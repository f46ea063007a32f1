"""Evidence accumulation: count left and right cues, remember the majority over a delay.

Bellec et al. (2020), Nat Commun 11:3625, doi:10.1038/s41467-020-17236-y, Fig. 3 (after
Morcos & Harvey 2016, Nat Neurosci 19:1672); NEST 3.10 example
``eprop_supervised_classification_evidence-accumulation_bsshslm_2020``.

A trial of 2250 steps of 1 ms:

- 40 input channels in four groups of 10: left cues, right cues, recall, background noise;
- 7 cue slots of 150 ms: 50 ms of silence, then 100 ms in which the cue's group fires at
  40 Hz; each trial favours one side (chosen with probability 1/2), and each cue lands on
  the favoured side with probability 0.7 (0.3 on the other);
- a delay until the last 150 ms, in which the recall group fires at 40 Hz;
- the background group fires at 10 Hz throughout;
- label: the side that received more cues (7 cues: no ties); target: one-hot on the label
  during the recall period;
- loss: softmax cross-entropy averaged over the recall period (window weight 1/150 per step);
  the decision is the readout with the largest mean output over that period.

Spikes are Bernoulli draws per step (probability rate × dt) from ``numpy.random.default_rng``.
"""

import brian2 as b2
import numpy as np

#: Task constants of Bellec et al. (2020), Fig. 3.
EVIDENCE_ACCUMULATION = {
    "n_cues": 7,  # cues per trial
    "cue_duration": 100 * b2.ms,  # each cue
    "cue_gap": 50 * b2.ms,  # silence before each cue
    "delay": 1050 * b2.ms,  # from the end of the last cue slot to the recall period
    "recall_duration": 150 * b2.ms,  # recall cue and learning window
    "cue_rate": 40 * b2.Hz,  # rate of the active cue group
    "recall_rate": 40 * b2.Hz,  # rate of the recall group
    "background_rate": 10 * b2.Hz,  # rate of the background group
    "favoured_probability": 0.7,  # probability that a cue lands on the favoured side
    "group_size": 10,  # channels per group (left, right, recall, background)
    "dt": 1 * b2.ms,
}

LEFT, RIGHT, RECALL, BACKGROUND = range(4)


def _steps(duration, dt):
    return int(round(float(duration / dt)))


def trial_length(params=None):
    """Steps per trial (2250 for the default constants)."""
    p = {**EVIDENCE_ACCUMULATION, **(params or {})}
    slot = _steps(p["cue_gap"] + p["cue_duration"], p["dt"])
    return p["n_cues"] * slot + _steps(p["delay"], p["dt"]) + _steps(p["recall_duration"], p["dt"])


def evidence_accumulation_trials(n_trials, seed, params=None):
    """Draw ``n_trials`` independent trials.

    Parameters
    ----------
    n_trials : int
    seed : int or sequence of int
        Seed of ``numpy.random.default_rng``; different seeds give independent batches.
    params : dict or None
        Overrides of :data:`EVIDENCE_ACCUMULATION`.

    Returns
    -------
    dict
        ``inputs`` (n_trials, T, 40) of 0/1, ``targets`` (n_trials, T, 2) one-hot in the
        recall period, ``window`` (n_trials, T), ``labels`` (n_trials,) with 0 = left and
        1 = right, ``cues`` (n_trials, n_cues) with the side of each cue.
    """
    if not isinstance(n_trials, (int, np.integer)) or n_trials < 1:
        raise ValueError(f"'n_trials' must be a positive integer, got {n_trials!r}")
    p = {**EVIDENCE_ACCUMULATION, **(params or {})}
    unknown = set(p) - set(EVIDENCE_ACCUMULATION)
    if unknown:
        raise ValueError(f"unknown task parameters {sorted(unknown)}; known: {sorted(EVIDENCE_ACCUMULATION)}")
    if p["n_cues"] % 2 == 0:
        raise ValueError(f"'n_cues' must be odd so that every trial has a majority, got {p['n_cues']}")
    if not 0 <= p["favoured_probability"] <= 1:
        raise ValueError(f"'favoured_probability' must lie in [0, 1], got {p['favoured_probability']}")
    dt = p["dt"]
    n_steps = trial_length(p)
    group = p["group_size"]
    gap, cue = _steps(p["cue_gap"], dt), _steps(p["cue_duration"], dt)
    recall = _steps(p["recall_duration"], dt)
    rng = np.random.default_rng(seed)

    favoured = rng.integers(0, 2, size=n_trials)  # LEFT or RIGHT
    on_favoured = rng.random((n_trials, p["n_cues"])) < p["favoured_probability"]
    cues = np.where(on_favoured, favoured[:, None], 1 - favoured[:, None])
    labels = (cues.sum(axis=1) * 2 > p["n_cues"]).astype(int)  # 1: more right cues

    probability = np.zeros((n_trials, n_steps, 4 * group))
    for k in range(p["n_cues"]):
        start = k * (gap + cue) + gap
        for side in (LEFT, RIGHT):
            trials = cues[:, k] == side
            probability[np.ix_(trials, np.arange(start, start + cue), np.arange(side * group, (side + 1) * group))] = \
                float(p["cue_rate"] * dt)
    probability[:, n_steps - recall:, RECALL * group:(RECALL + 1) * group] = float(p["recall_rate"] * dt)
    probability[:, :, BACKGROUND * group:] = float(p["background_rate"] * dt)
    inputs = (rng.random(probability.shape) < probability).astype(float)

    targets = np.zeros((n_trials, n_steps, 2))
    targets[:, n_steps - recall:, :] = np.eye(2)[labels][:, None, :]
    window = np.zeros((n_trials, n_steps))
    window[:, n_steps - recall:] = 1.0 / recall
    return {"inputs": inputs, "targets": targets, "window": window, "labels": labels, "cues": cues}


#: Variables of the cue-choice environment (the protocol of :mod:`brian2learn.tasks.cartpole`).
def decision_error(readouts, targets, window):
    """Fraction of trials whose readout with the largest ``window``-weighted output is not the trial's label.

    ``readouts`` and ``targets`` have shape (trials, T, 2), ``window`` (trials, T) (the recall period of
    :func:`evidence_accumulation_trials`): the decision is :math:`\\arg\\max_o \\sum_t m_t y_{t,o}`.
    """
    votes = np.einsum("nt,nto->no", window, readouts)
    labels = np.argmax(np.einsum("nt,nto->no", window, targets), axis=1)
    return float(np.mean(np.argmax(votes, axis=1) != labels))


CUE_CHOICE_EQS = """
action : 1             # 0: left, 1: right (written by the agent at the end of a trial)
label : 1              # side with more cues in the current trial
reward : 1             # 1 if the last trial's choice was its label
transition : 1         # 1: the last step scored a choice (every trial but the first of a training)
terminated : 1         # every trial is an episode of one decision
done : 1               # 0: the next trial starts in the same step
new_episode : 1        # 1: a trial starts
episode : 1            # trials started
episode_finished : 1   # 1: the last step scored a trial
last_return : 1        # reward of the last scored trial
"""

#: One environment step at a trial boundary: score the choice of the trial that ended, start the next.
CUE_CHOICE_STEP = """
transition = int(episode >= 0)
reward = transition*int(abs(action - label) < 0.5)
terminated = transition
episode_finished = transition
last_return = reward
episode = episode + 1
label = trial_labels(t)
new_episode = 1
done = 0
"""


class CueChoice:
    """Evidence accumulation with a reward instead of a target, as an environment for an agent network.

    The trials of :func:`evidence_accumulation_trials`; at the end of each trial the agent chooses left (0) or
    right (1) and receives reward 1 for the side with more cues, nothing otherwise (no target, no learning
    window). Each trial is an episode of one decision; the environment steps at trial boundaries
    (``env_dt`` = one trial), with the protocol of :mod:`brian2learn.tasks.cartpole`. The input spikes and
    labels of a run's trials come in as ``TimedArray`` s (:meth:`stimuli`).

    Parameters
    ----------
    trials_per_run : int
    params : dict or None
        Overrides of :data:`EVIDENCE_ACCUMULATION`.
    name : str
    """

    def __init__(self, trials_per_run, params=None, name="cue_choice"):
        if isinstance(trials_per_run, bool) or not isinstance(trials_per_run, (int, np.integer)) \
                or trials_per_run < 1:
            raise ValueError(f"'trials_per_run' must be a positive integer, got {trials_per_run!r}")
        self.params = {**EVIDENCE_ACCUMULATION, **(params or {})}
        self.n_steps = trial_length(self.params)
        self.n_channels = 4 * self.params["group_size"]
        self.trials_per_run = int(trials_per_run)
        dt = self.params["dt"]
        self.env_dt = self.n_steps * dt
        self.n_actions = 2
        self.max_episodes = None  # every run brings its own trials
        self.record_variables = ("action", "label", "reward")
        self.cue_inputs = b2.TimedArray(np.zeros((self.trials_per_run * self.n_steps, self.n_channels)), dt=dt,
                                        name=f"{name}_inputs")
        self.trial_labels = b2.TimedArray(np.zeros(self.trials_per_run), dt=self.env_dt, name=f"{name}_labels")
        self.group = b2.NeuronGroup(1, CUE_CHOICE_EQS, dt=self.env_dt, namespace={"trial_labels": self.trial_labels},
                                    events={"episode_end": "episode_finished > 0.5"}, name=name)
        self.group.episode = -1
        self.group.run_regularly(CUE_CHOICE_STEP, dt=self.env_dt, when="before_groups", order=0,
                                 name=f"{name}_step")

    def stimulus_arrays(self):
        """The TimedArrays a run takes: input spikes and labels of its trials."""
        return {"cue_inputs": self.cue_inputs, "trial_labels": self.trial_labels}

    def stimuli(self, trials):
        """The run's arrays from ``trials`` (:func:`evidence_accumulation_trials` of ``trials_per_run`` trials)."""
        expected = (self.trials_per_run, self.n_steps, self.n_channels)
        if np.shape(trials["inputs"]) != expected:
            raise ValueError(f"the trials' inputs must have shape {expected}, got {np.shape(trials['inputs'])}")
        return cue_choice_stimuli(trials)

    def encoder(self, n_in):
        """The input code of an agent network: the trials' spikes, channel ``i`` to input ``i``."""
        if n_in != self.n_channels:
            raise ValueError(f"'n_in' must be {self.n_channels} (the task's input channels), got {n_in}")
        return _PrescribedSpikes(self.cue_inputs)


def cue_choice_stimuli(trials):
    """The arrays of :meth:`CueChoice.stimulus_arrays` for ``trials`` (of :func:`evidence_accumulation_trials`)."""
    inputs = np.asarray(trials["inputs"], dtype=float)
    return {"cue_inputs": inputs.reshape(-1, inputs.shape[2]),
            "trial_labels": np.asarray(trials["labels"], dtype=float)}


class _PrescribedSpikes:
    """Input code that reads the spikes from a ``TimedArray`` ``cue_inputs`` (time, channel)."""

    equations = ""
    code = "x = cue_inputs(t, i)"

    def __init__(self, array):
        self.namespace = {"cue_inputs": array}

    def link(self, inputs, env_group):
        """Nothing to link: the spikes do not depend on the environment's state."""
