"""The Masker: a masking rule, its rate schedules, a seed, and where training is.

A trainer holds one :class:`Masker`. Everything that decides the mask of a sample is in the
Masker's state: the rule and seed (fixed configuration), the epoch and global step, and the level
of each :class:`~maskkit.curriculum.Plateau` schedule (the *dynamic state*, see
:meth:`Masker.sync_state`). A DataLoader worker that knows the dynamic state computes the same
masks as the main process.
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

import numpy as np

from . import _validate as v
from ._sync import SyncChannel, SyncLink
from .collate import collate
from .curriculum import Constant, Distribution, Plateau, Schedule, as_schedule, from_state_dict
from .masks import (
    _span_distribution,
    af_mask,
    array_mask,
    class_rate_mask,
    haplotype_rate_for_site_rate,
    random_mask,
    span_mask,
)
from .union import effective_site_rates, mask_stats, union

__all__ = ["STRATEGIES", "Masker"]

#: Masking rules a :class:`Masker` knows.
STRATEGIES: tuple[str, ...] = ("random", "smart_balanced", "af_aware", "span", "array")
#: Rule options each strategy accepts in ``options=`` (JSON types; see the rule functions).
OPTIONS: dict[str, tuple[str, ...]] = {
    "random": (),
    "smart_balanced": (),
    "af_aware": ("edges", "rates", "fold", "freq"),
    "span": ("mean_span", "max_span", "span_lengths"),
    "array": ("keep", "every", "kept_rate"),
}
_FORMAT = "maskkit.Masker/1"
_RATE_LABELS = {
    "af_aware": "Rate Scale (x AF table)",
    "span": "Span Mask Rate (target fraction)",
    "array": "Off-array Mask Rate",
}
_RULE = "=" * 80


def _pct(r: float) -> str:
    s = f"{100.0 * r:.2f}".rstrip("0").rstrip(".")
    return f"{s}%"


def _level_list(levels: tuple[float, ...]) -> str:
    return "[" + ", ".join(f"{x:.2f}" if round(x, 2) == x else repr(x) for x in levels) + "]"


def _indices(value: Any, n: int) -> np.ndarray:
    """Global sample ids as int64, ``0..n-1`` when not given (the core functions' default)."""
    if value is None:
        return np.arange(n, dtype=np.int64)
    return v.indices(value, n)


def _canon(obj: Any) -> Any:
    return json.loads(json.dumps(obj, sort_keys=True))


def _plain(obj: Any) -> Any:
    """Arrays and tuples to lists, numpy scalars to Python numbers (JSON types)."""
    if isinstance(obj, dict):
        return {str(k): _plain(x) for k, x in obj.items()}
    if isinstance(obj, (list, tuple, np.ndarray)):
        return [_plain(x) for x in (obj.tolist() if isinstance(obj, np.ndarray) else obj)]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _check_options(strategy: str, options: Any) -> dict[str, Any]:
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise TypeError(f"options must be a dict of rule options, got {type(options).__name__}")
    allowed = OPTIONS[strategy]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(
            f"options {unknown} are not options of strategy={strategy!r}; "
            f"it accepts {list(allowed) or 'none'}"
        )
    opts = _plain(options)
    probe = np.zeros((1, 1), dtype=np.int8)
    if strategy == "af_aware":
        for key in ("edges", "rates"):
            if key not in opts:
                raise ValueError(
                    f"strategy='af_aware' needs options['{key}'] (see maskkit.af_mask)"
                )
        af_mask(probe, [0.0], opts["edges"], opts["rates"], fold=opts.get("fold", True), seed=0)
    elif strategy == "span":
        lengths = opts.get("span_lengths")
        _span_distribution(
            opts.get("mean_span"), opts.get("max_span"), None if lengths is None else tuple(lengths)
        )
    elif strategy == "array":
        if ("keep" in opts) == ("every" in opts):
            raise ValueError("strategy='array' needs exactly one of options['keep'] and ['every']")
        v.rate_scalar(opts.get("kept_rate", 0.0), "options['kept_rate']")
        if "every" in opts:
            v.int_scalar(opts["every"], "options['every']", low=1, high=2**62)
    return opts


def _flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for k, x in obj.items():
            out.update(_flatten(x, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: obj}


class Masker:
    """Masks for a batch from a rule, rate schedules, a seed and the current epoch/step.

    Parameters
    ----------
    strategy : {"random", "smart_balanced", "af_aware", "span", "array"}
        ``"random"``: every eligible position at ``rate`` (:func:`maskkit.random_mask`).
        ``"smart_balanced"``: ref positions at ``rate``, alt positions at ``alt_rate``
        (:func:`maskkit.smart_balanced_mask`). ``"af_aware"``: :func:`maskkit.af_mask`, the
        table ``options["rates"]`` scaled by ``rate``; pass each batch's site frequencies as
        ``freq=`` (or a fixed ``options["freq"]``). ``"span"``: :func:`maskkit.span_mask` at
        ``rate``. ``"array"``: :func:`maskkit.array_mask`, off-array sites at ``rate``.
    rate : float or Schedule
        The rate that follows the curriculum (ref rate for smart balanced). A float is a
        :class:`~maskkit.curriculum.Constant`; a :class:`~maskkit.curriculum.Uniform` or
        :class:`~maskkit.curriculum.Beta` gives every sample its own rate.
    alt_rate : float or Schedule, optional
        Smart balanced only: the alt rate, fixed at 0.7 unless given (or given a schedule).
    seed : int
        Seed of every random draw, in ``[0, 2**64)``.
    exact : bool, default False
        Exact per-row (and per-class) counts instead of independent Bernoulli draws.
    union : bool, default False
        Return the site mask ``(samples, sites)``, the union over the ploidy axis (needs 3-D
        haplotypes). The union raises the site rate; :meth:`describe` reports by how much.
    site_rate : bool, default False
        Read the rates as site rates after the union and mask each haplotype at the rate that
        achieves them (see :func:`maskkit.haplotype_rate_for_site_rate`).
    fixed_epoch : int, optional
        Draw every mask as at this epoch, whatever :meth:`set_epoch` says (validation masks).
        Rates must then be constant or per-sample distributions. See :meth:`frozen`.
    parallel : bool, default False
        Spread rows over numba threads (same masks for any thread count; not configuration).
    options : dict, optional
        Rule options of the new strategies (JSON types, part of the configuration):
        ``af_aware``: ``edges``, ``rates``, ``fold``, ``freq``; ``span``: ``mean_span``,
        ``max_span``, ``span_lengths`` (``[values, probs]``); ``array``: ``keep`` (bool site
        list or positions) or ``every``, and ``kept_rate``.

    Examples
    --------
    >>> import numpy as np, maskkit as mk
    >>> from maskkit.curriculum import Levels
    >>> sched = Levels([0.30, 0.40, 0.50, 0.60, 0.70, 0.80], epochs_per_level=2)
    >>> masker = mk.Masker("smart_balanced", rate=sched, alt_rate=0.7, seed=1234)
    >>> masker.set_epoch(3)
    >>> haps = np.zeros((4, 2, 50), dtype=np.int8)
    >>> m = masker(haps)
    >>> bool((m == mk.smart_balanced_mask(haps, 0.4, 0.7, seed=1234, epoch=3)).all())
    True
    """

    def __init__(
        self,
        strategy: str,
        rate: float | Schedule,
        alt_rate: float | Schedule | None = None,
        *,
        seed: int,
        exact: bool = False,
        union: bool = False,
        site_rate: bool = False,
        fixed_epoch: int | None = None,
        parallel: bool = False,
        options: dict[str, Any] | None = None,
    ) -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {list(STRATEGIES)}, got {strategy!r}")
        self.strategy = strategy
        self.schedule: Schedule = as_schedule(rate, "rate")
        self.options = _check_options(strategy, options)
        if strategy != "smart_balanced":
            if alt_rate is not None:
                raise ValueError(
                    f"alt_rate is for strategy='smart_balanced'; strategy={strategy!r} has one "
                    f"curriculum rate (got alt_rate={alt_rate!r}); drop alt_rate or switch strategy"
                )
            self.alt_schedule: Schedule | None = None
        else:
            self.alt_schedule = as_schedule(0.7 if alt_rate is None else alt_rate, "alt_rate")
        self.seed = v.int_scalar(seed, "seed")
        for name, flag in (("exact", exact), ("union", union), ("site_rate", site_rate)):
            if not isinstance(flag, (bool, np.bool_)):
                raise TypeError(f"{name} must be True or False, got {flag!r}")
        self.exact = bool(exact)
        self.union = bool(union)
        self.site_rate = bool(site_rate)
        self.parallel = bool(parallel)
        self.fixed_epoch = (
            None
            if fixed_epoch is None
            else v.int_scalar(fixed_epoch, "fixed_epoch", high=2**63 - 1)
        )
        if self.fixed_epoch is not None:
            for name, s in self._schedules():
                if not (s.is_constant or s.per_sample):
                    raise ValueError(
                        f"fixed_epoch needs fixed rates, but {name} is {s!r}; "
                        "use masker.frozen(...) to get a validation copy at the current rates"
                    )
        self._epoch = 0
        self._step = 0
        self._last_ploidy = 2
        self._sync = SyncLink()

    # ------------------------------------------------------------------ bookkeeping

    def _schedules(self) -> list[tuple[str, Schedule]]:
        out = [("rate", self.schedule)]
        if self.alt_schedule is not None:
            out.append(("alt_rate", self.alt_schedule))
        return out

    @property
    def epoch(self) -> int:
        """The current epoch (set with :meth:`set_epoch`)."""
        return self._epoch

    @property
    def global_step(self) -> int:
        """The global step counter (advanced by :meth:`step`)."""
        return self._step

    @property
    def mask_epoch(self) -> int:
        """The epoch that keys the masks: ``fixed_epoch`` if set, else :attr:`epoch`."""
        return self._epoch if self.fixed_epoch is None else self.fixed_epoch

    def set_epoch(self, epoch: int) -> None:
        """Set the current epoch (call at the start of each epoch, like a sampler's)."""
        self._epoch = v.int_scalar(epoch, "epoch", high=2**63 - 1)
        self._publish()

    def set_step(self, step: int) -> None:
        """Set the global step counter (for step-based schedules)."""
        self._step = v.int_scalar(step, "step", high=2**63 - 1)
        self._publish()

    def step(self, n: int = 1) -> int:
        """Advance the global step counter by ``n`` and return it."""
        self._step += v.int_scalar(n, "n", high=2**62)
        self._publish()
        return self._step

    def update(self, metric: float) -> bool:
        """Feed a validation metric to every :class:`~maskkit.curriculum.Plateau` schedule.

        Returns True when any of them advanced a level.
        """
        # one update per Plateau object, even when rate and alt_rate share it
        plateaus = list({id(s): s for _, s in self._schedules() if isinstance(s, Plateau)}.values())
        if not plateaus:
            raise ValueError(
                "update(metric) drives Plateau schedules, but this Masker has none "
                f"(rate={self.schedule!r}); use rate=Plateau(...) for a dynamic curriculum"
            )
        advanced = [p.update(metric) for p in plateaus]
        self._publish()
        return any(advanced)

    # ------------------------------------------------------------------ rates

    def _rate_of(self, sched: Schedule) -> float:
        return sched.rate(self.mask_epoch, self._step)

    def current_rates(self) -> tuple[float, float]:
        """Return ``(ref_rate, alt_rate)`` now (distribution means for per-sample rates).

        For ``strategy="random"`` both are the one rate.
        """
        r = self._rate_of(self.schedule)
        a = r if self.alt_schedule is None else self._rate_of(self.alt_schedule)
        return r, a

    def sample_rates(self, indices: Any) -> tuple[Any, Any]:
        """Return the ``(ref, alt)`` rates for global sample ids ``indices``.

        Each is a float, or a float64 array of one rate per sample for per-sample
        distributions.
        """
        idx = _indices(indices, int(np.size(indices)))
        return self._rates_for(idx)

    def _rates_for(self, idx: np.ndarray) -> tuple[Any, Any]:
        def one(s: Schedule, slot: int) -> Any:
            if isinstance(s, Distribution):
                return s.sample_rates(idx, seed=self.seed, epoch=self.mask_epoch, slot=slot)
            return self._rate_of(s)

        r = one(self.schedule, 0)
        a = r if self.alt_schedule is None else one(self.alt_schedule, 1)
        return r, a

    # ------------------------------------------------------------------ masks

    def haplotype_mask(
        self,
        haps: Any,
        lengths: Any = None,
        indices: Any = None,
        *,
        out: np.ndarray | None = None,
        freq: Any = None,
    ) -> np.ndarray:
        """Return the per-haplotype mask (before any union), the shape of ``haps``.

        ``freq`` (strategy ``"af_aware"`` only): the site frequencies of this batch, shape
        ``(sites,)`` or ``(samples, sites)``; defaults to ``options["freq"]``.
        """
        self._pull()
        shape = np.shape(haps)
        if len(shape) not in (2, 3):
            raise ValueError(
                f"haps must be 2-D (rows, sites) or 3-D (samples, ploidy, sites), got {shape}"
            )
        n = shape[0]
        idx = _indices(indices, n)
        ref, alt = self._rates_for(idx)
        common = {
            "seed": self.seed,
            "epoch": self.mask_epoch,
            "indices": idx,
            "lengths": lengths,
            "exact": self.exact,
            "site_rate": self.site_rate,
            "out": out,
            "parallel": self.parallel,
        }
        if len(shape) == 3:
            self._last_ploidy = int(shape[1])
        if freq is not None and self.strategy != "af_aware":
            raise ValueError(f"freq is for strategy='af_aware', not {self.strategy!r}; drop freq")
        if self.strategy == "random":
            return random_mask(haps, ref, **common)
        if self.strategy == "smart_balanced":
            return class_rate_mask(haps, ref, alt, **common)
        o = self.options
        if self.strategy == "af_aware":
            f = o.get("freq") if freq is None else freq
            if f is None:
                raise ValueError(
                    "strategy='af_aware' needs the site frequencies: pass freq= with the batch "
                    "or options['freq'] at construction"
                )
            return af_mask(
                haps, f, o["edges"], o["rates"], scale=ref, fold=o.get("fold", True), **common
            )
        if self.strategy == "span":
            sl = o.get("span_lengths")
            return span_mask(
                haps, ref, mean_span=o.get("mean_span"), max_span=o.get("max_span"),
                span_lengths=None if sl is None else tuple(sl), **common,
            )  # fmt: skip
        return array_mask(
            haps, o.get("keep"), ref, every=o.get("every"), kept_rate=o.get("kept_rate", 0.0),
            **common,
        )  # fmt: skip

    def __call__(
        self, haps: Any, lengths: Any = None, indices: Any = None, *, freq: Any = None
    ) -> np.ndarray:
        """Return the mask for a batch: per haplotype, or the site mask when ``union=True``.

        Parameters
        ----------
        haps : int array, shape (rows, sites) or (samples, ploidy, sites)
            Alleles of the real, unpadded content (``0`` ref, ``>= 1`` alt, negative missing).
        lengths : int array of shape (samples,), optional
            Real sites per sample; padding is never masked.
        indices : int array of shape (samples,), optional
            Global dataset ids of the samples (default ``0..samples-1``). Pass them so a sample's
            mask does not depend on its batch.
        freq : float array of shape (sites,) or (samples, sites), optional
            Site allele frequencies of the batch (strategy ``"af_aware"``).

        Returns
        -------
        numpy.ndarray of bool
            Ready for :func:`maskkit.collate` with the same ``haps`` and ``lengths``.
        """
        m = self.haplotype_mask(haps, lengths, indices, freq=freq)
        if self.union:
            if m.ndim != 3:
                raise ValueError(
                    f"union=True needs 3-D haps (samples, ploidy, sites), got shape {m.shape}; "
                    "pass haplotypes grouped by sample or build the Masker with union=False"
                )
            return union(m)
        return m

    def batch(
        self,
        haps: Any,
        lengths: Any = None,
        indices: Any = None,
        *,
        freq: Any = None,
        **collate_kwargs: Any,
    ) -> dict[str, np.ndarray]:
        """Mask, pad and tokenize a batch: :func:`maskkit.collate` on this Masker's mask.

        ``collate_kwargs`` (``pad_to``, ``pad_to_multiple_of``, ``replace``, ``n_alleles``,
        ``dtype``) go to :func:`maskkit.collate`; its seed, epoch and indices are the Masker's.

        Examples
        --------
        >>> import numpy as np, maskkit as mk
        >>> masker = mk.Masker("random", rate=0.5, seed=3, exact=True)
        >>> b = masker.batch(np.zeros((2, 4), dtype=np.int8), lengths=[4, 2], pad_to=6)
        >>> b["attention_mask"].tolist()
        [[1, 1, 1, 1, 0, 0], [1, 1, 0, 0, 0, 0]]
        """
        for key in ("seed", "epoch", "indices"):
            if key in collate_kwargs:
                raise TypeError(f"batch() sets {key} from the Masker; do not pass {key}=")
        n = np.shape(haps)[0]
        idx = _indices(indices, n)
        mask = self(haps, lengths, idx, freq=freq)
        return collate(
            haps, mask, lengths, seed=self.seed, epoch=self.mask_epoch, indices=idx,
            **collate_kwargs,
        )  # fmt: skip

    # ------------------------------------------------------------------ reporting

    def _haplotype_rates(self, ref: float, alt: float, ploidy: int) -> tuple[float, float]:
        if not self.site_rate:
            return ref, alt
        return (
            haplotype_rate_for_site_rate(ref, ploidy),
            haplotype_rate_for_site_rate(alt, ploidy),
        )

    def _tag(self, sched: Schedule) -> str:
        if isinstance(sched, Distribution):
            return f"per-sample {sched!r}, mean"
        return "fixed" if sched.is_constant else "curriculum"

    def describe(self, ploidy: int | None = None) -> str:
        """Return a multi-line banner for the training log.

        Carries the lines of the original trainer's banner (``Masking Strategy:``, ``Smart Mask
        Params:``, ``Curriculum Learning Levels:``, ``Epoch E: Level L``, ``Ref (0) Mask
        Rate:``, ``Alt (>0) Mask Rate:``) plus the mode, the seed and, with ``union=True``, the
        effective site rates after the union for ``ploidy`` (default: the last batch's, else 2).

        Examples
        --------
        >>> import maskkit as mk
        >>> from maskkit.curriculum import Levels
        >>> masker = mk.Masker("smart_balanced", rate=Levels(epochs_per_level=2), seed=1)
        >>> masker.set_epoch(2)
        >>> print(masker.describe())  # doctest: +NORMALIZE_WHITESPACE
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
        p = self._last_ploidy if ploidy is None else v.int_scalar(ploidy, "ploidy", 1, 1024)
        sched, alt = self.schedule, self.alt_schedule
        ref_r, alt_r = self.current_rates()
        lines = [_RULE, f"Masking Strategy: {self.strategy}"]
        if alt is not None:
            shown: Any = alt.rate(0) if alt.is_constant else repr(alt)
            lines.append(f"Smart Mask Params: {{'alt_mask_rate': {shown}}}")
        if self.options:
            lines.append(f"Rule Params: {self.options}")
        if sched.levels is not None:
            lines.append(f"Curriculum Learning Levels: {_level_list(sched.levels)}")
        lines.append(f"Curriculum Schedule: {sched!r}")
        if alt is not None and not alt.is_constant:
            lines.append(f"Alt Schedule: {alt!r}")
        mode = "exact counts" if self.exact else "bernoulli"
        extra = ", rates are site rates" if self.site_rate else ""
        lines.append(
            f"Mask Mode: {mode}, union {'on' if self.union else 'off'}, seed {self.seed}{extra}"
        )
        if self.fixed_epoch is not None:
            lines.append(f"Validation Masks: fixed, drawn as at epoch {self.fixed_epoch}")
        lines.append(_RULE)
        head = f"Epoch {self._epoch}"
        level = sched.level(self.mask_epoch, self._step)
        if level is not None:
            head += f": Level {level}"
        if any(getattr(s, "unit", "epoch") == "step" for _, s in self._schedules()):
            head += f" (step {self._step})"
        lines.append(head)
        unit = " per site" if self.site_rate else ""
        if alt is None:
            label = _RATE_LABELS.get(self.strategy, "Mask Rate (all alleles)")
            lines.append(f"  - {label}: {_pct(ref_r)}{unit} ({self._tag(sched)})")
        else:
            lines.append(f"  - Ref (0) Mask Rate: {_pct(ref_r)}{unit} ({self._tag(sched)})")
            lines.append(f"  - Alt (>0) Mask Rate: {_pct(alt_r)}{unit} ({self._tag(alt)})")
        if self.union or self.site_rate:
            hr, ha = self._haplotype_rates(ref_r, alt_r, p)
            if self.site_rate:
                lines.append(f"  - Per-haplotype rates: ref {_pct(hr)}, alt {_pct(ha)}")
            eff = effective_site_rates(hr, ha, p)
            approx = " (at mean rates)" if any(s.per_sample for _, s in self._schedules()) else ""
            body = ", ".join(f"{k} alt: {_pct(r)}" for k, r in eff.items())
            lines.append(f"  - Site Mask Rate after union (ploidy {p}){approx}: {body}")
        return "\n".join(lines)

    def stats(self, mask: Any, haps: Any, lengths: Any = None) -> dict[str, float]:
        """Realized per-class rates of ``mask`` next to the rates this Masker aims at.

        Returns :func:`maskkit.mask_stats` (per haplotype ``ref_rate``, ``alt_rate``, ``rate``;
        for 3-D ``haps`` the site rates after the union, ``site_rate_alt{k}``) plus ``epoch``,
        ``target_ref_rate``, ``target_alt_rate`` (per haplotype) and, for 3-D ``haps``,
        ``expected_site_rate_alt{k}``. For ``"af_aware"``, ``"span"`` and ``"array"`` the
        schedule sets a scale, a span fraction or the off-array rate, so ``schedule_rate``
        replaces the per-class targets. Pass the per-haplotype mask
        (:meth:`haplotype_mask`) for the rates before the union; a site mask (``union=True``)
        counts for each haplotype of its site.

        Examples
        --------
        >>> import numpy as np, maskkit as mk
        >>> masker = mk.Masker("smart_balanced", rate=0.3, seed=5, exact=True)
        >>> haps = np.zeros((1, 2, 10), dtype=np.int8)
        >>> s = masker.stats(masker(haps), haps)
        >>> s["ref_rate"], s["target_ref_rate"], round(s["expected_site_rate_alt0"], 2)
        (0.3, 0.3, 0.51)
        """
        out: dict[str, float] = dict(mask_stats(mask, haps, lengths))
        out["epoch"] = self._epoch
        if self.strategy in _RATE_LABELS:
            # The schedule drives a scale (af_aware), a span fraction or the off-array rate: no
            # single per-class target exists, so report the schedule's value under its own name.
            out["schedule_rate"] = self.current_rates()[0]
            return out
        shape = np.shape(haps)
        p = int(shape[1]) if len(shape) == 3 else 1
        hr, ha = self._haplotype_rates(*self.current_rates(), p)
        out["target_ref_rate"] = hr
        out["target_alt_rate"] = ha
        if len(shape) == 3:
            for k, r in effective_site_rates(hr, ha, p).items():
                out[f"expected_site_rate_alt{k}"] = r
        return out

    # ------------------------------------------------------------------ state

    def config(self) -> dict[str, Any]:
        """Return the configuration (JSON types): everything but epoch, step and levels."""
        return {
            "strategy": self.strategy,
            "rate": {"type": type(self.schedule).__name__, "config": self.schedule.config()},
            "alt_rate": None
            if self.alt_schedule is None
            else {"type": type(self.alt_schedule).__name__, "config": self.alt_schedule.config()},
            "seed": self.seed,
            "exact": self.exact,
            "union": self.union,
            "site_rate": self.site_rate,
            "fixed_epoch": self.fixed_epoch,
            # only when set: configurations (and fingerprints) of the first rules are unchanged
            **({"options": self.options} if self.options else {}),
        }

    @property
    def fingerprint(self) -> str:
        """A 16-hex-digit hash of :meth:`config`; checkpoints of other configurations differ."""
        blob = json.dumps(_canon(self.config()), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def state_dict(self) -> dict[str, Any]:
        """Return configuration, fingerprint and training state as plain JSON types.

        Examples
        --------
        >>> import json, maskkit as mk
        >>> from maskkit.curriculum import Levels
        >>> a = mk.Masker("smart_balanced", rate=Levels(), seed=1)
        >>> a.set_epoch(4)
        >>> b = mk.Masker("smart_balanced", rate=Levels(), seed=1)
        >>> b.load_state_dict(json.loads(json.dumps(a.state_dict())))
        >>> b.epoch, b.current_rates() == a.current_rates()
        (4, True)
        """
        return {
            "format": _FORMAT,
            "fingerprint": self.fingerprint,
            "config": self.config(),
            "epoch": self._epoch,
            "step": self._step,
            "schedules": {name: s.state_dict() for name, s in self._schedules()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore epoch, step and schedule state from :meth:`state_dict`.

        Raises ``ValueError`` naming the differing settings when the checkpoint was made by a
        Masker with another configuration (rule, rates, schedules, seed, modes).
        """
        if not isinstance(state, dict) or state.get("format") != _FORMAT:
            raise TypeError(
                f"state must be a dict from Masker.state_dict() (format {_FORMAT!r}), "
                f"got {type(state).__name__}"
                + (f" with format {state.get('format')!r}" if isinstance(state, dict) else "")
            )
        if state.get("fingerprint") != self.fingerprint:
            mine = _flatten(_canon(self.config()))
            theirs = _flatten(_canon(state.get("config", {})))
            unset = "<unset>"
            diffs = [
                f"{k}: checkpoint {theirs.get(k, unset)!r}, this Masker {mine.get(k, unset)!r}"
                for k in sorted(set(mine) | set(theirs))
                if mine.get(k, unset) != theirs.get(k, unset)
            ]
            raise ValueError(
                "Masker checkpoint comes from a different configuration "
                f"(fingerprint {state.get('fingerprint')} != {self.fingerprint}): "
                + ("; ".join(diffs) or "configurations differ")
                + ". Build the Masker with the checkpoint's configuration "
                "(Masker.from_state_dict(state)) or start without loading its state."
            )
        self._epoch, self._step = _checked_state(state, self._schedules())  # or raise
        for name, s in self._schedules():  # cannot fail: each was tried on a copy
            s.load_state_dict(state["schedules"][name])
        self._publish()

    @classmethod
    def from_state_dict(cls, state: dict[str, Any], *, parallel: bool = False) -> Masker:
        """Build a Masker from :meth:`state_dict`: its configuration and its training state.

        Examples
        --------
        >>> import maskkit as mk
        >>> a = mk.Masker("random", rate=0.15, seed=9)
        >>> a.set_epoch(7)
        >>> b = mk.Masker.from_state_dict(a.state_dict())
        >>> b == a
        True
        """
        if not isinstance(state, dict) or "config" not in state:
            raise TypeError("state must be a dict from Masker.state_dict()")
        cfg = state["config"]
        schedules = state.get("schedules", {})
        rate = from_state_dict(schedules.get("rate", cfg["rate"]))
        alt = None
        if cfg.get("alt_rate") is not None:
            alt = from_state_dict(schedules.get("alt_rate", cfg["alt_rate"]))
        masker = cls(
            cfg["strategy"], rate, alt, seed=cfg["seed"], exact=cfg["exact"],
            union=cfg["union"], site_rate=cfg["site_rate"], fixed_epoch=cfg["fixed_epoch"],
            parallel=parallel, options=cfg.get("options"),
        )  # fmt: skip
        masker.load_state_dict(state)
        return masker

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Masker):
            return NotImplemented
        return _canon(self.state_dict()) == _canon(other.state_dict())

    __hash__ = None  # type: ignore[assignment]

    # ------------------------------------------------------------------ workers

    @property
    def sync_fields(self) -> tuple[str, ...]:
        """Names of the :meth:`sync_state` entries: ``epoch``, ``step``, then one per Plateau."""
        names = ["epoch", "step"]
        names += [f"{n}.level" for n, s in self._schedules() if isinstance(s, Plateau)]
        return tuple(names)

    def sync_state(self) -> tuple[int, ...]:
        """Return the dynamic state as ints: ``(epoch, step, *plateau_levels)``.

        This is all a worker's copy needs to draw the same masks as the main process (the rest
        is configuration, fixed when the copy was made). Its length, ``len(sync_fields)``, is
        fixed for a given configuration, so a torch adapter can allocate a shared int64 array
        once, write ``sync_state()`` into it in the main process (after ``set_epoch``,
        ``step`` or ``update``) and call :meth:`apply_sync_state` in the worker before each
        batch. Plateau best values and patience counters stay in the main process.

        Examples
        --------
        >>> import maskkit as mk
        >>> from maskkit.curriculum import Plateau
        >>> main = mk.Masker("smart_balanced", rate=Plateau(patience=0), seed=1)
        >>> worker = mk.Masker("smart_balanced", rate=Plateau(patience=0), seed=1)
        >>> main.set_epoch(5); _ = main.update(0.9); _ = main.update(0.8)
        >>> main.sync_fields, main.sync_state()
        (('epoch', 'step', 'rate.level'), (5, 0, 1))
        >>> worker.apply_sync_state(main.sync_state())
        >>> worker.current_rates() == main.current_rates()
        True
        """
        vals = [self._epoch, self._step]
        vals += [s.level() for _, s in self._schedules() if isinstance(s, Plateau)]
        return tuple(int(x) for x in vals)

    def apply_sync_state(self, values: Any) -> None:
        """Set epoch, step and Plateau levels from :meth:`sync_state` output (or an int array)."""
        vals = [int(x) for x in np.asarray(values, dtype=np.int64).ravel()]
        fields = self.sync_fields
        if len(vals) != len(fields):
            raise ValueError(
                f"values must hold {len(fields)} ints {fields}, got {len(vals)}; "
                "pass the output of sync_state() of a Masker with the same configuration"
            )
        self.set_epoch(vals[0])
        self.set_step(vals[1])
        plateaus = [s for _, s in self._schedules() if isinstance(s, Plateau)]
        for p, level in zip(plateaus, vals[2:]):
            p.set_level(level)
        self._publish()

    @property
    def sync_channel(self) -> SyncChannel | None:
        """The channel that carries :meth:`sync_state` to copies in DataLoader workers.

        Set it with :meth:`set_sync_channel` (``maskkit.torch.share(masker)`` does).
        """
        return self._sync.channel

    def set_sync_channel(self, channel: SyncChannel | None) -> None:
        """Attach a sync channel (see :mod:`maskkit._sync`) and publish the state into it.

        From then on every change in this process (:meth:`set_epoch`, :meth:`set_step`,
        :meth:`step`, :meth:`update`, :meth:`load_state_dict`, :meth:`apply_sync_state`)
        is published, and a copy of this Masker in a DataLoader worker reads the channel before
        each mask. Without a channel, a copy masking in a worker warns once
        (:class:`maskkit.WorkerSyncWarning`). Masks of a ``fixed_epoch`` Masker need no sync.

        Examples
        --------
        >>> import maskkit as mk
        >>> class Box:  # any object with publish() and read(); maskkit.torch.share makes one
        ...     values = ()
        ...     def publish(self, values): self.values = values
        ...     def read(self): return self.values
        >>> masker, box = mk.Masker("random", rate=0.15, seed=0), Box()
        >>> masker.set_sync_channel(box)
        >>> masker.set_epoch(3)
        >>> box.values
        (3, 0)
        """
        if channel is not None and not isinstance(channel, SyncChannel):
            raise TypeError(
                "channel must have publish(values) and read() methods (see maskkit.torch.share), "
                f"got {type(channel).__name__}"
            )
        self._sync.attach(channel)
        self._publish()

    def _publish(self) -> None:
        self._sync.publish(self.sync_state())

    def _pull(self) -> None:
        if self.fixed_epoch is not None:
            return  # masks of a fixed epoch at fixed rates: no dynamic state to follow
        values = self._sync.pull()
        if values is not None:
            self.apply_sync_state(values)

    # ------------------------------------------------------------------ validation copy

    def frozen(
        self,
        rate: float | Schedule | None = None,
        alt_rate: float | Schedule | None = None,
        *,
        epoch: int = 0,
        seed: int | None = None,
    ) -> Masker:
        """Return a validation copy whose masks are the same every epoch.

        Rates default to the current ones (per-sample distributions are kept; their draws are
        fixed too). Masks are drawn as at ``epoch`` whatever the copy's :meth:`set_epoch` says,
        so validation losses of different epochs compare like with like.

        Examples
        --------
        >>> import numpy as np, maskkit as mk
        >>> from maskkit.curriculum import Levels
        >>> train = mk.Masker("smart_balanced", rate=Levels(), seed=1)
        >>> val = train.frozen(rate=0.5)
        >>> haps = np.zeros((3, 2, 40), dtype=np.int8)
        >>> first = val(haps)
        >>> val.set_epoch(9)
        >>> bool((val(haps) == first).all())
        True
        """

        def pick(given: Any, sched: Schedule | None) -> Any:
            if given is not None:
                return given
            if sched is None:
                return None
            if sched.per_sample:
                return sched
            return Constant(self._rate_of(sched))

        alt = pick(alt_rate, self.alt_schedule)
        if self.strategy != "smart_balanced" and alt_rate is not None:
            raise ValueError("alt_rate is for strategy='smart_balanced'; drop it")
        return Masker(
            self.strategy, pick(rate, self.schedule), alt,
            seed=self.seed if seed is None else seed, exact=self.exact, union=self.union,
            site_rate=self.site_rate, fixed_epoch=epoch, parallel=self.parallel,
            options=self.options or None,
        )  # fmt: skip

    def __repr__(self) -> str:
        alt = "" if self.alt_schedule is None else f", alt_rate={self.alt_schedule!r}"
        fixed = "" if self.fixed_epoch is None else f", fixed_epoch={self.fixed_epoch}"
        if self.options:
            fixed += f", options={self.options!r}"
        return (
            f"Masker({self.strategy!r}, rate={self.schedule!r}{alt}, seed={self.seed}, "
            f"exact={self.exact}, union={self.union}, site_rate={self.site_rate}{fixed}; "
            f"epoch={self._epoch}, step={self._step})"
        )


def _checked_state(state: dict[str, Any], schedules: list[tuple[str, Schedule]]) -> tuple[int, int]:
    """Return a Masker state's ``(epoch, step)`` after checking all of it; change nothing.

    Each schedule state is loaded into a copy of its schedule first, so that
    ``Masker.load_state_dict`` either applies the whole state or raises before applying any.
    """
    missing = [k for k in ("epoch", "step", "schedules") if k not in state]
    if missing:
        raise ValueError(
            f"Masker state is missing {missing}; pass the dict Masker.state_dict() returned"
        )
    epoch = v.int_scalar(state["epoch"], "state['epoch']", high=2**63 - 1)
    step = v.int_scalar(state["step"], "state['step']", high=2**63 - 1)
    saved = state["schedules"]
    if not isinstance(saved, dict):
        raise TypeError(f"state['schedules'] must be a dict, got {type(saved).__name__}")
    for name, sched in schedules:
        if name not in saved:
            raise ValueError(
                f"Masker state has no entry state['schedules'][{name!r}]; pass the dict "
                "Masker.state_dict() returned"
            )
        copy.deepcopy(sched).load_state_dict(saved[name])
    return epoch, step
