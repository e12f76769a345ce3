"""Union of haplotype masks into site masks, effective rates, and realized rates for logs."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _kernels
from . import _validate as v

__all__ = ["effective_rate", "effective_site_rates", "mask_stats", "union"]


def union(mask: Any, *, out: np.ndarray | None = None) -> np.ndarray:
    """OR a per-haplotype mask over the ploidy axis into a site mask ``(samples, sites)``.

    A site is masked when any of its haplotypes is masked, as ``np.maximum`` over haplotypes.

    Parameters
    ----------
    mask : bool array, shape (samples, ploidy, sites)
        Per-haplotype mask, as the mask functions return it.
    out : numpy.ndarray of bool, shape (samples, sites), optional
        Buffer to write the site mask into (and return); a new array by default.

    Returns
    -------
    numpy.ndarray of bool, shape (samples, sites)

    Examples
    --------
    >>> import numpy as np, maskkit as mk
    >>> m = np.array([[[True, False, False], [False, False, True]]])
    >>> mk.union(m).tolist()
    [[True, False, True]]
    """
    m = v.bool_mask(mask)
    if m.ndim != 3:
        raise ValueError(
            f"mask must be 3-D (samples, ploidy, sites) to take a union, got shape {m.shape}"
        )
    result = v.out_buffer(out, (m.shape[0], m.shape[2]), inputs=(m,))
    if m.shape[1] == 0:
        raise ValueError("mask has ploidy 0; the ploidy axis must be >= 1")
    if m.size:
        _kernels.union(m, result)
    else:
        result[...] = False
    return result


def effective_rate(rate: float, ploidy: int = 2) -> float:
    """Return the site rate ``1 - (1 - rate) ** ploidy`` of a union of independent haplotype masks.

    Parameters
    ----------
    rate : float
        Per-haplotype masking rate in [0, 1].
    ploidy : int
        Haplotypes per sample, in [1, 1024].

    Examples
    --------
    >>> round(effective_rate(0.3, ploidy=2), 4)
    0.51
    """
    r = v.rate_scalar(rate, "rate")
    p = v.int_scalar(ploidy, "ploidy", low=1, high=1024)
    return 1.0 - (1.0 - r) ** p


def effective_site_rates(ref_rate: float, alt_rate: float, ploidy: int = 2) -> dict[int, float]:
    """Return the union's site rate for each number of alt haplotypes at the site.

    A site with ``k`` alt and ``ploidy - k`` ref haplotypes is masked with probability
    ``1 - (1 - alt_rate) ** k * (1 - ref_rate) ** (ploidy - k)``.

    Parameters
    ----------
    ref_rate : float
        Per-haplotype masking rate of ref alleles, in [0, 1].
    alt_rate : float
        Per-haplotype masking rate of alt alleles, in [0, 1].
    ploidy : int
        Haplotypes per sample, in [1, 1024].

    Returns
    -------
    dict of int to float
        Site rate for each ``k`` in ``0..ploidy``.

    Examples
    --------
    >>> {k: round(p, 2) for k, p in effective_site_rates(0.3, 0.7).items()}
    {0: 0.51, 1: 0.79, 2: 0.91}
    """
    r = v.rate_scalar(ref_rate, "ref_rate")
    a = v.rate_scalar(alt_rate, "alt_rate")
    p = v.int_scalar(ploidy, "ploidy", low=1, high=1024)
    return {k: 1.0 - (1.0 - a) ** k * (1.0 - r) ** (p - k) for k in range(p + 1)}


def haplotype_rate(site_rate: Any, ploidy: int) -> Any:
    """Return the per-haplotype rate whose union over ``ploidy`` haplotypes hits ``site_rate``.

    The inverse of [effective_rate][maskkit.union.effective_rate]: solves
    ``1 - (1 - p) ** ploidy = site_rate`` for a float or a float64 array, unchecked (the checked
    public face is [haplotype_rate_for_site_rate][maskkit.masks.haplotype_rate_for_site_rate]).

    Parameters
    ----------
    site_rate : float or numpy.ndarray of float64
        Wanted site rate(s) in [0, 1] (not checked).
    ploidy : int
        Haplotypes per sample (not checked).

    Examples
    --------
    >>> round(haplotype_rate(0.51, 2), 6)
    0.3
    """
    return 1.0 - (1.0 - site_rate) ** (1.0 / ploidy)


def _ratio(num: int, den: int) -> float:
    return num / den if den else float("nan")


def mask_stats(mask: Any, haps: Any, *, lengths: Any = None) -> dict[str, float]:
    """Realized per-class masking rates, for logging.

    Parameters
    ----------
    mask : bool array
        A per-haplotype mask (the shape of ``haps``) or, for 3-D ``haps``, a site mask
        ``(samples, sites)``.
    haps : int array, shape (rows, sites) or (samples, ploidy, sites)
    lengths : int array, optional
        Real sites per sample.

    Returns
    -------
    dict
        ``ref_rate``/``alt_rate``/``rate``: masked share of eligible ref/alt/all haplotype
        positions (a site mask counts for each of its haplotypes) with counts ``n_ref``, ``n_alt``;
        for 3-D ``haps`` also ``site_rate`` and ``site_rate_alt{k}`` (share of complete sites
        with ``k`` alt alleles masked after the union) and ``site_rate_missing``. ``nan`` where a
        class is empty.

    Examples
    --------
    >>> import numpy as np, maskkit as mk
    >>> haps = np.array([[[0, 0, 1, 1], [0, 1, 1, 0]]], dtype=np.int8)
    >>> m = np.array([[[True, False, True, False], [False, False, False, False]]])
    >>> s = mk.mask_stats(m, haps)
    >>> s["ref_rate"], s["alt_rate"], s["site_rate_alt0"], s["site_rate_alt2"]
    (0.25, 0.25, 1.0, 1.0)
    """
    h2, ploidy, shape = v.haps_2d(haps)
    lens = v.lengths(lengths, shape[0], shape[-1])
    m2, mask_div = v.mask_rows(mask, shape, ploidy)
    counts = np.zeros(4, dtype=np.int64)
    _kernels.class_counts(h2, ploidy, lens, m2, mask_div, counts)
    n_ref, k_ref, n_alt, k_alt = (int(c) for c in counts)
    stats: dict[str, float] = {
        "n_ref": n_ref,
        "n_alt": n_alt,
        "ref_rate": _ratio(k_ref, n_ref),
        "alt_rate": _ratio(k_alt, n_alt),
        "rate": _ratio(k_ref + k_alt, n_ref + n_alt),
    }
    if len(shape) == 3:
        h3 = h2.reshape(shape)
        site = m2 if mask_div > 1 else union(m2.reshape(shape))
        sc = np.zeros((ploidy + 2, 2), dtype=np.int64)
        _kernels.site_counts(h3, lens, site, sc)
        stats["site_rate"] = _ratio(int(sc[: ploidy + 1, 1].sum()), int(sc[: ploidy + 1, 0].sum()))
        for k in range(ploidy + 1):
            stats[f"site_rate_alt{k}"] = _ratio(int(sc[k, 1]), int(sc[k, 0]))
        stats["site_rate_missing"] = _ratio(int(sc[ploidy + 1, 1]), int(sc[ploidy + 1, 0]))
    return stats
