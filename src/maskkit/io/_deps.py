"""Lazy imports of optional dependencies, each failing with an install hint."""

from __future__ import annotations

from types import ModuleType
from typing import Any

_EXTRA = {
    "h5py": "h5",
    "msprime": "sim",
    "tskit": "sim",
    "cyvcf2": "vcf",
    "tqdm": "vcf",
    "zarr": "zarr",
    "obstore": "s3",
}


def require(module: str) -> Any:
    """Import ``module`` or raise ImportError naming the maskkit extra that installs it."""
    import importlib

    try:
        mod: ModuleType = importlib.import_module(module)
    except ImportError as exc:
        extra = _EXTRA.get(module, module)
        raise ImportError(
            f"{module} is needed for this part of maskkit.io but is not installed; "
            f'install it with: pip install "maskkit[{extra}]"'
        ) from exc
    return mod


def progress(
    iterable: Any = None,
    *,
    total: Any = None,
    desc: str = "",
    enabled: bool = True,
    unit: str = "it",
) -> Any:
    """Return a tqdm progress bar (or a no-op one when tqdm is missing or ``enabled`` is false)."""
    try:
        from tqdm import tqdm
    except ImportError:  # progress bars are a nicety, never a hard requirement
        enabled = False
    if not enabled:
        return _NoBar(iterable)
    return tqdm(iterable, total=total, desc=desc, unit=unit, disable=None, leave=False)


class _NoBar:
    def __init__(self, iterable: Any = None) -> None:
        self._it = iterable

    def __iter__(self) -> Any:
        return iter(self._it)

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, s: str) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc: object) -> None:
        pass
