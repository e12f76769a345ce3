"""Masks of the reference trainer: curriculum, training Masker, frozen validation masks.

The training Masker is the one set of curriculum books: the dataset draws every training mask
with it (site frequencies come from ``HaplotypeDataset(freq=)``), ``Masker.update`` drives a
dynamic curriculum, and its ``state_dict`` is what a checkpoint saves.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import maskkit as mk
from maskkit import curriculum

from .data import InputError

AF_EDGES = (0.01, 0.05)


class _Times:
    """Mixin: the schedule's rates times :attr:`factor`.

    ``af_aware`` masks a site at ``rate * af_rates[bin]``, which may exceed 1 before the cap;
    maskkit's table holds ``af_rates / max(af_rates)`` (rates lie in [0, 1]) and the curriculum
    drives the table's ``scale`` = ``rate * max(af_rates)``.
    """

    factor: float = 1.0

    def base_rate(self, epoch: int, step: int | None = None) -> float:
        """The curriculum's rate before the factor."""
        return float(super().rate(epoch, step))  # type: ignore[misc]

    def rate(self, epoch: int, step: int | None = None) -> float:
        return self.base_rate(epoch, step) * self.factor

    def config(self) -> dict[str, Any]:
        return {**super().config(), "factor": self.factor}  # type: ignore[misc]


class ScaledConstant(_Times, curriculum.Constant):
    """:class:`maskkit.curriculum.Constant` times ``factor``."""


class ScaledLevels(_Times, curriculum.Levels):
    """:class:`maskkit.curriculum.Levels` times ``factor``."""


class ScaledLinear(_Times, curriculum.Linear):
    """:class:`maskkit.curriculum.Linear` times ``factor``."""


class ScaledCosine(_Times, curriculum.Cosine):
    """:class:`maskkit.curriculum.Cosine` times ``factor``."""


class ScaledPlateau(_Times, curriculum.Plateau):
    """:class:`maskkit.curriculum.Plateau` times ``factor`` (``Masker.update`` drives it)."""


_SCALED: dict[type, type] = {
    c.__mro__[2]: c
    for c in (ScaledConstant, ScaledLevels, ScaledLinear, ScaledCosine, ScaledPlateau)
}


def scaled(schedule: curriculum.Schedule, factor: float) -> curriculum.Schedule:
    """``schedule`` rebuilt so that every rate is multiplied by ``factor``."""
    out = _SCALED[type(schedule)](**schedule.config())
    out.factor = float(factor)
    return out


def make_schedule(
    levels: list[float],
    epochs_per_level: int,
    dynamic: bool,
    kind: str = "levels",
    epochs: int = 1,
) -> curriculum.Schedule:
    """The curriculum: ``dynamic`` advances a level when validation rare F1 stalls (Plateau);
    otherwise ``kind`` = levels (step every ``epochs_per_level``), linear / cosine (ramp from the
    first to the last level over ``epochs``) or constant (the first level)."""
    if dynamic:
        return curriculum.Plateau(levels, patience=1, min_delta=0.002, mode="max")
    if kind == "levels":
        return curriculum.Levels(levels, epochs_per_level=epochs_per_level)
    if kind == "constant":
        return curriculum.Constant(levels[0])
    ramp = {"linear": curriculum.Linear, "cosine": curriculum.Cosine}.get(kind)
    if ramp is None:
        raise InputError(f"unknown --schedule {kind!r}")
    return ramp(levels[0], levels[-1], epochs=max(epochs - 1, 1))


def make_masker(
    strategy: str,
    schedule: Any,
    alt_rate: float,
    seed: int,
    exact: bool = False,
    af_rates: list[float] | None = None,
) -> mk.Masker:
    """The training Masker: per-haplotype masks (the trainer takes the union itself).

    ``af_aware`` masks both alleles of a site at ``rate * af_rates[bin]`` for the MAF bins
    ``< 0.01``, ``0.01-0.05``, ``>= 0.05`` (capped at 1): the table holds
    ``af_rates / max(af_rates)`` and the schedule is :func:`scaled` by ``max(af_rates)``.
    Its draws need each window's site frequencies (``HaplotypeDataset(freq=)``).
    """
    if not isinstance(schedule, curriculum.Schedule):
        schedule = curriculum.Constant(schedule)
    if strategy == "af_aware":
        table = np.asarray(af_rates or [1.6, 1.3, 1.0], dtype=np.float64)
        if table.shape != (3,) or (table <= 0).any():
            raise InputError(f"--af-rates needs 3 positive numbers, got {af_rates}")
        opts = {"edges": list(AF_EDGES), "rates": (table / table.max()).tolist(), "fold": True}
        rate = scaled(schedule, float(table.max()))
        return mk.Masker("af_aware", rate=rate, seed=seed, exact=exact, options=opts)
    if strategy not in ("random", "smart_balanced"):
        raise InputError(f"unknown masking strategy {strategy!r}")
    alt = alt_rate if strategy == "smart_balanced" else None
    return mk.Masker(strategy, rate=schedule, alt_rate=alt, seed=seed, exact=exact)


def banner(masker: mk.Masker, epoch: int) -> str:
    """The Masker's banner at ``epoch``, as the trainer uses it: the site mask is the union of
    the haplotypes' masks, so the banner reports the effective site rates after the union."""
    shown = mk.Masker(
        masker.rule, rate=masker.schedule, alt_rate=masker.alt_schedule, seed=masker.seed,
        exact=masker.exact, union=True,
    )  # fmt: skip
    shown.set_epoch(epoch)
    return shown.describe()


def curriculum_rate(masker: mk.Masker) -> float:
    """The curriculum's rate now (``af_aware``: before the ``max(af_rates)`` factor)."""
    if isinstance(masker.schedule, _Times):
        return masker.schedule.base_rate(masker.mask_epoch, masker.global_step)
    return float(masker.current_rates()[0])


def class_log_odds(
    ref_rate: float, alt_rate: float, alt_freq: np.ndarray, ploidy: int = 2
) -> np.ndarray:
    """Per site ``log P(site masked | alt) - log P(site masked | ref)`` of a haplotype.

    The trainer masks the union of its haplotypes' masks, so a haplotype's site is masked when
    its own draw (at its class rate) or another haplotype's draw hits; the other haplotypes are
    alt with the site's frequency ``f``: ``P(masked | x) = 1 - (1 - r_x) q^(ploidy - 1)`` with
    ``q = f (1 - r_alt) + (1 - f) (1 - r_ref)``. Masks that hide positions regardless of their
    allele (validation, real missing data) have log odds 0, so subtracting this from the alt
    logit removes the prior shift that class-rate masking teaches.
    """
    f = np.asarray(alt_freq, dtype=np.float64)
    q = f * (1.0 - alt_rate) + (1.0 - f) * (1.0 - ref_rate)
    rest = q ** (ploidy - 1)
    p_alt = 1.0 - (1.0 - alt_rate) * rest
    p_ref = 1.0 - (1.0 - ref_rate) * rest
    return np.log(np.maximum(p_alt, 1e-9)) - np.log(np.maximum(p_ref, 1e-9))


def training_class_rates(masker: mk.Masker) -> tuple[float, float] | None:
    """``(ref, alt)`` per-haplotype rates of a class-rate Masker now; None when class-blind."""
    if masker.strategy != "smart_balanced":
        return None  # random and af_aware (one rate per site for both alleles): no shift
    ref, alt = masker.current_rates()
    return float(np.mean(ref)), float(np.mean(alt))


def val_site_mask(
    haps: np.ndarray, rule: str, rate: float, unit: str, alt_rate: float, seed: int, window_id: int
) -> np.ndarray:
    """Frozen validation mask ``(samples, sites)`` for one window (epoch 0, fixed seed).

    ``unit="site"``: ``rate`` is the share of masked genotypes (per-haplotype rate solved so the
    union hits it); ``"haplotype"``: ``rate`` per haplotype, then the union.
    """
    n = haps.shape[0]
    idx = np.arange(n, dtype=np.int64) + np.int64(window_id) * 1_000_003
    site = unit == "site"
    if unit not in ("site", "haplotype"):
        raise InputError(f"--val-mask-unit must be 'site' or 'haplotype', got {unit!r}")
    if rule == "random":
        m = mk.random_mask(haps, rate, seed=seed, indices=idx, site_rate=site)
    elif rule == "smart_balanced":
        m = mk.smart_balanced_mask(haps, rate, alt_rate, seed=seed, indices=idx, site_rate=site)
    else:
        raise InputError(f"--val-mask-rule must be 'random' or 'smart_balanced', got {rule!r}")
    return mk.union(m)


def val_genotype_mask(
    haps: np.ndarray,
    windows: np.ndarray,
    rule: str,
    rate: float,
    unit: str,
    alt_rate: float,
    seed: int,
) -> np.ndarray:
    """Frozen validation mask of genotypes ``(samples, sites)``, drawn window by window with
    :func:`val_site_mask`; a site takes the mask of the first window that holds it.

    The trainer draws it on ``--val-mask-window`` tiles (128 sites by default), whatever the
    model's window, so models with other windows are scored on the same genotypes.
    """
    site = np.zeros((haps.shape[0], haps.shape[-1]), dtype=bool)
    covered = np.zeros(haps.shape[-1], dtype=bool)
    for w, (s, e) in enumerate(windows):
        m = val_site_mask(haps[:, :, s:e], rule, rate, unit, alt_rate, seed, w)
        cols = np.flatnonzero(~covered[s:e])
        covered[s:e] = True
        site[:, s + cols] = m[:, cols]
    return site
