"""VCF -> HDF5 conversion into scikit-allel's layout, biallelic SNVs only.

The parser is cyvcf2: it wraps htslib (bgzip/tabix, BCF, truncation checks) and hands back each
record's genotypes as one numpy array, which is what a streaming converter needs; pysam is
heavier to install and scikit-allel's own reader is unmaintained on recent numpy.
"""

from __future__ import annotations

import dataclasses
import os
import stat
from pathlib import Path

import numpy as np

from ._atomic import atomic_file
from ._deps import progress, require
from ._errors import VCFFormatError
from .store import GT_PATH, POS_PATH, SAMPLES_PATH

__all__ = ["ConvertStats", "vcf_to_hdf5"]

_BASES = frozenset("ACGTN")
_BINARY = frozenset("01")
#: htslib's raw GT encoding (``bcf_get_genotypes``): ``(allele + 1) << 1 | phased``, 0 = missing
_VECTOR_END = -(2**31) + 1  # padding after the last allele of a call with fewer alleles
_INT32_MISSING = -(2**31)
#: largest position an int32 ``variants/POS`` holds (scikit-allel's layout)
POS_MAX = 2**31 - 1
#: sites per HDF5 chunk at most (a chunk must stay well under HDF5's 4 GiB limit)
CHUNK_SITES_MAX = 2**20
_BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")


@dataclasses.dataclass(frozen=True)
class ConvertStats:
    """What [`vcf_to_hdf5`][maskkit.io.vcf.vcf_to_hdf5] kept and skipped.

    Examples
    --------
    >>> ConvertStats(n_samples=2, ploidy=2, kept=10, multiallelic=1, non_snv=2, phased=True)
    ConvertStats(n_samples=2, ploidy=2, kept=10, multiallelic=1, non_snv=2, phased=True)
    """

    n_samples: int
    ploidy: int
    kept: int
    multiallelic: int
    non_snv: int
    phased: bool

    def __str__(self) -> str:
        return (
            f"{self.kept} biallelic SNVs kept for {self.n_samples} samples (ploidy "
            f"{self.ploidy}, {'phased' if self.phased else 'not all phased'}); skipped "
            f"{self.multiallelic} multi-allelic and {self.non_snv} non-SNV records"
        )


def _same_file(a: Path, b: Path) -> bool:
    """Whether ``b`` names the file ``a`` (through links too), or the same path."""
    try:
        return b.exists() and os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _check_input(path: Path) -> None:
    """Raise unless ``path`` is a regular file (through links), saying what it is instead."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        if path.is_symlink():
            raise FileNotFoundError(
                f"VCF {path} is a symbolic link to {os.readlink(path)}, which does not exist "
                "(argument vcf_path)"
            ) from None
        raise FileNotFoundError(f"VCF {path} does not exist (argument vcf_path)") from None
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(
            f"VCF {path} is a directory, not a file (argument vcf_path); name the .vcf, "
            ".vcf.gz or .bcf file inside it"
        )
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
        raise VCFFormatError(
            f"VCF {path} is {kind}, not a regular file (argument vcf_path); maskkit converts "
            "a file it can seek in: save the stream to a file first (e.g. "
            "`bcftools view -Oz -o in.vcf.gz -`)"
        )


def _check_bgzf_eof(path: Path) -> None:
    """Raise VCFFormatError for a BGZF file that lacks htslib's end-of-file block."""
    with open(path, "rb") as fh:
        head = fh.read(18)
        if len(head) < 18 or head[:4] != b"\x1f\x8b\x08\x04" or head[12:14] != b"BC":
            return  # plain text or plain gzip: the parser detects truncation itself
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(max(0, size - len(_BGZF_EOF)))
        if fh.read() != _BGZF_EOF:
            raise VCFFormatError(
                f"{path} is truncated (its BGZF end-of-file block is missing); "
                "re-download or re-create it, and check it with `bgzip -t`"
            )


def _is_snv(ref: str, alt: str, binary_alleles: bool) -> bool:
    if len(ref) != 1 or len(alt) != 1:
        return False
    if binary_alleles and ref == "0" and alt == "1":
        return True
    return ref.upper() in _BASES and alt.upper() in _BASES


def _decode_gt(
    raw: np.ndarray | None, ploidy: int, samples: list[str], where: str
) -> tuple[np.ndarray, bool]:
    """Return ``(calls (samples, ploidy) int8, all called genotypes phased)`` of one record.

    ``raw`` is htslib's int32 GT encoding (``Variant.format("GT", int)``), which, unlike
    cyvcf2's int16 ``genotype.array()``, holds every allele index without wrapping. Raises
    [`VCFFormatError`][maskkit.io.vcf.VCFFormatError] for an allele index other than 0 (REF) and 1
    (the one ALT) and for a call with fewer alleles than the store's ploidy (unless every allele of
    it is missing, as in ``.`` for a diploid missing call).
    """
    if raw is None or raw.ndim != 2 or raw.shape[0] != len(samples):
        raise VCFFormatError(f"{where} has no GT calls; every record needs a GT field")
    if raw.shape[1] == ploidy and raw.size and raw.min() >= 0 and raw.max() <= 5:
        # the common case: every allele 0, 1 or missing (raw 0..5), every call full length
        calls = ((raw >> 1) - 1).astype(np.int8)
        if ploidy == 1:
            return calls, True
        called = (raw >= 2).all(axis=1)
        return calls, bool((raw[called, 1:] & 1).all())
    raw = raw.astype(np.int64)
    p = raw.shape[1]
    if p > ploidy:
        raise VCFFormatError(
            f"{where} has calls of ploidy {p} but earlier records have ploidy {ploidy}; "
            "maskkit stores one ploidy per file"
        )
    if p < ploidy:
        pad = np.full((raw.shape[0], ploidy - p), _VECTOR_END, dtype=np.int64)
        raw = np.concatenate([raw, pad], axis=1)
    absent = raw == _VECTOR_END
    missing = (raw == _INT32_MISSING) | ((raw >= 0) & (raw < 2))
    allele = (raw >> 1) - 1
    bad = ~absent & ~missing & ((raw < 0) | (allele > 1))
    if bad.any():
        i, j = (int(x[0]) for x in np.nonzero(bad))
        value = int(allele[i, j]) if raw[i, j] >= 0 else int(raw[i, j])
        raise VCFFormatError(
            f"{where}: sample {samples[i]!r} has allele index {value}, but the record has one "
            "ALT allele (valid: 0, 1 or '.'); maskkit never stores such a call. Fix or drop the "
            "record (e.g. `bcftools view -e 'GT[*]>1'`) and convert again"
        )
    short = absent.any(axis=1) & (~absent & ~missing).any(axis=1)
    if short.any():
        i = int(np.nonzero(short)[0][0])
        k = int((~absent[i]).sum())
        raise VCFFormatError(
            f"{where}: sample {samples[i]!r} has a call of ploidy {k} in a store of ploidy "
            f"{ploidy}; maskkit stores one ploidy per file (a haploid call is never padded "
            "with a missing allele). Split the samples or fix the calls, then convert again"
        )
    calls = np.where(missing | absent, -1, allele).astype(np.int8)
    phased = True
    if ploidy > 1:
        called = ~(missing | absent).any(axis=1)
        phased = bool((raw[called, 1:] & 1).all())
    return calls, phased


def vcf_to_hdf5(
    vcf_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    chunk_sites: int = 1024,
    compression: str | None = "gzip",
    show_progress: bool = False,
    binary_alleles: bool = False,
) -> ConvertStats:
    """Convert a VCF/BCF (optionally bgzipped) to a scikit-allel-layout HDF5 haplotype store.

    Keeps biallelic SNVs; multi-allelic and non-SNV records are skipped and counted. Missing
    calls become ``-1``. Whether every call was phased is stored in the root attribute
    ``phased``. Output goes to a temporary file renamed onto ``out_path`` only on success.

    Every kept record is stored exactly or the conversion fails with
    [`VCFFormatError`][maskkit.io.vcf.VCFFormatError] naming the record: an allele index other than
    ``0``/``1``/``.`` in a kept record, a call with fewer alleles than the file's ploidy (a haploid
    call in a diploid record; an all-missing ``.`` is stored as missing), a position above ``2**31 -
    1``, an unsorted position, a second contig, or a file in which no record is kept are all errors,
    never wrapped or dropped.

    Parameters
    ----------
    vcf_path
        Input ``.vcf``, ``.vcf.gz`` or ``.bcf``.
    out_path
        Output ``.h5``; its directory must exist.
    overwrite
        Replace an existing ``out_path``.
    chunk_sites
        Sites buffered per HDF5 write, and the chunk length along the sites axis (at most
        ``2**20``; never longer than the number of sites kept).
    compression
        h5py compression filter for ``calldata/GT`` (``None`` for none).
    show_progress
        Show a tqdm progress bar (only on a terminal).
    binary_alleles
        Also keep biallelic records whose REF is ``0`` and ALT is ``1`` (what tskit's
        ``write_vcf`` gives for a binary mutation model) instead of skipping them as non-SNVs.

    Returns
    -------
    ConvertStats
        Counts of kept and skipped records.

    Raises
    ------
    FileNotFoundError
        ``vcf_path`` (or the output directory) does not exist.
    FileExistsError
        ``out_path`` exists and ``overwrite`` is false.
    ValueError
        ``out_path`` is ``vcf_path``, or ``chunk_sites`` is out of range.
    VCFFormatError
        The VCF is truncated or unparsable, has no samples, mixes ploidies, holds an invalid
        allele index, an out-of-range or unsorted position or several contigs, or no record
        is kept.

    Examples
    --------
    >>> import pathlib, shutil, tempfile
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> from maskkit import io
    >>> demo = io.simulate_demo(tmp / "d", n_diploids=6, length=20_000, seed=3, verbose=False)
    >>> vcf = demo.write_vcf(tmp / "d.vcf")
    >>> stats = io.vcf_to_hdf5(vcf, tmp / "d.h5", show_progress=False)
    >>> stats.kept == io.open_store(demo.store).n_sites
    True
    >>> shutil.rmtree(tmp)
    """
    cyvcf2 = require("cyvcf2")
    h5py = require("h5py")
    vcf_path = Path(vcf_path)
    _check_input(vcf_path)
    if isinstance(chunk_sites, bool) or not isinstance(chunk_sites, (int, np.integer)):
        raise TypeError(f"chunk_sites must be an integer, got {chunk_sites!r}")
    if not 1 <= chunk_sites <= CHUNK_SITES_MAX:
        raise ValueError(
            f"chunk_sites must be in [1, {CHUNK_SITES_MAX}], got {chunk_sites}; "
            "the default 1024 suits most files"
        )
    if _same_file(vcf_path, Path(out_path)):
        raise ValueError(
            f"out_path {out_path} is the input VCF {vcf_path}; choose another output path"
        )
    _check_bgzf_eof(vcf_path)
    try:
        reader = cyvcf2.VCF(str(vcf_path), gts012=False, lazy=True, threads=1)
    except Exception as exc:  # cyvcf2 raises bare Exception / OSError for bad headers
        raise VCFFormatError(
            f"cannot read {vcf_path} as VCF/BCF ({exc}): it is truncated, not a VCF, or its "
            "header is broken; check it is complete (`bgzip -t` for .gz) and has a #CHROM line"
        ) from exc
    samples = list(reader.samples)
    if not samples:
        reader.close()
        raise VCFFormatError(
            f"{vcf_path} has no samples (no genotype columns after FORMAT); "
            "maskkit needs per-sample GT calls"
        )
    n = len(samples)
    multi = non_snv = kept = 0
    saw_binary = False
    ploidy = -1
    all_phased = True
    flag = "overwrite=True (CLI: --force)"
    with atomic_file(out_path, overwrite=overwrite, flag=flag) as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset(
            SAMPLES_PATH, data=np.asarray(samples, dtype=object), dtype=h5py.string_dtype()
        )
        gt_ds = pos_ds = ref_ds = alt_ds = None
        buf_gt: list[np.ndarray] = []
        buf_pos: list[int] = []
        buf_ref: list[bytes] = []
        buf_alt: list[bytes] = []
        chrom: str | None = None

        def flush() -> None:
            nonlocal gt_ds, pos_ds, ref_ds, alt_ds
            if not buf_gt:
                return
            if gt_ds is None:
                chunk = min(chunk_sites, len(buf_gt))  # sized to the data, never longer
                gt_ds = f.create_dataset(
                    GT_PATH,
                    shape=(0, n, ploidy),
                    maxshape=(None, n, ploidy),
                    dtype=np.int8,
                    chunks=(chunk, min(n, 256), ploidy),
                    compression=compression,
                    fletcher32=True,  # a damaged chunk fails its checksum instead of misreading
                )
                pos_ds = f.create_dataset(
                    POS_PATH,
                    shape=(0,),
                    maxshape=(None,),
                    dtype=np.int32,
                    chunks=(chunk,),
                )
                ref_ds = f.create_dataset(
                    "variants/REF",
                    shape=(0,),
                    maxshape=(None,),
                    dtype="S1",
                    chunks=(chunk,),
                )
                alt_ds = f.create_dataset(
                    "variants/ALT",
                    shape=(0,),
                    maxshape=(None,),
                    dtype="S1",
                    chunks=(chunk,),
                )
            assert pos_ds is not None
            assert ref_ds is not None
            assert alt_ds is not None
            old = gt_ds.shape[0]
            new = old + len(buf_gt)
            for ds in (gt_ds, pos_ds, ref_ds, alt_ds):
                ds.resize(new, axis=0)
            gt_ds[old:new] = np.stack(buf_gt)
            pos_ds[old:new] = np.asarray(buf_pos, dtype=np.int32)
            ref_ds[old:new] = np.asarray(buf_ref, dtype="S1")
            alt_ds[old:new] = np.asarray(buf_alt, dtype="S1")
            buf_gt.clear()
            buf_pos.clear()
            buf_ref.clear()
            buf_alt.clear()

        bar = progress(desc=f"convert {vcf_path.name}", enabled=show_progress, unit=" records")
        last_pos = -1
        try:
            for rec in reader:
                bar.update(1)
                pos = int(rec.start) + 1  # rec.POS is 32-bit in cyvcf2 and wraps above 2**31
                where = f"{vcf_path}:{rec.CHROM}:{pos}"
                if chrom is None:
                    chrom = rec.CHROM
                elif chrom != rec.CHROM:
                    raise VCFFormatError(
                        f"{vcf_path} has more than one contig ({chrom!r}, then {rec.CHROM!r} "
                        f"at {where}); a store holds one contig: split the VCF with "
                        "`bcftools view -r CHROM` and convert each"
                    )
                alts = rec.ALT
                if len(alts) != 1:
                    multi += len(alts) > 1
                    non_snv += len(alts) == 0
                    continue
                if not _is_snv(rec.REF, alts[0], binary_alleles):
                    non_snv += 1
                    saw_binary = saw_binary or (rec.REF == "0" and alts[0] == "1")
                    continue
                if pos > POS_MAX:
                    raise VCFFormatError(
                        f"{where}: position {pos} is above {POS_MAX}, the largest position a "
                        "store holds (int32 variants/POS); split or re-map the contig"
                    )
                if last_pos > pos:
                    raise VCFFormatError(
                        f"{vcf_path} is not sorted by position ({where} after position "
                        f"{last_pos}); sort it with `bcftools sort`"
                    )
                last_pos = pos
                raw = rec.format("GT", int)
                if ploidy < 0:
                    ploidy = raw.shape[1] if raw is not None and raw.ndim == 2 else 0
                calls, phased = _decode_gt(raw, ploidy, samples, where)
                all_phased = all_phased and phased
                buf_gt.append(calls)
                buf_pos.append(pos)
                buf_ref.append(rec.REF.upper().encode())
                buf_alt.append(alts[0].upper().encode())
                kept += 1
                if len(buf_gt) >= chunk_sites:
                    flush()
            flush()
        except VCFFormatError:
            raise
        except Exception as exc:  # htslib parse/truncation errors surface as Exception
            raise VCFFormatError(
                f"error reading {vcf_path} after {kept + multi + non_snv} records ({exc}); "
                "the file is truncated or malformed: re-create it and check it with "
                "`bgzip -t` / `bcftools view`"
            ) from exc
        finally:
            bar.close()
            reader.close()
        if gt_ds is None:
            hint = (
                "; its REF/ALT are 0/1 (as tskit writes for a binary mutation model): pass "
                "binary_alleles=True (CLI: --binary-alleles) to keep them"
                if saw_binary
                else ""
            )
            raise VCFFormatError(
                f"{vcf_path}: no biallelic SNV to store (skipped {multi} multi-allelic and "
                f"{non_snv} non-SNV records){hint}"
            )
        f.attrs["phased"] = bool(all_phased)
        f.attrs["source"] = str(vcf_path.name)
        f.attrs["skipped_multiallelic"] = int(multi)
        f.attrs["skipped_non_snv"] = int(non_snv)
    return ConvertStats(
        n_samples=n,
        ploidy=ploidy,
        kept=kept,
        multiallelic=multi,
        non_snv=non_snv,
        phased=all_phased,
    )
