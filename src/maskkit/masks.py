"""Mask rules: random and class-rate (smart balanced) masks, Bernoulli or exact-count.

A mask is a pure function of ``(seed, epoch, global sample index, haplotype, position)``, the
rule and, in exact mode, which positions of the row are eligible. Eligible positions are real
(``position < length``) and not missing (allele ``>= 0``); nothing else is ever masked.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _kernels
from . import _validate as v

__all__ = ["class_rate_mask", "haplotype_rate_for_site_rate", "random_mask", "smart_balanced_mask"]


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


_THRESHOLDS = 0  # (1, 2) uint64 table of 32-bit thresholds (Bernoulli kernels)
_RATES = 1  # (1, 2) float64 table of rates (exact kernels)
_SHARED: dict[tuple[float, float, int], np.ndarray] = {}


def _shared_table(p_ref: float, p_alt: float, kind: int) -> np.ndarray:
    # One (1, 2) table per pair of shared rates, kept (kernels only read it): building it costs
    # about a microsecond, a tenth of a whole 48 x 1,024 call.
    table = _SHARED.get((p_ref, p_alt, kind))
    if table is None:
        if len(_SHARED) > 256:
            _SHARED.clear()
        if kind == _THRESHOLDS:
            row = [int(p_ref * 2.0**32 + 0.5), int(p_alt * 2.0**32 + 0.5)]
            table = np.array([row], dtype=np.uint64)
        else:
            table = np.array([[p_ref, p_alt]], dtype=np.float64)
        _SHARED[(p_ref, p_alt, kind)] = table
    return table


def _thresholds(r_ref: np.ndarray, r_alt: np.ndarray) -> np.ndarray:
    # 32-bit thresholds: the realized probability differs from the rate by < 2**-33.
    if r_ref.shape[0] == 1:  # shared rates: plain float math is ~10x cheaper than array ops
        return _shared_table(float(r_ref[0]), float(r_alt[0]), _THRESHOLDS)
    return np.floor(np.stack([r_ref, r_alt], axis=1) * 2.0**32 + 0.5).astype(np.uint64)


def _run(
    haps: Any,
    ref_rate: Any,
    alt_rate: Any,
    *,
    split: bool,
    seed: Any,
    epoch: Any,
    indices: Any,
    lengths: Any,
    exact: bool,
    site_rate: bool,
    union: bool,
    out: Any,
    parallel: bool,
    ref_name: str,
    alt_name: str,
) -> np.ndarray:
    h2, ploidy, shape = v.haps_2d(haps)
    n = shape[0]
    seed_ = np.uint64(v.int_scalar(seed, "seed"))
    epoch_ = v.int_scalar(epoch, "epoch", high=2**63 - 1)
    if union:
        if len(shape) != 3:
            raise ValueError(
                f"union=True needs 3-D haps (samples, ploidy, sites) to take the union over the "
                f"ploidy axis, got shape {shape}"
            )
        out_shape: tuple[int, ...] = (n, shape[2])
    else:
        out_shape = shape
    # shared float rates skip the per-sample arrays (small batches pay mostly for the wrapper)
    shared = not site_rate and type(ref_rate) is float and type(alt_rate) is float
    if shared:
        p_ref = v.rate_scalar(ref_rate, ref_name)
        p_alt = v.rate_scalar(alt_rate, alt_name)
    else:
        r_ref = v.rates(ref_rate, n, ref_name)
        r_alt = v.rates(alt_rate, n, alt_name)
        if site_rate:
            r_ref = haplotype_rate_for_site_rate(r_ref, ploidy)
            r_alt = haplotype_rate_for_site_rate(r_alt, ploidy)
    lens = v.lengths(lengths, n, shape[-1])
    idx = v.indices(indices, n)
    result = v.out_buffer(out, out_shape)
    if h2.size == 0:
        return result
    if shared:
        table = _shared_table(p_ref, p_alt, _RATES if exact else _THRESHOLDS)
    elif exact:
        r_ref, r_alt = np.broadcast_arrays(r_ref, r_alt)
        table = np.ascontiguousarray(np.stack([r_ref, r_alt], axis=1), dtype=np.float64)
    else:
        table = _thresholds(*np.broadcast_arrays(r_ref, r_alt))
    if exact:
        _exact(h2, ploidy, shape, lens, idx, table, split, seed_, epoch_, result, union, parallel)
    else:
        _bernoulli(h2, ploidy, lens, idx, table, seed_, epoch_, result, union, parallel)
    return result


def _exact(
    h2: np.ndarray,
    ploidy: int,
    shape: tuple[int, ...],
    lens: np.ndarray,
    idx: np.ndarray,
    table: np.ndarray,
    split: bool,
    seed: np.uint64,
    epoch: int,
    result: np.ndarray,
    union: bool,
    parallel: bool,
) -> None:
    o2 = np.empty(h2.shape, dtype=np.bool_) if union else result.reshape(h2.shape)
    kernel = _kernels.exact_mask_parallel if parallel else _kernels.exact_mask
    kernel(h2, ploidy, lens, idx, table, split, seed, epoch, o2)
    if union:
        _kernels.union(o2.reshape(shape), result)


def _bernoulli(
    h2: np.ndarray,
    ploidy: int,
    lens: np.ndarray,
    idx: np.ndarray,
    thr: np.ndarray,
    seed: np.uint64,
    epoch: int,
    result: np.ndarray,
    union: bool,
    parallel: bool,
) -> None:
    if union:  # one pass: each sample's haplotype rows OR-ed straight into its site row
        if parallel:
            _kernels.bernoulli_union_mask_parallel(h2, ploidy, lens, idx, thr, seed, epoch, result)
        else:
            _kernels.bernoulli_union_mask(h2, ploidy, lens, idx, thr, seed, epoch, result)
        return
    o2 = result if result.ndim == 2 else result.reshape(h2.shape)
    if parallel:
        _kernels.bernoulli_mask_parallel(h2, ploidy, lens, idx, thr, seed, epoch, o2)
    else:
        _kernels.bernoulli_mask(h2, ploidy, lens, idx, thr, seed, epoch, o2)


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
    out: np.ndarray | None = None,
    parallel: bool = False,
) -> np.ndarray:
    """Mask each eligible position at ``rate``, whatever its allele.

    Parameters
    ----------
    haps : array of int, shape (rows, sites) or (samples, ploidy, sites)
        Alleles: ``0`` ref, ``>= 1`` alt, negative missing.
    rate : float or array of shape (samples,)
        Per-haplotype masking rate in [0, 1]; an array gives each sample its own rate.
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
    """
    return _run(
        haps, rate, rate, split=False, seed=seed, epoch=epoch, indices=indices, lengths=lengths,
        exact=exact, site_rate=site_rate, union=union, out=out, parallel=parallel,
        ref_name="rate", alt_name="rate",
    )  # fmt: skip


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
    return _run(
        haps, ref_rate, alt_rate, split=True, seed=seed, epoch=epoch, indices=indices,
        lengths=lengths, exact=exact, site_rate=site_rate, union=union, out=out,
        parallel=parallel, ref_name="ref_rate", alt_name="alt_rate",
    )  # fmt: skip


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
    return class_rate_mask(
        haps, ref_rate, alt_rate, seed=seed, epoch=epoch, indices=indices, lengths=lengths,
        exact=exact, site_rate=site_rate, union=union, out=out, parallel=parallel,
    )  # fmt: skip
