"""maskkit: which genotype positions a masked model must predict, and how hard that gets.

The core is numpy + numba only; ``maskkit.torch`` and ``maskkit.io`` import their frameworks
lazily.
"""

from __future__ import annotations

from typing import Any

from . import curriculum, freq, metrics, report, rules, tokens
from ._sync import WorkerSyncError, WorkerSyncWarning, share
from ._version import __version__
from .collate import collate, padded_width
from .masker import Masker
from .masks import (
    af_bins,
    af_mask,
    array_mask,
    class_rate_mask,
    haplotype_rate_for_site_rate,
    random_mask,
    smart_balanced_mask,
    span_length_probabilities,
    span_mask,
)
from .rules import (
    AlleleFrequency,
    Array,
    PerPosition,
    Random,
    Rule,
    SmartBalanced,
    Span,
)
from .union import effective_rate, effective_site_rates, mask_stats, union
from .vocab import mask_tokens

__all__ = [
    "AlleleFrequency",
    "Array",
    "Masker",
    "PerPosition",
    "Random",
    "Rule",
    "SmartBalanced",
    "Span",
    "WorkerSyncError",
    "WorkerSyncWarning",
    "__version__",
    "af_bins",
    "af_mask",
    "array_mask",
    "class_rate_mask",
    "collate",
    "curriculum",
    "effective_rate",
    "effective_site_rates",
    "freq",
    "haplotype_rate_for_site_rate",
    "mask_stats",
    "mask_tokens",
    "metrics",
    "padded_width",
    "random_mask",
    "report",
    "rules",
    "share",
    "smart_balanced_mask",
    "span_length_probabilities",
    "span_mask",
    "tokens",
    "union",
]


def __getattr__(name: str) -> Any:
    if name == "ClassRates":  # deprecated: rules.ClassRates warns
        return getattr(rules, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
