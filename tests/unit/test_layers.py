"""The import graph of loyalty/ and tasks/: no circles, and the layers point one way.

The graph is read from the source with `ast`, so an import hidden inside a function (the
usual way to dodge a circle) counts exactly like one at the top of a module. Imports under
`if TYPE_CHECKING:` count too: they are still an arrow between layers.

A package's `__init__` that Python runs before any of its modules is not an edge: every
module of a package would otherwise sit in a circle with an `__init__` that imports it.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ROOTS = ("loyalty", "tasks")

# The bottom of the house: persistence and the plumbing every service stands on.
BOTTOM = ("loyalty.extensions", "loyalty.models", "loyalty.db", "loyalty.unit_of_work",
          "loyalty.background", "loyalty.nudge")
# What sits above it: the HTTP edges, the business rules, the demo, the tasks.
UPPER = ("loyalty.api", "loyalty.web", "loyalty.hooks", "loyalty.services", "loyalty.emulator",
         "loyalty.demo", "tasks")
# Leaves talk to the outside world (or hold plain values) and know nothing of the app.
LEAVES = ("loyalty.daraja", "loyalty.sms", "loyalty.crypto", "loyalty.phones", "loyalty.errors",
          "loyalty.strict_json", "loyalty.metrics", "loyalty.webhook_http")
# A separate service would share phone numbers with the app, and Safaricom's URL rules
# (one function, so the platform's lint and the emulator's refusals never drift): no more.
EMULATOR_MAY_USE = ("loyalty.emulator", "loyalty.phones", "loyalty.daraja.url_rules")


def discover(base: Path, roots: tuple[str, ...] = ROOTS) -> dict[str, Path]:
    """Every module under the roots, by dotted name (a package by its own name)."""
    modules: dict[str, Path] = {}
    for root in roots:
        for path in sorted((base / root).rglob("*.py")):
            parts = list(path.relative_to(base).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    """The module an import of `name` loads: itself, or the nearest enclosing module
    (`from loyalty.models import Payment` depends on the package `loyalty.models`)."""
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The project's modules that `module` imports anywhere in its file."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's own package upward
                package = module if is_package else module.rpartition(".")[0]
                for _ in range(node.level - 1):
                    package = package.rpartition(".")[0]
                base = f"{package}.{base}" if base else package
            # `from pkg import sub` loads the module pkg.sub when there is one, else pkg.
            targets = [f"{base}.{alias.name}" for alias in node.names]
        for target in targets:
            resolved = _resolve(target, known)
            if resolved is not None and resolved != module:
                found.add(resolved)
    return found


def build_graph(base: Path = REPO, roots: tuple[str, ...] = ROOTS) -> dict[str, set[str]]:
    known = discover(base, roots)
    return {module: imports_of(module, path, known) for module, path in known.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every circle, as one path around each strongly connected group (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(_path_around(sorted(group), graph))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def _path_around(group: list[str], graph: dict[str, set[str]]) -> list[str]:
    """The shortest circle from the group's first member back to it."""
    start, members = group[0], set(group)
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(graph[node] & members):
                if nxt == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [*reversed(path), start]
                if nxt not in came_from:
                    came_from[nxt] = node
                    following.append(nxt)
        frontier = following
    raise AssertionError(f"no circle through {start}")  # Tarjan only groups circles


def reachable(graph: dict[str, set[str]], start: str) -> dict[str, str]:
    """Every module `start` imports, directly or through others, with the one it came from."""
    via: dict[str, str] = {}
    todo = [start]
    while todo:
        node = todo.pop()
        for nxt in graph.get(node, ()):
            if nxt not in via and nxt != start:
                via[nxt] = node
                todo.append(nxt)
    return via


def _within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _chain(via: dict[str, str], start: str, end: str) -> str:
    path = [end]
    while path[-1] != start:
        path.append(via[path[-1]])
    return " -> ".join(reversed(path))


def violations(graph: dict[str, set[str]], lower: tuple[str, ...],
               allowed=None, forbidden: tuple[str, ...] = ()) -> list[str]:
    """Chains by which a module in `lower` reaches a forbidden one (or one not allowed)."""
    found = []
    for module in sorted(graph):
        if not _within(module, lower):
            continue
        via = reachable(graph, module)
        for target in sorted(via):
            bad = _within(target, forbidden) or (allowed is not None and not _within(target, allowed))
            if bad:
                found.append(_chain(via, module, target))
    return found


GRAPH = build_graph()


def test_the_graph_sees_the_tree():
    # The factory reaches every layer, and tasks reach services: a graph that missed
    # imports would pass every rule below for nothing.
    assert "loyalty.services.merchants" in reachable(GRAPH, "loyalty.app")
    assert "loyalty.extensions" in GRAPH["loyalty.api.base"] | set(reachable(GRAPH, "loyalty.api.base"))
    assert any(_within(m, ("loyalty.services",)) for m in reachable(GRAPH, "tasks.payments"))


def test_no_module_imports_one_that_imports_it_back():
    assert cycles(GRAPH) == []


def test_persistence_and_plumbing_never_import_upward():
    assert violations(GRAPH, BOTTOM, forbidden=UPPER) == []


def test_leaves_know_nothing_of_the_app():
    assert violations(GRAPH, LEAVES, allowed=LEAVES) == []


def test_the_emulator_shares_only_phone_numbers_and_url_rules_with_the_app():
    assert violations(GRAPH, ("loyalty.emulator",), allowed=EMULATOR_MAY_USE) == []


def test_the_app_sends_tasks_by_name_and_never_imports_them():
    assert violations(GRAPH, ("loyalty",), forbidden=("tasks",)) == []


def test_only_the_command_line_knows_the_demo():
    users = {m for m, imported in GRAPH.items() if any(_within(i, ("loyalty.demo",)) for i in imported)}
    assert users - {m for m in GRAPH if _within(m, ("loyalty.demo",))} == {"loyalty.cli"}


def test_domain_errors_are_plain_python():
    """No Flask request, no HTML: the blueprints render errors (api/errors.py, web/errors.py)."""
    tree = ast.parse((REPO / "loyalty" / "errors.py").read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {(node.module or "").split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom)}
    assert imported <= {"__future__", "typing"}


def test_importing_the_models_loads_no_upper_layer():
    """The same rule at run time: the models, the unit of work and the task plumbing load
    without the API, the web UI, the hooks or the services."""
    code = ("import sys, loyalty.models, loyalty.unit_of_work, loyalty.background, "
            "loyalty.nudge; print('\\n'.join(sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, check=True).stdout.split()
    assert [m for m in out if _within(m, UPPER)] == []


# The checks can fail: they find what they are meant to find in small made-up trees.

def test_a_circle_through_function_level_imports_is_found(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "a.py").write_text("from pkg.b import f\n")
    (tmp_path / "pkg" / "b.py").write_text("def f():\n    from pkg import c\n")
    (tmp_path / "pkg" / "c.py").write_text("def g():\n    from . import a\n")
    graph = build_graph(tmp_path, ("pkg",))
    assert graph["pkg.b"] == {"pkg.c"} and graph["pkg.c"] == {"pkg.a"}
    assert cycles(graph) == [["pkg.a", "pkg.b", "pkg.c", "pkg.a"]]


def test_an_upward_import_through_a_neighbour_is_found():
    graph = {"loyalty.models.payments": {"loyalty.tenancy"},
             "loyalty.tenancy": {"loyalty.services.merchants"},
             "loyalty.services.merchants": set()}
    assert violations(graph, BOTTOM, forbidden=UPPER) == [
        "loyalty.models.payments -> loyalty.tenancy -> loyalty.services.merchants"]
    assert cycles(graph) == []


def test_a_two_module_circle_is_found():
    assert cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b", "a"]]
