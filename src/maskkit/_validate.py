"""Argument checks shared by the public wrappers. Each error names the argument and the fix."""

from __future__ import annotations

import copy
import math
import numbers
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import numpy as np

_KERNEL_DTYPES = (np.int8, np.int16, np.int32, np.int64)
_UNSIGNED_TO_SIGNED = {
    np.dtype(np.uint8): np.int16,
    np.dtype(np.uint16): np.int32,
    np.dtype(np.uint32): np.int64,
}
MAX_U64 = 2**64 - 1
_TOO_HARD: Any = getattr(np, "exceptions", np).TooHardError  # numpy < 1.25: np.TooHardError


_FAST_DTYPES = frozenset(np.dtype(t) for t in _KERNEL_DTYPES)  # native byte order only
_NO_INDICES = np.empty(0, dtype=np.int64)
_BOOL = np.dtype(np.bool_)
_SHARED_LENGTHS: dict[int, np.ndarray] = {}


def haps_2d(haps: Any, name: str = "haps") -> tuple[np.ndarray, int, tuple[int, ...]]:
    """Return ``(rows x sites view, ploidy, original shape)`` of an allele array."""
    if type(haps) is np.ndarray and haps.dtype in _FAST_DTYPES and haps.flags.c_contiguous:
        # fast path (small batches): the checks below would all pass and change nothing
        shape = haps.shape
        if len(shape) == 2:
            return haps, 1, shape
        if len(shape) == 3 and shape[1] >= 1:
            return haps.reshape(shape[0] * shape[1], shape[2]), shape[1], shape
    arr = haps if type(haps) is np.ndarray else np.asarray(haps)
    if arr.dtype.kind not in "iu":
        raise TypeError(
            f"{name} must hold integer alleles (0 = ref, 1.. = alt, negative = missing), "
            f"got dtype {arr.dtype}; convert with {name}.astype(np.int8)"
        )
    if arr.ndim not in (2, 3):
        raise ValueError(
            f"{name} must be 2-D (rows, sites) or 3-D (samples, ploidy, sites), "
            f"got shape {arr.shape}"
        )
    if arr.ndim == 3 and arr.shape[1] < 1:
        raise ValueError(f"{name} has ploidy 0 (shape {arr.shape}); the ploidy axis must be >= 1")
    if not arr.dtype.isnative:
        # numba types only native byte order (big-endian data, e.g. from some HDF5 files)
        arr = arr.astype(arr.dtype.newbyteorder("="))
    if arr.dtype in _UNSIGNED_TO_SIGNED:
        arr = arr.astype(_UNSIGNED_TO_SIGNED[arr.dtype])
    elif arr.dtype.type not in _KERNEL_DTYPES:
        raise TypeError(
            f"{name} dtype {arr.dtype} is not supported; use int8, int16, int32 or int64"
        )
    arr = np.ascontiguousarray(arr)
    ploidy = arr.shape[1] if arr.ndim == 3 else 1
    # explicit row count: reshape(-1, 0) is ambiguous and fails for arrays with zero sites
    return arr.reshape(arr.shape[0] * ploidy, arr.shape[-1]), ploidy, arr.shape


def int_scalar(value: Any, name: str, low: int = 0, high: int = MAX_U64) -> int:
    """Return ``value`` as a Python int in ``[low, high]``."""
    if type(value) is int and low <= value <= high:  # fast path for the common case
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    v = int(value)
    if v < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {v}")
    if v > high:
        raise ValueError(f"{name} must be at most {high}, got {v}")
    return v


def rate_scalar(value: Any, name: str) -> float:
    """Return ``value`` as a float in [0, 1]."""
    if type(value) is float and 0.0 <= value <= 1.0:  # fast path; NaN fails the comparison
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number in [0, 1], got {value!r}")
    v = float(value)
    if math.isnan(v) or not 0.0 <= v <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {v}")
    return v


def nonneg_scalar(value: Any, name: str) -> float:
    """Return ``value`` as a finite float ``>= 0``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number >= 0, got {value!r}")
    x = float(value)
    if not (math.isfinite(x) and x >= 0.0):
        raise ValueError(f"{name} must be finite and >= 0, got {x}")
    return x


def flag(value: Any, name: str) -> bool:
    """Return ``value`` as a bool; only True and False (Python or numpy) are accepted."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def float_array(value: Any, name: str) -> np.ndarray:
    """Return ``value`` as a float64 array; refuse bool, complex, text and objects."""
    arr = np.asarray(value)
    if arr.dtype == np.bool_ or arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    return arr.astype(np.float64)


def unit_interval(value: Any, name: str) -> None:
    """Raise ValueError unless every number of ``value`` is in [0, 1] (NaN is not)."""
    arr = np.asarray(value, dtype=np.float64)
    bad = ~((arr >= 0.0) & (arr <= 1.0))
    if bad.any():
        raise ValueError(f"{name} must be in [0, 1] (no NaN), got {arr[bad].ravel()[0]}")


def bin_rates(value: Any, n_bins: int, name: str = "rates") -> np.ndarray:
    """Return a rate table as float64: one rate per bin, or a (ref row, alt row) table."""
    table = float_array(value, name)
    if table.shape not in ((n_bins,), (2, n_bins)):
        raise ValueError(
            f"{name} must have shape ({n_bins},) (one rate per bin) or (2, {n_bins}) (ref row, "
            f"alt row) for {n_bins - 1} edges, got {table.shape}"
        )
    # a few rates (the usual table): checked in Python, without numpy's per-call cost
    if table.size > _FEW_RATES or not all(0.0 <= x <= 1.0 for x in table.ravel().tolist()):
        unit_interval(table, name)
    return table


_FEW_RATES = 64


def rates(value: Any, n: int, name: str) -> np.ndarray:
    """Return float64 per-sample rates: shape ``(1,)`` for a scalar (shared), else ``(n,)``."""
    if isinstance(value, (float, int, np.generic)) or np.ndim(value) == 0:
        if isinstance(value, np.ndarray):
            value = value[()]  # a 0-d array counts as the scalar it holds
        return np.array([rate_scalar(value, name)])
    arr = np.asarray(value)
    # integer or real only: complex rates would be cast to real with a warning
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be a number or an array of numbers, got dtype {arr.dtype}")
    if arr.shape != (n,):
        raise ValueError(
            f"{name} must be a scalar or have shape ({n},) (one per sample), got {arr.shape}"
        )
    arr = arr.astype(np.float64)
    bad = ~((arr >= 0.0) & (arr <= 1.0))
    if bad.any():
        raise ValueError(
            f"{name} must be in [0, 1] (no NaN), "
            f"got {arr[bad][0]} at sample {np.flatnonzero(bad)[0]}"
        )
    return arr


def lengths(value: Any, n: int, sites: int) -> np.ndarray:
    """Return int64 real lengths per sample; ``(1,)`` = ``[sites]`` when not given (shared)."""
    if value is None:  # shared and never written by a kernel: keep one per width
        arr = _SHARED_LENGTHS.get(sites)
        if arr is None:
            if len(_SHARED_LENGTHS) > 64:
                _SHARED_LENGTHS.clear()
            arr = _SHARED_LENGTHS[sites] = np.array([sites], dtype=np.int64)
        return arr
    arr = np.asarray(value)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"lengths must be integers (real sites per sample), got dtype {arr.dtype}")
    if arr.shape != (n,):
        raise ValueError(f"lengths must have shape ({n},), one per sample, got {arr.shape}")
    arr = arr.astype(np.int64)
    if n and (arr.min() < 0 or arr.max() > sites):
        raise ValueError(
            f"lengths must be in [0, {sites}] (the number of sites in the array), "
            f"got min {arr.min()} and max {arr.max()}"
        )
    return np.ascontiguousarray(arr)


def indices(value: Any, n: int) -> np.ndarray:
    """Return int64 global sample ids; empty when not given (kernels then use ``0..n-1``)."""
    if value is None:
        return _NO_INDICES
    arr = np.asarray(value)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"indices must be integer sample ids, got dtype {arr.dtype}")
    if arr.shape != (n,):
        raise ValueError(
            f"indices must have shape ({n},), one global id per sample, got {arr.shape}"
        )
    if n and arr.min() < 0:
        raise ValueError(f"indices must be >= 0, got {arr.min()}")
    return np.ascontiguousarray(arr.astype(np.int64))


def sample_ids(value: Any, n: int) -> np.ndarray:
    """Return int64 global sample ids, ``0..n-1`` when not given."""
    if value is None:
        return np.arange(n, dtype=np.int64)
    return indices(value, n)


def out_buffer(
    out: Any,
    shape: tuple[int, ...],
    dtype: Any = np.bool_,
    name: str = "out",
    inputs: tuple[np.ndarray, ...] = (),
) -> np.ndarray:
    """Return ``out`` after checking it, or a new array.

    ``out`` must be writeable and must not share memory with any of ``inputs`` (the kernels
    read those while they write ``out``: a shared buffer would change the result silently).
    """
    if out is None:
        return np.empty(shape, dtype=dtype)
    if not (
        type(out) is np.ndarray
        and out.dtype is _BOOL
        and dtype is np.bool_
        and out.shape == shape
        and out.flags.c_contiguous
    ):  # the fast path is a fitting bool buffer (builtin dtypes are singletons)
        if not isinstance(out, np.ndarray):
            raise TypeError(f"{name} must be a numpy array, got {type(out).__name__}")
        if out.shape != tuple(shape) or out.dtype != np.dtype(dtype) or not out.flags.c_contiguous:
            raise ValueError(
                f"{name} must be a C-contiguous {np.dtype(dtype)} array of shape {tuple(shape)}, "
                f"got {out.dtype} {out.shape} (contiguous={out.flags.c_contiguous})"
            )
    if not out.flags.writeable:
        raise ValueError(
            f"{name} is read-only; pass a writeable array (e.g. np.empty({tuple(shape)}, "
            f"dtype={np.dtype(dtype).name})) or out=None"
        )
    for arr in inputs:
        if _shares_memory(out, arr):
            raise ValueError(
                f"{name} shares memory with an input array; the result would depend on the "
                f"order of reads and writes. Pass a separate buffer or out=None"
            )
    return out


def _shares_memory(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether ``a`` and ``b`` overlap (exact when cheap to decide, else conservatively)."""
    # Views keep the array that owns their memory as ``base``: two different owners never
    # overlap. Decided without numpy's call (~0.2 us, a tenth of a small draw's checks)
    oa = a if a.base is None else a.base
    ob = b if b.base is None else b.base
    if (
        oa is not ob
        and type(oa) is np.ndarray
        and type(ob) is np.ndarray
        and oa.flags.owndata
        and ob.flags.owndata
    ):
        return False
    if not np.may_share_memory(a, b):
        return False
    try:
        return bool(np.shares_memory(a, b, max_work=10**6))  # type: ignore[arg-type]
    except _TOO_HARD:
        return True


def bool_mask(mask: Any, name: str = "mask") -> np.ndarray:
    """Return ``mask`` as a C-contiguous bool array."""
    arr = np.asarray(mask)
    if arr.dtype != np.bool_:
        raise TypeError(f"{name} must be a boolean array, got dtype {arr.dtype}")
    return np.ascontiguousarray(arr)


def mask_rows(mask: Any, shape: tuple[int, ...], ploidy: int) -> tuple[np.ndarray, int]:
    """Return ``(mask as rows x sites, rows per mask row)`` for a mask over haps of ``shape``.

    A per-haplotype mask has the shape of the haps (one mask row per haplotype row); for 3-D
    haps a site mask ``(samples, sites)`` serves the ``ploidy`` rows of its sample.
    """
    m = bool_mask(mask)
    if m.shape == shape:
        return m.reshape(m.shape[0] * m.shape[1], shape[-1]) if m.ndim == 3 else m, 1
    if len(shape) == 3 and m.shape == (shape[0], shape[2]):
        return m, ploidy
    site_shape = (shape[0], shape[-1]) if len(shape) == 3 else shape
    raise ValueError(
        f"mask shape {m.shape} matches neither haps {shape} nor the site shape {site_shape}"
    )


def eligible_mask(eligible: Any, shape: tuple[int, ...]) -> np.ndarray:
    """Return ``eligible`` (bool, True = may be masked) broadcast to ``shape``.

    For 3-D ``shape`` a ``(samples, sites)`` array marks the sites of each sample (like a site
    mask); plain broadcasting would align it with ``(ploidy, sites)`` whenever samples == ploidy.
    """
    e = np.asarray(eligible)
    if e.dtype != np.bool_:
        raise TypeError(
            f"eligible must be a bool array (True = may be masked), got dtype {e.dtype}; "
            "build it with a comparison, e.g. ids != pad_id"
        )
    if len(shape) == 3 and e.shape == (shape[0], shape[2]):
        e = e[:, None, :]
    try:
        return np.broadcast_to(e, shape)
    except ValueError:
        raise ValueError(
            f"eligible must broadcast to the shape of haps {shape}, got shape {e.shape}"
        ) from None


def check_union(shape: tuple[int, ...]) -> None:
    """Raise unless ``shape`` has a ploidy axis to take the union over."""
    if len(shape) != 3:
        raise ValueError(
            f"union=True needs 3-D haps (samples, ploidy, sites) to take the union over the "
            f"ploidy axis, got shape {shape}"
        )


def excluded(h: np.ndarray, shape: tuple[int, ...], eligible: Any, protect: Any) -> np.ndarray:
    """Positions ``eligible`` or ``protect`` exclude (True = never masked), the shape of ``h``.

    ``h`` holds the alleles or token ids of haps of ``shape`` (any view of them).
    """
    out = np.zeros(h.shape, dtype=np.bool_)
    if eligible is not None:
        out |= ~eligible_mask(eligible, shape).reshape(h.shape)
    if protect is not None:
        ids = np.asarray(protect)
        if (ids.size and ids.dtype.kind not in "iu") or ids.ndim > 1:
            raise TypeError(
                "protect must be a token id or a 1-D list of integer token ids "
                f"(e.g. [cls_id, sep_id, pad_id]), got dtype {ids.dtype} shape {ids.shape}"
            )
        out |= np.isin(h, ids.astype(np.int64))
    return out


def scale(value: Any, n: int, name: str = "scale") -> Any:
    """Return a non-negative multiplier: a float, or float64 of shape ``(1,)`` or ``(n,)``."""
    if type(value) is int and 0 <= value < 2**53:
        value = float(value)
    if type(value) is float and 0.0 <= value < math.inf:  # fast path; NaN fails the comparison
        return value
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a number or an array of numbers, got {value!r}")
    arr = float_array(value, name)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    elif arr.shape != (n,):
        raise ValueError(
            f"{name} must be a scalar or have shape ({n},) (one per sample), got {arr.shape}"
        )
    bad = ~((arr >= 0.0) & np.isfinite(arr))
    if bad.any():
        raise ValueError(f"{name} must be finite and >= 0, got {arr[bad][0]}")
    return arr


class Request(NamedTuple):
    """One draw's settings besides the data and the rates, built once per call.

    Handed unchanged from the caller (a mask function, [Rule.draw][maskkit.rules.Rule.draw] or
    the Masker) to ``batch``, which checks all of it at once. Callers build it as a plain tuple
    of these fields in this order (``RequestFields``): a tuple display costs nothing, the
    NamedTuple constructor a Python call (a quarter of a microsecond, a tenth of a tiny draw).
    """

    seed: Any
    epoch: Any = 0
    indices: Any = None
    lengths: Any = None
    eligible: Any = None
    protect: Any = None
    exact: bool = False
    site_rate: bool = False
    union: bool = False
    out: Any = None
    parallel: bool = False


#: A Request's fields in its order, as a plain tuple.
RequestFields = tuple[Any, ...]


class Batch(NamedTuple):
    """A checked draw: what a rule's kernel call takes besides the rule's own tables."""

    haps: Any  # as given (a rule's site_rates reads it)
    h2: np.ndarray  # (rows, sites) alleles, or int8 classes (-1 never masked) with eligible/protect
    ploidy: int
    shape: tuple[int, ...]
    seed: int  # the seed's int64 bit pattern
    epoch: int
    lens: np.ndarray
    idx: np.ndarray  # empty: samples 0..n-1
    result: np.ndarray
    o2: np.ndarray  # ``result`` as (rows // per, sites)
    per: int  # haplotype rows OR-ed into one output row: ploidy for a fused union, else 1
    site: np.ndarray | None  # the site mask an unfused union is taken into
    rates: Mapping[str, Any]  # checked: a float, or float64 of shape (1,) or (samples,)
    exact: bool
    site_rate: Any  # as given: read for its truth only
    parallel: Any  # as given: read for its truth only


RateFn = Callable[[np.ndarray], Mapping[str, Any]]


def batch(
    haps: Any,
    req: RequestFields,
    values: Mapping[str, Any] | RateFn,
    checks: tuple[tuple[str, str], ...],
    fuse: bool = True,
) -> Batch:
    """Check a draw (data, request and the rates named in ``checks``) once; return its Batch.

    ``req`` holds a ``Request``'s fields in order (a Request or a plain tuple).
    ``values`` holds the rates: a dict, or a function of the sample ids giving one (the
    Masker's per-sample schedules). ``checks`` pairs a rate's name with ``"rate"`` (in [0, 1])
    or ``"scale"`` (>= 0); other rates pass unchecked. ``fuse=False``: the kernel draws per
    haplotype and a union is taken after it, into ``Batch.site``.
    """
    seed_, epoch_, indices_, lengths_, eligible, protect, exact, site_rate, union, out, par = req
    h2, ploidy, shape = haps_2d(haps)
    n = shape[0]
    if union:
        check_union(shape)
    # each check's fast path first: a tiny draw is a few microseconds, a call of a tenth of one
    seed = seed_ if type(seed_) is int and 0 <= seed_ <= MAX_U64 else int_scalar(seed_, "seed")
    if seed >= 2**63:  # its int64 bit pattern: a Python int is cheaper to pass than np.uint64
        seed -= 2**64
    epoch = (
        epoch_
        if type(epoch_) is int and 0 <= epoch_ < 2**63
        else int_scalar(epoch_, "epoch", high=2**63 - 1)
    )
    lens = _SHARED_LENGTHS.get(shape[-1]) if lengths_ is None else None
    if lens is None:
        lens = lengths(lengths_, n, shape[-1])
    idx = _NO_INDICES if indices_ is None else indices(indices_, n)
    site = None
    if union and not fuse:
        result = np.empty(shape, dtype=np.bool_)
        site = out_buffer(out, (n, shape[2]), inputs=(h2,))
    elif out is None:
        result = np.empty((n, shape[2]) if union else shape, dtype=np.bool_)
    else:
        result = out_buffer(out, (n, shape[2]) if union else shape, inputs=(h2,))
    if eligible is not None or protect is not None:
        never = excluded(h2, shape, eligible, protect)
        h2 = np.sign(h2).astype(np.int8)
        h2[never] = -1
    per = ploidy if union and fuse else 1
    o2 = result if result.ndim == 2 else result.reshape(h2.shape[0] // per, shape[-1])
    if callable(values):
        values = values(idx if idx.size else np.arange(n, dtype=np.int64))
    checked: Any = values
    for name, kind in checks:
        x = values[name]
        if kind == "rate":
            if type(x) is float and 0.0 <= x <= 1.0:  # a plain rate passes as it is
                continue
            x = rates(x, n, name)
        else:
            x = scale(x, n, name)
            if x is values[name]:
                continue
        if checked is values:
            checked = dict(values)
        checked[name] = x
    # tuple.__new__: the NamedTuple constructor is a Python call, a tenth of a tiny draw
    return tuple.__new__(Batch, (
        haps, h2, ploidy, shape, seed, epoch, lens, idx, result, o2, per, site, checked,
        bool(exact), site_rate, par,
    ))  # fmt: skip


def masker_state(state: dict[str, Any], schedules: list[tuple[str, Any]]) -> tuple[int, int]:
    """Return a Masker state's ``(epoch, step)`` after checking all of it; change nothing.

    Each schedule state is loaded into a copy of its schedule (``(name, schedule)`` pairs), so
    that ``Masker.load_state_dict`` either applies the whole state or raises before applying any.
    """
    missing = [k for k in ("epoch", "step", "schedules") if k not in state]
    if missing:
        raise ValueError(
            f"Masker state is missing {missing}; pass the dict Masker.state_dict() returned"
        )
    epoch = int_scalar(state["epoch"], "state['epoch']", high=2**63 - 1)
    step = int_scalar(state["step"], "state['step']", high=2**63 - 1)
    saved = state["schedules"]
    if not isinstance(saved, dict):
        raise TypeError(f"state['schedules'] must be a dict, got {type(saved).__name__}")
    for name, sched in schedules:
        if name not in saved:
            raise ValueError(
                f"Masker state has no entry state['schedules'][{name!r}]; pass the dict "
                "Masker.state_dict() returned"
            )
        copy.deepcopy(sched).load_state_dict(saved[name])
    return epoch, step
