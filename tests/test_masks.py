"""Mask rules against the NumPy reference, exact counts, eligibility and rate statistics."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import reference as ref
from bounds import ALPHA, assert_binomial, assert_uniform_counts
from hypothesis import given
from hypothesis import strategies as st
from strategies import MaskCase, haplotypes, mask_cases, rates, seeds

import maskkit as mk
from maskkit import _rng

# ----------------------------------------------------------------------------- the hash


@given(seed=seeds(), epoch=st.integers(0, 2**63 - 1), sample=st.integers(0, 2**63 - 1))
def test_reference_hash_three_ways(seed: int, epoch: int, sample: int) -> None:
    """Python-int hash == NumPy hash == the jitted ``_rng`` functions, word for word."""
    for hap in (0, 1):
        key = ref.row_key_int(seed, ref.STREAM_MASK, epoch, sample, hap)
        assert int(ref.row_keys(seed, ref.STREAM_MASK, epoch, sample, hap)) == key
        assert int(_rng.row_key(np.uint64(seed), _rng.STREAM_MASK, epoch, sample, hap)) == key
        w = ref.words(key, 7)
        w16 = ref.words16(key, 9)
        for j in range(7):
            assert int(w[j]) == ref.word_int(key, j) == int(_rng.u32_at(np.uint64(key), j))
        for j in range(9):
            assert int(w16[j]) == ref.word16_int(key, j) == int(_rng.u16_at(np.uint64(key), j))
        hashed = np.empty(3, dtype=np.uint64)
        _rng.hash_words(np.uint64(key), 3, hashed)
        assert hashed.view(np.uint16).tolist() == [ref.word16_int(key, j) for j in range(12)]
        assert ref.uniform01_int(key, 3) == _rng.uniform01(np.uint64(key), 3)
        for n in (1, 2, 7, 1000):
            h = ref.bits_int(key, 5)
            assert ref.below_int(h, n) == _rng.below(np.uint64(h), n) < n


def test_hash_known_value() -> None:
    """Pin splitmix64: the finaliser of 0x9E3779B97F4A7C15 (splitmix64's first output from 0)."""
    assert ref.mix64_int(0x9E3779B97F4A7C15) == 0xE220A8397B1DCDAF


def test_stream_ids_match_reference() -> None:
    assert (_rng.STREAM_MASK, _rng.STREAM_EXACT_ROUND, _rng.STREAM_EXACT_FIX) == (1, 2, 3)
    assert (_rng.STREAM_REPLACE, _rng.STREAM_REPLACE_ALLELE) == (4, 5)


# ----------------------------------------------------------------------------- bit for bit


@given(case=mask_cases(), site_rate=st.booleans())
def test_bernoulli_masks_match_reference(case: MaskCase, site_rate: bool) -> None:
    kw = case.kwargs
    got = mk.smart_balanced_mask(case.haps, case.ref_rate, case.alt_rate, site_rate=site_rate, **kw)
    want = ref.class_rate_mask(case.haps, case.ref_rate, case.alt_rate, site_rate=site_rate, **kw)
    assert got.dtype == np.bool_
    assert got.shape == case.haps.shape
    np.testing.assert_array_equal(got, want)
    smart = mk.smart_balanced_mask(
        case.haps, case.ref_rate, case.alt_rate, site_rate=site_rate, **kw
    )
    np.testing.assert_array_equal(smart, want)
    rnd = mk.random_mask(case.haps, case.ref_rate, site_rate=site_rate, **kw)
    np.testing.assert_array_equal(
        rnd, ref.random_mask(case.haps, case.ref_rate, site_rate=site_rate, **kw)
    )


@given(case=mask_cases(), site_rate=st.booleans())
def test_exact_masks_match_reference(case: MaskCase, site_rate: bool) -> None:
    kw = case.kwargs
    got = mk.smart_balanced_mask(
        case.haps, case.ref_rate, case.alt_rate, exact=True, site_rate=site_rate, **kw
    )
    want = ref.class_rate_mask(
        case.haps, case.ref_rate, case.alt_rate, exact=True, site_rate=site_rate, **kw
    )
    ref.assert_exact(got, *want)
    rnd = mk.random_mask(case.haps, case.ref_rate, exact=True, site_rate=site_rate, **kw)
    ref.assert_exact(
        rnd, *ref.random_mask(case.haps, case.ref_rate, exact=True, site_rate=site_rate, **kw)
    )


@given(case=mask_cases(max_sites=400, max_samples=3))
def test_exact_long_rows_match_reference(case: MaskCase) -> None:
    """Long rows reach the kernel's rejection-sampling fix-up as well as the Fisher-Yates one."""
    got = mk.smart_balanced_mask(case.haps, case.ref_rate, case.alt_rate, exact=True, **case.kwargs)
    want = ref.class_rate_mask(case.haps, case.ref_rate, case.alt_rate, exact=True, **case.kwargs)
    ref.assert_exact(got, *want)


@given(case=mask_cases())
def test_equal_class_rates_are_random_mask(case: MaskCase) -> None:
    """Documented: with equal rates in Bernoulli mode smart_balanced_mask equals random_mask."""
    a = mk.smart_balanced_mask(case.haps, case.ref_rate, case.ref_rate, **case.kwargs)
    b = mk.random_mask(case.haps, case.ref_rate, **case.kwargs)
    np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------------------- counts, eligibility


def _rows(case: MaskCase, mask: np.ndarray) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """(sample, alleles of the real part, mask of the real part) per haplotype row."""
    h = case.haps
    ploidy = h.shape[1] if h.ndim == 3 else 1
    rows = h.shape[0] * ploidy
    h2, m2 = h.reshape(rows, h.shape[-1]), mask.reshape(rows, h.shape[-1])
    lens = np.full(h.shape[0], h.shape[-1]) if case.lengths is None else case.lengths
    out = []
    for r in range(h2.shape[0]):
        s = r // ploidy
        out.append((s, h2[r, : lens[s]], m2[r, : lens[s]]))
    return out


def _rate(rate: object, s: int) -> float:
    a = np.asarray(rate, dtype=float)
    return float(a) if a.ndim == 0 else float(a[s])


def _assert_count(k: int, p: float, n: int) -> None:
    x = p * n
    assert k in (math.floor(x), math.ceil(x)), f"count {k} for rate {p} of {n}"


@given(case=mask_cases(max_sites=120))
def test_exact_counts_per_row_and_class(case: MaskCase) -> None:
    split = mk.smart_balanced_mask(
        case.haps, case.ref_rate, case.alt_rate, exact=True, **case.kwargs
    )
    for s, a, m in _rows(case, split):
        _assert_count(int(m[a == 0].sum()), _rate(case.ref_rate, s), int((a == 0).sum()))
        _assert_count(int(m[a > 0].sum()), _rate(case.alt_rate, s), int((a > 0).sum()))
    whole = mk.random_mask(case.haps, case.ref_rate, exact=True, **case.kwargs)
    for s, a, m in _rows(case, whole):
        _assert_count(int(m.sum()), _rate(case.ref_rate, s), int((a >= 0).sum()))


@given(case=mask_cases(), exact=st.booleans(), parallel=st.booleans())
def test_padding_and_missing_never_masked(case: MaskCase, exact: bool, parallel: bool) -> None:
    elig = ref.eligible(case.haps, case.lengths)
    for m in (
        mk.random_mask(case.haps, case.ref_rate, exact=exact, parallel=parallel, **case.kwargs),
        mk.smart_balanced_mask(
            case.haps, case.ref_rate, case.alt_rate, exact=exact, parallel=parallel, **case.kwargs
        ),
    ):
        assert not (m & ~elig).any()


@given(case=mask_cases(), exact=st.booleans())
def test_rate_one_masks_every_eligible_position_and_zero_none(case: MaskCase, exact: bool) -> None:
    elig = ref.eligible(case.haps, case.lengths)
    kw = {**case.kwargs, "exact": exact}
    np.testing.assert_array_equal(mk.random_mask(case.haps, 1.0, **kw), elig)
    assert not mk.random_mask(case.haps, 0.0, **kw).any()
    only_alt = mk.smart_balanced_mask(case.haps, 0.0, 1.0, **kw)
    np.testing.assert_array_equal(only_alt, elig & (case.haps > 0))


@given(haps=haplotypes(min_sites=1), rate=rates(), seed=seeds(), exact=st.booleans())
def test_out_buffer_is_filled_and_returned(
    haps: np.ndarray, rate: float, seed: int, exact: bool
) -> None:
    out = np.ones(haps.shape, dtype=bool)
    res = mk.random_mask(haps, rate, seed=seed, exact=exact, out=out)
    assert res is out
    np.testing.assert_array_equal(out, mk.random_mask(haps, rate, seed=seed, exact=exact))


@given(
    case=mask_cases(ndim=3, max_ploidy=4),
    exact=st.booleans(),
    site_rate=st.booleans(),
    parallel=st.booleans(),
    with_out=st.booleans(),
)
def test_union_option_is_union_of_the_mask(
    case: MaskCase, exact: bool, site_rate: bool, parallel: bool, with_out: bool
) -> None:
    """``union=True`` (fused) == ``mk.union`` of the haplotype mask, for every rule and option."""
    kw = {**case.kwargs, "exact": exact, "site_rate": site_rate, "parallel": parallel}
    n, sites = case.haps.shape[0], case.haps.shape[-1]
    calls = [
        lambda **o: mk.smart_balanced_mask(case.haps, case.ref_rate, case.alt_rate, **kw, **o),
        lambda **o: mk.smart_balanced_mask(case.haps, case.ref_rate, case.alt_rate, **kw, **o),
        lambda **o: mk.random_mask(case.haps, case.ref_rate, **kw, **o),
        lambda **o: mk.af_mask(case.haps, np.linspace(0, 0.5, sites), [0.1], [0.9, 0.2], **kw, **o),
        lambda **o: mk.array_mask(case.haps, every=3, kept_rate=case.alt_rate, **kw, **o),
        lambda **o: mk.span_mask(case.haps, case.ref_rate, **kw, **o),
    ]
    for call in calls:
        want = mk.union(call())
        out = np.ones((n, sites), dtype=bool) if with_out else None
        got = call(union=True, out=out)
        assert got.shape == (n, sites)
        assert got.dtype == np.bool_
        if with_out:
            assert got is out
        np.testing.assert_array_equal(got, want)


def test_union_option_needs_3d_haps_and_a_site_shaped_out() -> None:
    h = np.zeros((2, 8), dtype=np.int8)
    with pytest.raises(ValueError, match="union=True needs 3-D haps"):
        mk.smart_balanced_mask(h, 0.3, seed=0, union=True)
    h3 = np.zeros((2, 2, 8), dtype=np.int8)
    with pytest.raises(ValueError, match="out"):
        mk.smart_balanced_mask(h3, 0.3, seed=0, union=True, out=np.zeros(h3.shape, bool))


def test_unsigned_and_list_inputs_accepted() -> None:
    h = np.array([[0, 1, 2, 0, 1, 0, 0, 1]], dtype=np.uint8)
    want = mk.random_mask(h.astype(np.int16), 0.5, seed=3)
    np.testing.assert_array_equal(mk.random_mask(h, 0.5, seed=3), want)
    np.testing.assert_array_equal(mk.random_mask(h.tolist(), 0.5, seed=3), want)
    big_endian = h.astype(">i4")
    np.testing.assert_array_equal(mk.random_mask(big_endian, 0.5, seed=3), want)


def test_empty_shapes() -> None:
    for shape in [(0, 5), (3, 0), (0, 2, 4), (2, 2, 0)]:
        h = np.zeros(shape, dtype=np.int8)
        for exact in (False, True):
            m = mk.smart_balanced_mask(h, 0.5, 0.5, seed=0, exact=exact)
            assert m.shape == shape
            assert not m.any()


# ----------------------------------------------------------------------------- statistics


@pytest.mark.parametrize("p", [0.0005, 0.05, 0.3, 0.5, 0.7, 0.999])
def test_bernoulli_rate_in_binomial_interval(p: float) -> None:
    rng = np.random.default_rng(11)
    haps = rng.choice(np.array([0, 0, 1, -1], dtype=np.int8), size=(100, 2, 5001))
    m = mk.random_mask(haps, p, seed=2024, epoch=3)
    n = int((haps >= 0).sum())
    assert_binomial(int(m.sum()), n, ref.threshold_probability(p), what=f"rate {p}")


def test_class_rates_in_binomial_intervals() -> None:
    rng = np.random.default_rng(12)
    haps = rng.choice(np.array([0, 0, 0, 1, 2, -1], dtype=np.int16), size=(200, 2, 2001))
    lengths = rng.integers(0, 2002, size=200)
    m = mk.smart_balanced_mask(haps, 0.3, 0.7, seed=99, lengths=lengths)
    elig = ref.eligible(haps, lengths)
    for cls, p in ((haps == 0, 0.3), (haps > 0, 0.7)):
        sel = elig & cls
        assert_binomial(
            int(m[sel].sum()), int(sel.sum()), ref.threshold_probability(p), ALPHA / 2, "class"
        )


def test_words_of_one_hash_independent() -> None:
    """Positions 4q..4q+3 share one 64-bit hash: all 16 patterns at their product probability."""
    p = 0.4
    m = mk.random_mask(np.zeros((500, 4000), dtype=np.int8), p, seed=5)
    pt = ref.threshold_probability(p)
    quads = m.reshape(500, 1000, 4).astype(np.int64) @ (1 << np.arange(4))
    counts = np.bincount(quads.ravel(), minlength=16)
    for pattern in range(16):
        ones = bin(pattern).count("1")
        prob = pt**ones * (1 - pt) ** (4 - ones)
        assert_binomial(int(counts[pattern]), quads.size, prob, ALPHA / 17, f"{pattern:04b}")
    nxt = m[:, 3:-1:4] & m[:, 4::4]  # last word of a hash with the first of the next
    assert_binomial(int(nxt.sum()), nxt.size, pt * pt, ALPHA / 17, "neighbours")


@pytest.mark.parametrize("exact", [False, True])
def test_masks_independent_across_haplotypes_samples_and_epochs(exact: bool) -> None:
    """Same position, other haplotype / sample / epoch: jointly masked at p**2 (no shared bits)."""
    p = 0.3
    haps = np.zeros((300, 2, 1000), dtype=np.int8)
    m = mk.random_mask(haps, p, seed=21, epoch=4, exact=exact)
    later = mk.random_mask(haps, p, seed=21, epoch=5, exact=exact)
    pt = 0.3 if exact else ref.threshold_probability(p)  # exact: every row has exactly 300
    pairs = {
        "haplotypes": m[:, 0] & m[:, 1],
        "samples": m[:-1, 0] & m[1:, 0],
        "epochs": m & later,
        "seeds": m & mk.random_mask(haps, p, seed=22, epoch=4, exact=exact),
    }
    for what, both in pairs.items():
        # exact rows are not independent within a row, only across rows: bound per row pair
        assert_binomial(int(both.sum()), both.size, pt * pt, ALPHA / 4, what)


@pytest.mark.parametrize(("p", "n"), [(0.3, 7), (0.15, 61), (0.55, 1001)])
def test_stochastic_rounding_expectation(p: float, n: int) -> None:
    """k = floor(p n) + Bernoulli(frac(p n)): the number of rounded-up rows is binomial."""
    rows = 20000
    m = mk.random_mask(np.zeros((rows, n), dtype=np.int8), p, seed=7, exact=True)
    k = m.sum(axis=1)
    x = p * n
    assert set(np.unique(k)) <= {math.floor(x), math.ceil(x)}
    assert_binomial(int((k == math.ceil(x)).sum()), rows, x - math.floor(x), what="round up")


@pytest.mark.parametrize(
    ("n", "k", "rows"),
    [
        (20, 7, 20000),  # short rows: both fix-up algorithms (scan and shuffle, probing)
        (1001, 300, 3000),  # long rows: mostly few flips among many candidates
        (40, 1, 40000),  # a single pick among many
    ],
)
def test_exact_positions_uniform(n: int, k: int, rows: int) -> None:
    """Each position is chosen with probability k/n (checked for every position)."""
    p = k / n
    assert p * n == k  # no rounding: every row has exactly k
    haps = np.zeros((rows, n), dtype=np.int32)
    m = mk.random_mask(haps, p, seed=31, epoch=1, exact=True)
    assert (m.sum(axis=1) == k).all()
    per_position = m.sum(axis=0)
    for j in range(n):
        assert_binomial(int(per_position[j]), rows, k / n, ALPHA / n, f"position {j}")


def test_exact_subsets_chi_square() -> None:
    """n=8, k=3: the 56 subsets by a chi-square test (false-fail probability below 1e-6)."""
    rows = 112000  # 2,000 expected per subset: the chi-square law holds to well below 1e-6
    m = mk.random_mask(np.zeros((rows, 8), dtype=np.int8), 3 / 8, seed=9, epoch=2, exact=True)
    assert (m.sum(axis=1) == 3).all()
    code = m.astype(np.int64) @ (1 << np.arange(8))
    counts = np.bincount(code, minlength=256)[[c for c in range(256) if bin(c).count("1") == 3]]
    assert_uniform_counts(counts, alpha=1e-6)


def test_exact_subsets_uniform() -> None:
    """For n=6, k=3 every one of the 20 subsets is equally likely (joint, not just marginal)."""
    rows = 40000
    m = mk.random_mask(np.zeros((rows, 6), dtype=np.int8), 0.5, seed=8, exact=True)
    code = m.astype(np.int64) @ (1 << np.arange(6))
    counts = np.bincount(code, minlength=64)
    subsets = [c for c in range(64) if bin(c).count("1") == 3]
    assert counts.sum() == counts[subsets].sum() == rows
    for c in subsets:
        assert_binomial(int(counts[c]), rows, 1 / 20, ALPHA / 20, f"subset {c:06b}")


def test_exact_class_split_uniform_with_missing() -> None:
    """Per class exact counts with missing calls interleaved; class positions uniform."""
    pattern = np.array([0, 1, -1, 0, 1, 0, 0, -1, 1, 0, 0, 1], dtype=np.int8)  # 6 ref, 4 alt
    rows = 30000
    haps = np.tile(pattern, (rows, 1))
    m = mk.smart_balanced_mask(haps, 0.5, 0.25, seed=4, exact=True)
    assert (m[:, pattern == 0].sum(axis=1) == 3).all()
    assert (m[:, pattern > 0].sum(axis=1) == 1).all()
    assert not m[:, pattern < 0].any()
    freq = m.sum(axis=0)
    for j in np.flatnonzero(pattern >= 0):
        p = 0.5 if pattern[j] == 0 else 0.25
        assert_binomial(int(freq[j]), rows, p, ALPHA / 10, f"position {j}")


def test_site_rate_option_hits_the_site_rate() -> None:
    """site_rate=True: the union over two haplotypes is masked at the requested site rate."""
    haps = np.zeros((500, 2, 2000), dtype=np.int8)
    m = mk.random_mask(haps, 0.51, seed=1, site_rate=True)
    p_hap = ref.threshold_probability(mk.haplotype_rate_for_site_rate(0.51, 2))
    assert p_hap == pytest.approx(0.3, abs=2**-17)  # rates resolve to 2**-16
    site = mk.union(m)
    assert_binomial(int(site.sum()), site.size, 1 - (1 - p_hap) ** 2, what="site rate")


@given(st.floats(0.0, 1.0), st.integers(1, 8))
def test_haplotype_rate_for_site_rate_inverts_effective_rate(site: float, ploidy: int) -> None:
    p = mk.haplotype_rate_for_site_rate(site, ploidy)
    assert 0.0 <= p <= 1.0
    assert mk.effective_rate(p, ploidy) == pytest.approx(site, abs=1e-12)
    arr = mk.haplotype_rate_for_site_rate(np.array([site, 0.0, 1.0]), ploidy)
    np.testing.assert_allclose(arr, [p, 0.0, 1.0], atol=1e-15)


# ----------------------------------------------------------------------------- eligible, protect


@st.composite
def eligible_cases(draw: st.DrawFn) -> tuple[MaskCase, np.ndarray]:
    """A mask case and an eligible array of a shape that broadcasts to its haps."""
    case = draw(mask_cases())
    shape = case.haps.shape
    form = draw(st.sampled_from(["full", "sites", "rows"]))
    if form == "sites":
        shape = (shape[-1],)
    elif form == "rows":
        shape = (*shape[:-1], 1)
    bits = draw(st.lists(st.booleans(), min_size=int(np.prod(shape)), max_size=int(np.prod(shape))))
    return case, np.array(bits, dtype=bool).reshape(shape)


@given(ce=eligible_cases(), split=st.booleans())
def test_bernoulli_eligible_is_the_mask_and_eligible(
    ce: tuple[MaskCase, np.ndarray], split: bool
) -> None:
    """Bernoulli decisions do not depend on eligibility: masked = mask without it & eligible."""
    case, elig = ce
    kw = case.kwargs
    rates = (case.ref_rate, case.alt_rate) if split else (case.ref_rate,)
    fn = mk.smart_balanced_mask if split else mk.random_mask
    got = fn(case.haps, *rates, eligible=elig, **kw)
    np.testing.assert_array_equal(got, fn(case.haps, *rates, **kw) & elig)


@given(ce=eligible_cases(), parallel=st.booleans())
def test_exact_eligible_counts_only_eligible_positions(
    ce: tuple[MaskCase, np.ndarray], parallel: bool
) -> None:
    case, elig = ce
    kw = {**case.kwargs, "parallel": parallel}
    got = mk.smart_balanced_mask(
        case.haps, case.ref_rate, case.alt_rate, exact=True, eligible=elig, **kw
    )
    want = ref.class_rate_mask(
        case.haps, case.ref_rate, case.alt_rate, exact=True, eligible=elig, **case.kwargs
    )
    ref.assert_exact(got, *want)


@given(case=mask_cases(dtype=np.int16, max_allele=9), data=st.data())
def test_protected_tokens_never_masked(case: MaskCase, data: st.DataObject) -> None:
    """``protect`` = eligible where the token is not protected, in every rule and mode."""
    ids = data.draw(st.lists(st.integers(-1, 9), max_size=4))
    keep = ~np.isin(case.haps, ids)
    calls = [
        lambda **o: mk.random_mask(case.haps, case.ref_rate, **case.kwargs, **o),
        lambda **o: mk.smart_balanced_mask(case.haps, case.ref_rate, 0.9, **case.kwargs, **o),
        lambda **o: mk.array_mask(case.haps, every=2, **case.kwargs, **o),
        lambda **o: mk.span_mask(case.haps, case.ref_rate, **case.kwargs, **o),
    ]
    for call in calls:
        for exact in (False, True):
            got = call(exact=exact, protect=ids)
            assert not (got & ~keep).any()
            np.testing.assert_array_equal(got, call(exact=exact, eligible=keep))


def test_nucleotide_tokens_keep_cls_and_sep() -> None:
    """(n, L) token ids of a sequence model: CLS, SEP and PAD are never masked."""
    cls, sep, pad = 1, 2, 0
    rng = np.random.default_rng(3)
    lengths = rng.integers(4, 40, size=64)
    ids = np.full((64, 40), pad, dtype=np.int64)
    for i, n in enumerate(lengths):
        ids[i, 0], ids[i, 1 : n - 1], ids[i, n - 1] = cls, rng.integers(5, 9, n - 2), sep
    for exact in (False, True):
        m = mk.random_mask(ids, 0.5, seed=1, lengths=lengths, protect=[cls, sep, pad], exact=exact)
        assert not m[np.isin(ids, [cls, sep, pad])].any()
        if exact:  # counted among the tokens only
            for i, n in enumerate(lengths):
                assert m[i].sum() in (math.floor(0.5 * (n - 2)), math.ceil(0.5 * (n - 2)))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"eligible": np.ones(5, dtype=np.int8)}, TypeError, "eligible must be a bool array"),
        ({"eligible": np.ones(5, dtype=bool)}, ValueError, "eligible must broadcast"),
        ({"protect": [1.5]}, TypeError, "protect must be a token id"),
        ({"protect": [[1, 2]]}, TypeError, "protect must be a token id"),
    ],
)
def test_eligible_and_protect_errors_name_the_argument(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        mk.random_mask(np.zeros((3, 8), dtype=np.int8), 0.5, seed=0, **kwargs)


@pytest.mark.parametrize("fn", [mk.random_mask, mk.smart_balanced_mask])
def test_sample_by_site_eligible_applies_to_every_haplotype_of_its_sample(fn: Any) -> None:
    # samples == ploidy == 2: plain broadcasting would read the rows as haplotypes
    haps = np.zeros((2, 2, 16), dtype=np.int8)
    eligible = np.zeros((2, 16), dtype=bool)
    eligible[0, :8] = True  # sample 0: first 8 sites; sample 1: none
    m = fn(haps, 1.0, seed=5, eligible=eligible)
    assert m[0, :, :8].all()
    assert not m[0, :, 8:].any()
    assert not m[1].any()


@pytest.mark.parametrize(
    ("rates", "scale", "error", "match"),
    [
        ([0.5, float("nan")], 1.0, ValueError, r"rates must be in \[0, 1\] \(no NaN\), got nan"),
        ([[0.5, 0.2], [1.5, 0.1]], 1.0, ValueError, r"rates must be in \[0, 1\].*got 1\.5"),
        (np.r_[np.full(80, 0.2), -0.1], 1.0, ValueError, r"got -0\.1"),  # a long table
        ([0.5, 0.2, 0.1], 1.0, ValueError, r"rates must have shape \(2,\)"),
        ([0.5, 0.2], -1.0, ValueError, "scale must be finite and >= 0"),
        ([0.5, 0.2], float("inf"), ValueError, "scale must be finite and >= 0"),
        ([0.5, 0.2], True, TypeError, "scale must be a number"),
    ],
)
def test_af_rate_table_and_scale_errors_name_the_argument(
    rates: Any, scale: Any, error: type[Exception], match: str
) -> None:
    n_bins = np.size(rates) if np.ndim(rates) == 1 and np.size(rates) > 3 else 2
    edges = list(np.linspace(0.01, 0.4, n_bins - 1))
    with pytest.raises(error, match=match):
        mk.af_mask(
            np.zeros((2, 4), dtype=np.int8), np.full(4, 0.3), edges, rates, scale=scale, seed=0
        )


def test_af_scale_as_float_int_or_array_gives_the_same_mask() -> None:
    haps = (np.random.default_rng(0).random((4, 2, 300)) < 0.3).astype(np.int8)
    freq = np.random.default_rng(1).random(300)
    table = [[0.5, 0.3, 0.15], [0.9, 0.8, 0.7]]
    for scale in (1.0, 2.0, 0.37):
        want = mk.af_mask(haps, freq, [0.01, 0.05], table, scale=np.full(4, scale), seed=3)
        np.testing.assert_array_equal(
            mk.af_mask(haps, freq, [0.01, 0.05], table, scale=scale, seed=3), want
        )
    np.testing.assert_array_equal(
        mk.af_mask(haps, freq, [0.01, 0.05], table, scale=2, seed=3),
        mk.af_mask(haps, freq, [0.01, 0.05], table, scale=2.0, seed=3),
    )


def test_array_every_flags_follow_step_and_width() -> None:
    # the flags of every= are shared between calls of the same (step, sites): never mixed up
    for sites, step in [(8, 3), (9, 3), (8, 2), (8, 3)]:
        haps = np.zeros((1, sites), dtype=np.int8)
        m = mk.array_mask(haps, every=step, seed=0)
        np.testing.assert_array_equal(m[0], np.arange(sites) % step != 0)
