"""Bad arguments raise ValueError or TypeError naming them: no numba traceback, no silent mask."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import maskkit as mk

H2 = np.array([[0, 1, -1, 0, 1], [1, 0, 0, 0, 0]], dtype=np.int8)  # 2 samples x 5 sites
H3 = np.stack([H2, H2[::-1]], axis=1)  # 2 samples x ploidy 2 x 5 sites
M3 = np.zeros(H3.shape, dtype=bool)
MASK_FNS: dict[str, Callable[..., Any]] = {
    "random": lambda haps=H3, rate=0.3, **kw: mk.random_mask(haps, rate, **kw),
    "class": lambda haps=H3, ref_rate=0.3, alt_rate=0.7, **kw: mk.smart_balanced_mask(
        haps, ref_rate, alt_rate, **kw
    ),
    "smart": lambda haps=H3, ref_rate=0.3, alt_rate=0.7, **kw: mk.smart_balanced_mask(
        haps, ref_rate, alt_rate, **kw
    ),
}

BAD_HAPS: list[tuple[str, Any]] = [
    ("float", H3.astype(np.float64)),
    ("float32 2-D", H2.astype(np.float32)),
    ("bool", H3 > 0),
    ("uint64", H3.clip(0).astype(np.uint64)),
    ("complex", H2.astype(np.complex128)),
    ("object", H2.astype(object)),
    ("strings", np.array([["0", "1"]])),
    ("rank 1", H2[0]),
    ("rank 4", H3[None]),
    ("rank 0", np.int8(1)),
    ("ploidy 0", np.zeros((2, 0, 5), dtype=np.int8)),
    ("None", None),
]
BAD_RATES: list[tuple[str, Any]] = [
    ("nan", float("nan")),
    ("negative", -0.1),
    ("above one", 1.0 + 1e-12),
    ("inf", float("inf")),
    ("string", "0.3"),
    ("None", None),
    ("bool", True),
    ("complex", 0.3 + 0j),
    ("array with nan", np.array([0.3, np.nan])),
    ("array above one", np.array([0.3, 2.0])),
    ("array too long", np.array([0.3, 0.3, 0.3])),
    ("2-D array", np.full((2, 1), 0.3)),
    ("bool array", np.array([True, False])),
    ("complex array", np.array([0.3, 0.2], dtype=np.complex128)),
    ("string array", np.array(["0.3", "0.2"])),
]
BAD_SEEDS: list[tuple[str, Any]] = [
    ("negative", -1),
    ("2**64", 2**64),
    ("float", 1.0),
    ("numpy float", np.float64(3.0)),
    ("string", "1"),
    ("None", None),
    ("bool", True),
    ("array", np.array([1, 2])),
]
BAD_EPOCHS: list[tuple[str, Any]] = [
    ("negative", -1),
    ("2**63", 2**63),
    ("float", 2.0),
    ("string", "0"),
    ("None", None),
]
BAD_LENGTHS: list[tuple[str, Any]] = [
    ("longer than the row", np.array([5, 6])),
    ("negative", np.array([-1, 3])),
    ("float", np.array([3.0, 4.0])),
    ("bool", np.array([True, True])),
    ("wrong length", np.array([3, 3, 3])),
    ("scalar", 3),
    ("2-D", np.array([[3, 3]])),
    ("strings", ["3", "4"]),
]
BAD_INDICES: list[tuple[str, Any]] = [
    ("wrong length", np.array([0, 1, 2])),
    ("too short", np.array([0])),
    ("negative", np.array([-1, 2])),
    ("float", np.array([0.0, 1.0])),
    ("bool", np.array([True, False])),
    ("scalar", 1),
]
BAD_OUT: list[tuple[str, Any]] = [
    ("wrong shape", np.zeros((2, 5), dtype=bool)),
    ("wrong dtype", np.zeros(H3.shape, dtype=np.int8)),
    ("non-contiguous", np.zeros((2, 2, 10), dtype=bool)[..., ::2]),
    ("list", M3.tolist()),
]


def _expect(call: Callable[[], Any], name: str) -> None:
    """The call must raise ValueError or TypeError mentioning ``name``."""
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    assert name in str(info.value), f"message does not name {name!r}: {info.value}"


def _ids(cases: list[tuple[str, Any]]) -> list[str]:
    return [c[0] for c in cases]


@pytest.mark.parametrize("fn", MASK_FNS)
@pytest.mark.parametrize(("label", "value"), BAD_HAPS, ids=_ids(BAD_HAPS))
def test_bad_haps(fn: str, label: str, value: Any) -> None:
    _expect(lambda: MASK_FNS[fn](haps=value, seed=1), "haps")


@pytest.mark.parametrize("exact", [False, True])
@pytest.mark.parametrize(("label", "value"), BAD_RATES, ids=_ids(BAD_RATES))
def test_bad_rates(label: str, value: Any, exact: bool) -> None:
    _expect(lambda: mk.random_mask(H3, value, seed=1, exact=exact), "rate")
    _expect(lambda: mk.smart_balanced_mask(H3, value, 0.5, seed=1, exact=exact), "ref_rate")
    _expect(lambda: mk.smart_balanced_mask(H3, 0.5, value, seed=1, exact=exact), "alt_rate")
    _expect(lambda: mk.smart_balanced_mask(H3, 0.3, value, seed=1, exact=exact), "alt_rate")
    _expect(lambda: mk.random_mask(H3, value, seed=1, site_rate=True), "rate")


@pytest.mark.parametrize("fn", MASK_FNS)
@pytest.mark.parametrize(("label", "value"), BAD_SEEDS, ids=_ids(BAD_SEEDS))
def test_bad_seed(fn: str, label: str, value: Any) -> None:
    _expect(lambda: MASK_FNS[fn](seed=value), "seed")


def test_seed_is_required() -> None:
    with pytest.raises(TypeError, match="seed"):
        mk.random_mask(H3, 0.3)  # type: ignore[call-arg]


@pytest.mark.parametrize(("label", "value"), BAD_EPOCHS, ids=_ids(BAD_EPOCHS))
def test_bad_epoch(label: str, value: Any) -> None:
    _expect(lambda: mk.random_mask(H3, 0.3, seed=1, epoch=value), "epoch")
    _expect(lambda: mk.collate(H3, M3, epoch=value), "epoch")


@pytest.mark.parametrize("fn", MASK_FNS)
@pytest.mark.parametrize(("label", "value"), BAD_LENGTHS, ids=_ids(BAD_LENGTHS))
def test_bad_lengths(fn: str, label: str, value: Any) -> None:
    _expect(lambda: MASK_FNS[fn](seed=1, lengths=value, exact=True), "lengths")
    _expect(lambda: mk.collate(H3, M3, lengths=value), "lengths")
    _expect(lambda: mk.mask_stats(M3, H3, lengths=value), "lengths")


@pytest.mark.parametrize(("label", "value"), BAD_INDICES, ids=_ids(BAD_INDICES))
def test_bad_indices(label: str, value: Any) -> None:
    for fn in MASK_FNS.values():
        _expect(partial(fn, seed=1, indices=value), "indices")
    _expect(lambda: mk.collate(H3, M3, indices=value, replace=(0.8, 0.1, 0.1)), "indices")


@pytest.mark.parametrize(("label", "value"), BAD_OUT, ids=_ids(BAD_OUT))
def test_bad_out(label: str, value: Any) -> None:
    _expect(lambda: mk.random_mask(H3, 0.3, seed=1, out=value), "out")


@pytest.mark.parametrize(
    ("label", "value"),
    [("wrong shape", np.zeros((3, 5), bool)), ("int", np.zeros((2, 5), np.int8)),
     ("non-contiguous", np.zeros((2, 10), bool)[:, ::2].copy()[:, :4])],
)  # fmt: skip
def test_union_bad_arguments(label: str, value: Any) -> None:
    _expect(lambda: mk.union(M3, out=value), "out")
    _expect(lambda: mk.union(M3.astype(np.int8)), "mask")
    _expect(lambda: mk.union(M3[0]), "mask")
    _expect(lambda: mk.union(np.zeros((2, 0, 5), bool)), "ploidy")


def test_rate_helpers_bad_arguments() -> None:
    bad_rates: tuple[Any, ...] = (float("nan"), -0.5, 1.5, "x", None)
    for bad in bad_rates:
        _expect(partial(mk.effective_rate, bad), "rate")
        _expect(partial(mk.effective_site_rates, bad, 0.7), "ref_rate")
        _expect(partial(mk.effective_site_rates, 0.3, bad), "alt_rate")
        _expect(partial(mk.haplotype_rate_for_site_rate, bad), "site_rate")
    _expect(lambda: mk.haplotype_rate_for_site_rate(np.array([0.2, 1.2])), "site_rate")
    bad_ploidies: tuple[Any, ...] = (0, -1, 1.5, "2", 2**20)
    for bad in bad_ploidies:
        _expect(partial(mk.effective_rate, 0.3, bad), "ploidy")
        _expect(partial(mk.effective_site_rates, 0.3, 0.7, bad), "ploidy")
        _expect(partial(mk.haplotype_rate_for_site_rate, 0.5, bad), "ploidy")


def test_mask_stats_bad_arguments() -> None:
    _expect(lambda: mk.mask_stats(M3.astype(np.int8), H3), "mask")
    _expect(lambda: mk.mask_stats(np.zeros((2, 4), bool), H3), "mask")
    _expect(lambda: mk.mask_stats(M3, H3.astype(float)), "haps")


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"haps": H3.astype(np.float32)}, "haps"),
        ({"haps": H3 > 0}, "haps"),
        ({"haps": H2[0], "mask": M3[0, 0]}, "haps"),
        ({"mask": M3.astype(np.int8)}, "mask"),
        ({"mask": M3[:, :, :4]}, "mask"),
        ({"mask": M3[0, 0]}, "mask"),
        ({"mask": M3[:1]}, "mask"),
        ({"pad_to": 4}, "pad_to"),
        ({"pad_to": -1}, "pad_to"),
        ({"pad_to": 6.0}, "pad_to"),
        ({"pad_to_multiple_of": 0}, "pad_to_multiple_of"),
        ({"pad_to_multiple_of": 2.5}, "pad_to_multiple_of"),
        ({"replace": (0.8, 0.1)}, "replace"),
        ({"replace": 0.8}, "replace"),
        ({"replace": (0.8, 0.1, 0.2)}, "replace"),
        ({"replace": (0.8, float("nan"), 0.2)}, "replace"),
        ({"replace": (1.2, -0.1, -0.1)}, "replace"),
        ({"n_alleles": 0}, "n_alleles"),
        ({"n_alleles": 2.0}, "n_alleles"),
        ({"seed": -1}, "seed"),
        ({"seed": 0.5}, "seed"),
        ({"dtype": np.uint8}, "dtype"),
        ({"dtype": np.float32}, "dtype"),
    ],
)
def test_collate_bad_arguments(kwargs: dict[str, Any], name: str) -> None:
    args = {"haps": H3, "mask": M3, **kwargs}
    _expect(lambda: mk.collate(**args), name)


def test_padded_width_bad_arguments() -> None:
    _expect(lambda: mk.padded_width(10, pad_to=9), "pad_to")
    _expect(lambda: mk.padded_width(10, pad_to_multiple_of=-2), "pad_to_multiple_of")


# ----------------------------------------------------------------------------- fuzzing

WEIRD = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**65), 2**65),
    st.floats(allow_nan=True, allow_infinity=True),
    st.complex_numbers(max_magnitude=2),
    st.text(max_size=3),
    st.lists(st.integers(-3, 8), max_size=4),
    st.lists(st.floats(-1, 2), min_size=2, max_size=2),
    st.sampled_from(
        [np.float64(0.5), np.int8(3), np.uint64(2**64 - 1), np.bool_(True), np.array(0.5),
         np.array([1, 2]), np.array([0.5, 0.5]), np.array([[1, 2]]), np.array([3, -1]),
         np.array([1.5, 2.5]), np.array([True, False]), np.zeros((2, 5), np.float32),
         np.zeros((2, 2, 5), np.uint16), np.zeros((2, 2, 5), bool), np.array(["a", "b"])]
    ),
)  # fmt: skip
MASK_ARGS = ("haps", "rate", "seed", "epoch", "indices", "lengths", "out")


@given(arg=st.sampled_from(MASK_ARGS), value=WEIRD, exact=st.booleans())
def test_fuzz_mask_arguments(arg: str, value: Any, exact: bool) -> None:
    """Any value: a valid mask, or ValueError/TypeError naming the argument; nothing else."""
    kwargs: dict[str, Any] = {"haps": H3, "rate": 0.3, "seed": 1, "exact": exact, arg: value}
    error: Exception | None = None
    try:
        m = mk.random_mask(kwargs.pop("haps"), kwargs.pop("rate"), **kwargs)
    except (ValueError, TypeError) as e:
        error = e
    if error is not None:
        assert arg in str(error), f"{type(error).__name__} does not name {arg!r}: {error}"
    else:
        assert m.dtype == np.bool_
        assert m.ndim in (2, 3)


@given(
    arg=st.sampled_from(("lengths", "pad_to", "pad_to_multiple_of", "n_alleles", "seed",
                         "epoch", "indices", "replace")),
    value=WEIRD,
)  # fmt: skip
def test_fuzz_collate_arguments(arg: str, value: Any) -> None:
    kwargs: dict[str, Any] = {"replace": (0.8, 0.1, 0.1), arg: value}
    error: Exception | None = None
    try:
        b = mk.collate(H3, M3, **kwargs)
    except (ValueError, TypeError) as e:
        error = e
    if error is not None:
        assert arg in str(error), f"{type(error).__name__} does not name {arg!r}: {error}"
    else:
        assert b["input_ids"].shape[:2] == H3.shape[:2]
