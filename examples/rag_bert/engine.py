"""The model side of the reference trainer: device and DDP, retrieval indexes, the forward pass.

:class:`Engine` holds the RAG-BERT model, the panel indexes it retrieves from (training windows;
evaluation windows with ``--val-stride`` / ``--val-k-retrieve`` / ``--val-retrieval-window``) and
the Li-Stephens prior (``--hmm-prior``). Training (:mod:`.train`) and evaluation
(:mod:`.evaluate`) both call :meth:`Engine.forward`.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import numpy as np

import maskkit as mk

from . import blocks, hmm, masking
from . import data as dt
from .cli import hmm_defaults, uses_hmm_prior
from .data import InputError
from .retrieval import PanelIndex, query_keys


def dist_info() -> tuple[int, int]:
    """``(rank, world_size)`` from torchrun's environment."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


class Engine:
    """Model, device, retrieval indexes and the forward pass of one training run."""

    def __init__(self, args: argparse.Namespace, data: dt.Data, masker: mk.Masker) -> None:
        import torch

        from .model import RagBert

        self.torch, self.args, self.data, self.masker = torch, args, data, masker
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
        self.eval_index = self._eval_index()
        max_len = int((data.windows[:, 1] - data.windows[:, 0]).max())
        use_hmm = uses_hmm_prior(args)
        auto_states = args.hmm_states is None
        hmm_defaults(args, self.index.n_haps, data.n_sites, max_len)  # flank and states: auto
        #: windows per evaluation block (``--hmm-block``, :func:`.blocks.hmm_block`) and the
        #: states of each block's HMM (the per-window rule over the block's range when auto)
        args.hmm_block = blocks.hmm_block(
            {"windows": data.windows, "hmm": {"flank": args.hmm_flank}},
            getattr(args, "hmm_block", None),
        )
        self.block_states = args.hmm_states
        if auto_states:
            self.block_states = blocks.block_states(
                self.index.n_haps, data.n_sites, max_len, args.hmm_flank, args.hmm_block
            )
        self.model = RagBert(
            dims=args.dims, layers=args.layers, heads=args.heads, max_len=max(max_len, 8),
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
        self.af = torch.as_tensor(data.alt_freq, dtype=torch.float32, device=self.device)
        self.correct_prior = bool(args.prior_correction)
        self.autocast = self.device.type == "cuda"

    def _eval_index(self) -> PanelIndex:
        """Validation and calibration windows: ``--val-stride`` overlapping windows scored at
        their centres, ``--val-k-retrieve`` neighbours and ``--val-retrieval-window`` similarity
        keys centred on each window; the training index when none is given."""
        args, data = self.args, self.data
        stride, k_eval = args.val_stride, args.val_k_retrieve or args.k_retrieve
        reach = args.val_retrieval_window
        if not (stride or k_eval != args.k_retrieve or reach):
            return self.index
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
        return PanelIndex(data.train.haps, windows, k_eval, key_windows=keys)

    def retrieve(
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
            with self.torch.inference_mode():
                q = self.model.encode_key(ids_tok).float().cpu().numpy()
            ids, _ = index.search(w, q, own, learned=True)
        else:
            ids, _ = index.search(w, qkey if ctx is None else query_keys(*ctx), own)
        return qkey, index.alleles(w, ids), ids

    def forward(
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
        ``prior``: the model's input prior (``--hmm-prior``, see :meth:`hmm_prior`)."""
        torch = self.torch
        index = self.index if index is None else index
        s, e = index.windows[w]
        batch = mk.collate(haps, site_mask)
        ids_np = batch["input_ids"].reshape(-1, haps.shape[-1])
        labels = torch.as_tensor(batch["labels"].reshape(-1, haps.shape[-1]), device=self.device)
        rows = haps.reshape(-1, haps.shape[-1])
        hidden = np.repeat(site_mask, haps.shape[1], axis=0)
        tok = torch.as_tensor(ids_np, device=self.device)
        qkey, ref, _ = self.retrieve(index, w, rows, hidden, tok, own, ctx)
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
            rates = masking.training_class_rates(self.masker)
            if rates is not None:
                shift = masking.class_log_odds(*rates, self.data.alt_freq[s:e], haps.shape[1])
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

    def hmm_prior(
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
            ploidy=ploidy, eps=self.args.hmm_eps, states=self.args.hmm_states or 0,
        )  # fmt: skip
        return self.torch.as_tensor(lo, device=self.device)

    def training_prior(self, w: int, samples: np.ndarray, site: np.ndarray, own: Any) -> Any:
        """The HMM prior of a training batch: the window's masked genotypes hidden, the flanks
        visible (None without ``--hmm-prior``)."""
        if self.rho is None:
            return None
        s, e = self.data.windows[w]
        a, b = hmm.flank_range(s, e, self.data.n_sites, self.args.hmm_flank)
        hidden = np.zeros((samples.size, b - a), dtype=bool)
        hidden[:, s - a : e - a] = site
        return self.hmm_prior(self.data.train.haps[samples, :, a:b], hidden, a, s, e, own)

    def rebuild_learned_index(self) -> float:
        """Encode the panel with the key encoder into the training (and evaluation) index."""
        torch = self.torch
        self.model.eval()
        seconds = 0.0
        for index in {id(i): i for i in (self.index, self.eval_index)}.values():
            embs = []
            with torch.inference_mode():
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
