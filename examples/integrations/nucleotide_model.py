"""A nucleotide model with its own vocabulary: CLS, SEP and PAD are never masked.

The Masker draws masks on the model's own token ids with ``protect=`` naming the special
tokens, so no rule can pick them (nor count them in exact mode); maskkit.mask_tokens writes the
model's MASK id, random nucleotides from the model's vocabulary (80/10/10) and labels as the
original ids. A shared
Masker (maskkit.torch.share) carries the curriculum to 2 persistent workers. Prints and checks
the realized mask rate of every epoch against the schedule.
"""

from __future__ import annotations

import numpy as np
import torch

import maskkit as mk
from maskkit.curriculum import Levels
from maskkit.torch import share

PAD, CLS, SEP, MASK = 0, 1, 2, 3
NUCLEOTIDES = [4, 5, 6, 7]  # A, C, G, T
SPECIAL = [PAD, CLS, SEP]
LEVELS = [0.1, 0.15, 0.2]


class Sequences(torch.utils.data.Dataset):
    """[CLS] bases [SEP] [PAD]...: ragged sequences padded to one width."""

    def __init__(self, n: int, width: int, seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.ids = np.full((n, width), PAD, dtype=np.int64)
        for i in range(n):
            k = int(rng.integers(width // 2, width - 1))
            self.ids[i, 0] = CLS
            self.ids[i, 1 : k + 1] = rng.choice(NUCLEOTIDES, k)
            self.ids[i, k + 1] = SEP

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict:
        return {"ids": self.ids[i], "index": i}


class Collate:
    """The glue: token ids -> Masker mask (specials protected) -> the model's tokens."""

    def __init__(self, masker: mk.Masker) -> None:
        self.masker = masker
        share(masker)  # the curriculum reaches persistent workers

    def __call__(self, items: list[dict]) -> dict[str, torch.Tensor]:
        ids = np.stack([x["ids"] for x in items])
        index = np.array([x["index"] for x in items])
        mask = self.masker(ids, indices=index, protect=SPECIAL)
        out = mk.mask_tokens(
            ids, mask, mask_token_id=MASK, random_ids=NUCLEOTIDES, protect=SPECIAL,
            seed=self.masker.seed, epoch=self.masker.mask_epoch, indices=index,
        )  # fmt: skip
        batch = {k: torch.from_numpy(v) for k, v in out.items()}
        batch["ids"] = torch.from_numpy(ids)
        return batch


def main() -> dict[int, tuple[int, int]]:
    masker = mk.Masker("random", rate=Levels(LEVELS, epochs_per_level=1), seed=3)
    data = Sequences(200, 128, seed=0)
    loader = torch.utils.data.DataLoader(
        data, batch_size=25, num_workers=2, persistent_workers=True, collate_fn=Collate(masker)
    )
    counts = {}
    for epoch in range(len(LEVELS)):
        masker.set_epoch(epoch)
        masked = eligible = 0
        for b in loader:
            special = torch.isin(b["ids"], torch.tensor(SPECIAL))
            assert not b["mask"][special].any()  # CLS/SEP/PAD never masked
            assert (b["input_ids"][special] == b["ids"][special]).all()
            assert (b["labels"][b["mask"]] == b["ids"][b["mask"]]).all()
            masked += int(b["mask"].sum())
            eligible += int((~special).sum())
        counts[epoch] = (masked, eligible)
        target = LEVELS[epoch]
        sd = (target * (1 - target) / eligible) ** 0.5
        print(f"epoch {epoch}: realized mask rate {masked / eligible:.4f}, schedule {target:.2f}")
        assert abs(masked / eligible - target) < 6 * sd, (epoch, masked / eligible, target)
    return counts


if __name__ == "__main__":
    main()
