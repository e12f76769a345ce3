"""Numba kernels. Plain loops over integers; all checks live in the public wrappers.

Layout conventions for every kernel:

* ``haps`` is 2-D ``(rows, sites)``; row ``r`` is haplotype ``r % ploidy`` of batch sample
  ``r // ploidy`` (a 2-D user array is passed with ``ploidy == 1``).
* ``lengths``, ``indices`` and per-sample rate tables are indexed by the batch sample.
* ``thr`` holds 32-bit thresholds: a position is chosen when its 32-bit word is ``< thr``.
"""

from __future__ import annotations

import numpy as np

from . import tokens
from ._numba import jit, pjit, prange
from ._rng import (
    _S32,
    GOLDEN,
    LOW32,
    ONE,
    STREAM_EXACT_FIX,
    STREAM_EXACT_ROUND,
    STREAM_MASK,
    STREAM_REPLACE,
    STREAM_REPLACE_ALLELE,
    below,
    bits,
    mix64,
    row_key,
    u32_at,
    uniform01,
)

_TWO32 = 4294967296.0
_PAD = tokens.PAD
_MASK = tokens.MASK
_MISSING = tokens.MISSING
_OFFSET = tokens.ALLELE_OFFSET
_IGNORE = tokens.IGNORE_INDEX


@jit
def _threshold(p: float) -> np.uint64:
    return np.uint64(p * _TWO32 + 0.5)


# --------------------------------------------------------------------------- Bernoulli


@jit
def _bernoulli_row(h, length, key, t_ref, t_alt, o):  # type: ignore[no-untyped-def]
    npair = length >> 1
    for q in range(npair):
        z = bits(key, q)
        j = 2 * q
        a0 = h[j]
        a1 = h[j + 1]
        t0 = t_alt if a0 > 0 else t_ref
        t1 = t_alt if a1 > 0 else t_ref
        o[j] = ((z >> _S32) < t0) & (a0 >= 0)
        o[j + 1] = ((z & LOW32) < t1) & (a1 >= 0)
    if length & 1:
        j = length - 1
        a = h[j]
        t = t_alt if a > 0 else t_ref
        o[j] = ((bits(key, j >> 1) >> _S32) < t) & (a >= 0)
    for j in range(length, h.shape[0]):
        o[j] = False


@jit
def _bernoulli_one(r, haps, ploidy, lengths, indices, thr, seed, epoch, out):  # type: ignore[no-untyped-def]
    s = r // ploidy
    key = row_key(seed, STREAM_MASK, epoch, indices[s], r % ploidy)
    _bernoulli_row(haps[r], lengths[s], key, thr[s, 0], thr[s, 1], out[r])


@jit
def bernoulli_mask(haps, ploidy, lengths, indices, thr, seed, epoch, out):  # type: ignore[no-untyped-def]
    for r in range(haps.shape[0]):
        _bernoulli_one(r, haps, ploidy, lengths, indices, thr, seed, epoch, out)


@pjit
def bernoulli_mask_parallel(haps, ploidy, lengths, indices, thr, seed, epoch, out):  # type: ignore[no-untyped-def]
    for r in prange(haps.shape[0]):
        _bernoulli_one(r, haps, ploidy, lengths, indices, thr, seed, epoch, out)


# --------------------------------------------------------------------------- exact counts


@jit
def _stochastic_round(x, key, counter):  # type: ignore[no-untyped-def]
    k = int(np.floor(x))
    if uniform01(key, counter) < x - k:
        k += 1
    return k


@jit
def _in_group(a, group):  # type: ignore[no-untyped-def]
    # group 0: ref, 1: alt, 2: any non-missing allele
    if group == 2:
        return a >= 0
    if group == 1:
        return a > 0
    return a == 0


@jit
def _fix_count(h, length, o, group, d, key, scratch):  # type: ignore[no-untyped-def]
    """Flip ``|d|`` positions of ``group`` chosen uniformly: add when d > 0, remove when d < 0."""
    want = d < 0  # remove from selected positions, or add among unselected ones
    c = 0
    for j in range(length):
        if o[j] == want and _in_group(h[j], group):
            scratch[c] = j
            c += 1
    gkey = mix64(key ^ (np.uint64(group) + ONE) * GOLDEN)
    for i in range(abs(d)):
        pick = i + below(bits(gkey, i), c - i)
        tmp = scratch[pick]
        scratch[pick] = scratch[i]
        scratch[i] = tmp
        o[tmp] = not want


@jit
def _exact_row(h, length, key_mask, key_round, key_fix, p_ref, p_alt, split, o, scratch):  # type: ignore[no-untyped-def]
    n_ref = 0
    n_alt = 0
    for j in range(length):
        a = h[j]
        n_ref += a == 0
        n_alt += a > 0
    if split:
        k_ref = _stochastic_round(p_ref * n_ref, key_round, 0)
        k_alt = _stochastic_round(p_alt * n_alt, key_round, 1)
    else:
        k_ref = _stochastic_round(p_ref * (n_ref + n_alt), key_round, 2)
        k_alt = 0
    # A Bernoulli pass at k/n lands near k; flipping the difference at uniformly chosen positions
    # then gives a uniform k-subset (conditioned on its size, a Bernoulli set is uniform).
    if split:
        t_ref = _threshold(k_ref / n_ref) if n_ref > 0 else np.uint64(0)
        t_alt = _threshold(k_alt / n_alt) if n_alt > 0 else np.uint64(0)
    else:
        n = n_ref + n_alt
        t_ref = _threshold(k_ref / n) if n > 0 else np.uint64(0)
        t_alt = t_ref
    _bernoulli_row(h, length, key_mask, t_ref, t_alt, o)
    m_ref = 0
    m_alt = 0
    for j in range(length):
        if o[j]:
            if h[j] > 0:
                m_alt += 1
            else:
                m_ref += 1
    if split:
        if m_ref != k_ref:
            _fix_count(h, length, o, 0, k_ref - m_ref, key_fix, scratch)
        if m_alt != k_alt:
            _fix_count(h, length, o, 1, k_alt - m_alt, key_fix, scratch)
    elif m_ref + m_alt != k_ref:
        _fix_count(h, length, o, 2, k_ref - m_ref - m_alt, key_fix, scratch)


@jit
def _exact_one(r, haps, ploidy, lengths, indices, rates, split, seed, epoch, out, scratch):  # type: ignore[no-untyped-def]
    s = r // ploidy
    sample = indices[s]
    hap = r % ploidy
    key_mask = row_key(seed, STREAM_MASK, epoch, sample, hap)
    key_round = row_key(seed, STREAM_EXACT_ROUND, epoch, sample, hap)
    key_fix = row_key(seed, STREAM_EXACT_FIX, epoch, sample, hap)
    _exact_row(
        haps[r], lengths[s], key_mask, key_round, key_fix,
        rates[s, 0], rates[s, 1], split, out[r], scratch,
    )  # fmt: skip


@jit
def exact_mask(haps, ploidy, lengths, indices, rates, split, seed, epoch, out):  # type: ignore[no-untyped-def]
    scratch = np.empty(haps.shape[1], dtype=np.int64)
    for r in range(haps.shape[0]):
        _exact_one(r, haps, ploidy, lengths, indices, rates, split, seed, epoch, out, scratch)


@pjit
def exact_mask_parallel(haps, ploidy, lengths, indices, rates, split, seed, epoch, out):  # type: ignore[no-untyped-def]
    for r in prange(haps.shape[0]):
        scratch = np.empty(haps.shape[1], dtype=np.int64)
        _exact_one(r, haps, ploidy, lengths, indices, rates, split, seed, epoch, out, scratch)


# --------------------------------------------------------------------------- union


@jit
def union(m, out):  # type: ignore[no-untyped-def]
    n, p, s = m.shape
    for i in range(n):
        for j in range(s):
            out[i, j] = m[i, 0, j]
        for h in range(1, p):
            for j in range(s):
                out[i, j] |= m[i, h, j]


# --------------------------------------------------------------------------- collate


@jit
def collate(  # type: ignore[no-untyped-def]
    haps, mask, mask_div, ploidy, lengths, indices, seed, epoch,
    t_mask, t_keep_from, n_alleles, ids, labels, attention, mask_out,
):  # fmt: skip
    """Pad and tokenize; returns (masked positions beyond length, masked missing positions).

    Position choice under replacement: ``u < t_mask`` -> MASK; ``u >= t_keep_from`` -> keep the
    true token; otherwise a uniformly random allele token (HF's 80/10/10 with t's from the wrapper).
    """
    rows, sites = haps.shape
    width = ids.shape[1]
    n_pad = 0
    n_missing = 0
    replace = t_mask < np.uint64(4294967296)
    for r in range(rows):
        s = r // ploidy
        length = lengths[s]
        mr = r // mask_div
        if replace:
            key_rep = row_key(seed, STREAM_REPLACE, epoch, indices[s], r % ploidy)
            key_all = row_key(seed, STREAM_REPLACE_ALLELE, epoch, indices[s], r % ploidy)
        else:
            key_rep = np.uint64(0)
            key_all = np.uint64(0)
        for j in range(length):
            a = haps[r, j]
            miss = a < 0
            mk = mask[mr, j]
            if mk and miss:
                n_missing += 1
                mk = False
            tok = _MISSING if miss else _OFFSET + a
            if mk:
                labels[r, j] = a
                masked_tok = _MASK
                if replace:
                    u = u32_at(key_rep, j)
                    if u >= t_keep_from:
                        masked_tok = tok
                    elif u >= t_mask:
                        masked_tok = _OFFSET + below(bits(key_all, j), n_alleles)
                ids[r, j] = masked_tok
            else:
                labels[r, j] = _IGNORE
                ids[r, j] = tok
            attention[r, j] = 1
            mask_out[r, j] = mk
        for j in range(length, width):
            if j < sites and mask[mr, j]:
                n_pad += 1
            ids[r, j] = _PAD
            labels[r, j] = _IGNORE
            attention[r, j] = 0
            mask_out[r, j] = False
    return n_pad, n_missing


# --------------------------------------------------------------------------- stats


@jit
def class_counts(haps, ploidy, lengths, mask, mask_div, counts):  # type: ignore[no-untyped-def]
    """Accumulate [eligible ref, masked ref, eligible alt, masked alt] into ``counts``."""
    for r in range(haps.shape[0]):
        mr = r // mask_div
        for j in range(lengths[r // ploidy]):
            a = haps[r, j]
            if a < 0:
                continue
            c = 2 if a > 0 else 0
            counts[c] += 1
            counts[c + 1] += mask[mr, j]


@jit
def site_counts(haps, lengths, site_mask, counts):  # type: ignore[no-untyped-def]
    """Accumulate per alt-allele count k (row k): [complete sites, masked sites] for 3-D haps.

    Sites with any missing call are counted in the last row (index ploidy + 1).
    """
    n, p, _ = haps.shape
    for i in range(n):
        for j in range(lengths[i]):
            k = 0
            miss = False
            for h in range(p):
                a = haps[i, h, j]
                miss |= a < 0
                k += a > 0
            if miss:
                k = p + 1
            counts[k, 0] += 1
            counts[k, 1] += site_mask[i, j]
