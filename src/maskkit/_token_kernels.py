"""Kernel of :func:`maskkit.mask_tokens`: a mask applied to the user's own token ids.

The replacement draws use the streams and counters of :func:`maskkit.collate`, so with
maskkit's own vocabulary both give the same ``input_ids``.
"""

from __future__ import annotations

from ._numba import jit
from ._rng import STREAM_REPLACE, STREAM_REPLACE_ALLELE, below, bits, row_key, u32_at


@jit
def mask_tokens(  # type: ignore[no-untyped-def]
    ids, mask, mask_div, ploidy, indices, seed, epoch,
    t_mask, t_keep_from, mask_id, random_ids, protect, ignore, out_ids, labels,
):  # fmt: skip
    """Fill ``out_ids`` and ``labels``; return the number of masked protected positions.

    Masked position: ``u < t_mask`` -> ``mask_id``; ``u >= t_keep_from`` -> its own id;
    otherwise a uniform draw from ``random_ids``.
    """
    rows, sites = ids.shape
    n_protected = 0
    n_random = random_ids.shape[0]
    for r in range(rows):
        s = r // ploidy
        sample = s if indices.shape[0] == 0 else indices[s]
        key_rep = row_key(seed, STREAM_REPLACE, epoch, sample, r % ploidy)
        key_all = row_key(seed, STREAM_REPLACE_ALLELE, epoch, sample, r % ploidy)
        mr = r // mask_div
        for j in range(sites):
            tok = ids[r, j]
            if not mask[mr, j]:
                out_ids[r, j] = tok
                labels[r, j] = ignore
                continue
            hit = False
            for p in protect:
                if tok == p:
                    hit = True
            if hit:
                n_protected += 1
                out_ids[r, j] = tok
                labels[r, j] = ignore
                continue
            labels[r, j] = tok
            u = u32_at(key_rep, j)
            if u < t_mask:
                out_ids[r, j] = mask_id
            elif u >= t_keep_from:
                out_ids[r, j] = tok
            else:
                out_ids[r, j] = random_ids[below(bits(key_all, j), n_random)]
    return n_protected
