"""Haplotype data: HDF5 and VCF Zarr stores, VCF conversion, demo simulation and side files.

h5py, zarr, cyvcf2, msprime and tskit are imported only when a function needs them; a missing
one raises ImportError naming the extra to install (``pip install "maskkit[h5]"``, ``[zarr]``,
``[vcf]``, ``[sim]``).

Examples
--------
>>> import pathlib, shutil, tempfile
>>> tmp = pathlib.Path(tempfile.mkdtemp())
>>> from maskkit import io
>>> demo = io.simulate_demo(tmp / "pkg", n_diploids=9, length=30_000, seed=7, verbose=False)
>>> store = io.open_store(demo.store)
>>> split = io.read_split(demo.split, samples=store.samples)
>>> windows = io.Windows.from_csv(demo.windows).validate(store)
>>> store.read(split.train[:4], *windows[0]).shape[:2]
(4, 2)
>>> shutil.rmtree(tmp)
"""

from __future__ import annotations

from ._errors import (
    DataError,
    PloidyError,
    SplitError,
    StoreFormatError,
    VCFFormatError,
    WindowError,
)
from .freq import (
    DEFAULT_MAF_EDGES,
    alt_allele_frequency,
    load_frequencies,
    maf,
    maf_bins,
    maf_spectrum,
    save_frequencies,
)
from .memory import ArrayStore
from .opener import open_store
from .order import chunk_order, item_blocks, order_stats, store_chunks
from .panel import Panel, read_panel, write_panel
from .simulate import (
    DemoData,
    default_cache_dir,
    demo_data,
    out_of_africa_demography,
    simulate_demo,
)
from .split import Split, read_split, split_by_population
from .store import HaplotypeStore
from .vcf import ConvertStats, vcf_to_hdf5
from .vcz import VcfZarrStore
from .windows import Windows
from .writer import write_store

__all__ = [
    "DEFAULT_MAF_EDGES",
    "ArrayStore",
    "ConvertStats",
    "DataError",
    "DemoData",
    "HaplotypeStore",
    "Panel",
    "PloidyError",
    "Split",
    "SplitError",
    "StoreFormatError",
    "VCFFormatError",
    "VcfZarrStore",
    "WindowError",
    "Windows",
    "alt_allele_frequency",
    "chunk_order",
    "default_cache_dir",
    "demo_data",
    "item_blocks",
    "load_frequencies",
    "maf",
    "maf_bins",
    "maf_spectrum",
    "open_store",
    "order_stats",
    "out_of_africa_demography",
    "read_panel",
    "read_split",
    "save_frequencies",
    "simulate_demo",
    "split_by_population",
    "store_chunks",
    "vcf_to_hdf5",
    "write_panel",
    "write_store",
]
