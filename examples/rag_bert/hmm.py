"""Li and Stephens copying model: P(alt) at each site of a query haplotype given the whole panel.

The query is a mosaic of panel haplotypes: a hidden state per site names the haplotype it copies,
switching to a uniformly drawn one with probability ``rho`` between sites (``rho = 1 -
exp(-4 Ne r d / K)`` for ``K`` panel haplotypes, ``d`` base pairs between the sites and ``r =
1e-8`` per base pair, i.e. 1 cM/Mb), and emitting the copied allele with probability ``1 - eps``.
Masked and missing query sites emit nothing. The forward-backward posterior over states at a
site, summed over the states holding the alt allele, is the copying prior P(alt) of that site.

This is the model behind Beagle and IMPUTE. Here it runs over each query's window plus
``flank`` sites on either side (over all ``K`` panel haplotypes, not the ``k`` retrieved ones),
costs ``O((W + 2 flank) K)`` per query and is the prior the trainer's model starts from with
``--hmm-prior`` (``model.RagBert(prior_input=True)``). A training query never copies its own
sample's haplotypes.

Unphased genotypes are phased first (:func:`.phase.phase_hmm`): :func:`pair_path` is the Viterbi
path of the diploid version of the model restricted to a few candidate haplotypes, a pair of
copied candidates per site, either copy switching independently.
"""

from __future__ import annotations

import numba
import numpy as np

RATE_PER_BP = 1e-8  # recombination rate per base pair (1 cM/Mb)
PRIOR_EPS = 1e-4  # posteriors are clipped to [PRIOR_EPS, 1 - PRIOR_EPS] before the log odds
SEGMENT = 128  # sites per piece of a query's range in state selection (select_states)
# the kernels are cached on disk (numba's cache): compiling them took ~17 s CPU per impute run


def flank_range(start: int, stop: int, n_sites: int, flank: int) -> tuple[int, int]:
    """Sites ``start .. stop`` widened by ``flank`` on either side, clipped to ``0 .. n_sites``."""
    return max(0, start - flank), min(n_sites, stop + flank)


def flanked_ranges(
    windows: np.ndarray, key_windows: np.ndarray, n_sites: int, flank: int
) -> np.ndarray:
    """Per window, the site range ``(lo, hi)`` covering its key range and ``flank`` sites on
    either side of it (clipped to the sites): what evaluation reads around a window."""
    hmm_ranges = np.array(
        [flank_range(s, e, n_sites, flank) for s, e in np.asarray(windows)], dtype=np.int64
    ).reshape(-1, 2)
    kw = np.asarray(key_windows)
    return np.stack(
        [np.minimum(kw[:, 0], hmm_ranges[:, 0]), np.maximum(kw[:, 1], hmm_ranges[:, 1])], axis=1
    )


def switch_probabilities(positions: np.ndarray, n_haps: int, ne: float) -> np.ndarray:
    """``rho[j]``: probability of switching copied haplotype between sites ``j - 1`` and ``j``."""
    pos = np.asarray(positions, dtype=np.float64)
    d = np.diff(pos, prepend=pos[:1])
    return -np.expm1(-4.0 * ne * RATE_PER_BP * np.maximum(d, 0.0) / max(n_haps, 1))


@numba.njit(parallel=True, cache=True)
def _posterior(panel, rows, hidden, start, rho, eps, states, out):  # type: ignore[no-untyped-def]
    """Forward-backward of each query row over its states ``states[r]`` (panel haplotype ids;
    -1: a slot that is never copied). The row's alleles are gathered site-major first."""
    n_rows, length = rows.shape
    n_states = states.shape[1]
    for r in numba.prange(n_rows):
        cand = np.empty((length, n_states), dtype=np.int8)  # (site, state) alleles
        use = np.empty(n_states, dtype=np.bool_)
        n_use = 0
        for k in range(n_states):
            h = states[r, k]
            use[k] = h >= 0
            n_use += use[k]
            for j in range(length):
                cand[j, k] = panel[h, start + j] if h >= 0 else -1
        fwd = np.empty((length, n_states))
        jump = 1.0 / max(n_use, 1)
        for j in range(length):
            a = rows[r, j] if not hidden[r, j] else -1
            col = start + j
            tot = 0.0
            for k in range(n_states):
                if not use[k]:
                    fwd[j, k] = 0.0
                    continue
                p = jump if j == 0 else (1.0 - rho[col]) * fwd[j - 1, k] + rho[col] * jump
                b = cand[j, k]
                if a >= 0 and b >= 0:
                    p *= (1.0 - eps) if a == b else eps
                fwd[j, k] = p
                tot += p
            for k in range(n_states):
                fwd[j, k] /= tot
        bwd = np.ones(n_states)
        nxt = np.empty(n_states)
        for j in range(length - 1, -1, -1):
            col = start + j
            s_alt = 0.0
            s_known = 0.0
            for k in range(n_states):
                b = cand[j, k]
                if b >= 0:
                    w = fwd[j, k] * bwd[k]
                    s_known += w
                    if b > 0:
                        s_alt += w
            out[r, j] = s_alt / s_known if s_known > 0.0 else 0.5
            if j == 0:
                break
            a = rows[r, j] if not hidden[r, j] else -1
            s = 0.0
            for k in range(n_states):
                e = 1.0
                b = cand[j, k]
                if a >= 0 and b >= 0:
                    e = (1.0 - eps) if a == b else eps
                nxt[k] = e * bwd[k] if use[k] else 0.0
                s += nxt[k]
            tot = 0.0
            for k in range(n_states):
                bwd[k] = (1.0 - rho[col]) * nxt[k] + rho[col] * jump * s
                tot += bwd[k]
            for k in range(n_states):
                bwd[k] /= tot


@numba.njit(cache=True)
def _take_best(score, tie, held, want, n_held, n_states, count):  # type: ignore[no-untyped-def]
    """Mark up to ``want`` unheld haplotypes with the lowest ``score`` (small non-negative
    integers; ties by ``tie``, then by id) as held; return the new number held. ``count`` is
    scratch of at least ``score.max() + 1`` zeros, left zeroed."""
    n_haps = score.shape[0]
    want = min(want, n_states - n_held)
    if want <= 0:
        return n_held
    top = 0
    for h in range(n_haps):
        if not held[h]:
            count[score[h]] += 1
            top = max(top, score[h])
    cut, below = 0, 0  # the score at which ``want`` is reached, and how many score lower
    while cut <= top and below + count[cut] < want:
        below += count[cut]
        cut += 1
    for v in range(top + 1):
        count[v] = 0
    ties = []
    for h in range(n_haps):
        if not held[h]:
            if score[h] < cut:
                held[h] = True
                n_held += 1
            elif score[h] == cut:
                ties.append(h)
    if ties:
        order = np.argsort(np.array([tie[h] * n_haps + h for h in ties]))
        for i in order[: want - below]:
            held[ties[i]] = True
            n_held += 1
    return n_held


@numba.njit(cache=True)
def _pick_states(mism, total, skip_lo, skip_hi, n_states, out):  # type: ignore[no-untyped-def]
    """Per row, ``n_states`` haplotype ids (ascending): the best few of every segment by
    mismatches there (a segment counts twice, its neighbours once; ties by the whole range's
    mismatches, then by id), then the best over the whole range until ``n_states`` are held.

    ``mism`` (segments, rows, haps) and ``total`` (rows, haps) mismatch counts; haplotypes
    ``skip_lo[r] .. skip_hi[r]`` are never picked."""
    n_seg, n_rows, n_haps = mism.shape
    per = max(1, n_states // (n_seg + 1))
    count = np.zeros(max(4 * int(mism.max()), int(total.max())) + 1, dtype=np.int64)
    zero = np.zeros(n_haps, dtype=np.int64)
    score = np.empty(n_haps, dtype=np.int64)
    for r in range(n_rows):
        held = np.zeros(n_haps, dtype=np.bool_)
        for h in range(skip_lo[r], skip_hi[r]):
            held[h] = True  # never picked
        n_held = 0
        tot = total[r].astype(np.int64)
        for g in range(n_seg):
            for h in range(n_haps):
                m = 2 * np.int64(mism[g, r, h])
                if g > 0:
                    m += mism[g - 1, r, h]
                if g + 1 < n_seg:
                    m += mism[g + 1, r, h]
                score[h] = m
            n_held = _take_best(score, tot, held, per, n_held, n_states, count)
        n_held = _take_best(tot, zero, held, n_states, n_held, n_states, count)
        for h in range(skip_lo[r], skip_hi[r]):
            held[h] = False
        k = 0
        for h in range(n_haps):
            if held[h]:
                out[r, k] = h
                k += 1
        for i in range(k, n_states):
            out[r, i] = -1


def _skip_range(own: np.ndarray | None, n: int, ploidy: int) -> tuple[np.ndarray, np.ndarray]:
    """Panel ids ``lo[r] .. hi[r]`` of row ``r``'s own sample (empty where ``own[r]`` is -1)."""
    if own is None:
        zero = np.zeros(n, dtype=np.int64)
        return zero, zero.copy()
    own = np.asarray(own, dtype=np.int64).reshape(n)
    lo = np.where(own >= 0, own * ploidy, 0)
    return lo, np.where(own >= 0, own * ploidy + ploidy, 0)


def select_states(
    panel_rows: np.ndarray,
    rows: np.ndarray,
    hidden: np.ndarray,
    start: int,
    n_states: int,
    *,
    own: np.ndarray | None = None,
    ploidy: int = 2,
    segment: int = SEGMENT,
) -> np.ndarray:
    """The ``n_states`` panel haplotypes ``(R, n_states)`` (ascending ids) each query row's HMM
    runs over: the haplotypes closest to the row at its observed sites, segment by segment.

    The range ``start .. start + L`` is cut into ``segment``-site pieces; every piece
    contributes the haplotypes with the fewest mismatches at the row's observed sites there
    (its neighbours' mismatches counting half), and the rest of the ``n_states`` are the
    closest over the whole range. This is the IBS state selection of Beagle 5 and IMPUTE5 in
    its simplest form: a haplotype that shares a long segment with the query is among the
    closest in every piece of it. A row's own sample (``own``) is never selected. Where the
    panel has no more than ``n_states`` haplotypes to choose from, every one is selected.

    Examples
    --------
    >>> import numpy as np
    >>> panel = np.array([[0, 1, 1, 0], [1, 0, 0, 1], [0, 1, 1, 1]], dtype=np.int8)
    >>> q = np.array([[0, 1, 1, 0]], dtype=np.int8)
    >>> select_states(panel, q, np.zeros_like(q, dtype=bool), 0, 2).tolist()
    [[0, 2]]
    """
    rows = np.asarray(rows)
    n, length = rows.shape
    if n_states < 1:
        raise ValueError(f"n_states must be >= 1, got {n_states}")
    if segment < 1:
        raise ValueError(f"segment must be >= 1, got {segment}")
    sub = np.asarray(panel_rows)[:, start : start + length]
    n_seg = -(-length // segment)
    pad = n_seg * segment - length

    def signs(x: np.ndarray) -> np.ndarray:  # +1 alt, -1 ref, 0 missing; segment-major
        v = np.where(x > 0, 1.0, np.where(x == 0, -1.0, 0.0)).astype(np.float32)
        return np.pad(v, ((0, 0), (0, pad))).reshape(x.shape[0], n_seg, segment).transpose(1, 0, 2)

    q = signs(np.where(np.asarray(hidden, dtype=bool), -1, rows))  # (seg, R, l)
    p = signs(sub)  # (seg, H, l)
    agree = q @ p.transpose(0, 2, 1)  # matches - mismatches at sites observed in both
    if (sub >= 0).all():  # a complete panel: the sites observed in both are the row's
        both = np.abs(q).sum(axis=2)[:, :, None]
    else:
        both = np.abs(q) @ np.abs(p).transpose(0, 2, 1)
    mism = np.rint((both - agree) / 2).astype(np.int32)
    total = mism.sum(axis=0)
    lo, hi = _skip_range(own, n, ploidy)
    out = np.empty((n, n_states), dtype=np.int64)
    _pick_states(mism, total, lo, hi, int(n_states), out)
    return out


def alt_prob(
    panel_rows: np.ndarray,
    rho: np.ndarray,
    rows: np.ndarray,
    hidden: np.ndarray,
    start: int,
    *,
    own: np.ndarray | None = None,
    ploidy: int = 2,
    eps: float = 1e-3,
    states: int = 0,
) -> np.ndarray:
    """Posterior P(alt) ``(R, L)`` of query ``rows`` (alleles of sites ``start .. start + L``).

    ``panel_rows`` (K, sites) int8 panel haplotypes (-1 missing); ``rho`` from
    :func:`switch_probabilities`; ``hidden`` (R, L) marks masked query sites; ``own[r]`` is the
    panel sample of query ``r`` (its ``ploidy`` haplotypes are not copied) or -1. ``states``
    > 0: each row's HMM runs over that many panel haplotypes chosen by :func:`select_states`
    (switches still jump to each of them with ``rho``, the whole panel's switch probability);
    0, or at least as many as the panel holds: over every panel haplotype.

    Examples
    --------
    >>> import numpy as np
    >>> panel = np.array([[0, 1, 1, 0], [1, 0, 0, 1]], dtype=np.int8)
    >>> rho = switch_probabilities(np.arange(4) * 100, 2, 1e4)
    >>> q = np.array([[0, 1, 1, 0]], dtype=np.int8)
    >>> hidden = np.array([[False, False, True, False]])
    >>> float(alt_prob(panel, rho, q, hidden, 0)[0, 2]) > 0.99  # copies haplotype 0 there
    True
    """
    rows = np.ascontiguousarray(rows, dtype=np.int8)
    hidden = np.ascontiguousarray(hidden, dtype=np.bool_)
    if rows.ndim != 2 or hidden.shape != rows.shape:
        raise ValueError(f"rows {rows.shape} and hidden {hidden.shape} must be the same 2-D shape")
    if start < 0 or start + rows.shape[1] > panel_rows.shape[1]:
        raise ValueError(f"sites {start}..{start + rows.shape[1]} outside the panel's sites")
    if states < 0:
        raise ValueError(f"states must be >= 0 (0: every panel haplotype), got {states}")
    n = rows.shape[0]
    panel_rows = np.ascontiguousarray(panel_rows, dtype=np.int8)
    n_haps = panel_rows.shape[0]
    if 0 < states < n_haps - (0 if own is None else ploidy):
        ids = select_states(panel_rows, rows, hidden, start, states, own=own, ploidy=ploidy)
    else:  # every haplotype, the row's own sample's slots unused
        lo, hi = _skip_range(own, n, ploidy)
        ids = np.broadcast_to(np.arange(n_haps, dtype=np.int64), (n, n_haps)).copy()
        ids[(ids >= lo[:, None]) & (ids < hi[:, None])] = -1
    out = np.empty(rows.shape, dtype=np.float64)
    _posterior(
        panel_rows, rows, hidden, int(start), np.ascontiguousarray(rho, dtype=np.float64),
        float(eps), ids, out,
    )  # fmt: skip
    return out


def window_log_odds(
    panel_rows: np.ndarray,
    rho: np.ndarray,
    rows: np.ndarray,
    hidden: np.ndarray,
    start: int,
    window: tuple[int, int],
    *,
    own: np.ndarray | None = None,
    ploidy: int = 2,
    eps: float = 1e-3,
    states: int = 0,
) -> np.ndarray:
    """The model's input prior: :func:`alt_prob` of ``rows`` (sites ``start ..``, the window
    and its flanks) at the sites of ``window`` (``(s, e)``), clipped to ``[PRIOR_EPS, 1 -
    PRIOR_EPS]``, as float32 log odds of alt (``states``: see :func:`alt_prob`)."""
    s, e = window
    p = alt_prob(
        panel_rows, rho, rows, hidden, start, own=own, ploidy=ploidy, eps=eps, states=states
    )
    return log_odds(p[:, s - start : e - start])


def log_odds(p: np.ndarray) -> np.ndarray:
    """Posteriors ``p`` clipped to ``[PRIOR_EPS, 1 - PRIOR_EPS]``, as float32 log odds of alt:
    the model's input prior.

    Examples
    --------
    >>> import numpy as np
    >>> log_odds(np.array([0.5, 1.0])).round(2).tolist()
    [0.0, 9.21]
    """
    p = np.clip(p, PRIOR_EPS, 1.0 - PRIOR_EPS)
    return (np.log(p) - np.log1p(-p)).astype(np.float32)


@numba.njit(cache=True)
def _pair_viterbi(cand, dose, rho, eps, path):  # type: ignore[no-untyped-def]
    """Most likely pair of copied candidates per site for one diploid genotype row.

    ``cand`` (C, L) candidate alleles, ``dose`` (L,) alt dosage (-1: not observed), ``path``
    (L, 2) output. Each of the two copies switches to a uniformly drawn candidate with
    probability ``rho[j]``, independently; a pair emits the observed dosage with ``1 - eps``.
    """
    c, length = cand.shape
    v = np.zeros((c, c))
    nv = np.empty((c, c))
    code = np.zeros((length, c, c), dtype=np.int8)
    col_arg = np.zeros((length, c), dtype=np.int64)
    row_arg = np.zeros((length, c), dtype=np.int64)
    g_arg = np.zeros((length, 2), dtype=np.int64)
    log_hit, log_miss = np.log(1.0 - eps), np.log(eps)
    for j in range(length):
        d = dose[j]
        if j > 0:
            r = max(rho[j], 1e-300)
            stay = 2.0 * np.log1p(-min(r, 1.0 - 1e-12))
            one = np.log(r) + np.log1p(-min(r, 1.0 - 1e-12)) - np.log(c)
            both = 2.0 * (np.log(r) - np.log(c))
            cmax = np.full(c, -np.inf)  # over a, per b
            rmax = np.full(c, -np.inf)  # over b, per a
            gbest, ga, gb = -np.inf, 0, 0
            for a in range(c):
                for b in range(c):
                    x = v[a, b]
                    if x > cmax[b]:
                        cmax[b] = x
                        col_arg[j, b] = a
                    if x > rmax[a]:
                        rmax[a] = x
                        row_arg[j, a] = b
                    if x > gbest:
                        gbest, ga, gb = x, a, b
            g_arg[j, 0], g_arg[j, 1] = ga, gb
            for a in range(c):
                for b in range(c):
                    best, k = v[a, b] + stay, 0
                    x = cmax[b] + one
                    if x > best:
                        best, k = x, 1
                    x = rmax[a] + one
                    if x > best:
                        best, k = x, 2
                    x = gbest + both
                    if x > best:
                        best, k = x, 3
                    nv[a, b] = best
                    code[j, a, b] = k
        else:
            for a in range(c):
                for b in range(c):
                    nv[a, b] = 0.0
        for a in range(c):
            for b in range(c):
                e = 0.0
                if d >= 0 and cand[a, j] >= 0 and cand[b, j] >= 0:
                    e = log_hit if cand[a, j] + cand[b, j] == d else log_miss
                v[a, b] = nv[a, b] + e
    best, a, b = -np.inf, 0, 0
    for x in range(c):
        for y in range(c):
            if v[x, y] > best:
                best, a, b = v[x, y], x, y
    for j in range(length - 1, -1, -1):
        path[j, 0], path[j, 1] = a, b
        if j == 0:
            break
        k = code[j, a, b]
        if k == 1:
            a = col_arg[j, b]
        elif k == 2:
            b = row_arg[j, a]
        elif k == 3:
            a, b = g_arg[j, 0], g_arg[j, 1]


@numba.njit(parallel=True, cache=True)
def _pair_viterbi_rows(cand, dose, rho, eps, paths):  # type: ignore[no-untyped-def]
    """:func:`_pair_viterbi` of each row ``r`` (``cand[r]``, ``dose[r]``), rows in parallel."""
    for r in numba.prange(cand.shape[0]):
        _pair_viterbi(cand[r], dose[r], rho, eps, paths[r])


def pair_paths(cand: np.ndarray, dose: np.ndarray, rho: np.ndarray, eps: float) -> np.ndarray:
    """:func:`pair_path` of many rows at once (in parallel): ``cand`` ``(R, C, L)``, ``dose``
    ``(R, L)``; returns ``(R, L, 2)``."""
    paths = np.zeros((dose.shape[0], dose.shape[1], 2), dtype=np.int64)
    _pair_viterbi_rows(
        np.ascontiguousarray(cand, dtype=np.int8), np.ascontiguousarray(dose, dtype=np.int64),
        np.ascontiguousarray(rho, dtype=np.float64), float(eps), paths,
    )  # fmt: skip
    return paths


def pair_path(cand: np.ndarray, dose: np.ndarray, rho: np.ndarray, eps: float) -> np.ndarray:
    """Viterbi path ``(L, 2)`` of candidate indices explaining genotype ``dose`` (see
    :func:`_pair_viterbi`; ``dose`` -1 where not observed): :func:`pair_paths` of one row."""
    return pair_paths(np.asarray(cand)[None], np.asarray(dose)[None], rho, eps)[0]
