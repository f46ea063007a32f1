"""RFLO on a rate network: learn your own periodic output with random feedback.

A leaky tanh rate network without input learns to produce a periodic curve chosen here (a numpy
array) with random-feedback local online learning (Murray 2019, "Local online learning in
recurrent networks with random feedback", eLife 8:e43299, doi:10.7554/eLife.43299): every
recurrent weight follows its own eligibility trace times the output error sent back through a
fixed random matrix ``B``. As the readout learns, ``W_out`` turns towards ``B^T`` (feedback
alignment); the angle between them is printed with the loss.
"""

import numpy as np

from brian2learn.plasticity.rflo import RfloConfig, initial_weights
from brian2learn.training.rflo import RfloTrainer

N_REC = 50  # rate units
TAU = 10.0  # time constant of the units, in steps
PERIOD = 120  # period of the target, in steps (one period per trial)
GAIN = 1.5  # spectral radius of the initial recurrent weights (chaotic for > 1)
LEARNING_RATES = (0.0, 0.02, 0.02)  # eta for W_in, W_rec, W_out
N_TRIALS = 3000  # training trials


def make_target(n_points):
    """A target of the user's choosing: a skewed periodic wave (n_points, 1), one period per trial."""
    phase = 2 * np.pi * np.arange(n_points) / n_points
    return (0.8 * np.sin(phase) + 0.4 * np.cos(3 * phase) - 0.4)[:, None]


def main(n_trials=N_TRIALS, n_rec=N_REC, period=PERIOD, device="cpp_standalone", seed=1):
    """Train with RFLO from the initial network of Murray's notebook.

    Parameters
    ----------
    n_trials, n_rec : int
        Training trials (one update each) and rate units.
    period : int
        Period of the target in steps; also the trial length.
    device : {'cpp_standalone', 'runtime'}
    seed : int
        Seed of the initial weights and feedback.

    Returns
    -------
    dict
        ``first_loss``, ``last_loss``, ``first_angle_deg``, ``last_angle_deg`` (between ``W_out`` and ``B^T``
        after the first and last update), ``history`` (DataFrame: trial, loss, alignment_deg), the initial
        ``weights`` and ``last_output`` (``y``, ``y_target`` of the last trial).
    """
    config = RfloConfig(n_in=1, n_rec=n_rec, n_out=1, n_points=period, tau=TAU, learning_rates=LEARNING_RATES)
    weights = initial_weights(config, seed, g=GAIN)  # w_in, w_rec, w_out, B (fixed feedback), h0
    task = {"inputs": np.zeros((period, 1)), "targets": make_target(period)}  # one silent input channel
    trainer = RfloTrainer(config, weights, task, device=device, trials_per_run=min(n_trials, 1000))
    try:
        history = trainer.train(n_trials)
    finally:
        trainer.close()
    return {"first_loss": float(history["loss"].iloc[0]), "last_loss": float(history["loss"].iloc[-1]),
            "first_angle_deg": float(history["alignment_deg"].iloc[0]),
            "last_angle_deg": float(history["alignment_deg"].iloc[-1]), "history": history,
            "weights": weights, "last_output": trainer.last_output}


if __name__ == "__main__":
    result = main()
    print(result["history"].iloc[:: max(len(result["history"]) // 10, 1)].to_string(index=False))
    print(f"loss {result['first_loss']:.4f} -> {result['last_loss']:.2e}; W_out-B angle "
          f"{result['first_angle_deg']:.0f} -> {result['last_angle_deg']:.0f} degrees")
