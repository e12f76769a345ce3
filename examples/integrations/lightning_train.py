"""A tiny masked model under PyTorch Lightning with DDP on CPU and a maskkit curriculum.

``Trainer(strategy="ddp", accelerator="cpu", devices=2)``: Lightning starts a second process
running this same script; each rank reads its share of the items (Lightning's
DistributedSampler) through two persistent DataLoader workers whose ``collate_fn`` is a
``MaskingCollator``. ``CurriculumCallback`` sets each epoch and, with ``--plateau``, feeds the
logged ``val_loss`` to a Plateau schedule. Prints the realized mask rate of every epoch, summed
over the ranks, and checks it against the schedule. ``--out DIR`` saves each rank's masks.

Run: ``python examples/integrations/lightning_train.py [--devices 1] [--plateau] [--out DIR]``
"""

from __future__ import annotations

import argparse
import os
import warnings

import numpy as np
import pytorch_lightning as pl
import torch

import maskkit as mk
from maskkit import tokens
from maskkit.curriculum import Levels, Plateau
from maskkit.lightning import CurriculumCallback
from maskkit.torch import MaskingCollator

LEVELS = [0.15, 0.30, 0.45]
EPOCHS = 3
# The Plateau run never sees an improvement (min_delta is huge): the first evaluation sets
# the best value, the second raises the level. Level of each epoch:
PLATEAU_LEVELS = [0, 0, 1]


def make_data() -> np.ndarray:
    rng = np.random.default_rng(0)
    return (rng.random((96, 2, 64)) < 0.2).astype(np.int8)  # (samples, ploidy, sites)


def make_masker(plateau: bool) -> mk.Masker:
    if plateau:
        return mk.Masker("random", rate=Plateau(LEVELS, patience=0, min_delta=1e9), seed=42)
    return mk.Masker("random", rate=Levels(LEVELS, epochs_per_level=1), seed=42)


def items(haps: np.ndarray) -> list[dict]:
    """Dataset items: an allele array and a stable id (the key of the item's mask)."""
    return [{"haps": h, "index": i} for i, h in enumerate(haps)]


class TinyMLM(pl.LightningModule):
    """Embedding + linear head; records every training batch's ids and masks."""

    def __init__(self, masker: mk.Masker, plateau: bool) -> None:
        super().__init__()
        self.masker, self.plateau = masker, plateau
        self.embed = torch.nn.Embedding(tokens.vocab_size(n_alleles=2), 16)
        self.head = torch.nn.Linear(16, 2)
        self.records: list[tuple[int, np.ndarray, np.ndarray]] = []
        self.counts: dict[int, tuple[int, int]] = {}

    def loss(self, batch: dict) -> torch.Tensor:
        logits = self.head(self.embed(batch["input_ids"]))
        return torch.nn.functional.cross_entropy(logits.flatten(0, -2), batch["labels"].flatten())

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        self.records.append((self.current_epoch, batch["index"].numpy(), batch["mask"].numpy()))
        return self.loss(batch)

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self.log("val_loss", self.loss(batch), sync_dist=True)

    def on_train_epoch_end(self) -> None:
        mine = [(m.sum(), m.size) for e, _, m in self.records if e == self.current_epoch]
        total = self.all_gather(torch.tensor(np.sum(mine, axis=0))).reshape(-1, 2).sum(0)
        self.counts[self.current_epoch] = (int(total[0]), int(total[1]))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=1e-2)

    def train_dataloader(self) -> torch.utils.data.DataLoader:
        return torch.utils.data.DataLoader(
            items(make_data()), batch_size=8, shuffle=True, num_workers=2,
            persistent_workers=True, collate_fn=MaskingCollator(self.masker),
        )  # fmt: skip

    def val_dataloader(self) -> torch.utils.data.DataLoader | list:
        if not self.plateau:
            return []
        val = self.masker.frozen(rate=0.15)  # the same validation masks every epoch
        return torch.utils.data.DataLoader(
            items(make_data()[:16]), batch_size=8, collate_fn=MaskingCollator(val)
        )


def main(devices: int = 2, plateau: bool = False, out: str | None = None) -> dict:
    masker = make_masker(plateau)
    model = TinyMLM(masker, plateau)
    trainer = pl.Trainer(
        strategy="ddp" if devices > 1 else "auto", accelerator="cpu", devices=devices,
        max_epochs=EPOCHS, num_sanity_val_steps=0, callbacks=[CurriculumCallback(
            masker, metric="val_loss" if plateau else None)],
        logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*does not have many workers.*")
        trainer.fit(model)

    rank = trainer.global_rank
    if out is not None:
        epochs, ids, masks = zip(*model.records)
        np.savez(
            os.path.join(out, f"masks-rank{rank}.npz"),
            epoch=np.repeat(epochs, [len(i) for i in ids]), index=np.concatenate(ids),
            mask=np.concatenate(masks), sync_state=np.array(masker.sync_state()),
        )  # fmt: skip
    for epoch, (masked, real) in sorted(model.counts.items()):
        level = PLATEAU_LEVELS[epoch] if plateau else epoch
        rate, target = masked / real, LEVELS[level]
        if rank == 0:
            print(f"epoch {epoch}: realized mask rate {rate:.4f}, schedule {target:.2f}")
        assert real == 96 * 2 * 64, (epoch, real)
        assert abs(rate - target) < 6 * (target * (1 - target) / real) ** 0.5, (epoch, rate)
    return model.counts


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=2)
    parser.add_argument("--plateau", action="store_true")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    main(args.devices, args.plateau, args.out)
