"""Training of a reward-based e-prop agent in closed loop, environment steps per run of one build, on the run loop.

The rule, the agent network and the environment protocol are :mod:`brian2learn.plasticity.eprop_reward` and
:mod:`brian2learn.tasks.cartpole`; this module runs them on :class:`~brian2learn.training.loop.TrainingLoop`,
``steps_per_run`` environment steps per run of the compiled network. Nothing of the simulation stops between
runs: the whole state (weights, optimizer, eligibility traces, neurons, the environment in mid-episode) comes
back from a run and goes into the next by ``run_args``, so that the runs chain into one long simulation; only
the uniforms of the action choices (drawn from the trainer's seed and the run's first step) and the
environment's stimuli of the run are new. A non-finite TD error stops the training with
:class:`~brian2learn.training.loop.TrainingDivergedError` (the state at the start of that run is kept).

Evaluation (:meth:`RewardEpropTrainer.evaluate`) runs the same build with learning frozen (learning rate 0)
and greedy actions, from a fresh network and environment with the current weights, until enough episodes
have ended.
"""

import dataclasses
import functools

import brian2 as b2
import numpy as np
import pandas as pd
from brian2.units.fundamentalunits import DIMENSIONLESS

from brian2learn.plasticity.eprop_reward import RewardEpropAgent, connectivity
from brian2learn.simulation.devices import DeviceRunner, RunnerHolder
from brian2learn.simulation.files import checked_arrays, load_parameters, save_parameters
from brian2learn.tasks.environments import environment_class
from brian2learn.training.loop import Chunk, TrainingDivergedError, TrainingLoop, check_count

#: Name prefix of the agent's Brian2 objects.
AGENT = "reward_eprop"
#: The action uniforms are drawn in blocks of this many environment steps, each from its own seeded stream.
UNIFORM_BLOCK = 4096


def weight_shapes(config):
    """Shapes of the weight matrices (``[post, pre]``) and feedback of ``config``."""
    return {"w_in": (config.n_rec, config.n_in), "w_rec": (config.n_rec, config.n_rec),
            "w_pi": (config.n_actions, config.n_rec), "w_v": (1, config.n_rec),
            "B_pi": (config.n_rec, config.n_actions), "B_v": (config.n_rec,)}


class RewardEpropTrainer(RunnerHolder):
    """Train a reward-based e-prop agent in its environment, ``steps_per_run`` environment steps per run.

    Parameters
    ----------
    config : RewardEpropConfig
    weights : dict
        ``w_in``, ``w_rec`` (volt, as floats), ``w_pi``, ``w_v``, ``B_pi``, ``B_v``
        (:func:`~brian2learn.plasticity.eprop_reward.initial_weights`).
    make_environment : callable or str
        ``make_environment()`` builds the environment's Brian2 objects (called inside the build); or the name of
        an environment of :mod:`brian2learn.tasks.environments`, built with ``environment_options``.
    environment_stimuli : callable or None
        ``environment_stimuli(first_step, n_steps, evaluation)`` -> the environment's arrays for a run (its
        ``stimulus_arrays``); ``None``: the environment's built values.
    steps_per_run : int
        Environment steps per run of the build.
    seed : int
        Seed of the action uniforms (training and evaluation use separate streams).
    device : {'cpp_standalone', 'runtime'}
    directory : str or None
    record : bool
        Record spikes, inputs and the environment's state (for an example episode's figure).
    environment_options : dict or None
        Arguments of a named environment's class.
    """

    def __init__(self, config, weights, make_environment, environment_stimuli=None, steps_per_run=2000, seed=1,
                 device="cpp_standalone", directory=None, record=False, environment_options=None):
        if isinstance(make_environment, str):
            make_environment = functools.partial(environment_class(make_environment), **(environment_options or {}))
        self.config = config
        self.steps_per_run = check_count("steps_per_run", steps_per_run)
        self.seed = int(seed)
        self.weights = checked_arrays(weights, weight_shapes(config), "weights")
        self.environment_stimuli = environment_stimuli
        self.connectivity = connectivity(config)
        self.step_count = 0
        self.episodes = []
        #: Learning rate of the next training runs (a schedule sets it between calls of :meth:`train`).
        self.learning_rate = float(config.learning_rate)
        self.state = self._weight_values(self.weights)
        self.last_model = None

        def build():
            return RewardEpropAgent(config, make_environment(), self.steps_per_run, record=record, name=AGENT)

        self.runner = DeviceRunner(build, device=device, directory=directory)
        self._loop = TrainingLoop(self._step, self.steps_per_run, unit="step", save_weights=self._save_weights,
                                  hint="lower the learning rate or the reward scale")

    # -- values of a run ----------------------------------------------------------------------------------
    def _weight_values(self, weights):
        conn, cfg = self.connectivity, self.config
        symmetric = float(cfg.feedback == "symmetric")
        w_pi = weights["w_pi"][conn["pi"][1], conn["pi"][0]]
        w_v = weights["w_v"][0, conn["v"][0]]
        b_pi = w_pi if symmetric else weights["B_pi"][conn["pi"][0], conn["pi"][1]]
        b_v = w_v if symmetric else weights["B_v"][conn["v"][0]]
        return {
            f"{AGENT}_synapses_in.w": weights["w_in"][conn["in"][1], conn["in"][0]] * b2.volt,
            f"{AGENT}_synapses_rec.w": weights["w_rec"][conn["rec"][1], conn["rec"][0]] * b2.volt,
            f"{AGENT}_synapses_pi.w": w_pi, f"{AGENT}_synapses_pi.B": b_pi,
            f"{AGENT}_synapses_v.w": w_v, f"{AGENT}_synapses_v.B": b_v,
            f"{AGENT}_synapses_pi.fb_symmetric": np.full(len(w_pi), symmetric),
            f"{AGENT}_synapses_v.fb_symmetric": np.full(len(w_v), symmetric),
        }

    def _mode_values(self, learning_rate, greedy):
        conn = self.connectivity
        values = {f"{AGENT}_synapses_{key}.lr": np.full(len(conn[key][0]), float(learning_rate))
                  for key in ("in", "rec", "pi", "v")}
        values[f"{AGENT}_critic.greedy"] = np.array([float(greedy)])
        return values

    def _uniforms(self, first_step, n_steps, evaluation):
        """The uniforms of environment steps ``first_step ...``: one stream, however the steps are split into runs."""
        stream = 3 if evaluation else 2
        first_block, last_block = first_step // UNIFORM_BLOCK, (first_step + n_steps - 1) // UNIFORM_BLOCK
        values = np.concatenate([np.random.default_rng([self.seed, stream, block]).random(UNIFORM_BLOCK)
                                 for block in range(first_block, last_block + 1)])
        start = first_step - first_block * UNIFORM_BLOCK
        return values[start:start + n_steps]

    def _run(self, state, first_step, learning_rate, greedy, evaluation):
        stimuli = {"action_uniform": self._uniforms(first_step, self.steps_per_run, evaluation)}
        if self.environment_stimuli is not None:
            stimuli.update(self.environment_stimuli(first_step, self.steps_per_run, evaluation))
        model = self.runner.run({**state, **self._mode_values(learning_rate, greedy)}, stimuli)
        carried = {name: np.array(getattr(group, variable)[:], copy=True) * _unit_of(group, variable)
                   for name, (group, variable) in model.state_variables().items()}
        environment = model.environment
        limit = getattr(environment, "max_episodes", None)
        if limit is not None and float(np.max(environment.group.episode[:])) >= limit:
            raise ValueError(f"the environment ran out of episodes: its stimuli provide for {limit} (e.g. the rows "
                             "of the cart-pole's initial states); give it a larger table")
        returns = np.asarray(model.episode_monitor.last_return, dtype=float)
        ends = np.rint(np.asarray(model.episode_monitor.t / self.runner.model.env_dt)).astype(int)
        deltas = np.asarray(model.decision_monitor.delta, dtype=float)[0]
        return model, carried, returns, ends, deltas

    # -- training -----------------------------------------------------------------------------------------
    def train(self, n_steps, progress=None, run_dir=None):
        """Train for ``n_steps`` environment steps (whole runs: rounded up to a multiple of ``steps_per_run``).

        Returns
        -------
        pandas.DataFrame
            One row per finished episode: ``episode`` (counted from 0 over the training), ``step`` (the
            environment step that ended it, counted over the training), ``return``.
        """
        n_steps = check_count("n_steps", n_steps)
        n_runs = -(-n_steps // self.steps_per_run)
        try:
            self.state, _ = self._loop.run(self.state, n_runs * self.steps_per_run, first=self.step_count,
                                           run_dir=run_dir, progress=progress)
        except TrainingDivergedError as error:
            self.state = error.state
            raise
        return self.history()

    def history(self):
        """The finished episodes of the training so far (see :meth:`train`)."""
        return pd.DataFrame(self.episodes, columns=["episode", "step", "return"])

    def _step(self, state, n_now, first):
        model, carried, returns, ends, deltas = self._run(state, first, self.learning_rate, 0, False)
        rows = pd.DataFrame({"episode": len(self.episodes) + np.arange(len(returns)), "step": first + ends,
                             "return": returns})

        def accept():
            self.episodes.extend(rows.to_dict("records"))
            self.step_count = first + n_now
            self.last_model = model

        recent = rows["return"].tail(20)
        progress = {"episodes": float(len(self.episodes) + len(rows)),
                    "return": float(recent.mean()) if len(recent) else float("nan")}
        return Chunk(state=carried, history=rows, losses=np.abs(deltas), progress=progress, accept=accept)

    # -- evaluation ---------------------------------------------------------------------------------------
    def evaluate(self, n_episodes, max_steps=None):
        """Returns of ``n_episodes`` episodes with greedy actions and learning frozen, from a fresh network.

        The network and the environment start from their built values (the evaluation stream of the
        environment's stimuli and of the uniforms), with the current weights; runs continue until
        ``n_episodes`` have ended or ``max_steps`` environment steps have passed.
        """
        n_episodes = check_count("n_episodes", n_episodes)
        max_steps = max_steps or 1000 * n_episodes
        state = {**self.current_weight_values()}
        returns, first = [], 0
        while len(returns) < n_episodes and first < max_steps:
            model, state, run_returns, _, _ = self._run(state, first, 0.0, 1, True)
            returns.extend(run_returns.tolist())
            first += self.steps_per_run
            self.last_model = model
        return np.asarray(returns[:n_episodes], dtype=float)

    def current_weight_values(self):
        """The weights and feedback of the current state, as run values (the rest starts fresh)."""
        names = [name for name in self._weight_values(self.weights)]
        return {name: self.state[name] for name in names}

    def current_weights(self):
        """The current weight matrices (``[post, pre]``) and feedback, as in ``weights``."""
        conn, cfg, state = self.connectivity, self.config, self.state
        out = {name: np.zeros(shape) for name, shape in weight_shapes(cfg).items()}
        for key, name in (("in", "w_in"), ("rec", "w_rec"), ("pi", "w_pi")):
            out[name][conn[key][1], conn[key][0]] = np.asarray(state[f"{AGENT}_synapses_{key}.w"], dtype=float)
        out["w_v"][0, conn["v"][0]] = np.asarray(state[f"{AGENT}_synapses_v.w"], dtype=float)
        out["B_pi"][conn["pi"][0], conn["pi"][1]] = np.asarray(state[f"{AGENT}_synapses_pi.B"], dtype=float)
        out["B_v"][conn["v"][0]] = np.asarray(state[f"{AGENT}_synapses_v.B"], dtype=float)
        return out

    # -- saving -------------------------------------------------------------------------------------------
    def save_policy(self, path):
        """Write the current weights and the configuration to ``path`` (``.npz``), reloadable by :func:`load_policy`."""
        self._save_weights(path, self.state, self.step_count)

    def _save_weights(self, path, state, step):
        previous, self.state = self.state, state
        try:
            weights = self.current_weights()
        finally:
            self.state = previous
        model = {key: value for key, value in dataclasses.asdict(self.config).items() if key != "neuron_params"}
        save_parameters(path, {**weights, "step": step}, rule="reward-based e-prop", model=model,
                        neuron_params=self.config.neuron_params)


def load_policy(path):
    """The weights and the metadata saved by :meth:`RewardEpropTrainer.save_policy`: ``(weights, metadata)``."""
    arrays, metadata = load_parameters(path)
    missing = [name for name in ("w_in", "w_rec", "w_pi", "w_v", "B_pi", "B_v") if name not in arrays]
    if missing:
        raise ValueError(f"{path} is not a saved reward-based e-prop policy: it lacks {', '.join(missing)}")
    return {name: np.asarray(arrays[name], dtype=float) for name in ("w_in", "w_rec", "w_pi", "w_v", "B_pi",
                                                                        "B_v")}, metadata


def _unit_of(group, variable):
    dimensions = group.variables[variable].dim
    return 1 if dimensions is DIMENSIONLESS else b2.Quantity(1.0, dim=dimensions)
