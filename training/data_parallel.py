"""Data-parallel e-prop training on Dask: every batch split over K workers (training-example parallelism).

Daphne (Frasconi, Gori & Soda 1993, "DAPHNE: data parallelism neural network simulator", Int. J.
Mod. Phys. C) trained recurrent networks by BPTT with *training-example parallelism*: every
processor simulates different examples with the same weights, and the gradients are summed. The
same holds for e-prop (Bellec et al. 2020, Nat Commun 11:3625, doi:10.1038/s41467-020-17236-y)
and for any rule that sums a per-trial gradient over a batch, because the trials of a batch are
independent given the weights (every state is reset at the start of a trial). With the ``B``
trials of a batch split into shares :math:`S_1, \\dots, S_K`,

.. math::

    g = \\frac{1}{B} \\sum_{n=1}^{B} \\frac{\\partial E_n}{\\partial W}
      = \\frac{1}{B} \\sum_{k=1}^{K} G_k, \\qquad
    G_k = \\sum_{n \\in S_k} \\frac{\\partial E_n}{\\partial W},

where :math:`\\partial E_n / \\partial W` is the e-prop estimate of trial ``n`` (task and
firing-rate regularization terms, :mod:`brian2learn.plasticity.eprop`). Worker ``k`` keeps one
compiled network for its share (an :class:`~brian2learn.training.eprop.EpropTrainer` with
``batch_size = |S_k|``, one build per worker, kept between iterations by
:func:`brian2learn.simulation.dask_builds.worker_build`), sets the current weights
(``EpropTrainer.set_learning_state``), runs its trials with learning rate 0 and returns
:math:`G_k` (``EpropTrainer.gradient_sums``). The driver sums the :math:`G_k` in a fixed order and
applies the optimizer of the in-binary batch-boundary operation (:func:`optimizer_step`):

- gradient descent: :math:`\\Delta W = -\\eta\\, g`;
- Adam (Kingma & Ba 2015, arXiv:1412.6980): :math:`m \\leftarrow \\beta_1 m + (1-\\beta_1) g`,
  :math:`v \\leftarrow \\beta_2 v + (1-\\beta_2) g^2`, :math:`\\hat m = m/(1-\\beta_1^t)`,
  :math:`\\hat v = v/(1-\\beta_2^t)`, :math:`\\Delta W = -\\eta\\,\\hat m/(\\sqrt{\\hat v} + s_t\\epsilon)`
  with :math:`s_t = 1` (``kingma_ba``) or :math:`s_t = 1/\\sqrt{1-\\beta_2^t}` (``tensorflow``,
  :math:`\\Delta W = -\\eta_t\\, m/(\\sqrt v + \\epsilon)`);
- then input and recurrent weights are clipped to ``weight_clip``, and the feedback follows the
  readout: :math:`B = W_{out}^T` (symmetric), unchanged (random), or
  :math:`B \\leftarrow B + \\Delta W_{out}^T - \\lambda B` (adaptive, decay :math:`\\lambda`).

The new weights go to the workers with the next batch; the trials never travel per iteration
(each worker draws from the task's sampler, or holds the fixed trials). A sampler whose trials are
seeded one by one (:class:`~brian2learn.training.samplers.TrialwiseSampler`) lets each worker draw
only its share; any other sampler is called for the whole batch on every worker. Per iteration
the exchange is the weights out and ``K`` gradients back. The result equals single-process
training on the same trials (``EpropTrainer`` with ``iterations_per_run = iterations_per_draw``)
to rounding: only the order of the sums differs.
"""

import dataclasses
import os
import time
import uuid

import numpy as np
import pandas as pd
from distributed import Client, LocalCluster, get_worker, wait

from brian2learn.plasticity import eprop
from brian2learn.simulation.dask_builds import (
    WORKER_LOCK,
    build_key,
    prepare_client,
    release_worker_build,
    worker_build,
)
from brian2learn.training.eprop import EpropTrainer, TrainingDivergedError, check_task_arrays

SYNAPSE_GROUPS = ("in", "rec", "out")
LEARNING_STATE = ("w_in", "w_rec", "w_out", "B")
METRICS = ("loss", "reg_loss", "rate_hz", "error")
WORKER_CHECK_SECONDS = 1.0  # how often the driver checks, while it waits for the shares, that their workers live


def _config_key(config):
    """The structure of ``config`` as text (arrays written out in full)."""
    parts = []
    for item in dataclasses.fields(config):
        value = getattr(config, item.name)
        if isinstance(value, np.ndarray):
            value = (str(getattr(value, "dim", "")), np.asarray(value).tolist())
        elif isinstance(value, dict):
            value = sorted((k, repr(v)) for k, v in value.items())
        parts.append((item.name, repr(value)))
    return parts


_DRAWS = {}  # worker: the last draw of a sampler, by (run token, draw)


def batch_trials(source, iteration, iterations_per_draw, batch_size, index):
    """Trials ``index`` of the batch of ``iteration``, from ``source``.

    ``source`` is ``('fixed', (inputs, targets, window))`` (trial ``j`` of a draw uses sample
    ``j % n``) or ``('sampler', sampler, token, config)``: draw ``r = iteration // iterations_per_draw``
    is ``sampler(r, iterations_per_draw * batch_size)``, kept per ``token`` while its iterations
    last (each worker calls the sampler itself, so no trials travel). A sampler with a
    ``select(draw, n_trials, positions)`` method (:class:`~brian2learn.training.samplers.TrialwiseSampler`)
    draws only the trials asked for.
    """
    draw, within = divmod(iteration, iterations_per_draw)
    positions = within * batch_size + np.asarray(index)
    if source[0] == "fixed":
        arrays = source[1]
        positions = positions % arrays[0].shape[0]
    elif hasattr(source[1], "select"):
        _, sampler, _, config = source
        arrays = check_task_arrays(sampler.select(draw, iterations_per_draw * batch_size, positions), config)
        if arrays[0].shape[0] != len(positions):
            raise ValueError(f"the task sampler's select returned {arrays[0].shape[0]} trials, "
                             f"{len(positions)} were asked for")
        positions = np.arange(len(positions))
    else:
        _, sampler, token, config = source
        n_trials = iterations_per_draw * batch_size
        if (token, draw) not in _DRAWS:
            arrays = check_task_arrays(sampler(draw, n_trials), config)
            if arrays[0].shape[0] != n_trials:
                raise ValueError(f"the task sampler returned {arrays[0].shape[0]} trials, {n_trials} were asked for")
            _DRAWS.clear()
            _DRAWS[(token, draw)] = arrays
        arrays = _DRAWS[(token, draw)]
    inputs, targets, window = (array[positions] for array in arrays)
    return {"inputs": inputs, "targets": targets, "window": window}


def _share_gradients(spec, state, source, iteration, iterations_per_draw, batch_size, index):
    """Task on a worker: the gradient sums of trials ``index`` of the batch of ``iteration`` with weights ``state``."""
    task_start = time.perf_counter()
    trials = batch_trials(source, iteration, iterations_per_draw, batch_size, index)
    config = spec["config"]
    key = build_key("data-parallel-eprop", _config_key(config), spec["feedback"], spec["device"], spec["threads"])

    def factory():
        zeros = {"w_in": np.zeros((config.n_rec, config.n_in)), "w_rec": np.zeros((config.n_rec, config.n_rec)),
                 "w_out": np.zeros((config.n_out, config.n_rec))}
        feedback_matrix = None if spec["feedback"] == "symmetric" else np.zeros((config.n_rec, config.n_out))
        return EpropTrainer(config, zeros, trials, feedback=spec["feedback"], feedback_matrix=feedback_matrix,
                               device=spec["device"], iterations_per_run=1, record_spikes=False,
                               threads=spec["threads"])

    with WORKER_LOCK:
        trainer, _ = worker_build(key, factory)
        trainer.set_learning_state({name: state[name] for name in LEARNING_STATE})
        compiled = trainer.runner.compile_seconds
        start = time.perf_counter()
        sums, metrics = trainer.gradient_sums(trials)  # the first call builds (cpp_standalone)
        built = trainer.runner.compile_seconds - compiled
        compute = time.perf_counter() - start - built
    try:
        worker = get_worker().address
    except ValueError:
        worker = f"local:{os.getpid()}"
    return {"grads": sums, "metrics": metrics, "n_trials": trainer.n_trials, "compute_seconds": compute,
            "build_seconds": built, "task_seconds": time.perf_counter() - task_start,
            "worker": worker}


def optimizer_step(config, state, grad_sums, batch_size):
    """One update of the learning state, as the batch-boundary operation of :mod:`~brian2learn.plasticity.eprop`.

    The numpy form of the same optimizer (:func:`brian2learn.plasticity.eprop.optimizer_spec`,
    :meth:`brian2learn.plasticity.optimizers.OptimizerSpec.step`), then the feedback update.

    Parameters
    ----------
    config : EpropConfig
        ``optimizer``, ``learning_rate``, Adam constants, ``weight_clip``, ``feedback_decay``.
    state : dict
        Synapse-order arrays ``w_in``, ``w_rec``, ``w_out``, ``B``, ``fb_symmetric``,
        ``fb_adaptive`` and ``adam_m_X``, ``adam_v_X``, ``adam_k_X`` for X in in, rec, out
        (weights in volt as floats, as in ``EpropTrainer.state``).
    grad_sums : dict
        ``in``/``rec``/``out`` -> gradients summed over the ``batch_size`` trials of the batch.
    batch_size : int

    Returns
    -------
    dict
        The new state (module docstring for the equations).
    """
    spec = eprop.optimizer_spec(config)
    params = {key: state[f"w_{key}"] for key in SYNAPSE_GROUPS}
    opt_state = {part: {key: state[f"adam_{part}_{key}"] for key in SYNAPSE_GROUPS if f"adam_{part}_{key}" in state}
                 for part in ("m", "v", "k")}
    params, opt_state = spec.step(params, {key: grad_sums[key] for key in SYNAPSE_GROUPS}, opt_state,
                                  batch_size=batch_size)
    new = dict(state)
    for key in SYNAPSE_GROUPS:
        new[f"w_{key}"] = params[key]
        for part in ("m", "v", "k"):
            if key in opt_state[part]:
                new[f"adam_{part}_{key}"] = opt_state[part][key]
    deltas = opt_state["delta"]
    symmetric, adaptive = state["fb_symmetric"], state["fb_adaptive"]
    new["B"] = symmetric * new["w_out"] + (1 - symmetric) * (
        state["B"] + adaptive * (deltas["out"] - float(config.feedback_decay) * state["B"]))
    return new


class DataParallelEprop:
    """Train an e-prop network with each batch split over ``n_workers`` Dask workers.

    Parameters
    ----------
    config : EpropConfig
        ``batch_size`` is the whole batch; it is split into ``n_workers`` shares of sizes
        differing by at most one (``numpy.array_split``), share ``k`` always on worker ``k``.
    weights : dict
        Initial ``w_in`` (n_rec, n_in), ``w_rec`` (n_rec, n_rec) in volt as floats, ``w_out``
        (n_out, n_rec); the diagonal of ``w_rec`` is not connected.
    task : dict or callable
        As for :class:`~brian2learn.training.eprop.EpropTrainer`: fixed trials (trial ``j``
        of a draw uses sample ``j % n``), sent once to every worker; or a sampler
        ``task(draw, n_trials)``, deterministic in ``draw`` and picklable, which every worker
        calls itself (so that no trials travel per iteration); draw ``r`` holds the
        ``iterations_per_draw * batch_size`` trials of iterations ``r * iterations_per_draw``
        onwards (:func:`batch_trials`).
    feedback : {'symmetric', 'random', 'adaptive'}
    feedback_matrix : array or None
        ``B`` (n_rec, n_out) for the random and adaptive modes.
    client : distributed.Client, str or None
        A client, the address of a running scheduler, or ``None`` for a local cluster of
        ``n_workers`` single-threaded processes (closed by :meth:`close`).
    n_workers : int or None
        Workers to use (default: all workers of the cluster, or one per core for a local one).
    device : {'cpp_standalone', 'runtime'}
        Device of the workers' networks.
    threads : int or None
        OpenMP threads of each worker's build.
    iterations_per_draw : int
        Iterations per draw of the sampler (``EpropTrainer``'s ``iterations_per_run``).

    Attributes
    ----------
    history : list of dict
        Per iteration: ``iteration``, ``loss``, ``reg_loss``, ``rate_hz`` (``error`` with several
        readouts), ``wall_seconds`` (the whole iteration seen by the driver),
        ``compute_seconds`` (the slowest share's simulation), ``build_seconds`` (the slowest
        build, first iteration), ``worker_seconds`` (the slowest task: drawing its trials, setting
        the weights, build and simulation) and ``exchange_seconds`` (wall minus worker seconds:
        scheduling, transfer of weights and gradients, the optimizer step), and
        ``reassigned_shares`` (shares run again so far because their worker left the cluster).
    """

    def __init__(self, config, weights, task, feedback="symmetric", feedback_matrix=None, client=None,
                 n_workers=None, device="cpp_standalone", threads=None, iterations_per_draw=1):
        if feedback not in eprop.FEEDBACK_MODES:
            raise ValueError(f"unknown feedback mode {feedback!r}; allowed: {', '.join(eprop.FEEDBACK_MODES)}")
        if n_workers is not None and (isinstance(n_workers, bool) or not isinstance(n_workers, (int, np.integer))
                                      or n_workers < 1):
            raise ValueError(f"'n_workers' must be a positive integer, got {n_workers!r}")
        if n_workers is not None and n_workers > config.batch_size:
            raise ValueError(f"'n_workers' ({n_workers}) must not exceed the batch size ({config.batch_size})")
        if (isinstance(iterations_per_draw, bool) or not isinstance(iterations_per_draw, (int, np.integer))
                or iterations_per_draw < 1):
            raise ValueError(f"'iterations_per_draw' must be a positive integer, got {iterations_per_draw!r}")
        self.config = config
        self.feedback = feedback
        self.device = device
        self.threads = threads
        self.iterations_per_draw = int(iterations_per_draw)
        self.connectivity = eprop.connectivity(config)
        self.state = self._initial_state(weights, feedback, feedback_matrix)
        fixed = None if callable(task) else check_task_arrays(task, config)
        self.iteration = 0
        self.history = []
        self.reassigned = 0
        self._own = None
        if client is None:
            cluster = LocalCluster(n_workers=n_workers or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                                   dashboard_address=None)
            client = Client(cluster)
            self._own = cluster
        elif isinstance(client, str):
            client = Client(client, timeout=30)
            self._own = client
        self.client = prepare_client(client)
        available = sorted(self.client.scheduler_info()["workers"])
        wanted = n_workers or len(available)
        if len(available) < wanted:
            self.client.wait_for_workers(wanted, timeout=300)
            available = sorted(self.client.scheduler_info()["workers"])
        wanted = min(wanted, config.batch_size)
        self.workers = available[:wanted]
        self.shares = np.array_split(np.arange(config.batch_size), len(self.workers))
        self._specs = [{"config": dataclasses.replace(config, batch_size=len(share)), "feedback": feedback,
                        "device": device, "threads": threads} for share in self.shares]
        if fixed is None:  # every worker draws the batch itself: no trials travel
            self._source = ("sampler", task, uuid.uuid4().hex, config)
        else:  # the fixed trials travel once, to every worker
            self._source = ("fixed", self.client.scatter([fixed], workers=self.workers, broadcast=True)[0])

    def _initial_state(self, weights, feedback, feedback_matrix):
        cfg, conn = self.config, self.connectivity
        shapes = {"w_in": (cfg.n_rec, cfg.n_in), "w_rec": (cfg.n_rec, cfg.n_rec), "w_out": (cfg.n_out, cfg.n_rec)}
        matrices = {}
        for name, shape in shapes.items():
            value = np.asarray(weights[name], dtype=float)
            if value.shape != shape or not np.all(np.isfinite(value)):
                raise ValueError(f"'{name}' must be a finite array of shape {shape}, got shape {value.shape}")
            matrices[name] = value
        if feedback == "symmetric":
            b_matrix = matrices["w_out"].T
        else:
            if feedback_matrix is None:
                raise ValueError(f"feedback '{feedback}' needs a 'feedback_matrix' of shape (n_rec, n_out)")
            b_matrix = np.asarray(feedback_matrix, dtype=float)
            if b_matrix.shape != (cfg.n_rec, cfg.n_out) or not np.all(np.isfinite(b_matrix)):
                raise ValueError(f"'feedback_matrix' must be a finite array of shape {(cfg.n_rec, cfg.n_out)}")
        n_out_syn = len(conn["out"][0])
        state = {
            "w_in": eprop.matrix_to_synapses(matrices["w_in"], *conn["in"]),
            "w_rec": eprop.matrix_to_synapses(matrices["w_rec"], *conn["rec"]),
            "w_out": eprop.matrix_to_synapses(matrices["w_out"], *conn["out"]),
            "B": eprop.matrix_to_synapses(b_matrix.T, *conn["out"]),
            "fb_symmetric": np.full(n_out_syn, float(feedback == "symmetric")),
            "fb_adaptive": np.full(n_out_syn, float(feedback == "adaptive")),
        }
        for key in SYNAPSE_GROUPS:
            for var in ("adam_m", "adam_v", "adam_k"):
                state[f"{var}_{key}"] = np.zeros(len(conn[key][0]))
        return state

    def weights(self):
        """Current ``w_in``, ``w_rec``, ``w_out`` and feedback ``B`` (n_rec, n_out) as matrices."""
        conn, cfg = self.connectivity, self.config
        return {
            "w_in": eprop.synapses_to_matrix(self.state["w_in"], *conn["in"], (cfg.n_rec, cfg.n_in)),
            "w_rec": eprop.synapses_to_matrix(self.state["w_rec"], *conn["rec"], (cfg.n_rec, cfg.n_rec)),
            "w_out": eprop.synapses_to_matrix(self.state["w_out"], *conn["out"], (cfg.n_out, cfg.n_rec)),
            "B": eprop.synapses_to_matrix(self.state["B"], *conn["out"], (cfg.n_out, cfg.n_rec)).T,
        }

    def step(self):
        """One iteration: gradients of the shares on the workers, their sum, one optimizer step.

        A share whose worker leaves the cluster (killed, out of memory) is run again on a live
        worker, preferably one that holds no other share (a restarted worker); its trials and
        weights are the same, so the result is unchanged.
        """
        start = time.perf_counter()
        weights = {name: self.state[name] for name in LEARNING_STATE}
        batch = self.config.batch_size

        def submit(k):
            return self.client.submit(_share_gradients, self._specs[k], weights, self._source, self.iteration,
                                      self.iterations_per_draw, batch, self.shares[k], workers=[self.workers[k]],
                                      allow_other_workers=False, pure=False)

        pending = {k: submit(k) for k in range(len(self.shares))}
        results = [None] * len(self.shares)
        while pending:
            try:
                wait(list(pending.values()), timeout=WORKER_CHECK_SECONDS, return_when="FIRST_COMPLETED")
            except TimeoutError:  # nothing finished for a while: are the workers still there?
                live = self._live_workers()
                lost = [k for k in pending if self.workers[k] not in live]
            else:
                lost = []
            for k, future in list(pending.items()):
                if future.done():
                    results[k] = future.result()  # raises the share's error, if any
                    del pending[k]
            for k in lost:
                pending[k].cancel()
                self.workers[k] = self._replacement_worker(k)
                self.reassigned += 1
                pending[k] = submit(k)
        grads = {key: sum(result["grads"][key] for result in results) for key in SYNAPSE_GROUPS}
        row = {"iteration": self.iteration}
        for name in METRICS:
            if name in results[0]["metrics"]:
                row[name] = sum(result["metrics"][name] for result in results) / batch
        if not np.isfinite(row["loss"]):
            raise TrainingDivergedError(f"training diverged: loss {row['loss']} at iteration {self.iteration}",
                                        self.iteration, row["loss"], None)
        self.state = optimizer_step(self.config, self.state, grads, batch)
        compute = max(result["compute_seconds"] for result in results)
        build = max(result["build_seconds"] for result in results)
        on_worker = max(result["task_seconds"] for result in results)
        wall = time.perf_counter() - start
        row.update({"wall_seconds": wall, "compute_seconds": compute, "build_seconds": build,
                    "worker_seconds": on_worker, "exchange_seconds": wall - on_worker,
                    "reassigned_shares": self.reassigned})
        self.history.append(row)
        self.iteration += 1
        return row

    def _live_workers(self):
        return set(self.client.scheduler_info()["workers"])

    def _replacement_worker(self, k):
        """A live worker for share ``k``: one without a share if any (waits up to 5 min for one)."""
        live = sorted(self._live_workers())
        if not live:
            self.client.wait_for_workers(1, timeout=300)
            live = sorted(self._live_workers())
        free = [worker for worker in live if worker not in self.workers]
        return free[0] if free else live[k % len(live)]

    def train(self, n_iterations, progress=None):
        """Train for ``n_iterations`` iterations; return the history as a DataFrame.

        ``progress(iterations_done, n_iterations, row)`` is called after every iteration.
        """
        if isinstance(n_iterations, bool) or not isinstance(n_iterations, (int, np.integer)) or n_iterations < 1:
            raise ValueError(f"'n_iterations' must be a positive integer, got {n_iterations!r}")
        for done in range(1, n_iterations + 1):
            row = self.step()
            if progress is not None:
                progress(done, n_iterations, row)
        return pd.DataFrame(self.history)

    def close(self):
        """Release the workers' builds, and the cluster or client this object started."""
        if self.client is None:
            return
        try:
            self.client.run(release_worker_build, workers=self.workers)
        except Exception:  # noqa: BLE001  (workers already gone: nothing to release)
            pass
        if self._own is not None:
            if isinstance(self._own, LocalCluster):
                self.client.close()
            self._own.close()
        self.client = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
