"""The run loop of every rule and its progress reporter, on a hand-made rule with a known answer."""

import io

import numpy as np
import pandas as pd
import pytest

from brian2learn.training.loop import Chunk, TrainingDivergedError, TrainingLoop, check_count
from brian2learn.training.progress import ProgressReporter, format_metrics


class Doubling:
    """A 'rule' whose state doubles every iteration; its loss is the state before the update."""

    def __init__(self, chunk_size, explode_at=None):
        self.calls, self.replays, self.explode_at = [], [], explode_at
        self.loop = TrainingLoop(self.step, chunk_size, replay=self.replay, save_weights=self.save,
                                 loss_limit_factor=100.0)

    def losses(self, state, n_now, first):
        values = state * 2.0 ** np.arange(n_now)
        if self.explode_at is not None and first <= self.explode_at < first + n_now:
            values[self.explode_at - first] = np.nan
        return values

    def step(self, state, n_now, first):
        self.calls.append((first, n_now))
        losses = self.losses(state, n_now, first)
        rows = pd.DataFrame({"iteration": first + np.arange(n_now), "loss": losses})
        return Chunk(state=state * 2.0 ** n_now, history=rows, losses=losses, context=first)

    def replay(self, start, n_updates, context):
        self.replays.append((context, n_updates))
        return start * 2.0 ** n_updates

    def save(self, path, state, iteration):
        np.savez(path, state=state, iteration=iteration)


def test_chunks_cover_the_training_and_the_history_counts_from_zero():
    rule = Doubling(chunk_size=3)
    state, history = rule.loop.run(1.0, 7)
    assert rule.calls == [(0, 3), (3, 3), (6, 1)]
    assert state == 2.0 ** 7
    assert history["iteration"].tolist() == list(range(7))
    np.testing.assert_array_equal(history["loss"], 2.0 ** np.arange(7))


def test_a_loss_above_the_limit_stops_with_the_last_good_state(tmp_path):
    # Loss limit = 100 x the first loss (1.0); 2**7 = 128 is the first loss above it, the 4th of the
    # chunk of iterations 4-7.
    rule = Doubling(chunk_size=4)
    with pytest.raises(TrainingDivergedError, match="loss 128 at iteration 7 \\(limit 100\\)") as info:
        rule.loop.run(1.0, 20, run_dir=str(tmp_path))
    error = info.value
    assert error.iteration == 7 and error.loss == 128.0
    assert error.state == 2.0 ** 6  # the weights that gave the last good loss (64)
    assert error.history["iteration"].tolist() == list(range(7))
    saved = np.load(error.weights_path)
    assert float(saved["state"]) == 64.0 and int(saved["iteration"]) == 6
    assert rule.replays == [(4, 2)]  # the chunk starting at 4 re-run with 2 updates


def test_a_bad_first_iteration_of_a_chunk_goes_back_into_the_previous_chunk():
    rule = Doubling(chunk_size=3, explode_at=3)
    with pytest.raises(TrainingDivergedError) as info:
        rule.loop.run(1.0, 9)
    assert info.value.iteration == 3 and np.isnan(info.value.loss)
    assert info.value.state == 4.0  # state of iteration 2: the previous chunk replayed with 2 of its 3 updates
    assert rule.replays == [(0, 2)]
    assert "weights" not in str(info.value)  # nothing saved without a run directory


def test_progress_is_reported_after_every_chunk():
    rule = Doubling(chunk_size=4)
    calls = []
    rule.loop.run(1.0, 6, progress=lambda done, total, metrics: calls.append((done, total, metrics["loss"])))
    assert calls == [(4, 6, 8.0), (6, 6, 32.0)]


def test_reporter_lines_without_a_terminal():
    stream = io.StringIO()
    reporter = ProgressReporter("demo", unit="trial", stream=stream, every=5)
    for done in range(1, 11):
        reporter(done, 10, {"loss": 0.5, "rate_hz": 12.345, "trial": done})
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3 and lines[0].startswith("[demo] trial 1/10  loss 0.5  rate_hz 12.3")
    assert "ETA" in lines[0] and "ETA" not in lines[-1] and lines[-1].startswith("[demo] trial 10/10")
    assert format_metrics({"wp": 0.1234567, "name": "x", "curve": [1, 2]}) == "wp 0.1235"


def test_counts_must_be_positive_integers():
    for bad in (0, -1, 1.5, True, "3"):
        with pytest.raises(ValueError, match="'n' must be a positive integer"):
            check_count("n", bad)
    with pytest.raises(ValueError, match="'n_iterations' must be a positive integer"):
        Doubling(2).loop.run(1.0, 0)


def test_trainers_close_their_build_at_the_end_of_a_with_block():
    from brian2learn.simulation.devices import RunnerHolder
    from brian2learn.training.eprop import EpropTrainer
    from brian2learn.training.rflo import RfloTrainer

    class Runner:
        closed = 0

        def close(self):
            self.closed += 1

    class Stub(RunnerHolder):
        def __init__(self):
            self.runner = Runner()

    with Stub() as trainer:
        assert trainer.runner.closed == 0
    assert trainer.runner.closed == 1
    with pytest.raises(RuntimeError, match="inside"):
        with Stub() as failing:
            raise RuntimeError("inside")
    assert failing.runner.closed == 1
    assert issubclass(EpropTrainer, RunnerHolder) and issubclass(RfloTrainer, RunnerHolder)


@pytest.mark.parametrize("loss_before_update,state,iteration", [(True, 4.0, 2), (False, 8.0, 3)])
def test_which_state_is_last_good_depends_on_when_the_loss_is_measured(tmp_path, loss_before_update, state,
                                                                         iteration):
    # Chunks of one iteration, no replay; iteration 3's loss is bad. Measured before its update (e-prop),
    # the state of iteration 3 (8) produced it: go back to iteration 2 (4). Measured over its own
    # updates (a TTFS epoch), the state at the start of iteration 3 is still good.
    rule = Doubling(chunk_size=1, explode_at=3)
    loop = TrainingLoop(rule.step, 1, save_weights=rule.save, loss_before_update=loss_before_update)
    with pytest.raises(TrainingDivergedError) as info:
        loop.run(1.0, 6, run_dir=str(tmp_path))
    assert info.value.state == state and info.value.iteration == 3
    assert int(np.load(info.value.weights_path)["iteration"]) == iteration
