"""VCF in and out for the imputer: targets and panels read with cyvcf2, imputed VCF written indexed.

:func:`read_calls` reads a VCF (or a maskkit store) into diploid haplotypes and the site columns.

:func:`write_imputed_vcf` writes phased ``GT``, ``DS`` and ``GP`` per sample and ``INFO``
``DR2`` (estimated squared correlation of the imputed dosage with the true one, Beagle's
estimator), ``AF`` (estimated alt-allele frequency in the targets) and ``IMP`` (the site is not in
the targets: every call was imputed). Records of target sites that the model does not hold pass
through unchanged. The file is BGZF (the blocked gzip that htslib reads, each block a gzip member
of at most 64 KiB) and its ``.tbi`` index is built from the records' virtual offsets, so
``bcftools``, ``tabix`` and ``cyvcf2`` can query regions.
"""

from __future__ import annotations

import dataclasses
import os
import struct
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

_BLOCK = 0xFF00  # uncompressed bytes per BGZF block, as htslib writes them
_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")

INFO_FORMAT = (
    '##INFO=<ID=DR2,Number=A,Type=Float,Description="Dosage R-Squared: estimated squared '
    'correlation between estimated REF dose [P(RA) + 2*P(RR)] and true REF dose">',
    '##INFO=<ID=AF,Number=A,Type=Float,Description="Estimated ALT Allele Frequencies">',
    '##INFO=<ID=IMP,Number=0,Type=Flag,Description="Imputed marker">',
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
    '##FORMAT=<ID=DS,Number=A,Type=Float,Description="estimated ALT dose [P(RA) + 2*P(AA)]">',
    '##FORMAT=<ID=GP,Number=G,Type=Float,Description="Estimated Genotype Probability">',
)


def header_id(line: str) -> str | None:
    """The ``ID`` of an ``##INFO`` or ``##FORMAT`` header line (None for other lines)."""
    if not line.startswith(("##INFO=<", "##FORMAT=<")) or "ID=" not in line:
        return None
    return line.split("ID=", 1)[1].split(",", 1)[0]


class BgzfWriter:
    """Blocked gzip output that knows the virtual offset (block start << 16 | offset) of what
    it writes next."""

    def __init__(self, f: BinaryIO) -> None:
        self.f, self.buf, self.block_start = f, bytearray(), 0

    def tell(self) -> int:
        """Virtual offset of the next byte written."""
        return (self.block_start << 16) | len(self.buf)

    def write(self, data: bytes) -> None:
        self.buf += data
        while len(self.buf) >= _BLOCK:
            self._flush(_BLOCK)

    def _flush(self, n: int) -> None:
        chunk = bytes(self.buf[:n])
        del self.buf[:n]
        comp = zlib.compressobj(6, zlib.DEFLATED, -15)
        data = comp.compress(chunk) + comp.flush()
        size = 18 + len(data) + 8
        head = struct.pack("<4BI2BH2BHH", 31, 139, 8, 4, 0, 0, 255, 6, 66, 67, 2, size - 1)
        self.f.write(head + data + struct.pack("<II", zlib.crc32(chunk), len(chunk)))
        self.block_start += size

    def close(self) -> None:
        if self.buf:
            self._flush(len(self.buf))
        self.f.write(_EOF)


def _reg2bin(beg: int, end: int) -> int:
    """The tabix bin of 0-based half-open ``[beg, end)`` (min shift 14, depth 5)."""
    end -= 1
    for shift, first in ((14, 4681), (17, 585), (20, 73), (23, 9), (26, 1)):
        if beg >> shift == end >> shift:
            return first + (beg >> shift)
    return 0


def tabix_index(contigs: list[str], records: list[list[tuple[int, int, int, int]]]) -> bytes:
    """The ``.tbi`` bytes (uncompressed) for VCF records ``(beg, end, vstart, vend)`` per contig,
    sorted by ``beg``."""
    names = b"".join(c.encode() + b"\0" for c in contigs)
    out = bytearray(b"TBI\1")
    out += struct.pack("<8i", len(contigs), 2, 1, 2, 0, ord("#"), 0, len(names)) + names
    for recs in records:
        bins: dict[int, list[list[int]]] = {}
        linear: dict[int, int] = {}
        for beg, end, vs, ve in recs:
            chunks = bins.setdefault(_reg2bin(beg, end), [])
            if chunks and chunks[-1][1] == vs:
                chunks[-1][1] = ve
            else:
                chunks.append([vs, ve])
            for w in range(beg >> 14, ((end - 1) >> 14) + 1):
                linear.setdefault(w, vs)
        out += struct.pack("<i", len(bins))
        for b, chunks in sorted(bins.items()):
            out += struct.pack("<Ii", b, len(chunks))
            for vs, ve in chunks:
                out += struct.pack("<QQ", vs, ve)
        n_intv = max(linear) + 1 if linear else 0
        offsets, last = [], recs[0][2] if recs else 0
        for w in range(n_intv):  # an empty window takes the one before it (a lower bound)
            last = linear.get(w, last)
            offsets.append(last)
        out += struct.pack(f"<i{n_intv}Q", n_intv, *offsets)
    out += struct.pack("<Q", 0)
    return bytes(out)


def write_bgzf_vcf(
    path: str | os.PathLike[str], header: list[str], records: Iterable[tuple[str, int, int, str]]
) -> Path:
    """Write ``header`` lines and ``records`` ``(chrom, 1-based pos, ref length, line)`` (sorted
    by contig then position) as a BGZF VCF with its ``.tbi`` index, each atomically."""
    from maskkit.io._atomic import atomic_file

    p = Path(path)
    contigs: list[str] = []
    recs: list[list[tuple[int, int, int, int]]] = []
    with atomic_file(p, overwrite=True) as tmp, open(tmp, "wb") as f:
        w = BgzfWriter(f)
        w.write(("\n".join(header) + "\n").encode())
        for chrom, pos, ref_len, line in records:
            if not contigs or contigs[-1] != chrom:
                contigs.append(chrom)
                recs.append([])
            vs = w.tell()
            w.write(line.encode() + b"\n")
            recs[-1].append((pos - 1, pos - 1 + max(ref_len, 1), vs, w.tell()))
        w.close()
    with atomic_file(Path(str(p) + ".tbi"), overwrite=True) as tmp, open(tmp, "wb") as f:
        w = BgzfWriter(f)
        w.write(tabix_index(contigs, recs))
        w.close()
    return p


def genotype_probabilities(alt_p: np.ndarray) -> np.ndarray:
    """``GP`` ``(samples, sites, 3)`` of diploid ``alt_p`` ``(samples, 2, sites)``, the
    haplotypes' P(alt) taken as independent."""
    p0, p1 = alt_p[:, 0], alt_p[:, 1]
    return np.stack([(1 - p0) * (1 - p1), p0 * (1 - p1) + (1 - p0) * p1, p0 * p1], axis=-1)


def dosage_r2(alt_p: np.ndarray) -> np.ndarray:
    """Beagle's DR2 per site from haplotype P(alt) ``(samples, ploidy, sites)``: the variance of
    the estimated dosages over the variance their mean implies (1 when every call is certain,
    0 when every haplotype gets the frequency itself)."""
    p = alt_p.reshape(-1, alt_p.shape[-1]).astype(np.float64)
    n = p.shape[0]
    s, ss = p.sum(axis=0), (p * p).sum(axis=0)
    mean = s / n
    den = s * (1.0 - mean)
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = np.where(den > 0, (ss - s * mean) / den, 0.0)
    return np.clip(r2, 0.0, 1.0)


def _num(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".") if x else "0"


def imputed_lines(
    chrom: str,
    pos: np.ndarray,
    ids: list[str],
    ref: list[str],
    alt: list[str],
    gt: np.ndarray,
    alt_p: np.ndarray,
    in_targets: np.ndarray,
) -> Iterable[tuple[str, int, int, str]]:
    """VCF records of the model's sites: phased ``GT`` of ``gt`` ``(samples, 2, sites)``, ``DS``
    and ``GP`` from ``alt_p``, INFO ``DR2``/``AF`` and ``IMP`` where ``~in_targets``."""
    ds = alt_p.sum(axis=1)
    gp = genotype_probabilities(alt_p)
    dr2 = dosage_r2(alt_p)
    af = alt_p.mean(axis=(0, 1))
    for j in range(pos.shape[0]):
        info = f"DR2={_num(dr2[j])};AF={af[j]:.4g}" + ("" if in_targets[j] else ";IMP")
        calls = "\t".join(
            f"{gt[i, 0, j]}|{gt[i, 1, j]}:{_num(ds[i, j])}:"
            f"{_num(gp[i, j, 0])},{_num(gp[i, j, 1])},{_num(gp[i, j, 2])}"
            for i in range(gt.shape[0])
        )
        line = (
            f"{chrom}\t{pos[j]}\t{ids[j]}\t{ref[j]}\t{alt[j]}\t.\tPASS\t{info}\tGT:DS:GP\t{calls}"
        )
        yield chrom, int(pos[j]), len(ref[j]), line


def merge_sorted(*streams: Iterable[tuple[str, int, int, str]]) -> list[Any]:
    """Records of one contig from several streams, by position (stable)."""
    allrec = [r for s in streams for r in s]
    allrec.sort(key=lambda r: r[1])
    return allrec


@dataclasses.dataclass
class Calls:
    """Diploid calls of a VCF or store: ``haps`` ``(samples, 2, sites)`` int8 (``-1`` missing);
    site columns (None where the source has none); the VCF's header and raw record lines."""

    haps: np.ndarray
    positions: np.ndarray
    samples: np.ndarray
    chrom: list[str] | None = None
    ids: list[str] | None = None
    ref: list[str] | None = None
    alt: list[str] | None = None
    phased: bool | None = None
    biallelic: np.ndarray | None = None
    header: list[str] | None = None
    lines: list[str] | None = None


def is_vcf(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names a VCF (``.vcf``, ``.vcf.gz``, ``.vcf.bgz``) or BCF."""
    name = str(path).lower()
    return name.endswith((".vcf", ".vcf.gz", ".vcf.bgz", ".bcf"))


def read_calls(path: str | os.PathLike[str]) -> Calls:
    """Read a VCF with cyvcf2, or a maskkit store (HDF5 / VCF Zarr), into :class:`Calls`.

    A VCF's multi-allelic records keep their raw line (``biallelic`` False) and no calls;
    genotypes must be diploid. ``phased`` is True when every called genotype is phased.
    """
    from .data import InputError, read_store, store_phased

    p = Path(path)
    if not p.exists():
        raise InputError(f"file not found: {p}")
    if not is_vcf(p):
        haps, pos, samples = read_store(p)
        from maskkit import io as mkio

        store = mkio.open_store(p, verbose=False)
        try:
            ra = store.ref_alt()
        finally:
            store.close()
        ref = None if ra is None else [str(x) for x in ra[0]]
        alt = None if ra is None else [str(x) for x in ra[1]]
        return Calls(haps, pos, samples, ref=ref, alt=alt, phased=store_phased(p))
    try:
        import cyvcf2
    except ImportError as exc:
        raise InputError('reading VCF needs cyvcf2: pip install "maskkit[vcf]"') from exc
    try:
        vcf = cyvcf2.VCF(str(p))
    except OSError as exc:
        raise InputError(f"cannot read VCF {p}: {exc}") from exc
    header = [ln for ln in vcf.raw_header.splitlines() if ln.startswith("##")]
    samples = np.asarray(vcf.samples)
    cols: list[np.ndarray] = []
    chrom, pos, ids, ref, alt, bi, lines = [], [], [], [], [], [], []
    phased = True
    for v in vcf:
        g = v.genotype.array() if v.genotype is not None else None
        if g is None or g.shape[1] != 3:
            raise InputError(f"{p}: {v.CHROM}:{v.POS} is not diploid; the imputer reads diploids")
        two = len(v.ALT) == 1
        calls = g[:, :2].astype(np.int8)
        called = (calls >= 0).all(axis=1)
        phased = phased and bool(g[called, 2].all())
        cols.append(calls if two else np.full_like(calls, -1))
        chrom.append(v.CHROM)
        pos.append(v.POS)
        ids.append(v.ID or ".")
        ref.append(v.REF)
        alt.append(v.ALT[0] if v.ALT else ".")
        bi.append(two)
        lines.append(str(v).rstrip("\n"))
    vcf.close()
    haps = np.stack(cols, axis=-1) if cols else np.zeros((samples.size, 2, 0), np.int8)
    return Calls(
        np.ascontiguousarray(haps), np.asarray(pos, dtype=np.int64), samples, chrom, ids, ref,
        alt, phased, np.asarray(bi, dtype=bool), header, lines,
    )  # fmt: skip
