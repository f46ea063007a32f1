"""Parameter sweeps of a study on Dask's distributed scheduler: one task per grid point and seed.

A sweep runs a study (:mod:`brian2learn.studies`) over the Cartesian product of parameter values
(``grid``) times ``seeds``. Every *point* (one combination of values and one seed) is one task on a
Dask worker (Rocklin 2015, "Dask: parallel computation with blocked algorithms and task
scheduling", Proc. 14th Python in Science Conf., doi:10.25080/Majora-7b98e3ed-013), which runs the
study with the point's options exactly as ``python -m brian2learn.studies.NAME`` would, its run
directory set to the point's own directory ``out_dir/NAME=VALUE__NAME=VALUE.../seed<k>``. Without a scheduler
address a :class:`distributed.LocalCluster` of one single-threaded worker process per core is
started (only when there is something to compute); with one, the sweep connects to a running
``dask scheduler`` and its workers (see ``docs/dask.md``).

- **Results at once.** The study writes its ``summary.json`` and Parquet tables in the point's
  directory as the point finishes; the worker then adds ``point.json`` (options, worker, time).
  A point whose directory holds a completed ``summary.json`` and a ``point.json`` with the same
  study and options (``--out`` aside) is *done*: running the same sweep again computes only the
  points not done.
- **Failures.** A point whose study raises is retried (``retries``); a worker that dies (killed,
  out of memory) costs only the point it was running, which Dask reschedules on another worker.
  Points that still fail appear in the table with ``status = 'failed'`` and the error.
- **Table.** ``out_dir/sweep.parquet``: one row per point and seed, the point's parameters as
  ``param.NAME`` columns and every leaf of its summary as a column (nested keys joined with
  ``.``; lists as JSON text), plus bookkeeping (``status``, ``error``, ``sweep.run_dir``,
  ``sweep.worker``, ``sweep.attempts``, ``sweep.build_reused``, ``sweep.wall_seconds``,
  ``sweep.skipped``).
- **Progress** on stderr: ``[sweep NAME] 3/8 points done (1 skipped, 0 failed) ...``.

Compile reuse
-------------
A ``cpp_standalone`` build takes 10-25 s, a re-run of the binary with new ``run_args`` tens of
ms. A worker process can keep one build alive between points: a study that wraps the
construction of its :class:`~brian2learn.simulation.devices.DeviceRunner` (or trainer) in
:func:`~brian2learn.simulation.dask_builds.reusable_build` with a *key* that names its
structure gets, inside a sweep, the object that the previous point on the same worker built for
the same key, and passes its values by ``run_args``. Outside a sweep it builds and closes as usual. A parameter is
*structural* when it changes the generated code or the size of an array: network sizes, trials
per run, the device, and every constant Brian2 inlines from a model's namespace (time
constants, optimizer constants, batch size, ...). Whatever a model takes through its
``state_variables()`` and ``stimulus_arrays()`` (weights, learning rates passed as variables,
stimuli, seeds passed as variables, the number of trials within ``trials_per_run``) is a run
argument and can change from point to point without a build. Only one build per worker process
is kept, because Brian2's standalone device holds one project per process: a point with another
key replaces it. Which build a point lands on is Dask's choice, so a sweep of ``P`` points with
``S`` structures on ``W`` workers compiles between ``min(S, W)`` and ``P`` times; the table's
``sweep.build_reused`` column says what happened for every point (empty for studies that do not
use the hook).

Worker processes run one task at a time (Brian2's device and preferences are global to a
process); a worker started with several threads still runs the points of this module one after
the other, under a per-process lock.
"""

import argparse
import contextlib
import dataclasses
import hashlib
import itertools
import json
import os
import re
import socket
import sys
import time

import numpy as np
import pandas as pd
from distributed import Client, LocalCluster, as_completed, get_worker

from brian2learn.analysis import tables
from brian2learn.simulation.dask_builds import WORKER_LOCK, point_scope
from brian2learn.simulation.dask_plugin import prepare_client
from brian2learn.studies import load_study

#: Options of a study that the sweep sets itself for every point.
SWEEP_OPTIONS = ("seed", "out")
#: Number of retries of a point whose study raised (a killed worker is rescheduled by Dask anyway).
DEFAULT_RETRIES = 1
#: Seconds to wait for the workers asked for on an external cluster.
WAIT_FOR_WORKERS_SECONDS = 300.0
TABLE_NAME = "sweep.parquet"
POINT_FILE = "point.json"
ATTEMPTS_FILE = "attempts.log"
LOG_FILE = "log.txt"
_SAFE = re.compile(r"[^A-Za-z0-9._+=-]+")


# -- parameters and points ---------------------------------------------------------------------------

class _RaisingParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are ``ValueError`` (its message names the option)."""

    def error(self, message):
        raise ValueError(message)


def _study_ref(study):
    """``('name', NAME)`` for a registered study, ``('module', dotted name)`` for a module object."""
    if isinstance(study, str):
        load_study(study)  # ValueError naming the known studies
        return ("name", study)
    for attribute in ("NAME", "DESCRIPTION", "Options", "run"):
        if not hasattr(study, attribute):
            raise ValueError(f"'study' must be a registered study name or a study module with NAME, "
                             f"DESCRIPTION, Options and run; {study!r} lacks {attribute}")
    return ("module", study.__name__)


def _load(ref):
    kind, name = ref
    if kind == "name":
        return load_study(name)
    import importlib

    return importlib.import_module(name)


def study_parser(module):
    """The study's own parser (made from its ``Options``), raising ``ValueError`` instead of exiting."""
    parser = _RaisingParser(prog=f"brian2learn sweep {module.NAME}", description=module.DESCRIPTION,
                            add_help=False)
    module.Options.add_arguments(parser)
    return parser


def _tokens(module, name, value):
    """The command-line tokens that set option ``name`` of the study to ``value`` (none, for a false flag)."""
    try:
        return module.Options.to_argv(name, value)
    except ValueError as error:
        raise ValueError(f"parameter {error}") from None


def _value_text(value):
    if isinstance(value, (list, tuple)):
        return "+".join(_value_text(v) for v in value)
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    return str(value)


def _slug(names, values):
    if not names:
        return "default"
    return "__".join(_SAFE.sub("~", f"{name}={_value_text(value)}") for name, value in zip(names, values))


def _resolve_seeds(seeds):
    if isinstance(seeds, (bool, np.bool_)):
        raise ValueError(f"'seeds' must be a number of seeds or a list of seeds, got {seeds!r}")
    if isinstance(seeds, (int, np.integer)):
        if seeds < 1:
            raise ValueError(f"'seeds' must be at least 1, got {seeds}")
        return list(range(1, int(seeds) + 1))
    try:
        values = list(seeds)
    except TypeError as error:
        raise ValueError(f"'seeds' must be a number of seeds or a list of seeds, got {seeds!r}") from error
    if not values or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 0
                             for s in values):
        raise ValueError(f"'seeds' must be non-negative integers, got {seeds!r}")
    if len(set(values)) != len(values):
        raise ValueError(f"'seeds' must not repeat a seed, got {seeds!r}")
    return [int(s) for s in values]


def plan_points(study, grid, seeds, out_dir):
    """The points of a sweep, with their options checked by the study's own parser.

    Parameters
    ----------
    study : str or module
        A registered study name, or a study module (importable under its name on the workers).
    grid : dict or list of dict
        Parameter name (``trials``, ``--trials`` and ``max-iterations`` / ``max_iterations`` are
        all accepted) -> list of values; a list of one value fixes an option for all points.
        Flags (``store_true``) take ``True``/``False`` or ``'true'``/``'false'``. Or a list of
        combinations, each a dict parameter name -> one value, all naming the same parameters: the
        points are those combinations (not a Cartesian product).
    seeds : int or list of int
        ``N`` for seeds 1..N, or the seeds.
    out_dir : str

    Returns
    -------
    list of dict
        ``point`` (directory name of the values), ``seed``, ``params`` (name -> value as parsed),
        ``argv`` (the study's command line), ``run_dir``.
    """
    ref = _study_ref(study)
    module = _load(ref)
    parser = study_parser(module)
    for needed in SWEEP_OPTIONS:
        if module.Options.find_field(needed) is None:
            raise ValueError(f"study '{module.NAME}' has no '--{needed}' option, which a sweep needs")
    if isinstance(grid, (list, tuple)):
        combinations = _combinations(module, grid)
    elif isinstance(grid, dict):
        names, value_lists = _parameter_names(module, grid), []
        for raw_name, values in grid.items():
            if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
                values = [values]
            values = list(values)
            if not values:
                raise ValueError(f"parameter '{raw_name}' has no values")
            value_lists.append(values)
        combinations = [(names, combination) for combination in itertools.product(*value_lists)]
    else:
        raise ValueError(f"'grid' must be a dict parameter name -> list of values, or a list of combinations, got "
                         f"{type(grid).__name__}")
    seeds = _resolve_seeds(seeds)
    out_dir = os.path.abspath(out_dir)
    points = []
    for names, combination in combinations:
        argv = []
        for name, value in zip(names, combination):
            argv += _tokens(module, name, value)
        slug = _slug(names, combination)
        for seed in seeds:
            run_dir = os.path.join(out_dir, slug, f"seed{seed}")
            full = argv + ["--seed", str(seed), "--out", run_dir]
            namespace = parser.parse_args(full)
            module.Options.from_args(namespace)  # the options' own checks, before anything runs
            params = {name: _plain_value(getattr(namespace, name)) for name in names}
            points.append({"point": slug, "seed": seed, "params": params, "argv": full, "run_dir": run_dir})
    slugs = {}
    for point in points:
        key = (point["point"], point["seed"])
        if key in slugs and slugs[key] != point["argv"]:
            raise ValueError(f"two points share the directory '{point['point']}' (values that differ only in "
                             "characters other than letters, digits and . _ + = -); rename the values")
        slugs[key] = point["argv"]
    if len(slugs) != len(points):
        raise ValueError("the grid repeats a value of a parameter; give every value once")
    return ref, module, points


def _parameter_names(module, raw_names):
    """The study's option names of the parameters ``raw_names`` (flag or field spelling), checked."""
    names = []
    for raw_name in raw_names:
        field = module.Options.find_field(raw_name)
        if field is None:
            allowed = sorted({f.name for f in module.Options.cli_fields()} - set(SWEEP_OPTIONS))
            raise ValueError(f"unknown parameter '{raw_name}' of study '{module.NAME}'; allowed: {', '.join(allowed)}")
        if field.name in SWEEP_OPTIONS:
            raise ValueError(f"parameter '{raw_name}' is set by the sweep itself (use seeds and out_dir)")
        if field.name in names:
            raise ValueError(f"parameter '{raw_name}' is given twice")
        names.append(field.name)
    return names


def _combinations(module, combinations):
    """A list of combinations as ``[(names, values), ...]``; a combination may leave out a parameter that others
    set (the study's default then holds, and the point's directory name does not mention it)."""
    if not combinations or not all(isinstance(c, dict) and c for c in combinations):
        raise ValueError("'grid' as a list must hold one or more combinations, each a non-empty dict "
                         "parameter name -> value")
    return [(_parameter_names(module, c), tuple(c.values())) for c in combinations]


def _plain_value(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    return value


# -- one point, on a worker ---------------------------------------------------------------------------

def _read_json(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def completed_point(run_dir, ref, argv):
    """``(summary, record)`` of a point finished earlier with the same options, or ``None``."""
    summary = _read_json(os.path.join(run_dir, "summary.json"))
    record = _read_json(os.path.join(run_dir, POINT_FILE))
    if not isinstance(summary, dict) or not isinstance(record, dict):
        return None
    if summary.get("status", "completed") != "completed":
        return None
    if record.get("study") != list(ref) or _without_out(record.get("argv") or []) != _without_out(argv):
        return None
    return summary, record


def failed_point(run_dir):
    """The error of a point whose last attempt failed (its ``summary.json`` says ``failed``), or ``None``."""
    summary = _read_json(os.path.join(run_dir, "summary.json"))
    if isinstance(summary, dict) and summary.get("status") == "failed":
        return " ".join(str(summary.get("error") or "failed").split())
    return None


def _without_out(argv):
    """The options of a point without its ``--out`` (a sweep directory may be moved)."""
    argv = list(argv)
    if "--out" in argv:
        index = argv.index("--out")
        del argv[index:index + 2]
    return argv


def _worker_address():
    try:
        return get_worker().address
    except ValueError:
        return f"local:{os.getpid()}"


def run_point(ref, argv, run_dir):
    """Run one point of a sweep in this process (the task a Dask worker executes).

    Records the attempt in ``attempts.log``, runs the study with its output in ``log.txt``, and
    writes ``point.json`` after the study's ``summary.json``. Returns ``(summary, record)``.
    """
    with WORKER_LOCK:
        done = completed_point(run_dir, ref, argv)
        if done is not None:  # finished just before its worker died: nothing to redo
            return done
        module = _load(ref)
        options = module.Options.from_args(study_parser(module).parse_args(argv))
        # the sweep decides what is done (completed_point); a point not done is computed again in its directory
        options = dataclasses.replace(options, overwrite=True)
        os.makedirs(run_dir, exist_ok=True)
        worker = _worker_address()
        with open(os.path.join(run_dir, ATTEMPTS_FILE), "a", encoding="utf-8") as handle:
            handle.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} host {socket.gethostname()} pid {os.getpid()} "
                         f"worker {worker}\n")
        start = time.perf_counter()
        with point_scope() as scope, open(os.path.join(run_dir, LOG_FILE), "w", encoding="utf-8") as log, \
                contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            summary = module.run(options)
        wall = time.perf_counter() - start
        record = {"study": list(ref), "argv": list(argv), "worker": worker, "host": socket.gethostname(),
                  "pid": os.getpid(), "wall_seconds": wall, "build_reused": scope.reused,
                  "finished": time.strftime("%Y-%m-%dT%H:%M:%S")}
        path = os.path.join(run_dir, POINT_FILE)
        with open(path + ".tmp", "w", encoding="utf-8") as handle:
            json.dump(record, handle, indent=2)
        os.replace(path + ".tmp", path)
        stored = _read_json(os.path.join(run_dir, "summary.json"))
        return (stored if isinstance(stored, dict) else _jsonable(summary)), record


def _jsonable(value):
    return json.loads(json.dumps(value, default=lambda v: v.item() if isinstance(v, np.generic) else str(v)))


# -- the table ---------------------------------------------------------------------------------------

def flatten(summary, prefix=""):
    """Leaves of a nested summary dict as ``{'a.b.c': value}``; lists become JSON text."""
    flat = {}
    for key, value in summary.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, name + "."))
        elif isinstance(value, (list, tuple)):
            flat[name] = json.dumps(value)
        else:
            flat[name] = value
    return flat


def _row(point, status, summary=None, record=None, error=None, skipped=False):
    row = {"point": point["point"], "seed": point["seed"]}
    row.update({f"param.{name}": value for name, value in point["params"].items()})
    record = record or {}
    attempts_path = os.path.join(point["run_dir"], ATTEMPTS_FILE)
    try:
        with open(attempts_path, encoding="utf-8") as handle:
            attempts = sum(1 for line in handle if line.strip())
    except OSError:
        attempts = None
    row.update({"status": status, "error": error, "sweep.run_dir": point["run_dir"],
                "sweep.worker": record.get("worker"), "sweep.attempts": attempts,
                "sweep.build_reused": record.get("build_reused"), "sweep.wall_seconds": record.get("wall_seconds"),
                "sweep.skipped": skipped})
    for name, value in flatten(summary or {}).items():
        if name in row:
            if row[name] == value:
                continue
            name = f"summary.{name}"
        row[name] = value
    return row


def _column(values):
    """A column Parquet can store: numbers stay numbers, mixed columns become text."""
    present = [v for v in values if v is not None and not (isinstance(v, float) and np.isnan(v))]
    if all(isinstance(v, (bool, np.bool_)) for v in present):
        return pd.array([None if v is None else bool(v) for v in values], dtype="boolean")
    if all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) for v in present):
        if all(isinstance(v, (int, np.integer)) for v in present) and len(present) == len(values):
            return np.asarray(values, dtype=np.int64)
        return np.asarray([np.nan if v is None else float(v) for v in values], dtype=float)
    return pd.array([None if v is None else (v if isinstance(v, str) else json.dumps(v, default=str))
                     for v in values], dtype="string")


def sweep_table(rows):
    """A DataFrame of sweep rows (dicts), columns in first-seen order, types made Parquet-safe."""
    columns = list(dict.fromkeys(name for row in rows for name in row))
    return pd.DataFrame({name: _column([row.get(name) for row in rows]) for name in columns})


def write_table(table, out_dir):
    """Write ``sweep.parquet`` atomically, stamped with the table schema; return its path.

    Its columns mirror the points' options and summary keys, so their names are not checked against the
    table convention.
    """
    return tables.write_table(table, os.path.join(out_dir, TABLE_NAME), check_names=False)


# -- the sweep ---------------------------------------------------------------------------------------

@contextlib.contextmanager
def _client(scheduler, workers):
    """A Client: of ``scheduler`` (address or Client) or of a new local cluster of ``workers`` processes."""
    if isinstance(scheduler, Client):
        yield prepare_client(scheduler)
        return
    if scheduler is None:
        n_workers = workers or os.cpu_count() or 1
        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None)
        try:
            with Client(cluster) as client:
                yield prepare_client(client)
        finally:
            cluster.close()
        return
    if not isinstance(scheduler, str) or not scheduler:
        raise ValueError(f"'scheduler' must be an address such as tcp://host:8786, got {scheduler!r}")
    try:
        client = Client(scheduler, timeout=30)
    except OSError as error:
        raise ValueError(f"cannot reach the Dask scheduler '{scheduler}' for '--scheduler': {error}") from error
    with client:
        if workers:
            client.wait_for_workers(workers, timeout=WAIT_FOR_WORKERS_SECONDS)
        yield prepare_client(client)


def run_sweep(study, grid, seeds, out_dir, scheduler=None, workers=None, retries=DEFAULT_RETRIES, progress=True,
              compute=True):
    """Run ``study`` over ``grid`` x ``seeds`` on Dask; return the sweep table (also in ``out_dir/sweep.parquet``).

    Parameters
    ----------
    study : str or module
        A study name of :data:`brian2learn.studies.STUDIES`, or a study module (``NAME``,
        ``DESCRIPTION``, ``Options``, ``run``) importable under its name on the workers.
    grid : dict
        Parameter -> list of values (see :func:`plan_points`).
    seeds : int or list of int
        ``N`` for seeds 1..N, or the seeds.
    out_dir : str
        Directory of the sweep: one sub-directory per point, and ``sweep.parquet``.
    scheduler : str, distributed.Client or None
        Address of a running Dask scheduler (``tcp://host:8786``), a Client, or ``None`` for a
        local cluster.
    workers : int or None
        Local cluster: number of worker processes (default: one per core). External cluster:
        wait until this many workers have joined.
    retries : int
        Extra attempts of a point whose study raised.
    progress : bool
        Print ``points done / total`` on stderr.
    compute : bool
        False: run nothing, start no cluster and write no ``sweep.parquet``; the table holds the points already
        completed (a sweep still running elsewhere, or one stopped midway).

    Returns
    -------
    pandas.DataFrame
        One row per point and seed (module docstring); ``table.attrs`` holds the counts
        ``computed``, ``skipped``, ``failed`` and ``pending`` (points neither completed nor run: only without
        ``compute``; without it, ``failed`` counts the points whose last attempt failed, read from their run
        directories).
    """
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, (int, np.integer))
                                or workers < 1):
        raise ValueError(f"'workers' must be a positive integer, got {workers!r}")
    if isinstance(retries, bool) or not isinstance(retries, (int, np.integer)) or retries < 0:
        raise ValueError(f"'retries' must be a non-negative integer, got {retries!r}")
    ref, module, points = plan_points(study, grid, seeds, out_dir)
    out_dir = os.path.abspath(out_dir)
    if compute:
        os.makedirs(out_dir, exist_ok=True)
    label = f"sweep {module.NAME}"
    total = len(points)
    rows = [None] * total
    todo = []
    for index, point in enumerate(points):
        done = completed_point(point["run_dir"], ref, point["argv"])
        if done is None:
            todo.append(index)
        else:
            rows[index] = _row(point, "completed", *done, skipped=True)
    counts = {"computed": 0, "skipped": total - len(todo), "failed": 0, "pending": 0}
    start = time.perf_counter()
    if not compute:
        for index in todo:  # a point whose last attempt failed is finished, not pending
            error = failed_point(points[index]["run_dir"])
            if error is not None:
                rows[index] = _row(points[index], "failed", error=error)
                counts["failed"] += 1
        counts["pending"] = len(todo) - counts["failed"]
        table = sweep_table([row for row in rows if row is not None])
        table.attrs.update(counts)
        if progress:
            print(f"[{label}] {counts['skipped']}/{total} points completed, {counts['failed']} failed, "
                  f"{counts['pending']} pending (none run)", file=sys.stderr, flush=True)
        return table

    def report(point=None, outcome=""):
        if not progress:
            return
        finished = sum(row is not None for row in rows)
        what = f"  {point['point']} seed {point['seed']} {outcome}" if point is not None else ""
        print(f"[{label}] {finished}/{total} points done ({counts['skipped']} skipped, {counts['failed']} failed)"
              f"{what}  ({time.perf_counter() - start:.1f} s)", file=sys.stderr, flush=True)

    report()
    try:
        if todo:
            with _client(scheduler, workers) as client:
                futures = {}
                for index in todo:
                    point = points[index]
                    future = client.submit(run_point, ref, point["argv"], point["run_dir"], retries=int(retries),
                                           pure=False, key=f"sweep-{module.NAME}-{_token(point)}")
                    futures[future] = index
                for future in as_completed(futures):
                    index = futures.pop(future)
                    point = points[index]
                    if future.status == "finished":
                        summary, record = future.result()
                        rows[index] = _row(point, "completed", summary, record)
                        counts["computed"] += 1
                        report(point, f"on {record.get('worker')}")
                    else:
                        try:
                            error = future.exception()
                        except Exception as cancelled:  # noqa: BLE001  (a cancelled future has no exception)
                            error = cancelled
                        message = " ".join(f"{type(error).__name__}: {error}".split())
                        rows[index] = _row(point, "failed", error=message)
                        counts["failed"] += 1
                        report(point, f"FAILED ({message})")
    finally:
        # Also after an interruption: the table of what is finished (the points' own results are on disk).
        finished_rows = [row for row in rows if row is not None]
        if finished_rows:
            write_table(sweep_table(finished_rows), out_dir)
    table = sweep_table(rows)
    table.attrs.update(counts)
    if progress:
        print(f"[{label}] table: {os.path.join(out_dir, TABLE_NAME)}", file=sys.stderr, flush=True)
    return table


def _token(point):
    digest = hashlib.sha1(json.dumps(point["argv"]).encode()).hexdigest()[:10]
    return f"{point['point'][:40]}-seed{point['seed']}-{digest}-{time.time_ns()}"
