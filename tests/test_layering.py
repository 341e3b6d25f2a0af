"""The package layering, checked from the source (like go-containerregistry's depcheck).

- `supplychain.image` (the hub) imports nothing from the layers above it;
- the library never imports click (only `supplychain.cli` does);
- the import graph has no cycles: module-level imports and `TYPE_CHECKING` imports count (a
  function-local import is how a layer reaches *down* lazily, never a way to hide a cycle).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "supplychain"
ABOVE_IMAGE = ("registry", "signing", "policy", "attest", "build", "sbom", "harden", "analyzers",
               "pipeline", "cli", "stores", "copy", "verify", "promote", "devstack")


def _modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


MODULES = _modules()


def _targets(node: ast.AST) -> list[str]:
    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        return [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module
                for a in node.names]
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    return []


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(path: Path, *, everywhere: bool) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    if everywhere:
        return [t for node in ast.walk(tree) for t in _targets(node)]
    found = []
    for node in tree.body:
        if isinstance(node, ast.If) and _is_type_checking(node):
            found += [t for sub in node.body for t in _targets(sub)]
        found += _targets(node)
    return found


def test_image_imports_nothing_above_it() -> None:
    offences = [f"{name} imports {target}"
                for name, path in MODULES.items() if name.startswith("supplychain.image")
                for target in _imports(path, everywhere=True)
                if any(target == f"supplychain.{up}" or target.startswith(f"supplychain.{up}.")
                       for up in ABOVE_IMAGE)]
    assert offences == []


def test_the_library_never_imports_click() -> None:
    offences = [name for name, path in MODULES.items()
                if not name.startswith("supplychain.cli")
                and any(t == "click" or t.startswith("click.") for t in _imports(path, everywhere=True))]
    assert offences == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in MODULES.items():
        graph[name]
        for target in _imports(path, everywhere=False):
            # A package's own __init__ re-exporting its modules is not a cycle of layers.
            if target in MODULES and target != name and not name.startswith(target + "."):
                graph[name].add(target)
    assert _cycles(graph) == []


def test_the_checks_can_fail() -> None:
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b"]]
    assert "supplychain.image.view" in MODULES and "supplychain.cli" in MODULES
