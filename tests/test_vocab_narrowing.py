"""mask_tokens never wraps: ids of any width into any dtype= give the exact ids or an error."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import any_int_dtypes, wide_int_arrays

import maskkit as mk

SIGNED = [np.dtype(t) for t in (np.int8, np.int16, np.int32, np.int64)]


@st.composite
def token_cases(draw: st.DrawFn):
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 6)))
    ids = draw(wide_int_arrays(shape))
    mask = draw(st.lists(st.booleans(), min_size=ids.size, max_size=ids.size))
    dtype = draw(st.sampled_from(SIGNED))
    mask_id = draw(st.sampled_from([4, 127, 128, 200, 40_000, 2**40]))
    return ids, np.array(mask, dtype=bool).reshape(shape), dtype, mask_id


@given(token_cases())
def test_mask_tokens_exact_or_refused(case):
    ids, mask, dtype, mask_id = case
    info = np.iinfo(dtype)
    values = [int(x) for x in ids.ravel().tolist()]
    bad = [x for x in values if not info.min <= x <= info.max]
    if not info.min <= mask_id <= info.max:
        bad.append(mask_id)
    if bad:
        with pytest.raises(ValueError) as err:
            mk.mask_tokens(ids, mask, mask_token_id=mask_id, replace=(1, 0, 0), dtype=dtype)
        msg = str(err.value)
        assert any(re.search(rf"(holds|is) {v}\b", msg) for v in bad), msg
        return
    out = mk.mask_tokens(ids, mask, mask_token_id=mask_id, replace=(1, 0, 0), dtype=dtype)
    want_ids = np.where(mask, mask_id, ids.astype(object))
    want_labels = np.where(mask, ids.astype(object), -100)
    assert out["input_ids"].dtype == dtype
    assert out["labels"].dtype == dtype
    assert out["input_ids"].astype(object).tolist() == want_ids.tolist()
    assert out["labels"].astype(object).tolist() == want_labels.tolist()


@given(any_int_dtypes(), st.sampled_from(["f", "b"]))
def test_mask_tokens_refuses_non_integer_ids(dtype, kind):
    ids = np.array([[5, 6]], dtype=np.float64 if kind == "f" else bool)
    with pytest.raises(TypeError, match="ids must be integer"):
        mk.mask_tokens(ids, np.ones((1, 2), bool), mask_token_id=4, replace=(1, 0, 0))


@pytest.mark.parametrize(
    ("ids", "kw", "value"),
    [
        ([[5, 300]], {"dtype": np.int8}, 300),  # read as 44 before
        ([[5, 40000]], {"dtype": np.int16}, 40000),  # read as -25536 before
        ([[5, 6]], {"dtype": np.int8, "mask_token_id": 200}, 200),  # -56 before
        (np.array([[5, 2**63 + 5]], dtype=np.uint64), {}, 2**63 + 5),  # negative before
    ],
)
def test_reported_wraps_are_refused(ids, kw, value):
    kw = {"mask_token_id": 4, **kw}
    with pytest.raises(ValueError, match=rf"\b{value}\b"):
        mk.mask_tokens(np.asarray(ids), np.ones((1, 2), bool), replace=(1, 0, 0), **kw)


def test_random_ids_and_ignore_index_checked_against_dtype():
    ids, m = np.array([[5, 6]]), np.ones((1, 2), bool)
    with pytest.raises(ValueError, match="random_ids holds 300"):
        mk.mask_tokens(ids, m, mask_token_id=4, random_ids=[7, 300], dtype=np.int8)
    with pytest.raises(ValueError, match="ignore_index is -1000"):
        mk.mask_tokens(ids, m, mask_token_id=4, replace=(1, 0, 0), ignore_index=-1000,
                       dtype=np.int8)  # fmt: skip
    with pytest.raises(TypeError, match="ignore_index must be an integer"):
        mk.mask_tokens(ids, m, mask_token_id=4, replace=(1, 0, 0), ignore_index=-100.0)
