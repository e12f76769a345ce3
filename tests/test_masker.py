"""The Masker: same masks as the core, resume equivalence, fingerprints, validation copies."""

from __future__ import annotations

import json
import math
import pickle
from typing import Any

import numpy as np
import pytest
from bounds import ALPHA, assert_binomial
from hypothesis import given
from hypothesis import strategies as st

import maskkit as mk
from maskkit.curriculum import Beta, Constant, Cosine, Levels, Linear, Plateau, Uniform

LEVELS = [0.30, 0.40, 0.50, 0.60, 0.70, 0.80]


def make_haps(samples: int = 16, ploidy: int = 2, sites: int = 64, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    haps = (rng.random((samples, ploidy, sites)) < 0.2).astype(np.int8)
    haps[rng.random(haps.shape) < 0.03] = -1
    return haps


def make_lengths(samples: int, sites: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(sites // 2, sites + 1, size=samples)


# ----------------------------------------------------------------------------- same masks as core


@pytest.mark.parametrize("exact", [False, True])
@pytest.mark.parametrize("epoch", [0, 1, 2, 5, 40])
def test_smart_balanced_matches_core(exact: bool, epoch: int) -> None:
    sched = Levels(LEVELS, epochs_per_level=2)
    masker = mk.Masker("smart_balanced", rate=sched, alt_rate=0.7, seed=1234, exact=exact)
    haps = make_haps()
    lengths = make_lengths(16, 64)
    idx = np.arange(100, 116)
    masker.set_epoch(epoch)
    got = masker(haps, lengths=lengths, indices=idx)
    want = mk.smart_balanced_mask(
        haps, sched.rate(epoch), 0.7, seed=1234, epoch=epoch, indices=idx, lengths=lengths,
        exact=exact,
    )  # fmt: skip
    np.testing.assert_array_equal(got, want)
    assert masker.current_rates() == (sched.rate(epoch), 0.7)


@given(
    rate=st.floats(0, 1),
    seed=st.integers(0, 2**64 - 1),
    epoch=st.integers(0, 10**6),
    exact=st.booleans(),
    union=st.booleans(),
    site_rate=st.booleans(),
)
def test_random_matches_core(
    rate: float, seed: int, epoch: int, exact: bool, union: bool, site_rate: bool
) -> None:
    masker = mk.Masker(
        "random", rate=rate, seed=seed, exact=exact, union=union, site_rate=site_rate
    )
    assert masker.schedule == Constant(rate)  # a float rate is a constant schedule
    haps = make_haps(5, 2, 33, seed=epoch % 7)
    masker.set_epoch(epoch)
    want = mk.random_mask(haps, rate, seed=seed, epoch=epoch, exact=exact, site_rate=site_rate)
    if union:
        want = mk.union(want)
    np.testing.assert_array_equal(masker(haps), want)


def test_alt_rate_schedule_and_default() -> None:
    assert mk.Masker("smart_balanced", rate=0.3, seed=0).alt_schedule == Constant(0.7)
    masker = mk.Masker("smart_balanced", rate=0.3, alt_rate=Linear(0.9, 0.5, epochs=4), seed=3)
    haps = make_haps()
    for e in range(6):
        masker.set_epoch(e)
        alt = max(0.9 - 0.1 * e, 0.5)
        assert masker.current_rates() == pytest.approx((0.3, alt))
        want = mk.smart_balanced_mask(haps, 0.3, masker.current_rates()[1], seed=3, epoch=e)
        np.testing.assert_array_equal(masker(haps), want)


def test_per_sample_rates_match_core() -> None:
    ref, alt = Uniform(0.5, 0.99), Beta(2.0, 2.0, 0.5, 1.0)
    masker = mk.Masker("smart_balanced", rate=ref, alt_rate=alt, seed=11, exact=True)
    masker.set_epoch(6)
    haps = make_haps()
    idx = np.arange(16)[::-1] * 3
    r = ref.sample_rates(idx, seed=11, epoch=6, slot=0)
    a = alt.sample_rates(idx, seed=11, epoch=6, slot=1)
    want = mk.smart_balanced_mask(haps, r, a, seed=11, epoch=6, indices=idx, exact=True)
    np.testing.assert_array_equal(masker(haps, indices=idx), want)
    got_r, got_a = masker.sample_rates(idx)
    np.testing.assert_array_equal(got_r, r)
    np.testing.assert_array_equal(got_a, a)


def test_step_based_schedule_uses_global_step() -> None:
    masker = mk.Masker("random", rate=Cosine(0.1, 0.5, steps=10), seed=2)
    haps = make_haps()
    assert masker.current_rates()[0] == 0.1
    for _ in range(5):
        masker.step()
    assert masker.global_step == 5
    assert masker.current_rates()[0] == pytest.approx(0.3)
    want = mk.random_mask(haps, masker.current_rates()[0], seed=2, epoch=0)
    np.testing.assert_array_equal(masker(haps), want)
    assert masker.step(100) == 105
    assert masker.current_rates()[0] == 0.5


def test_masks_change_with_epoch_and_are_batch_independent() -> None:
    masker = mk.Masker("smart_balanced", rate=0.4, seed=8)
    haps = make_haps(20)
    idx = np.arange(20)
    a = masker(haps, indices=idx)
    np.testing.assert_array_equal(masker(haps, indices=idx), a)
    # a sub-batch in another order gets each sample's own mask
    sub = np.array([7, 3, 19])
    np.testing.assert_array_equal(masker(haps[sub], indices=idx[sub]), a[sub])
    masker.set_epoch(1)
    assert (masker(haps, indices=idx) != a).any()


def test_batch_is_collate_of_the_mask() -> None:
    masker = mk.Masker("smart_balanced", rate=0.5, seed=4, union=True)
    masker.set_epoch(2)
    haps = make_haps(6, 2, 30)
    lengths = make_lengths(6, 30)
    idx = np.arange(6) + 50
    got = masker.batch(
        haps, lengths=lengths, indices=idx, pad_to_multiple_of=8, replace=(0.8, 0.1, 0.1)
    )
    want = mk.collate(
        haps, masker(haps, lengths=lengths, indices=idx), lengths=lengths, pad_to_multiple_of=8,
        replace=(0.8, 0.1, 0.1), seed=4, epoch=2, indices=idx,
    )  # fmt: skip
    assert got.keys() == want.keys()
    for key in want:
        np.testing.assert_array_equal(got[key], want[key])
    with pytest.raises(TypeError, match="epoch"):
        masker.batch(haps, lengths=lengths, epoch=3)


# ----------------------------------------------------------------------------- resume equivalence


def build(seed: int = 1234) -> mk.Masker:
    return mk.Masker(
        "smart_balanced",
        rate=Plateau(LEVELS, patience=1, min_delta=0.005, mode="max"),
        alt_rate=Linear(0.6, 0.9, steps=30),
        seed=seed,
        exact=True,
    )


def run_epochs(masker: mk.Masker, epochs: range, haps: np.ndarray, metrics: list[float]) -> list:
    """Train-loop stand-in: per epoch, 3 batches (one step each), then a validation metric."""
    record = []
    lengths = make_lengths(haps.shape[0], haps.shape[2])
    for e in epochs:
        masker.set_epoch(e)
        for b in range(3):
            sl = slice(b * 4, b * 4 + 4)
            idx = np.arange(sl.start, sl.stop)
            m = masker(haps[sl], lengths=lengths[sl], indices=idx)
            record.append((e, b, masker.current_rates(), m))
            masker.step()
        masker.update(metrics[e])
    return record


@pytest.mark.parametrize("k", [0, 3, 7])
def test_resume_equivalence(k: int) -> None:
    epochs = 12
    haps = make_haps(12, 2, 48)
    metrics = [0.5, 0.6, 0.6, 0.601, 0.7, 0.7, 0.7, 0.8, 0.79, 0.78, 0.9, 0.9]
    full = run_epochs(build(), range(epochs), haps, metrics)
    assert len({r[2] for r in full}) > 3  # the rates do move

    first = build()
    part1 = run_epochs(first, range(k + 1), haps, metrics)
    state = json.loads(json.dumps(first.state_dict()))
    resumed = build()
    resumed.load_state_dict(state)
    assert resumed == first
    part2 = run_epochs(resumed, range(k + 1, epochs), haps, metrics)
    # the classmethod rebuilds configuration and state from the checkpoint alone
    rebuilt = mk.Masker.from_state_dict(state)
    part2b = run_epochs(rebuilt, range(k + 1, epochs), haps, metrics)

    for got in (part1 + part2, part1 + part2b):
        assert len(got) == len(full)
        for (e1, b1, r1, m1), (e2, b2, r2, m2) in zip(full, got):
            assert (e1, b1) == (e2, b2)
            assert r1 == r2
            np.testing.assert_array_equal(m1, m2)


def test_config_mismatch_load_raises() -> None:
    state = build(seed=1234).state_dict()
    with pytest.raises(
        ValueError, match=r"different configuration.*seed: checkpoint 1234, this Masker 99"
    ):
        build(seed=99).load_state_dict(state)
    other = mk.Masker(
        "smart_balanced", rate=Plateau(LEVELS[:3], patience=1, mode="max"), seed=1234, exact=True
    )
    with pytest.raises(ValueError, match=r"rate\.config\.levels"):
        other.load_state_dict(state)
    flipped = mk.Masker("smart_balanced", rate=0.3, seed=1, exact=False)
    with pytest.raises(ValueError, match="exact"):
        mk.Masker("smart_balanced", rate=0.3, seed=1, exact=True).load_state_dict(
            flipped.state_dict()
        )
    with pytest.raises(ValueError, match="from_state_dict"):
        mk.Masker("random", rate=0.3, seed=1).load_state_dict(flipped.state_dict())
    with pytest.raises(TypeError, match=r"Masker\.state_dict"):
        flipped.load_state_dict({"epoch": 3})


def test_fingerprint_ignores_training_state() -> None:
    a, b = build(), build()
    b.set_epoch(9)
    b.step(4)
    b.update(0.5)
    assert a.fingerprint == b.fingerprint
    assert build(seed=1).fingerprint != a.fingerprint
    assert len(a.fingerprint) == 16


def test_pickled_masker_gives_same_masks() -> None:
    masker = build()
    masker.set_epoch(3)
    masker.update(0.2)
    copy = pickle.loads(pickle.dumps(masker))
    haps = make_haps()
    np.testing.assert_array_equal(copy(haps), masker(haps))
    assert copy == masker


# ----------------------------------------------------------------------------- workers


def test_sync_state_makes_worker_copy_agree() -> None:
    main = build()
    worker = pickle.loads(pickle.dumps(main))  # a persistent worker's copy, made once
    haps = make_haps(12, 2, 48)
    for e, metric in enumerate([0.5, 0.5, 0.5, 0.5, 0.9]):
        main.set_epoch(e)
        main.step(7)
        main.update(metric)
        assert main.sync_fields == ("epoch", "step", "rate.level")
        shared = np.array(main.sync_state(), dtype=np.int64)  # what shared memory would carry
        worker.apply_sync_state(shared)
        assert worker.sync_state() == main.sync_state()
        assert worker.current_rates() == main.current_rates()
        np.testing.assert_array_equal(worker(haps), main(haps))
    assert main.sync_state()[2] > 0  # the plateau level did move
    with pytest.raises(ValueError, match="3 ints"):
        worker.apply_sync_state([1, 2])


def test_sync_state_without_plateau() -> None:
    masker = mk.Masker("random", rate=Levels(), seed=0)
    masker.set_epoch(4)
    masker.step(2)
    assert masker.sync_state() == (4, 2)
    with pytest.raises(ValueError, match="Plateau"):
        masker.update(0.3)


# ----------------------------------------------------------------------------- validation copy


def test_frozen_copy_is_fixed_across_epochs() -> None:
    train = build()
    train.set_epoch(2)
    train.update(0.1)
    train.update(0.1)
    haps = make_haps(12, 2, 48)
    val = train.frozen(rate=0.5, alt_rate=0.7, epoch=0)
    first = val(haps)
    want = mk.smart_balanced_mask(haps, 0.5, 0.7, seed=1234, epoch=0, exact=True)
    np.testing.assert_array_equal(first, want)
    for e in range(1, 6):
        train.set_epoch(e)
        train.update(0.1)  # training moves on, levels advance
        val.set_epoch(e)
        np.testing.assert_array_equal(val(haps), first)
    assert val.current_rates() == (0.5, 0.7)
    # defaults: the current rates of the training masker, frozen
    frozen_now = train.frozen()
    assert frozen_now.current_rates() == train.current_rates()
    frozen_now.set_epoch(50)
    frozen_now.step(1000)
    assert frozen_now.current_rates() == train.current_rates()
    # a frozen copy round-trips through its own state dict
    again = mk.Masker.from_state_dict(json.loads(json.dumps(val.state_dict())))
    np.testing.assert_array_equal(again(haps), first)


def test_frozen_per_sample_rates_are_fixed() -> None:
    train = mk.Masker("random", rate=Uniform(0.5, 0.99), seed=5)
    val = train.frozen(epoch=2)
    haps = make_haps()
    first = val(haps)
    val.set_epoch(9)
    np.testing.assert_array_equal(val(haps), first)
    train.set_epoch(2)
    np.testing.assert_array_equal(train(haps), first)


def test_fixed_epoch_needs_fixed_rates() -> None:
    with pytest.raises(ValueError, match="frozen"):
        mk.Masker("random", rate=Levels(), seed=0, fixed_epoch=0)


# ----------------------------------------------------------------------------- describe and stats


def test_describe_carries_the_trainer_banner() -> None:
    masker = mk.Masker(
        "smart_balanced", rate=Levels(LEVELS, epochs_per_level=2), alt_rate=0.7, seed=1234
    )
    masker.set_epoch(2)
    lines = masker.describe().splitlines()
    assert lines[0] == "=" * 80
    for want in [
        "Masking Strategy: smart_balanced",
        "Smart Mask Params: {'alt_mask_rate': 0.7}",
        "Curriculum Learning Levels: [0.30, 0.40, 0.50, 0.60, 0.70, 0.80]",
        "Epoch 2: Level 1",
        "  - Ref (0) Mask Rate: 40% (curriculum)",
        "  - Alt (>0) Mask Rate: 70% (fixed)",
    ]:
        assert want in lines, want
    assert lines.count("=" * 80) == 2
    assert lines.index("Masking Strategy: smart_balanced") < lines.index("Epoch 2: Level 1")
    masker.set_epoch(11)
    text = masker.describe()
    assert "Epoch 11: Level 5" in text
    assert "Ref (0) Mask Rate: 80% (curriculum)" in text


def test_describe_reports_union_site_rates() -> None:
    masker = mk.Masker("random", rate=0.3, seed=1, union=True)
    text = masker.describe()
    assert "Mask Rate (all alleles): 30% (fixed)" in text
    assert "Site Mask Rate after union (ploidy 2): 0 alt: 51%, 1 alt: 51%, 2 alt: 51%" in text
    smart = mk.Masker("smart_balanced", rate=0.3, alt_rate=0.7, seed=1, union=True)
    before = smart.describe()
    smart(make_haps(2, 3, 10))  # drawing masks leaves the banner as it was
    assert smart.describe() == before
    assert "ploidy 2" in before
    eff = mk.effective_site_rates(0.3, 0.7, ploidy=3)
    assert f"0 alt: {round(100 * eff[0], 2)}%" in smart.describe(ploidy=3)
    assert "ploidy 3" in smart.describe(ploidy=3)
    assert "Site Mask Rate" not in mk.Masker("random", rate=0.3, seed=1).describe()


def test_describe_other_schedules() -> None:
    plateau = mk.Masker("smart_balanced", rate=Plateau(patience=0, mode="max"), seed=1)
    plateau.update(1.0)
    plateau.update(0.0)
    assert "Epoch 0: Level 1" in plateau.describe()
    ramp = mk.Masker("random", rate=Linear(0.3, 0.15, steps=10), seed=1)
    ramp.step(5)
    text = ramp.describe()
    assert "(step 5)" in text
    assert "22.5% (curriculum)" in text
    assert "Curriculum Learning Levels" not in text
    dist = mk.Masker("random", rate=Uniform(0.5, 0.99), seed=1)
    assert "per-sample Uniform(0.5, 0.99), mean" in dist.describe()
    val = plateau.frozen(epoch=0)
    assert "Validation Masks: fixed" in val.describe()


def test_stats_before_and_after_union() -> None:
    masker = mk.Masker("smart_balanced", rate=0.3, alt_rate=0.7, seed=21, union=True)
    haps = make_haps(400, 2, 100, seed=3)
    hap_mask = masker.haplotype_mask(haps)
    np.testing.assert_array_equal(masker(haps), mk.union(hap_mask))
    s = masker.stats(hap_mask, haps)
    assert s["target_ref_rate"] == 0.3
    assert s["target_alt_rate"] == 0.7
    assert s["expected_site_rate_alt0"] == pytest.approx(0.51)
    want = mk.mask_stats(hap_mask, haps)
    for key, value in want.items():
        assert s[key] == value or (math.isnan(s[key]) and math.isnan(value))
    checks = 5
    n_ref, n_alt = int(s["n_ref"]), int(s["n_alt"])
    assert_binomial(round(s["ref_rate"] * n_ref), n_ref, 0.3, ALPHA / checks, "ref")
    assert_binomial(round(s["alt_rate"] * n_alt), n_alt, 0.7, ALPHA / checks, "alt")
    # after the union: complete sites with k alt haplotypes (independent per haplotype)
    site = mk.union(hap_mask)
    complete = (haps >= 0).all(axis=1)
    n_alt_at = (haps > 0).sum(axis=1)
    for k in range(3):
        sel = complete & (n_alt_at == k)
        assert_binomial(
            int(site[sel].sum()), int(sel.sum()), s[f"expected_site_rate_alt{k}"], ALPHA / checks,
            f"site alt{k}",
        )  # fmt: skip


def test_per_sample_mask_rate_statistics() -> None:
    # each sample draws r ~ U(0.5, 0.99); mask fraction per row averages to 0.745
    lo, hi, n, sites = 0.5, 0.99, 4000, 50
    masker = mk.Masker("random", rate=Uniform(lo, hi), seed=31)
    haps = np.zeros((n, sites), dtype=np.int8)
    frac = masker(haps).mean(axis=1)
    mean = (lo + hi) / 2
    var_r = (hi - lo) ** 2 / 12
    e_r1r = mean - (var_r + mean**2)  # E[r (1 - r)]
    var = var_r + e_r1r / sites  # variance of one row's mask fraction
    log_term = math.log(2 / ALPHA)
    t = (2 * log_term / 3 + math.sqrt((2 * log_term / 3) ** 2 + 8 * n * var * log_term)) / (2 * n)
    assert abs(frac.mean() - mean) < t  # Bernstein bound, false-fail prob < ALPHA
    # rows really differ: the spread of row fractions matches Var(r) + E[r(1-r)]/sites
    assert frac.var() > 0.5 * var


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"strategy": "smart"}, ValueError, "strategy must be one of"),
        ({"strategy": "random", "alt_rate": 0.5}, ValueError, "alt_rate is for"),
        ({"rate": 1.5}, ValueError, "rate must be in"),
        ({"rate": "0.3"}, TypeError, "rate must be a number"),
        ({"alt_rate": -0.1}, ValueError, "alt_rate must be in"),
        ({"seed": -1}, ValueError, "seed"),
        ({"exact": "yes"}, TypeError, "exact must be True or False"),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], exc: type, match: str) -> None:
    args: dict[str, Any] = {"strategy": "smart_balanced", "rate": 0.3, "seed": 0, **kwargs}
    with pytest.raises(exc, match=match):
        mk.Masker(**args)


def test_union_needs_3d_haps() -> None:
    with pytest.raises(ValueError, match="union=True needs 3-D"):
        mk.Masker("random", rate=0.3, seed=0, union=True)(np.zeros((3, 5), dtype=np.int8))


def test_repr_names_the_configuration() -> None:
    masker = mk.Masker("smart_balanced", rate=Levels(epochs_per_level=2), seed=1234)
    text = repr(masker)
    assert text.startswith("Masker('smart_balanced', rate=Levels(")
    assert "alt_rate=Constant(0.7)" in text
    assert "seed=1234" in text


def test_shared_plateau_updates_once() -> None:
    shared = Plateau([0.3, 0.5, 0.7], patience=1, mode="max")
    masker = mk.Masker("smart_balanced", rate=shared, alt_rate=shared, seed=0)
    masker.update(1.0)
    masker.update(0.0)
    assert shared.evaluations == 2
    assert masker.current_rates() == (0.5, 0.5)
    assert masker.sync_state() == (0, 0, 1, 1)


# ----------------------------------------------------------------------------- more rules

AF_OPTIONS = {"edges": [0.01, 0.05], "rates": [[0.5, 0.4, 0.3], [1.0, 0.9, 0.8]]}


@pytest.mark.parametrize("exact", [False, True])
@pytest.mark.parametrize(
    ("strategy", "options"),
    [
        ("af_aware", AF_OPTIONS),
        ("span", {"mean_span": 4.0, "max_span": 12}),
        ("span", {"span_lengths": [[1, 3, 6], [0.2, 0.5, 0.3]]}),
        ("array", {"every": 4, "kept_rate": 0.1}),
        ("array", {"keep": [0, 5, 17, 40]}),
    ],
)
def test_rule_strategies_match_their_functions(
    strategy: str, options: dict[str, Any], exact: bool
) -> None:
    """The curriculum rate drives the rule's main rate; epochs and indices key masks as usual."""
    sched = Levels(LEVELS, epochs_per_level=2)
    masker = mk.Masker(strategy, rate=sched, seed=77, exact=exact, options=options)
    haps, lengths, idx = make_haps(), make_lengths(16, 64), np.arange(30, 46)
    freq = np.linspace(0.0, 0.5, 64)
    kw = {"seed": 77, "epoch": 5, "indices": idx, "lengths": lengths, "exact": exact}
    masker.set_epoch(5)
    r = sched.rate(5)
    if strategy == "af_aware":
        got = masker(haps, lengths=lengths, indices=idx, freq=freq)
        want = mk.af_mask(haps, freq, options["edges"], options["rates"], scale=r, **kw)
    elif strategy == "span":
        got = masker(haps, lengths=lengths, indices=idx)
        sl = options.get("span_lengths")
        want = mk.span_mask(
            haps, r, mean_span=options.get("mean_span"), max_span=options.get("max_span"),
            span_lengths=None if sl is None else tuple(sl), **kw,
        )  # fmt: skip
    else:
        got = masker(haps, lengths=lengths, indices=idx)
        want = mk.array_mask(haps, options.get("keep"), r, every=options.get("every"),
                             kept_rate=options.get("kept_rate", 0.0), **kw)  # fmt: skip
    np.testing.assert_array_equal(got, want)
    # checkpoint round trip, frozen copy, describe
    back = mk.Masker.from_state_dict(json.loads(json.dumps(masker.state_dict())))
    assert back == masker
    fargs = {"freq": freq} if strategy == "af_aware" else {}
    np.testing.assert_array_equal(back(haps, lengths=lengths, indices=idx, **fargs), got)
    val = masker.frozen()
    first = val(haps, lengths=lengths, indices=idx, **fargs)
    val.set_epoch(9)
    np.testing.assert_array_equal(val(haps, lengths=lengths, indices=idx, **fargs), first)
    text = masker.describe()
    assert f"Masking Strategy: {strategy}" in text
    assert "Rule Params:" in text
    b = masker.batch(haps, lengths=lengths, indices=idx, replace=(0.8, 0.1, 0.1), **fargs)
    width = b["mask"].shape[-1]
    assert width == lengths.max()
    np.testing.assert_array_equal(b["mask"], (got & (haps >= 0))[..., :width])
    # stats: realized rates plus the schedule's value under its own name, no per-class targets
    stats = masker.stats(got, haps, lengths=lengths)
    assert stats["schedule_rate"] == r
    assert "target_ref_rate" not in stats
    assert stats["rate"] == mk.mask_stats(got, haps, lengths=lengths)["rate"]


def test_span_strategy_takes_per_sample_rates_and_union() -> None:
    masker = mk.Masker("span", rate=Uniform(0.2, 0.6), seed=3, exact=True, union=True)
    haps = np.zeros((8, 2, 100), dtype=np.int8)
    idx = np.arange(8)
    r = Uniform(0.2, 0.6).sample_rates(idx, seed=3, epoch=0, slot=0)
    want = mk.union(mk.span_mask(haps, r, seed=3, exact=True, indices=idx))
    np.testing.assert_array_equal(masker(haps, indices=idx), want)


def test_config_holds_the_rule_config() -> None:
    """The rule is saved as its own config; options stay a view of the non-default ones."""
    config = mk.Masker("random", rate=0.3, seed=1).config()
    assert config["rule"] == {"kind": "random", "rate": 0.3}
    assert "options" not in config
    assert "strategy" not in config
    span = mk.Masker("span", rate=0.3, seed=1, options={"mean_span": 2})
    assert span.config()["rule"] == mk.rules.Span(0.3, mean_span=2).config()
    assert span.options == {"mean_span": 2}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"strategy": "span", "alt_rate": 0.5}, "alt_rate is for"),
        ({"strategy": "span", "options": {"every": 3}}, "not options of"),
        ({"strategy": "span", "options": {"mean_span": 0.2}}, "mean_span"),
        ({"strategy": "array", "options": {}}, "exactly one of"),
        ({"strategy": "array", "options": {"every": 0}}, "every"),
        ({"strategy": "array", "options": {"every": 2, "kept_rate": 2}}, "kept_rate"),
        ({"strategy": "af_aware", "options": {"edges": [0.05]}}, "rates"),
        ({"strategy": "af_aware", "options": {"edges": [0.05], "rates": [0.1]}}, "rates"),
        ({"strategy": "random", "options": {"every": 2}}, "not options of"),
    ],
)
def test_rule_strategies_bad_options(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        mk.Masker(**{"rate": 0.3, "seed": 0, **kwargs})


def test_af_aware_needs_frequencies() -> None:
    masker = mk.Masker("af_aware", rate=0.5, seed=0, options=AF_OPTIONS)
    with pytest.raises(ValueError, match="freq"):
        masker(np.zeros((2, 5), dtype=np.int8))
    with pytest.raises(ValueError, match="freq is not an input"):
        mk.Masker("random", rate=0.5, seed=0)(np.zeros((2, 5), dtype=np.int8), freq=np.zeros(5))
    fixed = mk.Masker("af_aware", rate=0.5, seed=0, options={**AF_OPTIONS, "freq": [0.01] * 5})
    assert fixed(np.zeros((2, 5), dtype=np.int8)).shape == (2, 5)


@pytest.mark.parametrize("union", [False, True])
def test_probabilities_are_the_mask_frequencies(union):
    haps = np.array(
        [[[0, 1, 0, -1, 1, 0], [0, 0, 1, 1, 1, 0]], [[1, 0, 0, 0, 1, 1], [0, 0, -1, 0, 1, 0]]],
        dtype=np.int8,
    )
    lengths = [6, 4]
    schedule = Levels([0.2, 0.4], epochs_per_level=1)
    n = 3000
    total = None
    for seed in range(n):
        masker = mk.Masker("smart_balanced", rate=schedule, alt_rate=0.7, seed=seed, union=union)
        masker.set_epoch(1)
        m = masker(haps, lengths=lengths, indices=[3, 8]).astype(np.int64)
        total = m if total is None else total + m
    p = masker.probabilities(haps, lengths=lengths, indices=[3, 8])
    assert p.shape == total.shape
    assert not total[p == 0].any()
    assert (p[..., 4:][1] == 0).all()  # padding of the second sample
    for pos in zip(*np.nonzero(p)):
        assert_binomial(int(total[pos]), n, float(p[pos]), what=f"position {pos}")


def test_probabilities_union_argument_overrides_the_maskers():
    haps = np.array([[[0, 1, 0, 1], [0, 0, 1, 1]]], dtype=np.int8)
    per_hap = mk.Masker("smart_balanced", rate=0.2, alt_rate=0.6, seed=0)
    site = mk.Masker("smart_balanced", rate=0.2, alt_rate=0.6, seed=0, union=True)
    assert np.array_equal(per_hap.probabilities(haps, union=True), site.probabilities(haps))
    assert np.array_equal(site.probabilities(haps, union=False), per_hap.probabilities(haps))
