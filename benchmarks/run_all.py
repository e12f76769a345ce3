"""All of maskkit's speed benchmarks in one command, one table, ratios from the same run.

Run:  python benchmarks/run_all.py [--quick] [--json results.json] [--plot docs/img/benchmarks.png]

Parts (each importable on its own):

* :func:`mask_table` -- every maskkit rule against the numpy idiom, the torch idioms
  (``rand < p``, MAE's ``argsort`` of noise) and the steps of HF ``DataCollatorForLanguageModeling``
  (functions and baselines from ``bench_masks.py``);
* :func:`seqmask_table` -- maskkit against the rules of ``seqmask`` (PyPI) that have an equivalent;
* :func:`fresh_process` -- ``import maskkit`` and first-call times in fresh processes, with a cold
  numba cache (a new ``NUMBA_CACHE_DIR``: the first call compiles) and a warm one (same folder);
* :func:`loader` -- DataLoader throughput over a 256 x 32,768 HDF5 store against the naive
  Dataset users write (``bench_loader.py``).

Single thread on every side: serial numba kernels, ``torch.set_num_threads(1)``. Every repeat
uses a fresh seed (a fixed seed lets the branch predictor learn the sequence). Times are medians.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_masks as bm

import maskkit as mk

SIZES = bm.SIZES
QUICK_SIZES = [(48, 1024), (512, 1024)]

# speed goals (issues 7, 8 and 15): minimum speed-up of a case against its baseline.
# "mask+collate" writes into reused out= buffers of the baseline's dtype (int64); the rows
# below it (no goal) show fresh int64 outputs and the narrowest dtypes.
GOALS = {
    "bernoulli vs numpy rand<p": 10.0,
    "exact vs numpy argpartition": 20.0,
    "smart+union vs numpy where/max": 15.0,
    "mask+collate 80/10/10 vs HF torch": 15.0,
    "AF-aware vs numpy take/rand<p": 5.0,
    "span vs numpy geometric/cumsum": 5.0,
    "array vs numpy broadcast/rand<p": 5.0,
}
FLOOR_CASES = ("bernoulli vs numpy rand<p", "smart+union vs numpy where/max")
FLOOR_SIZE = (4096, 1024)
FLOOR_GOAL = 3.0  # Bernoulli and smart + union within this multiple of the hash floor
IMPORT_GOAL_S = 0.6
# AVX2 without AVX-512 (Haswell and later, Zen 1-3): no 64-bit vector multiply.
AVX2_CPU = "haswell"
AVX2_FEATURES = "+avx2,+fma,+bmi2,+popcnt,+sse4.2,+avx,+f16c,+lzcnt,+movbe"
MIN_TIME_S = 0.05  # timed calls per case and side: at least this long (fast calls)
FIRST_CALL_GOAL_S = 0.2


def timeit(fn: Callable[[int], object], repeats: int, budget_s: float = 20.0) -> float:
    """Median seconds of ``fn(seed)``, a fresh seed per call, after a warm-up.

    The warm-up repeats the call for about 20 ms (at least once, at most 200 calls): the first
    calls after a switch of workload pay for cold caches and branch predictors, which weighs on
    a 10 us call far more than on a 100 us one. Stops early (after at least 3 timed calls) once
    ``budget_s`` is spent: some baselines (seqmask's span loop in Python) take seconds per call
    at the largest size.
    """
    warm_start = time.perf_counter()
    for k in range(200):
        fn(10_000 + k)
        if time.perf_counter() - warm_start > 0.02:
            break
    times: list[float] = []
    start = time.perf_counter()
    i = 0
    # at least ``repeats`` calls and, for fast calls, at least MIN_TIME_S of them (up to
    # 100 x repeats): the median of 9 calls of 10 us moves by 20-30 % on a shared machine
    while i < repeats or (time.perf_counter() - start < MIN_TIME_S and i < 100 * repeats):
        t0 = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - t0)
        i += 1
        if i >= 3 and time.perf_counter() - start > budget_s:
            break
    return float(np.median(times))


def _collector(
    rows: list[dict[str, Any]], report: Callable[[dict[str, Any]], None]
) -> Callable[[str, tuple[int, int], float, float], None]:
    """Return ``add(case, size, t_mk, t_base)``: build a result row, keep it and report it."""

    def add(case: str, size: tuple[int, int], t_mk: float, t_base: float) -> None:
        row = _row(case, size, t_mk, t_base)
        rows.append(row)
        report(row)

    return add


def _row(case: str, size: tuple[int, int], t_mk: float, t_base: float) -> dict[str, Any]:
    n = size[0] * size[1]
    return {
        "case": case,
        "rows": size[0],
        "sites": size[1],
        "maskkit_ns_per_site": 1e9 * t_mk / n,
        "baseline_ns_per_site": 1e9 * t_base / n,
        "maskkit_us_per_call": 1e6 * t_mk,
        "speedup": t_base / t_mk,
        "goal": GOALS.get(case),
    }


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        print("torch not installed: torch baselines skipped (pip install 'maskkit[bench]')")
        return None
    torch.set_num_threads(1)
    return torch


# ----------------------------------------------------------------------------- mask rules


def mask_table(
    sizes: list[tuple[int, int]], repeats: int, report: Callable[[dict[str, Any]], None]
) -> list[dict[str, Any]]:
    """Every maskkit rule against numpy / torch / HF-collator idioms (``bench_masks.py``)."""
    torch = _torch()
    rows: list[dict[str, Any]] = []

    add = _collector(rows, report)

    for size in sizes:
        r = repeats
        haps = bm.make_haps(*size)
        haps3 = haps.reshape(size[0] // 2, 2, size[1])
        out = np.empty(haps.shape, dtype=bool)
        t_b = timeit(lambda s: mk.random_mask(haps, bm.RATE, seed=s, out=out), r)
        add("bernoulli vs numpy rand<p", size, t_b, timeit(lambda s: bm.np_bernoulli(haps, s), r))
        t_e = timeit(lambda s: mk.random_mask(haps, bm.RATE, seed=s, exact=True, out=out), r)
        add("exact vs numpy argpartition", size, t_e, timeit(lambda s: bm.np_exact(haps, s), r))
        t_s = timeit(lambda s: mk.smart_balanced_mask(haps3, bm.REF, bm.ALT, seed=s, union=True), r)
        t_sb = timeit(lambda s: bm.np_smart_union(haps3, s), r)
        add("smart+union vs numpy where/max", size, t_s, t_sb)
        freq = bm.make_freq(size[1])
        t_a = timeit(lambda s: mk.af_mask(haps, freq, bm.EDGES, bm.AF_TABLE, seed=s, out=out), r)
        add(
            "AF-aware vs numpy take/rand<p", size, t_a, timeit(lambda s: bm.np_af(haps, freq, s), r)
        )
        t_p = timeit(
            lambda s: mk.span_mask(haps, bm.RATE, mean_span=bm.MEAN_SPAN, seed=s, out=out), r
        )
        add("span vs numpy geometric/cumsum", size, t_p, timeit(lambda s: bm.np_span(haps, s), r))
        keep = np.arange(size[1]) % 10 == 0
        t_r = timeit(lambda s: mk.array_mask(haps, keep, kept_rate=0.05, seed=s, out=out), r)
        t_rb = timeit(lambda s: bm.np_array(haps, keep, s), r)
        add("array vs numpy broadcast/rand<p", size, t_r, t_rb)
        t_f = timeit(lambda s: bm.hash_floor(out, s), r)
        add("hash floor (hash + 1 byte/site)", size, t_f, t_f)
        width = size[1] + 64
        bufs = bm.collate_buffers(size[0], width)
        t_c = timeit(lambda s: bm.mk_collate(haps, s, width, out=bufs, mask_out=out), r)
        t_cf = timeit(lambda s: bm.mk_collate(haps, s, width), r)
        narrow = bm.collate_buffers(size[0], width, bm.NARROW)
        t_cn = timeit(lambda s: bm.mk_collate(haps, s, width, out=narrow, mask_out=out), r)
        if torch is not None:
            th = torch.from_numpy(haps)
            add(
                "bernoulli vs torch rand<p",
                size,
                t_b,
                timeit(lambda s: bm.torch_bernoulli(th, s), r),
            )
            add("exact vs torch argsort (MAE)", size, t_e,
                timeit(lambda s: bm.torch_exact(th, s), r))  # fmt: skip
            t_hf = timeit(lambda s: bm.torch_hf_collate(th, s, width), r)
            add("mask+collate 80/10/10 vs HF torch", size, t_c, t_hf)
            add("  same, fresh int64 outputs", size, t_cf, t_hf)
            add("  same, out= uint8/int8/bool", size, t_cn, t_hf)
    return rows


# ----------------------------------------------------------------------------- seqmask

SEQMASK_CONCENTRATION = 20.0  # seqmask's Beta(p * c, (1 - p) * c) around p = RATE


def _import_seqmask() -> Any:
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # it prints its backend on import
            import seqmask
    except ImportError:
        print("seqmask not installed: seqmask comparisons skipped (pip install 'maskkit[bench]')")
        return None
    return seqmask


def seqmask_table(
    sizes: list[tuple[int, int]], repeats: int, report: Callable[[dict[str, Any]], None]
) -> list[dict[str, Any]]:
    """maskkit against the seqmask rules that have an equivalent, on the same tokens and rate.

    seqmask works on token ids: the input is maskkit's tokens of the same haplotypes (allele
    ``a`` -> ``3 + a``, missing -> ``MISSING``, excluded from masking like a special token) and
    returns ``(corrupted ids, labels)``; the maskkit side draws the mask from the alleles and
    makes ids + labels (+ attention, mask) with ``mk.collate``, no padding (width = sites).
    """
    seqmask = _import_seqmask()
    if seqmask is None:
        return []
    tk = mk.tokens
    common = {
        "mask_token_id": tk.MASK,
        "valid_token_ids": [tk.ALLELE_OFFSET, tk.ALLELE_OFFSET + 1],
        "special_token_ids": [tk.PAD, tk.MISSING],
    }
    sampler = seqmask.MLMProbabilitySampler([bm.RATE], [0.8], [0.1])
    categorical = seqmask.CategoricalMasking(sampler, **common)
    conc = SEQMASK_CONCENTRATION
    beta = seqmask.BetaDistributionMasking(bm.RATE, conc, 0.8, 0.1, **common)
    # span share 1 (only spans; shortfall filled by scattered positions), near-fixed rate
    hybrid = seqmask.HybridSpanMasking(
        bm.RATE, 1e6, 1.0, 1.0, 1.0 / bm.MEAN_SPAN, 10**6, 0.8, 0.1, **common
    )
    diffusion = seqmask.DiffusionMasking(100, tk.MASK, [tk.PAD, tk.MISSING], schedule="linear")
    t_step = round(100 * bm.RATE)  # linear schedule: rate = t / T
    mk_beta = mk.curriculum.Beta(bm.RATE * conc, (1 - bm.RATE) * conc)
    rep = (0.8, 0.1, 0.1)
    rows: list[dict[str, Any]] = []

    add = _collector(rows, report)

    for size in sizes:
        r = repeats
        haps = bm.make_haps(*size)
        ids = np.where(haps < 0, tk.MISSING, haps.astype(np.int64) + tk.ALLELE_OFFSET)
        idx = np.arange(size[0])
        out = np.empty(haps.shape, dtype=bool)

        def mk_bern(s: int, rep: Any = rep) -> dict[str, np.ndarray]:
            m = mk.random_mask(haps, bm.RATE, seed=s, out=out)
            return mk.collate(haps, m, replace=rep, seed=s)

        def mk_beta_rates(s: int) -> dict[str, np.ndarray]:
            rates = mk_beta.sample_rates(idx, seed=s)
            m = mk.random_mask(haps, rates, seed=s, indices=idx, out=out)
            return mk.collate(haps, m, replace=rep, seed=s, indices=idx)

        def mk_span(s: int) -> dict[str, np.ndarray]:
            m = mk.span_mask(haps, bm.RATE, mean_span=bm.MEAN_SPAN, exact=True, seed=s, out=out)
            return mk.collate(haps, m, replace=rep, seed=s)

        def sq_diffusion(s: int) -> Any:
            with contextlib.redirect_stdout(io.StringIO()):  # it prints the mask shape per call
                return diffusion(ids, t_step, seed=s)

        t_b = timeit(mk_bern, r)
        add("bern+80/10/10 vs seqmask Categorical", size, t_b,
            timeit(lambda s: categorical(ids, seed=s), r))  # fmt: skip
        add("Beta rates+80/10/10 vs seqmask Beta", size, timeit(mk_beta_rates, r),
            timeit(lambda s: beta(ids, seed=s), r))  # fmt: skip
        add("exact span+80/10/10 vs seqmask HybridSpan", size, timeit(mk_span, r),
            timeit(lambda s: hybrid(ids, seed=s), r, budget_s=10.0))  # fmt: skip
        add("bern mask-only vs seqmask Diffusion", size,
            timeit(lambda s: mk_bern(s, None), r), timeit(sq_diffusion, r))  # fmt: skip
    return rows


# ----------------------------------------------------------------------------- fresh processes

_FRESH = """
import time
t0 = time.perf_counter()
import maskkit as mk, numpy as np
t1 = time.perf_counter()
h = np.zeros((24, 2, 1024), np.int8)
m = mk.random_mask(h, 0.15, seed=1)
t2 = time.perf_counter()
s = mk.union(mk.smart_balanced_mask(h, 0.3, seed=1))
b = mk.collate(h, s, replace=(0.8, 0.1, 0.1), seed=1)
t3 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2)
"""


def _fresh_run(cache_dir: str) -> tuple[float, float, float]:
    env = {**os.environ, "NUMBA_CACHE_DIR": cache_dir, "MASKKIT_NUMBA_CACHE": "1"}
    res = subprocess.run(
        [sys.executable, "-c", _FRESH], check=True, capture_output=True, text=True, env=env
    )
    a, b, c = (float(x) for x in res.stdout.split())
    return a, b, c


def fresh_process(repeats: int = 5, cold_repeats: int = 2) -> dict[str, float]:
    """Median import / first-call times in fresh processes, cold and warm numba cache.

    Cold: a new, empty ``NUMBA_CACHE_DIR`` (the first call compiles its kernel, the first batch
    -- smart balanced + union + collate -- compiles three more). Warm: more processes on the same
    folder. ``import maskkit`` itself compiles nothing either way.
    """
    cold: list[tuple[float, float, float]] = []
    warm: list[tuple[float, float, float]] = []
    for _ in range(cold_repeats):
        with tempfile.TemporaryDirectory(prefix="maskkit-bench-numba-") as d:
            cold.append(_fresh_run(d))
            for _ in range(repeats):
                warm.append(_fresh_run(d))

    def med(xs: list[tuple[float, float, float]], i: int) -> float:
        return float(np.median([x[i] for x in xs]))

    return {
        "import_cold_s": med(cold, 0),
        "first_call_cold_s": med(cold, 1),
        "first_batch_cold_s": med(cold, 2),
        "import_warm_s": med(warm, 0),
        "first_call_warm_s": med(warm, 1),
        "first_batch_warm_s": med(warm, 2),
    }


# ----------------------------------------------------------------------------- loader


LOADER_GOAL = 5.0  # maskkit's loader (WindowBatchSampler, narrow dtypes) vs the naive one


def loader(quick: bool) -> dict[str, Any]:
    """DataLoader windows/s over the 256 x 32,768 HDF5 store, naive baseline first.

    Runs ``bench_loader.py`` in a fresh process: forked from this one, after the speed tables
    have grown its heap, DataLoader workers share that heap copy-on-write, and the main
    process's first writes to those pages fault; the maskkit loader measured 2-2.5x slower
    that way (5.0-5.5k windows/s in the full run against 12.7k alone, same hour).
    """
    with tempfile.TemporaryDirectory(prefix="maskkit-bench-") as d:
        out = Path(d) / "loader.json"
        cmd = [sys.executable, str(Path(__file__).resolve().parent / "bench_loader.py")]
        cmd += ["--json", str(out), "--quiet"] + (["--quick", "--epochs", "1"] if quick else [])
        subprocess.run(cmd, check=True)
        with open(out, encoding="utf-8") as fh:
            result: dict[str, Any] = json.load(fh)
    return result


# ----------------------------------------------------------------------------- plot


def plot(rows: list[dict[str, Any]], path: str) -> None:
    """Dot plot of the speed-ups per case and size (log scale), goals as bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # Drawn 9 in wide at 120 dpi (1,080 px): text of 11 pt is ~11.7 px when the docs show the
    # figure in their ~690 px content column (Material theme at a 1,280 px window).
    plt.rcParams.update({"font.size": 11})
    rows = [r for r in rows if not r["case"].startswith("hash floor")]  # no baseline
    cases = list(dict.fromkeys(r["case"] for r in rows))
    sizes = list(dict.fromkeys((r["rows"], r["sites"]) for r in rows))
    fig, ax = plt.subplots(figsize=(9, 0.5 * len(cases) + 1.6))
    markers = "osD^v"
    for k, size in enumerate(sizes):
        ys, xs = [], []
        for i, case in enumerate(cases):
            for r in rows:
                if r["case"] == case and (r["rows"], r["sites"]) == size:
                    ys.append(i + (k - (len(sizes) - 1) / 2) * 0.18)
                    xs.append(r["speedup"])
        ax.scatter(xs, ys, marker=markers[k % len(markers)], s=36, zorder=3,
                   label=f"{size[0]:,} x {size[1]:,}")  # fmt: skip
    for i, case in enumerate(cases):
        goal = GOALS.get(case)
        if goal:
            ax.plot([goal, goal], [i - 0.4, i + 0.4], color="crimson", lw=2, zorder=2)
    ax.plot([], [], color="crimson", lw=2, label="goal")
    ax.axvline(1.0, color="grey", lw=0.8, ls="--")
    ax.set_xscale("log")
    ax.set_yticks(range(len(cases)))
    ax.set_yticklabels(cases, fontsize=11)
    ax.invert_yaxis()
    ax.set_xlabel("speed-up over the baseline (same run, one thread; log scale)")
    ax.grid(axis="x", which="both", alpha=0.3)
    ax.legend(fontsize=11, loc="lower right")
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ----------------------------------------------------------------------------- CPU / ISA


def _cpuinfo_fields() -> dict[str, str]:
    """The first processor block of /proc/cpuinfo (Linux), else {}."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if not line.strip():
                    break
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
    except OSError:
        pass
    return fields


def cpu_info() -> dict[str, str]:
    """The CPU (model, vendor, family/model) and the ISA numba compiles for (name, features).

    numba compiles for ``NUMBA_CPU_NAME`` / ``NUMBA_CPU_FEATURES`` where set, else for the host
    CPU as LLVM sees it; the features listed are the vector ones that decide kernel speed.
    """
    f = _cpuinfo_fields()
    if f:
        model = f.get("model name") or f.get("Model") or f.get("Hardware") or "?"
        ident = ", ".join(
            f"{k} {f[k]}"
            for k in ("vendor_id", "cpu family", "model", "CPU implementer", "CPU part")
            if k in f
        )
        cpu = f"{model} ({ident})" if ident else model
    else:
        cpu = platform.processor() or platform.machine()
        if sys.platform == "darwin":
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                cpu = subprocess.run(
                    ["sysctl", "-n", "machdep.cpu.brand_string"],
                    capture_output=True, text=True, check=True,
                ).stdout.strip()  # fmt: skip
    import llvmlite.binding as ll
    import numba

    host = ll.get_host_cpu_name()
    name = numba.config.CPU_NAME or "host"
    target = host if name == "host" else name
    if numba.config.CPU_FEATURES:
        feats = str(numba.config.CPU_FEATURES)
        source = "NUMBA_CPU_FEATURES"
    else:
        try:
            have = set(ll.get_host_cpu_features().flatten().split(","))
        except RuntimeError:  # not every platform reports features
            have = set()
        wanted = ("avx512f", "avx512dq", "avx512vl", "avx512ifma", "avx2", "fma", "bmi2",
                  "avx", "sse4.2", "neon", "sve", "sve2")  # fmt: skip
        feats = ",".join(f"+{w}" for w in wanted if f"+{w}" in have) or "?"
        source = "host"
    return {
        "cpu": cpu,
        "numba_target": f"{target}" + ("" if name != "host" else " (host)"),
        "numba_features": f"{feats} ({source})",
    }


def numpy_avx512_targets() -> str:
    """numpy's AVX-512 dispatch targets on this machine, space-separated ('' if none).

    ``NPY_DISABLE_CPU_FEATURES`` accepts only targets numpy was built to dispatch to, and their
    names differ between numpy versions, so the list comes from numpy itself.
    """
    try:
        from numpy._core._multiarray_umath import __cpu_dispatch__ as targets
    except ImportError:  # numpy < 2
        try:
            from numpy.core._multiarray_umath import __cpu_dispatch__ as targets
        except ImportError:
            return ""
    return " ".join(t for t in targets if t.startswith("AVX512") or t == "X86_V4")


def baseline_isa() -> str:
    """What the baselines run on: numpy's AVX-512 dispatch on or off, torch's CPU capability."""
    npy = os.environ.get("NPY_DISABLE_CPU_FEATURES")
    parts = [f"numpy AVX-512 loops off ({npy})" if npy else "numpy host dispatch"]
    aten = os.environ.get("ATEN_CPU_CAPABILITY")
    parts.append(f"torch ATEN_CPU_CAPABILITY={aten}" if aten else "torch host capability")
    return ", ".join(parts)


def run_avx2_child(argv: list[str]) -> dict[str, Any]:
    """Re-run the speed tables in a child process with numba forced to AVX2 (Haswell).

    ``NUMBA_CPU_NAME`` / ``NUMBA_CPU_FEATURES`` are read when numba starts, so only a fresh
    process can change them; the child gets its own ``NUMBA_CACHE_DIR`` (machine code for
    one ISA never lands in the cache of the other), in the user's maskkit cache folder (numba's
    cache files are pickles: never a name in a shared temporary folder). Its output streams
    through, prefixed.
    """
    from maskkit.io import default_cache_dir

    cache = default_cache_dir() / f"bench-numba-{AVX2_CPU}"
    env = {
        **os.environ,
        "NUMBA_CPU_NAME": AVX2_CPU,
        "NUMBA_CPU_FEATURES": AVX2_FEATURES,
        "NUMBA_CACHE_DIR": str(cache),
        # the baselines too: an AVX2 machine runs numpy's and torch's AVX2 loops
        "ATEN_CPU_CAPABILITY": "avx2",
    }
    npy_off = numpy_avx512_targets()
    if npy_off:
        env["NPY_DISABLE_CPU_FEATURES"] = npy_off
    with tempfile.TemporaryDirectory(prefix="maskkit-bench-") as d:
        out = Path(d) / "avx2.json"
        cmd = [sys.executable, str(Path(__file__).resolve()), *argv]
        cmd += ["--no-loader", "--no-fresh", "--no-avx2", "--json", str(out)]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        for line in proc.stdout:
            print(f"[avx2] {line}", end="", flush=True)
        if proc.wait() != 0:
            raise RuntimeError(f"the AVX2 child process failed (exit {proc.returncode})")
        with open(out, encoding="utf-8") as fh:
            result: dict[str, Any] = json.load(fh)
    return result


def floor_multiples(rows: list[dict[str, Any]]) -> dict[str, float]:
    """ns/site of Bernoulli and smart + union as multiples of the hash floor (same size)."""
    sizes = [(r["rows"], r["sites"]) for r in rows if r["case"].startswith("hash floor")]
    if not sizes:
        return {}
    size = FLOOR_SIZE if FLOOR_SIZE in sizes else max(sizes)
    ns = {r["case"]: r["maskkit_ns_per_site"] for r in rows if (r["rows"], r["sites"]) == size}
    floor = ns["hash floor (hash + 1 byte/site)"]
    return {c: ns[c] / floor for c in FLOOR_CASES if c in ns} | {
        "floor_ns_per_site": floor,
        "rows": size[0],
        "sites": size[1],
    }


def _goal_summary(rows: list[dict[str, Any]], floors: dict[str, float]) -> tuple[int, list[str]]:
    """Number of goals met and one line per missed goal (speed-ups and floor multiples)."""
    met = 0
    missed = []
    for r in rows:
        if r["goal"] is None:
            continue
        if r["speedup"] >= r["goal"]:
            met += 1
        else:
            missed.append(
                f"{r['case']} at {r['rows']:,} x {r['sites']:,}: {r['speedup']:.1f}x < "
                f"{r['goal']:.0f}x"
            )
    for case in FLOOR_CASES:
        if case in floors:
            if floors[case] <= FLOOR_GOAL:
                met += 1
            else:
                missed.append(f"{case}: {floors[case]:.1f}x the hash floor > {FLOOR_GOAL:.0f}x")
    return met, missed


def print_side_by_side(native: list[dict[str, Any]], avx2: list[dict[str, Any]]) -> None:
    """One line per case and size: native and AVX2-forced ns/site, speed-up, goal met."""
    other = {(r["case"], r["rows"], r["sites"]): r for r in avx2}
    head = (
        f"{'case':<42}{'size':>16}   {'native ns':>9}{'x':>8}{'ok':>4}"
        f"   {'AVX2 ns':>9}{'x':>8}{'ok':>4}{'goal':>7}"
    )
    print("\nnative vs AVX2-forced (same run)\n" + head + "\n" + "-" * len(head))

    def cell(r: dict[str, Any] | None) -> str:
        if r is None:
            return f"{'-':>9}{'':>8}{'':>4}"
        ok = "" if r["goal"] is None else ("yes" if r["speedup"] >= r["goal"] else "NO")
        sp = "" if r["case"].startswith("hash floor") else f"{r['speedup']:.1f}x"
        return f"{r['maskkit_ns_per_site']:>9.3f}{sp:>8}{ok:>4}"

    for r in native:
        a = other.get((r["case"], r["rows"], r["sites"]))
        g = "" if r["goal"] is None else f"{r['goal']:.0f}x"
        print(f"{r['case']:<42}{r['rows']:>7,} x {r['sites']:<7,}  {cell(r)}   {cell(a)}{g:>7}")


# ----------------------------------------------------------------------------- main


def _versions() -> dict[str, str]:
    import numba

    v = {
        "maskkit": mk.__version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus",
    }
    for name in ("torch", "seqmask"):
        try:
            from importlib.metadata import version

            v[name] = version(name)
        except Exception:  # not installed
            v[name] = "-"
    return v


HEADER = f"{'case':<42}{'size':>16}{'maskkit':>10}{'baseline':>10}{'speed-up':>10}{'goal':>8}  ok"


def _print_row(row: dict[str, Any]) -> None:
    goal = row["goal"]
    ok = "" if goal is None else ("yes" if row["speedup"] >= goal else "NO")
    g = "" if goal is None else f"{goal:.0f}x"
    if row["case"].startswith("hash floor"):  # no baseline: the floor itself
        base = sp = ""
    else:
        base, sp = f"{row['baseline_ns_per_site']:.3f}", f"{row['speedup']:.1f}x"
    print(
        f"{row['case']:<42}{row['rows']:>7,} x {row['sites']:<7,}"
        f"{row['maskkit_ns_per_site']:>10.3f}{base:>10}{sp:>10}{g:>8}  {ok}",
        flush=True,
    )


def _print_floors(floors: dict[str, float]) -> None:
    if not floors:
        return
    print(
        f"hash floor at {floors['rows']:,} x {floors['sites']:,}: "
        f"{floors['floor_ns_per_site']:.3f} ns/site; "
        + ", ".join(f"{c.split(' vs ')[0]} {floors[c]:.1f}x it" for c in FLOOR_CASES if c in floors)
        + f" (goal <= {FLOOR_GOAL:.0f}x)"
    )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes, few repeats (smoke run)")
    p.add_argument("--repeats", type=int, default=None, help="timed calls per case (default 9)")
    p.add_argument("--json", default=None, help="write all results here")
    p.add_argument("--plot", default=None, help="write the speed-up plot (PNG) here")
    p.add_argument("--no-loader", dest="do_loader", action="store_false")
    p.add_argument("--no-fresh", dest="do_fresh", action="store_false")
    p.add_argument(
        "--avx2",
        action="store_true",
        help="also run the speed tables with numba forced to AVX2 (Haswell) in a child process "
        "and print both side by side",
    )
    p.add_argument("--no-avx2", dest="avx2", action="store_false", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    sizes = QUICK_SIZES if args.quick else SIZES
    repeats = args.repeats or (3 if args.quick else 9)
    versions = _versions()
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = float("nan")
    cpu = cpu_info()
    print(", ".join(f"{k} {v}" for k, v in versions.items()) + f"; load average {load:.1f}")
    print(f"CPU: {cpu['cpu']}")
    print(f"numba compiles for: {cpu['numba_target']}, features {cpu['numba_features']}")
    print(f"baselines: {baseline_isa()}")
    print(
        f"ns per site (lower is better), median of >= {repeats} calls (and >= "
        f"{MIN_TIME_S * 1e3:.0f} ms of calls) with a fresh seed each"
    )
    print(HEADER)
    print("-" * len(HEADER))
    rows = mask_table(sizes, repeats, _print_row)
    rows += seqmask_table(sizes, repeats, _print_row)
    floors = floor_multiples(rows)
    results: dict[str, Any] = {
        "versions": versions,
        "cpu": cpu,
        "baselines": baseline_isa(),
        "load_average": load,
        "rows": rows,
        "floor": floors,
    }
    _print_floors(floors)
    if args.avx2:
        child = ["--quick"] if args.quick else []
        child += ["--repeats", str(args.repeats)] if args.repeats else []
        print(f"\nAVX2-forced run (NUMBA_CPU_NAME={AVX2_CPU} NUMBA_CPU_FEATURES={AVX2_FEATURES})")
        results["avx2"] = run_avx2_child(child)
        print_side_by_side(rows, results["avx2"]["rows"])

    if args.do_fresh:
        fp = fresh_process(repeats=2 if args.quick else 5, cold_repeats=1 if args.quick else 2)
        results["fresh_process"] = fp
        print("\nfresh process (median)            import   first mask call   first batch")
        for kind in ("cold", "warm"):
            print(
                f"  numba cache {kind:<22}{fp[f'import_{kind}_s'] * 1e3:>6.0f} ms"
                f"{fp[f'first_call_{kind}_s'] * 1e3:>13.0f} ms"
                f"{fp[f'first_batch_{kind}_s'] * 1e3:>11.0f} ms"
            )
        ok_i = fp["import_warm_s"] <= IMPORT_GOAL_S
        ok_f = fp["first_call_warm_s"] <= FIRST_CALL_GOAL_S
        print(
            f"  goals: import <= {IMPORT_GOAL_S * 1e3:.0f} ms: {'yes' if ok_i else 'NO'}; "
            f"first call (warm cache) <= {FIRST_CALL_GOAL_S * 1e3:.0f} ms: "
            f"{'yes' if ok_f else 'NO'}"
        )

    if args.do_loader:
        import bench_loader as bl

        print()
        ld = loader(args.quick)
        results["loader"] = ld
        bl.report(ld, LOADER_GOAL)

    import numba

    runs = [
        ("native" if not numba.config.CPU_NAME else f"forced {cpu['numba_target']}", rows, floors)
    ]
    if args.avx2:
        runs.append(("AVX2-forced", results["avx2"]["rows"], results["avx2"]["floor"]))
    for label, rws, fl in runs:
        met, missed = _goal_summary(rws, fl)
        print(f"\nspeed goals, {label}: {met} met, {len(missed)} missed")
        for line in missed:
            print(f"  missed: {line}")
    if "loader" in results:
        main_row = next(r for r in results["loader"]["rows"] if r["loader"].startswith("maskkit"))
        ok = "met" if main_row["vs_naive"] >= LOADER_GOAL else "NOT met"
        print(
            f"loader goal ({main_row['loader']}, {main_row['dtype']}): "
            f"{main_row['vs_naive']:.1f}x the faster naive loader, goal {LOADER_GOAL:.0f}x: {ok}"
        )
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=2)
    if args.plot:
        plot(rows, args.plot)
    cmd = " ".join(["python", "benchmarks/run_all.py", *(sys.argv[1:] if argv is None else argv)])
    print(f"\ncommand: {cmd}")
    return results


if __name__ == "__main__":
    main()
