"""Numba kernels that draw no random numbers and know no token ids: reading and binning sites.

``gather_sites`` (the store reads of [maskkit.io][]) and ``maf_bins`` (the bins of
[maskkit.freq][]) sit here, below the masking kernels of ``_kernels``, so that the data layer
and the frequency functions import only the numba settings, not the random stream and the
masking loops. Private: the public functions that call them check their arguments.
"""

from __future__ import annotations

import numpy as np

from ._numba import jit

# --------------------------------------------------------------------------- store reads


@jit
def gather_sites(slab, cols, rows, at, out):  # type: ignore[no-untyped-def]
    """``out[rows[i], h, at + j] = slab[j, cols[i], h]``: a (sites, samples, ploidy) slab to rows.

    In blocks of 64 sites, so the rows of the slab a block touches stay in cache while each
    output row takes its 64 sites (numpy's fancy index + transpose copy is 3-4x slower).
    """
    p = out.shape[1]
    length = slab.shape[0]
    for j0 in range(0, length, 64):
        j1 = min(length, j0 + 64)
        for i in range(cols.shape[0]):
            c = cols[i]
            r = rows[i]
            for h in range(p):
                for j in range(j0, j1):
                    out[r, h, at + j] = slab[j, c, h]


# --------------------------------------------------------------------------- MAF bins

_FEW_EDGES = 8  # up to this many edges: one vectorised pass per edge; more: a binary search


@jit
def maf_bins(f, edges, fold, out):  # type: ignore[no-untyped-def]
    """``out[i]`` = edges at or below the MAF of ``f[i]`` (``-1`` for NaN), as int32.

    ``edges`` strictly increasing (``np.searchsorted(edges, maf, side="right")``). Returns
    ``(i, nans)``: the first ``i`` with ``f[i]`` outside [0, 1] and not NaN (``-1`` when none;
    ``out`` is then not written) and the number of NaN frequencies.
    """
    n = f.shape[0]
    n_edges = edges.shape[0]
    nans = 0
    bad = 0
    for i in range(n):
        x = f[i]
        nan = x != x
        nans += nan
        bad += (not nan) & ((x < 0.0) | (x > 1.0))
    if bad:
        for i in range(n):
            x = f[i]
            if x == x and (x < 0.0 or x > 1.0):
                return i, nans
    for i in range(n):
        out[i] = -np.int32(f[i] != f[i])  # NaN: no edge is at or below it, so -1 in the end
    if n_edges <= _FEW_EDGES:
        for k in range(n_edges):
            e = edges[k]
            for i in range(n):
                x = f[i]
                m = min(x, 1.0 - x) if fold else x
                out[i] += np.int32(e <= m)
        return -1, nans
    for i in range(n):
        x = f[i]
        m = min(x, 1.0 - x) if fold else x
        lo = 0
        hi = n_edges
        while lo < hi:
            mid = (lo + hi) >> 1
            if edges[mid] <= m:
                lo = mid + 1
            else:
                hi = mid
        out[i] += np.int32(lo)
    return -1, nans
