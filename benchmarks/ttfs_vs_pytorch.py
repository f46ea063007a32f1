"""Time per training epoch of TTFS learning on Yin-Yang: brian2learn's closed form vs the authors' PyTorch code.

Network 4 inputs + bias -> 120 -> 3, batch 150, 5000 training samples, loss of Göltz et al. 2021
(Nat Mach Intell 3:823, doi:10.1038/s42256-021-00388-x): CE of softmax(-t / (0.2 tau_s)) plus
0.005 (exp(t_label / tau_s) - 1). brian2learn's analytic mode (:class:`brian2learn.training.ttfs.TTFSTrainer`)
is timed in this process: one epoch of training, and the same plus the evaluation of the 1000
validation samples (the authors' epoch includes a validation pass).

The authors' code (github.com/JulianGoeltz/fastAndDeep, GPL-3.0) is never copied here: given a
checkout and a Python with PyTorch, it is run unchanged as a subprocess, ``experiment.py train``
with their ``experiment_configs/yin_yang.yaml`` (the loss set to the paper's TTFS loss, the number
of epochs set, no snapshots), once with 1 epoch and once with ``1 + N``; the difference of the wall
times divided by ``N`` is their time per epoch, without start-up, data generation and the final
evaluation. The config is written by *their* Python (PyYAML) into a temporary folder.

Setting their code up outside this repository (commands used for the numbers in the report)::

    git clone https://github.com/JulianGoeltz/fastAndDeep /tmp/ttfs_ref/fastAndDeep
    git -C /tmp/ttfs_ref/fastAndDeep checkout 037c807   # last version before the delay-learning code
    git -C /tmp/ttfs_ref/fastAndDeep submodule update --init   # the Yin-Yang data set
    python3 -m venv /tmp/ttfs_ref/venv
    /tmp/ttfs_ref/venv/bin/pip install torch==2.13.0 "numpy<2" numba pyyaml matplotlib scipy
    # their datasets.py imports torchvision (MNIST only); an empty stand-in module is enough for Yin-Yang:
    mkdir -p /tmp/ttfs_ref/shim/torchvision && touch /tmp/ttfs_ref/shim/torchvision/__init__.py

    python benchmarks/ttfs_vs_pytorch.py --epochs 5 --reference /tmp/ttfs_ref/fastAndDeep \\
        --reference-python /tmp/ttfs_ref/venv/bin/python --reference-pythonpath /tmp/ttfs_ref/shim
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np

from brian2learn.plasticity import ttfs
from brian2learn.tasks import yinyang
from brian2learn.training.ttfs import TTFSTrainer

#: Config edit run by the reference Python: TTFS loss of the paper, epoch count, no snapshots.
_MAKE_CONFIG = """
import sys, yaml
source, target, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(source) as handle:
    config = yaml.safe_load(handle)
params = config['training_params']
params['epoch_number'] = epochs
params['epoch_snapshots'] = []
params['loss'] = {'type': 'TTFS', 'xi': 0.2, 'alpha': 0.005, 'beta': 1.0}
with open(target, 'w') as handle:
    yaml.safe_dump(config, handle)
"""


def time_brian2learn(n_epochs, seed):
    """Seconds per epoch of brian2learn's analytic training (training only, and with a validation pass)."""
    data = yinyang.yin_yang_splits()
    x = {name: yinyang.encode_spike_times(split["features"], **yinyang.ENCODING) for name, split in data.items()}
    config = ttfs.TTFSConfig()
    trainer = TTFSTrainer(config, ttfs.initial_weights(config, seed))
    rng = np.random.default_rng(seed)
    train_times, total_times = [], []
    for _ in range(n_epochs):
        start = time.perf_counter()
        stats = trainer.train_epoch(x["train"], data["train"]["labels"], rng)
        trained = time.perf_counter()
        validation = trainer.evaluate(x["validation"], data["validation"]["labels"])
        train_times.append(trained - start)
        total_times.append(time.perf_counter() - start)
    return {"train": float(np.median(train_times)), "with_validation": float(np.median(total_times)),
            "train_accuracy": stats["accuracy"], "validation_accuracy": validation["accuracy"]}


def _reference_env(pythonpath, threads):
    env = dict(os.environ, MPLBACKEND="Agg")
    if pythonpath:
        env["PYTHONPATH"] = pythonpath + os.pathsep + env.get("PYTHONPATH", "")
    if threads:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    return env


def _run_reference(checkout, python, env, epochs, workdir):
    config = os.path.join(workdir, f"yin_yang_{epochs}.yaml")
    source = os.path.join(checkout, "experiment_configs", "yin_yang.yaml")
    subprocess.run([python, "-c", _MAKE_CONFIG, source, config, str(epochs)], check=True, env=env)
    start = time.perf_counter()
    done = subprocess.run([python, "experiment.py", "train", config], cwd=os.path.join(checkout, "src"), env=env,
                          capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        tail = (done.stdout + done.stderr)[-2000:]
        raise RuntimeError(f"the reference run with {epochs} epoch(s) failed (exit {done.returncode}):\n{tail}")
    accuracy = re.findall(r"Test accuracy: ([0-9.]+)", done.stdout)
    return wall, (float(accuracy[-1]) if accuracy else None)


def time_reference(checkout, python, pythonpath, n_epochs, threads=None):
    """Seconds per epoch of the authors' code: (wall(1 + n) - wall(1)) / n."""
    if not os.path.isfile(os.path.join(checkout, "src", "experiment.py")):
        raise ValueError(f"'--reference' must be a fastAndDeep checkout with src/experiment.py, got {checkout!r}")
    env = _reference_env(pythonpath, threads)
    threads = subprocess.run([python, "-c", "import torch; print(torch.__version__, torch.get_num_threads())"],
                             capture_output=True, text=True, check=True, env=env).stdout.split()
    with tempfile.TemporaryDirectory(prefix="ttfs_reference_") as workdir:
        wall_1, _ = _run_reference(checkout, python, env, 1, workdir)
        wall_n, accuracy = _run_reference(checkout, python, env, 1 + n_epochs, workdir)
    return {"per_epoch": (wall_n - wall_1) / n_epochs, "wall_1": wall_1, "wall_n": wall_n,
            "test_accuracy": accuracy, "torch": threads[0], "torch_threads": int(threads[1])}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5, help="epochs timed on each side (default 5)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reference", default=None, help="path of the authors' fastAndDeep checkout")
    parser.add_argument("--reference-python", default=None, help="a Python with PyTorch for their code")
    parser.add_argument("--reference-pythonpath", default=None,
                        help="extra PYTHONPATH for their code (e.g. a torchvision stand-in)")
    parser.add_argument("--reference-threads", type=int, default=None,
                        help="OMP_NUM_THREADS for their code (default: PyTorch's choice, one per core); "
                             "brian2learn's training runs in one thread")
    args = parser.parse_args()
    if args.epochs < 1:
        parser.error("'--epochs' must be a positive integer")
    ours = time_brian2learn(args.epochs, args.seed)
    print(f"brian2learn analytic   {ours['train']:7.3f} s/epoch training, {ours['with_validation']:7.3f} s/epoch "
          f"with validation (median of {args.epochs}; validation accuracy {100 * ours['validation_accuracy']:.1f} %)",
          flush=True)
    if args.reference is None:
        print("authors' PyTorch code: not timed (give --reference and --reference-python)")
        return 0
    python = args.reference_python or sys.executable
    theirs = time_reference(os.path.abspath(args.reference), python, args.reference_pythonpath, args.epochs,
                            args.reference_threads)
    print(f"authors' PyTorch {theirs['torch']} ({theirs['torch_threads']} threads)  {theirs['per_epoch']:7.3f} s/epoch "
          f"(wall {theirs['wall_1']:.1f} s for 1 epoch, {theirs['wall_n']:.1f} s for {1 + args.epochs}; "
          f"test accuracy after {1 + args.epochs} epochs {theirs['test_accuracy']})", flush=True)
    print(f"ratio PyTorch / brian2learn per epoch: {theirs['per_epoch'] / ours['with_validation']:.1f}x "
          f"(with validation), {theirs['per_epoch'] / ours['train']:.1f}x (training only)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
