"""Mask and collate speed: maskkit against the numpy / torch idioms users would write instead.

Run:  python benchmarks/bench_masks.py [--repeats 7] [--json out.json]
      python benchmarks/bench_masks.py --maskkit-only [--compare OTHER/src] [--rounds 3]

Everything runs single-threaded in one process (numba serial kernels, torch.set_num_threads(1)),
so the ratios compare like with like. Seeds change between repeats: with a fixed seed the branch
predictor learns the sequence and flatters some kernels.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import maskkit as mk
from maskkit import _rng
from maskkit._numba import jit
from maskkit._rng import GOLDEN, mix64

SIZES = [(48, 1024), (4096, 1024), (64, 100_000)]
RATE = 0.15
REF, ALT = 0.3, 0.7


def make_haps(rows: int, sites: int, seed: int = 0) -> np.ndarray:
    """Biallelic haplotypes with a realistic alt share (~10 %) and 1 % missing calls."""
    rng = np.random.default_rng(seed)
    haps = (rng.random((rows, sites)) < 0.1).astype(np.int8)
    haps[rng.random((rows, sites)) < 0.01] = -1
    return haps


def timeit(fn: Callable[[int], object], repeats: int) -> float:
    """Median seconds of ``fn(seed)`` over ``repeats`` calls, a fresh seed each, after warm-up."""
    fn(10_000)
    times = []
    for i in range(repeats):
        t0 = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


# ----------------------------------------------------------------------------- baselines (numpy)


def np_bernoulli(haps: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random(haps.shape) < RATE) & (haps >= 0)


def np_exact(haps: np.ndarray, seed: int) -> np.ndarray:
    # The usual idiom: random keys, ineligible keys pushed to the end, argpartition per row.
    rng = np.random.default_rng(seed)
    keys = rng.random(haps.shape)
    elig = haps >= 0
    keys[~elig] = 2.0
    k = np.floor(RATE * elig.sum(axis=1)).astype(np.int64)
    kmax = int(k.max())
    idx = np.argpartition(keys, kmax, axis=1)[:, :kmax]
    mask = np.zeros(haps.shape, dtype=bool)
    take = np.arange(kmax)[None, :] < k[:, None]
    rows = np.broadcast_to(np.arange(haps.shape[0])[:, None], idx.shape)
    mask[rows[take], idx[take]] = True
    return mask


def np_smart_union(haps3: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rates = np.where(haps3 > 0, ALT, REF)
    m = (rng.random(haps3.shape) < rates) & (haps3 >= 0)
    return np.maximum(m[:, 0], m[:, 1])


EDGES = [0.01, 0.05]
AF_TABLE = np.array([[0.5, 0.3, 0.15], [0.9, 0.8, 0.7]])  # (class x MAF bin)
MEAN_SPAN = 5.0


def make_freq(sites: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).beta(0.3, 2.0, size=sites)


def np_af(haps: np.ndarray, freq: np.ndarray, seed: int) -> np.ndarray:
    # take of a per-site rate table by MAF bin and class, then rng.random < rates
    rng = np.random.default_rng(seed)
    bins = np.searchsorted(EDGES, np.minimum(freq, 1 - freq), side="right")
    rates = AF_TABLE[(haps > 0).astype(np.intp), bins[None, :]]
    return (rng.random(haps.shape) < rates) & (haps >= 0)


def np_span(haps: np.ndarray, seed: int) -> np.ndarray:
    # starts at rate p / mean, geometric lengths, fill by a cumulative sum of +1 / -1 events
    rng = np.random.default_rng(seed)
    rows, sites = haps.shape
    starts = rng.random(haps.shape) < RATE / MEAN_SPAN
    r, c = np.nonzero(starts)
    ends = np.minimum(c + rng.geometric(1 / MEAN_SPAN, size=c.size), sites)
    events = np.zeros((rows, sites + 1), dtype=np.int32)
    np.add.at(events, (r, c), 1)
    np.add.at(events, (r, ends), -1)
    return (np.cumsum(events[:, :sites], axis=1) > 0) & (haps >= 0)


def np_array(haps: np.ndarray, keep: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (~keep[None, :] | (rng.random(haps.shape) < 0.05)) & (haps >= 0)


# ----------------------------------------------------------------------------- baselines (torch)


def torch_bernoulli(t_haps, seed: int):  # type: ignore[no-untyped-def]
    import torch

    g = torch.Generator().manual_seed(seed)
    return (torch.rand(t_haps.shape, generator=g) < RATE) & (t_haps >= 0)


def torch_exact(t_haps, seed: int):  # type: ignore[no-untyped-def]
    # MAE-style: argsort of noise, keep the first k per row.
    import torch

    g = torch.Generator().manual_seed(seed)
    noise = torch.rand(t_haps.shape, generator=g)
    noise[t_haps < 0] = 2.0
    k = int(RATE * t_haps.shape[1])
    ids = torch.argsort(noise, dim=1)[:, :k]
    mask = torch.zeros(t_haps.shape, dtype=torch.bool)
    mask.scatter_(1, ids, True)
    return mask


def torch_hf_collate(t_haps, seed: int, width: int):  # type: ignore[no-untyped-def]
    """The steps of HF DataCollatorForLanguageModeling.torch_mask_tokens, then padding."""
    import torch

    g = torch.Generator().manual_seed(seed)
    inputs = torch.where(t_haps < 0, 2, t_haps.long() + 3)
    labels = t_haps.long().clone()
    prob = torch.full(labels.shape, RATE)
    prob.masked_fill_(t_haps < 0, 0.0)
    masked = torch.bernoulli(prob, generator=g).bool()
    labels[~masked] = -100
    replaced = torch.bernoulli(torch.full(labels.shape, 0.8), generator=g).bool() & masked
    inputs[replaced] = 1
    rnd = torch.bernoulli(torch.full(labels.shape, 0.5), generator=g).bool() & masked & ~replaced
    words = torch.randint(2, labels.shape, dtype=torch.long, generator=g) + 3
    inputs[rnd] = words[rnd]
    pad = width - inputs.shape[1]
    inputs = torch.nn.functional.pad(inputs, (0, pad), value=0)
    labels = torch.nn.functional.pad(labels, (0, pad), value=-100)
    attention = torch.nn.functional.pad(torch.ones_like(t_haps, dtype=torch.long), (0, pad))
    return inputs, labels, attention


# ----------------------------------------------------------------------------- maskkit


# Narrowest outputs for alleles 0..127: tokens <= 130, labels -100..127, attention 0/1.
NARROW = {"input_ids": np.uint8, "labels": np.int8, "attention_mask": np.bool_}


def collate_buffers(rows: int, width: int, dtype: Any = np.int64) -> dict[str, np.ndarray]:
    """Reusable ``out=`` buffers for ``mk.collate`` (``dtype``: one dtype or a dict)."""

    def dt(name: str) -> Any:
        return dtype.get(name, np.int64) if isinstance(dtype, dict) else dtype

    out = {
        k: np.empty((rows, width), dtype=dt(k)) for k in ("input_ids", "labels", "attention_mask")
    }
    out["mask"] = np.empty((rows, width), dtype=bool)
    return out


def mk_collate(
    haps: np.ndarray,
    seed: int,
    width: int,
    out: dict[str, np.ndarray] | None = None,
    mask_out: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Bernoulli mask + 80/10/10 collate; into ``out`` / ``mask_out`` buffers where given."""
    m = mk.random_mask(haps, RATE, seed=seed, out=mask_out)
    return mk.collate(haps, m, pad_to=width, replace=(0.8, 0.1, 0.1), seed=seed, out=out)


# Bits per mask decision of maskkit's kernels: 16 (four words per 64-bit hash) where ``_rng``
# has 16-bit decision words, else 32 (two per hash).
WORD_BITS = 16 if hasattr(_rng, "u16_at") else 32
_WORD = np.uint16 if WORD_BITS == 16 else np.uint32


@jit
def _hash_floor(out, key, thr, scratch):  # type: ignore[no-untyped-def]
    rows, sites = out.shape
    words = scratch.view(_WORD)
    for r in range(rows):
        c = key + np.uint64(r) * GOLDEN * GOLDEN
        for q in range(scratch.shape[0]):
            c += GOLDEN
            scratch[q] = mix64(c)
        for j in range(sites):
            out[r, j] = words[j] < thr


def hash_floor(out: np.ndarray, seed: int) -> np.ndarray:
    """The least a counter-hash mask can cost: hash the counters, write one byte per position.

    One splitmix64 hash (maskkit's ``_rng.mix64``, counter advanced by addition) per
    ``64 / WORD_BITS`` positions into a row scratch, then one threshold compare per position
    on its decision word, as the Bernoulli kernels do, minus eligibility, lengths and row keys:
    what the Bernoulli and smart kernels are measured against (``out``: bool ``(rows, sites)``).
    """
    per_hash = 64 // WORD_BITS
    scratch = np.empty(-(-out.shape[1] // per_hash), dtype=np.uint64)
    key = np.uint64((seed * int(GOLDEN) + 1) % 2**64)
    _hash_floor(out, key, _WORD(RATE * 2**WORD_BITS), scratch)
    return out


def maskkit_cases(size: tuple[int, int], mk: Any = mk) -> dict[str, Callable[[int], object]]:
    """Every kernel path of maskkit at ``size``, as ``fn(seed)`` (no baselines).

    One case per decision mode of the group kernel (one rate, class rates, per-site rates with
    and without classes), its exact pass, spans, collate's and mask_tokens' 80/10/10.
    """
    haps = make_haps(*size)
    haps3 = haps.reshape(size[0] // 2, 2, size[1])
    out = np.empty(haps.shape, dtype=bool)
    freq = make_freq(size[1])
    keep = np.arange(size[1]) % 10 == 0
    width = size[1] + 64
    bufs = collate_buffers(size[0], width)
    mask = mk.random_mask(haps, RATE, seed=1)
    ids = haps.astype(np.int64) + 5
    ids[haps < 0] = 0
    pool = np.arange(5, 7)
    return {
        "bernoulli": lambda s: mk.random_mask(haps, RATE, seed=s, out=out),
        "exact": lambda s: mk.random_mask(haps, RATE, seed=s, exact=True, out=out),
        "smart+union": lambda s: mk.smart_balanced_mask(haps3, REF, ALT, seed=s, union=True),
        "smart exact": lambda s: mk.smart_balanced_mask(haps3, REF, ALT, seed=s, exact=True),
        "AF-aware": lambda s: mk.af_mask(haps, freq, EDGES, AF_TABLE, seed=s, out=out),
        "AF-aware exact": lambda s: mk.af_mask(
            haps, freq, EDGES, AF_TABLE, seed=s, exact=True, out=out
        ),
        "array": lambda s: mk.array_mask(haps, keep, kept_rate=0.05, seed=s, out=out),
        "span": lambda s: mk.span_mask(haps, RATE, mean_span=MEAN_SPAN, seed=s, out=out),
        "span exact": lambda s: mk.span_mask(
            haps, RATE, mean_span=MEAN_SPAN, seed=s, exact=True, out=out
        ),
        "collate 80/10/10": lambda s: mk.collate(
            haps, mask, pad_to=width, replace=(0.8, 0.1, 0.1), seed=s, out=bufs
        ),
        "mask_tokens 80/10/10": lambda s: mk.mask_tokens(
            ids, mask, mask_token_id=4, random_ids=pool, replace=(0.8, 0.1, 0.1), seed=s
        ),
    }


def min_time(fn: Callable[[int], object], repeats: int, min_s: float = 0.05) -> float:
    """Fastest call of ``fn(seed)``, a fresh seed each, after ~20 ms of warm-up calls.

    At least ``repeats`` calls and at least ``min_s`` of them (fast calls). The minimum, not
    the median: on a shared machine other processes only ever add time.
    """
    t_end = time.perf_counter() + 0.02
    k = 0
    while k < 200 and (k == 0 or time.perf_counter() < t_end):
        fn(10_000 + k)
        k += 1
    best = float("inf")
    start = time.perf_counter()
    i = 0
    while i < repeats or (time.perf_counter() - start < min_s and i < 100 * repeats):
        t0 = time.perf_counter()
        fn(i)
        best = min(best, time.perf_counter() - t0)
        i += 1
    return best


def load_other(src: str) -> Any:
    """Import the maskkit of another checkout (``src``: its ``src`` folder) as ``maskkit_other``.

    Set ``NUMBA_CACHE_DIR`` (and ``PYTHONDONTWRITEBYTECODE=1``) to leave that checkout
    untouched: numba's cache otherwise goes next to its package.
    """
    init = os.path.join(src, "maskkit", "__init__.py")
    spec = importlib.util.spec_from_file_location(
        "maskkit_other", init, submodule_search_locations=[os.path.dirname(init)]
    )
    if spec is None or spec.loader is None:
        raise SystemExit(f"--compare: no maskkit package at {init}")
    other = importlib.util.module_from_spec(spec)
    sys.modules["maskkit_other"] = other
    spec.loader.exec_module(other)
    return other


def maskkit_table(
    repeats: int,
    rounds: int,
    other: Any = None,
    sizes: list[tuple[int, int]] = SIZES,
    only: list[str] | None = None,
) -> list[dict[str, Any]]:
    """ns/site of every case of :func:`maskkit_cases` at every size (fastest call).

    With ``other`` (a second maskkit module), both are timed in ``rounds`` alternating rounds
    per case, so load on a shared machine falls on both alike; each side's fastest call counts.
    """
    sides = {"maskkit": mk} if other is None else {"other": other, "maskkit": mk}
    rows = []
    print(f"{'case':<24}{'size':>16}" + "".join(f"{k + ' ns':>14}" for k in sides), end="")
    print(f"{'ratio':>8}" if other is not None else "")
    for size in sizes:
        cases = {k: maskkit_cases(size, m) for k, m in sides.items()}
        for case in cases["maskkit"]:
            if only and case not in only:
                continue
            best = dict.fromkeys(sides, float("inf"))
            for _ in range(rounds):
                for k in sides:
                    best[k] = min(best[k], min_time(cases[k][case], repeats))
            ns = {k: 1e9 * t / (size[0] * size[1]) for k, t in best.items()}
            rows.append({"case": case, "rows": size[0], "sites": size[1], "ns_per_site": ns})
            line = f"{case:<24}{size[0]:>7,} x {size[1]:<7,}" + "".join(
                f"{v:>14.3f}" for v in ns.values()
            )
            if other is not None:
                line += f"{ns['maskkit'] / ns['other']:>8.2f}"
            print(line, flush=True)
    return rows


def fresh_process_times(repeats: int = 5) -> dict[str, float]:
    """Median import time and first-call time (warm numba cache) in fresh processes."""
    code = (
        "import time; t0 = time.perf_counter(); import maskkit as mk, numpy as np; "
        "t1 = time.perf_counter(); h = np.zeros((48, 1024), np.int8); "
        "mk.random_mask(h, 0.15, seed=1); t2 = time.perf_counter(); "
        "print(t1 - t0, t2 - t1)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)  # warm cache
    imports, firsts = [], []
    for _ in range(repeats):
        out = subprocess.run(
            [sys.executable, "-c", code], check=True, capture_output=True, text=True
        )
        a, b = (float(x) for x in out.stdout.split())
        imports.append(a)
        firsts.append(b)
    return {"import_s": float(np.median(imports)), "first_call_s": float(np.median(firsts))}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", default=None, help="also write the results here")
    parser.add_argument("--no-torch", action="store_true", help="skip the torch baselines")
    parser.add_argument(
        "--maskkit-only",
        action="store_true",
        help="time every kernel path of maskkit alone (fastest call, ns/site), no baselines",
    )
    parser.add_argument(
        "--compare",
        metavar="SRC",
        default=None,
        help="with --maskkit-only: also time the maskkit under SRC (another checkout's src\n"
        "folder), interleaved with this one, and print after/before ratios",
    )
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (--compare)")
    parser.add_argument(
        "--cases", default=None, help="with --maskkit-only: these cases only (comma-separated)"
    )
    parser.add_argument(
        "--sizes",
        default=None,
        help="with --maskkit-only: these sizes only, e.g. 48x1024,64x100000",
    )
    args = parser.parse_args()
    if args.maskkit_only:
        other = None if args.compare is None else load_other(args.compare)
        for m in (mk, other):
            if m is not None:
                print(f"maskkit {m.__version__} from {os.path.dirname(m.__file__)}")
        sizes = SIZES
        if args.sizes:
            sizes = [(int(a), int(b)) for a, b in (x.split("x") for x in args.sizes.split(","))]
        only = args.cases.split(",") if args.cases else None
        rows = maskkit_table(args.repeats, args.rounds if other else 1, other, sizes, only)
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"rows": rows}, f, indent=2)
        return

    torch = None
    if not args.no_torch:
        try:
            import torch

            torch.set_num_threads(1)
        except ImportError:
            print("torch not installed: torch baselines skipped (pip install 'maskkit[bench]')")

    rows_out = []
    header = (
        f"{'case':<34}{'size':>14}{'maskkit ns/site':>17}{'baseline ns/site':>18}{'speed-up':>10}"
    )
    print(
        f"maskkit {mk.__version__}, numpy {np.__version__}, python {platform.python_version()}, "
        f"{os.cpu_count()} cpus"
    )
    print(header)
    print("-" * len(header))

    def report(case: str, size: tuple[int, int], t_mk: float, t_base: float) -> None:
        n = size[0] * size[1]
        row = {
            "case": case,
            "rows": size[0],
            "sites": size[1],
            "maskkit_ns_per_site": 1e9 * t_mk / n,
            "baseline_ns_per_site": 1e9 * t_base / n,
            "speedup": t_base / t_mk,
        }
        rows_out.append(row)
        print(
            f"{case:<34}{size[0]:>6} x {size[1]:<7}{row['maskkit_ns_per_site']:>17.3f}"
            f"{row['baseline_ns_per_site']:>18.3f}{row['speedup']:>9.1f}x"
        )

    for size in SIZES:
        haps = make_haps(*size)
        haps3 = haps.reshape(size[0] // 2, 2, size[1])
        out = np.empty(haps.shape, dtype=bool)
        r = args.repeats
        t_b = timeit(lambda s: mk.random_mask(haps, RATE, seed=s, out=out), r)
        report("bernoulli vs numpy rand<p", size, t_b, timeit(lambda s: np_bernoulli(haps, s), r))
        t_e = timeit(lambda s: mk.random_mask(haps, RATE, seed=s, exact=True, out=out), r)
        report("exact vs numpy argpartition", size, t_e, timeit(lambda s: np_exact(haps, s), r))
        t_s = timeit(lambda s: mk.smart_balanced_mask(haps3, REF, ALT, seed=s, union=True), r)
        report(
            "smart+union vs numpy where/max",
            size,
            t_s,
            timeit(lambda s: np_smart_union(haps3, s), r),
        )
        freq = make_freq(size[1])
        t_a = timeit(lambda s: mk.af_mask(haps, freq, EDGES, AF_TABLE, seed=s, out=out), r)
        report(
            "AF-aware vs numpy take/rand<p", size, t_a, timeit(lambda s: np_af(haps, freq, s), r)
        )
        t_p = timeit(lambda s: mk.span_mask(haps, RATE, mean_span=MEAN_SPAN, seed=s, out=out), r)
        report("span vs numpy geometric/cumsum", size, t_p, timeit(lambda s: np_span(haps, s), r))
        keep = np.arange(size[1]) % 10 == 0
        t_r = timeit(lambda s: mk.array_mask(haps, keep, kept_rate=0.05, seed=s, out=out), r)
        report("array vs numpy broadcast/rand<p", size, t_r,
               timeit(lambda s: np_array(haps, keep, s), r))  # fmt: skip
        width = size[1] + 64
        t_c = timeit(lambda s: mk_collate(haps, s, width), r)
        if torch is not None:
            th = torch.from_numpy(haps)
            report(
                "bernoulli vs torch rand<p", size, t_b, timeit(lambda s: torch_bernoulli(th, s), r)
            )
            report(
                "exact vs torch argsort (MAE)", size, t_e, timeit(lambda s: torch_exact(th, s), r)
            )
            report(
                "mask+collate 80/10/10 vs HF torch",
                size,
                t_c,
                timeit(lambda s: torch_hf_collate(th, s, width), r),
            )

    fp = fresh_process_times()
    print(
        f"\nimport maskkit: {fp['import_s'] * 1e3:.0f} ms; first mask call in a fresh process "
        f"(warm numba cache): {fp['first_call_s'] * 1e3:.0f} ms"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows_out, **fp}, f, indent=2)


if __name__ == "__main__":
    main()
