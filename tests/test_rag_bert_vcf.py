"""The imputer's VCF glue without a model: BGZF + tabix index, DR2/GP, reading targets."""

from __future__ import annotations

import gzip
import json

import cyvcf2
import numpy as np
import pytest

from examples.rag_bert import vcfio

HEADER = [
    "##fileformat=VCFv4.2",
    *vcfio.INFO_FORMAT,
]


def _write(path, chroms, pos, gt, p):
    n = gt.shape[0]
    head = [*HEADER, *(f"##contig=<ID={c}>" for c in dict.fromkeys(chroms))]
    head.append("\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO",
                           "FORMAT", *(f"s{i}" for i in range(n))]))  # fmt: skip
    recs = []
    for c in dict.fromkeys(chroms):
        sel = np.flatnonzero(np.asarray(chroms) == c)
        ids = ["."] * sel.size
        lines = vcfio.imputed_lines(
            c, pos[sel], ids, ["A"] * sel.size, ["G"] * sel.size, gt[..., sel], p[..., sel],
            np.ones(sel.size, dtype=bool),
        )  # fmt: skip
        recs.extend(lines)
    return vcfio.write_bgzf_vcf(path, head, recs)


@pytest.mark.parametrize("seed", [0, 1])
def test_bgzf_vcf_and_its_index_answer_region_queries(tmp_path, seed):
    rng = np.random.default_rng(seed)
    n_sites = 6000  # more than one BGZF block and many 16 kb index windows
    chroms = ["chr1"] * 4000 + ["chr2"] * 2000
    pos = np.concatenate([
        np.sort(rng.choice(np.arange(1, 5_000_000), 4000, replace=False)),
        np.sort(rng.choice(np.arange(1, 300_000), 2000, replace=False)),
    ])  # fmt: skip
    gt = (rng.random((3, 2, n_sites)) < 0.3).astype(np.int8)
    p = np.clip(gt + rng.normal(0, 0.2, gt.shape), 0, 1)
    path = _write(tmp_path / "x.vcf.gz", chroms, pos, gt, p)
    raw = path.read_bytes()
    assert raw.endswith(bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000"))
    lines = gzip.decompress(raw).decode().splitlines()
    assert len([ln for ln in lines if not ln.startswith("#")]) == n_sites
    for _ in range(20):
        c = rng.choice(["chr1", "chr2"])
        sel = np.asarray(chroms) == c
        lo = int(rng.integers(1, pos[sel].max()))
        hi = lo + int(rng.integers(0, 400_000))
        got = [v.POS for v in cyvcf2.VCF(str(path))(f"{c}:{lo}-{hi}")]
        assert got == [int(x) for x in pos[sel] if lo <= x <= hi], (c, lo, hi)
    first = next(iter(cyvcf2.VCF(str(path))))
    np.testing.assert_array_equal(first.genotype.array()[:, :2], gt[:, :, 0])
    assert first.genotype.array()[:, 2].all()  # phased


def test_dosage_r2_is_one_for_certain_calls_and_zero_for_the_frequency():
    rng = np.random.default_rng(3)
    certain = (rng.random((50, 2, 4)) < 0.3).astype(np.float64)
    np.testing.assert_allclose(vcfio.dosage_r2(certain), 1.0)
    flat = np.full((50, 2, 4), 0.3)
    np.testing.assert_allclose(vcfio.dosage_r2(flat), 0.0, atol=1e-12)
    half = 0.5 * certain + 0.5 * 0.3
    r2 = vcfio.dosage_r2(half)
    assert ((r2 > 0.1) & (r2 < 0.9)).all()
    np.testing.assert_allclose(vcfio.dosage_r2(np.zeros((5, 2, 2))), 0.0)  # monomorphic


def test_genotype_probabilities_sum_to_one_and_match_the_dosage():
    rng = np.random.default_rng(4)
    p = rng.random((7, 2, 11))
    gp = vcfio.genotype_probabilities(p)
    np.testing.assert_allclose(gp.sum(-1), 1.0)
    np.testing.assert_allclose(gp[..., 1] + 2 * gp[..., 2], p.sum(axis=1))


def test_read_calls_reads_phase_and_keeps_other_records(tmp_path):
    text = "\n".join([
        "##fileformat=VCFv4.2", "##contig=<ID=1>",
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tb\ta",
        "1\t10\trs1\tA\tG\t.\tPASS\t.\tGT\t0|1\t1|1",
        "1\t20\t.\tC\tT,G\t.\tPASS\t.\tGT\t0|2\t./.",
        "1\t30\trs3\tG\tA\t.\tPASS\t.\tGT\t0/1\t.|.",
    ]) + "\n"  # fmt: skip
    path = tmp_path / "t.vcf"
    path.write_text(text)
    calls = vcfio.read_calls(path)
    assert calls.samples.tolist() == ["b", "a"]
    assert calls.positions.tolist() == [10, 20, 30]
    assert calls.biallelic.tolist() == [True, False, True]
    assert calls.ids == ["rs1", ".", "rs3"]
    assert calls.phased is False  # one unphased genotype
    np.testing.assert_array_equal(calls.haps[:, :, 0], [[0, 1], [1, 1]])
    np.testing.assert_array_equal(calls.haps[:, :, 1], -1)  # multi-allelic: passed through
    np.testing.assert_array_equal(calls.haps[:, :, 2], [[0, 1], [-1, -1]])
    assert calls.lines[1] == text.splitlines()[5]
    path.write_text(text.replace("0/1", "0|1"))
    assert vcfio.read_calls(path).phased is True


def _vcf(path, positions, ref, alt, samples, haps, sep="|"):
    head = ["##fileformat=VCFv4.2", "##contig=<ID=chr20>",
            '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
            "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT",
                       *samples])]  # fmt: skip
    rows = []
    for j, p in enumerate(positions):
        gts = [
            sep.join("." if a < 0 else str(a) for a in haps[i, :, j]) for i in range(len(samples))
        ]
        rows.append(
            "\t".join(["chr20", str(p), f"v{p}", ref[j], alt[j], ".", "PASS", ".", "GT", *gts])
        )
    path.write_text("\n".join([*head, *rows]) + "\n")
    return path


@pytest.mark.torch
@pytest.mark.slow
def test_impute_your_own_vcf_in_three_commands(tmp_path):
    """docs/impute.md: reference VCF -> store -> trained model -> imputed, indexed VCF."""
    from examples.rag_bert import impute, train
    from maskkit import cli as mkcli
    from maskkit import io as mkio

    demo = mkio.simulate_demo(tmp_path / "sim", n_diploids=45, length=60_000, seed=11)
    with demo.open_store() as store:
        haps, pos, names = store.to_numpy(), store.positions, store.samples
        ref, alt = store.ref_alt()
    ref_vcf = _vcf(tmp_path / "reference.vcf", pos, ref, alt, names[:36], haps[:36])
    truth = haps[36:]
    rng = np.random.default_rng(0)
    on_chip = rng.random(pos.size) < 0.5  # the targets were typed at half the sites
    hide = rng.random((truth.shape[0], 1, pos.size)) < 0.1  # and miss a few calls there
    shown = np.where(hide, -1, truth)[..., on_chip]
    targets = _vcf(tmp_path / "targets.vcf", pos[on_chip], ref[on_chip], alt[on_chip],
                   names[36:], shown, sep="/")  # fmt: skip
    store_path = tmp_path / "reference.h5"
    assert mkcli.main(["convert", str(ref_vcf), str(store_path), "--no-progress"]) == 0
    run = tmp_path / "run"
    assert train.main([
        "--train", str(store_path), "--out", str(run), "--window", "32", "--dims", "16",
        "--layers", "1", "--heads", "2", "--k-retrieve", "4", "--epochs", "1", "--max-steps",
        "4", "--quiet", "--no-plots", "--threads", "1",
    ]) == 0  # fmt: skip
    out = tmp_path / "imputed.vcf.gz"
    assert impute.main([
        "--checkpoint", str(run / "checkpoint.pt"), "--panel", str(store_path), "--store",
        str(targets), "--out", str(out), "--threads", "1", "--quiet",
    ]) == 0  # fmt: skip
    report = json.loads((tmp_path / "imputed.vcf.gz.json").read_text())
    assert report["phase"] == "unphased"
    assert report["panel"]["haplotypes"] == 2 * 36  # training and validation samples
    assert report["sites"]["in_targets"] == int(on_chip.sum())
    recs = list(cyvcf2.VCF(str(out)))
    assert cyvcf2.VCF(str(out)).samples == names[36:].tolist()
    assert [r.POS for r in recs] == pos.tolist()
    assert [r.REF for r in recs] == ref.tolist()
    dose = np.stack([r.genotype.array()[:, :2].sum(axis=1) for r in recs], axis=1)
    true_dose = truth.sum(axis=1)
    off = ~on_chip
    # imputed genotypes at the sites the chip lacks: far better than calling the major allele
    major = np.where(haps[:36].mean(axis=(0, 1)) > 0.5, 2, 0)
    right = (dose[:, off] == true_dose[:, off]).mean()
    right_major = (np.broadcast_to(major, true_dose.shape)[:, off] == true_dose[:, off]).mean()
    assert right > right_major + 0.02
    assert all(bool(r.INFO.get("IMP")) for r, o in zip(recs, off) if o)
