"""The XOR task of Jabri & Flower (1991): four patterns, their targets, error and criterion.

Jabri & Flower (1991), "Weight perturbation: an optimal architecture and learning technique for analog
VLSI feedforward and recurrent multilayer networks", Neural Comput 3:546, doi:10.1162/neco.1991.3.4.546:
a 2-2-1 network of sigmoid units learns XOR by weight perturbation (the network:
:mod:`brian2learn.plasticity.xor_network`).

Task
----
A pass presents the four patterns ``(x_1, x_2) in {(0,0), (0,1), (1,0), (1,1)}`` in four steps, with targets
``y* = x_1 XOR x_2``. The error of a pass with outputs ``y_p`` is ``E = (1/2T) sum_p (y_p - y*_p)^2``
(``T = 4``), and the task is solved when every output lies on the correct side of 0.5
(``|y_p - y*_p| < 0.5``, all four patterns correct).
"""

import numpy as np

#: The four patterns (x_1, x_2) and their XOR targets.
PATTERNS = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
TARGETS = np.array([0.0, 1.0, 1.0, 0.0])


def error(outputs):
    """``E = (1/2T) sum_p (y_p - y*_p)^2`` of the outputs (4,) of one pass."""
    return 0.5 * float(np.sum((np.asarray(outputs) - TARGETS) ** 2)) / len(TARGETS)


def n_correct(outputs):
    """Patterns of one pass whose output (4,) lies on the correct side of 0.5 (``|y_p - y*_p| < 0.5``)."""
    return int(np.sum(np.abs(np.asarray(outputs) - TARGETS) < 0.5))
