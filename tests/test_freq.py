"""maskkit.freq: the one definition of MAF bins, used by the af mask, maskkit.io and metrics."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import maskkit as mk
from maskkit import freq, io, metrics

FREQS = st.lists(st.one_of(st.floats(0, 1), st.just(float("nan"))), min_size=1, max_size=40)


@given(FREQS)
def test_every_module_bins_a_site_alike(values: list[float]) -> None:
    f = np.asarray(values)
    m = np.minimum(f, 1 - f)
    want = np.where(np.isnan(m), -1, np.where(m < 0.01, 0, np.where(m < 0.05, 1, 2)))
    got = freq.maf_bins(f)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(io.maf_bins(f), want)
    np.testing.assert_array_equal(mk.af_bins(f, freq.DEFAULT_EDGES), want)
    called = ~np.isnan(f)
    if called.any():
        scorer = metrics.MinorAlleleScorer(f[called])
        np.testing.assert_array_equal(scorer.site_bin, want[called])


def test_one_set_of_labels() -> None:
    labels = freq.bin_labels()
    assert labels == metrics.bin_labels() == ["maf<0.01", "0.01<=maf<0.05", "maf>=0.05"]
    spec = io.maf_spectrum([0.001, 0.02, 0.3, float("nan")])
    assert spec == {"maf<0.01": 1, "0.01<=maf<0.05": 1, "maf>=0.05": 1, "no calls": 1}


def test_nan_policy_for_masks_is_a_named_error() -> None:
    haps = np.zeros((1, 3), dtype=np.int8)
    with pytest.raises(ValueError, match=r"freq.*NaN"):
        mk.af_mask(haps, [0.1, float("nan"), 0.2], [0.05], [0.5, 0.5], seed=0)


@pytest.mark.parametrize(
    ("edges", "error", "match"),
    [
        ([0.05, 0.01], ValueError, "strictly increasing"),
        ([[0.1]], ValueError, "1-D"),
        ([float("inf")], ValueError, "finite"),
        (["a"], TypeError, "real numbers"),
    ],
)
def test_edges_are_checked_once(edges: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        freq.check_edges(edges)
    with pytest.raises(error, match=match):
        freq.maf_bins([0.1], edges)


@pytest.mark.parametrize("bad", [1.5, -0.1])
def test_frequencies_out_of_range_name_the_argument(bad: float) -> None:
    with pytest.raises(ValueError, match=r"freq must hold frequencies in \[0, 1\]"):
        freq.maf_bins([bad])


@given(
    FREQS,
    st.lists(st.floats(0, 1), max_size=20, unique=True),
    st.booleans(),
    st.sampled_from([np.float64, np.float32]),
    st.sampled_from(["list", "tuple", "array"]),
)
def test_bins_equal_numpy_searchsorted(
    values: list[float], edges: list[float], fold: bool, dtype: type, kind: str
) -> None:
    # few edges (a pass per edge) and many (a binary search per site), either container
    f = np.asarray(values, dtype=dtype)
    e = sorted(edges)
    given_edges = {"list": e, "tuple": tuple(e), "array": np.asarray(e)}[kind]
    f64 = f.astype(np.float64)
    m = np.minimum(f64, 1 - f64) if fold else f64
    want = np.searchsorted(np.asarray(e, dtype=np.float64), m, side="right").astype(np.int32)
    want[np.isnan(f64)] = freq.NO_CALLS
    got = freq.maf_bins(f, given_edges, fold=fold)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, want)
    # a (samples, sites) table bins alike
    np.testing.assert_array_equal(
        freq.maf_bins(np.stack([f, f]), given_edges, fold=fold), np.stack([want, want])
    )


def test_first_out_of_range_frequency_is_named() -> None:
    with pytest.raises(ValueError, match=r"got 2\.0$"):
        freq.maf_bins([0.1, float("nan"), 2.0, -1.0])
    with pytest.raises(ValueError, match=r"got -1\.0$"):
        freq.maf_bins(np.array([[0.1, -1.0], [2.0, 0.3]]))
