"""What a Masker is doing, for the training log: a banner and realized-vs-target mask rates.

Both functions read a [Snapshot][maskkit.report.Snapshot], a plain frozen record the Masker
hands over ([Masker.snapshot][maskkit.masker.Masker.snapshot]), plus the mask and the haplotypes;
they keep nothing between calls and never look inside the Masker or its rule.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol

import numpy as np

from . import _validate as v
from .curriculum import Distribution, Schedule
from .union import effective_site_rates, haplotype_rate, mask_stats

__all__ = ["Snapshot", "describe", "stats"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Snapshot:
    """What a Masker is doing now: its rule, schedules, current rates, modes and position.

    Attributes
    ----------
    rule : dict
        The rule's config ([Rule.config][maskkit.rules.Rule.config]).
    options : dict
        The rule's parameters besides its scheduled rates, where not at their defaults.
    rate_label : str
        How the banner names the driven rate.
    class_rates : bool
        Whether the rates are per-allele-class targets (random, smart balanced).
    schedule : Schedule
        The driven rate's schedule.
    alt_schedule : Schedule or None
        The alt rate's schedule (rules with an alt rate).
    rates : tuple of float
        The current ``(ref, alt)`` rates (distribution means for per-sample rates).
    seed : int
        The Masker's seed.
    exact : bool
        Exact counts instead of Bernoulli draws.
    union : bool
        Site masks: the union over the ploidy axis.
    site_rate : bool
        Rates are site rates after the union.
    fixed_epoch : int or None
        The epoch validation masks are drawn at, if fixed.
    epoch : int
        The current epoch.
    mask_epoch : int
        The epoch that keys the masks.
    global_step : int
        The global step counter.

    Examples
    --------
    >>> import maskkit as mk
    >>> snap = mk.Masker("smart_balanced", rate=0.3, seed=1).snapshot()
    >>> snap.strategy, snap.rates, snap.class_rates
    ('smart_balanced', (0.3, 0.7), True)
    >>> mk.report.describe(snap).splitlines()[1]
    'Masking Strategy: smart_balanced'
    """

    rule: dict[str, Any]
    options: dict[str, Any]
    rate_label: str
    class_rates: bool
    schedule: Schedule
    alt_schedule: Schedule | None
    rates: tuple[float, float]
    seed: int
    exact: bool
    union: bool
    site_rate: bool
    fixed_epoch: int | None
    epoch: int
    mask_epoch: int
    global_step: int

    @property
    def strategy(self) -> str:
        """The rule's kind."""
        return str(self.rule["kind"])


class HasSnapshot(Protocol):
    """Anything that hands a [Snapshot][maskkit.report.Snapshot] (a Masker)."""

    def snapshot(self) -> Snapshot: ...


def _snapshot(masker: Snapshot | HasSnapshot) -> Snapshot:
    return masker if isinstance(masker, Snapshot) else masker.snapshot()


_RULE = "=" * 80


def _pct(r: float) -> str:
    s = f"{100.0 * r:.2f}".rstrip("0").rstrip(".")
    return f"{s}%"


def _level_list(levels: tuple[float, ...]) -> str:
    return "[" + ", ".join(f"{x:.2f}" if round(x, 2) == x else repr(x) for x in levels) + "]"


def _tag(sched: Schedule) -> str:
    if isinstance(sched, Distribution):
        return f"per-sample {sched!r}, mean"
    return "fixed" if sched.is_constant else "curriculum"


def _haplotype_rates(masker: Snapshot, ref: float, alt: float, ploidy: int) -> tuple[float, float]:
    if not masker.site_rate:
        return ref, alt
    return float(haplotype_rate(ref, ploidy)), float(haplotype_rate(alt, ploidy))


def describe(masker: Snapshot | HasSnapshot, *, ploidy: int = 2) -> str:
    """Return a multi-line banner of ``masker`` (a Masker or its Snapshot) for the training log.

    Carries the lines of the original trainer's banner (``Masking Strategy:``, ``Smart Mask
    Params:``, ``Curriculum Learning Levels:``, ``Epoch E: Level L``, ``Ref (0) Mask Rate:``,
    ``Alt (>0) Mask Rate:``) plus the mode, the seed and, with ``union`` or ``site_rate``, the
    effective site rates after the union over ``ploidy`` haplotypes.

    Parameters
    ----------
    masker : Masker or Snapshot
        What to describe, at its current epoch.
    ploidy : int
        Haplotypes per sample, for the site rates after the union.

    Examples
    --------
    >>> import maskkit as mk
    >>> from maskkit.curriculum import Levels
    >>> masker = mk.Masker("smart_balanced", rate=Levels(epochs_per_level=2), seed=1)
    >>> masker.set_epoch(2)
    >>> print(mk.report.describe(masker))  # doctest: +NORMALIZE_WHITESPACE
    ================================================================================
    Masking Strategy: smart_balanced
    Smart Mask Params: {'alt_mask_rate': 0.7}
    Curriculum Learning Levels: [0.30, 0.40, 0.50, 0.60, 0.70, 0.80]
    Curriculum Schedule: Levels([0.3, 0.4, 0.5, 0.6, 0.7, 0.8], epochs_per_level=2)
    Mask Mode: bernoulli, union off, seed 1
    ================================================================================
    Epoch 2: Level 1
      - Ref (0) Mask Rate: 40% (curriculum)
      - Alt (>0) Mask Rate: 70% (fixed)
    """
    p = v.int_scalar(ploidy, "ploidy", 1, 1024)
    masker = _snapshot(masker)
    sched, alt = masker.schedule, masker.alt_schedule
    schedules = [sched] if alt is None else [sched, alt]
    ref_r, alt_r = masker.rates
    lines = [_RULE, f"Masking Strategy: {masker.strategy}"]
    if alt is not None:
        shown: Any = alt.rate(0) if alt.is_constant else repr(alt)
        lines.append(f"Smart Mask Params: {{'alt_mask_rate': {shown}}}")
    if masker.options:
        lines.append(f"Rule Params: {masker.options}")
    if sched.levels is not None:
        lines.append(f"Curriculum Learning Levels: {_level_list(sched.levels)}")
    lines.append(f"Curriculum Schedule: {sched!r}")
    if alt is not None and not alt.is_constant:
        lines.append(f"Alt Schedule: {alt!r}")
    mode = "exact counts" if masker.exact else "bernoulli"
    extra = ", rates are site rates" if masker.site_rate else ""
    lines.append(
        f"Mask Mode: {mode}, union {'on' if masker.union else 'off'}, seed {masker.seed}{extra}"
    )
    if masker.fixed_epoch is not None:
        lines.append(f"Validation Masks: fixed, drawn as at epoch {masker.fixed_epoch}")
    lines.append(_RULE)
    head = f"Epoch {masker.epoch}"
    level = sched.level(masker.mask_epoch, masker.global_step)
    if level is not None:
        head += f": Level {level}"
    if any(getattr(s, "unit", "epoch") == "step" for s in schedules):
        head += f" (step {masker.global_step})"
    lines.append(head)
    unit = " per site" if masker.site_rate else ""
    if alt is None:
        label = masker.rate_label
        lines.append(f"  - {label}: {_pct(ref_r)}{unit} ({_tag(sched)})")
    else:
        lines.append(f"  - Ref (0) Mask Rate: {_pct(ref_r)}{unit} ({_tag(sched)})")
        lines.append(f"  - Alt (>0) Mask Rate: {_pct(alt_r)}{unit} ({_tag(alt)})")
    if (masker.union or masker.site_rate) and masker.class_rates:
        hr, ha = _haplotype_rates(masker, ref_r, alt_r, p)
        if masker.site_rate:
            lines.append(f"  - Per-haplotype rates: ref {_pct(hr)}, alt {_pct(ha)}")
        eff = effective_site_rates(hr, ha, p)
        approx = " (at mean rates)" if any(s.per_sample for s in schedules) else ""
        body = ", ".join(f"{k} alt: {_pct(r)}" for k, r in eff.items())
        lines.append(f"  - Site Mask Rate after union (ploidy {p}){approx}: {body}")
    return "\n".join(lines)


def stats(
    masker: Snapshot | HasSnapshot, mask: Any, haps: Any, *, lengths: Any = None
) -> dict[str, float]:
    """Realized per-class rates of ``mask`` next to the rates ``masker`` aims at.

    Returns [maskkit.mask_stats][maskkit.union.mask_stats] (per haplotype ``ref_rate``,
    ``alt_rate``, ``rate``; for 3-D ``haps`` the site rates after the union, ``site_rate_alt{k}``)
    plus ``epoch``, ``target_ref_rate``, ``target_alt_rate`` (per haplotype) and, for 3-D ``haps``,
    ``expected_site_rate_alt{k}``. For rules whose schedule sets something other than a per-class
    rate (a scale, a span fraction, the off-array rate), ``schedule_rate`` replaces the per-class
    targets. Pass the per-haplotype mask
    ([maskkit.Masker.haplotype_mask][maskkit.masker.Masker.haplotype_mask]) for the rates before the
    union; a site mask counts for each haplotype of its site.

    Parameters
    ----------
    masker : Masker or Snapshot
        The Masker (or its Snapshot) that drew ``mask``, at the epoch it drew it.
    mask : bool array
        The mask: per haplotype (the shape of ``haps``) or a site mask ``(samples, sites)``.
    haps : int array, shape (samples, ploidy, sites) or (rows, sites)
        The alleles the mask was drawn on.
    lengths : int array, shape (samples,), optional
        Real sites per sample; later positions are padding and not counted.

    Returns
    -------
    dict of str to float

    Examples
    --------
    >>> import numpy as np, maskkit as mk
    >>> masker = mk.Masker("smart_balanced", rate=0.3, seed=5, exact=True)
    >>> haps = np.zeros((1, 2, 10), dtype=np.int8)
    >>> s = mk.report.stats(masker, masker(haps), haps)
    >>> s["ref_rate"], s["target_ref_rate"], round(s["expected_site_rate_alt0"], 2)
    (0.3, 0.3, 0.51)
    """
    masker = _snapshot(masker)
    out: dict[str, float] = dict(mask_stats(mask, haps, lengths=lengths))
    out["epoch"] = masker.epoch
    if not masker.class_rates:
        out["schedule_rate"] = masker.rates[0]
        return out
    shape = np.shape(haps)
    p = int(shape[1]) if len(shape) == 3 else 1
    hr, ha = _haplotype_rates(masker, *masker.rates, p)
    out["target_ref_rate"] = hr
    out["target_alt_rate"] = ha
    if len(shape) == 3:
        for k, r in effective_site_rates(hr, ha, p).items():
            out[f"expected_site_rate_alt{k}"] = r
    return out
