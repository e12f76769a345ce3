"""The module graph of ``maskkit.io``: no cycles, no private names borrowed across modules."""

from __future__ import annotations

import ast
from pathlib import Path

import maskkit.io

IO = Path(maskkit.io.__file__).parent


def _imports() -> dict[str, set[tuple[str, str]]]:
    """``{module: {(imported io module, name)}}`` for every import inside the io package,
    at module level or inside functions (a deferred import is still an edge)."""
    graph: dict[str, set[tuple[str, str]]] = {}
    for path in sorted(IO.glob("*.py")):
        mod = path.stem
        edges: set[tuple[str, str]] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level == 1 and node.module:  # from .x import y
                    target = node.module.split(".")[0]
                    edges.update((target, a.name) for a in node.names)
                elif node.level == 1:  # from . import x
                    edges.update((a.name, "*") for a in node.names)
                elif node.level == 2 and node.module == "io":  # from ..io import y
                    edges.update(("__init__", a.name) for a in node.names)
            elif isinstance(node, ast.Import):
                edges.update(
                    ("__init__", "*") for a in node.names if a.name.startswith("maskkit.io")
                )
        graph[mod] = edges
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
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


def test_io_modules_import_each_other_without_cycles() -> None:
    graph = {m: {t for t, _ in edges} for m, edges in _imports().items() if m != "__init__"}
    assert _cycle(graph) is None, f"import cycle in maskkit.io: {' -> '.join(_cycle(graph))}"


def test_no_io_module_imports_the_package_or_the_opener_back() -> None:
    for mod, edges in _imports().items():
        if mod == "__init__":
            continue
        assert not {t for t, _ in edges} & {"__init__"}, f"io/{mod}.py imports maskkit.io"
    importers = {m for m, edges in _imports().items() if any(t == "opener" for t, _ in edges)}
    assert importers == {"__init__"}, "only the package imports the opener"


def test_no_private_name_is_borrowed_from_another_io_module() -> None:
    borrowed = sorted(
        f"io/{mod}.py imports {name} from io/{target}.py"
        for mod, edges in _imports().items()
        for target, name in edges
        if name.startswith("_") and not target.startswith("_")
    )
    assert not borrowed


def test_open_store_is_the_same_public_function() -> None:
    from maskkit.io import opener

    assert maskkit.io.open_store is opener.open_store
    assert "open_store" in maskkit.io.__all__
