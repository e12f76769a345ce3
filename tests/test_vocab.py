"""maskkit.mask_tokens: masks on the user's own token ids (any vocabulary, 80/10/10, labels)."""

from __future__ import annotations

import numpy as np
import pytest
from bounds import ALPHA, assert_binomial
from hypothesis import given
from hypothesis import strategies as st
from strategies import epochs, seeds, token_batches

import maskkit as mk
from maskkit import tokens

MASK_ID = 99


@given(token_batches(), st.floats(0.0, 1.0), seeds(), epochs())
def test_protected_ids_untouched_labels_are_originals(case, rate, seed, epoch):
    ids, protect, eligible = case
    pool = np.setdiff1d(np.arange(20, 25), protect)
    mask = mk.random_mask(np.where(eligible, 0, -1).astype(np.int8), rate, seed=seed, epoch=epoch)
    out = mk.mask_tokens(
        ids, mask, mask_token_id=MASK_ID, random_ids=pool, protect=protect, seed=seed, epoch=epoch
    )
    x, y, m = out["input_ids"], out["labels"], out["mask"]
    np.testing.assert_array_equal(m, mask)
    np.testing.assert_array_equal(x[~m], ids[~m])  # unmasked and protected: unchanged
    assert not m[np.isin(ids, protect)].any()
    np.testing.assert_array_equal(y[m], ids[m])
    assert (y[~m] == tokens.IGNORE_INDEX).all()
    allowed = np.isin(x[m], pool) | (x[m] == MASK_ID) | (x[m] == ids[m])
    assert allowed.all()


def test_same_inputs_as_collate_with_maskkits_vocabulary():
    rng = np.random.default_rng(0)
    haps = (rng.random((6, 2, 300)) < 0.3).astype(np.int8)
    idx = np.array([5, 9, 2, 40, 7, 1])
    masker = mk.Masker("random", rate=0.4, seed=11)
    masker.set_epoch(3)
    mask = masker(haps, indices=idx)
    want = mk.collate(haps, mask, replace=(0.8, 0.1, 0.1), seed=11, epoch=3, indices=idx)
    got = mk.mask_tokens(
        haps + tokens.ALLELE_OFFSET, mask, mask_token_id=tokens.MASK,
        random_ids=[tokens.allele_token(0), tokens.allele_token(1)],
        seed=11, epoch=3, indices=idx,
    )  # fmt: skip
    np.testing.assert_array_equal(got["input_ids"], want["input_ids"])
    labels = np.where(want["labels"] >= 0, want["labels"] + tokens.ALLELE_OFFSET, -100)
    np.testing.assert_array_equal(got["labels"], labels)


def test_keyed_like_masks():
    ids = np.full((8, 500), 7)
    mask = np.ones_like(ids, dtype=bool)
    kw = {"mask_token_id": 1, "random_ids": [3, 4, 5, 6], "seed": 3, "epoch": 2}
    idx = np.arange(100, 108)
    a = mk.mask_tokens(ids, mask, indices=idx, **kw)["input_ids"]
    order = np.array([3, 0, 7, 5, 1, 2, 6, 4])
    b = mk.mask_tokens(ids[order], mask[order], indices=idx[order], **kw)["input_ids"]
    np.testing.assert_array_equal(a[order], b)
    c = mk.mask_tokens(ids, mask, indices=idx, **{**kw, "epoch": 3})["input_ids"]
    assert (a != c).any()


def test_split_within_binomial_bounds():
    ids = np.full((40, 2, 1000), 7)
    site_mask = np.ones((40, 1000), dtype=bool)  # one site mask for both rows of a sample
    pool = np.array([20, 21, 22, 23])
    x = mk.mask_tokens(ids, site_mask, mask_token_id=1, random_ids=pool, seed=5)["input_ids"]
    n = x.size
    a = ALPHA / 6
    assert_binomial(int((x == 1).sum()), n, 0.8, alpha=a, what="mask token")
    assert_binomial(int((x == 7).sum()), n, 0.1, alpha=a, what="kept")
    for t in pool:
        assert_binomial(int((x == t).sum()), n, 0.1 / pool.size, alpha=a, what=f"random {t}")


def test_errors_name_the_fix():
    ids = np.array([[1, 5, 6, 2]])
    m = np.array([[True, True, False, False]])
    with pytest.raises(ValueError, match="protected ids"):
        mk.mask_tokens(ids, m, mask_token_id=4, random_ids=[5, 6], protect=[1, 2])
    with pytest.raises(ValueError, match="random_ids="):
        mk.mask_tokens(ids, m, mask_token_id=4)
    with pytest.raises(ValueError, match=r"random_ids holds protected ids \[2\]"):
        mk.mask_tokens(ids, m, mask_token_id=4, random_ids=[2, 5], protect=[2])
    with pytest.raises(ValueError, match="mask_token_id=2 is in protect"):
        mk.mask_tokens(ids, m, mask_token_id=2, replace=(1, 0, 0), protect=[2])
    with pytest.raises(TypeError, match="ids must be integer"):
        mk.mask_tokens(ids.astype(float), m, mask_token_id=4, replace=(1, 0, 0))
    with pytest.raises(ValueError, match="mask shape"):
        mk.mask_tokens(ids, m[:, :2], mask_token_id=4, replace=(1, 0, 0))
    with pytest.raises(ValueError, match="sum to 1"):
        mk.mask_tokens(ids, m, mask_token_id=4, replace=(0.5, 0, 0))
