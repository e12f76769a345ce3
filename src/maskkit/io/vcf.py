"""VCF -> HDF5 conversion into scikit-allel's layout, biallelic SNVs only.

The parser is cyvcf2: it wraps htslib (bgzip/tabix, BCF, truncation checks) and hands back each
record's genotypes as one numpy array, which is what a streaming converter needs; pysam is
heavier to install and scikit-allel's own reader is unmaintained on recent numpy.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np

from ._atomic import atomic_file
from ._deps import progress, require
from ._errors import VCFFormatError
from .store import GT_PATH, POS_PATH, SAMPLES_PATH

__all__ = ["ConvertStats", "vcf_to_hdf5"]

_BASES = frozenset("ACGTN")
_BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")


@dataclasses.dataclass(frozen=True)
class ConvertStats:
    """What :func:`vcf_to_hdf5` kept and skipped.

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


def _is_snv(ref: str, alt: str) -> bool:
    return len(ref) == 1 and len(alt) == 1 and ref.upper() in _BASES and alt.upper() in _BASES


def vcf_to_hdf5(
    vcf_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    chunk_sites: int = 1024,
    compression: str | None = "gzip",
    show_progress: bool = False,
) -> ConvertStats:
    """Convert a VCF/BCF (optionally bgzipped) to a scikit-allel-layout HDF5 haplotype store.

    Keeps biallelic SNVs; multi-allelic and non-SNV records are skipped and counted. Missing
    calls become ``-1``. Whether every call was phased is stored in the root attribute
    ``phased``. Output goes to a temporary file renamed onto ``out_path`` only on success.

    Parameters
    ----------
    vcf_path
        Input ``.vcf``, ``.vcf.gz`` or ``.bcf``.
    out_path
        Output ``.h5``; its directory must exist.
    overwrite
        Replace an existing ``out_path``.
    chunk_sites
        Sites buffered per HDF5 write, and the chunk length along the sites axis.
    compression
        h5py compression filter for ``calldata/GT`` (``None`` for none).
    show_progress
        Show a tqdm progress bar (only on a terminal).

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
    VCFFormatError
        The VCF is truncated, unparsable, has no samples, or mixes ploidies.

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
    if not vcf_path.is_file():
        raise FileNotFoundError(f"VCF {vcf_path} does not exist (argument vcf_path)")
    if chunk_sites < 1:
        raise ValueError(f"chunk_sites must be >= 1, got {chunk_sites}")
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
                gt_ds = f.create_dataset(
                    GT_PATH,
                    shape=(0, n, ploidy),
                    maxshape=(None, n, ploidy),
                    dtype=np.int8,
                    chunks=(chunk_sites, min(n, 256), ploidy),
                    compression=compression,
                )
                pos_ds = f.create_dataset(
                    POS_PATH,
                    shape=(0,),
                    maxshape=(None,),
                    dtype=np.int32,
                    chunks=(chunk_sites,),
                )
                ref_ds = f.create_dataset(
                    "variants/REF",
                    shape=(0,),
                    maxshape=(None,),
                    dtype="S1",
                    chunks=(chunk_sites,),
                )
                alt_ds = f.create_dataset(
                    "variants/ALT",
                    shape=(0,),
                    maxshape=(None,),
                    dtype="S1",
                    chunks=(chunk_sites,),
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
                alts = rec.ALT
                if len(alts) != 1:
                    multi += len(alts) > 1
                    non_snv += len(alts) == 0
                    continue
                if not _is_snv(rec.REF, alts[0]):
                    non_snv += 1
                    continue
                if last_pos > rec.POS:
                    raise VCFFormatError(
                        f"{vcf_path} is not sorted by position ({rec.CHROM}:{rec.POS} "
                        f"after {last_pos}); sort it with `bcftools sort`"
                    )
                last_pos = rec.POS
                if chrom is None:
                    chrom = rec.CHROM
                elif chrom != rec.CHROM:
                    raise VCFFormatError(
                        f"{vcf_path} has more than one chromosome ({chrom!r}, "
                        f"{rec.CHROM!r}); a store holds one contig: split the VCF with "
                        "`bcftools view -r CHROM` and convert each"
                    )
                arr = rec.genotype.array()  # (samples, ploidy + 1), last column = phased
                p = arr.shape[1] - 1
                if ploidy < 0:
                    ploidy = p
                elif p != ploidy:
                    raise VCFFormatError(
                        f"{vcf_path}:{rec.CHROM}:{rec.POS} has ploidy {p} but earlier "
                        f"records have ploidy {ploidy}; maskkit stores one ploidy per file"
                    )
                calls = arr[:, :p]
                called = (calls >= 0).all(axis=1)
                if p > 1 and all_phased and not arr[called, p].all():
                    all_phased = False
                buf_gt.append(np.where(calls < 0, -1, calls).astype(np.int8))
                buf_pos.append(rec.POS)
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
        if gt_ds is None:  # no SNVs kept: still a valid, empty store
            ploidy = max(ploidy, 2)
            f.create_dataset(GT_PATH, shape=(0, n, ploidy), dtype=np.int8)
            f.create_dataset(POS_PATH, shape=(0,), dtype=np.int32)
            f.create_dataset("variants/REF", shape=(0,), dtype="S1")
            f.create_dataset("variants/ALT", shape=(0,), dtype="S1")
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
