"""maskkit.torch across processes: torchrun + gloo DDP, resume in a new process, missing torch."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

import maskkit as mk
from maskkit.curriculum import Levels, Plateau
from maskkit.torch import HaplotypeDataset, WindowBatchSampler

pytestmark = pytest.mark.torch

SEED = 99
SELECTED = [1, 2, 4, 6, 7, 9, 10]
WINDOW = 32

COMMON = f"""
import json, pickle, sys
import numpy as np
import torch
from torch.utils.data import DataLoader
import maskkit as mk
from maskkit.curriculum import Levels, Plateau
from maskkit.torch import HaplotypeDataset, WindowBatchSampler, worker_info

SEED, SELECTED, WINDOW = {SEED}, {SELECTED}, {WINDOW}


def rows(batch):
    return [
        (int(i), m.numpy().tobytes(), x.numpy().tobytes(), y.numpy().tobytes())
        for i, m, x, y in zip(batch["index"], batch["mask"], batch["input_ids"], batch["labels"])
    ]
"""

DDP_SCRIPT = """
import torch.distributed as dist
from torch.utils.data.distributed import DistributedSampler

store, out = sys.argv[1], sys.argv[2]
dist.init_process_group("gloo")
info = worker_info()
masker = mk.Masker("smart_balanced", rate=Levels([0.2, 0.5, 0.8], epochs_per_level=1), seed=SEED)
ds = HaplotypeDataset(store, masker, windows=WINDOW, samples=SELECTED, pad_to=WINDOW)
sampler = DistributedSampler(ds, shuffle=True, seed=3)
loader = DataLoader(
    ds, batch_size=5, sampler=sampler, num_workers=1, persistent_workers=True,
    collate_fn=ds.collate_fn,
)
windows = WindowBatchSampler(ds, 4, seed=1)  # rank and world size from worker_info()
wloader = DataLoader(ds, batch_sampler=windows, collate_fn=ds.collate_fn)
result = {"rank": info.rank, "world": info.world_size}
result["sampler"] = (windows.rank, windows.num_replicas)
for epoch in range(3):
    ds.set_epoch(epoch)
    sampler.set_epoch(epoch)
    windows.set_epoch(epoch)
    result[("dist", epoch)] = [r for b in loader for r in rows(b)]
    result[("window", epoch)] = [r for b in wloader for r in rows(b)]
gathered = [None] * info.world_size
dist.all_gather_object(gathered, result)
if info.rank == 0:
    with open(out, "wb") as fh:
        pickle.dump(gathered, fh)
dist.destroy_process_group()
"""

RESUME_SCRIPT = """
store, state_path, out = sys.argv[1], sys.argv[2], sys.argv[3]
with open(state_path) as fh:
    saved = json.load(fh)
sched = Plateau([0.2, 0.5, 0.8], patience=2, mode="max")
masker = mk.Masker("smart_balanced", rate=sched, seed=SEED)
ds = HaplotypeDataset(store, masker, windows=WINDOW, samples=SELECTED)
ds.load_state_dict(saved["dataset"])
sampler = WindowBatchSampler(ds, 4, seed=7)
loader = DataLoader(
    ds, batch_sampler=sampler, num_workers=2, persistent_workers=True, collate_fn=ds.collate_fn
)
result = {}
for epoch in range(saved["next_epoch"], 4):
    ds.set_epoch(epoch)
    sampler.set_epoch(epoch)
    result[epoch] = [r for b in loader for r in rows(b)]
    masker.update(saved["metrics"][epoch])
with open(out, "wb") as fh:
    pickle.dump(result, fh)
"""


def rows(batch):
    return [
        (int(i), m.numpy().tobytes(), x.numpy().tobytes(), y.numpy().tobytes())
        for i, m, x, y in zip(batch["index"], batch["mask"], batch["input_ids"], batch["labels"])
    ]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    rng = np.random.default_rng(5)
    gt = (rng.random((90, 11, 2)) < 0.25).astype(np.int8)
    gt[rng.random(gt.shape) < 0.02] = -1
    path = tmp_path_factory.mktemp("torchproc") / "store.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("calldata/GT", data=gt, chunks=(32, 4, 2))
        f.create_dataset("variants/POS", data=np.arange(1, 91))
    return path


def run_script(tmp_path, name, body, args, *, torchrun=False):
    script = tmp_path / name
    script.write_text(textwrap.dedent(COMMON) + textwrap.dedent(body), encoding="utf-8")
    cmd = [sys.executable]
    if torchrun:
        cmd += ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2"]
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["OMP_NUM_THREADS"] = "1"
    res = subprocess.run(
        [*cmd, str(script), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]


def test_ddp_ranks_together_equal_single_process(store, tmp_path):
    out = tmp_path / "ddp.pkl"
    run_script(tmp_path, "ddp.py", DDP_SCRIPT, [store, out], torchrun=True)
    with open(out, "rb") as fh:
        ranks = pickle.load(fh)
    assert [(r["rank"], r["world"], r["sampler"]) for r in ranks] == [
        (0, 2, (0, 2)),
        (1, 2, (1, 2)),
    ]

    masker = mk.Masker(
        "smart_balanced", rate=Levels([0.2, 0.5, 0.8], epochs_per_level=1), seed=SEED
    )
    ds = HaplotypeDataset(store, masker, windows=WINDOW, samples=SELECTED, pad_to=WINDOW)
    n = len(ds)
    assert n == len(SELECTED) * 3
    for epoch in range(3):
        ds.set_epoch(epoch)
        single = {r[0]: r for r in rows(ds.__getitems__(list(range(n))))}
        for kind in ("dist", "window"):
            per_rank = [r[(kind, epoch)] for r in ranks]
            union = {}
            for part in per_rank:
                for row in part:
                    assert union.setdefault(row[0], row) == row  # a padded duplicate agrees
            assert union == single, (kind, epoch)
            if kind == "dist":  # DistributedSampler pads to equal item counts
                assert len(per_rank[0]) == len(per_rank[1])
        # the ranks split the data: neither saw everything
        assert all(len(r[("dist", epoch)]) < n for r in ranks)


def test_resume_in_new_process(store, tmp_path):
    metrics = [0.5, 0.4, 0.3, 0.2]  # patience 2: the level advances after epoch 2's metric
    masker = mk.Masker(
        "smart_balanced", rate=Plateau([0.2, 0.5, 0.8], patience=2, mode="max"), seed=SEED
    )
    ds = HaplotypeDataset(store, masker, windows=WINDOW, samples=SELECTED)
    sampler = WindowBatchSampler(ds, 4, seed=7)
    loader = DataLoader(
        ds, batch_sampler=sampler, num_workers=2, persistent_workers=True, collate_fn=ds.collate_fn
    )
    seen = {}
    state_path = tmp_path / "state.json"
    for epoch in range(4):
        ds.set_epoch(epoch)
        sampler.set_epoch(epoch)
        seen[epoch] = [r for b in loader for r in rows(b)]
        masker.update(metrics[epoch])
        if epoch == 1:  # checkpoint mid-run: the plateau has one bad evaluation pending
            state = {"dataset": ds.state_dict(), "next_epoch": 2, "metrics": metrics}
            state_path.write_text(json.dumps(state), encoding="utf-8")
    assert masker.current_rates()[0] == 0.5
    out = tmp_path / "resumed.pkl"
    run_script(tmp_path, "resume.py", RESUME_SCRIPT, [store, state_path, out])
    with open(out, "rb") as fh:
        resumed = pickle.load(fh)
    assert sorted(resumed) == [2, 3]
    assert resumed[2] == seen[2]
    assert resumed[3] == seen[3]
    assert seen[3] != seen[2]


def test_missing_torch_gives_install_hint():
    code = "import sys; sys.modules['torch'] = None\nimport maskkit\nimport maskkit.torch\n"
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert res.returncode != 0
    assert "ImportError" in res.stderr
    assert 'pip install "maskkit[torch]"' in res.stderr


def test_dataset_pickles_without_handles(store):
    masker = mk.Masker("random", rate=0.3, seed=SEED)
    ds = HaplotypeDataset(store, masker, windows=WINDOW, samples=SELECTED)
    ds.set_epoch(4)
    ds.__getitems__([0])  # opens the HDF5 handle
    blob = pickle.dumps(ds)
    assert b"h5py" not in blob
    clone = pickle.loads(blob)
    assert clone.masker.epoch == 4
    for k in ("input_ids", "mask"):
        assert torch.equal(clone.__getitems__([5, 20])[k], ds.__getitems__([5, 20])[k])
