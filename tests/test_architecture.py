"""The layout's rules, as ARCHITECTURE.md states them: imports run one way."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APPS = ("backoffice", "traces", "metrics")


def modules():
    """{dotted name: path} of the apps' modules, migrations left out (they are frozen history)."""
    found = {}
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def module_level_imports(name, path, known):
    """The project modules `name` imports when it loads: statements at module level, not in functions."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                targets.add(candidate if candidate in known else base)
    return {target for target in targets if target in known and target != name}


def imports_project(node):
    if isinstance(node, ast.ImportFrom):
        return bool(node.level) or node.module.split(".")[0] in APPS
    return isinstance(node, ast.Import) and any(alias.name.split(".")[0] in APPS for alias in node.names)


def graph():
    known = modules()
    return {name: module_level_imports(name, path, known) for name, path in known.items()}


def test_traces_never_imports_metrics():
    offenders = {
        (name, target)
        for name, targets in graph().items()
        if name.startswith("traces")
        for target in targets
        if target.startswith("metrics")
    }
    assert offenders == set()


def test_no_module_imports_one_that_imports_it_back():
    edges = graph()
    cycles, state = [], {}

    def visit(node, trail):
        state[node] = "open"
        for target in sorted(edges[node]):
            if state.get(target) == "open":
                cycles.append([*trail[trail.index(target) :], target])
            elif target not in state:
                visit(target, [*trail, target])
        state[node] = "done"

    for name in sorted(edges):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_project_modules_are_imported_at_module_level():
    """An import inside a function to dodge a circle means a piece lives at the wrong depth. Apps'
    ready() hooks are the exception: Django asks for them."""
    known = modules()
    offenders = []
    for name, path in known.items():
        if path.name == "apps.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                offenders += [f"{name}:{inner.lineno}" for inner in ast.walk(node) if imports_project(inner)]
    assert offenders == []
