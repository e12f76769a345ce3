"""maskkit.hf under a real transformers.Trainer: collator, curriculum callback, workers."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import transformers
from bounds import ALPHA, assert_binomial

import maskkit as mk
from maskkit.curriculum import Plateau
from maskkit.hf import CurriculumCallback, HaplotypeDataCollator

pytestmark = pytest.mark.torch


@pytest.mark.slow
def test_trainer_with_persistent_workers_follows_the_curriculum(tmp_path):
    from examples.integrations import hf_trainer

    counts = hf_trainer.main(str(tmp_path))
    assert sorted(counts) == [0, 1, 2]
    for epoch, (masked, real) in counts.items():
        assert real == 96 * 2 * 64
        level = hf_trainer.LEVELS[epoch]
        assert_binomial(masked, real, level, alpha=ALPHA / 3, what=f"epoch {epoch}")


@pytest.mark.slow
def test_trainer_eval_metric_advances_plateau_in_workers(tmp_path):
    from examples.integrations import hf_trainer

    levels = [0.15, 0.3, 0.45]
    # min_delta so large that no eval improves: the level rises at the second evaluation
    masker = mk.Masker("random", rate=Plateau(levels, patience=0, min_delta=1e9), seed=4)
    trainer = hf_trainer.build_trainer(str(tmp_path), masker, "eval_loss", eval_strategy="epoch")
    trainer.train()
    assert masker.schedule.level() == 1
    for epoch, level in zip(range(3), [0, 0, 1]):
        masked, real = trainer.counts[epoch]
        assert_binomial(masked, real, levels[level], alpha=ALPHA / 3, what=f"epoch {epoch}")


def test_labels_are_model_token_ids_and_ploidy_by_option():
    haps = np.array([[[0, 1, 1], [1, -1, 0]]], dtype=np.int8)
    items = [{"haps": haps[0], "index": 3}]
    masker = mk.Masker("random", rate=1.0, seed=0)
    flat = HaplotypeDataCollator(masker, replace=None, allele_token_ids=[10, 11], mask_token_id=7)
    b = flat(items)
    assert sorted(b) == ["attention_mask", "input_ids", "labels"]
    assert b["input_ids"].tolist() == [[7, 7, 7], [7, 2, 7]]
    assert b["labels"].tolist() == [[10, 11, 11], [11, -100, 10]]
    kept = HaplotypeDataCollator(masker, flatten_ploidy=False, return_keys=["index", "mask"])
    k = kept(items)
    assert k["input_ids"].shape == (1, 2, 3)
    assert k["index"].tolist() == [3]
    f = HaplotypeDataCollator(masker, return_keys=["index"])(items)
    assert f["index"].tolist() == [3, 3]
    assert flat.vocab_size == 12


def test_stripped_columns_name_remove_unused_columns():
    collate = HaplotypeDataCollator(mk.Masker("random", rate=0.2, seed=0))
    with pytest.raises(KeyError, match="remove_unused_columns=False"):
        collate([{}, {}])


def test_callback_drives_epoch_step_and_plateau():
    masker = mk.Masker("random", rate=Plateau([0.1, 0.2, 0.3], patience=0, mode="min"), seed=0)
    cb = CurriculumCallback(masker, metric="eval_loss")
    state = transformers.TrainerState()
    state.epoch, state.global_step = 2.0, 17
    cb.on_epoch_begin(None, state, None)
    cb.on_step_end(None, state, None)
    cb.on_evaluate(None, state, None, metrics={"eval_loss": 1.0})
    cb.on_evaluate(None, state, None, metrics={"eval_loss": 1.5})
    assert masker.sync_state() == (2, 17, 1)
    assert masker.sync_channel is not None
    with pytest.raises(KeyError, match="eval_loss"):
        cb.on_evaluate(None, state, None, metrics={"loss": 1.0})
    with pytest.raises(ValueError, match="Plateau"):
        CurriculumCallback(mk.Masker("random", rate=0.2, seed=0), metric="eval_loss")


def test_missing_transformers_gives_install_hint():
    code = (
        "import sys; sys.modules['transformers'] = None\n"
        "try:\n    import maskkit.hf\nexcept ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert 'pip install "maskkit[hf]"' in out.stdout


def test_trainer_default_column_removal_names_the_fix(tmp_path):
    from examples.integrations.hf_trainer import Haplotypes

    masker = mk.Masker("random", rate=0.2, seed=0)
    collator = HaplotypeDataCollator(masker)
    config = transformers.BertConfig(
        vocab_size=collator.vocab_size, hidden_size=8, num_hidden_layers=1,
        num_attention_heads=1, intermediate_size=8, max_position_embeddings=16,
    )  # fmt: skip
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path), max_steps=1, report_to=[], use_cpu=True, disable_tqdm=True,
        save_strategy="no",
    )  # fmt: skip
    trainer = transformers.Trainer(
        model=transformers.BertForMaskedLM(config), args=args, data_collator=collator,
        train_dataset=Haplotypes(np.zeros((4, 2, 16), dtype=np.int8)),
    )  # fmt: skip
    with pytest.raises(KeyError, match="remove_unused_columns=False"):
        trainer.train()
