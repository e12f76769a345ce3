"""Framework-free worker sync: a Masker held by plain multiprocessing Pool workers.

No torch here: the channel is maskkit.share's shared memory file, and a copy finds out that it
runs in a worker by its process id, whatever the process imported.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import warnings

import numpy as np
import pytest

import maskkit as mk
from maskkit._sync import SharedMemoryChannel, SyncLink
from maskkit.curriculum import Levels

LEVELS = [0.2, 0.4, 0.6]
N, SITES = 24, 100
METHODS = ["fork", "spawn"] if sys.platform != "win32" else ["spawn"]

_HELD: list[mk.Masker] = []


def _hold(masker: mk.Masker) -> None:
    _HELD[:] = [masker]


def _draw(i: int) -> tuple[int, int, int, np.ndarray]:
    """Mask item ``i`` with the worker's long-lived copy; return the state it masked at."""
    m = _HELD[0]
    mask = m(np.zeros((1, 2, SITES), dtype=np.int8), indices=[i])[0]
    return os.getpid(), m.epoch, m.global_step, mask


def _own_masker(epoch: int) -> tuple[int, int]:
    """A Masker built inside a worker belongs to that worker: no channel needed."""
    m = levels_masker()
    m.set_epoch(epoch)
    m(np.zeros((1, 10), dtype=np.int8))
    return m.epoch, int(m.sync_channel is None)


def levels_masker() -> mk.Masker:
    return mk.Masker("random", rate=Levels(LEVELS, epochs_per_level=1), seed=17)


def expected(epoch: int) -> np.ndarray:
    m = levels_masker()
    m.set_epoch(epoch)
    return m(np.zeros((N, 2, SITES), dtype=np.int8), indices=np.arange(N))


@pytest.mark.parametrize("method", METHODS)
def test_pool_workers_follow_set_epoch_and_step(method):
    masker = levels_masker()
    channel = mk.share(masker)
    assert isinstance(channel, SharedMemoryChannel)
    ctx = multiprocessing.get_context(method)
    with ctx.Pool(2, initializer=_hold, initargs=(masker,)) as pool:
        for epoch in range(3):
            masker.set_epoch(epoch)
            masker.step()
            out = pool.map(_draw, range(N), chunksize=1)
            assert {(e, s) for _, e, s, _ in out} == {(epoch, epoch + 1)}
            assert os.getpid() not in {pid for pid, *_ in out}
            np.testing.assert_array_equal(np.stack([m for *_, m in out]), expected(epoch))


@pytest.mark.parametrize("method", METHODS)
def test_pool_copy_without_channel_is_an_error(method, monkeypatch):
    monkeypatch.setenv("PYTHONWARNINGS", "ignore")  # warnings off cannot hide it
    masker = levels_masker()
    ctx = multiprocessing.get_context(method)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with (
            ctx.Pool(1, initializer=_hold, initargs=(masker,)) as pool,
            pytest.raises(mk.WorkerSyncError, match=r"maskkit\.share\(masker\)"),
        ):
            pool.map(_draw, range(2))


def test_stale_copies_only_on_explicit_opt_out(monkeypatch):
    monkeypatch.setenv("MASKKIT_ALLOW_STALE_WORKERS", "1")
    masker = levels_masker()
    ctx = multiprocessing.get_context(METHODS[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mk.WorkerSyncWarning)
        with ctx.Pool(1, initializer=_hold, initargs=(masker,)) as pool:
            masker.set_epoch(2)
            out = pool.map(_draw, range(N))
    assert {e for _, e, _, _ in out} == {0}  # stale, as asked


@pytest.mark.parametrize("method", METHODS)
def test_masker_made_in_a_worker_is_its_own(method):
    with multiprocessing.get_context(method).Pool(1) as pool:
        assert pool.map(_own_masker, [3]) == [(3, 1)]


def test_frozen_copy_needs_no_channel():
    frozen = levels_masker().frozen()
    with multiprocessing.get_context(METHODS[0]).Pool(1, _hold, (frozen,)) as pool:
        out = pool.map(_draw, range(3))
    np.testing.assert_array_equal(np.stack([m for *_, m in out]), frozen(
        np.zeros((3, 2, SITES), dtype=np.int8), indices=np.arange(3)))  # fmt: skip


def test_copy_that_changes_state_first_becomes_the_owner(monkeypatch):
    # e.g. a DDP rank started by mp.spawn with its parent's Masker, calling set_epoch itself
    link = SyncLink()
    link.owner = -1
    monkeypatch.setattr("maskkit._sync._started_by_multiprocessing", lambda: True)
    assert link.is_copy()
    link.publish((1, 0))
    assert not link.is_copy()
    assert link.pull() is None


def test_copy_applying_pulled_state_does_not_take_over(monkeypatch):
    link = SyncLink()
    link.attach(SharedMemoryChannel(2))
    assert link.channel is not None
    link.channel.publish((4, 9))
    link.owner = -1
    monkeypatch.setattr("maskkit._sync._started_by_multiprocessing", lambda: True)
    assert link.pull() == (4, 9)
    assert link.pull() is None  # only changes
    link.publish((4, 9))  # the Masker applying what it pulled
    assert link.is_copy()
    link.channel.publish((5, 0))
    assert link.pull() == (5, 0)


def test_unpickled_in_a_fresh_process_owns_itself(monkeypatch):
    link = SyncLink()
    link.owner = -1
    monkeypatch.setattr("maskkit._sync._started_by_multiprocessing", lambda: False)
    assert not link.is_copy()
    assert link.owner == os.getpid()


def test_channel_checks_and_cleanup():
    with pytest.raises(ValueError, match="size"):
        SharedMemoryChannel(0)
    ch = SharedMemoryChannel(2)
    with pytest.raises(ValueError, match="2 ints"):
        ch.publish((1, 2, 3))
    path = ch.path
    assert os.path.exists(path)
    del ch
    assert not os.path.exists(path)
    with pytest.raises(TypeError, match=r"maskkit\.Masker"):
        mk.share("masker")  # type: ignore[arg-type]
