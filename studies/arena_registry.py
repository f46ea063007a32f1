"""What the learning-rule arena runs: its tasks, its rules, and the protocol of one cell.

A *task* (:class:`ArenaTask`) names a problem, the measure a cell reports on it (accuracy or loss),
the criterion for *trials to criterion*, and the budget in trials per mode. A *rule*
(:class:`ArenaRule`) gives, for every task it is defined on, a *cell function*; for every other task
the reason the cell is empty. A cell function trains one network of the task from one seed within the
budget and scores it::

    def my_cell(spec: CellSpec) -> CellResult: ...

Every rule of a task trains a network of the same size (the task's ``network``), from a seed, for
``spec.trials`` trials (one trial: one example or one sequence presented, with or without an
update), and scores it on the task's held-out split (``spec.split``: ``'test'``; ``'validation'``
when hyperparameters are being chosen). The arena measures the wall time; the cell reports the rest.

Adding a rule or a task is one registration, the same call the built-in ones make
(:mod:`brian2learn.studies.arena_cells`)::

    from brian2learn.studies.arena_registry import ArenaRule, register_rule

    register_rule(ArenaRule("my-rule", "what it is (citation)", cells={"xor": my_cell},
                            empty={"pattern": "why it cannot run there"}))

A module holding registrations is named with ``brian2learn arena --register MODULE`` (every worker
imports it before running a cell).
"""

import dataclasses
import importlib
import math

#: Measures a task can report: accuracy (higher is better, perfect 1) or a loss (lower is better, perfect 0).
METRICS = {"accuracy": {"higher_is_better": True, "perfect": 1.0}, "loss": {"higher_is_better": False,
                                                                            "perfect": 0.0}}
MODES = ("quick", "full")
SPLITS = ("test", "validation")
DEVICES = ("cpp_standalone", "runtime")
DEFAULT_SEEDS = 5
#: The weight-precision axis: the resolutions run by ``--bits`` (signed levels, models.weight_levels) and where a
#: layer's levels lie: its largest initial |w| (its biases share the layer's levels) on level ``largest_level`` of
#: the ``2**(bits - 1) - 1`` of each sign, so the range is about +-2 times it (:func:`layer_levels`). Updates
#: accumulate at full precision and the network runs with the weights rounded to the levels (on-chip learning);
#: weight perturbation perturbs by one level.
PRECISION = {"bits": (8, 6, 4), "largest_level": "2**(bits - 2)"}
#: The tuning budget, the same for every rule and task: the learning-rate factors tried, the seeds they are tried
#: on (none of them a test seed) and the split they are scored on. Tasks without held-out data (one fixed trial,
#: or the four XOR patterns) score their training data there, as in their test runs.
TUNING = {"learning_rate_factors": (0.25, 1.0, 4.0), "seeds": (101,), "split": "validation"}


def layer_levels(bits, largest):
    """``(step, limit)`` of a layer on the precision axis (:data:`PRECISION`): signed ``bits``-bit levels
    (``limit = 2**(bits - 1) - 1`` of each sign) with the layer's largest initial |value| ``largest`` exactly on
    level ``2**(bits - 2)``; the range ``limit * step`` is then 1.75 (4 bits), 1.94 (6) or 1.98 (8) times it.

    On a level rather than halfway between two (as a range of exactly twice the largest value would put it), the
    largest weight rounds the same in every implementation (numpy, JAX's reciprocal, Brian2's C++).
    """
    if isinstance(bits, bool) or not isinstance(bits, int) or bits < 2:
        raise ValueError(f"'bits' must be an integer >= 2, got {bits!r}")
    if not (math.isfinite(largest) and largest > 0):
        raise ValueError(f"'largest' must be a positive number, got {largest!r}")
    return largest / 2 ** (bits - 2), float(2 ** (bits - 1) - 1)


@dataclasses.dataclass(frozen=True)
class ArenaTask:
    """A task of the arena.

    Parameters
    ----------
    name : str
        Short name (letters, digits, ``-``), e.g. ``'xor'``.
    description : str
        The task and where it is defined (paper, module of :mod:`brian2learn.tasks`).
    metric : {'accuracy', 'loss'}
    criterion : float
        Performance that counts as learned: accuracy at least, or loss at most, this value.
    budget : dict
        Mode (``'quick'``, ``'full'``) -> trials per cell.
    wall_cap_seconds : dict
        Mode -> largest wall time of one cell (a cell function stops training when it is reached and
        reports the trials it used).
    network : dict
        Mode -> a text stating the network every rule trains on this task (sizes), for the table.
    """

    name: str
    description: str
    metric: str
    criterion: float
    budget: dict
    wall_cap_seconds: dict
    network: dict

    def __post_init__(self):
        _check_name("task", self.name)
        if self.metric not in METRICS:
            raise ValueError(f"task '{self.name}': 'metric' must be one of {', '.join(METRICS)}, got {self.metric!r}")
        if not math.isfinite(self.criterion):
            raise ValueError(f"task '{self.name}': 'criterion' must be a finite number, got {self.criterion!r}")
        for field in ("budget", "wall_cap_seconds", "network"):
            value = getattr(self, field)
            if not isinstance(value, dict) or set(value) != set(MODES):
                raise ValueError(f"task '{self.name}': '{field}' must map each mode ({', '.join(MODES)}) to a value, "
                                 f"got {value!r}")
        for mode in MODES:
            trials, cap = self.budget[mode], self.wall_cap_seconds[mode]
            if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
                raise ValueError(f"task '{self.name}': budget['{mode}'] must be a positive number of trials, "
                                 f"got {trials!r}")
            if not (isinstance(cap, (int, float)) and math.isfinite(cap) and cap > 0):
                raise ValueError(f"task '{self.name}': wall_cap_seconds['{mode}'] must be a positive number, "
                                 f"got {cap!r}")

    @property
    def higher_is_better(self):
        return METRICS[self.metric]["higher_is_better"]

    @property
    def perfect(self):
        return METRICS[self.metric]["perfect"]

    def meets_criterion(self, performance):
        """Whether a performance reaches the criterion (NaN never does)."""
        if performance is None or not math.isfinite(performance):
            return False
        return performance >= self.criterion if self.higher_is_better else performance <= self.criterion


@dataclasses.dataclass(frozen=True)
class ArenaRule:
    """A learning rule of the arena.

    Parameters
    ----------
    name : str
    description : str
        The rule and its source (paper; module of :mod:`brian2learn.plasticity`).
    cells : dict
        Task name -> cell function ``f(CellSpec) -> CellResult``.
    empty : dict
        Task name -> why the rule has no cell on that task (a task in neither dict is reported as
        "not registered").
    hyperparameters : dict
        Task name -> the values the rule's cell uses, with where each comes from (for the table).
    discrete_weights : tuple of str
        Tasks whose cell honours ``CellSpec.weight_bits`` (the precision axis).
    """

    name: str
    description: str
    cells: dict
    empty: dict = dataclasses.field(default_factory=dict)
    hyperparameters: dict = dataclasses.field(default_factory=dict)
    discrete_weights: tuple = ()

    def __post_init__(self):
        _check_name("rule", self.name)
        for task, function in self.cells.items():
            if not callable(function):
                raise ValueError(f"rule '{self.name}': the cell of task '{task}' must be callable, got {function!r}")
        both = set(self.cells) & set(self.empty)
        if both:
            raise ValueError(f"rule '{self.name}': task(s) {sorted(both)} both have a cell and are marked empty")
        without = set(self.discrete_weights) - set(self.cells)
        if without:
            raise ValueError(f"rule '{self.name}': 'discrete_weights' names task(s) {sorted(without)} without a cell")

    def why_empty(self, task):
        return self.empty.get(task, "no cell registered")


@dataclasses.dataclass(frozen=True)
class CellSpec:
    """What a cell function is asked to do.

    ``learning_rate_factor`` multiplies the rule's learning rate on the task (every cell function honours it):
    the arena's tuning (:data:`TUNING`) tries the same few factors for every rule on the validation split.
    ``weight_bits`` (the precision axis; None: full precision) asks for a network whose weights are held at
    signed discrete levels of that many bits (:data:`PRECISION`); only the cells a rule lists in
    ``ArenaRule.discrete_weights`` are asked.
    """

    rule: ArenaRule
    task: ArenaTask
    seed: int
    mode: str
    trials: int
    wall_cap_seconds: float
    split: str
    device: str
    run_dir: str
    learning_rate_factor: float = 1.0
    weight_bits: int | None = None

    @property
    def quick(self):
        return self.mode == "quick"


@dataclasses.dataclass
class CellResult:
    """What a cell function reports.

    Parameters
    ----------
    performance : float
        The task's measure on its held-out split after training.
    untrained : float
        The same measure of the network before training (normalisation: the fraction of the gap from the
        untrained network to a perfect one that training closed).
    curve : pandas.DataFrame
        ``trial`` (trials done) and ``performance`` (held-out or training measure, named in ``curve_split``)
        during training; trials to criterion are read from it.
    trials : int
        Trials used (less than the budget when the wall-time cap stopped training).
    compile_seconds : float
        Time spent building C++ (0 for numpy/JAX cells).
    spikes_per_trial, synaptic_operations_per_trial, energy_complexity : float or None
        Energy of one evaluation trial: spikes, synaptic events (spikes times fan-out; for rate networks the
        multiply-adds or synapse passes of one trial), the most neurons active in one time step (None for
        rate networks).
    gradient_cosine_bptt : float or None
        Cosine between the rule's weight update and BPTT's on the same network and batch, where defined.
    curve_split : str
        Which data the curve scores (``'training'`` or the held-out split).
    notes : str
    """

    performance: float
    untrained: float
    curve: object
    trials: int
    compile_seconds: float = 0.0
    spikes_per_trial: float | None = None
    synaptic_operations_per_trial: float | None = None
    energy_complexity: float | None = None
    gradient_cosine_bptt: float | None = None
    curve_split: str = "training"
    notes: str = ""


TASKS: dict[str, ArenaTask] = {}
RULES: dict[str, ArenaRule] = {}
_BUILT_IN = "brian2learn.studies.arena_cells"
_loaded = set()


def register_task(task):
    """Add ``task`` (an :class:`ArenaTask`); a name registered twice is an error."""
    return _register(task, ArenaTask, TASKS, "task")


def register_rule(rule):
    """Add ``rule`` (an :class:`ArenaRule`); a name registered twice is an error."""
    return _register(rule, ArenaRule, RULES, "rule")


def _register(item, kind, table, what):
    if not isinstance(item, kind):
        raise TypeError(f"register_{what} takes an {kind.__name__}, got {type(item).__name__}")
    if item.name in table and table[item.name] is not item:
        raise ValueError(f"a {what} named '{item.name}' is already registered")
    table[item.name] = item
    return item


def load(modules=()):
    """Import the built-in registrations and ``modules`` (dotted names) once; return (TASKS, RULES)."""
    for name in (_BUILT_IN, *modules):
        if name not in _loaded:
            try:
                importlib.import_module(name)
            except ImportError as error:
                raise ValueError(f"'--register': cannot import module '{name}' ({error})") from None
            _loaded.add(name)
    return TASKS, RULES


def cell_function(rule_name, task_name):
    """The cell function of a rule on a task, or ``(None, reason)`` when that cell is empty."""
    rule = RULES[rule_name]
    if task_name in rule.cells:
        return rule.cells[task_name], None
    return None, rule.why_empty(task_name)


def _check_name(kind, name):
    if not isinstance(name, str) or not name or not all(c.isalnum() or c == "-" for c in name):
        raise ValueError(f"a {kind} name must be letters, digits and '-', got {name!r}")

