"""e-prop on your own task: your Poisson input spikes, your target curves.

Trains a recurrent network of LIF neurons with e-prop (Bellec et al. 2020, "A solution to the
learning dilemma for recurrent networks of spiking neurons", Nat Commun 11:3625,
doi:10.1038/s41467-020-17236-y) on a task made here with numpy: two frozen Poisson patterns of
``N_IN`` input neurons, each to be turned into its own smooth curve by a leaky readout. A task is
just three arrays: ``inputs`` (n_trials, n_steps, n_in) of 0/1, ``targets`` (n_trials, n_steps,
n_out) and ``window`` (n_trials, n_steps), the steps that count in the loss. Prints the loss
before and after training.
"""

import brian2 as b2
import numpy as np

from brian2learn.models.eprop_neurons import BELLEC2020_PATTERN_GENERATION
from brian2learn.plasticity import eprop
from brian2learn.training.eprop import EpropTrainer

N_IN = 20  # input neurons
N_REC = 50  # recurrent LIF neurons
INPUT_RATE = 40 * b2.Hz  # rate of the Poisson inputs
TRIAL = 500 * b2.ms  # length of one trial
NEURON = BELLEC2020_PATTERN_GENERATION  # LIF: dt = 1 ms, tau_m = tau_out = 30 ms, v_th = 30 mV
LEARNING = {
    "optimizer": "adam",  # Adam instead of plain gradient descent
    "learning_rate": 3e-3,  # Adam step size
    "c_reg": 300.0,  # firing-rate regularization strength
    "f_target": 10 * b2.Hz,  # target rate of the regularization
    "batch_size": 2,  # both trials in every weight update
}


def make_task(n_steps, seed=1):
    """Two frozen Poisson patterns; pattern 0 must give one period of a sine, pattern 1 of ``cos - 1``.

    Returns ``inputs`` (2, n_steps, N_IN) of 0/1, ``targets`` (2, n_steps, 1) and ``window`` (2, n_steps).
    """
    rng = np.random.default_rng(seed)
    p_spike = float(INPUT_RATE * NEURON["dt"])  # spike probability per step
    inputs = (rng.random((2, n_steps, N_IN)) < p_spike).astype(float)
    phase = 2 * np.pi * np.arange(n_steps) / n_steps
    targets = np.stack([np.sin(phase), np.cos(phase) - 1])[:, :, None]
    return {"inputs": inputs, "targets": targets, "window": np.ones((2, n_steps))}  # every step counts


def main(n_iterations=500, n_rec=N_REC, trial=TRIAL, learning_rate=LEARNING["learning_rate"],
         device="cpp_standalone", seed=1):
    """Train on :func:`make_task` with random feedback; ``seed`` fixes the task, initial weights and feedback.

    Returns ``first_loss``, ``last_loss``, ``last_rate_hz``, ``history`` (DataFrame: iteration, loss, reg_loss,
    rate_hz) and ``last_output`` (readout ``y`` and ``y_target`` of the last trial, (n_out, n_steps)).
    """
    n_steps = int(round(float(trial / NEURON["dt"])))
    config = eprop.EpropConfig(n_in=N_IN, n_rec=n_rec, n_out=1, n_steps=n_steps, neuron_params=NEURON,
                               **{**LEARNING, "learning_rate": learning_rate})
    with EpropTrainer(config, eprop.initial_weights(config, seed), make_task(n_steps, seed), feedback="random",
                      feedback_matrix=eprop.random_feedback(config, seed), device=device,
                      iterations_per_run=n_iterations) as trainer:  # the build is removed at the end
        history = trainer.train(n_iterations)
    return {"first_loss": float(history["loss"].iloc[0]), "last_loss": float(history["loss"].iloc[-1]),
            "last_rate_hz": float(history["rate_hz"].iloc[-1]), "history": history,
            "last_output": trainer.last_output}


if __name__ == "__main__":
    result = main()
    print(result["history"].iloc[:: max(len(result["history"]) // 10, 1)].to_string(index=False))
    print(f"loss {result['first_loss']:.3f} -> {result['last_loss']:.3f}, rate {result['last_rate_hz']:.1f} Hz")
