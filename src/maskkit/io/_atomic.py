"""Atomic writes: produce a temporary sibling, rename it into place only when complete."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


def check_target(path: Path, overwrite: bool, flag: str = "overwrite=True") -> None:
    """Raise FileExistsError when ``path`` exists and may not be replaced."""
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; remove it or pass {flag} to replace it")
    if not path.parent.is_dir():
        raise FileNotFoundError(
            f"directory {path.parent} for output {path.name!r} does not exist; create it first"
        )


@contextlib.contextmanager
def atomic_file(
    path: str | os.PathLike[str], overwrite: bool = False, flag: str = "overwrite=True"
) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` when the block succeeds.

    On any exception the temporary file is removed and ``path`` is left untouched.
    """
    target = Path(path)
    check_target(target, overwrite, flag)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


@contextlib.contextmanager
def atomic_dir(
    path: str | os.PathLike[str], overwrite: bool = False, flag: str = "overwrite=True"
) -> Iterator[Path]:
    """Yield a temporary directory next to ``path``; rename it onto ``path`` when complete.

    If ``path`` appears meanwhile (another process finished first) and ``overwrite`` is false,
    FileExistsError is raised and the temporary directory is removed.
    """
    target = Path(path)
    check_target(target, overwrite, flag)
    tmp_path = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        yield tmp_path
        if target.exists():
            if not overwrite:
                raise FileExistsError(f"{target} appeared while writing; not replacing it")
            old = Path(
                tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent)
            )
            os.replace(target, old / "x")
            os.replace(tmp_path, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp_path, target)
    except BaseException:
        shutil.rmtree(tmp_path, ignore_errors=True)
        raise
