import gzip

import h5py
import numpy as np
import pytest

from maskkit import io

HEADER = (
    "##fileformat=VCFv4.2\n"
    "##contig=<ID=1,length=1000>\n"
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tA\tB\tC\n"
)


def _vcf(path, lines, header=HEADER):
    path.write_text(header + "".join("\t".join(line.split()) + "\n" for line in lines))
    return path


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    base = tmp_path_factory.mktemp("vcf")
    return io.simulate_demo(base / "demo", n_diploids=24, length=150_000, seed=5, verbose=False)


@pytest.mark.parametrize("gz", [False, True])
def test_round_trip_simulate_vcf_convert(demo, tmp_path, gz):
    vcf = demo.write_vcf(tmp_path / "demo.vcf")
    if gz:
        gzpath = tmp_path / "demo.vcf.gz"
        gzpath.write_bytes(gzip.compress(vcf.read_bytes()))
        vcf = gzpath
    out = tmp_path / "conv.h5"
    stats = io.vcf_to_hdf5(vcf, out, show_progress=False, chunk_sites=37)
    sim = demo.open_store()
    conv = io.open_store(out)
    assert stats.kept == sim.n_sites
    assert stats.multiallelic == stats.non_snv == 0
    assert stats.phased
    assert conv.phased is True
    np.testing.assert_array_equal(conv.to_numpy(), sim.to_numpy())
    np.testing.assert_array_equal(conv.positions, sim.positions)
    assert conv.samples.tolist() == sim.samples.tolist()
    for a, b in zip(conv.ref_alt(), sim.ref_alt()):
        assert a.tolist() == b.tolist()
    with h5py.File(out, "r") as f:
        assert f["calldata/GT"].dtype == np.int8
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["conv.h5", "demo.vcf"] + (["demo.vcf.gz"] if gz else [])
    )


def test_filters_missing_and_phasing(tmp_path):
    vcf = _vcf(
        tmp_path / "x.vcf",
        [
            "1 10 . A G . . . GT 0|1 1|1 .|.",
            "1 20 . A G,T . . . GT 0|1 2|1 0|0",  # multi-allelic
            "1 30 . AT A . . . GT 0|1 1|1 0|0",  # indel
            "1 35 . A <DEL> . . . GT 0|1 1|1 0|0",  # symbolic
            "1 40 . C T . . . GT 0/1 ./1 1|0",  # unphased, half missing
            "1 50 . G . . . . GT 0|0 0|0 0|0",  # monomorphic, no ALT
        ],
    )
    out = tmp_path / "x.h5"
    stats = io.vcf_to_hdf5(vcf, out, show_progress=False)
    assert (stats.kept, stats.multiallelic, stats.non_snv) == (2, 1, 3)
    assert stats.phased is False
    store = io.open_store(out)
    assert store.phased is False
    np.testing.assert_array_equal(store.positions, [10, 40])
    expected = np.array([[[0, 0], [1, 1]], [[1, -1], [1, 1]], [[-1, 1], [-1, 0]]], np.int8)
    np.testing.assert_array_equal(store.to_numpy(), expected)
    assert "3 non-SNV" in str(stats)


def test_truncated_vcf_is_an_error_and_leaves_nothing(demo, tmp_path):
    vcf = demo.write_vcf(tmp_path / "full.vcf")
    data = gzip.compress(vcf.read_bytes())
    cut = tmp_path / "cut.vcf.gz"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    with pytest.raises(io.VCFFormatError, match=r"cut\.vcf\.gz.*truncated"):
        io.vcf_to_hdf5(cut, tmp_path / "out.h5", show_progress=False)
    text = vcf.read_text()
    cut_text = tmp_path / "cut.vcf"
    cut_text.write_text(text[: int(len(text) * 0.6)])
    with pytest.raises(io.VCFFormatError, match="truncated or malformed"):
        io.vcf_to_hdf5(cut_text, tmp_path / "out.h5", show_progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.vcf", "cut.vcf.gz", "full.vcf"]


def test_bgzf_without_eof_block(demo, tmp_path):
    cyvcf2 = pytest.importorskip("cyvcf2")
    vcf = demo.write_vcf(tmp_path / "full.vcf")
    reader = cyvcf2.VCF(str(vcf))
    bgz = tmp_path / "full.vcf.gz"
    writer = cyvcf2.Writer(str(bgz), reader, mode="wz")
    for rec in reader:
        writer.write_record(rec)
    writer.close()
    reader.close()
    stats = io.vcf_to_hdf5(bgz, tmp_path / "ok.h5", show_progress=False)
    assert stats.kept == demo.open_store().n_sites
    cut = tmp_path / "noeof.vcf.gz"
    cut.write_bytes(bgz.read_bytes()[:-28])  # drop exactly the EOF block: block-aligned cut
    with pytest.raises(io.VCFFormatError, match="end-of-file block"):
        io.vcf_to_hdf5(cut, tmp_path / "bad.h5", show_progress=False)
    assert not (tmp_path / "bad.h5").exists()


def test_other_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="vcf_path"):
        io.vcf_to_hdf5(tmp_path / "nope.vcf", tmp_path / "o.h5")
    vcf = _vcf(tmp_path / "a.vcf", ["1 10 . A G . . . GT 0|1 1|1 0|0"])
    out = tmp_path / "o.h5"
    io.vcf_to_hdf5(vcf, out, show_progress=False)
    before = out.read_bytes()
    with pytest.raises(FileExistsError, match="--force"):
        io.vcf_to_hdf5(vcf, out, show_progress=False)
    assert out.read_bytes() == before
    io.vcf_to_hdf5(vcf, out, show_progress=False, overwrite=True)
    no_samples = _vcf(
        tmp_path / "ns.vcf", ["1 10 . A G . . ."], header=HEADER.replace("\tFORMAT\tA\tB\tC", "")
    )
    with pytest.raises(io.VCFFormatError, match="no samples"):
        io.vcf_to_hdf5(no_samples, tmp_path / "ns.h5", show_progress=False)
    unsorted = _vcf(
        tmp_path / "u.vcf", ["1 20 . A G . . . GT 0|1 1|1 0|0", "1 10 . A G . . . GT 0|1 1|1 0|0"]
    )
    with pytest.raises(io.VCFFormatError, match="bcftools sort"):
        io.vcf_to_hdf5(unsorted, tmp_path / "u.h5", show_progress=False)
    mixed = _vcf(
        tmp_path / "m.vcf", ["1 10 . A G . . . GT 0|1 1|1 0|0", "1 20 . A G . . . GT 0 1 0"]
    )
    with pytest.raises(io.VCFFormatError, match="ploidy 1"):
        io.vcf_to_hdf5(mixed, tmp_path / "m.h5", show_progress=False)
    garbage = tmp_path / "g.vcf"
    garbage.write_text("this is not a vcf\n")
    with pytest.raises(io.VCFFormatError, match=r"g\.vcf"):
        io.vcf_to_hdf5(garbage, tmp_path / "g.h5", show_progress=False)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["a.vcf", "g.vcf", "m.vcf", "ns.vcf", "o.h5", "u.vcf"]


def test_haploid_vcf_store_is_rejected_where_diploid_required(tmp_path):
    vcf = _vcf(tmp_path / "h.vcf", ["1 10 . A G . . . GT 0 1 .", "1 12 . C T . . . GT 1 1 0"])
    io.vcf_to_hdf5(vcf, tmp_path / "h.h5", show_progress=False)
    store = io.open_store(tmp_path / "h.h5")
    np.testing.assert_array_equal(store.to_numpy()[:, 0, :], [[0, 1], [1, 1], [-1, 0]])
    with pytest.raises(io.PloidyError, match="diploid"):
        store.require_ploidy(2)
