"""Per-site alternate-allele frequency and minor-allele-frequency (MAF) bins."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import freq as _freq
from ._atomic import atomic_file
from ._errors import DataError
from .store import HaplotypeStore

__all__ = [
    "DEFAULT_MAF_EDGES",
    "alt_allele_frequency",
    "load_frequencies",
    "maf",
    "maf_bins",
    "maf_spectrum",
    "save_frequencies",
]

#: MAF bin edges ``(0.01, 0.05)`` (:data:`maskkit.freq.DEFAULT_EDGES`).
DEFAULT_MAF_EDGES: tuple[float, ...] = _freq.DEFAULT_EDGES


def _counts(haps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    called = haps >= 0
    alt = (haps > 0).sum(axis=(0, 1))
    return alt, called.sum(axis=(0, 1))


def alt_allele_frequency(
    data: HaplotypeStore | np.ndarray,
    samples: Sequence[int] | np.ndarray | None = None,
    *,
    chunk_sites: int = 8192,
) -> np.ndarray:
    """Return the per-site alternate-allele frequency over ``samples`` (float64).

    Frequency = alt calls (allele >= 1) / called alleles (allele >= 0); sites with no called
    allele among ``samples`` are NaN. Pass the training samples so validation data does not
    leak into frequencies used for masking or MAF bins.

    Parameters
    ----------
    data
        A [`HaplotypeStore`][maskkit.io.freq.HaplotypeStore] (read in chunks of ``chunk_sites``) or
        an array ``(samples, ploidy, sites)``.
    samples
        Sample indices to count (default: all).

    Examples
    --------
    >>> haps = np.array([[[0, 1, -1]], [[1, 1, -1]]], dtype=np.int8)
    >>> alt_allele_frequency(haps).tolist()
    [0.5, 1.0, nan]
    """
    if isinstance(data, HaplotypeStore):
        idx = np.arange(data.n_samples) if samples is None else np.asarray(samples)
        if idx.size == 0:
            raise DataError("samples is empty; pass at least one sample to count frequencies")
        alt = np.zeros(data.n_sites, dtype=np.int64)
        called = np.zeros(data.n_sites, dtype=np.int64)
        for lo in range(0, data.n_sites, chunk_sites):
            hi = min(data.n_sites, lo + chunk_sites)
            a, c = _counts(data.read(idx, lo, hi))
            alt[lo:hi] = a
            called[lo:hi] = c
    else:
        arr = np.asarray(data)
        if arr.ndim != 3 or not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(
                f"data must be an integer array (samples, ploidy, sites), got {arr.dtype} "
                f"{arr.shape}"
            )
        if samples is not None:
            arr = arr[np.asarray(samples)]
        if arr.shape[0] == 0:
            raise DataError("samples is empty; pass at least one sample to count frequencies")
        alt, called = _counts(arr)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(called > 0, alt / np.maximum(called, 1), np.nan)


def maf(freq: Any) -> np.ndarray:
    """Return the minor-allele frequency ``min(f, 1 - f)`` ([`maskkit.freq.maf`][]).

    Examples
    --------
    >>> maf([0.1, 0.9, 0.5]).round(2).tolist()
    [0.1, 0.1, 0.5]
    """
    return _freq.maf(freq)


def maf_bins(freq: Any, edges: Sequence[float] = DEFAULT_MAF_EDGES) -> np.ndarray:
    """Return the MAF bin (int32) of each site ([`maskkit.freq.maf_bins`][]).

    ``k`` means ``edges[k-1] <= MAF < edges[k]``; with the default edges 0 = MAF < 0.01,
    1 = 0.01-0.05, 2 = >= 0.05. NaN frequencies (no calls) get bin -1.

    Parameters
    ----------
    freq : array of float, shape (sites,)
        Alt-allele frequencies in [0, 1]; NaN for sites without calls.
    edges : sequence of float
        Increasing MAF bin edges.

    Examples
    --------
    >>> maf_bins([0.001, 0.02, 0.3, 0.995, float("nan")]).tolist()
    [0, 1, 2, 0, -1]
    """
    return _freq.maf_bins(freq, edges)


def maf_spectrum(freq: Any, edges: Sequence[float] = DEFAULT_MAF_EDGES) -> dict[str, int]:
    """Return the number of sites per MAF bin, keyed by [`maskkit.freq.bin_labels`][].

    Sites without calls (NaN) are counted under ``"no calls"`` when there are any.

    Parameters
    ----------
    freq : array of float, shape (sites,)
        Alt-allele frequencies in [0, 1]; NaN for sites without calls.
    edges : sequence of float
        Increasing MAF bin edges.

    Examples
    --------
    >>> maf_spectrum([0.001, 0.02, 0.3, 0.7])
    {'maf<0.01': 1, '0.01<=maf<0.05': 1, 'maf>=0.05': 2}
    """
    b = maf_bins(freq, edges)
    out = {label: int((b == k).sum()) for k, label in enumerate(_freq.bin_labels(edges))}
    if (b < 0).any():
        out["no calls"] = int((b < 0).sum())
    return out


def save_frequencies(path: str | os.PathLike[str], freq: Any, *, overwrite: bool = True) -> Path:
    """Save frequencies as a float64 ``.npy`` file, atomically.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.npy`` file to write.
    freq : array of float, shape (sites,)
        The frequencies.
    overwrite : bool
        Replace an existing file; without it an existing ``path`` raises ``FileExistsError``.

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> import pathlib, shutil, tempfile
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> p = save_frequencies(tmp / "freq.npy", [0.1, 0.2])
    >>> load_frequencies(p).tolist()
    [0.1, 0.2]
    >>> shutil.rmtree(tmp)
    """
    arr = np.asarray(freq, dtype=np.float64)
    with atomic_file(path, overwrite=overwrite) as tmp, open(tmp, "wb") as fh:
        np.save(fh, arr)
    return Path(path)


def load_frequencies(path: str | os.PathLike[str], *, n_sites: int | None = None) -> np.ndarray:
    """Load a frequency ``.npy`` file; check it has ``n_sites`` entries when given.

    Parameters
    ----------
    path : str or os.PathLike
        A 1-D ``.npy`` file, as [save_frequencies][maskkit.io.save_frequencies] writes it.
    n_sites : int, optional
        The number of sites of the store the frequencies are for.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    DataError
        The file is not 1-D, or does not have ``n_sites`` entries.

    Examples
    --------
    >>> import pathlib, shutil, tempfile
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> p = save_frequencies(tmp / "f.npy", [0.5])
    >>> load_frequencies(p, n_sites=1).tolist()
    [0.5]
    >>> shutil.rmtree(tmp)
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"frequency file {path} does not exist; compute it with "
            "maskkit.io.alt_allele_frequency(store, train_samples) and save_frequencies()"
        )
    arr = np.load(path, allow_pickle=False)
    if arr.ndim != 1 or (n_sites is not None and arr.shape[0] != n_sites):
        raise DataError(
            f"{path} holds frequencies of shape {arr.shape}, expected ({n_sites},) - one per "
            "site of the store; recompute it for this store"
        )
    return arr
