"""``import maskkit`` stays light: no framework, no compile, a version string."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import maskkit

SRC = Path(maskkit.__file__).parent  # the source tree, or the installed wheel's package

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
    "jax",
    "flax",
    "optax",
    "grain",
)

# numba itself imports scipy where scipy is installed (the jax extra installs it): the probe
# counts what ``import maskkit`` adds to what numpy and numba import.
_PROBE = f"""
import json, sys
import numba, numpy
before = set(sys.modules)
import maskkit
heavy = [m for m in {HEAVY!r} if m in sys.modules and m not in before]
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


#: Left to the user's script (examples/integrations/jax_grain.py): no maskkit module imports them.
JAX_STACK = ("jax", "jaxlib", "flax", "optax", "grain")


def test_no_module_imports_the_jax_stack() -> None:
    bad = []
    paths = sorted(SRC.rglob("*.py"))
    assert len(paths) > 10, f"no maskkit sources under {SRC}"
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            bad += [f"{path.name}:{node.lineno} {n}" for n in names if n.split(".")[0] in JAX_STACK]
    assert not bad, f"maskkit imports JAX, Flax, optax or Grain: {bad}"
