"""Kernel of [`maskkit.mask_tokens`][]: a mask applied to the user's own token ids.

The replacement is [`maskkit.collate`][maskkit.collate.collate]'s (``_kernels.replace``, same
streams and counters), so with maskkit's own vocabulary both give the same ``input_ids``.
"""

from __future__ import annotations

import numpy as np

from ._kernels import replace, replacement_keys
from ._numba import jit


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
    # ``replace`` draws from a non-empty pool; with no random ids none is ever drawn
    pool = random_ids
    if random_ids.shape[0] == 0:
        pool = np.full(1, mask_id, dtype=random_ids.dtype)
    for r in range(rows):
        key_rep, key_all = replacement_keys(seed, epoch, r, ploidy, indices)
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
            out_ids[r, j] = replace(key_rep, key_all, j, tok, t_mask, t_keep_from, mask_id, pool)
    return n_protected
