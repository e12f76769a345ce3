"""Masking rules as objects: build once, check, compare, save as JSON, hand to a Masker.

A rule is a small frozen dataclass. It checks its parameters when it is built, says which of its
rates a curriculum may drive (:attr:`Rule.rate_fields`, the first being :attr:`Rule.driven`),
round-trips through a JSON config (:meth:`Rule.config` / :func:`from_config`) and draws a mask
with one call into :mod:`maskkit.masks` (:meth:`Rule.draw`). Where the rule knows them,
:meth:`Rule.probabilities` gives each position's masking probability (for prior correction or
importance weights).

==========================  ===================  ===========================================
rule                        ``kind``             mask function
==========================  ===================  ===========================================
:class:`Random`             ``"random"``         :func:`maskkit.random_mask`
:class:`SmartBalanced`      ``"smart_balanced"`` :func:`maskkit.class_rate_mask`
:class:`AlleleFrequency`    ``"af_aware"``       :func:`maskkit.af_mask`
:class:`Span`               ``"span"``           :func:`maskkit.span_mask`
:class:`Array`              ``"array"``          :func:`maskkit.array_mask`
:class:`PerPosition`        ``"per_position"``   :func:`maskkit.af_mask` over groups of equal rate
==========================  ===================  ===========================================

A rule of your own is a frozen dataclass subclass of :class:`Rule` with a ``kind``, registered
with :func:`register`, that implements :meth:`Rule.site_rates` (each site's rate; the base class
draws and reports probabilities from it) or overrides :meth:`Rule.draw`. See ``docs/rules.md``.

Examples
--------
>>> import numpy as np, maskkit as mk
>>> from maskkit import rules
>>> rule = rules.SmartBalanced(ref_rate=0.3, alt_rate=0.7)
>>> rules.from_config(rule.config()) == rule
True
>>> haps = np.zeros((2, 2, 20), dtype=np.int8)
>>> m = rule.draw(haps, seed=1)
>>> bool((m == mk.class_rate_mask(haps, 0.3, 0.7, seed=1)).all())
True
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

import numpy as np

from . import _validate as v
from . import freq as _freq
from ._config import plain
from .masks import (
    af_mask,
    array_mask,
    class_rate_mask,
    random_mask,
    span_length_probabilities,
    span_mask,
)

__all__ = [
    "AlleleFrequency",
    "Array",
    "ClassRates",
    "PerPosition",
    "Random",
    "Rule",
    "SmartBalanced",
    "Span",
    "from_config",
    "kinds",
    "register",
    "rule_class",
]

_REGISTRY: dict[str, type[Rule]] = {}
R = TypeVar("R", bound="type[Rule]")


def register(cls: R) -> R:
    """Class decorator: make ``cls`` known to :func:`from_config` (and Masker configs) by its kind.

    Examples
    --------
    >>> import dataclasses
    >>> from maskkit import rules
    >>> @rules.register
    ... @dataclasses.dataclass(frozen=True)
    ... class Everything(rules.Rule):
    ...     kind = "doc_everything"
    ...     rate: float = 1.0
    ...     def site_rates(self, haps, *, rates, **inputs):
    ...         return np.full(np.shape(haps)[-1], rates["rate"])
    >>> rules.from_config({"kind": "doc_everything", "rate": 1.0})
    Everything(rate=1.0)
    """
    kind = getattr(cls, "kind", "")
    if not isinstance(cls, type) or not issubclass(cls, Rule):
        raise TypeError(f"register takes a subclass of maskkit.rules.Rule, got {cls!r}")
    params = cls.__dict__.get("__dataclass_params__")  # set on cls itself by @dataclass
    if params is None or not params.frozen:
        raise TypeError(f"{cls.__name__} must be a frozen dataclass: @dataclass(frozen=True)")
    if not isinstance(kind, str) or not kind:
        raise ValueError(f"{cls.__name__} needs a non-empty class attribute kind = '...'")
    known = _REGISTRY.get(kind)
    if known is not None and (known.__module__, known.__qualname__) != (
        cls.__module__,
        cls.__qualname__,
    ):
        raise ValueError(
            f"kind {kind!r} is taken by {known.__module__}.{known.__qualname__}; "
            f"give {cls.__name__} another kind"
        )
    fields = {f.name for f in dataclasses.fields(cls)}
    missing = [name for name in cls.rate_fields if name not in fields]
    if missing:
        raise ValueError(f"{cls.__name__}.rate_fields names {missing}, which are not its fields")
    _REGISTRY[kind] = cls
    return cls


def kinds() -> tuple[str, ...]:
    """Return the kinds :func:`from_config` knows (built-in rules and registered ones).

    Examples
    --------
    >>> from maskkit import rules
    >>> rules.kinds()[:5]
    ('random', 'smart_balanced', 'af_aware', 'span', 'array')
    """
    return tuple(_REGISTRY)


def rule_class(kind: str) -> type[Rule]:
    """Return the rule class registered under ``kind`` (a clear error for unknown kinds).

    Examples
    --------
    >>> from maskkit import rules
    >>> rules.rule_class("af_aware").__name__
    'AlleleFrequency'
    """
    cls = _REGISTRY.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValueError(
            f"unknown rule kind {kind!r}; known kinds are {list(_REGISTRY)}. A rule of your own "
            "must be registered (@maskkit.rules.register) before its config is read"
        )
    return cls


def from_config(config: Mapping[str, Any]) -> Rule:
    """Build a rule from :meth:`Rule.config` output (JSON types).

    Examples
    --------
    >>> from maskkit import rules
    >>> rules.from_config({"kind": "span", "rate": 0.2, "mean_span": 4.0})
    Span(rate=0.2, mean_span=4.0, max_span=None, span_lengths=None)
    """
    if not isinstance(config, Mapping) or "kind" not in config:
        raise TypeError(
            "config must be a dict with a 'kind' key, from Rule.config(), got "
            f"{type(config).__name__}"
        )
    params = dict(config)
    cls = rule_class(params.pop("kind"))
    return cls.from_params(params)


# ----------------------------------------------------------------------------- checks


def _tuple(value: Any) -> Any:
    """Nested lists/arrays to nested tuples of Python scalars (hashable, JSON-able)."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return tuple(_tuple(x) for x in value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def _float_tuple(value: Any, name: str, ndims: tuple[int, ...]) -> tuple[Any, ...]:
    arr = v.float_array(value, name)
    if arr.ndim not in ndims:
        raise ValueError(f"{name} must be {' or '.join(f'{d}-D' for d in ndims)}, got {arr.shape}")
    out: tuple[Any, ...] = _tuple(arr)
    return out


def _never(h: np.ndarray, eligible: Any, protect: Any) -> np.ndarray:
    """Positions that ``eligible`` / ``protect`` exclude, the shape of ``h``."""
    out = np.zeros(h.shape, dtype=np.bool_)
    if eligible is not None:
        out |= ~v.eligible_mask(eligible, h.shape)
    if protect is not None:
        out |= np.isin(h, np.asarray(protect, dtype=np.int64))
    return out


def _real_mask(h: Any, lengths: Any) -> np.ndarray:
    """Eligible positions (real and called), the shape of ``h``."""
    arr = np.asarray(h)
    shape = arr.shape
    n = shape[0] if arr.ndim else 0
    lens = v.lengths(lengths, n, shape[-1])
    real = np.arange(shape[-1])[None, :] < lens.reshape(-1, 1)
    if arr.ndim == 3:
        real = real[:, None, :]
    return (arr >= 0) & real


# ----------------------------------------------------------------------------- base class


@dataclasses.dataclass(frozen=True)
class Rule:
    """Base class of masking rules (subclass it as a frozen dataclass).

    Class attributes
    ----------------
    kind : str
        Name in configs (:meth:`config`, :func:`from_config`) and strategy strings.
    rate_fields : tuple of str
        Fields that are rates: :meth:`draw` takes per-draw values for them (``rates=``), a
        :class:`~maskkit.Masker` drives them with schedules. The first is :attr:`driven`.
    inputs : tuple of str
        Per-batch inputs :meth:`draw` accepts as keywords (e.g. ``"freq"``).
    rate_label : str
        How the training-log banner (:func:`maskkit.report.describe`) names the driven rate.

    Examples
    --------
    >>> from maskkit import rules
    >>> rules.Random(0.2).with_rates(rate=0.4)
    Random(rate=0.4)
    """

    kind: ClassVar[str] = ""
    rate_fields: ClassVar[tuple[str, ...]] = ("rate",)
    inputs: ClassVar[tuple[str, ...]] = ()
    rate_label: ClassVar[str] = "Mask Rate"

    @property
    def driven(self) -> str:
        """The rate the curriculum drives (a Masker's ``rate=``): ``rate_fields[0]``."""
        return self.rate_fields[0]

    # ---------------------------------------------------------------- configuration

    def params(self) -> dict[str, Any]:
        """Return the parameters (fields) as a dict of plain JSON types."""
        return {f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def config(self) -> dict[str, Any]:
        """Return ``{"kind": ..., **parameters}`` in JSON types (see :func:`from_config`).

        Examples
        --------
        >>> from maskkit import rules
        >>> rules.Array(every=4).config()
        {'kind': 'array', 'keep': None, 'every': 4, 'rate': 1.0, 'kept_rate': 0.0}
        """
        return {"kind": self.kind, **self.params()}

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Rule:
        """Build the rule from parameters, naming unknown ones."""
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(params) - set(names))
        if unknown:
            raise ValueError(
                f"{unknown} are not parameters of rule kind={cls.kind!r} ({cls.__name__}); "
                f"it takes {names or 'none'}"
            )
        return cls(**params)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Rule:
        """Build a rule from :meth:`config` output (same as :func:`maskkit.rules.from_config`)."""
        rule = from_config(config)
        if not isinstance(rule, cls):
            raise ValueError(f"config is of kind {config['kind']!r}, not a {cls.__name__}")
        return rule

    def with_rates(self: Any, **rates: float) -> Any:
        """Return a copy with new values of rate fields (e.g. the curriculum's current rate)."""
        unknown = sorted(set(rates) - set(self.rate_fields))
        if unknown:
            raise ValueError(
                f"{unknown} are not rates of {type(self).__name__}; its rates are "
                f"{list(self.rate_fields)}"
            )
        return dataclasses.replace(self, **rates)

    # ---------------------------------------------------------------- drawing

    def _rates(self, rates: Mapping[str, Any] | None) -> dict[str, Any]:
        out = {name: getattr(self, name) for name in self.rate_fields}
        if rates:
            unknown = sorted(set(rates) - set(self.rate_fields))
            if unknown:
                raise ValueError(
                    f"rates {unknown} are not rates of {type(self).__name__}; its rates are "
                    f"{list(self.rate_fields)}"
                )
            out.update(rates)
        return out

    def _inputs(self, inputs: Mapping[str, Any]) -> None:
        for name in inputs:
            if name not in self.inputs:
                raise ValueError(
                    f"{name} is not an input of rule kind={self.kind!r} (it takes "
                    f"{list(self.inputs) or 'none'}); drop {name}="
                )

    def draw(
        self,
        haps: Any,
        *,
        seed: int,
        epoch: int = 0,
        indices: Any = None,
        lengths: Any = None,
        rates: Mapping[str, Any] | None = None,
        eligible: Any = None,
        protect: Any = None,
        exact: bool = False,
        site_rate: bool = False,
        union: bool = False,
        out: np.ndarray | None = None,
        parallel: bool = False,
        **inputs: Any,
    ) -> np.ndarray:
        """Draw the mask of ``haps`` (one call into :mod:`maskkit.masks`).

        Parameters
        ----------
        haps : array of int, shape (rows, sites) or (samples, ploidy, sites)
            Alleles or token ids: ``>= 0`` may be masked, negative is missing (never masked).
        seed, epoch, indices, lengths, exact, site_rate, parallel
            As for :func:`maskkit.random_mask`.
        rates : dict, optional
            Values for :attr:`rate_fields` (a float, or one per sample) instead of the rule's own.
        eligible : bool array, optional
            Positions that may be masked: the shape of ``haps``, ``(sites,)``, or for 3-D
            ``haps`` ``(samples, sites)``. ``False`` positions are never masked and exact
            counts ignore them (like missing calls): CLS/SEP tokens, sites kept observed.
        protect : int or sequence of int, optional
            Token ids never masked (e.g. ``[cls_id, sep_id, pad_id]``), like ``eligible=False``.
        union : bool, default False
            Return the site mask, the union over the ploidy axis (3-D ``haps``).
        out : bool array, optional
            Output buffer of the result's shape.
        **inputs
            Per-batch inputs named in :attr:`inputs` (e.g. ``freq=`` for allele frequencies).

        Returns
        -------
        numpy.ndarray of bool, the shape of ``haps`` (``(samples, sites)`` with ``union=True``)
        """
        self._inputs(inputs)
        r = self._rates(rates)
        common = {
            "seed": seed, "epoch": epoch, "indices": indices, "lengths": lengths,
            "exact": exact, "site_rate": site_rate, "parallel": parallel, "union": union,
            "out": out, "eligible": eligible, "protect": protect,
        }  # fmt: skip
        return self._draw(haps, r, common, inputs)

    def _draw(
        self, haps: Any, rates: dict[str, Any], common: dict[str, Any], inputs: dict[str, Any]
    ) -> np.ndarray:
        """Draw from :meth:`site_rates`: positions grouped by equal rate, one af_mask call."""
        site = self._site_rates(haps, rates, inputs)
        shape = np.shape(haps)
        want = [(shape[-1],), (shape[0], shape[-1])]
        if site.shape not in want:
            raise ValueError(
                f"{type(self).__name__}.site_rates must return shape {want[0]} or {want[1]}, "
                f"got {site.shape}"
            )
        v.unit_interval(site, f"{type(self).__name__}.site_rates")
        levels, groups = np.unique(site, return_inverse=True)
        k = levels.size
        if k > 2**15 - 1:
            raise ValueError(
                f"{type(self).__name__}.site_rates gives {k} distinct rates; use fewer than 32768"
            )
        # group g <-> frequency (g + 0.5) / k between the edges j / k: af_mask's bins are groups
        codes = (groups.reshape(site.shape) + 0.5) / k
        edges = np.arange(1, k) / k
        return af_mask(haps, codes, edges, levels, fold=False, **common)

    def _site_rates(self, haps: Any, rates: dict[str, Any], inputs: dict[str, Any]) -> np.ndarray:
        site = np.asarray(self.site_rates(haps, rates=rates, **inputs), dtype=np.float64)
        return site[0] if site.ndim == 2 and site.shape[0] == 1 else site

    def site_rates(self, haps: Any, *, rates: Mapping[str, Any], **inputs: Any) -> np.ndarray:
        """Return each site's rate, shape ``(sites,)``, ``(1, sites)`` or ``(samples, sites)``.

        Implement this in a rule of your own: the base class then draws (Bernoulli, or exact
        counts per group of sites with equal rate) and gives :meth:`probabilities`. ``rates``
        holds the current value of every field in :attr:`rate_fields` (floats, or arrays of
        one value per sample).
        """
        raise NotImplementedError(
            f"{type(self).__name__} implements neither site_rates() nor draw(); "
            "a rule of your own implements one of them"
        )

    def _haplotype_rates(self, h: np.ndarray, rates: dict[str, Any], inputs: dict[str, Any]) -> Any:
        """Per-position rates before the site-rate conversion (broadcastable to ``h``)."""
        site = self._site_rates(h, rates, inputs)
        return site[:, None, :] if h.ndim == 3 and site.ndim == 2 else site

    def probabilities(
        self,
        haps: Any,
        *,
        rates: Mapping[str, Any] | None = None,
        lengths: Any = None,
        eligible: Any = None,
        protect: Any = None,
        site_rate: bool = False,
        union: bool = False,
        **inputs: Any,
    ) -> np.ndarray:
        """Return each position's probability of being masked (float64, the shape of ``haps``).

        The marginal probability of :meth:`draw` with the same arguments, in Bernoulli and in
        exact mode (exact counts keep each position's marginal). ``0`` where a position is
        missing, padding or not eligible. With ``union=True`` (3-D ``haps``), each site's
        probability of being set in the site mask, ``1 - prod(1 - p)`` over the ploidy axis
        (haplotypes are drawn independently), shape ``(samples, sites)``.

        Examples
        --------
        >>> import numpy as np
        >>> from maskkit import rules
        >>> haps = np.array([[0, 1, -1, 0]], dtype=np.int8)
        >>> rules.SmartBalanced(0.2, 0.6).probabilities(haps, lengths=[3]).tolist()
        [[0.2, 0.6, 0.0, 0.0]]
        """
        self._inputs(inputs)
        r = self._rates(rates)
        h = np.asarray(haps)
        v.haps_2d(h)
        for name in self.rate_fields:
            if np.ndim(r[name]) == 1:
                r[name] = v.rates(r[name], h.shape[0], name)
        p = np.broadcast_to(np.asarray(self._haplotype_rates(h, r, inputs), np.float64), h.shape)
        p = np.minimum(p, 1.0)
        if site_rate:
            ploidy = h.shape[1] if h.ndim == 3 else 1
            p = 1.0 - (1.0 - p) ** (1.0 / ploidy)
        never = _never(h, eligible, protect)
        p = np.where(_real_mask(h, lengths) & ~never, p, 0.0)
        if not union:
            return p
        if h.ndim != 3:
            raise ValueError(
                f"union=True needs 3-D haps (samples, ploidy, sites) to take the union over the "
                f"ploidy axis, got shape {h.shape}"
            )
        return 1.0 - np.prod(1.0 - p, axis=1)


def _col(value: Any, h: np.ndarray) -> Any:
    """Return a rate as a float, or per-sample rates as a column broadcasting over ``h``."""
    if np.ndim(value) == 0:
        return float(value)
    return np.asarray(value, dtype=np.float64).reshape((h.shape[0],) + (1,) * (h.ndim - 1))


# ----------------------------------------------------------------------------- built-in rules


@register
@dataclasses.dataclass(frozen=True)
class Random(Rule):
    """Every eligible position at ``rate``, whatever its allele (:func:`maskkit.random_mask`).

    Examples
    --------
    >>> from maskkit import rules
    >>> rules.Random(0.15)
    Random(rate=0.15)
    """

    kind: ClassVar[str] = "random"
    rate_fields: ClassVar[tuple[str, ...]] = ("rate",)
    rate_label: ClassVar[str] = "Mask Rate (all alleles)"
    rate: float = 0.15

    def __post_init__(self) -> None:
        object.__setattr__(self, "rate", v.rate_scalar(self.rate, "rate"))

    def _draw(self, haps, rates, common, inputs):  # type: ignore[no-untyped-def]
        return random_mask(haps, rates["rate"], **common)

    def _haplotype_rates(self, h: np.ndarray, rates: dict[str, Any], inputs: dict[str, Any]) -> Any:
        return _col(rates["rate"], h)


@register
@dataclasses.dataclass(frozen=True)
class SmartBalanced(Rule):
    """Ref positions (allele 0) at ``ref_rate``, alt positions (allele > 0) at ``alt_rate``.

    Smart balanced masking keeps ``alt_rate`` high and fixed (0.7) while the curriculum drives
    ``ref_rate`` (:func:`maskkit.class_rate_mask`). ``ClassRates`` is the same class.

    Examples
    --------
    >>> from maskkit import rules
    >>> rules.SmartBalanced(ref_rate=0.3).driven
    'ref_rate'
    """

    kind: ClassVar[str] = "smart_balanced"
    rate_fields: ClassVar[tuple[str, ...]] = ("ref_rate", "alt_rate")
    rate_label: ClassVar[str] = "Ref (0) Mask Rate"
    ref_rate: float = 0.3
    alt_rate: float = 0.7

    def __post_init__(self) -> None:
        object.__setattr__(self, "ref_rate", v.rate_scalar(self.ref_rate, "ref_rate"))
        object.__setattr__(self, "alt_rate", v.rate_scalar(self.alt_rate, "alt_rate"))

    def _draw(self, haps, rates, common, inputs):  # type: ignore[no-untyped-def]
        return class_rate_mask(haps, rates["ref_rate"], rates["alt_rate"], **common)

    def _haplotype_rates(self, h: np.ndarray, rates: dict[str, Any], inputs: dict[str, Any]) -> Any:
        return np.where(h > 0, _col(rates["alt_rate"], h), _col(rates["ref_rate"], h))


ClassRates = SmartBalanced


@register
@dataclasses.dataclass(frozen=True)
class AlleleFrequency(Rule):
    """Each position at ``min(1, scale * rates[class, bin])`` by its site's MAF bin.

    :func:`maskkit.af_mask`: ``rates`` is one rate per bin, or a (ref row, alt row) table;
    the curriculum drives ``scale``. Pass each batch's site frequencies as ``freq=`` to
    :meth:`draw` (or fix them with ``freq``).

    Examples
    --------
    >>> import numpy as np
    >>> from maskkit import rules
    >>> rule = rules.AlleleFrequency(edges=[0.05], rates=[1.0, 0.0])
    >>> rule.probabilities(np.zeros((1, 2), np.int8), freq=[0.01, 0.3]).tolist()
    [[1.0, 0.0]]
    """

    kind: ClassVar[str] = "af_aware"
    rate_fields: ClassVar[tuple[str, ...]] = ("scale",)
    inputs: ClassVar[tuple[str, ...]] = ("freq",)
    rate_label: ClassVar[str] = "Rate Scale (x AF table)"
    edges: tuple[float, ...]
    rates: tuple[Any, ...]
    _: dataclasses.KW_ONLY
    scale: float = 1.0
    fold: bool = True
    freq: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        edges = _tuple(_freq.check_edges(self.edges))
        rates = _tuple(v.bin_rates(self.rates, len(edges) + 1))
        object.__setattr__(self, "edges", edges)
        object.__setattr__(self, "rates", rates)
        object.__setattr__(self, "scale", v.nonneg_scalar(self.scale, "scale"))
        object.__setattr__(self, "fold", v.flag(self.fold, "fold"))
        if self.freq is not None:
            f = _float_tuple(self.freq, "freq", (1,))
            _freq.maf_bins(f, edges)  # range check, naming freq
            object.__setattr__(self, "freq", f)

    def _freq_of(self, inputs: dict[str, Any]) -> Any:
        f = inputs.get("freq", self.freq)
        if f is None:
            raise ValueError(
                "rule kind='af_aware' needs the site frequencies: pass freq= with the batch "
                "or AlleleFrequency(freq=...) (options['freq'] of a Masker)"
            )
        return f

    def _draw(self, haps, rates, common, inputs):  # type: ignore[no-untyped-def]
        return af_mask(
            haps, self._freq_of(inputs), self.edges, self.rates, scale=rates["scale"],
            fold=self.fold, **common,
        )  # fmt: skip

    def _haplotype_rates(self, h: np.ndarray, rates: dict[str, Any], inputs: dict[str, Any]) -> Any:
        bins = _freq.maf_bins(self._freq_of(inputs), self.edges, fold=self.fold)
        if (bins < 0).any():
            raise ValueError("freq is NaN (a site without calls); give those sites a frequency")
        if bins.ndim == 2 and h.ndim == 3:
            bins = bins[:, None, :]
        table = np.asarray(self.rates, dtype=np.float64)
        split = table.ndim == 2
        base = np.where(h > 0, table[1][bins], table[0][bins]) if split else table[bins]
        return np.minimum(base * _col(rates["scale"], h), 1.0)


@register
@dataclasses.dataclass(frozen=True)
class Span(Rule):
    """Contiguous runs of sites until ``rate`` of each row is masked (:func:`maskkit.span_mask`).

    Span lengths are geometric with mean ``mean_span`` (3 when not given), truncated at
    ``max_span``, or any distribution ``span_lengths=(values, probs)``.

    Examples
    --------
    >>> from maskkit import rules
    >>> rules.Span(0.2, mean_span=4).mean_span
    4.0
    """

    kind: ClassVar[str] = "span"
    rate_fields: ClassVar[tuple[str, ...]] = ("rate",)
    rate_label: ClassVar[str] = "Span Mask Rate (target fraction)"
    rate: float = 0.15
    _: dataclasses.KW_ONLY
    mean_span: float | None = None
    max_span: int | None = None
    span_lengths: tuple[tuple[Any, ...], tuple[float, ...]] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "rate", v.rate_scalar(self.rate, "rate"))
        sl = self.span_lengths
        span_length_probabilities(  # checks all three
            mean_span=self.mean_span, max_span=self.max_span, span_lengths=sl, upto=1
        )
        if sl is not None:
            sl = (_tuple(np.asarray(sl[0])), _tuple(np.asarray(sl[1], dtype=np.float64)))
        ms = self.mean_span
        if isinstance(ms, numbers.Real) and not isinstance(ms, (bool, np.bool_)):
            object.__setattr__(self, "mean_span", float(ms))
        if self.max_span is not None:
            object.__setattr__(self, "max_span", int(self.max_span))
        object.__setattr__(self, "span_lengths", sl)

    def _draw(self, haps, rates, common, inputs):  # type: ignore[no-untyped-def]
        return span_mask(
            haps, rates["rate"], mean_span=self.mean_span, max_span=self.max_span,
            span_lengths=self.span_lengths, **common,
        )  # fmt: skip

    def _haplotype_rates(self, h: np.ndarray, rates: dict[str, Any], inputs: dict[str, Any]) -> Any:
        raise NotImplementedError(
            "Span masks have no closed-form per-position probability (it depends on where a "
            "position sits in its row); estimate it from draws over several epochs"
        )


@register
@dataclasses.dataclass(frozen=True)
class Array(Rule):
    """Genotyping-array masking: sites on the array kept visible, the others masked.

    :func:`maskkit.array_mask`: sites off the array at ``rate``, sites on it at ``kept_rate``.
    ``keep`` is a bool site vector or a list of site positions; or keep ``every`` n-th site.

    Examples
    --------
    >>> import numpy as np
    >>> from maskkit import rules
    >>> rules.Array(every=2).probabilities(np.zeros((1, 4), np.int8)).tolist()
    [[0.0, 1.0, 0.0, 1.0]]
    """

    kind: ClassVar[str] = "array"
    rate_fields: ClassVar[tuple[str, ...]] = ("rate", "kept_rate")
    rate_label: ClassVar[str] = "Off-array Mask Rate"
    keep: tuple[Any, ...] | None = None
    _: dataclasses.KW_ONLY
    every: int | None = None
    rate: float = 1.0
    kept_rate: float = 0.0

    def __post_init__(self) -> None:
        if (self.keep is None) == (self.every is None):
            raise ValueError(
                "give exactly one of keep (a bool site vector or a list of site positions) and "
                f"every (keep every n-th site), got keep={self.keep!r} and every={self.every!r}"
            )
        if self.every is not None:
            object.__setattr__(self, "every", v.int_scalar(self.every, "every", 1, 2**62))
        else:
            arr = np.asarray(self.keep)
            ok = arr.dtype == np.bool_ or (
                arr.size == 0 or (np.issubdtype(arr.dtype, np.integer) and arr.min() >= 0)
            )
            if not ok or arr.ndim not in (1, 2) or (arr.ndim == 2 and arr.dtype != np.bool_):
                raise TypeError(
                    "keep must be a bool site vector (or samples x sites) or a 1-D list of "
                    f"site positions >= 0, got dtype {arr.dtype} and shape {arr.shape}"
                )
            object.__setattr__(self, "keep", _tuple(arr))
        object.__setattr__(self, "rate", v.rate_scalar(self.rate, "rate"))
        object.__setattr__(self, "kept_rate", v.rate_scalar(self.kept_rate, "kept_rate"))

    def _keep(self) -> Any:
        return None if self.keep is None else np.asarray(self.keep)

    def _draw(self, haps, rates, common, inputs):  # type: ignore[no-untyped-def]
        return array_mask(
            haps, self._keep(), rates["rate"], every=self.every, kept_rate=rates["kept_rate"],
            **common,
        )  # fmt: skip

    def _haplotype_rates(self, h: np.ndarray, rates: dict[str, Any], inputs: dict[str, Any]) -> Any:
        sites = h.shape[-1]
        if self.every is not None:
            on = np.arange(sites) % self.every == 0
        else:
            keep = self._keep()
            if keep.dtype == np.bool_:
                on = keep if keep.ndim == 1 or h.ndim == 2 else keep[:, None, :]
            else:
                on = np.zeros(sites, dtype=bool)
                on[keep] = True
        return np.where(on, _col(rates["kept_rate"], h), _col(rates["rate"], h))


@register
@dataclasses.dataclass(frozen=True)
class PerPosition(Rule):
    """Mask each site at its own rate: ``min(1, scale * rates[site])`` (a user-rule template).

    Drawn by :meth:`Rule.site_rates` through :func:`maskkit.af_mask` with sites grouped by equal
    rate, so exact mode gives exact counts per group of equal rate. The curriculum drives
    ``scale``. Written the way a rule of your own is written (see ``docs/rules.md``).

    Examples
    --------
    >>> import numpy as np
    >>> from maskkit import rules
    >>> rule = rules.PerPosition(rates=[0.0, 1.0, 0.0, 1.0])
    >>> rule.draw(np.zeros((1, 4), np.int8), seed=0).astype(int).tolist()
    [[0, 1, 0, 1]]
    """

    kind: ClassVar[str] = "per_position"
    rate_fields: ClassVar[tuple[str, ...]] = ("scale",)
    rate_label: ClassVar[str] = "Rate Scale (x per-position rates)"
    rates: tuple[float, ...]
    _: dataclasses.KW_ONLY
    scale: float = 1.0

    def __post_init__(self) -> None:
        rates = _float_tuple(self.rates, "rates", (1,))
        v.unit_interval(rates, "rates")
        object.__setattr__(self, "rates", rates)
        object.__setattr__(self, "scale", v.nonneg_scalar(self.scale, "scale"))

    def site_rates(self, haps: Any, *, rates: Mapping[str, Any], **inputs: Any) -> np.ndarray:
        """Return ``min(1, scale * rates)`` per site (per sample and site for per-sample scales)."""
        sites = np.shape(haps)[-1]
        if len(self.rates) != sites:
            raise ValueError(
                f"PerPosition has {len(self.rates)} rates but haps has {sites} sites; "
                "give one rate per site"
            )
        base = np.asarray(self.rates, dtype=np.float64)
        scale = rates["scale"]
        if np.ndim(scale) == 0:
            return np.minimum(base * v.nonneg_scalar(scale, "scale"), 1.0)
        sc = np.asarray(scale, dtype=np.float64).reshape(-1)
        if sc.shape != (np.shape(haps)[0],):
            raise ValueError(
                f"scale must be a scalar or one per sample ({np.shape(haps)[0]},), got {sc.shape}"
            )
        return np.minimum(sc[:, None] * base[None, :], 1.0)
