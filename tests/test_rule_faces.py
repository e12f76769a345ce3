"""One face per rule: functions equal their rules, configs round-trip, old states still load."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import af_tables, mask_cases, span_distributions

import maskkit as mk
from maskkit import rules
from maskkit.curriculum import Levels, Plateau, Uniform

SRC = Path(mk.__file__).parent


def make_haps(samples: int = 10, ploidy: int = 2, sites: int = 40, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    haps = (rng.random((samples, ploidy, sites)) < 0.25).astype(np.int8)
    haps[rng.random(haps.shape) < 0.05] = -1
    return haps


# ----------------------------------------------------------------------------- function == rule


@given(
    case=mask_cases(ndim=3),
    exact=st.booleans(),
    site_rate=st.booleans(),
    union=st.booleans(),
    protect=st.booleans(),
)
def test_every_mask_function_is_its_rule(
    case: Any, exact: bool, site_rate: bool, union: bool, protect: bool
) -> None:
    kw: dict[str, Any] = {**case.kwargs, "exact": exact, "site_rate": site_rate, "union": union}
    if protect:
        kw["protect"] = [1]
    r, a = case.ref_rate, case.alt_rate
    sites = case.haps.shape[-1]
    pairs = [
        (
            mk.random_mask(case.haps, r, **kw),
            rules.Random().draw(case.haps, rates={"rate": r}, **kw),
        ),
        (
            mk.smart_balanced_mask(case.haps, r, a, **kw),
            rules.SmartBalanced().draw(case.haps, rates={"ref_rate": r, "alt_rate": a}, **kw),
        ),
        (
            mk.array_mask(case.haps, every=3, rate=r, kept_rate=a, **kw),
            rules.Array(every=3).draw(case.haps, rates={"rate": r, "kept_rate": a}, **kw),
        ),
        (
            mk.array_mask(case.haps, np.arange(sites) % 2 == 0, r, **kw),
            rules.Array(np.arange(sites) % 2 == 0).draw(case.haps, rates={"rate": r}, **kw),
        ),
    ]
    for got, want in pairs:
        np.testing.assert_array_equal(got, want)


@given(data=st.data(), case=mask_cases(ndim=3), exact=st.booleans(), union=st.booleans())
def test_af_and_span_functions_are_their_rules(
    data: Any, case: Any, exact: bool, union: bool
) -> None:
    n, sites = case.haps.shape[0], case.haps.shape[-1]
    kw: dict[str, Any] = {**case.kwargs, "exact": exact, "union": union}
    t = data.draw(af_tables(n, sites))
    rule = rules.AlleleFrequency(edges=t["edges"], rates=t["rates"], fold=t["fold"])
    np.testing.assert_array_equal(
        mk.af_mask(
            case.haps, t["freq"], t["edges"], t["rates"], scale=t["scale"], fold=t["fold"], **kw
        ),
        rule.draw(case.haps, rates={"scale": t["scale"]}, freq=t["freq"], **kw),
    )
    dist = data.draw(span_distributions())
    np.testing.assert_array_equal(
        mk.span_mask(case.haps, case.ref_rate, **dist, **kw),
        rules.Span(**dist).draw(case.haps, rates={"rate": case.ref_rate}, **kw),
    )


# ----------------------------------------------------------------------------- config round trip

MASKERS = [
    lambda: mk.Masker("random", rate=Levels([0.2, 0.4]), seed=3),
    lambda: mk.Masker("smart_balanced", rate=Uniform(0.1, 0.5), seed=4, union=True),
    lambda: mk.Masker(
        "af_aware",
        rate=0.8,
        seed=5,
        exact=True,
        options={"edges": [0.05], "rates": [[0.2, 0.1], [0.9, 0.6]], "fold": False},
    ),
    lambda: mk.Masker(rules.Span(0.2, span_lengths=([1, 4], [0.5, 0.5])), seed=6, union=True),
    lambda: mk.Masker(rules.Array(keep=[0, 3, 9], kept_rate=0.2), rate=0.7, seed=7, exact=True),
    lambda: _advanced(
        mk.Masker(
            rules.PerPosition(np.linspace(0, 1, 40)),
            rate=Plateau([0.5, 1.0], patience=0, mode="max"),
            seed=8,
        )
    ),
]


def _advanced(masker: mk.Masker) -> mk.Masker:
    """The Masker after its Plateau moved up a level (training state, not configuration)."""
    masker.update(1.0)
    masker.update(0.0)
    masker.update(0.0)
    assert masker.sync_state()[-1] == 1
    return masker


@pytest.mark.parametrize("build", MASKERS)
def test_every_rule_round_trips_through_the_masker_config(build: Any) -> None:
    masker = build()
    masker.set_epoch(2)
    state = json.loads(json.dumps(masker.state_dict()))
    assert state["config"]["rule"] == masker.rule.config()
    back = mk.Masker.from_state_dict(state)
    assert back == masker
    assert back.rule == masker.rule
    assert back.fingerprint == masker.fingerprint
    haps = make_haps()
    inputs = {"freq": np.linspace(0, 1, 40)} if masker.rule.kind == "af_aware" else {}
    idx = np.arange(100, 110)
    np.testing.assert_array_equal(
        back(haps, indices=idx, **inputs), masker(haps, indices=idx, **inputs)
    )


# States saved by maskkit before the rule's config replaced strategy and options (commit dd1be57),
# with the Masker each one was saved from.
OLD_STATES = [
    (
        '{"format": "maskkit.Masker/1", "fingerprint": "21d385502d29b248", "config": {"strategy": '
        '"smart_balanced", "rate": {"type": "Levels", "config": {"levels": [0.3, 0.5], '
        '"epochs_per_level": 2}}, "alt_rate": {"type": "Constant", "config": {"p": 0.7}}, '
        '"seed": 7, "exact": false, "union": true, "site_rate": false, "fixed_epoch": null}, '
        '"epoch": 3, '
        '"step": 0, "schedules": {"rate": {"type": "Levels", "config": {"levels": [0.3, 0.5], '
        '"epochs_per_level": 2}, "state": {}}, "alt_rate": {"type": "Constant", "config": {"p": '
        '0.7}, "state": {}}}}',
        lambda: mk.Masker(
            "smart_balanced", rate=Levels([0.3, 0.5], epochs_per_level=2), seed=7, union=True
        ),
    ),
    (
        '{"format": "maskkit.Masker/1", "fingerprint": "30bc73cc3bc285f9", "config": {"strategy": '
        '"span", "rate": {"type": "Constant", "config": {"p": 0.2}}, "alt_rate": null, "seed": 5, '
        '"exact": true, "union": false, "site_rate": false, "fixed_epoch": null, "options": '
        '{"mean_span": 4.0, "max_span": 9}}, "epoch": 0, "step": 0, "schedules": {"rate": {"type": '
        '"Constant", "config": {"p": 0.2}, "state": {}}}}',
        lambda: mk.Masker(rules.Span(0.2, mean_span=4, max_span=9), seed=5, exact=True),
    ),
    (
        '{"format": "maskkit.Masker/1", "fingerprint": "6f22405534eebb9e", "config": {"strategy": '
        '"array", "rate": {"type": "Plateau", "config": {"levels": [0.6, 0.9], "patience": 0, '
        '"min_delta": 0.0, "mode": "max", "cooldown": 0}}, "alt_rate": null, "seed": 2, "exact": '
        'false, "union": false, "site_rate": false, "fixed_epoch": null, "options": {"every": 3, '
        '"kept_rate": 0.1}}, "epoch": 4, "step": 0, "schedules": {"rate": {"type": "Plateau", '
        '"config": {"levels": [0.6, 0.9], "patience": 0, "min_delta": 0.0, "mode": "max", '
        '"cooldown": 0}, "state": {"level": 1, "best": null, "num_bad": 0, "cooldown_left": 0, '
        '"evaluations": 2}}}}',
        lambda: mk.Masker(
            rules.Array(every=3, kept_rate=0.1),
            rate=Plateau([0.6, 0.9], patience=0, mode="max"),
            seed=2,
        ),
    ),
]


@pytest.mark.parametrize(("text", "build"), OLD_STATES)
def test_old_state_format_loads_with_a_warning(text: str, build: Any) -> None:
    state = json.loads(text)
    masker = build()
    with pytest.warns(DeprecationWarning, match="old format"):
        masker.load_state_dict(state)
    assert masker.epoch == state["epoch"]
    with pytest.warns(DeprecationWarning, match="old format") as caught:
        back = mk.Masker.from_state_dict(state)
    assert len(caught) == 1
    assert back == masker
    haps = make_haps()
    np.testing.assert_array_equal(back(haps), masker(haps))
    assert back.state_dict()["format"] == "maskkit.Masker/2"


def test_old_state_of_another_configuration_is_refused() -> None:
    state = json.loads(OLD_STATES[0][0])
    old = pytest.warns(DeprecationWarning, match="old format")
    with old, pytest.raises(ValueError, match="seed"):
        mk.Masker("smart_balanced", rate=Levels([0.3, 0.5], epochs_per_level=2), seed=8,
                  union=True).load_state_dict(state)  # fmt: skip


# ----------------------------------------------------------------------------- deprecated names


@given(case=mask_cases(ndim=3), exact=st.booleans(), union=st.booleans())
def test_class_rate_mask_is_a_deprecated_name_of_smart_balanced_mask(
    case: Any, exact: bool, union: bool
) -> None:
    kw = {**case.kwargs, "exact": exact, "union": union}
    with pytest.warns(DeprecationWarning, match="smart_balanced_mask"):
        got = mk.class_rate_mask(case.haps, case.ref_rate, case.alt_rate, **kw)
    want = mk.smart_balanced_mask(case.haps, case.ref_rate, case.alt_rate, **kw)
    np.testing.assert_array_equal(got, want)


def test_class_rates_is_a_deprecated_name_of_smart_balanced() -> None:
    with pytest.warns(DeprecationWarning, match="SmartBalanced"):
        cls = mk.ClassRates
    assert cls is rules.SmartBalanced
    with pytest.warns(DeprecationWarning, match="SmartBalanced"):
        assert rules.ClassRates is rules.SmartBalanced
    assert "ClassRates" not in mk.__all__
    assert "ClassRates" not in rules.__all__
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = mk.Nope


# ----------------------------------------------------------------------------- report


def test_report_reads_a_snapshot_and_imports_no_masker() -> None:
    tree = ast.parse((SRC / "report.py").read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert "masker" not in imported
    assert "rules" not in imported
    masker = mk.Masker("smart_balanced", rate=Levels(), seed=1, union=True)
    masker.set_epoch(2)
    snap = masker.snapshot()
    with pytest.raises(AttributeError):
        snap.seed = 2  # type: ignore[misc]
    assert mk.report.describe(snap) == masker.describe() == mk.report.describe(masker)
    haps = make_haps()
    m = masker(haps)
    assert mk.report.stats(snap, m, haps) == masker.stats(m, haps)
