"""Reused shared-memory blocks for batches sent from DataLoader workers (torch only).

torch sends a shared tensor through a worker's queue as a segment and a file descriptor: the
worker creates and maps a new segment for every batch, a thread of the worker hands the
descriptor over, and the main process maps the segment again. That hand-over costs more than a
batch's work. Here each worker keeps a few blocks and reuses them: a block's descriptor crosses
the pipe once, later batches only name the block, and the main process copies the batch out of
it and marks the block free.

Each block starts with a header of two int64 words, ``state`` and ``generation``. The worker
takes only FREE blocks, sets a new generation and BUSY, then writes the batch. The main process
checks that the block is BUSY with the generation the message names, copies the batch, checks the
generation again and sets FREE. A mismatch raises instead of returning another batch's data.
When no block is free (the main process has not yet received the batches in flight) the worker
makes a new one, up to ``MAX_BLOCKS``, then falls back to a one-off segment: it never waits.

A batch that is never received (a loop that breaks early) leaves its block BUSY; the block
belongs to its worker and goes with it. The main process drops the blocks of workers that have
exited when a new worker's first block arrives.
"""

from __future__ import annotations

import os
import secrets
import threading
from typing import Any

import numpy as np
import torch
import torch.utils.data

FREE, BUSY = 0, 1
HEADER = 16  # bytes: int64 state, int64 generation
MAX_BLOCKS = 16
_GRAIN = 1 << 16  # block sizes are multiples of 64 KiB, so small changes of size reuse a block

Layout = list[tuple[str, torch.dtype, tuple[int, ...], int]]


def layout_of(tensors: dict[str, torch.Tensor]) -> tuple[Layout, int]:
    """Return each tensor's ``(name, dtype, shape, offset)`` in one packed block, and its size."""
    layout: Layout = []
    total = 0
    for name, t in tensors.items():
        layout.append((name, t.dtype, tuple(t.shape), total))
        total += -(-(t.numel() * t.element_size()) // 8) * 8  # 8-byte aligned
    return layout, total


def pack(tensors: dict[str, torch.Tensor], layout: Layout, buf: torch.Tensor) -> None:
    """Copy ``tensors`` into ``buf`` (uint8) at the offsets of ``layout``."""
    for (_, dtype, shape, offset), t in zip(layout, tensors.values()):
        n = t.numel() * t.element_size()
        buf[offset : offset + n].view(dtype).view(shape).copy_(t)


def unpack(buf: torch.Tensor, layout: Layout) -> dict[str, torch.Tensor]:
    """Return views of ``buf`` (uint8) as the tensors of ``layout``."""
    out = {}
    for name, dtype, shape, offset in layout:
        n = int(np.prod(shape, dtype=np.int64)) * torch.empty((), dtype=dtype).element_size()
        out[name] = buf[offset : offset + n].view(dtype).view(shape)
    return out


class _Pool:
    """The blocks of one worker process."""

    def __init__(self) -> None:
        self.token = (os.getpid(), secrets.randbits(62))
        self.blocks: list[torch.Tensor] = []
        self.headers: list[np.ndarray] = []
        self.sent: list[bool] = []
        self.generation = 0

    def claim(self, nbytes: int) -> int | None:
        """Return the index of a FREE block of at least ``nbytes`` (made if need be), or None."""
        for i, h in enumerate(self.headers):
            if h[0] == FREE and self.blocks[i].numel() - HEADER >= nbytes:
                break
        else:
            if len(self.blocks) >= MAX_BLOCKS:
                return None
            size = HEADER + -(-nbytes // _GRAIN) * _GRAIN
            block = torch.zeros(size, dtype=torch.uint8).share_memory_()
            self.blocks.append(block)
            self.headers.append(block[:HEADER].numpy().view(np.int64))
            self.sent.append(False)
            i = len(self.blocks) - 1
        self.generation += 1
        h = self.headers[i]
        h[1] = self.generation
        h[0] = BUSY
        return i


_pool: _Pool | None = None
_pool_lock = threading.Lock()


def _worker_pool() -> _Pool:
    global _pool
    with _pool_lock:
        if _pool is None or _pool.token[0] != os.getpid():  # a forked child makes its own
            _pool = _Pool()
        return _pool


def reduce_in_worker(tensors: dict[str, torch.Tensor]) -> tuple[Any, ...] | None:
    """Write CPU ``tensors`` into a reused block; return the arguments of ``rebuild_from_block``.

    None outside DataLoader workers and when no block can be had (the caller then packs a
    one-off block). The block's tensor goes with the arguments only the first time.
    """
    if torch.utils.data.get_worker_info() is None:
        return None
    layout, nbytes = layout_of(tensors)
    pool = _worker_pool()
    with _pool_lock:
        i = pool.claim(nbytes)
        if i is None:
            return None
        block = pool.blocks[i]
        pack(tensors, layout, block[HEADER : HEADER + nbytes])
        first = not pool.sent[i]
        pool.sent[i] = True
        generation = int(pool.headers[i][1])
    return (pool.token, i, generation, block if first else None, layout, nbytes)


# ------------------------------------------------------------------------------- main process

_received: dict[tuple[int, int, int], tuple[torch.Tensor, np.ndarray]] = {}
_received_lock = threading.Lock()


def _drop_exited_workers() -> None:
    pids = {key[0] for key in _received}
    gone = set()
    for pid in pids:
        if pid <= 0:  # not a process id (os.kill would address a process group)
            gone.add(pid)
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            gone.add(pid)
        except PermissionError:  # pragma: no cover - a pid reused by another user's process
            gone.add(pid)
    for key in [k for k in _received if k[0] in gone]:
        del _received[key]


def rebuild_from_block(
    token: tuple[int, int],
    index: int,
    generation: int,
    block: torch.Tensor | None,
    layout: Layout,
    nbytes: int,
) -> dict[str, torch.Tensor]:
    """Copy a batch out of a worker's block and free the block (runs in the receiving process)."""
    key = (token[0], token[1], index)
    with _received_lock:
        if block is not None:
            if not any(k[:2] == key[:2] for k in _received):
                _drop_exited_workers()  # a new worker: forget the blocks of those that exited
            _received[key] = (block, block[:HEADER].numpy().view(np.int64))
        entry = _received.get(key)
    if entry is None:
        raise RuntimeError(
            f"maskkit: a batch from DataLoader worker process {token[0]} names shared block "
            f"{index}, which this process never received. Batches of maskkit's Batch type must "
            "be unpickled by the process that reads the DataLoader, in the order sent."
        )
    shared, header = entry
    if header[0] != BUSY or header[1] != generation:
        raise RuntimeError(
            f"maskkit: shared block {index} of worker process {token[0]} holds generation "
            f"{int(header[1])} (state {int(header[0])}), not the batch's generation {generation}; "
            "refusing to return another batch's data."
        )
    buf = torch.empty(nbytes, dtype=torch.uint8)
    buf.copy_(shared[HEADER : HEADER + nbytes])
    if header[1] != generation:  # pragma: no cover - only a worker bug could overwrite it
        raise RuntimeError(f"maskkit: shared block {index} was overwritten while being read")
    header[0] = FREE
    return unpack(buf, layout)
