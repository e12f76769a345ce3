"""Train the reference RAG-BERT model: ``python -m examples.rag_bert.train [--help]``.

Without paths it trains on the built-in simulated demo data (small model, CPU, a few minutes);
with ``--train/--val`` stores it runs the original script's configuration (``--dims 384`` on GPU).
Writes ``metrics.csv``, ``metrics.json``, ``trainer_loss.png``, ``trainer_f1.png`` and an
atomically replaced ``checkpoint.pt`` (every epoch) under ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

import maskkit as mk
from maskkit import metrics as mm

from . import calls, hmm
from . import checkpoint as ckpt_io
from . import data as dt
from .data import InputError
from .phase import phase_hmm, phase_window
from .retrieval import PanelIndex, nearest_copy, query_keys

BINS = mm.bin_labels()
CONFIG_KEYS = (
    "dims", "layers", "heads", "window", "k_retrieve", "key", "no_af", "strategy", "alt_rate",
    "levels", "epochs_per_level", "dynamic", "schedule", "seed", "exact", "batch_size", "lr",
    "no_copy_prior", "prior_correction", "importance_weights", "hmm_prior", "hmm_flank",
    "hmm_ne", "hmm_eps",
)  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m examples.rag_bert.train", description=__doc__)
    g = p.add_argument_group("data (demo data when --train is not given)")
    g.add_argument("--train", help="training store (HDF5, scikit-allel layout); also the panel")
    g.add_argument("--val", help="validation store (same sites)")
    g.add_argument("--train-panel", help="sample list selecting training samples")
    g.add_argument("--val-panel", help="sample list selecting validation samples")
    g.add_argument("--freq", help="alt-allele frequency per site (default: from --train)")
    g.add_argument("--windows", help="window file: 'start stop' site indices per line")
    g.add_argument("--window", type=int, default=128, help="window size when no --windows")
    g.add_argument("--demo-train", type=int, default=200, help="demo: training diploids")
    g.add_argument("--demo-val", type=int, default=50, help="demo: validation diploids")
    g.add_argument("--demo-length", type=float, default=5.0e5, help="demo: sequence length (bp)")
    g.add_argument("--data-seed", type=int, default=42)
    g.add_argument(
        "--demo-model", choices=["ooa", "constant"], default="ooa",
        help="demo: maskkit.io Out-of-Africa simulation or a constant-size population",
    )  # fmt: skip
    g.add_argument(
        "--cache-dir", default=None,
        help="cache simulated demo data here (default for the Out-of-Africa demo: "
        "maskkit.io.default_cache_dir(), i.e. $MASKKIT_CACHE_DIR, else "
        "$XDG_CACHE_HOME/maskkit, else ~/.cache/maskkit)",
    )  # fmt: skip
    g = p.add_argument_group("model and retrieval")
    g.add_argument("--dims", type=int, default=64)
    g.add_argument("--layers", type=int, default=2)
    g.add_argument("--heads", type=int, default=4)
    g.add_argument("--no-af", action="store_true", help="no allele-frequency embedding")
    g.add_argument("--k-retrieve", type=int, default=16)
    g.add_argument("--key", choices=["similarity", "learned"], default="similarity")
    g.add_argument("--rebuild-every", type=int, default=1, help="learned key: epochs per rebuild")
    g.add_argument(
        "--no-copy-prior", action="store_true",
        help="no copying prior at all (neither --hmm-prior nor the retrieved copy): the head "
        "starts from scratch",
    )  # fmt: skip
    g.add_argument(
        "--hmm-prior", action=argparse.BooleanOptionalAction, default=True,
        help="the model starts from a Li-Stephens copying posterior over the whole panel "
        "(window plus --hmm-flank sites each side); --no-hmm-prior: from the retrieved "
        "haplotypes' copy (default: %(default)s)",
    )  # fmt: skip
    g.add_argument("--hmm-flank", type=int, default=256, help="--hmm-prior: sites each side")
    g.add_argument("--hmm-ne", type=float, default=1e4, help="--hmm-prior: effective size Ne")
    g.add_argument("--hmm-eps", type=float, default=1e-3, help="--hmm-prior: copying error")
    g = p.add_argument_group("training")
    g.add_argument("--epochs", type=int, default=4)
    g.add_argument("--batch-size", type=int, default=16, help="diploid samples per step")
    g.add_argument("--lr", type=float, default=2e-3)
    g.add_argument(
        "--strategy", choices=["random", "smart_balanced", "af_aware"], default="smart_balanced",
        help="af_aware: rates x --af-rates per MAF bin (< 0.01, 0.01-0.05, >= 0.05), both alleles",
    )  # fmt: skip
    g.add_argument("--alt-rate", type=float, default=0.7)
    g.add_argument("--af-rates", type=float, nargs=3, default=[1.6, 1.3, 1.0])
    g.add_argument(
        "--prior-correction", action="store_true",
        help="at evaluation, subtract the training masks' log odds log(P(masked|alt) / "
        "P(masked|ref)) from the alt logit (class-rate masking shifts the prior otherwise)",
    )  # fmt: skip
    g.add_argument(
        "--importance-weights", action="store_true",
        help="weight each masked genotype's training loss by 1 / P(masked) under the rule "
        "(Masker.probabilities), so over-sampled classes or bins do not shift the model's prior",
    )  # fmt: skip
    g.add_argument("--levels", type=float, nargs="+", default=[0.3, 0.4, 0.5, 0.6, 0.7, 0.8])
    g.add_argument("--epochs-per-level", type=int, default=1)
    g.add_argument("--dynamic", action="store_true", help="advance level when val rare F1 stalls")
    g.add_argument(
        "--schedule", choices=["levels", "linear", "cosine", "constant"], default="levels",
        help="curriculum shape over --levels (ignored with --dynamic)",
    )  # fmt: skip
    g.add_argument("--exact", action="store_true", help="exact-count masks")
    g.add_argument("--seed", type=int, default=1234)
    g.add_argument("--max-steps", type=int, default=0, help="cap steps per epoch (0: all)")
    g.add_argument("--threads", type=int, default=0, help="torch threads (0: min(2, cores))")
    g.add_argument(
        "--num-workers", type=int, default=0,
        help="DataLoader workers for training batches (0: in the main process)",
    )  # fmt: skip
    g = p.add_argument_group("validation masks (frozen)")
    g.add_argument("--val-mask-rule", choices=["random", "smart_balanced"], default="random")
    g.add_argument("--val-mask-rate", type=float, default=0.3)
    g.add_argument("--val-mask-unit", choices=["site", "haplotype"], default="site")
    g.add_argument("--val-seed", type=int, default=999)
    g.add_argument(
        "--val-mask-window", type=int, default=128,
        help="tile size the validation masks are drawn on (independent of --window)",
    )  # fmt: skip
    g.add_argument(
        "--val-unphased", action="store_true",
        help="validate (and calibrate) on genotypes: phase is dropped, the visible genotypes are "
        "phased against the panel, calls are scored per genotype",
    )  # fmt: skip
    g.add_argument(
        "--val-stride", type=int, default=0,
        help="validate and calibrate on windows of --window sites starting every N sites, each "
        "site scored in the window whose centre is nearest (0: the training windows)",
    )  # fmt: skip
    g.add_argument(
        "--val-retrieval-window", type=int, default=0,
        help="at validation and calibration, retrieve by similarity over N sites centred on each "
        "window (0: the window itself); the model still reads its window",
    )  # fmt: skip
    g.add_argument(
        "--val-k-retrieve", type=int, default=0,
        help="retrieved haplotypes per query at validation and calibration (0: --k-retrieve)",
    )  # fmt: skip
    g.add_argument(
        "--calib-samples", type=int, default=None,
        help="training samples used to fit per-MAF-bin call thresholds (0: argmax calls; "
        "default 0 with the HMM prior, whose argmax calls scored as well or better, else 64)",
    )  # fmt: skip
    g = p.add_argument_group("output")
    g.add_argument("--out", default="runs/rag_bert")
    g.add_argument("--resume", action="store_true", help="continue from --out/checkpoint.pt")
    g.add_argument("--no-plots", action="store_true")
    g.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


# -- distributed / device ---------------------------------------------------------------------


def dist_info() -> tuple[int, int]:
    """``(rank, world_size)`` from torchrun's environment."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def config_of(args: argparse.Namespace, data: dt.Data) -> dict[str, Any]:
    cfg = {k: getattr(args, k) for k in CONFIG_KEYS}
    cfg["n_sites"] = data.n_sites
    cfg["windows_sha"] = hashlib.sha1(data.windows.tobytes()).hexdigest()[:12]
    return cfg


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write atomically, tensors and JSON data only (see :mod:`.checkpoint`)."""
    ckpt_io.save(path, state)


def load_checkpoint(path: Path, cfg: dict[str, Any]) -> dict[str, Any]:
    if not path.exists():
        raise InputError(f"--resume: no checkpoint at {path}")
    state = ckpt_io.load(path)  # never unpickles objects; InputError for anything else
    old = state.get("config", {})
    diff = {k: (old.get(k), v) for k, v in cfg.items() if old.get(k) != v}
    if diff:
        lines = ", ".join(f"{k}: checkpoint {a!r} vs now {b!r}" for k, (a, b) in diff.items())
        raise InputError(f"checkpoint {path} was made with another configuration ({lines})")
    return state


# -- one pass ---------------------------------------------------------------------------------


class Trainer:
    def __init__(self, args: argparse.Namespace, data: dt.Data) -> None:
        import torch

        from .model import RagBert

        self.torch = torch
        self.args, self.data = resolve_defaults(args), data
        self.rank, self.world = dist_info()
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        if self.world > 1 and not torch.distributed.is_initialized():
            backend = "nccl" if self.device.type == "cuda" else "gloo"
            torch.distributed.init_process_group(backend)
            if self.device.type == "cuda":
                self.device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
                torch.cuda.set_device(self.device)
        torch.manual_seed(args.seed)
        self.index = PanelIndex(data.train.haps, data.windows, args.k_retrieve)
        # validation and calibration: --val-stride overlapping windows scored at their centres
        # and --val-k-retrieve neighbours, or the model's windows and k
        # (--val-retrieval-window: similarity keys over a longer range centred on each window)
        self.eval_index = self.index
        stride, k_eval = args.val_stride, args.val_k_retrieve or args.k_retrieve
        reach = args.val_retrieval_window
        if stride or k_eval != args.k_retrieve or reach:
            windows = data.windows
            if stride:
                if args.windows is not None:
                    raise InputError("--val-stride needs windows of --window sites, not --windows")
                windows = dt.make_windows(data.n_sites, args.window, stride)
            keys = None
            if reach:
                if args.key == "learned":
                    raise InputError("--val-retrieval-window needs --key similarity")
                keys = dt.centred_windows(windows, data.n_sites, reach)
            self.eval_index = PanelIndex(data.train.haps, windows, k_eval, key_windows=keys)
        self.max_len = int((data.windows[:, 1] - data.windows[:, 0]).max())
        use_hmm = uses_hmm_prior(args)
        self.model = RagBert(
            dims=args.dims, layers=args.layers, heads=args.heads, max_len=max(self.max_len, 8),
            use_af=not args.no_af, learned_key=args.key == "learned",
            copy_prior=not args.no_copy_prior, prior_input=use_hmm,
        ).to(self.device)  # fmt: skip
        self.rho = None
        if use_hmm:
            if args.hmm_flank < 0 or not args.hmm_ne > 0 or not 0 < args.hmm_eps < 0.5:
                raise InputError("--hmm-flank must be >= 0, --hmm-ne > 0 and --hmm-eps in (0, 0.5)")
            self.rho = hmm.switch_probabilities(data.positions, self.index.n_haps, args.hmm_ne)
        self.net: Any = self.model
        if self.world > 1:
            self.net = torch.nn.parallel.DistributedDataParallel(
                self.model, find_unused_parameters=False
            )
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=args.lr, weight_decay=0.01)
        self.schedule = dt.make_schedule(
            args.levels, args.epochs_per_level, args.dynamic, args.schedule, args.epochs
        )
        self.masker = dt.make_masker(
            args.strategy, self.schedule, args.alt_rate, args.seed, args.exact, args.af_rates
        )
        self.correct_prior = bool(args.prior_correction)
        self.af = torch.as_tensor(data.alt_freq, dtype=torch.float32, device=self.device)
        self._make_loader()
        # frozen validation masks on --val-mask-window tiles (the same genotypes for any model
        # window)
        mask_windows = dt.make_windows(data.n_sites, args.val_mask_window)
        self.val_site = dt.val_genotype_mask(
            data.val.haps, mask_windows, args.val_mask_rule, args.val_mask_rate,
            args.val_mask_unit, args.alt_rate, args.val_seed,
        )  # fmt: skip
        # baselines: the model's windows, each site scored in the first window holding it
        self.base_masks = [self.val_site[:, s:e] for s, e in data.windows]
        self.base_cols = dt.score_windows(data.windows, data.n_sites)
        ew = self.eval_index.windows
        # what evaluation reads around each window: its key range, widened by the HMM's flanks;
        # unphased targets are phased over all of it, so the model's input, the search context
        # and the HMM's rows come from one phasing
        self.eval_ranges = self.eval_index.key_windows
        self.phase_index = self.eval_index
        if self.rho is not None:
            self.eval_ranges = hmm.flanked_ranges(
                ew, self.eval_index.key_windows, data.n_sites, args.hmm_flank
            )
            if args.val_unphased:
                self.phase_index = PanelIndex(data.train.haps, ew, 1, key_windows=self.eval_ranges)
        self.val_masks = [self.val_site[:, s:e] for s, e in ew]
        self.score_cols = dt.score_windows(ew, data.n_sites, centre=bool(args.val_stride))
        self.autocast = self.device.type == "cuda"

    def _make_loader(self) -> None:
        """Training batches from ``maskkit.torch``: a HaplotypeDataset over the training split
        (written once as a store in a temporary folder; served from memory), one window per
        batch (WindowBatchSampler: shuffled, split across torchrun ranks) and a DataLoader."""
        from maskkit.io import HaplotypeStore
        from maskkit.torch import HaplotypeDataset, WindowBatchSampler

        torch, args, data = self.torch, self.args, self.data
        if args.num_workers < 0:
            raise InputError(f"--num-workers must be >= 0, got {args.num_workers}")
        self._tmp = tempfile.TemporaryDirectory(prefix="rag_bert_")
        path = Path(self._tmp.name) / "train.h5"
        dt.write_store(path, data.train.haps, data.positions, data.train.samples)
        store = HaplotypeStore(path, in_memory=True, verbose=False)
        # masks are keyed by (seed, epoch, sample * n_windows + window); the dataset shares
        # self.masker, so set_epoch / load_state_dict / update reach it (and its workers)
        # maskkit.torch does not hand site frequencies to the Masker, so for af_aware the dataset
        # holds a random Masker on the same schedule (its masks are unused) and train_epoch
        # draws the af_aware masks itself with the same key
        ds_masker = self.masker
        if args.strategy == "af_aware":
            ds_masker = dt.make_masker("random", self.schedule, 0.0, args.seed, args.exact)
        self.dataset = HaplotypeDataset(store, ds_masker, data.windows, haplotypes=True)
        self.sampler = WindowBatchSampler(
            self.dataset, args.batch_size, shuffle=True, seed=args.seed,
            num_replicas=self.world, rank=self.rank,
        )  # fmt: skip
        self.loader = torch.utils.data.DataLoader(
            self.dataset, batch_sampler=self.sampler, collate_fn=self.dataset.collate_fn,
            num_workers=args.num_workers, persistent_workers=args.num_workers > 0,
            # its own generator: creating iterators must not draw from the global torch RNG
            # (dropout), or the model's random stream would depend on --num-workers
            generator=torch.Generator().manual_seed(args.seed),
        )  # fmt: skip

    def close(self) -> None:
        """Stop the DataLoader workers and remove the temporary training store."""
        self.loader = None
        self._tmp.cleanup()

    def set_epoch(self, epoch: int) -> None:
        """Masker epoch (and curriculum level) for the dataset and its workers; batch order."""
        self.dataset.set_epoch(epoch)
        self.sampler.set_epoch(epoch)
        self.masker.set_epoch(epoch)

    # -- helpers --------------------------------------------------------------------------
    def _retrieve(
        self,
        index: PanelIndex,
        w: int,
        rows: np.ndarray,
        hidden: np.ndarray,
        ids_tok: Any,
        own: np.ndarray | None,
        ctx: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> tuple[np.ndarray, np.ndarray, Any]:
        """Return (qkey, ref alleles (R, k, W), ref ids) from window ``w`` of ``index``;
        ``ctx`` (rows, hidden) over the window's key range is what the search matches."""
        qkey = query_keys(rows, hidden)
        if self.args.key == "learned" and index.learned_indexes is not None:
            with self.torch.no_grad():
                q = self.model.encode_key(ids_tok).float().cpu().numpy()
            ids, _ = index.search(w, q, own, learned=True)
        else:
            ids, _ = index.search(w, qkey if ctx is None else query_keys(*ctx), own)
        return qkey, index.alleles(w, ids), ids

    def _forward(
        self,
        w: int,
        haps: np.ndarray,
        site_mask: np.ndarray,
        own: Any,
        weights: np.ndarray | None = None,
        index: PanelIndex | None = None,
        ctx: tuple[np.ndarray, np.ndarray] | None = None,
        prior: Any = None,
    ) -> tuple:
        """Loss and logits of window ``w`` of ``index`` (default: the training windows);
        ``prior``: the model's input prior (``--hmm-prior``, see :meth:`_hmm_prior`)."""
        torch = self.torch
        index = self.index if index is None else index
        s, e = index.windows[w]
        batch = mk.collate(haps, site_mask)
        ids_np = batch["input_ids"].reshape(-1, haps.shape[-1])
        labels = torch.as_tensor(batch["labels"].reshape(-1, haps.shape[-1]), device=self.device)
        rows = haps.reshape(-1, haps.shape[-1])
        hidden = np.repeat(site_mask, haps.shape[1], axis=0)
        tok = torch.as_tensor(ids_np, device=self.device)
        qkey, ref, _ = self._retrieve(index, w, rows, hidden, tok, own, ctx)
        ref_t = torch.as_tensor(ref, device=self.device)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
            logits = self.net(
                tok,
                torch.as_tensor(qkey, device=self.device),
                ref_t,
                self.af[s:e],
                learned_key=self.args.key == "learned",
                prior=prior,
            )
        logits = logits.float()
        if self.correct_prior and not self.net.training:
            rates = dt.training_class_rates(self.masker)
            if rates is not None:
                shift = dt.class_log_odds(*rates, self.data.alt_freq[s:e], haps.shape[1])
                logits[..., 1] -= torch.as_tensor(shift, dtype=logits.dtype, device=self.device)
        flat = logits.reshape(-1, logits.shape[-1])
        if weights is None:
            loss = torch.nn.functional.cross_entropy(flat, labels.reshape(-1), ignore_index=-100)
            return loss, logits
        each = torch.nn.functional.cross_entropy(
            flat, labels.reshape(-1), ignore_index=-100, reduction="none"
        )
        wt = torch.as_tensor(
            np.repeat(weights, haps.shape[1], axis=0).reshape(-1), dtype=each.dtype,
            device=self.device,
        ) * (labels.reshape(-1) != -100)  # fmt: skip
        return (each * wt).sum() / wt.sum().clamp_min(1e-12), logits

    def _hmm_prior(
        self, rows: np.ndarray, hidden: np.ndarray, start: int, s: int, e: int, own: Any
    ) -> Any:
        """``--hmm-prior``: Li-Stephens log odds of alt ``(rows, e - s)`` over window ``s:e``
        from haplotypes ``rows`` ``(samples, ploidy, sites)`` and mask ``hidden`` ``(samples,
        sites)`` of sites ``start ..``, which cover ``--hmm-flank`` sites on either side of the
        window (or up to the ends). None without ``--hmm-prior``."""
        if self.rho is None:
            return None
        a, b = hmm.flank_range(s, e, self.data.n_sites, self.args.hmm_flank)
        if a < start or b > start + rows.shape[-1]:
            raise ValueError(f"rows of sites {start}.. do not cover the HMM range {a}..{b}")
        ploidy = rows.shape[1]
        lo = hmm.window_log_odds(
            self.index.panel_rows, self.rho, rows[..., a - start : b - start].reshape(-1, b - a),
            np.repeat(hidden[:, a - start : b - start], ploidy, axis=0), a, (s, e), own=own,
            ploidy=ploidy, eps=self.args.hmm_eps,
        )  # fmt: skip
        return self.torch.as_tensor(lo, device=self.device)

    def rebuild_learned_index(self) -> float:
        """Encode the panel with the key encoder into the training (and evaluation) index."""
        torch = self.torch
        self.model.eval()
        seconds = 0.0
        for index in {id(i): i for i in (self.index, self.eval_index)}.values():
            embs = []
            with torch.no_grad():
                for s, e in index.windows:
                    rows = index.panel_rows[:, s:e]
                    tok = np.where(rows >= 0, rows.astype(np.int64) + mk.tokens.ALLELE_OFFSET, 2)
                    parts = [
                        self.model.encode_key(torch.as_tensor(tok[i : i + 512], device=self.device))
                        for i in range(0, tok.shape[0], 512)
                    ]
                    embs.append(torch.cat(parts).float().cpu().numpy())
            seconds += index.set_embeddings(embs)
        return seconds

    # -- epochs ---------------------------------------------------------------------------
    def train_epoch(self, epoch: int, bar: Any) -> dict[str, Any]:
        torch = self.torch
        self.set_epoch(epoch)
        self.net.train()
        digest = hashlib.sha1()
        tot_loss, n_steps = 0.0, 0
        counts = np.zeros(6)
        steps = len(self.sampler)
        if self.args.max_steps:
            steps = min(steps, self.args.max_steps)  # the same on every rank
        it = iter(self.loader)
        for _ in bar(range(steps)):
            batch = next(it)
            w = int(batch["window"][0])  # WindowBatchSampler: one window per batch
            samples = batch["sample"].numpy()
            haps = batch["haplotypes"].numpy()  # whole window: all rows have its length
            m = batch["mask"].numpy()  # per-haplotype masks from the trainer's Masker
            if self.args.strategy == "af_aware":
                s, e = self.data.windows[w]
                key = samples * len(self.data.windows) + w
                m = dt.af_aware_mask(
                    self.masker, self.args.af_rates, haps, self.data.alt_freq[s:e], key
                )
            site = mk.union(m)  # the trainer masks whole genotypes (union over haplotypes)
            digest.update(np.packbits(m).tobytes())
            st = mk.mask_stats(m, haps)
            counts += [
                st["n_ref"], st["n_ref"] * np.nan_to_num(st["ref_rate"]),
                st["n_alt"], st["n_alt"] * np.nan_to_num(st["alt_rate"]),
                site.sum(), site.size,
            ]  # fmt: skip
            weights = None
            if self.args.importance_weights:
                s, e = self.data.windows[w]
                key = samples * len(self.data.windows) + w
                p = dt.site_mask_probability(
                    self.masker, self.args.af_rates, haps, self.data.alt_freq[s:e], key
                )
                weights = np.where(site, 1.0 / np.maximum(p, 1e-12), 0.0)
            own = np.repeat(samples, haps.shape[1])
            prior = None
            if self.rho is not None:
                s, e = self.data.windows[w]
                a, b = hmm.flank_range(s, e, self.data.n_sites, self.args.hmm_flank)
                hidden = np.zeros((samples.size, b - a), dtype=bool)  # flanks: all visible
                hidden[:, s - a : e - a] = site
                prior = self._hmm_prior(self.data.train.haps[samples, :, a:b], hidden, a, s, e, own)
            loss, _ = self._forward(w, haps, site, own, weights, prior=prior)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
            self.opt.step()
            tot_loss += float(loss.detach())
            n_steps += 1
        stats = np.array([tot_loss, n_steps, *counts], dtype=np.float64)
        if self.world > 1:
            t = torch.as_tensor(stats, device=self.device)
            torch.distributed.all_reduce(t)
            stats = t.cpu().numpy()
        return {
            "train_loss": stats[0] / max(stats[1], 1),
            "mask_ref_rate": stats[3] / max(stats[2], 1),
            "mask_alt_rate": stats[5] / max(stats[4], 1),
            "mask_site_rate": stats[6] / max(stats[7], 1),
            "mask_digest": digest.hexdigest()[:16],
        }

    def calibrate(self, bar: Any) -> np.ndarray:
        """Fit per-MAF-bin minor-allele thresholds on training samples (validation-like masks,
        own haplotypes excluded from retrieval); no validation labels are used."""
        torch = self.torch
        self.net.eval()
        fitter = calls.ThresholdFitter()
        rng = np.random.default_rng([self.args.val_seed, 7])
        n = self.data.train.n
        pick = np.sort(rng.choice(n, size=min(n, self.args.calib_samples), replace=False))
        bs = max(self.args.batch_size * 2, 32)
        work = [
            (w, pick[i : i + bs])
            for w in range(len(self.eval_index.windows))
            for i in range(0, pick.size, bs)
        ][self.rank :: self.world]
        with torch.no_grad():
            for w, samples in bar(work):
                s, e = self.eval_index.windows[w]
                lo, hi = self.eval_ranges[w]
                site_r = dt.val_site_mask(
                    self.data.train.haps[samples, :, lo:hi], self.args.val_mask_rule,
                    self.args.val_mask_rate, self.args.val_mask_unit, self.args.alt_rate,
                    self.args.val_seed + 1, w + 10_000,
                )  # fmt: skip
                haps, site, inp, ctx, prior = self._eval_batch(
                    w, self.data.train.haps, samples, site_r
                )
                own = np.repeat(samples, haps.shape[1])
                _, logits = self._forward(
                    w, inp, site, own, index=self.eval_index, ctx=ctx, prior=prior
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
        if self.world > 1:
            t = torch.as_tensor(fitter.counts, device=self.device)
            torch.distributed.all_reduce(t)
            fitter.counts = t.cpu().numpy()
        return fitter.fit()

    def _eval_batch(
        self, w: int, src: np.ndarray, samples: np.ndarray, site_r: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray] | None, Any]:
        """Truth, mask and model input of evaluation window ``w`` for ``samples`` of ``src``,
        the search context over its key range (None when that is the window itself) and the
        ``--hmm-prior`` input (None without it). ``site_r`` is the mask over the window's
        evaluation range (``self.eval_ranges[w]``); unphased targets are phased over it."""
        s, e = self.eval_index.windows[w]
        ks, ke = self.eval_index.key_windows[w]
        lo, hi = self.eval_ranges[w]
        haps_r = src[samples, :, lo:hi]
        own = samples if src is self.data.train.haps else None
        inp_r = self._unphase(w, haps_r, site_r, own, (s - lo, e - lo))
        ctx = None
        if (ks, ke) != (s, e):
            key_rows = inp_r[..., ks - lo : ke - lo].reshape(-1, ke - ks)
            ctx = (key_rows, np.repeat(site_r[:, ks - lo : ke - lo], haps_r.shape[1], axis=0))
        prior = self._hmm_prior(
            inp_r, site_r, int(lo), s, e, None if own is None else np.repeat(own, src.shape[1])
        )
        a, b = s - lo, e - lo
        return haps_r[..., a:b], site_r[:, a:b], inp_r[..., a:b], ctx, prior

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
        if self.rho is not None:  # with the HMM prior: template switches over the longer range
            phased = phase_hmm(
                self.phase_index, w, visible, self.rho, own, eps=self.args.hmm_eps, chunk=128
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
        torch = self.torch
        self.net.eval()
        scorer = mm.MinorAlleleScorer(self.data.alt_freq)
        scorer_argmax = mm.MinorAlleleScorer(self.data.alt_freq)
        tot, n = 0.0, 0
        val = self.data.val.haps
        bs = max(self.args.batch_size * 2, 32)
        work = [
            (w, np.arange(i, min(i + bs, val.shape[0])))
            for w in range(len(self.eval_index.windows))
            for i in range(0, val.shape[0], bs)
        ][self.rank :: self.world]
        with torch.no_grad():
            for w, samples in bar(work):
                s, e = self.eval_index.windows[w]
                lo, hi = self.eval_ranges[w]
                haps, site, inp, ctx, prior = self._eval_batch(
                    w, val, samples, self.val_site[samples, lo:hi]
                )
                loss, logits = self._forward(
                    w, inp, site, None, index=self.eval_index, ctx=ctx, prior=prior
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
        if self.world > 1:
            t = torch.as_tensor(state, device=self.device)
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


# -- baselines --------------------------------------------------------------------------------


def baselines(
    data: dt.Data,
    index: PanelIndex,
    val_masks: list[np.ndarray],
    score_cols: list[np.ndarray],
    unphased: bool = False,
) -> dict[str, Any]:
    """Major allele and nearest-haplotype copy (k=1, Hamming on visible sites) on the val masks."""
    major_sc = mm.MinorAlleleScorer(data.alt_freq)
    nn_sc = mm.MinorAlleleScorer(data.alt_freq)
    major = (data.alt_freq > 0.5).astype(np.int8)
    val = data.val.haps
    for w, (s, e) in enumerate(data.windows):
        haps = val[:, :, s:e]
        site = val_masks[w]
        cols = score_cols[w]
        pred_major = np.broadcast_to(major[s:e], haps.shape)
        major_sc.update(haps[..., cols], pred_major[..., cols], site[:, cols], sites=s + cols)
        inp = haps
        if unphased:  # the copy works on haplotypes phased from the visible genotypes
            vis = np.where(site[:, None, :], -1, haps).astype(haps.dtype)
            inp = phase_window(index, w, vis)
        rows = inp.reshape(-1, e - s)
        hidden = np.repeat(site, haps.shape[1], axis=0)
        copy = nearest_copy(index, w, rows, hidden, None).reshape(haps.shape)
        nn_sc.update(haps[..., cols], copy[..., cols], site[:, cols], sites=s + cols)
    return {"major_allele": major_sc.result(), "nearest_copy": nn_sc.result()}


# -- output -----------------------------------------------------------------------------------


def flat_row(epoch_log: dict[str, Any]) -> dict[str, Any]:
    skip = ("val", "val_argmax", "thresholds", "prior_rates", "val_uncorrected")
    skip += ("val_loss_uncorrected",)  # last epoch only; kept in metrics.json
    row = {k: v for k, v in epoch_log.items() if k not in skip}
    row["thresholds"] = " ".join(f"{t:g}" for t in epoch_log.get("thresholds") or [])
    for b in [*BINS, "rare", "all"]:
        for m in ("f1", "precision", "recall", "r2", "concordance"):
            row[f"val_{b}_{m}"] = epoch_log["val"][b][m]
        if "val_argmax" in epoch_log:
            row[f"val_argmax_{b}_f1"] = epoch_log["val_argmax"][b]["f1"]
    return row


def write_metrics(out: Path, history: list[dict[str, Any]], summary: dict[str, Any]) -> None:
    rows = [flat_row(h) for h in history]
    buf = io.StringIO(newline="")
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    dt.write_text(out / "metrics.csv", buf.getvalue())
    summary_json = json.dumps({**summary, "history": history}, indent=1, default=float)
    dt.write_text(out / "metrics.json", summary_json)


def plot(out: Path, history: list[dict[str, Any]], base: dict[str, Any]) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ep = [h["epoch"] + 1 for h in history]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(ep, [h["train_loss"] for h in history], "o-", label="train")
    ax.plot(ep, [h["val_loss"] for h in history], "s-", label="val (frozen masks)")
    ax.set(xlabel="epoch", ylabel="cross-entropy at masked sites", title="RAG-BERT loss")
    ax.set_xticks(ep)
    ax.legend()
    fig.tight_layout()
    p1 = out / "trainer_loss.png"
    fig.savefig(p1, dpi=110)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, b in enumerate(BINS):
        color = f"C{i}"
        ax.plot(ep, [h["val"][b]["f1"] for h in history], "o-", color=color, label=f"model {b}")
        ax.axhline(base["nearest_copy"][b]["f1"], color=color, ls="--", lw=1)
    ax.plot([], [], "k--", lw=1, label="nearest-haplotype copy")
    ax.set(xlabel="epoch", ylabel="minor-allele F1 (masked genotypes)", ylim=(0, 1.02))
    ax.set_xticks(ep)
    ax.set_title("validation F1 by MAF bin")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    p2 = out / "trainer_f1.png"
    fig.savefig(p2, dpi=110)
    plt.close(fig)
    return [p1, p2]


def _fmt_bins(res: dict[str, Any]) -> str:
    return "  ".join(f"{b}: F1 {res[b]['f1']:.3f} r2 {res[b]['r2']:.3f}" for b in BINS)


# -- main -------------------------------------------------------------------------------------


def uses_hmm_prior(args: argparse.Namespace) -> bool:
    """Whether the model starts from the Li and Stephens posterior (``--no-copy-prior`` turns
    every prior off, this one too)."""
    return bool(args.hmm_prior and not args.no_copy_prior)


def resolve_defaults(args: argparse.Namespace) -> argparse.Namespace:
    """Fill the flags whose default depends on others (in place; returns ``args``).

    ``--calib-samples``: argmax calls with the HMM prior, whose posterior is close to
    calibrated; thresholds fitted on 32-64 training samples moved its rare F1 by -0.022 to
    +0.015 against argmax from run to run (docs/trainer.md, "Calls"). The copy-prior models
    under-call rare variants at argmax and keep fitted thresholds (64 samples).
    """
    if args.calib_samples is None:
        args.calib_samples = 0 if uses_hmm_prior(args) else 64
    if args.calib_samples < 0:
        raise InputError(f"--calib-samples must be >= 0, got {args.calib_samples}")
    return args


def run(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    threads = args.threads or min(2, os.cpu_count() or 1)
    torch.set_num_threads(threads)
    out = Path(args.out)
    ckpt = out / "checkpoint.pt"
    t_start = time.perf_counter()
    data = dt.load_data(args)
    if args.window > 512 and args.windows is None:
        raise InputError("--window must be <= 512 sites")
    cfg = config_of(args, data)
    state = load_checkpoint(ckpt, cfg) if args.resume else None
    tr = Trainer(args, data)
    try:
        return _train(args, tr, data, cfg, state, t_start)
    finally:
        tr.close()


def _train(
    args: argparse.Namespace,
    tr: Trainer,
    data: dt.Data,
    cfg: dict[str, Any],
    state: dict[str, Any] | None,
    t_start: float,
) -> dict[str, Any]:
    import torch

    out = Path(args.out)
    ckpt = out / "checkpoint.pt"
    rank0 = tr.rank == 0
    log = print if rank0 else (lambda *a, **k: None)
    out.mkdir(parents=True, exist_ok=True)
    history: list[dict[str, Any]] = []
    start_epoch = 0
    if state is not None:
        try:
            tr.model.load_state_dict(state["model"])
            tr.opt.load_state_dict(state["optimizer"])
            tr.dataset.load_state_dict({"masker": state["masker"]})  # + its workers
            tr.schedule.load_state_dict(state["schedule"])
            torch.set_rng_state(state["torch_rng"])
            history, start_epoch = list(state["history"]), int(state["epoch"])
        except (KeyError, RuntimeError, TypeError, ValueError) as exc:
            raise InputError(f"checkpoint {ckpt} does not fit this configuration: {exc}") from exc
        log(f"resumed from {ckpt} at epoch {start_epoch}")
    log(f"data: {data.source}; train {data.train.n} x {data.train.ploidy}, val {data.val.n}, "
        f"{data.n_sites} sites, {len(data.windows)} windows")  # fmt: skip
    build_ms = tr.index.build_seconds * 1e3
    log(f"retrieval: FAISS IndexFlatIP, key={args.key}, k={args.k_retrieve}, "
        f"index build {build_ms:.1f} ms for {len(data.windows)} windows")  # fmt: skip
    tr.masker.set_epoch(start_epoch)
    log("masker: " + tr.masker.describe())
    nparams = sum(p.numel() for p in tr.model.parameters())
    log(f"model: RagBert dims={args.dims} layers={args.layers} params={nparams:,} on {tr.device}")
    t0 = time.perf_counter()
    base = baselines(data, tr.index, tr.base_masks, tr.base_cols, args.val_unphased)
    log(f"baselines ({time.perf_counter() - t0:.1f} s) on the frozen val masks "
        f"({args.val_mask_rule} {args.val_mask_rate} per {args.val_mask_unit}):")  # fmt: skip
    for name, res in base.items():
        log(f"  {name:14s} {_fmt_bins(res)}")

    def bar(it: Any) -> Any:
        if args.quiet or not rank0:
            return it
        from tqdm import tqdm

        return tqdm(it, leave=False, dynamic_ncols=True)

    summary: dict[str, Any] = {"config": cfg, "baselines": base, "data": data.source}
    for epoch in range(start_epoch, args.epochs):
        te = time.perf_counter()
        build = None
        if args.key == "learned" and epoch % args.rebuild_every == 0:
            build = tr.rebuild_learned_index()
        level = tr.schedule.level(epoch) if hasattr(tr.schedule, "level") else None
        rate = float(tr.schedule.rate(epoch))
        tr_log = tr.train_epoch(epoch, bar)
        thresholds = tr.calibrate(bar) if args.calib_samples else None
        va_log = tr.validate(bar, thresholds)
        entry = {"epoch": epoch, "level": level, "ref_rate": rate, **tr_log, **va_log}
        entry["thresholds"] = None if thresholds is None else thresholds.tolist()
        entry["index_build_s"] = build if build is not None else tr.index.build_seconds
        entry["epoch_s"] = time.perf_counter() - te
        rates = dt.training_class_rates(tr.masker) if args.prior_correction else None
        entry["prior_rates"] = None if rates is None else list(rates)
        if rates is not None and epoch == args.epochs - 1:
            # the same model scored without the correction (ablation: corrected vs not)
            tr.correct_prior = False
            th_u = tr.calibrate(bar) if args.calib_samples else None
            va_u = tr.validate(bar, th_u)
            tr.correct_prior = True
            entry["val_uncorrected"] = va_u["val"]
            entry["val_loss_uncorrected"] = va_u["val_loss"]
        if args.dynamic:
            metric = float(np.nan_to_num(va_log["val"]["rare"]["f1"]))
            upd = getattr(tr.masker, "update", None)
            (upd or tr.schedule.update)(metric)
            tr.dataset.sync()  # (set_epoch publishes it too) the new level reaches workers
        history.append(entry)
        v = va_log["val"]
        log(f"epoch {epoch + 1}/{args.epochs} level {level} rate {rate:.2f} | train loss "
            f"{tr_log['train_loss']:.4f} val loss {va_log['val_loss']:.4f} | rare F1 "
            f"{v['rare']['f1']:.3f} (<0.01 {v[BINS[0]]['f1']:.3f}) "
            f"common F1 {v[BINS[-1]]['f1']:.3f} "
            f"r2 {v['all']['r2']:.3f} conc {v['all']['concordance']:.4f} | masked ref "
            f"{tr_log['mask_ref_rate']:.2f} alt {tr_log['mask_alt_rate']:.2f} site "
            f"{tr_log['mask_site_rate']:.2f} | {entry['epoch_s']:.0f} s")  # fmt: skip
        if rank0:
            tr.masker.set_epoch(epoch + 1)
            save_checkpoint(ckpt, {
                "config": cfg, "model": tr.model.state_dict(), "model_config": tr.model.config,
                "optimizer": tr.opt.state_dict(), "masker": tr.masker.state_dict(),
                "schedule": tr.schedule.state_dict(), "epoch": epoch + 1, "history": history,
                "torch_rng": torch.get_rng_state(), "windows": data.windows,
                "alt_freq": data.alt_freq, "positions": data.positions,
                "panel": data.train.haps, "thresholds": entry["thresholds"],
                "prior_rates": entry["prior_rates"],
                "eval": {
                    "stride": args.val_stride, "k_retrieve": tr.eval_index.k,
                    "retrieval_window": args.val_retrieval_window,
                },
                "hmm": {"flank": args.hmm_flank, "ne": args.hmm_ne, "eps": args.hmm_eps},
            })  # fmt: skip
            summary["wall_s"] = time.perf_counter() - t_start
            write_metrics(out, history, summary)
    paths: list[Path] = []
    if rank0 and history and not args.no_plots:
        paths = plot(out, history, base)
    if rank0 and history:
        v = history[-1]["val"]
        log(f"final ({len(history)} epochs, {time.perf_counter() - t_start:.0f} s):")
        log(f"  {'model':14s} {_fmt_bins(v)}")
        for name, res in base.items():
            log(f"  {name:14s} {_fmt_bins(res)}")
        log(f"metrics: {out / 'metrics.csv'}, {out / 'metrics.json'}")
        if paths:
            log("plots: " + ", ".join(str(p) for p in paths))
        log(f"checkpoint: {ckpt}")
    summary["history"] = history
    summary["plots"] = [str(p) for p in paths]
    if tr.world > 1 and torch.distributed.is_initialized():
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
