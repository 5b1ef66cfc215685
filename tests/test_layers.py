"""Imports point one way: the table "what each part may import" of ARCHITECTURE.md, as data.

The import graph of ``reco/`` and ``api.py`` is read with :mod:`ast` (nothing is imported):
every ``import`` and ``from ... import``, also inside functions and under
``if TYPE_CHECKING:`` (a type-only import is still a dependency, and the next refactor
turns it into a real one), relative imports resolved. ``from reco.x import name`` is an
import of the module ``reco.x.name`` when that is a module, else of ``reco.x`` (a package
``__init__`` is a module like any other). The parents Python runs on the way
(``reco``, ``reco.x``) are not counted: they are the same for every module below them, so
they would only add cycles that are not there.

The checkers take a plain ``{module: {imported modules}}`` dict, so the last tests prove
on a made-up graph that they do report a cycle and a forbidden import.
"""

from __future__ import annotations

import ast
import importlib.util
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "reco"

#: The core modules: they may import only each other.
CORE = frozenset({"reco.columns", "reco.exceptions", "reco.config", "reco.ids",
                  "reco.npz", "reco._numeric", "reco.cli", "reco.progress"})
CORE_PART = "core"
#: ``reco/__init__.py``: the public face. Its names load lazily (``_EXPORTS``), but its
#: ``if TYPE_CHECKING:`` block imports each one for type checkers, so it is a part of its own.
FACADE = "facade"
API = "api"

# What each part may import, inside reco: a part's name allows every module of that part,
# a dotted module name allows exactly that module (not its submodules). A part may always
# import its own modules. No part lists "evaluation": nothing in reco imports it.
ALLOWED: dict[str, frozenset[str]] = {
    CORE_PART: frozenset({CORE_PART}),
    "data": frozenset({CORE_PART}),
    "features": frozenset({CORE_PART}),
    "models": frozenset({CORE_PART}),
    "text": frozenset({CORE_PART, "data"}),
    "ranking": frozenset({CORE_PART, "reco.data.split", "features", "models"}),
    "artifacts": frozenset({CORE_PART, "reco.data.dataset", "features", "models", "ranking"}),
    "pipelines": frozenset({CORE_PART, "data", "features", "models", "text", "ranking",
                            "artifacts"}),
    "serving": frozenset({CORE_PART, "artifacts", "ranking", "reco.models.base",
                          "reco.data.feedback"}),
    "evaluation": frozenset({CORE_PART, "data", "features", "models", "text", "ranking",
                             "artifacts", "pipelines"}),
    # the facade re-exports the library's public names; serving has its own face (api.py's)
    FACADE: frozenset({CORE_PART, "data", "features", "models", "text", "ranking",
                       "artifacts", "pipelines"}),
    # the HTTP layer sees the serving package's public face and the errors, nothing else
    API: frozenset({"reco.serving", "reco.exceptions"}),
}


# ---------------------------------------------------------------- reading the graph
def module_files(root: Path = ROOT, package: str = PACKAGE) -> dict[str, Path]:
    """Module name -> file, for every module of ``package`` under ``root`` (and api.py)."""
    files: dict[str, Path] = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        files[".".join(parts)] = path
    if (root / "api.py").is_file():
        files[API] = root / "api.py"
    return files


def _imported(tree: ast.Module, module: str, is_package: bool,
              known: Iterable[str]) -> tuple[set[str], set[str]]:
    """The known modules ``tree`` imports, and the reco modules it names that do not exist."""
    known = set(known)
    edges: set[str] = set()
    missing: set[str] = set()
    # the package a relative import starts from: a package's __init__ is its own package
    here = module.split(".") if is_package else module.split(".")[:-1]
    for node in ast.walk(tree):  # walk, not body: imports in functions and if-blocks count
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            targets = []
            for alias in node.names:
                candidate = f"{source}.{alias.name}"
                targets.append(candidate if candidate in known else source)
        else:
            continue
        for target in targets:
            if target in known:
                edges.add(target)
            elif target == PACKAGE or target.startswith(PACKAGE + "."):
                missing.add(target)
    edges.discard(module)
    return edges, missing


def read_graph(root: Path = ROOT) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """The import graph of reco and api.py, and each module's imports that resolve to nothing."""
    files = module_files(root)
    graph: dict[str, set[str]] = {}
    unresolved: dict[str, set[str]] = {}
    for module, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        edges, missing = _imported(tree, module, path.name == "__init__.py", files)
        graph[module] = edges
        if missing:
            unresolved[module] = missing
    return graph, unresolved


# ---------------------------------------------------------------- the checkers
def part_of(module: str) -> str | None:
    """The part of ARCHITECTURE.md a module belongs to (None: in no part)."""
    if module == API:
        return API
    if module == PACKAGE:
        return FACADE
    if module in CORE:
        return CORE_PART
    pieces = module.split(".")
    if pieces[0] == PACKAGE and len(pieces) > 1 and pieces[1] in ALLOWED:
        return pieces[1]
    return None


def layer_violations(graph: Mapping[str, Iterable[str]],
                     allowed: Mapping[str, frozenset[str]] = ALLOWED) -> list[str]:
    """Every import the table forbids, as ``"a -> b (part a may not import part b)"``."""
    out = []
    for module in sorted(graph):
        part = part_of(module)
        if part is None:
            out.append(f"{module}: in no part of the table; add it to ALLOWED or CORE")
            continue
        for target in sorted(graph[module]):
            target_part = part_of(target)
            if target_part == part and part != API:
                continue
            if target_part in allowed[part] or target in allowed[part]:
                continue
            out.append(f"{module} -> {target} ({part} may not import {target_part or target})")
    return out


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """One cycle per strongly connected component with more than one module (or a module
    importing itself), as ``[a, b, ..., a]``; Tarjan's algorithm, iterative."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    nodes = sorted(set(graph) | {t for ts in graph.values() for t in ts})

    def edges(node: str) -> list[str]:
        return sorted(graph.get(node, ()))

    for start in nodes:
        if start in index:
            continue
        work = [(start, iter(edges(start)))]
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
                    work.append((child, iter(edges(child))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in graph.get(node, ()):
                    components.append(sorted(component))
    return [_cycle_in(component, graph) for component in sorted(components)]


def _cycle_in(component: list[str], graph: Mapping[str, Iterable[str]]) -> list[str]:
    """A shortest cycle through the first module of a strongly connected component."""
    members = set(component)
    start = component[0]
    parent: dict[str, str] = {}
    frontier = [start]
    while frontier:  # breadth first: the reported cycle is a shortest one
        following = []
        for node in frontier:
            for child in sorted(graph.get(node, ())):
                if child not in members:
                    continue
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parent[path[-1]])
                    return [start] + path[::-1][1:] + [start] if len(path) > 1 else [start, start]
                if child not in parent:
                    parent[child] = node
                    following.append(child)
        frontier = following
    return component  # not reached for a real component


def _format(cycle: list[str]) -> str:
    return " -> ".join(cycle)


# ---------------------------------------------------------------- the real tree
@pytest.fixture(scope="module")
def graph_and_unresolved() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    return read_graph()


def test_the_graph_is_read(graph_and_unresolved):
    graph, _ = graph_and_unresolved
    # a few edges known to exist, so a reader that finds nothing cannot pass the checks
    assert "reco.exceptions" in graph["reco.config"]
    assert "reco.serving" in graph[API]
    assert {"reco", "reco.data", "reco.ranking.hybrid"} <= set(graph)


def test_every_reco_import_names_a_module(graph_and_unresolved):
    _, unresolved = graph_and_unresolved
    assert not unresolved, "imports of modules that do not exist: " + "; ".join(
        f"{m} imports {sorted(t)}" for m, t in sorted(unresolved.items()))


def test_no_import_cycles(graph_and_unresolved):
    graph, _ = graph_and_unresolved
    found = cycles(graph)
    assert not found, "import cycles:\n  " + "\n  ".join(_format(c) for c in found)


def test_imports_follow_the_layers(graph_and_unresolved):
    graph, _ = graph_and_unresolved
    found = layer_violations(graph)
    assert not found, "imports the layers forbid:\n  " + "\n  ".join(found)


def test_nothing_imports_evaluation(graph_and_unresolved):
    graph, _ = graph_and_unresolved
    readers = sorted(m for m, targets in graph.items() if part_of(m) != "evaluation"
                     and any(part_of(t) == "evaluation" for t in targets))
    assert not readers, f"evaluation is read by nothing, but {readers} import it"


def test_every_lazy_export_names_a_module():
    # reco/__init__ resolves _EXPORTS at attribute access (not an import edge), so a
    # moved module would only fail when someone touches the name: check the targets here
    tree = ast.parse((ROOT / "reco" / "__init__.py").read_text(encoding="utf-8"))
    exports = next(
        ast.literal_eval(node.value) for node in tree.body
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", None) == "_EXPORTS"
    )
    files = module_files()
    missing = sorted({m for m in exports.values() if m not in files})
    assert not missing, f"_EXPORTS names modules that do not exist: {missing}"
    assert all(importlib.util.find_spec(m) is not None for m in set(exports.values()))


def test_the_type_checking_imports_match_the_lazy_exports():
    # the TYPE_CHECKING block is what mypy and IDEs see: it must name every export, from
    # the module __getattr__ loads it from, and nothing else
    tree = ast.parse((ROOT / "reco" / "__init__.py").read_text(encoding="utf-8"))
    exports = next(
        ast.literal_eval(node.value) for node in tree.body
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", None) == "_EXPORTS"
    )
    block = next(node for node in tree.body if isinstance(node, ast.If)
                 and getattr(node.test, "id", None) == "TYPE_CHECKING")
    imported = {alias.name: node.module for node in block.body
                if isinstance(node, ast.ImportFrom) for alias in node.names}
    assert imported == exports


#: The optional Spark engine: the only package that may import PySpark (or xgboost.spark),
#: and only inside functions or under TYPE_CHECKING, so ``import reco`` (and importing the
#: engine's modules) never needs it.
SPARK_PACKAGE = "reco.pipelines.spark"
SPARK_MODULES = ("pyspark", "xgboost.spark")


def spark_imports(root: Path = ROOT) -> list[str]:
    """Every import of PySpark outside the Spark package or at a module's top level."""
    found = []
    for module, path in module_files(root).items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        top = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            else:
                continue
            if not any(n == s or n.startswith(s + ".") for n in names for s in SPARK_MODULES):
                continue
            if not (module == SPARK_PACKAGE or module.startswith(SPARK_PACKAGE + ".")):
                found.append(f"{module} imports {names} (only {SPARK_PACKAGE} may)")
            elif id(node) in top:
                found.append(f"{module} imports {names} at import time (inside functions only)")
    return found


def test_pyspark_is_imported_only_by_the_spark_engine_and_lazily():
    found = spark_imports()
    assert not found, "PySpark imports:\n  " + "\n  ".join(found)


# ---------------------------------------------------------------- the checkers fail
def test_the_cycle_checker_reports_a_planted_cycle():
    graph = {
        "reco.ranking.a": {"reco.ranking.b", "reco.columns"},
        "reco.ranking.b": {"reco.ranking.c"},
        "reco.ranking.c": {"reco.ranking.a"},
        "reco.columns": set(),
        "reco.models.x": {"reco.models.x"},  # a module importing itself
    }
    assert cycles(graph) == [
        ["reco.models.x", "reco.models.x"],
        ["reco.ranking.a", "reco.ranking.b", "reco.ranking.c", "reco.ranking.a"],
    ]
    del graph["reco.models.x"]
    graph["reco.ranking.c"] = set()
    assert cycles(graph) == []


def test_the_layer_checker_reports_forbidden_imports():
    graph = {
        "reco.ranking.hybrid": {"reco.artifacts.model_dir", "reco.models.base",
                                "reco.ranking.booster", "reco.data.split"},
        "reco.data.tmdb": {"reco.columns"},
        "reco.models.content._text": {"reco.data.tmdb"},
        "reco.serving.service": {"reco.pipelines.train", "reco.models.base"},
        "reco.pipelines.train": {"reco.evaluation.metrics"},
        "reco.columns": {"reco.data.tmdb"},
        API: {"reco.serving", "reco.serving.service", "reco.exceptions"},
        "reco.stray": set(),
    }
    assert layer_violations(graph) == [
        "api -> reco.serving.service (api may not import serving)",
        "reco.columns -> reco.data.tmdb (core may not import data)",
        "reco.models.content._text -> reco.data.tmdb (models may not import data)",
        "reco.pipelines.train -> reco.evaluation.metrics (pipelines may not import evaluation)",
        "reco.ranking.hybrid -> reco.artifacts.model_dir (ranking may not import artifacts)",
        "reco.serving.service -> reco.pipelines.train (serving may not import pipelines)",
        "reco.stray: in no part of the table; add it to ALLOWED or CORE",
    ]


def test_the_reader_resolves_every_import_form(tmp_path):
    # a tiny tree with each import form the reader must see
    package = tmp_path / PACKAGE
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "columns.py").write_text("")
    (package / "sub" / "__init__.py").write_text("from . import leaf\n")
    (package / "sub" / "leaf.py").write_text(
        "from __future__ import annotations\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from reco.sub.other import Thing\n"
        "def late():\n"
        "    import reco.columns\n"
        "from ..columns import NAME\n"
        "from reco import columns\n")
    (package / "sub" / "other.py").write_text("from .leaf import late\nimport reco.gone\n")
    # from a package, a name that is not a module: an import of the package's __init__
    (tmp_path / "api.py").write_text("from reco.sub import something\n")
    files = module_files(tmp_path)
    graph, missing = {}, {}
    for module, path in files.items():
        graph[module], missing[module] = _imported(
            ast.parse(path.read_text()), module, path.name == "__init__.py", files)
    assert graph == {
        "reco": set(), "reco.columns": set(),
        "reco.sub": {"reco.sub.leaf"},
        "reco.sub.leaf": {"reco.sub.other", "reco.columns"},
        "reco.sub.other": {"reco.sub.leaf"},
        API: {"reco.sub"},
    }
    assert missing["reco.sub.other"] == {"reco.gone"}
    assert cycles(graph) == [["reco.sub.leaf", "reco.sub.other", "reco.sub.leaf"]]


def test_the_spark_import_checker_reports_planted_imports(tmp_path):
    engine = tmp_path / "reco" / "pipelines" / "spark"
    engine.mkdir(parents=True)
    (tmp_path / "reco" / "__init__.py").write_text("")
    (tmp_path / "reco" / "models.py").write_text("def f():\n    import pyspark\n")
    (engine / "eager.py").write_text("from pyspark.sql import functions\n")
    (engine / "lazy.py").write_text("def f():\n    from xgboost.spark import SparkXGBRanker\n")
    found = spark_imports(tmp_path)
    assert len(found) == 2
    assert any(line.startswith("reco.models imports") for line in found)
    assert any(line.startswith("reco.pipelines.spark.eager imports") for line in found)
