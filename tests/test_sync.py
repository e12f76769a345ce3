"""Worker sync: a Masker held by any Dataset follows the curriculum in persistent workers."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
import torch
from bounds import assert_binomial
from torch.utils.data import DataLoader, Dataset

import maskkit as mk
from maskkit._sync import SyncLink, in_worker
from maskkit.curriculum import Levels, Plateau
from maskkit.torch import SharedChannel, share

pytestmark = pytest.mark.torch

LEVELS = [0.2, 0.4, 0.6]
N, SITES = 64, 200


class MaskingDataset(Dataset):
    """A user's own Dataset: it holds a Masker and masks in __getitem__ (no maskkit glue)."""

    def __init__(self, masker: mk.Masker) -> None:
        self.haps = np.zeros((N, 2, SITES), dtype=np.int8)
        self.masker = masker

    def __len__(self) -> int:
        return N

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        m = self.masker(self.haps[i : i + 1], indices=[i])[0]
        # the state this copy masked with, as the worker saw it
        epoch, step = self.masker.epoch, self.masker.global_step
        level = self.masker.schedule.level(epoch, step)
        seen = (epoch, step, -1 if level is None else level)
        return {"mask": torch.from_numpy(m), "index": torch.tensor(i), "seen": torch.tensor(seen)}


def run(masker, epochs, *, workers=2):
    ds = MaskingDataset(masker)
    loader = DataLoader(ds, batch_size=16, num_workers=workers, persistent_workers=workers > 0)
    masks = []
    for e in epochs:
        masker.set_epoch(e)
        batches = list(loader)
        order = torch.cat([b["index"] for b in batches]).argsort()
        masks.append(torch.cat([b["mask"] for b in batches])[order].numpy())
    return masks


def assert_follows(masks, levels):
    for e, (m, p) in enumerate(zip(masks, levels)):
        assert_binomial(int(m.sum()), m.size, p, what=f"epoch {e} at level {p}")
    assert not any((a == b).all() for a, b in itertools.pairwise(masks)), "epochs repeat masks"


def levels_masker():
    return mk.Masker("random", rate=Levels(LEVELS, epochs_per_level=1), seed=17)


def test_shared_masker_follows_curriculum_in_persistent_workers():
    masker = levels_masker()
    share(masker)
    masks = run(masker, range(3))
    assert_follows(masks, LEVELS)
    # the same masks as the main process draws itself
    direct = run(levels_masker(), range(3), workers=0)
    for a, b in zip(masks, direct):
        np.testing.assert_array_equal(a, b)


def test_unshared_masker_in_worker_warns_with_the_fix():
    masker = levels_masker()
    with warnings.catch_warnings():
        warnings.simplefilter("error", mk.WorkerSyncWarning)  # forked workers inherit it
        with pytest.raises(mk.WorkerSyncWarning, match=r"maskkit\.torch\.share\(masker\)"):
            run(masker, range(1))


def test_without_sync_the_rate_check_fails():
    # The failure worker sync prevents: persistent workers keep epoch 0 (rate 0.2, same masks).
    masker = levels_masker()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mk.WorkerSyncWarning)
        masks = run(masker, range(3))
    with pytest.raises(AssertionError, match=r"epoch 1 at level 0\.4"):
        assert_follows(masks, LEVELS)
    np.testing.assert_array_equal(masks[0], masks[2])


def test_channel_switched_off_leaves_workers_stale(monkeypatch):
    masker = levels_masker()
    share(masker)
    monkeypatch.setattr(SharedChannel, "publish", lambda self, values: None)
    masks = run(masker, range(3))
    np.testing.assert_array_equal(masks[0], masks[1])


def test_plateau_level_and_step_reach_workers():
    masker = mk.Masker("random", rate=Plateau(LEVELS, patience=0), seed=3)
    share(masker)
    ds = MaskingDataset(masker)
    loader = DataLoader(ds, batch_size=32, num_workers=2, persistent_workers=True)
    list(loader)
    masker.update(1.0)
    masker.update(0.5)  # no improvement: level 1
    masker.set_epoch(2)
    masker.step(7)
    batches = list(loader)
    got = torch.cat([b["mask"] for b in batches]).numpy()
    assert_binomial(int(got.sum()), got.size, LEVELS[1], what="plateau level 1")
    seen = torch.cat([b["seen"] for b in batches]).tolist()
    assert seen == [[2, 7, 1]] * N  # epoch, step and level of every worker's copy


def test_load_state_dict_publishes():
    a, b = levels_masker(), levels_masker()
    channel = share(b)
    a.set_epoch(2)
    a.step(5)
    b.load_state_dict(a.state_dict())
    assert channel.read() == (2, 5)


def test_frozen_masker_needs_no_channel(monkeypatch):
    frozen, plain = levels_masker().frozen(), levels_masker()
    monkeypatch.setattr("maskkit._sync.in_worker", lambda: True)
    frozen(np.zeros((1, 10), dtype=np.int8))  # no warning (warnings are errors here)
    with pytest.warns(mk.WorkerSyncWarning):
        plain(np.zeros((1, 10), dtype=np.int8))


def test_masker_built_in_a_worker_is_its_own_owner(monkeypatch):
    monkeypatch.setattr("maskkit._sync.in_worker", lambda: True)
    masker = levels_masker()  # e.g. made lazily in an IterableDataset's __iter__
    masker.set_epoch(2)
    masker(np.zeros((1, 10), dtype=np.int8))  # no warning: nothing to be stale against
    channel = share(masker)
    masker.set_epoch(1)
    assert channel.read() == (1, 0)
    masker(np.zeros((1, 10), dtype=np.int8))
    assert masker.epoch == 1


def test_link_pulls_only_changes_and_warns_once(monkeypatch):
    link = SyncLink()
    monkeypatch.setattr("maskkit._sync.in_worker", lambda: True)
    with pytest.warns(mk.WorkerSyncWarning):
        assert link.pull() is None
    assert link.pull() is None  # once
    link.channel = SharedChannel(2)
    link.channel.buffer[1:] = torch.tensor([4, 9])
    assert link.pull() == (4, 9)
    assert link.pull() is None
    link.publish((5, 0))  # workers never publish
    assert link.channel.read() == (4, 9)


def test_channel_checks():
    with pytest.raises(ValueError, match="size"):
        SharedChannel(0)
    with pytest.raises(ValueError, match="2 ints"):
        SharedChannel(2).publish((1, 2, 3))
    with pytest.raises(TypeError, match="publish"):
        levels_masker().set_sync_channel(object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"maskkit\.Masker"):
        share("masker")  # type: ignore[arg-type]
    assert not in_worker()
