"""The shape of the code, read from the source (ast): no import circles, the purity line, roles.

- No module of ``agents`` or ``streams`` takes part in an import circle (imports inside
  functions and under ``TYPE_CHECKING`` count: they only hide a circle).
- ``streams`` imports no stream framework, Kafka, Redis or HTTP client, and nothing of
  ``agents``: it is the pure core.
- Every module of ``agents`` lives in its role's subpackage (``app.py`` and ``settings.py``
  aside), and imports only what its role may (see ``agents/__init__.py``).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("agents", "streams")
IMPURE = frozenset({"faust", "aiokafka", "confluent_kafka", "redis", "aiohttp", "mode", "agents"})
ROLES = frozenset({"worker", "sinks", "cli", "demo"})
TOP_LEVEL = frozenset({"agents", "agents.app", "agents.settings"})
#: Which parts of ``agents`` each part may import (``streams`` and third parties: always).
MAY_IMPORT: dict[str, frozenset[str]] = {
    "agents": frozenset(),
    "agents.settings": frozenset(),
    "agents.worker": frozenset({"agents.settings", "agents.worker"}),
    "agents.sinks": frozenset({"agents.settings", "agents.worker", "agents.sinks"}),
    "agents.app": frozenset({"agents.settings", "agents.worker", "agents.sinks"}),
    "agents.demo": frozenset(
        {"agents.settings", "agents.demo", "agents.cli.producing", "agents.cli.render"}
        | {"agents.cli.commands.worker_argv"}  # the worker's command line, to start one
    ),
    "agents.cli": frozenset(
        {"agents.settings", "agents.worker", "agents.sinks", "agents.app"}
        | {"agents.demo", "agents.cli"}
    ),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    return {
        module_name(path): path for package in PACKAGES for path in (ROOT / package).rglob("*.py")
    }


def imported(name: str, path: Path) -> Iterator[str]:
    """Every module ``name`` imports, anywhere in its body; ``from p import m`` names p.m when
    m is a module."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                yield full if full in modules() else base


@cache
def graph() -> dict[str, frozenset[str]]:
    """Edges between the project's own modules."""
    return {
        name: frozenset(m for m in imported(name, path) if m in modules() and m != name)
        for name, path in modules().items()
    }


def circles(edges: dict[str, frozenset[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def role(name: str) -> str:
    """The part of ``agents`` a module belongs to: its role subpackage, or a top-level module."""
    parts = name.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else name


def allowed(importer: str, target: str) -> bool:
    return any(
        target == part or target.startswith(f"{part}.") for part in MAY_IMPORT[role(importer)]
    )


def test_the_project_is_found() -> None:
    assert {"agents.app", "agents.worker.batch_fold", "streams.model.core"} <= modules().keys()


def test_no_import_circles() -> None:
    assert circles(graph()) == []


def test_circles_are_detected() -> None:
    edges = {"a": frozenset({"b"}), "b": frozenset({"c"}), "c": frozenset({"a"}), "d": frozenset()}
    assert circles(edges) == [["a", "b", "c"]]


@pytest.mark.parametrize("name", sorted(n for n in modules() if n.startswith("streams")))
def test_streams_is_pure(name: str) -> None:
    impure = sorted({m for m in imported(name, modules()[name]) if m.split(".")[0] in IMPURE})
    assert impure == [], f"{name} imports {impure}: move that code to agents/"


def test_every_agents_module_lives_in_its_role() -> None:
    homeless = sorted(
        name
        for name in modules()
        if name.startswith("agents") and name not in TOP_LEVEL and name.split(".")[1] not in ROLES
    )
    assert homeless == [], "put these in agents/worker, sinks, cli or demo"


def test_each_role_imports_only_what_it_may() -> None:
    crossings = sorted(
        f"{importer} -> {target}"
        for importer, targets in graph().items()
        if importer.startswith("agents")
        for target in targets
        if target.startswith("agents") and not allowed(importer, target)
    )
    assert crossings == []


def test_each_role_says_what_lives_there_and_what_it_may_import() -> None:
    for part in sorted(ROLES):
        doc = ast.get_docstring(ast.parse((ROOT / "agents" / part / "__init__.py").read_text()))
        assert doc and "May import" in doc, f"agents/{part}/__init__.py"
