"""A tiny BertForMaskedLM under transformers.Trainer with a rising mask-rate curriculum.

Two persistent DataLoader workers; the callback moves the curriculum each epoch and the
collator's shared Masker carries it to the workers, and gives evaluation frozen masks (one
rate, the same masks at every evaluation). Prints and checks the realized mask rate of every
epoch against the schedule. Runs offline in seconds on a CPU.
"""

from __future__ import annotations

import os
import sys
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import torch
from transformers import BertConfig, BertForMaskedLM, Trainer, TrainingArguments

import maskkit as mk
from maskkit.curriculum import Levels
from maskkit.hf import CurriculumCallback, HaplotypeDataCollator

LEVELS = [0.15, 0.30, 0.45]


class Haplotypes(torch.utils.data.Dataset):
    """Items with an allele array and a stable sample id: all the collator needs."""

    def __init__(self, haps: np.ndarray) -> None:
        self.haps = haps

    def __len__(self) -> int:
        return len(self.haps)

    def __getitem__(self, i: int) -> dict:
        return {"haps": self.haps[i], "index": i}


class RateTrainer(Trainer):
    """Records masked and real positions of every training batch, by the Masker's epoch."""

    counts: dict[int, list[int]]

    def compute_loss(self, model, inputs, *args, **kwargs):
        if model.training:  # evaluation batches go through compute_loss too
            c = self.counts.setdefault(self.data_collator.masker.epoch, [0, 0])
            c[0] += int((inputs["labels"] != -100).sum())
            c[1] += int(inputs["attention_mask"].sum())
        return super().compute_loss(model, inputs, *args, **kwargs)


def make_data() -> np.ndarray:
    rng = np.random.default_rng(0)
    return (rng.random((96, 2, 64)) < 0.2).astype(np.int8)  # (samples, ploidy, sites)


def build_trainer(
    out_dir: str, masker: mk.Masker, metric: str | None = None, *, workers: int = 2,
    freeze_eval: bool = True, **options,
):  # fmt: skip
    """A tiny BERT (built from a config: no download) for the Masker's curriculum."""
    collator = HaplotypeDataCollator(masker)  # ploidy flattened: one haplotype per row
    config = BertConfig(
        vocab_size=collator.vocab_size, hidden_size=32, num_hidden_layers=1,
        num_attention_heads=2, intermediate_size=64, max_position_embeddings=64,
    )  # fmt: skip
    args = TrainingArguments(
        output_dir=out_dir, num_train_epochs=3, per_device_train_batch_size=16,
        dataloader_num_workers=workers, dataloader_persistent_workers=workers > 0,
        remove_unused_columns=False,  # keep "haps" and "index" for the collator
        report_to=[], save_strategy="no", logging_strategy="no", use_cpu=True, disable_tqdm=True,
        **options,
    )  # fmt: skip
    trainer = RateTrainer(
        model=BertForMaskedLM(config), args=args, data_collator=collator,
        train_dataset=Haplotypes(make_data()), eval_dataset=Haplotypes(make_data()[:32]),
        # the callback also freezes evaluation masks: one rate, the same masks every time
        callbacks=[CurriculumCallback(masker, metric=metric, freeze_eval=freeze_eval)],
    )  # fmt: skip
    trainer.counts = {}
    return trainer


def main(out_dir: str) -> dict[int, list[int]]:
    masker = mk.Masker("random", rate=Levels(LEVELS, epochs_per_level=1), seed=42)
    trainer = build_trainer(out_dir, masker)
    trainer.train()

    for epoch, (masked, real) in sorted(trainer.counts.items()):
        rate, target = masked / real, LEVELS[epoch]
        sd = (target * (1 - target) / real) ** 0.5
        print(f"epoch {epoch}: realized mask rate {rate:.4f}, schedule {target:.2f}")
        assert abs(rate - target) < 6 * sd, (epoch, rate, target)
    assert sorted(trainer.counts) == list(range(len(LEVELS)))
    return trainer.counts


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        main(sys.argv[1] if len(sys.argv) > 1 else tmp)
