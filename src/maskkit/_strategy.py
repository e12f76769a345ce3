"""Strategy strings: the shorthand ``Masker("smart_balanced", rate=..., options={...})``.

A strategy string names a rule kind ([maskkit.rules.rule_class][]); its ``options`` are the rule's
parameters other than the rates a Masker drives with schedules
(``scheduled``). ``rule_of`` turns a string and
its options into the rule object, ``options`` gives them back from the
object, so a Masker's configuration keeps the shorthand; ``schedules``
turns the ``rate`` / ``alt_rate`` arguments into the schedules of those rates.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ._config import plain
from .curriculum import Schedule, as_schedule
from .rules import Rule, rule_class

#: Strategy strings of the built-in rules (any registered rule kind is accepted too).
STRATEGIES: tuple[str, ...] = ("random", "smart_balanced", "af_aware", "span", "array")


def scheduled(cls: type[Rule]) -> tuple[str, ...]:
    """Rule fields a Masker drives with schedules: the driven rate, and ``alt_rate`` if any.

    Examples
    --------
    >>> from maskkit import rules
    >>> scheduled(rules.SmartBalanced), scheduled(rules.Array)
    (('ref_rate', 'alt_rate'), ('rate',))
    """
    alt = ("alt_rate",) if "alt_rate" in cls.rate_fields[1:] else ()
    return (cls.rate_fields[0], *alt)


def options(rule: Rule) -> dict[str, Any]:
    """Return the rule's parameters other than scheduled rates, where not at their defaults.

    Examples
    --------
    >>> from maskkit import rules
    >>> options(rules.Span(0.2, mean_span=4))
    {'mean_span': 4.0}
    """
    skip = scheduled(type(rule))
    out: dict[str, Any] = {}
    for f in dataclasses.fields(rule):
        if f.name in skip:
            continue
        value = getattr(rule, f.name)
        if f.default is dataclasses.MISSING or value != f.default:
            out[f.name] = plain(value)
    return out


def rule_of(strategy: Any, options: Any) -> Rule:
    """Return the rule object of a strategy string and its options (a rule object as given).

    Examples
    --------
    >>> rule_of("span", {"mean_span": 4})
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
    allowed = [name for name in fields if name not in scheduled(cls)]
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


def schedules(
    strategy: Any, rule: Rule, rate: Any, alt_rate: Any
) -> tuple[Schedule, Schedule | None]:
    """Return the schedules of the driven rate and of ``alt_rate`` (None for rules without one).

    ``rate=None`` takes the rule object's own value (a strategy string needs ``rate``);
    ``alt_rate=None`` takes the rule's ``alt_rate``.

    Examples
    --------
    >>> from maskkit import rules
    >>> schedules("smart_balanced", rules.SmartBalanced(), 0.4, None)
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
    if "alt_rate" in scheduled(type(rule)):
        alt = getattr(rule, "alt_rate") if alt_rate is None else alt_rate  # noqa: B009
        return as_schedule(rate, name=name), as_schedule(alt, name="alt_rate")
    if alt_rate is not None:
        raise ValueError(
            f"alt_rate is for rules with an alt rate (strategy='smart_balanced'); "
            f"strategy={rule.kind!r} has one curriculum rate (got alt_rate={alt_rate!r}); "
            "drop alt_rate or switch strategy"
        )
    return as_schedule(rate, name=name), None
