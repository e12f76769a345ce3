"""RAG-BERT's ``SiteFusion``: the factorised forward against the per-allele key/value formula.

Run from the repository root:

    python benchmarks/bench_fusion.py [--threads 1] [--repeats 7]

Shapes are the trainer's defaults (``--window 128``, ``--k-retrieve 16``, ``--dims 64``): a
training batch of 16 diploids (R = 32 haplotypes, forward + backward) and an ``impute`` batch of
64 haplotypes (forward in ``torch.inference_mode``). Both sides run in alternating windows in
this process, so load on a shared machine falls on both alike; times are each side's fastest
window (ms per call). The last row is the whole model (``dims`` 64, 2 layers) on an ``impute``
batch: old fusion under ``no_grad`` against the new one under ``inference_mode``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch

from examples.rag_bert.model import N_FEAT, RagBert, SiteFusion, site_fusion_reference

Tensor = torch.Tensor
Fusion = Callable[[SiteFusion, Tensor, Tensor, Tensor, "Tensor | None"], Tensor]
Call = Callable[[], object]


def best_ms(fns: dict[str, Call], repeats: int, calls: int) -> dict[str, float]:
    for fn in fns.values():  # warm up
        fn()
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeats):
        for name, fn in fns.items():
            t = time.perf_counter()
            for _ in range(calls):
                fn()
            best[name] = min(best[name], (time.perf_counter() - t) / calls * 1e3)
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--calls", type=int, default=5)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    k, w, dims, n_tokens = 16, 128, 64, 5
    m = SiteFusion(dims, n_tokens, 512)
    print(f"torch {torch.__version__}, {args.threads} thread(s); k={k} W={w} dims={dims}")
    print(f"{'case':<34}{'old ms':>9}{'new ms':>9}{'speed-up':>10}")
    for case, rr in (("inference, R=64", 64), ("forward+backward, R=32", 32)):
        h = torch.randn(rr, w, dims)
        ref_tokens = torch.randint(1, n_tokens, (rr, k, w))
        feats = torch.rand(rr, k, w, N_FEAT)
        train = not case.startswith("inference")
        m.train(train)
        h.requires_grad_(train)

        def run(f: Fusion, h: Tensor = h, t: Tensor = ref_tokens, x: Tensor = feats) -> Call:
            def infer() -> object:
                with torch.inference_mode():
                    return f(m, h, t, x, None)

            def step() -> object:
                f(m, h, t, x, None).sum().backward()
                m.zero_grad(set_to_none=True)
                h.grad = None
                return None

            return step if train else infer

        ms = best_ms(
            {"old": run(site_fusion_reference), "new": run(SiteFusion.forward)},
            args.repeats,
            args.calls,
        )
        print(f"{case:<34}{ms['old']:>9.2f}{ms['new']:>9.2f}{ms['old'] / ms['new']:>9.1f}x")
    whole_model(k, w, dims, args)


def whole_model(k: int, w: int, dims: int, args: argparse.Namespace) -> None:
    """``RagBert.forward`` on an ``impute`` batch (64 haplotypes) with either fusion formula
    (the class's forward swapped in place), ``no_grad`` (old) against ``inference_mode``."""
    model = RagBert(dims=dims, max_len=512).eval()
    tokens = torch.randint(3, 5, (64, w))
    qkey = torch.randint(-1, 2, (64, w)).float()
    ref = torch.randint(-1, 2, (64, k, w), dtype=torch.int8)
    af = torch.rand(w)
    new = SiteFusion.forward

    def call(fusion: Fusion, mode: type[torch.no_grad] | type[torch.inference_mode]) -> Call:
        def go() -> object:
            SiteFusion.forward = fusion  # type: ignore[method-assign, assignment]
            try:
                with mode():
                    return model(tokens, qkey, ref, af)
            finally:
                SiteFusion.forward = new  # type: ignore[method-assign]

        return go

    ms = best_ms(
        {"old": call(site_fusion_reference, torch.no_grad), "new": call(new, torch.inference_mode)},
        args.repeats, args.calls,
    )  # fmt: skip
    case = "RagBert.forward, impute, R=64"
    print(f"{case:<34}{ms['old']:>9.2f}{ms['new']:>9.2f}{ms['old'] / ms['new']:>9.1f}x")


if __name__ == "__main__":
    main()
