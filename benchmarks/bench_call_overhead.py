"""Per-call time (µs) of the public mask functions and ``Masker.__call__``, against other checkouts.

Run from the repository root:

    python benchmarks/bench_call_overhead.py [OTHER/src ...] [--windows 60] [--cases a,b]

At 2 x 8 a call is mostly Python overhead (argument checks, the draw request, the kernel
dispatch); at 48 x 1,024 the kernel starts to count. Every maskkit (this one, imported as
``maskkit``, and each ``OTHER/src``) is timed in alternating windows of back-to-back calls, so load
on a shared machine falls on all alike; each side's fastest window counts. Set
``NUMBA_CACHE_DIR`` to a folder of its own (numba's cache otherwise goes next to each package).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import maskkit

SIZES = [(2, 8), (48, 1024)]


def load(src: str, name: str) -> Any:
    """Import the maskkit package under ``src`` (a checkout's ``src`` folder) as ``name``."""
    init = os.path.join(src, "maskkit", "__init__.py")
    spec = importlib.util.spec_from_file_location(
        name, init, submodule_search_locations=[os.path.dirname(init)]
    )
    if spec is None or spec.loader is None:
        raise SystemExit(f"no maskkit package at {init}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def cases(mk: Any, rows: int, sites: int) -> dict[str, Callable[[], object]]:
    """The timed calls at ``rows x sites`` (the smart balanced ones on ``rows // 2`` diploids)."""
    haps = (np.random.default_rng(0).random((rows, sites)) < 0.1).astype(np.int8)
    haps3 = haps.reshape(rows // 2, 2, sites)
    masker = mk.Masker("smart_balanced", rate=0.3, seed=1)
    return {
        "random_mask": lambda: mk.random_mask(haps, 0.15, seed=1),
        "exact": lambda: mk.random_mask(haps, 0.15, seed=1, exact=True),
        "smart_balanced_mask": lambda: mk.smart_balanced_mask(haps3, 0.3, 0.7, seed=1),
        "Masker.__call__": lambda: masker(haps3),
    }


def window(fn: Callable[[], object], n: int) -> float:
    """Mean seconds per call over ``n`` back-to-back calls."""
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("others", nargs="*", help="src folders of other checkouts to compare")
    parser.add_argument("--windows", type=int, default=60, help="timed windows per side")
    parser.add_argument("--cases", default=None, help="these cases only (comma-separated)")
    args = parser.parse_args()
    sides = {"this": maskkit} | {
        src: load(src, f"maskkit_{i}") for i, src in enumerate(args.others)
    }
    only = args.cases.split(",") if args.cases else None
    print(
        f"{'case':<22}{'size':>10}" + "".join(f"{k[-24:]:>26}" for k in sides) + "  (µs per call)"
    )
    for rows, sites in SIZES:
        n = 200 if rows * sites < 10_000 else 20
        calls = {k: cases(m, rows, sites) for k, m in sides.items()}
        for case in calls["this"]:
            if only and case not in only:
                continue
            for c in calls.values():  # compile and warm up
                for _ in range(100):
                    c[case]()
            best = dict.fromkeys(sides, float("inf"))
            for _ in range(args.windows):
                for k, c in calls.items():
                    best[k] = min(best[k], window(c[case], n))
            print(
                f"{case:<22}{f'{rows}x{sites}':>10}"
                + "".join(f"{1e6 * t:>26.2f}" for t in best.values()),
                flush=True,
            )


if __name__ == "__main__":
    main()
