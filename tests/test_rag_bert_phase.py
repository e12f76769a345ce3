"""Unphased targets in the reference trainer: phasing against the panel, impute and validation
read genotypes (the order of a genotype's alleles never changes a result)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from bounds import assert_binomial

import maskkit as mk
from examples.rag_bert import data as dt
from examples.rag_bert import impute, masking, train
from examples.rag_bert.phase import best_pairs, genotype_key, phase_window
from examples.rag_bert.retrieval import PanelIndex

pytestmark = pytest.mark.torch

TINY = [
    "--demo-train", "24", "--demo-val", "6", "--demo-length", "6e4", "--window", "32",
    "--dims", "16", "--layers", "1", "--heads", "2", "--k-retrieve", "4", "--batch-size", "6",
    "--lr", "5e-3", "--quiet", "--no-plots", "--threads", "1", "--data-seed", "3",
    "--levels", "0.3",
]  # fmt: skip


def _swap_hets(haps: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The same genotypes with the two alleles of random heterozygous sites swapped."""
    het = (haps[:, 0] != haps[:, 1]) & (haps >= 0).all(axis=1)
    flip = het & (rng.random(het.shape) < 0.5)
    out = haps.copy()
    out[:, 0] = np.where(flip, haps[:, 1], haps[:, 0])
    out[:, 1] = np.where(flip, haps[:, 0], haps[:, 1])
    return out


def test_genotype_key_ignores_phase():
    haps = np.array([[[0, 1, 1, 0, -1], [0, 1, 0, 1, 1]]], dtype=np.int8)
    np.testing.assert_array_equal(genotype_key(haps), [[-1, 1, 0, 0, 0]])


def test_best_pair_explains_the_genotype():
    cand = np.array([[[0, 0, 1, 1], [1, 1, 0, 0], [0, 1, 1, 0], [1, 0, 0, 1]]], dtype=np.int8)
    dose = np.array([[1, 2, 1, 0]])  # = cand 1 + cand 2
    called = np.ones((1, 4), dtype=bool)
    assert sorted(best_pairs(cand, dose, called)[0].tolist()) == [1, 2]
    called[0, 1] = False  # uncalled sites do not count
    dose[0, 3] = 1
    # cand 0 + 1 and cand 2 + 3 both explain (1, ?, 1, 1): the better-ranked pair wins
    assert best_pairs(cand, dose, called)[0].tolist() == [0, 1]


def test_phase_window_recovers_panel_pairs_and_keeps_genotypes():
    rng = np.random.default_rng(0)
    panel = (rng.random((30, 2, 64)) < 0.3).astype(np.int8)
    index = PanelIndex(panel, np.array([[0, 64]]), k=4)
    rows = panel.reshape(60, 64)
    pick = rng.choice(60, size=(8, 2), replace=False)
    truth = np.stack([rows[pick[:, 0]], rows[pick[:, 1]]], axis=1)
    target = _swap_hets(truth, rng)
    target[:, :, 50:] = np.where(rng.random((8, 1, 14)) < 0.3, -1, target[:, :, 50:])
    target[0, 1, 10] = -1  # a half call stays as it is
    out = phase_window(index, 0, target)
    called = (target >= 0).all(axis=1)
    np.testing.assert_array_equal((out > 0).sum(1)[called], (target > 0).sum(1)[called])
    np.testing.assert_array_equal(out[target < 0], target[target < 0])
    assert out[0, 0, 10] == target[0, 0, 10]
    # genotypes made of two panel haplotypes are phased back into those haplotypes (up to order)
    for i in range(8):
        c = called[i]
        a, b = out[i, 0, c], out[i, 1, c]
        ta, tb = truth[i, 0, c], truth[i, 1, c]
        assert (np.array_equal(a, ta) and np.array_equal(b, tb)) or (
            np.array_equal(a, tb) and np.array_equal(b, ta)
        )
    # phase-free: swapping alleles of heterozygous genotypes changes nothing
    np.testing.assert_array_equal(phase_window(index, 0, _swap_hets(target, rng)), out)
    with pytest.raises(ValueError, match="diploid"):
        phase_window(index, 0, target[:, :1])


@pytest.mark.parametrize("prior", [[], ["--no-hmm-prior"]], ids=["hmm", "copy"])
@pytest.mark.slow
def test_unphased_validation_does_not_depend_on_the_targets_phase(tmp_path, prior):
    argv = [
        *TINY,
        "--val-unphased",
        *prior,
        "--calib-samples",
        "8",
        "--out",
        str(tmp_path / "o"),
    ]
    args = train.build_parser().parse_args([*argv, "--cache-dir", str(tmp_path / "cache")])
    data = dt.load_data(args)
    torch.manual_seed(0)
    tr = train.Trainer(args, data)
    try:
        th = tr.evaluator.calibrate(lambda it, **_: it)
        one = tr.evaluator.validate(lambda it, **_: it, th)
        was_unphased = tr.args.val_unphased
        data.val.haps[...] = _swap_hets(data.val.haps, np.random.default_rng(1))
        two = tr.evaluator.validate(lambda it, **_: it, th)
        tr.args.val_unphased = False
        # the phase-given run scores the same genotypes
        three = tr.evaluator.validate(lambda it, **_: it, th)
    finally:
        tr.close()
    assert was_unphased
    assert json.dumps(one, default=float) == json.dumps(two, default=float)
    assert np.isfinite(one["val_loss"])
    for b, stats in one["val"].items():
        for key in ("n_genotypes", "n_minor_true"):
            assert three["val"][b][key] == stats[key], (b, key)


@pytest.mark.parametrize("prior", [[], ["--no-hmm-prior"]], ids=["hmm", "copy"])
@pytest.mark.slow
def test_impute_unphased_store_reads_genotypes(tmp_path, prior):
    common = [*TINY, "--cache-dir", str(tmp_path / "cache"), "--epochs", "1", *prior]
    assert train.main([*common, "--max-steps", "6", "--out", str(tmp_path / "m")]) == 0
    ckpt = tmp_path / "m" / "checkpoint.pt"
    d = dt.ooa_demo_data(
        n_train=24, n_val=6, length=6e4, window=32, seed=3, cache_dir=tmp_path / "cache"
    )
    rng = np.random.default_rng(2)
    hide = rng.random((d.val.n, d.n_sites)) < 0.3
    target = np.where(hide[:, None, :], -1, d.val.haps).astype(np.int8)
    truth = tmp_path / "truth.h5"
    dt.write_store(truth, d.val.haps, d.positions, d.val.samples)
    outs = []
    for name, gt in (("a", target), ("b", _swap_hets(target, rng))):
        path = tmp_path / f"{name}.h5"
        dt.write_store(path, gt, d.positions, d.val.samples, phased=False)
        out = tmp_path / f"{name}_imp.h5"
        argv = ["--checkpoint", str(ckpt), "--store", str(path), "--out", str(out)]
        assert impute.main([*argv, "--truth", str(truth), "--threads", "1"]) == 0
        gt_out, _, _ = dt.read_store(out)
        np.testing.assert_array_equal(gt_out[gt >= 0], gt[gt >= 0])  # observed calls unchanged
        import h5py

        with h5py.File(out, "r") as f:
            outs.append(np.asarray(f["calldata/DS"]))
        report = json.loads((tmp_path / f"{name}_imp.h5.json").read_text())
        assert report["phase"] == "unphased"
        assert report["scores"]["all"]["n_genotypes"] == hide.sum()
    # genotypes in, genotypes out: the imputed dosages ignore the order of observed alleles
    np.testing.assert_allclose(outs[0], outs[1])
    path = tmp_path / "b.h5"
    argv = ["--checkpoint", str(ckpt), "--store", str(path), "--out", str(tmp_path / "c.h5")]
    assert impute.main([*argv, "--phase", "phased", "--threads", "1"]) == 0
    assert json.loads((tmp_path / "c.h5.json").read_text())["phase"] == "phased"


def test_class_log_odds_matches_the_union_of_smart_balanced_masks():
    # haplotypes drawn independently at frequency f per site, as the formula assumes
    rng = np.random.default_rng(11)
    freq = np.array([0.05, 0.3, 0.8])
    n = 20_000
    haps = (rng.random((n, 2, freq.size)) < freq).astype(np.int8)
    r, a = 0.3, 0.7
    site = mk.union(mk.smart_balanced_mask(haps, r, a, seed=5))
    q = freq * (1 - a) + (1 - freq) * (1 - r)
    shift = masking.class_log_odds(r, a, freq)
    for j in range(freq.size):
        for allele, rate in ((1, a), (0, r)):
            own = haps[:, 0, j] == allele
            p = 1 - (1 - rate) * q[j]  # P(site masked | haplotype 0 holds allele)
            assert_binomial(int(site[own, j].sum()), int(own.sum()), p, what=f"site {j}")
        np.testing.assert_allclose(
            shift[j], np.log(1 - (1 - a) * q[j]) - np.log(1 - (1 - r) * q[j])
        )
    assert (shift > 0).all()  # alt is masked more often: the correction lowers P(alt)
    np.testing.assert_allclose(masking.class_log_odds(0.4, 0.4, freq), 0.0, atol=1e-12)
