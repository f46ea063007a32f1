"""Data-parallel training on Dask: every batch split over K workers (training-example parallelism).

Any rule whose trainer exposes gradient sums runs here: a *rule* object
(:class:`EpropGradients`, :class:`RfloGradients`) says how a worker builds its share's trainer
(which must have ``set_learning_state(state)`` and ``gradient_sums(trials) -> (sums, metric
sums)``, both public), what the workers need of the learning state, and how the driver applies the
summed gradients (the optimizer of :mod:`brian2learn.plasticity.optimizers`);
:class:`DataParallelTraining` drives it on the one run loop (:mod:`brian2learn.training.loop`).
:class:`DataParallelEprop` and :class:`DataParallelRflo` are the two rules ready to use.

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

from brian2learn.plasticity import eprop, optimizers
from brian2learn.plasticity.rflo import check_task as check_rflo_task
from brian2learn.plasticity.rflo import check_weights as check_rflo_weights
from brian2learn.plasticity.rflo import initial_weights as initial_rflo_weights
from brian2learn.simulation.dask_builds import (
    WORKER_LOCK,
    build_key,
    release_worker_build,
    worker_build,
)
from brian2learn.simulation.dask_plugin import prepare_client
from brian2learn.training.eprop import (
    EpropTrainer,
    check_task_arrays,
    initial_learning_state,
    learning_state_matrices,
)
from brian2learn.training.loop import Chunk, TrainingDivergedError, TrainingLoop, check_count
from brian2learn.training.rflo import RfloTrainer

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


def _share_gradients(rule, state, source, iteration, iterations_per_draw, batch_size, index):
    """Task on a worker: the gradient sums of trials ``index`` of the batch of ``iteration`` with weights ``state``.

    ``rule`` is the share's rule (:class:`EpropGradients`, :class:`RfloGradients`): it names the
    structure of the worker's build and makes it; the build is kept between tasks
    (:func:`~brian2learn.simulation.dask_builds.worker_build`).
    """
    task_start = time.perf_counter()
    trials = rule.share_trials(source, iteration, iterations_per_draw, batch_size, index)
    with WORKER_LOCK:
        trainer, _ = worker_build(rule.build_key(), lambda: rule.make_worker(trials))
        trainer.set_learning_state(state)
        compiled = trainer.runner.compile_seconds
        start = time.perf_counter()
        sums, metrics = trainer.gradient_sums(trials)  # the first call builds (cpp_standalone)
        built = trainer.runner.compile_seconds - compiled
        compute = time.perf_counter() - start - built
    try:
        worker = get_worker().address
    except ValueError:
        worker = f"local:{os.getpid()}"
    return {"grads": sums, "metrics": metrics, "n_trials": len(index), "compute_seconds": compute,
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


class EpropGradients:
    """e-prop as a rule of data-parallel training: its gradient sums, its optimizer, its learning state.

    Travels to the workers (picklable); :meth:`for_share` gives the rule of one share of the batch.
    """

    metrics = METRICS

    def __init__(self, config, feedback="symmetric", device="cpp_standalone", threads=None):
        if feedback not in eprop.FEEDBACK_MODES:
            raise ValueError(f"unknown feedback mode {feedback!r}; allowed: {', '.join(eprop.FEEDBACK_MODES)}")
        self.config, self.feedback, self.device, self.threads = config, feedback, device, threads
        self.batch_size = config.batch_size
        self.connectivity = eprop.connectivity(config)

    def for_share(self, share_size):
        return EpropGradients(dataclasses.replace(self.config, batch_size=share_size), self.feedback, self.device,
                              self.threads)

    def check_task(self, task):
        """Fixed trials as arrays, or ``None`` for a sampler."""
        return None if callable(task) else check_task_arrays(task, self.config)

    def share_trials(self, source, iteration, iterations_per_draw, batch_size, index):
        return batch_trials(source, iteration, iterations_per_draw, batch_size, index)

    def build_key(self):
        return build_key("data-parallel-eprop", _config_key(self.config), self.feedback, self.device, self.threads)

    def make_worker(self, trials):
        config = self.config
        zeros = {"w_in": np.zeros((config.n_rec, config.n_in)), "w_rec": np.zeros((config.n_rec, config.n_rec)),
                 "w_out": np.zeros((config.n_out, config.n_rec))}
        feedback_matrix = None if self.feedback == "symmetric" else np.zeros((config.n_rec, config.n_out))
        return EpropTrainer(config, zeros, trials, feedback=self.feedback, feedback_matrix=feedback_matrix,
                            device=self.device, iterations_per_run=1, record_spikes=False, threads=self.threads)

    def initial_state(self, weights, feedback_matrix=None):
        """The learning state (synapse order, optimizer state) of initial weight matrices."""
        return initial_learning_state(self.config, self.connectivity, weights, self.feedback, feedback_matrix,
                                      gradients=False)

    @staticmethod
    def learning_state(state):
        """What the workers need: the weights and the feedback."""
        return {name: state[name] for name in LEARNING_STATE}

    def apply(self, state, grads, batch_size):
        return optimizer_step(self.config, state, grads, batch_size)

    def weights(self, state):
        return learning_state_matrices(state, self.config, self.connectivity)


class RfloGradients:
    """RFLO (Murray 2019) as a rule of data-parallel training: batch RFLO.

    Every trial of a batch runs with the same weights; the driver averages the trials' RFLO
    updates, :math:`\\Delta W = \\eta \\frac{1}{B} \\sum_n \\Delta W_n / \\eta` per weight group (gradient
    descent with the rates of ``config.learning_rates`` on the descent directions of
    :meth:`~brian2learn.training.rflo.RfloTrainer.gradient_sums`). A batch of one is online RFLO.
    """

    metrics = ("loss",)

    def __init__(self, config, task, batch_size, device="cpp_standalone"):
        self.config, self.task, self.device = config, task, device
        self.batch_size = check_count("batch_size", batch_size)
        rates = dict(zip(("w_in", "w_rec", "w_out"), config.learning_rates))
        self.rates = {name: rate for name, rate in rates.items() if rate > 0}
        self.spec = optimizers.OptimizerSpec(optimizer="gd", learning_rate=self.rates) if self.rates else None

    def for_share(self, share_size):
        return RfloGradients(self.config, self.task, share_size, self.device)

    def check_task(self, task):
        return None  # the task travels with the rule

    def share_trials(self, source, iteration, iterations_per_draw, batch_size, index):
        return len(index)  # the task's trials are all the same: a share is a number of trials

    def build_key(self):
        return build_key("data-parallel-rflo", repr(self.config), self.batch_size, self.device)

    def make_worker(self, n_trials):
        return RfloTrainer(self.config, initial_rflo_weights(self.config, 0), self.task, device=self.device,
                           trials_per_run=self.batch_size, record_output=False)

    def initial_state(self, weights, feedback_matrix=None):
        return {name: np.array(weights[name], dtype=float) for name in ("w_in", "w_rec", "w_out", "B", "h0")}

    @staticmethod
    def learning_state(state):
        return {name: state[name] for name in ("w_in", "w_rec", "w_out", "B", "h0")}

    def apply(self, state, grads, batch_size):
        if self.spec is None:
            return dict(state)
        params, _ = self.spec.step({name: state[name] for name in self.rates},
                                   {name: grads[name] for name in self.rates}, batch_size=batch_size)
        return {**state, **params}

    @staticmethod
    def weights(state):
        return {name: state[name] for name in ("w_in", "w_rec", "w_out", "B")}


class DataParallelTraining:
    """Train a rule with each batch split over ``n_workers`` Dask workers (the module docstring).

    Parameters
    ----------
    rule : EpropGradients or RfloGradients
        The rule: its gradient sums on the workers, its optimizer on the driver.
    state : dict
        Initial learning state (``rule.initial_state(...)``).
    task : dict, callable or None
        As for the rule's trainer: fixed trials (sent once to every worker) or a sampler
        ``task(draw, n_trials)`` that every worker calls itself; ``None`` when the rule holds it.
    client : distributed.Client, str or None
        A client, the address of a running scheduler, or ``None`` for a local cluster of
        ``n_workers`` single-threaded processes (closed by :meth:`close`).
    n_workers : int or None
        Workers to use (default: all workers of the cluster, or one per core for a local one).
    iterations_per_draw : int
        Iterations per draw of the sampler.
    """

    def __init__(self, rule, state, task=None, client=None, n_workers=None, iterations_per_draw=1):
        batch = rule.batch_size
        if n_workers is not None and (isinstance(n_workers, bool) or not isinstance(n_workers, (int, np.integer))
                                      or n_workers < 1):
            raise ValueError(f"'n_workers' must be a positive integer, got {n_workers!r}")
        if n_workers is not None and n_workers > batch:
            raise ValueError(f"'n_workers' ({n_workers}) must not exceed the batch size ({batch})")
        self.iterations_per_draw = check_count("iterations_per_draw", iterations_per_draw)
        self.rule = rule
        self.state = state
        fixed = rule.check_task(task) if task is not None else None
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
        wanted = min(wanted, batch)
        self.workers = available[:wanted]
        self.shares = np.array_split(np.arange(batch), len(self.workers))
        self._rules = [rule.for_share(len(share)) for share in self.shares]
        if fixed is not None:  # the fixed trials travel once, to every worker
            self._source = ("fixed", self.client.scatter([fixed], workers=self.workers, broadcast=True)[0])
        elif task is not None:  # every worker draws the batch itself: no trials travel
            self._source = ("sampler", task, uuid.uuid4().hex, getattr(rule, "config", None))
        else:
            self._source = ("rule",)
        self._loop = TrainingLoop(self._step, 1, unit="iteration")

    def weights(self):
        """Current weights (and feedback) as matrices."""
        return self.rule.weights(self.state)

    def step(self):
        """One iteration: gradients of the shares on the workers, their sum, one optimizer step.

        A share whose worker leaves the cluster (killed, out of memory) is run again on a live
        worker, preferably one that holds no other share (a restarted worker); its trials and
        weights are the same, so the result is unchanged.
        """
        start = time.perf_counter()
        weights = self.rule.learning_state(self.state)
        batch = self.rule.batch_size

        def submit(k):
            return self.client.submit(_share_gradients, self._rules[k], weights, self._source, self.iteration,
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
        grads = {key: sum(result["grads"][key] for result in results) for key in results[0]["grads"]}
        row = {"iteration": self.iteration}
        for name in self.rule.metrics:
            if name in results[0]["metrics"]:
                row[name] = sum(result["metrics"][name] for result in results) / batch
        if not np.isfinite(row["loss"]):
            raise TrainingDivergedError(f"training diverged: loss {row['loss']} at iteration {self.iteration}",
                                        self.iteration, row["loss"], None, state=self.state,
                                        history=pd.DataFrame([row]))
        self.state = self.rule.apply(self.state, grads, batch)
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
        """Train for ``n_iterations`` iterations on the run loop; return the history as a DataFrame.

        ``progress(iterations_done, n_iterations, row)`` is called after every iteration; a
        non-finite loss raises :class:`~brian2learn.training.loop.TrainingDivergedError` with the
        state before the iteration.
        """
        n_iterations = check_count("n_iterations", n_iterations)
        try:
            self.state, _ = self._loop.run(self.state, n_iterations, first=self.iteration, progress=progress)
        except TrainingDivergedError as error:
            self.state = error.state  # the weights of the last good iteration
            raise
        return pd.DataFrame(self.history)

    def _step(self, state, n_now, first):
        self.state = state
        try:
            row = self.step()
        except TrainingDivergedError as error:
            return Chunk(state=state, history=error.history, losses=np.array([error.loss]))
        return Chunk(state=self.state, history=pd.DataFrame([row]), losses=np.array([row["loss"]]), progress=row)

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


class DataParallelEprop(DataParallelTraining):
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
    client, n_workers, iterations_per_draw
        As for :class:`DataParallelTraining`.
    device : {'cpp_standalone', 'runtime'}
        Device of the workers' networks.
    threads : int or None
        OpenMP threads of each worker's build.

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
        rule = EpropGradients(config, feedback, device, threads)
        state = rule.initial_state(weights, feedback_matrix)
        self.config, self.feedback, self.device, self.threads = config, feedback, device, threads
        self.connectivity = rule.connectivity
        super().__init__(rule, state, task, client=client, n_workers=n_workers,
                         iterations_per_draw=iterations_per_draw)


class DataParallelRflo(DataParallelTraining):
    """Batch RFLO (:class:`RfloGradients`) with each batch of ``batch_size`` trials split over Dask workers.

    Parameters
    ----------
    config : RfloConfig
    weights : dict
        As for :class:`~brian2learn.training.rflo.RfloTrainer` (``w_in``, ``w_rec``, ``w_out``, ``B``, ``h0``).
    task : dict
        ``inputs`` (n_points, n_in) and ``targets`` (n_points, n_out); it travels with the rule.
    batch_size : int
        Trials per update (all with the same weights).
    client, n_workers
        As for :class:`DataParallelTraining`.
    device : {'cpp_standalone', 'runtime'}
    """

    def __init__(self, config, weights, task, batch_size, client=None, n_workers=None, device="cpp_standalone"):
        check_rflo_weights(config, weights)
        check_rflo_task(config, task)
        rule = RfloGradients(config, task, batch_size, device)
        super().__init__(rule, rule.initial_state(weights), None, client=client, n_workers=n_workers)
