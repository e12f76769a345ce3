"""How a Masker's dynamic state reaches copies of it in data-loader worker processes.

A data loader pickles (or forks) the objects it runs in its workers once; with persistent workers
those copies live for the whole training run. The main process changes epoch, step and Plateau
levels on *its* Masker; a worker's copy would never see them. A *sync channel* is a small block
of shared memory that both copies hold: the owner publishes
[`sync_state`][maskkit.masker.Masker.sync_state] into it after every change, and a copy running in a
worker reads it before every mask.

This module is framework-free. [`SharedMemoryChannel`][maskkit._sync.SharedMemoryChannel] (attached
by [`share`][maskkit._sync.share]) works with any loader built on ``multiprocessing`` (a plain
``Pool``, PyTorch's DataLoader, Grain), fork or spawn; ``maskkit.torch.share`` attaches it too
(the one channel: it reads faster than a torch shared tensor, see ``benchmarks/bench_sync.py``).
A copy knows it runs in a worker by its process id alone: it is a copy when the process that owns
it (the one that made it, or the last one that changed it) is not the current process and the
current process was started by ``multiprocessing``. Whatever framework the process has imported
does not matter.

A copy that masks in a worker without a channel raises
[`WorkerSyncError`][maskkit._sync.WorkerSyncError]. People who really want a worker's copy frozen at
the state it was copied with set the environment variable ``MASKKIT_ALLOW_STALE_WORKERS=1``; the
copy then warns once ([`WorkerSyncWarning`][maskkit._sync.WorkerSyncWarning]).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import mmap
import multiprocessing
import os
import tempfile
import warnings
import weakref
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = [
    "ALLOW_STALE_ENV",
    "SharedMemoryChannel",
    "StallCheck",
    "SyncChannel",
    "SyncLink",
    "WorkerSyncError",
    "WorkerSyncWarning",
    "in_worker",
    "seqlock_publish",
    "seqlock_read",
    "share",
]

#: Environment variable that lets worker copies without a channel mask at a stale state.
ALLOW_STALE_ENV = "MASKKIT_ALLOW_STALE_WORKERS"

_NO_CHANNEL = (
    "a maskkit.Masker is drawing masks in a worker process (pid {pid}) without a sync channel: "
    "this copy never sees set_epoch, step or update of the process that drives it, so with "
    "persistent workers it masks at a stale curriculum level and repeats the same masks every "
    "epoch. Fix: call maskkit.share(masker) (any multiprocessing loader: Pool, Grain, torch) or "
    "maskkit.torch.share(masker) in the main process before the workers start "
    "(maskkit.torch.MaskingCollator, HaplotypeDataset and maskkit.hf do it for you)."
)


@runtime_checkable
class SyncChannel(Protocol):
    """Shared storage of a Masker's `sync_state` (a tuple of ints).

    ``publish`` runs in the owner process, ``read`` in workers; a read never returns a
    half-written state. The channel must survive the trip into a worker (fork or pickling)
    still pointing at the same memory.
    """

    def publish(self, values: tuple[int, ...]) -> None:
        """Store ``values`` (always the same length for one channel)."""

    def read(self) -> tuple[int, ...]:
        """Return the last published values."""


class WorkerSyncWarning(UserWarning):
    """A Masker masks in a worker with no channel, as ``MASKKIT_ALLOW_STALE_WORKERS=1`` allows."""


class WorkerSyncError(RuntimeError):
    """A Masker masks in a worker process with no sync channel: its state would be stale."""


def _started_by_multiprocessing() -> bool:
    return multiprocessing.parent_process() is not None


def in_worker() -> bool:
    """Return True in a process started by ``multiprocessing`` (a loader worker, a Pool process).

    Framework-free: PyTorch DataLoader workers, Grain workers and ``Pool`` processes are all
    ``multiprocessing`` children. A Masker uses the finer test of `SyncLink` (is this
    the process that owns it?); this function is for diagnostics.
    """
    return _started_by_multiprocessing()


def seqlock_publish(buf: Any, values: Any) -> None:
    """Write ``values`` into ``buf[1:]`` under the version counter ``buf[0]`` (odd mid-write)."""
    version = int(buf[0])
    buf[0] = version + 1
    buf[1:] = values
    buf[0] = version + 2


def seqlock_read(buf: Any) -> tuple[int, ...]:
    """Return ``buf[1:]`` as written by one whole `seqlock_publish`."""
    while True:
        snap = buf.tolist()
        if snap[0] % 2 == 0 and int(buf[0]) == snap[0]:
            return tuple(int(x) for x in snap[1:])


def _shm_dir() -> str | None:
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


def _remove(path: str, creator: int) -> None:
    if os.getpid() == creator:  # a forked child's copy of this object must not delete it
        with contextlib.suppress(OSError):
            os.unlink(path)


def _attach_channel(path: str, size: int) -> SharedMemoryChannel:
    channel = SharedMemoryChannel.__new__(SharedMemoryChannel)
    channel._open(path, size)
    return channel


class SharedMemoryChannel:
    """A sync channel in a small shared memory file, for any ``multiprocessing`` loader.

    ``size + 1`` int64 slots in a memory-mapped file (``/dev/shm`` where it exists): slot 0 is
    a version counter, odd while a write is under way (a seqlock), so a worker never reads half
    of an update. A forked worker inherits the mapping; a pickled copy (spawn, a ``Pool`` task,
    Grain) maps the same file again. The process that made the channel removes the file when
    the channel is garbage collected or at exit. Build it with [`share`][maskkit._sync.share].

    Examples
    --------
    >>> from maskkit._sync import SharedMemoryChannel
    >>> ch = SharedMemoryChannel(3)
    >>> ch.publish((4, 120, 1))
    >>> ch.read()
    (4, 120, 1)
    >>> import pickle
    >>> pickle.loads(pickle.dumps(ch)).read()
    (4, 120, 1)
    """

    #: Reaches every process that holds a copy (``share`` keeps such a channel).
    process_shared = True

    def __init__(self, size: int) -> None:
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise ValueError(f"size must be an int >= 1 (len(masker.sync_fields)), got {size!r}")
        fd, path = tempfile.mkstemp(prefix="maskkit-sync-", dir=_shm_dir())
        with os.fdopen(fd, "wb") as f:
            f.write(bytes(8 * (int(size) + 1)))
        self._finalizer = weakref.finalize(self, _remove, path, os.getpid())
        self._open(path, int(size))

    def _open(self, path: str, size: int) -> None:
        self.path, self.size = path, size
        with open(path, "r+b") as f:
            self._map = mmap.mmap(f.fileno(), 8 * (size + 1))
        self._buf = np.frombuffer(self._map, dtype=np.int64)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_attach_channel, (self.path, self.size))

    def publish(self, values: tuple[int, ...]) -> None:
        """Write ``values`` (``len == size``); workers see them at their next mask."""
        if len(values) != self.size:
            raise ValueError(
                f"values must hold {self.size} ints, got {len(values)}; a channel belongs to "
                "Maskers of one configuration"
            )
        seqlock_publish(self._buf, values)

    def read(self) -> tuple[int, ...]:
        """Return the last published values."""
        return seqlock_read(self._buf)

    def __repr__(self) -> str:
        return f"SharedMemoryChannel({self.read()})"


def share(masker: Any) -> SyncChannel:
    """Make ``masker``'s state reach its copies in any ``multiprocessing`` worker; return it.

    Attaches a [`SharedMemoryChannel`][maskkit._sync.SharedMemoryChannel] (or returns the
    process-shared channel already attached, e.g. by ``maskkit.torch.share``): every ``set_epoch``,
    ``set_step``, ``step``, ``update`` and ``load_state_dict`` of this process is published, and a
    copy in a worker (fork or spawn, persistent or not: a ``Pool`` initializer's, a Grain or
    DataLoader worker's) reads it before each mask. Call it before the workers start, and change the
    state before handing out the work that should use it.

    Examples
    --------
    >>> import maskkit as mk
    >>> from maskkit.curriculum import Levels
    >>> masker = mk.Masker("random", rate=Levels([0.2, 0.4], epochs_per_level=1), seed=0)
    >>> channel = mk.share(masker)
    >>> masker.set_epoch(1)
    >>> channel.read(), mk.share(masker) is channel
    ((1, 0), True)
    """
    if not (hasattr(masker, "sync_fields") and hasattr(masker, "set_sync_channel")):
        raise TypeError(f"masker must be a maskkit.Masker, got {type(masker).__name__}")
    channel = masker.sync_channel
    if getattr(channel, "process_shared", False):
        return channel
    channel = SharedMemoryChannel(len(masker.sync_fields))
    masker.set_sync_channel(channel)
    return channel


class SyncLink:
    """A Masker's end of a channel: publishes in the owner, pulls in copies, refuses if none.

    The owner is the process that made the link or attached its channel, or the last process
    that changed the Masker before drawing a mask with it (a DDP rank that received the Masker
    from its parent and calls ``set_epoch``). Any other process started by ``multiprocessing``
    holds a *copy*. A process not started by ``multiprocessing`` (a script that unpickled a
    Masker) takes ownership at once.

    Examples
    --------
    >>> link = SyncLink()
    >>> link.channel is None, link.is_copy()
    (True, False)
    """

    __slots__ = ("applied", "channel", "owner", "warned")

    def __init__(self) -> None:
        self.channel: SyncChannel | None = None
        self.applied: tuple[int, ...] | None = None
        self.warned = False
        self.owner = os.getpid()

    def is_copy(self) -> bool:
        """Return True in a worker process holding a copy of another process's Masker."""
        pid = os.getpid()
        if pid == self.owner:
            return False
        if not _started_by_multiprocessing():
            self.owner = pid  # a Masker loaded in a fresh process belongs to it
            return False
        return True

    def attach(self, channel: SyncChannel | None) -> None:
        """Use ``channel`` from now on (the attaching process owns the link)."""
        self.channel = channel
        self.applied = None
        self.owner = os.getpid()

    def publish(self, values: tuple[int, ...]) -> None:
        """Write ``values`` to the channel, from the owner process only.

        A copy that has not pulled yet and changes its Masker becomes the owner; a copy applying
        pulled values never publishes them back.
        """
        if self.is_copy():
            if self.applied is not None:
                return
            self.owner = os.getpid()
        if self.channel is not None:
            self.channel.publish(values)

    def pull(self) -> tuple[int, ...] | None:
        """In a copy: the channel's values if they changed since the last pull, else None.

        A copy with no channel raises [`WorkerSyncError`][maskkit._sync.WorkerSyncError], or warns
        once with [`WorkerSyncWarning`][maskkit._sync.WorkerSyncWarning] where
        ``MASKKIT_ALLOW_STALE_WORKERS=1``.
        """
        if not self.is_copy():
            return None
        if self.channel is None:
            message = _NO_CHANNEL.format(pid=os.getpid())
            if os.environ.get(ALLOW_STALE_ENV, "") not in ("1", "true", "yes"):
                raise WorkerSyncError(
                    f"{message} To mask at the copied state on purpose, set {ALLOW_STALE_ENV}=1."
                )
            if not self.warned:
                self.warned = True
                warnings.warn(message, WorkerSyncWarning, stacklevel=4)
            return None
        values = self.channel.read()
        if values == self.applied:
            return None
        self.applied = values
        return values


_LOG = logging.getLogger("maskkit")
_TRACKED = 1 << 16  # ids remembered per state: enough to see a second pass, bounded memory


class StallCheck:
    """Notices a curriculum that nothing drives: the same items masked again at the same state.

    A collator calls `observe` after each batch. When a Masker whose schedule is not
    constant masks half of its items again at one ``(mask epoch, rates)`` state, a second
    pass over the data began without ``set_epoch`` (or a step, or a Plateau update) in between:
    every pass gets the same masks at the same level. That is logged once, at ERROR level on the
    ``maskkit`` logger, with the fix. Frozen Maskers (``fixed_epoch``) and constant or
    per-sample rates are exempt: their masks are meant not to move.

    Examples
    --------
    >>> import maskkit as mk
    >>> from maskkit.curriculum import Levels
    >>> masker = mk.Masker("random", rate=Levels([0.1, 0.2], epochs_per_level=1), seed=0)
    >>> check = StallCheck()
    >>> check.observe(masker, [0, 1, 2, 3]), check.observe(masker, [0, 1])
    (False, True)
    """

    __slots__ = ("count", "reported", "seen", "state")

    def __init__(self) -> None:
        self.state: tuple[Any, ...] | None = None
        self.seen: set[int] = set()
        self.count = 0
        self.reported = False

    def observe(self, masker: Any, ids: Any) -> bool:
        """Record a batch's item ids; return True when this batch showed the stall (logged)."""
        if self.reported or masker.fixed_epoch is not None:
            return False
        if all(s.is_constant or s.per_sample for _, s in masker._schedules()):
            return False
        state = (masker.mask_epoch, masker.current_rates())
        if state != self.state:
            self.state, self.count = state, 0
            self.seen.clear()
        values = np.asarray(ids).ravel().tolist()
        batch = set(values)
        self.count += len(values) - len(batch) + len(batch & self.seen)
        room = _TRACKED - len(self.seen)
        if room > 0:
            new = batch - self.seen
            self.seen |= new if len(new) <= room else set(itertools.islice(new, room))
        # Within one pass every id is masked once. Repeats of half the ids seen mark a second
        # pass (a worker given a random half of a shuffled dataset each epoch gets there in its
        # third epoch), while one evaluation of a smaller set per epoch does not.
        if 2 * self.count < len(self.seen):
            return False
        self.reported = True
        _LOG.error(
            "maskkit: the curriculum is not moving: in process %d the Masker masked its items a "
            "second time at epoch %d with the same rates %s (so the same masks, at the same "
            "level, every pass), and nothing called set_epoch in between. Fix: call "
            "masker.set_epoch(epoch) before each epoch's iter(loader) (transformers.Trainer: "
            "add maskkit.hf.CurriculumCallback(masker) to callbacks). If these are evaluation "
            "batches sharing the training collator, give evaluation frozen masks "
            "(maskkit.hf.freeze_eval_masks(trainer), or collator.frozen()).",
            os.getpid(), state[0], tuple(round(r, 6) for r in state[1]),
        )  # fmt: skip
        return True
