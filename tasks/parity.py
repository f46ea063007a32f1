"""n-bit parity (XOR for two bits): every binary input pattern and whether it has an odd number of ones.

The classic hard case for learning with hidden units (Rumelhart, Hinton & Williams 1986, "Learning internal
representations by error propagation", in Parallel Distributed Processing, vol. 1): no single-layer network
solves it. Targets are ``low`` for even and ``high`` for odd parity; logistic outputs trained towards 0.1 and
0.9 rather than 0 and 1 do not need to saturate (and keep a nudged output movable).
"""

import itertools

import numpy as np


def parity_task(n_bits, low=0.1, high=0.9):
    """All ``2**n_bits`` patterns (in binary counting order), their targets and labels.

    Returns
    -------
    dict
        ``inputs`` (2**n, n) of 0/1, ``targets`` (2**n, 1), ``labels`` (2**n,) 0 even / 1 odd.
    """
    if isinstance(n_bits, bool) or not isinstance(n_bits, (int, np.integer)) or not 2 <= n_bits <= 16:
        raise ValueError(f"'n_bits' must be an integer from 2 to 16, got {n_bits!r}")
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ValueError(f"'low' must be below 'high', got {low!r} and {high!r}")
    inputs = np.array(list(itertools.product([0.0, 1.0], repeat=int(n_bits))))
    labels = (inputs.sum(axis=1) % 2).astype(int)
    return {"inputs": inputs, "targets": np.where(labels, high, low)[:, None].astype(float), "labels": labels}
