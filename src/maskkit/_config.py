"""Configurations as JSON: one conversion to plain types, their fingerprint and their differences.

Rules, schedules and the Masker describe themselves as dicts of JSON types. `plain` makes
any such dict (with tuples, arrays or numpy scalars inside) comparable after a JSON round trip.
"""

from __future__ import annotations

import hashlib
import json
import numbers
from typing import Any

import numpy as np


def plain(obj: Any) -> Any:
    """Return ``obj`` in JSON types: dicts with str keys, lists, bool, int, float, str, None.

    Examples
    --------
    >>> import numpy as np
    >>> plain({"a": (np.int64(1), np.arange(2.0)), 2: np.bool_(True)})
    {'a': [1, [0.0, 1.0]], '2': True}
    """
    if isinstance(obj, dict):
        return {str(k): plain(x) for k, x in obj.items()}
    if isinstance(obj, np.ndarray):
        obj = obj.tolist()
    if isinstance(obj, (list, tuple)):
        return [plain(x) for x in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, numbers.Integral):
        return int(obj)
    if isinstance(obj, numbers.Real):
        return float(obj)
    return obj


def fingerprint(config: dict[str, Any]) -> str:
    """Return a 16-hex-digit hash of ``config`` (keys sorted, JSON types).

    Examples
    --------
    >>> fingerprint({"b": 1, "a": (2,)}) == fingerprint({"a": [2], "b": 1})
    True
    """
    blob = json.dumps(plain(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def differences(mine: dict[str, Any], theirs: dict[str, Any]) -> list[str]:
    """Return ``"key: checkpoint X, this Masker Y"`` for every dotted key whose values differ.

    Examples
    --------
    >>> differences({"rate": {"p": 0.1}, "seed": 1}, {"rate": {"p": 0.2}, "seed": 1})
    ['rate.p: checkpoint 0.2, this Masker 0.1']
    """
    a, b = _flatten(plain(mine)), _flatten(plain(theirs))
    unset = "<unset>"
    return [
        f"{k}: checkpoint {b.get(k, unset)!r}, this Masker {a.get(k, unset)!r}"
        for k in sorted(set(a) | set(b))
        if a.get(k, unset) != b.get(k, unset)
    ]


def _flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for k, x in obj.items():
            out.update(_flatten(x, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: obj}
