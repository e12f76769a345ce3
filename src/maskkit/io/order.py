"""Chunk-aware shuffling: a training order that reads each store chunk a few times, not per item.

A full permutation of ``(sample, window)`` items makes every batch touch as many chunks as it
has items. The chunk-aware order (the block shuffle of webdataset's shards and Grain's
``WindowShuffle``) keeps reads local instead:

1. every item belongs to one *block*: the store chunk (along sites and samples) that holds the
   first site of its window for its sample ([`item_blocks`][maskkit.io.order.item_blocks]);
2. the items of each block are shuffled, and the blocks are put in a random order;
3. the resulting stream is cut into consecutive runs of ``buffer`` items and each run is
   shuffled (a bounded buffer: an item moves at most ``buffer - 1`` places from its block).

A batch then touches about ``buffer / block size + 1`` blocks. The order is a pure function of
``(blocks, seed, epoch, buffer, rank, world_size)``: the same in every process and for every
number of DataLoader workers. With ``world_size > 1`` the epoch's order is padded by repeating
its first items to a multiple of ``world_size`` and rank ``r`` takes the ``r``-th contiguous
slice, so ranks read (almost) disjoint chunks.

With ``workers > 1`` (a DataLoader's worker processes; it hands batch ``k`` to worker
``k % workers``) the rank's blocks are dealt into ``workers`` streams instead, each shuffled
within its own buffer, and the order takes one batch from each stream in turn: every worker
reads its own chunks, so each chunk is fetched and decoded by one worker per epoch, not by
all of them. [`order_stats`][maskkit.io.order.order_stats] measures how random an order is.
Masks never depend on the order: they are keyed by the item, not its position.

Examples
--------
>>> import numpy as np
>>> from maskkit.io import chunk_order, item_blocks
>>> bounds = np.array([[0, 4], [4, 8], [8, 12], [12, 16]])
>>> blocks = item_blocks(bounds, np.arange(6), chunks=(8, 3))
>>> blocks.reshape(4, 6).tolist()  # item = window * 6 + sample position
[[0, 0, 0, 1, 1, 1], [0, 0, 0, 1, 1, 1], [2, 2, 2, 3, 3, 3], [2, 2, 2, 3, 3, 3]]
>>> order = chunk_order(blocks, seed=0, epoch=0, buffer=6)
>>> sorted(order.tolist()) == list(range(24))
True
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["chunk_order", "item_blocks", "order_stats", "store_chunks"]


def _nonneg_int(value: Any, name: str, minimum: int = 0) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def store_chunks(store: Any) -> tuple[int, int]:
    """Return the ``(sites, samples)`` chunk shape of a haplotype store.

    [`HaplotypeStore`][maskkit.io.HaplotypeStore]: the HDF5 chunks of ``calldata/GT`` (a contiguous
    or in-memory dataset is one chunk); [`VcfZarrStore`][maskkit.io.VcfZarrStore]: the
    ``call_genotype`` chunks; any other store (e.g. [`ArrayStore`][maskkit.io.ArrayStore], in
    memory): one chunk of the whole store, where every order reads equally fast.

    Examples
    --------
    >>> import numpy as np
    >>> from maskkit.io import ArrayStore, store_chunks
    >>> store_chunks(ArrayStore(np.zeros((5, 2, 40), dtype=np.int8)))
    (40, 5)
    """
    from .store import HaplotypeStore
    from .vcz import VcfZarrStore

    whole = (max(int(store.n_sites), 1), max(int(store.n_samples), 1))
    if isinstance(store, VcfZarrStore):
        store._handle()
        return int(store._chunks[0]), int(store._chunks[1])
    if isinstance(store, HaplotypeStore) and not store.in_memory:
        chunks = store._dataset().chunks
        if chunks is not None:
            return int(chunks[0]), int(chunks[1])
    return whole


def item_blocks(bounds: Any, samples: Any, *, chunks: tuple[int, int]) -> np.ndarray:
    """Return the block (store chunk) of every ``(sample, window)`` item, as int64.

    Item ``i`` is window ``i // len(samples)`` of sample ``samples[i % len(samples)]`` (the
    item numbering of [`maskkit.torch.HaplotypeDataset`][]). Its block is the chunk holding
    the window's first site for that sample: ``(start // chunks[0], sample // chunks[1])``,
    numbered from 0 in row-major order.

    Parameters
    ----------
    bounds : int array (n_windows, 2)
        Window ``(start, stop)`` site ranges.
    samples : int array (n,)
        Store positions of the samples served.
    chunks : (int, int)
        Chunk shape along sites and samples, e.g. from
        [`store_chunks`][maskkit.io.order.store_chunks].

    Examples
    --------
    >>> import numpy as np
    >>> item_blocks(np.array([[0, 5], [5, 10]]), np.array([0, 7]), chunks=(10, 4)).tolist()
    [0, 1, 0, 1]
    """
    b = np.asarray(bounds)
    if b.ndim != 2 or b.shape[1] != 2 or not np.issubdtype(b.dtype, np.integer):
        raise ValueError(f"bounds must be an (n_windows, 2) int array, got {b.dtype} {b.shape}")
    s = np.asarray(samples)
    if s.ndim != 1 or (s.size and not np.issubdtype(s.dtype, np.integer)) or (s < 0).any():
        raise ValueError("samples must be a 1-d array of store positions (ints >= 0)")
    if not isinstance(chunks, (tuple, list)) or len(chunks) != 2:
        raise TypeError(f"chunks must be a (sites, samples) pair of ints, got {chunks!r}")
    site_chunk = _nonneg_int(chunks[0], "chunks[0]", 1)
    sample_chunk = _nonneg_int(chunks[1], "chunks[1]", 1)
    col = s.astype(np.int64) // sample_chunk
    n_cols = int(col.max()) + 1 if col.size else 1
    row = b[:, 0].astype(np.int64) // site_chunk
    return (row[:, None] * n_cols + col[None, :]).reshape(-1)


def chunk_order(
    blocks: Any,
    *,
    seed: int,
    epoch: int,
    buffer: int,
    rank: int = 0,
    world_size: int = 1,
    workers: int = 1,
    batch_size: int | None = None,
) -> np.ndarray:
    """Return this rank's item order for one epoch: blocks shuffled, then a bounded buffer.

    Parameters
    ----------
    blocks : int array (n_items,)
        The block of each item ([`item_blocks`][maskkit.io.order.item_blocks]).
    seed : int
        The order is a function of these (and of the other arguments) only.
    epoch : int
        The order is a function of these (and of the other arguments) only.
    buffer : int
        Items shuffled together after the block shuffle; ``buffer >= n_items`` is a full
        permutation, ``buffer=1`` keeps each block's (shuffled) items together.
    rank : int
        This rank; it gets its contiguous share of the epoch (padded by repeating the first
        items so every rank gets ``ceil(n_items / world_size)``).
    world_size : int
        Number of ranks.
    workers : int
        DataLoader worker processes to give chunks of their own (``batch_size`` required when
        above 1): the rank's blocks, in their random order, go one at a time to the stream
        with the fewest items so far; each stream is shuffled within runs of ``buffer`` items
        and cut into batches, and the order takes a batch of each stream in turn (the streams'
        last, short batches go together at the end). ``0`` and ``1``: one stream.
    batch_size : int, optional
        Items per batch, for ``workers > 1``.

    Returns
    -------
    int64 array of item indices, each once per epoch over all ranks (plus the padding).

    Examples
    --------
    >>> import numpy as np
    >>> blocks = np.repeat(np.arange(4), 3)
    >>> a = chunk_order(blocks, seed=1, epoch=0, buffer=3, rank=0, world_size=2)
    >>> b = chunk_order(blocks, seed=1, epoch=0, buffer=3, rank=1, world_size=2)
    >>> sorted(np.concatenate([a, b]).tolist()) == list(range(12))
    True
    >>> blocks = np.repeat(np.arange(4), 4)
    >>> order = chunk_order(blocks, seed=1, epoch=0, buffer=4, workers=2, batch_size=2)
    >>> blocks[order].reshape(-1, 2).tolist()  # even batches to worker 0, odd ones to worker 1
    [[0, 0], [1, 1], [0, 0], [1, 1], [2, 2], [3, 3], [2, 2], [3, 3]]
    """
    blk = np.asarray(blocks)
    if blk.ndim != 1 or (blk.size and not np.issubdtype(blk.dtype, np.integer)):
        raise ValueError(f"blocks must be a 1-d int array, got {blk.dtype} {blk.shape}")
    seed = _nonneg_int(seed, "seed")
    epoch = _nonneg_int(epoch, "epoch")
    buffer = _nonneg_int(buffer, "buffer", 1)
    world_size = _nonneg_int(world_size, "world_size", 1)
    rank = _nonneg_int(rank, "rank")
    if rank >= world_size:
        raise ValueError(f"rank must be < world_size={world_size}, got rank={rank}")
    workers = max(_nonneg_int(workers, "workers"), 1)
    if workers > 1:
        if batch_size is None:
            raise ValueError(
                f"workers={workers} needs batch_size (the order interleaves whole batches)"
            )
        batch_size = _nonneg_int(batch_size, "batch_size", 1)
    n = blk.size
    rng = np.random.default_rng([seed, epoch])
    _, block_index = np.unique(blk, return_inverse=True)
    block_rank = rng.permutation(int(block_index.max()) + 1 if n else 0)[block_index.reshape(-1)]
    # blocks in random order, each block's items in random order
    stream = np.lexsort((rng.random(n), block_rank)).astype(np.int64)
    per_rank = -(-n // world_size)
    if workers == 1:
        order = _buffered(stream, buffer, rng)
        if world_size > 1 and n:
            order = np.resize(order, per_rank * world_size)  # repeats the first items
        return order[rank * per_rank : (rank + 1) * per_rank]
    if world_size > 1 and n:
        stream = np.resize(stream, per_rank * world_size)
    mine = stream[rank * per_rank : (rank + 1) * per_rank]
    parts = [_buffered(mine[idx], buffer, rng) for idx in _deal_runs(blk[mine], workers)]
    return _interleave(parts, int(batch_size))  # type: ignore[arg-type]


def _buffered(stream: np.ndarray, buffer: int, rng: np.random.Generator) -> np.ndarray:
    """Shuffle ``stream`` within each run of ``buffer`` consecutive items."""
    run = np.arange(stream.size, dtype=np.int64) // buffer
    return stream[np.lexsort((rng.random(stream.size), run))]


def _deal_runs(blocks: np.ndarray, workers: int) -> list[np.ndarray]:
    """Return the positions of each of ``workers`` streams.

    Every run of one block goes, in order, to the stream with the fewest items so far (the
    lowest-numbered one on a tie).
    """
    starts = np.flatnonzero(np.r_[True, blocks[1:] != blocks[:-1]]).tolist() if blocks.size else []
    stops = [*starts[1:], int(blocks.size)]
    sizes = [0] * workers
    taken: list[list[np.ndarray]] = [[] for _ in range(workers)]
    for a, b in zip(starts, stops):
        w = sizes.index(min(sizes))
        taken[w].append(np.arange(a, b, dtype=np.int64))
        sizes[w] += int(b - a)
    return [np.concatenate(t) if t else np.zeros(0, dtype=np.int64) for t in taken]


def _interleave(parts: list[np.ndarray], batch_size: int) -> np.ndarray:
    """One whole batch of each part in turn, then the parts' short last batches together."""
    full = [[p[i : i + batch_size] for i in range(0, p.size - p.size % batch_size, batch_size)]
            for p in parts]  # fmt: skip
    out = []
    for k in range(max((len(f) for f in full), default=0)):
        out += [f[k] for f in full if k < len(f)]
    out += [p[p.size - p.size % batch_size :] for p in parts]
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def order_stats(
    order: Any, blocks: Any, *, batch_size: int, windows: Any = None
) -> dict[str, float]:
    """Measure how random an item order is, next to what a full permutation would give.

    Parameters
    ----------
    order : int array
        Item indices in the order served (one rank's or the whole epoch's).
    blocks : int array (n_items,)
        The block of each item ([`item_blocks`][maskkit.io.order.item_blocks]).
    batch_size : int
        Batches are consecutive runs of ``batch_size`` items of ``order``.
    windows : int array (n_items,), optional
        The window of each item; adds ``same_window_pairs``.

    Returns
    -------
    dict
        ``kendall_tau``: rank correlation of the served position with the item index (0 for a
        random permutation, 1 in order); ``displacement``: mean ``|position - index|`` over
        ``n / 3``, its expectation under a full permutation (1 for a full shuffle, 0 in
        order); ``adjacent_same_block``: the probability that two consecutive items come
        from the same block (``sum((block size / n)^2)`` for a full shuffle, the ``_full``
        key); ``blocks_per_batch``: mean distinct blocks a batch touches (reads per batch) and
        ``blocks_per_batch_full`` its expectation under a full shuffle; ``same_window_pairs``
        (with ``windows``): the fraction of item pairs within a batch that share a window.

    Examples
    --------
    >>> import numpy as np
    >>> blocks = np.repeat(np.arange(8), 16)
    >>> s = order_stats(np.arange(128), blocks, batch_size=8)
    >>> s["adjacent_same_block"], s["blocks_per_batch"]
    (0.9448818897637795, 1.0)
    """
    o = np.asarray(order, dtype=np.int64).reshape(-1)
    blk = np.asarray(blocks).reshape(-1)
    batch_size = _nonneg_int(batch_size, "batch_size", 1)
    if o.size and (o.min() < 0 or o.max() >= blk.size):
        raise ValueError(f"order holds indices outside [0, {blk.size}) (the blocks' length)")
    n = o.size
    pos = np.arange(n)
    _, counts = np.unique(blk, return_counts=True)
    share = counts / max(blk.size, 1)
    b = blk[o]
    out = {
        "kendall_tau": _kendall_tau(o),
        "displacement": float(np.abs(pos - np.argsort(np.argsort(o))).mean() / (n / 3))
        if n
        else 0.0,
        "adjacent_same_block": float((b[1:] == b[:-1]).mean()) if n > 1 else 0.0,
        "adjacent_same_block_full": float((share**2).sum()),
    }
    cut = list(range(0, n, batch_size))
    out["blocks_per_batch"] = float(np.mean([np.unique(b[i : i + batch_size]).size for i in cut]))
    # expected distinct blocks among batch_size items drawn without replacement
    m, total = min(batch_size, blk.size), blk.size
    miss = np.ones_like(share)
    for j in range(m):
        miss *= np.clip((total - counts - j) / (total - j), 0.0, None)
    out["blocks_per_batch_full"] = float((1.0 - miss).sum())
    if windows is not None:
        w = np.asarray(windows).reshape(-1)[o]
        same = [np.unique(w[i : i + batch_size], return_counts=True)[1] for i in cut]
        pairs = sum(len(w[i : i + batch_size]) * (len(w[i : i + batch_size]) - 1) for i in cut)
        out["same_window_pairs"] = float(sum((c * (c - 1)).sum() for c in same) / max(pairs, 1))
    return out


def _kendall_tau(order: np.ndarray, max_items: int = 2048) -> float:
    """Kendall's tau between served position and item index (on an even subsample if long)."""
    x = order[np.linspace(0, order.size - 1, min(order.size, max_items)).astype(np.int64)]
    if x.size < 2:
        return 0.0
    sign = np.sign(x[None, :] - x[:, None])
    upper = np.triu_indices(x.size, 1)
    return float(sign[upper].mean())
