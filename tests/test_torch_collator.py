"""maskkit.torch.MaskingCollator over plain Datasets, and in-memory data in HaplotypeDataset."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch
from bounds import ALPHA, assert_binomial
from torch.utils.data import DataLoader, Dataset, IterableDataset

import maskkit as mk
from maskkit.curriculum import Levels
from maskkit.io import ArrayStore
from maskkit.torch import HaplotypeDataset, MaskingCollator

pytestmark = pytest.mark.torch

LEVELS = [0.15, 0.3, 0.45]
RNG = np.random.default_rng(3)
HAPS = (RNG.random((60, 2, 150)) < 0.25).astype(np.int8)


class Items(Dataset):
    def __len__(self):
        return len(HAPS)

    def __getitem__(self, i):
        return {"haps": HAPS[i], "index": i, "pos": i * 10}


class Stream(IterableDataset):
    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        w, n = (info.id, info.num_workers) if info else (0, 1)
        for i in range(w, len(HAPS), n):
            yield {"haps": HAPS[i], "index": i}


def masker():
    return mk.Masker("random", rate=Levels(LEVELS, epochs_per_level=1), seed=8)


def epochs(dataset, collate, n=3, workers=2):
    loader = DataLoader(
        dataset, batch_size=8, num_workers=workers, persistent_workers=True, collate_fn=collate
    )
    out = []
    for e in range(n):
        collate.masker.set_epoch(e)
        out.append(list(loader))
    return out


@pytest.mark.parametrize("dataset", [Items(), Stream()], ids=["map", "iterable"])
def test_collator_rates_follow_curriculum_in_persistent_workers(dataset):
    collate = MaskingCollator(masker())
    for e, batches in enumerate(epochs(dataset, collate)):
        masked = sum(int(b["mask"].sum()) for b in batches)
        real = sum(int(b["attention_mask"].sum()) for b in batches)
        assert real == HAPS.size
        assert_binomial(masked, real, LEVELS[e], alpha=ALPHA / 6, what=f"epoch {e}")


def test_collator_batches_are_the_maskers_own():
    collate = MaskingCollator(masker(), keep=["pos"], replace=(0.8, 0.1, 0.1))
    last = epochs(Items(), collate)[-1]
    ref = masker()
    ref.set_epoch(2)
    for b in last:
        ids = b["index"].numpy()
        want = ref.batch(HAPS[ids], indices=ids, replace=(0.8, 0.1, 0.1))
        for k, v in want.items():
            np.testing.assert_array_equal(b[k].numpy(), v, err_msg=k)
        assert b["pos"].tolist() == (ids * 10).tolist()


def test_ragged_items_pad_after_masking():
    items = [{"haps": HAPS[i, 0, : 50 + 20 * i], "index": i, "n": 40 + 20 * i} for i in range(4)]
    b = MaskingCollator(mk.Masker("random", rate=0.9, seed=1))(items)
    assert b["input_ids"].shape == (4, 110)
    assert b["length"].tolist() == [50, 70, 90, 110]
    beyond = torch.arange(110)[None, :] >= b["length"][:, None]
    assert not b["mask"][beyond].any()
    c = MaskingCollator(mk.Masker("random", rate=0.9, seed=1), lengths_key="n")(items)
    assert c["attention_mask"].sum(1).tolist() == [40, 60, 80, 100]


def test_collator_errors_name_the_keys():
    collate = MaskingCollator(mk.Masker("random", rate=0.2, seed=1))
    with pytest.raises(KeyError, match=r"keys \['haps', 'index'\]"):
        collate([{"input_ids": [1, 2]}])
    with pytest.raises(TypeError, match="list of item dicts"):
        collate({"haps": HAPS[0], "index": 0})
    with pytest.raises(TypeError, match="masker"):
        MaskingCollator("random")  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def h5_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("mem") / "s.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("calldata/GT", data=HAPS.transpose(2, 0, 1))
        f.create_dataset("variants/POS", data=np.arange(150) + 1)
        f.create_dataset("samples", data=np.array([str(i).encode() for i in range(60)]))
    return path


def test_in_memory_array_serves_like_a_store(h5_store):
    def run(store):
        m = masker()
        ds = HaplotypeDataset(store, m, windows=64, replace=(0.8, 0.1, 0.1))
        loader = DataLoader(
            ds, batch_size=9, num_workers=2, persistent_workers=True, collate_fn=ds.collate_fn
        )
        got = []
        for e in range(2):
            ds.set_epoch(e)
            got += list(loader)
        return got

    for a, b in zip(run(HAPS), run(h5_store)):
        assert sorted(a) == sorted(b)
        for k in a:
            np.testing.assert_array_equal(a[k].numpy(), b[k].numpy(), err_msg=k)
    assert sorted(set(run(HAPS)[0]["start"].tolist())) == [0]


def test_array_store_lengths_are_padding():
    lengths = np.array([150, 100, 20] * 20)
    ds = HaplotypeDataset(
        ArrayStore(HAPS, lengths=lengths), mk.Masker("random", rate=1.0, seed=0), windows=64
    )
    b = ds.__getitems__(list(range(len(ds))))
    want = np.clip(lengths[b["sample"].numpy()] - b["start"].numpy(), 0, 64)
    assert b["length"].tolist() == want.tolist()
    assert (b["mask"].sum(-1) == b["length"][:, None]).all()  # rate 1: every real site
    beyond = torch.arange(64)[None, None, :] >= b["length"][:, None, None]
    assert not b["mask"][beyond.expand_as(b["mask"])].any()
    np.testing.assert_array_equal(ds.bounds[b["window"].numpy(), 0], b["start"].numpy())


def test_array_store_checks():
    with pytest.raises(ValueError, match="3-D"):
        ArrayStore(HAPS[0])
    with pytest.raises(TypeError, match="integer alleles"):
        ArrayStore(HAPS.astype(float))
    with pytest.raises(ValueError, match="lengths must be in"):
        ArrayStore(HAPS, lengths=np.full(60, 151))
    with pytest.raises(ValueError, match="distinct names"):
        ArrayStore(HAPS, samples=["a"] * 60)


def test_collator_reaches_spawned_persistent_workers():
    items = [{"haps": HAPS[i], "index": i} for i in range(len(HAPS))]
    collate = MaskingCollator(masker())
    loader = DataLoader(
        items, batch_size=30, num_workers=1, persistent_workers=True, collate_fn=collate,
        multiprocessing_context="spawn",
    )  # fmt: skip
    ref = masker()
    for e in (0, 2):
        collate.masker.set_epoch(e)
        ref.set_epoch(e)
        for b in loader:
            want = ref(HAPS[b["index"].numpy()], indices=b["index"].numpy())
            np.testing.assert_array_equal(b["mask"].numpy(), want)
