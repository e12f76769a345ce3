"""Allele frequencies and minor-allele-frequency (MAF) bins: one definition for the whole library.

The allele-frequency mask ([maskkit.af_mask][maskkit.masks.af_mask],
[maskkit.rules.AlleleFrequency][]), [maskkit.io][] (``maf_bins``, ``maf_spectrum``) and
[maskkit.metrics][] all bin sites here, so a site lands in the same bin, under the same label,
everywhere.

* Frequencies are float64 alt-allele frequencies in ``[0, 1]``; the MAF is ``min(f, 1 - f)``.
* Bin ``b`` holds ``edges[b-1] <= maf < edges[b]``; bins are int32.
* NaN means *no calls at the site*: its MAF is NaN and its bin is `NO_CALLS` (``-1``).
  A consumer that needs a value for every site (the allele-frequency mask's rates, the metrics'
  minor allele) raises a ``ValueError`` that names the argument instead of guessing one.
* Labels read ``maf<0.01``, ``0.01<=maf<0.05``, ``maf>=0.05``
([bin_labels][maskkit.freq.bin_labels]).

Examples
--------
>>> from maskkit import freq
>>> freq.maf_bins([0.001, 0.02, 0.3, 0.995, float("nan")]).tolist()
[0, 1, 2, 0, -1]
>>> freq.bin_labels()
['maf<0.01', '0.01<=maf<0.05', 'maf>=0.05']
"""

from __future__ import annotations

import math
from itertools import pairwise
from typing import Any

import numpy as np

from . import _data_kernels

__all__ = ["DEFAULT_EDGES", "NO_CALLS", "bin_labels", "check_edges", "maf", "maf_bins"]

#: MAF bin edges: bins ``maf < 0.01``, ``0.01 <= maf < 0.05`` and ``maf >= 0.05``.
DEFAULT_EDGES: tuple[float, ...] = (0.01, 0.05)
#: Bin of a site without calls (NaN frequency).
NO_CALLS = -1
_MAX_EDGES = 2**15 - 1
_FEW = 64  # edges checked in Python (numpy's per-call cost outweighs the work)


def check_edges(edges: Any, *, name: str = "edges") -> np.ndarray:
    """Return ``edges`` as float64 after checking they are finite and strictly increasing.

    Examples
    --------
    >>> check_edges([0.01, 0.05]).tolist()
    [0.01, 0.05]
    """
    if type(edges) in (list, tuple) and len(edges) <= _FEW and all(type(x) is float for x in edges):
        vals = edges  # a short list of floats (the usual call): checked without numpy
    else:
        e = np.asarray(edges)
        if e.dtype == np.bool_ or e.dtype.kind not in "iuf":
            raise TypeError(f"{name} must hold real numbers, got dtype {e.dtype}")
        e = e.astype(np.float64)
        if e.ndim != 1:
            raise ValueError(f"{name} must be 1-D (inner bin edges), got shape {e.shape}")
        if e.size > _FEW:
            if not np.isfinite(e).all():
                raise ValueError(f"{name} must be finite, got {e.tolist()}")
            if not (np.diff(e) > 0).all():
                raise ValueError(f"{name} must be strictly increasing, got {e.tolist()}")
            if e.size > _MAX_EDGES:
                raise ValueError(
                    f"{name} holds {e.size} edges; use fewer than {_MAX_EDGES + 1} bins"
                )
            return e
        vals = e.tolist()
    # a few numpy calls on a short array cost microseconds, a tenth of a small af_mask call
    if not all(map(math.isfinite, vals)):
        raise ValueError(f"{name} must be finite, got {list(vals)}")
    if not all(a < b for a, b in pairwise(vals)):
        raise ValueError(f"{name} must be strictly increasing, got {list(vals)}")
    return np.array(vals, dtype=np.float64)


def _frequencies(freq: Any, name: str) -> np.ndarray:
    f = np.asarray(freq)
    if f.dtype == np.bool_ or f.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {f.dtype}")
    f = f.astype(np.float64)
    bad = ~(np.isnan(f) | ((f >= 0.0) & (f <= 1.0)))
    if bad.any():
        raise ValueError(
            f"{name} must hold frequencies in [0, 1] (NaN for sites without calls), "
            f"got {f[bad].ravel()[0]}"
        )
    return f


def maf(freq: Any, *, name: str = "freq") -> np.ndarray:
    """Return the minor-allele frequency ``min(f, 1 - f)`` (float64; NaN stays NaN).

    Examples
    --------
    >>> maf([0.1, 0.9, 0.5]).round(2).tolist()
    [0.1, 0.1, 0.5]
    """
    f = _frequencies(freq, name)
    return np.minimum(f, 1.0 - f)


def maf_bins(
    freq: Any, edges: Any = DEFAULT_EDGES, *, fold: bool = True, name: str = "freq"
) -> np.ndarray:
    """Return the bin of each site (int32, the shape of ``freq``): edges at or below its MAF.

    Parameters
    ----------
    freq : array of float in [0, 1] or NaN
        Alt-allele frequency per site (any shape).
    edges : sequence of float, default (0.01, 0.05)
        Strictly increasing inner bin edges.
    fold : bool, default True
        Bin the MAF ``min(f, 1 - f)``; ``False`` bins ``freq`` as given.
    name : str, default "freq"
        Argument name used in error messages.

    Examples
    --------
    >>> maf_bins([0.001, 0.02, 0.3, 0.999]).tolist()
    [0, 1, 2, 0]
    >>> maf_bins([0.3, 0.7], [0.5], fold=False).tolist()
    [0, 1]
    """
    return _bins(freq, edges, fold, name)[0]


def _bins(freq: Any, edges: Any, fold: bool, name: str) -> tuple[np.ndarray, int, int]:
    """Return ``(maf_bins(...), number of NaN frequencies, number of edges)``."""
    return bins_of_checked(freq, check_edges(edges), fold, name)


def bins_of_checked(freq: Any, e: np.ndarray, fold: bool, name: str) -> tuple[np.ndarray, int, int]:
    """As ``_bins`` for edges ``e`` that [check_edges][maskkit.freq.check_edges] returned."""
    f = np.asarray(freq)
    if f.dtype == np.bool_ or f.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {f.dtype}")
    f = f.astype(np.float64, order="C", copy=False)
    out = np.empty(f.shape, dtype=np.int32)
    # one numba pass: the numpy steps (checks, fold, searchsorted, NaN) cost ~25 us per call
    # at 1,024 sites, more than the whole mask of a small batch
    bad, nans = _data_kernels.maf_bins(f.reshape(-1), e, bool(fold), out.reshape(-1))
    if bad >= 0:
        raise ValueError(
            f"{name} must hold frequencies in [0, 1] (NaN for sites without calls), "
            f"got {f.reshape(-1)[bad]}"
        )
    return out, int(nans), e.shape[0]


def bin_labels(edges: Any = DEFAULT_EDGES) -> list[str]:
    """Return the names of the MAF bins of ``edges`` (at least one edge).

    Examples
    --------
    >>> bin_labels((0.05,))
    ['maf<0.05', 'maf>=0.05']
    """
    e = check_edges(edges).tolist()
    if not e:
        raise ValueError("edges must hold at least one edge to name bins, got []")
    labels = [f"maf<{e[0]:g}"]
    labels += [f"{a:g}<=maf<{b:g}" for a, b in pairwise(e)]
    labels.append(f"maf>={e[-1]:g}")
    return labels
