"""Reference trainer at inference: overlapping windows scored at their centres, more retrieved
haplotypes and argmax calls, in validation (``--val-stride``, ``--val-k-retrieve``) and in
``impute`` (``--stride``, ``--k-retrieve``, ``--calls``)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_rag_bert_phase import TINY  # the tiny model and data of the trainer tests

from examples.rag_bert import data as dt
from examples.rag_bert import impute, train
from examples.rag_bert.baselines import BINS
from examples.rag_bert.data import InputError
from examples.rag_bert.phase import phase_window
from examples.rag_bert.retrieval import PanelIndex

pytestmark = pytest.mark.torch


@given(
    n=st.integers(1, 300),
    size=st.integers(1, 64),
    frac=st.floats(0.01, 1.0),
)
def test_strided_windows_cover_every_site_and_centres_score_it_once(n, size, frac):
    stride = max(1, round(size * frac))
    w = dt.make_windows(n, size, stride)
    assert (w[:, 1] - w[:, 0] == min(size, n)).all()
    assert w[0, 0] == 0
    assert w[-1, 1] == n
    assert (np.diff(w[:, 0]) > 0).all()
    assert (np.diff(w[:-1, 0]) == stride).all()  # only the last window is shifted to the edge
    for centre in (False, True):
        cols = dt.score_windows(w, n, centre=centre)
        scored = np.concatenate([s + c for (s, _), c in zip(w, cols)])
        np.testing.assert_array_equal(np.sort(scored), np.arange(n))  # each site exactly once
    if stride == size:
        np.testing.assert_array_equal(w, dt.make_windows(n, size))


def test_centre_scoring_takes_the_middle_of_overlapping_windows():
    w = dt.make_windows(40, 16, 8)
    cols = dt.score_windows(w, 40, centre=True)
    # window [8, 24) has centre 15.5: it scores sites 12..19 (distance < 4.5 from its centre)
    assert w[1].tolist() == [8, 24]
    np.testing.assert_array_equal(8 + cols[1], np.arange(12, 20))


@pytest.mark.parametrize("stride", [0, -1, 33])
def test_bad_stride_is_a_clear_error(stride):
    with pytest.raises(InputError, match="stride"):
        dt.make_windows(100, 32, stride)


@pytest.mark.parametrize("unphased", [False, True])
@pytest.mark.parametrize("prior", [[], ["--no-hmm-prior"]], ids=["hmm", "copy"])
@pytest.mark.slow
def test_strided_validation_equals_strided_impute(tmp_path, unphased, prior):
    """A checkpoint trained with --val-stride, --val-k-retrieve and --val-retrieval-window
    imputes with the same windows, neighbours and retrieval range by default, and scores the
    validation masks exactly as validation did (phased, or genotypes phased over the range)."""
    out = tmp_path / "m"
    argv = [*TINY, "--cache-dir", str(tmp_path / "cache"), "--epochs", "1", "--max-steps", "4"]
    argv += ["--val-stride", "12", "--val-k-retrieve", "6", "--calib-samples", "8"]
    argv += ["--val-retrieval-window", "80", *prior, *(["--val-unphased"] if unphased else [])]
    assert train.main([*argv, "--out", str(out)]) == 0
    hist = json.loads((out / "metrics.json").read_text())["history"]
    args = train.build_parser().parse_args([*argv, "--out", str(out)])
    data = dt.load_data(args)
    tr = train.Trainer(args, data)
    tr.close()
    assert tr.engine.eval_index.k == 6
    kw, ew = tr.engine.eval_index.key_windows, tr.engine.eval_index.windows
    assert ((kw[:, 1] - kw[:, 0]) == min(80, data.n_sites)).all()
    assert ((kw[:, 0] <= ew[:, 0]) & (kw[:, 1] >= ew[:, 1])).all()  # the range holds the window
    assert len(tr.engine.eval_index.windows) > len(data.windows)
    n_scored = sum(
        int(m[:, c].sum()) for m, c in zip(tr.evaluator.val_masks, tr.evaluator.score_cols)
    )
    assert n_scored == int(tr.evaluator.val_site.sum())  # every masked genotype scored once
    target = np.where(tr.evaluator.val_site[:, None, :], -1, data.val.haps).astype(np.int8)
    store, truth = tmp_path / "target.h5", tmp_path / "truth.h5"
    dt.write_store(store, target, data.positions, data.val.samples, phased=not unphased)
    dt.write_store(truth, data.val.haps, data.positions, data.val.samples)
    base = ["--checkpoint", str(out / "checkpoint.pt"), "--store", str(store), "--threads", "1"]
    base += ["--hmm-block", "1"]  # validation runs phasing and the HMM once per window
    for calls, key in (("fitted", "val"), ("argmax", "val_argmax")):
        res = tmp_path / f"imp_{calls}.h5"
        argv_i = [*base, "--out", str(res), "--truth", str(truth), "--calls", calls]
        assert impute.main(argv_i) == 0
        got = json.loads((tmp_path / f"imp_{calls}.h5.json").read_text())["scores"]
        for b in [*BINS, "rare", "all"]:
            want = hist[-1][key][b]
            assert got[b]["n_genotypes"] == want["n_genotypes"]
            for m in ("f1", "r2"):
                assert got[b][m] == pytest.approx(want[m], rel=1e-5, abs=1e-9, nan_ok=True), b
    # explicit flags override the checkpoint: the training windows fill every missing call too
    res = tmp_path / "tiles.h5"
    assert impute.main([*base, "--out", str(res), "--stride", "0", "--k-retrieve", "4"]) == 0
    gt, _, _ = dt.read_store(res)
    assert (gt >= 0).all()
    np.testing.assert_array_equal(gt[target >= 0], target[target >= 0])
    assert impute.main([*base, "--out", str(res), "--stride", "40"]) == 2  # > window size


def test_val_stride_with_a_window_file_is_refused(tmp_path, capsys):
    win = tmp_path / "w.txt"
    win.write_text("0 20\n20 40\n")
    argv = [*TINY, "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "o")]
    assert train.main([*argv, "--windows", str(win), "--val-stride", "8"]) == 2
    assert "--val-stride" in capsys.readouterr().err


def test_phasing_pair_is_chosen_on_the_focus_sites():
    """A target copying panel haplotypes 0+1 on 28 sites and 4+5 on the last 12 of a key range:
    over the whole range the pair 0+1 fits best, with focus on the last 12 sites the phased
    haplotypes are exactly 4 and 5 there."""
    rng = np.random.default_rng(4)
    panel = (rng.random((3, 2, 40)) < 0.5).astype(np.int8)
    rows = panel.reshape(6, 40)
    target = np.concatenate([rows[[0, 1], :28], rows[[4, 5], 28:]], axis=1)[None]
    index = PanelIndex(panel, np.array([[28, 40]]), 1, key_windows=np.array([[0, 40]]))
    want = {tuple(rows[4, 28:]), tuple(rows[5, 28:])}
    for focus, match in ((None, False), ((28, 40), True)):
        out = phase_window(index, 0, target, focus=focus)
        np.testing.assert_array_equal(out.sum(axis=1), target.sum(axis=1))  # genotypes kept
        assert ({tuple(out[0, 0, 28:]), tuple(out[0, 1, 28:])} == want) is match
