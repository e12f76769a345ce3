"""A curriculum that cannot move says so; evaluation under Trainer gets frozen masks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import transformers
from bounds import ALPHA, assert_binomial
from torch.utils.data import DataLoader

import maskkit as mk
from maskkit.curriculum import Levels, Plateau, metric_mode
from maskkit.hf import CurriculumCallback, HaplotypeDataCollator, freeze_eval_masks
from maskkit.torch import MaskingCollator

pytestmark = pytest.mark.torch

LEVELS = [0.15, 0.3, 0.45]
STALL = "curriculum is not moving"
RNG = np.random.default_rng(5)
HAPS = (RNG.random((48, 2, 40)) < 0.3).astype(np.int8)
ITEMS = [{"haps": HAPS[i], "index": i} for i in range(len(HAPS))]


def levels_masker(seed: int = 3) -> mk.Masker:
    return mk.Masker("random", rate=Levels(LEVELS, epochs_per_level=1), seed=seed)


def passes(collate, epochs, *, workers, drive):
    loader = DataLoader(
        ITEMS, batch_size=8, shuffle=True, num_workers=workers, persistent_workers=workers > 0,
        collate_fn=collate, generator=torch.Generator().manual_seed(0),
    )  # fmt: skip
    for e in range(epochs):
        if drive:
            collate.masker.set_epoch(e)
        list(loader)


@pytest.mark.parametrize("workers", [0, 2])
def test_undriven_levels_collator_logs_an_error_once(workers, maskkit_log):
    passes(MaskingCollator(levels_masker()), 4, workers=workers, drive=False)
    log = maskkit_log()
    assert STALL in log
    assert "set_epoch" in log
    assert "CurriculumCallback" in log
    assert log.count(STALL) <= max(workers, 1)  # once per process that masks


@pytest.mark.parametrize(
    "masker",
    [levels_masker(), mk.Masker("random", rate=0.2, seed=0), levels_masker().frozen()],
    ids=["driven", "constant", "frozen"],
)
def test_driven_constant_or_frozen_collators_stay_quiet(masker, maskkit_log):
    passes(MaskingCollator(masker), 4, workers=0, drive=masker.fixed_epoch is None)
    assert maskkit_log() == ""


def test_callback_on_plateau_needs_a_metric():
    masker = mk.Masker("random", rate=Plateau(LEVELS, mode="min"), seed=0)
    with pytest.raises(ValueError, match="metric='eval_loss'"):
        CurriculumCallback(masker)


def test_plateau_has_no_silent_direction():
    with pytest.raises(ValueError, match="mode='min'"):
        Plateau(LEVELS).update(1.0)
    assert (metric_mode("eval_loss"), metric_mode("eval_f1"), metric_mode("eval_acc")) == (
        "min", "max", "max",
    )  # fmt: skip
    assert metric_mode("eval_runtime") is None
    assert metric_mode("loss_f1_mix") is None


def test_loss_driven_plateau_holds_while_the_loss_falls():
    # the reported failure: mode="max" by default advanced at every improving eval_loss
    masker = mk.Masker("random", rate=Plateau([0.1, 0.3, 0.5], patience=0), seed=0)
    cb = CurriculumCallback(masker, metric="eval_loss")
    state = transformers.TrainerState()
    for loss in [1.0, 0.8, 0.6, 0.4]:
        cb.on_evaluate(None, state, None, metrics={"eval_loss": loss})
    assert masker.schedule.mode == "min"
    assert masker.current_rates() == (0.1, 0.1)
    cb.on_evaluate(None, state, None, metrics={"eval_loss": 0.9})  # worse: advance
    assert masker.current_rates() == (0.3, 0.3)


def test_freeze_eval_masks_needs_a_maskkit_collator():
    trainer = type("T", (), {"data_collator": lambda items: items})()
    with pytest.raises(TypeError, match="HaplotypeDataCollator"):
        freeze_eval_masks(trainer)


def test_plateau_mode_contradicting_or_unclear_metric_is_refused():
    with pytest.raises(ValueError, match="pass mode='min'"):
        CurriculumCallback(
            mk.Masker("random", rate=Plateau(mode="max"), seed=0), metric="eval_loss"
        )
    with pytest.raises(ValueError, match="does not say"):
        CurriculumCallback(mk.Masker("random", rate=Plateau(), seed=0), metric="eval_score")
    cb = CurriculumCallback(mk.Masker("random", rate=Plateau(mode="max"), seed=0), metric="eval_f1")
    assert cb.masker.schedule.mode == "max"


# ------------------------------------------------------------------ under a real Trainer
# examples/integrations/hf_trainer.py: a tiny BERT, 2 persistent workers, 3 epochs


def eval_labels(trainer) -> torch.Tensor:
    return torch.cat([b["labels"] for b in trainer.get_eval_dataloader()])


@pytest.mark.slow
def test_trainer_without_callback_says_the_curriculum_is_stuck(tmp_path, maskkit_log):
    from examples.integrations import hf_trainer

    trainer = hf_trainer.build_trainer(str(tmp_path), levels_masker())
    trainer.remove_callback(CurriculumCallback)
    trainer.train()
    assert sorted(trainer.counts) == [0]  # every epoch masked at epoch 0, level 0
    assert STALL in maskkit_log()


@pytest.mark.slow
def test_trainer_evaluation_masks_are_frozen(tmp_path, maskkit_log):
    from examples.integrations import hf_trainer

    masker = levels_masker()
    trainer = hf_trainer.build_trainer(str(tmp_path), masker, eval_strategy="epoch")
    before = eval_labels(trainer)
    trainer.train()
    after = eval_labels(trainer)
    assert masker.epoch == 2
    assert torch.equal(before, after)  # the same masks whatever the training epoch
    masked = int((before != -100).sum())  # every eval position is real (64 sites per item)
    assert_binomial(masked, before.numel(), LEVELS[0], alpha=ALPHA, what="frozen eval rate")
    assert sorted(trainer.counts) == [0, 1, 2]  # training still follows the curriculum
    for epoch, (m, n) in trainer.counts.items():
        assert_binomial(m, n, LEVELS[epoch], alpha=ALPHA / 3, what=f"train epoch {epoch}")
    assert maskkit_log() == ""


@pytest.mark.slow
def test_trainer_evaluating_with_training_masks_is_reported(tmp_path, maskkit_log):
    from examples.integrations import hf_trainer

    masker = levels_masker()
    trainer = hf_trainer.build_trainer(str(tmp_path), masker, eval_strategy="epoch")
    # replaced after the callback froze evaluation: evaluation uses the new collator as it is
    trainer.data_collator = HaplotypeDataCollator(masker)
    before = eval_labels(trainer)
    trainer.train()
    assert not torch.equal(before, eval_labels(trainer))  # what frozen evaluation masks prevent
    log = maskkit_log()
    assert "freeze_eval_masks(trainer)" in log
    assert log.count("evaluation batches were masked") == 1
