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
from maskkit._sync import SharedMemoryChannel, in_worker
from maskkit.curriculum import Levels, Plateau
from maskkit.torch import share

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


def test_unshared_masker_in_worker_is_an_error_even_with_warnings_off(monkeypatch):
    monkeypatch.setenv("PYTHONWARNINGS", "ignore")
    masker = levels_masker()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # forked workers inherit it: the error is not a warning
        with pytest.raises(mk.WorkerSyncError, match=r"maskkit\.torch\.share\(masker\)"):
            run(masker, range(1))


def test_without_sync_the_rate_check_fails(monkeypatch):
    # The failure worker sync prevents: persistent workers keep epoch 0 (rate 0.2, same masks).
    monkeypatch.setenv("MASKKIT_ALLOW_STALE_WORKERS", "1")  # the explicit opt-out
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
    monkeypatch.setattr(SharedMemoryChannel, "publish", lambda self, values: None)
    masks = run(masker, range(3))
    np.testing.assert_array_equal(masks[0], masks[1])


def test_plateau_level_and_step_reach_workers():
    masker = mk.Masker("random", rate=Plateau(LEVELS, patience=0, mode="max"), seed=3)
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


def test_torch_worker_copy_is_detected_without_torch(monkeypatch):
    # DataLoader workers are multiprocessing children: the pid test finds them, torch or not
    parent = levels_masker()
    seen = run_in_workers(
        lambda: (in_worker(), parent._sync.is_copy(), levels_masker()._sync.is_copy())
    )
    assert seen == {(True, True, False)}  # the parent's Masker is a copy there; a new one is not
    assert not in_worker()
    assert not parent._sync.is_copy()


def test_share_keeps_a_framework_free_channel():
    masker = levels_masker()
    channel = mk.share(masker)
    assert share(masker) is channel
    masks = run(masker, range(3))
    assert_follows(masks, LEVELS)


def test_torch_share_attaches_the_one_channel():
    masker = levels_masker()
    channel = share(masker)
    assert type(channel) is SharedMemoryChannel
    assert mk.share(masker) is channel
    masker.set_epoch(2)
    assert channel.read() == masker.sync_state()


def test_shared_channel_is_a_deprecated_alias():
    import maskkit.torch as mt

    with pytest.warns(DeprecationWarning, match="SharedMemoryChannel") as record:
        alias = mt.SharedChannel
    assert len(record) == 1
    assert alias is SharedMemoryChannel
    assert "SharedChannel" not in mt.__all__
    with pytest.raises(AttributeError, match="NoSuchName"):
        mt.NoSuchName  # noqa: B018


class _Probe(Dataset):
    def __init__(self, fn) -> None:
        self.fn = fn

    def __len__(self) -> int:
        return 4

    def __getitem__(self, i: int) -> tuple:
        return self.fn()


def run_in_workers(fn):
    loader = DataLoader(
        _Probe(fn), batch_size=None, num_workers=2, multiprocessing_context="fork", collate_fn=tuple
    )
    return set(loader)


def test_channel_checks():
    with pytest.raises(ValueError, match="size"):
        SharedMemoryChannel(0)
    with pytest.raises(ValueError, match="2 ints"):
        SharedMemoryChannel(2).publish((1, 2, 3))
    with pytest.raises(TypeError, match="publish"):
        levels_masker().set_sync_channel(object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"maskkit\.Masker"):
        share("masker")  # type: ignore[arg-type]
    assert not in_worker()
