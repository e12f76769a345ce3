"""Collators never wrap or truncate: alleles of any integer width, float ids and token ids.

Each generated batch gives the exact answer (labels are the true alleles) or a maskkit error
that names the true offending value, never a wrapped one.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from strategies import any_int_dtypes, wide_int_arrays

import maskkit as mk
from maskkit import tokens
from maskkit.hf import HaplotypeDataCollator
from maskkit.torch import MaskingCollator

pytestmark = pytest.mark.torch

INT64_MAX = 2**63 - 1


def everything() -> mk.Masker:
    return mk.Masker("random", rate=1.0, seed=0)


@st.composite
def allele_items(draw: st.DrawFn) -> tuple[list[dict], int]:
    dt = draw(any_int_dtypes())
    ploidy = draw(st.integers(1, 2))
    n = draw(st.integers(1, 3))
    items = [
        {"haps": draw(wide_int_arrays((ploidy, draw(st.integers(1, 6))), dt)), "index": i}
        for i in range(n)
    ]
    return items, draw(st.sampled_from([1, 2, 3, 200, 300, 40_000]))


def expected_or_bad(items: list[dict], n_alleles: int) -> tuple[list[int], np.ndarray | None]:
    """The offending values (if any) and else the exact labels (allele, -100 for missing)."""
    values = [int(x) for it in items for x in it["haps"].ravel().tolist()]
    too_wide = [x for x in values if x > INT64_MAX]
    if too_wide:
        return too_wide, None
    bad = [x for x in values if x >= n_alleles]
    if bad:
        return [max(bad)], None
    width = max(it["haps"].shape[-1] for it in items)
    out = np.full((len(items), items[0]["haps"].shape[0], width), tokens.IGNORE_INDEX, np.int64)
    for row, it in zip(out, items):
        h = it["haps"].astype(object)
        row[:, : h.shape[-1]] = np.where(h >= 0, h, tokens.IGNORE_INDEX)
    return [], out


def check(collate, items, n_alleles, lut=None):
    bad, labels = expected_or_bad(items, n_alleles)
    if bad:
        with pytest.raises(ValueError) as err:
            collate(items)
        msg = str(err.value)
        assert any(re.search(rf"holds (allele )?{v}\b", msg) for v in bad), msg
        return
    got = collate(items)["labels"].numpy()
    if lut is not None:
        labels = np.where(labels >= 0, lut[np.maximum(labels, 0)], labels)
    np.testing.assert_array_equal(got, labels)


@given(allele_items())
def test_masking_collator_alleles_exact_or_refused(case):
    items, n_alleles = case
    check(MaskingCollator(everything(), n_alleles=n_alleles), items, n_alleles)


@given(allele_items())
def test_hf_collator_alleles_exact_or_refused(case):
    items, n_alleles = case
    collate = HaplotypeDataCollator(
        everything(), n_alleles=n_alleles, replace=None, flatten_ploidy=False
    )
    lut = np.arange(n_alleles) + tokens.ALLELE_OFFSET
    check(collate, items, n_alleles, lut)


@pytest.mark.parametrize(
    ("dtype", "values", "labels"),
    [
        (np.int16, [256, 257], None),  # wrapped to [0, 1] before
        (np.uint8, [255, 1], None),  # read as missing before
        (np.int16, [-255, 1], [-100, 1]),  # -255 is missing, not allele 1
        (np.int32, [-(2**31), 0], [-100, 0]),
    ],
)
def test_collator_does_not_wrap_alleles(dtype, values, labels):
    collate = MaskingCollator(everything())
    items = [{"haps": np.array(values, dtype=dtype), "index": 0}]
    if labels is None:
        with pytest.raises(ValueError, match=rf"allele {max(values)} but n_alleles=2"):
            collate(items)
    else:
        assert collate(items)["labels"].tolist() == [labels]


def test_allele_300_is_named_300():
    collate = MaskingCollator(everything())
    with pytest.raises(ValueError, match="allele 300 ") as err:
        collate([{"haps": np.array([300, 0], dtype=np.int16), "index": 0}])
    assert "44" not in str(err.value)


@pytest.mark.parametrize("index", [2.7, 2.0, np.float32(1.0), torch.tensor(1.5), True])
def test_float_or_bool_index_is_refused(index):
    collate = MaskingCollator(everything())
    with pytest.raises(TypeError, match="'index' must be an integer"):
        collate([{"haps": np.zeros(3, np.int8), "index": index}])


@pytest.mark.parametrize("index", [3, np.uint64(3), np.int8(3), torch.tensor(3)])
def test_integer_index_of_any_kind_is_kept(index):
    out = MaskingCollator(everything())([{"haps": np.zeros(3, np.int8), "index": index}])
    assert out["index"].tolist() == [3]


def test_float_lengths_are_refused():
    collate = MaskingCollator(everything(), lengths_key="n")
    with pytest.raises(TypeError, match="'n' must be an integer"):
        collate([{"haps": np.zeros(3, np.int8), "index": 0, "n": 2.5}])


@pytest.mark.parametrize(
    "kw",
    [
        {"allele_token_ids": [5.0, 6.7]},
        {"allele_token_ids": [5, 6.0]},
        {"mask_token_id": 1.5},
        {"pad_token_id": 0.0},
    ],
)
def test_hf_float_token_ids_are_refused(kw):
    with pytest.raises(TypeError, match="must be an integer"):
        HaplotypeDataCollator(everything(), **kw)


def test_hf_token_ids_beyond_int64_are_refused():
    with pytest.raises(ValueError, match=r"allele_token_ids\[0\] is 18446744073709551615"):
        HaplotypeDataCollator(everything(), allele_token_ids=[np.uint64(2**64 - 1), 7])


def test_dataset_refuses_float_indices_in_a_batch():
    from maskkit.torch import HaplotypeDataset

    ds = HaplotypeDataset(np.zeros((4, 2, 20), dtype=np.int8), everything(), windows=10)
    with pytest.raises(TypeError, match="dataset indices must be integers"):
        ds.__getitems__([1.5, 2.0])  # was truncated to items 1 and 2
    with pytest.raises(ValueError, match="18446744073709551615"):
        ds.__getitems__(np.array([2**64 - 1], dtype=np.uint64))
    assert ds.__getitems__(np.array([3], dtype=np.uint8))["index"].tolist() == [3]
