"""Union over haplotypes, effective-rate formulas (checked empirically) and mask_stats."""

from __future__ import annotations

import math

import numpy as np
import pytest
import reference as ref
from bounds import ALPHA, assert_binomial
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from strategies import MaskCase, haplotypes, lengths_for, mask_cases, masks_for, rates

import maskkit as mk


@given(
    m=hnp.arrays(np.bool_, hnp.array_shapes(min_dims=3, max_dims=3, min_side=0, max_side=7)).filter(
        lambda a: a.shape[1] > 0
    )
)
def test_union_is_any_over_ploidy(m: np.ndarray) -> None:
    got = mk.union(m)
    assert got.shape == (m.shape[0], m.shape[2])
    assert got.dtype == np.bool_
    np.testing.assert_array_equal(got, ref.union(m))
    np.testing.assert_array_equal(got, m.any(axis=1))
    out = np.ones(got.shape, dtype=bool)
    assert mk.union(m, out=out) is out
    np.testing.assert_array_equal(out, got)


@given(case=mask_cases(ndim=3), exact=st.booleans())
def test_union_of_masks_never_marks_ineligible_sites(case: MaskCase, exact: bool) -> None:
    m = mk.smart_balanced_mask(case.haps, case.ref_rate, case.alt_rate, exact=exact, **case.kwargs)
    site = mk.union(m)
    any_eligible = ref.eligible(case.haps, case.lengths).any(axis=1)
    assert not (site & ~any_eligible).any()
    for h in range(case.haps.shape[1]):  # the union covers every haplotype's mask
        assert not (m[:, h] & ~site).any()


def test_union_non_contiguous_input() -> None:
    m = np.random.default_rng(0).random((4, 3, 10)) < 0.3
    view = m[:, :, ::2]
    np.testing.assert_array_equal(mk.union(view), view.any(axis=1))


@given(rates(), rates(), st.integers(1, 6))
def test_effective_site_rates_formula(r: float, a: float, ploidy: int) -> None:
    got = mk.effective_site_rates(r, a, ploidy)
    assert sorted(got) == list(range(ploidy + 1))
    for k, p in got.items():
        assert p == pytest.approx(ref.effective_site_rate(r, a, ploidy, k), abs=1e-12)
        assert 0.0 <= p <= 1.0
    assert mk.effective_rate(r, ploidy) == pytest.approx(got[0], abs=1e-12)
    assert got[ploidy] == pytest.approx(mk.effective_rate(a, ploidy), abs=1e-12)


def test_effective_rate_documented_value() -> None:
    assert mk.effective_rate(0.3, 2) == pytest.approx(0.51)
    assert mk.effective_site_rates(0.3, 0.7) == pytest.approx({0: 0.51, 1: 0.79, 2: 0.91})


@pytest.mark.parametrize(("r", "a", "ploidy"), [(0.3, 0.7, 2), (0.5, 0.9, 2), (0.15, 0.6, 3)])
def test_union_effective_site_rate_empirical(r: float, a: float, ploidy: int) -> None:
    """Sites with k alt haplotypes are masked at 1 - (1-a)^k (1-r)^(p-k) after the union."""
    rng = np.random.default_rng(ploidy)
    haps = (rng.random((400, ploidy, 2500)) < 0.4).astype(np.int8)
    site = mk.union(mk.smart_balanced_mask(haps, r, a, seed=77, epoch=2))
    k_alt = haps.sum(axis=1)
    expected = mk.effective_site_rates(r, a, ploidy)
    for k in range(ploidy + 1):
        # rates are realised through 16-bit thresholds; the formula on those is the exact law
        p = ref.effective_site_rate(
            ref.threshold_probability(r), ref.threshold_probability(a), ploidy, k
        )
        assert p == pytest.approx(expected[k], abs=ploidy * 2**-17)
        sel = k_alt == k
        assert_binomial(
            int(site[sel].sum()), int(sel.sum()), p, ALPHA / (ploidy + 1), f"{k} alt haplotypes"
        )


def test_mask_stats_documented_example() -> None:
    haps = np.array([[[0, 0, 1, 1], [0, 1, 1, 0]]], dtype=np.int8)
    m = np.array([[[True, False, True, False], [False, False, False, False]]])
    s = mk.mask_stats(m, haps)
    assert (s["ref_rate"], s["alt_rate"]) == (0.25, 0.25)
    assert (s["site_rate_alt0"], s["site_rate_alt1"], s["site_rate_alt2"]) == (1.0, 0.0, 1.0)


def _assert_stats_equal(got: dict[str, float], want: dict[str, float]) -> None:
    assert set(got) == set(want)
    for key, w in want.items():
        g = got[key]
        assert (math.isnan(g) and math.isnan(w)) or g == pytest.approx(w, abs=1e-12), key


@given(data=st.data(), use_lengths=st.booleans())
def test_mask_stats_match_reference(data: st.DataObject, use_lengths: bool) -> None:
    haps = data.draw(haplotypes())
    n, sites = haps.shape[0], haps.shape[-1]
    lengths = data.draw(lengths_for(n, sites)) if use_lengths else None
    m = data.draw(masks_for(haps, lengths))
    _assert_stats_equal(mk.mask_stats(m, haps, lengths=lengths), ref.mask_stats(m, haps, lengths))
    if haps.ndim == 3:
        site = ref.union(m)
        _assert_stats_equal(
            mk.mask_stats(site, haps, lengths=lengths), ref.mask_stats(site, haps, lengths)
        )


def test_mask_stats_realized_rates_track_requested() -> None:
    rng = np.random.default_rng(3)
    haps = (rng.random((300, 2, 3000)) < 0.2).astype(np.int8)
    m = mk.smart_balanced_mask(haps, 0.4, 0.8, seed=9, exact=True)
    s = mk.mask_stats(m, haps)
    n_ref_rows = (haps == 0).sum(axis=-1)
    # exact mode: per row floor/ceil of p*n, so the pooled rate is within 1/n_min of p
    assert abs(s["ref_rate"] - 0.4) <= 1.0 / n_ref_rows.min()
    assert s["n_ref"] + s["n_alt"] == haps.size
