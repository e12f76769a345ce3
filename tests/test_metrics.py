"""maskkit.metrics against hand-computed cases."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from maskkit import metrics


def test_minor_allele_and_maf():
    f = np.array([0.0, 0.004, 0.3, 0.5, 0.7, 0.995, 1.0])
    assert metrics.minor_allele(f).tolist() == [1, 1, 1, 1, 0, 0, 0]
    np.testing.assert_allclose(
        metrics.maf_from_alt_freq(f), [0.0, 0.004, 0.3, 0.5, 0.3, 0.005, 0.0], atol=1e-12
    )


def test_bin_labels_and_validation():
    assert metrics.bin_labels((0.01, 0.05)) == ["maf<0.01", "0.01<=maf<0.05", "maf>=0.05"]
    with pytest.raises(ValueError, match="increasing"):
        metrics.bin_labels((0.05, 0.01))
    with pytest.raises(ValueError, match="alt_freq"):
        metrics.MinorAlleleScorer([0.1, 1.2])


def test_haploid_hand_computed():
    # 3 haplotypes x 4 sites; sites 0,1 rare with alt minor, site 2 rare with REF minor
    # (alt freq 0.98), site 3 common.
    freq = np.array([0.005, 0.03, 0.98, 0.3])
    truth = np.array([[1, 0, 1, 0], [0, 1, 0, 1], [0, 0, 1, 1]], dtype=np.int8)
    pred = np.array([[1, 1, 1, 0], [0, 0, 1, 1], [1, 0, 1, 0]], dtype=np.int8)
    mask = np.ones_like(truth, dtype=bool)
    mask[2, 3] = False  # not scored
    r = metrics.score(truth, pred, mask, freq)
    # bin maf<0.01 (site 0): truth minor (alt) = [1,0,0], pred = [1,0,1] -> tp1 fp1 fn0
    b = r["maf<0.01"]
    assert (b["precision"], b["recall"], b["f1"]) == (0.5, 1.0, 2 / 3)
    assert b["concordance"] == 2 / 3
    # bin 0.01-0.05 (sites 1 and 2):
    # site 1 alt minor: truth [0,1,0], pred [1,0,0] -> tp0 fp1 fn1
    # site 2 ref minor: truth minor = truth==0 -> [0,1,0]; pred==0 -> [0,0,0] -> tp0 fp0 fn1
    b = r["0.01<=maf<0.05"]
    assert b["precision"] == 0.0
    assert b["recall"] == 0.0
    assert b["f1"] == 0.0
    assert b["n_genotypes"] == 6
    assert b["n_minor_true"] == 2
    assert b["concordance"] == 3 / 6
    # common (site 3, masked rows 0 and 1): truth [0,1], pred [0,1] -> perfect
    b = r["maf>=0.05"]
    assert (b["f1"], b["r2"], b["n_genotypes"]) == (1.0, 1.0, 2)
    # rare = both rare bins pooled: tp1 fp2 fn2
    b = r["rare"]
    assert b["precision"] == pytest.approx(1 / 3)
    assert b["recall"] == pytest.approx(1 / 3)
    assert b["f1"] == pytest.approx(1 / 3)
    assert r["all"]["n_genotypes"] == 11


def test_diploid_dosage_is_phase_free():
    freq = np.array([0.02, 0.02])
    # sample 0: true het 1|0 at site 0; prediction 0|1 (phase swapped) -> still correct.
    # site 1: true hom-alt 1|1, predicted het -> tp1 fn1.
    truth = np.array([[[1, 1], [0, 1]]], dtype=np.int8)
    pred = np.array([[[0, 1], [1, 0]]], dtype=np.int8)
    r = metrics.score(truth, pred, np.ones((1, 2), bool), freq)
    b = r["rare"]
    assert b["n_genotypes"] == 2
    assert b["n_minor_true"] == 3
    assert b["n_minor_pred"] == 2
    assert b["precision"] == 1.0
    assert b["recall"] == pytest.approx(2 / 3)
    assert b["f1"] == pytest.approx(0.8)
    assert b["concordance"] == 0.5


def test_always_major_scores_zero_f1_but_high_concordance():
    rng = np.random.default_rng(0)
    n, s = 400, 50
    freq = np.concatenate([np.full(25, 0.01), np.full(25, 0.99)])  # half the sites: alt major
    truth = (rng.random((n, s)) < freq).astype(np.int8)
    major = np.broadcast_to((freq > 0.5).astype(np.int8), truth.shape)
    r = metrics.score(truth, major, np.ones_like(truth, bool), freq)
    assert r["rare"]["recall"] == 0.0
    assert r["rare"]["f1"] == 0.0
    assert r["rare"]["concordance"] > 0.97
    # an "alt F1" would have rewarded the 0.99-alt sites; minor-allele F1 does not.


def test_r2_uses_probabilities():
    freq = np.array([0.3, 0.3, 0.3, 0.3])
    truth = np.array([[0, 1, 0, 1]], dtype=np.int8)
    pred = np.array([[0, 1, 0, 1]], dtype=np.int8)
    prob = np.array([[0.1, 0.7, 0.3, 0.9]])
    r = metrics.score(truth, pred, np.ones((1, 4), bool), freq, alt_prob=prob)
    x = truth[0].astype(float)
    expected = np.corrcoef(x, prob[0])[0, 1] ** 2
    assert r["all"]["r2"] == pytest.approx(expected)
    assert r["all"]["f1"] == 1.0
    # ref-minor site: dosage of the minor allele is 1 - p(alt), r2 is unchanged
    r_ref = metrics.score(1 - truth, 1 - pred, np.ones((1, 4), bool), 1 - freq, alt_prob=1 - prob)
    assert r_ref["all"]["r2"] == pytest.approx(expected)


def test_undefined_values_are_nan_and_missing_skipped():
    freq = np.array([0.2, 0.2])
    truth = np.array([[0, -1]], dtype=np.int8)
    pred = np.array([[0, 1]], dtype=np.int8)
    r = metrics.score(truth, pred, np.ones((1, 2), bool), freq)
    b = r["maf>=0.05"]
    assert b["n_genotypes"] == 1  # the missing call is not scored
    assert math.isnan(b["f1"])
    assert math.isnan(b["precision"])
    assert math.isnan(b["recall"])
    assert math.isnan(b["r2"])
    assert math.isnan(r["rare"]["concordance"])


def test_scorer_accumulates_like_one_shot_and_uses_sites():
    rng = np.random.default_rng(1)
    freq = rng.uniform(0, 1, 30)
    truth = (rng.random((8, 2, 30)) < freq).astype(np.int8)
    pred = (rng.random((8, 2, 30)) < freq).astype(np.int8)
    mask = rng.random((8, 30)) < 0.5
    whole = metrics.score(truth, pred, mask, freq)
    s = metrics.MinorAlleleScorer(freq)
    for lo, hi in [(0, 10), (10, 30)]:
        s.update(truth[..., lo:hi], pred[..., lo:hi], mask[:, lo:hi], sites=np.arange(lo, hi))
    part = s.result()
    for b in whole:
        for k in whole[b]:
            np.testing.assert_allclose(part[b][k], whole[b][k], equal_nan=True)
    other = metrics.MinorAlleleScorer(freq)
    other.merge_state_dict(s.state_dict())
    assert other.result()["all"]["n_genotypes"] == whole["all"]["n_genotypes"]
    other.merge_state_dict(s.state_dict())
    assert other.result()["all"]["n_genotypes"] == 2 * whole["all"]["n_genotypes"]
    other.load_state_dict(json.loads(json.dumps(s.state_dict())))
    assert other.state_dict() == s.state_dict()


def test_scorer_state_dict_rejects_other_bins():
    s = metrics.MinorAlleleScorer([0.1, 0.2])
    with pytest.raises(ValueError, match="edges"):
        metrics.MinorAlleleScorer([0.1, 0.2], edges=(0.05,)).load_state_dict(s.state_dict())
    with pytest.raises(ValueError, match="sites"):
        metrics.MinorAlleleScorer([0.1]).load_state_dict(s.state_dict())
    with pytest.raises(TypeError, match="state_dict"):
        s.load_state_dict({"counts": []})


def test_nan_frequency_is_an_error_naming_alt_freq():
    with pytest.raises(ValueError, match=r"alt_freq.*NaN"):
        metrics.MinorAlleleScorer([0.1, float("nan")])


def test_shape_errors():
    s = metrics.MinorAlleleScorer([0.1, 0.2])
    t = np.zeros((1, 2), np.int8)
    with pytest.raises(ValueError, match="sites"):
        s.update(np.zeros((1, 3), np.int8), np.zeros((1, 3), np.int8), np.ones((1, 3), bool))
    with pytest.raises(TypeError, match="boolean"):
        s.update(t, t, np.ones((1, 2), int))
    with pytest.raises(ValueError, match="same"):
        s.update(t, np.zeros((1, 3), np.int8), np.ones((1, 2), bool))


def test_flatten():
    assert metrics.flatten({"rare": {"f1": 1}}, prefix="v/") == {"v/rare/f1": 1.0}
