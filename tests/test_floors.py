"""The package's floors: every import of brian2learn goes to the same floor or one below it.

The import graph is read from the source (``ast``: module-level imports and those inside
functions alike) and checked against the table of docs/architecture.md; a circle between modules
is an error too.
"""

import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: Floor -> the floors it may import (besides itself). simulation/ and analysis/ are the ground
#: floor; models/ and tasks/ the first (tasks are inputs and targets: no rule, engine, trainer or
#: study); plasticity/ holds the rules and the networks that carry them; training/ the run loop.
ALLOWED = {
    "brian2learn": {"studies"},  # the package root reaches load_run lazily
    "simulation": set(),
    "analysis": {"simulation"},
    "models": {"simulation", "analysis"},
    "tasks": {"models"},
    "plasticity": {"simulation", "analysis", "models", "tasks"},
    "training": {"simulation", "analysis", "models", "tasks", "plasticity"},
    "export": {"simulation", "analysis", "models", "tasks", "plasticity", "training"},
    "studies": {"simulation", "analysis", "models", "tasks", "plasticity", "training", "export"},
}
#: Study modules may use these modules of their own floor; no study imports another study. srnn_common is
#: not a study: it holds the protocol that srnn-ecg and srnn-sequential-digits share.
STUDY_FLOOR_SHARED = {"brian2learn.studies", "brian2learn.studies.common", "brian2learn.studies.options",
                      "brian2learn.studies.cli", "brian2learn.studies.sweep", "brian2learn.studies.sweep_cli",
                      "brian2learn.studies.run_directory", "brian2learn.studies.runs",
                      "brian2learn.studies.srnn_common", "brian2learn.studies.arena",
                      "brian2learn.studies.arena_registry", "brian2learn.studies.arena_cells",
                      "brian2learn.studies.arena_cli"}


def package_modules():
    """Module name -> file path, for every module of every floor."""
    modules = {}
    for floor in ALLOWED:
        folder = os.path.join(ROOT, floor)
        for dirpath, _, files in os.walk(folder):
            for name in files:
                if not name.endswith(".py"):
                    continue
                path = os.path.join(dirpath, name)
                parts = os.path.relpath(path, ROOT)[:-3].split(os.sep)
                if parts[-1] == "__init__":
                    parts = parts[:-1]
                dotted = ".".join(["brian2learn"] + (parts[1:] if parts[0] == "brian2learn" else parts))
                modules[dotted] = path
    return modules


def imports_of(path, module):
    """The brian2learn modules ``path`` imports (``from brian2learn.x import y`` gives ``brian2learn.x.y``
    when that is a module, else ``brian2learn.x``), with the line of each."""
    tree = ast.parse(open(path, encoding="utf-8").read(), filename=path)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".")[: len(module.split(".")) - node.level + (1 if path.endswith(
                    "__init__.py") else 0)]
                base = ".".join(package + ([base] if base else []))
            found += [(f"{base}.{alias.name}", node.lineno) for alias in node.names] + [(base, node.lineno)]
    return [(name, line) for name, line in found if name == "brian2learn" or name.startswith("brian2learn.")]


def floor_of(module):
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ALLOWED else "brian2learn"


def import_graph():
    modules = package_modules()
    graph = {}
    for module, path in modules.items():
        targets = {}
        for name, line in imports_of(path, module):
            # "from brian2learn.x import y": y may be a module or a name in module brian2learn.x.
            target = name if name in modules else name.rsplit(".", 1)[0] if name.rsplit(".", 1)[0] in modules else None
            if target is not None and target != module:
                targets.setdefault(target, line)
        graph[module] = targets
    return modules, graph


def test_every_import_goes_to_the_same_floor_or_below():
    modules, graph = import_graph()
    assert len(modules) > 40 and "brian2learn.training.loop" in modules
    wrong = []
    for module, targets in graph.items():
        floor = floor_of(module)
        for target, line in targets.items():
            other = floor_of(target)
            if other != floor and other not in ALLOWED[floor]:
                wrong.append(f"{modules[module]}:{line}: {module} ({floor}) imports {target} ({other})")
            if floor == other == "studies" and target not in STUDY_FLOOR_SHARED and module not in STUDY_FLOOR_SHARED:
                wrong.append(f"{modules[module]}:{line}: study {module} imports study {target}")
    assert not wrong, "imports against the floors:\n" + "\n".join(wrong)


def test_no_import_circle():
    _, graph = import_graph()
    state = {}

    def visit(module, trail):
        state[module] = "open"
        for target in graph.get(module, ()):
            if state.get(target) == "open":
                circle = trail[trail.index(target):] + [target] if target in trail else [module, target]
                raise AssertionError("import circle: " + " -> ".join(circle))
            if target not in state:
                visit(target, trail + [target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


def test_the_checker_sees_a_forbidden_import(tmp_path):
    """The graph reader finds imports inside functions and relative imports (so the test can fail)."""
    source = tmp_path / "x.py"
    source.write_text("def f():\n    from brian2learn.studies import cli\n    from . import loop\n")
    found = {name for name, _ in imports_of(str(source), "brian2learn.training.x")}
    assert "brian2learn.studies.cli" in found and "brian2learn.training.loop" in found
    assert floor_of("brian2learn.studies.cli") not in ALLOWED["training"]


@pytest.mark.parametrize("floor", sorted(set(ALLOWED) - {"brian2learn"}))
def test_each_floor_is_a_package(floor):
    assert os.path.exists(os.path.join(ROOT, floor, "__init__.py"))
