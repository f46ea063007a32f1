"""Reward-based e-prop: its updates against BPTT and closed forms, its runs chained, both devices equal."""

import brian2 as b2
import numpy as np
import pytest

from brian2learn.models.eprop_neurons import BELLEC2020_EVIDENCE_ACCUMULATION
from brian2learn.plasticity import eprop_reward
from brian2learn.tasks import cartpole
from brian2learn.training.eprop_reward import RewardEpropTrainer, load_policy

BLOCK = 30  # network steps per environment step of the bandit
PARAMS = {**BELLEC2020_EVIDENCE_ACCUMULATION, "t_ref": 2 * b2.ms}


class BanditEnvironment:
    """A task of ``episode_length`` decisions written to the environment protocol: reward 1 for each action 1;
    the episode ends after its last decision's step, which also starts the next.

    Its inputs are prescribed spikes (a TimedArray ``bandit_inputs``).
    """

    STEP = """
    transition = int(episode >= 0)
    reward = transition*int(action > 0.5)
    steps = steps + transition
    terminated = int(steps >= episode_length)
    episode_finished = terminated
    last_return = terminated*(episode_return + reward) + (1 - terminated)*last_return
    episode_return = (1 - terminated)*(episode_return + reward)
    new_episode = int(episode < 0 or terminated > 0.5)
    episode = episode + new_episode
    steps = (1 - terminated)*steps
    done = 0
    """

    def __init__(self, inputs, n_actions, episode_length=1):
        self.env_dt = BLOCK * PARAMS["dt"]
        self.n_actions = n_actions
        self.record_variables = ("action", "reward")
        self.inputs = b2.TimedArray(inputs, dt=PARAMS["dt"], name="bandit_inputs")
        self.group = b2.NeuronGroup(
            1, "\n".join(f"{name} : 1" for name in eprop_reward.ENVIRONMENT_VARIABLES + ("steps", "episode_return")),
            events={"episode_end": "episode_finished > 0.5"}, dt=self.env_dt, name="bandit",
            namespace={"episode_length": episode_length})
        self.group.episode = -1
        self.group.run_regularly(self.STEP, dt=self.env_dt, when="before_groups", order=0, name="bandit_step")

    def stimulus_arrays(self):
        return {"bandit_inputs": self.inputs}

    def encoder(self, n_in):
        inputs = self.inputs

        class Prescribed:
            equations = ""
            code = "x = bandit_inputs(t, i)"
            namespace = {"bandit_inputs": inputs}

            @staticmethod
            def link(group, env_group):
                pass

        return Prescribed()


def bandit_trainer(config, weights, inputs, n_steps, episode_length=1, **options):
    return RewardEpropTrainer(config, weights, lambda: BanditEnvironment(inputs, config.n_actions, episode_length),
                              steps_per_run=n_steps, device="runtime", record=True, **options)


def spike_array(monitor, n_steps, n_neurons):
    spikes = np.zeros((n_steps, n_neurons))
    for neuron, time in zip(monitor.i, monitor.t):
        spikes[int(round(float(time / PARAMS["dt"]))), neuron] = 1
    return spikes


def first_block_spikes(model, n_rec):
    """The recurrent spikes of the first block of network steps, as a (BLOCK, n_rec) array."""
    spikes = np.zeros((BLOCK, n_rec))
    for neuron, time in zip(model.spike_monitor.i, model.spike_monitor.t):
        if time < BLOCK * PARAMS["dt"]:
            spikes[int(round(float(time / PARAMS["dt"]))), neuron] = 1
    return spikes


def test_one_decision_updates_every_weight_by_td_error_times_the_bptt_gradient():
    """With symmetric feedback and no recurrent weights e-prop is exact: the update after one rewarded decision
    is -eta delta dF/dW with F = sum_k (pi_k - 1[a = k]) y_k - c_V V at the decision, dF/dW by BPTT."""
    bptt = pytest.importorskip("brian2learn.plasticity.bptt")
    n_in, n_rec, n_actions = 5, 4, 3
    beta = np.array([0.0, 0.0, 0.2, 0.2]) * b2.volt  # two LIF, two ALIF neurons
    config = eprop_reward.RewardEpropConfig(n_in=n_in, n_rec=n_rec, n_actions=n_actions, neuron_params=PARAMS,
                                            beta=beta, feedback="symmetric", optimizer="gd", learning_rate=0.05,
                                            value_weight=0.7, discount=0.9)
    weights = eprop_reward.initial_weights(config, 3, readout_scale=1.0)
    weights["w_in"] *= 4.0  # enough drive for spikes in a block of 30 steps
    weights["w_rec"][:] = 0.0
    inputs = (np.random.default_rng(5).random((3 * BLOCK, n_in)) < 0.3).astype(float)
    trainer = bandit_trainer(config, weights, inputs, 3)
    trainer.train(3)
    model = trainer.last_model
    after = trainer.current_weights()

    # block 0 (the first episode's network steps) from zero state, as BPTT simulates it
    params = bptt.network_params_from({**PARAMS, "beta": beta}, n_rec)
    w_out = np.vstack([weights["w_pi"], weights["w_v"]])
    trial = bptt.simulate({"w_in": weights["w_in"], "w_rec": weights["w_rec"], "w_out": w_out},
                          inputs[:BLOCK], params)
    spikes = first_block_spikes(model, n_rec)
    np.testing.assert_array_equal(spikes, trial["z"])
    assert spikes.sum() >= 3
    y_end = trial["y"][-1]
    policy = np.exp(y_end[:n_actions]) / np.exp(y_end[:n_actions]).sum()
    action = int(np.asarray(model.action_monitor.action)[0, 1])  # chosen at the decision after block 0
    reward = float(action == 1)
    delta = float(np.asarray(model.decision_monitor.delta)[0, 2])
    assert delta == pytest.approx(reward - y_end[n_actions], abs=1e-12)  # terminal: r - V
    assert np.asarray(model.decision_monitor.delta)[0, 1] == 0  # no transition before the first action

    coefficients = np.concatenate([policy - np.eye(n_actions)[action], [-config.value_weight]])
    window = np.zeros(BLOCK)
    window[-1] = 1.0
    _, gradient = bptt.loss_and_gradients({"w_in": weights["w_in"], "w_rec": weights["w_rec"], "w_out": w_out},
                                          inputs[:BLOCK], trial["y"] - coefficients, window, params)
    eta = config.learning_rate
    np.testing.assert_allclose(after["w_in"] - weights["w_in"], -eta * delta * gradient["w_in"], atol=1e-12)
    off_diagonal = ~np.eye(n_rec, dtype=bool)
    np.testing.assert_allclose((after["w_rec"] - weights["w_rec"])[off_diagonal],
                               -eta * delta * gradient["w_rec"][off_diagonal], atol=1e-12)
    readouts = np.vstack([after["w_pi"], after["w_v"]]) - w_out
    np.testing.assert_allclose(readouts, -eta * delta * gradient["w_out"], atol=1e-12)
    assert np.abs(gradient["w_in"]).max() > 1e-3  # the check is not trivially zero
    # symmetric feedback follows the readout weights
    np.testing.assert_array_equal(after["B_pi"], after["w_pi"].T)


def test_entropy_bonus_moves_the_policy_readout_up_the_entropy_gradient():
    """Without reward signal (c_V = 0, lr on readouts only), a decision's entropy term changes W_pi by
    eta c_H dH/dy_k z~_j, dH/dy_k = -pi_k (y_k - sum_l pi_l y_l), computed here from the spikes."""
    n_in, n_rec, n_actions = 4, 3, 2
    config = eprop_reward.RewardEpropConfig(n_in=n_in, n_rec=n_rec, n_actions=n_actions, neuron_params=PARAMS,
                                            feedback="random", optimizer="gd", learning_rate=0.1,
                                            value_weight=0.0, entropy_weight=0.5)
    weights = eprop_reward.initial_weights(config, 4, readout_scale=2.0)
    weights["w_in"] *= 4.0
    inputs = (np.random.default_rng(6).random((2 * BLOCK, n_in)) < 0.3).astype(float)
    trainer = bandit_trainer(config, weights, inputs, 2)
    trainer.train(2)
    model = trainer.last_model
    kappa = np.exp(-float(PARAMS["dt"] / PARAMS["tau_out"]))
    filtered = np.zeros(n_rec)  # z~ at the end of block 0
    spikes = first_block_spikes(model, n_rec)
    for step in range(BLOCK):
        filtered = kappa * filtered + (1 - kappa) * spikes[step]
    assert spikes.sum() >= 2
    y = weights["w_pi"] @ filtered
    policy = np.exp(y) / np.exp(y).sum()
    d_entropy = -policy * (y - policy @ y)
    # decision 1 (delta = 0: no transition yet) carries only the entropy term
    expected = weights["w_pi"] + config.learning_rate * config.entropy_weight * np.outer(d_entropy, filtered)
    np.testing.assert_allclose(trainer.current_weights()["w_pi"], expected, atol=1e-12)


def cartpole_config(**changes):
    options = dict(n_in=8, n_rec=6, n_actions=2, neuron_params={**PARAMS, "beta": 0 * b2.volt},
                   beta=np.array([0, 0, 0, 0.2, 0.2, 0.2]) * b2.volt, discount=0.95, learning_rate=2e-2,
                   entropy_weight=0.01, reward_scale=0.1, c_reg=0.1)
    options.update(changes)
    return eprop_reward.RewardEpropConfig(**options)


def cartpole_trainer(config, steps_per_run, device, directory=None):
    table = cartpole.reset_uniforms(1, 200, 1)
    return RewardEpropTrainer(config, eprop_reward.initial_weights(config, 2, input_gain=2.0),
                              lambda: cartpole.CartPole(1, table, 4 * b2.ms),
                              lambda first, n, evaluation: {"reset_uniform": table}, steps_per_run=steps_per_run,
                              device=device, seed=7, directory=directory)


def test_runs_chain_into_one_simulation():
    """Three runs of 40 environment steps equal one of 120: the whole state goes from run to run."""
    config = cartpole_config()
    chained = cartpole_trainer(config, 40, "runtime")
    single = cartpole_trainer(config, 120, "runtime")
    chained_history, single_history = chained.train(120), single.train(120)
    assert len(single_history) >= 3  # episodes ended, some of them across run boundaries
    np.testing.assert_array_equal(chained_history.to_numpy(), single_history.to_numpy())
    for name, value in chained.current_weights().items():
        np.testing.assert_allclose(value, single.current_weights()[name], rtol=0, atol=1e-13, err_msg=name)
    assert np.abs(chained.current_weights()["w_in"] - eprop_reward.initial_weights(
        config, 2, input_gain=2.0)["w_in"]).max() > 1e-4  # it learned something


def test_closed_loop_is_the_same_on_both_devices(tmp_path):
    config = cartpole_config()
    results = {}
    for device in ("runtime", "cpp_standalone"):
        with cartpole_trainer(config, 150, device, directory=str(tmp_path / device)) as trainer:
            history = trainer.train(150)
            results[device] = (history, trainer.current_weights(), trainer.evaluate(2, max_steps=600))
            if device == "cpp_standalone":
                trainer.save_policy(tmp_path / "policy.npz")
    (h_run, w_run, e_run), (h_sa, w_sa, e_sa) = results["runtime"], results["cpp_standalone"]
    np.testing.assert_array_equal(h_run.to_numpy(), h_sa.to_numpy())
    for name in w_run:
        np.testing.assert_allclose(w_sa[name], w_run[name], rtol=1e-9, atol=1e-12, err_msg=name)
    np.testing.assert_array_equal(e_run, e_sa)
    saved, metadata = load_policy(tmp_path / "policy.npz")
    for name in saved:
        np.testing.assert_array_equal(saved[name], w_sa[name])
    assert metadata["rule"] == "reward-based e-prop"


def test_bad_input_is_refused_with_the_parameter_named():
    with pytest.raises(ValueError, match="'discount'"):
        cartpole_config(discount=0.0)
    with pytest.raises(ValueError, match="'discount'"):
        cartpole_config(discount=1.5)
    with pytest.raises(ValueError, match="'feedback'|unknown feedback"):
        cartpole_config(feedback="adaptive")
    config = cartpole_config(n_actions=3)
    trainer = cartpole_trainer(config, 10, "runtime")
    with pytest.raises(ValueError, match="2 actions but 'n_actions' is 3"):
        trainer.train(10)


def test_readouts_follow_the_discounted_actor_critic_over_episodes_of_several_steps():
    """Episodes of 3 decisions: the readout weights follow a step-by-step numpy replay of the rule from the
    recorded spikes and actions (TD errors bootstrapped with gamma V, G filtered with gamma within an episode
    and restarted with the next, the terminal step not bootstrapped)."""
    n_in, n_rec, n_actions, length, n_decisions = 5, 6, 2, 3, 10
    config = eprop_reward.RewardEpropConfig(n_in=n_in, n_rec=n_rec, n_actions=n_actions, neuron_params=PARAMS,
                                            optimizer="gd", learning_rate=0.2, value_weight=0.5, discount=0.8,
                                            reward_scale=2.0)
    weights = eprop_reward.initial_weights(config, 8, readout_scale=1.0)
    weights["w_in"] *= 4.0
    inputs = (np.random.default_rng(9).random((n_decisions * BLOCK, n_in)) < 0.3).astype(float)
    trainer = bandit_trainer(config, weights, inputs, n_decisions, episode_length=length)
    trainer.train(n_decisions)
    model = trainer.last_model
    spikes = spike_array(model.spike_monitor, n_decisions * BLOCK, n_rec)
    actions = np.asarray(model.action_monitor.action)[0].astype(int)  # action[n]: chosen at decision n
    kappa = np.exp(-float(PARAMS["dt"] / PARAMS["tau_out"]))
    w_pi, w_v = weights["w_pi"].copy(), weights["w_v"][0].copy()
    g_pi, g_v = np.zeros_like(w_pi), np.zeros_like(w_v)
    filtered, y, value, value_prev = np.zeros(n_rec), np.zeros(n_actions), 0.0, 0.0
    flags = {"transition": 0, "reward": 0.0, "terminated": 0, "new_episode": 1}
    steps_in_episode, deltas = 0, []
    for n in range(n_decisions):
        # decision n, before environment step n
        delta = flags["transition"] * (config.reward_scale * flags["reward"]
                                       + config.discount * (1 - flags["terminated"]) * value - value_prev)
        deltas.append(delta)
        w_pi -= config.learning_rate * delta * g_pi
        w_v -= config.learning_rate * delta * g_v
        policy = np.exp(y) / np.exp(y).sum()
        keep = 1 - flags["new_episode"]
        g_pi = keep * config.discount * g_pi + np.outer(policy - np.eye(n_actions)[actions[n]], filtered)
        g_v = keep * config.discount * g_v - config.value_weight * filtered
        value_prev = value
        # environment step n applies action n
        transition = int(n > 0)
        steps_in_episode += transition
        terminated = int(steps_in_episode >= length)
        flags = {"transition": transition, "reward": float(actions[n] == 1) * transition, "terminated": terminated,
                 "new_episode": int(n == 0 or terminated)}
        steps_in_episode *= 1 - terminated
        if flags["new_episode"]:
            filtered, y, value = np.zeros(n_rec), np.zeros(n_actions), 0.0
        for step in range(n * BLOCK, (n + 1) * BLOCK):
            filtered = kappa * filtered + (1 - kappa) * spikes[step]
            y = kappa * y + (1 - kappa) * (w_pi @ spikes[step])
            value = kappa * value + (1 - kappa) * (w_v @ spikes[step])
    assert spikes.sum() >= 10 and len(set(actions[1:])) == 2
    np.testing.assert_allclose(np.asarray(model.decision_monitor.delta)[0], deltas, atol=1e-12)
    assert np.count_nonzero(deltas) >= 6
    after = trainer.current_weights()
    np.testing.assert_allclose(after["w_pi"], w_pi, atol=1e-12)
    np.testing.assert_allclose(after["w_v"][0], w_v, atol=1e-12)
    assert np.abs(w_v - weights["w_v"][0]).max() > 1e-3


def test_cue_choice_rewards_the_side_with_more_cues():
    """The reward form of evidence accumulation, driven by prescribed choices: reward 1 exactly where the choice
    of a trial is its label (the side with more cues), scored at the start of the next trial."""
    from brian2learn.tasks.evidence_accumulation import CueChoice, evidence_accumulation_trials

    params = {"delay": 20 * b2.ms, "recall_duration": 10 * b2.ms, "cue_duration": 5 * b2.ms, "cue_gap": 5 * b2.ms}
    n_trials = 6
    env = CueChoice(n_trials, params=params)
    trials = evidence_accumulation_trials(n_trials, seed=4, params=params)
    choices = np.array([0, 1, 1, 0, 1, 0], dtype=float)
    for name, values in env.stimuli(trials).items():
        env.stimulus_arrays()[name].values[:] = values.reshape(env.stimulus_arrays()[name].values.shape)
    prescribed = b2.TimedArray(np.r_[choices, 0.0], dt=env.env_dt)
    env.group.run_regularly("action = prescribed(t - env_dt)", dt=env.env_dt, when="before_groups", order=-1)
    monitor = b2.EventMonitor(env.group, "episode_end", variables=["last_return"])
    b2.Network(env.group, monitor).run((n_trials + 1) * env.env_dt,
                                       namespace={"prescribed": prescribed, "env_dt": env.env_dt})
    np.testing.assert_array_equal(np.asarray(monitor.last_return), (choices == trials["labels"]).astype(float))
    assert 0 < np.sum(choices == trials["labels"]) < n_trials


def test_unknown_environment_is_refused():
    config = cartpole_config()
    with pytest.raises(ValueError, match="unknown environment 'mountain-car'; allowed: cartpole, cue-choice"):
        RewardEpropTrainer(config, eprop_reward.initial_weights(config, 1), "mountain-car", device="runtime")


def test_cartpole_study_quick_run_writes_its_results(tmp_path, summary_vocabulary):
    from brian2learn.studies import eprop_cartpole
    from brian2learn.studies.runs import load_run

    # one round of training and evaluation (quick mode's first 1000 of its 2000 steps)
    options = eprop_cartpole.Options(quick=True, feedback=("random",), device="runtime", max_steps=1000,
                                     out=str(tmp_path / "run"))
    summary = eprop_cartpole.run(options)
    summary_vocabulary(summary, spiking=True)
    cell = summary["cells"]["random-seed1"]
    assert cell["steps"] == 1000 and cell["episodes"] >= 10
    run = load_run(str(tmp_path / "run"))
    episodes = run.tables["episodes"]
    assert len(episodes) == cell["episodes"] and (episodes["return"] >= 8).all()  # no episode ends sooner
    assert episodes["return"].sum() <= 1000
    weights, metadata = load_policy(tmp_path / "run" / "policy_random-seed1.npz")
    assert weights["w_in"].shape == (50, 40) and metadata["rule"] == "reward-based e-prop"
    assert summary["example_episode"]["return"] >= 8
    for figure in ("returns.png", "example_episode.png"):
        assert (tmp_path / "run" / figure).stat().st_size > 10_000


def test_at_discrete_levels_the_agent_runs_the_rounded_weights():
    """With 3-bit weights in every group, the first block's spikes and the value at the decision are those of BPTT's
    network (JAX) run with the weights rounded in numpy."""
    bptt = pytest.importorskip("brian2learn.plasticity.bptt")
    from brian2learn.models.weight_levels import held

    n_in, n_rec, n_actions = 5, 4, 3
    base = dict(n_in=n_in, n_rec=n_rec, n_actions=n_actions, neuron_params=PARAMS, feedback="random",
                optimizer="gd", learning_rate=0.05)
    weights = eprop_reward.initial_weights(eprop_reward.RewardEpropConfig(**base), 3, readout_scale=1.0)
    weights["w_in"] *= 4.0
    levels = {group: (float(np.max(np.abs(weights[f"w_{group}"]))) / 2.0, 3.0) for group in ("in", "rec", "pi", "v")}
    config = eprop_reward.RewardEpropConfig(**base, weight_levels=levels)
    rounded = {name: held(weights[f"w_{name}"], *levels[name]) for name in levels}
    assert not np.allclose(rounded["in"], weights["w_in"])
    inputs = (np.random.default_rng(5).random((3 * BLOCK, n_in)) < 0.3).astype(float)
    trainer = bandit_trainer(config, weights, inputs, 3)
    trainer.train(3)
    model = trainer.last_model
    params = bptt.network_params_from(PARAMS, n_rec)
    trial = bptt.simulate({"w_in": rounded["in"], "w_rec": rounded["rec"],
                           "w_out": np.vstack([rounded["pi"], rounded["v"]])}, inputs[:BLOCK], params)
    spikes = first_block_spikes(model, n_rec)
    np.testing.assert_array_equal(spikes, trial["z"])
    assert spikes.sum() >= 3
    action = int(np.asarray(model.action_monitor.action)[0, 1])
    delta = float(np.asarray(model.decision_monitor.delta)[0, 2])
    assert delta == pytest.approx(float(action == 1) - trial["y"][-1][n_actions], abs=1e-12)
    with pytest.raises(ValueError, match="'weight_levels'"):
        eprop_reward.RewardEpropConfig(**base, weight_levels={"out": (0.1, 3.0)})
