"""Train from a VCF Zarr store: ``python -m examples.integrations.vcz_train [--help]``.

bio2zarr converts a VCF to VCF Zarr (the layout sgkit reads); maskkit opens the store as is and
reads it chunk by chunk, so a biobank-size VCZ trains without a conversion to HDF5. A tiny model
trains for a few epochs under a rising curriculum, and each epoch's realized mask rate on ref
sites is printed and checked against the schedule. Runs in a few seconds on a CPU.
"""

from __future__ import annotations

import argparse
import math
import tempfile
from collections.abc import Sequence
from pathlib import Path

import torch
from bio2zarr import vcf as vcf2zarr  # pip install bio2zarr (Python >= 3.11)

import maskkit as mk
from maskkit import io, tokens
from maskkit.curriculum import Levels
from maskkit.torch import HaplotypeDataset, WindowBatchSampler

LEVELS = (0.2, 0.4, 0.6)


def make_vcf(workdir: Path) -> Path:
    """A small phased VCF (any VCF will do; this one is simulated with msprime)."""
    demo = io.simulate_demo(workdir / "sim", n_diploids=60, length=150_000, seed=5, verbose=False)
    return demo.write_vcf(workdir / "cohort.vcf")


class TinyModel(torch.nn.Module):
    """Token embedding, one convolution over sites, allele logits per site."""

    def __init__(self, n_alleles: int = 2, dim: int = 32) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(tokens.vocab_size(n_alleles), dim)
        self.conv = torch.nn.Conv1d(dim, dim, kernel_size=9, padding=4)
        self.head = torch.nn.Linear(dim, n_alleles)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        x = self.embed(input_ids.flatten(0, 1))  # (batch * ploidy, width, dim)
        x = torch.relu(self.conv(x.transpose(1, 2))).transpose(1, 2)
        return self.head(x).unflatten(0, input_ids.shape[:2])  # (batch, ploidy, width, n_alleles)


def main(argv: Sequence[str] | None = None) -> list[dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, help="where to write (default: a temp dir)")
    parser.add_argument("--vcf", type=Path, help="VCF to convert (default: a simulated one)")
    parser.add_argument("--epochs", type=int, default=len(LEVELS))
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    if args.workdir is None:
        with tempfile.TemporaryDirectory(prefix="maskkit-vcz-") as tmp:
            return run(args, Path(tmp))
    return run(args, args.workdir)


def run(args: argparse.Namespace, workdir: Path) -> list[dict[str, float]]:

    # 1. VCF -> VCF Zarr with bio2zarr (the same as `vcf2zarr convert cohort.vcf cohort.vcz`).
    vcf = args.vcf or make_vcf(workdir)
    vcz = workdir / "cohort.vcz"
    vcf2zarr.convert([vcf], vcz, variants_chunk_size=256, samples_chunk_size=32)

    # 2. Open it like any maskkit store (a directory, a .vcz.zip, or a URL such as s3://...).
    store = io.open_store(vcz)
    print(store)

    # 3. A rising curriculum on ref sites; alt sites at 0.7 (smart balanced masking).
    schedule = Levels(LEVELS)
    masker = mk.Masker("smart_balanced", schedule, alt_rate=0.7, seed=7)
    train = HaplotypeDataset(store, masker, windows=64, pad_to=64, haplotypes=True)
    sampler = WindowBatchSampler(train, batch_size=16, seed=0)  # one window per batch
    loader = torch.utils.data.DataLoader(
        train,
        batch_sampler=sampler,
        num_workers=args.workers,
        persistent_workers=args.workers > 0,
        collate_fn=train.collate_fn,
    )
    torch.manual_seed(0)
    model = TinyModel()
    optim = torch.optim.Adam(model.parameters(), lr=3e-3)

    history = []
    for epoch in range(args.epochs):
        train.set_epoch(epoch)  # reaches the persistent workers
        sampler.set_epoch(epoch)
        masked_ref = ref_sites = 0
        total = 0.0
        for batch in loader:
            logits = model(batch["input_ids"])
            loss = torch.nn.functional.cross_entropy(
                logits.flatten(0, 2), batch["labels"].flatten()
            )
            optim.zero_grad()
            loss.backward()
            optim.step()
            total += loss.item()
            ref = (batch["haplotypes"] == 0) & batch["attention_mask"].bool()  # real ref sites
            masked_ref += int((batch["mask"] & ref).sum())
            ref_sites += int(ref.sum())
        rate, target = masked_ref / ref_sites, schedule.rate(epoch)
        # Each ref site is masked independently at `target`: 6 standard deviations of a binomial
        # proportion bound the realized rate (a false alarm has probability < 2e-9).
        bound = 6 * math.sqrt(target * (1 - target) / ref_sites)
        print(
            f"epoch {epoch}: ref mask rate {rate:.4f} (schedule {target:.2f} +- {bound:.4f}, "
            f"{ref_sites} ref sites), loss {total / len(loader):.3f}"
        )
        assert abs(rate - target) <= bound, (epoch, rate, target)
        history.append({"epoch": epoch, "rate": rate, "target": target, "ref_sites": ref_sites})
    return history


if __name__ == "__main__":
    main()
