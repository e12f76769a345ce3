"""Every public name carries a docstring with a runnable example (run by --doctest-modules)."""

from __future__ import annotations

import importlib
import inspect

import pytest

MODULES = [
    "maskkit",
    "maskkit.curriculum",
    "maskkit.freq",
    "maskkit.masker",
    "maskkit.metrics",
    "maskkit.report",
    "maskkit.rules",
    "maskkit.tokens",
    "maskkit.io",
    "maskkit.torch",
]


def _public(module_name: str) -> list[tuple[str, object]]:
    module = importlib.import_module(module_name)
    names = [(n, getattr(module, n)) for n in module.__all__]
    return [
        (n, obj)
        for n, obj in names
        if (inspect.isfunction(obj) or inspect.isclass(obj))
        # exception types document themselves by name and message
        and not (inspect.isclass(obj) and issubclass(obj, Exception))
    ]


@pytest.mark.parametrize("module_name", MODULES)
def test_public_names_have_examples(module_name: str) -> None:
    missing = [n for n, obj in _public(module_name) if ">>>" not in (inspect.getdoc(obj) or "")]
    assert not missing, f"{module_name}: no docstring example for {missing}"


@pytest.mark.parametrize("module_name", MODULES)
def test_all_names_exist(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert len(set(module.__all__)) == len(module.__all__)
    for name in module.__all__:
        assert hasattr(module, name), f"{module_name}.__all__ lists missing {name!r}"
