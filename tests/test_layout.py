"""The package layout, checked from the source with ``ast`` (nothing is imported).

The import graph of ``pipeline/`` counts every import: at module level, inside functions
(a lazy import that hides a circle is still a circle) and ``importlib.import_module``
with a literal name; only ``if TYPE_CHECKING:`` blocks are left out. ``from pipeline.x
import y`` where ``pipeline/x/y.py`` exists is an import of that module. A package is
not counted as imported by its submodules' imports (Python runs its ``__init__`` first,
but that is no circle of ours). On that graph:

- no import circle among pipeline modules;
- the stages are pure: no database (``pipeline.db``, ``sqlalchemy``);
- stages, db and adapters sit below the service, the web UI and the CLI;
- the web UI calls operations and holds no SQL (no ``sqlalchemy``, no ``pipeline.db.schema``);
- no module over 400 lines.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from itertools import pairwise
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "pipeline"
MAX_LINES = 400


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the imported module (or name, outside pipeline)
    path: Path
    line: int

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line} imports {self.target}"


def module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


class _Collector(ast.NodeVisitor):
    """(dotted name, line, names imported from it) for every import outside TYPE_CHECKING."""

    def __init__(self, module: str, is_package: bool):
        self.package = module if is_package else module.rpartition(".")[0]
        self.found: list[tuple[str, int, tuple[str, ...]]] = []

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            for child in node.orelse:
                self.visit(child)
        else:
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.found.append((alias.name, node.lineno, ()))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:
            parts = self.package.split(".")
            parent = ".".join(parts[: len(parts) - node.level + 1])
            base = f"{parent}.{base}" if base else parent
        self.found.append((base, node.lineno, tuple(a.name for a in node.names)))

    def visit_Call(self, node: ast.Call) -> None:
        f = node.func
        name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
        if (
            name in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            self.found.append((node.args[0].value, node.lineno, ()))
        self.generic_visit(node)


def imports_of(
    source: str, module: str, path: Path, modules: Iterable[str], *, is_package: bool = False
) -> list[Import]:
    """The imports in ``source`` (module ``module``), resolved against ``modules``."""
    known = set(modules)
    c = _Collector(module, is_package)
    c.visit(ast.parse(source, filename=str(path)))
    out: list[Import] = []
    for base, line, names in c.found:
        # from X import y, z: each y that is a module is imported itself; the rest are
        # names from X, which imports X.
        subs = [f"{base}.{n}" for n in names if f"{base}.{n}" in known]
        if len(subs) < len(names) or not names:
            out.append(Import(module, base, path, line))
        out.extend(Import(module, s, path, line) for s in subs)
    return out


@dataclass(frozen=True)
class Layout:
    files: dict[str, Path]  # module -> file
    imports: list[Import]

    def graph(self) -> dict[str, dict[str, Import]]:
        """module -> {pipeline module it imports: the first such import}."""
        g: dict[str, dict[str, Import]] = {m: {} for m in self.files}
        for imp in self.imports:
            if imp.target in self.files:
                g[imp.source].setdefault(imp.target, imp)
        return g


@cache
def layout() -> Layout:
    files = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
    imports = [
        imp
        for mod, path in files.items()
        for imp in imports_of(
            path.read_text(encoding="utf-8"),
            mod,
            path,
            files,
            is_package=path.name == "__init__.py",
        )
    ]
    return Layout(files, imports)


def cycles(graph: dict[str, dict[str, Import]]) -> list[list[Import]]:
    """One shortest circle through each strongly connected part of the graph (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    parts: list[list[str]] = []

    def strong(v: str) -> None:
        # Iterative Tarjan: the graph is small but recursion depth is not ours to choose.
        work: list[tuple[str, Iterator[str]]] = [(v, iter(sorted(graph[v])))]
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        while work:
            node, children = work[-1]
            for w in children:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on_stack:
                    low[node] = min(low[node], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    part = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        part.append(w)
                        if w == node:
                            break
                    if len(part) > 1 or node in graph[node]:
                        parts.append(sorted(part))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return [_shortest_circle(graph, part) for part in parts]


def _shortest_circle(graph: dict[str, dict[str, Import]], part: list[str]) -> list[Import]:
    members = set(part)
    start = part[0]
    prev: dict[str, str] = {}
    queue = [start]
    for node in queue:  # breadth first, back to start
        for w in sorted(graph[node]):
            if w not in members:
                continue
            if w == start:
                path = [node]
                while path[-1] != start:
                    path.append(prev[path[-1]])
                order = [*reversed(path), start]
                return [graph[a][b] for a, b in pairwise(order)]
            if w not in prev:
                prev[w] = node
                queue.append(w)
    raise AssertionError(f"no circle through {start}")  # a strong part always has one


def _under(module: str, prefixes: Iterable[str]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def violations(sources: Iterable[str], forbidden: Iterable[str]) -> list[str]:
    sources, forbidden = tuple(sources), tuple(forbidden)
    return sorted(
        str(imp)
        for imp in layout().imports
        if _under(imp.source, sources) and _under(imp.target, forbidden)
    )


# -- the collector itself ---------------------------------------------------------------

SNIPPET = """
from typing import TYPE_CHECKING
import pipeline.config
from pipeline import db, records
from pipeline.db import state as st, Thing
from . import sibling
from ..ports import Parcel

if TYPE_CHECKING:
    from pipeline.web import app
else:
    import pipeline.errors

def later():
    from pipeline.service import outbox
    import importlib
    importlib.import_module("pipeline.cli.main")
"""


def test_the_collector_counts_lazy_imports_and_skips_type_checking():
    known = [
        "pipeline",
        "pipeline.config",
        "pipeline.db",
        "pipeline.db.state",
        "pipeline.records",
        "pipeline.ports",
        "pipeline.errors",
        "pipeline.web.app",
        "pipeline.service.outbox",
        "pipeline.cli.main",
        "pipeline.stages.sibling",
    ]
    found = imports_of(SNIPPET, "pipeline.stages.x", PACKAGE / "stages" / "x.py", known)
    assert {i.target for i in found} == {
        "typing",
        "pipeline.config",
        "pipeline.db",  # Thing: a name from the package, so the package is imported
        "pipeline.db.state",  # a module: imported itself
        "pipeline.records",
        "pipeline.stages.sibling",
        "pipeline.ports",
        "pipeline.errors",  # the else of TYPE_CHECKING runs
        "pipeline.service.outbox",  # lazy
        "importlib",
        "pipeline.cli.main",  # import_module with a literal name
    }
    from_db = [i.target for i in found if i.line == 5]
    assert from_db == ["pipeline.db", "pipeline.db.state"]
    assert "pipeline.web.app" not in {i.target for i in found}


def test_a_circle_is_found_and_reported_edge_by_edge():
    p = PACKAGE / "x.py"
    g = {
        "a": {"b": Import("a", "b", p, 1)},
        "b": {"c": Import("b", "c", p, 2)},
        "c": {"a": Import("c", "a", p, 3), "d": Import("c", "d", p, 4)},
        "d": {},
    }
    (circle,) = cycles(g)
    assert [(i.source, i.target) for i in circle] == [("a", "b"), ("b", "c"), ("c", "a")]
    assert cycles({"a": {}, "b": {"a": Import("b", "a", p, 1)}}) == []


def test_the_graph_covers_the_package():
    lay = layout()
    assert {"pipeline.stages.extract", "pipeline.service.outbox", "pipeline.web.routes"} <= set(
        lay.files
    )
    g = lay.graph()
    assert "pipeline.db.state" in g["pipeline.service.outbox"]
    # compose picks engines with imports inside its factories: those count.
    assert "pipeline.adapters.tesserocr_engine" in g["pipeline.compose"]


# -- the rules --------------------------------------------------------------------------


def test_no_import_circles():
    found = cycles(layout().graph())
    report = [
        " -> ".join([c[0].source, *(i.target for i in c)]) + "".join(f"\n    {i}" for i in c)
        for c in found
    ]
    assert not found, f"{len(found)} import circle(s):\n" + "\n".join(report)


def test_stages_do_not_touch_the_database():
    bad = violations(["pipeline.stages"], ["pipeline.db", "sqlalchemy"])
    assert not bad, "stages are pure; these import the database:\n" + "\n".join(bad)


@pytest.mark.parametrize("layer", ["pipeline.stages", "pipeline.db", "pipeline.adapters"])
def test_lower_layers_do_not_import_service_web_or_cli(layer: str):
    bad = violations([layer], ["pipeline.service", "pipeline.web", "pipeline.cli"])
    assert not bad, f"{layer} sits below service, web and cli:\n" + "\n".join(bad)


def test_web_calls_operations_and_holds_no_sql():
    bad = violations(["pipeline.web"], ["sqlalchemy", "pipeline.db.schema"])
    assert not bad, "no SQL in the web UI (call pipeline.service operations):\n" + "\n".join(bad)


def test_no_module_over_400_lines():
    long = sorted(
        (n, str(p.relative_to(ROOT)))
        for p in layout().files.values()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    )
    assert not long, f"modules over {MAX_LINES} lines:\n" + "\n".join(
        f"  {path}: {n}" for n, path in reversed(long)
    )
