"""The layer table of docs/architecture.md, enforced: every import in `src/hazwatch` (inside
functions too; `TYPE_CHECKING` imports never run and do not count) must be one its package's row
allows, every top-level package must have a row, and no module may take part in an import cycle.
The checker is run on a small package with one of each fault, so a failure of the first test is
known to mean what it says."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "hazwatch"
DOC = ROOT / "docs" / "architecture.md"


def layers(doc: str) -> dict[str, set[str] | None]:
    """package -> the packages it may import (None: anything), from the `## Layers` table."""
    section = doc.split("\n## Layers\n", 1)[1].split("\n## ", 1)[0]
    rules: dict[str, set[str] | None] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        allowed = None if cells[2] == "anything" else set(re.findall(r"`(\w+)`", cells[2]))
        for name in re.findall(r"`(\w+)`", cells[0]):
            rules[name] = allowed
    return rules


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            out |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return out


def imports(src: Path) -> dict[str, set[str]]:
    """module -> the modules of the same root package it imports. `from pkg import name` counts as
    an import of pkg.name where that is a module, else of pkg."""
    root = src.name
    modules: dict[str, Path] = {}
    for path in src.rglob("*.py"):
        parts = (root, *path.relative_to(src).with_suffix("").parts)
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path

    def known(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        skip = _type_checking_nodes(tree)
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        names: list[str] = []
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.Import):
                names += [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*up, base] if base else up)
                names += [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        graph[module] = {m for n in names if n.split(".")[0] == root and (m := known(n)) and m != module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def violations(graph: dict[str, set[str]], rules: dict[str, set[str] | None]) -> list[str]:
    def top(module: str) -> str:
        parts = module.split(".")
        return parts[1] if len(parts) > 1 else ""  # "": the package root (its version)

    out = set()
    for module, targets in graph.items():
        mine = top(module)
        if mine and mine not in rules:
            out.add(f"{mine}: a top-level package without a row in the layer table")
            continue
        allowed = rules.get(mine)
        for target in targets:
            theirs = top(target)
            if mine and theirs and theirs != mine and allowed is not None and theirs not in allowed:
                out.add(f"{module} imports {target}: {mine} may import {', '.join(sorted(allowed)) or 'none of ours'}")
    return sorted(out)


def test_the_source_keeps_the_layer_table_and_has_no_import_cycle():
    graph = imports(SRC)
    rules = layers(DOC.read_text())
    assert {"domain", "pipeline", "access", "api"} <= set(rules)  # the table was read
    assert len(graph) > 150 and graph["hazwatch.pipeline"]  # and the source
    assert violations(graph, rules) == []
    assert cycles(graph) == []


def test_no_router_reaches_around_the_scoping_facade():
    """A handler gets an `Access` bound to its caller's scope; reaching through it to the services
    would skip the scope, so no router does."""
    reach = re.compile(r"\baccess\.services\b")
    offenders = [f"{p.name}:{n}" for p in sorted((SRC / "api" / "routers").glob("*.py"))
                 for n, line in enumerate(p.read_text().splitlines(), 1) if reach.search(line)]
    assert offenders == []


def test_a_forbidden_import_a_missing_row_and_a_cycle_are_each_caught(tmp_path):
    pkg = tmp_path / "plant"
    files = {
        "__init__.py": '__version__ = "1"\n',
        "domain/__init__.py": "import plant\n",  # the root's version: allowed everywhere
        "domain/types.py": "from plant.catalog import repo\n",  # domain may import none of ours
        "catalog/__init__.py": "",
        "catalog/repo.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from plant.alarms import x\n"
                           "def load():\n    from . import index\n",  # a cycle, through a function's import
        "catalog/index.py": "from plant.catalog.repo import load\n",
        "alarms/__init__.py": "",
        "alarms/x.py": "",
        "extras.py": "import plant.domain.types\n",  # no row
    }
    for name, text in files.items():
        (pkg / name).parent.mkdir(parents=True, exist_ok=True)
        (pkg / name).write_text(text)
    rules = layers("# A\n\n## Layers\n\n| package | holds | may import |\n|---|---|---|\n"
                   "| `domain` | types | — |\n| `catalog` | things | `domain` |\n| `alarms` | points | anything |\n")
    graph = imports(pkg)
    assert "plant.alarms.x" not in graph["plant.catalog.repo"]  # the TYPE_CHECKING import does not count
    assert violations(graph, rules) == [
        "extras: a top-level package without a row in the layer table",
        "plant.domain.types imports plant.catalog.repo: domain may import none of ours",
    ]
    assert cycles(graph) == [["plant.catalog.index", "plant.catalog.repo"]]
