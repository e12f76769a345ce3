"""Under a real transformers.Trainer, evaluation masks are frozen without any extra call.

A Trainer built with ``HaplotypeDataCollator`` and ``CurriculumCallback`` only (no
``freeze_eval_masks``) evaluates every epoch while the curriculum rises (``Levels``) or moves
on ``eval_loss`` (``Plateau``): every evaluation sees the same labels, those of
``collator.frozen(rate=first level, epoch=0)``, while training batches follow the curriculum;
with 0 workers and with 2 persistent ones.
"""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest
import torch
import transformers
from bounds import ALPHA, assert_binomial

import maskkit as mk
from examples.integrations.hf_trainer import Haplotypes as Items
from maskkit.curriculum import Levels, Plateau
from maskkit.hf import CurriculumCallback, HaplotypeDataCollator, freeze_eval_masks

pytestmark = pytest.mark.torch

LEVELS = [0.15, 0.3, 0.45]
EPOCHS = 3
EVAL_ITEMS, EVAL_BATCH = 32, 8
RNG = np.random.default_rng(11)
TRAIN = (RNG.random((64, 2, 48)) < 0.2).astype(np.int8)
EVAL = (RNG.random((EVAL_ITEMS, 2, 48)) < 0.2).astype(np.int8)


class Recorder(transformers.Trainer):
    """Keeps the labels of every evaluation batch and training counts by the curriculum rate."""

    def compute_loss(self, model, inputs, *args, **kwargs):
        labels = inputs["labels"]
        if model.training:
            c = self.train_counts.setdefault(self.masker.current_rates()[0], [0, 0])
            c[0] += int((labels != -100).sum())
            c[1] += int(inputs["attention_mask"].sum())
        else:
            self.eval_labels.append(labels.clone())
        return super().compute_loss(model, inputs, *args, **kwargs)


def build(out_dir, masker, *, workers, metric=None, callbacks=None, **options):
    collator = HaplotypeDataCollator(masker)
    config = transformers.BertConfig(
        vocab_size=collator.vocab_size, hidden_size=16, num_hidden_layers=1,
        num_attention_heads=1, intermediate_size=16, max_position_embeddings=48,
    )  # fmt: skip
    args = transformers.TrainingArguments(
        output_dir=out_dir, num_train_epochs=EPOCHS, per_device_train_batch_size=16,
        per_device_eval_batch_size=EVAL_BATCH, eval_strategy="epoch",
        dataloader_num_workers=workers, dataloader_persistent_workers=workers > 0,
        remove_unused_columns=False, report_to=[], save_strategy="no", logging_strategy="no",
        use_cpu=True, disable_tqdm=True, **options,
    )  # fmt: skip
    trainer = Recorder(
        model=transformers.BertForMaskedLM(config), args=args, data_collator=collator,
        train_dataset=Items(TRAIN), eval_dataset=Items(EVAL),
        callbacks=[CurriculumCallback(masker, metric=metric)] if callbacks is None else callbacks,
    )  # fmt: skip
    trainer.masker, trainer.train_counts, trainer.eval_labels = masker, {}, []
    return trainer


def evaluations(trainer) -> list[torch.Tensor]:
    per_eval = EVAL_ITEMS // EVAL_BATCH
    batches = trainer.eval_labels
    assert len(batches) % per_eval == 0
    return [torch.cat(batches[i : i + per_eval]) for i in range(0, len(batches), per_eval)]


def frozen_labels(trainer, rate: float) -> torch.Tensor:
    """Labels of the eval set from an explicitly frozen copy of the training collator."""
    frozen = trainer.data_collator.frozen(rate=rate, epoch=0)
    items = Items(EVAL)
    return torch.cat(
        [
            frozen([items[j] for j in range(i, i + EVAL_BATCH)])["labels"]
            for i in range(0, EVAL_ITEMS, EVAL_BATCH)
        ]
    )


@pytest.mark.slow
@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("schedule", ["levels", "plateau"])
def test_trainer_evaluates_at_frozen_masks_by_default(tmp_path, workers, schedule, maskkit_log):
    if schedule == "levels":
        masker = mk.Masker("random", rate=Levels(LEVELS, epochs_per_level=1), seed=3)
        metric, train_levels = None, [0, 1, 2]
    else:  # no eval_loss improves by 1e9: the level rises at the second evaluation
        masker = mk.Masker("random", rate=Plateau(LEVELS, patience=0, min_delta=1e9), seed=3)
        metric, train_levels = "eval_loss", [0, 0, 1]
    trainer = build(str(tmp_path), masker, workers=workers, metric=metric)
    trainer.train()

    evals = evaluations(trainer)
    assert len(evals) == EPOCHS
    expected = frozen_labels(trainer, LEVELS[0])
    for i, labels in enumerate(evals):
        assert torch.equal(labels, expected), f"evaluation {i} differs from the frozen masks"
    masked = int((expected != -100).sum())  # every eval position is real
    assert_binomial(masked, expected.numel(), LEVELS[0], alpha=ALPHA, what="frozen eval rate")
    # training followed the curriculum: the levels the schedule reached, each at its rate
    assert sorted(trainer.train_counts) == sorted({LEVELS[i] for i in train_levels})
    for rate, (m, n) in trainer.train_counts.items():
        assert_binomial(m, n, rate, alpha=ALPHA / 3, what=f"training at {rate}")
    assert maskkit_log() == ""


@pytest.mark.slow
def test_opting_out_evaluates_at_the_training_masks_quietly(tmp_path, maskkit_log):
    masker = mk.Masker("random", rate=Levels(LEVELS, epochs_per_level=1), seed=3)
    cb = CurriculumCallback(masker, freeze_eval=False)
    trainer = build(str(tmp_path), masker, workers=0, callbacks=[cb])
    trainer.train()
    evals = evaluations(trainer)
    assert not torch.equal(evals[0], evals[2])  # epoch 0 and epoch 2 masks, rates 0.15 and 0.45
    # the callback does not report a choice made on purpose (the collator's own check may still
    # see eval ids masked again at a training state)
    assert "evaluation batches were masked" not in maskkit_log()


@pytest.mark.slow
def test_callback_added_after_the_trainer_freezes_at_train_begin(tmp_path, maskkit_log):
    masker = mk.Masker("random", rate=Levels(LEVELS, epochs_per_level=1), seed=3)
    trainer = build(str(tmp_path), masker, workers=0, callbacks=[])
    assert trainer.get_eval_dataloader().collate_fn is trainer.data_collator  # nothing frozen
    cb = CurriculumCallback(masker)
    trainer.add_callback(cb)
    cb.on_train_begin(trainer.args, trainer.state, trainer.control)  # no Trainer calls it
    assert trainer.get_eval_dataloader().collate_fn is trainer.data_collator
    trainer.train()
    frozen = trainer.get_eval_dataloader().collate_fn
    assert frozen.masker.fixed_epoch == 0
    assert frozen.masker.current_rates() == (LEVELS[0], LEVELS[0])
    evals = evaluations(trainer)
    assert all(torch.equal(e, frozen_labels(trainer, LEVELS[0])) for e in evals)
    assert maskkit_log() == ""


def test_explicit_freeze_replaces_the_default_and_stays_training_collator(tmp_path):
    masker = mk.Masker("random", rate=Levels(LEVELS, epochs_per_level=1), seed=3)
    trainer = build(str(tmp_path), masker, workers=0)
    train = trainer.data_collator
    default = trainer.get_eval_dataloader().collate_fn
    assert default is not train
    assert default.masker.current_rates() == (LEVELS[0], LEVELS[0])
    chosen = freeze_eval_masks(trainer, rate=0.3, epoch=4)
    assert trainer.get_eval_dataloader().collate_fn is chosen
    assert chosen.masker.current_rates() == (0.3, 0.3)
    assert chosen.masker.fixed_epoch == 4
    assert trainer.get_test_dataloader(Items(EVAL)).collate_fn is chosen
    assert trainer.data_collator is train  # training keeps the curriculum
    other = HaplotypeDataCollator(masker)
    trainer.data_collator = other  # replaced by the user: evaluation uses it as it is
    assert trainer.get_eval_dataloader().collate_fn is other


def test_freeze_eval_must_be_a_bool():
    masker = mk.Masker("random", rate=0.2, seed=0)
    with pytest.raises(TypeError, match="freeze_eval"):
        CurriculumCallback(masker, freeze_eval="no")  # type: ignore[arg-type]


def test_frozen_eval_masks_leave_no_reference_cycle_through_the_trainer(tmp_path):
    """Dropping the Trainer frees it at once: left to the garbage collector, its persistent
    DataLoader iterators lost their queues before telling the workers to stop (a 5 s join
    timeout per worker)."""
    masker = mk.Masker("random", rate=Levels(LEVELS, epochs_per_level=1), seed=3)
    trainer = build(str(tmp_path), masker, workers=0)  # CurriculumCallback freezes at init
    assert "_maskkit_eval_collator" in vars(trainer)
    alive = weakref.ref(trainer)
    gc.collect()
    gc.disable()
    try:
        del trainer
        assert alive() is None
    finally:
        gc.enable()
