"""Beagle benchmark glue, without Beagle: VCF round trip, output parsing, the command, scoring."""

from __future__ import annotations

import gzip
import json
import stat
import sys
import tempfile

import numpy as np
import pytest

from examples.rag_bert import beagle_bench as bb
from examples.rag_bert import cli, train
from examples.rag_bert import data as dt
from maskkit import metrics as mm

TINY = [
    "--demo-train", "24", "--demo-val", "6", "--demo-length", "6e4", "--window", "32",
    "--data-seed", "3",
]  # fmt: skip


def test_vcf_round_trip_hides_masked_genotypes(tmp_path):
    rng = np.random.default_rng(0)
    haps = (rng.random((5, 2, 30)) < 0.3).astype(np.int8)
    haps[1, 0, 4] = -1  # a missing allele in the data
    pos = np.arange(30) * 7 + 3
    names = [f"s{i}" for i in range(5)]
    hide = rng.random((5, 30)) < 0.3
    path = tmp_path / "t.vcf.gz"
    bb.write_vcf(path, haps, pos, names, hide)
    with gzip.open(path, "rt") as f:
        lines = [ln.rstrip("\n").split("\t") for ln in f if not ln.startswith("##")]
    assert lines[0][9:] == names
    assert [int(r[1]) for r in lines[1:]] == pos.tolist()
    gt, prob = bb.read_vcf(path, names[::-1], pos)  # samples matched by name, any order
    gt = gt[::-1]
    prob = prob[::-1]
    shown = np.broadcast_to(~hide[:, None, :], haps.shape)
    np.testing.assert_array_equal(gt[shown], haps[shown])
    assert (gt[~shown] == -1).all()
    assert lines[1 + 4][9 + 1].startswith("./." if hide[1, 4] else ".|")
    np.testing.assert_array_equal(prob[shown & (haps >= 0)], haps[shown & (haps >= 0)])


def test_read_vcf_takes_dosages_and_maps_sites(tmp_path):
    text = (
        "##fileformat=VCFv4.2\n"
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tb\ta\n"
        "1\t5\t.\tA\tC\t.\tPASS\t.\tGT:DS\t0|1:0.9\t1|1:1.8\n"
        "1\t9\t.\tA\tC\t.\tPASS\t.\tGT\t0/0\t1|0\n"  # a site we did not ask for
        "1\t12\t.\tA\tC\t.\tPASS\t.\tGT:DS:AP1:AP2\t1|0:0.7:0.6:0.1\t0|0:0:0:0\n"
    )
    path = tmp_path / "o.vcf"
    path.write_text(text)
    gt, prob = bb.read_vcf(path, ["a", "b"], np.array([12, 5]))
    np.testing.assert_array_equal(gt[:, :, 0], [[0, 0], [1, 0]])
    np.testing.assert_array_equal(gt[:, :, 1], [[1, 1], [0, 1]])
    np.testing.assert_allclose(prob[:, :, 0], [[0, 0], [0.6, 0.1]])
    np.testing.assert_allclose(prob[:, :, 1], [[0.9, 0.9], [0.45, 0.45]])
    with pytest.raises(dt.InputError, match="sites missing"):
        bb.read_vcf(path, ["a"], np.array([5, 7]))
    with pytest.raises(dt.InputError, match="samples missing"):
        bb.read_vcf(path, ["a", "zz"], np.array([5]))


def test_write_vcf_refuses_what_vcf_cannot_hold(tmp_path):
    haps = np.zeros((2, 2, 3), dtype=np.int8)
    with pytest.raises(dt.InputError, match="increasing"):
        bb.write_vcf(tmp_path / "x.vcf.gz", haps, np.array([3, 3, 4]), ["a", "b"])
    haps[0, 0, 0] = 2
    with pytest.raises(dt.InputError, match="biallelic"):
        bb.write_vcf(tmp_path / "x.vcf.gz", haps, np.array([1, 2, 3]), ["a", "b"])


def test_missing_beagle_is_a_clear_error(tmp_path, capsys):
    rc = bb.main([*TINY, "--out", str(tmp_path / "o"), "--beagle", str(tmp_path / "nope")])
    assert rc == 2
    err = capsys.readouterr().err
    assert "not found" in err
    assert "apt-get install beagle" in err
    assert not (tmp_path / "o").exists()  # fails before any work


def _fake_beagle(tmp_path):
    """Stand-in for the Debian wrapper: fill every ``./.`` with ``0|0``, keep the rest."""
    script = tmp_path / "beagle"
    script.write_text(
        f"#!{sys.executable}\n"
        "import gzip, sys\n"
        "a = dict(x.split('=', 1) for x in sys.argv[1:])\n"
        "assert a['impute'] == 'true' and a['gp'] == 'true' and 'ref' in a\n"
        "with gzip.open(a['gt'], 'rt') as f, gzip.open(a['out'] + '.vcf.gz', 'wt') as g:\n"
        "    g.write(f.read().replace('./.', '0|0'))\n"
        "open(a['out'] + '.log', 'w').write('fake\\n')\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


@pytest.mark.torch
@pytest.mark.slow
def test_bench_scores_beagle_calls_on_the_trainer_masks(tmp_path, monkeypatch):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    out = tmp_path / "o"
    argv = [*TINY, "--out", str(out), "--cache-dir", str(tmp_path / "cache")]
    argv += ["--beagle", str(_fake_beagle(tmp_path))]
    assert bb.main(argv) == 0
    res = json.loads((out / "beagle_bench.json").read_text())
    # the trainer's own validation masks (its Evaluator's), scored independently here: the
    # benchmark must score Beagle on exactly these genotypes
    targs = cli.build_parser().parse_args(
        [*TINY, "--out", str(out), "--cache-dir", str(tmp_path / "cache")]
    )
    data = dt.load_data(targs)
    tr = train.Trainer(targs, data)
    tr.close()
    site = tr.evaluator.val_site
    assert 0.25 < site.mean() < 0.35
    np.testing.assert_array_equal(bb.val_masks(data, bb.build_parser().parse_args(argv))[2], site)
    pred = np.where(site[:, None, :], 0, data.val.haps).astype(np.int8)
    want = mm.score(data.val.haps, pred, site, data.alt_freq)
    for b in [*mm.bin_labels(), "rare", "all"]:
        for m in ("f1", "n_genotypes", "n_minor_true", "concordance"):
            assert res["beagle"][b][m] == pytest.approx(want[b][m], nan_ok=True)
    assert res["visible_genotypes_changed"] == 0
    assert res["nearest_copy"]["all"]["f1"] > 0.5
    assert not list(scratch.iterdir())  # the VCFs and Beagle's output are removed
    assert sorted(p.name for p in out.iterdir()) == ["beagle.log", "beagle_bench.json"]
