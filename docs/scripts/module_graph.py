"""Draw maskkit's own module graph in layers; writes docs/img/architecture.png.

Run from the repository root::

    python docs/scripts/module_graph.py            # draw, and print layers, cycles, upward imports
    python docs/scripts/module_graph.py --check    # print only; exit 1 on a cycle

Needs matplotlib (``pip install maskkit[docs]``). Files are nodes and ``import`` statements
between them are edges, read with ``ast`` from src/maskkit (nothing is imported or run). Imports
inside a function or under ``if TYPE_CHECKING:`` are drawn dashed: they run late or never, but
they are still dependencies. A file's layer is one more than the highest layer it imports from
(files that import nothing of the package are layer 1); the files of a cycle share one layer.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
PACKAGE = "maskkit"
OUT = ROOT / "docs" / "img" / "architecture.png"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(path: Path, modules: set[str]) -> dict[str, bool]:
    """Package modules imported by one file -> True if any import of it runs at import time."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: dict[str, bool] = {}

    def add(target: str, eager: bool) -> None:
        while target and target not in modules:
            target = target.rpartition(".")[0]
        if target and target != name:
            found[target] = found.get(target, False) or eager

    def visit(node: ast.AST, eager: bool) -> None:
        for child in ast.iter_child_nodes(node):
            late = not eager or isinstance(
                child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
            )
            if isinstance(child, ast.If) and _is_type_checking(child):
                late = True
            if isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name.split(".")[0] == PACKAGE:
                        add(alias.name, eager)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")
                    base = base[: len(base) - (child.level - 1)]
                    stem = ".".join(base + ([child.module] if child.module else []))
                else:
                    stem = child.module or ""
                if stem.split(".")[0] != PACKAGE:
                    continue
                for alias in child.names:
                    full = f"{stem}.{alias.name}"
                    add(full if full in modules else stem, eager)
            visit(child, eager and not late)

    visit(ast.parse(path.read_text(encoding="utf-8")), True)
    return found


def graph() -> tuple[list[str], dict[str, dict[str, bool]]]:
    files = sorted((SRC / PACKAGE).rglob("*.py"))
    modules = {module_name(f) for f in files}
    return sorted(modules), {module_name(f): imports(f, modules) for f in files}


def components(nodes: list[str], edges: dict[str, dict[str, bool]]) -> list[list[str]]:
    """Strongly connected components (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges[v]:
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
            out.append(sorted(comp))

    sys.setrecursionlimit(10_000)
    for v in nodes:
        if v not in index:
            strong(v)
    return out


def layers(nodes: list[str], edges: dict[str, dict[str, bool]]) -> dict[str, int]:
    comps = components(nodes, edges)
    comp_of = {v: i for i, c in enumerate(comps) for v in c}
    layer: dict[int, int] = {}
    # Tarjan emits a component after every component it reaches: dependencies come first.
    for i, comp in enumerate(comps):
        below = [layer[comp_of[w]] for v in comp for w in edges[v] if comp_of[w] != i]
        layer[i] = 1 + max(below, default=0)
    return {v: layer[comp_of[v]] for v in nodes}


def _group(name: str) -> tuple[str, str]:
    leaf = name.rpartition(".")[2]
    if name.startswith(f"{PACKAGE}.io"):
        return "data (maskkit.io)", "#d9ead3"
    if name in (f"{PACKAGE}.{m}" for m in ("torch", "hf", "lightning", "cli")) or name == PACKAGE:
        return "adapters and entry points", "#fce5cd"
    if leaf.startswith("_"):
        return "private: kernels, checks, helpers", "#eeeeee"
    return "public core", "#cfe2f3"


def draw(nodes: list[str], edges: dict[str, dict[str, bool]], layer: dict[str, int]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    top = max(layer.values())
    rows: dict[int, list[str]] = {}
    for v in nodes:
        rows.setdefault(layer[v], []).append(v)
    fig, ax = plt.subplots(figsize=(7.2, 1.0 + 0.95 * top), layout="constrained")
    pos: dict[str, tuple[float, float]] = {}
    for lv, row in sorted(rows.items()):
        # order a row by where its imports sit, so edges cross less; a long row is staggered
        row.sort(key=lambda v: (sum(pos.get(w, (0.5, 0))[0] for w in edges[v]), v))
        stagger = 0.2 if len(row) > 6 else 0.0
        for i, v in enumerate(row):
            pos[v] = ((i + 0.5) / len(row), lv + (stagger if i % 2 else -stagger))
    for v in nodes:
        for w, eager in edges[v].items():
            (x0, y0), (x1, y1) = pos[v], pos[w]
            colour = "#cc0000" if layer[w] >= layer[v] else "#7f7f7f"
            ax.annotate(
                "",
                xy=(x1, y1 + 0.17),
                xytext=(x0, y0 - 0.17),
                arrowprops={
                    "arrowstyle": "-|>",
                    "color": colour,
                    "lw": 0.8,
                    "alpha": 0.55,
                    "linestyle": "-" if eager else "--",
                    "shrinkA": 0,
                    "shrinkB": 0,
                },
            )
    size = 9
    for v, (x, y) in pos.items():
        label = v if v == PACKAGE else v.removeprefix(f"{PACKAGE}.")
        box = {"boxstyle": "round,pad=0.3", "fc": _group(v)[1], "ec": "#555555", "lw": 0.6}
        ax.text(x, y, label, ha="center", va="center", fontsize=size, bbox=box)
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(0.4, top + 0.6)
    ax.set_yticks(range(1, top + 1), [f"layer {i}" for i in range(1, top + 1)], fontsize=10)
    ax.set_xticks([])
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    seen: dict[str, str] = {}
    for v in nodes:
        seen.setdefault(*_group(v))
    handles = [Patch(fc=c, ec="#555555", label=g) for g, c in seen.items()]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.0, -0.01), ncol=2,
              fontsize=9, frameon=False)  # fmt: skip
    fig.savefig(OUT, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="print only; exit 1 on a cycle")
    args = parser.parse_args(argv)
    nodes, edges = graph()
    layer = layers(nodes, edges)
    cycles = [c for c in components(nodes, edges) if len(c) > 1]
    print(f"{len(nodes)} files, {sum(map(len, edges.values()))} imports, "
          f"{max(layer.values())} layers, {len(cycles)} cycles")  # fmt: skip
    for lv in range(max(layer.values()), 0, -1):
        print(f"layer {lv}: " + ", ".join(v for v in nodes if layer[v] == lv))
    for c in cycles:
        print("cycle: " + " <-> ".join(c))
    if not args.check:
        draw(nodes, edges, layer)
        print(OUT)
    return 1 if cycles and args.check else 0


if __name__ == "__main__":
    raise SystemExit(main())
