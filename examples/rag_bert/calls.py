"""Turning predicted probabilities into allele calls, with per-MAF-bin thresholds.

The argmax of a calibrated posterior maximises accuracy, not F1: for rare variants it calls the
minor allele only when very sure (high precision, low recall). The trainer therefore fits one
minor-allele threshold per MAF bin on *training* samples under validation-like masks (never on
validation labels) and uses it for validation scores and imputation. ``thresholds = None``
means argmax (0.5).
"""

from __future__ import annotations

import numpy as np

from maskkit import metrics as mm

GRID = np.round(np.arange(0.05, 0.51, 0.05), 2)


def site_bins(alt_freq: np.ndarray, edges: tuple[float, ...] = mm.DEFAULT_EDGES) -> np.ndarray:
    """MAF bin index of every site (0 = rarest)."""
    return np.searchsorted(np.asarray(edges), mm.maf_from_alt_freq(alt_freq), side="right")


def minor_prob(alt_p: np.ndarray, minor: np.ndarray) -> np.ndarray:
    """Probability of the minor allele from the probability of alt (``minor`` per site, 0/1)."""
    return np.where(minor == 1, alt_p, 1.0 - alt_p)


def call(
    alt_p: np.ndarray, alt_freq_sites: np.ndarray, thresholds: np.ndarray | None
) -> np.ndarray:
    """Allele calls (0/1, int8) of haplotypes ``(..., sites)`` from P(alt) and site frequencies."""
    if thresholds is None:
        return (alt_p >= 0.5).astype(np.int8)
    minor = mm.minor_allele(alt_freq_sites)
    t = np.asarray(thresholds)[site_bins(alt_freq_sites)]
    is_minor = minor_prob(alt_p, minor) >= t
    return np.where(is_minor, minor, 1 - minor).astype(np.int8)


class ThresholdFitter:
    """Collect (P(minor), is minor) of masked calls per MAF bin; fit F1-best thresholds."""

    def __init__(self, n_bins: int = len(mm.DEFAULT_EDGES) + 1) -> None:
        # counts[bin, grid, (tp, fp, fn)]
        self.counts = np.zeros((n_bins, GRID.size, 3), dtype=np.float64)

    def update(self, p_minor: np.ndarray, truth_minor: np.ndarray, bins: np.ndarray) -> None:
        """Add flat arrays of masked haplotype calls."""
        for b in range(self.counts.shape[0]):
            sel = bins == b
            if not sel.any():
                continue
            p, y = p_minor[sel], truth_minor[sel]
            pred = p[None, :] >= GRID[:, None]
            self.counts[b, :, 0] += (pred & y).sum(1)
            self.counts[b, :, 1] += (pred & ~y).sum(1)
            self.counts[b, :, 2] += (~pred & y).sum(1)

    def fit(self) -> np.ndarray:
        """Best threshold per bin (0.5 where a bin has no minor alleles)."""
        tp, fp, fn = self.counts[..., 0], self.counts[..., 1], self.counts[..., 2]
        den = 2 * tp + fp + fn
        f1 = np.where(den > 0, 2 * tp / np.maximum(den, 1), -1.0)
        out = np.full(self.counts.shape[0], 0.5)
        for b in range(self.counts.shape[0]):
            if (tp[b] + fn[b]).max() > 0:
                best = np.flatnonzero(f1[b] == f1[b].max())
                out[b] = GRID[best[-1]]
        return out
