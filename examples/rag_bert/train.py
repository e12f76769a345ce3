"""Train the reference RAG-BERT model: ``python -m examples.rag_bert.train [--help]``.

Without paths it trains on the built-in simulated demo data (small model, CPU, a few minutes);
with ``--train/--val`` stores it runs the original script's configuration (``--dims 384`` on GPU).
Writes ``metrics.csv``, ``metrics.json``, ``trainer_loss.png``, ``trainer_f1.png`` and an
atomically replaced ``checkpoint.pt`` (every epoch) under ``--out``.

It reads top-down as the library is used: data, the :class:`maskkit.Masker` (the curriculum's
one set of books), a :class:`maskkit.torch.HaplotypeDataset` that draws every training mask with
it, a ``DataLoader``, the loop (``masker.set_epoch`` once per epoch, ``masker.update`` for a
dynamic curriculum), evaluation and the checkpoint. Model (:mod:`.engine`), evaluation,
baselines, outputs, checkpoint format and command line (:mod:`.cli`) are modules beside it.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

import maskkit as mk

from . import checkpoint as ckpt_io
from . import cli, masking, outputs
from . import data as dt
from .baselines import BINS, baselines, fmt_bins
from .cli import build_parser, resolve_defaults
from .data import InputError
from .engine import Engine
from .evaluate import Evaluator


class Trainer:
    """One training run: its Masker, dataset, loader, model (:class:`.engine.Engine`),
    optimizer and evaluator (:class:`.evaluate.Evaluator`)."""

    def __init__(self, args: argparse.Namespace, data: dt.Data) -> None:
        import torch

        from maskkit.io import HaplotypeStore
        from maskkit.torch import HaplotypeDataset, WindowBatchSampler

        self.args, self.data = resolve_defaults(args), data
        if args.num_workers < 0:
            raise InputError(f"--num-workers must be >= 0, got {args.num_workers}")
        # the Masker: rule, curriculum and seed; the one set of curriculum books
        schedule = masking.make_schedule(
            args.levels, args.epochs_per_level, args.dynamic, args.schedule, args.epochs
        )
        self.masker = masking.make_masker(
            args.strategy, schedule, args.alt_rate, args.seed, args.exact, args.af_rates
        )
        # the model, its retrieval indexes and its evaluation (seeds torch; checks the flags)
        self.engine = Engine(self.args, data, self.masker)
        self.evaluator = Evaluator(self.engine)
        # the training split as a store (in a temporary folder, served from memory); masks are
        # keyed by (seed, epoch, sample * n_windows + window) and af_aware reads the training
        # panel's site frequencies, handed window by window with freq=
        self._tmp = tempfile.TemporaryDirectory(prefix="rag_bert_")
        path = Path(self._tmp.name) / "train.h5"
        dt.write_store(path, data.train.haps, data.positions, data.train.samples)
        store = HaplotypeStore(path, in_memory=True, verbose=False)
        freq = data.alt_freq if "freq" in self.masker.rule.inputs else None
        self.dataset = HaplotypeDataset(
            store, self.masker, data.windows, haplotypes=True, freq=freq
        )
        # one window per batch (shuffled, split across torchrun ranks)
        self.sampler = WindowBatchSampler(
            self.dataset, args.batch_size, shuffle=True, seed=args.seed,
            num_replicas=self.engine.world, rank=self.engine.rank,
        )  # fmt: skip
        self.loader: Any = torch.utils.data.DataLoader(
            self.dataset, batch_sampler=self.sampler, collate_fn=self.dataset.collate_fn,
            num_workers=args.num_workers, persistent_workers=args.num_workers > 0,
            # its own generator: creating iterators must not draw from the global torch RNG
            # (dropout), or the model's random stream would depend on --num-workers
            generator=torch.Generator().manual_seed(args.seed),
        )  # fmt: skip
        self.model = model = self.engine.model
        self.opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)

    def close(self) -> None:
        """Stop the DataLoader workers and remove the temporary training store."""
        self.loader = None
        self._tmp.cleanup()

    def train_epoch(self, bar: Any) -> dict[str, Any]:
        """One pass over the loader at the Masker's current epoch; loss and realized rates."""
        torch, eng, args = self.engine.torch, self.engine, self.args
        eng.net.train()
        digest = hashlib.sha1()
        tot_loss, n_steps = 0.0, 0
        counts = np.zeros(6)
        steps = min(len(self.sampler), args.max_steps or len(self.sampler))  # same on every rank
        it = iter(self.loader)
        for _ in bar(range(steps), desc="train"):
            batch = next(it)
            w = int(batch["window"][0])  # WindowBatchSampler: one window per batch
            s, e = self.data.windows[w]
            samples, key = batch["sample"].numpy(), batch["key"].numpy()
            haps = batch["haplotypes"].numpy()  # whole window: all rows have its length
            m = batch["mask"].numpy()  # per-haplotype masks drawn by the Masker
            site = mk.union(m)  # the trainer masks whole genotypes (union over haplotypes)
            digest.update(np.packbits(m).tobytes())
            st = mk.mask_stats(m, haps)
            ref, alt = np.nan_to_num(st["ref_rate"]), np.nan_to_num(st["alt_rate"])
            n_r, n_a = st["n_ref"], st["n_alt"]
            counts += [n_r, n_r * ref, n_a, n_a * alt, site.sum(), site.size]
            weights = None
            if args.importance_weights:  # 1 / P(site masked) under the rule, at today's rates
                inputs = {"freq": self.data.alt_freq[s:e]} if self.dataset.freq is not None else {}
                p = self.masker.probabilities(haps, indices=key, union=True, **inputs)
                weights = np.where(site, 1.0 / np.maximum(p, 1e-12), 0.0)
            own = np.repeat(samples, haps.shape[1])
            prior = eng.training_prior(w, samples, site, own)
            loss, _ = eng.forward(w, haps, site, own, weights, prior=prior)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
            self.opt.step()
            tot_loss += float(loss.detach())
            n_steps += 1
        stats = np.array([tot_loss, n_steps, *counts], dtype=np.float64)
        if eng.world > 1:
            t = torch.as_tensor(stats, device=eng.device)
            torch.distributed.all_reduce(t)
            stats = t.cpu().numpy()
        return {
            "train_loss": stats[0] / max(stats[1], 1),
            "mask_ref_rate": stats[3] / max(stats[2], 1),
            "mask_alt_rate": stats[5] / max(stats[4], 1),
            "mask_site_rate": stats[6] / max(stats[7], 1),
            "mask_digest": digest.hexdigest()[:16],
        }

    def evaluate(self, bar: Any) -> dict[str, Any]:
        """Calibrate (``--calib-samples``), then validate on the frozen masks."""
        thresholds = self.evaluator.calibrate(bar) if self.args.calib_samples else None
        entry = self.evaluator.validate(bar, thresholds)
        entry["thresholds"] = None if thresholds is None else thresholds.tolist()
        return entry


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Train as ``args`` say; return the summary also written to ``metrics.json``."""
    import torch

    torch.set_num_threads(args.threads or min(2, os.cpu_count() or 1))
    t_start = time.perf_counter()
    data = dt.load_data(args)
    if args.window > 512 and args.windows is None:
        raise InputError("--window must be <= 512 sites")
    cfg = cli.config_of(args, data)
    ckpt = Path(args.out) / "checkpoint.pt"
    state = ckpt_io.load_training(ckpt, cfg) if args.resume else None
    tr = Trainer(args, data)
    try:
        return fit(tr, cfg, state, t_start)
    finally:
        tr.close()


def fit(
    tr: Trainer, cfg: dict[str, Any], state: dict[str, Any] | None, t_start: float
) -> dict[str, Any]:
    """The epochs of :func:`run`: baselines, then train, evaluate and checkpoint each epoch."""
    import torch

    args, data, eng, masker = tr.args, tr.data, tr.engine, tr.masker
    out = Path(args.out)
    ckpt = out / "checkpoint.pt"
    rank0 = eng.rank == 0
    log = print if rank0 else (lambda *a, **k: None)
    out.mkdir(parents=True, exist_ok=True)
    history: list[dict[str, Any]] = []
    start_epoch = 0
    if state is not None:
        try:
            tr.model.load_state_dict(state["model"])
            tr.opt.load_state_dict(state["optimizer"])
            masker.load_state_dict(state["masker"])  # publishes to the loader's workers
            torch.set_rng_state(state["torch_rng"])
            history, start_epoch = list(state["history"]), int(state["epoch"])
        except (KeyError, RuntimeError, TypeError, ValueError) as exc:
            raise InputError(f"checkpoint {ckpt} does not fit this configuration: {exc}") from exc
        log(f"resumed from {ckpt} at epoch {start_epoch}")
    log(f"data: {data.source}; train {data.train.n} x {data.train.ploidy}, val {data.val.n}, "
        f"{data.n_sites} sites, {len(data.windows)} windows")  # fmt: skip
    build_ms = eng.index.build_seconds * 1e3
    log(f"retrieval: FAISS IndexFlatIP, key={args.key}, k={args.k_retrieve}, "
        f"index build {build_ms:.1f} ms for {len(data.windows)} windows")  # fmt: skip
    hmm_line = cli.hmm_banner(args, eng.index.n_haps, eng.block_states)
    log(hmm_line + "\n" + masking.banner(masker, start_epoch))
    nparams = sum(p.numel() for p in tr.model.parameters())
    log(f"model: RagBert dims={args.dims} layers={args.layers} params={nparams:,} on {eng.device}")
    ev = tr.evaluator
    t0 = time.perf_counter()
    base_masks = [ev.val_site[:, s:e] for s, e in data.windows]
    base_cols = dt.score_windows(data.windows, data.n_sites)
    base = baselines(data, eng.index, base_masks, base_cols, args.val_unphased)
    log(f"baselines ({time.perf_counter() - t0:.1f} s) on the frozen val masks "
        f"({args.val_mask_rule} {args.val_mask_rate} per {args.val_mask_unit}):")  # fmt: skip
    for name, res in base.items():
        log(f"  {name:14s} {fmt_bins(res)}")

    bar = outputs.progress(not args.quiet and rank0)
    summary: dict[str, Any] = {"config": cfg, "baselines": base, "data": data.source}
    for epoch in range(start_epoch, args.epochs):
        te = time.perf_counter()
        masker.set_epoch(epoch)  # the curriculum and the masks' key; reaches the workers
        tr.sampler.set_epoch(epoch)  # the batch order
        build = None
        if args.key == "learned" and epoch % args.rebuild_every == 0:
            build = eng.rebuild_learned_index()
        level, rate = masker.schedule.level(epoch), masking.curriculum_rate(masker)
        tr_log = outputs.timed("train", tr.train_epoch, bar)
        va_log = outputs.timed("eval", tr.evaluate, bar)
        entry = {"epoch": epoch, "level": level, "ref_rate": rate, **tr_log, **va_log}
        entry["index_build_s"] = build if build is not None else eng.index.build_seconds
        entry["epoch_s"] = time.perf_counter() - te
        rates = masking.training_class_rates(masker) if args.prior_correction else None
        entry["prior_rates"] = None if rates is None else list(rates)
        if rates is not None and epoch == args.epochs - 1:
            # the same model scored without the correction (ablation: corrected vs not)
            eng.correct_prior = False
            va_u = tr.evaluate(bar)
            eng.correct_prior = True
            entry["val_uncorrected"] = va_u["val"]
            entry["val_loss_uncorrected"] = va_u["val_loss"]
        if args.dynamic:  # Plateau: the level advances when validation rare F1 stalls
            masker.update(float(np.nan_to_num(va_log["val"]["rare"]["f1"])))
        history.append(entry)
        v = va_log["val"]
        log(f"epoch {epoch + 1}/{args.epochs} level {level} rate {rate:.2f} | train loss "
            f"{tr_log['train_loss']:.4f} val loss {va_log['val_loss']:.4f} | rare F1 "
            f"{v['rare']['f1']:.3f} (<0.01 {v[BINS[0]]['f1']:.3f}) "
            f"common F1 {v[BINS[-1]]['f1']:.3f} "
            f"r2 {v['all']['r2']:.3f} conc {v['all']['concordance']:.4f} | masked ref "
            f"{tr_log['mask_ref_rate']:.2f} alt {tr_log['mask_alt_rate']:.2f} site "
            f"{tr_log['mask_site_rate']:.2f} | {entry['epoch_s']:.0f} s (train "
            f"{entry['train_s']:.0f} s, eval {entry['eval_s']:.0f} s)")  # fmt: skip
        if rank0:
            ckpt_io.save(ckpt, {
                "config": cfg, "model": tr.model.state_dict(), "model_config": tr.model.config,
                "optimizer": tr.opt.state_dict(), "masker": masker.state_dict(),
                "epoch": epoch + 1, "history": history, "torch_rng": torch.get_rng_state(),
                "windows": data.windows, "alt_freq": data.alt_freq, "positions": data.positions,
                **ckpt_io.panel_entries(data.train, data.val), "thresholds": entry["thresholds"],
                "prior_rates": entry["prior_rates"],
                "eval": {
                    "stride": args.val_stride, "k_retrieve": eng.eval_index.k,
                    "retrieval_window": args.val_retrieval_window,
                },
                "hmm": {k: getattr(args, f"hmm_{k}") for k in ("flank", "ne", "eps", "states")},
            })  # fmt: skip
            summary["wall_s"] = time.perf_counter() - t_start
            outputs.write_metrics(out, history, summary)
    paths: list[Path] = []
    if rank0 and history and not args.no_plots:
        paths = outputs.plot(out, history, base)
    if rank0 and history:
        log(f"final ({len(history)} epochs, {time.perf_counter() - t_start:.0f} s):")
        log(f"  {'model':14s} {fmt_bins(history[-1]['val'])}")
        for name, res in base.items():
            log(f"  {name:14s} {fmt_bins(res)}")
        log(f"metrics: {out / 'metrics.csv'}, {out / 'metrics.json'}")
        if paths:
            log("plots: " + ", ".join(str(p) for p in paths))
        log(f"checkpoint: {ckpt}")
    summary["history"] = history
    summary["plots"] = [str(p) for p in paths]
    if eng.world > 1 and torch.distributed.is_initialized():
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    return summary


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        run(args)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
