"""Every script of examples/integrations runs as documented and meets its schedule."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPTS = ["torch_in_memory.py", "nucleotide_model.py"]  # hf_trainer.py: tests/test_hf.py

pytestmark = [pytest.mark.torch, pytest.mark.slow]


@pytest.mark.parametrize("script", SCRIPTS)
def test_example_runs(script):
    # the child imports maskkit from where this process does (source tree or installed wheel)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "integrations" / script)],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.count("realized mask rate") == 3
