"""The Li-Stephens posterior alone over K selected states against the whole panel.

Run from the repository root:
    python benchmarks/bench_hmm_states.py [--flank 1024] [--states 0,50,100,200,400]
        [--targets 128] [--windows 8]

On the panel-scale demo (1,200 reference and 300 target diploids, 0.5 Mb; ``--cache-dir``),
computes ``examples.rag_bert.hmm.alt_prob`` for the first ``--targets`` target diploids (true
phase) on ``--windows`` windows drawn with a fixed seed, the trainer's frozen validation masks
hidden, once per number of states (0: every panel haplotype), and prints the CPU seconds of the
HMM (this process, user + system) and the minor-allele F1 of the posterior's argmax calls by
MAF bin (``maskkit.metrics``) on the same masked genotypes.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from examples.rag_bert import cli, hmm, masking
from examples.rag_bert import data as dt
from maskkit import metrics as mm


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--flank", type=int, default=1024)
    p.add_argument("--states", default="0,50,100,200,400")
    p.add_argument("--targets", type=int, default=128)
    p.add_argument("--windows", type=int, default=8)
    p.add_argument("--cache-dir", default=None)
    a = p.parse_args()
    demo = ["--demo-train", "1200", "--demo-val", "300", "--demo-length", "5e5"]
    args = cli.build_parser().parse_args(
        [*demo, *(["--cache-dir", a.cache_dir] if a.cache_dir else [])]
    )
    data = dt.load_data(args)
    site = masking.val_genotype_mask(
        data.val.haps, dt.make_windows(data.n_sites, args.val_mask_window), args.val_mask_rule,
        args.val_mask_rate, args.val_mask_unit, args.alt_rate, args.val_seed,
    )  # fmt: skip
    panel = np.ascontiguousarray(data.train.haps.reshape(-1, data.n_sites))
    rho = hmm.switch_probabilities(data.positions, panel.shape[0], args.hmm_ne)
    rng = np.random.default_rng(0)
    wins = data.windows[rng.choice(len(data.windows), a.windows, replace=False)]
    n = a.targets
    truth = data.val.haps[:n]
    print(f"panel {panel.shape[0]} haplotypes, {data.n_sites} sites; {n} targets x {a.windows} "
          f"windows, flank {a.flank}")  # fmt: skip
    hmm.alt_prob(panel[:50], rho, panel[:2, :300], np.zeros((2, 300), bool), 0, states=10)  # JIT
    hmm.alt_prob(panel[:50], rho, panel[:2, :300], np.zeros((2, 300), bool), 0)
    for k in (int(x) for x in a.states.split(",")):
        t0, c0 = time.perf_counter(), cpu_seconds()
        prob = np.zeros(truth.shape, dtype=np.float32)
        scored = np.zeros((n, data.n_sites), dtype=bool)
        for s, e in wins:
            lo, hi = hmm.flank_range(s, e, data.n_sites, a.flank)
            rows = truth[:, :, lo:hi].reshape(-1, hi - lo)
            hidden = np.repeat(site[:n, lo:hi], 2, axis=0)
            post = hmm.alt_prob(panel, rho, rows, hidden, lo, eps=args.hmm_eps, states=k)
            prob[:, :, s:e] = post[:, s - lo : e - lo].reshape(n, 2, -1)
            scored[:, s:e] = site[:n, s:e]
        cpu, wall = cpu_seconds() - c0, time.perf_counter() - t0
        res = mm.score(truth, (prob > 0.5).astype(np.int8), scored, data.alt_freq, alt_prob=prob)
        f1 = "  ".join(f"{b} {res[b]['f1']:.4f}" for b in [*mm.bin_labels(), "rare"])
        print(f"states {k or 'all'}: CPU {cpu:.1f} s, wall {wall:.1f} s; F1 {f1}; "
              f"r2 rare {res['rare']['r2']:.4f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
