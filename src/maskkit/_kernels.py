"""Numba kernels. Plain loops over integers; all checks live in the public wrappers.

Layout conventions for every kernel:

* ``haps`` is 2-D ``(rows, sites)``; row ``r`` is haplotype ``r % ploidy`` of batch sample
  ``r // ploidy`` (a 2-D user array is passed with ``ploidy == 1``).
* ``lengths``, ``indices`` and per-sample rate tables are indexed by the batch sample.
* ``thr`` holds 32-bit thresholds: a position is chosen when its 32-bit word is ``< thr``.
"""

from __future__ import annotations

import sys

import numpy as np

from . import tokens
from ._numba import ijit, jit, pjit, prange
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
    STREAM_SAMPLE_RATE,
    STREAM_SPAN,
    STREAM_SPAN_ROUND,
    below,
    bits,
    mix64,
    row_key,
    u32_at,
    uniform01,
)

_TWO32 = 4294967296.0
_TWO32_U = np.uint64(1 << 32)
_LITTLE = sys.byteorder == "little"
_ZERO = np.uint64(0)
_PAD = tokens.PAD
_MASK = tokens.MASK
_MISSING = tokens.MISSING
_OFFSET = tokens.ALLELE_OFFSET
_IGNORE = tokens.IGNORE_INDEX


@jit
def stream_key(seed: np.uint64, stream: int, epoch: int) -> np.uint64:
    """Return the part of ``row_key`` shared by every row of a call (hoisted out of row loops)."""
    k = mix64(seed + GOLDEN)
    k = mix64(k ^ (np.uint64(stream) * GOLDEN + ONE))
    return mix64(k ^ (np.uint64(epoch) * GOLDEN + ONE))


@jit
def sample_key(skey: np.uint64, sample: int, hap: int) -> np.uint64:
    """Return ``row_key(seed, stream, epoch, sample, hap)`` from ``skey = stream_key(...)``."""
    k = mix64(skey ^ (np.uint64(sample) * GOLDEN + ONE))
    return mix64(k ^ (np.uint64(hap) * GOLDEN + ONE))


@jit
def _threshold(p: float) -> np.uint64:
    return np.uint64(p * _TWO32 + 0.5)


# --------------------------------------------------------------------------- Bernoulli


@jit
def _bernoulli_row(h, r, length, key, t_ref, t_alt, o, i):  # type: ignore[no-untyped-def]
    # Haplotype row ``r`` of ``h`` into row ``i`` of ``o``. Rows are indexed in the 2-D arrays
    # (``h[r, j]``), not taken as views (``h[r]``): a view costs numba two reference-count
    # updates, ~17 ns a row (a tenth of a 48 x 1,024 call).
    npair = length >> 1
    for q in range(npair):
        z = bits(key, q)
        j = 2 * q
        a0 = h[r, j]
        a1 = h[r, j + 1]
        t0 = t_alt if a0 > 0 else t_ref
        t1 = t_alt if a1 > 0 else t_ref
        o[i, j] = ((z & LOW32) < t0) & (a0 >= 0)
        o[i, j + 1] = ((z >> _S32) < t1) & (a1 >= 0)
    if length & 1:
        j = length - 1
        a = h[r, j]
        t = t_alt if a > 0 else t_ref
        o[i, j] = ((bits(key, j >> 1) & LOW32) < t) & (a >= 0)
    for j in range(length, h.shape[1]):
        o[i, j] = False


@jit
def _bernoulli_row_or(h, r, length, key, t_ref, t_alt, o, i):  # type: ignore[no-untyped-def]
    """``_bernoulli_row`` OR-ed into row ``i`` of a site mask (its padding is already False)."""
    for q in range(length >> 1):
        z = bits(key, q)
        j = 2 * q
        a0 = h[r, j]
        a1 = h[r, j + 1]
        t0 = t_alt if a0 > 0 else t_ref
        t1 = t_alt if a1 > 0 else t_ref
        o[i, j] = o[i, j] | (((z & LOW32) < t0) & (a0 >= 0))
        o[i, j + 1] = o[i, j + 1] | (((z >> _S32) < t1) & (a1 >= 0))
    if length & 1:
        j = length - 1
        a = h[r, j]
        t = t_alt if a > 0 else t_ref
        o[i, j] = o[i, j] | (((bits(key, j >> 1) & LOW32) < t) & (a >= 0))


@jit
def _bernoulli_pair_or(h, r, length, key0, key1, t_ref, t_alt, o, i):  # type: ignore[no-untyped-def]
    """Rows ``r`` and ``r + 1`` (a diploid sample) OR-ed into row ``i`` of a site mask.

    The same words and decisions as two ``_bernoulli_row`` calls, in one pass over the sites.
    """
    for q in range(length >> 1):
        z = bits(key0, q)
        y = bits(key1, q)
        j = 2 * q
        a0 = h[r, j]
        a1 = h[r, j + 1]
        b0 = h[r + 1, j]
        b1 = h[r + 1, j + 1]
        s0 = ((z & LOW32) < (t_alt if a0 > 0 else t_ref)) & (a0 >= 0)
        s1 = ((z >> _S32) < (t_alt if a1 > 0 else t_ref)) & (a1 >= 0)
        u0 = ((y & LOW32) < (t_alt if b0 > 0 else t_ref)) & (b0 >= 0)
        u1 = ((y >> _S32) < (t_alt if b1 > 0 else t_ref)) & (b1 >= 0)
        o[i, j] = s0 | u0
        o[i, j + 1] = s1 | u1
    if length & 1:
        j = length - 1
        a = h[r, j]
        b = h[r + 1, j]
        s0 = ((bits(key0, j >> 1) & LOW32) < (t_alt if a > 0 else t_ref)) & (a >= 0)
        u0 = ((bits(key1, j >> 1) & LOW32) < (t_alt if b > 0 else t_ref)) & (b >= 0)
        o[i, j] = s0 | u0
    for j in range(length, h.shape[1]):
        o[i, j] = False


@ijit
def _uniform_row(h, r, length, key, t, o, w, w32):  # type: ignore[no-untyped-def]
    """``_bernoulli_row`` when both classes share threshold ``t`` (same words and decisions).

    Hashes the row into ``w`` first, then decides over contiguous 32-bit words (``w32``, a
    uint32 view of ``w``: word j is position j's, see ``_rng``): without the class select this
    vectorises better than the pair loop (0.13 -> 0.09 ns/site).
    """
    for q in range((length + 1) >> 1):
        z = bits(key, q)
        w[q] = z if _LITTLE else (z << _S32) | (z >> _S32)
    bound = np.uint32(min(t, _TWO32_U - ONE))
    always = t >= _TWO32_U  # t = 2**32 (rate 1) does not fit in 32 bits
    for j in range(length):
        o[r, j] = ((w32[j] < bound) | always) & (h[r, j] >= 0)
    for j in range(length, h.shape[1]):
        o[r, j] = False


@jit
def _scratch(sites):  # type: ignore[no-untyped-def]
    """Scratch for ``_uniform_row``: a row's hashes and their uint32 view."""
    w = np.empty((sites + 1) >> 1, dtype=np.uint64)
    return w, w.view(np.uint32)


@jit
def _bernoulli_row_counted(h, r, length, key, t_ref, t_alt, o):  # type: ignore[no-untyped-def]
    """``_bernoulli_row`` that also returns (eligible ref, eligible alt, chosen ref, chosen alt)."""
    n_alt = 0
    n_elig = 0
    m_alt = 0
    m_all = 0
    for q in range(length >> 1):
        z = bits(key, q)
        j = 2 * q
        a0 = h[r, j]
        a1 = h[r, j + 1]
        alt0 = a0 > 0
        alt1 = a1 > 0
        s0 = ((z & LOW32) < (t_alt if alt0 else t_ref)) & (a0 >= 0)
        s1 = ((z >> _S32) < (t_alt if alt1 else t_ref)) & (a1 >= 0)
        o[r, j] = s0
        o[r, j + 1] = s1
        n_alt += np.int64(alt0) + np.int64(alt1)
        n_elig += np.int64(a0 >= 0) + np.int64(a1 >= 0)
        m_alt += np.int64(s0 & alt0) + np.int64(s1 & alt1)
        m_all += np.int64(s0) + np.int64(s1)
    if length & 1:
        j = length - 1
        a = h[r, j]
        alt = a > 0
        sel = ((bits(key, j >> 1) & LOW32) < (t_alt if alt else t_ref)) & (a >= 0)
        o[r, j] = sel
        n_alt += np.int64(alt)
        n_elig += np.int64(a >= 0)
        m_alt += np.int64(sel & alt)
        m_all += np.int64(sel)
    for j in range(length, h.shape[1]):
        o[r, j] = False
    return n_elig - n_alt, n_alt, m_all - m_alt, m_alt


@jit
def _sample_of(s, indices):  # type: ignore[no-untyped-def]
    # An empty ``indices`` means batch position == global sample id.
    return s if indices.shape[0] == 0 else indices[s]


@jit
def _row(table, s):  # type: ignore[no-untyped-def]
    # Per-sample tables may hold a single entry shared by every sample.
    return 0 if table.shape[0] == 1 else s


@jit
def _bernoulli_one(r, haps, ploidy, lengths, indices, thr, skey, out):  # type: ignore[no-untyped-def]
    s = r // ploidy
    key = sample_key(skey, _sample_of(s, indices), r % ploidy)
    t = _row(thr, s)
    length = lengths[_row(lengths, s)]
    if thr[t, 0] == thr[t, 1]:
        w, w32 = _scratch(haps.shape[1])
        _uniform_row(haps, r, length, key, thr[t, 0], out, w, w32)
    else:
        _bernoulli_row(haps, r, length, key, thr[t, 0], thr[t, 1], out, r)


@jit
def bernoulli_mask(haps, ploidy, lengths, indices, thr, seed, epoch, out):  # type: ignore[no-untyped-def]
    # Serial drivers index the small tables here rather than through ``_bernoulli_one``: a call
    # that takes arrays costs numba reference-count updates, ~20 ns a row.
    skey = stream_key(seed, STREAM_MASK, epoch)
    n_len = lengths.shape[0]
    n_idx = indices.shape[0]
    n_thr = thr.shape[0]
    w, w32 = _scratch(haps.shape[1])
    for r in range(haps.shape[0]):
        s = r // ploidy
        key = sample_key(skey, s if n_idx == 0 else indices[s], r % ploidy)
        t = 0 if n_thr == 1 else s
        length = lengths[0 if n_len == 1 else s]
        if thr[t, 0] == thr[t, 1]:
            _uniform_row(haps, r, length, key, thr[t, 0], out, w, w32)
        else:
            _bernoulli_row(haps, r, length, key, thr[t, 0], thr[t, 1], out, r)


@pjit
def bernoulli_mask_parallel(haps, ploidy, lengths, indices, thr, seed, epoch, out):  # type: ignore[no-untyped-def]
    skey = stream_key(seed, STREAM_MASK, epoch)
    for r in prange(haps.shape[0]):
        _bernoulli_one(r, haps, ploidy, lengths, indices, thr, skey, out)


@jit
def _bernoulli_union_one(p, haps, ploidy, lengths, indices, thr, skey, out):  # type: ignore[no-untyped-def]
    i = np.int64(p)  # a prange index may be unsigned: keep ``_row``'s branches one type
    key0 = sample_key(skey, _sample_of(i, indices), 0)
    t = _row(thr, i)
    length = lengths[_row(lengths, i)]
    r = i * ploidy
    _bernoulli_row(haps, r, length, key0, thr[t, 0], thr[t, 1], out, i)
    for hap in range(1, ploidy):
        key = sample_key(skey, _sample_of(i, indices), hap)
        _bernoulli_row_or(haps, r + hap, length, key, thr[t, 0], thr[t, 1], out, i)


@jit
def bernoulli_union_mask(haps, ploidy, lengths, indices, thr, seed, epoch, out):  # type: ignore[no-untyped-def]
    """``bernoulli_mask`` OR-ed over each sample's ``ploidy`` rows into ``out`` (samples, sites)."""
    skey = stream_key(seed, STREAM_MASK, epoch)
    n_len = lengths.shape[0]
    n_idx = indices.shape[0]
    n_thr = thr.shape[0]
    for i in range(out.shape[0]):
        sample = i if n_idx == 0 else indices[i]
        t = 0 if n_thr == 1 else i
        length = lengths[0 if n_len == 1 else i]
        t_ref = thr[t, 0]
        t_alt = thr[t, 1]
        r = i * ploidy
        key0 = sample_key(skey, sample, 0)
        if ploidy == 2:
            key1 = sample_key(skey, sample, 1)
            _bernoulli_pair_or(haps, r, length, key0, key1, t_ref, t_alt, out, i)
            continue
        _bernoulli_row(haps, r, length, key0, t_ref, t_alt, out, i)
        for hap in range(1, ploidy):
            key = sample_key(skey, sample, hap)
            _bernoulli_row_or(haps, r + hap, length, key, t_ref, t_alt, out, i)


@pjit
def bernoulli_union_mask_parallel(haps, ploidy, lengths, indices, thr, seed, epoch, out):  # type: ignore[no-untyped-def]
    skey = stream_key(seed, STREAM_MASK, epoch)
    for i in prange(out.shape[0]):
        _bernoulli_union_one(i, haps, ploidy, lengths, indices, thr, skey, out)


# --------------------------------------------------------------------------- exact counts


@jit
def _stochastic_round(x, key, counter):  # type: ignore[no-untyped-def]
    k = int(np.floor(x))
    if uniform01(key, counter) < x - k:
        k += 1
    return k


@jit
def _pass_threshold(p, length):  # type: ignore[no-untyped-def]
    """Threshold of the Bernoulli pass of an exact mask at rate ``p`` over ``length`` sites.

    Any pass rate gives the same (uniform, exact) result; only the fix-up cost changes. Adding
    a position costs about ``1 / (1 - p)`` probes, removing one ``1 / p``, so the pass runs
    ``z`` standard deviations toward the cheap side, ``z = min(2, 3 |0.5 - p|)`` (near the
    optimum ``z = Phi^-1(1 - p)`` for mid rates; 0.2 -> 0.1 us a row at p = 0.02 and 1,024
    sites). A tuning choice, mirrored in ``tests/reference.py``.
    """
    if length == 0:
        return _threshold(p)
    z = min(2.0, 3.0 * abs(0.5 - p))
    s = z * np.sqrt(p * (1.0 - p) / length)
    q = max(0.0, p - s) if p <= 0.5 else min(1.0, p + s)
    return _threshold(q)


@jit
def _bernoulli_row_counted2(h, r, length, key, t, o, w, w32):  # type: ignore[no-untyped-def]
    """``_uniform_row`` that returns (eligible, chosen).

    The sums run in their own loop after the decisions, in 32-bit (rows hold < 2**31 sites):
    inside the decision loop they slowed it more than a second pass over the row costs.
    """
    _uniform_row(h, r, length, key, t, o, w, w32)
    n_elig = np.int32(0)
    m_all = np.int32(0)
    for j in range(length):
        n_elig += np.int32(h[r, j] >= 0)
        m_all += np.int32(o[r, j])
    return np.int64(n_elig), np.int64(m_all)


_NO_BINS = np.zeros(0, dtype=np.int64)


@ijit
def _probe(h, r, o, sp, g, want, j):  # type: ignore[no-untyped-def]
    # Flip position j when it is a candidate; returns 1 on a flip. Branch-free: a hit is
    # unpredictable, and a mispredicted branch costs more than the store.
    a = h[r, j]
    hit = (o[r, j] == want) & (a >= 0) & (sp * np.int64(a > 0) == g)
    o[r, j] = o[r, j] ^ hit
    return np.int64(hit)


@ijit
def _fix(h, r, length, o, bins, mul, sp, g, kid, d, c, key, scratch):  # type: ignore[no-untyped-def]
    """Flip ``|d|`` of the ``c`` candidates of group ``g`` in row ``r``, uniformly, no replacement.

    A position's group is ``bins[j] * mul + sp * (allele > 0)`` (``bins`` empty: all 0), so
    ``mul = 1, sp = 0, g = 0`` is "any eligible allele" and ``mul = 2, sp = 1`` splits ref (g = 0)
    and alt (g = 1). Candidates are the chosen positions when removing (d < 0), the unchosen
    eligible ones when adding (d > 0). Each flip is a uniform draw among the remaining
    candidates, so the flipped set is a uniform subset. ``kid`` keys the draws.
    """
    want = d < 0
    need = abs(d)
    gkey = mix64(key ^ (np.uint64(kid) + ONE) * GOLDEN)
    if 3 * need <= c:
        # Few flips among many candidates: probe random positions (about length / c probes
        # each), two per hash: probe t uses the 32-bit word t of the key (as ``u32_at``).
        span = np.uint64(length)
        done = 0
        if bins.shape[0] == 0:  # the core's groups: branch-free probes, two per hash
            q = 0
            while need - done >= 2:  # both probes of a hash are needed: no check between
                z = bits(gkey, q)
                q += 1
                done += _probe(h, r, o, sp, g, want, int(((z & LOW32) * span) >> _S32))
                done += _probe(h, r, o, sp, g, want, int(((z >> _S32) * span) >> _S32))
            while done < need:
                z = bits(gkey, q)
                q += 1
                done += _probe(h, r, o, sp, g, want, int(((z & LOW32) * span) >> _S32))
                if done == need:
                    return
                done += _probe(h, r, o, sp, g, want, int(((z >> _S32) * span) >> _S32))
            return
        # bins: a group is a few percent of the row and most probes miss, so a branch is cheaper
        t = 0
        while done < need:
            j = int((u32_at(gkey, t) * span) >> _S32)
            t += 1
            a = h[r, j]
            if o[r, j] == want and a >= 0 and bins[j] * mul + sp * (a > 0) == g:
                o[r, j] = not want
                done += 1
        return
    n = 0
    for j in range(length):
        a = h[r, j]
        b = 0 if bins.shape[0] == 0 else bins[j]
        if o[r, j] == want and a >= 0 and b * mul + sp * (a > 0) == g:
            scratch[n] = j
            n += 1
    for i in range(need):
        pick = i + below(bits(gkey, i), n - i)
        tmp = scratch[pick]
        scratch[pick] = scratch[i]
        scratch[i] = tmp
        o[r, tmp] = not want


@jit
def _exact_row(  # type: ignore[no-untyped-def]
    h, r, length, key_mask, key_round, key_fix, p_ref, p_alt, split, o, scratch, w, w32
):
    # One Bernoulli pass that also counts; then flip the difference to the stochastically
    # rounded target at uniformly chosen positions. Conditioned on its size a Bernoulli set is
    # a uniform subset, so the result is a uniform k-subset.
    if split:
        n_ref, n_alt, m_ref, m_alt = _bernoulli_row_counted(
            h, r, length, key_mask, _pass_threshold(p_ref, length),
            _pass_threshold(p_alt, length), o,
        )  # fmt: skip
        k_ref = _stochastic_round(p_ref * n_ref, key_round, 0)
        k_alt = _stochastic_round(p_alt * n_alt, key_round, 1)
        if m_ref != k_ref:
            c = m_ref if m_ref > k_ref else n_ref - m_ref
            _fix(h, r, length, o, _NO_BINS, 2, 1, 0, 0, k_ref - m_ref, c, key_fix, scratch)
        if m_alt != k_alt:
            c = m_alt if m_alt > k_alt else n_alt - m_alt
            _fix(h, r, length, o, _NO_BINS, 2, 1, 1, 1, k_alt - m_alt, c, key_fix, scratch)
    else:
        t = _pass_threshold(p_ref, length)
        n, m = _bernoulli_row_counted2(h, r, length, key_mask, t, o, w, w32)
        k = _stochastic_round(p_ref * n, key_round, 2)
        if m != k:
            c = m if m > k else n - m
            _fix(h, r, length, o, _NO_BINS, 1, 0, 0, 2, k - m, c, key_fix, scratch)


@jit
def _stream_keys(seed, s0, s1, s2, epoch):  # type: ignore[no-untyped-def]
    return (stream_key(seed, s0, epoch), stream_key(seed, s1, epoch), stream_key(seed, s2, epoch))


@jit
def _exact_one(r, haps, ploidy, lengths, indices, rates, split, skeys, out, scratch):  # type: ignore[no-untyped-def]
    w, w32 = _scratch(haps.shape[1])
    s = r // ploidy
    sample = _sample_of(s, indices)
    hap = r % ploidy
    t = _row(rates, s)
    _exact_row(
        haps, r, lengths[_row(lengths, s)], sample_key(skeys[0], sample, hap),
        sample_key(skeys[1], sample, hap), sample_key(skeys[2], sample, hap),
        rates[t, 0], rates[t, 1], split, out, scratch, w, w32,
    )  # fmt: skip


@jit
def exact_mask(haps, ploidy, lengths, indices, rates, split, seed, epoch, out):  # type: ignore[no-untyped-def]
    k_mask, k_round, k_fix = _stream_keys(
        seed, STREAM_MASK, STREAM_EXACT_ROUND, STREAM_EXACT_FIX, epoch
    )
    scratch = np.empty(haps.shape[1], dtype=np.int64)
    w, w32 = _scratch(haps.shape[1])
    n_len = lengths.shape[0]
    n_idx = indices.shape[0]
    n_rates = rates.shape[0]
    for r in range(haps.shape[0]):  # tables indexed here: see ``bernoulli_mask``
        s = r // ploidy
        sample = s if n_idx == 0 else indices[s]
        hap = r % ploidy
        t = 0 if n_rates == 1 else s
        _exact_row(
            haps, r, lengths[0 if n_len == 1 else s], sample_key(k_mask, sample, hap),
            sample_key(k_round, sample, hap), sample_key(k_fix, sample, hap),
            rates[t, 0], rates[t, 1], split, out, scratch, w, w32,
        )  # fmt: skip


@pjit
def exact_mask_parallel(haps, ploidy, lengths, indices, rates, split, seed, epoch, out):  # type: ignore[no-untyped-def]
    skeys = _stream_keys(seed, STREAM_MASK, STREAM_EXACT_ROUND, STREAM_EXACT_FIX, epoch)
    for r in prange(haps.shape[0]):
        scratch = np.empty(haps.shape[1], dtype=np.int64)
        _exact_one(r, haps, ploidy, lengths, indices, rates, split, skeys, out, scratch)


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
    t_mask, t_keep_from, n_alleles, ids, labels, attention, mask_out, pos,
):  # fmt: skip
    """Pad and tokenize; returns (masked positions beyond length, masked missing positions).

    Position choice under replacement: ``u < t_mask`` -> MASK; ``u >= t_keep_from`` -> keep the
    true token; otherwise a uniformly random allele token (HF's 80/10/10 with t's from the wrapper).

    Each row takes three passes: a branch-free pass over the real sites (tokens, labels,
    attention, mask: arithmetic selects the compiler vectorises), a branch-free compaction of
    the masked positions into ``pos`` (scratch of ``sites`` int32), and the replacement draws
    for those positions only. A branch per site costs more than the whole first pass where
    the mask rate is near 1/2 (mispredictions), and hashing every site costs more than hashing
    the masked ones.
    """
    rows, sites = haps.shape
    width = ids.shape[1]
    n_pad = 0
    n_missing = 0
    replace = t_mask < np.uint64(4294967296)
    for r in range(rows):
        s = r // ploidy
        length = lengths[_row(lengths, s)]
        mr = r // mask_div
        bad = 0
        for j in range(length):
            a = haps[r, j]
            miss = a < 0
            mk = mask[mr, j]
            bad += mk & miss
            keep = mk & (not miss)
            tok = _MISSING if miss else _OFFSET + a
            labels[r, j] = a if keep else _IGNORE
            ids[r, j] = _MASK if keep else tok
            attention[r, j] = 1
            mask_out[r, j] = keep
        n_missing += bad
        for j in range(length, width):
            ids[r, j] = _PAD
            labels[r, j] = _IGNORE
            attention[r, j] = 0
            mask_out[r, j] = False
        # every padded input position, also those beyond a width shorter than ``sites``
        pad = 0
        for j in range(length, sites):
            pad += np.int64(mask[mr, j])
        n_pad += pad
        if replace:
            cnt = 0
            for j in range(length):
                pos[cnt] = j
                cnt += np.int64(mask_out[r, j])
            sample = _sample_of(s, indices)
            key_rep = row_key(seed, STREAM_REPLACE, epoch, sample, r % ploidy)
            key_all = row_key(seed, STREAM_REPLACE_ALLELE, epoch, sample, r % ploidy)
            for q in range(cnt):
                j = np.int64(pos[q])
                u = u32_at(key_rep, j)
                rnd = _OFFSET + below(bits(key_all, j), n_alleles)
                tok = _OFFSET + np.int64(haps[r, j])
                pick = tok if u >= t_keep_from else rnd
                ids[r, j] = _MASK if u < t_mask else pick
    return n_pad, n_missing


@jit
def max_allele(haps, ploidy, lengths):  # type: ignore[no-untyped-def]
    """Return the largest allele among the real sites (-1 when there are none)."""
    top = -1
    for r in range(haps.shape[0]):
        t = -1
        for j in range(lengths[_row(lengths, r // ploidy)]):
            t = max(t, np.int64(haps[r, j]))
        top = max(top, t)
    return top


# --------------------------------------------------------------------------- store reads


@jit
def gather_sites(slab, cols, out):  # type: ignore[no-untyped-def]
    """``out[i, h, j] = slab[j, cols[i], h]``: a ``(sites, samples, ploidy)`` slab to rows.

    In blocks of 64 sites, so the rows of the slab a block touches stay in cache while each
    output row takes its 64 sites (numpy's fancy index + transpose copy is 3-4x slower).
    """
    n, p, length = out.shape
    for j0 in range(0, length, 64):
        j1 = min(length, j0 + 64)
        for i in range(n):
            c = cols[i]
            for h in range(p):
                for j in range(j0, j1):
                    out[i, h, j] = slab[j, c, h]


# --------------------------------------------------------------------------- stats


@jit
def class_counts(haps, ploidy, lengths, mask, mask_div, counts):  # type: ignore[no-untyped-def]
    """Accumulate [eligible ref, masked ref, eligible alt, masked alt] into ``counts``."""
    for r in range(haps.shape[0]):
        mr = r // mask_div
        for j in range(lengths[_row(lengths, r // ploidy)]):
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
        for j in range(lengths[_row(lengths, i)]):
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


# --------------------------------------------------------------------------- per-sample rates


@jit
def _std_normal(key, counter):  # type: ignore[no-untyped-def]
    """Box–Muller normal from the uniforms at ``counter`` and ``counter + 1``."""
    u1 = 1.0 - uniform01(key, counter)  # (0, 1]: log is finite
    u2 = uniform01(key, counter + 1)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


@jit
def _log_gamma_variate(a, key):  # type: ignore[no-untyped-def]
    """Log of a Gamma(a, 1) draw: Marsaglia–Tsang; shape < 1 via Gamma(a + 1) * U ** (1 / a)."""
    boost = 0.0
    if a < 1.0:
        boost = np.log(1.0 - uniform01(key, 0)) / a
        a = a + 1.0
    d = a - 1.0 / 3.0
    c = 1.0 / np.sqrt(9.0 * d)
    counter = 1
    while True:
        x = _std_normal(key, counter)
        u = uniform01(key, counter + 2)
        counter += 3
        t = 1.0 + c * x
        if t <= 0.0:
            continue
        w = t * t * t
        if np.log(u) < 0.5 * x * x + d - d * w + d * np.log(w):
            return np.log(d * w) + boost


@jit
def sample_rates(seed, epoch, indices, slot, kind, p0, p1, out):  # type: ignore[no-untyped-def]
    """Per-sample variates in [0, 1]: kind 0 uniform [0, 1); kind 1 Beta(p0, p1).

    Sample ``indices[i]`` uses keys ``(seed, STREAM_SAMPLE_RATE, epoch, index, 2 * slot + g)``.
    """
    for i in range(indices.shape[0]):
        key = row_key(seed, STREAM_SAMPLE_RATE, epoch, indices[i], 2 * slot)
        if kind == 0:
            out[i] = uniform01(key, 0)
        else:
            key2 = row_key(seed, STREAM_SAMPLE_RATE, epoch, indices[i], 2 * slot + 1)
            lx = _log_gamma_variate(p0, key)
            ly = _log_gamma_variate(p1, key2)
            out[i] = 1.0 / (1.0 + np.exp(ly - lx))


# --------------------------------------------------------------------------- grouped rates
#
# A generalisation of the class rates: every site carries a small integer *bin* (a MAF bin, or
# "on the genotyping array"), and a position's group is ``2 * bin + (allele > 0)`` when rates are
# split by class (``split``) or ``bin`` otherwise. ``thr`` / ``rates`` hold one entry per group.
# With a single bin the groups, words, rounding counters and fix-up keys are those of
# ``bernoulli_mask`` / ``exact_mask``, so the masks are identical.


@jit
def _grouped_bernoulli_row(h, length, bins, split, thr, key, o):  # type: ignore[no-untyped-def]
    mul = 2 if split else 1
    sp = 1 if split else 0
    for q in range(length >> 1):
        z = bits(key, q)
        j = 2 * q
        a0 = h[j]
        a1 = h[j + 1]
        g0 = bins[j] * mul + sp * (a0 > 0)
        g1 = bins[j + 1] * mul + sp * (a1 > 0)
        o[j] = ((z & LOW32) < thr[g0]) & (a0 >= 0)
        o[j + 1] = ((z >> _S32) < thr[g1]) & (a1 >= 0)
    if length & 1:
        j = length - 1
        a = h[j]
        g = bins[j] * mul + sp * (a > 0)
        o[j] = ((bits(key, j >> 1) & LOW32) < thr[g]) & (a >= 0)
    for j in range(length, h.shape[0]):
        o[j] = False


@jit
def _grouped_one(r, haps, ploidy, lengths, indices, bins, split, thr, seed, epoch, out):  # type: ignore[no-untyped-def]
    s = r // ploidy
    key = row_key(seed, STREAM_MASK, epoch, _sample_of(s, indices), r % ploidy)
    _grouped_bernoulli_row(
        haps[r], lengths[_row(lengths, s)], bins[_row(bins, s)], split, thr[_row(thr, s)], key,
        out[r],
    )  # fmt: skip


@jit
def grouped_mask(haps, ploidy, lengths, indices, bins, split, thr, seed, epoch, out):  # type: ignore[no-untyped-def]
    # Serial driver: spread the group thresholds over the sites once per distinct table (once
    # per call when bins and rates are shared), then run the class-rate row kernel on them.
    mul = 2 if split else 1
    sp = 1 if split else 0
    sites = haps.shape[1]
    t_ref = np.empty(sites, dtype=np.uint64)
    t_alt = np.empty(sites, dtype=np.uint64)
    shared = bins.shape[0] == 1 and thr.shape[0] == 1
    for r in range(haps.shape[0]):
        s = r // ploidy
        if r == 0 or not shared:
            b = bins[_row(bins, s)]
            t = thr[_row(thr, s)]
            for j in range(sites):
                t_ref[j] = t[b[j] * mul]
                t_alt[j] = t[b[j] * mul + sp]
        key = row_key(seed, STREAM_MASK, epoch, _sample_of(s, indices), r % ploidy)
        _site_threshold_row(haps[r], lengths[_row(lengths, s)], t_ref, t_alt, key, out[r])


@jit
def _site_threshold_row(h, length, t_ref, t_alt, key, o):  # type: ignore[no-untyped-def]
    """``_bernoulli_row`` with per-site thresholds (same words, same decisions).

    The class select is done with a bit mask, not a conditional: with per-site tables the
    conditional stops LLVM from vectorising the loop (0.86 -> 0.16 ns/site).
    """
    for q in range(length >> 1):
        z = bits(key, q)
        j = 2 * q
        a0 = h[j]
        a1 = h[j + 1]
        r0 = t_ref[j]
        r1 = t_ref[j + 1]
        t0 = r0 ^ ((r0 ^ t_alt[j]) & (_ZERO - np.uint64(a0 > 0)))
        t1 = r1 ^ ((r1 ^ t_alt[j + 1]) & (_ZERO - np.uint64(a1 > 0)))
        o[j] = ((z & LOW32) < t0) & (a0 >= 0)
        o[j + 1] = ((z >> _S32) < t1) & (a1 >= 0)
    if length & 1:
        j = length - 1
        a = h[j]
        t = t_alt[j] if a > 0 else t_ref[j]
        o[j] = ((bits(key, j >> 1) & LOW32) < t) & (a >= 0)
    for j in range(length, h.shape[0]):
        o[j] = False


@pjit
def grouped_mask_parallel(haps, ploidy, lengths, indices, bins, split, thr, seed, epoch, out):  # type: ignore[no-untyped-def]
    for r in prange(haps.shape[0]):
        _grouped_one(r, haps, ploidy, lengths, indices, bins, split, thr, seed, epoch, out)


@jit
def _grouped_exact_row(  # type: ignore[no-untyped-def]
    h, r, length, bins, split, rates, key_mask, key_round, key_fix, o, thr, n_cnt, m_cnt, scratch
):
    # Bernoulli pass at the group rates that counts per group, then per group the flip to the
    # stochastically rounded target (see ``_exact_row``).
    mul = 2 if split else 1
    sp = 1 if split else 0
    ng = rates.shape[0]
    for g in range(ng):
        thr[g] = _pass_threshold(rates[g], length)
        n_cnt[g] = 0
        m_cnt[g] = 0
    hr = h[r]
    orow = o[r]
    for j in range(length):
        a = hr[j]
        g = bins[j] * mul + sp * (a > 0)
        sel = (u32_at(key_mask, j) < thr[g]) & (a >= 0)
        orow[j] = sel
        n_cnt[g] += a >= 0
        m_cnt[g] += sel
    for j in range(length, h.shape[1]):
        orow[j] = False
    for g in range(ng):
        kid = g if split else 2 * g + 2
        k = _stochastic_round(rates[g] * n_cnt[g], key_round, kid)
        m = m_cnt[g]
        if m != k:
            c = m if m > k else n_cnt[g] - m
            _fix(h, r, length, o, bins, mul, sp, g, kid, k - m, c, key_fix, scratch)


@jit
def _grouped_exact_one(  # type: ignore[no-untyped-def]
    r, haps, ploidy, lengths, indices, bins, split, rates, seed, epoch, out, thr, n_cnt, m_cnt,
    scratch,
):  # fmt: skip
    s = r // ploidy
    sample = _sample_of(s, indices)
    hap = r % ploidy
    key_mask = row_key(seed, STREAM_MASK, epoch, sample, hap)
    key_round = row_key(seed, STREAM_EXACT_ROUND, epoch, sample, hap)
    key_fix = row_key(seed, STREAM_EXACT_FIX, epoch, sample, hap)
    _grouped_exact_row(
        haps, r, lengths[_row(lengths, s)], bins[_row(bins, s)], split, rates[_row(rates, s)],
        key_mask, key_round, key_fix, out, thr, n_cnt, m_cnt, scratch,
    )  # fmt: skip


@jit
def grouped_exact_mask(haps, ploidy, lengths, indices, bins, split, rates, seed, epoch, out):  # type: ignore[no-untyped-def]
    ng = rates.shape[1]
    thr = np.empty(ng, dtype=np.uint64)
    n_cnt = np.empty(ng, dtype=np.int64)
    m_cnt = np.empty(ng, dtype=np.int64)
    scratch = np.empty(haps.shape[1], dtype=np.int64)
    for r in range(haps.shape[0]):
        _grouped_exact_one(
            r, haps, ploidy, lengths, indices, bins, split, rates, seed, epoch, out, thr, n_cnt,
            m_cnt, scratch,
        )  # fmt: skip


@pjit
def grouped_exact_mask_parallel(  # type: ignore[no-untyped-def]
    haps, ploidy, lengths, indices, bins, split, rates, seed, epoch, out
):
    ng = rates.shape[1]
    for r in prange(haps.shape[0]):
        thr = np.empty(ng, dtype=np.uint64)
        n_cnt = np.empty(ng, dtype=np.int64)
        m_cnt = np.empty(ng, dtype=np.int64)
        scratch = np.empty(haps.shape[1], dtype=np.int64)
        _grouped_exact_one(
            r, haps, ploidy, lengths, indices, bins, split, rates, seed, epoch, out, thr, n_cnt,
            m_cnt, scratch,
        )  # fmt: skip


# --------------------------------------------------------------------------- spans
#
# Per row: target k = stochastic rounding of ``rate * eligible`` (key STREAM_SPAN_ROUND, counter
# 0). Span i draws its length from ``u = uniform01(key, 2 i)`` and its start uniformly among the
# starts where it fits in the real part, ``below(bits(key, 2 i + 1), length - L + 1)``; it masks
# its eligible positions (missing calls stay unmasked, the run goes on). Spans are laid until k
# positions are masked; in exact mode the last span is cut at k.
#
# The length is the inverse of a CDF table at ``u``: the smallest ``l`` with ``cdf[l] > u`` gives
# ``vals[l]`` (kind 1) or ``l + 1`` (kind 0). Kind 0 is geometric with ``log1p(-q) = q_log``
# truncated to ``max_len`` (``c = 1 - (1 - q) ** max_len``): ``cdf[l] = -expm1((l + 1) q_log) / c``
# for the first lengths (see ``maskkit.masks._geometric_table``), and ``vals`` is a guide table,
# ``vals[g]`` = the smallest ``l`` with ``cdf[l] > g / G``, so the search starts at
# ``vals[int(u G)]`` and takes about one step (a ``log1p`` costs ~10 ns a span). A ``u`` past
# the table (probability below 2**-20) falls back to the inversion formula
# ``1 + floor(log1p(-u c) / q_log)``, at least one past the table.


@jit
def _span_length(key, i, kind, q_log, c, max_len, vals, cdf):  # type: ignore[no-untyped-def]
    u = uniform01(key, 2 * i)
    if kind == 0:
        size = cdf.shape[0]
        lo = vals[int(u * vals.shape[0])]
        while lo < size and cdf[lo] <= u:
            lo += 1
        if lo < size:
            return lo + 1
        x = np.floor(np.log1p(-u * c) / q_log)  # length - 1, from the inverse of the CDF
        if not x < max_len:  # also catches inf and nan (rounding at the truncation point)
            return max_len
        return max(1 + int(x), size + 1)
    lo = 0
    hi = cdf.shape[0] - 1
    while lo < hi:
        mid = (lo + hi) >> 1
        if cdf[mid] > u:
            hi = mid
        else:
            lo = mid + 1
    return vals[lo]


@jit
def _span_row(  # type: ignore[no-untyped-def]
    h, r, length, rate, key_span, key_round, key_fix, kind, q_log, c, max_len, vals, cdf, exact, o,
    scratch,
):  # fmt: skip
    n = 0
    for j in range(h.shape[1]):
        o[r, j] = False
    for j in range(length):
        n += h[r, j] >= 0
    k = _stochastic_round(rate * n, key_round, 0)
    m = 0
    i = 0
    cap = 64 + 16 * length  # never reached in practice; keeps the loop finite
    while m < k and i < cap:
        span = _span_length(key_span, i, kind, q_log, c, max_len, vals, cdf)
        if span > length:
            span = length
        start = below(bits(key_span, 2 * i + 1), length - span + 1)
        i += 1
        if not exact or m + span <= k:
            # the span cannot pass k: no cut, so no branch per position
            for j in range(start, start + span):
                e = (h[r, j] >= 0) & (not o[r, j])
                o[r, j] = o[r, j] | e
                m += e
            continue
        for j in range(start, start + span):
            if h[r, j] >= 0 and not o[r, j]:
                o[r, j] = True
                m += 1
                if m == k:
                    break
    if m < k:
        _fix(h, r, length, o, _NO_BINS, 1, 0, 0, 2, k - m, n - m, key_fix, scratch)


@jit
def _span_one(  # type: ignore[no-untyped-def]
    r, haps, ploidy, lengths, indices, rates, kind, q_log, c, max_len, vals, cdf, exact, skeys,
    out, scratch,
):  # fmt: skip
    s = r // ploidy
    sample = _sample_of(s, indices)
    hap = r % ploidy
    _span_row(
        haps, r, lengths[_row(lengths, s)], rates[_row(rates, s)],
        sample_key(skeys[0], sample, hap), sample_key(skeys[1], sample, hap),
        sample_key(skeys[2], sample, hap), kind, q_log, c, max_len, vals, cdf, exact, out,
        scratch,
    )  # fmt: skip


@jit
def span_mask(  # type: ignore[no-untyped-def]
    haps, ploidy, lengths, indices, rates, kind, q_log, c, max_len, vals, cdf, exact, seed, epoch,
    out,
):  # fmt: skip
    k_span, k_round, k_fix = _stream_keys(
        seed, STREAM_SPAN, STREAM_SPAN_ROUND, STREAM_EXACT_FIX, epoch
    )
    scratch = np.empty(haps.shape[1], dtype=np.int64)
    n_len = lengths.shape[0]
    n_idx = indices.shape[0]
    n_rates = rates.shape[0]
    for r in range(haps.shape[0]):  # tables indexed here: see ``bernoulli_mask``
        s = r // ploidy
        sample = s if n_idx == 0 else indices[s]
        hap = r % ploidy
        _span_row(
            haps, r, lengths[0 if n_len == 1 else s], rates[0 if n_rates == 1 else s],
            sample_key(k_span, sample, hap), sample_key(k_round, sample, hap),
            sample_key(k_fix, sample, hap), kind, q_log, c, max_len, vals, cdf, exact, out,
            scratch,
        )  # fmt: skip


@pjit
def span_mask_parallel(  # type: ignore[no-untyped-def]
    haps, ploidy, lengths, indices, rates, kind, q_log, c, max_len, vals, cdf, exact, seed, epoch,
    out,
):  # fmt: skip
    skeys = _stream_keys(seed, STREAM_SPAN, STREAM_SPAN_ROUND, STREAM_EXACT_FIX, epoch)
    for r in prange(haps.shape[0]):
        scratch = np.empty(haps.shape[1], dtype=np.int64)
        _span_one(
            r, haps, ploidy, lengths, indices, rates, kind, q_log, c, max_len, vals, cdf, exact,
            skeys, out, scratch,
        )  # fmt: skip
