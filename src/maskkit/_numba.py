"""The one place that sets numba options for every maskkit kernel.

Caching is on by default. numba writes its cache next to the package when that folder is
writable and otherwise under the user's cache folder (``NUMBA_CACHE_DIR`` overrides both), so an
installation in a read-only site-packages still caches. Set ``MASKKIT_NUMBA_CACHE=0`` to turn the
cache off (for example while editing kernels).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial
from typing import Any

import numba

_OFF = {"0", "false", "no", "off"}
CACHE: bool = os.environ.get("MASKKIT_NUMBA_CACHE", "1").strip().lower() not in _OFF

# nogil lets DataLoader threads and user thread pools run kernels side by side;
# error_model="numpy" keeps division free of Python-style zero checks in hot loops.
jit: Callable[..., Any] = partial(numba.njit, cache=CACHE, nogil=True, error_model="numpy")
# Parallel drivers are opt-in: DataLoader workers usually own the cores already.
pjit: Callable[..., Any] = partial(
    numba.njit, cache=CACHE, nogil=True, error_model="numpy", parallel=True
)
prange: Any = numba.prange
