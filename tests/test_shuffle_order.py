"""Chunk-aware shuffling: maskkit.io.chunk_order, order_stats and torch ChunkShuffleSampler."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch.utils.data import DataLoader

import maskkit as mk
from maskkit import io
from maskkit.torch import ChunkShuffleSampler, HaplotypeDataset
from tests.bounds import ALPHA, assert_binomial
from tests.strategies import block_layouts, epochs, seeds

pytestmark = pytest.mark.torch

N_SAMPLES, N_SITES, WINDOW = 12, 100, 8  # 13 windows, the last one short
CHUNKS = (16, 4)  # HDF5 chunks (sites, samples): 2 windows x 4 samples per block


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    rng = np.random.default_rng(5)
    gt = (rng.random((N_SITES, N_SAMPLES, 2)) < 0.3).astype(np.int8)
    path = tmp_path_factory.mktemp("order") / "store.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("calldata/GT", data=gt, chunks=(*CHUNKS, 2))
        f.create_dataset("variants/POS", data=np.arange(1, N_SITES + 1) * 3)
        f.create_dataset("samples", data=np.array([f"s{i}".encode() for i in range(N_SAMPLES)]))
    return path


def dataset(path, samples=None) -> HaplotypeDataset:
    masker = mk.Masker("smart_balanced", rate=0.3, alt_rate=0.7, seed=9)
    return HaplotypeDataset(path, masker, windows=WINDOW, samples=samples, pad_to=WINDOW)


# ---------------------------------------------------------------- the order (framework-free)


@given(block_layouts(), st.integers(1, 400), st.integers(1, 5), seeds(), epochs())
def test_ranks_cover_every_item_once_plus_padding(blocks, buffer, world, seed, epoch) -> None:
    parts = [
        io.chunk_order(blocks, seed=seed, epoch=epoch, buffer=buffer, rank=r, world_size=world)
        for r in range(world)
    ]
    n, per_rank = blocks.size, -(-blocks.size // world)
    assert all(p.size == per_rank and p.dtype == np.int64 for p in parts)
    served = np.concatenate(parts)
    # the epoch's order, then its first items again as padding: every item once, before padding
    assert sorted(served[:n].tolist()) == list(range(n))
    np.testing.assert_array_equal(served[n:], served[: served.size - n])
    # a pure function of its arguments
    again = io.chunk_order(blocks, seed=seed, epoch=epoch, buffer=buffer, rank=0, world_size=world)
    np.testing.assert_array_equal(again, parts[0])


@given(block_layouts(), st.integers(1, 50), seeds(), epochs())
def test_items_stay_within_the_buffer_of_their_block(blocks, buffer, seed, epoch) -> None:
    """Blocks come whole and in sequence: a run holds whole blocks and at most 2 partial ones."""
    order = io.chunk_order(blocks, seed=seed, epoch=epoch, buffer=buffer)
    sizes = dict(zip(*np.unique(blocks, return_counts=True)))
    for start in range(0, order.size, buffer):
        run = blocks[order[start : start + buffer]]
        inner = np.unique(run)
        complete = [b for b in inner if (run == b).sum() == sizes[b]]
        assert inner.size - len(complete) <= 2


@given(
    block_layouts(),
    st.integers(1, 60),
    st.integers(1, 3),
    st.integers(2, 4),
    st.integers(1, 9),
    seeds(),
    epochs(),
)
def test_worker_streams_cover_every_item_once_plus_padding(
    blocks, buffer, world, workers, batch, seed, epoch
) -> None:
    kw = {"seed": seed, "epoch": epoch, "buffer": buffer, "workers": workers, "batch_size": batch}
    parts = [io.chunk_order(blocks, rank=r, world_size=world, **kw) for r in range(world)]
    n, per_rank = blocks.size, -(-blocks.size // world)
    assert all(p.size == per_rank and p.dtype == np.int64 for p in parts)
    counts = np.bincount(np.concatenate(parts), minlength=n)
    assert counts.min() >= 1  # every item, and the padding's items again
    assert int((counts - 1).sum()) == per_rank * world - n
    np.testing.assert_array_equal(io.chunk_order(blocks, rank=0, world_size=world, **kw), parts[0])


@pytest.mark.parametrize(("workers", "batch", "block"), [(2, 4, 8), (3, 5, 10), (4, 8, 32)])
def test_each_worker_reads_blocks_of_its_own(workers, batch, block) -> None:
    """Worker w gets batches w, w + workers, ... (torch's DataLoader): no block is read twice."""
    blocks = np.repeat(np.arange(6 * workers) * 3, block)
    for epoch in range(3):
        order = io.chunk_order(
            blocks, seed=4, epoch=epoch, buffer=2 * block, workers=workers, batch_size=batch
        )
        assert sorted(order.tolist()) == list(range(blocks.size))
        batches = blocks[order].reshape(-1, batch)
        read = [set(batches[w::workers].ravel().tolist()) for w in range(workers)]
        assert all(len(r) == 6 for r in read)  # equal shares
        assert len(set().union(*read)) == 6 * workers  # disjoint
        # within a worker's stream the buffer still mixes two blocks per batch, at most
        assert max(np.unique(b).size for b in batches) <= 2
    one = io.chunk_order(blocks, seed=4, epoch=0, buffer=2 * block)
    for w in (0, 1):
        np.testing.assert_array_equal(
            io.chunk_order(blocks, seed=4, epoch=0, buffer=2 * block, workers=w, batch_size=batch),
            one,
        )  # no worker processes, or one: a single stream, the order without workers


def test_dataloader_hands_batch_k_to_worker_k_mod_workers() -> None:
    """What worker streams rely on: torch's DataLoader deals batches round-robin, every epoch."""

    class WorkerId(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return 64

        def __getitem__(self, i: int) -> int:
            return torch.utils.data.get_worker_info().id

    batches = [[i, i + 1] for i in range(0, 40, 2)]
    loader = DataLoader(WorkerId(), batch_sampler=batches, num_workers=2, persistent_workers=True)
    for _ in range(2):
        ids = [b.tolist() for b in loader]
        assert ids == [[k % 2, k % 2] for k in range(len(batches))]


@pytest.mark.parametrize("k", [1, 2, 4])
def test_batches_touch_at_most_k_blocks(k: int) -> None:
    blocks = np.repeat(np.arange(50) * 7, 16)  # 50 blocks of 16 items
    for epoch in range(5):
        order = io.chunk_order(blocks, seed=3, epoch=epoch, buffer=16 * k)
        stats = io.order_stats(order, blocks, batch_size=8)
        per_batch = [np.unique(blocks[order[i : i + 8]]).size for i in range(0, order.size, 8)]
        assert max(per_batch) <= k
        assert stats["blocks_per_batch"] == pytest.approx(np.mean(per_batch))


def test_epochs_seeds_and_ranks_differ() -> None:
    blocks = np.repeat(np.arange(20), 10)
    base = io.chunk_order(blocks, seed=1, epoch=0, buffer=30)
    for other in (
        io.chunk_order(blocks, seed=1, epoch=1, buffer=30),
        io.chunk_order(blocks, seed=2, epoch=0, buffer=30),
    ):
        assert sorted(other.tolist()) == sorted(base.tolist())
        assert (other != base).mean() > 0.9
    halves = [
        io.chunk_order(blocks, seed=1, epoch=0, buffer=30, rank=r, world_size=2) for r in (0, 1)
    ]
    assert not set(halves[0].tolist()) & set(halves[1].tolist())


def test_first_block_is_uniform_over_epochs() -> None:
    """buffer=1: the first item is from block b with probability 1/n_blocks (blocks permuted)."""
    blocks = np.repeat(np.arange(5), [1, 2, 3, 4, 10])  # unequal sizes: p is per block
    firsts = np.array(
        [blocks[io.chunk_order(blocks, seed=7, epoch=e, buffer=1)[0]] for e in range(2000)]
    )
    for b in range(5):
        assert_binomial(int((firsts == b).sum()), 2000, 0.2, ALPHA / 5, f"block {b} first")


def test_full_buffer_is_a_uniform_permutation() -> None:
    """buffer >= n: the first item is item i with probability 1/n, whatever its block."""
    blocks = np.repeat(np.arange(4), [1, 3, 6, 10])
    firsts = np.array([io.chunk_order(blocks, seed=2, epoch=e, buffer=20)[0] for e in range(4000)])
    for i in (0, 1, 19):
        assert_binomial(int((firsts == i).sum()), 4000, 1 / 20, ALPHA / 3, f"item {i} first")


def test_order_stats_in_order_full_and_chunked() -> None:
    blocks = np.repeat(np.arange(64), 32)  # 64 blocks of 32 items, 2,048 items
    n = blocks.size
    ordered = io.order_stats(np.arange(n), blocks, batch_size=32)
    assert ordered["kendall_tau"] == 1.0
    assert ordered["displacement"] == 0.0
    assert ordered["blocks_per_batch"] == 1.0
    full = io.order_stats(io.chunk_order(blocks, seed=0, epoch=0, buffer=n), blocks, batch_size=32)
    # a random permutation: tau has sd sqrt(2(2n+5)/(9n(n-1))) ~ 0.015 here; 6 sd
    assert abs(full["kendall_tau"]) < 0.09
    assert abs(full["displacement"] - 1.0) < 0.1
    assert full["adjacent_same_block_full"] == pytest.approx(1 / 64)
    assert full["blocks_per_batch"] == pytest.approx(full["blocks_per_batch_full"], rel=0.1)
    chunked = io.order_stats(
        io.chunk_order(blocks, seed=0, epoch=0, buffer=64), blocks, batch_size=32
    )
    assert abs(chunked["kendall_tau"]) < 0.2  # blocks in random order: no trend left
    assert chunked["displacement"] > 0.7
    assert chunked["blocks_per_batch"] <= 2.0
    assert 0.4 < chunked["adjacent_same_block"] < 0.6  # two blocks mixed: ~1/2


@pytest.mark.parametrize(
    ("kwargs", "exc", "words"),
    [
        ({"buffer": 0}, ValueError, "buffer must be >= 1"),
        ({"buffer": 2.5}, TypeError, "buffer must be an int"),
        ({"seed": -1}, ValueError, "seed must be >= 0"),
        ({"rank": 2, "world_size": 2}, ValueError, "rank must be < world_size"),
        ({"world_size": 0}, ValueError, "world_size must be >= 1"),
        ({"workers": 2}, ValueError, "workers=2 needs batch_size"),
        ({"workers": -1}, ValueError, "workers must be >= 0"),
        ({"workers": 2, "batch_size": 0}, ValueError, "batch_size must be >= 1"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, exc, words) -> None:
    args = {"seed": 0, "epoch": 0, "buffer": 4, **kwargs}
    with pytest.raises(exc, match=words):
        io.chunk_order(np.zeros(8, dtype=np.int64), **args)


def test_bad_blocks_and_chunks() -> None:
    with pytest.raises(ValueError, match="blocks must be a 1-d int array"):
        io.chunk_order(np.zeros(4), seed=0, epoch=0, buffer=2)
    with pytest.raises(ValueError, match="chunks\\[1\\] must be >= 1"):
        io.item_blocks(np.array([[0, 4]]), np.arange(3), chunks=(4, 0))
    with pytest.raises(ValueError, match="order holds indices outside"):
        io.order_stats(np.array([0, 9]), np.zeros(4, dtype=np.int64), batch_size=2)


# ---------------------------------------------------------------- stores and the torch sampler


def test_store_chunks_and_item_blocks(store, tmp_path) -> None:
    ds = dataset(store, samples=[0, 5, 11])
    assert io.store_chunks(ds.store) == CHUNKS
    blocks = io.item_blocks(ds.bounds, ds.samples, chunks=CHUNKS)
    window, sample = np.divmod(np.arange(len(ds)), 3)
    expected = (ds.bounds[window, 0] // 16) * 3 + ds.samples[sample] // 4
    np.testing.assert_array_equal(blocks, expected)
    import zarr

    root = zarr.open_group(tmp_path / "t.vcz", mode="w", zarr_format=2)
    root.create_array("call_genotype", data=np.zeros((10, 6, 2), dtype=np.int8), chunks=(4, 3, 2))
    root.create_array("variant_position", data=np.arange(10, dtype=np.int32) + 1)
    root.create_array("sample_id", data=np.array([f"s{i}" for i in range(6)]))
    assert io.store_chunks(io.open_store(tmp_path / "t.vcz")) == (4, 3)
    assert io.store_chunks(io.ArrayStore(np.zeros((6, 2, 10), dtype=np.int8))) == (10, 6)


def masks_by_key(ds, loader) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    for batch in loader:
        for key, mask in zip(batch["key"].tolist(), batch["mask"].numpy()):
            assert key not in out
            out[key] = mask.tobytes()
    assert len(out) == len(ds)
    return out


def test_masks_do_not_depend_on_the_order(store) -> None:
    ds = dataset(store)
    ds.set_epoch(2)
    kw = {"collate_fn": ds.collate_fn}
    in_order = masks_by_key(ds, DataLoader(ds, batch_size=5, shuffle=False, **kw))
    gen = torch.Generator().manual_seed(3)
    full = masks_by_key(ds, DataLoader(ds, batch_size=5, shuffle=True, generator=gen, **kw))
    sampler = ChunkShuffleSampler(ds, 5, seed=4)
    sampler.set_epoch(2)
    chunked = masks_by_key(ds, DataLoader(ds, batch_sampler=sampler, **kw))
    streams = ChunkShuffleSampler(ds, 5, seed=4, num_workers=2)
    streams.set_epoch(2)
    per_worker = masks_by_key(ds, DataLoader(ds, batch_sampler=streams, num_workers=2, **kw))
    assert [list(b) for b in streams] != [list(b) for b in sampler]
    assert in_order == full == chunked == per_worker
    assert len(set(in_order.values())) > len(ds) // 2  # the masks are not all alike


def test_sampler_covers_the_epoch_per_rank(store) -> None:
    ds = dataset(store, samples=[1, 2, 3, 6, 9])
    parts = [ChunkShuffleSampler(ds, 4, num_replicas=3, rank=r, seed=1) for r in range(3)]
    for p in parts:
        p.set_epoch(5)
    batches = [list(p) for p in parts]
    assert len({len(b) for b in batches}) == 1
    assert all(len(b) == len(p) for b, p in zip(batches, parts))
    served = [i for b in batches for batch in b for i in batch]
    assert set(served) == set(range(len(ds)))
    assert len(served) - len(ds) < 3
    assert parts[0].buffer == max(4 * 4, 2 * 2 * 4)  # default: 2 blocks of 2 windows x 4 samples
    # each batch reads few chunks: blocks of 2 windows x 4 samples, buffer 16 items = 2 blocks
    stats = io.order_stats(parts[0].order(), parts[0].blocks, batch_size=4)
    assert stats["blocks_per_batch"] <= 3.0


def test_sampler_state_and_epochs(store) -> None:
    ds = dataset(store)
    s = ChunkShuffleSampler(ds, 8, buffer=24, seed=6)
    s.set_epoch(3)
    first = list(s)
    again = ChunkShuffleSampler(ds, 8, buffer=24, seed=6)
    again.load_state_dict(s.state_dict())
    assert list(again) == first
    again.set_epoch(4)
    assert list(again) != first
    dropped = ChunkShuffleSampler(ds, 7, drop_last=True)
    assert all(len(b) == 7 for b in dropped)
    assert len(list(dropped)) == len(dropped) == len(ds) // 7
    with pytest.raises(ValueError, match="buffer must be an int >= 1"):
        ChunkShuffleSampler(ds, 8, buffer=0)
    with pytest.raises(ValueError, match="num_workers must be an int >= 0"):
        ChunkShuffleSampler(ds, 8, num_workers=-1)
    streams = ChunkShuffleSampler(ds, 7, drop_last=True, num_workers=3)
    assert all(len(b) == 7 for b in streams)
    assert len(list(streams)) == len(streams) == len(ds) // 7


def test_worker_count_does_not_change_the_order(store) -> None:
    ds = dataset(store)
    sampler = ChunkShuffleSampler(ds, 6, seed=2)
    sampler.set_epoch(1)
    orders = []
    for workers in (0, 2):
        loader = DataLoader(
            ds, batch_sampler=sampler, collate_fn=ds.collate_fn, num_workers=workers
        )
        orders.append([b["index"].tolist() for b in loader])
    assert orders[0] == orders[1] == [list(b) for b in sampler]
