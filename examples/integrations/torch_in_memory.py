"""A plain PyTorch loop over haplotypes held in memory, with 2 persistent DataLoader workers.

HaplotypeDataset takes the numpy array directly; its shared Masker carries the curriculum to
the workers. Prints and checks the realized mask rate of every epoch against the schedule.
"""

from __future__ import annotations

import numpy as np
import torch

import maskkit as mk
from maskkit.curriculum import Levels
from maskkit.torch import HaplotypeDataset

LEVELS = [0.2, 0.4, 0.6]


def main() -> dict[int, tuple[int, int]]:
    rng = np.random.default_rng(1)
    haps = (rng.random((80, 2, 200)) < 0.2).astype(np.int8)  # (samples, ploidy, sites)

    masker = mk.Masker("random", rate=Levels(LEVELS, epochs_per_level=1), seed=7)
    ds = HaplotypeDataset(haps, masker, windows=50)  # 4 windows of 50 sites per sample
    loader = torch.utils.data.DataLoader(
        ds, batch_size=32, shuffle=True, num_workers=2, persistent_workers=True,
        collate_fn=ds.collate_fn,
    )  # fmt: skip
    model = torch.nn.Sequential(
        torch.nn.Embedding(mk.tokens.vocab_size(), 16), torch.nn.Linear(16, 2)
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    loss_fn = torch.nn.CrossEntropyLoss()  # ignores label -100

    counts = {}
    for epoch in range(len(LEVELS)):
        ds.set_epoch(epoch)  # before iter(loader): the workers read it with every batch
        masked = real = 0
        for batch in loader:
            logits = model(batch["input_ids"])
            loss = loss_fn(logits.flatten(0, -2), batch["labels"].flatten())
            opt.zero_grad()
            loss.backward()
            opt.step()
            masked += int(batch["mask"].sum())
            real += int(batch["attention_mask"].sum())
        counts[epoch] = (masked, real)
        target = LEVELS[epoch]
        sd = (target * (1 - target) / real) ** 0.5
        print(f"epoch {epoch}: realized mask rate {masked / real:.4f}, schedule {target:.2f}")
        assert abs(masked / real - target) < 6 * sd, (epoch, masked / real, target)
    return counts


if __name__ == "__main__":
    main()
