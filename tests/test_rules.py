"""AF-aware, span and genotyping-array masks: reference, counts, eligibility, statistics."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numba
import numpy as np
import pytest
import reference as ref
from bounds import ALPHA, assert_binomial
from hypothesis import given
from hypothesis import strategies as st
from strategies import (
    MaskCase,
    af_tables,
    keep_vectors,
    mask_cases,
    rates_for,
    replacements,
    span_distributions,
)

import maskkit as mk
from maskkit import _rng
from maskkit.curriculum import Uniform
from maskkit.masks import span_length_probabilities

# ----------------------------------------------------------------------------- bit for bit


def test_new_stream_ids_match_reference() -> None:
    assert (_rng.STREAM_SPAN, _rng.STREAM_SPAN_ROUND) == (ref.STREAM_SPAN, ref.STREAM_SPAN_ROUND)
    assert _rng.STREAM_SAMPLE_RATE == 6  # appended, nothing renumbered


def _same_rule(got: np.ndarray, want: Any, exact: bool) -> None:
    """Bernoulli: the reference's mask bit for bit; exact: its per-group target counts."""
    if exact:
        ref.assert_exact(got, *want)
    else:
        np.testing.assert_array_equal(got, want)


@given(case=mask_cases(), data=st.data(), exact=st.booleans(), site_rate=st.booleans())
def test_af_mask_matches_reference(
    case: MaskCase, data: st.DataObject, exact: bool, site_rate: bool
) -> None:
    rule = data.draw(af_tables(case.haps.shape[0], case.haps.shape[-1]))
    kw = {**case.kwargs, "exact": exact, "site_rate": site_rate}
    got = mk.af_mask(case.haps, **rule, **kw)
    _same_rule(got, ref.af_mask(case.haps, **rule, **kw), exact)


@given(case=mask_cases(max_sites=300, max_samples=3), data=st.data())
def test_af_mask_long_rows_exact_match_reference(case: MaskCase, data: st.DataObject) -> None:
    """Long rows reach the probing fix-up as well as the shuffle."""
    rule = data.draw(af_tables(case.haps.shape[0], case.haps.shape[-1]))
    got = mk.af_mask(case.haps, **rule, exact=True, **case.kwargs)
    ref.assert_exact(got, *ref.af_mask(case.haps, **rule, exact=True, **case.kwargs))


@given(case=mask_cases(), exact=st.booleans())
def test_af_mask_single_bin_is_the_core_rule(case: MaskCase, exact: bool) -> None:
    """One bin: the class table gives smart_balanced_mask, the 1-D table random_mask, both modes."""
    sites = case.haps.shape[-1]
    freq = np.linspace(0, 1, sites)
    kw = {**case.kwargs, "exact": exact}
    n = case.haps.shape[0]
    r = np.broadcast_to(np.asarray(case.ref_rate, dtype=float), (n,))
    a = np.broadcast_to(np.asarray(case.alt_rate, dtype=float), (n,))
    # per-sample rates enter as a scale of a unit table
    both = mk.af_mask(case.haps, freq, [], [[1.0], [1.0]], scale=r, **kw)
    np.testing.assert_array_equal(both, mk.smart_balanced_mask(case.haps, r, r, **kw))
    if np.ndim(case.ref_rate) == 0 and np.ndim(case.alt_rate) == 0:
        table = [[case.ref_rate], [case.alt_rate]]
        got = mk.af_mask(case.haps, freq, [], table, **kw)
        want = mk.smart_balanced_mask(case.haps, case.ref_rate, case.alt_rate, **kw)
        np.testing.assert_array_equal(got, want)
    one = mk.af_mask(case.haps, freq, [], [1.0], scale=a, **kw)
    np.testing.assert_array_equal(one, mk.random_mask(case.haps, a, **kw))


@given(case=mask_cases(), data=st.data(), exact=st.booleans(), site_rate=st.booleans())
def test_array_mask_matches_reference(
    case: MaskCase, data: st.DataObject, exact: bool, site_rate: bool
) -> None:
    keep = data.draw(keep_vectors(case.haps.shape[-1]))
    kw = {**case.kwargs, "exact": exact, "site_rate": site_rate}
    got = mk.array_mask(case.haps, keep, case.ref_rate, kept_rate=case.alt_rate, **kw)
    want = ref.array_mask(case.haps, keep, case.ref_rate, kept_rate=case.alt_rate, **kw)
    _same_rule(got, want, exact)


@given(case=mask_cases(), dist=span_distributions(), exact=st.booleans(), site_rate=st.booleans())
def test_span_mask_matches_reference(
    case: MaskCase, dist: dict[str, Any], exact: bool, site_rate: bool
) -> None:
    kw = {**case.kwargs, **dist, "exact": exact, "site_rate": site_rate}
    got = mk.span_mask(case.haps, case.ref_rate, **kw)
    np.testing.assert_array_equal(got, ref.span_mask(case.haps, case.ref_rate, **kw))


# ----------------------------------------------------------------------------- every rule

RULES: dict[str, Callable[..., np.ndarray]] = {
    "af": lambda c, **kw: mk.af_mask(
        c.haps,
        np.linspace(0.0, 0.5, c.haps.shape[-1]),
        [0.05, 0.2],
        [[0.2, 0.5, 1.0], [0.9, c.alt_rate, 0.0]] if np.ndim(c.alt_rate) == 0 else [0.3, 0.6, 1.0],
        scale=c.ref_rate,
        **kw,
    ),
    "array": lambda c, **kw: mk.array_mask(
        c.haps, every=3, rate=c.ref_rate, kept_rate=c.alt_rate, **kw
    ),
    "span": lambda c, **kw: mk.span_mask(c.haps, c.ref_rate, mean_span=3.5, **kw),
    "span-table": lambda c, **kw: mk.span_mask(
        c.haps, c.ref_rate, span_lengths=([1, 4, 9], [0.2, 0.5, 0.3]), **kw
    ),
}


def _call(rule: str, case: MaskCase, **kw: Any) -> np.ndarray:
    return RULES[rule](case, **{**case.kwargs, **kw})


def _sub(case: MaskCase, idx: np.ndarray) -> MaskCase:
    ids = np.arange(case.haps.shape[0]) if case.indices is None else case.indices

    def take(x: Any) -> Any:
        return x[idx] if isinstance(x, np.ndarray) else x

    return MaskCase(case.haps[idx], take(case.ref_rate), take(case.alt_rate), case.seed,
                    case.epoch, ids[idx], take(case.lengths))  # fmt: skip


@pytest.mark.parametrize("rule", RULES)
@given(case=mask_cases(), exact=st.booleans(), parallel=st.booleans())
def test_padding_and_missing_never_masked(
    rule: str, case: MaskCase, exact: bool, parallel: bool
) -> None:
    m = _call(rule, case, exact=exact, parallel=parallel)
    assert m.shape == case.haps.shape
    assert m.dtype == np.bool_
    assert not (m & ~ref.eligible(case.haps, case.lengths)).any()
    np.testing.assert_array_equal(m, _call(rule, case, exact=exact))  # parallel == serial


@pytest.mark.parametrize("rule", RULES)
@given(case=mask_cases(), data=st.data(), exact=st.booleans())
def test_batch_order_and_composition(
    rule: str, case: MaskCase, data: st.DataObject, exact: bool
) -> None:
    """A sample's mask depends on its global id only, also with per-sample rates."""
    full = _call(rule, case, exact=exact)
    idx = np.array(data.draw(st.permutations(range(case.haps.shape[0]))), dtype=np.int64)
    idx = idx[: data.draw(st.integers(0, len(idx)))]
    np.testing.assert_array_equal(_call(rule, _sub(case, idx), exact=exact), full[idx])


@pytest.mark.parametrize("rule", RULES)
@given(case=mask_cases(), extra=st.integers(1, 9), junk=st.sampled_from([-1, 0, 1]))
def test_padding_invariance(rule: str, case: MaskCase, extra: int, junk: int) -> None:
    """Padding after the real part (any content) changes nothing, in both modes.

    The AF and array rules key sites by position, so the padded call gets the same per-site
    vectors extended: the frequency ramp and the every-3rd pattern do that by construction.
    """
    h = case.haps
    sites = h.shape[-1]
    lengths = np.full(h.shape[0], sites) if case.lengths is None else case.lengths
    padded = np.concatenate([h, np.full((*h.shape[:-1], extra), junk, dtype=h.dtype)], axis=-1)
    for exact in (False, True):
        base = _call(rule, case, exact=exact, lengths=lengths)
        longer = MaskCase(padded, case.ref_rate, case.alt_rate, case.seed, case.epoch,
                          case.indices, lengths)  # fmt: skip
        if rule == "af":  # same frequencies on the real part, anything after
            freq = np.concatenate([np.linspace(0.0, 0.5, sites), np.full(extra, 0.01)])
            m = mk.af_mask(padded, freq, [0.05, 0.2], [0.3, 0.6, 1.0], scale=case.ref_rate,
                           exact=exact, **longer.kwargs)  # fmt: skip
            base = mk.af_mask(h, freq[:sites], [0.05, 0.2], [0.3, 0.6, 1.0],
                              scale=case.ref_rate, exact=exact, **{**case.kwargs,
                              "lengths": lengths})  # fmt: skip
        else:
            m = _call(rule, longer, exact=exact)
        np.testing.assert_array_equal(m[..., :sites], base)
        assert not m[..., sites:].any()


@pytest.mark.parametrize("rule", RULES)
@given(case=mask_cases(ndim=2))
def test_two_d_rows_are_ploidy_one(rule: str, case: MaskCase) -> None:
    three = MaskCase(case.haps[:, None, :], case.ref_rate, case.alt_rate, case.seed, case.epoch,
                     case.indices, case.lengths)  # fmt: skip
    for exact in (False, True):
        np.testing.assert_array_equal(
            _call(rule, case, exact=exact), _call(rule, three, exact=exact)[:, 0, :]
        )


@pytest.mark.parametrize("rule", RULES)
def test_epoch_seed_and_haplotype_change_the_mask(rule: str) -> None:
    rng = np.random.default_rng(1)
    haps = np.repeat(rng.integers(-1, 3, size=(4, 1, 600)).astype(np.int8), 2, axis=1)
    case = MaskCase(haps, 0.5, 0.5, seed=10, epoch=0, indices=None, lengths=None)
    for exact in (False, True):
        base = _call(rule, case, exact=exact)
        for kw in ({"epoch": 1}, {"seed": 11}, {"indices": np.arange(4) + 1}):
            other = _call(rule, case, exact=exact, **kw)
            for s in range(4):
                assert not np.array_equal(other[s], base[s]), kw
        for s in range(4):  # twin haplotypes, different masks
            assert not np.array_equal(base[s, 0], base[s, 1])


@pytest.mark.parametrize("rule", RULES)
def test_thread_invariance(rule: str) -> None:
    rng = np.random.default_rng(3)
    haps = rng.choice(np.array([0, 0, 1, -1], dtype=np.int8), size=(300, 2, 257))
    lengths = rng.integers(0, 258, size=300)
    case = MaskCase(haps, rng.random(300), 0.7, 2**64 - 1, 3, None, lengths)
    for exact in (False, True):
        serial = _call(rule, case, exact=exact)
        before = numba.get_num_threads()
        try:
            for threads in sorted({1, min(2, numba.config.NUMBA_NUM_THREADS)}):
                numba.set_num_threads(threads)
                np.testing.assert_array_equal(_call(rule, case, exact=exact, parallel=True), serial)
        finally:
            numba.set_num_threads(before)


@pytest.mark.parametrize("rule", RULES)
@given(case=mask_cases(min_sites=1), replace=replacements())
def test_collate_replacement_with_every_rule(rule: str, case: MaskCase, replace: Any) -> None:
    """80/10/10 (or any split) replacement applies to AF-aware, span and array masks too."""
    m = _call(rule, case)
    n_alleles = max(2, int(case.haps.max(initial=0)) + 1)
    kw = {"replace": replace, "seed": case.seed, "epoch": case.epoch, "indices": case.indices}
    kw["n_alleles"] = n_alleles
    got = mk.collate(case.haps, m, lengths=case.lengths, **kw)
    want = ref.collate(case.haps, m, case.lengths, **kw)
    for key in want:
        np.testing.assert_array_equal(got[key], want[key])


# ----------------------------------------------------------------------------- counts


def _assert_count(k: int, p: float, n: int, what: str) -> None:
    assert k in (math.floor(p * n), math.ceil(p * n)), f"{what}: count {k} for rate {p} of {n}"


def _rows(haps: np.ndarray, lengths: Any) -> tuple[np.ndarray, np.ndarray, int]:
    ploidy = haps.shape[1] if haps.ndim == 3 else 1
    h2 = haps.reshape(haps.shape[0] * ploidy, haps.shape[-1])
    lens = np.full(haps.shape[0], haps.shape[-1]) if lengths is None else np.asarray(lengths)
    return h2, np.repeat(lens, ploidy), ploidy


@given(case=mask_cases(max_sites=120), data=st.data())
def test_af_exact_counts_per_class_and_bin(case: MaskCase, data: st.DataObject) -> None:
    rule = data.draw(af_tables(case.haps.shape[0], case.haps.shape[-1]))
    m = mk.af_mask(case.haps, **rule, exact=True, **case.kwargs)
    h2, lens, ploidy = _rows(case.haps, case.lengths)
    m2 = m.reshape(h2.shape)
    bins = ref.maf_bins(rule["freq"], rule["edges"], rule["fold"])
    bins = bins.reshape(1 if bins.ndim == 1 else case.haps.shape[0], h2.shape[1])
    table = np.asarray(rule["rates"], dtype=float)
    table2 = table if table.ndim == 2 else np.stack([table, table])
    scale = np.broadcast_to(np.asarray(rule["scale"], dtype=float), (case.haps.shape[0],))
    for r in range(h2.shape[0]):
        s = r // ploidy
        a, sel = h2[r, : lens[r]], m2[r, : lens[r]]
        b = bins[0 if bins.shape[0] == 1 else s, : lens[r]]
        for bb in range(table.shape[-1]):
            classes = [(a == 0, 0), (a > 0, 1)] if table.ndim == 2 else [(a >= 0, 0)]
            for cls, c in classes:
                g = cls & (b == bb)
                p = min(1.0, scale[s] * table2[c, bb])
                _assert_count(int(sel[g].sum()), p, int(g.sum()), f"class {c} bin {bb}")


@given(case=mask_cases(max_sites=120), data=st.data())
def test_array_exact_counts_and_kept_sites(case: MaskCase, data: st.DataObject) -> None:
    keep = data.draw(keep_vectors(case.haps.shape[-1]))
    m = mk.array_mask(case.haps, keep, case.ref_rate, kept_rate=case.alt_rate, exact=True,
                      **case.kwargs)  # fmt: skip
    h2, lens, ploidy = _rows(case.haps, case.lengths)
    m2 = m.reshape(h2.shape)
    for r in range(h2.shape[0]):
        s = r // ploidy
        a, sel, kp = h2[r, : lens[r]], m2[r, : lens[r]], keep[: lens[r]]
        for group, rate in ((~kp, case.ref_rate), (kp, case.alt_rate)):
            p = float(np.asarray(rate, dtype=float).reshape(-1)[0 if np.ndim(rate) == 0 else s])
            g = group & (a >= 0)
            _assert_count(int(sel[g].sum()), p, int(g.sum()), "array group")


@given(
    case=mask_cases(min_sites=1),
    every=st.integers(1, 7),
    exact=st.booleans(),
    rate=rates_for(6),
    data=st.data(),
)
def test_array_never_masks_kept_sites_at_rate_zero(
    case: MaskCase, every: int, exact: bool, rate: Any, data: st.DataObject
) -> None:
    """kept_rate=0: no kept site is ever masked, for every way of giving the array."""
    n, sites = case.haps.shape[0], case.haps.shape[-1]
    rate = rate[:n] if isinstance(rate, np.ndarray) else rate
    keep = data.draw(keep_vectors(sites))
    kw = {**case.kwargs, "exact": exact}
    by_vector = mk.array_mask(case.haps, keep, rate, **kw)
    assert not by_vector[..., keep].any()
    by_positions = mk.array_mask(case.haps, np.flatnonzero(keep), rate, **kw)
    np.testing.assert_array_equal(by_positions, by_vector)
    by_every = mk.array_mask(case.haps, every=every, rate=rate, **kw)
    assert not by_every[..., ::every].any()
    np.testing.assert_array_equal(by_every, mk.array_mask(case.haps, np.arange(sites) % every == 0,
                                                          rate, **kw))  # fmt: skip
    # and with rate 1 every eligible site off the array is masked
    full = mk.array_mask(case.haps, keep, 1.0, **kw)
    np.testing.assert_array_equal(full, ref.eligible(case.haps, case.lengths) & ~keep)


@given(case=mask_cases(max_sites=150), dist=span_distributions(), exact=st.booleans())
def test_span_count_within_one_span_of_target(
    case: MaskCase, dist: dict[str, Any], exact: bool
) -> None:
    """Per row: exact mode hits k = floor/ceil(rate n); otherwise k <= count < k + longest span."""
    m = mk.span_mask(case.haps, case.ref_rate, exact=exact, **dist, **case.kwargs)
    if "span_lengths" in dist:
        longest = int(np.max(dist["span_lengths"][0]))
    else:
        longest = dist["max_span"] or case.haps.shape[-1]
    h2, lens, ploidy = _rows(case.haps, case.lengths)
    m2 = m.reshape(h2.shape)
    p = np.broadcast_to(np.asarray(case.ref_rate, dtype=float), (case.haps.shape[0],))
    for r in range(h2.shape[0]):
        a, sel = h2[r, : lens[r]], m2[r, : lens[r]]
        n = int((a >= 0).sum())
        x = p[r // ploidy] * n
        count = int(sel.sum())
        if exact:
            _assert_count(count, p[r // ploidy], n, "span exact")
        else:
            assert math.floor(x) <= count < math.ceil(x) + max(longest, 1), (count, x, longest)


# ----------------------------------------------------------------------------- statistics


def test_af_rates_by_class_and_bin_in_binomial_intervals() -> None:
    rng = np.random.default_rng(12)
    sites = 3000
    freq = rng.beta(0.3, 2.0, size=sites)
    haps = (rng.random((150, 2, sites)) < freq).astype(np.int8)
    haps[rng.random(haps.shape) < 0.02] = -1
    lengths = rng.integers(1000, sites + 1, size=150)
    edges = [0.01, 0.05, 0.2]
    table = np.array([[0.5, 0.4, 0.3, 0.2], [0.95, 0.9, 0.8, 0.7]])
    m = mk.af_mask(haps, freq, edges, table, scale=0.9, seed=99, lengths=lengths)
    elig = ref.eligible(haps, lengths)
    bins = np.broadcast_to(ref.maf_bins(freq, edges), haps.shape)
    for c, cls in ((0, haps == 0), (1, haps > 0)):
        for b in range(4):
            sel = elig & cls & (bins == b)
            p = ref.threshold_probability(0.9 * table[c, b])
            assert_binomial(int(m[sel].sum()), int(sel.sum()), p, ALPHA / 8, f"class {c} bin {b}")


def test_array_rates_in_binomial_intervals() -> None:
    rng = np.random.default_rng(5)
    haps = rng.choice(np.array([0, 0, 1, -1], dtype=np.int8), size=(200, 2, 2000))
    keep = rng.random(2000) < 0.1
    m = mk.array_mask(haps, keep, 0.6, kept_rate=0.05, seed=4)
    elig = haps >= 0
    for group, p in ((~keep, 0.6), (keep, 0.05)):
        sel = elig & group
        assert_binomial(int(m[sel].sum()), int(sel.sum()), ref.threshold_probability(p),
                        ALPHA / 2, "array")  # fmt: skip


def _single_span_lengths(rows: int, **dist: Any) -> np.ndarray:
    """Rows whose target is one position: the first span alone reaches it, so the mask is one
    run whose length is the drawn span length (spans start where they fit in the row)."""
    sites = 1024
    haps = np.zeros((rows, sites), dtype=np.int8)
    m = mk.span_mask(haps, 1 / sites, seed=2024, **dist)
    counts = m.sum(axis=1)
    first = m.argmax(axis=1)
    last = sites - 1 - m[:, ::-1].argmax(axis=1)
    assert (last - first + 1 == counts).all()  # one contiguous run per row
    return counts


@pytest.mark.parametrize(
    "dist",
    [
        {"mean_span": 4.0},
        {"mean_span": 3.8, "max_span": 10},
        {"mean_span": 1.0},
        {"span_lengths": ([1, 2, 3, 5, 8], [0.1, 0.3, 0.25, 0.2, 0.15])},
    ],
    ids=["geometric", "truncated", "length-one", "table"],
)
def test_span_lengths_follow_the_distribution(dist: dict[str, Any]) -> None:
    """Goodness of fit: the count of each length (and of the tail) is in its binomial interval.

    12 intervals at ALPHA / 12 each: false-fail probability below 1e-7 (union bound).
    """
    rows = 20000
    counts = np.bincount(_single_span_lengths(rows, **dist), minlength=64)
    probs = span_length_probabilities(upto=len(counts) - 1, **dist)
    for length in range(1, 12):
        assert_binomial(int(counts[length]), rows, float(probs[length]), ALPHA / 12,
                        f"length {length}")  # fmt: skip
    tail = 1.0 - float(probs[:12].sum())
    assert_binomial(int(counts[12:].sum()), rows, max(tail, 0.0), ALPHA / 12, "length >= 12")
    if "mean_span" in dist and "max_span" not in dist:
        assert span_length_probabilities(**dist, upto=400)[1:].sum() == pytest.approx(1.0)


def test_span_runs_go_over_missing_calls_and_stop_at_padding() -> None:
    """A length-5 span over alternating missing calls masks 2 or 3 calls within 5 sites."""
    rows = 2000
    haps = np.tile(np.array([0, -1], dtype=np.int8), (rows, 50))  # 50 eligible of 100
    lengths = np.full(rows, 60)
    m = mk.span_mask(haps, 1 / 30, span_lengths=([5], [1.0]), seed=1, lengths=lengths)
    assert not m[:, 60:].any()
    assert not m[haps < 0].any()
    pos = [np.flatnonzero(row) for row in m]
    assert all(len(p) in (2, 3) and p[-1] - p[0] <= 4 for p in pos)


def test_span_fraction_is_the_target_on_average() -> None:
    """Exact mode: the masked fraction over many rows is rate (stochastic rounding)."""
    rng = np.random.default_rng(9)
    haps = rng.choice(np.array([0, 1, -1], dtype=np.int8), size=(4000, 2, 101))
    m = mk.span_mask(haps, 0.237, mean_span=5, seed=3, exact=True)
    n = (haps >= 0).sum(axis=-1)
    k = m.sum(axis=-1)
    x = 0.237 * n
    assert ((k == np.floor(x)) | (k == np.ceil(x))).all()
    up = k == np.ceil(x)
    frac = x - np.floor(x)
    sel = frac > 0
    # each row rounds up with probability frac: compare the total with a binomial-like bound
    mean = float(frac[sel].sum())
    t = math.sqrt(int(sel.sum()) * math.log(2 / ALPHA) / 2)  # Hoeffding, false-fail < ALPHA
    assert abs(int(up[sel].sum()) - mean) < t


def test_per_sample_rates_from_a_curriculum_distribution() -> None:
    """Per-sample rates (a Uniform distribution) apply to every rule, one rate per sample."""
    idx = np.arange(50, 80)
    r = Uniform(0.2, 0.9).sample_rates(idx, seed=4, epoch=1)
    haps = np.zeros((30, 2, 200), dtype=np.int8)
    kw = {"seed": 4, "epoch": 1, "indices": idx, "exact": True}
    for m, n in (
        (mk.af_mask(haps, np.full(200, 0.01), [0.05], [[1.0, 0.5], [1.0, 0.5]], scale=r, **kw),
         200),
        (mk.array_mask(haps, every=4, rate=r, **kw), 150),  # 50 sites on the array
        (mk.span_mask(haps, r, **kw), 200),
    ):  # fmt: skip
        counts = m.sum(axis=-1)
        for s in range(30):
            want = {math.floor(r[s] * n), math.ceil(r[s] * n)}
            assert set(counts[s].tolist()) <= want, (s, counts[s], r[s])


# ----------------------------------------------------------------------------- bad input

H = np.zeros((2, 2, 6), dtype=np.int8)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: mk.af_mask(H, np.full(5, 0.1), [0.05], [0.1, 0.2], seed=0), "freq"),
        (lambda: mk.af_mask(H, np.full(6, 1.5), [0.05], [0.1, 0.2], seed=0), "freq"),
        (lambda: mk.af_mask(H, np.full(6, 0.1), [0.05, 0.01], [0.1, 0.2, 0.3], seed=0), "edges"),
        (lambda: mk.af_mask(H, np.full(6, 0.1), [0.05], [0.1, 0.2, 0.3], seed=0), "rates"),
        (lambda: mk.af_mask(H, np.full(6, 0.1), [0.05], [0.1, 1.2], seed=0), "rates"),
        (lambda: mk.af_mask(H, np.full(6, 0.1), [0.05], [0.1, 0.2], scale=-1.0, seed=0), "scale"),
        (
            lambda: mk.af_mask(H, np.full(6, 0.1), [0.05], [0.1, 0.2], scale=[1, 2, 3], seed=0),
            "scale",
        ),
        (lambda: mk.af_mask(H, np.full(6, 0.1), [], [0.1], seed=-1), "seed"),
        (lambda: mk.array_mask(H, seed=0), "keep"),
        (lambda: mk.array_mask(H, [0, 1], every=2, seed=0), "keep"),
        (lambda: mk.array_mask(H, [0, 6], seed=0), "keep"),
        (lambda: mk.array_mask(H, np.ones(5, bool), seed=0), "keep"),
        (lambda: mk.array_mask(H, [0.5], seed=0), "keep"),
        (lambda: mk.array_mask(H, every=0, seed=0), "every"),
        (lambda: mk.array_mask(H, every=2, kept_rate=2.0, seed=0), "kept_rate"),
        (lambda: mk.array_mask(H, every=2, rate=np.nan, seed=0), "rate"),
        (lambda: mk.array_mask(H, every=2, seed=0, lengths=[7, 1]), "lengths"),
        (lambda: mk.span_mask(H, 1.5, seed=0), "rate"),
        (lambda: mk.span_mask(H, 0.5, mean_span=0.5, seed=0), "mean_span"),
        (lambda: mk.span_mask(H, 0.5, mean_span=np.inf, seed=0), "mean_span"),
        (lambda: mk.span_mask(H, 0.5, max_span=0, seed=0), "max_span"),
        (lambda: mk.span_mask(H, 0.5, span_lengths=([0, 1], [0.5, 0.5]), seed=0), "span_lengths"),
        (lambda: mk.span_mask(H, 0.5, span_lengths=([1, 2], [0.5, 0.6]), seed=0), "span_lengths"),
        (lambda: mk.span_mask(H, 0.5, span_lengths=[1, 2, 3], seed=0), "span_lengths"),
        (
            lambda: mk.span_mask(H, 0.5, span_lengths=([1], [1.0]), mean_span=2, seed=0),
            "span_lengths",
        ),
        (lambda: mk.span_mask(H, 0.5, seed=0, indices=[0]), "indices"),
        (lambda: mk.span_mask(H, 0.5, seed=0, out=np.zeros(3, bool)), "out"),
    ],
)
def test_bad_arguments_name_the_argument(call: Callable[[], Any], name: str) -> None:
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    assert name in str(info.value), info.value


def test_empty_shapes() -> None:
    for shape in [(0, 5), (3, 0), (0, 2, 4), (2, 2, 0)]:
        h = np.zeros(shape, dtype=np.int8)
        sites = shape[-1]
        for exact in (False, True):
            for m in (
                mk.af_mask(h, np.zeros(sites), [0.1], [0.5, 0.5], seed=0, exact=exact),
                mk.array_mask(h, every=2, seed=0, exact=exact),
                mk.span_mask(h, 0.5, seed=0, exact=exact),
            ):
                assert m.shape == shape
                assert not m.any()
