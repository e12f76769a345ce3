"""Hugging Face ``transformers``: a data collator for ``Trainer`` and a curriculum callback.

``transformers`` is imported only when this module is; without it, importing raises
ImportError with the install hint (``pip install "maskkit[hf]"``).

[`HaplotypeDataCollator`][maskkit.hf.HaplotypeDataCollator] turns dataset items (dicts with an
allele array and a stable sample id) into what a masked-LM head takes: ``input_ids``,
``attention_mask`` and ``labels`` as **token ids** of the model's vocabulary (``-100`` where nothing
is predicted), ploidy flattened to rows by default.
[`CurriculumCallback`][maskkit.hf.CurriculumCallback] sets the Masker's epoch from Trainer's, its
step, and feeds an eval metric to Plateau schedules; the collator's shared Masker carries all of it
to persistent DataLoader workers. It also gives the Trainer's evaluation and ``predict`` frozen
masks ([`freeze_eval_masks`][maskkit.hf.freeze_eval_masks]), the same at every evaluation.

Examples
--------
>>> import maskkit as mk
>>> from maskkit.curriculum import Levels
>>> from maskkit.hf import CurriculumCallback, HaplotypeDataCollator
>>> masker = mk.Masker("random", rate=Levels([0.15, 0.3], epochs_per_level=1), seed=0)
>>> collator = HaplotypeDataCollator(masker)
>>> callback = CurriculumCallback(masker)
>>> collator.vocab_size
5
"""

from __future__ import annotations

import functools
import logging
import math
import sys
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

try:
    import transformers
except ImportError as _exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        "maskkit.hf needs Hugging Face transformers, which is not installed; install it with: "
        'pip install "maskkit[hf]"'
    ) from _exc

import numpy as np
import torch

from . import tokens
from ._narrow import narrow_int
from .curriculum import _bind_metric
from .masker import Masker
from .torch import Batch, MaskingCollator

__all__ = ["CurriculumCallback", "HaplotypeDataCollator", "freeze_eval_masks"]

_LOG = logging.getLogger("maskkit")

_STRIPPED = (
    ". Trainer drops dataset columns that the model's forward() does not take (its default "
    "remove_unused_columns=True), which removes the alleles and ids before the collator sees "
    "them: pass TrainingArguments(..., remove_unused_columns=False)"
)


@dataclass(kw_only=True)
class HaplotypeDataCollator(MaskingCollator):
    """A ``transformers.Trainer`` data collator: masked haplotypes as model-vocabulary tokens.

    Takes every option of [`maskkit.torch.MaskingCollator`][] (``masker``, ``haps_key``,
    ``index_key``, ``pad_to``, ...; ``replace`` defaults to BERT's ``(0.8, 0.1, 0.1)``)
    plus the ones below. Token ids default to maskkit's vocabulary ([`maskkit.tokens`][];
    build the model with ``vocab_size=collator.vocab_size``).

    Parameters
    ----------
    flatten_ploidy : bool, default True
        Return ``(batch * ploidy, width)`` rows (each haplotype a sequence) or keep
        ``(batch, ploidy, width)``.
    pad_token_id : int
        The model's id for padding.
    mask_token_id : int
        The model's id of the mask token.
    missing_token_id : int
        The model's id of a missing call.
    allele_token_ids : sequence of int, optional
        The model's id of allele ``0, 1, ...`` (``n_alleles`` ids; default ``3, 4, ...``).
    return_keys : sequence of str
        Keys returned besides ``input_ids``, ``attention_mask`` and ``labels`` (the only ones
        a ``BertForMaskedLM`` takes), e.g. ``("mask", "index")``. Per-item keys repeat for
        each row when ploidy is flattened.

    Examples
    --------
    >>> import numpy as np, maskkit as mk
    >>> from maskkit.hf import HaplotypeDataCollator
    >>> collate = HaplotypeDataCollator(mk.Masker("random", rate=1.0, seed=0), replace=None)
    >>> b = collate([{"haps": np.array([[0, 1], [1, -1]]), "index": 7}])
    >>> b["input_ids"].tolist(), b["labels"].tolist()
    ([[1, 1], [1, 2]], [[3, 4], [4, -100]])
    """

    replace: tuple[float, float, float] | None = (0.8, 0.1, 0.1)
    flatten_ploidy: bool = True
    pad_token_id: int = tokens.PAD
    mask_token_id: int = tokens.MASK
    missing_token_id: int = tokens.MISSING
    allele_token_ids: Sequence[int] | None = None
    return_keys: Sequence[str] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        super().__post_init__()
        fix = "token ids are integers of the model's vocabulary, >= 0"
        alleles = (
            [tokens.allele_token(a) for a in range(self.n_alleles)]
            if self.allele_token_ids is None
            else [
                narrow_int(t, np.int64, f"allele_token_ids[{i}]", fix=fix)
                for i, t in enumerate(self.allele_token_ids)
            ]
        )
        self.pad_token_id, self.mask_token_id, self.missing_token_id = (
            narrow_int(getattr(self, name), np.int64, name, fix=fix)
            for name in ("pad_token_id", "mask_token_id", "missing_token_id")
        )
        if len(alleles) != self.n_alleles:
            raise ValueError(
                f"allele_token_ids must hold n_alleles={self.n_alleles} ids, got {len(alleles)}"
            )
        lut = [self.pad_token_id, self.mask_token_id, self.missing_token_id, *alleles]
        if min(lut) < 0 or len(set(lut)) != len(lut):
            raise ValueError(
                f"token ids must be distinct and >= 0: pad {self.pad_token_id}, mask "
                f"{self.mask_token_id}, missing {self.missing_token_id}, alleles {alleles}"
            )
        self._lut = torch.tensor(lut, dtype=torch.int64)
        self._allele_lut = torch.tensor(alleles, dtype=torch.int64)
        self.return_keys = tuple(self.return_keys)

    @property
    def vocab_size(self) -> int:
        """The smallest model vocabulary that holds every id this collator emits."""
        return int(self._lut.max()) + 1

    def _missing_hint(self) -> str:
        return _STRIPPED

    def __call__(self, items: Sequence[Any]) -> Batch:
        """Return ``input_ids``, ``attention_mask``, ``labels`` (+ ``return_keys``)."""
        b = super().__call__(items)
        lab = b["labels"].long()
        out = Batch(
            input_ids=self._lut[b["input_ids"].long()],
            attention_mask=b["attention_mask"].long(),
            labels=torch.where(lab >= 0, self._allele_lut[lab.clamp(min=0)], tokens.IGNORE_INDEX),
        )
        for key in self.return_keys:
            if key not in b:
                raise KeyError(f"return_keys has {key!r}; the batch has {sorted(b)}")
            out[key] = b[key]
        if not self.flatten_ploidy or b["input_ids"].dim() != 3:
            return out
        n, ploidy = b["input_ids"].shape[:2]
        for key, t in out.items():
            if t.dim() >= 2 and tuple(t.shape[:2]) == (n, ploidy):
                out[key] = t.reshape(n * ploidy, *t.shape[2:])
            elif t.dim() >= 1 and t.shape[0] == n:
                out[key] = t.repeat_interleave(ploidy, dim=0)  # per item: one per row
            else:
                raise ValueError(
                    f"return_keys {key!r} has shape {tuple(t.shape)}, neither per item ({n}, ...)"
                    f" nor per haplotype ({n}, {ploidy}, ...); pass flatten_ploidy=False"
                )
        return out


class CurriculumCallback(transformers.TrainerCallback):
    """Advance a Masker's curriculum from ``transformers.Trainer``'s epochs, steps and evals.

    At each epoch start it calls ``masker.set_epoch`` with Trainer's epoch; after each step
    ``masker.set_step(global_step)``; after each evaluation, with ``metric`` given,
    ``masker.update(metrics[metric])`` (Plateau schedules). The Masker is shared
    ([`maskkit.torch.share`][]), so persistent DataLoader workers follow.

    When the Trainer that holds it is built (``on_init_end``; or at ``on_train_begin`` for a
    callback added later) it also gives that Trainer's evaluation and ``predict`` frozen masks,
    as [`freeze_eval_masks(trainer)`][maskkit.hf.freeze_eval_masks] does: one rate (the Masker's
    rates at that moment, the curriculum's first in a fresh run) and masks drawn as at epoch 0,
    the same at every evaluation, so that ``eval_loss`` compares like with like. Training batches
    keep the curriculum. An explicit ``freeze_eval_masks(trainer, rate=...)`` replaces these.

    Parameters
    ----------
    masker : Masker
        The Masker of the data collator.
    metric : str, optional
        Eval metric fed to Plateau schedules, e.g. ``"eval_loss"``; required when the Masker
        has one. A Plateau without ``mode`` takes it from the name (``*loss*`` -> ``"min"``,
        ``*f1*`` / ``*acc*`` -> ``"max"``); one whose ``mode`` contradicts the name, or a name
        that says neither, raises ``ValueError``.
    freeze_eval : bool, default True
        Freeze the Trainer's evaluation masks. ``False`` evaluates with the training collator:
        evaluation masks then follow the curriculum and change at every evaluation (on purpose,
        so nothing is logged).

    Examples
    --------
    >>> import maskkit as mk
    >>> from maskkit.curriculum import Plateau
    >>> from maskkit.hf import CurriculumCallback
    >>> masker = mk.Masker("random", rate=Plateau(), seed=0)
    >>> cb = CurriculumCallback(masker, metric="eval_loss")
    >>> cb.metric, masker.schedule.mode, cb.freeze_eval
    ('eval_loss', 'min', True)
    """

    def __init__(
        self, masker: Masker, *, metric: str | None = None, freeze_eval: bool = True
    ) -> None:
        from .torch import share

        if not isinstance(masker, Masker):
            raise TypeError(f"masker must be a maskkit.Masker, got {type(masker).__name__}")
        if not isinstance(freeze_eval, bool):
            raise TypeError(f"freeze_eval must be True or False, got {freeze_eval!r}")
        _bind_metric([s for _, s in masker._schedules()], metric, example="eval_loss")
        self.masker = masker
        self.metric = metric
        self.freeze_eval = freeze_eval
        self._warned_eval = False
        share(masker)

    def _freeze_calling_trainer(self) -> None:
        """Freeze the evaluation masks of the Trainer that runs this callback's event."""
        if not self.freeze_eval:
            return
        trainer = _calling_trainer(self)
        if trainer is None or _EVAL_COLLATOR in vars(trainer):
            return  # not found (the ERROR at evaluation names the fix), or frozen already
        if isinstance(trainer.data_collator, MaskingCollator):
            freeze_eval_masks(trainer)

    def _check_eval_masks(self, loader: Any) -> None:
        """Log once when evaluation masks follow the training curriculum (a moving target)."""
        collate = getattr(loader, "collate_fn", None)
        collate = getattr(collate, "data_collator", collate)  # Trainer's column-removing wrapper
        if self._warned_eval or not self.freeze_eval or not isinstance(collate, MaskingCollator):
            return
        masker = collate.masker
        if masker.fixed_epoch is not None:
            return
        if all(s.is_constant or s.per_sample for _, s in masker._schedules()):
            return
        self._warned_eval = True
        _LOG.error(
            "maskkit: evaluation batches were masked by the training collator, so their masks "
            "follow the training curriculum and change at every evaluation: eval metrics (and a "
            "Plateau driven by them) compare different tasks. CurriculumCallback freezes them "
            "when it runs in the Trainer's on_init_end or on_train_begin; it did not here. Fix: "
            "maskkit.hf.freeze_eval_masks(trainer) after building the Trainer (or "
            "CurriculumCallback(..., freeze_eval=False) to evaluate at the training masks)."
        )

    def on_init_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Freeze the evaluation masks of the Trainer being built."""
        self._freeze_calling_trainer()

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Freeze the evaluation masks if ``on_init_end`` did not (a callback added later)."""
        self._freeze_calling_trainer()

    def on_epoch_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Set the Masker's epoch to Trainer's (before the epoch's DataLoader iterator)."""
        self.masker.set_epoch(math.floor((state.epoch or 0.0) + 1e-6))

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Set the Masker's global step (for step-based schedules)."""
        if state.global_step != self.masker.global_step:
            self.masker.set_step(state.global_step)

    def on_evaluate(
        self, args: Any, state: Any, control: Any, metrics: Any = None, **kwargs: Any
    ) -> None:
        """Feed ``metrics[metric]`` to the Masker's Plateau schedules."""
        self._check_eval_masks(kwargs.get("eval_dataloader"))
        if self.metric is None:
            return
        if not metrics or self.metric not in metrics:
            raise KeyError(
                f"metric {self.metric!r} is not among the eval metrics "
                f"{sorted(metrics or {})}; pass one of them as metric="
            )
        value = float(metrics[self.metric])
        if math.isfinite(value):
            self.masker.update(value)


#: Attribute of a Trainer that holds ``(training collator, frozen copy)`` once frozen.
_EVAL_COLLATOR = "_maskkit_eval_collator"


def _calling_trainer(callback: Any) -> Any:
    """Return the ``transformers.Trainer`` whose callback handler is calling ``callback``.

    Callbacks are not handed their Trainer, but every event runs inside one of its methods
    (``on_init_end`` at the end of ``Trainer.__init__``, ``on_train_begin`` in its training
    loop), so it is the ``self`` of a frame up the stack. None if no such frame holds a Trainer
    with ``callback`` among its callbacks.
    """
    frame = sys._getframe(1)
    while frame is not None:
        obj = frame.f_locals.get("self")
        if isinstance(obj, transformers.Trainer):
            handler = getattr(obj, "callback_handler", None)
            if any(cb is callback for cb in getattr(handler, "callbacks", ())):
                return obj
        frame = frame.f_back  # type: ignore[assignment]
    return None


def freeze_eval_masks(
    trainer: Any, *, rate: Any = None, alt_rate: Any = None, epoch: int = 0
) -> HaplotypeDataCollator:
    """Give a Trainer's evaluation (and ``predict``) fixed masks; return their collator.

    ``transformers.Trainer`` uses one ``data_collator`` for training and evaluation, so
    evaluation masks would follow the training curriculum: ``eval_loss`` would be measured at
    a new difficulty at every evaluation, and a Plateau driven by it would compare unlike
    tasks. After this call the Trainer builds its evaluation and test DataLoaders with
    ``trainer.data_collator.frozen(...)``: one rate (the current rates of the training Masker
    unless ``rate`` / ``alt_rate`` are given) and masks drawn as at ``epoch``, the same at every
    evaluation. Training batches keep the training collator.

    [`CurriculumCallback`][maskkit.hf.CurriculumCallback] calls it with the defaults when its
    Trainer is built; call it to choose the rate or the epoch (the last call wins), or when the
    Trainer has no such callback. If ``trainer.data_collator`` is replaced later, evaluation
    uses the new collator as it is.

    Parameters
    ----------
    trainer : transformers.Trainer
        Built with ``data_collator=HaplotypeDataCollator(...)`` (or a ``MaskingCollator``).
    rate : float, optional
        The evaluation rate; default the training Masker's current one.
    alt_rate : float, optional
        The evaluation alt rate (rules that have one); default the training Masker's current
        one.
    epoch : int, default 0
        The epoch that keys the evaluation masks.

    Examples
    --------
    >>> import shutil, tempfile, maskkit as mk, transformers
    >>> from maskkit.curriculum import Levels
    >>> from maskkit.hf import HaplotypeDataCollator, freeze_eval_masks
    >>> masker = mk.Masker("random", rate=Levels([0.15, 0.3]), seed=0)
    >>> out = tempfile.mkdtemp()
    >>> trainer = transformers.Trainer(
    ...     model=transformers.BertForMaskedLM(transformers.BertConfig(
    ...         vocab_size=5, hidden_size=8, num_hidden_layers=1, num_attention_heads=1,
    ...         intermediate_size=8)),
    ...     args=transformers.TrainingArguments(out, report_to=[], use_cpu=True),
    ...     data_collator=HaplotypeDataCollator(masker))
    >>> freeze_eval_masks(trainer, rate=0.3).masker.current_rates()
    (0.3, 0.3)
    >>> shutil.rmtree(out)
    """
    train = trainer.data_collator
    if not isinstance(train, MaskingCollator):
        raise TypeError(
            "freeze_eval_masks needs a Trainer built with data_collator="
            f"maskkit.hf.HaplotypeDataCollator(...), got {type(train).__name__}"
        )
    frozen = train.frozen(rate=rate, alt_rate=alt_rate, epoch=epoch)
    patched = _EVAL_COLLATOR in vars(trainer)
    setattr(trainer, _EVAL_COLLATOR, (train, frozen))
    # a persistent eval DataLoader (Trainer keeps one per eval set) would keep its old collator
    cached = getattr(trainer, "_eval_dataloaders", None)
    if isinstance(cached, dict):
        cached.clear()
    if patched:
        return frozen  # type: ignore[return-value]

    # The wrappers hold the Trainer weakly: a reference cycle through it would leave its
    # persistent DataLoader iterators to the garbage collector, which may close their queues
    # before the iterators tell the workers to stop (each worker then costs a 5 s join timeout).
    ref = weakref.ref(trainer)

    def with_frozen(name: str) -> Any:
        bound: Any = getattr(trainer, name)
        own = getattr(bound, "__self__", None) is trainer
        target: Any = bound.__func__ if own else bound  # another callable is called as it is

        @functools.wraps(target)
        def build(*args: Any, **kwargs: Any) -> Any:
            owner = ref()
            if owner is None:
                raise ReferenceError(f"the Trainer whose {name} this was no longer exists")
            call = functools.partial(target, owner) if own else target
            current = owner.data_collator
            source, eval_collator = getattr(owner, _EVAL_COLLATOR)
            if current is not source:  # the user set another collator: evaluate with it
                return call(*args, **kwargs)
            owner.data_collator = eval_collator
            try:
                return call(*args, **kwargs)
            finally:
                owner.data_collator = current

        return build

    for name in ("get_eval_dataloader", "get_test_dataloader"):
        setattr(trainer, name, with_frozen(name))
    return frozen  # type: ignore[return-value]
