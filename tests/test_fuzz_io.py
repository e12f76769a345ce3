"""Fuzzing the readers: every VCF record is stored exactly or the conversion fails with a named
error; every store is read exactly or refused. Never a wrapped, dropped or altered value."""

from __future__ import annotations

import contextlib
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from strategies import store_layouts, vcf_texts

from maskkit import io

FUZZ = settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
POS_MAX = 2**31 - 1


class Refused(Exception):
    """The independent reader's verdict: this input must be refused."""


def read_vcf(header: str, records: str, binary_alleles: bool) -> dict[str, Any]:
    """An independent reader of the small VCFs the strategy writes (no htslib, no maskkit).

    Rules (the documented ones): one contig; biallelic SNVs kept (REF/ALT one of ACGTN, any
    case, or 0/1 with ``binary_alleles``), multi-allelic and other records skipped and
    counted; kept positions sorted and <= 2**31 - 1; the first kept record sets the ploidy;
    a shorter call is stored missing only if all its alleles are missing; alleles 0, 1, '.'.
    """
    samples = header.rstrip("\n").split("\n")[-1].split("\t")[9:]
    if len(set(samples)) != len(samples):
        raise Refused("duplicate sample names")
    chrom = None
    ploidy = -1
    last = -1
    gts, pos, ref, alt = [], [], [], []
    multi = non_snv = 0
    phased = True
    for line in records.split("\n"):
        if not line:
            continue
        f = line.split("\t")
        if len(f) != 9 + len(samples) or f[8] != "GT" or not f[1].isdigit():
            raise Refused("malformed line")
        if chrom is None:
            chrom = f[0]
        elif f[0] != chrom:
            raise Refused("second contig")
        alts = [] if f[4] == "." else f[4].split(",")
        if len(alts) != 1:
            multi += len(alts) > 1
            non_snv += len(alts) == 0
            continue
        r, a = f[3], alts[0]
        snv = len(r) == 1 and len(a) == 1 and r.upper() in "ACGTN" and a.upper() in "ACGTN"
        if not (snv or (binary_alleles and (r, a) == ("0", "1"))):
            non_snv += 1
            continue
        p = int(f[1])
        if p > POS_MAX or p < last:
            raise Refused("position")
        last = p
        calls = []
        for c in f[9:]:
            if not re.fullmatch(r"(\.|\d+)([|/](\.|\d+))*", c):
                raise Refused("malformed call")
            parts = re.split(r"[|/]", c)
            calls.append(([-1 if x == "." else int(x) for x in parts], re.findall(r"[|/]", c)))
        if ploidy < 0:
            ploidy = max(len(al) for al, _ in calls)
        row = []
        for al, seps in calls:
            if len(al) > ploidy or any(x > 1 for x in al):
                raise Refused("ploidy or allele index")
            if len(al) < ploidy:
                if any(x >= 0 for x in al):
                    raise Refused("short call")
                al = [-1] * ploidy
            elif ploidy > 1 and min(al) >= 0 and "/" in seps:
                phased = False
            row.append(al)
        gts.append(row)
        pos.append(p)
        ref.append(r.upper())
        alt.append(a.upper())
    if not gts:
        raise Refused("nothing kept")
    haps = np.asarray(gts, dtype=np.int8).transpose(1, 2, 0)
    return {"haps": haps, "pos": pos, "samples": samples, "ref": ref, "alt": alt,
            "phased": phased, "multi": multi, "non_snv": non_snv}  # fmt: skip


@contextlib.contextmanager
def _converted(text: str, binary_alleles: bool) -> Iterator[tuple[Any, Path, Path]]:
    """Yield ``(stats or the VCFFormatError raised, output path, folder)``; remove the folder."""
    with tempfile.TemporaryDirectory(prefix="maskkit-fuzz-") as name:
        folder = Path(name)
        vcf = folder / "in.vcf"
        vcf.write_text(text)
        out = folder / "out.h5"
        try:
            result: Any = io.vcf_to_hdf5(
                vcf, out, show_progress=False, binary_alleles=binary_alleles
            )
        except io.VCFFormatError as exc:
            result = exc
        yield result, out, folder


def _stored(out: Path, stats: Any) -> dict[str, Any]:
    with io.open_store(out) as store:
        ref, alt = store.ref_alt()
        got = {
            "haps": store.to_numpy(),
            "pos": store.positions.tolist(),
            "samples": store.samples.tolist(),
            "ref": ref.tolist(),
            "alt": alt.tolist(),
            "phased": store.phased,
        }
    return {**got, "multi": stats.multiallelic, "non_snv": stats.non_snv}


def _same(got: dict[str, Any], want: dict[str, Any], keys: tuple[str, ...] = ()) -> bool:
    return all(
        np.array_equal(got[k], want[k]) and np.asarray(got[k]).shape == np.asarray(want[k]).shape
        if k == "haps"
        else got[k] == want[k]
        for k in keys or tuple(want)
    )


def _verdict(header: str, records: str, binary: bool) -> dict[str, Any] | None:
    try:
        return read_vcf(header, records, binary)
    except Refused:
        return None


@FUZZ
@given(vcf=vcf_texts(), binary=st.booleans())
def test_vcf_records_are_stored_exactly_or_reported(vcf, binary):
    header, records = vcf
    want = _verdict(header, records, binary)
    with _converted(header + records, binary) as (result, out, folder):
        if want is None:
            assert isinstance(result, io.VCFFormatError), "the reader refuses this VCF"
            assert not out.exists()
        else:
            assert not isinstance(result, Exception), result
            got = _stored(out, result)
            assert _same(got, want), (got, want)
            assert result.kept == len(want["pos"])
        names = sorted(p.name for p in folder.iterdir())
        assert names == ["in.vcf"] + (["out.h5"] if want else [])


@FUZZ
@given(vcf=vcf_texts(), cut=st.floats(0, 1))
def test_truncated_vcf_is_reported_or_stores_a_prefix(vcf, cut):
    header, records = vcf
    records = records[: int(len(records) * cut)]
    complete = records[: records.rfind("\n") + 1]
    candidates = [c for c in (_verdict(header, complete, False), _verdict(header, records, False))
                  if c is not None]  # fmt: skip
    with _converted(header + records, False) as (result, out, _):
        if isinstance(result, io.VCFFormatError):
            assert not out.exists()
            return
        got = _stored(out, result)
    # the data must be a prefix; htslib may count a cut, skipped record among the skipped ones
    data = ("haps", "pos", "samples", "ref", "alt", "phased")
    assert any(_same(got, c, data) for c in candidates), (got, candidates)


def expected_store(layout: dict[str, Any]) -> np.ndarray | None:
    """What reading ``layout`` must give as ``(samples, ploidy, sites)`` int8, or None: refused."""
    gt, pos, samples = layout["gt"], layout["pos"], layout["samples"]
    if gt.dtype.kind not in "iu" or gt.shape[2] == 0 or pos.shape != (gt.shape[0],):
        return None
    if pos.size and pos.dtype.kind == "f":
        return None
    if samples is not None and len(samples) != gt.shape[1]:
        return None
    wide = gt.astype(np.int64)
    if (wide > 127).any():
        return None
    return np.where(wide < -128, -1, wide).astype(np.int8).transpose(1, 2, 0)


def read_or_refused(path: Path, want: np.ndarray | None, **kwargs: Any) -> np.ndarray | None:
    """Read the whole store at ``path`` (in store order and reversed) and compare with ``want``.

    ``want`` None: the store must be refused with StoreFormatError. Returns the positions read.
    """
    try:
        with io.open_store(path, **kwargs) as store:
            got = store.to_numpy()
            window = store.read(np.arange(store.n_samples)[::-1], 0, store.n_sites)
            positions = store.positions
    except io.StoreFormatError:
        assert want is None, "a store the reference reads was refused"
        return None
    assert want is not None, f"read {got!r} from a store that must be refused"
    assert got.dtype == np.int8
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(window, want[::-1])
    return positions


@FUZZ
@given(layout=store_layouts(), in_memory=st.booleans())
def test_stores_are_read_exactly_or_refused(layout, in_memory):
    want = expected_store(layout)
    with tempfile.TemporaryDirectory(prefix="maskkit-fuzz-") as name:
        path = Path(name) / "s.h5"
        with h5py.File(path, "w") as f:
            f["calldata/GT"] = layout["gt"]
            f["variants/POS"] = layout["pos"]
            if layout["samples"] is not None:
                f.create_dataset("samples", data=layout["samples"], dtype=h5py.string_dtype())
        read_or_refused(path, want, in_memory=in_memory, verbose=False)


def test_the_reference_reader_can_fail():
    header = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tA\n"

    def rec(chrom: str, ref: str, gt: str) -> str:
        return f"{chrom}\t5\t.\t{ref}\tC\t.\t.\t.\tGT\t{gt}\n"

    good = read_vcf(header, rec("1", "A", "0|1"), False)
    assert good["haps"].tolist() == [[[0], [1]]]
    for bad in (
        rec("1", "A", "0|2"),  # allele index beyond the one ALT
        rec("1", "A", "0|1") + rec("1", "A", "1"),  # haploid call in a diploid store
        rec("1", "A", "0|1") + rec("2", "A", "0|1"),  # a second contig
        rec("1", "AT", "0|1"),  # nothing kept
    ):
        with pytest.raises(Refused):
            read_vcf(header, bad, False)


# -- VCF Zarr: generated stores, dtypes, fill values, absent and cut chunks ------------------

_VCZ_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.float32]


@st.composite
def vcz_layouts(draw: st.DrawFn) -> dict[str, Any]:
    """Arrays of a small VCF Zarr store, with how each is chunked, compressed and filled."""
    dtype = np.dtype(draw(st.sampled_from(_VCZ_DTYPES)))
    shape = (draw(st.integers(1, 6)), draw(st.integers(1, 4)), draw(st.integers(1, 3)))
    values = [0, 1, 2, -1, -2, 127, 128, 255, 300, 2**40]
    if dtype.kind == "f":
        elements: st.SearchStrategy[Any] = st.sampled_from([0.0, 1.0, -1.0])
        fills: list[Any] = [None, 0.0]
    else:
        info = np.iinfo(dtype)
        fitting = [v for v in values if info.min <= v <= info.max]
        elements = st.sampled_from(fitting[:4]) if draw(st.booleans()) else st.sampled_from(fitting)
        fills = [None, *fitting]
    pos_kind = draw(st.sampled_from(["int32", "int64", "uint64", "float64", "bad float", "huge"]))
    pos: np.ndarray = np.arange(1, shape[0] + 1) * 10
    if pos_kind == "bad float":
        pos = pos.astype(np.float64)
        pos[draw(st.integers(0, shape[0] - 1))] = draw(st.sampled_from([2.5, np.nan, np.inf]))
    elif pos_kind == "huge":
        pos = pos.astype(np.uint64)
        pos[-1] = 2**63 + draw(st.integers(0, 5))
    else:
        pos = pos.astype(pos_kind)
    return {
        "gt": draw(hnp.arrays(dtype, shape, elements=elements)),
        "mask": draw(st.none() | hnp.arrays(np.bool_, shape)),
        "pos": pos,
        "fill": draw(st.sampled_from(fills)),
        "chunks": (draw(st.integers(1, shape[0])), draw(st.integers(1, shape[1])), shape[2]),
        "compressor": draw(st.sampled_from(["blosc", "zstd", "gzip", "none"])),
        "samples": draw(st.sampled_from([None, shape[1], shape[1] + 1])),
    }


def _write_vcz(path: Path, layout: dict[str, Any]) -> None:
    import numcodecs
    import zarr

    codec = {
        "blosc": numcodecs.Blosc(),
        "zstd": numcodecs.Zstd(),
        "gzip": numcodecs.GZip(),
        "none": None,
    }[layout["compressor"]]
    root = zarr.open_group(path, mode="w", zarr_format=2)
    chunks = layout["chunks"]
    root.create_array(
        "call_genotype",
        data=layout["gt"],
        chunks=chunks,
        fill_value=layout["fill"],
        compressors=codec,
    )
    if layout["mask"] is not None:
        root.create_array(
            "call_genotype_mask", data=layout["mask"], chunks=chunks, compressors=codec
        )
    root.create_array(
        "variant_position", data=layout["pos"], chunks=(chunks[0],), compressors=codec
    )
    if layout["samples"] is not None:
        root.create_array("sample_id", data=np.array([f"s{i}" for i in range(layout["samples"])]))


def _chunk_files(path: Path, name: str) -> list[Path]:
    folder = path / name
    return (
        sorted(p for p in folder.iterdir() if not p.name.startswith(".")) if folder.is_dir() else []
    )


def _region(chunk: Path, chunks: tuple[int, ...]) -> tuple[slice, ...]:
    idx = [int(x) for x in chunk.name.split(".")]
    return tuple(slice(i * c, (i + 1) * c) for i, c in zip(idx, chunks))


def expected_vcz(layout: dict[str, Any], absent: dict[str, list[Path]], cut: bool) -> Any:
    """What reading the store must give as ``(samples, ploidy, sites)`` int8, or None: refused.

    Rules: genotypes of an integer dtype; positions whole numbers within int64; as many sample
    names as samples; an absent chunk holds the fill value (``None``: 0 = REF, mask False);
    a cut chunk, or an allele index above 127 anywhere, is refused; negative or masked = -1.
    """
    gt, pos = layout["gt"], layout["pos"]
    if cut or gt.dtype.kind not in "iu":
        return None
    if layout["samples"] not in (None, gt.shape[1]):
        return None
    if pos.dtype.kind == "f" and not (np.isfinite(pos).all() and (pos == np.floor(pos)).all()):
        return None
    if pos.dtype.kind == "u" and int(pos.max()) > 2**63 - 1:
        return None
    wide = gt.astype(np.int64)
    mask = np.zeros(gt.shape, bool) if layout["mask"] is None else layout["mask"].copy()
    for chunk in absent["call_genotype"]:
        wide[_region(chunk, layout["chunks"])] = layout["fill"] or 0
    for chunk in absent["call_genotype_mask"]:
        mask[_region(chunk, layout["chunks"])] = False
    if (wide > 127).any():
        return None
    return np.where(mask | (wide < 0), -1, wide).astype(np.int8).transpose(1, 2, 0)


@FUZZ
@given(layout=vcz_layouts(), data=st.data())
def test_vcz_stores_are_read_exactly_or_refused(layout, data):
    pytest.importorskip("zarr", reason="VCF Zarr needs zarr >= 3.1 (Python >= 3.11)")
    names = ("call_genotype", "call_genotype_mask")
    with tempfile.TemporaryDirectory(prefix="maskkit-fuzz-") as name:
        path = Path(name) / "s.vcz"
        _write_vcz(path, layout)
        absent: dict[str, list[Path]] = {n: [] for n in names}
        cut = False
        for array in (*names, "variant_position"):
            for chunk in _chunk_files(path, array):
                what = data.draw(st.sampled_from(["keep", "keep", "keep", "delete", "cut"]))
                if what == "delete" and array != "variant_position":
                    chunk.unlink()
                    absent[array].append(chunk)
                elif what == "cut":
                    raw = chunk.read_bytes()
                    chunk.write_bytes(raw[: data.draw(st.integers(0, len(raw) - 1))])
                    cut = True
        want = expected_vcz(layout, absent, cut)
        positions = read_or_refused(path, want)
    if positions is not None:
        np.testing.assert_array_equal(positions, np.asarray(layout["pos"]).astype(np.int64))
