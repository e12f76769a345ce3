"""Demo data: msprime simulation of a human-like region, written as a complete dataset.

The demography is the three-population Out-of-Africa model of Gutenkunst et al. (2009).

Nothing is downloaded: the demography is written here with msprime's own API (no stdpopsim).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from ._atomic import atomic_dir
from ._deps import require
from .freq import alt_allele_frequency, maf_spectrum, save_frequencies
from .panel import write_panel
from .split import split_by_population
from .store import HaplotypeStore
from .windows import Windows
from .writer import write_store

__all__ = [
    "DEFAULT_SEED",
    "POPULATIONS",
    "DemoData",
    "default_cache_dir",
    "demo_data",
    "out_of_africa_demography",
    "simulate_demo",
]

#: Seed of the default demo dataset.
DEFAULT_SEED = 20090101
#: Sampled populations of the demo, in sample order.
POPULATIONS = ("YRI", "CEU", "CHB")

_FILES = {
    "store": "haplotypes.h5",
    "panel": "panel.tsv",
    "freq": "freq.npy",
    "windows": "windows.csv",
    "split": "split.tsv",
    "summary": "summary.json",
    "trees": "simulation.trees",
}


def out_of_africa_demography() -> Any:
    """Return the three-population Out-of-Africa model of Gutenkunst et al. (2009).

    Maximum-likelihood parameters of their Table 1 (generation time 25 years): ancestral
    size 7,300, growth to 12,300 at 220 kya; out-of-Africa bottleneck of 2,100 at 140 kya;
    CEU/CHB split at 21.2 kya from 1,000 and 510 founders growing at 0.4% and 0.55% per
    generation; migration YRI-OOA 25e-5, YRI-CEU 3e-5, YRI-CHB 1.9e-5, CEU-CHB 9.6e-5.
    Populations ``YRI``, ``CEU``, ``CHB`` are sampled; ``OOA``, ``AMH``, ``ANC`` are ancestral.

    Returns
    -------
    msprime.Demography

    Examples
    --------
    >>> dem = out_of_africa_demography()
    >>> [p.name for p in dem.populations][:3]
    ['YRI', 'CEU', 'CHB']
    """
    msprime = require("msprime")
    generation_time = 25
    n_a, n_b, n_af = 7300, 2100, 12300
    n_eu0, n_as0 = 1000, 510
    r_eu, r_as = 0.004, 0.0055
    t_af = 220e3 / generation_time
    t_b = 140e3 / generation_time
    t_eu_as = 21.2e3 / generation_time
    n_eu = n_eu0 / math.exp(-r_eu * t_eu_as)
    n_as = n_as0 / math.exp(-r_as * t_eu_as)
    m_af_b, m_af_eu, m_af_as, m_eu_as = 25e-5, 3e-5, 1.9e-5, 9.6e-5

    dem = msprime.Demography()
    dem.add_population(name="YRI", description="African (Yoruba-like)", initial_size=n_af)
    dem.add_population(
        name="CEU", description="European (CEU-like)", initial_size=n_eu, growth_rate=r_eu
    )
    dem.add_population(
        name="CHB", description="East Asian (CHB-like)", initial_size=n_as, growth_rate=r_as
    )
    dem.add_population(name="OOA", description="Out-of-Africa bottleneck", initial_size=n_b)
    dem.add_population(name="AMH", description="Anatomically modern humans", initial_size=n_af)
    dem.add_population(name="ANC", description="Ancestral equilibrium", initial_size=n_a)
    dem.set_symmetric_migration_rate(["CEU", "CHB"], m_eu_as)
    dem.set_symmetric_migration_rate(["YRI", "CHB"], m_af_as)
    dem.set_symmetric_migration_rate(["YRI", "CEU"], m_af_eu)
    dem.add_population_split(time=t_eu_as, derived=["CEU", "CHB"], ancestral="OOA")
    dem.add_symmetric_migration_rate_change(time=t_eu_as, populations=["YRI", "OOA"], rate=m_af_b)
    dem.add_population_split(time=t_b, derived=["YRI", "OOA"], ancestral="AMH")
    dem.add_population_split(time=t_af, derived=["AMH"], ancestral="ANC")
    dem.sort_events()
    return dem


@dataclasses.dataclass(frozen=True)
class DemoData:
    """Paths of a demo dataset directory (see `simulate_demo` for the layout).

    Examples
    --------
    >>> import pathlib, shutil, tempfile
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> demo = simulate_demo(tmp / "dd", n_diploids=6, length=20_000, seed=5, verbose=False)
    >>> demo.store.name, demo.summary()["n_diploids"]
    ('haplotypes.h5', 6)
    >>> shutil.rmtree(tmp)
    """

    outdir: Path

    @property
    def store(self) -> Path:
        """The HDF5 haplotype store (scikit-allel layout)."""
        return self.outdir / _FILES["store"]

    @property
    def panel(self) -> Path:
        """``sample<TAB>population`` panel."""
        return self.outdir / _FILES["panel"]

    @property
    def freq(self) -> Path:
        """Alt-allele frequency per site (``.npy``), from the training samples only."""
        return self.outdir / _FILES["freq"]

    @property
    def windows(self) -> Path:
        """``start,stop`` windows CSV."""
        return self.outdir / _FILES["windows"]

    @property
    def split(self) -> Path:
        """``sample<TAB>population<TAB>train|val`` split."""
        return self.outdir / _FILES["split"]

    @property
    def summary_path(self) -> Path:
        """``summary.json``."""
        return self.outdir / _FILES["summary"]

    @property
    def trees(self) -> Path:
        """The simulated tskit tree sequence (biallelic sites only)."""
        return self.outdir / _FILES["trees"]

    def summary(self) -> dict[str, Any]:
        """Return the parsed ``summary.json``."""
        result: dict[str, Any] = json.loads(self.summary_path.read_text(encoding="utf-8"))
        return result

    def open_store(self, **kwargs: Any) -> HaplotypeStore:
        """Open the haplotype store (keyword arguments go to `HaplotypeStore`)."""
        return HaplotypeStore(self.store, **kwargs)

    def write_vcf(self, path: str | os.PathLike[str], *, contig: str = "1") -> Path:
        """Write the simulated genotypes as a phased VCF with tskit (1-based positions).

        Examples
        --------
        >>> import pathlib, shutil, tempfile
        >>> tmp = pathlib.Path(tempfile.mkdtemp())
        >>> demo = simulate_demo(tmp / "vc", n_diploids=6, length=20_000, seed=5, verbose=False)
        >>> demo.write_vcf(tmp / "vc.vcf").read_text().startswith("##fileformat=VCF")
        True
        >>> shutil.rmtree(tmp)
        """
        tskit = require("tskit")
        ts = tskit.load(self.trees)
        names = HaplotypeStore(self.store, verbose=False).samples.tolist()
        path = Path(path)
        with open(path, "w", encoding="utf-8") as fh:
            ts.write_vcf(
                fh,
                contig_id=contig,
                individual_names=names,
                position_transform=lambda p: np.asarray(p, dtype=np.int64) + 1,
            )
        return path


def _check_int(value: Any, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def simulate_demo(
    outdir: str | os.PathLike[str],
    n_diploids: int = 1000,
    length: int = 1_500_000,
    *,
    seed: int = DEFAULT_SEED,
    mutation_rate: float = 1.29e-8,
    recombination_rate: float = 1e-8,
    window_size: int = 512,
    window_stride: int | None = None,
    val_fraction: float = 0.1,
    overwrite: bool = False,
    verbose: bool = False,
) -> DemoData:
    """Simulate an Out-of-Africa region with msprime and write a complete demo dataset.

    ``n_diploids`` are split evenly over YRI, CEU and CHB (remainder to the first). Only
    sites with exactly one mutation are kept, so every site is a biallelic SNV
    (ancestral = REF = 0, derived = ALT = 1), sorted by position. Everything is a function
    of the arguments: the same seed gives the same files. The directory is written under a
    temporary name and renamed into place when complete.

    Layout of ``outdir``:

        haplotypes.h5     calldata/GT int8 (sites, samples, 2), variants/POS (1-based),
                          variants/REF, variants/ALT, samples
        panel.tsv         sample<TAB>population
        split.tsv         sample<TAB>population<TAB>train|val (stratified by population)
        freq.npy          float64 alt-allele frequency per site, training samples only
        windows.csv       start,stop site indices (fixed size/stride)
        summary.json      parameters, counts and the MAF spectrum (also printed)
        simulation.trees  the tskit tree sequence (for VCF export and checks)

    Parameters
    ----------
    outdir
        Directory to create; its parent must exist.
    n_diploids
        Diploid individuals in total (at least 3).
    length
        Sequence length in base pairs.
    seed
        Seed for ancestry, mutations and the split.
    mutation_rate
        Per base pair per generation.
    recombination_rate
        Per base pair per generation.
    window_size
        Window length in sites (see [`Windows.fixed`][maskkit.io.windows.Windows.fixed]).
    window_stride
        Step between window starts in sites; by default the window length.
    val_fraction
        Fraction of each population held out for validation.
    overwrite
        Replace an existing ``outdir``.
    verbose
        Print the summary.

    Returns
    -------
    DemoData
        Paths of the written files.

    Examples
    --------
    >>> import pathlib, shutil, tempfile
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> demo = simulate_demo(tmp / "sim", n_diploids=9, length=30_000, seed=1, verbose=False)
    >>> sorted(p.name for p in demo.outdir.iterdir())[:3]
    ['freq.npy', 'haplotypes.h5', 'panel.tsv']
    >>> shutil.rmtree(tmp)
    """
    msprime = require("msprime")
    n_diploids = _check_int(n_diploids, "n_diploids", 3)
    length = _check_int(length, "length", 1)
    seed = _check_int(seed, "seed", 1)
    window_size = _check_int(window_size, "window_size", 1)
    t0 = time.perf_counter()

    counts = [n_diploids // 3 + (i < n_diploids % 3) for i in range(3)]
    ts = msprime.sim_ancestry(
        samples={pop: k for pop, k in zip(POPULATIONS, counts)},
        demography=out_of_africa_demography(),
        sequence_length=length,
        recombination_rate=recombination_rate,
        ploidy=2,
        random_seed=seed,
    )
    ts = msprime.sim_mutations(ts, rate=mutation_rate, random_seed=seed, discrete_genome=True)
    # Keep sites with exactly one mutation: biallelic, REF = ancestral, ALT = derived.
    n_muts = np.bincount(ts.tables.mutations.site, minlength=ts.num_sites)
    ts = ts.delete_sites(np.flatnonzero(n_muts != 1))
    n_sites = int(ts.num_sites)
    if n_sites == 0:
        raise ValueError(
            f"the simulation produced no sites (length={length}, mutation_rate="
            f"{mutation_rate}); use a longer region or a higher mutation rate"
        )

    pop_names = [
        ts.population(i).metadata.get("name", str(i))
        if isinstance(ts.population(i).metadata, dict)
        else str(i)
        for i in range(ts.num_populations)
    ]
    sample_col = {int(u): j for j, u in enumerate(ts.samples())}
    names: list[str] = []
    pops: list[str] = []
    per_pop: dict[str, int] = {}
    hap_cols: list[int] = []
    for ind in ts.individuals():
        pop = pop_names[ts.node(ind.nodes[0]).population]
        per_pop[pop] = per_pop.get(pop, 0) + 1
        names.append(f"{pop}{per_pop[pop]:04d}")
        pops.append(pop)
        hap_cols.extend(sample_col[int(u)] for u in ind.nodes)
    g = ts.genotype_matrix().astype(np.int8)[:, hap_cols]  # (sites, 2n)
    gt = g.reshape(ts.num_sites, n_diploids, 2)
    pos = ts.tables.sites.position.astype(np.int64) + 1
    ref = [s.ancestral_state for s in ts.sites()]
    alt = [s.mutations[0].derived_state for s in ts.sites()]
    haps = np.ascontiguousarray(gt.transpose(1, 2, 0))  # (samples, ploidy, sites)

    split = split_by_population(names, pops, val_fraction, seed=seed)
    freq = alt_allele_frequency(haps, split.train)
    windows = Windows.fixed(n_sites, window_size, window_stride)

    from .._version import __version__

    summary: dict[str, Any] = {
        "model": "Out-of-Africa, three populations (Gutenkunst et al. 2009), msprime",
        "maskkit_version": __version__,
        "msprime_version": msprime.__version__,
        "seed": seed,
        "n_diploids": n_diploids,
        "populations": {p: per_pop.get(p, 0) for p in POPULATIONS},
        "length": length,
        "mutation_rate": mutation_rate,
        "recombination_rate": recombination_rate,
        "n_sites": n_sites,
        "n_train": int(split.train.size),
        "n_val": int(split.val.size),
        "window_size": window_size,
        "window_stride": window_size if window_stride is None else int(window_stride),
        "n_windows": len(windows),
        "maf_spectrum_train": maf_spectrum(freq),
        "files": dict(_FILES),
    }
    target = Path(outdir)
    with atomic_dir(target, overwrite=overwrite, flag="overwrite=True (CLI: --force)") as tmp:
        write_store(
            tmp / _FILES["store"],
            haps,
            positions=pos,
            samples=names,
            ref=ref,
            alt=alt,
            phased=True,
            attrs={"source": "msprime", "seed": seed},
        )
        write_panel(tmp / _FILES["panel"], names, pops)
        split.write_tsv(tmp / _FILES["split"])
        save_frequencies(tmp / _FILES["freq"], freq)
        windows.to_csv(tmp / _FILES["windows"])
        ts.dump(tmp / _FILES["trees"])
        (tmp / _FILES["summary"]).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    if verbose:
        print(format_summary(summary, target, time.perf_counter() - t0), file=sys.stderr)
    return DemoData(target)


def format_summary(summary: dict[str, Any], outdir: Path, seconds: float | None = None) -> str:
    """Return the human-readable summary printed by `simulate_demo`."""
    spec = summary["maf_spectrum_train"]
    total = max(1, sum(spec.values()))
    lines = [
        f"maskkit demo data in {outdir}"
        + (f" (simulated in {seconds:.1f} s)" if seconds is not None else ""),
        f"  samples: {summary['n_diploids']} diploids "
        + ", ".join(f"{k}={v}" for k, v in summary["populations"].items())
        + f"; split train={summary['n_train']} val={summary['n_val']}",
        f"  sites:   {summary['n_sites']} biallelic SNVs over {summary['length']:,} bp; "
        f"{summary['n_windows']} windows of {summary['window_size']} sites",
        "  MAF (training samples): "
        + ", ".join(f"{k}: {v} ({100 * v / total:.0f}%)" for k, v in spec.items()),
    ]
    return "\n".join(lines)


def default_cache_dir() -> Path:
    """Return the folder where maskkit caches simulated data when no folder is given.

    ``$MASKKIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/maskkit``, else ``~/.cache/maskkit``: a
    folder of the current user, so a cache is never shared with (or planted by) another user,
    as one in the system's temporary folder would be. The folder is not created here.

    Examples
    --------
    >>> import os
    >>> saved = dict(os.environ)
    >>> os.environ["MASKKIT_CACHE_DIR"] = "/data/cache"
    >>> str(default_cache_dir())
    '/data/cache'
    >>> os.environ.clear(); os.environ.update(saved)
    """
    env = os.environ.get("MASKKIT_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "maskkit"


def demo_data(
    cache_dir: str | os.PathLike[str] | None = None,
    *,
    seed: int = DEFAULT_SEED,
    n_diploids: int = 1000,
    length: int = 1_500_000,
    val_fraction: float = 0.1,
    window_size: int = 512,
    verbose: bool = False,
) -> DemoData:
    """Return a demo dataset (`simulate_demo`), simulating it once into a cache when absent.

    The default dataset lives in ``<cache_dir>/demo-<maskkit version>-seed<seed>``; other sizes
    in ``<cache_dir>/demo-<maskkit version>-n<n_diploids>-len<length>-val<val_fraction>-
    win<window_size>-seed<seed>``, so a cache written by another version or with other
    arguments is never read. ``cache_dir`` defaults to
    [`default_cache_dir`][maskkit.io.simulate.default_cache_dir] (``$MASKKIT_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/maskkit``, else ``~/.cache/maskkit``). Concurrent callers are safe: the
    directory appears atomically and a caller that loses the race uses the winner's copy.

    Parameters
    ----------
    cache_dir
        Folder holding the cached datasets (created when absent).
    seed
        As for [`simulate_demo`][maskkit.io.simulate.simulate_demo].
    n_diploids
        As for [`simulate_demo`][maskkit.io.simulate.simulate_demo].
    length
        As for [`simulate_demo`][maskkit.io.simulate.simulate_demo].
    val_fraction
        As for [`simulate_demo`][maskkit.io.simulate.simulate_demo].
    window_size
        As for [`simulate_demo`][maskkit.io.simulate.simulate_demo].
    verbose
        Print the summary when simulating.

    Returns
    -------
    DemoData
        Paths of the cached files.

    Examples
    --------
    >>> import pathlib, shutil, tempfile
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> demo = demo_data(tmp / "cache", verbose=False)  # simulates once (about a second)
    >>> demo_data(tmp / "cache") == demo  # cached: returns at once
    True
    >>> demo.open_store().n_samples
    1000
    >>> small = demo_data(tmp / "cache", n_diploids=12, length=20_000, val_fraction=0.25)
    >>> small.outdir.name.endswith("-n12-len20000-val0.25-win512-seed20090101")
    True
    >>> shutil.rmtree(tmp)
    """
    from .._version import __version__

    sizes = (n_diploids, length, val_fraction, window_size)
    tag = "" if sizes == (1000, 1_500_000, 0.1, 512) else (
        f"-n{n_diploids}-len{length}-val{val_fraction!r}-win{window_size}"
    )  # fmt: skip
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    target = root / f"demo-{__version__}{tag}-seed{seed}"
    demo = DemoData(target)
    if demo.summary_path.is_file():
        return demo
    try:
        return simulate_demo(
            target, n_diploids, length, seed=seed, val_fraction=val_fraction,
            window_size=window_size, verbose=verbose,
        )  # fmt: skip
    except FileExistsError:
        if demo.summary_path.is_file():
            return demo
        raise
