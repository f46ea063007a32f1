"""The cart-pole as Brian2 code against gymnasium's CartPole-v1: same states, same ends of episodes."""

import brian2 as b2
import numpy as np
import pytest

from brian2learn.simulation.devices import DeviceRunner
from brian2learn.tasks import cartpole

gym = pytest.importorskip("gymnasium")
ENV_DT = 1 * b2.ms


class ClosedLoop:
    """Cart-poles driven by a fixed rule (``policy``) or by prescribed actions, with their states recorded."""

    def __init__(self, uniforms, n_slots, policy=None, actions=None):
        self.env = cartpole.CartPole(1, uniforms, ENV_DT)
        self.n_slots = n_slots
        self.actions = b2.TimedArray(np.zeros((n_slots, 1)) if actions is None else actions, dt=ENV_DT,
                                     name="prescribed_actions")
        rule = policy or "action = prescribed_actions(t, i)"
        self.agent = self.env.group.run_regularly(rule, dt=ENV_DT, when=cartpole.ENV_WHEN,
                                                  order=cartpole.ENV_ORDER - 1, name="agent")
        self.monitor = b2.StateMonitor(self.env.group, list(cartpole.STATE) + ["done", "terminated", "episode"],
                                       record=True, when=cartpole.ENV_WHEN, order=cartpole.ENV_ORDER + 1,
                                       name="env_monitor")
        self.network = b2.Network(self.env.group, self.monitor)

    def run(self):
        self.network.run(self.n_slots * ENV_DT, namespace={"prescribed_actions": self.actions})

    def state_variables(self):
        return {}

    def stimulus_arrays(self):
        return {"prescribed_actions": self.actions}


def gym_episodes(uniforms, n_episodes, choose):
    """States after every step and the end of each episode in gymnasium, from the given initial states."""
    env = gym.make("CartPole-v1")
    episodes = []
    for episode in range(n_episodes):
        env.reset(seed=episode)
        env.unwrapped.state = uniforms[episode].copy()
        states, actions = [uniforms[episode].copy()], []
        while True:
            action = choose(env.unwrapped.state, len(actions))
            _, reward, terminated, truncated, _ = env.step(action)
            assert reward == 1.0
            actions.append(action)
            states.append(np.array(env.unwrapped.state, dtype=float))
            if terminated or truncated:
                episodes.append({"states": np.array(states), "actions": actions, "terminated": terminated})
                break
    return episodes


def brian2_episodes(monitor, n_episodes):
    """Split the recorded slots into episodes: a reset slot, then one slot per step up to ``done``."""
    state = np.stack([np.asarray(getattr(monitor, name))[0] for name in cartpole.STATE], axis=1)
    done, terminated = np.asarray(monitor.done)[0], np.asarray(monitor.terminated)[0]
    episodes, slot = [], 0
    for _ in range(n_episodes):
        end = slot + 1 + int(np.flatnonzero(done[slot + 1:] > 0.5)[0])
        episodes.append({"states": state[slot:end + 1], "terminated": bool(terminated[end] > 0.5)})
        slot = end + 1
    return episodes


@pytest.mark.parametrize("device", ["runtime", "cpp_standalone"])
def test_cartpole_follows_gymnasium_in_closed_loop_to_the_500_step_truncation(device, tmp_path):
    uniforms = cartpole.reset_uniforms(1, 3, seed=3)
    # a balancing rule (it keeps the pole up for all 500 steps) in both simulators, then pushing right
    # until the pole falls
    def balance(state, _):
        return int(state[2] + 0.5 * state[3] > 0)

    reference = gym_episodes(uniforms, 2, balance)
    reference += gym_episodes(uniforms[2:], 1, lambda state, _: 1)
    assert [len(e["actions"]) for e in reference[:2]] == [500, 500] and reference[2]["terminated"]
    n_slots = sum(len(e["actions"]) + 1 for e in reference)
    switch = 2 * 501  # the third episode pushes right
    policy = f"action = int(t >= {switch}*{float(ENV_DT)}*second)*1 + int(t < {switch}*{float(ENV_DT)}*second)*" \
             "int(theta + 0.5*theta_dot > 0)"
    directory = str(tmp_path / "build") if device == "cpp_standalone" else None
    with DeviceRunner(lambda: ClosedLoop(uniforms, n_slots, policy=policy), device=device,
                      directory=directory) as runner:
        model = runner.run()
        episodes = brian2_episodes(model.monitor, 3)
    # the runtime device computes gymnasium's operations in gymnasium's order: the same numbers to the last bit.
    # Brian2 compiles C++ with -ffast-math (fused multiply-adds): last-bit differences, which the unstable pole
    # amplifies about e^(3.8 t), reach 1e-9 after some 250 steps of a balanced episode
    compared = None if device == "runtime" else 200
    for ours, theirs in zip(episodes, reference):
        assert ours["terminated"] == theirs["terminated"]
        assert ours["states"].shape == theirs["states"].shape
        np.testing.assert_allclose(ours["states"][:compared], theirs["states"][:compared], rtol=0, atol=1e-9)
    if device == "runtime":
        np.testing.assert_array_equal(episodes[0]["states"], reference[0]["states"])


@pytest.mark.parametrize("device", ["runtime", "cpp_standalone"])
def test_cartpole_prescribed_actions_terminate_where_gymnasium_does(device, tmp_path):
    uniforms = cartpole.reset_uniforms(1, 6, seed=5)
    rng = np.random.default_rng(1)
    draws = rng.integers(0, 2, 2000)
    reference = gym_episodes(uniforms, 6, lambda state, k: int(draws[k]))
    slots = []
    for episode in reference:
        slots += [0] + episode["actions"]  # the reset slot takes no action
    # the action of a slot is read at that slot: prescribe slot by slot
    actions = np.array(slots, dtype=float)[:, None]
    directory = str(tmp_path / "build") if device == "cpp_standalone" else None
    with DeviceRunner(lambda: ClosedLoop(uniforms, len(slots), actions=actions), device=device,
                      directory=directory) as runner:
        episodes = brian2_episodes(runner.run().monitor, 6)
    for ours, theirs in zip(episodes, reference):
        assert ours["terminated"] and theirs["terminated"]
        assert len(ours["states"]) == len(theirs["states"])  # same termination step
        np.testing.assert_allclose(ours["states"], theirs["states"], rtol=0, atol=1e-9)


def test_bad_cartpole_input_is_refused():
    with pytest.raises(ValueError, match="'uniforms' must have shape"):
        cartpole.CartPole(2, np.zeros((3, 4)), ENV_DT)
    with pytest.raises(ValueError, match="'uniforms' must lie in"):
        cartpole.CartPole(1, np.full((3, 4), 0.2), ENV_DT)
