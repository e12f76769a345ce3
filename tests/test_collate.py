"""collate: padding after masking, tokens, labels, site masks, 80/10/10 replacement."""

from __future__ import annotations

import numpy as np
import pytest
import reference as ref
from bounds import ALPHA, assert_binomial
from hypothesis import given
from hypothesis import strategies as st
from strategies import haplotypes, indices_for, lengths_for, masks_for, replacements, seeds

import maskkit as mk
from maskkit import tokens

KEYS = ("input_ids", "labels", "attention_mask", "mask")


def test_token_constants_match_reference() -> None:
    assert (tokens.PAD, tokens.MASK, tokens.MISSING) == (ref.PAD, ref.MASK, ref.MISSING)
    assert (tokens.ALLELE_OFFSET, tokens.IGNORE_INDEX) == (ref.ALLELE_OFFSET, ref.IGNORE_INDEX)
    assert tokens.allele_token(1) == ref.ALLELE_OFFSET + 1
    assert tokens.vocab_size(4) == ref.ALLELE_OFFSET + 4
    with pytest.raises(ValueError, match="allele"):
        tokens.allele_token(-1)
    with pytest.raises(ValueError, match="n_alleles"):
        tokens.vocab_size(0)


@st.composite
def collate_cases(draw: st.DrawFn) -> dict:
    haps = draw(haplotypes(max_allele=3))
    n, sites = haps.shape[0], haps.shape[-1]
    lengths = draw(st.none() | lengths_for(n, sites))
    mask = draw(masks_for(haps, lengths))
    if haps.ndim == 3 and draw(st.booleans()):
        mask = ref.union(mask)  # a site mask (samples, sites), broadcast over haplotypes
    lens_max = sites if lengths is None else int(np.max(lengths, initial=0))
    lens = np.full(n, sites) if lengths is None else lengths
    real = np.arange(sites) < lens[:, None]
    if haps.ndim == 3:
        real = np.broadcast_to(real[:, None, :], haps.shape)
    top = int(haps[real].max(initial=0))  # collate refuses alleles >= n_alleles
    return {
        "haps": haps,
        "mask": mask,
        "lengths": lengths,
        "pad_to": draw(st.none() | st.integers(lens_max, lens_max + 9)),
        "pad_to_multiple_of": draw(st.none() | st.integers(1, 16)),
        "replace": draw(replacements()),
        "n_alleles": draw(st.integers(top + 1, 6)),
        "seed": draw(seeds()),
        "epoch": draw(st.integers(0, 2**63 - 1)),
        "indices": draw(st.none() | indices_for(n)),
    }


@given(case=collate_cases())
def test_collate_matches_reference(case: dict) -> None:
    got = mk.collate(**case)
    want = ref.collate(**case)
    for key in KEYS:
        assert got[key].shape == want[key].shape, key
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)
    assert got["input_ids"].dtype == np.int64
    assert got["mask"].dtype == np.bool_


@given(case=collate_cases())
def test_collate_invariants(case: dict) -> None:
    """Properties that hold whatever the reference says."""
    b = mk.collate(**case)
    haps = case["haps"]
    n, sites = haps.shape[0], haps.shape[-1]
    lens = np.full(n, sites) if case["lengths"] is None else case["lengths"]
    width = b["input_ids"].shape[-1]
    assert width >= int(np.max(lens, initial=0))
    if case["pad_to"] is not None:
        assert width >= case["pad_to"]
    if case["pad_to_multiple_of"] is not None:
        assert width % case["pad_to_multiple_of"] == 0
    real = np.arange(width)[None, :] < lens[:, None]
    if haps.ndim == 3:
        real = np.broadcast_to(real[:, None, :], b["input_ids"].shape)
    ids, labels, att, m = (b[k] for k in KEYS)
    # padding: PAD, attention 0, label -100, never masked
    assert (ids[~real] == tokens.PAD).all()
    assert (att[~real] == 0).all()
    assert (labels[~real] == tokens.IGNORE_INDEX).all()
    assert not m[~real].any()
    assert (att[real] == 1).all()
    # labels: the true allele exactly at masked positions
    padded = np.zeros(ids.shape, dtype=np.int64)
    padded[..., : min(sites, width)] = haps[..., : min(sites, width)]
    np.testing.assert_array_equal(labels, np.where(m, padded, tokens.IGNORE_INDEX))
    # missing calls: MISSING token, never masked
    missing = real & (padded < 0)
    assert (ids[missing] == tokens.MISSING).all()
    assert not m[missing].any()
    # unmasked real calls keep their allele token
    plain = real & ~m & ~missing
    np.testing.assert_array_equal(ids[plain], tokens.ALLELE_OFFSET + padded[plain])
    if case["replace"] is None:
        assert (ids[m] == tokens.MASK).all()
    else:
        allele_tok = (ids[m] >= tokens.ALLELE_OFFSET) & (
            ids[m] < tokens.ALLELE_OFFSET + max(case["n_alleles"], int(padded.max(initial=0)) + 1)
        )
        assert ((ids[m] == tokens.MASK) | allele_tok).all()
    # a site mask marks every non-missing haplotype of the site
    mask = case["mask"]
    if haps.ndim == 3 and mask.ndim == 2:
        site = np.zeros((n, width), dtype=bool)
        site[:, : min(sites, width)] = mask[:, : min(sites, width)]
        np.testing.assert_array_equal(m, site[:, None, :] & real & (padded >= 0))
    else:
        np.testing.assert_array_equal(m[..., : min(sites, width)], mask[..., :width])


def test_collate_documented_example() -> None:
    haps = np.array([[0, 1, -1, 0]], dtype=np.int8)
    m = np.array([[False, True, False, False]])
    b = mk.collate(haps, m, lengths=[3], pad_to=5)
    assert b["input_ids"].tolist() == [[3, 1, 2, 0, 0]]
    assert b["labels"].tolist() == [[-100, 1, -100, -100, -100]]
    assert b["attention_mask"].tolist() == [[1, 1, 1, 0, 0]]
    assert b["mask"].tolist() == [[False, True, False, False, False]]


def test_site_mask_broadcasts_and_skips_missing() -> None:
    haps = np.array([[[0, 1, 1, 0], [1, -1, 0, 0]]], dtype=np.int16)
    site = np.array([[True, True, False, False]])
    b = mk.collate(haps, site)
    assert b["mask"].tolist() == [[[True, True, False, False], [True, False, False, False]]]
    assert b["labels"].tolist() == [[[0, 1, -100, -100], [1, -100, -100, -100]]]
    assert b["input_ids"].tolist() == [[[1, 1, 4, 3], [1, 2, 3, 3]]]


@pytest.mark.parametrize(
    ("max_len", "pad_to", "mult", "width"),
    [(5, None, None, 5), (5, 8, None, 8), (5, None, 4, 8), (8, None, 4, 8), (5, 9, 4, 12),
     (0, None, 3, 0), (1000, None, 64, 1024)],
)  # fmt: skip
def test_padded_width(max_len: int, pad_to: int | None, mult: int | None, width: int) -> None:
    assert mk.padded_width(max_len, pad_to=pad_to, pad_to_multiple_of=mult) == width
    haps = np.zeros((2, 10), dtype=np.int8)
    lens = np.array([max_len // 2, max_len]) if max_len <= 10 else None
    if lens is not None:
        b = mk.collate(
            haps, np.zeros_like(haps, bool), lengths=lens, pad_to=pad_to, pad_to_multiple_of=mult
        )
        assert b["input_ids"].shape == (2, width)


def test_pad_to_shorter_than_content_raises() -> None:
    with pytest.raises(ValueError, match="pad_to"):
        mk.collate(np.zeros((1, 6), np.int8), np.zeros((1, 6), bool), pad_to=5)
    with pytest.raises(ValueError, match="pad_to_multiple_of"):
        mk.collate(np.zeros((1, 6), np.int8), np.zeros((1, 6), bool), pad_to_multiple_of=0)


@given(data=st.data())
def test_mask_on_padding_raises(data: st.DataObject) -> None:
    haps = data.draw(haplotypes(min_sites=1, missing=False).filter(lambda h: h.shape[0] > 0))
    n, sites = haps.shape[0], haps.shape[-1]
    lengths = data.draw(lengths_for(n, sites).filter(lambda x: x.min() < sites))
    mask = data.draw(masks_for(haps, lengths))
    s = int(np.flatnonzero(lengths < sites)[0])
    j = data.draw(st.integers(int(lengths[s]), sites - 1))
    mask[s, ..., j] = True  # one padding position (every haplotype for 3-D)
    with pytest.raises(ValueError, match="padding"):
        mk.collate(haps, mask, lengths=lengths, n_alleles=4)
    if haps.ndim == 3:
        with pytest.raises(ValueError, match="padding"):
            mk.collate(haps, mask.any(axis=1), lengths=lengths, n_alleles=4)


def test_mask_beyond_the_padded_width_raises() -> None:
    """Masked padding past max(lengths) (dropped by the width) must still be reported."""
    haps = np.zeros((2, 10), dtype=np.int8)
    mask = np.zeros((2, 10), dtype=bool)
    mask[0, 8] = True
    with pytest.raises(ValueError, match="padding"):
        mk.collate(haps, mask, lengths=[4, 5])


def test_per_haplotype_mask_on_missing_raises() -> None:
    haps = np.array([[0, -1, 1]], dtype=np.int8)
    with pytest.raises(ValueError, match="missing"):
        mk.collate(haps, np.array([[False, True, False]]))
    haps3 = np.array([[[0, -3, 1], [0, 0, 1]]], dtype=np.int32)
    with pytest.raises(ValueError, match="missing"):
        mk.collate(haps3, np.array([[[False, True, False], [False, False, False]]]))


def test_output_dtype_option() -> None:
    haps = np.array([[0, 1, 1]], dtype=np.int8)
    b = mk.collate(haps, np.array([[True, False, False]]), pad_to=4, dtype=np.int32)
    assert {b[k].dtype for k in KEYS[:3]} == {np.dtype(np.int32)}
    assert b["labels"].tolist() == [[0, -100, -100, -100]]
    with pytest.raises(TypeError, match="dtype"):
        mk.collate(haps, np.zeros((1, 3), bool), dtype=np.uint8)


def test_replacement_keyed_by_sample_not_batch() -> None:
    rng = np.random.default_rng(5)
    haps = rng.integers(0, 2, size=(6, 2, 50)).astype(np.int8)
    mask = mk.random_mask(haps, 0.5, seed=1)
    ids = np.array([10, 11, 12, 13, 14, 15])
    full = mk.collate(haps, mask, replace=(0.8, 0.1, 0.1), n_alleles=4, seed=3, indices=ids)
    order = np.array([4, 1, 5])
    part = mk.collate(
        haps[order], mask[order], replace=(0.8, 0.1, 0.1), n_alleles=4, seed=3, indices=ids[order]
    )
    for key in KEYS:
        np.testing.assert_array_equal(part[key], full[key][order])
    other = mk.collate(haps, mask, replace=(0.8, 0.1, 0.1), n_alleles=4, seed=3, epoch=1,
                       indices=ids)  # fmt: skip
    assert not np.array_equal(other["input_ids"], full["input_ids"])


def test_replacement_proportions_80_10_10() -> None:
    """MASK / random allele / kept shares of masked positions, and uniform random alleles."""
    n_alleles = 4
    haps = np.zeros((200, 2, 5000), dtype=np.int8)  # true allele 0 everywhere
    mask = np.ones(haps.shape, dtype=bool)
    b = mk.collate(haps, mask, replace=(0.8, 0.1, 0.1), n_alleles=n_alleles, seed=12345)
    ids = b["input_ids"][b["mask"]]
    total = ids.size
    t_mask, t_keep = ref.threshold(0.8), ref.threshold(0.9)
    p_mask = t_mask / ref.TWO32
    p_rand = (t_keep - t_mask) / ref.TWO32
    p_keep = 1.0 - t_keep / ref.TWO32
    checks = 1 + n_alleles
    assert_binomial(int((ids == tokens.MASK).sum()), total, p_mask, ALPHA / checks, "MASK")
    for v in range(n_alleles):
        p = p_rand * ref.below_probability(v, n_alleles) + (p_keep if v == 0 else 0.0)
        count = int((ids == tokens.ALLELE_OFFSET + v).sum())
        assert_binomial(count, total, p, ALPHA / checks, f"allele {v}")
    assert ((ids == tokens.MASK) | (ids >= tokens.ALLELE_OFFSET)).all()
    # the replacement never touches labels or unmasked positions
    assert (b["labels"][b["mask"]] == 0).all()


def test_random_replacement_uniform_over_alleles() -> None:
    """Only random replacement: allele tokens uniform over n_alleles (5: not a power of two)."""
    n_alleles = 5
    haps = np.ones((100, 20000), dtype=np.int32)
    b = mk.collate(haps, np.ones(haps.shape, bool), replace=(0.0, 1.0, 0.0), n_alleles=n_alleles)
    ids = b["input_ids"].ravel()
    for v in range(n_alleles):
        count = int((ids == tokens.ALLELE_OFFSET + v).sum())
        p = ref.below_probability(v, n_alleles)
        assert_binomial(count, ids.size, p, ALPHA / n_alleles, f"allele {v}")
    assert (
        count + sum(int((ids == tokens.ALLELE_OFFSET + v).sum()) for v in range(n_alleles - 1))
        == ids.size
    )


NARROW = {"input_ids": np.uint8, "labels": np.int8, "attention_mask": np.bool_}


@given(case=collate_cases(), narrow=st.booleans())
def test_out_buffers_and_narrow_dtypes_hold_the_same_values(case: dict, narrow: bool) -> None:
    want = mk.collate(**case)
    dtype = NARROW if narrow else np.int32
    fresh = mk.collate(**case, dtype=dtype)
    # buffers full of garbage: every position must be written
    out = {k: np.full_like(a, 77 if a.dtype != np.bool_ else True) for k, a in fresh.items()}
    got = mk.collate(**case, dtype=dtype, out=out)
    for key in KEYS:
        assert got[key] is out[key], key
        assert fresh[key].dtype == out[key].dtype, key
        np.testing.assert_array_equal(fresh[key], want[key], err_msg=key)
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)


def test_out_takes_any_subset_of_outputs_and_its_dtype() -> None:
    haps = np.array([[[0, 1, -1, 2]], [[1, 0, 0, 0]]], dtype=np.int8)
    m = np.zeros(haps.shape, dtype=bool)
    m[0, 0, 1] = m[1, 0, 0] = True
    ids = np.empty((2, 1, 6), dtype=np.int16)
    b = mk.collate(haps, m, pad_to=6, n_alleles=3, out={"input_ids": ids})
    assert b["input_ids"] is ids
    assert b["labels"].dtype == np.int64
    assert ids.tolist() == [[[3, 1, 2, 5, 0, 0]], [[1, 3, 3, 3, 0, 0]]]
    assert b["labels"].tolist() == [[[-100, 1, -100, -100, -100, -100]], [[1] + [-100] * 5]]


@pytest.mark.parametrize(
    ("out", "error", "match"),
    [
        ({"input_ids": np.empty((1, 5), np.int64)}, ValueError, "shape"),
        ({"input_ids": np.empty((1, 4), np.int64)[:, ::2]}, ValueError, "shape"),
        ({"input_ids": np.empty((1, 8), np.int64)[:, ::2]}, ValueError, "C-contiguous"),
        ({"mask": np.empty((1, 4), np.int8)}, TypeError, "bool"),
        ({"labels": np.empty((1, 4), np.float32)}, TypeError, "integer"),
        ({"labels": [[0, 0, 0, 0]]}, TypeError, "numpy array"),
        ({"ids": np.empty((1, 4), np.int64)}, ValueError, "keys"),
    ],
)
def test_bad_out_buffers_raise(out: dict, error: type, match: str) -> None:
    haps = np.zeros((1, 4), dtype=np.int8)
    with pytest.raises(error, match=match):
        mk.collate(haps, np.zeros((1, 4), bool), out=out)


def test_out_overlapping_the_inputs_raises() -> None:
    haps = np.zeros((1, 4), dtype=np.int8)
    m = np.zeros((1, 4), dtype=bool)
    with pytest.raises(ValueError, match="overlaps"):
        mk.collate(haps, m, out={"mask": m})
    with pytest.raises(ValueError, match="overlaps"):
        mk.collate(haps, m, out={"labels": haps})


def test_dtypes_too_narrow_for_the_alleles_raise_instead_of_wrapping() -> None:
    m = np.zeros((1, 3), dtype=bool)
    big = np.array([[0, 300, 1]], dtype=np.int16)
    # 301 alleles: tokens up to 303 and labels up to 300 need int16
    with pytest.raises(ValueError, match=r"input_ids dtype uint8 cannot hold.*np\.int16"):
        mk.collate(big, m, n_alleles=301, dtype={"input_ids": np.uint8})
    with pytest.raises(ValueError, match=r"labels dtype int8 cannot hold.*np\.int16"):
        mk.collate(big, m, n_alleles=301, dtype={"labels": np.int8})
    with pytest.raises(ValueError, match="input_ids dtype uint8"):
        mk.collate(big, m, n_alleles=301, out={"input_ids": np.empty((1, 3), np.uint8)})
    with pytest.raises(ValueError, match="labels dtype uint8"):  # -100 needs a signed dtype
        mk.collate(big, m, n_alleles=301, dtype={"labels": np.uint8})
    b = mk.collate(big, m, n_alleles=301, dtype={"input_ids": np.int16, "labels": np.int16})
    assert b["input_ids"].tolist() == [[3, 303, 4]]
    # int16 alleles within n_alleles fit the narrowest dtypes; padding is not looked at
    small = np.array([[0, 2, 1, 30000]], dtype=np.int16)
    b = mk.collate(small, np.zeros((1, 4), bool), lengths=[3], n_alleles=3, dtype=NARROW)
    assert b["input_ids"].tolist() == [[3, 5, 4]]
    assert b["input_ids"].dtype == np.uint8
    # 253 alleles still fit uint8 tokens (<= 255) but not int8 labels (<= 127)
    mk.collate(small[:, :3], m, n_alleles=253, dtype={"input_ids": np.uint8})
    with pytest.raises(ValueError, match="input_ids dtype uint8"):
        mk.collate(small[:, :3], m, n_alleles=254, dtype={"input_ids": np.uint8})
    with pytest.raises(ValueError, match="labels dtype int8"):
        mk.collate(small[:, :3], m, n_alleles=129, dtype={"labels": np.int8})
    with pytest.raises(ValueError, match="unknown keys"):
        mk.collate(small[:, :3], m, n_alleles=3, dtype={"input_id": np.int32})
    with pytest.raises(TypeError, match="signed"):
        mk.collate(small[:, :3], m, n_alleles=3, dtype=np.uint16)
