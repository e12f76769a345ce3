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

import numpy as np

from . import hmm
from .retrieval import PanelIndex


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
    chunk: int = 0,
) -> np.ndarray:
    """Phase diploid genotypes like :func:`phase_window`, letting the pair switch templates.

    The same candidates (``index.key_windows[window]``, phase-free key), but instead of one pair
    for the whole range, each genotype row follows the most likely path of candidate pairs
    (:func:`.hmm.pair_path`: either copy switches to another candidate with probability
    ``rho[j]``, the site-to-site switch probabilities of the whole panel's sites). Heterozygous
    sites are split as the path's pair does there (alt on the first haplotype where the pair
    agrees). Over a long range this follows recombinations that a single pair cannot.
    """
    if haps.shape[1] != 2:
        raise ValueError(f"phasing needs diploid haplotypes, got ploidy {haps.shape[1]}")
    lo, hi = index.key_windows[window]
    called = (haps >= 0).all(axis=1)
    dose = np.where(called, (haps > 0).sum(axis=1), -1)
    c = min(n_candidates, index.n_haps - (0 if own is None else index.ploidy))
    key = genotype_key(haps)
    if chunk:
        ids = local_candidates(index.panel_rows[:, lo:hi], key, own, index.ploidy, c, chunk)
    else:
        ids, _ = index.search(window, key, own, k=c)
    cand = index.key_alleles(window, ids)  # (samples, C, sites)
    ra = np.zeros(called.shape, dtype=bool)
    rb = np.zeros(called.shape, dtype=bool)
    cols = np.arange(called.shape[1])
    for i in range(haps.shape[0]):
        path = hmm.pair_path(cand[i], dose[i], rho[lo:hi], eps)
        ra[i] = cand[i, path[:, 0], cols] > 0
        rb[i] = cand[i, path[:, 1], cols] > 0
    return split_hets(haps, ra, rb)


def local_candidates(
    panel: np.ndarray, key: np.ndarray, own: np.ndarray | None, ploidy: int, c: int, chunk: int
) -> np.ndarray:
    """``(samples, c)`` panel ids: the best matches of the phase-free ``key`` on each ``chunk``
    of sites in turn (so every part of the range has its own candidates), then overall."""
    pm = np.where(panel > 0, 1.0, np.where(panel == 0, -1.0, 0.0)).astype(np.float32)
    n, length = key.shape
    starts = list(range(0, length, chunk))
    per = max(1, c // (len(starts) + 1))
    scores = [key[:, a : a + chunk] @ pm[:, a : a + chunk].T for a in starts]
    scores.append(key @ pm.T)
    if own is not None:
        bad = (np.arange(panel.shape[0])[None, :] // ploidy) == np.asarray(own)[:, None]
        for sc in scores:
            sc[bad] = -np.inf
    out = np.empty((n, c), dtype=np.int64)
    for i in range(n):
        picked: dict[int, None] = {}  # insertion-ordered set
        for k, sc in enumerate(scores):
            take = c if k == len(scores) - 1 else per  # the overall pass fills up to c
            for j in np.argsort(-sc[i], kind="stable")[:take]:
                if len(picked) < c and np.isfinite(sc[i, j]):
                    picked.setdefault(int(j))
        out[i] = list(picked)
    return out
