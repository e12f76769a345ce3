"""Baselines of the reference trainer, scored on the same frozen validation masks as the model."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from maskkit import metrics as mm

from . import data as dt
from .phase import phase_window
from .retrieval import PanelIndex, nearest_copy

BINS = mm.bin_labels()


def baselines(
    data: dt.Data,
    index: PanelIndex,
    val_masks: list[np.ndarray],
    score_cols: list[np.ndarray],
    unphased: bool = False,
) -> dict[str, Any]:
    """Major allele and nearest-haplotype copy (k=1, Hamming on visible sites) on the val masks."""
    major_sc = mm.MinorAlleleScorer(data.alt_freq)
    nn_sc = mm.MinorAlleleScorer(data.alt_freq)
    major = (data.alt_freq > 0.5).astype(np.int8)
    val = data.val.haps
    for w, (s, e) in enumerate(data.windows):
        haps = val[:, :, s:e]
        site = val_masks[w]
        cols = score_cols[w]
        pred_major = np.broadcast_to(major[s:e], haps.shape)
        major_sc.update(haps[..., cols], pred_major[..., cols], site[:, cols], sites=s + cols)
        inp = haps
        if unphased:  # the copy works on haplotypes phased from the visible genotypes
            vis = np.where(site[:, None, :], -1, haps).astype(haps.dtype)
            inp = phase_window(index, w, vis)
        rows = inp.reshape(-1, e - s)
        hidden = np.repeat(site, haps.shape[1], axis=0)
        copy = nearest_copy(index, w, rows, hidden, None).reshape(haps.shape)
        nn_sc.update(haps[..., cols], copy[..., cols], site[:, cols], sites=s + cols)
    return {"major_allele": major_sc.result(), "nearest_copy": nn_sc.result()}


def fmt(value: float, digits: int = 3) -> str:
    """``value`` with ``digits`` decimals, or ``n/a`` where it is undefined (NaN): r2 of a call
    that never varies (the major-allele baseline), F1 of a bin without minor alleles."""
    return "n/a" if math.isnan(value) else f"{value:.{digits}f}"


def fmt_bins(res: dict[str, Any]) -> str:
    """One line of F1 and r2 per MAF bin (``n/a`` where undefined, see :func:`fmt`)."""
    return "  ".join(f"{b}: F1 {fmt(res[b]['f1'])} r2 {fmt(res[b]['r2'])}" for b in BINS)
