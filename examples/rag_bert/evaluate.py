"""Evaluation of the reference trainer: frozen validation masks, calibration and validation.

The validation masks are frozen (``--val-mask-*``: one rule, rate and seed, drawn on
``--val-mask-window`` tiles), so every epoch and every model is scored on the same genotypes.
``--val-unphased`` drops the phase of the targets and phases their visible genotypes against the
panel before the model sees them (:mod:`.phase`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from maskkit import metrics as mm

from . import calls, hmm, masking
from . import data as dt
from .blocks import Blocks
from .engine import Engine
from .phase import phase_hmm, phase_window
from .retrieval import PanelIndex


class Evaluator:
    """Scores an :class:`~.engine.Engine`'s model on the frozen validation masks."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.args, self.data = args, data = engine.args, engine.data
        mask_windows = dt.make_windows(data.n_sites, args.val_mask_window)
        #: frozen validation mask of genotypes (val samples, sites)
        self.val_site = masking.val_genotype_mask(
            data.val.haps, mask_windows, args.val_mask_rule, args.val_mask_rate,
            args.val_mask_unit, args.alt_rate, args.val_seed,
        )  # fmt: skip
        ew = engine.eval_index.windows
        # what evaluation reads around each window: its key range, widened by the HMM's flanks;
        # unphased targets are phased over all of it, so the model's input, the search context
        # and the HMM's rows come from one phasing. With the HMM prior, consecutive windows go in
        # blocks (``--hmm-block``, :mod:`.blocks`, shared with ``impute``): one phasing and one
        # HMM pass over the block's windows and their flanks give each window its prior.
        self.eval_ranges = engine.eval_index.key_windows
        self.phase_index = engine.eval_index
        flank = None
        if engine.rho is not None:
            self.eval_ranges = hmm.flanked_ranges(
                ew, engine.eval_index.key_windows, data.n_sites, args.hmm_flank
            )
            flank = args.hmm_flank
        self.blocks = Blocks.plan(ew, self.eval_ranges, data.n_sites, flank, args.hmm_block)
        if engine.rho is not None and args.val_unphased:
            read = self.blocks.read
            self.phase_index = PanelIndex(data.train.haps, read, 1, key_windows=read)
        self.val_masks = [self.val_site[:, s:e] for s, e in ew]
        self.score_cols = dt.score_windows(ew, data.n_sites, centre=bool(args.val_stride))

    def _work(self, n: int | np.ndarray, bs: int) -> list[tuple[int, np.ndarray]]:
        """This rank's ``(block, samples)`` items: every block with ``n`` samples (or the
        samples ``n``) in batches of ``bs``."""
        samples = np.arange(n) if np.ndim(n) == 0 else np.asarray(n)
        return [
            (g, samples[i : i + bs])
            for g in range(len(self.blocks.groups))
            for i in range(0, samples.size, bs)
        ][self.engine.rank :: self.engine.world]

    def _windows(
        self,
        work: list[tuple[int, np.ndarray]],
        src: np.ndarray,
        site_of: Callable[[int, np.ndarray, int, int], np.ndarray],
    ) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray, Any, Any]]:
        """``(window, samples, truth, mask, model input, search context, prior)`` of every
        window of every ``(block, samples)`` item of ``work``; ``site_of(block, samples, lo,
        hi)`` is the mask of those samples over the block's read range ``lo:hi``. Unphased
        targets are phased, and the HMM run, once per item over the block's ranges."""
        blocks, eng = self.blocks, self.engine
        windows, key_windows = eng.eval_index.windows, eng.eval_index.key_windows
        for g, samples in work:
            lo, hi = (int(x) for x in blocks.read[g])
            site_r = site_of(g, samples, lo, hi)
            haps_r = src[samples, :, lo:hi]
            own = samples if src is self.data.train.haps else None
            s0, e0 = windows[blocks.groups[g][0]]  # phase_window's focus (blocks of one window)
            inp_r = self._unphase(g, haps_r, site_r, own, (s0 - lo, e0 - lo))
            post = None
            if eng.rho is not None:
                ploidy = haps_r.shape[1]
                post = blocks.posterior(
                    g, eng.index.panel_rows, eng.rho, inp_r.reshape(-1, hi - lo),
                    np.repeat(site_r, ploidy, axis=0), lo,
                    own=None if own is None else np.repeat(own, ploidy), ploidy=ploidy,
                    eps=self.args.hmm_eps, states=eng.block_states or 0,
                )  # fmt: skip
            for w in blocks.groups[g]:
                w = int(w)
                s, e = windows[w]
                ks, ke = key_windows[w]
                ctx = None
                if (ks, ke) != (s, e):
                    key_rows = inp_r[..., ks - lo : ke - lo].reshape(-1, ke - ks)
                    ctx = (
                        key_rows,
                        np.repeat(site_r[:, ks - lo : ke - lo], haps_r.shape[1], axis=0),
                    )
                prior = None
                if post is not None:
                    prior = eng.torch.as_tensor(blocks.prior(w, post), device=eng.device)
                a, b = s - lo, e - lo
                yield w, samples, haps_r[..., a:b], site_r[:, a:b], inp_r[..., a:b], ctx, prior

    def _total(self, work: list[tuple[int, np.ndarray]]) -> int:
        return sum(len(self.blocks.groups[g]) for g, _ in work)

    def calibrate(self, bar: Any) -> np.ndarray:
        """Fit per-MAF-bin minor-allele thresholds on training samples (validation-like masks,
        own haplotypes excluded from retrieval); no validation labels are used."""
        torch = self.engine.torch
        self.engine.net.eval()
        fitter = calls.ThresholdFitter()
        rng = np.random.default_rng([self.args.val_seed, 7])
        n = self.data.train.n
        pick = np.sort(rng.choice(n, size=min(n, self.args.calib_samples), replace=False))
        bs = max(self.args.batch_size * 2, 32)
        work = self._work(pick, bs)
        train = self.data.train.haps

        def site_of(g: int, samples: np.ndarray, lo: int, hi: int) -> np.ndarray:
            # validation-like masks over the block's range, keyed by the block (one window: by
            # the window, as before blocks)
            return masking.val_site_mask(
                train[samples, :, lo:hi], self.args.val_mask_rule, self.args.val_mask_rate,
                self.args.val_mask_unit, self.args.alt_rate, self.args.val_seed + 1, g + 10_000,
            )  # fmt: skip

        items = self._windows(work, train, site_of)
        with torch.inference_mode():
            for w, samples, haps, site, inp, ctx, prior in bar(
                items, desc="calibrate", total=self._total(work)
            ):
                s, e = self.engine.eval_index.windows[w]
                own = np.repeat(samples, haps.shape[1])
                _, logits = self.engine.forward(
                    w, inp, site, own, index=self.engine.eval_index, ctx=ctx, prior=prior
                )
                alt_p = (1.0 - torch.softmax(logits.float(), -1)[..., 0]).cpu().numpy()
                alt_p = alt_p.reshape(haps.shape)
                haps = self._truth_for(haps, inp, site, alt_p)
                freq = self.data.alt_freq[s:e]
                minor = mm.minor_allele(freq)
                sel = np.broadcast_to(site[:, None, :], haps.shape) & (haps >= 0)
                bins = np.broadcast_to(calls.site_bins(freq), haps.shape)[sel]
                pm = calls.minor_prob(alt_p, minor)[sel]
                truth = ((haps > 0) == (minor == 1))[sel]
                fitter.update(pm, truth, bins)
        if self.engine.world > 1:
            t = torch.as_tensor(fitter.counts, device=self.engine.device)
            torch.distributed.all_reduce(t)
            fitter.counts = t.cpu().numpy()
        return fitter.fit()

    def _unphase(
        self,
        w: int,
        haps: np.ndarray,
        site: np.ndarray,
        own: np.ndarray | None,
        focus: tuple[int, int] | None = None,
    ) -> np.ndarray:
        """``--val-unphased``: the model's input haplotypes from the genotypes alone.

        The visible genotypes are phased against the panel (:mod:`.phase`, own sample excluded
        for training targets); masked sites get the true genotype in a fixed order (alt first),
        which only feeds the per-haplotype loss that validation replaces by the genotype loss.
        ``focus``: the model's window inside the key range, where the phasing pair is chosen.
        """
        if not self.args.val_unphased:
            return haps
        hidden = np.broadcast_to(site[:, None, :], haps.shape)
        visible = np.where(hidden, -1, haps).astype(haps.dtype)
        if (
            self.engine.rho is not None
        ):  # with the HMM prior: template switches over the longer range
            phased = phase_hmm(
                self.phase_index, w, visible, self.engine.rho, own, eps=self.args.hmm_eps, chunk=128
            )
        else:
            phased = phase_window(self.phase_index, w, visible, own, focus=focus)
        dose = (haps > 0).sum(axis=1, keepdims=True)
        canon = (np.arange(haps.shape[1])[None, :, None] < dose).astype(haps.dtype)
        canon = np.where(haps < 0, haps, canon)
        return np.where(hidden, canon, phased).astype(haps.dtype)

    def _truth_for(
        self, haps: np.ndarray, inp: np.ndarray, site: np.ndarray, alt_p: np.ndarray
    ) -> np.ndarray:
        """Truth in the phase of the input: at masked sites of unphased targets the alt alleles of
        the genotype go to the haplotypes with the higher predicted P(alt), so per-haplotype
        counts equal per-genotype counts (TP = min(true, predicted minor dosage))."""
        if not self.args.val_unphased:
            return haps
        out = inp.copy()
        order = np.argsort(-alt_p, axis=1, kind="stable")  # haplotypes by P(alt), high first
        dose = (haps > 0).sum(axis=1)
        ranks = np.empty_like(order)
        np.put_along_axis(ranks, order, np.arange(haps.shape[1])[None, :, None], axis=1)
        sorted_truth = (ranks < dose[:, None, :]).astype(haps.dtype)
        called = (haps >= 0).all(axis=1, keepdims=True)
        hidden = np.broadcast_to(site[:, None, :] & called, haps.shape)
        out[hidden] = sorted_truth[hidden]
        return out

    def validate(self, bar: Any, thresholds: np.ndarray | None = None) -> dict[str, Any]:
        torch = self.engine.torch
        self.engine.net.eval()
        scorer = mm.MinorAlleleScorer(self.data.alt_freq)
        scorer_argmax = mm.MinorAlleleScorer(self.data.alt_freq)
        tot, n = 0.0, 0
        val = self.data.val.haps
        bs = max(self.args.batch_size * 2, 32)
        work = self._work(val.shape[0], bs)

        def site_of(g: int, samples: np.ndarray, lo: int, hi: int) -> np.ndarray:
            return self.val_site[samples, lo:hi]

        items = self._windows(work, val, site_of)
        with torch.inference_mode():
            for w, _, haps, site, inp, ctx, prior in bar(
                items, desc="validate", total=self._total(work)
            ):
                s, e = self.engine.eval_index.windows[w]
                loss, logits = self.engine.forward(
                    w, inp, site, None, index=self.engine.eval_index, ctx=ctx, prior=prior
                )
                prob = torch.softmax(logits, -1)
                alt_p = (1.0 - prob[..., 0]).cpu().numpy().reshape(haps.shape)
                if self.args.val_unphased:
                    loss = genotype_nll(haps, site, alt_p)
                    haps = self._truth_for(haps, inp, site, alt_p)
                if not math.isnan(float(loss)):
                    tot += float(loss)
                    n += 1
                cols = self.score_cols[w]
                for sc, th in ((scorer, thresholds), (scorer_argmax, None)):
                    pred = calls.call(alt_p, self.data.alt_freq[s:e], th)
                    sc.update(
                        haps[..., cols], pred[..., cols], site[:, cols],
                        alt_prob=alt_p[..., cols], sites=s + cols,
                    )  # fmt: skip
        size = scorer.counts.size
        state = np.concatenate([scorer.state().ravel(), scorer_argmax.state().ravel(), [tot, n]])
        if self.engine.world > 1:
            t = torch.as_tensor(state, device=self.engine.device)
            torch.distributed.all_reduce(t)
            state = t.cpu().numpy()
        scorer.counts[...] = state[:size].reshape(scorer.counts.shape)
        scorer_argmax.counts[...] = state[size : 2 * size].reshape(scorer.counts.shape)
        return {
            "val_loss": state[-2] / max(state[-1], 1),
            "val": scorer.result(),
            "val_argmax": scorer_argmax.result(),
        }


def genotype_nll(haps: np.ndarray, site: np.ndarray, alt_p: np.ndarray) -> float:
    """Mean negative log-likelihood of the true alt dosage of masked diploid genotypes, with
    the haplotypes' P(alt) taken as independent (phase-free)."""
    sel = site & (haps >= 0).all(axis=1)
    if not sel.any():
        return float("nan")
    p0, p1 = alt_p[:, 0][sel], alt_p[:, 1][sel]
    probs = np.stack([(1 - p0) * (1 - p1), p0 * (1 - p1) + (1 - p0) * p1, p0 * p1], -1)
    dose = (haps > 0).sum(axis=1)[sel]
    return float(-np.log(np.maximum(probs[np.arange(dose.size), dose], 1e-12)).mean())
