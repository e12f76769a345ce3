"""A Flax model fed by Grain workers: examples/integrations/jax_grain.py and the worker sync.

Grain starts its workers with ``spawn`` and hands them a cloudpickled copy of the pipeline, the
Masker inside it. With ``maskkit.share`` the copies follow the main process's curriculum; without
it a copy refuses to mask. The script runs in a child process: JAX, once imported, warns at every
``os.fork``, which later tests that fork would turn into errors.
"""

from __future__ import annotations

import importlib.util
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
MISSING = [m for m in ("jax", "flax", "optax", "grain") if importlib.util.find_spec(m) is None]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        bool(MISSING), reason=f"{MISSING} not installed: pip install 'maskkit[jax]'"
    ),
]


def test_example_trains_matches_torch_and_refuses_unshared_copies():
    # 2 Grain workers, 3 epochs: each epoch's rate within its binomial bound and, with torch
    # installed, every mask equal to maskkit.torch.HaplotypeDataset's for the same (seed, epoch,
    # index); then a Masker nobody shared raises WorkerSyncError in a Grain worker
    pytest.importorskip("torch")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "integrations" / "jax_grain.py")],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.splitlines()
    rates = [float(line.split("rate ")[1].split(",")[0]) for line in lines if "realized" in line]
    assert len(rates) == 3
    assert rates[0] < rates[1] < rates[2]
    assert lines[-1] == "without maskkit.share: WorkerSyncError"
