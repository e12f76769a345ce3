"""Phasing step for unphased targets: explain each genotype window by a pair of panel haplotypes.

The model reads haplotypes, but array and low-coverage targets are genotypes (``0/1``, not
``0|1``). For each diploid target and window, :func:`phase_window` retrieves candidate panel
haplotypes with a phase-free key (homozygous sites ±1, heterozygous and missing sites 0), picks
the pair whose allele sums disagree with the observed genotypes at the fewest sites and splits
every observed heterozygous site between the two haplotypes the way that pair does (alt on the
first haplotype where the pair agrees). The result is a pair of haplotypes consistent with every
observed genotype; missing genotypes stay missing on both haplotypes and the model imputes them
per haplotype. Calls are then scored per genotype (``maskkit.metrics`` counts minor alleles per
genotype, so the phase of a prediction never matters).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import hmm
from .retrieval import PanelIndex, pm1


def genotype_key(haps: np.ndarray) -> np.ndarray:
    """Phase-free key ``(samples, sites)``: -1 hom ref, +1 hom alt, 0 het or missing."""
    called = (haps >= 0).all(axis=1)
    dose = (haps > 0).sum(axis=1)
    ploidy = haps.shape[1]
    key = np.where(dose == 0, -1.0, np.where(dose == ploidy, 1.0, 0.0))
    return np.ascontiguousarray(np.where(called, key, 0.0), dtype=np.float32)


def best_pairs(cand: np.ndarray, dose: np.ndarray, called: np.ndarray) -> np.ndarray:
    """Index pair ``(samples, 2)`` into ``cand`` explaining ``dose`` at ``called`` sites best.

    ``cand`` ``(samples, C, sites)`` candidate alleles (best-ranked first), ``dose``
    ``(samples, sites)`` alt dosage. Ties go to the better-ranked pair.
    """
    c = (cand > 0).astype(np.int8)
    n, k, _ = c.shape
    pair = c[:, :, None, :] + c[:, None, :, :]  # (n, C, C, sites)
    err = (np.abs(pair - dose[:, None, None, :].astype(np.int8)) * called[:, None, None, :]).sum(
        -1, dtype=np.int64
    )
    rank = np.arange(k)
    cost = err * (2 * k) + rank[:, None] + rank[None, :]  # rank breaks ties only
    flat = cost.reshape(n, k * k).argmin(axis=1)
    return np.stack([flat // k, flat % k], axis=1)


def split_hets(haps: np.ndarray, ra: np.ndarray, rb: np.ndarray) -> np.ndarray:
    """Haplotypes ``(samples, 2, sites)`` with the genotypes of ``haps``, each heterozygous site
    split as templates ``ra`` / ``rb`` (bool ``(samples, sites)``, alt or not) do there: alt on
    the first haplotype where they agree. Sites with a missing allele stay as they are."""
    called = (haps >= 0).all(axis=1)
    dose = (haps > 0).sum(axis=1)
    het = called & (dose == 1)
    first = np.where(het, np.where(ra != rb, ra, True), dose == 2)
    second = np.where(het, ~first, dose == 2)
    out = haps.copy()
    out[:, 0] = np.where(called, first, haps[:, 0])
    out[:, 1] = np.where(called, second, haps[:, 1])
    return out.astype(haps.dtype)


def phase_window(
    index: PanelIndex,
    window: int,
    haps: np.ndarray,
    own: np.ndarray | None = None,
    n_candidates: int = 32,
    focus: tuple[int, int] | None = None,
) -> np.ndarray:
    """Phase diploid genotypes ``haps`` ``(samples, 2, sites)`` of one window (over the
    window's key range, ``index.key_windows[window]``, which is the window itself by default).

    Only the genotype (alt dosage) of each site is used: the order of the alleles in ``haps``
    is ignored. Sites where any allele is missing keep missing alleles (and the other observed
    allele) as they are. ``own`` holds panel sample ids to exclude (training targets).
    ``focus`` ``(a, b)``: choose the pair on sites ``a:b`` only (the model's window inside a
    longer key range; candidates still come from the whole range, and heterozygous sites
    outside ``a:b`` are split by the same pair).
    """
    if haps.shape[1] != 2:
        raise ValueError(f"phasing needs diploid haplotypes, got ploidy {haps.shape[1]}")
    called = (haps >= 0).all(axis=1)
    dose = (haps > 0).sum(axis=1)
    c = min(n_candidates, index.n_haps - (0 if own is None else index.ploidy))
    ids, _ = index.search(window, genotype_key(haps), own, k=c)
    cand = index.key_alleles(window, ids)  # (samples, C, sites)
    scored = called
    if focus is not None:
        scored = np.zeros_like(called)
        scored[:, focus[0] : focus[1]] = called[:, focus[0] : focus[1]]
    ab = best_pairs(cand, dose, scored)
    rows = np.arange(haps.shape[0])
    ra = cand[rows, ab[:, 0]] > 0
    rb = cand[rows, ab[:, 1]] > 0
    return split_hets(haps, ra, rb)


def phase_hmm(
    index: PanelIndex,
    window: int,
    haps: np.ndarray,
    rho: np.ndarray,
    own: np.ndarray | None = None,
    n_candidates: int = 32,
    eps: float = 1e-3,
    chunk: int = 128,
) -> np.ndarray:
    """Phase diploid genotypes ``haps`` over the key range of ``window``
    (``index.key_windows[window]``) with :func:`phase_segments` against the index's panel;
    ``rho`` holds the switch probabilities of all of the panel's sites."""
    lo, hi = index.key_windows[window]
    return phase_segments(
        index.panel_rows[:, lo:hi], haps, rho[lo:hi], own=own, ploidy=index.ploidy,
        n_candidates=n_candidates, eps=eps, chunk=chunk,
    )  # fmt: skip


def segments(n_sites: int, segment: int, overlap: int) -> list[tuple[int, int]]:
    """Ranges ``(a, b)`` of at most ``segment`` sites covering ``0 .. n_sites``, each
    overlapping the previous one by ``overlap`` sites.

    Examples
    --------
    >>> segments(10, 4, 1)
    [(0, 4), (3, 7), (6, 10)]
    """
    if segment <= overlap or overlap < 0:
        raise ValueError(f"need 0 <= overlap < segment, got overlap {overlap}, segment {segment}")
    out = [(0, min(segment, n_sites))]
    while out[-1][1] < n_sites:
        a = out[-1][1] - overlap
        out.append((a, min(a + segment, n_sites)))
    return out


def phase_segments(
    panel: np.ndarray,
    haps: np.ndarray,
    rho: np.ndarray,
    *,
    own: np.ndarray | None = None,
    ploidy: int = 2,
    n_candidates: int = 32,
    eps: float = 1e-3,
    chunk: int = 128,
    segment: int = 2048,
    overlap: int = 512,
    refine: int = 1,
) -> np.ndarray:
    """Phase diploid genotypes ``haps`` ``(samples, 2, sites)`` against panel haplotypes
    ``panel`` ``(H, sites)`` (the same sites; ``rho`` their switch probabilities).

    Each genotype row follows the Viterbi path of candidate pairs (:func:`.hmm.pair_path`:
    either copy switches to another candidate with probability ``rho[j]``) and every observed
    heterozygous site is split as the path's pair does there (alt on the first haplotype where
    the pair agrees). The range is phased in ``segment``-site pieces overlapping by
    ``overlap``; each piece after the first is flipped where its heterozygous sites in the
    overlap disagree with the previous piece's more often than they agree, and the two meet in
    the middle of the overlap. The first pass takes ``n_candidates`` candidates per piece by
    the phase-free genotype key (:func:`local_candidates`); each of the ``refine`` passes after
    it takes them by the two haplotypes the previous pass estimated (half by each,
    :func:`hap_candidates`), which also see the heterozygous sites: one such pass cut the
    switch errors of the panel-scale demo's targets about sixfold (docs/beagle.md). Sites where
    any allele is missing keep their alleles as they are; ``own`` holds the panel sample each
    row must not copy (or -1).
    """
    if haps.ndim != 3 or haps.shape[1] != 2:
        raise ValueError(f"phasing needs diploid haplotypes (samples, 2, sites), got {haps.shape}")
    called = (haps >= 0).all(axis=1)
    dose = np.where(called, (haps > 0).sum(axis=1), -1)
    het = called & (dose == 1)
    c = min(n_candidates, panel.shape[0] - (0 if own is None else ploidy))
    key = genotype_key(haps)
    pm = pm1(panel)
    pieces = segments(haps.shape[-1], segment, overlap)
    first = _phase_pass(
        panel, dose, het, rho, eps, pieces,
        lambda a, b: _candidates(pm[:, a:b], key[:, a:b], own, ploidy, c, chunk),
    )  # fmt: skip
    for _ in range(refine):
        est = _split(haps, called, dose, het, first)
        first = _phase_pass(
            panel, dose, het, rho, eps, pieces,
            lambda a, b, e=est: hap_candidates(pm[:, a:b], e[:, :, a:b], own, ploidy, c, chunk),
        )  # fmt: skip
    return _split(haps, called, dose, het, first)


def _split(
    haps: np.ndarray, called: np.ndarray, dose: np.ndarray, het: np.ndarray, first: np.ndarray
) -> np.ndarray:
    """``haps`` with each called genotype written out: alt on haplotype 0 at the heterozygous
    sites where ``first`` is set."""
    out = haps.copy()
    out[:, 0] = np.where(called, np.where(het, first, dose == 2), haps[:, 0])
    out[:, 1] = np.where(called, np.where(het, ~first, dose == 2), haps[:, 1])
    return out


def _phase_pass(
    panel: np.ndarray,
    dose: np.ndarray,
    het: np.ndarray,
    rho: np.ndarray,
    eps: float,
    pieces: list[tuple[int, int]],
    candidates: Callable[[int, int], np.ndarray],
) -> np.ndarray:
    """``(samples, sites)`` bool, alt on haplotype 0 at each heterozygous site: one Viterbi
    pass per piece over ``candidates(a, b)`` ``(samples, C)``, the pieces joined in phase."""
    n, length = dose.shape
    first = np.zeros((n, length), dtype=bool)
    informative = np.zeros((n, length), dtype=bool)  # heterozygous and split by the pair
    prev = 0
    for a, b in pieces:
        cand = panel[candidates(a, b)[:, :, None], np.arange(a, b)[None, None, :]]
        paths = hmm.pair_paths(cand, dose[:, a:b], rho[a:b], eps)  # (samples, sites, 2)
        ra = np.take_along_axis(cand, paths[:, None, :, 0], axis=1)[:, 0] > 0
        rb = np.take_along_axis(cand, paths[:, None, :, 1], axis=1)[:, 0] > 0
        f = ra | (ra == rb)  # alt on the first haplotype where the pair agrees
        info = het[:, a:b] & (ra != rb)
        cut = a
        if a < prev:  # join: flip the piece where the overlap disagrees more than it agrees
            o = prev - a
            both = info[:, :o] & informative[:, a:prev]
            differ = f[:, :o] != first[:, a:prev]
            flip = (differ & both).sum(axis=1) > (~differ & both).sum(axis=1)
            f = np.where(flip[:, None], ~f, f)
            cut = (a + prev) // 2
        first[:, cut:b] = f[:, cut - a :]
        informative[:, cut:b] = info[:, cut - a :]
        prev = b
    return first


def hap_candidates(
    pm: np.ndarray, est: np.ndarray, own: np.ndarray | None, ploidy: int, c: int, chunk: int
) -> np.ndarray:
    """``(samples, c)`` panel ids: the best matches (:func:`local_candidates`) of each of the
    two estimated haplotypes ``est`` ``(samples, 2, sites)`` in the panel ``pm``
    (:func:`.retrieval.pm1`), taken in turn from the two lists so that each haplotype brings
    about half."""
    lists = []
    for h in range(2):
        lists.append(_candidates(pm, pm1(est[:, h]), own, ploidy, c, chunk))
    out = np.empty_like(lists[0])
    for i in range(out.shape[0]):
        merged = dict.fromkeys(np.stack([lists[0][i], lists[1][i]], axis=1).ravel().tolist())
        out[i] = list(merged)[:c]
    return out


def local_candidates(
    panel: np.ndarray, key: np.ndarray, own: np.ndarray | None, ploidy: int, c: int, chunk: int
) -> np.ndarray:
    """``(samples, c)`` panel ids: the best matches of the phase-free ``key`` on each ``chunk``
    of sites in turn (so every part of the range has its own candidates), then overall; ties
    go to the lower id."""
    return _candidates(pm1(panel), key, own, ploidy, c, chunk)


def _candidates(
    pm: np.ndarray, key: np.ndarray, own: np.ndarray | None, ploidy: int, c: int, chunk: int
) -> np.ndarray:
    """:func:`local_candidates` of the panel's :func:`.retrieval.pm1` ``pm``."""
    n, length = key.shape
    starts = list(range(0, length, chunk))
    per = max(1, c // (len(starts) + 1))
    scores = [key[:, a : a + chunk] @ pm[:, a : a + chunk].T for a in starts]
    scores.append(key @ pm.T)
    if own is not None:
        bad = (np.arange(pm.shape[0])[None, :] // ploidy) == np.asarray(own)[:, None]
        for sc in scores:
            sc[bad] = -np.inf
    tops = [top_ids(sc, c if k == len(scores) - 1 else per) for k, sc in enumerate(scores)]
    out = np.empty((n, c), dtype=np.int64)
    for i in range(n):
        picked = dict.fromkeys(j for t in tops for j in t[i].tolist() if j >= 0)
        out[i] = list(picked)[:c]
    return out


def top_ids(score: np.ndarray, take: int) -> np.ndarray:
    """Per row of ``score`` ``(rows, ids)``, the ``take`` ids of the highest scores, best
    first, ties to the lower id (the order of a stable sort of ``-score``); -1 where the score
    is not finite. Costs a partition, not a sort, of each row.

    Examples
    --------
    >>> import numpy as np
    >>> top_ids(np.array([[1.0, 3.0, 3.0, -np.inf]]), 3).tolist()
    [[1, 2, 0]]
    """
    n, m = score.shape
    take = min(take, m)
    if take == 1:
        best = score.argmax(axis=1)[:, None]  # the first maximum: the lowest id
    else:
        cut = -np.partition(-score, take - 1, axis=1)[:, take - 1 : take]  # take-th best
        above = score > cut
        tied = score == cut
        room = take - above.sum(axis=1, keepdims=True)
        chosen = above | (tied & (np.cumsum(tied, axis=1) <= room))
        ids = np.nonzero(chosen)[1].reshape(n, take)  # ascending ids per row
        order = np.argsort(-np.take_along_axis(score, ids, axis=1), axis=1, kind="stable")
        best = np.take_along_axis(ids, order, axis=1)
    return np.where(np.isfinite(np.take_along_axis(score, best, axis=1)), best, -1)
