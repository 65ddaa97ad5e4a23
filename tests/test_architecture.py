"""The package's import structure: no import cycles, no upward imports.

Every module is parsed with ``ast`` (nothing is imported). Imports inside functions count
(a lazy import still ties two modules together); imports under ``if TYPE_CHECKING:`` do
not (they never run). The layers, lowest first — a module may import its own layer and
the layers below, never above (docs/architecture.md explains each):

0. core: errors, types, schema, _sync, _progress, _version, config, cache, parsing, _secrets,
   asking, render.html (the one HTML environment every layer renders through) and
   render.report (the generic standalone page: HTML fragments in, one file out)
1. models
2. fusion
3. panel
4. votes
5. render (the rest: rating plots)
6. widgets
7. front-ends: tasks, evaluation, demo, cli, notebook_checks, testing, the package root
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import fusionkit

ROOT = Path(fusionkit.__file__).parent
PKG = "fusionkit"

#: (module prefix, layer). The longest matching prefix decides.
LAYERS: tuple[tuple[str, int], ...] = (
    ("fusionkit.errors", 0),
    ("fusionkit.types", 0),
    ("fusionkit.schema", 0),
    ("fusionkit._sync", 0),
    ("fusionkit._progress", 0),
    ("fusionkit._version", 0),
    ("fusionkit.config", 0),
    ("fusionkit.cache", 0),
    ("fusionkit.parsing", 0),
    ("fusionkit._secrets", 0),
    ("fusionkit.asking", 0),
    ("fusionkit.render.html", 0),
    ("fusionkit.render.report", 0),
    ("fusionkit.models", 1),
    ("fusionkit.fusion", 2),
    ("fusionkit.panel", 3),
    ("fusionkit.votes", 4),
    ("fusionkit.render", 5),
    ("fusionkit.widgets", 6),
    ("fusionkit.tasks", 7),
    ("fusionkit.evaluation", 7),
    ("fusionkit.demo", 7),
    ("fusionkit.cli", 7),
    ("fusionkit.notebook_checks", 7),
    ("fusionkit.testing", 7),
    ("fusionkit", 7),
)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING"
    )


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The fusionkit modules ``name`` imports (outside ``if TYPE_CHECKING:``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def resolve(target: str) -> None:
        # the longest known module that the dotted name starts with
        while target and target not in known:
            target = target.rpartition(".")[0]
        if target and target != name:
            found.add(target)

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(PKG):
                    resolve(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join([*base, *([node.module] if node.module else [])])
            else:
                mod = node.module or ""
            if mod.startswith(PKG):
                for alias in node.names:  # "from . import judge" imports a submodule
                    sub = f"{mod}.{alias.name}"
                    resolve(sub if sub in known else mod)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _layer(name: str) -> int:
    best = max((p for p, _ in LAYERS if name == p or name.startswith(p + ".")), key=len)
    return dict(LAYERS)[best]


_MODULES = _modules()  # walked once, not once per module
GRAPH = {name: _imports(name, path, set(_MODULES)) for name, path in _MODULES.items()}


def test_the_layer_table_covers_every_module() -> None:
    assert all(_layer(name) is not None for name in GRAPH)


def test_no_module_imports_a_higher_layer() -> None:
    upward = sorted(
        f"{a} (layer {_layer(a)}) imports {b} (layer {_layer(b)})"
        for a, targets in GRAPH.items()
        for b in targets
        if _layer(b) > _layer(a)
    )
    assert upward == []


def _cycles() -> list[list[str]]:
    # Tarjan's strongly connected components; any component of 2+ modules is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in GRAPH.get(v, ()):
            if w not in index:
                strong(w)
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
                out.append(sorted(comp))

    for v in GRAPH:
        if v not in index:
            strong(v)
    return out


#: Cycles that exist today and are someone's to break; a NEW cycle fails the test, and a
#: known one that disappears must be deleted here (so this list only shrinks).
KNOWN_CYCLES: list[list[str]] = []


def test_no_import_cycles_between_fusionkit_modules() -> None:
    cycles = _cycles()
    assert [c for c in cycles if c not in KNOWN_CYCLES] == []
    assert [c for c in KNOWN_CYCLES if c not in cycles] == [], "fixed: remove it from the list"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from .b import x\n", {"pkg.b"}),
        ("from . import b\n", {"pkg.b"}),
        ("if TYPE_CHECKING:\n    from .b import x\n", set()),
        ("def f():\n    from .b import x\n", {"pkg.b"}),
    ],
)
def test_the_import_reader_sees_lazy_imports_and_skips_type_checking(
    tmp_path: Path, source: str, expected: set[str]
) -> None:
    global PKG
    f = tmp_path / "a.py"
    f.write_text(source)
    old = PKG
    PKG = "pkg"
    try:
        assert _imports("pkg.a", f, {"pkg", "pkg.a", "pkg.b"}) == expected
    finally:
        PKG = old
