"""The reference trainer under torchrun: 2 CPU processes (gloo) score exactly the single-process
validation genotypes and finish with a usable checkpoint."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from examples.rag_bert import train

pytestmark = [pytest.mark.torch, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
TINY = [
    "--demo-train", "24", "--demo-val", "6", "--demo-length", "6e4", "--window", "32",
    "--dims", "16", "--layers", "1", "--heads", "2", "--k-retrieve", "4", "--batch-size", "6",
    "--lr", "5e-3", "--quiet", "--no-plots", "--threads", "1", "--data-seed", "3",
    "--levels", "0.3", "--epochs", "1",
]  # fmt: skip


def test_torchrun_two_processes_cover_the_same_validation(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    single = tmp_path / "single"
    assert train.main([*TINY, "--cache-dir", str(cache), "--out", str(single)]) == 0
    ddp = tmp_path / "ddp"
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or "torchrun"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    proc = subprocess.run(
        [torchrun, "--standalone", "--nproc-per-node=2", str(driver), str(tmp_path),
         *TINY, "--cache-dir", str(cache), "--out", str(ddp)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    one = json.loads((single / "metrics.json").read_text())["history"]
    two = json.loads((ddp / "metrics.json").read_text())["history"]
    assert len(two) == 1
    assert (ddp / "checkpoint.pt").exists()
    # Validation is split across ranks and gathered: every masked genotype is scored exactly once,
    # so the counts per MAF bin equal the single-process run's.
    for bin_name, stats in one[0]["val"].items():
        for key in ("n_genotypes", "n_minor_true"):
            assert two[0]["val"][bin_name][key] == stats[key], (bin_name, key)
    assert two[0]["train_loss"] > 0
    assert two[0]["val_loss"] > 0
    # Both processes trained as one DDP job: each saw its half of the batches, and the averaged
    # gradients left both replicas with the same parameters, which moved away from the shared
    # initial ones. Two independent processes would end with different parameters.
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    assert ranks[0]["init"].keys() == ranks[0]["final"].keys()
    for name, p0 in ranks[0]["final"].items():
        torch.testing.assert_close(ranks[1]["final"][name], p0, rtol=0, atol=0, msg=name)
        torch.testing.assert_close(ranks[1]["init"][name], ranks[0]["init"][name], rtol=0, atol=0)
    moved = [n for n, p in ranks[0]["final"].items() if not torch.equal(p, ranks[0]["init"][n])]
    assert len(moved) > len(ranks[0]["final"]) // 2
    assert min(r["batches"] for r in ranks) > 0  # both ranks trained
    assert two[0]["train_loss"] != one[0]["train_loss"]


# Runs the trainer in each torchrun process and saves that rank's parameters before and after
# training, and how many training batches it ran.
DRIVER = """
import os, sys
import torch
from examples.rag_bert import train

out, argv = sys.argv[1], sys.argv[2:]
fit = train.fit


def spy(tr, *args, **kwargs):
    init = {k: v.detach().clone() for k, v in tr.model.state_dict().items()}
    seen = []
    forward = tr.engine.forward

    def recording(*a, **k):
        if tr.engine.net.training:
            seen.append(1)
        return forward(*a, **k)

    tr.engine.forward = recording
    result = fit(tr, *args, **kwargs)
    final = {k: v.detach().clone() for k, v in tr.model.state_dict().items()}
    torch.save(
        {"init": init, "final": final, "batches": len(seen)},
        os.path.join(out, f"rank{os.environ['RANK']}.pt"),
    )
    return result


train.fit = spy
sys.exit(train.main(argv))
"""
