"""Loader speed: windows per second through a torch DataLoader over the demo store.

Run:  python benchmarks/bench_loader.py [--workers 2] [--batch-size 24] [--window 1024]
                                         [--epochs 3] [--sampler window|random|both] [--json out]

The demo store (``maskkit.io.demo_data()``: 1,000 diploids, 11,671 sites, gzip HDF5) is
simulated once into the cache. Each configuration builds a ``HaplotypeDataset`` with 1,024-site
windows and a smart-balanced Masker on a ``Levels`` curriculum, starts persistent workers with
one untimed epoch (worker start-up, HDF5 chunk cache), then times ``--epochs`` full epochs,
calling ``set_epoch`` before each (so the curriculum propagation is part of the measurement).

Baseline (``--baseline``, on by default): the Dataset users write without maskkit, in the same
run: one HDF5 read per item (h5py), numpy masks (``rng.random(shape) < rates``, a generator per
item keyed by ``(seed, epoch, item)``), tokens by ``np.where``, padding per item, torch's default
collate, same loader settings (``shuffle=True``).

Samplers: ``window`` = ``WindowBatchSampler`` (one window per batch: one HDF5 read per batch);
``random`` = ``shuffle=True`` (a batch mixes windows: ``__getitems__`` reads once per distinct
window).

The share of time spent masking comes from an in-process pass (``num_workers=0``) over the same
batches, timing the stages of ``__getitems__`` separately: HDF5 read, mask
(``Masker.__call__``), collate (``mk.collate``) and tensor conversion.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import numpy as np
import torch

import maskkit as mk
from maskkit import io
from maskkit.curriculum import Levels
from maskkit.torch import HaplotypeDataset, WindowBatchSampler


class NaiveDataset(torch.utils.data.Dataset):
    """One h5py read per item, numpy masks, per-item tensors: the usual hand-written Dataset."""

    def __init__(self, path: str, window: int, n_samples: int, n_sites: int) -> None:
        self.path, self.window, self.n_samples = path, window, n_samples
        self.bounds = io.Windows.fixed(n_sites, window).bounds
        self.epoch = 0
        self._gt = None
        self._pid = -1

    def __len__(self) -> int:
        return self.n_samples * len(self.bounds)

    def __getitem__(self, i: int) -> dict:
        import h5py

        if self._pid != os.getpid():
            self._gt = h5py.File(self.path, "r")["calldata/GT"]
            self._pid = os.getpid()
        w, s = divmod(i, self.n_samples)
        start, stop = self.bounds[w]
        haps = np.zeros((2, self.window), dtype=np.int8)
        haps[:, : stop - start] = self._gt[start:stop, s, :].T
        real = np.arange(self.window) < stop - start
        rng = np.random.default_rng([1234, self.epoch, i])
        rates = np.where(haps > 0, 0.7, 0.3)
        mask = (rng.random(haps.shape) < rates) & (haps >= 0) & real
        tok = np.where(haps < 0, mk.tokens.MISSING, haps.astype(np.int64) + 3)
        ids = np.where(mask, mk.tokens.MASK, np.where(real, tok, mk.tokens.PAD))
        return {
            "input_ids": torch.from_numpy(ids),
            "labels": torch.from_numpy(np.where(mask, haps, -100).astype(np.int64)),
            "attention_mask": torch.from_numpy(np.broadcast_to(real, haps.shape).astype(np.int64)),
            "mask": torch.from_numpy(mask),
        }


def baseline_rate(batch_size: int, workers: int, window: int, epochs: int) -> float:
    demo = io.demo_data(verbose=False)
    store = io.open_store(demo.store, verbose=False)
    ds = NaiveDataset(str(demo.store), window, store.n_samples, store.n_sites)
    loader = torch.utils.data.DataLoader(
        ds,
        batch_size=batch_size,
        shuffle=True,
        num_workers=workers,
        persistent_workers=workers > 0,
        generator=torch.Generator().manual_seed(0),
    )
    rates = []
    for epoch in range(epochs + 1):
        ds.epoch = epoch  # (does not reach persistent workers: the bug maskkit.torch fixes)
        t0 = time.perf_counter()
        n = sum(int(b["input_ids"].shape[0]) for b in loader)
        if epoch:
            rates.append(n / (time.perf_counter() - t0))
    return float(np.median(rates))


def make_dataset(window: int) -> HaplotypeDataset:
    demo = io.demo_data(verbose=False)
    masker = mk.Masker("smart_balanced", rate=Levels(epochs_per_level=1), seed=1234)
    return HaplotypeDataset(demo.store, masker, windows=window, pad_to=window)


def make_loader(
    ds: HaplotypeDataset, sampler: str, batch_size: int, workers: int
) -> tuple[torch.utils.data.DataLoader, WindowBatchSampler | None]:
    common: dict = {
        "num_workers": workers,
        "collate_fn": ds.collate_fn,
        "persistent_workers": workers > 0,
    }
    if sampler == "window":
        bs = WindowBatchSampler(ds, batch_size, seed=0)
        return torch.utils.data.DataLoader(ds, batch_sampler=bs, **common), bs
    gen = torch.Generator().manual_seed(0)
    return (
        torch.utils.data.DataLoader(
            ds, batch_size=batch_size, shuffle=True, generator=gen, **common
        ),
        None,
    )


def loader_rate(sampler: str, batch_size: int, workers: int, window: int, epochs: int) -> dict:
    ds = make_dataset(window)
    ds.__getitems__(list(range(batch_size)))  # JIT warm-up in the main process, before fork
    loader, bs = make_loader(ds, sampler, batch_size, workers)
    per_epoch = []
    n_items = 0
    for epoch in range(epochs + 1):  # epoch 0: untimed warm-up (workers start)
        ds.set_epoch(epoch)
        if bs is not None:
            bs.set_epoch(epoch)
        t0 = time.perf_counter()
        n = 0
        for batch in loader:
            n += int(batch["index"].shape[0])
        dt = time.perf_counter() - t0
        if epoch:
            per_epoch.append(n / dt)
            n_items += n
    del loader
    return {
        "sampler": sampler,
        "workers": workers,
        "batch_size": batch_size,
        "window": window,
        "windows_per_s": float(np.median(per_epoch)),
        "windows_per_s_epochs": [round(x) for x in per_epoch],
        "items_timed": n_items,
    }


def stage_breakdown(sampler: str, batch_size: int, window: int, n_batches: int = 300) -> dict:
    ds = make_dataset(window)
    masker = ds.masker
    loader, bs = make_loader(ds, sampler, batch_size, 0)
    batches = list(bs) if bs is not None else list(loader.batch_sampler)  # type: ignore[arg-type]
    batches = batches[:n_batches]
    ds.__getitems__(batches[0])
    t = dict.fromkeys(("read", "mask", "collate", "tensor"), 0.0)
    for b in batches:
        t0 = time.perf_counter()
        sample, win, key = ds.locate(b)
        haps, lengths = ds.read(sample, win)
        t1 = time.perf_counter()
        mask = masker(haps, lengths=lengths, indices=key)
        t2 = time.perf_counter()
        arr = mk.collate(
            haps, mask, lengths=lengths, seed=masker.seed, epoch=masker.mask_epoch, indices=key,
            **ds.collate_kwargs,
        )  # fmt: skip
        t3 = time.perf_counter()
        {k: torch.from_numpy(v) for k, v in arr.items()}
        t4 = time.perf_counter()
        t["read"] += t1 - t0
        t["mask"] += t2 - t1
        t["collate"] += t3 - t2
        t["tensor"] += t4 - t3
    total = sum(t.values())
    return {
        "sampler": sampler,
        "us_per_batch": {k: round(v / len(batches) * 1e6, 1) for k, v in t.items()},
        "share": {k: round(v / total, 3) for k, v in t.items()},
        "in_process_windows_per_s": round(len(batches) * batch_size / total),
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=24)
    p.add_argument("--window", type=int, default=1024)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--sampler", choices=["window", "random", "both"], default="both")
    p.add_argument("--no-baseline", dest="baseline", action="store_false")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    samplers = ["window", "random"] if args.sampler == "both" else [args.sampler]
    results = {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "maskkit": mk.__version__,
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "loader": [],
        "stages": [],
    }
    print(
        f"DataLoader over the demo store: window {args.window} sites, batch {args.batch_size}, "
        f"{args.workers} workers (persistent), median of {args.epochs} epochs"
    )
    for s in samplers:
        r = loader_rate(s, args.batch_size, args.workers, args.window, args.epochs)
        results["loader"].append(r)
        b = stage_breakdown(s, args.batch_size, args.window)
        results["stages"].append(b)
        us = b["us_per_batch"]
        share = b["share"]
        print(
            f"  sampler={s:<6}  {r['windows_per_s']:>9,.0f} windows/s  "
            f"(epochs: {', '.join(f'{x:,}' for x in r['windows_per_s_epochs'])})"
        )
        print(
            f"      in-process per batch: read {us['read']:.0f} us, mask {us['mask']:.0f} us, "
            f"collate {us['collate']:.0f} us, tensor {us['tensor']:.0f} us; "
            f"masking = {100 * share['mask']:.1f}% of the work "
            f"({b['in_process_windows_per_s']:,} windows/s on one core)"
        )
    if args.baseline:
        base = baseline_rate(args.batch_size, args.workers, args.window, args.epochs)
        results["baseline_windows_per_s"] = base
        best = max(r["windows_per_s"] for r in results["loader"])
        print(
            f"  baseline (h5py per item, numpy masks, default collate): {base:>9,.0f} windows/s"
            f"  -> maskkit.torch {best / base:.1f}x"
        )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=2)


if __name__ == "__main__":
    main()
