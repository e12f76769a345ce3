"""VCF Zarr stores written by bio2zarr against maskkit's own VCF -> HDF5 conversion."""

import pickle
import shutil
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from strategies import haplotypes

from maskkit import cli, io
from maskkit.io import _chunks

zarr = pytest.importorskip("zarr", reason="VCF Zarr needs zarr >= 3.1 (Python >= 3.11)")
b2z_vcf = pytest.importorskip("bio2zarr.vcf", reason="bio2zarr needs Python >= 3.11")

SAMPLES = ["HG01", "HG02", "HG03", "HG04", "HG05"]

# Biallelic SNVs with missing calls ("." in either haplotype), one contig, phased.
VCF_ONE = """\
##fileformat=VCFv4.2
##contig=<ID=chr7,length=100000>
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
#CHROM	POS	ID	REF	ALT	QUAL	FILTER	INFO	FORMAT	{samples}
chr7	101	.	A	G	.	PASS	.	GT	0|0	0|1	1|1	.|.	1|0
chr7	150	.	C	T	.	PASS	.	GT	1|0	0|0	0|1	0|0	.|1
chr7	230	.	G	A	.	PASS	.	GT	0|0	0|0	0|0	0|1	0|0
chr7	231	.	T	C	.	PASS	.	GT	1|1	1|1	0|.	1|0	0|0
chr7	400	.	A	C	.	PASS	.	GT	0|1	1|0	0|0	0|0	1|1
chr7	512	.	G	T	.	PASS	.	GT	0|0	.|.	1|0	0|0	0|1
chr7	777	.	C	G	.	PASS	.	GT	1|0	0|1	1|0	0|1	0|0
"""

# Two contigs: a store holding both serves one at a time.
VCF_TWO = """\
##fileformat=VCFv4.2
##contig=<ID=1,length=1000>
##contig=<ID=2,length=1000>
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
#CHROM	POS	ID	REF	ALT	QUAL	FILTER	INFO	FORMAT	{samples}
1	10	.	A	G	.	PASS	.	GT	0|1	0|0	1|1	0|0	1|0
1	20	.	C	T	.	PASS	.	GT	0|0	1|1	0|0	0|1	0|0
2	5	.	G	A	.	PASS	.	GT	1|1	0|.	0|0	1|0	0|1
2	15	.	T	C	.	PASS	.	GT	0|0	0|0	1|0	0|0	1|1
2	25	.	A	T	.	PASS	.	GT	1|0	1|0	0|1	.|.	0|0
"""


def _parse(text, contig=None):
    """Independent reader of the test VCFs: ((samples, ploidy, sites) int8, positions)."""
    rows, pos = [], []
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        f = line.split("\t")
        if contig is not None and f[0] != contig:
            continue
        pos.append(int(f[1]))
        rows.append([[-1 if a == "." else int(a) for a in g.split("|")] for g in f[9:]])
    return np.array(rows, dtype=np.int8).transpose(1, 2, 0), np.array(pos)


def _write(path, template):
    path.write_text(template.format(samples="\t".join(SAMPLES)))
    return path


def _to_vcz(vcf, out, **chunks):
    b2z_vcf.convert([vcf], out, **chunks)
    return out


@pytest.fixture(scope="module")
def one(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("vcz")
    vcf = _write(tmp / "one.vcf", VCF_ONE)
    vcz = _to_vcz(vcf, tmp / "one.vcz", variants_chunk_size=3, samples_chunk_size=2)
    h5 = tmp / "one.h5"
    assert cli.main(["convert", str(vcf), str(h5), "--no-progress"]) == 0
    return vcf, vcz, h5


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A simulated VCF (~150 sites, 30 samples) as VCZ (small chunks) and HDF5."""
    tmp = tmp_path_factory.mktemp("demo")
    data = io.simulate_demo(tmp / "d", n_diploids=30, length=60_000, seed=11, verbose=False)
    vcf = data.write_vcf(tmp / "d.vcf")
    vcz = _to_vcz(vcf, tmp / "d.vcz", variants_chunk_size=32, samples_chunk_size=8)
    h5 = tmp / "d.h5"
    assert cli.main(["convert", str(vcf), str(h5), "--no-progress"]) == 0
    return vcz, h5


def test_vcz_matches_the_vcf_and_the_hdf5_store(one):
    vcf, vcz, h5 = one
    expected, pos = _parse(vcf.read_text())
    a = io.open_store(vcz)
    b = io.open_store(h5)
    assert isinstance(a, io.VcfZarrStore)
    assert not isinstance(b, io.VcfZarrStore)
    assert isinstance(a, io.HaplotypeStore)
    assert (a.n_samples, a.ploidy, a.n_sites) == expected.shape
    np.testing.assert_array_equal(a.to_numpy(), expected)
    np.testing.assert_array_equal(a.to_numpy(), b.to_numpy())
    np.testing.assert_array_equal(a.positions, pos)
    np.testing.assert_array_equal(a.positions, b.positions)
    assert a.samples.tolist() == SAMPLES == b.samples.tolist()
    assert a.contig == "chr7"
    assert a.phased is True
    assert b.phased is True
    assert [x.tolist() for x in a.ref_alt()] == [x.tolist() for x in b.ref_alt()]


@pytest.mark.parametrize("idx", [[0], [4, 1, 4], [3, 2, 1, 0, 4], []])
@pytest.mark.parametrize(("start", "stop"), [(0, 7), (2, 5), (3, 4), (6, 6)])
@pytest.mark.parametrize("in_memory", [False, True])
def test_read_equals_numpy_slicing(one, idx, start, stop, in_memory):
    vcf, vcz, _ = one
    expected, _ = _parse(vcf.read_text())
    store = io.VcfZarrStore(vcz, in_memory=in_memory, verbose=False)
    got = store.read(np.array(idx, dtype=np.int64), start, stop)
    assert got.dtype == np.int8
    assert got.flags.c_contiguous
    np.testing.assert_array_equal(got, expected[np.array(idx, dtype=np.int64)][:, :, start:stop])


def test_zip_store(one, tmp_path):
    vcf, _, _ = one
    expected, _ = _parse(vcf.read_text())
    zipped = _to_vcz(vcf, tmp_path / "one.vcz.zip", variants_chunk_size=3)
    z = io.open_store(zipped)
    assert isinstance(z, io.VcfZarrStore)
    np.testing.assert_array_equal(z.to_numpy(), expected)
    z.close()
    np.testing.assert_array_equal(z.read([1], 0, 7), expected[[1]])  # re-opens after close


def test_url_with_storage_options(one):
    pytest.importorskip("fsspec", reason="zarr opens URLs through fsspec")
    vcf, vcz, _ = one
    expected, _ = _parse(vcf.read_text())
    url = io.open_store(vcz.resolve().as_uri(), storage_options={"auto_mkdir": False})
    np.testing.assert_array_equal(url.to_numpy(), expected)
    clone = pickle.loads(pickle.dumps(url))
    assert clone.storage_options == {"auto_mkdir": False}
    np.testing.assert_array_equal(clone.read([2], 1, 4), expected[[2], :, 1:4])
    with pytest.raises(ValueError, match="storage_options apply to URLs"):
        io.open_store(vcz, storage_options={"anon": True})


def test_zarr_format_3_store(one, tmp_path):
    vcf, _, h5 = one
    vcz = tmp_path / "v3.vcz"
    b2z_vcf.convert([vcf], vcz, variants_chunk_size=2, samples_chunk_size=3, zarr_format=3)
    assert (vcz / "zarr.json").is_file()
    store = io.open_store(vcz)
    np.testing.assert_array_equal(store.to_numpy(), io.open_store(h5).to_numpy())
    np.testing.assert_array_equal(store.read([4, 0], 1, 6), io.open_store(h5).read([4, 0], 1, 6))
    assert store.samples.tolist() == SAMPLES


def test_contigs(tmp_path):
    vcf = _write(tmp_path / "two.vcf", VCF_TWO)
    # bio2zarr reads an unindexed VCF only if it holds one contig: one file per contig.
    lines = vcf.read_text().splitlines(keepends=True)
    parts = []
    for name in ("1", "2"):
        part = tmp_path / f"two-{name}.vcf"
        part.write_text("".join(x for x in lines if x.startswith("#") or x.startswith(name)))
        parts.append(part)
    vcz = tmp_path / "two.vcz"
    b2z_vcf.convert(parts, vcz, variants_chunk_size=2)
    with pytest.raises(ValueError, match=r"2 contigs \['1', '2'\].*contig=NAME"):
        io.open_store(vcz)
    for name in ("1", "2"):
        expected, pos = _parse(vcf.read_text(), contig=name)
        store = io.open_store(vcz, contig=name)
        assert store.contig == name
        np.testing.assert_array_equal(store.positions, pos)
        np.testing.assert_array_equal(store.to_numpy(), expected)
        np.testing.assert_array_equal(store.read([3, 0], 1, store.n_sites), expected[[3, 0], :, 1:])
    with pytest.raises(ValueError, match=r"contig='3' is not in .*\['1', '2'\]"):
        io.open_store(vcz, contig="3")
    with pytest.raises(ValueError, match="apply to VCF Zarr"):
        io.open_store(tmp_path / "x.h5", contig="1")


def _toy(path, gt, mask=None, **arrays):
    root = zarr.open_group(path, mode="w", zarr_format=2)
    root.create_array("call_genotype", data=gt, chunks=(2, 2, gt.shape[2]))
    root.create_array("variant_position", data=np.arange(1, gt.shape[0] + 1))
    if mask is not None:
        root.create_array("call_genotype_mask", data=mask, chunks=(2, 2, gt.shape[2]))
    for name, value in arrays.items():
        root.create_array(name, data=value)
    return path


def test_mask_and_fill_values_read_as_missing(tmp_path):
    gt = np.array([[[0, 1], [1, -2]], [[1, 1], [0, 0]], [[-1, 0], [1, 1]]], dtype=np.int8)
    mask = np.zeros(gt.shape, dtype=bool)
    mask[1, 1, 0] = True  # masked although the value is a valid allele
    store = io.open_store(_toy(tmp_path / "t.vcz", gt, mask))
    expected = np.where(gt < 0, -1, gt)
    expected[1, 1, 0] = -1
    np.testing.assert_array_equal(store.to_numpy(), expected.transpose(1, 2, 0))
    assert store.samples.tolist() == ["sample0", "sample1"]
    assert store.phased is None
    assert store.ref_alt() is None
    in_memory = io.open_store(tmp_path / "t.vcz", in_memory=True, verbose=False)
    np.testing.assert_array_equal(in_memory.to_numpy(), expected.transpose(1, 2, 0))


@given(
    haps=haplotypes(dtype=np.int16, ndim=3, min_sites=1, max_sites=30, max_allele=127).filter(
        lambda h: h.shape[0] > 0
    ),
    data=st.data(),
)
def test_chunked_reads_equal_numpy_for_any_chunking(tmp_path_factory, haps, data):
    n, ploidy, sites = haps.shape
    gt = haps.transpose(2, 0, 1)
    mask = data.draw(hnp.arrays(bool, gt.shape))
    chunks = (data.draw(st.integers(1, sites)), data.draw(st.integers(1, n)), ploidy)
    path = tmp_path_factory.mktemp("p") / "p.vcz"
    root = zarr.open_group(path, mode="w", zarr_format=2)
    root.create_array("call_genotype", data=gt, chunks=chunks)
    root.create_array("call_genotype_mask", data=mask, chunks=chunks)
    root.create_array("variant_position", data=np.arange(1, sites + 1))
    expected = np.where(mask | (gt < 0), -1, gt).transpose(1, 2, 0).astype(np.int8)
    mb = data.draw(st.sampled_from([0.0, 0.0002, 64.0]))  # cache: none, a chunk or two, all
    store = io.VcfZarrStore(path, cache_mb=mb)
    for _ in range(3):
        idx = data.draw(st.lists(st.integers(0, n - 1), max_size=2 * n))
        start = data.draw(st.integers(0, sites))
        stop = data.draw(st.integers(start, sites))
        got = store.read(idx, start, stop)
        np.testing.assert_array_equal(
            got, expected[np.array(idx, dtype=np.int64)][:, :, start:stop]
        )
    np.testing.assert_array_equal(store.to_numpy(), expected)


# zarr format, create_array arguments, whether whole chunks are read past zarr's selections
CODECS = {
    "v2 blosc": (2, {"compressors": "blosc"}, True),
    "v2 zstd": (2, {"compressors": "zstd"}, True),
    "v2 uncompressed": (2, {"compressors": None}, True),
    "v2 with a filter": (2, {"filters": "delta"}, False),
    "v3 blosc": (3, {"compressors": "blosc"}, True),
    "v3 zstd": (3, {}, False),
}


@pytest.mark.parametrize("name", list(CODECS))
def test_whole_chunk_reads_equal_the_data_for_every_codec(tmp_path, name):
    import numcodecs

    fmt, kwargs, past_zarr = CODECS[name]
    made = {
        ("compressors", "blosc"): numcodecs.Blosc() if fmt == 2 else zarr.codecs.BloscCodec(),
        ("compressors", "zstd"): numcodecs.Zstd(),
        ("filters", "delta"): [numcodecs.Delta("int8")],
    }
    kwargs = {k: made.get((k, v), v) for k, v in kwargs.items()}
    rng = np.random.default_rng(3)
    gt = rng.integers(-2, 3, (37, 5, 2)).astype(np.int8)  # 37 sites, 5 samples: edge chunks
    mask = rng.random(gt.shape) < 0.1
    mask[16:] = False  # all False: those mask chunks are not stored (fill value)
    root = zarr.open_group(tmp_path / "c.vcz", mode="w", zarr_format=fmt)
    root.create_array("call_genotype", data=gt, chunks=(8, 2, 2), **kwargs)
    root.create_array("call_genotype_mask", data=mask, chunks=(8, 2, 2), **kwargs)
    root.create_array("variant_position", data=np.arange(1, 38))
    expected = np.where(mask | (gt < 0), -1, gt).transpose(1, 2, 0)
    store = io.VcfZarrStore(tmp_path / "c.vcz", cache_mb=0.0)
    idx = [4, 0, 2, 4, 1, 3]
    for start, stop in ((0, 37), (5, 30), (33, 37)):
        np.testing.assert_array_equal(store.read(idx, start, stop), expected[idx, :, start:stop])
    assert (store._readers[0] is not None) is past_zarr
    assert (store._readers[1] is not None) is past_zarr


def test_wide_dtypes_are_read_only_when_they_fit(tmp_path):
    gt = np.zeros((4, 3, 2), dtype=np.int16)
    gt[1, 0, 0] = 127
    gt[2, 1, 0] = -1
    ok = io.open_store(_toy(tmp_path / "ok.vcz", gt))
    np.testing.assert_array_equal(ok.to_numpy(), gt.transpose(1, 2, 0).astype(np.int8))
    gt[3, 2, 1] = 300
    bad = io.open_store(_toy(tmp_path / "bad.vcz", gt))
    np.testing.assert_array_equal(bad.read([0, 1, 2], 0, 2), gt[:2].transpose(1, 2, 0))
    with pytest.raises(io.StoreFormatError, match=r"allele index 300 at site 3 \(position 4\)"):
        bad.read([2], 3, 4)
    with pytest.raises(io.StoreFormatError, match="allele index 300"):
        bad.to_numpy()


def _with_positions(path, pos):
    root = zarr.open_group(path, mode="w", zarr_format=2)
    root.create_array("call_genotype", data=np.zeros((len(pos), 2, 2), np.int8), chunks=(2, 2, 2))
    root.create_array("variant_position", data=np.asarray(pos))
    return path


@pytest.mark.parametrize(
    "pos", [np.array([1.0, 7.0, 2.0**40]), np.array([1, 5, 2**63 - 1], dtype=np.uint64)]
)
def test_positions_are_read_exactly_when_they_fit_int64(tmp_path, pos):
    store = io.open_store(_with_positions(tmp_path / "p.vcz", pos))
    assert store.positions.dtype == np.int64
    assert store.positions.tolist() == [int(x) for x in pos.tolist()]


@pytest.mark.parametrize(
    ("pos", "match"),
    [
        (np.array([1.0, 2.5, 3.0]), r"variant_position holds 2\.5, not an integer"),
        (np.array([1.0, np.nan, 3.0]), r"variant_position holds nan, not an integer"),
        (np.array([1.0, np.inf]), r"variant_position holds inf, not an integer"),
        (np.array([1.0, 2.0**64]), r"variant_position holds 18446744073709551616, outside int64"),
        (
            np.array([1, 2, 2**63 + 5], dtype=np.uint64),
            r"variant_position holds 9223372036854775813, outside int64",
        ),
        (np.array(["1", "2"]), r"variant_position must hold integer positions, got <U1"),
        (np.array([True, False]), r"variant_position must hold integer positions, got bool"),
    ],
)
def test_positions_that_would_change_are_refused(tmp_path, pos, match):
    with pytest.raises(io.StoreFormatError, match=match):
        io.open_store(_with_positions(tmp_path / "p.vcz", pos))


def test_phased_flag_from_call_genotype_phased(tmp_path):
    gt = np.zeros((3, 2, 2), dtype=np.int8)
    gt[2, 1] = -1
    phased = np.ones((3, 2), dtype=bool)
    phased[2, 1] = False  # a missing call's flag does not count
    assert io.open_store(_toy(tmp_path / "a.vcz", gt, call_genotype_phased=phased)).phased
    phased[0, 0] = False
    assert not io.open_store(_toy(tmp_path / "b.vcz", gt, call_genotype_phased=phased)).phased


def test_bad_stores_raise_store_format_error(tmp_path):
    (tmp_path / "empty.vcz").mkdir()
    with pytest.raises(io.StoreFormatError, match="not a zarr group"):
        io.open_store(tmp_path / "empty.vcz")
    (tmp_path / "text.zip").write_text("not a zip")
    with pytest.raises(io.StoreFormatError, match="not a zip file"):
        io.open_store(tmp_path / "text.zip")
    zarr.create_array(tmp_path / "array.zarr", data=np.zeros(3), zarr_format=2)
    with pytest.raises(io.StoreFormatError, match="not a zarr group"):
        io.open_store(tmp_path / "array.zarr")
    (tmp_path / "broken.vcz").mkdir()
    (tmp_path / "broken.vcz" / ".zgroup").write_text('{"zarr_format": 2')  # cut short
    with pytest.raises(io.StoreFormatError, match="not a zarr group"):
        io.open_store(tmp_path / "broken.vcz")
    root = zarr.open_group(tmp_path / "nogt.vcz", mode="w", zarr_format=2)
    root.create_array("variant_position", data=np.arange(1, 4))
    with pytest.raises(io.StoreFormatError, match="no array 'call_genotype'"):
        io.open_store(tmp_path / "nogt.vcz")
    gt = np.zeros((3, 2, 2), dtype=np.int8)
    with pytest.raises(io.StoreFormatError, match="sample_id has 3 names"):
        io.open_store(_toy(tmp_path / "s.vcz", gt, sample_id=np.array(["a", "b", "c"])))
    with pytest.raises(FileNotFoundError, match="vcf2zarr convert"):
        io.open_store(tmp_path / "missing.vcz")
    with pytest.raises(ValueError, match="format must be one of"):
        io.open_store(tmp_path / "s.vcz", format="bam")
    with pytest.raises(io.StoreFormatError, match="not an HDF5 file"):
        io.open_store(tmp_path / "empty.vcz", format="hdf5")


def _truncate(path, keep=0.5):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def _rewrite(vcz, name, data, **kwargs):
    root = zarr.open_group(vcz, mode="a")
    del root[name]
    root.create_array(name, data=data, **kwargs)


def _v3(vcz, vcf):
    b2z_vcf.convert([vcf], vcz, variants_chunk_size=3, samples_chunk_size=2, zarr_format=3)


def _cut(rel, keep=0.5):
    return lambda d: _truncate(d / rel, keep)


def _garble(rel, data):
    return lambda d: (d / rel).write_bytes(data)


def _replace(name, data):
    return lambda d: _rewrite(d, name, data)


# what to damage: (how, the array the error must name, what it must say)
DAMAGE = {
    "cut .zarray": (_cut("call_genotype/.zarray"), "call_genotype", "metadata"),
    "cut pos .zarray": (_cut("variant_position/.zarray"), "variant_position", "metadata"),
    "cut chunk": (_cut("call_genotype/1.1.0"), "call_genotype", "chunks"),
    "empty chunk": (_cut("call_genotype/0.0.0", 0), "call_genotype", "chunks"),
    "random chunk": (_garble("call_genotype/1.1.0", bytes(range(7, 250, 3))), "call_genotype", ""),
    "random mask chunk": (
        _garble("call_genotype_mask/0.1.0", b"\x02\x01" + bytes(60)),
        "call_genotype_mask",
        "chunks",
    ),
    "cut phased chunk": (_cut("call_genotype_phased/0.0"), "call_genotype_phased", "chunks"),
    "cut sample_id chunk": (_cut("sample_id/0"), "sample_id", "chunks"),
    "contig code 2**40": (
        _replace("variant_contig", np.array([0, 0, 0, 2**40, 0, 0, 0])),
        "variant_contig",
        "holds 1099511627776, not an index",
    ),
    "phased of the wrong shape": (
        _replace("call_genotype_phased", np.ones((3, 5), bool)),
        "call_genotype_phased",
        r"must be \(7, 5\)",
    ),
    "alleles of the wrong shape": (
        _replace("variant_allele", np.array([["A", "C"]] * 3)),
        "variant_allele",
        "one row per variant",
    ),
    "sample_id 2-D": (_replace("sample_id", np.array([["a", "b"]] * 5)), "sample_id", "1-D"),
}


@pytest.mark.parametrize(("how", "name", "says"), list(DAMAGE.values()), ids=list(DAMAGE))
def test_a_damaged_store_is_a_store_format_error_naming_the_array(one, tmp_path, how, name, says):
    _, vcz, _ = one
    copy = tmp_path / "copy.vcz"
    shutil.copytree(vcz, copy)
    how(copy)
    with pytest.raises(io.StoreFormatError, match=rf":{name} .*{says}") as info:  # noqa: PT012
        store = io.open_store(copy)
        store.to_numpy()
        assert store.phased is not None
        store.ref_alt()
    assert "Traceback" not in str(info.value)


def test_a_cut_zarr_json_and_chunk_in_a_v3_store(one, tmp_path):
    vcf, _, _ = one
    for target, name in (
        ("call_genotype/zarr.json", "metadata"),
        ("call_genotype/c/1/1/0", "chunks"),
    ):
        vcz = tmp_path / f"v3-{name}.vcz"
        _v3(vcz, vcf)
        _truncate(vcz / target)
        with pytest.raises(io.StoreFormatError, match=f"call_genotype is damaged: its {name}"):
            io.open_store(vcz).to_numpy()


def test_an_absent_genotype_chunk_reads_as_ref(one, tmp_path):
    """vcf2zarr skips chunks that are all fill value (0 = REF): they read as REF, not missing."""
    vcf, vcz, _ = one
    expected, _ = _parse(vcf.read_text())
    assert not (vcz / "call_genotype" / "2.2.0").exists()  # site 6, sample 4: 0|0
    assert (expected[4:, :, 6:] == 0).all()
    np.testing.assert_array_equal(io.open_store(vcz).to_numpy(), expected)
    copy = tmp_path / "copy.vcz"
    shutil.copytree(vcz, copy)
    (copy / "call_genotype" / "0.0.0").unlink()  # an incomplete copy: also REF, by zarr's rules
    want = expected.copy()
    want[0:2, :, 0:3] = 0
    np.testing.assert_array_equal(io.open_store(copy).to_numpy(), want)


def test_missing_zarr_gives_the_install_hint(one, monkeypatch):
    _, vcz, _ = one
    monkeypatch.setitem(sys.modules, "zarr", None)
    with pytest.raises(ImportError, match=r'pip install "maskkit\[zarr\]"'):
        io.open_store(vcz)


class _Counter:
    """Record the keys read from local storage (the chunk reads of a store).

    Through zarr (metadata, and chunks zarr decodes) and past it (the whole chunks
    ``maskkit.io._chunks.chunk_reader`` reads from a folder).
    """

    def __init__(self, monkeypatch):
        self.keys = []
        real = zarr.storage.LocalStore.get
        real_local = _chunks.read_local

        async def get(store, key, *args, **kwargs):
            self.keys.append(key)
            return await real(store, key, *args, **kwargs)

        def read_local(root, key):
            self.keys.append(key)
            return real_local(root, key)

        monkeypatch.setattr(zarr.storage.LocalStore, "get", get)
        monkeypatch.setattr(_chunks, "read_local", read_local)

    def chunks(self, array):
        """Chunk coordinates fetched of ``array``."""
        return sorted(
            tuple(int(x) for x in k.split("/")[-1].split("."))
            for k in self.keys
            if k.startswith(array + "/") and not k.split("/")[-1].startswith(".")
        )


def test_reads_fetch_only_the_chunks_they_touch(demo, monkeypatch):
    vcz, h5 = demo
    store = io.open_store(vcz)
    full = io.open_store(h5).to_numpy()
    counter = _Counter(monkeypatch)
    idx = [9, 2, 17]  # sample chunks (of 8): 1, 0, 2
    got = store.read(idx, 40, 70)  # variant chunks (of 32): 1, 2
    np.testing.assert_array_equal(got, full[idx, :, 40:70])
    touched = [(v, s, 0) for v in (1, 2) for s in (0, 1, 2)]
    assert counter.chunks("call_genotype") == touched
    assert counter.chunks("call_genotype_mask") == touched
    assert all(k.startswith(("call_genotype/", "call_genotype_mask/")) for k in counter.keys)
    counter.keys.clear()
    np.testing.assert_array_equal(store.read([2, 9], 64, 90), full[[2, 9], :, 64:90])
    assert counter.keys == []  # both chunks already decoded: served from the cache


def test_the_chunk_cache_is_bounded(demo, monkeypatch):
    vcz, h5 = demo
    full = io.open_store(h5).to_numpy()
    store = io.VcfZarrStore(vcz, cache_mb=1.5 * 32 * 8 * 2 / 2**20)  # room for one chunk
    counter = _Counter(monkeypatch)
    for _ in range(2):
        np.testing.assert_array_equal(store.read([0, 8], 0, 10), full[[0, 8], :, :10])
    assert len(counter.chunks("call_genotype")) == 4  # two chunks, each evicted by the other
    assert store._block_bytes <= store.cache_mb * 2**20


def test_pickle_keeps_only_the_source(demo):
    vcz, _ = demo
    store = io.open_store(vcz)
    store.read([0], 0, 5)
    clone = pickle.loads(pickle.dumps(store))
    assert clone._blocks == {}
    assert repr(clone) == repr(store)
    np.testing.assert_array_equal(clone.to_numpy(), store.to_numpy())


def test_frequencies_and_windows_work_on_a_vcz_store(demo):
    vcz, h5 = demo
    a, b = io.open_store(vcz), io.open_store(h5)
    np.testing.assert_array_equal(io.alt_allele_frequency(a), io.alt_allele_frequency(b))
    windows = io.Windows.fixed(a.n_sites, 16).validate(a)
    assert len(windows) == len(io.Windows.fixed(b.n_sites, 16).validate(b))


@pytest.mark.torch
@pytest.mark.parametrize("workers", [0, 2])
def test_vcz_and_hdf5_give_identical_batches(demo, workers):
    torch = pytest.importorskip("torch")
    import maskkit as mk
    from maskkit.curriculum import Levels
    from maskkit.torch import HaplotypeDataset, WindowBatchSampler

    vcz, h5 = demo
    runs = []
    for path in (vcz, h5):
        masker = mk.Masker("smart_balanced", Levels([0.2, 0.5]), seed=3)
        ds = HaplotypeDataset(path, masker, windows=24, samples=range(1, 29), haplotypes=True)
        ds.store.read([0], 0, 40)  # the parent has read (zarr's I/O loop runs) before the fork
        loader = torch.utils.data.DataLoader(
            ds,
            batch_sampler=WindowBatchSampler(ds, batch_size=7, shuffle=True, seed=5),
            num_workers=workers,
            persistent_workers=workers > 0,
            collate_fn=ds.collate_fn,
        )
        batches = []
        for epoch in range(2):
            ds.set_epoch(epoch)
            batches.extend(loader)
        runs.append(batches)
    assert len(runs[0]) == len(runs[1]) > 0
    for a, b in zip(*runs):
        assert a.keys() == b.keys()
        for key in a:
            torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)


def test_maskkit_io_imports_zarr_only_when_a_vcz_store_opens(one):
    _, vcz, _ = one
    probe = (
        "import sys; from maskkit import io; assert 'zarr' not in sys.modules; "
        f"io.open_store({str(vcz)!r}); assert 'zarr' in sys.modules"
    )
    res = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
