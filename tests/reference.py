"""Pure-NumPy / pure-Python reference of every maskkit rule, written from the documentation.

Nothing here imports maskkit: constants are repeated on purpose, so a silent change of the hash,
the stream ids or the token ids in the library makes the bit-for-bit tests fail.

Randomness (``maskkit._rng``): splitmix64 finaliser ``mix64``; a row key is a chain of ``mix64``
over ``(seed, stream, epoch, sample, haplotype)``; ``bits(key, c) = mix64(key + (c + 1) * GOLDEN)``.
Masks: position ``j`` decides with the 16-bit word ``bits(key, j // 4) >> (16 * (j % 4))``; a
rate ``p`` becomes the threshold ``floor(p * 2**16 + 0.5)`` and a position is chosen when its
word is below it. Collation's replacement draws use 32-bit words (``lo(bits(key, j // 2))`` for
even ``j``, ``hi`` for odd) against ``floor(p * 2**32 + 0.5)``.

Every Bernoulli and exact rule is "a group per position, a rate per group" (``groups``):
Bernoulli masks are reproduced bit for bit. Exact masks are documented by their counts (per row
and group, the stochastic rounding of ``rate * eligible`` with counter ``g``, ``exact_targets``)
and by being a uniform subset of that size: which subset depends on the kernel's fix-up, a tuning
choice, so the reference checks the counts (``assert_exact``) and the distribution tests check
uniformity.

Row layout: a 2-D ``(rows, sites)`` array is ``rows`` samples of ploidy 1; a 3-D array
``(samples, ploidy, sites)``; lengths, indices and per-sample rates are indexed by the sample.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
M1 = 0xBF58476D1CE4E5B9
M2 = 0x94D049BB133111EB
TWO32 = 4294967296.0

STREAM_MASK = 1
STREAM_EXACT_ROUND = 2
STREAM_EXACT_FIX = 3
STREAM_REPLACE = 4
STREAM_REPLACE_ALLELE = 5

PAD, MASK, MISSING, ALLELE_OFFSET, IGNORE_INDEX = 0, 1, 2, 3, -100

_U = np.uint64


# ----------------------------------------------------------------------------- hash, scalar


def mix64_int(z: int) -> int:
    """Splitmix64 finaliser on Python ints (mod 2**64)."""
    z &= MASK64
    z = ((z ^ (z >> 30)) * M1) & MASK64
    z = ((z ^ (z >> 27)) * M2) & MASK64
    return z ^ (z >> 31)


def row_key_int(seed: int, stream: int, epoch: int, sample: int, hap: int) -> int:
    k = mix64_int(seed + GOLDEN)
    for x in (stream, epoch, sample, hap):
        k = mix64_int(k ^ ((x * GOLDEN + 1) & MASK64))
    return k


def bits_int(key: int, counter: int) -> int:
    return mix64_int(key + (counter + 1) * GOLDEN)


def word16_int(key: int, j: int) -> int:
    """The 16-bit mask decision word of position ``j``."""
    return (bits_int(key, j >> 2) >> (16 * (j & 3))) & 0xFFFF


def word_int(key: int, j: int) -> int:
    """The 32-bit word of position ``j`` (collation's replacement draws, fix-up probes)."""
    h = bits_int(key, j >> 1)
    return h >> 32 if j & 1 else h & 0xFFFFFFFF


def uniform01_int(key: int, counter: int) -> float:
    return float(bits_int(key, counter) >> 11) * (1.0 / 9007199254740992.0)


def below_int(h: int, n: int) -> int:
    """Multiply-shift map of 64 random bits to ``[0, n)`` (uses the high 32 bits)."""
    return ((h >> 32) * n) >> 32


def threshold(p: float) -> int:
    """The 32-bit threshold of rate ``p`` (collation's replacement draws)."""
    return math.floor(p * TWO32 + 0.5)


def threshold16(p: float) -> int:
    """The 16-bit mask threshold of rate ``p``."""
    return math.floor(p * 65536.0 + 0.5)


def threshold_probability(p: float) -> float:
    """The probability that a Bernoulli mask chooses an eligible position at rate ``p``."""
    return min(threshold16(p), 1 << 16) / 65536.0


def below_probability(v: int, n: int) -> float:
    """Exact probability that ``below_int`` of uniform bits returns ``v`` (not quite ``1/n``)."""
    lo = -(-(v << 32) // n)
    hi = -(-((v + 1) << 32) // n)
    return (hi - lo) / TWO32


# ----------------------------------------------------------------------------- hash, numpy


def mix64(z: Any) -> np.ndarray:
    """Splitmix64 finaliser, vectorised over a uint64 array."""
    z = np.asarray(z, dtype=_U)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> _U(30))) * _U(M1)
        z = (z ^ (z >> _U(27))) * _U(M2)
        return z ^ (z >> _U(31))


def row_keys(seed: int, stream: int, epoch: int, samples: Any, haps: Any) -> np.ndarray:
    """Row keys for arrays of samples and haplotypes (broadcast together)."""
    samples = np.asarray(samples, dtype=np.int64).astype(_U)
    haps = np.asarray(haps, dtype=np.int64).astype(_U)
    with np.errstate(over="ignore"):
        k = mix64(np.array(seed, dtype=_U) + _U(GOLDEN))
        k = mix64(k ^ (_U(stream) * _U(GOLDEN) + _U(1)))
        k = mix64(k ^ (_U(epoch) * _U(GOLDEN) + _U(1)))
        k = mix64(k ^ (samples * _U(GOLDEN) + _U(1)))
        return mix64(k ^ (haps * _U(GOLDEN) + _U(1)))


def bits(keys: Any, counters: Any) -> np.ndarray:
    """64 random bits per (key, counter), broadcast."""
    keys = np.asarray(keys, dtype=_U)
    counters = np.asarray(counters, dtype=np.int64).astype(_U)
    with np.errstate(over="ignore"):
        return mix64(keys + (counters + _U(1)) * _U(GOLDEN))


def words16(keys: Any, sites: int) -> np.ndarray:
    """16-bit mask decision words, shape ``keys.shape + (sites,)``."""
    keys = np.asarray(keys, dtype=_U)[..., None]
    j = np.arange(sites, dtype=np.int64)
    h = bits(keys, j >> 2)
    return (h >> (_U(16) * (j & 3).astype(_U))) & _U(0xFFFF)


def words(keys: Any, sites: int) -> np.ndarray:
    """32-bit decision words, shape ``keys.shape + (sites,)``: lo half even, hi half odd."""
    keys = np.asarray(keys, dtype=_U)[..., None]
    j = np.arange(sites, dtype=np.int64)
    h = bits(keys, j >> 1)
    return np.where(j & 1 == 1, h >> _U(32), h & _U(0xFFFFFFFF))


def below(h: np.ndarray, n: int) -> np.ndarray:
    with np.errstate(over="ignore"):
        return ((np.asarray(h, dtype=_U) >> _U(32)) * _U(n)) >> _U(32)


# ----------------------------------------------------------------------------- layout


def _layout(
    haps: np.ndarray, lengths: Any, indices: Any
) -> tuple[np.ndarray, int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return (rows x sites, ploidy, row sample index in batch, row sample id, row hap, row len)."""
    haps = np.asarray(haps)
    ploidy = haps.shape[1] if haps.ndim == 3 else 1
    n, sites = haps.shape[0], haps.shape[-1]
    h2 = haps.reshape(n * ploidy, sites).astype(np.int64)
    batch = np.repeat(np.arange(n), ploidy)
    ids = np.arange(n) if indices is None else np.asarray(indices, dtype=np.int64)
    lens = np.full(n, sites) if lengths is None else np.asarray(lengths, dtype=np.int64)
    hap = np.tile(np.arange(ploidy), n)
    return h2, ploidy, batch, ids[batch], hap, lens[batch]


def per_sample(rate: Any, n: int) -> np.ndarray:
    """A scalar or per-sample rate as a float array of ``n``."""
    return np.broadcast_to(np.asarray(rate, dtype=np.float64), (n,)).copy()


def hap_rate_for_site_rate(site_rate: Any, ploidy: int) -> Any:
    return 1.0 - (1.0 - np.asarray(site_rate, dtype=np.float64)) ** (1.0 / ploidy)


def eligible_default(haps: np.ndarray, lengths: Any = None) -> np.ndarray:
    """Positions that may be masked: real (before the length) and not missing."""
    haps = np.asarray(haps)
    n, sites = haps.shape[0], haps.shape[-1]
    lens = np.full(n, sites) if lengths is None else np.asarray(lengths)
    real = np.arange(sites)[None, :] < lens[:, None]
    if haps.ndim == 3:
        real = real[:, None, :]
    return real & (haps >= 0)


eligible = eligible_default


# ----------------------------------------------------------------------------- masks by group


def groups(
    haps: Any, bins: Any = None, split: bool = False, lengths: Any = None, eligible: Any = None
) -> np.ndarray:
    """Group of every position, rows x sites; -1 where a position is never masked.

    Group ``bins[j]``, or ``2 * bins[j] + (allele > 0)`` when ``split``; ``bins`` of shape
    (1 or samples, sites), all 0 when None. Never masked: padding, missing, ``eligible`` False.
    """
    haps = np.asarray(haps)
    h2, _, batch, _, _, _ = _layout(haps, lengths, None)
    sites = h2.shape[1]
    b = np.zeros((1, sites), dtype=np.int64) if bins is None else np.asarray(bins, np.int64)
    b = np.broadcast_to(b, h2.shape) if b.shape[0] == 1 else b[batch]
    grp = 2 * b + (h2 > 0) if split else b
    ok = eligible_positions(haps, lengths, eligible).reshape(h2.shape)
    return np.where(ok, grp, -1)


def eligible_positions(haps: Any, lengths: Any = None, eligible: Any = None) -> np.ndarray:
    ok = np.asarray(eligible_default(haps, lengths))
    if eligible is not None:
        ok = ok & np.broadcast_to(np.asarray(eligible, dtype=bool), ok.shape)
    return ok


def row_rates(rates: Any, haps: Any) -> np.ndarray:
    """Group rates per haplotype row from a (1 or samples, groups) table."""
    haps = np.asarray(haps)
    ploidy = haps.shape[1] if haps.ndim == 3 else 1
    table = np.atleast_2d(np.asarray(rates, dtype=np.float64))
    rows = haps.shape[0] * ploidy
    if table.shape[0] == 1:
        return np.broadcast_to(table, (rows, table.shape[1]))
    return table[np.repeat(np.arange(haps.shape[0]), ploidy)]


def group_bernoulli(
    haps: Any, grp: np.ndarray, rates: np.ndarray, *, seed: int, epoch: int = 0, indices: Any = None
) -> np.ndarray:
    """Bernoulli mask: the position's 16-bit word below the threshold of its group's rate."""
    haps = np.asarray(haps)
    _, _, _, ids, hap, _ = _layout(haps, None, indices)
    thr = np.floor(np.asarray(rates, dtype=np.float64) * 65536.0 + 0.5).astype(np.int64)
    w = words16(row_keys(seed, STREAM_MASK, epoch, ids, hap), grp.shape[1]).astype(np.int64)
    t = np.take_along_axis(thr, np.maximum(grp, 0), axis=1)
    return ((w < t) & (grp >= 0)).reshape(haps.shape)


def stochastic_round(x: float, key: int, counter: int) -> int:
    k = math.floor(x)
    return k + 1 if uniform01_int(key, counter) < x - k else k


def exact_targets(
    haps: Any, grp: np.ndarray, rates: np.ndarray, *, seed: int, epoch: int = 0, indices: Any = None
) -> np.ndarray:
    """Exact mode's count per row and group: ``rate * eligible`` stochastically rounded.

    The rounding uniform is ``uniform01(row_key(STREAM_EXACT_ROUND, ...), g)`` for group ``g``.
    """
    haps = np.asarray(haps)
    _, _, _, ids, hap, _ = _layout(haps, None, indices)
    n_groups = rates.shape[1]
    out = np.zeros((grp.shape[0], n_groups), dtype=np.int64)
    for r in range(grp.shape[0]):
        key = row_key_int(seed, STREAM_EXACT_ROUND, epoch, int(ids[r]), int(hap[r]))
        for g in range(n_groups):
            out[r, g] = stochastic_round(float(rates[r, g]) * int((grp[r] == g).sum()), key, g)
    return out


def assert_exact(mask: Any, grp: np.ndarray, targets: np.ndarray) -> None:
    """An exact mask: only eligible positions, and per row and group the target count."""
    m = np.asarray(mask).reshape(grp.shape)
    assert not (m & (grp < 0)).any(), "an ineligible position is masked"
    for g in range(targets.shape[1]):
        got = (m & (grp == g)).sum(axis=1)
        np.testing.assert_array_equal(got, targets[:, g], err_msg=f"counts of group {g}")


def _rule(haps: Any, grp: np.ndarray, rates: Any, exact: bool, kw: dict[str, Any]) -> Any:
    rr = row_rates(rates, haps)
    if exact:
        return grp, exact_targets(haps, grp, rr, **kw)
    return group_bernoulli(haps, grp, rr, **kw)


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
    eligible: Any = None,
) -> Any:
    """Reference of :func:`maskkit.class_rate_mask`: groups ref = 0, alt = 1.

    Bernoulli: the mask. Exact: ``(groups, targets)`` for :func:`assert_exact`.
    """
    haps = np.asarray(haps)
    n = haps.shape[0]
    rates = np.stack([per_sample(ref_rate, n), per_sample(alt_rate, n)], axis=1)
    if site_rate:
        rates = hap_rate_for_site_rate(rates, haps.shape[1] if haps.ndim == 3 else 1)
    grp = groups(haps, None, True, lengths, eligible)
    return _rule(haps, grp, rates, exact, {"seed": seed, "epoch": epoch, "indices": indices})


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
    eligible: Any = None,
) -> Any:
    """Reference of :func:`maskkit.random_mask`: one group. Returns as :func:`class_rate_mask`."""
    haps = np.asarray(haps)
    rates = per_sample(rate, haps.shape[0])[:, None]
    if site_rate:
        rates = hap_rate_for_site_rate(rates, haps.shape[1] if haps.ndim == 3 else 1)
    grp = groups(haps, None, False, lengths, eligible)
    return _rule(haps, grp, rates, exact, {"seed": seed, "epoch": epoch, "indices": indices})


# ----------------------------------------------------------------------------- union and stats


def union(mask: np.ndarray) -> np.ndarray:
    """Site mask: ``np.maximum`` over the ploidy axis."""
    mask = np.asarray(mask)
    if mask.shape[1] == 1:
        return mask[:, 0, :].copy()
    return np.maximum.reduce(mask, axis=1)


def effective_site_rate(ref_rate: float, alt_rate: float, ploidy: int, k_alt: int) -> float:
    """Probability that the union masks a site with ``k_alt`` alt haplotypes of ``ploidy``."""
    keep = 1.0
    for h in range(ploidy):
        keep *= 1.0 - (alt_rate if h < k_alt else ref_rate)
    return 1.0 - keep


def mask_stats(mask: np.ndarray, haps: np.ndarray, lengths: Any = None) -> dict[str, float]:
    """Reference of :func:`maskkit.mask_stats`."""
    haps = np.asarray(haps)
    mask = np.asarray(mask)
    elig = eligible(haps, lengths)
    site_mask = None
    if haps.ndim == 3 and mask.shape != haps.shape:
        site_mask = mask
        mask = np.broadcast_to(mask[:, None, :], haps.shape)

    def ratio(a: int, b: int) -> float:
        return a / b if b else float("nan")

    ref, alt = elig & (haps == 0), elig & (haps > 0)
    stats: dict[str, float] = {
        "n_ref": int(ref.sum()),
        "n_alt": int(alt.sum()),
        "ref_rate": ratio(int((mask & ref).sum()), int(ref.sum())),
        "alt_rate": ratio(int((mask & alt).sum()), int(alt.sum())),
        "rate": ratio(int((mask & elig).sum()), int(elig.sum())),
    }
    if haps.ndim == 3:
        n, ploidy, sites = haps.shape
        real = (
            np.arange(sites)[None, :]
            < (np.full(n, sites) if lengths is None else np.asarray(lengths))[:, None]
        )
        site = union(mask) if site_mask is None else site_mask
        any_missing = (haps < 0).any(axis=1)
        k = (haps > 0).sum(axis=1)
        complete = real & ~any_missing
        stats["site_rate"] = ratio(int((site & complete).sum()), int(complete.sum()))
        for kk in range(ploidy + 1):
            cls = complete & (k == kk)
            stats[f"site_rate_alt{kk}"] = ratio(int((site & cls).sum()), int(cls.sum()))
        miss = real & any_missing
        stats["site_rate_missing"] = ratio(int((site & miss).sum()), int(miss.sum()))
    return stats


# ----------------------------------------------------------------------------- collate


def padded_width(max_length: int, pad_to: Any = None, pad_to_multiple_of: Any = None) -> int:
    width = max_length if pad_to is None else max(pad_to, max_length)
    if pad_to_multiple_of is not None:
        width = math.ceil(width / pad_to_multiple_of) * pad_to_multiple_of
    return width


def collate(
    haps: Any,
    mask: Any,
    lengths: Any = None,
    pad_to: Any = None,
    pad_to_multiple_of: Any = None,
    *,
    replace: Any = None,
    n_alleles: int = 2,
    seed: int = 0,
    epoch: int = 0,
    indices: Any = None,
) -> dict[str, np.ndarray]:
    """Reference of :func:`maskkit.collate` (raises ``ValueError`` where it must)."""
    haps = np.asarray(haps)
    mask = np.asarray(mask, dtype=bool)
    h2, ploidy, _batch, ids_, hap, lens = _layout(haps, lengths, indices)
    rows, sites = h2.shape
    if haps.ndim == 3 and mask.shape != haps.shape:
        site_mask = True
        m2 = np.repeat(mask, ploidy, axis=0)
    else:
        site_mask = False
        m2 = mask.reshape(h2.shape)
    real = np.arange(sites)[None, :] < lens[:, None]
    if (m2 & ~real).any():
        raise ValueError("mask marks padding")
    if not site_mask and (m2 & (h2 < 0)).any():
        raise ValueError("mask marks missing calls")
    n = haps.shape[0]
    max_len = int(np.max(lens, initial=0)) if lengths is not None else (sites if n else 0)
    width = padded_width(max_len, pad_to=pad_to, pad_to_multiple_of=pad_to_multiple_of)
    ids = np.full((rows, width), PAD, dtype=np.int64)
    labels = np.full((rows, width), IGNORE_INDEX, dtype=np.int64)
    attention = np.zeros((rows, width), dtype=np.int64)
    mask_out = np.zeros((rows, width), dtype=bool)
    for r in range(rows):
        length = int(lens[r])
        a = h2[r, :length]
        miss = a < 0
        mk = m2[r, :length] & ~miss
        tok = np.where(miss, MISSING, ALLELE_OFFSET + a)
        if replace is None:
            masked_tok = np.full(length, MASK)
        else:
            pm, pr, _ = replace
            t_mask, t_keep = threshold(pm), threshold(pm + pr)
            key_rep = row_keys(seed, STREAM_REPLACE, epoch, ids_[r], hap[r])
            key_all = row_keys(seed, STREAM_REPLACE_ALLELE, epoch, ids_[r], hap[r])
            u = words(key_rep, length).astype(np.int64)
            rnd = ALLELE_OFFSET + below(bits(key_all, np.arange(length)), n_alleles).astype(
                np.int64
            )
            masked_tok = np.where(u < t_mask, MASK, np.where(u >= t_keep, tok, rnd))
        ids[r, :length] = np.where(mk, masked_tok, tok)
        labels[r, :length] = np.where(mk, a, IGNORE_INDEX)
        attention[r, :length] = 1
        mask_out[r, :length] = mk
    shape = (*haps.shape[:-1], width)
    return {
        "input_ids": ids.reshape(shape),
        "labels": labels.reshape(shape),
        "attention_mask": attention.reshape(shape),
        "mask": mask_out.reshape(shape),
    }


# ----------------------------------------------------------------------------- more rules

STREAM_SPAN = 7
STREAM_SPAN_ROUND = 8


def maf_bins(freq: Any, edges: Any, fold: bool = True) -> np.ndarray:
    """Bin of each site: how many edges are at or below its (folded) frequency."""
    f = np.asarray(freq, dtype=np.float64)
    if fold:
        f = np.minimum(f, 1.0 - f)
    e = np.asarray(edges, dtype=np.float64)
    return (f[..., None] >= e).sum(axis=-1).astype(np.int64)


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
    eligible: Any = None,
) -> Any:
    """Reference of :func:`maskkit.af_mask`: rate ``min(1, scale * rates[class, bin])``."""
    haps = np.asarray(haps)
    n, sites = haps.shape[0], haps.shape[-1]
    table = np.asarray(rates, dtype=np.float64)
    split = table.ndim == 2
    flat = table.T.reshape(-1) if split else table
    sc = np.asarray(scale, dtype=np.float64).reshape(-1)
    per = np.minimum(sc[:, None] * flat[None, :], 1.0)
    if site_rate:
        per = hap_rate_for_site_rate(per, haps.shape[1] if haps.ndim == 3 else 1)
    bins = maf_bins(freq, edges, fold)
    bins = bins.reshape(1 if bins.ndim == 1 else n, sites)
    grp = groups(haps, bins, split, lengths, eligible)
    return _rule(haps, grp, per, exact, {"seed": seed, "epoch": epoch, "indices": indices})


def array_mask(
    haps: Any,
    keep: np.ndarray,
    rate: Any = 1.0,
    *,
    kept_rate: Any = 0.0,
    seed: int,
    epoch: int = 0,
    indices: Any = None,
    lengths: Any = None,
    exact: bool = False,
    site_rate: bool = False,
    eligible: Any = None,
) -> Any:
    """Reference of :func:`maskkit.array_mask` for a bool ``keep`` of shape (sites,)."""
    haps = np.asarray(haps)
    n = haps.shape[0]
    per = np.stack([per_sample(rate, n), per_sample(kept_rate, n)], axis=1)
    if site_rate:
        per = hap_rate_for_site_rate(per, haps.shape[1] if haps.ndim == 3 else 1)
    bins = np.asarray(keep, dtype=np.int64).reshape(1, -1)
    grp = groups(haps, bins, False, lengths, eligible)
    return _rule(haps, grp, per, exact, {"seed": seed, "epoch": epoch, "indices": indices})


def _fix_count(h: np.ndarray, length: int, o: np.ndarray, d: int, key_fix: int) -> None:
    """Span rows that the span cap left short: add ``d`` eligible positions (the kernel's
    fix-up, mirrored: the cap is never reached by the tested distributions)."""
    need = d
    cand = [j for j in range(length) if not o[j] and h[j] >= 0]
    c = len(cand)
    gkey = mix64_int(key_fix ^ (((2 + 1) * GOLDEN) & MASK64))
    if 3 * need <= c:
        done = t = 0
        while done < need:
            j = (word_int(gkey, t) * length) >> 32
            t += 1
            if not o[j] and h[j] >= 0:
                o[j] = True
                done += 1
        return
    for i in range(need):
        pick = i + below_int(bits_int(gkey, i), c - i)
        cand[i], cand[pick] = cand[pick], cand[i]
        o[cand[i]] = True


def span_length(key: int, i: int, mean_span: Any, max_span: Any, span_lengths: Any) -> int:
    """Length of span ``i``: inversion of the (truncated) geometric CDF, or of the table's."""
    u = uniform01_int(key, 2 * i)
    if span_lengths is not None:
        vals, probs = (np.asarray(x) for x in span_lengths)
        cdf = np.cumsum(np.asarray(probs, dtype=np.float64)) / np.sum(probs)
        cdf[-1] = 1.0
        return int(vals[int(np.argmax(cdf > u))])
    q = 1.0 / (3.0 if mean_span is None else float(mean_span))
    top = 2**62 if max_span is None else int(max_span)
    if q == 1.0:
        return 1
    q_log = math.log1p(-q)
    c = 1.0 if max_span is None else -math.expm1(top * q_log)
    # the first lengths by a CDF table (all but ~2**-20 of the mass, at most 4,096 lengths)
    size = min(top, 4096, max(1, math.ceil(-14.0 / q_log)))
    for length in range(1, size + 1):
        cdf = 1.0 if length == top else -math.expm1(length * q_log) / c
        if cdf > u:
            return length
    # past the table: the inversion formula, at least one past the table
    x = math.floor(math.log1p(-u * c) / q_log)
    return top if x >= top else max(1 + x, size + 1)


def span_mask(
    haps: Any,
    rate: Any,
    *,
    mean_span: Any = None,
    max_span: Any = None,
    span_lengths: Any = None,
    seed: int,
    epoch: int = 0,
    indices: Any = None,
    lengths: Any = None,
    exact: bool = False,
    site_rate: bool = False,
) -> np.ndarray:
    """Reference of :func:`maskkit.span_mask`, a loop over spans per row."""
    haps = np.asarray(haps)
    h2, ploidy, batch, ids, hap, lens = _layout(haps, lengths, indices)
    p = per_sample(rate, haps.shape[0])[batch]
    if site_rate:
        p = hap_rate_for_site_rate(p, ploidy)
    out = np.zeros(h2.shape, dtype=bool)
    for r in range(h2.shape[0]):
        h, o, length = h2[r], out[r], int(lens[r])
        args = (int(ids[r]), int(hap[r]))
        key_span = row_key_int(seed, STREAM_SPAN, epoch, *args)
        n = int((h[:length] >= 0).sum())
        k = stochastic_round(p[r] * n, row_key_int(seed, STREAM_SPAN_ROUND, epoch, *args), 0)
        m = i = 0
        while m < k and i < 64 + 16 * length:
            span = min(span_length(key_span, i, mean_span, max_span, span_lengths), length)
            start = below_int(bits_int(key_span, 2 * i + 1), length - span + 1)
            i += 1
            for j in range(start, start + span):
                if h[j] >= 0 and not o[j]:
                    o[j] = True
                    m += 1
                    if exact and m == k:
                        break
        if m < k:
            _fix_count(h, length, o, k - m, row_key_int(seed, STREAM_EXACT_FIX, epoch, *args))
    return out.reshape(haps.shape)
