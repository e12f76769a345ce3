"""Mask functions: random, class-rate (smart balanced), allele-frequency, array and span masks.

Random and class-rate masks are Bernoulli or exact-count; allele-frequency-aware rates, spans
(blocks) and genotyping-array masks follow the same contract.

A mask is a pure function of ``(seed, epoch, global sample index, haplotype, position)``, the
rule and, in exact mode, which positions of the row are eligible. Eligible positions are real
(``position < length``) and not missing (allele ``>= 0``); nothing else is ever masked.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, NamedTuple

import numpy as np

from . import _kernels
from . import _validate as v
from . import freq as _freq

__all__ = [
    "af_bins",
    "af_mask",
    "array_mask",
    "class_rate_mask",
    "haplotype_rate_for_site_rate",
    "random_mask",
    "smart_balanced_mask",
    "span_length_probabilities",
    "span_mask",
]


def haplotype_rate_for_site_rate(site_rate: Any, ploidy: int = 2) -> Any:
    """Return the per-haplotype rate whose union over ``ploidy`` haplotypes hits ``site_rate``.

    Solves ``1 - (1 - p) ** ploidy = site_rate`` for ``p``. Exact for sites where every
    haplotype is eligible and drawn at the same rate (for example homozygous sites under class
    rates).

    Examples
    --------
    >>> round(haplotype_rate_for_site_rate(0.51), 6)
    0.3
    """
    ploidy = v.int_scalar(ploidy, "ploidy", low=1, high=1024)
    # validate before converting: np.asarray(..., float64) would accept True and "0.5"
    if np.ndim(site_rate) == 0:
        p = float(v.rates(site_rate, 1, "site_rate")[0])
        return float(1.0 - (1.0 - p) ** (1.0 / ploidy))
    arr = v.rates(site_rate, np.shape(site_rate)[0], "site_rate")
    return 1.0 - (1.0 - arr) ** (1.0 / ploidy)


class _Batch(NamedTuple):
    """A validated call: what every mask kernel takes besides the rule's own tables."""

    h2: np.ndarray  # (rows, sites) alleles, or int8 classes (-1 never masked) with eligible/protect
    ploidy: int
    shape: tuple[int, ...]
    seed: int
    epoch: int
    lens: np.ndarray
    idx: np.ndarray
    result: np.ndarray
    o2: np.ndarray  # ``result`` as (rows // per, sites)
    per: int  # haplotype rows OR-ed into one output row: ploidy with union=True, else 1


def _batch(
    haps: Any,
    seed: Any,
    epoch: Any,
    indices: Any,
    lengths: Any,
    out: Any,
    union: bool,
    eligible: Any,
    protect: Any,
) -> _Batch:
    h2, ploidy, shape = v.haps_2d(haps)
    n = shape[0]
    if union:
        _check_union(shape)
    seed_ = v.int_scalar(seed, "seed")
    if seed_ >= 2**63:  # its int64 bit pattern: a Python int is cheaper to pass than np.uint64
        seed_ -= 2**64
    epoch_ = v.int_scalar(epoch, "epoch", high=2**63 - 1)
    lens = v.lengths(lengths, n, shape[-1])
    idx = v.indices(indices, n)
    result = v.out_buffer(out, (n, shape[2]) if union else shape, inputs=(h2,))
    if eligible is not None or protect is not None:
        h2 = _classes(h2, shape, eligible, protect)
    per = ploidy if union else 1
    o2 = result if result.ndim == 2 else result.reshape(h2.shape[0] // per, shape[-1])
    return _Batch(h2, ploidy, shape, seed_, epoch_, lens, idx, result, o2, per)


def _check_union(shape: tuple[int, ...]) -> None:
    if len(shape) != 3:
        raise ValueError(
            f"union=True needs 3-D haps (samples, ploidy, sites) to take the union over the "
            f"ploidy axis, got shape {shape}"
        )


def _classes(h2: np.ndarray, shape: tuple[int, ...], eligible: Any, protect: Any) -> np.ndarray:
    """Int8 classes of ``h2`` (0 ref, 1 alt, -1 never masked) under ``eligible`` and ``protect``."""
    keep = np.ones(h2.shape, dtype=np.bool_)
    if eligible is not None:
        keep &= v.eligible_mask(eligible, shape).reshape(h2.shape)
    if protect is not None:
        ids = np.asarray(protect)
        if (ids.size and ids.dtype.kind not in "iu") or ids.ndim > 1:
            raise TypeError(
                "protect must be a token id or a 1-D list of integer token ids "
                f"(e.g. [cls_id, sep_id, pad_id]), got dtype {ids.dtype} shape {ids.shape}"
            )
        keep &= ~np.isin(h2, ids.astype(np.int64))
    classes = np.sign(h2).astype(np.int8)
    classes[~keep] = -1
    return classes


_SHARED: dict[tuple[float, ...], np.ndarray] = {}


def _rate_table(
    values: tuple[Any, ...], names: tuple[str, ...], n: int, site_rate: bool, ploidy: int
) -> np.ndarray:
    """Rates as the kernel's ``(1 or samples, groups)`` float64 table, one column per value."""
    if not site_rate and type(values[0]) is float and type(values[-1]) is float:
        # shared float rates: one cached table (building it costs about a microsecond, a tenth
        # of a whole 48 x 1,024 call; kernels only read it)
        table = _SHARED.get(values)
        if table is None:
            for x, name in zip(values, names):
                v.rate_scalar(x, name)
            if len(_SHARED) > 256:
                _SHARED.clear()
            table = _SHARED[values] = np.array([values], dtype=np.float64)
        return table
    cols = [v.rates(x, n, name) for x, name in zip(values, names)]
    if site_rate:
        cols = [_site_rate(c, ploidy) for c in cols]
    rows = 1 if all(c.shape[0] == 1 for c in cols) else n
    table = np.empty((rows, len(cols)), dtype=np.float64)
    for k, c in enumerate(cols):
        table[:, k] = c
    return table


_PARALLEL_CHUNK = 4  # output rows per parallel task


def _group_masks(
    b: _Batch, bins: np.ndarray, split: bool, rates: np.ndarray, exact: bool, parallel: bool
) -> np.ndarray:
    """Run the group kernel (``maskkit._kernels.group_mask``) and return the result."""
    if b.h2.size:
        kernel = _kernels.group_mask_parallel if parallel else _kernels.group_mask
        chunk = _PARALLEL_CHUNK if parallel else b.o2.shape[0]
        kernel(
            b.h2, b.ploidy, b.lens, b.idx, bins, split, rates, bool(exact), b.seed, b.epoch,
            b.per, chunk, b.o2,
        )  # fmt: skip
    return b.result


def _core(
    b: _Batch,
    values: tuple[Any, ...],
    names: tuple[str, ...],
    exact: bool,
    site_rate: bool,
    parallel: bool,
) -> np.ndarray:
    """Random (one rate) and class-rate (ref, alt) masks: groups without bins."""
    rates = _rate_table(values, names, b.shape[0], site_rate, b.ploidy)
    return _group_masks(b, _kernels.NO_BINS, len(values) == 2, rates, exact, parallel)


def random_mask(
    haps: Any,
    rate: Any,
    *,
    seed: int,
    epoch: int = 0,
    indices: Any = None,
    lengths: Any = None,
    exact: bool = False,
    site_rate: bool = False,
    union: bool = False,
    eligible: Any = None,
    protect: Any = None,
    out: np.ndarray | None = None,
    parallel: bool = False,
) -> np.ndarray:
    """Mask each eligible position at ``rate``, whatever its allele.

    Parameters
    ----------
    haps : array of int, shape (rows, sites) or (samples, ploidy, sites)
        Alleles: ``0`` ref, ``>= 1`` alt, negative missing; or token ids of a sequence model
        (nucleotides, k-mers), with ``protect`` naming the special tokens.
    rate : float or array of shape (samples,)
        Per-haplotype masking rate in [0, 1]; an array gives each sample its own rate. Rates
        are resolved to ``round(rate * 2**16) / 2**16`` (within ``2**-17``; rate 1 masks every
        eligible position).
    seed : int
        Non-negative seed, below ``2**64``.
    epoch : int, default 0
        Epoch counter; each epoch draws fresh masks.
    indices : array of int, shape (samples,), optional
        Global sample ids that key the randomness (default ``0..samples-1``). Pass dataset
        indices so a sample's mask does not depend on its batch.
    lengths : array of int, shape (samples,), optional
        Real sites per sample; later positions are padding and never masked.
    exact : bool, default False
        ``False``: each eligible position independently (Bernoulli). ``True``: per row, exactly
        ``floor(rate*n)`` or ``ceil(rate*n)`` of the ``n`` eligible positions (expectation
        ``rate*n``), chosen uniformly without replacement.
    site_rate : bool, default False
        Read ``rate`` as the wanted *site* rate after :func:`maskkit.union` over the ploidy axis
        and use the per-haplotype rate that achieves it (see :func:`haplotype_rate_for_site_rate`).
    union : bool, default False
        Return the site mask ``(samples, sites)``, the union over the ploidy axis, instead of the
        per-haplotype mask: equal to ``maskkit.union(...)`` of the mask without it, in one pass
        (Bernoulli mode) and without the intermediate array. Needs 3-D ``haps``.
    eligible : bool array broadcastable to ``haps``, optional
        ``False`` marks positions that are never masked (observed sites, special tokens) and,
        in exact mode, not counted. For 3-D ``haps`` a ``(samples, sites)`` array applies to
        every haplotype of its sample.
    protect : int or 1-D array of int, optional
        Token ids that are never masked (e.g. ``[cls_id, sep_id, pad_id]``): positions holding
        them are not eligible.
    out : bool array, optional
        Output buffer of the shape of the result: that of ``haps``, or ``(samples, sites)`` with
        ``union=True``.
    parallel : bool, default False
        Spread rows over numba threads. Results are identical for any thread count.

    Returns
    -------
    numpy.ndarray of bool, the shape of ``haps`` (``(samples, sites)`` with ``union=True``)

    Examples
    --------
    >>> import numpy as np, maskkit as mk
    >>> haps = np.zeros((2, 2, 10), dtype=np.int8)
    >>> m = mk.random_mask(haps, 0.3, seed=7, exact=True)
    >>> m.sum(axis=-1).tolist()
    [[3, 3], [3, 3]]
    >>> site = mk.random_mask(haps, 0.3, seed=7, union=True)  # fused union over the ploidy axis
    >>> site.shape, bool((site == mk.union(mk.random_mask(haps, 0.3, seed=7))).all())
    ((2, 10), True)
    >>> ids = np.array([[5, 7, 8, 9, 7, 8, 6, 0]])  # CLS=5, SEP=6, PAD=0: never masked
    >>> m = mk.random_mask(ids, 1.0, seed=1, protect=[5, 6, 0])
    >>> m.astype(int).tolist()
    [[0, 1, 1, 1, 1, 1, 0, 0]]
    """
    b = _batch(haps, seed, epoch, indices, lengths, out, union, eligible, protect)
    return _core(b, (rate,), ("rate",), exact, site_rate, parallel)


def class_rate_mask(
    haps: Any,
    ref_rate: Any,
    alt_rate: Any,
    *,
    seed: int,
    epoch: int = 0,
    indices: Any = None,
    lengths: Any = None,
    exact: bool = False,
    site_rate: bool = False,
    union: bool = False,
    eligible: Any = None,
    protect: Any = None,
    out: np.ndarray | None = None,
    parallel: bool = False,
) -> np.ndarray:
    """Mask ref positions (allele 0) at ``ref_rate`` and alt positions (allele > 0) at ``alt_rate``.

    In exact mode the count is exact per row *and per class*. With equal rates in Bernoulli mode
    the result equals :func:`random_mask` for the same seed. Parameters are those of
    :func:`random_mask`.

    Examples
    --------
    >>> import numpy as np, maskkit as mk
    >>> haps = np.array([[0, 0, 0, 0, 1, 1, 1, 1, 1, 1]], dtype=np.int8)
    >>> m = mk.class_rate_mask(haps, 0.5, 0.5, seed=1, exact=True)
    >>> int(m[0, :4].sum()), int(m[0, 4:].sum())
    (2, 3)
    """
    b = _batch(haps, seed, epoch, indices, lengths, out, union, eligible, protect)
    return _core(b, (ref_rate, alt_rate), ("ref_rate", "alt_rate"), exact, site_rate, parallel)


def smart_balanced_mask(
    haps: Any,
    ref_rate: Any,
    alt_rate: Any = 0.7,
    *,
    seed: int,
    epoch: int = 0,
    indices: Any = None,
    lengths: Any = None,
    exact: bool = False,
    site_rate: bool = False,
    union: bool = False,
    eligible: Any = None,
    protect: Any = None,
    out: np.ndarray | None = None,
    parallel: bool = False,
) -> np.ndarray:
    """Smart balanced masking: alt sites at a fixed high rate, ref sites at the curriculum rate.

    The rule of the RAG-BERT trainer: rare alt alleles carry most of the signal, so they are
    masked at ``alt_rate`` (0.7 by default) while ``ref_rate`` follows the curriculum. For a site
    mask pass ``union=True`` (one fused pass, equal to :func:`maskkit.union` of the haplotype
    mask); the union raises the effective site rate (see :func:`maskkit.effective_site_rates`).
    Parameters are those of :func:`class_rate_mask`.

    Examples
    --------
    >>> import numpy as np, maskkit as mk
    >>> haps = np.array([[[0, 1, 0, 0], [0, 0, 1, -1]]], dtype=np.int8)
    >>> m = mk.smart_balanced_mask(haps, 0.3, seed=1234)
    >>> m.shape, bool(m[0, 1, 3])  # missing calls are never masked
    ((1, 2, 4), False)
    >>> site = mk.smart_balanced_mask(haps, 0.3, seed=1234, union=True)
    >>> site.shape, bool((site == mk.union(m)).all())
    ((1, 4), True)
    """
    # class_rate_mask's body: forwarding 14 arguments through it costs ~0.4 us a call
    b = _batch(haps, seed, epoch, indices, lengths, out, union, eligible, protect)
    return _core(b, (ref_rate, alt_rate), ("ref_rate", "alt_rate"), exact, site_rate, parallel)


_NO_MAX = 2**62
_EMPTY_I = np.zeros(1, dtype=np.int64)
_EMPTY_F = np.ones(1, dtype=np.float64)


# ----------------------------------------------------------------------------- argument checks


def _scale(value: Any, n: int) -> np.ndarray:
    """Per-sample non-negative multipliers: ``(1,)`` for a scalar, else ``(n,)``."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"scale must be a number or an array of numbers, got {value!r}")
    arr = v.float_array(value, "scale")
    if arr.ndim == 0:
        arr = arr.reshape(1)
    elif arr.shape != (n,):
        raise ValueError(
            f"scale must be a scalar or have shape ({n},) (one per sample), got {arr.shape}"
        )
    bad = ~((arr >= 0.0) & np.isfinite(arr))
    if bad.any():
        raise ValueError(f"scale must be finite and >= 0, got {arr[bad][0]}")
    return arr


def _af_rates(rates: Any, nb: int, scale: Any, n: int) -> tuple[np.ndarray, bool]:
    """Return ``(group rates, split)``: ``min(1, scale * rates)`` as a ``(1 or n, groups)`` table.

    Groups are ``2 * bin + class`` for a (class x bin) table (``split``), else ``bin``.
    """
    table = v.bin_rates(rates, nb)
    split = table.ndim == 2
    flat = table.T.reshape(-1) if split else table
    if type(scale) is int and 0 <= scale < 2**53:
        scale = float(scale)
    if type(scale) is float and 0.0 <= scale < math.inf and flat.size <= _FEW_RATES:
        # one scale, a small table: plain floats (numpy's per-call cost, ~1 us a call, would
        # be most of the work); the same float64 products and minimum as the array path
        return np.array([[min(scale * x, 1.0) for x in flat.tolist()]], dtype=np.float64), split
    sc = _scale(scale, n)
    return np.minimum(sc[:, None] * flat[None, :], 1.0), split


_FEW_RATES = 64


def _site_rate(rates: np.ndarray, ploidy: int) -> np.ndarray:
    return np.asarray(1.0 - (1.0 - rates) ** (1.0 / ploidy), dtype=np.float64)


# ----------------------------------------------------------------------------- allele frequency


def af_bins(freq: Any, edges: Any, *, fold: bool = True) -> np.ndarray:
    """Return the frequency bin of each site: the number of ``edges`` at or below its MAF.

    Parameters
    ----------
    freq : array of float in [0, 1], shape (sites,) or (samples, sites)
        Allele frequency per site (per sample for windows from different regions).
    edges : array of float, shape (bins - 1,)
        Strictly increasing inner bin edges; bin ``b`` is ``edges[b-1] <= maf < edges[b]``.
    fold : bool, default True
        Bin the minor allele frequency ``min(f, 1 - f)`` (pass alt allele frequencies); ``False``
        bins ``freq`` as given.

    Returns
    -------
    numpy.ndarray of int32, the shape of ``freq``
        Bins as :func:`maskkit.freq.maf_bins` gives them: ``-1`` for NaN (a site without calls).

    Examples
    --------
    >>> import maskkit as mk
    >>> mk.af_bins([0.001, 0.02, 0.3, 0.999], [0.01, 0.05]).tolist()  # 0.999: MAF 0.001
    [0, 1, 2, 0]
    """
    if np.ndim(freq) not in (1, 2):
        raise ValueError(f"freq must be 1-D (sites,) or 2-D (samples, sites), got {np.shape(freq)}")
    return _freq.maf_bins(freq, edges, fold=fold)


def af_mask(
    haps: Any,
    freq: Any,
    edges: Any,
    rates: Any,
    *,
    scale: Any = 1.0,
    fold: bool = True,
    seed: int,
    epoch: int = 0,
    indices: Any = None,
    lengths: Any = None,
    exact: bool = False,
    site_rate: bool = False,
    union: bool = False,
    eligible: Any = None,
    protect: Any = None,
    out: np.ndarray | None = None,
    parallel: bool = False,
) -> np.ndarray:
    """Mask each position at a rate set by its site's allele-frequency bin (and its allele class).

    The rate of a position is ``min(1, scale * rates[class, bin])`` where ``bin`` is its site's
    MAF bin (:func:`af_bins`) and ``class`` is 0 for ref, 1 for alt. Use it to mask rare sites
    more often than common ones, alone or on top of smart balanced class rates.

    Parameters
    ----------
    haps : array of int, shape (rows, sites) or (samples, ploidy, sites)
        Alleles: ``0`` ref, ``>= 1`` alt, negative missing.
    freq : array of float in [0, 1], shape (sites,) or (samples, sites)
        Allele frequency of each site (per sample for windows of different regions).
    edges : array of float, shape (bins - 1,)
        Strictly increasing inner MAF bin edges, e.g. ``[0.01, 0.05]`` (three bins).
    rates : array of float in [0, 1], shape (bins,) or (2, bins)
        One rate per bin for every allele, or a (class x bin) table: row 0 ref, row 1 alt.
    scale : float or array of shape (samples,), default 1.0
        Non-negative multiplier of the table, one per sample with an array (per-sample rates,
        e.g. from :class:`maskkit.curriculum.Uniform`); products above 1 are clipped to 1.
    fold : bool, default True
        Bin the minor allele frequency ``min(f, 1 - f)``.
    seed, epoch, indices, lengths, union, eligible, protect, out, parallel
        As for :func:`maskkit.random_mask`.
    exact : bool, default False
        ``True``: per row, the count in each (class, bin) group (each bin for a 1-D table) is
        ``floor`` or ``ceil`` of rate x eligible positions of the group, expectation exact.
    site_rate : bool, default False
        Read the rates as site rates after the union over the ploidy axis.

    Returns
    -------
    numpy.ndarray of bool, the shape of ``haps``

    Notes
    -----
    With a single bin (``edges=[]``) the result equals :func:`maskkit.class_rate_mask` (2-row
    table) or :func:`maskkit.random_mask` (1-row table) bit for bit, in both modes.

    Examples
    --------
    >>> import numpy as np, maskkit as mk
    >>> haps = np.zeros((1, 2, 8), dtype=np.int8)
    >>> freq = np.array([0.001, 0.002, 0.003, 0.004, 0.2, 0.3, 0.4, 0.5])
    >>> m = mk.af_mask(haps, freq, [0.05], [1.0, 0.0], seed=1)  # rare sites only
    >>> m[0, 0].astype(int).tolist()
    [1, 1, 1, 1, 0, 0, 0, 0]
    """
    b = _batch(haps, seed, epoch, indices, lengths, out, union, eligible, protect)
    shape = b.shape
    n, sites = shape[0], shape[-1]
    if np.ndim(freq) not in (1, 2):
        af_bins(freq, edges, fold=fold)  # raises, naming freq
    bins, nans, nb = _freq._bins(freq, edges, fold, "freq")
    if nans:
        raise ValueError(
            "freq is NaN (a site without calls) where af_mask needs a rate; give those sites a "
            "frequency (e.g. 0.0) or make them ineligible"
        )
    nb += 1  # bins: one more than edges
    if bins.shape[-1] != sites or (bins.ndim == 2 and bins.shape[0] != n):
        raise ValueError(
            f"freq must have shape ({sites},) or ({n}, {sites}) to match haps {shape}, "
            f"got {bins.shape}"
        )
    per, split = _af_rates(rates, nb, scale, n)
    if site_rate:
        per = _site_rate(per, b.ploidy)
    # one bin: the rule without bins (the same groups, so the same masks)
    rows = 1 if bins.ndim == 1 else n
    bins2 = _kernels.NO_BINS if nb == 1 else np.ascontiguousarray(bins.reshape(rows, sites))
    return _group_masks(b, bins2, split, per, exact, parallel)


# ----------------------------------------------------------------------------- genotyping array


_EVERY: dict[tuple[int, int], np.ndarray] = {}


def _keep_sites(keep: Any, every: Any, n: int, sites: int) -> np.ndarray:
    """Return int32 keep flags, shape (1 or n, sites): 1 = on the array (kept visible)."""
    if (keep is None) == (every is None):
        raise ValueError(
            "give exactly one of keep (a bool site vector or a list of site positions) and "
            f"every (keep every n-th site), got keep={'None' if keep is None else '...'} and "
            f"every={every!r}"
        )
    if every is not None:
        step = v.int_scalar(every, "every", low=1, high=2**62)
        flags = _EVERY.get((step, sites))
        if flags is None:  # shared (kernels only read it): building it costs a few microseconds
            if len(_EVERY) > 64:
                _EVERY.clear()
            flags = (np.arange(sites) % step == 0).astype(np.int32).reshape(1, sites)
            _EVERY[step, sites] = flags
        return flags
    arr = np.asarray(keep)
    if arr.dtype == np.bool_:
        if arr.shape == (sites,):
            return arr.astype(np.int32).reshape(1, sites)
        if arr.shape == (n, sites):
            return np.ascontiguousarray(arr.astype(np.int32))
        raise ValueError(
            f"keep as a bool array must have shape ({sites},) or ({n}, {sites}), got {arr.shape}"
        )
    if arr.size == 0:
        return np.zeros((1, sites), dtype=np.int32)
    if not np.issubdtype(arr.dtype, np.integer) or arr.ndim != 1:
        raise TypeError(
            "keep must be a bool site vector or a 1-D list of integer site positions, "
            f"got dtype {arr.dtype} and shape {arr.shape}"
        )
    if arr.min() < 0 or arr.max() >= sites:
        raise ValueError(
            f"keep positions must be in [0, {sites}) (sites of haps), "
            f"got min {arr.min()} and max {arr.max()}"
        )
    flags = np.zeros((1, sites), dtype=np.int32)
    flags[0, arr] = 1
    return flags


def array_mask(
    haps: Any,
    keep: Any = None,
    rate: Any = 1.0,
    *,
    every: int | None = None,
    kept_rate: Any = 0.0,
    seed: int,
    epoch: int = 0,
    indices: Any = None,
    lengths: Any = None,
    exact: bool = False,
    site_rate: bool = False,
    union: bool = False,
    eligible: Any = None,
    protect: Any = None,
    out: np.ndarray | None = None,
    parallel: bool = False,
) -> np.ndarray:
    """Genotyping-array masking: keep the array's sites visible and mask the others.

    The imputation task itself: the model sees the sites on a genotyping array and predicts the
    rest. Sites off the array are masked at ``rate`` (1.0: all of them), sites on the array at
    ``kept_rate`` (0.0: never).

    Parameters
    ----------
    haps : array of int, shape (rows, sites) or (samples, ploidy, sites)
        Alleles: ``0`` ref, ``>= 1`` alt, negative missing.
    keep : bool array of shape (sites,) or (samples, sites), or 1-D int array of positions
        The sites on the array. Give ``keep`` or ``every``, not both.
    rate : float or array of shape (samples,), default 1.0
        Rate of the sites off the array (the curriculum rate in a :class:`maskkit.Masker`).
    every : int, optional
        Keep sites ``0, every, 2 * every, ...``.
    kept_rate : float or array of shape (samples,), default 0.0
        Rate of the sites on the array (partial masking of the kept sites).
    seed, epoch, indices, lengths, union, eligible, protect, out, parallel
        As for :func:`maskkit.random_mask`.
    exact : bool, default False
        ``True``: per row, exact counts (stochastic rounding) among the sites off the array and
        among the sites on it, separately.
    site_rate : bool, default False
        Read both rates as site rates after the union over the ploidy axis.

    Returns
    -------
    numpy.ndarray of bool, the shape of ``haps``

    Examples
    --------
    >>> import numpy as np, maskkit as mk
    >>> haps = np.array([[0, 1, 0, 0, 1, -1, 0, 0]], dtype=np.int8)
    >>> mk.array_mask(haps, every=3, seed=0).astype(int).tolist()  # missing stays unmasked
    [[0, 1, 1, 0, 1, 0, 0, 1]]
    """
    b = _batch(haps, seed, epoch, indices, lengths, out, union, eligible, protect)
    n, sites = b.shape[0], b.shape[-1]
    flags = _keep_sites(keep, every, n, sites)
    # group 0: off the array, group 1: on it
    per = _rate_table((rate, kept_rate), ("rate", "kept_rate"), n, site_rate, b.ploidy)
    return _group_masks(b, flags, False, per, exact, parallel)


# ----------------------------------------------------------------------------- spans


def _span_distribution(
    mean_span: Any, max_span: Any, span_lengths: Any
) -> tuple[int, float, float, int, np.ndarray, np.ndarray]:
    """Return kernel arguments ``(kind, q_log, c, max_len, vals, cdf)``."""
    empty_i = _EMPTY_I  # placeholders of the geometric kind: kernels only read them
    empty_f = _EMPTY_F
    if span_lengths is not None:
        if mean_span is not None or max_span is not None:
            raise ValueError(
                "span_lengths gives the whole length distribution; drop mean_span and max_span"
            )
        if not isinstance(span_lengths, (tuple, list)) or len(span_lengths) != 2:
            raise TypeError(
                "span_lengths must be a pair (values, probs), e.g. ([1, 2, 3], [0.5, 0.3, 0.2])"
            )
        vals = np.asarray(span_lengths[0])
        if vals.dtype == np.bool_ or not np.issubdtype(vals.dtype, np.integer) or vals.ndim != 1:
            raise TypeError(
                f"span_lengths values must be a 1-D integer array, got dtype {vals.dtype} "
                f"shape {vals.shape}"
            )
        probs = v.float_array(span_lengths[1], "span_lengths probs")
        if vals.size == 0 or probs.shape != vals.shape:
            raise ValueError(
                "span_lengths values and probs must be non-empty and of the same length, "
                f"got {vals.shape} and {probs.shape}"
            )
        if vals.min() < 1:
            raise ValueError(f"span_lengths values must be >= 1, got {vals.min()}")
        if not (np.isfinite(probs).all() and (probs >= 0).all()) or abs(probs.sum() - 1) > 1e-6:
            raise ValueError(f"span_lengths probs must be >= 0 and sum to 1, got sum {probs.sum()}")
        cdf = np.cumsum(probs) / probs.sum()
        cdf[-1] = 1.0
        return 1, -1.0, 1.0, 0, vals.astype(np.int64), cdf
    mean = 3.0 if mean_span is None else mean_span
    if isinstance(mean, (bool, np.bool_)) or not isinstance(mean, numbers.Real):
        raise TypeError(f"mean_span must be a number >= 1, got {mean!r}")
    mean = float(mean)
    if not (math.isfinite(mean) and mean >= 1.0):
        raise ValueError(f"mean_span must be a finite number >= 1, got {mean}")
    top = _NO_MAX if max_span is None else v.int_scalar(max_span, "max_span", low=1, high=_NO_MAX)
    q = 1.0 / mean
    q_log = math.log1p(-q) if q < 1.0 else -math.inf
    c = 1.0 if max_span is None else -math.expm1(top * q_log) if q < 1.0 else 1.0
    return 0, q_log, c, top, empty_i, empty_f


_GEOMETRIC_TABLES: dict[tuple[float, float, int], tuple[np.ndarray, np.ndarray]] = {}


def _geometric_table(q_log: float, c: float, top: int) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(guide, cdf)``: the geometric length CDF over its first lengths, and a guide.

    ``cdf[l] = P(length <= l + 1)`` for ``l < size``, where ``size`` covers all but about 2**-20
    of the probability (at most 4,096 lengths; all of them when ``max_span`` is smaller, the last
    then exactly 1). ``guide[g]`` is the smallest ``l`` with ``cdf[l] > g / G`` (``size`` when
    none), so the kernel's search from ``guide[int(u G)]`` finds the smallest ``l`` with
    ``cdf[l] > u`` in about one step. Cached per distribution: kernels only read the arrays.
    """
    key = (q_log, c, top)
    table = _GEOMETRIC_TABLES.get(key)
    if table is None:
        size = min(top, 4096, max(1, math.ceil(-14.0 / q_log)))
        # math, not numpy: numpy's SIMD expm1 may differ from libm in the last bit
        cdf = np.array([-math.expm1(n * q_log) / c for n in range(1, size + 1)], dtype=np.float64)
        if size == top:
            cdf[-1] = 1.0
        n_guide = 64
        while n_guide < 4 * size and n_guide < 4096:
            n_guide *= 2
        bounds = np.arange(n_guide, dtype=np.float64) / n_guide
        # first l with cdf[l] > g / G (a running maximum keeps that exact were cdf not monotone)
        guide = np.searchsorted(np.maximum.accumulate(cdf), bounds, side="right")
        if len(_GEOMETRIC_TABLES) > 64:
            _GEOMETRIC_TABLES.clear()
        table = _GEOMETRIC_TABLES[key] = (guide.astype(np.int64), cdf)
    return table


def span_length_probabilities(
    *,
    mean_span: float | None = None,
    max_span: int | None = None,
    span_lengths: Any = None,
    upto: int = 64,
) -> np.ndarray:
    """Return ``P(length = l)`` for ``l = 0..upto`` under :func:`span_mask`'s length arguments.

    Examples
    --------
    >>> from maskkit.masks import span_length_probabilities
    >>> span_length_probabilities(mean_span=2.0, upto=3).round(3).tolist()
    [0.0, 0.5, 0.25, 0.125]
    """
    kind, q_log, c, top, vals, cdf = _span_distribution(mean_span, max_span, span_lengths)
    out = np.zeros(upto + 1)
    if kind == 1:
        probs = np.diff(np.concatenate([[0.0], cdf]))
        for val, p in zip(vals, probs):
            if val <= upto:
                out[val] += p
        return out
    lens = np.arange(1, upto + 1)
    if q_log == -math.inf:
        out[1] = 1.0
        return out
    q = -math.expm1(q_log)
    pmf = q * np.exp((lens - 1) * q_log) / c
    out[1:] = np.where(lens <= top, pmf, 0.0)
    return out


def span_mask(
    haps: Any,
    rate: Any,
    *,
    mean_span: float | None = None,
    max_span: int | None = None,
    span_lengths: Any = None,
    seed: int,
    epoch: int = 0,
    indices: Any = None,
    lengths: Any = None,
    exact: bool = False,
    site_rate: bool = False,
    union: bool = False,
    eligible: Any = None,
    protect: Any = None,
    out: np.ndarray | None = None,
    parallel: bool = False,
) -> np.ndarray:
    """Span (block) masking: contiguous runs of sites until a fraction of each row is masked.

    Per haplotype row with ``n`` eligible positions the target is ``k``, ``floor`` or ``ceil``
    of ``rate * n`` (stochastic rounding, expectation ``rate * n``). Spans are drawn one after
    another: a length ``L`` from the length distribution, then a start uniform among the starts
    where the span fits inside the real part of the row (spans never reach padding; a span
    longer than the row covers the row). A span masks its eligible positions; missing calls
    inside it stay unmasked and the run goes on over them. Spans may overlap. Spans are laid
    until ``k`` positions are masked.

    Parameters
    ----------
    haps : array of int, shape (rows, sites) or (samples, ploidy, sites)
        Alleles: ``0`` ref, ``>= 1`` alt, negative missing.
    rate : float or array of shape (samples,)
        Target fraction of the eligible positions of each row.
    mean_span : float, default 3.0
        Mean of the geometric length distribution ``P(L = l) = q (1 - q) ** (l - 1)``,
        ``q = 1 / mean_span`` (so ``mean_span >= 1``).
    max_span : int, optional
        Truncate the geometric distribution at ``max_span`` (renormalized, as SpanBERT does);
        the mean is then below ``mean_span``.
    span_lengths : (values, probs), optional
        Any length distribution instead of the geometric one: positive integer lengths and their
        probabilities (summing to 1).
    seed, epoch, indices, lengths, union, eligible, protect, out, parallel
        As for :func:`maskkit.random_mask`.
    exact : bool, default False
        ``False``: the last span is laid whole, so a row's count is in ``[k, k + L - 1]``: within
        one span of the target (the fraction is on average above ``rate`` by less than a span
        per row). ``True``: the last span is cut at ``k``, so every row has exactly ``k``.
    site_rate : bool, default False
        Read ``rate`` as the site rate after the union over the ploidy axis (exact for the
        expected fraction when haplotypes are masked independently).

    Returns
    -------
    numpy.ndarray of bool, the shape of ``haps``

    Examples
    --------
    >>> import numpy as np, maskkit as mk
    >>> haps = np.zeros((2, 100), dtype=np.int8)
    >>> m = mk.span_mask(haps, 0.2, mean_span=4, seed=3, exact=True)
    >>> m.sum(axis=1).tolist()
    [20, 20]
    """
    b = _batch(
        haps, seed, epoch, indices, lengths, None if union else out, False, eligible, protect
    )
    kind, q_log, c, top, vals, cdf = _span_distribution(mean_span, max_span, span_lengths)
    if kind == 0:
        vals, cdf = _geometric_table(q_log, c, top)
    r = v.rates(rate, b.shape[0], "rate")
    if site_rate:
        r = _site_rate(r, b.ploidy)
    if union:  # spans are drawn per haplotype; the union is taken after
        _check_union(b.shape)
        site = v.out_buffer(out, (b.shape[0], b.shape[2]), inputs=(b.h2,))
    if b.h2.size:
        kernel = _kernels.span_mask_parallel if parallel else _kernels.span_mask
        kernel(
            b.h2, b.ploidy, b.lens, b.idx, r, kind, q_log, c, top, vals, cdf, bool(exact), b.seed,
            b.epoch, _PARALLEL_CHUNK if parallel else max(1, b.h2.shape[0]), b.o2,
        )  # fmt: skip
    if not union:
        return b.result
    if b.h2.size:
        _kernels.union(b.result, site)
    else:
        site[...] = False
    return site
