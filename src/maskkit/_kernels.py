"""Numba kernels. Plain loops over integers; all checks live in the public wrappers.

Layout conventions for every kernel:

* ``haps`` is 2-D ``(rows, sites)``; row ``r`` is haplotype ``r % ploidy`` of batch sample
  ``r // ploidy`` (a 2-D user array is passed with ``ploidy == 1``).
* ``lengths``, ``indices`` and per-sample rate tables are indexed by the batch sample.
* ``rates`` hold one row of rates per sample, or a single row shared by every sample.
"""

from __future__ import annotations

import types

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
    hash_words,
    mix64,
    row_key,
    u32_at,
    uniform01,
)

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


# --------------------------------------------------------------------------- masks by group
#
# Every Bernoulli and exact rule is one kernel, ``group_mask``: each position belongs to a group
# and each group has a rate. The group of position ``j`` holding allele ``a`` is ``bins[j]``, or
# ``2 * bins[j] + (a > 0)`` when the rates are split by class (``split``); a rule without bins
# passes a ``(1, 0)`` bins table and every position is in bin 0 (random: one group; class rates:
# ref = group 0, alt = group 1). ``rates`` holds one row of group rates per sample, or one row
# for every sample. Eligible positions are ``j < length`` with ``a >= 0``.
#
# Bernoulli: a position is chosen when its 16-bit word (``_rng.u16_at``) is below its group's
# threshold ``round(rate * 2**16)`` (``FULL16`` = rate 1 chooses every word). Exact: a Bernoulli
# pass, then per group the difference to the stochastically rounded target ``rate * eligible``
# (counter ``g`` of the STREAM_EXACT_ROUND key) is flipped at uniformly drawn candidates
# (``_fix``, draws keyed by ``g``). Conditioned on its size a Bernoulli set is a uniform subset,
# so the result is a uniform subset of the target size whatever the pass rate.
#
# Output row ``i`` is the union (OR) of haplotype rows ``i * per ... i * per + per - 1``
# (``per = 1``: one output row per haplotype row).
#
# One loop decides every Bernoulli pass (``_decide``); its mode says where a position's
# threshold comes from (one rate, class rates, per-site rates with or without classes). Exact
# rows count their groups (in that pass for one group, else ``_count``) and fix each with
# ``_fix``. Spans (below) have their own loop and share the fix-up.

FULL16 = 65536  # threshold of rate 1: every 16-bit word is below it
_SPAN_FIX_ID = 2  # key id of a span row's fix-up draws


@ijit
def _threshold16(p):  # type: ignore[no-untyped-def]
    return np.int64(p * 65536.0 + 0.5)


@ijit
def _word_threshold(t):  # type: ignore[no-untyped-def]
    """Threshold ``t`` as a 16-bit word bound and a rate-1 flag (``FULL16``: every word)."""
    return np.uint16(min(t, 65535)), t >= FULL16


@ijit
def _pass_threshold(p, length):  # type: ignore[no-untyped-def]
    """Threshold of the Bernoulli pass of an exact mask at rate ``p`` over ``length`` sites.

    Any pass rate gives the same (uniform, exact) distribution; only the fix-up cost changes.
    Adding a position costs about ``1 / (1 - p)`` probes, removing one ``1 / p``, so the pass
    runs ``z = min(2, 3 |0.5 - p|)`` standard deviations toward the cheap side (near the
    optimum ``z = Phi^-1(1 - p)`` for mid rates).
    """
    if length == 0:
        return _threshold16(p)
    z = min(2.0, 3.0 * abs(0.5 - p))
    s = z * np.sqrt(p * (1.0 - p) / length)
    q = max(0.0, p - s) if p <= 0.5 else min(1.0, p + s)
    return _threshold16(q)


@ijit
def _clear_padding(o, i, length):  # type: ignore[no-untyped-def]
    # a written row's padding is False (an OR-ed row keeps what the first row wrote there)
    for j in range(length, o.shape[1]):
        o[i, j] = False


# Where a position's threshold comes from. Each call of ``_decide`` passes one of these as a
# constant, so each call site compiles to its own loop with the other modes folded away.
_ONE = 0  # one threshold for the row: (b0, f0)
_CLASSES = 1  # one per class: ref (b0, f0), alt (b1, f1)
_SITES = 2  # one per site, packed by ``_spread`` into ``lo`` (uint16 pairs)
_SITE_CLASSES = 3  # one per site and class: ``t_ref[j]``, ``t_alt[j]`` (uint32)
_NO_LO = np.zeros(0, dtype=np.uint16)  # the per-site tables of the modes that have none
_NO_T = np.zeros(0, dtype=np.uint32)


@ijit
def _chosen(mode, x, a, j, b0, f0, b1, f1, lo, t_ref, t_alt):  # type: ignore[no-untyped-def]
    """Whether position ``j`` (16-bit word ``x``, allele ``a``) is chosen; branch-free selects.

    Not split by class, a site's threshold is one compare on 16-bit lanes (``_SITES``: twice the
    sites per vector of 32-bit compares).
    """
    if mode == _ONE:
        return ((x < b0) | f0) & (a >= 0)
    if mode == _CLASSES:
        return (((x < b0) | f0) & (a == 0)) | (((x < b1) | f1) & (a > 0))
    if mode == _SITES:
        return ((x < lo[2 * j]) | (lo[2 * j + 1] != 0)) & (a >= 0)
    x32 = np.uint32(x)
    return ((x32 < t_ref[j]) & (a == 0)) | ((x32 < t_alt[j]) & (a > 0))


@ijit
def _decide(mode, h, r, length, w16, b0, f0, b1, f1, lo, t_ref, t_alt, o, i, combine, count, acc):  # type: ignore[no-untyped-def]
    """Decide row ``r`` of ``h`` into row ``i`` of ``o`` (OR-ed in when ``combine``).

    The one Bernoulli decision loop: ``mode`` says where each position's threshold comes from.

    ``mode`` and ``count`` are constants at every call, so each call compiles to
    its own loop. With ``count`` it returns the row's eligible and chosen positions (for a
    fresh row), kept in the narrow type ``acc`` (the caller picks one that cannot overflow):
    numba widens ``int + int`` to 64 bits, which leaves the compiler four sums per vector
    instead of sixteen (int16); the explicit cast back keeps the lanes narrow. Rows are indexed
    in the 2-D arrays (``h[r, j]``), not taken as views (``h[r]``): a view costs numba two
    reference-count updates per row.
    """
    n_elig = acc(0)
    m_all = acc(0)
    if combine:
        for j in range(length):
            a = h[r, j]
            sel = _chosen(mode, w16[j], a, j, b0, f0, b1, f1, lo, t_ref, t_alt)
            o[i, j] = o[i, j] | sel
            if count:
                n_elig = acc(n_elig + acc(a >= 0))
                m_all = acc(m_all + acc(sel))
        return np.int64(n_elig), np.int64(m_all)
    # a fresh row never reads ``o``: on rows of 10**5 sites that read cost exact masks ~10 %
    for j in range(length):
        a = h[r, j]
        sel = _chosen(mode, w16[j], a, j, b0, f0, b1, f1, lo, t_ref, t_alt)
        o[i, j] = sel
        if count:
            n_elig = acc(n_elig + acc(a >= 0))
            m_all = acc(m_all + acc(sel))
    _clear_padding(o, i, length)
    return np.int64(n_elig), np.int64(m_all)


@ijit
def _spread(bins, tb, split, rates, tr, t_ref, t_alt):  # type: ignore[no-untyped-def]
    """Per-site thresholds of bins row ``tb`` under row ``tr`` of the group rates.

    ``split``: ``t_ref[j]`` and ``t_alt[j]``. Otherwise site ``j`` has one threshold ``t``,
    packed into ``t_alt`` viewed as uint16 pairs: ``min(t, 65535)`` at ``2 j`` and at
    ``2 j + 1`` 65535 when ``t`` is ``FULL16`` (rate 1: every word), else 0.
    """
    mul = 2 if split else 1
    sp = 1 if split else 0
    if not split:
        lo = t_alt.view(np.uint16)
        for j in range(bins.shape[1]):
            t = _threshold16(rates[tr, bins[tb, j]])
            lo[2 * j] = np.uint16(min(t, 65535))
            lo[2 * j + 1] = np.uint16(65535 if t >= FULL16 else 0)
        return
    for j in range(bins.shape[1]):
        g = bins[tb, j] * mul
        t_ref[j] = _threshold16(rates[tr, g])
        t_alt[j] = _threshold16(rates[tr, g + sp])


_MAX_I16 = 32767


@ijit
def _sums(h, r, length, o, i, split, acc):  # type: ignore[no-untyped-def]
    """Eligible and chosen positions of row ``r`` (and the alt ones when ``split``).

    Each sum is kept in the narrow type ``acc`` (the caller picks one that cannot overflow):
    numba widens ``int + int`` to 64 bits, which leaves the compiler four sums per vector
    instead of sixteen (int16); the explicit cast back keeps the lanes narrow.
    """
    n_elig = acc(0)
    m_all = acc(0)
    for j in range(length):
        n_elig = acc(n_elig + acc(h[r, j] >= 0))
        m_all = acc(m_all + acc(o[i, j]))
    n_alt = acc(0)
    m_alt = acc(0)
    if split:
        for j in range(length):
            alt = h[r, j] > 0
            n_alt = acc(n_alt + acc(alt))
            m_alt = acc(m_alt + acc(alt & o[i, j]))
    return np.int64(n_elig), np.int64(m_all), np.int64(n_alt), np.int64(m_alt)


@ijit
def _count(h, r, length, o, i, bins, tb, split, n_cnt, m_cnt, code):  # type: ignore[no-untyped-def]
    """Eligible (``n_cnt``) and chosen (``m_cnt``) positions per group of row ``r``.

    With bins it also writes each position's group into ``code`` (-1: not eligible), which
    ``_fix_coded`` reads: a probe then touches ``o`` and ``code`` instead of the
    allele, the bins row and ``o``.
    """
    n_cnt[:] = 0
    m_cnt[:] = 0
    if bins.shape[1] == 0:
        if length <= _MAX_I16:
            n_elig, m_all, n_alt, m_alt = _sums(h, r, length, o, i, split, np.int16)
        else:  # rows hold < 2**31 sites
            n_elig, m_all, n_alt, m_alt = _sums(h, r, length, o, i, split, np.int32)
        n_cnt[0] = n_elig - n_alt
        m_cnt[0] = m_all - m_alt
        if split:
            n_cnt[1] = n_alt
            m_cnt[1] = m_alt
        return
    mul = 2 if split else 1
    sp = 1 if split else 0
    # Two loops: the first vectorises, the second is a bare scatter. One loop doing both was
    # ~25 % slower on exact AF-aware masks (bench_masks.py --maskkit-only, 64 x 100,000).
    for j in range(length):
        a = h[r, j]
        code[j] = np.int32(bins[tb, j] * mul + sp * (a > 0)) | -np.int32(a < 0)
    for j in range(length):
        c = code[j]  # -1 (not eligible) lands on the last group with 0 and False: no effect
        n_cnt[c] += c >= 0
        m_cnt[c] += o[i, j]


@jit
def _stochastic_round(x, key, counter):  # type: ignore[no-untyped-def]
    k = int(np.floor(x))
    if uniform01(key, counter) < x - k:
        k += 1
    return k


NO_BINS = np.zeros((1, 0), dtype=np.int32)  # the bins table of rules without bins


@ijit
def _probe(h, r, o, i, sp, g, want, j):  # type: ignore[no-untyped-def]
    # Flip position j when it is a candidate; returns 1 on a flip. Branch-free: a hit is
    # unpredictable, and a mispredicted branch costs more than the store.
    a = h[r, j]
    hit = (o[i, j] == want) & (a >= 0) & (sp * np.int64(a > 0) == g)
    o[i, j] = o[i, j] ^ hit
    return np.int64(hit)


@ijit
def _flip_key(key, kid):  # type: ignore[no-untyped-def]
    return mix64(key ^ (np.uint64(kid) + ONE) * GOLDEN)


@ijit
def _flip_listed(o, i, scratch, n, need, gkey, want):  # type: ignore[no-untyped-def]
    """Flip ``need`` of the ``n`` candidates listed in ``scratch``, a uniform draw each."""
    for k in range(need):
        pick = k + below(bits(gkey, k), n - k)
        tmp = scratch[pick]
        scratch[pick] = scratch[k]
        scratch[k] = tmp
        o[i, tmp] = not want


@ijit
def _fix(h, r, length, o, i, split, g, kid, d, c, key, scratch):  # type: ignore[no-untyped-def]
    """Flip ``|d|`` of the ``c`` candidates of group ``g`` of row ``r`` in row ``i`` of ``o``.

    Groups as in ``group_mask`` for rules without bins (one group, or ref / alt when
    ``split``); ``_fix_coded`` does the same for rules with bins. Candidates are the chosen
    positions when removing (d < 0), the unchosen eligible ones when adding (d > 0). Each flip
    is a uniform draw among the remaining candidates, so the flipped set is a uniform subset.
    ``kid`` keys the draws.
    """
    want = d < 0
    need = abs(d)
    sp = 1 if split else 0
    gkey = _flip_key(key, kid)
    if 3 * need <= c:
        # Few flips among many candidates: probe random positions (about length / c probes
        # each), branch-free, two per hash: probe t uses the 32-bit word t of the key (as
        # ``u32_at``).
        span = np.uint64(length)
        done = 0
        q = 0
        while need - done >= 2:  # both probes of a hash are needed: no check between
            z = bits(gkey, q)
            q += 1
            done += _probe(h, r, o, i, sp, g, want, int(((z & LOW32) * span) >> _S32))
            done += _probe(h, r, o, i, sp, g, want, int(((z >> _S32) * span) >> _S32))
        while done < need:
            z = bits(gkey, q)
            q += 1
            done += _probe(h, r, o, i, sp, g, want, int(((z & LOW32) * span) >> _S32))
            if done == need:
                return
            done += _probe(h, r, o, i, sp, g, want, int(((z >> _S32) * span) >> _S32))
        return
    n = 0
    for j in range(length):
        a = h[r, j]
        if o[i, j] == want and a >= 0 and sp * (a > 0) == g:
            scratch[n] = j
            n += 1
    _flip_listed(o, i, scratch, n, need, gkey, want)


@ijit
def _fix_coded(length, o, i, code, g, kid, d, c, key, scratch):  # type: ignore[no-untyped-def]
    """``_fix`` for rules with bins: the group of position ``j`` is ``code[j]`` (``_count``).

    The same draws as probing the bins, so the same masks.
    """
    want = d < 0
    need = abs(d)
    gkey = _flip_key(key, kid)
    if 3 * need <= c:
        # a group is a few percent of the row and most probes miss, so a branch is cheaper
        span = np.uint64(length)
        done = 0
        t = 0
        while done < need:
            j = int((u32_at(gkey, t) * span) >> _S32)
            t += 1
            if o[i, j] == want and code[j] == g:
                o[i, j] = not want
                done += 1
        return
    n = 0
    for j in range(length):
        if o[i, j] == want and code[j] == g:
            scratch[n] = j
            n += 1
    _flip_listed(o, i, scratch, n, need, gkey, want)


@jit
def _stream_keys(seed, s0, s1, s2, epoch):  # type: ignore[no-untyped-def]
    # ``seed`` may arrive as int64 (a Python int below 2**63): mix it as uint64
    u = np.uint64(seed)
    return (stream_key(u, s0, epoch), stream_key(u, s1, epoch), stream_key(u, s2, epoch))


@ijit
def _who(r, ploidy, indices):  # type: ignore[no-untyped-def]
    """Batch sample, global sample id and haplotype of haplotype row ``r``.

    An empty ``indices`` means batch position == global sample id.
    """
    s = r // ploidy
    return s, (s if indices.shape[0] == 0 else indices[s]), r % ploidy


@ijit
def _at(table, s):  # type: ignore[no-untyped-def]
    """Entry of batch sample ``s`` in a per-sample table (a single entry is every sample's)."""
    return 0 if table.shape[0] == 1 else s


def _twins(fn):  # type: ignore[no-untyped-def]
    """Compile one driver twice: serial (``prange`` is ``range``) and parallel over ``prange``.

    The parallel twin is a copy of the function under its own name, so numba's cache keeps the
    two compilations apart.
    """
    twin = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__ + "_parallel")
    twin.__qualname__ = fn.__qualname__ + "_parallel"
    twin.__doc__ = fn.__doc__
    return jit(fn), pjit(twin)


def _group_mask(  # type: ignore[no-untyped-def]
    haps, ploidy, lengths, indices, bins, split, rates, exact, seed, epoch, per, chunk, out
):  # fmt: skip
    """Masks by group (see the section comment) into ``out`` (``rows // per``, sites).

    ``chunk`` output rows share one set of scratch buffers (serial: all rows; parallel: a few
    rows per task). Every row depends only on its own keys, so results do not depend on it.

    Each row: its words, its thresholds, one ``_decide`` pass; exact rows then count and fix
    their groups (in a scratch row when ``per > 1``, OR-ed into ``out`` after). The steps are
    written here, not in inlined helpers that take the arrays: such a helper with branches
    around its loops kept numba's reference counts of every array it takes, ~40 ns a row
    (+20 % on a 48 x 1,024 Bernoulli mask, ``bench_masks.py --maskkit-only``).
    """
    k_mask, k_round, k_fix = _stream_keys(
        seed, STREAM_MASK, STREAM_EXACT_ROUND, STREAM_EXACT_FIX, epoch
    )
    rows = out.shape[0]
    sites = haps.shape[1]
    n_groups = rates.shape[1]
    by_site = bins.shape[1] > 0
    shared_sites = bins.shape[0] == 1 and rates.shape[0] == 1
    counted = exact and not by_site and not split  # one group: the pass counts it
    for c in prange((rows + chunk - 1) // chunk):
        w = np.empty((sites + 7) >> 2, dtype=np.uint64)
        w16 = w.view(np.uint16)
        t_ref = np.empty(sites if by_site else 0, dtype=np.uint32)
        t_alt = np.empty(sites if by_site else 0, dtype=np.uint32)
        lo = t_alt.view(np.uint16)
        tmp = np.empty((1, sites if exact and per > 1 else 0), dtype=np.bool_)
        o = tmp if exact and per > 1 else out  # where a row's pass goes (row oi)
        fix_buf = np.empty(sites if exact else 0, dtype=np.int64)
        code = np.empty(sites if exact and by_site else 0, dtype=np.int32)
        n_cnt = np.empty(n_groups, dtype=np.int64)
        m_cnt = np.empty(n_groups, dtype=np.int64)
        spread_for = -1  # the sample whose thresholds t_ref / t_alt hold (-2: shared)
        for i in range(c * chunk, min(rows, (c + 1) * chunk)):
            for hap_i in range(per):
                r = i * per + hap_i
                s, sample, hap = _who(r, ploidy, indices)
                length = lengths[_at(lengths, s)]
                tr = _at(rates, s)
                tb = _at(bins, s)
                hash_words(sample_key(k_mask, sample, hap), (length + 3) >> 2, w)
                if by_site and spread_for != (-2 if shared_sites else s):
                    _spread(bins, tb, split, rates, tr, t_ref, t_alt)
                    spread_for = -2 if shared_sites else s
                t0 = t1 = 0
                if not by_site:
                    p0 = rates[tr, 0]
                    p1 = rates[tr, 1] if split else p0
                    t0 = _pass_threshold(p0, length) if exact else _threshold16(p0)
                    t1 = _pass_threshold(p1, length) if exact else _threshold16(p1)
                b0, f0 = _word_threshold(t0)
                oi = 0 if exact and per > 1 else i
                comb = hap_i > 0 and not exact  # exact rows are fresh; OR-ed in below
                if by_site and split:
                    _decide(_SITE_CLASSES, haps, r, length, w16, 0, False, 0, False, _NO_LO,
                            t_ref, t_alt, o, oi, comb, False, np.int16)  # fmt: skip
                elif by_site:
                    _decide(_SITES, haps, r, length, w16, 0, False, 0, False, lo, _NO_T, _NO_T,
                            o, oi, comb, False, np.int16)  # fmt: skip
                elif t0 != t1:
                    b1, f1 = _word_threshold(t1)
                    _decide(_CLASSES, haps, r, length, w16, b0, f0, b1, f1, _NO_LO, _NO_T, _NO_T,
                            o, oi, comb, False, np.int16)  # fmt: skip
                elif not counted:
                    _decide(_ONE, haps, r, length, w16, b0, f0, b0, f0, _NO_LO, _NO_T, _NO_T,
                            o, oi, comb, False, np.int16)  # fmt: skip
                elif length <= _MAX_I16:
                    n_cnt[0], m_cnt[0] = _decide(
                        _ONE, haps, r, length, w16, b0, f0, b0, f0, _NO_LO, _NO_T, _NO_T, o, oi,
                        False, True, np.int16,
                    )  # fmt: skip
                else:  # rows hold < 2**31 sites
                    n_cnt[0], m_cnt[0] = _decide(
                        _ONE, haps, r, length, w16, b0, f0, b0, f0, _NO_LO, _NO_T, _NO_T, o, oi,
                        False, True, np.int32,
                    )  # fmt: skip
                if not exact:
                    continue
                if not counted:
                    _count(haps, r, length, o, oi, bins, tb, split, n_cnt, m_cnt, code)
                key_round = sample_key(k_round, sample, hap)
                key_fix = sample_key(k_fix, sample, hap)
                for g in range(n_groups):
                    k = _stochastic_round(rates[tr, g] * n_cnt[g], key_round, g)
                    m = m_cnt[g]
                    if m != k:
                        cand = m if m > k else n_cnt[g] - m
                        if by_site:
                            _fix_coded(length, o, oi, code, g, g, k - m, cand, key_fix, fix_buf)
                        else:
                            _fix(haps, r, length, o, oi, split, g, g, k - m, cand, key_fix,
                                 fix_buf)  # fmt: skip
                if per > 1:
                    for j in range(sites):
                        out[i, j] = (out[i, j] & (hap_i > 0)) | tmp[0, j]


group_mask, group_mask_parallel = _twins(_group_mask)


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


@ijit
def replacement_keys(seed, epoch, r, ploidy, indices):  # type: ignore[no-untyped-def]
    """Keys of the replacement draws of haplotype row ``r`` (word and random token)."""
    _, sample, hap = _who(r, ploidy, indices)
    return (
        row_key(seed, STREAM_REPLACE, epoch, sample, hap),
        row_key(seed, STREAM_REPLACE_ALLELE, epoch, sample, hap),
    )


@ijit
def replace(key_rep, key_all, j, tok, t_mask, t_keep_from, mask_tok, pool):  # type: ignore[no-untyped-def]
    """Return the token for masked position ``j`` (true token ``tok``): BERT's 80/10/10.

    With ``u = u32_at(key_rep, j)``: ``u < t_mask`` -> ``mask_tok``; ``u >= t_keep_from`` ->
    ``tok``; otherwise ``pool[below(bits(key_all, j), len(pool))]`` (``pool`` not empty; the
    wrapper's thresholds leave it unused when no random tokens are asked for). Branch-free: the
    choice is unpredictable, and a mispredicted branch costs more than the draw.
    """
    u = u32_at(key_rep, j)
    rnd = pool[below(bits(key_all, j), pool.shape[0])]
    pick = tok if u >= t_keep_from else rnd
    return mask_tok if u < t_mask else pick


@jit
def collate(  # type: ignore[no-untyped-def]
    haps, mask, mask_div, ploidy, lengths, indices, seed, epoch,
    t_mask, t_keep_from, n_alleles, ids, labels, attention, mask_out, pos,
):  # fmt: skip
    """Pad and tokenize; returns (masked positions beyond length, masked missing positions).

    Replacement (``replace``): MASK, the true token or a uniformly random allele token.

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
    replacing = t_mask < np.uint64(4294967296)
    pool = np.arange(_OFFSET, _OFFSET + max(n_alleles, 1))  # the random tokens
    for r in range(rows):
        s = r // ploidy
        length = lengths[_at(lengths, s)]
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
        if replacing:
            cnt = 0
            for j in range(length):
                pos[cnt] = j
                cnt += np.int64(mask_out[r, j])
            key_rep, key_all = replacement_keys(seed, epoch, r, ploidy, indices)
            for q in range(cnt):
                j = np.int64(pos[q])
                tok = _OFFSET + np.int64(haps[r, j])
                ids[r, j] = replace(key_rep, key_all, j, tok, t_mask, t_keep_from, _MASK, pool)
    return n_pad, n_missing


@jit
def max_allele(haps, ploidy, lengths):  # type: ignore[no-untyped-def]
    """Return the largest allele among the real sites (-1 when there are none)."""
    top = -1
    for r in range(haps.shape[0]):
        t = -1
        for j in range(lengths[_at(lengths, r // ploidy)]):
            t = max(t, np.int64(haps[r, j]))
        top = max(top, t)
    return top


# --------------------------------------------------------------------------- stats


@jit
def class_counts(haps, ploidy, lengths, mask, mask_div, counts):  # type: ignore[no-untyped-def]
    """Accumulate [eligible ref, masked ref, eligible alt, masked alt] into ``counts``."""
    for r in range(haps.shape[0]):
        mr = r // mask_div
        for j in range(lengths[_at(lengths, r // ploidy)]):
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
        for j in range(lengths[_at(lengths, i)]):
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
        _fix(h, r, length, o, r, False, 0, _SPAN_FIX_ID, k - m, n - m, key_fix, scratch)


def _span_mask(  # type: ignore[no-untyped-def]
    haps, ploidy, lengths, indices, rates, kind, q_log, c, max_len, vals, cdf, exact, seed, epoch,
    chunk, out,
):  # fmt: skip
    """Span masks of every row (see the section comment); ``chunk`` as in ``_group_mask``."""
    k_span, k_round, k_fix = _stream_keys(
        seed, STREAM_SPAN, STREAM_SPAN_ROUND, STREAM_EXACT_FIX, epoch
    )
    rows = haps.shape[0]
    for t in prange((rows + chunk - 1) // chunk):
        scratch = np.empty(haps.shape[1], dtype=np.int64)
        for r in range(t * chunk, min(rows, (t + 1) * chunk)):
            s, sample, hap = _who(r, ploidy, indices)
            _span_row(
                haps, r, lengths[_at(lengths, s)], rates[_at(rates, s)],
                sample_key(k_span, sample, hap), sample_key(k_round, sample, hap),
                sample_key(k_fix, sample, hap), kind, q_log, c, max_len, vals, cdf, exact, out,
                scratch,
            )  # fmt: skip


span_mask, span_mask_parallel = _twins(_span_mask)
