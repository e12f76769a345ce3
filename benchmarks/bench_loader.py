"""Loader speed: windows per second through a torch DataLoader over an HDF5 store.

Run:  python benchmarks/bench_loader.py [--epochs 3] [--json out.json] [--vcz [--no-hdf5]]

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
* ``--vcz``: the same store as VCF Zarr (``call_genotype`` chunks 2,048 x 256, Blosc, ~320 KiB
  compressed each: the few hundred KiB docs/data.md advises for object storage, since each
  fetch costs milliseconds of CPU whatever its size; ``--vcz-chunk-sites 1024`` gives the
  ~160 KiB chunks of the HDF5 store's layout), read from local disk and from a local S3 server
  (moto in a process of its own on 127.0.0.1, stopped at the end; needs ``zarr``, ``s3fs``,
  ``moto[server]``), through a 4 MiB cache of decoded chunks per worker (4 of the 16 chunks, 8
  of 32 with 1,024 sites: the store does not fit, so every epoch reads), against the
  naive loader: ``WindowBatchSampler(shuffle=False)`` (in order), ``WindowBatchSampler``,
  ``shuffle=True`` (local disk only: from S3 it fetches a chunk for nearly every item),
  ``ChunkShuffleSampler`` and ``ChunkShuffleSampler(num_workers=2)`` (a chunk stream per
  worker). The S3 rows run twice: through fsspec (``vcz S3``, s3fs) and through obstore
  (``vcz S3 obstore``, ``VcfZarrStore(backend="obstore")``, needs ``obstore``), whose workers
  start with ``multiprocessing_context="forkserver"`` (obstore does not survive ``fork`` once
  the main process has used it). The rows run in ``--rounds`` interleaved rounds, the naive
  loader first in each and the others in an order rotated by one row each round, and each row's
  ratio is the median of its rounds' ratios against the same round's naive rate, so a machine
  shared with other jobs
  loads all rows alike. ``--vcz-rows chunks_workers`` runs only the named rows (each round is
  then shorter, so the naive rate is measured closer to them). Before the rounds, an in-process
  profile serves each worker's share of one epoch and counts its chunk reads and CPU time per
  batch (``time.process_time``). ``--no-hdf5`` leaves out the HDF5 rows.

The stage breakdown is an in-process pass over the same batches: HDF5 read, mask, collate,
``Batch`` of tensors (``__getitems__`` minus the rest) and packing it for the worker pipe
(``Batch.__reduce__``: one copy into one block), with the bytes a batch sends.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
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


def _cpu_seconds() -> float:
    """CPU time of this process and its descendants alive now (workers, the S3 server).

    Descendants, not only children: workers started with ``forkserver`` are children of the
    fork server. Read from ``/proc`` (Linux); without it, this process's alone.
    """
    total = time.process_time()
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    children: dict[str, list[tuple[str, float]]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended
            continue
        cpu = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
        children.setdefault(fields[1], []).append((stat.parent.name, cpu))  # by ppid
    todo = [str(os.getpid())]
    while todo:
        for pid, cpu in children.get(todo.pop(), ()):
            total += cpu
            todo.append(pid)
    return total


def _time_epochs(loader: Any, epochs: int, set_epoch: Any) -> tuple[list[float], list[float]]:
    """Windows/s and CPU microseconds per window (all processes) of each timed epoch.

    Epoch 0 is an untimed warm-up. CPU time counts the main process and its children (the
    workers, and an S3 server started by this benchmark): on a machine shared with other jobs
    it measures the loader's own cost, which wall-clock time does not.
    """
    rates, cpu = [], []
    for epoch in range(epochs + 1):
        set_epoch(epoch)
        c0, t0 = _cpu_seconds(), time.perf_counter()
        n = sum(int(b["input_ids"].shape[0]) for b in loader)
        if epoch:
            rates.append(n / (time.perf_counter() - t0))
            cpu.append((_cpu_seconds() - c0) / n * 1e6)
    return rates, cpu


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

    rates, cpu = _time_epochs(loader, epochs, set_epoch)
    del loader
    cache = "1 MiB (h5py default)" if cache_mb is None else f"{cache_mb:.0f} MiB"
    return _result(f"naive, chunk cache {cache}", "int64", rates, cpu)


def make_dataset(path: Any, dtype: Any) -> HaplotypeDataset:
    masker = mk.Masker("smart_balanced", rate=Levels(epochs_per_level=1), seed=SEED)
    return HaplotypeDataset(path, masker, windows=WINDOW, pad_to=WINDOW, dtype=dtype)


def vcz_store(h5: Path, chunk_sites: int | None = None) -> Path:
    """The benchmark store as VCF Zarr (zarr v2, Blosc).

    ``call_genotype`` chunks are ``chunk_sites`` (default `VCZ_CHUNK_SITES`) x 256 x 2.
    """
    import h5py
    import zarr

    chunk_sites = VCZ_CHUNK_SITES if chunk_sites is None else int(chunk_sites)
    # (1,024 sites: the name the store had before the chunk length was a parameter)
    path = h5.with_name(h5.stem + ("" if chunk_sites == 1024 else f"_c{chunk_sites}") + ".vcz")
    if path.exists():
        return path
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    with h5py.File(h5, "r") as f:
        gt = f["calldata/GT"][:]
        pos = f["variants/POS"][:]
    root = zarr.open_group(tmp, mode="w", zarr_format=2)
    root.create_array("call_genotype", data=gt, chunks=(chunk_sites, N_SAMPLES, PLOIDY))
    root.create_array("variant_position", data=pos, chunks=(N_SITES,))
    root.create_array("sample_id", data=np.array([f"s{i}" for i in range(N_SAMPLES)]))
    tmp.replace(path)
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def moto_server(timeout: float = 60.0) -> Any:
    """Yield the endpoint URL of a moto S3 server in its own process on 127.0.0.1 (then stop it).

    A process of its own, as an object store is: a server thread inside the benchmark would
    compete with the loader's main process for its GIL.
    """
    port = _free_port()
    cmd = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"moto server exited with {proc.returncode}: {' '.join(cmd)}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"moto server not listening on port {port} after {timeout} s")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def s3_copy(local: Path) -> Any:
    """Yield ``(url, storage_options)`` of ``local`` uploaded to a moto S3 server on 127.0.0.1."""
    import s3fs

    with moto_server() as endpoint:
        options = {
            "key": "bench",
            "secret": "bench-secret",
            "client_kwargs": {"endpoint_url": endpoint, "region_name": "eu-west-1"},
        }
        fs = s3fs.S3FileSystem(**options)
        fs.mkdir("bench")
        fs.put(str(local), "bench/store.vcz", recursive=True)
        yield "s3://bench/store.vcz", options


SAMPLER_NAMES = {
    "inorder": "WindowBatchSampler(shuffle=False)",
    "window": "WindowBatchSampler",
    "random": "shuffle=True",
    "chunks": "ChunkShuffleSampler",
    "chunks1024": "ChunkShuffleSampler(buffer=1024)",
    "chunks_workers": f"ChunkShuffleSampler(num_workers={WORKERS})",
}


def _loader(
    ds: HaplotypeDataset,
    sampler: str,
    workers: int,
    streams: int | None = None,
    context: str | None = None,
) -> tuple[Any, Any]:
    """The DataLoader and batch sampler (None for ``shuffle=True``) of ``sampler``'s row.

    ``streams``: the ``num_workers`` a per-worker ChunkShuffleSampler is built for (default
    ``workers``; the in-process profile serves each worker's share itself). ``context``: the
    workers' start method (default: torch's, ``fork`` on Linux).
    """
    common: dict[str, Any] = {
        "num_workers": workers,
        "collate_fn": ds.collate_fn,
        "persistent_workers": workers > 0,
    }
    if context is not None and workers > 0:
        common["multiprocessing_context"] = context
    if sampler in ("window", "inorder"):
        bs = WindowBatchSampler(ds, BATCH, shuffle=sampler == "window", seed=0)
        return torch.utils.data.DataLoader(ds, batch_sampler=bs, **common), bs
    if sampler.startswith("chunks"):
        buffer = int(sampler[6:]) if sampler[6:].isdigit() else None
        streams = (workers if streams is None else streams) if sampler == "chunks_workers" else 0
        bs = ChunkShuffleSampler(ds, BATCH, buffer=buffer, seed=0, num_workers=streams)
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
    path: Any,
    sampler: str,
    dtype: Any,
    epochs: int,
    workers: int = WORKERS,
    where: str = "",
    context: str | None = None,
) -> dict[str, Any]:
    ds = make_dataset(path, dtype)
    ds.__getitems__(list(range(BATCH)))  # JIT warm-up in the main process, before fork
    loader, bs = _loader(ds, sampler, workers, context=context)

    def set_epoch(e: int) -> None:
        ds.set_epoch(e)
        if bs is not None:
            bs.set_epoch(e)

    rates, cpu = _time_epochs(loader, epochs, set_epoch)
    set_epoch(0)
    order = order_randomness(ds, loader, bs)
    del loader
    name = where + SAMPLER_NAMES[sampler]
    if workers != WORKERS:
        name += f", {workers} workers"
    return {**_result(f"maskkit: {name}", _dtype_name(dtype), rates, cpu), "order": order}


def _result(name: str, dtype: str, rates: list[float], cpu: list[float]) -> dict[str, Any]:
    return {
        "loader": name,
        "dtype": dtype,
        "windows_per_s": float(np.median(rates)),
        "windows_per_s_epochs": [round(x) for x in rates],
        "cpu_us_per_window": float(np.median(cpu)),
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
#: Their cache of decoded chunks (per worker) holds 4 of the 16 chunks (1 MiB each decoded): a
#: store larger than the cache, as at biobank scale, so every epoch fetches chunks again.
VCZ_CACHE_MB = 4.0
#: Sites per ``call_genotype`` chunk of the VCF Zarr store (``--vcz-chunk-sites``): 2,048 x 256
#: samples x 2 is ~320 KiB in Blosc, the "few hundred KiB or more" docs/data.md advises for
#: object storage (1,024 sites, ~160 KiB, fetched 2x as often at the same CPU per fetch, read
#: 4.8x the naive loader from S3 against 5.5x, same run).
VCZ_CHUNK_SITES = 2048
VCZ_CONFIGS = ["inorder", "window", "random", "chunks", "chunks_workers"]
#: ``shuffle=True`` from S3 fetches a chunk for nearly every item (~40 s an epoch): left out.
VCZ_S3_CONFIGS = ["inorder", "window", "chunks", "chunks_workers"]


def vcz_profile(make_store: Any, sampler: str) -> dict[str, Any]:
    """Chunk reads and CPU time per batch of each worker's share of one epoch, in this process.

    Worker ``k`` of a DataLoader gets batches ``k, k + WORKERS, ...``; each share is served
    here by a fresh store from ``make_store()`` (an empty cache, as in a new worker), timed
    with ``time.process_time`` (CPU time of this process: the machine's other jobs do not
    count): ``read`` is the batch's first read (chunk fetches and decodes included), ``getitems``
    the whole ``__getitems__`` after it (read from the cache, mask, collate, tensors).
    """
    reads = 0
    cpu = read_cpu = 0.0
    n_batches = 0
    for k in range(WORKERS):
        ds = make_dataset(make_store(), NARROW)
        loader, bs = _loader(ds, sampler, 0, streams=WORKERS)
        order = list(bs if bs is not None else loader.batch_sampler)
        ds.__getitems__(order[0])  # JIT and handles warm
        ds.store.close()
        real = ds.store._block
        missed = [0]

        def block(ci: int, cj: int, real: Any = real, missed: list[int] = missed) -> np.ndarray:
            missed[0] += (ci, cj) not in ds.store._blocks
            return real(ci, cj)

        ds.store._block = block
        share = order[k::WORKERS]
        for b in share:
            t0 = time.process_time()
            sample, win, _ = ds.locate(b)
            ds.read(sample, win)
            t1 = time.process_time()
            ds.__getitems__(b)
            t2 = time.process_time()
            read_cpu += t1 - t0
            cpu += t2 - t1
        # the read pass filled the cache: __getitems__ timed mask + collate + a cached read
        reads += missed[0]
        n_batches += len(share)
    vc, sc = io.store_chunks(ds.store)
    return {
        "sampler": SAMPLER_NAMES[sampler],
        "chunk_reads_per_epoch": reads,
        "store_chunks": -(-N_SITES // vc) * -(-N_SAMPLES // sc),
        "read_us_per_batch": round(read_cpu / n_batches * 1e6),
        "getitems_us_per_batch": round(cpu / n_batches * 1e6),
    }


def run_vcz(
    epochs: int, rounds: int, chunk_sites: int | None = None, rows: list[str] | None = None
) -> dict[str, Any]:
    """Naive (HDF5) against maskkit from VCF Zarr on local disk and on S3, interleaved.

    Every round measures each loader once (one untimed epoch, then ``epochs``), naive first,
    then the maskkit rows, their order rotated by one row each round (no row always runs last,
    furthest from the naive one), so all rows see the same machine load; a row's ratio is the
    median over rounds of its rate against the same round's naive rate. ``rows``: the sampler
    rows (keys of `SAMPLER_NAMES`) to run, default all of `VCZ_CONFIGS`.
    """
    torch.set_num_threads(1)
    path = bench_store()
    chunk_sites = VCZ_CHUNK_SITES if chunk_sites is None else int(chunk_sites)
    local = vcz_store(path, chunk_sites)
    res: dict[str, Any] = {"vcz_rows": [], "vcz_profile": [], "vcz_chunk_sites": chunk_sites}
    rates: dict[str, list[float]] = {}
    ratios: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    order_of: dict[str, dict[str, float]] = {}
    with s3_copy(local) as (url, options):
        stores = {
            "vcz disk": lambda: io.VcfZarrStore(local, cache_mb=VCZ_CACHE_MB),
            "vcz S3": lambda: io.VcfZarrStore(url, storage_options=options, cache_mb=VCZ_CACHE_MB),
            "vcz S3 obstore": lambda: io.VcfZarrStore(
                url, storage_options=options, backend="obstore", cache_mb=VCZ_CACHE_MB
            ),
        }
        keep = VCZ_CONFIGS if rows is None else rows
        plan = [("vcz disk", c) for c in VCZ_CONFIGS if c in keep]
        plan += [("vcz S3", c) for c in VCZ_S3_CONFIGS if c in keep]
        plan += [("vcz S3 obstore", c) for c in VCZ_S3_CONFIGS if c in keep]
        for where, sampler in plan:
            res["vcz_profile"].append({"store": where, **vcz_profile(stores[where], sampler)})
        for r in range(rounds):
            naive = naive_rate(path, epochs, cache_mb=64)
            base = naive["windows_per_s"]
            rates.setdefault(naive["loader"], []).extend(naive["windows_per_s_epochs"])
            ratios.setdefault(naive["loader"], []).append(1.0)
            cpu.setdefault(naive["loader"], []).append(naive["cpu_us_per_window"])
            for where, sampler in plan[r % len(plan) :] + plan[: r % len(plan)]:
                # obstore's runtime does not survive fork once this process has used it
                context = "forkserver" if where.endswith("obstore") else None
                row = maskkit_rate(
                    stores[where](), sampler, NARROW, epochs, where=where + ", ", context=context
                )
                print(f"  {row['loader']}: {row['windows_per_s']:,.0f} windows/s", file=sys.stderr)
                rates.setdefault(row["loader"], []).extend(row["windows_per_s_epochs"])
                ratios.setdefault(row["loader"], []).append(row["windows_per_s"] / base)
                cpu.setdefault(row["loader"], []).append(row["cpu_us_per_window"])
                order_of[row["loader"]] = row["order"]
    naive_cpu = float(np.median(next(iter(cpu.values()))))
    for name, values in rates.items():
        res["vcz_rows"].append({
            "loader": name,
            "windows_per_s": float(np.median(values)),
            "windows_per_s_epochs": [round(x) for x in values],
            "vs_naive": float(np.median(ratios[name])),
            "vs_naive_rounds": [round(x, 2) for x in ratios[name]],
            "cpu_us_per_window": float(np.median(cpu[name])),
            "cpu_vs_naive": naive_cpu / float(np.median(cpu[name])),
            **({"order": order_of[name]} if name in order_of else {}),
        })  # fmt: skip
    return res


def run(
    epochs: int,
    quick: bool = False,
    vcz: bool = False,
    hdf5: bool = True,
    rounds: int = 3,
    vcz_chunk_sites: int | None = None,
    vcz_rows: list[str] | None = None,
) -> dict[str, Any]:
    """All loader rows and stage breakdowns, naive baseline first."""
    torch.set_num_threads(1)
    path = bench_store()
    res: dict[str, Any] = {"store": str(path), "rows": [], "stages": []}
    if hdf5:
        configs = QUICK if quick else CONFIGS
        res["rows"].append(naive_rate(path, epochs))
        # the same, with maskkit's chunk cache (64 MiB): every window's chunk stays decompressed
        res["rows"].append(naive_rate(path, epochs, cache_mb=64))
        for sampler, dtype in configs:
            res["rows"].append(maskkit_rate(path, sampler, dtype, epochs))
            res["stages"].append(stage_breakdown(path, sampler, dtype, 50 if quick else 200))
        # in the main process: no worker hand-over, but no overlap with the training step either
        res["rows"].append(maskkit_rate(path, *configs[0], epochs, workers=0))
        # the faster naive loader is the baseline
        base = max(r["windows_per_s"] for r in res["rows"] if r["loader"].startswith("naive"))
        res["baseline_windows_per_s"] = base
        for r in res["rows"]:
            r["vs_naive"] = r["windows_per_s"] / base
    if vcz:
        res.update(run_vcz(epochs, rounds, vcz_chunk_sites, vcz_rows))
    return res


def report(res: dict[str, Any], goal: float | None = None) -> None:
    print(
        f"loader: {N_SAMPLES} samples x {N_SITES:,} sites (HDF5, gzip chunks 1,024 x "
        f"{N_SAMPLES} x 2), {WINDOW:,}-site windows, batch {BATCH}, {WORKERS} workers"
    )
    first = next((i for i, r in enumerate(res["rows"]) if r["loader"].startswith("maskkit")), -1)
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
    if res.get("vcz_rows"):
        print(
            f"VCF Zarr (call_genotype chunks {res.get('vcz_chunk_sites', 1024):,} x {N_SAMPLES} x "
            f"{PLOIDY}, {VCZ_CACHE_MB:.0f} MiB cache of decoded chunks per worker) against the "
            "naive HDF5 loader, interleaved rounds:"
        )
        for r in res["vcz_rows"]:
            order = r.get("order")
            extra = ""
            if order:
                extra = (
                    f"  chunks/batch {order['blocks_per_batch']:.1f}, same-window pairs "
                    f"{order['same_window_pairs']:.3f}, tau {order['kendall_tau']:+.3f}"
                )
            rounds = "/".join(f"{x:.1f}" for x in r["vs_naive_rounds"])
            print(
                f"  {r['loader']:<52}{r['windows_per_s']:>9,.0f} windows/s"
                f"{r['vs_naive']:>6.1f}x (rounds {rounds}); CPU {r['cpu_us_per_window']:.0f} us"
                f"/window, {r['cpu_vs_naive']:.1f}x less{extra}"
            )
        for p in res["vcz_profile"]:
            print(
                f"  in-process, {p['store']}, {p['sampler']}: {p['chunk_reads_per_epoch']} chunk "
                f"reads an epoch ({p['store_chunks']} chunks, {WORKERS} workers); CPU per batch: "
                f"first read {p['read_us_per_batch']} us, "
                f"__getitems__ {p['getitems_us_per_batch']} us"
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
    p.add_argument("--no-hdf5", dest="hdf5", action="store_false", help="only the --vcz rows")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds of the --vcz rows")
    p.add_argument(
        "--vcz-chunk-sites",
        type=int,
        default=VCZ_CHUNK_SITES,
        help=f"sites per call_genotype chunk of the VCF Zarr store (default {VCZ_CHUNK_SITES})",
    )
    p.add_argument(
        "--vcz-rows",
        default=None,
        help="comma-separated --vcz sampler rows to run (default all): " + ",".join(VCZ_CONFIGS),
    )
    p.add_argument("--quiet", action="store_true", help="print nothing (run_all.py reports)")
    args = p.parse_args(argv)
    vcz_rows = None if args.vcz_rows is None else args.vcz_rows.split(",")
    unknown = sorted(set(vcz_rows or ()) - set(VCZ_CONFIGS))
    if unknown:
        p.error(f"--vcz-rows: unknown {unknown}; choose from {','.join(VCZ_CONFIGS)}")
    res = run(
        args.epochs, args.quick, args.vcz, args.hdf5, args.rounds, args.vcz_chunk_sites, vcz_rows
    )
    res["python"] = sys.version.split()[0]
    res["torch"] = torch.__version__
    if not args.quiet:
        report(res)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(res, fh, indent=2)


if __name__ == "__main__":
    main()
