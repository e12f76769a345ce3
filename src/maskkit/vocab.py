"""Masks applied to the user's own token ids: any vocabulary, BERT's 80/10/10, HF labels.

[`maskkit.collate`][maskkit.collate.collate] tokenizes alleles with maskkit's own small vocabulary
([`maskkit.tokens`][]) and labels masked positions with allele indices. A model with its own
vocabulary (a Hugging Face tokenizer, a nucleotide or k-mer model with CLS/SEP/PAD) needs
its own ids in and its own ids as labels: [`mask_tokens`][maskkit.vocab.mask_tokens] does that with
a mask drawn by a [`Masker`][maskkit.Masker] (or any mask function), keyed like the masks.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _token_kernels
from . import _validate as v
from ._narrow import narrow, narrow_int
from .collate import replace_thresholds
from .tokens import IGNORE_INDEX

__all__ = ["mask_tokens"]

_MAX_ID = 2**62


def _id_list(value: Any, name: str) -> np.ndarray:
    arr = np.asarray([] if value is None else value)
    if arr.size and (arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer)):
        raise TypeError(f"{name} must be integer token ids, got dtype {arr.dtype}")
    arr = narrow(arr if arr.size else arr.astype(np.int64), np.int64, name).ravel()
    if arr.size and (arr.min() < 0 or arr.max() >= _MAX_ID):
        raise ValueError(f"{name} must be token ids in [0, 2**62), got {arr.min()}..{arr.max()}")
    return np.unique(arr)


def mask_tokens(
    ids: Any,
    mask: Any,
    *,
    mask_token_id: int,
    random_ids: Any = None,
    replace: tuple[float, float, float] = (0.8, 0.1, 0.1),
    protect: Any = None,
    seed: int = 0,
    epoch: int = 0,
    indices: Any = None,
    ignore_index: int = IGNORE_INDEX,
    dtype: Any = np.int64,
) -> dict[str, np.ndarray]:
    """Apply ``mask`` to token ids of the user's vocabulary: model inputs and MLM labels.

    Parameters
    ----------
    ids : int array, shape (rows, length) or (samples, ploidy, length)
        Token ids of the model's vocabulary (padded, with special tokens, as the model takes
        them).
    mask : bool array
        Positions to predict: the shape of ``ids``, or for 3-D ``ids`` a site mask
        ``(samples, length)`` applied to every row of its sample. Draw it with a
        [`Masker`][maskkit.Masker] (``masker(...)``) so the curriculum sets the rate.
    mask_token_id : int
        The id a masked position gets (with probability ``replace[0]``).
    random_ids : int array, optional
        The ids random replacement draws from, uniformly (e.g. the nucleotide ids). Needed
        when ``replace[1] > 0``; may not hold a ``protect`` id.
    replace : (p_mask, p_random, p_keep), default (0.8, 0.1, 0.1)
        BERT's split: the mask token, a random id from ``random_ids``, or the original id.
        ``(1, 0, 0)`` always writes the mask token.
    protect : int array, optional
        Ids no mask may touch (CLS, SEP, PAD, ...): a mask that marks one raises
        ``ValueError``. Draw masks on eligible positions only (e.g. pass ``-1``, "missing",
        where ``ids`` holds a protected id).
    seed
        Key the replacement draws as for the mask functions (use the Masker's ``seed``,
        ``mask_epoch`` and the samples' global ids): the same inputs give the same outputs in
        any batch, worker or process.
    epoch
        Key the replacement draws as for the mask functions (use the Masker's ``seed``,
        ``mask_epoch`` and the samples' global ids): the same inputs give the same outputs in
        any batch, worker or process.
    indices
        Key the replacement draws as for the mask functions (use the Masker's ``seed``,
        ``mask_epoch`` and the samples' global ids): the same inputs give the same outputs in
        any batch, worker or process.
    ignore_index : int, default -100
        Label of positions that are not predicted (PyTorch's and Hugging Face's default).
    dtype : numpy signed integer dtype, default int64

    Returns
    -------
    dict of numpy arrays, each the shape of ids
        ``input_ids``; ``labels`` (the original id at masked positions, ``ignore_index``
        elsewhere); ``mask`` (bool, the positions predicted).

    Examples
    --------
    >>> import numpy as np, maskkit as mk
    >>> CLS, SEP, MASK = 1, 2, 4  # a nucleotide vocabulary: A, C, G, T = 5, 6, 7, 8
    >>> ids = np.array([[CLS, 5, 6, 7, 8, SEP]])
    >>> m = np.array([[False, True, False, True, False, False]])
    >>> out = mk.mask_tokens(ids, m, mask_token_id=MASK, replace=(1, 0, 0), protect=[CLS, SEP])
    >>> out["input_ids"].tolist(), out["labels"].tolist()
    ([[1, 4, 6, 4, 8, 2]], [[-100, 5, -100, 7, -100, -100]])
    """
    arr = np.asarray(ids)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"ids must be integer token ids, got dtype {arr.dtype}")
    if arr.ndim not in (2, 3):
        raise ValueError(
            f"ids must be 2-D (rows, length) or 3-D (samples, ploidy, length), got {arr.shape}"
        )
    dt = np.dtype(dtype)
    if not np.issubdtype(dt, np.signedinteger):
        raise TypeError(f"dtype must be a signed integer dtype (labels hold -100), got {dt}")
    # Every output value is an id of ids, mask_token_id, a random id or ignore_index: each is
    # checked against dtype here, so the casts at the end cannot wrap.
    fix = f"pass a dtype that holds every token id (dtype={dt} is too narrow), e.g. np.int64"
    shape = arr.shape
    ploidy = shape[1] if arr.ndim == 3 else 1
    ids2 = np.ascontiguousarray(
        narrow(arr, np.int64, "ids", fix="token ids must be below 2**63").reshape(-1, shape[-1])
    )
    narrow(ids2, dt, "ids", fix=fix)
    m2, mask_div = v.mask_rows(mask, shape, ploidy)
    m2 = np.ascontiguousarray(m2)
    t_mask, t_keep, p_random = replace_thresholds(replace)
    mask_id = v.int_scalar(mask_token_id, "mask_token_id", high=_MAX_ID - 1)
    narrow_int(mask_id, dt, "mask_token_id", fix=fix)
    ignore = narrow_int(
        ignore_index, dt, "ignore_index", fix=f"pass an integer {dt} holds, e.g. -100"
    )
    protected = _id_list(protect, "protect")
    pool = _id_list(random_ids, "random_ids")
    narrow(pool, dt, "random_ids", fix=fix)
    if p_random > 0 and pool.size == 0:
        raise ValueError(
            f"replace={tuple(replace)} draws random ids with probability {p_random}: pass "
            "random_ids= (the ids a random replacement may take) or replace=(0.8, 0, 0.2)"
        )
    clash = np.intersect1d(pool, protected)
    if clash.size:
        raise ValueError(f"random_ids holds protected ids {clash.tolist()}; drop them")
    if mask_id in set(protected.tolist()):
        raise ValueError(f"mask_token_id={mask_id} is in protect; it must be a maskable id")
    idx = v.indices(indices, shape[0])
    out_ids = np.empty(ids2.shape, dtype=np.int64)
    labels = np.empty(ids2.shape, dtype=np.int64)
    n_protected = _token_kernels.mask_tokens(
        ids2, m2, mask_div, ploidy, idx, np.uint64(v.int_scalar(seed, "seed")),
        v.int_scalar(epoch, "epoch", high=2**63 - 1), t_mask, t_keep, mask_id, pool,
        protected, ignore, out_ids, labels,
    )  # fmt: skip
    if n_protected:
        raise ValueError(
            f"mask marks {n_protected} position(s) holding protected ids {protected.tolist()}; "
            "draw the mask on eligible positions only (e.g. pass -1 where ids is a special "
            "token, or the rule's protect=)"
        )
    return {
        "input_ids": out_ids.astype(dt, copy=False).reshape(shape),
        "labels": labels.astype(dt, copy=False).reshape(shape),
        "mask": (np.repeat(m2, mask_div, axis=0) if mask_div > 1 else m2.copy()).reshape(shape),
    }
