"""The one checked integer narrowing: every cast to a narrower integer type goes through here.

A cast that wraps (allele 256 into int8 reads as 0, id 40000 into int16 as -25536, uint64
2**63 + 5 into int64 as a negative position) or truncates (index 2.7 into 2) turns good data
into other good-looking data. `narrow` refuses instead, naming the argument, the first
offending value and the fix.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["narrow", "narrow_int"]


def _describe(dtype: np.dtype) -> str:
    info = np.iinfo(dtype)
    return f"{dtype} [{info.min}, {info.max}]"


def _first_outside(arr: np.ndarray, info: np.iinfo) -> int:
    """Return the first value of ``arr`` (flat order) outside the range of ``info``."""
    flat = arr.ravel()
    for start in range(0, flat.size, 1 << 16):
        for x in flat[start : start + (1 << 16)].tolist():
            if not info.min <= x <= info.max:
                return int(x)
    raise AssertionError("no value outside the range")  # pragma: no cover


def narrow(
    values: Any,
    dtype: Any,
    name: str,
    *,
    fix: str = "",
    integral_floats: bool = False,
    error: type[Exception] = ValueError,
) -> np.ndarray:
    """Return ``values`` cast to the integer ``dtype``, refusing any value that would change.

    Parameters
    ----------
    values : array_like
        Integers (any width, signed or unsigned), or floats when ``integral_floats``.
    dtype : integer dtype
        The target type.
    name : str
        The argument's name, for the message.
    fix : str, optional
        What the caller should do instead; appended to the message.
    integral_floats : bool, default False
        Accept floats whose values are whole numbers (positions read from a float column).
        Otherwise any float array is refused, even ``2.0``: a float index or token id is a
        bug upstream, not a value to round.
    error : exception class, default ValueError
        Raised for out-of-range or non-integral values (``TypeError`` is raised for a
        non-numeric dtype whatever this says).

    Returns
    -------
    numpy.ndarray
        The same values in ``dtype`` (a copy only when the dtype changes).

    Examples
    --------
    >>> import numpy as np
    >>> narrow(np.array([1, 2], dtype=np.int64), np.int8, "alleles").dtype
    dtype('int8')
    >>> narrow(np.array([256], dtype=np.int16), np.int8, "alleles")
    Traceback (most recent call last):
    ...
    ValueError: alleles holds 256, outside int8 [-128, 127]
    """
    target = np.dtype(dtype)
    if target.kind not in "iu":
        raise TypeError(f"narrow() targets integer dtypes, got {target}")
    arr = np.asarray(values)
    tail = f"; {fix}" if fix else ""
    if arr.dtype.kind == "b":
        return arr.astype(target)
    if arr.dtype.kind == "f":
        if not integral_floats:
            raise TypeError(f"{name} must hold integers, got dtype {arr.dtype}{tail}")
        finite = np.isfinite(arr)
        if not finite.all():
            bad = arr[~finite].flat[0]
            raise error(f"{name} holds {bad}, not an integer{tail}")
        whole = arr == np.floor(arr)
        if not whole.all():
            bad = arr[~whole].flat[0]
            raise error(f"{name} holds {bad}, not an integer{tail}")
        info = np.iinfo(target)
        # float64 holds every int64 bound only approximately: compare in float, then re-check
        if arr.size and (arr.min() < info.min or arr.max() >= float(info.max) + 1.0):
            bad = arr.min() if arr.min() < info.min else arr.max()
            raise error(f"{name} holds {bad:.0f}, outside {_describe(target)}{tail}")
        return arr.astype(target)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integers, got dtype {arr.dtype}{tail}")
    if arr.dtype == target:
        return arr
    if arr.size and not np.can_cast(arr.dtype, target, casting="safe"):
        info = np.iinfo(target)
        lo, hi = int(arr.min()), int(arr.max())  # exact in Python ints for every width
        if lo < info.min or hi > info.max:
            raise error(
                f"{name} holds {_first_outside(arr, info)}, outside {_describe(target)}{tail}"
            )
    return arr.astype(target)


def narrow_int(value: Any, dtype: Any, name: str, *, fix: str = "") -> int:
    """Return one integer ``value`` as a Python int that fits ``dtype``; refuse floats and bools.

    Examples
    --------
    >>> narrow_int(np.int64(5), np.int8, "mask_token_id")
    5
    >>> narrow_int(2.0, np.int8, "index")
    Traceback (most recent call last):
    ...
    TypeError: index must be an integer, got 2.0 (float)
    """
    tail = f"; {fix}" if fix else ""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__}){tail}")
    v = int(value)
    info = np.iinfo(np.dtype(dtype))
    if not info.min <= v <= info.max:
        raise ValueError(f"{name} is {v}, outside {_describe(np.dtype(dtype))}{tail}")
    return v
