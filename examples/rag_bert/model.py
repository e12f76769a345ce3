"""RAG-BERT: a small BERT encoder over one haplotype window, fused per site with retrievals.

Inputs of one batch (``R`` query haplotypes of one window of ``W`` sites, ``k`` retrieved each):

* ``tokens`` ``(R, W)``: maskkit tokens (PAD / MASK / MISSING / allele, see :mod:`maskkit.tokens`);
* ``qkey`` ``(R, W)``: the query's ±1 alleles with hidden sites zeroed (what the model may see);
* ``ref`` ``(R, k, W)``: alleles of the retrieved panel haplotypes (aligned to the same sites);
* ``af`` ``(W,)``: training-panel alt-allele frequency (optional embedding).

Per site, the query attends over its ``k`` retrieved alleles (cross-attention along ``k``). Each
retrieved allele carries match features computed only from visible query sites: local agreement
at several radii and the identical-by-state run length to the left and right of the site (a
Li-Stephens-like "who copies here" signal). A transformer encoder then mixes sites, and a second
fusion precedes the allele head.

**Copy path.** The allele head does not start from nothing: a per-site copying prior in the style
of Li and Stephens (each retrieved haplotype weighted by a softmax over its identical-by-state
run length around the site, plus a learned term; ``p(alt)`` is the weighted vote, smoothed by
``COPY_EPS``) is added to the head's alt-minus-ref logit with a learned gain that starts at 1,
and the head's own weights start at zero. An untrained model therefore predicts the copy of its
best-matching retrieved haplotypes, and training learns corrections to it. The prior and the
rank-1 (nearest) haplotype's allele are also input features of every site.

With ``prior_input=True`` the prior comes from outside instead (``forward(..., prior=)``, log odds
``(R, W)``): the trainer's ``--hmm-prior`` passes the Li and Stephens posterior over the whole
panel (:mod:`.hmm`), and the untrained model predicts exactly that posterior.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from maskkit import tokens as tk

RADII = (2, 8, 32, 128)
N_FEAT = len(RADII) + 5
COPY_EPS = 0.01
# index of log1p(left + right) / 5 in match_features: the IBS run length through the site
IBS_FEAT = len(RADII) + 3


def _window_sum(x: torch.Tensor, r: int) -> torch.Tensor:
    """Sum of ``x`` over ``[s - r, s + r]`` along the last axis (clamped at the edges)."""
    w = x.shape[-1]
    c = torch.nn.functional.pad(x.cumsum(-1), (1, 0))
    hi = torch.clamp(torch.arange(w, device=x.device) + r + 1, max=w)
    lo = torch.clamp(torch.arange(w, device=x.device) - r, min=0)
    return c[..., hi] - c[..., lo]


def _ibs_left(disagree: torch.Tensor, vis: torch.Tensor) -> torch.Tensor:
    """Visible sites since the last disagreement strictly left of each site."""
    w = disagree.shape[-1]
    pos = torch.arange(1, w + 1, device=disagree.device, dtype=torch.long)
    last = torch.cummax(disagree.long() * pos, dim=-1).values  # 1-based pos of last mismatch <= s
    last = torch.nn.functional.pad(last[..., :-1], (1, 0))  # strictly left
    cv = torch.nn.functional.pad(vis.cumsum(-1), (1, 0))  # cv[i] = visible in [0, i)
    upto = cv[..., :-1].expand_as(disagree)  # visible strictly left of s
    at_last = torch.gather(cv.expand(*disagree.shape[:-1], w + 1), -1, last)
    return upto - at_last


def match_features(qkey: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Match features ``(R, k, W, N_FEAT)`` of retrieved alleles against the visible query."""
    rpm = torch.where(ref > 0, 1.0, torch.where(ref == 0, -1.0, 0.0)).to(qkey.dtype)
    agree = qkey[:, None, :] * rpm  # +1 agree, -1 disagree, 0 hidden/missing
    vis = (qkey != 0).to(qkey.dtype)[:, None, :]
    feats = []
    for r in RADII:
        feats.append(_window_sum(agree, r) / (_window_sum(vis, r) + 1.0))
    dis = agree < 0
    left = _ibs_left(dis, vis)
    right = _ibs_left(dis.flip(-1), vis.flip(-1)).flip(-1)
    feats += [
        torch.log1p(left) / 5.0,
        torch.log1p(right) / 5.0,
        torch.log1p(torch.minimum(left, right)) / 5.0,
        torch.log1p(left + right) / 5.0,
    ]
    k = ref.shape[1]
    rank = torch.arange(k, device=ref.device, dtype=qkey.dtype) / max(k, 1)
    feats.append(rank[None, :, None].expand_as(agree))
    return torch.stack(feats, dim=-1)


class CopyPrior(nn.Module):
    """Per-site copying prior ``(R, W)`` log odds of alt from the retrieved alleles.

    Weights over the ``k`` retrieved haplotypes: softmax of ``beta * IBS run length feature`` plus
    a small learned term (zero at start), i.e. the haplotype the query shares the longest
    identical-by-state run with at this site dominates. Missing retrieved alleles get no weight.
    """

    def __init__(self) -> None:
        super().__init__()
        self.beta = nn.Parameter(torch.tensor(20.0))
        self.mlp = nn.Sequential(nn.Linear(N_FEAT, 16), nn.GELU(), nn.Linear(16, 1))
        nn.init.zeros_(self.mlp[2].weight)
        nn.init.zeros_(self.mlp[2].bias)

    def forward(self, feats: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        score = self.beta * feats[..., IBS_FEAT] + self.mlp(feats).squeeze(-1)  # (R, k, W)
        score = score.masked_fill(ref < 0, -1e4)
        w = torch.softmax(score, dim=1)
        p = (w * (ref > 0).to(w.dtype)).sum(1)
        p = COPY_EPS + (1 - 2 * COPY_EPS) * p
        return torch.log(p) - torch.log1p(-p)


class SiteFusion(nn.Module):
    """Per-site cross-attention of the query over its ``k`` retrieved alleles.

    A retrieved allele's key and value are linear in ``x = [match features, one-hot allele]``
    plus a position term and a bias (``feat_kv``, ``pos_kv``), so no ``(R, k, W, d)`` key or value
    is ever built. The key projection moves onto the query: ``key . q = x . (W_key^T q) +
    (pos_key + b_key) . q``, and the last term, equal for every retrieved allele, cancels in the
    softmax over ``k``. The value projection moves after the pooling: the attention sums to one
    over ``k``, so ``sum_k attn val = W_val (sum_k attn x) + pos_val + b_val``. The allele's
    one-hot columns are a gather (logits) and a scatter-add (pooling) instead.
    """

    def __init__(self, dims: int, n_tokens: int, max_len: int) -> None:
        super().__init__()
        self.q = nn.Linear(dims, dims)
        self.n_tokens = n_tokens
        self.feat_kv = nn.Linear(N_FEAT + n_tokens, 2 * dims)
        self.pos_kv = nn.Embedding(max_len, 2 * dims)
        self.feat_bias = nn.Sequential(nn.Linear(N_FEAT, 16), nn.GELU(), nn.Linear(16, 1))
        self.out = nn.Linear(dims, dims)
        self.norm = nn.LayerNorm(dims)
        self.scale = 1.0 / math.sqrt(dims)

    def forward(
        self,
        h: torch.Tensor,
        ref_tokens: torch.Tensor,
        feats: torch.Tensor,
        bias: torch.Tensor | None,
    ) -> torch.Tensor:
        # h (R, W, d); ref_tokens (R, k, W); feats (R, k, W, F); bias (R, k) or None
        rr, _, w = ref_tokens.shape
        n_feat = feats.shape[-1]
        w_key, w_val = self.feat_kv.weight.chunk(2, dim=0)  # (d, F + n_tokens) each
        b_val = self.feat_kv.bias.chunk(2)[1]
        pos_val = self.pos_kv.weight[:w].chunk(2, dim=-1)[1]
        q = self.q(self.norm(h)) * self.scale
        qx = q @ w_key  # (R, W, F + n_tokens): W_key^T q per site
        logits = (feats * qx[:, None, :, :n_feat]).sum(-1)
        logits = logits + torch.gather(qx[..., n_feat:].transpose(1, 2), 1, ref_tokens)
        logits = logits + self.feat_bias(feats).squeeze(-1)
        if bias is not None:
            logits = logits + bias[:, :, None]
        attn = torch.softmax(logits, dim=1)  # over k
        pooled_feats = (attn[..., None] * feats).sum(1)  # (R, W, F)
        pooled_tok = attn.new_zeros(rr, self.n_tokens, w).scatter_add_(1, ref_tokens, attn)
        pooled = torch.cat([pooled_feats, pooled_tok.transpose(1, 2)], -1)
        val = torch.nn.functional.linear(pooled, w_val, b_val) + pos_val
        return self.out(val)


def site_fusion_reference(
    m: SiteFusion,
    h: torch.Tensor,
    ref_tokens: torch.Tensor,
    feats: torch.Tensor,
    bias: torch.Tensor | None,
) -> torch.Tensor:
    """What ``m.forward`` computes, unfactorised: a ``(R, k, W, 2 d)`` key and value per allele.

    The formula ``SiteFusion.forward`` factorises; tests compare the two and
    ``benchmarks/bench_fusion.py`` times them.
    """
    w = h.shape[1]
    q = m.q(m.norm(h))
    onehot = torch.nn.functional.one_hot(ref_tokens, m.n_tokens).to(feats.dtype)
    kv = m.feat_kv(torch.cat([feats, onehot], -1)) + m.pos_kv.weight[:w]
    key, val = kv.chunk(2, dim=-1)
    logits = (key * q[:, None]).sum(-1) * m.scale + m.feat_bias(feats).squeeze(-1)
    if bias is not None:
        logits = logits + bias[:, :, None]
    attn = torch.softmax(logits, dim=1)
    return m.out((attn[..., None] * val).sum(1))


class KeyEncoder(nn.Module):
    """Learned retrieval key: light conv encoder, mean-pooled over visible sites, L2-normalised."""

    def __init__(self, dims: int, n_tokens: int, max_len: int, key_dims: int = 64) -> None:
        super().__init__()
        self.tok = nn.Embedding(n_tokens, dims)
        self.pos = nn.Embedding(max_len, dims)
        self.conv = nn.Conv1d(dims, dims, 9, padding=4)
        self.proj = nn.Linear(dims, key_dims)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        w = tokens.shape[-1]
        x = self.tok(tokens) + self.pos.weight[:w]
        x = torch.nn.functional.gelu(self.conv(x.transpose(1, 2))).transpose(1, 2)
        vis = (tokens >= tk.ALLELE_OFFSET).to(x.dtype)[..., None]
        pooled = (x * vis).sum(1) / vis.sum(1).clamp_min(1.0)
        return torch.nn.functional.normalize(self.proj(pooled), dim=-1)


class RagBert(nn.Module):
    """The reference model; see the module docstring. ``config`` round-trips through checkpoints."""

    def __init__(
        self,
        dims: int = 64,
        layers: int = 2,
        heads: int = 4,
        max_len: int = 512,
        n_alleles: int = 2,
        use_af: bool = True,
        learned_key: bool = False,
        dropout: float = 0.1,
        copy_prior: bool = True,
        prior_input: bool = False,
    ) -> None:
        super().__init__()
        self.config: dict[str, Any] = dict(
            dims=dims, layers=layers, heads=heads, max_len=max_len, n_alleles=n_alleles,
            use_af=use_af, learned_key=learned_key, dropout=dropout,
            copy_prior=copy_prior, prior_input=prior_input,
        )  # fmt: skip
        n_tokens = tk.vocab_size(n_alleles)
        self.n_tokens = n_tokens
        self.tok = nn.Embedding(n_tokens, dims)
        self.pos = nn.Embedding(max_len, dims)
        self.af = nn.Linear(3, dims) if use_af else None
        self.fuse_in = SiteFusion(dims, n_tokens, max_len)
        self.fuse_out = SiteFusion(dims, n_tokens, max_len)
        layer = nn.TransformerEncoderLayer(
            dims, heads, 4 * dims, dropout, batch_first=True, norm_first=True, activation="gelu"
        )
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dims)
        self.head = nn.Linear(dims, n_alleles)
        self.copy: CopyPrior | None = None
        self.prior_input = prior_input
        if copy_prior or prior_input:
            # copy path: the head starts at zero, so the first prediction is the copying prior
            # (the retrieved copy's, or the one passed in with prior_input, e.g. Li-Stephens')
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)
            self.copy = None if prior_input else CopyPrior()
            self.copy_in = nn.Linear(2, dims)
            self.copy_gain = nn.Parameter(torch.tensor(1.0))
        self.key_encoder = KeyEncoder(dims, n_tokens, max_len) if learned_key else None
        self.key_temp = nn.Parameter(torch.tensor(5.0)) if learned_key else None

    def _af_features(self, af: torch.Tensor) -> torch.Tensor:
        maf = torch.minimum(af, 1 - af)
        return torch.stack([maf, torch.log10(maf + 1e-4) / 4.0, (af <= 0.5).to(af.dtype)], -1)

    def forward(
        self,
        tokens: torch.Tensor,
        qkey: torch.Tensor,
        ref: torch.Tensor,
        af: torch.Tensor | None = None,
        key_bias: torch.Tensor | None = None,
        learned_key: bool = False,
        prior: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Return allele logits ``(R, W, n_alleles)``.

        ``learned_key=True`` adds the learned-key similarity of query and retrieved haplotypes
        to the fusion logits (computed here, inside ``forward``, so DDP syncs its gradients).
        ``prior`` ``(R, W)``: log odds of alt the model starts from; required by a model built
        with ``prior_input=True`` (it replaces the retrieved copy's prior), refused otherwise.
        """
        if (prior is not None) != self.prior_input:
            raise ValueError(
                "this model takes the copying prior as input: pass prior=(R, W) log odds"
                if self.prior_input
                else "prior= is for models built with prior_input=True"
            )
        w = tokens.shape[-1]
        if w > self.pos.num_embeddings:
            raise ValueError(
                f"window of {w} sites exceeds the model's max_len {self.pos.num_embeddings}"
            )
        h = self.tok(tokens) + self.pos.weight[:w]
        if self.af is not None and af is not None:
            h = h + self.af(self._af_features(af.to(h.dtype)))
        feats = match_features(qkey.to(h.dtype), ref)
        if prior is not None:
            prior = prior.to(h.dtype)
        elif self.copy is not None:
            prior = self.copy(feats, ref)  # (R, W) log odds of alt
        if prior is not None:
            nearest = torch.where(ref[:, 0] > 0, 1.0, torch.where(ref[:, 0] == 0, -1.0, 0.0))
            h = h + self.copy_in(torch.stack([prior / 5.0, nearest.to(h.dtype)], -1))
        ref_tokens = torch.where(ref >= 0, ref.long() + tk.ALLELE_OFFSET, tk.MISSING)
        if learned_key and self.key_encoder is not None:
            key_bias = self.key_bias(tokens, ref_tokens)
        h = h + self.fuse_in(h, ref_tokens, feats, key_bias)
        h = self.encoder(h)
        h = h + self.fuse_out(h, ref_tokens, feats, key_bias)
        logits = self.head(self.norm(h))
        if prior is None:
            return logits
        # the alt-minus-ref log odds start from the prior (allele 1 is the first alt allele)
        shift = torch.zeros_like(logits)
        shift[..., 1] = self.copy_gain * prior
        return logits + shift

    def encode_key(self, tokens: torch.Tensor) -> torch.Tensor:
        """Learned retrieval key ``(R, key_dims)`` of token rows (masked sites are MASK)."""
        if self.key_encoder is None:
            raise RuntimeError("model was built without learned_key=True")
        return self.key_encoder(tokens)

    def key_bias(self, q_tokens: torch.Tensor, ref_tokens: torch.Tensor) -> torch.Tensor:
        """Similarity of learned keys ``(R, k)``; gradients reach the retrieved haplotypes' keys."""
        if self.key_encoder is None or self.key_temp is None:
            raise RuntimeError("model was built without learned_key=True")
        rr, k, w = ref_tokens.shape
        qk = self.key_encoder(q_tokens)
        rk = self.key_encoder(ref_tokens.reshape(rr * k, w)).reshape(rr, k, -1)
        return self.key_temp * (rk * qk[:, None]).sum(-1)
