"""One opener for every store: `open_store` picks HDF5 or VCF Zarr from the path.

It sits above both store modules (``store`` and ``vcz``), which never import it or each other's
private helpers.
"""

from __future__ import annotations

import os
from typing import Any

from .store import HaplotypeStore
from .vcz import VcfZarrStore, is_vcz

__all__ = ["open_store"]


_FORMATS = ("hdf5", "vcz")


def open_store(
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    contig: str | None = None,
    storage_options: dict[str, Any] | None = None,
    backend: str = "fsspec",
    in_memory: bool = False,
    verbose: bool = False,
) -> HaplotypeStore:
    """Open a haplotype store: an HDF5 file (scikit-allel layout) or a VCF Zarr store.

    Both give the [`HaplotypeStore`][maskkit.io.store.HaplotypeStore] interface. The format is
    ``format`` when given, else ``"vcz"`` ([`VcfZarrStore`][maskkit.io.vcz.VcfZarrStore]) for a
    directory, a ``.vcz`` / ``.zarr`` / ``.zip`` path or a URL, else ``"hdf5"``.

    Parameters
    ----------
    path
        The store.
    format
        ``"hdf5"`` or ``"vcz"``; default: from ``path``.
    contig
        VCF Zarr only: the contig to serve, when the store holds several.
    storage_options
        VCF Zarr at a URL only: options of its fsspec filesystem (e.g. credentials).
    backend
        VCF Zarr at a URL only: ``"fsspec"`` (default) or ``"obstore"`` (``s3://``); see
        [`VcfZarrStore`][maskkit.io.vcz.VcfZarrStore].
    in_memory
        See [`HaplotypeStore`][maskkit.io.store.HaplotypeStore].
    verbose
        See [`HaplotypeStore`][maskkit.io.store.HaplotypeStore].

    Examples
    --------
    >>> import pathlib, shutil, tempfile
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> from maskkit import io
    >>> demo = io.simulate_demo(tmp / "os", 6, 20_000, seed=2, verbose=False)
    >>> io.open_store(demo.store, in_memory=True, verbose=False).n_samples
    6
    >>> shutil.rmtree(tmp)
    """
    if format is None:
        format = "vcz" if is_vcz(path) else "hdf5"
    if format not in _FORMATS:
        raise ValueError(
            f"format must be one of {_FORMATS} or None (from the path), got {format!r}"
        )
    if format == "vcz":
        return VcfZarrStore(
            path,
            contig=contig,
            storage_options=storage_options,
            backend=backend,
            in_memory=in_memory,
            verbose=verbose,
        )
    if contig is not None or storage_options is not None or backend != "fsspec":
        raise ValueError(
            "contig, storage_options and backend apply to VCF Zarr stores; an HDF5 store holds one "
            "contig on a local path (open it without them)"
        )
    return HaplotypeStore(path, in_memory=in_memory, verbose=verbose)
