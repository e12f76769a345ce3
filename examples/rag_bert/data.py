"""Data glue of the reference trainer: the one place that knows about stores and demo data.

Everything here returns plain numpy so the trainer, the baselines and the imputer share it; stores
and demo data come from ``maskkit.io`` (masks: :mod:`.masking`).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import numpy as np


class InputError(ValueError):
    """Bad user input (missing file, bad window, foreign checkpoint...), worded for users."""


@dataclasses.dataclass
class Split:
    """Haplotypes of one sample set: ``haps`` is ``(samples, ploidy, sites)`` int8."""

    haps: np.ndarray
    samples: np.ndarray

    @property
    def n(self) -> int:
        return int(self.haps.shape[0])

    @property
    def ploidy(self) -> int:
        return int(self.haps.shape[1])


@dataclasses.dataclass
class Data:
    """Training panel (queries *and* retrieval reference), validation targets, sites, windows."""

    train: Split
    val: Split
    positions: np.ndarray
    alt_freq: np.ndarray  # from the training panel
    windows: np.ndarray  # (n_windows, 2) half-open site ranges
    source: str

    @property
    def n_sites(self) -> int:
        return int(self.positions.shape[0])


# -- reading --------------------------------------------------------------------------------


def _need(path: str | os.PathLike[str] | None, what: str) -> Path:
    if path is None:
        raise InputError(f"{what} path is required")
    p = Path(path)
    if not p.exists():
        raise InputError(f"{what} file not found: {p}")
    return p


def read_store(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(haps (samples, ploidy, sites) int8, positions, sample names)`` of an HDF5 store."""
    from maskkit import io as mkio

    p = _need(path, "store")
    try:
        store = mkio.open_store(p, verbose=False)
        try:
            return store.to_numpy(), np.asarray(store.positions), np.asarray(store.samples)
        finally:
            store.close()
    except (ValueError, OSError) as exc:
        raise InputError(f"cannot read store {p}: {exc}") from exc


def store_phased(path: str | os.PathLike[str]) -> bool | None:
    """The store's ``phased`` attribute (None when not recorded, e.g. scikit-allel files)."""
    from maskkit import io as mkio

    store = mkio.open_store(_need(path, "store"), verbose=False)
    try:
        return store.phased
    finally:
        store.close()


def write_store(
    path: str | os.PathLike[str],
    haps: np.ndarray,
    positions: np.ndarray,
    samples: np.ndarray,
    extra: dict[str, np.ndarray] | None = None,
    phased: bool | None = None,
) -> None:
    """Write a scikit-allel-layout store with :func:`maskkit.io.write_store`, plus ``extra``
    datasets (imputed dosages...), atomically: readers never see a half-written file."""
    import h5py

    from maskkit import io as mkio
    from maskkit.io._atomic import atomic_file

    with atomic_file(path, overwrite=True) as tmp:
        names = [str(s) for s in np.asarray(samples)]
        mkio.write_store(
            tmp, haps, positions=positions, samples=names, phased=phased, overwrite=True
        )
        if extra:
            with h5py.File(tmp, "a") as f:
                for key, value in extra.items():
                    f.create_dataset(key, data=value)


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` atomically (a report or table is whole or absent, never cut)."""
    from maskkit.io._atomic import atomic_file

    with atomic_file(path, overwrite=True) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")


def alt_freq_of(haps: np.ndarray) -> np.ndarray:
    """Alt-allele frequency per site over non-missing calls (0 where all are missing)."""
    from maskkit import io as mkio

    return np.nan_to_num(mkio.alt_allele_frequency(haps), nan=0.0)


def read_freq(path: str | os.PathLike[str], n_sites: int) -> np.ndarray:
    """Read one alt-allele frequency per site (text, one number a line, or ``.npy``)."""
    p = _need(path, "frequency")
    f = np.load(p) if p.suffix == ".npy" else np.loadtxt(p, dtype=np.float64, ndmin=1)
    f = np.asarray(f, dtype=np.float64).reshape(-1)
    if f.shape[0] != n_sites:
        raise InputError(f"frequency file {p} has {f.shape[0]} values, the store {n_sites} sites")
    if not np.all((f >= 0) & (f <= 1)):
        raise InputError(f"frequency file {p} holds values outside [0, 1]")
    return f


def make_windows(n_sites: int, size: int, stride: int | None = None) -> np.ndarray:
    """Windows of ``size`` sites starting every ``stride`` sites (default ``size``: tiles);
    the last one is shifted to end at the edge. ``stride < size`` makes overlapping windows,
    scored at their centres by :func:`score_windows` with ``centre=True``."""
    if size < 1:
        raise InputError(f"window size must be >= 1, got {size}")
    stride = size if stride is None else stride
    if not 1 <= stride <= size:
        raise InputError(
            f"window stride must be between 1 and the window size {size}, got {stride}"
        )
    size = min(size, n_sites)
    starts = list(range(0, max(n_sites - size, 0) + 1, min(stride, size)))
    if starts[-1] + size < n_sites:
        starts.append(n_sites - size)
    return np.array([(s, s + size) for s in starts], dtype=np.int64)


def centred_windows(windows: np.ndarray, n_sites: int, size: int) -> np.ndarray:
    """Ranges of ``size`` sites centred on each window, shifted to stay inside ``[0, n_sites)``
    and never shorter than the window itself (retrieval key ranges, ``--val-retrieval-window``)."""
    w = np.asarray(windows, dtype=np.int64)
    if size < 1:
        raise InputError(f"retrieval window must be >= 1 site, got {size}")
    length = np.clip(np.maximum(size, w[:, 1] - w[:, 0]), 1, n_sites)
    start = (w[:, 0] + w[:, 1]) // 2 - length // 2
    start = np.clip(start, 0, n_sites - length)
    return np.stack([start, start + length], axis=1)


def read_windows(path: str | os.PathLike[str], n_sites: int) -> np.ndarray:
    """Read windows (two integers a line: start, stop site index, half-open) and check them."""
    p = _need(path, "windows")
    w = np.loadtxt(p, dtype=np.int64, ndmin=2, delimiter=None)
    return check_windows(w, n_sites, str(p))


def check_windows(w: np.ndarray, n_sites: int, where: str = "windows") -> np.ndarray:
    w = np.asarray(w, dtype=np.int64)
    if w.ndim != 2 or w.shape[1] != 2 or w.shape[0] == 0:
        raise InputError(f"{where}: expected rows of (start, stop), got shape {w.shape}")
    bad = (w[:, 0] < 0) | (w[:, 1] > n_sites) | (w[:, 1] <= w[:, 0])
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"{where}: window {i} = [{w[i, 0]}, {w[i, 1]}) is empty or beyond the store's "
            f"{n_sites} sites"
        )
    return w


# -- demo data --------------------------------------------------------------------------------


def simulate(
    n_train: int, n_val: int, length: float, seed: int, mutation_rate: float = 1.25e-8
) -> tuple[np.ndarray, np.ndarray]:
    """Simulate diploids with msprime (constant Ne=10^4, r=1e-8); return ``(haps, positions)``."""
    import msprime

    ts = msprime.sim_ancestry(
        samples=n_train + n_val,
        population_size=10_000,
        sequence_length=length,
        recombination_rate=1e-8,
        random_seed=seed,
    )
    ts = msprime.sim_mutations(
        ts, rate=mutation_rate, model=msprime.BinaryMutationModel(), random_seed=seed + 1
    )
    g = ts.genotype_matrix().astype(np.int8)  # (sites, 2n)
    pos = np.array([int(s.position) + 1 for s in ts.sites()], dtype=np.int64)
    keep = np.r_[True, np.diff(pos) > 0]
    haps = g[keep].T.reshape(n_train + n_val, 2, -1)
    return np.ascontiguousarray(haps), pos[keep]


def demo_data(
    *,
    n_train: int = 300,
    n_val: int = 60,
    length: float = 1.0e6,
    window: int = 256,
    seed: int = 42,
    cache_dir: str | os.PathLike[str] | None = None,
) -> Data:
    """Built-in simulated demo data (cached as ``.npz`` in ``cache_dir`` when given).

    The validation samples come from the same simulation, so they share the panel's ancestry.
    Sites monomorphic in the training panel are dropped (nothing to impute there). The cache
    file is named after the maskkit version too: one written by another version is not read.
    """
    import maskkit

    key = f"demo-{maskkit.__version__}-{n_train}_{n_val}_{int(length)}_{seed}.npz"
    path = Path(cache_dir) / key if cache_dir is not None else None
    if path is not None and path.exists():
        z = np.load(path)
        haps, pos = z["haps"], z["pos"]
    else:
        haps, pos = simulate(n_train, n_val, length, seed)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + f".tmp{os.getpid()}.npz")
            np.savez_compressed(tmp, haps=haps, pos=pos)
            os.replace(tmp, path)
    train, val = haps[:n_train], haps[n_train:]
    freq = alt_freq_of(train)
    poly = (freq > 0) & (freq < 1)
    train, val, pos, freq = train[..., poly], val[..., poly], pos[poly], freq[poly]
    names = np.array([f"tsk_{i}" for i in range(n_train + n_val)])
    return Data(
        train=Split(np.ascontiguousarray(train), names[:n_train]),
        val=Split(np.ascontiguousarray(val), names[n_train:]),
        positions=pos,
        alt_freq=freq,
        windows=make_windows(pos.shape[0], window),
        source=f"demo (msprime, {n_train}+{n_val} diploids, {length / 1e6:g} Mb, seed {seed})",
    )


def ooa_demo_data(
    *,
    n_train: int,
    n_val: int,
    length: float,
    window: int,
    seed: int,
    cache_dir: str | os.PathLike[str] | None = None,
) -> Data:
    """Demo data from :func:`maskkit.io.demo_data` (Out-of-Africa model, population-stratified
    train/val split, training-only frequencies); sites monomorphic in training are dropped.

    Simulated once into ``cache_dir`` (default: ``maskkit.io.default_cache_dir()``, a folder of
    the current user) under a name that holds the maskkit version and the arguments.
    """
    from maskkit import io as mkio

    n = n_train + n_val
    root = Path(cache_dir) if cache_dir is not None else mkio.default_cache_dir()
    try:
        demo = mkio.demo_data(
            root, seed=seed, n_diploids=n, length=int(length), val_fraction=n_val / n,
            window_size=min(window, 512),
        )  # fmt: skip
    except OSError as exc:
        raise InputError(
            f"cannot write the demo data cache in {root} ({exc.strerror or exc}); pass "
            "--cache-dir DIR (a folder you can write) or set MASKKIT_CACHE_DIR"
        ) from exc
    store = mkio.open_store(demo.store, verbose=False)
    try:
        haps, pos, names = store.to_numpy(), np.asarray(store.positions), store.samples
    finally:
        store.close()
    split = mkio.read_split(demo.split, samples=names)
    freq = mkio.load_frequencies(demo.freq, n_sites=haps.shape[-1])
    poly = (freq > 0) & (freq < 1)
    tr = np.ascontiguousarray(haps[split.train][..., poly])
    va = np.ascontiguousarray(haps[split.val][..., poly])
    return Data(
        train=Split(tr, np.asarray(names)[split.train]),
        val=Split(va, np.asarray(names)[split.val]),
        positions=pos[poly],
        alt_freq=freq[poly],
        windows=make_windows(int(poly.sum()), window),
        source=f"demo (maskkit.io Out-of-Africa, {tr.shape[0]}+{va.shape[0]} diploids, "
        f"{length / 1e6:g} Mb, seed {seed})",
    )


def load_data(args: Any) -> Data:
    """Load from ``--train``/``--val`` stores (+ optional freq/windows/panel) or the demo data."""
    if args.train is None:
        if args.val is not None:
            raise InputError("--val needs --train (or give neither for the demo data)")
        make = ooa_demo_data if args.demo_model == "ooa" else demo_data
        return make(
            n_train=args.demo_train,
            n_val=args.demo_val,
            length=args.demo_length,
            window=args.window,
            seed=args.data_seed,
            cache_dir=args.cache_dir,
        )
    tr, pos, tr_names = read_store(args.train)
    if args.val is None:
        tr, tr_names, va, va_names = _hold_out(args, tr, tr_names)
    else:
        va, vpos, va_names = read_store(args.val)
        if not np.array_equal(pos, vpos):
            raise InputError(
                f"--train and --val stores have different sites ({args.train}, {args.val})"
            )
        if tr.shape[1] != va.shape[1]:
            raise InputError("--train and --val stores have different ploidy")
        tr, tr_names = _panel_filter(args.train_panel, tr, tr_names)
        va, va_names = _panel_filter(args.val_panel, va, va_names)
    freq = read_freq(args.freq, tr.shape[-1]) if args.freq else alt_freq_of(tr)
    windows = (
        read_windows(args.windows, tr.shape[-1])
        if args.windows
        else make_windows(tr.shape[-1], args.window)
    )
    return Data(
        Split(tr, tr_names), Split(va, va_names), pos, freq, windows, f"{args.train} / {args.val}"
    )


def _hold_out(
    args: Any, haps: np.ndarray, names: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``--train`` without ``--val``: validation samples of the one store, those named by
    ``--val-panel`` or else ``--val-fraction`` of them (seed ``--data-seed``); the rest,
    narrowed by ``--train-panel``, train."""
    from maskkit.io import split_by_population

    if args.val_panel is not None:
        va, va_names = _panel_filter(args.val_panel, haps, names)
    else:
        try:
            part = split_by_population(
                names, ["all"] * len(names), args.val_fraction, seed=args.data_seed
            )
        except ValueError as exc:
            raise InputError(f"--train without --val: {exc}") from exc
        va, va_names = haps[part.val], names[part.val]
    rest = ~np.isin(names, va_names)
    tr, tr_names = _panel_filter(args.train_panel, haps[rest], names[rest])
    if tr.shape[0] == 0:
        raise InputError("--train without --val: no training samples are left")
    return np.ascontiguousarray(tr), tr_names, np.ascontiguousarray(va), va_names


def _panel_filter(
    panel: str | None, haps: np.ndarray, names: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Keep the samples listed in a panel file (first column; a ``sample`` header is allowed)."""
    if panel is None:
        return haps, names
    p = _need(panel, "panel")
    wanted = [ln.split()[0] for ln in p.read_text().splitlines() if ln.strip()]
    keep = np.isin(names, [w for w in wanted if w.lower() != "sample"])
    if not keep.any():
        raise InputError(f"panel {p} names none of the store's samples")
    return np.ascontiguousarray(haps[keep]), names[keep]


def score_windows(windows: np.ndarray, n_sites: int, centre: bool = False) -> list[np.ndarray]:
    """Columns each window scores: a site is scored once, in the first window that holds it,
    or with ``centre=True`` in the window whose centre is nearest (the first on ties), so
    overlapping windows (``--val-stride``, ``impute --stride``) score their middles."""
    if not centre:
        covered = np.zeros(n_sites, dtype=bool)
        out = []
        for s, e in windows:
            out.append(np.flatnonzero(~covered[s:e]))
            covered[s:e] = True
        return out
    centre_of = (windows[:, 0] + windows[:, 1] - 1) / 2.0
    best = np.full(n_sites, -1, dtype=np.int64)
    dist = np.full(n_sites, np.inf)
    for w, (s, e) in enumerate(windows):
        d = np.abs(np.arange(s, e) - centre_of[w])
        better = d < dist[s:e]
        best[s:e][better] = w
        dist[s:e][better] = d[better]
    return [np.flatnonzero(best[s:e] == w) for w, (s, e) in enumerate(windows)]
