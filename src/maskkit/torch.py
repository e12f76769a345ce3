"""PyTorch adapter: a map-style Dataset of masked haplotype windows, worker- and DDP-correct.

This is the only maskkit module that imports torch; ``import maskkit`` never does. Without
torch, importing this module raises ImportError with the install hint.

One dataset item is one *(sample, window)* pair. Its mask is keyed by
``key = sample * n_windows + window`` (``sample`` = the sample's position in the store, not in
the ``samples`` subset; ``window`` = the window's number), passed to the [`Masker`][maskkit.Masker]
as the global sample index. A mask is therefore a pure function of
``(seed, epoch, sample, window)``: never of the batch, batch position, worker, rank or world size.

Item ``i`` of the dataset is window ``i // len(samples)``, sample ``samples[i % len(samples)]``
(window-major), so a sequential sampler already reads one window per batch.

Examples
--------
>>> import pathlib, shutil, tempfile
>>> import torch, maskkit as mk
>>> from maskkit import io
>>> from maskkit.torch import HaplotypeDataset
>>> tmp = pathlib.Path(tempfile.mkdtemp())
>>> demo = io.simulate_demo(tmp / "demo", n_diploids=9, length=30_000, seed=7, verbose=False)
>>> masker = mk.Masker("smart_balanced", rate=0.3, seed=1)
>>> ds = HaplotypeDataset(demo.store, masker, windows=64)
>>> loader = torch.utils.data.DataLoader(ds, batch_size=4, collate_fn=ds.collate_fn)
>>> batch = next(iter(loader))
>>> batch["input_ids"].shape[:2], batch["labels"].dtype
(torch.Size([4, 2]), torch.int64)
>>> shutil.rmtree(tmp)
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import KW_ONLY, dataclass, field, replace
from multiprocessing.reduction import ForkingPickler
from typing import Any, NamedTuple

import numpy as np

try:
    import torch
    import torch.utils.data
except ImportError as _exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        "maskkit.torch needs PyTorch, which is not installed; install it with: "
        'pip install "maskkit[torch]"'
    ) from _exc

from . import _blocks, tokens
from . import freq as _freq
from ._narrow import narrow, narrow_int
from ._sync import SharedMemoryChannel, StallCheck, SyncChannel
from ._sync import share as _share
from .masker import Masker

__all__ = [
    "Batch",
    "ChunkShuffleSampler",
    "HaplotypeDataset",
    "MaskingCollator",
    "WindowBatchSampler",
    "WorkerInfo",
    "collate_fn",
    "share",
    "worker_info",
]

# Values that extend each output of mk.collate to a wider batch (padding).
_PAD_VALUES: dict[str, int | bool] = {
    "input_ids": tokens.PAD,
    "labels": tokens.IGNORE_INDEX,
    "attention_mask": 0,
    "mask": False,
    "haplotypes": 0,
}
# Per-item integers carried next to the collated arrays.
_META = ("index", "sample", "window", "key", "length", "start")
# What HaplotypeDataset needs of a store (HaplotypeStore, maskkit.io.ArrayStore, ...).
_STORE_API = ("read", "n_sites", "n_samples", "ploidy", "samples")


def _rebuild_batch(buf: torch.Tensor, layout: _blocks.Layout) -> Batch:
    return Batch(_blocks.unpack(buf, layout))


def _rebuild_batch_from_block(*args: Any) -> Batch:
    return Batch(_blocks.rebuild_from_block(*args))


class Batch(dict[str, torch.Tensor]):
    """A dict of tensors that crosses process boundaries as one shared-memory block.

    The DataLoader sends every tensor of a worker's batch through its own shared-memory
    segment and file descriptor; nine small tensors cost more than the whole batch's work.
    A Batch is sent as one packed block instead. From a DataLoader worker the block is one of a
    few the worker reuses: its descriptor crosses once, and the main process copies each batch
    out of it and frees it for the next batch. Pickled anywhere else (``pickle``,
    ``torch.save``) a Batch packs its tensors into one fresh block. In the main process
    (``num_workers=0``) it is just a dict.

    Examples
    --------
    >>> import pickle, torch
    >>> from maskkit.torch import Batch
    >>> b = Batch(ids=torch.arange(6).view(2, 3), mask=torch.tensor([True, False]))
    >>> c = pickle.loads(pickle.dumps(b))
    >>> type(c).__name__, c["ids"].tolist(), c["mask"].tolist()
    ('Batch', [[0, 1, 2], [3, 4, 5]], [True, False])
    """

    def _packable(self) -> bool:
        return all(isinstance(t, torch.Tensor) and t.device.type == "cpu" for t in self.values())

    def __reduce__(self) -> tuple[Any, ...]:
        if not self._packable():
            return (Batch, (dict(self),))  # packing is for CPU tensors only
        layout, total = _blocks.layout_of(self)
        buf = torch.empty(total, dtype=torch.uint8)
        if torch.utils.data.get_worker_info() is not None:
            buf.share_memory_()  # the DataLoader queue would copy it there anyway
        _blocks.pack(self, layout, buf)
        return (_rebuild_batch, (buf, layout))

    def __copy__(self) -> Batch:
        return Batch(self)

    def __missing__(self, key: Any) -> torch.Tensor:
        hint = ""
        if isinstance(key, (int, np.integer)):
            hint = (
                " (torch's default collate indexes batches as lists: pass "
                "collate_fn=dataset.collate_fn to the DataLoader)"
            )
        raise KeyError(f"{key!r}: a Batch has keys {sorted(self)}{hint}")


def _reduce_for_queue(batch: Batch) -> tuple[Any, ...]:
    """How a Batch crosses a multiprocessing queue: through a worker's reused block if it can."""
    args = _blocks.reduce_in_worker(batch) if batch._packable() else None
    if args is None:
        return batch.__reduce__()
    return (_rebuild_batch_from_block, args)


ForkingPickler.register(Batch, _reduce_for_queue)


def share(masker: Masker) -> SyncChannel:
    """Make ``masker``'s curriculum reach its copies in DataLoader workers; return the channel.

    Attaches a [`SharedMemoryChannel`][maskkit._sync.SharedMemoryChannel], the channel of
    [`maskkit.share`][] (or returns the process-shared one already attached): every
    ``set_epoch``, ``set_step``, ``step``, ``update`` and ``load_state_dict`` in this process
    is published, and a copy in a worker (persistent or not, fork or spawn) reads it before
    each mask. Call it before building the DataLoader, and call ``set_epoch`` before
    ``iter(loader)`` (batches prefetched earlier keep the old state).
    [`MaskingCollator`][maskkit.torch.MaskingCollator] and
    [`HaplotypeDataset`][maskkit.torch.HaplotypeDataset] call it for you; call it yourself when your
    own Dataset holds the Masker.

    Examples
    --------
    >>> import maskkit as mk
    >>> from maskkit.curriculum import Levels
    >>> from maskkit.torch import share
    >>> masker = mk.Masker("random", rate=Levels([0.2, 0.4], epochs_per_level=1), seed=0)
    >>> channel = share(masker)
    >>> masker.set_epoch(1)
    >>> channel.read(), share(masker) is channel, mk.share(masker) is channel
    ((1, 0), True, True)
    """
    if not isinstance(masker, Masker):
        raise TypeError(f"masker must be a maskkit.Masker, got {type(masker).__name__}")
    return _share(masker)


def __getattr__(name: str) -> Any:
    # SharedChannel was a torch-tensor channel; the /dev/shm file of SharedMemoryChannel reads
    # 2.8x and publishes 19x faster (benchmarks/bench_sync.py, docs/benchmarks.md)
    if name == "SharedChannel":
        warnings.warn(
            "maskkit.torch.SharedChannel is deprecated: it is maskkit._sync.SharedMemoryChannel, "
            "the channel that maskkit.torch.share and maskkit.share attach; use share(masker) or "
            "SharedMemoryChannel",
            DeprecationWarning,
            stacklevel=2,
        )
        return SharedMemoryChannel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class WorkerInfo(NamedTuple):
    """Where this code runs: DDP rank and world size, local rank, DataLoader worker.

    Examples
    --------
    >>> WorkerInfo(rank=0, world_size=1, local_rank=0, worker=0, num_workers=0).world_size
    1
    """

    rank: int
    world_size: int
    local_rank: int
    worker: int
    num_workers: int


def worker_info() -> WorkerInfo:
    """Return the DDP rank / world size and the DataLoader worker of the calling process.

    Rank and world size come from an initialised ``torch.distributed`` process group, else from
    the ``RANK`` / ``WORLD_SIZE`` environment variables ``torchrun`` sets (default 0 / 1);
    ``LOCAL_RANK`` likewise; the worker from `torch.utils.data.get_worker_info` (0 / 1 in
    the main process). maskkit's masks never depend on any of these; the
    [`WindowBatchSampler`][maskkit.torch.WindowBatchSampler] uses rank and world size to split
    batches.

    Examples
    --------
    >>> from maskkit.torch import worker_info
    >>> worker_info().worker, worker_info().num_workers
    (0, 1)
    """
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        rank, world = int(dist.get_rank()), int(dist.get_world_size())
    else:
        rank = int(os.environ.get("RANK", "0"))
        world = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    info = torch.utils.data.get_worker_info()
    worker, num_workers = (int(info.id), int(info.num_workers)) if info is not None else (0, 1)
    return WorkerInfo(rank, world, local_rank, worker, num_workers)


def _as_windows(windows: Any, n_sites: int) -> np.ndarray:
    """Window bounds ``(n, 2)`` int64 from a Windows, an int size, a path or an array."""
    from .io import Windows

    if isinstance(windows, (bool, np.bool_)):
        raise TypeError(
            f"windows must be a Windows, an int size or (start, stop) pairs, got {windows!r}"
        )
    if isinstance(windows, (int, np.integer)):
        w = Windows.fixed(n_sites, int(windows))
    elif isinstance(windows, Windows):
        w = windows
    elif isinstance(windows, (str, os.PathLike)):
        w = Windows.from_csv(windows)
    else:
        w = Windows(np.asarray(windows))
    return np.array(w.validate(n_sites).bounds, dtype=np.int64)


def _site_freq(freq: Any, masker: Masker, n_sites: int) -> np.ndarray | None:
    """Check ``freq=`` of a dataset against its Masker's rule and the store's sites."""
    takes = "freq" in masker.rule.inputs
    source = "freq"
    if freq is None and takes:
        freq = getattr(masker.rule, "freq", None)  # the rule's own, sliced window by window
        source = "the rule's freq"
        if freq is None:
            raise ValueError(
                f"the Masker's rule kind={masker.rule.kind!r} needs site frequencies: pass "
                "freq= (shape (n_sites,)), e.g. maskkit.io.alt_allele_frequency(store, "
                "train_samples)"
            )
    if freq is None:
        return None
    if not takes:
        raise ValueError(
            f"freq= is for rules that take site frequencies; the Masker's rule "
            f"kind={masker.rule.kind!r} does not: drop freq="
        )
    f = _freq.maf(freq, name="freq")  # dtype and range check
    if f.shape != (n_sites,):
        raise ValueError(
            f"{source} must have shape (n_sites,) = ({n_sites},) (one frequency per store "
            f"site), got {f.shape}"
        )
    out = np.asarray(freq, dtype=np.float64).copy()
    out.setflags(write=False)
    return out


def _as_samples(samples: Any, store: Any) -> np.ndarray:
    """Store positions (int64) of ``samples``: None (all), ints, or names."""
    if samples is None:
        return np.arange(store.n_samples, dtype=np.int64)
    arr = np.asarray(samples)
    if arr.ndim != 1:
        raise ValueError(f"samples must be 1-D (store positions or names), got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError("samples is empty; pass at least one sample (or None for all)")
    if arr.dtype.kind in "OUS":
        names = {str(n): i for i, n in enumerate(store.samples.tolist())}
        missing = [str(s) for s in arr.tolist() if str(s) not in names]
        if missing:
            raise KeyError(f"samples not in the store: {missing[:5]} ({len(missing)} in all)")
        return np.asarray([names[str(s)] for s in arr.tolist()], dtype=np.int64)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"samples must be integer store positions or names, got dtype {arr.dtype}")
    idx = arr.astype(np.int64)
    if idx.min() < 0 or idx.max() >= store.n_samples:
        raise IndexError(
            f"samples must be store positions in [0, {store.n_samples}), "
            f"got min {idx.min()} and max {idx.max()}"
        )
    return idx


class HaplotypeDataset(torch.utils.data.Dataset[Batch]):
    """Masked, tokenized ``(sample, window)`` items of a haplotype store.

    Each item reads its window of both haplotypes of a sample, draws the mask with the
    [`Masker`][maskkit.Masker] on the real (unpadded) sites, then pads and tokenizes with
    [`maskkit.collate`][maskkit.collate.collate]. A DataLoader batch is fetched by
    [`__getitems__`][maskkit.torch.HaplotypeDataset.__getitems__]: one HDF5 read per distinct window
    in the batch (one per batch with a [`WindowBatchSampler`][maskkit.torch.WindowBatchSampler]).

    Parameters
    ----------
    store : path, HaplotypeStore, ArrayStore or numpy array
        A scikit-allel-layout HDF5 file or an open [`maskkit.io.HaplotypeStore`][] (the
        h5py handle is (re)opened lazily in each worker process, never shared); or data in
        memory: a ``(samples, ploidy, sites)`` allele array, or a
        [`maskkit.io.ArrayStore`][] for per-sample lengths, positions and sample names.
    masker : Masker
        The main process's Masker; the dataset keeps a reference, so ``masker.update(metric)``
        is seen at the next [`set_epoch`][maskkit.torch.HaplotypeDataset.set_epoch] /
        [`sync`][maskkit.torch.HaplotypeDataset.sync].
    windows : Windows, int, path or array of (start, stop)
        The windows: a [`maskkit.io.Windows`][], a window size in sites (``Windows.fixed``),
        a windows CSV, or ``(n, 2)`` half-open site ranges.
    samples : sequence of int or str, optional
        Store positions (e.g. ``split.train``) or names of the samples to serve; default all.
    frozen : bool, default False
        Validation mode: masks are the same every epoch (the Masker's
        [`frozen`][maskkit.masker.Masker.frozen] copy at its current rates, unless it already has a
        ``fixed_epoch``).
    pad_to
        Passed to [`maskkit.collate`][maskkit.collate.collate]; the window size gives fixed
        shapes.
    pad_to_multiple_of
        Passed to [`maskkit.collate`][maskkit.collate.collate].
    replace
        Passed to [`maskkit.collate`][maskkit.collate.collate].
    n_alleles
        Passed to [`maskkit.collate`][maskkit.collate.collate].
    dtype
        Passed to [`maskkit.collate`][maskkit.collate.collate].
    freq : float array of shape (n_sites,), optional
        Per-site alternate-allele frequencies of the store, for rules that take ``freq`` per
        batch ([`maskkit.rules.AlleleFrequency`][], ``"af_aware"``): each item gets its
        window's slice. Default: the rule's own ``freq`` (one per store site). Required by such
        rules, refused by the others. Compute them from the
        training samples only, e.g. ``maskkit.io.alt_allele_frequency(store, split.train)``,
        so validation genotypes do not leak into the masks.
    haplotypes : bool, default False
        Also return the unmasked alleles as ``haplotypes`` (``(batch, ploidy, width)`` int8, zero
        past each row's ``length`` like [`read`][maskkit.torch.HaplotypeDataset.read]), for trainers
        that need the true alleles next to the mask (e.g. to re-tokenize with their own site mask,
        or to build retrieval queries from the visible sites).

    Notes
    -----
    Batches are dicts of tensors: ``input_ids``, ``labels``, ``attention_mask``, ``mask``
    (each ``(batch, ploidy, width)``), and ``index`` (dataset item), ``sample`` (store
    position), ``window``, ``key`` (the mask key ``sample * n_windows + window``) and
    ``length`` (real sites) and ``start`` (the window's first site: item site ``j`` is store
    site ``start + j``, at ``store.positions[start + j]``), each ``(batch,)`` int64; with
    ``haplotypes=True`` also ``haplotypes``. `bounds` holds every window's
    ``(start, stop)``.

    Examples
    --------
    >>> import numpy as np, maskkit as mk
    >>> from maskkit.torch import HaplotypeDataset
    >>> import pathlib, shutil, tempfile
    >>> from maskkit import io
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> demo = io.simulate_demo(tmp / "d", n_diploids=6, length=20_000, seed=3, verbose=False)
    >>> ds = HaplotypeDataset(demo.store, mk.Masker("random", rate=0.15, seed=0), windows=8)
    >>> item = ds[0]
    >>> item["input_ids"].shape, int(item["window"]), int(item["sample"])
    (torch.Size([2, 8]), 0, 0)
    >>> ds.set_epoch(1)
    >>> shutil.rmtree(tmp)
    """

    def __init__(
        self,
        store: Any,
        masker: Masker,
        windows: Any,
        *,
        samples: Sequence[int] | Sequence[str] | np.ndarray | None = None,
        frozen: bool = False,
        pad_to: int | None = None,
        pad_to_multiple_of: int | None = None,
        replace: tuple[float, float, float] | None = None,
        n_alleles: int = 2,
        dtype: Any = np.int64,
        haplotypes: bool = False,
        freq: Any = None,
    ) -> None:
        from .io import ArrayStore, open_store

        if not isinstance(masker, Masker):
            raise TypeError(f"masker must be a maskkit.Masker, got {type(masker).__name__}")
        if isinstance(store, np.ndarray):
            store = ArrayStore(store)
        elif not all(hasattr(store, name) for name in _STORE_API):
            store = open_store(store, verbose=False)
        self.store = store
        #: Window ``(start, stop)`` site ranges, ``(n_windows, 2)`` int64 (read-only).
        self.bounds = _as_windows(windows, self.store.n_sites)
        self.bounds.setflags(write=False)
        self.samples = _as_samples(samples, self.store)
        self.samples.setflags(write=False)
        self.frozen = bool(frozen)
        if self.frozen and masker.fixed_epoch is None:
            masker = masker.frozen()
        self.masker = masker
        self.collate_kwargs: dict[str, Any] = {
            "pad_to": pad_to,
            "pad_to_multiple_of": pad_to_multiple_of,
            "replace": replace,
            "n_alleles": n_alleles,
            "dtype": dtype,
        }
        self.haplotypes = bool(haplotypes)
        #: Per-site alternate-allele frequencies passed to the rule window by window (or None).
        self.freq = _site_freq(freq, masker, self.store.n_sites)
        # Shared with every DataLoader worker (fork or spawn): (epoch, step, plateau levels).
        self.channel = share(masker)
        # one ERROR if a non-constant curriculum masks the same items again at the same state
        self._stall = StallCheck()

    # ------------------------------------------------------------------ sizes

    @property
    def n_windows(self) -> int:
        """Number of windows."""
        return int(self.bounds.shape[0])

    @property
    def n_samples(self) -> int:
        """Number of samples served (``len(samples)``)."""
        return int(self.samples.shape[0])

    def __len__(self) -> int:
        return self.n_samples * self.n_windows

    def locate(self, index: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return ``(sample, window, key)`` (int64 arrays) of dataset items ``index``.

        ``sample`` is the store position, ``key = sample * n_windows + window`` keys the mask.
        """
        idx = np.asarray(index)
        if idx.size == 0:
            idx = idx.astype(np.int64)
        if idx.dtype == np.bool_ or not np.issubdtype(idx.dtype, np.integer):
            raise TypeError(f"dataset indices must be integers, got {idx.dtype}")
        idx = narrow(idx, np.int64, "dataset indices").reshape(-1)
        if idx.size and (idx.min() < 0 or idx.max() >= len(self)):
            raise IndexError(
                f"dataset index out of range [0, {len(self)}): got min {idx.min()}, "
                f"max {idx.max()} ({self.n_samples} samples x {self.n_windows} windows)"
            )
        window = idx // self.n_samples
        sample = self.samples[idx % self.n_samples]
        return sample, window, sample * self.n_windows + window

    # ------------------------------------------------------------------ state

    def sync(self) -> None:
        """Publish the Masker's epoch, step and plateau levels to the DataLoader workers.

        The Masker publishes by itself on ``set_epoch``, ``step``, ``update`` and
        ``load_state_dict`` (see [`share`][maskkit.torch.share]); call this after changing a
        schedule object directly (e.g. ``masker.schedule.set_level(2)``). Workers read the values
        before every batch, so change the state before ``iter(loader)`` (like
        ``DistributedSampler.set_epoch``): batches prefetched earlier keep the old state.
        """
        self.channel.publish(self.masker.sync_state())

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch of the Masker and of every (persistent) worker's copy.

        Examples
        --------
        >>> import numpy as np, maskkit as mk
        >>> from maskkit.torch import HaplotypeDataset
        >>> from maskkit.curriculum import Levels
        >>> import pathlib, shutil, tempfile
        >>> from maskkit import io
        >>> tmp = pathlib.Path(tempfile.mkdtemp())
        >>> demo = io.simulate_demo(tmp / "e", n_diploids=6, length=20_000, seed=3, verbose=False)
        >>> masker = mk.Masker("smart_balanced", rate=Levels(epochs_per_level=1), seed=0)
        >>> ds = HaplotypeDataset(demo.store, masker, windows=32)
        >>> ds.set_epoch(2)
        >>> masker.epoch, masker.current_rates()
        (2, (0.5, 0.7))
        >>> shutil.rmtree(tmp)
        """
        self.masker.set_epoch(epoch)

    def state_dict(self) -> dict[str, Any]:
        """Return the Masker's state (configuration, epoch, step, schedule state; JSON types)."""
        return {"masker": self.masker.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the Masker's state from `state_dict` and publish it to the workers."""
        if not isinstance(state, dict) or "masker" not in state:
            raise ValueError(
                "state must be the dict HaplotypeDataset.state_dict() returned, with key "
                f"'masker'; got {type(state).__name__}"
                + (f" with keys {sorted(state)}" if isinstance(state, dict) else "")
            )
        self.masker.load_state_dict(state["masker"])

    # ------------------------------------------------------------------ reading

    def read(self, sample: np.ndarray, window: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(haps, lengths)`` of store positions ``sample`` in windows ``window``.

        ``haps`` is ``(n, ploidy, max length)`` int8, zero past each row's window (padding the
        Masker never masks); the store is read once per distinct window.
        """
        starts = self.bounds[window, 0]
        lengths = self.bounds[window, 1] - starts
        real = getattr(self.store, "lengths", None)  # per-sample real sites (ArrayStore)
        if real is not None:
            lengths = np.clip(real[sample] - starts, 0, lengths)
        haps = self._by_window(
            window, (self.store.ploidy,), np.int8,
            lambda rows, s, e: self.store.read(sample[rows], s, e),
        )  # fmt: skip
        return haps, lengths

    def _by_window(self, window: np.ndarray, lead: tuple[int, ...], dtype: Any, take: Any) -> Any:
        """Stack ``take(rows, start, stop)`` of each distinct window of a batch.

        One call, returned as is, when the batch holds one window; otherwise an array
        ``(n, *lead, max length)`` of ``dtype``, zero past each row's window.
        """
        uniq = np.unique(window)
        if uniq.size == 1:
            s, e = self.bounds[uniq[0]]
            return take(slice(None), int(s), int(e))
        width = int((self.bounds[window, 1] - self.bounds[window, 0]).max()) if uniq.size else 0
        out = np.zeros((window.size, *lead, width), dtype=dtype)
        for w in uniq.tolist():
            rows = np.flatnonzero(window == w)
            s, e = self.bounds[w]
            out[rows, ..., : e - s] = take(rows, int(s), int(e))
        return out

    def __getitems__(self, indices: Sequence[int]) -> Batch:
        """Return the collated batch of dataset items ``indices`` (DataLoader's batched path)."""
        sample, window, key = self.locate(indices)
        idx = np.asarray(indices).reshape(-1).astype(np.int64)  # integers, checked by locate
        haps, lengths = self.read(sample, window)
        freq = self.freq
        inputs: dict[str, Any] = {}
        if freq is not None:  # aligned with haps: (sites,) or (rows, sites)
            inputs["freq"] = self._by_window(window, (), np.float64, lambda _, s, e: freq[s:e])
        arrays = self.masker.batch(
            haps, lengths=lengths, indices=key, **inputs, **self.collate_kwargs
        )
        self._stall.observe(self.masker, key)
        out = Batch((name, torch.from_numpy(a)) for name, a in arrays.items())
        if self.haplotypes:
            shape = arrays["mask"].shape
            full = np.zeros(shape, dtype=np.int8)
            w = min(shape[-1], haps.shape[-1])
            full[..., :w] = haps[..., :w]
            out["haplotypes"] = torch.from_numpy(full)
        start = self.bounds[window, 0]
        for name, a in zip(_META, (idx, sample, window, key, lengths, start)):
            out[name] = torch.from_numpy(np.ascontiguousarray(a, dtype=np.int64))
        return out

    def __getitem__(self, index: int) -> Batch:
        """Return one item: tensors ``(ploidy, width)`` and 0-d ``index``/``sample``/... ."""
        if isinstance(index, (bool, np.bool_)) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"index must be an int, got {index!r}")
        return Batch((k, v[0]) for k, v in self.__getitems__([int(index)]).items())

    @property
    def collate_fn(self) -> Any:
        """The DataLoader ``collate_fn`` for this dataset: [`maskkit.torch.collate_fn`][]."""
        return collate_fn

    def __repr__(self) -> str:
        return (
            f"HaplotypeDataset({str(self.store.path)!r}, samples={self.n_samples}, "
            f"windows={self.n_windows}, frozen={self.frozen}, masker={self.masker!r})"
        )


def collate_fn(batch: Any) -> Batch:
    """Collate [`HaplotypeDataset`][maskkit.torch.HaplotypeDataset] output for a DataLoader.

    A dict (a batch from
    [`HaplotypeDataset.__getitems__`][maskkit.torch.HaplotypeDataset.__getitems__]) is returned as
    is; a list of items (from ``dataset[i]``) is padded to the widest item with the padding values
    of [`maskkit.collate`][maskkit.collate.collate] and stacked, which gives the same tensors as the
    batched path.

    Examples
    --------
    >>> import torch
    >>> from maskkit.torch import collate_fn
    >>> a = {"input_ids": torch.tensor([[3, 4]]), "labels": torch.tensor([[-100, 1]])}
    >>> b = {"input_ids": torch.tensor([[3]]), "labels": torch.tensor([[0]])}
    >>> out = collate_fn([a, b])
    >>> out["input_ids"].tolist(), out["labels"].tolist()
    ([[[3, 4]], [[3, 0]]], [[[-100, 1]], [[0, -100]]])
    """
    if isinstance(batch, Batch):
        return batch
    if isinstance(batch, dict):
        return Batch(batch)
    items = list(batch)
    if not items or not all(isinstance(x, dict) for x in items):
        raise TypeError(
            "collate_fn expects a batch dict from HaplotypeDataset.__getitems__ or a non-empty "
            f"list of item dicts, got {type(batch).__name__}"
        )
    out = Batch()
    for name in items[0]:
        values = [x[name] for x in items]
        if name in _PAD_VALUES and values[0].dim() > 0:
            width = max(int(t.shape[-1]) for t in values)
            fill = _PAD_VALUES[name]
            values = [
                t
                if t.shape[-1] == width
                else torch.nn.functional.pad(t, (0, width - int(t.shape[-1])), value=fill)
                for t in values
            ]
        out[name] = torch.stack(values)
    return out


def _as_array(value: Any) -> np.ndarray:
    return value.numpy() if isinstance(value, torch.Tensor) else np.asarray(value)


_ALLELE_FIX = (
    "alleles are 0 (ref), 1.. (alt) or negative (missing): pass integer allele indices, "
    "not tokens or floats"
)


def _item_int(value: Any, name: str) -> int:
    """One integer of an item (a Python, NumPy or 0-d tensor integer); floats are refused."""
    if type(value) is int and -(2**63) <= value < 2**63:
        return value  # the common case, checked without the detour through NumPy
    arr = _as_array(value)
    if arr.ndim != 0:
        raise TypeError(f"{name} must be one integer per item, got shape {arr.shape}")
    return narrow_int(arr[()], np.int64, name, fix="pass the integer, not a float or a bool")


def _stack_alleles(arrays: Sequence[np.ndarray], name: str) -> np.ndarray:
    """Stack allele arrays, zero-padded to the longest, in the narrowest signed dtype fitting all.

    Any negative allele is a missing call and is stored as ``-1`` (so int16 ``-255`` stays
    missing instead of wrapping to an allele); other values keep their exact value, int8 when
    they fit, else a wider type (alleles above ``n_alleles`` are then refused by name by
    [`maskkit.collate`][maskkit.collate.collate], never wrapped).
    """
    hi, clean = 0, []
    for a in arrays:
        if a.dtype != np.int8 and a.size:
            if a.dtype.kind == "i" and a.min() < -1:
                a = np.maximum(a, -1)
            hi = max(hi, int(a.max()))
        clean.append(a)
    fits = [t for t in (np.int8, np.int16, np.int32) if hi <= np.iinfo(t).max]
    dt = fits[0] if fits else np.int64
    width = max(a.shape[-1] for a in clean)
    haps = np.zeros((len(clean), *clean[0].shape[:-1], width), dtype=dt)
    for row, a in zip(haps, clean):
        row[..., : a.shape[-1]] = a if a.dtype == dt else narrow(a, dt, name, fix=_ALLELE_FIX)
    return haps


@dataclass
class MaskingCollator:
    """Turn items of any Dataset into a masked, tokenized batch: a DataLoader ``collate_fn``.

    Each item is a dict holding an allele array (``(ploidy, sites)`` or ``(sites,)``) and a
    stable sample id (the same id every epoch, e.g. the dataset index): the mask is keyed by
    ``(seed, epoch, id)``, so it does not depend on batch, order, worker or rank. Items may
    differ in length; shorter ones are padded, and padding is never masked. Building the
    collator shares the Masker ([`share`][maskkit.torch.share]), so ``masker.set_epoch``, ``step``
    and ``update`` in the main process reach persistent workers, for map-style and iterable
    datasets alike.

    Parameters
    ----------
    masker : Masker
        The main process's Masker (call ``masker.set_epoch(e)`` before each epoch's
        ``iter(loader)``).
    haps_key : str
        Item key of the alleles.
    index_key : str
        Item key of the sample id.
    lengths_key : str, optional
        Item key of the real length (sites past it are padding); default the array's length.
    keep : sequence of str
        Other item keys to pass through, stacked (``torch.utils.data.default_collate``).
    pad_to
        As for [`maskkit.collate`][maskkit.collate.collate].
    pad_to_multiple_of
        As for [`maskkit.collate`][maskkit.collate.collate].
    replace
        As for [`maskkit.collate`][maskkit.collate.collate].
    n_alleles
        As for [`maskkit.collate`][maskkit.collate.collate].
    dtype
        As for [`maskkit.collate`][maskkit.collate.collate].

    Notes
    -----
    A Masker whose schedule is not constant must be driven: ``set_epoch`` before each epoch
    (``maskkit.hf.CurriculumCallback`` under Trainer). When the collator masks its items a
    second time at the same epoch and rates, it logs an ERROR on the ``maskkit`` logger once,
    naming the fix (see `maskkit._sync.StallCheck`). Evaluate with
    [`frozen`][maskkit.torch.MaskingCollator.frozen].

    Returns
    -------
    Batch
        ``input_ids``, ``labels``, ``attention_mask``, ``mask`` (``(batch, ploidy, width)``, or
        ``(batch, width)`` for 1-D items), ``index`` and ``length`` (``(batch,)``), and the
        ``keep`` keys.

    Examples
    --------
    >>> import numpy as np, torch, maskkit as mk
    >>> from maskkit.torch import MaskingCollator
    >>> haps = np.zeros((10, 2, 30), dtype=np.int8)
    >>> items = [{"haps": haps[i], "index": i} for i in range(10)]
    >>> collate = MaskingCollator(mk.Masker("random", rate=0.2, seed=0))
    >>> loader = torch.utils.data.DataLoader(items, batch_size=4, collate_fn=collate)
    >>> batch = next(iter(loader))
    >>> batch["input_ids"].shape, batch["index"].tolist()
    (torch.Size([4, 2, 30]), [0, 1, 2, 3])
    """

    masker: Masker
    _: KW_ONLY
    haps_key: str = "haps"
    index_key: str = "index"
    lengths_key: str | None = None
    keep: Sequence[str] = ()
    pad_to: int | None = None
    pad_to_multiple_of: int | None = None
    replace: tuple[float, float, float] | None = None
    n_alleles: int = 2
    dtype: Any = np.int64
    _stall: StallCheck = field(default_factory=StallCheck, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.masker, Masker):
            raise TypeError(f"masker must be a maskkit.Masker, got {type(self.masker).__name__}")
        if isinstance(self.keep, str):
            raise TypeError(f"keep must be a sequence of item keys, got the string {self.keep!r}")
        self.keep = tuple(self.keep)
        share(self.masker)

    def frozen(self, *, rate: Any = None, alt_rate: Any = None, epoch: int = 0) -> MaskingCollator:
        """Return a copy for evaluation whose masks are the same at every evaluation.

        Its Masker is [`maskkit.Masker.frozen`][maskkit.masker.Masker.frozen] of this one (the
        current rates unless ``rate`` / ``alt_rate`` are given, masks drawn as at ``epoch``), so
        validation losses of different epochs compare like with like. Every other option is kept.

        Examples
        --------
        >>> import maskkit as mk
        >>> from maskkit.curriculum import Levels
        >>> from maskkit.torch import MaskingCollator
        >>> train = MaskingCollator(mk.Masker("random", rate=Levels([0.1, 0.3]), seed=0))
        >>> val = train.frozen(rate=0.3)
        >>> val.masker.fixed_epoch, val.masker.current_rates()
        (0, (0.3, 0.3))
        """
        return replace(self, masker=self.masker.frozen(rate=rate, alt_rate=alt_rate, epoch=epoch))

    def _missing_hint(self) -> str:
        return ""

    def _stack(self, items: Sequence[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return ``(haps (n, [ploidy,] width), lengths, ids)`` of ``items`` (int8 if it fits)."""
        if isinstance(items, dict) or not items:
            raise TypeError(
                "MaskingCollator takes a non-empty list of item dicts (a DataLoader batch), got "
                + (type(items).__name__ if items else "an empty list")
            )
        need = [self.haps_key, self.index_key] + ([self.lengths_key] if self.lengths_key else [])
        for item in items:
            if not isinstance(item, dict) or any(k not in item for k in need):
                keys = sorted(item) if isinstance(item, dict) else type(item).__name__
                raise KeyError(
                    f"MaskingCollator needs items with keys {need} (haps_key, index_key"
                    f"{', lengths_key' if self.lengths_key else ''}), got an item with {keys}"
                    + self._missing_hint()
                )
        arrays = [_as_array(item[self.haps_key]) for item in items]
        ndim = arrays[0].ndim
        if ndim not in (1, 2) or any(a.ndim != ndim for a in arrays):
            raise ValueError(
                f"items' {self.haps_key!r} must all be (sites,) or all (ploidy, sites) arrays, got "
                f"shapes {sorted({a.shape for a in arrays})}"
            )
        if any(a.dtype == np.bool_ or not np.issubdtype(a.dtype, np.integer) for a in arrays):
            raise TypeError(f"items' {self.haps_key!r} must hold integer alleles")
        sizes = np.array([a.shape[-1] for a in arrays], dtype=np.int64)
        lead = arrays[0].shape[:-1]
        if any(a.shape[:-1] != lead for a in arrays):
            raise ValueError(f"items' {self.haps_key!r} differ in ploidy")
        haps = _stack_alleles(arrays, f"items' {self.haps_key!r}")
        if self.lengths_key:
            name = f"items' {self.lengths_key!r}"
            lengths = np.array(
                [_item_int(item[self.lengths_key], name) for item in items], np.int64
            )
            if (lengths < 0).any() or (lengths > sizes).any():
                raise ValueError(
                    f"items' {self.lengths_key!r} must be in [0, len({self.haps_key})], got "
                    f"{lengths.tolist()} for arrays of {sizes.tolist()} sites"
                )
        else:
            lengths = sizes
        name = f"items' {self.index_key!r}"
        ids = np.array([_item_int(item[self.index_key], name) for item in items], dtype=np.int64)
        return haps, lengths, ids

    def __call__(self, items: Sequence[Any]) -> Batch:
        """Mask, pad and tokenize a list of items; see the class docstring."""
        haps, lengths, ids = self._stack(items)
        arrays = self.masker.batch(
            haps, lengths=lengths, indices=ids, pad_to=self.pad_to,
            pad_to_multiple_of=self.pad_to_multiple_of, replace=self.replace,
            n_alleles=self.n_alleles, dtype=self.dtype,
        )  # fmt: skip
        self._stall.observe(self.masker, ids)
        out = Batch((name, torch.from_numpy(a)) for name, a in arrays.items())
        out["index"] = torch.from_numpy(ids)
        out["length"] = torch.from_numpy(lengths)
        for key in self.keep:
            out[key] = torch.utils.data.default_collate([item[key] for item in items])
        return out


class WindowBatchSampler(torch.utils.data.Sampler[list[int]]):
    """Batches of one window each: one HDF5 read per batch, shuffled, DDP-aware.

    Each epoch the samples of every window are shuffled and cut into batches; the batches of
    all windows are then shuffled together. The order is a function of ``(seed, epoch)``
    only (it is not mask randomness: masks do not depend on it). With ``num_replicas > 1`` the
    batch list is padded by repeating its first batches to a multiple of ``num_replicas`` and
    rank ``r`` takes batches ``r, r + num_replicas, ...``: every rank gets as many steps.

    Parameters
    ----------
    dataset : HaplotypeDataset
    batch_size : int
    shuffle : bool, default True
    seed : int, default 0
    drop_last : bool, default False
        Drop each window's last, short batch.
    num_replicas : int, optional
        Number of ranks; default the world size from
        [`worker_info`][maskkit.torch.worker_info].
    rank : int, optional
        This process's rank; default the rank from [`worker_info`][maskkit.torch.worker_info].

    Examples
    --------
    >>> import maskkit as mk, torch
    >>> from maskkit.torch import HaplotypeDataset, WindowBatchSampler
    >>> import pathlib, shutil, tempfile
    >>> from maskkit import io
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> demo = io.simulate_demo(tmp / "s", n_diploids=9, length=20_000, seed=3, verbose=False)
    >>> ds = HaplotypeDataset(demo.store, mk.Masker("random", rate=0.2, seed=0), windows=32)
    >>> sampler = WindowBatchSampler(ds, batch_size=4, seed=1)
    >>> loader = torch.utils.data.DataLoader(ds, batch_sampler=sampler, collate_fn=ds.collate_fn)
    >>> sampler.set_epoch(0)
    >>> all(len(set(b["window"].tolist())) == 1 for b in loader)
    True
    >>> sampler.state_dict()  # resume: sampler.load_state_dict(saved)
    {'epoch': 0, 'seed': 1}
    >>> shutil.rmtree(tmp)
    """

    def __init__(
        self,
        dataset: HaplotypeDataset,
        batch_size: int,
        *,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
        num_replicas: int | None = None,
        rank: int | None = None,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
            raise TypeError(f"batch_size must be an int, got {batch_size!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        info = worker_info()
        self.num_replicas = info.world_size if num_replicas is None else int(num_replicas)
        self.rank = info.rank if rank is None else int(rank)
        if self.num_replicas < 1 or not 0 <= self.rank < self.num_replicas:
            raise ValueError(
                f"need num_replicas >= 1 and 0 <= rank < num_replicas, got "
                f"num_replicas={self.num_replicas}, rank={self.rank}"
            )
        self.n_samples = dataset.n_samples
        self.n_windows = dataset.n_windows
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.drop_last = bool(drop_last)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch that seeds the order (call each epoch, like DistributedSampler)."""
        self.epoch = int(epoch)

    def state_dict(self) -> dict[str, Any]:
        """Return the state that orders the batches, ``{"epoch": ..., "seed": ...}`` (JSON types).

        The order of an epoch is a function of ``(seed, epoch)``; restoring the epoch restores
        the order (a DataLoader starts each epoch from its first batch).
        """
        return {"epoch": self.epoch, "seed": self.seed}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the epoch from `state_dict` of a sampler with the same seed."""
        if not isinstance(state, dict) or not {"epoch", "seed"} <= state.keys():
            raise TypeError(
                "state must be a dict from WindowBatchSampler.state_dict() with keys 'epoch' "
                f"and 'seed', got {state!r}"
            )
        if state["seed"] != self.seed:
            raise ValueError(
                f"state was saved by a sampler with seed={state['seed']!r}, this one has "
                f"seed={self.seed}; build the sampler with the saved seed"
            )
        epoch = state["epoch"]
        if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0:
            raise ValueError(f"state['epoch'] must be an int >= 0, got {epoch!r}")
        self.set_epoch(int(epoch))

    def _all_batches(self) -> list[np.ndarray]:
        rng = np.random.default_rng([self.seed, self.epoch])
        bs, n = self.batch_size, self.n_samples
        stop = n - n % bs if self.drop_last else n
        batches = []
        for w in range(self.n_windows):
            order = rng.permutation(n) if self.shuffle else np.arange(n)
            items = w * n + order
            batches += [items[i : i + bs] for i in range(0, stop, bs)]
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        if self.num_replicas > 1 and batches:
            extra = -len(batches) % self.num_replicas
            batches += [batches[i % len(batches)] for i in range(extra)]
        return batches[self.rank :: self.num_replicas]

    def __iter__(self) -> Iterator[list[int]]:
        for b in self._all_batches():
            yield b.tolist()

    def __len__(self) -> int:
        bs, n = self.batch_size, self.n_samples
        per_window = n // bs if self.drop_last else -(-n // bs)
        total = per_window * self.n_windows
        return -(-total // self.num_replicas)


class ChunkShuffleSampler(WindowBatchSampler):
    """Shuffled batches that read at storage speed: blocks of chunks, then a bounded buffer.

    The order is [`maskkit.io.chunk_order`][]: the items of each store chunk (along sites
    and samples, [`maskkit.io.item_blocks`][]) are shuffled, the chunks are put in a random
    order, and each run of ``buffer`` consecutive items is shuffled again. A batch reads about
    ``buffer / chunk items + 1`` chunks instead of one per item (``shuffle=True``), and mixes
    windows and samples, unlike [`WindowBatchSampler`][maskkit.torch.WindowBatchSampler]. The order
    is a function of ``(seed, epoch)`` only; masks do not depend on it. With ``num_replicas > 1``
    rank ``r`` takes the ``r``-th contiguous share of the epoch's order (padded by repeating its
    first items), so ranks read (almost) disjoint chunks; every rank gets as many steps.
    Pass the DataLoader's ``num_workers`` too: the DataLoader hands batch ``k`` to worker
    ``k % num_workers``, and the order then gives each worker chunks of its own, so each chunk
    is read and decoded by one worker per epoch instead of by every worker (half the requests
    from object storage with 2 workers). [`maskkit.io.order_stats`][] measures how random the
    order is (docs/data.md).

    Parameters
    ----------
    dataset : HaplotypeDataset
    batch_size : int
    buffer : int, optional
        Items shuffled together; default ``4 * batch_size`` or two chunks' items, whichever
        is larger. ``buffer >= len(dataset)`` is a full shuffle.
    chunks : (int, int), optional
        Chunk shape ``(sites, samples)``; default the store's ([`maskkit.io.store_chunks`][]).
    num_workers : int, default 0
        The ``num_workers`` of the DataLoader this sampler feeds (``0`` and ``1``: one stream
        of chunks). Another value keeps every batch correct, only the reads less local.
    seed
        As for [`WindowBatchSampler`][maskkit.torch.WindowBatchSampler].
    drop_last
        Drop the rank's last, short batch.
    num_replicas
        As for [`WindowBatchSampler`][maskkit.torch.WindowBatchSampler].
    rank
        As for [`WindowBatchSampler`][maskkit.torch.WindowBatchSampler].

    Examples
    --------
    >>> import numpy as np, maskkit as mk
    >>> from maskkit.torch import ChunkShuffleSampler, HaplotypeDataset
    >>> haps = np.random.default_rng(0).integers(0, 2, (9, 2, 256), dtype=np.int8)
    >>> ds = HaplotypeDataset(haps, mk.Masker("random", rate=0.2, seed=0), windows=32)
    >>> sampler = ChunkShuffleSampler(ds, batch_size=4, chunks=(64, 3), seed=1)
    >>> sampler.buffer, len(sampler)  # chunks of 2 windows x 3 samples; 72 items
    (16, 18)
    >>> sampler.set_epoch(0)
    >>> sorted(i for batch in sampler for i in batch) == list(range(len(ds)))
    True
    >>> per_worker = ChunkShuffleSampler(ds, batch_size=4, chunks=(64, 3), seed=1, num_workers=2)
    >>> batches = list(per_worker)  # worker 0 reads batches 0, 2, ...; worker 1 1, 3, ...
    >>> chunks = [{int(c) for b in batches[w::2] for c in per_worker.blocks[b]} for w in (0, 1)]
    >>> chunks[0].isdisjoint(chunks[1])
    True
    """

    def __init__(
        self,
        dataset: HaplotypeDataset,
        batch_size: int,
        *,
        buffer: int | None = None,
        chunks: tuple[int, int] | None = None,
        num_workers: int = 0,
        seed: int = 0,
        drop_last: bool = False,
        num_replicas: int | None = None,
        rank: int | None = None,
    ) -> None:
        from .io import item_blocks, store_chunks

        super().__init__(
            dataset, batch_size, shuffle=True, seed=seed, drop_last=drop_last,
            num_replicas=num_replicas, rank=rank,
        )  # fmt: skip
        self.chunks = store_chunks(dataset.store) if chunks is None else chunks
        self.blocks = item_blocks(dataset.bounds, dataset.samples, chunks=self.chunks)
        if buffer is None:
            biggest = int(np.bincount(self.blocks).max()) if self.blocks.size else 1
            buffer = max(4 * self.batch_size, 2 * biggest)
        if isinstance(buffer, bool) or not isinstance(buffer, (int, np.integer)) or buffer < 1:
            raise ValueError(f"buffer must be an int >= 1 (items), got {buffer!r}")
        self.buffer = int(buffer)
        bad = isinstance(num_workers, bool) or not isinstance(num_workers, (int, np.integer))
        if bad or num_workers < 0:
            raise ValueError(
                f"num_workers must be an int >= 0 (the DataLoader's), got {num_workers!r}"
            )
        self.num_workers = int(num_workers)

    def order(self) -> np.ndarray:
        """Return this rank's item order of the current epoch ([`maskkit.io.chunk_order`][])."""
        from .io import chunk_order

        return chunk_order(
            self.blocks, seed=self.seed, epoch=self.epoch, buffer=self.buffer,
            rank=self.rank, world_size=self.num_replicas, workers=self.num_workers,
            batch_size=self.batch_size,
        )  # fmt: skip

    def _all_batches(self) -> list[np.ndarray]:
        order, bs = self.order(), self.batch_size
        stop = order.size - order.size % bs if self.drop_last else order.size
        return [order[i : i + bs] for i in range(0, stop, bs)]

    def __len__(self) -> int:
        per_rank = -(-len(self.blocks) // self.num_replicas)
        return per_rank // self.batch_size if self.drop_last else -(-per_rank // self.batch_size)
