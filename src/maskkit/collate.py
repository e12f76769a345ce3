"""Pad *after* masking, then tokenize: the batch a masked model trains on."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _kernels
from . import _validate as v
from .tokens import ALLELE_OFFSET

__all__ = ["collate", "padded_width"]

# A sanity cap on padded row width (16.7 M sites): larger values are typos, not windows, and
# would otherwise surface as a many-GB allocation failure.
MAX_WIDTH = 2**24


def padded_width(
    max_length: int, pad_to: int | None = None, pad_to_multiple_of: int | None = None
) -> int:
    """Return the padded width for a batch whose longest real row has ``max_length`` sites.

    Examples
    --------
    >>> padded_width(1000, pad_to_multiple_of=64)
    1024
    """
    width = max_length
    if pad_to is not None:
        pad_to = v.int_scalar(pad_to, "pad_to", high=MAX_WIDTH)
        if pad_to < max_length:
            raise ValueError(
                f"pad_to={pad_to} is shorter than the longest real row ({max_length} sites); "
                "pass a larger pad_to or trim the rows"
            )
        width = pad_to
    if pad_to_multiple_of is not None:
        mult = v.int_scalar(pad_to_multiple_of, "pad_to_multiple_of", low=1, high=MAX_WIDTH)
        width = -(-width // mult) * mult
    return width


def _check_alleles(h2: np.ndarray, ploidy: int, lens: np.ndarray, n_al: int, dt: Any) -> None:
    """Refuse real alleles (within ``lens``) >= ``n_al`` and token ids ``dt`` cannot hold."""
    top = ALLELE_OFFSET + n_al - 1
    if top > np.iinfo(dt).max:
        raise ValueError(
            f"dtype {dt} cannot hold token ids up to {top} (n_alleles={n_al}); "
            "pass a wider dtype such as np.int16 or np.int64"
        )
    if h2.size and h2.max() >= n_al:  # padding beyond lengths may hold anything: look closer
        row_lens = np.repeat(np.broadcast_to(lens, (h2.shape[0] // ploidy,)), ploidy)
        real = np.arange(h2.shape[1]) < row_lens[:, None]
        hi = int(h2[real].max(initial=-1))
        if hi >= n_al:
            raise ValueError(
                f"haps holds allele {hi} but n_alleles={n_al}: labels and tokens would name a "
                f"class the model does not have; pass n_alleles={hi + 1} or recode the alleles"
            )


def replace_thresholds(replace: Any) -> tuple[np.uint64, np.uint64, float]:
    """Return ``(t_mask, t_keep_from, p_random)`` of a ``(p_mask, p_random, p_keep)`` split.

    A masked position whose 32-bit word ``u`` is below ``t_mask`` gets the mask token, at or
    above ``t_keep_from`` keeps its token, else a random one.
    """
    if np.ndim(replace) != 1 or len(replace) != 3:
        raise ValueError(f"replace must be (p_mask, p_random, p_keep), got {replace!r}")
    pm, pr, pk = (v.rate_scalar(p, f"replace[{i}]") for i, p in enumerate(replace))
    if abs(pm + pr + pk - 1.0) > 1e-9:
        raise ValueError(f"replace probabilities must sum to 1, got {pm + pr + pk}")
    t_mask = np.uint64(np.floor(pm * 2.0**32 + 0.5))
    t_keep = np.uint64(np.floor((pm + pr) * 2.0**32 + 0.5))
    return t_mask, t_keep, pr


def collate(
    haps: Any,
    mask: Any,
    *,
    lengths: Any = None,
    pad_to: int | None = None,
    pad_to_multiple_of: int | None = None,
    replace: tuple[float, float, float] | None = None,
    n_alleles: int = 2,
    seed: int = 0,
    epoch: int = 0,
    indices: Any = None,
    dtype: Any = np.int64,
) -> dict[str, np.ndarray]:
    """Pad haplotypes and their mask together, then make model inputs.

    Parameters
    ----------
    haps : int array, shape (rows, sites) or (samples, ploidy, sites)
        Alleles of the real content (``0`` ref, ``>= 1`` alt, negative missing).
    mask : bool array
        The mask drawn on the unpadded data: the shape of ``haps`` (per haplotype) or, for 3-D
        ``haps``, a site mask ``(samples, sites)`` applied to every haplotype. A per-haplotype
        mask that marks a missing call, or any mask that marks padding, raises ``ValueError``;
        a site mask skips the missing calls of a masked site.
    lengths : int array, optional
        Real sites per sample; the batch is padded to ``max(lengths)`` (or ``sites``).
    pad_to, pad_to_multiple_of : int, optional
        Pad to this width / round the width up to a multiple.
    replace : (p_mask, p_random, p_keep), optional
        BERT's replacement for masked positions (e.g. ``(0.8, 0.1, 0.1)``): MASK token, a random
        allele token (uniform over ``n_alleles``), or the true token. Default: always MASK.
    n_alleles : int, default 2
        Number of allele classes, for random replacement.
    seed, epoch, indices
        Key the replacement draws, as for the mask functions.
    dtype : numpy integer dtype, default int64
        Dtype of ``input_ids``, ``labels`` and ``attention_mask``.

    Returns
    -------
    dict of numpy arrays, each ``(..., width)``
        ``input_ids`` (tokens, see :mod:`maskkit.tokens`), ``labels`` (the true allele at masked
        positions, ``-100`` elsewhere), ``attention_mask`` (1 real, 0 padding) and ``mask``.

    Examples
    --------
    >>> import numpy as np, maskkit as mk
    >>> haps = np.array([[0, 1, -1, 0]], dtype=np.int8)
    >>> m = np.array([[False, True, False, False]])
    >>> b = mk.collate(haps, m, lengths=[3], pad_to=5)
    >>> b["input_ids"].tolist(), b["labels"].tolist()
    ([[3, 1, 2, 0, 0]], [[-100, 1, -100, -100, -100]])
    """
    h2, ploidy, shape = v.haps_2d(haps)
    n = shape[0]
    m2, mask_div = v.mask_rows(mask, shape, ploidy)
    lens = v.lengths(lengths, n, shape[-1])
    width = padded_width(int(lens.max()) if n else 0, pad_to, pad_to_multiple_of)
    if replace is None:
        t_mask = t_keep = np.uint64(2**32)
    else:
        t_mask, t_keep, _ = replace_thresholds(replace)
    n_al = v.int_scalar(n_alleles, "n_alleles", low=1, high=2**31)
    seed_ = np.uint64(v.int_scalar(seed, "seed"))
    epoch_ = v.int_scalar(epoch, "epoch", high=2**63 - 1)
    idx = v.indices(indices, n)
    dt = np.dtype(dtype)
    if not np.issubdtype(dt, np.signedinteger):
        raise TypeError(f"dtype must be a signed integer dtype (labels hold -100), got {dt}")
    _check_alleles(h2, ploidy, lens, n_al, dt)
    out_shape = (*shape[:-1], width)
    rows = h2.shape[0]
    ids = np.empty((rows, width), dtype=dt)
    labels = np.empty((rows, width), dtype=dt)
    attention = np.empty((rows, width), dtype=dt)
    mask_out = np.empty((rows, width), dtype=np.bool_)
    if rows:  # also when width == 0: the kernel still checks the mask on padding
        n_pad, n_missing = _kernels.collate(
            h2, m2, mask_div, ploidy, lens, idx, seed_, epoch_,
            t_mask, t_keep, n_al, ids, labels, attention, mask_out,
        )  # fmt: skip
        if n_pad:
            raise ValueError(
                f"mask marks {n_pad} padding position(s) (at or beyond lengths); draw masks with "
                "the same lengths, so padding is never masked"
            )
        if n_missing and mask_div == 1:
            raise ValueError(
                f"mask marks {n_missing} missing call(s) (negative alleles); missing calls have no "
                "label and must not be masked"
            )
    return {
        "input_ids": ids.reshape(out_shape),
        "labels": labels.reshape(out_shape),
        "attention_mask": attention.reshape(out_shape),
        "mask": mask_out.reshape(out_shape),
    }
