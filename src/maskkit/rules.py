"""Masking rules: the one owner of each rule's math.

A rule is a small frozen dataclass. It checks its options once, when it is built, says which of
its rates a curriculum may drive (``Rule.rate_fields``, the first
being [Rule.driven][maskkit.rules.Rule.driven]), round-trips through a JSON config
([Rule.config][maskkit.rules.Rule.config] / [from_config][maskkit.rules.from_config]) and turns
a batch into its groups and rate table, which one kernel call draws
([Rule.draw][maskkit.rules.Rule.draw]); [Rule.probabilities][maskkit.rules.Rule.probabilities]
reads the same rates. The numpy-style mask functions of [maskkit.masks][] are one-line sugar
over these rules.

Each rule, its ``kind`` and its mask function:

* [Random][maskkit.rules.Random], ``"random"``, [random_mask][maskkit.masks.random_mask]
* [SmartBalanced][maskkit.rules.SmartBalanced], ``"smart_balanced"``,
  [smart_balanced_mask][maskkit.masks.smart_balanced_mask]
* [AlleleFrequency][maskkit.rules.AlleleFrequency], ``"af_aware"``, [af_mask][maskkit.masks.af_mask]
* [Span][maskkit.rules.Span], ``"span"``, [span_mask][maskkit.masks.span_mask]
* [Array][maskkit.rules.Array], ``"array"``, [array_mask][maskkit.masks.array_mask]
* [PerPosition][maskkit.rules.PerPosition], ``"per_position"`` (sites grouped by equal rate)

A rule of your own is a frozen dataclass subclass of [Rule][maskkit.rules.Rule] with a ``kind``,
registered with [register][maskkit.rules.register], that implements
[Rule.site_rates][maskkit.rules.Rule.site_rates] (each site's rate; the base class draws and
reports probabilities from it) or overrides [Rule.draw][maskkit.rules.Rule.draw]. See
``docs/rules.md``.

Examples
--------
>>> import numpy as np, maskkit as mk
>>> from maskkit import rules
>>> rule = rules.SmartBalanced(ref_rate=0.3, alt_rate=0.7)
>>> rules.from_config(rule.config()) == rule
True
>>> haps = np.zeros((2, 2, 20), dtype=np.int8)
>>> m = rule.draw(haps, seed=1)
>>> bool((m == mk.smart_balanced_mask(haps, 0.3, 0.7, seed=1)).all())
True
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import numpy as np

from . import _kernels
from . import _validate as v
from . import freq as _freq
from ._config import plain
from .union import haplotype_rate

__all__ = [
    "AlleleFrequency",
    "Array",
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
    """Class decorator: make ``cls`` known to [from_config][maskkit.rules.from_config] by its kind.

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
    """Return the kinds [from_config][maskkit.rules.from_config] knows (built-in and registered).

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
    """Build a rule from [Rule.config][maskkit.rules.Rule.config] output (JSON types).

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


# ----------------------------------------------------------------------------- shared math


def _tuple(value: Any) -> Any:
    """Nested lists/arrays to nested tuples of Python scalars (hashable, JSON-able)."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        if all(type(x) in (bool, int, float) for x in value):
            return tuple(value)  # flat: one conversion (a keep vector has thousands of sites)
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


def _site_rated(table: np.ndarray, b: v.Batch) -> np.ndarray:
    """``table`` read as site rates when the draw asks for it (``site_rate=True``)."""
    if not b.site_rate:
        return table
    return np.asarray(haplotype_rate(table, b.ploidy), dtype=np.float64)


_SHARED: dict[tuple[float, ...], np.ndarray] = {}


def _rate_table(b: v.Batch, values: tuple[Any, ...]) -> np.ndarray:
    """Return the kernel's ``(1 or samples, groups)`` float64 table: a column per checked rate."""
    if not b.site_rate and type(values[0]) is float and type(values[-1]) is float:
        # shared float rates: one cached table (building it costs about a microsecond, a tenth
        # of a whole 48 x 1,024 call; kernels only read it)
        table = _SHARED.get(values)
        if table is None:
            if len(_SHARED) > 256:
                _SHARED.clear()
            table = _SHARED[values] = np.array([values], dtype=np.float64)
        return table
    cols = [np.array([x]) if type(x) is float else x for x in values]
    rows = 1 if all(c.shape[0] == 1 for c in cols) else b.shape[0]
    table = np.empty((rows, len(cols)), dtype=np.float64)
    for k, c in enumerate(cols):
        table[:, k] = c
    return _site_rated(table, b)


_PARALLEL_CHUNK = 4  # output rows per parallel task


def _group_draw(b: v.Batch, bins: np.ndarray, split: bool, table: np.ndarray) -> np.ndarray:
    """Make the one group-kernel call (``_kernels.group_mask``); groups are bins x classes."""
    _, h2, ploidy, _, seed, epoch, lens, idx, result, o2, per, _, _, exact, _, par = b
    if h2.size:
        kernel = _kernels.group_mask_parallel if par else _kernels.group_mask
        chunk = _PARALLEL_CHUNK if par else o2.shape[0]
        kernel(h2, ploidy, lens, idx, bins, split, table, exact, seed, epoch, per, chunk, o2)
    return result


def _real_mask(h: np.ndarray, lengths: Any) -> np.ndarray:
    """Positions that are real (before ``lengths``) and called, the shape of ``h``."""
    shape = h.shape
    lens = v.lengths(lengths, shape[0], shape[-1])
    real = np.arange(shape[-1])[None, :] < lens.reshape(-1, 1)
    if h.ndim == 3:
        real = real[:, None, :]
    return (h >= 0) & real


def _col(value: Any, h: np.ndarray) -> Any:
    """Return a rate as a float, or per-sample rates as a column broadcasting over ``h``."""
    if np.ndim(value) == 0:
        return float(value)
    return np.asarray(value, dtype=np.float64).reshape((h.shape[0],) + (1,) * (h.ndim - 1))


# ----------------------------------------------------------------------------- base class


@dataclasses.dataclass(frozen=True)
class Rule:
    """Base class of masking rules (subclass it as a frozen dataclass).

    Class attributes
    ----------------
    kind : str
        Name in configs ([config][maskkit.rules.Rule.config],
        [from_config][maskkit.rules.from_config]) and strategy strings.
    rate_fields : tuple of str
        Fields that are rates: [draw][maskkit.rules.Rule.draw] takes per-draw values for them
        (``rates=``), a [Masker][maskkit.masker.Masker] drives them with schedules. The first is
        [driven][maskkit.rules.Rule.driven].
    inputs : tuple of str
        Per-batch inputs [draw][maskkit.rules.Rule.draw] accepts as keywords (e.g. ``"freq"``).
    rate_label : str
        How the training-log banner ([maskkit.report.describe][]) names the driven rate.
    class_rates : bool
        Whether the rates are per-allele-class targets (ref and alt), which the banner turns
        into site rates after the union.

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
    class_rates: ClassVar[bool] = False
    # rate fields checked on every draw: "rate" (in [0, 1]) or "scale" (>= 0)
    _checks: ClassVar[dict[str, str]] = {}
    # whether the kernel takes the union over the ploidy axis itself
    _fuse: ClassVar[bool] = True
    # whether the class overrides draw (set for every subclass)
    _own_draw: ClassVar[bool] = False
    # _checks as (name, kind) pairs, the form the batch check loops over (set for every subclass)
    _check_pairs: ClassVar[tuple[tuple[str, str], ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._own_draw = cls.draw is not Rule.draw
        cls._check_pairs = tuple(cls._checks.items())

    @property
    def driven(self) -> str:
        """The rate the curriculum drives (a Masker's ``rate=``): ``rate_fields[0]``."""
        return self.rate_fields[0]

    # ---------------------------------------------------------------- configuration

    def params(self) -> dict[str, Any]:
        """Return the parameters (fields) as a dict of plain JSON types."""
        return {f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def config(self) -> dict[str, Any]:
        """Return ``{"kind": ..., **parameters}`` in JSON types.

        [from_config][maskkit.rules.from_config] builds the rule back from it.

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
        """Build a rule of this class from [config][maskkit.rules.Rule.config] output."""
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

    @classmethod
    def _for_call(cls: Any, **options: Any) -> Any:
        """Return a rule of ``options`` for one call of a mask function, its options checked.

        Its fields stay as given (no conversion to JSON types, which costs more than a small
        draw); it is never compared, hashed or saved.
        """
        rule = object.__new__(cls)
        rule.__dict__.update(options)
        rule._check_options()
        return rule

    def _check_options(self) -> None:
        """Check the options (fields other than rates) and keep their kernel-ready form."""

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

    def _check_inputs(self, inputs: Mapping[str, Any]) -> None:
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
        """Draw the mask of ``haps``: the rule's groups and rate table, one kernel call.

        Parameters
        ----------
        haps : array of int, shape (rows, sites) or (samples, ploidy, sites)
            Alleles or token ids: ``>= 0`` may be masked, negative is missing (never masked).
        seed : int
            Non-negative seed, below ``2**64``.
        epoch : int, default 0
            Epoch counter; each epoch draws fresh masks.
        indices : array of int, shape (samples,), optional
            Global sample ids that key the randomness (default ``0..samples-1``).
        lengths : array of int, shape (samples,), optional
            Real sites per sample; later positions are padding and never masked.
        rates : dict, optional
            Values for ``rate_fields`` (a float, or one per
            sample) instead of the rule's own.
        eligible : bool array, optional
            Positions that may be masked: the shape of ``haps``, ``(sites,)``, or for 3-D
            ``haps`` ``(samples, sites)``. ``False`` positions are never masked and exact
            counts ignore them (like missing calls): CLS/SEP tokens, sites kept observed.
        protect : int or sequence of int, optional
            Token ids never masked (e.g. ``[cls_id, sep_id, pad_id]``), like ``eligible=False``.
        exact : bool, default False
            Exact per-row (and per-group) counts instead of independent Bernoulli draws.
        site_rate : bool, default False
            Read the rates as site rates after the union over the ploidy axis.
        union : bool, default False
            Return the site mask, the union over the ploidy axis (3-D ``haps``).
        out : bool array, optional
            Output buffer of the result's shape.
        parallel : bool, default False
            Spread rows over numba threads (the same masks for any thread count).
        **inputs
            Per-batch inputs named in ``inputs`` (e.g. ``freq=``).

        Returns
        -------
        numpy.ndarray of bool, the shape of haps, or (samples, sites) with union=True
        """
        request = (
            seed, epoch, indices, lengths, eligible, protect, exact, site_rate, union, out,
            parallel,
        )  # fmt: skip
        return self._draw(haps, request, self._rates(rates), inputs)

    def _draw(
        self, haps: Any, request: v.RequestFields, rates: Any, inputs: Mapping[str, Any]
    ) -> np.ndarray:
        """Draw along the one path: check the batch once, then make the rule's kernel call.

        ``request`` holds the fields of a ``Request`` in order; ``rates`` holds every rate field
        (a dict, or a function of the sample ids giving one).
        """
        if self._own_draw:  # a rule of your own that overrides draw
            req = v.Request._make(request)
            if callable(rates):
                rates = rates(v.sample_ids(req.indices, np.shape(haps)[0]))
            return self.draw(haps, rates=rates, **req._asdict(), **inputs)
        if inputs:
            self._check_inputs(inputs)
        b = v.batch(haps, request, rates, self._check_pairs, self._fuse)
        return self._kernel(b, inputs)

    def _kernel(self, b: v.Batch, inputs: Mapping[str, Any]) -> np.ndarray:
        """Draw a checked batch: one group-kernel call over the rule's groups."""
        bins, split, table = self._groups(b, inputs)
        return _group_draw(b, bins, split, table)

    def _groups(self, b: v.Batch, inputs: Mapping[str, Any]) -> tuple[np.ndarray, bool, Any]:
        """Return the groups of [site_rates][maskkit.rules.Rule.site_rates]: equal rates."""
        site = self._site_rates(b.haps, b.rates, inputs)
        shape = b.shape
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
        rows = 1 if site.ndim == 1 else shape[0]
        bins = (
            _kernels.NO_BINS
            if k == 1
            else np.ascontiguousarray(groups.reshape(rows, shape[-1]).astype(np.int32))
        )
        table = _site_rated(levels.astype(np.float64).reshape(1, k), b)
        return bins, False, table

    def _site_rates(self, haps: Any, rates: Mapping[str, Any], inputs: Any) -> np.ndarray:
        site = np.asarray(self.site_rates(haps, rates=rates, **inputs), dtype=np.float64)
        return site[0] if site.ndim == 2 and site.shape[0] == 1 else site

    def site_rates(self, haps: Any, *, rates: Mapping[str, Any], **inputs: Any) -> np.ndarray:
        """Return each site's rate, shape ``(sites,)``, ``(1, sites)`` or ``(samples, sites)``.

        Implement this in a rule of your own: the base class then draws (Bernoulli, or exact
        counts per group of sites with equal rate) and gives
        [probabilities][maskkit.rules.Rule.probabilities]. ``rates`` holds the current value of
        every field in ``rate_fields`` (floats, or arrays of one
        value per sample).
        """
        raise NotImplementedError(
            f"{type(self).__name__} implements neither site_rates() nor draw(); "
            "a rule of your own implements one of them"
        )

    def _haplotype_rates(self, h: np.ndarray, rates: dict[str, Any], inputs: Any) -> Any:
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

        The marginal probability of [draw][maskkit.rules.Rule.draw] with the same arguments,
        in Bernoulli and in exact mode (exact counts keep each position's marginal), from the
        rates the draw uses. ``0`` where a position is missing, padding or not eligible. With
        ``union=True`` (3-D ``haps``), each site's probability of being set in the site mask,
        ``1 - prod(1 - p)`` over the ploidy axis (haplotypes are drawn independently), shape
        ``(samples, sites)``.

        Examples
        --------
        >>> import numpy as np
        >>> from maskkit import rules
        >>> haps = np.array([[0, 1, -1, 0]], dtype=np.int8)
        >>> rules.SmartBalanced(0.2, 0.6).probabilities(haps, lengths=[3]).tolist()
        [[0.2, 0.6, 0.0, 0.0]]
        """
        self._check_inputs(inputs)
        r = self._rates(rates)
        h = np.asarray(haps)
        _, ploidy, shape = v.haps_2d(h)
        for name in self.rate_fields:
            if np.ndim(r[name]) == 1:
                r[name] = v.rates(r[name], h.shape[0], name)
        p = np.broadcast_to(np.asarray(self._haplotype_rates(h, r, inputs), np.float64), h.shape)
        p = np.minimum(p, 1.0)
        if site_rate:
            p = haplotype_rate(p, ploidy)
        never = v.excluded(h, shape, eligible, protect)
        p = np.where(_real_mask(h, lengths) & ~never, p, 0.0)
        if not union:
            return p
        v.check_union(shape)
        return 1.0 - np.prod(1.0 - p, axis=1)


# ----------------------------------------------------------------------------- built-in rules


@register
@dataclasses.dataclass(frozen=True)
class Random(Rule):
    """Every eligible position at ``rate``, whatever its allele (``maskkit.random_mask``).

    Examples
    --------
    >>> from maskkit import rules
    >>> rules.Random(0.15)
    Random(rate=0.15)
    """

    kind: ClassVar[str] = "random"
    rate_fields: ClassVar[tuple[str, ...]] = ("rate",)
    rate_label: ClassVar[str] = "Mask Rate (all alleles)"
    class_rates: ClassVar[bool] = True
    _checks: ClassVar[dict[str, str]] = {"rate": "rate"}
    rate: float = 0.15

    def __post_init__(self) -> None:
        object.__setattr__(self, "rate", v.rate_scalar(self.rate, "rate"))

    def _kernel(self, b: v.Batch, inputs: Mapping[str, Any]) -> np.ndarray:
        return _group_draw(b, _kernels.NO_BINS, False, _rate_table(b, (b.rates["rate"],)))

    def _haplotype_rates(self, h: np.ndarray, rates: dict[str, Any], inputs: Any) -> Any:
        return _col(rates["rate"], h)


@register
@dataclasses.dataclass(frozen=True)
class SmartBalanced(Rule):
    """Ref positions (allele 0) at ``ref_rate``, alt positions (allele > 0) at ``alt_rate``.

    Smart balanced masking keeps ``alt_rate`` high and fixed (0.7) while the curriculum drives
    ``ref_rate`` ([maskkit.smart_balanced_mask][maskkit.masks.smart_balanced_mask]). In exact mode
    the counts are exact per row and per class.

    Examples
    --------
    >>> from maskkit import rules
    >>> rules.SmartBalanced(ref_rate=0.3).driven
    'ref_rate'
    """

    kind: ClassVar[str] = "smart_balanced"
    rate_fields: ClassVar[tuple[str, ...]] = ("ref_rate", "alt_rate")
    rate_label: ClassVar[str] = "Ref (0) Mask Rate"
    class_rates: ClassVar[bool] = True
    _checks: ClassVar[dict[str, str]] = {"ref_rate": "rate", "alt_rate": "rate"}
    ref_rate: float = 0.3
    alt_rate: float = 0.7

    def __post_init__(self) -> None:
        object.__setattr__(self, "ref_rate", v.rate_scalar(self.ref_rate, "ref_rate"))
        object.__setattr__(self, "alt_rate", v.rate_scalar(self.alt_rate, "alt_rate"))

    def _kernel(self, b: v.Batch, inputs: Mapping[str, Any]) -> np.ndarray:
        return _group_draw(
            b, _kernels.NO_BINS, True, _rate_table(b, (b.rates["ref_rate"], b.rates["alt_rate"]))
        )

    def _haplotype_rates(self, h: np.ndarray, rates: dict[str, Any], inputs: Any) -> Any:
        return np.where(h > 0, _col(rates["alt_rate"], h), _col(rates["ref_rate"], h))


_FEW_RATES = 64


def freq_dims(freq: Any) -> None:
    """Raise unless ``freq`` (or its bins) has shape ``(sites,)`` or ``(samples, sites)``."""
    if np.ndim(freq) not in (1, 2):
        raise ValueError(f"freq must be 1-D (sites,) or 2-D (samples, sites), got {np.shape(freq)}")


# Checked AlleleFrequency options by value: (edges, rate table, group rates). Checking them
# costs ~4 us a call (numpy's per-call cost on tiny arrays), a fifth of a 48 x 1,024 af_mask;
# the key costs a few hundred ns. Shared arrays: kernels and rules only read them.
_AF_OPTIONS: dict[Any, tuple[np.ndarray, np.ndarray, tuple[float, ...]]] = {}
# min(1, scale * group rates) by (group rates, scale), one row shared by every sample
_AF_TABLES: dict[tuple[tuple[float, ...], float], np.ndarray] = {}


def _floats_key(value: Any) -> Any:
    """Return a hashable key of a small float array or (nested) list of floats (``None``: none).

    Only float64 arrays and Python floats: a key must not let an unchecked value (bools, which
    hash and compare as ints) pass on another value's check.
    """
    if type(value) is np.ndarray:
        if value.dtype != np.float64 or value.size > _FEW_RATES:
            return None
        return value.shape, value.tobytes()
    if type(value) in (list, tuple) and len(value) <= _FEW_RATES:
        if all(type(x) is float for x in value):
            return tuple(value)
        if all(type(x) in (list, tuple) and all(type(y) is float for y in x) for x in value):
            return tuple(tuple(x) for x in value)
    return None


def _af_key(edges: Any, rates: Any) -> Any:
    e = _floats_key(edges)
    r = None if e is None else _floats_key(rates)
    return None if r is None else (type(edges) is np.ndarray, e, type(rates) is np.ndarray, r)


@register
@dataclasses.dataclass(frozen=True)
class AlleleFrequency(Rule):
    """Each position at ``min(1, scale * rates[class, bin])`` by its site's MAF bin.

    [maskkit.af_mask][maskkit.masks.af_mask]: ``rates`` is one rate per bin, or a (ref row, alt row)
    table; the curriculum drives ``scale``. Pass each batch's site frequencies as ``freq=`` to
    [draw][maskkit.rules.Rule.draw] (or fix them with ``freq``).

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
    _checks: ClassVar[dict[str, str]] = {"scale": "scale"}
    if TYPE_CHECKING:  # kernel-ready options, set by _check_options (not dataclass fields)
        _edges: np.ndarray
        _table: np.ndarray
        _flat: tuple[float, ...]
    edges: tuple[float, ...]
    rates: tuple[Any, ...]
    _: dataclasses.KW_ONLY
    scale: float = 1.0
    fold: bool = True
    freq: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        self._check_options()
        object.__setattr__(self, "edges", _tuple(self._edges))
        object.__setattr__(self, "rates", _tuple(self._table))
        object.__setattr__(self, "scale", v.nonneg_scalar(self.scale, "scale"))
        if self.freq is not None:
            f = _float_tuple(self.freq, "freq", (1,))
            _freq.maf_bins(f, self._edges)  # range check, naming freq
            object.__setattr__(self, "freq", f)

    def _check_options(self) -> None:
        key = _af_key(self.edges, self.rates)
        checked = None if key is None else _AF_OPTIONS.get(key)
        if checked is None:
            edges = _freq.check_edges(self.edges)
            table = v.bin_rates(self.rates, len(edges) + 1)
            # groups are 2 * bin + class for a (class x bin) table (split), else bin
            flat = tuple(table.T.reshape(-1).tolist())
            checked = (edges, table, flat)
            if key is not None:
                if len(_AF_OPTIONS) > 64:
                    _AF_OPTIONS.clear()
                _AF_OPTIONS[key] = checked
        object.__setattr__(self, "_edges", checked[0])
        object.__setattr__(self, "_table", checked[1])
        object.__setattr__(self, "_flat", checked[2])
        object.__setattr__(self, "fold", v.flag(self.fold, "fold"))

    def _freq_of(self, inputs: Mapping[str, Any]) -> Any:
        f = inputs.get("freq", self.freq)
        if f is None:
            raise ValueError(
                "rule kind='af_aware' needs the site frequencies: pass freq= with the batch "
                "or AlleleFrequency(freq=...) (options['freq'] of a Masker)"
            )
        return f

    def _groups(self, b: v.Batch, inputs: Mapping[str, Any]) -> tuple[np.ndarray, bool, Any]:
        n, sites = b.shape[0], b.shape[-1]
        bins, nans, nb = _freq.bins_of_checked(
            self._freq_of(inputs), self._edges, self.fold, "freq"
        )
        freq_dims(bins)
        if nans:
            raise ValueError(
                "freq is NaN (a site without calls) where af_mask needs a rate; give those "
                "sites a frequency (e.g. 0.0) or make them ineligible"
            )
        if bins.shape[-1] != sites or (bins.ndim == 2 and bins.shape[0] != n):
            raise ValueError(
                f"freq must have shape ({sites},) or ({n}, {sites}) to match haps {b.shape}, "
                f"got {bins.shape}"
            )
        split = self._table.ndim == 2
        flat = self._flat  # the group rates: 2 * bin + class for a (class x bin) table, else bin
        scale = b.rates["scale"]
        if type(scale) is float and len(flat) <= _FEW_RATES:
            # one scale, a small table: plain floats (numpy's per-call cost, ~1 us a call, would
            # be most of the work); the same float64 products and minimum as the array path.
            # Shared by value (kernels only read it), as _rate_table's
            table = _AF_TABLES.get((flat, scale))
            if table is None:
                if len(_AF_TABLES) > 256:
                    _AF_TABLES.clear()
                table = np.array([[min(scale * x, 1.0) for x in flat]], dtype=np.float64)
                _AF_TABLES[flat, scale] = table
        else:
            sc = np.array([scale]) if type(scale) is float else scale
            table = np.minimum(sc[:, None] * np.array(flat)[None, :], 1.0)
        # one bin: the rule without bins (the same groups, so the same masks)
        rows = 1 if bins.ndim == 1 else n
        bins2 = _kernels.NO_BINS if nb == 0 else np.ascontiguousarray(bins.reshape(rows, sites))
        return bins2, split, _site_rated(table, b)

    def _haplotype_rates(self, h: np.ndarray, rates: dict[str, Any], inputs: Any) -> Any:
        bins = _freq.maf_bins(self._freq_of(inputs), self._edges, fold=self.fold)
        if (bins < 0).any():
            raise ValueError("freq is NaN (a site without calls); give those sites a frequency")
        if bins.ndim == 2 and h.ndim == 3:
            bins = bins[:, None, :]
        table = self._table
        split = table.ndim == 2
        base = np.where(h > 0, table[1][bins], table[0][bins]) if split else table[bins]
        return np.minimum(base * _col(rates["scale"], h), 1.0)


_NO_MAX = 2**62
_EMPTY_I = np.zeros(1, dtype=np.int64)
_EMPTY_F = np.ones(1, dtype=np.float64)


def span_distribution(
    mean_span: Any, max_span: Any, span_lengths: Any
) -> tuple[int, float, float, int, np.ndarray, np.ndarray]:
    """Check a span length distribution; return its kernel arguments.

    Returns ``(kind, q_log, c, max_len, vals, cdf)``.
    """
    if span_lengths is not None:
        if mean_span is not None or max_span is not None:
            raise ValueError(
                "span_lengths gives the whole length distribution; drop mean_span and max_span"
            )
        if not isinstance(span_lengths, (tuple, list)) or len(span_lengths) != 2:
            raise TypeError(
                "span_lengths must be a pair (values, probs), e.g. ([1, 2, 3], [0.5, 0.3, 0.2])"
            )
        vals = np.asarray(span_lengths[0])
        if vals.dtype == np.bool_ or not np.issubdtype(vals.dtype, np.integer) or vals.ndim != 1:
            raise TypeError(
                f"span_lengths values must be a 1-D integer array, got dtype {vals.dtype} "
                f"shape {vals.shape}"
            )
        probs = v.float_array(span_lengths[1], "span_lengths probs")
        if vals.size == 0 or probs.shape != vals.shape:
            raise ValueError(
                "span_lengths values and probs must be non-empty and of the same length, "
                f"got {vals.shape} and {probs.shape}"
            )
        if vals.min() < 1:
            raise ValueError(f"span_lengths values must be >= 1, got {vals.min()}")
        if not (np.isfinite(probs).all() and (probs >= 0).all()) or abs(probs.sum() - 1) > 1e-6:
            raise ValueError(f"span_lengths probs must be >= 0 and sum to 1, got sum {probs.sum()}")
        cdf = np.cumsum(probs) / probs.sum()
        cdf[-1] = 1.0
        return 1, -1.0, 1.0, 0, vals.astype(np.int64), cdf
    mean = 3.0 if mean_span is None else mean_span
    if isinstance(mean, (bool, np.bool_)) or not isinstance(mean, numbers.Real):
        raise TypeError(f"mean_span must be a number >= 1, got {mean!r}")
    mean = float(mean)
    if not (math.isfinite(mean) and mean >= 1.0):
        raise ValueError(f"mean_span must be a finite number >= 1, got {mean}")
    top = _NO_MAX if max_span is None else v.int_scalar(max_span, "max_span", low=1, high=_NO_MAX)
    q = 1.0 / mean
    q_log = math.log1p(-q) if q < 1.0 else -math.inf
    c = 1.0 if max_span is None else -math.expm1(top * q_log) if q < 1.0 else 1.0
    return 0, q_log, c, top, _EMPTY_I, _EMPTY_F  # placeholders of the geometric kind


_GEOMETRIC_TABLES: dict[tuple[float, float, int], tuple[np.ndarray, np.ndarray]] = {}


def _geometric_table(q_log: float, c: float, top: int) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(guide, cdf)``: the geometric length CDF over its first lengths, and a guide.

    ``cdf[l] = P(length <= l + 1)`` for ``l < size``, where ``size`` covers all but about 2**-20
    of the probability (at most 4,096 lengths; all of them when ``max_span`` is smaller, the last
    then exactly 1). ``guide[g]`` is the smallest ``l`` with ``cdf[l] > g / G`` (``size`` when
    none), so the kernel's search from ``guide[int(u G)]`` finds the smallest ``l`` with
    ``cdf[l] > u`` in about one step. Cached per distribution: kernels only read the arrays.
    """
    key = (q_log, c, top)
    table = _GEOMETRIC_TABLES.get(key)
    if table is None:
        size = min(top, 4096, max(1, math.ceil(-14.0 / q_log)))
        # math, not numpy: numpy's SIMD expm1 may differ from libm in the last bit
        cdf = np.array([-math.expm1(n * q_log) / c for n in range(1, size + 1)], dtype=np.float64)
        if size == top:
            cdf[-1] = 1.0
        n_guide = 64
        while n_guide < 4 * size and n_guide < 4096:
            n_guide *= 2
        bounds = np.arange(n_guide, dtype=np.float64) / n_guide
        # first l with cdf[l] > g / G (a running maximum keeps that exact were cdf not monotone)
        guide = np.searchsorted(np.maximum.accumulate(cdf), bounds, side="right")
        if len(_GEOMETRIC_TABLES) > 64:
            _GEOMETRIC_TABLES.clear()
        table = _GEOMETRIC_TABLES[key] = (guide.astype(np.int64), cdf)
    return table


@register
@dataclasses.dataclass(frozen=True)
class Span(Rule):
    """Contiguous runs of sites until ``rate`` of each row is masked (``maskkit.span_mask``).

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
    _checks: ClassVar[dict[str, str]] = {"rate": "rate"}
    _fuse: ClassVar[bool] = False  # spans are drawn per haplotype; the union is taken after
    if TYPE_CHECKING:  # the kernel's length distribution, set by _check_options
        _dist: tuple[int, float, float, int, np.ndarray, np.ndarray]
    rate: float = 0.15
    _: dataclasses.KW_ONLY
    mean_span: float | None = None
    max_span: int | None = None
    span_lengths: tuple[tuple[Any, ...], tuple[float, ...]] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "rate", v.rate_scalar(self.rate, "rate"))
        self._check_options()
        sl = self.span_lengths
        if sl is not None:
            sl = (_tuple(np.asarray(sl[0])), _tuple(np.asarray(sl[1], dtype=np.float64)))
        ms = self.mean_span
        if isinstance(ms, numbers.Real) and not isinstance(ms, (bool, np.bool_)):
            object.__setattr__(self, "mean_span", float(ms))
        if self.max_span is not None:
            object.__setattr__(self, "max_span", int(self.max_span))
        object.__setattr__(self, "span_lengths", sl)

    def _check_options(self) -> None:
        kind, q_log, c, top, vals, cdf = span_distribution(
            self.mean_span, self.max_span, self.span_lengths
        )
        if kind == 0:
            vals, cdf = _geometric_table(q_log, c, top)
        object.__setattr__(self, "_dist", (kind, q_log, c, top, vals, cdf))

    def _kernel(self, b: v.Batch, inputs: Mapping[str, Any]) -> np.ndarray:
        _, h2, ploidy, _, seed, epoch, lens, idx, result, o2, _, site, rates, exact, _, par = b
        r = rates["rate"]
        r = _site_rated(np.array([r]) if type(r) is float else r, b)
        if h2.size:
            kernel = _kernels.span_mask_parallel if par else _kernels.span_mask
            kind, q_log, c, top, vals, cdf = self._dist
            kernel(
                h2, ploidy, lens, idx, r, kind, q_log, c, top, vals, cdf, exact, seed, epoch,
                _PARALLEL_CHUNK if par else max(1, h2.shape[0]), o2,
            )  # fmt: skip
        if site is None:
            return result
        if h2.size:
            _kernels.union(result, site)
        else:
            site[...] = False
        return site

    def _haplotype_rates(self, h: np.ndarray, rates: dict[str, Any], inputs: Any) -> Any:
        raise NotImplementedError(
            "Span masks have no closed-form per-position probability (it depends on where a "
            "position sits in its row); estimate it from draws over several epochs"
        )


_EVERY: dict[tuple[int, int], np.ndarray] = {}
# int32 flags of a bool keep vector by its bytes, up to _KEEP_BYTES sites: the key (a copy and a
# hash) costs about half the int32 copy at 1,024 sites; at 16,384 the copy is ~1 % of a draw
_KEEP: dict[bytes, np.ndarray] = {}
_KEEP_BYTES = 16384


@register
@dataclasses.dataclass(frozen=True)
class Array(Rule):
    """Genotyping-array masking: sites on the array kept visible, the others masked.

    [maskkit.array_mask][maskkit.masks.array_mask]: sites off the array at ``rate``, sites on it at
    ``kept_rate``. ``keep`` is a bool site vector (or samples x sites) or a list of site positions;
    or keep ``every`` n-th site.

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
    _checks: ClassVar[dict[str, str]] = {"rate": "rate", "kept_rate": "rate"}
    if TYPE_CHECKING:  # keep as an array (None with every), set by _check_options
        _keep: np.ndarray | None
    keep: tuple[Any, ...] | None = None
    _: dataclasses.KW_ONLY
    every: int | None = None
    rate: float = 1.0
    kept_rate: float = 0.0

    def __post_init__(self) -> None:
        self._check_options()
        if self._keep is not None:
            object.__setattr__(self, "keep", _tuple(self._keep))
        object.__setattr__(self, "rate", v.rate_scalar(self.rate, "rate"))
        object.__setattr__(self, "kept_rate", v.rate_scalar(self.kept_rate, "kept_rate"))

    def _check_options(self) -> None:
        keep, every = self.keep, self.every
        bool_sites = type(keep) is np.ndarray and keep.dtype.char == "?" and keep.ndim in (1, 2)
        if bool_sites and every is None:  # the usual call: the checks below, without numpy calls
            object.__setattr__(self, "_keep", keep)
            return
        if (keep is None) == (every is None):
            raise ValueError(
                "give exactly one of keep (a bool site vector or a list of site positions) and "
                f"every (keep every n-th site), got keep={'None' if keep is None else '...'} "
                f"and every={every!r}"
            )
        arr = None
        if every is not None:
            object.__setattr__(self, "every", v.int_scalar(every, "every", 1, 2**62))
        else:
            arr = np.asarray(keep)
            if arr.dtype == np.bool_:
                ok = arr.ndim in (1, 2)
            else:
                ok = arr.ndim == 1 and (
                    arr.size == 0 or (np.issubdtype(arr.dtype, np.integer) and arr.min() >= 0)
                )
            if not ok:
                raise TypeError(
                    "keep must be a bool site vector (or samples x sites) or a 1-D list of "
                    f"site positions >= 0, got dtype {arr.dtype} and shape {arr.shape}"
                )
        object.__setattr__(self, "_keep", arr)

    def _flags(self, n: int, sites: int) -> np.ndarray:
        """Int32 keep flags, shape (1 or n, sites): 1 = on the array (kept visible)."""
        arr = self._keep
        if arr is None:
            step = int(self.every or 1)  # every is set whenever keep is not
            flags = _EVERY.get((step, sites))
            if flags is None:  # shared (kernels only read it): building it costs microseconds
                if len(_EVERY) > 64:
                    _EVERY.clear()
                flags = (np.arange(sites) % step == 0).astype(np.int32).reshape(1, sites)
                _EVERY[step, sites] = flags
            return flags
        if arr.dtype.char == "?":  # bool
            if arr.shape == (sites,):
                if sites > _KEEP_BYTES:
                    return arr.astype(np.int32).reshape(1, sites)
                key = arr.tobytes()
                flags = _KEEP.get(key)
                if flags is None:  # shared (kernels only read it)
                    if len(_KEEP) > 64:
                        _KEEP.clear()
                    flags = _KEEP[key] = arr.astype(np.int32).reshape(1, sites)
                return flags
            if arr.shape == (n, sites):
                return np.ascontiguousarray(arr.astype(np.int32))
            raise ValueError(
                f"keep as a bool array must have shape ({sites},) or ({n}, {sites}), "
                f"got {arr.shape}"
            )
        flags = np.zeros((1, sites), dtype=np.int32)
        if arr.size == 0:
            return flags
        if arr.max() >= sites:
            raise ValueError(
                f"keep positions must be in [0, {sites}) (sites of haps), "
                f"got min {arr.min()} and max {arr.max()}"
            )
        flags[0, arr] = 1
        return flags

    def _kernel(self, b: v.Batch, inputs: Mapping[str, Any]) -> np.ndarray:
        # group 0: off the array, group 1: on it (the groups of _groups, without its call)
        shape, rates = b.shape, b.rates
        flags = self._flags(shape[0], shape[-1])
        return _group_draw(b, flags, False, _rate_table(b, (rates["rate"], rates["kept_rate"])))

    def _haplotype_rates(self, h: np.ndarray, rates: dict[str, Any], inputs: Any) -> Any:
        flags = self._flags(h.shape[0], h.shape[-1]).astype(bool)
        on = flags[:, None, :] if h.ndim == 3 and flags.shape[0] > 1 else flags
        if on.shape[0] == 1:
            on = on[0]
        return np.where(on, _col(rates["kept_rate"], h), _col(rates["rate"], h))


@register
@dataclasses.dataclass(frozen=True)
class PerPosition(Rule):
    """Mask each site at its own rate: ``min(1, scale * rates[site])`` (a user-rule template).

    Drawn by [Rule.site_rates][maskkit.rules.Rule.site_rates] with sites grouped by equal rate,
    so exact mode gives exact counts per group of equal rate. The curriculum drives ``scale``.
    Written the way a rule of your own is written (see ``docs/rules.md``).

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


def __getattr__(name: str) -> Any:
    if name == "ClassRates":
        warnings.warn(
            "maskkit.rules.ClassRates is deprecated and will be removed in the next release; "
            "it is maskkit.rules.SmartBalanced, use that name",
            DeprecationWarning,
            stacklevel=2,
        )
        return SmartBalanced
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
