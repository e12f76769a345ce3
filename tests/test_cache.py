"""The numba cache works when the installed package folder is read-only."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import maskkit

CODE = """
import warnings, numpy as np
warnings.simplefilter("error")
import maskkit as mk
from maskkit import _numba
m = mk.random_mask(np.zeros((2, 64), np.int8), 0.5, seed=3)
print(mk.__file__, _numba.CACHE_DIR, int(m.sum()))
"""


def _run_unprivileged(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    if os.geteuid() == 0:
        # Root writes anywhere by its capabilities, not its uid: drop every capability and keep
        # uid 0, so permission bits apply (a 0555 folder is read-only) while the interpreter,
        # its packages and the checkout stay readable wherever they are (a 0700 folder too).
        caps = ["--bounding-set=-all", "--inh-caps=-all", "--ambient-caps=-all"]
        args = ["setpriv", *caps, *args]
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture
def open_tmp() -> Iterator[Path]:
    # a folder of our own, cleaned up although the test makes parts of it read-only
    path = Path(tempfile.mkdtemp(prefix="maskkit-ro-"))
    yield path
    for p in [path, *path.rglob("*")]:
        if not p.is_symlink():
            p.chmod(p.stat().st_mode | stat.S_IWUSR)
    shutil.rmtree(path)


def test_read_only_install_caches_elsewhere(open_tmp: Path) -> None:
    tmp_path = open_tmp
    site = tmp_path / "site"
    pkg = Path(maskkit.__file__).parent
    shutil.copytree(pkg, site / "maskkit", ignore=shutil.ignore_patterns("__pycache__"))
    cache_root = tmp_path / "xdg"
    cache_root.mkdir()
    for p in [site, *site.rglob("*")]:
        p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) | 0o555)
    cache_root.chmod(0o777)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(site),
        "XDG_CACHE_HOME": str(cache_root),
        "HOME": str(cache_root),
    }
    probe = _run_unprivileged(
        [sys.executable, "-c", f"import os; print(os.access({str(site)!r}, os.W_OK))"], env
    )
    assert probe.stdout.split() == ["False"], probe.stderr  # the install really is read-only
    first = _run_unprivileged([sys.executable, "-c", CODE], env)
    assert first.returncode == 0, first.stderr
    assert first.stderr == ""  # no warning flood
    where, cache_dir, count = first.stdout.split()
    assert Path(where) == site / "maskkit" / "__init__.py"
    assert Path(cache_dir) == cache_root / "maskkit" / "numba"
    assert any(Path(cache_dir).rglob("*.nbi"))  # the kernels really were cached there
    assert not list((site / "maskkit").glob("__pycache__/*.nbi"))
    second = _run_unprivileged([sys.executable, "-c", CODE], env)
    assert second.returncode == 0, second.stderr
    assert second.stdout.split() == [where, cache_dir, count]


def test_temp_cache_folder_must_be_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from maskkit._numba import _private

    mine = tmp_path / "mine"
    assert _private(mine)  # created 0700
    assert stat.S_IMODE(mine.stat().st_mode) & 0o077 == 0
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)  # another user could plant cache files (pickles) here
    assert not _private(shared)
    link = tmp_path / "link"
    link.symlink_to(mine)  # a name in a shared folder pointing elsewhere
    assert not _private(link)
    assert _private(mine)
    monkeypatch.setattr(os, "getuid", lambda: mine.stat().st_uid + 1)
    assert not _private(mine)  # 0700 but another user's
