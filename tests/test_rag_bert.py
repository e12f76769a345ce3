"""Reference RAG-BERT trainer: retrieval without leakage, smoke training, resume, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from bounds import assert_binomial

import maskkit as mk
from examples.rag_bert import checkpoint as ckpt_io
from examples.rag_bert import cli, impute, masking, train

# examples/ is not an installed package; pytest `pythonpath = ["."]` makes it importable.
from examples.rag_bert import data as dt
from examples.rag_bert.model import RagBert, match_features
from examples.rag_bert.retrieval import PanelIndex, nearest_copy, query_keys
from maskkit.curriculum import Levels

pytestmark = pytest.mark.torch

TINY = [
    "--demo-train", "24", "--demo-val", "6", "--demo-length", "6e4", "--window", "32",
    "--dims", "16", "--layers", "1", "--heads", "2", "--k-retrieve", "4", "--batch-size", "6",
    "--lr", "5e-3", "--quiet", "--no-plots", "--threads", "1", "--data-seed", "3",
]  # fmt: skip


def _panel(rng: np.random.Generator, n: int = 10, sites: int = 40) -> np.ndarray:
    return (rng.random((n, 2, sites)) < 0.3).astype(np.int8)


def test_query_key_ignores_masked_sites():
    rng = np.random.default_rng(0)
    rows = (rng.random((6, 40)) < 0.4).astype(np.int8)
    hidden = rng.random((6, 40)) < 0.5
    flipped = np.where(hidden, 1 - rows, rows).astype(np.int8)
    a, b = query_keys(rows, hidden), query_keys(flipped, hidden)
    np.testing.assert_array_equal(a, b)
    assert (a[hidden] == 0).all()
    assert (np.abs(a[~hidden]) == 1).all()
    # and so retrieval does not change either
    index = PanelIndex(_panel(rng), np.array([[0, 40]]), k=5)
    ids_a, _ = index.search(0, a, None)
    ids_b, _ = index.search(0, b, None)
    np.testing.assert_array_equal(ids_a, ids_b)


def test_similarity_is_agreements_minus_disagreements():
    rng = np.random.default_rng(1)
    panel = _panel(rng, n=5)
    index = PanelIndex(panel, np.array([[0, 40]]), k=3)
    q = panel[2, 0][None].copy()
    hidden = np.zeros((1, 40), bool)
    hidden[0, :10] = True
    ids, scores = index.search(0, query_keys(q, hidden), None, k=10)
    rows = panel.reshape(10, 40)
    vis = ~hidden[0]
    expect = (rows[:, vis] == q[0, vis]).sum(1) - (rows[:, vis] != q[0, vis]).sum(1)
    np.testing.assert_allclose(scores[0], expect[ids[0]])
    assert ids[0, 0] == 4  # itself (sample 2, haplotype 0) when nothing is excluded


def test_retrieval_excludes_own_haplotypes():
    rng = np.random.default_rng(2)
    panel = _panel(rng, n=8)
    panel[3, 1] = panel[3, 0]  # own haplotypes are the two best matches
    index = PanelIndex(panel, np.array([[0, 40]]), k=4)
    rows = panel[[3, 3]].reshape(-1, 40)[:2]
    keys = query_keys(rows, np.zeros_like(rows, bool))
    leak, _ = index.search(0, keys, None)
    assert set(leak[:, :2].ravel()) <= {6, 7}  # would leak without exclusion
    ids, _ = index.search(0, keys, np.array([3, 3]))
    assert ids.shape == (2, 4)
    assert not np.isin(ids, [6, 7]).any()
    copy = nearest_copy(index, 0, rows, np.zeros_like(rows, bool), np.array([3, 3]))
    assert not (copy == rows).all(axis=1).all()


def test_k_larger_than_panel_is_clear_error():
    rng = np.random.default_rng(3)
    with pytest.raises(dt.InputError, match="too large"):
        PanelIndex(_panel(rng, n=3), np.array([[0, 40]]), k=5)


def test_model_output_independent_of_hidden_alleles():
    rng = np.random.default_rng(4)
    torch.manual_seed(0)
    model = RagBert(dims=16, layers=1, heads=2, max_len=40).eval()
    haps = (rng.random((3, 2, 40)) < 0.4).astype(np.int8)
    site = rng.random((3, 40)) < 0.3
    flipped = np.where(site[:, None, :], 1 - haps, haps).astype(np.int8)
    ref = torch.as_tensor((rng.random((6, 4, 40)) < 0.4).astype(np.int8))
    af = torch.full((40,), 0.3)
    outs = []
    for h in (haps, flipped):
        b = mk.collate(h, site)
        tok = torch.as_tensor(b["input_ids"].reshape(6, 40))
        qkey = torch.as_tensor(query_keys(h.reshape(6, 40), np.repeat(site, 2, axis=0)))
        with torch.no_grad():
            outs.append(model(tok, qkey, ref, af))
    torch.testing.assert_close(outs[0], outs[1])
    feats = match_features(qkey, ref)
    assert feats.shape == (6, 4, 40, feats.shape[-1])
    assert torch.isfinite(feats).all()


def test_untrained_model_predicts_the_copying_prior():
    from examples.rag_bert.model import COPY_EPS

    rng = np.random.default_rng(7)
    torch.manual_seed(0)
    model = RagBert(dims=16, layers=1, heads=2, max_len=40).eval()
    haps = (rng.random((2, 2, 40)) < 0.4).astype(np.int8)
    site = rng.random((2, 40)) < 0.3
    rows = haps.reshape(4, 40)
    tok = torch.as_tensor(mk.collate(haps, site)["input_ids"].reshape(4, 40))
    qkey = torch.as_tensor(query_keys(rows, np.repeat(site, 2, axis=0)))
    # every retrieved haplotype is the query itself: the prior copies it
    ref = torch.as_tensor(np.repeat(rows[:, None, :], 3, axis=1))
    with torch.no_grad():
        logits = model(tok, qkey, ref, torch.full((40,), 0.3))
    p_alt = torch.softmax(logits, -1)[..., 1].numpy()
    expect = np.where(rows > 0, 1 - COPY_EPS, COPY_EPS)
    np.testing.assert_allclose(p_alt, expect, rtol=1e-5)
    # without the copy path the untrained head knows nothing
    plain = RagBert(dims=16, layers=1, heads=2, max_len=40, copy_prior=False).eval()
    with torch.no_grad():
        p_plain = torch.softmax(plain(tok, qkey, ref, torch.full((40,), 0.3)), -1)[..., 1]
    assert float(np.abs(p_plain.numpy() - expect).max()) > 0.3


@pytest.mark.slow
def test_smoke_train_resume_and_outputs(tmp_path):
    common = [*TINY, "--levels", "0.3", "--cache-dir", str(tmp_path / "cache")]
    full = tmp_path / "full"
    rc = train.main([*common, "--epochs", "2", "--out", str(full)])
    assert rc == 0
    hist = json.loads((full / "metrics.json").read_text())["history"]
    assert len(hist) == 2
    # the model beats the allele-frequency prior on the masked validation alleles
    args = train.build_parser().parse_args([*common, "--out", str(full)])
    data = dt.load_data(args)
    tr = train.Trainer(args, data)
    tr.close()
    hidden = np.broadcast_to(tr.evaluator.val_site[:, None, :], data.val.haps.shape)
    f = np.clip(np.broadcast_to(data.alt_freq, data.val.haps.shape)[hidden], 1e-3, 1 - 1e-3)
    alt = data.val.haps[hidden] > 0
    prior_loss = float(-np.mean(np.where(alt, np.log(f), np.log1p(-f))))
    assert hist[1]["val_loss"] < 0.8 * prior_loss
    assert (full / "metrics.csv").read_text().count("\n") == 3
    assert (full / "checkpoint.pt").exists()
    assert "rare" in hist[0]["val"]
    # resume: one epoch, then continue to two -> same masks and the same numbers
    part = tmp_path / "part"
    assert train.main([*common, "--epochs", "1", "--out", str(part)]) == 0
    # a checkpoint of the earlier layout (a separate copy of the schedule's state) loads too
    state = ckpt_io.load(part / "checkpoint.pt")
    state["schedule"] = state["masker"]["schedules"]["rate"]
    ckpt_io.save(part / "checkpoint.pt", state)
    assert train.main([*common, "--epochs", "2", "--out", str(part), "--resume"]) == 0
    hist2 = json.loads((part / "metrics.json").read_text())["history"]
    assert hist2[1]["mask_digest"] == hist[1]["mask_digest"]
    assert hist2[0]["mask_digest"] != hist2[1]["mask_digest"]
    assert hist2[1]["train_loss"] == pytest.approx(hist[1]["train_loss"], rel=1e-5)
    assert hist2[1]["val_loss"] == pytest.approx(hist[1]["val_loss"], rel=1e-5)
    # a checkpoint from another config: clear message, checkpoint untouched
    before = (part / "checkpoint.pt").read_bytes()
    rc = train.main([*common, "--epochs", "3", "--out", str(part), "--resume", "--k-retrieve", "3"])
    assert rc == 2
    assert (part / "checkpoint.pt").read_bytes() == before
    _check_impute(tmp_path, part / "checkpoint.pt")


def _check_impute(tmp_path, ckpt):
    import h5py

    d = dt.ooa_demo_data(
        n_train=24, n_val=6, length=6e4, window=32, seed=3, cache_dir=tmp_path / "cache"
    )
    names = d.val.samples
    truth = tmp_path / "truth.h5"
    dt.write_store(truth, d.val.haps, d.positions, names)
    rng = np.random.default_rng(0)
    hide = rng.random((d.val.n, d.n_sites)) < 0.3
    target = np.where(hide[:, None, :], -1, d.val.haps).astype(np.int8)
    tpath, opath = tmp_path / "target.h5", tmp_path / "imputed.h5"
    dt.write_store(tpath, target, d.positions, names)
    args = ["--checkpoint", str(ckpt), "--store", str(tpath), "--out", str(opath)]
    assert impute.main([*args, "--truth", str(truth), "--threads", "1"]) == 0
    with h5py.File(opath, "r") as f:
        gt = np.asarray(f["calldata/GT"]).transpose(1, 2, 0)
        ds = np.asarray(f["calldata/DS"]).T
        imp = np.asarray(f["calldata/IMPUTED"]).transpose(1, 2, 0)
    np.testing.assert_array_equal(imp, target < 0)
    np.testing.assert_array_equal(gt[target >= 0], target[target >= 0])
    assert set(np.unique(gt[target < 0])) <= {0, 1}
    assert ds.shape == hide.shape
    assert (ds >= 0).all()
    assert (ds <= 2).all()
    np.testing.assert_allclose(ds[~hide], (d.val.haps > 0).sum(1)[~hide])
    report = json.loads((tmp_path / "imputed.h5.json").read_text())
    assert report["imputed_calls"] == int((target < 0).sum())
    assert report["scores"]["all"]["n_genotypes"] == hide.sum()
    # the panel is every reference sample of the run, less those that are targets themselves
    assert report["panel"] == {
        "source": "checkpoint", "samples": d.train.n, "haplotypes": 2 * d.train.n,
        "targets_left_out": d.val.n,
    }  # fmt: skip
    # targets not in the panel: imputation conditions on the validation samples too, and a
    # target that is a renamed copy of one is imputed from it
    dt.write_store(tpath, target, d.positions, np.array([f"new{i}" for i in range(d.val.n)]))
    assert impute.main([*args, "--truth", str(truth), "--threads", "1"]) == 0
    report = json.loads((tmp_path / "imputed.h5.json").read_text())
    n_ref = d.train.n + d.val.n
    assert report["panel"]["samples"] == n_ref
    assert report["panel"]["haplotypes"] == 2 * n_ref
    assert report["panel"]["targets_left_out"] == 0
    assert report["scores"]["all"]["concordance"] > 0.97
    # a panel the user names (here: the training samples alone)
    panel = tmp_path / "panel.h5"
    dt.write_store(panel, d.train.haps, d.positions, d.train.samples)
    assert impute.main([*args, "--panel", str(panel), "--threads", "1"]) == 0
    report = json.loads((tmp_path / "imputed.h5.json").read_text())
    assert report["panel"]["source"] == str(panel)
    assert report["panel"]["haplotypes"] == 2 * d.train.n
    dt.write_store(panel, d.train.haps, d.positions + 1, d.train.samples)
    assert impute.main([*args, "--panel", str(panel)]) == 2
    _check_vcf_out(tmp_path, ckpt, d, target)
    # a store with other sites is refused with a clear message
    dt.write_store(tpath, target, d.positions + 1, names)
    assert impute.main(args) == 2


def _target_vcf(path, samples, positions, haps, extra):
    """A phased VCF of ``haps`` (REF C, ALT T) plus the raw records ``extra``."""
    head = ["##fileformat=VCFv4.2", "##contig=<ID=chr7>",
            '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
            '##FORMAT=<ID=XX,Number=1,Type=Integer,Description="a field of the targets">',
            "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT",
                       *samples])]  # fmt: skip
    rows = []
    for j, p in enumerate(positions):
        gts = [
            "|".join("." if a < 0 else str(a) for a in haps[i, :, j]) for i in range(len(samples))
        ]
        rows.append(
            (int(p), "\t".join(["chr7", str(p), f"rs{p}", "C", "T", ".", "PASS", ".", "GT", *gts]))
        )
    rows.extend(extra)
    rows.sort()
    path.write_text("\n".join([*head, *(r[1] for r in rows)]) + "\n")


def _check_vcf_out(tmp_path, ckpt, d, target):
    """VCF in (targets lacking every fifth model site, one record the model lacks), the whole
    panel, and an indexed VCF out that keeps the targets' columns, samples and other records."""
    import cyvcf2

    from maskkit import io as mkio

    n = d.n_sites
    ref = tmp_path / "ref.h5"
    everyone = np.concatenate([d.train.haps, d.val.haps])
    names = [*d.train.samples, *d.val.samples]
    mkio.write_store(
        ref, everyone, positions=d.positions, samples=names, ref=["C"] * n, alt=["T"] * n
    )
    samples = [f"t{i}" for i in range(d.val.n)][::-1]  # an order of their own
    kept = np.arange(n) % 5 != 0
    spare = int(d.positions.max()) + 7  # a site the model does not hold
    extra_line = "\t".join(["chr7", str(spare), "x1", "A", "C", "50", "PASS", "DP=3", "GT:XX",
                            *["0|1:4"] * d.val.n])  # fmt: skip
    # a record at a model site with other alleles than the panel's: not read, passed through
    p0 = int(d.positions[0])
    flipped = "\t".join(["chr7", str(p0), "x2", "G", "A", ".", "PASS", ".", "GT",
                         *["1|1"] * d.val.n])  # fmt: skip
    vcf = tmp_path / "targets.vcf"
    _target_vcf(vcf, samples, d.positions[kept], target[:, :, kept],
                [(spare, extra_line), (p0, flipped)])  # fmt: skip
    out = tmp_path / "imputed.vcf.gz"
    argv = ["--checkpoint", str(ckpt), "--store", str(vcf), "--panel", str(ref), "--out", str(out)]
    assert impute.main([*argv, "--threads", "1", "--quiet"]) == 0
    report = json.loads((tmp_path / "imputed.vcf.gz.json").read_text())
    assert report["sites"] == {"model": n, "in_targets": int(kept.sum()),
                               "imputed_only": int((~kept).sum()), "passed_through": 2}  # fmt: skip
    assert report["panel"]["haplotypes"] == 2 * (d.train.n + d.val.n)
    assert (tmp_path / "imputed.vcf.gz.tbi").is_file()
    recs = list(cyvcf2.VCF(str(out)))
    assert cyvcf2.VCF(str(out)).samples == samples
    assert [r.POS for r in recs] == sorted([*d.positions.tolist(), spare, p0])
    raw = {str(r).rstrip("\n") for r in recs}
    assert extra_line in raw  # passed through untouched
    assert flipped in raw
    by_pos = {r.POS: r for r in recs if r.ID != "x2"}
    for j, p in enumerate(d.positions.tolist()):
        r = by_pos[p]
        record_id = r.ID  # the target's columns, else the panel's
        assert record_id == (f"rs{p}" if kept[j] else None)
        assert (r.REF, r.ALT[0]) == ("C", "T")
        assert bool(r.INFO.get("IMP")) == (not kept[j])
        g = r.genotype.array()
        assert g[:, 2].all()  # phased
        seen = target[:, :, j] >= 0
        if kept[j]:  # observed calls are kept
            np.testing.assert_array_equal(g[:, :2][seen], target[:, :, j][seen])
        ds, gp = r.format("DS")[:, 0], r.format("GP")
        assert ((ds >= 0) & (ds <= 2)).all()
        np.testing.assert_allclose(gp.sum(axis=1), 1.0, atol=0.02)
        assert 0.0 <= r.INFO.get("DR2") <= 1.0
    lo, hi = int(d.positions[10]), int(d.positions[40])
    region = [r.POS for r in cyvcf2.VCF(str(out))(f"chr7:{lo}-{hi}")]
    assert region == [p for p in sorted([*d.positions.tolist(), spare, p0]) if lo <= p <= hi]


@pytest.mark.slow
def test_training_batches_come_from_the_torch_adapter(tmp_path, monkeypatch):
    from maskkit.torch import HaplotypeDataset, WindowBatchSampler

    argv = [*TINY, "--levels", "0.3", "0.6", "--max-steps", "5", "--out", str(tmp_path / "o")]
    args = train.build_parser().parse_args([*argv, "--cache-dir", str(tmp_path / "cache")])
    data = dt.load_data(args)
    tr = train.Trainer(args, data)
    try:
        assert isinstance(tr.dataset, HaplotypeDataset)
        assert tr.dataset.masker is tr.masker
        assert isinstance(tr.loader.batch_sampler, WindowBatchSampler)
        assert tr.loader.collate_fn is tr.dataset.collate_fn
        seen = []
        forward = tr.engine.forward

        def spy(w, haps, site, own, *weights, **kw):
            seen.append((w, haps.copy(), site.copy(), own.copy()))
            return forward(w, haps, site, own, *weights, **kw)

        monkeypatch.setattr(tr.engine, "forward", spy)
        tr.masker.set_epoch(1)
        tr.train_epoch(lambda it, **_: it)
    finally:
        tr.close()
    assert len(seen) == 5
    n_windows = len(data.windows)
    for w, haps, site, own in seen:
        s, e = data.windows[w]
        samples = own[::2]
        np.testing.assert_array_equal(own, np.repeat(samples, 2))  # self-exclusion ids
        np.testing.assert_array_equal(haps, data.train.haps[samples, :, s:e])
        # the adapter's key and the level of epoch 1, from the core function alone
        m = mk.smart_balanced_mask(
            haps, 0.6, 0.7, seed=args.seed, epoch=1, indices=samples * n_windows + w
        )
        np.testing.assert_array_equal(site, mk.union(m))


@pytest.mark.slow
def test_set_epoch_reaches_loader_workers(tmp_path):
    # levels 0.2 -> 0.8: a worker that missed set_epoch would keep masking ref sites at 0.2
    argv = [*TINY, "--levels", "0.2", "0.8", "--epochs", "2", "--max-steps", "4"]
    argv += ["--calib-samples", "0", "--cache-dir", str(tmp_path / "cache")]
    hists = []
    for workers in ("1", "0"):
        out = tmp_path / f"w{workers}"
        assert train.main([*argv, "--num-workers", workers, "--out", str(out)]) == 0
        hists.append(json.loads((out / "metrics.json").read_text())["history"])
    h1, h0 = hists
    assert h1[0]["mask_ref_rate"] == pytest.approx(0.2, abs=0.05)
    assert h1[1]["mask_ref_rate"] == pytest.approx(0.8, abs=0.05)
    for a, b in zip(h1, h0):  # masks never depend on the worker count
        assert a["mask_digest"] == b["mask_digest"]
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-5)


@pytest.mark.slow
def test_plots_written(tmp_path):
    out = tmp_path / "p"
    args = [a for a in TINY if a != "--no-plots"]
    rc = train.main([*args, "--epochs", "1", "--max-steps", "2", "--out", str(out)])
    assert rc == 0
    for name in ("trainer_loss.png", "trainer_f1.png"):
        assert (out / name).stat().st_size > 1000


def test_bad_input_messages(tmp_path, capsys):
    assert train.main(["--train", str(tmp_path / "nope.h5"), "--val", "x", "--quiet"]) == 2
    assert "not found" in capsys.readouterr().err
    rng = np.random.default_rng(5)
    haps = (rng.random((6, 2, 50)) < 0.3).astype(np.int8)
    pos = np.arange(1, 51) * 10
    store = tmp_path / "s.h5"
    dt.write_store(store, haps, pos, np.array([f"s{i}" for i in range(6)]))
    win = tmp_path / "w.txt"
    win.write_text("0 30\n30 60\n")
    base = ["--train", str(store), "--val", str(store), "--quiet", "--out", str(tmp_path / "o")]
    assert train.main([*base, "--windows", str(win)]) == 2
    assert "beyond" in capsys.readouterr().err
    assert train.main([*base, "--window", "25", "--k-retrieve", "20"]) == 2
    assert "too large" in capsys.readouterr().err


def test_calib_samples_default_follows_the_prior():
    def resolved(*argv: str) -> int:
        return cli.resolve_defaults(cli.build_parser().parse_args(list(argv))).calib_samples

    assert resolved() == 0  # HMM prior (the default): argmax calls
    assert resolved("--no-hmm-prior") == 64
    assert resolved("--no-copy-prior") == 64  # no prior at all: fitted thresholds
    assert resolved("--calib-samples", "8") == 8
    assert resolved("--no-hmm-prior", "--calib-samples", "0") == 0
    with pytest.raises(dt.InputError, match="--calib-samples must be >= 0"):
        resolved("--calib-samples", "-1")


def test_learned_key_sees_only_visible_sites_and_gets_gradients():
    rng = np.random.default_rng(6)
    torch.manual_seed(0)
    model = RagBert(dims=16, layers=1, heads=2, max_len=40, learned_key=True)
    haps = (rng.random((2, 2, 40)) < 0.4).astype(np.int8)
    site = rng.random((2, 40)) < 0.3
    flipped = np.where(site[:, None, :], 1 - haps, haps).astype(np.int8)
    keys = []
    for h in (haps, flipped):
        tok = torch.as_tensor(mk.collate(h, site)["input_ids"].reshape(4, 40))
        keys.append(model.key_encoder(tok))
    torch.testing.assert_close(keys[0], keys[1])
    ref = torch.as_tensor((rng.random((4, 3, 40)) < 0.4).astype(np.int64)) + 3
    bias = model.key_bias(tok, ref)
    bias.sum().backward()
    grad = model.key_encoder.tok.weight.grad
    assert grad is not None
    assert float(grad.abs().sum()) > 0


@pytest.mark.slow
def test_learned_key_training_runs(tmp_path):
    out = tmp_path / "learned"
    args = [*TINY, "--key", "learned", "--epochs", "1", "--max-steps", "3", "--out", str(out)]
    assert train.main(args) == 0
    hist = json.loads((out / "metrics.json").read_text())["history"]
    assert hist[0]["index_build_s"] >= 0


def test_threshold_fit_and_calls():
    from examples.rag_bert import calls

    fitter = calls.ThresholdFitter(n_bins=3)
    # bin 0: minor alleles have p = 0.2, majors p = 0.01 -> best threshold in (0.01, 0.2]
    p = np.array([0.2, 0.2, 0.01, 0.01, 0.01])
    y = np.array([True, True, False, False, False])
    fitter.update(p, y, np.zeros(5, int))
    th = fitter.fit()
    assert th[0] == 0.2
    assert th[1] == 0.5  # no data: argmax
    freq = np.array([0.005, 0.995, 0.3])  # alt minor, ref minor, common
    alt_p = np.array([[0.25, 0.75, 0.4]])
    np.testing.assert_array_equal(calls.call(alt_p, freq, None), [[0, 1, 0]])
    # P(minor) = 0.25 at site 0 and 0.25 at site 1 (ref minor) -> both called minor
    np.testing.assert_array_equal(calls.call(alt_p, freq, np.array([0.2, 0.5, 0.5])), [[1, 0, 0]])


def test_af_aware_mask_rates_follow_the_bins():
    masker = masking.make_masker("af_aware", 0.5, 0.7, seed=4, af_rates=[1.6, 1.3, 1.0])
    masker.set_epoch(0)
    sites = 3 * 400
    freq = np.repeat([0.005, 0.02, 0.3], 400)
    haps = np.zeros((64, 2, sites), dtype=np.int8)
    key = np.arange(64, dtype=np.int64)
    m = masker(haps, indices=key, freq=freq)
    assert m.shape == haps.shape
    for b, expected in enumerate((0.8, 0.65, 0.5)):
        part = m[..., b * 400 : (b + 1) * 400]
        assert_binomial(int(part.sum()), part.size, expected, what=f"MAF bin {b}")


def test_af_aware_masks_keep_the_trainers_formula():
    # rate x af_rates[bin], capped at 1: the table af_rates / max, scaled by rate x max
    levels, af_rates = [0.3, 0.8], [1.6, 1.3, 1.0]
    masker = masking.make_masker("af_aware", Levels(levels), 0.7, seed=9, af_rates=af_rates)
    rng = np.random.default_rng(2)
    haps = (rng.random((20, 2, 300)) < 0.2).astype(np.int8)
    freq = rng.choice([0.004, 0.03, 0.2], size=300)
    key = np.arange(20, dtype=np.int64) * 7 + 3
    table = np.array(af_rates) / max(af_rates)
    for epoch, rate in enumerate(levels):
        masker.set_epoch(epoch)
        expected = mk.af_mask(
            haps, freq, [0.01, 0.05], table, scale=rate * max(af_rates), fold=True, seed=9,
            epoch=epoch, indices=key,
        )  # fmt: skip
        np.testing.assert_array_equal(masker(haps, indices=key, freq=freq), expected)
        assert masking.curriculum_rate(masker) == rate


@pytest.mark.slow
def test_af_aware_training_runs(tmp_path):
    out = tmp_path / "af"
    args = [*TINY, "--strategy", "af_aware", "--epochs", "1", "--max-steps", "3", "--out", str(out)]
    assert train.main(args) == 0
    hist = json.loads((out / "metrics.json").read_text())["history"]
    assert len(hist) == 1


def test_site_mask_probability_is_the_union_of_haplotype_rates():
    freq = np.repeat([0.005, 0.02, 0.3], 5)
    haps = np.zeros((3, 2, 15), dtype=np.int8)
    haps[0, 0, 7] = 1
    key = np.arange(3, dtype=np.int64)
    af = masking.make_masker("af_aware", 0.5, 0.7, seed=1, af_rates=[1.6, 1.3, 1.0])
    p = af.probabilities(haps, indices=key, union=True, freq=freq)
    per_hap = np.repeat([0.8, 0.65, 0.5], 5)
    assert np.allclose(p, 1 - (1 - per_hap) ** 2)
    smart = masking.make_masker("smart_balanced", 0.3, 0.7, seed=1)
    p = smart.probabilities(haps, indices=key, union=True)
    assert np.isclose(p[0, 7], 1 - 0.7 * 0.3)
    assert np.isclose(p[0, 6], 1 - 0.7 * 0.7)


@pytest.mark.parametrize("strategy", ["smart_balanced", "af_aware"])
@pytest.mark.slow
def test_importance_weighted_training_runs(tmp_path, strategy):
    out = tmp_path / "iw"
    args = [*TINY, "--importance-weights", "--strategy", strategy, "--epochs", "1",
            "--max-steps", "3", "--out", str(out)]  # fmt: skip
    assert train.main(args) == 0
    summary = json.loads((out / "metrics.json").read_text())
    assert summary["config"]["importance_weights"] is True
    assert summary["config"]["strategy"] == strategy
    assert np.isfinite(summary["history"][0]["train_loss"])


@pytest.mark.slow
def test_ooa_demo_cache_is_the_users_and_versioned(monkeypatch, tmp_path):
    from maskkit import io as mkio
    from maskkit.io import simulate

    monkeypatch.setenv("MASKKIT_CACHE_DIR", str(tmp_path / "cache"))
    calls = []
    real = simulate.simulate_demo

    def counted(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(simulate, "simulate_demo", counted)
    kw = dict(n_train=8, n_val=4, length=2e4, window=32, seed=5)
    a = dt.ooa_demo_data(**kw)
    b = dt.ooa_demo_data(**kw)
    # maskkit.io.demo_data's cache: versioned, keyed by every size, in the user's folder
    name = f"demo-{mk.__version__}-n12-len20000-val{4 / 12!r}-win32-seed5"
    assert calls == [tmp_path / "cache" / name]
    assert (
        mkio.demo_data(
            tmp_path / "cache",
            seed=5,
            n_diploids=12,
            length=20_000,
            val_fraction=4 / 12,
            window_size=32,
        ).outdir
        == calls[0]
    )
    np.testing.assert_array_equal(a.train.haps, b.train.haps)
    np.testing.assert_array_equal(a.positions, b.positions)


def test_constant_demo_cache_is_versioned(monkeypatch, tmp_path):
    calls = []
    real = dt.simulate

    def counted(*args):
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(dt, "simulate", counted)
    kw = dict(n_train=8, n_val=4, length=2e4, window=32, seed=5, cache_dir=tmp_path)
    a = dt.demo_data(**kw)
    b = dt.demo_data(**kw)
    assert len(calls) == 1
    assert [p.name for p in tmp_path.iterdir()] == [f"demo-{mk.__version__}-8_4_20000_5.npz"]
    np.testing.assert_array_equal(a.val.haps, b.val.haps)


def test_unwritable_demo_cache_is_a_clear_error(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    rc = train.main([*TINY, "--out", str(tmp_path / "run"), "--cache-dir", str(blocker / "c")])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot write the demo data cache in ")
    assert "--cache-dir" in err
    assert "MASKKIT_CACHE_DIR" in err
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir())


def test_reports_are_written_whole_or_not_at_all(monkeypatch, tmp_path):
    from pathlib import Path

    target = tmp_path / "report.json"
    dt.write_text(target, '{"old": 1}')
    real = Path.write_text

    def cut(self, text, *args, **kwargs):  # the disk fills up halfway
        real(self, text[: len(text) // 2], *args, **kwargs)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_text", cut)
    with pytest.raises(OSError, match="No space"):
        dt.write_text(target, '{"new": 2, "padding": "' + "x" * 100 + '"}')
    monkeypatch.undo()
    assert json.loads(target.read_text()) == {"old": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]  # no temporary file left


def test_undefined_scores_print_as_not_available():
    from examples.rag_bert.baselines import BINS, fmt_bins

    # the major-allele baseline calls one allele everywhere: its r2 is undefined
    res = {b: {"f1": 0.0, "r2": float("nan")} for b in BINS}
    line = fmt_bins(res)
    assert "nan" not in line
    assert line.count("r2 n/a") == len(BINS)
    assert line.count("F1 0.000") == len(BINS)


def test_banner_says_the_trainer_unions_the_haplotypes():
    masker = masking.make_masker("smart_balanced", Levels([0.3, 0.5]), 0.7, seed=1)
    text = masking.banner(masker, 1)
    assert "union on" in text
    assert "union off" not in text
    assert "Ref (0) Mask Rate: 50%" in text  # the epoch it was asked about
    # 1 - (1 - 0.5)^2 for a site with two ref haplotypes
    assert "after union (ploidy 2): 0 alt: 75%" in text
    assert masker.epoch == 0  # the banner does not move the trainer's Masker


def test_one_reference_store_holds_out_its_validation_samples(tmp_path):
    rng = np.random.default_rng(5)
    haps = (rng.random((20, 2, 30)) < 0.3).astype(np.int8)
    names = np.array([f"r{i:02d}" for i in range(20)])
    store = tmp_path / "ref.h5"
    dt.write_store(store, haps, np.arange(1, 31) * 10, names)

    def load(*extra):
        return dt.load_data(cli.build_parser().parse_args(["--train", str(store), *extra]))

    d = load()
    assert (d.train.n, d.val.n) == (18, 2)  # --val-fraction 0.1
    assert set(d.train.samples).isdisjoint(d.val.samples)
    assert sorted([*d.train.samples, *d.val.samples]) == names.tolist()
    np.testing.assert_array_equal(d.val.haps, haps[np.isin(names, d.val.samples)])
    np.testing.assert_array_equal(load().val.samples, d.val.samples)  # seeded
    assert load("--data-seed", "7", "--val-fraction", "0.25").val.n == 5
    listed = tmp_path / "val.txt"
    listed.write_text("sample\nr03\nr11\n")
    e = load("--val-panel", str(listed))
    assert e.val.samples.tolist() == ["r03", "r11"]
    assert e.train.n == 18
    with pytest.raises(dt.InputError, match="--train without --val"):
        load("--val-fraction", "1.5")


def test_train_module_stays_short_enough_to_read() -> None:
    # the reference trainer teaches the library: evaluation, the HMM prior, outputs and the
    # command line live in modules beside it, and train.py stays at most 300 lines
    from pathlib import Path

    lines = Path(train.__file__).read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 300, f"examples/rag_bert/train.py has {len(lines)} lines"
