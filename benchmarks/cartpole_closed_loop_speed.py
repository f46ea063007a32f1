"""Closed-loop speed of a learning spiking agent on the cart-pole: the compiled loop against two Python loops.

The agent is reward-based e-prop (Bellec, Scherr, Subramoney, Hajek, Salaj, Legenstein & Maass 2020, "A solution
to the learning dilemma for recurrent networks of spiking neurons", Nat Commun 11:3625,
doi:10.1038/s41467-020-17236-y; :mod:`brian2learn.plasticity.eprop_reward`): an actor-critic in a recurrent LIF
network, deciding every ``k`` network steps and learning online at every decision. The environment is gymnasium's
``CartPole-v1``. The script measures environment steps per second and finished episodes per second of the *same*
agent (same :class:`~brian2learn.plasticity.eprop_reward.RewardEpropConfig`, same initial weights, learning on)
closed in a loop with the cart-pole in three ways:

1. **compiled closed loop** (the product's way): :class:`~brian2learn.training.eprop_reward.RewardEpropTrainer` in
   ``cpp_standalone`` with :class:`~brian2learn.tasks.cartpole.CartPole`, the environment as Brian2 code inside
   the simulation (gymnasium's equations, constants and order of operations), ``--steps-per-run`` environment
   steps per run of the binary, the whole state carried between runs by ``run_args``. The first run (code
   generation, compilation or the build cache, and its steps) is left out of the rate; its time and the compile
   time are reported separately, and ``--steps`` further steps are timed.
2. **one binary run per environment step**: the same agent network built once in ``cpp_standalone``
   (:class:`~brian2learn.simulation.devices.DeviceRunner`) with a *passive* environment group
   (:class:`PassiveCartPole`: the protocol's variables and the cart-pole state, no step code); each run is one
   environment step (``n_env_steps=1``). After a run, every variable of ``model.state_variables()`` is read back
   (as the trainer does), the action is read from the environment group, gymnasium's ``CartPole-v1`` is stepped in
   Python, and the next run starts from the read-back state with the environment's variables overwritten by
   gymnasium's state, reward and flags.
3. **runtime device with a network_operation**: the same agent on Brian2's runtime device with the passive group
   and a ``b2.network_operation(dt=env_dt, when='before_groups', order=0)`` that steps gymnasium with the action
   the agent just wrote and puts the new state and flags into the group: one ``network.run`` over all steps. The
   rate is timed from the operation's first call, so that code generation (reported separately) is left out.
   Code generation (``--codegen``): numpy by default; with ``cython`` the first run compiles every code object
   (about 2 minutes on a busy 2-core machine, cached in ``~/.cython`` afterwards), and the steps then ran about
   twice as fast as with numpy.

Why the comparison is fair: the three loops run the same Brian2 code for the agent (inputs, neurons, readouts,
eligibility traces, the decision and its Adam updates) with the same parameters and initial weights, in a single
thread on the CPU, and the same cart-pole dynamics (the in-simulation :class:`~brian2learn.tasks.cartpole.CartPole`
reproduces ``CartPole-v1``'s operations; variants 2 and 3 call gymnasium itself). Every episode starts from the
same pre-drawn initial state (:func:`~brian2learn.tasks.cartpole.reset_uniforms`; gymnasium's state is set to it
after ``reset``). The bookkeeping of variants 2 and 3 (reward, ``transition``, ``terminated``, ``done`` at the
500-step truncation, a reset step that shows the new episode's first state, ``episode_finished``) is that of
:data:`~brian2learn.tasks.cartpole.CARTPOLE_STEP`. Build and code-generation times are not in the rates.

Differences (none changes the work per step):

- Variant 2: a run's decision comes at its first time step, and Python can step gymnasium only after the run, so
  the environment's step comes after the ``k`` network steps of an environment step instead of before them. The
  network thus sees each state one environment step later than in variants 1 and 3 (it acts on the state
  before its last action took effect), and the TD error pairs a reward with the value of that earlier state.
  No cut of the unchanged agent into binary runs avoids the lag: the decision and the first network step that
  reads the environment's state fall in the same time step.
  Checked: this loop gives the weights (to 1e-15) and episodes of one runtime run in which a
  ``network_operation`` steps gymnasium after the last network step of every environment step.
- Variants 2 and 3 take all their action uniforms from the stream of the trainer's first run
  (``numpy.random.default_rng([seed, 2, 0])``), the trainer one stream per run; the compiled cart-pole computes
  in C++ what gymnasium computes in Python (the same operations, possibly different last bits). Checked: with the
  same uniforms, variant 3's loop reproduces the trainer's closed loop on the runtime device to the last bit
  (300 steps, 15 episodes, all weights equal). Trajectories of the timed variants still differ (variant 1 is
  timed after a run of learning, variant 2 lags): the variants are speed peers, not copies.
- Episodes per second depend on how long the episodes are, i.e. on how well the agent balances at that point of
  its learning (variant 1 is timed after a first run of learning, and over many more steps); environment steps per
  second is the measure of speed. All rates are wall-clock times: other load on the machine slows variant 2 most
  (each step starts a process that takes a few tens of ms of CPU time, and waits for a core every time).

Variants 1 and 2 each need their own ``cpp_standalone`` build, one per process: the script runs every variant
in a subprocess of its own (``--variant NAME``), which prints one JSON line, and prints the table.

    python benchmarks/cartpole_closed_loop_speed.py             # defaults: well under a minute per variant
    python benchmarks/cartpole_closed_loop_speed.py --quick     # a smoke test
"""

import argparse
import json
import os
import subprocess
import sys
import time

import brian2 as b2
import numpy as np
from brian2.units.fundamentalunits import DIMENSIONLESS

from brian2learn.models.eprop_neurons import BELLEC2020_EVIDENCE_ACCUMULATION
from brian2learn.plasticity import eprop_reward
from brian2learn.simulation.devices import DeviceRunner
from brian2learn.tasks import cartpole
from brian2learn.training.eprop_reward import RewardEpropTrainer

#: Name prefix of the agent's Brian2 objects (that of the trainer) and name of the passive environment group.
AGENT = "reward_eprop"
PASSIVE = "gym_cartpole"
#: Network steps per environment step (``env_dt = K * dt``, dt = 1 ms).
K = 10
VARIANTS = {
    "compiled": "compiled closed loop (standalone)",
    "per-step": "one binary run per env step",
    "runtime": "runtime + network_operation",
}
RESULT_PREFIX = "RESULT "


# ---------------------------------------------------------------------------------------------------------
# The agent: one configuration and one set of initial weights for all variants
# ---------------------------------------------------------------------------------------------------------

def agent_config():
    """The agent of the cart-pole example: 40 inputs (10 per state variable), 50 LIF neurons, 2 actions."""
    params = {**BELLEC2020_EVIDENCE_ACCUMULATION, "beta": 0 * b2.volt, "t_ref": 2 * b2.ms}
    return eprop_reward.RewardEpropConfig(n_in=40, n_rec=50, n_actions=2, neuron_params=params, discount=0.99,
                                          learning_rate=1e-3, entropy_weight=0.01, reward_scale=0.02)


def agent_weights(config, seed):
    return eprop_reward.initial_weights(config, seed, input_gain=0.6, recurrent_gain=0.5)


def env_dt(config):
    return K * config.dt


def run_values(config, weights):
    """Weights, feedback, learning rates and ``greedy = 0`` as run values of the agent's variables.

    The same values the trainer passes (``RewardEpropTrainer._weight_values`` and ``_mode_values``).
    """
    conn = eprop_reward.connectivity(config)
    symmetric = float(config.feedback == "symmetric")
    w_pi = weights["w_pi"][conn["pi"][1], conn["pi"][0]]
    w_v = weights["w_v"][0, conn["v"][0]]
    values = {
        f"{AGENT}_synapses_in.w": weights["w_in"][conn["in"][1], conn["in"][0]] * b2.volt,
        f"{AGENT}_synapses_rec.w": weights["w_rec"][conn["rec"][1], conn["rec"][0]] * b2.volt,
        f"{AGENT}_synapses_pi.w": w_pi, f"{AGENT}_synapses_v.w": w_v,
        f"{AGENT}_synapses_pi.B": w_pi if symmetric else weights["B_pi"][conn["pi"][0], conn["pi"][1]],
        f"{AGENT}_synapses_v.B": w_v if symmetric else weights["B_v"][conn["v"][0]],
        f"{AGENT}_synapses_pi.fb_symmetric": np.full(len(w_pi), symmetric),
        f"{AGENT}_synapses_v.fb_symmetric": np.full(len(w_v), symmetric),
        f"{AGENT}_critic.greedy": np.array([0.0]),
    }
    for key in ("in", "rec", "pi", "v"):
        values[f"{AGENT}_synapses_{key}.lr"] = np.full(len(conn[key][0]), float(config.learning_rate))
    return values


# ---------------------------------------------------------------------------------------------------------
# The environment of variants 2 and 3: a passive group, and gymnasium stepped in Python
# ---------------------------------------------------------------------------------------------------------

PASSIVE_EQS = """
x : 1                  # cart position (m), written from gymnasium
x_dot : 1              # cart velocity (m/s)
theta : 1              # pole angle (rad)
theta_dot : 1          # pole angular velocity (rad/s)
action : 1             # 0: push left, 1: push right (written by the agent)
reward : 1             # reward of the last step
transition : 1         # 1: the last step applied the agent's action (0: it started an episode)
terminated : 1         # 1 after a step that left the allowed region
done : 1               # 1 after the step that ended the episode
new_episode : 1        # 1: the last step started an episode
episode : 1            # index of the current episode (-1 before the first)
episode_finished : 1   # 1: the last step ended an episode
last_return : 1        # return of the last finished episode
"""
PASSIVE_EQS_NAMES = tuple(line.split(":")[0].strip() for line in PASSIVE_EQS.strip().splitlines())


class PassiveCartPole:
    """An environment group of the agent protocol (:mod:`brian2learn.tasks.cartpole`) without step code.

    Its variables are written from outside (gymnasium, in Python) between runs or by a ``network_operation``.
    """

    def __init__(self, env_dt, name=PASSIVE):
        self.group = b2.NeuronGroup(1, PASSIVE_EQS, dt=env_dt, events={"episode_end": "episode_finished > 0.5"},
                                    name=name)
        self.group.episode = -1
        self.group.done = 1  # the first step starts episode 0
        self.env_dt = env_dt
        self.n_actions = 2
        self.record_variables = cartpole.STATE + ("action",)

    def stimulus_arrays(self):
        return {}

    def encoder(self, n_in):
        if n_in % len(cartpole.STATE):
            raise ValueError(f"'n_in' must be a multiple of {len(cartpole.STATE)}, got {n_in}")
        return cartpole.PopulationCode(n_in // len(cartpole.STATE))


class GymnasiumCartPole:
    """gymnasium's ``CartPole-v1`` with the bookkeeping of :data:`brian2learn.tasks.cartpole.CARTPOLE_STEP`.

    :meth:`step` is one environment step: where the last step ended the episode it starts the next one (from
    ``uniforms[episode]``, reward 0, ``new_episode`` 1; the action is ignored), otherwise it applies the action.
    It returns the values of the passive group's variables.
    """

    def __init__(self, uniforms, seed):
        import gymnasium

        self.env = gymnasium.make("CartPole-v1")
        self.env.reset(seed=seed)
        self.uniforms = np.asarray(uniforms, dtype=float)
        self.values = {name: 0.0 for name in PASSIVE_EQS_NAMES}
        self.values.update(episode=-1.0, done=1.0)
        self.episode_return = 0.0
        self.returns = []  # of the finished episodes
        self.n_steps = 0

    def step(self, action):
        values = self.values
        if values["done"] > 0.5:
            episode = int(values["episode"]) + 1
            self.env.reset()
            state = self.uniforms[min(episode, len(self.uniforms) - 1)].copy()
            self.env.unwrapped.state = state.copy()
            self.episode_return = 0.0
            values.update(episode=float(episode), reward=0.0, transition=0.0, terminated=0.0, done=0.0,
                          new_episode=1.0)
        else:
            _, reward, terminated, truncated, _ = self.env.step(int(action))
            state = self.env.unwrapped.state
            self.episode_return += reward
            values.update(reward=float(reward), transition=1.0, terminated=float(terminated),
                          done=float(terminated or truncated), new_episode=0.0)
        values.update(zip(cartpole.STATE, (float(value) for value in state)))
        values["action"] = float(action)
        values["episode_finished"] = values["done"]
        if values["done"] > 0.5:
            values["last_return"] = self.episode_return
            self.returns.append(self.episode_return)
        self.n_steps += 1
        return values



def _unit_of(group, variable):
    dimensions = group.variables[variable].dim
    return 1 if dimensions is DIMENSIONLESS else b2.Quantity(1.0, dim=dimensions)


# ---------------------------------------------------------------------------------------------------------
# The three variants (each in a process of its own)
# ---------------------------------------------------------------------------------------------------------

def compiled_closed_loop(args, config, weights):
    """Variant 1: the trainer, ``steps_per_run`` steps per run; one run to build, then ``steps`` timed."""
    per_run = min(args.steps_per_run, args.steps)
    n_timed = -(-args.steps // per_run) * per_run  # the trainer trains whole runs
    table = cartpole.reset_uniforms(1, max(1000, (per_run + n_timed) // 2), args.seed)
    trainer = RewardEpropTrainer(config, weights, lambda: cartpole.CartPole(1, table, env_dt(config)),
                                 lambda first, n, evaluation: {"reset_uniform": table}, steps_per_run=per_run,
                                 seed=args.seed, device="cpp_standalone")
    marks = []

    def progress(done, total, metrics):
        marks.append((done, time.perf_counter(), trainer.runner.run_seconds))

    try:
        start = time.perf_counter()
        history = trainer.train(per_run + n_timed, progress=progress)
        (_, first_end, binary_first), (_, end, binary_end) = marks[0], marks[-1]
        timed = history[history["step"] >= per_run]
        return {"steps": n_timed, "seconds": end - first_end, "episodes": len(timed),
                "mean_return": float(timed["return"].mean()) if len(timed) else float("nan"),
                "binary_seconds": binary_end - binary_first, "first_run_seconds": first_end - start,
                "compile_seconds": trainer.runner.compile_seconds, "reused_build": trainer.runner.reused_build,
                "steps_per_run": per_run, "warm_up_steps": per_run}
    finally:
        trainer.close()


def per_step_runs(args, config, weights):
    """Variant 2: one binary run per environment step, gymnasium stepped in Python between runs."""
    n = args.steps_slow
    stepper = GymnasiumCartPole(cartpole.reset_uniforms(1, max(100, n), args.seed), args.seed)
    uniforms = np.random.default_rng([args.seed, 2, 0]).random(n + 1)
    runner = DeviceRunner(lambda: eprop_reward.RewardEpropAgent(config, PassiveCartPole(env_dt(config)), 1,
                                                                name=AGENT), device="cpp_standalone")

    def one_step(index, state):
        model = runner.run(state, {"action_uniform": uniforms[index:index + 1]})
        delta = np.asarray(model.decision_monitor.delta, dtype=float)
        if not np.all(np.isfinite(delta)):
            raise RuntimeError(f"non-finite TD error at environment step {index}")
        carried = {name: np.array(getattr(group, variable)[:], copy=True) * _unit_of(group, variable)
                   for name, (group, variable) in model.state_variables().items()}
        values = stepper.step(int(round(float(carried[f"{PASSIVE}.action"][0]))))
        for variable, value in values.items():
            carried[f"{PASSIVE}.{variable}"] = np.array([value])
        return carried

    try:
        start = time.perf_counter()
        state = one_step(0, run_values(config, weights))  # builds
        first_end, binary_first, episodes_first = time.perf_counter(), runner.run_seconds, len(stepper.returns)
        for index in range(1, n + 1):
            state = one_step(index, state)
        end = time.perf_counter()
        returns = stepper.returns[episodes_first:]
        return {"steps": n, "seconds": end - first_end, "episodes": len(returns),
                "mean_return": float(np.mean(returns)) if returns else float("nan"),
                "binary_seconds": runner.run_seconds - binary_first, "first_run_seconds": first_end - start,
                "compile_seconds": runner.compile_seconds, "reused_build": runner.reused_build,
                "warm_up_steps": 1}
    finally:
        runner.close()


def runtime_network_operation(args, config, weights):
    """Variant 3: the runtime device, gymnasium stepped by a network_operation; one run over all steps."""
    n = args.steps_slow
    stepper = GymnasiumCartPole(cartpole.reset_uniforms(1, max(100, n), args.seed), args.seed)
    uniforms = np.random.default_rng([args.seed, 2, 0]).random(n)
    first_call = []

    def build():
        environment = PassiveCartPole(env_dt(config))
        agent = eprop_reward.RewardEpropAgent(config, environment, n, name=AGENT)
        arrays = {name: environment.group.variables[name].get_value() for name in PASSIVE_EQS_NAMES}

        @b2.network_operation(dt=env_dt(config), when="before_groups", order=0, name="gymnasium_step")
        def gymnasium_step():
            if not first_call:
                first_call.append(time.perf_counter())
            values = stepper.step(int(round(float(arrays["action"][0]))))
            for name, value in values.items():
                arrays[name][0] = value

        agent.network.add(gymnasium_step)
        return agent

    runner = DeviceRunner(build, device="runtime", codegen_target=args.codegen)
    try:
        start = time.perf_counter()
        model = runner.run(run_values(config, weights), {"action_uniform": uniforms})
        end = time.perf_counter()
        group = model.environment.group
        if stepper.n_steps != n or float(group.x[0]) != stepper.values["x"]:
            raise RuntimeError("the network_operation did not step the environment once per environment step")
        delta = np.asarray(model.decision_monitor.delta, dtype=float)
        if not np.all(np.isfinite(delta)):
            raise RuntimeError("non-finite TD error")
        returns = stepper.returns
        return {"steps": n, "seconds": end - first_call[0], "episodes": len(returns),
                "mean_return": float(np.mean(returns)) if returns else float("nan"),
                "codegen_seconds": first_call[0] - start, "codegen": args.codegen}
    finally:
        runner.close()


RUNNERS = {"compiled": compiled_closed_loop, "per-step": per_step_runs, "runtime": runtime_network_operation}


# ---------------------------------------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------------------------------------

def run_variant(name, args):
    """Run one variant in this process and print its result as one JSON line."""
    config = agent_config()
    result = RUNNERS[name](args, config, agent_weights(config, args.seed))
    result["variant"] = name
    print(RESULT_PREFIX + json.dumps(result), flush=True)
    return result


def run_in_subprocess(name, args):
    """Run one variant in a fresh Python process (one cpp_standalone build per process); its result dict."""
    command = [sys.executable, os.path.abspath(__file__), "--variant", name, "--steps", str(args.steps),
               "--steps-per-run", str(args.steps_per_run), "--steps-slow", str(args.steps_slow),
               "--seed", str(args.seed), "--codegen", args.codegen]
    print(f"[{VARIANTS[name]}] ...", file=sys.stderr, flush=True)
    completed = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)
    for line in completed.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX):])
        print(line, file=sys.stderr)
    return {"variant": name, "error": f"exit status {completed.returncode}"}


def rates(result):
    seconds = result["seconds"]
    return result["steps"] / seconds, result["episodes"] / seconds


def print_table(results):
    config = agent_config()
    print(f"reward-based e-prop agent ({config.n_in} inputs, {config.n_rec} LIF, {config.n_actions} actions, "
          f"learning on) on CartPole-v1, {K} network steps of {float(config.dt / b2.ms):g} ms per environment step")
    print(f"{'variant':<37} {'env steps':>9} {'seconds':>9} {'steps/s':>10} {'episodes/s':>11}")
    for result in results:
        label = VARIANTS[result["variant"]]
        if "error" in result:
            print(f"{label:<37} failed ({result['error']})")
            continue
        steps_per_second, episodes_per_second = rates(result)
        print(f"{label:<37} {result['steps']:>9d} {result['seconds']:>9.2f} {steps_per_second:>10.1f} "
              f"{episodes_per_second:>11.2f}")
    by_name = {result["variant"]: result for result in results if "error" not in result}
    if "compiled" in by_name:
        compiled = rates(by_name["compiled"])[0]
        ratios = [f"compiled / {label}: {compiled / rates(by_name[name])[0]:.0f}x"
                  for name, label in (("per-step", "per-step runs"), ("runtime", "runtime")) if name in by_name]
        print("ratio " + " ; ".join(ratios))
    print()
    for name, result in by_name.items():
        details = f"episodes ended in the timed steps: {result['episodes']}, mean return {result['mean_return']:.1f}"
        building = "finding the cached binary" if result.get("reused_build") else "compiling"
        if name == "compiled":
            details += (f"; {result['steps_per_run']} steps per run; the first run (build and "
                        f"{result['warm_up_steps']} steps, not timed) took {result['first_run_seconds']:.1f} s, "
                        f"of which {building} {result['compile_seconds']:.1f} s; "
                        f"binary share of the timed time {result['binary_seconds'] / result['seconds']:.0%}")
        elif name == "per-step":
            details += (f"; the first run (build and 1 step, not timed) took {result['first_run_seconds']:.1f} s, "
                        f"of which {building} {result['compile_seconds']:.1f} s; "
                        f"binary share of the timed time {result['binary_seconds'] / result['seconds']:.0%}, "
                        f"{1e3 * result['seconds'] / result['steps']:.1f} ms per step")
        else:
            details += (f"; {result['codegen']} code generation before the first step "
                        f"{result['codegen_seconds']:.1f} s (not timed)")
        print(f"{VARIANTS[name]}: {details}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20000,
                        help="timed environment steps of the compiled closed loop (default 20000)")
    parser.add_argument("--steps-per-run", type=int, default=10000,
                        help="environment steps per binary run of the compiled closed loop (default 10000)")
    parser.add_argument("--steps-slow", type=int, default=200,
                        help="timed environment steps of the per-step runs and of the runtime device (default 200)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--codegen", choices=("numpy", "cython"), default="numpy",
                        help="code generation target of the runtime device (default numpy)")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke test: 2000 steps (1000 per run) and 30 slow steps")
    parser.add_argument("--variant", choices=tuple(VARIANTS), default=None,
                        help="run one variant in this process and print its result as a JSON line")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.steps_per_run, args.steps_slow = 2000, 1000, 30
    for name in ("steps", "steps_per_run", "steps_slow"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be a positive integer")
    if args.variant is not None:
        run_variant(args.variant, args)
        return 0
    results = [run_in_subprocess(name, args) for name in VARIANTS]
    print_table(results)
    return 1 if any("error" in result for result in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
