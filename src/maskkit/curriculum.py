"""Curriculum schedules: how the masking rate moves over training.

A schedule maps ``(epoch, step)`` to a rate in [0, 1]. Every schedule is a small picklable object
with ``rate(epoch, step=None)``, a JSON-serializable ``state_dict()`` / ``load_state_dict()`` and a
readable ``repr``. Only [`Plateau`][maskkit.curriculum.Plateau] carries state that changes during
training (its level); the others are pure functions of their configuration.

[`Uniform`][maskkit.curriculum.Uniform] and [`Beta`][maskkit.curriculum.Beta] are per-sample rate
distributions: each sample draws its own rate, a pure function of ``(seed, epoch, sample index)``,
so any worker computes the same rate.

Examples
--------
>>> from maskkit.curriculum import Levels, Linear
>>> sched = Levels([0.30, 0.40, 0.50, 0.60, 0.70, 0.80], epochs_per_level=2)
>>> [sched.rate(e) for e in range(0, 14, 2)]
[0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.8]
>>> round(Linear(0.30, 0.15, epochs=10).rate(5), 3)
0.225
"""

from __future__ import annotations

import itertools
import json
import math
import numbers
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from . import _kernels
from . import _validate as v
from ._config import plain

__all__ = [
    "DEFAULT_LEVELS",
    "Beta",
    "Constant",
    "Cosine",
    "Distribution",
    "Levels",
    "Linear",
    "Plateau",
    "Schedule",
    "Uniform",
    "as_schedule",
    "from_state_dict",
    "metric_mode",
]

#: The levels the original RAG-BERT trainer settled on (starting at 0.10 let the model "cheat").
DEFAULT_LEVELS: tuple[float, ...] = (0.30, 0.40, 0.50, 0.60, 0.70, 0.80)

_MAX_EPOCH = 2**63 - 1


def _count(value: Any, name: str, low: int = 0) -> int:
    """Return an epoch, step, count or level: an int in ``[low, 2**63 - 1]``."""
    return v.int_scalar(value, name, low=low, high=_MAX_EPOCH)


def _rate_arg(value: Any, name: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name} must be a number in [0, 1] (a fraction such as 0.3), got {value!r}"
        )
    r = float(value)
    if math.isnan(r) or not 0.0 <= r <= 1.0:
        hint = ""
        if 1.0 < r <= 100.0 and r.is_integer():  # looks like a percentage: 30 for 0.3
            hint = f"; rates are fractions: pass {r / 100:g} for {r:g}%"
        raise ValueError(f"{name} must be in [0, 1], got {r!r}{hint}")
    return r


def _levels_arg(levels: Any, name: str = "levels") -> tuple[float, ...]:
    if isinstance(levels, (str, bytes)) or not isinstance(levels, (Sequence, np.ndarray)):
        raise TypeError(
            f"{name} must be a list of rates in [0, 1], e.g. [0.3, 0.4, 0.5], got {levels!r}"
        )
    if len(levels) == 0:
        raise ValueError(
            f"{name} must hold at least one rate, got an empty list; "
            f"pass e.g. {list(DEFAULT_LEVELS)} (the default)"
        )
    return tuple(_rate_arg(x, f"{name}[{i}]") for i, x in enumerate(levels))


def _real_arg(value: Any, name: str, what: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be {what}, got {value!r}")
    return float(value)


def _fmt(x: float) -> str:
    return repr(round(float(x), 10))


class Schedule(ABC):
    """Base class of all schedules: ``(epoch, step) -> rate``.

    Subclasses define [`rate`][maskkit.curriculum.Schedule.rate] and
    [`config`][maskkit.curriculum.Schedule.config]; stateful ones also override `_state` and
    `_load_state` (which checks the whole state before it assigns anything, so a bad state leaves
    the schedule unchanged).

    Examples
    --------
    >>> from maskkit.curriculum import Constant, Schedule
    >>> isinstance(Constant(0.15), Schedule)
    True
    """

    #: True for per-sample rate distributions (:class:`Distribution`).
    per_sample: ClassVar[bool] = False

    @abstractmethod
    def rate(self, epoch: int, step: int | None = None) -> float:
        """Return the rate at ``epoch`` (and global ``step``, for step-based schedules)."""

    @abstractmethod
    def config(self) -> dict[str, Any]:
        """Return the JSON-serializable constructor arguments (no training state)."""

    def level(self, epoch: int, step: int | None = None) -> int | None:
        """Return the current level index for level-based schedules, else ``None``."""
        return None

    @property
    def levels(self) -> tuple[float, ...] | None:
        """The rate levels of level-based schedules, else ``None``."""
        return None

    @property
    def is_constant(self) -> bool:
        """True when the rate never changes."""
        return False

    def _state(self) -> dict[str, Any]:
        return {}

    def _load_state(self, state: dict[str, Any]) -> None:
        if state:
            raise ValueError(f"{type(self).__name__} has no training state, got {state!r}")

    def state_dict(self) -> dict[str, Any]:
        """Return ``{"type", "config", "state"}``; plain JSON types only.

        Examples
        --------
        >>> import json
        >>> from maskkit.curriculum import Levels
        >>> json.dumps(Levels([0.3, 0.5]).state_dict(), sort_keys=True)
        '{"config": {"epochs_per_level": 1, "levels": [0.3, 0.5]}, "state": {}, "type": "Levels"}'
        """
        return {"type": type(self).__name__, "config": self.config(), "state": self._state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore training state saved by `state_dict` of an identically built schedule.

        Raises ``ValueError`` when the saved type or configuration differs; use
        [`from_state_dict`][maskkit.curriculum.from_state_dict] to rebuild a schedule from its state
        instead.
        """
        if not isinstance(state, dict) or not {"type", "config", "state"} <= state.keys():
            raise TypeError(
                "state must be a dict from Schedule.state_dict() with keys "
                f"'type', 'config' and 'state', got {state!r}"
            )
        mine = self.state_dict()
        if state["type"] != mine["type"] or plain(state["config"]) != plain(mine["config"]):
            raise ValueError(
                f"state was saved by {state['type']}({state['config']}) but this schedule is "
                f"{mine['type']}({mine['config']}); build the schedule with the saved "
                "configuration, or use maskkit.curriculum.from_state_dict(state)"
            )
        if not isinstance(state["state"], dict):
            raise TypeError(f"state['state'] must be a dict, got {state['state']!r}")
        self._load_state(dict(state["state"]))  # checks every field before it assigns one

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Schedule):
            return NotImplemented
        return plain(self.state_dict()) == plain(other.state_dict())

    def __hash__(self) -> int:
        # configuration only: a Plateau's hash must not change as its level moves
        return hash((type(self).__name__, json.dumps(plain(self.config()), sort_keys=True)))


class Constant(Schedule):
    """A rate that never changes.

    Parameters
    ----------
    p : float
        The rate, in [0, 1].

    Examples
    --------
    >>> from maskkit.curriculum import Constant
    >>> Constant(0.15).rate(99)
    0.15
    """

    def __init__(self, p: float) -> None:
        self.p = _rate_arg(p, "p")

    def rate(self, epoch: int, step: int | None = None) -> float:
        """Return ``p`` whatever the epoch."""
        _count(epoch, "epoch")
        return self.p

    def config(self) -> dict[str, Any]:
        """Return ``{"p": p}``."""
        return {"p": self.p}

    @property
    def is_constant(self) -> bool:
        """Always True."""
        return True

    def __repr__(self) -> str:
        return f"Constant({_fmt(self.p)})"


class _Leveled(Schedule):
    """A schedule that moves through a list of rate levels."""

    _levels: tuple[float, ...]

    @property
    def levels(self) -> tuple[float, ...]:
        """The rate levels."""
        return self._levels

    @property
    def is_constant(self) -> bool:
        """True when every level holds the same rate."""
        return len(set(self._levels)) == 1


class Levels(_Leveled):
    """Step schedule over a list of rate levels; stays at the last level.

    Parameters
    ----------
    levels : sequence of float, default DEFAULT_LEVELS
        Rates in [0, 1], in the order they are used (``[0.30, ..., 0.80]`` by default).
    epochs_per_level : int, optional
        Advance one level every this many epochs (default 1). Not with ``boundaries``.
    boundaries : sequence of int, optional
        Explicit, strictly increasing epochs at which levels 1, 2, ... start
        (``len(levels) - 1`` values).

    Examples
    --------
    >>> from maskkit.curriculum import Levels
    >>> s = Levels([0.3, 0.5, 0.8], boundaries=[2, 5])
    >>> [s.rate(e) for e in range(7)]
    [0.3, 0.3, 0.5, 0.5, 0.5, 0.8, 0.8]
    >>> s.level(6)
    2
    """

    def __init__(
        self,
        levels: Sequence[float] = DEFAULT_LEVELS,
        epochs_per_level: int | None = None,
        *,
        boundaries: Sequence[int] | None = None,
    ) -> None:
        self._levels = _levels_arg(levels)
        self.boundaries: tuple[int, ...] | None
        if boundaries is not None:
            if epochs_per_level is not None:
                raise ValueError(
                    "pass either epochs_per_level or boundaries, not both "
                    f"(got epochs_per_level={epochs_per_level!r}, boundaries={boundaries!r})"
                )
            b = tuple(_count(x, f"boundaries[{i}]", 1) for i, x in enumerate(boundaries))
            if len(b) != len(self._levels) - 1:
                raise ValueError(
                    f"boundaries must hold len(levels) - 1 = {len(self._levels) - 1} epochs "
                    f"(where levels 1.. start), got {len(b)}"
                )
            if any(x >= y for x, y in itertools.pairwise(b)):
                raise ValueError(f"boundaries must be strictly increasing, got {list(b)}")
            self.boundaries = b
            self.epochs_per_level = None
        else:
            epl = 1 if epochs_per_level is None else epochs_per_level
            self.epochs_per_level = _count(epl, "epochs_per_level", 1)
            self.boundaries = None

    def level(self, epoch: int, step: int | None = None) -> int:
        """Return the level index in use at ``epoch``."""
        e = _count(epoch, "epoch")
        if self.boundaries is not None:
            return sum(e >= b for b in self.boundaries)
        assert self.epochs_per_level is not None
        return min(e // self.epochs_per_level, len(self._levels) - 1)

    def rate(self, epoch: int, step: int | None = None) -> float:
        """Return the rate of the level in use at ``epoch``."""
        return self._levels[self.level(epoch)]

    def config(self) -> dict[str, Any]:
        """Return the constructor arguments."""
        cfg: dict[str, Any] = {"levels": list(self._levels)}
        if self.boundaries is not None:
            cfg["boundaries"] = list(self.boundaries)
        else:
            cfg["epochs_per_level"] = self.epochs_per_level
        return cfg

    def __repr__(self) -> str:
        lv = "[" + ", ".join(_fmt(x) for x in self._levels) + "]"
        if self.boundaries is not None:
            return f"Levels({lv}, boundaries={list(self.boundaries)})"
        return f"Levels({lv}, epochs_per_level={self.epochs_per_level})"


class _Ramp(Schedule):
    """Shared code of `Linear` and `Cosine`."""

    def __init__(
        self,
        start: float,
        end: float,
        epochs: int | None = None,
        *,
        steps: int | None = None,
        begin: int = 0,
    ) -> None:
        self.start = _rate_arg(start, "start")
        self.end = _rate_arg(end, "end")
        if (epochs is None) == (steps is None):
            raise ValueError(
                f"{type(self).__name__} needs exactly one of epochs= or steps= (the ramp "
                f"length), got epochs={epochs!r}, steps={steps!r}"
            )
        self.epochs = None if epochs is None else _count(epochs, "epochs", 1)
        self.steps = None if steps is None else _count(steps, "steps", 1)
        self.begin = _count(begin, "begin")

    @property
    def unit(self) -> str:
        """``"epoch"`` or ``"step"``: what the ramp counts."""
        return "epoch" if self.epochs is not None else "step"

    @property
    def is_constant(self) -> bool:
        """True when ``start == end``."""
        return self.start == self.end

    def _shape(self, f: float) -> float:
        raise NotImplementedError

    def fraction(self, epoch: int, step: int | None = None) -> float:
        """Return how far along the ramp training is, in [0, 1]."""
        if self.epochs is not None:
            t, n = _count(epoch, "epoch"), self.epochs
        elif step is None:
            raise ValueError(
                f"{self!r} counts optimizer steps: pass step= (the global step) to rate(), "
                "or build the ramp with epochs= instead"
            )
        else:
            t, n = _count(step, "step"), int(self.steps or 1)
        return min(max(t - self.begin, 0) / n, 1.0)

    def rate(self, epoch: int, step: int | None = None) -> float:
        """Return the rate at ``epoch`` (epoch ramps) or ``step`` (step ramps)."""
        f = self.fraction(epoch, step)
        if f >= 1.0:
            return self.end
        r = self.start + (self.end - self.start) * self._shape(f)
        return min(max(r, min(self.start, self.end)), max(self.start, self.end))

    def config(self) -> dict[str, Any]:
        """Return the constructor arguments."""
        cfg: dict[str, Any] = {"start": self.start, "end": self.end}
        if self.epochs is not None:
            cfg["epochs"] = self.epochs
        else:
            cfg["steps"] = self.steps
        if self.begin:
            cfg["begin"] = self.begin
        return cfg

    def __repr__(self) -> str:
        length = f"epochs={self.epochs}" if self.epochs is not None else f"steps={self.steps}"
        begin = f", begin={self.begin}" if self.begin else ""
        return f"{type(self).__name__}({_fmt(self.start)}, {_fmt(self.end)}, {length}{begin})"


class Linear(_Ramp):
    """Linear ramp from ``start`` to ``end`` (either direction), then constant at ``end``.

    Parameters
    ----------
    start : float
        Rate at the first epoch, in [0, 1].
    end : float
        Rate at the end of the ramp, in [0, 1]; ``end < start`` gives a decreasing schedule
        (e.g. 0.30 -> 0.15, the published winner for text BERT), ``end > start`` an increasing
        one.
    epochs : int, optional
        Ramp length in epochs. Exactly one of ``epochs`` / ``steps``.
    steps : int, optional
        Ramp length in optimizer steps; ``rate`` then needs ``step=``.
    begin : int, default 0
        Epoch (or step) at which the ramp starts; the rate is ``start`` before it.

    Examples
    --------
    >>> from maskkit.curriculum import Linear
    >>> s = Linear(0.30, 0.15, epochs=3)
    >>> [round(s.rate(e), 2) for e in range(5)]
    [0.3, 0.25, 0.2, 0.15, 0.15]
    >>> round(Linear(0.1, 0.5, steps=100).rate(0, step=50), 6)
    0.3
    """

    def _shape(self, f: float) -> float:
        return f


class Cosine(_Ramp):
    """Half-cosine ramp from ``start`` to ``end``: flat at both ends, steepest in the middle.

    Parameters are those of [`Linear`][maskkit.curriculum.Linear].

    Examples
    --------
    >>> from maskkit.curriculum import Cosine
    >>> s = Cosine(0.3, 0.8, epochs=4)
    >>> [round(s.rate(e), 3) for e in range(6)]
    [0.3, 0.373, 0.55, 0.727, 0.8, 0.8]
    """

    def _shape(self, f: float) -> float:
        return 0.5 * (1.0 - math.cos(math.pi * f))


_SMALLER_IS_BETTER = {"mse", "mae", "rmse", "nll", "perplexity", "ppl", "error", "err", "wer"}
_LARGER_IS_BETTER = {"auc", "auroc", "auprc", "r2", "precision", "recall", "concordance"}


def metric_mode(metric: str) -> str | None:
    """Return ``"min"`` or ``"max"`` when a metric's name says which way is better, else None.

    Names are split into words at every non-alphanumeric character: a word holding ``loss``
    (or ``mse``, ``perplexity``, ``error``, ...) means smaller is better; one holding ``f1`` or
    starting with ``acc`` (or ``auc``, ``r2``, ``precision``, ...) means larger is better. A name
    with words of both kinds, or of neither, is ambiguous (None).

    Examples
    --------
    >>> metric_mode("eval_loss"), metric_mode("eval_f1_rare"), metric_mode("val/accuracy")
    ('min', 'max', 'max')
    >>> metric_mode("eval_score") is None
    True
    """
    if not isinstance(metric, str):
        raise TypeError(f"metric must be a metric name (str), got {type(metric).__name__}")
    words = [w for w in re.split(r"[^a-z0-9]+", metric.lower()) if w]
    smaller = any("loss" in w or w in _SMALLER_IS_BETTER for w in words)
    larger = any("f1" in w or w.startswith("acc") or w in _LARGER_IS_BETTER for w in words)
    if smaller == larger:
        return None
    return "min" if smaller else "max"


class Plateau(_Leveled):
    """Dynamic curriculum: advance one level when a validation metric stops improving.

    Call [`update`][maskkit.curriculum.Plateau.update] with the metric after each evaluation. A
    value *improves* when it beats the best value since the last advance by more than ``min_delta``
    (``mode="max"``: larger is better, e.g. F1; ``mode="min"``: smaller is better, e.g. loss). After
    ``patience`` consecutive evaluations without improvement the schedule moves to the next level
    (and stays at the last). After an advance, ``cooldown`` evaluations are ignored and the best
    value restarts, since the task just got harder.

    The level is training state: it is saved by
    [`state_dict`][maskkit.curriculum.Plateau.state_dict] and restored by
    [`load_state_dict`][maskkit.curriculum.Plateau.load_state_dict]; workers that only need the rate
    can receive it via [`set_level`][maskkit.curriculum.Plateau.set_level].

    Parameters
    ----------
    levels : sequence of float, default DEFAULT_LEVELS
        Rates in [0, 1].
    patience : int, default 3
        Non-improving evaluations before advancing (``0`` advances at the first one), >= 0.
    min_delta : float, default 0.0
        Minimum change that counts as an improvement, >= 0.
    mode : str, optional
        ``"max"`` or ``"min"``: which way the metric improves. There is no default direction:
        leave it out only when the schedule is driven by a named metric
        ([`use_metric`][maskkit.curriculum.Plateau.use_metric], which
        ``maskkit.hf.CurriculumCallback(metric=...)`` calls), whose name says it (``*loss*`` ->
        ``"min"``, ``*f1*`` / ``*acc*`` -> ``"max"``, see
        [`metric_mode`][maskkit.curriculum.metric_mode]);
        [`update`][maskkit.curriculum.Plateau.update] refuses to guess.
    cooldown : int, default 0
        Evaluations to ignore after each advance, >= 0.

    Examples
    --------
    >>> from maskkit.curriculum import Plateau
    >>> s = Plateau([0.3, 0.4, 0.5], patience=2, min_delta=0.01, mode="max")
    >>> [s.update(f1) for f1 in [0.50, 0.60, 0.605, 0.603]]
    [False, False, False, True]
    >>> s.level(), s.rate(epoch=4)
    (1, 0.4)
    """

    def __init__(
        self,
        levels: Sequence[float] = DEFAULT_LEVELS,
        *,
        patience: int = 3,
        min_delta: float = 0.0,
        mode: str | None = None,
        cooldown: int = 0,
    ) -> None:
        self._levels = _levels_arg(levels)
        self.patience = _count(patience, "patience")
        self.cooldown = _count(cooldown, "cooldown")
        delta = _real_arg(min_delta, "min_delta", "a non-negative number")
        if not (math.isfinite(delta) and delta >= 0.0):
            raise ValueError(
                f"min_delta must be a finite number >= 0 (an absolute change of the metric), "
                f"got {min_delta!r}"
            )
        self.min_delta = delta
        if mode not in ("max", "min", None):
            raise ValueError(
                f"mode must be 'max' (larger metric is better, e.g. F1) or 'min' (smaller is "
                f"better, e.g. loss), got {mode!r}"
            )
        self.mode: str | None = mode
        self._level = 0
        self.best: float | None = None
        self.num_bad = 0
        self.cooldown_left = 0
        self.evaluations = 0

    def level(self, epoch: int | None = None, step: int | None = None) -> int:
        """Return the current level index (the epoch does not matter)."""
        return self._level

    def set_level(self, level: int) -> None:
        """Set the level directly (for workers receiving the main process's level)."""
        self._level = _count(level, "level")
        if self._level >= len(self._levels):
            raise ValueError(
                f"level must be in [0, {len(self._levels) - 1}] (one per rate in levels), "
                f"got {self._level}"
            )

    def rate(self, epoch: int, step: int | None = None) -> float:
        """Return the rate of the current level."""
        return self._levels[self._level]

    def use_metric(self, metric: str) -> str:
        """Check that ``mode`` fits the metric named ``metric`` (or take it from there); return it.

        Raises ``ValueError`` when the mode contradicts the name (``mode="max"`` driven by
        ``eval_loss`` would advance at every improvement) or when neither says the direction.

        Examples
        --------
        >>> p = Plateau([0.3, 0.5])
        >>> p.use_metric("eval_loss"), p.mode
        ('min', 'min')
        """
        said = metric_mode(metric)
        if self.mode is None:
            if said is None:
                raise ValueError(
                    f"the metric name {metric!r} does not say whether larger is better: pass "
                    "Plateau(..., mode='min') for a loss or error, mode='max' for F1 or accuracy"
                )
            self.mode = said
        elif said is not None and said != self.mode:
            better = "smaller" if said == "min" else "larger"
            raise ValueError(
                f"Plateau(mode={self.mode!r}) is driven by {metric!r}, for which {better} is "
                f"better: every improvement would count as a stall and advance the curriculum; "
                f"pass mode={said!r}"
            )
        return self.mode

    def _improved(self, metric: float) -> bool:
        if self.best is None:
            return True
        if self.mode == "max":
            return metric > self.best + self.min_delta
        return metric < self.best - self.min_delta

    def update(self, metric: float) -> bool:
        """Record one evaluation's metric; return True when the level advanced.

        Raises ``ValueError`` for NaN (a diverged run should not silently advance).
        """
        m = _real_arg(metric, "metric", "a real number (call .item() on a tensor)")
        if self.mode is None:
            raise ValueError(
                "Plateau has no mode, so it cannot tell an improvement from a stall: pass "
                "Plateau(..., mode='min') for a loss or error, mode='max' for F1 or accuracy "
                "(maskkit.hf.CurriculumCallback(metric=...) sets it from the metric's name)"
            )
        if math.isnan(m):
            raise ValueError(
                "metric is NaN; pass the validation metric of a finished evaluation "
                "(check the validation loop for a division by zero or a diverged loss)"
            )
        self.evaluations += 1
        if self.cooldown_left > 0:
            self.cooldown_left -= 1
            return False
        if self._improved(m):
            self.best = m
            self.num_bad = 0
            return False
        self.num_bad += 1
        if self.num_bad >= max(self.patience, 1) and self._level < len(self._levels) - 1:
            self._level += 1
            self.num_bad = 0
            self.best = None
            self.cooldown_left = self.cooldown
            return True
        return False

    def config(self) -> dict[str, Any]:
        """Return the constructor arguments."""
        return {
            "levels": list(self._levels),
            "patience": self.patience,
            "min_delta": self.min_delta,
            "mode": self.mode,
            "cooldown": self.cooldown,
        }

    def _state(self) -> dict[str, Any]:
        return {
            "level": self._level,
            "best": self.best,
            "num_bad": self.num_bad,
            "cooldown_left": self.cooldown_left,
            "evaluations": self.evaluations,
        }

    def _load_state(self, state: dict[str, Any]) -> None:
        # check every field first, then assign: a bad state changes nothing
        keys = ("level", "best", "num_bad", "cooldown_left", "evaluations")
        missing = [k for k in keys[:4] if k not in state]
        unknown = sorted(set(state) - set(keys))
        if missing or unknown:
            raise ValueError(
                f"Plateau state must have keys {list(keys[:4])} (and optionally 'evaluations')"
                + (f"; missing {missing}" if missing else "")
                + (f"; unknown {unknown}" if unknown else "")
                + f"; got {state!r}"
            )
        level = _count(state["level"], "state['level']")
        if level >= len(self._levels):
            raise ValueError(
                f"state['level'] must be in [0, {len(self._levels) - 1}] (one per rate in "
                f"levels), got {level}"
            )
        best = state["best"]
        if best is not None:
            best = _real_arg(best, "state['best']", "None or a real number")
            if math.isnan(best):
                raise ValueError(
                    "state['best'] is NaN, which update() never records; the state is damaged"
                )
        num_bad = _count(state["num_bad"], "state['num_bad']")
        cooldown_left = _count(state["cooldown_left"], "state['cooldown_left']")
        evaluations = _count(state.get("evaluations", 0), "state['evaluations']")
        self._level, self.best, self.num_bad = level, best, num_bad
        self.cooldown_left, self.evaluations = cooldown_left, evaluations

    def __repr__(self) -> str:
        lv = "[" + ", ".join(_fmt(x) for x in self._levels) + "]"
        return (
            f"Plateau({lv}, patience={self.patience}, min_delta={_fmt(self.min_delta)}, "
            f"mode={self.mode!r}, cooldown={self.cooldown}; level={self._level})"
        )


class Distribution(Schedule):
    """Base class of per-sample rate distributions.

    Each sample draws its own rate with
    [`sample_rates`][maskkit.curriculum.Distribution.sample_rates], a pure function of ``(seed,
    epoch, sample index, slot)``; [`rate`][maskkit.curriculum.Distribution.rate] returns the
    distribution's mean (for logs). ``slot`` separates independent draws for the same sample (the
    Masker uses 0 for the ref rate, 1 for the alt rate).

    Examples
    --------
    >>> from maskkit.curriculum import Distribution, Uniform
    >>> isinstance(Uniform(0.5, 0.99), Distribution)
    True
    """

    per_sample: ClassVar[bool] = True
    _kind: ClassVar[int] = -1

    def __init__(self, low: float, high: float) -> None:
        self.low = _rate_arg(low, "low")
        self.high = _rate_arg(high, "high")
        if self.low > self.high:
            raise ValueError(
                f"low must be <= high, got low={self.low}, high={self.high}; swap them"
            )

    def _params(self) -> tuple[float, float]:
        return 0.0, 0.0

    @abstractmethod
    def mean(self) -> float:
        """Return the expected rate."""

    def rate(self, epoch: int, step: int | None = None) -> float:
        """Return the mean rate (each sample's own rate comes from `sample_rates`)."""
        return self.mean()

    def sample_rates(self, indices: Any, *, seed: int, epoch: int = 0, slot: int = 0) -> np.ndarray:
        """Return one rate per global sample id in ``indices`` (float64, in [low, high]).

        The rate of a sample depends only on ``(seed, epoch, index, slot)``, never on the batch
        it appears in.
        """
        if indices is None:
            raise TypeError("indices must be the global sample ids (an int array), got None")
        idx = v.indices(indices, int(np.size(indices)))
        seed_ = np.uint64(v.int_scalar(seed, "seed"))
        epoch_ = _count(epoch, "epoch")
        slot_ = v.int_scalar(slot, "slot", high=2**20)
        out = np.empty(idx.shape[0], dtype=np.float64)
        if idx.shape[0]:
            p0, p1 = self._params()
            _kernels.sample_rates(seed_, epoch_, idx, slot_, self._kind, p0, p1, out)
        out *= self.high - self.low
        out += self.low
        np.clip(out, self.low, self.high, out=out)
        return out


class Uniform(Distribution):
    """Per-sample rates uniform in ``[low, high]`` (STICI draws uniform 0.5–0.99).

    Examples
    --------
    >>> from maskkit.curriculum import Uniform
    >>> r = Uniform(0.5, 0.99).sample_rates([0, 1, 2], seed=7, epoch=0)
    >>> bool(((r >= 0.5) & (r <= 0.99)).all())
    True
    """

    _kind: ClassVar[int] = 0

    def __init__(self, low: float = 0.5, high: float = 0.99) -> None:
        super().__init__(low, high)

    def mean(self) -> float:
        """Return ``(low + high) / 2``."""
        return 0.5 * (self.low + self.high)

    @property
    def is_constant(self) -> bool:
        """True when ``low == high``."""
        return self.low == self.high

    def config(self) -> dict[str, Any]:
        """Return the constructor arguments."""
        return {"low": self.low, "high": self.high}

    def __repr__(self) -> str:
        return f"Uniform({_fmt(self.low)}, {_fmt(self.high)})"


class Beta(Distribution):
    """Per-sample rates ``low + (high - low) * X`` with ``X ~ Beta(a, b)`` (as seqmask draws).

    Draws are exact: two Marsaglia–Tsang gamma variates from counter-based uniforms, combined in
    log space so that small shape parameters do not underflow.

    Parameters
    ----------
    a : float
        Shape parameters, > 0.
    b : float
        Shape parameters, > 0.
    low : float, default 0
        Lower end of the range the Beta variate is scaled to.
    high : float, default 1
        Upper end of that range.

    Examples
    --------
    >>> from maskkit.curriculum import Beta
    >>> s = Beta(2.0, 6.0)
    >>> s.mean()
    0.25
    >>> r = s.sample_rates(range(1000), seed=1, epoch=3)
    >>> bool(abs(r.mean() - 0.25) < 0.03)
    True
    """

    _kind: ClassVar[int] = 1

    def __init__(self, a: float, b: float, low: float = 0.0, high: float = 1.0) -> None:
        shapes = []
        for name, x in (("a", a), ("b", b)):
            f = _real_arg(x, name, "a positive number (Beta shape)")
            if not (math.isfinite(f) and 1e-3 <= f <= 1e6):
                raise ValueError(
                    f"{name} must be a finite Beta shape parameter in [1e-3, 1e6], got {x!r}"
                )
            shapes.append(f)
        self.a, self.b = shapes
        super().__init__(low, high)

    def _params(self) -> tuple[float, float]:
        return self.a, self.b

    def mean(self) -> float:
        """Return ``low + (high - low) * a / (a + b)``."""
        return self.low + (self.high - self.low) * self.a / (self.a + self.b)

    @property
    def is_constant(self) -> bool:
        """True when ``low == high``."""
        return self.low == self.high

    def config(self) -> dict[str, Any]:
        """Return the constructor arguments."""
        return {"a": self.a, "b": self.b, "low": self.low, "high": self.high}

    def __repr__(self) -> str:
        rng = (
            "" if (self.low, self.high) == (0.0, 1.0) else f", {_fmt(self.low)}, {_fmt(self.high)}"
        )
        return f"Beta({_fmt(self.a)}, {_fmt(self.b)}{rng})"


_TYPES: dict[str, type[Schedule]] = {
    c.__name__: c for c in (Constant, Levels, Linear, Cosine, Plateau, Uniform, Beta)
}


def from_state_dict(state: dict[str, Any]) -> Schedule:
    """Rebuild a schedule, configuration and training state, from `Schedule.state_dict`.

    Examples
    --------
    >>> import json
    >>> from maskkit.curriculum import Plateau, from_state_dict
    >>> s = Plateau([0.3, 0.5], patience=0, mode="max")
    >>> _ = s.update(1.0), s.update(0.5)
    >>> t = from_state_dict(json.loads(json.dumps(s.state_dict())))
    >>> t.level(), t == s
    (1, True)
    """
    if not isinstance(state, dict) or "type" not in state or "config" not in state:
        raise TypeError(
            f"state must be a dict from Schedule.state_dict() (keys 'type', 'config', 'state'), "
            f"got {state!r}"
        )
    cls = _TYPES.get(state["type"])
    if cls is None:
        raise ValueError(
            f"unknown schedule type {state['type']!r}; expected one of {sorted(_TYPES)}"
        )
    cfg = dict(state["config"])
    sched = cls(**cfg)
    if state.get("state"):  # absent or empty: a fresh schedule
        sched._load_state(dict(state["state"]))
    return sched


def as_schedule(value: Any, *, name: str = "rate") -> Schedule:
    """Return ``value`` if it is a `Schedule`, or ``Constant(value)`` for a number.

    Examples
    --------
    >>> from maskkit.curriculum import as_schedule
    >>> as_schedule(0.15)
    Constant(0.15)
    """
    if isinstance(value, Schedule):
        return value
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
        return Constant(_rate_arg(value, name))
    raise TypeError(
        f"{name} must be a number in [0, 1] or a maskkit.curriculum schedule "
        f"(Constant, Levels, Linear, Cosine, Plateau, Uniform, Beta), got {value!r}"
    )


def _bind_metric(schedules: Sequence[Schedule], metric: str | None, *, example: str) -> None:
    """Check a curriculum callback's ``metric`` against the Plateau schedules it will drive.

    The one check behind ``maskkit.hf.CurriculumCallback`` and
    ``maskkit.lightning.CurriculumCallback``: a metric needs a Plateau to drive, a Plateau
    needs a metric (it never moves otherwise), and each Plateau takes or checks its ``mode``
    from the metric's name. ``example`` is the metric name the error suggests.
    """
    if metric is not None and not isinstance(metric, str):
        raise TypeError(f"metric must be the name of a logged metric, got {metric!r}")
    plateaus = list({id(s): s for s in schedules if isinstance(s, Plateau)}.values())
    if metric is not None and not plateaus:
        raise ValueError(
            f"metric={metric!r} drives Plateau schedules, but the Masker has none; "
            "drop metric or use rate=Plateau(...)"
        )
    if plateaus and metric is None:
        raise ValueError(
            "the Masker's Plateau schedule moves only when a validation metric is fed to it, "
            f"and none is: pass metric={example!r} (or the metric that should drive it) and "
            "evaluate during training"
        )
    for plateau in plateaus:
        plateau.use_metric(metric)  # type: ignore[arg-type]
