"""Loader speed: windows per second through a torch DataLoader over an HDF5 store.

Run:  python benchmarks/bench_loader.py [--epochs 3] [--json out.json]

The store: 256 samples x 32,768 biallelic sites (10 % alt, 1 % missing), scikit-allel layout,
``calldata/GT`` chunked ``(1,024 sites, 256 samples, 2)`` with gzip (the chunking of maskkit's
own writers), created once in ``maskkit.io.default_cache_dir() / "bench"``. Every loader serves
1,024-site windows in batches of 32 with 2 worker processes (persistent), after one untimed
epoch (worker start-up, chunk caches); the rate is the median over ``--epochs`` epochs.

Rows:

* ``naive`` -- the Dataset users write without maskkit: one h5py read per item, numpy masks
  (``rng.random(shape) < rates``, smart balanced 0.3 / 0.7, a generator per item keyed by
  ``(seed, epoch, item)``), tokens by ``np.where``, int64 tensors, torch's default collate,
  ``shuffle=True``; with h5py's default chunk cache (1 MiB: with shuffled windows nearly every
  item decompresses a 512 KiB chunk) and with a 64 MiB one (maskkit's default: after the
  first epoch every chunk is cached). The faster of the two is the baseline.
* ``maskkit`` -- ``HaplotypeDataset`` (smart balanced Masker on a ``Levels`` curriculum,
  ``pad_to=1024``) with ``WindowBatchSampler`` (one HDF5 read per batch) or ``shuffle=True``,
  int64 outputs or the narrowest dtypes (``uint8`` ids, ``int8`` labels, ``bool`` attention),
  2 workers; and the first of these with ``num_workers=0`` (loading in the main process).

* ``maskkit: ChunkShuffleSampler`` -- chunk-aware shuffling (``maskkit.io.chunk_order``): the
  store's chunks in random order, then a shuffle within a bounded buffer (default: two chunks'
  items, here 512 = 2 windows x 256 samples; ``buffer=1024`` is the second row). Every shuffled
  row also reports how random its order is (``maskkit.io.order_stats``: chunks a batch reads,
  share of item pairs in a batch from the same window, Kendall tau against the item index).
* ``--vcz``: the same store as VCF Zarr (``call_genotype`` chunks 1,024 x 256), read from local
  disk and from a local S3 server (moto, on 127.0.0.1; needs ``zarr``, ``s3fs``, ``moto[server]``),
  with ``shuffle=True``, ``WindowBatchSampler`` and ``ChunkShuffleSampler``, through a 4 MiB
  cache of decoded chunks (8 of the 32 chunks: the store does not fit, so every epoch reads).

The stage breakdown is an in-process pass over the same batches: HDF5 read, mask, collate,
``Batch`` of tensors (``__getitems__`` minus the rest) and packing it for the worker pipe
(``Batch.__reduce__``: one copy into one block), with the bytes a batch sends.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

import maskkit as mk
from maskkit import io
from maskkit.curriculum import Levels
from maskkit.torch import ChunkShuffleSampler, HaplotypeDataset, WindowBatchSampler

N_SAMPLES, N_SITES, PLOIDY = 256, 32_768, 2
WINDOW, BATCH, WORKERS = 1024, 32, 2
NARROW = {"input_ids": np.uint8, "labels": np.int8, "attention_mask": np.bool_}
SEED = 1234


def bench_store(folder: str | os.PathLike[str] | None = None) -> Path:
    """Return the benchmark store's path, writing it first if it is not there yet."""
    import h5py

    root = Path(folder or io.default_cache_dir() / "bench")  # the user's, not a shared name
    path = root / f"haps_{N_SAMPLES}x{N_SITES}.h5"
    if path.exists():
        return path
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    gt = (rng.random((N_SITES, N_SAMPLES, PLOIDY)) < 0.1).astype(np.int8)
    gt[rng.random(gt.shape) < 0.01] = -1
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    with h5py.File(tmp, "w") as f:
        names = np.array([f"s{i}" for i in range(N_SAMPLES)], dtype=object)
        f.create_dataset("samples", data=names, dtype=h5py.string_dtype())
        f.create_dataset(
            "calldata/GT", data=gt, chunks=(1024, N_SAMPLES, PLOIDY), compression="gzip"
        )
        f.create_dataset("variants/POS", data=np.arange(1, N_SITES + 1, dtype=np.int32) * 10)
    tmp.replace(path)
    return path


class NaiveDataset(torch.utils.data.Dataset):
    """One h5py read per item, numpy masks, per-item tensors: the usual hand-written Dataset."""

    def __init__(
        self, path: str, window: int, n_samples: int, n_sites: int, cache_mb: float | None = None
    ) -> None:
        self.path, self.window, self.n_samples = path, window, n_samples
        self.cache_mb = cache_mb  # h5py's chunk cache; None: h5py's default (1 MiB)
        self.bounds = io.Windows.fixed(n_sites, window).bounds
        self.epoch = 0
        self._gt: Any = None
        self._pid = -1

    def __len__(self) -> int:
        return self.n_samples * len(self.bounds)

    def __getitem__(self, i: int) -> dict:
        import h5py

        if self._pid != os.getpid():
            kw = {} if self.cache_mb is None else {"rdcc_nbytes": int(self.cache_mb * 2**20)}
            self._gt = h5py.File(self.path, "r", **kw)["calldata/GT"]
            self._pid = os.getpid()
        w, s = divmod(i, self.n_samples)
        start, stop = self.bounds[w]
        haps = np.zeros((2, self.window), dtype=np.int8)
        haps[:, : stop - start] = self._gt[start:stop, s, :].T
        real = np.arange(self.window) < stop - start
        rng = np.random.default_rng([SEED, self.epoch, i])
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


def _time_epochs(loader: Any, epochs: int, set_epoch: Any) -> list[float]:
    """Windows/s of each timed epoch (epoch 0: untimed warm-up)."""
    rates = []
    for epoch in range(epochs + 1):
        set_epoch(epoch)
        t0 = time.perf_counter()
        n = sum(int(b["input_ids"].shape[0]) for b in loader)
        if epoch:
            rates.append(n / (time.perf_counter() - t0))
    return rates


def naive_rate(
    path: Path, epochs: int, cache_mb: float | None = None, workers: int = WORKERS
) -> dict[str, Any]:
    ds = NaiveDataset(str(path), WINDOW, N_SAMPLES, N_SITES, cache_mb)
    loader = torch.utils.data.DataLoader(
        ds,
        batch_size=BATCH,
        shuffle=True,
        num_workers=workers,
        persistent_workers=workers > 0,
        generator=torch.Generator().manual_seed(0),
    )

    def set_epoch(e: int) -> None:
        ds.epoch = e  # (does not reach persistent workers: the bug maskkit.torch fixes)

    rates = _time_epochs(loader, epochs, set_epoch)
    del loader
    cache = "1 MiB (h5py default)" if cache_mb is None else f"{cache_mb:.0f} MiB"
    return _result(f"naive, chunk cache {cache}", "int64", rates)


def make_dataset(path: Any, dtype: Any) -> HaplotypeDataset:
    masker = mk.Masker("smart_balanced", rate=Levels(epochs_per_level=1), seed=SEED)
    return HaplotypeDataset(path, masker, windows=WINDOW, pad_to=WINDOW, dtype=dtype)


def vcz_store(h5: Path) -> Path:
    """The benchmark store as VCF Zarr (zarr v2, ``call_genotype`` chunks 1,024 x 256 x 2)."""
    import h5py
    import zarr

    path = h5.with_suffix(".vcz")
    if path.exists():
        return path
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    with h5py.File(h5, "r") as f:
        gt = f["calldata/GT"][:]
        pos = f["variants/POS"][:]
    root = zarr.open_group(tmp, mode="w", zarr_format=2)
    root.create_array("call_genotype", data=gt, chunks=(1024, N_SAMPLES, PLOIDY))
    root.create_array("variant_position", data=pos, chunks=(N_SITES,))
    root.create_array("sample_id", data=np.array([f"s{i}" for i in range(N_SAMPLES)]))
    tmp.replace(path)
    return path


@contextlib.contextmanager
def s3_copy(local: Path) -> Any:
    """Yield ``(url, storage_options)`` of ``local`` uploaded to a moto S3 server on 127.0.0.1."""
    import s3fs
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        options = {
            "key": "bench",
            "secret": "bench-secret",
            "client_kwargs": {"endpoint_url": f"http://{host}:{port}", "region_name": "eu-west-1"},
        }
        fs = s3fs.S3FileSystem(**options)
        fs.mkdir("bench")
        fs.put(str(local), "bench/store.vcz", recursive=True)
        yield "s3://bench/store.vcz", options
    finally:
        server.stop()


SAMPLER_NAMES = {
    "window": "WindowBatchSampler",
    "random": "shuffle=True",
    "chunks": "ChunkShuffleSampler",
    "chunks1024": "ChunkShuffleSampler(buffer=1024)",
}


def _loader(ds: HaplotypeDataset, sampler: str, workers: int) -> tuple[Any, Any]:
    common: dict[str, Any] = {
        "num_workers": workers,
        "collate_fn": ds.collate_fn,
        "persistent_workers": workers > 0,
    }
    if sampler == "window":
        bs = WindowBatchSampler(ds, BATCH, seed=0)
        return torch.utils.data.DataLoader(ds, batch_sampler=bs, **common), bs
    if sampler.startswith("chunks"):
        buffer = int(sampler[6:]) if sampler[6:] else None
        bs = ChunkShuffleSampler(ds, BATCH, buffer=buffer, seed=0)
        return torch.utils.data.DataLoader(ds, batch_sampler=bs, **common), bs
    gen = torch.Generator().manual_seed(0)
    loader = torch.utils.data.DataLoader(
        ds, batch_size=BATCH, shuffle=True, generator=gen, **common
    )
    return loader, None


def _dtype_name(dtype: Any) -> str:
    return "uint8/int8/bool" if isinstance(dtype, dict) else np.dtype(dtype).name


def order_randomness(ds: HaplotypeDataset, loader: Any, bs: Any) -> dict[str, float]:
    """``maskkit.io.order_stats`` of one epoch's order of ``loader``'s sampler."""
    blocks = io.item_blocks(ds.bounds, ds.samples, chunks=io.store_chunks(ds.store))
    if bs is not None:
        order = np.concatenate([np.asarray(b) for b in bs])
    else:
        order = np.concatenate([np.asarray(b) for b in loader.batch_sampler])
    st = io.order_stats(order, blocks, batch_size=BATCH, windows=ds.locate(np.arange(len(ds)))[1])
    keys = ("blocks_per_batch", "same_window_pairs", "kendall_tau", "adjacent_same_block")
    return {k: round(st[k], 3) for k in keys}


def maskkit_rate(
    path: Any, sampler: str, dtype: Any, epochs: int, workers: int = WORKERS, where: str = ""
) -> dict[str, Any]:
    ds = make_dataset(path, dtype)
    ds.__getitems__(list(range(BATCH)))  # JIT warm-up in the main process, before fork
    loader, bs = _loader(ds, sampler, workers)

    def set_epoch(e: int) -> None:
        ds.set_epoch(e)
        if bs is not None:
            bs.set_epoch(e)

    rates = _time_epochs(loader, epochs, set_epoch)
    set_epoch(0)
    order = order_randomness(ds, loader, bs)
    del loader
    name = where + SAMPLER_NAMES[sampler]
    if workers != WORKERS:
        name += f", {workers} workers"
    return {**_result(f"maskkit: {name}", _dtype_name(dtype), rates), "order": order}


def _result(name: str, dtype: str, rates: list[float]) -> dict[str, Any]:
    return {
        "loader": name,
        "dtype": dtype,
        "windows_per_s": float(np.median(rates)),
        "windows_per_s_epochs": [round(x) for x in rates],
    }


def stage_breakdown(path: Path, sampler: str, dtype: Any, n_batches: int = 200) -> dict[str, Any]:
    """Microseconds per batch of each stage of ``__getitems__``, in this process."""
    ds = make_dataset(path, dtype)
    masker = ds.masker
    loader, bs = _loader(ds, sampler, 0)
    batches = list(bs if bs is not None else loader.batch_sampler)[:n_batches]
    for b in batches:  # chunk cache and JIT warm, as in a worker after its first epoch
        ds.__getitems__(b)
    stages = ("read", "mask", "collate", "batch", "pack")
    t = dict.fromkeys(stages, 0.0)
    nbytes = 0
    for b in batches:
        t0 = time.perf_counter()
        sample, win, key = ds.locate(b)
        haps, lengths = ds.read(sample, win)
        t1 = time.perf_counter()
        mask = masker(haps, lengths=lengths, indices=key)
        t2 = time.perf_counter()
        mk.collate(
            haps, mask, lengths=lengths, seed=masker.seed, epoch=masker.mask_epoch, indices=key,
            **ds.collate_kwargs,
        )  # fmt: skip
        t3 = time.perf_counter()
        batch = ds.__getitems__(b)
        t4 = time.perf_counter()
        batch.__reduce__()
        t5 = time.perf_counter()
        nbytes += sum(v.numel() * v.element_size() for v in batch.values())
        t["read"] += t1 - t0
        t["mask"] += t2 - t1
        t["collate"] += t3 - t2
        t["batch"] += max(0.0, (t4 - t3) - (t3 - t0))  # __getitems__ beyond read+mask+collate
        t["pack"] += t5 - t4
    total = sum(t.values())
    name = SAMPLER_NAMES[sampler]
    return {
        "loader": f"maskkit: {name}",
        "dtype": _dtype_name(dtype),
        "us_per_batch": {k: round(v / len(batches) * 1e6, 1) for k, v in t.items()},
        "share": {k: round(v / total, 3) for k, v in t.items()},
        "bytes_per_batch": nbytes // len(batches),
        "in_process_windows_per_s": round(len(batches) * BATCH / total),
    }


CONFIGS = [
    ("window", NARROW),
    ("window", np.int64),
    ("random", NARROW),
    ("chunks", NARROW),
    ("chunks1024", NARROW),
]
QUICK = [("window", NARROW), ("random", NARROW), ("chunks", NARROW)]
#: Rows read from VCF Zarr, on local disk and from the S3 server (``--vcz``).
#: Their cache of decoded chunks (per worker) holds 8 of the 32 chunks: a store larger than the
#: cache, as at biobank scale, so every epoch fetches chunks again.
VCZ_CACHE_MB = 4.0
VCZ_CONFIGS = [("window", NARROW), ("random", NARROW), ("chunks", NARROW)]


def run(epochs: int, quick: bool = False, vcz: bool = False) -> dict[str, Any]:
    """All loader rows and stage breakdowns, naive baseline first."""
    torch.set_num_threads(1)
    path = bench_store()
    configs = QUICK if quick else CONFIGS
    res: dict[str, Any] = {"store": str(path), "rows": [], "stages": []}
    res["rows"].append(naive_rate(path, epochs))
    # the same, with maskkit's chunk cache (64 MiB): every window's chunk stays decompressed
    res["rows"].append(naive_rate(path, epochs, cache_mb=64))
    for sampler, dtype in configs:
        res["rows"].append(maskkit_rate(path, sampler, dtype, epochs))
        res["stages"].append(stage_breakdown(path, sampler, dtype, 50 if quick else 200))
    # in the main process: no worker hand-over, but no overlap with the training step either
    res["rows"].append(maskkit_rate(path, *configs[0], epochs, workers=0))
    if vcz:
        local = vcz_store(path)
        for sampler, dtype in VCZ_CONFIGS:
            store = io.VcfZarrStore(local, cache_mb=VCZ_CACHE_MB)
            res["rows"].append(maskkit_rate(store, sampler, dtype, epochs, where="vcz disk, "))
        with s3_copy(local) as (url, options):
            remote = io.VcfZarrStore(url, storage_options=options, cache_mb=VCZ_CACHE_MB)
            for sampler, dtype in VCZ_CONFIGS:
                res["rows"].append(maskkit_rate(remote, sampler, dtype, epochs, where="vcz S3, "))
    # the faster naive loader is the baseline
    base = max(r["windows_per_s"] for r in res["rows"] if r["loader"].startswith("naive"))
    res["baseline_windows_per_s"] = base
    for r in res["rows"]:
        r["vs_naive"] = r["windows_per_s"] / base
    return res


def report(res: dict[str, Any], goal: float | None = None) -> None:
    print(
        f"loader: {N_SAMPLES} samples x {N_SITES:,} sites (HDF5, gzip chunks 1,024 x "
        f"{N_SAMPLES} x 2), {WINDOW:,}-site windows, batch {BATCH}, {WORKERS} workers"
    )
    first = next(i for i, r in enumerate(res["rows"]) if r["loader"].startswith("maskkit"))
    for i, r in enumerate(res["rows"]):
        ok = ""
        if goal is not None and i == first:  # the recommended setup carries the goal
            ok = "  goal met" if r["vs_naive"] >= goal else f"  goal {goal:.0f}x NOT met"
        order = r.get("order")
        if order:
            ok += (
                f"  chunks/batch {order['blocks_per_batch']:.1f}, same-window pairs "
                f"{order['same_window_pairs']:.3f}, tau {order['kendall_tau']:+.3f}"
            )
        print(
            f"  {r['loader']:<52}{r['dtype']:<17}{r['windows_per_s']:>9,.0f} windows/s"
            f"{r['vs_naive']:>7.1f}x{ok}"
        )
    for st in res["stages"]:
        us = st["us_per_batch"]
        print(
            f"  in-process, {st['loader'][9:]}, {st['dtype']}: per batch "
            + ", ".join(f"{k} {v:.0f} us" for k, v in us.items())
            + f"; {st['bytes_per_batch'] / 1024:.0f} KiB to the pipe"
            f" ({st['in_process_windows_per_s']:,} windows/s on one core)"
        )


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--json", default=None)
    p.add_argument("--vcz", action="store_true", help="also VCF Zarr rows: local disk and S3")
    p.add_argument("--quiet", action="store_true", help="print nothing (run_all.py reports)")
    args = p.parse_args(argv)
    res = run(args.epochs, args.quick, args.vcz)
    res["python"] = sys.version.split()[0]
    res["torch"] = torch.__version__
    if not args.quiet:
        report(res)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(res, fh, indent=2)


if __name__ == "__main__":
    main()
