"""Rule objects (maskkit.rules): checks, configs, pickling, draws, probabilities, the Masker."""

from __future__ import annotations

import dataclasses
import json
import pickle
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from bounds import ALPHA, assert_binomial
from hypothesis import given
from hypothesis import strategies as st
from strategies import af_tables, mask_cases, span_distributions

import maskkit as mk
from maskkit import rules
from maskkit.curriculum import Levels, Plateau, Uniform

AF = {"edges": (0.01, 0.05), "rates": ((0.5, 0.4, 0.3), (1.0, 0.9, 0.8))}

RULES: list[rules.Rule] = [
    rules.Random(0.2),
    rules.SmartBalanced(0.3, 0.7),
    rules.AlleleFrequency(**AF, scale=0.8, fold=False),
    rules.AlleleFrequency(edges=[0.05], rates=[0.9, 0.1], freq=[0.01, 0.2, 0.5]),
    rules.Span(0.25, mean_span=4.0, max_span=9),
    rules.Span(0.1, span_lengths=([1, 3], [0.5, 0.5])),
    rules.Array(every=3, kept_rate=0.1),
    rules.Array(keep=[0, 4, 7], rate=0.8),
    rules.Array(keep=[True, False, True]),
    rules.PerPosition(rates=[0.1, 0.9, 0.0, 1.0], scale=0.5),
]


def make_haps(samples: int = 12, ploidy: int = 2, sites: int = 48, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    haps = (rng.random((samples, ploidy, sites)) < 0.25).astype(np.int8)
    haps[rng.random(haps.shape) < 0.05] = -1
    return haps


def sites_for(rule: rules.Rule) -> int:
    """Sites of the haps a rule draws on: its fixed per-site parameters fix the width."""
    if isinstance(rule, rules.AlleleFrequency) and rule.freq is not None:
        return len(rule.freq)
    if isinstance(rule, rules.Array) and rule.keep and isinstance(rule.keep[0], bool):
        return len(rule.keep)
    if isinstance(rule, rules.PerPosition):
        return len(rule.rates)
    return 48


def inputs_for(rule: rules.Rule, sites: int) -> dict[str, Any]:
    """Per-batch inputs: frequencies for an allele-frequency rule without fixed ones."""
    if isinstance(rule, rules.AlleleFrequency) and rule.freq is None:
        return {"freq": np.linspace(0.0, 1.0, sites)}
    return {}


# ----------------------------------------------------------------------------- construction


@pytest.mark.parametrize(
    ("build", "error", "match"),
    [
        (lambda: rules.Random(1.5), ValueError, "rate"),
        (lambda: rules.Random("0.5"), TypeError, "rate"),
        (lambda: rules.SmartBalanced(0.3, -0.1), ValueError, "alt_rate"),
        (lambda: rules.SmartBalanced(float("nan")), ValueError, "ref_rate"),
        (lambda: rules.AlleleFrequency(edges=[0.05, 0.01], rates=[0.1] * 3), ValueError, "edges"),
        (lambda: rules.AlleleFrequency(edges=[0.05], rates=[0.1] * 3), ValueError, "rates"),
        (lambda: rules.AlleleFrequency(edges=[0.05], rates=[0.1, 2.0]), ValueError, "rates"),
        (lambda: rules.AlleleFrequency(**AF, scale=-1), ValueError, "scale"),
        (lambda: rules.AlleleFrequency(**AF, fold=1), TypeError, "fold"),
        (lambda: rules.AlleleFrequency(**AF, freq=[1.5]), ValueError, "freq"),
        (lambda: rules.Span(0.2, mean_span=0.5), ValueError, "mean_span"),
        (lambda: rules.Span(0.2, max_span=0), ValueError, "max_span"),
        (lambda: rules.Span(0.2, mean_span=3, span_lengths=([1], [1.0])), ValueError, "drop"),
        (lambda: rules.Span(0.2, span_lengths=([1, 2], [0.3, 0.3])), ValueError, "sum to 1"),
        (lambda: rules.Array(), ValueError, "exactly one of keep"),
        (lambda: rules.Array(keep=[1], every=2), ValueError, "exactly one of keep"),
        (lambda: rules.Array(every=0), ValueError, "every"),
        (lambda: rules.Array(keep=[0.5]), TypeError, "keep"),
        (lambda: rules.Array(every=2, kept_rate=1.2), ValueError, "kept_rate"),
        (lambda: rules.PerPosition(rates=[0.5, 1.5]), ValueError, "rates"),
        (lambda: rules.PerPosition(rates=[[0.5]]), ValueError, "rates"),
    ],
)
def test_construction_errors_name_the_argument(build: Any, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        build()


def test_rules_are_frozen() -> None:
    rule = rules.Random(0.2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        rule.rate = 0.3  # type: ignore[misc]


# ----------------------------------------------------------------------------- configs


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.kind)
def test_json_round_trip_pickle_equality_and_hash(rule: rules.Rule) -> None:
    cfg = json.loads(json.dumps(rule.config()))
    back = rules.from_config(cfg)
    assert back == rule
    assert hash(back) == hash(rule)
    assert type(rule).from_config(cfg) == rule
    assert pickle.loads(pickle.dumps(rule)) == rule
    assert cfg["kind"] == rule.kind
    assert repr(rule).startswith(type(rule).__name__ + "(")


@st.composite
def any_rule(draw: st.DrawFn) -> rules.Rule:
    """A built-in rule with drawn parameters."""
    rate = draw(st.floats(0, 1))
    kind = draw(st.sampled_from(["random", "smart", "af", "span", "array", "per_position"]))
    if kind == "random":
        return rules.Random(rate)
    if kind == "smart":
        return rules.SmartBalanced(rate, draw(st.floats(0, 1)))
    if kind == "af":
        t = draw(af_tables(2, 5))
        scale = min(float(t["scale"]), 1.0) if np.ndim(t["scale"]) == 0 else 1.0
        return rules.AlleleFrequency(t["edges"], t["rates"], scale=scale, fold=t["fold"])
    if kind == "span":
        return rules.Span(rate, **draw(span_distributions()))
    if kind == "array":
        if draw(st.booleans()):
            return rules.Array(every=draw(st.integers(1, 50)), rate=rate)
        keep = draw(st.lists(st.integers(0, 100), max_size=8))
        return rules.Array(keep=keep, kept_rate=rate)
    return rules.PerPosition(draw(st.lists(st.floats(0, 1), max_size=8)), scale=rate)


@given(any_rule())
def test_any_rule_round_trips_through_json_and_pickle(rule: rules.Rule) -> None:
    back = rules.from_config(json.loads(json.dumps(rule.config())))
    assert back == rule
    assert hash(back) == hash(rule)
    assert pickle.loads(pickle.dumps(rule)) == rule
    masker = mk.Masker(rule, seed=1)
    assert mk.Masker.from_state_dict(json.loads(json.dumps(masker.state_dict()))) == masker


def test_equal_parameters_compare_equal_whatever_container() -> None:
    assert (
        rules.Array(keep=[0, 4]) == rules.Array(keep=(0, 4)) == rules.Array(keep=np.array([0, 4]))
    )
    assert rules.Random(1) == rules.Random(1.0)
    assert rules.Random(0.2) != rules.Random(0.3)
    assert rules.Random(0.2) != rules.Span(0.2)
    assert len({rules.Random(0.2), rules.Random(0.2), rules.SmartBalanced()}) == 2


def test_config_errors() -> None:
    with pytest.raises(ValueError, match=r"unknown rule kind 'nope'.*register"):
        rules.from_config({"kind": "nope"})
    with pytest.raises(
        ValueError, match=r"\['alt_rate'\] are not parameters of rule kind='random'"
    ):
        rules.from_config({"kind": "random", "rate": 0.1, "alt_rate": 0.2})
    with pytest.raises(TypeError, match="'kind'"):
        rules.from_config({"rate": 0.1})
    with pytest.raises(ValueError, match="not a Random"):
        rules.Random.from_config(rules.Span().config())


def test_rate_fields_and_with_rates() -> None:
    assert rules.SmartBalanced().driven == "ref_rate"
    assert rules.AlleleFrequency(**AF).driven == "scale"
    assert rules.Array(every=2).rate_fields == ("rate", "kept_rate")
    assert rules.SmartBalanced(0.3).with_rates(ref_rate=0.5) == rules.SmartBalanced(0.5)
    with pytest.raises(ValueError, match="not rates"):
        rules.Span().with_rates(mean_span=2.0)
    with pytest.raises(ValueError, match="rate"):
        rules.Random().with_rates(rate=3.0)


# ----------------------------------------------------------------------------- draws


@pytest.mark.parametrize("exact", [False, True])
@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.kind)
def test_draw_is_the_function_call(rule: rules.Rule, exact: bool) -> None:
    sites = sites_for(rule)
    haps = make_haps(sites=sites)
    n = haps.shape[0]
    lengths = np.random.default_rng(2).integers(sites // 2, sites + 1, size=n)
    kw: dict[str, Any] = {
        "seed": 11, "epoch": 3, "indices": np.arange(40, 40 + n), "lengths": lengths,
        "exact": exact,
    }  # fmt: skip
    freq = np.linspace(0.0, 1.0, sites)
    inputs = inputs_for(rule, sites)
    got = rule.draw(haps, **kw, **inputs)
    if isinstance(rule, rules.Random):
        want = mk.random_mask(haps, rule.rate, **kw)
    elif isinstance(rule, rules.SmartBalanced):
        want = mk.smart_balanced_mask(haps, rule.ref_rate, rule.alt_rate, **kw)
    elif isinstance(rule, rules.AlleleFrequency):
        f = rule.freq or freq
        want = mk.af_mask(haps, f, rule.edges, rule.rates, scale=rule.scale, fold=rule.fold, **kw)
    elif isinstance(rule, rules.Span):
        want = mk.span_mask(
            haps, rule.rate, mean_span=rule.mean_span, max_span=rule.max_span,
            span_lengths=rule.span_lengths, **kw,
        )  # fmt: skip
    elif isinstance(rule, rules.Array):
        keep = None if rule.keep is None else np.asarray(rule.keep)
        want = mk.array_mask(
            haps, keep, rule.rate, every=rule.every, kept_rate=rule.kept_rate, **kw
        )
    else:
        assert isinstance(rule, rules.PerPosition)
        levels = np.unique(np.minimum(np.asarray(rule.rates) * rule.scale, 1.0))
        groups = np.searchsorted(levels, np.minimum(np.asarray(rule.rates) * rule.scale, 1.0))
        want = mk.af_mask(
            haps, (groups + 0.5) / levels.size, np.arange(1, levels.size) / levels.size,
            levels, fold=False, **kw,
        )  # fmt: skip
    np.testing.assert_array_equal(got, want)
    site = rule.draw(haps, union=True, **kw, **inputs)
    np.testing.assert_array_equal(site, mk.union(got))


@given(case=mask_cases(ndim=3), exact=st.booleans(), site_rate=st.booleans())
def test_draw_with_per_sample_rates_is_the_function_call(
    case: Any, exact: bool, site_rate: bool
) -> None:
    kw = {**case.kwargs, "exact": exact, "site_rate": site_rate}
    rates = {"ref_rate": case.ref_rate, "alt_rate": case.alt_rate}
    got = rules.SmartBalanced().draw(case.haps, rates=rates, **kw)
    want = mk.smart_balanced_mask(case.haps, case.ref_rate, case.alt_rate, **kw)
    np.testing.assert_array_equal(got, want)


@given(data=st.data(), case=mask_cases(ndim=3), exact=st.booleans())
def test_af_and_span_rules_are_their_functions(data: Any, case: Any, exact: bool) -> None:
    n, sites = case.haps.shape[0], case.haps.shape[-1]
    table = data.draw(af_tables(n, sites))
    rule = rules.AlleleFrequency(edges=table["edges"], rates=table["rates"], fold=table["fold"])
    kw = {**case.kwargs, "exact": exact}
    got = rule.draw(case.haps, rates={"scale": table["scale"]}, freq=table["freq"], **kw)
    want = mk.af_mask(
        case.haps, table["freq"], table["edges"], table["rates"], scale=table["scale"],
        fold=table["fold"], **kw,
    )  # fmt: skip
    np.testing.assert_array_equal(got, want)
    dist = data.draw(span_distributions())
    span = rules.Span(**dist)
    np.testing.assert_array_equal(
        span.draw(case.haps, rates={"rate": case.ref_rate}, **kw),
        mk.span_mask(case.haps, case.ref_rate, **dist, **kw),
    )


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.kind)
def test_eligible_positions_are_missing_to_the_rule(rule: rules.Rule) -> None:
    sites = sites_for(rule)
    haps = make_haps(sites=sites)
    inputs = inputs_for(rule, sites)
    eligible = np.random.default_rng(5).random((haps.shape[0], sites)) < 0.5  # per sample, site
    for exact in (False, True):
        got = rule.draw(haps, seed=3, eligible=eligible, exact=exact, **inputs)
        hidden = np.where(eligible[:, None, :], haps, -1).astype(haps.dtype)
        np.testing.assert_array_equal(got, rule.draw(hidden, seed=3, exact=exact, **inputs))
        assert not got[~np.broadcast_to(eligible[:, None, :], haps.shape)].any()


def test_eligible_protects_special_tokens_of_a_sequence_model() -> None:
    ids = np.random.default_rng(0).integers(5, 30, size=(64, 40)).astype(np.int32)
    lengths = np.random.default_rng(1).integers(10, 41, size=64)
    eligible = np.ones(ids.shape, bool)
    eligible[:, 0] = False  # CLS
    eligible[np.arange(64), lengths - 1] = False  # SEP
    m = rules.Random(0.5).draw(ids, seed=0, lengths=lengths, eligible=eligible, exact=True)
    assert not m[:, 0].any()
    assert not m[np.arange(64), lengths - 1].any()
    n = lengths - 2  # eligible positions per row: exact counts are floor or ceil of 0.5 n
    assert ((m.sum(axis=1) == n // 2) | (m.sum(axis=1) == (n + 1) // 2)).all()
    with pytest.raises(ValueError, match="eligible must broadcast to the shape of haps"):
        rules.Random().draw(ids, seed=0, eligible=np.ones(3, bool))
    with pytest.raises(TypeError, match="eligible must be a bool array"):
        rules.Random().draw(ids, seed=0, eligible=np.ones(ids.shape, int))


def test_protect_names_token_ids_no_rule_masks() -> None:
    rng = np.random.default_rng(3)
    ids = rng.integers(0, 8, size=(16, 30)).astype(np.int16)  # 0 = PAD, 1 = CLS, 2 = SEP
    for rule in (rules.Random(0.6), rules.Span(0.5, mean_span=3), rules.PerPosition([0.7] * 30)):
        m = rule.draw(ids, seed=4, protect=[0, 1, 2], exact=True)
        assert not m[ids <= 2].any()
        hidden = np.where(ids <= 2, -1, ids).astype(ids.dtype)
        np.testing.assert_array_equal(m, rule.draw(hidden, seed=4, exact=True))
    p = rules.Random(0.6).probabilities(ids, protect=[0, 1, 2])
    np.testing.assert_array_equal(p, np.where(ids <= 2, 0.0, 0.6))
    masker = mk.Masker(rules.Random(0.6), seed=4, exact=True)
    np.testing.assert_array_equal(
        masker(ids, protect=[0, 1, 2]),
        rules.Random(0.6).draw(ids, seed=4, protect=[0, 1, 2], exact=True),
    )
    b = masker.batch(ids, protect=[0, 1, 2], pad_to=32, n_alleles=8)
    assert not b["mask"][:, :30][ids <= 2].any()


def test_draw_argument_errors() -> None:
    haps = np.zeros((2, 5), np.int8)
    with pytest.raises(ValueError, match="freq is not an input of rule kind='random'"):
        rules.Random().draw(haps, seed=0, freq=np.zeros(5))
    with pytest.raises(ValueError, match="needs the site frequencies"):
        rules.AlleleFrequency(**AF).draw(haps, seed=0)
    with pytest.raises(ValueError, match=r"rates \['rate'\] are not rates of SmartBalanced"):
        rules.SmartBalanced().draw(haps, seed=0, rates={"rate": 0.1})
    with pytest.raises(ValueError, match="union=True needs 3-D"):
        rules.Span().draw(haps, seed=0, union=True)
    with pytest.raises(ValueError, match="4 rates but haps has 5 sites"):
        rules.PerPosition(rates=[0.1] * 4).draw(haps, seed=0)


# ----------------------------------------------------------------------------- probabilities


@pytest.mark.parametrize(
    ("rule", "inputs"),
    [
        (rules.Random(0.3), {}),
        (rules.SmartBalanced(0.2, 0.8), {}),
        (rules.AlleleFrequency(edges=[0.05], rates=[[0.1, 0.5], [0.9, 0.3]]), {"freq": True}),
        (rules.Array(every=3, rate=0.7, kept_rate=0.2), {}),
        (rules.PerPosition(rates=np.linspace(0, 1, 16)), {}),
    ],
    ids=lambda x: getattr(x, "kind", ""),
)
@pytest.mark.parametrize("exact", [False, True])
def test_probabilities_are_the_marginals_of_draws(
    rule: rules.Rule, inputs: dict[str, Any], exact: bool
) -> None:
    rng = np.random.default_rng(9)
    haps = (rng.random((4, 2, 16)) < 0.4).astype(np.int8)
    haps[0, 0, :3] = -1
    lengths = np.array([16, 12, 16, 9])
    if inputs:
        inputs = {"freq": rng.random(16) * 0.2}
    p = rule.probabilities(haps, lengths=lengths, **inputs)
    assert p.shape == haps.shape
    assert p.dtype == np.float64
    assert (p[0, 0, :3] == 0).all()
    assert (p[1, :, 12:] == 0).all()
    epochs = 400
    counts = np.zeros(haps.shape, dtype=np.int64)
    for e in range(epochs):
        counts += rule.draw(haps, seed=21, epoch=e, lengths=lengths, exact=exact, **inputs)
    cells = np.flatnonzero((p > 0) & (p < 1))
    assert (counts.ravel()[p.ravel() == 0] == 0).all()
    assert (counts.ravel()[p.ravel() == 1] == epochs).all()
    for c in cells:
        assert_binomial(int(counts.ravel()[c]), epochs, float(p.ravel()[c]), ALPHA / cells.size)


def test_probabilities_of_per_sample_rates_and_site_rates() -> None:
    haps = np.array([[[0, 1], [0, 0]], [[1, 1], [-1, 0]]], dtype=np.int8)
    rule = rules.SmartBalanced()
    p = rule.probabilities(haps, rates={"ref_rate": [0.1, 0.2], "alt_rate": 0.5})
    np.testing.assert_allclose(p, [[[0.1, 0.5], [0.1, 0.1]], [[0.5, 0.5], [0.0, 0.2]]])
    ps = rules.Random(0.51).probabilities(haps, site_rate=True)
    np.testing.assert_allclose(ps[0, 0, 0], mk.haplotype_rate_for_site_rate(0.51, 2))
    with pytest.raises(NotImplementedError, match="Span"):
        rules.Span().probabilities(haps)


def test_probabilities_of_the_site_mask() -> None:
    haps = np.array([[[0, 1, -1], [1, 1, 0]]], dtype=np.int8)
    site = rules.SmartBalanced(0.2, 0.6).probabilities(haps, union=True)
    np.testing.assert_allclose(site, [[1 - 0.8 * 0.4, 1 - 0.4 * 0.4, 0.2]])
    with pytest.raises(ValueError, match="union=True needs 3-D"):
        rules.Random(0.3).probabilities(haps[0], union=True)


# ----------------------------------------------------------------------------- Masker


@pytest.mark.parametrize(
    ("strategy", "kwargs", "rule"),
    [
        ("random", {"rate": 0.2}, rules.Random(0.2)),
        ("smart_balanced", {"rate": 0.3}, rules.SmartBalanced(0.3)),
        ("smart_balanced", {"rate": 0.3, "alt_rate": 0.6}, rules.SmartBalanced(0.3, 0.6)),
        ("af_aware", {"rate": 0.9, "options": dict(AF)}, rules.AlleleFrequency(**AF, scale=0.9)),
        ("span", {"rate": 0.2, "options": {"mean_span": 5}}, rules.Span(0.2, mean_span=5)),
        ("array", {"rate": 0.9, "options": {"every": 4}}, rules.Array(every=4, rate=0.9)),
    ],
)
@pytest.mark.parametrize("union", [False, True])
def test_masker_with_rule_object_is_masker_with_string(
    strategy: str, kwargs: dict[str, Any], rule: rules.Rule, union: bool
) -> None:
    a = mk.Masker(strategy, seed=4, union=union, exact=True, **kwargs)
    b = mk.Masker(rule, seed=4, union=union, exact=True)
    assert a == b
    assert a.fingerprint == b.fingerprint
    assert a.rule == b.rule == rule
    haps = make_haps()
    inputs = {"freq": np.linspace(0, 0.5, 48)} if strategy == "af_aware" else {}
    a.set_epoch(2)
    b.set_epoch(2)
    np.testing.assert_array_equal(a(haps, **inputs), b(haps, **inputs))
    assert a.describe() == b.describe()


def test_masker_schedules_drive_the_rule_rates() -> None:
    sched = Levels([0.2, 0.4], epochs_per_level=1)
    masker = mk.Masker(rules.SmartBalanced(alt_rate=0.9), rate=sched, seed=1)
    assert masker.alt_schedule is not None
    assert masker.alt_schedule.rate(0) == 0.9
    assert masker.rule == rules.SmartBalanced(0.2, 0.9)
    masker.set_epoch(1)
    haps = make_haps()
    want = rules.SmartBalanced(0.4, 0.9).draw(haps, seed=1, epoch=1)
    np.testing.assert_array_equal(masker(haps), want)
    with pytest.raises(TypeError, match="options are for strategy strings"):
        mk.Masker(rules.Random(), seed=1, options={"every": 2})
    with pytest.raises(TypeError, match="needs rate="):
        mk.Masker("random", seed=1)
    with pytest.raises(ValueError, match=r"PerPosition.scale \(the Masker's rate\)"):
        mk.Masker(rules.PerPosition([0.5], scale=2.0), seed=1)  # a schedule's rate is in [0, 1]
    with pytest.raises(ValueError, match="alt_rate is for rules with an alt rate"):
        mk.Masker(rules.Random(), alt_rate=0.5, seed=1)


def test_config_with_options_at_their_defaults_loads() -> None:
    masker = mk.Masker("span", rate=0.2, seed=3)
    state = masker.state_dict()
    for name in ("mean_span", "max_span", "span_lengths"):  # parameters left at their defaults
        del state["config"]["rule"][name]
    state["fingerprint"] = "0" * 16
    masker.load_state_dict(state)
    assert mk.Masker.from_state_dict(state) == masker


def test_describe_has_no_hidden_state() -> None:
    masker = mk.Masker("smart_balanced", rate=0.3, seed=1, union=True)
    before = masker.describe()
    masker(make_haps(ploidy=4))
    assert masker.describe() == before == mk.report.describe(masker, ploidy=2)
    assert "ploidy 4" in mk.report.describe(masker, ploidy=4)


# ----------------------------------------------------------------------------- user rules


@rules.register
@dataclasses.dataclass(frozen=True)
class EveryOther(rules.Rule):
    """Even sites at ``rate``, odd sites at ``odd_rate`` (a user-defined rule)."""

    kind: ClassVar[str] = "test_every_other"
    rate_fields: ClassVar[tuple[str, ...]] = ("rate", "odd_rate")
    rate: float = 0.5
    odd_rate: float = 0.0

    def site_rates(self, haps: Any, *, rates: Any, **inputs: Any) -> np.ndarray:
        even = np.arange(np.shape(haps)[-1]) % 2 == 0
        # a rate is a float or one per sample: as a column, it broadcasts over the sites
        rate = np.asarray(rates["rate"], dtype=np.float64)[..., None]
        odd = np.asarray(rates["odd_rate"], dtype=np.float64)[..., None]
        return np.where(even, rate, odd)


def test_user_rule_through_the_masker() -> None:
    sched = Levels([0.0, 1.0], epochs_per_level=1)
    masker = mk.Masker(EveryOther(odd_rate=0.0), rate=sched, seed=2, exact=True)
    haps = np.zeros((3, 2, 10), dtype=np.int8)
    assert not masker(haps).any()
    masker.set_epoch(1)
    m = masker(haps)
    assert m[..., ::2].all()
    assert not m[..., 1::2].any()
    back = mk.Masker.from_state_dict(json.loads(json.dumps(masker.state_dict())))
    assert back == masker
    assert back.rule == masker.rule
    np.testing.assert_array_equal(back(haps), m)
    assert "Masking Strategy: test_every_other" in masker.describe()
    assert mk.Masker("test_every_other", rate=1.0, seed=2, exact=True) == mk.Masker(
        EveryOther(rate=1.0), seed=2, exact=True
    )
    p = EveryOther(0.4, 0.1).probabilities(haps)
    np.testing.assert_allclose(p[0, 0, :2], [0.4, 0.1])
    b = masker.batch(haps, pad_to=12)
    assert b["mask"].shape == (3, 2, 12)
    frozen = masker.frozen()
    np.testing.assert_array_equal(frozen(haps), m)


def test_user_rule_with_per_sample_rates_and_plateau() -> None:
    masker = mk.Masker(EveryOther(), rate=Uniform(0.2, 0.6), seed=5)
    haps = np.zeros((6, 1, 30), dtype=np.int8)
    idx = np.arange(6)
    r = Uniform(0.2, 0.6).sample_rates(idx, seed=5, epoch=0, slot=0)
    np.testing.assert_array_equal(
        masker(haps, indices=idx), EveryOther().draw(haps, seed=5, rates={"rate": r}, indices=idx)
    )
    plateau = mk.Masker(EveryOther(), rate=Plateau([0.1, 0.9], patience=0, mode="max"), seed=5)
    plateau.update(1.0)
    plateau.update(2.0)
    assert plateau.current_rates()[0] == 0.1
    plateau.update(0.5)
    assert plateau.current_rates()[0] == 0.9


def test_register_errors() -> None:
    @dataclasses.dataclass(frozen=True)
    class Clash(rules.Rule):
        kind: ClassVar[str] = "random"

    with pytest.raises(ValueError, match="kind 'random' is taken"):
        rules.register(Clash)

    class Plain(rules.Rule):
        kind: ClassVar[str] = "test_plain"
        rate: float = 0.1

    with pytest.raises(TypeError, match="frozen dataclass"):
        rules.register(Plain)

    @dataclasses.dataclass(frozen=True)
    class NoKind(rules.Rule):
        pass

    with pytest.raises(ValueError, match="kind"):
        rules.register(NoKind)

    @dataclasses.dataclass(frozen=True)
    class NoDraw(rules.Rule):
        kind: ClassVar[str] = "test_no_draw"
        rate: float = 0.1

    with pytest.raises(NotImplementedError, match="site_rates"):
        NoDraw().draw(np.zeros((1, 3), np.int8), seed=0)


def test_docs_recipe_for_a_rule_of_your_own_runs() -> None:
    text = (Path(__file__).parents[1] / "docs" / "rules.md").read_text()
    block = text[text.index("## A rule of your own") :].split("```python\n")[1].split("```")[0]
    scope: dict[str, Any] = {
        "haps": np.zeros((4, 2, 30), np.int8),
        "idx": np.arange(4),
        "__name__": __name__,  # dataclasses look the module up in sys.modules
    }
    exec(compile(block, "docs/rules.md", "exec"), scope)  # the repository's own docs
    masker = scope["masker"]
    assert mk.Masker.from_state_dict(scope["state"]) == masker
    p = masker.rule.probabilities(scope["haps"])
    np.testing.assert_array_equal(p[0, 0, [0, 3, 4, 25, 26, 29]], [0.3, 0.3, 0.1, 0.1, 0.3, 0.3])
