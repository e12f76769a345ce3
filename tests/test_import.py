"""``import maskkit`` stays light: no framework, no compile, a version string."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = (
    "torch",
    "h5py",
    "zarr",
    "transformers",
    "msprime",
    "tskit",
    "faiss",
    "cyvcf2",
    "matplotlib",
    "scipy",
    "lightning",
    "pytorch_lightning",
    "datasets",
)

_PROBE = f"""
import json, sys
import maskkit
heavy = [m for m in {HEAVY!r} if m in sys.modules]
from maskkit import _data_kernels, _kernels, _rng, _token_kernels
compiled = sorted(
    f"{{mod.__name__}}.{{name}}"
    for mod in (_data_kernels, _kernels, _rng, _token_kernels)
    for name, obj in vars(mod).items()
    if hasattr(obj, "signatures") and obj.signatures
)
print(json.dumps({{"heavy": heavy, "version": maskkit.__version__, "compiled": compiled,
                  "all": sorted(maskkit.__all__)}}))
"""


def test_import_is_light_and_has_version() -> None:
    res = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=120, check=False
    )
    assert res.returncode == 0, res.stderr
    info = json.loads(res.stdout.strip().splitlines()[-1])
    assert info["heavy"] == [], f"import maskkit pulled in {info['heavy']}"
    assert isinstance(info["version"], str)
    assert info["version"]
    assert info["compiled"] == [], f"kernels compiled at import: {info['compiled']}"
    for name in ("random_mask", "class_rate_mask", "smart_balanced_mask", "union", "collate"):
        assert name in info["all"]
