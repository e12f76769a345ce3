"""RAG-BERT's factorised ``SiteFusion`` against the formula it replaces (per-allele key/value)."""

from __future__ import annotations

import pytest
import torch

from examples.rag_bert.model import N_FEAT, SiteFusion, site_fusion_reference

pytestmark = pytest.mark.torch


def _inputs(
    seed: int, rr: int, k: int, w: int, dims: int, n_tokens: int, with_bias: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(rr, w, dims, generator=g, requires_grad=True)
    ref_tokens = torch.randint(0, n_tokens, (rr, k, w), generator=g)
    feats = torch.rand(rr, k, w, N_FEAT, generator=g).requires_grad_()
    bias = torch.randn(rr, k, generator=g, requires_grad=True) if with_bias else None
    return h, ref_tokens, feats, bias


@pytest.mark.parametrize("with_bias", [False, True])
@pytest.mark.parametrize(("rr", "k", "w", "dims"), [(3, 5, 7, 16), (2, 1, 4, 8), (4, 16, 33, 32)])
def test_site_fusion_matches_reference(rr: int, k: int, w: int, dims: int, with_bias: bool) -> None:
    torch.manual_seed(rr * 100 + k)
    n_tokens, max_len = 5, 40
    m = SiteFusion(dims, n_tokens, max_len)
    with torch.no_grad():  # biases and layer norm away from their (symmetric) initial values
        m.feat_kv.bias.normal_()
        m.norm.weight.normal_(1.0, 0.2)
        m.norm.bias.normal_()
    h, ref_tokens, feats, bias = _inputs(k + w, rr, k, w, dims, n_tokens, with_bias)
    leaves = [h, feats] + ([bias] if bias is not None else [])
    params = dict(m.named_parameters())

    got = m(h, ref_tokens, feats, bias)
    want = site_fusion_reference(m, h, ref_tokens, feats, bias)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)

    cot = torch.randn(got.shape, generator=torch.Generator().manual_seed(7))
    g_got = torch.autograd.grad(got, leaves + list(params.values()), cot)
    g_want = torch.autograd.grad(want, leaves + list(params.values()), cot)
    names = ["h", "feats", "bias"][: len(leaves)] + list(params)
    for name, a, b in zip(names, g_got, g_want, strict=True):
        try:
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
        except AssertionError as exc:
            raise AssertionError(f"gradient of {name}: {exc}") from None


def test_site_fusion_parameters_unchanged() -> None:
    """Checkpoints of the unfactorised model load: same parameter names and shapes."""
    m = SiteFusion(16, 5, 40)
    shapes = {n: tuple(p.shape) for n, p in m.state_dict().items()}
    assert shapes == {
        "q.weight": (16, 16), "q.bias": (16,),
        "feat_kv.weight": (32, N_FEAT + 5), "feat_kv.bias": (32,),
        "pos_kv.weight": (40, 32),
        "feat_bias.0.weight": (16, N_FEAT), "feat_bias.0.bias": (16,),
        "feat_bias.2.weight": (1, 16), "feat_bias.2.bias": (1,),
        "out.weight": (16, 16), "out.bias": (16,),
        "norm.weight": (16,), "norm.bias": (16,),
    }  # fmt: skip


def test_site_fusion_inference_mode_matches_grad_mode() -> None:
    m = SiteFusion(16, 5, 40).eval()
    h, ref_tokens, feats, bias = _inputs(3, 4, 6, 9, 16, 5, True)
    with torch.inference_mode():
        got = m(h, ref_tokens, feats, bias)
    torch.testing.assert_close(got, m(h, ref_tokens, feats, bias).detach(), atol=0, rtol=0)
