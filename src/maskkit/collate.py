"""Pad *after* masking, then tokenize: the batch a masked model trains on."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _kernels, tokens
from . import _validate as v

__all__ = ["collate", "padded_width"]

# A sanity cap on padded row width (16.7 M sites): larger values are typos, not windows, and
# would otherwise surface as a many-GB allocation failure.
MAX_WIDTH = 2**24
_INT_OUTPUTS = ("input_ids", "labels", "attention_mask")


def padded_width(
    max_length: int, *, pad_to: int | None = None, pad_to_multiple_of: int | None = None
) -> int:
    """Return the padded width for a batch whose longest real row has ``max_length`` sites.

    Examples
    --------
    >>> padded_width(1000, pad_to_multiple_of=64)
    1024
    """
    width = max_length
    if pad_to is not None:
        pad_to = v.int_scalar(pad_to, "pad_to", high=MAX_WIDTH)
        if pad_to < max_length:
            raise ValueError(
                f"pad_to={pad_to} is shorter than the longest real row ({max_length} sites); "
                "pass a larger pad_to or trim the rows"
            )
        width = pad_to
    if pad_to_multiple_of is not None:
        mult = v.int_scalar(pad_to_multiple_of, "pad_to_multiple_of", low=1, high=MAX_WIDTH)
        width = -(-width // mult) * mult
    return width


def _check_alleles(h2: np.ndarray, ploidy: int, lens: np.ndarray, n_al: int) -> None:
    """Refuse real alleles (within ``lens``) >= ``n_al``: no label may name a missing class."""
    if h2.size and h2.max() >= n_al:  # padding beyond lengths may hold anything: look closer
        hi = int(_kernels.max_allele(h2, ploidy, lens))
        if hi >= n_al:
            raise ValueError(
                f"haps holds allele {hi} but n_alleles={n_al}: labels and tokens would name a "
                f"class the model does not have; pass n_alleles={hi + 1} or recode the alleles"
            )


def replace_thresholds(replace: Any) -> tuple[np.uint64, np.uint64, float]:
    """Return ``(t_mask, t_keep_from, p_random)`` of a ``(p_mask, p_random, p_keep)`` split.

    A masked position whose 32-bit word ``u`` is below ``t_mask`` gets the mask token, at or
    above ``t_keep_from`` keeps its token, else a random one.
    """
    if np.ndim(replace) != 1 or len(replace) != 3:
        raise ValueError(f"replace must be (p_mask, p_random, p_keep), got {replace!r}")
    pm, pr, pk = (v.rate_scalar(p, f"replace[{i}]") for i, p in enumerate(replace))
    if abs(pm + pr + pk - 1.0) > 1e-9:
        raise ValueError(f"replace probabilities must sum to 1, got {pm + pr + pk}")
    t_mask = np.uint64(np.floor(pm * 2.0**32 + 0.5))
    t_keep = np.uint64(np.floor((pm + pr) * 2.0**32 + 0.5))
    return t_mask, t_keep, pr


def _dtype_for(name: str, dtype: Any) -> np.dtype[Any]:
    """Return the dtype ``dtype`` asks for output ``name`` (one dtype, or a dict of them)."""
    if isinstance(dtype, dict):
        unknown = sorted(set(dtype) - set(_INT_OUTPUTS))
        if unknown:
            raise ValueError(
                f"dtype has unknown keys {unknown}; use keys from {list(_INT_OUTPUTS)}"
            )
        dtype = dtype.get(name, np.int64)
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"dtype[{name!r}] must be a numpy integer dtype, got {dtype!r}") from exc
    return dt


def _check_kind(name: str, dt: np.dtype[Any]) -> None:
    if name == "mask":
        if dt != np.bool_:
            raise TypeError(f"mask output must have dtype bool, got {dt}")
    elif dt.kind not in "iu" and not (name == "attention_mask" and dt == np.bool_):
        raise TypeError(f"{name} must have an integer dtype, got {dt}")


def _check_capacity(name: str, dt: np.dtype[Any], low: int, high: int, what: str) -> None:
    """Raise unless ``dt`` holds every value in ``[low, high]`` (no wrap-around, ever)."""
    lo, hi = _limits(dt)
    if low < lo or high > hi:
        fit = next(
            (t for t in ("int8", "int16", "int32") if low >= _limits(np.dtype(t))[0]
             and high <= _limits(np.dtype(t))[1]),
            "int64",
        )  # fmt: skip
        raise ValueError(
            f"{name} dtype {dt} cannot hold {what} (values in [{low}, {high}]); "
            f"pass a wider dtype, e.g. dtype={{{name!r}: np.{fit}}}"
        )


def _output(
    name: str,
    out: dict[str, Any],
    dtype: Any,
    shape: tuple[int, ...],
    inputs: tuple[np.ndarray, ...],
) -> np.ndarray:
    """Return the caller's ``out[name]`` after checks, or a fresh array of the right dtype."""
    if name not in out:
        dt = np.dtype(np.bool_) if name == "mask" else _dtype_for(name, dtype)
        _check_kind(name, dt)
        return np.empty(shape, dtype=dt)
    arr = out[name]
    if type(arr) is not np.ndarray:
        raise TypeError(f"out[{name!r}] must be a numpy array, got {type(arr).__name__}")
    if arr.shape != shape:
        raise ValueError(
            f"out[{name!r}] has shape {arr.shape}, the batch needs {shape}; allocate it with "
            "maskkit.padded_width for the width"
        )
    flags = arr.flags
    if not (flags.c_contiguous and flags.writeable and arr.dtype.isnative):
        raise ValueError(
            f"out[{name!r}] must be a writeable, C-contiguous array in native byte order"
        )
    _check_kind(name, arr.dtype)
    if any(np.may_share_memory(arr, x) for x in inputs):
        raise ValueError(f"out[{name!r}] overlaps haps or mask; pass a separate buffer")
    return arr


def collate(
    haps: Any,
    mask: Any,
    *,
    lengths: Any = None,
    pad_to: int | None = None,
    pad_to_multiple_of: int | None = None,
    replace: tuple[float, float, float] | None = None,
    n_alleles: int = 2,
    seed: int = 0,
    epoch: int = 0,
    indices: Any = None,
    dtype: Any = np.int64,
    out: dict[str, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """Pad haplotypes and their mask together, then make model inputs.

    Parameters
    ----------
    haps : int array, shape (rows, sites) or (samples, ploidy, sites)
        Alleles of the real content (``0`` ref, ``>= 1`` alt, negative missing).
    mask : bool array
        The mask drawn on the unpadded data: the shape of ``haps`` (per haplotype) or, for 3-D
        ``haps``, a site mask ``(samples, sites)`` applied to every haplotype. A per-haplotype
        mask that marks a missing call, or any mask that marks padding, raises ``ValueError``;
        a site mask skips the missing calls of a masked site.
    lengths : int array, optional
        Real sites per sample; the batch is padded to ``max(lengths)`` (or ``sites``).
    pad_to : int, optional
        Pad to this width.
    pad_to_multiple_of : int, optional
        Round the width up to a multiple of this.
    replace : (p_mask, p_random, p_keep), optional
        BERT's replacement for masked positions (e.g. ``(0.8, 0.1, 0.1)``): MASK token, a random
        allele token (uniform over ``n_alleles``), or the true token. Default: always MASK.
    n_alleles : int, default 2
        Number of allele classes, for random replacement.
    seed
        Key the replacement draws, as for the mask functions.
    epoch
        Key the replacement draws, as for the mask functions.
    indices
        Key the replacement draws, as for the mask functions.
    dtype : numpy integer dtype or dict, default int64
        Dtype of ``input_ids``, ``labels`` and ``attention_mask``; a dict gives one per output
        (missing keys: int64), e.g. ``{"input_ids": np.uint8, "labels": np.int8,
        "attention_mask": np.bool_}``. Narrow dtypes write less memory (int64 outputs are
        most of the cost of a batch). A dtype that cannot hold every value ``n_alleles``
        allows raises ``ValueError`` (tokens up to ``2 + n_alleles``; labels need -100, so a
        signed dtype); values never wrap around.
    out : dict of numpy arrays, optional
        Buffers to write into instead of fresh arrays, any of the four keys: each of the output
        shape ``(..., width)`` (see [`padded_width`][maskkit.collate.padded_width]), C-contiguous,
        ``mask`` bool, the others any integer dtype that holds their values (checked as for
        ``dtype``, which they override). Reusing buffers across batches skips the page faults of
        fresh memory.

    Returns
    -------
    dict of numpy arrays, each (..., width)
        ``input_ids`` (tokens, see [`maskkit.tokens`][]), ``labels`` (the true allele at masked
        positions, ``-100`` elsewhere), ``attention_mask`` (1 real, 0 padding) and ``mask``;
        the arrays of ``out`` where given.

    Examples
    --------
    >>> import numpy as np, maskkit as mk
    >>> haps = np.array([[0, 1, -1, 0]], dtype=np.int8)
    >>> m = np.array([[False, True, False, False]])
    >>> b = mk.collate(haps, m, lengths=[3], pad_to=5)
    >>> b["input_ids"].tolist(), b["labels"].tolist()
    ([[3, 1, 2, 0, 0]], [[-100, 1, -100, -100, -100]])
    >>> buf = {"input_ids": np.empty((1, 5), np.uint8)}
    >>> b = mk.collate(haps, m, lengths=[3], pad_to=5, dtype={"labels": np.int8}, out=buf)
    >>> b["input_ids"] is buf["input_ids"], b["labels"].dtype
    (True, dtype('int8'))
    """
    h2, ploidy, shape = v.haps_2d(haps)
    n = shape[0]
    m2, mask_div = v.mask_rows(mask, shape, ploidy)
    lens = v.lengths(lengths, n, shape[-1])
    width = padded_width(
        int(lens.max()) if n else 0, pad_to=pad_to, pad_to_multiple_of=pad_to_multiple_of
    )
    if replace is None:
        t_mask = t_keep = np.uint64(2**32)
    else:
        t_mask, t_keep, _ = replace_thresholds(replace)
    n_al = v.int_scalar(n_alleles, "n_alleles", low=1, high=2**31)
    seed_ = np.uint64(v.int_scalar(seed, "seed"))
    epoch_ = v.int_scalar(epoch, "epoch", high=2**63 - 1)
    idx = v.indices(indices, n)
    _check_alleles(h2, ploidy, lens, n_al)
    if out is None:
        out = {}
    elif not isinstance(out, dict) or set(out) - {*_INT_OUTPUTS, "mask"}:
        raise ValueError(
            "out must be a dict with keys among input_ids, labels, attention_mask, mask; "
            f"got {out if not isinstance(out, dict) else sorted(out)!r}"
        )
    if not isinstance(dtype, dict) and np.dtype(dtype).kind != "i":
        raise TypeError(
            f"dtype must be a signed integer dtype (labels hold -100), got {np.dtype(dtype)}; "
            "pass a dict to give input_ids or attention_mask an unsigned dtype"
        )
    out_shape = (*shape[:-1], width)
    arrays = {
        name: _output(name, out, dtype, out_shape, (h2, m2)) for name in (*_INT_OUTPUTS, "mask")
    }
    # Range checks: every real allele is below n_alleles (_check_alleles), so tokens are at
    # most ALLELE_OFFSET + n_alleles - 1 and labels at most n_alleles - 1.
    hi = n_al - 1
    top = max(tokens.ALLELE_OFFSET + hi, tokens.MISSING, tokens.MASK)
    ids_dt, lab_dt = arrays["input_ids"].dtype, arrays["labels"].dtype
    _check_capacity("input_ids", ids_dt, 0, top, f"every token of {n_al} alleles")
    _check_capacity("labels", lab_dt, tokens.IGNORE_INDEX, hi, f"-100 and {n_al} alleles")
    _check_capacity("attention_mask", arrays["attention_mask"].dtype, 0, 1, "0 and 1")
    rows = h2.shape[0]
    flat = [a.reshape(rows, width) for a in arrays.values()]
    if rows:  # also when width == 0: the kernel still checks the mask on padding
        pos = np.empty(h2.shape[1], dtype=np.int32)
        n_pad, n_missing = _kernels.collate(
            h2, m2, mask_div, ploidy, lens, idx, seed_, epoch_, t_mask, t_keep, n_al, *flat, pos,
        )  # fmt: skip
        if n_pad:
            raise ValueError(
                f"mask marks {n_pad} padding position(s) (at or beyond lengths); draw masks with "
                "the same lengths, so padding is never masked"
            )
        if n_missing and mask_div == 1:
            raise ValueError(
                f"mask marks {n_missing} missing call(s) (negative alleles); missing calls have no "
                "label and must not be masked"
            )
    return arrays


def _limits(dt: np.dtype[Any]) -> tuple[int, int]:
    """Return ``(min, max)`` of an integer or bool dtype (cached: ``np.iinfo`` costs ~1.4 us)."""
    lim = _LIMITS.get(dt)
    if lim is None:
        lim = (0, 1) if dt == np.bool_ else (int(np.iinfo(dt).min), int(np.iinfo(dt).max))
        _LIMITS[dt] = lim
    return lim


_LIMITS: dict[np.dtype[Any], tuple[int, int]] = {}
