"""The one place that sets numba options for every maskkit kernel.

Caching is on by default, and works when the package is installed read-only. Where the cache
goes, first match wins:

1. ``NUMBA_CACHE_DIR`` if set (numba's own setting);
2. next to the package (``maskkit/__pycache__``) when that folder is writable;
3. ``$XDG_CACHE_HOME/maskkit/numba`` (default ``~/.cache/maskkit/numba``);
4. ``<tempdir>/maskkit-numba-<uid>``, only when it is a folder of the current user that no one
   else can write (numba's cache files are pickles: a folder another user controls would let
   them run code here);
5. nowhere: caching is turned off and kernels compile in each process.

Set ``MASKKIT_NUMBA_CACHE=0`` to turn the cache off (for example while editing kernels).
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numba

_OFF = {"0", "false", "no", "off"}
_config: Any = numba.config  # typed loosely: its stubs omit CACHE_DIR


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(folder, os.W_OK | os.X_OK)


def _private(folder: Path) -> bool:
    """Whether ``folder`` (made 0700 if absent) is a real folder of ours no one else can write.

    numba's cache files are pickles, loaded when a kernel is first called: a cache folder that
    another user could create first or write into (any name in a shared temporary folder) would
    let that user run code in this process.
    """
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = folder.lstat()
    except OSError:
        return False
    if not stat.S_ISDIR(st.st_mode) or st.st_mode & 0o022:
        return False
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        return False
    return os.access(folder, os.W_OK | os.X_OK)


def _configure_cache() -> str | None:
    """Return the cache folder in use (``None``: caching off); point numba at it if needed."""
    if os.environ.get("MASKKIT_NUMBA_CACHE", "1").strip().lower() in _OFF:
        return None
    if _config.CACHE_DIR:
        return str(_config.CACHE_DIR)
    here = Path(__file__).resolve().parent
    if os.access(here, os.W_OK | os.X_OK):
        return str(here / "__pycache__")
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    for folder, usable in (
        (Path(xdg) / "maskkit" / "numba", _writable),
        (Path(tempfile.gettempdir()) / f"maskkit-numba-{uid}", _private),
    ):
        if usable(folder):
            _config.CACHE_DIR = str(folder)  # read by numba when each kernel is first cached
            return str(folder)
    return None


CACHE_DIR: str | None = _configure_cache()
CACHE: bool = CACHE_DIR is not None

# nogil lets DataLoader threads and user thread pools run kernels side by side;
# error_model="numpy" keeps division free of Python-style zero checks in hot loops.
jit: Callable[..., Any] = partial(numba.njit, cache=CACHE, nogil=True, error_model="numpy")
# Small helpers that take arrays and run per random probe: inlined in numba's IR, so a call
# costs no reference counting (which costs more than the helper's work).
ijit: Callable[..., Any] = partial(
    numba.njit, cache=CACHE, nogil=True, error_model="numpy", inline="always"
)
# Parallel drivers are opt-in: DataLoader workers usually own the cores already.
pjit: Callable[..., Any] = partial(
    numba.njit, cache=CACHE, nogil=True, error_model="numpy", parallel=True
)
prange: Any = numba.prange
