"""The conventions of docs/api.md, checked on the public names they list."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

import maskkit as mk
from maskkit import curriculum, io, metrics, report, rules

P = inspect.Parameter


def positional(fn: Any) -> list[str]:
    params = inspect.signature(fn).parameters.values()
    kinds = (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD)
    return [p.name for p in params if p.kind in kinds and p.name != "self"]


@pytest.mark.parametrize(
    ("fn", "arrays"),
    [
        (mk.Masker.__call__, ["haps"]),
        (mk.Masker.haplotype_mask, ["haps"]),
        (mk.Masker.batch, ["haps"]),
        (mk.Masker.stats, ["mask", "haps"]),
        (mk.collate, ["haps", "mask"]),
        (mk.mask_stats, ["mask", "haps"]),
        (mk.mask_tokens, ["ids", "mask"]),
        (rules.Rule.draw, ["haps"]),
        (rules.Rule.probabilities, ["haps"]),
        (report.stats, ["masker", "mask", "haps"]),
    ],
)
def test_arrays_are_the_only_positional_arguments(fn: Any, arrays: list[str]) -> None:
    assert positional(fn) == arrays


@pytest.mark.parametrize(
    "cls",
    [
        curriculum.Constant,
        curriculum.Levels,
        curriculum.Linear,
        curriculum.Cosine,
        curriculum.Plateau,
        curriculum.Uniform,
        curriculum.Beta,
    ],
)
def test_one_schedule_signature(cls: type) -> None:
    params = list(inspect.signature(cls.rate).parameters.values())[1:]
    assert [p.name for p in params] == ["epoch", "step"]
    assert params[0].default is P.empty
    assert params[1].default is None


@pytest.mark.parametrize(
    "cls", [mk.Masker, curriculum.Schedule, metrics.MinorAlleleScorer], ids=lambda c: c.__name__
)
def test_stateful_objects_have_state_dicts(cls: type) -> None:
    assert callable(getattr(cls, "state_dict", None))
    assert callable(getattr(cls, "load_state_dict", None))


@pytest.mark.parametrize(
    ("fn", "flag"),
    [
        (io.open_store, "verbose"),
        (io.HaplotypeStore.__init__, "verbose"),
        (io.VcfZarrStore.__init__, "verbose"),
        (io.simulate_demo, "verbose"),
        (io.demo_data, "verbose"),
        (io.vcf_to_hdf5, "show_progress"),
    ],
)
def test_library_functions_are_quiet_by_default(fn: Any, flag: str) -> None:
    assert inspect.signature(fn).parameters[flag].default is False


def test_top_level_exports_the_documented_names() -> None:
    for name in ("Rule", "Random", "SmartBalanced", "AlleleFrequency", "Span", "Array"):
        assert getattr(mk, name) is getattr(rules, name)
    assert "span_length_probabilities" in mk.__all__
    assert "OPTIONS" not in dir(mk.masker)
