"""Data-parallel e-prop on a local Dask cluster of 2 workers against single-process training on the same trials,
and the driver's optimizer step against its closed form."""

import os
import signal
import threading
import time

import brian2 as b2
import numpy as np
import pytest

from brian2learn.models.eprop_neurons import BELLEC2020_EVIDENCE_ACCUMULATION
from brian2learn.plasticity import eprop
from brian2learn.training.data_parallel import DataParallelEprop, batch_trials, optimizer_step
from brian2learn.training.eprop import EpropTrainer
from brian2learn.training.samplers import TrialwiseSampler

N_IN, N_REC, N_OUT, N_STEPS = 6, 8, 2, 80
BATCH = 5  # split 3 + 2 over two workers
N_ITERATIONS = 5


def make_config():
    params = dict(BELLEC2020_EVIDENCE_ACCUMULATION, tau_a=60 * b2.ms, t_ref=3 * b2.ms)
    beta = np.where(np.arange(N_REC) % 2 == 0, 0.0, 0.2) * b2.volt  # half LIF, half ALIF
    return eprop.EpropConfig(n_in=N_IN, n_rec=N_REC, n_out=N_OUT, n_steps=N_STEPS, neuron_params=params, beta=beta,
                             loss="softmax", c_reg=5.0, optimizer="adam", learning_rate=2e-2, batch_size=BATCH,
                             weight_clip=(-1.2 * b2.volt, 1.2 * b2.volt), feedback_decay=0.05)


def make_weights(config):
    weights = eprop.initial_weights(config, 4)
    weights["w_rec"] *= 4.0  # enough recurrent drive to spike, and some weights beyond the clip
    return weights


def sampler(draw, n_trials):
    """Fresh trials per draw: sparse input spikes, a label read out in the last 20 steps."""
    rng = np.random.default_rng([11, draw])
    inputs = (rng.random((n_trials, N_STEPS, N_IN)) < 0.1).astype(float)
    labels = rng.integers(0, N_OUT, n_trials)
    targets = np.zeros((n_trials, N_STEPS, N_OUT))
    targets[np.arange(n_trials), :, labels] = 1.0
    window = np.zeros((n_trials, N_STEPS))
    window[:, -20:] = 1.0 / 20
    return {"inputs": inputs, "targets": targets, "window": window}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from distributed import Client, LocalCluster

    # Brian2's temporary files of the workers (a killed worker cannot remove its own) in the test's directory.
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                           env={"TMPDIR": str(tmp_path_factory.mktemp("workers"))})
    client = Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="module")
def reference():
    """Single-process training of the test network: (history, weights, initial weights, feedback matrix)."""
    config = make_config()
    weights = make_weights(config)
    feedback_matrix = eprop.random_feedback(config, 4)
    single = EpropTrainer(config, weights, sampler, feedback="adaptive", feedback_matrix=feedback_matrix,
                          device="runtime", iterations_per_run=1, record_spikes=False)
    history = single.train(N_ITERATIONS)
    expected = single.weights()
    single.close()
    return history, expected, weights, feedback_matrix


def assert_same_training(history, got, reference):
    expected_history, expected, weights, feedback_matrix = reference
    np.testing.assert_allclose(history["loss"], expected_history["loss"], rtol=1e-9)
    np.testing.assert_allclose(history["error"], expected_history["error"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(history["rate_hz"], expected_history["rate_hz"], rtol=1e-9)
    assert expected_history["rate_hz"].min() > 5, "the network must spike for the gradients to be meaningful"
    for name in ("w_in", "w_rec", "w_out", "B"):
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-6, atol=1e-12, err_msg=name)
    moved = np.abs(expected["w_rec"] - weights["w_rec"]).max()
    assert moved > 1e-2, "training must change the weights for the comparison to mean something"
    assert np.any(np.abs(weights["w_rec"]) > 1.2) and np.abs(got["w_rec"]).max() <= 1.2  # the clip acted
    assert not np.allclose(got["B"], feedback_matrix)  # the adaptive feedback moved


def test_two_workers_equal_single_process_training(client, reference):
    _, _, weights, feedback_matrix = reference
    with DataParallelEprop(make_config(), weights, sampler, feedback="adaptive", feedback_matrix=feedback_matrix,
                           client=client, n_workers=2, device="runtime") as parallel:
        history = parallel.train(N_ITERATIONS)
        got = parallel.weights()
        assert len(set(parallel.workers)) == 2 and [len(s) for s in parallel.shares] == [3, 2]
        assert parallel.reassigned == 0
    assert_same_training(history, got, reference)


def test_trialwise_sampler_lets_each_worker_draw_only_its_share(client, reference, tmp_path):
    """The same trials, drawn one by one (per-trial seeds): every worker draws only its own positions."""
    log = tmp_path / "draws.txt"

    def one_trial(draw, j):
        with open(log, "a") as handle:
            handle.write(f"{os.getpid()} {draw} {j}\n")
        batch = sampler(draw, BATCH)  # the test's sampler seeds per batch: take trial j of it
        return {name: batch[name][j] for name in ("inputs", "targets", "window")}

    trialwise = TrialwiseSampler(one_trial)
    whole = sampler(0, BATCH)
    np.testing.assert_array_equal(trialwise(0, BATCH)["inputs"], whole["inputs"])
    np.testing.assert_array_equal(trialwise.select(0, BATCH, [4, 1])["targets"], whole["targets"][[4, 1]])
    source = ("sampler", trialwise, "token", make_config())
    share = batch_trials(source, iteration=3, iterations_per_draw=1, batch_size=BATCH, index=np.array([3, 4]))
    np.testing.assert_array_equal(share["inputs"], sampler(3, BATCH)["inputs"][[3, 4]])
    log.unlink()

    _, _, weights, feedback_matrix = reference
    with DataParallelEprop(make_config(), weights, trialwise, feedback="adaptive", feedback_matrix=feedback_matrix,
                           client=client, n_workers=2, device="runtime") as parallel:
        history = parallel.train(N_ITERATIONS)
        got = parallel.weights()
    assert_same_training(history, got, reference)
    draws = [tuple(int(x) for x in line.split()) for line in log.read_text().splitlines()]
    assert sorted((draw, j) for _, draw, j in draws) == [(d, j) for d in range(N_ITERATIONS) for j in range(BATCH)]
    positions_by_worker = {}
    for pid, _, j in draws:
        positions_by_worker.setdefault(pid, set()).add(j)
    assert sorted(map(sorted, positions_by_worker.values())) == [[0, 1, 2], [3, 4]]


def test_killed_worker_costs_only_its_share(reference, tmp_path):
    """A worker killed (SIGKILL) while it simulates its share: the share runs again elsewhere, same result."""
    from distributed import Client, LocalCluster

    marker = tmp_path / "share.pid"

    def slow_sampler(draw, n_trials):
        if draw == 2 and not marker.exists():  # the first worker to draw batch 2 says who it is, and waits
            marker.write_text(str(os.getpid()))
            time.sleep(3.0)
        return sampler(draw, n_trials)

    def kill_when_marked():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if marker.exists() and marker.read_text():
                os.kill(int(marker.read_text()), signal.SIGKILL)
                return
            time.sleep(0.05)

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                           env={"TMPDIR": str(tmp_path)})
    client = Client(cluster)
    killer = threading.Thread(target=kill_when_marked, daemon=True)
    killer.start()
    _, _, weights, feedback_matrix = reference
    try:
        with DataParallelEprop(make_config(), weights, slow_sampler, feedback="adaptive",
                               feedback_matrix=feedback_matrix, client=client, n_workers=2,
                               device="runtime") as parallel:
            history = parallel.train(N_ITERATIONS)
            got = parallel.weights()
            reassigned = parallel.reassigned
    finally:
        client.close()
        cluster.close()
    killer.join(timeout=1)
    assert marker.exists() and not killer.is_alive()
    assert reassigned >= 1 and history["reassigned_shares"].iloc[1] == 0 and history["reassigned_shares"].iloc[2] >= 1
    assert_same_training(history, got, reference)


@pytest.mark.parametrize("form", ["kingma_ba", "tensorflow"])
def test_first_adam_step_is_a_sign_step_and_feedback_follows(form):
    """First Adam step: m_hat = g, v_hat = g^2, so dw = -lr g/(|g| + s eps) (s = 1/sqrt(1 - beta2) or 1)."""
    config = make_config()
    if not hasattr(config, "adam_epsilon_form") and form == "tensorflow":
        pytest.skip("this EpropConfig has no adam_epsilon_form")
    config.adam_epsilon_form = form
    rng = np.random.default_rng(0)
    sizes = {"in": 4, "rec": 3, "out": 2}
    state = {f"w_{k}": rng.normal(size=n) for k, n in sizes.items()}
    state.update({f"{v}_{k}": np.zeros(n) for k, n in sizes.items() for v in ("adam_m", "adam_v", "adam_k")})
    grads = {k: rng.normal(size=n) * 10.0 ** rng.integers(-9, 2, n) for k, n in sizes.items()}
    s = 1 / np.sqrt(1 - config.adam_beta2) if form == "tensorflow" else 1.0
    for mode in ("symmetric", "random", "adaptive"):
        state.update(B=rng.normal(size=2), fb_symmetric=np.full(2, float(mode == "symmetric")),
                     fb_adaptive=np.full(2, float(mode == "adaptive")))
        new = optimizer_step(config, state, grads, BATCH)
        for k in sizes:
            g = grads[k] / BATCH
            expected = state[f"w_{k}"] - config.learning_rate * g / (np.abs(g) + s * config.adam_epsilon)
            if k != "out":
                expected = np.clip(expected, -1.2, 1.2)
            np.testing.assert_allclose(new[f"w_{k}"], expected, rtol=1e-12)
            np.testing.assert_array_equal(new[f"adam_k_{k}"], 1)
        delta_out = new["w_out"] - state["w_out"]
        expected_b = {"symmetric": new["w_out"], "random": state["B"],
                      "adaptive": state["B"] + delta_out - config.feedback_decay * state["B"]}[mode]
        np.testing.assert_allclose(new["B"], expected_b, rtol=1e-12)


def test_gradient_descent_step():
    config = make_config()
    config.optimizer = "gd"
    state = {"w_in": np.array([0.5, -0.5]), "w_rec": np.array([1.19]), "w_out": np.array([0.1, 0.2]),
             "B": np.zeros(2), "fb_symmetric": np.ones(2), "fb_adaptive": np.zeros(2)}
    grads = {"in": np.array([5.0, -10.0]), "rec": np.array([-5.0]), "out": np.array([1.0, 0.0])}
    new = optimizer_step(config, state, grads, BATCH)
    np.testing.assert_allclose(new["w_in"], [0.5 - 0.02, -0.5 + 0.04])
    np.testing.assert_allclose(new["w_rec"], [1.2])  # 1.19 + 0.02, clipped at 1.2
    np.testing.assert_allclose(new["w_out"], [0.1 - 0.004, 0.2])
    np.testing.assert_allclose(new["B"], new["w_out"])


def test_bad_input(client):
    config = make_config()
    with pytest.raises(ValueError, match="n_workers"):
        DataParallelEprop(config, make_weights(config), sampler, client=client, n_workers=BATCH + 1)
    with pytest.raises(ValueError, match="feedback_matrix"):
        DataParallelEprop(config, make_weights(config), sampler, feedback="random", client=client)


def test_batch_trials_follow_the_trainers_trial_order():
    """Fixed trials: trial j of a draw is sample j % n; a sampler is called once per draw with all its trials."""
    from brian2learn.training.data_parallel import batch_trials

    fixed = tuple(np.arange(3 * k).reshape(3, k).astype(float) for k in (1, 1, 1))
    got = batch_trials(("fixed", fixed), iteration=3, iterations_per_draw=2, batch_size=2, index=[0, 1])
    np.testing.assert_array_equal(got["window"][:, 0], [2.0, 0.0])  # positions 2, 3 of the draw -> samples 2, 0
    calls = []

    def counting(draw, n_trials):
        calls.append((draw, n_trials))
        return sampler(draw, n_trials)

    config = make_config()
    source = ("sampler", counting, "token", config)
    first = batch_trials(source, iteration=2, iterations_per_draw=2, batch_size=3, index=[1, 2])
    batch_trials(source, iteration=3, iterations_per_draw=2, batch_size=3, index=[0])
    assert calls == [(1, 6)]
    np.testing.assert_array_equal(first["inputs"], sampler(1, 6)["inputs"][[1, 2]])


def test_set_learning_state_rejects_unknown_names_and_shapes():
    config = make_config()
    trainer = EpropTrainer(config, make_weights(config), sampler, device="runtime", iterations_per_run=1,
                           record_spikes=False)
    with pytest.raises(ValueError, match="unknown learning state 'adam_m'"):
        trainer.set_learning_state({"adam_m": np.zeros(3)})
    with pytest.raises(ValueError, match="'w_rec' must be"):
        trainer.set_learning_state({"w_rec": np.zeros(3)})
    new_out = np.full(config.n_out * config.n_rec, 0.25)
    trainer.set_learning_state({"w_out": new_out})
    np.testing.assert_array_equal(trainer.weights()["w_out"], 0.25)
    trainer.close()


def test_batch_rflo_on_two_workers_equals_online_rflo(client):
    """The task's trials are identical given the weights, so the mean of a batch's RFLO updates is one
    online update: two workers with a batch of 4 give the online trainer's losses and weights."""
    from brian2learn.plasticity import rflo
    from brian2learn.tasks.periodic_target import periodic_target_task
    from brian2learn.training.data_parallel import DataParallelRflo
    from brian2learn.training.rflo import RfloTrainer

    config = rflo.RfloConfig(n_in=1, n_rec=6, n_out=1, n_points=20, tau=5.0, learning_rates=(0.0, 0.05, 0.05))
    task = periodic_target_task(n_points=config.n_points, period=20.0, n_in=1, n_out=1)
    weights = rflo.initial_weights(config, 5)
    online = RfloTrainer(config, weights, task, device="runtime", trials_per_run=1, record_output=False)
    try:
        expected = online.train(3)
        expected_weights = dict(online.weights)
    finally:
        online.close()
    with DataParallelRflo(config, weights, task, batch_size=4, client=client, n_workers=2,
                          device="runtime") as parallel:
        history = parallel.train(3)
        got = parallel.weights()
        assert [len(s) for s in parallel.shares] == [2, 2]
    np.testing.assert_allclose(history["loss"], expected["loss"], rtol=1e-10)
    for name in ("w_rec", "w_out"):
        np.testing.assert_allclose(got[name], expected_weights[name], rtol=1e-9, atol=1e-14, err_msg=name)
    np.testing.assert_array_equal(got["w_in"], weights["w_in"])  # its learning rate is 0
    assert np.abs(expected_weights["w_rec"] - weights["w_rec"]).max() > 1e-4, "the weights must have learned"
