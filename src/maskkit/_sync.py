"""How a Masker's dynamic state reaches copies of it in data-loader worker processes.

A data loader pickles (or forks) the objects it runs in its workers once; with persistent workers
those copies live for the whole training run. The main process changes epoch, step and Plateau
levels on *its* Masker; a worker's copy would never see them. A *sync channel* is a small block
of shared memory, made by a framework adapter (:func:`maskkit.torch.share`), that both copies
hold: the owner publishes :meth:`~maskkit.Masker.sync_state` into it after every change, and a
copy running in a worker reads it before every mask.

This module is framework-free: it defines what a channel must do and how a Masker finds out
that it runs in a worker (only by looking at frameworks the process has already imported).
"""

from __future__ import annotations

import sys
import warnings
from typing import Protocol, runtime_checkable

__all__ = ["SyncChannel", "SyncLink", "WorkerSyncWarning", "in_worker"]


@runtime_checkable
class SyncChannel(Protocol):
    """Shared storage of a Masker's :meth:`~maskkit.Masker.sync_state` (a tuple of ints).

    ``publish`` runs in the owner process, ``read`` in workers; a read never returns a
    half-written state. The channel must survive the trip into a worker (fork or pickling)
    still pointing at the same memory.
    """

    def publish(self, values: tuple[int, ...]) -> None:
        """Store ``values`` (always the same length for one channel)."""

    def read(self) -> tuple[int, ...]:
        """Return the last published values."""


class WorkerSyncWarning(UserWarning):
    """A Masker masks in a data-loader worker with no sync channel: its state may be stale."""


def in_worker() -> bool:
    """Return True inside a PyTorch DataLoader worker process.

    Looks only at ``torch.utils.data`` if the process has already imported it (a DataLoader
    worker always has), so the core never imports torch.
    """
    data = sys.modules.get("torch.utils.data")
    if data is None:
        return False
    get_info = getattr(data, "get_worker_info", None)
    return get_info is not None and get_info() is not None


class SyncLink:
    """A Masker's end of a channel: publishes in the owner, pulls in workers, warns if none.

    A link made (or given its channel) inside a worker is *local*: that Masker belongs to the
    worker, so it publishes and never pulls or warns.

    Examples
    --------
    >>> link = SyncLink()
    >>> link.channel is None
    True
    """

    __slots__ = ("applied", "channel", "local", "warned")

    def __init__(self) -> None:
        self.channel: SyncChannel | None = None
        self.applied: tuple[int, ...] | None = None
        self.warned = False
        self.local = in_worker()

    def attach(self, channel: SyncChannel | None) -> None:
        """Use ``channel`` from now on (made here: in a worker, the link becomes local)."""
        self.channel = channel
        self.applied = None
        self.local = in_worker()

    def publish(self, values: tuple[int, ...]) -> None:
        """Write ``values`` to the channel, from the owner process only."""
        if self.channel is not None and (self.local or not in_worker()):
            self.channel.publish(values)

    def pull(self) -> tuple[int, ...] | None:
        """In a worker: the channel's values if they changed since the last pull, else None.

        A worker with no channel gets a :class:`WorkerSyncWarning` (once) and None.
        """
        if self.local or not in_worker():
            return None
        if self.channel is None:
            if not self.warned:
                self.warned = True
                warnings.warn(
                    "a maskkit.Masker is drawing masks in a DataLoader worker without a sync "
                    "channel: with persistent_workers=True this copy never sees set_epoch, "
                    "step or update of the main process, so it masks at a stale curriculum "
                    "level and repeats the same masks every epoch. Fix: call "
                    "maskkit.torch.share(masker) in the main process before building the "
                    "DataLoader (maskkit.torch.MaskingCollator and HaplotypeDataset do it).",
                    WorkerSyncWarning,
                    stacklevel=4,
                )
            return None
        values = self.channel.read()
        if values == self.applied:
            return None
        self.applied = values
        return values
