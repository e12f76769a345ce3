"""Reference trainer: the Li-Stephens copying prior (examples/rag_bert/hmm.py, --hmm-prior)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from test_rag_bert import TINY, _check_impute

from examples.rag_bert import checkpoint as ckpt_io
from examples.rag_bert import cli, hmm, train
from examples.rag_bert.data import InputError
from examples.rag_bert.model import RagBert
from examples.rag_bert.phase import phase_hmm, phase_window
from examples.rag_bert.retrieval import PanelIndex

pytestmark = pytest.mark.torch


def reference_posterior(panel, query, hidden, rho, eps, use):
    """P(alt) by explicit transition matrices (forward-backward without tricks)."""
    m = panel.shape[1]
    used = np.flatnonzero(use)
    n = used.size
    emit = np.ones((m, n))
    for j in range(m):
        if not hidden[j] and query[j] >= 0:
            b = panel[used, j]
            emit[j] = np.where(b < 0, 1.0, np.where(b == query[j], 1 - eps, eps))
    fwd = np.zeros((m, n))
    fwd[0] = emit[0] / n
    fwd[0] /= fwd[0].sum()
    for j in range(1, m):
        t = (1 - rho[j]) * np.eye(n) + rho[j] / n
        fwd[j] = (fwd[j - 1] @ t) * emit[j]
        fwd[j] /= fwd[j].sum()
    bwd = np.ones((m, n))
    for j in range(m - 2, -1, -1):
        t = (1 - rho[j + 1]) * np.eye(n) + rho[j + 1] / n
        bwd[j] = t @ (emit[j + 1] * bwd[j + 1])
        bwd[j] /= bwd[j].sum()
    post = fwd * bwd
    b = panel[used]
    known = (b >= 0).T
    return (post * (b > 0).T).sum(1) / (post * known).sum(1)


def test_posterior_matches_the_matrix_forward_backward():
    rng = np.random.default_rng(3)
    panel = (rng.random((12, 50)) < 0.3).astype(np.int8)
    panel[rng.random(panel.shape) < 0.05] = -1
    rows = (rng.random((5, 30)) < 0.3).astype(np.int8)
    rows[rng.random(rows.shape) < 0.05] = -1
    hidden = rng.random(rows.shape) < 0.3
    rho = hmm.switch_probabilities(np.sort(rng.choice(10**6, 50, replace=False)), 12, 1e4)
    own = np.array([-1, 0, 3, 5, -1])
    got = hmm.alt_prob(panel, rho, rows, hidden, 15, own=own, ploidy=2, eps=0.01)
    for r in range(5):
        use = np.ones(12, dtype=bool)
        if own[r] >= 0:
            use[2 * own[r] : 2 * own[r] + 2] = False
        want = reference_posterior(panel[:, 15:45], rows[r], hidden[r], rho[15:45], 0.01, use)
        np.testing.assert_allclose(got[r], want, rtol=1e-9, atol=1e-12)


def test_selected_states_posterior_is_the_forward_backward_over_those_states():
    rng = np.random.default_rng(5)
    panel = (rng.random((40, 90)) < 0.3).astype(np.int8)
    rows = (rng.random((4, 70)) < 0.3).astype(np.int8)
    hidden = rng.random(rows.shape) < 0.3
    rho = hmm.switch_probabilities(np.sort(rng.choice(10**6, 90, replace=False)), 40, 1e4)
    own = np.array([-1, 2, 7, -1])
    ids = hmm.select_states(panel, rows, hidden, 10, 9, own=own)  # what alt_prob selects
    assert ids.shape == (4, 9)
    got = hmm.alt_prob(panel, rho, rows, hidden, 10, own=own, eps=0.01, states=9)
    for r in range(4):
        assert (np.diff(ids[r]) > 0).all()
        assert not np.isin(ids[r], [2 * own[r], 2 * own[r] + 1]).any()
        use = np.zeros(40, dtype=bool)
        use[ids[r]] = True
        want = reference_posterior(panel[:, 10:80], rows[r], hidden[r], rho[10:80], 0.01, use)
        np.testing.assert_allclose(got[r], want, rtol=1e-9, atol=1e-12)


def test_state_selection_keeps_the_haplotypes_that_match_each_segment():
    rng = np.random.default_rng(8)
    panel = (rng.random((200, 64)) < 0.5).astype(np.int8)
    query = np.concatenate([panel[17, :32], panel[123, 32:]])[None, :]  # a recombinant
    hidden = np.zeros(query.shape, dtype=bool)
    hidden[0, ::5] = True
    ids = hmm.select_states(panel, query, hidden, 0, 4, segment=16)
    assert {17, 123} <= set(ids[0].tolist())
    # a missing panel allele where the query is hidden changes no mismatch count
    gappy = panel.copy()
    gappy[[3, 17, 50], 5] = -1
    np.testing.assert_array_equal(hmm.select_states(gappy, query, hidden, 0, 4, segment=16), ids)
    # its own sample (haplotypes 16, 17) is never selected, however well it matches
    ids = hmm.select_states(panel, query, hidden, 0, 4, own=np.array([8]), segment=16)
    assert 17 not in ids[0]
    assert 16 not in ids[0]
    assert 123 in ids[0]


def test_states_at_least_the_panel_run_over_every_haplotype():
    rng = np.random.default_rng(9)
    panel = (rng.random((10, 30)) < 0.4).astype(np.int8)
    rows = (rng.random((3, 30)) < 0.4).astype(np.int8)
    hidden = rng.random(rows.shape) < 0.2
    rho = np.full(30, 0.05)
    full = hmm.alt_prob(panel, rho, rows, hidden, 0)
    np.testing.assert_array_equal(hmm.alt_prob(panel, rho, rows, hidden, 0, states=10), full)
    own = np.array([0, -1, 4])
    full = hmm.alt_prob(panel, rho, rows, hidden, 0, own=own)
    same = hmm.alt_prob(panel, rho, rows, hidden, 0, own=own, states=8)
    np.testing.assert_array_equal(same, full)
    with pytest.raises(ValueError, match="states must be >= 0"):
        hmm.alt_prob(panel, rho, rows, hidden, 0, states=-1)
    with pytest.raises(ValueError, match="n_states must be >= 1"):
        hmm.select_states(panel, rows, hidden, 0, 0)


def test_hmm_defaults_follow_the_panel():
    # the two measured panels: 199 diploids (demo) and 1,200 (panel scale, docs/beagle.md)
    assert cli.auto_flank(398) == 256
    assert cli.auto_flank(2400) == 1024
    assert cli.auto_states(398, 640) == 0  # every haplotype of a small panel
    assert cli.auto_states(2400, 128 + 2 * 1024) == 12 * 18
    assert cli.auto_states(1200, 128) == cli.MIN_STATES
    args = cli.build_parser().parse_args(["--hmm-states", "50"])
    cli.hmm_defaults(args, 2400, 4000, 128)
    assert (args.hmm_flank, args.hmm_states) == (1024, 50)  # a flag given stays
    assert "50 selected of 2400" in cli.hmm_banner(args, 2400)
    args = cli.build_parser().parse_args(["--hmm-states", "-2"])
    with pytest.raises(InputError, match="--hmm-states must be >= 0"):
        cli.hmm_defaults(args, 2400, 4000, 128)


def test_own_haplotypes_are_never_copied():
    panel = np.zeros((6, 20), dtype=np.int8)
    panel[2:4, 10] = 1  # only sample 1 carries the alt allele at site 10
    hidden = np.zeros((1, 20), dtype=bool)
    hidden[0, 10] = True
    query = panel[2:3].copy()
    with_own = hmm.alt_prob(panel, np.full(20, 0.01), query, hidden, 0)
    without = hmm.alt_prob(panel, np.full(20, 0.01), query, hidden, 0, own=np.array([1]))
    assert with_own[0, 10] > 0.3
    assert without[0, 10] == 0.0


def test_bad_shapes_are_refused():
    panel = np.zeros((4, 10), dtype=np.int8)
    with pytest.raises(ValueError, match="same 2-D shape"):
        hmm.alt_prob(panel, np.zeros(10), np.zeros((2, 5), np.int8), np.zeros((2, 4), bool), 0)
    with pytest.raises(ValueError, match="outside the panel"):
        hmm.alt_prob(panel, np.zeros(10), np.zeros((2, 5), np.int8), np.zeros((2, 5), bool), 6)


def test_untrained_model_predicts_the_prior_it_is_given():
    torch.manual_seed(0)
    model = RagBert(dims=16, layers=1, heads=2, max_len=40, prior_input=True).eval()
    assert model.copy is None
    tok = torch.randint(3, 5, (4, 40))
    qkey = torch.zeros(4, 40)
    ref = torch.randint(0, 2, (4, 3, 40), dtype=torch.int8)
    prior = torch.randn(4, 40) * 3
    with torch.no_grad():
        p_alt = torch.softmax(model(tok, qkey, ref, None, prior=prior), -1)[..., 1]
    torch.testing.assert_close(p_alt, torch.sigmoid(prior), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="takes the copying prior as input"):
        model(tok, qkey, ref, None)
    with pytest.raises(ValueError, match="prior_input=True"):
        RagBert(dims=16, layers=1, heads=2, max_len=40)(tok, qkey, ref, None, prior=prior)


@pytest.mark.slow
def test_hmm_prior_training_and_impute(tmp_path):
    out = tmp_path / "hmm"
    args = [*TINY, "--hmm-flank", "16", "--epochs", "1", "--max-steps", "3"]  # the default prior
    assert train.main([*args, "--out", str(out)]) == 0
    summary = json.loads((out / "metrics.json").read_text())
    assert summary["config"]["hmm_prior"] is True
    assert np.isfinite(summary["history"][0]["train_loss"])
    _check_impute(tmp_path, out / "checkpoint.pt")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--hmm-eps", "0.7"], "--hmm-eps in"),
        (["--hmm-flank", "-1"], "--hmm-flank must be"),
    ],
)
def test_hmm_prior_bad_combinations(tmp_path, capsys, extra, message):
    argv = [*TINY, "--hmm-prior", *extra, "--epochs", "1", "--out", str(tmp_path / "x")]
    assert train.main(argv) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flag", "copy_prior", "copy_params"),
    [("--no-copy-prior", False, False), ("--no-hmm-prior", True, True)],
)
@pytest.mark.slow
def test_prior_flags_build_the_model_they_name(tmp_path, flag, copy_prior, copy_params):
    """--no-copy-prior: no prior at all; --no-hmm-prior: the retrieved copy's prior."""
    out = tmp_path / "m"
    argv = [*TINY, flag, "--epochs", "1", "--max-steps", "2", "--out", str(out)]
    assert train.main(argv) == 0
    state = ckpt_io.load(out / "checkpoint.pt")
    assert state["model_config"]["copy_prior"] is copy_prior
    assert state["model_config"]["prior_input"] is False
    assert any(k.startswith("copy.") for k in state["model"]) is copy_params


def test_pair_path_follows_a_template_switch():
    rng = np.random.default_rng(5)
    cand = (rng.random((4, 300)) < 0.4).astype(np.int8)
    dose = np.concatenate([cand[0, :150] + cand[1, :150], cand[2, 150:] + cand[1, 150:]])
    path = hmm.pair_path(cand, dose, np.full(300, 1e-3), 1e-3)
    pairs = [set(p) for p in path.tolist()]
    # away from the switch (where the templates may agree) the pair is the true one
    assert all(p == {0, 1} for p in pairs[:140])
    assert all(p == {2, 1} for p in pairs[160:])
    # one copy keeps its template through the switch: the orientation never flips
    kept = path[:140, 0] if path[0, 0] == 1 else path[:140, 1]
    assert (kept == 1).all()
    assert ((path[160:, 0] == 1) | (path[160:, 1] == 1)).all()


def test_phase_hmm_recovers_a_recombinant_targets_phase():
    rng = np.random.default_rng(8)
    panel = (rng.random((20, 2, 400)) < 0.35).astype(np.int8)
    rows = panel.reshape(40, 400)
    h1 = np.concatenate([rows[0, :200], rows[7, 200:]])
    h2 = rows[13]
    truth = np.stack([h1, h2])[None]  # (1, 2, 400)
    unphased = np.sort(truth, axis=1)  # alt always second: phase lost
    index = PanelIndex(panel, np.array([[0, 400]]), 1)
    rho = hmm.switch_probabilities(np.arange(400) * 50, 40, 1e4)
    got = phase_hmm(index, 0, unphased, rho, chunk=100)
    np.testing.assert_array_equal(got.sum(axis=1), truth.sum(axis=1))  # the genotypes
    het = truth[0, 0] != truth[0, 1]
    same = (got[0, 0] == truth[0, 0])[het]
    swapped = (got[0, 0] == truth[0, 1])[het]
    assert same.all() or swapped.all()
    # the single-pair phasing cannot follow the switch
    pair = phase_window(index, 0, unphased)
    assert not (pair[0, 0] == truth[0, 0])[het].all()
    assert not (pair[0, 0] == truth[0, 1])[het].all()


def _recombinant_target(rng, n_sites, switch_at):
    """A panel (20 diploids) and one target whose first haplotype switches template at
    ``switch_at``: ``(panel, truth (1, 2, sites), unphased, rho)``."""
    panel = (rng.random((20, 2, n_sites)) < 0.35).astype(np.int8)
    rows = panel.reshape(40, n_sites)
    h1 = np.concatenate([rows[0, :switch_at], rows[7, switch_at:]])
    truth = np.stack([h1, rows[13]])[None]
    rho = hmm.switch_probabilities(np.arange(n_sites) * 50, 40, 1e4)
    return panel, truth, np.sort(truth, axis=1), rho


def _in_phase(got, truth):
    het = truth[0, 0] != truth[0, 1]
    same = (got[0, 0] == truth[0, 0])[het]
    return bool(same.all() or (~same).all())


@pytest.mark.parametrize("refine", [0, 1])
def test_phase_segments_joins_pieces_in_phase(refine):
    """Pieces shorter than the range (one join inside each template) give one phase
    throughout: a wrong join would flip every later heterozygous site."""
    from examples.rag_bert.phase import phase_segments

    panel, truth, unphased, rho = _recombinant_target(np.random.default_rng(8), 900, 450)
    rows = panel.reshape(40, -1)
    got = phase_segments(rows, unphased, rho, segment=200, overlap=60, chunk=100, refine=refine)
    np.testing.assert_array_equal(got.sum(axis=1), truth.sum(axis=1))
    assert _in_phase(got, truth)


def test_phase_segments_keeps_missing_alleles_and_skips_own_sample():
    from examples.rag_bert.phase import phase_segments

    panel, _, unphased, rho = _recombinant_target(np.random.default_rng(3), 300, 150)
    rows = panel.reshape(40, -1)
    unphased = unphased.copy()
    unphased[0, 0, 10] = -1  # half-missing genotype
    unphased[0, :, 20] = -1  # missing genotype
    got = phase_segments(rows, unphased, rho, segment=120, overlap=40, chunk=60)
    assert got[0, 0, 10] == -1
    assert got[0, 1, 10] == unphased[0, 1, 10]
    assert (got[0, :, 20] == -1).all()
    # excluding sample 0 (the template of the first 150 sites) changes the phase found
    own = phase_segments(rows, unphased, rho, own=np.array([0]), segment=120, overlap=40, chunk=60)
    np.testing.assert_array_equal(own.sum(axis=1), got.sum(axis=1))
    assert not np.array_equal(own, got)


@pytest.mark.parametrize("take", [1, 3, 8, 40])
def test_top_ids_is_the_stable_sort_of_scores_with_ties_and_exclusions(take):
    from examples.rag_bert.phase import top_ids

    rng = np.random.default_rng(take)
    score = rng.integers(-3, 4, size=(50, 40)).astype(np.float32)  # many ties
    score[rng.random(score.shape) < 0.2] = -np.inf
    want = np.argsort(-score, axis=1, kind="stable")[:, :take]
    want = np.where(np.isfinite(np.take_along_axis(score, want, axis=1)), want, -1)
    np.testing.assert_array_equal(top_ids(score, take), want)


def test_pair_paths_equal_pair_path_row_by_row():
    rng = np.random.default_rng(4)
    cand = (rng.random((5, 6, 80)) < 0.4).astype(np.int8)
    dose = rng.integers(-1, 3, size=(5, 80))
    rho = np.full(80, 2e-3)
    got = hmm.pair_paths(cand, dose, rho, 1e-3)
    for r in range(5):
        np.testing.assert_array_equal(got[r], hmm.pair_path(cand[r], dose[r], rho, 1e-3))


def test_segments_cover_the_range_with_the_overlap():
    from examples.rag_bert.phase import segments

    assert segments(10, 4, 1) == [(0, 4), (3, 7), (6, 10)]
    assert segments(3, 4, 1) == [(0, 3)]
    with pytest.raises(ValueError, match="overlap"):
        segments(10, 4, 4)


def test_local_candidates_cover_every_chunk_and_skip_own_sample():
    from examples.rag_bert.phase import genotype_key, local_candidates

    rng = np.random.default_rng(2)
    panel = (rng.random((30, 200)) < 0.3).astype(np.int8)
    target = np.stack([panel[3], panel[20]])[None]  # sample 1 (rows 2, 3) and row 20
    key = genotype_key(target)
    ids = local_candidates(panel, key, np.array([1]), 2, 8, 50)
    assert ids.shape == (1, 8)
    assert len(set(ids[0].tolist())) == 8
    assert not ({2, 3} & set(ids[0].tolist()))  # own sample's haplotypes
    assert 20 in ids[0]
    # without exclusion the target's own template is found too
    assert 3 in local_candidates(panel, key, None, 2, 8, 50)[0]


def _mosaics(rng, n, founders, switch):
    """``n`` haplotypes, each a mosaic of ``founders`` (H, sites) switching with ``switch``."""
    h, m = founders.shape
    out = np.empty((n, m), dtype=np.int8)
    for i in range(n):
        src = rng.integers(h)
        for j in range(m):
            if rng.random() < switch:
                src = rng.integers(h)
            out[i, j] = founders[src, j]
    return out


def _block_state(rng, n_panel=30, n_sites=240, window=16, flank=32):
    founders = (rng.random((12, n_sites)) < 0.3).astype(np.int8)
    panel = _mosaics(rng, 2 * n_panel, founders, 0.01).reshape(n_panel, 2, n_sites)
    windows = np.array([[s, s + window] for s in range(0, n_sites, window)])
    state = {
        "panel": panel, "windows": windows, "positions": np.arange(n_sites) * 500 + 1,
        "alt_freq": panel.reshape(-1, n_sites).mean(0), "config": {"k_retrieve": 4},
        "eval": {"stride": 0, "k_retrieve": 4, "retrieval_window": 0}, "thresholds": None,
        "prior_rates": None, "hmm": {"flank": flank, "ne": 1e4, "eps": 1e-3},
    }  # fmt: skip
    targets = _mosaics(rng, 8, founders, 0.01).reshape(4, 2, n_sites)
    masked = np.where(rng.random(targets.shape) < 0.3, -1, targets).astype(np.int8)
    masked[:, 1] = np.where(masked[:, 0] < 0, -1, masked[:, 1])  # genotypes missing whole
    return state, masked, targets


@pytest.mark.parametrize("unphased", [False, True], ids=["phased", "unphased"])
def test_block_and_per_window_priors_agree(unphased):
    """Blocks of windows (one phasing and HMM pass over a block and its flanks) give every
    window the prior it gets on its own, up to what lies beyond its own flanks.

    Tolerance: the HMM of a window in a block reads more sites than the window and its
    ``flank`` (the rest of the block and the block's flanks); its posterior depends on sites
    ``d`` away through ``(1 - rho)^d`` terms, so it moves only where the copied template is
    uncertain at the flank's end: measured mean |dP| 2e-5 and 99th percentile 3e-4 over 743
    filled calls, bounded at 1e-3 and 5e-3 (the posterior is the untrained model's output
    exactly, see ``test_untrained_model_predicts_the_prior_it_is_given``). Unphased, phasing
    over a longer range places switches of phase elsewhere, which moves a masked genotype's
    posterior between haplotypes and templates (on this tiny panel by up to ~1 at a few
    percent of genotypes), so there the blocks' mean dosage error against the truth (measured
    0.155) is bounded by the per-window error (0.144) + 0.02 instead."""
    from examples.rag_bert import impute

    rng = np.random.default_rng(11)
    state, masked, truth = _block_state(rng)
    torch.manual_seed(0)
    model = RagBert(dims=16, layers=1, heads=2, max_len=16, prior_input=True).eval()
    kw = {"unphased": unphased, "states": 0, "argmax": True}
    _, per_window, miss = impute.impute(model, state, masked, block=1, **kw)
    _, blocks, miss_b = impute.impute(model, state, masked, block=4, **kw)
    np.testing.assert_array_equal(miss, miss_b)
    if unphased:  # a switch of phase moves calls between the haplotypes: compare accuracy
        site = miss.any(1)
        true_dose = (truth > 0).sum(1)[site]
        err_w = np.abs(per_window.sum(1)[site] - true_dose).mean()
        err_b = np.abs(blocks.sum(1)[site] - true_dose).mean()
        assert site.sum() > 100
        assert err_b < err_w + 0.02, (err_b, err_w)
    else:
        diff = np.abs(per_window - blocks)[miss]
        assert diff.size > 200
        assert diff.mean() < 1e-3, diff.mean()
        assert np.quantile(diff, 0.99) < 5e-3, np.quantile(diff, 0.99)
    assert impute.hmm_block(state) == 4  # 2 x 32 flank sites / 16-site windows
    assert impute.hmm_block(state, 1) == 1
    with pytest.raises(InputError, match="--hmm-block must be >= 1"):
        impute.hmm_block(state, 0)


def test_one_window_blocks_are_the_per_window_prior():
    """``block=1`` runs each window's HMM over the window and its flanks, exactly as
    :func:`hmm.window_log_odds` does."""
    from examples.rag_bert import impute

    rng = np.random.default_rng(12)
    state, masked, _ = _block_state(rng, n_sites=96)
    torch.manual_seed(0)
    model = RagBert(dims=16, layers=1, heads=2, max_len=16, prior_input=True).eval()
    _, got, miss = impute.impute(model, state, masked, block=1, states=0, argmax=True)
    panel_rows = state["panel"].reshape(-1, 96)
    rho = hmm.switch_probabilities(state["positions"], panel_rows.shape[0], 1e4)
    rows, hidden = masked.reshape(-1, 96), miss.reshape(-1, 96)
    want = np.empty(rows.shape)
    for s, e in state["windows"]:
        a, b = hmm.flank_range(s, e, 96, 32)
        lo = hmm.window_log_odds(panel_rows, rho, rows[:, a:b], hidden[:, a:b], a, (s, e))
        want[:, s:e] = 1.0 / (1.0 + np.exp(-lo.astype(np.float64)))
    np.testing.assert_allclose(got.reshape(-1, 96)[hidden], want[hidden], atol=1e-5)


@pytest.mark.slow
def test_one_window_blocks_are_the_per_window_validation_prior(tmp_path):
    """The trainer's validation with ``--hmm-block 1``: each window is phased over its own
    evaluation range (the window's key range and ``--hmm-flank`` sites each side) and its HMM
    prior computed over the window and its flanks, exactly as per window
    (:meth:`.engine.Engine.hmm_prior`, the pre-block path); the default blocks are
    :func:`.blocks.hmm_block`'s rule, printed in the banner."""
    from examples.rag_bert import data as dt
    from examples.rag_bert.retrieval import PanelIndex

    argv = [*TINY, "--val-unphased", "--hmm-flank", "32", "--out", str(tmp_path / "o")]
    argv += ["--cache-dir", str(tmp_path / "cache")]
    args = train.build_parser().parse_args([*argv, "--hmm-block", "1"])
    data = dt.load_data(args)
    torch.manual_seed(0)
    tr = train.Trainer(args, data)
    try:
        ev, eng = tr.evaluator, tr.engine
        assert "validation in blocks of 1 window (" in cli.hmm_banner(args, 48, eng.block_states)
        assert eng.block_states == args.hmm_states
        windows = eng.eval_index.windows
        assert len(ev.blocks.groups) == len(windows)
        # the per-window phasing index of the pre-block evaluator: windows, their ranges
        ev.phase_index = PanelIndex(data.train.haps, windows, 1, key_windows=ev.eval_ranges)
        val = data.val.haps
        work = ev._work(val.shape[0], 4)
        seen = []
        for w, samples, haps, site, inp, _, prior in ev._windows(
            work, val, lambda g, smp, lo, hi: ev.val_site[smp, lo:hi]
        ):
            s, e = windows[w]
            lo, hi = ev.eval_ranges[w]
            site_r = ev.val_site[samples, lo:hi]
            inp_r = ev._unphase(w, val[samples, :, lo:hi], site_r, None, (s - lo, e - lo))
            want = eng.hmm_prior(inp_r, site_r, int(lo), s, e, None)
            np.testing.assert_array_equal(inp, inp_r[..., s - lo : e - lo])
            np.testing.assert_array_equal(prior.numpy(), want.numpy())
            np.testing.assert_array_equal(haps, val[samples, :, s:e])
            np.testing.assert_array_equal(site, ev.val_site[samples, s:e])
            seen.append(w)
        assert sorted(set(seen)) == list(range(len(windows)))
    finally:
        tr.close()
