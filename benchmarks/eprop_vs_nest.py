"""e-prop in brian2learn (cpp_standalone) against NEST 3.10, side by side, on NEST's sine-wave task.

Both simulators train the same network from the same initial weights, inputs and target
(:func:`brian2learn.tasks.nest_reference.nest_sine_wave_setup`: NEST's test set-up, 100
inputs, ``n_rec`` LIF neurons, 1 readout, 1000 steps, gradient descent, batch 1), one after
the other, each in its own process. For each the script prints the set-up time (C++ build,
or NEST's network construction), the wall time per training iteration, the loss at the last
iteration, the peak memory of the process and its children, and whether the two loss
curves agree (rtol 1e-5); then the ratio of NEST's time per iteration to brian2learn's. With
``--scaling`` it repeats this for 100, 400 and 1600 recurrent neurons (``--scaling-iterations``
each; the size of the main run reuses it) and prints a table with ns per plastic synapse per
step.

NEST runs when ``nest`` can be imported by ``--nest-python`` (default: this interpreter);
``pip install nest-simulator`` installs NEST 3.10. Usage::

    python benchmarks/eprop_vs_nest.py                       # 200 iterations, 100 neurons
    python benchmarks/eprop_vs_nest.py --nest-python /path/to/venv-with-nest/bin/python
    python benchmarks/eprop_vs_nest.py --scaling --scaling-iterations 10
    python benchmarks/eprop_vs_nest.py --iterations 100 --scaling --sizes 100 400 1600 3200 \
        --scaling-iterations 100 20 10 5
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

N_STEPS = 1000  # steps per iteration (1 ms each)


def _peak_rss_mb():
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024.0


def run_brian2learn(n_rec, n_iterations, threads=None):
    """Train in cpp_standalone; returns timings, losses and memory (run in a child process)."""
    from brian2learn.plasticity import eprop
    from brian2learn.tasks.nest_reference import nest_sine_wave_setup
    from brian2learn.training.eprop import EpropTrainer

    setup = nest_sine_wave_setup(n_rec=n_rec)
    config = eprop.EpropConfig(**setup["config"])
    empty = _empty_network_seconds(setup, config, n_iterations, threads)
    with tempfile.TemporaryDirectory() as directory:
        trainer = EpropTrainer(config, setup["weights"], setup["task"], feedback="random",
                               feedback_matrix=setup["feedback"], device="cpp_standalone",
                               iterations_per_run=n_iterations, directory=directory, threads=threads)
        start = time.perf_counter()
        trainer.train(n_iterations)
        first = time.perf_counter() - start
        build = trainer.runner.compile_seconds
        # A second training run re-uses the binary: no rebuild, only the simulation.
        start = time.perf_counter()
        trainer.train(n_iterations)
        second = time.perf_counter() - start
        builds = trainer.runner.n_builds
        trainer.close()
    history = trainer.history[n_iterations:]
    losses = [row["loss"] for row in trainer.history[:n_iterations]]
    # synaptic events of the timed iterations: each input spike reaches its n_rec synapses, each recurrent
    # spike its n_rec - 1 recurrent and n_out readout synapses; the event-driven gradient adds one addition
    # per presynaptic spike and plastic synapse at the trial's end (the same count, less the readout's)
    input_spikes = float(np.sum(setup["task"]["inputs"]))
    recurrent_spikes = [row["rate_hz"] * n_rec * N_STEPS * 1e-3 for row in history]  # 1-ms steps
    n_out = setup["task"]["targets"].shape[-1]
    forward = [input_spikes * n_rec + z * (n_rec - 1 + n_out) for z in recurrent_spikes]
    gradient = [input_spikes * n_rec + z * (n_rec - 1) for z in recurrent_spikes]
    return {"setup_s": build, "first_run_s": first, "per_iteration_s": second / n_iterations, "losses": losses,
            "builds_for_two_runs": builds, "peak_rss_mb": _peak_rss_mb(),
            "synaptic_events_per_iteration": float(np.mean(forward) + np.mean(gradient)),
            "empty_per_iteration_s": empty}


def _empty_network_seconds(setup, config, n_iterations, threads):
    """Seconds per iteration of the same build with no input spikes and zero weights: no spike and no synaptic
    event, every code object of a step still running (``benchmarks/eprop_overhead.py``'s empty step)."""
    from brian2learn.training.eprop import EpropTrainer

    task = {**setup["task"], "inputs": np.zeros_like(setup["task"]["inputs"])}
    zero = {name: np.zeros_like(value) for name, value in setup["weights"].items()}
    with tempfile.TemporaryDirectory() as directory:
        trainer = EpropTrainer(config, zero, task, feedback="random", feedback_matrix=setup["feedback"],
                               device="cpp_standalone", iterations_per_run=n_iterations, directory=directory,
                               threads=threads)
        try:
            trainer.train(n_iterations)  # the build
            start = time.perf_counter()
            trainer.train(n_iterations)
            return (time.perf_counter() - start) / n_iterations
        finally:
            trainer.close()


def jax_eprop_iteration(constants, n_steps, learning_rate, c_reg, rate_target_per_ms, dt_ms,
                        late_signal_inputs=None):
    """One e-prop training iteration in JAX (``jit`` once): the network and gradient of plasticity/eprop.py.

    The discrete LIF network of Bellec et al. (2020) (``v^t = alpha v^{t-1} + c (W_in x^t + W_rec z^{t-1}) -
    v_th z^{t-1}``, ``z^t = H(v^t - v_th)``, pseudo-derivative ``psi = gamma/v_th max(0, 1 - |v - v_th|/v_th)``,
    leaky readout ``y^t = kappa y^{t-1} + (1 - kappa) W_out z^t``) as a ``lax.scan`` over the steps; then the
    trial's e-prop gradient in the factorised form: with the learning signal ``L = delta B^T`` filtered backwards,
    ``Lt^t = (1 - kappa) sum_{t' >= t} kappa^{t'-t} L^{t'}`` (so that ``sum_t L^t ebar^t = sum_t Lt^t e^t``) and the
    rate regularisation signal ``L_reg``, ``D = (Lt + L_reg) psi`` and the gradient of input and recurrent weights
    is one dense product ``c D^T sbar`` with the presynaptic traces ``sbar`` (inputs ``x^t``, recurrent
    ``z^{t-1}``, low-passed with ``alpha``); the readout's is ``delta^T zbar_kappa``. Gradient descent, batch 1.
    ``late_signal_inputs`` (0/1 per input channel) drops ``L^{T-1} ebar^{T-1}`` from the gradients of those input
    synapses, as NEST 3.10 does (``EpropConfig.nest_late_learning_signal``).
    """
    import jax
    import jax.numpy as jnp

    alpha, kappa, c = constants["alpha"], constants["kappa"], constants["input_scale"]
    v_th, gamma = constants["v_th"], constants["gamma"]

    def low_pass(signal, factor, gain=1.0):
        def step(acc, s):
            acc = factor * acc + gain * s
            return acc, acc
        return jax.lax.scan(step, jnp.zeros(signal.shape[1], signal.dtype), signal)[1]

    def forward(w_in, w_rec, w_out, x):
        def step(carry, current_in):
            v, z, y = carry
            v = alpha * v + c * (current_in + w_rec @ z) - v_th * z
            u = (v - v_th) / v_th
            z = (u > 0).astype(v.dtype)
            y = kappa * y + (1 - kappa) * (w_out @ z)
            return (v, z, y), (z, gamma / v_th * jnp.maximum(0.0, 1.0 - jnp.abs(u)), y)
        n_rec, n_out = w_rec.shape[0], w_out.shape[0]
        init = (jnp.zeros(n_rec), jnp.zeros(n_rec), jnp.zeros(n_out))
        return jax.lax.scan(step, init, x @ w_in.T)[1]

    def iteration(weights, feedback, x, target, window):
        w_in, w_rec, w_out = weights
        z, psi, y = forward(w_in, w_rec, w_out, x)
        delta = window[:, None] * (y - target)
        loss = 0.5 * jnp.sum(window[:, None] * (y - target) ** 2)
        signal = delta @ feedback.T
        filtered = low_pass(signal[::-1], kappa, 1 - kappa)[::-1]
        rate = z.sum(axis=0) / (n_steps * dt_ms)
        regularisation = c_reg * (rate - rate_target_per_ms) / (n_steps * dt_ms)
        d = (filtered + regularisation[None, :]) * psi
        x_bar = low_pass(x, alpha)
        z_bar = low_pass(jnp.concatenate([jnp.zeros((1, z.shape[1])), z[:-1]]), alpha)
        grad_in = c * d.T @ x_bar
        if late_signal_inputs is not None:  # ebar^{T-1} = c sum_t (1 - kappa) kappa^{T-1-t} psi^t xbar^t
            decay = (1 - kappa) * kappa ** jnp.arange(n_steps - 1, -1, -1.0)
            e_bar_last = c * (decay[:, None] * psi).T @ x_bar
            grad_in = grad_in - signal[-1][:, None] * e_bar_last * late_signal_inputs[None, :]
        grad_rec = c * d.T @ z_bar * (1 - jnp.eye(z.shape[1]))
        grad_out = delta.T @ low_pass(z, kappa, 1 - kappa)
        return (w_in - learning_rate * grad_in, w_rec - learning_rate * grad_rec,
                w_out - learning_rate * grad_out), loss

    return jax.jit(iteration)


def run_jax(n_rec, n_iterations):
    """Train the JAX e-prop of :func:`jax_eprop_iteration` on the same set-up (float64, CPU)."""
    import brian2 as b2
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    from brian2learn.models.eprop_neurons import discrete_constants
    from brian2learn.tasks.nest_reference import nest_sine_wave_setup

    setup = nest_sine_wave_setup(n_rec=n_rec)
    config, task = setup["config"], setup["task"]
    params = config["neuron_params"]
    constants = {**discrete_constants(params), "v_th": float(params["v_th"] / b2.volt),
                 "gamma": float(params["gamma"])}
    x = jnp.asarray(task["inputs"][0])
    late = x[1] if config["nest_late_learning_signal"] else None  # the same trial comes next
    start = time.perf_counter()
    iteration = jax_eprop_iteration(constants, config["n_steps"], config["learning_rate"], config["c_reg"],
                                    float(config["f_target"] * b2.ms), float(params["dt"] / b2.ms), late)
    weights = tuple(jnp.asarray(setup["weights"][key], dtype=jnp.float64) for key in ("w_in", "w_rec", "w_out"))
    feedback = jnp.asarray(setup["feedback"], dtype=jnp.float64)
    target, window = jnp.asarray(task["targets"][0]), jnp.asarray(task["window"][0])
    iteration = iteration.lower(weights, feedback, x, target, window).compile()
    compile_s = time.perf_counter() - start
    losses = []
    start = time.perf_counter()
    for _ in range(n_iterations):
        weights, loss = iteration(weights, feedback, x, target, window)
        losses.append(loss)
    losses = [float(loss) for loss in losses]  # waits for the last iteration
    per_iteration = (time.perf_counter() - start) / n_iterations
    return {"setup_s": compile_s, "per_iteration_s": per_iteration, "losses": losses, "peak_rss_mb": _peak_rss_mb()}


def run_nest(n_rec, n_iterations):
    """Train NEST's e-prop on the same set-up; returns timings, losses and memory."""
    import nest

    from brian2learn.tasks.nest_reference import nest_sine_wave_setup

    setup = nest_sine_wave_setup(n_rec=n_rec)
    weights, task = setup["weights"], setup["task"]
    n_in, n_out = weights["w_in"].shape[1], weights["w_out"].shape[0]
    step = 1.0  # ms
    # NEST starts the input one step late and delays every connection by one step; the
    # readout sees a trial three steps after its input (see tasks.nest_reference).
    offset, extension = 4.0, 1.0
    sequence = float(N_STEPS) * step
    start = time.perf_counter()
    nest.ResetKernel()
    nest.set(resolution=step, total_num_virtual_procs=1, print_time=False, eprop_learning_window=sequence,
             eprop_reset_neurons_on_update=True, eprop_update_interval=sequence)
    nest.verbosity = nest.VerbosityLevel.WARNING
    v_th = 0.03
    recurrent_params = {"C_m": 1.0, "c_reg": 300.0, "E_L": 0.0, "f_target": 10.0, "I_e": 0.0,
                        "flush_event_send_interval": sequence, "regular_spike_arrival": False,
                        "surrogate_gradient_function": "piecewise_linear",
                        "surrogate_gradient_height": 0.3 / v_th, "surrogate_gradient_width": v_th,
                        "t_ref": 0.0, "tau_m": 30.0, "V_m": 0.0, "V_th": v_th}
    readout_params = {"C_m": 1.0, "E_L": 0.0, "I_e": 0.0, "loss": "mean_squared_error",
                      "regular_spike_arrival": False, "tau_m": 30.0, "V_m": 0.0}
    generators = nest.Create("spike_generator", n_in)
    relays = nest.Create("parrot_neuron", n_in)
    recurrent = nest.Create("eprop_iaf_bsshslm_2020", n_rec, recurrent_params)
    readout = nest.Create("eprop_readout_bsshslm_2020", n_out, readout_params)
    target_generator = nest.Create("step_rate_generator", n_out)
    recorder = nest.Create("multimeter", params={"interval": step, "record_from": ["readout_signal", "target_signal"],
                                                  "start": offset, "stop": offset + n_iterations * sequence})
    nest.SetDefaults("eprop_synapse_bsshslm_2020", {
        "optimizer": {"type": "gradient_descent", "batch_size": 1, "eta": 1e-4, "Wmin": -100.0, "Wmax": 100.0},
        "average_gradient": False})
    plastic = {"synapse_model": "eprop_synapse_bsshslm_2020", "delay": step, "tau_m_readout": 30.0}
    all_to_all = {"rule": "all_to_all", "allow_autapses": False}
    nest.Connect(generators, relays, {"rule": "one_to_one"}, {"synapse_model": "static_synapse", "delay": step})
    nest.Connect(relays, recurrent, all_to_all, {**plastic, "weight": weights["w_in"].astype(np.float32)})
    nest.Connect(recurrent, recurrent, all_to_all, {**plastic, "weight": weights["w_rec"].astype(np.float32)})
    nest.Connect(recurrent, readout, all_to_all, {**plastic, "weight": weights["w_out"].astype(np.float32)})
    nest.Connect(readout, recurrent, all_to_all, {"synapse_model": "eprop_learning_signal_connection_bsshslm_2020",
                                                  "delay": step, "weight": setup["feedback"].astype(np.float32)})
    nest.Connect(target_generator, readout, {"rule": "one_to_one"},
                 {"synapse_model": "rate_connection_delayed", "delay": step, "receptor_type": 2})
    nest.Connect(recorder, readout, all_to_all, {"synapse_model": "static_synapse", "delay": step})
    inputs = task["inputs"][0]
    sequence_starts = np.arange(n_iterations) * sequence + 1.0
    times = np.arange(N_STEPS) * step
    generators.set([{"spike_times": np.concatenate([times[inputs[:, k] > 0] + s for s in sequence_starts])
                     .astype(np.float32)} for k in range(n_in)])
    target_generator.set({"amplitude_times": np.arange(n_iterations * N_STEPS) * step + offset,
                          "amplitude_values": np.tile(task["targets"][0, :, 0], n_iterations)})
    construction = time.perf_counter() - start
    start = time.perf_counter()
    nest.Simulate(n_iterations * sequence + offset + extension)
    simulate = time.perf_counter() - start
    events = recorder.get("events")
    y = np.asarray(events["readout_signal"]).reshape(n_iterations, N_STEPS)
    y_target = np.asarray(events["target_signal"]).reshape(n_iterations, N_STEPS)
    losses = (0.5 * np.sum((y - y_target) ** 2, axis=1)).tolist()
    return {"setup_s": construction, "per_iteration_s": simulate / n_iterations, "losses": losses,
            "peak_rss_mb": _peak_rss_mb()}


def _child(simulator, python, n_rec, n_iterations, threads):
    """Run one simulator in a fresh process (separate peak memory); None if it cannot run."""
    command = [python, os.path.abspath(__file__), "--child", simulator, "--n-rec", str(n_rec),
               "--iterations", str(n_iterations)]
    if threads:
        command += ["--threads", str(threads)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        print(f"  {simulator} failed: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else '?'}")
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def _nest_python(requested):
    python = requested or sys.executable
    probe = subprocess.run([python, "-c", "import nest"], capture_output=True)
    return python if probe.returncode == 0 else None


def compare(n_rec, n_iterations, nest_python, threads, label="", with_jax=True):
    """The simulators on one network size; returns the result dicts of brian2learn, NEST and JAX."""
    ours = _child("brian2learn", sys.executable, n_rec, n_iterations, threads)
    theirs = _child("nest", nest_python, n_rec, n_iterations, None) if nest_python else None
    peer = _child("jax", sys.executable, n_rec, n_iterations, None) if with_jax else None
    n_synapses = n_rec * 100 + n_rec * (n_rec - 1) + n_rec  # plastic: input, recurrent, readout
    print(f"{label}{n_rec} recurrent neurons, {n_synapses} plastic synapses, {n_iterations} iterations")
    for name, result in (("brian2learn", ours), ("NEST 3.10", theirs), ("JAX e-prop", peer)):
        if result is None:
            continue
        ns = 1e9 * result["per_iteration_s"] / (n_synapses * N_STEPS)
        print(f"  {name:12s} set-up {result['setup_s']:7.2f} s   {1000 * result['per_iteration_s']:9.2f} ms/iteration"
              f"   {ns:6.2f} ns/synapse/step   loss[{n_iterations}] {result['losses'][-1]:.6f}"
              f"   peak RSS {result['peak_rss_mb']:.0f} MB")
    if ours is not None and theirs is not None:
        same = np.allclose(ours["losses"], theirs["losses"], rtol=1e-5)
        worst = float(np.max(np.abs(np.asarray(ours["losses"]) / np.asarray(theirs["losses"]) - 1)))
        print(f"  loss curves equal to rtol 1e-5: {same} (largest relative difference {worst:.1e}); "
              f"NEST/brian2learn time per iteration: {theirs['per_iteration_s'] / ours['per_iteration_s']:.1f}x")
    if ours is not None and peer is not None:
        first = min(5, n_iterations)
        worst = float(np.max(np.abs(np.asarray(peer["losses"][:first]) / np.asarray(ours["losses"][:first]) - 1)))
        print(f"  JAX's first {first} losses equal to brian2learn's to 1e-10: {worst < 1e-10} (largest relative "
              f"difference {worst:.1e}); JAX/brian2learn time per iteration: "
              f"{peer['per_iteration_s'] / ours['per_iteration_s']:.2f}x (JAX compile {peer['setup_s']:.2f} s)")
    if ours is not None:
        events = ours["synaptic_events_per_iteration"]
        print(f"  brian2learn: {events:.3g} synaptic events per iteration (forward and gradient), "
              f"{1e9 * ours['per_iteration_s'] / events:.2f} ns per event; the empty network (no spike, no event) "
              f"{1000 * ours['empty_per_iteration_s']:.2f} ms per iteration, "
              f"{1e6 * ours['empty_per_iteration_s'] / N_STEPS:.2f} us per step")
        print(f"  brian2learn builds for two training runs: {ours['builds_for_two_runs']}")
    return ours, theirs, peer


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--n-rec", type=int, default=100)
    parser.add_argument("--nest-python", default=None, help="a Python interpreter that can import nest")
    parser.add_argument("--threads", type=int, default=None, help="OpenMP threads of the brian2learn build")
    parser.add_argument("--scaling", action="store_true", help="also time the --sizes (default 100 400 1600)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 400, 1600], help="recurrent neurons of --scaling")
    parser.add_argument("--no-jax", action="store_true", help="leave out the JAX e-prop peer")
    parser.add_argument("--scaling-iterations", type=int, nargs="+", default=[10],
                        help="iterations of each --sizes entry (one value for all, or one per size)")
    parser.add_argument("--child", choices=("brian2learn", "nest", "jax"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.iterations < 1 or min(args.scaling_iterations) < 1:
        parser.error("iterations must be positive integers")
    if len(args.scaling_iterations) not in (1, len(args.sizes)):
        parser.error(f"--scaling-iterations takes one value or one per size ({len(args.sizes)})")
    per_size = dict(zip(args.sizes, args.scaling_iterations * (len(args.sizes) if len(args.scaling_iterations) == 1
                                                                  else 1)))
    if args.child:
        runner = {"brian2learn": run_brian2learn, "nest": run_nest, "jax": run_jax}[args.child]
        extra = {"threads": args.threads} if args.child == "brian2learn" else {}
        print(json.dumps(runner(args.n_rec, args.iterations, **extra)))
        return 0
    nest_python = _nest_python(args.nest_python)
    if nest_python is None:
        print("NEST not importable (pip install nest-simulator, or --nest-python): timing brian2learn only")
    main_run = compare(args.n_rec, args.iterations, nest_python, args.threads, with_jax=not args.no_jax)
    if args.scaling:
        rows = []
        for n_rec in args.sizes:
            if n_rec == args.n_rec and args.iterations >= per_size[n_rec]:
                ours, theirs, peer = main_run  # longer runs spread the binary's start-up over more iterations
            else:
                ours, theirs, peer = compare(n_rec, per_size[n_rec], nest_python, args.threads,
                                             label="scaling: ", with_jax=not args.no_jax)
            rows.append((n_rec, ours, theirs, peer))
        print("scaling table (ms per iteration; ns per plastic synapse per step; peer/brian2learn)")
        for n_rec, ours, theirs, peer in rows:
            n_synapses = n_rec * 100 + n_rec * (n_rec - 1) + n_rec
            seconds = ours["per_iteration_s"]
            line = (f"  {n_rec:5d} neurons  {len(ours['losses']):4d} its  brian2learn {1000 * seconds:9.2f} ms "
                    f"{1e9 * seconds / (n_synapses * N_STEPS):5.2f} ns "
                    f"({1e9 * seconds / ours['synaptic_events_per_iteration']:5.2f} ns/event, empty "
                    f"{1000 * ours['empty_per_iteration_s']:.1f} ms)")
            if theirs is not None:
                line += (f"   NEST {1000 * theirs['per_iteration_s']:9.2f} ms "
                         f"{1e9 * theirs['per_iteration_s'] / (n_synapses * N_STEPS):5.2f} ns"
                         f"   {theirs['per_iteration_s'] / ours['per_iteration_s']:5.1f}x")
            if peer is not None:
                line += (f"   JAX {1000 * peer['per_iteration_s']:9.2f} ms "
                         f"{1e9 * peer['per_iteration_s'] / (n_synapses * N_STEPS):5.2f} ns"
                         f"   {peer['per_iteration_s'] / ours['per_iteration_s']:5.2f}x")
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
