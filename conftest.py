"""pytest setup for the doctests under src/ (tests/conftest.py sets up tests/)."""

import ast
import itertools
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest


def _has_zarr3() -> bool:
    try:
        return int(metadata.version("zarr").split(".")[0]) >= 3
    except metadata.PackageNotFoundError:
        return False


# VCF Zarr needs zarr >= 3.1, which needs Python >= 3.11 (the test extra installs it there).
collect_ignore = [] if _has_zarr3() else ["src/maskkit/io/vcz.py"]


# -- marks decide what is imported -------------------------------------------------------------
# `pytest -m "not torch"` must collect without torch installed. A test module whose
# module-level `pytestmark` can never satisfy the -m expression is not imported at all, and the
# doctests of the package modules that import torch at the top carry the `torch` mark.

_TORCH_MODULES = {"torch.py", "hf.py", "lightning.py", "_blocks.py"}  # src/maskkit modules importing torch


def _torch_module(path: Path) -> bool:
    return path.name in _TORCH_MODULES and path.parent.name == "maskkit"


def _mark_names(node: ast.AST) -> set[str]:
    """Names ``X`` of every ``<...>.mark.X`` under ``node``."""
    return {
        sub.attr
        for sub in ast.walk(node)
        if isinstance(sub, ast.Attribute)
        and isinstance(sub.value, ast.Attribute)
        and sub.value.attr == "mark"
    }


def _marks_of(path: Path) -> tuple[set[str], set[str]]:
    """``(module-level marks, every mark named in the file)`` of a test module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    module: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets
        ):
            module |= _mark_names(node.value)
    return module, _mark_names(tree)


def _can_match(expr: Any, marks: set[str]) -> bool:
    return bool(expr.evaluate(lambda name, **_: name in marks))


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Skip importing a module none of whose tests the ``-m`` expression can select."""
    expr_text = config.getoption("markexpr")
    if not expr_text or collection_path.suffix != ".py":
        return None
    if _torch_module(collection_path):
        module, names = {"torch"}, {"torch"}
    elif collection_path.name.startswith("test_"):
        module, names = _marks_of(collection_path)
    else:
        return None
    if not module:
        return None
    from _pytest.mark.expression import Expression  # the parser pytest's own -m uses

    expr = Expression.compile(expr_text)
    extra = sorted(names - module)
    # a test adds its own marks to the module's: could any combination match?
    for k in range(len(extra) + 1):
        for more in itertools.combinations(extra, k):
            if _can_match(expr, module | set(more)):
                return None
    return True


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the doctests of the modules that import torch with ``torch``."""
    for item in items:
        if _torch_module(Path(str(item.path))):
            item.add_marker(pytest.mark.torch)
