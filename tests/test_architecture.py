"""The house keeps its shape: which package may import which, no cycles, no room too large.

Read from the source with :mod:`ast` (nothing is imported), so a forbidden arrow fails here even
when it hides inside a function body.

Floors, from the ground up::

    schemas                       every shared contract: tables, errors, codes, ids, local dates
    ingest  clinic  transform  warehouse  synthetic      stand on schemas only
    report                        reads the warehouse (the roster's codes as clinic reads it),
                                  explains with transform's configs
    pipelines                     orders the stages; may import every room
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

ALLOWED: dict[str, frozenset[str]] = {
    "schemas": frozenset(),
    "ingest": frozenset({"schemas"}),
    "clinic": frozenset({"schemas"}),
    "transform": frozenset({"schemas"}),
    "warehouse": frozenset({"schemas"}),
    "synthetic": frozenset({"schemas"}),
    "report": frozenset({"schemas", "clinic", "transform", "warehouse"}),
    "pipelines": frozenset(
        {"schemas", "ingest", "clinic", "transform", "warehouse", "synthetic", "report"}
    ),
}
"""For each package, the other packages of ours it may import."""

MAX_SHARE = 0.30
"""No package may hold more than this share of the non-test lines."""


def modules(package: str) -> Iterator[Path]:
    """Every Python file of one package."""
    yield from sorted((ROOT / package).rglob("*.py"))


def imported_packages(path: Path) -> Iterator[tuple[int, str, str]]:
    """Yield ``(line, top-level package, module)`` for every import of one of our packages."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package_parts = path.relative_to(ROOT).with_suffix("").parts[:-1]
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package_parts[: len(package_parts) - node.level + 1]
                names = [".".join((*base, *([node.module] if node.module else [])))]
            elif node.module:
                names = [node.module]
        for name in names:
            top = name.split(".")[0]
            if top in ALLOWED:
                yield node.lineno, top, name


def import_graph() -> dict[str, dict[str, list[str]]]:
    """For each package, the other packages it imports, with where."""
    graph: dict[str, dict[str, list[str]]] = {package: {} for package in ALLOWED}
    for package in ALLOWED:
        for path in modules(package):
            for line, top, name in imported_packages(path):
                if top != package:
                    where = f"{path.relative_to(ROOT)}:{line} imports {name}"
                    graph[package].setdefault(top, []).append(where)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """Return one cycle of the directed graph as a list of nodes, or ``None``.

    Examples
    --------
    >>> find_cycle({"a": {"b"}, "b": {"a"}})
    ['a', 'b', 'a']
    >>> find_cycle({"a": {"b"}, "b": set()}) is None
    True
    """
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_every_package_is_known() -> None:
    """A new top-level package must be given its floor here (and in pyproject's package list)."""
    ours = {
        path.parent.name
        for path in ROOT.glob("*/__init__.py")
        if path.parent.name not in {"tests", "bench"}
    }
    assert ours == set(ALLOWED)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_only_lower_floors(package: str) -> None:
    forbidden = {
        other: where
        for other, where in import_graph()[package].items()
        if other not in ALLOWED[package]
    }
    assert not forbidden, f"{package} may import only {sorted(ALLOWED[package])}: {forbidden}"


def test_no_cycle_between_packages() -> None:
    graph = {package: set(edges) for package, edges in import_graph().items()}
    assert find_cycle(graph) is None, f"import cycle: {' -> '.join(find_cycle(graph) or [])}"


def test_the_rules_themselves_have_no_cycle() -> None:
    assert find_cycle({package: set(allowed) for package, allowed in ALLOWED.items()}) is None


def test_a_cycle_is_found() -> None:
    """The checker sees a cycle planted in a copy of the real graph."""
    graph = {package: set(edges) for package, edges in import_graph().items()}
    graph["schemas"].add("pipelines")
    cycle = find_cycle(graph)
    assert cycle is not None
    assert cycle[0] == cycle[-1]
    assert "schemas" in cycle


def test_no_room_over_a_third_of_the_house() -> None:
    lines = {
        package: sum(
            len(path.read_text(encoding="utf-8").splitlines()) for path in modules(package)
        )
        for package in ALLOWED
    }
    total = sum(lines.values())
    shares = {package: round(n / total, 3) for package, n in lines.items()}
    assert max(shares.values()) <= MAX_SHARE, shares
