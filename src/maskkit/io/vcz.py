"""VCF Zarr stores (the layout ``bio2zarr vcf2zarr`` writes and sgkit reads), read chunk by chunk.

Layout (VCF Zarr specification; only these arrays are read)::

    call_genotype         int   (variants, samples, ploidy)   negative = missing or fill
    call_genotype_mask    bool  (variants, samples, ploidy)   optional; True = missing
    call_genotype_phased  bool  (variants, samples)           optional
    variant_position      int   (variants,)                   1-based
    sample_id             str   (samples,)
    variant_contig        int   (variants,)                   optional; index into contig_id
    contig_id             str   (contigs,)                    optional
    variant_allele        str   (variants, alleles)           optional; REF then ALTs

A store is a directory (``*.vcz``), a zip file of one (``*.vcz.zip``), or a URL that zarr
opens through fsspec (``s3://...``, with the matching fsspec backend installed) or, for
``s3://`` with ``backend="obstore"``, through obstore (Rust; far less client CPU per chunk
fetched: `maskkit.io._obstore`). Genotypes
are never loaded whole: a read fetches the ``call_genotype`` chunks its window and samples
touch, one whole chunk at a time (one request and one decode, past zarr's selection
machinery where the layout allows: `_chunks.chunk_reader`), and keeps recently decoded chunks
in a bounded LRU cache, so consecutive windows of a DataLoader reuse them.
"""

from __future__ import annotations

import collections
import os
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .. import _data_kernels
from .._narrow import narrow
from ._chunks import DECODE_ERRORS, blosc_chunk_bytes, checked_store, chunk_reader
from ._deps import require
from ._errors import StoreFormatError
from ._names import decode_strings, sample_names
from ._obstore import check_backend, zarr_object_store
from .store import HaplotypeStore

__all__ = ["VcfZarrStore"]

_GT = "call_genotype"
_MASK = "call_genotype_mask"
_PHASED = "call_genotype_phased"
_POS = "variant_position"
_SAMPLES = "sample_id"
_CONTIG = "variant_contig"
_CONTIG_ID = "contig_id"
_ALLELES = "variant_allele"
_INT8_MAX = 127

_HOW_TO_CREATE = (
    "create one with bio2zarr: `vcf2zarr convert in.vcf.gz out.vcz` (pip install bio2zarr), "
    "or open an HDF5 store instead"
)


def _is_url(path: str | os.PathLike[str]) -> bool:
    return isinstance(path, str) and "://" in path


class VcfZarrStore(HaplotypeStore):
    """Read windows of sites for sets of samples from a VCF Zarr store (sgkit / bio2zarr).

    The same interface as [`HaplotypeStore`][maskkit.io.vcz.HaplotypeStore] (it is one), so it goes
    wherever an HDF5 store does: [`maskkit.torch.HaplotypeDataset`][],
    [`alt_allele_frequency`][maskkit.io.alt_allele_frequency],
    [`Windows.validate`][maskkit.io.Windows.validate]. Calls that are negative in ``call_genotype``
    or flagged in ``call_genotype_mask`` read as ``-1`` (missing). Allele indices above 127 do not
    fit maskkit's int8 and raise [`StoreFormatError`][maskkit.io.vcz.StoreFormatError] when read,
    never wrap.

    A store holding several contigs serves one of them: pass ``contig``. Sites are the
    contig's variants in store order (multi-allelic and indel records included, unlike
    ``maskkit convert``, which keeps biallelic SNVs only).

    Parameters
    ----------
    path
        A VCF Zarr directory, a zip file of one, or a URL zarr can open (fsspec).
    contig
        Name of the contig to serve (an entry of ``contig_id``). Required when the store's
        variants lie on more than one contig.
    storage_options
        For a URL: options of its fsspec filesystem (credentials, endpoint, ...), passed to
        ``zarr.open_group``. With ``backend="obstore"``, the s3fs options ``key``, ``secret``,
        ``token``, ``endpoint_url``, ``anon`` and ``client_kwargs`` (``endpoint_url``,
        ``region_name``, ``aws_*`` credentials) are translated to obstore's; any other key
        raises ValueError.
    backend
        How a URL is read: ``"fsspec"`` (default; any fsspec URL, e.g. through s3fs) or
        ``"obstore"`` (``s3://`` only, needs ``obstore``: ``pip install "maskkit[s3]"``), whose
        Rust client spends far less CPU per chunk fetched, which on a few cores leaves more to
        the loader. Worker copies (pickled) reopen with the same backend.
    in_memory
        Load every genotype of the contig into memory at first use (its size is printed to
        stderr first).
    cache_mb
        Size of the cache of decoded chunks, in MiB (per process).
    verbose
        Print the memory an in-memory load needs.

    Raises
    ------
    ImportError
        zarr is not installed (the message names ``pip install "maskkit[zarr]"``), or
        ``backend="obstore"`` without obstore (``pip install "maskkit[s3]"``).
    FileNotFoundError
        ``path`` does not exist.
    StoreFormatError
        ``path`` is not a zarr group, or lacks ``call_genotype`` / ``variant_position``, or
        the arrays disagree in shape.
    ValueError
        ``contig`` is missing (several contigs) or not in the store; ``backend`` is not
        ``"fsspec"`` or ``"obstore"``; ``backend="obstore"`` with a local path, a URL other
        than ``s3://`` or a ``storage_options`` key it does not take.
    RuntimeError
        ``backend="obstore"`` in a process forked from one that had used obstore (whose runtime
        does not survive fork): start workers with ``forkserver`` or ``spawn``. Raised when the
        store (re)opens, e.g. at a forked worker's first read.

    Examples
    --------
    >>> import pathlib, shutil, tempfile
    >>> import numpy as np, zarr
    >>> from maskkit import io
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> root = zarr.open_group(tmp / "toy.vcz", mode="w", zarr_format=2)
    >>> gt = np.array([[[0, 1], [1, -1]], [[1, 1], [0, 0]], [[0, 0], [2, 1]]], dtype=np.int8)
    >>> _ = root.create_array("call_genotype", data=gt, chunks=(2, 1, 2))
    >>> _ = root.create_array("variant_position", data=np.array([5, 9, 12], dtype=np.int32))
    >>> _ = root.create_array("sample_id", data=np.array(["a", "b"]))
    >>> store = io.open_store(tmp / "toy.vcz")
    >>> store.read([1], 0, 3)  # sample "b": (1, ploidy, sites)
    array([[[ 1,  0,  2],
            [-1,  0,  1]]], dtype=int8)
    >>> shutil.rmtree(tmp)
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        contig: str | None = None,
        storage_options: dict[str, Any] | None = None,
        backend: str = "fsspec",
        in_memory: bool = False,
        cache_mb: float = 64.0,
        verbose: bool = False,
    ) -> None:
        self.source = str(path) if _is_url(path) else os.fspath(path)
        self.contig = None if contig is None else str(contig)
        if storage_options is not None and not _is_url(self.source):
            raise ValueError(
                f"storage_options apply to URLs (s3://..., gs://...), not to the local path "
                f"{self.source!r}; drop storage_options"
            )
        self.backend = check_backend(backend)
        if backend != "fsspec" and not _is_url(self.source):
            raise ValueError(
                f"backend={backend!r} applies to URLs (s3://...), not to the local path "
                f"{self.source!r}; drop backend"
            )
        self.storage_options = None if storage_options is None else dict(storage_options)
        self._zip: Any = None
        self._mask: Any = None
        self._readers: tuple[Any, Any] | None = None
        self._chunks: tuple[int, int] = (1, 1)
        self._offset = 0
        self._n_variants = 0
        self._blocks: collections.OrderedDict[tuple[int, int], np.ndarray] = (
            collections.OrderedDict()
        )
        self._block_bytes = 0
        self._phased_cached: bool | None = None
        self._phased_known = False
        super().__init__(path, in_memory=in_memory, cache_mb=cache_mb, verbose=verbose)

    # -- opening --------------------------------------------------------------------------
    def _open(self) -> Any:
        zarr = require("zarr")
        self._blocks.clear()
        self._block_bytes = 0
        self._mask = None
        self._readers = None
        target: Any = self.source
        if not _is_url(self.source):
            if not self.path.exists():
                raise FileNotFoundError(
                    f"VCF Zarr store {self.path} does not exist; {_HOW_TO_CREATE}"
                )
            if self.path.is_file():
                if not zipfile.is_zipfile(self.path):
                    raise StoreFormatError(
                        f"{self.path} is a file but not a zip file; a VCF Zarr store is a "
                        f"directory or a zip of one: {_HOW_TO_CREATE}"
                    )
                self._zip = target = zarr.storage.ZipStore(self.path, mode="r")
        options = {} if self.storage_options is None else {"storage_options": self.storage_options}
        if self.backend == "obstore":
            target, options = zarr_object_store(self.source, self.storage_options), {}
        try:
            group = zarr.open_group(target, mode="r", **options)
            # Re-open through a store that checks each chunk before it is decoded.
            return zarr.open_group(checked_store(group.store), path=group.store_path.path, mode="r")
        except DECODE_ERRORS as exc:  # no group, bad metadata
            # (network and permission errors of a URL pass through as they are)
            raise StoreFormatError(
                f"{self.source} is not a zarr group ({type(exc).__name__}: {exc}); {_HOW_TO_CREATE}"
            ) from exc

    def _where(self) -> str:
        return self.source  # a URL as given (a Path would fold "s3://" into "s3:/")

    def _damaged(self, name: str, what: str, exc: BaseException) -> StoreFormatError:
        return StoreFormatError(
            f"{self.source}:{name} is damaged: its {what} cannot be read ({type(exc).__name__}: "
            f"{exc}); re-create the store or copy it again (docs/data.md: checking a copied "
            "store)"
        )

    def _array(self, name: str) -> Any:
        """Return the array ``name`` (None if absent); damaged metadata is StoreFormatError."""
        root = self._handle()
        try:
            array = root.get(name)
        except DECODE_ERRORS as exc:
            raise self._damaged(name, "metadata", exc) from exc
        if array is not None and not hasattr(array, "chunks"):
            return None  # a group of that name, not an array
        if array is not None:
            expected = blosc_chunk_bytes(array)
            if expected is not None:
                root.store.check(array.path, expected)
        return array

    def _values(self, name: str, array: Any, where: Any = slice(None)) -> np.ndarray:
        """Return ``array[where]``; a damaged or undecodable chunk is StoreFormatError."""
        try:
            return np.asarray(array[where])
        except DECODE_ERRORS as exc:
            raise self._damaged(name, "chunks", exc) from exc

    def _dataset(self) -> Any:
        if self._gt is None:
            self._gt = self._array(_GT)
            self._mask = self._array(_MASK)
        return self._gt

    def _read_metadata(self) -> None:
        root = self._handle()
        try:
            self._read_arrays(root)
        except BaseException:
            self.close()  # an open zip store would outlive the failed constructor
            raise

    def _read_arrays(self, root: Any) -> None:
        gt, positions = self._array(_GT), self._array(_POS)
        for name, array in ((_GT, gt), (_POS, positions)):
            if array is None:
                try:
                    found = f"found {sorted(root.keys())}"
                except DECODE_ERRORS as exc:  # another member's metadata is damaged too
                    found = f"its members cannot be listed ({type(exc).__name__}: {exc})"
                raise StoreFormatError(
                    f"{self.source} has no array {name!r}; a VCF Zarr store holds "
                    f"{_GT!r} (variants, samples, ploidy) and {_POS!r}; {found}. "
                    f"{_HOW_TO_CREATE}"
                )
        if len(gt.shape) != 3 or not np.issubdtype(gt.dtype, np.integer):
            raise StoreFormatError(
                f"{self.source}:{_GT} must be an integer array (variants, samples, ploidy), "
                f"got {gt.dtype} with shape {gt.shape}"
            )
        n_variants, n_samples, ploidy = (int(x) for x in gt.shape)
        self._n_variants = n_variants
        self._chunks = (int(gt.chunks[0]), int(gt.chunks[1]))
        for name, shape in ((_MASK, gt.shape), (_PHASED, gt.shape[:2])):
            extra = self._array(name)
            if extra is not None and tuple(extra.shape) != tuple(shape):
                raise StoreFormatError(
                    f"{self.source}:{name} has shape {extra.shape} but {_GT} has {gt.shape}: "
                    f"it must be {tuple(shape)}"
                )
        pos = self._read_positions(positions)
        if pos.shape != (n_variants,):
            raise StoreFormatError(
                f"{self.source}:{_POS} has shape {pos.shape} but {_GT} has {n_variants} variants"
            )
        lo, hi = self._contig_range(root, n_variants)
        names = self._array(_SAMPLES)
        raw = None if names is None else self._values(_SAMPLES, names)
        samples = sample_names(raw, n_samples, f"{self.source}:{_SAMPLES}", _GT)
        self._offset = lo
        self._shape = (hi - lo, n_samples, ploidy)
        self._positions = pos[lo:hi]
        self._samples = samples

    def _read_positions(self, array: Any) -> np.ndarray:
        """Return ``variant_position`` as int64; refuse a value that int64 would change."""
        name = f"{self.source}:{_POS}"
        raw = self._values(_POS, array)
        if raw.dtype.kind not in "iuf":
            raise StoreFormatError(f"{name} must hold integer positions, got {raw.dtype}")
        return narrow(
            raw,
            np.int64,
            name,
            fix="positions are 1-based integers; re-create the store with vcf2zarr",
            integral_floats=True,
            error=StoreFormatError,
        )

    def _contig_range(self, root: Any, n_variants: int) -> tuple[int, int]:
        """Return the variant range ``[lo, hi)`` of the requested (or only) contig."""
        contig, contig_id = self._array(_CONTIG), self._array(_CONTIG_ID)
        if contig is None or contig_id is None:
            if self.contig is not None:
                raise ValueError(
                    f"contig={self.contig!r} was given but {self.source} records no contigs "
                    f"({_CONTIG!r} / {_CONTIG_ID!r}); open it without contig"
                )
            return 0, n_variants
        ids = self._values(_CONTIG_ID, contig_id)
        if ids.ndim != 1:
            raise StoreFormatError(
                f"{self.source}:{_CONTIG_ID} must be 1-D (one name per contig), got {ids.shape}"
            )
        names = decode_strings(ids).tolist()
        codes = self._values(_CONTIG, contig)
        if codes.shape != (n_variants,) or codes.dtype.kind not in "iuf":
            raise StoreFormatError(
                f"{self.source}:{_CONTIG} must hold one integer per variant ({n_variants}), "
                f"got {codes.dtype} with shape {codes.shape}"
            )
        codes = narrow(
            codes,
            np.int64,
            f"{self.source}:{_CONTIG}",
            integral_floats=True,
            error=StoreFormatError,
        )
        present = np.unique(codes)
        if present.size and (present[0] < 0 or present[-1] >= len(names)):
            bad = int(present[0] if present[0] < 0 else present[-1])
            raise StoreFormatError(
                f"{self.source}:{_CONTIG} holds {bad}, not an index into {_CONTIG_ID} "
                f"({len(names)} contigs); re-create the store"
            )
        if self.contig is None:
            if present.size > 1:
                found = [names[int(c)] for c in present]
                raise ValueError(
                    f"{self.source} holds variants on {present.size} contigs {found[:10]}; a "
                    "maskkit store serves one: pass contig=NAME (open_store(path, contig=...))"
                )
            if present.size == 1:
                self.contig = names[int(present[0])]
            return 0, n_variants
        if self.contig not in names:
            raise ValueError(
                f"contig={self.contig!r} is not in {self.source}; its contigs are {names[:20]}"
            )
        rows = np.flatnonzero(codes == names.index(self.contig))
        if rows.size == 0:
            raise ValueError(f"{self.source} has no variants on contig {self.contig!r}")
        lo, hi = int(rows[0]), int(rows[-1]) + 1
        if rows.size != hi - lo:
            raise StoreFormatError(
                f"{self.source}: the variants of contig {self.contig!r} are not contiguous; "
                "the store must be sorted by contig (as vcf2zarr writes it)"
            )
        return lo, hi

    # -- metadata -------------------------------------------------------------------------
    @property
    def phased(self) -> bool | None:
        """Whether every called genotype is phased (``None`` without ``call_genotype_phased``).

        Computed at first use from ``call_genotype_phased``, chunk by chunk, over the
        genotypes whose haplotypes are all called.
        """
        if not self._phased_known:
            self._phased_cached = self._scan_phased()
            self._phased_known = True
        return self._phased_cached

    def _scan_phased(self) -> bool | None:
        phased = self._array(_PHASED)
        if phased is None:
            return None
        step = self._chunks[0]
        lo, hi = self._offset, self._offset + self.n_sites
        for a in range(lo, hi, step):
            b = min(hi, a - a % step + step)
            flags = self._values(_PHASED, phased, slice(a, b)).astype(bool)
            called = (self._rows(a, b) >= 0).all(axis=2)
            if self.ploidy > 1 and not flags[called].all():
                return False
        return True

    def ref_alt(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Return ``(REF, ALT)`` string arrays (first ALT, ``""`` if none), or ``None``.

        Examples
        --------
        >>> import pathlib, shutil, tempfile
        >>> import numpy as np, zarr
        >>> from maskkit import io
        >>> tmp = pathlib.Path(tempfile.mkdtemp())
        >>> root = zarr.open_group(tmp / "ra.vcz", mode="w", zarr_format=2)
        >>> _ = root.create_array("call_genotype", data=np.zeros((2, 1, 2), dtype=np.int8))
        >>> _ = root.create_array("variant_position", data=np.array([3, 8]))
        >>> _ = root.create_array("variant_allele", data=np.array([["A", "G"], ["C", "T"]]))
        >>> ref, alt = io.open_store(tmp / "ra.vcz").ref_alt()
        >>> ref.tolist(), alt.tolist()
        (['A', 'C'], ['G', 'T'])
        >>> shutil.rmtree(tmp)
        """
        alleles = self._array(_ALLELES)
        if alleles is None:
            return None
        if len(alleles.shape) != 2 or alleles.shape[0] != self._n_variants:
            raise StoreFormatError(
                f"{self.source}:{_ALLELES} has shape {alleles.shape}; it must be (variants, "
                f"alleles) with one row per variant of {_GT}"
            )
        if alleles.shape[1] < 1:
            return None
        values = self._values(_ALLELES, alleles, slice(self._offset, self._offset + self.n_sites))
        ref = decode_strings(values[:, 0])
        alt = decode_strings(values[:, 1]) if values.shape[1] > 1 else np.full(len(ref), "", object)
        return ref, alt

    # -- reading --------------------------------------------------------------------------
    def _rows(self, a: int, b: int, s0: int = 0, s1: int | None = None) -> np.ndarray:
        """Return ``call_genotype[a:b, s0:s1]`` as int8 with missing (negative or masked) = -1."""
        gt = self._dataset()
        raw = self._values(_GT, gt, (slice(a, b), slice(s0, s1)))
        out = np.where(raw < 0, -1, raw).astype(np.int8)
        if raw.dtype != np.int8:
            # Only the served contig's rows count: a chunk may reach into the next contig.
            lo, hi = max(a, self._offset), min(a + raw.shape[0], self._offset + self.n_sites)
            big = np.argwhere(raw[lo - a : hi - a] > _INT8_MAX)
            if big.size:
                v, s, h = (int(x) for x in big[0])
                site = lo - self._offset + v
                raise StoreFormatError(
                    f"{self.source}:{_GT} holds allele index {int(raw[lo - a + v, s, h])} at "
                    f"site {site} (position {self._positions[site]}), "
                    f"sample {s0 + s}; maskkit reads allele indices up to {_INT8_MAX} (int8): "
                    "split multi-allelic sites (`bcftools norm -m-`) before converting"
                )
            out[raw > _INT8_MAX] = -1  # other contigs' rows: never served
        if self._mask is not None:
            out[self._values(_MASK, self._mask, (slice(a, b), slice(s0, s1))).astype(bool)] = -1
        return out

    def _whole_chunk(self, ci: int, cj: int) -> np.ndarray | None:
        """Return chunk ``(ci, cj)`` decoded whole past zarr's selections, or None (use zarr).

        Full chunk shape (an edge chunk runs past the last site or sample: never served);
        missing (negative or masked) calls are -1.
        """
        gt = self._dataset()
        if self._readers is None:
            plain = gt.dtype == np.int8 and gt.chunks[2] == gt.shape[2]
            read_gt = chunk_reader(gt) if plain else None
            read_mask = None
            if read_gt is not None and self._mask is not None:
                read_mask = chunk_reader(self._mask) if self._mask.chunks == gt.chunks else None
                if read_mask is None:
                    read_gt = None  # the mask is read through zarr, so the genotypes are too
            self._readers = (read_gt, read_mask)
        read_gt, read_mask = self._readers
        if read_gt is None:
            return None
        try:
            block = read_gt((ci, cj, 0))
        except DECODE_ERRORS as exc:
            raise self._damaged(_GT, "chunks", exc) from exc
        np.maximum(block, -1, out=block)  # int8: every negative value reads as -1
        if read_mask is not None:
            try:
                mask = read_mask((ci, cj, 0))
            except DECODE_ERRORS as exc:
                raise self._damaged(_MASK, "chunks", exc) from exc
            np.copyto(block, np.int8(-1), where=mask.astype(bool, copy=False))
        return block

    def _block(self, ci: int, cj: int) -> np.ndarray:
        """Return chunk ``(ci, cj)`` of ``call_genotype`` (one chunk read), via the LRU cache."""
        key = (ci, cj)
        block = self._blocks.get(key)
        if block is not None:
            self._blocks.move_to_end(key)
            return block
        vc, sc = self._chunks
        block = self._whole_chunk(ci, cj)
        if block is None:
            block = self._rows(ci * vc, (ci + 1) * vc, cj * sc, (cj + 1) * sc)
        limit = self.cache_mb * 2**20
        if block.nbytes <= limit:
            self._blocks[key] = block
            self._block_bytes += block.nbytes
            while self._block_bytes > limit:
                _, old = self._blocks.popitem(last=False)
                self._block_bytes -= old.nbytes
        return block

    def _read_chunks(self, idx: np.ndarray, start: int, stop: int) -> np.ndarray:
        out = np.empty((idx.size, self.ploidy, stop - start), dtype=np.int8)
        if idx.size == 0 or stop == start:
            return out
        self._handle()  # a new process starts with an empty cache
        vc, sc = self._chunks
        a0, a1 = start + self._offset, stop + self._offset
        col_chunk = idx // sc
        for cj in np.unique(col_chunk).tolist():
            rows = np.flatnonzero(col_chunk == cj)
            cols = idx[rows] - cj * sc
            for ci in range(a0 // vc, (a1 - 1) // vc + 1):
                lo, hi = max(a0, ci * vc), min(a1, (ci + 1) * vc)
                slab = self._block(ci, cj)[lo - ci * vc : hi - ci * vc]
                if not slab.flags.c_contiguous:
                    slab = np.ascontiguousarray(slab)
                # (sites, samples, ploidy) -> rows of (n, ploidy, sites), blocked in numba
                _data_kernels.gather_sites(slab, cols, rows, lo - a0, out)
        return out

    def _load(self) -> np.ndarray:
        if self._data is None:
            if self.verbose:
                print(
                    f"maskkit: loading {self.source} into memory: {self.n_sites} sites x "
                    f"{self.n_samples} samples x {self.ploidy} = {self.nbytes / 2**20:.1f} MiB",
                    file=sys.stderr,
                )
            data = np.empty((self.n_samples, self.ploidy, self.n_sites), dtype=np.int8)
            step = self._chunks[0]
            lo, hi = self._offset, self._offset + self.n_sites
            for a in range(lo, hi, step):
                b = min(hi, a - a % step + step)  # chunk-aligned rows, one chunk row at a time
                data[:, :, a - lo : b - lo] = self._rows(a, b).transpose(1, 2, 0)
            self._data = data
        return self._data

    def read(self, sample_indices: Any, start: int, stop: int) -> np.ndarray:
        """Return sites ``[start, stop)`` of the given samples as ``(n, ploidy, stop-start)`` int8.

        Reads only the ``call_genotype`` chunks that the sites and samples touch (each chunk
        once, decoded chunks kept in the LRU cache). Missing calls are ``-1``.

        Parameters
        ----------
        sample_indices
            Integer positions of samples in the store (not names).
        start
            Half-open range of site indices (of the served contig).
        stop
            Half-open range of site indices (of the served contig).

        Examples
        --------
        >>> import pathlib, shutil, tempfile
        >>> import numpy as np, zarr
        >>> from maskkit import io
        >>> tmp = pathlib.Path(tempfile.mkdtemp())
        >>> root = zarr.open_group(tmp / "rd.vcz", mode="w", zarr_format=2)
        >>> gt = np.arange(24, dtype=np.int8).reshape(4, 3, 2) % 2
        >>> _ = root.create_array("call_genotype", data=gt, chunks=(2, 2, 2))
        >>> _ = root.create_array("variant_position", data=np.array([1, 2, 3, 4]))
        >>> io.open_store(tmp / "rd.vcz").read([2, 0], 1, 3).shape
        (2, 2, 2)
        >>> shutil.rmtree(tmp)
        """
        idx = self._check_samples(sample_indices)
        start, stop = self._check_range(start, stop)
        if self.in_memory:
            return self._load()[idx, :, start:stop]
        return self._read_chunks(idx, start, stop)

    # -- lifecycle ------------------------------------------------------------------------
    def close(self) -> None:
        """Close the zarr store (it re-opens on the next read); drop cached chunks and data."""
        if self._zip is not None and self._pid == os.getpid():
            self._zip.close()
        self._zip = self._file = self._gt = self._mask = self._readers = None
        self._pid = None
        self._data = None
        self._blocks.clear()
        self._block_bytes = 0

    def __getstate__(self) -> dict[str, Any]:
        # Source and options only: never a zarr handle or cached chunks.
        return {
            **super().__getstate__(),
            "path": self.source,
            "contig": self.contig,
            "storage_options": self.storage_options,
            "backend": self.backend,
        }

    def __repr__(self) -> str:
        return (
            f"VcfZarrStore({self.source!r}, contig={self.contig!r}, n_samples={self.n_samples}, "
            f"n_sites={self.n_sites}, ploidy={self.ploidy}, in_memory={self.in_memory}"
            + ("" if self.backend == "fsspec" else f", backend={self.backend!r}")
            + ")"
        )


def is_vcz(path: str | os.PathLike[str]) -> bool:
    """Return whether ``path`` names a VCF Zarr store (URL, directory, ``.vcz``/``.zip``)."""
    if _is_url(path):
        return True
    p = Path(path)
    if p.is_dir() or p.suffix in (".vcz", ".zarr", ".zip"):
        return True
    return p.is_file() and zipfile.is_zipfile(p)
