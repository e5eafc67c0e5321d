"""The package layering of docs/architecture.md, checked by walking every import (AST).

Rules (docs/architecture.md, "Layering"):

* no import cycles between modules of ``gridmgr`` and ``api``;
* every ``gridmgr`` topic package has a rank; a module may import modules of its own package
  or of a lower rank only, so data flows one way (io → grid → store → assign → … → export);
* ``gridmgr.cli`` and ``api`` sit on top and never import each other.

Every import counts: module level, inside functions and under ``TYPE_CHECKING`` (a type-only
import is still a dependency a reader has to follow). The checker is exercised on small fake
packages first, so a broken checker cannot pass silently.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: Ranks of the topic packages: imports go to the same package or a lower rank only.
RANKS: dict[str, int] = {
    "gridmgr": 0,  # the package root: version only
    "gridmgr.errors": 0,
    "gridmgr.i18n": 0,
    "gridmgr.settings": 0,
    "gridmgr.glossary": 0,
    "gridmgr.clock": 0,
    "gridmgr.io": 1,
    "gridmgr.grid": 2,
    "gridmgr.store": 3,
    "gridmgr.assign": 4,
    "gridmgr.rebalance": 5,
    "gridmgr.coverage": 6,
    "gridmgr.patrol": 7,
    "gridmgr.problems": 8,
    "gridmgr.maps": 9,
    "gridmgr.export": 10,
    "gridmgr.accounts": 11,
    "gridmgr.cli": 12,
    "api": 12,
}
#: Package roots whose every top-level module or subpackage must have a rank of its own.
_ROOTS = {"gridmgr"}
#: Same rank, yet never importing each other.
APART = {("gridmgr.cli", "api"), ("api", "gridmgr.cli")}


def module_files(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    """``dotted module name -> file`` for every ``.py`` under the given top-level packages."""
    out: dict[str, Path] = {}
    for pkg in packages:
        for path in sorted((root / pkg).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


def _resolve(name: str, known: Mapping[str, Path]) -> str | None:
    """The longest known module that ``name`` is or lies in."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def _targets(node: ast.AST, module: str, is_pkg: bool, known: Mapping[str, Path]) -> set[str]:
    """Modules of ``known`` that one import statement loads."""
    found: set[str] = set()
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    elif isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            anchor = module.split(".") if is_pkg else module.split(".")[:-1]
            anchor = anchor[: len(anchor) - (node.level - 1)]
            base = ".".join([*anchor, base] if base else anchor)
        # ``from pkg import sub`` loads pkg.sub when sub is a module, else pkg itself
        names = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
    else:
        return found
    for name in names:
        hit = _resolve(name, known)
        if hit is not None:
            found.add(hit)
    return found


def import_graph(root: Path, packages: Iterable[str]) -> dict[str, set[str]]:
    """``module -> modules it imports`` within the given packages (every import statement)."""
    known = module_files(root, packages)
    graph: dict[str, set[str]] = {}
    for module, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_pkg = path.name == "__init__.py"
        deps: set[str] = set()
        for node in ast.walk(tree):
            deps |= _targets(node, module, is_pkg, known)
        deps.discard(module)
        graph[module] = deps
    return graph


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    comp.append(top)
                    if top == node:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def layer_of(module: str, ranks: Mapping[str, int]) -> str | None:
    """The ranked package a module belongs to (longest prefix)."""
    hit = _resolve(module, dict.fromkeys(ranks, Path()))
    return hit


def _unranked(module: str, src: str, ranks: Mapping[str, int]) -> bool:
    """A module under a root of :data:`_ROOTS` whose top-level part has no rank of its own."""
    root, _, rest = module.partition(".")
    return (
        src == root
        and root in _ROOTS
        and bool(rest)
        and f"{root}.{rest.split('.')[0]}" not in ranks
    )


def layering_violations(
    graph: Mapping[str, set[str]],
    ranks: Mapping[str, int],
    apart: set[tuple[str, str]] = APART,
) -> list[str]:
    """Every import that goes up the ranks, or between packages kept apart."""
    bad = []
    for module, deps in sorted(graph.items()):
        src = layer_of(module, ranks)
        if src is None or _unranked(module, src, ranks):
            bad.append(f"{module}: not in any ranked package (add it to the ranks)")
            continue
        for dep in sorted(deps):
            dst = layer_of(dep, ranks)
            if dst is None or dst == src:
                continue
            if (src, dst) in apart or ranks[dst] > ranks[src]:
                bad.append(
                    f"{module} imports {dep} ({src} rank {ranks[src]} → {dst} rank {ranks[dst]})"
                )
    return bad


# --- the checker on fake packages ------------------------------------------------------------


def _fake(tmp_path: Path, files: Mapping[str, str]) -> Path:
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


def test_checker_finds_a_deliberate_cycle(tmp_path: Path) -> None:
    root = _fake(
        tmp_path,
        {
            "fake/__init__.py": "",
            "fake/a.py": "from fake.b import thing\n",
            "fake/b.py": "def f():\n    from fake import c\n",  # inside a function still counts
            "fake/c.py": "from . import a\n",  # relative imports resolve too
            "fake/d.py": "import fake.a\n",  # imports into the cycle, not part of it
        },
    )
    assert cycles(import_graph(root, ["fake"])) == [["fake.a", "fake.b", "fake.c"]]


def test_checker_finds_an_upward_import_and_a_forbidden_pair(tmp_path: Path) -> None:
    root = _fake(
        tmp_path,
        {
            "low/__init__.py": "",
            "low/x.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from high import y\n",
            "high/__init__.py": "",
            "high/y.py": "import low.x\n",
            "side/__init__.py": "import high.y\n",
        },
    )
    graph = import_graph(root, ["low", "high", "side"])
    bad = layering_violations(
        graph, {"low": 0, "high": 1, "side": 1}, apart={("side", "high"), ("high", "side")}
    )
    assert bad == [
        "low.x imports high.y (low rank 0 → high rank 1)",
        "side imports high.y (side rank 1 → high rank 1)",
    ]
    assert cycles(graph) == [["high.y", "low.x"]]


# --- the real packages ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph(ROOT, ["gridmgr", "api"])


def test_no_import_cycles(graph: dict[str, set[str]]) -> None:
    found = cycles(graph)
    assert found == [], "import cycles:\n" + "\n".join(" ↔ ".join(c) for c in found)


def test_layering(graph: dict[str, set[str]]) -> None:
    bad = layering_violations(graph, RANKS)
    assert bad == [], "layering violations (docs/architecture.md):\n" + "\n".join(bad)


def test_graph_sees_the_known_edges(graph: dict[str, set[str]]) -> None:
    # the walker must see real edges, or the two tests above would pass on an empty graph
    assert "gridmgr.grid.h3_adapter" in graph["gridmgr.grid.pieces"]
    assert any(d.startswith("gridmgr.store") for d in graph["gridmgr.cli._common"])
    assert len(graph) > 60 and sum(map(len, graph.values())) > 150
