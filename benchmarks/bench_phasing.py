"""Switch errors and time of the reference imputer's phasing of unphased targets.

Run from the repository root:  python benchmarks/bench_phasing.py [--passes 1,2,3] [--targets N]

Loads the panel-scale demo (1,200 reference and 300 target diploids, 0.5 Mb; the trainer's
flags select other data), hides the benchmark's masks in the targets (as
``benchmarks/bench_impute.py`` does), forgets their phase (each genotype's two alleles in a
random order), phases them against the panel with ``examples.rag_bert.phase.phase_segments``
once per number of passes, and prints per setting the switch errors between consecutive
observed heterozygous sites inside the imputed windows and the seconds the phasing took.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from examples.rag_bert import beagle_bench as bb
from examples.rag_bert import data as dt
from examples.rag_bert import hmm
from examples.rag_bert.impute_bench import build_parser, parse_args
from examples.rag_bert.phase import phase_segments


def switch_errors(phased: np.ndarray, truth: np.ndarray, sites: np.ndarray) -> tuple[int, int]:
    """``(switch errors, pairs)`` over consecutive observed heterozygous ``sites`` (bool)."""
    het = (truth[:, 0] != truth[:, 1]) & (phased >= 0).all(axis=1) & sites[None, :]
    errors = pairs = 0
    for i in range(truth.shape[0]):
        h = np.flatnonzero(het[i])
        same = phased[i, 0, h] == truth[i, 0, h]
        errors += int((same[1:] != same[:-1]).sum())
        pairs += max(h.size - 1, 0)
    return errors, pairs


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    extra = build_parser()
    extra.add_argument("--passes", default="1,2,3", help="numbers of passes to run, e.g. 1,2")
    extra.add_argument("--targets", type=int, default=0, help="first N targets only (0: all)")
    known, rest = extra.parse_known_args(argv)
    args = parse_args(rest)
    data = dt.load_data(args)
    _, _, site = bb.val_masks(data, args)
    n = known.targets or data.val.n
    truth = data.val.haps[:n]
    target = np.where(site[:n, None, :], -1, truth).astype(np.int8)
    swap = np.random.default_rng(0).random((n, data.n_sites)) < 0.5
    target = np.where(swap[:, None, :], target[:, ::-1], target)
    panel = np.ascontiguousarray(data.train.haps.reshape(-1, data.n_sites))
    rho = hmm.switch_probabilities(data.positions, panel.shape[0], args.hmm_ne)
    inside = np.zeros(data.n_sites, dtype=bool)
    for s, e in np.asarray(data.windows):
        inside[s:e] = True
    print(f"{data.source}; {n} targets, panel {panel.shape[0]} haplotypes", flush=True)
    for passes in (int(p) for p in known.passes.split(",")):
        t0 = time.perf_counter()
        phased = np.concatenate([
            phase_segments(panel, target[i : i + 256], rho, eps=args.hmm_eps, refine=passes - 1)
            for i in range(0, n, 256)
        ])  # fmt: skip
        seconds = time.perf_counter() - t0
        errors, pairs = switch_errors(phased, truth, inside)
        print(f"{passes} pass(es): switch errors {errors:,} of {pairs:,} "
              f"({100 * errors / max(pairs, 1):.2f} %), {seconds:.1f} s", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
