"""String decoding shared by the stores: sample, contig and allele names as Python ``str``.

HDF5 and Zarr hand strings back as bytes, numpy unicode or objects depending on how the file
was written; both stores decode them here, so neither imports the other.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._errors import StoreFormatError

__all__ = ["decode_strings", "sample_names"]


def decode_strings(values: np.ndarray) -> np.ndarray:
    """Return an object array of Python ``str`` from bytes, object or unicode strings.

    Examples
    --------
    >>> decode_strings(np.array([b"HG01", b"HG02"])).tolist()
    ['HG01', 'HG02']
    """
    out = [v.decode() if isinstance(v, (bytes, np.bytes_)) else str(v) for v in values.tolist()]
    return np.asarray(out, dtype=object)


def sample_names(raw: Any, n_samples: int, where: str, gt: str) -> np.ndarray:
    """Return decoded sample names (``sample0``, ... when ``raw`` is None), one per column.

    ``where`` names the names' array and ``gt`` the genotype array, for the message when
    their lengths disagree ([`StoreFormatError`][maskkit.io._names.StoreFormatError]).

    Examples
    --------
    >>> sample_names(None, 2, "samples", "calldata/GT").tolist()
    ['sample0', 'sample1']
    """
    if raw is None:
        return np.asarray([f"sample{i}" for i in range(n_samples)], dtype=object)
    raw = np.asarray(raw)
    if raw.ndim != 1:
        raise StoreFormatError(f"{where} must be 1-D (one name per sample), got shape {raw.shape}")
    samples = decode_strings(raw)
    if samples.shape != (n_samples,):
        raise StoreFormatError(
            f"{where} has {samples.shape[0]} names but {gt} has {n_samples} samples"
        )
    return samples
