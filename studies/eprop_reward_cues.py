"""Evidence accumulation learned from reward alone (reward-based e-prop), beside supervised e-prop.

Bellec et al. (2020), "A solution to the learning dilemma for recurrent networks of spiking neurons", Nat Commun
11:3625, doi:10.1038/s41467-020-17236-y: supervised e-prop learns the evidence-accumulation task of Fig. 3 from a
target; its reward-based form (Methods, "Reward-based e-prop") learns from a scalar reward. Here the same network
learns the same task both ways.

Methods
-------
*Task* (:mod:`brian2learn.tasks.evidence_accumulation`): 2250-ms trials, seven cues left or right, a delay, a
recall cue; the network must report the side with more cues. *Reward*: at the end of a trial the agent chooses
left or right (sampled from its policy readouts) and gets reward 1 for the correct side, nothing otherwise
(:class:`~brian2learn.tasks.evidence_accumulation.CueChoice`; one decision per trial, no target, no window).
*Supervised*: the target of ``eprop-evidence`` (softmax cross-entropy over the recall period).

*Network*: 40 inputs -> 50 LIF + 50 ALIF neurons (τ_a = 2 s) of ``eprop-evidence`` -> 2 policy readouts and a
value readout (reward) or 2 readouts (supervised); the network is reset at every trial. Same initial input and
recurrent weights for both.

*Learning*: reward-based e-prop online, one update per trial (Adam, lr 5e-4 halved every 8192 trials, value weight
1, firing-rate regularization 2 towards 10 Hz, random feedback N(0, 1)); supervised e-prop as ``eprop-evidence``
(random feedback, batches of 32 trials, Adam lr 5e-3, the same regularization). The rate was chosen on training
trials (the test trials were not looked at): with 1e-3 and 3e-3 the choices stayed at chance for 3000 trials, with
5e-4 the training accuracy of the last 200 trials rose to 0.82 by trial 4750 (one update per trial moves the weights
32 times as often as supervised training with batches of 32). The halving was added after a run at a constant 5e-4
(same seed): its validation accuracy rose to 0.86 by trial 13,800 and then swung between 0.76 and 0.92; it stopped
at 0.918 after 19,968 trials with a test accuracy of 0.877 (supervised e-prop: 90 % validation after 12,288 trials,
test 0.906).

*Protocol*: both train on fresh trials; every 512 trials both are scored on the same 256 fresh validation trials
(reward: greedy choice at the end of the trial, learning frozen; supervised: the readout with the larger mean
over the recall period). A check at >= 90 % is confirmed on the next 1024 validation trials, which that check did
not see; training stops when the confirmation puts the accuracy above 90 % with 95 % confidence (one-sided,
normal approximation: at least 937 of 1024 correct) or after 40,000 trials (reward) / 20,000 (supervised); then both
are scored once on 2048 fresh test trials (the issue's target: >= 90 % for reward). The result is the number of
trials each needs, and their ratio. (The first runs stopped at the first 256-trial check >= 90 % and were
tested on 512 trials: the validation accuracy of reward-based e-prop swings by about 0.1 from one check to the
next, so 256 trials let a lucky swing stop training.)

Measured (seed 1, loaded cores), first protocol: reward-based e-prop reached 90 % validation after 16,384 trials
with a test accuracy of 0.865 (the constant rate: 19,968 trials, 0.877); supervised e-prop after 12,288 trials,
test 0.906.
"""

import dataclasses
import json
import os
import time

import brian2 as b2
import matplotlib
import numpy as np
import pandas as pd

from brian2learn.analysis import energy, plotting, spikes
from brian2learn.analysis.tables import write_table
from brian2learn.models.eprop_neurons import BELLEC2020_EVIDENCE_ACCUMULATION
from brian2learn.plasticity import eprop, eprop_reward
from brian2learn.simulation.devices import DEVICES
from brian2learn.studies.common import save_figure, write_summary
from brian2learn.studies.options import StudyOptions, option
from brian2learn.studies.run_directory import in_run_directory
from brian2learn.tasks.evidence_accumulation import (
    CueChoice,
    cue_choice_stimuli,
    evidence_accumulation_trials,
    trial_length,
)
from brian2learn.training.eprop import EpropTrainer
from brian2learn.training.eprop_reward import RewardEpropTrainer, load_policy
from brian2learn.training.progress import ProgressReporter

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

NAME = "eprop-reward-cues"
DESCRIPTION = "evidence accumulation from reward alone (reward-based e-prop) beside supervised e-prop, same network"

NEURONS = BELLEC2020_EVIDENCE_ACCUMULATION
NETWORK = {"n_in": 40, "n_lif": 50, "n_alif": 50, "n_actions": 2}
REWARD_LEARNING = eprop_reward.CUE_REWARD_LEARNING
SUPERVISED_LEARNING = {"loss": "softmax", "c_reg": 2.0, "f_target": 10.0 * b2.Hz, "optimizer": "adam",
                       "learning_rate": 5e-3, "batch_size": 32}
TARGET_ACCURACY = 0.90
CONFIDENCE_Z = 1.645  # one-sided 95 %: training stops when the confirmation's lower bound reaches the target


def confirmed_above_target(accuracy, n_trials):
    """Whether ``accuracy`` on ``n_trials`` trials puts the true accuracy above the target with 95 % confidence
    (normal approximation: ``p - z sqrt(p (1 - p) / n) >= target``)."""
    if accuracy is None:
        return False
    return accuracy - CONFIDENCE_Z * np.sqrt(accuracy * (1 - accuracy) / n_trials) >= TARGET_ACCURACY
LR_DECAY = 0.5  # the reward learning rate halves every lr_decay_every trials
PROTOCOL = {
    "full": {"max_reward_trials": 40_000, "max_supervised_trials": 20_000, "eval_every": 512,
             "validation_trials": 256, "confirmation_trials": 1024, "test_trials": 2048, "lr_decay_every": 8192,
             "trials_per_run": 64, "batch_size": 32},
    "quick": {"max_reward_trials": 20, "max_supervised_trials": 16, "eval_every": 10, "validation_trials": 8,
              "confirmation_trials": 8, "lr_decay_every": 10,
              "test_trials": 8,
              "trials_per_run": 10, "batch_size": 8},
}
STREAMS = {"reward": 2, "supervised": 4, "test": 3, "validation": 5}


@dataclasses.dataclass
class Options(StudyOptions):
    """Options of the reward cue study (``brian2learn run eprop-reward-cues --help``)."""

    quick: bool = option(False, help="a few trials of each (checks the pipeline)")
    seed: int = option(1, minimum=0, help="seed of weights, feedback and trials (default 1)")
    max_trials: int | None = option(None, minimum=1, metavar="N",
                                    help="training trials of reward-based e-prop at most (default 40000)")
    no_supervised: bool = option(False, help="skip supervised e-prop")
    device: str = option("cpp_standalone", choices=DEVICES, help="Brian2 device")


def beta():
    return eprop.adaptation_strengths(NETWORK["n_lif"], NETWORK["n_alif"], NEURONS["beta"])


def reward_config():
    return eprop_reward.evidence_accumulation_config()


def supervised_config(batch_size):
    learning = {**SUPERVISED_LEARNING, "batch_size": batch_size}
    return eprop.EpropConfig(n_in=NETWORK["n_in"], n_rec=NETWORK["n_lif"] + NETWORK["n_alif"],
                             n_out=NETWORK["n_actions"], n_steps=trial_length(), neuron_params=NEURONS, beta=beta(),
                             **learning)


def trials(seed, stream, first, n):
    return evidence_accumulation_trials(n, seed=[seed, STREAMS[stream], first])


def trials_in_blocks(seed, stream, first, n, block):
    """Trials ``first`` to ``first + n`` of ``stream`` as the reward trainer draws them (one batch of ``block``
    trials per binary run, seeded by the run's first trial), so that both methods are scored on the same trials."""
    start = first - first % block
    parts = [trials(seed, stream, k, block) for k in range(start, first + n, block)]
    return {key: np.concatenate([part[key] for part in parts])[first - start:first - start + n]
            for key in ("inputs", "targets", "window", "labels")}


def train_reward(options, setting, run_dir):
    """Reward-based e-prop in rounds of ``eval_every`` trials, tested after each; returns records and curve."""
    config = reward_config()
    weights = eprop_reward.initial_weights(config, options.seed)
    max_trials = options.max_trials or setting["max_reward_trials"]
    per_run = setting["trials_per_run"]

    evaluation_stream = {"name": "validation"}

    def stimuli(first, n, evaluation):
        return cue_choice_stimuli(trials(options.seed, evaluation_stream["name"] if evaluation else "reward", first,
                                         n))

    curve = []
    start = time.perf_counter()
    with RewardEpropTrainer(config, weights, lambda: CueChoice(per_run), stimuli, steps_per_run=per_run,
                            seed=options.seed, device=options.device,
                            directory=os.path.join(run_dir, "build_reward")) as trainer:
        progress = ProgressReporter(f"{NAME} reward", unit="step", fields=("episodes", "return"))
        while trainer.step_count < max_trials:
            trainer.learning_rate = config.learning_rate * LR_DECAY ** (trainer.step_count // setting["lr_decay_every"])
            trainer.train(min(setting["eval_every"], max_trials - trainer.step_count), progress=progress)
            n_validation = setting["validation_trials"]
            accuracy = float(trainer.evaluate(n_validation).mean())
            confirmed = None
            if accuracy >= TARGET_ACCURACY:  # confirmed on the next validation trials, unseen by this check
                confirmed = float(trainer.evaluate(n_validation + setting["confirmation_trials"])
                                  [n_validation:].mean())
            rate = float(np.mean(trainer.state["reward_eprop_recurrent.rate_est"])) * 1000
            recent = trainer.history()["return"].tail(setting["eval_every"]).mean()
            curve.append({"method": "reward", "trials": trainer.step_count, "validation_accuracy": accuracy,
                          "confirmation_accuracy": confirmed, "train_accuracy": float(recent), "rate_hz": rate,
                          "learning_rate": trainer.learning_rate})
            print(f"[{NAME}] reward: {trainer.step_count} trials, validation accuracy {accuracy:.3f}"
                  + (f" (confirmation {confirmed:.3f})" if confirmed is not None else "")
                  + f", training {recent:.3f}, {rate:.1f} Hz", flush=True)
            write_table(pd.DataFrame(curve), os.path.join(run_dir, "accuracy.parquet"))  # kept if interrupted
            if confirmed_above_target(confirmed, setting["confirmation_trials"]):
                break
        evaluation_stream["name"] = "test"
        test_accuracy = float(trainer.evaluate(setting["test_trials"]).mean())
        print(f"[{NAME}] reward: test accuracy {test_accuracy:.3f} after {trainer.step_count} trials", flush=True)
        trainer.save_policy(os.path.join(run_dir, "policy_reward.npz"))
        seconds = time.perf_counter() - start - trainer.runner.compile_seconds
        episodes = trainer.history()
    return curve, episodes, seconds, test_accuracy


def train_supervised(options, setting, run_dir, reward_curve=()):
    """Supervised e-prop (``eprop-evidence``'s protocol) tested on the same trials every ``eval_every`` trials."""
    batch = setting["batch_size"]
    config = supervised_config(batch)
    reward_weights = eprop_reward.initial_weights(reward_config(), options.seed)
    weights = {"w_in": reward_weights["w_in"], "w_rec": reward_weights["w_rec"],
               "w_out": reward_weights["w_pi"]}
    feedback = eprop_reward.initial_weights(reward_config(), options.seed)["B_pi"]
    curve, reward_curve = [], list(reward_curve)
    start = time.perf_counter()
    with EpropTrainer(config, weights, lambda draw, n: trials(options.seed, "supervised", draw, n), feedback="random",
                      feedback_matrix=feedback, device=options.device, iterations_per_run=1,
                      directory=os.path.join(run_dir, "build_supervised")) as trainer:
        iterations_per_round = max(setting["eval_every"] // batch, 1)
        max_iterations = -(-setting["max_supervised_trials"] // batch)
        done = 0
        while done < max_iterations:
            n_now = min(iterations_per_round, max_iterations - done)
            trainer.train(n_now)
            done += n_now
            n_validation = setting["validation_trials"]
            accuracy = supervised_accuracy(trainer, options.seed, "validation", n_validation, batch,
                                           setting["trials_per_run"])
            confirmed = None
            if accuracy >= TARGET_ACCURACY:
                confirmed = supervised_accuracy(trainer, options.seed, "validation", setting["confirmation_trials"],
                                                batch, setting["trials_per_run"], first=n_validation)
            curve.append({"method": "supervised", "trials": done * batch, "validation_accuracy": accuracy,
                          "confirmation_accuracy": confirmed,
                          "train_accuracy": 1.0 - float(trainer.history[-1].get("error", np.nan)),
                          "rate_hz": float(trainer.history[-1]["rate_hz"])})
            print(f"[{NAME}] supervised: {done * batch} trials, validation accuracy {accuracy:.3f}"
                  + (f" (confirmation {confirmed:.3f})" if confirmed is not None else ""), flush=True)
            write_table(pd.DataFrame(reward_curve + curve), os.path.join(run_dir, "accuracy.parquet"))
            if confirmed_above_target(confirmed, setting["confirmation_trials"]):
                break
        seconds = time.perf_counter() - start - trainer.runner.compile_seconds
        test_accuracy = supervised_accuracy(trainer, options.seed, "test", setting["test_trials"], batch,
                                            setting["trials_per_run"])
        print(f"[{NAME}] supervised: test accuracy {test_accuracy:.3f} after {done * batch} trials", flush=True)
    return curve, seconds, test_accuracy


def supervised_accuracy(trainer, seed, stream, n_trials, batch, block, first=0):
    """Accuracy of the supervised network on trials ``first`` to ``first + n_trials`` of ``stream``, the trials
    the reward agent is scored on (the readout with the larger mean over the recall period), in batches of the
    build's size."""
    data = trials_in_blocks(seed, stream, first, n_trials, block)
    errors = [trainer.evaluate(trials={key: data[key][k:k + batch] for key in ("inputs", "targets", "window")})
              ["error"] for k in range(0, n_trials - batch + 1, batch)]
    return 1.0 - float(np.mean(errors))


def example_trial(options, policy_path):
    """One test trial of the trained agent on the runtime device, spikes recorded (for the energy and raster)."""
    weights, _ = load_policy(policy_path)
    config = reward_config()

    def stimuli(first, n, evaluation):
        return cue_choice_stimuli(trials(options.seed, "test", first, n))

    # two trials: the first one's choice is scored at the start of the second
    with RewardEpropTrainer(config, weights, lambda: CueChoice(2), stimuli, steps_per_run=2, seed=options.seed,
                            device="runtime", record=True) as trainer:
        correct = trainer.evaluate(1)
        model = trainer.last_model
        n_steps = trial_length()
        end = n_steps * float(NEURONS["dt"])
        frames = []
        for monitor, group in ((model.input_monitor, "inputs"), (model.spike_monitor, "recurrent")):
            times = np.asarray(monitor.t)
            keep = times < end - 1e-12
            frames.append(spikes.spikes_to_dataframe(np.asarray(monitor.i)[keep], times[keep], group=group))
    n_rec = config.n_rec
    summary = energy.energy_summary(pd.concat(frames, ignore_index=True),
                                    {"inputs": np.full(config.n_in, n_rec),
                                     "recurrent": np.full(n_rec, n_rec - 1 + config.n_actions + 1)},
                                    NEURONS["dt"], n_neurons=config.n_in + n_rec, n_steps=n_steps)
    return {"correct": bool(correct[0] > 0.5), "inputs": frames[0], "recurrent": frames[1], "energy": summary}


def trials_to_target(curve, n_confirmation):
    reached = [row["trials"] for row in curve
               if confirmed_above_target(row.get("confirmation_accuracy"), n_confirmation)]
    return reached[0] if reached else None


def plot_accuracy(curves, axes=None):
    """Validation accuracy against training trials, per method."""
    axes = axes if axes is not None else plt.gca()
    for method, rows in curves.groupby("method"):
        axes.plot(rows["trials"], rows["validation_accuracy"], marker="o", ms=3, label=method)
    axes.axhline(TARGET_ACCURACY, color="k", lw=0.8, ls="--")
    axes.axhline(0.5, color="0.6", lw=0.6, ls=":")
    axes.set_xlabel("training trials")
    axes.set_ylabel("validation accuracy (fresh trials)")
    axes.legend()
    return axes


@in_run_directory(NAME)
def run(options, run_dir):
    """Train both, write summary.json, tables and the accuracy figure."""
    mode = "quick" if options.quick else "full"
    setting = PROTOCOL[mode]
    print(f"{NAME}: {mode} mode, run directory {run_dir}", flush=True)
    reward_curve, episodes, reward_seconds, reward_test = train_reward(options, setting, run_dir)
    write_table(episodes, os.path.join(run_dir, "reward_trials.parquet"))
    curves = list(reward_curve)
    summary = {"study": NAME, "status": "completed", "mode": mode, "options": options.as_dict(),
               "reward": {"trials_to_target": trials_to_target(reward_curve, setting["confirmation_trials"]),
                          "test_accuracy": reward_test,
                          "final_validation_accuracy": reward_curve[-1]["validation_accuracy"],
                          "trials": reward_curve[-1]["trials"], "training_seconds": reward_seconds,
                          "seconds_per_trial": reward_seconds / max(reward_curve[-1]["trials"], 1),
                          "rate_hz": reward_curve[-1]["rate_hz"]}}
    if not options.no_supervised:
        supervised_curve, supervised_seconds, supervised_test = train_supervised(options, setting, run_dir,
                                                                                reward_curve)
        curves += supervised_curve
        summary["supervised"] = {"trials_to_target": trials_to_target(supervised_curve, setting["confirmation_trials"]),
                                 "test_accuracy": supervised_test,
                                 "final_validation_accuracy": supervised_curve[-1]["validation_accuracy"],
                                 "trials": supervised_curve[-1]["trials"], "training_seconds": supervised_seconds}
        if summary["reward"]["trials_to_target"] and summary["supervised"]["trials_to_target"]:
            summary["reward_over_supervised_trials"] = (summary["reward"]["trials_to_target"]
                                                        / summary["supervised"]["trials_to_target"])
    example = example_trial(options, os.path.join(run_dir, "policy_reward.npz"))
    summary["energy"] = example["energy"]
    summary["example_trial"] = {"correct": example["correct"]}
    fig, axes = plt.subplots(2, 1, figsize=(7, 4.5), sharex=True, gridspec_kw={"height_ratios": [1, 2]})
    plotting.plot_raster(example["inputs"], axes=axes[0], time_unit="s")
    axes[0].set_ylabel("input")
    plotting.plot_raster(example["recurrent"], axes=axes[1], time_unit="s")
    axes[1].set_ylabel("LIF 0-49, ALIF 50-99")
    axes[0].set_title(f"a test trial of the reward-trained network ({'correct' if example['correct'] else 'wrong'})")
    save_figure(fig, run_dir, "example_trial.png")
    curves = pd.DataFrame(curves)
    write_table(curves, os.path.join(run_dir, "accuracy.parquet"))
    summary["targets"] = {"test_accuracy": reward_test, "target": TARGET_ACCURACY,
                          "met": bool(reward_test >= TARGET_ACCURACY)}
    fig, axes = plt.subplots(figsize=(6, 3.5))
    plot_accuracy(curves, axes=axes)
    axes.set_title("evidence accumulation: reward-based vs supervised e-prop")
    save_figure(fig, run_dir, "accuracy.png")
    write_summary(run_dir, summary, options)
    print(json.dumps({key: summary[key] for key in ("reward", "supervised") if key in summary}, indent=1),
          flush=True)
    return summary
