"""Mask functions: the numpy-style faces of the rules of [maskkit.rules][].

Each function is one line of sugar over its rule (the torchvision v2 pattern: the object and the
function share one implementation): [random_mask][maskkit.masks.random_mask] over
[Random][maskkit.rules.Random], [smart_balanced_mask][maskkit.masks.smart_balanced_mask] over
[SmartBalanced][maskkit.rules.SmartBalanced], [af_mask][maskkit.masks.af_mask] over
[AlleleFrequency][maskkit.rules.AlleleFrequency], [span_mask][maskkit.masks.span_mask] over
[Span][maskkit.rules.Span] and [array_mask][maskkit.masks.array_mask] over
[Array][maskkit.rules.Array]. They take the same arguments and give the same masks, bit for bit.

A mask is a pure function of ``(seed, epoch, global sample index, haplotype, position)``, the
rule and, in exact mode, which positions of the row are eligible. Eligible positions are real
(``position < length``) and not missing (allele ``>= 0``); nothing else is ever masked.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from . import _validate as v
from . import freq as _freq
from .rules import (
    AlleleFrequency,
    Array,
    Random,
    SmartBalanced,
    Span,
    freq_dims,
    span_distribution,
)
from .union import haplotype_rate

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

_RANDOM = Random()
_SMART = SmartBalanced()
_NO_INPUTS: dict[str, Any] = {}


def haplotype_rate_for_site_rate(site_rate: Any, ploidy: int = 2) -> Any:
    """Return the per-haplotype rate whose union over ``ploidy`` haplotypes hits ``site_rate``.

    Solves ``1 - (1 - p) ** ploidy = site_rate`` for ``p``. Exact for sites where every
    haplotype is eligible and drawn at the same rate (for example homozygous sites under class
    rates).

    Parameters
    ----------
    site_rate : float or 1-D array of float
        Wanted site rate(s) in [0, 1].
    ploidy : int, default 2
        Haplotypes per sample, in [1, 1024].

    Returns
    -------
    float, or numpy.ndarray of float64 for an array site_rate

    Examples
    --------
    >>> round(haplotype_rate_for_site_rate(0.51), 6)
    0.3
    """
    ploidy = v.int_scalar(ploidy, "ploidy", low=1, high=1024)
    # validate before converting: np.asarray(..., float64) would accept True and "0.5"
    if np.ndim(site_rate) == 0:
        return float(haplotype_rate(float(v.rates(site_rate, 1, "site_rate")[0]), ploidy))
    return haplotype_rate(v.rates(site_rate, np.shape(site_rate)[0], "site_rate"), ploidy)


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

    The function face of [Random][maskkit.rules.Random].

    Parameters
    ----------
    haps : array of int, shape (rows, sites) or (samples, ploidy, sites)
        Alleles: ``0`` ref, ``>= 1`` alt, negative missing; or token ids of a sequence model
        (nucleotides, k-mers), with ``protect`` naming the special tokens.
    rate : float or array of float, shape (samples,)
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
        Read ``rate`` as the wanted *site* rate after [maskkit.union][maskkit.union.union] over the
        ploidy axis and use the per-haplotype rate that achieves it (see
        [haplotype_rate_for_site_rate][maskkit.masks.haplotype_rate_for_site_rate]).
    union : bool, default False
        Return the site mask ``(samples, sites)``, the union over the ploidy axis (needs 3-D
        ``haps``), instead of the per-haplotype mask.
    eligible : bool array broadcastable to haps, optional
        ``False`` marks positions that are never masked and, in exact mode, not counted. For
        3-D ``haps`` a ``(samples, sites)`` array applies to every haplotype of its sample.
    protect : int or 1-D array of int, optional
        Token ids that are never masked (e.g. ``[cls_id, sep_id, pad_id]``).
    out : bool array, optional
        Output buffer of the shape of the result.
    parallel : bool, default False
        Spread rows over numba threads. Results are identical for any thread count.

    Returns
    -------
    numpy.ndarray of bool, the shape of haps, or (samples, sites) with union=True

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
    request = (seed, epoch, indices, lengths, eligible, protect, exact, site_rate, union, out,
               parallel)  # fmt: skip
    return _RANDOM._draw(haps, request, {"rate": rate}, _NO_INPUTS)


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
    """Smart balanced masking: ref positions at ``ref_rate``, alt positions at ``alt_rate``.

    The rule of the RAG-BERT trainer ([SmartBalanced][maskkit.rules.SmartBalanced]): rare alt
    alleles carry most of the signal, so they are masked at ``alt_rate`` (0.7 by default) while
    ``ref_rate`` follows the curriculum. In exact mode the count is exact per row *and per class*;
    with equal rates in Bernoulli mode the result equals [random_mask][maskkit.masks.random_mask]
    for the same seed. For a site mask pass ``union=True`` (one fused pass, equal to
    [maskkit.union][maskkit.union.union] of the haplotype mask); the union raises the effective site
    rate (see [maskkit.effective_site_rates][maskkit.union.effective_site_rates]).

    Parameters
    ----------
    haps : array of int, shape (rows, sites) or (samples, ploidy, sites)
        Alleles: ``0`` ref, ``>= 1`` alt, negative missing.
    ref_rate : float or array of float, shape (samples,)
        Rate of ref positions (allele 0) in [0, 1], or one per sample.
    alt_rate : float or array of float, shape (samples,), default 0.7
        Rate of alt positions (allele > 0) in [0, 1], or one per sample.
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
        ``True``: per row and per class, exactly ``floor`` or ``ceil`` of rate x eligible
        positions (expectation exact), chosen uniformly without replacement.
    site_rate : bool, default False
        Read both rates as site rates after the union over the ploidy axis.
    union : bool, default False
        Return the site mask ``(samples, sites)``, the union over the ploidy axis (needs 3-D
        ``haps``), instead of the per-haplotype mask.
    eligible : bool array broadcastable to haps, optional
        ``False`` marks positions that are never masked and, in exact mode, not counted. For
        3-D ``haps`` a ``(samples, sites)`` array applies to every haplotype of its sample.
    protect : int or 1-D array of int, optional
        Token ids that are never masked (e.g. ``[cls_id, sep_id, pad_id]``).
    out : bool array, optional
        Output buffer of the shape of the result.
    parallel : bool, default False
        Spread rows over numba threads. Results are identical for any thread count.

    Returns
    -------
    numpy.ndarray of bool, the shape of haps, or (samples, sites) with union=True

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
    request = (seed, epoch, indices, lengths, eligible, protect, exact, site_rate, union, out,
               parallel)  # fmt: skip
    return _SMART._draw(haps, request, {"ref_rate": ref_rate, "alt_rate": alt_rate}, _NO_INPUTS)


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
    """Mask as [smart_balanced_mask][maskkit.masks.smart_balanced_mask] does (a deprecated name).

    Warns with a ``DeprecationWarning`` and returns ``smart_balanced_mask(haps, ref_rate,
    alt_rate, ...)``: the same arguments, the same mask. It will be removed in the next release.

    Examples
    --------
    >>> import warnings
    >>> import numpy as np, maskkit as mk
    >>> haps = np.array([[0, 0, 0, 0, 1, 1, 1, 1, 1, 1]], dtype=np.int8)
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", DeprecationWarning)
    ...     m = mk.class_rate_mask(haps, 0.5, 0.5, seed=1, exact=True)
    >>> bool((m == mk.smart_balanced_mask(haps, 0.5, 0.5, seed=1, exact=True)).all())
    True
    """
    warnings.warn(
        "maskkit.class_rate_mask is deprecated and will be removed in the next release; it is "
        "maskkit.smart_balanced_mask (the same arguments, the same masks), use that name",
        DeprecationWarning,
        stacklevel=2,
    )
    return smart_balanced_mask(
        haps, ref_rate, alt_rate, seed=seed, epoch=epoch, indices=indices, lengths=lengths,
        exact=exact, site_rate=site_rate, union=union, eligible=eligible, protect=protect,
        out=out, parallel=parallel,
    )  # fmt: skip


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
    numpy.ndarray of int32, the shape of freq
        Bins as [maskkit.freq.maf_bins][] gives them: ``-1`` for NaN (a site without calls).

    Examples
    --------
    >>> import maskkit as mk
    >>> mk.af_bins([0.001, 0.02, 0.3, 0.999], [0.01, 0.05]).tolist()  # 0.999: MAF 0.001
    [0, 1, 2, 0]
    """
    freq_dims(freq)
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
    MAF bin ([af_bins][maskkit.masks.af_bins]) and ``class`` is 0 for ref, 1 for alt
    ([AlleleFrequency][maskkit.rules.AlleleFrequency]). Use it to mask rare sites more often
    than common ones, alone or on top of smart balanced class rates.

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
    scale : float or array of float, shape (samples,), default 1.0
        Non-negative multiplier of the table, one per sample with an array (per-sample rates,
        e.g. from [maskkit.curriculum.Uniform][]); products above 1 are clipped to 1.
    fold : bool, default True
        Bin the minor allele frequency ``min(f, 1 - f)``.
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
        ``True``: per row, the count in each (class, bin) group (each bin for a 1-D table) is
        ``floor`` or ``ceil`` of rate x eligible positions of the group, expectation exact.
    site_rate : bool, default False
        Read the rates as site rates after the union over the ploidy axis.
    union : bool, default False
        Return the site mask ``(samples, sites)``, the union over the ploidy axis (needs 3-D
        ``haps``), instead of the per-haplotype mask.
    eligible : bool array broadcastable to haps, optional
        ``False`` marks positions that are never masked and, in exact mode, not counted. For
        3-D ``haps`` a ``(samples, sites)`` array applies to every haplotype of its sample.
    protect : int or 1-D array of int, optional
        Token ids that are never masked (e.g. ``[cls_id, sep_id, pad_id]``).
    out : bool array, optional
        Output buffer of the shape of the result.
    parallel : bool, default False
        Spread rows over numba threads. Results are identical for any thread count.

    Returns
    -------
    numpy.ndarray of bool, the shape of haps, or (samples, sites) with union=True

    Notes
    -----
    With a single bin (``edges=[]``) the result equals
    [smart_balanced_mask][maskkit.masks.smart_balanced_mask] (2-row table) or
    [random_mask][maskkit.masks.random_mask] (1-row table) bit for bit, in both modes.

    Examples
    --------
    >>> import numpy as np, maskkit as mk
    >>> haps = np.zeros((1, 2, 8), dtype=np.int8)
    >>> freq = np.array([0.001, 0.002, 0.003, 0.004, 0.2, 0.3, 0.4, 0.5])
    >>> m = mk.af_mask(haps, freq, [0.05], [1.0, 0.0], seed=1)  # rare sites only
    >>> m[0, 0].astype(int).tolist()
    [1, 1, 1, 1, 0, 0, 0, 0]
    """
    rule = AlleleFrequency._for_call(edges=edges, rates=rates, fold=fold, freq=None)
    request = (seed, epoch, indices, lengths, eligible, protect, exact, site_rate, union, out,
               parallel)  # fmt: skip
    return rule._draw(haps, request, {"scale": scale}, {"freq": freq})


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

    The imputation task itself ([Array][maskkit.rules.Array]): the model sees the sites on a
    genotyping array and predicts the rest. Sites off the array are masked at ``rate`` (1.0:
    all of them), sites on the array at ``kept_rate`` (0.0: never).

    Parameters
    ----------
    haps : array of int, shape (rows, sites) or (samples, ploidy, sites)
        Alleles: ``0`` ref, ``>= 1`` alt, negative missing.
    keep : bool array of shape (sites,) or (samples, sites), or 1-D array of int, optional
        The sites on the array (a bool flag per site, or site positions). Give ``keep`` or
        ``every``, not both.
    rate : float or array of float, shape (samples,), default 1.0
        Rate of the sites off the array (the curriculum rate in a
        [maskkit.Masker][maskkit.masker.Masker]).
    every : int, optional
        Keep sites ``0, every, 2 * every, ...``.
    kept_rate : float or array of float, shape (samples,), default 0.0
        Rate of the sites on the array (partial masking of the kept sites).
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
        ``True``: per row, exact counts (stochastic rounding) among the sites off the array and
        among the sites on it, separately.
    site_rate : bool, default False
        Read both rates as site rates after the union over the ploidy axis.
    union : bool, default False
        Return the site mask ``(samples, sites)``, the union over the ploidy axis (needs 3-D
        ``haps``), instead of the per-haplotype mask.
    eligible : bool array broadcastable to haps, optional
        ``False`` marks positions that are never masked and, in exact mode, not counted. For
        3-D ``haps`` a ``(samples, sites)`` array applies to every haplotype of its sample.
    protect : int or 1-D array of int, optional
        Token ids that are never masked (e.g. ``[cls_id, sep_id, pad_id]``).
    out : bool array, optional
        Output buffer of the shape of the result.
    parallel : bool, default False
        Spread rows over numba threads. Results are identical for any thread count.

    Returns
    -------
    numpy.ndarray of bool, the shape of haps, or (samples, sites) with union=True

    Examples
    --------
    >>> import numpy as np, maskkit as mk
    >>> haps = np.array([[0, 1, 0, 0, 1, -1, 0, 0]], dtype=np.int8)
    >>> mk.array_mask(haps, every=3, seed=0).astype(int).tolist()  # missing stays unmasked
    [[0, 1, 1, 0, 1, 0, 0, 1]]
    """
    rule = Array._for_call(keep=keep, every=every)
    request = (seed, epoch, indices, lengths, eligible, protect, exact, site_rate, union, out,
               parallel)  # fmt: skip
    return rule._draw(haps, request, {"rate": rate, "kept_rate": kept_rate}, _NO_INPUTS)


def span_length_probabilities(
    *,
    mean_span: float | None = None,
    max_span: int | None = None,
    span_lengths: Any = None,
    upto: int = 64,
) -> np.ndarray:
    """Return ``P(length = l)`` for ``l = 0..upto`` under a span length distribution.

    The arguments are [span_mask][maskkit.masks.span_mask]'s.

    Parameters
    ----------
    mean_span : float, optional
        Mean of the geometric length distribution (3.0 when no argument is given).
    max_span : int, optional
        Truncation of the geometric distribution.
    span_lengths : (values, probs), optional
        Any length distribution instead of the geometric one.
    upto : int, default 64
        Longest length to give a probability for.

    Returns
    -------
    numpy.ndarray of float64, shape (upto + 1,)

    Examples
    --------
    >>> from maskkit.masks import span_length_probabilities
    >>> span_length_probabilities(mean_span=2.0, upto=3).round(3).tolist()
    [0.0, 0.5, 0.25, 0.125]
    """
    kind, q_log, c, top, vals, cdf = span_distribution(mean_span, max_span, span_lengths)
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
    until ``k`` positions are masked ([Span][maskkit.rules.Span]).

    Parameters
    ----------
    haps : array of int, shape (rows, sites) or (samples, ploidy, sites)
        Alleles: ``0`` ref, ``>= 1`` alt, negative missing.
    rate : float or array of float, shape (samples,)
        Target fraction of the eligible positions of each row.
    mean_span : float, optional
        Mean of the geometric length distribution ``P(L = l) = q (1 - q) ** (l - 1)``,
        ``q = 1 / mean_span`` (so ``mean_span >= 1``); 3.0 when no length argument is given.
    max_span : int, optional
        Truncate the geometric distribution at ``max_span`` (renormalized, as SpanBERT does);
        the mean is then below ``mean_span``.
    span_lengths : (values, probs), optional
        Any length distribution instead of the geometric one: positive integer lengths and their
        probabilities (summing to 1).
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
        ``False``: the last span is laid whole, so a row's count is in ``[k, k + L - 1]``: within
        one span of the target (the fraction is on average above ``rate`` by less than a span
        per row). ``True``: the last span is cut at ``k``, so every row has exactly ``k``.
    site_rate : bool, default False
        Read ``rate`` as the site rate after the union over the ploidy axis (exact for the
        expected fraction when haplotypes are masked independently).
    union : bool, default False
        Return the site mask ``(samples, sites)``, the union over the ploidy axis (needs 3-D
        ``haps``), instead of the per-haplotype mask.
    eligible : bool array broadcastable to haps, optional
        ``False`` marks positions that are never masked and, in exact mode, not counted. For
        3-D ``haps`` a ``(samples, sites)`` array applies to every haplotype of its sample.
    protect : int or 1-D array of int, optional
        Token ids that are never masked (e.g. ``[cls_id, sep_id, pad_id]``).
    out : bool array, optional
        Output buffer of the shape of the result.
    parallel : bool, default False
        Spread rows over numba threads. Results are identical for any thread count.

    Returns
    -------
    numpy.ndarray of bool, the shape of haps, or (samples, sites) with union=True

    Examples
    --------
    >>> import numpy as np, maskkit as mk
    >>> haps = np.zeros((2, 100), dtype=np.int8)
    >>> m = mk.span_mask(haps, 0.2, mean_span=4, seed=3, exact=True)
    >>> m.sum(axis=1).tolist()
    [20, 20]
    """
    rule = Span._for_call(mean_span=mean_span, max_span=max_span, span_lengths=span_lengths)
    request = (seed, epoch, indices, lengths, eligible, protect, exact, site_rate, union, out,
               parallel)  # fmt: skip
    return rule._draw(haps, request, {"rate": rate}, _NO_INPUTS)
