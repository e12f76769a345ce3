"""maskkit.torch: batches vs an independent reference; workers, epochs, curriculum, samplers."""

from __future__ import annotations

import dataclasses
import pickle

import h5py
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

import maskkit as mk
from maskkit._sync import SharedMemoryChannel
from maskkit.curriculum import Levels, Plateau
from maskkit.io import HaplotypeStore, Windows
from maskkit.torch import (
    Batch,
    HaplotypeDataset,
    WindowBatchSampler,
    collate_fn,
    worker_info,
)

pytestmark = pytest.mark.torch

SEED = 4321
N_SAMPLES, N_SITES = 12, 100
SELECTED = np.array([0, 2, 3, 5, 7, 8, 11])
WINDOW = 32  # windows (0,32) (32,64) (64,96) (96,100): the last one is short
KEYS = ("input_ids", "labels", "attention_mask", "mask")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    rng = np.random.default_rng(11)
    gt = (rng.random((N_SITES, N_SAMPLES, 2)) < 0.2).astype(np.int8)  # (sites, samples, ploidy)
    gt[rng.random(gt.shape) < 0.03] = -1
    path = tmp_path_factory.mktemp("torch") / "store.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("calldata/GT", data=gt, chunks=(16, 4, 2))
        f.create_dataset("variants/POS", data=np.arange(1, N_SITES + 1) * 7)
        f.create_dataset("samples", data=np.array([f"s{i}".encode() for i in range(N_SAMPLES)]))
    return path, gt.transpose(1, 2, 0).copy()  # (samples, ploidy, sites)


def reference(haps_all, items, *, epoch, ref_rate, alt_rate=0.7, seed=SEED):
    """The batch of dataset items from the core functions alone (no Masker, no dataset)."""
    bounds = Windows.fixed(N_SITES, WINDOW).bounds
    n_sel, n_win = SELECTED.size, bounds.shape[0]
    items = np.asarray(items)
    window = items // n_sel
    sample = SELECTED[items % n_sel]
    keys = sample * n_win + window
    lengths = bounds[window, 1] - bounds[window, 0]
    haps = np.zeros((items.size, 2, lengths.max()), dtype=np.int8)
    for r, (s, w) in enumerate(zip(sample, window)):
        haps[r, :, : lengths[r]] = haps_all[s, :, bounds[w, 0] : bounds[w, 1]]
    mask = mk.smart_balanced_mask(
        haps, ref_rate, alt_rate, seed=seed, epoch=epoch, indices=keys, lengths=lengths
    )
    out = mk.collate(haps, mask, lengths=lengths, seed=seed, epoch=epoch, indices=keys)
    out["index"] = items
    return out


def assert_batch_equal(got, want):
    for k in (*KEYS, "index"):
        np.testing.assert_array_equal(got[k].numpy(), want[k], err_msg=k)


def make(path, rate, **kw):
    masker = mk.Masker("smart_balanced", rate=rate, seed=SEED)
    return HaplotypeDataset(path, masker, windows=WINDOW, samples=SELECTED, **kw)


def run_epochs(ds, loader, epochs):
    out = []
    for e in epochs:
        ds.set_epoch(e)
        out.append([{k: v.clone() for k, v in b.items()} for b in loader])
    return out


LEVELS = [0.2, 0.5, 0.8]


def test_batches_identical_across_workers_and_match_reference(data):
    path, haps = data
    runs = {}
    for workers, persistent in [(0, False), (1, False), (1, True), (2, False), (2, True)]:
        ds = make(path, Levels(LEVELS, epochs_per_level=1))
        loader = DataLoader(
            ds,
            batch_size=5,
            # the sampler's own generator: the loader's would also seed workers, and persistent
            # loaders draw that seed once, not every epoch, which changes the order
            sampler=torch.utils.data.RandomSampler(ds, generator=torch.Generator().manual_seed(3)),
            num_workers=workers,
            persistent_workers=persistent,
            collate_fn=ds.collate_fn,
        )
        runs[(workers, persistent)] = run_epochs(ds, loader, range(3))
    base = runs[(0, False)]
    for epoch, batches in enumerate(base):
        assert sum(b["index"].numel() for b in batches) == len(SELECTED) * 4
        for b in batches:
            want = reference(haps, b["index"].numpy(), epoch=epoch, ref_rate=LEVELS[epoch])
            assert_batch_equal(b, want)
    for cfg, epochs in runs.items():
        for batches, want in zip(epochs, base):
            assert len(batches) == len(want), cfg
            for b, w in zip(batches, want):
                assert b.keys() == w.keys()
                for k in b:
                    assert torch.equal(b[k], w[k]), (cfg, k)


def plateau_masker():
    return Plateau([0.05, 0.95], patience=0, mode="max")


def test_curriculum_change_reaches_persistent_workers(data):
    path, haps = data
    ds = make(path, plateau_masker())
    loader = DataLoader(
        ds, batch_size=7, num_workers=2, persistent_workers=True, collate_fn=ds.collate_fn
    )
    _, e1 = run_epochs(ds, loader, [0, 1])  # workers start (fork) here, at level 0
    for b in e1:
        assert_batch_equal(b, reference(haps, b["index"].numpy(), epoch=1, ref_rate=0.05))
    assert not ds.masker.update(0.9)
    assert ds.masker.update(0.5)  # no improvement -> level 1 (rate 0.95)
    (e2,) = run_epochs(ds, loader, [2])
    for b in e2:
        assert_batch_equal(b, reference(haps, b["index"].numpy(), epoch=2, ref_rate=0.95))
    masked = torch.cat([b["mask"][b["labels"] == 0] for b in e2]).float().mean()
    assert masked > 0.85  # ref sites now at 0.95 (they were at 0.05)


def test_without_propagation_workers_are_stale(data, monkeypatch):
    # The failure that plain attribute assignment has: forked workers keep their copy.
    path, haps = data
    ds = make(path, plateau_masker())
    monkeypatch.setattr(SharedMemoryChannel, "publish", lambda self, values: None)
    loader = DataLoader(
        ds, batch_size=7, num_workers=1, persistent_workers=True, collate_fn=ds.collate_fn
    )
    run_epochs(ds, loader, [0])
    ds.masker.update(0.9)
    ds.masker.update(0.5)
    (e2,) = run_epochs(ds, loader, [2])
    stale = reference(haps, e2[0]["index"].numpy(), epoch=0, ref_rate=0.05)
    assert_batch_equal(e2[0], stale)


def test_spawned_workers_see_set_epoch(data):
    path, haps = data
    ds = make(path, Levels(LEVELS, epochs_per_level=1))
    loader = DataLoader(
        ds,
        batch_size=28,
        num_workers=1,
        persistent_workers=True,
        multiprocessing_context="spawn",
        collate_fn=ds.collate_fn,
    )
    for epoch, (b,) in zip([0, 2], run_epochs(ds, loader, [0, 2])):
        assert_batch_equal(b, reference(haps, np.arange(28), epoch=epoch, ref_rate=LEVELS[epoch]))


def test_frozen_validation_masks(data):
    path, haps = data
    train = mk.Masker("smart_balanced", rate=Levels(LEVELS, epochs_per_level=1), seed=SEED)
    val = HaplotypeDataset(path, train, windows=WINDOW, samples=SELECTED, frozen=True)
    assert val.masker is not train
    assert val.masker.fixed_epoch == 0
    loader = DataLoader(
        val, batch_size=28, num_workers=1, persistent_workers=True, collate_fn=val.collate_fn
    )
    (first,), (later,) = run_epochs(val, loader, [0, 2])
    train.set_epoch(2)
    for k in KEYS:
        assert torch.equal(first[k], later[k])
    assert_batch_equal(later, reference(haps, np.arange(28), epoch=0, ref_rate=LEVELS[0]))


def test_one_store_read_per_window(data, monkeypatch):
    path, haps = data
    ds = make(path, 0.3)
    calls = []
    orig = HaplotypeStore.read

    def counting(self, idx, start, stop):
        calls.append((start, stop))
        return orig(self, idx, start, stop)

    monkeypatch.setattr(HaplotypeStore, "read", counting)
    items = [1, 8, 2, 27, 9, 0, 22]  # windows 0, 1, 0, 3, 1, 0, 3
    batch = ds.__getitems__(items)
    assert sorted(calls) == [(0, 32), (32, 64), (96, 100)]
    assert_batch_equal(batch, reference(haps, items, epoch=0, ref_rate=0.3))
    assert batch["length"].tolist() == [32, 32, 32, 4, 32, 32, 4]
    assert batch["key"].tolist() == (batch["sample"] * 4 + batch["window"]).tolist()


def test_items_collate_like_batches(data):
    path, _ = data
    ds = make(path, 0.4, pad_to_multiple_of=8)
    items = [27, 3, 20, 26]
    got = collate_fn([ds[i] for i in items])
    want = ds.__getitems__(items)
    assert isinstance(got, Batch)
    assert got.keys() == want.keys()
    for k in got:
        assert torch.equal(got[k], want[k]), k
    assert collate_fn(want) is want


def test_batch_crosses_processes_as_one_block(data):
    path, _ = data
    b = make(path, 0.4).__getitems__([0, 27])
    c = pickle.loads(pickle.dumps(b))
    assert isinstance(c, Batch)
    assert c.keys() == b.keys()
    for k in b:
        assert c[k].dtype == b[k].dtype
        assert torch.equal(c[k], b[k])
    assert len({c[k].untyped_storage().data_ptr() for k in c}) == 1
    with pytest.raises(KeyError, match=r"collate_fn=dataset\.collate_fn"):
        c[0]  # what torch's default collate would do with a batch dict


def test_samples_by_name_and_errors(data):
    path, _ = data
    by_name = make(path, 0.3)
    names = [f"s{i}" for i in SELECTED]
    ds = HaplotypeDataset(path, by_name.masker, windows=WINDOW, samples=names)
    assert ds.samples.tolist() == SELECTED.tolist()
    assert len(ds) == SELECTED.size * 4
    with pytest.raises(IndexError):
        ds.__getitems__([len(ds)])
    with pytest.raises(KeyError):
        HaplotypeDataset(path, ds.masker, windows=WINDOW, samples=["nope"])
    with pytest.raises(TypeError):
        HaplotypeDataset(path, "masker", windows=WINDOW)  # type: ignore[arg-type]


def test_state_dict_round_trip(data):
    path, _ = data
    a = make(path, plateau_masker())
    a.masker.update(1.0)
    a.masker.update(0.1)
    a.set_epoch(5)
    b = make(path, plateau_masker())
    b.load_state_dict(pickle.loads(pickle.dumps(a.state_dict())))
    assert b.masker.sync_state() == a.masker.sync_state() == (5, 0, 1)
    for k in KEYS:
        assert torch.equal(a.__getitems__([3, 9])[k], b.__getitems__([3, 9])[k])


@pytest.mark.parametrize("drop_last", [False, True])
def test_window_batch_sampler(data, drop_last):
    path, _ = data
    ds = make(path, 0.3)
    sampler = WindowBatchSampler(ds, 3, seed=5, drop_last=drop_last)
    sampler.set_epoch(1)
    batches = list(sampler)
    assert len(batches) == len(sampler)
    flat = np.concatenate(batches)
    n_sel = SELECTED.size
    if drop_last:
        assert all(len(b) == 3 for b in batches)
        assert flat.size == 4 * (n_sel // 3) * 3
    else:
        assert sorted(flat.tolist()) == list(range(len(ds)))
    assert all(len({i // n_sel for i in b}) == 1 for b in batches)
    assert list(sampler) == batches  # same epoch, same order
    sampler.set_epoch(2)
    assert list(sampler) != batches
    # DDP split: equal step counts, together they cover every batch
    sampler.set_epoch(1)
    parts = []
    for rank in range(3):
        s = WindowBatchSampler(ds, 3, seed=5, drop_last=drop_last, num_replicas=3, rank=rank)
        s.set_epoch(1)
        parts.append(list(s))
        assert len(parts[-1]) == len(s)
    assert len({len(p) for p in parts}) == 1
    assert {tuple(b) for p in parts for b in p} == {tuple(b) for b in batches}


def test_window_sampler_loader_matches_reference(data):
    path, haps = data
    ds = make(path, Levels(LEVELS, epochs_per_level=1))
    sampler = WindowBatchSampler(ds, 4, seed=0)
    loader = DataLoader(ds, batch_sampler=sampler, num_workers=2, collate_fn=ds.collate_fn)
    sampler.set_epoch(1)
    (batches,) = run_epochs(ds, loader, [1])
    for b in batches:
        assert len(set(b["window"].tolist())) == 1
        assert_batch_equal(b, reference(haps, b["index"].numpy(), epoch=1, ref_rate=LEVELS[1]))


def test_worker_info_reads_environment(monkeypatch):
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert worker_info() == (3, 4, 1, 0, 1)


def test_haplotypes_field(data):
    path, haps = data
    items = [27, 3, 20, 26]
    plain = make(path, 0.4, pad_to_multiple_of=8).__getitems__(items)
    ds = make(path, 0.4, pad_to_multiple_of=8, haplotypes=True)
    got = ds.__getitems__(items)
    assert "haplotypes" not in plain
    assert set(got) == set(plain) | {"haplotypes"}
    for k in plain:
        assert torch.equal(got[k], plain[k]), k  # the field changes nothing else
    h = got["haplotypes"].numpy()
    assert h.dtype == np.int8
    assert h.shape == got["mask"].shape
    bounds = Windows.fixed(N_SITES, WINDOW).bounds
    for r in range(len(items)):
        s, w, n = int(got["sample"][r]), int(got["window"][r]), int(got["length"][r])
        np.testing.assert_array_equal(h[r, :, :n], haps[s, :, bounds[w, 0] : bounds[w, 1]])
        assert (h[r, :, n:] == 0).all()
    # labels are the true alleles at masked positions
    m = got["mask"].numpy()
    np.testing.assert_array_equal(got["labels"].numpy()[m], h[m])
    # the list-of-items path pads it like the batched path
    listed = collate_fn([ds[i] for i in items])
    for k in got:
        assert torch.equal(listed[k], got[k]), k


def _af_data() -> tuple[np.ndarray, np.ndarray, mk.Masker]:
    rng = np.random.default_rng(11)
    haps = (rng.random((12, 2, 90)) < rng.random(90) * 0.3).astype(np.int8)
    freq = mk.io.alt_allele_frequency(haps)
    rule = mk.rules.AlleleFrequency(edges=[0.05, 0.2], rates=[0.9, 0.5, 0.1])
    return haps, freq, mk.Masker(rule, seed=5)


def test_freq_reaches_the_rule_window_by_window():
    haps, freq, masker = _af_data()
    ds = HaplotypeDataset(haps, masker, windows=32, freq=freq)  # windows 32, 32, 26 sites
    items = [0, 5, 12, 13, 30, 35, 26]  # three windows in one batch, in no order
    batch = ds.__getitems__(items)
    sample, window, key = ds.locate(items)
    for row, (s, w, k) in enumerate(zip(sample, window, key)):
        start, stop = ds.bounds[w]
        expected = masker(haps[s : s + 1, :, start:stop], indices=[k], freq=freq[start:stop])[0]
        got = batch["mask"][row].numpy()
        assert np.array_equal(got[:, : stop - start], expected)
        assert not got[:, stop - start :].any()
    single = ds.__getitems__([24, 25])  # one window: the 1-D slice path
    for row, item in enumerate((24, 25)):
        assert torch.equal(single["mask"][row], ds.__getitems__([item])["mask"][0])


def test_freq_required_refused_and_checked():
    haps, freq, masker = _af_data()
    with pytest.raises(ValueError, match="needs site frequencies: pass freq="):
        HaplotypeDataset(haps, masker, windows=32)
    with pytest.raises(ValueError, match="does not: drop freq="):
        HaplotypeDataset(haps, mk.Masker("random", rate=0.2, seed=0), windows=32, freq=freq)
    with pytest.raises(ValueError, match=r"freq must have shape \(n_sites,\) = \(90,\)"):
        HaplotypeDataset(haps, masker, windows=32, freq=freq[:40])
    with pytest.raises(ValueError, match=r"freq must hold frequencies in \[0, 1\]"):
        HaplotypeDataset(haps, masker, windows=32, freq=freq + 2)


def test_the_rules_own_freq_is_sliced_window_by_window():
    haps, freq, masker = _af_data()
    fixed = mk.Masker(dataclasses.replace(masker.rule, freq=tuple(freq)), seed=5)
    given = HaplotypeDataset(haps, masker, windows=32, freq=freq)
    own = HaplotypeDataset(haps, fixed, windows=32)
    items = [0, 13, 30, 35]
    assert torch.equal(own.__getitems__(items)["mask"], given.__getitems__(items)["mask"])
    short = mk.Masker(dataclasses.replace(masker.rule, freq=tuple(freq[:32])), seed=5)
    with pytest.raises(ValueError, match=r"the rule's freq must have shape \(n_sites,\)"):
        HaplotypeDataset(haps, short, windows=32)


def test_dataset_logs_once_when_its_curriculum_is_not_driven(data, caplog):
    path, _ = data
    ds = make(path, Levels([0.2, 0.5], epochs_per_level=1))
    items = list(range(len(ds)))
    caplog.set_level("ERROR", logger="maskkit")
    ds.__getitems__(items)  # one pass at epoch 0
    assert not caplog.records
    ds.__getitems__(items)  # a second pass, nothing called set_epoch: the same masks again
    errors = [r for r in caplog.records if "curriculum is not moving" in r.getMessage()]
    assert len(errors) == 1
    ds.__getitems__(items)  # said once
    assert len([r for r in caplog.records if "not moving" in r.getMessage()]) == 1


def test_dataset_driven_by_set_epoch_or_frozen_stays_quiet(data, caplog):
    path, _ = data
    caplog.set_level("ERROR", logger="maskkit")
    ds = make(path, Levels([0.2, 0.5], epochs_per_level=1))
    val = make(path, Levels([0.2, 0.5], epochs_per_level=1), frozen=True)
    items = list(range(len(ds)))
    for epoch in range(3):
        ds.set_epoch(epoch)
        ds.__getitems__(items)
        val.__getitems__(items)  # frozen validation masks are meant to repeat
    assert not [r for r in caplog.records if "not moving" in r.getMessage()]
