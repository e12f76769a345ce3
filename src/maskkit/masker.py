"""The Masker: a masking rule, its rate schedules, a seed, and where training is.

A trainer holds one [Masker][maskkit.masker.Masker]. Everything that decides the mask of a sample is
in the Masker's state: the rule ([maskkit.rules][]) and seed (fixed configuration), the epoch and
global step, and the level of each [Plateau][maskkit.curriculum.Plateau] schedule (the *dynamic
state*, see [Masker.sync_state][maskkit.masker.Masker.sync_state]). A DataLoader worker that knows
the dynamic state computes the same masks as the main process. The training-log banner and mask
statistics are in [maskkit.report][].
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import numpy as np

from . import _config, report
from . import _validate as v
from ._config import plain
from ._sync import SyncChannel, SyncLink
from .collate import collate
from .curriculum import Constant, Distribution, Plateau, Schedule, as_schedule, from_state_dict
from .rules import Rule, rule_class
from .rules import from_config as rule_from_config

__all__ = ["STRATEGIES", "Masker"]

_FORMAT = "maskkit.Masker/2"
# configurations with {"strategy", "options"} in place of the rule's config: load with a warning
_OLD_FORMAT = "maskkit.Masker/1"


# ----------------------------------------------------------------------------- strategy strings
# The shorthand Masker("smart_balanced", rate=..., options={...}). A strategy string names a rule
# kind (maskkit.rules.rule_class); its options are the rule's parameters other than the rates a
# Masker drives with schedules (_scheduled). The Masker's constructor is the one place a string
# becomes a rule (_rule_of); _options gives the options back from the rule, so a Masker's
# configuration keeps the shorthand; _schedules_of turns rate / alt_rate into schedules.

#: Strategy strings of the built-in rules (any registered rule kind is accepted too).
STRATEGIES: tuple[str, ...] = ("random", "smart_balanced", "af_aware", "span", "array")


def _scheduled(cls: type[Rule]) -> tuple[str, ...]:
    """Rule fields a Masker drives with schedules: the driven rate, and ``alt_rate`` if any.

    Examples
    --------
    >>> from maskkit import rules
    >>> _scheduled(rules.SmartBalanced), _scheduled(rules.Array)
    (('ref_rate', 'alt_rate'), ('rate',))
    """
    alt = ("alt_rate",) if "alt_rate" in cls.rate_fields[1:] else ()
    return (cls.rate_fields[0], *alt)


def _options(rule: Rule) -> dict[str, Any]:
    """Return the rule's parameters other than scheduled rates, where not at their defaults.

    Examples
    --------
    >>> from maskkit import rules
    >>> _options(rules.Span(0.2, mean_span=4))
    {'mean_span': 4.0}
    """
    skip = _scheduled(type(rule))
    out: dict[str, Any] = {}
    for f in dataclasses.fields(rule):
        if f.name in skip:
            continue
        value = getattr(rule, f.name)
        if f.default is dataclasses.MISSING or value != f.default:
            out[f.name] = plain(value)
    return out


def _rule_of(strategy: Any, options: Any) -> Rule:
    """Return the rule object of a strategy string and its options (a rule object as given).

    Examples
    --------
    >>> _rule_of("span", {"mean_span": 4})
    Span(rate=0.15, mean_span=4.0, max_span=None, span_lengths=None)
    """
    if isinstance(strategy, Rule):
        if options:
            raise TypeError(
                "options are for strategy strings; set them on the rule object "
                f"(e.g. {type(strategy).__name__}(...)) instead"
            )
        return strategy
    if not isinstance(strategy, str):
        raise TypeError(
            f"strategy must be a rule object (maskkit.rules) or one of {list(STRATEGIES)}, "
            f"got {type(strategy).__name__}"
        )
    try:
        cls = rule_class(strategy)
    except ValueError:
        raise ValueError(
            f"strategy must be one of {list(STRATEGIES)} (or a registered rule kind), "
            f"got {strategy!r}"
        ) from None
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise TypeError(f"options must be a dict of rule options, got {type(options).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    allowed = [name for name in fields if name not in _scheduled(cls)]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(
            f"options {unknown} are not options of strategy={strategy!r}; "
            f"it accepts {allowed or 'none'}"
        )
    for name in allowed:
        if name not in options and fields[name].default is dataclasses.MISSING:
            raise ValueError(
                f"strategy={strategy!r} needs options['{name}'] (see maskkit.rules.{cls.__name__})"
            )
    return cls(**plain(options))


def _schedules_of(
    strategy: Any, rule: Rule, rate: Any, alt_rate: Any
) -> tuple[Schedule, Schedule | None]:
    """Return the schedules of the driven rate and of ``alt_rate`` (None for rules without one).

    ``rate=None`` takes the rule object's own value (a strategy string needs ``rate``);
    ``alt_rate=None`` takes the rule's ``alt_rate``.

    Examples
    --------
    >>> from maskkit import rules
    >>> _schedules_of("smart_balanced", rules.SmartBalanced(), 0.4, None)
    (Constant(0.4), Constant(0.7))
    """
    if rate is None:
        if not isinstance(strategy, Rule):
            raise TypeError(
                f"Masker({strategy!r}, ...) needs rate= (a float or a schedule); "
                "a rule object brings its own"
            )
        rate = getattr(rule, rule.driven)
        name = f"{type(rule).__name__}.{rule.driven} (the Masker's rate)"
    else:
        name = "rate"
    if "alt_rate" in _scheduled(type(rule)):
        alt = getattr(rule, "alt_rate") if alt_rate is None else alt_rate  # noqa: B009
        return as_schedule(rate, name=name), as_schedule(alt, name="alt_rate")
    if alt_rate is not None:
        raise ValueError(
            f"alt_rate is for rules with an alt rate (strategy='smart_balanced'); "
            f"strategy={rule.kind!r} has one curriculum rate (got alt_rate={alt_rate!r}); "
            "drop alt_rate or switch strategy"
        )
    return as_schedule(rate, name=name), None


class Masker:
    """Masks for a batch from a rule, rate schedules, a seed and the current epoch/step.

    Parameters
    ----------
    strategy : Rule or str
        The masking rule: an object of [maskkit.rules][] (built-in or your own), or a strategy
        string with its ``options``: ``"random"`` ([Random][maskkit.rules.Random]),
        ``"smart_balanced"`` ([SmartBalanced][maskkit.rules.SmartBalanced]: ref positions at
        ``rate``, alt positions at ``alt_rate``), ``"af_aware"``
        ([AlleleFrequency][maskkit.rules.AlleleFrequency]: the table scaled by ``rate``; pass each
        batch's site frequencies as ``freq=``), ``"span"`` ([Span][maskkit.rules.Span]), ``"array"``
        ([Array][maskkit.rules.Array], off-array sites at ``rate``), or any registered rule kind.
    rate : float or Schedule, optional
        The rate the curriculum drives (the rule's [driven][maskkit.rules.Rule.driven] field:
        ref rate for smart balanced). A float is a [Constant][maskkit.curriculum.Constant]; a
        [Uniform][maskkit.curriculum.Uniform] or [Beta][maskkit.curriculum.Beta] gives every
        sample its own rate. Default: the rule object's own value (required with a string).
    alt_rate : float or Schedule, optional
        Rules with an ``alt_rate`` field (smart balanced): the alt rate, fixed at the rule's
        value (0.7 by default) unless given (or given a schedule).
    seed : int
        Seed of every random draw, in ``[0, 2**64)``.
    exact : bool, default False
        Exact per-row (and per-class) counts instead of independent Bernoulli draws.
    union : bool, default False
        Return the site mask ``(samples, sites)``, the union over the ploidy axis (needs 3-D
        haplotypes). The union raises the site rate; [describe][maskkit.masker.Masker.describe]
        reports by how much.
    site_rate : bool, default False
        Read the rates as site rates after the union and mask each haplotype at the rate that
        achieves them (see
        [maskkit.haplotype_rate_for_site_rate][maskkit.masks.haplotype_rate_for_site_rate]).
    fixed_epoch : int, optional
        Draw every mask as at this epoch, whatever [set_epoch][maskkit.masker.Masker.set_epoch] says
        (validation masks). Rates must then be constant or per-sample distributions. See
        [frozen][maskkit.masker.Masker.frozen].
    parallel : bool, default False
        Spread rows over numba threads (same masks for any thread count; not configuration).
    options : dict, optional
        With a strategy string: the rule's other parameters (JSON types, part of the
        configuration): ``af_aware``: ``edges``, ``rates``, ``fold``, ``freq``; ``span``:
        ``mean_span``, ``max_span``, ``span_lengths`` (``[values, probs]``); ``array``:
        ``keep`` (bool site list or positions) or ``every``, and ``kept_rate``.

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
    >>> same = mk.Masker(mk.rules.SmartBalanced(alt_rate=0.7), rate=sched, seed=1234)
    >>> same == mk.Masker("smart_balanced", rate=sched, seed=1234)
    True
    """

    def __init__(
        self,
        strategy: Rule | str,
        rate: float | Schedule | None = None,
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
        rule = _rule_of(strategy, options)
        self.schedule: Schedule
        self.alt_schedule: Schedule | None
        self.schedule, self.alt_schedule = _schedules_of(strategy, rule, rate, alt_rate)
        # the rule holds the schedules' opening rates (configuration, whatever a Plateau's
        # level: its first); the schedules decide every draw's rates
        opening = {
            name: s.levels[0] if isinstance(s, Plateau) and s.levels else s.rate(0, 0)
            for name, s in self._schedules(rule.driven)
        }
        self.rule: Rule = rule.with_rates(**opening)
        self.seed = v.int_scalar(seed, "seed")
        self.exact = v.flag(exact, "exact")
        self.union = v.flag(union, "union")
        self.site_rate = v.flag(site_rate, "site_rate")
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
        self._per_sample = any(s.per_sample for _, s in self._schedules())
        self._epoch = 0
        self._step = 0
        self._sync = SyncLink()

    @property
    def strategy(self) -> str:
        """The rule's kind (``"random"``, ``"smart_balanced"``, ...)."""
        return self.rule.kind

    @property
    def options(self) -> dict[str, Any]:
        """The rule's parameters besides its scheduled rates, where not default (JSON types)."""
        return _options(self.rule)

    # ------------------------------------------------------------------ bookkeeping

    def _schedules(self, driven: str = "rate") -> list[tuple[str, Schedule]]:
        """``(name, schedule)`` pairs; the driven rate is named ``driven`` (default ``"rate"``)."""
        out = [(driven, self.schedule)]
        if self.alt_schedule is not None:
            out.append(("alt_rate", self.alt_schedule))
        return out

    @property
    def epoch(self) -> int:
        """The current epoch (set with [set_epoch][maskkit.masker.Masker.set_epoch])."""
        return self._epoch

    @property
    def global_step(self) -> int:
        """The global step counter (advanced by [step][maskkit.masker.Masker.step])."""
        return self._step

    @property
    def mask_epoch(self) -> int:
        """The epoch that keys the masks: ``fixed_epoch`` if set, else ``epoch``."""
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
        """Feed a validation metric to every [Plateau][maskkit.curriculum.Plateau] schedule.

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
        idx = v.sample_ids(indices, int(np.size(indices)))
        return self._rates_for(idx)

    def _rates_for(self, idx: np.ndarray) -> tuple[Any, Any]:
        def one(s: Schedule, slot: int) -> Any:
            if isinstance(s, Distribution):
                return s.sample_rates(idx, seed=self.seed, epoch=self.mask_epoch, slot=slot)
            return self._rate_of(s)

        r = one(self.schedule, 0)
        a = r if self.alt_schedule is None else one(self.alt_schedule, 1)
        return r, a

    def _batch_rates(self, haps: Any, indices: Any) -> tuple[np.ndarray, dict[str, Any]]:
        """Follow the main process (in a worker); return the batch's sample ids and their rates.

        The rates are the rule's scheduled rates (``rates=`` of
        [Rule.draw][maskkit.rules.Rule.draw]).
        """
        self._pull()
        shape = np.shape(haps)
        if len(shape) not in (2, 3):
            raise ValueError(
                f"haps must be 2-D (rows, sites) or 3-D (samples, ploidy, sites), got {shape}"
            )
        idx = v.sample_ids(indices, shape[0])
        r, a = self._rates_for(idx)
        rates = {self.rule.driven: r}
        if self.alt_schedule is not None:
            rates["alt_rate"] = a
        return idx, rates

    # ------------------------------------------------------------------ masks

    def _rates_of(self, idx: np.ndarray | None) -> dict[str, Any]:
        """Every rate of the rule for samples ``idx``: scheduled ones now, the rest the rule's."""
        rates = {name: getattr(self.rule, name) for name in self.rule.rate_fields}
        r, a = self._rates_for(idx)  # type: ignore[arg-type]
        rates[self.rule.driven] = r
        if self.alt_schedule is not None:
            rates["alt_rate"] = a
        return rates

    def _draw(
        self,
        haps: Any,
        lengths: Any,
        indices: Any,
        eligible: Any,
        protect: Any,
        union: bool,
        out: np.ndarray | None,
        inputs: dict[str, Any],
    ) -> np.ndarray:
        self._pull()  # first: it may move the epoch
        request = (
            self.seed, self.mask_epoch, indices, lengths, eligible, protect, self.exact,
            self.site_rate, union, out, self.parallel,
        )  # fmt: skip
        # per-sample rates need the checked sample ids: the rule's batch check hands them over
        rates = self._rates_of if self._per_sample else self._rates_of(None)
        return self.rule._draw(haps, request, rates, inputs)

    def haplotype_mask(
        self,
        haps: Any,
        *,
        lengths: Any = None,
        indices: Any = None,
        eligible: Any = None,
        protect: Any = None,
        out: np.ndarray | None = None,
        **inputs: Any,
    ) -> np.ndarray:
        """Return the per-haplotype mask (before any union), the shape of ``haps``.

        Arguments as for [`__call__`][maskkit.masker.Masker.__call__].
        """
        return self._draw(haps, lengths, indices, eligible, protect, False, out, inputs)

    def probabilities(
        self,
        haps: Any,
        *,
        lengths: Any = None,
        indices: Any = None,
        eligible: Any = None,
        protect: Any = None,
        union: bool | None = None,
        **inputs: Any,
    ) -> np.ndarray:
        """Return each position's probability of being masked by ``__call__`` now.

        The marginal probability under the rule at the current (scheduled) rates: per haplotype, or
        with ``union`` (default: the Masker's) per site, ``1 - prod(1 - p)`` over the ploidy axis;
        ``union=True`` also serves trainers that draw per-haplotype masks
        ([haplotype_mask][maskkit.masker.Masker.haplotype_mask]) and take the union themselves.
        ``0`` where a position is missing, padding or not eligible. Use it for importance weights: a
        loss term weighted by ``1 / p`` over the masked positions estimates the loss over all
        eligible positions, whatever the rule over-samples (e.g. alt alleles under smart balanced
        masking).

        Arguments as for [`__call__`][maskkit.masker.Masker.__call__].

        Examples
        --------
        >>> import numpy as np, maskkit as mk
        >>> masker = mk.Masker("smart_balanced", rate=0.2, alt_rate=0.6, seed=0, union=True)
        >>> haps = np.array([[[0, 1, 0], [0, 1, 1]]], dtype=np.int8)
        >>> masker.probabilities(haps).round(2).tolist()
        [[0.36, 0.84, 0.68]]
        """
        _, rates = self._batch_rates(haps, indices)
        return self.rule.probabilities(
            haps, rates=rates, lengths=lengths, eligible=eligible,
            protect=protect, site_rate=self.site_rate,
            union=self.union if union is None else union, **inputs,
        )  # fmt: skip

    def __call__(
        self,
        haps: Any,
        *,
        lengths: Any = None,
        indices: Any = None,
        eligible: Any = None,
        protect: Any = None,
        **inputs: Any,
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
        eligible : bool array, optional
            Positions that may be masked (see [maskkit.rules.Rule.draw][]).
        protect : int or sequence of int, optional
            Token ids never masked (special tokens of a sequence model).
        **inputs
            Per-batch inputs of the rule, e.g. ``freq=`` (site allele frequencies, shape
            ``(sites,)`` or ``(samples, sites)``) for ``"af_aware"``.

        Returns
        -------
        numpy.ndarray of bool
            Ready for [maskkit.collate][maskkit.collate.collate] with the same ``haps`` and
            ``lengths``.
        """
        return self._draw(haps, lengths, indices, eligible, protect, self.union, None, inputs)

    def batch(
        self,
        haps: Any,
        *,
        lengths: Any = None,
        indices: Any = None,
        eligible: Any = None,
        protect: Any = None,
        **kwargs: Any,
    ) -> dict[str, np.ndarray]:
        """Mask, pad and tokenize a batch: ``maskkit.collate`` on this Masker's mask.

        Keyword arguments named in the rule's ``inputs`` (``freq``) go to
        the rule; the others (``pad_to``, ``pad_to_multiple_of``, ``replace``, ``n_alleles``,
        ``dtype``) to [maskkit.collate][maskkit.collate.collate], whose seed, epoch and indices are
        the Masker's.

        Examples
        --------
        >>> import numpy as np, maskkit as mk
        >>> masker = mk.Masker("random", rate=0.5, seed=3, exact=True)
        >>> b = masker.batch(np.zeros((2, 4), dtype=np.int8), lengths=[4, 2], pad_to=6)
        >>> b["attention_mask"].tolist()
        [[1, 1, 1, 1, 0, 0], [1, 1, 0, 0, 0, 0]]
        """
        for key in ("seed", "epoch", "indices"):
            if key in kwargs:
                raise TypeError(f"batch() sets {key} from the Masker; do not pass {key}=")
        inputs = {k: kwargs.pop(k) for k in list(kwargs) if k in self.rule.inputs}
        idx = v.sample_ids(indices, np.shape(haps)[0])
        mask = self(
            haps, lengths=lengths, indices=idx, eligible=eligible, protect=protect, **inputs
        )
        return collate(
            haps, mask, lengths=lengths, seed=self.seed, epoch=self.mask_epoch, indices=idx,
            **kwargs,
        )  # fmt: skip

    # ------------------------------------------------------------------ reporting

    def snapshot(self) -> report.Snapshot:
        """Return what this Masker is doing now, as the plain record [maskkit.report][] reads.

        Examples
        --------
        >>> import maskkit as mk
        >>> mk.Masker("random", rate=0.15, seed=1).snapshot().rates
        (0.15, 0.15)
        """
        return report.Snapshot(
            rule=self.rule.config(), options=self.options, rate_label=self.rule.rate_label,
            class_rates=self.rule.class_rates, schedule=self.schedule,
            alt_schedule=self.alt_schedule, rates=self.current_rates(), seed=self.seed,
            exact=self.exact, union=self.union, site_rate=self.site_rate,
            fixed_epoch=self.fixed_epoch, epoch=self._epoch, mask_epoch=self.mask_epoch,
            global_step=self._step,
        )  # fmt: skip

    def describe(self, *, ploidy: int = 2) -> str:
        """Return the training-log banner: [maskkit.report.describe][] of this Masker.

        Examples
        --------
        >>> import maskkit as mk
        >>> print(mk.Masker("random", rate=0.15, seed=1).describe().splitlines()[1])
        Masking Strategy: random
        """
        return report.describe(self.snapshot(), ploidy=ploidy)

    def stats(self, mask: Any, haps: Any, *, lengths: Any = None) -> dict[str, float]:
        """Realized rates of ``mask`` next to this Masker's targets: [maskkit.report.stats][].

        Examples
        --------
        >>> import numpy as np, maskkit as mk
        >>> masker = mk.Masker("smart_balanced", rate=0.3, seed=5, exact=True)
        >>> haps = np.zeros((1, 2, 10), dtype=np.int8)
        >>> s = masker.stats(masker(haps), haps)
        >>> s["ref_rate"], s["target_ref_rate"], round(s["expected_site_rate_alt0"], 2)
        (0.3, 0.3, 0.51)
        """
        return report.stats(self.snapshot(), mask, haps, lengths=lengths)

    # ------------------------------------------------------------------ state

    def config(self) -> dict[str, Any]:
        """Return the configuration (JSON types): everything but epoch, step and levels.

        The rule is saved as its own config ([Rule.config][maskkit.rules.Rule.config], the
        ``{"kind": ...}`` format), beside the schedules, the seed and the modes.

        Examples
        --------
        >>> import maskkit as mk
        >>> mk.Masker("span", rate=0.2, seed=1).config()["rule"]["kind"]
        'span'
        """
        return {
            "rule": self.rule.config(),
            "rate": {"type": type(self.schedule).__name__, "config": self.schedule.config()},
            "alt_rate": None
            if self.alt_schedule is None
            else {"type": type(self.alt_schedule).__name__, "config": self.alt_schedule.config()},
            "seed": self.seed,
            "exact": self.exact,
            "union": self.union,
            "site_rate": self.site_rate,
            "fixed_epoch": self.fixed_epoch,
        }

    @property
    def fingerprint(self) -> str:
        """A 16-hex-digit hash of ``config``; checkpoints of other configurations differ."""
        return _config.fingerprint(self.config())

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
        """Restore epoch, step and schedule state from ``state_dict``.

        Raises ``ValueError`` naming the differing settings when the checkpoint was made by a
        Masker with another configuration (rule, rates, schedules, seed, modes). A state of the
        previous format (``{"strategy", "options"}`` in place of the rule's config) loads with
        a ``DeprecationWarning``.
        """
        if isinstance(state, dict) and state.get("format") == _OLD_FORMAT:
            warnings.warn(
                f"this Masker state has the old format {_OLD_FORMAT!r} (strategy and options); "
                "it loads in this release only. Save it again with Masker.state_dict()",
                DeprecationWarning,
                stacklevel=2,
            )
        elif not isinstance(state, dict) or state.get("format") != _FORMAT:
            raise TypeError(
                f"state must be a dict from Masker.state_dict() (format {_FORMAT!r}), "
                f"got {type(state).__name__}"
                + (f" with format {state.get('format')!r}" if isinstance(state, dict) else "")
            )
        if state.get("fingerprint") != self.fingerprint and not self._same_config(state):
            diffs = _config.differences(self.config(), state.get("config", {}))
            raise ValueError(
                "Masker checkpoint comes from a different configuration "
                f"(fingerprint {state.get('fingerprint')} != {self.fingerprint}): "
                + ("; ".join(diffs) or "configurations differ")
                + ". Build the Masker with the checkpoint's configuration "
                "(Masker.from_state_dict(state)) or start without loading its state."
            )
        self._epoch, self._step = v.masker_state(state, self._schedules())  # or raise
        for name, s in self._schedules():  # cannot fail: each was tried on a copy
            s.load_state_dict(state["schedules"][name])
        self._publish()

    def _same_config(self, state: dict[str, Any]) -> bool:
        """Whether the checkpoint's configuration builds this one (e.g. options at defaults)."""
        try:
            other = Masker._from_config(state["config"], state.get("schedules", {}), False)
        except (KeyError, TypeError, ValueError):
            return False
        return bool(_config.plain(other.config()) == _config.plain(self.config()))

    @classmethod
    def _from_config(cls, cfg: dict[str, Any], schedules: dict[str, Any], parallel: bool) -> Masker:
        rate = from_state_dict(schedules.get("rate", cfg["rate"]))
        alt = None
        if cfg.get("alt_rate") is not None:
            alt = from_state_dict(schedules.get("alt_rate", cfg["alt_rate"]))
        if "rule" in cfg:
            rule: Rule | str = rule_from_config(cfg["rule"])
            options = None
        else:  # format _OLD_FORMAT: a strategy string and its options
            rule, options = cfg["strategy"], cfg.get("options")
        return cls(
            rule, rate, alt, seed=cfg["seed"], exact=cfg["exact"], union=cfg["union"],
            site_rate=cfg["site_rate"], fixed_epoch=cfg["fixed_epoch"], parallel=parallel,
            options=options,
        )  # fmt: skip

    @classmethod
    def from_state_dict(cls, state: dict[str, Any], *, parallel: bool = False) -> Masker:
        """Build a Masker from ``state_dict``: its configuration and its training state.

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
        masker = cls._from_config(state["config"], state.get("schedules", {}), parallel)
        masker.load_state_dict(state)
        return masker

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Masker):
            return NotImplemented
        return bool(_config.plain(self.state_dict()) == _config.plain(other.state_dict()))

    __hash__ = None  # type: ignore[assignment]

    # ------------------------------------------------------------------ workers

    @property
    def sync_fields(self) -> tuple[str, ...]:
        """Names of the ``sync_state`` entries: ``epoch``, ``step``, then one per Plateau."""
        names = ["epoch", "step"]
        names += [f"{n}.level" for n, s in self._schedules() if isinstance(s, Plateau)]
        return tuple(names)

    def sync_state(self) -> tuple[int, ...]:
        """Return the dynamic state as ints: ``(epoch, step, *plateau_levels)``.

        This is all a worker's copy needs to draw the same masks as the main process (the rest is
        configuration, fixed when the copy was made). Its length, ``len(sync_fields)``, is fixed for
        a given configuration: a sync channel
        ([set_sync_channel][maskkit.masker.Masker.set_sync_channel], ``maskkit.torch.share``)
        carries it to the workers, which apply it with
        [apply_sync_state][maskkit.masker.Masker.apply_sync_state] before each mask. Plateau best
        values and patience counters stay in the main process.

        Examples
        --------
        >>> import maskkit as mk
        >>> from maskkit.curriculum import Plateau
        >>> main = mk.Masker("smart_balanced", rate=Plateau(patience=0, mode="max"), seed=1)
        >>> worker = mk.Masker("smart_balanced", rate=Plateau(patience=0, mode="max"), seed=1)
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
        """Set epoch, step and Plateau levels from ``sync_state`` output (or an int array)."""
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
        """The channel that carries ``sync_state`` to copies in DataLoader workers.

        Set it with [set_sync_channel][maskkit.masker.Masker.set_sync_channel]
        (``maskkit.torch.share(masker)`` does).
        """
        return self._sync.channel

    def set_sync_channel(self, channel: SyncChannel | None) -> None:
        """Attach a sync channel (see ``maskkit._sync``) and publish the state into it.

        From then on every change in this process ([set_epoch][maskkit.masker.Masker.set_epoch],
        [set_step][maskkit.masker.Masker.set_step], [step][maskkit.masker.Masker.step],
        [update][maskkit.masker.Masker.update],
        [load_state_dict][maskkit.masker.Masker.load_state_dict],
        [apply_sync_state][maskkit.masker.Masker.apply_sync_state]) is published, and a copy of this
        Masker in a DataLoader worker reads the channel before each mask. Without a channel, a copy
        masking in a worker warns once ([maskkit.WorkerSyncWarning][]). Masks of a ``fixed_epoch``
        Masker need no sync.

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
        *,
        rate: float | Schedule | None = None,
        alt_rate: float | Schedule | None = None,
        epoch: int = 0,
        seed: int | None = None,
    ) -> Masker:
        """Return a validation copy whose masks are the same every epoch.

        Rates default to the current ones (per-sample distributions are kept; their draws are fixed
        too). Masks are drawn as at ``epoch`` whatever the copy's
        [set_epoch][maskkit.masker.Masker.set_epoch] says, so validation losses of different epochs
        compare like with like.

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

        return Masker(
            self.rule, pick(rate, self.schedule), pick(alt_rate, self.alt_schedule),
            seed=self.seed if seed is None else seed, exact=self.exact, union=self.union,
            site_rate=self.site_rate, fixed_epoch=epoch, parallel=self.parallel,
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
