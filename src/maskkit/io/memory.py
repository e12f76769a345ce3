"""Haplotypes held in memory, served like a store: the in-memory path of the adapters."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._errors import WindowError

__all__ = ["ArrayStore"]


class ArrayStore:
    """A ``(samples, ploidy, sites)`` allele array with the reading interface of a store.

    [`maskkit.torch.HaplotypeDataset`][] takes it (or the bare array) wherever it takes a
    [`HaplotypeStore`][maskkit.io.HaplotypeStore], with the same guarantees: masks keyed by
    ``(seed, epoch, sample, window)``, padding never masked.

    Parameters
    ----------
    haps : int array, shape (samples, ploidy, sites)
        Alleles (``0`` ref, ``1..`` alt, negative missing), stored as int8.
    lengths : int array of shape (samples,), optional
        Real sites of each sample (ragged data padded to ``sites``); sites at or past a
        sample's length read as 0 and are padding in every window.
    positions : int array of shape (sites,), optional
        Site coordinates (default ``0..sites-1``).
    samples : sequence of str, optional
        Sample names (default ``"0"``, ``"1"``, ...).

    Examples
    --------
    >>> import numpy as np
    >>> from maskkit.io import ArrayStore
    >>> store = ArrayStore(np.ones((3, 2, 5), dtype=np.int8), lengths=[5, 3, 4])
    >>> store.read([1], 2, 5).tolist()
    [[[1, 0, 0], [1, 0, 0]]]
    """

    def __init__(
        self, haps: Any, *, lengths: Any = None, positions: Any = None, samples: Any = None
    ) -> None:
        arr = np.asarray(haps)
        if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(
                f"haps must hold integer alleles (0 ref, 1.. alt, negative missing), got dtype "
                f"{arr.dtype}; convert with haps.astype(np.int8)"
            )
        if arr.ndim != 3:
            raise ValueError(
                f"haps must be 3-D (samples, ploidy, sites), got shape {arr.shape}; "
                "add a ploidy axis with haps[:, None, :] for haploid rows"
            )
        if arr.size and (arr.min() < -128 or arr.max() > 127):
            raise ValueError(
                f"haps values must fit int8 (alleles -128..127), got {arr.min()}..{arr.max()}"
            )
        self.data = np.array(arr, dtype=np.int8, order="C")
        n, _, sites = self.data.shape
        if lengths is None:
            self.lengths = np.full(n, sites, dtype=np.int64)
        else:
            lens = np.asarray(lengths)
            if lens.shape != (n,) or not np.issubdtype(lens.dtype, np.integer):
                raise ValueError(f"lengths must be {n} integers (one per sample), got {lens!r}")
            if n and (lens.min() < 0 or lens.max() > sites):
                raise ValueError(f"lengths must be in [0, {sites}], got {lens.min()}..{lens.max()}")
            self.lengths = lens.astype(np.int64)
            self.data *= np.arange(sites)[None, None, :] < self.lengths[:, None, None]
        pos = np.arange(sites, dtype=np.int64) if positions is None else np.asarray(positions)
        if pos.shape != (sites,):
            raise ValueError(f"positions must have shape ({sites},), got {pos.shape}")
        self.positions = pos
        names = [str(i) for i in range(n)] if samples is None else [str(s) for s in samples]
        if len(names) != n or len(set(names)) != n:
            raise ValueError(f"samples must be {n} distinct names, got {len(names)}")
        self.samples = np.asarray(names, dtype=object)
        self.path = "<memory>"
        for a in (self.data, self.lengths, self.positions, self.samples):
            a.setflags(write=False)

    @property
    def n_samples(self) -> int:
        """Number of samples."""
        return int(self.data.shape[0])

    @property
    def ploidy(self) -> int:
        """Haplotypes per sample."""
        return int(self.data.shape[1])

    @property
    def n_sites(self) -> int:
        """Number of sites."""
        return int(self.data.shape[2])

    def read(self, sample_indices: Any, start: int, stop: int) -> np.ndarray:
        """Return sites ``[start, stop)`` of the given samples as ``(n, ploidy, stop-start)`` int8.

        Sites past a sample's ``lengths`` are 0.
        """
        idx = np.asarray(sample_indices).reshape(-1)
        if idx.size and (idx.dtype == np.bool_ or not np.issubdtype(idx.dtype, np.integer)):
            raise TypeError(f"sample_indices must be integer sample positions, got {idx.dtype}")
        idx = idx.astype(np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= self.n_samples):
            raise IndexError(f"sample_indices must be in [0, {self.n_samples}), got {idx}")
        start, stop = int(start), int(stop)
        if not 0 <= start <= stop <= self.n_sites:
            raise WindowError(
                f"window start={start}, stop={stop} is outside the array's sites: need "
                f"0 <= start <= stop <= n_sites={self.n_sites}"
            )
        return self.data[idx, :, start:stop]

    def __repr__(self) -> str:
        return (
            f"ArrayStore(n_samples={self.n_samples}, n_sites={self.n_sites}, ploidy={self.ploidy})"
        )
