"""benchmarks/bench_impute.py: impute and Beagle on the same targets, timed and scored."""

from __future__ import annotations

import gzip
import json
import shutil

import numpy as np
import pytest
from test_rag_bert_beagle import _fake_beagle

from examples.rag_bert import beagle_bench as bb
from examples.rag_bert import data as dt
from examples.rag_bert import impute_bench as ib
from maskkit import metrics as mm

pytestmark = pytest.mark.torch

# even smaller than --small: a test, not a measurement
QUICK = ["--small", "--demo-train", "24", "--demo-val", "6", "--demo-length", "6e4",
         "--train-steps", "3"]  # fmt: skip


def test_trainer_flags_pass_what_differs_from_the_trainer_defaults():
    args = ib.parse_args(["--small", "--no-hmm-prior", "--levels", "0.3", "0.5", "--no-beagle"])
    flags = ib.trainer_flags(args)
    assert flags[flags.index("--demo-train") + 1] == "40"  # from --small
    assert "--no-hmm-prior" in flags
    assert flags[flags.index("--levels") + 1 : flags.index("--levels") + 3] == ["0.3", "0.5"]
    assert "--no-beagle" not in flags
    assert "--out" not in flags
    assert "--small" not in flags
    args = ib.parse_args(["--demo-train", "30"])  # the panel-scale demo unless told otherwise
    assert args.demo_val == 300
    assert args.demo_train == 30


def test_unphased_vcf_holds_genotypes_only(tmp_path):
    haps = np.array([[[1, 0, -1], [0, 0, 1]]], dtype=np.int8)
    path = tmp_path / "t.vcf.gz"
    bb.write_vcf(path, haps, np.array([5, 9, 12]), ["s"], phased=False)
    with gzip.open(path, "rt") as f:
        gts = [line.rstrip("\n").split("\t")[9] for line in f if not line.startswith("#")]
    assert gts == ["0/1", "0/0", "./1"]
    gt, _ = bb.read_vcf(path, ["s"], np.array([5, 9, 12]))
    np.testing.assert_array_equal(gt.sum(axis=1)[0, :2], [1, 0])


@pytest.mark.slow
def test_impute_part_runs_and_scores_without_beagle(tmp_path, capsys):
    out = tmp_path / "b"
    assert ib.main([*QUICK, "--no-beagle", "--untrained", "--out", str(out)]) == 0
    res = json.loads((out / "bench_impute.json").read_text())
    assert "beagle" not in res
    assert "train" not in res  # the untrained model: impute's time without training
    imp = res["impute"]
    assert imp["wall_s"] > 0
    assert imp["cpu_s"] > 0
    assert imp["panel_haplotypes"] == 2 * res["data"]["panel"]  # every reference diploid
    n_masked = sum(imp["scores"][b]["n_genotypes"] for b in ("maf<0.01", "0.01<=maf<0.05",
                                                             "maf>=0.05"))  # fmt: skip
    assert n_masked == imp["scores"]["all"]["n_genotypes"] == res["data"]["masked_genotypes"] > 0
    assert imp["scores"]["maf>=0.05"]["f1"] > 0.5  # far above the major allele's 0
    assert "| impute |" in capsys.readouterr().out


@pytest.mark.slow
def test_both_imputers_are_scored_on_the_same_genotypes(tmp_path, capsys):
    out = tmp_path / "b"
    fake = _fake_beagle(tmp_path)  # fills every masked genotype with 0|0
    ckpt_run = ["--train-steps", "2"]
    assert ib.main([*QUICK, *ckpt_run, "--beagle", str(fake), "--out", str(out)]) == 0
    res = json.loads((out / "bench_impute.json").read_text())
    assert res["train"]["cpu_s"] > 0
    for b in ("maf<0.01", "0.01<=maf<0.05", "maf>=0.05", "all"):
        assert (
            res["beagle"]["scores"][b]["n_genotypes"] == res["impute"]["scores"][b]["n_genotypes"]
        )
    # the stand-in called the reference allele at every masked genotype: score that alone
    args = ib.parse_args([*QUICK, "--no-beagle"])
    data = dt.load_data(args)
    _, _, site = bb.val_masks(data, args)
    ref = mm.score(data.val.haps, np.zeros_like(data.val.haps), site, data.alt_freq)
    for b in ("maf>=0.05", "rare", "all"):
        assert res["beagle"]["scores"][b]["f1"] == pytest.approx(ref[b]["f1"], nan_ok=True)
    assert res["ratio"]["wall"] == pytest.approx(res["impute"]["wall_s"] / res["beagle"]["wall_s"])
    assert "impute / Beagle: wall" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which("beagle") is None,
    reason="Beagle (Debian package 'beagle') is "
    "not installed; the tests above cover everything but Beagle itself",
)
def test_small_bench_against_the_real_beagle(tmp_path):
    out = tmp_path / "b"
    assert ib.main([*QUICK, "--out", str(out)]) == 0
    res = json.loads((out / "bench_impute.json").read_text())
    assert res["beagle"]["scores"]["maf>=0.05"]["f1"] > 0.8
    assert res["beagle"]["cpu_s"] > 0


def _bench_phasing():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_phasing.py"
    spec = importlib.util.spec_from_file_location("bench_phasing", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_phasing_counts_switches_between_observed_heterozygous_sites():
    bp = _bench_phasing()
    truth = np.array([[[1, 0, 1, 1, 0], [0, 1, 0, 1, 1]]], dtype=np.int8)  # hets at 0, 1, 2, 4
    phased = truth.copy()
    phased[0, :, 2:] = truth[0, ::-1, 2:]  # one switch, between sites 1 and 2
    sites = np.ones(5, dtype=bool)
    assert bp.switch_errors(phased, truth, sites) == (1, 3)
    assert bp.switch_errors(truth, truth, sites) == (0, 3)
    sites[2] = False  # site 2 outside the windows: the switch lies between 1 and 4
    assert bp.switch_errors(phased, truth, sites) == (1, 2)
    phased[0, 0, 4] = -1  # not observed
    assert bp.switch_errors(phased, truth, sites) == (0, 1)


def test_bench_phasing_runs_on_a_tiny_demo(tmp_path, capsys):
    bp = _bench_phasing()
    argv = [*QUICK[:7], "--cache-dir", str(tmp_path), "--passes", "1,2"]
    assert bp.main(argv) == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if "pass(es)" in ln]
    assert [ln.split()[0] for ln in lines] == ["1", "2"]
    assert all("switch errors" in ln for ln in lines)
