"""Devices: one model, simulated on Brian2's runtime device or compiled once with ``cpp_standalone``.

A *model* here is any object with

- ``network``: the :class:`brian2.Network` to simulate,
- ``run()``: the simulation of one run (it may call ``network.run`` several times),
- ``state_variables()``: a dict name -> (group, variable name) of what a run takes,
- ``stimulus_arrays()``: a dict name -> :class:`brian2.TimedArray` of what a run takes.

:class:`DeviceRunner` builds the model once and runs it as often as asked, each run
starting from the values passed to it. In ``cpp_standalone`` this is one compilation,
then a re-run of the binary per call with ``run_args`` (Brian2 >= 2.10); on the runtime
device the model is constructed anew for each call, which is slower but convenient for
debugging. Brian2's silent failures in standalone mode are turned into errors:

- a :class:`brian2.NetworkOperation` never runs in standalone mode; it is refused;
- synapses whose number or indices change between runs (for example from an unseeded
  ``connect(p=...)``) would silently keep the old weights; each run is checked;
- the files ``run_args`` writes for array values are removed after the run.

Standalone projects are compiled once per machine: :mod:`~brian2learn.simulation.build_cache` keeps
the compiled binary of every generated project, and a runner whose model generates the same project
runs that binary instead of compiling (``cache=False`` or ``BRIAN2LEARN_BUILD_CACHE=off`` to build in
the runner's own directory). Results and ``run_args`` files of each run are scratch: they go to a
directory in memory (:func:`scratch_root`, ``/dev/shm`` where it exists) that the runner removes when it
closes, else to the runner's directory; writing the binary's ~200 result files to a journaling disk
took as long as the run of a small network.
"""

import atexit
import contextlib
import gc
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import brian2 as b2
import numpy as np
from brian2.codegen.cpp_prefs import get_compiler_and_args
from brian2.units.fundamentalunits import fail_for_dimension_mismatch

from brian2learn.simulation.build_cache import BuildCache, cache_root
from brian2learn.simulation.interrupt import interrupted_compile
from brian2learn.simulation.makefile import PRECOMPILED_HEADER, speed_up_makefile

DEVICES = ("runtime", "cpp_standalone")

_SEED_CODE = """
{{
    const unsigned long _brian2learn_seed = (unsigned long)({array}[0]);
    for (size_t _k = 0; _k < brian::_random_generators.size(); _k++)
        brian::_random_generators[_k].seed(_brian2learn_seed + _k);
}}
"""


#: Default step length: a power of two, so that every time of the step clock and of the trial clock
#: is an exact binary fraction and the two clocks stay in lock-step (see :func:`check_clock_lockstep`).
STEP_DT = 2.0 ** -10 * b2.second


def check_clock_lockstep(dt, steps_per_trial, n_trials):
    """Raise ``ValueError`` if a trial clock of ``steps_per_trial * dt`` drifts from the step clock.

    Brian2 runs clocks together when their times differ by at most 1e-14 s (an absolute
    tolerance); ``k * (T dt)`` and ``(k T) * dt`` can differ by more once the times reach tens of
    seconds (with ``dt = 1 ms`` and ``T = 99`` first at trial 650, 64.35 s), and the trial-boundary
    operations then run one step late. A power-of-two ``dt`` (:data:`STEP_DT`) makes both exact.
    """
    step = float(dt)
    boundaries = np.arange(n_trials + 2, dtype=np.int64)
    trial_times = boundaries * (steps_per_trial * step)
    step_times = (boundaries * steps_per_trial) * step
    drift = np.abs(trial_times - step_times)
    if np.any(drift > 1e-14):
        first = int(np.flatnonzero(drift > 1e-14)[0])
        raise ValueError(f"'dt' = {dt!r} lets the trial clock drift from the step clock at trial {first} "
                         f"({drift[first]:.3g} s > Brian2's 1e-14 s); use a power of two, e.g. 2**-10*second")


def schedule(obj, when, order):
    """Put a Brian2 code object (a summed-variable updater, a thresholder, a pathway) in slot ``when``, ``order``.

    The rules write each step as code in fixed scheduling slots (``before_groups``, ``groups``,
    ``after_groups``, ``start`` at trial boundaries, ...); objects that Brian2 creates itself get
    their slot here.
    """
    obj.when = when
    obj.order = order


def is_standalone():
    """Whether Brian2's current device is ``cpp_standalone``."""
    return b2.get_device().__class__.__name__ == "CPPStandaloneDevice"


def reactivate_standalone(runner):
    """Make the standalone device current again before re-running ``runner``'s built binary.

    :class:`~brian2learn.simulation.devices.DeviceRunner` switches Brian2's global device to
    ``runtime`` whenever a runtime runner runs; a standalone runner built earlier would then send
    its next run to the runtime device. :meth:`DeviceRunner.run` calls it before every run.
    """
    if runner.device == "cpp_standalone" and runner.model is not None and not is_standalone():
        b2.set_device("cpp_standalone", build_on_run=False)


def seed_standalone_from_variable(variable):
    """Make a ``cpp_standalone`` binary seed its random generators from ``variable[0]`` at every run.

    Call it while building, before the first ``network.run``: it applies ``run_args`` (so that the
    value passed to a run is in place) and inserts the seeding right after. A generic helper that
    """
    if not is_standalone():
        raise RuntimeError("seed_standalone_from_variable() needs the cpp_standalone device")
    if not b2.device.run_args_applied:
        b2.device.apply_run_args()
    b2.device.insert_code("main", _SEED_CODE.format(array=b2.device.get_array_name(variable)))


def seed_run(rng_group, seeded):
    """Seed the random generators of the coming run from ``rng_group.seed[0]``.

    In ``cpp_standalone`` the seeding is built into the binary once (``seeded`` says whether it
    already is) and reads the value passed to each run; on the runtime device every run calls
    ``b2.seed``. Returns the new ``seeded`` state.
    """
    if is_standalone():
        if not seeded:
            seed_standalone_from_variable(rng_group.variables["seed"])
        return True
    b2.seed(int(rng_group.seed[0]))
    return seeded


class StandaloneGuardError(RuntimeError):
    """A Brian2 construct that would fail silently in standalone mode."""


def _all_objects(network):
    seen = []
    stack = list(network.objects)
    while stack:
        obj = stack.pop()
        if any(obj is other for other in seen):
            continue
        seen.append(obj)
        stack.extend(getattr(obj, "contained_objects", []))
    return seen


def check_no_network_operation(network):
    """Raise :class:`StandaloneGuardError` if the network holds a NetworkOperation."""
    operations = [obj.name for obj in _all_objects(network) if isinstance(obj, b2.NetworkOperation)]
    if operations:
        raise StandaloneGuardError(
            f"network_operation {operations} would never run in cpp_standalone mode (Brian2 skips "
            "it without warning); write it as Brian2 code (run_regularly) or use the runtime device"
        )


def _synapse_groups(network):
    return [obj for obj in _all_objects(network) if isinstance(obj, b2.Synapses)]


class _ExitStatusRecorder:
    """Records the exit status of the binary that Brian2 starts (Brian2 reports only that it failed).

    Within :meth:`installed`, Brian2's standalone device module sees this object as its
    ``subprocess`` module: ``call`` is :func:`subprocess.call` keeping the return code, everything
    else is the real module.
    """

    def __init__(self):
        self.returncode = None

    def call(self, *args, **kwargs):
        self.returncode = subprocess.call(*args, **kwargs)
        return self.returncode

    def __getattr__(self, name):
        return getattr(subprocess, name)

    @contextlib.contextmanager
    def installed(self):
        from brian2.devices.cpp_standalone import device as standalone_module

        original = standalone_module.subprocess
        standalone_module.subprocess = self
        try:
            yield self
        finally:
            standalone_module.subprocess = original


class RunnerHolder:
    """An object that holds a :class:`DeviceRunner` in ``self.runner`` (a trainer, a substrate).

    ``close()`` releases the runner's build, and ``with Holder(...) as holder:`` closes it at the end
    of the block.
    """

    def close(self):
        """Release the build."""
        self.runner.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


#: Environment variable naming the directory for the runs' scratch files (``off``: the runner's directory).
SCRATCH_ENV = "BRIAN2LEARN_SCRATCH"
_SCRATCH_PREFIX = "brian2learn_runs_"
_scratch_directories = set()  # this process's, removed at exit if a runner was never closed


def scratch_root():
    """Where runners put each run's result and ``run_args`` files: ``$BRIAN2LEARN_SCRATCH``, else
    ``/dev/shm`` (memory) where it is a writable directory; ``None`` (the runner's own directory) otherwise
    or with ``BRIAN2LEARN_SCRATCH=off``."""
    chosen = os.environ.get(SCRATCH_ENV)
    if chosen is not None:
        if chosen.strip().lower() == "off":
            return None
        if not (os.path.isdir(chosen) and os.access(chosen, os.W_OK)):
            raise ValueError(f"{SCRATCH_ENV}={chosen!r} must be a writable directory or 'off'")
        return chosen
    default = "/dev/shm"
    return default if os.path.isdir(default) and os.access(default, os.W_OK) else None


def _make_scratch(root):
    """A new scratch directory of this process under ``root``; removes those of processes that are gone."""
    with contextlib.suppress(OSError):
        for entry in os.listdir(root):
            match = re.fullmatch(_SCRATCH_PREFIX + r"(\d+)_.*", entry)
            if match and not _process_alive(int(match.group(1))):
                shutil.rmtree(os.path.join(root, entry), ignore_errors=True)
    path = tempfile.mkdtemp(prefix=f"{_SCRATCH_PREFIX}{os.getpid()}_", dir=root)
    _scratch_directories.add(path)
    return path


def _process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


@atexit.register
def _remove_scratch_directories():
    for path in list(_scratch_directories):
        shutil.rmtree(path, ignore_errors=True)


def _uniform(array):
    """Whether every element of a 1-d array has the same bits as the first (so -0.0 and 0.0 differ)."""
    if array.ndim != 1 or array.size == 0 or array.dtype == bool or not np.isfinite(array[0]):
        return False  # the binary reads a value that does not start with a digit or '-' as a file name
    bits = array.view(f"u{array.itemsize}")
    return bool((bits == bits[0]).all())


def _run_arg_array(key, value):
    """Brian2's run argument name and the array of ``value`` for ``key`` (a variable or a TimedArray), checked
    as Brian2 checks them (units, size)."""
    if isinstance(key, b2.TimedArray):
        fail_for_dimension_mismatch(key.dim, value)
        array = np.ascontiguousarray(np.asarray(value, dtype=key.values.dtype))
        if array.size != 1 and array.shape != key.values.shape:
            raise TypeError(f"Incorrect size for variable '{key.name}.values'. Shape {key.values.shape} != "
                            f"{array.shape}.")
        return f"{key.name}.values", array
    fail_for_dimension_mismatch(key.dim, value)
    array = np.ascontiguousarray(np.asarray(value, dtype=key.dtype))
    if array.size != 1 and (array.ndim != 1 or (not key.variable.dynamic and array.size != key.shape[0])):
        raise TypeError(f"Incorrect size for variable '{key.group_name}.{key.name}'. Shape {key.shape} != "
                        f"{array.shape}.")
    return f"{key.group_name}.{key.name}", array


class DeviceRunner:
    """Build a model once and run it many times with new values.

    Parameters
    ----------
    build : callable
        ``build()`` constructs the model's Brian2 objects and returns the model.
    device : {'runtime', 'cpp_standalone'}
    directory : str or None
        Directory of the runner's files (a temporary one if ``None``, deleted by :meth:`close`): without
        the build cache the project; the results of its runs and the arrays passed to them where no
        :func:`scratch_root` is available.
    threads : int or None
        OpenMP threads of the standalone build (random streams depend on this number).
    codegen_target : str
        Code generation target of the runtime device (``'numpy'`` or ``'cython'``).
    announce : bool
        Say on stderr when the C++ build starts and how long it took (it is the one long silent step).
    cache : bool or str or None
        Use the build cache (:mod:`~brian2learn.simulation.build_cache`): ``None`` where
        ``BRIAN2LEARN_BUILD_CACHE`` is not ``off``, a path for a cache there, ``False`` for none.

    Attributes
    ----------
    n_builds, n_runs : int
        How many builds (compiled or taken from the cache) and runs happened.
    compile_seconds, run_seconds : float
        Time spent building (code generation and compiling, or finding the cached binary) and running.
    project_directory : str or None
        Where the compiled project is (a build-cache entry, or ``directory`` without the cache).
    reused_build : bool
        Whether the last build came from the cache without compiling.
    scratch_directory : str or None
        Where the runs' result and ``run_args`` files go (set by the first standalone run): a directory
        under :func:`scratch_root`, removed by :meth:`close`, or ``directory``.
    """

    def __init__(self, build, device="cpp_standalone", directory=None, threads=None, codegen_target="numpy",
                 announce=True, cache=None):
        if device not in DEVICES:
            raise ValueError(f"unknown device {device!r}; allowed: {', '.join(DEVICES)}")
        self.build = build
        self.device = device
        self._own_directory = directory is None
        self.directory = directory
        self.threads = threads
        self.codegen_target = codegen_target
        self.announce = bool(announce)
        if cache is None or cache is True:
            root = cache_root()
            self.cache = BuildCache(root) if root is not None else None
        elif cache is False:
            self.cache = None
        else:
            self.cache = BuildCache(os.fspath(cache))
        self.project_directory = None
        self.scratch_directory = None
        self.reused_build = False
        self._cached_project = None
        self._run_args_files = []
        self.model = None
        self.n_builds = 0
        self.n_runs = 0
        self.compile_seconds = 0.0
        self.run_seconds = 0.0
        self._structure = None
        self._standalone_active = False

    # -- public ----------------------------------------------------------------------------
    def run(self, values=None, stimuli=None):
        """Run the model once, starting from ``values`` and with ``stimuli``.

        Parameters
        ----------
        values : dict
            name -> array for the model's ``state_variables()`` (with units where the
            variable has them). Variables not given start from their built values.
        stimuli : dict
            name -> array for the model's ``stimulus_arrays()``, of the built shape.

        Returns
        -------
        model
            The model, whose monitors and variables hold the results of this run.
        """
        values = values or {}
        stimuli = stimuli or {}
        if self.device == "runtime":
            return self._run_runtime(values, stimuli)
        return self._run_standalone(values, stimuli)

    def close(self):
        """Release the standalone device and the cached build; delete a temporary directory."""
        if self._standalone_active:
            reactivate_standalone(self)  # a runtime runner may have made runtime current: reset the right device
            self._standalone_active = False
            b2.device.reinit()
            b2.device.activate()
            b2.set_device("runtime")
            b2.prefs.devices.cpp_standalone.openmp_threads = self._previous_threads
        if self._cached_project is not None:
            self._cached_project.release()
            self._cached_project = None
        if self.scratch_directory is not None and self.scratch_directory != self.directory:
            shutil.rmtree(self.scratch_directory, ignore_errors=True)
            _scratch_directories.discard(self.scratch_directory)
        self.scratch_directory = None
        if self._own_directory and self.directory and os.path.isdir(self.directory):
            shutil.rmtree(self.directory, ignore_errors=True)
        self.model = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- runtime -----------------------------------------------------------------------------
    def _run_runtime(self, values, stimuli):
        b2.set_device("runtime")
        previous_target = b2.prefs.codegen.target
        b2.prefs.codegen.target = self.codegen_target
        try:
            # Brian2's name lookup (brian2.core.names.find_name) dereferences each weak reference to its objects
            # twice; an unreachable object that the garbage collector frees in between fails the lookup
            # ('NoneType' object has no attribute 'name'), so collect the previous runs' objects first
            gc.collect()
            model = self.build()
            self._check_values(model, values, stimuli)
            for name, value in values.items():
                group, var = model.state_variables()[name]
                setattr(group, var, value)
            for name, value in stimuli.items():
                model.stimulus_arrays()[name].values[:] = np.asarray(value).reshape(
                    model.stimulus_arrays()[name].values.shape)
            start = time.perf_counter()
            model.run()
            self.run_seconds += time.perf_counter() - start
        finally:
            b2.prefs.codegen.target = previous_target
        self.model = model
        self.n_builds += 1
        self.n_runs += 1
        return model

    # -- standalone --------------------------------------------------------------------------
    def _run_standalone(self, values, stimuli):
        reactivate_standalone(self)
        if self.model is None:
            self._build_standalone(values, stimuli)
        model = self.model
        self._check_values(model, values, stimuli)
        run_args = {}
        for name, value in values.items():
            group, var = model.state_variables()[name]
            run_args[getattr(group, var)] = value
        for name, value in stimuli.items():
            array = model.stimulus_arrays()[name]
            run_args[array] = np.ascontiguousarray(np.asarray(value, dtype=float).reshape(array.values.shape))
        arguments = self._run_arguments(run_args)
        results = os.path.relpath(os.path.join(self.scratch_directory, "results"), self.project_directory)
        start = time.perf_counter()
        recorder = _ExitStatusRecorder()
        try:
            with recorder.installed():
                b2.device.run(directory=self.project_directory, results_directory=results, with_output=False,
                              run_args=arguments)
        except RuntimeError as error:
            if recorder.returncode is None or not str(error).startswith("Project run failed"):
                raise
            raise RuntimeError(self._run_failure(recorder.returncode)) from None
        finally:
            self._remove_run_args_files()
        self.run_seconds += time.perf_counter() - start
        self.n_runs += 1
        self._check_structure(model)
        return model

    def _build_standalone(self, values, stimuli):
        if self.directory is None:
            self.directory = tempfile.mkdtemp(prefix="brian2learn_build_")
        if self.scratch_directory is None:
            root = scratch_root()
            self.scratch_directory = _make_scratch(root) if root is not None else self.directory
        if b2.get_device().__class__.__name__ == "CPPStandaloneDevice" and b2.device.has_been_run:
            b2.device.reinit()
            b2.device.activate()
        b2.set_device("cpp_standalone", build_on_run=False)
        # Brian2 names a new object '<name>_1' while an unreachable older one with its name waits for the
        # garbage collector; collected, the objects get the names of a fresh process (the cache key's)
        gc.collect()
        self._standalone_active = True
        self._previous_threads = b2.prefs.devices.cpp_standalone.openmp_threads
        if self.threads:
            b2.prefs.devices.cpp_standalone.openmp_threads = int(self.threads)
        model = self.build()
        check_no_network_operation(model.network)
        self._check_values(model, values, stimuli)
        model.run()
        start = time.perf_counter()
        if self.cache is None:
            self._announce(f"compiling the C++ project in {self.directory} (a fresh build takes 10-30 s)")
            b2.device.build(directory=self.directory, compile=False, run=False, with_output=False)
            speed_up_makefile(self.directory)
            self._compile_project(self.directory)
            self.project_directory = self.directory
            self.reused_build = False
        else:
            self._build_cached(type(model).__name__)
        seconds = time.perf_counter() - start
        self.compile_seconds += seconds
        if not self.reused_build:
            self._announce(f"compiled in {seconds:.1f} s")
        self.n_builds += 1
        self.model = model
        self._structure = {syn.name: None for syn in _synapse_groups(model.network)}

    def _build_cached(self, description):
        """Generate the project into the cache's staging area; compile it only if the cache lacks it."""
        staging = self.cache.staging_directory()
        try:
            b2.device.build(directory=staging, compile=False, run=False, with_output=False)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

        speed_up_makefile(staging)  # before the project is hashed: the rewritten makefile is the cache's

        def compile_project(directory):
            self._announce(f"compiling the C++ project (a fresh build takes 10-30 s; kept in the build cache "
                           f"{self.cache.root})")
            self._compile_project(directory)

        project = self.cache.use(staging, compile_project, description=description, announce=self._announce)
        self._cached_project = project
        self.project_directory = b2.device.project_dir = project.path
        self.reused_build = project.reused
        if project.reused:
            self._announce(f"using the compiled build {project.key[:12]} from the build cache (no C++ compile)")

    @classmethod
    def _compile_project(cls, directory):
        """Compile the generated project in ``directory`` (its makefile already sped up by
        :func:`~brian2learn.simulation.makefile.speed_up_makefile`); the precompiled header (some 50 MB, needed
        only while compiling) is removed afterwards."""
        compiler, _ = get_compiler_and_args()
        try:
            cls._compile(lambda: b2.device.compile_source(directory, compiler, False, False))
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.remove(os.path.join(directory, PRECOMPILED_HEADER))

    @staticmethod
    def _compile(compile_call):
        try:
            compile_call()
        except RuntimeError as error:
            interrupted = interrupted_compile(error)
            if interrupted is not None:  # Ctrl-C killed make: an interruption, not a broken project
                raise interrupted from None
            raise

    def _announce(self, text):
        if self.announce:
            print(f"[brian2learn] {text}", file=sys.stderr, flush=True)

    def _run_arguments(self, run_args):
        """Brian2's ``name=value`` arguments for ``run_args``; arrays go to files in this runner's scratch.

        Brian2 would write them into the project's ``static_arrays``, which the build cache shares
        between processes; here each runner has its own (absolute paths: the binary reads a value
        that does not start with a digit or '-' as a file name).
        """
        arguments = []
        folder = os.path.join(self.scratch_directory, "run_args")
        for key, value in run_args.items():
            name, array = _run_arg_array(key, value)
            if array.size == 1 or (not isinstance(key, b2.TimedArray) and _uniform(array)):
                # a single value goes on the command line (the binary fills the variable with it): zeroed
                # gradients and unused optimizer state of a large network cost no file
                arguments.append(f"{name}={array.flat[0].item()!r}")
                continue
            # each run's files are removed after it, so a name per run does (Brian2 would hash every array)
            os.makedirs(folder, exist_ok=True)
            text = os.path.join(folder, f"{name}_{self.n_runs}.dat")
            array.tofile(text)
            self._run_args_files.append(text)
            arguments.append(f"{name}={text}")
        return arguments

    def _run_failure(self, returncode):
        """The one-line message for a binary that ended with ``returncode`` (negative: killed by a signal)."""
        if returncode < 0:
            try:
                reason = f"killed by {signal.Signals(-returncode).name}"
            except ValueError:
                reason = f"killed by signal {-returncode}"
        else:
            reason = f"exit status {returncode}"
        output = ""
        with contextlib.suppress(OSError):
            with open(os.path.join(self.scratch_directory, "results", "stdout.txt"), encoding="utf-8",
                      errors="replace") as handle:
                tail = " | ".join(line.strip() for line in handle.read().strip().splitlines()[-3:])
            output = f"; its last output: {tail}" if tail else ""
        return (f"the compiled simulation stopped ({reason}) in run {self.n_runs + 1} of "
                f"{type(self.model).__name__} (project {self.project_directory}){output}")

    def _remove_run_args_files(self):
        for path in self._run_args_files:
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
        self._run_args_files.clear()

    # -- guards ------------------------------------------------------------------------------
    def _check_values(self, model, values, stimuli):
        known = model.state_variables()
        for name, value in values.items():
            if name not in known:
                raise ValueError(f"unknown state variable {name!r}; known: {', '.join(sorted(known))}")
            group, var = known[name]
            known_indices = (self._structure or {}).get(group.name)
            if isinstance(group, b2.Synapses) and known_indices is not None:
                expected = len(known_indices[0])
                size = np.size(value)
                if size not in (1, expected):
                    raise ValueError(
                        f"'{name}' has {size} values but {group.name} has {expected} synapses"
                    )
        arrays = model.stimulus_arrays()
        for name, value in stimuli.items():
            if name not in arrays:
                raise ValueError(f"unknown stimulus {name!r}; known: {', '.join(sorted(arrays))}")
            shape = arrays[name].values.shape
            if np.size(value) != int(np.prod(shape)):
                raise ValueError(f"stimulus '{name}' must have shape {shape}, got {np.shape(value)}")

    def _check_structure(self, model):
        """Synapse indices must not change from run to run (run_args would go to other synapses)."""
        for syn in _synapse_groups(model.network):
            indices = (np.asarray(syn.i[:]).copy(), np.asarray(syn.j[:]).copy())
            known = self._structure.get(syn.name) if self._structure is not None else None
            if self._structure is None:
                self._structure = {}
            if known is None:
                self._structure[syn.name] = indices
                continue
            if len(indices[0]) != len(known[0]) or not (
                np.array_equal(indices[0], known[0]) and np.array_equal(indices[1], known[1])
            ):
                raise StandaloneGuardError(
                    f"the synapses of '{syn.name}' changed between runs ({len(known[0])} -> "
                    f"{len(indices[0])} synapses); values passed by run_args would land on other "
                    "synapses. Seed the connection (b2.seed before connect) or connect with explicit "
                    "indices."
                )
