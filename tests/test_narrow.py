"""The one checked narrowing refuses every value a cast would change, and keeps the rest."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from maskkit._narrow import narrow, narrow_int

INT_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]


@given(
    src=st.sampled_from(INT_DTYPES),
    dst=st.sampled_from(INT_DTYPES),
    data=st.data(),
)
def test_narrow_keeps_fitting_values_and_refuses_the_rest(src, dst, data):
    arr = data.draw(hnp.arrays(src, hnp.array_shapes(max_dims=2, max_side=6)))
    info = np.iinfo(dst)
    fits = all(info.min <= int(x) <= info.max for x in arr.ravel())
    if fits:
        out = narrow(arr, dst, "x")
        assert out.dtype == np.dtype(dst)
        assert [int(x) for x in out.ravel()] == [int(x) for x in arr.ravel()]
    else:
        with pytest.raises(ValueError, match=r"^x holds -?\d+, outside"):
            narrow(arr, dst, "x")


@pytest.mark.parametrize(
    ("values", "dtype", "shown"),
    [
        (np.array([256, 257], dtype=np.int16), np.int8, "256"),
        (np.array([255], dtype=np.uint8), np.int8, "255"),
        (np.array([-255], dtype=np.int16), np.int8, "-255"),
        (np.array([40000], dtype=np.int32), np.int16, "40000"),
        (np.array([2**63 + 5], dtype=np.uint64), np.int64, str(2**63 + 5)),
        (np.array([-1], dtype=np.int64), np.uint64, "-1"),
    ],
)
def test_values_that_used_to_wrap_are_named(values, dtype, shown):
    with pytest.raises(ValueError, match=f"ids holds {shown}, outside .*; use int64"):
        narrow(values, dtype, "ids", fix="use int64")


def test_floats_are_refused_unless_integral_floats_are_allowed():
    with pytest.raises(TypeError, match="indices must hold integers, got dtype float64"):
        narrow(np.array([1.0, 2.0]), np.int64, "indices")
    assert narrow(np.array([1.0, 2.0]), np.int64, "pos", integral_floats=True).tolist() == [1, 2]
    for bad in (2.5, np.nan, np.inf, 2.0**63):
        with pytest.raises(ValueError, match="pos holds"):
            narrow(np.array([1.0, bad]), np.int64, "pos", integral_floats=True)


def test_custom_error_class_is_raised():
    class StoreError(ValueError):
        pass

    with pytest.raises(StoreError):
        narrow(np.array([300]), np.int8, "a", error=StoreError)


def test_narrow_int():
    assert narrow_int(np.uint64(7), np.int8, "k") == 7
    with pytest.raises(ValueError, match="mask_token_id is 200, outside int8"):
        narrow_int(200, np.int8, "mask_token_id")
    for bad in (2.0, True, "3", None):
        with pytest.raises(TypeError, match="k must be an integer"):
            narrow_int(bad, np.int8, "k")
