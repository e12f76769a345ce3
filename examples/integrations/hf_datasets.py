"""Hugging Face ``datasets`` feeding maskkit: a map-style Dataset and a streaming IterableDataset.

Both are built from the same numpy arrays with a stable example id column (``id``); the
collator keys every mask by that id, so the two loaders, in their different shuffled orders
(a random permutation; shards and a shuffle buffer), with two persistent workers each, draw
the same mask for the same example in the same epoch. Prints the realized mask rate of every
epoch against a rising curriculum. Runs offline in seconds on a CPU.
"""

from __future__ import annotations

import datasets
import numpy as np
import torch

import maskkit as mk
from maskkit.curriculum import Levels
from maskkit.torch import MaskingCollator

LEVELS = [0.15, 0.30]
N, PLOIDY, SITES = 64, 2, 48


def make_dataset() -> datasets.Dataset:
    """Alleles ``(N, ploidy, sites)`` and a stable id per example (not its row number)."""
    rng = np.random.default_rng(0)
    haps = (rng.random((N, PLOIDY, SITES)) < 0.2).astype(np.int8)
    features = datasets.Features(
        {"haps": datasets.Array2D((PLOIDY, SITES), "int8"), "id": datasets.Value("int64")}
    )
    ids = 10_000 + 7 * np.arange(N)  # e.g. a sample number from your sample sheet
    return datasets.Dataset.from_dict({"haps": haps, "id": ids}, features=features)


def streaming(ds: datasets.Dataset, seed: int = 0) -> datasets.IterableDataset:
    """The same examples as a stream: 4 shards, read through a shuffle buffer of 16."""
    return ds.to_iterable_dataset(num_shards=4).shuffle(seed=seed, buffer_size=16)


def loader(data, masker: mk.Masker, num_workers: int = 0, **kwargs) -> torch.utils.data.DataLoader:
    """A DataLoader whose collator keys each mask by the ``id`` column."""
    collate = MaskingCollator(masker, index_key="id")  # shares the Masker with the workers
    return torch.utils.data.DataLoader(
        data, batch_size=8, collate_fn=collate, num_workers=num_workers,
        persistent_workers=num_workers > 0, **kwargs,
    )  # fmt: skip


def masks_by_id(batches) -> dict[int, np.ndarray]:
    """``{id: mask}`` of every example in ``batches`` (each id once)."""
    out: dict[int, np.ndarray] = {}
    for b in batches:
        for i, m in zip(b["index"].tolist(), b["mask"].numpy()):
            assert i not in out, f"id {i} twice in one epoch"
            out[i] = m
    return out


def main() -> dict[int, float]:
    ds = make_dataset().with_format("numpy")
    stream = streaming(ds)
    masker = mk.Masker("random", rate=Levels(LEVELS, epochs_per_level=1), seed=42)
    mapped = loader(ds, masker, num_workers=2, shuffle=True)
    streamed = loader(stream, masker, num_workers=2)
    rates = {}
    for epoch in range(len(LEVELS)):
        masker.set_epoch(epoch)  # before iter(loader): persistent workers follow
        stream.set_epoch(epoch)  # a new shard order and shuffle buffer each epoch
        a, b = masks_by_id(mapped), masks_by_id(streamed)
        assert sorted(a) == sorted(b) == sorted(int(i) for i in ds["id"])
        assert all(np.array_equal(a[i], b[i]) for i in a), "masks differ between loaders"
        masked = sum(int(m.sum()) for m in a.values())
        rates[epoch] = masked / (N * PLOIDY * SITES)
        target = LEVELS[epoch]
        sd = (target * (1 - target) / (N * PLOIDY * SITES)) ** 0.5
        print(f"epoch {epoch}: realized mask rate {rates[epoch]:.4f}, schedule {target:.2f}")
        assert abs(rates[epoch] - target) < 6 * sd, (epoch, rates[epoch], target)
    return rates


if __name__ == "__main__":
    main()
