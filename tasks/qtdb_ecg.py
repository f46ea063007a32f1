"""ECG wave segmentation on the QT Database, as preprocessed by Yin, Corradi & Bohté (2021).

Yin, Corradi & Bohté (2021), "Accurate and efficient time-domain classification with adaptive spiking
recurrent neural networks", Nat Mach Intell 3:905, doi:10.1038/s42256-021-00397-w; recordings from the
PhysioNet QT Database (Laguna et al. 1997, Computers in Cardiology 24:673; Goldberger et al. 2000,
Circulation 101:e215). The files ship with the package (``tasks/data/qtdb``, see its PROVENANCE.md).

Each sequence is 1301 steps of two ECG leads, each level-crossing encoded into an "up" and a "down" channel
(4 inputs with values in {-1, 0, 1}); the label of every step is one of six waveform segments. The task is
framewise classification: accuracy is counted at every step from :data:`SCORED_FROM` on (the authors' script
skips the first 10 steps, where the network has seen too little).
"""

import os

import numpy as np

#: Directory of the packaged files.
DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "qtdb")
#: The six classes, in label order.
SEGMENTS = ("P", "PQ", "QR", "RS", "ST", "TP")
N_STEPS = 1301
N_INPUTS = 4
#: Steps before this one are not scored (loss and accuracy), as in the authors' script.
SCORED_FROM = 10
EXPECTED = {"train": 618, "test": 141}


def load_qtdb(part, data_dir=DATA_DIR):
    """One part of the data set.

    Parameters
    ----------
    part : {'train', 'test'}
    data_dir : str
        Directory holding ``QTDB_train.mat`` and ``QTDB_test.mat`` (default: the packaged copy).

    Returns
    -------
    x : ndarray (n, 1301, 4) float64, values in {-1, 0, 1}
    y : ndarray (n, 1301) int, labels 0..5 (:data:`SEGMENTS`)
    """
    if part not in EXPECTED:
        raise ValueError(f"unknown part {part!r}; allowed: {', '.join(EXPECTED)}")
    path = os.path.join(data_dir, f"QTDB_{part}.mat")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"the QT Database file {path} is missing (it ships in brian2learn/tasks/data/qtdb; "
                                f"reinstall the package or pass data_dir)")
    from scipy.io import loadmat

    mat = loadmat(path)
    if "x" not in mat or "y" not in mat:
        raise ValueError(f"{path} lacks the arrays 'x' and 'y'")
    x = np.asarray(mat["x"], dtype=float)
    one_hot = np.asarray(mat["y"])
    if x.ndim != 3 or x.shape[1:] != (N_STEPS, N_INPUTS):
        raise ValueError(f"'x' of {path} must have shape (n, {N_STEPS}, {N_INPUTS}), got {x.shape}")
    if one_hot.shape != x.shape[:2] + (len(SEGMENTS),):
        raise ValueError(f"'y' of {path} must have shape (n, {N_STEPS}, {len(SEGMENTS)}), got {one_hot.shape}")
    if not np.all(np.isin(x, (-1.0, 0.0, 1.0))):
        raise ValueError(f"'x' of {path} must hold only -1, 0 and 1")
    return x, np.argmax(one_hot, axis=-1).astype(int)
