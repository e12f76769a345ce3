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


@numba.njit(parallel=True)
def _posterior(panel, rows, hidden, start, rho, eps, skip_lo, skip_hi, out):  # type: ignore[no-untyped-def]
    n_haps = panel.shape[0]
    n_rows, length = rows.shape
    for r in numba.prange(n_rows):
        fwd = np.empty((length, n_haps))
        use = np.ones(n_haps, dtype=np.bool_)
        for k in range(skip_lo[r], skip_hi[r]):
            use[k] = False
        n_use = 0
        for k in range(n_haps):
            n_use += use[k]
        jump = 1.0 / max(n_use, 1)
        for j in range(length):
            a = rows[r, j] if not hidden[r, j] else -1
            col = start + j
            tot = 0.0
            for k in range(n_haps):
                if not use[k]:
                    fwd[j, k] = 0.0
                    continue
                p = jump if j == 0 else (1.0 - rho[col]) * fwd[j - 1, k] + rho[col] * jump
                b = panel[k, col]
                if a >= 0 and b >= 0:
                    p *= (1.0 - eps) if a == b else eps
                fwd[j, k] = p
                tot += p
            for k in range(n_haps):
                fwd[j, k] /= tot
        bwd = np.ones(n_haps)
        nxt = np.empty(n_haps)
        for j in range(length - 1, -1, -1):
            col = start + j
            s_alt = 0.0
            s_known = 0.0
            for k in range(n_haps):
                b = panel[k, col]
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
            for k in range(n_haps):
                e = 1.0
                b = panel[k, col]
                if a >= 0 and b >= 0:
                    e = (1.0 - eps) if a == b else eps
                nxt[k] = e * bwd[k] if use[k] else 0.0
                s += nxt[k]
            tot = 0.0
            for k in range(n_haps):
                bwd[k] = (1.0 - rho[col]) * nxt[k] + rho[col] * jump * s
                tot += bwd[k]
            for k in range(n_haps):
                bwd[k] /= tot


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
) -> np.ndarray:
    """Posterior P(alt) ``(R, L)`` of query ``rows`` (alleles of sites ``start .. start + L``).

    ``panel_rows`` (K, sites) int8 panel haplotypes (-1 missing); ``rho`` from
    :func:`switch_probabilities`; ``hidden`` (R, L) marks masked query sites; ``own[r]`` is the
    panel sample of query ``r`` (its ``ploidy`` haplotypes are not copied) or -1.

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
    n = rows.shape[0]
    skip_lo = np.full(n, 0, dtype=np.int64)
    skip_hi = np.full(n, 0, dtype=np.int64)
    if own is not None:
        own = np.asarray(own, dtype=np.int64).reshape(n)
        skip_lo = np.where(own >= 0, own * ploidy, 0)
        skip_hi = np.where(own >= 0, own * ploidy + ploidy, 0)
    out = np.empty(rows.shape, dtype=np.float64)
    _posterior(
        np.ascontiguousarray(panel_rows, dtype=np.int8), rows, hidden, int(start),
        np.ascontiguousarray(rho, dtype=np.float64), float(eps), skip_lo, skip_hi, out,
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
) -> np.ndarray:
    """The model's input prior: :func:`alt_prob` of ``rows`` (sites ``start ..``, the window
    and its flanks) at the sites of ``window`` (``(s, e)``), clipped to ``[PRIOR_EPS, 1 -
    PRIOR_EPS]``, as float32 log odds of alt."""
    s, e = window
    p = alt_prob(panel_rows, rho, rows, hidden, start, own=own, ploidy=ploidy, eps=eps)
    p = np.clip(p[:, s - start : e - start], PRIOR_EPS, 1.0 - PRIOR_EPS)
    return (np.log(p) - np.log1p(-p)).astype(np.float32)


@numba.njit
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


def pair_path(cand: np.ndarray, dose: np.ndarray, rho: np.ndarray, eps: float) -> np.ndarray:
    """Viterbi path ``(L, 2)`` of candidate indices explaining genotype ``dose`` (see
    :func:`_pair_viterbi`; ``dose`` -1 where not observed)."""
    path = np.zeros((dose.shape[0], 2), dtype=np.int64)
    _pair_viterbi(
        np.ascontiguousarray(cand, dtype=np.int8), np.ascontiguousarray(dose, dtype=np.int64),
        np.ascontiguousarray(rho, dtype=np.float64), float(eps), path,
    )  # fmt: skip
    return path
