"""Write haplotype arrays held in memory to an HDF5 store in scikit-allel's layout."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._narrow import narrow
from ._atomic import atomic_file
from ._deps import require
from .store import GT_PATH, POS_PATH, SAMPLES_PATH

__all__ = ["write_store"]

_INT8_MAX = 127
_INT32_MAX = 2**31 - 1


def _genotypes(genotypes: Any, n_positions: int | None) -> np.ndarray:
    g = np.asarray(genotypes)
    if g.dtype == np.bool_ or not np.issubdtype(g.dtype, np.integer):
        raise TypeError(
            f"genotypes must be integer allele indices (0 = ref, 1.. = alt, negative = "
            f"missing), got dtype {g.dtype}; cast with genotypes.astype(np.int8) if the "
            "values are whole numbers"
        )
    if g.ndim != 3:
        hint = " (haploid data: pass genotypes[:, None, :])" if g.ndim == 2 else ""
        raise ValueError(
            f"genotypes must be 3-D (samples, ploidy, sites), got shape {g.shape}{hint}"
        )
    n, ploidy, n_sites = g.shape
    if n == 0 or ploidy == 0 or n_sites == 0:
        raise ValueError(
            f"genotypes has shape {g.shape} (samples, ploidy, sites): a store needs at "
            "least one sample, one haplotype and one site"
        )
    if n_positions is not None and n_positions != n_sites:
        hint = (
            "; it looks like scikit-allel's (variants, samples, ploidy) order: pass "
            "genotypes.transpose(1, 2, 0)"
            if g.shape[0] == n_positions
            else ""
        )
        raise ValueError(
            f"positions has {n_positions} entries but genotypes (samples, ploidy, sites) has "
            f"{n_sites} sites (shape {g.shape}){hint}"
        )
    high = int(g.max())
    if high > _INT8_MAX:
        where = np.argwhere(g == high)[0]
        raise ValueError(
            f"genotypes holds allele index {high} at (sample, haplotype, site) = "
            f"{tuple(int(x) for x in where)}; an int8 store holds allele indices up to "
            f"{_INT8_MAX}: split multi-allelic sites (`bcftools norm -m-`) or drop that site"
        )
    return g


def _positions(positions: Any) -> np.ndarray:
    pos = np.asarray(positions)
    if pos.dtype == np.bool_ or not np.issubdtype(pos.dtype, np.integer):
        raise TypeError(f"positions must be integer 1-based site positions, got dtype {pos.dtype}")
    if pos.ndim != 1:
        raise ValueError(f"positions must be 1-D (one per site), got shape {pos.shape}")
    pos = narrow(pos, np.int64, "positions", fix="positions are 1-based and fit int64")
    if pos.size and int(pos.min()) < 1:
        raise ValueError(
            f"positions must be 1-based (>= 1), got minimum {int(pos.min())}; add 1 to "
            "0-based coordinates"
        )
    if pos.size > 1:
        bad = np.flatnonzero(np.diff(pos) < 0)
        if bad.size:
            i = int(bad[0])
            raise ValueError(
                f"positions must be sorted (non-decreasing): positions[{i}] = {int(pos[i])} "
                f"> positions[{i + 1}] = {int(pos[i + 1])}; sort the sites (and genotypes) "
                "by position first"
            )
    dtype = np.int32 if pos.size == 0 or int(pos.max()) <= _INT32_MAX else np.int64
    return pos.astype(dtype)


def _strings(values: Any, n: int, name: str, what: str) -> list[str]:
    arr = np.asarray(values, dtype=object)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"{name} must be 1-D with one entry per {what} ({n}), got {arr.shape}")
    out: list[str] = []
    for i, v in enumerate(arr.tolist()):
        s = v.decode() if isinstance(v, bytes) else v
        if not isinstance(s, str) or not s:
            raise ValueError(f"{name}[{i}] must be a non-empty string, got {v!r}")
        out.append(s)
    return out


def _alleles(values: Any, n_sites: int, name: str) -> np.ndarray:
    alleles = _strings(values, n_sites, name, "site")
    bad = [a for a in alleles if not a.isascii()]
    if bad:
        raise ValueError(f"{name} must be ASCII allele strings, got {bad[0]!r}")
    return np.asarray([a.encode() for a in alleles])


def write_store(
    path: str | os.PathLike[str],
    genotypes: Any,
    *,
    positions: Any,
    samples: Sequence[str] | np.ndarray | None = None,
    ref: Sequence[str] | np.ndarray | None = None,
    alt: Sequence[str] | np.ndarray | None = None,
    phased: bool | None = None,
    attrs: Mapping[str, Any] | None = None,
    overwrite: bool = False,
    chunk_sites: int = 1024,
    compression: str | None = "gzip",
) -> Path:
    """Write haplotypes ``(samples, ploidy, sites)`` to an HDF5 store in scikit-allel's layout.

    The file holds ``calldata/GT`` int8 ``(variants, samples, ploidy)``, ``variants/POS``,
    ``samples`` (and ``variants/REF`` / ``variants/ALT`` when given), so
    [`open_store`][maskkit.io.open_store] and scikit-allel read it. Every value is checked before
    anything is written: allele indices above 127 are refused (never wrapped into int8); negative
    values are stored as ``-1`` (missing). The file is written under a temporary name and renamed
    onto ``path`` only when complete, so a reader never sees a half-written store.

    Parameters
    ----------
    path
        Output ``.h5`` file; its directory must exist.
    genotypes
        Integer allele indices ``(samples, ploidy, sites)``, maskkit's order (what
        [`HaplotypeStore.to_numpy`][maskkit.io.HaplotypeStore.to_numpy] returns). For scikit-allel's
        ``(variants, samples, ploidy)`` pass ``g.transpose(1, 2, 0)``.
    positions
        1-based site positions, one per site, sorted (non-decreasing).
    samples
        Unique sample names; default ``sample0``, ``sample1``, ...
    ref
        Optional REF and ALT allele strings, one per site (both or neither).
    alt
        Optional REF and ALT allele strings, one per site (both or neither).
    phased
        Whether every call is phased; stored as the root attribute ``phased`` (read back as
        [`HaplotypeStore.phased`][maskkit.io.HaplotypeStore.phased]). ``None`` records nothing.
    attrs
        Extra root attributes (numbers or strings), e.g. the data's source.
    overwrite
        Replace an existing ``path``.
    chunk_sites
        Chunk length along the sites axis (also the number of sites transposed at a time).
    compression
        h5py compression filter for ``calldata/GT`` (``None`` for none).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    TypeError
        ``genotypes`` or ``positions`` is not an integer array.
    ValueError
        A shape, position, name or allele index is invalid (the message names which).
    FileExistsError
        ``path`` exists and ``overwrite`` is false.

    Examples
    --------
    >>> import pathlib, shutil, tempfile
    >>> import numpy as np
    >>> from maskkit import io
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> haps = np.array([[[0, 1, -1], [1, 1, 0]]], dtype=np.int8)  # 1 sample, 2 haplotypes
    >>> path = io.write_store(tmp / "a.h5", haps, positions=[10, 20, 30], samples=["NA1"])
    >>> store = io.open_store(path)
    >>> store.samples.tolist(), store.positions.tolist()
    (['NA1'], [10, 20, 30])
    >>> np.array_equal(store.to_numpy(), haps)
    True
    >>> shutil.rmtree(tmp)
    """
    pos = _positions(positions)
    g = _genotypes(genotypes, pos.shape[0])
    n, ploidy, n_sites = g.shape
    names = (
        [f"sample{i}" for i in range(n)]
        if samples is None
        else _strings(samples, n, "samples", "sample")
    )
    if len(set(names)) != len(names):
        dup = next(s for s in names if names.count(s) > 1)
        raise ValueError(f"samples must be unique, {dup!r} appears more than once")
    if (ref is None) != (alt is None):
        raise ValueError("pass both ref and alt, or neither")
    alleles = (
        None if ref is None else (_alleles(ref, n_sites, "ref"), _alleles(alt, n_sites, "alt"))
    )
    if isinstance(chunk_sites, bool) or not isinstance(chunk_sites, (int, np.integer)):
        raise TypeError(f"chunk_sites must be an integer, got {chunk_sites!r}")
    if chunk_sites < 1:
        raise ValueError(f"chunk_sites must be >= 1, got {chunk_sites}")
    h5py = require("h5py")
    chunk = int(min(chunk_sites, n_sites))
    with atomic_file(path, overwrite=overwrite) as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset(
            SAMPLES_PATH, data=np.asarray(names, dtype=object), dtype=h5py.string_dtype()
        )
        gt = f.create_dataset(
            GT_PATH,
            shape=(n_sites, n, ploidy),
            dtype=np.int8,
            chunks=(chunk, min(n, 256), ploidy),
            compression=compression,
        )
        for lo in range(0, n_sites, chunk):
            block = g[:, :, lo : lo + chunk].transpose(2, 0, 1)
            gt[lo : lo + block.shape[0]] = np.where(block < 0, -1, block).astype(np.int8)
        f.create_dataset(POS_PATH, data=pos)
        if alleles is not None:
            f.create_dataset("variants/REF", data=alleles[0])
            f.create_dataset("variants/ALT", data=alleles[1])
        if phased is not None:
            f.attrs["phased"] = bool(phased)
        for key, value in (attrs or {}).items():
            f.attrs[key] = value
    return Path(path)
