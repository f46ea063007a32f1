"""Time per training epoch of the adaptive SRNN on the ECG task: compiled scan vs a per-step loop.

The model, loss and batch are those of the ``srnn-ecg`` study (4-36-6, batches of 64 sequences of 1301 steps,
10 batches per epoch). Timed in this process, after compilation (compile time printed apart):

- brian2learn's update (:class:`brian2learn.training.framewise.FramewiseTrainer`): forward, BPTT and Adam in
  one ``jit``-compiled function, the steps in a ``lax.scan``; in float32 (the studies' training) and float64;
- the structure of the authors' PyTorch script (a Python loop over the 1301 steps, every operation dispatched
  on its own, the gradient by reverse mode through the recorded operations), re-implemented in JAX without
  ``jit``: the same operations op by op. It is the fair peer we can run here (their script needs CUDA and
  PyTorch, which this machine does not have), and it shows what a per-step loop costs on a CPU.

Run::

    python benchmarks/srnn_training_speed.py [--repeats 5]
"""

import argparse
import time

import numpy as np


def time_compiled(dtype, x, y, repeats):
    from brian2learn.models import adaptive_srnn
    from brian2learn.plasticity import srnn_bptt
    from brian2learn.training.framewise import FramewiseTrainer

    architecture = adaptive_srnn.SrnnArchitecture(4, 36, 6)
    objective = srnn_bptt.SrnnObjective(architecture, srnn_bptt.initial_parameters(architecture, 1),
                                        srnn_bptt.SrnnTraining())
    trainer = FramewiseTrainer(objective, batch_size=64, seed=1, scored_from=10, dtype=dtype)
    start = time.perf_counter()
    trainer.train_epoch(x[:64], y[:64])  # compiles the update for this batch shape
    compile_seconds = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        trainer.train_epoch(x[:64], y[:64])
        times.append(time.perf_counter() - start)
    return float(np.median(times)), compile_seconds


def time_per_step_loop(x, y):
    """One update of the per-step structure (op-by-op JAX, no jit)."""
    import jax
    import jax.numpy as jnp

    from brian2learn.models import adaptive_srnn
    from brian2learn.plasticity import srnn_bptt

    jax.config.update("jax_enable_x64", False)
    architecture = adaptive_srnn.SrnnArchitecture(4, 36, 6)
    params = {k: jnp.asarray(v, dtype=jnp.float32) for k, v in
              srnn_bptt.initial_parameters(architecture, 1).items()}
    spike = srnn_bptt.spike_function(jax, "multi-gaussian")
    xs, labels = jnp.asarray(x[:64], dtype=jnp.float32), jnp.asarray(y[:64])

    def loss_fn(p):
        alpha_h, rho_h = jnp.exp(-1 / p["tau_m_h"]), jnp.exp(-1 / p["tau_adp_h"])
        alpha_o, rho_o = jnp.exp(-1 / p["tau_m_o"]), jnp.exp(-1 / p["tau_adp_o"])
        u_h = s_h = jnp.zeros((64, 36))
        b_h = jnp.full((64, 36), 0.01)
        u_o = s_o = jnp.zeros((64, 6))
        b_o = jnp.full((64, 6), 0.01)
        loss = 0.0
        for step in range(xs.shape[1]):
            current = xs[:, step] @ p["w_in"].T + s_h @ p["w_rec"].T + p["b_h"]
            b_h = rho_h * b_h + (1 - rho_h) * s_h
            theta_h = 0.01 + 0.0 * b_h
            u_h = alpha_h * u_h + (1 - alpha_h) * current - theta_h * s_h
            s_h = spike(u_h - theta_h)
            b_o = rho_o * b_o + (1 - rho_o) * s_o
            theta_o = 0.01 + 1.8 * b_o
            u_o = alpha_o * u_o + (1 - alpha_o) * (s_h @ p["w_out"].T + p["b_o"]) - theta_o * s_o
            s_o = spike(u_o - theta_o)
            if step >= 10:
                loss = loss - jnp.mean(jax.nn.log_softmax(u_o)[jnp.arange(64), labels[:, step]])
        return loss

    start = time.perf_counter()
    value, grads = jax.value_and_grad(loss_fn)(params)
    jax.block_until_ready(grads)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    from brian2learn.tasks.qtdb_ecg import load_qtdb

    x, y = load_qtdb("train")
    rows = {}
    for dtype in ("float32", "float64"):
        per_batch, compile_seconds = time_compiled(dtype, x, y, args.repeats)
        rows[f"scan+jit {dtype}"] = per_batch
        print(f"scan + jit, {dtype}: {1e3 * per_batch:.1f} ms per update of 64 sequences "
              f"({10 * per_batch:.2f} s per epoch of 10 batches; compile {compile_seconds:.1f} s)", flush=True)
    loop = time_per_step_loop(x, y)
    rows["per-step loop"] = loop
    print(f"per-step loop (op by op, float32): {1e3 * loop:.0f} ms per update ({10 * loop:.1f} s per epoch)")
    base = rows["scan+jit float32"]
    for name, seconds in rows.items():
        print(f"  {name:>18}: {seconds / base:7.1f} x the time of scan + jit float32")


if __name__ == "__main__":
    main()
