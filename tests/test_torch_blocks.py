"""Batches from DataLoader workers through reused shared-memory blocks (maskkit._blocks)."""

from __future__ import annotations

import pickle
from multiprocessing.reduction import ForkingPickler

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from maskkit import _blocks
from maskkit.torch import Batch

pytestmark = pytest.mark.torch


class Items(Dataset[Batch]):
    """Batch ``[i, j, ...]`` holds tensors computed from the indices; sizes vary with them."""

    def __len__(self) -> int:
        return 400

    def __getitems__(self, indices: list[int]) -> Batch:
        idx = torch.tensor(indices, dtype=torch.int64)
        width = 50 + 97 * (int(idx[0]) % 5)  # 50-438 sites: blocks of several sizes
        ids = (idx[:, None] * 7 + torch.arange(width)) % 251
        return Batch(
            index=idx,
            input_ids=ids.to(torch.uint8),
            labels=(ids - 120).to(torch.int8),
            mask=(ids % 3 == 0),
            wide=ids * 1_000_003,
        )


def expected(indices: torch.Tensor) -> Batch:
    return Items().__getitems__(indices.tolist())


def assert_same(got: Batch, want: Batch) -> None:
    assert list(got) == list(want)
    for k in want:
        assert got[k].dtype == want[k].dtype, k
        assert torch.equal(got[k], want[k]), k


def loader(workers: int = 2, persistent: bool = True, batch: int = 8) -> DataLoader:
    return DataLoader(
        Items(),
        batch_size=batch,
        shuffle=True,
        generator=torch.Generator().manual_seed(5),
        num_workers=workers,
        persistent_workers=persistent,
        collate_fn=lambda b: b,
    )


def blocks_of_live_workers() -> dict[tuple[int, int], int]:
    count: dict[tuple[int, int], int] = {}
    for pid, token, _ in _blocks._received:
        count[(pid, token)] = count.get((pid, token), 0) + 1
    return count


def test_worker_batches_are_exact_and_blocks_are_reused() -> None:
    dl = loader()
    seen = 0
    for _ in range(2):
        for b in dl:
            assert_same(b, expected(b["index"]))
            seen += 1
    assert seen == 100
    per_worker = blocks_of_live_workers()
    assert len(per_worker) >= 2
    # 50 batches per worker went through a handful of blocks (sizes vary, 2 prefetched each)
    assert all(n <= 8 for n in per_worker.values()), per_worker
    # every batch sent was received, so every block is free again
    assert all(h[0] == _blocks.FREE for _, h in _blocks._received.values())
    del dl


def test_held_batches_keep_their_data() -> None:
    dl = loader()
    held = list(dl)  # the blocks are reused many times while these are held
    for b in held:
        assert_same(b, expected(b["index"]))


def test_early_break_then_next_epoch_with_persistent_workers() -> None:
    dl = loader()
    for i, _ in enumerate(dl):
        if i == 3:
            break
    n = 0
    for b in dl:
        assert_same(b, expected(b["index"]))
        n += 1
    assert n == 50


def test_blocks_of_exited_workers_are_dropped() -> None:
    dl = loader(persistent=False)
    tokens = []
    for _ in range(3):  # non-persistent: new worker processes every epoch
        for b in dl:
            assert_same(b, expected(b["index"]))
        tokens.append(set(blocks_of_live_workers()))
    # a new epoch's first block dropped the previous epoch's workers' blocks
    assert not tokens[0] & tokens[2]


def test_no_free_block_falls_back_to_one_off_segments(monkeypatch) -> None:
    monkeypatch.setattr(_blocks, "MAX_BLOCKS", 0)  # inherited by the forked workers
    before = set(_blocks._received)
    for b in loader(persistent=False):
        assert_same(b, expected(b["index"]))
    assert set(_blocks._received) == before


def _fake_block(generation: int, payload: bytes) -> torch.Tensor:
    block = torch.zeros(_blocks.HEADER + 64, dtype=torch.uint8)
    header = block[: _blocks.HEADER].numpy().view(np.int64)
    header[:] = (_blocks.BUSY, generation)
    block[_blocks.HEADER : _blocks.HEADER + len(payload)] = torch.frombuffer(
        bytearray(payload), dtype=torch.uint8
    )
    return block


def test_a_stale_or_replayed_message_raises_instead_of_returning_other_data() -> None:
    token = (-1, 12345)  # no such process: the entry is private to this test
    block = _fake_block(7, b"abcdefgh")
    layout = [("x", torch.uint8, (8,), 0)]
    try:
        with pytest.raises(RuntimeError, match="generation 7"):
            _blocks.rebuild_from_block(token, 0, 6, block, layout, 8)
        got = _blocks.rebuild_from_block(token, 0, 7, None, layout, 8)
        assert bytes(got["x"].numpy()) == b"abcdefgh"
        assert block[: _blocks.HEADER].numpy().view(np.int64)[0] == _blocks.FREE
        with pytest.raises(RuntimeError, match="state 0"):  # the same message again
            _blocks.rebuild_from_block(token, 0, 7, None, layout, 8)
        with pytest.raises(RuntimeError, match="never received"):
            _blocks.rebuild_from_block(token, 1, 1, None, layout, 8)
    finally:
        for key in [k for k in _blocks._received if k[:2] == token]:
            del _blocks._received[key]


def test_pool_reuses_free_blocks_and_grows_for_larger_batches(monkeypatch) -> None:
    pool = _blocks._Pool()
    a = pool.claim(100)
    b = pool.claim(100)  # a is busy: a second block
    assert (a, b) == (0, 1)
    pool.headers[a][0] = _blocks.FREE
    assert pool.claim(100) == a
    pool.headers[b][0] = _blocks.FREE
    assert pool.claim(200_000) == 2  # b is free but too small
    monkeypatch.setattr(_blocks, "MAX_BLOCKS", 3)
    assert pool.claim(10) == 1
    assert pool.claim(10) is None  # all three busy, no more allowed
    assert [int(h[1]) for h in pool.headers] == [3, 5, 4]


def test_outside_workers_a_batch_pickles_as_one_fresh_block() -> None:
    b = Items().__getitems__([3, 9, 4])
    for dumps, loads in [(pickle.dumps, pickle.loads), (ForkingPickler.dumps, pickle.loads)]:
        assert_same(loads(dumps(b)), b)
    assert _blocks.reduce_in_worker(dict(b)) is None
