"""Hugging Face ``datasets`` (map-style and streaming) feeding maskkit's collators."""

from __future__ import annotations

import json

import numpy as np
import pytest

import maskkit as mk
from examples.integrations import hf_datasets as ex
from maskkit.curriculum import Levels
from maskkit.hf import HaplotypeDataCollator

pytestmark = pytest.mark.torch


def _masker() -> mk.Masker:
    return mk.Masker("random", rate=Levels([0.2, 0.4], epochs_per_level=1), seed=5)


def _reference(epoch: int) -> dict[int, np.ndarray]:
    """Each example's mask drawn alone, from its alleles and id, in this process."""
    ds = ex.make_dataset().with_format("numpy")
    masker = _masker()
    masker.set_epoch(epoch)
    return {
        int(row["id"]): masker.batch(row["haps"][None], indices=[int(row["id"])])["mask"][0]
        for row in ds
    }


def _assert_masks(got: dict[int, np.ndarray], want: dict[int, np.ndarray]) -> None:
    assert got, "no examples"
    for i, m in got.items():
        np.testing.assert_array_equal(m, want[i], err_msg=f"id {i}")


def test_example_runs_and_meets_its_schedule(capsys):
    rates = ex.main()
    assert sorted(rates) == [0, 1]
    assert capsys.readouterr().out.count("realized mask rate") == 2


@pytest.mark.parametrize("num_workers", [0, 2])
def test_masks_follow_the_id_in_every_order_and_worker_count(num_workers):
    ds = ex.make_dataset().with_format("numpy")
    stream = ex.streaming(ds, seed=3)
    masker = _masker()
    mapped = ex.loader(ds, masker, num_workers=num_workers, shuffle=True)
    streamed = ex.loader(stream, masker, num_workers=num_workers)
    for epoch in (0, 1):  # persistent workers must see the second epoch
        masker.set_epoch(epoch)
        stream.set_epoch(epoch)
        want = _reference(epoch)
        for batches in (mapped, streamed):
            got = ex.masks_by_id(batches)
            assert sorted(got) == sorted(want)
            _assert_masks(got, want)
    assert _reference(0).keys() == _reference(1).keys()
    assert any(not np.array_equal(_reference(0)[i], _reference(1)[i]) for i in _reference(0))


def _take(batches, n: int) -> list:
    out = []
    for b in batches:
        out.append(b)
        if len(out) == n:
            break
    return out


@pytest.mark.parametrize("buffered", [False, True])
def test_resumed_stream_masks_as_the_uninterrupted_one(buffered):
    ds = ex.make_dataset().with_format("numpy")

    def stream():
        s = ds.to_iterable_dataset(num_shards=4)
        return s.shuffle(seed=1, buffer_size=16) if buffered else s

    masker, first = _masker(), stream()
    masker.set_epoch(1)
    first.set_epoch(1)
    before = ex.masks_by_id(_take(ex.loader(first, masker), 3))
    # what a checkpoint holds: JSON of the stream's position and the Masker's state
    saved = json.dumps({"data": first.state_dict(), "masker": masker.state_dict()})

    state = json.loads(saved)
    masker, second = _masker(), stream()
    masker.load_state_dict(state["masker"])
    second.set_epoch(masker.epoch)  # datasets applies a saved position only in its epoch
    second.load_state_dict(state["data"])
    after = ex.masks_by_id(ex.loader(second, masker))
    want = _reference(1)
    _assert_masks(before, want)
    _assert_masks(after, want)
    assert len(before) == 24
    if not buffered:  # exactly the rest of the epoch; a shuffle buffer's content is not saved
        assert sorted([*before, *after]) == sorted(want)


def test_trainer_collator_reads_the_id_column():
    ds = ex.make_dataset().with_format("numpy")
    masker = _masker()
    collate = HaplotypeDataCollator(
        masker, index_key="id", flatten_ploidy=False, return_keys=("mask", "index")
    )
    batch = collate([ds[i] for i in (5, 2, 9)])
    want = _reference(0)
    for i, m in zip(batch["index"].tolist(), batch["mask"].numpy()):
        np.testing.assert_array_equal(m, want[i])
    assert batch["input_ids"].shape == (3, ex.PLOIDY, ex.SITES)
